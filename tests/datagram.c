/* datagram.c: tests of create_datagram_endpoint and EvlDatagramTransport,
 * on the loop kind under test, on every platform
 *
 * UDP only, through the public API (and GSocket for the few raw sockets).
 * What only Unix has (Unix-domain datagram sockets, SO_REUSEPORT) is in
 * datagram-unix.c; what only Windows does, in datagram-win32.c.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "evl-test-dgram.h"

#include <gio/gnetworking.h>
#include <string.h>

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

  any = test_dgram_loopback (family, 0);
  server = test_dgram_endpoint (loop, server_proto, any, NULL);
  client = test_dgram_endpoint (loop, client_proto, any, NULL);
  server_address = evl_transport_get_local_address (EVL_TRANSPORT (server));
  client_address = evl_transport_get_local_address (EVL_TRANSPORT (client));
  g_assert_nonnull (server_address);
  g_assert_cmpuint (g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (server_address)), !=, 0);
  g_assert_null (evl_transport_get_peer_address (EVL_TRANSPORT (server)));
  g_assert_cmpint (evl_transport_get_fd (EVL_TRANSPORT (server)), >=, 0);
  g_assert_true (evl_transport_is_reading (EVL_TRANSPORT (server)));

  ping = test_dgram_bytes_printf ("ping %d", family);
  evl_datagram_transport_sendto (client, ping, server_address);
  g_assert_true (evl_test_run_until_flag (loop, &client_proto->got_expected, 20.0));

  /* The server saw the client's address; the client, the server's. */
  g_assert_cmpuint (server_proto->data->len, ==, 1);
  g_assert_true (g_bytes_equal (server_proto->data->pdata[0], ping));
  g_assert_true (test_dgram_address_equal (server_proto->senders->pdata[0], client_address));
  g_assert_cmpuint (client_proto->data->len, ==, 1);
  g_assert_true (g_bytes_equal (client_proto->data->pdata[0], ping));
  g_assert_true (test_dgram_address_equal (client_proto->senders->pdata[0], server_address));
  g_assert_cmpuint (server_proto->errors->len + client_proto->errors->len, ==, 0);
  g_assert_cmpuint (evl_transport_get_write_buffer_size (EVL_TRANSPORT (client)), ==, 0);
  g_bytes_unref (ping);

  test_dgram_close_and_wait (loop, client, client_proto);
  test_dgram_close_and_wait (loop, server, server_proto);
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
  if (!test_dgram_ipv6_available ())
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

  any = test_dgram_loopback (G_SOCKET_FAMILY_IPV4, 0);
  server = test_dgram_endpoint (loop, server_proto, any, NULL);
  server_address = evl_transport_get_local_address (EVL_TRANSPORT (server));
  client = test_dgram_endpoint (loop, client_proto, NULL, server_address);
  peer = evl_transport_get_peer_address (EVL_TRANSPORT (client));
  g_assert_nonnull (peer);
  g_assert_true (test_dgram_address_equal (peer, server_address));

  /* NULL, the peer's own address, and write(): all to the peer. */
  one = test_dgram_bytes_printf ("one");
  two = test_dgram_bytes_printf ("two");
  three = test_dgram_bytes_printf ("three");
  evl_datagram_transport_sendto (client, one, NULL);
  evl_datagram_transport_sendto (client, two, server_address);
  evl_transport_write (EVL_TRANSPORT (client), three);
  g_assert_true (evl_test_run_until_flag (loop, &client_proto->got_expected, 20.0));
  g_assert_cmpuint (client_proto->data->len, ==, 3);
  test_dgram_assert_bytes (client_proto->data->pdata[0], "one");
  test_dgram_assert_bytes (client_proto->data->pdata[1], "two");
  test_dgram_assert_bytes (client_proto->data->pdata[2], "three");
  g_assert_true (test_dgram_address_equal (client_proto->senders->pdata[0], server_address));

  /* Another address on a connected endpoint is a programming error. */
  {
    GSocketAddress *other = test_dgram_loopback (G_SOCKET_FAMILY_IPV4, 9);

    g_test_expect_message (G_LOG_DOMAIN, G_LOG_LEVEL_CRITICAL, "*connected*");
    evl_datagram_transport_sendto (client, one, other);
    g_test_assert_expected_messages ();
    g_object_unref (other);
  }

  g_bytes_unref (one);
  g_bytes_unref (two);
  g_bytes_unref (three);
  test_dgram_close_and_wait (loop, client, client_proto);
  test_dgram_close_and_wait (loop, server, server_proto);
  g_object_unref (client);
  g_object_unref (server);
  g_object_unref (client_proto);
  g_object_unref (server_proto);
  g_object_unref (any);
  evl_test_close_loop (loop);
}

