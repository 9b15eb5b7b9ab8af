/* many-connections.c: scenario 6, many concurrent connections
 *
 * 100 loopback TCP connections (TCP_NODELAY), both ends of each in the
 * same loop and thread, each doing 64-byte ping-pong with one message in
 * flight. The figure is the total round trips per second.
 *
 *   evl-selector         EvlSelectorLoop with sock_recv_into/sock_sendall
 *   evl-proactor         EvlProactorLoop (io_uring) with the same primitives
 *   evl-selector-reader  add_reader and read()/write() on each loop
 *   evl-proactor-reader
 *   libuv                uv_tcp_t: uv_read_start, uv_write
 *   libev                ev_io and read()/write()
 *   raw-epoll            floor: level-triggered epoll, read()/write()
 *
 * --connections=N changes the number of connections.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#define _GNU_SOURCE

#include "bench-common.h"

#include <evloop-glib/evloop-glib.h>
#include <ev.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>
#include <uv.h>

#define MSG_SIZE 64

typedef struct _Bench Bench;

/* One end of one connection. */
typedef struct
{
  Bench    *b;
  int       fd;
  gboolean  is_client;
  guint8    buf[MSG_SIZE];
  gsize     have;
  /* per-implementation handles */
  uv_tcp_t  tcp;
  ev_io     io;
} End;

struct _Bench
{
  guint     n;
  End      *ends;      /* 2n: client, server, client, server... */
  guint64   round_trips;
  gint64    start, deadline;
  gboolean  done;
  EvlLoop  *loop;
  uv_loop_t *uv;
  struct ev_loop *ev;
  GBytes   *msg;
};

static guint8 zeros[MSG_SIZE];
static double seconds = 0.5;

static void
bench_setup (Bench *b)
{
  guint i;

  b->ends = g_new0 (End, 2 * b->n);
  for (i = 0; i < b->n; i++)
    {
      End *c = &b->ends[2 * i], *s = &b->ends[2 * i + 1];

      bench_tcp_pair (&c->fd, &s->fd);
      c->b = s->b = b;
      c->is_client = TRUE;
    }
  b->round_trips = 0;
  b->done = FALSE;
}

static void
bench_teardown (Bench *b, gboolean close_fds)
{
  guint i;

  if (close_fds)
    for (i = 0; i < 2 * b->n; i++)
      close (b->ends[i].fd);
  g_free (b->ends);
  b->ends = NULL;
}

static void
bench_start (Bench *b)
{
  b->start = bench_now_ns ();
  b->deadline = b->start + (gint64) (seconds * 1e9);
}

static double
bench_rate (Bench *b)
{
  return b->round_trips / ((bench_now_ns () - b->start) / 1e9);
}

/* A whole message arrived at @e: TRUE when it should send one. */
static gboolean
end_got_message (End *e)
{
  Bench *b = e->b;

  if (!e->is_client)
    return TRUE;
  b->round_trips++;
  if (b->done || bench_now_ns () >= b->deadline)
    {
      b->done = TRUE;
      return FALSE;
    }
  return TRUE;
}

/* read()/write() style: reads what is there, echoes whole messages. */
static void
end_readable (End *e)
{
  ssize_t r = read (e->fd, e->buf + e->have, MSG_SIZE - e->have);

  if (r <= 0)
    return;
  e->have += r;
  if (e->have < MSG_SIZE)
    return;
  e->have = 0;
  if (end_got_message (e))
    bench_write_all (e->fd, zeros, MSG_SIZE);
}

static void
start_clients_rw (Bench *b)
{
  guint i;

  for (i = 0; i < b->n; i++)
    bench_write_all (b->ends[2 * i].fd, zeros, MSG_SIZE);
}

/* ---------------------------------------------------------------------- */
/* raw epoll */

