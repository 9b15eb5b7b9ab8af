/* tcp-pingpong.c: scenario 4, one loopback TCP connection
 *
 * Both ends of a loopback TCP connection (TCP_NODELAY) on one thread:
 *
 *   pingpong  64-byte messages, one in flight: round trips per second
 *   bulk      64 KiB writes one way, 64 KiB reads: MB/s received
 *
 * for these implementations:
 *
 *   evl-selector         EvlSelectorLoop with sock_recv_into/sock_sendall
 *   evl-proactor         EvlProactorLoop (io_uring) with the same primitives
 *   evl-attached         the EvlSelectorLoop with the primitives, attached to
 *                        a GMainContext run by g_main_loop_run
 *   evl-selector-reader  EvlSelectorLoop with add_reader and read()/write():
 *   evl-proactor-reader  what the loop costs without the primitives
 *   glib                 GSocket sources (g_socket_create_source) and
 *                        g_socket_receive/g_socket_send in a GMainLoop
 *   libuv                uv_tcp_t: uv_read_start, uv_write
 *   libev                ev_io and read()/write()
 *   raw-epoll            floor: level-triggered epoll, read()/write()
 *   raw-io_uring         floor: IORING_OP_RECV/SEND, one ring enter per wait
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#define _GNU_SOURCE

#include "bench-common.h"

#include <evloop-glib/evloop-glib.h>
#include <errno.h>
#include <ev.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>
#if BENCH_HAVE_LIBURING
# include <liburing.h>
#endif

#define MSG_SIZE  64
#define BULK_SIZE (64 * 1024)

static double seconds = 0.5;

static double
rate (guint64 count, gint64 start)
{
  return count / ((bench_now_ns () - start) / 1e9);
}

static gboolean
evl_new_loop (const char *kind, EvlLoop **loop, char **why)
{
  GError *error = NULL;

  if (g_str_has_prefix (kind, "proactor"))
    {
      *loop = evl_proactor_loop_new (&error);
      if (*loop == NULL)
        {
          *why = g_strdup (error->message);
          g_error_free (error);
          return FALSE;
        }
      return TRUE;
    }
  *loop = evl_selector_loop_new (NULL);
  return TRUE;
}

/* ---------------------------------------------------------------------- */
/* raw epoll */

static gboolean
epoll_pingpong (gpointer ctx, double *out, char **why)
{
  struct epoll_event ev, events[4];
  guint8 cbuf[MSG_SIZE], sbuf[MSG_SIZE], msg[MSG_SIZE] = { 0 };
  gsize chave = 0, shave = 0;
  guint64 round_trips = 0;
  gint64 start, deadline;
  int ep, client, server, n, i;

  bench_tcp_pair (&client, &server);
  ep = epoll_create1 (EPOLL_CLOEXEC);
  ev.events = EPOLLIN;
  ev.data.fd = client;
  epoll_ctl (ep, EPOLL_CTL_ADD, client, &ev);
  ev.data.fd = server;
  epoll_ctl (ep, EPOLL_CTL_ADD, server, &ev);

  start = bench_now_ns ();
  deadline = start + (gint64) (seconds * 1e9);
  bench_write_all (client, msg, MSG_SIZE);
  for (;;)
    {
      n = epoll_wait (ep, events, G_N_ELEMENTS (events), -1);
      for (i = 0; i < n; i++)
        {
          ssize_t r;

          if (events[i].data.fd == server)
            {
              r = read (server, sbuf + shave, MSG_SIZE - shave);
              if (r > 0 && (shave += r) == MSG_SIZE)
                {
                  shave = 0;
                  bench_write_all (server, msg, MSG_SIZE);
                }
            }
          else
            {
              r = read (client, cbuf + chave, MSG_SIZE - chave);
              if (r > 0 && (chave += r) == MSG_SIZE)
                {
                  chave = 0;
                  round_trips++;
                  if (bench_now_ns () >= deadline)
                    goto done;
                  bench_write_all (client, msg, MSG_SIZE);
                }
            }
        }
    }
done:
  out[0] = rate (round_trips, start);
  close (ep);
  close (client);
  close (server);
  return TRUE;
}

