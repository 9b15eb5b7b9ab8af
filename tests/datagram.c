/* datagram.c: tests of create_datagram_endpoint and EvlDatagramTransport,
 * on the loop kind under test
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "evl-test-util.h"

#include <errno.h>
#include <gio/gunixsocketaddress.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* A recording datagram protocol ------------------------------------------ */

#define TEST_TYPE_DGRAM (test_dgram_get_type ())
G_DECLARE_FINAL_TYPE (TestDgram, test_dgram, TEST, DGRAM, GObject)

/* Records every call and checks asyncio's ordering rules as it goes:
 * connection_made first and once, nothing after connection_lost, lost
 * exactly once, pause/resume alternating. */
struct _TestDgram
{
  GObject               parent_instance;

  EvlDatagramTransport *transport;  /* from connection_made until connection_lost */
  GPtrArray            *data;       /* GBytes */
  GPtrArray            *senders;    /* GSocketAddress, or NULL entries */
  GPtrArray            *errors;     /* GError from error_received */
  guint                 n_made;
  guint                 n_lost;
  guint                 n_pause;
  guint                 n_resume;
  gboolean              paused;
  GError               *lost_error;
  gboolean              lost;       /* flags for evl_test_run_until_flag */
  gboolean              got_error;
  gboolean              got_expected;
  guint                 expect;     /* got_expected once data->len >= expect */
  gboolean              resumed;

  gboolean              echo;       /* send each datagram back to its sender */
};

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

/* An EvlDatagramProtocolFactory: returns a new reference to the
 * TestDgram given as data. */
static EvlDatagramProtocol *
factory_ref (gpointer data)
{
  return g_object_ref (EVL_DATAGRAM_PROTOCOL (data));
}

/* Helpers ---------------------------------------------------------------- */

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

static GSocketAddress *
loopback (GSocketFamily family,
          guint16       port)
{
  GInetAddress *inet = g_inet_address_new_loopback (family);
  GSocketAddress *address = g_inet_socket_address_new (inet, port);

  g_object_unref (inet);
  return address;
}