/* Sends @data to the closed port until error_received runs; returns how
 * many sends it took. Unix reports the ICMP error of every send. Wine 8
 * misses some (its poll does not see the first; a later receive may say
 * WSAEWOULDBLOCK and keep the error in SO_ERROR, which the transport then
 * reads): there it may take a few. */
static guint
send_until_error (EvlLoop              *loop,
                  EvlDatagramTransport *client,
                  TestDgram            *proto,
                  GBytes               *data)
{
  guint before = proto->errors->len;
  guint max_sends = evl_test_under_wine () ? 50 : 1;
  guint n;

  for (n = 1; n <= max_sends; n++)
    {
      proto->got_error = FALSE;
      evl_datagram_transport_sendto (client, data, NULL);
      if (proto->errors->len > before ||
          evl_test_run_until_flag (loop, &proto->got_error, max_sends > 1 ? 0.2 : 20.0))
        break;
    }
  g_assert_cmpuint (proto->errors->len, >, before);
  return n;
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
  guint i, n;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);

  proto = test_dgram_new ();
  remote = test_dgram_loopback (G_SOCKET_FAMILY_IPV4, test_dgram_closed_port ());
  client = test_dgram_endpoint (loop, proto, NULL, remote);

  /* The ICMP "port unreachable" comes back as ECONNREFUSED on the
   * connected socket (WSAECONNRESET on Windows): error_received, and the
   * endpoint stays open. */
  data = test_dgram_bytes_printf ("anyone?");
  n = send_until_error (loop, client, proto, data);
  error = proto->errors->pdata[0];
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED);
  g_test_message ("%s (after %u sends)", error->message, n);
  g_assert_false (evl_transport_is_closing (EVL_TRANSPORT (client)));
  g_assert_true (evl_transport_is_reading (EVL_TRANSPORT (client)));
  g_assert_cmpuint (proto->n_lost, ==, 0);

  /* Again: errors go on being reported, the endpoint keeps working. */
  for (i = 0; i < 3; i++)
    {
      n = send_until_error (loop, client, proto, data);
      g_test_message ("error %u after %u sends", i + 2, n);
      error = proto->errors->pdata[proto->errors->len - 1];
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED);
    }
  evl_test_run_once (loop);
  g_assert_cmpuint (proto->n_lost, ==, 0);
  g_bytes_unref (data);

  test_dgram_close_and_wait (loop, client, proto);
  g_object_unref (client);
  g_object_unref (proto);
  g_object_unref (remote);
  evl_test_close_loop (loop);
}

/* Unconnected, no ICMP error is reported: a server's receives do not fail
 * because one of its peers went away. Unix does so itself; on Windows the
 * endpoint turns the report off (SIO_UDP_CONNRESET; Wine 8 never reports
 * it on unconnected sockets, so there this does not prove the ioctl). */
