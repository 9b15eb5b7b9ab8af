/* bridge-context.c: tests of GLib inside evloop: a loop constructed with a
 * "context" drives that GMainContext through its own backend while it runs
 * (GIO included); no busy loops and no missed wakeups; per-thread loops
 * with contexts of their own.
 *
 * Run with EVL_SELECTOR=poll (the 'bridge-context-poll' test) the loop
 * has no poll fd and the GSource mirrors every watched fd into GLib
 * instead.
 *
 * The other bridge tests: bridge-source.c, bridge-nested.c.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <evloop-glib/evloop-glib.h>

#include "evl-test-bridge.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <glib-unix.h>
#include <glib/gstdio.h>

/* GLib inside evloop ------------------------------------------------------ */

typedef struct
{
  GMainContext *context;
  gboolean      thread_default_ok;
  gboolean      owner_ok;
  gint64        fired_at;
  EvlFuture    *future;
} CtxData;

static gboolean
ctx_timeout_cb (gpointer data)
{
  CtxData *d = data;

  d->fired_at = g_get_monotonic_time ();
  d->thread_default_ok = g_main_context_get_thread_default () == d->context;
  d->owner_ok = g_main_context_is_owner (d->context);
  complete_future (d->future);
  return G_SOURCE_REMOVE;
}

static void
test_context_timeout (void)
{
  GMainContext *context = g_main_context_new ();
  EvlLoop *loop = new_context_loop (context);
  CtxData d = { context, FALSE, FALSE, 0, NULL };
  GSource *s;
  gint64 start;

  g_assert_true (evl_loop_get_context (loop) == context);
  d.future = evl_loop_create_future (loop);

  start = g_get_monotonic_time ();
  s = g_timeout_source_new (50);
  g_source_set_callback (s, ctx_timeout_cb, &d, NULL);
  g_source_attach (s, context);
  g_source_unref (s);

  run_until_complete_ok (loop, d.future);
  g_assert_cmpint (d.fired_at - start, >=, 50000);
  g_assert_cmpint (d.fired_at - start, <, 5 * G_USEC_PER_SEC);
  g_assert_true (d.thread_default_ok);
  g_assert_true (d.owner_ok);
  /* Popped and released again. */
  g_assert_null (g_main_context_get_thread_default ());
  g_assert_false (g_main_context_is_owner (context));

  g_object_unref (d.future);
  close_loop (loop);
  g_main_context_unref (context);
}

typedef struct
{
  EvlLoop      *loop;
  GMainContext *context;
  gboolean      pushed;
  gboolean      running;
} TdData;

static void
thread_default_cb (gpointer data)
{
  TdData *d = data;
  GMainContext *current = g_main_context_ref_thread_default ();

  d->pushed = current == d->context;
  d->running = evl_get_running_loop () == d->loop;
  g_main_context_unref (current);
  evl_loop_stop (d->loop);
}

static void
test_context_thread_default (void)
{
  GMainContext *context = g_main_context_new ();
  TdData d = { new_context_loop (context), context, FALSE, FALSE };
  GError *error = NULL;

  evl_loop_call_soon (d.loop, thread_default_cb, &d, NULL);
  g_assert_true (evl_loop_run_forever (d.loop, &error));
  g_assert_no_error (error);
  g_assert_true (d.pushed);
  g_assert_true (d.running);
  g_assert_null (g_main_context_get_thread_default ());
  close_loop (d.loop);
  g_main_context_unref (context);

  /* The global default context is not pushed: it is the default already. */
  context = g_main_context_default ();
  d.loop = new_context_loop (context);
  d.context = context;
  d.pushed = FALSE;
  evl_loop_call_soon (d.loop, thread_default_cb, &d, NULL);
  g_assert_true (evl_loop_run_forever (d.loop, &error));
  g_assert_no_error (error);
  g_assert_true (d.pushed);
  g_assert_null (g_main_context_get_thread_default ());
  close_loop (d.loop);
}

