/* evl-demo-gtk-chat.c: an evloop loop at work inside GTK's main loop
 *
 * The window's GtkApplication runs GTK's main loop as usual; an
 * EvlSelectorLoop is attached to GTK's GMainContext with evl_loop_attach(),
 * so one thread and one poll() run both. On the evloop loop: a TCP echo
 * server on 127.0.0.1, a client connected to it (plain non-blocking
 * sockets with add_reader/add_writer), a 50 Hz heartbeat timer, and the
 * timer that refreshes the counters. Type a line and press Enter (or Send):
 * the client sends it, the server echoes it, the log shows the round trip.
 *
 *   evl-demo-gtk-chat [--self-test] [--screenshot=FILE]
 *
 * --self-test drives the window itself (types into the entry, activates it
 * and the Send button, waits for the echoes in the log, checks that the
 * counters advanced) and exits 0 on success, 1 on failure.
 * --screenshot=FILE does the same and saves the window as a PNG.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <evloop-glib/evloop-glib.h>
#include <gtk/gtk.h>

#include <stdio.h>
#include <string.h>

#include "evl-demo-echo.h"

#define SELF_TEST_TIMEOUT 30.0

typedef struct
{
  GtkApplication *app;
  GtkWidget      *window;
  GtkTextBuffer  *log;
  GtkTextMark    *log_end;
  GtkWidget      *log_view;
  GtkWidget      *entry;
  GtkWidget      *send;
  GtkWidget      *timers_value;
  GtkWidget      *callbacks_value;
  GtkWidget      *echoes_value;
  GtkWidget      *rtt_value;
  GtkWidget      *status;

  EvlLoop        *loop;
  DemoServer     *server;
  DemoClient     *client;
  double          start;
  GQueue          sent_at;       /* double*, FIFO: echoes come back in order */
  double          last_rtt_ms;
  DemoStats       last;
  double          last_time;
  guint           counter_refreshes;

  gboolean        self_test;
  char           *screenshot;
  guint           step;
  gboolean        extra_sent;
  double          step_deadline;
  DemoStats       test_start;
  int             exit_status;
} Chat;

/* Log ------------------------------------------------------------------- */

static void G_GNUC_PRINTF (3, 4)
log_line (Chat       *chat,
          const char *tag,
          const char *format,
          ...)
{
  GtkTextIter end;
  va_list args;
  char *msg, *stamp;

  va_start (args, format);
  msg = g_strdup_vprintf (format, args);
  va_end (args);
  stamp = g_strdup_printf ("%8.3f  ", evl_loop_time (chat->loop) - chat->start);

  gtk_text_buffer_get_end_iter (chat->log, &end);
  gtk_text_buffer_insert_with_tags_by_name (chat->log, &end, stamp, -1, "stamp", NULL);
  gtk_text_buffer_get_end_iter (chat->log, &end);
  gtk_text_buffer_insert_with_tags_by_name (chat->log, &end, msg, -1, tag, NULL);
  gtk_text_buffer_get_end_iter (chat->log, &end);
  gtk_text_buffer_insert (chat->log, &end, "\n", 1);
  gtk_text_view_scroll_mark_onscreen (GTK_TEXT_VIEW (chat->log_view), chat->log_end);

  if (chat->self_test)
    printf ("log: %s%s\n", stamp, msg);
  g_free (stamp);
  g_free (msg);
}

static gboolean
log_contains (Chat       *chat,
              const char *needle)
{
  GtkTextIter start, end;
  char *text;
  gboolean found;

  gtk_text_buffer_get_bounds (chat->log, &start, &end);
  text = gtk_text_buffer_get_text (chat->log, &start, &end, FALSE);
  found = strstr (text, needle) != NULL;
  g_free (text);
  return found;
}

/* The evloop side ------------------------------------------------------- */

static void
client_event (DemoClient   *client,
              const char   *line,
              const GError *error,
              gpointer      user_data)
{
  Chat *chat = user_data;

  if (error != NULL)
    {
      log_line (chat, "error", "connection: %s", error->message);
      gtk_widget_set_sensitive (chat->send, FALSE);
      return;
    }
  if (line == NULL)
    {
      log_line (chat, "info", "client connected to the echo server on 127.0.0.1:%u",
                demo_server_get_port (chat->server));
      gtk_widget_set_sensitive (chat->send, TRUE);
      return;
    }

  {
    double *sent_at = g_queue_pop_head (&chat->sent_at);

    chat->last_rtt_ms = sent_at != NULL ? (evl_loop_time (chat->loop) - *sent_at) * 1e3 : 0.0;
    g_free (sent_at);
    log_line (chat, "echo", "echo: %s   (round trip %.2f ms)", line, chat->last_rtt_ms);
  }
}

