/* subprocess.c: child processes with pipe transports, on the loop kind
 * under test, on every platform (the children: evl-test-subprocess-unix.c
 * and -win32.c); the POSIX-only cases at the end
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "evl-test-subprocess.h"

#include <signal.h>
#include <string.h>

/* stdin to stdout through the child (cat), 300 KiB: more than the pipes
 * hold; then exit 0. */
static void
test_cat (void)
{
  EvlLoop *loop;
  char **argv = test_child_argv_cat ();
  EvlSubprocessTransport *t;
  TestSub *sub;
  GError *error = NULL;
  GBytes *data = test_pattern (300 * 1024, 1);
  EvlTransport *in;
  guint before = evl_test_count_fds ();

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  t = test_sub_spawn (loop, (const char * const *) argv, NULL, EVL_SUBPROCESS_STDIO_PIPE,
                      EVL_SUBPROCESS_STDIO_PIPE, EVL_SUBPROCESS_STDIO_PIPE, &sub, &error);
  g_assert_no_error (error);
  test_child_assert_pid (evl_subprocess_transport_get_pid (t));
  g_assert_false (evl_subprocess_transport_has_exited (t));
  in = evl_subprocess_transport_get_pipe_transport (t, 0);
  test_sub_assert_pipe (in);
  test_sub_assert_pipe (evl_subprocess_transport_get_pipe_transport (t, 1));
  test_sub_assert_pipe (evl_subprocess_transport_get_pipe_transport (t, 2));
  g_assert_null (evl_subprocess_transport_get_pipe_transport (t, 3));
  evl_transport_write (in, data);
  evl_transport_write_eof (in);
  test_run_until (loop, &sub->exited);
  g_assert_cmpint (sub->returncode, ==, 0);
  test_run_until (loop, &sub->lost);
  g_assert_cmpuint (sub->pipes_lost, ==, 7);
  g_assert_cmpmem (sub->out[1]->data, sub->out[1]->len,
                   g_bytes_get_data (data, NULL), g_bytes_get_size (data));
  g_assert_cmpuint (sub->out[2]->len, ==, 0);
  test_sub_finish (loop, t, sub);
  g_bytes_unref (data);
  g_strfreev (argv);
  evl_test_close_loop (loop);
  g_assert_cmpuint (evl_test_count_fds (), ==, before);
}

/* The child's exit code, and the pipes that were made: stdin from
 * /dev/null (NUL) has none. */
static void
test_exit_code (void)
{
  EvlLoop *loop;
  char **argv = test_child_argv_exit (7);
  EvlSubprocessTransport *t;
  TestSub *sub;
  GError *error = NULL;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  t = test_sub_spawn (loop, (const char * const *) argv, NULL, EVL_SUBPROCESS_STDIO_DEVNULL,
                      EVL_SUBPROCESS_STDIO_PIPE, EVL_SUBPROCESS_STDIO_PIPE, &sub, &error);
  g_assert_no_error (error);
  g_assert_null (evl_subprocess_transport_get_pipe_transport (t, 0));
  test_run_until (loop, &sub->lost);
  g_assert_cmpint (sub->returncode, ==, 7);
  g_assert_cmpint (evl_subprocess_transport_get_returncode (t), ==, 7);
  g_assert_cmpuint (sub->pipes_lost, ==, 6);
  test_sub_finish (loop, t, sub);
  g_strfreev (argv);
  evl_test_close_loop (loop);
}

/* close() kills a running child, as asyncio does. */
static void
test_close_kills (void)
{
  EvlLoop *loop;
  char **argv = test_child_argv_sleep ();
  EvlSubprocessTransport *t;
  TestSub *sub;
  GError *error = NULL;
  guint before = evl_test_count_fds ();

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  t = test_sub_spawn (loop, (const char * const *) argv, NULL, EVL_SUBPROCESS_STDIO_PIPE,
                      EVL_SUBPROCESS_STDIO_PIPE, EVL_SUBPROCESS_STDIO_PIPE, &sub, &error);
  g_assert_no_error (error);
  evl_transport_close (EVL_TRANSPORT (t));
  g_assert_true (evl_transport_is_closing (EVL_TRANSPORT (t)));
  test_run_until (loop, &sub->lost);
  g_assert_cmpint (sub->returncode, ==, test_child_killed_code ());
  test_sub_finish (loop, t, sub);
  g_strfreev (argv);
  evl_test_close_loop (loop);
  g_assert_cmpuint (evl_test_count_fds (), ==, before);
}