static gboolean
ipv6_available (void)
{
  int fd = socket (AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  GSocketAddress *address;
  struct sockaddr_storage ss;
  gboolean ok;

  if (fd < 0)
    return FALSE;
  address = loopback (G_SOCKET_FAMILY_IPV6, 0);
  g_assert_true (g_socket_address_to_native (address, &ss, sizeof ss, NULL));
  ok = bind (fd, (struct sockaddr *) &ss, g_socket_address_get_native_size (address)) == 0;
  g_object_unref (address);
  close (fd);
  return ok;
}

/* Creates an endpoint for @proto (which gets connection_made before the
 * callback runs); NULL with @error set on failure. */
static EvlDatagramTransport *
endpoint_full (EvlLoop           *loop,
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
  evl_loop_create_datagram_endpoint_full_async (loop, factory_ref, g_object_ref (proto),
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

static EvlDatagramTransport *
endpoint (EvlLoop        *loop,
          TestDgram      *proto,
          GSocketAddress *local,
          GSocketAddress *remote)
{
  GError *error = NULL;
  EvlDatagramTransport *transport;

  transport = endpoint_full (loop, proto, local, remote, EVL_DATAGRAM_FLAGS_NONE, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (transport);
  return transport;
}

static TestDgram *
test_dgram_new (void)
{
  return g_object_new (TEST_TYPE_DGRAM, NULL);
}

static GBytes *
bytes_printf (const char *format,
              ...) G_GNUC_PRINTF (1, 2);

static GBytes *
bytes_printf (const char *format,
              ...)
{
  va_list args;
  char *s;

  va_start (args, format);
  s = g_strdup_vprintf (format, args);
  va_end (args);
  return g_bytes_new_take (s, strlen (s));
}

static void
assert_bytes (GBytes     *bytes,
              const char *expected)
{
  gsize size;
  const char *data = g_bytes_get_data (bytes, &size);

  g_assert_cmpmem (data, size, expected, strlen (expected));
}

static gboolean
address_equal (GSocketAddress *a,
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

/* Closes @transport and waits for connection_lost (clean). */
static void
close_and_wait (EvlLoop              *loop,
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

/* Tests ------------------------------------------------------------------ */

static void
round_trip (GSocketFamily family)
{
  EvlLoop *loop;
  TestDgram *server_proto, *client_proto;
  EvlDatagramTransport *server, *client;
  GSocketAddress *any, *server_address, *client_address;
  GBytes *ping;
  guint n_fds;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  n_fds = evl_test_count_fds ();

  server_proto = test_dgram_new ();
  server_proto->echo = TRUE;
  server_proto->expect = 1;
  client_proto = test_dgram_new ();
  client_proto->expect = 1;

  any = loopback (family, 0);
  server = endpoint (loop, server_proto, any, NULL);
  client = endpoint (loop, client_proto, any, NULL);
  server_address = evl_transport_get_local_address (EVL_TRANSPORT (server));
  client_address = evl_transport_get_local_address (EVL_TRANSPORT (client));
  g_assert_nonnull (server_address);
  g_assert_cmpuint (g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (server_address)), !=, 0);
  g_assert_null (evl_transport_get_peer_address (EVL_TRANSPORT (server)));
  g_assert_cmpint (evl_transport_get_fd (EVL_TRANSPORT (server)), >=, 0);
  g_assert_true (evl_transport_is_reading (EVL_TRANSPORT (server)));

  ping = bytes_printf ("ping %d", family);
  evl_datagram_transport_sendto (client, ping, server_address);
  g_assert_true (evl_test_run_until_flag (loop, &client_proto->got_expected, 20.0));

  /* The server saw the client's address; the client, the server's. */
  g_assert_cmpuint (server_proto->data->len, ==, 1);
  g_assert_true (g_bytes_equal (server_proto->data->pdata[0], ping));
  g_assert_true (address_equal (server_proto->senders->pdata[0], client_address));
  g_assert_cmpuint (client_proto->data->len, ==, 1);
  g_assert_true (g_bytes_equal (client_proto->data->pdata[0], ping));
  g_assert_true (address_equal (client_proto->senders->pdata[0], server_address));
  g_assert_cmpuint (server_proto->errors->len + client_proto->errors->len, ==, 0);
  g_assert_cmpuint (evl_transport_get_write_buffer_size (EVL_TRANSPORT (client)), ==, 0);
  g_bytes_unref (ping);

  close_and_wait (loop, client, client_proto);
  close_and_wait (loop, server, server_proto);
  g_object_unref (client);
  g_object_unref (server);
  g_object_unref (client_proto);
  g_object_unref (server_proto);
  g_object_unref (any);
  g_assert_cmpuint (evl_test_count_fds (), ==, n_fds);
  evl_test_close_loop (loop);
}

static void
test_ipv4 (void)
{
  round_trip (G_SOCKET_FAMILY_IPV4);
}

static void
test_ipv6 (void)
{
  if (!ipv6_available ())
    {
      g_test_skip ("IPv6 loopback is not available");
      return;
    }
  round_trip (G_SOCKET_FAMILY_IPV6);
}

static void
test_connected (void)
{
  EvlLoop *loop;
  TestDgram *server_proto, *client_proto;
  EvlDatagramTransport *server, *client;
  GSocketAddress *any, *server_address, *peer;
  GBytes *one, *two, *three;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);

  server_proto = test_dgram_new ();
  server_proto->echo = TRUE;
  server_proto->expect = 3;
  client_proto = test_dgram_new ();
  client_proto->expect = 3;

  any = loopback (G_SOCKET_FAMILY_IPV4, 0);
  server = endpoint (loop, server_proto, any, NULL);
  server_address = evl_transport_get_local_address (EVL_TRANSPORT (server));
  client = endpoint (loop, client_proto, NULL, server_address);
  peer = evl_transport_get_peer_address (EVL_TRANSPORT (client));
  g_assert_nonnull (peer);
  g_assert_true (address_equal (peer, server_address));

  /* NULL, the peer's own address, and write(): all to the peer. */
  one = bytes_printf ("one");
  two = bytes_printf ("two");
  three = bytes_printf ("three");
  evl_datagram_transport_sendto (client, one, NULL);
  evl_datagram_transport_sendto (client, two, server_address);
  evl_transport_write (EVL_TRANSPORT (client), three);
  g_assert_true (evl_test_run_until_flag (loop, &client_proto->got_expected, 20.0));
  g_assert_cmpuint (client_proto->data->len, ==, 3);
  assert_bytes (client_proto->data->pdata[0], "one");
  assert_bytes (client_proto->data->pdata[1], "two");
  assert_bytes (client_proto->data->pdata[2], "three");
  g_assert_true (address_equal (client_proto->senders->pdata[0], server_address));

  /* Another address on a connected endpoint is a programming error. */
  {
    GSocketAddress *other = loopback (G_SOCKET_FAMILY_IPV4, 9);

    g_test_expect_message (G_LOG_DOMAIN, G_LOG_LEVEL_CRITICAL, "*connected*");
    evl_datagram_transport_sendto (client, one, other);
    g_test_assert_expected_messages ();
    g_object_unref (other);
  }

  g_bytes_unref (one);
  g_bytes_unref (two);
  g_bytes_unref (three);
  close_and_wait (loop, client, client_proto);
  close_and_wait (loop, server, server_proto);
  g_object_unref (client);
  g_object_unref (server);
  g_object_unref (client_proto);
  g_object_unref (server_proto);
  g_object_unref (any);
  evl_test_close_loop (loop);
}

/* A port nothing listens on: bound, then closed. */
static guint16
closed_port (void)
{
  int fd = socket (AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  GSocketAddress *any = loopback (G_SOCKET_FAMILY_IPV4, 0), *bound;
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  guint16 port;

  g_assert_true (g_socket_address_to_native (any, &ss, sizeof ss, NULL));
  g_assert_cmpint (bind (fd, (struct sockaddr *) &ss, g_socket_address_get_native_size (any)), ==, 0);
  g_assert_cmpint (getsockname (fd, (struct sockaddr *) &ss, &len), ==, 0);
  bound = g_socket_address_new_from_native (&ss, len);
  port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
  close (fd);
  g_object_unref (bound);
  g_object_unref (any);
  return port;
}

static void
test_refused (void)
{
  EvlLoop *loop;
  TestDgram *proto;
  EvlDatagramTransport *client;
  GSocketAddress *remote;
  GBytes *data;
  GError *error;
  guint i;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);

  proto = test_dgram_new ();
  remote = loopback (G_SOCKET_FAMILY_IPV4, closed_port ());
  client = endpoint (loop, proto, NULL, remote);

  /* The ICMP "port unreachable" comes back as ECONNREFUSED on the
   * connected socket: error_received, and the endpoint stays open. */
  data = bytes_printf ("anyone?");
  evl_datagram_transport_sendto (client, data, NULL);
  g_assert_true (evl_test_run_until_flag (loop, &proto->got_error, 20.0));
  error = proto->errors->pdata[0];
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED);
  g_test_message ("%s", error->message);
  g_assert_false (evl_transport_is_closing (EVL_TRANSPORT (client)));
  g_assert_true (evl_transport_is_reading (EVL_TRANSPORT (client)));
  g_assert_cmpuint (proto->n_lost, ==, 0);

  /* Again: every error is reported, the endpoint keeps working. */
  for (i = 0; i < 3; i++)
    {
      guint before = proto->errors->len;

      proto->got_error = FALSE;
      evl_datagram_transport_sendto (client, data, NULL);
      if (proto->errors->len == before)
        g_assert_true (evl_test_run_until_flag (loop, &proto->got_error, 20.0));
      error = proto->errors->pdata[proto->errors->len - 1];
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED);
    }
  evl_test_run_once (loop);
  g_assert_cmpuint (proto->n_lost, ==, 0);
  g_bytes_unref (data);

  close_and_wait (loop, client, proto);
  g_object_unref (client);
  g_object_unref (proto);
  g_object_unref (remote);
  evl_test_close_loop (loop);
}

static void
test_burst (void)
{
  EvlLoop *loop;
  TestDgram *server_proto, *client_proto;
  EvlDatagramTransport *server, *client;
  GSocketAddress *any, *server_address;
  guint n = 100, i;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);

  server_proto = test_dgram_new ();
  server_proto->expect = n;
  client_proto = test_dgram_new ();
  any = loopback (G_SOCKET_FAMILY_IPV4, 0);
  server = endpoint (loop, server_proto, any, NULL);
  server_address = evl_transport_get_local_address (EVL_TRANSPORT (server));
  client = endpoint (loop, client_proto, NULL, server_address);

  for (i = 0; i < n; i++)
    {
      GBytes *data = bytes_printf ("datagram %u", i);

      evl_datagram_transport_sendto (client, data, NULL);
      g_bytes_unref (data);
    }
  g_assert_true (evl_test_run_until_flag (loop, &server_proto->got_expected, 20.0));
  /* None lost, none duplicated, in order (loopback keeps the order). */
  evl_test_run_once (loop);
  g_assert_cmpuint (server_proto->data->len, ==, n);
  for (i = 0; i < n; i++)
    {
      char *expected = g_strdup_printf ("datagram %u", i);

      assert_bytes (server_proto->data->pdata[i], expected);
      g_free (expected);
    }
  g_assert_cmpuint (server_proto->errors->len + client_proto->errors->len, ==, 0);

  close_and_wait (loop, client, client_proto);
  close_and_wait (loop, server, server_proto);
  g_object_unref (client);
  g_object_unref (server);
  g_object_unref (client_proto);
  g_object_unref (server_proto);
  g_object_unref (any);
  evl_test_close_loop (loop);
}

static void
test_close_abort (void)
{
  EvlLoop *loop;
  TestDgram *proto;
  EvlDatagramTransport *transport;
  GSocketAddress *any;
  GBytes *data;
  guint n_fds;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  n_fds = evl_test_count_fds ();
  any = loopback (G_SOCKET_FAMILY_IPV4, 0);
  data = bytes_printf ("late");

  /* close: connection_lost once, from the loop, with no error. */
  proto = test_dgram_new ();
  transport = endpoint (loop, proto, any, NULL);
  evl_transport_close (EVL_TRANSPORT (transport));
  g_assert_false (proto->lost);
  g_assert_false (evl_transport_is_reading (EVL_TRANSPORT (transport)));
  evl_transport_close (EVL_TRANSPORT (transport));
  evl_transport_abort (EVL_TRANSPORT (transport));
  /* Sending after close is ignored. */
  evl_datagram_transport_sendto (transport, data, any);
  g_assert_true (evl_test_run_until_flag (loop, &proto->lost, 20.0));
  evl_test_run_once (loop);
  g_assert_cmpuint (proto->n_lost, ==, 1);
  g_assert_no_error (proto->lost_error);
  g_assert_null (evl_transport_get_protocol (EVL_TRANSPORT (transport)));
  g_object_unref (transport);
  g_object_unref (proto);

  /* abort: the same. */
  proto = test_dgram_new ();
  transport = endpoint (loop, proto, any, NULL);
  evl_transport_abort (EVL_TRANSPORT (transport));
  evl_transport_close (EVL_TRANSPORT (transport));
  g_assert_true (evl_test_run_until_flag (loop, &proto->lost, 20.0));
  evl_test_run_once (loop);
  g_assert_cmpuint (proto->n_lost, ==, 1);
  g_assert_no_error (proto->lost_error);
  g_object_unref (transport);
  g_object_unref (proto);

  /* Dropping every reference: the library keeps the endpoint and its
   * protocol until connection_lost. */
  proto = test_dgram_new ();
  transport = endpoint (loop, proto, any, NULL);
  g_object_add_weak_pointer (G_OBJECT (transport), (gpointer *) &transport);
  g_object_unref (transport);
  g_assert_nonnull (transport);
  evl_transport_close (EVL_TRANSPORT (transport));
  g_assert_true (evl_test_run_until_flag (loop, &proto->lost, 20.0));
  evl_test_run_once (loop);
  g_assert_null (transport);
  g_object_unref (proto);

  g_bytes_unref (data);
  g_object_unref (any);
  g_assert_cmpuint (evl_test_count_fds (), ==, n_fds);
  evl_test_close_loop (loop);
}

static void
test_pause_reading (void)
{
  EvlLoop *loop;
  TestDgram *server_proto, *client_proto;
  EvlDatagramTransport *server, *client;
  GSocketAddress *any, *server_address;
  GBytes *data;
  guint i;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);

  server_proto = test_dgram_new ();
  server_proto->expect = 5;
  client_proto = test_dgram_new ();
  any = loopback (G_SOCKET_FAMILY_IPV4, 0);
  server = endpoint (loop, server_proto, any, NULL);
  server_address = evl_transport_get_local_address (EVL_TRANSPORT (server));
  client = endpoint (loop, client_proto, NULL, server_address);

  evl_transport_pause_reading (EVL_TRANSPORT (server));
  g_assert_false (evl_transport_is_reading (EVL_TRANSPORT (server)));
  data = bytes_printf ("held");
  for (i = 0; i < 5; i++)
    evl_datagram_transport_sendto (client, data, NULL);
  for (i = 0; i < 5; i++)
    evl_test_run_once (loop);
  g_assert_cmpuint (server_proto->data->len, ==, 0);

  evl_transport_resume_reading (EVL_TRANSPORT (server));
  g_assert_true (evl_transport_is_reading (EVL_TRANSPORT (server)));
  g_assert_true (evl_test_run_until_flag (loop, &server_proto->got_expected, 20.0));
  g_assert_cmpuint (server_proto->data->len, ==, 5);
  g_bytes_unref (data);

  close_and_wait (loop, client, client_proto);
  close_and_wait (loop, server, server_proto);
  g_object_unref (client);
  g_object_unref (server);
  g_object_unref (client_proto);
  g_object_unref (server_proto);
  g_object_unref (any);
  evl_test_close_loop (loop);
}

