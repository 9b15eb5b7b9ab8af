/* bridge-overhead.c: what the GLib bridges cost
 *
 * A TCP ping-pong of 64-byte messages over loopback, both ends on one
 * loop, counted in round trips per second:
 *
 *   standalone  the loop alone (evl_loop_run_forever)
 *   attached    evloop inside GLib: the loop's GSource in a fresh
 *               GMainContext run by g_main_loop_run()
 *   driving     GLib inside evloop: the loop drives a fresh GMainContext
 *               (with one idle GLib fd watch in it) while it runs
 *   glib        for reference, the same ping-pong on GLib alone
 *               (g_unix_fd_add in a GMainContext run by g_main_loop_run)
 *
 * each for the selector loop (evl-selector, evl-selector-attached,
 * evl-selector-driving) and the proactor loop (evl-proactor, ...), once
 * with no other fd and once with 1000 idle socketpair ends watched too
 * (--idle-fds=N: only N). Scenario 7 of bench/: one BENCH line per
 * (idle fds, implementation); see bench-common.h.
 *
 * EVL_SELECTOR=poll|select picks the selector.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#define _GNU_SOURCE  /* accept4 */

#include "bench-common.h"

#include <evloop-glib/evloop-glib.h>
#include <glib-unix.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MSG_SIZE 64

typedef struct
{
  int     fd;
  guint8  buf[MSG_SIZE];
  gsize   have;
} End;

typedef struct
{
  End        client;
  End        server;
  guint64    round_trips;
  gboolean   done;
  EvlLoop   *loop;
  GMainLoop *ml;
} PingPong;

