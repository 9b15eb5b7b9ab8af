/* evl-loop-source.c: evloop inside GLib — the loop as one GSource
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "evl-config.h"

#include "evl-loop-impl-private.h"
#include "evl-os-private.h"
#include "evl-selector-private.h"

/* The loop as a GSource (PyGObject's gi/events.py and libdex's io_uring
 * source show the shape): prepare() reports ready callbacks or the next
 * timer deadline, check() looks at them again (GLib itself makes the
 * source ready when one of its fds polled ready), dispatch() runs one
 * bounded, non-blocking iteration of the loop.
 *
 * With a backend that has a poll fd (epoll, the io_uring ring) GLib polls
 * that single fd however many fds the loop watches. Without one (poll,
 * select) the source mirrors every watched fd into GLib with
 * g_source_add_unix_fd(). The source may recurse, so the loop keeps
 * running inside a nested GLib main loop (a modal dialog); and
 * g_source_set_can_recurse() also spares GLib re-adding our fds around
 * each dispatch.
 *
 * Direct mode (where GLib polls the fds themselves, EVL_OS_SOURCE_DIRECT:
 * Unix; an epoll selector loop watching at most DIRECT_MAX fds): GLib's poll of the epoll fd would only say that something is
 * ready, and dispatch would ask epoll what (a second syscall per
 * iteration). Instead the few fds are mirrored into GLib as in the
 * fallback, and dispatch hands what GLib's poll found to the loop, whose
 * selector then skips its own poll: one syscall per iteration, as GLib's
 * own fd sources. The source moves to the epoll fd for good once the loop
 * watches more fds, or when one polls as closed (POLLNVAL: epoll forgets
 * a closed fd, poll() would report it every time).
 *
 * Mirrored HANDLEs (Windows): a selector loop's poll fd there is the event
 * its sockets signal; the waitable HANDLEs it also watches (events,
 * processes, the events of pipe operations) signal nothing of the loop's.
 * The source gives GLib those HANDLEs too, next to the poll fd
 * (evl_os_source_mirrors_fd() says which: none on Unix), kept in line as
 * readers come and go. When GLib's wait found only HANDLEs, dispatch hands
 * them to the loop as in direct mode, and the selector skips its own wait:
 * GLib's wait took the signal of an auto-reset event, which the selector
 * would no longer see. When the poll fd was signalled too, the selector
 * waits as usual (for the sockets) and sees the HANDLEs that are still
 * signalled; an auto-reset event GLib's wait found in that same wait is
 * then missed (documented in README "Platforms"). */

#define DIRECT_MAX 8

typedef struct
{
  GSource     source;
  EvlLoop    *loop;       /* strong reference */
  gpointer    poll_tag;   /* the backend's poll fd, when it has one */
  GPollFD     poll_record; /* its record where GLib needs one (Windows) */
  GHashTable *fd_tags;    /* fd -> tag, fallback and direct modes */
  int         poll_fd;    /* direct mode: the backend's, to move to */
  gboolean    direct;
  gboolean    mirror_handles; /* a selector loop with a poll fd */
  GHashTable *handle_tags;    /* fd -> tag: mirrored HANDLEs, created when needed */
} EvlLoopSource;

static void
leave_direct (EvlLoopSource *ls)
{
  GSource *source = &ls->source;
  GHashTableIter iter;
  gpointer tag;

  ls->direct = FALSE;
  g_hash_table_iter_init (&iter, ls->fd_tags);
  while (g_hash_table_iter_next (&iter, NULL, &tag))
    evl_os_source_remove_fd (source, tag);
  g_clear_pointer (&ls->fd_tags, g_hash_table_unref);
  ls->poll_tag = evl_os_source_add_poll_fd (source, &ls->poll_record, ls->poll_fd);
}

/* Direct mode: what GLib's poll found, to the loop as its selector would
 * report it. FALSE when the source left direct mode instead. */
static gboolean
report_polled (EvlLoopSource *ls)
{
  GHashTableIter iter;
  gpointer key, tag;

  g_hash_table_iter_init (&iter, ls->fd_tags);
  while (g_hash_table_iter_next (&iter, NULL, &tag))
    if (evl_os_source_query_fd (&ls->source, tag) & G_IO_NVAL)
      {
        leave_direct (ls);
        return FALSE;
      }
  g_hash_table_iter_init (&iter, ls->fd_tags);
  while (g_hash_table_iter_next (&iter, &key, &tag))
    {
      GIOCondition revents = evl_os_source_query_fd (&ls->source, tag);
      int fd = GPOINTER_TO_INT (key);
      guint events = 0;

      if (revents == 0)
        continue;
      if (revents & G_IO_IN)
        events |= EVL_IO_READ;
      if (revents & G_IO_OUT)
        events |= EVL_IO_WRITE;
      if (revents & (G_IO_ERR | G_IO_HUP))
        {
          EvlFdEntry *entry = evl_loop_lookup_fd (ls->loop, fd, FALSE);

          /* Let the callbacks of every interest see the failure. */
          events |= entry != NULL ? entry->registered : EVL_IO_READ | EVL_IO_WRITE;
          if (revents & G_IO_ERR)
            events |= EVL_IO_ERROR;
          if (revents & G_IO_HUP)
            events |= EVL_IO_HUP;
        }
      evl_loop_io_ready (ls->loop, fd, events);
    }
  return TRUE;
}

