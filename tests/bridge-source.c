/* bridge-source.c: tests of evloop inside GLib: the loop as one GSource
 * (evl_loop_create_source, evl_loop_attach) in a GMainContext iterated by
 * g_main_loop_run(); no busy loops and no missed wakeups.
 *
 * Run with EVL_SELECTOR=poll (the 'bridge-source-poll' test) the loop
 * has no poll fd and the GSource mirrors every watched fd into GLib
 * instead.
 *
 * The other bridge tests: bridge-context.c, bridge-nested.c.
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

/* evloop inside GLib ------------------------------------------------------ */

typedef struct
{
  EvlLoop   *loop;
  GMainLoop *ml;
  guint      count;
  gboolean   running_inside;
  gboolean   dispatched_by_source;
  GSource   *source;
} SoonData;

static void
soon_cb (gpointer data)
{
  SoonData *d = data;

  d->count++;
  d->running_inside = evl_loop_is_running (d->loop) && evl_get_running_loop () == d->loop;
  d->dispatched_by_source = g_main_current_source () == d->source;
  g_main_loop_quit (d->ml);
}

static void
test_source_call_soon (void)
{
  Attached a;
  SoonData d = { 0 };

  attached_setup (&a, FALSE);
  d.loop = a.loop;
  d.ml = a.ml;
  d.source = a.source;

  g_assert_false (evl_loop_is_running (a.loop));
  g_assert_cmpstr (g_source_get_name (a.source), ==, "EvlLoop");
  evl_loop_call_soon (a.loop, soon_cb, &d, NULL);
  g_main_loop_run (a.ml);

  g_assert_cmpuint (d.count, ==, 1);
  g_assert_true (d.running_inside);
  g_assert_true (d.dispatched_by_source);
  g_assert_false (evl_loop_is_running (a.loop));
  g_assert_null (evl_get_running_loop ());

  attached_teardown (&a);
}

/* evl_loop_attach() with the id API, on a non-default context. */
static void
test_source_attach_id (void)
{
  GMainContext *context = g_main_context_new ();
  GMainLoop *ml = g_main_loop_new (context, FALSE);
  EvlLoop *loop = evl_test_new_loop ();
  SoonData d = { loop, ml, 0, FALSE, FALSE, NULL };
  GSource *source;
  Guard guard;
  guint id;

  id = evl_loop_attach (loop, context);
  g_assert_cmpuint (id, >, 0);
  source = g_main_context_find_source_by_id (context, id);
  g_assert_nonnull (source);
  g_source_ref (source);
  d.source = source;

  guard_start (&guard, context, ml);
  evl_loop_call_soon (loop, soon_cb, &d, NULL);
  g_main_loop_run (ml);
  guard_stop (&guard);
  g_assert_cmpuint (d.count, ==, 1);
  g_assert_true (d.running_inside);

  close_loop (loop);
  g_assert_true (g_source_is_destroyed (source));
  g_source_unref (source);
  g_main_loop_unref (ml);
  g_main_context_unref (context);
}

#define N_TIMERS 4

typedef struct
{
  EvlLoop   *loop;
  GMainLoop *ml;
  double     start;
  double     delays[N_TIMERS];
  double     elapsed[N_TIMERS];
  int        order[N_TIMERS];
  int        n;
} TimerData;

typedef struct
{
  TimerData *td;
  int        index;
} TimerArg;

static void
timer_cb (gpointer data)
{
  TimerArg *arg = data;
  TimerData *td = arg->td;

  td->elapsed[arg->index] = evl_loop_time (td->loop) - td->start;
  td->order[td->n++] = arg->index;
  g_assert_true (evl_get_running_loop () == td->loop);
  if (td->n == N_TIMERS)
    g_main_loop_quit (td->ml);
}