/* GIO's socket machinery: a GSocketService and a GSocketClient talk over
 * loopback TCP, all through GLib sources of the driven context. */
typedef struct
{
  EvlLoop           *loop;
  GMainContext      *context;
  EvlFuture         *future;
  GSocketService    *service;
  GSocketClient     *client;
  GSocketConnection *server_conn;
  GSocketConnection *client_conn;
  char               buf[64];
  GString           *received;
  gboolean           thread_default_ok;
  GError            *error;
} GioData;

static void
gio_fail (GioData *d,
          GError  *error)
{
  if (d->error == NULL)
    d->error = error;
  else
    g_error_free (error);
  if (!evl_future_is_done (d->future))
    complete_future (d->future);
}

static void
gio_read_cb (GObject      *source,
             GAsyncResult *result,
             gpointer      data)
{
  GioData *d = data;
  GError *error = NULL;
  gssize n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, &error);

  d->thread_default_ok &= g_main_context_get_thread_default () == d->context;
  if (n < 0)
    {
      gio_fail (d, error);
      return;
    }
  g_string_append_len (d->received, d->buf, n);
  if (n == 0 || strstr (d->received->str, "hello evloop") != NULL)
    {
      complete_future (d->future);
      return;
    }
  g_input_stream_read_async (G_INPUT_STREAM (source), d->buf, sizeof d->buf, G_PRIORITY_DEFAULT,
                             NULL, gio_read_cb, d);
}

static gboolean
gio_incoming_cb (GSocketService    *service,
                 GSocketConnection *connection,
                 GObject           *source_object,
                 gpointer           data)
{
  GioData *d = data;

  d->server_conn = g_object_ref (connection);
  g_input_stream_read_async (g_io_stream_get_input_stream (G_IO_STREAM (connection)),
                             d->buf, sizeof d->buf, G_PRIORITY_DEFAULT, NULL, gio_read_cb, d);
  return TRUE;
}

static void
gio_written_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      data)
{
  GioData *d = data;
  GError *error = NULL;

  if (!g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, &error))
    gio_fail (d, error);
}

static void
gio_connected_cb (GObject      *source,
                  GAsyncResult *result,
                  gpointer      data)
{
  GioData *d = data;
  GError *error = NULL;

  d->client_conn = g_socket_client_connect_finish (G_SOCKET_CLIENT (source), result, &error);
  if (d->client_conn == NULL)
    {
      gio_fail (d, error);
      return;
    }
  d->thread_default_ok &= g_main_context_get_thread_default () == d->context;
  g_output_stream_write_all_async (g_io_stream_get_output_stream (G_IO_STREAM (d->client_conn)),
                                   "hello evloop", 12, G_PRIORITY_DEFAULT, NULL,
                                   gio_written_cb, d);
}

static void
gio_start_cb (gpointer data)
{
  GioData *d = data;
  GInetAddress *loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  GSocketAddress *address = g_inet_socket_address_new (loopback, 0);
  GSocketAddress *effective = NULL;
  GError *error = NULL;

  d->thread_default_ok = g_main_context_get_thread_default () == d->context;
  d->service = g_socket_service_new ();
  if (!g_socket_listener_add_address (G_SOCKET_LISTENER (d->service), address,
                                      G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP,
                                      NULL, &effective, &error))
    {
      gio_fail (d, error);
      goto out;
    }
  g_signal_connect (d->service, "incoming", G_CALLBACK (gio_incoming_cb), d);
  g_socket_service_start (d->service);

  d->client = g_socket_client_new ();
  g_socket_client_connect_async (d->client, G_SOCKET_CONNECTABLE (effective), NULL,
                                 gio_connected_cb, d);
out:
  g_clear_object (&effective);
  g_object_unref (address);
  g_object_unref (loopback);
}

