/* evl-os-sock-private.h (Unix): the non-blocking socket calls of the
 * socket primitives (evl-loop-sock.c), as inline wrappers
 *
 * Each returns what the call returns, or -errno on failure.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <glib.h>

G_BEGIN_DECLS

static inline gssize
evl_os_sock_recv (int     fd,
                  void   *buffer,
                  gsize   length)
{
  gssize n = recv (fd, buffer, length, MSG_DONTWAIT);

  return n >= 0 ? n : -errno;
}

static inline gssize
evl_os_sock_send (int         fd,
                  const void *buffer,
                  gsize       length)
{
  gssize n = send (fd, buffer, length, MSG_DONTWAIT | MSG_NOSIGNAL);

  return n >= 0 ? n : -errno;
}

/* 0, or -errno: -EINPROGRESS while a non-blocking connect goes on. */
static inline int
evl_os_sock_connect (int                    fd,
                     const struct sockaddr *addr,
                     socklen_t              addrlen)
{
  return connect (fd, addr, addrlen) == 0 ? 0 : -errno;
}

/* The pending error of @fd (SO_ERROR) as a positive errno value (0: none),
 * or -errno when it cannot be read. */
static inline int
evl_os_sock_error (int fd)
{
  int err = 0;
  socklen_t len = sizeof err;

  if (getsockopt (fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
    return -errno;
  return err;
}

/* A new non-blocking, close-on-exec socket, or -errno. */
static inline int
evl_os_sock_accept (int              fd,
                    struct sockaddr *addr,
                    socklen_t       *addrlen)
{
  int n = accept4 (fd, addr, addrlen, SOCK_NONBLOCK | SOCK_CLOEXEC);

  return n >= 0 ? n : -errno;
}

static inline void
evl_os_sock_close (int fd)
{
  close (fd);
}

/* 1 when @fd is non-blocking, 0 when it blocks, -errno when it cannot
 * tell. */
static inline int
evl_os_sock_is_nonblocking (int fd)
{
  int flags = fcntl (fd, F_GETFL);

  if (flags < 0)
    return -errno;
  return (flags & O_NONBLOCK) != 0;
}

G_END_DECLS
