/* signals.c: tests of EvlLoop's POSIX signal handlers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include <evloop-glib/evloop-glib.h>

#include "evl-test-util.h"

/* Helpers ---------------------------------------------------------------- */

/* The test's own handlers for SIGUSR1 and SIGUSR2, installed before each
 * test: the "previous disposition" that evloop must chain to and restore
 * (and a harmless one: the default action of SIGUSR1 kills the process). */
static volatile gint own_handler_count[NSIG];

static void
own_handler (int signum)
{
  g_atomic_int_inc ((gint *) &own_handler_count[signum]);
}

static void
install_own_handler (int signum)
{
  struct sigaction action;

  memset (&action, 0, sizeof action);
  action.sa_handler = own_handler;
  sigemptyset (&action.sa_mask);
  action.sa_flags = SA_RESTART;
  g_assert_cmpint (sigaction (signum, &action, NULL), ==, 0);
  g_atomic_int_set ((gint *) &own_handler_count[signum], 0);
}

static gboolean
own_handler_installed (int signum)
{
  struct sigaction action;

  g_assert_cmpint (sigaction (signum, NULL, &action), ==, 0);
  return !(action.sa_flags & SA_SIGINFO) && action.sa_handler == own_handler;
}

static void
setup_dispositions (void)
{
  install_own_handler (SIGUSR1);
  install_own_handler (SIGUSR2);
}

typedef struct
{
  EvlLoop *loop;
  GThread *thread;          /* the loop's thread */
  gint     n_ran;           /* atomic */
  gint     n_notified;      /* atomic */
  gint     n_wrong_thread;
  gboolean stop;
} Probe;

static void
probe_init (Probe   *p,
            EvlLoop *loop)
{
  *p = (Probe) { 0 };
  p->loop = loop;
  p->thread = g_thread_self ();
}

static void
probe_cb (gpointer user_data)
{
  Probe *p = user_data;

  if (g_thread_self () != p->thread)
    p->n_wrong_thread++;
  g_atomic_int_inc (&p->n_ran);
  if (p->stop)
    evl_loop_stop (p->loop);
}

static void
probe_notify (gpointer user_data)
{
  Probe *p = user_data;

  g_atomic_int_inc (&p->n_notified);
}

static void
add_handler (Probe *p,
             int    signum)
{
  GError *error = NULL;

  g_assert_true (evl_loop_add_signal_handler (p->loop, signum, probe_cb, p, probe_notify, &error));
  g_assert_no_error (error);
}

static void
run_until_ran (Probe *p)
{
  g_assert_true (evl_test_run_until_flag (p->loop, (gboolean *) &p->n_ran, 30.0));
}

/* Tests ------------------------------------------------------------------ */

static void
test_raise (void)
{
  EvlLoop *loop;
  Probe p;

  setup_dispositions ();
  EVL_TEST_NEW_LOOP_OR_SKIP (loop);

  probe_init (&p, loop);
  add_handler (&p, SIGUSR1);
  g_assert_false (own_handler_installed (SIGUSR1));

  /* Nothing before the signal. */
  evl_test_run_for (loop, 0.01);
  g_assert_cmpint (p.n_ran, ==, 0);

  g_assert_cmpint (raise (SIGUSR1), ==, 0);
  /* The callback runs on the loop, not in the signal handler. */
  g_assert_cmpint (p.n_ran, ==, 0);
  run_until_ran (&p);
  evl_test_run_for (loop, 0.01);
  g_assert_cmpint (p.n_ran, ==, 1);

  g_assert_cmpint (kill (getpid (), SIGUSR1), ==, 0);
  p.n_ran = 0;
  run_until_ran (&p);
  g_assert_cmpint (p.n_wrong_thread, ==, 0);
  g_assert_cmpint (p.n_notified, ==, 0);

  g_assert_true (evl_loop_remove_signal_handler (loop, SIGUSR1));
  g_assert_cmpint (p.n_notified, ==, 1);
  evl_test_close_loop (loop);
  g_assert_cmpint (p.n_notified, ==, 1);
}