static void
test_context_gio_socket (void)
{
  GMainContext *context = g_main_context_new ();
  GioData d = { 0 };

  d.context = context;
  d.loop = new_context_loop (context);
  d.future = evl_loop_create_future (d.loop);
  d.received = g_string_new (NULL);

  evl_loop_call_soon (d.loop, gio_start_cb, &d, NULL);
  run_until_complete_ok (d.loop, d.future);
  g_assert_no_error (d.error);
  g_assert_cmpstr (d.received->str, ==, "hello evloop");
  g_assert_true (d.thread_default_ok);

  /* Shut GIO down and let it deliver its cancellations. */
  g_socket_service_stop (d.service);
  g_socket_listener_close (G_SOCKET_LISTENER (d.service));
  g_io_stream_close (G_IO_STREAM (d.client_conn), NULL, NULL);
  g_io_stream_close (G_IO_STREAM (d.server_conn), NULL, NULL);
  evl_test_run_for (d.loop, 0.05);

  g_clear_object (&d.client_conn);
  g_clear_object (&d.server_conn);
  g_clear_object (&d.client);
  g_clear_object (&d.service);
  g_object_unref (d.future);
  close_loop (d.loop);
  g_string_free (d.received, TRUE);
  g_main_context_unref (context);
}

/* GIO's thread-pool machinery: g_file_load_contents_async() runs in a
 * worker thread and reports through the driven context. */
typedef struct
{
  GMainContext *context;
  EvlFuture    *future;
  char         *contents;
  gsize         length;
  GThread      *ran_in;
  gboolean      thread_default_ok;
  GError       *error;
} FileData;

static void
file_loaded_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      data)
{
  FileData *d = data;

  g_file_load_contents_finish (G_FILE (source), result, &d->contents, &d->length, NULL, &d->error);
  d->ran_in = g_thread_self ();
  d->thread_default_ok = g_main_context_get_thread_default () == d->context;
  complete_future (d->future);
}

typedef struct
{
  FileData *d;
  GFile    *file;
} FileStart;

static void
file_start_cb (gpointer data)
{
  FileStart *start = data;

  g_file_load_contents_async (start->file, NULL, file_loaded_cb, start->d);
}

/* Loads @path with GIO through @loop, which must drive a context. */
static void
load_file_with_loop (EvlLoop    *loop,
                     const char *path,
                     FileData   *d)
{
  FileStart start = { d, g_file_new_for_path (path) };

  d->context = evl_loop_get_context (loop);
  d->future = evl_loop_create_future (loop);
  evl_loop_call_soon (loop, file_start_cb, &start, NULL);
  run_until_complete_ok (loop, d->future);
  g_object_unref (d->future);
  g_object_unref (start.file);
}

static char *
make_temp_file (const char *contents)
{
  GError *error = NULL;
  char *path = NULL;
  int fd = g_file_open_tmp ("evl-bridge-XXXXXX", &path, &error);

  g_assert_no_error (error);
  close (fd);
  g_assert_true (g_file_set_contents (path, contents, -1, &error));
  g_assert_no_error (error);
  return path;
}

static void
test_context_gio_file (void)
{
  GMainContext *context = g_main_context_new ();
  EvlLoop *loop = new_context_loop (context);
  char *path = make_temp_file ("evloop drives GLib");
  FileData d = { 0 };

  load_file_with_loop (loop, path, &d);
  g_assert_no_error (d.error);
  g_assert_cmpstr (d.contents, ==, "evloop drives GLib");
  g_assert_true (d.ran_in == g_thread_self ());
  g_assert_true (d.thread_default_ok);

  g_free (d.contents);
  g_unlink (path);
  g_free (path);
  close_loop (loop);
  g_main_context_unref (context);
}

/* A GLib source that becomes ready when a flag is set from another thread,
 * followed by g_main_context_wakeup(): the classic missed-wakeup case. */
