/* fd-scaling.c: scenario 3, the cost of a wakeup with many idle fds
 *
 * K idle socketpairs (K = 100, 1000 and 10 000, or as many as the
 * process's file limit allows after raising the soft limit to the hard
 * one: the K used is printed) have one end each watched for reading, and
 * never become ready. One more socketpair plays 1-byte ping-pong between
 * its ends, both watched by the same loop in the same thread. The figure
 * is the time per round trip (two wakeups, two reads, two writes).
 *
 *   evl-selector  add_reader on an EvlSelectorLoop (epoll)
 *   evl-proactor  add_reader on an EvlProactorLoop (io_uring poll requests)
 *   evl-attached  the EvlSelectorLoop attached to a GMainContext run by
 *                 g_main_loop_run (one GLib poll fd, the epoll fd)
 *   glib          one g_unix_fd_add()-style source per fd
 *   libuv         uv_poll_t per fd
 *   libev         ev_io per fd
 *   raw-epoll     floor: epoll_wait, read(), write()
 *   raw-io_uring  floor: one-shot IORING_OP_POLL_ADD per fd, armed again
 *                 with the next wait, read(), write() (what add_reader
 *                 does; no kernel-side reads)
 *
 * --k=LIST (comma-separated) replaces the list of K.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#define _GNU_SOURCE

#include "bench-common.h"

#include <evloop-glib/evloop-glib.h>
#include <glib-unix.h>
#include <errno.h>
#include <ev.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>
#include <uv.h>
#if BENCH_HAVE_LIBURING
# include <liburing.h>
#endif

typedef struct
{
  guint    k;
  int     *idle;       /* K watched ends */
  int      a, b;       /* the active pair */
  double   seconds;
  guint64  round_trips;
  gint64   start, deadline;
  gboolean done;
  EvlLoop *loop;
  GMainLoop *ml;
} Ctx;

static char byte = 'x';

static void
pp_start (Ctx *c)
{
  c->round_trips = 0;
  c->done = FALSE;
  c->start = bench_now_ns ();
  c->deadline = c->start + (gint64) (c->seconds * 1e9);
  bench_write_all (c->a, &byte, 1);
}

/* b is readable: echo. */
static void
pp_b (Ctx *c)
{
  char buf[16];

  if (read (c->b, buf, sizeof buf) > 0)
    bench_write_all (c->b, &byte, 1);
}

/* a is readable: one round trip done; TRUE when the time is up. */
static gboolean
pp_a (Ctx *c)
{
  char buf[16];

  if (read (c->a, buf, sizeof buf) <= 0)
    return FALSE;
  c->round_trips++;
  if (bench_now_ns () >= c->deadline)
    {
      c->done = TRUE;
      return TRUE;
    }
  bench_write_all (c->a, &byte, 1);
  return FALSE;
}

static void
pp_finish (Ctx *c, double *out)
{
  out[0] = (double) (bench_now_ns () - c->start) / c->round_trips / 1e3;
}

/* ---------------------------------------------------------------------- */
/* evloop */

static void nothing (gpointer data) { }
static void evl_b (gpointer data) { pp_b (data); }

static void
evl_a (gpointer data)
{
  Ctx *c = data;

  if (pp_a (c))
    {
      if (c->ml != NULL)
        g_main_loop_quit (c->ml);
      else
        evl_loop_stop (c->loop);
    }
}

static gboolean
run_evl_common (Ctx *c, EvlLoop *loop, GMainContext *context, double *out)
{
  guint i;

  c->loop = loop;
  for (i = 0; i < c->k; i++)
    evl_loop_add_reader (loop, c->idle[i], nothing, NULL, NULL, NULL);
  evl_loop_add_reader (loop, c->a, evl_a, c, NULL, NULL);
  evl_loop_add_reader (loop, c->b, evl_b, c, NULL, NULL);
  if (context != NULL)
    {
      c->ml = g_main_loop_new (context, FALSE);
      evl_loop_attach (loop, context);
    }
  pp_start (c);
  if (context != NULL)
    g_main_loop_run (c->ml);
  else
    evl_loop_run_forever (loop, NULL);
  pp_finish (c, out);
  evl_loop_close (loop, NULL);
  g_object_unref (loop);
  if (context != NULL)
    {
      g_main_loop_unref (c->ml);
      c->ml = NULL;
      g_main_context_unref (context);
    }
  c->loop = NULL;
  return TRUE;
}

