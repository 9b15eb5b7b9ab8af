/* server.c: EvlServer (asyncio's Server) on the loop kind under test
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "evl-test-protocol.h"

#include <errno.h>
#include <string.h>

#include <gio/gnetworking.h>   /* SOL_SOCKET, SO_REUSEADDR */
#include <glib/gstdio.h>

#ifdef G_OS_UNIX
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>
#endif

/* A blocking client socket connected to @port on the IPv4 or IPv6
 * loopback address, or NULL with @error set (GSocket: the same on Unix
 * and Windows). */
static GSocket *
raw_connect (guint16   port,
             gboolean  v6,
             GError  **error)
{
  GSocketFamily family = v6 ? G_SOCKET_FAMILY_IPV6 : G_SOCKET_FAMILY_IPV4;
  GSocket *sock = g_socket_new (family, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, error);
  GInetAddress *loopback;
  GSocketAddress *address;
  gboolean ok;

  if (sock == NULL)
    return NULL;
  loopback = g_inet_address_new_loopback (family);
  address = g_inet_socket_address_new (loopback, port);
  ok = g_socket_connect (sock, address, NULL, error);
  g_object_unref (address);
  g_object_unref (loopback);
  if (!ok)
    g_clear_object (&sock);
  return sock;
}

/* Connects, asserting success. */
static GSocket *
raw_connect_ok (guint16  port,
                gboolean v6)
{
  GError *error = NULL;
  GSocket *sock = raw_connect (port, v6, &error);

  g_assert_no_error (error);
  g_assert_nonnull (sock);
  return sock;
}

/* Closes and frees the client socket: the server sees EOF. */
static void
raw_close (GSocket *sock)
{
  g_assert_true (g_socket_close (sock, NULL));
  g_object_unref (sock);
}

static gboolean
have_ipv6 (void)
{
  GError *error = NULL;
  GSocket *sock = raw_connect (1, TRUE, &error);
  gboolean ok = sock != NULL || g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED);

  g_clear_error (&error);
  if (sock != NULL)
    raw_close (sock);
  return ok;
}

static void
test_port_zero (void)
{
  EvlLoop *loop;
  TestFactory f;
  EvlServer *server;
  guint fds_before = evl_test_count_fds ();
  guint16 port;
  GSocket *client;
  TestProto *p;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  test_factory_init (&f);
  server = test_start_server (loop, &f, "127.0.0.1");
  port = evl_server_get_port (server);
  g_assert_cmpuint (port, >, 0);
  g_assert_true (evl_server_is_serving (server));
  g_assert_true (evl_server_get_loop (server) == loop);

  client = raw_connect_ok (port, FALSE);
  g_assert_cmpint (g_socket_send (client, "hi", 2, NULL, NULL), ==, 2);
  while (f.created->len == 0)
    evl_test_run_once (loop);
  p = f.created->pdata[0];
  p->expect = 2;
  test_run_until (loop, &p->got_expected);
  g_assert_cmpuint (evl_server_get_n_connections (server), ==, 1);
  raw_close (client);
  test_run_until (loop, &p->lost);
  g_assert_cmpuint (evl_server_get_n_connections (server), ==, 0);

  test_server_close (loop, server);
  test_factory_clear (&f);
  evl_test_close_loop (loop);
  g_assert_cmpuint (evl_test_count_fds (), ==, fds_before);
}

/* No host: every interface, IPv4 and IPv6, one port. */
static void
test_multiple_addresses (void)
{
  EvlLoop *loop;
  TestFactory f;
  EvlServer *server;
  GList *addresses, *l;
  guint16 port;
  gboolean v4 = FALSE, v6 = FALSE;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  test_factory_init (&f);
  server = test_start_server (loop, &f, "");
  port = evl_server_get_port (server);
  addresses = evl_server_get_addresses (server);
  g_assert_nonnull (addresses);
  for (l = addresses; l != NULL; l = l->next)
    {
      GInetSocketAddress *isa = G_INET_SOCKET_ADDRESS (l->data);
      GInetAddress *ia = g_inet_socket_address_get_address (isa);

      g_assert_cmpuint (g_inet_socket_address_get_port (isa), ==, port);
      g_assert_true (g_inet_address_get_is_any (ia));
      if (g_inet_address_get_family (ia) == G_SOCKET_FAMILY_IPV4)
        v4 = TRUE;
      else
        v6 = TRUE;
    }
  g_list_free_full (addresses, g_object_unref);
  g_assert_true (v4);
  g_assert_true (v6 == have_ipv6 ());

  raw_close (raw_connect_ok (port, FALSE));
  if (v6)
    raw_close (raw_connect_ok (port, TRUE));
  while (f.created->len < (v6 ? 2u : 1u))
    evl_test_run_once (loop);
  for (guint i = 0; i < f.created->len; i++)
    test_run_until (loop, &TEST_PROTO (f.created->pdata[i])->lost);

  test_server_close (loop, server);
  test_factory_clear (&f);
  evl_test_close_loop (loop);
}

