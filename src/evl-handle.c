/* evl-handle.c: a scheduled callback
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "evl-handle-private.h"
#include "evl-loop-private.h"

/**
 * EvlHandle:
 *
 * A callback scheduled on an [class@Evl.Loop] with
 * [method@Evl.Loop.call_soon], [method@Evl.Loop.call_later],
 * [method@Evl.Loop.call_at] or [method@Evl.Loop.call_soon_threadsafe].
 *
 * A handle is a small reference-counted boxed type, not a GObject. Its only
 * operation is [method@Evl.Handle.cancel]: a cancelled callback never runs.
 * Whatever happens to it, the `GDestroyNotify` given with the callback runs
 * exactly once: after the callback ran, when it is cancelled, or at the
 * latest when the loop is closed or finalized.
 */

G_DEFINE_BOXED_TYPE (EvlHandle, evl_handle, evl_handle_ref, evl_handle_unref)

EvlHandle *
evl_handle_new (EvlLoop        *loop,
                EvlCallback     callback,
                gpointer        user_data,
                GDestroyNotify  notify,
                gint64          when,
                gint            flags)
{
  EvlHandle *handle = g_new (EvlHandle, 1);

  handle->ref_count = 1;
  handle->flags = flags;
  handle->callback = callback;
  handle->user_data = user_data;
  handle->notify = notify;
  handle->when = when;
  handle->seq = 0;
  handle->loop = loop;
  return handle;
}

/**
 * evl_handle_ref:
 * @handle: a handle
 *
 * Takes a reference on @handle. Thread-safe.
 *
 * Returns: (transfer full): @handle
 */
EvlHandle *
evl_handle_ref (EvlHandle *handle)
{
  g_return_val_if_fail (handle != NULL, NULL);

  g_atomic_int_inc (&handle->ref_count);
  return handle;
}

/**
 * evl_handle_unref:
 * @handle: (transfer full): a handle
 *
 * Drops a reference on @handle. Dropping the last reference never cancels
 * the callback: a scheduled callback keeps its own reference in the loop.
 * Thread-safe.
 */
void
evl_handle_unref (EvlHandle *handle)
{
  g_return_if_fail (handle != NULL);

  if (g_atomic_int_dec_and_test (&handle->ref_count))
    {
      evl_handle_release (handle);
      g_free (handle);
    }
}

void
evl_handle_release (EvlHandle *handle)
{
  GDestroyNotify notify = g_atomic_pointer_exchange (&handle->notify, NULL);
  gpointer data = handle->user_data;

  handle->callback = NULL;
  handle->user_data = NULL;
  if (notify != NULL)
    notify (data);
}

gboolean
evl_handle_run (EvlHandle *handle)
{
  gint old = g_atomic_int_or (&handle->flags, EVL_HANDLE_RUNNING);
  /* An fd or signal callback may run again inside itself (a nested run of
   * the loop): only the outermost call clears RUNNING and releases, so the
   * notify never runs while a call is still on the stack. */
  gboolean outermost = !(old & EVL_HANDLE_RUNNING);
  gboolean ran = FALSE;

  if (!(old & EVL_HANDLE_CANCELLED) && handle->callback != NULL)
    {
      handle->callback (handle->user_data);
      ran = TRUE;
    }
  if (!outermost)
    return ran;
  old = g_atomic_int_and (&handle->flags, ~EVL_HANDLE_RUNNING);
  if (!(old & EVL_HANDLE_IO) || (old & EVL_HANDLE_CANCELLED))
    evl_handle_release (handle);
  return ran;
}

/**
 * evl_handle_cancel:
 * @handle: a handle
 *
 * Cancels the callback: it will not run (if it is running now, this run
 * completes). Cancelling twice, or a callback that already ran, does nothing.
 *
 * The callback's `GDestroyNotify` runs now when this is called on the
 * loop's thread, or later on the loop's thread for a handle from
 * [method@Evl.Loop.call_soon_threadsafe]; in every case exactly once.
 */
void
evl_handle_cancel (EvlHandle *handle)
{
  gint old;

  g_return_if_fail (handle != NULL);

  old = g_atomic_int_or (&handle->flags, EVL_HANDLE_CANCELLED);
  if (old & EVL_HANDLE_CANCELLED)
    return;
  if ((old & EVL_HANDLE_TIMER) && handle->loop != NULL)
    evl_loop_timer_cancelled (handle->loop);
  if (!(old & (EVL_HANDLE_RUNNING | EVL_HANDLE_THREADSAFE)))
    evl_handle_release (handle);
}

/**
 * evl_handle_is_cancelled:
 * @handle: a handle
 *
 * Checks whether the handle was cancelled, as asyncio's
 * `Handle.cancelled()`.
 *
 * Returns: whether [method@Evl.Handle.cancel] was called on @handle
 */
gboolean
evl_handle_is_cancelled (EvlHandle *handle)
{
  g_return_val_if_fail (handle != NULL, FALSE);

  return evl_handle_cancelled_fast (handle);
}

/**
 * evl_handle_get_when:
 * @handle: a handle
 *
 * Gets the deadline of a timer handle, as asyncio's `TimerHandle.when()`.
 *
 * Returns: the loop time (see [method@Evl.Loop.time]) at which a timer
 *   handle is due, or a negative number for a handle from
 *   [method@Evl.Loop.call_soon]
 */
double
evl_handle_get_when (EvlHandle *handle)
{
  g_return_val_if_fail (handle != NULL, -1.0);

  if (handle->when < 0)
    return -1.0;
  return (double) handle->when / 1e9;
}