static gboolean
run_evl_selector (gpointer ctx, double *out, char **why)
{
  return run_evl_common (ctx, evl_selector_loop_new (NULL), NULL, out);
}

static gboolean
run_evl_proactor (gpointer ctx, double *out, char **why)
{
  GError *error = NULL;
  EvlLoop *loop = evl_proactor_loop_new (&error);

  if (loop == NULL)
    {
      *why = g_strdup (error->message);
      g_error_free (error);
      return FALSE;
    }
  return run_evl_common (ctx, loop, NULL, out);
}

static gboolean
run_evl_attached (gpointer ctx, double *out, char **why)
{
  return run_evl_common (ctx, evl_selector_loop_new (NULL), g_main_context_new (), out);
}

/* ---------------------------------------------------------------------- */
/* GLib */

static gboolean glib_nothing (gint fd, GIOCondition cond, gpointer data) { return G_SOURCE_CONTINUE; }
static gboolean glib_b (gint fd, GIOCondition cond, gpointer data) { pp_b (data); return G_SOURCE_CONTINUE; }

static gboolean
glib_a (gint fd, GIOCondition cond, gpointer data)
{
  Ctx *c = data;

  if (pp_a (c))
    g_main_loop_quit (c->ml);
  return G_SOURCE_CONTINUE;
}

static void
glib_watch (GMainContext *context, int fd, GUnixFDSourceFunc func, gpointer data)
{
  GSource *s = g_unix_fd_source_new (fd, G_IO_IN);

  g_source_set_callback (s, G_SOURCE_FUNC (func), data, NULL);
  g_source_attach (s, context);
  g_source_unref (s);
}

static gboolean
run_glib (gpointer ctx, double *out, char **why)
{
  Ctx *c = ctx;
  GMainContext *context = g_main_context_new ();
  guint i;

  for (i = 0; i < c->k; i++)
    glib_watch (context, c->idle[i], glib_nothing, NULL);
  glib_watch (context, c->a, glib_a, c);
  glib_watch (context, c->b, glib_b, c);
  c->ml = g_main_loop_new (context, FALSE);
  pp_start (c);
  g_main_loop_run (c->ml);
  pp_finish (c, out);
  g_main_loop_unref (c->ml);
  c->ml = NULL;
  g_main_context_unref (context);
  return TRUE;
}

/* ---------------------------------------------------------------------- */
/* libuv */

static void uv_nothing (uv_poll_t *h, int status, int events) { }
static void uv_b (uv_poll_t *h, int status, int events) { pp_b (h->data); }

static void
uv_a (uv_poll_t *h, int status, int events)
{
  if (pp_a (h->data))
    uv_stop (h->loop);
}

static gboolean
run_libuv (gpointer ctx, double *out, char **why)
{
  Ctx *c = ctx;
  uv_loop_t loop;
  uv_poll_t *polls = g_new (uv_poll_t, c->k + 2);
  guint i;

  uv_loop_init (&loop);
  for (i = 0; i < c->k + 2; i++)
    {
      int fd = i < c->k ? c->idle[i] : i == c->k ? c->a : c->b;

      uv_poll_init (&loop, &polls[i], fd);
      polls[i].data = c;
      uv_poll_start (&polls[i], UV_READABLE, i < c->k ? uv_nothing : i == c->k ? uv_a : uv_b);
    }
  pp_start (c);
  uv_run (&loop, UV_RUN_DEFAULT);
  pp_finish (c, out);
  for (i = 0; i < c->k + 2; i++)
    uv_close ((uv_handle_t *) &polls[i], NULL);
  uv_run (&loop, UV_RUN_DEFAULT);
  uv_loop_close (&loop);
  g_free (polls);
  return TRUE;
}