static void
test_unconnected_unreachable (void)
{
  EvlLoop *loop;
  TestDgram *server_proto, *client_proto;
  EvlDatagramTransport *server, *client;
  GSocketAddress *any, *gone, *server_address;
  GBytes *data;
  guint i;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);

  server_proto = test_dgram_new ();
  server_proto->echo = TRUE;
  client_proto = test_dgram_new ();
  any = test_dgram_loopback (G_SOCKET_FAMILY_IPV4, 0);
  gone = test_dgram_loopback (G_SOCKET_FAMILY_IPV4, test_dgram_closed_port ());
  server = test_dgram_endpoint (loop, server_proto, any, NULL);
  client = test_dgram_endpoint (loop, client_proto, any, NULL);
  server_address = evl_transport_get_local_address (EVL_TRANSPORT (server));

  /* To the closed port, then to the server: the echoes are the first
   * things the client hears of, after the port unreachable messages. */
  data = test_dgram_bytes_printf ("anyone?");
  for (i = 0; i < 3; i++)
    evl_datagram_transport_sendto (client, data, gone);
  client_proto->expect = 3;
  for (i = 0; i < 3; i++)
    evl_datagram_transport_sendto (client, data, server_address);
  g_assert_true (evl_test_run_until_flag (loop, &client_proto->got_expected, 20.0));
  g_assert_cmpuint (client_proto->data->len, ==, 3);
  g_assert_cmpuint (client_proto->errors->len, ==, 0);
  g_assert_cmpuint (server_proto->errors->len, ==, 0);
  g_assert_true (evl_transport_is_reading (EVL_TRANSPORT (client)));
  g_bytes_unref (data);

  test_dgram_close_and_wait (loop, client, client_proto);
  test_dgram_close_and_wait (loop, server, server_proto);
  g_object_unref (client);
  g_object_unref (server);
  g_object_unref (client_proto);
  g_object_unref (server_proto);
  g_object_unref (gone);
  g_object_unref (any);
  evl_test_close_loop (loop);
}

/* How many of @proto's datagrams came from @sender. */
static guint
count_from (TestDgram      *proto,
            GSocketAddress *sender)
{
  guint i, n = 0;

  for (i = 0; i < proto->data->len; i++)
    if (proto->senders->pdata[i] != NULL &&
        test_dgram_address_equal (proto->senders->pdata[i], sender))
      n++;
  return n;
}

/* A burst of datagrams from one client: none lost, none duplicated, in
 * order (loopback keeps the order). The server is unconnected on a port
 * any process of the machine may send to (another test program's refused
 * or unreachable case sends to ports it saw free a moment ago): a datagram
 * from another sender is logged and not counted, but every one from the
 * client is, so a duplicate or a loss still fails. */
