/* loop.c: tests of EvlLoop's scheduling, running, stopping and closing,
 * the exception handler and debug mode
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <math.h>
#include <unistd.h>

#include <evloop-glib/evloop-glib.h>

#include "evl-test-util.h"

#ifdef G_OS_UNIX
# include <fcntl.h>
# include <sys/resource.h>
#endif

/* Helpers ---------------------------------------------------------------- */

/* Appends its id to a shared log when it runs. */
typedef struct
{
  GArray  *log;
  int      id;
} Entry;

static void
log_cb (gpointer user_data)
{
  Entry *e = user_data;

  g_array_append_val (e->log, e->id);
}

static void
assert_log (GArray    *log,
            const int *expected,
            guint      n_expected)
{
  guint i;

  g_assert_cmpuint (log->len, ==, n_expected);
  for (i = 0; i < n_expected; i++)
    g_assert_cmpint (g_array_index (log, int, i), ==, expected[i]);
}

/* call_soon -------------------------------------------------------------- */

static void
test_call_soon_fifo (void)
{
  EvlLoop *loop;
  GArray *log;
  Entry entries[200];
  guint i;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  log = g_array_new (FALSE, FALSE, sizeof (int));

  for (i = 0; i < G_N_ELEMENTS (entries); i++)
    {
      entries[i].log = log;
      entries[i].id = i;
      g_assert_nonnull (evl_loop_call_soon (loop, log_cb, &entries[i], NULL));
    }
  evl_test_run_once (loop);

  g_assert_cmpuint (log->len, ==, G_N_ELEMENTS (entries));
  for (i = 0; i < G_N_ELEMENTS (entries); i++)
    g_assert_cmpint (g_array_index (log, int, i), ==, (int) i);

  g_array_unref (log);
  evl_test_close_loop (loop);
}

typedef struct
{
  EvlLoop *loop;
  GArray  *log;
  Entry    later;
} Scheduler;

static void
schedule_later_cb (gpointer user_data)
{
  Scheduler *s = user_data;
  int id = 1;

  g_array_append_val (s->log, id);
  g_assert_nonnull (evl_loop_call_soon (s->loop, log_cb, &s->later, NULL));
}

/* asyncio's snapshot rule: what a ready callback schedules waits for the
 * next iteration, even with a stop between. */
static void
test_call_soon_snapshot (void)
{
  EvlLoop *loop;
  Scheduler s;
  Entry last;
  static const int first_run[] = { 1, 3 };
  static const int both_runs[] = { 1, 3, 2 };

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);

  s.loop = loop;
  s.log = g_array_new (FALSE, FALSE, sizeof (int));
  s.later.log = s.log;
  s.later.id = 2;
  last.log = s.log;
  last.id = 3;

  evl_loop_call_soon (loop, schedule_later_cb, &s, NULL);
  evl_loop_call_soon (loop, evl_test_stop_cb, loop, NULL);
  evl_loop_call_soon (loop, log_cb, &last, NULL);
  evl_test_run_forever (loop);
  /* The stop lets the current iteration finish (3 runs) but 2 was
   * scheduled during the iteration: it waits. */
  assert_log (s.log, first_run, G_N_ELEMENTS (first_run));

  evl_test_run_once (loop);
  assert_log (s.log, both_runs, G_N_ELEMENTS (both_runs));

  g_array_unref (s.log);
  evl_test_close_loop (loop);
}

/* A callback that re-schedules itself runs once per iteration. */
typedef struct
{
  EvlLoop *loop;
  guint    n;
  guint    max;
} Chain;

static void
chain_cb (gpointer user_data)
{
  Chain *c = user_data;

  if (++c->n < c->max)
    evl_loop_call_soon (c->loop, chain_cb, c, NULL);
}

static void
test_call_soon_chain (void)
{
  EvlLoop *loop;
  Chain c = { NULL, 0, 100 };
  guint i;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);

  c.loop = loop;
  evl_loop_call_soon (loop, chain_cb, &c, NULL);
  for (i = 1; i <= 10; i++)
    {
      evl_test_run_once (loop);
      g_assert_cmpuint (c.n, ==, i);
    }
  /* One link per iteration, to the end of the chain. */
  while (c.n < c.max)
    {
      evl_test_run_once (loop);
      g_assert_cmpuint (c.n, ==, i++);
    }
  evl_test_run_once (loop);
  g_assert_cmpuint (c.n, ==, c.max);
  evl_test_close_loop (loop);
}

/* timers ----------------------------------------------------------------- */

typedef struct
{
  EvlLoop *loop;
  GArray  *log;
  int      id;
  double   when;          /* the requested deadline */
  EvlHandle *handle;
  guint     n_early;
  guint    *n_left;
} Timer;

static void
timer_cb (gpointer user_data)
{
  Timer *t = user_data;
  double now = evl_loop_time (t->loop);

  /* Never before the deadline the loop recorded, nor (beyond float
   * rounding) before the one asked for. */
  if (t->handle != NULL && now < evl_handle_get_when (t->handle))
    t->n_early++;
  if (now < t->when - 1e-6)
    t->n_early++;
  if (t->log != NULL)
    g_array_append_val (t->log, t->id);
  if (t->n_left != NULL && --*t->n_left == 0)
    evl_loop_stop (t->loop);
}

static void
test_timers_deadline_order (void)
{
  EvlLoop *loop;
  GArray *log;
  static const double delays[] = { 0.030, 0.010, 0.050, 0.001, 0.020, 0.040, 0.0 };
  static const int expected[] = { 6, 3, 1, 4, 0, 5, 2 };
  Timer timers[G_N_ELEMENTS (delays)];
  guint n_left = G_N_ELEMENTS (delays), i;
  double base;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  log = g_array_new (FALSE, FALSE, sizeof (int));

  /* Deadlines from one base, so that the order does not depend on how long
   * scheduling takes (valgrind). */
  base = evl_loop_time (loop) + 0.005;
  for (i = 0; i < G_N_ELEMENTS (delays); i++)
    {
      timers[i] = (Timer) { loop, log, i, base + delays[i], NULL, 0, &n_left };
      timers[i].handle = evl_handle_ref (evl_loop_call_at (loop, timers[i].when, timer_cb, &timers[i], NULL));
    }
  evl_test_run_forever (loop);
  assert_log (log, expected, G_N_ELEMENTS (expected));
  for (i = 0; i < G_N_ELEMENTS (delays); i++)
    {
      g_assert_cmpuint (timers[i].n_early, ==, 0);
      evl_handle_unref (timers[i].handle);
    }

  g_array_unref (log);
  evl_test_close_loop (loop);
}

