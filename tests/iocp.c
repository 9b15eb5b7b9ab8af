/* iocp.c: what the proactor loop does on Windows (evl-iocp-backend.c) that
 * the shared suites do not reach: readiness watches on every kind of
 * socket and on waitable HANDLEs (through the completion port),
 * cancellation of overlapped requests, the GLib wakeup event, close with
 * requests in flight, cross-thread posts (packets posted to the port).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <winsock2.h>
#include <ws2tcpip.h>
#include <windows.h>

#include <string.h>

#include <evloop-glib/evloop-glib.h>

#include "evl-test-util.h"

/* ---------------------------------------------------------------------- */
/* helpers */

static EvlLoop *
new_loop (void)
{
  GError *error = NULL;
  EvlLoop *loop = evl_proactor_loop_new (&error);

  g_assert_no_error (error);
  g_assert_nonnull (loop);
  return loop;
}

static void
close_loop (EvlLoop *loop)
{
  GError *error = NULL;

  g_assert_true (evl_loop_close (loop, &error));
  g_assert_no_error (error);
  g_object_unref (loop);
}

/* Runs @loop until a callback stops it, or @timeout_s passes (then the
 * test fails). */
static void
run_until_stopped (EvlLoop *loop,
                   double   timeout_s)
{
  GError *error = NULL;
  /* (transfer none): the loop owns it; it is still pending when the
   * loop was stopped in time, so cancelling it is safe. */
  EvlHandle *guard = evl_loop_call_later (loop, timeout_s, evl_test_stop_cb, loop, NULL);
  double start = evl_loop_time (loop);

  g_assert_true (evl_loop_run_forever (loop, &error));
  g_assert_no_error (error);
  g_assert_cmpfloat (evl_loop_time (loop) - start, <, timeout_s);
  evl_handle_cancel (guard);
}

static SOCKET
tcp_listener (struct sockaddr_in *addr)
{
  SOCKET s = socket (AF_INET, SOCK_STREAM, IPPROTO_TCP);
  int len = sizeof *addr;

  g_assert_true (s != INVALID_SOCKET);
  memset (addr, 0, sizeof *addr);
  addr->sin_family = AF_INET;
  addr->sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  g_assert_cmpint (bind (s, (struct sockaddr *) addr, sizeof *addr), ==, 0);
  g_assert_cmpint (listen (s, 16), ==, 0);
  g_assert_cmpint (getsockname (s, (struct sockaddr *) addr, &len), ==, 0);
  return s;
}

static void
set_nonblocking (SOCKET s)
{
  u_long one = 1;

  g_assert_cmpint (ioctlsocket (s, FIONBIO, &one), ==, 0);
}

/* A connected pair of loopback TCP sockets, non-blocking. */
static void
tcp_pair (SOCKET s[2])
{
  struct sockaddr_in addr;
  SOCKET l = tcp_listener (&addr);

  s[0] = socket (AF_INET, SOCK_STREAM, IPPROTO_TCP);
  g_assert_true (s[0] != INVALID_SOCKET);
  g_assert_cmpint (connect (s[0], (struct sockaddr *) &addr, sizeof addr), ==, 0);
  s[1] = accept (l, NULL, NULL);
  g_assert_true (s[1] != INVALID_SOCKET);
  closesocket (l);
  set_nonblocking (s[0]);
  set_nonblocking (s[1]);
}

typedef struct
{
  EvlLoop *loop;
  guint    n;
  guint    stop_at;
} Counter;

static void
count_cb (gpointer data)
{
  Counter *c = data;

  if (++c->n == c->stop_at)
    evl_loop_stop (c->loop);
}

/* ---------------------------------------------------------------------- */
/* readiness watches */

