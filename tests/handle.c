/* handle.c: tests of EvlHandle: references, the boxed type, cancel, the
 * deadline, and the rule that a callback's notify runs exactly once
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <math.h>

#include <evloop-glib/evloop-glib.h>

#include "evl-test-util.h"

/* Helpers ---------------------------------------------------------------- */

/* Counts the runs of a callback and of its notify. */
typedef struct
{
  guint      n_ran;
  guint      n_notified;
  guint      n_notified_when_ran;  /* n_notified seen by the callback */
  EvlHandle *self;                 /* the probe's own handle, if known */
  gboolean   cancel_self;          /* the callback cancels its own handle */
} Probe;

static void
probe_cb (gpointer user_data)
{
  Probe *p = user_data;

  p->n_ran++;
  p->n_notified_when_ran = p->n_notified;
  if (p->cancel_self)
    {
      g_assert_nonnull (p->self);
      evl_handle_cancel (p->self);
      g_assert_true (evl_handle_is_cancelled (p->self));
      /* The callback is on the stack: the notify waits until it returns. */
      g_assert_cmpuint (p->n_notified, ==, 0);
    }
}

static void
probe_notify (gpointer user_data)
{
  Probe *p = user_data;

  p->n_notified++;
}

static void
expect_closed_critical (void)
{
  g_test_expect_message (G_LOG_DOMAIN, G_LOG_LEVEL_CRITICAL, "*closed*");
}

/* Tests ------------------------------------------------------------------ */

static void
test_ref_unref (void)
{
  EvlLoop *loop;
  Probe p = { 0 };
  EvlHandle *handle;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);

  handle = evl_loop_call_soon (loop, probe_cb, &p, probe_notify);
  g_assert_nonnull (handle);
  g_assert_true (evl_handle_ref (handle) == handle);

  /* The loop drops its own reference once the callback ran; ours keeps the
   * handle valid. */
  evl_test_run_once (loop);
  g_assert_cmpuint (p.n_ran, ==, 1);
  g_assert_cmpuint (p.n_notified, ==, 1);
  g_assert_false (evl_handle_is_cancelled (handle));
  g_assert_cmpfloat (evl_handle_get_when (handle), <, 0);

  /* Dropping a reference never cancels, and more references stack. */
  evl_handle_ref (handle);
  evl_handle_unref (handle);
  g_assert_false (evl_handle_is_cancelled (handle));
  evl_handle_unref (handle);   /* the last one frees it (valgrind checks) */

  g_assert_cmpuint (p.n_ran, ==, 1);
  g_assert_cmpuint (p.n_notified, ==, 1);
  evl_test_close_loop (loop);
}

static void
test_unref_does_not_cancel (void)
{
  EvlLoop *loop;
  Probe p = { 0 };
  EvlHandle *handle;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);

  /* A reference taken and dropped before the callback ran changes nothing:
   * the loop keeps its own. */
  handle = evl_loop_call_later (loop, 0, probe_cb, &p, probe_notify);
  evl_handle_unref (evl_handle_ref (handle));
  g_assert_true (evl_test_run_until_flag (loop, (gboolean *) &p.n_ran, 30.0));
  g_assert_cmpuint (p.n_ran, ==, 1);
  g_assert_cmpuint (p.n_notified, ==, 1);
  evl_test_close_loop (loop);
}

static void
test_boxed (void)
{
  EvlLoop *loop;
  Probe p = { 0 };
  EvlHandle *handle, *copy;
  GValue value = G_VALUE_INIT;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);

  g_assert_true (G_TYPE_IS_BOXED (EVL_TYPE_HANDLE));
  g_assert_cmpstr (g_type_name (EVL_TYPE_HANDLE), ==, "EvlHandle");

  handle = evl_loop_call_soon (loop, probe_cb, &p, probe_notify);

  /* A copy is a new reference to the same handle. */
  copy = g_boxed_copy (EVL_TYPE_HANDLE, handle);
  g_assert_true (copy == handle);

  /* Through a GValue, as the bindings use it. */
  g_value_init (&value, EVL_TYPE_HANDLE);
  g_value_set_boxed (&value, handle);
  g_assert_true (g_value_get_boxed (&value) == handle);

  evl_test_run_once (loop);
  g_assert_cmpuint (p.n_ran, ==, 1);

  /* Both references still work after the loop dropped its own. */
  evl_handle_cancel (g_value_get_boxed (&value));
  g_assert_true (evl_handle_is_cancelled (copy));
  g_value_unset (&value);
  g_boxed_free (EVL_TYPE_HANDLE, copy);

  {
    g_autoptr (EvlHandle) auto_ref = NULL;

    auto_ref = evl_handle_ref (evl_loop_call_soon (loop, probe_cb, &p, probe_notify));
    evl_test_run_once (loop);
  }

  g_assert_cmpuint (p.n_ran, ==, 2);
  g_assert_cmpuint (p.n_notified, ==, 2);
  evl_test_close_loop (loop);
}

