/* evl-os-sock-private.h (Windows): the non-blocking socket calls of the
 * socket primitives (evl-loop-sock.c), the stream transports and the
 * servers over Winsock
 *
 * Each returns what the call returns, or -errno on failure, with the
 * Winsock error mapped to the errno value the shared code expects
 * (WSAEWOULDBLOCK is EAGAIN; a connect in progress is EINPROGRESS).
 * Windows cannot say whether a socket is non-blocking (FIONBIO can only be
 * set): evl_os_sock_is_nonblocking() trusts the caller.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gnetworking.h>   /* winsock2.h before windows.h */
#include <windows.h>
#include <errno.h>

#include <glib.h>

G_BEGIN_DECLS

/* The Winsock errors the shared code tells apart, and the errno value
 * each becomes (the first row of an errno value is its text's source). */
#define EVL_OS_WSA_ERRNOS(X) \
  X (WSAEWOULDBLOCK, EAGAIN) \
  X (WSAEINPROGRESS, EINPROGRESS) \
  X (WSAEALREADY, EALREADY) \
  X (WSAEINTR, EINTR) \
  X (WSAECONNRESET, ECONNRESET) \
  X (WSAENETRESET, ECONNRESET) \
  X (WSAECONNREFUSED, ECONNREFUSED) \
  X (WSAECONNABORTED, ECONNABORTED) \
  X (WSAENETUNREACH, ENETUNREACH) \
  X (WSAEHOSTUNREACH, EHOSTUNREACH) \
  X (WSAENETDOWN, ENETDOWN) \
  X (WSAETIMEDOUT, ETIMEDOUT) \
  X (WSAENOTCONN, ENOTCONN) \
  X (WSAEISCONN, EISCONN) \
  X (WSAESHUTDOWN, EPIPE) \
  X (WSAEADDRINUSE, EADDRINUSE) \
  X (WSAEADDRNOTAVAIL, EADDRNOTAVAIL) \
  X (WSAEAFNOSUPPORT, EAFNOSUPPORT) \
  X (WSAENOTSOCK, ENOTSOCK) \
  X (WSAEBADF, EBADF) \
  X (WSAEINVAL, EINVAL) \
  X (WSAEMSGSIZE, EMSGSIZE) \
  X (WSAENOBUFS, ENOBUFS) \
  X (WSAEMFILE, EMFILE) \
  X (WSAEACCES, EACCES) \
  X (WSAEOPNOTSUPP, EOPNOTSUPP) \
  X (WSAEFAULT, EFAULT)

static inline int
evl_os_sock_errno (int code)
{
  switch (code)
    {
#define EVL_OS_WSA_CASE(wsa, err) case wsa: return err;
    EVL_OS_WSA_ERRNOS (EVL_OS_WSA_CASE)
#undef EVL_OS_WSA_CASE
    default:                return EIO;
    }
}

/* The text of an errno value from the calls below, for messages: the C
 * runtime's strerror() knows none of the socket errno values
 * (EADDRINUSE, ECONNREFUSED...: "Unknown error"), so those take the
 * system's message of the Winsock error they came from. One interned
 * string per error: the caller does not free it. */
static inline const char *
evl_os_strerror (int errsv)
{
  int code = 0;
  char *text;
  const char *interned;

#define EVL_OS_WSA_FIND(wsa, err) if (code == 0 && errsv == err) code = wsa;
  EVL_OS_WSA_ERRNOS (EVL_OS_WSA_FIND)
#undef EVL_OS_WSA_FIND
  if (code == 0)
    return g_strerror (errsv);
  text = g_win32_error_message (code);
  interned = text != NULL && text[0] != '\0' ? g_intern_string (text) : g_strerror (errsv);
  g_free (text);
  return interned;
}

static inline gssize
evl_os_sock_recv (int     fd,
                  void   *buffer,
                  gsize   length)
{
  int n = recv ((SOCKET) fd, buffer, (int) MIN (length, (gsize) G_MAXINT), 0);

  return n >= 0 ? n : -evl_os_sock_errno (WSAGetLastError ());
}

