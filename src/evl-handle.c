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
  handle->block = NULL;
  return handle;
}

/* ---------------------------------------------------------------------- */
/* the pool */

#define POOL_BLOCK_HANDLES 256
#define POOL_MAX_FREE      4096

typedef struct
{
  gint       live;       /* atomic: slots not yet freed (carved or not) */
  guint      used;       /* slots carved */
  EvlHandle  handles[POOL_BLOCK_HANDLES];
} HandleBlock;

static void
block_release (HandleBlock *block,
               gint         n)
{
  if (g_atomic_int_add (&block->live, -n) == n)
    g_free (block);
}

/* Frees a handle's memory. */
static inline void
handle_free (EvlHandle *handle)
{
  if (handle->block != NULL)
    block_release (handle->block, 1);
  else
    g_free (handle);
}

EvlHandle *
evl_handle_pool_take (EvlHandlePool  *pool,
                      EvlLoop        *loop,
                      EvlCallback     callback,
                      gpointer        user_data,
                      GDestroyNotify  notify,
                      gint64          when,
                      gint            flags)
{
  EvlHandle *handle;

  if (pool->free_list != NULL)
    {
      handle = pool->free_list;
      pool->free_list = handle->user_data;
      pool->n_free--;
    }
  else
    {
      HandleBlock *block = pool->current;

      if (block == NULL || block->used == POOL_BLOCK_HANDLES)
        {
          /* A full block lives on while its handles do. */
          if (block != NULL)
            block_release (block, 0);
          block = g_new (HandleBlock, 1);
          block->live = POOL_BLOCK_HANDLES;
          block->used = 0;
          pool->current = block;
        }
      handle = &block->handles[block->used++];
      handle->block = block;
    }
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

void
evl_handle_pool_unref (EvlHandlePool *pool,
                       EvlHandle     *handle)
{
  /* The last reference is the loop's: nobody else can take one now (the
   * handle was lent to the caller only until its callback ran). */
  if (handle->block != NULL && g_atomic_int_get (&handle->ref_count) == 1 &&
      handle->notify == NULL && handle->callback == NULL)
    {
      if (pool->n_free < POOL_MAX_FREE)
        {
          handle->user_data = pool->free_list;
          pool->free_list = handle;
          pool->n_free++;
        }
      else
        block_release (handle->block, 1);
      return;
    }
  evl_handle_unref (handle);
}

void
evl_handle_pool_clear (EvlHandlePool *pool)
{
  HandleBlock *block = pool->current;
  EvlHandle *handle;

  while ((handle = pool->free_list) != NULL)
    {
      pool->free_list = handle->user_data;
      handle_free (handle);
    }
  pool->n_free = 0;
  if (block != NULL)
    {
      pool->current = NULL;
      block_release (block, POOL_BLOCK_HANDLES - (gint) block->used);
    }
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
      handle_free (handle);
    }
}

void
evl_handle_release (EvlHandle *handle)
{
  GDestroyNotify notify;
  gpointer data = handle->user_data;

  /* Only a call_soon_threadsafe() handle may be cancelled from another
   * thread (the loop is not thread-safe otherwise). */
  if (g_atomic_int_get (&handle->flags) & EVL_HANDLE_THREADSAFE)
    notify = g_atomic_pointer_exchange (&handle->notify, NULL);
  else
    {
      notify = handle->notify;
      handle->notify = NULL;
    }

  handle->callback = NULL;
  handle->user_data = NULL;
  if (notify != NULL)
    notify (data);
}

gboolean
evl_handle_run (EvlHandle *handle)
{
  gint old = g_atomic_int_get (&handle->flags);
  /* An fd or signal callback may run again inside itself (a nested run of
   * the loop): only the outermost call clears RUNNING and releases, so the
   * notify never runs while a call is still on the stack. */
  gboolean outermost = !(old & EVL_HANDLE_RUNNING);
  gboolean ran = FALSE;

  if (!(old & EVL_HANDLE_THREADSAFE))
    {
      /* No other thread touches it: no atomic read-modify-writes. */
      if (!(old & EVL_HANDLE_CANCELLED) && handle->callback != NULL)
        {
          handle->flags = old | EVL_HANDLE_RUNNING;
          handle->callback (handle->user_data);
          ran = TRUE;
          old = handle->flags;
          if (outermost)
            handle->flags = old & ~EVL_HANDLE_RUNNING;
        }
      if (!outermost)
        return ran;
      if (!(old & EVL_HANDLE_IO) || (old & EVL_HANDLE_CANCELLED))
        evl_handle_release (handle);
      return ran;
    }

  old = g_atomic_int_or (&handle->flags, EVL_HANDLE_RUNNING);
  outermost = !(old & EVL_HANDLE_RUNNING);

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
