/* threadsafe.c: tests of evl_loop_call_soon_threadsafe() and of stopping
 * a loop from another thread
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <evloop-glib/evloop-glib.h>

#include "evl-test-util.h"

/* Posts from many threads: none is lost -------------------------------- */

#define N_THREADS 4

typedef struct
{
  EvlLoop *loop;
  GThread *loop_thread;
  guint    n_per_thread;
  gint     n_ran;         /* atomic */
  gint     n_notified;    /* atomic */
  gint     n_wrong_thread;
  gint     n_out_of_order;
  guint    last_seen[N_THREADS];
  gint     go;            /* atomic: the posters may start */
} Stress;

typedef struct
{
  Stress *s;
  guint   id;
} Poster;

static Stress *stress;

#define POST_DATA(id, i) GUINT_TO_POINTER (((id) << 24) | ((i) + 1))

static void
stress_cb (gpointer user_data)
{
  Stress *s = stress;
  guint id = GPOINTER_TO_UINT (user_data) >> 24;
  guint seq = GPOINTER_TO_UINT (user_data) & 0xffffff;

  if (g_thread_self () != s->loop_thread)
    s->n_wrong_thread++;
  /* Posts from one thread run in the order they were made. */
  if (seq != s->last_seen[id] + 1)
    s->n_out_of_order++;
  s->last_seen[id] = seq;
  if ((guint) g_atomic_int_add (&s->n_ran, 1) + 1 == N_THREADS * s->n_per_thread)
    evl_loop_stop (s->loop);
}

static void
stress_notify (gpointer user_data)
{
  g_atomic_int_inc (&stress->n_notified);
}

static gpointer
poster_thread (gpointer user_data)
{
  Poster *p = user_data;
  guint i;

  while (!g_atomic_int_get (&p->s->go))
    g_thread_yield ();
  for (i = 0; i < p->s->n_per_thread; i++)
    {
      EvlHandle *handle = evl_loop_call_soon_threadsafe (p->s->loop, stress_cb,
                                                         POST_DATA (p->id, i), stress_notify);

      g_assert_nonnull (handle);
      evl_handle_unref (handle);   /* (transfer full) */
    }
  return NULL;
}

static void
test_many_posts (void)
{
  EvlLoop *loop;
  Stress s = { 0 };
  Poster posters[N_THREADS];
  GThread *threads[N_THREADS];
  guint i;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);

  s.loop = loop;
  s.loop_thread = g_thread_self ();
  /* 100 000 posts per thread; fewer under valgrind, which serializes the
   * threads and makes each post a hundred times slower. */
  s.n_per_thread = evl_test_under_valgrind () ? 10000 : 100000;
  stress = &s;

  for (i = 0; i < N_THREADS; i++)
    {
      posters[i] = (Poster) { &s, i };
      threads[i] = g_thread_new ("evl-test-poster", poster_thread, &posters[i]);
    }
  /* The loop starts blocked (nothing scheduled): the posts must wake it. */
  evl_loop_call_later (loop, 0.01, evl_test_count, &s.go, NULL);
  evl_test_run_forever (loop);
  for (i = 0; i < N_THREADS; i++)
    g_thread_join (threads[i]);

  g_assert_cmpint (s.n_ran, ==, N_THREADS * s.n_per_thread);
  g_assert_cmpint (s.n_notified, ==, N_THREADS * s.n_per_thread);
  g_assert_cmpint (s.n_wrong_thread, ==, 0);
  g_assert_cmpint (s.n_out_of_order, ==, 0);
  for (i = 0; i < N_THREADS; i++)
    g_assert_cmpuint (s.last_seen[i], ==, s.n_per_thread);

  evl_test_close_loop (loop);
  stress = NULL;
}

/* A blocked loop wakes up ----------------------------------------------- */

typedef struct
{
  EvlLoop *loop;
  GThread *loop_thread;
  guint    delay_ms;
  gint     n_ran;
  gint     n_notified;
  gboolean ran_on_loop_thread;
  gboolean notified_on_loop_thread;
  gboolean cancel;        /* the poster cancels its handle */
  gboolean idle_loop;     /* the loop does not run while the poster posts */
  gint     posted;        /* atomic */
  gint     finished;      /* atomic */
} Post;

