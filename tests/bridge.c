/* bridge.c: tests of the GLib bridges, both directions
 *
 *  - evloop inside GLib: the loop as one GSource (evl_loop_attach) in a
 *    GMainContext iterated by g_main_loop_run();
 *  - GLib inside evloop: a loop constructed with a "context" drives that
 *    GMainContext through its own backend while it runs;
 *  - nested runs, modal main loops, both bridges at once;
 *  - no busy loops and no missed wakeups;
 *  - per-thread loops with contexts of their own.
 *
 * Run with EVL_SELECTOR=poll (the 'bridge-poll' test) the loop has no poll
 * fd and the GSource mirrors every watched fd into GLib instead.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <evloop-glib/evloop-glib.h>

#include "evl-test-util.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <glib-unix.h>
#include <glib/gstdio.h>

/* Helpers ---------------------------------------------------------------- */

/* A generous guard for "this must happen": only reached on failure. */
static guint
guard_ms (void)
{
  return evl_test_under_valgrind () ? 60000 : 10000;
}

static void
close_loop (EvlLoop *loop)
{
  GError *error = NULL;

  g_assert_true (evl_loop_close (loop, &error));
  g_assert_no_error (error);
  g_object_unref (loop);
}

/* A loop of the kind under test that drives @context while it runs. */
static EvlLoop *
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
static gboolean
loop_has_poll_fd (EvlLoop *loop)
{
  if (EVL_IS_SELECTOR_LOOP (loop))
    return evl_selector_get_fd (evl_selector_loop_get_selector (EVL_SELECTOR_LOOP (loop))) >= 0;
  return TRUE;
}

static double
cpu_seconds (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double) ts.tv_sec + ts.tv_nsec / 1e9;
}

static double
wall_seconds (void)
{
  return g_get_monotonic_time () / 1e6;
}

/* Fails the test if more than 20 % of the wall time was spent on a CPU:
 * a generous bound that only a busy loop exceeds. */
static void
assert_idle (double cpu0,
             double wall0,
             const char *what)
{
  double cpu = cpu_seconds () - cpu0;
  double wall = wall_seconds () - wall0;

  g_test_message ("%s: %.1f ms CPU over %.1f ms", what, cpu * 1e3, wall * 1e3);
  g_assert_cmpfloat (wall, >=, 0.25);
  if (cpu >= 0.2 * wall)
    g_error ("%s: busy loop: %.1f ms of CPU time over %.1f ms of wall time",
             what, cpu * 1e3, wall * 1e3);
}

/* A GLib-side guard: quits @ml and records that it fired. */
typedef struct
{
  GMainLoop *ml;
  gboolean   fired;
  GSource   *source;
} Guard;

static gboolean
guard_fired (gpointer data)
{
  Guard *guard = data;

  guard->fired = TRUE;
  g_main_loop_quit (guard->ml);
  return G_SOURCE_REMOVE;
}

static void
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

static void
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

static EvlHandle *
future_guard (EvlLoop   *loop,
              EvlFuture *future)
{
  return evl_handle_ref (evl_loop_call_later (loop, guard_ms () / 1000.0, cancel_future_cb,
                                              future, NULL));
}

static void
handle_done (EvlHandle *handle)
{
  evl_handle_cancel (handle);
  evl_handle_unref (handle);
}

static void
complete_future (EvlFuture *future)
{
  GError *error = NULL;

  g_assert_true (evl_future_set_result (future, NULL, &error));
  g_assert_no_error (error);
}

static void
complete_future_cb (gpointer data)
{
  complete_future (EVL_FUTURE (data));
}

static gboolean
complete_future_source_cb (gpointer data)
{
  complete_future (EVL_FUTURE (data));
  return G_SOURCE_REMOVE;
}

static void
run_until_complete_ok (EvlLoop   *loop,
                       EvlFuture *future)
{
  GError *error = NULL;
  EvlHandle *guard = future_guard (loop, future);

  g_assert_true (evl_loop_run_until_complete (loop, future, &error));
  g_assert_no_error (error);
  handle_done (guard);
}

static void
stop_cb (gpointer data)
{
  evl_loop_stop (EVL_LOOP (data));
}

/* Runs @loop for @seconds (it may drive its context meanwhile). */
static void
spin (EvlLoop *loop,
      double   seconds)
{
  GError *error = NULL;

  evl_loop_call_later (loop, seconds, stop_cb, loop, NULL);
  g_assert_true (evl_loop_run_forever (loop, &error));
  g_assert_no_error (error);
}