/* ---------------------------------------------------------------------- */
/* libev */

static void ev_nothing (struct ev_loop *l, ev_io *w, int revents) { }
static void ev_b (struct ev_loop *l, ev_io *w, int revents) { pp_b (w->data); }

static void
ev_a (struct ev_loop *l, ev_io *w, int revents)
{
  if (pp_a (w->data))
    ev_break (l, EVBREAK_ALL);
}

static gboolean
run_libev (gpointer ctx, double *out, char **why)
{
  Ctx *c = ctx;
  struct ev_loop *loop = ev_loop_new (EVBACKEND_EPOLL);
  ev_io *ios = g_new (ev_io, c->k + 2);
  guint i;

  for (i = 0; i < c->k + 2; i++)
    {
      int fd = i < c->k ? c->idle[i] : i == c->k ? c->a : c->b;

      ev_io_init (&ios[i], i < c->k ? ev_nothing : i == c->k ? ev_a : ev_b, fd, EV_READ);
      ios[i].data = c;
      ev_io_start (loop, &ios[i]);
    }
  pp_start (c);
  ev_run (loop, 0);
  pp_finish (c, out);
  for (i = 0; i < c->k + 2; i++)
    ev_io_stop (loop, &ios[i]);
  ev_loop_destroy (loop);
  g_free (ios);
  return TRUE;
}

/* ---------------------------------------------------------------------- */
/* raw epoll */

static gboolean
run_raw_epoll (gpointer ctx, double *out, char **why)
{
  Ctx *c = ctx;
  int ep = epoll_create1 (EPOLL_CLOEXEC);
  struct epoll_event ev = { 0 }, events[64];
  guint i;

  for (i = 0; i < c->k + 2; i++)
    {
      int fd = i < c->k ? c->idle[i] : i == c->k ? c->a : c->b;

      ev.events = EPOLLIN;
      ev.data.fd = fd;
      epoll_ctl (ep, EPOLL_CTL_ADD, fd, &ev);
    }
  pp_start (c);
  while (!c->done)
    {
      int n = epoll_wait (ep, events, G_N_ELEMENTS (events), -1), j;

      for (j = 0; j < n; j++)
        {
          if (events[j].data.fd == c->b)
            pp_b (c);
          else if (events[j].data.fd == c->a)
            pp_a (c);
        }
    }
  pp_finish (c, out);
  close (ep);
  return TRUE;
}

/* ---------------------------------------------------------------------- */
/* raw io_uring */

#if BENCH_HAVE_LIBURING
static int
raw_ring_init (struct io_uring *ring, guint entries)
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
      r = io_uring_queue_init_params (entries, ring, &p);
      if (r != -EINVAL)
        break;
    }
  return r;
}

static struct io_uring_sqe *
raw_sqe (struct io_uring *ring)
{
  struct io_uring_sqe *sqe = io_uring_get_sqe (ring);

  if (sqe == NULL)
    {
      io_uring_submit (ring);
      sqe = io_uring_get_sqe (ring);
    }
  return sqe;
}

static void
raw_poll (struct io_uring *ring, int fd)
{
  struct io_uring_sqe *sqe = raw_sqe (ring);

  io_uring_prep_poll_add (sqe, fd, POLLIN);
  io_uring_sqe_set_data64 (sqe, (guint64) fd);
}
#endif

