/* callbacks.c: scenario 1, queued callbacks
 *
 * N callbacks (1 000 000; --quick: 200 000) are scheduled, then the loop
 * runs them all; the figure is the time from the first schedule to the
 * last callback, per callback (scheduling included). Each run does this
 * twice on the same loop and times the second round: the cost of a
 * callback in a loop that has been running, without the first touch of
 * fresh memory (page faults), which every implementation pays once.
 *
 *   c-array       floor: a plain C array of (function, data) pairs
 *   evl-selector  evl_loop_call_soon on an EvlSelectorLoop, run_forever
 *   evl-proactor  the same on an EvlProactorLoop
 *   evl-attached  an EvlSelectorLoop attached to a GMainContext that
 *                 g_main_context_iteration() drives
 *   glib          one g_idle_add()-style GSource per callback
 *   libev         one ev_idle watcher per callback, stopped when it runs
 *   libuv         a queue of (function, data) drained by one uv_idle_t
 *                 (libuv has no call_soon: what libuv users write)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "bench-common.h"

#include <evloop-glib/evloop-glib.h>
#include <ev.h>
#include <stdio.h>
#include <string.h>
#include <uv.h>

static guint n_callbacks = 1000000;
static volatile guint count;

typedef void (*Fn) (gpointer data);

static void __attribute__ ((noinline))
count_cb (gpointer data)
{
  count++;
}

static double
per_op (gint64 start)
{
  return (double) (bench_now_ns () - start) / n_callbacks;
}

/* ---------------------------------------------------------------------- */

typedef struct
{
  Fn       fn;
  gpointer data;
} Item;

static gboolean
run_c_array (gpointer ctx, double *out, char **why)
{
  Item *items = g_new (Item, n_callbacks);
  gint64 start;
  guint i;

  for (int round = 0; round < 2; round++)
    {
      count = 0;
      start = bench_now_ns ();
      for (i = 0; i < n_callbacks; i++)
        {
          items[i].fn = count_cb;
          items[i].data = NULL;
        }
      for (i = 0; i < n_callbacks; i++)
        items[i].fn (items[i].data);
      out[0] = per_op (start);
      g_assert (count == n_callbacks);
    }
  g_free (items);
  return TRUE;
}

/* ---------------------------------------------------------------------- */

static gboolean
run_evl (EvlLoop *loop, double *out)
{
  gint64 start;
  guint i;

  for (int round = 0; round < 2; round++)
    {
      count = 0;
      start = bench_now_ns ();
      for (i = 0; i < n_callbacks; i++)
        evl_loop_call_soon (loop, count_cb, NULL, NULL);
      evl_loop_stop (loop);  /* stop before run: one iteration, all of them */
      evl_loop_run_forever (loop, NULL);
      out[0] = per_op (start);
      g_assert (count == n_callbacks);
    }
  evl_loop_close (loop, NULL);
  g_object_unref (loop);
  return TRUE;
}

static gboolean
run_evl_selector (gpointer ctx, double *out, char **why)
{
  return run_evl (evl_selector_loop_new (NULL), out);
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
  return run_evl (loop, out);
}

static gboolean
run_evl_attached (gpointer ctx, double *out, char **why)
{
  GMainContext *context = g_main_context_new ();
  EvlLoop *loop = evl_selector_loop_new (NULL);
  gint64 start;
  guint i;

  evl_loop_attach (loop, context);
  for (int round = 0; round < 2; round++)
    {
      count = 0;
      start = bench_now_ns ();
      for (i = 0; i < n_callbacks; i++)
        evl_loop_call_soon (loop, count_cb, NULL, NULL);
      while (count < n_callbacks)
        g_main_context_iteration (context, TRUE);
      out[0] = per_op (start);
    }
  evl_loop_close (loop, NULL);
  g_object_unref (loop);
  g_main_context_unref (context);
  return TRUE;
}

/* ---------------------------------------------------------------------- */

static gboolean
glib_idle_cb (gpointer data)
{
  count++;
  return G_SOURCE_REMOVE;
}

