/* evl-demo-gtk-threads.c: per-thread evloop loops reporting to a GTK window
 *
 * Each worker thread gets its own loop from evl_new_event_loop(): the
 * default policy gives a loop on a non-main thread a fresh GMainContext of
 * its own, which the loop drives while it runs (a GLib timeout attached to
 * that context ticks along). The worker does a slice of work on an evloop
 * timer and reports every step to the GTK thread with
 * evl_loop_call_soon_threadsafe() on the main loop, an EvlSelectorLoop
 * attached to GTK's GMainContext; the report callbacks update the progress
 * bars there.
 *
 *   evl-demo-gtk-threads [--self-test]
 *
 * --self-test waits for every worker to finish, checks the progress bars,
 * that every report ran in the GTK thread and that the workers had
 * distinct threads and contexts, and exits 0 on success, 1 on failure.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <evloop-glib/evloop-glib.h>
#include <gtk/gtk.h>

#include <stdio.h>

#define N_WORKERS         4
#define N_STEPS           40
#define SELF_TEST_TIMEOUT 60.0

typedef struct _App App;

typedef struct
{
  App          *app;
  int           index;
  double        period;          /* seconds between steps */
  GThread      *thread;
  gint          cancel;          /* atomic: the GTK thread asks the worker to stop */

  /* GTK thread only, from the reports */
  GtkWidget    *bar;
  GtkWidget    *detail;
  gboolean      running;
  guint         reports;
  gpointer      reporter;        /* the worker's GThread, as reported */
  gpointer      context;         /* the worker loop's GMainContext, as reported */
  gboolean      context_is_default;
} Worker;

/* What a worker reports after each step; owned by the main loop's handle. */
typedef struct
{
  Worker   *worker;
  guint     step;
  guint     glib_ticks;
  guint64   primes;
  gpointer  thread;
  gpointer  context;
  gboolean  context_is_default;
  gboolean  finished;
} Report;

struct _App
{
  GtkApplication *gtk;
  GtkWidget      *window;
  GtkWidget      *summary;
  GtkWidget      *restart;
  EvlLoop        *loop;          /* the GTK thread's loop, attached to GTK's context */
  GThread        *gtk_thread;
  Worker          workers[N_WORKERS];
  guint           finished;
  guint           rounds;
  guint           off_thread_reports;
  gboolean        self_test;
  double          deadline;
  int             exit_status;
};

/* Worker threads ---------------------------------------------------------- */

typedef struct
{
  Worker       *worker;
  EvlLoop      *loop;
  GMainContext *context;
  guint         step;
  guint         glib_ticks;
  guint64       next_number;
  guint64       primes;
} WorkerState;

static gboolean
is_prime (guint64 n)
{
  guint64 d;

  if (n < 2)
    return FALSE;
  for (d = 2; d * d <= n; d++)
    if (n % d == 0)
      return FALSE;
  return TRUE;
}

static void report_cb (gpointer data);

static void
post_report (WorkerState *st,
             gboolean     finished)
{
  Report *r = g_new0 (Report, 1);

  r->worker = st->worker;
  r->step = st->step;
  r->glib_ticks = st->glib_ticks;
  r->primes = st->primes;
  r->thread = g_thread_self ();
  r->context = st->context;
  r->context_is_default = st->context == g_main_context_default ();
  r->finished = finished;
  /* The only call a worker makes on the GTK thread's loop. */
  evl_handle_unref (evl_loop_call_soon_threadsafe (st->worker->app->loop, report_cb, r, g_free));
}

static void
step_cb (gpointer data)
{
  WorkerState *st = data;
  guint64 end = st->next_number + 4000;

  if (g_atomic_int_get (&st->worker->cancel))
    {
      evl_loop_stop (st->loop);
      return;
    }
  for (; st->next_number < end; st->next_number++)
    if (is_prime (st->next_number))
      st->primes++;
  st->step++;
  post_report (st, st->step == N_STEPS);
  if (st->step == N_STEPS)
    evl_loop_stop (st->loop);
  else
    evl_loop_call_later (st->loop, st->worker->period, step_cb, st, NULL);
}