static void
test_source_timers (void)
{
  Attached a;
  TimerData td = { 0 };
  TimerArg args[N_TIMERS];
  const double delays[N_TIMERS] = { 0.050, 0.010, 0.030, 0.0105 };
  const int expected[N_TIMERS] = { 1, 3, 2, 0 };
  int i;

  attached_setup (&a, FALSE);
  td.loop = a.loop;
  td.ml = a.ml;
  td.start = evl_loop_time (a.loop);
  for (i = 0; i < N_TIMERS; i++)
    {
      args[i].td = &td;
      args[i].index = i;
      td.delays[i] = delays[i];
      evl_loop_call_later (a.loop, delays[i], timer_cb, &args[i], NULL);
    }
  g_main_loop_run (a.ml);

  g_assert_cmpint (td.n, ==, N_TIMERS);
  for (i = 0; i < N_TIMERS; i++)
    {
      g_assert_cmpint (td.order[i], ==, expected[i]);
      /* Never early. */
      g_assert_cmpfloat (td.elapsed[i], >=, td.delays[i]);
    }

  attached_teardown (&a);
}

typedef struct
{
  EvlLoop   *loop;
  GMainLoop *ml;
  int        fds[2];
  GString   *received;
  gboolean   writer_ran;
} FdData;

static void
fd_reader_cb (gpointer data)
{
  FdData *d = data;
  char buf[64];
  gssize n;

  while ((n = read (d->fds[0], buf, sizeof buf)) > 0)
    g_string_append_len (d->received, buf, n);
  if (strstr (d->received->str, "ping") != NULL)
    g_main_loop_quit (d->ml);
}

static void
fd_writer_cb (gpointer data)
{
  FdData *d = data;

  d->writer_ran = TRUE;
  g_assert_true (evl_loop_remove_writer (d->loop, d->fds[1]));
}

static gboolean
write_ping_cb (gpointer data)
{
  FdData *d = data;

  g_assert_cmpint (write (d->fds[1], "ping", 4), ==, 4);
  return G_SOURCE_REMOVE;
}

