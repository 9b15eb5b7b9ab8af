/* bench-common.c: options, interleaved runs and BENCH lines for bench/
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#define _GNU_SOURCE

#include "bench-common.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

BenchOptions bench_opts = { FALSE, FALSE, 5, FALSE, NULL, FALSE };

void
bench_init (int            *argc,
            char         ***argv,
            const char     *description,
            GOptionEntry   *extra)
{
  gboolean quick = FALSE, list = FALSE;
  int runs = 0;
  char *impls = NULL;
  GOptionEntry entries[] = {
    { "quick", 'q', 0, G_OPTION_ARG_NONE, &quick, "Fewer runs and smaller sizes (what CI runs)", NULL },
    { "runs", 'r', 0, G_OPTION_ARG_INT, &runs, "Runs per implementation (median reported)", "N" },
    { "impl", 'i', 0, G_OPTION_ARG_STRING, &impls, "Only these implementations (comma-separated)", "NAMES" },
    { "list", 'l', 0, G_OPTION_ARG_NONE, &list, "List the implementations and exit", NULL },
    { NULL }
  };
  GOptionContext *options = g_option_context_new (description);
  GError *error = NULL;

  g_option_context_add_main_entries (options, entries, NULL);
  if (extra != NULL)
    g_option_context_add_main_entries (options, extra, NULL);
  if (!g_option_context_parse (options, argc, argv, &error))
    {
      fprintf (stderr, "%s: %s\n", g_get_prgname (), error->message);
      exit (2);
    }
  g_option_context_free (options);

  signal (SIGPIPE, SIG_IGN);
  bench_opts.smoke = g_getenv ("EVL_BENCH_SMOKE") != NULL && *g_getenv ("EVL_BENCH_SMOKE") != '\0'
                     && !g_str_equal (g_getenv ("EVL_BENCH_SMOKE"), "0");
  bench_opts.quick = quick || bench_opts.smoke;
  bench_opts.runs = runs > 0 ? (guint) runs : bench_opts.smoke ? 1 : bench_opts.quick ? 3 : 5;
  bench_opts.runs_given = runs > 0;
  bench_opts.list = list;
  if (impls != NULL)
    bench_opts.only = g_strsplit (impls, ",", -1);
  g_free (impls);
}

gboolean
bench_impl_wanted (const char *name)
{
  return bench_opts.only == NULL || g_strv_contains ((const char * const *) bench_opts.only, name);
}

double
bench_seconds (double full)
{
  if (bench_opts.smoke)
    return MIN (full, 0.02);
  if (bench_opts.quick)
    return full / 4;
  return full;
}

static int
cmp_double (const void *a,
            const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;

  return x < y ? -1 : x > y ? 1 : 0;
}

double
bench_percentile (double *values,
                  gsize   n,
                  double  p)
{
  gsize i;

  if (n == 0)
    return NAN;
  qsort (values, n, sizeof (double), cmp_double);
  i = (gsize) ceil (p / 100.0 * n);
  if (i > 0)
    i--;
  return values[MIN (i, n - 1)];
}

static double
median (double *values,
        guint   n)
{
  qsort (values, n, sizeof (double), cmp_double);
  if (n % 2 == 1)
    return values[n / 2];
  return (values[n / 2 - 1] + values[n / 2]) / 2;
}

/* Enough digits for three significant figures at any scale. */
static void
format_value (char   *buf,
              gsize   size,
              double  v)
{
  double a = fabs (v);

  if (isnan (v))
    g_strlcpy (buf, "nan", size);
  else if (a >= 1000 || a == 0)
    g_snprintf (buf, size, "%.0f", v);
  else if (a >= 100)
    g_snprintf (buf, size, "%.1f", v);
  else if (a >= 10)
    g_snprintf (buf, size, "%.2f", v);
  else if (a >= 1)
    g_snprintf (buf, size, "%.3f", v);
  else
    g_snprintf (buf, size, "%.3g", v);
}

typedef struct
{
  double   *values;  /* [run * n_metrics + metric] */
  guint     n_runs;
  gboolean  skipped;
  double   *medians;
} ImplResults;