static gboolean
epoll_bulk (gpointer ctx, double *out, char **why)
{
  struct epoll_event ev, events[4];
  guint8 *buf = g_malloc0 (BULK_SIZE), *in = g_malloc (BULK_SIZE);
  gsize out_done = 0;
  guint64 received = 0;
  gint64 start, deadline;
  int ep, client, server, n, i;

  bench_tcp_pair (&client, &server);
  ep = epoll_create1 (EPOLL_CLOEXEC);
  ev.events = EPOLLOUT;
  ev.data.fd = client;
  epoll_ctl (ep, EPOLL_CTL_ADD, client, &ev);
  ev.events = EPOLLIN;
  ev.data.fd = server;
  epoll_ctl (ep, EPOLL_CTL_ADD, server, &ev);

  start = bench_now_ns ();
  deadline = start + (gint64) (seconds * 1e9);
  while (bench_now_ns () < deadline)
    {
      n = epoll_wait (ep, events, G_N_ELEMENTS (events), -1);
      for (i = 0; i < n; i++)
        {
          ssize_t r;

          if (events[i].data.fd == server)
            {
              r = read (server, in, BULK_SIZE);
              if (r > 0)
                received += r;
            }
          else
            {
              r = write (client, buf + out_done, BULK_SIZE - out_done);
              if (r > 0 && (out_done += r) == BULK_SIZE)
                out_done = 0;
            }
        }
    }
  out[0] = rate (received, start) / 1e6;
  close (ep);
  close (client);
  close (server);
  g_free (buf);
  g_free (in);
  return TRUE;
}

/* ---------------------------------------------------------------------- */
/* raw io_uring: the kernel reads and writes */

#if BENCH_HAVE_LIBURING
enum { TAG_CRECV = 1, TAG_SRECV, TAG_CSEND, TAG_SSEND };

static int
raw_ring_init (struct io_uring *ring)
{
  static const unsigned flags[] = {
    IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
    IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG,
    0,
  };
  guint i;
  int r = -EINVAL;

  for (i = 0; i < G_N_ELEMENTS (flags); i++)
    {
      struct io_uring_params p = { 0 };

      p.flags = flags[i];
      r = io_uring_queue_init_params (64, ring, &p);
      if (r != -EINVAL)
        break;
    }
  return r;
}

static void
raw_op (struct io_uring *ring, int send, int fd, void *buf, gsize len, guint64 tag)
{
  struct io_uring_sqe *sqe = io_uring_get_sqe (ring);

  if (sqe == NULL)
    {
      io_uring_submit (ring);
      sqe = io_uring_get_sqe (ring);
    }
  if (send)
    io_uring_prep_send (sqe, fd, buf, len, MSG_NOSIGNAL);
  else
    io_uring_prep_recv (sqe, fd, buf, len, 0);
  io_uring_sqe_set_data64 (sqe, tag);
}
#endif