static void
test_raise_many (void)
{
  EvlLoop *loop;
  Probe p;
  guint i;

  setup_dispositions ();
  EVL_TEST_NEW_LOOP_OR_SKIP (loop);

  probe_init (&p, loop);
  add_handler (&p, SIGUSR1);
  for (i = 0; i < 5; i++)
    g_assert_cmpint (raise (SIGUSR1), ==, 0);
  run_until_ran (&p);
  evl_test_run_for (loop, 0.01);
  /* Several deliveries before the loop woke run the callback once. */
  g_assert_cmpint (p.n_ran, ==, 1);
  /* The previous handler saw every one of them. */
  g_assert_cmpint (g_atomic_int_get (&own_handler_count[SIGUSR1]), ==, 5);

  evl_test_close_loop (loop);
  g_assert_cmpint (p.n_notified, ==, 1);
}

typedef struct
{
  EvlLoop *loop;
  int      signum;
  gint     n_ran;
} RaiseInCallback;

static void
raise_in_callback_cb (gpointer user_data)
{
  RaiseInCallback *r = user_data;

  g_assert_cmpint (raise (r->signum), ==, 0);
  r->n_ran++;
}

static void
test_raise_in_callback (void)
{
  EvlLoop *loop;
  Probe p;
  RaiseInCallback r;

  setup_dispositions ();
  EVL_TEST_NEW_LOOP_OR_SKIP (loop);

  probe_init (&p, loop);
  add_handler (&p, SIGUSR2);
  r = (RaiseInCallback) { loop, SIGUSR2, 0 };
  evl_loop_call_soon (loop, raise_in_callback_cb, &r, NULL);
  run_until_ran (&p);
  g_assert_cmpint (r.n_ran, ==, 1);

  evl_test_close_loop (loop);
}

static void
test_replace (void)
{
  EvlLoop *loop;
  Probe first, second;

  setup_dispositions ();
  EVL_TEST_NEW_LOOP_OR_SKIP (loop);

  probe_init (&first, loop);
  probe_init (&second, loop);
  add_handler (&first, SIGUSR1);
  add_handler (&second, SIGUSR1);
  g_assert_cmpint (first.n_notified, ==, 1);
  g_assert_cmpint (second.n_notified, ==, 0);

  g_assert_cmpint (raise (SIGUSR1), ==, 0);
  run_until_ran (&second);
  evl_test_run_for (loop, 0.01);
  g_assert_cmpint (first.n_ran, ==, 0);
  g_assert_cmpint (second.n_ran, ==, 1);

  /* Replaced after the signal arrived, before the loop ran: the new
   * handler runs, not the old one. */
  g_assert_cmpint (raise (SIGUSR1), ==, 0);
  add_handler (&first, SIGUSR1);
  g_assert_cmpint (second.n_notified, ==, 1);
  run_until_ran (&first);
  g_assert_cmpint (second.n_ran, ==, 1);

  evl_test_close_loop (loop);
  g_assert_cmpint (first.n_notified, ==, 2);
  g_assert_cmpint (second.n_notified, ==, 1);
}

static void
test_remove (void)
{
  EvlLoop *loop;
  Probe p;

  setup_dispositions ();
  EVL_TEST_NEW_LOOP_OR_SKIP (loop);

  probe_init (&p, loop);
  g_assert_false (evl_loop_remove_signal_handler (loop, SIGUSR1));
  add_handler (&p, SIGUSR1);
  g_assert_false (evl_loop_remove_signal_handler (loop, SIGUSR2));
  g_assert_true (evl_loop_remove_signal_handler (loop, SIGUSR1));
  g_assert_cmpint (p.n_notified, ==, 1);
  g_assert_false (evl_loop_remove_signal_handler (loop, SIGUSR1));
  g_assert_false (evl_loop_remove_signal_handler (loop, 0));
  g_assert_false (evl_loop_remove_signal_handler (loop, -1));
  g_assert_false (evl_loop_remove_signal_handler (loop, 1000));

  /* A signal caught but not yet dispatched when the handler is removed
   * does not run it. */
  add_handler (&p, SIGUSR1);
  g_assert_cmpint (raise (SIGUSR1), ==, 0);
  g_assert_true (evl_loop_remove_signal_handler (loop, SIGUSR1));
  g_assert_cmpint (p.n_notified, ==, 2);
  evl_test_run_for (loop, 0.02);
  g_assert_cmpint (p.n_ran, ==, 0);

  evl_test_close_loop (loop);
  g_assert_cmpint (p.n_notified, ==, 2);
}

/* The handler removes (or replaces) itself from its callback: its notify
 * waits until the callback returned. */
