/* policy.c: tests of event-loop policies and the module-level loop functions
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <evloop-glib/evloop-glib.h>

#include "evl-test-util.h"

#include <string.h>

#define N_THREADS 4

/* Helpers ---------------------------------------------------------------- */

static void
close_loop (EvlLoop *loop)
{
  GError *error = NULL;

  g_assert_true (evl_loop_close (loop, &error));
  g_assert_no_error (error);
}

/* Restores a fresh default policy, so that every test starts clean. Tests
 * close the loops they made or got before calling it. */
static void
reset_policy (void)
{
  evl_set_event_loop_policy (NULL);
}

/* Runs @func in a new thread and waits for it. */
static gpointer
run_in_thread (GThreadFunc func,
               gpointer    data)
{
  GThread *thread = g_thread_new ("evl-test", func, data);

  return g_thread_join (thread);
}

/* Default policy, main thread -------------------------------------------- */

static void
test_default_policy (void)
{
  EvlLoopPolicy *policy = evl_get_event_loop_policy ();

  g_assert_true (EVL_IS_DEFAULT_LOOP_POLICY (policy));
  g_assert_true (evl_get_event_loop_policy () == policy);

  reset_policy ();
}

static void
test_main_thread_get (void)
{
  GError *error = NULL;
  EvlLoop *loop, *again;
  GWeakRef weak;

  loop = evl_get_event_loop (&error);
  g_assert_no_error (error);
  g_assert_true (EVL_IS_LOOP (loop));
  g_assert_true (EVL_IS_SELECTOR_LOOP (loop));

  again = evl_get_event_loop (&error);
  g_assert_no_error (error);
  g_assert_true (again == loop);

  again = evl_loop_policy_get_event_loop (evl_get_event_loop_policy (), &error);
  g_assert_no_error (error);
  g_assert_true (again == loop);

  /* The main thread's loop drives the global-default context. */
  g_assert_true (evl_loop_get_context (loop) == g_main_context_default ());

  /* A closed loop stays the thread's loop, as in asyncio. */
  close_loop (loop);
  again = evl_get_event_loop (&error);
  g_assert_no_error (error);
  g_assert_true (again == loop);

  /* The policy owns it: replacing the policy drops it. */
  g_weak_ref_init (&weak, loop);
  reset_policy ();
  g_assert_null (g_weak_ref_get (&weak));
  g_weak_ref_clear (&weak);
}

static void
test_main_thread_set (void)
{
  GError *error = NULL;
  EvlLoop *loop = evl_new_event_loop ();
  EvlLoop *got;

  evl_set_event_loop (loop);
  got = evl_get_event_loop (&error);
  g_assert_no_error (error);
  g_assert_true (got == loop);

  /* As in asyncio: once unset explicitly, no loop is created on demand. */
  evl_set_event_loop (NULL);
  got = evl_get_event_loop (&error);
  g_assert_error (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_NO_LOOP);
  g_assert_null (got);
  g_clear_error (&error);

  close_loop (loop);
  g_object_unref (loop);
  reset_policy ();
}

static void
test_new_event_loop (void)
{
  EvlLoop *a = evl_new_event_loop ();
  EvlLoop *b = evl_new_event_loop ();
  EvlLoop *c = evl_loop_policy_new_event_loop (evl_get_event_loop_policy ());
  GWeakRef wa, wb, wc;

  g_assert_true (EVL_IS_LOOP (a));
  g_assert_true (EVL_IS_LOOP (b));
  g_assert_true (EVL_IS_LOOP (c));
  g_assert_true (a != b);
  g_assert_true (b != c);
  g_assert_true (a != c);
  g_assert_false (evl_loop_is_closed (a));
  g_assert_false (evl_loop_is_running (a));
  g_assert_true (evl_loop_get_context (a) == g_main_context_default ());

  /* transfer full: ours alone, gone after one unref */
  g_weak_ref_init (&wa, a);
  g_weak_ref_init (&wb, b);
  g_weak_ref_init (&wc, c);
  close_loop (a);
  close_loop (b);
  close_loop (c);
  g_object_unref (a);
  g_object_unref (b);
  g_object_unref (c);
  g_assert_null (g_weak_ref_get (&wa));
  g_assert_null (g_weak_ref_get (&wb));
  g_assert_null (g_weak_ref_get (&wc));
  g_weak_ref_clear (&wa);
  g_weak_ref_clear (&wb);
  g_weak_ref_clear (&wc);

  reset_policy ();
}