static void
test_address_in_use (void)
{
  EvlLoop *loop;
  TestFactory f;
  EvlServer *server;
  TestWaiter w;
  GError *error = NULL;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  test_factory_init (&f);
  server = test_start_server (loop, &f, "127.0.0.1");
  test_waiter_init (&w, loop);
  evl_loop_create_server_full_async (loop, (EvlProtocolFactory) test_factory_make, &f, NULL,
                                     "127.0.0.1", evl_server_get_port (server), 0,
                                     EVL_SERVER_FLAGS_NONE, NULL, test_waiter_cb, &w);
  test_waiter_wait (&w);
  g_assert_null (evl_loop_create_server_full_finish (loop, w.result, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE);
  g_clear_error (&error);
  test_waiter_clear (&w);
  test_server_close (loop, server);
  test_factory_clear (&f);
  evl_test_close_loop (loop);
}

typedef struct
{
  EvlServer *server;
  gboolean   done;
} WaitClosed;

static void
wait_closed_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      data)
{
  WaitClosed *wc = data;
  GError *error = NULL;

  g_assert_true (evl_server_wait_closed_finish (wc->server, result, &error));
  g_assert_no_error (error);
  wc->done = TRUE;
}

/* close() stops accepting at once; wait_closed waits for the
 * connections that are still open. */
static void
test_close_and_wait (void)
{
  EvlLoop *loop;
  TestFactory f;
  EvlServer *server;
  WaitClosed wc = { NULL, FALSE };
  guint16 port;
  TestProto *p;
  GSocket *client, *refused;
  GError *error = NULL;
  guint fds_before = evl_test_count_fds ();

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  test_factory_init (&f);
  server = test_start_server (loop, &f, "127.0.0.1");
  port = evl_server_get_port (server);
  client = raw_connect_ok (port, FALSE);
  while (f.created->len == 0)
    evl_test_run_once (loop);
  p = f.created->pdata[0];

  wc.server = server;
  evl_server_wait_closed_async (server, NULL, wait_closed_cb, &wc);
  evl_test_run_once (loop);
  evl_test_run_once (loop);
  g_assert_false (wc.done);

  evl_server_close (server);
  evl_server_close (server);   /* twice: nothing */
  g_assert_false (evl_server_is_serving (server));
  refused = raw_connect (port, FALSE, &error);
  g_assert_null (refused);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED);
  g_clear_error (&error);
  evl_test_run_once (loop);
  evl_test_run_once (loop);
  g_assert_false (wc.done);   /* one connection is open */
  g_assert_false (p->lost);

  raw_close (client);
  test_run_until (loop, &wc.done);
  g_assert_true (p->lost);
  g_assert_cmpuint (f.created->len, ==, 1);

  g_object_unref (server);
  test_factory_clear (&f);
  evl_test_close_loop (loop);
  g_assert_cmpuint (evl_test_count_fds (), ==, fds_before);
}

typedef struct
{
  EvlServer *server;
  gboolean   done;
  GError    *error;
} WaitCancelled;

static void
wait_cancelled_cb (GObject      *source,
                   GAsyncResult *result,
                   gpointer      data)
{
  WaitCancelled *wc = data;

  g_assert_false (evl_server_wait_closed_finish (wc->server, result, &wc->error));
  wc->done = TRUE;
}