static gboolean
uring_run (double *out, char **why, gboolean bulk)
{
#if BENCH_HAVE_LIBURING
  struct io_uring ring;
  guint8 *cbuf = g_malloc0 (BULK_SIZE), *sbuf = g_malloc0 (BULK_SIZE), *msg = g_malloc0 (BULK_SIZE);
  gsize chave = 0, shave = 0, sent = 0;
  guint64 count = 0;
  gint64 start, deadline;
  gboolean done = FALSE;
  int client, server, r;

  if ((r = raw_ring_init (&ring)) < 0)
    {
      *why = g_strdup_printf ("io_uring: %s", g_strerror (-r));
      g_free (cbuf);
      g_free (sbuf);
      g_free (msg);
      return FALSE;
    }
  bench_tcp_pair (&client, &server);
  start = bench_now_ns ();
  deadline = start + (gint64) (seconds * 1e9);
  if (bulk)
    {
      raw_op (&ring, 0, server, sbuf, BULK_SIZE, TAG_SRECV);
      raw_op (&ring, 1, client, msg, BULK_SIZE, TAG_CSEND);
    }
  else
    {
      raw_op (&ring, 0, server, sbuf, MSG_SIZE, TAG_SRECV);
      raw_op (&ring, 0, client, cbuf, MSG_SIZE, TAG_CRECV);
      raw_op (&ring, 1, client, msg, MSG_SIZE, TAG_CSEND);
    }
  while (!done)
    {
      struct io_uring_cqe *cqe;
      unsigned head, n = 0;

      io_uring_submit_and_wait (&ring, 1);
      io_uring_for_each_cqe (&ring, head, cqe)
        {
          int res = cqe->res;

          n++;
          if (res < 0 && res != -EAGAIN)
            g_error ("io_uring op: %s", g_strerror (-res));
          switch (cqe->user_data)
            {
            case TAG_SRECV:
              if (bulk)
                {
                  count += MAX (res, 0);
                  if (bench_now_ns () >= deadline)
                    done = TRUE;
                  raw_op (&ring, 0, server, sbuf, BULK_SIZE, TAG_SRECV);
                  break;
                }
              shave += MAX (res, 0);
              if (shave == MSG_SIZE)
                {
                  shave = 0;
                  raw_op (&ring, 1, server, msg, MSG_SIZE, TAG_SSEND);
                }
              raw_op (&ring, 0, server, sbuf + shave, MSG_SIZE - shave, TAG_SRECV);
              break;
            case TAG_CRECV:
              chave += MAX (res, 0);
              if (chave == MSG_SIZE)
                {
                  chave = 0;
                  count++;
                  if (bench_now_ns () >= deadline)
                    {
                      done = TRUE;
                      break;
                    }
                  raw_op (&ring, 1, client, msg, MSG_SIZE, TAG_CSEND);
                }
              raw_op (&ring, 0, client, cbuf + chave, MSG_SIZE - chave, TAG_CRECV);
              break;
            case TAG_CSEND:
              if (bulk)
                {
                  /* the rest of a short send, else the next 64 KiB */
                  sent = (sent + MAX (res, 0)) % BULK_SIZE;
                  raw_op (&ring, 1, client, msg + sent, BULK_SIZE - sent, TAG_CSEND);
                }
              else if (res != MSG_SIZE)
                g_error ("short send");
              break;
            case TAG_SSEND:
              if (res != MSG_SIZE)
                g_error ("short send");
              break;
            }
        }
      io_uring_cq_advance (&ring, n);
    }
  out[0] = bulk ? rate (count, start) / 1e6 : rate (count, start);
  /* closing the sockets ends what is still in flight */
  shutdown (client, SHUT_RDWR);
  shutdown (server, SHUT_RDWR);
  io_uring_queue_exit (&ring);
  close (client);
  close (server);
  g_free (cbuf);
  g_free (sbuf);
  g_free (msg);
  return TRUE;
#else
  *why = g_strdup ("built without liburing");
  return FALSE;
#endif
}

static gboolean uring_pingpong (gpointer ctx, double *out, char **why) { return uring_run (out, why, FALSE); }
static gboolean uring_bulk (gpointer ctx, double *out, char **why) { return uring_run (out, why, TRUE); }

/* ---------------------------------------------------------------------- */
/* evloop, socket primitives */

typedef struct
{
  EvlLoop   *loop;
  GMainLoop *ml;      /* attached to a GMainContext */
  int        client, server;
  guint8     cbuf[BULK_SIZE], sbuf[BULK_SIZE];
  gsize      chave, shave;
  GBytes    *msg;
  guint64    count;
  gint64     deadline;
  gboolean   stopping;
} Bench;

static void
bench_stop (Bench *b)
{
  b->stopping = TRUE;
  if (b->ml != NULL)
    g_main_loop_quit (b->ml);
  else
    evl_loop_stop (b->loop);
}

static void
sent_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GError *error = NULL;

  if (!evl_loop_sock_sendall_finish (EVL_LOOP (source), result, &error))
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) &&
          !g_error_matches (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_CLOSED))
        g_error ("sendall: %s", error->message);
      g_error_free (error);
    }
}

static gssize
recv_into_finish (Bench *b, GAsyncResult *result)
{
  GError *error = NULL;
  gssize n = evl_loop_sock_recv_into_finish (b->loop, result, &error);

  if (n < 0)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) &&
          !g_error_matches (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_CLOSED))
        g_error ("recv_into: %s", error->message);
      g_error_free (error);
    }
  return n;
}

static void
server_recv_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Bench *b = user_data;
  gssize n = recv_into_finish (b, result);

  if (n <= 0)
    return;
  b->shave += n;
  if (b->shave == MSG_SIZE)
    {
      b->shave = 0;
      evl_loop_sock_sendall_async (b->loop, b->server, b->msg, NULL, sent_cb, b);
    }
  evl_loop_sock_recv_into_async (b->loop, b->server, b->sbuf + b->shave, MSG_SIZE - b->shave,
                                 NULL, server_recv_cb, b);
}