/* Mirrored HANDLEs: whether GLib's last wait found one signalled. */
static gboolean
handles_polled (EvlLoopSource *ls)
{
  GHashTableIter iter;
  gpointer tag;

  if (ls->handle_tags == NULL)
    return FALSE;
  g_hash_table_iter_init (&iter, ls->handle_tags);
  while (g_hash_table_iter_next (&iter, NULL, &tag))
    if (evl_os_source_query_fd (&ls->source, tag) != 0)
      return TRUE;
  return FALSE;
}

/* Mirrored HANDLEs: what GLib's wait found, to the loop as its selector
 * would report it, when that is all it found (see the top of the file).
 * FALSE when the selector must wait itself. */
static gboolean
report_handles (EvlLoopSource *ls)
{
  GHashTableIter iter;
  gpointer key, tag;

  if (ls->poll_record.revents != 0 || !handles_polled (ls))
    return FALSE;
  g_hash_table_iter_init (&iter, ls->handle_tags);
  while (g_hash_table_iter_next (&iter, &key, &tag))
    {
      GIOCondition revents = evl_os_source_query_fd (&ls->source, tag);

      if (revents == 0)
        continue;
      evl_loop_io_ready (ls->loop, GPOINTER_TO_INT (key),
                         EVL_IO_READ | (revents & (G_IO_ERR | G_IO_NVAL) ? EVL_IO_ERROR : 0));
    }
  return TRUE;
}

/* Whether the source must do nothing now: the loop is closed, runs in
 * another thread, or is itself iterating the source's context (a loop
 * attached to the context it drives never dispatches itself recursively).
 * GLib calls dispatch() one g_main_depth() deeper than prepare() and
 * check(); it may also call it without a TRUE check(), when one of the
 * fds mirrored in fallback mode polled ready. */
static gboolean
source_inert (EvlLoopSource *ls,
              gboolean       dispatching)
{
  EvlLoopPrivate *priv = evl_loop_get_priv (ls->loop);
  GThread *thread;

  if (priv->closed)
    return TRUE;
  /* Running in another thread: not ours to dispatch. */
  thread = g_atomic_pointer_get (&priv->thread);
  if (thread != NULL && thread != g_thread_self ())
    return TRUE;
  return priv->driver != NULL &&
         evl_context_driver_is_iterating (priv->driver, g_source_get_context (&ls->source),
                                          dispatching);
}

static gboolean
evl_loop_source_prepare (GSource *source,
                         gint    *timeout)
{
  EvlLoopSource *ls = (EvlLoopSource *) source;
  gint64 deadline, now;

  *timeout = -1;
  if (source_inert (ls, FALSE))
    return FALSE;
  /* GLib iterates a context here, and the loop is not the one doing it
   * (a modal main loop, or simply no explicit run): the loop's driven
   * context, if any, is not polled through the loop meanwhile. */
  if (evl_loop_get_priv (ls->loop)->driver != NULL)
    evl_context_driver_suspend (evl_loop_get_priv (ls->loop)->driver);
  if (evl_loop_has_ready_work (ls->loop))
    {
      *timeout = 0;
      return TRUE;
    }
  deadline = evl_loop_get_next_deadline (ls->loop);
  if (deadline < 0)
    return FALSE;
  now = evl_loop_time_ns (ls->loop);
  if (deadline <= now)
    {
      *timeout = 0;
      return TRUE;
    }
  /* Round up: GLib waits in milliseconds and a timer never runs early. */
  *timeout = (gint) MIN ((deadline - now + 999999) / 1000000, G_MAXINT);
  return FALSE;
}

