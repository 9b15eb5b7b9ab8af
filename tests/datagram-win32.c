/* datagram-win32.c: the datagram endpoints' Windows specifics, on the loop
 * kind under test
 *
 * Built on Windows only (tests/meson.build); datagram.c has the cases of
 * every platform. What Windows lacks fails with
 * EVL_LOOP_ERROR_NOT_SUPPORTED (SO_REUSEPORT, Unix-domain datagram
 * sockets); sockets bind with SO_EXCLUSIVEADDRUSE and are not inheritable;
 * the OS layer (src/win32/evl-os-dgram-private.h, compiled in) maps a
 * datagram too large for the buffer and the ICMP reports as Unix does.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "evl-test-dgram.h"

#include <gio/gnetworking.h>
#include <windows.h>

#include "evl-os-dgram-private.h"

static void
test_reuse_port_not_supported (void)
{
  EvlLoop *loop;
  TestDgram *proto;
  GSocketAddress *v4;
  GError *error = NULL;
  guint n_fds;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  n_fds = evl_test_count_fds ();
  proto = test_dgram_new ();
  v4 = test_dgram_loopback (G_SOCKET_FAMILY_IPV4, 0);

  g_assert_null (test_dgram_endpoint_full (loop, proto, v4, NULL, EVL_DATAGRAM_FLAGS_REUSE_PORT,
                                           NULL, &error));
  g_assert_error (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_NOT_SUPPORTED);
  g_test_message ("%s", error->message);
  g_clear_error (&error);
  g_assert_cmpuint (proto->n_made, ==, 0);
  g_assert_cmpuint (evl_test_count_fds (), ==, n_fds);

  g_object_unref (proto);
  g_object_unref (v4);
  evl_test_close_loop (loop);
}

static void
test_unix_not_supported (void)
{
  EvlLoop *loop;
  TestDgram *proto;
  GSocketAddress *path;
  GError *error = NULL;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  proto = test_dgram_new ();
  path = g_unix_socket_address_new ("evl-datagram-win32.sock");

  g_assert_null (test_dgram_endpoint_full (loop, proto, path, NULL, 0, NULL, &error));
  g_assert_error (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_NOT_SUPPORTED);
  g_test_message ("%s", error->message);
  g_clear_error (&error);
  g_assert_null (test_dgram_endpoint_full (loop, proto, NULL, path, 0, NULL, &error));
  g_assert_error (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_NOT_SUPPORTED);
  g_clear_error (&error);
  g_assert_cmpuint (proto->n_made, ==, 0);

  g_object_unref (proto);
  g_object_unref (path);
  evl_test_close_loop (loop);
}

/* SO_EXCLUSIVEADDRUSE: no socket takes the endpoint's port, not even one
 * with SO_REUSEADDR, which Windows would otherwise let in. (Wine refuses
 * that second bind even without the option, as Linux does: there the
 * getsockopt() is what tells.) The socket is not inheritable. */
static void
test_exclusive_not_inheritable (void)
{
  EvlLoop *loop;
  TestDgram *proto;
  EvlDatagramTransport *transport;
  GSocketAddress *v4, *bound;
  struct sockaddr_storage ss;
  SOCKET fd, other;
  int value = 0, len = sizeof value, one = 1, r, code;
  DWORD flags = 0;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  proto = test_dgram_new ();
  v4 = test_dgram_loopback (G_SOCKET_FAMILY_IPV4, 0);
  transport = test_dgram_endpoint (loop, proto, v4, NULL);
  fd = (SOCKET) evl_transport_get_fd (EVL_TRANSPORT (transport));

  g_assert_cmpint (getsockopt (fd, SOL_SOCKET, SO_EXCLUSIVEADDRUSE, (char *) &value, &len), ==, 0);
  g_assert_cmpint (value, !=, 0);
  g_assert_true (GetHandleInformation ((HANDLE) fd, &flags));
  g_assert_cmpuint (flags & HANDLE_FLAG_INHERIT, ==, 0);

  bound = evl_transport_get_local_address (EVL_TRANSPORT (transport));
  g_assert_true (g_socket_address_to_native (bound, &ss, sizeof ss, NULL));
  other = socket (AF_INET, SOCK_DGRAM, IPPROTO_UDP);
  g_assert_true (other != INVALID_SOCKET);
  g_assert_cmpint (setsockopt (other, SOL_SOCKET, SO_REUSEADDR, (char *) &one, sizeof one), ==, 0);
  r = bind (other, (struct sockaddr *) &ss, (int) g_socket_address_get_native_size (bound));
  code = WSAGetLastError ();
  g_assert_cmpint (r, !=, 0);
  g_assert_true (code == WSAEACCES || code == WSAEADDRINUSE);
  closesocket (other);

  test_dgram_close_and_wait (loop, transport, proto);
  g_object_unref (transport);
  g_object_unref (proto);
  g_object_unref (v4);
  evl_test_close_loop (loop);
}

