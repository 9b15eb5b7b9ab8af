/* subprocess-win32.c: what only Windows has of child processes with pipe
 * transports, on the loop kind under test (tests/subprocess.c has the
 * cases of every platform): its signals, command lines, %COMSPEC%, the
 * HANDLEs a child inherits. The child is tests/child-win32.c, built next
 * to this program.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "evl-test-subprocess.h"

#include <signal.h>
#include <string.h>

#include <windows.h>

/* stderr as a pipe, stdin and stdout from and to NUL. */
static void
test_stderr_and_devnull (void)
{
  EvlLoop *loop;
  char **argv = test_child_argv ("stderr", "err ", NULL);
  EvlSubprocessTransport *t;
  TestSub *sub;
  GError *error = NULL;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  t = test_sub_spawn (loop, (const char * const *) argv, NULL, EVL_SUBPROCESS_STDIO_DEVNULL,
                      EVL_SUBPROCESS_STDIO_DEVNULL, EVL_SUBPROCESS_STDIO_PIPE, &sub, &error);
  g_assert_no_error (error);
  g_assert_null (evl_subprocess_transport_get_pipe_transport (t, 1));
  test_run_until (loop, &sub->lost);
  g_assert_cmpint (sub->returncode, ==, 0);
  g_assert_cmpuint (sub->out[1]->len, ==, 0);
  g_assert_cmpmem (sub->out[2]->data, sub->out[2]->len, "err eof", 7);
  test_sub_finish (loop, t, sub);
  g_strfreev (argv);
  evl_test_close_loop (loop);
}

/* Arguments reach the child exactly as given: the command line is quoted
 * for the C runtime's parser. */
static void
test_args (void)
{
  static const char *args[] = {
    "plain", "", "two words", "tab\there", "quote\"inside", "\"quoted\"",
    "back\\slash", "trailing\\", "trailing space\\", "\\\\server\\share\\",
    "\\\"", "a\\\\\"b", "new\nline", "ünïcödé €", "%PATH%", "^&|<>", "*?",
  };
  EvlLoop *loop;
  GPtrArray *a = g_ptr_array_new_with_free_func (g_free);
  EvlSubprocessTransport *t;
  TestSub *sub;
  GError *error = NULL;
  GString *expected = g_string_new (NULL);
  guint i;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  g_ptr_array_add (a, test_child_path ());
  g_ptr_array_add (a, g_strdup ("args"));
  for (i = 0; i < G_N_ELEMENTS (args); i++)
    {
      g_ptr_array_add (a, g_strdup (args[i]));
      g_string_append_len (expected, args[i], strlen (args[i]) + 1);
    }
  g_ptr_array_add (a, NULL);
  t = test_sub_spawn (loop, (const char * const *) a->pdata, NULL, EVL_SUBPROCESS_STDIO_DEVNULL,
                      EVL_SUBPROCESS_STDIO_PIPE, EVL_SUBPROCESS_STDIO_DEVNULL, &sub, &error);
  g_assert_no_error (error);
  test_run_until (loop, &sub->lost);
  g_assert_cmpint (sub->returncode, ==, 0);
  g_assert_cmpmem (sub->out[1]->data, sub->out[1]->len, expected->str, expected->len);
  test_sub_finish (loop, t, sub);
  g_string_free (expected, TRUE);
  g_ptr_array_unref (a);
  evl_test_close_loop (loop);
}

/* _shell runs the command through %COMSPEC% /c. */
static void
test_shell (void)
{
  EvlLoop *loop;
  EvlSubprocessTransport *t;
  TestSub *sub;
  GError *error = NULL;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  t = test_sub_spawn (loop, NULL, "echo hello& exit 3", EVL_SUBPROCESS_STDIO_DEVNULL,
                      EVL_SUBPROCESS_STDIO_PIPE, EVL_SUBPROCESS_STDIO_PIPE, &sub, &error);
  g_assert_no_error (error);
  test_run_until (loop, &sub->lost);
  g_assert_cmpint (sub->returncode, ==, 3);
  g_assert_cmpmem (sub->out[1]->data, sub->out[1]->len, "hello\r\n", 7);
  test_sub_finish (loop, t, sub);
  evl_test_close_loop (loop);
}

/* terminate() and kill() end the child with TerminateProcess (return code
 * 1, as Python's); other signals are not supported. */