static void
test_timers_same_deadline_fifo (void)
{
  EvlLoop *loop;
  GArray *log;
  Timer timers[300];
  guint n_left = G_N_ELEMENTS (timers), i;
  double base;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  log = g_array_new (FALSE, FALSE, sizeof (int));

  /* Three deadlines, scheduled interleaved: ids are (deadline, order). */
  base = evl_loop_time (loop) + 0.01;
  for (i = 0; i < G_N_ELEMENTS (timers); i++)
    {
      guint d = (i * 7) % 3;   /* 0, 1, 2, 0, 1, 2, ... */

      timers[i] = (Timer) { loop, log, (int) (d * 1000 + i), base + d * 0.005, NULL, 0, &n_left };
      g_assert_nonnull (evl_loop_call_at (loop, timers[i].when, timer_cb, &timers[i], NULL));
    }
  evl_test_run_forever (loop);

  g_assert_cmpuint (log->len, ==, G_N_ELEMENTS (timers));
  for (i = 1; i < log->len; i++)
    g_assert_cmpint (g_array_index (log, int, i - 1), <, g_array_index (log, int, i));
  for (i = 0; i < G_N_ELEMENTS (timers); i++)
    g_assert_cmpuint (timers[i].n_early, ==, 0);

  g_array_unref (log);
  evl_test_close_loop (loop);
}

static void
test_timers_asap (void)
{
  EvlLoop *loop;
  GArray *log;
  Entry soon, negative, past, far_past, zero;
  /* Due timers run by deadline: 0 (4, then 5, FIFO), now - 5, now - 1. */
  static const int expected[] = { 1, 4, 5, 3, 2 };

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  log = g_array_new (FALSE, FALSE, sizeof (int));
  soon = (Entry) { log, 1 };
  negative = (Entry) { log, 2 };
  past = (Entry) { log, 3 };
  far_past = (Entry) { log, 4 };
  zero = (Entry) { log, 5 };

  /* A negative delay and a past deadline mean "as soon as possible": due in
   * the very first iteration, after the callbacks that were already ready. */
  evl_loop_call_soon (loop, log_cb, &soon, NULL);
  evl_loop_call_later (loop, -1.0, log_cb, &negative, NULL);
  evl_loop_call_at (loop, evl_loop_time (loop) - 5.0, log_cb, &past, NULL);
  evl_loop_call_at (loop, -1e9, log_cb, &far_past, NULL);
  evl_loop_call_at (loop, 0.0, log_cb, &zero, NULL);
  evl_test_run_once (loop);
  assert_log (log, expected, G_N_ELEMENTS (expected));

  g_array_unref (log);
  evl_test_close_loop (loop);
}

static void
test_timers_never_early (void)
{
  EvlLoop *loop;
  Timer timers[60];
  guint n_left = G_N_ELEMENTS (timers), i;
  GRand *rand;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  rand = g_rand_new_with_seed (42);

  for (i = 0; i < G_N_ELEMENTS (timers); i++)
    {
      double delay = g_rand_double_range (rand, 0.0, 0.06);

      timers[i] = (Timer) { loop, NULL, i, 0, NULL, 0, &n_left };
      if (i % 2 == 0)
        {
          timers[i].when = evl_loop_time (loop) + delay;
          timers[i].handle = evl_loop_call_at (loop, timers[i].when, timer_cb, &timers[i], NULL);
        }
      else
        {
          timers[i].when = evl_loop_time (loop) + delay;
          timers[i].handle = evl_loop_call_later (loop, delay, timer_cb, &timers[i], NULL);
        }
      evl_handle_ref (timers[i].handle);
    }
  evl_test_run_forever (loop);
  g_assert_cmpuint (n_left, ==, 0);
  for (i = 0; i < G_N_ELEMENTS (timers); i++)
    {
      g_assert_cmpuint (timers[i].n_early, ==, 0);
      evl_handle_unref (timers[i].handle);
    }

  g_rand_free (rand);
  evl_test_close_loop (loop);
}

/* Timers due within microseconds of the loop computing its poll timeout:
 * the timeout must never come out negative (which a selector takes as
 * "wait forever"). A helper thread wakes a loop that got stuck. */
typedef struct
{
  EvlLoop *loop;
  gint     progress;   /* atomic: runs completed */
  gint     n_stuck;    /* atomic: runs the helper had to stop */
  GMutex   lock;
  GCond    cond;
  gboolean done;       /* under lock */
} TinyDelays;

static void
unstick_cb (gpointer user_data)
{
  evl_loop_stop (user_data);
}

static gpointer
unstick_thread (gpointer user_data)
{
  TinyDelays *t = user_data;

  g_mutex_lock (&t->lock);
  while (!t->done)
    {
      gint before = g_atomic_int_get (&t->progress);
      /* Long enough that a loaded machine (or valgrind) does not look
       * stuck; a stuck run never ends, whatever the window. */
      gint64 end = g_get_monotonic_time () + (evl_test_under_valgrind () ? 20 : 5) * G_TIME_SPAN_SECOND;

      while (!t->done && g_cond_wait_until (&t->cond, &t->lock, end))
        ;
      if (!t->done && g_atomic_int_get (&t->progress) == before)
        {
          g_atomic_int_inc (&t->n_stuck);
          evl_handle_unref (evl_loop_call_soon_threadsafe (t->loop, unstick_cb, t->loop, NULL));
        }
    }
  g_mutex_unlock (&t->lock);
  return NULL;
}

static void
test_timers_tiny_delays (void)
{
  EvlLoop *loop;
  TinyDelays t = { 0 };
  GThread *thread;
  GRand *rand;
  guint i, n = evl_test_under_valgrind () ? 500 : 20000;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  rand = g_rand_new_with_seed (7);

  t.loop = loop;
  g_mutex_init (&t.lock);
  g_cond_init (&t.cond);
  thread = g_thread_new ("evl-test-unstick", unstick_thread, &t);
  for (i = 0; i < n && !g_atomic_int_get (&t.n_stuck); i++)
    {
      evl_loop_call_later (loop, g_rand_double_range (rand, 0, 20e-6), evl_test_stop_cb, loop, NULL);
      evl_test_run_forever (loop);
      g_atomic_int_inc (&t.progress);
    }
  g_mutex_lock (&t.lock);
  t.done = TRUE;
  g_cond_signal (&t.cond);
  g_mutex_unlock (&t.lock);
  g_thread_join (thread);
  /* A wakeup posted by a late helper may still be queued. */
  evl_test_run_once (loop);

  g_assert_cmpint (t.n_stuck, ==, 0);
  g_mutex_clear (&t.lock);
  g_cond_clear (&t.cond);
  g_rand_free (rand);
  evl_test_close_loop (loop);
}