/* Closing the loop under a running child kills and reaps it (waits for
 * it, on Windows). */
static void
test_loop_close (void)
{
  EvlLoop *loop;
  char **argv = test_child_argv_sleep ();
  EvlSubprocessTransport *t;
  TestSub *sub;
  GError *error = NULL;
  guint before = evl_test_count_fds ();

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  t = test_sub_spawn (loop, (const char * const *) argv, NULL, EVL_SUBPROCESS_STDIO_PIPE,
                      EVL_SUBPROCESS_STDIO_PIPE, EVL_SUBPROCESS_STDIO_PIPE, &sub, &error);
  g_assert_no_error (error);
  g_object_unref (t);
  evl_test_close_loop (loop);
  g_assert_true (sub->lost);
  g_assert_cmpint (sub->returncode, ==, test_child_killed_code ());
  g_object_unref (sub);
  g_strfreev (argv);
  g_assert_cmpuint (evl_test_count_fds (), ==, before);
}

#ifndef G_OS_WIN32
/* POSIX only: these run sh, echo and sleep, send POSIX signals and look
 * for a POSIX spawn error (tests/subprocess-win32.c has the Windows
 * versions, with tests/child-win32.c as the child). */

static void
test_shell_exit_code (void)
{
  EvlLoop *loop;
  EvlSubprocessTransport *t;
  TestSub *sub;
  GError *error = NULL;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  t = test_sub_spawn (loop, NULL, "exit 3", EVL_SUBPROCESS_STDIO_DEVNULL, EVL_SUBPROCESS_STDIO_PIPE,
                      EVL_SUBPROCESS_STDIO_PIPE, &sub, &error);
  g_assert_no_error (error);
  g_assert_null (evl_subprocess_transport_get_pipe_transport (t, 0));
  test_run_until (loop, &sub->lost);
  g_assert_cmpint (sub->returncode, ==, 3);
  g_assert_cmpint (evl_subprocess_transport_get_returncode (t), ==, 3);
  g_assert_cmpuint (sub->pipes_lost, ==, 6);
  test_sub_finish (loop, t, sub);
  evl_test_close_loop (loop);
}

static void
test_stderr_and_devnull (void)
{
  EvlLoop *loop;
  EvlSubprocessTransport *t;
  TestSub *sub;
  GError *error = NULL;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  t = test_sub_spawn (loop, NULL, "echo out; echo err >&2; read x || echo no-stdin >&2",
                      EVL_SUBPROCESS_STDIO_DEVNULL, EVL_SUBPROCESS_STDIO_DEVNULL,
                      EVL_SUBPROCESS_STDIO_PIPE, &sub, &error);
  g_assert_no_error (error);
  g_assert_null (evl_subprocess_transport_get_pipe_transport (t, 1));
  test_run_until (loop, &sub->lost);
  g_assert_cmpint (sub->returncode, ==, 0);
  g_assert_cmpuint (sub->out[1]->len, ==, 0);
  g_assert_cmpmem (sub->out[2]->data, sub->out[2]->len, "err\nno-stdin\n", 13);
  test_sub_finish (loop, t, sub);
  evl_test_close_loop (loop);
}

