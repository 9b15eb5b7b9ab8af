/* evl-loop-io.c: readers, writers and signal handlers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "evl-config.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <time.h>
#include <unistd.h>

#include "evl-loop-impl-private.h"
#include "evl-os-private.h"
#include "evl-wakeup-private.h"

/* ---------------------------------------------------------------------- */
/* file descriptors */

EvlFdEntry *
evl_loop_lookup_fd (EvlLoop  *loop,
                    int       fd,
                    gboolean  create)
{
  EvlLoopPrivate *priv = evl_loop_get_priv (loop);

  if ((guint) fd >= priv->fds_cap)
    {
      guint new_cap;

      if (!create)
        return NULL;
      new_cap = MAX (64, priv->fds_cap);
      while (new_cap <= (guint) fd)
        new_cap *= 2;
      priv->fds = g_renew (EvlFdEntry *, priv->fds, new_cap);
      memset (priv->fds + priv->fds_cap, 0, (new_cap - priv->fds_cap) * sizeof (EvlFdEntry *));
      priv->fds_cap = new_cap;
    }
  if (priv->fds[fd] == NULL && create)
    {
      priv->fds[fd] = g_new0 (EvlFdEntry, 1);
      priv->n_fds++;
    }
  return priv->fds[fd];
}

static guint
entry_wanted (EvlLoopPrivate *priv,
              int             fd,
              EvlFdEntry     *entry)
{
  guint events = entry->ctx_events;

  if (entry->reader != NULL)
    events |= EVL_IO_READ;
  if (entry->writer != NULL || entry->internal_writer != NULL)
    events |= EVL_IO_WRITE;
  if (entry->internal_reader != NULL)
    events |= EVL_IO_READ;
  if (fd == priv->wake_fd)
    events |= EVL_IO_READ;
  return events;
}

/* Brings the backend (and the GLib sources the loop is attached to) in
 * line with what the fd's entry wants; frees the entry when nothing does.
 * With @force the backend is told even when the events did not change, so
 * that it watches the file that has the number now (the one it watched may
 * have been closed, which removed it from an epoll set). */
static gboolean
update_fd (EvlLoop  *loop,
           int       fd,
           gboolean  force,
           GError  **error)
{
  EvlLoopPrivate *priv = evl_loop_get_priv (loop);
  EvlFdEntry *entry = evl_loop_lookup_fd (loop, fd, FALSE);
  guint wanted;
  GSList *l;

  if (entry == NULL)
    return TRUE;
  wanted = entry_wanted (priv, fd, entry);
  if (wanted != entry->registered || (force && wanted != 0))
    {
      /* In a forked child the backend's epoll set or ring is the
       * parent's too: leave it alone. */
      if (G_LIKELY (priv->fork_generation == evl_fork_generation ()) &&
          !priv->backend->io_update (loop, fd, entry->registered, wanted, error))
        return FALSE;
      entry->registered = wanted;
      for (l = priv->sources; l != NULL; l = l->next)
        evl_loop_source_fd_changed (l->data, fd, entry, wanted);
    }
  if (wanted == 0 && entry->ctx_refs == 0)
    {
      g_free (entry);
      priv->fds[fd] = NULL;
      priv->n_fds--;
    }
  return TRUE;
}

gboolean
evl_loop_update_fd (EvlLoop  *loop,
                    int       fd,
                    GError  **error)
{
  return update_fd (loop, fd, FALSE, error);
}

void
evl_loop_foreach_fd (EvlLoop       *loop,
                     EvlLoopFdFunc  func,
                     gpointer       user_data)
{
  EvlLoopPrivate *priv = evl_loop_get_priv (loop);
  guint fd;

  for (fd = 0; fd < priv->fds_cap; fd++)
    if (priv->fds[fd] != NULL && priv->fds[fd]->registered != 0)
      func (fd, priv->fds[fd]->registered, user_data);
}

