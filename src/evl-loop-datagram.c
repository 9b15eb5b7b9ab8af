/* evl-loop-datagram.c: create_datagram_endpoint
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "evl-config.h"

#include <errno.h>

#include "evl-loop-private.h"
#include "evl-os-dgram-private.h"
#include "evl-operation-private.h"
#include "evl-datagram-transport-private.h"

/* The socket is made, bound and connected in the call (for datagrams
 * neither blocks: a UDP connect only records the peer); the protocol is
 * made and the transport started from the loop, so connection_made runs
 * from the loop's dispatch and before the caller's callback, as asyncio's
 * create_datagram_endpoint does. */

typedef struct
{
  EvlLoop                    *loop;         /* the operation holds it */
  EvlOperation               *op;
  EvlDatagramProtocolFactory  factory;
  gpointer                    factory_data;
  GDestroyNotify              factory_notify;
  GCancellable               *cancellable;
  int                         fd;
  gboolean                    started;
} Endpoint;

typedef struct
{
  EvlDatagramTransport *transport;
  EvlDatagramProtocol  *protocol;
} EndpointResult;

static void
endpoint_result_free (gpointer data)
{
  EndpointResult *er = data;

  g_clear_object (&er->transport);
  g_clear_object (&er->protocol);
  g_free (er);
}

static void
endpoint_free (Endpoint *ep)
{
  if (ep->factory_notify != NULL)
    ep->factory_notify (ep->factory_data);
  if (ep->fd >= 0)
    evl_os_sock_close (ep->fd);
  g_clear_object (&ep->cancellable);
  g_clear_object (&ep->op);
  g_free (ep);
}

/* FALSE with @error set when the endpoint cannot be made: the loop is
 * closed or @cancellable cancelled (as evl_net_can_start(), without the
 * stream code). */
static gboolean
can_start (EvlLoop       *loop,
           GCancellable  *cancellable,
           GError       **error)
{
  if (evl_loop_is_closed (loop))
    {
      g_set_error_literal (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_CLOSED,
                           _("The event loop is closed; create a new loop to run more work"));
      return FALSE;
    }
  return !g_cancellable_set_error_if_cancelled (cancellable, error);
}

/* Ends the operation with @error (taken). */
static void
endpoint_fail (Endpoint *ep,
               GError   *error)
{
  evl_operation_return_error (ep->op, error);
}

static void
endpoint_start (gpointer data)
{
  Endpoint *ep = data;
  EvlDatagramProtocol *protocol;
  EvlDatagramTransport *transport;
  EndpointResult *er;
  GError *error = NULL;

  ep->started = TRUE;
  if (g_cancellable_set_error_if_cancelled (ep->cancellable, &error))
    {
      endpoint_fail (ep, error);
      return;
    }
  protocol = ep->factory (ep->factory_data);
  if (protocol == NULL || !EVL_IS_DATAGRAM_PROTOCOL (protocol))
    {
      if (protocol != NULL)
        g_object_unref (protocol);
      endpoint_fail (ep, g_error_new_literal (EVL_LOOP_ERROR, EVL_LOOP_ERROR_FAILED,
                                              _("The protocol factory returned no datagram "
                                                "protocol; return a new EvlDatagramProtocol")));
      return;
    }
  transport = evl_datagram_transport_new (ep->loop, ep->fd, protocol);
  ep->fd = -1;   /* the transport's now */
  /* connection_made now; the callback is scheduled behind it. */
  evl_datagram_transport_start (transport);

  er = g_new0 (EndpointResult, 1);
  er->transport = transport;
  er->protocol = protocol;
  evl_operation_return_pointer (ep->op, er, endpoint_result_free);
}

/* After endpoint_start, or instead of it when the loop closes first. */
static void
endpoint_dropped (gpointer data)
{
  Endpoint *ep = data;

  if (!ep->started)
    endpoint_fail (ep, g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED,
                                            _("Operation was cancelled")));
  endpoint_free (ep);
}

static int
family_of (GSocketAddress *address)
{
  switch (g_socket_address_get_family (address))
    {
    case G_SOCKET_FAMILY_IPV4:
      return AF_INET;
    case G_SOCKET_FAMILY_IPV6:
      return AF_INET6;
    case G_SOCKET_FAMILY_UNIX:
      return AF_UNIX;
    case G_SOCKET_FAMILY_INVALID:
    default:
      return -1;
    }
}