static void
test_burst (void)
{
  EvlLoop *loop;
  TestDgram *server_proto, *client_proto;
  EvlDatagramTransport *server, *client;
  GSocketAddress *any, *server_address, *client_address;
  GSocket *stray;
  GError *error = NULL;
  guint n = 100, i, k, from_client;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);

  server_proto = test_dgram_new ();
  server_proto->expect = n;
  client_proto = test_dgram_new ();
  any = test_dgram_loopback (G_SOCKET_FAMILY_IPV4, 0);
  server = test_dgram_endpoint (loop, server_proto, any, NULL);
  server_address = evl_transport_get_local_address (EVL_TRANSPORT (server));
  client = test_dgram_endpoint (loop, client_proto, NULL, server_address);
  client_address = evl_transport_get_local_address (EVL_TRANSPORT (client));
  g_assert_nonnull (client_address);

  /* The stray, made here so that the case is always seen: one datagram
   * from another socket amid the burst. */
  stray = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP, &error);
  g_assert_no_error (error);
  for (i = 0; i < n; i++)
    {
      GBytes *data = test_dgram_bytes_printf ("datagram %u", i);

      evl_datagram_transport_sendto (client, data, NULL);
      g_bytes_unref (data);
      if (i == n / 2)
        {
          g_assert_cmpint (g_socket_send_to (stray, server_address, "stray", 5, NULL, &error), ==, 5);
          g_assert_no_error (error);
        }
    }
  /* Until n from the client (a stray counts in data->len, not here). */
  for (;;)
    {
      g_assert_true (evl_test_run_until_flag (loop, &server_proto->got_expected, 20.0));
      from_client = count_from (server_proto, client_address);
      if (from_client >= n)
        break;
      server_proto->expect = server_proto->data->len + (n - from_client);
      server_proto->got_expected = FALSE;
    }
  evl_test_run_once (loop);
  for (i = 0; i < server_proto->data->len; i++)
    if (server_proto->senders->pdata[i] == NULL ||
        !test_dgram_address_equal (server_proto->senders->pdata[i], client_address))
      {
        gsize size;
        const char *bytes = g_bytes_get_data (server_proto->data->pdata[i], &size);
        char *from = server_proto->senders->pdata[i] != NULL ?
          g_socket_connectable_to_string (server_proto->senders->pdata[i]) : g_strdup ("?");

        g_test_message ("not from the client, not counted: %u bytes from %s: %.*s",
                        (guint) size, from, (int) MIN (size, 32), bytes);
        g_free (from);
      }
  g_assert_cmpuint (count_from (server_proto, client_address), ==, n);
  g_assert_cmpuint (server_proto->data->len, >=, n + 1);   /* the stray came, apart */
  for (i = 0, k = 0; i < server_proto->data->len; i++)
    {
      char *expected;

      if (server_proto->senders->pdata[i] == NULL ||
          !test_dgram_address_equal (server_proto->senders->pdata[i], client_address))
        continue;
      expected = g_strdup_printf ("datagram %u", k++);
      test_dgram_assert_bytes (server_proto->data->pdata[i], expected);
      g_free (expected);
    }
  g_assert_cmpuint (server_proto->errors->len + client_proto->errors->len, ==, 0);

  test_dgram_close_and_wait (loop, client, client_proto);
  test_dgram_close_and_wait (loop, server, server_proto);
  g_object_unref (client);
  g_object_unref (server);
  g_object_unref (client_proto);
  g_object_unref (server_proto);
  g_object_unref (any);
  g_object_unref (stray);
  evl_test_close_loop (loop);
}

/* A datagram near UDP's largest (65507 bytes on IPv4) arrives whole. */
static void
test_large (void)
{
  EvlLoop *loop;
  TestDgram *server_proto, *client_proto;
  EvlDatagramTransport *server, *client;
  GSocketAddress *any, *server_address;
  guint8 *payload;
  GBytes *data;
  gsize i, size = 65000;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);

  server_proto = test_dgram_new ();
  server_proto->echo = TRUE;
  client_proto = test_dgram_new ();
  client_proto->expect = 1;
  any = test_dgram_loopback (G_SOCKET_FAMILY_IPV4, 0);
  server = test_dgram_endpoint (loop, server_proto, any, NULL);
  server_address = evl_transport_get_local_address (EVL_TRANSPORT (server));
  client = test_dgram_endpoint (loop, client_proto, NULL, server_address);

  payload = g_malloc (size);
  for (i = 0; i < size; i++)
    payload[i] = (guint8) (i * 31 + i / 251);
  data = g_bytes_new_take (payload, size);
  evl_datagram_transport_sendto (client, data, NULL);
  g_assert_true (evl_test_run_until_flag (loop, &client_proto->got_expected, 20.0));
  g_assert_cmpuint (client_proto->data->len, ==, 1);
  g_assert_true (g_bytes_equal (client_proto->data->pdata[0], data));
  g_assert_cmpuint (server_proto->errors->len + client_proto->errors->len, ==, 0);
  g_bytes_unref (data);

  test_dgram_close_and_wait (loop, client, client_proto);
  test_dgram_close_and_wait (loop, server, server_proto);
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
  any = test_dgram_loopback (G_SOCKET_FAMILY_IPV4, 0);
  data = test_dgram_bytes_printf ("late");

  /* close: connection_lost once, from the loop, with no error. */
  proto = test_dgram_new ();
  transport = test_dgram_endpoint (loop, proto, any, NULL);
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
  transport = test_dgram_endpoint (loop, proto, any, NULL);
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
  transport = test_dgram_endpoint (loop, proto, any, NULL);
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
  any = test_dgram_loopback (G_SOCKET_FAMILY_IPV4, 0);
  server = test_dgram_endpoint (loop, server_proto, any, NULL);
  server_address = evl_transport_get_local_address (EVL_TRANSPORT (server));
  client = test_dgram_endpoint (loop, client_proto, NULL, server_address);

  evl_transport_pause_reading (EVL_TRANSPORT (server));
  g_assert_false (evl_transport_is_reading (EVL_TRANSPORT (server)));
  data = test_dgram_bytes_printf ("held");
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

  test_dgram_close_and_wait (loop, client, client_proto);
  test_dgram_close_and_wait (loop, server, server_proto);
  g_object_unref (client);
  g_object_unref (server);
  g_object_unref (client_proto);
  g_object_unref (server_proto);
  g_object_unref (any);
  evl_test_close_loop (loop);
}