static void
quit_cb (gpointer data)
{
  g_main_loop_quit (data);
}

static gboolean
quit_source_cb (gpointer data)
{
  g_main_loop_quit (data);
  return G_SOURCE_REMOVE;
}

/* Sets up a fresh context, a GMainLoop on it and a loop attached to it. */
typedef struct
{
  GMainContext *context;
  GMainLoop    *ml;
  EvlLoop      *loop;
  GSource      *source;
  Guard         guard;
} Attached;

static void
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

static void
attached_teardown (Attached *a)
{
  guard_stop (&a->guard);
  close_loop (a->loop);
  g_assert_true (g_source_is_destroyed (a->source));
  g_source_unref (a->source);
  g_main_loop_unref (a->ml);
  g_main_context_unref (a->context);
}

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
  evl_loop_call_later (a.loop, 0.03, stop_cb, a.loop, NULL);
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

  cpu0 = cpu_seconds ();
  wall0 = wall_seconds ();
  g_main_loop_run (a.ml);
  assert_idle (cpu0, wall0, "attached loop, idle");

  attached_teardown (&a);
  close (fds[0]);
  close (fds[1]);
}

/* GLib inside evloop ------------------------------------------------------ */

typedef struct
{
  GMainContext *context;
  gboolean      thread_default_ok;
  gboolean      owner_ok;
  gint64        fired_at;
  EvlFuture    *future;
} CtxData;

static gboolean
ctx_timeout_cb (gpointer data)
{
  CtxData *d = data;

  d->fired_at = g_get_monotonic_time ();
  d->thread_default_ok = g_main_context_get_thread_default () == d->context;
  d->owner_ok = g_main_context_is_owner (d->context);
  complete_future (d->future);
  return G_SOURCE_REMOVE;
}

static void
test_context_timeout (void)
{
  GMainContext *context = g_main_context_new ();
  EvlLoop *loop = new_context_loop (context);
  CtxData d = { context, FALSE, FALSE, 0, NULL };
  GSource *s;
  gint64 start;

  g_assert_true (evl_loop_get_context (loop) == context);
  d.future = evl_loop_create_future (loop);

  start = g_get_monotonic_time ();
  s = g_timeout_source_new (50);
  g_source_set_callback (s, ctx_timeout_cb, &d, NULL);
  g_source_attach (s, context);
  g_source_unref (s);

  run_until_complete_ok (loop, d.future);
  g_assert_cmpint (d.fired_at - start, >=, 50000);
  g_assert_cmpint (d.fired_at - start, <, 5 * G_USEC_PER_SEC);
  g_assert_true (d.thread_default_ok);
  g_assert_true (d.owner_ok);
  /* Popped and released again. */
  g_assert_null (g_main_context_get_thread_default ());
  g_assert_false (g_main_context_is_owner (context));

  g_object_unref (d.future);
  close_loop (loop);
  g_main_context_unref (context);
}

typedef struct
{
  EvlLoop      *loop;
  GMainContext *context;
  gboolean      pushed;
  gboolean      running;
} TdData;

static void
thread_default_cb (gpointer data)
{
  TdData *d = data;
  GMainContext *current = g_main_context_ref_thread_default ();

  d->pushed = current == d->context;
  d->running = evl_get_running_loop () == d->loop;
  g_main_context_unref (current);
  evl_loop_stop (d->loop);
}

static void
test_context_thread_default (void)
{
  GMainContext *context = g_main_context_new ();
  TdData d = { new_context_loop (context), context, FALSE, FALSE };
  GError *error = NULL;

  evl_loop_call_soon (d.loop, thread_default_cb, &d, NULL);
  g_assert_true (evl_loop_run_forever (d.loop, &error));
  g_assert_no_error (error);
  g_assert_true (d.pushed);
  g_assert_true (d.running);
  g_assert_null (g_main_context_get_thread_default ());
  close_loop (d.loop);
  g_main_context_unref (context);

  /* The global default context is not pushed: it is the default already. */
  context = g_main_context_default ();
  d.loop = new_context_loop (context);
  d.context = context;
  d.pushed = FALSE;
  evl_loop_call_soon (d.loop, thread_default_cb, &d, NULL);
  g_assert_true (evl_loop_run_forever (d.loop, &error));
  g_assert_no_error (error);
  g_assert_true (d.pushed);
  g_assert_null (g_main_context_get_thread_default ());
  close_loop (d.loop);
}