typedef struct
{
  GSource    source;
  gint      *flag;
  EvlFuture *future;
} FlagSource;

static gboolean
flag_source_prepare (GSource *source,
                     gint    *timeout)
{
  *timeout = -1;
  return g_atomic_int_get (((FlagSource *) source)->flag) != 0;
}

static gboolean
flag_source_check (GSource *source)
{
  return g_atomic_int_get (((FlagSource *) source)->flag) != 0;
}

static gboolean
flag_source_dispatch (GSource     *source,
                      GSourceFunc  callback,
                      gpointer     data)
{
  complete_future (((FlagSource *) source)->future);
  return G_SOURCE_REMOVE;
}

static GSourceFuncs flag_source_funcs = {
  flag_source_prepare, flag_source_check, flag_source_dispatch, NULL, NULL, NULL
};

typedef struct
{
  GMainContext *context;
  gint          flag;
  EvlFuture    *future;
  gboolean      use_idle;
} WakeData;

static gpointer
wake_thread (gpointer data)
{
  WakeData *d = data;

  g_usleep (50000);
  if (d->use_idle)
    {
      GSource *idle = g_idle_source_new ();

      g_source_set_callback (idle, complete_future_source_cb, d->future, NULL);
      g_source_attach (idle, d->context);
      g_source_unref (idle);
    }
  else
    {
      g_atomic_int_set (&d->flag, 1);
      g_main_context_wakeup (d->context);
    }
  return NULL;
}

static void
test_context_cross_thread_wakeup (void)
{
  GMainContext *context = g_main_context_new ();
  EvlLoop *loop = new_context_loop (context);
  WakeData d = { context, 0, NULL, FALSE };
  GSource *s;
  GThread *thread;

  /* g_main_context_wakeup() after setting a flag a source checks. */
  d.future = evl_loop_create_future (loop);
  s = g_source_new (&flag_source_funcs, sizeof (FlagSource));
  ((FlagSource *) s)->flag = &d.flag;
  ((FlagSource *) s)->future = d.future;
  g_source_attach (s, context);
  g_source_unref (s);
  thread = g_thread_new ("evl-test-wakeup", wake_thread, &d);
  run_until_complete_ok (loop, d.future);
  g_thread_join (thread);
  g_object_unref (d.future);

  /* g_idle_add() to the context from another thread. */
  d.future = evl_loop_create_future (loop);
  d.use_idle = TRUE;
  thread = g_thread_new ("evl-test-wakeup", wake_thread, &d);
  run_until_complete_ok (loop, d.future);
  g_thread_join (thread);
  g_object_unref (d.future);

  close_loop (loop);
  g_main_context_unref (context);
}

typedef struct
{
  EvlLoop   *loop;
  EvlFuture *future;
} PostData;

static gpointer
post_thread (gpointer data)
{
  PostData *d = data;

  g_usleep (50000);
  evl_handle_unref (evl_loop_call_soon_threadsafe (d->loop, complete_future_cb,
                                                   d->future, NULL));
  return NULL;
}

/* A future completed through call_soon_threadsafe wakes a loop that waits
 * in its own backend for GLib's fds. */
static void
test_context_threadsafe_future (void)
{
  GMainContext *context = g_main_context_new ();
  PostData d = { new_context_loop (context), NULL };
  GThread *thread;

  d.future = evl_loop_create_future (d.loop);
  thread = g_thread_new ("evl-test-post", post_thread, &d);
  run_until_complete_ok (d.loop, d.future);
  g_thread_join (thread);

  g_object_unref (d.future);
  close_loop (d.loop);
  g_main_context_unref (context);
}

typedef struct
{
  GMainContext *context;
  GMutex        lock;
  GCond         cond;
  gboolean      acquired;
  gboolean      release;
} OwnerData;