static void
client_recv_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Bench *b = user_data;
  gssize n = recv_into_finish (b, result);

  if (n <= 0)
    return;
  b->chave += n;
  if (b->chave == MSG_SIZE)
    {
      b->chave = 0;
      b->count++;
      if (bench_now_ns () >= b->deadline)
        {
          bench_stop (b);
          return;
        }
      evl_loop_sock_sendall_async (b->loop, b->client, b->msg, NULL, sent_cb, b);
    }
  evl_loop_sock_recv_into_async (b->loop, b->client, b->cbuf + b->chave, MSG_SIZE - b->chave,
                                 NULL, client_recv_cb, b);
}

static void
bulk_sent_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Bench *b = user_data;

  sent_cb (source, result, user_data);
  if (!b->stopping)
    evl_loop_sock_sendall_async (b->loop, b->client, b->msg, NULL, bulk_sent_cb, b);
}

static void
bulk_recv_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Bench *b = user_data;
  gssize n = recv_into_finish (b, result);

  if (n <= 0)
    return;
  b->count += n;
  if (bench_now_ns () >= b->deadline)
    {
      bench_stop (b);
      return;
    }
  evl_loop_sock_recv_into_async (b->loop, b->server, b->sbuf, BULK_SIZE, NULL, bulk_recv_cb, b);
}

static void
reader_server (gpointer data)
{
  Bench *b = data;
  ssize_t r = read (b->server, b->sbuf + b->shave, MSG_SIZE - b->shave);

  if (r > 0 && (b->shave += r) == MSG_SIZE)
    {
      b->shave = 0;
      bench_write_all (b->server, g_bytes_get_data (b->msg, NULL), MSG_SIZE);
    }
}

static void
reader_client (gpointer data)
{
  Bench *b = data;
  ssize_t r = read (b->client, b->cbuf + b->chave, MSG_SIZE - b->chave);

  if (r > 0 && (b->chave += r) == MSG_SIZE)
    {
      b->chave = 0;
      b->count++;
      if (bench_now_ns () >= b->deadline)
        {
          bench_stop (b);
          return;
        }
      bench_write_all (b->client, g_bytes_get_data (b->msg, NULL), MSG_SIZE);
    }
}

typedef enum
{
  EVL_PRIMS,
  EVL_READER,
} EvlStyle;

static gboolean
evl_run (const char *kind,
         gboolean    attached,
         EvlStyle    style,
         gboolean    bulk,
         double     *out,
         char      **why)
{
  Bench *b = g_new0 (Bench, 1);
  GMainContext *context = NULL;
  gint64 start;

  if (!evl_new_loop (kind, &b->loop, why))
    {
      g_free (b);
      return FALSE;
    }
  if (attached)
    {
      context = g_main_context_new ();
      b->ml = g_main_loop_new (context, FALSE);
      evl_loop_attach (b->loop, context);
    }
  bench_tcp_pair (&b->client, &b->server);
  b->msg = g_bytes_new_take (g_malloc0 (bulk ? BULK_SIZE : MSG_SIZE), bulk ? BULK_SIZE : MSG_SIZE);

  start = bench_now_ns ();
  b->deadline = start + (gint64) (seconds * 1e9);
  if (style == EVL_READER)
    {
      evl_loop_add_reader (b->loop, b->server, reader_server, b, NULL, NULL);
      evl_loop_add_reader (b->loop, b->client, reader_client, b, NULL, NULL);
      bench_write_all (b->client, g_bytes_get_data (b->msg, NULL), MSG_SIZE);
    }
  else if (bulk)
    {
      evl_loop_sock_recv_into_async (b->loop, b->server, b->sbuf, BULK_SIZE, NULL, bulk_recv_cb, b);
      /* One sendall at a time, each started from the previous one's
       * callback (which runs from the watch's dispatch, before the next
       * poll), as the floors write: raw epoll one write per writable
       * event, raw io_uring one send in flight. Two queued wrote 128 KiB
       * per writable event, which halves loopback TCP throughput in the
       * kernel whoever does it (raw epoll writing twice per event: 0.5x). */
      evl_loop_sock_sendall_async (b->loop, b->client, b->msg, NULL, bulk_sent_cb, b);
    }
  else
    {
      evl_loop_sock_recv_into_async (b->loop, b->server, b->sbuf, MSG_SIZE, NULL, server_recv_cb, b);
      evl_loop_sock_recv_into_async (b->loop, b->client, b->cbuf, MSG_SIZE, NULL, client_recv_cb, b);
      evl_loop_sock_sendall_async (b->loop, b->client, b->msg, NULL, sent_cb, b);
    }
  if (b->ml != NULL)
    g_main_loop_run (b->ml);
  else
    evl_loop_run_forever (b->loop, NULL);
  out[0] = bulk ? rate (b->count, start) / 1e6 : rate (b->count, start);

  /* pending operations end (cancelled) on close */
  evl_loop_close (b->loop, NULL);
  g_object_unref (b->loop);
  if (context != NULL)
    {
      g_main_loop_unref (b->ml);
      g_main_context_unref (context);
    }
  g_bytes_unref (b->msg);
  close (b->client);
  close (b->server);
  g_free (b);
  return TRUE;
}