/* GIO's socket machinery: a GSocketService and a GSocketClient talk over
 * loopback TCP, all through GLib sources of the driven context. */
typedef struct
{
  EvlLoop           *loop;
  GMainContext      *context;
  EvlFuture         *future;
  GSocketService    *service;
  GSocketClient     *client;
  GSocketConnection *server_conn;
  GSocketConnection *client_conn;
  char               buf[64];
  GString           *received;
  gboolean           thread_default_ok;
  GError            *error;
} GioData;

static void
gio_fail (GioData *d,
          GError  *error)
{
  if (d->error == NULL)
    d->error = error;
  else
    g_error_free (error);
  if (!evl_future_is_done (d->future))
    complete_future (d->future);
}

static void
gio_read_cb (GObject      *source,
             GAsyncResult *result,
             gpointer      data)
{
  GioData *d = data;
  GError *error = NULL;
  gssize n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, &error);

  d->thread_default_ok &= g_main_context_get_thread_default () == d->context;
  if (n < 0)
    {
      gio_fail (d, error);
      return;
    }
  g_string_append_len (d->received, d->buf, n);
  if (n == 0 || strstr (d->received->str, "hello evloop") != NULL)
    {
      complete_future (d->future);
      return;
    }
  g_input_stream_read_async (G_INPUT_STREAM (source), d->buf, sizeof d->buf, G_PRIORITY_DEFAULT,
                             NULL, gio_read_cb, d);
}

static gboolean
gio_incoming_cb (GSocketService    *service,
                 GSocketConnection *connection,
                 GObject           *source_object,
                 gpointer           data)
{
  GioData *d = data;

  d->server_conn = g_object_ref (connection);
  g_input_stream_read_async (g_io_stream_get_input_stream (G_IO_STREAM (connection)),
                             d->buf, sizeof d->buf, G_PRIORITY_DEFAULT, NULL, gio_read_cb, d);
  return TRUE;
}

static void
gio_written_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      data)
{
  GioData *d = data;
  GError *error = NULL;

  if (!g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, &error))
    gio_fail (d, error);
}

static void
gio_connected_cb (GObject      *source,
                  GAsyncResult *result,
                  gpointer      data)
{
  GioData *d = data;
  GError *error = NULL;

  d->client_conn = g_socket_client_connect_finish (G_SOCKET_CLIENT (source), result, &error);
  if (d->client_conn == NULL)
    {
      gio_fail (d, error);
      return;
    }
  d->thread_default_ok &= g_main_context_get_thread_default () == d->context;
  g_output_stream_write_all_async (g_io_stream_get_output_stream (G_IO_STREAM (d->client_conn)),
                                   "hello evloop", 12, G_PRIORITY_DEFAULT, NULL,
                                   gio_written_cb, d);
}

static void
gio_start_cb (gpointer data)
{
  GioData *d = data;
  GInetAddress *loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  GSocketAddress *address = g_inet_socket_address_new (loopback, 0);
  GSocketAddress *effective = NULL;
  GError *error = NULL;

  d->thread_default_ok = g_main_context_get_thread_default () == d->context;
  d->service = g_socket_service_new ();
  if (!g_socket_listener_add_address (G_SOCKET_LISTENER (d->service), address,
                                      G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP,
                                      NULL, &effective, &error))
    {
      gio_fail (d, error);
      goto out;
    }
  g_signal_connect (d->service, "incoming", G_CALLBACK (gio_incoming_cb), d);
  g_socket_service_start (d->service);

  d->client = g_socket_client_new ();
  g_socket_client_connect_async (d->client, G_SOCKET_CONNECTABLE (effective), NULL,
                                 gio_connected_cb, d);
out:
  g_clear_object (&effective);
  g_object_unref (address);
  g_object_unref (loopback);
}

