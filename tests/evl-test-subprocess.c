/* evl-test-subprocess.c: a recording EvlSubprocessProtocol and the spawn
 * helper of the subprocess tests
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "evl-test-subprocess.h"

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
  if (self->quit_on_lost != NULL)
    g_main_loop_quit (self->quit_on_lost);
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

EvlSubprocessTransport *
test_sub_spawn (EvlLoop            *loop,
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

void
test_sub_finish (EvlLoop                *loop,
                 EvlSubprocessTransport *t,
                 TestSub                *sub)
{
  test_run_until (loop, &sub->lost);
  g_object_unref (t);
  g_object_unref (sub);
}
