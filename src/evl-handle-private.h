/* evl-handle-private.h: the layout of EvlHandle, shared with the loop
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <evloop-glib/evloop-glib.h>

G_BEGIN_DECLS

enum {
  EVL_HANDLE_CANCELLED  = 1 << 0,  /* never run again */
  EVL_HANDLE_RUNNING    = 1 << 1,  /* its callback is on the stack */
  EVL_HANDLE_THREADSAFE = 1 << 2,  /* another thread may hold it: release on the loop thread only */
  EVL_HANDLE_TIMER      = 1 << 3,  /* an EvlTimerHandle, in the loop's timer heap */
  EVL_HANDLE_IO         = 1 << 4,  /* an fd watch: runs many times */
  EVL_HANDLE_POOLED     = 1 << 5,  /* carved from an EvlHandleBlock */
};

/* 32 bytes: what every handle needs. Timers and cross-thread posts carry
 * more in the larger structs below, which start with it. */
struct _EvlHandle
{
  gint            ref_count;   /* atomic */
  gint            flags;       /* EVL_HANDLE_*; atomic for THREADSAFE handles */
  EvlCallback     callback;
  gpointer        user_data;   /* also the free-list link of a pooled handle */
  GDestroyNotify  notify;      /* exchanged atomically for THREADSAFE: runs exactly once */
};

typedef struct
{
  EvlHandle  base;
  gint64     when;        /* deadline in ns on the loop clock */
  guint64    seq;         /* insertion order, breaks ties */
  EvlLoop   *loop;        /* not owned; cleared when the loop drops the handle */
} EvlTimerHandle;

/* A call_soon_threadsafe() handle: the base alone (the loop's queues of
 * posts hold pointers to it). */
typedef struct
{
  EvlHandle  base;
} EvlThreadsafeHandle;

#define EVL_TIMER_HANDLE(h) ((EvlTimerHandle *) (h))

/* Handles are carved from aligned blocks, so that a handle finds its block
 * from its address. A block is freed when its last handle is (atomic
 * count: a handle may be freed on any thread). */
#define EVL_HANDLE_BLOCK_SIZE 16384

typedef struct
{
  gint     live;        /* atomic: slots not yet freed (carved or not) */
  guint    used;        /* bytes carved, header included */
  guint    slot_size;
  guint    _pad;
} EvlHandleBlock;

static inline EvlHandleBlock *
evl_handle_block_of (EvlHandle *handle)
{
  return (EvlHandleBlock *) ((guintptr) handle & ~(guintptr) (EVL_HANDLE_BLOCK_SIZE - 1));
}

/* A loop's allocator for the handles it makes on its own thread (call_soon
 * and timers, one pool each since their sizes differ): the loop keeps the
 * handles it ran and was the last to hold for reuse, so a busy loop
 * allocates nothing per callback. A handle outlives its loop as any other.
 * Loop thread only. */
typedef struct
{
  EvlHandleBlock *current;    /* block being carved */
  EvlHandle      *free_list;  /* linked through ->user_data */
  guint           n_free;
  guint           max_free;   /* a small bound: a burst's handles go back */
  guint           slot_size;
  /* handles past the bound, freed but not yet given back to their block
   * (in batches: one atomic per block, not per handle); see
   * evl_handle_pool_flush() */
  EvlHandleBlock *spill_block;
  gint            spill_n;
} EvlHandlePool;

void       evl_handle_pool_init    (EvlHandlePool  *pool,
                                    guint           slot_size);
EvlHandle *evl_handle_pool_carve   (EvlHandlePool  *pool);
void       evl_handle_pool_clear   (EvlHandlePool  *pool);
void       evl_handle_block_release (EvlHandleBlock *block,
                                     gint            n);
gboolean   evl_handle_block_cache_trim (void);

/* Gives back to their block the handles freed past the pool's bound. */
static inline void
evl_handle_pool_flush (EvlHandlePool *pool)
{
  if (pool->spill_block != NULL)
    {
      evl_handle_block_release (pool->spill_block, pool->spill_n);
      pool->spill_block = NULL;
      pool->spill_n = 0;
    }
}

/* From @pool: a handle with one reference; not for THREADSAFE handles. */
static inline EvlHandle *
evl_handle_pool_take (EvlHandlePool  *pool,
                      EvlCallback     callback,
                      gpointer        user_data,
                      GDestroyNotify  notify,
                      gint            flags)
{
  EvlHandle *handle = pool->free_list;

  if (G_LIKELY (handle != NULL))
    {
      pool->free_list = handle->user_data;
      pool->n_free--;
    }
  else
    handle = evl_handle_pool_carve (pool);
  handle->ref_count = 1;
  handle->flags = flags | EVL_HANDLE_POOLED;
  handle->callback = callback;
  handle->user_data = user_data;
  handle->notify = notify;
  return handle;
}

/* The loop's reference to a handle it ran: reuses the handle when it is
 * the last one (and the handle is released), else drops it. A handle past
 * the pool's bound is given back at the next evl_handle_pool_flush(). */
static inline void
evl_handle_pool_unref (EvlHandlePool *pool,
                       EvlHandle     *handle)
{
  /* The last reference is the loop's: nobody else can take one now (the
   * handle was lent to the caller only until its callback ran). */
  if (G_LIKELY ((handle->flags & EVL_HANDLE_POOLED) && !(handle->flags & EVL_HANDLE_THREADSAFE) &&
                g_atomic_int_get (&handle->ref_count) == 1 &&
                handle->notify == NULL && handle->callback == NULL))
    {
      if (G_LIKELY (pool->n_free < pool->max_free))
        {
          handle->user_data = pool->free_list;
          pool->free_list = handle;
          pool->n_free++;
        }
      else
        {
          EvlHandleBlock *block = evl_handle_block_of (handle);

          if (block != pool->spill_block)
            {
              evl_handle_pool_flush (pool);
              pool->spill_block = block;
            }
          pool->spill_n++;
        }
      return;
    }
  evl_handle_unref (handle);
}

EvlHandle *evl_handle_new          (EvlCallback     callback,
                                    gpointer        user_data,
                                    GDestroyNotify  notify,
                                    gint            flags);

/* A THREADSAFE handle from the calling thread's own block (any thread),
 * with @refs references. */
EvlThreadsafeHandle *evl_threadsafe_handle_new (EvlCallback     callback,
                                                gpointer        user_data,
                                                GDestroyNotify  notify,
                                                gint            refs);

/* Run the notify (once) and forget callback and data. */
void       evl_handle_release      (EvlHandle      *handle);

/* Run the callback unless cancelled, then release the data unless the
 * handle is a persistent fd watch. Returns whether the callback ran. */
gboolean   evl_handle_run          (EvlHandle      *handle);

static inline gboolean
evl_handle_cancelled_fast (EvlHandle *handle)
{
  return (g_atomic_int_get (&handle->flags) & EVL_HANDLE_CANCELLED) != 0;
}

/* Implemented by the loop: a timer handle was cancelled (lazy removal). */
void       evl_loop_timer_cancelled (EvlLoop       *loop);

G_END_DECLS