static void
test_context_gio_socket (void)
{
  GMainContext *context = g_main_context_new ();
  GioData d = { 0 };

  d.context = context;
  d.loop = new_context_loop (context);
  d.future = evl_loop_create_future (d.loop);
  d.received = g_string_new (NULL);

  evl_loop_call_soon (d.loop, gio_start_cb, &d, NULL);
  run_until_complete_ok (d.loop, d.future);
  g_assert_no_error (d.error);
  g_assert_cmpstr (d.received->str, ==, "hello evloop");
  g_assert_true (d.thread_default_ok);

  /* Shut GIO down and let it deliver its cancellations. */
  g_socket_service_stop (d.service);
  g_socket_listener_close (G_SOCKET_LISTENER (d.service));
  g_io_stream_close (G_IO_STREAM (d.client_conn), NULL, NULL);
  g_io_stream_close (G_IO_STREAM (d.server_conn), NULL, NULL);
  spin (d.loop, 0.05);

  g_clear_object (&d.client_conn);
  g_clear_object (&d.server_conn);
  g_clear_object (&d.client);
  g_clear_object (&d.service);
  g_object_unref (d.future);
  close_loop (d.loop);
  g_string_free (d.received, TRUE);
  g_main_context_unref (context);
}

/* GIO's thread-pool machinery: g_file_load_contents_async() runs in a
 * worker thread and reports through the driven context. */
typedef struct
{
  GMainContext *context;
  EvlFuture    *future;
  char         *contents;
  gsize         length;
  GThread      *ran_in;
  gboolean      thread_default_ok;
  GError       *error;
} FileData;

static void
file_loaded_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      data)
{
  FileData *d = data;

  g_file_load_contents_finish (G_FILE (source), result, &d->contents, &d->length, NULL, &d->error);
  d->ran_in = g_thread_self ();
  d->thread_default_ok = g_main_context_get_thread_default () == d->context;
  complete_future (d->future);
}

typedef struct
{
  FileData *d;
  GFile    *file;
} FileStart;

static void
file_start_cb (gpointer data)
{
  FileStart *start = data;

  g_file_load_contents_async (start->file, NULL, file_loaded_cb, start->d);
}

/* Loads @path with GIO through @loop, which must drive a context. */
static void
load_file_with_loop (EvlLoop    *loop,
                     const char *path,
                     FileData   *d)
{
  FileStart start = { d, g_file_new_for_path (path) };

  d->context = evl_loop_get_context (loop);
  d->future = evl_loop_create_future (loop);
  evl_loop_call_soon (loop, file_start_cb, &start, NULL);
  run_until_complete_ok (loop, d->future);
  g_object_unref (d->future);
  g_object_unref (start.file);
}

static char *
make_temp_file (const char *contents)
{
  GError *error = NULL;
  char *path = NULL;
  int fd = g_file_open_tmp ("evl-bridge-XXXXXX", &path, &error);

  g_assert_no_error (error);
  close (fd);
  g_assert_true (g_file_set_contents (path, contents, -1, &error));
  g_assert_no_error (error);
  return path;
}

static void
test_context_gio_file (void)
{
  GMainContext *context = g_main_context_new ();
  EvlLoop *loop = new_context_loop (context);
  char *path = make_temp_file ("evloop drives GLib");
  FileData d = { 0 };

  load_file_with_loop (loop, path, &d);
  g_assert_no_error (d.error);
  g_assert_cmpstr (d.contents, ==, "evloop drives GLib");
  g_assert_true (d.ran_in == g_thread_self ());
  g_assert_true (d.thread_default_ok);

  g_free (d.contents);
  g_unlink (path);
  g_free (path);
  close_loop (loop);
  g_main_context_unref (context);
}

/* A GLib source that becomes ready when a flag is set from another thread,
 * followed by g_main_context_wakeup(): the classic missed-wakeup case. */
typedef struct
{
  GSource    source;
  gint      *flag;
  EvlFuture *future;
} FlagSource;

static gboolean
flag_source_prepare (GSource *source,
                     gint    *timeout)
{
  *timeout = -1;
  return g_atomic_int_get (((FlagSource *) source)->flag) != 0;
}

static gboolean
flag_source_check (GSource *source)
{
  return g_atomic_int_get (((FlagSource *) source)->flag) != 0;
}

static gboolean
flag_source_dispatch (GSource     *source,
                      GSourceFunc  callback,
                      gpointer     data)
{
  complete_future (((FlagSource *) source)->future);
  return G_SOURCE_REMOVE;
}

static GSourceFuncs flag_source_funcs = {
  flag_source_prepare, flag_source_check, flag_source_dispatch, NULL, NULL, NULL
};

typedef struct
{
  GMainContext *context;
  gint          flag;
  EvlFuture    *future;
  gboolean      use_idle;
} WakeData;

