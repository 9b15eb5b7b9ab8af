/* future.c: tests of EvlFuture
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <evloop-glib/evloop-glib.h>

#include "evl-test-util.h"

/* Helpers ---------------------------------------------------------------- */

/* Run one iteration: every callback scheduled before this call runs. */
static void
run_once (EvlLoop *loop)
{
  GError *error = NULL;

  evl_loop_call_soon (loop, evl_test_stop_cb, loop, NULL);
  evl_loop_run_forever (loop, &error);
  g_assert_no_error (error);
}

static void
close_loop (EvlLoop *loop)
{
  GError *error = NULL;

  g_assert_true (evl_loop_close (loop, &error));
  g_assert_no_error (error);
  g_object_unref (loop);
}

/* Records the calls of done callbacks and of their notifies. */
typedef struct
{
  GString   *log;       /* "c<id>" per callback, "n<id>" per notify */
  EvlFuture *expected;  /* the future the callback must receive */
} Recorder;

typedef struct
{
  Recorder *rec;
  char      id;
  guint     n_called;
  guint     n_notified;
} Probe;

static void
probe_cb (EvlFuture *future,
          gpointer   user_data)
{
  Probe *p = user_data;

  g_assert_true (EVL_IS_FUTURE (future));
  if (p->rec->expected != NULL)
    g_assert_true (future == p->rec->expected);
  g_assert_true (evl_future_is_done (future));
  /* the notify of this registration has not run yet */
  g_assert_cmpuint (p->n_notified, <=, p->n_called);
  p->n_called++;
  g_string_append_printf (p->rec->log, "c%c", p->id);
}

static void
probe_notify (gpointer user_data)
{
  Probe *p = user_data;

  p->n_notified++;
  g_string_append_printf (p->rec->log, "n%c", p->id);
}

static void
recorder_init (Recorder  *rec,
               EvlFuture *expected)
{
  rec->log = g_string_new (NULL);
  rec->expected = expected;
}

static void
recorder_clear (Recorder *rec)
{
  g_string_free (rec->log, TRUE);
}

/* Counts calls of a loop's exception handler. */
typedef struct
{
  guint   n_calls;
  GQuark  domain;
  int     code;
  char   *message;
  char   *context;
  guint   n_notified;
} ExceptionLog;

static void
exception_handler (EvlLoop      *loop,
                   const GError *error,
                   const char   *message,
                   gpointer      user_data)
{
  ExceptionLog *log = user_data;

  log->n_calls++;
  g_assert_nonnull (error);
  log->domain = error->domain;
  log->code = error->code;
  g_free (log->message);
  log->message = g_strdup (error->message);
  g_free (log->context);
  log->context = g_strdup (message);
}

static void
exception_log_notify (gpointer user_data)
{
  ExceptionLog *log = user_data;

  log->n_notified++;
}

static void
exception_log_clear (ExceptionLog *log)
{
  g_clear_pointer (&log->message, g_free);
  g_clear_pointer (&log->context, g_free);
}

static void
count_notify (GObject    *object,
              GParamSpec *pspec,
              gpointer    user_data)
{
  guint *count = user_data;

  (*count)++;
}

static GError *
make_test_error (void)
{
  return g_error_new_literal (G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "timed out for the test");
}

/* State transitions ------------------------------------------------------ */