static gpointer
owner_thread (gpointer data)
{
  OwnerData *d = data;

  g_assert_true (g_main_context_acquire (d->context));
  g_mutex_lock (&d->lock);
  d->acquired = TRUE;
  g_cond_broadcast (&d->cond);
  while (!d->release)
    g_cond_wait (&d->cond, &d->lock);
  g_mutex_unlock (&d->lock);
  g_main_context_release (d->context);
  return NULL;
}

static void
test_context_owned_elsewhere (void)
{
  GMainContext *context = g_main_context_new ();
  EvlLoop *loop = new_context_loop (context);
  OwnerData d = { context };
  EvlFuture *future;
  GError *error = NULL;
  GThread *thread;

  g_mutex_init (&d.lock);
  g_cond_init (&d.cond);
  thread = g_thread_new ("evl-test-owner", owner_thread, &d);
  g_mutex_lock (&d.lock);
  while (!d.acquired)
    g_cond_wait (&d.cond, &d.lock);
  g_mutex_unlock (&d.lock);

  /* A clear error, not a hang. */
  g_assert_false (evl_loop_run_forever (loop, &error));
  g_assert_error (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, "another thread"));
  g_clear_error (&error);
  g_assert_false (evl_loop_is_running (loop));
  g_assert_null (evl_get_running_loop ());

  future = evl_loop_create_future (loop);
  g_assert_false (evl_loop_run_until_complete (loop, future, &error));
  g_assert_error (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_FAILED);
  g_clear_error (&error);
  g_object_unref (future);

  g_mutex_lock (&d.lock);
  d.release = TRUE;
  g_cond_broadcast (&d.cond);
  g_mutex_unlock (&d.lock);
  g_thread_join (thread);

  /* Usable once the other thread lets go. */
  evl_loop_call_soon (loop, evl_test_stop_cb, loop, NULL);
  g_assert_true (evl_loop_run_forever (loop, &error));
  g_assert_no_error (error);

  close_loop (loop);
  g_mutex_clear (&d.lock);
  g_cond_clear (&d.cond);
  g_main_context_unref (context);
}

static gboolean
never_cb (gpointer data)
{
  (*(guint *) data)++;
  return G_SOURCE_CONTINUE;
}

static gboolean
never_fd_cb (gint         fd,
             GIOCondition condition,
             gpointer     data)
{
  (*(guint *) data)++;
  return G_SOURCE_CONTINUE;
}

static void
test_context_idle_cpu (void)
{
  GMainContext *context = g_main_context_new ();
  EvlLoop *loop = new_context_loop (context);
  guint never = 0;
  GSource *s;
  int fds[2];
  double cpu0, wall0;

  /* GLib has a far timeout and a quiet fd; the loop a far timer. */
  evl_test_socketpair (fds);
  s = g_timeout_source_new_seconds (60);
  g_source_set_callback (s, never_cb, &never, NULL);
  g_source_attach (s, context);
  g_source_unref (s);
  s = g_unix_fd_source_new (fds[0], G_IO_IN);
  g_source_set_callback (s, G_SOURCE_FUNC (never_fd_cb), &never, NULL);
  g_source_attach (s, context);
  g_source_unref (s);
  evl_loop_call_later (loop, 60.0, evl_test_count, &never, NULL);

  cpu0 = evl_test_cpu_time ();
  wall0 = wall_seconds ();
  evl_test_run_for (loop, 0.3);
  assert_idle (cpu0, wall0, "loop driving a context, idle");
  g_assert_cmpuint (never, ==, 0);

  close_loop (loop);
  g_main_context_unref (context);
  close (fds[0]);
  close (fds[1]);
}

/* Once a run ends, the fds of the context it drove must not stay in the
 * loop's backend: nobody dispatches them, and a ready one would make the
 * loop's poll fd ready forever (a busy GLib loop where the loop is
 * attached). */
