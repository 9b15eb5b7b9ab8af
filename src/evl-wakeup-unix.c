/* evl-wakeup-unix.c: the wakeup fd on Unix (eventfd, or a pipe)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "evl-config.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <unistd.h>
#if HAVE_SYS_EVENTFD_H
# include <sys/eventfd.h>
#endif

#include "evl-wakeup-private.h"

gboolean
evl_wakeup_open (int     *read_fd,
                 int     *write_fd,
                 GError **error)
{
#if HAVE_EVENTFD
  int fd = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);

  if (fd >= 0)
    {
      *read_fd = *write_fd = fd;
      return TRUE;
    }
#endif
  {
    int fds[2];
    int i;

#if HAVE_PIPE2
    if (pipe2 (fds, O_CLOEXEC | O_NONBLOCK) < 0)
#else
    if (pipe (fds) < 0)
#endif
      {
        int errsv = errno;
        g_set_error_literal (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                             g_strerror (errsv));
        return FALSE;
      }
    for (i = 0; i < 2; i++)
      {
        fcntl (fds[i], F_SETFD, FD_CLOEXEC);
        fcntl (fds[i], F_SETFL, fcntl (fds[i], F_GETFL) | O_NONBLOCK);
      }
    *read_fd = fds[0];
    *write_fd = fds[1];
    return TRUE;
  }
}

void
evl_wakeup_signal (int write_fd)
{
  int saved_errno = errno;
  guint64 one = 1;
  ssize_t r;

  /* eventfd takes 8 bytes; a pipe takes any; a full pipe already wakes. */
  do
    r = write (write_fd, &one, sizeof one);
  while (r < 0 && errno == EINTR);
  errno = saved_errno;
}

void
evl_wakeup_drain (int read_fd)
{
  char buf[64];
  ssize_t r;

  do
    r = read (read_fd, buf, sizeof buf);
  while (r > 0 || (r < 0 && errno == EINTR));
}

void
evl_wakeup_close (int read_fd,
                  int write_fd)
{
  if (write_fd >= 0 && write_fd != read_fd)
    close (write_fd);
  if (read_fd >= 0)
    close (read_fd);
}