static void
test_wait_closed_cancelled (void)
{
  EvlLoop *loop;
  TestFactory f;
  EvlServer *server;
  GCancellable *cancellable = g_cancellable_new ();
  WaitCancelled wc = { NULL, FALSE, NULL };

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  test_factory_init (&f);
  server = test_start_server (loop, &f, "127.0.0.1");
  wc.server = server;
  evl_server_wait_closed_async (server, cancellable, wait_cancelled_cb, &wc);
  evl_test_run_once (loop);
  g_assert_false (wc.done);
  g_cancellable_cancel (cancellable);
  test_run_until (loop, &wc.done);
  g_assert_error (wc.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&wc.error);
  g_object_unref (cancellable);
  test_server_close (loop, server);
  test_factory_clear (&f);
  evl_test_close_loop (loop);
}

/* A server dropped by its owner keeps serving until closed; closing the
 * loop ends it and its connections. */
static void
test_loop_close_ends_server (void)
{
  EvlLoop *loop;
  TestFactory f;
  EvlServer *server;
  TestProto *p;
  guint16 port;
  GSocket *client;
  guint fds_before = evl_test_count_fds ();

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  test_factory_init (&f);
  server = test_start_server (loop, &f, "127.0.0.1");
  port = evl_server_get_port (server);
  g_object_unref (server);
  client = raw_connect_ok (port, FALSE);
  while (f.created->len == 0)
    evl_test_run_once (loop);
  p = f.created->pdata[0];
  g_assert_false (p->lost);
  evl_test_close_loop (loop);
  g_assert_true (p->lost);
  g_assert_error (p->error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_CLOSED);
  test_factory_clear (&f);
  raw_close (client);
  g_assert_cmpuint (evl_test_count_fds (), ==, fds_before);
}

/* Once wait_closed has returned, the listening socket is closed too (as
 * asyncio's): its port, given explicitly (a bound port then stays taken
 * while the socket is open, even shut down), can be bound again at once. */
static void
test_port_free_after_wait_closed (void)
{
  EvlLoop *loop;
  TestFactory f;
  EvlServer *server;
  TestWaiter w;
  GError *error = NULL;
  guint16 port;
  GSocket *sock;
  GSocketAddress *address;
  GInetAddress *loopback;
  guint fds_before = evl_test_count_fds ();

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  /* A free port. */
  loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  sock = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, &error);
  g_assert_no_error (error);
  address = g_inet_socket_address_new (loopback, 0);
  g_assert_true (g_socket_bind (sock, address, FALSE, &error));
  g_assert_no_error (error);
  g_object_unref (address);
  address = g_socket_get_local_address (sock, &error);
  g_assert_no_error (error);
  port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (address));
  raw_close (sock);

  test_factory_init (&f);
  test_waiter_init (&w, loop);
  evl_loop_create_server_full_async (loop, (EvlProtocolFactory) test_factory_make, &f, NULL,
                                     "127.0.0.1", port, 0, EVL_SERVER_FLAGS_NONE, NULL,
                                     test_waiter_cb, &w);
  test_waiter_wait (&w);
  server = evl_loop_create_server_full_finish (loop, w.result, &error);
  g_assert_no_error (error);
  test_waiter_clear (&w);
  g_assert_cmpuint (evl_server_get_port (server), ==, port);
  test_server_close (loop, server);

  /* Bound again, without SO_REUSEADDR. */
  sock = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, &error);
  g_assert_no_error (error);
  g_assert_true (g_socket_bind (sock, address, FALSE, &error));
  g_assert_no_error (error);
  raw_close (sock);
  g_object_unref (address);
  g_object_unref (loopback);

  test_factory_clear (&f);
  evl_test_close_loop (loop);
  g_assert_cmpuint (evl_test_count_fds (), ==, fds_before);
}

/* EVL_SERVER_FLAGS_REUSE_PORT: two servers share a port where
 * SO_REUSEPORT exists; Windows has none: EVL_LOOP_ERROR_NOT_SUPPORTED,
 * and no protocol is made. */