static void
test_signals (void)
{
  EvlLoop *loop;
  char **argv = test_child_argv ("sleep", NULL);
  EvlSubprocessTransport *t;
  TestSub *sub;
  GError *error = NULL;
  guint round;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  for (round = 0; round < 2; round++)
    {
      t = test_sub_spawn (loop, (const char * const *) argv, NULL, EVL_SUBPROCESS_STDIO_DEVNULL,
                          EVL_SUBPROCESS_STDIO_DEVNULL, EVL_SUBPROCESS_STDIO_DEVNULL, &sub, &error);
      g_assert_no_error (error);
      g_assert_false (evl_subprocess_transport_send_signal (t, SIGINT, &error));
      g_assert_error (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_NOT_SUPPORTED);
      g_clear_error (&error);
      if (round == 0)
        g_assert_true (evl_subprocess_transport_kill (t, &error));
      else
        g_assert_true (evl_subprocess_transport_terminate (t, &error));
      g_assert_no_error (error);
      test_run_until (loop, &sub->lost);
      g_assert_cmpint (sub->returncode, ==, 1);
      g_assert_false (evl_subprocess_transport_kill (t, &error));
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
      g_clear_error (&error);
      test_sub_finish (loop, t, sub);
    }
  g_strfreev (argv);
  evl_test_close_loop (loop);
}

/* Several children at once, each with two pipes and its process HANDLE
 * watched (the selector loops wait for at most 63 HANDLEs). */
static void
test_many (void)
{
  EvlLoop *loop;
  EvlSubprocessTransport *t[8];
  TestSub *sub[8];
  GError *error = NULL;
  guint i, before = evl_test_count_fds ();

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  for (i = 0; i < G_N_ELEMENTS (t); i++)
    {
      char *code = g_strdup_printf ("%u", i);
      char **argv = test_child_argv ("exit", code, NULL);

      t[i] = test_sub_spawn (loop, (const char * const *) argv, NULL, EVL_SUBPROCESS_STDIO_PIPE,
                             EVL_SUBPROCESS_STDIO_PIPE, EVL_SUBPROCESS_STDIO_DEVNULL, &sub[i], &error);
      g_assert_no_error (error);
      g_strfreev (argv);
      g_free (code);
    }
  for (i = 0; i < G_N_ELEMENTS (t); i++)
    {
      test_run_until (loop, &sub[i]->lost);
      g_assert_cmpint (sub[i]->returncode, ==, (int) i);
      test_sub_finish (loop, t[i], sub[i]);
    }
  evl_test_close_loop (loop);
  g_assert_cmpuint (evl_test_count_fds (), ==, before);
}

static void
test_missing_program (void)
{
  EvlLoop *loop;
  const char *argv[] = { "C:\\nonexistent\\evl-no-such-program.exe", NULL };
  const char *quote[] = { "evl\"quote", NULL };
  EvlSubprocessTransport *t;
  TestSub *sub = NULL;
  GError *error = NULL;
  guint before = evl_test_count_fds ();

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  t = test_sub_spawn (loop, argv, NULL, EVL_SUBPROCESS_STDIO_PIPE, EVL_SUBPROCESS_STDIO_PIPE,
                      EVL_SUBPROCESS_STDIO_PIPE, &sub, &error);
  g_assert_null (t);
  g_assert_null (sub);
  g_assert_error (error, G_SPAWN_ERROR, G_SPAWN_ERROR_NOENT);
  g_clear_error (&error);
  /* No command line can pass a program name with a double quote. */
  t = test_sub_spawn (loop, quote, NULL, EVL_SUBPROCESS_STDIO_PIPE, EVL_SUBPROCESS_STDIO_PIPE,
                      EVL_SUBPROCESS_STDIO_PIPE, &sub, &error);
  g_assert_null (t);
  g_assert_error (error, G_SPAWN_ERROR, G_SPAWN_ERROR_INVAL);
  g_clear_error (&error);
  evl_test_close_loop (loop);
  g_assert_cmpuint (evl_test_count_fds (), ==, before);
}

/* The child inherits its three streams only, not the other inheritable
 * HANDLEs this process holds (PROC_THREAD_ATTRIBUTE_HANDLE_LIST): none of
 * 16 signalled inheritable events is there in the child, while a child
 * started by CreateProcessW without the list gets them all (the check
 * that the test can see inheritance). */