static gboolean
evl_loop_source_check (GSource *source)
{
  EvlLoopSource *ls = (EvlLoopSource *) source;
  gint64 deadline;

  if (source_inert (ls, FALSE))
    return FALSE;
  if (evl_loop_has_ready_work (ls->loop))
    return TRUE;
  deadline = evl_loop_get_next_deadline (ls->loop);
  if (deadline >= 0 && deadline <= evl_loop_time_ns (ls->loop))
    return TRUE;
  /* A poll handle (Windows: GLib does not make the source ready itself). */
  if (ls->poll_record.revents != 0)
    return TRUE;
  /* Mirrored HANDLEs (Windows, at most 63 on a selector), likewise. */
  if (handles_polled (ls))
    return TRUE;
  /* The fds: GLib itself makes a source ready when one of its unix fds
   * polled ready, whatever check() says. (Asking with
   * g_source_query_unix_fd() would cost a list walk per fd: O(n^2) for the
   * fallback's mirrored fds.) */
  return FALSE;
}

static gboolean
evl_loop_source_dispatch (GSource     *source,
                          GSourceFunc  callback,
                          gpointer     user_data)
{
  EvlLoopSource *ls = (EvlLoopSource *) source;
  EvlLoop *loop = ls->loop;
  EvlLoopPrivate *priv = evl_loop_get_priv (loop);
  EvlLoop *previous;
  gboolean polled = FALSE;

  if (source_inert (ls, TRUE) || !evl_loop_enter_running (loop, &previous, NULL))
    return G_SOURCE_CONTINUE;

  g_object_ref (loop);
  priv->dispatch_depth++;
  if ((ls->direct && report_polled (ls)) || report_handles (ls))
    {
      polled = TRUE;
      evl_selector_loop_set_polled (loop, TRUE);
    }
  evl_loop_run_once (loop, FALSE);
  if (polled && !priv->closed)
    evl_selector_loop_set_polled (loop, FALSE);
  priv->dispatch_depth--;
  evl_loop_leave_running (loop, previous);
  g_object_unref (loop);
  return G_SOURCE_CONTINUE;
}

static void
evl_loop_source_finalize (GSource *source)
{
  EvlLoopSource *ls = (EvlLoopSource *) source;
  EvlLoopPrivate *priv = evl_loop_get_priv (ls->loop);

  priv->sources = g_slist_remove (priv->sources, source);
  g_clear_pointer (&ls->fd_tags, g_hash_table_unref);
  if (ls->handle_tags != NULL)
    {
      GHashTableIter iter;
      gpointer tag;

      /* GLib forgot the records with the destroyed source. */
      g_hash_table_iter_init (&iter, ls->handle_tags);
      while (g_hash_table_iter_next (&iter, NULL, &tag))
        evl_os_source_forget_fd (tag);
      g_hash_table_unref (ls->handle_tags);
    }
  g_clear_object (&ls->loop);
}

static GSourceFuncs evl_loop_source_funcs = {
  .prepare = evl_loop_source_prepare,
  .check = evl_loop_source_check,
  .dispatch = evl_loop_source_dispatch,
  .finalize = evl_loop_source_finalize,
};

static GIOCondition
evl_to_condition (guint events)
{
  GIOCondition cond = 0;

  if (events & EVL_IO_READ)
    cond |= G_IO_IN;
  if (events & EVL_IO_WRITE)
    cond |= G_IO_OUT;
  return cond;
}

/* A HANDLE (evl_os_source_mirrors_fd()) in GLib's wait while @events has
 * EVL_IO_READ (a HANDLE is never writable). */
static void
mirror_handle (EvlLoopSource *ls,
               int            fd,
               guint          events)
{
  gpointer tag = NULL;

  if (ls->handle_tags != NULL)
    tag = g_hash_table_lookup (ls->handle_tags, GINT_TO_POINTER (fd));
  if (!(events & EVL_IO_READ))
    {
      if (tag != NULL)
        {
          evl_os_source_remove_fd (&ls->source, tag);
          g_hash_table_remove (ls->handle_tags, GINT_TO_POINTER (fd));
        }
    }
  else if (tag == NULL && evl_os_source_mirrors_fd (fd))
    {
      if (ls->handle_tags == NULL)
        ls->handle_tags = g_hash_table_new (NULL, NULL);
      g_hash_table_insert (ls->handle_tags, GINT_TO_POINTER (fd),
                           evl_os_source_add_fd (&ls->source, fd, G_IO_IN));
    }
}

void
evl_loop_source_fd_changed (GSource    *source,
                            int         fd,
                            EvlFdEntry *entry,
                            guint       events)
{
  EvlLoopSource *ls = (EvlLoopSource *) source;
  gpointer tag;

  if (g_source_is_destroyed (source))
    return;
  if (ls->fd_tags == NULL)
    {
      if (ls->mirror_handles)
        mirror_handle (ls, fd, events);
      return;
    }
  tag = g_hash_table_lookup (ls->fd_tags, GINT_TO_POINTER (fd));
  if (events == 0)
    {
      if (tag != NULL)
        {
          evl_os_source_remove_fd (source, tag);
          g_hash_table_remove (ls->fd_tags, GINT_TO_POINTER (fd));
        }
    }
  else if (tag != NULL)
    evl_os_source_modify_fd (source, tag, evl_to_condition (events));
  else
    {
      g_hash_table_insert (ls->fd_tags, GINT_TO_POINTER (fd),
                           evl_os_source_add_fd (source, fd, evl_to_condition (events)));
      if (ls->direct && g_hash_table_size (ls->fd_tags) > DIRECT_MAX)
        leave_direct (ls);
    }
}