static gboolean
run_glib (gpointer ctx, double *out, char **why)
{
  GMainContext *context = g_main_context_new ();
  gint64 start;
  guint i;

  for (int round = 0; round < 2; round++)
    {
      count = 0;
      start = bench_now_ns ();
      /* g_idle_add() on our own context */
      for (i = 0; i < n_callbacks; i++)
        {
          GSource *s = g_idle_source_new ();

          g_source_set_callback (s, glib_idle_cb, NULL, NULL);
          g_source_attach (s, context);
          g_source_unref (s);
        }
      while (count < n_callbacks)
        g_main_context_iteration (context, TRUE);
      out[0] = per_op (start);
    }
  g_main_context_unref (context);
  return TRUE;
}

/* ---------------------------------------------------------------------- */

static void
ev_idle_cb (struct ev_loop *loop, ev_idle *w, int revents)
{
  count++;
  ev_idle_stop (loop, w);
}

static gboolean
run_libev (gpointer ctx, double *out, char **why)
{
  struct ev_loop *loop = ev_loop_new (EVBACKEND_EPOLL);
  ev_idle *idles = g_new (ev_idle, n_callbacks);
  gint64 start;
  guint i;

  for (int round = 0; round < 2; round++)
    {
      count = 0;
      start = bench_now_ns ();
      for (i = 0; i < n_callbacks; i++)
        {
          ev_idle_init (&idles[i], ev_idle_cb);
          ev_idle_start (loop, &idles[i]);
        }
      ev_run (loop, 0);  /* returns when no watcher is active */
      out[0] = per_op (start);
      g_assert (count == n_callbacks);
    }
  ev_loop_destroy (loop);
  g_free (idles);
  return TRUE;
}

/* ---------------------------------------------------------------------- */

typedef struct
{
  uv_idle_t  idle;
  Item      *items;
  guint      len, cap;
} UvQueue;

static void
uv_drain_cb (uv_idle_t *idle)
{
  UvQueue *q = idle->data;
  guint n = q->len, i;

  /* a snapshot: what these callbacks queue waits for the next round */
  for (i = 0; i < n; i++)
    q->items[i].fn (q->items[i].data);
  memmove (q->items, q->items + n, (q->len - n) * sizeof (Item));
  q->len -= n;
  if (q->len == 0)
    uv_idle_stop (idle);
}

static inline void
uv_call_soon (UvQueue *q, Fn fn, gpointer data)
{
  if (q->len == q->cap)
    {
      q->cap = MAX (256, q->cap * 2);
      q->items = g_renew (Item, q->items, q->cap);
    }
  q->items[q->len].fn = fn;
  q->items[q->len].data = data;
  if (q->len++ == 0)
    uv_idle_start (&q->idle, uv_drain_cb);
}

static gboolean
run_libuv (gpointer ctx, double *out, char **why)
{
  uv_loop_t loop;
  UvQueue q = { { 0 } };
  gint64 start;
  guint i;

  uv_loop_init (&loop);
  uv_idle_init (&loop, &q.idle);
  q.idle.data = &q;
  for (int round = 0; round < 2; round++)
    {
      count = 0;
      start = bench_now_ns ();
      for (i = 0; i < n_callbacks; i++)
        uv_call_soon (&q, count_cb, NULL);
      uv_run (&loop, UV_RUN_DEFAULT);
      out[0] = per_op (start);
      g_assert (count == n_callbacks);
    }
  uv_close ((uv_handle_t *) &q.idle, NULL);
  uv_run (&loop, UV_RUN_DEFAULT);
  uv_loop_close (&loop);
  g_free (q.items);
  return TRUE;
}

int
main (int argc, char *argv[])
{
  static const BenchMetric metrics[] = { { "per_callback", "ns/op", FALSE } };
  static const BenchImpl impls[] = {
    { "c-array", BENCH_FLOOR, run_c_array },
    { "evl-selector", BENCH_EVL, run_evl_selector },
    { "evl-proactor", BENCH_EVL, run_evl_proactor },
    { "evl-attached", BENCH_EVL, run_evl_attached },
    { "glib", BENCH_PEER, run_glib },
    { "libev", BENCH_PEER, run_libev },
    { "libuv", BENCH_PEER, run_libuv },
  };
  char params[64];

  bench_init (&argc, &argv, "- scenario 1: queued callbacks", NULL);
  if (bench_opts.quick)
    n_callbacks = bench_opts.smoke ? 10000 : 200000;
  g_snprintf (params, sizeof params, "n=%u", n_callbacks);
  bench_run ("callbacks", params, metrics, G_N_ELEMENTS (metrics), impls, G_N_ELEMENTS (impls), NULL);
  return 0;
}
