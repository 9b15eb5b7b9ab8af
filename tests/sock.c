/* sock.c: tests of the socket primitives (sock_recv, sock_recv_into,
 * sock_sendall, sock_connect, sock_accept), on the loop kind under test
 *
 * On Unix and on Windows (Winsock sockets, run under Wine): the "fds" are
 * SOCKETs there, and the few POSIX calls go through the helpers of
 * evl-test-util-{unix,win32}.c (evl_test_socketpair() is a loopback TCP
 * pair on Windows). The tests that have no Windows meaning are in the
 * POSIX-only group at the end, each with its reason.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "evl-test-util.h"

#include <gio/gnetworking.h>
#include <string.h>

#ifdef G_OS_UNIX
#include <glib/gstdio.h>
#endif

#define MIB (1024 * 1024)

/* Helpers ---------------------------------------------------------------- */

static GSocketAddress *
loopback (GSocketFamily family,
          guint16       port)
{
  GInetAddress *inet = g_inet_address_new_loopback (family);
  GSocketAddress *address = g_inet_socket_address_new (inet, port);

  g_object_unref (inet);
  return address;
}

static int
tcp_socket (GSocketFamily family)
{
  int fd = evl_test_tcp_socket (family);

  g_assert_cmpint (fd, >=, 0);
  return fd;
}

static guint16
local_port (int fd)
{
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  GSocketAddress *address;
  guint16 port;

  g_assert_cmpint (getsockname (fd, (struct sockaddr *) &ss, &len), ==, 0);
  address = g_socket_address_new_from_native (&ss, len);
  port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (address));
  g_object_unref (address);
  return port;
}

/* A listening TCP socket on the loopback address; *address is where to
 * connect. -1 when the family is not available. */
static int
tcp_listener (GSocketFamily    family,
              int              backlog,
              GSocketAddress **address)
{
  GSocketAddress *any = loopback (family, 0);
  struct sockaddr_storage ss;
  int fd = evl_test_tcp_socket (family);

  if (fd < 0)
    {
      g_object_unref (any);
      return -1;
    }
  g_assert_true (g_socket_address_to_native (any, &ss, sizeof ss, NULL));
  if (bind (fd, (struct sockaddr *) &ss, g_socket_address_get_native_size (any)) != 0)
    {
      evl_test_sock_close (fd);
      g_object_unref (any);
      return -1;
    }
  g_object_unref (any);
  g_assert_cmpint (listen (fd, backlog), ==, 0);
  *address = loopback (family, local_port (fd));
  return fd;
}

/* A connected TCP pair made with sock_accept and sock_connect. FALSE when
 * the family is not available. */
static gboolean
tcp_pair (EvlLoop       *loop,
          GSocketFamily  family,
          int           *client,
          int           *server)
{
  GSocketAddress *address = NULL, *peer = NULL;
  GError *error = NULL;
  EvlTestWaiter a, c;
  int listener;

  listener = tcp_listener (family, 16, &address);
  if (listener < 0)
    return FALSE;
  *client = tcp_socket (family);

  evl_test_waiter_init (&a, loop);
  evl_test_waiter_init (&c, loop);
  evl_loop_sock_accept_async (loop, listener, NULL, evl_test_waiter_cb, &a);
  evl_loop_sock_connect_async (loop, *client, address, NULL, evl_test_waiter_cb, &c);
  evl_test_waiter_wait (&a);
  evl_test_waiter_wait (&c);
  g_assert_true (evl_loop_sock_connect_finish (loop, c.result, &error));
  g_assert_no_error (error);
  *server = evl_loop_sock_accept_finish (loop, a.result, &peer, &error);
  g_assert_no_error (error);
  g_assert_cmpint (*server, >=, 0);
  g_assert_true (G_IS_INET_SOCKET_ADDRESS (peer));
  g_assert_cmpuint (g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (peer)), ==,
                    local_port (*client));

  evl_test_waiter_clear (&a);
  evl_test_waiter_clear (&c);
  g_object_unref (peer);
  g_object_unref (address);
  evl_test_sock_close (listener);
  return TRUE;
}

static GBytes *
recv_sync (EvlLoop *loop,
           int      fd,
           gsize    max_bytes)
{
  GError *error = NULL;
  GBytes *bytes;
  EvlTestWaiter w;

  evl_test_waiter_init (&w, loop);
  evl_loop_sock_recv_async (loop, fd, max_bytes, NULL, evl_test_waiter_cb, &w);
  evl_test_waiter_wait (&w);
  bytes = evl_loop_sock_recv_finish (loop, w.result, &error);
  g_assert_no_error (error);
  g_assert_nonnull (bytes);
  evl_test_waiter_clear (&w);
  return bytes;
}

static void
sendall_sync (EvlLoop *loop,
              int      fd,
              GBytes  *data)
{
  GError *error = NULL;
  EvlTestWaiter w;

  evl_test_waiter_init (&w, loop);
  evl_loop_sock_sendall_async (loop, fd, data, NULL, evl_test_waiter_cb, &w);
  evl_test_waiter_wait (&w);
  g_assert_true (evl_loop_sock_sendall_finish (loop, w.result, &error));
  g_assert_no_error (error);
  evl_test_waiter_clear (&w);
}

static GBytes *
pattern_bytes (gsize   size,
               guint32 seed)
{
  guint8 *data = g_malloc (size);
  gsize i;

  for (i = 0; i < size; i++)
    {
      seed = seed * 1103515245 + 12345;
      data[i] = (guint8) (seed >> 16);
    }
  return g_bytes_new_take (data, size);
}

/* Keeps receiving on @fd until @total bytes came; optionally sends every
 * chunk back (an echo server). */
typedef struct
{
  EvlLoop    *loop;
  int         fd;
  gsize       total;
  gboolean    echo;
  GByteArray *received;
  guint       sends_pending;
  gboolean    done;
} Reader;

static void reader_next (Reader *r);

static void
reader_sent_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  Reader *r = user_data;
  GError *error = NULL;

  g_assert_true (evl_loop_sock_sendall_finish (r->loop, result, &error));
  g_assert_no_error (error);
  r->sends_pending--;
  if (r->received->len == r->total && r->sends_pending == 0)
    r->done = TRUE;
}