/* Schedule 10 000 timers, cancel 9 000 of them (more than half of the
 * heap, so it is compacted), cancel one more from a callback: the rest run
 * in deadline order, every notify runs once. */
typedef struct
{
  EvlLoop   *loop;
  GArray    *log;
  EvlHandle *handles[10000];
  guint      n_notified;
  guint      n_left;
} ManyTimers;

typedef struct
{
  ManyTimers *m;
  int         id;
} ManyTimer;

static void
many_timer_cb (gpointer user_data)
{
  ManyTimer *t = user_data;

  g_array_append_val (t->m->log, t->id);
  if (t->id == 0)
    {
      evl_handle_cancel (t->m->handles[5000]);
      t->m->n_left--;
    }
  if (--t->m->n_left == 0)
    evl_loop_stop (t->m->loop);
}

static void
many_timer_notify (gpointer user_data)
{
  ManyTimer *t = user_data;

  t->m->n_notified++;
  g_free (t);
}

static void
test_timers_cancelled_dropped (void)
{
  EvlLoop *loop;
  ManyTimers m = { 0 };
  double base;
  guint i;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);

  m.loop = loop;
  m.log = g_array_new (FALSE, FALSE, sizeof (int));
  base = evl_loop_time (loop) + 0.005;
  /* Deadlines in blocks of 100 equal ones, scheduled in a shuffled order of
   * blocks so that the heap really sorts. */
  for (i = 0; i < G_N_ELEMENTS (m.handles); i++)
    {
      guint block = (i / 100 * 37) % 100;
      ManyTimer *t = g_new (ManyTimer, 1);

      t->m = &m;
      t->id = block * 100 + i % 100;
      m.handles[t->id] = evl_handle_ref (evl_loop_call_at (loop, base + block * 1e-5,
                                                             many_timer_cb, t, many_timer_notify));
    }
  for (i = 0; i < G_N_ELEMENTS (m.handles); i++)
    if (i % 10 != 0)
      evl_handle_cancel (m.handles[i]);
  g_assert_cmpuint (m.n_notified, <=, 9000);
  m.n_left = 1000;

  evl_test_run_forever (loop);

  g_assert_cmpuint (m.log->len, ==, 999);
  for (i = 0; i < m.log->len; i++)
    {
      int id = g_array_index (m.log, int, i);

      g_assert_cmpint (id % 10, ==, 0);
      g_assert_cmpint (id, !=, 5000);
      if (i > 0)
        g_assert_cmpint (g_array_index (m.log, int, i - 1), <, id);
    }
  g_assert_cmpuint (m.n_notified, ==, 10000);

  for (i = 0; i < G_N_ELEMENTS (m.handles); i++)
    evl_handle_unref (m.handles[i]);
  g_array_unref (m.log);
  evl_test_close_loop (loop);
  g_assert_cmpuint (m.n_notified, ==, 10000);
}

/* stop ------------------------------------------------------------------- */

static void
test_stop_before_run (void)
{
  EvlLoop *loop;
  Scheduler s;
  static const int first_run[] = { 1 };
  static const int both_runs[] = { 1, 2 };
  Entry far = { NULL, 9 };

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);

  s.loop = loop;
  s.log = g_array_new (FALSE, FALSE, sizeof (int));
  s.later.log = s.log;
  s.later.id = 2;
  far.log = s.log;

  /* A stop before the run: the next run does exactly one iteration, without
   * waiting for the far timer. */
  evl_loop_call_later (loop, 3600, log_cb, &far, NULL);
  evl_loop_stop (loop);
  evl_loop_call_soon (loop, schedule_later_cb, &s, NULL);
  evl_test_run_forever (loop);
  assert_log (s.log, first_run, G_N_ELEMENTS (first_run));

  /* The stop was used up: this run needs its own. */
  evl_test_run_once (loop);
  assert_log (s.log, both_runs, G_N_ELEMENTS (both_runs));

  /* Nothing scheduled at all: still one iteration, no blocking. */
  evl_loop_stop (loop);
  evl_test_run_forever (loop);
  assert_log (s.log, both_runs, G_N_ELEMENTS (both_runs));

  g_array_unref (s.log);
  evl_test_close_loop (loop);
}

typedef struct
{
  EvlLoop *loop;
  GArray  *log;
  Entry    scheduled;
} StopInCallback;

static void
stop_and_schedule_cb (gpointer user_data)
{
  StopInCallback *s = user_data;
  int id = 1;

  g_array_append_val (s->log, id);
  evl_loop_stop (s->loop);
  evl_loop_call_soon (s->loop, log_cb, &s->scheduled, NULL);
}

static void
test_stop_in_callback (void)
{
  EvlLoop *loop;
  StopInCallback s;
  Entry after;
  static const int first_run[] = { 1, 2 };
  static const int both_runs[] = { 1, 2, 3 };

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);

  s.loop = loop;
  s.log = g_array_new (FALSE, FALSE, sizeof (int));
  s.scheduled = (Entry) { s.log, 3 };
  after = (Entry) { s.log, 2 };

  evl_loop_call_soon (loop, stop_and_schedule_cb, &s, NULL);
  evl_loop_call_soon (loop, log_cb, &after, NULL);
  evl_test_run_forever (loop);
  /* The iteration completes; what the stopping callback scheduled waits. */
  assert_log (s.log, first_run, G_N_ELEMENTS (first_run));
  g_assert_false (evl_loop_is_running (loop));

  evl_test_run_once (loop);
  assert_log (s.log, both_runs, G_N_ELEMENTS (both_runs));

  g_array_unref (s.log);
  evl_test_close_loop (loop);
}

/* run_until_complete ------------------------------------------------------ */

typedef struct
{
  EvlFuture *future;
  int        how;    /* 0: result, 1: error, 2: cancel */
} Completer;

static void
complete_cb (gpointer user_data)
{
  Completer *c = user_data;
  GError *error = NULL;

  switch (c->how)
    {
    case 0:
      {
        GValue v = G_VALUE_INIT;

        g_value_init (&v, G_TYPE_INT);
        g_value_set_int (&v, 42);
        g_assert_true (evl_future_set_result (c->future, &v, &error));
        g_value_unset (&v);
        break;
      }
    case 1:
      {
        GError *err = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "no such thing");

        g_assert_true (evl_future_set_error (c->future, err, &error));
        g_error_free (err);
        break;
      }
    case 2:
      g_assert_true (evl_future_cancel (c->future));
      break;
    default:
      g_assert_not_reached ();
    }
  g_assert_no_error (error);
}