static inline gssize
evl_os_sock_send (int         fd,
                  const void *buffer,
                  gsize       length)
{
  int n = send ((SOCKET) fd, buffer, (int) MIN (length, (gsize) G_MAXINT), 0);

  return n >= 0 ? n : -evl_os_sock_errno (WSAGetLastError ());
}

static inline int
evl_os_sock_connect (int                    fd,
                     const struct sockaddr *addr,
                     socklen_t              addrlen)
{
  int code;

  if (connect ((SOCKET) fd, addr, addrlen) == 0)
    return 0;
  code = WSAGetLastError ();
  /* A non-blocking connect that goes on says WSAEWOULDBLOCK here. */
  if (code == WSAEWOULDBLOCK)
    return -EINPROGRESS;
  return -evl_os_sock_errno (code);
}

static inline int
evl_os_sock_error (int fd)
{
  int err = 0;
  int len = sizeof err;

  if (getsockopt ((SOCKET) fd, SOL_SOCKET, SO_ERROR, (char *) &err, &len) != 0)
    return -evl_os_sock_errno (WSAGetLastError ());
  return err == 0 ? 0 : evl_os_sock_errno (err);
}

static inline int
evl_os_sock_accept (int              fd,
                    struct sockaddr *addr,
                    socklen_t       *addrlen)
{
  SOCKET s = accept ((SOCKET) fd, addr, addrlen);
  u_long one = 1;

  if (s == INVALID_SOCKET)
    return -evl_os_sock_errno (WSAGetLastError ());
  ioctlsocket (s, FIONBIO, &one);
  SetHandleInformation ((HANDLE) s, HANDLE_FLAG_INHERIT, 0);
  return (int) s;
}

static inline void
evl_os_sock_close (int fd)
{
  closesocket ((SOCKET) fd);
}

static inline int
evl_os_sock_is_nonblocking (int fd)
{
  return 1;
}

/* A new non-blocking socket, overlapped (the IOCP backend needs it) and
 * not inheritable, or -errno. */
static inline int
evl_os_sock_socket (int family,
                    int type)
{
  SOCKET s = WSASocketW (family, type, 0, NULL, 0,
                         WSA_FLAG_OVERLAPPED | WSA_FLAG_NO_HANDLE_INHERIT);
  u_long one = 1;

  if (s == INVALID_SOCKET && WSAGetLastError () == WSAEINVAL)
    {
      /* Before Windows 7 SP1: no WSA_FLAG_NO_HANDLE_INHERIT. */
      s = WSASocketW (family, type, 0, NULL, 0, WSA_FLAG_OVERLAPPED);
      if (s != INVALID_SOCKET)
        SetHandleInformation ((HANDLE) s, HANDLE_FLAG_INHERIT, 0);
    }
  if (s == INVALID_SOCKET)
    return -evl_os_sock_errno (WSAGetLastError ());
  if ((guint64) s > G_MAXINT)
    {
      /* The API's `int fd` cannot hold it (never seen: sockets are small
       * multiples of 4). */
      closesocket (s);
      return -EMFILE;
    }
  if (ioctlsocket (s, FIONBIO, &one) != 0)
    {
      int err = -evl_os_sock_errno (WSAGetLastError ());

      closesocket (s);
      return err;
    }
  return (int) s;
}

static inline int
evl_os_sock_bind (int                    fd,
                  const struct sockaddr *addr,
                  gsize                  addrlen)
{
  if (bind ((SOCKET) fd, addr, (int) addrlen) == 0)
    return 0;
  return -evl_os_sock_errno (WSAGetLastError ());
}

static inline int
evl_os_sock_listen (int fd,
                    int backlog)
{
  if (listen ((SOCKET) fd, backlog) == 0)
    return 0;
  return -evl_os_sock_errno (WSAGetLastError ());
}

#define EVL_OS_SHUT_WR   SD_SEND
#define EVL_OS_SHUT_RDWR SD_BOTH

static inline int
evl_os_sock_shutdown (int fd,
                      int how)
{
  if (shutdown ((SOCKET) fd, how) == 0)
    return 0;
  return -evl_os_sock_errno (WSAGetLastError ());
}

