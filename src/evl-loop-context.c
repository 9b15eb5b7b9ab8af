/* evl-loop-context.c: GLib inside evloop — a loop that drives a GMainContext
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "evl-loop-impl-private.h"

/* While the loop runs, each iteration does GLib's four steps by hand
 * (g_main_context_prepare/query/check/dispatch), but the waiting is the
 * loop's own: the context's fds are watched by the loop's backend next to
 * the loop's fds, and GLib's timeout caps the loop's poll timeout. The fd
 * set is diffed between iterations, so a steady GTK application costs no
 * epoll_ctl calls per iteration. */

typedef struct
{
  int   fd;
  guint events;   /* EVL_IO_READ|WRITE */
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

  GArray       *watched;   /* WatchedFd: what the backend watches for GLib */
  GArray       *scratch;

  GArray       *depths;    /* g_main_depth() of each explicit run on the stack */
  GArray       *pushed;    /* gboolean per run: whether we pushed the context */
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
  driver->depths = g_array_new (FALSE, FALSE, sizeof (int));
  driver->pushed = g_array_new (FALSE, FALSE, sizeof (gboolean));
  return driver;
}

static void
set_fd_interest (EvlContextDriver *driver,
                 int               fd,
                 guint             events)
{
  EvlFdEntry *entry = evl_loop_lookup_fd (driver->loop, fd, events != 0);
  GError *error = NULL;

  if (entry == NULL)
    return;
  entry->ctx_refs = events != 0 ? 1 : 0;
  entry->ctx_events = events;
  entry->ctx_revents = 0;
  if (!evl_loop_update_fd (driver->loop, fd, &error))
    {
      /* GLib gave us an fd the backend refuses (closed under GLib's feet):
       * GLib will notice on its own; do not spin on it. */
      g_debug ("Cannot watch GLib's fd %d: %s", fd, error->message);
      g_clear_error (&error);
      entry = evl_loop_lookup_fd (driver->loop, fd, FALSE);
      if (entry != NULL)
        {
          entry->ctx_refs = 0;
          entry->ctx_events = 0;
          evl_loop_update_fd (driver->loop, fd, NULL);
        }
    }
}

void
evl_context_driver_free (EvlContextDriver *driver)
{
  guint i;

  for (i = 0; i < driver->watched->len; i++)
    set_fd_interest (driver, g_array_index (driver->watched, WatchedFd, i).fd, 0);
  g_array_unref (driver->watched);
  g_array_unref (driver->scratch);
  g_array_unref (driver->depths);
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
  int depth;

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
  depth = g_main_depth ();
  g_array_append_val (driver->depths, depth);
  g_array_append_val (driver->pushed, push);
  return TRUE;
}

void
evl_context_driver_leave (EvlContextDriver *driver)
{
  gboolean push = g_array_index (driver->pushed, gboolean, driver->pushed->len - 1);

  g_array_set_size (driver->pushed, driver->pushed->len - 1);
  g_array_set_size (driver->depths, driver->depths->len - 1);
  if (push)
    g_main_context_pop_thread_default (driver->context);
  g_main_context_release (driver->context);
}

/* Whether @context is being iterated by the innermost explicit run of the
 * loop itself at the current GLib dispatch depth: the loop's own GSource
 * in that context must then stay quiet (never dispatch itself recursively).
 * A GLib main loop nested inside one of its callbacks runs one level deeper
 * and does dispatch the source, so the loop stays alive under a modal
 * dialog. */
gboolean
evl_context_driver_is_iterating (EvlContextDriver *driver,
                                 GMainContext     *context)
{
  if (context != driver->context || driver->depths->len == 0)
    return FALSE;
  return g_array_index (driver->depths, int, driver->depths->len - 1) == g_main_depth ();
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
  gint glib_timeout = -1;
  gboolean ready;
  GArray *swap;
  guint i;
  gint n;

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
  driver->n_fds = n;
  driver->prepared = TRUE;

  /* Diff the fd set against the previous iteration's. */
  g_array_set_size (driver->scratch, 0);
  for (i = 0; i < (guint) n; i++)
    {
      guint events = gpoll_to_evl (driver->fds[i].events);
      WatchedFd *w;

      if (events == 0 || driver->fds[i].fd < 0)
        continue;
      w = find_watched (driver->scratch, driver->fds[i].fd);
      if (w != NULL)
        w->events |= events;
      else
        {
          WatchedFd nw = { driver->fds[i].fd, events };
          g_array_append_val (driver->scratch, nw);
        }
    }
  for (i = 0; i < driver->watched->len; i++)
    {
      WatchedFd *old = &g_array_index (driver->watched, WatchedFd, i);

      if (find_watched (driver->scratch, old->fd) == NULL)
        set_fd_interest (driver, old->fd, 0);
    }
  for (i = 0; i < driver->scratch->len; i++)
    {
      WatchedFd *nw = &g_array_index (driver->scratch, WatchedFd, i);
      WatchedFd *old = find_watched (driver->watched, nw->fd);
      EvlFdEntry *entry;

      if (old == NULL || old->events != nw->events)
        set_fd_interest (driver, nw->fd, nw->events);
      entry = evl_loop_lookup_fd (driver->loop, nw->fd, FALSE);
      if (entry != NULL)
        entry->ctx_revents = 0;
    }
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
        pfd->revents = evl_to_gpoll (entry->ctx_revents) & (pfd->events | G_IO_ERR | G_IO_HUP);
    }
  if (g_main_context_check (driver->context, driver->max_priority, driver->fds, driver->n_fds))
    g_main_context_dispatch (driver->context);
}