static void
test_context_fds_released (void)
{
  GMainContext *context = g_main_context_new ();
  EvlLoop *loop = new_context_loop (context);
  GMainContext *other = g_main_context_new ();
  GMainLoop *ml = g_main_loop_new (other, FALSE);
  guint fired = 0;
  GSource *s, *watch;
  int fds[2];
  double cpu0, wall0;

  evl_test_socketpair (fds);
  watch = g_unix_fd_source_new (fds[0], G_IO_IN);
  g_source_set_callback (watch, G_SOURCE_FUNC (never_fd_cb), &fired, NULL);
  g_source_attach (watch, context);
  evl_test_run_for (loop, 0.02);
  g_assert_cmpuint (fired, ==, 0);

  /* The watched fd becomes ready while nobody iterates @context. */
  g_assert_cmpint (write (fds[1], "x", 1), ==, 1);
  evl_loop_attach (loop, other);
  s = g_timeout_source_new (300);
  g_source_set_callback (s, quit_source_cb, ml, NULL);
  g_source_attach (s, other);
  g_source_unref (s);
  cpu0 = evl_test_cpu_time ();
  wall0 = wall_seconds ();
  g_main_loop_run (ml);
  assert_idle (cpu0, wall0, "loop attached after driving another context");
  g_assert_cmpuint (fired, ==, 0);

  /* The next run watches the fd again and dispatches its source. */
  evl_test_run_for (loop, 0.02);
  g_assert_cmpuint (fired, >=, 1);

  g_source_destroy (watch);
  g_source_unref (watch);
  close_loop (loop);
  g_main_loop_unref (ml);
  g_main_context_unref (other);
  g_main_context_unref (context);
  close (fds[0]);
  close (fds[1]);
}

/* GLib closes an fd and watches a new one with the same number within one
 * dispatch: the loop's backend must watch the new file. */
typedef struct
{
  EvlFuture *future;
  GMainContext *context;
  int        old_fds[2];
  int        new_fds[2];
  gboolean   reused;
} ReuseData;

static gboolean
reuse_second_cb (gint         fd,
                 GIOCondition condition,
                 gpointer     data)
{
  ReuseData *d = data;
  char c;

  g_assert_cmpint (read (fd, &c, 1), ==, 1);
  complete_future (d->future);
  return G_SOURCE_REMOVE;
}

static void
reuse_write_cb (gpointer data)
{
  ReuseData *d = data;

  g_assert_cmpint (write (d->new_fds[1], "y", 1), ==, 1);
}

static gboolean
reuse_first_cb (gint         fd,
                GIOCondition condition,
                gpointer     data)
{
  ReuseData *d = data;
  GSource *s;

  close (d->old_fds[0]);
  close (d->old_fds[1]);
  evl_test_socketpair (d->new_fds);
  d->reused = d->new_fds[0] == d->old_fds[0] || d->new_fds[0] == d->old_fds[1];
  s = g_unix_fd_source_new (d->new_fds[0], G_IO_IN);
  g_source_set_callback (s, G_SOURCE_FUNC (reuse_second_cb), d, NULL);
  g_source_attach (s, d->context);
  g_source_unref (s);
  evl_loop_call_later (evl_get_running_loop (), 0.02, reuse_write_cb, d, NULL);
  return G_SOURCE_REMOVE;
}

static void
test_context_fd_reuse (void)
{
  GMainContext *context = g_main_context_new ();
  EvlLoop *loop = new_context_loop (context);
  ReuseData d = { NULL, context };
  GSource *s;

  d.future = evl_loop_create_future (loop);
  evl_test_socketpair (d.old_fds);
  s = g_unix_fd_source_new (d.old_fds[0], G_IO_IN);
  g_source_set_callback (s, G_SOURCE_FUNC (reuse_first_cb), &d, NULL);
  g_source_attach (s, context);
  g_source_unref (s);
  g_assert_cmpint (write (d.old_fds[1], "x", 1), ==, 1);

  run_until_complete_ok (loop, d.future);
  g_test_message ("fd number reused: %s", d.reused ? "yes" : "no");

  g_object_unref (d.future);
  close_loop (loop);
  g_main_context_unref (context);
  close (d.new_fds[0]);
  close (d.new_fds[1]);
}
/* Per-thread loops ---------------------------------------------------------- */