static void
post_cb (gpointer user_data)
{
  Post *p = user_data;

  p->ran_on_loop_thread = g_thread_self () == p->loop_thread;
  g_atomic_int_inc (&p->n_ran);
  evl_loop_stop (p->loop);
}

static void
post_notify (gpointer user_data)
{
  Post *p = user_data;

  p->notified_on_loop_thread = g_thread_self () == p->loop_thread;
  g_atomic_int_inc (&p->n_notified);
}

static gpointer
post_thread (gpointer user_data)
{
  Post *p = user_data;
  EvlHandle *handle;

  g_usleep (p->delay_ms * 1000);
  handle = evl_loop_call_soon_threadsafe (p->loop, post_cb, p, post_notify);
  g_assert_nonnull (handle);
  if (p->cancel)
    {
      evl_handle_cancel (handle);
      g_assert_true (evl_handle_is_cancelled (handle));
      /* Not here: the notify runs on the loop's thread. */
      if (p->idle_loop)
        g_assert_cmpint (g_atomic_int_get (&p->n_notified), ==, 0);
    }
  g_atomic_int_set (&p->posted, 1);
  evl_handle_unref (handle);
  g_atomic_int_set (&p->finished, 1);
  return NULL;
}

static void
test_wakes_blocked_loop (void)
{
  EvlLoop *loop;
  Post p = { 0 };
  GThread *thread;
  gint64 start;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);

  p.loop = loop;
  p.loop_thread = g_thread_self ();
  p.delay_ms = 50;
  start = g_get_monotonic_time ();
  thread = g_thread_new ("evl-test-post", post_thread, &p);
  /* No timers, nothing ready: the loop blocks until the post wakes it. */
  evl_test_run_forever (loop);
  g_thread_join (thread);

  g_assert_cmpint (g_get_monotonic_time () - start, >=, 50 * 1000);
  g_assert_cmpint (p.n_ran, ==, 1);
  g_assert_true (p.ran_on_loop_thread);
  g_assert_cmpint (p.n_notified, ==, 1);
  g_assert_true (p.notified_on_loop_thread);

  evl_test_close_loop (loop);
}

static void
test_post_from_loop_thread (void)
{
  EvlLoop *loop;
  Post p = { 0 };
  EvlHandle *handle;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);

  p.loop = loop;
  p.loop_thread = g_thread_self ();
  handle = evl_loop_call_soon_threadsafe (loop, post_cb, &p, post_notify);
  g_assert_nonnull (handle);
  g_assert_cmpfloat (evl_handle_get_when (handle), <, 0);
  evl_test_run_forever (loop);
  g_assert_cmpint (p.n_ran, ==, 1);
  g_assert_cmpint (p.n_notified, ==, 1);

  /* Cancelling after it ran does nothing more. */
  evl_handle_cancel (handle);
  g_assert_cmpint (p.n_notified, ==, 1);
  evl_handle_unref (handle);

  evl_test_close_loop (loop);
  g_assert_cmpint (p.n_ran, ==, 1);
  g_assert_cmpint (p.n_notified, ==, 1);
}

/* Cancelled by the posting thread before the loop ran it. */
static void
test_cancel_from_poster (void)
{
  EvlLoop *loop;
  Post p = { 0 }, closing = { 0 };
  GThread *thread;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);

  p.loop = loop;
  p.loop_thread = g_thread_self ();
  p.cancel = TRUE;
  p.idle_loop = TRUE;
  thread = g_thread_new ("evl-test-post", post_thread, &p);
  g_thread_join (thread);
  g_assert_cmpint (p.n_notified, ==, 0);

  evl_test_run_once (loop);
  evl_test_run_once (loop);
  g_assert_cmpint (p.n_ran, ==, 0);
  g_assert_cmpint (p.n_notified, ==, 1);
  g_assert_true (p.notified_on_loop_thread);

  /* Cancelled, then the loop closes without running again. */
  closing.loop = loop;
  closing.loop_thread = g_thread_self ();
  closing.cancel = TRUE;
  closing.idle_loop = TRUE;
  thread = g_thread_new ("evl-test-post", post_thread, &closing);
  g_thread_join (thread);
  g_assert_cmpint (closing.n_notified, ==, 0);
  evl_test_close_loop (loop);
  g_assert_cmpint (closing.n_ran, ==, 0);
  g_assert_cmpint (closing.n_notified, ==, 1);
  g_assert_true (closing.notified_on_loop_thread);

  g_assert_cmpint (p.n_ran, ==, 0);
  g_assert_cmpint (p.n_notified, ==, 1);
}