static void
test_run_until_complete_result (void)
{
  EvlLoop *loop;
  EvlFuture *future;
  Completer c;
  GError *error = NULL;
  GValue v = G_VALUE_INIT;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);

  future = evl_loop_create_future (loop);
  c = (Completer) { future, 0 };
  evl_loop_call_later (loop, 0.01, complete_cb, &c, NULL);
  g_assert_true (evl_loop_run_until_complete (loop, future, &error));
  g_assert_no_error (error);
  g_assert_false (evl_loop_is_running (loop));
  g_assert_true (evl_future_get_result (future, &v, &error));
  g_assert_no_error (error);
  g_assert_cmpint (g_value_get_int (&v), ==, 42);
  g_value_unset (&v);

  /* An already done future: returns at once. */
  g_assert_true (evl_loop_run_until_complete (loop, future, &error));
  g_assert_no_error (error);

  g_object_unref (future);
  evl_test_close_loop (loop);
}

static void
test_run_until_complete_error (void)
{
  EvlLoop *loop;
  EvlFuture *future;
  Completer c;
  GError *error = NULL;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);

  future = evl_loop_create_future (loop);
  c = (Completer) { future, 1 };
  evl_loop_call_soon (loop, complete_cb, &c, NULL);
  g_assert_false (evl_loop_run_until_complete (loop, future, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_assert_cmpstr (error->message, ==, "no such thing");
  g_clear_error (&error);
  g_assert_false (evl_loop_is_running (loop));

  g_object_unref (future);
  evl_test_close_loop (loop);
}

static void
test_run_until_complete_cancelled (void)
{
  EvlLoop *loop;
  EvlFuture *future;
  Completer c;
  GError *error = NULL;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);

  future = evl_loop_create_future (loop);
  c = (Completer) { future, 2 };
  evl_loop_call_later (loop, 0.001, complete_cb, &c, NULL);
  g_assert_false (evl_loop_run_until_complete (loop, future, &error));
  g_assert_error (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_CANCELLED);
  g_clear_error (&error);

  /* Already cancelled: the same error at once. */
  g_assert_false (evl_loop_run_until_complete (loop, future, &error));
  g_assert_error (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_CANCELLED);
  g_clear_error (&error);

  g_object_unref (future);
  evl_test_close_loop (loop);
}