static gboolean pp_evl_selector (gpointer c, double *o, char **w) { return evl_run ("selector", FALSE, EVL_PRIMS, FALSE, o, w); }
static gboolean pp_evl_proactor (gpointer c, double *o, char **w) { return evl_run ("proactor", FALSE, EVL_PRIMS, FALSE, o, w); }
static gboolean pp_evl_attached (gpointer c, double *o, char **w) { return evl_run ("selector", TRUE, EVL_PRIMS, FALSE, o, w); }
static gboolean pp_evl_selector_reader (gpointer c, double *o, char **w) { return evl_run ("selector", FALSE, EVL_READER, FALSE, o, w); }
static gboolean pp_evl_proactor_reader (gpointer c, double *o, char **w) { return evl_run ("proactor", FALSE, EVL_READER, FALSE, o, w); }
static gboolean bulk_evl_selector (gpointer c, double *o, char **w) { return evl_run ("selector", FALSE, EVL_PRIMS, TRUE, o, w); }
static gboolean bulk_evl_proactor (gpointer c, double *o, char **w) { return evl_run ("proactor", FALSE, EVL_PRIMS, TRUE, o, w); }
static gboolean bulk_evl_attached (gpointer c, double *o, char **w) { return evl_run ("selector", TRUE, EVL_PRIMS, TRUE, o, w); }

/* ---------------------------------------------------------------------- */
/* GLib: GSocket sources */

typedef struct
{
  GSocket   *client, *server;
  GMainLoop *ml;
  guint8    *cbuf, *sbuf, *msg;
  gsize      chave, shave, sent;
  guint64    count;
  gint64     deadline;
  gboolean   bulk;
} GlibBench;

static gboolean
glib_server_in (GSocket *socket, GIOCondition cond, gpointer data)
{
  GlibBench *g = data;
  gssize r;

  if (g->bulk)
    {
      r = g_socket_receive (socket, (gchar *) g->sbuf, BULK_SIZE, NULL, NULL);
      if (r > 0)
        g->count += r;
      if (bench_now_ns () >= g->deadline)
        g_main_loop_quit (g->ml);
      return G_SOURCE_CONTINUE;
    }
  r = g_socket_receive (socket, (gchar *) g->sbuf + g->shave, MSG_SIZE - g->shave, NULL, NULL);
  if (r > 0 && (g->shave += r) == MSG_SIZE)
    {
      g->shave = 0;
      if (g_socket_send (socket, (gchar *) g->msg, MSG_SIZE, NULL, NULL) != MSG_SIZE)
        g_error ("short send");
    }
  return G_SOURCE_CONTINUE;
}

static gboolean
glib_client_in (GSocket *socket, GIOCondition cond, gpointer data)
{
  GlibBench *g = data;
  gssize r = g_socket_receive (socket, (gchar *) g->cbuf + g->chave, MSG_SIZE - g->chave, NULL, NULL);

  if (r > 0 && (g->chave += r) == MSG_SIZE)
    {
      g->chave = 0;
      g->count++;
      if (bench_now_ns () >= g->deadline)
        {
          g_main_loop_quit (g->ml);
          return G_SOURCE_CONTINUE;
        }
      if (g_socket_send (socket, (gchar *) g->msg, MSG_SIZE, NULL, NULL) != MSG_SIZE)
        g_error ("short send");
    }
  return G_SOURCE_CONTINUE;
}