/* Cancelled by the posting thread while the loop runs. */
static void
test_cancel_while_running (void)
{
  EvlLoop *loop;
  Post posts[50] = { { 0 } };
  GThread *threads[G_N_ELEMENTS (posts)];
  guint i, n_ran = 0;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);

  for (i = 0; i < G_N_ELEMENTS (posts); i++)
    {
      posts[i].loop = loop;
      posts[i].loop_thread = g_thread_self ();
      posts[i].cancel = TRUE;
      posts[i].delay_ms = i % 5;
      threads[i] = g_thread_new ("evl-test-post", post_thread, &posts[i]);
    }
  /* Each callback that gets to run (before its cancel) stops the loop;
   * keep running until every poster is done. */
  for (;;)
    {
      gboolean all_done = TRUE;

      evl_loop_call_later (loop, 0.002, evl_test_stop_cb, loop, NULL);
      evl_test_run_forever (loop);
      for (i = 0; i < G_N_ELEMENTS (posts); i++)
        all_done = all_done && g_atomic_int_get (&posts[i].finished);
      if (all_done)
        break;
    }
  for (i = 0; i < G_N_ELEMENTS (posts); i++)
    g_thread_join (threads[i]);
  evl_test_run_once (loop);

  for (i = 0; i < G_N_ELEMENTS (posts); i++)
    {
      g_assert_cmpint (posts[i].n_ran, <=, 1);
      g_assert_cmpint (posts[i].n_notified, ==, 1);
      g_assert_true (posts[i].notified_on_loop_thread);
      n_ran += posts[i].n_ran;
    }
  g_test_message ("%u of %u callbacks ran before their cancel", n_ran, (guint) G_N_ELEMENTS (posts));

  evl_test_close_loop (loop);
  for (i = 0; i < G_N_ELEMENTS (posts); i++)
    g_assert_cmpint (posts[i].n_notified, ==, 1);
}

/* Stopped from another thread -------------------------------------------- */

typedef struct
{
  EvlLoop *loop;
  guint    delay_ms;
} Stopper;

static gpointer
stopper_thread (gpointer user_data)
{
  Stopper *s = user_data;

  g_usleep (s->delay_ms * 1000);
  evl_loop_stop (s->loop);
  return NULL;
}

static void
test_stop_from_thread (void)
{
  EvlLoop *loop;
  Stopper s;
  GThread *thread;
  guint n_timer = 0;
  gint64 start;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);

  /* Blocked with nothing scheduled at all. */
  s = (Stopper) { loop, 50 };
  start = g_get_monotonic_time ();
  thread = g_thread_new ("evl-test-stop", stopper_thread, &s);
  evl_test_run_forever (loop);
  g_thread_join (thread);
  g_assert_cmpint (g_get_monotonic_time () - start, >=, 50 * 1000);
  g_assert_false (evl_loop_is_running (loop));

  /* Blocked on a far timer. */
  evl_loop_call_later (loop, 3600, evl_test_count, &n_timer, NULL);
  thread = g_thread_new ("evl-test-stop", stopper_thread, &s);
  evl_test_run_forever (loop);
  g_thread_join (thread);
  g_assert_cmpuint (n_timer, ==, 0);

  /* The loop still works after that. */
  evl_loop_call_soon (loop, evl_test_count, &n_timer, NULL);
  evl_test_run_once (loop);
  g_assert_cmpuint (n_timer, ==, 1);

  evl_test_close_loop (loop);
}