static void
test_cancel (void)
{
  EvlLoop *loop;
  Probe soon = { 0 }, later = { 0 }, other = { 0 };
  EvlHandle *h_soon, *h_later, *h_other;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);

  h_soon = evl_handle_ref (evl_loop_call_soon (loop, probe_cb, &soon, probe_notify));
  h_later = evl_handle_ref (evl_loop_call_later (loop, 0, probe_cb, &later, probe_notify));
  h_other = evl_loop_call_soon (loop, probe_cb, &other, probe_notify);

  g_assert_false (evl_handle_is_cancelled (h_soon));
  g_assert_false (evl_handle_is_cancelled (h_later));
  g_assert_false (evl_handle_is_cancelled (h_other));

  evl_handle_cancel (h_soon);
  evl_handle_cancel (h_later);
  g_assert_true (evl_handle_is_cancelled (h_soon));
  g_assert_true (evl_handle_is_cancelled (h_later));
  /* Twice is harmless. */
  evl_handle_cancel (h_soon);
  evl_handle_cancel (h_later);

  g_assert_true (evl_test_run_until_flag (loop, (gboolean *) &other.n_ran, 30.0));
  evl_test_run_once (loop);   /* the zero-delay timer is due by now */
  evl_test_run_once (loop);

  g_assert_cmpuint (soon.n_ran, ==, 0);
  g_assert_cmpuint (later.n_ran, ==, 0);
  g_assert_cmpuint (other.n_ran, ==, 1);
  g_assert_cmpuint (soon.n_notified, ==, 1);
  g_assert_cmpuint (later.n_notified, ==, 1);
  g_assert_cmpuint (other.n_notified, ==, 1);

  evl_handle_unref (h_soon);
  evl_handle_unref (h_later);
  evl_test_close_loop (loop);
}

static void
test_get_when (void)
{
  EvlLoop *loop;
  Probe p = { 0 };
  EvlHandle *h;
  double t0, t1, when;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);

  h = evl_loop_call_soon (loop, probe_cb, &p, probe_notify);
  g_assert_cmpfloat (evl_handle_get_when (h), <, 0);

  t0 = evl_loop_time (loop);
  h = evl_loop_call_later (loop, 100.0, probe_cb, &p, probe_notify);
  t1 = evl_loop_time (loop);
  when = evl_handle_get_when (h);
  g_assert_cmpfloat (when, >=, t0 + 100.0);
  g_assert_cmpfloat (when, <=, t1 + 100.0 + 1e-6);

  h = evl_loop_call_at (loop, t0 + 50.25, probe_cb, &p, probe_notify);
  g_assert_cmpfloat_with_epsilon (evl_handle_get_when (h), t0 + 50.25, 1e-6);
  g_assert_cmpfloat (evl_handle_get_when (h), >=, t0 + 50.25 - 1e-9);

  /* A deadline in the past stays a timer (>= 0), due at once. */
  h = evl_loop_call_at (loop, t0 - 10.0, probe_cb, &p, probe_notify);
  g_assert_cmpfloat (evl_handle_get_when (h), >=, 0);
  g_assert_cmpfloat (evl_handle_get_when (h), <=, t0);

  /* Never-run callbacks: their notifies run at close. */
  evl_test_close_loop (loop);
  g_assert_cmpuint (p.n_ran, ==, 0);
  g_assert_cmpuint (p.n_notified, ==, 4);
}

