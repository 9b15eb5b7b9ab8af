/* evl-test-util-unix.c: the platform part of the test helpers, Unix
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef _GNU_SOURCE
# define _GNU_SOURCE     /* pipe2() */
#endif

#include "evl-test-util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

void
evl_test_platform_init (void)
{
  signal (SIGPIPE, SIG_IGN);
}

static void
watchdog_fired (int signum)
{
  static const char msg[] = "evl-test: watchdog fired, the test hangs\n";
  (void) signum;
  (void) !write (2, msg, sizeof msg - 1);
  abort ();
}

void
evl_test_watchdog_start (guint seconds)
{
  signal (SIGALRM, watchdog_fired);
  alarm (evl_test_under_valgrind () ? seconds * 10 : seconds);
}

gboolean
evl_test_under_wine (void)
{
  return FALSE;
}

void
evl_test_watchdog_cancel (void)
{
  alarm (0);
}

void
evl_test_socketpair (int fds[2])
{
  int r = socketpair (AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds);
  g_assert_cmpint (r, ==, 0);
}

guint
evl_test_count_fds (void)
{
  DIR *d = opendir ("/proc/self/fd");
  struct dirent *e;
  guint n = 0;

  g_assert_nonnull (d);
  while ((e = readdir (d)) != NULL)
    if (e->d_name[0] != '.')
      n++;
  closedir (d);
  return n - 1; /* the DIR's own fd */
}

double
evl_test_cpu_time (void)
{
  struct timespec ts;

  g_assert_cmpint (clock_gettime (CLOCK_PROCESS_CPUTIME_ID, &ts), ==, 0);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

gssize
evl_test_sock_read (int    fd,
                    void  *buf,
                    gsize  count)
{
  return read (fd, buf, count);
}

gssize
evl_test_sock_write (int         fd,
                     const void *buf,
                     gsize       count)
{
  return write (fd, buf, count);
}

void
evl_test_sock_close (int fd)
{
  close (fd);
}

int
evl_test_tcp_socket (GSocketFamily family)
{
  return socket (family == G_SOCKET_FAMILY_IPV6 ? AF_INET6 : AF_INET,
                 SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
}

void
evl_test_sock_shutdown_write (int fd)
{
  g_assert_cmpint (shutdown (fd, SHUT_WR), ==, 0);
}

gboolean
evl_test_sock_wait_readable (int fd,
                             int timeout_ms)
{
  struct pollfd pfd = { .fd = fd, .events = POLLIN };
  int r;

  do
    r = poll (&pfd, 1, timeout_ms);
  while (r < 0 && errno == EINTR);
  g_assert_cmpint (r, >=, 0);
  return r > 0;
}

void
evl_test_assert_sock_flags (int fd)
{
  g_assert_cmpint (fcntl (fd, F_GETFL) & O_NONBLOCK, !=, 0);
  g_assert_cmpint (fcntl (fd, F_GETFD) & FD_CLOEXEC, !=, 0);
}

void
evl_test_pipe (int fds[2])
{
  g_assert_cmpint (pipe2 (fds, O_NONBLOCK | O_CLOEXEC), ==, 0);
}

void
evl_test_pipe_close (int fd)
{
  close (fd);
}

void
evl_test_sigpipe_default (void)
{
  signal (SIGPIPE, SIG_DFL);
}
