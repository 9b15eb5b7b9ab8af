/* evl-loop-executor.c: blocking work on worker threads (run_in_executor)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "evl-config.h"

#include "evl-loop-private.h"
#include "evl-loop-executor-private.h"
#include "evl-operation-private.h"

/* asyncio's `loop.run_in_executor(None, func)`: @func runs on a worker of
 * one thread pool shared by every loop (GLib's shared GThreadPool threads,
 * at most MIN (32, 4 × CPUs) at once), and its result comes back to the
 * loop's thread with evl_loop_call_soon_threadsafe(): the callback runs
 * from the loop's own dispatch, as the socket primitives' do.
 *
 * A job is shared by the loop's thread and a worker (ExecJob.ref_count):
 *
 *  - the operation (the EvlOperation and the caller's GCancellable
 *    handler, loop thread only) completes once (complete_op()): with the
 *    worker's result (deliver_cb), with G_IO_ERROR_CANCELLED as soon as
 *    the caller cancels (do_cancel, without waiting for the worker), or
 *    with G_IO_ERROR_CANCELLED when the loop closes (close_hook_cb, which
 *    delivers at once, a closed loop running nothing later);
 *  - the worker runs @func (unless cancelled first), then posts to the
 *    loop, whose deliver_cb completes the operation if nothing did yet,
 *    and runs @func_notify and frees a late result on the loop's thread
 *    (binding closures, GJS's above all, may only be freed there);
 *  - ExecJob.loop, under ExecJob.lock, is where the worker may post: set
 *    until deliver_cb ran or the loop closed (the close hook clears it),
 *    so a worker never touches a loop that was closed or finalized
 *    meanwhile. Past a close, the worker frees what it has itself.
 *
 * @func gets a GCancellable of the job's own, cancelled when the caller's
 * is, and when the loop closes. */

typedef struct
{
  gint              ref_count;     /* atomic: loop side, worker, posted callbacks */
  GMutex            lock;
  EvlLoop          *loop;          /* under lock; not owned: see above */

  /* the loop side (loop thread only) */
  EvlOperation     *op;            /* NULL once completed */
  EvlLoopCloseHook  hook;
  GCancellable     *user_cancellable;
  gulong            cancel_id;

  /* the worker's, then (after the post) the loop's */
  EvlExecutorFunc   func;
  gpointer          func_data;
  GDestroyNotify    func_notify;   /* taken atomically: runs once */
  GCancellable     *cancellable;   /* ours, given to func */
  GValue            value;
  GError           *error;
} ExecJob;

static GThreadPool *pool;
static guint        pool_max_threads;
G_LOCK_DEFINE_STATIC (pool);

static ExecJob *
exec_job_ref (ExecJob *job)
{
  g_atomic_int_inc (&job->ref_count);
  return job;
}

static void
exec_job_run_notify (ExecJob *job)
{
  GDestroyNotify notify = g_atomic_pointer_exchange (&job->func_notify, NULL);

  if (notify != NULL)
    notify (job->func_data);
}

static void
exec_job_unref (gpointer data)
{
  ExecJob *job = data;

  if (!g_atomic_int_dec_and_test (&job->ref_count))
    return;
  g_assert (job->op == NULL);
  if (G_IS_VALUE (&job->value))
    g_value_unset (&job->value);
  g_clear_error (&job->error);
  exec_job_run_notify (job);
  g_clear_object (&job->cancellable);
  g_clear_object (&job->user_cancellable);
  g_mutex_clear (&job->lock);
  g_free (job);
}

static void
value_free (gpointer data)
{
  GValue *value = data;

  if (G_IS_VALUE (value))
    g_value_unset (value);
  g_free (value);
}

static GError *
cancelled_error_new (void)
{
  return g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED,
                              _("Operation was cancelled"));
}

/* Completes the operation with @error (taken), or with the worker's
 * result. */
