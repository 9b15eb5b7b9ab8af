/* evl-test-bridge.c: helpers of the GLib bridge tests (bridge-source.c,
 * bridge-context.c, bridge-nested.c)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "evl-test-bridge.h"

/* A generous guard for "this must happen": only reached on failure. */
guint
guard_ms (void)
{
  return evl_test_under_valgrind () ? 60000 : 10000;
}

void
close_loop (EvlLoop *loop)
{
  GError *error = NULL;

  g_assert_true (evl_loop_close (loop, &error));
  g_assert_no_error (error);
  g_object_unref (loop);
}

/* A loop of the kind under test that drives @context while it runs. */
EvlLoop *
new_context_loop (GMainContext *context)
{
  if (g_str_equal (evl_test_loop_kind (), "proactor"))
    {
      GError *error = NULL;
      EvlLoop *loop = g_initable_new (EVL_TYPE_PROACTOR_LOOP, NULL, &error,
                                      "context", context, NULL);

      g_assert_no_error (error);
      return loop;
    }
  return g_object_new (EVL_TYPE_SELECTOR_LOOP, "context", context, NULL);
}

/* Whether the loop has a single fd for GLib (epoll, io_uring) rather than
 * mirroring every watched fd (poll, select). */
gboolean
loop_has_poll_fd (EvlLoop *loop)
{
  if (EVL_IS_SELECTOR_LOOP (loop))
    return evl_selector_get_fd (evl_selector_loop_get_selector (EVL_SELECTOR_LOOP (loop))) >= 0;
  return TRUE;
}

double
wall_seconds (void)
{
  return g_get_monotonic_time () / 1e6;
}

/* Fails the test if more than 20 % of the wall time was spent on a CPU:
 * a generous bound that only a busy loop exceeds. */
void
assert_idle (double cpu0,
             double wall0,
             const char *what)
{
  double cpu = evl_test_cpu_time () - cpu0;
  double wall = wall_seconds () - wall0;

  g_test_message ("%s: %.1f ms CPU over %.1f ms", what, cpu * 1e3, wall * 1e3);
  g_assert_cmpfloat (wall, >=, 0.25);
  if (cpu >= 0.2 * wall)
    g_error ("%s: busy loop: %.1f ms of CPU time over %.1f ms of wall time",
             what, cpu * 1e3, wall * 1e3);
}

static gboolean
guard_fired (gpointer data)
{
  Guard *guard = data;

  guard->fired = TRUE;
  g_main_loop_quit (guard->ml);
  return G_SOURCE_REMOVE;
}

void
guard_start (Guard        *guard,
             GMainContext *context,
             GMainLoop    *ml)
{
  guard->ml = ml;
  guard->fired = FALSE;
  guard->source = g_timeout_source_new (guard_ms ());
  g_source_set_callback (guard->source, guard_fired, guard, NULL);
  g_source_attach (guard->source, context);
}

void
guard_stop (Guard *guard)
{
  g_assert_false (guard->fired);
  g_source_destroy (guard->source);
  g_clear_pointer (&guard->source, g_source_unref);
}

/* An evloop-side guard: cancels @future so that run_until_complete()
 * returns instead of hanging. */
static void
cancel_future_cb (gpointer data)
{
  evl_future_cancel (EVL_FUTURE (data));
}

EvlHandle *
future_guard (EvlLoop   *loop,
              EvlFuture *future)
{
  return evl_handle_ref (evl_loop_call_later (loop, guard_ms () / 1000.0, cancel_future_cb,
                                              future, NULL));
}

void
handle_done (EvlHandle *handle)
{
  evl_handle_cancel (handle);
  evl_handle_unref (handle);
}

void
complete_future (EvlFuture *future)
{
  GError *error = NULL;

  g_assert_true (evl_future_set_result (future, NULL, &error));
  g_assert_no_error (error);
}

void
complete_future_cb (gpointer data)
{
  complete_future (EVL_FUTURE (data));
}

gboolean
complete_future_source_cb (gpointer data)
{
  complete_future (EVL_FUTURE (data));
  return G_SOURCE_REMOVE;
}

void
run_until_complete_ok (EvlLoop   *loop,
                       EvlFuture *future)
{
  GError *error = NULL;
  EvlHandle *guard = future_guard (loop, future);

  g_assert_true (evl_loop_run_until_complete (loop, future, &error));
  g_assert_no_error (error);
  handle_done (guard);
}

void
quit_cb (gpointer data)
{
  g_main_loop_quit (data);
}

gboolean
quit_source_cb (gpointer data)
{
  g_main_loop_quit (data);
  return G_SOURCE_REMOVE;
}

void
attached_setup (Attached *a,
                gboolean  drive)
{
  a->context = g_main_context_new ();
  a->ml = g_main_loop_new (a->context, FALSE);
  a->loop = drive ? new_context_loop (a->context) : evl_test_new_loop ();
  a->source = evl_loop_create_source (a->loop);
  g_assert_nonnull (a->source);
  g_assert_cmpuint (g_source_attach (a->source, a->context), >, 0);
  guard_start (&a->guard, a->context, a->ml);
}

void
attached_teardown (Attached *a)
{
  guard_stop (&a->guard);
  close_loop (a->loop);
  g_assert_true (g_source_is_destroyed (a->source));
  g_source_unref (a->source);
  g_main_loop_unref (a->ml);
  g_main_context_unref (a->context);
}

static void
bridge_test_kind_unavailable (void)
{
  g_test_skip ("this loop kind is not available here");
}

/* Whether loops of the kind under test can be created at all. */
static gboolean
bridge_kind_available (void)
{
  GError *error = NULL;
  EvlLoop *loop;

  if (!g_str_equal (evl_test_loop_kind (), "proactor"))
    return TRUE;
  loop = evl_proactor_loop_new (&error);
  if (loop == NULL)
    {
      g_error_free (error);
      return FALSE;
    }
  close_loop (loop);
  return TRUE;
}

/* The start of every bridge test program's main(): FALSE when the loop
 * kind under test cannot be made here (a test that says so is added). */
gboolean
bridge_test_init (int    *argc,
                  char ***argv)
{
  evl_test_init (argc, argv);
  evl_test_watchdog_start (120);

  if (!bridge_kind_available ())
    {
      g_test_add_func ("/Evl/Bridge/unavailable", bridge_test_kind_unavailable);
      return FALSE;
    }

  g_test_message ("loop kind: %s, EVL_SELECTOR=%s", evl_test_loop_kind (),
                  g_getenv ("EVL_SELECTOR") ? g_getenv ("EVL_SELECTOR") : "(default)");
  return TRUE;
}