static gpointer
wake_thread (gpointer data)
{
  WakeData *d = data;

  g_usleep (50000);
  if (d->use_idle)
    {
      GSource *idle = g_idle_source_new ();

      g_source_set_callback (idle, complete_future_source_cb, d->future, NULL);
      g_source_attach (idle, d->context);
      g_source_unref (idle);
    }
  else
    {
      g_atomic_int_set (&d->flag, 1);
      g_main_context_wakeup (d->context);
    }
  return NULL;
}

static void
test_context_cross_thread_wakeup (void)
{
  GMainContext *context = g_main_context_new ();
  EvlLoop *loop = new_context_loop (context);
  WakeData d = { context, 0, NULL, FALSE };
  GSource *s;
  GThread *thread;

  /* g_main_context_wakeup() after setting a flag a source checks. */
  d.future = evl_loop_create_future (loop);
  s = g_source_new (&flag_source_funcs, sizeof (FlagSource));
  ((FlagSource *) s)->flag = &d.flag;
  ((FlagSource *) s)->future = d.future;
  g_source_attach (s, context);
  g_source_unref (s);
  thread = g_thread_new ("evl-test-wakeup", wake_thread, &d);
  run_until_complete_ok (loop, d.future);
  g_thread_join (thread);
  g_object_unref (d.future);

  /* g_idle_add() to the context from another thread. */
  d.future = evl_loop_create_future (loop);
  d.use_idle = TRUE;
  thread = g_thread_new ("evl-test-wakeup", wake_thread, &d);
  run_until_complete_ok (loop, d.future);
  g_thread_join (thread);
  g_object_unref (d.future);

  close_loop (loop);
  g_main_context_unref (context);
}

typedef struct
{
  EvlLoop   *loop;
  EvlFuture *future;
} PostData;

static gpointer
post_thread (gpointer data)
{
  PostData *d = data;

  g_usleep (50000);
  evl_handle_unref (evl_loop_call_soon_threadsafe (d->loop, complete_future_cb,
                                                   d->future, NULL));
  return NULL;
}

/* A future completed through call_soon_threadsafe wakes a loop that waits
 * in its own backend for GLib's fds. */
static void
test_context_threadsafe_future (void)
{
  GMainContext *context = g_main_context_new ();
  PostData d = { new_context_loop (context), NULL };
  GThread *thread;

  d.future = evl_loop_create_future (d.loop);
  thread = g_thread_new ("evl-test-post", post_thread, &d);
  run_until_complete_ok (d.loop, d.future);
  g_thread_join (thread);

  g_object_unref (d.future);
  close_loop (d.loop);
  g_main_context_unref (context);
}

typedef struct
{
  GMainContext *context;
  GMutex        lock;
  GCond         cond;
  gboolean      acquired;
  gboolean      release;
} OwnerData;

static gpointer
owner_thread (gpointer data)
{
  OwnerData *d = data;

  g_assert_true (g_main_context_acquire (d->context));
  g_mutex_lock (&d->lock);
  d->acquired = TRUE;
  g_cond_broadcast (&d->cond);
  while (!d->release)
    g_cond_wait (&d->cond, &d->lock);
  g_mutex_unlock (&d->lock);
  g_main_context_release (d->context);
  return NULL;
}

static void
test_context_owned_elsewhere (void)
{
  GMainContext *context = g_main_context_new ();
  EvlLoop *loop = new_context_loop (context);
  OwnerData d = { context };
  EvlFuture *future;
  GError *error = NULL;
  GThread *thread;

  g_mutex_init (&d.lock);
  g_cond_init (&d.cond);
  thread = g_thread_new ("evl-test-owner", owner_thread, &d);
  g_mutex_lock (&d.lock);
  while (!d.acquired)
    g_cond_wait (&d.cond, &d.lock);
  g_mutex_unlock (&d.lock);

  /* A clear error, not a hang. */
  g_assert_false (evl_loop_run_forever (loop, &error));
  g_assert_error (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, "another thread"));
  g_clear_error (&error);
  g_assert_false (evl_loop_is_running (loop));
  g_assert_null (evl_get_running_loop ());

  future = evl_loop_create_future (loop);
  g_assert_false (evl_loop_run_until_complete (loop, future, &error));
  g_assert_error (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_FAILED);
  g_clear_error (&error);
  g_object_unref (future);

  g_mutex_lock (&d.lock);
  d.release = TRUE;
  g_cond_broadcast (&d.cond);
  g_mutex_unlock (&d.lock);
  g_thread_join (thread);

  /* Usable once the other thread lets go. */
  evl_loop_call_soon (loop, stop_cb, loop, NULL);
  g_assert_true (evl_loop_run_forever (loop, &error));
  g_assert_no_error (error);

  close_loop (loop);
  g_mutex_clear (&d.lock);
  g_cond_clear (&d.cond);
  g_main_context_unref (context);
}