static void
test_inherit_only_streams (void)
{
  SECURITY_ATTRIBUTES inherit = { sizeof inherit, NULL, TRUE };
  EvlLoop *loop;
  HANDLE events[16];
  GPtrArray *a = g_ptr_array_new_with_free_func (g_free);
  EvlSubprocessTransport *t;
  TestSub *sub;
  GError *error = NULL;
  char *line, *out_path;
  gunichar2 *wline;
  STARTUPINFOW si = { sizeof si };
  PROCESS_INFORMATION pi;
  HANDLE out_r, out_w;
  char buf[32];
  DWORD n = 0, code;
  guint i;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  g_ptr_array_add (a, test_child_path ());
  g_ptr_array_add (a, g_strdup ("inherited"));
  for (i = 0; i < G_N_ELEMENTS (events); i++)
    {
      events[i] = CreateEventW (&inherit, TRUE, TRUE, NULL);
      g_assert_nonnull (events[i]);
      g_ptr_array_add (a, g_strdup_printf ("%" G_GUINT64_FORMAT, (guint64) (guintptr) events[i]));
    }
  g_ptr_array_add (a, NULL);

  /* The control: a plain CreateProcessW that inherits everything. */
  g_assert_true (CreatePipe (&out_r, &out_w, &inherit, 0));
  SetHandleInformation (out_r, HANDLE_FLAG_INHERIT, 0);
  si.dwFlags = STARTF_USESTDHANDLES;
  si.hStdOutput = out_w;
  out_path = a->pdata[0];
  /* The arguments are plain words and numbers: no quoting needed. */
  {
    GString *cmd = g_string_new (NULL);

    g_string_append_printf (cmd, "\"%s\"", out_path);
    for (i = 1; i < a->len - 1; i++)
      g_string_append_printf (cmd, " %s", (char *) a->pdata[i]);
    line = g_string_free (cmd, FALSE);
  }
  wline = g_utf8_to_utf16 (line, -1, NULL, NULL, NULL);
  g_assert_true (CreateProcessW (NULL, (wchar_t *) wline, NULL, NULL, TRUE, 0, NULL, NULL, &si, &pi));
  CloseHandle (out_w);
  memset (buf, 0, sizeof buf);
  g_assert_true (ReadFile (out_r, buf, sizeof buf - 1, &n, NULL));
  WaitForSingleObject (pi.hProcess, INFINITE);
  g_assert_true (GetExitCodeProcess (pi.hProcess, &code));
  g_assert_cmpuint (code, ==, 0);
  CloseHandle (pi.hProcess);
  CloseHandle (pi.hThread);
  CloseHandle (out_r);
  g_free (wline);
  g_free (line);
  g_assert_cmpstr (buf, ==, "16");

  t = test_sub_spawn (loop, (const char * const *) a->pdata, NULL, EVL_SUBPROCESS_STDIO_DEVNULL,
                      EVL_SUBPROCESS_STDIO_PIPE, EVL_SUBPROCESS_STDIO_DEVNULL, &sub, &error);
  g_assert_no_error (error);
  test_run_until (loop, &sub->lost);
  g_assert_cmpint (sub->returncode, ==, 0);
  g_assert_cmpmem (sub->out[1]->data, sub->out[1]->len, "0", 1);
  test_sub_finish (loop, t, sub);

  for (i = 0; i < G_N_ELEMENTS (events); i++)
    CloseHandle (events[i]);
  g_ptr_array_unref (a);
  evl_test_close_loop (loop);
}

/* The loop runs inside GLib (evl_loop_attach): the child's output and
 * its exit wake GLib, and the protocol's calls run from
 * g_main_loop_run(). */
static void
test_inside_glib (void)
{
  GMainContext *context = g_main_context_new ();
  GMainLoop *ml = g_main_loop_new (context, FALSE);
  EvlLoop *loop;
  char **argv = test_child_argv ("stderr", "late", NULL);
  EvlSubprocessTransport *t;
  TestSub *sub;
  GError *error = NULL;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  evl_test_watchdog_start (30);
  t = test_sub_spawn (loop, (const char * const *) argv, NULL, EVL_SUBPROCESS_STDIO_PIPE,
                      EVL_SUBPROCESS_STDIO_PIPE, EVL_SUBPROCESS_STDIO_PIPE, &sub, &error);
  g_assert_no_error (error);
  sub->quit_on_lost = ml;
  g_assert_cmpuint (evl_loop_attach (loop, context), >, 0);
  /* The child waits for its stdin to end. */
  evl_transport_write_eof (evl_subprocess_transport_get_pipe_transport (t, 0));
  g_main_loop_run (ml);
  g_assert_true (sub->lost);
  g_assert_cmpint (sub->returncode, ==, 0);
  g_assert_cmpmem (sub->out[1]->data, sub->out[1]->len, "out", 3);
  g_assert_cmpmem (sub->out[2]->data, sub->out[2]->len, "lateeof", 7);
  evl_test_watchdog_cancel ();
  test_sub_finish (loop, t, sub);
  g_strfreev (argv);
  evl_test_close_loop (loop);
  g_main_loop_unref (ml);
  g_main_context_unref (context);
}

int
main (int    argc,
      char **argv)
{
  evl_test_init (&argc, &argv);

  g_test_add_func ("/Evl/Subprocess/stderr-and-devnull", test_stderr_and_devnull);
  g_test_add_func ("/Evl/Subprocess/args", test_args);
  g_test_add_func ("/Evl/Subprocess/shell", test_shell);
  g_test_add_func ("/Evl/Subprocess/signals", test_signals);
  g_test_add_func ("/Evl/Subprocess/many", test_many);
  g_test_add_func ("/Evl/Subprocess/inherit-only-streams", test_inherit_only_streams);
  g_test_add_func ("/Evl/Subprocess/inside-glib", test_inside_glib);
  g_test_add_func ("/Evl/Subprocess/missing-program", test_missing_program);

  return g_test_run ();
}
