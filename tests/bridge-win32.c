/* bridge-win32.c: the GLib bridges on Windows, where GLib waits for HANDLEs
 *
 * evloop inside GLib: the loop's GSource gives GLib one HANDLE (the
 * selectors' WSA event, the IOCP backend's event), which must wake GLib for
 * socket readiness and cross-thread posts with no polling delay. GLib
 * inside evloop: a loop driving a GMainContext waits for the context's
 * HANDLEs next to its sockets. And the selectors watch plain waitable
 * HANDLEs. Built on Windows only (tests/meson.build); each test runs on
 * every loop kind, and the watchdog turns a lost wakeup into a failure.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "evl-test-util.h"
#include "evl-test-bridge.h"

#include <gio/gnetworking.h>
#include <windows.h>

typedef struct
{
  GMainLoop *ml;
  EvlLoop   *loop;
  int        fd;
  gint       hits;
  char       byte;
} ReadData;

static void
read_cb (gpointer data)
{
  ReadData *d = data;

  g_assert_cmpint (evl_test_sock_read (d->fd, &d->byte, 1), ==, 1);
  d->hits++;
  evl_loop_remove_reader (d->loop, d->fd);
  g_main_loop_quit (d->ml);
}

static gpointer
write_later_thread (gpointer data)
{
  int fd = GPOINTER_TO_INT (data);

  g_usleep (20000);
  g_assert_cmpint (evl_test_sock_write (fd, "x", 1), ==, 1);
  return NULL;
}

/* A socket becoming readable while GLib waits wakes GLib through the
 * loop's HANDLE, and the loop's reader runs from g_main_loop_run(). */