static gboolean
glib_tick_cb (gpointer data)
{
  WorkerState *st = data;

  st->glib_ticks++;
  return G_SOURCE_CONTINUE;
}

static gpointer
worker_main (gpointer data)
{
  WorkerState st = { data };
  GSource *tick = NULL;
  GError *error = NULL;

  /* On a non-main thread the default policy gives a loop with a fresh
   * GMainContext, pushed as thread-default while the loop runs. */
  st.loop = evl_new_event_loop ();
  st.context = evl_loop_get_context (st.loop);
  if (st.context != NULL)
    {
      /* Plain GLib code on the worker's own context keeps working. */
      tick = g_timeout_source_new (50);
      g_source_set_callback (tick, glib_tick_cb, &st, NULL);
      g_source_attach (tick, st.context);
    }

  evl_loop_call_soon (st.loop, step_cb, &st, NULL);
  if (!evl_loop_run_forever (st.loop, &error))
    {
      g_printerr ("worker %d: %s\n", st.worker->index + 1, error->message);
      g_error_free (error);
    }

  if (tick != NULL)
    {
      g_source_destroy (tick);
      g_source_unref (tick);
    }
  evl_loop_close (st.loop, NULL);
  g_object_unref (st.loop);
  return NULL;
}

/* The GTK thread ---------------------------------------------------------- */

static void
update_summary (App *app)
{
  char *text = g_strdup_printf ("Round %u: %u of %d workers done. Each report reached this "
                                "thread through evl_loop_call_soon_threadsafe().",
                                app->rounds, app->finished, N_WORKERS);

  gtk_label_set_text (GTK_LABEL (app->summary), text);
  g_free (text);
}

static void self_test_check (App *app);

static void
report_cb (gpointer data)
{
  Report *r = data;
  Worker *w = r->worker;
  App *app = w->app;
  char *text;

  if (g_thread_self () != app->gtk_thread || evl_get_running_loop () != app->loop)
    app->off_thread_reports++;
  if (!w->running)
    return;

  w->reports++;
  w->reporter = r->thread;
  w->context = r->context;
  w->context_is_default = r->context_is_default;
  gtk_progress_bar_set_fraction (GTK_PROGRESS_BAR (w->bar), (double) r->step / N_STEPS);
  text = g_strdup_printf ("%u/%d", r->step, N_STEPS);
  gtk_progress_bar_set_text (GTK_PROGRESS_BAR (w->bar), text);
  g_free (text);
  text = g_strdup_printf ("thread %p · own GMainContext %p · %" G_GUINT64_FORMAT
                          " primes · %u GLib ticks on its context",
                          r->thread, r->context, r->primes, r->glib_ticks);
  gtk_label_set_text (GTK_LABEL (w->detail), text);
  g_free (text);

  if (r->finished)
    {
      w->running = FALSE;
      /* The worker only closes its loop now: a short wait. */
      g_thread_join (w->thread);
      w->thread = NULL;
      app->finished++;
      update_summary (app);
      if (app->finished == N_WORKERS)
        {
          gtk_widget_set_sensitive (app->restart, TRUE);
          if (app->self_test)
            self_test_check (app);
        }
    }
}

static void
start_workers (App *app)
{
  int i;

  app->finished = 0;
  app->rounds++;
  for (i = 0; i < N_WORKERS; i++)
    {
      Worker *w = &app->workers[i];
      char *name = g_strdup_printf ("evl-worker-%d", i + 1);

      w->running = TRUE;
      w->reports = 0;
      g_atomic_int_set (&w->cancel, 0);
      gtk_progress_bar_set_fraction (GTK_PROGRESS_BAR (w->bar), 0.0);
      w->thread = g_thread_new (name, worker_main, w);
      g_free (name);
    }
  gtk_widget_set_sensitive (app->restart, FALSE);
  update_summary (app);
}