static void
test_run_until_complete_stopped (void)
{
  EvlLoop *loop;
  EvlFuture *future, *second;
  Completer c;
  GError *error = NULL;
  Entry marker;
  GArray *log;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  log = g_array_new (FALSE, FALSE, sizeof (int));

  future = evl_loop_create_future (loop);
  evl_loop_call_later (loop, 0.001, evl_test_stop_cb, loop, NULL);
  g_assert_false (evl_loop_run_until_complete (loop, future, &error));
  g_assert_error (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_FAILED);
  g_clear_error (&error);
  g_assert_false (evl_future_is_done (future));

  /* The stopped run left nothing behind: completing the first future now
   * does not stop a later run early. */
  c = (Completer) { future, 0 };
  complete_cb (&c);
  second = evl_loop_create_future (loop);
  c = (Completer) { second, 0 };
  marker = (Entry) { log, 1 };
  evl_loop_call_later (loop, 0.02, log_cb, &marker, NULL);
  evl_loop_call_later (loop, 0.03, complete_cb, &c, NULL);
  g_assert_true (evl_loop_run_until_complete (loop, second, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (log->len, ==, 1);

  g_object_unref (future);
  g_object_unref (second);
  g_array_unref (log);
  evl_test_close_loop (loop);
}

/* The future completes in the same iteration as a stop: the run ends with
 * its result, and the loop's own "stop when done" callback, scheduled by the
 * completion, must not stop a later run. */
typedef struct
{
  EvlLoop   *loop;
  Completer  completer;
} CompleteAndStop;

static void
complete_and_stop_cb (gpointer user_data)
{
  CompleteAndStop *c = user_data;

  complete_cb (&c->completer);
  evl_loop_stop (c->loop);
}

static void
test_run_until_complete_no_stray_stop (void)
{
  EvlLoop *loop;
  EvlFuture *future;
  CompleteAndStop c;
  GError *error = NULL;
  GArray *log;
  Entry marker;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  log = g_array_new (FALSE, FALSE, sizeof (int));

  future = evl_loop_create_future (loop);
  c = (CompleteAndStop) { loop, { future, 0 } };
  evl_loop_call_soon (loop, complete_and_stop_cb, &c, NULL);
  g_assert_true (evl_loop_run_until_complete (loop, future, &error));
  g_assert_no_error (error);

  /* This run lasts until its own stop, after the marker. */
  marker = (Entry) { log, 1 };
  evl_loop_call_later (loop, 0.01, log_cb, &marker, NULL);
  evl_loop_call_later (loop, 0.02, evl_test_stop_cb, loop, NULL);
  evl_test_run_forever (loop);
  g_assert_cmpuint (log->len, ==, 1);

  g_object_unref (future);
  g_array_unref (log);
  evl_test_close_loop (loop);
}

/* Nested runs: a callback runs the loop again; stop() ends the innermost run
 * only. */
typedef struct
{
  EvlLoop   *loop;
  GString   *log;
  EvlFuture *future;
  Completer  completer;
} Nested;

static void
nested_stop_cb (gpointer user_data)
{
  Nested *n = user_data;

  g_string_append (n->log, "Y ");
  evl_loop_stop (n->loop);
}

static void
nested_tail_cb (gpointer user_data)
{
  Nested *n = user_data;

  g_string_append (n->log, "Z ");
  g_assert_true (evl_loop_is_running (n->loop));
  g_assert_true (evl_get_running_loop () == n->loop);
  evl_loop_stop (n->loop);
}

static void
nested_outer_cb (gpointer user_data)
{
  Nested *n = user_data;
  GError *error = NULL;

  g_string_append (n->log, "X ");

  evl_loop_call_soon (n->loop, nested_stop_cb, n, NULL);
  g_assert_true (evl_loop_run_forever (n->loop, &error));
  g_assert_no_error (error);
  g_string_append (n->log, "inner-forever-returned ");
  g_assert_true (evl_loop_is_running (n->loop));
  g_assert_true (evl_get_running_loop () == n->loop);

  n->future = evl_loop_create_future (n->loop);
  n->completer = (Completer) { n->future, 0 };
  evl_loop_call_later (n->loop, 0.005, complete_cb, &n->completer, NULL);
  g_assert_true (evl_loop_run_until_complete (n->loop, n->future, &error));
  g_assert_no_error (error);
  g_string_append (n->log, "inner-ruc-returned ");
  g_assert_true (evl_loop_is_running (n->loop));
  g_assert_true (evl_get_running_loop () == n->loop);

  evl_loop_call_soon (n->loop, nested_tail_cb, n, NULL);
}

static void
test_nested_runs (void)
{
  EvlLoop *loop;
  Nested n = { 0 };

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);

  n.loop = loop;
  n.log = g_string_new (NULL);
  evl_loop_call_soon (loop, nested_outer_cb, &n, NULL);
  evl_test_run_forever (loop);
  g_assert_cmpstr (n.log->str, ==, "X Y inner-forever-returned inner-ruc-returned Z ");
  g_assert_false (evl_loop_is_running (loop));
  g_assert_null (evl_get_running_loop ());

  g_string_free (n.log, TRUE);
  g_object_unref (n.future);
  evl_test_close_loop (loop);
}

/* running state ---------------------------------------------------------- */

typedef struct
{
  EvlLoop *loop;
  guint    n_checked;
} RunningCheck;

static void
check_running_cb (gpointer user_data)
{
  RunningCheck *r = user_data;

  g_assert_true (evl_loop_is_running (r->loop));
  g_assert_true (evl_get_running_loop () == r->loop);
  g_assert_false (evl_loop_is_closed (r->loop));
  r->n_checked++;
}

static void
test_is_running (void)
{
  EvlLoop *loop, *other;
  RunningCheck r = { 0 };

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  other = evl_test_new_loop ();

  g_assert_false (evl_loop_is_running (loop));
  g_assert_null (evl_get_running_loop ());

  r.loop = loop;
  evl_loop_call_soon (loop, check_running_cb, &r, NULL);
  evl_loop_call_later (loop, 0.001, check_running_cb, &r, NULL);
  evl_loop_call_later (loop, 0.002, evl_test_stop_cb, loop, NULL);
  evl_test_run_forever (loop);
  g_assert_cmpuint (r.n_checked, ==, 2);

  g_assert_false (evl_loop_is_running (loop));
  g_assert_null (evl_get_running_loop ());

  /* Another loop run from a callback of the first is the running loop while
   * it runs, then the first one is again. */
  {
    RunningCheck r2 = { other, 0 };

    evl_loop_call_soon (other, check_running_cb, &r2, NULL);
    evl_test_run_once (other);
    g_assert_cmpuint (r2.n_checked, ==, 1);
  }
  g_assert_false (evl_loop_is_running (other));
  g_assert_null (evl_get_running_loop ());

  evl_test_close_loop (other);
  evl_test_close_loop (loop);
}

typedef struct
{
  EvlLoop *outer;
  EvlLoop *inner;
  guint    n_checked;
} TwoLoops;

static void
inner_loop_cb (gpointer user_data)
{
  TwoLoops *t = user_data;

  g_assert_true (evl_get_running_loop () == t->inner);
  g_assert_true (evl_loop_is_running (t->inner));
  g_assert_true (evl_loop_is_running (t->outer));
  t->n_checked++;
}

static void
outer_loop_cb (gpointer user_data)
{
  TwoLoops *t = user_data;

  g_assert_true (evl_get_running_loop () == t->outer);
  evl_loop_call_soon (t->inner, inner_loop_cb, t, NULL);
  evl_test_run_once (t->inner);
  g_assert_false (evl_loop_is_running (t->inner));
  g_assert_true (evl_get_running_loop () == t->outer);
  t->n_checked++;
}

static void
test_running_loop_two_loops (void)
{
  EvlLoop *outer, *inner;
  TwoLoops t;

  EVL_TEST_NEW_LOOP_OR_SKIP (outer);
  inner = evl_test_new_loop ();

  t = (TwoLoops) { outer, inner, 0 };
  evl_loop_call_soon (outer, outer_loop_cb, &t, NULL);
  evl_test_run_once (outer);
  g_assert_cmpuint (t.n_checked, ==, 2);
  g_assert_null (evl_get_running_loop ());

  evl_test_close_loop (inner);
  evl_test_close_loop (outer);
}

/* A loop running in another thread cannot be run, nor closed, here. */
typedef struct
{
  EvlLoop *loop;
  gint     started;
  gint     finished;
} ThreadRun;

static void
mark_started_cb (gpointer user_data)
{
  ThreadRun *t = user_data;

  g_atomic_int_set (&t->started, 1);
}

static gpointer
run_in_thread (gpointer user_data)
{
  ThreadRun *t = user_data;
  GError *error = NULL;

  g_assert_true (evl_loop_run_forever (t->loop, &error));
  g_assert_no_error (error);
  g_atomic_int_set (&t->finished, 1);
  return NULL;
}

static void
test_running_in_other_thread (void)
{
  EvlLoop *loop;
  ThreadRun t = { 0 };
  GThread *thread;
  GError *error = NULL;
  EvlFuture *future;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);

  t.loop = loop;
  evl_loop_call_soon (loop, mark_started_cb, &t, NULL);
  thread = g_thread_new ("evl-test-loop", run_in_thread, &t);
  while (!g_atomic_int_get (&t.started))
    g_usleep (1000);

  g_assert_true (evl_loop_is_running (loop));
  g_assert_null (evl_get_running_loop ());

  g_assert_false (evl_loop_run_forever (loop, &error));
  g_assert_error (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_RUNNING);
  g_clear_error (&error);

  future = evl_future_new (loop);
  g_assert_false (evl_loop_run_until_complete (loop, future, &error));
  g_assert_error (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_RUNNING);
  g_clear_error (&error);

  g_assert_false (evl_loop_close (loop, &error));
  g_assert_error (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_RUNNING);
  g_clear_error (&error);
  g_assert_false (evl_loop_is_closed (loop));

  /* The failed attempts did not disturb it: it still runs until stopped. */
  g_assert_true (evl_loop_is_running (loop));
  g_assert_false (g_atomic_int_get (&t.finished));
  evl_loop_stop (loop);
  g_thread_join (thread);
  g_assert_true (g_atomic_int_get (&t.finished));
  g_assert_false (evl_loop_is_running (loop));

  /* Now this thread may run it. */
  evl_test_run_once (loop);

  g_object_unref (future);
  evl_test_close_loop (loop);
}

/* close ------------------------------------------------------------------ */

typedef struct
{
  EvlLoop *loop;
  gboolean tried;
} CloseInCallback;