typedef struct
{
  Probe  probe;
  Probe *replacement;       /* NULL: remove */
  gint   n_notified_inside;
} SelfRemover;

static void
self_remover_cb (gpointer user_data)
{
  SelfRemover *r = user_data;

  probe_cb (&r->probe);
  if (r->replacement != NULL)
    add_handler (r->replacement, SIGUSR1);
  else
    g_assert_true (evl_loop_remove_signal_handler (r->probe.loop, SIGUSR1));
  r->n_notified_inside = r->probe.n_notified;
}

static void
check_self_removal (gboolean replace)
{
  EvlLoop *loop;
  SelfRemover r;
  Probe next;
  GError *error = NULL;

  setup_dispositions ();
  EVL_TEST_NEW_LOOP_OR_SKIP (loop);

  probe_init (&r.probe, loop);
  probe_init (&next, loop);
  r.replacement = replace ? &next : NULL;
  r.n_notified_inside = -1;
  g_assert_true (evl_loop_add_signal_handler (loop, SIGUSR1, self_remover_cb, &r, probe_notify, &error));
  g_assert_no_error (error);

  g_assert_cmpint (raise (SIGUSR1), ==, 0);
  run_until_ran (&r.probe);
  g_assert_cmpint (r.n_notified_inside, ==, 0);
  g_assert_cmpint (r.probe.n_notified, ==, 1);

  g_assert_cmpint (raise (SIGUSR1), ==, 0);
  if (replace)
    {
      run_until_ran (&next);
      g_assert_true (evl_loop_remove_signal_handler (loop, SIGUSR1));
    }
  else
    {
      evl_test_run_for (loop, 0.01);
      g_assert_false (evl_loop_remove_signal_handler (loop, SIGUSR1));
      g_assert_true (own_handler_installed (SIGUSR1));
    }
  g_assert_cmpint (r.probe.n_ran, ==, 1);

  evl_test_close_loop (loop);
  g_assert_cmpint (r.probe.n_notified, ==, 1);
  g_assert_cmpint (next.n_notified, ==, replace ? 1 : 0);
}

static void
test_remove_in_callback (void)
{
  check_self_removal (FALSE);
}

static void
test_replace_in_callback (void)
{
  check_self_removal (TRUE);
}

static void
test_restore_disposition (void)
{
  EvlLoop *loop;
  Probe p;

  setup_dispositions ();
  EVL_TEST_NEW_LOOP_OR_SKIP (loop);

  g_assert_true (own_handler_installed (SIGUSR1));
  probe_init (&p, loop);
  add_handler (&p, SIGUSR1);
  g_assert_false (own_handler_installed (SIGUSR1));
  g_assert_true (evl_loop_remove_signal_handler (loop, SIGUSR1));
  g_assert_true (own_handler_installed (SIGUSR1));

  g_assert_cmpint (raise (SIGUSR1), ==, 0);
  g_assert_cmpint (g_atomic_int_get (&own_handler_count[SIGUSR1]), ==, 1);
  evl_test_run_for (loop, 0.01);
  g_assert_cmpint (p.n_ran, ==, 0);

  /* Also after replacing (the replacement does not save evloop's own
   * handler as the "previous" one). */
  add_handler (&p, SIGUSR1);
  add_handler (&p, SIGUSR1);
  g_assert_true (evl_loop_remove_signal_handler (loop, SIGUSR1));
  g_assert_true (own_handler_installed (SIGUSR1));

  /* And a default disposition comes back as the default. */
  signal (SIGUSR2, SIG_DFL);
  add_handler (&p, SIGUSR2);
  g_assert_true (evl_loop_remove_signal_handler (loop, SIGUSR2));
  {
    struct sigaction action;

    g_assert_cmpint (sigaction (SIGUSR2, NULL, &action), ==, 0);
    g_assert_true (action.sa_handler == SIG_DFL);
  }
  install_own_handler (SIGUSR2);

  evl_test_close_loop (loop);
}

static void
test_chain (void)
{
  EvlLoop *loop;
  Probe p;

  setup_dispositions ();
  EVL_TEST_NEW_LOOP_OR_SKIP (loop);

  probe_init (&p, loop);
  add_handler (&p, SIGUSR1);
  g_assert_cmpint (raise (SIGUSR1), ==, 0);
  /* The handler installed before evloop's ran, synchronously. */
  g_assert_cmpint (g_atomic_int_get (&own_handler_count[SIGUSR1]), ==, 1);
  run_until_ran (&p);
  g_assert_cmpint (p.n_ran, ==, 1);

  evl_test_close_loop (loop);
  g_assert_true (own_handler_installed (SIGUSR1));
}