/* Unix-domain datagram sockets block (EAGAIN) when the receiver's queue
 * is full, unlike UDP, which drops: the send buffer and flow control. */
static void
test_flow_control (void)
{
  EvlLoop *loop;
  TestDgram *server_proto, *client_proto;
  EvlDatagramTransport *server, *client;
  GSocketAddress *path_address;
  char *dir, *path;
  GBytes *data;
  guint n = 0, i;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);

  dir = g_dir_make_tmp ("evl-datagram-XXXXXX", NULL);
  g_assert_nonnull (dir);
  path = g_build_filename (dir, "socket", NULL);
  path_address = g_unix_socket_address_new (path);

  server_proto = test_dgram_new ();
  client_proto = test_dgram_new ();
  server = endpoint (loop, server_proto, path_address, NULL);
  client = endpoint (loop, client_proto, NULL, path_address);
  evl_transport_set_write_buffer_limits (EVL_TRANSPORT (client), 4096, 1024);

  /* The server does not read: the queue fills, sends wait in the buffer. */
  evl_transport_pause_reading (EVL_TRANSPORT (server));
  data = g_bytes_new_take (g_malloc0 (1000), 1000);
  while (!client_proto->paused)
    {
      evl_datagram_transport_sendto (client, data, NULL);
      n++;
      g_assert_cmpuint (n, <, 100000);
    }
  g_assert_cmpuint (client_proto->n_pause, ==, 1);
  g_assert_cmpuint (evl_transport_get_write_buffer_size (EVL_TRANSPORT (client)), >, 4096);
  for (i = 0; i < 3; i++)
    evl_test_run_once (loop);
  g_assert_true (client_proto->paused);

  /* Reading again drains everything, in order, nothing lost. */
  server_proto->expect = n;
  evl_transport_resume_reading (EVL_TRANSPORT (server));
  g_assert_true (evl_test_run_until_flag (loop, &client_proto->resumed, 20.0));
  g_assert_true (evl_test_run_until_flag (loop, &server_proto->got_expected, 20.0));
  g_assert_cmpuint (server_proto->data->len, ==, n);
  g_assert_cmpuint (client_proto->n_resume, ==, 1);
  g_assert_cmpuint (evl_transport_get_write_buffer_size (EVL_TRANSPORT (client)), ==, 0);
  g_assert_cmpuint (server_proto->errors->len + client_proto->errors->len, ==, 0);

  /* close() sends what is buffered first. */
  server_proto->expect = n + 40;
  server_proto->got_expected = FALSE;
  evl_transport_pause_reading (EVL_TRANSPORT (server));
  for (i = 0; i < 40; i++)
    evl_datagram_transport_sendto (client, data, NULL);
  evl_transport_close (EVL_TRANSPORT (client));
  evl_test_run_once (loop);
  evl_transport_resume_reading (EVL_TRANSPORT (server));
  g_assert_true (evl_test_run_until_flag (loop, &client_proto->lost, 20.0));
  g_assert_true (evl_test_run_until_flag (loop, &server_proto->got_expected, 20.0));
  g_assert_cmpuint (server_proto->data->len, ==, n + 40);
  g_assert_no_error (client_proto->lost_error);
  g_bytes_unref (data);

  close_and_wait (loop, server, server_proto);
  g_object_unref (client);
  g_object_unref (server);
  g_object_unref (client_proto);
  g_object_unref (server_proto);
  g_object_unref (path_address);
  g_unlink (path);
  g_rmdir (dir);
  g_free (path);
  g_free (dir);
  evl_test_close_loop (loop);
}

