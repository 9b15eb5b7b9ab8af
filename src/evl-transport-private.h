/* evl-transport-private.h: what EvlTransport offers its subclasses
 * (stream, datagram and subprocess transports)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <evloop-glib/evloop-glib.h>

G_BEGIN_DECLS

/* How the base class tells the protocol about flow control. The default
 * calls EvlProtocol's pause_writing/resume_writing when the protocol
 * implements it; a subclass whose protocol is of another interface (a
 * datagram protocol) sets its own. @funcs must outlive the transport. */
typedef struct
{
  void (*pause_writing)  (GObject *protocol);
  void (*resume_writing) (GObject *protocol);
} EvlTransportFlowFuncs;

void     evl_transport_set_flow_funcs        (EvlTransport                *self,
                                              const EvlTransportFlowFuncs *funcs);

/* The fd behind the transport, for get_fd(); for a socket, the local and
 * peer addresses are read now (the peer's is gone once it hangs up).
 * -1: closed (the addresses are kept). The base class never closes it. */
void     evl_transport_set_fd                (EvlTransport                *self,
                                              int                          fd);

/* Call after the write buffer grew: pauses the protocol once it is over
 * the high-water mark (asyncio's _maybe_pause_protocol). */
void     evl_transport_maybe_pause_protocol  (EvlTransport                *self);
/* Call after the write buffer shrank: resumes a paused protocol once it
 * is at or under the low-water mark (asyncio's _maybe_resume_protocol). */
void     evl_transport_maybe_resume_protocol (EvlTransport                *self);
gboolean evl_transport_is_protocol_paused    (EvlTransport                *self);

/* Calls @func (@self, @error) once, from the loop (call_soon), or at once
 * when the loop is closed before it runs: asyncio's
 * call_soon (_call_connection_lost, exc). Takes @error; @self is kept alive
 * until then. */
typedef void (*EvlTransportLostFunc) (EvlTransport *self,
                                      const GError *error);

void     evl_transport_call_lost_soon        (EvlTransport                *self,
                                              EvlTransportLostFunc         func,
                                              GError                      *error);

/* The default write-buffer limits. */
#define EVL_TRANSPORT_DEFAULT_HIGH_WATER (64 * 1024)

G_END_DECLS
