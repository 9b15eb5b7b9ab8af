/* pipe.c: read and write pipe transports, on the loop kind under test
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "evl-test-protocol.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include <glib/gstdio.h>

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
  int fds[2];
  guint before = evl_test_count_fds ();

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  test_factory_init (&f);
  g_assert_cmpint (pipe2 (fds, O_CLOEXEC), ==, 0);
  t = connect_pipe (loop, &f, fds[0], FALSE, &p, &error);
  g_assert_no_error (error);
  g_assert_false (evl_transport_can_write_eof (t));
  g_assert_true (evl_transport_is_reading (t));
  g_assert_cmpint (evl_transport_get_fd (t), ==, fds[0]);
  g_assert_null (evl_transport_get_peer_address (t));
  g_assert_true (fcntl (fds[0], F_GETFL) & O_NONBLOCK);

  p->expect = 5;
  g_assert_cmpint (write (fds[1], "hello", 5), ==, 5);
  test_run_until (loop, &p->got_expected);
  g_assert_cmpmem (p->data->data, p->data->len, "hello", 5);
  close (fds[1]);
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
  int fds[2];
  guint before = evl_test_count_fds ();
  gsize off;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  test_factory_init (&rf);
  test_factory_init (&wf);
  g_assert_cmpint (pipe2 (fds, O_CLOEXEC), ==, 0);
  rt = connect_pipe (loop, &rf, fds[0], FALSE, &rp, &error);
  g_assert_no_error (error);
  wt = connect_pipe (loop, &wf, fds[1], TRUE, &wp, &error);
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

/* The reader goes away: writing gives connection_lost with
 * G_IO_ERROR_BROKEN_PIPE, and no SIGPIPE. */
static void
test_epipe (void)
{
  EvlLoop *loop;
  TestFactory f;
  EvlTransport *t;
  TestProto *p;
  GError *error = NULL;
  GBytes *data = test_pattern (100, 4);
  int fds[2];

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  test_factory_init (&f);
  g_assert_cmpint (pipe2 (fds, O_CLOEXEC), ==, 0);
  t = connect_pipe (loop, &f, fds[1], TRUE, &p, &error);
  g_assert_no_error (error);
  close (fds[0]);
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
  int fds[2];

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  test_factory_init (&f);
  g_assert_cmpint (pipe2 (fds, O_CLOEXEC), ==, 0);
  t = connect_pipe (loop, &f, fds[1], TRUE, &p, &error);
  g_assert_no_error (error);
  evl_transport_write (t, data);
  g_assert_cmpuint (evl_transport_get_write_buffer_size (t), >, 0);
  close (fds[0]);
  test_run_until (loop, &p->lost);
  g_assert_error (p->error, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE);
  g_object_unref (t);
  g_object_unref (p);
  g_bytes_unref (data);
  test_factory_clear (&f);
  evl_test_close_loop (loop);
}

/* The reader goes away with nothing buffered: a clean end. */
static void
test_reader_gone_idle (void)
{
  EvlLoop *loop;
  TestFactory f;
  EvlTransport *t;
  TestProto *p;
  GError *error = NULL;
  int fds[2];

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  test_factory_init (&f);
  g_assert_cmpint (pipe2 (fds, O_CLOEXEC), ==, 0);
  t = connect_pipe (loop, &f, fds[1], TRUE, &p, &error);
  g_assert_no_error (error);
  close (fds[0]);
  test_run_until (loop, &p->lost);
  g_assert_no_error (p->error);
  g_object_unref (t);
  g_object_unref (p);
  test_factory_clear (&f);
  evl_test_close_loop (loop);
}

static void
test_bad_fd (void)
{
  EvlLoop *loop;
  TestFactory f;
  GError *error = NULL;
  char *path;
  int fd;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  test_factory_init (&f);
  fd = g_file_open_tmp ("evl-pipe-XXXXXX", &path, NULL);
  g_assert_cmpint (fd, >=, 0);
  g_assert_null (connect_pipe (loop, &f, fd, FALSE, NULL, &error));
  g_assert_error (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_cmpint (fcntl (fd, F_GETFD), ==, -1);   /* taken, and closed */
  g_unlink (path);
  g_free (path);
  g_assert_null (connect_pipe (loop, &f, -1, TRUE, NULL, &error));
  g_assert_error (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_cmpuint (f.created->len, ==, 0);
  test_factory_clear (&f);
  evl_test_close_loop (loop);
}

int
main (int    argc,
      char **argv)
{
  signal (SIGPIPE, SIG_DFL);   /* a SIGPIPE must kill the test */
  evl_test_init (&argc, &argv);

  g_test_add_func ("/Evl/Pipe/read", test_read_pipe);
  g_test_add_func ("/Evl/Pipe/write-to-read", test_write_to_read_pipe);
  g_test_add_func ("/Evl/Pipe/epipe", test_epipe);
  g_test_add_func ("/Evl/Pipe/reader-gone/buffered", test_reader_gone_while_buffered);
  g_test_add_func ("/Evl/Pipe/reader-gone/idle", test_reader_gone_idle);
  g_test_add_func ("/Evl/Pipe/bad-fd", test_bad_fd);

  return g_test_run ();
}