void
evl_loop_io_ready (EvlLoop *loop,
                   int      fd,
                   guint    events)
{
  EvlLoopPrivate *priv = evl_loop_get_priv (loop);
  EvlFdEntry *entry;

  if (G_UNLIKELY (fd == priv->wake_fd))
    {
      evl_wakeup_drain (priv->wake_fd);
      return;
    }
  if (G_UNLIKELY ((guint) fd >= priv->fds_cap) || (entry = priv->fds[fd]) == NULL)
    return;
  if ((events & EVL_IO_READ) && entry->reader != NULL)
    evl_loop_ready_push (priv, evl_handle_ref (entry->reader));
  if ((events & EVL_IO_WRITE) && entry->writer != NULL)
    evl_loop_ready_push (priv, evl_handle_ref (entry->writer));
  if ((events & EVL_IO_READ) && entry->internal_reader != NULL)
    evl_loop_ready_push (priv, evl_handle_ref (entry->internal_reader));
  if ((events & EVL_IO_WRITE) && entry->internal_writer != NULL)
    evl_loop_ready_push (priv, evl_handle_ref (entry->internal_writer));
  if (entry->ctx_refs != 0)
    entry->ctx_revents |= events;
}

static gboolean
check_fd (int      fd,
          GError **error)
{
  if (!evl_os_fd_is_open (fd))
    {
      g_set_error (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_INVALID,
                   _("File descriptor %d is not open; pass an open file descriptor"), fd);
      return FALSE;
    }
  return TRUE;
}

static EvlHandle **
watch_slot (EvlFdEntry *entry,
            gboolean    writer,
            gboolean    internal)
{
  if (internal)
    return writer ? &entry->internal_writer : &entry->internal_reader;
  return writer ? &entry->writer : &entry->reader;
}

static gboolean
add_watch (EvlLoop         *loop,
           int              fd,
           gboolean         writer,
           gboolean         internal,
           EvlCallback      callback,
           gpointer         user_data,
           GDestroyNotify   notify,
           GError         **error)
{
  EvlLoopPrivate *priv = evl_loop_get_priv (loop);
  EvlFdEntry *entry;
  EvlHandle *old, *handle;

  if (priv->closed)
    {
      if (notify != NULL)
        notify (user_data);
      return evl_loop_set_closed_error (error);
    }
  /* An internal watch follows a syscall on @fd that said EAGAIN: the fd
   * is open, spare the fcntl(). */
  if ((!(internal && fd >= 0) && !check_fd (fd, error)) || fd == priv->wake_fd)
    {
      if (fd == priv->wake_fd && fd >= 0)
        g_set_error (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_INVALID,
                     _("File descriptor %d is the loop's own wakeup descriptor; watch another one"), fd);
      if (notify != NULL)
        notify (user_data);
      return FALSE;
    }
  evl_loop_check_thread (loop, priv, G_STRFUNC);

  entry = evl_loop_lookup_fd (loop, fd, TRUE);
  handle = evl_handle_new (callback, user_data, notify, EVL_HANDLE_IO);
  old = *watch_slot (entry, writer, internal);
  *watch_slot (entry, writer, internal) = handle;
  if (old != NULL)
    {
      evl_handle_cancel (old);
      evl_handle_unref (old);
    }
  /* A replaced watch might be for an old fd with the same number: make the
   * backend register it afresh. */
  if (!update_fd (loop, fd, old != NULL, error))
    {
      entry = evl_loop_lookup_fd (loop, fd, FALSE);
      *watch_slot (entry, writer, internal) = NULL;
      evl_handle_cancel (handle);
      evl_handle_unref (handle);
      evl_loop_update_fd (loop, fd, NULL);
      return FALSE;
    }
  return TRUE;
}

static gboolean
remove_watch (EvlLoop  *loop,
              int       fd,
              gboolean  writer,
              gboolean  internal)
{
  EvlLoopPrivate *priv = evl_loop_get_priv (loop);
  EvlFdEntry *entry;
  EvlHandle *old;

  if (priv->closed || fd < 0)
    return FALSE;
  entry = evl_loop_lookup_fd (loop, fd, FALSE);
  if (entry == NULL)
    return FALSE;
  old = *watch_slot (entry, writer, internal);
  *watch_slot (entry, writer, internal) = NULL;
  if (old == NULL)
    return FALSE;
  evl_handle_cancel (old);
  evl_handle_unref (old);
  evl_loop_update_fd (loop, fd, NULL);
  return TRUE;
}