static void
send_text (Chat       *chat,
           const char *text)
{
  double *now;

  if (text == NULL || *text == '\0' || chat->client == NULL ||
      !demo_client_is_connected (chat->client))
    return;
  now = g_new (double, 1);
  *now = evl_loop_time (chat->loop);
  g_queue_push_tail (&chat->sent_at, now);
  log_line (chat, "you", "you:  %s", text);
  demo_client_send_line (chat->client, text);
}

static void
send_activated (GtkWidget *widget,
                gpointer   user_data)
{
  Chat *chat = user_data;
  char *text = g_strdup (gtk_editable_get_text (GTK_EDITABLE (chat->entry)));

  send_text (chat, g_strstrip (text));
  gtk_editable_set_text (GTK_EDITABLE (chat->entry), "");
  g_free (text);
}

static void
heartbeat_cb (gpointer data)
{
  Chat *chat = data;

  DEMO_TIMER ();
  evl_loop_call_later (chat->loop, 0.02, heartbeat_cb, chat, NULL);
}

static void
set_value (GtkWidget *label,
           guint64    value)
{
  char *text = g_strdup_printf ("%" G_GUINT64_FORMAT, value);

  gtk_label_set_text (GTK_LABEL (label), text);
  g_free (text);
}

/* An evloop timer updating GTK widgets: evloop callbacks run in GTK's
 * thread, from GTK's own main loop. */
static void
refresh_counters_cb (gpointer data)
{
  Chat *chat = data;
  double now = evl_loop_time (chat->loop);
  double dt = now - chat->last_time;
  char *text;

  DEMO_TIMER ();
  set_value (chat->timers_value, demo_stats.timers);
  set_value (chat->callbacks_value, demo_stats.callbacks);
  set_value (chat->echoes_value, demo_stats.lines_echoed);
  text = g_strdup_printf ("%.2f ms", chat->last_rtt_ms);
  gtk_label_set_text (GTK_LABEL (chat->rtt_value), text);
  g_free (text);

  if (dt > 0)
    {
      text = g_strdup_printf ("%s · %u peer(s) · %.0f timers/s · %.0f callbacks/s · "
                              "evloop running: %s",
                              chat->client != NULL && demo_client_is_connected (chat->client)
                              ? "connected" : "not connected",
                              chat->server != NULL ? demo_server_get_n_peers (chat->server) : 0,
                              (demo_stats.timers - chat->last.timers) / dt,
                              (demo_stats.callbacks - chat->last.callbacks) / dt,
                              evl_get_running_loop () == chat->loop ? "yes" : "no");
      gtk_label_set_text (GTK_LABEL (chat->status), text);
      g_free (text);
    }
  chat->last = demo_stats;
  chat->last_time = now;
  chat->counter_refreshes++;
  evl_loop_call_later (chat->loop, 0.25, refresh_counters_cb, chat, NULL);
}

/* Self-test and screenshot --------------------------------------------- */

static gboolean
save_screenshot (Chat  *chat,
                 GError **error)
{
  GtkWidget *widget = chat->window;
  int width = gtk_widget_get_width (widget);
  int height = gtk_widget_get_height (widget);
  GdkPaintable *paintable = gtk_widget_paintable_new (widget);
  GtkSnapshot *snapshot = gtk_snapshot_new ();
  GskRenderNode *node;
  GskRenderer *renderer;
  GdkTexture *texture;
  gboolean ok = FALSE;

  gdk_paintable_snapshot (paintable, snapshot, width, height);
  node = gtk_snapshot_free_to_node (snapshot);
  renderer = gtk_native_get_renderer (GTK_NATIVE (widget));
  if (node != NULL && renderer != NULL)
    {
      texture = gsk_renderer_render_texture (renderer, node,
                                             &GRAPHENE_RECT_INIT (0, 0, width, height));
      ok = gdk_texture_save_to_png (texture, chat->screenshot);
      if (!ok)
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "cannot write %s", chat->screenshot);
      g_object_unref (texture);
    }
  else
    g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED, "nothing to render");
  g_clear_pointer (&node, gsk_render_node_unref);
  g_object_unref (paintable);
  return ok;
}

static void
finish (Chat       *chat,
        int         status,
        const char *message)
{
  printf ("self-test: %s: %s\n", status == 0 ? "PASS" : "FAIL", message);
  chat->exit_status = status;
  g_application_quit (G_APPLICATION (chat->app));
}

static void self_test_step (gpointer data);

