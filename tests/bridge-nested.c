/* bridge-nested.c: tests of nested runs across the GLib bridges: a loop
 * run from its own callbacks or from GLib's, modal main loops, both
 * bridges at once.
 *
 * Run with EVL_SELECTOR=poll (the 'bridge-nested-poll' test) the loop
 * has no poll fd and the GSource mirrors every watched fd into GLib
 * instead.
 *
 * The other bridge tests: bridge-source.c, bridge-context.c.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <evloop-glib/evloop-glib.h>

#include "evl-test-bridge.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <glib-unix.h>
#include <glib/gstdio.h>

/* Nested runs --------------------------------------------------------------- */

typedef struct
{
  EvlLoop   *loop;
  EvlFuture *outer;
  GString   *trace;
  gboolean   inner_ok;
  gboolean   running_after;   /* whether the loop ran before the inner run */
  GMainLoop *ml;              /* nested_glib_cb quits it */
} NestData;

static void
trace_cb (gpointer data)
{
  NestData *d = data;

  g_string_append (d->trace, "t");
}

static void
nested_run_cb (gpointer data)
{
  NestData *d = data;
  EvlFuture *inner = evl_loop_create_future (d->loop);
  GError *error = NULL;

  d->running_after = evl_loop_is_running (d->loop);
  g_string_append (d->trace, "[");
  evl_loop_call_later (d->loop, 0.01, trace_cb, d, NULL);
  evl_loop_call_later (d->loop, 0.02, complete_future_cb, inner, NULL);
  d->inner_ok = evl_loop_run_until_complete (d->loop, inner, &error);
  g_assert_no_error (error);
  g_string_append (d->trace, "]");
  /* Back to the state before the inner run. */
  g_assert_cmpint (evl_loop_is_running (d->loop), ==, d->running_after);
  g_assert_true ((evl_get_running_loop () == d->loop) == d->running_after);
  g_object_unref (inner);
  if (d->outer != NULL)
    complete_future (d->outer);
}

static void
test_nested_in_evl_callback (void)
{
  NestData d = { evl_test_new_loop (), NULL, g_string_new (NULL), FALSE };

  d.outer = evl_loop_create_future (d.loop);
  evl_loop_call_soon (d.loop, nested_run_cb, &d, NULL);
  run_until_complete_ok (d.loop, d.outer);
  g_assert_true (d.inner_ok);
  g_assert_cmpstr (d.trace->str, ==, "[t]");
  g_assert_true (d.running_after);
  g_assert_false (evl_loop_is_running (d.loop));

  g_object_unref (d.outer);
  close_loop (d.loop);
  g_string_free (d.trace, TRUE);
}

static gboolean
nested_glib_cb (gpointer data)
{
  NestData *d = data;

  nested_run_cb (d);
  g_main_loop_quit (d->ml);
  return G_SOURCE_REMOVE;
}

static void
nested_quit_cb (gpointer data)
{
  g_main_loop_quit (data);
}

/* run_until_complete from a GLib callback and from one of the loop's own
 * callbacks dispatched by its GSource. */
static void
test_nested_in_glib_callback (void)
{
  Attached a;
  NestData d = { NULL, NULL, g_string_new (NULL), FALSE };
  GSource *s;

  attached_setup (&a, FALSE);
  d.loop = a.loop;
  d.ml = a.ml;

  /* The idle source quits once it ran (a quit timer could come first: the
   * loop's source has the higher priority). */
  s = g_idle_source_new ();
  g_source_set_callback (s, nested_glib_cb, &d, NULL);
  g_source_attach (s, a.context);
  g_source_unref (s);
  g_main_loop_run (a.ml);
  g_assert_true (d.inner_ok);
  g_assert_cmpstr (d.trace->str, ==, "[t]");
  g_assert_false (d.running_after);

  /* From the loop's own callback, dispatched by the source. */
  g_string_truncate (d.trace, 0);
  d.inner_ok = FALSE;
  evl_loop_call_soon (a.loop, nested_run_cb, &d, NULL);
  evl_loop_call_later (a.loop, 0.05, nested_quit_cb, a.ml, NULL);
  g_main_loop_run (a.ml);
  g_assert_true (d.inner_ok);
  g_assert_cmpstr (d.trace->str, ==, "[t]");
  g_assert_true (d.running_after);
  g_assert_false (evl_loop_is_running (a.loop));

  attached_teardown (&a);
  g_string_free (d.trace, TRUE);
}

