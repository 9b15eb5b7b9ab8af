/* evl-demo-ticker.c: the command-line demo of evloop-glib
 *
 * One EvlSelectorLoop runs, in one thread and without GLib's main loop:
 *  - a TCP echo server on 127.0.0.1 (non-blocking sockets, add_reader and
 *    add_writer),
 *  - a client that connects to it, sends a line on a timer and prints the
 *    echo with its round-trip time,
 *  - a 100 Hz heartbeat timer and a ticker that prints, once a second, how
 *    many timers and callbacks ran,
 *  - SIGINT/SIGTERM handlers (evl_loop_add_signal_handler) for a clean
 *    shutdown.
 *
 *   evl-demo-ticker [--duration=SECONDS] [--rate=LINES_PER_SECOND]
 *
 * It runs for 5 seconds by default (0: until Ctrl+C) and exits 0 when the
 * echoes came back.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <evloop-glib/evloop-glib.h>

#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include "evl-demo-echo.h"

typedef struct
{
  EvlLoop    *loop;
  DemoServer *server;
  DemoClient *client;
  double      start;
  double      rate;
  GQueue      sent_at;     /* double* per line in flight, FIFO */
  guint       sent;
  double      rtt_sum;
  guint       rtt_n;
  double      rtt_total;
  guint       rtt_total_n;
  DemoStats   last;
  gboolean    shutting_down;
  gboolean    failed;
} Ticker;

static void G_GNUC_PRINTF (2, 3)
say (Ticker     *t,
     const char *format,
     ...)
{
  va_list args;
  char *msg;

  va_start (args, format);
  msg = g_strdup_vprintf (format, args);
  va_end (args);
  printf ("[%7.3f] %s\n", evl_loop_time (t->loop) - t->start, msg);
  fflush (stdout);
  g_free (msg);
}

static void
shutdown_demo (Ticker     *t,
               const char *why)
{
  if (t->shutting_down)
    return;
  t->shutting_down = TRUE;
  say (t, "%s: shutting down", why);
  g_clear_pointer (&t->client, demo_client_free);
  g_clear_pointer (&t->server, demo_server_free);
  evl_loop_stop (t->loop);
}

static void
client_event (DemoClient   *client,
              const char   *line,
              const GError *error,
              gpointer      user_data)
{
  Ticker *t = user_data;

  if (error != NULL)
    {
      say (t, "client: %s", error->message);
      t->failed = TRUE;
      shutdown_demo (t, "connection lost");
      return;
    }
  if (line == NULL)
    {
      say (t, "client: connected to 127.0.0.1:%u", demo_server_get_port (t->server));
      return;
    }

  {
    double *sent_at = g_queue_pop_head (&t->sent_at);
    double rtt = sent_at != NULL ? (evl_loop_time (t->loop) - *sent_at) * 1e3 : 0.0;

    g_free (sent_at);
    t->rtt_sum += rtt;
    t->rtt_n++;
    t->rtt_total += rtt;
    t->rtt_total_n++;
    say (t, "client <- \"%s\" (round trip %.3f ms)", line, rtt);
  }
}

static void
send_line_cb (gpointer data)
{
  Ticker *t = data;
  double *now;
  char *line;

  DEMO_TIMER ();
  if (t->shutting_down)
    return;
  now = g_new (double, 1);
  *now = evl_loop_time (t->loop);
  line = g_strdup_printf ("line %u at t=%.3f", ++t->sent, *now - t->start);
  g_queue_push_tail (&t->sent_at, now);
  say (t, "client -> \"%s\"", line);
  demo_client_send_line (t->client, line);
  g_free (line);
  evl_loop_call_later (t->loop, 1.0 / t->rate, send_line_cb, t, NULL);
}

static void
heartbeat_cb (gpointer data)
{
  Ticker *t = data;

  DEMO_TIMER ();
  if (!t->shutting_down)
    evl_loop_call_later (t->loop, 0.01, heartbeat_cb, t, NULL);
}

static void
tick_cb (gpointer data)
{
  Ticker *t = data;

  DEMO_TIMER ();
  if (t->shutting_down)
    return;
  say (t, "tick: %" G_GUINT64_FORMAT " timers/s, %" G_GUINT64_FORMAT " callbacks/s, "
       "%" G_GUINT64_FORMAT " echoes/s, mean round trip %.3f ms, %u peer(s)",
       demo_stats.timers - t->last.timers,
       demo_stats.callbacks - t->last.callbacks,
       demo_stats.lines_echoed - t->last.lines_echoed,
       t->rtt_n > 0 ? t->rtt_sum / t->rtt_n : 0.0,
       demo_server_get_n_peers (t->server));
  t->last = demo_stats;
  t->rtt_sum = 0;
  t->rtt_n = 0;
  evl_loop_call_later (t->loop, 1.0, tick_cb, t, NULL);
}

static void
duration_cb (gpointer data)
{
  DEMO_TIMER ();
  shutdown_demo (data, "duration reached");
}

static void
sigint_cb (gpointer data)
{
  DEMO_CALLBACK ();
  printf ("\n");
  shutdown_demo (data, "SIGINT received");
}

