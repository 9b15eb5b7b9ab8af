/* executor.c: tests of run_in_executor, on the loop kind under test
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "evl-test-util.h"

/* Helpers ---------------------------------------------------------------- */

/* Waits until the guint at @counter reaches @n, running @loop meanwhile
 * (the executor frees the functions' data on the loop's thread), or just
 * waiting when @loop is NULL (closed: the workers free it). */
static void
wait_counter (EvlLoop *loop,
              guint   *counter,
              guint    n)
{
  gint64 end = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;

  while ((guint) g_atomic_int_get ((gint *) counter) < n)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, end);
      if (loop != NULL)
        evl_test_run_once (loop);
      g_usleep (1000);
    }
}

/* A gate that workers wait at until the test opens it. */
typedef struct
{
  GMutex   lock;
  GCond    cond;
  gboolean open;
  guint    waiting;     /* workers that reached the gate */
  guint    ran;         /* functions that ran to their end */
  guint    notified;    /* func_notify calls */
  gboolean saw_cancel;  /* a function saw its cancellable cancelled */
} Gate;

static void
gate_init (Gate *g)
{
  *g = (Gate) { 0 };
  g_mutex_init (&g->lock);
  g_cond_init (&g->cond);
}

static void
gate_open (Gate *g)
{
  g_mutex_lock (&g->lock);
  g->open = TRUE;
  g_cond_broadcast (&g->cond);
  g_mutex_unlock (&g->lock);
}

static void
gate_clear (Gate *g)
{
  g_mutex_clear (&g->lock);
  g_cond_clear (&g->cond);
}

static void
gate_notify (gpointer data)
{
  Gate *g = data;

  g_atomic_int_inc (&g->notified);
}

/* Waits at the gate, then returns a new GObject (whose finalization the
 * test can watch) and notes whether it was cancelled meanwhile. */
static gboolean
gated_func (GValue        *result,
            GCancellable  *cancellable,
            gpointer       user_data,
            GError       **error)
{
  Gate *g = user_data;

  g_mutex_lock (&g->lock);
  g->waiting++;
  g_cond_broadcast (&g->cond);
  while (!g->open)
    g_cond_wait (&g->cond, &g->lock);
  if (g_cancellable_is_cancelled (cancellable))
    g->saw_cancel = TRUE;
  g_mutex_unlock (&g->lock);

  g_value_init (result, G_TYPE_OBJECT);
  g_value_take_object (result, g_object_new (G_TYPE_OBJECT, NULL));
  g_atomic_int_inc (&g->ran);
  return TRUE;
}

static void
gate_wait_waiting (Gate *g,
                   guint n)
{
  gint64 end = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;

  g_mutex_lock (&g->lock);
  while (g->waiting < n)
    g_assert_true (g_cond_wait_until (&g->cond, &g->lock, end));
  g_mutex_unlock (&g->lock);
}

/* Functions -------------------------------------------------------------- */

typedef enum
{
  RESULT_INT,
  RESULT_STRING,
  RESULT_OBJECT,
  RESULT_BYTES,
  RESULT_DOUBLE,
  RESULT_NONE,
  RESULT_ERROR,
  RESULT_FALSE_NO_ERROR,
} ResultKind;

static gboolean
typed_func (GValue        *result,
            GCancellable  *cancellable,
            gpointer       user_data,
            GError       **error)
{
  switch (GPOINTER_TO_INT (user_data))
    {
    case RESULT_INT:
      g_value_init (result, G_TYPE_INT);
      g_value_set_int (result, 42);
      return TRUE;
    case RESULT_STRING:
      g_value_init (result, G_TYPE_STRING);
      g_value_set_string (result, "from a worker");
      return TRUE;
    case RESULT_OBJECT:
      g_value_init (result, G_TYPE_CANCELLABLE);
      g_value_take_object (result, g_cancellable_new ());
      return TRUE;
    case RESULT_BYTES:
      g_value_init (result, G_TYPE_BYTES);
      g_value_take_boxed (result, g_bytes_new_static ("abc", 3));
      return TRUE;
    case RESULT_DOUBLE:
      g_value_init (result, G_TYPE_DOUBLE);
      g_value_set_double (result, 2.5);
      return TRUE;
    case RESULT_NONE:
      return TRUE;
    case RESULT_ERROR:
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "no such thing");
      return FALSE;
    case RESULT_FALSE_NO_ERROR:
    default:
      return FALSE;
    }
}