/* A closed loop refuses posts ------------------------------------------- */

static void
never_cb (gpointer user_data)
{
  g_assert_not_reached ();
}

static gpointer
post_closed_thread (gpointer user_data)
{
  Post *p = user_data;

  g_assert_null (evl_loop_call_soon_threadsafe (p->loop, never_cb, p, post_notify));
  /* Refused: the notify ran here, at once. */
  g_assert_cmpint (g_atomic_int_get (&p->n_notified), ==, 1);
  return NULL;
}

static void
test_post_to_closed (void)
{
  EvlLoop *loop;
  Post p = { 0 }, q = { 0 };
  GThread *thread;
  GError *error = NULL;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  g_assert_true (evl_loop_close (loop, &error));
  g_assert_no_error (error);

  p.loop = loop;
  g_test_expect_message (G_LOG_DOMAIN, G_LOG_LEVEL_CRITICAL, "*closed*");
  g_assert_null (evl_loop_call_soon_threadsafe (loop, never_cb, &p, post_notify));
  g_test_assert_expected_messages ();
  g_assert_cmpint (p.n_notified, ==, 1);

  q.loop = loop;
  g_test_expect_message (G_LOG_DOMAIN, G_LOG_LEVEL_CRITICAL, "*closed*");
  thread = g_thread_new ("evl-test-post", post_closed_thread, &q);
  g_thread_join (thread);
  g_test_assert_expected_messages ();
  g_assert_cmpint (q.n_notified, ==, 1);

  /* evl_loop_stop() from another thread on a closed loop is harmless. */
  {
    Stopper s = { loop, 0 };

    thread = g_thread_new ("evl-test-stop", stopper_thread, &s);
    g_thread_join (thread);
  }

  evl_test_close_loop (loop);
  g_assert_cmpint (p.n_notified, ==, 1);
  g_assert_cmpint (q.n_notified, ==, 1);
}

/* Closing drops what other threads posted ------------------------------- */

static void
test_close_drops_posts (void)
{
  EvlLoop *loop;
  Post posts[8] = { { 0 } };
  GThread *thread;
  guint i;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);

  for (i = 0; i < G_N_ELEMENTS (posts); i++)
    {
      posts[i].loop = loop;
      posts[i].loop_thread = g_thread_self ();
      thread = g_thread_new ("evl-test-post", post_thread, &posts[i]);
      g_thread_join (thread);
    }
  evl_test_close_loop (loop);
  for (i = 0; i < G_N_ELEMENTS (posts); i++)
    {
      g_assert_cmpint (posts[i].n_ran, ==, 0);
      g_assert_cmpint (posts[i].n_notified, ==, 1);
      g_assert_true (posts[i].notified_on_loop_thread);
    }
}

/* Posts racing with close --------------------------------------------- */

/* Threads post while the loop closes: each post is either accepted (and
 * then runs or is dropped by close) or refused with a critical; every
 * notify runs exactly once; and no wakeup is written to the closed wakeup
 * descriptor, whose number the test takes over at once. */
#define N_RACERS 3

typedef struct
{
  EvlLoop *loop;
  gint     n_accepted;   /* atomic */
  gint     n_refused;    /* atomic */
  gint     n_ran;        /* atomic */
  gint     n_notified;   /* atomic */
  gint     n_criticals;  /* atomic */
  gint     go;           /* atomic */
} Racers;

static void
racer_cb (gpointer user_data)
{
  Racers *r = user_data;

  g_atomic_int_inc (&r->n_ran);
}

static void
racer_notify (gpointer user_data)
{
  Racers *r = user_data;

  g_atomic_int_inc (&r->n_notified);
}

static gpointer
racer_thread (gpointer user_data)
{
  Racers *r = user_data;

  while (!g_atomic_int_get (&r->go))
    g_thread_yield ();
  for (;;)
    {
      EvlHandle *handle = evl_loop_call_soon_threadsafe (r->loop, racer_cb, r, racer_notify);

      if (handle == NULL)
        {
          g_atomic_int_inc (&r->n_refused);
          break;
        }
      g_atomic_int_inc (&r->n_accepted);
      evl_handle_unref (handle);
    }
  return NULL;
}

