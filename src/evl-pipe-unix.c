/* evl-pipe-unix.c: pipe fds on Unix
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "evl-config.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "evl-loop-private.h"
#include "evl-pipe-private.h"

/* Pipes are polled like sockets: the loop's own engine moves their
 * bytes. */
const EvlStreamEngine *const evl_stream_pipe_engine = NULL;

void
evl_pipe_close_fd (int fd)
{
  if (fd >= 0)
    close (fd);
}

gboolean
evl_pipe_prepare_fd (int              fd,
                     EvlStreamFlags   flags,
                     GError         **error)
{
  struct stat st;
  int fl;

  if (fd < 0 || fstat (fd, &st) < 0)
    g_set_error (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_INVALID,
                 _("File descriptor %d is not valid; pass an open pipe"), fd);
  else if (!S_ISFIFO (st.st_mode) && !S_ISSOCK (st.st_mode) && !S_ISCHR (st.st_mode))
    g_set_error (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_INVALID,
                 _("File descriptor %d is not a pipe, socket or character device; "
                   "regular files are always ready and cannot be watched"), fd);
  else if ((fl = fcntl (fd, F_GETFL)) < 0 || fcntl (fd, F_SETFL, fl | O_NONBLOCK) < 0 ||
           fcntl (fd, F_SETFD, FD_CLOEXEC) < 0)
    {
      int errsv = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                   _("Cannot make file descriptor %d non-blocking: %s"), fd, g_strerror (errsv));
    }
  else
    return TRUE;

  evl_pipe_close_fd (fd);
  return FALSE;
}