static void
reader_cb (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  Reader *r = user_data;
  GError *error = NULL;
  GBytes *bytes = evl_loop_sock_recv_finish (r->loop, result, &error);
  gsize size;

  g_assert_no_error (error);
  size = g_bytes_get_size (bytes);
  g_assert_cmpuint (size, >, 0);
  g_byte_array_append (r->received, g_bytes_get_data (bytes, NULL), size);
  if (r->echo)
    {
      /* Sendalls queue up on the fd and never interleave. */
      r->sends_pending++;
      evl_loop_sock_sendall_async (r->loop, r->fd, bytes, NULL, reader_sent_cb, r);
    }
  g_bytes_unref (bytes);
  g_assert_cmpuint (r->received->len, <=, r->total);
  if (r->received->len < r->total)
    reader_next (r);
  else if (r->sends_pending == 0)
    r->done = TRUE;
}

static void
reader_next (Reader *r)
{
  evl_loop_sock_recv_async (r->loop, r->fd, 65536, NULL, reader_cb, r);
}

static void
reader_start (Reader  *r,
              EvlLoop *loop,
              int      fd,
              gsize    total,
              gboolean echo)
{
  *r = (Reader) { 0 };
  r->loop = loop;
  r->fd = fd;
  r->total = total;
  r->echo = echo;
  r->received = g_byte_array_new ();
  reader_next (r);
}

/* Tests ------------------------------------------------------------------ */

static void
test_connect_accept (void)
{
  GSocketAddress *address, *peer = NULL;
  GError *error = NULL;
  EvlLoop *loop;
  EvlTestWaiter a, c;
  int listener, client, server;
  guint fds_before;

  fds_before = evl_test_count_fds ();
  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  listener = tcp_listener (G_SOCKET_FAMILY_IPV4, 16, &address);
  client = tcp_socket (G_SOCKET_FAMILY_IPV4);

  evl_test_waiter_init (&a, loop);
  evl_test_waiter_init (&c, loop);
  evl_loop_sock_accept_async (loop, listener, NULL, evl_test_waiter_cb, &a);
  evl_loop_sock_connect_async (loop, client, address, NULL, evl_test_waiter_cb, &c);
  /* Never from inside the call. */
  g_assert_false (a.done);
  g_assert_false (c.done);
  evl_test_waiter_wait (&a);
  evl_test_waiter_wait (&c);
  g_assert_true (a.in_loop);
  g_assert_true (c.in_loop);

  g_assert_true (evl_loop_sock_connect_finish (loop, c.result, &error));
  g_assert_no_error (error);
  server = evl_loop_sock_accept_finish (loop, a.result, &peer, &error);
  g_assert_no_error (error);
  g_assert_cmpint (server, >=, 0);
  evl_test_assert_sock_flags (server);

  /* The peer address is the client's. */
  g_assert_true (G_IS_INET_SOCKET_ADDRESS (peer));
  g_assert_cmpuint (g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (peer)), ==, local_port (client));
  g_assert_true (g_inet_address_get_is_loopback (g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (peer))));

  evl_test_waiter_clear (&a);
  evl_test_waiter_clear (&c);
  g_object_unref (peer);
  g_object_unref (address);
  evl_test_sock_close (client);
  evl_test_sock_close (server);
  evl_test_sock_close (listener);
  evl_test_close_loop (loop);
  g_assert_cmpuint (evl_test_count_fds (), ==, fds_before);
}

static void
test_send_recv (void)
{
  EvlLoop *loop;
  GBytes *hello = g_bytes_new_static ("hello", 5), *got;
  int client, server;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  g_assert_true (tcp_pair (loop, G_SOCKET_FAMILY_IPV4, &client, &server));

  sendall_sync (loop, client, hello);
  got = recv_sync (loop, server, 100);
  g_assert_true (g_bytes_equal (got, hello));
  g_bytes_unref (got);

  /* And back; a recv started before the data arrives waits for it. */
  {
    EvlTestWaiter w;
    GError *error = NULL;

    evl_test_waiter_init (&w, loop);
    evl_loop_sock_recv_async (loop, client, 100, NULL, evl_test_waiter_cb, &w);
    evl_test_run_once (loop);
    g_assert_false (w.done);
    sendall_sync (loop, server, hello);
    evl_test_waiter_wait (&w);
    got = evl_loop_sock_recv_finish (loop, w.result, &error);
    g_assert_no_error (error);
    g_assert_true (g_bytes_equal (got, hello));
    g_bytes_unref (got);
    evl_test_waiter_clear (&w);
  }

  g_bytes_unref (hello);
  evl_test_sock_close (client);
  evl_test_sock_close (server);
  evl_test_close_loop (loop);
}

/* The loop reuses the GAsyncResult of an operation whose callback has run
 * once nothing else holds it: a result kept past its callback, or watched
 * by a weak pointer, must never be reused under its holder. Three recvs
 * in a row keep their results (their callbacks do not finish them) while
 * later operations run; each result then still gives its own bytes. */
typedef struct
{
  EvlLoop      *loop;
  GAsyncResult *kept[3];
  guint         n;
  GObject      *weak;
  gboolean      weak_done;
} KeepResults;

static void
keep_result_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      data)
{
  KeepResults *k = data;

  g_assert_true (source == G_OBJECT (k->loop));
  g_assert_cmpuint (k->n, <, G_N_ELEMENTS (k->kept));
  k->kept[k->n++] = g_object_ref (result);
}

static void
weak_result_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      data)
{
  KeepResults *k = data;
  GError *error = NULL;
  GBytes *bytes = evl_loop_sock_recv_finish (k->loop, result, &error);

  g_assert_no_error (error);
  g_bytes_unref (bytes);
  k->weak = G_OBJECT (result);
  g_object_add_weak_pointer (k->weak, (gpointer *) &k->weak);
  k->weak_done = TRUE;
}