static void
count_closed_critical (const gchar    *log_domain,
                       GLogLevelFlags  log_level,
                       const gchar    *message,
                       gpointer        user_data)
{
  Racers *r = user_data;

  if (strstr (message, "closed") != NULL)
    g_atomic_int_inc (&r->n_criticals);
  else
    g_log_default_handler (log_domain, log_level, message, NULL);
}

static void
test_post_while_closing (void)
{
  EvlLoop *loop;
  Racers r = { 0 };
  GThread *threads[N_RACERS];
  int taken[8][2];
  guint i, round;
  char buf[64];

  /* In a subprocess: the refused posts log criticals, which this test
   * counts instead of treating as fatal. */
  if (!g_test_subprocess ())
    {
      /* Skip here, not in the child, if the loop kind is unavailable. */
      EVL_TEST_NEW_LOOP_OR_SKIP (loop);
      evl_test_close_loop (loop);
      g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_INHERIT_STDERR);
      g_test_trap_assert_passed ();
      return;
    }
  g_log_set_always_fatal (G_LOG_FATAL_MASK);
  g_log_set_handler (G_LOG_DOMAIN, G_LOG_LEVEL_CRITICAL, count_closed_critical, &r);

  for (round = 0; round < (evl_test_under_valgrind () ? 4u : 20u); round++)
    {
      gint n_refused_before = r.n_refused;

      EVL_TEST_NEW_LOOP_OR_SKIP (loop);
      r.loop = loop;
      r.go = 0;
      for (i = 0; i < N_RACERS; i++)
        threads[i] = g_thread_new ("evl-test-racer", racer_thread, &r);
      g_atomic_int_set (&r.go, 1);
      evl_loop_call_later (loop, 0.002, evl_test_stop_cb, loop, NULL);
      g_assert_true (evl_loop_run_forever (loop, NULL));
      g_assert_true (evl_loop_close (loop, NULL));
      /* Take the numbers the loop just freed. */
      for (i = 0; i < G_N_ELEMENTS (taken); i++)
        evl_test_socketpair (taken[i]);
      for (i = 0; i < N_RACERS; i++)
        g_thread_join (threads[i]);
      for (i = 0; i < G_N_ELEMENTS (taken); i++)
        {
          g_assert_cmpint (read (taken[i][0], buf, sizeof buf), <, 0);
          g_assert_cmpint (read (taken[i][1], buf, sizeof buf), <, 0);
          close (taken[i][0]);
          close (taken[i][1]);
        }
      evl_test_close_loop (loop);
      g_assert_cmpint (r.n_refused - n_refused_before, ==, N_RACERS);
    }

  g_assert_cmpint (r.n_criticals, ==, r.n_refused);
  g_assert_cmpint (r.n_ran, <=, r.n_accepted);
  g_assert_cmpint (r.n_notified, ==, r.n_accepted + r.n_refused);
  g_test_message ("%d posts accepted, %d ran", r.n_accepted, r.n_ran);
}

/* Coalescing: a burst of posts costs a handful of wakeups ------------- */

/* The number of write() calls the process made so far, from
 * /proc/self/io (all threads); -1 where it is not available. */
static gint64
process_write_calls (void)
{
  char *contents = NULL;
  const char *line;
  gint64 n = -1;

  if (!g_file_get_contents ("/proc/self/io", &contents, NULL, NULL))
    return -1;
  line = strstr (contents, "syscw:");
  if (line != NULL)
    n = g_ascii_strtoll (line + strlen ("syscw:"), NULL, 10);
  g_free (contents);
  return n;
}

#define N_BURST 10000

typedef struct
{
  EvlLoop *loop;
  gint     busy;          /* atomic: the loop is inside busy_cb */
  gint     burst_done;    /* atomic: the poster has posted everything */
  gint64   writes;        /* write() calls during the burst */
  gint     n_ran;
} Burst;

static void
burst_item_cb (gpointer user_data)
{
  Burst *b = user_data;

  if (++b->n_ran == N_BURST)
    evl_loop_stop (b->loop);
}

