/* cross-thread.c: scenario 5, callbacks posted from other threads
 *
 * Two producer threads each post 500 000 callbacks (--quick: 100 000) to
 * a loop that runs in the main thread, as fast as they can. Figures:
 * callbacks per second (from the producers' start to the last callback),
 * the wakeup writes the producers made (counted by the kernel: the
 * write-syscall counter, syscw, of each producer thread in
 * /proc/thread-self/io; producers make no other writes), and callbacks
 * per wakeup.
 *
 *   evl-selector  evl_loop_call_soon_threadsafe on an EvlSelectorLoop
 *   evl-proactor  the same on an EvlProactorLoop
 *   evl-attached  the EvlSelectorLoop attached to a GMainContext run by
 *                 g_main_loop_run
 *   glib          g_main_context_invoke() on a context a GMainLoop runs
 *   libuv         a mutex-protected queue and uv_async_send()
 *   libev         a mutex-protected queue and ev_async_send()
 *   raw-queue     floor: a mutex-protected queue, an eventfd written only
 *                 when the consumer is not already due to look, epoll
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
#include <sys/eventfd.h>
#include <unistd.h>
#include <uv.h>

#define N_PRODUCERS 2

static guint per_producer = 500000;

typedef struct _Ctx Ctx;
typedef void (*PostFunc) (Ctx *c);

struct _Ctx
{
  guint      total;
  guint      count;        /* consumer thread only */
  gint       go;           /* producers wait for it */
  gint       ready;
  guint64    writes[N_PRODUCERS];
  gint64     start, end;
  PostFunc   post;
  gpointer   impl;         /* the implementation's state */
  void     (*stop) (Ctx *c);
};

static guint64
syscw (void)
{
  char *contents = NULL, *p;
  guint64 v = 0;

  if (g_file_get_contents ("/proc/thread-self/io", &contents, NULL, NULL) &&
      (p = strstr (contents, "syscw:")) != NULL)
    v = g_ascii_strtoull (p + strlen ("syscw:"), NULL, 10);
  g_free (contents);
  return v;
}

typedef struct
{
  Ctx  *c;
  guint index;
} Producer;

static gpointer
producer_thread (gpointer data)
{
  Producer *p = data;
  Ctx *c = p->c;
  guint64 before;
  guint i;

  before = syscw ();
  g_atomic_int_inc (&c->ready);
  while (!g_atomic_int_get (&c->go))
    ;
  for (i = 0; i < per_producer; i++)
    c->post (c);
  c->writes[p->index] = syscw () - before;
  return NULL;
}

/* The consumer's callback. */
static inline void
consumed (Ctx *c)
{
  if (++c->count == c->total)
    {
      c->end = bench_now_ns ();
      c->stop (c);
    }
}

/* Starts the producers once the loop runs (called from the loop). */
static GThread *threads[N_PRODUCERS];
static Producer producers[N_PRODUCERS];

static void
start_producers (Ctx *c)
{
  guint i;

  c->count = 0;
  c->go = 0;
  c->ready = 0;
  c->total = per_producer * N_PRODUCERS;
  for (i = 0; i < N_PRODUCERS; i++)
    {
      producers[i].c = c;
      producers[i].index = i;
      threads[i] = g_thread_new ("producer", producer_thread, &producers[i]);
    }
  while (g_atomic_int_get (&c->ready) < N_PRODUCERS)
    g_thread_yield ();
  c->start = bench_now_ns ();
  g_atomic_int_set (&c->go, 1);
}

static void
finish (Ctx *c, double *out)
{
  guint64 writes = 0;
  guint i;

  for (i = 0; i < N_PRODUCERS; i++)
    {
      g_thread_join (threads[i]);
      writes += c->writes[i];
    }
  out[0] = c->total / ((c->end - c->start) / 1e9) / 1e6;
  out[1] = (double) writes;
  out[2] = writes > 0 ? (double) c->total / writes : (double) c->total;
}

/* ---------------------------------------------------------------------- */
/* evloop */

typedef struct
{
  EvlLoop   *loop;
  GMainLoop *ml;
} EvlImpl;

static void
evl_cb (gpointer data)
{
  consumed (data);
}

static void
evl_post (Ctx *c)
{
  EvlImpl *e = c->impl;

  evl_handle_unref (evl_loop_call_soon_threadsafe (e->loop, evl_cb, c, NULL));
}

static void
evl_stop (Ctx *c)
{
  EvlImpl *e = c->impl;

  if (e->ml != NULL)
    g_main_loop_quit (e->ml);
  else
    evl_loop_stop (e->loop);
}

static void
evl_begin (gpointer data)
{
  start_producers (data);
}