static void
close_in_callback_cb (gpointer user_data)
{
  CloseInCallback *c = user_data;
  GError *error = NULL;

  g_assert_false (evl_loop_close (c->loop, &error));
  g_assert_error (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_RUNNING);
  g_clear_error (&error);
  g_assert_false (evl_loop_is_closed (c->loop));
  c->tried = TRUE;
}

static void
test_close_while_running (void)
{
  EvlLoop *loop;
  CloseInCallback c = { 0 };
  guint n = 0;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);

  c.loop = loop;
  evl_loop_call_soon (loop, close_in_callback_cb, &c, NULL);
  evl_test_run_once (loop);
  g_assert_true (c.tried);

  /* The loop still works. */
  evl_loop_call_soon (loop, evl_test_count, &n, NULL);
  evl_test_run_once (loop);
  g_assert_cmpuint (n, ==, 1);

  evl_test_close_loop (loop);
}

static void
test_close_idempotent (void)
{
  EvlLoop *loop;
  GError *error = NULL;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);

  g_assert_false (evl_loop_is_closed (loop));
  g_assert_true (evl_loop_close (loop, &error));
  g_assert_no_error (error);
  g_assert_true (evl_loop_is_closed (loop));
  g_assert_true (evl_loop_close (loop, &error));
  g_assert_no_error (error);
  g_assert_true (evl_loop_close (loop, NULL));
  g_assert_true (evl_loop_is_closed (loop));

  evl_test_close_loop (loop);
}

static void
never_cb (gpointer user_data)
{
  g_assert_not_reached ();
}

static void
test_close_then_use (void)
{
  EvlLoop *loop;
  GError *error = NULL;
  EvlFuture *future;
  guint n_notified = 0;
  gboolean debug;
  double t0, t1;
  int fds[2];

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);

  future = evl_loop_create_future (loop);
  evl_loop_set_debug (loop, TRUE);
  g_assert_true (evl_loop_close (loop, &error));
  g_assert_no_error (error);

  g_assert_false (evl_loop_run_forever (loop, &error));
  g_assert_error (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_CLOSED);
  g_clear_error (&error);

  g_assert_false (evl_loop_run_until_complete (loop, future, &error));
  g_assert_error (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_CLOSED);
  g_clear_error (&error);

  /* A stop before a refused run is harmless. */
  evl_loop_stop (loop);
  g_assert_false (evl_loop_run_forever (loop, &error));
  g_assert_error (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_CLOSED);
  g_clear_error (&error);

  evl_test_socketpair (fds);
  g_assert_false (evl_loop_add_reader (loop, fds[0], never_cb, &n_notified, evl_test_count, &error));
  g_assert_error (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_CLOSED);
  g_clear_error (&error);
  g_assert_cmpuint (n_notified, ==, 1);
  g_assert_false (evl_loop_add_writer (loop, fds[0], never_cb, &n_notified, evl_test_count, &error));
  g_assert_error (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_CLOSED);
  g_clear_error (&error);
  g_assert_cmpuint (n_notified, ==, 2);
  g_assert_false (evl_loop_remove_reader (loop, fds[0]));
  g_assert_false (evl_loop_remove_writer (loop, fds[0]));
  evl_test_sock_close (fds[0]);
  evl_test_sock_close (fds[1]);

  g_test_expect_message (G_LOG_DOMAIN, G_LOG_LEVEL_CRITICAL, "*closed*");
  g_assert_null (evl_loop_call_soon (loop, never_cb, &n_notified, evl_test_count));
  g_test_assert_expected_messages ();
  g_assert_cmpuint (n_notified, ==, 3);

  /* What still works on a closed loop. */
  g_assert_true (evl_loop_is_closed (loop));
  g_assert_false (evl_loop_is_running (loop));
  t0 = evl_loop_time (loop);
  t1 = evl_loop_time (loop);
  g_assert_cmpfloat (t0, >, 0);
  g_assert_cmpfloat (t1, >=, t0);
  g_assert_true (evl_loop_get_debug (loop));
  g_object_get (loop, "debug", &debug, NULL);
  g_assert_true (debug);
  evl_loop_set_debug (loop, FALSE);
  g_assert_false (evl_loop_get_debug (loop));

  g_object_unref (future);
  evl_test_close_loop (loop);
  g_assert_cmpuint (n_notified, ==, 3);
}

/* exception handler ------------------------------------------------------- */

typedef struct
{
  EvlLoop *loop;
  guint    n_called;
  guint    n_notified;
  GQuark   domain;
  int      code;
  char    *message;
} ExcProbe;

static void
exc_handler (EvlLoop      *loop,
             const GError *error,
             const char   *message,
             gpointer      user_data)
{
  ExcProbe *p = user_data;

  g_assert_true (loop == p->loop);
  p->n_called++;
  p->domain = error != NULL ? error->domain : 0;
  p->code = error != NULL ? error->code : -1;
  g_free (p->message);
  p->message = g_strdup (message);
}

static void
exc_notify (gpointer user_data)
{
  ExcProbe *p = user_data;

  p->n_notified++;
}

static void
test_exception_handler (void)
{
  EvlLoop *loop;
  ExcProbe a = { 0 }, b = { 0 }, c = { 0 };
  GError *err;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  err = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE, "pipe broke");

  a.loop = b.loop = c.loop = loop;
  evl_loop_set_exception_handler (loop, exc_handler, &a, exc_notify);
  evl_loop_call_exception_handler (loop, err, "while testing");
  g_assert_cmpuint (a.n_called, ==, 1);
  g_assert_true (a.domain == G_IO_ERROR);
  g_assert_cmpint (a.code, ==, G_IO_ERROR_BROKEN_PIPE);
  g_assert_cmpstr (a.message, ==, "while testing");
  evl_loop_call_exception_handler (loop, NULL, NULL);
  g_assert_cmpuint (a.n_called, ==, 2);
  g_assert_cmpint (a.code, ==, -1);
  g_assert_null (a.message);
  g_assert_cmpuint (a.n_notified, ==, 0);

  /* Replacing runs the old notify, once. */
  evl_loop_set_exception_handler (loop, exc_handler, &b, exc_notify);
  g_assert_cmpuint (a.n_notified, ==, 1);
  evl_loop_call_exception_handler (loop, err, "second");
  g_assert_cmpuint (a.n_called, ==, 2);
  g_assert_cmpuint (b.n_called, ==, 1);

  /* NULL restores the default handler, which logs a warning. */
  evl_loop_set_exception_handler (loop, NULL, NULL, NULL);
  g_assert_cmpuint (b.n_notified, ==, 1);
  g_test_expect_message (G_LOG_DOMAIN, G_LOG_LEVEL_WARNING, "*via default*pipe broke*");
  evl_loop_call_exception_handler (loop, err, "via default");
  g_test_assert_expected_messages ();
  g_test_expect_message (G_LOG_DOMAIN, G_LOG_LEVEL_WARNING, "*bare message*");
  evl_loop_call_exception_handler (loop, NULL, "bare message");
  g_test_assert_expected_messages ();
  g_test_expect_message (G_LOG_DOMAIN, G_LOG_LEVEL_WARNING, "*");
  evl_loop_default_exception_handler (loop, NULL, NULL);
  g_test_assert_expected_messages ();
  g_assert_cmpuint (b.n_called, ==, 1);

  /* Works on a closed loop; the notify runs when the loop is finalized. */
  evl_loop_set_exception_handler (loop, exc_handler, &c, exc_notify);
  g_assert_true (evl_loop_close (loop, NULL));
  evl_loop_call_exception_handler (loop, err, "after close");
  g_assert_cmpuint (c.n_called, ==, 1);
  g_assert_cmpuint (c.n_notified, ==, 0);
  evl_test_close_loop (loop);
  g_assert_cmpuint (c.n_notified, ==, 1);

  g_assert_cmpuint (a.n_notified, ==, 1);
  g_assert_cmpuint (b.n_notified, ==, 1);
  g_free (a.message);
  g_free (b.message);
  g_free (c.message);
  g_error_free (err);
}

