/* evl-unix-socket-win32.c: AF_UNIX sockets on Windows: not supported
 *
 * Windows 10 (1803) and later have AF_UNIX stream sockets (afunix.h), but
 * Wine 8, which the Windows build is tested with, has not (socket() fails
 * with WSAEAFNOSUPPORT): untested code is not shipped, so
 * create_unix_connection and create_unix_server fail with
 * EVL_LOOP_ERROR_NOT_SUPPORTED here.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "evl-config.h"

#include <gio/gio.h>

#include "evl-loop-private.h"
#include "evl-unix-socket-private.h"

gboolean
evl_unix_socket_supported (GError **error)
{
  g_set_error_literal (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_NOT_SUPPORTED,
                       _("Unix-domain sockets are not supported on Windows; "
                         "use a TCP connection to the loopback address instead"));
  return FALSE;
}

gboolean
evl_unix_socket_clear_stale (const char  *path,
                             GError     **error)
{
  return evl_unix_socket_supported (error);
}

void
evl_unix_socket_get_id (const char      *path,
                        EvlUnixSocketId *id)
{
  id->valid = FALSE;
  id->dev = 0;
  id->ino = 0;
}

void
evl_unix_socket_remove_if_same (const char            *path,
                                const EvlUnixSocketId *id)
{
}