/* notify: exactly once, in every path ------------------------------------ */

typedef enum
{
  KIND_SOON,
  KIND_LATER,
  KIND_AT,
} Kind;

static EvlHandle *
schedule (EvlLoop *loop,
          Kind     kind,
          Probe   *p)
{
  switch (kind)
    {
    case KIND_SOON:
      return evl_loop_call_soon (loop, probe_cb, p, probe_notify);
    case KIND_LATER:
      return evl_loop_call_later (loop, 0, probe_cb, p, probe_notify);
    case KIND_AT:
      return evl_loop_call_at (loop, evl_loop_time (loop) - 1.0, probe_cb, p, probe_notify);
    default:
      g_assert_not_reached ();
    }
}

static const Kind all_kinds[] = { KIND_SOON, KIND_LATER, KIND_AT };

static void
test_notify_ran (void)
{
  EvlLoop *loop;
  Probe p[G_N_ELEMENTS (all_kinds)] = { 0 };
  guint i;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);

  for (i = 0; i < G_N_ELEMENTS (all_kinds); i++)
    g_assert_nonnull (schedule (loop, all_kinds[i], &p[i]));
  for (i = 0; i < G_N_ELEMENTS (all_kinds); i++)
    g_assert_true (evl_test_run_until_flag (loop, (gboolean *) &p[i].n_ran, 30.0));
  evl_test_run_once (loop);

  for (i = 0; i < G_N_ELEMENTS (all_kinds); i++)
    {
      g_assert_cmpuint (p[i].n_ran, ==, 1);
      g_assert_cmpuint (p[i].n_notified, ==, 1);
      /* The notify runs after the callback, not before. */
      g_assert_cmpuint (p[i].n_notified_when_ran, ==, 0);
    }
  evl_test_close_loop (loop);
  for (i = 0; i < G_N_ELEMENTS (all_kinds); i++)
    g_assert_cmpuint (p[i].n_notified, ==, 1);
}

static void
test_notify_cancelled_before_run (void)
{
  EvlLoop *loop;
  Probe p[G_N_ELEMENTS (all_kinds)] = { 0 };
  Probe marker = { 0 };
  guint i;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);

  for (i = 0; i < G_N_ELEMENTS (all_kinds); i++)
    {
      EvlHandle *h = schedule (loop, all_kinds[i], &p[i]);

      evl_handle_cancel (h);
      g_assert_cmpuint (p[i].n_notified, <=, 1);
    }
  /* Let the loop see (and drop) the cancelled handles. */
  evl_loop_call_later (loop, 0, probe_cb, &marker, NULL);
  g_assert_true (evl_test_run_until_flag (loop, (gboolean *) &marker.n_ran, 30.0));
  evl_test_run_once (loop);

  for (i = 0; i < G_N_ELEMENTS (all_kinds); i++)
    {
      g_assert_cmpuint (p[i].n_ran, ==, 0);
      g_assert_cmpuint (p[i].n_notified, ==, 1);
    }
  evl_test_close_loop (loop);
  for (i = 0; i < G_N_ELEMENTS (all_kinds); i++)
    g_assert_cmpuint (p[i].n_notified, ==, 1);
}

static void
test_notify_cancelled_in_callback (void)
{
  EvlLoop *loop;
  Probe p[G_N_ELEMENTS (all_kinds)] = { 0 };
  guint i;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);

  for (i = 0; i < G_N_ELEMENTS (all_kinds); i++)
    {
      p[i].cancel_self = TRUE;
      p[i].self = evl_handle_ref (schedule (loop, all_kinds[i], &p[i]));
    }
  for (i = 0; i < G_N_ELEMENTS (all_kinds); i++)
    g_assert_true (evl_test_run_until_flag (loop, (gboolean *) &p[i].n_ran, 30.0));
  evl_test_run_once (loop);

  for (i = 0; i < G_N_ELEMENTS (all_kinds); i++)
    {
      g_assert_cmpuint (p[i].n_ran, ==, 1);
      g_assert_cmpuint (p[i].n_notified, ==, 1);
      g_assert_true (evl_handle_is_cancelled (p[i].self));
      evl_handle_unref (p[i].self);
    }
  evl_test_close_loop (loop);
  for (i = 0; i < G_N_ELEMENTS (all_kinds); i++)
    g_assert_cmpuint (p[i].n_notified, ==, 1);
}