static gboolean
run_raw_epoll (gpointer ctx, double *out, char **why)
{
  Bench *b = ctx;
  struct epoll_event ev = { 0 }, events[256];
  int ep = epoll_create1 (EPOLL_CLOEXEC);
  guint i;

  bench_setup (b);
  for (i = 0; i < 2 * b->n; i++)
    {
      ev.events = EPOLLIN;
      ev.data.ptr = &b->ends[i];
      epoll_ctl (ep, EPOLL_CTL_ADD, b->ends[i].fd, &ev);
    }
  bench_start (b);
  start_clients_rw (b);
  while (!b->done)
    {
      int n = epoll_wait (ep, events, G_N_ELEMENTS (events), -1), j;

      for (j = 0; j < n; j++)
        end_readable (events[j].data.ptr);
    }
  out[0] = bench_rate (b);
  close (ep);
  bench_teardown (b, TRUE);
  return TRUE;
}

/* ---------------------------------------------------------------------- */
/* libev */

static void
ev_end_cb (struct ev_loop *loop, ev_io *w, int revents)
{
  End *e = w->data;

  end_readable (e);
  if (e->b->done)
    ev_break (loop, EVBREAK_ALL);
}

static gboolean
run_libev (gpointer ctx, double *out, char **why)
{
  Bench *b = ctx;
  struct ev_loop *loop = ev_loop_new (EVBACKEND_EPOLL);
  guint i;

  bench_setup (b);
  for (i = 0; i < 2 * b->n; i++)
    {
      ev_io_init (&b->ends[i].io, ev_end_cb, b->ends[i].fd, EV_READ);
      b->ends[i].io.data = &b->ends[i];
      ev_io_start (loop, &b->ends[i].io);
    }
  bench_start (b);
  start_clients_rw (b);
  ev_run (loop, 0);
  out[0] = bench_rate (b);
  for (i = 0; i < 2 * b->n; i++)
    ev_io_stop (loop, &b->ends[i].io);
  ev_loop_destroy (loop);
  bench_teardown (b, TRUE);
  return TRUE;
}

/* ---------------------------------------------------------------------- */
/* libuv */

static void
uv_alloc (uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
  End *e = h->data;

  *buf = uv_buf_init ((char *) e->buf + e->have, MSG_SIZE - e->have);
}

static void
uv_written (uv_write_t *req, int status)
{
  g_free (req);
}

static void
uv_send (End *e)
{
  uv_write_t *req = g_new (uv_write_t, 1);
  uv_buf_t buf = uv_buf_init ((char *) zeros, MSG_SIZE);

  uv_write (req, (uv_stream_t *) &e->tcp, &buf, 1, uv_written);
}

static void
uv_end_read (uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
  End *e = s->data;

  if (n <= 0)
    return;
  e->have += n;
  if (e->have < MSG_SIZE)
    return;
  e->have = 0;
  if (end_got_message (e))
    uv_send (e);
  else if (e->b->done)
    uv_stop (s->loop);
}

static gboolean
run_libuv (gpointer ctx, double *out, char **why)
{
  Bench *b = ctx;
  uv_loop_t loop;
  guint i;

  bench_setup (b);
  uv_loop_init (&loop);
  for (i = 0; i < 2 * b->n; i++)
    {
      uv_tcp_init (&loop, &b->ends[i].tcp);
      uv_tcp_open (&b->ends[i].tcp, b->ends[i].fd);
      b->ends[i].tcp.data = &b->ends[i];
      uv_read_start ((uv_stream_t *) &b->ends[i].tcp, uv_alloc, uv_end_read);
    }
  bench_start (b);
  for (i = 0; i < b->n; i++)
    uv_send (&b->ends[2 * i]);
  uv_run (&loop, UV_RUN_DEFAULT);
  out[0] = bench_rate (b);
  for (i = 0; i < 2 * b->n; i++)
    uv_close ((uv_handle_t *) &b->ends[i].tcp, NULL);   /* closes the fd */
  uv_run (&loop, UV_RUN_DEFAULT);
  uv_loop_close (&loop);
  bench_teardown (b, FALSE);
  return TRUE;
}

/* ---------------------------------------------------------------------- */
/* evloop */

