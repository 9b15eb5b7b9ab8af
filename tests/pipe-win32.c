/* pipe-win32.c: read and write pipe transports over named pipe HANDLEs
 * opened for overlapped I/O, on the Windows loop kind under test
 * (tests/pipe.c is the POSIX version)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "evl-test-protocol.h"

#include <stdio.h>
#include <wchar.h>

#include <windows.h>

static EvlTransport *
connect_pipe (EvlLoop     *loop,
              TestFactory *f,
              int          fd,
              gboolean     writing,
              TestProto  **proto,
              GError     **error)
{
  TestWaiter w;
  EvlTransport *t;
  EvlProtocol *p = NULL;

  test_waiter_init (&w, loop);
  if (writing)
    evl_loop_connect_write_pipe_async (loop, (EvlProtocolFactory) test_factory_make, f, NULL,
                                       fd, NULL, test_waiter_cb, &w);
  else
    evl_loop_connect_read_pipe_async (loop, (EvlProtocolFactory) test_factory_make, f, NULL,
                                      fd, NULL, test_waiter_cb, &w);
  test_waiter_wait (&w);
  t = writing ? evl_loop_connect_write_pipe_finish (loop, w.result, &p, error)
              : evl_loop_connect_read_pipe_finish (loop, w.result, &p, error);
  test_waiter_clear (&w);
  if (proto != NULL)
    *proto = (TestProto *) p;
  else
    g_clear_object (&p);
  return t;
}

/* A named pipe: @server, duplex and overlapped, and @client, overlapped
 * when @client_overlapped (else synchronous: the test's own end, written
 * and read with plain blocking calls), with @client_access. */
static void
make_pipe (HANDLE   *server,
           HANDLE   *client,
           DWORD     client_access,
           gboolean  client_overlapped)
{
  static int counter;
  wchar_t name[96];
  BOOL connected;

  _snwprintf (name, G_N_ELEMENTS (name), L"\\\\.\\pipe\\evl-test-pipe-%lu-%d",
              (unsigned long) GetCurrentProcessId (), counter++);
  *server = CreateNamedPipeW (name, PIPE_ACCESS_DUPLEX | FILE_FLAG_OVERLAPPED | FILE_FLAG_FIRST_PIPE_INSTANCE,
                              PIPE_TYPE_BYTE | PIPE_READMODE_BYTE | PIPE_WAIT, 1,
                              64 * 1024, 64 * 1024, 0, NULL);
  g_assert_true (*server != INVALID_HANDLE_VALUE);
  *client = CreateFileW (name, client_access, 0, NULL, OPEN_EXISTING,
                         client_overlapped ? FILE_FLAG_OVERLAPPED : 0, NULL);
  g_assert_true (*client != INVALID_HANDLE_VALUE);
  /* Connected by CreateFileW already. */
  connected = ConnectNamedPipe (*server, NULL);
  g_assert_true (connected || GetLastError () == ERROR_PIPE_CONNECTED);
}

static int
to_fd (HANDLE h)
{
  g_assert_true ((guintptr) h <= G_MAXINT);
  return (int) (guintptr) h;
}

static void
assert_not_inheritable (int fd)
{
  DWORD flags = 0;

  g_assert_true (GetHandleInformation ((HANDLE) (guintptr) fd, &flags));
  g_assert_false (flags & HANDLE_FLAG_INHERIT);
}

/* The read side: bytes written into the pipe arrive; closing the write
 * end gives eof, then connection_lost (NULL). */