static void
complete_op (ExecJob *job,
             GError  *error)
{
  EvlOperation *op = g_steal_pointer (&job->op);

  if (job->cancel_id != 0)
    g_cancellable_disconnect (job->user_cancellable, job->cancel_id);
  job->cancel_id = 0;

  if (error != NULL)
    evl_operation_return_error (op, error);
  else if (job->error != NULL)
    evl_operation_return_error (op, g_steal_pointer (&job->error));
  else
    {
      GValue *value = g_new0 (GValue, 1);

      if (G_IS_VALUE (&job->value))
        {
          *value = job->value;
          job->value = (GValue) G_VALUE_INIT;
        }
      else
        {
          g_value_init (value, G_TYPE_POINTER);
          g_value_set_pointer (value, NULL);
        }
      evl_operation_return_pointer (op, value, value_free);
    }
  g_object_unref (op);
}

/* The loop side is done with the job: the worker posts no more. */
static void
detach (ExecJob *job,
        EvlLoop *loop)
{
  evl_loop_remove_close_hook (loop, &job->hook);
  g_mutex_lock (&job->lock);
  job->loop = NULL;
  g_mutex_unlock (&job->lock);
  exec_job_unref (job);   /* the loop side's reference */
}

/* On the loop's thread: the worker is done. */
static void
deliver_cb (gpointer data)
{
  ExecJob *job = data;
  EvlLoop *loop = job->loop;   /* set: only this thread clears it */

  if (job->op != NULL)
    {
      /* Cancelled meanwhile, on this thread or another (do_cancel is on
       * its way): the caller asked for G_IO_ERROR_CANCELLED, as GIO
       * promises. */
      if (g_cancellable_is_cancelled (job->user_cancellable))
        complete_op (job, cancelled_error_new ());
      else
        complete_op (job, NULL);
    }
  exec_job_run_notify (job);
  detach (job, loop);
}

/* On the loop's thread: the caller cancelled. */
static void
do_cancel (gpointer data)
{
  ExecJob *job = data;

  if (job->op != NULL)
    complete_op (job, cancelled_error_new ());
}

/* In evl_loop_close(), on the loop's thread; the hook is removed. */
static void
close_hook_cb (gpointer data)
{
  ExecJob *job = data;

  g_cancellable_cancel (job->cancellable);
  if (job->op != NULL)
    complete_op (job, cancelled_error_new ());
  g_mutex_lock (&job->lock);
  job->loop = NULL;
  g_mutex_unlock (&job->lock);
  exec_job_unref (job);   /* the loop side's reference */
}

/* GCancellable::cancelled of the caller's cancellable, in whatever thread
 * cancelled. Never disconnects here (that would deadlock): complete_op()
 * does, on the loop's thread. */
static void
on_cancelled (GCancellable *cancellable,
              gpointer      data)
{
  ExecJob *job = data;

  g_cancellable_cancel (job->cancellable);
  g_mutex_lock (&job->lock);
  if (job->loop != NULL)
    evl_loop_call_soon_threadsafe_internal (job->loop, do_cancel,
                                            exec_job_ref (job), exec_job_unref);
  g_mutex_unlock (&job->lock);
}

static void
worker_func (gpointer data,
             gpointer pool_data)
{
  ExecJob *job = data;
  GValue value = G_VALUE_INIT;
  GError *error = NULL;
  gboolean ok = FALSE;
  gboolean posted = FALSE;

  if (!g_cancellable_set_error_if_cancelled (job->cancellable, &error))
    ok = job->func (&value, job->cancellable, job->func_data, &error);
  if (ok)
    {
      if (error != NULL)
        {
          g_critical ("An EvlExecutorFunc returned TRUE and set an error; "
                      "the error is ignored: %s", error->message);
          g_clear_error (&error);
        }
    }
  else
    {
      if (G_IS_VALUE (&value))
        g_value_unset (&value);
      if (error == NULL)
        error = g_error_new_literal (EVL_LOOP_ERROR, EVL_LOOP_ERROR_FAILED,
                                     _("The function run in the executor failed without setting "
                                       "an error; set one when it returns FALSE (in a "
                                       "language binding: see the exception it raised)"));
    }
  job->value = value;
  job->error = error;

  g_mutex_lock (&job->lock);
  if (job->loop != NULL)
    posted = evl_loop_call_soon_threadsafe_internal (job->loop, deliver_cb,
                                                     exec_job_ref (job), exec_job_unref);
  g_mutex_unlock (&job->lock);
  /* The loop closed: nobody else can free the data now. */
  if (!posted)
    exec_job_run_notify (job);
  exec_job_unref (job);   /* the worker's reference */
}