static gboolean
never_cb (gpointer data)
{
  (*(guint *) data)++;
  return G_SOURCE_CONTINUE;
}

static gboolean
never_fd_cb (gint         fd,
             GIOCondition condition,
             gpointer     data)
{
  (*(guint *) data)++;
  return G_SOURCE_CONTINUE;
}

static void
test_context_idle_cpu (void)
{
  GMainContext *context = g_main_context_new ();
  EvlLoop *loop = new_context_loop (context);
  guint never = 0;
  GSource *s;
  int fds[2];
  double cpu0, wall0;

  /* GLib has a far timeout and a quiet fd; the loop a far timer. */
  evl_test_socketpair (fds);
  s = g_timeout_source_new_seconds (60);
  g_source_set_callback (s, never_cb, &never, NULL);
  g_source_attach (s, context);
  g_source_unref (s);
  s = g_unix_fd_source_new (fds[0], G_IO_IN);
  g_source_set_callback (s, G_SOURCE_FUNC (never_fd_cb), &never, NULL);
  g_source_attach (s, context);
  g_source_unref (s);
  evl_loop_call_later (loop, 60.0, count_ran_cb, NULL, NULL);

  cpu0 = cpu_seconds ();
  wall0 = wall_seconds ();
  spin (loop, 0.3);
  assert_idle (cpu0, wall0, "loop driving a context, idle");
  g_assert_cmpuint (never, ==, 0);

  close_loop (loop);
  g_main_context_unref (context);
  close (fds[0]);
  close (fds[1]);
}

/* Once a run ends, the fds of the context it drove must not stay in the
 * loop's backend: nobody dispatches them, and a ready one would make the
 * loop's poll fd ready forever (a busy GLib loop where the loop is
 * attached). */
static void
test_context_fds_released (void)
{
  GMainContext *context = g_main_context_new ();
  EvlLoop *loop = new_context_loop (context);
  GMainContext *other = g_main_context_new ();
  GMainLoop *ml = g_main_loop_new (other, FALSE);
  guint fired = 0;
  GSource *s, *watch;
  int fds[2];
  double cpu0, wall0;

  evl_test_socketpair (fds);
  watch = g_unix_fd_source_new (fds[0], G_IO_IN);
  g_source_set_callback (watch, G_SOURCE_FUNC (never_fd_cb), &fired, NULL);
  g_source_attach (watch, context);
  spin (loop, 0.02);
  g_assert_cmpuint (fired, ==, 0);

  /* The watched fd becomes ready while nobody iterates @context. */
  g_assert_cmpint (write (fds[1], "x", 1), ==, 1);
  evl_loop_attach (loop, other);
  s = g_timeout_source_new (300);
  g_source_set_callback (s, quit_source_cb, ml, NULL);
  g_source_attach (s, other);
  g_source_unref (s);
  cpu0 = cpu_seconds ();
  wall0 = wall_seconds ();
  g_main_loop_run (ml);
  assert_idle (cpu0, wall0, "loop attached after driving another context");
  g_assert_cmpuint (fired, ==, 0);

  /* The next run watches the fd again and dispatches its source. */
  spin (loop, 0.02);
  g_assert_cmpuint (fired, >=, 1);

  g_source_destroy (watch);
  g_source_unref (watch);
  close_loop (loop);
  g_main_loop_unref (ml);
  g_main_context_unref (other);
  g_main_context_unref (context);
  close (fds[0]);
  close (fds[1]);
}

/* GLib closes an fd and watches a new one with the same number within one
 * dispatch: the loop's backend must watch the new file. */
typedef struct
{
  EvlFuture *future;
  GMainContext *context;
  int        old_fds[2];
  int        new_fds[2];
  gboolean   reused;
} ReuseData;

static gboolean
reuse_second_cb (gint         fd,
                 GIOCondition condition,
                 gpointer     data)
{
  ReuseData *d = data;
  char c;

  g_assert_cmpint (read (fd, &c, 1), ==, 1);
  complete_future (d->future);
  return G_SOURCE_REMOVE;
}