static int
best_of_kind (const BenchMetric *metric,
              guint              m,
              const BenchImpl   *impls,
              ImplResults       *results,
              guint              n_impls,
              BenchKind          kind)
{
  int best = -1;
  guint i;

  for (i = 0; i < n_impls; i++)
    {
      double v;

      if (impls[i].kind != kind || results[i].skipped || results[i].n_runs == 0)
        continue;
      v = results[i].medians[m];
      if (isnan (v))
        continue;
      if (best < 0 ||
          (metric->higher_is_better ? v > results[best].medians[m] : v < results[best].medians[m]))
        best = (int) i;
    }
  return best;
}

static const char *kind_names[] = { "evl", "peer", "floor" };

void
bench_run (const char        *scenario,
           const char        *params,
           const BenchMetric *metrics,
           guint              n_metrics,
           const BenchImpl   *impls,
           guint              n_impls,
           gpointer           ctx)
{
  ImplResults *results = g_new0 (ImplResults, n_impls);
  double *out = g_new (double, n_metrics);
  guint run, i, m;

  if (bench_opts.list)
    {
      for (i = 0; i < n_impls; i++)
        printf ("%s %s %s\n", scenario, impls[i].name, kind_names[impls[i].kind]);
      g_free (results);
      g_free (out);
      return;
    }

  for (i = 0; i < n_impls; i++)
    {
      results[i].values = g_new0 (double, bench_opts.runs * n_metrics);
      results[i].medians = g_new0 (double, n_metrics);
      results[i].skipped = !bench_impl_wanted (impls[i].name);
    }

  for (run = 0; run < bench_opts.runs; run++)
    for (i = 0; i < n_impls; i++)
      {
        char *why = NULL;

        if (results[i].skipped)
          continue;
        for (m = 0; m < n_metrics; m++)
          out[m] = NAN;
        fprintf (stderr, "# %s %s %s run %u/%u\n", scenario, params ? params : "",
                 impls[i].name, run + 1, bench_opts.runs);
        if (!impls[i].run (ctx, out, &why))
          {
            printf ("# %s %s: skipped: %s\n", scenario, impls[i].name, why ? why : "not available");
            fflush (stdout);
            g_free (why);
            results[i].skipped = TRUE;
            continue;
          }
        for (m = 0; m < n_metrics; m++)
          results[i].values[results[i].n_runs * n_metrics + m] = out[m];
        results[i].n_runs++;
      }

  for (i = 0; i < n_impls; i++)
    {
      double *col = g_new (double, MAX (results[i].n_runs, 1));
      guint r;

      for (m = 0; m < n_metrics && results[i].n_runs > 0; m++)
        {
          for (r = 0; r < results[i].n_runs; r++)
            col[r] = results[i].values[r * n_metrics + m];
          results[i].medians[m] = median (col, results[i].n_runs);
        }
      g_free (col);
    }

  for (m = 0; m < n_metrics; m++)
    {
      int best_peer = best_of_kind (&metrics[m], m, impls, results, n_impls, BENCH_PEER);
      int best_floor = best_of_kind (&metrics[m], m, impls, results, n_impls, BENCH_FLOOR);

      for (i = 0; i < n_impls; i++)
        {
          GString *line;
          char v[64], lo[64], hi[64];
          double mn = INFINITY, mx = -INFINITY;
          guint r;

          if (results[i].skipped || results[i].n_runs == 0)
            continue;
          for (r = 0; r < results[i].n_runs; r++)
            {
              double x = results[i].values[r * n_metrics + m];

              mn = MIN (mn, x);
              mx = MAX (mx, x);
            }
          format_value (v, sizeof v, results[i].medians[m]);
          format_value (lo, sizeof lo, mn);
          format_value (hi, sizeof hi, mx);
          line = g_string_new ("BENCH");
          g_string_append_printf (line, " scenario=%s", scenario);
          if (params != NULL && *params != '\0')
            g_string_append_printf (line, " %s", params);
          g_string_append_printf (line, " metric=%s impl=%s kind=%s value=%s unit=%s min=%s max=%s runs=%u better=%s",
                                  metrics[m].name, impls[i].name, kind_names[impls[i].kind],
                                  v, metrics[m].unit, lo, hi, results[i].n_runs,
                                  metrics[m].higher_is_better ? "higher" : "lower");
          if (best_peer >= 0 && results[best_peer].medians[m] != 0)
            g_string_append_printf (line, " ratio_to_best_peer=%.3f best_peer=%s",
                                    results[i].medians[m] / results[best_peer].medians[m],
                                    impls[best_peer].name);
          if (best_floor >= 0 && results[best_floor].medians[m] != 0)
            g_string_append_printf (line, " ratio_to_floor=%.3f floor=%s",
                                    results[i].medians[m] / results[best_floor].medians[m],
                                    impls[best_floor].name);
          printf ("%s\n", line->str);
          g_string_free (line, TRUE);
        }
    }
  fflush (stdout);

  for (i = 0; i < n_impls; i++)
    {
      g_free (results[i].values);
      g_free (results[i].medians);
    }
  g_free (results);
  g_free (out);
}

