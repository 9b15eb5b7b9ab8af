/* wait-signal.c: tests of wait_signal, on the loop kind under test
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "evl-test-util.h"

/* An object with signals of every shape the tests need. */

#define TEST_TYPE_EMITTER (test_emitter_get_type ())
G_DECLARE_FINAL_TYPE (TestEmitter, test_emitter, TEST, EMITTER, GObject)

struct _TestEmitter
{
  GObject parent_instance;
  int     prop;
  int     other;
};

enum { PROP_0, PROP_PROP, PROP_OTHER, N_PROPS };
enum { SIGNAL_PING, SIGNAL_BARE, SIGNAL_ASK, N_SIGNALS };

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (TestEmitter, test_emitter, G_TYPE_OBJECT)

static void
test_emitter_get_property (GObject    *object,
                           guint       prop_id,
                           GValue     *value,
                           GParamSpec *pspec)
{
  TestEmitter *self = TEST_EMITTER (object);

  g_value_set_int (value, prop_id == PROP_PROP ? self->prop : self->other);
}

static void
test_emitter_set_property (GObject      *object,
                           guint         prop_id,
                           const GValue *value,
                           GParamSpec   *pspec)
{
  TestEmitter *self = TEST_EMITTER (object);

  if (prop_id == PROP_PROP)
    self->prop = g_value_get_int (value);
  else
    self->other = g_value_get_int (value);
}

static void
test_emitter_class_init (TestEmitterClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->get_property = test_emitter_get_property;
  object_class->set_property = test_emitter_set_property;
  properties[PROP_PROP] = g_param_spec_int ("prop", NULL, NULL, 0, 100, 0, G_PARAM_READWRITE);
  properties[PROP_OTHER] = g_param_spec_int ("other", NULL, NULL, 0, 100, 0, G_PARAM_READWRITE);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  signals[SIGNAL_PING] = g_signal_new ("ping", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                       0, NULL, NULL, NULL, G_TYPE_NONE,
                                       3, G_TYPE_INT, G_TYPE_STRING, G_TYPE_OBJECT);
  signals[SIGNAL_BARE] = g_signal_new ("bare", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                       0, NULL, NULL, NULL, G_TYPE_NONE, 0);
  signals[SIGNAL_ASK] = g_signal_new ("ask", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                      0, NULL, NULL, NULL, G_TYPE_BOOLEAN, 1, G_TYPE_DOUBLE);
}

static void
test_emitter_init (TestEmitter *self)
{
}

/* Helpers ---------------------------------------------------------------- */

static void
free_values (GValue *values,
             guint   n_values)
{
  guint i;

  for (i = 0; i < n_values; i++)
    g_value_unset (&values[i]);
  g_free (values);
}

static gboolean
has_handler (gpointer    instance,
             const char *detailed_signal)
{
  guint signal_id;
  GQuark detail;

  g_assert_true (g_signal_parse_name (detailed_signal, G_OBJECT_TYPE (instance),
                                      &signal_id, &detail, TRUE));
  return g_signal_has_handler_pending (instance, signal_id, detail, FALSE);
}

/* Tests ------------------------------------------------------------------ */

