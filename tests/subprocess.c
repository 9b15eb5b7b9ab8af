/* subprocess.c: child processes with pipe transports, on the loop kind
 * under test
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "evl-test-protocol.h"

#include <signal.h>
#include <string.h>
#include <unistd.h>

#define TEST_TYPE_SUB (test_sub_get_type ())
G_DECLARE_FINAL_TYPE (TestSub, test_sub, TEST, SUB, GObject)

struct _TestSub
{
  GObject                 parent_instance;
  EvlSubprocessTransport *transport;
  GByteArray             *out[3];
  guint                   n_made;
  guint                   pipes_lost;      /* bit mask of fds */
  guint                   n_exited;
  guint                   n_lost;
  int                     returncode;      /* at process_exited */
  gboolean                exited;
  gboolean                lost;
};

static void test_sub_iface_init (EvlSubprocessProtocolInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (TestSub, test_sub, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (EVL_TYPE_SUBPROCESS_PROTOCOL, test_sub_iface_init))

static void
sub_connection_made (EvlSubprocessProtocol  *protocol,
                     EvlSubprocessTransport *transport)
{
  TestSub *self = TEST_SUB (protocol);

  g_assert_cmpuint (self->n_made, ==, 0);
  self->n_made++;
  self->transport = g_object_ref (transport);
}

static void
sub_pipe_data_received (EvlSubprocessProtocol *protocol,
                        int                    fd,
                        GBytes                *data)
{
  TestSub *self = TEST_SUB (protocol);
  gsize size;
  const guint8 *bytes = g_bytes_get_data (data, &size);

  g_assert_cmpuint (self->n_made, ==, 1);
  g_assert_true (fd == 1 || fd == 2);
  g_assert_false (self->pipes_lost & (1u << fd));
  g_assert_false (self->lost);
  g_byte_array_append (self->out[fd], bytes, size);
}

static void
sub_pipe_connection_lost (EvlSubprocessProtocol *protocol,
                          int                    fd,
                          const GError          *error)
{
  TestSub *self = TEST_SUB (protocol);

  g_assert_true (fd >= 0 && fd <= 2);
  g_assert_false (self->pipes_lost & (1u << fd));
  g_assert_false (self->lost);
  self->pipes_lost |= 1u << fd;
}

static void
sub_process_exited (EvlSubprocessProtocol *protocol)
{
  TestSub *self = TEST_SUB (protocol);

  g_assert_cmpuint (self->n_exited, ==, 0);
  g_assert_false (self->lost);
  g_assert_true (evl_subprocess_transport_has_exited (self->transport));
  self->n_exited++;
  self->returncode = evl_subprocess_transport_get_returncode (self->transport);
  self->exited = TRUE;
}

static void
sub_connection_lost (EvlSubprocessProtocol *protocol,
                     const GError          *error)
{
  TestSub *self = TEST_SUB (protocol);

  g_assert_no_error (error);
  g_assert_cmpuint (self->n_lost, ==, 0);
  g_assert_cmpuint (self->n_exited, ==, 1);   /* process_exited first */
  self->n_lost++;
  self->lost = TRUE;
  g_clear_object (&self->transport);
}

static void
test_sub_iface_init (EvlSubprocessProtocolInterface *iface)
{
  iface->connection_made = sub_connection_made;
  iface->pipe_data_received = sub_pipe_data_received;
  iface->pipe_connection_lost = sub_pipe_connection_lost;
  iface->process_exited = sub_process_exited;
  iface->connection_lost = sub_connection_lost;
}

static void
test_sub_finalize (GObject *object)
{
  TestSub *self = TEST_SUB (object);
  guint i;

  g_clear_object (&self->transport);
  for (i = 0; i < 3; i++)
    g_byte_array_unref (self->out[i]);
  G_OBJECT_CLASS (test_sub_parent_class)->finalize (object);
}

static void
test_sub_class_init (TestSubClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = test_sub_finalize;
}

static void
test_sub_init (TestSub *self)
{
  guint i;

  for (i = 0; i < 3; i++)
    self->out[i] = g_byte_array_new ();
}

static EvlSubprocessProtocol *
make_sub (gpointer data)
{
  return g_object_new (TEST_TYPE_SUB, NULL);
}

/* Starts argv (or the shell command @cmd) and returns the transport. */
static EvlSubprocessTransport *
spawn (EvlLoop            *loop,
       const char * const *argv,
       const char         *cmd,
       EvlSubprocessStdio  in,
       EvlSubprocessStdio  out,
       EvlSubprocessStdio  err,
       TestSub           **sub,
       GError            **error)
{
  TestWaiter w;
  EvlSubprocessTransport *t;
  EvlSubprocessProtocol *p = NULL;

  test_waiter_init (&w, loop);
  if (cmd != NULL)
    evl_loop_subprocess_shell_async (loop, make_sub, NULL, NULL, cmd, in, out, err,
                                     NULL, test_waiter_cb, &w);
  else
    evl_loop_subprocess_exec_async (loop, make_sub, NULL, NULL, argv, in, out, err,
                                    NULL, test_waiter_cb, &w);
  test_waiter_wait (&w);
  t = cmd != NULL ? evl_loop_subprocess_shell_finish (loop, w.result, &p, error)
                  : evl_loop_subprocess_exec_finish (loop, w.result, &p, error);
  test_waiter_clear (&w);
  *sub = (TestSub *) p;
  if (t != NULL)
    g_assert_cmpuint ((*sub)->n_made, ==, 1);
  return t;
}

static void
finish (EvlLoop                *loop,
        EvlSubprocessTransport *t,
        TestSub                *sub)
{
  test_run_until (loop, &sub->lost);
  g_object_unref (t);
  g_object_unref (sub);
}

static void
test_cat (void)
{
  EvlLoop *loop;
  const char *argv[] = { "cat", NULL };
  EvlSubprocessTransport *t;
  TestSub *sub;
  GError *error = NULL;
  GBytes *data = test_pattern (300 * 1024, 1);
  EvlTransport *in;
  guint before = evl_test_count_fds ();

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  t = spawn (loop, argv, NULL, EVL_SUBPROCESS_STDIO_PIPE, EVL_SUBPROCESS_STDIO_PIPE,
             EVL_SUBPROCESS_STDIO_PIPE, &sub, &error);
  g_assert_no_error (error);
  g_assert_cmpint (evl_subprocess_transport_get_pid (t), >, 0);
  g_assert_false (evl_subprocess_transport_has_exited (t));
  in = evl_subprocess_transport_get_pipe_transport (t, 0);
  g_assert_nonnull (in);
  g_assert_nonnull (evl_subprocess_transport_get_pipe_transport (t, 1));
  g_assert_nonnull (evl_subprocess_transport_get_pipe_transport (t, 2));
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
  finish (loop, t, sub);
  g_bytes_unref (data);
  evl_test_close_loop (loop);
  g_assert_cmpuint (evl_test_count_fds (), ==, before);
}

static void
test_shell_exit_code (void)
{
  EvlLoop *loop;
  EvlSubprocessTransport *t;
  TestSub *sub;
  GError *error = NULL;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  t = spawn (loop, NULL, "exit 3", EVL_SUBPROCESS_STDIO_DEVNULL, EVL_SUBPROCESS_STDIO_PIPE,
             EVL_SUBPROCESS_STDIO_PIPE, &sub, &error);
  g_assert_no_error (error);
  g_assert_null (evl_subprocess_transport_get_pipe_transport (t, 0));
  test_run_until (loop, &sub->lost);
  g_assert_cmpint (sub->returncode, ==, 3);
  g_assert_cmpint (evl_subprocess_transport_get_returncode (t), ==, 3);
  g_assert_cmpuint (sub->pipes_lost, ==, 6);
  finish (loop, t, sub);
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
  t = spawn (loop, NULL, "echo out; echo err >&2; read x || echo no-stdin >&2",
             EVL_SUBPROCESS_STDIO_DEVNULL, EVL_SUBPROCESS_STDIO_DEVNULL,
             EVL_SUBPROCESS_STDIO_PIPE, &sub, &error);
  g_assert_no_error (error);
  g_assert_null (evl_subprocess_transport_get_pipe_transport (t, 1));
  test_run_until (loop, &sub->lost);
  g_assert_cmpint (sub->returncode, ==, 0);
  g_assert_cmpuint (sub->out[1]->len, ==, 0);
  g_assert_cmpmem (sub->out[2]->data, sub->out[2]->len, "err\nno-stdin\n", 13);
  finish (loop, t, sub);
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
      t = spawn (loop, argv, NULL, EVL_SUBPROCESS_STDIO_DEVNULL, EVL_SUBPROCESS_STDIO_DEVNULL,
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
      finish (loop, t, sub);
    }
  evl_test_close_loop (loop);
}

/* close() kills a running child, as asyncio does. */
static void
test_close_kills (void)
{
  EvlLoop *loop;
  const char *argv[] = { "sleep", "1000", NULL };
  EvlSubprocessTransport *t;
  TestSub *sub;
  GError *error = NULL;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  t = spawn (loop, argv, NULL, EVL_SUBPROCESS_STDIO_PIPE, EVL_SUBPROCESS_STDIO_PIPE,
             EVL_SUBPROCESS_STDIO_PIPE, &sub, &error);
  g_assert_no_error (error);
  evl_transport_close (EVL_TRANSPORT (t));
  g_assert_true (evl_transport_is_closing (EVL_TRANSPORT (t)));
  test_run_until (loop, &sub->lost);
  g_assert_cmpint (sub->returncode, ==, -SIGKILL);
  finish (loop, t, sub);
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

      t[i] = spawn (loop, NULL, cmd, EVL_SUBPROCESS_STDIO_PIPE, EVL_SUBPROCESS_STDIO_PIPE,
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
      finish (loop, t[i], sub[i]);
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
  t = spawn (loop, argv, NULL, EVL_SUBPROCESS_STDIO_PIPE, EVL_SUBPROCESS_STDIO_PIPE,
             EVL_SUBPROCESS_STDIO_PIPE, &sub, &error);
  g_assert_null (t);
  g_assert_null (sub);
  g_assert_true (error->domain == G_SPAWN_ERROR || error->domain == G_IO_ERROR);
  g_clear_error (&error);
  evl_test_close_loop (loop);
  g_assert_cmpuint (evl_test_count_fds (), ==, before);
}

/* Closing the loop under a running child kills and reaps it. */
static void
test_loop_close (void)
{
  EvlLoop *loop;
  const char *argv[] = { "sleep", "1000", NULL };
  EvlSubprocessTransport *t;
  TestSub *sub;
  GError *error = NULL;
  guint before = evl_test_count_fds ();

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  t = spawn (loop, argv, NULL, EVL_SUBPROCESS_STDIO_PIPE, EVL_SUBPROCESS_STDIO_PIPE,
             EVL_SUBPROCESS_STDIO_PIPE, &sub, &error);
  g_assert_no_error (error);
  g_object_unref (t);
  evl_test_close_loop (loop);
  g_assert_true (sub->lost);
  g_assert_cmpint (sub->returncode, ==, -SIGKILL);
  g_object_unref (sub);
  g_assert_cmpuint (evl_test_count_fds (), ==, before);
}

int
main (int    argc,
      char **argv)
{
  evl_test_init (&argc, &argv);

  g_test_add_func ("/Evl/Subprocess/cat", test_cat);
  g_test_add_func ("/Evl/Subprocess/shell-exit-code", test_shell_exit_code);
  g_test_add_func ("/Evl/Subprocess/stderr-and-devnull", test_stderr_and_devnull);
  g_test_add_func ("/Evl/Subprocess/signals", test_signals);
  g_test_add_func ("/Evl/Subprocess/close-kills", test_close_kills);
  g_test_add_func ("/Evl/Subprocess/many", test_many);
  g_test_add_func ("/Evl/Subprocess/missing-program", test_missing_program);
  g_test_add_func ("/Evl/Subprocess/loop-close", test_loop_close);

  return g_test_run ();
}
