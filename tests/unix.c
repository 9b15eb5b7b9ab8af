/* unix.c: Unix-domain stream connections and servers, on the loop kind
 * under test
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "evl-test-protocol.h"

#include <errno.h>
#include <gio/gunixsocketaddress.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

typedef struct
{
  EvlLoop    *loop;
  TestFactory sf;
  TestFactory cf;
  char       *dir;
  char       *path;
  guint       fds_before;
} Fixture;

static gboolean
setup (Fixture *fx)
{
  memset (fx, 0, sizeof *fx);
  fx->fds_before = evl_test_count_fds ();
  fx->loop = evl_test_new_loop ();
  if (fx->loop == NULL)
    return FALSE;
  test_factory_init (&fx->sf);
  test_factory_init (&fx->cf);
  fx->dir = g_dir_make_tmp ("evl-unix-XXXXXX", NULL);
  g_assert_nonnull (fx->dir);
  fx->path = g_build_filename (fx->dir, "sock", NULL);
  return TRUE;
}

static void
teardown (Fixture *fx)
{
  g_unlink (fx->path);
  g_assert_cmpint (g_rmdir (fx->dir), ==, 0);
  g_free (fx->path);
  g_free (fx->dir);
  test_factory_clear (&fx->sf);
  test_factory_clear (&fx->cf);
  evl_test_close_loop (fx->loop);
  g_assert_cmpuint (evl_test_count_fds (), ==, fx->fds_before);
}

static EvlServer *
start_unix_server (Fixture  *fx,
                   GError  **error)
{
  TestWaiter w;
  EvlServer *server;

  test_waiter_init (&w, fx->loop);
  evl_loop_create_unix_server_async (fx->loop, (EvlProtocolFactory) test_factory_make, &fx->sf, NULL,
                                     fx->path, NULL, test_waiter_cb, &w);
  test_waiter_wait (&w);
  server = evl_loop_create_unix_server_finish (fx->loop, w.result, error);
  test_waiter_clear (&w);
  return server;
}

static EvlTransport *
unix_connect (Fixture    *fx,
              TestProto **proto,
              GError    **error)
{
  TestWaiter w;
  EvlTransport *t;
  EvlProtocol *p = NULL;

  test_waiter_init (&w, fx->loop);
  evl_loop_create_unix_connection_async (fx->loop, (EvlProtocolFactory) test_factory_make, &fx->cf,
                                         NULL, fx->path, NULL, test_waiter_cb, &w);
  test_waiter_wait (&w);
  t = evl_loop_create_unix_connection_finish (fx->loop, w.result, &p, error);
  test_waiter_clear (&w);
  *proto = (TestProto *) p;
  return t;
}

static void
test_echo (void)
{
  Fixture fx;
  GError *error = NULL;
  EvlServer *server;
  EvlTransport *t;
  TestProto *client, *sp;
  GBytes *data = test_pattern (512 * 1024, 1);
  GList *addresses;

  if (!setup (&fx))
    {
      g_bytes_unref (data);
      return;
    }
  fx.sf.template_.echo = TRUE;
  server = start_unix_server (&fx, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (evl_server_get_port (server), ==, 0);
  addresses = evl_server_get_addresses (server);
  g_assert_cmpuint (g_list_length (addresses), ==, 1);
  g_assert_true (G_IS_UNIX_SOCKET_ADDRESS (addresses->data));
  g_assert_cmpstr (g_unix_socket_address_get_path (addresses->data), ==, fx.path);
  g_list_free_full (addresses, g_object_unref);
  g_assert_true (g_file_test (fx.path, G_FILE_TEST_EXISTS));

  t = unix_connect (&fx, &client, &error);
  g_assert_no_error (error);
  client->expect = g_bytes_get_size (data);
  evl_transport_write (t, data);
  test_run_until (fx.loop, &client->got_expected);
  g_assert_cmpmem (client->data->data, client->data->len,
                   g_bytes_get_data (data, NULL), g_bytes_get_size (data));
  evl_transport_close (t);
  test_run_until (fx.loop, &client->lost);
  sp = fx.sf.created->pdata[0];
  test_run_until (fx.loop, &sp->lost);
  g_assert_no_error (sp->error);

  test_server_close (fx.loop, server);
  g_assert_false (g_file_test (fx.path, G_FILE_TEST_EXISTS));   /* unlinked on close */
  g_object_unref (t);
  g_object_unref (client);
  g_bytes_unref (data);
  teardown (&fx);
}