/* debug ------------------------------------------------------------------ */

static void
count_notify_cb (GObject    *object,
                 GParamSpec *pspec,
                 gpointer    user_data)
{
  (*(guint *) user_data)++;
}

static void
test_debug_property (void)
{
  EvlLoop *loop;
  guint n_debug = 0, n_slow = 0;
  gboolean debug;
  double slow;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);

  g_signal_connect (loop, "notify::debug", G_CALLBACK (count_notify_cb), &n_debug);
  g_signal_connect (loop, "notify::slow-callback-duration", G_CALLBACK (count_notify_cb), &n_slow);

  evl_loop_set_debug (loop, FALSE);
  evl_loop_set_debug (loop, TRUE);
  g_assert_true (evl_loop_get_debug (loop));
  g_assert_cmpuint (n_debug, ==, 1);
  evl_loop_set_debug (loop, TRUE);   /* no change, no notify */
  g_assert_cmpuint (n_debug, ==, 1);
  g_object_set (loop, "debug", FALSE, NULL);
  g_assert_false (evl_loop_get_debug (loop));
  g_assert_cmpuint (n_debug, ==, 2);
  g_object_set (loop, "debug", TRUE, NULL);
  g_object_get (loop, "debug", &debug, NULL);
  g_assert_true (debug);
  g_assert_cmpuint (n_debug, ==, 3);
  evl_loop_set_debug (loop, FALSE);
  g_assert_cmpuint (n_debug, ==, 4);

  g_assert_cmpfloat (evl_loop_get_slow_callback_duration (loop), ==, 0.1);
  evl_loop_set_slow_callback_duration (loop, 0.25);
  evl_loop_set_slow_callback_duration (loop, 0.25);
  g_assert_cmpuint (n_slow, ==, 1);
  g_object_get (loop, "slow-callback-duration", &slow, NULL);
  g_assert_cmpfloat (slow, ==, 0.25);

  evl_test_close_loop (loop);
}

static void
slow_cb (gpointer user_data)
{
  g_usleep (30 * 1000);
  evl_loop_stop (user_data);
}

static void
test_debug_slow_callback (void)
{
  EvlLoop *loop;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);

  /* The slow callback is the only one that runs in debug mode, so that a
   * loaded machine cannot make another one "slow". */
  g_object_set (loop, "debug", TRUE, "slow-callback-duration", 0.01, NULL);
  evl_loop_call_soon (loop, slow_cb, loop, NULL);
  g_test_expect_message (G_LOG_DOMAIN, G_LOG_LEVEL_WARNING, "*took*");
  evl_test_run_forever (loop);
  g_test_assert_expected_messages ();

  evl_loop_set_debug (loop, FALSE);
  evl_loop_call_soon (loop, slow_cb, loop, NULL);
  evl_test_run_forever (loop);   /* no warning now: it would be fatal */

  evl_test_close_loop (loop);
}

static void
test_debug_env (void)
{
  EvlLoop *loop;

  /* In a subprocess: setenv() is not thread-safe, and earlier tests ran
   * threads. */
  if (!g_test_subprocess ())
    {
      /* Skip here, not in the child, if the loop kind is unavailable. */
      EVL_TEST_NEW_LOOP_OR_SKIP (loop);
      evl_test_close_loop (loop);
      g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_INHERIT_STDERR);
      g_test_trap_assert_passed ();
      return;
    }

  g_setenv ("EVL_DEBUG", "1", TRUE);
  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  g_assert_true (evl_loop_get_debug (loop));
  /* Read at construction only. */
  g_setenv ("EVL_DEBUG", "0", TRUE);
  g_assert_true (evl_loop_get_debug (loop));
  evl_test_close_loop (loop);

  loop = evl_test_new_loop ();
  g_assert_false (evl_loop_get_debug (loop));
  evl_test_close_loop (loop);

  g_unsetenv ("EVL_DEBUG");
  loop = evl_test_new_loop ();
  g_assert_false (evl_loop_get_debug (loop));
  evl_test_close_loop (loop);
}

/* idle ------------------------------------------------------------------- */

static void
test_idle_cpu (void)
{
  EvlLoop *loop;
  gint64 start, wall;
  double cpu0, cpu;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);

  /* Warm up (valgrind translates the code paths once). */
  evl_loop_call_later (loop, 0.01, evl_test_stop_cb, loop, NULL);
  evl_test_run_forever (loop);

  start = g_get_monotonic_time ();
  cpu0 = evl_test_cpu_time ();
  evl_loop_call_later (loop, 0.3, evl_test_stop_cb, loop, NULL);
  evl_test_run_forever (loop);
  cpu = evl_test_cpu_time () - cpu0;
  wall = g_get_monotonic_time () - start;

  g_assert_cmpint (wall, >=, 300 * 1000);
  g_test_message ("waiting %.3f s used %.3f s of CPU", wall / 1e6, cpu);
  /* A loop that waits must sleep, not spin (a spinning loop uses about
   * 1.0 s of CPU per second): a generous bound. Under Wine the process's
   * CPU time also counts Wine's own threads (0.07-0.11 s of a 0.3 s wait
   * was measured with a loop that makes one WSAPoll call for the wait). */
  g_assert_cmpfloat (cpu, <, (evl_test_under_wine () ? 0.5 : 0.2) * wall / 1e6);

  evl_test_close_loop (loop);
}