static void
evl_reader_cb (gpointer data)
{
  End *e = data;

  end_readable (e);
  if (e->b->done)
    evl_loop_stop (e->b->loop);
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

static void
recv_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  End *e = user_data;
  Bench *b = e->b;
  GError *error = NULL;
  gssize n = evl_loop_sock_recv_into_finish (b->loop, result, &error);

  if (n < 0)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) &&
          !g_error_matches (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_CLOSED))
        g_error ("recv_into: %s", error->message);
      g_error_free (error);
      return;
    }
  if (n == 0)
    return;
  e->have += n;
  if (e->have == MSG_SIZE)
    {
      e->have = 0;
      if (end_got_message (e))
        evl_loop_sock_sendall_async (b->loop, e->fd, b->msg, NULL, sent_cb, e);
      else if (b->done)
        {
          evl_loop_stop (b->loop);
          return;
        }
    }
  evl_loop_sock_recv_into_async (b->loop, e->fd, e->buf + e->have, MSG_SIZE - e->have, NULL, recv_cb, e);
}

static gboolean
run_evl (Bench *b, const char *kind, gboolean reader, double *out, char **why)
{
  GError *error = NULL;
  guint i;

  if (g_str_equal (kind, "proactor"))
    {
      b->loop = evl_proactor_loop_new (&error);
      if (b->loop == NULL)
        {
          *why = g_strdup (error->message);
          g_error_free (error);
          return FALSE;
        }
    }
  else
    b->loop = evl_selector_loop_new (NULL);
  b->msg = g_bytes_new_static (zeros, MSG_SIZE);
  bench_setup (b);
  for (i = 0; i < 2 * b->n; i++)
    {
      End *e = &b->ends[i];

      if (reader)
        evl_loop_add_reader (b->loop, e->fd, evl_reader_cb, e, NULL, NULL);
      else
        evl_loop_sock_recv_into_async (b->loop, e->fd, e->buf, MSG_SIZE, NULL, recv_cb, e);
    }
  bench_start (b);
  for (i = 0; i < b->n; i++)
    {
      if (reader)
        bench_write_all (b->ends[2 * i].fd, zeros, MSG_SIZE);
      else
        evl_loop_sock_sendall_async (b->loop, b->ends[2 * i].fd, b->msg, NULL, sent_cb, &b->ends[2 * i]);
    }
  evl_loop_run_forever (b->loop, NULL);
  out[0] = bench_rate (b);
  evl_loop_close (b->loop, NULL);   /* pending operations end, cancelled */
  g_clear_object (&b->loop);
  g_bytes_unref (b->msg);
  bench_teardown (b, TRUE);
  return TRUE;
}

static gboolean run_evl_selector (gpointer c, double *o, char **w) { return run_evl (c, "selector", FALSE, o, w); }
static gboolean run_evl_proactor (gpointer c, double *o, char **w) { return run_evl (c, "proactor", FALSE, o, w); }
static gboolean run_evl_selector_reader (gpointer c, double *o, char **w) { return run_evl (c, "selector", TRUE, o, w); }
static gboolean run_evl_proactor_reader (gpointer c, double *o, char **w) { return run_evl (c, "proactor", TRUE, o, w); }

int
main (int argc, char *argv[])
{
  static const BenchMetric metrics[] = { { "round_trips", "rt/s", TRUE } };
  static const BenchImpl impls[] = {
    { "evl-selector", BENCH_EVL, run_evl_selector },
    { "evl-proactor", BENCH_EVL, run_evl_proactor },
    { "evl-selector-reader", BENCH_EVL, run_evl_selector_reader },
    { "evl-proactor-reader", BENCH_EVL, run_evl_proactor_reader },
    { "libuv", BENCH_PEER, run_libuv },
    { "libev", BENCH_PEER, run_libev },
    { "raw-epoll", BENCH_FLOOR, run_raw_epoll },
  };
  int n = 100;
  GOptionEntry extra[] = {
    { "connections", 'c', 0, G_OPTION_ARG_INT, &n, "Concurrent connections (default 100)", "N" },
    { NULL }
  };
  Bench b = { 0 };
  char params[64];

  bench_init (&argc, &argv, "- scenario 6: many concurrent connections", extra);
  seconds = bench_seconds (0.5);
  b.n = (guint) MAX (n, 1);
  bench_raise_nofile ();
  g_snprintf (params, sizeof params, "connections=%u msg=%u", b.n, MSG_SIZE);
  bench_run ("many-connections", params, metrics, G_N_ELEMENTS (metrics), impls, G_N_ELEMENTS (impls), &b);
  return 0;
}
