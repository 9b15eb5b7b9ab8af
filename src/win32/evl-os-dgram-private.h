/* evl-os-dgram-private.h (Windows): the datagram socket calls of
 * create_datagram_endpoint and EvlDatagramTransport, over Winsock
 *
 * Each returns what the call returns, or -errno, the Winsock error mapped
 * by evl_os_sock_errno() (evl-os-sock-private.h, which also has the calls
 * datagrams share with streams). Sockets are non-blocking (FIONBIO) and
 * Windows has no SIGPIPE, so no MSG_DONTWAIT or MSG_NOSIGNAL is needed.
 *
 * Where Windows differs from Unix, and what the wrappers make of it:
 * - A datagram larger than the buffer: Windows fills the buffer, drops the
 *   rest and fails with WSAEMSGSIZE; there is no MSG_TRUNC to learn the
 *   real length. evl_os_dgram_recvfrom() returns -EMSGSIZE.
 * - ICMP "port unreachable" after a send: Windows reports it as
 *   WSAECONNRESET on a later receive, on connected AND unconnected
 *   sockets. Unix reports it (as ECONNREFUSED) on connected sockets only.
 *   We do as Unix (and as libuv, which turns it off for every UDP
 *   socket): an unconnected endpoint turns the report off with
 *   SIO_UDP_CONNRESET, so that one unreachable peer does not make a
 *   server's receives fail; a connected one keeps it and gets
 *   ECONNREFUSED, as on Unix (asyncio passes it to error_received on
 *   both). Wine 8 never reports it on unconnected sockets and reports
 *   WSAECONNREFUSED on connected ones: both map to ECONNREFUSED here.
 * - SO_REUSEADDR lets any later socket bind a bound UDP port and take its
 *   datagrams: an endpoint binds with SO_EXCLUSIVEADDRUSE (as asyncio,
 *   which refuses reuse_address for datagrams). There is no SO_REUSEPORT
 *   (EVL_OS_SOCK_HAS_REUSE_PORT is 0).
 * - Winsock's AF_UNIX has stream sockets only.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gnetworking.h>   /* winsock2.h before windows.h */
#include <mswsock.h>           /* SIO_UDP_CONNRESET */
#include <windows.h>
#include <errno.h>

#include <glib.h>

#include "evl-os-sock-private.h"

G_BEGIN_DECLS

/* Winsock's AF_UNIX sockets are stream sockets only. */
#define EVL_OS_DGRAM_HAS_UNIX 0

/* The errno value of a Winsock error on a datagram socket: an ICMP error
 * reported as a reset (WSAECONNRESET: port unreachable; WSAENETRESET:
 * time to live exceeded) is the ECONNREFUSED or EHOSTUNREACH Unix
 * reports. */
static inline int
evl_os_dgram_errno (int code)
{
  switch (code)
    {
    case WSAECONNRESET:  return ECONNREFUSED;
    case WSAENETRESET:   return EHOSTUNREACH;
    default:             return evl_os_sock_errno (code);
    }
}

/* Receives one datagram into @buffer and its sender's address into @ss
 * (*@addrlen: in, its size; out, the address's length). Returns the
 * datagram's length, or -errno (-EAGAIN: none waiting; -EMSGSIZE: it did
 * not fit and was dropped, its length unknown). */
static inline gssize
evl_os_dgram_recvfrom (int                      fd,
                       void                    *buffer,
                       gsize                    length,
                       struct sockaddr_storage *ss,
                       gsize                   *addrlen)
{
  int len = (int) MIN (*addrlen, sizeof *ss);
  int n = recvfrom ((SOCKET) fd, buffer, (int) MIN (length, (gsize) G_MAXINT), 0,
                    (struct sockaddr *) ss, &len);

  if (n < 0)
    return -evl_os_dgram_errno (WSAGetLastError ());
  *addrlen = (gsize) MAX (len, 0);
  return n;
}

/* An error pending on the socket (SO_ERROR, read and so cleared) as a
 * positive errno value, 0 for none. For a readiness event on which
 * evl_os_dgram_recvfrom() found nothing: Wine 8 keeps the ICMP error of a
 * connected socket there (reporting it as POLLERR, or in select()'s
 * exceptfds) and its recvfrom() says WSAEWOULDBLOCK; Windows' recvfrom()
 * returns it. */
static inline int
evl_os_dgram_pending_error (int fd)
{
  int err = 0;
  int len = sizeof err;

  if (getsockopt ((SOCKET) fd, SOL_SOCKET, SO_ERROR, (char *) &err, &len) != 0)
    return 0;
  return err == 0 ? 0 : evl_os_dgram_errno (err);
}

/* Sends one datagram to the peer of a connected socket: bytes sent, or
 * -errno. */
static inline gssize
evl_os_dgram_send (int         fd,
                   const void *buffer,
                   gsize       length)
{
  int n;

  if (length > (gsize) G_MAXINT)
    return -EMSGSIZE;
  n = send ((SOCKET) fd, buffer, (int) length, 0);
  return n >= 0 ? n : -evl_os_dgram_errno (WSAGetLastError ());
}

/* Sends one datagram to @addr: bytes sent, or -errno. */
static inline gssize
evl_os_dgram_sendto (int                    fd,
                     const void            *buffer,
                     gsize                  length,
                     const struct sockaddr *addr,
                     gsize                  addrlen)
{
  int n;

  if (length > (gsize) G_MAXINT)
    return -EMSGSIZE;
  n = sendto ((SOCKET) fd, buffer, (int) length, 0, addr, (int) addrlen);
  return n >= 0 ? n : -evl_os_dgram_errno (WSAGetLastError ());
}

/* SO_REUSEPORT: Windows has none (callers check
 * EVL_OS_SOCK_HAS_REUSE_PORT first). */
static inline int
evl_os_dgram_set_reuse_port (int fd)
{
  return -EOPNOTSUPP;
}

/* Before bind(): SO_EXCLUSIVEADDRUSE, so that no other socket (one with
 * SO_REUSEADDR included) binds the endpoint's address. 0 or -errno. */
static inline int
evl_os_dgram_set_exclusive (int fd)
{
  return evl_os_sock_set_option (fd, SOL_SOCKET, SO_EXCLUSIVEADDRUSE, 1);
}

/* After connect() (or instead of it, @connected FALSE): ICMP errors are
 * reported on connected endpoints only, as on Unix (see above). 0 or
 * -errno. */
static inline int
evl_os_dgram_set_icmp_errors (int      fd,
                              gboolean connected)
{
  BOOL report = connected ? TRUE : FALSE;
  DWORD bytes = 0;

  if (WSAIoctl ((SOCKET) fd, SIO_UDP_CONNRESET, &report, sizeof report, NULL, 0, &bytes,
                NULL, NULL) == 0)
    return 0;
  return -evl_os_sock_errno (WSAGetLastError ());
}

G_END_DECLS