static inline int
evl_os_sock_set_option (int fd,
                        int level,
                        int name,
                        int value)
{
  if (setsockopt ((SOCKET) fd, level, name, (const char *) &value, sizeof value) == 0)
    return 0;
  return -evl_os_sock_errno (WSAGetLastError ());
}

static inline void
evl_os_sock_set_nodelay (int fd)
{
  evl_os_sock_set_option (fd, IPPROTO_TCP, TCP_NODELAY, 1);
}

/* Windows has no SO_REUSEPORT. */
#define EVL_OS_SOCK_HAS_REUSE_PORT 0

/* SO_REUSEADDR on Windows lets another socket bind the same address and
 * port while this one listens (and steal its connections); binding a port
 * whose old connections are in TIME_WAIT needs no option there. So a
 * listening socket never gets SO_REUSEADDR there (Python's
 * socket.create_server() leaves it out on Windows for these reasons) and
 * gets SO_EXCLUSIVEADDRUSE, with or without @reuse_address, so that no
 * other socket can bind over it. @reuse_port is refused before
 * (EVL_OS_SOCK_HAS_REUSE_PORT). Errors are ignored. */
static inline void
evl_os_sock_set_listen_options (int      fd,
                                gboolean reuse_address,
                                gboolean reuse_port)
{
  evl_os_sock_set_option (fd, SOL_SOCKET, SO_EXCLUSIVEADDRUSE, 1);
}

/* Whether a listening socket may be closed while an accept of the
 * proactor is in flight on it. Yes, as asyncio's IOCP proactor does:
 * closesocket() aborts the AcceptEx, whose request the IOCP backend keeps
 * until its packet comes, and a listening socket cannot be shut down on
 * Windows (so closing is the only way to refuse new connections at once). */
#define EVL_OS_SOCK_CLOSE_UNDER_ACCEPT 1

static inline gssize
evl_os_sock_getsockname (int                      fd,
                         struct sockaddr_storage *ss)
{
  int len = sizeof *ss;

  if (getsockname ((SOCKET) fd, (struct sockaddr *) ss, &len) != 0)
    return -evl_os_sock_errno (WSAGetLastError ());
  return MIN ((gsize) MAX (len, 0), sizeof *ss);
}

static inline gssize
evl_os_sock_getpeername (int                      fd,
                         struct sockaddr_storage *ss)
{
  int len = sizeof *ss;

  if (getpeername ((SOCKET) fd, (struct sockaddr *) ss, &len) != 0)
    return -evl_os_sock_errno (WSAGetLastError ());
  return MIN ((gsize) MAX (len, 0), sizeof *ss);
}

/* WSASend's scatter-gather entry. */
typedef WSABUF EvlOsIoVec;

/* The longest entry (WSABUF.len is a ULONG). */
#define EVL_OS_IOV_MAX_LEN ((gsize) G_MAXINT32)

static inline void
evl_os_iov_set (EvlOsIoVec *iov,
                const void *base,
                gsize       len)
{
  iov->buf = (char *) base;
  iov->len = (ULONG) len;
}

/* Sends the @n_iov entries of @iov as one byte stream (there is no
 * SIGPIPE on Windows): bytes sent, or -errno. */
static inline gssize
evl_os_sock_sendv (int               fd,
                   const EvlOsIoVec *iov,
                   int               n_iov)
{
  DWORD sent = 0;

  if (WSASend ((SOCKET) fd, (LPWSABUF) iov, (DWORD) n_iov, &sent, 0, NULL, NULL) == 0)
    return sent;
  return -evl_os_sock_errno (WSAGetLastError ());
}

/* Stream fds that are not sockets: on Windows a pipe is a HANDLE, which
 * cannot be polled; pipe transports there move bytes with overlapped
 * ReadFile/WriteFile, never through the readiness engine that calls
 * these. */

/* A pipe HANDLE. */
static inline void
evl_os_fd_close (int fd)
{
  CloseHandle ((HANDLE) (gintptr) fd);
}

static inline gssize
evl_os_fd_read (int     fd,
                void   *buffer,
                gsize   length)
{
  return -EOPNOTSUPP;
}

static inline gssize
evl_os_fd_writev (int               fd,
                  const EvlOsIoVec *iov,
                  int               n_iov)
{
  return -EOPNOTSUPP;
}

G_END_DECLS