static void
stop_workers (App *app)
{
  int i;

  for (i = 0; i < N_WORKERS; i++)
    g_atomic_int_set (&app->workers[i].cancel, 1);
  for (i = 0; i < N_WORKERS; i++)
    if (app->workers[i].thread != NULL)
      {
        g_thread_join (app->workers[i].thread);
        app->workers[i].thread = NULL;
        app->workers[i].running = FALSE;
      }
}

static void
restart_clicked (GtkButton *button,
                 gpointer   user_data)
{
  start_workers (user_data);
}

static void
finish (App        *app,
        int         status,
        const char *message)
{
  printf ("self-test: %s: %s\n", status == 0 ? "PASS" : "FAIL", message);
  app->exit_status = status;
  g_application_quit (G_APPLICATION (app->gtk));
}

static void
self_test_check (App *app)
{
  int i, j;

  if (app->off_thread_reports > 0)
    {
      finish (app, 1, "a report ran outside the GTK thread");
      return;
    }
  for (i = 0; i < N_WORKERS; i++)
    {
      Worker *w = &app->workers[i];

      printf ("worker %d: %u reports, thread %p, context %p, fraction %.2f\n", i + 1, w->reports,
              w->reporter, w->context, gtk_progress_bar_get_fraction (GTK_PROGRESS_BAR (w->bar)));
      if (w->reports != N_STEPS ||
          gtk_progress_bar_get_fraction (GTK_PROGRESS_BAR (w->bar)) != 1.0)
        {
          finish (app, 1, "a worker did not complete its steps");
          return;
        }
      if (w->context == NULL || w->context_is_default || w->reporter == app->gtk_thread)
        {
          finish (app, 1, "a worker had no context of its own");
          return;
        }
      for (j = 0; j < i; j++)
        if (app->workers[j].context == w->context || app->workers[j].reporter == w->reporter)
          {
            finish (app, 1, "two workers shared a thread or a context");
            return;
          }
    }
  finish (app, 0, "4 worker threads, each with its own loop and GMainContext, reported "
                  "every step to the GTK thread");
}

static void
self_test_timeout_cb (gpointer data)
{
  finish (data, 1, "timed out waiting for the workers");
}