#ifdef G_OS_UNIX
/* Out of file descriptors at construction: a clean failure -------------- */

static GType
loop_type_under_test (void)
{
  return g_str_equal (evl_test_loop_kind (), "proactor") ? EVL_TYPE_PROACTOR_LOOP
                                                         : EVL_TYPE_SELECTOR_LOOP;
}

static void
construct_out_of_fds_child (void)
{
  struct rlimit rl;
  GArray *fds = g_array_new (FALSE, FALSE, sizeof (int));
  GError *error = NULL;
  EvlLoop *loop;
  int fd;
  guint i;

  /* Use up every descriptor below a low limit. */
  g_assert_cmpint (getrlimit (RLIMIT_NOFILE, &rl), ==, 0);
  rl.rlim_cur = MIN (rl.rlim_cur, 256);
  g_assert_cmpint (setrlimit (RLIMIT_NOFILE, &rl), ==, 0);
  while ((fd = open ("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0)
    g_array_append_val (fds, fd);

  /* GInitable: NULL and the reason. */
  loop = g_initable_new (loop_type_under_test (), NULL, &error, NULL);
  g_assert_null (loop);
  g_assert_nonnull (error);
  g_test_message ("%s: %s", evl_test_loop_kind (), error->message);
  if (loop_type_under_test () == EVL_TYPE_SELECTOR_LOOP)
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TOO_MANY_OPEN_FILES);
  g_clear_error (&error);

  /* The constructor without a GError: a closed loop that refuses work
   * (no hang, no crash), with a warning. */
  if (loop_type_under_test () == EVL_TYPE_SELECTOR_LOOP)
    {
      g_test_expect_message ("Evl", G_LOG_LEVEL_WARNING, "*wakeup descriptor*");
      loop = evl_selector_loop_new (NULL);
      g_test_assert_expected_messages ();
      g_assert_nonnull (loop);
      g_assert_true (evl_loop_is_closed (loop));
      g_assert_false (evl_loop_run_forever (loop, &error));
      g_assert_error (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_CLOSED);
      g_clear_error (&error);
      g_test_expect_message ("Evl", G_LOG_LEVEL_CRITICAL, "*closed*");
      g_assert_null (evl_loop_call_soon_threadsafe (loop, (EvlCallback) abort, NULL, NULL));
      g_test_assert_expected_messages ();
      g_assert_true (evl_loop_close (loop, NULL));
      g_object_add_weak_pointer (G_OBJECT (loop), (gpointer *) &loop);
      g_object_unref (loop);
      g_assert_null (loop);
    }

  /* With descriptors again, a loop works. */
  for (i = 0; i < fds->len; i++)
    close (g_array_index (fds, int, i));
  g_array_unref (fds);
  loop = g_initable_new (loop_type_under_test (), NULL, &error, NULL);
  if (loop == NULL && g_error_matches (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_NOT_SUPPORTED))
    {
      g_clear_error (&error);
      return;
    }
  g_assert_no_error (error);
  evl_test_close_loop (loop);
}

static void
test_construct_out_of_fds (void)
{
  EvlLoop *probe;

  EVL_TEST_NEW_LOOP_OR_SKIP (probe);
  evl_test_close_loop (probe);
  if (g_test_subprocess ())
    {
      construct_out_of_fds_child ();
      return;
    }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_INHERIT_STDERR);
  g_test_trap_assert_passed ();
}
#endif

int
main (int   argc,
      char *argv[])
{
  evl_test_init (&argc, &argv);
  evl_test_watchdog_start (100);

  g_test_add_func ("/Evl/Loop/call-soon/fifo", test_call_soon_fifo);
#ifdef G_OS_UNIX
  g_test_add_func ("/Evl/Loop/construct-out-of-fds", test_construct_out_of_fds);
#endif
  g_test_add_func ("/Evl/Loop/call-soon/snapshot", test_call_soon_snapshot);
  g_test_add_func ("/Evl/Loop/call-soon/chain", test_call_soon_chain);
  g_test_add_func ("/Evl/Loop/timers/deadline-order", test_timers_deadline_order);
  g_test_add_func ("/Evl/Loop/timers/same-deadline-fifo", test_timers_same_deadline_fifo);
  g_test_add_func ("/Evl/Loop/timers/asap", test_timers_asap);
  g_test_add_func ("/Evl/Loop/timers/never-early", test_timers_never_early);
  g_test_add_func ("/Evl/Loop/timers/tiny-delays", test_timers_tiny_delays);
  g_test_add_func ("/Evl/Loop/timers/cancelled-dropped", test_timers_cancelled_dropped);
  g_test_add_func ("/Evl/Loop/stop/before-run", test_stop_before_run);
  g_test_add_func ("/Evl/Loop/stop/in-callback", test_stop_in_callback);
  g_test_add_func ("/Evl/Loop/run-until-complete/result", test_run_until_complete_result);
  g_test_add_func ("/Evl/Loop/run-until-complete/error", test_run_until_complete_error);
  g_test_add_func ("/Evl/Loop/run-until-complete/cancelled", test_run_until_complete_cancelled);
  g_test_add_func ("/Evl/Loop/run-until-complete/stopped", test_run_until_complete_stopped);
  g_test_add_func ("/Evl/Loop/run-until-complete/no-stray-stop", test_run_until_complete_no_stray_stop);
  g_test_add_func ("/Evl/Loop/run/nested", test_nested_runs);
  g_test_add_func ("/Evl/Loop/run/is-running", test_is_running);
  g_test_add_func ("/Evl/Loop/run/two-loops", test_running_loop_two_loops);
  g_test_add_func ("/Evl/Loop/run/other-thread", test_running_in_other_thread);
  g_test_add_func ("/Evl/Loop/close/while-running", test_close_while_running);
  g_test_add_func ("/Evl/Loop/close/idempotent", test_close_idempotent);
  g_test_add_func ("/Evl/Loop/close/then-use", test_close_then_use);
  g_test_add_func ("/Evl/Loop/exception-handler", test_exception_handler);
  g_test_add_func ("/Evl/Loop/debug/property", test_debug_property);
  g_test_add_func ("/Evl/Loop/debug/slow-callback", test_debug_slow_callback);
  g_test_add_func ("/Evl/Loop/debug/env", test_debug_env);
  g_test_add_func ("/Evl/Loop/idle-cpu", test_idle_cpu);

  return g_test_run ();
}