/* Other threads ---------------------------------------------------------- */

static gpointer
no_loop_thread (gpointer data)
{
  EvlLoopPolicy *policy = data;
  GError *error = NULL;
  EvlLoop *loop;

  loop = evl_get_event_loop (&error);
  g_assert_error (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_NO_LOOP);
  g_assert_null (loop);
  g_assert_nonnull (strstr (error->message, "evl_set_event_loop"));
  g_assert_nonnull (strstr (error->message, "evl_new_event_loop"));
  g_clear_error (&error);

  loop = evl_loop_policy_get_event_loop (policy, &error);
  g_assert_error (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_NO_LOOP);
  g_assert_null (loop);
  g_clear_error (&error);

  return GINT_TO_POINTER (TRUE);
}

static void
test_other_thread_no_loop (void)
{
  EvlLoopPolicy *policy = evl_get_event_loop_policy ();
  EvlLoop *main_loop;

  g_assert_true (run_in_thread (no_loop_thread, policy));

  /* Even when the main thread has one. */
  main_loop = evl_get_event_loop (NULL);
  g_assert_nonnull (main_loop);
  g_assert_true (run_in_thread (no_loop_thread, policy));
  close_loop (main_loop);

  reset_policy ();
}

static gpointer
set_loop_thread (gpointer data)
{
  GError *error = NULL;
  EvlLoop *loop = evl_new_event_loop ();
  GMainContext *context;
  EvlLoop *got;
  GWeakRef weak;

  g_assert_true (EVL_IS_LOOP (loop));
  /* A loop made in another thread drives a context of its own. */
  context = evl_loop_get_context (loop);
  g_assert_nonnull (context);
  g_assert_true (context != g_main_context_default ());

  evl_set_event_loop (loop);
  got = evl_get_event_loop (&error);
  g_assert_no_error (error);
  g_assert_true (got == loop);

  /* The policy keeps its own reference. */
  g_weak_ref_init (&weak, loop);
  g_object_unref (loop);
  got = evl_get_event_loop (&error);
  g_assert_no_error (error);
  g_assert_true (got == loop);

  /* Unset: back to NO_LOOP, and the policy dropped the loop. */
  close_loop (loop);
  evl_set_event_loop (NULL);
  g_assert_null (g_weak_ref_get (&weak));
  g_weak_ref_clear (&weak);
  got = evl_get_event_loop (&error);
  g_assert_error (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_NO_LOOP);
  g_assert_null (got);
  g_clear_error (&error);

  return GINT_TO_POINTER (TRUE);
}

static void
test_other_thread_set (void)
{
  g_assert_true (run_in_thread (set_loop_thread, NULL));
  reset_policy ();
}

/* Four threads, each with its own loop, all alive at the same time. */
typedef struct
{
  GMutex    lock;
  GCond     cond;
  guint     n_ready;
  EvlLoop  *loops[N_THREADS];
  GMainContext *contexts[N_THREADS];
  GWeakRef  weak[N_THREADS];
  guint     next_index;
} PerThread;

static gpointer
per_thread_func (gpointer data)
{
  PerThread *pt = data;
  GError *error = NULL;
  EvlLoop *loop = evl_new_event_loop ();
  guint index;

  evl_set_event_loop (loop);
  g_object_unref (loop);
  g_assert_true (evl_get_event_loop (&error) == loop);
  g_assert_no_error (error);

  /* Compared here, while both are alive (addresses get reused). */
  g_assert_nonnull (evl_loop_get_context (loop));
  g_assert_true (evl_loop_get_context (loop) != g_main_context_default ());

  g_mutex_lock (&pt->lock);
  index = pt->next_index++;
  pt->loops[index] = loop;
  pt->contexts[index] = evl_loop_get_context (loop);
  g_weak_ref_init (&pt->weak[index], loop);
  pt->n_ready++;
  g_cond_broadcast (&pt->cond);
  while (pt->n_ready < N_THREADS)
    g_cond_wait (&pt->cond, &pt->lock);
  g_mutex_unlock (&pt->lock);

  /* Still ours while the others have theirs. */
  g_assert_true (evl_get_event_loop (&error) == loop);
  g_assert_no_error (error);

  close_loop (loop);
  /* The thread exits with the loop still set: the policy must drop it. */
  return GINT_TO_POINTER (TRUE);
}