static void
test_errors (void)
{
  EvlLoop *loop;
  TestDgram *proto;
  EvlDatagramTransport *first, *second;
  GSocketAddress *v4, *v6, *bound;
  GCancellable *cancellable;
  GError *error = NULL;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  proto = test_dgram_new ();
  v4 = loopback (G_SOCKET_FAMILY_IPV4, 0);
  v6 = loopback (G_SOCKET_FAMILY_IPV6, 0);

  /* No address at all; two families. */
  g_assert_null (endpoint_full (loop, proto, NULL, NULL, 0, NULL, &error));
  g_assert_error (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_null (endpoint_full (loop, proto, v4, v6, 0, NULL, &error));
  g_assert_error (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_cmpuint (proto->n_made, ==, 0);

  /* The port is taken, unless both share it with REUSE_PORT. */
  first = endpoint (loop, proto, v4, NULL);
  bound = evl_transport_get_local_address (EVL_TRANSPORT (first));
  {
    TestDgram *other = test_dgram_new ();

    g_assert_null (endpoint_full (loop, other, bound, NULL, 0, NULL, &error));
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE);
    g_test_message ("%s", error->message);
    g_clear_error (&error);
    g_object_unref (other);
  }
  close_and_wait (loop, first, proto);
  g_object_unref (first);
  g_object_unref (proto);

  {
    TestDgram *a = test_dgram_new (), *b = test_dgram_new ();

    first = endpoint_full (loop, a, v4, NULL, EVL_DATAGRAM_FLAGS_REUSE_PORT |
                           EVL_DATAGRAM_FLAGS_ALLOW_BROADCAST, NULL, &error);
    g_assert_no_error (error);
    bound = evl_transport_get_local_address (EVL_TRANSPORT (first));
    second = endpoint_full (loop, b, bound, NULL, EVL_DATAGRAM_FLAGS_REUSE_PORT, NULL, &error);
    g_assert_no_error (error);
    g_assert_nonnull (second);
    close_and_wait (loop, first, a);
    close_and_wait (loop, second, b);
    g_object_unref (first);
    g_object_unref (second);
    g_object_unref (a);
    g_object_unref (b);
  }

  /* Cancelled before the call, or right after it (before the loop ran). */
  proto = test_dgram_new ();
  cancellable = g_cancellable_new ();
  g_cancellable_cancel (cancellable);
  g_assert_null (endpoint_full (loop, proto, v4, NULL, 0, cancellable, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);
  g_object_unref (cancellable);
  g_assert_cmpuint (proto->n_made, ==, 0);
  g_object_unref (proto);

  /* On a closed loop: CLOSED at once. */
  proto = test_dgram_new ();
  g_assert_true (evl_loop_close (loop, NULL));
  g_assert_null (endpoint_full (loop, proto, v4, NULL, 0, NULL, &error));
  g_assert_error (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_CLOSED);
  g_clear_error (&error);
  g_object_unref (proto);

  g_object_unref (v4);
  g_object_unref (v6);
  evl_test_close_loop (loop);
}

static EvlDatagramProtocol *
factory_null (gpointer data)
{
  evl_test_count (data);
  return NULL;
}

static void
test_empty_and_factory (void)
{
  EvlLoop *loop;
  TestDgram *server_proto, *client_proto;
  EvlDatagramTransport *server, *client;
  GSocketAddress *any, *server_address;
  GBytes *empty;
  GError *error = NULL;
  Waiter w = { 0 };
  guint n_calls = 0, n_fds;

  n_fds = evl_test_count_fds ();
  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  any = loopback (G_SOCKET_FAMILY_IPV4, 0);

  /* An empty datagram is a datagram. */
  server_proto = test_dgram_new ();
  server_proto->expect = 1;
  client_proto = test_dgram_new ();
  server = endpoint (loop, server_proto, any, NULL);
  server_address = evl_transport_get_local_address (EVL_TRANSPORT (server));
  client = endpoint (loop, client_proto, NULL, server_address);
  empty = g_bytes_new (NULL, 0);
  evl_datagram_transport_sendto (client, empty, NULL);
  g_assert_true (evl_test_run_until_flag (loop, &server_proto->got_expected, 20.0));
  g_assert_cmpuint (g_bytes_get_size (server_proto->data->pdata[0]), ==, 0);
  g_bytes_unref (empty);
  close_and_wait (loop, client, client_proto);
  close_and_wait (loop, server, server_proto);
  g_object_unref (client);
  g_object_unref (server);
  g_object_unref (client_proto);
  g_object_unref (server_proto);

  /* A factory that makes no protocol: FAILED, and the socket is closed. */
  w.loop = loop;
  evl_loop_create_datagram_endpoint_async (loop, factory_null, &n_calls, evl_test_count,
                                           any, NULL, NULL, waiter_cb, &w);
  g_assert_true (evl_test_run_until_flag (loop, &w.done, 20.0));
  g_assert_null (evl_loop_create_datagram_endpoint_finish (loop, w.result, NULL, &error));
  g_assert_error (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_FAILED);
  g_clear_error (&error);
  g_object_unref (w.result);
  /* The factory ran once, then its notify. */
  g_assert_cmpuint (n_calls, ==, 2);

  g_object_unref (any);
  evl_test_close_loop (loop);
  g_assert_cmpuint (evl_test_count_fds (), ==, n_fds);
}

static void
count_cb (GObject      *source,
          GAsyncResult *result,
          gpointer      user_data)
{
  GError *error = NULL;

  g_assert_null (evl_loop_create_datagram_endpoint_finish (EVL_LOOP (source), result, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_error_free (error);
  evl_test_count (user_data);
}

static void
test_loop_closed (void)
{
  EvlLoop *loop;
  TestDgram *proto, *pending;
  EvlDatagramTransport *transport;
  GSocketAddress *any;
  guint n_fds, n_cb = 0;

  n_fds = evl_test_count_fds ();
  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  any = loopback (G_SOCKET_FAMILY_IPV4, 0);

  proto = test_dgram_new ();
  transport = endpoint (loop, proto, any, NULL);
  /* One still being created when the loop closes. */
  pending = test_dgram_new ();
  evl_loop_create_datagram_endpoint_async (loop, factory_ref, g_object_ref (pending), g_object_unref,
                                           any, NULL, NULL, count_cb, &n_cb);

  /* Closing the loop ends the endpoint: connection_lost once, from
   * close(), with EVL_LOOP_ERROR_CLOSED; the fd is closed. */
  g_assert_true (evl_loop_close (loop, NULL));
  g_assert_cmpuint (proto->n_lost, ==, 1);
  g_assert_error (proto->lost_error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_CLOSED);
  g_assert_cmpint (evl_transport_get_fd (EVL_TRANSPORT (transport)), ==, -1);
  g_assert_cmpuint (n_cb, ==, 1);
  g_assert_cmpuint (pending->n_made, ==, 0);
  evl_transport_close (EVL_TRANSPORT (transport));
  g_assert_cmpuint (proto->n_lost, ==, 1);

  g_object_unref (transport);
  g_object_unref (proto);
  g_object_unref (pending);
  g_object_unref (any);
  evl_test_close_loop (loop);
  g_assert_cmpuint (evl_test_count_fds (), ==, n_fds);
}

int
main (int   argc,
      char *argv[])
{
  evl_test_init (&argc, &argv);
  evl_test_watchdog_start (100);

  g_test_add_func ("/Evl/Datagram/ipv4", test_ipv4);
  g_test_add_func ("/Evl/Datagram/ipv6", test_ipv6);
  g_test_add_func ("/Evl/Datagram/connected", test_connected);
  g_test_add_func ("/Evl/Datagram/refused", test_refused);
  g_test_add_func ("/Evl/Datagram/burst", test_burst);
  g_test_add_func ("/Evl/Datagram/close-abort", test_close_abort);
  g_test_add_func ("/Evl/Datagram/pause-reading", test_pause_reading);
  g_test_add_func ("/Evl/Datagram/flow-control", test_flow_control);
  g_test_add_func ("/Evl/Datagram/errors", test_errors);
  g_test_add_func ("/Evl/Datagram/empty-and-factory", test_empty_and_factory);
  g_test_add_func ("/Evl/Datagram/loop-closed", test_loop_closed);

  return g_test_run ();
}