static gboolean
run_raw_uring (gpointer ctx, double *out, char **why)
{
#if BENCH_HAVE_LIBURING
  Ctx *c = ctx;
  struct io_uring ring;
  guint i;
  int r;

  if ((r = raw_ring_init (&ring, 256)) < 0)
    {
      *why = g_strdup_printf ("io_uring: %s", g_strerror (-r));
      return FALSE;
    }
  for (i = 0; i < c->k; i++)
    raw_poll (&ring, c->idle[i]);
  raw_poll (&ring, c->a);
  raw_poll (&ring, c->b);
  io_uring_submit (&ring);
  pp_start (c);
  while (!c->done)
    {
      struct io_uring_cqe *cqe;
      unsigned head, n = 0;

      io_uring_submit_and_wait (&ring, 1);
      io_uring_for_each_cqe (&ring, head, cqe)
        {
          int fd = (int) cqe->user_data;

          n++;
          if (fd == c->b)
            pp_b (c);
          else if (fd == c->a)
            pp_a (c);
          raw_poll (&ring, fd);   /* one-shot: arm again, sent with the next wait */
        }
      io_uring_cq_advance (&ring, n);
    }
  pp_finish (c, out);
  io_uring_queue_exit (&ring);
  return TRUE;
#else
  *why = g_strdup ("built without liburing");
  return FALSE;
#endif
}

/* ---------------------------------------------------------------------- */

int
main (int argc, char *argv[])
{
  static const BenchMetric metrics[] = { { "round_trip", "us/op", FALSE } };
  static const BenchImpl impls[] = {
    { "evl-selector", BENCH_EVL, run_evl_selector },
    { "evl-proactor", BENCH_EVL, run_evl_proactor },
    { "evl-attached", BENCH_EVL, run_evl_attached },
    { "glib", BENCH_PEER, run_glib },
    { "libuv", BENCH_PEER, run_libuv },
    { "libev", BENCH_PEER, run_libev },
    { "raw-epoll", BENCH_FLOOR, run_raw_epoll },
    { "raw-io_uring", BENCH_FLOOR, run_raw_uring },
  };
  char *k_list = NULL;
  GOptionEntry extra[] = {
    { "k", 'k', 0, G_OPTION_ARG_STRING, &k_list, "Idle socketpairs (comma-separated list)", "LIST" },
    { NULL }
  };
  char **ks;
  guint limit, max_k, i, j;
  Ctx c = { 0 };

  bench_init (&argc, &argv, "- scenario 3: wakeup cost with K idle fds", extra);
  if (k_list == NULL)
    k_list = g_strdup (bench_opts.smoke ? "100,1000" : "100,1000,10000");
  ks = g_strsplit (k_list, ",", -1);
  c.seconds = bench_seconds (0.3);

  /* Each idle pair costs two fds; keep 64 for the loops, GLib, stdio. */
  limit = bench_raise_nofile ();
  max_k = limit > 128 ? (limit - 64) / 2 - 1 : 1;

  {
    int ab[2];

    bench_socketpair (ab);
    c.a = ab[0];
    c.b = ab[1];
  }
  for (i = 0; ks[i] != NULL; i++)
    {
      guint want = (guint) g_ascii_strtoull (ks[i], NULL, 10);
      guint k = MIN (want, max_k);
      int *others;
      char params[64];

      if (want == 0)
        continue;
      if (k < want)
        printf ("# fd-scaling: K=%u does not fit in %u open files; using K=%u\n", want, limit, k);
      c.k = k;
      c.idle = g_new (int, k);
      others = g_new (int, k);
      for (j = 0; j < k; j++)
        {
          int fds[2];

          bench_socketpair (fds);
          c.idle[j] = fds[0];
          others[j] = fds[1];
        }
      g_snprintf (params, sizeof params, "k=%u k_asked=%u", k, want);
      bench_run ("fd-scaling", params, metrics, G_N_ELEMENTS (metrics), impls, G_N_ELEMENTS (impls), &c);
      for (j = 0; j < k; j++)
        {
          close (c.idle[j]);
          close (others[j]);
        }
      g_free (c.idle);
      g_free (others);
    }
  g_strfreev (ks);
  g_free (k_list);
  return 0;
}
