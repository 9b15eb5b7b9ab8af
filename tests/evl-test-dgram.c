/* evl-test-dgram.c: a recording EvlDatagramProtocol and helpers for the
 * datagram tests (evl-test-dgram.h)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "evl-test-dgram.h"

#include <string.h>

static void test_dgram_iface_init (EvlDatagramProtocolInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (TestDgram, test_dgram, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (EVL_TYPE_DATAGRAM_PROTOCOL,
                                                      test_dgram_iface_init))

static void
test_dgram_connection_made (EvlDatagramProtocol  *protocol,
                            EvlDatagramTransport *transport)
{
  TestDgram *self = TEST_DGRAM (protocol);

  g_assert_cmpuint (self->n_made, ==, 0);
  g_assert_true (EVL_IS_DATAGRAM_TRANSPORT (transport));
  self->n_made++;
  self->transport = g_object_ref (transport);
}

static void
test_dgram_connection_lost (EvlDatagramProtocol *protocol,
                            const GError        *error)
{
  TestDgram *self = TEST_DGRAM (protocol);

  g_assert_cmpuint (self->n_made, ==, 1);
  g_assert_cmpuint (self->n_lost, ==, 0);
  self->n_lost++;
  self->lost = TRUE;
  if (error != NULL)
    self->lost_error = g_error_copy (error);
  g_clear_object (&self->transport);
}

static void
test_dgram_pause_writing (EvlDatagramProtocol *protocol)
{
  TestDgram *self = TEST_DGRAM (protocol);

  g_assert_cmpuint (self->n_lost, ==, 0);
  g_assert_false (self->paused);
  self->paused = TRUE;
  self->n_pause++;
}

static void
test_dgram_resume_writing (EvlDatagramProtocol *protocol)
{
  TestDgram *self = TEST_DGRAM (protocol);

  g_assert_cmpuint (self->n_lost, ==, 0);
  g_assert_true (self->paused);
  self->paused = FALSE;
  self->n_resume++;
  self->resumed = TRUE;
}

static void
test_dgram_datagram_received (EvlDatagramProtocol *protocol,
                              GBytes              *data,
                              GSocketAddress      *address)
{
  TestDgram *self = TEST_DGRAM (protocol);

  g_assert_cmpuint (self->n_made, ==, 1);
  g_assert_cmpuint (self->n_lost, ==, 0);
  g_ptr_array_add (self->data, g_bytes_ref (data));
  g_ptr_array_add (self->senders, address != NULL ? g_object_ref (address) : NULL);
  if (self->expect > 0 && self->data->len >= self->expect)
    self->got_expected = TRUE;
  if (self->echo)
    evl_datagram_transport_sendto (self->transport, data, address);
}

static void
test_dgram_error_received (EvlDatagramProtocol *protocol,
                           const GError        *error)
{
  TestDgram *self = TEST_DGRAM (protocol);

  g_assert_cmpuint (self->n_made, ==, 1);
  g_assert_cmpuint (self->n_lost, ==, 0);
  g_ptr_array_add (self->errors, g_error_copy (error));
  self->got_error = TRUE;
}

static void
test_dgram_iface_init (EvlDatagramProtocolInterface *iface)
{
  iface->connection_made = test_dgram_connection_made;
  iface->connection_lost = test_dgram_connection_lost;
  iface->pause_writing = test_dgram_pause_writing;
  iface->resume_writing = test_dgram_resume_writing;
  iface->datagram_received = test_dgram_datagram_received;
  iface->error_received = test_dgram_error_received;
}

static void
test_dgram_finalize (GObject *object)
{
  TestDgram *self = TEST_DGRAM (object);

  g_clear_object (&self->transport);
  g_ptr_array_unref (self->data);
  g_ptr_array_unref (self->senders);
  g_ptr_array_unref (self->errors);
  g_clear_error (&self->lost_error);
  G_OBJECT_CLASS (test_dgram_parent_class)->finalize (object);
}

static void
test_dgram_class_init (TestDgramClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = test_dgram_finalize;
}

static void
unref_nullable (gpointer object)
{
  if (object != NULL)
    g_object_unref (object);
}

static void
test_dgram_init (TestDgram *self)
{
  self->data = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  self->senders = g_ptr_array_new_with_free_func (unref_nullable);
  self->errors = g_ptr_array_new_with_free_func ((GDestroyNotify) g_error_free);
}


/* Helpers ---------------------------------------------------------------- */

EvlDatagramProtocol *
test_dgram_factory_ref (gpointer data)
{
  return g_object_ref (EVL_DATAGRAM_PROTOCOL (data));
}

typedef struct
{
  EvlLoop      *loop;
  GAsyncResult *result;
  gboolean      done;
  guint         n_made_at_callback;
  TestDgram    *proto;
} Waiter;

static void
waiter_cb (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  Waiter *w = user_data;

  g_assert_true (source == G_OBJECT (w->loop));
  g_assert_false (w->done);
  w->result = g_object_ref (result);
  w->n_made_at_callback = w->proto != NULL ? w->proto->n_made : 0;
  w->done = TRUE;
}

GSocketAddress *
test_dgram_loopback (GSocketFamily family,
                     guint16       port)
{
  GInetAddress *inet = g_inet_address_new_loopback (family);
  GSocketAddress *address = g_inet_socket_address_new (inet, port);

  g_object_unref (inet);
  return address;
}