static void
reuse_write_cb (gpointer data)
{
  ReuseData *d = data;

  g_assert_cmpint (write (d->new_fds[1], "y", 1), ==, 1);
}

static gboolean
reuse_first_cb (gint         fd,
                GIOCondition condition,
                gpointer     data)
{
  ReuseData *d = data;
  GSource *s;

  close (d->old_fds[0]);
  close (d->old_fds[1]);
  evl_test_socketpair (d->new_fds);
  d->reused = d->new_fds[0] == d->old_fds[0] || d->new_fds[0] == d->old_fds[1];
  s = g_unix_fd_source_new (d->new_fds[0], G_IO_IN);
  g_source_set_callback (s, G_SOURCE_FUNC (reuse_second_cb), d, NULL);
  g_source_attach (s, d->context);
  g_source_unref (s);
  evl_loop_call_later (evl_get_running_loop (), 0.02, reuse_write_cb, d, NULL);
  return G_SOURCE_REMOVE;
}

static void
test_context_fd_reuse (void)
{
  GMainContext *context = g_main_context_new ();
  EvlLoop *loop = new_context_loop (context);
  ReuseData d = { NULL, context };
  GSource *s;

  d.future = evl_loop_create_future (loop);
  evl_test_socketpair (d.old_fds);
  s = g_unix_fd_source_new (d.old_fds[0], G_IO_IN);
  g_source_set_callback (s, G_SOURCE_FUNC (reuse_first_cb), &d, NULL);
  g_source_attach (s, context);
  g_source_unref (s);
  g_assert_cmpint (write (d.old_fds[1], "x", 1), ==, 1);

  run_until_complete_ok (loop, d.future);
  g_test_message ("fd number reused: %s", d.reused ? "yes" : "no");

  g_object_unref (d.future);
  close_loop (loop);
  g_main_context_unref (context);
  close (d.new_fds[0]);
  close (d.new_fds[1]);
}

/* Nested runs --------------------------------------------------------------- */

typedef struct
{
  EvlLoop   *loop;
  EvlFuture *outer;
  GString   *trace;
  gboolean   inner_ok;
  gboolean   running_after;   /* whether the loop ran before the inner run */
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

  s = g_idle_source_new ();
  g_source_set_callback (s, nested_glib_cb, &d, NULL);
  g_source_attach (s, a.context);
  g_source_unref (s);
  evl_loop_call_later (a.loop, 0.05, nested_quit_cb, a.ml, NULL);
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
  evl_loop_call_soon (d->loop, stop_cb, d->loop, NULL);
  g_assert_true (evl_loop_run_forever (d->loop, &error));
  g_assert_no_error (error);
  g_string_append (d->trace, ")");
  /* The outer run goes on: these run before its own stop. */
  evl_loop_call_later (d->loop, 0.01, mark_cb, d, NULL);
  evl_loop_call_later (d->loop, 0.02, stop_cb, d->loop, NULL);
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
  d->cpu0 = cpu_seconds ();
  d->wall0 = wall_seconds ();
  evl_loop_call_later (d->loop, 0.01, modal_tick_cb, d, NULL);
  g_main_loop_run (modal);
  d->modal_cpu = cpu_seconds () - d->cpu0;
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

  attached_setup (&a, TRUE);
  evl_loop_call_later (a.loop, 60.0, count_ran_cb, NULL, NULL);
  cpu0 = cpu_seconds ();
  wall0 = wall_seconds ();
  spin (a.loop, 0.3);
  assert_idle (cpu0, wall0, "loop attached to the context it drives, idle");
  attached_teardown (&a);
}

/* Per-thread loops ---------------------------------------------------------- */

#define N_THREADS 3

typedef struct
{
  const char   *path;
  GMainContext *context;     /* a reference, so addresses stay distinct */
  gboolean      context_is_default;
  gboolean      ok;
  char         *contents;
} ThreadResult;