static gboolean
run_evl_common (Ctx *c, EvlLoop *loop, GMainContext *context, double *out)
{
  EvlImpl e = { loop, NULL };

  c->impl = &e;
  c->post = evl_post;
  c->stop = evl_stop;
  evl_loop_call_soon (loop, evl_begin, c, NULL);
  if (context != NULL)
    {
      e.ml = g_main_loop_new (context, FALSE);
      evl_loop_attach (loop, context);
      g_main_loop_run (e.ml);
    }
  else
    evl_loop_run_forever (loop, NULL);
  finish (c, out);
  evl_loop_close (loop, NULL);
  g_object_unref (loop);
  if (context != NULL)
    {
      g_main_loop_unref (e.ml);
      g_main_context_unref (context);
    }
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

typedef struct
{
  GMainContext *context;
  GMainLoop    *ml;
} GlibImpl;

static gboolean
glib_cb (gpointer data)
{
  consumed (data);
  return G_SOURCE_REMOVE;
}

static void
glib_post (Ctx *c)
{
  GlibImpl *g = c->impl;

  g_main_context_invoke (g->context, glib_cb, c);
}

static void
glib_stop (Ctx *c)
{
  g_main_loop_quit (((GlibImpl *) c->impl)->ml);
}

static gboolean
glib_begin (gpointer data)
{
  start_producers (data);
  return G_SOURCE_REMOVE;
}

static gboolean
run_glib (gpointer ctx, double *out, char **why)
{
  Ctx *c = ctx;
  GlibImpl g;
  GSource *s;

  g.context = g_main_context_new ();
  g.ml = g_main_loop_new (g.context, FALSE);
  c->impl = &g;
  c->post = glib_post;
  c->stop = glib_stop;
  s = g_idle_source_new ();
  g_source_set_callback (s, glib_begin, c, NULL);
  g_source_attach (s, g.context);
  g_source_unref (s);
  g_main_loop_run (g.ml);
  finish (c, out);
  g_main_loop_unref (g.ml);
  g_main_context_unref (g.context);
  return TRUE;
}

/* ---------------------------------------------------------------------- */
/* a locked queue, for libuv, libev and the floor */

typedef struct
{
  GMutex     lock;
  Ctx      **items;
  guint      len, cap;
  Ctx      **spare;     /* swapped in by the consumer */
  guint      spare_cap;
} Queue;

static void
queue_init (Queue *q)
{
  memset (q, 0, sizeof *q);
  g_mutex_init (&q->lock);
}

static void
queue_clear (Queue *q)
{
  g_mutex_clear (&q->lock);
  g_free (q->items);
  g_free (q->spare);
}

/* Returns TRUE when the queue was empty. */
static inline gboolean
queue_push (Queue *q, Ctx *c)
{
  gboolean was_empty;

  g_mutex_lock (&q->lock);
  if (q->len == q->cap)
    {
      q->cap = MAX (1024, q->cap * 2);
      q->items = g_renew (Ctx *, q->items, q->cap);
    }
  was_empty = q->len == 0;
  q->items[q->len++] = c;
  g_mutex_unlock (&q->lock);
  return was_empty;
}

static void
queue_drain (Queue *q)
{
  Ctx **items;
  guint len, cap, i;

  g_mutex_lock (&q->lock);
  items = q->items;
  len = q->len;
  cap = q->cap;
  q->items = q->spare;
  q->cap = q->spare_cap;
  q->len = 0;
  g_mutex_unlock (&q->lock);
  for (i = 0; i < len; i++)
    consumed (items[i]);
  q->spare = items;
  q->spare_cap = cap;
}

/* ---------------------------------------------------------------------- */
/* libuv */

typedef struct
{
  uv_loop_t  loop;
  uv_async_t async;
  uv_idle_t  begin;
  Queue      q;
} UvImpl;

static void
uv_post (Ctx *c)
{
  UvImpl *u = c->impl;

  queue_push (&u->q, c);
  uv_async_send (&u->async);   /* coalesces: writes only if none is pending */
}

static void
uv_drain_async (uv_async_t *a)
{
  queue_drain (&((UvImpl *) a->data)->q);
}

static void
uv_stop_cb (Ctx *c)
{
  uv_stop (&((UvImpl *) c->impl)->loop);
}

static void
uv_begin_cb (uv_idle_t *idle)
{
  uv_idle_stop (idle);
  start_producers (idle->data);
}

static gboolean
run_libuv (gpointer ctx, double *out, char **why)
{
  Ctx *c = ctx;
  UvImpl *u = g_new0 (UvImpl, 1);

  queue_init (&u->q);
  uv_loop_init (&u->loop);
  uv_async_init (&u->loop, &u->async, uv_drain_async);
  u->async.data = u;
  uv_idle_init (&u->loop, &u->begin);
  u->begin.data = c;
  uv_idle_start (&u->begin, uv_begin_cb);
  c->impl = u;
  c->post = uv_post;
  c->stop = uv_stop_cb;
  uv_run (&u->loop, UV_RUN_DEFAULT);
  finish (c, out);
  uv_close ((uv_handle_t *) &u->async, NULL);
  uv_close ((uv_handle_t *) &u->begin, NULL);
  uv_run (&u->loop, UV_RUN_DEFAULT);
  uv_loop_close (&u->loop);
  queue_clear (&u->q);
  g_free (u);
  return TRUE;
}

/* ---------------------------------------------------------------------- */
/* libev */

typedef struct
{
  struct ev_loop *loop;
  ev_async        async;
  ev_idle         begin;
  Queue           q;
  Ctx            *c;
} EvImpl;

static void
ev_post (Ctx *c)
{
  EvImpl *e = c->impl;

  queue_push (&e->q, c);
  ev_async_send (e->loop, &e->async);   /* coalesces as well */
}

static void
ev_drain_async (struct ev_loop *loop, ev_async *w, int revents)
{
  queue_drain (&((EvImpl *) w->data)->q);
}

static void
ev_stop_cb (Ctx *c)
{
  ev_break (((EvImpl *) c->impl)->loop, EVBREAK_ALL);
}

static void
ev_begin_cb (struct ev_loop *loop, ev_idle *w, int revents)
{
  ev_idle_stop (loop, w);
  start_producers (w->data);
}

static gboolean
run_libev (gpointer ctx, double *out, char **why)
{
  Ctx *c = ctx;
  EvImpl *e = g_new0 (EvImpl, 1);

  queue_init (&e->q);
  e->loop = ev_loop_new (EVBACKEND_EPOLL);
  ev_async_init (&e->async, ev_drain_async);
  e->async.data = e;
  ev_async_start (e->loop, &e->async);
  ev_idle_init (&e->begin, ev_begin_cb);
  e->begin.data = c;
  ev_idle_start (e->loop, &e->begin);
  c->impl = e;
  c->post = ev_post;
  c->stop = ev_stop_cb;
  ev_run (e->loop, 0);
  finish (c, out);
  ev_async_stop (e->loop, &e->async);
  ev_loop_destroy (e->loop);
  queue_clear (&e->q);
  g_free (e);
  return TRUE;
}

/* ---------------------------------------------------------------------- */
/* the floor */

typedef struct
{
  Queue     q;
  int       efd;
  gint      pending;
  gboolean  stop;
} RawImpl;

static void
raw_post (Ctx *c)
{
  RawImpl *r = c->impl;
  guint64 one = 1;

  queue_push (&r->q, c);
  if (g_atomic_int_get (&r->pending) == 0 && g_atomic_int_compare_and_exchange (&r->pending, 0, 1))
    if (write (r->efd, &one, sizeof one) < 0)
      g_error ("eventfd write");
}

static void
raw_stop (Ctx *c)
{
  ((RawImpl *) c->impl)->stop = TRUE;
}

static gboolean
run_raw_queue (gpointer ctx, double *out, char **why)
{
  Ctx *c = ctx;
  RawImpl r = { { { 0 } } };
  struct epoll_event ev = { 0 }, events[4];
  int ep = epoll_create1 (EPOLL_CLOEXEC);

  queue_init (&r.q);
  r.efd = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);
  ev.events = EPOLLIN;
  epoll_ctl (ep, EPOLL_CTL_ADD, r.efd, &ev);
  c->impl = &r;
  c->post = raw_post;
  c->stop = raw_stop;
  start_producers (c);
  while (!r.stop)
    {
      guint64 v;

      if (epoll_wait (ep, events, G_N_ELEMENTS (events), -1) <= 0)
        continue;
      if (read (r.efd, &v, sizeof v) < 0)
        continue;
      g_atomic_int_set (&r.pending, 0);
      queue_drain (&r.q);
    }
  finish (c, out);
  close (ep);
  close (r.efd);
  queue_clear (&r.q);
  return TRUE;
}