static void
test_read_pipe (void)
{
  EvlLoop *loop;
  TestFactory f;
  EvlTransport *t;
  TestProto *p;
  GError *error = NULL;
  HANDLE server, client;
  DWORD n;
  guint before = evl_test_count_fds ();

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  test_factory_init (&f);
  make_pipe (&server, &client, GENERIC_WRITE, FALSE);
  SetHandleInformation (server, HANDLE_FLAG_INHERIT, HANDLE_FLAG_INHERIT);
  t = connect_pipe (loop, &f, to_fd (server), FALSE, &p, &error);
  g_assert_no_error (error);
  g_assert_false (evl_transport_can_write_eof (t));
  g_assert_true (evl_transport_is_reading (t));
  g_assert_cmpint (evl_transport_get_fd (t), ==, to_fd (server));
  g_assert_null (evl_transport_get_peer_address (t));
  assert_not_inheritable (to_fd (server));

  p->expect = 5;
  g_assert_true (WriteFile (client, "hello", 5, &n, NULL));
  test_run_until (loop, &p->got_expected);
  g_assert_cmpmem (p->data->data, p->data->len, "hello", 5);
  p->expect = 11;
  p->got_expected = FALSE;
  g_assert_true (WriteFile (client, " world", 6, &n, NULL));
  test_run_until (loop, &p->got_expected);
  g_assert_cmpmem (p->data->data, p->data->len, "hello world", 11);
  CloseHandle (client);
  test_run_until (loop, &p->lost);
  g_assert_cmpuint (p->n_eof, ==, 1);
  g_assert_no_error (p->error);

  g_object_unref (t);
  g_object_unref (p);
  test_factory_clear (&f);
  evl_test_close_loop (loop);
  g_assert_cmpuint (evl_test_count_fds (), ==, before);
}

/* A write pipe into a read pipe on the same loop: 1 MiB with flow control,
 * then write_eof closes the pipe and the reader sees eof. */
static void
test_write_to_read_pipe (void)
{
  EvlLoop *loop;
  TestFactory rf, wf;
  EvlTransport *rt, *wt;
  TestProto *rp, *wp;
  GError *error = NULL;
  GBytes *data = test_pattern (1024 * 1024, 3);
  HANDLE server, client;
  guint before = evl_test_count_fds ();
  gsize off;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  test_factory_init (&rf);
  test_factory_init (&wf);
  make_pipe (&server, &client, GENERIC_READ | GENERIC_WRITE, TRUE);
  rt = connect_pipe (loop, &rf, to_fd (client), FALSE, &rp, &error);
  g_assert_no_error (error);
  wt = connect_pipe (loop, &wf, to_fd (server), TRUE, &wp, &error);
  g_assert_no_error (error);
  g_assert_true (evl_transport_can_write_eof (wt));

  rp->expect = g_bytes_get_size (data);
  for (off = 0; off < g_bytes_get_size (data); off += 64 * 1024)
    {
      GBytes *piece = g_bytes_new_from_bytes (data, off, 64 * 1024);

      evl_transport_write (wt, piece);
      g_bytes_unref (piece);
    }
  g_assert_cmpuint (wp->n_pause, ==, 1);
  evl_transport_write_eof (wt);
  g_assert_true (evl_transport_is_closing (wt));
  test_run_until (loop, &rp->lost);
  g_assert_cmpuint (rp->n_eof, ==, 1);
  g_assert_cmpmem (rp->data->data, rp->data->len,
                   g_bytes_get_data (data, NULL), g_bytes_get_size (data));
  test_run_until (loop, &wp->lost);
  g_assert_no_error (wp->error);
  g_assert_cmpuint (wp->n_resume, ==, 1);

  g_object_unref (rt);
  g_object_unref (wt);
  g_object_unref (rp);
  g_object_unref (wp);
  g_bytes_unref (data);
  test_factory_clear (&rf);
  test_factory_clear (&wf);
  evl_test_close_loop (loop);
  g_assert_cmpuint (evl_test_count_fds (), ==, before);
}

/* pause_reading holds what arrives (the read in flight completes and is
 * kept); resume_reading delivers it, in order. */
static void
test_pause_resume (void)
{
  EvlLoop *loop;
  TestFactory f;
  EvlTransport *t;
  TestProto *p;
  GError *error = NULL;
  HANDLE server, client;
  DWORD n;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  test_factory_init (&f);
  make_pipe (&server, &client, GENERIC_WRITE, FALSE);
  t = connect_pipe (loop, &f, to_fd (server), FALSE, &p, &error);
  g_assert_no_error (error);
  evl_transport_pause_reading (t);
  g_assert_false (evl_transport_is_reading (t));
  g_assert_true (WriteFile (client, "abc", 3, &n, NULL));
  CloseHandle (client);
  /* Nothing is delivered while paused, however long the loop runs. */
  evl_test_run_for (loop, 0.2);
  g_assert_cmpuint (p->data->len, ==, 0);
  g_assert_cmpuint (p->n_eof, ==, 0);
  p->expect = 3;
  evl_transport_resume_reading (t);
  test_run_until (loop, &p->lost);
  g_assert_cmpmem (p->data->data, p->data->len, "abc", 3);
  g_assert_cmpuint (p->n_eof, ==, 1);
  g_assert_no_error (p->error);

  g_object_unref (t);
  g_object_unref (p);
  test_factory_clear (&f);
  evl_test_close_loop (loop);
}

