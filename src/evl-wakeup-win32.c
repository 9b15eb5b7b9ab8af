/* evl-wakeup-win32.c: the wakeup channel on Windows (a loopback socket pair)
 *
 * Winsock's select() and WSAPoll() wait for sockets only, so the loop's
 * wakeup is what asyncio's self-pipe is on Windows: a connected pair of
 * TCP sockets on 127.0.0.1. Both ends are non-blocking and not inherited
 * by child processes. The "fds" are SOCKET values.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "evl-config.h"

#include <errno.h>
#include <gio/gio.h>

#include "evl-os-private.h"
#include "evl-loop-private.h"
#include "evl-wakeup-private.h"

static SOCKET
new_socket (void)
{
  return WSASocketW (AF_INET, SOCK_STREAM, IPPROTO_TCP, NULL, 0,
                     WSA_FLAG_OVERLAPPED | WSA_FLAG_NO_HANDLE_INHERIT);
}

static void
set_wsa_error (GError **error)
{
  int code = WSAGetLastError ();
  char *msg = g_win32_error_message (code);

  g_set_error (error, G_IO_ERROR, g_io_error_from_win32_error (code),
               _("Could not create the loop's wakeup sockets: %s"), msg);
  g_free (msg);
}

gboolean
evl_wakeup_open (int     *read_fd,
                 int     *write_fd,
                 GError **error)
{
  SOCKET listener = INVALID_SOCKET, w = INVALID_SOCKET, r = INVALID_SOCKET;
  struct sockaddr_in addr;
  int len = sizeof addr;
  u_long nonblocking = 1;
  BOOL nodelay = TRUE;

  g_networking_init ();

  memset (&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  addr.sin_port = 0;

  listener = new_socket ();
  if (listener == INVALID_SOCKET ||
      bind (listener, (struct sockaddr *) &addr, sizeof addr) != 0 ||
      getsockname (listener, (struct sockaddr *) &addr, &len) != 0 ||
      listen (listener, 1) != 0)
    goto fail;
  w = new_socket ();
  if (w == INVALID_SOCKET ||
      connect (w, (struct sockaddr *) &addr, sizeof addr) != 0)
    goto fail;
  r = accept (listener, NULL, NULL);
  if (r == INVALID_SOCKET)
    goto fail;
  closesocket (listener);
  SetHandleInformation ((HANDLE) r, HANDLE_FLAG_INHERIT, 0);

  if (ioctlsocket (r, FIONBIO, &nonblocking) != 0 ||
      ioctlsocket (w, FIONBIO, &nonblocking) != 0)
    goto fail;
  setsockopt (w, IPPROTO_TCP, TCP_NODELAY, (const char *) &nodelay, sizeof nodelay);

  if (r > G_MAXINT || w > G_MAXINT)
    {
      WSASetLastError (WSAEMFILE);
      goto fail;
    }
  *read_fd = (int) r;
  *write_fd = (int) w;
  return TRUE;

fail:
  set_wsa_error (error);
  if (listener != INVALID_SOCKET)
    closesocket (listener);
  if (w != INVALID_SOCKET)
    closesocket (w);
  if (r != INVALID_SOCKET)
    closesocket (r);
  return FALSE;
}

void
evl_wakeup_signal (int write_fd)
{
  int saved_errno = errno;
  int saved_wsa = WSAGetLastError ();
  char one = 1;

  /* A full socket buffer already wakes the reader. */
  send ((SOCKET) write_fd, &one, 1, 0);
  WSASetLastError (saved_wsa);
  errno = saved_errno;
}

void
evl_wakeup_drain (int read_fd)
{
  char buf[64];
  int saved_wsa = WSAGetLastError ();

  while (recv ((SOCKET) read_fd, buf, sizeof buf, 0) > 0)
    ;
  WSASetLastError (saved_wsa);
}

void
evl_wakeup_close (int read_fd,
                  int write_fd)
{
  if (write_fd >= 0 && write_fd != read_fd)
    closesocket ((SOCKET) write_fd);
  if (read_fd >= 0)
    closesocket ((SOCKET) read_fd);
}
