/* evl-test-pipe-unix.c: the pipes of tests/pipe.c on POSIX (pipe2())
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "evl-test-pipe.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <glib/gstdio.h>

void
test_pipe_open (int      *loop_end,
                int      *peer,
                gboolean  loop_reads)
{
  int fds[2];

  g_assert_cmpint (pipe2 (fds, O_CLOEXEC), ==, 0);
  *loop_end = fds[loop_reads ? 0 : 1];
  *peer = fds[loop_reads ? 1 : 0];
}

void
test_pipe_open_both (int *read_end,
                     int *write_end)
{
  test_pipe_open (read_end, write_end, TRUE);
}

void
test_pipe_peer_write (int         peer,
                      const void *data,
                      gsize       len)
{
  g_assert_cmpint (write (peer, data, len), ==, (gssize) len);
}

void
test_pipe_peer_close (int peer)
{
  g_assert_cmpint (close (peer), ==, 0);
}

/* A pipe whose reader is gone polls POLLERR: asked first, as a write
 * would raise SIGPIPE, which kills the test. */
gboolean
test_pipe_peer_try_write (int         peer,
                          const void *data,
                          gsize       len)
{
  struct pollfd pfd = { peer, POLLOUT, 0 };

  g_assert_cmpint (poll (&pfd, 1, 0), ==, 1);
  if (pfd.revents & POLLERR)
    return FALSE;
  test_pipe_peer_write (peer, data, len);
  return TRUE;
}

void
test_pipe_assert_peer_broken (int peer)
{
  g_assert_false (test_pipe_peer_try_write (peer, "x", 1));
  test_pipe_peer_close (peer);
}

void
test_pipe_assert_peer_eof (int peer)
{
  char buf[4096];
  gssize n;

  while ((n = read (peer, buf, sizeof buf)) > 0)
    ;
  g_assert_cmpint (n, ==, 0);
  test_pipe_peer_close (peer);
}

void
test_pipe_assert_taken (int fd)
{
  g_assert_true (fcntl (fd, F_GETFL) & O_NONBLOCK);
}

int
test_pipe_open_file (void)
{
  char *path;
  int fd = g_file_open_tmp ("evl-pipe-XXXXXX", &path, NULL);

  g_assert_cmpint (fd, >=, 0);
  g_unlink (path);
  g_free (path);
  return fd;
}

gboolean
test_pipe_fd_is_open (int fd)
{
  return fcntl (fd, F_GETFD) != -1;
}

guint
test_pipe_loop_limit (void)
{
  return G_MAXUINT;
}