static void
set_nonblocking (int fd)
{
  int one = 1;

  fcntl (fd, F_SETFL, fcntl (fd, F_GETFL) | O_NONBLOCK);
  setsockopt (fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/* A connected pair of TCP sockets over loopback. */
static void
tcp_pair (int *a,
          int *b)
{
  struct sockaddr_in addr = { 0 };
  socklen_t len = sizeof addr;
  int listener = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  if (listener < 0 || bind (listener, (struct sockaddr *) &addr, sizeof addr) < 0 ||
      listen (listener, 1) < 0 || getsockname (listener, (struct sockaddr *) &addr, &len) < 0)
    g_error ("cannot listen on loopback: %s", g_strerror (errno));
  *a = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (*a < 0 || connect (*a, (struct sockaddr *) &addr, sizeof addr) < 0)
    g_error ("cannot connect on loopback: %s", g_strerror (errno));
  *b = accept4 (listener, NULL, NULL, SOCK_CLOEXEC);
  if (*b < 0)
    g_error ("cannot accept on loopback: %s", g_strerror (errno));
  close (listener);
  set_nonblocking (*a);
  set_nonblocking (*b);
}

/* Reads what is there; TRUE once a whole message is in. */
static gboolean
end_read (End *end)
{
  while (end->have < MSG_SIZE)
    {
      gssize n = read (end->fd, end->buf + end->have, MSG_SIZE - end->have);

      if (n <= 0)
        {
          if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return FALSE;
          g_error ("ping-pong connection lost: %s", n == 0 ? "EOF" : g_strerror (errno));
        }
      end->have += (gsize) n;
    }
  end->have = 0;
  return TRUE;
}

static void
end_send (End *end)
{
  /* 64 bytes always fit in an empty loopback socket buffer. */
  if (write (end->fd, end->buf, MSG_SIZE) != MSG_SIZE)
    g_error ("short write: %s", g_strerror (errno));
}

static void
server_ready (PingPong *pp)
{
  if (end_read (&pp->server))
    end_send (&pp->server);
}

static void
client_ready (PingPong *pp)
{
  if (!end_read (&pp->client))
    return;
  pp->round_trips++;
  if (!pp->done)
    end_send (&pp->client);
}

/* evloop callbacks */
static void server_cb (gpointer data) { server_ready (data); }
static void client_cb (gpointer data) { client_ready (data); }

static void
deadline_cb (gpointer data)
{
  PingPong *pp = data;

  pp->done = TRUE;
  if (pp->ml != NULL)
    g_main_loop_quit (pp->ml);
  else
    evl_loop_stop (pp->loop);
}

/* GLib callbacks */
static gboolean
glib_server_cb (gint fd, GIOCondition cond, gpointer data)
{
  server_ready (data);
  return G_SOURCE_CONTINUE;
}

static gboolean
glib_client_cb (gint fd, GIOCondition cond, gpointer data)
{
  client_ready (data);
  return G_SOURCE_CONTINUE;
}

static gboolean
glib_deadline_cb (gpointer data)
{
  PingPong *pp = data;

  pp->done = TRUE;
  g_main_loop_quit (pp->ml);
  return G_SOURCE_REMOVE;
}

static gboolean
glib_idle_fd_cb (gint fd, GIOCondition cond, gpointer data)
{
  return G_SOURCE_CONTINUE;
}

static void
nothing_cb (gpointer data)
{
}

typedef enum
{
  MODE_STANDALONE,
  MODE_ATTACHED,
  MODE_DRIVING,
  MODE_GLIB,
} Mode;

typedef struct
{
  double  seconds;
  guint   n_idle;
  int    *idle_fds;
} Ctx;

static EvlLoop *
new_loop (gboolean proactor, GMainContext *context, char **why)
{
  GError *error = NULL;
  EvlLoop *loop;

  if (!proactor)
    return g_object_new (EVL_TYPE_SELECTOR_LOOP, "context", context, NULL);
  loop = g_initable_new (EVL_TYPE_PROACTOR_LOOP, NULL, &error, "context", context, NULL);
  if (loop == NULL)
    {
      *why = g_strdup (error->message);
      g_error_free (error);
    }
  return loop;
}

static gboolean
run_mode (Mode      mode,
          gboolean  proactor,
          Ctx      *ctx,
          double   *out,
          char    **why)
{
  PingPong pp = { { -1 }, { -1 }, 0 };
  GMainContext *context = NULL;
  EvlLoop *loop = NULL;
  GError *error = NULL;
  GSource *idle_watch = NULL;
  int glib_pair[2] = { -1, -1 };
  gint64 start, end;
  guint i;

  if (mode != MODE_STANDALONE)
    context = g_main_context_new ();
  if (mode != MODE_GLIB)
    {
      loop = new_loop (proactor, mode == MODE_DRIVING ? context : NULL, why);
      if (loop == NULL)
        {
          g_clear_pointer (&context, g_main_context_unref);
          return FALSE;
        }
    }
  tcp_pair (&pp.client.fd, &pp.server.fd);
  memset (pp.client.buf, 'p', MSG_SIZE);

  if (mode != MODE_GLIB)
    {
      pp.loop = loop;
      evl_loop_add_reader (loop, pp.server.fd, server_cb, &pp, NULL, &error);
      g_assert_no_error (error);
      evl_loop_add_reader (loop, pp.client.fd, client_cb, &pp, NULL, &error);
      g_assert_no_error (error);
      for (i = 0; i < ctx->n_idle; i++)
        {
          evl_loop_add_reader (loop, ctx->idle_fds[i], nothing_cb, NULL, NULL, &error);
          g_assert_no_error (error);
        }
      evl_loop_call_later (loop, ctx->seconds, deadline_cb, &pp, NULL);
      if (mode == MODE_ATTACHED)
        {
          pp.ml = g_main_loop_new (context, FALSE);
          evl_loop_attach (loop, context);
        }
      if (mode == MODE_DRIVING)
        {
          /* Something for GLib to poll, as a GTK application would have. */
          if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, glib_pair) < 0)
            g_error ("socketpair: %s", g_strerror (errno));
          idle_watch = g_unix_fd_source_new (glib_pair[0], G_IO_IN);
          g_source_set_callback (idle_watch, G_SOURCE_FUNC (glib_idle_fd_cb), NULL, NULL);
          g_source_attach (idle_watch, context);
        }
    }
  else
    {
      GSource *s;

      pp.ml = g_main_loop_new (context, FALSE);
      s = g_unix_fd_source_new (pp.server.fd, G_IO_IN);
      g_source_set_callback (s, G_SOURCE_FUNC (glib_server_cb), &pp, NULL);
      g_source_attach (s, context);
      g_source_unref (s);
      s = g_unix_fd_source_new (pp.client.fd, G_IO_IN);
      g_source_set_callback (s, G_SOURCE_FUNC (glib_client_cb), &pp, NULL);
      g_source_attach (s, context);
      g_source_unref (s);
      for (i = 0; i < ctx->n_idle; i++)
        {
          s = g_unix_fd_source_new (ctx->idle_fds[i], G_IO_IN);
          g_source_set_callback (s, G_SOURCE_FUNC (glib_idle_fd_cb), NULL, NULL);
          g_source_attach (s, context);
          g_source_unref (s);
        }
      s = g_timeout_source_new ((guint) (ctx->seconds * 1000));
      g_source_set_callback (s, glib_deadline_cb, &pp, NULL);
      g_source_attach (s, context);
      g_source_unref (s);
    }

  start = g_get_monotonic_time ();
  end_send (&pp.client);
  if (mode == MODE_STANDALONE || mode == MODE_DRIVING)
    {
      evl_loop_run_forever (loop, &error);
      g_assert_no_error (error);
    }
  else
    g_main_loop_run (pp.ml);
  end = g_get_monotonic_time ();
  out[0] = pp.round_trips / ((end - start) / 1e6);

  if (idle_watch != NULL)
    {
      g_source_destroy (idle_watch);
      g_source_unref (idle_watch);
      close (glib_pair[0]);
      close (glib_pair[1]);
    }
  if (loop != NULL)
    {
      evl_loop_close (loop, NULL);
      g_object_unref (loop);
    }
  g_clear_pointer (&pp.ml, g_main_loop_unref);
  g_clear_pointer (&context, g_main_context_unref);
  close (pp.client.fd);
  close (pp.server.fd);
  return TRUE;
}