static void
test_new (void)
{
  EvlLoop *loop = evl_test_new_loop ();
  EvlFuture *future = evl_future_new (loop);
  EvlLoop *prop_loop = NULL;
  gboolean done = TRUE;
  GValue out = G_VALUE_INIT;
  GError *error = NULL;

  g_assert_true (EVL_IS_FUTURE (future));
  g_assert_true (evl_future_get_loop (future) == loop);
  g_object_get (future, "loop", &prop_loop, "done", &done, NULL);
  g_assert_true (prop_loop == loop);
  g_assert_false (done);
  g_object_unref (prop_loop);

  g_assert_false (evl_future_is_done (future));
  g_assert_false (evl_future_is_cancelled (future));
  g_assert_false (evl_future_get_result (future, &out, &error));
  g_assert_error (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_INVALID);
  g_assert_false (G_IS_VALUE (&out));
  g_clear_error (&error);

  g_object_unref (future);

  /* evl_loop_create_future() makes the same kind of future. */
  future = evl_loop_create_future (loop);
  g_assert_true (EVL_IS_FUTURE (future));
  g_assert_true (evl_future_get_loop (future) == loop);
  g_assert_false (evl_future_is_done (future));
  g_object_unref (future);

  close_loop (loop);
}

static void
test_future_keeps_loop (void)
{
  EvlLoop *loop = evl_test_new_loop ();
  EvlFuture *future = evl_future_new (loop);
  GWeakRef weak;
  EvlLoop *strong;

  g_weak_ref_init (&weak, loop);
  g_object_unref (loop);

  strong = g_weak_ref_get (&weak);
  g_assert_true (strong == evl_future_get_loop (future));
  g_object_unref (strong);

  g_object_ref (loop);
  g_object_unref (future);
  close_loop (loop);
  strong = g_weak_ref_get (&weak);
  g_assert_null (strong);
  g_weak_ref_clear (&weak);
}