static gboolean
glib_client_out (GSocket *socket, GIOCondition cond, gpointer data)
{
  GlibBench *g = data;
  gssize r = g_socket_send (socket, (gchar *) g->msg + g->sent, BULK_SIZE - g->sent, NULL, NULL);

  if (r > 0)
    g->sent = (g->sent + r) % BULK_SIZE;
  return G_SOURCE_CONTINUE;
}

static void
glib_watch (GSocket *socket, GIOCondition cond, GMainContext *context, GSocketSourceFunc func, gpointer data)
{
  GSource *s = g_socket_create_source (socket, cond, NULL);

  g_source_set_callback (s, G_SOURCE_FUNC (func), data, NULL);
  g_source_attach (s, context);
  g_source_unref (s);
}

static gboolean
glib_run (double *out, gboolean bulk)
{
  GMainContext *context = g_main_context_new ();
  GlibBench g = { 0 };
  int client, server;
  gint64 start;

  bench_tcp_pair (&client, &server);
  g.client = g_socket_new_from_fd (client, NULL);
  g.server = g_socket_new_from_fd (server, NULL);
  g_socket_set_blocking (g.client, FALSE);
  g_socket_set_blocking (g.server, FALSE);
  g.ml = g_main_loop_new (context, FALSE);
  g.bulk = bulk;
  g.cbuf = g_malloc0 (BULK_SIZE);
  g.sbuf = g_malloc0 (BULK_SIZE);
  g.msg = g_malloc0 (BULK_SIZE);
  glib_watch (g.server, G_IO_IN, context, glib_server_in, &g);
  if (bulk)
    glib_watch (g.client, G_IO_OUT, context, glib_client_out, &g);
  else
    glib_watch (g.client, G_IO_IN, context, glib_client_in, &g);

  start = bench_now_ns ();
  g.deadline = start + (gint64) (seconds * 1e9);
  if (!bulk && g_socket_send (g.client, (gchar *) g.msg, MSG_SIZE, NULL, NULL) != MSG_SIZE)
    g_error ("short send");
  g_main_loop_run (g.ml);
  out[0] = bulk ? rate (g.count, start) / 1e6 : rate (g.count, start);

  g_main_loop_unref (g.ml);
  g_main_context_unref (context);
  g_object_unref (g.client);   /* closes the fds */
  g_object_unref (g.server);
  g_free (g.cbuf);
  g_free (g.sbuf);
  g_free (g.msg);
  return TRUE;
}

static gboolean pp_glib (gpointer c, double *o, char **w) { return glib_run (o, FALSE); }
static gboolean bulk_glib (gpointer c, double *o, char **w) { return glib_run (o, TRUE); }

/* ---------------------------------------------------------------------- */
/* libuv */

typedef struct
{
  uv_loop_t   loop;
  uv_tcp_t    client, server;
  guint8     *rbuf, *msg;
  gsize       chave, shave;
  guint64     count;
  gint64      deadline;
  gboolean    bulk, stopping;
} UvBench;

static void
uv_alloc (uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
  UvBench *u = h->data;

  *buf = uv_buf_init ((char *) u->rbuf, BULK_SIZE);
}

static void
uv_written (uv_write_t *req, int status)
{
  UvBench *u = req->data;

  if (status < 0 && !u->stopping)
    g_error ("uv_write: %s", uv_strerror (status));
  if (u->bulk && !u->stopping)
    {
      uv_buf_t buf = uv_buf_init ((char *) u->msg, BULK_SIZE);

      uv_write (req, (uv_stream_t *) &u->client, &buf, 1, uv_written);
      return;
    }
  g_free (req);
}

static void
uv_send (UvBench *u, uv_tcp_t *tcp)
{
  uv_write_t *req = g_new (uv_write_t, 1);
  uv_buf_t buf = uv_buf_init ((char *) u->msg, u->bulk ? BULK_SIZE : MSG_SIZE);

  req->data = u;
  uv_write (req, (uv_stream_t *) tcp, &buf, 1, uv_written);
}

static void
uv_stop_all (UvBench *u)
{
  u->stopping = TRUE;
  uv_read_stop ((uv_stream_t *) &u->client);
  uv_read_stop ((uv_stream_t *) &u->server);
  uv_stop (&u->loop);
}