/* A socket file left by a dead server is replaced; a live one is not. */
static void
test_stale_and_live (void)
{
  Fixture fx;
  GError *error = NULL;
  EvlServer *server;
  struct sockaddr_un sun = { 0 };
  int fd;

  if (!setup (&fx))
    return;
  fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sun.sun_family = AF_UNIX;
  g_strlcpy (sun.sun_path, fx.path, sizeof sun.sun_path);
  g_assert_cmpint (bind (fd, (struct sockaddr *) &sun, sizeof sun), ==, 0);
  g_assert_cmpint (listen (fd, 1), ==, 0);

  /* Live: refused, the file stays. */
  server = start_unix_server (&fx, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE);
  g_assert_null (server);
  g_clear_error (&error);
  g_assert_true (g_file_test (fx.path, G_FILE_TEST_EXISTS));

  /* Dead (the file is left behind): replaced. */
  close (fd);
  g_assert_true (g_file_test (fx.path, G_FILE_TEST_EXISTS));
  server = start_unix_server (&fx, &error);
  g_assert_no_error (error);
  g_assert_nonnull (server);

  /* A server whose file was replaced by another leaves that one alone. */
  g_assert_cmpint (g_unlink (fx.path), ==, 0);
  g_assert_true (g_file_set_contents (fx.path, "x", 1, NULL));
  test_server_close (fx.loop, server);
  g_assert_true (g_file_test (fx.path, G_FILE_TEST_EXISTS));
  teardown (&fx);
}

static void
test_connect_errors (void)
{
  Fixture fx;
  GError *error = NULL;
  TestProto *p;
  struct sockaddr_un sun = { 0 };
  int fd;

  if (!setup (&fx))
    return;
  g_assert_null (unix_connect (&fx, &p, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_clear_error (&error);

  fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sun.sun_family = AF_UNIX;
  g_strlcpy (sun.sun_path, fx.path, sizeof sun.sun_path);
  g_assert_cmpint (bind (fd, (struct sockaddr *) &sun, sizeof sun), ==, 0);
  close (fd);
  g_assert_null (unix_connect (&fx, &p, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED);
  g_clear_error (&error);
  g_assert_cmpuint (fx.cf.created->len, ==, 0);
  teardown (&fx);
}

static guint
socket_mode_with_umask (Fixture *fx,
                        mode_t   mask)
{
  GError *error = NULL;
  EvlServer *server;
  struct stat st;
  mode_t old = umask (mask);

  server = start_unix_server (fx, &error);
  umask (old);
  g_assert_no_error (error);
  g_assert_cmpint (lstat (fx->path, &st), ==, 0);
  g_assert_true (S_ISSOCK (st.st_mode));
  test_server_close (fx->loop, server);
  return st.st_mode & 07777;
}

/* What the library does with the socket file, deliberately: it gets the
 * permissions bind() gives it, 0777 minus the process's umask, neither
 * widened nor narrowed (a private server sets a umask of 077 or listens in
 * a private directory); only a socket file whose server is gone is ever
 * replaced, never anything else found at the path: a regular file, or a
 * symbolic link (even one to a stale socket) stays, and the server fails
 * with G_IO_ERROR_ADDRESS_IN_USE. */
static void
test_permissions_and_non_sockets (void)
{
  Fixture fx;
  GError *error = NULL;
  EvlServer *server;
  struct sockaddr_un sun = { 0 };
  char *contents = NULL, *target, *link_target;
  int fd;

  if (!setup (&fx))
    return;
  g_assert_cmpuint (socket_mode_with_umask (&fx, 077), ==, 0700);
  g_assert_cmpuint (socket_mode_with_umask (&fx, 022), ==, 0755);
  g_assert_cmpuint (socket_mode_with_umask (&fx, 0), ==, 0777);

  /* A regular file at the path. */
  g_assert_true (g_file_set_contents (fx.path, "keep", 4, NULL));
  server = start_unix_server (&fx, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE);
  g_assert_null (server);
  g_clear_error (&error);
  g_assert_true (g_file_get_contents (fx.path, &contents, NULL, NULL));
  g_assert_cmpstr (contents, ==, "keep");
  g_free (contents);
  g_assert_cmpint (g_unlink (fx.path), ==, 0);

  /* A symbolic link to a stale socket file: neither is removed. */
  target = g_build_filename (fx.dir, "stale", NULL);
  fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sun.sun_family = AF_UNIX;
  g_strlcpy (sun.sun_path, target, sizeof sun.sun_path);
  g_assert_cmpint (bind (fd, (struct sockaddr *) &sun, sizeof sun), ==, 0);
  close (fd);
  g_assert_cmpint (symlink (target, fx.path), ==, 0);
  server = start_unix_server (&fx, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE);
  g_assert_null (server);
  g_clear_error (&error);
  link_target = g_file_read_link (fx.path, NULL);
  g_assert_cmpstr (link_target, ==, target);
  g_assert_true (g_file_test (target, G_FILE_TEST_EXISTS));
  g_free (link_target);
  g_assert_cmpint (g_unlink (fx.path), ==, 0);
  g_assert_cmpint (g_unlink (target), ==, 0);
  g_free (target);
  teardown (&fx);
}

int
main (int    argc,
      char **argv)
{
  evl_test_init (&argc, &argv);

  g_test_add_func ("/Evl/Unix/echo", test_echo);
  g_test_add_func ("/Evl/Unix/stale-and-live", test_stale_and_live);
  g_test_add_func ("/Evl/Unix/connect-errors", test_connect_errors);
  g_test_add_func ("/Evl/Unix/permissions-and-non-sockets", test_permissions_and_non_sockets);

  return g_test_run ();
}