static gpointer
per_thread_func (gpointer data)
{
  ThreadResult *r = data;
  EvlLoop *loop = evl_new_event_loop ();
  FileData d = { 0 };

  g_assert_nonnull (loop);
  if (evl_loop_get_context (loop) == NULL)
    {
      /* A policy that gives no context: make the loop ourselves. */
      GMainContext *context = g_main_context_new ();

      close_loop (loop);
      loop = new_context_loop (context);
      g_main_context_unref (context);
    }
  r->context = g_main_context_ref (evl_loop_get_context (loop));
  r->context_is_default = r->context == g_main_context_default ();

  load_file_with_loop (loop, r->path, &d);
  r->ok = d.error == NULL && d.ran_in == g_thread_self () && d.thread_default_ok;
  g_clear_error (&d.error);
  r->contents = d.contents;
  close_loop (loop);
  return NULL;
}

static void
test_per_thread_loops (void)
{
  ThreadResult results[N_THREADS] = { { 0 } };
  GThread *threads[N_THREADS];
  char *paths[N_THREADS];
  int i, j;

  for (i = 0; i < N_THREADS; i++)
    {
      char *contents = g_strdup_printf ("thread %d", i);

      paths[i] = make_temp_file (contents);
      g_free (contents);
      results[i].path = paths[i];
      threads[i] = g_thread_new ("evl-test-per-thread", per_thread_func, &results[i]);
    }
  for (i = 0; i < N_THREADS; i++)
    g_thread_join (threads[i]);

  for (i = 0; i < N_THREADS; i++)
    {
      char *expected = g_strdup_printf ("thread %d", i);

      g_assert_nonnull (results[i].context);
      g_assert_false (results[i].context_is_default);
      for (j = 0; j < i; j++)
        g_assert_true (results[i].context != results[j].context);
      g_assert_true (results[i].ok);
      g_assert_cmpstr (results[i].contents, ==, expected);
      g_free (expected);
      g_free (results[i].contents);
      g_main_context_unref (results[i].context);
      g_unlink (paths[i]);
      g_free (paths[i]);
    }
}

static void
test_kind_unavailable (void)
{
  g_test_skip ("this loop kind is not available here");
}

/* Whether loops of the kind under test can be created at all. */
static gboolean
kind_available (void)
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

int
main (int   argc,
      char *argv[])
{
  evl_test_init (&argc, &argv);
  evl_test_watchdog_start (120);

  if (!kind_available ())
    {
      g_test_add_func ("/Evl/Bridge/unavailable", test_kind_unavailable);
      return g_test_run ();
    }

  g_test_message ("loop kind: %s, EVL_SELECTOR=%s", evl_test_loop_kind (),
                  g_getenv ("EVL_SELECTOR") ? g_getenv ("EVL_SELECTOR") : "(default)");

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

  g_test_add_func ("/Evl/Bridge/context/timeout", test_context_timeout);
  g_test_add_func ("/Evl/Bridge/context/thread-default", test_context_thread_default);
  g_test_add_func ("/Evl/Bridge/context/gio-socket", test_context_gio_socket);
  g_test_add_func ("/Evl/Bridge/context/gio-file", test_context_gio_file);
  g_test_add_func ("/Evl/Bridge/context/cross-thread-wakeup", test_context_cross_thread_wakeup);
  g_test_add_func ("/Evl/Bridge/context/threadsafe-future", test_context_threadsafe_future);
  g_test_add_func ("/Evl/Bridge/context/owned-elsewhere", test_context_owned_elsewhere);
  g_test_add_func ("/Evl/Bridge/context/idle-cpu", test_context_idle_cpu);
  g_test_add_func ("/Evl/Bridge/context/fds-released", test_context_fds_released);
  g_test_add_func ("/Evl/Bridge/context/fd-reuse", test_context_fd_reuse);

  g_test_add_func ("/Evl/Bridge/nested/evl-callback", test_nested_in_evl_callback);
  g_test_add_func ("/Evl/Bridge/nested/glib-callback", test_nested_in_glib_callback);
  g_test_add_func ("/Evl/Bridge/nested/stop-innermost", test_nested_stop_innermost);
  g_test_add_func ("/Evl/Bridge/nested/no-self-dispatch", test_nested_no_self_dispatch);
  g_test_add_func ("/Evl/Bridge/nested/modal-attached", test_nested_modal_attached);
  g_test_add_func ("/Evl/Bridge/nested/modal-driven", test_nested_modal_driven);
  g_test_add_func ("/Evl/Bridge/nested/modal-from-glib", test_nested_modal_from_glib);
  g_test_add_func ("/Evl/Bridge/nested/mixed-idle-cpu", test_nested_mixed_idle_cpu);

  g_test_add_func ("/Evl/Bridge/per-thread", test_per_thread_loops);

  return g_test_run ();
}
