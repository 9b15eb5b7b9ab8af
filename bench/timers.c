/* timers.c: scenario 2, many one-shot timers
 *
 * N one-shot timers (200 000; --quick 20 000) are scheduled up front with
 * deadlines drawn at random (fixed seed) over SPAN seconds (2 s), starting
 * LEAD (0.2 s) after the first schedule so that scheduling them all is
 * over before the first is due. Each callback records how late it ran
 * against the deadline that was asked for; the loop stops after the last.
 *
 * Figures per implementation: mean and p99 lateness (ms), CPU seconds of
 * the process from the first schedule to the last callback, and CPU per
 * timer (us). The same is measured again with N/20 timers over SPAN/20
 * (10 000 over 0.1 s: the same density), so that the two per-timer CPU
 * figures show whether the cost of a timer grows with the number of
 * timers pending.
 *
 *   evl-selector  evl_loop_call_at on an EvlSelectorLoop (epoll_pwait2)
 *   evl-proactor  the same on an EvlProactorLoop (io_uring timeouts)
 *   evl-attached  EvlSelectorLoop attached to a GMainContext run by
 *                 g_main_loop_run (GLib polls with millisecond timeouts)
 *   glib          g_timeout_add()-style sources (millisecond intervals)
 *   libuv         uv_timer_start (millisecond timeouts)
 *   libev         ev_timer (double seconds)
 *
 * Peers with a millisecond API get the next whole millisecond at or after
 * the deadline; lateness is always measured against the deadline itself.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "bench-common.h"

#include <evloop-glib/evloop-glib.h>
#include <ev.h>
#include <math.h>
#include <stdio.h>
#include <uv.h>

typedef struct
{
  guint    n;
  double   span;       /* seconds */
  double   lead;       /* seconds */
  gint64  *offsets;    /* ns after the base, random, in insertion order */
  gint64  *deadline;   /* absolute, ns, CLOCK_MONOTONIC; per run */
  double  *lateness;   /* ns; per run */
  guint    fired;
  gint64   base;
  double   cpu_start;
  EvlLoop *loop;
  GMainLoop *ml;
  uv_loop_t *uv;
  struct ev_loop *ev;
} Ctx;

static void
ctx_start (Ctx *c)
{
  guint i;

  c->fired = 0;
  c->cpu_start = bench_process_cpu_s ();
  c->base = bench_now_ns () + (gint64) (c->lead * 1e9);
  for (i = 0; i < c->n; i++)
    c->deadline[i] = c->base + c->offsets[i];
}

/* Returns TRUE for the last timer. */
static inline gboolean
fired (Ctx *c, guint i)
{
  c->lateness[i] = (double) (bench_now_ns () - c->deadline[i]);
  return ++c->fired == c->n;
}

static void
ctx_finish (Ctx *c, double *out)
{
  double cpu = bench_process_cpu_s () - c->cpu_start;
  double sum = 0;
  guint i;

  for (i = 0; i < c->n; i++)
    sum += c->lateness[i];
  out[0] = sum / c->n / 1e6;
  out[1] = bench_percentile (c->lateness, c->n, 99) / 1e6;
  out[2] = cpu;
  out[3] = cpu / c->n * 1e6;
}

/* timer data: the index and the context, packed */
typedef struct
{
  Ctx  *c;
  guint i;
} Tag;

static Tag *
tags_new (Ctx *c)
{
  Tag *tags = g_new (Tag, c->n);
  guint i;

  for (i = 0; i < c->n; i++)
    {
      tags[i].c = c;
      tags[i].i = i;
    }
  return tags;
}

/* ---------------------------------------------------------------------- */
/* evloop */

static void
evl_timer_cb (gpointer data)
{
  Tag *t = data;

  if (fired (t->c, t->i))
    {
      if (t->c->ml != NULL)
        g_main_loop_quit (t->c->ml);
      else
        evl_loop_stop (t->c->loop);
    }
}