static void
test_per_thread (void)
{
  PerThread pt = { 0 };
  GThread *threads[N_THREADS];
  guint i, j;

  g_mutex_init (&pt.lock);
  g_cond_init (&pt.cond);

  for (i = 0; i < N_THREADS; i++)
    threads[i] = g_thread_new ("evl-per-thread", per_thread_func, &pt);
  for (i = 0; i < N_THREADS; i++)
    g_assert_true (g_thread_join (threads[i]));

  g_assert_cmpuint (pt.n_ready, ==, N_THREADS);
  for (i = 0; i < N_THREADS; i++)
    {
      g_assert_nonnull (pt.loops[i]);
      /* Recorded while all were alive, so distinct addresses. */
      for (j = i + 1; j < N_THREADS; j++)
        {
          g_assert_true (pt.loops[i] != pt.loops[j]);
          g_assert_true (pt.contexts[i] != pt.contexts[j]);
        }
      /* Released when its thread exited. */
      g_assert_null (g_weak_ref_get (&pt.weak[i]));
      g_weak_ref_clear (&pt.weak[i]);
    }

  g_mutex_clear (&pt.lock);
  g_cond_clear (&pt.cond);
  reset_policy ();
}

/* A thread that exits after the policy holding its loop died. */
typedef struct
{
  GMutex         lock;
  GCond          cond;
  int            stage;
  EvlLoopPolicy *policy;
  GWeakRef       weak;
} Survivor;

static gpointer
survivor_func (gpointer data)
{
  Survivor *s = data;
  EvlLoop *loop = evl_new_event_loop ();

  evl_loop_policy_set_event_loop (s->policy, loop);
  g_weak_ref_init (&s->weak, loop);
  g_object_unref (loop);

  g_mutex_lock (&s->lock);
  s->stage = 1;
  g_cond_broadcast (&s->cond);
  while (s->stage < 2)
    g_cond_wait (&s->cond, &s->lock);
  g_mutex_unlock (&s->lock);

  return GINT_TO_POINTER (TRUE);
}

static void
test_thread_exit_after_policy (void)
{
  Survivor s = { 0 };
  GThread *thread;
  EvlLoop *loop;

  g_mutex_init (&s.lock);
  g_cond_init (&s.cond);
  s.policy = evl_default_loop_policy_new ();

  thread = g_thread_new ("evl-survivor", survivor_func, &s);
  g_mutex_lock (&s.lock);
  while (s.stage < 1)
    g_cond_wait (&s.cond, &s.lock);
  g_mutex_unlock (&s.lock);

  /* The policy dies first, dropping the thread's loop... */
  loop = g_weak_ref_get (&s.weak);
  g_assert_nonnull (loop);
  close_loop (loop);
  g_object_unref (loop);
  g_clear_object (&s.policy);
  g_assert_null (g_weak_ref_get (&s.weak));

  /* ...then the thread exits. */
  g_mutex_lock (&s.lock);
  s.stage = 2;
  g_cond_broadcast (&s.cond);
  g_mutex_unlock (&s.lock);
  g_assert_true (g_thread_join (thread));

  g_weak_ref_clear (&s.weak);
  g_mutex_clear (&s.lock);
  g_cond_clear (&s.cond);
  reset_policy ();
}

/* Many threads hammering the module functions at once. */
static gpointer
stress_func (gpointer data)
{
  guint n = GPOINTER_TO_UINT (data);
  guint i;

  for (i = 0; i < n; i++)
    {
      GError *error = NULL;
      EvlLoop *loop = evl_new_event_loop ();

      g_assert_true (EVL_IS_DEFAULT_LOOP_POLICY (evl_get_event_loop_policy ()));
      evl_set_event_loop (loop);
      g_assert_true (evl_get_event_loop (&error) == loop);
      g_assert_no_error (error);
      close_loop (loop);
      if (i % 2 == 0)
        evl_set_event_loop (NULL);
      g_object_unref (loop);
    }

  return GINT_TO_POINTER (TRUE);
}

