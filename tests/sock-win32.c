/* sock-win32.c: the socket primitives with Winsock sockets, on every loop kind
 *
 * tests/sock.c is POSIX (socketpair(), fcntl()); this covers the same
 * primitives with Winsock: accept and connect on loopback TCP, sendall of
 * more than a socket buffer, recv until EOF. Built on Windows only
 * (tests/meson.build).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "evl-test-util.h"

#include <gio/gnetworking.h>
#include <windows.h>

#define N_BYTES (1024 * 1024)

static SOCKET
nonblocking_tcp_socket (void)
{
  SOCKET s = socket (AF_INET, SOCK_STREAM, IPPROTO_TCP);
  u_long one = 1;

  g_assert_true (s != INVALID_SOCKET);
  g_assert_cmpint (ioctlsocket (s, FIONBIO, &one), ==, 0);
  g_assert_true (s <= G_MAXINT);
  return s;
}

static void
test_connect_accept_sendall_recv (void)
{
  EvlLoop *loop;
  SOCKET listener, client;
  struct sockaddr_in addr;
  int len = sizeof addr;
  GSocketAddress *address;
  EvlTestWaiter accept_w, connect_w, send_w;
  GError *error = NULL;
  guint8 *data;
  GBytes *bytes;
  GByteArray *received;
  int server;
  guint i;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  evl_test_watchdog_start (60);

  listener = nonblocking_tcp_socket ();
  memset (&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  g_assert_cmpint (bind (listener, (struct sockaddr *) &addr, sizeof addr), ==, 0);
  g_assert_cmpint (getsockname (listener, (struct sockaddr *) &addr, &len), ==, 0);
  g_assert_cmpint (listen (listener, 4), ==, 0);
  address = g_socket_address_new_from_native (&addr, sizeof addr);
  client = nonblocking_tcp_socket ();

  evl_test_waiter_init (&accept_w, loop);
  evl_test_waiter_init (&connect_w, loop);
  evl_loop_sock_accept_async (loop, (int) listener, NULL, evl_test_waiter_cb, &accept_w);
  evl_loop_sock_connect_async (loop, (int) client, address, NULL, evl_test_waiter_cb, &connect_w);
  evl_test_waiter_wait (&connect_w);
  g_assert_true (evl_loop_sock_connect_finish (loop, connect_w.result, &error));
  g_assert_no_error (error);
  evl_test_waiter_wait (&accept_w);
  server = evl_loop_sock_accept_finish (loop, accept_w.result, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (server, >=, 0);

  /* More than the socket buffers hold: sendall waits for writability. */
  data = g_malloc (N_BYTES);
  for (i = 0; i < N_BYTES; i++)
    data[i] = (guint8) (i * 7 + i / 4096);
  bytes = g_bytes_new_take (data, N_BYTES);
  evl_test_waiter_init (&send_w, loop);
  evl_loop_sock_sendall_async (loop, (int) client, bytes, NULL, evl_test_waiter_cb, &send_w);

  received = g_byte_array_new ();
  for (;;)
    {
      EvlTestWaiter recv_w;
      GBytes *chunk;

      evl_test_waiter_init (&recv_w, loop);
      evl_loop_sock_recv_async (loop, server, 65536, NULL, evl_test_waiter_cb, &recv_w);
      evl_test_waiter_wait (&recv_w);
      chunk = evl_loop_sock_recv_finish (loop, recv_w.result, &error);
      g_assert_no_error (error);
      g_assert_nonnull (chunk);
      evl_test_waiter_clear (&recv_w);
      if (g_bytes_get_size (chunk) == 0)
        {
          g_bytes_unref (chunk);
          break;
        }
      g_byte_array_append (received, g_bytes_get_data (chunk, NULL), g_bytes_get_size (chunk));
      g_bytes_unref (chunk);
      if (received->len == N_BYTES)
        {
          /* All there: the sender closes, the next recv sees EOF. */
          evl_test_waiter_wait (&send_w);
          g_assert_true (evl_loop_sock_sendall_finish (loop, send_w.result, &error));
          g_assert_no_error (error);
          shutdown (client, SD_SEND);
        }
    }
  g_assert_cmpuint (received->len, ==, N_BYTES);
  g_assert_true (memcmp (received->data, g_bytes_get_data (bytes, NULL), N_BYTES) == 0);

  evl_test_watchdog_cancel ();
  g_byte_array_unref (received);
  g_bytes_unref (bytes);
  evl_test_waiter_clear (&send_w);
  evl_test_waiter_clear (&accept_w);
  evl_test_waiter_clear (&connect_w);
  g_object_unref (address);
  evl_test_close_loop (loop);
  evl_test_sock_close (server);
  closesocket (client);
  closesocket (listener);
}

int
main (int    argc,
      char **argv)
{
  evl_test_init (&argc, &argv);

  g_test_add_func ("/Evl/SockWin32/connect-accept-sendall-recv", test_connect_accept_sendall_recv);

  return g_test_run ();
}