static void
test_results_outlive_callbacks (void)
{
  KeepResults k = { 0 };
  GBytes *x = g_bytes_new_static ("x", 1);
  GError *error = NULL;
  EvlTestWaiter w;
  int fds[2];
  guint i;

  EVL_TEST_NEW_LOOP_OR_SKIP (k.loop);
  evl_test_socketpair (fds);

  for (i = 0; i < G_N_ELEMENTS (k.kept); i++)
    {
      char c = 'a' + i;

      evl_loop_sock_recv_async (k.loop, fds[0], 1, NULL, keep_result_cb, &k);
      g_assert_cmpint (evl_test_sock_write (fds[1], &c, 1), ==, 1);
      while (k.n == i)
        evl_test_run_once (k.loop);
      /* Operations of the same kind run meanwhile (and recycle what they
       * may). */
      evl_test_waiter_init (&w, k.loop);
      evl_loop_sock_sendall_async (k.loop, fds[0], x, NULL, evl_test_waiter_cb, &w);
      evl_test_waiter_wait (&w);
      g_assert_true (evl_loop_sock_sendall_finish (k.loop, w.result, &error));
      g_assert_no_error (error);
      evl_test_waiter_clear (&w);
    }
  for (i = 0; i < G_N_ELEMENTS (k.kept); i++)
    {
      GBytes *bytes = evl_loop_sock_recv_finish (k.loop, k.kept[i], &error);
      char c = 'a' + i;

      g_assert_no_error (error);
      g_assert_cmpmem (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes), &c, 1);
      g_bytes_unref (bytes);
      g_clear_object (&k.kept[i]);
    }

  /* A weak pointer on a result: the result is finalized, not reused with
   * the pointer still set. */
  evl_loop_sock_recv_async (k.loop, fds[0], 1, NULL, weak_result_cb, &k);
  g_assert_cmpint (evl_test_sock_write (fds[1], "w", 1), ==, 1);
  while (!k.weak_done)
    evl_test_run_once (k.loop);
  evl_test_run_once (k.loop);
  g_assert_null (k.weak);

  g_bytes_unref (x);
  evl_test_sock_close (fds[0]);
  evl_test_sock_close (fds[1]);
  evl_test_close_loop (k.loop);
}

static void
test_recv_eof (void)
{
  EvlLoop *loop;
  GBytes *got;
  int fds[2];

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  evl_test_socketpair (fds);
  g_assert_cmpint (evl_test_sock_write (fds[1], "ab", 2), ==, 2);
  evl_test_sock_shutdown_write (fds[1]);

  got = recv_sync (loop, fds[0], 10);
  g_assert_cmpuint (g_bytes_get_size (got), ==, 2);
  g_bytes_unref (got);
  /* At the end of the stream: an empty GBytes, each time. */
  got = recv_sync (loop, fds[0], 10);
  g_assert_nonnull (got);
  g_assert_cmpuint (g_bytes_get_size (got), ==, 0);
  g_bytes_unref (got);
  got = recv_sync (loop, fds[0], 10);
  g_assert_cmpuint (g_bytes_get_size (got), ==, 0);
  g_bytes_unref (got);

  evl_test_sock_close (fds[0]);
  evl_test_sock_close (fds[1]);
  evl_test_close_loop (loop);
}

static void
test_recv_into (void)
{
  EvlLoop *loop;
  GError *error = NULL;
  guint8 buffer[16];
  EvlTestWaiter w;
  int fds[2];

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  evl_test_socketpair (fds);

  memset (buffer, 0, sizeof buffer);
  evl_test_waiter_init (&w, loop);
  evl_loop_sock_recv_into_async (loop, fds[0], buffer, sizeof buffer, NULL, evl_test_waiter_cb, &w);
  evl_test_run_once (loop);
  g_assert_false (w.done);
  g_assert_cmpint (evl_test_sock_write (fds[1], "0123456789", 10), ==, 10);
  evl_test_waiter_wait (&w);
  g_assert_cmpint (evl_loop_sock_recv_into_finish (loop, w.result, &error), ==, 10);
  g_assert_no_error (error);
  g_assert_cmpmem (buffer, 10, "0123456789", 10);
  g_assert_cmpint (buffer[10], ==, 0);
  evl_test_waiter_clear (&w);

  /* Fewer bytes than the data: the rest stays for the next call. */
  g_assert_cmpint (evl_test_sock_write (fds[1], "abcdef", 6), ==, 6);
  evl_test_waiter_init (&w, loop);
  evl_loop_sock_recv_into_async (loop, fds[0], buffer, 4, NULL, evl_test_waiter_cb, &w);
  evl_test_waiter_wait (&w);
  g_assert_cmpint (evl_loop_sock_recv_into_finish (loop, w.result, &error), ==, 4);
  g_assert_cmpmem (buffer, 4, "abcd", 4);
  evl_test_waiter_clear (&w);
  evl_test_waiter_init (&w, loop);
  evl_loop_sock_recv_into_async (loop, fds[0], buffer, sizeof buffer, NULL, evl_test_waiter_cb, &w);
  evl_test_waiter_wait (&w);
  g_assert_cmpint (evl_loop_sock_recv_into_finish (loop, w.result, &error), ==, 2);
  g_assert_cmpmem (buffer, 2, "ef", 2);
  evl_test_waiter_clear (&w);

  /* EOF: 0. */
  evl_test_sock_close (fds[1]);
  evl_test_waiter_init (&w, loop);
  evl_loop_sock_recv_into_async (loop, fds[0], buffer, sizeof buffer, NULL, evl_test_waiter_cb, &w);
  evl_test_waiter_wait (&w);
  g_assert_cmpint (evl_loop_sock_recv_into_finish (loop, w.result, &error), ==, 0);
  g_assert_no_error (error);
  evl_test_waiter_clear (&w);

  evl_test_sock_close (fds[0]);
  evl_test_close_loop (loop);
}

static void
test_echo_1mib (void)
{
  EvlLoop *loop;
  GBytes *message = pattern_bytes (MIB, 42);
  Reader server, client;
  int cfd, sfd;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  g_assert_true (tcp_pair (loop, G_SOCKET_FAMILY_IPV4, &cfd, &sfd));

  reader_start (&server, loop, sfd, MIB, TRUE);
  reader_start (&client, loop, cfd, MIB, FALSE);
  sendall_sync (loop, cfd, message);
  g_assert_true (evl_test_run_until_flag (loop, &server.done, 20.0));
  g_assert_true (evl_test_run_until_flag (loop, &client.done, 20.0));
  g_assert_cmpmem (client.received->data, client.received->len,
                   g_bytes_get_data (message, NULL), MIB);
  g_assert_cmpmem (server.received->data, server.received->len,
                   g_bytes_get_data (message, NULL), MIB);

  g_byte_array_unref (server.received);
  g_byte_array_unref (client.received);
  g_bytes_unref (message);
  evl_test_sock_close (cfd);
  evl_test_sock_close (sfd);
  evl_test_close_loop (loop);
}