static void
test_args (void)
{
  EvlLoop *loop;
  TestEmitter *emitter;
  GObject *payload;
  GValue *values = NULL;
  guint n_values = 0;
  GError *error = NULL;
  EvlTestWaiter w;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  emitter = g_object_new (TEST_TYPE_EMITTER, NULL);
  payload = g_object_new (G_TYPE_OBJECT, NULL);

  evl_test_waiter_init (&w, loop);
  evl_loop_wait_signal_async (loop, emitter, "ping", NULL, evl_test_waiter_cb, &w);
  g_assert_true (has_handler (emitter, "ping"));
  evl_test_run_once (loop);
  g_assert_false (w.done);

  g_signal_emit (emitter, signals[SIGNAL_PING], 0, 42, "hello", payload);
  /* Never from inside the emission. */
  g_assert_false (w.done);
  g_assert_false (has_handler (emitter, "ping"));
  evl_test_waiter_wait (&w);

  g_assert_true (evl_loop_wait_signal_finish (loop, w.result, &values, &n_values, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (n_values, ==, 3);
  g_assert_cmpint (g_value_get_int (&values[0]), ==, 42);
  g_assert_cmpstr (g_value_get_string (&values[1]), ==, "hello");
  g_assert_true (g_value_get_object (&values[2]) == payload);
  free_values (values, n_values);
  evl_test_waiter_clear (&w);

  /* The values are optional, and a signal may have none. */
  evl_test_waiter_init (&w, loop);
  evl_loop_wait_signal_async (loop, emitter, "bare", NULL, evl_test_waiter_cb, &w);
  g_signal_emit (emitter, signals[SIGNAL_BARE], 0);
  evl_test_waiter_wait (&w);
  g_assert_true (evl_loop_wait_signal_finish (loop, w.result, &values, &n_values, &error));
  g_assert_cmpuint (n_values, ==, 0);
  g_assert_null (values);
  evl_test_waiter_clear (&w);

  evl_test_waiter_init (&w, loop);
  evl_loop_wait_signal_async (loop, emitter, "ping", NULL, evl_test_waiter_cb, &w);
  g_signal_emit (emitter, signals[SIGNAL_PING], 0, 1, NULL, NULL);
  evl_test_waiter_wait (&w);
  g_assert_true (evl_loop_wait_signal_finish (loop, w.result, NULL, NULL, &error));
  evl_test_waiter_clear (&w);

  /* A signal with a return value: ours leaves it alone. */
  evl_test_waiter_init (&w, loop);
  evl_loop_wait_signal_async (loop, emitter, "ask", NULL, evl_test_waiter_cb, &w);
  {
    gboolean answer = TRUE;

    g_signal_emit (emitter, signals[SIGNAL_ASK], 0, 0.5, &answer);
    g_assert_false (answer);
  }
  evl_test_waiter_wait (&w);
  g_assert_true (evl_loop_wait_signal_finish (loop, w.result, &values, &n_values, &error));
  g_assert_cmpuint (n_values, ==, 1);
  g_assert_cmpfloat (g_value_get_double (&values[0]), ==, 0.5);
  free_values (values, n_values);
  evl_test_waiter_clear (&w);

  g_object_unref (payload);
  g_object_unref (emitter);
  evl_test_close_loop (loop);
}

static void
test_first_only (void)
{
  EvlLoop *loop;
  TestEmitter *emitter;
  GValue *values = NULL;
  guint n_values = 0;
  GError *error = NULL;
  EvlTestWaiter w;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  emitter = g_object_new (TEST_TYPE_EMITTER, NULL);

  evl_test_waiter_init (&w, loop);
  evl_loop_wait_signal_async (loop, emitter, "ping", NULL, evl_test_waiter_cb, &w);
  g_signal_emit (emitter, signals[SIGNAL_PING], 0, 1, "first", NULL);
  g_signal_emit (emitter, signals[SIGNAL_PING], 0, 2, "second", NULL);
  evl_test_waiter_wait (&w);
  evl_test_run_once (loop);
  g_signal_emit (emitter, signals[SIGNAL_PING], 0, 3, "third", NULL);
  evl_test_run_once (loop);
  g_assert_cmpuint (w.n_calls, ==, 1);
  g_assert_true (evl_loop_wait_signal_finish (loop, w.result, &values, &n_values, &error));
  g_assert_cmpint (g_value_get_int (&values[0]), ==, 1);
  g_assert_cmpstr (g_value_get_string (&values[1]), ==, "first");
  free_values (values, n_values);
  evl_test_waiter_clear (&w);

  g_object_unref (emitter);
  evl_test_close_loop (loop);
}

static void
test_notify_detail (void)
{
  EvlLoop *loop;
  TestEmitter *emitter;
  GValue *values = NULL;
  guint n_values = 0;
  GError *error = NULL;
  EvlTestWaiter w;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  emitter = g_object_new (TEST_TYPE_EMITTER, NULL);

  evl_test_waiter_init (&w, loop);
  evl_loop_wait_signal_async (loop, emitter, "notify::prop", NULL, evl_test_waiter_cb, &w);
  g_object_set (emitter, "other", 5, NULL);
  evl_test_run_once (loop);
  evl_test_run_once (loop);
  g_assert_false (w.done);
  g_assert_true (has_handler (emitter, "notify::prop"));

  g_object_set (emitter, "prop", 7, NULL);
  evl_test_waiter_wait (&w);
  g_assert_true (evl_loop_wait_signal_finish (loop, w.result, &values, &n_values, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (n_values, ==, 1);
  g_assert_true (G_VALUE_HOLDS_PARAM (&values[0]));
  g_assert_cmpstr (g_param_spec_get_name (g_value_get_param (&values[0])), ==, "prop");
  free_values (values, n_values);
  evl_test_waiter_clear (&w);
  g_assert_false (has_handler (emitter, "notify::prop"));

  g_object_unref (emitter);
  evl_test_close_loop (loop);
}

static void
test_cancel (void)
{
  EvlLoop *loop;
  TestEmitter *emitter;
  GCancellable *cancellable;
  GError *error = NULL;
  EvlTestWaiter w;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  emitter = g_object_new (TEST_TYPE_EMITTER, NULL);

  cancellable = g_cancellable_new ();
  evl_test_waiter_init (&w, loop);
  evl_loop_wait_signal_async (loop, emitter, "ping", cancellable, evl_test_waiter_cb, &w);
  evl_test_run_once (loop);
  g_cancellable_cancel (cancellable);
  evl_test_waiter_wait (&w);
  g_assert_false (evl_loop_wait_signal_finish (loop, w.result, NULL, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);
  g_assert_false (has_handler (emitter, "ping"));
  evl_test_waiter_clear (&w);

  /* Emitted after the cancellation, before the callback ran: still
   * cancelled, as GIO promises. */
  g_cancellable_reset (cancellable);
  evl_test_waiter_init (&w, loop);
  evl_loop_wait_signal_async (loop, emitter, "ping", cancellable, evl_test_waiter_cb, &w);
  g_cancellable_cancel (cancellable);
  g_signal_emit (emitter, signals[SIGNAL_PING], 0, 1, "late", NULL);
  evl_test_waiter_wait (&w);
  g_assert_false (evl_loop_wait_signal_finish (loop, w.result, NULL, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);
  evl_test_waiter_clear (&w);

  /* Already cancelled. */
  evl_test_waiter_init (&w, loop);
  evl_loop_wait_signal_async (loop, emitter, "ping", cancellable, evl_test_waiter_cb, &w);
  g_assert_false (has_handler (emitter, "ping"));
  evl_test_waiter_wait (&w);
  g_assert_false (evl_loop_wait_signal_finish (loop, w.result, NULL, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);
  evl_test_waiter_clear (&w);

  g_object_unref (cancellable);
  g_object_unref (emitter);
  evl_test_close_loop (loop);
}

static void
test_destroyed (void)
{
  EvlLoop *loop;
  TestEmitter *emitter;
  GError *error = NULL;
  EvlTestWaiter w;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  emitter = g_object_new (TEST_TYPE_EMITTER, NULL);

  evl_test_waiter_init (&w, loop);
  evl_loop_wait_signal_async (loop, emitter, "ping", NULL, evl_test_waiter_cb, &w);
  /* The wait does not keep the object alive. */
  g_object_add_weak_pointer (G_OBJECT (emitter), (gpointer *) &emitter);
  g_object_unref (emitter);
  g_assert_null (emitter);
  g_assert_false (w.done);
  evl_test_waiter_wait (&w);
  g_assert_false (evl_loop_wait_signal_finish (loop, w.result, NULL, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED);
  g_test_message ("%s", error->message);
  g_clear_error (&error);
  evl_test_waiter_clear (&w);

  evl_test_close_loop (loop);
}

static gpointer
emit_thread (gpointer data)
{
  g_usleep (10000);
  g_signal_emit (data, signals[SIGNAL_PING], 0, 99, "from a thread", NULL);
  return NULL;
}

static void
test_thread (void)
{
  EvlLoop *loop;
  TestEmitter *emitter;
  GValue *values = NULL;
  guint n_values = 0;
  GError *error = NULL;
  GThread *thread;
  EvlTestWaiter w;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  emitter = g_object_new (TEST_TYPE_EMITTER, NULL);

  evl_test_waiter_init (&w, loop);
  evl_loop_wait_signal_async (loop, emitter, "ping", NULL, evl_test_waiter_cb, &w);
  thread = g_thread_new ("emit", emit_thread, emitter);
  evl_test_waiter_wait (&w);
  g_thread_join (thread);
  g_assert_true (evl_loop_wait_signal_finish (loop, w.result, &values, &n_values, &error));
  g_assert_cmpint (g_value_get_int (&values[0]), ==, 99);
  free_values (values, n_values);
  evl_test_waiter_clear (&w);

  g_object_unref (emitter);
  evl_test_close_loop (loop);
}

static void
test_invalid (void)
{
  EvlLoop *loop;
  TestEmitter *emitter;
  GError *error = NULL;
  EvlTestWaiter w;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  emitter = g_object_new (TEST_TYPE_EMITTER, NULL);

  evl_test_waiter_init (&w, loop);
  evl_loop_wait_signal_async (loop, emitter, "no-such-signal", NULL, evl_test_waiter_cb, &w);
  evl_test_waiter_wait (&w);
  g_assert_false (evl_loop_wait_signal_finish (loop, w.result, NULL, NULL, &error));
  g_assert_error (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_INVALID);
  g_test_message ("%s", error->message);
  g_clear_error (&error);
  evl_test_waiter_clear (&w);

  /* A detail on a signal that takes none. */
  evl_test_waiter_init (&w, loop);
  evl_loop_wait_signal_async (loop, emitter, "ping::detail", NULL, evl_test_waiter_cb, &w);
  evl_test_waiter_wait (&w);
  g_assert_false (evl_loop_wait_signal_finish (loop, w.result, NULL, NULL, &error));
  g_assert_error (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_INVALID);
  g_clear_error (&error);
  evl_test_waiter_clear (&w);

  g_object_unref (emitter);
  evl_test_close_loop (loop);
}

static void
test_close (void)
{
  EvlLoop *loop;
  TestEmitter *emitter;
  GError *error = NULL;
  EvlTestWaiter w;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  emitter = g_object_new (TEST_TYPE_EMITTER, NULL);

  /* Closing the loop ends the wait from close(), and disconnects. */
  evl_test_waiter_init (&w, loop);
  evl_loop_wait_signal_async (loop, emitter, "ping", NULL, evl_test_waiter_cb, &w);
  g_assert_true (evl_loop_close (loop, NULL));
  g_assert_true (w.done);
  g_assert_false (evl_loop_wait_signal_finish (loop, w.result, NULL, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);
  evl_test_waiter_clear (&w);
  g_assert_false (has_handler (emitter, "ping"));

  /* On a closed loop: CLOSED at once. */
  evl_test_waiter_init (&w, loop);
  evl_loop_wait_signal_async (loop, emitter, "ping", NULL, evl_test_waiter_cb, &w);
  g_assert_true (w.done);
  g_assert_false (evl_loop_wait_signal_finish (loop, w.result, NULL, NULL, &error));
  g_assert_error (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_CLOSED);
  g_clear_error (&error);
  evl_test_waiter_clear (&w);

  g_signal_emit (emitter, signals[SIGNAL_PING], 0, 1, "after", NULL);
  g_object_unref (emitter);
  evl_test_close_loop (loop);
}

int
main (int   argc,
      char *argv[])
{
  evl_test_init (&argc, &argv);
  evl_test_watchdog_start (60);

  g_test_add_func ("/Evl/WaitSignal/args", test_args);
  g_test_add_func ("/Evl/WaitSignal/first-only", test_first_only);
  g_test_add_func ("/Evl/WaitSignal/notify-detail", test_notify_detail);
  g_test_add_func ("/Evl/WaitSignal/cancel", test_cancel);
  g_test_add_func ("/Evl/WaitSignal/destroyed", test_destroyed);
  g_test_add_func ("/Evl/WaitSignal/thread", test_thread);
  g_test_add_func ("/Evl/WaitSignal/invalid", test_invalid);
  g_test_add_func ("/Evl/WaitSignal/close", test_close);

  return g_test_run ();
}