static void
sigterm_cb (gpointer data)
{
  DEMO_CALLBACK ();
  shutdown_demo (data, "SIGTERM received");
}

int
main (int   argc,
      char *argv[])
{
  double duration = 5.0, rate = 4.0;
  GOptionEntry entries[] = {
    { "duration", 'd', 0, G_OPTION_ARG_DOUBLE, &duration,
      "Run for SECONDS, then shut down (default 5; 0: until Ctrl+C)", "SECONDS" },
    { "rate", 'r', 0, G_OPTION_ARG_DOUBLE, &rate,
      "Lines the client sends per second (default 4)", "N" },
    { NULL }
  };
  GOptionContext *options;
  GError *error = NULL;
  Ticker t = { 0 };
  EvlSelector *selector;
  int status = 0;

  options = g_option_context_new ("- an echo server and client on one evloop loop");
  g_option_context_add_main_entries (options, entries, NULL);
  if (!g_option_context_parse (options, &argc, &argv, &error))
    {
      fprintf (stderr, "evl-demo-ticker: %s\n", error->message);
      g_error_free (error);
      g_option_context_free (options);
      return 2;
    }
  g_option_context_free (options);
  if (duration < 0 || rate <= 0 || rate > 10000)
    {
      fprintf (stderr, "evl-demo-ticker: --duration must be >= 0 and --rate in (0, 10000]\n");
      return 2;
    }

  t.loop = evl_selector_loop_new (NULL);
  t.rate = rate;
  t.start = evl_loop_time (t.loop);
  g_queue_init (&t.sent_at);
  selector = evl_selector_loop_get_selector (EVL_SELECTOR_LOOP (t.loop));
  printf ("evl-demo-ticker: evloop-glib %s, %s with %s, pid %d\n", EVL_VERSION_S,
          G_OBJECT_TYPE_NAME (t.loop), G_OBJECT_TYPE_NAME (selector), (int) getpid ());
  if (duration > 0)
    printf ("Running for %.1f s (Ctrl+C stops earlier).\n", duration);
  else
    printf ("Running until Ctrl+C.\n");

  t.server = demo_server_new (t.loop, 0, &error);
  if (t.server == NULL)
    {
      fprintf (stderr, "evl-demo-ticker: cannot start the server: %s\n", error->message);
      g_error_free (error);
      evl_loop_close (t.loop, NULL);
      g_object_unref (t.loop);
      return 1;
    }
  say (&t, "server: listening on 127.0.0.1:%u", demo_server_get_port (t.server));
  t.client = demo_client_new (t.loop, demo_server_get_port (t.server), client_event, &t, &error);
  if (t.client == NULL)
    {
      fprintf (stderr, "evl-demo-ticker: cannot connect: %s\n", error->message);
      g_error_free (error);
      demo_server_free (t.server);
      evl_loop_close (t.loop, NULL);
      g_object_unref (t.loop);
      return 1;
    }

  if (!evl_loop_add_signal_handler (t.loop, SIGINT, sigint_cb, &t, NULL, &error) ||
      !evl_loop_add_signal_handler (t.loop, SIGTERM, sigterm_cb, &t, NULL, &error))
    {
      fprintf (stderr, "evl-demo-ticker: %s\n", error->message);
      g_clear_error (&error);
    }

  evl_loop_call_soon (t.loop, heartbeat_cb, &t, NULL);
  evl_loop_call_later (t.loop, 1.0 / rate, send_line_cb, &t, NULL);
  evl_loop_call_later (t.loop, 1.0, tick_cb, &t, NULL);
  if (duration > 0)
    evl_loop_call_later (t.loop, duration, duration_cb, &t, NULL);

  if (!evl_loop_run_forever (t.loop, &error))
    {
      fprintf (stderr, "evl-demo-ticker: %s\n", error->message);
      g_clear_error (&error);
      status = 1;
    }

  evl_loop_remove_signal_handler (t.loop, SIGINT);
  evl_loop_remove_signal_handler (t.loop, SIGTERM);
  g_clear_pointer (&t.client, demo_client_free);
  g_clear_pointer (&t.server, demo_server_free);

  printf ("Done: %u line(s) sent, %" G_GUINT64_FORMAT " echoed back (mean round trip %.3f ms), "
          "%" G_GUINT64_FORMAT " timers and %" G_GUINT64_FORMAT " callbacks in %.2f s.\n",
          t.sent, demo_stats.lines_echoed,
          t.rtt_total_n > 0 ? t.rtt_total / t.rtt_total_n : 0.0,
          demo_stats.timers, demo_stats.callbacks, evl_loop_time (t.loop) - t.start);
  if (t.failed || (t.sent > 0 && demo_stats.lines_echoed == 0))
    {
      fprintf (stderr, "evl-demo-ticker: the echo server did not answer\n");
      status = 1;
    }

  g_queue_clear_full (&t.sent_at, g_free);
  if (!evl_loop_close (t.loop, &error))
    {
      fprintf (stderr, "evl-demo-ticker: %s\n", error->message);
      g_clear_error (&error);
      status = 1;
    }
  g_object_unref (t.loop);
  return status;
}
