/* evl-handle.c: a scheduled callback
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "evl-config.h"

#include "evl-handle-private.h"
#include "evl-loop-private.h"
#include "evl-os-private.h"

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
evl_handle_new (EvlCallback     callback,
                gpointer        user_data,
                GDestroyNotify  notify,
                gint            flags)
{
  EvlHandle *handle = g_new (EvlHandle, 1);

  g_assert (!(flags & (EVL_HANDLE_TIMER | EVL_HANDLE_THREADSAFE)));
  handle->ref_count = 1;
  handle->flags = flags;
  handle->callback = callback;
  handle->user_data = user_data;
  handle->notify = notify;
  return handle;
}

/* ---------------------------------------------------------------------- */
/* blocks and pools */

#define BLOCK_HEADER sizeof (EvlHandleBlock)
/* Spare handles a loop keeps for reuse (4096 call_soon handles): enough
 * for a steady flow of callbacks; what a burst took beyond it goes back to
 * the blocks, which go back to the cache below or to malloc. */
#define POOL_MAX_FREE_BYTES (128 * 1024)

/* Blocks whose handles are all freed wait here for reuse: taking fresh
 * memory from malloc costs page faults when a burst of handles comes and
 * goes (glibc trims what was freed). One lock per block of a few hundred
 * handles. Up to BLOCK_CACHE_MAX blocks (8 MiB) during a burst; a loop
 * about to wait calls evl_handle_block_cache_trim(), which frees what
 * stayed unused since the previous trim beyond BLOCK_CACHE_KEEP (1 MiB):
 * the low-water mark of the cache in between. */
#define BLOCK_CACHE_MAX 512
#define BLOCK_CACHE_KEEP 64

static GMutex block_cache_lock;
static EvlHandleBlock *block_cache;   /* linked through the first slot */
static guint block_cache_len;         /* atomic reads; written under the lock */
static guint block_cache_low;         /* least block_cache_len since the last trim */
static gint64 block_cache_trimmed;    /* when (monotonic) */

static inline EvlHandleBlock **
block_cache_link (EvlHandleBlock *block)
{
  return (EvlHandleBlock **) (block + 1);
}

static EvlHandleBlock *
block_new (guint slot_size)
{
  EvlHandleBlock *block;

  g_mutex_lock (&block_cache_lock);
  block = block_cache;
  if (block != NULL)
    {
      block_cache = *block_cache_link (block);
      g_atomic_int_set (&block_cache_len, block_cache_len - 1);
      block_cache_low = MIN (block_cache_low, block_cache_len);
    }
  g_mutex_unlock (&block_cache_lock);
  if (block == NULL)
    block = g_aligned_alloc (1, EVL_HANDLE_BLOCK_SIZE, EVL_HANDLE_BLOCK_SIZE);

  /* One count per slot, and one for the carver that holds it as its
   * current block: a full block all of whose handles were freed must not
   * go while the carver still points to it. */
  block->live = (EVL_HANDLE_BLOCK_SIZE - BLOCK_HEADER) / slot_size + 1;
  block->used = BLOCK_HEADER;
  block->slot_size = slot_size;
  return block;
}

static void
block_free (EvlHandleBlock *block)
{
  g_mutex_lock (&block_cache_lock);
  if (block_cache_len < BLOCK_CACHE_MAX)
    {
      *block_cache_link (block) = block_cache;
      block_cache = block;
      g_atomic_int_set (&block_cache_len, block_cache_len + 1);
      block = NULL;
    }
  g_mutex_unlock (&block_cache_lock);
  if (block != NULL)
    g_aligned_free (block);
}

/* Frees the cached blocks beyond BLOCK_CACHE_KEEP that no one took since
 * the previous trim, at most once a second (a shorter span would free
 * blocks that a steady flow of bursts takes again). Returns whether more
 * than BLOCK_CACHE_KEEP remain: a call a second later may free them, the
 * caller should come back. Any thread. */
gboolean
evl_handle_block_cache_trim (void)
{
  EvlHandleBlock *freed = NULL, *block;
  gboolean more;
  gint64 now;
  guint n;

  if (g_atomic_int_get (&block_cache_len) <= BLOCK_CACHE_KEEP)
    return FALSE;
  g_mutex_lock (&block_cache_lock);
  now = g_get_monotonic_time ();
  if (now - block_cache_trimmed < G_TIME_SPAN_SECOND)
    {
      g_mutex_unlock (&block_cache_lock);
      return TRUE;
    }
  block_cache_trimmed = now;
  n = block_cache_low > BLOCK_CACHE_KEEP ? block_cache_low - BLOCK_CACHE_KEEP : 0;
  n = MIN (n, block_cache_len);
  while (n-- > 0)
    {
      block = block_cache;
      block_cache = *block_cache_link (block);
      *block_cache_link (block) = freed;
      freed = block;
      g_atomic_int_set (&block_cache_len, block_cache_len - 1);
    }
  block_cache_low = block_cache_len;
  more = block_cache_len > BLOCK_CACHE_KEEP;
  g_mutex_unlock (&block_cache_lock);
  while ((block = freed) != NULL)
    {
      freed = *block_cache_link (block);
      g_aligned_free (block);
    }
  return more;
}