/* The reader goes away: writing gives connection_lost with
 * G_IO_ERROR_BROKEN_PIPE. */
static void
test_epipe (void)
{
  EvlLoop *loop;
  TestFactory f;
  EvlTransport *t;
  TestProto *p;
  GError *error = NULL;
  GBytes *data = test_pattern (100, 4);
  HANDLE server, client;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  test_factory_init (&f);
  make_pipe (&server, &client, GENERIC_READ, FALSE);
  t = connect_pipe (loop, &f, to_fd (server), TRUE, &p, &error);
  g_assert_no_error (error);
  CloseHandle (client);
  /* Written before the loop noticed the reader went away. */
  evl_transport_write (t, data);
  test_run_until (loop, &p->lost);
  g_assert_error (p->error, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE);
  g_object_unref (t);
  g_object_unref (p);
  g_bytes_unref (data);
  test_factory_clear (&f);
  evl_test_close_loop (loop);
}

/* The reader goes away while data is buffered: an error, too. */
static void
test_reader_gone_while_buffered (void)
{
  EvlLoop *loop;
  TestFactory f;
  EvlTransport *t;
  TestProto *p;
  GError *error = NULL;
  GBytes *data = test_pattern (1024 * 1024, 5);
  HANDLE server, client;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  test_factory_init (&f);
  make_pipe (&server, &client, GENERIC_READ, FALSE);
  t = connect_pipe (loop, &f, to_fd (server), TRUE, &p, &error);
  g_assert_no_error (error);
  evl_transport_write (t, data);
  g_assert_cmpuint (evl_transport_get_write_buffer_size (t), >, 0);
  CloseHandle (client);
  test_run_until (loop, &p->lost);
  g_assert_error (p->error, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE);
  g_object_unref (t);
  g_object_unref (p);
  g_bytes_unref (data);
  test_factory_clear (&f);
  evl_test_close_loop (loop);
}

/* The reader goes away with nothing buffered: a clean end, seen by the
 * read that a write pipe keeps in flight. */
static void
test_reader_gone_idle (void)
{
  EvlLoop *loop;
  TestFactory f;
  EvlTransport *t;
  TestProto *p;
  GError *error = NULL;
  HANDLE server, client;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  test_factory_init (&f);
  make_pipe (&server, &client, GENERIC_READ, FALSE);
  t = connect_pipe (loop, &f, to_fd (server), TRUE, &p, &error);
  g_assert_no_error (error);
  CloseHandle (client);
  test_run_until (loop, &p->lost);
  g_assert_no_error (p->error);
  g_object_unref (t);
  g_object_unref (p);
  test_factory_clear (&f);
  evl_test_close_loop (loop);
}

/* close() with a read in flight and abort() with a write in flight end at
 * once; the HANDLEs are closed; the peer sees the end. */
