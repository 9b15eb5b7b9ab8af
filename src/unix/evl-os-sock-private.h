/* evl-os-sock-private.h (Unix): the non-blocking socket calls of the
 * socket primitives (evl-loop-sock.c), the stream transports and the
 * servers, as inline wrappers
 *
 * Each returns what the call returns, or -errno on failure.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <glib.h>

G_BEGIN_DECLS

/* The text of an errno value from the calls below, for messages. */
static inline const char *
evl_os_strerror (int errsv)
{
  return g_strerror (errsv);
}

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

/* A new non-blocking, close-on-exec socket, or -errno. */
static inline int
evl_os_sock_socket (int family,
                    int type)
{
  int fd = socket (family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

  return fd >= 0 ? fd : -errno;
}

static inline int
evl_os_sock_bind (int                    fd,
                  const struct sockaddr *addr,
                  gsize                  addrlen)
{
  return bind (fd, addr, (socklen_t) addrlen) == 0 ? 0 : -errno;
}

static inline int
evl_os_sock_listen (int fd,
                    int backlog)
{
  return listen (fd, backlog) == 0 ? 0 : -errno;
}

/* shutdown(): the sending side, or both. */
#define EVL_OS_SHUT_WR   SHUT_WR
#define EVL_OS_SHUT_RDWR SHUT_RDWR

static inline int
evl_os_sock_shutdown (int fd,
                      int how)
{
  return shutdown (fd, how) == 0 ? 0 : -errno;
}

/* An int socket option. */
static inline int
evl_os_sock_set_option (int fd,
                        int level,
                        int name,
                        int value)
{
  return setsockopt (fd, level, name, &value, sizeof value) == 0 ? 0 : -errno;
}

/* TCP_NODELAY (asyncio's _set_nodelay); errors are ignored, as there. */
static inline void
evl_os_sock_set_nodelay (int fd)
{
  evl_os_sock_set_option (fd, IPPROTO_TCP, TCP_NODELAY, 1);
}

/* Whether SO_REUSEPORT exists (the reuse-port flag of servers). */
#define EVL_OS_SOCK_HAS_REUSE_PORT 1

/* The options of a listening socket before bind(): SO_REUSEADDR when
 * @reuse_address (a port in TIME_WAIT can be bound again), SO_REUSEPORT
 * when @reuse_port. Errors are ignored. */
static inline void
evl_os_sock_set_listen_options (int      fd,
                                gboolean reuse_address,
                                gboolean reuse_port)
{
  if (reuse_address)
    evl_os_sock_set_option (fd, SOL_SOCKET, SO_REUSEADDR, 1);
  if (reuse_port)
    evl_os_sock_set_option (fd, SOL_SOCKET, SO_REUSEPORT, 1);
}

/* Whether a listening socket may be closed while an accept of the
 * proactor is in flight on it. No: io_uring's request would keep the file
 * open; the socket is shut down instead (refusing new connections at once)
 * and closed once the accept has reported. */
#define EVL_OS_SOCK_CLOSE_UNDER_ACCEPT 0

/* The local and the peer address of @fd into @ss: the address's length,
 * or -errno. */
static inline gssize
evl_os_sock_getsockname (int                      fd,
                         struct sockaddr_storage *ss)
{
  socklen_t len = sizeof *ss;

  if (getsockname (fd, (struct sockaddr *) ss, &len) < 0)
    return -errno;
  return MIN ((gsize) len, sizeof *ss);
}

static inline gssize
evl_os_sock_getpeername (int                      fd,
                         struct sockaddr_storage *ss)
{
  socklen_t len = sizeof *ss;

  if (getpeername (fd, (struct sockaddr *) ss, &len) < 0)
    return -errno;
  return MIN ((gsize) len, sizeof *ss);
}

/* The scatter-gather entry of evl_os_sock_sendv() and the write buffer. */
typedef struct iovec EvlOsIoVec;

/* The longest entry. */
#define EVL_OS_IOV_MAX_LEN G_MAXSSIZE

static inline void
evl_os_iov_set (EvlOsIoVec *iov,
                const void *base,
                gsize       len)
{
  iov->iov_base = (void *) base;
  iov->iov_len = len;
}

/* Sends the @n_iov entries of @iov as one byte stream without raising
 * SIGPIPE, retrying on EINTR: bytes sent, or -errno. */
static inline gssize
evl_os_sock_sendv (int               fd,
                   const EvlOsIoVec *iov,
                   int               n_iov)
{
  struct msghdr msg = { 0 };
  ssize_t n;

  msg.msg_iov = (struct iovec *) iov;
  msg.msg_iovlen = n_iov;
  do
    n = sendmsg (fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  return n >= 0 ? n : -errno;
}

/* Stream fds that are not sockets (pipes), for the readiness engine of
 * stream transports. */

static inline void
evl_os_fd_close (int fd)
{
  close (fd);
}

static inline gssize
evl_os_fd_read (int     fd,
                void   *buffer,
                gsize   length)
{
  ssize_t n;

  do
    n = read (fd, buffer, length);
  while (n < 0 && errno == EINTR);
  return n >= 0 ? n : -errno;
}

/* writev() without raising SIGPIPE: bytes written, or -errno. */
static inline gssize
evl_os_fd_writev (int               fd,
                  const EvlOsIoVec *iov,
                  int               n_iov)
{
  /* A pipe has no MSG_NOSIGNAL: block SIGPIPE in this thread around the
   * write and take back the one it raised, unless one was already pending
   * (then it is not ours to take). */
  sigset_t sigpipe, old, pending;
  gboolean was_pending;
  ssize_t n;
  int errsv;

  sigemptyset (&sigpipe);
  sigaddset (&sigpipe, SIGPIPE);
  sigpending (&pending);
  was_pending = sigismember (&pending, SIGPIPE);
  pthread_sigmask (SIG_BLOCK, &sigpipe, &old);
  do
    n = writev (fd, iov, n_iov);
  while (n < 0 && errno == EINTR);
  errsv = errno;
  if (n < 0 && errsv == EPIPE && !was_pending)
    {
      struct timespec zero = { 0, 0 };

      while (sigtimedwait (&sigpipe, NULL, &zero) < 0 && errno == EINTR)
        ;
    }
  pthread_sigmask (SIG_SETMASK, &old, NULL);
  return n >= 0 ? n : -errsv;
}

G_END_DECLS
