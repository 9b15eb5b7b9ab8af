/* evl-unix-socket-unix.c: AF_UNIX socket files on Unix
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "evl-config.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <gio/gio.h>

#include "evl-loop-private.h"
#include "evl-unix-socket-private.h"

gboolean
evl_unix_socket_supported (GError **error)
{
  return TRUE;
}

gboolean
evl_unix_socket_clear_stale (const char  *path,
                             GError     **error)
{
  struct sockaddr_un sun = { 0 };
  struct stat st;
  int fd, r, errsv;

  if (lstat (path, &st) < 0 || !S_ISSOCK (st.st_mode))
    return TRUE;
  fd = socket (AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return TRUE;
  sun.sun_family = AF_UNIX;
  strncpy (sun.sun_path, path, sizeof sun.sun_path - 1);
  r = connect (fd, (struct sockaddr *) &sun, sizeof sun);
  errsv = errno;
  close (fd);
  if (r == 0 || errsv == EAGAIN || errsv == EINPROGRESS)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE,
                   _("A server is listening on “%s” already; stop it or pick another path"), path);
      return FALSE;
    }
  if (errsv == ECONNREFUSED)
    unlink (path);
  return TRUE;
}

void
evl_unix_socket_get_id (const char      *path,
                        EvlUnixSocketId *id)
{
  struct stat st;

  id->valid = lstat (path, &st) == 0;
  id->dev = id->valid ? (guint64) st.st_dev : 0;
  id->ino = id->valid ? (guint64) st.st_ino : 0;
}

void
evl_unix_socket_remove_if_same (const char            *path,
                                const EvlUnixSocketId *id)
{
  struct stat st;

  if (id->valid && lstat (path, &st) == 0 && S_ISSOCK (st.st_mode) &&
      (guint64) st.st_dev == id->dev && (guint64) st.st_ino == id->ino)
    unlink (path);
}