static void
uv_server_read (uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
  UvBench *u = s->data;

  if (n <= 0)
    return;
  if (u->bulk)
    {
      u->count += n;
      if (bench_now_ns () >= u->deadline)
        uv_stop_all (u);
      return;
    }
  u->shave += n;  /* the echo: every 64 bytes in, 64 out */
  while (u->shave >= MSG_SIZE)
    {
      u->shave -= MSG_SIZE;
      uv_send (u, &u->server);
    }
}

static void
uv_client_read (uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
  UvBench *u = s->data;

  if (n <= 0)
    return;
  u->chave += n;
  if (u->chave < MSG_SIZE)
    return;
  u->chave = 0;
  u->count++;
  if (bench_now_ns () >= u->deadline)
    {
      uv_stop_all (u);
      return;
    }
  uv_send (u, &u->client);
}

static gboolean
uv_run_bench (double *out, gboolean bulk)
{
  UvBench *u = g_new0 (UvBench, 1);
  int client, server;
  gint64 start;

  bench_tcp_pair (&client, &server);
  uv_loop_init (&u->loop);
  uv_tcp_init (&u->loop, &u->client);
  uv_tcp_init (&u->loop, &u->server);
  uv_tcp_open (&u->client, client);
  uv_tcp_open (&u->server, server);
  u->client.data = u->server.data = u;
  u->bulk = bulk;
  u->rbuf = g_malloc0 (BULK_SIZE);
  u->msg = g_malloc0 (BULK_SIZE);

  start = bench_now_ns ();
  u->deadline = start + (gint64) (seconds * 1e9);
  uv_read_start ((uv_stream_t *) &u->server, uv_alloc, uv_server_read);
  if (bulk)
    {
      uv_send (u, &u->client);
      uv_send (u, &u->client);
    }
  else
    {
      uv_read_start ((uv_stream_t *) &u->client, uv_alloc, uv_client_read);
      uv_send (u, &u->client);
    }
  uv_run (&u->loop, UV_RUN_DEFAULT);
  out[0] = bulk ? rate (u->count, start) / 1e6 : rate (u->count, start);

  uv_close ((uv_handle_t *) &u->client, NULL);  /* pending writes end with ECANCELED */
  uv_close ((uv_handle_t *) &u->server, NULL);
  uv_run (&u->loop, UV_RUN_DEFAULT);
  uv_loop_close (&u->loop);
  g_free (u->rbuf);
  g_free (u->msg);
  g_free (u);
  return TRUE;
}

static gboolean pp_libuv (gpointer c, double *o, char **w) { return uv_run_bench (o, FALSE); }
static gboolean bulk_libuv (gpointer c, double *o, char **w) { return uv_run_bench (o, TRUE); }

/* ---------------------------------------------------------------------- */
/* libev */

typedef struct
{
  ev_io      cw, sw;
  int        client, server;
  guint8    *cbuf, *sbuf, *msg;
  gsize      chave, shave, sent;
  guint64    count;
  gint64     deadline;
} EvBench;

static void
ev_server_cb (struct ev_loop *loop, ev_io *w, int revents)
{
  EvBench *e = w->data;
  ssize_t r = read (e->server, e->sbuf + e->shave, MSG_SIZE - e->shave);

  if (r > 0 && (e->shave += r) == MSG_SIZE)
    {
      e->shave = 0;
      bench_write_all (e->server, e->msg, MSG_SIZE);
    }
}

static void
ev_client_cb (struct ev_loop *loop, ev_io *w, int revents)
{
  EvBench *e = w->data;
  ssize_t r = read (e->client, e->cbuf + e->chave, MSG_SIZE - e->chave);

  if (r > 0 && (e->chave += r) == MSG_SIZE)
    {
      e->chave = 0;
      e->count++;
      if (bench_now_ns () >= e->deadline)
        {
          ev_break (loop, EVBREAK_ALL);
          return;
        }
      bench_write_all (e->client, e->msg, MSG_SIZE);
    }
}

static void
ev_bulk_server_cb (struct ev_loop *loop, ev_io *w, int revents)
{
  EvBench *e = w->data;
  ssize_t r = read (e->server, e->sbuf, BULK_SIZE);

  if (r > 0)
    e->count += r;
  if (bench_now_ns () >= e->deadline)
    ev_break (loop, EVBREAK_ALL);
}