static EvlServer *
start_reuse_port (EvlLoop      *loop,
                  TestFactory  *f,
                  guint16       port,
                  GError      **error)
{
  TestWaiter w;
  EvlServer *server;

  test_waiter_init (&w, loop);
  evl_loop_create_server_full_async (loop, (EvlProtocolFactory) test_factory_make, f, NULL,
                                     "127.0.0.1", port, 0,
                                     EVL_SERVER_FLAGS_REUSE_ADDRESS | EVL_SERVER_FLAGS_REUSE_PORT,
                                     NULL, test_waiter_cb, &w);
  test_waiter_wait (&w);
  server = evl_loop_create_server_full_finish (loop, w.result, error);
  test_waiter_clear (&w);
  return server;
}

static void
test_reuse_port (void)
{
  EvlLoop *loop;
  TestFactory f;
  EvlServer *server;
  GError *error = NULL;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  test_factory_init (&f);
  server = start_reuse_port (loop, &f, 0, &error);
#ifdef G_OS_WIN32
  g_assert_null (server);
  g_assert_error (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_NOT_SUPPORTED);
  g_clear_error (&error);
#else
  {
    EvlServer *second;

    g_assert_no_error (error);
    second = start_reuse_port (loop, &f, evl_server_get_port (server), &error);
    g_assert_no_error (error);
    g_assert_cmpuint (evl_server_get_port (second), ==, evl_server_get_port (server));
    test_server_close (loop, second);
    test_server_close (loop, server);
  }
#endif
  g_assert_cmpuint (f.created->len, ==, 0);
  test_factory_clear (&f);
  evl_test_close_loop (loop);
}

/* No other socket can bind the port a server listens on, even with
 * SO_REUSEADDR: on Windows, where SO_REUSEADDR would let it, the
 * listening sockets have SO_EXCLUSIVEADDRUSE. (Under Wine, Linux sockets
 * underneath, this holds without the option as well: only Windows itself
 * tests the option here.) */
static void
test_port_not_stolen (void)
{
  EvlLoop *loop;
  TestFactory f;
  EvlServer *server;
  GSocket *thief;
  GInetAddress *loopback;
  GSocketAddress *address;
  GError *error = NULL;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  test_factory_init (&f);
  server = test_start_server (loop, &f, "127.0.0.1");
  thief = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, &error);
  g_assert_no_error (error);
  g_assert_true (g_socket_set_option (thief, SOL_SOCKET, SO_REUSEADDR, 1, &error));
  g_assert_no_error (error);
  loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  address = g_inet_socket_address_new (loopback, evl_server_get_port (server));
  g_assert_false (g_socket_bind (thief, address, TRUE, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE);
  g_clear_error (&error);
  g_object_unref (address);
  g_object_unref (loopback);
  raw_close (thief);
  test_server_close (loop, server);
  test_factory_clear (&f);
  evl_test_close_loop (loop);
}

/* Windows only ------------------------------------------------------------ */

#ifdef G_OS_WIN32

/* Unix-domain stream sockets are not supported on Windows (Wine 8 has
 * none to test with): create_unix_server and create_unix_connection fail
 * cleanly, and no protocol is made. */
static void
test_unix_not_supported (void)
{
  EvlLoop *loop;
  TestFactory f;
  TestWaiter w;
  GError *error = NULL;
  EvlProtocol *p = (EvlProtocol *) 0x1;
  char *dir = g_dir_make_tmp ("evl-unix-XXXXXX", NULL);
  char *path = g_build_filename (dir, "sock", NULL);

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  test_factory_init (&f);
  test_waiter_init (&w, loop);
  evl_loop_create_unix_server_async (loop, (EvlProtocolFactory) test_factory_make, &f, NULL,
                                     path, NULL, test_waiter_cb, &w);
  test_waiter_wait (&w);
  g_assert_null (evl_loop_create_unix_server_finish (loop, w.result, &error));
  g_assert_error (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_NOT_SUPPORTED);
  g_clear_error (&error);
  test_waiter_clear (&w);

  test_waiter_init (&w, loop);
  evl_loop_create_unix_connection_async (loop, (EvlProtocolFactory) test_factory_make, &f, NULL,
                                         path, NULL, test_waiter_cb, &w);
  test_waiter_wait (&w);
  g_assert_null (evl_loop_create_unix_connection_finish (loop, w.result, &p, &error));
  g_assert_error (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_NOT_SUPPORTED);
  g_assert_null (p);
  g_clear_error (&error);
  test_waiter_clear (&w);

  g_assert_cmpuint (f.created->len, ==, 0);
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
  test_factory_clear (&f);
  evl_test_close_loop (loop);
  g_assert_cmpint (g_rmdir (dir), ==, 0);
  g_free (path);
  g_free (dir);
}