static void
build_window (App *app)
{
  GtkWidget *header, *vbox, *intro, *grid;
  int i;

  app->window = gtk_application_window_new (app->gtk);
  gtk_window_set_title (GTK_WINDOW (app->window), "evloop threads");
  gtk_window_set_default_size (GTK_WINDOW (app->window), 720, 380);
  header = gtk_header_bar_new ();
  gtk_window_set_titlebar (GTK_WINDOW (app->window), header);

  vbox = gtk_box_new (GTK_ORIENTATION_VERTICAL, 12);
  gtk_widget_set_margin_start (vbox, 16);
  gtk_widget_set_margin_end (vbox, 16);
  gtk_widget_set_margin_top (vbox, 12);
  gtk_widget_set_margin_bottom (vbox, 16);
  gtk_window_set_child (GTK_WINDOW (app->window), vbox);

  intro = gtk_label_new ("Each worker thread runs its own evloop loop (evl_new_event_loop()), "
                         "which drives a GMainContext of its own, and reports each step to "
                         "this window's loop with evl_loop_call_soon_threadsafe().");
  gtk_label_set_wrap (GTK_LABEL (intro), TRUE);
  gtk_label_set_xalign (GTK_LABEL (intro), 0);
  gtk_box_append (GTK_BOX (vbox), intro);

  grid = gtk_grid_new ();
  gtk_grid_set_row_spacing (GTK_GRID (grid), 4);
  gtk_grid_set_column_spacing (GTK_GRID (grid), 12);
  for (i = 0; i < N_WORKERS; i++)
    {
      Worker *w = &app->workers[i];
      char *name = g_strdup_printf ("Worker %d", i + 1);
      GtkWidget *label = gtk_label_new (name);

      g_free (name);
      w->app = app;
      w->index = i;
      w->period = 0.02 + 0.02 * i;
      gtk_widget_add_css_class (label, "heading");
      gtk_label_set_xalign (GTK_LABEL (label), 0);
      gtk_grid_attach (GTK_GRID (grid), label, 0, 2 * i, 1, 1);
      w->bar = gtk_progress_bar_new ();
      gtk_progress_bar_set_show_text (GTK_PROGRESS_BAR (w->bar), TRUE);
      gtk_widget_set_hexpand (w->bar, TRUE);
      gtk_widget_set_valign (w->bar, GTK_ALIGN_CENTER);
      gtk_grid_attach (GTK_GRID (grid), w->bar, 1, 2 * i, 1, 1);
      w->detail = gtk_label_new ("starting…");
      gtk_widget_add_css_class (w->detail, "dim-label");
      gtk_widget_add_css_class (w->detail, "caption");
      gtk_label_set_xalign (GTK_LABEL (w->detail), 0);
      gtk_grid_attach (GTK_GRID (grid), w->detail, 1, 2 * i + 1, 1, 1);
    }
  gtk_box_append (GTK_BOX (vbox), grid);

  app->summary = gtk_label_new ("");
  gtk_label_set_xalign (GTK_LABEL (app->summary), 0);
  gtk_widget_set_vexpand (app->summary, TRUE);
  gtk_widget_set_valign (app->summary, GTK_ALIGN_END);
  gtk_box_append (GTK_BOX (vbox), app->summary);

  app->restart = gtk_button_new_with_mnemonic ("_Run the workers again");
  gtk_widget_set_halign (app->restart, GTK_ALIGN_END);
  g_signal_connect (app->restart, "clicked", G_CALLBACK (restart_clicked), app);
  gtk_box_append (GTK_BOX (vbox), app->restart);
}

static void
activate (GApplication *gapp,
          gpointer      user_data)
{
  App *app = user_data;

  if (app->window != NULL)
    {
      gtk_window_present (GTK_WINDOW (app->window));
      return;
    }
  app->gtk_thread = g_thread_self ();
  app->loop = evl_selector_loop_new (NULL);
  evl_loop_attach (app->loop, NULL);
  build_window (app);
  start_workers (app);
  if (app->self_test)
    evl_loop_call_later (app->loop, SELF_TEST_TIMEOUT, self_test_timeout_cb, app, NULL);
  gtk_window_present (GTK_WINDOW (app->window));
}

static void
shutdown_app (GApplication *gapp,
              gpointer      user_data)
{
  App *app = user_data;

  /* Workers post to app->loop until they exit: join them first. */
  stop_workers (app);
  if (app->loop != NULL)
    {
      evl_loop_close (app->loop, NULL);
      g_clear_object (&app->loop);
    }
}

static gint
handle_local_options (GApplication *gapp,
                      GVariantDict *options,
                      gpointer      user_data)
{
  App *app = user_data;

  app->self_test = g_variant_dict_contains (options, "self-test");
  return -1;
}

int
main (int   argc,
      char *argv[])
{
  App app = { 0 };
  int status;

  app.gtk = gtk_application_new ("org.evloop.DemoGtkThreads", G_APPLICATION_NON_UNIQUE);
  g_application_add_main_option (G_APPLICATION (app.gtk), "self-test", 0, 0, G_OPTION_ARG_NONE,
                                 "Wait for the workers, check the window, exit 0/1", NULL);
  g_signal_connect (app.gtk, "handle-local-options", G_CALLBACK (handle_local_options), &app);
  g_signal_connect (app.gtk, "activate", G_CALLBACK (activate), &app);
  g_signal_connect (app.gtk, "shutdown", G_CALLBACK (shutdown_app), &app);

  status = g_application_run (G_APPLICATION (app.gtk), argc, argv);
  g_object_unref (app.gtk);
  return status != 0 ? status : app.exit_status;
}