static void
busy_cb (gpointer user_data)
{
  Burst *b = user_data;

  g_atomic_int_set (&b->busy, 1);
  while (!g_atomic_int_get (&b->burst_done))
    g_usleep (1000);
}

static gpointer
burst_thread (gpointer user_data)
{
  Burst *b = user_data;
  gint64 before;
  guint i;

  while (!g_atomic_int_get (&b->busy))
    g_usleep (1000);
  before = process_write_calls ();
  for (i = 0; i < N_BURST; i++)
    evl_handle_unref (evl_loop_call_soon_threadsafe (b->loop, burst_item_cb, b, NULL));
  b->writes = process_write_calls () - before;
  g_atomic_int_set (&b->burst_done, 1);
  return NULL;
}

static void
test_coalescing (void)
{
  EvlLoop *loop;
  Burst b = { 0 };
  GThread *thread;

  /* Measured through the process's write() count: while the loop is busy
   * in a callback (so it cannot drain its wakeup descriptor), nothing but
   * the posts can write, and only the first post of the burst should. */
  if (process_write_calls () < 0)
    {
      g_test_skip ("/proc/self/io is not available: cannot count the wakeup writes");
      return;
    }

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);

  b.loop = loop;
  evl_loop_call_soon (loop, busy_cb, &b, NULL);
  thread = g_thread_new ("evl-test-burst", burst_thread, &b);
  evl_test_run_forever (loop);
  g_thread_join (thread);

  g_assert_cmpint (b.n_ran, ==, N_BURST);
  g_test_message ("%d posts made %" G_GINT64_FORMAT " write() calls", N_BURST, b.writes);
  /* One write is expected; allow for writes of others (valgrind's own
   * thread scheduling writes to a pipe), but far fewer than the posts. */
  g_assert_cmpint (b.writes, >=, 1);
  g_assert_cmpint (b.writes, <=, N_BURST / 100);

  evl_test_close_loop (loop);
}

/* Two threads start the same loop at once: one runs it, the other is
 * refused ---------------------------------------------------------------- */

/* Up to this many races, or this long, whichever comes first: on a
 * loaded machine a race takes milliseconds (four threads spinning on two
 * cores), and the suite must stay fast there. */
#define N_RACES 2000
#define RACE_SECONDS 3

typedef struct
{
  EvlLoop *loop;
  gint     go;        /* atomic: both threads spin on it, then run */
  gint     ready;     /* atomic: threads waiting for go */
  gint     ran;       /* atomic: runs that returned TRUE */
  gint     refused;   /* atomic: runs refused with EVL_LOOP_ERROR_RUNNING */
  gint     other;     /* atomic: any other outcome */
} RunRace;

static gpointer
run_race_thread (gpointer data)
{
  RunRace *r = data;
  GError *error = NULL;

  g_atomic_int_inc (&r->ready);
  while (!g_atomic_int_get (&r->go))
    ;
  if (evl_loop_run_forever (r->loop, &error))
    g_atomic_int_inc (&r->ran);
  else if (g_error_matches (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_RUNNING))
    g_atomic_int_inc (&r->refused);
  else
    g_atomic_int_inc (&r->other);
  g_clear_error (&error);
  return NULL;
}

