/* security.c: what a child process inherits from a program that uses the
 * library, and how the library starts children
 *
 * Not parametrized: every test makes loops of each kind itself (the
 * proactor where io_uring or an I/O completion port is available).
 *
 * The sockets' own flags are checked on every platform; the rest lists a
 * child's fds through /proc, spawns with posix_spawn() and needs Unix
 * sockets, POSIX signals and cat: a POSIX-only group (on Windows a socket
 * that is not inheritable is what keeps it from a child).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "evl-test-protocol.h"

#include <string.h>

#ifdef G_OS_UNIX
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib/gstdio.h>
#endif

/* ---------------------------------------------------------------------- */
/* the library's sockets cannot reach a child, and do not block */

static void
check_socket_flags (EvlLoop *loop)
{
  TestFactory sf, cf;
  EvlServer *server;
  EvlTransport *client;
  TestProto *client_proto, *server_proto;

  test_factory_init (&sf);
  test_factory_init (&cf);
  server = test_start_server (loop, &sf, "127.0.0.1");
  client = test_connect (loop, &cf, "127.0.0.1", evl_server_get_port (server), &client_proto);
  while (sf.created->len == 0)
    evl_test_run_once (loop);
  server_proto = sf.created->pdata[0];
  /* connect's socket, accept's socket: non-blocking, close-on-exec (not
   * inheritable on Windows) */
  evl_test_assert_sock_flags (evl_transport_get_fd (client));
  evl_test_assert_sock_flags (evl_transport_get_fd (server_proto->transport));
  evl_transport_close (client);
  test_run_until (loop, &client_proto->lost);
  test_run_until (loop, &server_proto->lost);
  g_object_unref (client);
  g_object_unref (client_proto);
  test_server_close (loop, server);
  test_factory_clear (&sf);
  test_factory_clear (&cf);
  evl_test_close_loop (loop);
}

static void
test_socket_flags (void)
{
  EvlSelector *selector;
  EvlLoop *proactor;
  GError *error = NULL;

  check_socket_flags (evl_selector_loop_new (NULL));
  selector = evl_poll_selector_new ();
  check_socket_flags (evl_selector_loop_new (selector));
  g_object_unref (selector);
  selector = evl_select_selector_new ();
  check_socket_flags (evl_selector_loop_new (selector));
  g_object_unref (selector);
  /* memcheck cannot follow io_uring (see evl-test-util.c) */
  proactor = evl_test_under_valgrind () ? NULL : evl_proactor_loop_new (&error);
  if (proactor != NULL)
    check_socket_flags (proactor);
  else
    {
      g_test_message ("no proactor: %s", error != NULL ? error->message : "valgrind");
      g_clear_error (&error);
    }
}

/* POSIX only -------------------------------------------------------------- */

#ifdef G_OS_UNIX

/* ---------------------------------------------------------------------- */
/* helper modes of this binary, run as the child */

/* Prints "fd target" for every open fd but 0, 1, 2 and the directory's. */
static int
helper_list_fds (void)
{
  GDir *dir = g_dir_open ("/proc/self/fd", 0, NULL);
  const char *name;

  if (dir == NULL)
    return 1;
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      int fd = atoi (name);
      char *path, *target;

      if (fd <= 2)
        continue;
      path = g_strdup_printf ("/proc/self/fd/%d", fd);
      target = g_file_read_link (path, NULL);
      /* The directory being read is gone from /proc by now or is ours. */
      if (target != NULL && !g_str_has_prefix (target, "/proc/"))
        printf ("%d %s\n", fd, target);
      g_free (target);
      g_free (path);
    }
  g_dir_close (dir);
  return fflush (stdout) == 0 ? 0 : 1;
}

/* Prints the parent's pid, then each argument as "length:bytes\n". */
static int
helper_print_args (int    argc,
                   char **argv)
{
  int i;

  printf ("%d\n", (int) getppid ());
  for (i = 2; i < argc; i++)
    printf ("%zu:%s\n", strlen (argv[i]), argv[i]);
  return fflush (stdout) == 0 ? 0 : 1;
}

static char *
self_exe (void)
{
  char *exe = g_file_read_link ("/proc/self/exe", NULL);

  g_assert_nonnull (exe);
  return exe;
}

/* ---------------------------------------------------------------------- */
/* a subprocess protocol that collects stdout */

#define TEST_TYPE_COLLECTOR (test_collector_get_type ())
G_DECLARE_FINAL_TYPE (TestCollector, test_collector, TEST, COLLECTOR, GObject)