static gboolean sel_standalone (gpointer c, double *o, char **w) { return run_mode (MODE_STANDALONE, FALSE, c, o, w); }
static gboolean sel_attached (gpointer c, double *o, char **w) { return run_mode (MODE_ATTACHED, FALSE, c, o, w); }
static gboolean sel_driving (gpointer c, double *o, char **w) { return run_mode (MODE_DRIVING, FALSE, c, o, w); }
static gboolean pro_standalone (gpointer c, double *o, char **w) { return run_mode (MODE_STANDALONE, TRUE, c, o, w); }
static gboolean pro_attached (gpointer c, double *o, char **w) { return run_mode (MODE_ATTACHED, TRUE, c, o, w); }
static gboolean pro_driving (gpointer c, double *o, char **w) { return run_mode (MODE_DRIVING, TRUE, c, o, w); }
static gboolean glib_alone (gpointer c, double *o, char **w) { return run_mode (MODE_GLIB, FALSE, c, o, w); }

int
main (int   argc,
      char *argv[])
{
  static const BenchMetric metrics[] = { { "round_trips", "rt/s", TRUE } };
  static const BenchImpl impls[] = {
    { "evl-selector", BENCH_EVL, sel_standalone },
    { "evl-selector-attached", BENCH_EVL, sel_attached },
    { "evl-selector-driving", BENCH_EVL, sel_driving },
    { "evl-proactor", BENCH_EVL, pro_standalone },
    { "evl-proactor-attached", BENCH_EVL, pro_attached },
    { "evl-proactor-driving", BENCH_EVL, pro_driving },
    { "glib", BENCH_PEER, glib_alone },
  };
  double seconds = 0;
  int idle = -1;
  GOptionEntry entries[] = {
    { "seconds", 's', 0, G_OPTION_ARG_DOUBLE, &seconds, "Seconds per measurement (default 0.5)", "S" },
    { "idle-fds", 0, 0, G_OPTION_ARG_INT, &idle, "Idle fds watched besides the ping-pong (default: 0, then 1000)", "N" },
    { NULL }
  };
  int counts[2] = { 0, 1000 };
  guint n_counts = 2, c, i;
  Ctx ctx = { 0 };
  const char *sel = g_getenv ("EVL_SELECTOR");

  bench_init (&argc, &argv, "- scenario 7: cost of the GLib bridges", entries);
  ctx.seconds = seconds > 0 ? seconds : bench_seconds (0.5);
  if (idle >= 0)
    {
      counts[0] = idle;
      n_counts = 1;
    }
  bench_raise_nofile ();
  for (c = 0; c < n_counts; c++)
    {
      char params[96];

      ctx.n_idle = (guint) counts[c];
      ctx.idle_fds = g_new (int, 2 * MAX (ctx.n_idle, 1));
      for (i = 0; i < ctx.n_idle; i++)
        if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, &ctx.idle_fds[2 * i]) < 0)
          g_error ("socketpair: %s", g_strerror (errno));
      /* Watch one end of each pair. */
      for (i = 0; i < ctx.n_idle; i++)
        ctx.idle_fds[i] = ctx.idle_fds[2 * i];
      g_snprintf (params, sizeof params, "idle_fds=%u selector=%s", ctx.n_idle,
                  sel != NULL && *sel != '\0' ? sel : "default");
      bench_run ("bridge-overhead", params, metrics, G_N_ELEMENTS (metrics), impls, G_N_ELEMENTS (impls), &ctx);
      g_free (ctx.idle_fds);  /* the idle sockets stay open until exit */
    }
  return 0;
}
