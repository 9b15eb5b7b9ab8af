/* evl-loop-context.c: GLib inside evloop — a loop that drives a GMainContext
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "evl-config.h"

#include "evl-loop-impl-private.h"

/* While the loop runs, each iteration does GLib's four steps by hand
 * (g_main_context_prepare/query/check/dispatch), but the waiting is the
 * loop's own: the context's fds are watched by the loop's backend next to
 * the loop's fds, and GLib's timeout caps the loop's poll timeout.
 *
 * The fd set is diffed between iterations, so a steady application costs
 * no epoll_ctl() per iteration. One case needs more: GLib may close an fd
 * and watch a new file with the same number within one dispatch; the
 * query then looks unchanged, but epoll forgot the old file when it was
 * closed. GLib signals the context's own wakeup fd whenever its set of
 * poll records changes, so after an iteration in which any of the
 * context's fds polled ready, the unchanged fds are re-registered too (a
 * cheap EPOLL_CTL_MOD each). A change is then picked up one iteration
 * late at worst, and the wakeup fd keeps that iteration from blocking.
 *
 * The context's fds are in the backend only while GLib depends on the loop
 * to poll them: from the first iteration of an explicit run to the end of
 * the outermost one. When GLib iterates the context itself (a modal
 * g_main_loop_run() inside a callback, which also dispatches the loop's
 * GSource) or nobody does (between runs), they are dropped: a ready fd
 * that nobody dispatches would otherwise keep the loop's poll fd ready and
 * spin whoever polls it. */

typedef struct
{
  int      fd;
  guint    events;    /* EVL_IO_READ|WRITE */
  gboolean refused;   /* the backend refused it (closed under GLib's feet) */
} WatchedFd;

struct _EvlContextDriver
{
  EvlLoop      *loop;      /* not owned: the loop owns the driver */
  GMainContext *context;

  GPollFD      *fds;
  gint          n_fds;
  gint          fds_cap;
  gint          max_priority;
  gboolean      prepared;
  gboolean      refresh;   /* a context fd polled ready: re-register the set */

  GArray       *watched;   /* WatchedFd: what the backend watches for GLib */
  GArray       *scratch;

  GArray       *pushed;    /* gboolean per explicit run: whether we pushed the context */
  int           step_depth; /* g_main_depth() of the GLib step in progress, or -1 */
};

EvlContextDriver *
evl_context_driver_new (EvlLoop      *loop,
                        GMainContext *context)
{
  EvlContextDriver *driver = g_new0 (EvlContextDriver, 1);

  driver->loop = loop;
  driver->context = g_main_context_ref (context);
  driver->fds_cap = 16;
  driver->fds = g_new0 (GPollFD, driver->fds_cap);
  driver->watched = g_array_new (FALSE, FALSE, sizeof (WatchedFd));
  driver->scratch = g_array_new (FALSE, FALSE, sizeof (WatchedFd));
  driver->pushed = g_array_new (FALSE, FALSE, sizeof (gboolean));
  driver->step_depth = -1;
  return driver;
}

static void
drop_fd_interest (EvlContextDriver *driver,
                  int               fd)
{
  EvlFdEntry *entry = evl_loop_lookup_fd (driver->loop, fd, FALSE);

  if (entry == NULL || entry->ctx_refs == 0)
    return;
  entry->ctx_refs = 0;
  entry->ctx_events = 0;
  entry->ctx_revents = 0;
  evl_loop_update_fd (driver->loop, fd, NULL);
}

/* Makes the backend watch @fd for @events on GLib's behalf. With @refresh,
 * the backend is told even when nothing changed, so that a new file behind
 * a reused fd number gets watched. Returns FALSE if the backend refuses
 * the fd (GLib gave us one that is closed): GLib then sees G_IO_NVAL, as
 * its own poll() would report. */
static gboolean
set_fd_interest (EvlContextDriver *driver,
                 int               fd,
                 guint             events,
                 gboolean          refresh)
{
  EvlLoopPrivate *priv = evl_loop_get_priv (driver->loop);
  EvlFdEntry *entry = evl_loop_lookup_fd (driver->loop, fd, TRUE);
  GError *error = NULL;
  gboolean ok;

  entry->ctx_refs = 1;
  entry->ctx_events = events;
  entry->ctx_revents = 0;
  if (refresh && entry->registered != 0)
    ok = priv->backend->io_update (driver->loop, fd, entry->registered, entry->registered, &error);
  else
    ok = evl_loop_update_fd (driver->loop, fd, &error);
  if (!ok)
    {
      g_debug ("Cannot watch GLib's fd %d: %s", fd, error->message);
      g_clear_error (&error);
      drop_fd_interest (driver, fd);
    }
  return ok;
}