struct _TestCollector
{
  GObject                 parent_instance;
  EvlSubprocessTransport *transport;
  GByteArray             *out;
  int                     returncode;
  gboolean                exited;
  gboolean                lost;
};

static void test_collector_iface_init (EvlSubprocessProtocolInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (TestCollector, test_collector, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (EVL_TYPE_SUBPROCESS_PROTOCOL,
                                                      test_collector_iface_init))

static void
collector_connection_made (EvlSubprocessProtocol  *protocol,
                           EvlSubprocessTransport *transport)
{
  TEST_COLLECTOR (protocol)->transport = g_object_ref (transport);
}

static void
collector_pipe_data_received (EvlSubprocessProtocol *protocol,
                              int                    fd,
                              GBytes                *data)
{
  TestCollector *self = TEST_COLLECTOR (protocol);
  gsize len;
  const guint8 *p = g_bytes_get_data (data, &len);

  if (fd == 1)
    g_byte_array_append (self->out, p, len);
}

static void
collector_process_exited (EvlSubprocessProtocol *protocol)
{
  TestCollector *self = TEST_COLLECTOR (protocol);

  self->returncode = evl_subprocess_transport_get_returncode (self->transport);
  self->exited = TRUE;
}

static void
collector_connection_lost (EvlSubprocessProtocol *protocol,
                           const GError          *error)
{
  TestCollector *self = TEST_COLLECTOR (protocol);

  g_assert_no_error (error);
  self->lost = TRUE;
  g_clear_object (&self->transport);
}

static void
test_collector_iface_init (EvlSubprocessProtocolInterface *iface)
{
  iface->connection_made = collector_connection_made;
  iface->pipe_data_received = collector_pipe_data_received;
  iface->process_exited = collector_process_exited;
  iface->connection_lost = collector_connection_lost;
}

static void
test_collector_finalize (GObject *object)
{
  TestCollector *self = TEST_COLLECTOR (object);

  g_clear_object (&self->transport);
  g_byte_array_unref (self->out);
  G_OBJECT_CLASS (test_collector_parent_class)->finalize (object);
}

static void
test_collector_class_init (TestCollectorClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = test_collector_finalize;
}

static void
test_collector_init (TestCollector *self)
{
  self->out = g_byte_array_new ();
}

static EvlSubprocessProtocol *
make_collector (gpointer data)
{
  return g_object_new (TEST_TYPE_COLLECTOR, NULL);
}

/* Runs argv (or the shell @command) to its end; its stdout, NUL-ended. */
static char *
run_child (EvlLoop            *loop,
           const char * const *argv,
           const char         *command,
           int                *returncode)
{
  TestWaiter w;
  EvlSubprocessTransport *t;
  EvlSubprocessProtocol *p = NULL;
  TestCollector *c;
  GError *error = NULL;
  char *out;

  test_waiter_init (&w, loop);
  if (command != NULL)
    evl_loop_subprocess_shell_async (loop, make_collector, NULL, NULL, command,
                                     EVL_SUBPROCESS_STDIO_DEVNULL, EVL_SUBPROCESS_STDIO_PIPE,
                                     EVL_SUBPROCESS_STDIO_INHERIT, NULL, test_waiter_cb, &w);
  else
    evl_loop_subprocess_exec_async (loop, make_collector, NULL, NULL, argv,
                                    EVL_SUBPROCESS_STDIO_DEVNULL, EVL_SUBPROCESS_STDIO_PIPE,
                                    EVL_SUBPROCESS_STDIO_INHERIT, NULL, test_waiter_cb, &w);
  test_waiter_wait (&w);
  t = command != NULL ? evl_loop_subprocess_shell_finish (loop, w.result, &p, &error)
                      : evl_loop_subprocess_exec_finish (loop, w.result, &p, &error);
  g_assert_no_error (error);
  test_waiter_clear (&w);
  c = TEST_COLLECTOR (p);
  test_run_until (loop, &c->lost);
  g_assert_true (c->exited);
  *returncode = c->returncode;
  g_byte_array_append (c->out, (const guint8 *) "", 1);
  out = g_strdup ((const char *) c->out->data);
  g_object_unref (t);
  g_object_unref (c);
  return out;
}

/* ---------------------------------------------------------------------- */
/* no fd of the library reaches a child */

typedef struct
{
  EvlLoop      *loop;
  GMainContext *context;
  TestFactory   sf;
  TestFactory   cf;
  EvlServer    *tcp_server;
  EvlServer    *unix_server;
  EvlTransport *tcp_client;
  EvlTransport *unix_client;
  TestProto    *tcp_proto;
  TestProto    *unix_proto;
  char         *dir;
  char         *path;
  int           pair[2];
  TestWaiter    recv;
  EvlSubprocessTransport *cat;
  TestCollector *cat_proto;
} Everything;

static void
ignore_signal (gpointer data)
{
}

/* A loop with all it can hold that makes fds: the GLib bridge's poll fd,
 * a signal handler, TCP and Unix servers with a connection each (both
 * ends), a pending sock_recv, a child with pipes (and its pidfd). */
static void
everything_start (Everything *e,
                  EvlLoop    *loop)
{
  GError *error = NULL;
  EvlProtocol *p = NULL;
  const char *cat_argv[] = { "cat", NULL };
  EvlSubprocessProtocol *sp = NULL;

  memset (e, 0, sizeof *e);
  e->loop = loop;
  e->context = g_main_context_new ();
  g_assert_cmpuint (evl_loop_attach (loop, e->context), >, 0);
  g_assert_true (evl_loop_add_signal_handler (loop, SIGUSR1, ignore_signal, NULL, NULL, &error));
  g_assert_no_error (error);
  test_factory_init (&e->sf);
  test_factory_init (&e->cf);
  e->tcp_server = test_start_server (loop, &e->sf, "127.0.0.1");
  e->tcp_client = test_connect (loop, &e->cf, "localhost", evl_server_get_port (e->tcp_server),
                                &e->tcp_proto);

  e->dir = g_dir_make_tmp ("evl-security-XXXXXX", NULL);
  e->path = g_build_filename (e->dir, "sock", NULL);
  {
    TestWaiter w;

    test_waiter_init (&w, loop);
    evl_loop_create_unix_server_async (loop, (EvlProtocolFactory) test_factory_make, &e->sf, NULL,
                                       e->path, NULL, test_waiter_cb, &w);
    test_waiter_wait (&w);
    e->unix_server = evl_loop_create_unix_server_finish (loop, w.result, &error);
    g_assert_no_error (error);
    test_waiter_clear (&w);
    test_waiter_init (&w, loop);
    evl_loop_create_unix_connection_async (loop, (EvlProtocolFactory) test_factory_make, &e->cf,
                                           NULL, e->path, NULL, test_waiter_cb, &w);
    test_waiter_wait (&w);
    e->unix_client = evl_loop_create_unix_connection_finish (loop, w.result, &p, &error);
    g_assert_no_error (error);
    e->unix_proto = TEST_PROTO (p);
    test_waiter_clear (&w);
  }
  while (e->sf.created->len < 2)
    evl_test_run_once (loop);

  evl_test_socketpair (e->pair);
  test_waiter_init (&e->recv, loop);
  evl_loop_sock_recv_async (loop, e->pair[0], 10, NULL, test_waiter_cb, &e->recv);

  {
    TestWaiter w;

    test_waiter_init (&w, loop);
    evl_loop_subprocess_exec_async (loop, make_collector, NULL, NULL, cat_argv,
                                    EVL_SUBPROCESS_STDIO_PIPE, EVL_SUBPROCESS_STDIO_PIPE,
                                    EVL_SUBPROCESS_STDIO_PIPE, NULL, test_waiter_cb, &w);
    test_waiter_wait (&w);
    e->cat = evl_loop_subprocess_exec_finish (loop, w.result, &sp, &error);
    g_assert_no_error (error);
    e->cat_proto = TEST_COLLECTOR (sp);
    test_waiter_clear (&w);
  }
  evl_test_run_once (loop);
}

static void
everything_stop (Everything *e)
{
  GError *error = NULL;
  GBytes *bytes;

  evl_transport_close (EVL_TRANSPORT (e->cat));
  test_run_until (e->loop, &e->cat_proto->lost);
  g_object_unref (e->cat);
  g_object_unref (e->cat_proto);

  g_assert_cmpint (write (e->pair[1], "x", 1), ==, 1);
  test_waiter_wait (&e->recv);
  bytes = evl_loop_sock_recv_finish (e->loop, e->recv.result, &error);
  g_assert_no_error (error);
  g_bytes_unref (bytes);
  test_waiter_clear (&e->recv);
  close (e->pair[0]);
  close (e->pair[1]);

  evl_transport_close (e->tcp_client);
  evl_transport_close (e->unix_client);
  test_run_until (e->loop, &e->tcp_proto->lost);
  test_run_until (e->loop, &e->unix_proto->lost);
  g_object_unref (e->tcp_client);
  g_object_unref (e->unix_client);
  g_object_unref (e->tcp_proto);
  g_object_unref (e->unix_proto);
  test_server_close (e->loop, e->tcp_server);
  test_server_close (e->loop, e->unix_server);
  test_factory_clear (&e->sf);
  test_factory_clear (&e->cf);
  g_assert_true (evl_loop_remove_signal_handler (e->loop, SIGUSR1));
  evl_test_close_loop (e->loop);
  while (g_main_context_iteration (e->context, FALSE))
    ;
  g_main_context_unref (e->context);
  g_assert_cmpint (g_rmdir (e->dir), ==, 0);
  g_free (e->path);
  g_free (e->dir);
}

/* The fds of this process that any child inherits by design (open before
 * the test and not close-on-exec: what the test runner gave us). */
static GHashTable *
inheritable_fds (void)
{
  GHashTable *set = g_hash_table_new (NULL, NULL);
  GDir *dir = g_dir_open ("/proc/self/fd", 0, NULL);
  const char *name;

  g_assert_nonnull (dir);
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      int fd = atoi (name);
      int flags = fcntl (fd, F_GETFD);

      if (flags >= 0 && !(flags & FD_CLOEXEC))
        g_hash_table_add (set, GINT_TO_POINTER (fd));
    }
  g_dir_close (dir);
  return set;
}