static void
never_cb (gpointer user_data)
{
  g_assert_not_reached ();
}

static void
test_invalid (void)
{
  EvlLoop *loop;
  static const int bad[] = { 0, -1, SIGKILL, SIGSTOP, 1000, NSIG, G_MAXINT, G_MININT };
  guint i, n_notified = 0;

  setup_dispositions ();
  EVL_TEST_NEW_LOOP_OR_SKIP (loop);

  for (i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      GError *error = NULL;

      g_assert_false (evl_loop_add_signal_handler (loop, bad[i], never_cb, &n_notified, evl_test_count, &error));
      g_assert_error (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_INVALID);
      g_assert_nonnull (error->message);
      g_clear_error (&error);
      g_assert_cmpuint (n_notified, ==, i + 1);
      g_assert_false (evl_loop_remove_signal_handler (loop, bad[i]));
    }
  /* Without a GError. */
  g_assert_false (evl_loop_add_signal_handler (loop, SIGKILL, never_cb, &n_notified, evl_test_count, NULL));
  g_assert_cmpuint (n_notified, ==, G_N_ELEMENTS (bad) + 1);

  evl_test_close_loop (loop);
  g_assert_cmpuint (n_notified, ==, G_N_ELEMENTS (bad) + 1);
}

static void
test_closed_loop (void)
{
  EvlLoop *loop;
  GError *error = NULL;
  guint n_notified = 0;

  setup_dispositions ();
  EVL_TEST_NEW_LOOP_OR_SKIP (loop);

  g_assert_true (evl_loop_close (loop, NULL));
  g_assert_false (evl_loop_add_signal_handler (loop, SIGUSR1, never_cb, &n_notified, evl_test_count, &error));
  g_assert_error (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_CLOSED);
  g_clear_error (&error);
  g_assert_cmpuint (n_notified, ==, 1);
  g_assert_false (evl_loop_remove_signal_handler (loop, SIGUSR1));
  g_assert_true (own_handler_installed (SIGUSR1));

  evl_test_close_loop (loop);
}

/* A signal sent from another thread wakes a blocked loop. */
typedef struct
{
  pthread_t target;
  gboolean  directed;      /* pthread_kill the loop's thread, else kill() */
  int       signum;
} Sender;

static gpointer
sender_thread (gpointer user_data)
{
  Sender *s = user_data;

  g_usleep (50 * 1000);
  if (s->directed)
    g_assert_cmpint (pthread_kill (s->target, s->signum), ==, 0);
  else
    g_assert_cmpint (kill (getpid (), s->signum), ==, 0);
  return NULL;
}

static void
check_from_thread (gboolean directed)
{
  EvlLoop *loop;
  Probe p;
  Sender s;
  GThread *thread;
  GError *error = NULL;

  setup_dispositions ();
  EVL_TEST_NEW_LOOP_OR_SKIP (loop);

  probe_init (&p, loop);
  p.stop = TRUE;
  add_handler (&p, SIGUSR1);
  s = (Sender) { pthread_self (), directed, SIGUSR1 };
  thread = g_thread_new ("evl-test-kill", sender_thread, &s);
  /* Nothing scheduled: only the signal can end this run. */
  g_assert_true (evl_loop_run_forever (loop, &error));
  g_assert_no_error (error);
  g_thread_join (thread);
  g_assert_cmpint (p.n_ran, ==, 1);
  g_assert_cmpint (p.n_wrong_thread, ==, 0);

  evl_test_close_loop (loop);
}

static void
test_from_thread_kill (void)
{
  check_from_thread (FALSE);
}

static void
test_from_thread_pthread_kill (void)
{
  check_from_thread (TRUE);
}

/* Loops in two threads handle the same signal: both run their callbacks. */
typedef struct
{
  Probe  probe;
  gint   started;   /* atomic */
} ThreadLoop;

static void
mark_started_cb (gpointer user_data)
{
  ThreadLoop *t = user_data;

  g_atomic_int_set (&t->started, 1);
}