static gboolean
to_native (GSocketAddress          *address,
           struct sockaddr_storage *ss,
           gsize                   *len,
           GError                 **error)
{
  gssize size = g_socket_address_get_native_size (address);

  if (size <= 0 || (gsize) size > sizeof *ss ||
      !g_socket_address_to_native (address, ss, sizeof *ss, NULL))
    {
      g_set_error_literal (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_INVALID,
                           _("The socket address cannot be converted; pass an IPv4, IPv6 or "
                             "Unix-domain address"));
      return FALSE;
    }
  *len = (gsize) size;
  return TRUE;
}

/* @r: what a socket option call returned (0 or -errno). */
static gboolean
check_flag (int          r,
            const char  *name,
            GError     **error)
{
  if (r == 0)
    return TRUE;
  g_set_error (error, G_IO_ERROR, g_io_error_from_errno (-r),
               _("Cannot set %s on the socket: %s"), name, evl_os_strerror (-r));
  return FALSE;
}

/* A non-blocking, close-on-exec (not inheritable) datagram socket, bound
 * and connected as asked; -1 with @error set. */
static int
open_endpoint (GSocketAddress    *local_address,
               GSocketAddress    *remote_address,
               EvlDatagramFlags   flags,
               GError           **error)
{
  struct sockaddr_storage ss;
  gsize len;
  int family, fd, r;

  if (local_address == NULL && remote_address == NULL)
    {
      g_set_error_literal (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_INVALID,
                           _("A datagram endpoint needs a local or a remote address; pass at least one"));
      return -1;
    }
  family = family_of (local_address != NULL ? local_address : remote_address);
  if (family < 0 || (local_address != NULL && remote_address != NULL &&
                     family_of (remote_address) != family))
    {
      g_set_error_literal (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_INVALID,
                           family < 0
                           ? _("Unsupported socket address; pass an IPv4, IPv6 or Unix-domain address")
                           : _("The local and remote addresses are of different families; "
                               "pass two IPv4, two IPv6 or two Unix-domain addresses"));
      return -1;
    }
  if (family == AF_UNIX && !EVL_OS_DGRAM_HAS_UNIX)
    {
      g_set_error_literal (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_NOT_SUPPORTED,
                           _("Unix-domain datagram sockets are not supported on this platform "
                             "(it has Unix-domain stream sockets only); use UDP on the "
                             "loopback address instead"));
      return -1;
    }
  if ((flags & EVL_DATAGRAM_FLAGS_REUSE_PORT) && !EVL_OS_SOCK_HAS_REUSE_PORT)
    {
      g_set_error_literal (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_NOT_SUPPORTED,
                           _("This platform has no SO_REUSEPORT: datagram endpoints cannot "
                             "share a port; do not pass EVL_DATAGRAM_FLAGS_REUSE_PORT"));
      return -1;
    }

  fd = evl_os_sock_socket (family, SOCK_DGRAM);
  if (fd < 0)
    {
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (-fd),
                   _("Cannot create a datagram socket: %s"), evl_os_strerror (-fd));
      return -1;
    }
  if ((flags & EVL_DATAGRAM_FLAGS_REUSE_PORT) &&
      !check_flag (evl_os_dgram_set_reuse_port (fd), "SO_REUSEPORT", error))
    goto fail;
  if ((flags & EVL_DATAGRAM_FLAGS_ALLOW_BROADCAST) &&
      !check_flag (evl_os_sock_set_option (fd, SOL_SOCKET, SO_BROADCAST, 1), "SO_BROADCAST", error))
    goto fail;
  /* Windows: SO_EXCLUSIVEADDRUSE, before any bind (an implicit one on the
   * first send too); nothing on Unix. Without REUSE_PORT the port is the
   * endpoint's alone on both. */
  if (!(flags & EVL_DATAGRAM_FLAGS_REUSE_PORT) &&
      !check_flag (evl_os_dgram_set_exclusive (fd), "SO_EXCLUSIVEADDRUSE", error))
    goto fail;

  if (local_address != NULL)
    {
      if (!to_native (local_address, &ss, &len, error))
        goto fail;
      r = evl_os_sock_bind (fd, (struct sockaddr *) &ss, len);
      if (r < 0)
        {
          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (-r),
                       _("Cannot bind the datagram socket to its local address: %s"),
                       evl_os_strerror (-r));
          goto fail;
        }
    }
  if (remote_address != NULL)
    {
      if (!to_native (remote_address, &ss, &len, error))
        goto fail;
      /* A datagram connect() only records the peer: it never goes on in
       * the background. */
      while ((r = evl_os_sock_connect (fd, (struct sockaddr *) &ss, (socklen_t) len)) < 0)
        {
          if (r == -EINTR)
            continue;
          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (-r),
                       _("Cannot connect the datagram socket to its remote address: %s"),
                       evl_os_strerror (-r));
          goto fail;
        }
    }
  /* Windows: ICMP errors on connected endpoints only, as on Unix. Should
   * it fail, unconnected endpoints report them too (error_received), as
   * Windows does by default: not worth failing the endpoint for. */
  (void) evl_os_dgram_set_icmp_errors (fd, remote_address != NULL);
  return fd;