static void
run_typed (EvlLoop    *loop,
           ResultKind  kind,
           GValue     *value,
           GError    **error,
           gboolean   *ok)
{
  EvlTestWaiter w;

  evl_test_waiter_init (&w, loop);
  evl_loop_run_in_executor_async (loop, typed_func, GINT_TO_POINTER (kind), NULL,
                                  NULL, evl_test_waiter_cb, &w);
  g_assert_false (w.done);
  evl_test_waiter_wait (&w);
  *ok = evl_loop_run_in_executor_finish (loop, w.result, value, error);
  evl_test_waiter_clear (&w);
}

/* Tests ------------------------------------------------------------------ */

static void
test_types (void)
{
  EvlLoop *loop;
  GValue value = G_VALUE_INIT;
  GError *error = NULL;
  gboolean ok;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);

  run_typed (loop, RESULT_INT, &value, &error, &ok);
  g_assert_no_error (error);
  g_assert_true (ok);
  g_assert_true (G_VALUE_HOLDS_INT (&value));
  g_assert_cmpint (g_value_get_int (&value), ==, 42);
  g_value_unset (&value);

  run_typed (loop, RESULT_STRING, &value, &error, &ok);
  g_assert_true (ok);
  g_assert_cmpstr (g_value_get_string (&value), ==, "from a worker");
  g_value_unset (&value);

  run_typed (loop, RESULT_OBJECT, &value, &error, &ok);
  g_assert_true (ok);
  g_assert_true (G_IS_CANCELLABLE (g_value_get_object (&value)));
  g_value_unset (&value);

  run_typed (loop, RESULT_BYTES, &value, &error, &ok);
  g_assert_true (ok);
  g_assert_cmpuint (g_bytes_get_size (g_value_get_boxed (&value)), ==, 3);
  g_value_unset (&value);

  run_typed (loop, RESULT_DOUBLE, &value, &error, &ok);
  g_assert_true (ok);
  g_assert_cmpfloat (g_value_get_double (&value), ==, 2.5);
  g_value_unset (&value);

  /* No value: a G_TYPE_POINTER holding NULL, as futures do. */
  run_typed (loop, RESULT_NONE, &value, &error, &ok);
  g_assert_true (ok);
  g_assert_true (G_VALUE_HOLDS_POINTER (&value));
  g_assert_null (g_value_get_pointer (&value));
  g_value_unset (&value);

  /* The value is optional. */
  run_typed (loop, RESULT_STRING, NULL, &error, &ok);
  g_assert_true (ok);

  evl_test_close_loop (loop);
}

static void
test_errors (void)
{
  EvlLoop *loop;
  GValue value = G_VALUE_INIT;
  GError *error = NULL;
  gboolean ok;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);

  run_typed (loop, RESULT_ERROR, &value, &error, &ok);
  g_assert_false (ok);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_assert_false (G_IS_VALUE (&value));
  g_clear_error (&error);

  /* FALSE without an error still fails with one. */
  run_typed (loop, RESULT_FALSE_NO_ERROR, &value, &error, &ok);
  g_assert_false (ok);
  g_assert_error (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_FAILED);
  g_clear_error (&error);

  evl_test_close_loop (loop);
}

typedef struct
{
  EvlLoop *loop;
  GThread *loop_thread;
  guint    n_done;
  guint    n_notified;
  guint    n_wrong;
  guint    n_worker_on_loop_thread;
  guint    sum;
  guint    n;
  gboolean all_done;
} Many;