#define N_THREADS 3

typedef struct
{
  const char   *path;
  GMainContext *context;     /* a reference, so addresses stay distinct */
  gboolean      context_is_default;
  gboolean      ok;
  char         *contents;
} ThreadResult;

static gpointer
per_thread_func (gpointer data)
{
  ThreadResult *r = data;
  EvlLoop *loop = evl_new_event_loop ();
  FileData d = { 0 };

  g_assert_nonnull (loop);
  if (evl_loop_get_context (loop) == NULL)
    {
      /* A policy that gives no context: make the loop ourselves. */
      GMainContext *context = g_main_context_new ();

      close_loop (loop);
      loop = new_context_loop (context);
      g_main_context_unref (context);
    }
  r->context = g_main_context_ref (evl_loop_get_context (loop));
  r->context_is_default = r->context == g_main_context_default ();

  load_file_with_loop (loop, r->path, &d);
  r->ok = d.error == NULL && d.ran_in == g_thread_self () && d.thread_default_ok;
  g_clear_error (&d.error);
  r->contents = d.contents;
  close_loop (loop);
  return NULL;
}

static void
test_per_thread_loops (void)
{
  ThreadResult results[N_THREADS] = { { 0 } };
  GThread *threads[N_THREADS];
  char *paths[N_THREADS];
  int i, j;

  for (i = 0; i < N_THREADS; i++)
    {
      char *contents = g_strdup_printf ("thread %d", i);

      paths[i] = make_temp_file (contents);
      g_free (contents);
      results[i].path = paths[i];
      threads[i] = g_thread_new ("evl-test-per-thread", per_thread_func, &results[i]);
    }
  for (i = 0; i < N_THREADS; i++)
    g_thread_join (threads[i]);

  for (i = 0; i < N_THREADS; i++)
    {
      char *expected = g_strdup_printf ("thread %d", i);

      g_assert_nonnull (results[i].context);
      g_assert_false (results[i].context_is_default);
      for (j = 0; j < i; j++)
        g_assert_true (results[i].context != results[j].context);
      g_assert_true (results[i].ok);
      g_assert_cmpstr (results[i].contents, ==, expected);
      g_free (expected);
      g_free (results[i].contents);
      g_main_context_unref (results[i].context);
      g_unlink (paths[i]);
      g_free (paths[i]);
    }
}

int
main (int   argc,
      char *argv[])
{
  if (!bridge_test_init (&argc, &argv))
    return g_test_run ();

  g_test_add_func ("/Evl/Bridge/context/timeout", test_context_timeout);
  g_test_add_func ("/Evl/Bridge/context/thread-default", test_context_thread_default);
  g_test_add_func ("/Evl/Bridge/context/gio-socket", test_context_gio_socket);
  g_test_add_func ("/Evl/Bridge/context/gio-file", test_context_gio_file);
  g_test_add_func ("/Evl/Bridge/context/cross-thread-wakeup", test_context_cross_thread_wakeup);
  g_test_add_func ("/Evl/Bridge/context/threadsafe-future", test_context_threadsafe_future);
  g_test_add_func ("/Evl/Bridge/context/owned-elsewhere", test_context_owned_elsewhere);
  g_test_add_func ("/Evl/Bridge/context/idle-cpu", test_context_idle_cpu);
  g_test_add_func ("/Evl/Bridge/context/fds-released", test_context_fds_released);
  g_test_add_func ("/Evl/Bridge/context/fd-reuse", test_context_fd_reuse);

  g_test_add_func ("/Evl/Bridge/per-thread", test_per_thread_loops);

  return g_test_run ();
}