static void
unwatch_all (EvlContextDriver *driver)
{
  guint i;

  for (i = 0; i < driver->watched->len; i++)
    drop_fd_interest (driver, g_array_index (driver->watched, WatchedFd, i).fd);
  g_array_set_size (driver->watched, 0);
}

/* GLib iterates the context itself now (or nobody will): hand the polling
 * of its fds back. The next explicit iteration watches them again. */
void
evl_context_driver_suspend (EvlContextDriver *driver)
{
  if (driver->watched->len > 0)
    unwatch_all (driver);
}

void
evl_context_driver_free (EvlContextDriver *driver)
{
  unwatch_all (driver);
  g_array_unref (driver->watched);
  g_array_unref (driver->scratch);
  g_array_unref (driver->pushed);
  g_main_context_unref (driver->context);
  g_free (driver->fds);
  g_free (driver);
}

gboolean
evl_context_driver_enter (EvlContextDriver  *driver,
                          GError           **error)
{
  gboolean push;

  if (!g_main_context_acquire (driver->context))
    {
      g_set_error_literal (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_FAILED,
                           _("The loop's GMainContext is owned by another thread; run the "
                             "loop in that thread or give the loop a context of its own"));
      return FALSE;
    }
  push = driver->context != g_main_context_get_thread_default () &&
         !(driver->context == g_main_context_default () && g_main_context_get_thread_default () == NULL);
  if (push)
    g_main_context_push_thread_default (driver->context);
  g_array_append_val (driver->pushed, push);
  return TRUE;
}

void
evl_context_driver_leave (EvlContextDriver *driver)
{
  gboolean push = g_array_index (driver->pushed, gboolean, driver->pushed->len - 1);

  g_array_set_size (driver->pushed, driver->pushed->len - 1);
  /* The outermost run ends: nobody polls the context's fds through the
   * loop any more. */
  if (driver->pushed->len == 0)
    unwatch_all (driver);
  if (push)
    g_main_context_pop_thread_default (driver->context);
  g_main_context_release (driver->context);
}

/* Whether the loop itself is iterating @context right now, in one of its
 * GLib steps (prepare/query or check/dispatch): the loop's own GSource in
 * that context must then stay quiet, or the loop would dispatch itself
 * recursively. GLib calls the source's prepare() and check() at the depth
 * of the step and its dispatch() one level deeper (@dispatching). A GLib
 * main loop nested in a callback (a modal dialog) runs deeper still, and
 * one entered from an evloop callback runs outside of any step: both do
 * dispatch the source, so the loop keeps running under a modal dialog. */
gboolean
evl_context_driver_is_iterating (EvlContextDriver *driver,
                                 GMainContext     *context,
                                 gboolean          dispatching)
{
  if (context != driver->context || driver->step_depth < 0)
    return FALSE;
  return driver->step_depth == g_main_depth () - (dispatching ? 1 : 0);
}

static guint
gpoll_to_evl (gushort events)
{
  guint r = 0;

  if (events & (G_IO_IN | G_IO_PRI))
    r |= EVL_IO_READ;
  if (events & G_IO_OUT)
    r |= EVL_IO_WRITE;
  return r;
}

static gushort
evl_to_gpoll (guint events)
{
  gushort r = 0;

  if (events & EVL_IO_READ)
    r |= G_IO_IN;
  if (events & EVL_IO_WRITE)
    r |= G_IO_OUT;
  if (events & EVL_IO_ERROR)
    r |= G_IO_ERR;
  if (events & EVL_IO_HUP)
    r |= G_IO_HUP;
  return r;
}

static WatchedFd *
find_watched (GArray *array,
              int     fd)
{
  guint i;

  for (i = 0; i < array->len; i++)
    if (g_array_index (array, WatchedFd, i).fd == fd)
      return &g_array_index (array, WatchedFd, i);
  return NULL;
}

