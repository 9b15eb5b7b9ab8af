/* pipe.c: read and write pipe transports, on the loop kind under test:
 * POSIX pipes, and on Windows named pipe HANDLEs opened for overlapped
 * I/O (tests/evl-test-pipe-{unix,win32}.c make and use them)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "evl-test-pipe.h"

#include <string.h>

/* A read pipe and a write pipe on one loop, with their protocols. */
typedef struct
{
  TestFactory   rf, wf;
  EvlTransport *rt, *wt;
  TestProto    *rp, *wp;
} PipePair;

static void
pipe_pair_connect (EvlLoop  *loop,
                   PipePair *pp,
                   int       rfd,
                   int       wfd)
{
  GError *error = NULL;

  test_factory_init (&pp->rf);
  test_factory_init (&pp->wf);
  pp->rt = test_connect_pipe (loop, &pp->rf, rfd, FALSE, &pp->rp, &error);
  g_assert_no_error (error);
  pp->wt = test_connect_pipe (loop, &pp->wf, wfd, TRUE, &pp->wp, &error);
  g_assert_no_error (error);
}

static void
pipe_pair_clear (PipePair *pp)
{
  g_object_unref (pp->rt);
  g_object_unref (pp->wt);
  g_object_unref (pp->rp);
  g_object_unref (pp->wp);
  test_factory_clear (&pp->rf);
  test_factory_clear (&pp->wf);
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
  int fd, peer;
  guint before = evl_test_count_fds ();

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  test_factory_init (&f);
  test_pipe_open (&fd, &peer, TRUE);
  t = test_connect_pipe (loop, &f, fd, FALSE, &p, &error);
  g_assert_no_error (error);
  g_assert_false (evl_transport_can_write_eof (t));
  g_assert_true (evl_transport_is_reading (t));
  g_assert_cmpint (evl_transport_get_fd (t), ==, fd);
  g_assert_null (evl_transport_get_peer_address (t));
  test_pipe_assert_taken (fd);

  p->expect = 5;
  test_pipe_peer_write (peer, "hello", 5);
  test_run_until (loop, &p->got_expected);
  g_assert_cmpmem (p->data->data, p->data->len, "hello", 5);
  p->expect = 11;
  p->got_expected = FALSE;
  test_pipe_peer_write (peer, " world", 6);
  test_run_until (loop, &p->got_expected);
  g_assert_cmpmem (p->data->data, p->data->len, "hello world", 11);
  test_pipe_peer_close (peer);
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
  PipePair pp;
  GBytes *data = test_pattern (1024 * 1024, 3);
  int rfd, wfd;
  guint before = evl_test_count_fds ();
  gsize off;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  test_pipe_open_both (&rfd, &wfd);
  pipe_pair_connect (loop, &pp, rfd, wfd);
  g_assert_true (evl_transport_can_write_eof (pp.wt));

  pp.rp->expect = g_bytes_get_size (data);
  for (off = 0; off < g_bytes_get_size (data); off += 64 * 1024)
    {
      GBytes *piece = g_bytes_new_from_bytes (data, off, 64 * 1024);

      evl_transport_write (pp.wt, piece);
      g_bytes_unref (piece);
    }
  g_assert_cmpuint (pp.wp->n_pause, ==, 1);
  evl_transport_write_eof (pp.wt);
  g_assert_true (evl_transport_is_closing (pp.wt));
  test_run_until (loop, &pp.rp->lost);
  g_assert_cmpuint (pp.rp->n_eof, ==, 1);
  g_assert_cmpmem (pp.rp->data->data, pp.rp->data->len,
                   g_bytes_get_data (data, NULL), g_bytes_get_size (data));
  test_run_until (loop, &pp.wp->lost);
  g_assert_no_error (pp.wp->error);
  g_assert_cmpuint (pp.wp->n_resume, ==, 1);

  pipe_pair_clear (&pp);
  g_bytes_unref (data);
  evl_test_close_loop (loop);
  g_assert_cmpuint (evl_test_count_fds (), ==, before);
}

/* pause_reading holds what arrives (on Windows the read in flight
 * completes and is kept); resume_reading delivers it, in order. */