static void
test_threads_concurrent (void)
{
  GThread *threads[8];
  guint n = g_getenv ("EVL_TEST_VALGRIND") != NULL ? 5 : 50;
  guint i;

  for (i = 0; i < G_N_ELEMENTS (threads); i++)
    threads[i] = g_thread_new ("evl-stress", stress_func, GUINT_TO_POINTER (n));
  for (i = 0; i < G_N_ELEMENTS (threads); i++)
    g_assert_true (g_thread_join (threads[i]));

  reset_policy ();
}

/* The running loop wins -------------------------------------------------- */

typedef struct
{
  EvlLoop *loop;
  EvlLoop *seen;
} RunningCheck;

static void
running_cb (gpointer data)
{
  RunningCheck *rc = data;
  GError *error = NULL;

  rc->seen = evl_get_event_loop (&error);
  g_assert_no_error (error);
  g_assert_true (evl_get_running_loop () == rc->loop);
  evl_loop_stop (rc->loop);
}

static void
test_running_loop (void)
{
  RunningCheck rc = { 0 };
  GError *error = NULL;
  EvlLoop *current = evl_get_event_loop (&error);

  g_assert_no_error (error);
  g_assert_null (evl_get_running_loop ());

  rc.loop = evl_new_event_loop ();
  g_assert_true (rc.loop != current);
  evl_loop_call_soon (rc.loop, running_cb, &rc, NULL);
  g_assert_true (evl_loop_run_forever (rc.loop, &error));
  g_assert_no_error (error);
  g_assert_true (rc.seen == rc.loop);

  g_assert_null (evl_get_running_loop ());
  g_assert_true (evl_get_event_loop (&error) == current);
  g_assert_no_error (error);

  close_loop (rc.loop);
  g_object_unref (rc.loop);
  close_loop (current);
  reset_policy ();
}

/* A custom policy -------------------------------------------------------- */

typedef enum
{
  TEST_MODE_LOOP,
  TEST_MODE_NULL,
  TEST_MODE_ERROR,
} TestMode;

#define TEST_TYPE_POLICY (test_policy_get_type ())
G_DECLARE_FINAL_TYPE (TestPolicy, test_policy, TEST, POLICY, EvlLoopPolicy)

struct _TestPolicy
{
  EvlLoopPolicy parent_instance;

  TestMode  mode;
  EvlLoop  *loop;
  guint     n_get;
  guint     n_set;
  guint     n_new;
};

G_DEFINE_TYPE (TestPolicy, test_policy, EVL_TYPE_LOOP_POLICY)

static EvlLoop *
test_policy_get_event_loop (EvlLoopPolicy  *policy,
                            GError        **error)
{
  TestPolicy *self = TEST_POLICY (policy);

  self->n_get++;
  switch (self->mode)
    {
    case TEST_MODE_LOOP:
      return self->loop;

    case TEST_MODE_NULL:
      return NULL;

    case TEST_MODE_ERROR:
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED, "no loop for you");
      return NULL;

    default:
      g_assert_not_reached ();
    }
}

static void
test_policy_set_event_loop (EvlLoopPolicy *policy,
                            EvlLoop       *loop)
{
  TestPolicy *self = TEST_POLICY (policy);

  self->n_set++;
  g_set_object (&self->loop, loop);
}

static EvlLoop *
test_policy_new_event_loop (EvlLoopPolicy *policy)
{
  TestPolicy *self = TEST_POLICY (policy);

  self->n_new++;
  return evl_selector_loop_new (NULL);
}

static void
test_policy_finalize (GObject *object)
{
  TestPolicy *self = TEST_POLICY (object);

  g_clear_object (&self->loop);

  G_OBJECT_CLASS (test_policy_parent_class)->finalize (object);
}

static void
test_policy_class_init (TestPolicyClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  EvlLoopPolicyClass *policy_class = EVL_LOOP_POLICY_CLASS (klass);

  object_class->finalize = test_policy_finalize;
  policy_class->get_event_loop = test_policy_get_event_loop;
  policy_class->set_event_loop = test_policy_set_event_loop;
  policy_class->new_event_loop = test_policy_new_event_loop;
}

