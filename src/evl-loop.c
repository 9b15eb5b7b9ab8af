/* evl-loop.c: the abstract event loop
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

/* The offset of EvlLoopPrivate, for evl_loop_get_priv() in
 * evl-loop-impl-private.h (set before any loop exists). */
gint evl_loop_private_offset;

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
/* errors */

gboolean
evl_loop_set_closed_error (GError **error)
{
  g_set_error_literal (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_CLOSED,
                       _("The event loop is closed; create a new loop to run more work"));
  return FALSE;
}

/* ---------------------------------------------------------------------- */
/* shared by the loop's files (evl-loop-impl-private.h) */

/* EVL_IS_LOOP() for the hot paths: GLib's check walks the type
 * hierarchy (EvlLoop is abstract, so the instance's class is never
 * EvlLoop's own); the last class that passed is remembered. Classes of
 * static types live as long as the process. */
gpointer evl_loop_known_class;  /* atomic */

EvlHandle *
evl_loop_refuse_closed (GDestroyNotify notify,
                        gpointer       user_data,
                        const char    *func)
{
  g_critical ("%s: the event loop is closed", func);
  if (notify != NULL)
    notify (user_data);
  return NULL;
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

  evl_loop_take_posts (priv, FALSE);
  if (priv->signals != NULL && evl_signal_target_pending (priv->signals))
    evl_signal_target_dispatch (priv->signals, evl_loop_dispatch_signal, loop);
}

gboolean
evl_loop_has_ready_work (EvlLoop *loop)
{
  EvlLoopPrivate *priv = evl_loop_get_priv (loop);

  return evl_loop_ready_len (priv) > 0 || g_atomic_int_get (&priv->wake_pending);
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

  if (!explicit_run || evl_loop_ready_len (priv) > 0 || g_atomic_int_get (&priv->stopping) ||
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

  /* About to wait: the ready queue is empty, give its memory back, and
   * the handle blocks cached since the last wait that nobody needed. If
   * some remain, come back within a second to free them then. */
  if (timeout != 0)
    {
      evl_loop_ready_maybe_shrink (priv);
      if (evl_handle_block_cache_trim () && (timeout < 0 || timeout > G_TIME_SPAN_SECOND * 1000))
        timeout = G_TIME_SPAN_SECOND * 1000;  /* ns */
    }

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
      evl_loop_ready_push (priv, handle);
    }

  limit = priv->ready_tail;
  if (G_UNLIKELY (priv->ready_mask + 1 > READY_KEEP_CAPACITY))
    {
      /* A queue mostly empty for a while shrinks (a loop that never waits,
       * as one attached to a GMainContext). */
      if ((limit - priv->ready_head) * 8 <= priv->ready_mask + 1)
        {
          if (++priv->ready_quiet >= READY_QUIET_ITERATIONS)
            evl_loop_ready_shrink (priv);
        }
      else
        priv->ready_quiet = 0;
    }
  while (!priv->closed && (handle = evl_loop_ready_pop_until (priv, limit)) != NULL)
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
    return evl_loop_set_closed_error (error);
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
    evl_loop_ready_maybe_shrink (priv);
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
    return evl_loop_set_closed_error (error);

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

static void
drop_everything (EvlLoop        *loop,
                 EvlLoopPrivate *priv)
{
  EvlHandle *handle;
  guint i;

  /* Each pass may run notifies that schedule more; the loop is closed, so
   * they are refused and nothing new appears. */
  while ((handle = evl_loop_ready_pop_until (priv, G_MAXUINT64)) != NULL)
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
  evl_loop_take_posts (priv, TRUE);

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
  evl_loop_free_posts (priv);
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

  evl_loop_private_offset = EvlLoop_private_offset;

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
