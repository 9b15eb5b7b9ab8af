/* evl-loop-impl-private.h: EvlLoop's private state, for the files that
 * make up the loop (evl-loop.c, evl-loop-ready.c, evl-loop-timers.c,
 * evl-loop-io.c, evl-loop-threadsafe.c, evl-loop-source.c,
 * evl-loop-context.c)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "evl-loop-private.h"
#include "evl-signal-private.h"
#include "evl-timer-heap-private.h"

G_BEGIN_DECLS

/* One watched fd. The base loop owns this table; the backend only sees
 * (fd, old events, new events). */
typedef struct
{
  EvlHandle *reader;
  EvlHandle *writer;
  EvlHandle *internal_reader; /* the socket primitives' own watches */
  EvlHandle *internal_writer; /* (evl-loop-sock.c), next to the user's */
  guint      registered;    /* events registered with the backend */
  guint      ctx_refs;      /* GPollFDs of the driven GMainContext on this fd */
  guint      ctx_events;    /* their union, as EVL_IO_READ|WRITE */
  guint      ctx_revents;   /* what the last poll reported, EVL_IO_* */
  guint      ctx_seen;      /* scratch mark used while diffing the fd set */
  gpointer   source_tag;    /* g_source_add_unix_fd tag (fallback bridge) */
} EvlFdEntry;

typedef struct _EvlContextDriver EvlContextDriver;

typedef struct
{
  const EvlLoopBackend *backend;

  /* ready queue: a ring of handles, power-of-two sized, indexed by
   * absolute positions (head <= i < tail): a run's snapshot is the tail
   * it started with */
  EvlHandle   **ready;
  guint64       ready_head;
  guint64       ready_tail;
  guint         ready_mask;         /* capacity - 1 */
  guint         ready_quiet;        /* iterations that used little of it */

  EvlTimerHeap  timers;
  guint64       timer_seq;
  gint          timers_cancelled;   /* atomic */

  EvlHandlePool pool;               /* call_soon handles */
  EvlHandlePool timer_pool;         /* EvlTimerHandles */

  EvlFdEntry  **fds;                /* indexed by fd */
  guint         fds_cap;
  guint         n_fds;

  /* wakeups and call_soon_threadsafe */
  int           wake_fd;            /* eventfd, or the read end of a pipe */
  int           wake_fd_write;      /* same as wake_fd for an eventfd */
  gint          wake_pending;       /* atomic */
  /* call_soon_threadsafe: one queue per posting thread (EvlPostQueue,
   * evl-loop-threadsafe.c); a thread's first post pushes its new queue on
   * ts_new_queues (atomic, a lock-free stack the loop takes whole), the
   * loop then keeps it in ts_queues (loop thread only) */
  struct _EvlPostQueue *ts_new_queues;
  GPtrArray    *ts_queues;
  EvlHandleBlock *freed_block;      /* posts run and freed, not yet */
  gint          freed_in_block;     /* given back to their block */
  GMutex        ts_lock;            /* guards writes to the wakeup fd */
  gint          ts_closed;          /* atomic, set under ts_lock */

  EvlSignalTarget *signals;
  EvlHandle      **signal_handlers; /* indexed by signal number */

  gboolean      closed;
  GError       *init_error;         /* why construction failed, or NULL */
  guint         fork_generation;    /* evl_fork_generation () when made */
  GQueue        close_hooks;        /* EvlLoopCloseHook, run by close */
  gboolean      stopping;
  guint         run_depth;          /* explicit runs on the stack */
  guint         dispatch_depth;     /* GSource dispatches on the stack */
  GThread      *thread;             /* thread running the loop */

  gboolean      debug;
  double        slow_callback_duration;

  EvlExceptionHandler exc_handler;
  gpointer            exc_data;
  GDestroyNotify      exc_notify;

  GMainContext     *context;        /* driven while running; may be NULL */
  EvlContextDriver *driver;
  GSList           *sources;        /* attached EvlLoopSources (not owned) */
} EvlLoopPrivate;

/* evl-loop.c: the GObject, its life and the runs */

/* The offset of the private part of an EvlLoop, for inline use (the
 * loop's files are where the hot paths are). */
extern gint evl_loop_private_offset;

static inline EvlLoopPrivate *
evl_loop_get_priv (EvlLoop *loop)
{
  return (EvlLoopPrivate *) G_STRUCT_MEMBER_P (loop, evl_loop_private_offset);
}

gboolean   evl_loop_set_closed_error (GError         **error);
EvlHandle *evl_loop_refuse_closed    (GDestroyNotify   notify,
                                      gpointer         user_data,
                                      const char      *func);

/* The last loop class that passed EVL_IS_LOOP() (atomic), for
 * evl_loop_is_loop_fast(). */
extern gpointer evl_loop_known_class;

/* evl-loop-ready.c: the ready queue; inline: the hot paths */
void       evl_loop_ready_grow       (EvlLoopPrivate  *priv);
void       evl_loop_ready_shrink     (EvlLoopPrivate  *priv);