static void
test_set_result (void)
{
  EvlLoop *loop = evl_test_new_loop ();
  EvlFuture *future = evl_future_new (loop);
  GValue value = G_VALUE_INIT;
  GValue out = G_VALUE_INIT;
  GError *error = NULL;
  GError *err = make_test_error ();
  guint n_done_notify = 0;
  gboolean done = FALSE;

  g_signal_connect (future, "notify::done", G_CALLBACK (count_notify), &n_done_notify);

  g_value_init (&value, G_TYPE_INT);
  g_value_set_int (&value, 42);
  g_assert_true (evl_future_set_result (future, &value, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (n_done_notify, ==, 1);

  g_assert_true (evl_future_is_done (future));
  g_assert_false (evl_future_is_cancelled (future));
  g_object_get (future, "done", &done, NULL);
  g_assert_true (done);

  /* A done future cannot be completed again, in any way. */
  g_value_set_int (&value, 7);
  g_assert_false (evl_future_set_result (future, &value, &error));
  g_assert_error (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_false (evl_future_set_result (future, NULL, &error));
  g_assert_error (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_false (evl_future_set_error (future, err, &error));
  g_assert_error (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_false (evl_future_cancel (future));
  g_assert_false (evl_future_is_cancelled (future));
  g_assert_cmpuint (n_done_notify, ==, 1);

  /* The first result stays, and can be read any number of times. */
  g_assert_true (evl_future_get_result (future, &out, &error));
  g_assert_no_error (error);
  g_assert_true (G_VALUE_HOLDS_INT (&out));
  g_assert_cmpint (g_value_get_int (&out), ==, 42);
  g_value_unset (&out);
  g_assert_true (evl_future_get_result (future, &out, &error));
  g_assert_cmpint (g_value_get_int (&out), ==, 42);
  g_value_unset (&out);
  g_assert_true (evl_future_get_result (future, NULL, &error));
  g_assert_no_error (error);

  g_value_unset (&value);
  g_error_free (err);
  g_object_unref (future);
  close_loop (loop);
}

static void
test_result_types (void)
{
  EvlLoop *loop = evl_test_new_loop ();
  EvlFuture *future;
  GValue value = G_VALUE_INIT;
  GValue out = G_VALUE_INIT;
  GError *error = NULL;
  char *str;
  GObject *obj;
  GWeakRef weak;

  /* string: the future stores its own copy */
  future = evl_future_new (loop);
  str = g_strdup ("hello");
  g_value_init (&value, G_TYPE_STRING);
  g_value_take_string (&value, str);
  g_assert_true (evl_future_set_result (future, &value, &error));
  g_assert_no_error (error);
  g_value_unset (&value);
  g_assert_true (evl_future_get_result (future, &out, &error));
  g_assert_no_error (error);
  g_assert_true (G_VALUE_HOLDS_STRING (&out));
  g_assert_cmpstr (g_value_get_string (&out), ==, "hello");
  g_value_unset (&out);
  g_object_unref (future);

  /* object: the future keeps a reference until it is finalized */
  future = evl_future_new (loop);
  obj = g_object_new (G_TYPE_OBJECT, NULL);
  g_weak_ref_init (&weak, obj);
  g_value_init (&value, G_TYPE_OBJECT);
  g_value_take_object (&value, obj);
  g_assert_true (evl_future_set_result (future, &value, &error));
  g_assert_no_error (error);
  g_value_unset (&value);
  g_assert_true (evl_future_get_result (future, &out, &error));
  g_assert_true (G_VALUE_HOLDS_OBJECT (&out));
  g_assert_true (g_value_get_object (&out) == obj);
  g_value_unset (&out);
  obj = g_weak_ref_get (&weak);
  g_assert_nonnull (obj);
  g_object_unref (obj);
  g_object_unref (future);
  obj = g_weak_ref_get (&weak);
  g_assert_null (obj);
  g_weak_ref_clear (&weak);

  /* boxed */
  future = evl_future_new (loop);
  g_value_init (&value, G_TYPE_BYTES);
  g_value_take_boxed (&value, g_bytes_new_static ("abc", 3));
  g_assert_true (evl_future_set_result (future, &value, &error));
  g_value_unset (&value);
  g_assert_true (evl_future_get_result (future, &out, &error));
  g_assert_true (G_VALUE_HOLDS (&out, G_TYPE_BYTES));
  g_assert_cmpuint (g_bytes_get_size (g_value_get_boxed (&out)), ==, 3);
  g_value_unset (&out);
  g_object_unref (future);

  /* no value: G_TYPE_POINTER holding NULL */
  future = evl_future_new (loop);
  g_assert_true (evl_future_set_result (future, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (evl_future_is_done (future));
  g_assert_true (evl_future_get_result (future, &out, &error));
  g_assert_no_error (error);
  g_assert_true (G_VALUE_HOLDS_POINTER (&out));
  g_assert_null (g_value_get_pointer (&out));
  g_value_unset (&out);
  g_object_unref (future);

  close_loop (loop);
}

static void
test_set_error (void)
{
  EvlLoop *loop = evl_test_new_loop ();
  EvlFuture *future = evl_future_new (loop);
  ExceptionLog log = { 0 };
  GValue value = G_VALUE_INIT;
  GValue out = G_VALUE_INIT;
  GError *err = make_test_error ();
  GError *error = NULL;
  guint n_done_notify = 0;

  evl_loop_set_exception_handler (loop, exception_handler, &log, exception_log_notify);
  g_signal_connect (future, "notify::done", G_CALLBACK (count_notify), &n_done_notify);

  g_assert_true (evl_future_set_error (future, err, &error));
  g_assert_no_error (error);
  /* the future stores a copy */
  g_error_free (err);
  g_assert_cmpuint (n_done_notify, ==, 1);
  g_assert_true (evl_future_is_done (future));
  g_assert_false (evl_future_is_cancelled (future));

  g_value_init (&value, G_TYPE_INT);
  g_assert_false (evl_future_set_result (future, &value, &error));
  g_assert_error (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_false (evl_future_cancel (future));
  g_assert_cmpuint (n_done_notify, ==, 1);

  g_assert_false (evl_future_get_result (future, &out, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_assert_cmpstr (error->message, ==, "timed out for the test");
  g_assert_false (G_IS_VALUE (&out));
  g_clear_error (&error);
  /* again: the error stays */
  g_assert_false (evl_future_get_result (future, &out, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_clear_error (&error);

  /* Retrieved: finalizing reports nothing. */
  g_object_unref (future);
  g_assert_cmpuint (log.n_calls, ==, 0);

  g_value_unset (&value);
  close_loop (loop);
  g_assert_cmpuint (log.n_notified, ==, 1);
  exception_log_clear (&log);
}

static void
test_cancel (void)
{
  EvlLoop *loop = evl_test_new_loop ();
  EvlFuture *future = evl_future_new (loop);
  GValue value = G_VALUE_INIT;
  GValue out = G_VALUE_INIT;
  GError *err = make_test_error ();
  GError *error = NULL;
  guint n_done_notify = 0;

  g_signal_connect (future, "notify::done", G_CALLBACK (count_notify), &n_done_notify);

  g_assert_true (evl_future_cancel (future));
  g_assert_cmpuint (n_done_notify, ==, 1);
  g_assert_true (evl_future_is_done (future));
  g_assert_true (evl_future_is_cancelled (future));

  g_assert_false (evl_future_cancel (future));
  g_assert_true (evl_future_is_cancelled (future));

  g_value_init (&value, G_TYPE_INT);
  g_assert_false (evl_future_set_result (future, &value, &error));
  g_assert_error (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_false (evl_future_set_error (future, err, &error));
  g_assert_error (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_cmpuint (n_done_notify, ==, 1);

  g_assert_false (evl_future_get_result (future, &out, &error));
  g_assert_error (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_CANCELLED);
  g_assert_false (G_IS_VALUE (&out));
  g_clear_error (&error);

  g_value_unset (&value);
  g_error_free (err);
  g_object_unref (future);
  close_loop (loop);
}

/* Done callbacks --------------------------------------------------------- */

static void
test_callbacks_scheduled (void)
{
  EvlLoop *loop = evl_test_new_loop ();
  EvlFuture *future = evl_future_new (loop);
  Recorder rec;
  Probe a, b, c;

  recorder_init (&rec, future);
  a = (Probe) { &rec, 'a', 0, 0 };
  b = (Probe) { &rec, 'b', 0, 0 };
  c = (Probe) { &rec, 'c', 0, 0 };

  evl_future_add_done_callback (future, probe_cb, &a, probe_notify);
  evl_future_add_done_callback (future, probe_cb, &b, probe_notify);
  evl_future_add_done_callback (future, probe_cb, &c, NULL);

  /* Nothing runs before completion, even when the loop iterates. */
  run_once (loop);
  g_assert_cmpstr (rec.log->str, ==, "");

  /* Nothing runs from inside set_result. */
  g_assert_true (evl_future_set_result (future, NULL, NULL));
  g_assert_cmpstr (rec.log->str, ==, "");

  /* One iteration runs them all, in registration order, each notify after
   * its callback. */
  run_once (loop);
  g_assert_cmpstr (rec.log->str, ==, "canacbnbcc");
  g_assert_cmpuint (a.n_called, ==, 1);
  g_assert_cmpuint (a.n_notified, ==, 1);
  g_assert_cmpuint (b.n_called, ==, 1);
  g_assert_cmpuint (b.n_notified, ==, 1);
  g_assert_cmpuint (c.n_called, ==, 1);
  g_assert_cmpuint (c.n_notified, ==, 0);

  /* They ran once only. */
  run_once (loop);
  g_assert_cmpstr (rec.log->str, ==, "canacbnbcc");

  g_object_unref (future);
  close_loop (loop);
  recorder_clear (&rec);
}

static void
test_callbacks_on_cancel_and_error (void)
{
  EvlLoop *loop = evl_test_new_loop ();
  ExceptionLog log = { 0 };
  EvlFuture *future;
  GError *err = make_test_error ();
  Recorder rec;
  Probe a;

  evl_loop_set_exception_handler (loop, exception_handler, &log, NULL);

  future = evl_future_new (loop);
  recorder_init (&rec, future);
  a = (Probe) { &rec, 'a', 0, 0 };
  evl_future_add_done_callback (future, probe_cb, &a, probe_notify);
  g_assert_true (evl_future_cancel (future));
  g_assert_cmpstr (rec.log->str, ==, "");
  run_once (loop);
  g_assert_cmpstr (rec.log->str, ==, "cana");
  g_object_unref (future);
  recorder_clear (&rec);

  future = evl_future_new (loop);
  recorder_init (&rec, future);
  a = (Probe) { &rec, 'a', 0, 0 };
  evl_future_add_done_callback (future, probe_cb, &a, probe_notify);
  g_assert_true (evl_future_set_error (future, err, NULL));
  g_assert_cmpstr (rec.log->str, ==, "");
  run_once (loop);
  g_assert_cmpstr (rec.log->str, ==, "cana");
  g_assert_false (evl_future_get_result (future, NULL, NULL));
  g_object_unref (future);
  recorder_clear (&rec);

  g_assert_cmpuint (log.n_calls, ==, 0);
  g_error_free (err);
  close_loop (loop);
  exception_log_clear (&log);
}

static void
test_callbacks_after_done (void)
{
  EvlLoop *loop = evl_test_new_loop ();
  EvlFuture *future = evl_future_new (loop);
  Recorder rec;
  Probe a, b;

  recorder_init (&rec, future);
  a = (Probe) { &rec, 'a', 0, 0 };
  b = (Probe) { &rec, 'b', 0, 0 };

  g_assert_true (evl_future_set_result (future, NULL, NULL));
  run_once (loop);

  /* Added after completion: scheduled at once, still not run inline. */
  evl_future_add_done_callback (future, probe_cb, &a, probe_notify);
  evl_future_add_done_callback (future, probe_cb, &b, probe_notify);
  g_assert_cmpstr (rec.log->str, ==, "");
  /* Already scheduled, so no longer registered. */
  g_assert_cmpuint (evl_future_remove_done_callback (future, probe_cb, &a), ==, 0);
  run_once (loop);
  g_assert_cmpstr (rec.log->str, ==, "canacbnb");

  g_object_unref (future);
  close_loop (loop);
  recorder_clear (&rec);
}

/* A callback that adds another one while callbacks run. */
typedef struct
{
  Probe *inner;
  guint  n_called;
} Adder;

static void
adder_cb (EvlFuture *future,
          gpointer   user_data)
{
  Adder *adder = user_data;

  adder->n_called++;
  evl_future_add_done_callback (future, probe_cb, adder->inner, probe_notify);
  /* Not run inline. */
  g_assert_cmpuint (adder->inner->n_called, ==, 0);
}

static void
test_callbacks_add_from_callback (void)
{
  EvlLoop *loop = evl_test_new_loop ();
  EvlFuture *future = evl_future_new (loop);
  Recorder rec;
  Probe a;
  Adder adder;

  recorder_init (&rec, future);
  a = (Probe) { &rec, 'a', 0, 0 };
  adder = (Adder) { &a, 0 };

  evl_future_add_done_callback (future, adder_cb, &adder, NULL);
  evl_future_set_result (future, NULL, NULL);
  run_once (loop);
  g_assert_cmpuint (adder.n_called, ==, 1);
  /* Scheduled while the ready queue ran: it waits for the next iteration. */
  g_assert_cmpuint (a.n_called, ==, 0);
  run_once (loop);
  g_assert_cmpstr (rec.log->str, ==, "cana");

  g_object_unref (future);
  close_loop (loop);
  recorder_clear (&rec);
}

static void
test_callbacks_remove (void)
{
  EvlLoop *loop = evl_test_new_loop ();
  EvlFuture *future = evl_future_new (loop);
  Recorder rec;
  Probe a, b;

  recorder_init (&rec, future);
  a = (Probe) { &rec, 'a', 0, 0 };
  b = (Probe) { &rec, 'b', 0, 0 };

  evl_future_add_done_callback (future, probe_cb, &a, probe_notify);
  evl_future_add_done_callback (future, probe_cb, &b, probe_notify);
  evl_future_add_done_callback (future, probe_cb, &a, probe_notify);
  evl_future_add_done_callback (future, probe_cb, &b, probe_notify);

  /* Nothing matches. */
  g_assert_cmpuint (evl_future_remove_done_callback (future, probe_cb, &rec), ==, 0);
  g_assert_cmpuint (evl_future_remove_done_callback (future, adder_cb, &a), ==, 0);
  g_assert_cmpstr (rec.log->str, ==, "");

  /* Every matching pair goes, and its notify runs at once. */
  g_assert_cmpuint (evl_future_remove_done_callback (future, probe_cb, &a), ==, 2);
  g_assert_cmpstr (rec.log->str, ==, "nana");
  g_assert_cmpuint (a.n_notified, ==, 2);
  g_assert_cmpuint (evl_future_remove_done_callback (future, probe_cb, &a), ==, 0);

  evl_future_set_result (future, NULL, NULL);
  run_once (loop);
  g_assert_cmpstr (rec.log->str, ==, "nanacbnbcbnb");
  g_assert_cmpuint (a.n_called, ==, 0);
  g_assert_cmpuint (b.n_called, ==, 2);
  g_assert_cmpuint (b.n_notified, ==, 2);

  g_object_unref (future);
  close_loop (loop);
  recorder_clear (&rec);
}

static void
test_notify_finalized_pending (void)
{
  EvlLoop *loop = evl_test_new_loop ();
  EvlFuture *future = evl_future_new (loop);
  Recorder rec;
  Probe a, b;

  recorder_init (&rec, NULL);
  a = (Probe) { &rec, 'a', 0, 0 };
  b = (Probe) { &rec, 'b', 0, 0 };

  evl_future_add_done_callback (future, probe_cb, &a, probe_notify);
  evl_future_add_done_callback (future, probe_cb, &b, probe_notify);
  g_object_unref (future);
  g_assert_cmpstr (rec.log->str, ==, "nanb");

  run_once (loop);
  g_assert_cmpstr (rec.log->str, ==, "nanb");
  g_assert_cmpuint (a.n_called + b.n_called, ==, 0);

  close_loop (loop);
  recorder_clear (&rec);
}

static void
test_notify_loop_closed (void)
{
  EvlLoop *loop = evl_test_new_loop ();
  EvlFuture *future = evl_future_new (loop);
  Recorder rec;
  Probe a, b, c;

  recorder_init (&rec, future);
  a = (Probe) { &rec, 'a', 0, 0 };
  b = (Probe) { &rec, 'b', 0, 0 };
  c = (Probe) { &rec, 'c', 0, 0 };

  evl_future_add_done_callback (future, probe_cb, &a, probe_notify);
  evl_future_add_done_callback (future, probe_cb, &b, probe_notify);
  g_assert_true (evl_loop_close (loop, NULL));

  /* The loop refuses the callbacks: each notify runs once, no callback. */
  g_assert_true (evl_future_set_result (future, NULL, NULL));
  g_assert_cmpstr (rec.log->str, ==, "nanb");

  /* Added after completion on a closed loop: the notify runs at once. */
  evl_future_add_done_callback (future, probe_cb, &c, probe_notify);
  g_assert_cmpstr (rec.log->str, ==, "nanbnc");

  g_object_unref (future);
  g_assert_cmpstr (rec.log->str, ==, "nanbnc");
  g_assert_cmpuint (a.n_called + b.n_called + c.n_called, ==, 0);
  g_object_unref (loop);
  recorder_clear (&rec);
}

static void
test_notify_loop_closed_after_scheduling (void)
{
  EvlLoop *loop = evl_test_new_loop ();
  EvlFuture *future = evl_future_new (loop);
  GWeakRef weak;
  Recorder rec;
  Probe a;
  EvlFuture *strong;

  recorder_init (&rec, NULL);
  a = (Probe) { &rec, 'a', 0, 0 };
  g_weak_ref_init (&weak, future);

  evl_future_add_done_callback (future, probe_cb, &a, probe_notify);
  g_assert_true (evl_future_set_result (future, NULL, NULL));
  /* The scheduled callback keeps the future alive... */
  g_object_unref (future);
  strong = g_weak_ref_get (&weak);
  g_assert_nonnull (strong);
  g_object_unref (strong);
  g_assert_cmpstr (rec.log->str, ==, "");

  /* ...until the loop drops it: the notify runs once, the callback never. */
  g_assert_true (evl_loop_close (loop, NULL));
  g_assert_cmpstr (rec.log->str, ==, "na");
  strong = g_weak_ref_get (&weak);
  g_assert_null (strong);

  g_weak_ref_clear (&weak);
  g_object_unref (loop);
  recorder_clear (&rec);
}

/* run_until_complete ----------------------------------------------------- */

typedef struct
{
  EvlFuture *future;
  int        what;  /* 0: result, 1: error, 2: cancel */
} Completer;

static void
complete_cb (gpointer user_data)
{
  Completer *c = user_data;
  GValue value = G_VALUE_INIT;
  GError *err;

  switch (c->what)
    {
    case 0:
      g_value_init (&value, G_TYPE_STRING);
      g_value_set_static_string (&value, "result");
      g_assert_true (evl_future_set_result (c->future, &value, NULL));
      g_value_unset (&value);
      break;

    case 1:
      err = make_test_error ();
      g_assert_true (evl_future_set_error (c->future, err, NULL));
      g_error_free (err);
      break;

    case 2:
      g_assert_true (evl_future_cancel (c->future));
      break;

    default:
      g_assert_not_reached ();
    }
}

static void
test_run_until_complete (void)
{
  EvlLoop *loop = evl_test_new_loop ();
  ExceptionLog log = { 0 };
  GValue out = G_VALUE_INIT;
  GError *error = NULL;
  Completer c;

  evl_loop_set_exception_handler (loop, exception_handler, &log, NULL);

  /* result */
  c.future = evl_future_new (loop);
  c.what = 0;
  evl_loop_call_later (loop, 0.01, complete_cb, &c, NULL);
  g_assert_true (evl_loop_run_until_complete (loop, c.future, &error));
  g_assert_no_error (error);
  g_assert_true (evl_future_is_done (c.future));
  g_assert_true (evl_future_get_result (c.future, &out, &error));
  g_assert_cmpstr (g_value_get_string (&out), ==, "result");
  g_value_unset (&out);
  g_object_unref (c.future);

  /* error: reported by run_until_complete, which retrieves it */
  c.future = evl_future_new (loop);
  c.what = 1;
  evl_loop_call_soon (loop, complete_cb, &c, NULL);
  g_assert_false (evl_loop_run_until_complete (loop, c.future, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_clear_error (&error);
  g_object_unref (c.future);

  /* cancel */
  c.future = evl_future_new (loop);
  c.what = 2;
  evl_loop_call_soon (loop, complete_cb, &c, NULL);
  g_assert_false (evl_loop_run_until_complete (loop, c.future, &error));
  g_assert_error (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_CANCELLED);
  g_clear_error (&error);
  g_object_unref (c.future);

  /* already done */
  c.future = evl_future_new (loop);
  c.what = 0;
  complete_cb (&c);
  g_assert_true (evl_loop_run_until_complete (loop, c.future, &error));
  g_assert_no_error (error);
  g_object_unref (c.future);

  g_assert_cmpuint (log.n_calls, ==, 0);
  close_loop (loop);
  exception_log_clear (&log);
}

/* Never-retrieved errors ------------------------------------------------- */

static void
noop_cb (EvlFuture *future,
         gpointer   user_data)
{
}

static void
test_error_never_retrieved (void)
{
  EvlLoop *loop = evl_test_new_loop ();
  ExceptionLog log = { 0 };
  EvlFuture *future;
  GError *err = make_test_error ();

  evl_loop_set_exception_handler (loop, exception_handler, &log, exception_log_notify);

  /* Not retrieved: reported once, when the future is finalized. */
  future = evl_future_new (loop);
  g_assert_true (evl_future_set_error (future, err, NULL));
  g_assert_cmpuint (log.n_calls, ==, 0);
  g_object_unref (future);
  g_assert_cmpuint (log.n_calls, ==, 1);
  g_assert_true (log.domain == G_IO_ERROR);
  g_assert_cmpint (log.code, ==, G_IO_ERROR_TIMED_OUT);
  g_assert_cmpstr (log.message, ==, "timed out for the test");
  g_assert_cmpstr (log.context, ==, "Future exception was never retrieved");

  /* Also with a done callback that ran and did not look at it. */
  future = evl_future_new (loop);
  evl_future_add_done_callback (future, noop_cb, NULL, NULL);
  g_assert_true (evl_future_set_error (future, err, NULL));
  run_once (loop);
  g_object_unref (future);
  g_assert_cmpuint (log.n_calls, ==, 2);

  /* Retrieved, result, cancelled, pending: nothing to report. */
  future = evl_future_new (loop);
  g_assert_true (evl_future_set_error (future, err, NULL));
  g_assert_false (evl_future_get_result (future, NULL, NULL));
  g_object_unref (future);

  future = evl_future_new (loop);
  g_assert_true (evl_future_set_result (future, NULL, NULL));
  g_object_unref (future);

  future = evl_future_new (loop);
  g_assert_true (evl_future_cancel (future));
  g_object_unref (future);

  future = evl_future_new (loop);
  g_object_unref (future);

  g_assert_cmpuint (log.n_calls, ==, 2);

  g_error_free (err);
  close_loop (loop);
  g_assert_cmpuint (log.n_notified, ==, 1);
  exception_log_clear (&log);
}

int
main (int   argc,
      char *argv[])
{
  evl_test_init (&argc, &argv);
  evl_test_watchdog_start (50);

  g_test_add_func ("/Evl/Future/new", test_new);
  g_test_add_func ("/Evl/Future/keeps-loop", test_future_keeps_loop);
  g_test_add_func ("/Evl/Future/set-result", test_set_result);
  g_test_add_func ("/Evl/Future/result-types", test_result_types);
  g_test_add_func ("/Evl/Future/set-error", test_set_error);
  g_test_add_func ("/Evl/Future/cancel", test_cancel);
  g_test_add_func ("/Evl/Future/callbacks/scheduled", test_callbacks_scheduled);
  g_test_add_func ("/Evl/Future/callbacks/cancel-and-error", test_callbacks_on_cancel_and_error);
  g_test_add_func ("/Evl/Future/callbacks/after-done", test_callbacks_after_done);
  g_test_add_func ("/Evl/Future/callbacks/add-from-callback", test_callbacks_add_from_callback);
  g_test_add_func ("/Evl/Future/callbacks/remove", test_callbacks_remove);
  g_test_add_func ("/Evl/Future/callbacks/notify-finalized-pending", test_notify_finalized_pending);
  g_test_add_func ("/Evl/Future/callbacks/notify-loop-closed", test_notify_loop_closed);
  g_test_add_func ("/Evl/Future/callbacks/notify-loop-closed-after-scheduling", test_notify_loop_closed_after_scheduling);
  g_test_add_func ("/Evl/Future/run-until-complete", test_run_until_complete);
  g_test_add_func ("/Evl/Future/error-never-retrieved", test_error_never_retrieved);

  return g_test_run ();
}