/* 20 round trips of 1 MiB messages through an echo server. */
static void
test_echo_long (void)
{
  EvlLoop *loop;
  Reader server, client;
  int cfd, sfd;
  guint round, rounds = evl_test_under_valgrind () ? 3 : 20;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  g_assert_true (tcp_pair (loop, G_SOCKET_FAMILY_IPV4, &cfd, &sfd));
  reader_start (&server, loop, sfd, (gsize) rounds * MIB, TRUE);

  for (round = 0; round < rounds; round++)
    {
      GBytes *message = pattern_bytes (MIB, round);

      reader_start (&client, loop, cfd, MIB, FALSE);
      sendall_sync (loop, cfd, message);
      g_assert_true (evl_test_run_until_flag (loop, &client.done, 20.0));
      g_assert_cmpmem (client.received->data, client.received->len,
                       g_bytes_get_data (message, NULL), MIB);
      g_byte_array_unref (client.received);
      g_bytes_unref (message);
    }
  g_assert_true (evl_test_run_until_flag (loop, &server.done, 20.0));

  g_byte_array_unref (server.received);
  evl_test_sock_close (cfd);
  evl_test_sock_close (sfd);
  evl_test_close_loop (loop);
}

static void
test_ipv6 (void)
{
  EvlLoop *loop;
  GBytes *data = g_bytes_new_static ("six", 3), *got;
  int client, server;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  if (!tcp_pair (loop, G_SOCKET_FAMILY_IPV6, &client, &server))
    {
      g_test_skip ("no IPv6 loopback here");
      g_bytes_unref (data);
      evl_test_close_loop (loop);
      return;
    }
  sendall_sync (loop, client, data);
  got = recv_sync (loop, server, 10);
  g_assert_true (g_bytes_equal (got, data));
  g_bytes_unref (got);
  g_bytes_unref (data);
  evl_test_sock_close (client);
  evl_test_sock_close (server);
  evl_test_close_loop (loop);
}