typedef struct
{
  Many *many;
  guint index;
} ManyItem;

static gboolean
many_func (GValue        *result,
           GCancellable  *cancellable,
           gpointer       user_data,
           GError       **error)
{
  ManyItem *item = user_data;

  if (g_thread_self () == item->many->loop_thread)
    g_atomic_int_inc (&item->many->n_worker_on_loop_thread);
  g_value_init (result, G_TYPE_UINT);
  g_value_set_uint (result, item->index * 2);
  return TRUE;
}

static void
many_notify (gpointer data)
{
  ManyItem *item = data;

  /* On the loop's thread, as bindings need. */
  if (g_thread_self () != item->many->loop_thread)
    item->many->n_wrong++;
  g_atomic_int_inc (&item->many->n_notified);
  g_free (item);
}

static void
many_cb (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  Many *many = user_data;
  GValue value = G_VALUE_INIT;
  GError *error = NULL;

  if (g_thread_self () != many->loop_thread || evl_get_running_loop () != many->loop)
    many->n_wrong++;
  g_assert_true (evl_loop_run_in_executor_finish (many->loop, result, &value, &error));
  g_assert_no_error (error);
  many->sum += g_value_get_uint (&value);
  g_value_unset (&value);
  many->n_done++;
  if (many->n_done == many->n)
    many->all_done = TRUE;
}

static void
test_many (void)
{
  EvlLoop *loop;
  Many many = { 0 };
  guint n = 1000, i, expected = 0;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);

  many.loop = loop;
  many.n = n;
  many.loop_thread = g_thread_self ();
  for (i = 0; i < n; i++)
    {
      ManyItem *item = g_new0 (ManyItem, 1);

      item->many = &many;
      item->index = i;
      expected += i * 2;
      evl_loop_run_in_executor_async (loop, many_func, item, many_notify, NULL, many_cb, &many);
    }
  g_assert_true (evl_test_run_until_flag (loop, &many.all_done, 60.0));
  g_assert_cmpuint (many.n_done, ==, n);
  g_assert_cmpuint (many.n_wrong, ==, 0);
  g_assert_cmpuint (many.n_worker_on_loop_thread, ==, 0);
  g_assert_cmpuint (many.sum, ==, expected);
  wait_counter (loop, &many.n_notified, n);
  g_assert_cmpuint (many.n_wrong, ==, 0);

  evl_test_close_loop (loop);
}

