/* evl-unix-socket-private.h: what create_unix_connection and
 * create_unix_server need from the platform (AF_UNIX stream sockets and
 * their socket files)
 *
 * evl-unix-socket-unix.c implements it on Unix; evl-unix-socket-win32.c
 * says "not supported" on Windows.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The identity of a socket file, so that a server removes its own file
 * only (another server may have replaced it). */
typedef struct
{
  guint64  dev;
  guint64  ino;
  gboolean valid;
} EvlUnixSocketId;

/* Whether Unix-domain stream sockets can be used here; FALSE with
 * EVL_LOOP_ERROR_NOT_SUPPORTED set otherwise. */
gboolean evl_unix_socket_supported      (GError               **error);

/* A socket file left at @path: a live server's (FALSE with
 * G_IO_ERROR_ADDRESS_IN_USE) or a dead one's (removed). Anything else at
 * @path is left alone (bind() then fails). */
gboolean evl_unix_socket_clear_stale    (const char            *path,
                                         GError               **error);

/* The identity of the socket file at @path (invalid when there is none). */
void     evl_unix_socket_get_id         (const char            *path,
                                         EvlUnixSocketId       *id);

/* Removes the socket file at @path if it is still the one of @id. */
void     evl_unix_socket_remove_if_same (const char            *path,
                                         const EvlUnixSocketId *id);

G_END_DECLS
