/* evl-datagram-transport.h: datagram endpoints (asyncio's
 * create_datagram_endpoint and DatagramTransport)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(EVL_INSIDE) && !defined(EVL_COMPILATION)
# error "Only <evloop-glib/evloop-glib.h> can be included directly."
#endif

#include "evl-loop.h"
#include "evl-transport.h"
#include "evl-datagram-protocol.h"

G_BEGIN_DECLS

/**
 * EvlDatagramFlags:
 * @EVL_DATAGRAM_FLAGS_NONE: none of the options
 * @EVL_DATAGRAM_FLAGS_REUSE_PORT: set `SO_REUSEPORT` before binding, so
 *   several endpoints can share the local port
 * @EVL_DATAGRAM_FLAGS_ALLOW_BROADCAST: set `SO_BROADCAST`, so datagrams
 *   may be sent to broadcast addresses
 *
 * Options of [method@Evl.Loop.create_datagram_endpoint_full_async]
 * (asyncio's `reuse_port` and `allow_broadcast`; `SO_REUSEADDR` is not
 * offered, as asyncio no longer does: on UDP it lets another process
 * take over the port).
 */
typedef enum /*< flags >*/
{
  EVL_DATAGRAM_FLAGS_NONE            = 0,
  EVL_DATAGRAM_FLAGS_REUSE_PORT      = 1 << 0,
  EVL_DATAGRAM_FLAGS_ALLOW_BROADCAST = 1 << 1,
} EvlDatagramFlags;

#define EVL_TYPE_DATAGRAM_TRANSPORT (evl_datagram_transport_get_type ())

EVL_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (EvlDatagramTransport, evl_datagram_transport, EVL, DATAGRAM_TRANSPORT, EvlTransport)

EVL_AVAILABLE_IN_ALL
void                  evl_datagram_transport_sendto                   (EvlDatagramTransport        *self,
                                                                       GBytes                      *data,
                                                                       GSocketAddress              *address);

EVL_AVAILABLE_IN_ALL
void                  evl_loop_create_datagram_endpoint_async         (EvlLoop                     *loop,
                                                                       EvlDatagramProtocolFactory   factory,
                                                                       gpointer                     factory_data,
                                                                       GDestroyNotify               factory_notify,
                                                                       GSocketAddress              *local_address,
                                                                       GSocketAddress              *remote_address,
                                                                       GCancellable                *cancellable,
                                                                       GAsyncReadyCallback          callback,
                                                                       gpointer                     user_data);
EVL_AVAILABLE_IN_ALL
void                  evl_loop_create_datagram_endpoint_full_async    (EvlLoop                     *loop,
                                                                       EvlDatagramProtocolFactory   factory,
                                                                       gpointer                     factory_data,
                                                                       GDestroyNotify               factory_notify,
                                                                       GSocketAddress              *local_address,
                                                                       GSocketAddress              *remote_address,
                                                                       EvlDatagramFlags             flags,
                                                                       GCancellable                *cancellable,
                                                                       GAsyncReadyCallback          callback,
                                                                       gpointer                     user_data);
EVL_AVAILABLE_IN_ALL
EvlDatagramTransport *evl_loop_create_datagram_endpoint_finish        (EvlLoop                     *loop,
                                                                       GAsyncResult                *result,
                                                                       EvlDatagramProtocol        **protocol,
                                                                       GError                     **error);
EVL_AVAILABLE_IN_ALL
EvlDatagramTransport *evl_loop_create_datagram_endpoint_full_finish   (EvlLoop                     *loop,
                                                                       GAsyncResult                *result,
                                                                       EvlDatagramProtocol        **protocol,
                                                                       GError                     **error);

G_END_DECLS