static void
test_run_from_two_threads (void)
{
  EvlLoop *loop;
  guint i, both_ran = 0;
  /* The window is a few instructions wide: it takes hundreds of races to
   * hit it without the compare-and-exchange. Valgrind runs one thread at
   * a time, so a few show that the refusal works. */
  guint n_races = evl_test_under_valgrind () ? 20 : N_RACES;
  gint64 end = g_get_monotonic_time () + RACE_SECONDS * G_TIME_SPAN_SECOND;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);

  for (i = 0; i < n_races && both_ran == 0 && g_get_monotonic_time () < end; i++)
    {
      RunRace r = { loop, 0, 0, 0, 0, 0 };
      GThread *a, *b;
      gint64 start;

      a = g_thread_new ("evl-test-race-a", run_race_thread, &r);
      b = g_thread_new ("evl-test-race-b", run_race_thread, &r);
      while (g_atomic_int_get (&r.ready) < 2)
        g_thread_yield ();
      g_atomic_int_set (&r.go, 1);

      /* The winner runs until stopped, so the other one finds it running
       * and is refused at once. Wait for the refusal (or, if both got in,
       * a while), then stop whoever runs until both returned. */
      start = g_get_monotonic_time ();
      while (g_atomic_int_get (&r.refused) + g_atomic_int_get (&r.other) == 0 &&
             g_get_monotonic_time () - start < 5 * G_TIME_SPAN_SECOND)
        g_thread_yield ();
      if (g_atomic_int_get (&r.refused) + g_atomic_int_get (&r.other) > 0)
        {
          evl_loop_stop (loop);
          while (g_atomic_int_get (&r.ran) + g_atomic_int_get (&r.refused) +
                 g_atomic_int_get (&r.other) < 2)
            g_thread_yield ();
        }
      while (g_atomic_int_get (&r.ran) + g_atomic_int_get (&r.refused) +
             g_atomic_int_get (&r.other) < 2)
        {
          evl_loop_stop (loop);
          g_usleep (1000);
        }
      g_thread_join (a);
      g_thread_join (b);
      g_assert_cmpint (r.other, ==, 0);
      if (r.ran == 2)
        {
          g_test_message ("race %u: both threads ran the loop", i);
          both_ran++;
          break;
        }
      g_assert_cmpint (r.ran, ==, 1);
      g_assert_cmpint (r.refused, ==, 1);
      g_assert_false (evl_loop_is_running (loop));
      /* A stop that came after the winner returned is not for the next
       * race: consume it (a pending stop makes a run do one iteration). */
      evl_loop_stop (loop);
      g_assert_true (evl_loop_run_forever (loop, NULL));
    }
  g_test_message ("%u races in %d s at most (bound: %u)", i, RACE_SECONDS, n_races);
  g_assert_cmpuint (both_ran, ==, 0);
  g_assert_cmpuint (i, >, 0);

  evl_test_close_loop (loop);
}

/* A posting thread that exits before the loop ran its posts, and one
 * that outlives the loop it posted to ----------------------------------- */

/* More than two of the per-thread queue's chunks (511 posts each). */
#define N_EARLY_POSTS 1500

typedef struct
{
  EvlLoop *loop;
  guint    n_posts;
  guint    next;       /* the sequence number expected next */
  guint    n_out_of_order;
  gint     n_notified; /* atomic */
} Early;

static Early *early;

static void
early_cb (gpointer user_data)
{
  if (GPOINTER_TO_UINT (user_data) != early->next)
    early->n_out_of_order++;
  early->next++;
}

static void
early_notify (gpointer user_data)
{
  if ((guint) g_atomic_int_add (&early->n_notified, 1) + 1 == early->n_posts)
    evl_loop_stop (early->loop);
}

static gpointer
early_thread (gpointer user_data)
{
  Early *e = user_data;
  guint i;

  for (i = 0; i < e->n_posts; i++)
    {
      EvlHandle *handle = evl_loop_call_soon_threadsafe (e->loop, early_cb,
                                                         GUINT_TO_POINTER (i), early_notify);

      g_assert_nonnull (handle);
      evl_handle_unref (handle);
    }
  return NULL;
}

static void
test_poster_exits_first (void)
{
  EvlLoop *loop;
  Early e = { 0 };
  GThread *thread;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);

  e.loop = loop;
  e.n_posts = N_EARLY_POSTS;
  early = &e;
  /* The thread posts and exits before the loop runs: its queue outlives
   * it until the loop took the posts, in order. */
  thread = g_thread_new ("evl-test-early", early_thread, &e);
  g_thread_join (thread);
  g_assert_cmpint (g_atomic_int_get (&e.n_notified), ==, 0);
  evl_test_run_forever (loop);
  g_assert_cmpuint (e.next, ==, N_EARLY_POSTS);
  g_assert_cmpint (g_atomic_int_get (&e.n_notified), ==, N_EARLY_POSTS);
  g_assert_cmpuint (e.n_out_of_order, ==, 0);

  /* A second thread, after the first one's queue was dropped. */
  e.next = 0;
  e.n_notified = 0;
  thread = g_thread_new ("evl-test-early", early_thread, &e);
  evl_test_run_forever (loop);
  g_thread_join (thread);
  g_assert_cmpuint (e.next, ==, N_EARLY_POSTS);
  g_assert_cmpuint (e.n_out_of_order, ==, 0);

  evl_test_close_loop (loop);
  early = NULL;
}