fail:
  evl_os_sock_close (fd);
  return -1;
}

/**
 * evl_loop_create_datagram_endpoint_full_async:
 * @loop: a loop
 * @factory: (scope notified) (closure factory_data) (destroy factory_notify):
 *   makes the endpoint's protocol
 * @factory_data: data for @factory
 * @factory_notify: (nullable): frees @factory_data; runs exactly once
 * @local_address: (nullable): the address to bind to (port 0: any free
 *   port); %NULL to bind on the first send (UDP) or not at all
 * @remote_address: (nullable): the peer to connect the endpoint to; then
 *   only its datagrams are received, and
 *   [method@Evl.DatagramTransport.sendto] takes no address
 * @flags: options
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async) (closure user_data): called once the endpoint
 *   is ready
 * @user_data: data for @callback
 *
 * Like [method@Evl.Loop.create_datagram_endpoint_async], with options
 * (asyncio's `reuse_port` and `allow_broadcast`).
 *
 * Windows has no `SO_REUSEPORT`: there %EVL_DATAGRAM_FLAGS_REUSE_PORT
 * fails with %EVL_LOOP_ERROR_NOT_SUPPORTED.
 */
void
evl_loop_create_datagram_endpoint_full_async (EvlLoop                    *loop,
                                              EvlDatagramProtocolFactory  factory,
                                              gpointer                    factory_data,
                                              GDestroyNotify              factory_notify,
                                              GSocketAddress             *local_address,
                                              GSocketAddress             *remote_address,
                                              EvlDatagramFlags            flags,
                                              GCancellable               *cancellable,
                                              GAsyncReadyCallback         callback,
                                              gpointer                    user_data)
{
  Endpoint *ep;
  GError *error = NULL;

  g_return_if_fail (EVL_IS_LOOP (loop));
  g_return_if_fail (factory != NULL);
  g_return_if_fail (local_address == NULL || G_IS_SOCKET_ADDRESS (local_address));
  g_return_if_fail (remote_address == NULL || G_IS_SOCKET_ADDRESS (remote_address));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  ep = g_new0 (Endpoint, 1);
  ep->loop = loop;
  ep->op = evl_operation_new (loop, evl_loop_create_datagram_endpoint_full_async, callback, user_data);
  ep->factory = factory;
  ep->factory_data = factory_data;
  ep->factory_notify = factory_notify;
  ep->cancellable = cancellable != NULL ? g_object_ref (cancellable) : NULL;
  ep->fd = -1;

  if (can_start (loop, cancellable, &error))
    ep->fd = open_endpoint (local_address, remote_address, flags, &error);
  if (error != NULL)
    {
      endpoint_fail (ep, error);
      endpoint_free (ep);
      return;
    }
  evl_loop_call_soon_internal (loop, endpoint_start, ep, (GDestroyNotify) endpoint_dropped);
}