int
main (int argc, char *argv[])
{
  static const BenchMetric metrics[] = {
    { "callbacks_per_s", "M/s", TRUE },
    { "wakeup_writes", "writes", FALSE },
    { "callbacks_per_wakeup", "cb/wakeup", TRUE },
  };
  static const BenchImpl impls[] = {
    { "evl-selector", BENCH_EVL, run_evl_selector },
    { "evl-proactor", BENCH_EVL, run_evl_proactor },
    { "evl-attached", BENCH_EVL, run_evl_attached },
    { "glib", BENCH_PEER, run_glib },
    { "libuv", BENCH_PEER, run_libuv },
    { "libev", BENCH_PEER, run_libev },
    { "raw-queue", BENCH_FLOOR, run_raw_queue },
  };
  Ctx c = { 0 };
  char params[64];

  bench_init (&argc, &argv, "- scenario 5: cross-thread posts", NULL);
  if (bench_opts.quick)
    per_producer = bench_opts.smoke ? 5000 : 100000;
  g_snprintf (params, sizeof params, "producers=%u posts_each=%u", N_PRODUCERS, per_producer);
  bench_run ("cross-thread", params, metrics, G_N_ELEMENTS (metrics), impls, G_N_ELEMENTS (impls), &c);
  return 0;
}
