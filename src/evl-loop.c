/* evl-loop.c: the abstract event loop
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <time.h>
#include <unistd.h>

#include "evl-loop-impl-private.h"
#include "evl-os-private.h"
#include "evl-wakeup-private.h"

/**
 * EvlLoop:
 *
 * The event loop: asyncio's abstract loop as a GObject.
 *
 * A loop runs callbacks scheduled with [method@Evl.Loop.call_soon], timers
 * from [method@Evl.Loop.call_later] and [method@Evl.Loop.call_at], callbacks
 * for file descriptors ([method@Evl.Loop.add_reader],
 * [method@Evl.Loop.add_writer]) and POSIX signals, and completes
 * [class@Evl.Future]s. It runs either by itself
 * ([method@Evl.Loop.run_forever], [method@Evl.Loop.run_until_complete]) or
 * inside a GLib main loop ([method@Evl.Loop.attach]); while it runs by
 * itself it can drive a `GMainContext` (the [property@Evl.Loop:context]
 * property) so that GTK and GIO stay alive.
 *
 * `EvlLoop` is abstract: create a [class@Evl.SelectorLoop] or a
 * [class@Evl.ProactorLoop], or ask the policy with [func@Evl.get_event_loop]
 * or [func@Evl.new_event_loop].
 *
 * Loops are not thread-safe, except for
 * [method@Evl.Loop.call_soon_threadsafe] and [method@Evl.Loop.stop]
 * ... which may be called from any thread.
 */