static void
test_policy_init (TestPolicy *self)
{
}

static void
test_custom_policy (void)
{
  TestPolicy *policy = g_object_new (TEST_TYPE_POLICY, NULL);
  GError *error = NULL;
  EvlLoop *loop;
  GWeakRef weak;

  g_weak_ref_init (&weak, policy);
  evl_set_event_loop_policy (EVL_LOOP_POLICY (policy));
  g_assert_true (evl_get_event_loop_policy () == EVL_LOOP_POLICY (policy));
  /* The library keeps its own reference. */
  g_object_unref (policy);
  g_assert_true (evl_get_event_loop_policy () == EVL_LOOP_POLICY (policy));

  loop = evl_new_event_loop ();
  g_assert_true (EVL_IS_SELECTOR_LOOP (loop));
  g_assert_cmpuint (policy->n_new, ==, 1);

  evl_set_event_loop (loop);
  g_assert_cmpuint (policy->n_set, ==, 1);
  g_assert_true (policy->loop == loop);

  g_assert_true (evl_get_event_loop (&error) == loop);
  g_assert_no_error (error);
  g_assert_cmpuint (policy->n_get, ==, 1);

  evl_set_event_loop (NULL);
  g_assert_cmpuint (policy->n_set, ==, 2);
  g_assert_null (policy->loop);

  close_loop (loop);
  g_object_unref (loop);

  /* Replacing the policy drops the library's reference. */
  reset_policy ();
  g_assert_null (g_weak_ref_get (&weak));
  g_weak_ref_clear (&weak);
  g_assert_true (EVL_IS_DEFAULT_LOOP_POLICY (evl_get_event_loop_policy ()));
  reset_policy ();
}