static void
test_connection_refused (void)
{
  GSocketAddress *address;
  GError *error = NULL;
  EvlLoop *loop;
  EvlTestWaiter w;
  int listener, fd;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  /* A port that was just free: nobody listens there any more. */
  listener = tcp_listener (G_SOCKET_FAMILY_IPV4, 1, &address);
  evl_test_sock_close (listener);
  fd = tcp_socket (G_SOCKET_FAMILY_IPV4);

  evl_test_waiter_init (&w, loop);
  evl_loop_sock_connect_async (loop, fd, address, NULL, evl_test_waiter_cb, &w);
  evl_test_waiter_wait (&w);
  g_assert_false (evl_loop_sock_connect_finish (loop, w.result, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED);
  /* The system's text of the error, also where the C runtime's strerror()
   * does not know socket errno values (Windows). */
  g_test_message ("%s", error->message);
  g_assert_null (strstr (error->message, "Unknown error"));
  g_assert_cmpuint (strlen (error->message), >, strlen ("Error connecting: "));
  g_clear_error (&error);

  evl_test_waiter_clear (&w);
  g_object_unref (address);
  evl_test_sock_close (fd);
  evl_test_close_loop (loop);
}

/* Two recvs and two sendalls on one fd complete in the order started. */
static void
test_fifo (void)
{
  EvlLoop *loop;
  GBytes *big1 = pattern_bytes (MIB / 2, 1), *big2 = pattern_bytes (MIB / 2, 2);
  EvlTestWaiter s1, s2;
  Reader r;
  GError *error = NULL;
  int client, server;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  g_assert_true (tcp_pair (loop, G_SOCKET_FAMILY_IPV4, &client, &server));

  evl_test_waiter_init (&s1, loop);
  evl_test_waiter_init (&s2, loop);
  evl_loop_sock_sendall_async (loop, client, big1, NULL, evl_test_waiter_cb, &s1);
  evl_loop_sock_sendall_async (loop, client, big2, NULL, evl_test_waiter_cb, &s2);
  reader_start (&r, loop, server, MIB, FALSE);
  g_assert_true (evl_test_run_until_flag (loop, &r.done, 20.0));
  evl_test_waiter_wait (&s1);
  evl_test_waiter_wait (&s2);
  g_assert_true (evl_loop_sock_sendall_finish (loop, s1.result, &error));
  g_assert_true (evl_loop_sock_sendall_finish (loop, s2.result, &error));
  g_assert_no_error (error);
  g_assert_cmpmem (r.received->data, MIB / 2, g_bytes_get_data (big1, NULL), MIB / 2);
  g_assert_cmpmem (r.received->data + MIB / 2, MIB / 2, g_bytes_get_data (big2, NULL), MIB / 2);
  evl_test_waiter_clear (&s1);
  evl_test_waiter_clear (&s2);
  g_byte_array_unref (r.received);

  /* Two recvs queued before any data: the first gets the first bytes. */
  {
    EvlTestWaiter r1, r2;
    GBytes *b1, *b2;

    evl_test_waiter_init (&r1, loop);
    evl_test_waiter_init (&r2, loop);
    evl_loop_sock_recv_async (loop, server, 3, NULL, evl_test_waiter_cb, &r1);
    evl_loop_sock_recv_async (loop, server, 3, NULL, evl_test_waiter_cb, &r2);
    evl_test_run_once (loop);
    g_assert_cmpint (evl_test_sock_write (client, "abcdef", 6), ==, 6);
    evl_test_waiter_wait (&r1);
    evl_test_waiter_wait (&r2);
    b1 = evl_loop_sock_recv_finish (loop, r1.result, &error);
    b2 = evl_loop_sock_recv_finish (loop, r2.result, &error);
    g_assert_cmpmem (g_bytes_get_data (b1, NULL), g_bytes_get_size (b1), "abc", 3);
    g_assert_cmpmem (g_bytes_get_data (b2, NULL), g_bytes_get_size (b2), "def", 3);
    g_bytes_unref (b1);
    g_bytes_unref (b2);
    evl_test_waiter_clear (&r1);
    evl_test_waiter_clear (&r2);
  }

  g_bytes_unref (big1);
  g_bytes_unref (big2);
  evl_test_sock_close (client);
  evl_test_sock_close (server);
  evl_test_close_loop (loop);
}

/* A user's reader on the fd of a pending recv: both work, neither
 * replaces the other. */
typedef struct
{
  gint n_ran;
  guint n_notified;
} Counts;

static void
reader_counts (gpointer data)
{
  g_atomic_int_set (&((Counts *) data)->n_ran, ((Counts *) data)->n_ran + 1);
}

static void
reader_notified (gpointer data)
{
  ((Counts *) data)->n_notified++;
}

static void
test_with_user_reader (void)
{
  EvlLoop *loop;
  GError *error = NULL;
  Counts counts = { 0, 0 };
  GBytes *got;
  EvlTestWaiter w;
  int fds[2];

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  evl_test_socketpair (fds);

  evl_test_waiter_init (&w, loop);
  evl_loop_sock_recv_async (loop, fds[0], 10, NULL, evl_test_waiter_cb, &w);
  g_assert_true (evl_loop_add_reader (loop, fds[0], reader_counts, &counts,
                                      reader_notified, &error));
  g_assert_no_error (error);
  evl_test_run_once (loop);
  g_assert_cmpint (evl_test_sock_write (fds[1], "x", 1), ==, 1);
  evl_test_waiter_wait (&w);
  got = evl_loop_sock_recv_finish (loop, w.result, &error);
  g_assert_cmpuint (g_bytes_get_size (got), ==, 1);
  g_bytes_unref (got);
  evl_test_waiter_clear (&w);
  g_assert_cmpuint (counts.n_notified, ==, 0);

  /* The reader still works after the recv. */
  g_assert_cmpint (evl_test_sock_write (fds[1], "y", 1), ==, 1);
  counts.n_ran = 0;
  g_assert_true (evl_test_run_until_flag (loop, (gboolean *) &counts.n_ran, 5.0));
  g_assert_true (evl_loop_remove_reader (loop, fds[0]));
  g_assert_cmpuint (counts.n_notified, ==, 1);

  evl_test_sock_close (fds[0]);
  evl_test_sock_close (fds[1]);
  evl_test_close_loop (loop);
}

/* Cancellation ------------------------------------------------------------ */

typedef enum
{
  OP_RECV,
  OP_RECV_INTO,
  OP_SENDALL,
  OP_CONNECT,
  OP_ACCEPT,
} OpKind;

typedef struct
{
  EvlLoop        *loop;
  int             fds[2];       /* a socketpair (RECV*, SENDALL) */
  int             listener;     /* ACCEPT; CONNECT: a full listener */
  int             extra[2];     /* CONNECT: what fills the backlog */
  int             fd;           /* CONNECT: the connecting socket */
  GSocketAddress *address;
  GBytes         *big;
  guint8          buffer[64];
} Pending;

/* Starts an operation of @kind that stays pending. */
static void
pending_start (Pending      *p,
               EvlLoop      *loop,
               OpKind        kind,
               GCancellable *cancellable,
               EvlTestWaiter       *w)
{
  guint i;

  *p = (Pending) { 0 };
  p->loop = loop;
  p->fds[0] = p->fds[1] = p->listener = p->fd = p->extra[0] = p->extra[1] = -1;
  switch (kind)
    {
    case OP_RECV:
      evl_test_socketpair (p->fds);
      evl_loop_sock_recv_async (loop, p->fds[0], 10, cancellable, evl_test_waiter_cb, w);
      break;
    case OP_RECV_INTO:
      evl_test_socketpair (p->fds);
      evl_loop_sock_recv_into_async (loop, p->fds[0], p->buffer, sizeof p->buffer,
                                     cancellable, evl_test_waiter_cb, w);
      break;
    case OP_SENDALL:
      /* More than the socket buffers hold, and nobody reads. */
      evl_test_socketpair (p->fds);
      p->big = g_bytes_new_take (g_malloc0 (16 * MIB), 16 * MIB);
      evl_loop_sock_sendall_async (loop, p->fds[0], p->big, cancellable, evl_test_waiter_cb, w);
      break;
    case OP_CONNECT:
      /* A listener with a full backlog drops the SYN: the connect hangs. */
      p->listener = tcp_listener (G_SOCKET_FAMILY_IPV4, 0, &p->address);
      for (i = 0; i < G_N_ELEMENTS (p->extra); i++)
        {
          struct sockaddr_storage ss;

          p->extra[i] = tcp_socket (G_SOCKET_FAMILY_IPV4);
          g_socket_address_to_native (p->address, &ss, sizeof ss, NULL);
          connect (p->extra[i], (struct sockaddr *) &ss, g_socket_address_get_native_size (p->address));
        }
      evl_test_wait_backlog_full (p->listener);
      p->fd = tcp_socket (G_SOCKET_FAMILY_IPV4);
      evl_loop_sock_connect_async (loop, p->fd, p->address, cancellable, evl_test_waiter_cb, w);
      break;
    case OP_ACCEPT:
      p->listener = tcp_listener (G_SOCKET_FAMILY_IPV4, 4, &p->address);
      evl_loop_sock_accept_async (loop, p->listener, cancellable, evl_test_waiter_cb, w);
      break;
    default:
      g_assert_not_reached ();
    }
}

static void
pending_clear (Pending *p)
{
  guint i;

  for (i = 0; i < 2; i++)
    {
      if (p->fds[i] >= 0)
        evl_test_sock_close (p->fds[i]);
      if (p->extra[i] >= 0)
        evl_test_sock_close (p->extra[i]);
    }
  if (p->listener >= 0)
    evl_test_sock_close (p->listener);
  if (p->fd >= 0)
    evl_test_sock_close (p->fd);
  g_clear_object (&p->address);
  g_clear_pointer (&p->big, g_bytes_unref);
}

/* Calls the _finish of @kind and returns its error. */
static GError *
finish_error (EvlLoop      *loop,
              OpKind        kind,
              GAsyncResult *result)
{
  GError *error = NULL;
  GBytes *bytes;

  switch (kind)
    {
    case OP_RECV:
      bytes = evl_loop_sock_recv_finish (loop, result, &error);
      g_assert_null (bytes);
      break;
    case OP_RECV_INTO:
      g_assert_cmpint (evl_loop_sock_recv_into_finish (loop, result, &error), ==, -1);
      break;
    case OP_SENDALL:
      g_assert_false (evl_loop_sock_sendall_finish (loop, result, &error));
      break;
    case OP_CONNECT:
      g_assert_false (evl_loop_sock_connect_finish (loop, result, &error));
      break;
    case OP_ACCEPT:
      {
        GSocketAddress *address = (GSocketAddress *) 0x1;

        g_assert_cmpint (evl_loop_sock_accept_finish (loop, result, &address, &error), ==, -1);
        g_assert_null (address);
      }
      break;
    default:
      g_assert_not_reached ();
    }
  g_assert_nonnull (error);
  return error;
}

static const char *op_names[] = { "recv", "recv-into", "sendall", "connect", "accept" };

static void
test_cancel (gconstpointer data)
{
  OpKind kind = GPOINTER_TO_INT (data);
  GCancellable *cancellable;
  EvlLoop *loop;
  GError *error;
  Pending p;
  EvlTestWaiter w;
  guint fds_before;

  fds_before = evl_test_count_fds ();
  EVL_TEST_NEW_LOOP_OR_SKIP (loop);

  /* Cancelled while pending. */
  cancellable = g_cancellable_new ();
  evl_test_waiter_init (&w, loop);
  pending_start (&p, loop, kind, cancellable, &w);
  evl_test_run_once (loop);
  evl_test_run_once (loop);
  g_assert_false (w.done);
  g_cancellable_cancel (cancellable);
  evl_test_waiter_wait (&w);
  error = finish_error (loop, kind, w.result);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_error_free (error);
  evl_test_waiter_clear (&w);
  pending_clear (&p);

  /* Already cancelled: fails without starting (from the loop, still). */
  evl_test_waiter_init (&w, loop);
  pending_start (&p, loop, kind, cancellable, &w);
  g_assert_false (w.done);
  evl_test_waiter_wait (&w);
  error = finish_error (loop, kind, w.result);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_error_free (error);
  evl_test_waiter_clear (&w);
  pending_clear (&p);
  g_object_unref (cancellable);

  /* The loop closes under it: cancelled, from close(). */
  evl_test_waiter_init (&w, loop);
  pending_start (&p, loop, kind, NULL, &w);
  evl_test_run_once (loop);
  g_assert_false (w.done);
  g_assert_true (evl_loop_close (loop, NULL));
  g_assert_true (w.done);
  error = finish_error (loop, kind, w.result);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_error_free (error);
  evl_test_waiter_clear (&w);
  pending_clear (&p);

  evl_test_close_loop (loop);
  g_assert_cmpuint (evl_test_count_fds (), ==, fds_before);
}

static gpointer
cancel_thread (gpointer data)
{
  g_usleep (20000);
  g_cancellable_cancel (data);
  return NULL;
}

static void
test_cancel_from_thread (void)
{
  GCancellable *cancellable = g_cancellable_new ();
  EvlLoop *loop;
  GError *error;
  GThread *thread;
  Pending p;
  EvlTestWaiter w;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  evl_test_waiter_init (&w, loop);
  pending_start (&p, loop, OP_RECV, cancellable, &w);
  thread = g_thread_new ("evl-cancel", cancel_thread, cancellable);
  evl_test_waiter_wait (&w);
  g_thread_join (thread);
  error = finish_error (loop, OP_RECV, w.result);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_error_free (error);
  evl_test_waiter_clear (&w);
  pending_clear (&p);
  g_object_unref (cancellable);
  evl_test_close_loop (loop);
}

/* A cancellation after the operation completed changes nothing. */
static void
test_cancel_after_done (void)
{
  GCancellable *cancellable = g_cancellable_new ();
  EvlLoop *loop;
  GError *error = NULL;
  GBytes *got;
  EvlTestWaiter w;
  int fds[2];

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  evl_test_socketpair (fds);
  g_assert_cmpint (evl_test_sock_write (fds[1], "z", 1), ==, 1);
  evl_test_waiter_init (&w, loop);
  evl_loop_sock_recv_async (loop, fds[0], 10, cancellable, evl_test_waiter_cb, &w);
  evl_test_waiter_wait (&w);
  g_cancellable_cancel (cancellable);
  evl_test_run_once (loop);
  got = evl_loop_sock_recv_finish (loop, w.result, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_bytes_get_size (got), ==, 1);
  g_bytes_unref (got);
  evl_test_waiter_clear (&w);
  g_object_unref (cancellable);
  evl_test_sock_close (fds[0]);
  evl_test_sock_close (fds[1]);
  evl_test_close_loop (loop);
}

/* Errors ------------------------------------------------------------------ */

/* Starts an operation of @kind on @fd (connect: to a loopback port). */
static void
start_on_fd (EvlLoop       *loop,
             OpKind         kind,
             int            fd,
             EvlTestWaiter *w)
{
  static guint8 buffer[4];

  switch (kind)
    {
    case OP_RECV:
      evl_loop_sock_recv_async (loop, fd, 10, NULL, evl_test_waiter_cb, w);
      break;
    case OP_RECV_INTO:
      evl_loop_sock_recv_into_async (loop, fd, buffer, sizeof buffer, NULL, evl_test_waiter_cb, w);
      break;
    case OP_SENDALL:
      {
        GBytes *data = g_bytes_new_static ("x", 1);

        evl_loop_sock_sendall_async (loop, fd, data, NULL, evl_test_waiter_cb, w);
        g_bytes_unref (data);
      }
      break;
    case OP_CONNECT:
      {
        GSocketAddress *address = loopback (G_SOCKET_FAMILY_IPV4, 9);

        evl_loop_sock_connect_async (loop, fd, address, NULL, evl_test_waiter_cb, w);
        g_object_unref (address);
      }
      break;
    case OP_ACCEPT:
      evl_loop_sock_accept_async (loop, fd, NULL, evl_test_waiter_cb, w);
      break;
    default:
      g_assert_not_reached ();
    }
}

static void
test_closed_loop (void)
{
  EvlLoop *loop;
  EvlTestWaiter w;
  int fds[2];
  guint kind;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  evl_test_socketpair (fds);
  g_assert_true (evl_loop_close (loop, NULL));

  /* Each fails at once, through its callback. */
  for (kind = 0; kind < G_N_ELEMENTS (op_names); kind++)
    {
      GError *error;

      evl_test_waiter_init (&w, loop);
      start_on_fd (loop, kind, fds[0], &w);
      g_assert_true (w.done);
      error = finish_error (loop, kind, w.result);
      g_assert_error (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_CLOSED);
      g_error_free (error);
      evl_test_waiter_clear (&w);
    }

  evl_test_sock_close (fds[0]);
  evl_test_sock_close (fds[1]);
  evl_test_close_loop (loop);
}

/* Runs an operation of @kind on @fd, which must fail (from the loop, not
 * from inside the call); returns its error. */
static GError *
failure_on_fd (EvlLoop *loop,
               OpKind   kind,
               int      fd)
{
  EvlTestWaiter w;
  GError *error;

  evl_test_waiter_init (&w, loop);
  start_on_fd (loop, kind, fd, &w);
  g_assert_false (w.done);
  evl_test_waiter_wait (&w);
  error = finish_error (loop, kind, w.result);
  evl_test_waiter_clear (&w);
  return error;
}

static void
test_bad_fds (void)
{
  GError *error;
  EvlLoop *loop;
  int fd, pipefds[2];

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);

  /* Negative: EVL_LOOP_ERROR_INVALID. */
  error = failure_on_fd (loop, OP_RECV, -1);
  g_assert_error (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_INVALID);
  g_error_free (error);

  /* Not open: the OS error. */
  fd = tcp_socket (G_SOCKET_FAMILY_IPV4);
  evl_test_sock_close (fd);
  error = failure_on_fd (loop, OP_RECV, fd);
  g_assert_true (error->domain == G_IO_ERROR);
  g_error_free (error);
  error = failure_on_fd (loop, OP_ACCEPT, fd);
  g_assert_true (error->domain == G_IO_ERROR);
  g_error_free (error);

  /* Not a socket: a pipe (a HANDLE on Windows). */
  evl_test_pipe (pipefds);
  error = failure_on_fd (loop, OP_SENDALL, pipefds[1]);
  g_assert_true (error->domain == G_IO_ERROR);
  g_error_free (error);
  evl_test_pipe_close (pipefds[0]);
  evl_test_pipe_close (pipefds[1]);

  /* An address of the wrong family: IPv4 to an IPv6 socket (when this
   * machine has IPv6 sockets at all). */
  fd = evl_test_tcp_socket (G_SOCKET_FAMILY_IPV6);
  if (fd >= 0)
    {
      error = failure_on_fd (loop, OP_CONNECT, fd);
      g_assert_true (error->domain == G_IO_ERROR);
      g_error_free (error);
      evl_test_sock_close (fd);
    }

  evl_test_close_loop (loop);
}