static gboolean
run_evl_common (Ctx *c, EvlLoop *loop, GMainContext *context, double *out)
{
  Tag *tags = tags_new (c);
  guint i;

  c->loop = loop;
  if (context != NULL)
    {
      c->ml = g_main_loop_new (context, FALSE);
      evl_loop_attach (loop, context);
    }
  ctx_start (c);
  for (i = 0; i < c->n; i++)
    evl_loop_call_at (loop, c->deadline[i] / 1e9, evl_timer_cb, &tags[i], NULL);
  if (context != NULL)
    g_main_loop_run (c->ml);
  else
    evl_loop_run_forever (loop, NULL);
  ctx_finish (c, out);

  evl_loop_close (loop, NULL);
  g_object_unref (loop);
  if (context != NULL)
    {
      g_main_loop_unref (c->ml);
      c->ml = NULL;
      g_main_context_unref (context);
    }
  c->loop = NULL;
  g_free (tags);
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

static gboolean
glib_timer_cb (gpointer data)
{
  Tag *t = data;

  if (fired (t->c, t->i))
    g_main_loop_quit (t->c->ml);
  return G_SOURCE_REMOVE;
}

static guint
ms_until (gint64 deadline, gint64 now)
{
  gint64 d = deadline - now;

  return d <= 0 ? 0 : (guint) ((d + 999999) / 1000000);
}

static gboolean
run_glib (gpointer ctx, double *out, char **why)
{
  Ctx *c = ctx;
  GMainContext *context = g_main_context_new ();
  Tag *tags = tags_new (c);
  guint i;

  c->ml = g_main_loop_new (context, FALSE);
  ctx_start (c);
  for (i = 0; i < c->n; i++)
    {
      /* GLib counts the interval from g_get_monotonic_time() (us) */
      GSource *s = g_timeout_source_new (ms_until (c->deadline[i], g_get_monotonic_time () * 1000));

      g_source_set_callback (s, glib_timer_cb, &tags[i], NULL);
      g_source_attach (s, context);
      g_source_unref (s);
    }
  g_main_loop_run (c->ml);
  ctx_finish (c, out);
  g_main_loop_unref (c->ml);
  c->ml = NULL;
  g_main_context_unref (context);
  g_free (tags);
  return TRUE;
}

/* ---------------------------------------------------------------------- */
/* libuv */

static void
uv_timer_fired (uv_timer_t *t)
{
  Tag *tag = t->data;

  fired (tag->c, tag->i);
}

static gboolean
run_libuv (gpointer ctx, double *out, char **why)
{
  Ctx *c = ctx;
  uv_loop_t loop;
  uv_timer_t *timers = g_new (uv_timer_t, c->n);
  Tag *tags = tags_new (c);
  guint i;

  uv_loop_init (&loop);
  ctx_start (c);
  uv_update_time (&loop);
  for (i = 0; i < c->n; i++)
    {
      /* libuv counts from its cached loop time, in whole ms */
      uv_timer_init (&loop, &timers[i]);
      timers[i].data = &tags[i];
      uv_timer_start (&timers[i], uv_timer_fired, ms_until (c->deadline[i], (gint64) uv_now (&loop) * 1000000), 0);
    }
  uv_run (&loop, UV_RUN_DEFAULT);  /* returns when no timer is left */
  ctx_finish (c, out);
  for (i = 0; i < c->n; i++)
    uv_close ((uv_handle_t *) &timers[i], NULL);
  uv_run (&loop, UV_RUN_DEFAULT);
  uv_loop_close (&loop);
  g_free (timers);
  g_free (tags);
  return TRUE;
}

/* ---------------------------------------------------------------------- */
/* libev */

static void
ev_timer_fired (struct ev_loop *loop, ev_timer *w, int revents)
{
  Tag *tag = w->data;

  fired (tag->c, tag->i);
}

static gboolean
run_libev (gpointer ctx, double *out, char **why)
{
  Ctx *c = ctx;
  struct ev_loop *loop = ev_loop_new (EVBACKEND_EPOLL);
  ev_timer *timers = g_new (ev_timer, c->n);
  Tag *tags = tags_new (c);
  gint64 now;
  guint i;

  ctx_start (c);
  ev_now_update (loop);
  now = bench_now_ns ();  /* libev counts from its cached monotonic time */
  for (i = 0; i < c->n; i++)
    {
      ev_timer_init (&timers[i], ev_timer_fired, (c->deadline[i] - now) / 1e9, 0.);
      timers[i].data = &tags[i];
      ev_timer_start (loop, &timers[i]);
    }
  ev_run (loop, 0);  /* returns when no timer is left */
  ctx_finish (c, out);
  ev_loop_destroy (loop);
  g_free (timers);
  g_free (tags);
  return TRUE;
}

/* ---------------------------------------------------------------------- */

static void
run_size (guint n, double span, double lead)
{
  static const BenchMetric metrics[] = {
    { "mean_lateness", "ms", FALSE },
    { "p99_lateness", "ms", FALSE },
    { "cpu", "s", FALSE },
    { "cpu_per_timer", "us", FALSE },
  };
  static const BenchImpl impls[] = {
    { "evl-selector", BENCH_EVL, run_evl_selector },
    { "evl-proactor", BENCH_EVL, run_evl_proactor },
    { "evl-attached", BENCH_EVL, run_evl_attached },
    { "glib", BENCH_PEER, run_glib },
    { "libuv", BENCH_PEER, run_libuv },
    { "libev", BENCH_PEER, run_libev },
  };
  Ctx c = { 0 };
  GRand *rand = g_rand_new_with_seed (42);
  char params[128];
  guint i;

  c.n = n;
  c.span = span;
  c.lead = lead;
  c.offsets = g_new (gint64, n);
  c.deadline = g_new (gint64, n);
  c.lateness = g_new (double, n);
  for (i = 0; i < n; i++)
    c.offsets[i] = (gint64) g_rand_double_range (rand, 0, span * 1e9);
  g_rand_free (rand);

  g_snprintf (params, sizeof params, "n=%u span_s=%g", n, span);
  bench_run ("timers", params, metrics, G_N_ELEMENTS (metrics), impls, G_N_ELEMENTS (impls), &c);
  g_free (c.offsets);
  g_free (c.deadline);
  g_free (c.lateness);
}

int
main (int argc, char *argv[])
{
  guint n = 200000;
  double span = 2.0;

  bench_init (&argc, &argv, "- scenario 2: many one-shot timers", NULL);
  if (bench_opts.smoke)
    {
      n = 2000;
      span = 0.02;
    }
  else if (bench_opts.quick)
    {
      n = 20000;
      span = 0.2;
    }
  /* Each run lasts SPAN: three runs keep the full suite short. */
  if (!bench_opts.runs_given)
    bench_opts.runs = MIN (bench_opts.runs, 3);
  run_size (n / 20, span / 20, bench_opts.smoke ? 0.01 : 0.1);
  run_size (n, span, bench_opts.smoke ? 0.01 : 0.2);
  return 0;
}