static void
mirror_fd (int      fd,
           guint    events,
           gpointer user_data)
{
  evl_loop_source_fd_changed (user_data, fd, NULL, events);
}

void
evl_loop_source_detach_all (EvlLoop *loop)
{
  EvlLoopPrivate *priv = evl_loop_get_priv (loop);

  while (priv->sources != NULL)
    {
      GSource *source = priv->sources->data;

      priv->sources = g_slist_remove (priv->sources, source);
      if (((EvlLoopSource *) source)->fd_tags != NULL)
        g_hash_table_remove_all (((EvlLoopSource *) source)->fd_tags);
      g_source_destroy (source);
    }
}

/**
 * evl_loop_create_source:
 * @loop: a loop
 *
 * Creates a GSource that runs @loop inside a GLib main loop (evloop inside
 * GLib): whoever iterates the context the source is attached to
 * (g_main_loop_run(), g_application_run(), gtk_main()...) dispatches the
 * loop's ready callbacks, timers, fd and signal events. With an epoll
 * selector or the io_uring proactor the source adds one fd to GLib,
 * however many fds the loop watches.
 *
 * The source holds a reference on the loop; destroy the source (or close
 * the loop, which destroys it) to let the loop go. Its priority is
 * %G_PRIORITY_DEFAULT; change it with g_source_set_priority().
 *
 * Returns: (transfer full): a new, unattached GSource
 */
GSource *
evl_loop_create_source (EvlLoop *loop)
{
  EvlLoopPrivate *priv;
  EvlLoopSource *ls;
  GSource *source;
  int poll_fd;

  g_return_val_if_fail (EVL_IS_LOOP (loop), NULL);

  priv = evl_loop_get_priv (loop);
  if (priv->closed)
    {
      g_critical ("%s: the event loop is closed", G_STRFUNC);
      return NULL;
    }

  source = g_source_new (&evl_loop_source_funcs, sizeof (EvlLoopSource));
  ls = (EvlLoopSource *) source;
  ls->loop = g_object_ref (loop);
  g_source_set_static_name (source, "EvlLoop");
  g_source_set_can_recurse (source, TRUE);

  poll_fd = priv->backend->get_poll_fd (loop);
  ls->poll_fd = poll_fd;
  if (EVL_OS_SOURCE_DIRECT && poll_fd >= 0 && EVL_IS_SELECTOR_LOOP (loop) &&
      priv->n_fds <= DIRECT_MAX)
    {
      ls->direct = TRUE;
      ls->fd_tags = g_hash_table_new (NULL, NULL);
      evl_loop_foreach_fd (loop, mirror_fd, source);
      if (ls->direct && g_hash_table_size (ls->fd_tags) > DIRECT_MAX)
        leave_direct (ls);
    }
  else if (poll_fd >= 0)
    {
      ls->poll_tag = evl_os_source_add_poll_fd (source, &ls->poll_record, poll_fd);
      ls->mirror_handles = EVL_IS_SELECTOR_LOOP (loop);
      if (ls->mirror_handles)
        evl_loop_foreach_fd (loop, mirror_fd, source);
    }
  else
    {
      ls->fd_tags = g_hash_table_new (NULL, NULL);
      evl_loop_foreach_fd (loop, mirror_fd, source);
    }
  priv->sources = g_slist_prepend (priv->sources, source);
  return source;
}

/**
 * evl_loop_attach:
 * @loop: a loop
 * @context: (nullable): a GMainContext, or %NULL for the global default one
 *
 * Attaches a source from [method@Evl.Loop.create_source] to @context, so
 * that the GLib main loop iterating @context also runs @loop. Remove it
 * with g_source_remove() on the returned id (for the default context) or
 * by closing the loop.
 *
 * Returns: the source id, or 0 if the loop is closed
 */
guint
evl_loop_attach (EvlLoop      *loop,
                 GMainContext *context)
{
  GSource *source;
  guint id;

  g_return_val_if_fail (EVL_IS_LOOP (loop), 0);

  source = evl_loop_create_source (loop);
  if (source == NULL)
    return 0;
  id = g_source_attach (source, context);
  g_source_unref (source);
  return id;
}