/* A peer that went away: EPIPE or ECONNRESET, never SIGPIPE. */
static void
test_broken_pipe (void)
{
  if (g_test_subprocess ())
    {
      GBytes *big = g_bytes_new_take (g_malloc0 (4 * MIB), 4 * MIB);
      GError *error = NULL;
      EvlLoop *loop;
      EvlTestWaiter w;
      int fds[2];

      evl_test_sigpipe_default ();
      loop = evl_test_new_loop ();
      g_assert_nonnull (loop);
      evl_test_socketpair (fds);
      evl_test_sock_close (fds[1]);
      evl_test_waiter_init (&w, loop);
      evl_loop_sock_sendall_async (loop, fds[0], big, NULL, evl_test_waiter_cb, &w);
      evl_test_waiter_wait (&w);
      g_assert_false (evl_loop_sock_sendall_finish (loop, w.result, &error));
      g_assert_true (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE) ||
                     g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED));
      g_clear_error (&error);
      evl_test_waiter_clear (&w);
      g_bytes_unref (big);
      evl_test_sock_close (fds[0]);
      evl_test_close_loop (loop);
      return;
    }
  {
    EvlLoop *probe;

    EVL_TEST_NEW_LOOP_OR_SKIP (probe);
    evl_test_close_loop (probe);
  }
  if (evl_test_under_wine () && g_str_equal (evl_test_loop_kind (), "proactor"))
    {
      /* Wine 8 never completes an overlapped WSASend that pended (more
       * than the socket buffers hold) once the peer resets the
       * connection; Windows completes it with WSAECONNRESET. A send that
       * does not pend fails there at once, as it should. */
      g_test_skip ("Wine 8 leaves a pending overlapped WSASend pending when the peer resets the connection");
      return;
    }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
}

