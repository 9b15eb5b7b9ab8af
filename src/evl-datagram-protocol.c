/* evl-datagram-protocol.c: the datagram protocol interface (asyncio's
 * DatagramProtocol)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "evl-config.h"

#include <evloop-glib/evloop-glib.h>

#include "evl-loop-private.h"

/**
 * EvlDatagramProtocol:
 *
 * The receiving end of a datagram endpoint, asyncio's `DatagramProtocol`:
 * the loop calls its virtual functions as things happen on the endpoint's
 * [class@Evl.DatagramTransport]. Implement it in C, Python or JavaScript;
 * every virtual function is optional.
 *
 * The order of the calls is asyncio's: `connection_made` once, then any
 * number of `datagram_received` and `error_received`, and
 * `connection_lost` exactly once, last. `pause_writing` and
 * `resume_writing` alternate, starting with `pause_writing`, between
 * `connection_made` and `connection_lost`.
 *
 * Errors that do not end the endpoint go to `error_received`: an ICMP
 * error reported for an earlier datagram (on a connected endpoint, a
 * closed port gives %G_IO_ERROR_CONNECTION_REFUSED), a datagram the
 * network refused. The endpoint stays open, as in asyncio.
 */

G_DEFINE_INTERFACE (EvlDatagramProtocol, evl_datagram_protocol, G_TYPE_OBJECT)

static void
evl_datagram_protocol_default_init (EvlDatagramProtocolInterface *iface)
{
}

/**
 * evl_datagram_protocol_connection_made: (virtual connection_made)
 * @self: a datagram protocol
 * @transport: the endpoint's transport
 *
 * Called once when the endpoint is set up, before anything else. Take a
 * reference to @transport to keep using it.
 */
void
evl_datagram_protocol_connection_made (EvlDatagramProtocol  *self,
                                       EvlDatagramTransport *transport)
{
  EvlDatagramProtocolInterface *iface;

  g_return_if_fail (EVL_IS_DATAGRAM_PROTOCOL (self));
  g_return_if_fail (EVL_IS_DATAGRAM_TRANSPORT (transport));

  iface = EVL_DATAGRAM_PROTOCOL_GET_IFACE (self);
  if (iface->connection_made != NULL)
    iface->connection_made (self, transport);
}

/**
 * evl_datagram_protocol_connection_lost: (virtual connection_lost)
 * @self: a datagram protocol
 * @error: (nullable): %NULL when the endpoint was closed by
 *   [method@Evl.Transport.close] or [method@Evl.Transport.abort], else the
 *   error that ended it
 *
 * Called once when the endpoint is closed; nothing is called after it.
 */
void
evl_datagram_protocol_connection_lost (EvlDatagramProtocol *self,
                                       const GError        *error)
{
  EvlDatagramProtocolInterface *iface;

  g_return_if_fail (EVL_IS_DATAGRAM_PROTOCOL (self));

  iface = EVL_DATAGRAM_PROTOCOL_GET_IFACE (self);
  if (iface->connection_lost != NULL)
    iface->connection_lost (self, error);
}

/**
 * evl_datagram_protocol_pause_writing: (virtual pause_writing)
 * @self: a datagram protocol
 *
 * Called when the transport's send buffer goes over its high-water mark
 * (see [method@Evl.Transport.set_write_buffer_limits]): the socket takes
 * no more datagrams for now. Sending more is allowed, but the buffer then
 * only grows.
 */
void
evl_datagram_protocol_pause_writing (EvlDatagramProtocol *self)
{
  EvlDatagramProtocolInterface *iface;

  g_return_if_fail (EVL_IS_DATAGRAM_PROTOCOL (self));

  iface = EVL_DATAGRAM_PROTOCOL_GET_IFACE (self);
  if (iface->pause_writing != NULL)
    iface->pause_writing (self);
}

/**
 * evl_datagram_protocol_resume_writing: (virtual resume_writing)
 * @self: a datagram protocol
 *
 * Called when the transport's send buffer has drained to its low-water
 * mark after [method@Evl.DatagramProtocol.pause_writing].
 */
void
evl_datagram_protocol_resume_writing (EvlDatagramProtocol *self)
{
  EvlDatagramProtocolInterface *iface;

  g_return_if_fail (EVL_IS_DATAGRAM_PROTOCOL (self));

  iface = EVL_DATAGRAM_PROTOCOL_GET_IFACE (self);
  if (iface->resume_writing != NULL)
    iface->resume_writing (self);
}

/**
 * evl_datagram_protocol_datagram_received: (virtual datagram_received)
 * @self: a datagram protocol
 * @data: the datagram (possibly empty)
 * @address: (nullable): the sender's address; %NULL when it has none GIO
 *   can represent (an unbound Unix-domain socket)
 *
 * Called with each datagram received, in the order the socket delivers
 * them.
 */
void
evl_datagram_protocol_datagram_received (EvlDatagramProtocol *self,
                                         GBytes              *data,
                                         GSocketAddress      *address)
{
  EvlDatagramProtocolInterface *iface;

  g_return_if_fail (EVL_IS_DATAGRAM_PROTOCOL (self));
  g_return_if_fail (data != NULL);
  g_return_if_fail (address == NULL || G_IS_SOCKET_ADDRESS (address));

  iface = EVL_DATAGRAM_PROTOCOL_GET_IFACE (self);
  if (iface->datagram_received != NULL)
    iface->datagram_received (self, data, address);
}

/**
 * evl_datagram_protocol_error_received: (virtual error_received)
 * @self: a datagram protocol
 * @error: what failed, a %G_IO_ERROR (such as
 *   %G_IO_ERROR_CONNECTION_REFUSED)
 *
 * Called when sending or receiving failed without ending the endpoint,
 * as asyncio's `DatagramProtocol.error_received()`. The endpoint stays
 * open.
 */
void
evl_datagram_protocol_error_received (EvlDatagramProtocol *self,
                                      const GError        *error)
{
  EvlDatagramProtocolInterface *iface;

  g_return_if_fail (EVL_IS_DATAGRAM_PROTOCOL (self));
  g_return_if_fail (error != NULL);

  iface = EVL_DATAGRAM_PROTOCOL_GET_IFACE (self);
  if (iface->error_received != NULL)
    iface->error_received (self, error);
}