static void
test_pause_resume (void)
{
  EvlLoop *loop;
  TestFactory f;
  EvlTransport *t;
  TestProto *p;
  GError *error = NULL;
  int fd, peer;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  test_factory_init (&f);
  test_pipe_open (&fd, &peer, TRUE);
  t = test_connect_pipe (loop, &f, fd, FALSE, &p, &error);
  g_assert_no_error (error);
  evl_transport_pause_reading (t);
  g_assert_false (evl_transport_is_reading (t));
  test_pipe_peer_write (peer, "abc", 3);
  test_pipe_peer_close (peer);
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

/* A write pipe whose reader goes away, before anything is written
 * (@buffered FALSE) or while the 1 MiB written is buffered: with data
 * written the end is G_IO_ERROR_BROKEN_PIPE (and no SIGPIPE), without a
 * clean one (seen, on Windows, by the read a write pipe keeps in
 * flight). @write_after: the data is written after the reader went, before
 * the loop noticed. */
static void
run_reader_gone (gsize    size,
                 gboolean write_after,
                 guint    seed)
{
  EvlLoop *loop;
  TestFactory f;
  EvlTransport *t;
  TestProto *p;
  GError *error = NULL;
  GBytes *data = size > 0 ? test_pattern (size, seed) : NULL;
  int fd, peer;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  test_factory_init (&f);
  test_pipe_open (&fd, &peer, FALSE);
  t = test_connect_pipe (loop, &f, fd, TRUE, &p, &error);
  g_assert_no_error (error);
  if (data != NULL && !write_after)
    {
      evl_transport_write (t, data);
      g_assert_cmpuint (evl_transport_get_write_buffer_size (t), >, 0);
    }
  test_pipe_peer_close (peer);
  if (data != NULL && write_after)
    evl_transport_write (t, data);
  test_run_until (loop, &p->lost);
  if (data != NULL)
    g_assert_error (p->error, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE);
  else
    g_assert_no_error (p->error);
  g_object_unref (t);
  g_object_unref (p);
  g_clear_pointer (&data, g_bytes_unref);
  test_factory_clear (&f);
  evl_test_close_loop (loop);
}

/* The reader goes away: writing gives connection_lost with
 * G_IO_ERROR_BROKEN_PIPE. */
static void
test_epipe (void)
{
  run_reader_gone (100, TRUE, 4);
}

/* The reader goes away while data is buffered: an error, too. */
static void
test_reader_gone_while_buffered (void)
{
  run_reader_gone (1024 * 1024, FALSE, 5);
}

/* The reader goes away with nothing buffered: a clean end. */
static void
test_reader_gone_idle (void)
{
  run_reader_gone (0, FALSE, 0);
}

/* close() with a read in flight and abort() with a write in flight end at
 * once; the fds are closed; the peers see the end. */
static void
test_close_abort (void)
{
  EvlLoop *loop;
  PipePair pp;
  GBytes *data = test_pattern (1024 * 1024, 6);
  int rfd, wfd, rpeer, wpeer;
  guint i, before = evl_test_count_fds ();

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  test_pipe_open (&rfd, &rpeer, TRUE);
  test_pipe_open (&wfd, &wpeer, FALSE);
  pipe_pair_connect (loop, &pp, rfd, wfd);
  evl_test_run_for (loop, 0.05);
  evl_transport_write (pp.wt, data);
  g_assert_cmpuint (evl_transport_get_write_buffer_size (pp.wt), >, 0);

  evl_transport_close (pp.rt);
  evl_transport_abort (pp.wt);
  test_run_until (loop, &pp.rp->lost);
  test_run_until (loop, &pp.wp->lost);
  g_assert_no_error (pp.rp->error);
  g_assert_no_error (pp.wp->error);
  g_assert_cmpuint (pp.rp->n_eof, ==, 0);
  /* The Windows proactor loop releases the HANDLEs once the cancelled
   * operations have reported; the other loops at once. */
  for (i = 0; i < 1000 && (evl_transport_get_fd (pp.rt) != -1 || evl_transport_get_fd (pp.wt) != -1); i++)
    evl_test_run_for (loop, 0.01);
  g_assert_cmpint (evl_transport_get_fd (pp.rt), ==, -1);
  g_assert_cmpint (evl_transport_get_fd (pp.wt), ==, -1);
  /* Our ends are closed: the peers see it. */
  test_pipe_assert_peer_broken (rpeer);
  test_pipe_assert_peer_eof (wpeer);

  pipe_pair_clear (&pp);
  g_bytes_unref (data);
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
  int fd, peer;
  guint before = evl_test_count_fds ();

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  test_factory_init (&f);
  test_pipe_open (&fd, &peer, TRUE);
  t = test_connect_pipe (loop, &f, fd, FALSE, &p, &error);
  g_assert_no_error (error);
  evl_test_run_for (loop, 0.05);
  g_object_unref (t);
  evl_test_close_loop (loop);
  g_assert_true (p->lost);
  g_assert_error (p->error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_CLOSED);
  g_object_unref (p);
  test_pipe_peer_close (peer);
  test_factory_clear (&f);
  g_assert_cmpuint (evl_test_count_fds (), ==, before);
}

static void
test_bad_fd (void)
{
  EvlLoop *loop;
  TestFactory f;
  GError *error = NULL;
  int fd;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  test_factory_init (&f);

  /* A file is not a pipe; it is taken and closed. */
  fd = test_pipe_open_file ();
  g_assert_null (test_connect_pipe (loop, &f, fd, FALSE, NULL, &error));
  g_assert_error (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_false (test_pipe_fd_is_open (fd));

#ifdef G_OS_WIN32
  {
    int fds[2];

    /* An anonymous pipe is synchronous there: refused, and closed. */
    evl_test_pipe (fds);
    g_assert_null (test_connect_pipe (loop, &f, fds[0], FALSE, NULL, &error));
    g_assert_error (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_INVALID);
    g_test_message ("%s", error->message);
    g_clear_error (&error);
    g_assert_false (test_pipe_fd_is_open (fds[0]));
    evl_test_pipe_close (fds[1]);
  }
#endif

  g_assert_null (test_connect_pipe (loop, &f, -1, TRUE, NULL, &error));
  g_assert_error (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_cmpuint (f.created->len, ==, 0);
  test_factory_clear (&f);
  evl_test_close_loop (loop);
}

/* @n read pipes on @loop, connected with @f, their peers in @peers. */
static void
connect_read_pipes (EvlLoop      *loop,
                    TestFactory  *f,
                    guint         n,
                    EvlTransport **t,
                    int          *peers)
{
  GError *error = NULL;
  guint i;

  for (i = 0; i < n; i++)
    {
      int fd;

      test_pipe_open (&fd, &peers[i], TRUE);
      t[i] = test_connect_pipe (loop, f, fd, FALSE, NULL, &error);
      g_assert_no_error (error);
    }
}

/* Many pipes at once on one loop, each with a read in flight (on the
 * Windows selector loops each takes one of the 63 HANDLEs a selector can
 * wait for). */
static void
test_many (void)
{
  EvlLoop *loop;
  TestFactory f;
  EvlTransport *t[24];
  int peers[24];
  guint i;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  test_factory_init (&f);
  connect_read_pipes (loop, &f, G_N_ELEMENTS (t), t, peers);
  /* Written in the reverse order of the connections. */
  for (i = G_N_ELEMENTS (t); i-- > 0;)
    {
      char *msg = g_strdup_printf ("pipe %u", i);

      test_pipe_peer_write (peers[i], msg, strlen (msg));
      test_pipe_peer_close (peers[i]);
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

/* Past what a loop can hold (63 HANDLEs on a Windows selector) a pipe
 * ends with EVL_LOOP_ERROR_NOT_SUPPORTED and the others work; the other
 * loops have no such limit and read all 70. */
static void
test_too_many (void)
{
  EvlLoop *loop;
  TestFactory f;
  EvlTransport *t[70];
  int peers[70];
  guint i, n_ok = 0, n_refused = 0, limit;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  limit = test_pipe_loop_limit ();
  test_factory_init (&f);
  connect_read_pipes (loop, &f, G_N_ELEMENTS (t), t, peers);
  for (i = 0; i < G_N_ELEMENTS (t); i++)
    {
      /* A refused pipe is closed already: its peer sees the reader gone. */
      test_pipe_peer_try_write (peers[i], "x", 1);
      test_pipe_peer_close (peers[i]);
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
  if (limit >= G_N_ELEMENTS (t))
    g_assert_cmpuint (n_ok, ==, G_N_ELEMENTS (t));
  else
    {
      g_assert_cmpuint (n_refused, >=, G_N_ELEMENTS (t) - limit);
      g_assert_cmpuint (n_ok, >=, 32);
    }
  test_factory_clear (&f);
  evl_test_close_loop (loop);
}

static gpointer
write_later_thread (gpointer data)
{
  int peer = GPOINTER_TO_INT (data);

  g_usleep (50000);
  test_pipe_peer_write (peer, "late", 4);
  return NULL;
}

/* The loop runs inside GLib (evl_loop_attach): bytes arriving in a pipe
 * while GLib waits wake it, and the transport delivers them from
 * g_main_loop_run(). */
static void
test_inside_glib (void)
{
  GMainContext *context = g_main_context_new ();
  GMainLoop *ml = g_main_loop_new (context, FALSE);
  EvlLoop *loop;
  TestFactory f;
  EvlTransport *t;
  TestProto *p;
  GError *error = NULL;
  int fd, peer;
  GThread *thread;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  evl_test_watchdog_start (30);
  test_factory_init (&f);
  test_pipe_open (&fd, &peer, TRUE);
  t = test_connect_pipe (loop, &f, fd, FALSE, &p, &error);
  g_assert_no_error (error);
  p->quit_on_data = ml;

  g_assert_cmpuint (evl_loop_attach (loop, context), >, 0);
  thread = g_thread_new ("writer", write_later_thread, GINT_TO_POINTER (peer));
  /* Returns once data_received ran, from GLib's dispatch. */
  g_main_loop_run (ml);
  g_thread_join (thread);
  g_assert_cmpmem (p->data->data, p->data->len, "late", 4);

  evl_test_watchdog_cancel ();
  test_pipe_peer_close (peer);
  evl_transport_close (t);
  g_object_unref (t);
  evl_test_close_loop (loop);
  g_object_unref (p);
  test_factory_clear (&f);
  g_main_loop_unref (ml);
  g_main_context_unref (context);
}

int
main (int    argc,
      char **argv)
{
  evl_test_sigpipe_default ();   /* a SIGPIPE must kill the test */
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