static gpointer
loop_thread (gpointer user_data)
{
  ThreadLoop *t = user_data;
  GError *error = NULL;

  t->probe.thread = g_thread_self ();
  evl_loop_call_soon (t->probe.loop, mark_started_cb, t, NULL);
  g_assert_true (evl_loop_run_forever (t->probe.loop, &error));
  g_assert_no_error (error);
  return NULL;
}

static void
test_two_loops_two_threads (void)
{
  EvlLoop *a, *b;
  ThreadLoop ta, tb;
  GThread *threads[2];

  setup_dispositions ();
  EVL_TEST_NEW_LOOP_OR_SKIP (a);
  b = evl_test_new_loop ();

  probe_init (&ta.probe, a);
  probe_init (&tb.probe, b);
  ta.started = tb.started = 0;
  ta.probe.stop = tb.probe.stop = TRUE;
  add_handler (&ta.probe, SIGUSR2);
  add_handler (&tb.probe, SIGUSR2);

  threads[0] = g_thread_new ("evl-test-loop-a", loop_thread, &ta);
  threads[1] = g_thread_new ("evl-test-loop-b", loop_thread, &tb);
  while (!g_atomic_int_get (&ta.started) || !g_atomic_int_get (&tb.started))
    g_usleep (1000);

  /* One signal, both loops blocked in their own threads. */
  g_assert_cmpint (kill (getpid (), SIGUSR2), ==, 0);
  g_thread_join (threads[0]);
  g_thread_join (threads[1]);

  g_assert_cmpint (ta.probe.n_ran, ==, 1);
  g_assert_cmpint (tb.probe.n_ran, ==, 1);
  g_assert_cmpint (ta.probe.n_wrong_thread, ==, 0);
  g_assert_cmpint (tb.probe.n_wrong_thread, ==, 0);
  g_assert_cmpint (g_atomic_int_get (&own_handler_count[SIGUSR2]), ==, 1);

  /* Removing one loop's handler leaves the other's. Both loops run in
   * this thread from now on. */
  ta.probe.thread = tb.probe.thread = g_thread_self ();
  ta.probe.stop = tb.probe.stop = FALSE;
  g_assert_true (evl_loop_remove_signal_handler (a, SIGUSR2));
  g_assert_false (own_handler_installed (SIGUSR2));
  tb.probe.n_ran = 0;
  g_assert_cmpint (raise (SIGUSR2), ==, 0);
  run_until_ran (&tb.probe);
  evl_test_run_for (a, 0.01);
  g_assert_cmpint (ta.probe.n_ran, ==, 1);

  /* And closing that loop, too. */
  evl_test_close_loop (a);
  tb.probe.n_ran = 0;
  g_assert_cmpint (raise (SIGUSR2), ==, 0);
  run_until_ran (&tb.probe);
  g_assert_cmpint (tb.probe.n_wrong_thread, ==, 0);

  evl_test_close_loop (b);
  g_assert_true (own_handler_installed (SIGUSR2));
  g_assert_cmpint (ta.probe.n_notified, ==, 1);
  g_assert_cmpint (tb.probe.n_notified, ==, 1);
}

/* Many loops on one signal: each one that accepted the handler gets it;
 * one that cannot (the implementation may have a limit) fails cleanly. */
static void
test_many_loops (void)
{
  EvlLoop *loops[12];
  Probe probes[G_N_ELEMENTS (loops)];
  gboolean accepted[G_N_ELEMENTS (loops)];
  guint i, n_accepted = 0;

  setup_dispositions ();
  EVL_TEST_NEW_LOOP_OR_SKIP (loops[0]);
  for (i = 1; i < G_N_ELEMENTS (loops); i++)
    loops[i] = evl_test_new_loop ();

  for (i = 0; i < G_N_ELEMENTS (loops); i++)
    {
      GError *error = NULL;

      probe_init (&probes[i], loops[i]);
      accepted[i] = evl_loop_add_signal_handler (loops[i], SIGUSR1, probe_cb, &probes[i], probe_notify, &error);
      if (accepted[i])
        {
          g_assert_no_error (error);
          n_accepted++;
        }
      else
        {
          g_assert_nonnull (error);
          g_assert_true (error->domain == EVL_LOOP_ERROR);
          g_assert_cmpint (probes[i].n_notified, ==, 1);
          g_clear_error (&error);
        }
    }
  g_test_message ("%u of %u loops took the handler", n_accepted, (guint) G_N_ELEMENTS (loops));
  g_assert_cmpuint (n_accepted, >=, 2);

  g_assert_cmpint (raise (SIGUSR1), ==, 0);
  for (i = 0; i < G_N_ELEMENTS (loops); i++)
    {
      if (accepted[i])
        run_until_ran (&probes[i]);
      else
        {
          evl_test_run_for (loops[i], 0.001);
          g_assert_cmpint (probes[i].n_ran, ==, 0);
        }
    }

  for (i = 0; i < G_N_ELEMENTS (loops); i++)
    {
      evl_test_close_loop (loops[i]);
      g_assert_cmpint (probes[i].n_notified, ==, 1);
    }
  g_assert_true (own_handler_installed (SIGUSR1));
}

