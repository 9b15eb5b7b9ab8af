/* faults.c: the loop under hostile conditions, on the loop kind under test:
 * signal storms, SIGPIPE, fds closed and reused under the loop, silent and
 * half-sending peers, writes far larger than the socket buffer, callbacks
 * that report errors, cancel each other or close the loop, loops finalized
 * with work pending, and fork().
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "evl-test-protocol.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MIB (1024 * 1024)

/* ThreadSanitizer's runtime takes over signal delivery: it queues signals
 * and runs the handlers later, a storm stalls that queue after a few
 * hundred signals, and a SIGPIPE at its default action does not kill. */
#if defined(__SANITIZE_THREAD__)
# define UNDER_TSAN 1
#elif defined(__has_feature)
# if __has_feature(thread_sanitizer)
#  define UNDER_TSAN 1
# endif
#endif
#ifndef UNDER_TSAN
# define UNDER_TSAN 0
#endif

/* ---------------------------------------------------------------------- */
/* helpers */

static void
assert_same_bytes (const guint8 *data,
                   gsize         len,
                   GBytes       *expected)
{
  gsize elen;
  const guint8 *e = g_bytes_get_data (expected, &elen);

  g_assert_cmpuint (len, ==, elen);
  g_assert_true (memcmp (data, e, len) == 0);
}

/* A listening TCP socket on 127.0.0.1 (blocking, close-on-exec); its port
 * in *port. */
static int
raw_listener (guint16 *port)
{
  struct sockaddr_in sin = { 0 };
  socklen_t len = sizeof sin;
  int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

  g_assert_cmpint (fd, >=, 0);
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  g_assert_cmpint (bind (fd, (struct sockaddr *) &sin, sizeof sin), ==, 0);
  g_assert_cmpint (listen (fd, 16), ==, 0);
  g_assert_cmpint (getsockname (fd, (struct sockaddr *) &sin, &len), ==, 0);
  *port = ntohs (sin.sin_port);
  return fd;
}

static int
raw_connect (guint16 port)
{
  struct sockaddr_in sin = { 0 };
  int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

  g_assert_cmpint (fd, >=, 0);
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  sin.sin_port = htons (port);
  g_assert_cmpint (connect (fd, (struct sockaddr *) &sin, sizeof sin), ==, 0);
  return fd;
}

static GSocketAddress *
loopback_address (guint16 port)
{
  GInetAddress *inet = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  GSocketAddress *address = g_inet_socket_address_new (inet, port);

  g_object_unref (inet);
  return address;
}

static void
run_iterations (EvlLoop *loop,
                guint    n)
{
  while (n-- > 0)
    evl_test_run_once (loop);
}

/* The loop drops the last reference when closing: no stray reference may
 * keep it (and its fds) alive. */
static void
unref_and_assert_finalized (EvlLoop *loop)
{
  g_object_add_weak_pointer (G_OBJECT (loop), (gpointer *) &loop);
  g_object_unref (loop);
  g_assert_null (loop);
}

/* ---------------------------------------------------------------------- */
/* signal storm */

/* SIGUSR1: a raw handler without SA_RESTART, so every blocking call of the
 * loop's thread (epoll_wait, poll, select, io_uring_enter) fails with
 * EINTR again and again. SIGUSR2: the loop's own handler (SA_RESTART),
 * chained to a raw one installed before it. */
static gint storm_hits;

static void
storm_raw_handler (int signum)
{
  g_atomic_int_inc (&storm_hits);
}

typedef struct
{
  EvlLoop   *loop;
  pthread_t  target;
  gint       stop;            /* atomic */
  guint      n_sent;

  /* timers and call_soon chains */
  guint      n_timers;
  guint      n_soon;
  /* add_reader/add_writer on a socketpair */
  int        io[2];
  GBytes    *io_data;
  gsize      io_written;
  gsize      io_read;
  guint8    *io_buf;
  gboolean   io_done;
  /* socket primitives */
  GBytes    *sock_data;
  GByteArray *sock_got;
  int        sock_fds[2];
  gboolean   sock_sent;
  gboolean   sock_done;
  /* transports */
  TestProto *client;
  /* the loop's signal handler */
  guint      n_sigusr2;
  /* the end */
  gint       hits_at_start;
  gboolean   finished;
} Storm;

/* The pause between two signals of the storm. Under TSan, 1 ms: LLVM 14's
 * runtime defers a signal that arrives outside a blocking call and runs
 * its handler later from ProcessPendingSignals(), which blocks every
 * signal around the handlers and saves the old mask in one per-thread
 * slot. A signal that lands just as it starts makes the next intercepted
 * call inside a handler (the loop's handler write()s to the wakeup fd)
 * run ProcessPendingSignals() again, nested, which overwrites the saved
 * mask with the all-blocked one: the thread then keeps every signal
 * blocked for good, and the storm test waits forever for a SIGUSR1
 * (seen: 2 hangs in 60 runs with a 5 us pause, 4 runs at once; SigBlk
 * fffffffe7ffbfeff in /proc; 0 in 200 with 1 ms). The dense storm runs
 * in the plain and ASan modes; TSan needs only the threads to meet. */
#define STORM_PAUSE_NS (UNDER_TSAN ? 1000000 : 5000)

static gpointer
storm_thread (gpointer data)
{
  Storm *s = data;
  struct timespec pause = { 0, STORM_PAUSE_NS };

  while (!g_atomic_int_get (&s->stop))
    {
      pthread_kill (s->target, (s->n_sent++ % 4) == 3 ? SIGUSR2 : SIGUSR1);
      nanosleep (&pause, NULL);
    }
  return NULL;
}

static void
storm_timer (gpointer data)
{
  Storm *s = data;

  if (++s->n_timers < 300)
    g_assert_nonnull (evl_loop_call_later (s->loop, 0.0005, storm_timer, s, NULL));
}

static void
storm_soon (gpointer data)
{
  Storm *s = data;

  if (++s->n_soon < 3000)
    g_assert_nonnull (evl_loop_call_soon (s->loop, storm_soon, s, NULL));
}

static void
storm_io_write (gpointer data)
{
  Storm *s = data;
  gsize total;
  const guint8 *bytes = g_bytes_get_data (s->io_data, &total);
  ssize_t n;

  n = write (s->io[1], bytes + s->io_written, MIN (total - s->io_written, 4096));
  if (n < 0)
    {
      g_assert_true (errno == EAGAIN || errno == EINTR);
      return;
    }
  s->io_written += n;
  if (s->io_written == total)
    g_assert_true (evl_loop_remove_writer (s->loop, s->io[1]));
}

static void
storm_io_read (gpointer data)
{
  Storm *s = data;
  gsize total = g_bytes_get_size (s->io_data);
  ssize_t n;

  n = read (s->io[0], s->io_buf + s->io_read, total - s->io_read);
  if (n < 0)
    {
      g_assert_true (errno == EAGAIN || errno == EINTR);
      return;
    }
  g_assert_cmpint (n, >, 0);
  s->io_read += n;
  if (s->io_read == total)
    {
      assert_same_bytes (s->io_buf, total, s->io_data);
      g_assert_true (evl_loop_remove_reader (s->loop, s->io[0]));
      s->io_done = TRUE;
    }
}

static void
storm_sent (GObject      *source,
            GAsyncResult *result,
            gpointer      data)
{
  Storm *s = data;
  GError *error = NULL;

  g_assert_true (evl_loop_sock_sendall_finish (s->loop, result, &error));
  g_assert_no_error (error);
  s->sock_sent = TRUE;
}

static void
storm_received (GObject      *source,
                GAsyncResult *result,
                gpointer      data)
{
  Storm *s = data;
  GError *error = NULL;
  GBytes *bytes = evl_loop_sock_recv_finish (s->loop, result, &error);
  gsize len;
  const guint8 *p;

  g_assert_no_error (error);
  p = g_bytes_get_data (bytes, &len);
  g_assert_cmpuint (len, >, 0);
  g_byte_array_append (s->sock_got, p, len);
  g_bytes_unref (bytes);
  if (s->sock_got->len < g_bytes_get_size (s->sock_data))
    evl_loop_sock_recv_async (s->loop, s->sock_fds[1], 65536, NULL, storm_received, s);
  else
    {
      assert_same_bytes (s->sock_got->data, s->sock_got->len, s->sock_data);
      s->sock_done = TRUE;
    }
}