static void
test_custom_policy_no_loop (void)
{
  TestPolicy *policy = g_object_new (TEST_TYPE_POLICY, NULL);
  GError *error = NULL;

  evl_set_event_loop_policy (EVL_LOOP_POLICY (policy));

  /* NULL without an error: NO_LOOP. */
  policy->mode = TEST_MODE_NULL;
  g_assert_null (evl_get_event_loop (&error));
  g_assert_error (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_NO_LOOP);
  g_clear_error (&error);
  g_assert_null (evl_loop_policy_get_event_loop (EVL_LOOP_POLICY (policy), &error));
  g_assert_error (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_NO_LOOP);
  g_clear_error (&error);
  /* and without an error location */
  g_assert_null (evl_get_event_loop (NULL));

  /* NULL with an error: that error. */
  policy->mode = TEST_MODE_ERROR;
  g_assert_null (evl_get_event_loop (&error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED);
  g_clear_error (&error);

  /* Also in another thread */
  policy->mode = TEST_MODE_NULL;
  g_assert_true (run_in_thread (no_loop_thread, policy));

  g_assert_cmpuint (policy->n_get, ==, 6);

  g_object_unref (policy);
  reset_policy ();
}

static void
test_restore_default (void)
{
  TestPolicy *custom = g_object_new (TEST_TYPE_POLICY, NULL);
  EvlLoopPolicy *first, *second;

  first = evl_get_event_loop_policy ();
  g_assert_true (EVL_IS_DEFAULT_LOOP_POLICY (first));

  evl_set_event_loop_policy (EVL_LOOP_POLICY (custom));
  g_object_unref (custom);
  g_assert_true (TEST_IS_POLICY (evl_get_event_loop_policy ()));

  evl_set_event_loop_policy (NULL);
  second = evl_get_event_loop_policy ();
  g_assert_true (EVL_IS_DEFAULT_LOOP_POLICY (second));
  g_assert_true (evl_get_event_loop_policy () == second);

  /* A default policy set explicitly is kept as is. */
  first = evl_default_loop_policy_new ();
  evl_set_event_loop_policy (first);
  g_assert_true (evl_get_event_loop_policy () == first);
  g_object_unref (first);

  reset_policy ();
}

/* loop-type -------------------------------------------------------------- */

static void
count_notify (GObject    *object,
              GParamSpec *pspec,
              gpointer    user_data)
{
  guint *count = user_data;

  (*count)++;
}

static void
test_loop_type (void)
{
  EvlLoopPolicy *policy;
  EvlDefaultLoopPolicy *dpolicy;
  GType loop_type = G_TYPE_INVALID;
  guint n_notify = 0;
  EvlLoop *loop;

  policy = evl_default_loop_policy_new ();
  dpolicy = EVL_DEFAULT_LOOP_POLICY (policy);
  g_signal_connect (policy, "notify::loop-type", G_CALLBACK (count_notify), &n_notify);

  g_assert_true (evl_default_loop_policy_get_loop_type (dpolicy) == EVL_TYPE_SELECTOR_LOOP);
  g_object_get (policy, "loop-type", &loop_type, NULL);
  g_assert_true (loop_type == EVL_TYPE_SELECTOR_LOOP);

  /* Same value: no notification. */
  evl_default_loop_policy_set_loop_type (dpolicy, EVL_TYPE_SELECTOR_LOOP);
  g_object_set (policy, "loop-type", EVL_TYPE_SELECTOR_LOOP, NULL);
  g_assert_cmpuint (n_notify, ==, 0);

  g_object_set (policy, "loop-type", EVL_TYPE_PROACTOR_LOOP, NULL);
  g_assert_cmpuint (n_notify, ==, 1);
  g_assert_true (evl_default_loop_policy_get_loop_type (dpolicy) == EVL_TYPE_PROACTOR_LOOP);
  evl_default_loop_policy_set_loop_type (dpolicy, EVL_TYPE_SELECTOR_LOOP);
  g_assert_cmpuint (n_notify, ==, 2);
  g_object_get (policy, "loop-type", &loop_type, NULL);
  g_assert_true (loop_type == EVL_TYPE_SELECTOR_LOOP);

  loop = evl_loop_policy_new_event_loop (policy);
  g_assert_true (EVL_IS_SELECTOR_LOOP (loop));
  close_loop (loop);
  g_object_unref (loop);

  g_object_unref (policy);
}

/* NULL if a proactor loop can be made here, else why not (free it). */
static char *
proactor_unavailable (void)
{
  GError *error = NULL;
  EvlLoop *probe = evl_proactor_loop_new (&error);
  char *reason;

  if (probe != NULL)
    {
      g_assert_no_error (error);
      close_loop (probe);
      g_object_unref (probe);
      return NULL;
    }

  g_assert_nonnull (error);
  reason = g_strdup_printf ("the proactor loop is unavailable: %s", error->message);
  g_error_free (error);
  return reason;
}

/* The proactor loop, or the selector loop when io_uring is unavailable. */
static void
check_proactor_policy (EvlLoopPolicy *policy)
{
  char *unavailable = proactor_unavailable ();
  EvlLoop *loop;

  g_assert_true (evl_default_loop_policy_get_loop_type (EVL_DEFAULT_LOOP_POLICY (policy)) == EVL_TYPE_PROACTOR_LOOP);

  loop = evl_loop_policy_new_event_loop (policy);
  g_assert_true (EVL_IS_LOOP (loop));
  g_assert_true (evl_loop_get_context (loop) == g_main_context_default ());
  if (unavailable != NULL)
    g_assert_true (EVL_IS_SELECTOR_LOOP (loop));  /* the fallback */
  else
    g_assert_true (EVL_IS_PROACTOR_LOOP (loop));
  close_loop (loop);
  g_object_unref (loop);
  g_free (unavailable);
}

static void
skip_if_no_proactor (void)
{
  char *unavailable = proactor_unavailable ();

  if (unavailable != NULL)
    g_test_skip (unavailable);
  g_free (unavailable);
}

static void
test_loop_type_proactor (void)
{
  EvlLoopPolicy *policy = evl_default_loop_policy_new ();

  evl_default_loop_policy_set_loop_type (EVL_DEFAULT_LOOP_POLICY (policy), EVL_TYPE_PROACTOR_LOOP);
  check_proactor_policy (policy);
  g_object_unref (policy);
  skip_if_no_proactor ();
}

static void
test_loop_type_env (void)
{
  EvlLoopPolicy *policy;
  EvlLoop *loop;

  if (!g_test_subprocess ())
    {
      /* setenv() is unsafe once threads exist, and earlier tests made some:
       * run the checks in a fresh process. */
      g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_INHERIT_STDERR);
      g_test_trap_assert_passed ();
      skip_if_no_proactor ();
      return;
    }

  g_setenv ("EVL_LOOP", "selector", TRUE);
  policy = evl_default_loop_policy_new ();
  g_assert_true (evl_default_loop_policy_get_loop_type (EVL_DEFAULT_LOOP_POLICY (policy)) == EVL_TYPE_SELECTOR_LOOP);
  loop = evl_loop_policy_new_event_loop (policy);
  g_assert_true (EVL_IS_SELECTOR_LOOP (loop));
  close_loop (loop);
  g_object_unref (loop);
  g_object_unref (policy);

  /* The variable is read when a policy is created, the global one included. */
  g_setenv ("EVL_LOOP", "proactor", TRUE);
  evl_set_event_loop_policy (NULL);
  policy = evl_get_event_loop_policy ();
  g_unsetenv ("EVL_LOOP");
  check_proactor_policy (policy);
  reset_policy ();
}