/* A pending connection makes a listening socket readable. */
static void
test_reader_listening (void)
{
  EvlLoop *loop = new_loop ();
  GError *error = NULL;
  struct sockaddr_in addr;
  SOCKET l = tcp_listener (&addr), c, a;
  Counter counter = { loop, 0, 1 };

  set_nonblocking (l);
  g_assert_true (evl_loop_add_reader (loop, (int) l, count_cb, &counter, NULL, &error));
  g_assert_no_error (error);
  evl_test_run_for (loop, 0.05);
  g_assert_cmpuint (counter.n, ==, 0);

  c = socket (AF_INET, SOCK_STREAM, IPPROTO_TCP);
  g_assert_cmpint (connect (c, (struct sockaddr *) &addr, sizeof addr), ==, 0);
  run_until_stopped (loop, 10);
  g_assert_cmpuint (counter.n, ==, 1);
  a = accept (l, NULL, NULL);
  g_assert_true (a != INVALID_SOCKET);

  g_assert_true (evl_loop_remove_reader (loop, (int) l));
  closesocket (a);
  closesocket (c);
  closesocket (l);
  close_loop (loop);
}

/* A non-blocking connect in progress becomes writable once connected. */
static void
test_writer_connect (void)
{
  EvlLoop *loop = new_loop ();
  GError *error = NULL;
  struct sockaddr_in addr;
  SOCKET l = tcp_listener (&addr), c;
  Counter counter = { loop, 0, 1 };
  int err = -1, len = sizeof err;
  int r;

  c = socket (AF_INET, SOCK_STREAM, IPPROTO_TCP);
  set_nonblocking (c);
  r = connect (c, (struct sockaddr *) &addr, sizeof addr);
  g_assert_true (r == 0 || WSAGetLastError () == WSAEWOULDBLOCK);
  g_assert_true (evl_loop_add_writer (loop, (int) c, count_cb, &counter, NULL, &error));
  g_assert_no_error (error);
  run_until_stopped (loop, 10);
  g_assert_cmpuint (counter.n, ==, 1);
  g_assert_cmpint (getsockopt (c, SOL_SOCKET, SO_ERROR, (char *) &err, &len), ==, 0);
  g_assert_cmpint (err, ==, 0);

  g_assert_true (evl_loop_remove_writer (loop, (int) c));
  closesocket (c);
  closesocket (l);
  close_loop (loop);
}

/* Watches are level-triggered: unread data makes the reader run on every
 * iteration; once read, it stops. */
