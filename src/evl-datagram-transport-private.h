/* evl-datagram-transport-private.h: what create_datagram_endpoint needs
 * of the datagram transport
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <evloop-glib/evloop-glib.h>

G_BEGIN_DECLS

/* A transport over @fd, a bound and/or connected non-blocking datagram
 * socket, which it takes (closes it once connection_lost has run). */
EvlDatagramTransport *evl_datagram_transport_new   (EvlLoop              *loop,
                                                    int                   fd,
                                                    EvlDatagramProtocol  *protocol);

/* Calls connection_made and starts receiving; from then on the transport
 * keeps itself (and its protocol) alive until connection_lost. */
void                  evl_datagram_transport_start (EvlDatagramTransport *self);

G_END_DECLS