static void
next_step (Chat   *chat,
           double  delay)
{
  chat->step++;
  evl_loop_call_later (chat->loop, delay, self_test_step, chat, NULL);
}

/* Each step runs from an evloop timer, i.e. from GTK's main loop. */
static void
self_test_step (gpointer data)
{
  Chat *chat = data;

  DEMO_TIMER ();
  if (evl_loop_time (chat->loop) > chat->step_deadline)
    {
      char *msg = g_strdup_printf ("timed out at step %u", chat->step);

      finish (chat, 1, msg);
      g_free (msg);
      return;
    }

  switch (chat->step)
    {
    case 0: /* wait for the connection and a mapped window */
      if (chat->client == NULL || !demo_client_is_connected (chat->client) ||
          !gtk_widget_get_mapped (chat->window))
        break;
      chat->test_start = demo_stats;
      gtk_editable_set_text (GTK_EDITABLE (chat->entry), "hello from the self-test");
      /* What pressing Enter in the entry does. */
      g_signal_emit_by_name (chat->entry, "activate");
      next_step (chat, 0.0);
      return;

    case 1: /* the echo shows up in the log; then use the button */
      if (!log_contains (chat, "echo: hello from the self-test"))
        break;
      if (gtk_editable_get_text (GTK_EDITABLE (chat->entry))[0] != '\0')
        {
          finish (chat, 1, "the entry was not cleared after sending");
          return;
        }
      gtk_editable_set_text (GTK_EDITABLE (chat->entry), "evloop inside GTK");
      if (!gtk_widget_activate (chat->send))
        {
          finish (chat, 1, "the Send button cannot be activated");
          return;
        }
      next_step (chat, 0.0);
      return;

    case 2: /* second echo, and the counters advanced (wait for a refresh) */
      if (!log_contains (chat, "echo: evloop inside GTK") ||
          demo_stats.timers < chat->test_start.timers + 10 ||
          chat->counter_refreshes < 2)
        break;
      if (demo_stats.lines_echoed < chat->test_start.lines_echoed + 2 ||
          demo_stats.callbacks <= chat->test_start.callbacks ||
          strcmp (gtk_label_get_text (GTK_LABEL (chat->timers_value)), "0") == 0)
        {
          finish (chat, 1, "the counters did not advance");
          return;
        }
      if (chat->screenshot != NULL && !chat->extra_sent)
        {
          /* A livelier log for the picture. */
          send_text (chat, "one thread, one poll() for GTK and TCP");
          send_text (chat, "typing here never blocks the echo server");
          chat->extra_sent = TRUE;
        }
      if (chat->extra_sent && !log_contains (chat, "echo: typing here never blocks"))
        break;
      next_step (chat, chat->screenshot != NULL ? 1.0 : 0.3);
      return;

    case 3:
      if (chat->screenshot != NULL)
        {
          GError *error = NULL;

          if (!save_screenshot (chat, &error))
            {
              char *msg = g_strdup_printf ("screenshot: %s", error->message);

              finish (chat, 1, msg);
              g_free (msg);
              g_error_free (error);
              return;
            }
          printf ("screenshot saved to %s\n", chat->screenshot);
        }
      {
        char *msg = g_strdup_printf ("%" G_GUINT64_FORMAT " lines echoed through the evloop "
                                     "loop inside GTK, %" G_GUINT64_FORMAT " timers and %"
                                     G_GUINT64_FORMAT " callbacks so far",
                                     demo_stats.lines_echoed, demo_stats.timers,
                                     demo_stats.callbacks);

        finish (chat, 0, msg);
        g_free (msg);
      }
      return;

    default:
      g_assert_not_reached ();
    }
  evl_loop_call_later (chat->loop, 0.05, self_test_step, chat, NULL);
}

/* UI ---------------------------------------------------------------------- */

static GtkWidget *
counter_box (const char  *caption,
             GtkWidget  **value)
{
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 2);
  GtkWidget *label;

  *value = gtk_label_new ("0");
  gtk_widget_add_css_class (*value, "title-2");
  gtk_widget_add_css_class (*value, "numeric");
  gtk_box_append (GTK_BOX (box), *value);
  label = gtk_label_new (caption);
  gtk_widget_add_css_class (label, "dim-label");
  gtk_box_append (GTK_BOX (box), label);
  gtk_widget_set_hexpand (box, TRUE);
  return box;
}

