/* proactor.c: tests specific to EvlProactorLoop (io_uring)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "evl-test-util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* A proactor loop, or a skipped test where io_uring is unavailable. */
#define NEW_PROACTOR_OR_SKIP(var)                                          \
  G_STMT_START {                                                           \
    GError *error_ = NULL;                                                 \
    (var) = evl_proactor_loop_new (&error_);                               \
    if ((var) == NULL)                                                     \
      {                                                                    \
        g_assert_error (error_, EVL_LOOP_ERROR, EVL_LOOP_ERROR_NOT_SUPPORTED); \
        g_test_skip (error_->message);                                     \
        g_error_free (error_);                                             \
        return;                                                            \
      }                                                                    \
  } G_STMT_END

/* One asynchronous call's outcome. */
typedef struct
{
  EvlLoop      *loop;
  GAsyncResult *result;
  guint         n_calls;
} Call;

static guint n_done;

static void
call_cb (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  Call *c = user_data;

  g_assert_true (source == G_OBJECT (c->loop));
  c->n_calls++;
  g_assert_cmpuint (c->n_calls, ==, 1);
  c->result = g_object_ref (result);
  n_done++;
}

static gboolean
run_until_done (EvlLoop *loop,
                guint    n)
{
  gint64 deadline = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;

  while (n_done < n && g_get_monotonic_time () < deadline)
    evl_test_run_once (loop);
  return n_done >= n;
}

static guint
n_ops (guint normal,
       guint under_valgrind)
{
  return evl_test_under_valgrind () ? under_valgrind : normal;
}

/* Many operations in flight ----------------------------------------------- */

/* @n concurrent recvs on @n socketpairs: more than the ring's 256 SQ
 * entries (they queue) and, for the larger count, more completions at once
 * than its 4096 CQ entries (the kernel keeps the overflow). */
static void
many_recvs (guint n)
{
  EvlLoop *loop;
  int (*pairs)[2] = g_malloc_n (n, sizeof *pairs);
  Call *calls = g_new0 (Call, n);
  guint i, fds_before = evl_test_count_fds ();

  NEW_PROACTOR_OR_SKIP (loop);
  n_done = 0;
  for (i = 0; i < n; i++)
    {
      evl_test_socketpair (pairs[i]);
      calls[i].loop = loop;
      evl_loop_sock_recv_async (loop, pairs[i][0], 16, NULL, call_cb, &calls[i]);
    }
  /* All armed, nothing to read yet. */
  evl_test_run_once (loop);
  evl_test_run_once (loop);
  g_assert_cmpuint (n_done, ==, 0);

  for (i = 0; i < n; i++)
    {
      char msg[16];
      int len = g_snprintf (msg, sizeof msg, "%u", i);

      g_assert_cmpint (write (pairs[i][1], msg, len), ==, len);
    }
  g_assert_true (run_until_done (loop, n));

  for (i = 0; i < n; i++)
    {
      GError *error = NULL;
      GBytes *got = evl_loop_sock_recv_finish (loop, calls[i].result, &error);
      char *expected = g_strdup_printf ("%u", i);

      g_assert_no_error (error);
      g_assert_cmpmem (g_bytes_get_data (got, NULL), g_bytes_get_size (got), expected, strlen (expected));
      g_free (expected);
      g_bytes_unref (got);
      g_clear_object (&calls[i].result);
      close (pairs[i][0]);
      close (pairs[i][1]);
    }
  g_free (pairs);
  g_free (calls);
  evl_test_close_loop (loop);
  g_assert_cmpuint (evl_test_count_fds (), ==, fds_before);
}

static void
test_many_inflight (void)
{
  many_recvs (200);
}

static void
test_ring_full (void)
{
  many_recvs (n_ops (4500, 600));
}

/* As many fd watches (poll requests) as socketpairs, all ready at once. */
typedef struct
{
  int   fd;
  guint n_ran;
} Counted;

static void
count_and_drain (gpointer data)
{
  Counted *c = data;
  char buf[16];

  c->n_ran++;
  while (read (c->fd, buf, sizeof buf) > 0)
    ;
  n_done++;
}