/**
 * evl_loop_create_datagram_endpoint_async:
 * @loop: a loop
 * @factory: (scope notified) (closure factory_data) (destroy factory_notify):
 *   makes the endpoint's protocol
 * @factory_data: data for @factory
 * @factory_notify: (nullable): frees @factory_data; runs exactly once
 * @local_address: (nullable): the address to bind to (port 0: any free
 *   port); %NULL to bind on the first send (UDP) or not at all
 * @remote_address: (nullable): the peer to connect the endpoint to; then
 *   only its datagrams are received, and
 *   [method@Evl.DatagramTransport.sendto] takes no address
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async) (closure user_data): called once the endpoint
 *   is ready
 * @user_data: data for @callback
 *
 * Creates a datagram endpoint (UDP for internet addresses, a
 * Unix-domain datagram socket for #GUnixSocketAddress), as asyncio's
 * `loop.create_datagram_endpoint()`, on every loop kind. At least one of
 * @local_address and @remote_address is needed; they are already
 * resolved (see [method@Evl.Loop.getaddrinfo_async]). The socket is
 * non-blocking and close-on-exec (not inheritable on Windows).
 *
 * Unless %EVL_DATAGRAM_FLAGS_REUSE_PORT shares it, the local port is the
 * endpoint's alone (on Windows the socket binds with
 * `SO_EXCLUSIVEADDRUSE`, so that no socket with `SO_REUSEADDR` takes its
 * datagrams). ICMP errors such as "port unreachable" go to the protocol's
 * `error_received` on a connected endpoint only, on every platform (an
 * unconnected endpoint turns Windows' reports off, as libuv does). Windows
 * has no Unix-domain datagram sockets: a #GUnixSocketAddress fails there
 * with %EVL_LOOP_ERROR_NOT_SUPPORTED.
 *
 * @factory is called from the loop, then the protocol's
 * `connection_made`, then @callback; get the transport with
 * [method@Evl.Loop.create_datagram_endpoint_finish]. Errors: a
 * %G_IO_ERROR from the system (%G_IO_ERROR_ADDRESS_IN_USE, ...),
 * %EVL_LOOP_ERROR_INVALID for unusable addresses, %G_IO_ERROR_CANCELLED,
 * %EVL_LOOP_ERROR_CLOSED on a closed loop (the callback then runs at
 * once).
 */
void
evl_loop_create_datagram_endpoint_async (EvlLoop                    *loop,
                                         EvlDatagramProtocolFactory  factory,
                                         gpointer                    factory_data,
                                         GDestroyNotify              factory_notify,
                                         GSocketAddress             *local_address,
                                         GSocketAddress             *remote_address,
                                         GCancellable               *cancellable,
                                         GAsyncReadyCallback         callback,
                                         gpointer                    user_data)
{
  evl_loop_create_datagram_endpoint_full_async (loop, factory, factory_data, factory_notify,
                                                local_address, remote_address,
                                                EVL_DATAGRAM_FLAGS_NONE, cancellable,
                                                callback, user_data);
}

/**
 * evl_loop_create_datagram_endpoint_finish:
 * @loop: a loop
 * @result: the #GAsyncResult passed to the callback
 * @protocol: (out) (optional) (transfer full): the endpoint's protocol
 * @error: return location for a #GError
 *
 * Finishes [method@Evl.Loop.create_datagram_endpoint_async] (and
 * [method@Evl.Loop.create_datagram_endpoint_full_async]).
 *
 * Returns: (transfer full): the endpoint's transport; %NULL with @error
 *   set
 */
EvlDatagramTransport *
evl_loop_create_datagram_endpoint_finish (EvlLoop              *loop,
                                          GAsyncResult         *result,
                                          EvlDatagramProtocol **protocol,
                                          GError              **error)
{
  return evl_loop_create_datagram_endpoint_full_finish (loop, result, protocol, error);
}

/**
 * evl_loop_create_datagram_endpoint_full_finish:
 * @loop: a loop
 * @result: the #GAsyncResult passed to the callback
 * @protocol: (out) (optional) (transfer full): the endpoint's protocol
 * @error: return location for a #GError
 *
 * Finishes [method@Evl.Loop.create_datagram_endpoint_full_async] (and
 * [method@Evl.Loop.create_datagram_endpoint_async]).
 *
 * Returns: (transfer full): the endpoint's transport; %NULL with @error
 *   set
 */
EvlDatagramTransport *
evl_loop_create_datagram_endpoint_full_finish (EvlLoop              *loop,
                                               GAsyncResult         *result,
                                               EvlDatagramProtocol **protocol,
                                               GError              **error)
{
  EndpointResult *er;
  EvlDatagramTransport *transport;

  if (protocol != NULL)
    *protocol = NULL;
  g_return_val_if_fail (EVL_IS_LOOP (loop), NULL);
  g_return_val_if_fail (evl_operation_is_valid (result, loop,
                                                evl_loop_create_datagram_endpoint_full_async), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  er = evl_operation_propagate_pointer (EVL_OPERATION (result), error);
  if (er == NULL)
    return NULL;
  transport = g_steal_pointer (&er->transport);
  if (protocol != NULL)
    *protocol = g_steal_pointer (&er->protocol);
  endpoint_result_free (er);
  return transport;
}
