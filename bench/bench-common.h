/* bench-common.h: what every benchmark program of bench/ shares
 *
 * Each program runs one scenario for evloop-glib and for its peers (GLib,
 * libuv, libev) and floors (plain C, raw epoll, raw io_uring) in the same
 * invocation. Each implementation is measured several times, the runs of
 * all implementations interleaved (run 1 of each, then run 2 of each, ...)
 * so that a noisy stretch of the machine does not land on one of them.
 * One line per (scenario, parameters, metric, implementation):
 *
 *   BENCH scenario=callbacks n=1000000 metric=per_callback impl=evl-selector kind=evl
 *         value=14.2 unit=ns/op min=13.9 max=15.0 runs=5 better=lower
 *         ratio_to_best_peer=1.15 best_peer=libuv ratio_to_floor=1.35 floor=c-array
 *
 * (on one line). value is the median of the runs, min and max their
 * range; ratio_to_best_peer is value divided by the best peer's value (the
 * lowest for better=lower, the highest for better=higher), so above 1 is
 * slower for better=lower and faster for better=higher; the same for
 * ratio_to_floor against the best floor. kind is evl, peer or floor.
 *
 * Options every program takes: --quick (fewer runs, smaller sizes: what
 * CI runs), --runs=N, --impl=NAME[,NAME...] (only these), --list.
 * EVL_BENCH_SMOKE=1 in the environment means --quick with even less work.
 * Benchmarks print; they never fail on slowness.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum
{
  BENCH_EVL,
  BENCH_PEER,
  BENCH_FLOOR,
} BenchKind;

typedef struct
{
  const char *name;    /* e.g. "per_callback" */
  const char *unit;    /* e.g. "ns/op" */
  gboolean    higher_is_better;
} BenchMetric;

/* One measurement: fills out[i] for each metric. Returns FALSE, with a
 * newly allocated reason in *why, when the implementation cannot run
 * here (io_uring disabled, say); it is then skipped for the other runs. */
typedef gboolean (*BenchRunFunc) (gpointer     ctx,
                                  double      *out,
                                  char       **why);

typedef struct
{
  const char   *name;
  BenchKind     kind;
  BenchRunFunc  run;
} BenchImpl;

typedef struct
{
  gboolean  quick;
  gboolean  smoke;
  guint     runs;
  gboolean  runs_given; /* --runs was passed */
  char    **only;       /* NULL: every implementation */
  gboolean  list;
} BenchOptions;

extern BenchOptions bench_opts;

/* Parses the common options (and any of @extra); exits on --help/errors. */
void     bench_init        (int            *argc,
                            char         ***argv,
                            const char     *description,
                            GOptionEntry   *extra);

gboolean bench_impl_wanted (const char     *name);

/* Runs every wanted implementation bench_opts.runs times, interleaved,
 * and prints the BENCH lines. @params: extra "key=value ..." fields
 * (may be NULL). @ctx goes to every run function. */
void     bench_run         (const char        *scenario,
                            const char        *params,
                            const BenchMetric *metrics,
                            guint              n_metrics,
                            const BenchImpl   *impls,
                            guint              n_impls,
                            gpointer           ctx);

/* helpers */
gint64   bench_now_ns      (void);
double   bench_thread_cpu_s (void);          /* this thread's user+system CPU */
double   bench_process_cpu_s (void);         /* the whole process's */
guint    bench_raise_nofile (void);          /* soft limit := hard limit; returns it */
void     bench_tcp_pair    (int *client,
                            int *server);    /* loopback, TCP_NODELAY, non-blocking */
void     bench_tcp_listener (int *listener,
                             guint16 *port);
void     bench_socketpair  (int fds[2]);     /* AF_UNIX stream, non-blocking, cloexec */
void     bench_set_nonblocking (int fd);
void     bench_write_all   (int fd, const void *buf, gsize len);
double   bench_percentile  (double *values,
                            gsize   n,
                            double  p);      /* sorts @values */

/* Seconds per measurement for time-bounded scenarios, scaled by
 * --quick and EVL_BENCH_SMOKE. */
double   bench_seconds     (double full);

G_END_DECLS