static void
test_close_abort (void)
{
  EvlLoop *loop;
  TestFactory rf, wf;
  EvlTransport *rt, *wt;
  TestProto *rp, *wp;
  GError *error = NULL;
  GBytes *data = test_pattern (1024 * 1024, 6);
  HANDLE s1, c1, s2, c2;
  char byte;
  DWORD n;
  guint i, before = evl_test_count_fds ();

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  test_factory_init (&rf);
  test_factory_init (&wf);
  make_pipe (&s1, &c1, GENERIC_WRITE, FALSE);
  make_pipe (&s2, &c2, GENERIC_READ, FALSE);
  rt = connect_pipe (loop, &rf, to_fd (s1), FALSE, &rp, &error);
  g_assert_no_error (error);
  wt = connect_pipe (loop, &wf, to_fd (s2), TRUE, &wp, &error);
  g_assert_no_error (error);
  evl_test_run_for (loop, 0.05);
  evl_transport_write (wt, data);
  g_assert_cmpuint (evl_transport_get_write_buffer_size (wt), >, 0);

  evl_transport_close (rt);
  evl_transport_abort (wt);
  test_run_until (loop, &rp->lost);
  test_run_until (loop, &wp->lost);
  g_assert_no_error (rp->error);
  g_assert_no_error (wp->error);
  g_assert_cmpuint (rp->n_eof, ==, 0);
  /* The proactor loop releases the HANDLEs once the cancelled operations
   * have reported; the selector loops at once. */
  for (i = 0; i < 1000 && (evl_transport_get_fd (rt) != -1 || evl_transport_get_fd (wt) != -1); i++)
    evl_test_run_for (loop, 0.01);
  g_assert_cmpint (evl_transport_get_fd (rt), ==, -1);
  g_assert_cmpint (evl_transport_get_fd (wt), ==, -1);
  /* Our ends are closed: the peers see it. */
  g_assert_false (WriteFile (c1, "x", 1, &n, NULL));
  g_assert_cmpuint (GetLastError (), ==, ERROR_NO_DATA);
  while (ReadFile (c2, &byte, 1, &n, NULL) && n > 0)
    ;
  g_assert_cmpuint (GetLastError (), ==, ERROR_BROKEN_PIPE);
  CloseHandle (c1);
  CloseHandle (c2);

  g_object_unref (rt);
  g_object_unref (wt);
  g_object_unref (rp);
  g_object_unref (wp);
  g_bytes_unref (data);
  test_factory_clear (&rf);
  test_factory_clear (&wf);
  evl_test_close_loop (loop);
  g_assert_cmpuint (evl_test_count_fds (), ==, before);
}

/* The loop closes under open pipes: connection_lost with
 * EVL_LOOP_ERROR_CLOSED, operations in flight cancelled, no leak. */
static void
test_loop_close (void)
{
  EvlLoop *loop;
  TestFactory f;
  EvlTransport *t;
  TestProto *p;
  GError *error = NULL;
  HANDLE server, client;
  guint before = evl_test_count_fds ();

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  test_factory_init (&f);
  make_pipe (&server, &client, GENERIC_WRITE, FALSE);
  t = connect_pipe (loop, &f, to_fd (server), FALSE, &p, &error);
  g_assert_no_error (error);
  evl_test_run_for (loop, 0.05);
  g_object_unref (t);
  evl_test_close_loop (loop);
  g_assert_true (p->lost);
  g_assert_error (p->error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_CLOSED);
  g_object_unref (p);
  CloseHandle (client);
  test_factory_clear (&f);
  g_assert_cmpuint (evl_test_count_fds (), ==, before);
}