static void
build_window (Chat *chat)
{
  GtkWidget *header, *title, *vbox, *intro, *counters, *frame, *scrolled, *hbox;
  EvlSelector *selector = evl_selector_loop_get_selector (EVL_SELECTOR_LOOP (chat->loop));
  GtkTextIter end;
  char *text;

  chat->window = gtk_application_window_new (chat->app);
  gtk_window_set_title (GTK_WINDOW (chat->window), "evloop chat");
  gtk_window_set_default_size (GTK_WINDOW (chat->window), 760, 560);

  header = gtk_header_bar_new ();
  title = gtk_label_new ("evloop chat — an evloop loop inside GTK's main loop");
  gtk_widget_add_css_class (title, "title");
  gtk_header_bar_set_title_widget (GTK_HEADER_BAR (header), title);
  gtk_window_set_titlebar (GTK_WINDOW (chat->window), header);

  vbox = gtk_box_new (GTK_ORIENTATION_VERTICAL, 12);
  gtk_widget_set_margin_start (vbox, 16);
  gtk_widget_set_margin_end (vbox, 16);
  gtk_widget_set_margin_top (vbox, 12);
  gtk_widget_set_margin_bottom (vbox, 16);
  gtk_window_set_child (GTK_WINDOW (chat->window), vbox);

  text = g_strdup_printf ("An %s (%s) is attached to GTK's GMainContext with "
                          "evl_loop_attach(): its TCP echo server on 127.0.0.1:%u, the "
                          "client, the timers and this window share one thread and one poll().",
                          G_OBJECT_TYPE_NAME (chat->loop), G_OBJECT_TYPE_NAME (selector),
                          demo_server_get_port (chat->server));
  intro = gtk_label_new (text);
  g_free (text);
  gtk_label_set_wrap (GTK_LABEL (intro), TRUE);
  gtk_label_set_xalign (GTK_LABEL (intro), 0);
  gtk_box_append (GTK_BOX (vbox), intro);

  counters = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 12);
  gtk_box_set_homogeneous (GTK_BOX (counters), TRUE);
  gtk_box_append (GTK_BOX (counters), counter_box ("timers fired", &chat->timers_value));
  gtk_box_append (GTK_BOX (counters), counter_box ("callbacks run", &chat->callbacks_value));
  gtk_box_append (GTK_BOX (counters), counter_box ("lines echoed", &chat->echoes_value));
  gtk_box_append (GTK_BOX (counters), counter_box ("last round trip", &chat->rtt_value));
  gtk_box_append (GTK_BOX (vbox), counters);

  frame = gtk_frame_new (NULL);
  scrolled = gtk_scrolled_window_new ();
  gtk_widget_set_vexpand (scrolled, TRUE);
  chat->log_view = gtk_text_view_new ();
  gtk_text_view_set_editable (GTK_TEXT_VIEW (chat->log_view), FALSE);
  gtk_text_view_set_cursor_visible (GTK_TEXT_VIEW (chat->log_view), FALSE);
  gtk_text_view_set_monospace (GTK_TEXT_VIEW (chat->log_view), TRUE);
  gtk_text_view_set_wrap_mode (GTK_TEXT_VIEW (chat->log_view), GTK_WRAP_WORD_CHAR);
  gtk_text_view_set_left_margin (GTK_TEXT_VIEW (chat->log_view), 8);
  gtk_text_view_set_top_margin (GTK_TEXT_VIEW (chat->log_view), 6);
  chat->log = gtk_text_view_get_buffer (GTK_TEXT_VIEW (chat->log_view));
  gtk_text_buffer_create_tag (chat->log, "stamp", "foreground", "#8a8a8a", NULL);
  gtk_text_buffer_create_tag (chat->log, "info", "foreground", "#2a76c6", NULL);
  gtk_text_buffer_create_tag (chat->log, "you", "weight", PANGO_WEIGHT_BOLD, NULL);
  gtk_text_buffer_create_tag (chat->log, "echo", "foreground", "#26a269", NULL);
  gtk_text_buffer_create_tag (chat->log, "error", "foreground", "#c01c28", NULL);
  gtk_text_buffer_get_end_iter (chat->log, &end);
  chat->log_end = gtk_text_buffer_create_mark (chat->log, "end", &end, FALSE);
  gtk_scrolled_window_set_child (GTK_SCROLLED_WINDOW (scrolled), chat->log_view);
  gtk_frame_set_child (GTK_FRAME (frame), scrolled);
  gtk_box_append (GTK_BOX (vbox), frame);

  hbox = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 8);
  chat->entry = gtk_entry_new ();
  gtk_entry_set_placeholder_text (GTK_ENTRY (chat->entry), "Type a line and press Enter");
  gtk_widget_set_hexpand (chat->entry, TRUE);
  g_signal_connect (chat->entry, "activate", G_CALLBACK (send_activated), chat);
  gtk_box_append (GTK_BOX (hbox), chat->entry);
  chat->send = gtk_button_new_with_mnemonic ("_Send");
  gtk_widget_add_css_class (chat->send, "suggested-action");
  gtk_widget_set_sensitive (chat->send, FALSE);
  g_signal_connect (chat->send, "clicked", G_CALLBACK (send_activated), chat);
  gtk_box_append (GTK_BOX (hbox), chat->send);
  gtk_box_append (GTK_BOX (vbox), hbox);

  chat->status = gtk_label_new ("starting…");
  gtk_widget_add_css_class (chat->status, "dim-label");
  gtk_label_set_xalign (GTK_LABEL (chat->status), 0);
  gtk_box_append (GTK_BOX (vbox), chat->status);
}

