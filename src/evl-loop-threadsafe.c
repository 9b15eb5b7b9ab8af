/* evl-loop-threadsafe.c: call_soon_threadsafe(), the queues of posts from
 * other threads, and the wakeup
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

/* The list comes as @data: thread-local storage may be gone when GLib
 * runs the destroy notifies (mingw-w64's emulated TLS). */
static void
thread_queues_exit (gpointer data)
{
  EvlPostQueue *q, *next;

#if EVL_OS_TLS_VALID_AT_THREAD_EXIT
  /* A post from a later destructor of this thread starts afresh. */
  thread_queues = thread_queue_last = NULL;
#endif
  for (q = data; q != NULL; q = next)
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
  gboolean dropped = FALSE;

  /* Forget the queues of loops that were finalized (another loop may now
   * have the same address). */
  while ((q = *link) != NULL)
    {
      if (g_atomic_int_get (&q->loop_gone))
        {
          *link = q->thread_next;
          post_queue_unref (q);
          dropped = TRUE;
          continue;
        }
      if (q->loop == loop)
        {
          if (dropped)
            g_private_set (&thread_queues_key, thread_queues);
          return thread_queue_last = q;
        }
      link = &q->thread_next;
    }

  q = g_aligned_alloc0 (1, sizeof (EvlPostQueue), 64);
  q->refs = 2;
  q->loop = loop;
  q->head_chunk = q->tail_chunk = g_new (EvlPostChunk, 1);
  q->tail_chunk->next = NULL;
  q->thread_next = thread_queues;
  thread_queues = thread_queue_last = q;
  /* The list for the destroy notify: drop the queues at thread exit. */
  g_private_set (&thread_queues_key, thread_queues);

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
          evl_loop_ready_push (priv, slots[i]);
      q->head_idx += m;
      q->head += m;
      n -= m;
    }
  return gone;
}

/* Loop: takes the new queues, then every queue's posts; lets go of the
 * queues of threads that exited. */
void
evl_loop_take_posts (EvlLoopPrivate *priv,
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
void
evl_loop_free_posts (EvlLoopPrivate *priv)
{
  guint i;

  evl_loop_take_posts (priv, TRUE);
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

  g_return_val_if_fail (evl_loop_is_loop_fast (loop), NULL);
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

/* A post the loop will not run (closed): its notify runs, and the
 * queue's reference goes. */
static void
drop_post (EvlHandle *handle)
{
  g_atomic_int_or (&handle->flags, EVL_HANDLE_CANCELLED);
  evl_handle_release (handle);
  evl_handle_unref (handle);
}