/* GMainContext of the loops ---------------------------------------------- */

static gpointer
context_thread (gpointer data)
{
  EvlLoop *loop = evl_new_event_loop ();
  EvlLoop *other = evl_new_event_loop ();
  GMainContext *context = evl_loop_get_context (loop);

  g_assert_nonnull (context);
  g_assert_true (context != g_main_context_default ());
  /* Each loop made in a thread gets a fresh context. */
  g_assert_nonnull (evl_loop_get_context (other));
  g_assert_true (evl_loop_get_context (other) != context);

  close_loop (loop);
  close_loop (other);
  g_object_unref (loop);
  g_object_unref (other);
  return GINT_TO_POINTER (TRUE);
}

static void
test_contexts (void)
{
  GError *error = NULL;
  EvlLoop *loop = evl_new_event_loop ();
  EvlLoop *current;

  g_assert_true (evl_loop_get_context (loop) == g_main_context_default ());
  close_loop (loop);
  g_object_unref (loop);

  current = evl_get_event_loop (&error);
  g_assert_no_error (error);
  g_assert_true (evl_loop_get_context (current) == g_main_context_default ());
  close_loop (current);

  g_assert_true (run_in_thread (context_thread, NULL));
  reset_policy ();
}

int
main (int   argc,
      char *argv[])
{
  evl_test_init (&argc, &argv);
  evl_test_watchdog_start (50);

  /* The tests choose the loop kind themselves. */
  g_unsetenv ("EVL_LOOP");

  g_test_add_func ("/Evl/Policy/default", test_default_policy);
  g_test_add_func ("/Evl/Policy/main-thread/get", test_main_thread_get);
  g_test_add_func ("/Evl/Policy/main-thread/set", test_main_thread_set);
  g_test_add_func ("/Evl/Policy/new-event-loop", test_new_event_loop);
  g_test_add_func ("/Evl/Policy/other-thread/no-loop", test_other_thread_no_loop);
  g_test_add_func ("/Evl/Policy/other-thread/set", test_other_thread_set);
  g_test_add_func ("/Evl/Policy/per-thread", test_per_thread);
  g_test_add_func ("/Evl/Policy/thread-exit-after-policy", test_thread_exit_after_policy);
  g_test_add_func ("/Evl/Policy/threads-concurrent", test_threads_concurrent);
  g_test_add_func ("/Evl/Policy/running-loop", test_running_loop);
  g_test_add_func ("/Evl/Policy/custom", test_custom_policy);
  g_test_add_func ("/Evl/Policy/custom/no-loop", test_custom_policy_no_loop);
  g_test_add_func ("/Evl/Policy/restore-default", test_restore_default);
  g_test_add_func ("/Evl/Policy/loop-type", test_loop_type);
  g_test_add_func ("/Evl/Policy/loop-type/proactor", test_loop_type_proactor);
  g_test_add_func ("/Evl/Policy/loop-type/env", test_loop_type_env);
  g_test_add_func ("/Evl/Policy/contexts", test_contexts);

  return g_test_run ();
}