static inline void
evl_loop_ready_push (EvlLoopPrivate *priv,
                     EvlHandle      *handle)
{
  if (G_UNLIKELY (priv->ready_tail - priv->ready_head > priv->ready_mask))
    evl_loop_ready_grow (priv);
  priv->ready[priv->ready_tail++ & priv->ready_mask] = handle;
}

static inline guint64
evl_loop_ready_len (EvlLoopPrivate *priv)
{
  return priv->ready_tail - priv->ready_head;
}

/* The next ready handle queued before position @limit, or NULL. */
static inline EvlHandle *
evl_loop_ready_pop_until (EvlLoopPrivate *priv,
                          guint64         limit)
{
  if (priv->ready_head >= MIN (limit, priv->ready_tail))
    return NULL;
  return priv->ready[priv->ready_head++ & priv->ready_mask];
}

/* The ring goes back to READY_KEEP_CAPACITY (32 KiB; or twice what it
 * holds) once the burst that grew it past that is over: when the loop is
 * about to wait, when its outermost run returns, or after
 * READY_QUIET_ITERATIONS iterations that each used under an eighth of it.
 * Bursts of a few thousand callbacks, frequent with posts from other
 * threads, keep their ring instead of growing it again each time. */
#define READY_KEEP_CAPACITY 4096
#define READY_QUIET_ITERATIONS 64

static inline void
evl_loop_ready_maybe_shrink (EvlLoopPrivate *priv)
{
  if (G_UNLIKELY (priv->ready_mask + 1 > READY_KEEP_CAPACITY))
    evl_loop_ready_shrink (priv);
}

static inline void
evl_loop_check_thread (EvlLoop        *loop,
                       EvlLoopPrivate *priv,
                       const char     *what)
{
  GThread *thread;

  if (G_UNLIKELY (priv->debug) &&
      (thread = g_atomic_pointer_get (&priv->thread)) != NULL && thread != g_thread_self ())
    g_critical ("%s: non-thread-safe operation invoked on an event loop other than "
                "the current one; use evl_loop_call_soon_threadsafe()", what);
}

static inline gboolean
evl_loop_is_loop_fast (gpointer loop)
{
  gpointer klass;

  if (G_UNLIKELY (loop == NULL))
    return FALSE;
  klass = ((GTypeInstance *) loop)->g_class;
  if (G_LIKELY (klass != NULL && klass == g_atomic_pointer_get (&evl_loop_known_class)))
    return TRUE;
  if (!EVL_IS_LOOP (loop))
    return FALSE;
  g_atomic_pointer_set (&evl_loop_known_class, klass);
  return TRUE;
}

/* evl-loop-io.c */
void       evl_loop_dispatch_signal  (int              signum,
                                      gpointer         user_data);

/* evl-loop-threadsafe.c: moves the posts of other threads to the ready
 * queue (or drops them, @drop), and lets go of the queues of threads that
 * exited; the loop's thread only */
void       evl_loop_take_posts       (EvlLoopPrivate  *priv,
                                      gboolean         drop);
/* when the loop is finalized: drops the posts and every queue */
void       evl_loop_free_posts       (EvlLoopPrivate  *priv);

/* evl-loop.c */
gboolean evl_loop_update_fd       (EvlLoop    *loop,
                                   int         fd,
                                   GError    **error);
EvlFdEntry *evl_loop_lookup_fd    (EvlLoop    *loop,
                                   int         fd,
                                   gboolean    create);
/* One iteration. An explicit run (run_forever) may block and drives the
 * loop's GMainContext; the GSource bridge's dispatch does neither. */
void     evl_loop_run_once        (EvlLoop    *loop,
                                   gboolean    explicit_run);
gboolean evl_loop_enter_running   (EvlLoop    *loop,
                                   EvlLoop   **previous,
                                   GError    **error);
void     evl_loop_leave_running   (EvlLoop    *loop,
                                   EvlLoop    *previous);

/* evl-loop-context.c: GLib inside evloop */
EvlContextDriver *evl_context_driver_new     (EvlLoop          *loop,
                                              GMainContext     *context);
void              evl_context_driver_free    (EvlContextDriver *driver);
gboolean          evl_context_driver_enter   (EvlContextDriver *driver,
                                              GError          **error);
void              evl_context_driver_leave   (EvlContextDriver *driver);
gint64            evl_context_driver_prepare (EvlContextDriver *driver,
                                              gint64            timeout_ns);
void              evl_context_driver_dispatch (EvlContextDriver *driver);
void              evl_context_driver_suspend (EvlContextDriver *driver);
gboolean          evl_context_driver_is_iterating (EvlContextDriver *driver,
                                                   GMainContext     *context,
                                                   gboolean          dispatching);

/* evl-loop-source.c: evloop inside GLib */
void     evl_loop_source_fd_changed (GSource   *source,
                                     int        fd,
                                     EvlFdEntry *entry,
                                     guint      events);
void     evl_loop_source_detach_all (EvlLoop   *loop);

G_END_DECLS
