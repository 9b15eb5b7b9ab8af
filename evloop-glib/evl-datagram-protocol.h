/* evl-datagram-protocol.h: the datagram protocol interface (asyncio's
 * DatagramProtocol)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(EVL_INSIDE) && !defined(EVL_COMPILATION)
# error "Only <evloop-glib/evloop-glib.h> can be included directly."
#endif

#include "evl-types.h"

G_BEGIN_DECLS

typedef struct _EvlDatagramTransport EvlDatagramTransport;

#define EVL_TYPE_DATAGRAM_PROTOCOL (evl_datagram_protocol_get_type ())

EVL_AVAILABLE_IN_ALL
G_DECLARE_INTERFACE (EvlDatagramProtocol, evl_datagram_protocol, EVL, DATAGRAM_PROTOCOL, GObject)

/**
 * EvlDatagramProtocolInterface:
 * @g_iface: the parent interface
 * @connection_made: the endpoint is set up; @transport is the endpoint's
 *   transport (a reference is the protocol's to take)
 * @connection_lost: the endpoint is closed; @error is %NULL when it was
 *   closed with [method@Evl.Transport.close] or
 *   [method@Evl.Transport.abort], the error that closed it otherwise
 * @pause_writing: the transport's send buffer went over the high-water
 *   mark; stop sending until @resume_writing
 * @resume_writing: the send buffer drained to the low-water mark
 * @datagram_received: a datagram arrived from @address
 * @error_received: a send or receive failed without closing the endpoint
 *   (an ICMP error such as "connection refused", a full buffer)
 *
 * The virtual functions of [iface@Evl.DatagramProtocol]. Every member is
 * optional.
 */
struct _EvlDatagramProtocolInterface
{
  GTypeInterface g_iface;

  void (*connection_made)   (EvlDatagramProtocol  *self,
                             EvlDatagramTransport *transport);
  void (*connection_lost)   (EvlDatagramProtocol  *self,
                             const GError         *error);
  void (*pause_writing)     (EvlDatagramProtocol  *self);
  void (*resume_writing)    (EvlDatagramProtocol  *self);
  void (*datagram_received) (EvlDatagramProtocol  *self,
                             GBytes               *data,
                             GSocketAddress       *address);
  void (*error_received)    (EvlDatagramProtocol  *self,
                             const GError         *error);
};

/**
 * EvlDatagramProtocolFactory:
 * @user_data: (closure): the data given with the factory
 *
 * Creates the protocol of a new datagram endpoint, as the
 * `protocol_factory` argument of asyncio's `create_datagram_endpoint()`.
 *
 * Returns: (transfer full): a new protocol
 */
typedef EvlDatagramProtocol *(*EvlDatagramProtocolFactory) (gpointer user_data);

EVL_AVAILABLE_IN_ALL
void evl_datagram_protocol_connection_made   (EvlDatagramProtocol  *self,
                                              EvlDatagramTransport *transport);
EVL_AVAILABLE_IN_ALL
void evl_datagram_protocol_connection_lost   (EvlDatagramProtocol  *self,
                                              const GError         *error);
EVL_AVAILABLE_IN_ALL
void evl_datagram_protocol_pause_writing     (EvlDatagramProtocol  *self);
EVL_AVAILABLE_IN_ALL
void evl_datagram_protocol_resume_writing    (EvlDatagramProtocol  *self);
EVL_AVAILABLE_IN_ALL
void evl_datagram_protocol_datagram_received (EvlDatagramProtocol  *self,
                                              GBytes               *data,
                                              GSocketAddress       *address);
EVL_AVAILABLE_IN_ALL
void evl_datagram_protocol_error_received    (EvlDatagramProtocol  *self,
                                              const GError         *error);

G_END_DECLS