static guint
default_max_threads (void)
{
  return MIN (32, 4 * MAX (g_get_num_processors (), 1));
}

static GThreadPool *
get_pool (void)
{
  GThreadPool *p;

  G_LOCK (pool);
  if (pool == NULL)
    {
      if (pool_max_threads == 0)
        pool_max_threads = default_max_threads ();
      /* Shared (not exclusive) threads: none exist until work comes. */
      pool = g_thread_pool_new (worker_func, NULL, (int) pool_max_threads, FALSE, NULL);
    }
  p = pool;
  G_UNLOCK (pool);
  return p;
}

static void
run_tagged (EvlLoop             *loop,
            EvlExecutorFunc      func,
            gpointer             func_data,
            GDestroyNotify       func_notify,
            GCancellable        *cancellable,
            gpointer             source_tag,
            GAsyncReadyCallback  callback,
            gpointer             user_data)
{
  EvlOperation *op = evl_operation_new (loop, source_tag, callback, user_data);
  GError *error = NULL;
  ExecJob *job;

  if (evl_loop_is_closed (loop))
    g_set_error_literal (&error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_CLOSED,
                         _("The event loop is closed; create a new loop to run more work"));
  else
    g_cancellable_set_error_if_cancelled (cancellable, &error);
  if (error != NULL)
    {
      evl_operation_return_error (op, error);
      g_object_unref (op);
      if (func_notify != NULL)
        func_notify (func_data);
      return;
    }

  job = g_new0 (ExecJob, 1);
  job->ref_count = 2;   /* the loop side and the worker */
  g_mutex_init (&job->lock);
  job->loop = loop;
  job->op = op;
  job->func = func;
  job->func_data = func_data;
  job->func_notify = func_notify;
  job->cancellable = g_cancellable_new ();
  job->hook.func = close_hook_cb;
  job->hook.data = job;
  evl_loop_add_close_hook (loop, &job->hook);
  if (cancellable != NULL)
    {
      job->user_cancellable = g_object_ref (cancellable);
      /* Runs on_cancelled at once if cancelled meanwhile by another thread. */
      job->cancel_id = g_cancellable_connect (cancellable, G_CALLBACK (on_cancelled), job, NULL);
    }

  /* With GLib's shared threads the job is queued even if no new thread
   * could be started now; an existing or later worker runs it. */
  g_thread_pool_push (get_pool (), job, NULL);
}

void
evl_loop_run_in_executor_tagged (EvlLoop             *loop,
                                 EvlExecutorFunc      func,
                                 gpointer             func_data,
                                 GDestroyNotify       func_notify,
                                 GCancellable        *cancellable,
                                 gpointer             source_tag,
                                 GAsyncReadyCallback  callback,
                                 gpointer             user_data)
{
  run_tagged (loop, func, func_data, func_notify, cancellable, source_tag, callback, user_data);
}

void
evl_loop_executor_return (EvlLoop             *loop,
                          gpointer             source_tag,
                          GCancellable        *cancellable,
                          GValue              *value,
                          GError              *error,
                          GAsyncReadyCallback  callback,
                          gpointer             user_data)
{
  EvlOperation *op = evl_operation_new (loop, source_tag, callback, user_data);
  GValue *heap;

  if (evl_loop_is_closed (loop) || g_cancellable_is_cancelled (cancellable))
    {
      g_clear_error (&error);
      if (value != NULL && G_IS_VALUE (value))
        g_value_unset (value);
      if (evl_loop_is_closed (loop))
        error = g_error_new_literal (EVL_LOOP_ERROR, EVL_LOOP_ERROR_CLOSED,
                                     _("The event loop is closed; create a new loop to run more work"));
      else
        error = cancelled_error_new ();
    }
  if (error != NULL)
    evl_operation_return_error (op, error);
  else
    {
      heap = g_new0 (GValue, 1);
      if (value != NULL && G_IS_VALUE (value))
        {
          *heap = *value;
          *value = (GValue) G_VALUE_INIT;
        }
      else
        {
          g_value_init (heap, G_TYPE_POINTER);
          g_value_set_pointer (heap, NULL);
        }
      evl_operation_return_pointer (op, heap, value_free);
    }
  g_object_unref (op);
}