typedef struct
{
  GAsyncQueue *loops;  /* EvlLoop * to post to, NULL to exit */
  GAsyncQueue *done;
  gint         n_ran;  /* atomic */
} Outlive;

static void
outlive_cb (gpointer user_data)
{
  g_atomic_int_inc ((gint *) user_data);
}

static gpointer
outlive_thread (gpointer user_data)
{
  Outlive *o = user_data;
  EvlLoop *loop;

  while ((loop = g_async_queue_pop (o->loops)) != GINT_TO_POINTER (1))
    {
      guint i;

      /* Three posts, then the caller's loop stops with a fourth. */
      for (i = 0; i < 3; i++)
        evl_handle_unref (evl_loop_call_soon_threadsafe (loop, outlive_cb, &o->n_ran, NULL));
      evl_handle_unref (evl_loop_call_soon_threadsafe (loop, evl_test_stop_cb, loop, NULL));
      g_async_queue_push (o->done, loop);
    }
  return NULL;
}

static void
test_poster_outlives_loop (void)
{
  Outlive o = { NULL, NULL, 0 };
  GThread *thread;
  EvlLoop *loop;
  guint i;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  o.loops = g_async_queue_new ();
  o.done = g_async_queue_new ();
  thread = g_thread_new ("evl-test-outlive", outlive_thread, &o);

  /* One thread posts to a loop, which is finalized; then to a new loop
   * (often at the same address), which must get the posts. */
  for (i = 0; i < 5; i++)
    {
      if (i > 0)
        loop = evl_test_new_loop ();
      g_async_queue_push (o.loops, loop);
      evl_test_run_forever (loop);
      g_assert_true (g_async_queue_pop (o.done) == loop);
      g_assert_cmpint (g_atomic_int_get (&o.n_ran), ==, 3 * (i + 1));
      evl_test_close_loop (loop);
    }
  g_async_queue_push (o.loops, GINT_TO_POINTER (1));
  g_thread_join (thread);
  g_async_queue_unref (o.loops);
  g_async_queue_unref (o.done);
}

int
main (int   argc,
      char *argv[])
{
  evl_test_init (&argc, &argv);
  evl_test_watchdog_start (100);

  g_test_add_func ("/Evl/Threadsafe/many-posts", test_many_posts);
  g_test_add_func ("/Evl/Threadsafe/wakes-blocked-loop", test_wakes_blocked_loop);
  g_test_add_func ("/Evl/Threadsafe/post-from-loop-thread", test_post_from_loop_thread);
  g_test_add_func ("/Evl/Threadsafe/cancel-from-poster", test_cancel_from_poster);
  g_test_add_func ("/Evl/Threadsafe/cancel-while-running", test_cancel_while_running);
  g_test_add_func ("/Evl/Threadsafe/stop-from-thread", test_stop_from_thread);
  g_test_add_func ("/Evl/Threadsafe/post-to-closed", test_post_to_closed);
  g_test_add_func ("/Evl/Threadsafe/close-drops-posts", test_close_drops_posts);
  g_test_add_func ("/Evl/Threadsafe/post-while-closing", test_post_while_closing);
  g_test_add_func ("/Evl/Threadsafe/coalescing", test_coalescing);
  g_test_add_func ("/Evl/Threadsafe/run-from-two-threads", test_run_from_two_threads);
  g_test_add_func ("/Evl/Threadsafe/poster-exits-first", test_poster_exits_first);
  g_test_add_func ("/Evl/Threadsafe/poster-outlives-loop", test_poster_outlives_loop);

  return g_test_run ();
}