static void
test_signals (void)
{
  EvlLoop *loop;
  const char *argv[] = { "sleep", "1000", NULL };
  EvlSubprocessTransport *t;
  TestSub *sub;
  GError *error = NULL;
  guint round;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  for (round = 0; round < 3; round++)
    {
      t = test_sub_spawn (loop, argv, NULL, EVL_SUBPROCESS_STDIO_DEVNULL, EVL_SUBPROCESS_STDIO_DEVNULL,
                          EVL_SUBPROCESS_STDIO_DEVNULL, &sub, &error);
      g_assert_no_error (error);
      if (round == 0)
        g_assert_true (evl_subprocess_transport_kill (t, &error));
      else if (round == 1)
        g_assert_true (evl_subprocess_transport_terminate (t, &error));
      else
        g_assert_true (evl_subprocess_transport_send_signal (t, SIGINT, &error));
      g_assert_no_error (error);
      test_run_until (loop, &sub->lost);
      g_assert_cmpint (sub->returncode, ==, round == 0 ? -SIGKILL : round == 1 ? -SIGTERM : -SIGINT);
      g_assert_false (evl_subprocess_transport_kill (t, &error));
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
      g_clear_error (&error);
      test_sub_finish (loop, t, sub);
    }
  evl_test_close_loop (loop);
}

static void
test_many (void)
{
  EvlLoop *loop;
  EvlSubprocessTransport *t[20];
  TestSub *sub[20];
  GError *error = NULL;
  guint i, before = evl_test_count_fds ();

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  for (i = 0; i < G_N_ELEMENTS (t); i++)
    {
      char *cmd = g_strdup_printf ("echo %u; exit %u", i, i);

      t[i] = test_sub_spawn (loop, NULL, cmd, EVL_SUBPROCESS_STDIO_PIPE, EVL_SUBPROCESS_STDIO_PIPE,
                             EVL_SUBPROCESS_STDIO_DEVNULL, &sub[i], &error);
      g_assert_no_error (error);
      g_free (cmd);
    }
  for (i = 0; i < G_N_ELEMENTS (t); i++)
    {
      char *line = g_strdup_printf ("%u\n", i);

      test_run_until (loop, &sub[i]->lost);
      g_assert_cmpint (sub[i]->returncode, ==, (int) i);
      g_assert_cmpmem (sub[i]->out[1]->data, sub[i]->out[1]->len, line, strlen (line));
      g_free (line);
      test_sub_finish (loop, t[i], sub[i]);
    }
  evl_test_close_loop (loop);
  g_assert_cmpuint (evl_test_count_fds (), ==, before);
}

static void
test_missing_program (void)
{
  EvlLoop *loop;
  const char *argv[] = { "/nonexistent/evl-no-such-program", NULL };
  EvlSubprocessTransport *t;
  TestSub *sub = NULL;
  GError *error = NULL;
  guint before = evl_test_count_fds ();

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  t = test_sub_spawn (loop, argv, NULL, EVL_SUBPROCESS_STDIO_PIPE, EVL_SUBPROCESS_STDIO_PIPE,
                      EVL_SUBPROCESS_STDIO_PIPE, &sub, &error);
  g_assert_null (t);
  g_assert_null (sub);
  g_assert_true (error->domain == G_SPAWN_ERROR || error->domain == G_IO_ERROR);
  g_clear_error (&error);
  evl_test_close_loop (loop);
  g_assert_cmpuint (evl_test_count_fds (), ==, before);
}
#endif

int
main (int    argc,
      char **argv)
{
  evl_test_init (&argc, &argv);

  g_test_add_func ("/Evl/Subprocess/cat", test_cat);
  g_test_add_func ("/Evl/Subprocess/exit-code", test_exit_code);
  g_test_add_func ("/Evl/Subprocess/close-kills", test_close_kills);
  g_test_add_func ("/Evl/Subprocess/loop-close", test_loop_close);
#ifndef G_OS_WIN32
  g_test_add_func ("/Evl/Subprocess/shell-exit-code", test_shell_exit_code);
  g_test_add_func ("/Evl/Subprocess/stderr-and-devnull", test_stderr_and_devnull);
  g_test_add_func ("/Evl/Subprocess/signals", test_signals);
  g_test_add_func ("/Evl/Subprocess/many", test_many);
  g_test_add_func ("/Evl/Subprocess/missing-program", test_missing_program);
#endif

  return g_test_run ();
}