static void
test_source_fd (void)
{
  Attached a;
  FdData d = { 0 };
  GError *error = NULL;
  GSource *writer;

  attached_setup (&a, FALSE);
  d.loop = a.loop;
  d.ml = a.ml;
  d.received = g_string_new (NULL);
  evl_test_socketpair (d.fds);

  g_assert_true (evl_loop_add_reader (a.loop, d.fds[0], fd_reader_cb, &d, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (evl_loop_add_writer (a.loop, d.fds[1], fd_writer_cb, &d, NULL, &error));
  g_assert_no_error (error);

  /* GLib writes later, from a source of its own on the same context. */
  writer = g_timeout_source_new (20);
  g_source_set_callback (writer, write_ping_cb, &d, NULL);
  g_source_attach (writer, a.context);
  g_source_unref (writer);

  g_main_loop_run (a.ml);
  g_assert_cmpstr (d.received->str, ==, "ping");
  g_assert_true (d.writer_ran);
  g_assert_true (evl_loop_remove_reader (a.loop, d.fds[0]));

  attached_teardown (&a);
  close (d.fds[0]);
  close (d.fds[1]);
  g_string_free (d.received, TRUE);
}

typedef struct
{
  EvlLoop   *loop;
  GMainLoop *ml;
  guint      count;
  gboolean   running_inside;
} SignalData;

static void
signal_cb (gpointer data)
{
  SignalData *d = data;

  d->count++;
  d->running_inside = evl_get_running_loop () == d->loop;
  g_main_loop_quit (d->ml);
}

static gpointer
raise_signal_thread (gpointer data)
{
  g_usleep (20000);
  kill (getpid (), GPOINTER_TO_INT (data));
  return NULL;
}

static void
test_source_signal (void)
{
  Attached a;
  SignalData d = { 0 };
  GError *error = NULL;
  GThread *thread;

  attached_setup (&a, FALSE);
  d.loop = a.loop;
  d.ml = a.ml;
  g_assert_true (evl_loop_add_signal_handler (a.loop, SIGUSR1, signal_cb, &d, NULL, &error));
  g_assert_no_error (error);

  /* Delivered while GLib sleeps in poll(), by another thread. */
  thread = g_thread_new ("evl-test-signal", raise_signal_thread, GINT_TO_POINTER (SIGUSR1));
  g_main_loop_run (a.ml);
  g_thread_join (thread);

  g_assert_cmpuint (d.count, ==, 1);
  g_assert_true (d.running_inside);
  g_assert_true (evl_loop_remove_signal_handler (a.loop, SIGUSR1));

  attached_teardown (&a);
}

typedef struct
{
  EvlLoop   *loop;
  GMainLoop *ml;
  GThread   *caller;
  GThread   *ran_in;
  guint      count;
} TsData;

static void
ts_cb (gpointer data)
{
  TsData *d = data;

  d->count++;
  d->ran_in = g_thread_self ();
  if (d->ml != NULL)
    g_main_loop_quit (d->ml);
}

static gpointer
ts_thread (gpointer data)
{
  TsData *d = data;
  EvlHandle *handle;

  d->caller = g_thread_self ();
  g_usleep (50000);
  handle = evl_loop_call_soon_threadsafe (d->loop, ts_cb, d, NULL);
  g_assert_nonnull (handle);
  evl_handle_unref (handle);
  return NULL;
}

static void
test_source_threadsafe (void)
{
  Attached a;
  TsData d = { 0 };
  GThread *thread;

  attached_setup (&a, FALSE);
  d.loop = a.loop;
  d.ml = a.ml;

  thread = g_thread_new ("evl-test-ts", ts_thread, &d);
  g_main_loop_run (a.ml);
  g_thread_join (thread);

  g_assert_cmpuint (d.count, ==, 1);
  g_assert_true (d.ran_in == g_thread_self ());

  attached_teardown (&a);
}

typedef struct
{
  GMainLoop *ml;
  guint      glib_timeout;
  guint      glib_idle;
  guint      evl_timer;
} MixData;

static void
mix_check (MixData *d)
{
  if (d->glib_timeout >= 3 && d->glib_idle >= 1 && d->evl_timer >= 1)
    g_main_loop_quit (d->ml);
}

static gboolean
mix_timeout_cb (gpointer data)
{
  MixData *d = data;

  d->glib_timeout++;
  mix_check (d);
  return d->glib_timeout < 3 ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

static gboolean
mix_idle_cb (gpointer data)
{
  MixData *d = data;

  d->glib_idle++;
  mix_check (d);
  return G_SOURCE_REMOVE;
}

static void
mix_evl_cb (gpointer data)
{
  MixData *d = data;

  d->evl_timer++;
  mix_check (d);
}

static void
test_source_glib_sources (void)
{
  Attached a;
  MixData d = { 0 };
  GSource *s;

  attached_setup (&a, FALSE);
  d.ml = a.ml;

  s = g_timeout_source_new (10);
  g_source_set_callback (s, mix_timeout_cb, &d, NULL);
  g_source_attach (s, a.context);
  g_source_unref (s);
  s = g_idle_source_new ();
  g_source_set_callback (s, mix_idle_cb, &d, NULL);
  g_source_attach (s, a.context);
  g_source_unref (s);
  evl_loop_call_later (a.loop, 0.02, mix_evl_cb, &d, NULL);

  g_main_loop_run (a.ml);
  g_assert_cmpuint (d.glib_timeout, ==, 3);
  g_assert_cmpuint (d.glib_idle, ==, 1);
  g_assert_cmpuint (d.evl_timer, ==, 1);

  attached_teardown (&a);
}

static void
record_evl_cb (gpointer data)
{
  g_string_append_c (data, 'E');
}

static gboolean
record_glib_cb (gpointer data)
{
  g_string_append_c (data, 'G');
  return G_SOURCE_REMOVE;
}

static void
add_recording_idle (GMainContext *context,
                    GString      *order)
{
  GSource *idle = g_idle_source_new ();

  g_source_set_priority (idle, G_PRIORITY_DEFAULT);
  g_source_set_callback (idle, record_glib_cb, order, NULL);
  g_source_attach (idle, context);
  g_source_unref (idle);
}

static void
test_source_priority (void)
{
  GMainContext *context = g_main_context_new ();
  EvlLoop *loop = evl_test_new_loop ();
  GSource *source = evl_loop_create_source (loop);
  GString *order = g_string_new (NULL);

  g_assert_cmpint (g_source_get_priority (source), ==, G_PRIORITY_DEFAULT);
  g_source_set_priority (source, G_PRIORITY_HIGH);
  g_source_attach (source, context);

  /* Both ready: GLib dispatches only the higher priority in an iteration. */
  evl_loop_call_soon (loop, record_evl_cb, order, NULL);
  add_recording_idle (context, order);
  g_assert_true (g_main_context_iteration (context, FALSE));
  g_assert_cmpstr (order->str, ==, "E");
  g_assert_true (g_main_context_iteration (context, FALSE));
  g_assert_cmpstr (order->str, ==, "EG");

  g_string_truncate (order, 0);
  g_source_set_priority (source, G_PRIORITY_LOW);
  g_assert_cmpint (g_source_get_priority (source), ==, G_PRIORITY_LOW);
  evl_loop_call_soon (loop, record_evl_cb, order, NULL);
  add_recording_idle (context, order);
  g_assert_true (g_main_context_iteration (context, FALSE));
  g_assert_cmpstr (order->str, ==, "G");
  g_assert_true (g_main_context_iteration (context, FALSE));
  g_assert_cmpstr (order->str, ==, "GE");

  close_loop (loop);
  g_assert_true (g_source_is_destroyed (source));
  g_source_unref (source);
  g_string_free (order, TRUE);
  g_main_context_unref (context);
}

/* The number of fds GLib would poll for @context now. */
static gint
count_glib_fds (GMainContext *context)
{
  GPollFD fds[4096];
  gint max_priority, timeout, n;

  g_assert_true (g_main_context_acquire (context));
  g_main_context_prepare (context, &max_priority);
  n = g_main_context_query (context, G_MAXINT, &timeout, fds, G_N_ELEMENTS (fds));
  g_main_context_release (context);
  return n;
}

#define N_PAIRS 1000

typedef struct
{
  EvlLoop   *loop;
  GMainLoop *ml;
  int       *pairs;      /* N_PAIRS pairs: [2 * i] read, [2 * i + 1] write */
  guint      fired;
  guint      bad;
} ManyData;

typedef struct
{
  ManyData *d;
  int       index;
} ManyArg;

static void
many_reader_cb (gpointer data)
{
  ManyArg *arg = data;
  ManyData *d = arg->d;
  int fd = d->pairs[2 * arg->index];
  char c;

  if (read (fd, &c, 1) != 1 || c != (char) ('a' + arg->index % 26))
    d->bad++;
  g_assert_true (evl_loop_remove_reader (d->loop, fd));
  if (++d->fired == N_PAIRS)
    g_main_loop_quit (d->ml);
}

static gboolean
ensure_fd_limit (rlim_t needed)
{
  struct rlimit rl;

  if (getrlimit (RLIMIT_NOFILE, &rl) != 0)
    return FALSE;
  if (rl.rlim_cur >= needed)
    return TRUE;
  if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < needed)
    return FALSE;
  rl.rlim_cur = needed;
  return setrlimit (RLIMIT_NOFILE, &rl) == 0;
}

static void
test_source_many_fds (void)
{
  Attached a;
  ManyData d = { 0 };
  ManyArg *args;
  GError *error = NULL;
  gint n_glib;
  int i;

  if (g_strcmp0 (g_getenv ("EVL_SELECTOR"), "select") == 0)
    {
      g_test_skip ("select() watches fds below FD_SETSIZE only");
      return;
    }
  if (!ensure_fd_limit (2 * N_PAIRS + 256))
    {
      g_test_skip ("RLIMIT_NOFILE too low for 1000 socketpairs");
      return;
    }

  attached_setup (&a, FALSE);
  d.loop = a.loop;
  d.ml = a.ml;
  d.pairs = g_new (int, 2 * N_PAIRS);
  args = g_new (ManyArg, N_PAIRS);
  for (i = 0; i < N_PAIRS; i++)
    {
      evl_test_socketpair (&d.pairs[2 * i]);
      args[i].d = &d;
      args[i].index = i;
      g_assert_true (evl_loop_add_reader (a.loop, d.pairs[2 * i], many_reader_cb, &args[i], NULL, &error));
      g_assert_no_error (error);
    }

  n_glib = count_glib_fds (a.context);
  g_test_message ("GLib polls %d fds for a loop watching %d", n_glib, N_PAIRS);
  if (loop_has_poll_fd (a.loop))
    /* The loop's poll fd and GLib's own wakeup fd. */
    g_assert_cmpint (n_glib, <=, 3);
  else
    /* Fallback: every watched fd mirrored into GLib. */
    g_assert_cmpint (n_glib, >=, N_PAIRS);

  for (i = 0; i < N_PAIRS; i++)
    {
      char c = (char) ('a' + i % 26);
      g_assert_cmpint (write (d.pairs[2 * i + 1], &c, 1), ==, 1);
    }
  g_main_loop_run (a.ml);
  g_assert_cmpuint (d.fired, ==, N_PAIRS);
  g_assert_cmpuint (d.bad, ==, 0);

  /* Every reader is gone: GLib polls at most the loop's wakeup fd and its own. */
  g_assert_cmpint (count_glib_fds (a.context), <=, 3);

  attached_teardown (&a);
  for (i = 0; i < N_PAIRS; i++)
    {
      close (d.pairs[2 * i]);
      close (d.pairs[2 * i + 1]);
    }
  g_free (d.pairs);
  g_free (args);
}

static void
test_source_close_detaches (void)
{
  GMainContext *context = g_main_context_new ();
  EvlLoop *loop = evl_test_new_loop ();
  GSource *source = evl_loop_create_source (loop);
  GSource *second = evl_loop_create_source (loop);
  GWeakRef weak;

  g_weak_ref_init (&weak, loop);
  g_source_attach (source, context);
  g_source_attach (second, context);
  g_assert_false (g_source_is_destroyed (source));

  close_loop (loop);
  g_assert_true (g_source_is_destroyed (source));
  g_assert_true (g_source_is_destroyed (second));
  /* The context lets go of the sources; the sources let go of the loop. */
  g_assert_false (g_main_context_pending (context));
  g_source_unref (source);
  g_source_unref (second);
  g_assert_null (g_weak_ref_get (&weak));
  g_weak_ref_clear (&weak);
  g_main_context_unref (context);
}

typedef struct
{
  EvlLoop   *loop;
  GMainLoop *ml;
  guint      ran;
  guint      late;
} StopData;

static void
stop_and_quit_cb (gpointer data)
{
  StopData *d = data;

  /* No explicit run is in progress: remembered for the next one. */
  evl_loop_stop (d->loop);
  g_main_loop_quit (d->ml);
}

static void
count_ran_cb (gpointer data)
{
  ((StopData *) data)->ran++;
}

static void
count_late_cb (gpointer data)
{
  StopData *d = data;

  /* Reached only if the remembered stop was lost: end the run anyway so
   * that the test fails on the assertion rather than hangs. */
  d->late++;
  evl_loop_stop (d->loop);
}

static void
test_source_stop_remembered (void)
{
  Attached a;
  StopData d = { 0 };
  GError *error = NULL;
  EvlHandle *late;

  attached_setup (&a, FALSE);
  d.loop = a.loop;
  d.ml = a.ml;

  evl_loop_call_soon (a.loop, stop_and_quit_cb, &d, NULL);
  g_main_loop_run (a.ml);

  /* GLib goes on dispatching the loop: the pending stop is not consumed. */
  evl_loop_call_soon (a.loop, count_ran_cb, &d, NULL);
  while (g_main_context_iteration (a.context, FALSE))
    ;
  g_assert_cmpuint (d.ran, ==, 1);

  /* The next explicit run does one iteration and returns. */
  evl_loop_call_soon (a.loop, count_ran_cb, &d, NULL);
  late = evl_handle_ref (evl_loop_call_later (a.loop, 5.0, count_late_cb, &d, NULL));
  g_assert_true (evl_loop_run_forever (a.loop, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (d.ran, ==, 2);
  g_assert_cmpuint (d.late, ==, 0);
  handle_done (late);

  /* And the one after that runs until its own stop. */
  evl_loop_call_later (a.loop, 0.02, count_ran_cb, &d, NULL);
  evl_loop_call_later (a.loop, 0.03, evl_test_stop_cb, a.loop, NULL);
  g_assert_true (evl_loop_run_forever (a.loop, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (d.ran, ==, 3);

  attached_teardown (&a);
}

static void
future_done_quit_cb (EvlFuture *future,
                     gpointer   data)
{
  g_main_loop_quit (data);
}

/* A future completed from a GLib callback wakes the loop's done callback
 * at once (asyncio-glib#3). */
static void
test_source_future_from_glib (void)
{
  Attached a;
  EvlFuture *future;
  GSource *s;

  attached_setup (&a, FALSE);
  future = evl_loop_create_future (a.loop);
  evl_future_add_done_callback (future, future_done_quit_cb, a.ml, NULL);

  s = g_timeout_source_new (20);
  g_source_set_callback (s, complete_future_source_cb, future, NULL);
  g_source_attach (s, a.context);
  g_source_unref (s);

  g_main_loop_run (a.ml);
  g_assert_true (evl_future_is_done (future));

  g_object_unref (future);
  attached_teardown (&a);
}

static void
test_source_idle_cpu (void)
{
  Attached a;
  GError *error = NULL;
  int fds[2];
  GSource *s;
  double cpu0, wall0;
  int i;

  attached_setup (&a, FALSE);
  evl_test_socketpair (fds);
  /* Quiet readers, a far timer and a writable fd nobody watches for
   * writing: nothing to do. */
  for (i = 0; i < 2; i++)
    {
      g_assert_true (evl_loop_add_reader (a.loop, fds[i], count_ran_cb, NULL, NULL, &error));
      g_assert_no_error (error);
    }
  evl_loop_call_later (a.loop, 60.0, count_ran_cb, NULL, NULL);

  s = g_timeout_source_new (300);
  g_source_set_callback (s, quit_source_cb, a.ml, NULL);
  g_source_attach (s, a.context);
  g_source_unref (s);

  cpu0 = evl_test_cpu_time ();
  wall0 = wall_seconds ();
  g_main_loop_run (a.ml);
  assert_idle (cpu0, wall0, "attached loop, idle");

  attached_teardown (&a);
  close (fds[0]);
  close (fds[1]);
}

int
main (int   argc,
      char *argv[])
{
  if (!bridge_test_init (&argc, &argv))
    return g_test_run ();

  g_test_add_func ("/Evl/Bridge/source/call-soon", test_source_call_soon);
  g_test_add_func ("/Evl/Bridge/source/attach-id", test_source_attach_id);
  g_test_add_func ("/Evl/Bridge/source/timers", test_source_timers);
  g_test_add_func ("/Evl/Bridge/source/fd", test_source_fd);
  g_test_add_func ("/Evl/Bridge/source/signal", test_source_signal);
  g_test_add_func ("/Evl/Bridge/source/threadsafe", test_source_threadsafe);
  g_test_add_func ("/Evl/Bridge/source/glib-sources", test_source_glib_sources);
  g_test_add_func ("/Evl/Bridge/source/priority", test_source_priority);
  g_test_add_func ("/Evl/Bridge/source/many-fds", test_source_many_fds);
  g_test_add_func ("/Evl/Bridge/source/close-detaches", test_source_close_detaches);
  g_test_add_func ("/Evl/Bridge/source/stop-remembered", test_source_stop_remembered);
  g_test_add_func ("/Evl/Bridge/source/future-from-glib", test_source_future_from_glib);
  g_test_add_func ("/Evl/Bridge/source/idle-cpu", test_source_idle_cpu);

  return g_test_run ();
}