/* Small sends to a peer that went away: accepted until its reset comes
 * back, then they fail as above. No send waits for the socket buffers to
 * drain, so this also runs on the proactor under Wine (see broken-pipe). */
static void
test_reset_small_sends (void)
{
  GBytes *small = g_bytes_new_static ("0123456789abcdef", 16);
  GError *error = NULL;
  EvlLoop *loop;
  int fds[2];
  guint n_sent;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  evl_test_socketpair (fds);
  evl_test_sock_close (fds[1]);
  for (n_sent = 0; ; n_sent++)
    {
      EvlTestWaiter w;
      gboolean sent;

      /* Far fewer: the reset comes back after the first segment. */
      g_assert_cmpuint (n_sent, <, 10000);
      evl_test_waiter_init (&w, loop);
      evl_loop_sock_sendall_async (loop, fds[0], small, NULL, evl_test_waiter_cb, &w);
      evl_test_waiter_wait (&w);
      sent = evl_loop_sock_sendall_finish (loop, w.result, &error);
      evl_test_waiter_clear (&w);
      if (!sent)
        break;
    }
  g_test_message ("%u sends accepted before the reset", n_sent);
  g_assert_true (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE) ||
                 g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED));
  g_clear_error (&error);

  g_bytes_unref (small);
  evl_test_sock_close (fds[0]);
  evl_test_close_loop (loop);
}

/* The GLib bridge ---------------------------------------------------------- */

/* Attached to a GMainContext that g_main_loop_run() iterates, the loop
 * completes operations all the same (the proactor has to hand its work to
 * the kernel between GLib's dispatches). */
typedef struct
{
  GMainLoop *main_loop;
  EvlLoop   *loop;
  int        client, server;
  GBytes    *message;
  Reader     reader;
  guint      rounds;
} Bridged;

static void bridged_round (Bridged *b);

static void
bridged_sent (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  GError *error = NULL;

  g_assert_true (evl_loop_sock_sendall_finish (EVL_LOOP (source), result, &error));
  g_assert_no_error (error);
}

static gboolean
bridged_poll (gpointer user_data)
{
  Bridged *b = user_data;

  if (!b->reader.done)
    return G_SOURCE_CONTINUE;
  g_assert_cmpmem (b->reader.received->data, b->reader.received->len,
                   g_bytes_get_data (b->message, NULL), g_bytes_get_size (b->message));
  g_byte_array_unref (b->reader.received);
  if (--b->rounds == 0)
    {
      g_main_loop_quit (b->main_loop);
      return G_SOURCE_REMOVE;
    }
  bridged_round (b);
  return G_SOURCE_CONTINUE;
}

static void
bridged_round (Bridged *b)
{
  reader_start (&b->reader, b->loop, b->server, g_bytes_get_size (b->message), FALSE);
  evl_loop_sock_sendall_async (b->loop, b->client, b->message, NULL, bridged_sent, b);
}