#endif /* G_OS_WIN32 */

/* POSIX only -------------------------------------------------------------- */

#ifdef G_OS_UNIX

/* EMFILE on accept: the server pauses, then serves again once fds are
 * free. Runs in a child with a low RLIMIT_NOFILE. */
static void
test_emfile (void)
{
  if (g_test_subprocess ())
    {
      EvlLoop *loop;
      TestFactory f;
      EvlServer *server;
      struct rlimit rl;
      GArray *hogs = g_array_new (FALSE, FALSE, sizeof (int));
      guint16 port;
      TestProto *p;
      int client, hog;
      double start;
      guint i;

      /* The limit first: io_uring reads it when an accept is submitted. */
      rl.rlim_cur = evl_test_count_fds () + 32;
      rl.rlim_max = rl.rlim_cur;
      g_assert_cmpint (setrlimit (RLIMIT_NOFILE, &rl), ==, 0);
      EVL_TEST_NEW_LOOP_OR_SKIP (loop);
      test_factory_init (&f);
      server = test_start_server (loop, &f, "127.0.0.1");
      port = evl_server_get_port (server);

      /* The client's socket first; connect only once no fd is left, so
       * that no accept (a proactor's is in flight) can take one. */
      client = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      g_assert_cmpint (client, >=, 0);
      while ((hog = open ("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0)
        g_array_append_val (hogs, hog);
      g_assert_cmpint (errno, ==, EMFILE);
      {
        struct sockaddr_in sin = { 0 };

        sin.sin_family = AF_INET;
        sin.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
        sin.sin_port = htons (port);
        g_assert_cmpint (connect (client, (struct sockaddr *) &sin, sizeof sin), ==, 0);
      }
      g_assert_cmpint (write (client, "x", 1), ==, 1);

      /* Accepting fails for a while; the server must survive it. */
      start = evl_loop_time (loop);
      while (evl_loop_time (loop) - start < 0.35)
        evl_test_run_once (loop);
      g_assert_cmpuint (f.created->len, ==, 0);
      g_assert_true (evl_server_is_serving (server));

      for (i = 0; i < hogs->len; i++)
        close (g_array_index (hogs, int, i));
      g_array_unref (hogs);
      while (f.created->len == 0)
        evl_test_run_once (loop);
      p = f.created->pdata[0];
      p->expect = 1;
      test_run_until (loop, &p->got_expected);
      close (client);
      test_run_until (loop, &p->lost);

      test_server_close (loop, server);
      test_factory_clear (&f);
      evl_test_close_loop (loop);
      return;
    }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_INHERIT_STDERR);
  g_test_trap_assert_passed ();
}

#endif /* G_OS_UNIX */

int
main (int    argc,
      char **argv)
{
  evl_test_init (&argc, &argv);

  g_test_add_func ("/Evl/Server/port-zero", test_port_zero);
  g_test_add_func ("/Evl/Server/multiple-addresses", test_multiple_addresses);
  g_test_add_func ("/Evl/Server/address-in-use", test_address_in_use);
  g_test_add_func ("/Evl/Server/close-and-wait-closed", test_close_and_wait);
  g_test_add_func ("/Evl/Server/wait-closed-cancelled", test_wait_closed_cancelled);
  g_test_add_func ("/Evl/Server/loop-close", test_loop_close_ends_server);
  g_test_add_func ("/Evl/Server/port-free-after-wait-closed", test_port_free_after_wait_closed);
  g_test_add_func ("/Evl/Server/reuse-port", test_reuse_port);
  g_test_add_func ("/Evl/Server/port-not-stolen", test_port_not_stolen);
#ifdef G_OS_WIN32
  g_test_add_func ("/Evl/Server/unix-not-supported", test_unix_not_supported);
#endif
#ifdef G_OS_UNIX
  /* setrlimit(RLIMIT_NOFILE) and /dev/null: Windows has no per-process
   * limit of sockets to exhaust. */
  g_test_add_func ("/Evl/Server/emfile", test_emfile);
#endif

  return g_test_run ();
}