static void
test_bad_fd (void)
{
  EvlLoop *loop;
  TestFactory f;
  GError *error = NULL;
  wchar_t dir[MAX_PATH], path[MAX_PATH];
  HANDLE file;
  int fds[2];
  DWORD flags;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  test_factory_init (&f);

  /* A file is not a pipe; it is taken and closed. */
  g_assert_cmpuint (GetTempPathW (MAX_PATH, dir), >, 0);
  g_assert_cmpuint (GetTempFileNameW (dir, L"evl", 0, path), !=, 0);
  file = CreateFileW (path, GENERIC_READ, 0, NULL, OPEN_EXISTING,
                      FILE_FLAG_OVERLAPPED | FILE_FLAG_DELETE_ON_CLOSE, NULL);
  g_assert_true (file != INVALID_HANDLE_VALUE);
  g_assert_null (connect_pipe (loop, &f, to_fd (file), FALSE, NULL, &error));
  g_assert_error (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_false (GetHandleInformation (file, &flags));   /* closed */

  /* An anonymous pipe is synchronous: refused, and closed. */
  evl_test_pipe (fds);
  g_assert_null (connect_pipe (loop, &f, fds[0], FALSE, NULL, &error));
  g_assert_error (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_INVALID);
  g_test_message ("%s", error->message);
  g_clear_error (&error);
  g_assert_false (GetHandleInformation ((HANDLE) (guintptr) fds[0], &flags));
  evl_test_pipe_close (fds[1]);

  g_assert_null (connect_pipe (loop, &f, -1, TRUE, NULL, &error));
  g_assert_error (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_cmpuint (f.created->len, ==, 0);
  test_factory_clear (&f);
  evl_test_close_loop (loop);
}

/* Many pipes at once on one loop, each with a read in flight: on the
 * selector loops each takes one of the 63 HANDLEs a selector can wait
 * for. */
static void
test_many (void)
{
  EvlLoop *loop;
  TestFactory f;
  EvlTransport *t[24];
  HANDLE clients[24];
  GError *error = NULL;
  guint i;
  DWORD n;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  test_factory_init (&f);
  for (i = 0; i < G_N_ELEMENTS (t); i++)
    {
      HANDLE server;

      make_pipe (&server, &clients[i], GENERIC_WRITE, FALSE);
      t[i] = connect_pipe (loop, &f, to_fd (server), FALSE, NULL, &error);
      g_assert_no_error (error);
    }
  /* Written in the reverse order of the connections. */
  for (i = G_N_ELEMENTS (t); i-- > 0;)
    {
      char *msg = g_strdup_printf ("pipe %u", i);

      g_assert_true (WriteFile (clients[i], msg, strlen (msg), &n, NULL));
      CloseHandle (clients[i]);
      g_free (msg);
    }
  for (i = 0; i < G_N_ELEMENTS (t); i++)
    {
      TestProto *p = f.created->pdata[i];
      char *msg = g_strdup_printf ("pipe %u", i);

      test_run_until (loop, &p->lost);
      g_assert_cmpmem (p->data->data, p->data->len, msg, strlen (msg));
      g_free (msg);
      g_object_unref (t[i]);
    }
  test_factory_clear (&f);
  evl_test_close_loop (loop);
}

/* Past what a selector can wait for (63 HANDLEs) a pipe ends with
 * EVL_LOOP_ERROR_NOT_SUPPORTED, the others work; the proactor loop has no
 * such limit. */
static void
test_too_many (void)
{
  EvlLoop *loop;
  TestFactory f;
  EvlTransport *t[70];
  HANDLE clients[70];
  GError *error = NULL;
  guint i, n_ok = 0, n_refused = 0;
  gboolean proactor;
  DWORD n;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  proactor = g_str_equal (evl_test_loop_kind (), "proactor");
  test_factory_init (&f);
  for (i = 0; i < G_N_ELEMENTS (t); i++)
    {
      HANDLE server;

      make_pipe (&server, &clients[i], GENERIC_WRITE, FALSE);
      t[i] = connect_pipe (loop, &f, to_fd (server), FALSE, NULL, &error);
      g_assert_no_error (error);
    }
  for (i = 0; i < G_N_ELEMENTS (t); i++)
    {
      /* A refused pipe is closed already. */
      if (!WriteFile (clients[i], "x", 1, &n, NULL))
        g_assert_cmpuint (GetLastError (), ==, ERROR_NO_DATA);
      CloseHandle (clients[i]);
    }
  for (i = 0; i < G_N_ELEMENTS (t); i++)
    {
      TestProto *p = f.created->pdata[i];

      test_run_until (loop, &p->lost);
      if (p->error == NULL)
        {
          g_assert_cmpmem (p->data->data, p->data->len, "x", 1);
          n_ok++;
        }
      else
        {
          g_assert_error (p->error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_NOT_SUPPORTED);
          n_refused++;
        }
      g_object_unref (t[i]);
    }
  g_test_message ("%u pipes read, %u refused", n_ok, n_refused);
  if (proactor)
    g_assert_cmpuint (n_ok, ==, G_N_ELEMENTS (t));
  else
    {
      g_assert_cmpuint (n_refused, >=, G_N_ELEMENTS (t) - 63);
      g_assert_cmpuint (n_ok, >=, 32);
    }
  test_factory_clear (&f);
  evl_test_close_loop (loop);
}

static gpointer
write_later_thread (gpointer data)
{
  HANDLE client = data;
  DWORD n;

  g_usleep (50000);
  g_assert_true (WriteFile (client, "late", 4, &n, NULL));
  return NULL;
}

/* A protocol that quits a GMainLoop when data arrives. */
#define TEST_TYPE_QUIT_PROTO (test_quit_proto_get_type ())
G_DECLARE_FINAL_TYPE (TestQuitProto, test_quit_proto, TEST, QUIT_PROTO, GObject)

struct _TestQuitProto
{
  GObject     parent_instance;
  GMainLoop  *ml;
  GByteArray *data;
};

static void test_quit_proto_iface_init (EvlProtocolInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (TestQuitProto, test_quit_proto, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (EVL_TYPE_PROTOCOL, test_quit_proto_iface_init))

static void
quit_proto_data_received (EvlProtocol *protocol,
                          GBytes      *data)
{
  TestQuitProto *self = TEST_QUIT_PROTO (protocol);
  gsize size;
  const guint8 *bytes = g_bytes_get_data (data, &size);

  g_byte_array_append (self->data, bytes, size);
  g_main_loop_quit (self->ml);
}

static void
test_quit_proto_iface_init (EvlProtocolInterface *iface)
{
  iface->data_received = quit_proto_data_received;
}

static void
test_quit_proto_finalize (GObject *object)
{
  TestQuitProto *self = TEST_QUIT_PROTO (object);

  g_byte_array_unref (self->data);
  G_OBJECT_CLASS (test_quit_proto_parent_class)->finalize (object);
}

static void
test_quit_proto_class_init (TestQuitProtoClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = test_quit_proto_finalize;
}

static void
test_quit_proto_init (TestQuitProto *self)
{
  self->data = g_byte_array_new ();
}

static EvlProtocol *
make_quit_proto (gpointer data)
{
  return g_object_ref (data);
}

/* The loop runs inside GLib (evl_loop_attach): bytes arriving in a pipe
 * while GLib waits wake it, and the transport delivers them from
 * g_main_loop_run(). */
static void
test_inside_glib (void)
{
  GMainContext *context = g_main_context_new ();
  GMainLoop *ml = g_main_loop_new (context, FALSE);
  TestQuitProto *p = g_object_new (TEST_TYPE_QUIT_PROTO, NULL);
  EvlLoop *loop;
  EvlTransport *t;
  TestWaiter w;
  GError *error = NULL;
  HANDLE server, client;
  GThread *thread;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  evl_test_watchdog_start (30);
  p->ml = ml;
  make_pipe (&server, &client, GENERIC_WRITE, FALSE);
  test_waiter_init (&w, loop);
  evl_loop_connect_read_pipe_async (loop, make_quit_proto, p, NULL, to_fd (server), NULL,
                                    test_waiter_cb, &w);
  test_waiter_wait (&w);
  t = evl_loop_connect_read_pipe_finish (loop, w.result, NULL, &error);
  g_assert_no_error (error);
  test_waiter_clear (&w);

  g_assert_cmpuint (evl_loop_attach (loop, context), >, 0);
  thread = g_thread_new ("writer", write_later_thread, client);
  /* Returns once data_received ran, from GLib's dispatch. */
  g_main_loop_run (ml);
  g_thread_join (thread);
  g_assert_cmpmem (p->data->data, p->data->len, "late", 4);

  evl_test_watchdog_cancel ();
  CloseHandle (client);
  evl_transport_close (t);
  g_object_unref (t);
  evl_test_close_loop (loop);
  g_object_unref (p);
  g_main_loop_unref (ml);
  g_main_context_unref (context);
}

int
main (int    argc,
      char **argv)
{
  evl_test_init (&argc, &argv);

  g_test_add_func ("/Evl/Pipe/read", test_read_pipe);
  g_test_add_func ("/Evl/Pipe/write-to-read", test_write_to_read_pipe);
  g_test_add_func ("/Evl/Pipe/pause-resume", test_pause_resume);
  g_test_add_func ("/Evl/Pipe/epipe", test_epipe);
  g_test_add_func ("/Evl/Pipe/reader-gone/buffered", test_reader_gone_while_buffered);
  g_test_add_func ("/Evl/Pipe/reader-gone/idle", test_reader_gone_idle);
  g_test_add_func ("/Evl/Pipe/close-abort", test_close_abort);
  g_test_add_func ("/Evl/Pipe/loop-close", test_loop_close);
  g_test_add_func ("/Evl/Pipe/bad-fd", test_bad_fd);
  g_test_add_func ("/Evl/Pipe/many", test_many);
  g_test_add_func ("/Evl/Pipe/too-many", test_too_many);
  g_test_add_func ("/Evl/Pipe/inside-glib", test_inside_glib);

  return g_test_run ();
}