/* Checks the helper's "fd target" lines against @allowed. */
static void
assert_no_foreign_fds (const char *listing,
                       GHashTable *allowed,
                       const char *how)
{
  char **lines = g_strsplit (listing, "\n", -1);
  guint i, n_bad = 0;

  for (i = 0; lines[i] != NULL; i++)
    {
      int fd;

      if (lines[i][0] == '\0')
        continue;
      fd = atoi (lines[i]);
      if (!g_hash_table_contains (allowed, GINT_TO_POINTER (fd)))
        {
          g_test_message ("%s: the child inherited fd %s", how, lines[i]);
          n_bad++;
        }
    }
  g_strfreev (lines);
  g_assert_cmpuint (n_bad, ==, 0);
}

/* posix_spawn() closes nothing: only close-on-exec protects the child. */
static char *
posix_spawn_list_fds (const char *exe)
{
  posix_spawn_file_actions_t actions;
  char *argv[] = { (char *) exe, (char *) "--list-fds", NULL };
  GString *out = g_string_new (NULL);
  int fds[2], status;
  pid_t pid;
  char buf[4096];
  ssize_t n;

  g_assert_cmpint (pipe2 (fds, O_CLOEXEC), ==, 0);
  posix_spawn_file_actions_init (&actions);
  posix_spawn_file_actions_adddup2 (&actions, fds[1], 1);
  g_assert_cmpint (posix_spawn (&pid, exe, &actions, NULL, argv, environ), ==, 0);
  posix_spawn_file_actions_destroy (&actions);
  close (fds[1]);
  while ((n = read (fds[0], buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR))
    if (n > 0)
      g_string_append_len (out, buf, n);
  close (fds[0]);
  g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
  g_assert_true (WIFEXITED (status));
  g_assert_cmpint (WEXITSTATUS (status), ==, 0);
  return g_string_free (out, FALSE);
}

static void
test_no_inherited_fds (void)
{
  GHashTable *allowed = inheritable_fds ();
  Everything e[3];
  guint n = 0, i;
  GError *error = NULL;
  EvlLoop *proactor;
  char *exe = self_exe ();
  char *listing;
  const char *argv[] = { exe, "--list-fds", NULL };
  int returncode;
  guint fds_before = evl_test_count_fds ();

  everything_start (&e[n++], evl_selector_loop_new (NULL));
  {
    EvlSelector *poll_selector = evl_poll_selector_new ();

    everything_start (&e[n++], evl_selector_loop_new (poll_selector));
    g_object_unref (poll_selector);
  }
  /* memcheck cannot follow io_uring (see evl-test-util.c) */
  proactor = evl_test_under_valgrind () ? NULL : evl_proactor_loop_new (&error);
  if (proactor != NULL)
    everything_start (&e[n++], proactor);
  else
    {
      g_test_message ("no proactor: %s", error != NULL ? error->message : "valgrind");
      g_clear_error (&error);
    }

  listing = posix_spawn_list_fds (exe);
  g_test_message ("posix_spawn child's fds:\n%s", listing);
  assert_no_foreign_fds (listing, allowed, "posix_spawn");
  g_free (listing);

  /* The library's own subprocess_exec, from each loop. */
  for (i = 0; i < n; i++)
    {
      listing = run_child (e[i].loop, argv, NULL, &returncode);
      g_assert_cmpint (returncode, ==, 0);
      assert_no_foreign_fds (listing, allowed, "subprocess_exec");
      g_free (listing);
    }

  for (i = 0; i < n; i++)
    everything_stop (&e[i]);
  g_hash_table_unref (allowed);
  g_free (exe);
  g_assert_cmpuint (evl_test_count_fds (), ==, fds_before);
}

/* ---------------------------------------------------------------------- */
/* subprocess_exec never goes through a shell */

static void
check_argv_verbatim (EvlLoop *loop)
{
  char *dir = g_dir_make_tmp ("evl-argv-XXXXXX", NULL);
  char *exe = self_exe ();
  char *marker = g_build_filename (dir, "pwned", NULL);
  char *a1 = g_strdup_printf ("; touch %s", marker);
  char *a2 = g_strdup_printf ("$(touch %s)", marker);
  char *a3 = g_strdup_printf ("`touch %s`", marker);
  char *a4 = g_strdup_printf ("| touch %s", marker);
  char *a5 = g_strdup_printf ("&& touch %s", marker);
  char *a6 = g_strdup_printf ("> %s", marker);
  const char *argv[] = {
    exe, "--print-args",
    a1, a2, a3, a4, a5, a6,
    "*", "~", "$HOME", "${PATH}", "'single'", "\"double\"", "back\\slash",
    "new\nline", "tab\there", "", "  spaces  ", "#comment", "!event", "a=b",
    NULL
  };
  GString *expected = g_string_new (NULL);
  char *out;
  int returncode, i;

  g_string_append_printf (expected, "%d\n", (int) getpid ());
  for (i = 2; argv[i] != NULL; i++)
    g_string_append_printf (expected, "%zu:%s\n", strlen (argv[i]), argv[i]);

  out = run_child (loop, argv, NULL, &returncode);
  g_assert_cmpint (returncode, ==, 0);
  /* Every argument arrives as it was given, and the child's parent is
   * this process: no shell in between. */
  g_assert_cmpstr (out, ==, expected->str);
  g_assert_false (g_file_test (marker, G_FILE_TEST_EXISTS));
  g_free (out);

  /* subprocess_shell, and only it, runs /bin/sh. */
  out = run_child (loop, NULL, "echo $((6 * 7))", &returncode);
  g_assert_cmpint (returncode, ==, 0);
  g_assert_cmpstr (out, ==, "42\n");
  g_free (out);

  g_string_free (expected, TRUE);
  g_free (a1);
  g_free (a2);
  g_free (a3);
  g_free (a4);
  g_free (a5);
  g_free (a6);
  g_free (marker);
  g_free (exe);
  g_assert_cmpint (g_rmdir (dir), ==, 0);
  g_free (dir);
}

static void
test_argv_verbatim (void)
{
  EvlLoop *loop;
  GError *error = NULL;

  loop = evl_selector_loop_new (NULL);
  check_argv_verbatim (loop);
  evl_test_close_loop (loop);

  loop = evl_test_under_valgrind () ? NULL : evl_proactor_loop_new (&error);
  if (loop == NULL)
    {
      g_test_message ("no proactor: %s", error != NULL ? error->message : "valgrind");
      g_clear_error (&error);
      return;
    }
  check_argv_verbatim (loop);
  evl_test_close_loop (loop);
}

#endif /* G_OS_UNIX */

int
main (int    argc,
      char **argv)
{
#ifdef G_OS_UNIX
  if (argc > 1 && g_str_equal (argv[1], "--list-fds"))
    return helper_list_fds ();
  if (argc > 1 && g_str_equal (argv[1], "--print-args"))
    return helper_print_args (argc, argv);
#endif

  evl_test_init (&argc, &argv);

  g_test_add_func ("/Evl/Security/socket-flags", test_socket_flags);
#ifdef G_OS_UNIX
  /* /proc/self/fd, posix_spawn(), Unix sockets, SIGUSR1 and cat; on
   * Windows the subprocess tests check the command line quoting. */
  g_test_add_func ("/Evl/Security/no-inherited-fds", test_no_inherited_fds);
  g_test_add_func ("/Evl/Security/exec/argv-verbatim", test_argv_verbatim);
#endif

  return g_test_run ();
}
