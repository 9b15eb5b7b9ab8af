/* evl-protocol.h: the stream protocol interface (asyncio's Protocol)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(EVL_INSIDE) && !defined(EVL_COMPILATION)
# error "Only <evloop-glib/evloop-glib.h> can be included directly."
#endif

#include "evl-types.h"

G_BEGIN_DECLS

typedef struct _EvlTransport EvlTransport;

#define EVL_TYPE_PROTOCOL (evl_protocol_get_type ())

EVL_AVAILABLE_IN_ALL
G_DECLARE_INTERFACE (EvlProtocol, evl_protocol, EVL, PROTOCOL, GObject)

/**
 * EvlProtocolInterface:
 * @g_iface: the parent interface
 * @connection_made: the connection is set up; @transport is the
 *   transport of this protocol (a reference is the protocol's to take)
 * @connection_lost: the connection is closed; @error is %NULL on a clean
 *   close (or EOF), the error that closed it otherwise
 * @pause_writing: the transport's write buffer went over the high-water
 *   mark; stop writing until @resume_writing
 * @resume_writing: the write buffer drained to the low-water mark
 * @data_received: some bytes arrived
 * @eof_received: the peer will send no more; return %TRUE to keep the
 *   write side open (then close the transport yourself), %FALSE to let
 *   the transport close itself
 *
 * The virtual functions of [iface@Evl.Protocol]. Every member is
 * optional.
 */
struct _EvlProtocolInterface
{
  GTypeInterface g_iface;

  void     (*connection_made) (EvlProtocol  *self,
                               EvlTransport *transport);
  void     (*connection_lost) (EvlProtocol  *self,
                               const GError *error);
  void     (*pause_writing)   (EvlProtocol  *self);
  void     (*resume_writing)  (EvlProtocol  *self);
  void     (*data_received)   (EvlProtocol  *self,
                               GBytes       *data);
  gboolean (*eof_received)    (EvlProtocol  *self);
};

/**
 * EvlProtocolFactory:
 * @user_data: (closure): the data given with the factory
 *
 * Creates the protocol of a new connection, as the `protocol_factory`
 * argument of asyncio's `create_connection()` and `create_server()`.
 *
 * Returns: (transfer full): a new protocol
 */
typedef EvlProtocol *(*EvlProtocolFactory) (gpointer user_data);

EVL_AVAILABLE_IN_ALL
void     evl_protocol_connection_made (EvlProtocol  *self,
                                       EvlTransport *transport);
EVL_AVAILABLE_IN_ALL
void     evl_protocol_connection_lost (EvlProtocol  *self,
                                       const GError *error);
EVL_AVAILABLE_IN_ALL
void     evl_protocol_pause_writing   (EvlProtocol  *self);
EVL_AVAILABLE_IN_ALL
void     evl_protocol_resume_writing  (EvlProtocol  *self);
EVL_AVAILABLE_IN_ALL
void     evl_protocol_data_received   (EvlProtocol  *self,
                                       GBytes       *data);
EVL_AVAILABLE_IN_ALL
gboolean evl_protocol_eof_received    (EvlProtocol  *self);

G_END_DECLS