static void
test_source_socket (void)
{
  GMainContext *context = g_main_context_new ();
  ReadData d = { 0 };
  GError *error = NULL;
  GThread *thread;
  int fds[2];

  EVL_TEST_NEW_LOOP_OR_SKIP (d.loop);
  evl_test_watchdog_start (30);
  d.ml = g_main_loop_new (context, FALSE);
  evl_test_socketpair (fds);
  d.fd = fds[0];
  g_assert_true (evl_loop_add_reader (d.loop, fds[0], read_cb, &d, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (evl_loop_attach (d.loop, context), >, 0);

  thread = g_thread_new ("writer", write_later_thread, GINT_TO_POINTER (fds[1]));
  g_main_loop_run (d.ml);
  g_thread_join (thread);
  g_assert_cmpint (d.hits, ==, 1);
  g_assert_cmpint (d.byte, ==, 'x');

  evl_test_watchdog_cancel ();
  evl_test_close_loop (d.loop);
  evl_test_sock_close (fds[0]);
  evl_test_sock_close (fds[1]);
  g_main_loop_unref (d.ml);
  g_main_context_unref (context);
}

static void
posted_cb (gpointer data)
{
  g_main_loop_quit (data);
}

static gpointer
post_thread (gpointer data)
{
  EvlLoop *loop = data;

  g_usleep (20000);
  evl_handle_unref (evl_loop_call_soon_threadsafe (loop, posted_cb,
                                                   g_object_get_data (G_OBJECT (loop), "ml"), NULL));
  return NULL;
}

/* call_soon_threadsafe() from another thread wakes GLib. */
static void
test_source_threadsafe (void)
{
  GMainContext *context = g_main_context_new ();
  GMainLoop *ml = g_main_loop_new (context, FALSE);
  EvlLoop *loop;
  GThread *thread;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  evl_test_watchdog_start (30);
  g_object_set_data (G_OBJECT (loop), "ml", ml);
  g_assert_cmpuint (evl_loop_attach (loop, context), >, 0);
  thread = g_thread_new ("poster", post_thread, loop);
  g_main_loop_run (ml);
  g_thread_join (thread);

  evl_test_watchdog_cancel ();
  evl_test_close_loop (loop);
  g_main_loop_unref (ml);
  g_main_context_unref (context);
}

/* evloop inside GLib with HANDLE readers: GLib must wait for the HANDLEs
 * themselves. On a selector loop the source gives GLib the selector's
 * event (signalled by sockets only) and every HANDLE a reader watches; a
 * HANDLE signalled while GLib waits wakes it, with nothing else pending in
 * the loop (no timer, no socket) that would wake it anyway. */

typedef struct
{
  EvlLoop   *loop;
  GMainLoop *ml;        /* quit when the reader ran, if not NULL */
  HANDLE     event;
  gint       hits;
  gboolean   remove;    /* the reader removes itself */
} HandleReader;

static void
handle_reader_cb (gpointer data)
{
  HandleReader *r = data;

  r->hits++;
  if (r->remove)
    g_assert_true (evl_loop_remove_reader (r->loop, (int) (gintptr) r->event));
  if (r->ml != NULL)
    g_main_loop_quit (r->ml);
}

static gpointer
set_event_later_thread (gpointer data)
{
  g_usleep (100000);
  g_assert_true (SetEvent (data));
  return NULL;
}

static void
add_handle_reader (HandleReader *r)
{
  GError *error = NULL;

  g_assert_true (evl_loop_add_reader (r->loop, (int) (gintptr) r->event, handle_reader_cb, r,
                                      NULL, &error));
  g_assert_no_error (error);
}

/* Iterates @context, blocking, until *@hits is not 0; returns how many
 * iterations that took. A HANDLE that GLib does not wait for hangs here
 * (the watchdog fails the test); one that stays in GLib's wait after its
 * reader went makes GLib spin (many iterations). */
static guint
iterate_until (GMainContext *context,
               const gint   *hits)
{
  guint n = 0;

  while (*hits == 0)
    {
      g_main_context_iteration (context, TRUE);
      n++;
    }
  return n;
}

/* Runs what is pending in @context, not blocking. A bounded number of
 * iterations: a source that keeps GLib busy must not hang the test here
 * (iterate_until() then counts too many iterations). */
static void
drain (GMainContext *context)
{
  for (guint i = 0; i < 10 && g_main_context_iteration (context, FALSE); i++)
    ;
}

/* The reader is added before the loop is attached, and runs from
 * g_main_loop_run() when another thread sets the event. */
static void
test_source_handle_reader (void)
{
  GMainContext *context = g_main_context_new ();
  HandleReader r = { 0 };
  GThread *thread;

  EVL_TEST_NEW_LOOP_OR_SKIP (r.loop);
  evl_test_watchdog_start (30);
  r.ml = g_main_loop_new (context, FALSE);
  r.event = CreateEventW (NULL, TRUE, FALSE, NULL);
  g_assert_nonnull (r.event);
  r.remove = TRUE;
  add_handle_reader (&r);
  g_assert_cmpuint (evl_loop_attach (r.loop, context), >, 0);

  thread = g_thread_new ("setter", set_event_later_thread, r.event);
  g_main_loop_run (r.ml);
  g_thread_join (thread);
  g_assert_cmpint (r.hits, ==, 1);

  evl_test_watchdog_cancel ();
  evl_test_close_loop (r.loop);
  CloseHandle (r.event);
  g_main_loop_unref (r.ml);
  g_main_context_unref (context);
}

/* The reader is added while the loop is attached (GLib has waited
 * already), on an auto-reset event (GLib's wait takes its signal: the
 * loop must still learn that it fired), and runs from
 * g_main_context_iteration(TRUE) in a few iterations. */
static void
test_source_handle_reader_attached (void)
{
  GMainContext *context = g_main_context_new ();
  HandleReader r = { 0 };
  GThread *thread;
  guint n;

  EVL_TEST_NEW_LOOP_OR_SKIP (r.loop);
  evl_test_watchdog_start (30);
  g_assert_cmpuint (evl_loop_attach (r.loop, context), >, 0);
  drain (context);
  r.event = CreateEventW (NULL, FALSE, FALSE, NULL);
  g_assert_nonnull (r.event);
  add_handle_reader (&r);

  thread = g_thread_new ("setter", set_event_later_thread, r.event);
  n = iterate_until (context, &r.hits);
  g_thread_join (thread);
  g_test_message ("%u iterations", n);
  g_assert_cmpint (r.hits, ==, 1);
  g_assert_cmpuint (n, <=, 10);
  /* Once more, the reader still in place. */
  r.hits = 0;
  thread = g_thread_new ("setter", set_event_later_thread, r.event);
  n = iterate_until (context, &r.hits);
  g_thread_join (thread);
  g_assert_cmpint (r.hits, ==, 1);
  g_assert_cmpuint (n, <=, 10);
  g_assert_true (evl_loop_remove_reader (r.loop, (int) (gintptr) r.event));

  evl_test_watchdog_cancel ();
  evl_test_close_loop (r.loop);
  CloseHandle (r.event);
  g_main_context_unref (context);
}

/* A removed reader's HANDLE leaves GLib's wait: its event, set (and left
 * set), neither runs it nor keeps waking GLib; another reader's still
 * wakes it. */
static void
test_source_handle_reader_removed (void)
{
  GMainContext *context = g_main_context_new ();
  HandleReader a = { 0 }, b = { 0 };
  GThread *thread;
  guint n;

  EVL_TEST_NEW_LOOP_OR_SKIP (a.loop);
  b.loop = a.loop;
  evl_test_watchdog_start (30);
  a.event = CreateEventW (NULL, TRUE, FALSE, NULL);
  b.event = CreateEventW (NULL, TRUE, FALSE, NULL);
  b.remove = TRUE;
  add_handle_reader (&a);
  g_assert_cmpuint (evl_loop_attach (a.loop, context), >, 0);
  add_handle_reader (&b);
  drain (context);
  g_assert_true (evl_loop_remove_reader (a.loop, (int) (gintptr) a.event));
  g_assert_true (SetEvent (a.event));

  thread = g_thread_new ("setter", set_event_later_thread, b.event);
  n = iterate_until (context, &b.hits);
  g_thread_join (thread);
  g_test_message ("%u iterations", n);
  g_assert_cmpint (a.hits, ==, 0);
  g_assert_cmpint (b.hits, ==, 1);
  g_assert_cmpuint (n, <=, 10);

  evl_test_watchdog_cancel ();
  evl_test_close_loop (a.loop);
  CloseHandle (a.event);
  CloseHandle (b.event);
  g_main_context_unref (context);
}

/* More HANDLEs than one WaitForMultipleObjects() takes (64): the proactor
 * watches all 70; a selector refuses those past its 63 with
 * EVL_LOOP_ERROR_NOT_SUPPORTED, and GLib then waits for 63 HANDLEs and the
 * selector's event (and its context's own). The last reader's event wakes
 * GLib, then all the others run. */
static void
test_source_handle_reader_many (void)
{
  GMainContext *context = g_main_context_new ();
  HandleReader r[70] = { 0 };
  EvlLoop *loop;
  GThread *thread;
  guint i, n_ok = 0, n_hits;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  evl_test_watchdog_start (60);
  for (i = 0; i < G_N_ELEMENTS (r); i++)
    {
      GError *error = NULL;

      r[i].loop = loop;
      r[i].remove = TRUE;
      r[i].event = CreateEventW (NULL, TRUE, FALSE, NULL);
      g_assert_nonnull (r[i].event);
      if (evl_loop_add_reader (loop, (int) (gintptr) r[i].event, handle_reader_cb, &r[i],
                               NULL, &error))
        {
          g_assert_no_error (error);
          g_assert_cmpuint (i, ==, n_ok);
          n_ok++;
        }
      else
        {
          g_assert_error (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_NOT_SUPPORTED);
          g_clear_error (&error);
        }
    }
  g_test_message ("%u HANDLE readers of %u", n_ok, (guint) G_N_ELEMENTS (r));
  if (g_str_equal (evl_test_loop_kind (), "proactor"))
    g_assert_cmpuint (n_ok, ==, G_N_ELEMENTS (r));
  else
    g_assert_cmpuint (n_ok, ==, 63);
  g_assert_cmpuint (evl_loop_attach (loop, context), >, 0);
  drain (context);

  thread = g_thread_new ("setter", set_event_later_thread, r[n_ok - 1].event);
  iterate_until (context, &r[n_ok - 1].hits);
  g_thread_join (thread);
  for (i = 0; i + 1 < n_ok; i++)
    g_assert_cmpint (r[i].hits, ==, 0);
  for (i = 0; i + 1 < n_ok; i++)
    g_assert_true (SetEvent (r[i].event));
  do
    {
      g_main_context_iteration (context, TRUE);
      for (i = 0, n_hits = 0; i < n_ok; i++)
        n_hits += r[i].hits;
    }
  while (n_hits < n_ok);
  for (i = 0; i < n_ok; i++)
    g_assert_cmpint (r[i].hits, ==, 1);

  evl_test_watchdog_cancel ();
  evl_test_close_loop (loop);
  for (i = 0; i < G_N_ELEMENTS (r); i++)
    CloseHandle (r[i].event);
  g_main_context_unref (context);
}

typedef struct
{
  EvlFuture *future;
  HANDLE     event;
  GPollFD    pfd;
  gint       dispatched;
} EventSource;

static gboolean
event_prepare (GSource *source,
               gint    *timeout)
{
  *timeout = -1;
  return FALSE;
}

static gboolean
event_check (GSource *source)
{
  EventSource *es = *(EventSource **) (source + 1);

  return es->pfd.revents != 0;
}

static gboolean
event_dispatch (GSource     *source,
                GSourceFunc  callback,
                gpointer     user_data)
{
  EventSource *es = *(EventSource **) (source + 1);
  GValue v = G_VALUE_INIT;

  es->dispatched++;
  g_value_init (&v, G_TYPE_INT);
  g_value_set_int (&v, es->dispatched);
  if (!evl_future_is_done (es->future))
    g_assert_true (evl_future_set_result (es->future, &v, NULL));
  g_value_unset (&v);
  return G_SOURCE_REMOVE;
}

static GSourceFuncs event_funcs = { event_prepare, event_check, event_dispatch, NULL, NULL, NULL };

static gpointer
set_event_thread (gpointer data)
{
  g_usleep (20000);
  SetEvent (data);
  return NULL;
}

/* A loop driving a GMainContext waits for the context's HANDLEs: a GLib
 * source polling an event object is dispatched when another thread sets
 * the event. */
static void
test_context_handle (void)
{
  GMainContext *context = g_main_context_new ();
  EvlLoop *loop = new_context_loop (context);
  EventSource es = { 0 };
  GSource *source;
  GThread *thread;
  GError *error = NULL;

  evl_test_watchdog_start (30);
  es.future = evl_loop_create_future (loop);
  es.event = CreateEventW (NULL, TRUE, FALSE, NULL);
  g_assert_nonnull (es.event);
  source = g_source_new (&event_funcs, sizeof (GSource) + sizeof (EventSource *));
  *(EventSource **) (source + 1) = &es;
  es.pfd.fd = (gintptr) es.event;
  es.pfd.events = G_IO_IN;
  g_source_add_poll (source, &es.pfd);
  g_source_attach (source, context);

  thread = g_thread_new ("setter", set_event_thread, es.event);
  g_assert_true (evl_loop_run_until_complete (loop, es.future, &error));
  g_assert_no_error (error);
  g_thread_join (thread);
  g_assert_cmpint (es.dispatched, ==, 1);

  evl_test_watchdog_cancel ();
  g_source_destroy (source);
  g_source_unref (source);
  g_object_unref (es.future);
  close_loop (loop);
  CloseHandle (es.event);
  g_main_context_unref (context);
}

static void
event_ready_cb (gpointer data)
{
  EvlLoop *loop = data;

  evl_loop_stop (loop);
}

/* add_reader() on an event HANDLE: "readable" while it is signalled. */
static void
test_reader_handle (void)
{
  EvlLoop *loop;
  HANDLE event;
  GThread *thread;
  GError *error = NULL;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  evl_test_watchdog_start (30);
  event = CreateEventW (NULL, TRUE, FALSE, NULL);
  g_assert_true (evl_loop_add_reader (loop, (int) (gintptr) event, event_ready_cb, loop, NULL, &error));
  g_assert_no_error (error);
  thread = g_thread_new ("setter", set_event_thread, event);
  g_assert_true (evl_loop_run_forever (loop, &error));
  g_assert_no_error (error);
  g_thread_join (thread);
  g_assert_true (evl_loop_remove_reader (loop, (int) (gintptr) event));

  evl_test_watchdog_cancel ();
  evl_test_close_loop (loop);
  CloseHandle (event);
}

int
main (int    argc,
      char **argv)
{
  evl_test_init (&argc, &argv);

  g_test_add_func ("/Evl/BridgeWin32/source/socket", test_source_socket);
  g_test_add_func ("/Evl/BridgeWin32/source/threadsafe", test_source_threadsafe);
  g_test_add_func ("/Evl/BridgeWin32/source/handle-reader", test_source_handle_reader);
  g_test_add_func ("/Evl/BridgeWin32/source/handle-reader-attached",
                   test_source_handle_reader_attached);
  g_test_add_func ("/Evl/BridgeWin32/source/handle-reader-removed",
                   test_source_handle_reader_removed);
  g_test_add_func ("/Evl/BridgeWin32/source/handle-reader-many", test_source_handle_reader_many);
  g_test_add_func ("/Evl/BridgeWin32/context/handle", test_context_handle);
  g_test_add_func ("/Evl/BridgeWin32/reader/handle", test_reader_handle);

  return g_test_run ();
}
