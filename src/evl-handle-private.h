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
  EVL_HANDLE_TIMER      = 1 << 3,  /* lives in the loop's timer heap */
  EVL_HANDLE_IO         = 1 << 4,  /* an fd watch: runs many times */
};

struct _EvlHandle
{
  gint            ref_count;   /* atomic */
  gint            flags;       /* atomic, EVL_HANDLE_* */
  EvlCallback     callback;
  gpointer        user_data;
  GDestroyNotify  notify;      /* exchanged atomically: runs exactly once */
  gint64          when;        /* deadline in ns on the loop clock; -1 for call_soon */
  guint64         seq;         /* insertion order, breaks timer ties */
  EvlLoop        *loop;        /* not owned; cleared when the loop drops the handle */
  gpointer        block;       /* the EvlHandlePool block it was carved from, or NULL */
};

/* A loop's allocator for the handles it makes on its own thread
 * (call_soon, timers): handles are carved from blocks, and the loop keeps
 * the ones it ran and was the last to hold for reuse, so a busy loop
 * allocates nothing per callback. A handle outlives its loop as any other
 * (a block is freed when its last handle is). Loop thread only. */
typedef struct
{
  gpointer   current;    /* block being carved */
  EvlHandle *free_list;  /* linked through ->user_data */
  guint      n_free;
} EvlHandlePool;

EvlHandle *evl_handle_new          (EvlLoop        *loop,
                                    EvlCallback     callback,
                                    gpointer        user_data,
                                    GDestroyNotify  notify,
                                    gint64          when,
                                    gint            flags);

/* From @pool: as evl_handle_new(); not for THREADSAFE handles. */
EvlHandle *evl_handle_pool_take    (EvlHandlePool  *pool,
                                    EvlLoop        *loop,
                                    EvlCallback     callback,
                                    gpointer        user_data,
                                    GDestroyNotify  notify,
                                    gint64          when,
                                    gint            flags);
/* The loop's reference to a handle it ran: reuses the handle when it is
 * the last one (and the handle is released), else drops it. */
void       evl_handle_pool_unref   (EvlHandlePool  *pool,
                                    EvlHandle      *handle);
void       evl_handle_pool_clear   (EvlHandlePool  *pool);

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
