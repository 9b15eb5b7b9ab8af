/* evl-test-util.c: helpers shared by the test programs
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "evl-test-util.h"

#include <stdlib.h>
#include <string.h>

gboolean
evl_test_under_valgrind (void)
{
  return g_getenv ("EVL_TEST_VALGRIND") != NULL;
}

/* valgrind (3.19) does not know that io_uring_enter() blocks: the waiting
 * thread keeps valgrind's big lock, so no other thread (nor a signal
 * handler) runs until the wait ends. The proactor therefore waits in
 * ppoll() under valgrind (evl-uring-backend.c) and runs there;
 * EVL_TEST_VALGRIND_PROACTOR=0 still skips it. */
#define VALGRIND_PROACTOR_SKIP \
  "the io_uring proactor cannot run under valgrind (io_uring_enter() holds valgrind's thread lock)"

static gboolean
proactor_blocked_by_valgrind (void)
{
  return g_str_equal (evl_test_loop_kind (), "proactor") &&
         evl_test_under_valgrind () &&
         g_strcmp0 (g_getenv ("EVL_TEST_VALGRIND_PROACTOR"), "0") == 0;
}

const char *
evl_test_loop_kind (void)
{
  const char *kind = g_getenv ("EVL_TEST_LOOP");
  return kind != NULL && *kind != '\0' ? kind : "selector";
}

EvlLoop *
evl_test_new_loop (void)
{
  const char *kind = evl_test_loop_kind ();

  if (g_str_equal (kind, "proactor"))
    {
      GError *error = NULL;
      EvlLoop *loop;

      if (proactor_blocked_by_valgrind ())
        {
          g_test_skip (VALGRIND_PROACTOR_SKIP);
          return NULL;
        }
      loop = evl_proactor_loop_new (&error);

      if (loop == NULL && g_error_matches (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_NOT_SUPPORTED))
        {
          char *msg = g_strdup_printf ("the proactor loop is not available: %s", error->message);

          g_test_skip (msg);
          g_free (msg);
          g_error_free (error);
          return NULL;
        }
      g_assert_no_error (error);
      g_assert_nonnull (loop);
      return loop;
    }
  g_assert_cmpstr (kind, ==, "selector");
  return evl_selector_loop_new (NULL);
}

void
evl_test_close_loop (EvlLoop *loop)
{
  GError *error = NULL;

  g_assert_true (EVL_IS_LOOP (loop));
  g_assert_true (evl_loop_close (loop, &error));
  g_assert_no_error (error);
  g_object_add_weak_pointer (G_OBJECT (loop), (gpointer *) &loop);
  g_object_unref (loop);
  g_assert_null (loop);
}

void
evl_test_stop_cb (gpointer data)
{
  evl_loop_stop (data);
}

void
evl_test_run_forever (EvlLoop *loop)
{
  GError *error = NULL;

  g_assert_true (evl_loop_run_forever (loop, &error));
  g_assert_no_error (error);
}

void
evl_test_run_once (EvlLoop *loop)
{
  g_assert_nonnull (evl_loop_call_soon (loop, evl_test_stop_cb, loop, NULL));
  evl_test_run_forever (loop);
}

void
evl_test_run_for (EvlLoop *loop,
                  double   seconds)
{
  evl_loop_call_later (loop, seconds, evl_test_stop_cb, loop, NULL);
  evl_test_run_forever (loop);
}

void
evl_test_waiter_init (EvlTestWaiter *w,
                      EvlLoop       *loop)
{
  *w = (EvlTestWaiter) { 0 };
  w->loop = loop;
}

void
evl_test_waiter_cb (GObject      *source,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  EvlTestWaiter *w = user_data;

  g_assert_true (source == G_OBJECT (w->loop));
  g_assert_true (g_async_result_get_user_data (result) == w);
  w->n_calls++;
  g_assert_cmpuint (w->n_calls, ==, 1);
  w->result = g_object_ref (result);
  w->thread = g_thread_self ();
  w->in_loop = evl_get_running_loop () == w->loop;
  w->done = TRUE;
}

void
evl_test_waiter_wait (EvlTestWaiter *w)
{
  g_assert_true (evl_test_run_until_flag (w->loop, &w->done, 30.0));
  g_assert_true (w->thread == g_thread_self ());
}

void
evl_test_waiter_clear (EvlTestWaiter *w)
{
  g_clear_object (&w->result);
}

static void
flag_timeout (gpointer data)
{
  EvlLoop *loop = data;
  evl_loop_stop (loop);
}

typedef struct
{
  EvlLoop   *loop;
  gboolean  *flag;
  EvlHandle *pending;
} FlagPoll;

static void
flag_check (gpointer data)
{
  FlagPoll *fp = data;

  g_clear_pointer (&fp->pending, evl_handle_unref);
  if (g_atomic_int_get (fp->flag))
    evl_loop_stop (fp->loop);
  else
    fp->pending = evl_handle_ref (evl_loop_call_later (fp->loop, 0.001, flag_check, fp, NULL));
}

gboolean
evl_test_run_until_flag (EvlLoop  *loop,
                         gboolean *flag,
                         double    timeout_s)
{
  FlagPoll fp = { loop, flag, NULL };
  EvlHandle *timeout;
  GError *error = NULL;

  if (g_atomic_int_get (flag))
    return TRUE;
  timeout = evl_handle_ref (evl_loop_call_later (loop, timeout_s, flag_timeout, loop, NULL));
  fp.pending = evl_handle_ref (evl_loop_call_soon (loop, flag_check, &fp, NULL));
  evl_loop_run_forever (loop, &error);
  g_assert_no_error (error);
  evl_handle_cancel (timeout);
  evl_handle_unref (timeout);
  if (fp.pending != NULL)
    {
      evl_handle_cancel (fp.pending);
      evl_handle_unref (fp.pending);
    }
  return g_atomic_int_get (flag);
}

void
evl_test_wait_backlog_full (int listener)
{
  /* Readable once a filler's connection sits in the accept queue. Should
   * that never show (10 s), the queue is not taking connections at all,
   * and a connect hangs just the same. */
  if (!evl_test_sock_wait_readable (listener, 10000))
    g_test_message ("the listener's backlog showed no queued connection in 10 s");
}

void
evl_test_count (gpointer data)
{
  g_atomic_int_inc ((gint *) data);
}

void
evl_test_init (int    *argc,
               char ***argv)
{
  g_test_init (argc, argv, NULL);
  evl_test_platform_init ();

  /* The whole program, for test programs that make their loops some
   * other way too: an empty TAP plan marked as skipped. */
  if (proactor_blocked_by_valgrind () && !g_test_subprocess ())
    {
      g_print ("1..0 # SKIP %s\n", VALGRIND_PROACTOR_SKIP);
      exit (0);
    }

  /* Likewise where this build or kernel has no proactor at all: every
   * test of a proactor run would skip, including those that create their
   * loops without evl_test_new_loop(). */
  if (g_str_equal (evl_test_loop_kind (), "proactor") && !g_test_subprocess ())
    {
      GError *error = NULL;
      EvlLoop *loop = evl_proactor_loop_new (&error);

      if (loop == NULL)
        {
          g_print ("1..0 # SKIP the proactor loop is not available: %s\n", error->message);
          g_error_free (error);
          exit (0);
        }
      evl_loop_close (loop, NULL);
      g_object_unref (loop);
    }
}