gint64
evl_context_driver_prepare (EvlContextDriver *driver,
                            gint64            timeout_ns)
{
  EvlLoopPrivate *priv = evl_loop_get_priv (driver->loop);
  gint glib_timeout = -1;
  int saved_depth = driver->step_depth;
  int own_poll_fd;
  gboolean ready;
  GArray *swap;
  guint i;
  gint n;

  driver->step_depth = g_main_depth ();
  ready = g_main_context_prepare (driver->context, &driver->max_priority);
  for (;;)
    {
      n = g_main_context_query (driver->context, driver->max_priority, &glib_timeout,
                                driver->fds, driver->fds_cap);
      if (n <= driver->fds_cap)
        break;
      driver->fds_cap = n;
      driver->fds = g_renew (GPollFD, driver->fds, driver->fds_cap);
    }
  driver->step_depth = saved_depth;
  driver->n_fds = n;
  driver->prepared = TRUE;

  /* The loop's own fds may be in the context too, when the loop is also
   * attached to it: its poll fd cannot watch itself, its wakeup fd is
   * watched anyway. */
  own_poll_fd = priv->backend->get_poll_fd (driver->loop);

  /* Diff the fd set against the previous iteration's. */
  g_array_set_size (driver->scratch, 0);
  for (i = 0; i < (guint) n; i++)
    {
      guint events = gpoll_to_evl (driver->fds[i].events);
      int fd = driver->fds[i].fd;
      WatchedFd *w;

      if (events == 0 || fd < 0 || fd == own_poll_fd || fd == priv->wake_fd)
        continue;
      w = find_watched (driver->scratch, fd);
      if (w != NULL)
        w->events |= events;
      else
        {
          WatchedFd nw = { fd, events, FALSE };
          g_array_append_val (driver->scratch, nw);
        }
    }
  for (i = 0; i < driver->watched->len; i++)
    {
      WatchedFd *old = &g_array_index (driver->watched, WatchedFd, i);

      if (find_watched (driver->scratch, old->fd) == NULL)
        drop_fd_interest (driver, old->fd);
    }
  for (i = 0; i < driver->scratch->len; i++)
    {
      WatchedFd *nw = &g_array_index (driver->scratch, WatchedFd, i);
      WatchedFd *old = find_watched (driver->watched, nw->fd);
      gboolean unchanged = old != NULL && old->events == nw->events && !old->refused;

      if (unchanged && !driver->refresh)
        {
          EvlFdEntry *entry = evl_loop_lookup_fd (driver->loop, nw->fd, FALSE);

          if (entry != NULL && entry->ctx_refs != 0)
            {
              entry->ctx_revents = 0;
              continue;
            }
          unchanged = FALSE;
        }
      nw->refused = !set_fd_interest (driver, nw->fd, nw->events, unchanged);
    }
  driver->refresh = FALSE;
  swap = driver->watched;
  driver->watched = driver->scratch;
  driver->scratch = swap;

  if (ready)
    return 0;
  if (glib_timeout >= 0)
    {
      gint64 glib_ns = (gint64) glib_timeout * 1000000;
      if (timeout_ns < 0 || glib_ns < timeout_ns)
        timeout_ns = glib_ns;
    }
  return timeout_ns;
}

void
evl_context_driver_dispatch (EvlContextDriver *driver)
{
  int saved_depth = driver->step_depth;
  gint i;

  if (!driver->prepared)
    return;
  driver->prepared = FALSE;
  for (i = 0; i < driver->n_fds; i++)
    {
      GPollFD *pfd = &driver->fds[i];
      EvlFdEntry *entry = pfd->fd >= 0 ? evl_loop_lookup_fd (driver->loop, pfd->fd, FALSE) : NULL;

      pfd->revents = 0;
      if (entry != NULL && entry->ctx_refs != 0)
        {
          pfd->revents = evl_to_gpoll (entry->ctx_revents) & (pfd->events | G_IO_ERR | G_IO_HUP);
          if (pfd->revents != 0)
            driver->refresh = TRUE;
        }
      else if (pfd->fd >= 0)
        {
          WatchedFd *w = find_watched (driver->watched, pfd->fd);

          if (w != NULL && w->refused)
            pfd->revents = G_IO_NVAL;
        }
    }

  driver->step_depth = g_main_depth ();
  if (g_main_context_check (driver->context, driver->max_priority, driver->fds, driver->n_fds))
    g_main_context_dispatch (driver->context);
  driver->step_depth = saved_depth;
}
