/* signals-win32.c: signals on Windows (console control events, SIGTERM)
 *
 * Ctrl+C and Ctrl+Break reach the loop as SIGINT and SIGBREAK through a
 * console control handler; SIGTERM only when the process raises it; other
 * numbers fail with NOT_SUPPORTED. Built on Windows only
 * (tests/meson.build), run on every loop kind.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "evl-test-util.h"

#include <signal.h>
#include <windows.h>

#ifndef SIGBREAK
# define SIGBREAK 21
#endif

static void
got_signal_cb (gpointer data)
{
  gint *hits = data;

  g_atomic_int_inc (hits);
}

/* raise (SIGTERM) runs the handler in the loop, not in the C runtime's
 * handler context. */
static void
test_raise_sigterm (void)
{
  EvlLoop *loop;
  GError *error = NULL;
  gint hits = 0;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  evl_test_watchdog_start (30);
  g_assert_true (evl_loop_add_signal_handler (loop, SIGTERM, got_signal_cb, &hits, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (raise (SIGTERM), ==, 0);
  /* Delivered by the wakeup, not synchronously. */
  g_assert_cmpint (hits, ==, 0);
  g_assert_true (evl_test_run_until_flag (loop, (gboolean *) &hits, 10.0));
  g_assert_cmpint (hits, ==, 1);
  g_assert_true (evl_loop_remove_signal_handler (loop, SIGTERM));

  evl_test_watchdog_cancel ();
  evl_test_close_loop (loop);
}

/* A console control event: Ctrl+Break to our own process group. Under
 * `meson test` there may be no console to send it through: then skip,
 * saying so. */
static void
test_ctrl_break (void)
{
  EvlLoop *loop;
  GError *error = NULL;
  gint hits = 0;

  if (GetConsoleWindow () == NULL && !AllocConsole ())
    {
      g_test_skip ("no console to send a Ctrl+Break through (AllocConsole failed)");
      return;
    }
  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  evl_test_watchdog_start (30);
  g_assert_true (evl_loop_add_signal_handler (loop, SIGBREAK, got_signal_cb, &hits, NULL, &error));
  g_assert_no_error (error);
  if (!GenerateConsoleCtrlEvent (CTRL_BREAK_EVENT, 0))
    {
      g_assert_true (evl_loop_remove_signal_handler (loop, SIGBREAK));
      evl_test_watchdog_cancel ();
      evl_test_close_loop (loop);
      g_test_skip ("GenerateConsoleCtrlEvent (CTRL_BREAK_EVENT) failed: no console process group");
      return;
    }
  g_assert_true (evl_test_run_until_flag (loop, (gboolean *) &hits, 10.0));
  g_assert_cmpint (hits, ==, 1);
  g_assert_true (evl_loop_remove_signal_handler (loop, SIGBREAK));

  evl_test_watchdog_cancel ();
  evl_test_close_loop (loop);
}

/* Numbers Windows cannot deliver are refused, saying which can be. */
static void
test_not_supported (void)
{
  EvlLoop *loop;
  GError *error = NULL;
  gint hits = 0;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  /* 10 is SIGUSR1 on Linux; SIGFPE has no console event either. */
  g_assert_false (evl_loop_add_signal_handler (loop, 10, got_signal_cb, &hits, NULL, &error));
  g_assert_error (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_NOT_SUPPORTED);
  g_test_message ("%s", error->message);
  g_clear_error (&error);
  g_assert_false (evl_loop_add_signal_handler (loop, SIGFPE, got_signal_cb, &hits, NULL, &error));
  g_assert_error (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_NOT_SUPPORTED);
  g_clear_error (&error);
  g_assert_false (evl_loop_add_signal_handler (loop, 0, got_signal_cb, &hits, NULL, &error));
  g_assert_error (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_INVALID);
  g_clear_error (&error);
  evl_test_close_loop (loop);
}

/* Several loops watch SIGTERM: each gets it; past the table's 8 loops per
 * signal a loop is refused (EVL_LOOP_ERROR_FAILED); when the last loop
 * stops watching, the C runtime's disposition is the default again. */
static void
test_many_loops (void)
{
  EvlLoop *loops[9];
  gint hits[G_N_ELEMENTS (loops)];
  GError *error = NULL;
  void (*previous) (int);
  guint i;

  EVL_TEST_NEW_LOOP_OR_SKIP (loops[0]);
  evl_test_watchdog_start (60);
  for (i = 1; i < G_N_ELEMENTS (loops); i++)
    loops[i] = evl_test_new_loop ();
  for (i = 0; i < G_N_ELEMENTS (loops); i++)
    {
      hits[i] = 0;
      if (i < 8)
        {
          g_assert_true (evl_loop_add_signal_handler (loops[i], SIGTERM, got_signal_cb, &hits[i], NULL, &error));
          g_assert_no_error (error);
        }
      else
        {
          g_assert_false (evl_loop_add_signal_handler (loops[i], SIGTERM, got_signal_cb, &hits[i], NULL, &error));
          g_assert_error (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_FAILED);
          g_clear_error (&error);
        }
    }

  g_assert_cmpint (raise (SIGTERM), ==, 0);
  for (i = 0; i < 8; i++)
    {
      g_assert_true (evl_test_run_until_flag (loops[i], (gboolean *) &hits[i], 10.0));
      g_assert_cmpint (hits[i], ==, 1);
    }
  evl_test_run_for (loops[8], 0.001);
  g_assert_cmpint (hits[8], ==, 0);

  for (i = 0; i < 8; i++)
    g_assert_true (evl_loop_remove_signal_handler (loops[i], SIGTERM));
  previous = signal (SIGTERM, SIG_DFL);
  g_assert_true (previous == SIG_DFL);

  for (i = 0; i < G_N_ELEMENTS (loops); i++)
    evl_test_close_loop (loops[i]);
  evl_test_watchdog_cancel ();
}

int
main (int    argc,
      char **argv)
{
  evl_test_init (&argc, &argv);

  g_test_add_func ("/Evl/SignalsWin32/raise-sigterm", test_raise_sigterm);
  g_test_add_func ("/Evl/SignalsWin32/ctrl-break", test_ctrl_break);
  g_test_add_func ("/Evl/SignalsWin32/not-supported", test_not_supported);
  g_test_add_func ("/Evl/SignalsWin32/many-loops", test_many_loops);

  return g_test_run ();
}