static void
test_notify_cancelled_after_run (void)
{
  EvlLoop *loop;
  Probe p[G_N_ELEMENTS (all_kinds)] = { 0 };
  EvlHandle *h[G_N_ELEMENTS (all_kinds)];
  guint i;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);

  for (i = 0; i < G_N_ELEMENTS (all_kinds); i++)
    h[i] = evl_handle_ref (schedule (loop, all_kinds[i], &p[i]));
  for (i = 0; i < G_N_ELEMENTS (all_kinds); i++)
    g_assert_true (evl_test_run_until_flag (loop, (gboolean *) &p[i].n_ran, 30.0));

  for (i = 0; i < G_N_ELEMENTS (all_kinds); i++)
    {
      g_assert_cmpuint (p[i].n_notified, ==, 1);
      evl_handle_cancel (h[i]);
      evl_handle_cancel (h[i]);
      g_assert_cmpuint (p[i].n_ran, ==, 1);
      g_assert_cmpuint (p[i].n_notified, ==, 1);
    }
  evl_test_run_once (loop);
  evl_test_close_loop (loop);
  for (i = 0; i < G_N_ELEMENTS (all_kinds); i++)
    {
      g_assert_cmpuint (p[i].n_notified, ==, 1);
      evl_handle_unref (h[i]);
      g_assert_cmpuint (p[i].n_notified, ==, 1);
    }
}

static void
check_pending_dropped (gboolean finalize)
{
  EvlLoop *loop;
  Probe soon = { 0 }, later = { 0 }, at = { 0 }, cancelled = { 0 }, kept = { 0 };
  EvlHandle *h_kept;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);

  evl_loop_call_soon (loop, probe_cb, &soon, probe_notify);
  evl_loop_call_later (loop, 3600, probe_cb, &later, probe_notify);
  evl_loop_call_at (loop, evl_loop_time (loop) + 7200, probe_cb, &at, probe_notify);
  evl_handle_cancel (evl_loop_call_later (loop, 60, probe_cb, &cancelled, probe_notify));
  /* A handle the caller keeps a reference to outlives the loop. */
  h_kept = evl_handle_ref (evl_loop_call_later (loop, 60, probe_cb, &kept, probe_notify));

  if (finalize)
    {
      g_object_add_weak_pointer (G_OBJECT (loop), (gpointer *) &loop);
      g_object_unref (loop);
      g_assert_null (loop);
    }
  else
    {
      GError *error = NULL;

      g_assert_true (evl_loop_close (loop, &error));
      g_assert_no_error (error);
    }

  g_assert_cmpuint (soon.n_notified, ==, 1);
  g_assert_cmpuint (later.n_notified, ==, 1);
  g_assert_cmpuint (at.n_notified, ==, 1);
  g_assert_cmpuint (cancelled.n_notified, ==, 1);
  g_assert_cmpuint (kept.n_notified, ==, 1);

  /* Cancelling the surviving handle is harmless, whatever became of the loop. */
  evl_handle_cancel (h_kept);
  g_assert_true (evl_handle_is_cancelled (h_kept));
  g_assert_cmpfloat (evl_handle_get_when (h_kept), >, 0);
  evl_handle_unref (h_kept);

  if (!finalize)
    evl_test_close_loop (loop);

  g_assert_cmpuint (soon.n_ran + later.n_ran + at.n_ran + cancelled.n_ran + kept.n_ran, ==, 0);
  g_assert_cmpuint (soon.n_notified, ==, 1);
  g_assert_cmpuint (later.n_notified, ==, 1);
  g_assert_cmpuint (at.n_notified, ==, 1);
  g_assert_cmpuint (cancelled.n_notified, ==, 1);
  g_assert_cmpuint (kept.n_notified, ==, 1);
}

static void
test_notify_loop_closed (void)
{
  check_pending_dropped (FALSE);
}

static void
test_notify_loop_finalized (void)
{
  check_pending_dropped (TRUE);
}

