/* evl-protocol.c: the stream protocol interface (asyncio's Protocol)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "evl-config.h"

#include <evloop-glib/evloop-glib.h>

#include "evl-loop-private.h"

/**
 * EvlProtocol:
 *
 * The receiving end of a stream connection, asyncio's `Protocol`: the
 * loop calls its virtual functions as things happen on the connection's
 * [class@Evl.Transport]. Implement it in C, Python or JavaScript; every
 * virtual function is optional.
 *
 * The order of the calls is asyncio's: `connection_made` once, then any
 * number of `data_received`, at most one `eof_received`, and
 * `connection_lost` exactly once, last. `pause_writing` and
 * `resume_writing` alternate, starting with `pause_writing`, between
 * `connection_made` and `connection_lost`.
 */

G_DEFINE_INTERFACE (EvlProtocol, evl_protocol, G_TYPE_OBJECT)

static void
evl_protocol_default_init (EvlProtocolInterface *iface)
{
}

/**
 * evl_protocol_connection_made: (virtual connection_made)
 * @self: a protocol
 * @transport: the connection's transport
 *
 * Called once when the connection is set up, before anything else. Take
 * a reference to @transport to keep using it.
 */
void
evl_protocol_connection_made (EvlProtocol  *self,
                              EvlTransport *transport)
{
  EvlProtocolInterface *iface;

  g_return_if_fail (EVL_IS_PROTOCOL (self));
  g_return_if_fail (EVL_IS_TRANSPORT (transport));

  iface = EVL_PROTOCOL_GET_IFACE (self);
  if (iface->connection_made != NULL)
    iface->connection_made (self, transport);
}

/**
 * evl_protocol_connection_lost: (virtual connection_lost)
 * @self: a protocol
 * @error: (nullable): %NULL when the connection was closed cleanly (by
 *   either side, or at the end of the stream), else the error that ended it
 *
 * Called once when the connection is closed; nothing is called after it.
 */
void
evl_protocol_connection_lost (EvlProtocol  *self,
                              const GError *error)
{
  EvlProtocolInterface *iface;

  g_return_if_fail (EVL_IS_PROTOCOL (self));

  iface = EVL_PROTOCOL_GET_IFACE (self);
  if (iface->connection_lost != NULL)
    iface->connection_lost (self, error);
}

/**
 * evl_protocol_pause_writing: (virtual pause_writing)
 * @self: a protocol
 *
 * Called when the transport's write buffer goes over its high-water mark
 * (see [method@Evl.Transport.set_write_buffer_limits]). Writing more is
 * allowed, but the buffer then only grows.
 */
void
evl_protocol_pause_writing (EvlProtocol *self)
{
  EvlProtocolInterface *iface;

  g_return_if_fail (EVL_IS_PROTOCOL (self));

  iface = EVL_PROTOCOL_GET_IFACE (self);
  if (iface->pause_writing != NULL)
    iface->pause_writing (self);
}

/**
 * evl_protocol_resume_writing: (virtual resume_writing)
 * @self: a protocol
 *
 * Called when the transport's write buffer has drained to its low-water
 * mark after [method@Evl.Protocol.pause_writing].
 */
void
evl_protocol_resume_writing (EvlProtocol *self)
{
  EvlProtocolInterface *iface;

  g_return_if_fail (EVL_IS_PROTOCOL (self));

  iface = EVL_PROTOCOL_GET_IFACE (self);
  if (iface->resume_writing != NULL)
    iface->resume_writing (self);
}

/**
 * evl_protocol_data_received: (virtual data_received)
 * @self: a protocol
 * @data: the bytes received (never empty)
 *
 * Called with each piece of the stream, in order. How the stream is cut
 * into pieces is not defined.
 */
void
evl_protocol_data_received (EvlProtocol *self,
                            GBytes      *data)
{
  EvlProtocolInterface *iface;

  g_return_if_fail (EVL_IS_PROTOCOL (self));
  g_return_if_fail (data != NULL);

  iface = EVL_PROTOCOL_GET_IFACE (self);
  if (iface->data_received != NULL)
    iface->data_received (self, data);
}

/**
 * evl_protocol_eof_received: (virtual eof_received)
 * @self: a protocol
 *
 * Called when the peer has closed its write side (it sends nothing more).
 * Not implementing it is the same as returning %FALSE.
 *
 * Returns: %TRUE to keep the transport open for writing (close it
 *   yourself later), %FALSE to let the transport close itself
 */
gboolean
evl_protocol_eof_received (EvlProtocol *self)
{
  EvlProtocolInterface *iface;

  g_return_val_if_fail (EVL_IS_PROTOCOL (self), FALSE);

  iface = EVL_PROTOCOL_GET_IFACE (self);
  if (iface->eof_received != NULL)
    return iface->eof_received (self);
  return FALSE;
}