gboolean
evl_loop_executor_is_valid (EvlLoop      *loop,
                            GAsyncResult *result,
                            gpointer      source_tag)
{
  return evl_operation_is_valid (result, loop, source_tag);
}

gboolean
evl_loop_executor_propagate (GAsyncResult  *result,
                             GValue        *value,
                             GError       **error)
{
  GValue *heap = evl_operation_propagate_pointer (EVL_OPERATION (result), error);

  if (heap == NULL)
    return FALSE;
  if (value != NULL)
    *value = *heap;
  else
    g_value_unset (heap);
  g_free (heap);
  return TRUE;
}

/**
 * evl_loop_run_in_executor_async:
 * @loop: a loop
 * @func: (scope notified) (closure func_data) (destroy func_notify): the
 *   blocking work, run on a worker thread
 * @func_data: data for @func
 * @func_notify: (nullable): frees @func_data; runs exactly once, once
 *   @func has returned: on the loop's thread (on the worker's if the loop
 *   closed meanwhile; at once if the call is refused)
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async) (closure user_data): called on the loop's
 *   thread with the result
 * @user_data: data for @callback
 *
 * Runs @func on a worker thread, as asyncio's
 * `loop.run_in_executor(None, func)`, and reports its result on the
 * loop's thread: @callback runs from the loop's own dispatch (no
 * GMainContext needs to be iterated). Get the result with
 * [method@Evl.Loop.run_in_executor_finish].
 *
 * Workers come from one thread pool shared by every loop, at most
 * MIN (32, 4 × the number of processors) at once unless
 * [func@Evl.executor_set_max_threads] says otherwise; more jobs wait for
 * a free worker.
 *
 * Cancelling @cancellable ends the operation at once with
 * %G_IO_ERROR_CANCELLED: the loop does not wait for @func, which sees its
 * own cancellable cancelled and whose late result is dropped. A job still
 * queued then never runs @func. Closing the loop does the same to every
 * job in flight (the callback runs from [method@Evl.Loop.close]). On a
 * closed loop the callback runs at once with %EVL_LOOP_ERROR_CLOSED.
 *
 * @func must be thread-safe: bindings whose functions can only run on
 * their own thread (GJS) cannot provide it; PyGObject can.
 */