/* The OS layer: a datagram larger than the buffer is dropped with
 * -EMSGSIZE (Windows has no MSG_TRUNC); the next receive finds nothing. */
static void
test_truncated (void)
{
  SOCKET receiver, sender;
  struct sockaddr_in addr;
  struct sockaddr_storage from;
  int len = sizeof addr;
  gsize from_len = sizeof from;
  char big[1000], small[100];
  u_long one = 1;
  gssize n;
  guint i;

  memset (&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  receiver = socket (AF_INET, SOCK_DGRAM, IPPROTO_UDP);
  sender = socket (AF_INET, SOCK_DGRAM, IPPROTO_UDP);
  g_assert_true (receiver != INVALID_SOCKET && sender != INVALID_SOCKET);
  g_assert_cmpint (ioctlsocket (receiver, FIONBIO, &one), ==, 0);
  g_assert_cmpint (bind (receiver, (struct sockaddr *) &addr, sizeof addr), ==, 0);
  g_assert_cmpint (getsockname (receiver, (struct sockaddr *) &addr, &len), ==, 0);

  memset (big, 'x', sizeof big);
  g_assert_cmpint (sendto (sender, big, sizeof big, 0, (struct sockaddr *) &addr, sizeof addr), ==,
                   sizeof big);
  /* Loopback delivers at once on Windows; under Wine, soon. */
  for (i = 0; i < 1000; i++)
    {
      n = evl_os_dgram_recvfrom ((int) receiver, small, sizeof small, &from, &from_len);
      if (n != -EAGAIN)
        break;
      g_usleep (1000);
    }
  g_assert_cmpint (n, ==, -EMSGSIZE);
  from_len = sizeof from;
  g_assert_cmpint (evl_os_dgram_recvfrom ((int) receiver, small, sizeof small, &from, &from_len),
                   ==, -EAGAIN);

  /* One that fits: its length and its sender. */
  g_assert_cmpint (sendto (sender, big, 10, 0, (struct sockaddr *) &addr, sizeof addr), ==, 10);
  for (i = 0; i < 1000; i++)
    {
      from_len = sizeof from;
      n = evl_os_dgram_recvfrom ((int) receiver, small, sizeof small, &from, &from_len);
      if (n != -EAGAIN)
        break;
      g_usleep (1000);
    }
  g_assert_cmpint (n, ==, 10);
  g_assert_cmpuint (from_len, ==, sizeof (struct sockaddr_in));
  g_assert_cmpint (((struct sockaddr_in *) &from)->sin_family, ==, AF_INET);

  closesocket (receiver);
  closesocket (sender);
}

/* The OS layer: ICMP reports. Windows says WSAECONNRESET where Unix says
 * ECONNREFUSED (Wine says WSAECONNREFUSED, which datagram.c's "refused"
 * case sees end to end); both are ECONNREFUSED for the transport. */
static void
test_icmp_errno (void)
{
  g_assert_cmpint (evl_os_dgram_errno (WSAECONNRESET), ==, ECONNREFUSED);
  g_assert_cmpint (evl_os_dgram_errno (WSAECONNREFUSED), ==, ECONNREFUSED);
  g_assert_cmpint (evl_os_dgram_errno (WSAENETRESET), ==, EHOSTUNREACH);
  g_assert_cmpint (evl_os_dgram_errno (WSAEWOULDBLOCK), ==, EAGAIN);
  g_assert_cmpint (evl_os_dgram_errno (WSAEMSGSIZE), ==, EMSGSIZE);
}

int
main (int   argc,
      char *argv[])
{
  evl_test_init (&argc, &argv);
  evl_test_watchdog_start (100);

  g_test_add_func ("/Evl/Datagram/win32/reuse-port-not-supported", test_reuse_port_not_supported);
  g_test_add_func ("/Evl/Datagram/win32/unix-not-supported", test_unix_not_supported);
  g_test_add_func ("/Evl/Datagram/win32/exclusive-not-inheritable", test_exclusive_not_inheritable);
  g_test_add_func ("/Evl/Datagram/win32/truncated", test_truncated);
  g_test_add_func ("/Evl/Datagram/win32/icmp-errno", test_icmp_errno);

  return g_test_run ();
}