/**
 * evl_loop_add_reader:
 * @loop: a loop
 * @fd: the file descriptor to watch
 * @callback: (scope notified) (closure user_data) (destroy notify): runs
 *   whenever @fd is readable
 * @user_data: data for @callback
 * @notify: (nullable): frees @user_data; runs exactly once (also when the
 *   call fails)
 * @error: return location for a #GError
 *
 * Runs @callback each time @fd is readable (or has hung up or failed),
 * until [method@Evl.Loop.remove_reader]. A second reader on the same fd
 * replaces the first, whose @notify then runs. Readers and writers on one
 * fd are independent.
 *
 * Returns: %TRUE on success; %FALSE with %EVL_LOOP_ERROR_INVALID if @fd is
 *   not open, %EVL_LOOP_ERROR_CLOSED if the loop is closed
 */
gboolean
evl_loop_add_reader (EvlLoop         *loop,
                     int              fd,
                     EvlCallback      callback,
                     gpointer         user_data,
                     GDestroyNotify   notify,
                     GError         **error)
{
  g_return_val_if_fail (EVL_IS_LOOP (loop), FALSE);
  g_return_val_if_fail (callback != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return add_watch (loop, fd, FALSE, FALSE, callback, user_data, notify, error);
}

/**
 * evl_loop_remove_reader:
 * @loop: a loop
 * @fd: a file descriptor
 *
 * Stops watching @fd for reading. The fd may already be closed.
 *
 * Returns: whether a reader was registered
 */
gboolean
evl_loop_remove_reader (EvlLoop *loop,
                        int      fd)
{
  g_return_val_if_fail (EVL_IS_LOOP (loop), FALSE);

  return remove_watch (loop, fd, FALSE, FALSE);
}

/**
 * evl_loop_add_writer:
 * @loop: a loop
 * @fd: the file descriptor to watch
 * @callback: (scope notified) (closure user_data) (destroy notify): runs
 *   whenever @fd is writable
 * @user_data: data for @callback
 * @notify: (nullable): frees @user_data; runs exactly once (also when the
 *   call fails)
 * @error: return location for a #GError
 *
 * Like [method@Evl.Loop.add_reader], for writability.
 *
 * Returns: %TRUE on success
 */
gboolean
evl_loop_add_writer (EvlLoop         *loop,
                     int              fd,
                     EvlCallback      callback,
                     gpointer         user_data,
                     GDestroyNotify   notify,
                     GError         **error)
{
  g_return_val_if_fail (EVL_IS_LOOP (loop), FALSE);
  g_return_val_if_fail (callback != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return add_watch (loop, fd, TRUE, FALSE, callback, user_data, notify, error);
}

/**
 * evl_loop_remove_writer:
 * @loop: a loop
 * @fd: a file descriptor
 *
 * Stops watching @fd for writing. The fd may already be closed.
 *
 * Returns: whether a writer was registered
 */
gboolean
evl_loop_remove_writer (EvlLoop *loop,
                        int      fd)
{
  g_return_val_if_fail (EVL_IS_LOOP (loop), FALSE);

  return remove_watch (loop, fd, TRUE, FALSE);
}

gboolean
evl_loop_add_internal_watch (EvlLoop         *loop,
                             int              fd,
                             gboolean         writer,
                             EvlCallback      callback,
                             gpointer         user_data,
                             GDestroyNotify   notify,
                             GError         **error)
{
  return add_watch (loop, fd, writer, TRUE, callback, user_data, notify, error);
}

gboolean
evl_loop_remove_internal_watch (EvlLoop  *loop,
                                int       fd,
                                gboolean  writer)
{
  return remove_watch (loop, fd, writer, TRUE);
}

gboolean
evl_loop_rearm_fd (EvlLoop  *loop,
                   int       fd,
                   GError  **error)
{
  return update_fd (loop, fd, TRUE, error);
}

/* ---------------------------------------------------------------------- */
/* signals */

void
evl_loop_dispatch_signal (int      signum,
                          gpointer user_data)
{
  EvlLoop *loop = user_data;
  EvlLoopPrivate *priv = evl_loop_get_priv (loop);
  EvlHandle *handle = priv->signal_handlers[signum];

  if (handle != NULL && !evl_handle_cancelled_fast (handle))
    evl_loop_ready_push (priv, evl_handle_ref (handle));
}

/**
 * evl_loop_add_signal_handler:
 * @loop: a loop
 * @signum: a POSIX signal number, such as `SIGINT`
 * @callback: (scope notified) (closure user_data) (destroy notify): runs
 *   on the loop's thread after the signal arrived
 * @user_data: data for @callback
 * @notify: (nullable): frees @user_data; runs exactly once
 * @error: return location for a #GError
 *
 * Runs @callback in the loop whenever @signum is delivered to the process.
 * Several deliveries before the loop wakes run it once. A second handler
 * for the same signal replaces the first.
 *
 * evloop installs its own `sigaction()` handler, which only sets a flag and
 * writes to the loop's wakeup descriptor. It chains to the handler that was
 * installed before it, so a `g_unix_signal_add()` made *earlier* for the
 * same signal keeps working; one made later replaces evloop's handler (GLib
 * does not chain), so add GLib's first or use only one of them per signal.
 *
 * Returns: %TRUE on success; %FALSE with %EVL_LOOP_ERROR_INVALID for a
 *   signal number that cannot be caught
 */
gboolean
evl_loop_add_signal_handler (EvlLoop         *loop,
                             int              signum,
                             EvlCallback      callback,
                             gpointer         user_data,
                             GDestroyNotify   notify,
                             GError         **error)
{
  EvlLoopPrivate *priv;
  EvlHandle *old;

  g_return_val_if_fail (EVL_IS_LOOP (loop), FALSE);
  g_return_val_if_fail (callback != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  priv = evl_loop_get_priv (loop);
  if (priv->closed)
    {
      if (notify != NULL)
        notify (user_data);
      return evl_loop_set_closed_error (error);
    }
  if (!evl_signal_check_signum (signum, error))
    {
      if (notify != NULL)
        notify (user_data);
      return FALSE;
    }
  if (priv->signals == NULL)
    {
      priv->signals = evl_signal_target_new (priv->wake_fd_write, &priv->wake_pending);
      priv->signal_handlers = g_new0 (EvlHandle *, evl_signal_max ());
    }
  old = priv->signal_handlers[signum];
  if (old == NULL && !evl_signal_target_watch (priv->signals, signum, error))
    {
      if (notify != NULL)
        notify (user_data);
      return FALSE;
    }
  priv->signal_handlers[signum] = evl_handle_new (callback, user_data, notify, EVL_HANDLE_IO);
  if (old != NULL)
    {
      evl_handle_cancel (old);
      evl_handle_unref (old);
    }
  return TRUE;
}

/**
 * evl_loop_remove_signal_handler:
 * @loop: a loop
 * @signum: a signal number
 *
 * Removes the handler of @signum and restores the process's previous
 * disposition of the signal.
 *
 * Returns: whether a handler was registered
 */
gboolean
evl_loop_remove_signal_handler (EvlLoop *loop,
                                int      signum)
{
  EvlLoopPrivate *priv;
  EvlHandle *old;

  g_return_val_if_fail (EVL_IS_LOOP (loop), FALSE);

  priv = evl_loop_get_priv (loop);
  if (priv->signals == NULL || signum <= 0 || signum >= evl_signal_max ())
    return FALSE;
  old = priv->signal_handlers[signum];
  if (old == NULL)
    return FALSE;
  priv->signal_handlers[signum] = NULL;
  evl_signal_target_unwatch (priv->signals, signum);
  evl_handle_cancel (old);
  evl_handle_unref (old);
  return TRUE;
}