typedef struct
{
  EvlLoop *loop;
  GString *trace;
} StopNestData;

static void
mark_cb (gpointer data)
{
  StopNestData *d = data;

  g_string_append (d->trace, "m");
}

static void
inner_forever_cb (gpointer data)
{
  StopNestData *d = data;
  GError *error = NULL;

  g_string_append (d->trace, "(");
  evl_loop_call_soon (d->loop, evl_test_stop_cb, d->loop, NULL);
  g_assert_true (evl_loop_run_forever (d->loop, &error));
  g_assert_no_error (error);
  g_string_append (d->trace, ")");
  /* The outer run goes on: these run before its own stop. */
  evl_loop_call_later (d->loop, 0.01, mark_cb, d, NULL);
  evl_loop_call_later (d->loop, 0.02, evl_test_stop_cb, d->loop, NULL);
}

static void
test_nested_stop_innermost (void)
{
  StopNestData d = { evl_test_new_loop (), g_string_new (NULL) };
  GError *error = NULL;

  evl_loop_call_soon (d.loop, inner_forever_cb, &d, NULL);
  g_assert_true (evl_loop_run_forever (d.loop, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (d.trace->str, ==, "()m");

  close_loop (d.loop);
  g_string_free (d.trace, TRUE);
}

/* A loop attached to the context it also drives: during an explicit run its
 * callbacks never run from its own GSource (which the run's GLib iteration
 * would dispatch recursively); outside of runs, GLib dispatches it. */
typedef struct
{
  EvlLoop   *loop;
  GSource   *source;
  EvlFuture *future;
  int        fds[2];
  guint      evl_calls;
  guint      glib_calls;
  guint      recursive;
  guint      from_source;
  guint      ticks;
} MixedData;

static void
mixed_note (MixedData *d)
{
  d->evl_calls++;
  if (g_main_current_source () == d->source)
    d->from_source++;
  if (g_main_depth () > 0)
    d->recursive++;
}

static void
mixed_tick_cb (gpointer data)
{
  MixedData *d = data;

  mixed_note (d);
  if (++d->ticks < 20)
    evl_loop_call_later (d->loop, 0.002, mixed_tick_cb, d, NULL);
  else
    g_assert_cmpint (write (d->fds[1], "z", 1), ==, 1);
}

static void
mixed_reader_cb (gpointer data)
{
  MixedData *d = data;
  char c;

  mixed_note (d);
  g_assert_cmpint (read (d->fds[0], &c, 1), ==, 1);
  complete_future (d->future);
}

static gboolean
mixed_glib_cb (gpointer data)
{
  MixedData *d = data;

  d->glib_calls++;
  return G_SOURCE_CONTINUE;
}

static void
mixed_source_cb (gpointer data)
{
  MixedData *d = data;

  d->evl_calls++;
  if (g_main_current_source () == d->source)
    d->from_source++;
}

static void
test_nested_no_self_dispatch (void)
{
  Attached a;
  MixedData d = { 0 };
  GError *error = NULL;
  GSource *s;

  attached_setup (&a, TRUE);
  d.loop = a.loop;
  d.source = a.source;
  d.future = evl_loop_create_future (a.loop);
  evl_test_socketpair (d.fds);
  g_assert_true (evl_loop_add_reader (a.loop, d.fds[0], mixed_reader_cb, &d, NULL, &error));
  g_assert_no_error (error);
  s = g_timeout_source_new (2);
  g_source_set_callback (s, mixed_glib_cb, &d, NULL);
  g_source_attach (s, a.context);
  evl_loop_call_soon (a.loop, mixed_tick_cb, &d, NULL);

  run_until_complete_ok (a.loop, d.future);
  g_assert_cmpuint (d.ticks, ==, 20);
  g_assert_cmpuint (d.evl_calls, ==, 21);
  g_assert_cmpuint (d.recursive, ==, 0);
  g_assert_cmpuint (d.from_source, ==, 0);
  g_assert_cmpuint (d.glib_calls, >, 0);
  g_source_destroy (s);
  g_source_unref (s);

  /* No explicit run: GLib dispatches the loop through its source. */
  d.evl_calls = 0;
  evl_loop_call_soon (a.loop, mixed_source_cb, &d, NULL);
  evl_loop_call_soon (a.loop, quit_cb, a.ml, NULL);
  g_main_loop_run (a.ml);
  g_assert_cmpuint (d.evl_calls, ==, 1);
  g_assert_cmpuint (d.from_source, ==, 1);

  g_object_unref (d.future);
  attached_teardown (&a);
  close (d.fds[0]);
  close (d.fds[1]);
}

/* A modal dialog: a nested g_main_loop_run() on the context the loop is
 * attached to keeps the loop running. */
typedef struct
{
  EvlLoop      *loop;
  GMainContext *context;
  GMainLoop    *modal;
  EvlFuture    *future;
  guint         ticks;
  guint         ticks_in_modal;
  guint         modal_ticks;     /* ticks (10 ms apart) before the modal loop quits */
  gboolean      in_modal;
  int           fds[2];
  double        cpu0;
  double        wall0;
  double        modal_cpu;
  double        modal_wall;
} ModalData;

static void
modal_tick_cb (gpointer data)
{
  ModalData *d = data;

  d->ticks++;
  if (d->in_modal)
    d->ticks_in_modal++;
  if (d->in_modal && d->ticks_in_modal == d->modal_ticks)
    g_main_loop_quit (d->modal);
  else
    evl_loop_call_later (d->loop, 0.01, modal_tick_cb, d, NULL);
}

static void
run_modal (ModalData *d)
{
  GMainLoop *modal = g_main_loop_new (d->context, FALSE);

  if (d->modal_ticks == 0)
    d->modal_ticks = 5;
  d->modal = modal;
  d->in_modal = TRUE;
  d->cpu0 = evl_test_cpu_time ();
  d->wall0 = wall_seconds ();
  evl_loop_call_later (d->loop, 0.01, modal_tick_cb, d, NULL);
  g_main_loop_run (modal);
  d->modal_cpu = evl_test_cpu_time () - d->cpu0;
  d->modal_wall = wall_seconds () - d->wall0;
  d->in_modal = FALSE;
  d->modal = NULL;
  g_main_loop_unref (modal);
}

static void
modal_from_evl_cb (gpointer data)
{
  ModalData *d = data;

  run_modal (d);
  if (d->future != NULL)
    complete_future (d->future);
}

static void
test_nested_modal_attached (void)
{
  Attached a;
  ModalData d = { 0 };

  attached_setup (&a, FALSE);
  d.loop = a.loop;
  d.context = a.context;

  evl_loop_call_soon (a.loop, modal_from_evl_cb, &d, NULL);
  evl_loop_call_soon (a.loop, quit_cb, a.ml, NULL);
  g_main_loop_run (a.ml);
  g_assert_cmpuint (d.ticks_in_modal, ==, 5);

  attached_teardown (&a);
}

/* The same while the loop also drives the context in an explicit run: the
 * modal loop is entered from an evloop callback of the run. */
static void
test_nested_modal_driven (void)
{
  Attached a;
  ModalData d = { 0 };

  attached_setup (&a, TRUE);
  d.loop = a.loop;
  d.context = a.context;
  d.future = evl_loop_create_future (a.loop);

  evl_loop_call_soon (a.loop, modal_from_evl_cb, &d, NULL);
  run_until_complete_ok (a.loop, d.future);
  g_assert_cmpuint (d.ticks_in_modal, ==, 5);

  g_object_unref (d.future);
  attached_teardown (&a);
}

/* A GLib fd watch, dispatched by the loop's run, opens the modal loop
 * before reading its fd: GLib blocks that source meanwhile, and the loop
 * must not spin on the fd either. */
static gboolean
modal_from_fd_cb (gint         fd,
                  GIOCondition condition,
                  gpointer     data)
{
  ModalData *d = data;
  char c;

  run_modal (d);
  g_assert_cmpint (read (fd, &c, 1), ==, 1);
  complete_future (d->future);
  return G_SOURCE_REMOVE;
}

static void
test_nested_modal_from_glib (void)
{
  Attached a;
  ModalData d = { 0 };
  GSource *s;

  attached_setup (&a, TRUE);
  d.loop = a.loop;
  d.context = a.context;
  d.future = evl_loop_create_future (a.loop);
  d.modal_ticks = 25;
  evl_test_socketpair (d.fds);

  s = g_unix_fd_source_new (d.fds[0], G_IO_IN);
  g_source_set_callback (s, G_SOURCE_FUNC (modal_from_fd_cb), &d, NULL);
  g_source_attach (s, a.context);
  g_source_unref (s);
  g_assert_cmpint (write (d.fds[1], "m", 1), ==, 1);

  run_until_complete_ok (a.loop, d.future);
  g_assert_cmpuint (d.ticks_in_modal, ==, 25);
  g_test_message ("modal loop: %.1f ms CPU over %.1f ms", d.modal_cpu * 1e3, d.modal_wall * 1e3);
  if (d.modal_cpu >= 0.2 * d.modal_wall + 0.01)
    g_error ("busy loop in the modal loop: %.1f ms CPU over %.1f ms",
             d.modal_cpu * 1e3, d.modal_wall * 1e3);

  g_object_unref (d.future);
  attached_teardown (&a);
  close (d.fds[0]);
  close (d.fds[1]);
}

/* Both bridges at once, idle. */
static void
test_nested_mixed_idle_cpu (void)
{
  Attached a;
  double cpu0, wall0;
  guint never = 0;

  attached_setup (&a, TRUE);
  evl_loop_call_later (a.loop, 60.0, evl_test_count, &never, NULL);
  cpu0 = evl_test_cpu_time ();
  wall0 = wall_seconds ();
  evl_test_run_for (a.loop, 0.3);
  assert_idle (cpu0, wall0, "loop attached to the context it drives, idle");
  g_assert_cmpuint (never, ==, 0);
  attached_teardown (&a);
}

int
main (int   argc,
      char *argv[])
{
  if (!bridge_test_init (&argc, &argv))
    return g_test_run ();

  g_test_add_func ("/Evl/Bridge/nested/evl-callback", test_nested_in_evl_callback);
  g_test_add_func ("/Evl/Bridge/nested/glib-callback", test_nested_in_glib_callback);
  g_test_add_func ("/Evl/Bridge/nested/stop-innermost", test_nested_stop_innermost);
  g_test_add_func ("/Evl/Bridge/nested/no-self-dispatch", test_nested_no_self_dispatch);
  g_test_add_func ("/Evl/Bridge/nested/modal-attached", test_nested_modal_attached);
  g_test_add_func ("/Evl/Bridge/nested/modal-driven", test_nested_modal_driven);
  g_test_add_func ("/Evl/Bridge/nested/modal-from-glib", test_nested_modal_from_glib);
  g_test_add_func ("/Evl/Bridge/nested/mixed-idle-cpu", test_nested_mixed_idle_cpu);

  return g_test_run ();
}