static void
test_reader_level_triggered (void)
{
  EvlLoop *loop = new_loop ();
  GError *error = NULL;
  SOCKET s[2];
  Counter counter = { loop, 0, 3 };
  char buf[4];

  tcp_pair (s);
  g_assert_true (evl_loop_add_reader (loop, (int) s[1], count_cb, &counter, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (send (s[0], "x", 1, 0), ==, 1);
  run_until_stopped (loop, 10);
  g_assert_cmpuint (counter.n, ==, 3);

  g_assert_cmpint (recv (s[1], buf, sizeof buf, 0), ==, 1);
  counter.n = 0;
  counter.stop_at = 0;
  evl_test_run_for (loop, 0.1);
  g_assert_cmpuint (counter.n, ==, 0);

  g_assert_true (evl_loop_remove_reader (loop, (int) s[1]));
  closesocket (s[0]);
  closesocket (s[1]);
  close_loop (loop);
}

/* The peer's FIN makes the socket readable (recv says 0). */
static void
test_reader_eof (void)
{
  EvlLoop *loop = new_loop ();
  GError *error = NULL;
  SOCKET s[2];
  Counter counter = { loop, 0, 1 };
  char buf[4];

  tcp_pair (s);
  g_assert_true (evl_loop_add_reader (loop, (int) s[1], count_cb, &counter, NULL, &error));
  shutdown (s[0], SD_SEND);
  run_until_stopped (loop, 10);
  g_assert_cmpuint (counter.n, ==, 1);
  g_assert_cmpint (recv (s[1], buf, sizeof buf, 0), ==, 0);

  g_assert_true (evl_loop_remove_reader (loop, (int) s[1]));
  closesocket (s[0]);
  closesocket (s[1]);
  close_loop (loop);
}

/* A removed reader's poll is cancelled: data that comes later runs
 * nothing. */
static void
test_reader_removed (void)
{
  EvlLoop *loop = new_loop ();
  GError *error = NULL;
  SOCKET s[2];
  Counter counter = { loop, 0, 0 };

  tcp_pair (s);
  g_assert_true (evl_loop_add_reader (loop, (int) s[1], count_cb, &counter, NULL, &error));
  evl_test_run_for (loop, 0.02);
  g_assert_true (evl_loop_remove_reader (loop, (int) s[1]));
  g_assert_cmpint (send (s[0], "x", 1, 0), ==, 1);
  evl_test_run_for (loop, 0.1);
  g_assert_cmpuint (counter.n, ==, 0);

  closesocket (s[0]);
  closesocket (s[1]);
  close_loop (loop);
}

static gpointer
set_event_later (gpointer data)
{
  g_usleep (20000);
  SetEvent (data);
  return NULL;
}

typedef struct
{
  EvlLoop *loop;
  HANDLE   event;
  guint    n;
} EventWatch;

static void
event_ready (gpointer data)
{
  EventWatch *w = data;

  w->n++;
  ResetEvent (w->event);
  evl_loop_stop (w->loop);
}

/* A waitable HANDLE (here an event set by another thread) can be
 * watched: readable means signalled. */
static void
test_reader_event_handle (void)
{
  EvlLoop *loop = new_loop ();
  GError *error = NULL;
  EventWatch w = { loop, CreateEventW (NULL, TRUE, FALSE, NULL), 0 };
  GThread *thread;

  g_assert_nonnull (w.event);
  g_assert_true (evl_loop_add_reader (loop, (int) (gintptr) w.event, event_ready, &w, NULL, &error));
  g_assert_no_error (error);
  thread = g_thread_new ("set-event", set_event_later, w.event);
  run_until_stopped (loop, 10);
  g_thread_join (thread);
  g_assert_cmpuint (w.n, ==, 1);

  /* Reset by the callback: not ready any more. */
  evl_test_run_for (loop, 0.05);
  g_assert_cmpuint (w.n, ==, 1);

  g_assert_true (evl_loop_remove_reader (loop, (int) (gintptr) w.event));
  close_loop (loop);
  CloseHandle (w.event);
}

/* ---------------------------------------------------------------------- */
/* socket operations */

typedef struct
{
  EvlLoop      *loop;
  GAsyncResult *result;
} Call;

static void
call_done (GObject      *source,
           GAsyncResult *result,
           gpointer      data)
{
  Call *call = data;

  g_assert_null (call->result);
  call->result = g_object_ref (result);
  evl_loop_stop (call->loop);
}

/* One byte goes through a socket primitive (a recv) on @loop, so the
 * tests below start from a port that completes operations. */
static void
sock_ops_work (EvlLoop *loop)
{
  GError *error = NULL;
  Call call = { loop, NULL };
  SOCKET s[2];
  GBytes *bytes;
  gint64 deadline;

  tcp_pair (s);
  g_assert_cmpint (send (s[0], "x", 1, 0), ==, 1);
  evl_loop_sock_recv_async (loop, (int) s[1], 1, NULL, call_done, &call);
  deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  while (call.result == NULL && g_get_monotonic_time () < deadline)
    evl_test_run_for (loop, 0.01);
  g_assert_nonnull (call.result);
  bytes = evl_loop_sock_recv_finish (loop, call.result, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes), "x", 1);
  g_bytes_unref (bytes);
  g_object_unref (call.result);
  closesocket (s[0]);
  closesocket (s[1]);
}

/* AcceptEx and ConnectEx, then 4 MiB each way through WSASend/WSARecv. */
static void
test_sock_roundtrip (void)
{
  EvlLoop *loop = new_loop ();
  GError *error = NULL;
  struct sockaddr_in addr;
  SOCKET l = tcp_listener (&addr), c;
  Call accepted = { loop, NULL }, connected = { loop, NULL }, sent = { loop, NULL };
  GSocketAddress *peer = NULL, *target;
  GInetAddress *loopback;
  GBytes *data;
  guint8 *payload, *got;
  gsize size = 4 * 1024 * 1024, have = 0, i;
  int a;

  sock_ops_work (loop);

  set_nonblocking (l);
  c = socket (AF_INET, SOCK_STREAM, IPPROTO_TCP);
  set_nonblocking (c);
  loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  target = g_inet_socket_address_new (loopback, ntohs (addr.sin_port));
  evl_loop_sock_accept_async (loop, (int) l, NULL, call_done, &accepted);
  evl_loop_sock_connect_async (loop, (int) c, target, NULL, call_done, &connected);
  while (accepted.result == NULL || connected.result == NULL)
    run_until_stopped (loop, 10);
  g_assert_true (evl_loop_sock_connect_finish (loop, connected.result, &error));
  g_assert_no_error (error);
  a = evl_loop_sock_accept_finish (loop, accepted.result, &peer, &error);
  g_assert_no_error (error);
  g_assert_cmpint (a, >=, 0);
  g_assert_true (G_IS_INET_SOCKET_ADDRESS (peer));

  payload = g_malloc (size);
  for (i = 0; i < size; i++)
    payload[i] = (guint8) (i * 7 + i / 251);
  got = g_malloc (size);
  data = g_bytes_new_take (payload, size);
  evl_loop_sock_sendall_async (loop, (int) c, data, NULL, call_done, &sent);
  while (have < size)
    {
      Call recvd = { loop, NULL };
      gssize n;

      evl_loop_sock_recv_into_async (loop, a, got + have, size - have, NULL, call_done, &recvd);
      while (recvd.result == NULL)
        run_until_stopped (loop, 10);
      n = evl_loop_sock_recv_into_finish (loop, recvd.result, &error);
      g_assert_no_error (error);
      g_assert_cmpint (n, >, 0);
      have += n;
      g_object_unref (recvd.result);
    }
  while (sent.result == NULL)
    run_until_stopped (loop, 10);
  g_assert_true (evl_loop_sock_sendall_finish (loop, sent.result, &error));
  g_assert_no_error (error);
  g_assert_true (memcmp (got, g_bytes_get_data (data, NULL), size) == 0);

  g_object_unref (accepted.result);
  g_object_unref (connected.result);
  g_object_unref (sent.result);
  g_bytes_unref (data);
  g_free (got);
  g_object_unref (peer);
  g_object_unref (target);
  g_object_unref (loopback);
  closesocket ((SOCKET) a);
  closesocket (c);
  closesocket (l);
  close_loop (loop);
}

/* A connect to a port nobody listens on fails with CONNECTION_REFUSED. */
static void
test_sock_connect_refused (void)
{
  EvlLoop *loop = new_loop ();
  GError *error = NULL;
  struct sockaddr_in addr;
  SOCKET l = tcp_listener (&addr), c;
  Call connected = { loop, NULL };
  GSocketAddress *target;
  GInetAddress *loopback;

  sock_ops_work (loop);

  closesocket (l);   /* the port is free now */
  c = socket (AF_INET, SOCK_STREAM, IPPROTO_TCP);
  set_nonblocking (c);
  loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  target = g_inet_socket_address_new (loopback, ntohs (addr.sin_port));
  evl_loop_sock_connect_async (loop, (int) c, target, NULL, call_done, &connected);
  run_until_stopped (loop, 30);
  g_assert_false (evl_loop_sock_connect_finish (loop, connected.result, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED);
  g_error_free (error);

  g_object_unref (connected.result);
  g_object_unref (target);
  g_object_unref (loopback);
  closesocket (c);
  close_loop (loop);
}

/* A pending WSARecv cancelled (CancelIoEx) ends with CANCELLED and eats
 * no data: the next recv gets what the peer sent afterwards. */
static void
test_sock_recv_cancel (void)
{
  EvlLoop *loop = new_loop ();
  GError *error = NULL;
  GCancellable *cancellable = g_cancellable_new ();
  Call first = { loop, NULL }, second = { loop, NULL };
  SOCKET s[2];
  GBytes *bytes;

  sock_ops_work (loop);

  tcp_pair (s);
  evl_loop_sock_recv_async (loop, (int) s[1], 16, cancellable, call_done, &first);
  evl_test_run_for (loop, 0.02);
  g_assert_null (first.result);
  g_cancellable_cancel (cancellable);
  run_until_stopped (loop, 10);
  g_assert_null (evl_loop_sock_recv_finish (loop, first.result, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);

  g_assert_cmpint (send (s[0], "hello", 5, 0), ==, 5);
  evl_loop_sock_recv_async (loop, (int) s[1], 16, NULL, call_done, &second);
  run_until_stopped (loop, 10);
  bytes = evl_loop_sock_recv_finish (loop, second.result, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes), "hello", 5);

  g_bytes_unref (bytes);
  g_object_unref (first.result);
  g_object_unref (second.result);
  g_object_unref (cancellable);
  closesocket (s[0]);
  closesocket (s[1]);
  close_loop (loop);
}

static void
count_call (GObject      *source,
            GAsyncResult *result,
            gpointer      data)
{
  Call *call = data;

  call->result = g_object_ref (result);
}

/* Closing the loop cancels the overlapped requests in flight and waits
 * for their packets: every callback runs, cancelled. */
static void
test_close_in_flight (void)
{
  EvlLoop *loop = new_loop ();
  GError *error = NULL;
  struct sockaddr_in addr;
  SOCKET l = tcp_listener (&addr), s[2];
  Call recvd = { loop, NULL }, accepted = { loop, NULL };

  sock_ops_work (loop);

  set_nonblocking (l);
  tcp_pair (s);
  evl_loop_sock_recv_async (loop, (int) s[1], 16, NULL, count_call, &recvd);
  evl_loop_sock_accept_async (loop, (int) l, NULL, count_call, &accepted);
  evl_test_run_for (loop, 0.02);
  g_assert_null (recvd.result);
  g_assert_null (accepted.result);
  g_assert_true (evl_loop_close (loop, &error));
  g_assert_no_error (error);
  g_assert_nonnull (recvd.result);
  g_assert_nonnull (accepted.result);
  g_assert_null (evl_loop_sock_recv_finish (loop, recvd.result, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);
  g_assert_cmpint (evl_loop_sock_accept_finish (loop, accepted.result, NULL, &error), ==, -1);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);

  g_object_unref (recvd.result);
  g_object_unref (accepted.result);
  g_object_unref (loop);
  closesocket (s[0]);
  closesocket (s[1]);
  closesocket (l);
}

/* ---------------------------------------------------------------------- */
/* GLib */

typedef struct
{
  SOCKET  sock;
  guint   delay_ms;
} SendLater;

static gpointer
send_later (gpointer data)
{
  SendLater *sl = data;

  g_usleep (sl->delay_ms * 1000);
  g_assert_cmpint (send (sl->sock, "ping", 4, 0), ==, 4);
  return NULL;
}

typedef struct
{
  SOCKET    sock;
  gboolean  got;
} GlibRead;

static void
glib_readable (gpointer data)
{
  GlibRead *r = data;
  char buf[8];

  g_assert_cmpint (recv (r->sock, buf, sizeof buf, 0), ==, 4);
  g_assert_cmpmem (buf, 4, "ping", 4);
  r->got = TRUE;
}

static gboolean
set_flag (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

/* Attached to a GMainContext, a completion wakes GLib's wait (the helper
 * thread's event): GLib alone, blocking, runs the reader once another
 * thread has sent, round after round. */
static void
test_glib_wakeup (void)
{
  EvlLoop *loop = new_loop ();
  GMainContext *context = g_main_context_new ();
  GError *error = NULL;
  SOCKET s[2];
  SendLater sl;
  GlibRead r = { 0 };
  GThread *thread;
  GSource *timeout;
  gboolean timed_out = FALSE;
  guint id, round;

  tcp_pair (s);
  id = evl_loop_attach (loop, context);
  g_assert_cmpuint (id, >, 0);
  timeout = g_timeout_source_new_seconds (10);
  g_source_set_callback (timeout, set_flag, &timed_out, NULL);
  g_source_attach (timeout, context);

  r.sock = s[1];
  g_assert_true (evl_loop_add_reader (loop, (int) s[1], glib_readable, &r, NULL, &error));
  g_assert_no_error (error);
  for (round = 0; round < 3; round++)
    {
      r.got = FALSE;
      sl.sock = s[0];
      sl.delay_ms = 30;
      thread = g_thread_new ("send-later", send_later, &sl);
      while (!r.got && !timed_out)
        g_main_context_iteration (context, TRUE);
      g_thread_join (thread);
      g_assert_false (timed_out);
    }

  g_assert_true (evl_loop_remove_reader (loop, (int) s[1]));
  g_source_destroy (timeout);
  g_source_unref (timeout);
  closesocket (s[0]);
  closesocket (s[1]);
  close_loop (loop);
  g_main_context_unref (context);
}

/* Closing the loop with watches armed (AFD polls in the port) cancels
 * them and waits for their packets. */
static void
test_close_with_watches (void)
{
  EvlLoop *loop = new_loop ();
  GError *error = NULL;
  Counter counter = { loop, 0, 0 };
  SOCKET s[3][2];
  guint i;

  for (i = 0; i < G_N_ELEMENTS (s); i++)
    {
      tcp_pair (s[i]);
      g_assert_true (evl_loop_add_reader (loop, (int) s[i][0], count_cb, &counter, NULL, &error));
      g_assert_true (evl_loop_add_reader (loop, (int) s[i][1], count_cb, &counter, NULL, &error));
    }
  g_assert_no_error (error);
  evl_test_run_for (loop, 0.02);
  g_assert_cmpuint (counter.n, ==, 0);
  close_loop (loop);
  for (i = 0; i < G_N_ELEMENTS (s); i++)
    {
      closesocket (s[i][0]);
      closesocket (s[i][1]);
    }
}

/* Cross-thread call_soon_threadsafe reaches a loop that blocks in its
 * completion port. */
static gpointer
post_stop (gpointer data)
{
  g_usleep (20000);
  evl_handle_unref (evl_loop_call_soon_threadsafe (data, evl_test_stop_cb, data, NULL));
  return NULL;
}

static void
test_threadsafe_wakeup (void)
{
  EvlLoop *loop = new_loop ();
  GThread *thread = g_thread_new ("post", post_stop, loop);

  run_until_stopped (loop, 10);
  g_thread_join (thread);
  close_loop (loop);
}

/* Several threads post in small bursts with pauses, so that the loop
 * blocks in its port between them: every post runs, each thread's in
 * order, standalone and attached to GLib. A wakeup lost (a post left in
 * its queue while the loop waits with no timer) fails the test at the
 * guard's 30 s. */
#define N_POSTERS 4
#define N_BURSTS  100

typedef struct _Posts Posts;

typedef struct
{
  Posts  *posts;
  guint   id;
  guint   n_sent;
  guint   n_ran;      /* loop thread only */
} Poster;

struct _Posts
{
  EvlLoop  *loop;
  Poster    posters[N_POSTERS];
  guint     total;     /* loop thread only */
  guint     expected;
  gboolean  done;
};

typedef struct
{
  Poster *poster;
  guint   seq;
} Post;

static void
post_ran (gpointer data)
{
  Post *p = data;
  Posts *posts = p->poster->posts;

  /* Each thread's posts in the order it made them. */
  g_assert_cmpuint (p->seq, ==, p->poster->n_ran);
  p->poster->n_ran++;
  if (++posts->total == posts->expected)
    {
      posts->done = TRUE;
      evl_loop_stop (posts->loop);
    }
}

static gpointer
poster_main (gpointer data)
{
  Poster *poster = data;
  GRand *rand = g_rand_new_with_seed (poster->id);
  guint burst, i, n;

  for (burst = 0; burst < N_BURSTS; burst++)
    {
      n = g_rand_int_range (rand, 1, 4);
      for (i = 0; i < n; i++)
        {
          Post *p = g_new (Post, 1);

          p->poster = poster;
          p->seq = poster->n_sent++;
          evl_handle_unref (evl_loop_call_soon_threadsafe (poster->posts->loop, post_ran, p, g_free));
        }
      g_usleep (g_rand_int_range (rand, 0, 500));
    }
  g_rand_free (rand);
  return NULL;
}

/* Starts the posting threads; the last post stops the loop. The expected
 * count is known before: each thread posts a fixed sequence (its seed). */
static void
posters_start (Posts    *posts,
               GThread **threads)
{
  guint i, burst;

  posts->expected = 0;
  for (i = 0; i < N_POSTERS; i++)
    {
      GRand *rand = g_rand_new_with_seed (i + 1);

      for (burst = 0; burst < N_BURSTS; burst++)
        {
          posts->expected += g_rand_int_range (rand, 1, 4);
          g_rand_int_range (rand, 0, 500);
        }
      g_rand_free (rand);
    }
  for (i = 0; i < N_POSTERS; i++)
    {
      posts->posters[i].posts = posts;
      posts->posters[i].id = i + 1;
      threads[i] = g_thread_new ("poster", poster_main, &posts->posters[i]);
    }
}

static void
posters_join (Posts    *posts,
              GThread **threads)
{
  guint i;

  for (i = 0; i < N_POSTERS; i++)
    {
      g_thread_join (threads[i]);
      g_assert_cmpuint (posts->posters[i].n_ran, ==, posts->posters[i].n_sent);
    }
  g_assert_cmpuint (posts->total, ==, posts->expected);
}

static void
test_threadsafe_many_threads (void)
{
  Posts posts = { new_loop () };
  GThread *threads[N_POSTERS];

  posters_start (&posts, threads);
  run_until_stopped (posts.loop, 30);
  g_assert_true (posts.done);
  posters_join (&posts, threads);
  close_loop (posts.loop);
}

static void
test_threadsafe_many_threads_glib (void)
{
  Posts posts = { new_loop () };
  GMainContext *context = g_main_context_new ();
  GThread *threads[N_POSTERS];
  GSource *timeout;
  gboolean timed_out = FALSE;
  guint id;

  id = evl_loop_attach (posts.loop, context);
  g_assert_cmpuint (id, >, 0);
  timeout = g_timeout_source_new_seconds (30);
  g_source_set_callback (timeout, set_flag, &timed_out, NULL);
  g_source_attach (timeout, context);

  posters_start (&posts, threads);
  /* GLib alone waits: for the IOCP helper's event. */
  while (!posts.done && !timed_out)
    g_main_context_iteration (context, TRUE);
  g_assert_false (timed_out);
  posters_join (&posts, threads);

  g_source_destroy (timeout);
  g_source_unref (timeout);
  close_loop (posts.loop);
  g_main_context_unref (context);
}

int
main (int    argc,
      char **argv)
{
  WSADATA wsa;

  g_test_init (&argc, &argv, NULL);
  g_assert_cmpint (WSAStartup (MAKEWORD (2, 2), &wsa), ==, 0);

  g_test_add_func ("/Evl/Iocp/reader/listening-socket", test_reader_listening);
  g_test_add_func ("/Evl/Iocp/reader/level-triggered", test_reader_level_triggered);
  g_test_add_func ("/Evl/Iocp/reader/eof", test_reader_eof);
  g_test_add_func ("/Evl/Iocp/reader/removed", test_reader_removed);
  g_test_add_func ("/Evl/Iocp/reader/event-handle", test_reader_event_handle);
  g_test_add_func ("/Evl/Iocp/writer/connect", test_writer_connect);
  g_test_add_func ("/Evl/Iocp/sock/roundtrip", test_sock_roundtrip);
  g_test_add_func ("/Evl/Iocp/sock/connect-refused", test_sock_connect_refused);
  g_test_add_func ("/Evl/Iocp/sock/recv-cancel", test_sock_recv_cancel);
  g_test_add_func ("/Evl/Iocp/close-in-flight", test_close_in_flight);
  g_test_add_func ("/Evl/Iocp/close-with-watches", test_close_with_watches);
  g_test_add_func ("/Evl/Iocp/glib-wakeup", test_glib_wakeup);
  g_test_add_func ("/Evl/Iocp/threadsafe-wakeup", test_threadsafe_wakeup);
  g_test_add_func ("/Evl/Iocp/threadsafe/many-threads", test_threadsafe_many_threads);
  g_test_add_func ("/Evl/Iocp/threadsafe/many-threads-glib", test_threadsafe_many_threads_glib);

  return g_test_run ();
}