static void
test_cancel (void)
{
  EvlLoop *loop;
  GCancellable *cancellable;
  Gate gate;
  EvlTestWaiter w;
  GError *error = NULL;
  GValue value = G_VALUE_INIT;
  double start;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  gate_init (&gate);

  /* Cancelled while the function runs: the callback does not wait. */
  cancellable = g_cancellable_new ();
  evl_test_waiter_init (&w, loop);
  evl_loop_run_in_executor_async (loop, gated_func, &gate, gate_notify, cancellable,
                                  evl_test_waiter_cb, &w);
  gate_wait_waiting (&gate, 1);
  start = evl_loop_time (loop);
  g_cancellable_cancel (cancellable);
  evl_test_waiter_wait (&w);
  g_assert_cmpfloat (evl_loop_time (loop) - start, <, 5.0);
  g_assert_false (evl_loop_run_in_executor_finish (loop, w.result, &value, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);
  evl_test_waiter_clear (&w);
  g_assert_cmpuint (gate.ran, ==, 0);

  /* The late result is dropped (the object it holds is freed), and the
   * callback does not run again. */
  gate_open (&gate);
  wait_counter (loop, &gate.notified, 1);
  g_assert_true (gate.saw_cancel);
  g_assert_cmpuint (gate.ran, ==, 1);
  evl_test_run_once (loop);
  evl_test_run_once (loop);
  g_assert_cmpuint (w.n_calls, ==, 1);
  g_object_unref (cancellable);

  /* Cancelled before the call: the function never runs. */
  cancellable = g_cancellable_new ();
  g_cancellable_cancel (cancellable);
  evl_test_waiter_init (&w, loop);
  evl_loop_run_in_executor_async (loop, gated_func, &gate, gate_notify, cancellable,
                                  evl_test_waiter_cb, &w);
  g_assert_cmpuint (gate.notified, ==, 2);
  evl_test_waiter_wait (&w);
  g_assert_false (evl_loop_run_in_executor_finish (loop, w.result, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);
  evl_test_waiter_clear (&w);
  g_object_unref (cancellable);
  g_assert_cmpuint (gate.ran, ==, 1);

  evl_test_close_loop (loop);
  gate_clear (&gate);
}

static gpointer
cancel_thread (gpointer data)
{
  g_usleep (20000);
  g_cancellable_cancel (data);
  return NULL;
}

static void
test_cancel_from_thread (void)
{
  EvlLoop *loop;
  GCancellable *cancellable;
  GThread *thread;
  Gate gate;
  EvlTestWaiter w;
  GError *error = NULL;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  cancellable = g_cancellable_new ();
  gate_init (&gate);

  evl_test_waiter_init (&w, loop);
  evl_loop_run_in_executor_async (loop, gated_func, &gate, gate_notify, cancellable,
                                  evl_test_waiter_cb, &w);
  thread = g_thread_new ("cancel", cancel_thread, cancellable);
  evl_test_waiter_wait (&w);
  g_assert_false (evl_loop_run_in_executor_finish (loop, w.result, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);
  evl_test_waiter_clear (&w);
  g_thread_join (thread);

  gate_open (&gate);
  wait_counter (loop, &gate.notified, 1);
  g_object_unref (cancellable);
  evl_test_close_loop (loop);
  gate_clear (&gate);
}

static void
test_future (void)
{
  EvlLoop *loop;
  EvlFuture *future;
  GValue value = G_VALUE_INIT;
  GError *error = NULL;
  Gate gate;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);

  future = evl_loop_run_in_executor (loop, typed_func, GINT_TO_POINTER (RESULT_STRING), NULL);
  g_assert_nonnull (future);
  g_assert_true (evl_loop_run_until_complete (loop, future, &error));
  g_assert_no_error (error);
  g_assert_true (evl_future_get_result (future, &value, &error));
  g_assert_cmpstr (g_value_get_string (&value), ==, "from a worker");
  g_value_unset (&value);
  g_object_unref (future);

  future = evl_loop_run_in_executor (loop, typed_func, GINT_TO_POINTER (RESULT_ERROR), NULL);
  g_assert_false (evl_loop_run_until_complete (loop, future, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_object_unref (future);

  /* Cancelling the future cancels the job. */
  gate_init (&gate);
  future = evl_loop_run_in_executor (loop, gated_func, &gate, gate_notify);
  gate_wait_waiting (&gate, 1);
  g_assert_true (evl_future_cancel (future));
  g_assert_false (evl_loop_run_until_complete (loop, future, &error));
  g_assert_error (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_CANCELLED);
  g_clear_error (&error);
  /* The job's own cancellable is cancelled from a done callback. */
  evl_test_run_once (loop);
  evl_test_run_once (loop);
  gate_open (&gate);
  wait_counter (loop, &gate.notified, 1);
  g_assert_true (gate.saw_cancel);
  g_object_unref (future);

  evl_test_close_loop (loop);
  gate_clear (&gate);
}

static void
count_cb (GObject      *source,
          GAsyncResult *result,
          gpointer      user_data)
{
  GError *error = NULL;

  g_assert_false (evl_loop_run_in_executor_finish (EVL_LOOP (source), result, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_error_free (error);
  evl_test_count (user_data);
}

static void
test_close_in_flight (void)
{
  EvlLoop *loop;
  EvlLoop *weak;
  EvlFuture *future;
  Gate gate;
  guint n_cb = 0, i;
  GError *error = NULL;
  guint max = evl_executor_get_max_threads ();

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  gate_init (&gate);

  /* More jobs than workers: some run (blocked at the gate), some wait. */
  for (i = 0; i < max + 4; i++)
    evl_loop_run_in_executor_async (loop, gated_func, &gate, gate_notify, NULL, count_cb, &n_cb);
  future = evl_loop_run_in_executor (loop, gated_func, &gate, gate_notify);
  gate_wait_waiting (&gate, 1);
  evl_test_run_once (loop);
  g_assert_cmpuint (n_cb, ==, 0);

  /* Closing ends every job at once (the callbacks run from close), and the
   * loop does not wait for its workers: it is finalized at once. */
  g_assert_true (evl_loop_close (loop, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (n_cb, ==, max + 4);
  g_assert_true (evl_future_is_cancelled (future));
  g_object_unref (future);
  weak = loop;
  g_object_add_weak_pointer (G_OBJECT (loop), (gpointer *) &weak);
  g_object_unref (loop);
  g_assert_null (weak);

  /* The workers finish; their late results are dropped. */
  gate_open (&gate);
  wait_counter (NULL, &gate.notified, max + 5);
  g_assert_true (gate.saw_cancel);
  g_assert_cmpuint (n_cb, ==, max + 4);
  gate_clear (&gate);
}

static void
test_closed (void)
{
  EvlLoop *loop;
  EvlTestWaiter w;
  GError *error = NULL;
  guint notified = 0;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  g_assert_true (evl_loop_close (loop, NULL));

  /* On a closed loop the callback runs at once with CLOSED. */
  evl_test_waiter_init (&w, loop);
  evl_loop_run_in_executor_async (loop, typed_func, GINT_TO_POINTER (RESULT_INT),
                                  NULL, NULL, evl_test_waiter_cb, &w);
  g_assert_true (w.done);
  g_assert_cmpuint (notified, ==, 0);
  g_assert_false (evl_loop_run_in_executor_finish (loop, w.result, NULL, &error));
  g_assert_error (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_CLOSED);
  g_clear_error (&error);
  evl_test_waiter_clear (&w);

  evl_test_waiter_init (&w, loop);
  evl_loop_run_in_executor_async (loop, typed_func, &notified, evl_test_count,
                                  NULL, evl_test_waiter_cb, &w);
  g_assert_cmpuint (notified, ==, 1);
  evl_test_waiter_clear (&w);

  g_test_expect_message (G_LOG_DOMAIN, G_LOG_LEVEL_CRITICAL, "*closed*");
  g_assert_null (evl_loop_run_in_executor (loop, typed_func, &notified, evl_test_count));
  g_test_assert_expected_messages ();
  g_assert_cmpuint (notified, ==, 2);

  evl_test_close_loop (loop);
}

static void
test_max_threads (void)
{
  guint old = evl_executor_get_max_threads ();

  g_assert_cmpuint (old, >=, 1);
  g_assert_cmpuint (old, <=, 32);
  evl_executor_set_max_threads (3);
  g_assert_cmpuint (evl_executor_get_max_threads (), ==, 3);
  evl_executor_set_max_threads (old);
  g_assert_cmpuint (evl_executor_get_max_threads (), ==, old);
}

int
main (int   argc,
      char *argv[])
{
  evl_test_init (&argc, &argv);
  evl_test_watchdog_start (100);

  g_test_add_func ("/Evl/Executor/types", test_types);
  g_test_add_func ("/Evl/Executor/errors", test_errors);
  g_test_add_func ("/Evl/Executor/many", test_many);
  g_test_add_func ("/Evl/Executor/cancel", test_cancel);
  g_test_add_func ("/Evl/Executor/cancel-from-thread", test_cancel_from_thread);
  g_test_add_func ("/Evl/Executor/future", test_future);
  g_test_add_func ("/Evl/Executor/close-in-flight", test_close_in_flight);
  g_test_add_func ("/Evl/Executor/closed", test_closed);
  g_test_add_func ("/Evl/Executor/max-threads", test_max_threads);

  return g_test_run ();
}