static inline gboolean
block_full (EvlHandleBlock *block)
{
  return block->used + block->slot_size > EVL_HANDLE_BLOCK_SIZE;
}

static inline EvlHandle *
block_carve (EvlHandleBlock *block)
{
  EvlHandle *handle = (EvlHandle *) ((guint8 *) block + block->used);

  block->used += block->slot_size;
  return handle;
}

/* Gives back @n slots of @block; frees it with the last one. */
void
evl_handle_block_release (EvlHandleBlock *block,
                          gint            n)
{
  if (n > 0 && g_atomic_int_add (&block->live, -n) == n)
    block_free (block);
}

/* The carver lets go of its current block: gives back the slots never
 * carved and its own count. */
static inline void
block_abandon (EvlHandleBlock *block)
{
  evl_handle_block_release (block, (EVL_HANDLE_BLOCK_SIZE - block->used) / block->slot_size + 1);
}

/* Frees a handle's memory. */
static inline void
handle_free (EvlHandle *handle)
{
  if (handle->flags & EVL_HANDLE_POOLED)
    evl_handle_block_release (evl_handle_block_of (handle), 1);
  else
    g_free (handle);
}

void
evl_handle_pool_init (EvlHandlePool *pool,
                      guint          slot_size)
{
  pool->current = NULL;
  pool->free_list = NULL;
  pool->n_free = 0;
  pool->slot_size = slot_size;
  pool->max_free = POOL_MAX_FREE_BYTES / slot_size;
  pool->spill_block = NULL;
  pool->spill_n = 0;
}

EvlHandle *
evl_handle_pool_carve (EvlHandlePool *pool)
{
  EvlHandleBlock *block = pool->current;

  if (G_UNLIKELY (block == NULL || block_full (block)))
    {
      /* A full block lives on while its handles do. */
      if (block != NULL)
        block_abandon (block);
      block = pool->current = block_new (pool->slot_size);
    }
  return block_carve (block);
}

void
evl_handle_pool_clear (EvlHandlePool *pool)
{
  EvlHandleBlock *block = pool->current;
  EvlHandle *handle;

  evl_handle_pool_flush (pool);
  while ((handle = pool->free_list) != NULL)
    {
      pool->free_list = handle->user_data;
      handle_free (handle);
    }
  pool->n_free = 0;
  if (block != NULL)
    {
      pool->current = NULL;
      block_abandon (block);
    }
}

/* Cross-thread posts: each posting thread carves from a block of its own
 * (freed by whichever thread frees its last handle), so posting takes no
 * lock and shares no allocator state. */
/* initial-exec: no __tls_get_addr() call per post (8 bytes of the static
 * TLS surplus that glibc keeps for libraries loaded later). */
#if defined(__ELF__) && defined(__GNUC__)
# define TLS_INITIAL_EXEC __attribute__ ((tls_model ("initial-exec")))
#else
# define TLS_INITIAL_EXEC
#endif
static __thread EvlHandleBlock *ts_block TLS_INITIAL_EXEC;

/* The block comes as @data: thread-local storage may be gone when GLib
 * runs the destroy notifies (mingw-w64's emulated TLS). */
static void
ts_block_thread_exit (gpointer data)
{
#if EVL_OS_TLS_VALID_AT_THREAD_EXIT
  /* A post from a later destructor of this thread starts afresh. */
  ts_block = NULL;
#endif
  block_abandon (data);
}

static GPrivate ts_block_key = G_PRIVATE_INIT (ts_block_thread_exit);

EvlThreadsafeHandle *
evl_threadsafe_handle_new (EvlCallback     callback,
                           gpointer        user_data,
                           GDestroyNotify  notify,
                           gint            refs)
{
  EvlHandleBlock *block = ts_block;
  EvlThreadsafeHandle *ts;

  if (G_UNLIKELY (block == NULL || block_full (block)))
    {
      if (block != NULL)
        block_abandon (block);
      block = ts_block = block_new (sizeof (EvlThreadsafeHandle));
      /* For the destroy notify: release the block at thread exit. */
      g_private_set (&ts_block_key, block);
    }
  ts = (EvlThreadsafeHandle *) block_carve (block);
#if defined(__GNUC__)
  /* The block's lines were last written by the thread that freed its
   * handles: take them a few posts ahead (past the block's end is
   * harmless: a prefetch does not fault). */
  __builtin_prefetch ((guint8 *) ts + 4 * 64, 1);
#endif
  ts->base.ref_count = refs;
  ts->base.flags = EVL_HANDLE_THREADSAFE | EVL_HANDLE_POOLED;
  ts->base.callback = callback;
  ts->base.user_data = user_data;
  ts->base.notify = notify;
  return ts;
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
  if ((old & EVL_HANDLE_TIMER) && EVL_TIMER_HANDLE (handle)->loop != NULL)
    evl_loop_timer_cancelled (EVL_TIMER_HANDLE (handle)->loop);
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

  if (!(g_atomic_int_get (&handle->flags) & EVL_HANDLE_TIMER))
    return -1.0;
  return (double) EVL_TIMER_HANDLE (handle)->when / 1e9;
}
