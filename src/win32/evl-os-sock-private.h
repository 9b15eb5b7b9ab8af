/* evl-os-sock-private.h (Windows): the non-blocking socket calls of the
 * socket primitives (evl-loop-sock.c) over Winsock
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

static inline int
evl_os_sock_errno (int code)
{
  switch (code)
    {
    case WSAEWOULDBLOCK:    return EAGAIN;
    case WSAEINPROGRESS:    return EINPROGRESS;
    case WSAEALREADY:       return EALREADY;
    case WSAEINTR:          return EINTR;
    case WSAECONNRESET:     return ECONNRESET;
    case WSAENETRESET:      return ECONNRESET;
    case WSAECONNREFUSED:   return ECONNREFUSED;
    case WSAECONNABORTED:   return ECONNABORTED;
    case WSAENETUNREACH:    return ENETUNREACH;
    case WSAEHOSTUNREACH:   return EHOSTUNREACH;
    case WSAENETDOWN:       return ENETDOWN;
    case WSAETIMEDOUT:      return ETIMEDOUT;
    case WSAENOTCONN:       return ENOTCONN;
    case WSAEISCONN:        return EISCONN;
    case WSAESHUTDOWN:      return EPIPE;
    case WSAEADDRINUSE:     return EADDRINUSE;
    case WSAEADDRNOTAVAIL:  return EADDRNOTAVAIL;
    case WSAEAFNOSUPPORT:   return EAFNOSUPPORT;
    case WSAENOTSOCK:       return ENOTSOCK;
    case WSAEBADF:          return EBADF;
    case WSAEINVAL:         return EINVAL;
    case WSAEMSGSIZE:       return EMSGSIZE;
    case WSAENOBUFS:        return ENOBUFS;
    case WSAEMFILE:         return EMFILE;
    case WSAEACCES:         return EACCES;
    case WSAEOPNOTSUPP:     return EOPNOTSUPP;
    case WSAEFAULT:         return EFAULT;
    default:                return EIO;
    }
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

G_END_DECLS
