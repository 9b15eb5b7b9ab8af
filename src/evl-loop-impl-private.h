/* evl-loop-impl-private.h: EvlLoop's private state, for the files that
 * make up the loop (evl-loop.c, evl-loop-source.c, evl-loop-context.c)
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
   * evl-loop.c); a thread's first post pushes its new queue on
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

EvlLoopPrivate *evl_loop_get_priv (EvlLoop *loop);

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