void
evl_loop_run_in_executor_async (EvlLoop             *loop,
                                EvlExecutorFunc      func,
                                gpointer             func_data,
                                GDestroyNotify       func_notify,
                                GCancellable        *cancellable,
                                GAsyncReadyCallback  callback,
                                gpointer             user_data)
{
  g_return_if_fail (EVL_IS_LOOP (loop));
  g_return_if_fail (func != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  run_tagged (loop, func, func_data, func_notify, cancellable,
              evl_loop_run_in_executor_async, callback, user_data);
}

/**
 * evl_loop_run_in_executor_finish:
 * @loop: a loop
 * @result: the #GAsyncResult passed to the callback
 * @value: (out caller-allocates) (optional): an unset #GValue
 *   (`G_VALUE_INIT`), initialized with the function's result on success
 *   (a %G_TYPE_POINTER holding %NULL when it set none); unset it when done
 * @error: return location for a #GError
 *
 * Finishes [method@Evl.Loop.run_in_executor_async].
 *
 * Returns: (skip): %TRUE with @value set when the function succeeded; %FALSE with
 *   its error, %G_IO_ERROR_CANCELLED or %EVL_LOOP_ERROR_CLOSED
 */
gboolean
evl_loop_run_in_executor_finish (EvlLoop       *loop,
                                 GAsyncResult  *result,
                                 GValue        *value,
                                 GError       **error)
{
  g_return_val_if_fail (EVL_IS_LOOP (loop), FALSE);
  g_return_val_if_fail (evl_operation_is_valid (result, loop, evl_loop_run_in_executor_async), FALSE);
  g_return_val_if_fail (value == NULL || !G_IS_VALUE (value), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return evl_loop_executor_propagate (result, value, error);
}

/* ---------------------------------------------------------------------- */
/* the future variant */

typedef struct
{
  EvlFuture    *future;
  GCancellable *cancellable;
} FutureJob;

static void
future_job_done (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  FutureJob *fj = user_data;
  GValue value = G_VALUE_INIT;
  GError *error = NULL;

  if (evl_loop_run_in_executor_finish (EVL_LOOP (source), result, &value, &error))
    {
      if (!evl_future_is_done (fj->future))
        evl_future_set_result (fj->future, &value, NULL);
      g_value_unset (&value);
    }
  else if (!evl_future_is_done (fj->future))
    {
      /* Not the future's own cancel (it would be done): the loop closed. */
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        evl_future_cancel (fj->future);
      else
        evl_future_set_error (fj->future, error, NULL);
    }
  g_clear_error (&error);
  g_object_unref (fj->future);
  g_object_unref (fj->cancellable);
  g_free (fj);
}

static void
future_cancelled (EvlFuture *future,
                  gpointer   user_data)
{
  if (evl_future_is_cancelled (future))
    g_cancellable_cancel (user_data);
}

/**
 * evl_loop_run_in_executor:
 * @loop: a loop
 * @func: (scope notified) (closure func_data) (destroy func_notify): the
 *   blocking work, run on a worker thread
 * @func_data: data for @func
 * @func_notify: (nullable): frees @func_data; runs exactly once
 *
 * Runs @func on a worker thread and returns a future for its result, the
 * shape of asyncio's `loop.run_in_executor(None, func)`: wait for it with
 * [method@Evl.Loop.run_until_complete] or a done callback. Cancelling the
 * future cancels the job (see [method@Evl.Loop.run_in_executor_async]
 * for the rules); closing the loop cancels the future.
 *
 * Returns: (transfer full) (nullable): a new future; %NULL (with a
 *   critical warning, and @func_notify run) if the loop is closed
 */
EvlFuture *
evl_loop_run_in_executor (EvlLoop         *loop,
                          EvlExecutorFunc  func,
                          gpointer         func_data,
                          GDestroyNotify   func_notify)
{
  FutureJob *fj;

  g_return_val_if_fail (EVL_IS_LOOP (loop), NULL);
  g_return_val_if_fail (func != NULL, NULL);

  if (evl_loop_is_closed (loop))
    {
      g_critical ("%s: the event loop is closed", G_STRFUNC);
      if (func_notify != NULL)
        func_notify (func_data);
      return NULL;
    }

  fj = g_new0 (FutureJob, 1);
  fj->future = evl_future_new (loop);
  fj->cancellable = g_cancellable_new ();
  evl_future_add_done_callback (fj->future, future_cancelled,
                                g_object_ref (fj->cancellable), g_object_unref);
  evl_loop_run_in_executor_async (loop, func, func_data, func_notify, fj->cancellable,
                                  future_job_done, fj);
  return g_object_ref (fj->future);
}

/**
 * evl_executor_set_max_threads:
 * @max_threads: the most worker threads, at least 1
 *
 * Sets how many worker threads [method@Evl.Loop.run_in_executor_async]
 * (and what is built on it, such as [method@Evl.Loop.getaddrinfo_async])
 * uses at most, for every loop of the process. The default is
 * MIN (32, 4 × the number of processors).
 */
void
evl_executor_set_max_threads (guint max_threads)
{
  GThreadPool *p;

  g_return_if_fail (max_threads >= 1 && max_threads <= G_MAXINT);

  G_LOCK (pool);
  pool_max_threads = max_threads;
  p = pool;
  G_UNLOCK (pool);
  if (p != NULL)
    g_thread_pool_set_max_threads (p, (int) max_threads, NULL);
}

/**
 * evl_executor_get_max_threads:
 *
 * Gets the most worker threads the executor uses; see
 * [func@Evl.executor_set_max_threads].
 *
 * Returns: the limit on worker threads
 */
guint
evl_executor_get_max_threads (void)
{
  guint n;

  G_LOCK (pool);
  if (pool_max_threads == 0)
    pool_max_threads = default_max_threads ();
  n = pool_max_threads;
  G_UNLOCK (pool);
  return n;
}