static void
check_dropped_with_loop (gboolean finalize)
{
  EvlLoop *loop;
  Probe p1, p2;

  setup_dispositions ();
  EVL_TEST_NEW_LOOP_OR_SKIP (loop);

  probe_init (&p1, loop);
  probe_init (&p2, loop);
  add_handler (&p1, SIGUSR1);
  add_handler (&p2, SIGUSR2);
  /* Caught, not yet dispatched. */
  g_assert_cmpint (raise (SIGUSR1), ==, 0);

  if (finalize)
    {
      g_object_add_weak_pointer (G_OBJECT (loop), (gpointer *) &loop);
      g_object_unref (loop);
      g_assert_null (loop);
    }
  else
    g_assert_true (evl_loop_close (loop, NULL));

  g_assert_cmpint (p1.n_notified, ==, 1);
  g_assert_cmpint (p2.n_notified, ==, 1);
  g_assert_true (own_handler_installed (SIGUSR1));
  g_assert_true (own_handler_installed (SIGUSR2));
  g_assert_false (loop != NULL && evl_loop_remove_signal_handler (loop, SIGUSR1));

  /* Signals after that reach the previous handlers only. */
  g_assert_cmpint (raise (SIGUSR1), ==, 0);
  g_assert_cmpint (raise (SIGUSR2), ==, 0);
  g_assert_cmpint (g_atomic_int_get (&own_handler_count[SIGUSR1]), ==, 2);
  g_assert_cmpint (g_atomic_int_get (&own_handler_count[SIGUSR2]), ==, 1);

  if (!finalize)
    evl_test_close_loop (loop);
  g_assert_cmpint (p1.n_ran + p2.n_ran, ==, 0);
  g_assert_cmpint (p1.n_notified, ==, 1);
  g_assert_cmpint (p2.n_notified, ==, 1);
}

static void
test_close_removes (void)
{
  check_dropped_with_loop (FALSE);
}

static void
test_finalize_removes (void)
{
  check_dropped_with_loop (TRUE);
}

int
main (int   argc,
      char *argv[])
{
  evl_test_init (&argc, &argv);
  evl_test_watchdog_start (50);

  g_test_add_func ("/Evl/Signals/raise", test_raise);
  g_test_add_func ("/Evl/Signals/raise-many", test_raise_many);
  g_test_add_func ("/Evl/Signals/raise-in-callback", test_raise_in_callback);
  g_test_add_func ("/Evl/Signals/replace", test_replace);
  g_test_add_func ("/Evl/Signals/remove", test_remove);
  g_test_add_func ("/Evl/Signals/remove-in-callback", test_remove_in_callback);
  g_test_add_func ("/Evl/Signals/replace-in-callback", test_replace_in_callback);
  g_test_add_func ("/Evl/Signals/restore-disposition", test_restore_disposition);
  g_test_add_func ("/Evl/Signals/chain", test_chain);
  g_test_add_func ("/Evl/Signals/invalid", test_invalid);
  g_test_add_func ("/Evl/Signals/closed-loop", test_closed_loop);
  g_test_add_func ("/Evl/Signals/from-thread/kill", test_from_thread_kill);
  g_test_add_func ("/Evl/Signals/from-thread/pthread-kill", test_from_thread_pthread_kill);
  g_test_add_func ("/Evl/Signals/two-loops-two-threads", test_two_loops_two_threads);
  g_test_add_func ("/Evl/Signals/many-loops", test_many_loops);
  g_test_add_func ("/Evl/Signals/close-removes", test_close_removes);
  g_test_add_func ("/Evl/Signals/finalize-removes", test_finalize_removes);

  return g_test_run ();
}