static void
test_ring_full_watches (void)
{
  EvlLoop *loop;
  guint n = n_ops (3000, 400), i;
  int (*pairs)[2] = g_malloc_n (n, sizeof *pairs);
  Counted *counts = g_new0 (Counted, n);
  GError *error = NULL;

  NEW_PROACTOR_OR_SKIP (loop);
  n_done = 0;
  for (i = 0; i < n; i++)
    {
      evl_test_socketpair (pairs[i]);
      counts[i].fd = pairs[i][0];
      g_assert_true (evl_loop_add_reader (loop, pairs[i][0], count_and_drain, &counts[i], NULL, &error));
      g_assert_no_error (error);
      g_assert_cmpint (write (pairs[i][1], "x", 1), ==, 1);
    }
  g_assert_true (run_until_done (loop, n));
  /* Drained: no callback runs again. */
  evl_test_run_once (loop);
  evl_test_run_once (loop);
  for (i = 0; i < n; i++)
    {
      g_assert_cmpuint (counts[i].n_ran, ==, 1);
      g_assert_true (evl_loop_remove_reader (loop, pairs[i][0]));
      close (pairs[i][0]);
      close (pairs[i][1]);
    }
  g_free (pairs);
  g_free (counts);
  evl_test_close_loop (loop);
}

/* Cancellation of many operations of every kind --------------------------- */

typedef enum
{
  KIND_RECV,
  KIND_RECV_INTO,
  KIND_SENDALL,
  KIND_CONNECT,
  KIND_ACCEPT,
  N_KINDS
} Kind;

typedef struct
{
  EvlLoop        *loop;
  GSocketAddress *full;        /* a listener whose backlog is full */
  int             full_fd;
  int             fillers[2];
  GPtrArray      *fds;         /* to close */
  GBytes         *big;
  guint8          buffers[N_KINDS][64];
} Fixture;