enum {
  PROP_0,
  PROP_CONTEXT,
  PROP_DEBUG,
  PROP_SLOW_CALLBACK_DURATION,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void evl_loop_initable_iface_init (GInitableIface *iface);

/* GInitable: a loop whose construction failed (no file descriptor left
 * for its wakeup channel) is closed and reports why from
 * g_initable_init(), so that g_initable_new() fails cleanly. Loop kinds
 * that have more to set up implement the interface again. */
G_DEFINE_ABSTRACT_TYPE_WITH_CODE (EvlLoop, evl_loop, G_TYPE_OBJECT,
                                  G_ADD_PRIVATE (EvlLoop)
                                  G_IMPLEMENT_INTERFACE (G_TYPE_INITABLE,
                                                         evl_loop_initable_iface_init))

static _Thread_local EvlLoop *running_loop;

/**
 * evl_loop_error_quark:
 *
 * Gets the error domain of [error@Evl.LoopError], `EVL_LOOP_ERROR`.
 *
 * Returns: the quark of the `EVL_LOOP_ERROR` domain
 */
G_DEFINE_QUARK (evl-loop-error-quark, evl_loop_error)

EvlLoopPrivate *
evl_loop_get_priv (EvlLoop *loop)
{
  return evl_loop_get_instance_private (loop);
}

void
evl_loop_class_set_backend (EvlLoopClass         *klass,
                            const EvlLoopBackend *backend)
{
  klass->_evl_reserved[0] = (gpointer) backend;
}

/* ---------------------------------------------------------------------- */
/* clock */

gint64
evl_loop_time_ns (EvlLoop *loop)
{
  return evl_os_monotonic_ns ();
}

/**
 * evl_loop_time:
 * @loop: a loop
 *
 * The loop's clock: monotonic seconds (not related to wall-clock time),
 * with nanosecond resolution. Deadlines of [method@Evl.Loop.call_at] use it.
 * Works on a closed loop.
 *
 * Returns: the current time of the loop's clock, in seconds
 */
double
evl_loop_time (EvlLoop *loop)
{
  g_return_val_if_fail (EVL_IS_LOOP (loop), 0.0);

  return (double) evl_loop_time_ns (loop) / 1e9;
}

/* ---------------------------------------------------------------------- */
/* ready queue */

static void G_GNUC_NO_INLINE
ready_grow (EvlLoopPrivate *priv)
{
  guint new_cap = (priv->ready_mask + 1) * 2;
  EvlHandle **ready = g_new (EvlHandle *, new_cap);
  guint64 i;

  /* Each position keeps its number; only its index in the ring changes. */
  for (i = priv->ready_head; i < priv->ready_tail; i++)
    ready[i & (new_cap - 1)] = priv->ready[i & priv->ready_mask];
  g_free (priv->ready);
  priv->ready = ready;
  priv->ready_mask = new_cap - 1;
}

static inline void
ready_push (EvlLoopPrivate *priv,
            EvlHandle      *handle)
{
  if (G_UNLIKELY (priv->ready_tail - priv->ready_head > priv->ready_mask))
    ready_grow (priv);
  priv->ready[priv->ready_tail++ & priv->ready_mask] = handle;
}

static inline guint64
ready_len (EvlLoopPrivate *priv)
{
  return priv->ready_tail - priv->ready_head;
}

/* The next ready handle queued before position @limit, or NULL. */
static inline EvlHandle *
ready_pop_until (EvlLoopPrivate *priv,
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

static void G_GNUC_NO_INLINE
ready_shrink (EvlLoopPrivate *priv)
{
  guint64 len = ready_len (priv), i;
  guint new_cap = READY_KEEP_CAPACITY;
  EvlHandle **ready;

  priv->ready_quiet = 0;
  while (new_cap < 2 * len)
    new_cap *= 2;
  if (new_cap >= priv->ready_mask + 1)
    return;
  ready = g_new (EvlHandle *, new_cap);
  for (i = priv->ready_head; i < priv->ready_tail; i++)
    ready[i & (new_cap - 1)] = priv->ready[i & priv->ready_mask];
  g_free (priv->ready);
  priv->ready = ready;
  priv->ready_mask = new_cap - 1;
}

static inline void
ready_maybe_shrink (EvlLoopPrivate *priv)
{
  if (G_UNLIKELY (priv->ready_mask + 1 > READY_KEEP_CAPACITY))
    ready_shrink (priv);
}

/* ---------------------------------------------------------------------- */
/* errors */

static gboolean
set_closed_error (GError **error)
{
  g_set_error_literal (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_CLOSED,
                       _("The event loop is closed; create a new loop to run more work"));
  return FALSE;
}

static inline void
check_thread (EvlLoop        *loop,
              EvlLoopPrivate *priv,
              const char     *what)
{
  GThread *thread;

  if (G_UNLIKELY (priv->debug) &&
      (thread = g_atomic_pointer_get (&priv->thread)) != NULL && thread != g_thread_self ())
    g_critical ("%s: non-thread-safe operation invoked on an event loop other than "
                "the current one; use evl_loop_call_soon_threadsafe()", what);
}

/* ---------------------------------------------------------------------- */
/* scheduling */

/* EVL_IS_LOOP() for the hot paths: GLib's check walks the type
 * hierarchy (EvlLoop is abstract, so the instance's class is never
 * EvlLoop's own); the last class that passed is remembered. Classes of
 * static types live as long as the process. */
static gpointer known_loop_class;  /* atomic */

static inline gboolean
is_loop_fast (gpointer loop)
{
  gpointer klass;

  if (G_UNLIKELY (loop == NULL))
    return FALSE;
  klass = ((GTypeInstance *) loop)->g_class;
  if (G_LIKELY (klass != NULL && klass == g_atomic_pointer_get (&known_loop_class)))
    return TRUE;
  if (!EVL_IS_LOOP (loop))
    return FALSE;
  g_atomic_pointer_set (&known_loop_class, klass);
  return TRUE;
}


static EvlHandle *
refuse_closed (GDestroyNotify notify,
               gpointer       user_data,
               const char    *func)
{
  g_critical ("%s: the event loop is closed", func);
  if (notify != NULL)
    notify (user_data);
  return NULL;
}

/**
 * evl_loop_call_soon:
 * @loop: a loop
 * @callback: (scope notified) (closure user_data) (destroy notify): the callback
 * @user_data: data for @callback
 * @notify: (nullable): frees @user_data; runs exactly once
 *
 * Schedules @callback to run in the next iteration of the loop. Callbacks
 * run in the order they were scheduled; one scheduled while the loop is
 * running its ready callbacks waits for the next iteration.
 *
 * Returns: (transfer none) (nullable): the handle, owned by the loop until
 *   the callback has run or was cancelled (take a reference to keep it
 *   longer); %NULL if the loop is closed (then @notify has run)
 */
EvlHandle *
evl_loop_call_soon (EvlLoop        *loop,
                    EvlCallback     callback,
                    gpointer        user_data,
                    GDestroyNotify  notify)
{
  EvlLoopPrivate *priv;
  EvlHandle *handle;

  g_return_val_if_fail (is_loop_fast (loop), NULL);
  g_return_val_if_fail (callback != NULL, NULL);

  priv = evl_loop_get_priv (loop);
  if (G_UNLIKELY (priv->closed))
    return refuse_closed (notify, user_data, G_STRFUNC);
  check_thread (loop, priv, G_STRFUNC);

  handle = evl_handle_pool_take (&priv->pool, callback, user_data, notify, 0);
  ready_push (priv, handle);
  return handle;
}

gboolean
evl_loop_call_soon_internal (EvlLoop        *loop,
                             EvlCallback     callback,
                             gpointer        user_data,
                             GDestroyNotify  notify)
{
  EvlLoopPrivate *priv = evl_loop_get_priv (loop);

  if (priv->closed)
    {
      if (notify != NULL)
        notify (user_data);
      return FALSE;
    }
  ready_push (priv, evl_handle_pool_take (&priv->pool, callback, user_data, notify, 0));
  return TRUE;
}

static gint64
seconds_to_ns_ceil (double seconds)
{
  double ns = ceil (seconds * 1e9);

  if (ns >= (double) G_MAXINT64 / 2)
    return G_MAXINT64 / 2;
  if (ns <= (double) G_MININT64 / 2)
    return G_MININT64 / 2;
  return (gint64) ns;
}

static EvlHandle *
schedule_timer (EvlLoop        *loop,
                gint64          when,
                EvlCallback     callback,
                gpointer        user_data,
                GDestroyNotify  notify)
{
  EvlLoopPrivate *priv = evl_loop_get_priv (loop);
  EvlHandle *handle;

  check_thread (loop, priv, "evl_loop_call_at");
  handle = evl_handle_pool_take (&priv->timer_pool, callback, user_data, notify, EVL_HANDLE_TIMER);
  EVL_TIMER_HANDLE (handle)->when = MAX (when, 0);
  EVL_TIMER_HANDLE (handle)->seq = priv->timer_seq++;
  EVL_TIMER_HANDLE (handle)->loop = loop;
  evl_timer_heap_push (&priv->timers, handle);
  return handle;
}

/**
 * evl_loop_call_later:
 * @loop: a loop
 * @delay: seconds from now; negative means "as soon as possible"
 * @callback: (scope notified) (closure user_data) (destroy notify): the callback
 * @user_data: data for @callback
 * @notify: (nullable): frees @user_data; runs exactly once
 *
 * Schedules @callback to run after @delay seconds, never earlier. Timers
 * with the same deadline run in the order they were scheduled. A NaN
 * @delay is a programming error.
 *
 * Returns: (transfer none) (nullable): the handle, owned by the loop until
 *   the callback has run or was cancelled; %NULL if the loop is closed or
 *   @delay is NaN (then @notify has run)
 */
EvlHandle *
evl_loop_call_later (EvlLoop        *loop,
                     double          delay,
                     EvlCallback     callback,
                     gpointer        user_data,
                     GDestroyNotify  notify)
{
  g_return_val_if_fail (is_loop_fast (loop), NULL);
  g_return_val_if_fail (callback != NULL, NULL);

  if (G_UNLIKELY (isnan (delay)))
    {
      g_critical ("%s: the delay is NaN", G_STRFUNC);
      if (notify != NULL)
        notify (user_data);
      return NULL;
    }
  if (G_UNLIKELY (evl_loop_get_priv (loop)->closed))
    return refuse_closed (notify, user_data, G_STRFUNC);

  return schedule_timer (loop, evl_loop_time_ns (loop) + seconds_to_ns_ceil (delay),
                         callback, user_data, notify);
}

/**
 * evl_loop_call_at:
 * @loop: a loop
 * @when: the deadline on the loop's clock ([method@Evl.Loop.time])
 * @callback: (scope notified) (closure user_data) (destroy notify): the callback
 * @user_data: data for @callback
 * @notify: (nullable): frees @user_data; runs exactly once
 *
 * Schedules @callback to run at loop time @when, never earlier. A deadline
 * in the past means "as soon as possible". A NaN @when is a programming
 * error.
 *
 * Returns: (transfer none) (nullable): the handle, owned by the loop until
 *   the callback has run or was cancelled; %NULL if the loop is closed or
 *   @when is NaN (then @notify has run)
 */
EvlHandle *
evl_loop_call_at (EvlLoop        *loop,
                  double          when,
                  EvlCallback     callback,
                  gpointer        user_data,
                  GDestroyNotify  notify)
{
  g_return_val_if_fail (is_loop_fast (loop), NULL);
  g_return_val_if_fail (callback != NULL, NULL);

  if (G_UNLIKELY (isnan (when)))
    {
      g_critical ("%s: the deadline is NaN", G_STRFUNC);
      if (notify != NULL)
        notify (user_data);
      return NULL;
    }
  if (G_UNLIKELY (evl_loop_get_priv (loop)->closed))
    return refuse_closed (notify, user_data, G_STRFUNC);

  return schedule_timer (loop, seconds_to_ns_ceil (when), callback, user_data, notify);
}

void
evl_loop_timer_cancelled (EvlLoop *loop)
{
  EvlLoopPrivate *priv = evl_loop_get_priv (loop);

  g_atomic_int_inc (&priv->timers_cancelled);
}

/* ---------------------------------------------------------------------- */
/* the queues of call_soon_threadsafe()
 *
 * Each thread that posts to a loop has a queue of its own for it: a
 * single-producer single-consumer queue of handle pointers in chunks of
 * 4 KiB. The posting thread writes a slot and publishes it by storing the
 * count of posts (sequentially consistent: it also orders the store
 * before the thread reads wake_pending); the loop reads that count once
 * per queue and wakeup and copies the slots into its ready queue, reading
 * memory no other thread writes any more. No lock and no
 * read-modify-write on a shared line per post.
 *
 * A queue has two references, the posting thread's (its thread-local list,
 * dropped when the thread exits, GPrivate) and the loop's (dropped when it
 * has drained the queue of a thread that exited, or when it is
 * finalized). A loop refuses posts once closed; a post that raced with the
 * close stays in its queue until the loop is finalized, which drops it
 * (its notify runs then). */

#define POST_CHUNK_SLOTS 511

typedef struct _EvlPostChunk EvlPostChunk;
struct _EvlPostChunk
{
  EvlPostChunk *next;    /* set by the producer before it publishes a slot of it */
  EvlHandle    *slots[POST_CHUNK_SLOTS];
};

typedef struct _EvlPostQueue EvlPostQueue;
struct _EvlPostQueue
{
  /* the producer's cache line */
  guint          tail;          /* atomic: posts published */
  gint           loop_gone;     /* atomic: the loop let go (finalized) */
  gint           producer_gone; /* atomic: the posting thread exited */
  gint           refs;          /* atomic */
  guint          tail_pos;      /* producer only: the value of tail */
  guint          tail_idx;      /* producer only: slots used in tail_chunk */
  EvlPostChunk  *tail_chunk;    /* producer only */
  EvlLoop       *loop;          /* not owned: compared only */
  EvlPostQueue  *thread_next;   /* producer only: the thread's queues */
  EvlPostQueue  *reg_next;      /* the loop's ts_new_queues stack */

  /* the loop's, on a line of its own */
  _Alignas (64) guint head;     /* posts taken */
  guint          head_idx;      /* slots taken in head_chunk */
  EvlPostChunk  *head_chunk;
  EvlPostChunk  *spare;         /* atomic: a drained chunk for the producer */
};

static void
post_queue_unref (EvlPostQueue *q)
{
  EvlPostChunk *chunk, *next;

  if (!g_atomic_int_dec_and_test (&q->refs))
    return;
  /* Both sides are done: from the oldest chunk to the newest. */
  g_assert (q->head == q->tail_pos);
  for (chunk = q->head_chunk; chunk != NULL; chunk = next)
    {
      next = chunk->next;
      g_free (chunk);
    }
  g_free (q->spare);
  g_aligned_free (q);
}

/* The calling thread's queues; the last one used is looked at first. */
#if defined(__ELF__) && defined(__GNUC__)
# define TLS_INITIAL_EXEC __attribute__ ((tls_model ("initial-exec")))
#else
# define TLS_INITIAL_EXEC
#endif
static __thread EvlPostQueue *thread_queue_last TLS_INITIAL_EXEC;
static __thread EvlPostQueue *thread_queues TLS_INITIAL_EXEC;

static void
thread_queues_exit (gpointer data)
{
  EvlPostQueue *q, *next;

  q = thread_queues;
  thread_queues = thread_queue_last = NULL;
  for (; q != NULL; q = next)
    {
      next = q->thread_next;
      /* After its last post: the loop drains the queue, then drops it. */
      g_atomic_int_set (&q->producer_gone, 1);
      post_queue_unref (q);
    }
}

static GPrivate thread_queues_key = G_PRIVATE_INIT (thread_queues_exit);

static EvlPostQueue * G_GNUC_NO_INLINE
post_queue_lookup (EvlLoop        *loop,
                   EvlLoopPrivate *priv)
{
  EvlPostQueue **link = &thread_queues, *q, *head;

  /* Forget the queues of loops that were finalized (another loop may now
   * have the same address). */
  while ((q = *link) != NULL)
    {
      if (g_atomic_int_get (&q->loop_gone))
        {
          *link = q->thread_next;
          post_queue_unref (q);
          continue;
        }
      if (q->loop == loop)
        return thread_queue_last = q;
      link = &q->thread_next;
    }

  q = g_aligned_alloc0 (1, sizeof (EvlPostQueue), 64);
  q->refs = 2;
  q->loop = loop;
  q->head_chunk = q->tail_chunk = g_new (EvlPostChunk, 1);
  q->tail_chunk->next = NULL;
  if (thread_queues == NULL)
    /* Only for its destroy notify: drop the queues at thread exit. */
    g_private_set (&thread_queues_key, GINT_TO_POINTER (1));
  q->thread_next = thread_queues;
  thread_queues = thread_queue_last = q;

  /* Register it with the loop (a Treiber stack that the loop only takes
   * whole: no ABA). The compare-and-exchange publishes its fields. */
  head = g_atomic_pointer_get (&priv->ts_new_queues);
  do
    q->reg_next = head;
  while (!g_atomic_pointer_compare_and_exchange_full (&priv->ts_new_queues, head, q, &head));
  return q;
}

static inline EvlPostQueue *
post_queue_get (EvlLoop        *loop,
                EvlLoopPrivate *priv)
{
  EvlPostQueue *q = thread_queue_last;

  if (G_LIKELY (q != NULL && q->loop == loop && !g_atomic_int_get (&q->loop_gone)))
    return q;
  return post_queue_lookup (loop, priv);
}

static void G_GNUC_NO_INLINE
post_queue_next_chunk (EvlPostQueue *q)
{
  EvlPostChunk *chunk = g_atomic_pointer_exchange (&q->spare, NULL);

  if (chunk == NULL)
    chunk = g_new (EvlPostChunk, 1);
  chunk->next = NULL;
  /* Published with the first slot of it (the loop follows the link only
   * once it has seen that slot's count). */
  q->tail_chunk->next = chunk;
  q->tail_chunk = chunk;
  q->tail_idx = 0;
}

/* Producer: appends @handle and publishes it. */
static inline void
post_queue_push (EvlPostQueue *q,
                 EvlHandle    *handle)
{
  if (G_UNLIKELY (q->tail_idx == POST_CHUNK_SLOTS))
    post_queue_next_chunk (q);
  q->tail_chunk->slots[q->tail_idx++] = handle;
  /* Sequentially consistent (a full barrier): the loop, which clears
   * wake_pending before it reads this count, sees this post or this
   * thread sees the flag clear and wakes it. */
  g_atomic_int_set (&q->tail, ++q->tail_pos);
}

static void drop_post (EvlHandle *handle);

/* Loop: takes what @q holds, into the ready queue (or dropped). Returns
 * whether the queue is done with (its thread exited and it is empty). */
static gboolean
post_queue_take (EvlLoopPrivate *priv,
                 EvlPostQueue   *q,
                 gboolean        drop)
{
  /* The flag before the count: a thread that exited published its last
   * post before it set the flag. */
  gboolean gone = g_atomic_int_get (&q->producer_gone);
  guint tail = g_atomic_int_get (&q->tail);
  guint n = tail - q->head;

  while (n > 0)
    {
      EvlHandle **slots;
      guint i, m;

      if (q->head_idx == POST_CHUNK_SLOTS)
        {
          /* The producer moved on to the next chunk before it published
           * anything in it. */
          EvlPostChunk *old = q->head_chunk;

          q->head_chunk = old->next;
          q->head_idx = 0;
          if (!g_atomic_pointer_compare_and_exchange (&q->spare, NULL, old))
            g_free (old);
        }
      m = MIN (n, POST_CHUNK_SLOTS - q->head_idx);
      slots = q->head_chunk->slots + q->head_idx;
      if (drop)
        for (i = 0; i < m; i++)
          drop_post (slots[i]);
      else
        for (i = 0; i < m; i++)
          ready_push (priv, slots[i]);
      q->head_idx += m;
      q->head += m;
      n -= m;
    }
  return gone;
}

/* Loop: takes the new queues, then every queue's posts; lets go of the
 * queues of threads that exited. */
static void
post_queues_take (EvlLoopPrivate *priv,
                  gboolean        drop)
{
  EvlPostQueue *q, *next;
  guint i;

  q = g_atomic_pointer_exchange (&priv->ts_new_queues, NULL);
  for (; q != NULL; q = next)
    {
      next = q->reg_next;
      g_ptr_array_add (priv->ts_queues, q);
    }
  for (i = 0; i < priv->ts_queues->len; )
    {
      q = g_ptr_array_index (priv->ts_queues, i);
      if (post_queue_take (priv, q, drop))
        {
          g_ptr_array_remove_index_fast (priv->ts_queues, i);
          post_queue_unref (q);
        }
      else
        i++;
    }
}

/* Loop, when finalized: drops every queue (the posting threads forget
 * them when they next post or exit). No post is in flight: each would
 * hold a reference to the loop. */
static void
post_queues_free (EvlLoopPrivate *priv)
{
  guint i;

  post_queues_take (priv, TRUE);
  for (i = 0; i < priv->ts_queues->len; i++)
    {
      EvlPostQueue *q = g_ptr_array_index (priv->ts_queues, i);

      g_atomic_int_set (&q->loop_gone, 1);
      post_queue_unref (q);
    }
  g_ptr_array_free (priv->ts_queues, TRUE);
  priv->ts_queues = NULL;
}

/* Queues a handle for the loop's thread and wakes the loop. @refs is 2
 * when the caller keeps a reference. NULL (and @notify has run) when the
 * loop is closed. */
static EvlHandle *
post_threadsafe (EvlLoop        *loop,
                 EvlCallback     callback,
                 gpointer        user_data,
                 GDestroyNotify  notify,
                 gint            refs)
{
  EvlLoopPrivate *priv = evl_loop_get_priv (loop);
  EvlThreadsafeHandle *ts;

  ts = evl_threadsafe_handle_new (callback, user_data, notify, refs);
  if (G_UNLIKELY (g_atomic_int_get (&priv->ts_closed)))
    {
      ts->base.ref_count = 1;
      evl_handle_unref (&ts->base);
      return NULL;
    }
  post_queue_push (post_queue_get (loop, priv), &ts->base);

  /* Coalesced wakeup: only the post that finds the flag clear writes.
   * The loop clears the flag before it reads the queues' counts, and the
   * post stored its count before it reads the flag (all sequentially
   * consistent), so a post the loop does not take sees the flag clear or
   * set by a post that wakes it. A plain load first: under a burst of posts
   * the flag is mostly set already, and a compare-and-exchange would
   * bounce its cache line between the posting threads for nothing. */
  if (g_atomic_int_get (&priv->wake_pending) == 0 &&
      g_atomic_int_compare_and_exchange (&priv->wake_pending, 0, 1))
    {
      /* Under the lock: close() closes the wakeup descriptor after it
       * marked the loop closed under this lock, so the descriptor written
       * to is still the loop's (its number may otherwise belong to a new
       * file by then). */
      g_mutex_lock (&priv->ts_lock);
      if (!g_atomic_int_get (&priv->ts_closed) && priv->wake_fd_write >= 0)
        evl_wakeup_signal (priv->wake_fd_write);
      g_mutex_unlock (&priv->ts_lock);
    }

  return &ts->base;
}

/**
 * evl_loop_call_soon_threadsafe:
 * @loop: a loop
 * @callback: (scope notified) (closure user_data) (destroy notify): the callback
 * @user_data: data for @callback
 * @notify: (nullable): frees @user_data; runs exactly once, on the loop's thread
 *   (or in this call if the loop is closed)
 *
 * Like [method@Evl.Loop.call_soon], but safe to call from any thread: it
 * wakes the loop if it is waiting. A burst of posts costs one wakeup.
 *
 * Returns: (transfer full) (nullable): a new reference to the handle, or
 *   %NULL if the loop is closed
 */
EvlHandle *
evl_loop_call_soon_threadsafe (EvlLoop        *loop,
                               EvlCallback     callback,
                               gpointer        user_data,
                               GDestroyNotify  notify)
{
  EvlHandle *handle;

  g_return_val_if_fail (is_loop_fast (loop), NULL);
  g_return_val_if_fail (callback != NULL, NULL);

  handle = post_threadsafe (loop, callback, user_data, notify, 2);
  if (G_UNLIKELY (handle == NULL))
    g_critical ("%s: the event loop is closed", G_STRFUNC);
  return handle;
}

gboolean
evl_loop_call_soon_threadsafe_internal (EvlLoop        *loop,
                                        EvlCallback     callback,
                                        gpointer        user_data,
                                        GDestroyNotify  notify)
{
  return post_threadsafe (loop, callback, user_data, notify, 1) != NULL;
}

void
evl_loop_wakeup (EvlLoop *loop)
{
  EvlLoopPrivate *priv = evl_loop_get_priv (loop);

  /* A plain load first: under a burst of posts the flag is mostly set
   * already, and a compare-and-exchange would bounce its cache line
   * between the posting threads for nothing. */
  if (g_atomic_int_get (&priv->wake_pending) == 0 &&
      g_atomic_int_compare_and_exchange (&priv->wake_pending, 0, 1) && priv->wake_fd_write >= 0)
    evl_wakeup_signal (priv->wake_fd_write);
}

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
    ready_push (priv, evl_handle_ref (entry->reader));
  if ((events & EVL_IO_WRITE) && entry->writer != NULL)
    ready_push (priv, evl_handle_ref (entry->writer));
  if ((events & EVL_IO_READ) && entry->internal_reader != NULL)
    ready_push (priv, evl_handle_ref (entry->internal_reader));
  if ((events & EVL_IO_WRITE) && entry->internal_writer != NULL)
    ready_push (priv, evl_handle_ref (entry->internal_writer));
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
      return set_closed_error (error);
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
  check_thread (loop, priv, G_STRFUNC);

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

static void
dispatch_signal (int      signum,
                 gpointer user_data)
{
  EvlLoop *loop = user_data;
  EvlLoopPrivate *priv = evl_loop_get_priv (loop);
  EvlHandle *handle = priv->signal_handlers[signum];

  if (handle != NULL && !evl_handle_cancelled_fast (handle))
    ready_push (priv, evl_handle_ref (handle));
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
      return set_closed_error (error);
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

/* ---------------------------------------------------------------------- */
/* one iteration */

static void
process_wakeups (EvlLoop        *loop,
                 EvlLoopPrivate *priv)
{
  if (!g_atomic_int_get (&priv->wake_pending))
    return;
  g_atomic_int_set (&priv->wake_pending, 0);

  post_queues_take (priv, FALSE);
  if (priv->signals != NULL && evl_signal_target_pending (priv->signals))
    evl_signal_target_dispatch (priv->signals, dispatch_signal, loop);
}

static void
drop_cancelled_timers (EvlLoopPrivate *priv)
{
  EvlHandle *top;

  if (priv->timers.len > 64 &&
      (guint) g_atomic_int_get (&priv->timers_cancelled) * 2 > priv->timers.len)
    {
      guint dropped = evl_timer_heap_compact (&priv->timers);
      g_atomic_int_add (&priv->timers_cancelled, - (gint) dropped);
    }
  while ((top = evl_timer_heap_peek (&priv->timers)) != NULL && evl_handle_cancelled_fast (top))
    {
      evl_timer_heap_pop (&priv->timers);
      g_atomic_int_add (&priv->timers_cancelled, -1);
      EVL_TIMER_HANDLE (top)->loop = NULL;
      evl_handle_unref (top);
    }
}

gboolean
evl_loop_has_ready_work (EvlLoop *loop)
{
  EvlLoopPrivate *priv = evl_loop_get_priv (loop);

  return ready_len (priv) > 0 || g_atomic_int_get (&priv->wake_pending);
}

gint64
evl_loop_get_next_deadline (EvlLoop *loop)
{
  EvlLoopPrivate *priv = evl_loop_get_priv (loop);
  EvlHandle *top;

  drop_cancelled_timers (priv);
  top = evl_timer_heap_peek (&priv->timers);
  return top != NULL ? EVL_TIMER_HANDLE (top)->when : -1;
}

static void G_GNUC_NO_INLINE
run_handle_slow (EvlLoop        *loop,
                 EvlLoopPrivate *priv,
                 EvlHandle      *handle)
{
  if (G_UNLIKELY (priv->debug))
    {
      gint64 start = g_get_monotonic_time ();
      double took;

      evl_handle_run (handle);
      took = (g_get_monotonic_time () - start) / 1e6;
      if (took >= priv->slow_callback_duration)
        g_warning (_("Executing callback %p took %.3f seconds"), (gpointer) handle, took);
    }
  else
    evl_handle_run (handle);
  if (g_atomic_int_get (&handle->flags) & EVL_HANDLE_TIMER)
    evl_handle_pool_unref (&priv->timer_pool, handle);
  else
    evl_handle_pool_unref (&priv->pool, handle);
}

/* Gives back the handle slots freed since the last flush. */
static void
flush_freed_posts (EvlLoopPrivate *priv)
{
  if (priv->freed_block != NULL)
    {
      evl_handle_block_release (priv->freed_block, priv->freed_in_block);
      priv->freed_block = NULL;
      priv->freed_in_block = 0;
    }
}

/* A call_soon_threadsafe() handle: as evl_handle_run() and
 * evl_handle_unref(), with one atomic read-modify-write (the reference
 * count). Another thread may only set CANCELLED (which never releases a
 * THREADSAFE handle) or drop its own reference, so the release needs no
 * atomics: nobody else releases it while the queue holds its reference.
 * Freed slots go back to their block in batches. */
static inline void
run_post (EvlLoopPrivate *priv,
          EvlHandle      *handle,
          gint            flags)
{
  GDestroyNotify notify = handle->notify;
  gpointer data = handle->user_data;
  EvlHandleBlock *block;

  if (G_LIKELY (!(flags & EVL_HANDLE_CANCELLED)))
    handle->callback (data);
  handle->notify = NULL;
  handle->callback = NULL;
  handle->user_data = NULL;
  if (notify != NULL)
    notify (data);
  /* The last reference needs no read-modify-write: nobody else holds one
   * to take another. */
  if (g_atomic_int_get (&handle->ref_count) != 1 &&
      !g_atomic_int_dec_and_test (&handle->ref_count))
    return;
  block = evl_handle_block_of (handle);
  if (block != priv->freed_block)
    {
      flush_freed_posts (priv);
      priv->freed_block = block;
    }
  priv->freed_in_block++;
}

/* The queue's reference to @handle ends here. The common case (a
 * call_soon handle, no debug mode) is evl_handle_run() and
 * evl_handle_pool_unref() inlined: the handle is the loop thread's alone,
 * so no atomic read-modify-write. */
static inline void
run_handle (EvlLoop        *loop,
            EvlLoopPrivate *priv,
            EvlHandle      *handle)
{
  gint flags = g_atomic_int_get (&handle->flags);
  GDestroyNotify notify;
  gpointer data;

  if (G_UNLIKELY ((flags & (EVL_HANDLE_CANCELLED | EVL_HANDLE_RUNNING | EVL_HANDLE_THREADSAFE |
                            EVL_HANDLE_TIMER | EVL_HANDLE_IO)) || priv->debug))
    {
      if ((flags & (EVL_HANDLE_THREADSAFE | EVL_HANDLE_POOLED | EVL_HANDLE_RUNNING |
                    EVL_HANDLE_TIMER | EVL_HANDLE_IO)) ==
          (EVL_HANDLE_THREADSAFE | EVL_HANDLE_POOLED) && !priv->debug)
        run_post (priv, handle, flags);
      else
        run_handle_slow (loop, priv, handle);
      return;
    }
  data = handle->user_data;
  handle->flags = flags | EVL_HANDLE_RUNNING;
  handle->callback (data);
  /* It may have been cancelled while it ran (that did not release it). */
  handle->flags &= ~EVL_HANDLE_RUNNING;
  notify = handle->notify;
  handle->notify = NULL;
  handle->callback = NULL;
  handle->user_data = NULL;
  if (notify != NULL)
    notify (data);
  evl_handle_pool_unref (&priv->pool, handle);
}

/*
 * One iteration, as asyncio's _run_once:
 *
 *  1. compute the poll timeout: 0 if callbacks are ready, a stop is pending
 *     or a wakeup was posted; else until the earliest timer; else forever
 *     (when a GMainContext is driven, GLib's own timeout is honoured too);
 *  2. poll I/O through the backend, which queues the fd callbacks;
 *  3. take the callbacks posted from other threads and the signals caught;
 *  4. dispatch the driven GMainContext's sources, if any;
 *  5. move every due timer to the ready queue;
 *  6. run the ready queue as a snapshot: callbacks scheduled while it runs
 *     wait for the next iteration.
 */
void
evl_loop_run_once (EvlLoop  *loop,
                   gboolean  explicit_run)
{
  EvlLoopPrivate *priv = evl_loop_get_priv (loop);
  gint64 timeout = -1, deadline, now;
  guint64 limit;
  EvlHandle *handle;
  gboolean drive = explicit_run && priv->driver != NULL;

  deadline = evl_loop_get_next_deadline (loop);

  if (!explicit_run || ready_len (priv) > 0 || g_atomic_int_get (&priv->stopping) ||
      g_atomic_int_get (&priv->wake_pending))
    timeout = 0;
  else if (deadline >= 0)
    {
      /* Read the clock once: MAX() evaluates its arguments twice. */
      now = evl_loop_time_ns (loop);
      timeout = MAX (0, deadline - now);
    }

  if (drive)
    timeout = evl_context_driver_prepare (priv->driver, timeout);

  /* About to wait: the ready queue is empty, give its memory back. */
  if (timeout != 0)
    ready_maybe_shrink (priv);

  priv->backend->io_poll (loop, timeout);
  process_wakeups (loop, priv);

  if (drive)
    evl_context_driver_dispatch (priv->driver);

  now = evl_loop_time_ns (loop);
  while ((handle = evl_timer_heap_peek (&priv->timers)) != NULL)
    {
      if (evl_handle_cancelled_fast (handle))
        {
          evl_timer_heap_pop (&priv->timers);
          g_atomic_int_add (&priv->timers_cancelled, -1);
          EVL_TIMER_HANDLE (handle)->loop = NULL;
          evl_handle_unref (handle);
          continue;
        }
      if (EVL_TIMER_HANDLE (handle)->when > now)
        break;
      evl_timer_heap_pop (&priv->timers);
      EVL_TIMER_HANDLE (handle)->loop = NULL;
      ready_push (priv, handle);
    }

  limit = priv->ready_tail;
  if (G_UNLIKELY (priv->ready_mask + 1 > READY_KEEP_CAPACITY))
    {
      /* A queue mostly empty for a while shrinks (a loop that never waits,
       * as one attached to a GMainContext). */
      if ((limit - priv->ready_head) * 8 <= priv->ready_mask + 1)
        {
          if (++priv->ready_quiet >= READY_QUIET_ITERATIONS)
            ready_shrink (priv);
        }
      else
        priv->ready_quiet = 0;
    }
  while (!priv->closed && (handle = ready_pop_until (priv, limit)) != NULL)
    run_handle (loop, priv, handle);
  flush_freed_posts (priv);
  evl_handle_pool_flush (&priv->pool);
  evl_handle_pool_flush (&priv->timer_pool);
}

void
evl_loop_run_once_nonblocking (EvlLoop *loop)
{
  evl_loop_run_once (loop, FALSE);
}

/* ---------------------------------------------------------------------- */
/* running */

gboolean
evl_loop_enter_running (EvlLoop   *loop,
                        EvlLoop  **previous,
                        GError   **error)
{
  EvlLoopPrivate *priv = evl_loop_get_priv (loop);
  GThread *thread, *self;

  if (priv->closed)
    return set_closed_error (error);
  /* Claim the loop with a compare-and-exchange: of two threads starting
   * it at once, exactly one wins; a nested run finds itself there. */
  self = g_thread_self ();
  if (!g_atomic_pointer_compare_and_exchange_full (&priv->thread, NULL, self, &thread) &&
      thread != self)
    {
      g_set_error_literal (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_RUNNING,
                           _("The event loop is already running in another thread; "
                             "use evl_loop_call_soon_threadsafe() to reach it"));
      return FALSE;
    }
  *previous = running_loop;
  running_loop = loop;
  return TRUE;
}

void
evl_loop_leave_running (EvlLoop *loop,
                        EvlLoop *previous)
{
  EvlLoopPrivate *priv = evl_loop_get_priv (loop);

  running_loop = previous;
  if (priv->run_depth == 0 && priv->dispatch_depth == 0)
    g_atomic_pointer_set (&priv->thread, NULL);
}

/**
 * evl_loop_run_forever:
 * @loop: a loop
 * @error: return location for a #GError
 *
 * Runs the loop until [method@Evl.Loop.stop] is called. A stop requested
 * before the run makes it do one iteration and return.
 *
 * Runs may nest on the loop's own thread (a callback may run the loop
 * again); [method@Evl.Loop.stop] ends the innermost run. While the loop
 * runs, it drives its [property@Evl.Loop:context] if it has one.
 *
 * Returns: %TRUE when stopped; %FALSE with %EVL_LOOP_ERROR_CLOSED if the
 *   loop is closed, %EVL_LOOP_ERROR_RUNNING if it runs in another thread,
 *   %EVL_LOOP_ERROR_FAILED if its GMainContext belongs to another thread
 */
gboolean
evl_loop_run_forever (EvlLoop  *loop,
                      GError  **error)
{
  EvlLoopPrivate *priv;
  EvlLoop *previous;

  g_return_val_if_fail (EVL_IS_LOOP (loop), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  priv = evl_loop_get_priv (loop);
  if (!evl_loop_enter_running (loop, &previous, error))
    return FALSE;
  if (priv->driver != NULL && !evl_context_driver_enter (priv->driver, error))
    {
      evl_loop_leave_running (loop, previous);
      return FALSE;
    }

  g_object_ref (loop);
  priv->run_depth++;
  while (!priv->closed)
    {
      evl_loop_run_once (loop, TRUE);
      if (g_atomic_int_get (&priv->stopping))
        {
          g_atomic_int_set (&priv->stopping, FALSE);
          break;
        }
    }
  priv->run_depth--;
  if (priv->run_depth == 0)
    ready_maybe_shrink (priv);
  if (priv->driver != NULL)
    evl_context_driver_leave (priv->driver);
  evl_loop_leave_running (loop, previous);
  g_object_unref (loop);
  return TRUE;
}

/* The done callback of run_until_complete. It may already be scheduled
 * (the future completed) when the run ends for another reason, and then
 * cannot be removed: it only stops the loop while its run is active, so
 * that it does not end a later run. Shared (reference-counted) by the run
 * and the callback, either of which may end first. */
typedef struct
{
  EvlLoop  *loop;
  gboolean  active;
} RunUntilComplete;

static void
stop_when_done (EvlFuture *future,
                gpointer   user_data)
{
  RunUntilComplete *run = user_data;

  if (run->active)
    evl_loop_stop (run->loop);
}

static void
run_until_complete_clear (gpointer data)
{
  RunUntilComplete *run = data;

  g_object_unref (run->loop);
}

static void
run_until_complete_unref (gpointer data)
{
  g_atomic_rc_box_release_full (data, run_until_complete_clear);
}

/**
 * evl_loop_run_until_complete:
 * @loop: a loop
 * @future: the future to wait for
 * @error: return location for a #GError
 *
 * Runs the loop until @future is done.
 *
 * Returns: %TRUE if the future completed with a result (get it with
 *   [method@Evl.Future.get_result]); %FALSE with the future's error, with
 *   %EVL_LOOP_ERROR_CANCELLED if it was cancelled, or with
 *   %EVL_LOOP_ERROR_FAILED if the loop was stopped before the future was
 *   done
 */
gboolean
evl_loop_run_until_complete (EvlLoop    *loop,
                             EvlFuture  *future,
                             GError    **error)
{
  gboolean ok;

  g_return_val_if_fail (EVL_IS_LOOP (loop), FALSE);
  g_return_val_if_fail (EVL_IS_FUTURE (future), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (evl_loop_get_priv (loop)->closed)
    return set_closed_error (error);

  g_object_ref (future);
  if (!evl_future_is_done (future))
    {
      RunUntilComplete *run = g_atomic_rc_box_new0 (RunUntilComplete);

      run->loop = g_object_ref (loop);
      run->active = TRUE;
      evl_future_add_done_callback (future, stop_when_done,
                                    g_atomic_rc_box_acquire (run), run_until_complete_unref);
      ok = evl_loop_run_forever (loop, error);
      run->active = FALSE;
      evl_future_remove_done_callback (future, stop_when_done, run);
      run_until_complete_unref (run);
      if (!ok)
        {
          g_object_unref (future);
          return FALSE;
        }
      if (!evl_future_is_done (future))
        {
          g_object_unref (future);
          g_set_error_literal (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_FAILED,
                               _("The event loop stopped before the future completed"));
          return FALSE;
        }
    }

  if (evl_future_is_cancelled (future))
    {
      g_set_error_literal (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_CANCELLED,
                           _("The future was cancelled"));
      ok = FALSE;
    }
  else
    {
      GValue value = G_VALUE_INIT;

      ok = evl_future_get_result (future, &value, error);
      if (ok)
        g_value_unset (&value);
    }
  g_object_unref (future);
  return ok;
}

/**
 * evl_loop_stop:
 * @loop: a loop
 *
 * Makes the innermost running [method@Evl.Loop.run_forever] (or
 * [method@Evl.Loop.run_until_complete]) return after the current
 * iteration. With no run in progress, the next run does one iteration and
 * returns (asyncio's rule). Safe to call from any thread.
 */
void
evl_loop_stop (EvlLoop *loop)
{
  EvlLoopPrivate *priv;
  GThread *thread;

  g_return_if_fail (EVL_IS_LOOP (loop));

  priv = evl_loop_get_priv (loop);
  /* Atomics: stop() may come from any thread. */
  g_atomic_int_set (&priv->stopping, TRUE);
  thread = g_atomic_pointer_get (&priv->thread);
  if (thread != NULL && thread != g_thread_self ())
    {
      /* As in post_threadsafe(): never write to a closed wakeup fd. */
      g_mutex_lock (&priv->ts_lock);
      if (!g_atomic_int_get (&priv->ts_closed))
        evl_loop_wakeup (loop);
      g_mutex_unlock (&priv->ts_lock);
    }
}

/**
 * evl_loop_is_running:
 * @loop: a loop
 *
 * Checks whether the loop is running, as asyncio's `loop.is_running()`.
 * Works on a closed loop.
 *
 * Returns: whether the loop is running (in any thread), including while a
 *   GMainContext it is attached to dispatches it
 */
gboolean
evl_loop_is_running (EvlLoop *loop)
{
  g_return_val_if_fail (EVL_IS_LOOP (loop), FALSE);

  return g_atomic_pointer_get (&evl_loop_get_priv (loop)->thread) != NULL;
}

GThread *
evl_loop_get_running_thread (EvlLoop *loop)
{
  return g_atomic_pointer_get (&evl_loop_get_priv (loop)->thread);
}

/**
 * evl_get_running_loop:
 *
 * Gets the loop that runs in the calling thread, as asyncio's
 * `get_running_loop()` (which raises where this returns %NULL). A loop
 * attached to a [struct@GLib.MainContext] counts as running while the
 * context dispatches it.
 *
 * Returns: (transfer none) (nullable): the loop running in the calling
 *   thread (the innermost one), or %NULL
 */
EvlLoop *
evl_get_running_loop (void)
{
  return running_loop;
}

/**
 * evl_loop_is_closed:
 * @loop: a loop
 *
 * Checks whether the loop is closed, as asyncio's `loop.is_closed()`.
 *
 * Returns: whether [method@Evl.Loop.close] was called
 */
gboolean
evl_loop_is_closed (EvlLoop *loop)
{
  g_return_val_if_fail (EVL_IS_LOOP (loop), TRUE);

  return evl_loop_get_priv (loop)->closed;
}

/* A post the loop will not run (closed): its notify runs, and the
 * queue's reference goes. */
static void
drop_post (EvlHandle *handle)
{
  g_atomic_int_or (&handle->flags, EVL_HANDLE_CANCELLED);
  evl_handle_release (handle);
  evl_handle_unref (handle);
}

static void
drop_everything (EvlLoop        *loop,
                 EvlLoopPrivate *priv)
{
  EvlHandle *handle;
  guint i;

  /* Each pass may run notifies that schedule more; the loop is closed, so
   * they are refused and nothing new appears. */
  while ((handle = ready_pop_until (priv, G_MAXUINT64)) != NULL)
    {
      evl_handle_cancel (handle);
      evl_handle_release (handle);
      evl_handle_unref (handle);
    }
  while ((handle = evl_timer_heap_pop (&priv->timers)) != NULL)
    {
      EVL_TIMER_HANDLE (handle)->loop = NULL;
      evl_handle_release (handle);
      evl_handle_unref (handle);
    }
  g_atomic_int_set (&priv->timers_cancelled, 0);

  g_mutex_lock (&priv->ts_lock);
  g_atomic_int_set (&priv->ts_closed, TRUE);
  g_mutex_unlock (&priv->ts_lock);
  /* Posts are refused from now on; a post that raced with this may still
   * land in its queue, and is dropped when the loop is finalized. */
  post_queues_take (priv, TRUE);

  if (priv->signal_handlers != NULL)
    {
      for (i = 0; i < (guint) evl_signal_max (); i++)
        if (priv->signal_handlers[i] != NULL)
          evl_loop_remove_signal_handler (loop, i);
    }

  for (i = 0; i < priv->fds_cap; i++)
    {
      EvlFdEntry *entry = priv->fds[i];

      if (entry == NULL)
        continue;
      if (entry->internal_reader != NULL)
        {
          evl_handle_cancel (entry->internal_reader);
          evl_handle_unref (entry->internal_reader);
          entry->internal_reader = NULL;
        }
      if (entry->internal_writer != NULL)
        {
          evl_handle_cancel (entry->internal_writer);
          evl_handle_unref (entry->internal_writer);
          entry->internal_writer = NULL;
        }
      if (entry->reader != NULL)
        {
          evl_handle_cancel (entry->reader);
          evl_handle_unref (entry->reader);
          entry->reader = NULL;
        }
      if (entry->writer != NULL)
        {
          evl_handle_cancel (entry->writer);
          evl_handle_unref (entry->writer);
          entry->writer = NULL;
        }
    }
}

gboolean
evl_loop_add_close_hook (EvlLoop          *loop,
                         EvlLoopCloseHook *hook)
{
  EvlLoopPrivate *priv = evl_loop_get_priv (loop);

  g_return_val_if_fail (!hook->added, FALSE);

  if (priv->closed)
    return FALSE;
  hook->link.data = hook;
  hook->link.prev = hook->link.next = NULL;
  g_queue_push_tail_link (&priv->close_hooks, &hook->link);
  hook->added = TRUE;
  return TRUE;
}

void
evl_loop_remove_close_hook (EvlLoop          *loop,
                            EvlLoopCloseHook *hook)
{
  if (!hook->added)
    return;
  g_queue_unlink (&evl_loop_get_priv (loop)->close_hooks, &hook->link);
  hook->added = FALSE;
}

/* Each hook leaves the queue before it runs, so it may free itself, and
 * remove (or, refused, add) others. */
static void
run_close_hooks (EvlLoopPrivate *priv)
{
  GList *link;

  while ((link = g_queue_pop_head_link (&priv->close_hooks)) != NULL)
    {
      EvlLoopCloseHook *hook = link->data;

      hook->added = FALSE;
      hook->func (hook->data);
    }
}

/**
 * evl_loop_close:
 * @loop: a loop
 * @error: return location for a #GError
 *
 * Closes the loop: drops every pending callback (their notifies run),
 * stops watching every fd and signal, and releases the loop's own fds.
 * A closed loop cannot run again. Closing twice is harmless.
 *
 * Returns: %TRUE on success; %FALSE with %EVL_LOOP_ERROR_RUNNING if the loop
 *   is running
 */
gboolean
evl_loop_close (EvlLoop  *loop,
                GError  **error)
{
  EvlLoopPrivate *priv;

  g_return_val_if_fail (EVL_IS_LOOP (loop), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  priv = evl_loop_get_priv (loop);
  if (priv->closed)
    return TRUE;
  /* A GLib dispatch of the loop (evl_loop_attach) counts as running too:
   * closing from one of its callbacks would free what the dispatch is
   * still iterating. */
  if (priv->run_depth > 0 || priv->dispatch_depth > 0)
    {
      g_set_error_literal (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_RUNNING,
                           _("Cannot close a running event loop; stop it first"));
      return FALSE;
    }

  priv->closed = TRUE;
  evl_loop_source_detach_all (loop);
  drop_everything (loop, priv);
  run_close_hooks (priv);
  if (priv->driver != NULL)
    g_clear_pointer (&priv->driver, evl_context_driver_free);
  /* A second pass for what notifies may have added before they saw the
   * closed flag. */
  drop_everything (loop, priv);

  if (priv->signals != NULL)
    g_clear_pointer (&priv->signals, evl_signal_target_free);
  g_clear_pointer (&priv->signal_handlers, g_free);

  {
    guint i;

    for (i = 0; i < priv->fds_cap; i++)
      {
        EvlFdEntry *entry = priv->fds[i];

        if (entry != NULL && entry->registered != 0 && priv->backend != NULL &&
            priv->fork_generation == evl_fork_generation ())
          priv->backend->io_update (loop, i, entry->registered, 0, NULL);
        g_clear_pointer (&priv->fds[i], g_free);
      }
    priv->n_fds = 0;
  }
  if (priv->backend != NULL && priv->backend->close != NULL)
    priv->backend->close (loop);
  evl_wakeup_close (priv->wake_fd, priv->wake_fd_write);
  priv->wake_fd = priv->wake_fd_write = -1;
  return TRUE;
}

/* ---------------------------------------------------------------------- */
/* futures, errors, debug */

/**
 * evl_loop_create_future:
 * @loop: a loop
 *
 * Creates a pending future bound to @loop, like [ctor@Evl.Future.new].
 *
 * Returns: (transfer full): a new future
 */
EvlFuture *
evl_loop_create_future (EvlLoop *loop)
{
  g_return_val_if_fail (EVL_IS_LOOP (loop), NULL);

  return evl_future_new (loop);
}

/**
 * evl_loop_set_exception_handler:
 * @loop: a loop
 * @handler: (nullable) (scope notified) (closure user_data) (destroy notify):
 *   the handler, or %NULL to restore the default one
 * @user_data: data for @handler
 * @notify: (nullable): frees @user_data
 *
 * Sets the function that receives errors which have nowhere else to go.
 * The default handler logs them with g_warning().
 */
void
evl_loop_set_exception_handler (EvlLoop             *loop,
                                EvlExceptionHandler  handler,
                                gpointer             user_data,
                                GDestroyNotify       notify)
{
  EvlLoopPrivate *priv;
  GDestroyNotify old_notify;
  gpointer old_data;

  g_return_if_fail (EVL_IS_LOOP (loop));

  priv = evl_loop_get_priv (loop);
  old_notify = priv->exc_notify;
  old_data = priv->exc_data;
  priv->exc_handler = handler;
  priv->exc_data = user_data;
  priv->exc_notify = notify;
  if (old_notify != NULL)
    old_notify (old_data);
}

/**
 * evl_loop_default_exception_handler:
 * @loop: a loop
 * @error: (nullable): the error
 * @message: (nullable): what happened
 *
 * The default exception handler: logs @message and @error with g_warning().
 * Custom handlers may call it to keep the default behaviour.
 */
void
evl_loop_default_exception_handler (EvlLoop      *loop,
                                    const GError *error,
                                    const char   *message)
{
  g_return_if_fail (EVL_IS_LOOP (loop));

  if (message == NULL)
    message = _("Unhandled error in event loop");
  if (error != NULL)
    g_warning ("%s: %s (%s, %d)", message, error->message,
               g_quark_to_string (error->domain), error->code);
  else
    g_warning ("%s", message);
}

/**
 * evl_loop_call_exception_handler:
 * @loop: a loop
 * @error: (nullable): the error
 * @message: (nullable): what happened
 *
 * Reports an error through the loop's exception handler. Works on a
 * closed loop.
 */
void
evl_loop_call_exception_handler (EvlLoop      *loop,
                                 const GError *error,
                                 const char   *message)
{
  EvlLoopPrivate *priv;

  g_return_if_fail (EVL_IS_LOOP (loop));

  priv = evl_loop_get_priv (loop);
  if (priv->exc_handler != NULL)
    priv->exc_handler (loop, error, message, priv->exc_data);
  else
    evl_loop_default_exception_handler (loop, error, message);
}

/**
 * evl_loop_set_debug:
 * @loop: a loop
 * @enabled: whether to enable debug mode
 *
 * In debug mode the loop warns about callbacks that run longer than
 * [property@Evl.Loop:slow-callback-duration] and about non-thread-safe
 * calls from another thread than the one running the loop. The
 * environment variable `EVL_DEBUG=1` enables it for every new loop.
 */
void
evl_loop_set_debug (EvlLoop  *loop,
                    gboolean  enabled)
{
  EvlLoopPrivate *priv;

  g_return_if_fail (EVL_IS_LOOP (loop));

  priv = evl_loop_get_priv (loop);
  enabled = !!enabled;
  if (priv->debug != enabled)
    {
      priv->debug = enabled;
      g_object_notify_by_pspec (G_OBJECT (loop), properties[PROP_DEBUG]);
    }
}

/**
 * evl_loop_get_debug:
 * @loop: a loop
 *
 * Gets whether debug mode is on (see [method@Evl.Loop.set_debug]).
 *
 * Returns: whether debug mode is on
 */
gboolean
evl_loop_get_debug (EvlLoop *loop)
{
  g_return_val_if_fail (EVL_IS_LOOP (loop), FALSE);

  return evl_loop_get_priv (loop)->debug;
}

/**
 * evl_loop_set_slow_callback_duration:
 * @loop: a loop
 * @seconds: the threshold, in seconds
 *
 * Sets how long a callback may run before debug mode warns about it
 * (default: 0.1 s).
 */
void
evl_loop_set_slow_callback_duration (EvlLoop *loop,
                                     double   seconds)
{
  EvlLoopPrivate *priv;

  g_return_if_fail (EVL_IS_LOOP (loop));
  g_return_if_fail (seconds >= 0);

  priv = evl_loop_get_priv (loop);
  if (priv->slow_callback_duration != seconds)
    {
      priv->slow_callback_duration = seconds;
      g_object_notify_by_pspec (G_OBJECT (loop), properties[PROP_SLOW_CALLBACK_DURATION]);
    }
}

/**
 * evl_loop_get_slow_callback_duration:
 * @loop: a loop
 *
 * Gets the duration above which debug mode reports a callback as slow
 * (see [method@Evl.Loop.set_slow_callback_duration]).
 *
 * Returns: the slow-callback threshold of debug mode, in seconds
 */
double
evl_loop_get_slow_callback_duration (EvlLoop *loop)
{
  g_return_val_if_fail (EVL_IS_LOOP (loop), 0.0);

  return evl_loop_get_priv (loop)->slow_callback_duration;
}

/**
 * evl_loop_get_context:
 * @loop: a loop
 *
 * Gets the [struct@GLib.MainContext] given as [property@Evl.Loop:context]
 * when the loop was made: the context that the loop polls and dispatches
 * while it runs ("GLib inside evloop").
 *
 * Returns: (transfer none) (nullable): the GMainContext the loop drives
 *   while it runs, or %NULL
 */
GMainContext *
evl_loop_get_context (EvlLoop *loop)
{
  g_return_val_if_fail (EVL_IS_LOOP (loop), NULL);

  return evl_loop_get_priv (loop)->context;
}

/* ---------------------------------------------------------------------- */
/* GObject */

gboolean
evl_loop_backend_ready (EvlLoop  *loop,
                        GError  **error)
{
  EvlLoopPrivate *priv = evl_loop_get_priv (loop);
  GError *local_error = NULL;

  priv->backend = EVL_LOOP_GET_CLASS (loop)->_evl_reserved[0];
  g_return_val_if_fail (priv->backend != NULL, FALSE);

  if (!evl_wakeup_open (&priv->wake_fd, &priv->wake_fd_write, &local_error))
    {
      priv->init_error = g_error_new (local_error->domain, local_error->code,
                                      _("Cannot create the event loop's wakeup descriptor: %s; "
                                        "close unused files or raise the limit"),
                                      local_error->message);
      g_clear_error (&local_error);
    }
  else
    {
      evl_loop_lookup_fd (loop, priv->wake_fd, TRUE);
      if (!evl_loop_update_fd (loop, priv->wake_fd, &priv->init_error))
        {
          g_clear_pointer (&priv->fds[priv->wake_fd], g_free);
          priv->n_fds--;
          evl_wakeup_close (priv->wake_fd, priv->wake_fd_write);
          priv->wake_fd = priv->wake_fd_write = -1;
        }
    }
  if (priv->init_error != NULL)
    {
      /* Half a loop would hang or crash later: close it, so that every
       * use is refused as on any closed loop. */
      evl_loop_close (loop, NULL);
      if (error != NULL)
        *error = g_error_copy (priv->init_error);
      return FALSE;
    }
  if (priv->context != NULL)
    priv->driver = evl_context_driver_new (loop, priv->context);
  return TRUE;
}

const GError *
evl_loop_get_init_error (EvlLoop *loop)
{
  return evl_loop_get_priv (loop)->init_error;
}

static gboolean
evl_loop_initable_init (GInitable     *initable,
                        GCancellable  *cancellable,
                        GError       **error)
{
  EvlLoopPrivate *priv = evl_loop_get_priv (EVL_LOOP (initable));

  if (priv->init_error != NULL)
    {
      g_propagate_error (error, g_error_copy (priv->init_error));
      return FALSE;
    }
  return TRUE;
}

static void
evl_loop_initable_iface_init (GInitableIface *iface)
{
  iface->init = evl_loop_initable_init;
}

static void
evl_loop_finalize (GObject *object)
{
  EvlLoop *loop = EVL_LOOP (object);
  EvlLoopPrivate *priv = evl_loop_get_priv (loop);

  if (!priv->closed)
    {
      priv->run_depth = 0;
      evl_loop_close (loop, NULL);
    }
  if (priv->exc_notify != NULL)
    priv->exc_notify (priv->exc_data);
  g_clear_pointer (&priv->context, g_main_context_unref);
  g_clear_error (&priv->init_error);
  post_queues_free (priv);
  g_mutex_clear (&priv->ts_lock);
  g_free (priv->ready);
  g_free (priv->fds);
  evl_timer_heap_clear (&priv->timers);
  evl_handle_pool_clear (&priv->pool);
  evl_handle_pool_clear (&priv->timer_pool);

  G_OBJECT_CLASS (evl_loop_parent_class)->finalize (object);
}

static void
evl_loop_dispose (GObject *object)
{
  EvlLoop *loop = EVL_LOOP (object);
  EvlLoopPrivate *priv = evl_loop_get_priv (loop);

  /* Closing here breaks the cycles (futures and callbacks holding the loop). */
  if (!priv->closed && priv->run_depth == 0)
    evl_loop_close (loop, NULL);

  G_OBJECT_CLASS (evl_loop_parent_class)->dispose (object);
}

static void
evl_loop_get_property (GObject    *object,
                       guint       prop_id,
                       GValue     *value,
                       GParamSpec *pspec)
{
  EvlLoop *loop = EVL_LOOP (object);

  switch (prop_id)
    {
    case PROP_CONTEXT:
      g_value_set_boxed (value, evl_loop_get_priv (loop)->context);
      break;
    case PROP_DEBUG:
      g_value_set_boolean (value, evl_loop_get_debug (loop));
      break;
    case PROP_SLOW_CALLBACK_DURATION:
      g_value_set_double (value, evl_loop_get_slow_callback_duration (loop));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
evl_loop_set_property (GObject      *object,
                       guint         prop_id,
                       const GValue *value,
                       GParamSpec   *pspec)
{
  EvlLoop *loop = EVL_LOOP (object);

  switch (prop_id)
    {
    case PROP_CONTEXT:
      evl_loop_get_priv (loop)->context = g_value_dup_boxed (value);
      break;
    case PROP_DEBUG:
      evl_loop_set_debug (loop, g_value_get_boolean (value));
      break;
    case PROP_SLOW_CALLBACK_DURATION:
      evl_loop_set_slow_callback_duration (loop, g_value_get_double (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
evl_loop_class_init (EvlLoopClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = evl_loop_dispose;
  object_class->finalize = evl_loop_finalize;
  object_class->get_property = evl_loop_get_property;
  object_class->set_property = evl_loop_set_property;

  /**
   * EvlLoop:context:
   *
   * The GMainContext the loop drives while it runs (GLib inside evloop):
   * its sources are dispatched and its fds polled through the loop's own
   * backend, so GTK and GIO stay alive during
   * [method@Evl.Loop.run_until_complete]. %NULL for none.
   */
  properties[PROP_CONTEXT] =
    g_param_spec_boxed ("context", NULL, NULL, G_TYPE_MAIN_CONTEXT,
                        G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY |
                        G_PARAM_STATIC_STRINGS);

  /**
   * EvlLoop:debug:
   *
   * Whether debug mode is on; see [method@Evl.Loop.set_debug].
   */
  properties[PROP_DEBUG] =
    g_param_spec_boolean ("debug", NULL, NULL, FALSE,
                          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
                          G_PARAM_EXPLICIT_NOTIFY);

  /**
   * EvlLoop:slow-callback-duration:
   *
   * In debug mode, callbacks running longer than this many seconds are
   * reported with a warning.
   */
  properties[PROP_SLOW_CALLBACK_DURATION] =
    g_param_spec_double ("slow-callback-duration", NULL, NULL, 0.0, G_MAXDOUBLE, 0.1,
                         G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
                         G_PARAM_EXPLICIT_NOTIFY);

  g_object_class_install_properties (object_class, N_PROPS, properties);
  evl_init ();
}

static void
evl_loop_init (EvlLoop *loop)
{
  EvlLoopPrivate *priv = evl_loop_get_priv (loop);
  const char *debug = g_getenv ("EVL_DEBUG");

  priv->wake_fd = priv->wake_fd_write = -1;
  priv->fork_generation = evl_fork_generation ();
  priv->slow_callback_duration = 0.1;
  priv->debug = debug != NULL && *debug != '\0' && !g_str_equal (debug, "0");
  g_mutex_init (&priv->ts_lock);
  priv->ts_queues = g_ptr_array_new ();
  priv->ready_mask = 255;
  priv->ready = g_new (EvlHandle *, priv->ready_mask + 1);
  evl_handle_pool_init (&priv->pool, sizeof (EvlHandle));
  evl_handle_pool_init (&priv->timer_pool, sizeof (EvlTimerHandle));
  evl_timer_heap_init (&priv->timers);
}