static void
test_notify_refused_closed (void)
{
  EvlLoop *loop;
  Probe p = { 0 };
  GError *error = NULL;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);

  g_assert_true (evl_loop_close (loop, &error));
  g_assert_no_error (error);

  expect_closed_critical ();
  g_assert_null (evl_loop_call_soon (loop, probe_cb, &p, probe_notify));
  g_test_assert_expected_messages ();
  g_assert_cmpuint (p.n_notified, ==, 1);

  expect_closed_critical ();
  g_assert_null (evl_loop_call_later (loop, 1.0, probe_cb, &p, probe_notify));
  g_test_assert_expected_messages ();
  g_assert_cmpuint (p.n_notified, ==, 2);

  expect_closed_critical ();
  g_assert_null (evl_loop_call_at (loop, 0.0, probe_cb, &p, probe_notify));
  g_test_assert_expected_messages ();
  g_assert_cmpuint (p.n_notified, ==, 3);

  /* Without a notify, too. */
  expect_closed_critical ();
  g_assert_null (evl_loop_call_soon (loop, probe_cb, &p, NULL));
  g_test_assert_expected_messages ();

  g_assert_cmpuint (p.n_ran, ==, 0);
  evl_test_close_loop (loop);
  g_assert_cmpuint (p.n_notified, ==, 3);
}

static void
test_notify_refused_nan (void)
{
  EvlLoop *loop;
  Probe p = { 0 };

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);

  g_test_expect_message (G_LOG_DOMAIN, G_LOG_LEVEL_CRITICAL, "*NaN*");
  g_assert_null (evl_loop_call_later (loop, NAN, probe_cb, &p, probe_notify));
  g_test_assert_expected_messages ();
  g_assert_cmpuint (p.n_notified, ==, 1);

  g_test_expect_message (G_LOG_DOMAIN, G_LOG_LEVEL_CRITICAL, "*NaN*");
  g_assert_null (evl_loop_call_at (loop, NAN, probe_cb, &p, probe_notify));
  g_test_assert_expected_messages ();
  g_assert_cmpuint (p.n_notified, ==, 2);

  /* Infinite delays are not NaN: they are accepted and never due. */
  g_assert_nonnull (evl_loop_call_later (loop, INFINITY, probe_cb, &p, probe_notify));
  g_assert_nonnull (evl_loop_call_later (loop, -INFINITY, probe_cb, &p, probe_notify));
  g_assert_true (evl_test_run_until_flag (loop, (gboolean *) &p.n_ran, 30.0));
  evl_test_run_once (loop);
  g_assert_cmpuint (p.n_ran, ==, 1);   /* only the -inf one */

  evl_test_close_loop (loop);
  g_assert_cmpuint (p.n_notified, ==, 4);
}

int
main (int   argc,
      char *argv[])
{
  evl_test_init (&argc, &argv);
  evl_test_watchdog_start (25);

  g_test_add_func ("/Evl/Handle/ref-unref", test_ref_unref);
  g_test_add_func ("/Evl/Handle/unref-does-not-cancel", test_unref_does_not_cancel);
  g_test_add_func ("/Evl/Handle/boxed", test_boxed);
  g_test_add_func ("/Evl/Handle/cancel", test_cancel);
  g_test_add_func ("/Evl/Handle/get-when", test_get_when);
  g_test_add_func ("/Evl/Handle/notify/ran", test_notify_ran);
  g_test_add_func ("/Evl/Handle/notify/cancelled-before-run", test_notify_cancelled_before_run);
  g_test_add_func ("/Evl/Handle/notify/cancelled-in-callback", test_notify_cancelled_in_callback);
  g_test_add_func ("/Evl/Handle/notify/cancelled-after-run", test_notify_cancelled_after_run);
  g_test_add_func ("/Evl/Handle/notify/loop-closed", test_notify_loop_closed);
  g_test_add_func ("/Evl/Handle/notify/loop-finalized", test_notify_loop_finalized);
  g_test_add_func ("/Evl/Handle/notify/refused-closed", test_notify_refused_closed);
  g_test_add_func ("/Evl/Handle/notify/refused-nan", test_notify_refused_nan);

  return g_test_run ();
}
