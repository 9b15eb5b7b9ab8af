/* evl-test-protocol.c: a recording EvlProtocol and async helpers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "evl-test-protocol.h"

#define HANG_GUARD 60.0

static void test_proto_iface_init (EvlProtocolInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (TestProto, test_proto, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (EVL_TYPE_PROTOCOL, test_proto_iface_init))

static void
proto_connection_made (EvlProtocol  *protocol,
                       EvlTransport *transport)
{
  TestProto *self = TEST_PROTO (protocol);

  g_assert_cmpuint (self->n_made, ==, 0);
  g_assert_true (EVL_IS_TRANSPORT (transport));
  self->n_made++;
  self->made = TRUE;
  self->transport = g_object_ref (transport);
}

static void
proto_connection_lost (EvlProtocol  *protocol,
                       const GError *error)
{
  TestProto *self = TEST_PROTO (protocol);

  g_assert_cmpuint (self->n_made, ==, 1);
  g_assert_cmpuint (self->n_lost, ==, 0);
  self->n_lost++;
  self->lost = TRUE;
  if (error != NULL)
    self->error = g_error_copy (error);
  g_clear_object (&self->transport);
}

static void
proto_pause_writing (EvlProtocol *protocol)
{
  TestProto *self = TEST_PROTO (protocol);

  g_assert_cmpuint (self->n_lost, ==, 0);
  g_assert_false (self->paused);
  self->paused = TRUE;
  self->n_pause++;
}

static void
proto_resume_writing (EvlProtocol *protocol)
{
  TestProto *self = TEST_PROTO (protocol);

  g_assert_cmpuint (self->n_lost, ==, 0);
  g_assert_true (self->paused);
  self->paused = FALSE;
  self->n_resume++;
  if (self->write_on_resume && self->transport != NULL)
    {
      GBytes *more = test_pattern (1000, 9);

      evl_transport_write (self->transport, more);
      g_bytes_unref (more);
    }
}

static void
proto_data_received (EvlProtocol *protocol,
                     GBytes      *data)
{
  TestProto *self = TEST_PROTO (protocol);
  gsize size;
  const guint8 *bytes = g_bytes_get_data (data, &size);

  g_assert_cmpuint (self->n_made, ==, 1);
  g_assert_cmpuint (self->n_lost, ==, 0);
  g_assert_cmpuint (self->n_eof, ==, 0);
  g_assert_cmpuint (size, >, 0);
  self->n_data++;
  g_byte_array_append (self->data, bytes, size);
  if (self->expect > 0 && self->data->len >= self->expect)
    self->got_expected = TRUE;
  if (self->echo)
    evl_transport_write (self->transport, data);
  if (self->pause_on_data)
    evl_transport_pause_reading (self->transport);
  if (self->quit_on_data != NULL)
    g_main_loop_quit (self->quit_on_data);
}

static gboolean
proto_eof_received (EvlProtocol *protocol)
{
  TestProto *self = TEST_PROTO (protocol);

  g_assert_cmpuint (self->n_made, ==, 1);
  g_assert_cmpuint (self->n_lost, ==, 0);
  g_assert_cmpuint (self->n_eof, ==, 0);
  self->n_eof++;
  self->eof = TRUE;
  if (self->echo_eof && self->transport != NULL)
    evl_transport_write_eof (self->transport);
  return self->keep_open;
}

static void
test_proto_iface_init (EvlProtocolInterface *iface)
{
  iface->connection_made = proto_connection_made;
  iface->connection_lost = proto_connection_lost;
  iface->pause_writing = proto_pause_writing;
  iface->resume_writing = proto_resume_writing;
  iface->data_received = proto_data_received;
  iface->eof_received = proto_eof_received;
}

static void
test_proto_finalize (GObject *object)
{
  TestProto *self = TEST_PROTO (object);

  g_clear_object (&self->transport);
  g_byte_array_unref (self->data);
  g_clear_error (&self->error);
  G_OBJECT_CLASS (test_proto_parent_class)->finalize (object);
}

static void
test_proto_class_init (TestProtoClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = test_proto_finalize;
}

static void
test_proto_init (TestProto *self)
{
  self->data = g_byte_array_new ();
}

TestProto *
test_proto_new (void)
{
  return g_object_new (TEST_TYPE_PROTO, NULL);
}

void
test_factory_init (TestFactory *f)
{
  memset (f, 0, sizeof *f);
  f->created = g_ptr_array_new_with_free_func (g_object_unref);
}

void
test_factory_clear (TestFactory *f)
{
  g_clear_pointer (&f->created, g_ptr_array_unref);
}

EvlProtocol *
test_factory_make (gpointer data)
{
  TestFactory *f = data;
  TestProto *p = test_proto_new ();

  p->keep_open = f->template_.keep_open;
  p->echo = f->template_.echo;
  p->echo_eof = f->template_.echo_eof;
  p->pause_on_data = f->template_.pause_on_data;
  p->write_on_resume = f->template_.write_on_resume;
  p->expect = f->template_.expect;
  g_ptr_array_add (f->created, g_object_ref (p));
  return EVL_PROTOCOL (p);
}

void
test_waiter_init (TestWaiter *w,
                  EvlLoop    *loop)
{
  memset (w, 0, sizeof *w);
  w->loop = loop;
}

void
test_waiter_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      data)
{
  TestWaiter *w = data;

  g_assert_true (source == G_OBJECT (w->loop) || EVL_IS_SERVER (source));
  w->n_calls++;
  g_assert_cmpuint (w->n_calls, ==, 1);
  w->result = g_object_ref (result);
  w->done = TRUE;
}

void
test_run_until (EvlLoop  *loop,
                gboolean *flag)
{
  g_assert_true (evl_test_run_until_flag (loop, flag, HANG_GUARD));
}

void
test_waiter_wait (TestWaiter *w)
{
  test_run_until (w->loop, &w->done);
}

void
test_waiter_clear (TestWaiter *w)
{
  g_clear_object (&w->result);
}

EvlServer *
test_start_server (EvlLoop     *loop,
                   TestFactory *factory,
                   const char  *host)
{
  TestWaiter w;
  GError *error = NULL;
  EvlServer *server;

  test_waiter_init (&w, loop);
  evl_loop_create_server_async (loop, (EvlProtocolFactory) test_factory_make, factory, NULL,
                                host != NULL && *host == '\0' ? NULL : host, 0,
                                NULL, test_waiter_cb, &w);
  test_waiter_wait (&w);
  server = evl_loop_create_server_finish (loop, w.result, &error);
  g_assert_no_error (error);
  g_assert_true (EVL_IS_SERVER (server));
  g_assert_cmpuint (evl_server_get_port (server), >, 0);
  test_waiter_clear (&w);
  return server;
}

EvlTransport *
test_connect (EvlLoop     *loop,
              TestFactory *factory,
              const char  *host,
              guint16      port,
              TestProto  **proto)
{
  TestWaiter w;
  GError *error = NULL;
  EvlTransport *transport;
  EvlProtocol *protocol = NULL;

  test_waiter_init (&w, loop);
  evl_loop_create_connection_async (loop, (EvlProtocolFactory) test_factory_make, factory, NULL,
                                    host, port, NULL, test_waiter_cb, &w);
  test_waiter_wait (&w);
  transport = evl_loop_create_connection_finish (loop, w.result, &protocol, &error);
  g_assert_no_error (error);
  g_assert_true (EVL_IS_TRANSPORT (transport));
  g_assert_true (TEST_IS_PROTO (protocol));
  g_assert_cmpuint (TEST_PROTO (protocol)->n_made, ==, 1);
  if (proto != NULL)
    *proto = TEST_PROTO (protocol);
  else
    g_object_unref (protocol);
  test_waiter_clear (&w);
  return transport;
}

EvlTransport *
test_connect_pipe (EvlLoop      *loop,
                   TestFactory  *f,
                   int           fd,
                   gboolean      writing,
                   TestProto   **proto,
                   GError      **error)
{
  TestWaiter w;
  EvlTransport *t;
  EvlProtocol *p = NULL;

  test_waiter_init (&w, loop);
  if (writing)
    evl_loop_connect_write_pipe_async (loop, (EvlProtocolFactory) test_factory_make, f, NULL,
                                       fd, NULL, test_waiter_cb, &w);
  else
    evl_loop_connect_read_pipe_async (loop, (EvlProtocolFactory) test_factory_make, f, NULL,
                                      fd, NULL, test_waiter_cb, &w);
  test_waiter_wait (&w);
  t = writing ? evl_loop_connect_write_pipe_finish (loop, w.result, &p, error)
              : evl_loop_connect_read_pipe_finish (loop, w.result, &p, error);
  test_waiter_clear (&w);
  if (proto != NULL)
    *proto = (TestProto *) p;
  else
    g_clear_object (&p);
  return t;
}

typedef struct
{
  EvlServer *server;
  gboolean   done;
} Closing;

static void
closed_cb (GObject      *source,
           GAsyncResult *result,
           gpointer      data)
{
  Closing *c = data;
  GError *error = NULL;

  g_assert_true (evl_server_wait_closed_finish (c->server, result, &error));
  g_assert_no_error (error);
  c->done = TRUE;
}

void
test_server_close (EvlLoop   *loop,
                   EvlServer *server)
{
  Closing c = { server, FALSE };

  evl_server_close (server);
  g_assert_false (evl_server_is_serving (server));
  evl_server_wait_closed_async (server, NULL, closed_cb, &c);
  test_run_until (loop, &c.done);
  g_object_unref (server);
}

GBytes *
test_pattern (gsize len,
              guint seed)
{
  guint8 *buf = g_malloc (len ? len : 1);
  guint32 x = 2463534242u ^ seed;
  gsize i;

  for (i = 0; i < len; i++)
    {
      x ^= x << 13;
      x ^= x >> 17;
      x ^= x << 5;
      buf[i] = (guint8) x;
    }
  return g_bytes_new_take (buf, len);
}