gboolean
test_dgram_ipv6_available (void)
{
  GSocket *socket = g_socket_new (G_SOCKET_FAMILY_IPV6, G_SOCKET_TYPE_DATAGRAM,
                                  G_SOCKET_PROTOCOL_UDP, NULL);
  GSocketAddress *address;
  gboolean ok;

  if (socket == NULL)
    return FALSE;
  address = test_dgram_loopback (G_SOCKET_FAMILY_IPV6, 0);
  ok = g_socket_bind (socket, address, FALSE, NULL);
  g_object_unref (address);
  g_object_unref (socket);
  return ok;
}

guint16
test_dgram_closed_port (void)
{
  GSocket *socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM,
                                  G_SOCKET_PROTOCOL_UDP, NULL);
  GSocketAddress *any = test_dgram_loopback (G_SOCKET_FAMILY_IPV4, 0), *bound;
  GError *error = NULL;
  guint16 port;

  g_assert_nonnull (socket);
  g_assert_true (g_socket_bind (socket, any, FALSE, &error));
  g_assert_no_error (error);
  bound = g_socket_get_local_address (socket, &error);
  g_assert_no_error (error);
  port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
  g_assert_true (g_socket_close (socket, &error));
  g_assert_no_error (error);
  g_object_unref (socket);
  g_object_unref (bound);
  g_object_unref (any);
  return port;
}

EvlDatagramTransport *
test_dgram_endpoint_full (EvlLoop           *loop,
                          TestDgram         *proto,
                          GSocketAddress    *local,
                          GSocketAddress    *remote,
                          EvlDatagramFlags   flags,
                          GCancellable      *cancellable,
                          GError           **error)
{
  EvlDatagramTransport *transport;
  EvlDatagramProtocol *protocol = NULL;
  Waiter w = { 0 };

  w.loop = loop;
  w.proto = proto;
  evl_loop_create_datagram_endpoint_full_async (loop, test_dgram_factory_ref, g_object_ref (proto),
                                                g_object_unref, local, remote, flags,
                                                cancellable, waiter_cb, &w);
  if (!evl_loop_is_closed (loop))
    {
      g_assert_false (w.done);
      g_assert_true (evl_test_run_until_flag (loop, &w.done, 20.0));
    }
  g_assert_true (w.done);
  transport = evl_loop_create_datagram_endpoint_finish (loop, w.result, &protocol, error);
  if (transport != NULL)
    {
      g_assert_true (protocol == EVL_DATAGRAM_PROTOCOL (proto));
      g_assert_cmpuint (w.n_made_at_callback, ==, 1);
      g_assert_true (proto->transport == transport);
      g_object_unref (protocol);
    }
  else
    g_assert_null (protocol);
  g_object_unref (w.result);
  return transport;
}

EvlDatagramTransport *
test_dgram_endpoint (EvlLoop        *loop,
                     TestDgram      *proto,
                     GSocketAddress *local,
                     GSocketAddress *remote)
{
  GError *error = NULL;
  EvlDatagramTransport *transport;

  transport = test_dgram_endpoint_full (loop, proto, local, remote, EVL_DATAGRAM_FLAGS_NONE, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (transport);
  return transport;
}

TestDgram *
test_dgram_new (void)
{
  return g_object_new (TEST_TYPE_DGRAM, NULL);
}

GBytes *
test_dgram_bytes_printf (const char *format,
                         ...)
{
  va_list args;
  char *s;

  va_start (args, format);
  s = g_strdup_vprintf (format, args);
  va_end (args);
  return g_bytes_new_take (s, strlen (s));
}

void
test_dgram_assert_bytes (GBytes     *bytes,
                         const char *expected)
{
  gsize size;
  const char *data = g_bytes_get_data (bytes, &size);

  g_assert_cmpmem (data, size, expected, strlen (expected));
}

gboolean
test_dgram_address_equal (GSocketAddress *a,
                          GSocketAddress *b)
{
  GInetSocketAddress *ia, *ib;

  g_assert_true (G_IS_INET_SOCKET_ADDRESS (a));
  g_assert_true (G_IS_INET_SOCKET_ADDRESS (b));
  ia = G_INET_SOCKET_ADDRESS (a);
  ib = G_INET_SOCKET_ADDRESS (b);
  return g_inet_socket_address_get_port (ia) == g_inet_socket_address_get_port (ib) &&
         g_inet_address_equal (g_inet_socket_address_get_address (ia),
                               g_inet_socket_address_get_address (ib));
}

void
test_dgram_close_and_wait (EvlLoop              *loop,
                           EvlDatagramTransport *transport,
                           TestDgram            *proto)
{
  evl_transport_close (EVL_TRANSPORT (transport));
  g_assert_true (evl_transport_is_closing (EVL_TRANSPORT (transport)));
  g_assert_true (evl_test_run_until_flag (loop, &proto->lost, 20.0));
  g_assert_cmpuint (proto->n_lost, ==, 1);
  g_assert_no_error (proto->lost_error);
  g_assert_cmpint (evl_transport_get_fd (EVL_TRANSPORT (transport)), ==, -1);
}