static void
test_glib_bridge (void)
{
  GMainContext *context = g_main_context_new ();
  Bridged b = { 0 };
  guint id;

  EVL_TEST_NEW_LOOP_OR_SKIP (b.loop);
  g_assert_true (tcp_pair (b.loop, G_SOCKET_FAMILY_IPV4, &b.client, &b.server));

  g_main_context_push_thread_default (context);
  id = evl_loop_attach (b.loop, context);
  g_assert_cmpuint (id, >, 0);
  b.main_loop = g_main_loop_new (context, FALSE);
  b.message = pattern_bytes (256 * 1024, 7);
  b.rounds = 5;
  /* Started from outside any dispatch, then from GLib callbacks. */
  bridged_round (&b);
  {
    GSource *poll = g_timeout_source_new (1);

    g_source_set_callback (poll, bridged_poll, &b, NULL);
    g_source_attach (poll, context);
    g_source_unref (poll);
  }
  g_main_loop_run (b.main_loop);

  g_main_loop_unref (b.main_loop);
  g_bytes_unref (b.message);
  evl_test_sock_close (b.client);
  evl_test_sock_close (b.server);
  evl_test_close_loop (b.loop);
  g_main_context_pop_thread_default (context);
  g_main_context_unref (context);
}

/* POSIX only -------------------------------------------------------------- */

#ifdef G_OS_UNIX
/* Not on Windows: Windows 10 has AF_UNIX stream sockets, but Wine 8 does
 * not, so they could not be tested there. */
static void
test_unix_accept (void)
{
  GSocketAddress *peer = NULL, *address;
  GError *error = NULL;
  EvlLoop *loop;
  char *dir, *path;
  EvlTestWaiter a, c;
  int listener, client, server;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  dir = g_dir_make_tmp ("evl-sock-XXXXXX", NULL);
  path = g_build_filename (dir, "s", NULL);
  address = g_unix_socket_address_new (path);
  listener = socket (AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  {
    struct sockaddr_storage ss;

    g_assert_true (g_socket_address_to_native (address, &ss, sizeof ss, NULL));
    g_assert_cmpint (bind (listener, (struct sockaddr *) &ss, g_socket_address_get_native_size (address)), ==, 0);
  }
  g_assert_cmpint (listen (listener, 4), ==, 0);
  client = socket (AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

  evl_test_waiter_init (&a, loop);
  evl_test_waiter_init (&c, loop);
  evl_loop_sock_accept_async (loop, listener, NULL, evl_test_waiter_cb, &a);
  evl_loop_sock_connect_async (loop, client, address, NULL, evl_test_waiter_cb, &c);
  evl_test_waiter_wait (&a);
  evl_test_waiter_wait (&c);
  g_assert_true (evl_loop_sock_connect_finish (loop, c.result, &error));
  g_assert_no_error (error);
  server = evl_loop_sock_accept_finish (loop, a.result, &peer, &error);
  g_assert_no_error (error);
  evl_test_assert_sock_flags (server);
  /* An unbound client: an anonymous address (or none). */
  if (peer != NULL)
    g_assert_true (G_IS_UNIX_SOCKET_ADDRESS (peer));

  evl_test_waiter_clear (&a);
  evl_test_waiter_clear (&c);
  g_clear_object (&peer);
  g_object_unref (address);
  evl_test_sock_close (client);
  evl_test_sock_close (server);
  evl_test_sock_close (listener);
  g_unlink (path);
  g_rmdir (dir);
  g_free (path);
  g_free (dir);
  evl_test_close_loop (loop);
}

/* Not on Windows: Windows cannot tell whether a socket is non-blocking
 * (FIONBIO can only be set), so a blocking socket is not refused there
 * (src/win32/evl-os-sock-private.h). */
static void
test_blocking (void)
{
  GError *error;
  EvlLoop *loop;
  int blocking;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);

  /* A blocking socket cannot connect or accept without blocking. */
  blocking = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  error = failure_on_fd (loop, OP_CONNECT, blocking);
  g_assert_error (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_INVALID);
  g_error_free (error);
  close (blocking);

  blocking = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  g_assert_cmpint (listen (blocking, 1), ==, 0);
  error = failure_on_fd (loop, OP_ACCEPT, blocking);
  g_assert_error (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_INVALID);
  g_error_free (error);
  close (blocking);

  evl_test_close_loop (loop);
}
#endif /* G_OS_UNIX */

int
main (int   argc,
      char *argv[])
{
  guint i;

  evl_test_init (&argc, &argv);
  evl_test_watchdog_start (100);

  g_test_add_func ("/Evl/Sock/tcp/connect-accept", test_connect_accept);
  g_test_add_func ("/Evl/Sock/tcp/send-recv", test_send_recv);
  g_test_add_func ("/Evl/Sock/tcp/echo-1mib", test_echo_1mib);
  g_test_add_func ("/Evl/Sock/tcp/echo-long", test_echo_long);
  g_test_add_func ("/Evl/Sock/tcp/ipv6", test_ipv6);
  g_test_add_func ("/Evl/Sock/tcp/connection-refused", test_connection_refused);
  g_test_add_func ("/Evl/Sock/recv/eof", test_recv_eof);
  g_test_add_func ("/Evl/Sock/recv-into", test_recv_into);
  g_test_add_func ("/Evl/Sock/results-outlive-callbacks", test_results_outlive_callbacks);
  g_test_add_func ("/Evl/Sock/fifo", test_fifo);
  g_test_add_func ("/Evl/Sock/with-user-reader", test_with_user_reader);
  for (i = 0; i < G_N_ELEMENTS (op_names); i++)
    {
      char *path = g_strdup_printf ("/Evl/Sock/cancel/%s", op_names[i]);

      g_test_add_data_func (path, GINT_TO_POINTER (i), test_cancel);
      g_free (path);
    }
  g_test_add_func ("/Evl/Sock/cancel/from-thread", test_cancel_from_thread);
  g_test_add_func ("/Evl/Sock/cancel/after-done", test_cancel_after_done);
  g_test_add_func ("/Evl/Sock/errors/closed-loop", test_closed_loop);
  g_test_add_func ("/Evl/Sock/errors/bad-fds", test_bad_fds);
  g_test_add_func ("/Evl/Sock/errors/broken-pipe", test_broken_pipe);
  g_test_add_func ("/Evl/Sock/errors/reset-small-sends", test_reset_small_sends);
  g_test_add_func ("/Evl/Sock/glib-bridge", test_glib_bridge);
#ifdef G_OS_UNIX
  g_test_add_func ("/Evl/Sock/unix/accept", test_unix_accept);
  g_test_add_func ("/Evl/Sock/errors/blocking", test_blocking);
#endif

  return g_test_run ();
}
