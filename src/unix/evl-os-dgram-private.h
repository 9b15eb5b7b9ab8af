/* evl-os-dgram-private.h (Unix): the datagram socket calls of
 * create_datagram_endpoint and EvlDatagramTransport, as inline wrappers
 *
 * Each returns what the call returns, or -errno on failure. The socket
 * calls they share with streams (socket, bind, connect, close, options)
 * are in evl-os-sock-private.h.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <errno.h>
#include <sys/socket.h>

#include <glib.h>

#include "evl-os-sock-private.h"

G_BEGIN_DECLS

/* Unix-domain datagram sockets exist. */
#define EVL_OS_DGRAM_HAS_UNIX 1

/* Receives one datagram into @buffer and its sender's address into @ss
 * (*@addrlen: in, its size; out, the address's length). Returns the
 * datagram's real length, which is more than @length when it did not fit
 * (the rest is dropped: MSG_TRUNC), or -errno (-EAGAIN: none waiting). */
static inline gssize
evl_os_dgram_recvfrom (int                      fd,
                       void                    *buffer,
                       gsize                    length,
                       struct sockaddr_storage *ss,
                       gsize                   *addrlen)
{
  socklen_t len = (socklen_t) MIN (*addrlen, sizeof *ss);
  gssize n = recvfrom (fd, buffer, length, MSG_DONTWAIT | MSG_TRUNC, (struct sockaddr *) ss, &len);

  if (n < 0)
    return -errno;
  *addrlen = len;
  return n;
}

/* An error pending on the socket, for a readiness event on which
 * evl_os_dgram_recvfrom() found nothing: none on Unix, whose recvfrom()
 * returns a pending error itself (no syscall is made). */
static inline int
evl_os_dgram_pending_error (int fd)
{
  return 0;
}

/* Sends one datagram to the peer of a connected socket: bytes sent, or
 * -errno. */
static inline gssize
evl_os_dgram_send (int         fd,
                   const void *buffer,
                   gsize       length)
{
  gssize n = send (fd, buffer, length, MSG_DONTWAIT | MSG_NOSIGNAL);

  return n >= 0 ? n : -errno;
}

/* Sends one datagram to @addr: bytes sent, or -errno. */
static inline gssize
evl_os_dgram_sendto (int                    fd,
                     const void            *buffer,
                     gsize                  length,
                     const struct sockaddr *addr,
                     gsize                  addrlen)
{
  gssize n = sendto (fd, buffer, length, MSG_DONTWAIT | MSG_NOSIGNAL, addr, (socklen_t) addrlen);

  return n >= 0 ? n : -errno;
}

/* SO_REUSEPORT (EVL_DATAGRAM_FLAGS_REUSE_PORT): 0 or -errno. */
static inline int
evl_os_dgram_set_reuse_port (int fd)
{
  return evl_os_sock_set_option (fd, SOL_SOCKET, SO_REUSEPORT, 1);
}

/* Before bind(): keeps other sockets off the endpoint's address. Nothing
 * to do on Unix, where a second socket can only share a UDP port if both
 * asked for it (SO_REUSEADDR or SO_REUSEPORT on each). 0 or -errno. */
static inline int
evl_os_dgram_set_exclusive (int fd)
{
  return 0;
}

/* After connect() (or instead of it, @connected FALSE): whether ICMP
 * errors ("port unreachable", ...) are reported on the socket. Unix
 * reports them on connected sockets only, on its own. 0 or -errno. */
static inline int
evl_os_dgram_set_icmp_errors (int      fd,
                              gboolean connected)
{
  return 0;
}

G_END_DECLS