static void
test_errors (void)
{
  EvlLoop *loop;
  TestDgram *proto;
  EvlDatagramTransport *first;
  GSocketAddress *v4, *v6, *bound;
  GCancellable *cancellable;
  GError *error = NULL;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  proto = test_dgram_new ();
  v4 = test_dgram_loopback (G_SOCKET_FAMILY_IPV4, 0);
  v6 = test_dgram_loopback (G_SOCKET_FAMILY_IPV6, 0);

  /* No address at all; two families. */
  g_assert_null (test_dgram_endpoint_full (loop, proto, NULL, NULL, 0, NULL, &error));
  g_assert_error (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_null (test_dgram_endpoint_full (loop, proto, v4, v6, 0, NULL, &error));
  g_assert_error (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_cmpuint (proto->n_made, ==, 0);

  /* The port is taken (datagram-unix: unless both share it with
   * REUSE_PORT; datagram-win32: even for a socket with SO_REUSEADDR). */
  first = test_dgram_endpoint (loop, proto, v4, NULL);
  bound = evl_transport_get_local_address (EVL_TRANSPORT (first));
  {
    TestDgram *other = test_dgram_new ();

    g_assert_null (test_dgram_endpoint_full (loop, other, bound, NULL, 0, NULL, &error));
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE);
    g_test_message ("%s", error->message);
    g_clear_error (&error);
    g_object_unref (other);
  }
  test_dgram_close_and_wait (loop, first, proto);
  g_object_unref (first);
  g_object_unref (proto);

  /* Cancelled before the call, or right after it (before the loop ran). */
  proto = test_dgram_new ();
  cancellable = g_cancellable_new ();
  g_cancellable_cancel (cancellable);
  g_assert_null (test_dgram_endpoint_full (loop, proto, v4, NULL, 0, cancellable, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);
  g_object_unref (cancellable);
  g_assert_cmpuint (proto->n_made, ==, 0);
  g_object_unref (proto);

  /* On a closed loop: CLOSED at once. */
  proto = test_dgram_new ();
  g_assert_true (evl_loop_close (loop, NULL));
  g_assert_null (test_dgram_endpoint_full (loop, proto, v4, NULL, 0, NULL, &error));
  g_assert_error (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_CLOSED);
  g_clear_error (&error);
  g_object_unref (proto);

  g_object_unref (v4);
  g_object_unref (v6);
  evl_test_close_loop (loop);
}

static int
int_option (EvlDatagramTransport *transport,
            int                   level,
            int                   name)
{
  int fd = evl_transport_get_fd (EVL_TRANSPORT (transport));
  int value = 0;
  socklen_t len = sizeof value;

  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (getsockopt (fd, level, name, (void *) &value, &len), ==, 0);
  return value;
}

/* ALLOW_BROADCAST sets SO_BROADCAST (nothing is sent: only loopback
 * traffic here). */
static void
test_broadcast (void)
{
  EvlLoop *loop;
  TestDgram *a, *b;
  EvlDatagramTransport *plain, *broadcast;
  GSocketAddress *v4;
  GError *error = NULL;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  v4 = test_dgram_loopback (G_SOCKET_FAMILY_IPV4, 0);
  a = test_dgram_new ();
  b = test_dgram_new ();
  plain = test_dgram_endpoint (loop, a, v4, NULL);
  broadcast = test_dgram_endpoint_full (loop, b, v4, NULL, EVL_DATAGRAM_FLAGS_ALLOW_BROADCAST,
                                        NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (int_option (plain, SOL_SOCKET, SO_BROADCAST), ==, 0);
  g_assert_cmpint (int_option (broadcast, SOL_SOCKET, SO_BROADCAST), !=, 0);

  test_dgram_close_and_wait (loop, plain, a);
  test_dgram_close_and_wait (loop, broadcast, b);
  g_object_unref (plain);
  g_object_unref (broadcast);
  g_object_unref (a);
  g_object_unref (b);
  g_object_unref (v4);
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
  EvlTestWaiter w;
  guint n_calls = 0, n_fds;

  n_fds = evl_test_count_fds ();
  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  any = test_dgram_loopback (G_SOCKET_FAMILY_IPV4, 0);

  /* An empty datagram is a datagram. */
  server_proto = test_dgram_new ();
  server_proto->expect = 1;
  client_proto = test_dgram_new ();
  server = test_dgram_endpoint (loop, server_proto, any, NULL);
  server_address = evl_transport_get_local_address (EVL_TRANSPORT (server));
  client = test_dgram_endpoint (loop, client_proto, NULL, server_address);
  empty = g_bytes_new (NULL, 0);
  evl_datagram_transport_sendto (client, empty, NULL);
  g_assert_true (evl_test_run_until_flag (loop, &server_proto->got_expected, 20.0));
  g_assert_cmpuint (g_bytes_get_size (server_proto->data->pdata[0]), ==, 0);
  g_bytes_unref (empty);
  test_dgram_close_and_wait (loop, client, client_proto);
  test_dgram_close_and_wait (loop, server, server_proto);
  g_object_unref (client);
  g_object_unref (server);
  g_object_unref (client_proto);
  g_object_unref (server_proto);

  /* A factory that makes no protocol: FAILED, and the socket is closed. */
  evl_test_waiter_init (&w, loop);
  evl_loop_create_datagram_endpoint_async (loop, factory_null, &n_calls, evl_test_count,
                                           any, NULL, NULL, evl_test_waiter_cb, &w);
  evl_test_waiter_wait (&w);
  g_assert_null (evl_loop_create_datagram_endpoint_finish (loop, w.result, NULL, &error));
  g_assert_error (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_FAILED);
  g_clear_error (&error);
  evl_test_waiter_clear (&w);
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
  any = test_dgram_loopback (G_SOCKET_FAMILY_IPV4, 0);

  proto = test_dgram_new ();
  transport = test_dgram_endpoint (loop, proto, any, NULL);
  /* One still being created when the loop closes. */
  pending = test_dgram_new ();
  evl_loop_create_datagram_endpoint_async (loop, test_dgram_factory_ref, g_object_ref (pending), g_object_unref,
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
  g_test_add_func ("/Evl/Datagram/unconnected-unreachable", test_unconnected_unreachable);
  g_test_add_func ("/Evl/Datagram/burst", test_burst);
  g_test_add_func ("/Evl/Datagram/large", test_large);
  g_test_add_func ("/Evl/Datagram/close-abort", test_close_abort);
  g_test_add_func ("/Evl/Datagram/pause-reading", test_pause_reading);
  g_test_add_func ("/Evl/Datagram/errors", test_errors);
  g_test_add_func ("/Evl/Datagram/broadcast", test_broadcast);
  g_test_add_func ("/Evl/Datagram/empty-and-factory", test_empty_and_factory);
  g_test_add_func ("/Evl/Datagram/loop-closed", test_loop_closed);

  return g_test_run ();
}