static int
tcp_socket (void)
{
  int fd = socket (AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

  g_assert_cmpint (fd, >=, 0);
  return fd;
}

static int
tcp_listener (int              backlog,
              GSocketAddress **address)
{
  struct sockaddr_in sin = { 0 };
  socklen_t len = sizeof sin;
  int fd = tcp_socket ();

  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  g_assert_cmpint (bind (fd, (struct sockaddr *) &sin, sizeof sin), ==, 0);
  g_assert_cmpint (listen (fd, backlog), ==, 0);
  g_assert_cmpint (getsockname (fd, (struct sockaddr *) &sin, &len), ==, 0);
  *address = g_socket_address_new_from_native (&sin, len);
  return fd;
}

static void
fixture_init (Fixture *f,
              EvlLoop *loop)
{
  struct sockaddr_storage ss;
  guint i;

  *f = (Fixture) { 0 };
  f->loop = loop;
  f->fds = g_ptr_array_new ();
  f->big = g_bytes_new_take (g_malloc0 (8 * 1024 * 1024), 8 * 1024 * 1024);
  f->full_fd = tcp_listener (0, &f->full);
  g_socket_address_to_native (f->full, &ss, sizeof ss, NULL);
  for (i = 0; i < 2; i++)
    {
      f->fillers[i] = tcp_socket ();
      connect (f->fillers[i], (struct sockaddr *) &ss, g_socket_address_get_native_size (f->full));
    }
  evl_test_wait_backlog_full (f->full_fd);
}

static void
fixture_keep (Fixture *f,
              int      fd)
{
  g_ptr_array_add (f->fds, GINT_TO_POINTER (fd));
}

static void
fixture_clear (Fixture *f)
{
  guint i;

  for (i = 0; i < f->fds->len; i++)
    close (GPOINTER_TO_INT (f->fds->pdata[i]));
  g_ptr_array_unref (f->fds);
  close (f->full_fd);
  close (f->fillers[0]);
  close (f->fillers[1]);
  g_object_unref (f->full);
  g_bytes_unref (f->big);
}

/* Starts an operation of @kind that stays pending. */
static void
start_pending (Fixture      *f,
               Kind          kind,
               GCancellable *cancellable,
               Call         *call)
{
  GSocketAddress *address;
  int pair[2], fd;

  call->loop = f->loop;
  switch (kind)
    {
    case KIND_RECV:
      evl_test_socketpair (pair);
      fixture_keep (f, pair[0]);
      fixture_keep (f, pair[1]);
      evl_loop_sock_recv_async (f->loop, pair[0], 10, cancellable, call_cb, call);
      break;
    case KIND_RECV_INTO:
      evl_test_socketpair (pair);
      fixture_keep (f, pair[0]);
      fixture_keep (f, pair[1]);
      evl_loop_sock_recv_into_async (f->loop, pair[0], f->buffers[kind], 64, cancellable, call_cb, call);
      break;
    case KIND_SENDALL:
      evl_test_socketpair (pair);
      fixture_keep (f, pair[0]);
      fixture_keep (f, pair[1]);
      evl_loop_sock_sendall_async (f->loop, pair[0], f->big, cancellable, call_cb, call);
      break;
    case KIND_CONNECT:
      fd = tcp_socket ();
      fixture_keep (f, fd);
      evl_loop_sock_connect_async (f->loop, fd, f->full, cancellable, call_cb, call);
      break;
    case KIND_ACCEPT:
      fd = tcp_listener (4, &address);
      fixture_keep (f, fd);
      g_object_unref (address);
      evl_loop_sock_accept_async (f->loop, fd, cancellable, call_cb, call);
      break;
    default:
      g_assert_not_reached ();
    }
}

static void
assert_cancelled (EvlLoop *loop,
                  Kind     kind,
                  Call    *call)
{
  GError *error = NULL;

  g_assert_cmpuint (call->n_calls, ==, 1);
  switch (kind)
    {
    case KIND_RECV:
      g_assert_null (evl_loop_sock_recv_finish (loop, call->result, &error));
      break;
    case KIND_RECV_INTO:
      g_assert_cmpint (evl_loop_sock_recv_into_finish (loop, call->result, &error), ==, -1);
      break;
    case KIND_SENDALL:
      g_assert_false (evl_loop_sock_sendall_finish (loop, call->result, &error));
      break;
    case KIND_CONNECT:
      g_assert_false (evl_loop_sock_connect_finish (loop, call->result, &error));
      break;
    case KIND_ACCEPT:
      g_assert_cmpint (evl_loop_sock_accept_finish (loop, call->result, NULL, &error), ==, -1);
      break;
    default:
      g_assert_not_reached ();
    }
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_error_free (error);
  g_clear_object (&call->result);
}

#define PER_KIND 20

/* PER_KIND pending operations of each kind, all cancelled by one
 * GCancellable (@by_close: by closing the loop instead). */
static void
cancel_many (gboolean by_close)
{
  GCancellable *cancellable = by_close ? NULL : g_cancellable_new ();
  Call calls[N_KINDS][PER_KIND] = { { { 0 } } };
  guint fds_before = evl_test_count_fds ();
  EvlLoop *loop;
  Fixture f;
  guint k, i;

  NEW_PROACTOR_OR_SKIP (loop);
  fixture_init (&f, loop);
  n_done = 0;
  for (k = 0; k < N_KINDS; k++)
    for (i = 0; i < PER_KIND; i++)
      start_pending (&f, k, cancellable, &calls[k][i]);
  for (i = 0; i < 3; i++)
    evl_test_run_once (loop);
  g_assert_cmpuint (n_done, ==, 0);

  if (by_close)
    {
      g_assert_true (evl_loop_close (loop, NULL));
      /* Every callback ran, from close(). */
      g_assert_cmpuint (n_done, ==, N_KINDS * PER_KIND);
    }
  else
    {
      g_cancellable_cancel (cancellable);
      g_assert_true (run_until_done (loop, N_KINDS * PER_KIND));
    }
  for (k = 0; k < N_KINDS; k++)
    for (i = 0; i < PER_KIND; i++)
      assert_cancelled (loop, k, &calls[k][i]);

  evl_test_close_loop (loop);
  fixture_clear (&f);
  g_clear_object (&cancellable);
  g_assert_cmpuint (evl_test_count_fds (), ==, fds_before);
}

static void
test_cancel_many (void)
{
  cancel_many (FALSE);
}

static void
test_close_many (void)
{
  cancel_many (TRUE);
}

/* Sockets closed under pending operations --------------------------------- */

static void
test_fd_closed_under_op (void)
{
  GCancellable *cancellable = g_cancellable_new ();
  GError *error = NULL;
  EvlLoop *loop;
  Call c1 = { 0 }, c2 = { 0 }, c3 = { 0 };
  GBytes *got;
  int pair[2], fd;

  NEW_PROACTOR_OR_SKIP (loop);
  n_done = 0;

  /* Closed under a pending recv: the operation stays pending (the kernel
   * holds the file) until cancelled. */
  evl_test_socketpair (pair);
  fd = pair[0];
  c1.loop = loop;
  evl_loop_sock_recv_async (loop, fd, 10, cancellable, call_cb, &c1);
  evl_test_run_once (loop);
  close (fd);
  evl_test_run_once (loop);
  g_assert_cmpuint (c1.n_calls, ==, 0);
  g_cancellable_cancel (cancellable);
  g_assert_true (run_until_done (loop, 1));
  g_assert_null (evl_loop_sock_recv_finish (loop, c1.result, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);
  g_clear_object (&c1.result);
  close (pair[1]);

  /* Both ends closed: the held file sees its peer go, the recv ends. */
  evl_test_socketpair (pair);
  c2.loop = loop;
  evl_loop_sock_recv_async (loop, pair[0], 10, NULL, call_cb, &c2);
  evl_test_run_once (loop);
  close (pair[0]);
  close (pair[1]);
  g_assert_true (run_until_done (loop, 2));
  got = evl_loop_sock_recv_finish (loop, c2.result, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_bytes_get_size (got), ==, 0);
  g_bytes_unref (got);
  g_clear_object (&c2.result);

  /* Closed under a pending recv, then the loop closes. */
  evl_test_socketpair (pair);
  c3.loop = loop;
  evl_loop_sock_recv_async (loop, pair[0], 10, NULL, call_cb, &c3);
  evl_test_run_once (loop);
  close (pair[0]);
  g_assert_true (evl_loop_close (loop, NULL));
  g_assert_cmpuint (c3.n_calls, ==, 1);
  g_assert_null (evl_loop_sock_recv_finish (loop, c3.result, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);
  g_clear_object (&c3.result);
  close (pair[1]);

  g_object_unref (cancellable);
  evl_test_close_loop (loop);
}

/* A watched fd closed: the reader sees the failure once, the loop goes on. */
static void
test_watched_fd_closed (void)
{
  GError *error = NULL;
  Counted c = { 0 };
  EvlLoop *loop;
  int pair[2];

  NEW_PROACTOR_OR_SKIP (loop);
  evl_test_socketpair (pair);
  c.fd = pair[0];
  g_assert_true (evl_loop_add_reader (loop, pair[0], count_and_drain, &c, NULL, &error));
  close (pair[0]);
  close (pair[1]);
  /* The kernel holds the file, so the reader sees the hangup, as a
   * level-triggered watch, until it is removed. */
  evl_test_run_once (loop);
  evl_test_run_once (loop);
  evl_test_run_once (loop);
  g_assert_true (evl_loop_remove_reader (loop, pair[0]));
  evl_test_run_once (loop);
  evl_test_close_loop (loop);
}

/* Level-triggered watches ---------------------------------------------------- */

typedef struct
{
  EvlLoop *loop;
  int      fd;
  guint    n_ran;
  gboolean done;
} OneByte;

static void
read_one_byte (gpointer data)
{
  OneByte *o = data;
  char c;

  o->n_ran++;
  if (read (o->fd, &c, 1) == 1 && c == '9')
    {
      evl_loop_remove_reader (o->loop, o->fd);
      o->done = TRUE;
    }
}

/* A reader that takes one byte per call runs once per byte, with the loop
 * running by itself and attached to a GMainContext. */
static void
test_level_triggered (void)
{
  GError *error = NULL;
  EvlLoop *loop;
  OneByte o = { 0 };
  int pair[2];

  NEW_PROACTOR_OR_SKIP (loop);
  evl_test_socketpair (pair);
  o.loop = loop;
  o.fd = pair[0];
  g_assert_cmpint (write (pair[1], "0123456789", 10), ==, 10);
  g_assert_true (evl_loop_add_reader (loop, pair[0], read_one_byte, &o, NULL, &error));
  g_assert_true (evl_test_run_until_flag (loop, &o.done, 10.0));
  g_assert_cmpuint (o.n_ran, ==, 10);

  /* The same through GLib. */
  {
    GMainContext *context = g_main_context_new ();
    gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
    guint id = evl_loop_attach (loop, context);

    g_assert_cmpuint (id, >, 0);
    o.n_ran = 0;
    o.done = FALSE;
    g_assert_cmpint (write (pair[1], "0123456789", 10), ==, 10);
    g_assert_true (evl_loop_add_reader (loop, pair[0], read_one_byte, &o, NULL, &error));
    while (!o.done && g_get_monotonic_time () < deadline)
      g_main_context_iteration (context, TRUE);
    g_assert_true (o.done);
    g_assert_cmpuint (o.n_ran, ==, 10);
    evl_test_close_loop (loop);
    g_main_context_unref (context);
  }
  close (pair[0]);
  close (pair[1]);
}

static GHashTable *
open_fds (void)
{
  GHashTable *set = g_hash_table_new (NULL, NULL);
  DIR *dir = opendir ("/proc/self/fd");
  struct dirent *e;

  while ((e = readdir (dir)) != NULL)
    if (e->d_name[0] != '.' && atoi (e->d_name) != dirfd (dir))
      g_hash_table_add (set, GINT_TO_POINTER (atoi (e->d_name) + 1));
  closedir (dir);
  return set;
}

/* The GLib source polls one fd, close-on-exec, however many fds are
 * watched; every fd of the loop is close-on-exec. */
static void
test_one_fd_for_glib (void)
{
  GError *error = NULL;
  EvlLoop *loop;
  GSource *source;
  GPollFD fds[8];
  int pairs[100][2];
  guint i, fds_before = evl_test_count_fds ();
  gint n, priority;
  GMainContext *context;
  static guint never;
  GHashTable *before = open_fds (), *after;
  GHashTableIter iter;
  gpointer key;

  NEW_PROACTOR_OR_SKIP (loop);
  context = g_main_context_new ();
  for (i = 0; i < G_N_ELEMENTS (pairs); i++)
    {
      evl_test_socketpair (pairs[i]);
      g_assert_true (evl_loop_add_reader (loop, pairs[i][0], evl_test_count, &never, NULL, &error));
    }
  source = evl_loop_create_source (loop);
  g_source_attach (source, context);
  g_assert_true (g_main_context_acquire (context));
  g_main_context_prepare (context, &priority);
  n = g_main_context_query (context, G_MAXINT, NULL, fds, G_N_ELEMENTS (fds));
  /* GLib's own wakeup fd and ours. */
  g_assert_cmpint (n, ==, 2);

  after = open_fds ();
  g_hash_table_iter_init (&iter, after);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    if (!g_hash_table_contains (before, key))
      g_assert_cmpint (fcntl (GPOINTER_TO_INT (key) - 1, F_GETFD) & FD_CLOEXEC, !=, 0);
  g_hash_table_unref (before);
  g_hash_table_unref (after);

  g_main_context_release (context);
  g_source_destroy (source);
  g_source_unref (source);
  evl_test_close_loop (loop);
  g_main_context_unref (context);
  for (i = 0; i < G_N_ELEMENTS (pairs); i++)
    {
      close (pairs[i][0]);
      close (pairs[i][1]);
    }
  g_assert_cmpuint (evl_test_count_fds (), ==, fds_before);
}

/* Attaching to GLib moves the loop to a ring without DEFER_TASKRUN: the
 * operations in flight move along and complete, through GLib. */
static void
test_attach_with_ops_in_flight (void)
{
  GMainContext *context;
  GSocketAddress *address;
  GError *error = NULL;
  EvlLoop *loop;
  Call recv_call = { 0 }, accept_call = { 0 };
  struct sockaddr_storage ss;
  gint64 deadline;
  GBytes *got;
  int pair[2], listener, client, accepted;

  NEW_PROACTOR_OR_SKIP (loop);
  n_done = 0;
  evl_test_socketpair (pair);
  listener = tcp_listener (4, &address);
  recv_call.loop = accept_call.loop = loop;
  evl_loop_sock_recv_async (loop, pair[0], 10, NULL, call_cb, &recv_call);
  evl_loop_sock_accept_async (loop, listener, NULL, call_cb, &accept_call);
  evl_test_run_once (loop);
  evl_test_run_once (loop);
  g_assert_cmpuint (n_done, ==, 0);

  context = g_main_context_new ();
  g_assert_cmpuint (evl_loop_attach (loop, context), >, 0);
  g_assert_cmpint (write (pair[1], "moved", 5), ==, 5);
  client = tcp_socket ();
  g_socket_address_to_native (address, &ss, sizeof ss, NULL);
  connect (client, (struct sockaddr *) &ss, g_socket_address_get_native_size (address));

  deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  while (n_done < 2 && g_get_monotonic_time () < deadline)
    g_main_context_iteration (context, TRUE);
  g_assert_cmpuint (n_done, ==, 2);

  got = evl_loop_sock_recv_finish (loop, recv_call.result, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (g_bytes_get_data (got, NULL), g_bytes_get_size (got), "moved", 5);
  g_bytes_unref (got);
  accepted = evl_loop_sock_accept_finish (loop, accept_call.result, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (accepted, >=, 0);
  g_clear_object (&recv_call.result);
  g_clear_object (&accept_call.result);

  evl_test_close_loop (loop);
  g_main_context_unref (context);
  g_object_unref (address);
  close (accepted);
  close (client);
  close (listener);
  close (pair[0]);
  close (pair[1]);
}

/* Threads -------------------------------------------------------------------- */

typedef struct
{
  EvlLoop *loop;
  int      fd;
  Counted  counted;
  gboolean ok;
} ThreadRun;

static gpointer
run_in_thread (gpointer data)
{
  ThreadRun *t = data;
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

  n_done = 0;
  while (n_done == 0 && g_get_monotonic_time () < deadline)
    evl_test_run_once (t->loop);
  t->ok = n_done > 0;
  return NULL;
}

/* Made on one thread, run on another, closed on the first: the ring
 * follows (a loop may move between threads while it does not run). */
static void
test_threads (void)
{
  GError *error = NULL;
  ThreadRun t = { 0 };
  GThread *thread;
  int pair[2];

  NEW_PROACTOR_OR_SKIP (t.loop);
  evl_test_socketpair (pair);
  t.counted.fd = pair[0];
  g_assert_true (evl_loop_add_reader (t.loop, pair[0], count_and_drain, &t.counted, NULL, &error));
  evl_test_run_once (t.loop);   /* armed here first */
  g_assert_cmpint (write (pair[1], "a", 1), ==, 1);

  thread = g_thread_new ("evl-proactor-run", run_in_thread, &t);
  g_thread_join (thread);
  g_assert_true (t.ok);
  g_assert_cmpuint (t.counted.n_ran, ==, 1);

  /* Back on this thread: the watch still works. */
  n_done = 0;
  g_assert_cmpint (write (pair[1], "b", 1), ==, 1);
  g_assert_true (run_until_done (t.loop, 1));
  g_assert_cmpuint (t.counted.n_ran, ==, 2);

  evl_test_close_loop (t.loop);
  close (pair[0]);
  close (pair[1]);
}

/* The gate ------------------------------------------------------------------- */

static void
test_gate_env (void)
{
  if (g_test_subprocess ())
    {
      GError *error = NULL;
      EvlLoop *loop;

      g_setenv ("EVL_NO_IO_URING", "1", TRUE);
      loop = evl_proactor_loop_new (&error);
      g_assert_null (loop);
      g_assert_error (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_NOT_SUPPORTED);
      /* It says why, and what to use instead. */
      g_assert_nonnull (strstr (error->message, "EVL_NO_IO_URING"));
      g_assert_nonnull (strstr (error->message, "selector"));
      g_clear_error (&error);

      /* Through GInitable too. */
      g_assert_null (g_initable_new (EVL_TYPE_PROACTOR_LOOP, NULL, &error, NULL));
      g_assert_error (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_NOT_SUPPORTED);
      g_clear_error (&error);

      /* "0" turns nothing off. */
      g_setenv ("EVL_NO_IO_URING", "0", TRUE);
      loop = evl_proactor_loop_new (&error);
      if (loop != NULL)
        evl_test_close_loop (loop);
      else
        g_assert_error (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_NOT_SUPPORTED);
      g_clear_error (&error);
      return;
    }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
}

/* Every ring setup works, from DEFER_TASKRUN down to none. */
static void
test_setup (gconstpointer data)
{
  const char *setup = data;

  if (g_test_subprocess ())
    {
      Call c = { 0 };
      GError *error = NULL;
      GBytes *got;
      EvlLoop *loop;
      int pair[2];

      g_setenv ("EVL_URING_SETUP", setup, TRUE);
      NEW_PROACTOR_OR_SKIP (loop);
      n_done = 0;
      evl_test_socketpair (pair);
      c.loop = loop;
      evl_loop_sock_recv_async (loop, pair[0], 10, NULL, call_cb, &c);
      evl_test_run_once (loop);
      g_assert_cmpint (write (pair[1], "hi", 2), ==, 2);
      g_assert_true (run_until_done (loop, 1));
      got = evl_loop_sock_recv_finish (loop, c.result, &error);
      g_assert_no_error (error);
      g_assert_cmpuint (g_bytes_get_size (got), ==, 2);
      g_bytes_unref (got);
      g_clear_object (&c.result);
      evl_test_close_loop (loop);
      close (pair[0]);
      close (pair[1]);
      return;
    }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_INHERIT_STDERR);
  g_test_trap_assert_passed ();
}

int
main (int   argc,
      char *argv[])
{
  evl_test_init (&argc, &argv);
  evl_test_watchdog_start (100);

  g_test_add_func ("/Evl/Proactor/many-inflight", test_many_inflight);
  g_test_add_func ("/Evl/Proactor/ring-full/operations", test_ring_full);
  g_test_add_func ("/Evl/Proactor/ring-full/watches", test_ring_full_watches);
  g_test_add_func ("/Evl/Proactor/cancel/cancellable", test_cancel_many);
  g_test_add_func ("/Evl/Proactor/cancel/loop-close", test_close_many);
  g_test_add_func ("/Evl/Proactor/fd-closed/operation", test_fd_closed_under_op);
  g_test_add_func ("/Evl/Proactor/fd-closed/watch", test_watched_fd_closed);
  g_test_add_func ("/Evl/Proactor/level-triggered", test_level_triggered);
  g_test_add_func ("/Evl/Proactor/one-fd-for-glib", test_one_fd_for_glib);
  g_test_add_func ("/Evl/Proactor/threads", test_threads);
  g_test_add_func ("/Evl/Proactor/attach-with-ops-in-flight", test_attach_with_ops_in_flight);
  g_test_add_func ("/Evl/Proactor/gate/env", test_gate_env);
  g_test_add_data_func ("/Evl/Proactor/setup/defer", "defer", test_setup);
  g_test_add_data_func ("/Evl/Proactor/setup/coop", "coop", test_setup);
  g_test_add_data_func ("/Evl/Proactor/setup/plain", "plain", test_setup);

  return g_test_run ();
}