/* ---------------------------------------------------------------------- */
/* helpers */

gint64
bench_now_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (gint64) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static double
rusage_s (int who)
{
  struct rusage ru;

  getrusage (who, &ru);
  return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

double
bench_thread_cpu_s (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

double
bench_process_cpu_s (void)
{
  return rusage_s (RUSAGE_SELF);
}

guint
bench_raise_nofile (void)
{
  struct rlimit rl;

  if (getrlimit (RLIMIT_NOFILE, &rl) < 0)
    return 1024;
  if (rl.rlim_cur < rl.rlim_max)
    {
      rl.rlim_cur = rl.rlim_max;
      setrlimit (RLIMIT_NOFILE, &rl);
      getrlimit (RLIMIT_NOFILE, &rl);
    }
  return rl.rlim_cur > G_MAXUINT ? G_MAXUINT : (guint) rl.rlim_cur;
}

void
bench_set_nonblocking (int fd)
{
  fcntl (fd, F_SETFL, fcntl (fd, F_GETFL) | O_NONBLOCK);
}

void
bench_tcp_listener (int     *listener,
                    guint16 *port)
{
  struct sockaddr_in addr = { 0 };
  socklen_t len = sizeof addr;
  int one = 1;

  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  *listener = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  setsockopt (*listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (*listener < 0 || bind (*listener, (struct sockaddr *) &addr, sizeof addr) < 0 ||
      listen (*listener, 1024) < 0 || getsockname (*listener, (struct sockaddr *) &addr, &len) < 0)
    g_error ("cannot listen on loopback: %s", g_strerror (errno));
  *port = ntohs (addr.sin_port);
}

void
bench_tcp_pair (int *client,
                int *server)
{
  struct sockaddr_in addr = { 0 };
  int listener, one = 1;
  guint16 port;

  bench_tcp_listener (&listener, &port);
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  addr.sin_port = htons (port);
  *client = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (*client < 0 || connect (*client, (struct sockaddr *) &addr, sizeof addr) < 0)
    g_error ("cannot connect on loopback: %s", g_strerror (errno));
  *server = accept4 (listener, NULL, NULL, SOCK_CLOEXEC);
  if (*server < 0)
    g_error ("cannot accept on loopback: %s", g_strerror (errno));
  close (listener);
  setsockopt (*client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  setsockopt (*server, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  bench_set_nonblocking (*client);
  bench_set_nonblocking (*server);
}

void
bench_socketpair (int fds[2])
{
  if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, fds) < 0)
    g_error ("socketpair: %s", g_strerror (errno));
}

void
bench_write_all (int         fd,
                 const void *buf,
                 gsize       len)
{
  const guint8 *p = buf;

  while (len > 0)
    {
      ssize_t r = write (fd, p, len);

      if (r < 0 && (errno == EINTR || errno == EAGAIN))
        continue;
      if (r < 0)
        g_error ("write: %s", g_strerror (errno));
      p += r;
      len -= (gsize) r;
    }
}