static void
ev_bulk_client_cb (struct ev_loop *loop, ev_io *w, int revents)
{
  EvBench *e = w->data;
  ssize_t r = write (e->client, e->msg + e->sent, BULK_SIZE - e->sent);

  if (r > 0)
    e->sent = (e->sent + r) % BULK_SIZE;
}

static gboolean
ev_run_bench (double *out, gboolean bulk)
{
  struct ev_loop *loop = ev_loop_new (EVBACKEND_EPOLL);
  EvBench e = { 0 };
  gint64 start;

  bench_tcp_pair (&e.client, &e.server);
  e.cbuf = g_malloc0 (BULK_SIZE);
  e.sbuf = g_malloc0 (BULK_SIZE);
  e.msg = g_malloc0 (BULK_SIZE);
  ev_io_init (&e.sw, bulk ? ev_bulk_server_cb : ev_server_cb, e.server, EV_READ);
  if (bulk)
    ev_io_init (&e.cw, ev_bulk_client_cb, e.client, EV_WRITE);
  else
    ev_io_init (&e.cw, ev_client_cb, e.client, EV_READ);
  e.sw.data = e.cw.data = &e;
  ev_io_start (loop, &e.sw);
  ev_io_start (loop, &e.cw);

  start = bench_now_ns ();
  e.deadline = start + (gint64) (seconds * 1e9);
  if (!bulk)
    bench_write_all (e.client, e.msg, MSG_SIZE);
  ev_run (loop, 0);
  out[0] = bulk ? rate (e.count, start) / 1e6 : rate (e.count, start);

  ev_io_stop (loop, &e.sw);
  ev_io_stop (loop, &e.cw);
  ev_loop_destroy (loop);
  close (e.client);
  close (e.server);
  g_free (e.cbuf);
  g_free (e.sbuf);
  g_free (e.msg);
  return TRUE;
}

static gboolean pp_libev (gpointer c, double *o, char **w) { return ev_run_bench (o, FALSE); }
static gboolean bulk_libev (gpointer c, double *o, char **w) { return ev_run_bench (o, TRUE); }

/* ---------------------------------------------------------------------- */

int
main (int argc, char *argv[])
{
  static const BenchMetric pp_metrics[] = { { "round_trips", "rt/s", TRUE } };
  static const BenchMetric bulk_metrics[] = { { "throughput", "MB/s", TRUE } };
  static const BenchImpl pp_impls[] = {
    { "evl-selector", BENCH_EVL, pp_evl_selector },
    { "evl-proactor", BENCH_EVL, pp_evl_proactor },
    { "evl-attached", BENCH_EVL, pp_evl_attached },
    { "evl-selector-reader", BENCH_EVL, pp_evl_selector_reader },
    { "evl-proactor-reader", BENCH_EVL, pp_evl_proactor_reader },
    { "glib", BENCH_PEER, pp_glib },
    { "libuv", BENCH_PEER, pp_libuv },
    { "libev", BENCH_PEER, pp_libev },
    { "raw-epoll", BENCH_FLOOR, epoll_pingpong },
    { "raw-io_uring", BENCH_FLOOR, uring_pingpong },
  };
  static const BenchImpl bulk_impls[] = {
    { "evl-selector", BENCH_EVL, bulk_evl_selector },
    { "evl-proactor", BENCH_EVL, bulk_evl_proactor },
    { "evl-attached", BENCH_EVL, bulk_evl_attached },
    { "glib", BENCH_PEER, bulk_glib },
    { "libuv", BENCH_PEER, bulk_libuv },
    { "libev", BENCH_PEER, bulk_libev },
    { "raw-epoll", BENCH_FLOOR, epoll_bulk },
    { "raw-io_uring", BENCH_FLOOR, uring_bulk },
  };
  double secs = 0;
  GOptionEntry extra[] = {
    { "seconds", 's', 0, G_OPTION_ARG_DOUBLE, &secs, "Seconds per measurement (default 0.5)", "S" },
    { NULL }
  };

  bench_init (&argc, &argv, "- scenario 4: TCP ping-pong and bulk throughput", extra);
  seconds = secs > 0 ? secs : bench_seconds (0.5);
  bench_run ("tcp-pingpong", "msg=64", pp_metrics, 1, pp_impls, G_N_ELEMENTS (pp_impls), NULL);
  bench_run ("tcp-bulk", "write=65536", bulk_metrics, 1, bulk_impls, G_N_ELEMENTS (bulk_impls), NULL);
  return 0;
}