static void
storm_sigusr2 (gpointer data)
{
  Storm *s = data;

  s->n_sigusr2++;
}

/* Ends the storm phase once every workload is done and the loop's thread
 * took at least 1000 more signals while it ran them (under TSan, some). */
static void
storm_check (gpointer data)
{
  Storm *s = data;

  if (s->n_timers >= 300 && s->n_soon >= 3000 && s->io_done && s->sock_sent &&
      s->sock_done && s->client->got_expected && s->n_sigusr2 > 0 &&
      g_atomic_int_get (&storm_hits) - s->hits_at_start >= (UNDER_TSAN ? 1 : 1000))
    s->finished = TRUE;
  else
    g_assert_nonnull (evl_loop_call_later (s->loop, 0.001, storm_check, s, NULL));
}

static void
connected_pair (EvlLoop *loop,
                int      fds[2])
{
  TestWaiter wa, wc;
  GSocketAddress *address;
  GError *error = NULL;
  guint16 port;
  int listener = raw_listener (&port);
  int client = socket (AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

  g_assert_cmpint (fcntl (listener, F_SETFL, O_NONBLOCK), ==, 0);
  test_waiter_init (&wa, loop);
  test_waiter_init (&wc, loop);
  address = loopback_address (port);
  evl_loop_sock_accept_async (loop, listener, NULL, test_waiter_cb, &wa);
  evl_loop_sock_connect_async (loop, client, address, NULL, test_waiter_cb, &wc);
  test_waiter_wait (&wc);
  test_waiter_wait (&wa);
  g_assert_true (evl_loop_sock_connect_finish (loop, wc.result, &error));
  g_assert_no_error (error);
  fds[1] = evl_loop_sock_accept_finish (loop, wa.result, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (fds[1], >=, 0);
  fds[0] = client;
  test_waiter_clear (&wa);
  test_waiter_clear (&wc);
  g_object_unref (address);
  close (listener);
}

static void
test_signal_storm (void)
{
  Storm s = { 0 };
  TestFactory sf, cf;
  EvlServer *server;
  EvlTransport *t;
  struct sigaction sa = { 0 }, old1, old2;
  sigset_t both;
  GThread *thread;
  GError *error = NULL;
  guint fds_before = evl_test_count_fds ();
  struct timespec zero = { 0, 0 };

  if (evl_test_under_valgrind ())
    {
      /* Seen once in six memcheck runs: valgrind 3.19 "can't extend stack
       * during signal delivery" and kills the process (SIGSEGV in
       * storm_raw_handler). The storm runs in the plain, ASan and TSan
       * modes. */
      g_test_skip ("valgrind cannot always extend the stack while delivering a signal storm");
      return;
    }
  EVL_TEST_NEW_LOOP_OR_SKIP (s.loop);
  evl_test_watchdog_start (120);

  sa.sa_handler = storm_raw_handler;
  sa.sa_flags = 0;   /* no SA_RESTART: EINTR everywhere */
  sigemptyset (&sa.sa_mask);
  g_assert_cmpint (sigaction (SIGUSR1, &sa, &old1), ==, 0);
  g_assert_cmpint (sigaction (SIGUSR2, &sa, &old2), ==, 0);
  g_assert_true (evl_loop_add_signal_handler (s.loop, SIGUSR2, storm_sigusr2, &s, NULL, &error));
  g_assert_no_error (error);

  s.target = pthread_self ();
  thread = g_thread_new ("storm", storm_thread, &s);
  while (g_atomic_int_get (&storm_hits) < 10)
    evl_test_run_once (s.loop);

  /* Set-up under the storm: a server and a connection, a TCP pair made
   * with sock_accept/sock_connect. */
  test_factory_init (&sf);
  test_factory_init (&cf);
  sf.template_.echo = TRUE;
  server = test_start_server (s.loop, &sf, "127.0.0.1");
  t = test_connect (s.loop, &cf, "127.0.0.1", evl_server_get_port (server), &s.client);
  connected_pair (s.loop, s.sock_fds);
  evl_test_socketpair (s.io);

  /* Everything at once. */
  s.hits_at_start = g_atomic_int_get (&storm_hits);
  g_assert_nonnull (evl_loop_call_later (s.loop, 0.0005, storm_timer, &s, NULL));
  g_assert_nonnull (evl_loop_call_soon (s.loop, storm_soon, &s, NULL));
  s.io_data = test_pattern (MIB, 1);
  s.io_buf = g_malloc (MIB);
  g_assert_true (evl_loop_add_writer (s.loop, s.io[1], storm_io_write, &s, NULL, &error));
  g_assert_true (evl_loop_add_reader (s.loop, s.io[0], storm_io_read, &s, NULL, &error));
  g_assert_no_error (error);
  s.sock_data = test_pattern (MIB, 2);
  s.sock_got = g_byte_array_new ();
  evl_loop_sock_sendall_async (s.loop, s.sock_fds[0], s.sock_data, NULL, storm_sent, &s);
  evl_loop_sock_recv_async (s.loop, s.sock_fds[1], 65536, NULL, storm_received, &s);
  {
    GBytes *data = test_pattern (MIB, 3);

    s.client->expect = MIB;
    evl_transport_write (t, data);
    g_bytes_unref (data);
  }
  g_assert_nonnull (evl_loop_call_soon (s.loop, storm_check, &s, NULL));
  test_run_until (s.loop, &s.finished);

  g_atomic_int_set (&s.stop, 1);
  g_thread_join (thread);
  g_test_message ("%u signals sent, %d handled by the loop's thread, %u SIGUSR2 callbacks",
                  s.n_sent, g_atomic_int_get (&storm_hits), s.n_sigusr2);

  {
    GBytes *expected = test_pattern (MIB, 3);

    assert_same_bytes (s.client->data->data, s.client->data->len, expected);
    g_bytes_unref (expected);
  }

  /* Take what is still pending before restoring the dispositions. */
  sigemptyset (&both);
  sigaddset (&both, SIGUSR1);
  sigaddset (&both, SIGUSR2);
  pthread_sigmask (SIG_BLOCK, &both, NULL);
  g_assert_true (evl_loop_remove_signal_handler (s.loop, SIGUSR2));
  while (sigtimedwait (&both, NULL, &zero) > 0 || errno == EINTR)
    ;
  g_assert_cmpint (sigaction (SIGUSR1, &old1, NULL), ==, 0);
  g_assert_cmpint (sigaction (SIGUSR2, &old2, NULL), ==, 0);
  pthread_sigmask (SIG_UNBLOCK, &both, NULL);

  evl_transport_close (t);
  test_run_until (s.loop, &s.client->lost);
  g_object_unref (t);
  g_object_unref (s.client);
  test_server_close (s.loop, server);
  test_factory_clear (&sf);
  test_factory_clear (&cf);
  close (s.io[0]);
  close (s.io[1]);
  close (s.sock_fds[0]);
  close (s.sock_fds[1]);
  g_bytes_unref (s.io_data);
  g_bytes_unref (s.sock_data);
  g_byte_array_unref (s.sock_got);
  g_free (s.io_buf);
  evl_test_close_loop (s.loop);
  evl_test_watchdog_cancel ();
  g_assert_cmpuint (evl_test_count_fds (), ==, fds_before);
}

/* ---------------------------------------------------------------------- */
/* SIGPIPE */

/* The process keeps SIGPIPE's default action (death) and the loop writes
 * into a socket reset by its peer, a socket whose peer is gone and a pipe
 * without a reader: every write fails with an error, none kills. */
static void
sigpipe_child (void)
{
  EvlLoop *loop;
  struct sigaction sa = { 0 };
  sigset_t set;
  TestFactory cf, pf;
  TestWaiter w;
  EvlTransport *t;
  TestProto *client, *pp;
  EvlProtocol *proto = NULL;
  GError *error = NULL;
  GBytes *chunk = test_pattern (256 * 1024, 4);
  guint16 port;
  int listener, peer, pair[2], pipe_fds[2];
  guint i;

  sa.sa_handler = SIG_DFL;
  sigemptyset (&sa.sa_mask);
  g_assert_cmpint (sigaction (SIGPIPE, &sa, NULL), ==, 0);
  sigemptyset (&set);
  sigaddset (&set, SIGPIPE);
  g_assert_cmpint (pthread_sigmask (SIG_UNBLOCK, &set, NULL), ==, 0);

  loop = evl_test_new_loop ();
  if (loop == NULL)
    {
      g_bytes_unref (chunk);
      return;
    }
  test_factory_init (&cf);
  test_factory_init (&pf);

  /* sock_sendall into a socketpair whose peer is closed: EPIPE. */
  evl_test_socketpair (pair);
  close (pair[1]);
  test_waiter_init (&w, loop);
  evl_loop_sock_sendall_async (loop, pair[0], chunk, NULL, test_waiter_cb, &w);
  test_waiter_wait (&w);
  g_assert_false (evl_loop_sock_sendall_finish (loop, w.result, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE);
  g_clear_error (&error);
  test_waiter_clear (&w);
  close (pair[0]);

  /* A transport whose peer resets the connection (RST: SO_LINGER 0)
   * while it writes, then keeps writing: ECONNRESET, then EPIPE. */
  listener = raw_listener (&port);
  test_waiter_init (&w, loop);
  evl_loop_create_connection_async (loop, (EvlProtocolFactory) test_factory_make, &cf, NULL,
                                    "127.0.0.1", port, NULL, test_waiter_cb, &w);
  test_waiter_wait (&w);
  t = evl_loop_create_connection_finish (loop, w.result, &proto, &error);
  g_assert_no_error (error);
  client = TEST_PROTO (proto);
  test_waiter_clear (&w);
  peer = accept4 (listener, NULL, NULL, SOCK_CLOEXEC);
  g_assert_cmpint (peer, >=, 0);
  close (listener);
  for (i = 0; i < 8; i++)
    evl_transport_write (t, chunk);
  run_iterations (loop, 3);
  {
    struct linger lg = { 1, 0 };

    g_assert_cmpint (setsockopt (peer, SOL_SOCKET, SO_LINGER, &lg, sizeof lg), ==, 0);
  }
  close (peer);
  for (i = 0; i < 200 && !client->lost; i++)
    {
      evl_transport_write (t, chunk);
      evl_test_run_once (loop);
    }
  test_run_until (loop, &client->lost);
  g_assert_nonnull (client->error);
  g_assert_true (client->error->domain == G_IO_ERROR);
  g_test_message ("reset mid-write: %s", client->error->message);
  evl_transport_write (t, chunk);   /* after the loss: dropped */
  g_object_unref (t);
  g_object_unref (client);

  /* A write pipe whose reader goes away; the write that follows at once
   * (before the loop can notice) meets EPIPE. */
  g_assert_cmpint (pipe2 (pipe_fds, O_CLOEXEC), ==, 0);
  test_waiter_init (&w, loop);
  evl_loop_connect_write_pipe_async (loop, (EvlProtocolFactory) test_factory_make, &pf, NULL,
                                     pipe_fds[1], NULL, test_waiter_cb, &w);
  test_waiter_wait (&w);
  proto = NULL;
  t = evl_loop_connect_write_pipe_finish (loop, w.result, &proto, &error);
  g_assert_no_error (error);
  test_waiter_clear (&w);
  pp = TEST_PROTO (proto);
  close (pipe_fds[0]);
  evl_transport_write (t, chunk);
  test_run_until (loop, &pp->lost);
  g_assert_error (pp->error, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE);
  g_object_unref (t);
  g_object_unref (pp);

  /* No SIGPIPE is left pending for later either. */
  {
    sigset_t pending;

    sigpending (&pending);
    g_assert_false (sigismember (&pending, SIGPIPE));
  }

  g_bytes_unref (chunk);
  test_factory_clear (&cf);
  test_factory_clear (&pf);
  evl_test_close_loop (loop);
}

static void
test_sigpipe (void)
{
  if (g_test_subprocess ())
    {
      sigpipe_child ();
      return;
    }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_INHERIT_STDERR);
  g_test_trap_assert_passed ();
}

/* The harness above does notice a death by SIGPIPE. */
static void
test_sigpipe_control (void)
{
  if (UNDER_TSAN)
    {
      g_test_skip ("ThreadSanitizer intercepts SIGPIPE: no death to notice");
      return;
    }
  if (g_test_subprocess ())
    {
      int fds[2];

      signal (SIGPIPE, SIG_DFL);
      g_assert_cmpint (pipe2 (fds, O_CLOEXEC), ==, 0);
      close (fds[0]);
      (void) !write (fds[1], "x", 1);
      return;   /* not reached */
    }
  g_test_trap_subprocess (NULL, 0, 0);
  g_test_trap_assert_failed ();
}

/* ---------------------------------------------------------------------- */
/* an fd closed while the loop uses it, its number reused */

/* Replaces the file under fd number @fd with @new_fd's (then closed). */
static void
reuse_number (int fd,
              int new_fd)
{
  close (fd);
  g_assert_cmpint (dup3 (new_fd, fd, O_CLOEXEC), ==, fd);
  close (new_fd);
}

typedef struct
{
  guint n_old;
  guint n_new;
  guint n_old_notify;
  guint n_new_notify;
} ReuseCounts;

static void
reuse_old_cb (gpointer data)
{
  ((ReuseCounts *) data)->n_old++;
}

static void
reuse_old_notify (gpointer data)
{
  ((ReuseCounts *) data)->n_old_notify++;
}

static void
reuse_new_cb (gpointer data)
{
  ((ReuseCounts *) data)->n_new++;
}

static void
reuse_new_notify (gpointer data)
{
  ((ReuseCounts *) data)->n_new_notify++;
}

/* A reader and a writer, each on a number that is closed and reused
 * behind the loop's back; also an fd that changes its file between two
 * iterations while both watches stay. */
static void
test_fd_reuse_watches (void)
{
  EvlLoop *loop;
  ReuseCounts rc = { 0 };
  GError *error = NULL;
  int a[2], b[2];
  char buf[16];
  guint fds_before = evl_test_count_fds ();

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  evl_test_socketpair (a);
  g_assert_true (evl_loop_add_reader (loop, a[0], reuse_old_cb, &rc, reuse_old_notify, &error));
  g_assert_no_error (error);
  g_assert_cmpint (write (a[1], "x", 1), ==, 1);
  while (rc.n_old == 0)
    evl_test_run_once (loop);
  g_assert_cmpint (read (a[0], buf, sizeof buf), ==, 1);
  run_iterations (loop, 2);   /* a proactor re-arms its poll */

  /* The number now names another socket, which has data. */
  evl_test_socketpair (b);
  reuse_number (a[0], b[0]);
  close (a[1]);
  g_assert_true (evl_loop_add_reader (loop, a[0], reuse_new_cb, &rc, reuse_new_notify, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (rc.n_old_notify, ==, 1);
  rc.n_old = 0;
  g_assert_cmpint (write (b[1], "y", 1), ==, 1);
  while (rc.n_new == 0)
    evl_test_run_once (loop);
  g_assert_cmpuint (rc.n_old, ==, 0);
  g_assert_cmpint (read (a[0], buf, sizeof buf), ==, 1);

  /* A writer added on the number while the (stale-free) reader stays. */
  g_assert_true (evl_loop_add_writer (loop, a[0], reuse_old_cb, &rc, reuse_old_notify, &error));
  g_assert_no_error (error);
  while (rc.n_old == 0)
    evl_test_run_once (loop);
  g_assert_true (evl_loop_remove_writer (loop, a[0]));
  g_assert_cmpuint (rc.n_old_notify, ==, 2);
  g_assert_true (evl_loop_remove_reader (loop, a[0]));
  g_assert_cmpuint (rc.n_new_notify, ==, 1);

  close (a[0]);
  close (b[1]);
  evl_test_close_loop (loop);
  g_assert_cmpuint (evl_test_count_fds (), ==, fds_before);
}

typedef struct
{
  EvlLoop  *loop;
  GBytes   *bytes;
  GError   *error;
  gboolean  done;
} RecvResult;

static void
recv_result_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      data)
{
  RecvResult *r = data;

  g_assert_false (r->done);
  r->bytes = evl_loop_sock_recv_finish (r->loop, result, &r->error);
  r->done = TRUE;
}

/* A sock_recv waits on an fd that is closed and whose number is reused.
 * The stale operation stays pending until cancelled (asyncio's limit too);
 * a new operation on the number, started before or after that
 * cancellation, reads the new socket. */
static void
check_fd_reuse_sock (gboolean new_before_cancel)
{
  EvlLoop *loop;
  GCancellable *cancellable = g_cancellable_new ();
  RecvResult stale = { 0 }, fresh = { 0 };
  int a[2], b[2];
  guint fds_before = evl_test_count_fds ();

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  stale.loop = fresh.loop = loop;
  evl_test_socketpair (a);
  evl_loop_sock_recv_async (loop, a[0], 100, cancellable, recv_result_cb, &stale);
  run_iterations (loop, 3);
  g_assert_false (stale.done);

  /* a[1] stays open: a proactor's request keeps the old socket alive,
   * and its peer closing would end the stale recv with EOF. */
  evl_test_socketpair (b);
  reuse_number (a[0], b[0]);

  if (new_before_cancel)
    {
      evl_loop_sock_recv_async (loop, a[0], 100, NULL, recv_result_cb, &fresh);
      run_iterations (loop, 2);
    }
  g_cancellable_cancel (cancellable);
  test_run_until (loop, &stale.done);
  g_assert_error (stale.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_null (stale.bytes);
  if (!new_before_cancel)
    evl_loop_sock_recv_async (loop, a[0], 100, NULL, recv_result_cb, &fresh);

  g_assert_cmpint (write (b[1], "fresh", 5), ==, 5);
  test_run_until (loop, &fresh.done);
  g_assert_no_error (fresh.error);
  g_assert_cmpmem (g_bytes_get_data (fresh.bytes, NULL), g_bytes_get_size (fresh.bytes), "fresh", 5);

  g_clear_error (&stale.error);
  g_bytes_unref (fresh.bytes);
  g_object_unref (cancellable);
  close (a[0]);
  close (a[1]);
  close (b[1]);
  evl_test_close_loop (loop);
  g_assert_cmpuint (evl_test_count_fds (), ==, fds_before);
}

static void
test_fd_reuse_sock_after_cancel (void)
{
  check_fd_reuse_sock (FALSE);
}

static void
test_fd_reuse_sock_before_cancel (void)
{
  check_fd_reuse_sock (TRUE);
}

/* The callback of a sock_recv that waited closes the fd, puts another
 * socket under its number and starts a sock_recv there, in the direction
 * whose watch the loop keeps between consecutive operations: the new
 * socket's data arrives all the same (epoll forgot the old file). Done
 * twice: a ping-pong first, so that the new operation skips its first
 * recv and leaves it all to the watch. */
typedef struct
{
  EvlLoop  *loop;
  int       a[2], b[2];
  guint     n_old;        /* receptions on the old socket */
  guint     pingpongs;    /* before the swap */
  RecvResult fresh;
} SwapInCallback;

static void swap_old_cb (GObject *source, GAsyncResult *result, gpointer data);

static void
swap_old_cb (GObject      *source,
             GAsyncResult *result,
             gpointer      data)
{
  SwapInCallback *s = data;
  GError *error = NULL;
  GBytes *bytes = evl_loop_sock_recv_finish (s->loop, result, &error);

  g_assert_no_error (error);
  g_assert_cmpuint (g_bytes_get_size (bytes), ==, 1);
  g_bytes_unref (bytes);
  s->n_old++;
  if (s->n_old < s->pingpongs)
    {
      /* Data only once this recv waits (the next iteration). */
      evl_loop_sock_recv_async (s->loop, s->a[0], 100, NULL, swap_old_cb, s);
      return;
    }
  evl_test_socketpair (s->b);
  reuse_number (s->a[0], s->b[0]);
  evl_loop_sock_recv_async (s->loop, s->a[0], 100, NULL, recv_result_cb, &s->fresh);
}

static void
swap_write_cb (gpointer data)
{
  SwapInCallback *s = data;

  g_assert_cmpint (write (s->a[1], "x", 1), ==, 1);
}

static void
check_fd_reuse_in_callback (guint pingpongs)
{
  SwapInCallback s = { 0 };
  guint fds_before = evl_test_count_fds ();
  guint i;

  EVL_TEST_NEW_LOOP_OR_SKIP (s.loop);
  s.fresh.loop = s.loop;
  s.pingpongs = pingpongs;
  evl_test_socketpair (s.a);
  evl_loop_sock_recv_async (s.loop, s.a[0], 100, NULL, swap_old_cb, &s);
  for (i = 0; i < pingpongs; i++)
    {
      run_iterations (s.loop, 2);
      g_assert_cmpuint (s.n_old, ==, i);
      evl_loop_call_soon (s.loop, swap_write_cb, &s, NULL);
      while (s.n_old == i)
        evl_test_run_once (s.loop);
    }
  g_assert_cmpint (s.b[1], >, 0);
  run_iterations (s.loop, 2);
  g_assert_false (s.fresh.done);

  g_assert_cmpint (write (s.b[1], "fresh", 5), ==, 5);
  test_run_until (s.loop, &s.fresh.done);
  g_assert_no_error (s.fresh.error);
  g_assert_cmpmem (g_bytes_get_data (s.fresh.bytes, NULL), g_bytes_get_size (s.fresh.bytes), "fresh", 5);

  g_bytes_unref (s.fresh.bytes);
  close (s.a[0]);
  close (s.a[1]);
  close (s.b[1]);
  evl_test_close_loop (s.loop);
  g_assert_cmpuint (evl_test_count_fds (), ==, fds_before);
}

static void
test_fd_reuse_sock_in_callback (void)
{
  check_fd_reuse_in_callback (1);
}

static void
test_fd_reuse_sock_in_callback_pingpong (void)
{
  check_fd_reuse_in_callback (20);
}

/* ---------------------------------------------------------------------- */
/* silent and half-sending peers */

static void
tick (gpointer data)
{
  guint *n = data;

  (*n)++;
}

/* Two clients connect and then send nothing, or half a message; a
 * sock_recv waits on a third silent socket. Meanwhile timers run and a
 * fourth client is served in full: nothing waits for the stalled peers. */
static void
test_silent_peers (void)
{
  EvlLoop *loop;
  TestFactory sf, cf;
  EvlServer *server;
  EvlTransport *t;
  TestProto *client;
  GCancellable *cancellable = g_cancellable_new ();
  RecvResult r = { 0 };
  GBytes *data = test_pattern (100000, 5);
  guint16 port;
  int silent, half, pair[2];
  guint n_ticks = 0, i;
  guint fds_before = evl_test_count_fds ();

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  test_factory_init (&sf);
  test_factory_init (&cf);
  sf.template_.echo = TRUE;
  server = test_start_server (loop, &sf, "127.0.0.1");
  port = evl_server_get_port (server);

  silent = raw_connect (port);
  half = raw_connect (port);
  g_assert_cmpint (write (half, "GET / HTTP/1.1\r\nHost: exa", 25), ==, 25);
  while (sf.created->len < 2)
    evl_test_run_once (loop);
  evl_test_socketpair (pair);
  r.loop = loop;
  evl_loop_sock_recv_async (loop, pair[0], 100, cancellable, recv_result_cb, &r);

  for (i = 0; i < 50; i++)
    g_assert_nonnull (evl_loop_call_later (loop, 0.001 * i, tick, &n_ticks, NULL));
  t = test_connect (loop, &cf, "127.0.0.1", port, &client);
  client->expect = g_bytes_get_size (data);
  evl_transport_write (t, data);
  test_run_until (loop, &client->got_expected);
  assert_same_bytes (client->data->data, client->data->len, data);
  while (n_ticks < 50)
    evl_test_run_once (loop);

  g_assert_false (r.done);
  for (i = 0; i < sf.created->len; i++)
    g_assert_false (TEST_PROTO (sf.created->pdata[i])->lost);
  g_cancellable_cancel (cancellable);
  test_run_until (loop, &r.done);
  g_assert_error (r.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&r.error);

  /* The stalled peers leave: their connections end cleanly. */
  close (silent);
  close (half);
  evl_transport_close (t);
  for (i = 0; i < sf.created->len; i++)
    test_run_until (loop, &TEST_PROTO (sf.created->pdata[i])->lost);
  test_run_until (loop, &client->lost);

  g_object_unref (t);
  g_object_unref (client);
  g_object_unref (cancellable);
  g_bytes_unref (data);
  close (pair[0]);
  close (pair[1]);
  test_server_close (loop, server);
  test_factory_clear (&sf);
  test_factory_clear (&cf);
  evl_test_close_loop (loop);
  g_assert_cmpuint (evl_test_count_fds (), ==, fds_before);
}

/* ---------------------------------------------------------------------- */
/* writes far larger than the socket buffer */

/* 64 MiB in one write through a transport whose peer does not read at
 * first: the transport buffers, pauses the protocol, and delivers every
 * byte once the peer reads, resuming it exactly once per pause. */
static void
test_huge_write (void)
{
  EvlLoop *loop;
  TestFactory sf, cf;
  EvlServer *server;
  EvlTransport *t;
  TestProto *client, *peer;
  /* memcheck makes this ~50 times slower: a quarter of it there */
  gsize size = evl_test_under_valgrind () ? 16 * MIB : 64 * MIB;
  GBytes *data = test_pattern (size, 6);
  gsize buffered;
  guint fds_before = evl_test_count_fds ();

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  test_factory_init (&sf);
  test_factory_init (&cf);
  server = test_start_server (loop, &sf, "127.0.0.1");
  t = test_connect (loop, &cf, "127.0.0.1", evl_server_get_port (server), &client);
  while (sf.created->len == 0)
    evl_test_run_once (loop);
  peer = sf.created->pdata[0];
  evl_transport_pause_reading (peer->transport);

  evl_transport_write (t, data);
  g_assert_true (client->paused);
  g_assert_cmpuint (client->n_pause, ==, 1);
  run_iterations (loop, 20);
  /* The kernel took what fits in the socket buffers; the rest waits. */
  buffered = evl_transport_get_write_buffer_size (t);
  g_test_message ("buffered while the peer does not read: %" G_GSIZE_FORMAT " bytes", buffered);
  /* Above the high-water mark (a proactor counts the bytes of the send
   * request the kernel works on as buffered too). */
  g_assert_cmpuint (buffered, >, 64 * 1024);
  g_assert_cmpuint (buffered, <=, size);
  g_assert_true (client->paused);
  g_assert_cmpuint (peer->data->len, ==, 0);

  peer->expect = size;
  evl_transport_resume_reading (peer->transport);
  test_run_until (loop, &peer->got_expected);
  assert_same_bytes (peer->data->data, peer->data->len, data);
  g_assert_cmpuint (evl_transport_get_write_buffer_size (t), ==, 0);
  g_assert_false (client->paused);
  g_assert_cmpuint (client->n_resume, ==, client->n_pause);
  g_assert_false (client->lost);

  evl_transport_close (t);
  test_run_until (loop, &peer->lost);
  test_run_until (loop, &client->lost);
  g_assert_no_error (client->error);
  g_object_unref (t);
  g_object_unref (client);
  g_bytes_unref (data);
  test_server_close (loop, server);
  test_factory_clear (&sf);
  test_factory_clear (&cf);
  evl_test_close_loop (loop);
  g_assert_cmpuint (evl_test_count_fds (), ==, fds_before);
}

/* ---------------------------------------------------------------------- */
/* errors reported through the exception handler */

typedef struct
{
  EvlLoop  *loop;
  guint     n_reports;
  guint     n_after;        /* callbacks that ran after a report */
  GQuark    last_domain;
  int       last_code;
  char     *last_message;
  gboolean  done;
  int       fds[2];
  gboolean  stop_in_handler;
} Raiser;

static void
raiser_handler (EvlLoop      *loop,
                const GError *error,
                const char   *message,
                gpointer      data)
{
  Raiser *r = data;

  g_assert_true (loop == r->loop);
  r->n_reports++;
  r->last_domain = error != NULL ? error->domain : 0;
  r->last_code = error != NULL ? error->code : -1;
  g_free (r->last_message);
  r->last_message = g_strdup (message);
  if (r->stop_in_handler)
    evl_loop_stop (loop);
}

static void
raise_error (Raiser     *r,
             int         code,
             const char *message)
{
  GError *error = g_error_new (G_IO_ERROR, code, "failure %d", code);

  evl_loop_call_exception_handler (r->loop, error, message);
  g_error_free (error);
}

static void
raise_soon (gpointer data)
{
  raise_error (data, G_IO_ERROR_FAILED, "from call_soon");
}

static void
raise_timer (gpointer data)
{
  raise_error (data, G_IO_ERROR_TIMED_OUT, "from a timer");
}

static void
raise_reader (gpointer data)
{
  Raiser *r = data;
  char c;

  g_assert_cmpint (read (r->fds[0], &c, 1), ==, 1);
  g_assert_true (evl_loop_remove_reader (r->loop, r->fds[0]));
  raise_error (r, G_IO_ERROR_BROKEN_PIPE, "from a reader");
}

static void
raise_done (EvlFuture *future,
            gpointer   data)
{
  raise_error (data, G_IO_ERROR_CANCELLED, "from a done callback");
}

static void
raise_async (GObject      *source,
             GAsyncResult *result,
             gpointer      data)
{
  Raiser *r = data;
  GError *error = NULL;
  GBytes *bytes = evl_loop_sock_recv_finish (r->loop, result, &error);

  g_assert_no_error (error);
  g_bytes_unref (bytes);
  raise_error (r, G_IO_ERROR_PARTIAL_INPUT, "from an async callback");
}

static void
raise_after (gpointer data)
{
  Raiser *r = data;

  r->n_after++;
  r->done = TRUE;
}

/* Callbacks of every kind report errors and the loop carries on: every
 * report reaches the handler with its error, later callbacks run. */
static void
test_exception_handler_from_callbacks (void)
{
  EvlLoop *loop;
  Raiser r = { 0 };
  EvlFuture *future;
  GError *error = NULL;
  guint i;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  r.loop = loop;
  evl_loop_set_exception_handler (loop, raiser_handler, &r, NULL);
  evl_test_socketpair (r.fds);

  for (i = 0; i < 10; i++)
    g_assert_nonnull (evl_loop_call_soon (loop, raise_soon, &r, NULL));
  g_assert_nonnull (evl_loop_call_later (loop, 0.001, raise_timer, &r, NULL));
  g_assert_true (evl_loop_add_reader (loop, r.fds[0], raise_reader, &r, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (write (r.fds[1], "x", 1), ==, 1);
  future = evl_loop_create_future (loop);
  evl_future_add_done_callback (future, raise_done, &r, NULL);
  g_assert_true (evl_future_set_result (future, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (write (r.fds[1], "y", 1), ==, 1);
  /* The reader takes "x" first: the recv starts once the reader is gone. */
  while (r.n_reports < 13)
    evl_test_run_once (loop);
  evl_loop_sock_recv_async (loop, r.fds[0], 10, NULL, raise_async, &r);
  while (r.n_reports < 14)
    evl_test_run_once (loop);
  g_assert_cmpint (r.last_code, ==, G_IO_ERROR_PARTIAL_INPUT);
  g_assert_cmpstr (r.last_message, ==, "from an async callback");
  g_assert_nonnull (evl_loop_call_soon (loop, raise_after, &r, NULL));
  test_run_until (loop, &r.done);
  g_assert_cmpuint (r.n_reports, ==, 14);
  g_assert_cmpuint (r.n_after, ==, 1);

  /* A handler may stop the loop: run_forever returns, the loop works on. */
  r.stop_in_handler = TRUE;
  g_assert_nonnull (evl_loop_call_soon (loop, raise_soon, &r, NULL));
  g_assert_true (evl_loop_run_forever (loop, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (r.n_reports, ==, 15);
  r.stop_in_handler = FALSE;
  r.done = FALSE;
  g_assert_nonnull (evl_loop_call_soon (loop, raise_after, &r, NULL));
  test_run_until (loop, &r.done);

  /* The default handler logs a warning and the loop goes on as well. */
  evl_loop_set_exception_handler (loop, NULL, NULL, NULL);
  g_test_expect_message ("Evl", G_LOG_LEVEL_WARNING, "from call_soon: failure 0*");
  g_assert_nonnull (evl_loop_call_soon (loop, raise_soon, &r, NULL));
  r.done = FALSE;
  g_assert_nonnull (evl_loop_call_soon (loop, raise_after, &r, NULL));
  test_run_until (loop, &r.done);
  g_test_assert_expected_messages ();
  g_assert_cmpuint (r.n_reports, ==, 15);

  g_object_unref (future);
  close (r.fds[0]);
  close (r.fds[1]);
  g_free (r.last_message);
  evl_test_close_loop (loop);
}

/* ---------------------------------------------------------------------- */
/* callbacks that cancel others or close the loop */

typedef struct
{
  EvlLoop   *loop;
  EvlHandle *victims[4];
  EvlHandle *self;
  guint      n_ran[8];
  guint      n_notified[8];
  int        fds[2];
  GError    *close_error;
  gboolean   close_result;
  gboolean   done;
} Killer;

typedef struct
{
  Killer *k;
  guint   index;
} Slot;

static void
slot_ran (gpointer data)
{
  Slot *s = data;

  s->k->n_ran[s->index]++;
}

static void
slot_notify (gpointer data)
{
  Slot *s = data;

  s->k->n_notified[s->index]++;
}

static void
killer_cb (gpointer data)
{
  Slot *s = data;
  Killer *k = s->k;
  guint i;

  k->n_ran[s->index]++;
  for (i = 0; i < G_N_ELEMENTS (k->victims); i++)
    if (k->victims[i] != NULL)
      evl_handle_cancel (k->victims[i]);
  /* Its reader was queued in this very iteration: it must not run. */
  g_assert_true (evl_loop_remove_reader (k->loop, k->fds[0]));
  evl_handle_cancel (k->self);   /* itself, while running: no effect now */
  k->close_result = evl_loop_close (k->loop, &k->close_error);
}

static void
killer_io_cb (gpointer data)
{
  slot_ran (data);
}

/* In one iteration the first callback cancels callbacks queued behind it
 * (call_soon, a due timer, a threadsafe post, an fd watch), cancels
 * itself, and tries to close the loop: that fails with RUNNING. None of
 * the victims runs; every notify runs once. */
static void
test_cancel_from_callback (void)
{
  EvlLoop *loop;
  Killer k = { 0 };
  Slot slots[8];
  GError *error = NULL;
  guint i;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  k.loop = loop;
  for (i = 0; i < G_N_ELEMENTS (slots); i++)
    {
      slots[i].k = &k;
      slots[i].index = i;
    }
  evl_test_socketpair (k.fds);
  g_assert_true (evl_loop_add_reader (loop, k.fds[0], killer_io_cb, &slots[5], slot_notify, &error));
  g_assert_no_error (error);
  evl_test_run_once (loop);   /* a proactor arms its poll */
  g_assert_cmpint (write (k.fds[1], "x", 1), ==, 1);

  k.victims[0] = evl_handle_ref (evl_loop_call_later (loop, 0, slot_ran, &slots[1], slot_notify));
  k.victims[1] = evl_loop_call_soon_threadsafe (loop, slot_ran, &slots[2], slot_notify);
  k.self = evl_handle_ref (evl_loop_call_soon (loop, killer_cb, &slots[0], slot_notify));
  k.victims[2] = evl_handle_ref (evl_loop_call_soon (loop, slot_ran, &slots[3], slot_notify));
  k.victims[3] = evl_handle_ref (evl_loop_call_soon (loop, slot_ran, &slots[4], slot_notify));
  evl_test_run_once (loop);

  g_assert_cmpuint (k.n_ran[0], ==, 1);
  g_assert_false (k.close_result);
  g_assert_error (k.close_error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_RUNNING);
  g_clear_error (&k.close_error);
  g_assert_false (evl_loop_is_closed (loop));
  for (i = 1; i <= 5; i++)
    {
      g_assert_cmpuint (k.n_ran[i], ==, 0);
      g_assert_cmpuint (k.n_notified[i], ==, 1);
    }
  g_assert_cmpuint (k.n_notified[0], ==, 1);

  /* The loop carries on. */
  run_iterations (loop, 2);
  for (i = 0; i < G_N_ELEMENTS (k.victims); i++)
    evl_handle_unref (k.victims[i]);
  evl_handle_unref (k.self);
  close (k.fds[0]);
  close (k.fds[1]);
  evl_test_close_loop (loop);
  for (i = 0; i <= 5; i++)
    g_assert_cmpuint (k.n_notified[i], ==, 1);
}

typedef struct
{
  EvlLoop  *loop;
  GError   *errors[3];
  gboolean  results[3];
  guint     step;
  gboolean  nested_done;
} Closer;

static void
closer_nested_cb (gpointer data)
{
  Closer *c = data;

  c->results[1] = evl_loop_close (c->loop, &c->errors[1]);
  c->nested_done = TRUE;
  evl_loop_stop (c->loop);
}

static void
closer_cb (gpointer data)
{
  Closer *c = data;
  GError *error = NULL;

  c->results[0] = evl_loop_close (c->loop, &c->errors[0]);
  /* Nested run: closing from in there fails too. */
  g_assert_nonnull (evl_loop_call_soon (c->loop, closer_nested_cb, c, NULL));
  g_assert_true (evl_loop_run_forever (c->loop, &error));
  g_assert_no_error (error);
  g_assert_true (c->nested_done);
  c->results[2] = evl_loop_close (c->loop, &c->errors[2]);
  evl_loop_stop (c->loop);
}

/* close() from inside a callback, also in a nested run, fails with
 * RUNNING; stop, then close, works. */
static void
test_close_from_callback (void)
{
  EvlLoop *loop;
  Closer c = { 0 };
  GError *error = NULL;
  guint i, n_notified = 0;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  c.loop = loop;
  g_assert_nonnull (evl_loop_call_soon (loop, closer_cb, &c, NULL));
  g_assert_nonnull (evl_loop_call_later (loop, 3600, tick, &n_notified, evl_test_count));
  g_assert_true (evl_loop_run_forever (loop, &error));
  g_assert_no_error (error);
  for (i = 0; i < 3; i++)
    {
      g_assert_false (c.results[i]);
      g_assert_error (c.errors[i], EVL_LOOP_ERROR, EVL_LOOP_ERROR_RUNNING);
      g_clear_error (&c.errors[i]);
    }
  g_assert_false (evl_loop_is_closed (loop));
  g_assert_true (evl_loop_close (loop, &error));
  g_assert_no_error (error);
  g_assert_true (evl_loop_is_closed (loop));
  g_assert_cmpuint (n_notified, ==, 1);
  unref_and_assert_finalized (loop);
}

typedef struct
{
  EvlLoop  *loop;
  GError   *error;
  gboolean  result;
  gboolean  ran;
} GlibCloser;

static void
glib_closer_cb (gpointer data)
{
  GlibCloser *c = data;

  c->ran = TRUE;
  c->result = evl_loop_close (c->loop, &c->error);
}

/* The same from a callback that GLib dispatches (the loop attached to a
 * GMainContext counts as running during its dispatch). */
static void
test_close_from_glib_dispatch (void)
{
  EvlLoop *loop;
  GMainContext *context = g_main_context_new ();
  GlibCloser c = { 0 };
  GError *error = NULL;
  guint id;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  c.loop = loop;
  id = evl_loop_attach (loop, context);
  g_assert_cmpuint (id, >, 0);
  g_assert_nonnull (evl_loop_call_soon (loop, glib_closer_cb, &c, NULL));
  while (!c.ran)
    g_main_context_iteration (context, TRUE);
  g_assert_false (c.result);
  g_assert_error (c.error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_RUNNING);
  g_clear_error (&c.error);
  g_assert_false (evl_loop_is_closed (loop));

  /* Outside the dispatch it closes. */
  g_assert_true (evl_loop_close (loop, &error));
  g_assert_no_error (error);
  while (g_main_context_iteration (context, FALSE))
    ;
  unref_and_assert_finalized (loop);
  g_main_context_unref (context);
}

typedef struct
{
  EvlLoop *loop;
  guint    n_ran;
} Dropper;

static void
dropper_cb (gpointer data)
{
  Dropper *d = data;

  d->n_ran++;
  g_object_unref (d->loop);   /* the caller's last reference */
  /* The loop keeps running this iteration. */
  g_assert_nonnull (evl_loop_call_soon (d->loop, tick, &d->n_ran, NULL));
  evl_loop_stop (d->loop);
}

/* A callback drops the last reference to its loop: the run finishes, then
 * the loop is finalized and drops what is still pending. */
static void
test_unref_from_callback (void)
{
  EvlLoop *loop;
  Dropper d = { 0 };
  GError *error = NULL;
  guint n_notified = 0;
  guint fds_before = evl_test_count_fds ();

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  d.loop = loop;
  g_object_add_weak_pointer (G_OBJECT (loop), (gpointer *) &d.loop);
  g_assert_nonnull (evl_loop_call_soon (loop, dropper_cb, &d, NULL));
  g_assert_nonnull (evl_loop_call_later (loop, 3600, tick, &n_notified, evl_test_count));
  g_assert_true (evl_loop_run_forever (loop, &error));
  g_assert_no_error (error);
  g_assert_null (d.loop);
  g_assert_cmpuint (d.n_ran, ==, 1);   /* the call_soon was dropped */
  g_assert_cmpuint (n_notified, ==, 1);
  g_assert_cmpuint (evl_test_count_fds (), ==, fds_before);
}

/* ---------------------------------------------------------------------- */
/* finalized or closed with work pending */

typedef struct
{
  guint n_ran;
  guint n_notified;
} Counts;

static void
counts_ran (gpointer data)
{
  g_atomic_int_inc (&((Counts *) data)->n_ran);
}

static void
counts_notify (gpointer data)
{
  g_atomic_int_inc (&((Counts *) data)->n_notified);
}

static gpointer
post_thread (gpointer data)
{
  EvlLoop *loop = data;
  Counts *c = g_object_get_data (G_OBJECT (loop), "counts");
  guint i;

  for (i = 0; i < 100; i++)
    evl_handle_unref (evl_loop_call_soon_threadsafe (loop, counts_ran, c, counts_notify));
  return NULL;
}

/* A loop dropped without close() while callbacks, timers, posts from
 * another thread, fd watches (poll requests in flight on a proactor's
 * ring) and a signal handler are pending: finalizing runs every notify
 * exactly once, none of the callbacks, and frees every fd. */
static void
test_finalize_pending (void)
{
  EvlLoop *loop;
  Counts c = { 0 };
  GError *error = NULL;
  GThread *thread;
  int fds[2][2];
  guint i, expected = 0;
  guint fds_before = evl_test_count_fds ();

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  g_object_set_data (G_OBJECT (loop), "counts", &c);
  /* Watches on fds that are not ready; one iteration hands a proactor's
   * poll requests to the kernel. */
  for (i = 0; i < 2; i++)
    {
      evl_test_socketpair (fds[i]);
      g_assert_true (evl_loop_add_reader (loop, fds[i][0], counts_ran, &c, counts_notify, &error));
      g_assert_true (evl_loop_add_reader (loop, fds[i][1], counts_ran, &c, counts_notify, &error));
      g_assert_no_error (error);
      expected += 2;
    }
  g_assert_true (evl_loop_add_signal_handler (loop, SIGWINCH, counts_ran, &c, counts_notify, &error));
  g_assert_no_error (error);
  expected++;
  evl_test_run_once (loop);
  for (i = 0; i < 50; i++, expected++)
    g_assert_nonnull (evl_loop_call_later (loop, 3600 + i, counts_ran, &c, counts_notify));
  thread = g_thread_new ("poster", post_thread, loop);
  g_thread_join (thread);
  expected += 100;
  for (i = 0; i < 50; i++, expected++)
    g_assert_nonnull (evl_loop_call_soon (loop, counts_ran, &c, counts_notify));

  unref_and_assert_finalized (loop);
  g_assert_cmpuint (c.n_ran, ==, 0);
  g_assert_cmpuint (c.n_notified, ==, expected);
  for (i = 0; i < 2; i++)
    {
      close (fds[i][0]);
      close (fds[i][1]);
    }
  g_assert_cmpuint (evl_test_count_fds (), ==, fds_before);
}

typedef struct
{
  EvlLoop *loop;
  guint    n_calls;
  guint    n_cancelled;
} OpCounts;

static void
op_recv_cb (GObject      *source,
            GAsyncResult *result,
            gpointer      data)
{
  OpCounts *oc = data;
  GError *error = NULL;
  GBytes *bytes = evl_loop_sock_recv_finish (oc->loop, result, &error);

  oc->n_calls++;
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    oc->n_cancelled++;
  g_clear_error (&error);
  g_clear_pointer (&bytes, g_bytes_unref);
}

static void
op_send_cb (GObject      *source,
            GAsyncResult *result,
            gpointer      data)
{
  OpCounts *oc = data;
  GError *error = NULL;

  oc->n_calls++;
  if (!evl_loop_sock_sendall_finish (oc->loop, result, &error) &&
      g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    oc->n_cancelled++;
  g_clear_error (&error);
}

static void
op_accept_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      data)
{
  OpCounts *oc = data;
  GError *error = NULL;
  int fd = evl_loop_sock_accept_finish (oc->loop, result, NULL, &error);

  oc->n_calls++;
  if (fd >= 0)
    close (fd);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    oc->n_cancelled++;
  g_clear_error (&error);
}

/* A loop closed with socket operations in flight (on a proactor: RECV,
 * SEND and ACCEPT requests the kernel holds): each callback runs once,
 * cancelled; then the loop is finalized and no fd is left. */
static void
test_close_inflight (void)
{
  EvlLoop *loop;
  OpCounts oc = { 0 };
  GBytes *big = test_pattern (8 * MIB, 7);
  int pairs[4][2], listener;
  guint16 port;
  guint i;
  guint fds_before = evl_test_count_fds ();

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  oc.loop = loop;
  for (i = 0; i < 4; i++)
    {
      evl_test_socketpair (pairs[i]);
      if (i < 3)
        evl_loop_sock_recv_async (loop, pairs[i][0], 100, NULL, op_recv_cb, &oc);
    }
  /* 8 MiB does not fit in a socketpair: the send stays in flight. */
  evl_loop_sock_sendall_async (loop, pairs[3][0], big, NULL, op_send_cb, &oc);
  listener = raw_listener (&port);
  fcntl (listener, F_SETFL, O_NONBLOCK);
  evl_loop_sock_accept_async (loop, listener, NULL, op_accept_cb, &oc);
  run_iterations (loop, 3);
  g_assert_cmpuint (oc.n_calls, ==, 0);

  evl_test_close_loop (loop);
  g_assert_cmpuint (oc.n_calls, ==, 5);
  g_assert_cmpuint (oc.n_cancelled, ==, 5);

  for (i = 0; i < 4; i++)
    {
      close (pairs[i][0]);
      close (pairs[i][1]);
    }
  close (listener);
  g_bytes_unref (big);
  g_assert_cmpuint (evl_test_count_fds (), ==, fds_before);
}

/* Attached to a GMainContext while a socket operation is being cancelled
 * (a proactor then swaps its ring for one GLib can poll, and takes back
 * what the kernel holds): the operation ends once, cancelled, with no
 * warning, and another one started before goes on on the new ring. */
static void
test_attach_with_ops_in_flight (void)
{
  EvlLoop *loop;
  GMainContext *context;
  GCancellable *cancellable;
  RecvResult cancelled = { 0 }, queued = { 0 }, live = { 0 };
  int a[2], b[2];
  guint fds_before = evl_test_count_fds ();

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  context = g_main_context_new ();
  cancellable = g_cancellable_new ();
  cancelled.loop = queued.loop = live.loop = loop;
  evl_test_socketpair (a);
  evl_test_socketpair (b);
  evl_loop_sock_recv_async (loop, a[0], 10, cancellable, recv_result_cb, &cancelled);
  evl_loop_sock_recv_async (loop, a[0], 10, cancellable, recv_result_cb, &queued);
  g_cancellable_cancel (cancellable);
  /* One iteration hands the recv to the kernel, then takes the
   * cancellation: its request is on its way. */
  evl_test_run_once (loop);
  evl_loop_sock_recv_async (loop, b[0], 10, NULL, recv_result_cb, &live);
  g_assert_cmpuint (evl_loop_attach (loop, context), >, 0);

  test_run_until (loop, &cancelled.done);
  test_run_until (loop, &queued.done);
  g_assert_error (cancelled.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_error (queued.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&cancelled.error);
  g_clear_error (&queued.error);
  g_assert_false (live.done);
  g_assert_cmpint (write (b[1], "live", 4), ==, 4);
  test_run_until (loop, &live.done);
  g_assert_no_error (live.error);
  g_assert_cmpuint (g_bytes_get_size (live.bytes), ==, 4);
  g_bytes_unref (live.bytes);

  evl_test_close_loop (loop);
  while (g_main_context_iteration (context, FALSE))
    ;
  g_main_context_unref (context);
  g_object_unref (cancellable);
  close (a[0]);
  close (a[1]);
  close (b[0]);
  close (b[1]);
  g_assert_cmpuint (evl_test_count_fds (), ==, fds_before);
}

/* ---------------------------------------------------------------------- */
/* fork() */

static void
fork_child_cb (gpointer data)
{
  (*(guint *) data)++;
}

/* In a forked child: a fresh loop of the same kind runs timers and I/O. */
static int
fork_child_fresh_loop (void)
{
  EvlLoop *loop = evl_test_new_loop ();
  GError *error = NULL;
  guint n = 0;
  int fds[2];

  if (loop == NULL)
    return 2;
  evl_test_socketpair (fds);
  if (!evl_loop_add_reader (loop, fds[0], fork_child_cb, &n, NULL, &error))
    return 3;
  if (write (fds[1], "x", 1) != 1)
    return 4;
  while (n == 0)
    evl_test_run_once (loop);
  evl_loop_remove_reader (loop, fds[0]);
  evl_loop_call_later (loop, 0.002, fork_child_cb, &n, NULL);
  while (n < 2)
    evl_test_run_once (loop);
  if (!evl_loop_close (loop, &error))
    return 5;
  g_object_unref (loop);
  close (fds[0]);
  close (fds[1]);
  return 0;
}

typedef struct
{
  guint n_read;
  int   fd;
} ForkReader;

static void
fork_parent_reader (gpointer data)
{
  ForkReader *r = data;
  char buf[8];

  if (read (r->fd, buf, sizeof buf) > 0)
    r->n_read++;
}

/* fork() with a loop of the kind under test watching an fd (a proactor:
 * a poll request on its ring). The child makes a fresh loop and runs it;
 * with @child_closes it first closes its copy of the parent's loop, which
 * must not touch what the parent's loop shares with it (the epoll set,
 * the ring). The parent's loop keeps working. */
static void
check_fork (gboolean child_closes)
{
  EvlLoop *loop;
  ForkReader r = { 0 };
  RecvResult rr = { 0 };
  GError *error = NULL;
  int fds[2], op_fds[2], status;
  guint n_timer = 0;
  pid_t pid;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  evl_test_socketpair (fds);
  evl_test_socketpair (op_fds);
  r.fd = fds[0];
  rr.loop = loop;
  /* A proactor: a RECV request in the kernel across the fork. */
  evl_loop_sock_recv_async (loop, op_fds[0], 100, NULL, recv_result_cb, &rr);
  g_assert_true (evl_loop_add_reader (loop, fds[0], fork_parent_reader, &r, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (write (fds[1], "a", 1), ==, 1);
  while (r.n_read == 0)
    evl_test_run_once (loop);
  run_iterations (loop, 2);

  pid = fork ();
  g_assert_cmpint (pid, >=, 0);
  if (pid == 0)
    {
      int code;

      if (child_closes)
        {
          /* Not g_object_unref: the child shares the parent's GObject
           * state only as a copy, closing is what matters. */
          if (!evl_loop_close (loop, NULL))
            _exit (10);
        }
      code = fork_child_fresh_loop ();
      _exit (code);
    }
  g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
  g_assert_true (WIFEXITED (status));
  g_assert_cmpint (WEXITSTATUS (status), ==, 0);

  /* The parent's loop still sees its fd and runs its timers. */
  g_assert_cmpint (write (fds[1], "b", 1), ==, 1);
  g_assert_nonnull (evl_loop_call_later (loop, 0.001, fork_child_cb, &n_timer, NULL));
  while (n_timer == 0)
    evl_test_run_once (loop);
  {
    gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

    while (r.n_read < 2 && g_get_monotonic_time () < deadline)
      evl_test_run_once (loop);
  }
  g_assert_cmpuint (r.n_read, ==, 2);
  g_assert_false (rr.done);
  g_assert_cmpint (write (op_fds[1], "op", 2), ==, 2);
  test_run_until (loop, &rr.done);
  g_assert_no_error (rr.error);
  g_assert_cmpuint (g_bytes_get_size (rr.bytes), ==, 2);
  g_bytes_unref (rr.bytes);

  g_assert_true (evl_loop_remove_reader (loop, fds[0]));
  close (fds[0]);
  close (fds[1]);
  close (op_fds[0]);
  close (op_fds[1]);
  evl_test_close_loop (loop);
}

static void
test_fork_fresh_loop (void)
{
  check_fork (FALSE);
}

static void
test_fork_child_closes (void)
{
  check_fork (TRUE);
}

int
main (int    argc,
      char **argv)
{
  evl_test_init (&argc, &argv);

  g_test_add_func ("/Evl/Faults/signal-storm", test_signal_storm);
  g_test_add_func ("/Evl/Faults/sigpipe/control", test_sigpipe_control);
  g_test_add_func ("/Evl/Faults/sigpipe/no-death", test_sigpipe);
  g_test_add_func ("/Evl/Faults/fd-reuse/watches", test_fd_reuse_watches);
  g_test_add_func ("/Evl/Faults/fd-reuse/sock-after-cancel", test_fd_reuse_sock_after_cancel);
  g_test_add_func ("/Evl/Faults/fd-reuse/sock-before-cancel", test_fd_reuse_sock_before_cancel);
  g_test_add_func ("/Evl/Faults/fd-reuse/sock-in-callback", test_fd_reuse_sock_in_callback);
  g_test_add_func ("/Evl/Faults/fd-reuse/sock-in-callback-pingpong", test_fd_reuse_sock_in_callback_pingpong);
  g_test_add_func ("/Evl/Faults/silent-peers", test_silent_peers);
  g_test_add_func ("/Evl/Faults/huge-write", test_huge_write);
  g_test_add_func ("/Evl/Faults/exception-handler", test_exception_handler_from_callbacks);
  g_test_add_func ("/Evl/Faults/from-callback/cancel-others", test_cancel_from_callback);
  g_test_add_func ("/Evl/Faults/from-callback/close", test_close_from_callback);
  g_test_add_func ("/Evl/Faults/from-callback/close-in-glib-dispatch", test_close_from_glib_dispatch);
  g_test_add_func ("/Evl/Faults/from-callback/unref", test_unref_from_callback);
  g_test_add_func ("/Evl/Faults/finalize-pending", test_finalize_pending);
  g_test_add_func ("/Evl/Faults/close-inflight", test_close_inflight);
  g_test_add_func ("/Evl/Faults/attach-with-ops-in-flight", test_attach_with_ops_in_flight);
  g_test_add_func ("/Evl/Faults/fork/fresh-loop", test_fork_fresh_loop);
  g_test_add_func ("/Evl/Faults/fork/child-closes", test_fork_child_closes);

  return g_test_run ();
}
