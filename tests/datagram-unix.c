/* datagram-unix.c: the datagram endpoints' Unix-only cases, on the loop
 * kind under test
 *
 * Not built on Windows (tests/meson.build): Winsock has no Unix-domain
 * datagram sockets and no SO_REUSEPORT; datagram-win32.c checks that both
 * fail there with EVL_LOOP_ERROR_NOT_SUPPORTED.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "evl-test-dgram.h"

#include <gio/gunixsocketaddress.h>
#include <glib/gstdio.h>

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
  server = test_dgram_endpoint (loop, server_proto, path_address, NULL);
  client = test_dgram_endpoint (loop, client_proto, NULL, path_address);
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

  test_dgram_close_and_wait (loop, server, server_proto);
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

/* Two endpoints share a port when both ask for it (SO_REUSEPORT); one
 * that does not ask finds it taken. */
static void
test_reuse_port (void)
{
  EvlLoop *loop;
  EvlDatagramTransport *first, *second;
  TestDgram *a, *b, *c;
  GSocketAddress *v4, *bound;
  GError *error = NULL;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  v4 = test_dgram_loopback (G_SOCKET_FAMILY_IPV4, 0);
  a = test_dgram_new ();
  b = test_dgram_new ();
  c = test_dgram_new ();

  first = test_dgram_endpoint_full (loop, a, v4, NULL, EVL_DATAGRAM_FLAGS_REUSE_PORT |
                                    EVL_DATAGRAM_FLAGS_ALLOW_BROADCAST, NULL, &error);
  g_assert_no_error (error);
  bound = evl_transport_get_local_address (EVL_TRANSPORT (first));
  second = test_dgram_endpoint_full (loop, b, bound, NULL, EVL_DATAGRAM_FLAGS_REUSE_PORT, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (second);
  g_assert_null (test_dgram_endpoint_full (loop, c, bound, NULL, 0, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE);
  g_clear_error (&error);
  g_assert_cmpuint (c->n_made, ==, 0);

  test_dgram_close_and_wait (loop, first, a);
  test_dgram_close_and_wait (loop, second, b);
  g_object_unref (first);
  g_object_unref (second);
  g_object_unref (a);
  g_object_unref (b);
  g_object_unref (c);
  g_object_unref (v4);
  evl_test_close_loop (loop);
}

int
main (int   argc,
      char *argv[])
{
  evl_test_init (&argc, &argv);
  evl_test_watchdog_start (100);

  g_test_add_func ("/Evl/Datagram/unix/flow-control", test_flow_control);
  g_test_add_func ("/Evl/Datagram/unix/reuse-port", test_reuse_port);

  return g_test_run ();
}