static void
activate (GApplication *app,
          gpointer      user_data)
{
  Chat *chat = user_data;
  GError *error = NULL;

  if (chat->window != NULL)
    {
      gtk_window_present (GTK_WINDOW (chat->window));
      return;
    }

  /* evloop inside GLib: GTK's main loop now also runs this loop. */
  chat->loop = evl_selector_loop_new (NULL);
  evl_loop_attach (chat->loop, NULL);
  chat->start = chat->last_time = evl_loop_time (chat->loop);

  chat->server = demo_server_new (chat->loop, 0, &error);
  if (chat->server == NULL)
    {
      fprintf (stderr, "evl-demo-gtk-chat: cannot start the echo server: %s\n", error->message);
      g_error_free (error);
      chat->exit_status = 1;
      return;
    }
  build_window (chat);
  log_line (chat, "info", "echo server listening on 127.0.0.1:%u", demo_server_get_port (chat->server));
  chat->client = demo_client_new (chat->loop, demo_server_get_port (chat->server), client_event,
                                  chat, &error);
  if (chat->client == NULL)
    {
      log_line (chat, "error", "cannot connect: %s", error->message);
      g_clear_error (&error);
    }

  evl_loop_call_soon (chat->loop, heartbeat_cb, chat, NULL);
  evl_loop_call_soon (chat->loop, refresh_counters_cb, chat, NULL);
  if (chat->self_test || chat->screenshot != NULL)
    {
      chat->step_deadline = evl_loop_time (chat->loop) + SELF_TEST_TIMEOUT;
      evl_loop_call_later (chat->loop, 0.05, self_test_step, chat, NULL);
    }
  gtk_window_present (GTK_WINDOW (chat->window));
  gtk_widget_grab_focus (chat->entry);
}

static void
shutdown_app (GApplication *app,
              gpointer      user_data)
{
  Chat *chat = user_data;

  g_clear_pointer (&chat->client, demo_client_free);
  g_clear_pointer (&chat->server, demo_server_free);
  if (chat->loop != NULL)
    {
      /* Closing the loop also detaches it from GTK's context. */
      evl_loop_close (chat->loop, NULL);
      g_clear_object (&chat->loop);
    }
}

static gint
handle_local_options (GApplication *app,
                      GVariantDict *options,
                      gpointer      user_data)
{
  Chat *chat = user_data;

  if (g_variant_dict_contains (options, "self-test"))
    chat->self_test = TRUE;
  g_variant_dict_lookup (options, "screenshot", "^ay", &chat->screenshot);
  return -1;
}

int
main (int   argc,
      char *argv[])
{
  Chat chat = { 0 };
  int status;

  g_queue_init (&chat.sent_at);
  chat.app = gtk_application_new ("org.evloop.DemoGtkChat", G_APPLICATION_NON_UNIQUE);
  g_application_add_main_option (G_APPLICATION (chat.app), "self-test", 0, 0, G_OPTION_ARG_NONE,
                                 "Drive the window, check the echoes and the counters, exit 0/1",
                                 NULL);
  g_application_add_main_option (G_APPLICATION (chat.app), "screenshot", 0, 0,
                                 G_OPTION_ARG_FILENAME,
                                 "Like --self-test, then save the window as a PNG", "FILE");
  g_signal_connect (chat.app, "handle-local-options", G_CALLBACK (handle_local_options), &chat);
  g_signal_connect (chat.app, "activate", G_CALLBACK (activate), &chat);
  g_signal_connect (chat.app, "shutdown", G_CALLBACK (shutdown_app), &chat);

  status = g_application_run (G_APPLICATION (chat.app), argc, argv);
  g_object_unref (chat.app);
  g_queue_clear_full (&chat.sent_at, g_free);
  g_free (chat.screenshot);
  return status != 0 ? status : chat.exit_status;
}
