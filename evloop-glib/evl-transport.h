/* evl-transport.h: the base class of transports (asyncio's BaseTransport,
 * ReadTransport and WriteTransport)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(EVL_INSIDE) && !defined(EVL_COMPILATION)
# error "Only <evloop-glib/evloop-glib.h> can be included directly."
#endif

#include "evl-types.h"
#include "evl-protocol.h"

G_BEGIN_DECLS

#define EVL_TYPE_TRANSPORT (evl_transport_get_type ())

EVL_AVAILABLE_IN_ALL
G_DECLARE_DERIVABLE_TYPE (EvlTransport, evl_transport, EVL, TRANSPORT, GObject)

/**
 * EvlTransportClass:
 * @parent_class: the parent class
 * @write: queue bytes for sending
 * @write_eof: close the write side once the buffer is flushed
 * @can_write_eof: whether @write_eof is supported
 * @close: close after flushing the buffer
 * @abort: close at once, dropping the buffer
 * @is_closing: whether the transport is closing or closed
 * @pause_reading: stop calling `data_received`
 * @resume_reading: call `data_received` again
 * @is_reading: whether the transport is receiving
 * @get_write_buffer_size: the bytes waiting to be sent
 *
 * The class structure of [class@Evl.Transport], the designed extension
 * point for transports: stream, datagram and subprocess transports derive
 * from it. Write-buffer limits, flow control (`pause_writing` and
 * `resume_writing` of the protocol), the protocol and the extra
 * information (addresses, fd) live in the base class. A subclass
 * overrides what it supports; the defaults of the stream-only functions
 * report a programming error.
 */
struct _EvlTransportClass
{
  GObjectClass parent_class;

  void     (*write)                 (EvlTransport *self,
                                     GBytes       *data);
  void     (*write_eof)             (EvlTransport *self);
  gboolean (*can_write_eof)         (EvlTransport *self);
  void     (*close)                 (EvlTransport *self);
  void     (*abort)                 (EvlTransport *self);
  gboolean (*is_closing)            (EvlTransport *self);
  void     (*pause_reading)         (EvlTransport *self);
  void     (*resume_reading)        (EvlTransport *self);
  gboolean (*is_reading)            (EvlTransport *self);
  gsize    (*get_write_buffer_size) (EvlTransport *self);

  /*< private >*/
  gpointer _evl_reserved[16];
};

EVL_AVAILABLE_IN_ALL
EvlLoop        *evl_transport_get_loop                (EvlTransport *self);
EVL_AVAILABLE_IN_ALL
void            evl_transport_write                   (EvlTransport *self,
                                                       GBytes       *data);
EVL_AVAILABLE_IN_ALL
void            evl_transport_write_eof               (EvlTransport *self);
EVL_AVAILABLE_IN_ALL
gboolean        evl_transport_can_write_eof           (EvlTransport *self);
EVL_AVAILABLE_IN_ALL
void            evl_transport_close                   (EvlTransport *self);
EVL_AVAILABLE_IN_ALL
void            evl_transport_abort                   (EvlTransport *self);
EVL_AVAILABLE_IN_ALL
gboolean        evl_transport_is_closing              (EvlTransport *self);
EVL_AVAILABLE_IN_ALL
void            evl_transport_pause_reading           (EvlTransport *self);
EVL_AVAILABLE_IN_ALL
void            evl_transport_resume_reading          (EvlTransport *self);
EVL_AVAILABLE_IN_ALL
gboolean        evl_transport_is_reading              (EvlTransport *self);
EVL_AVAILABLE_IN_ALL
gsize           evl_transport_get_write_buffer_size   (EvlTransport *self);
EVL_AVAILABLE_IN_ALL
void            evl_transport_set_write_buffer_limits (EvlTransport *self,
                                                       gsize         high,
                                                       gsize         low);
EVL_AVAILABLE_IN_ALL
void            evl_transport_get_write_buffer_limits (EvlTransport *self,
                                                       gsize        *high,
                                                       gsize        *low);
EVL_AVAILABLE_IN_ALL
GObject        *evl_transport_get_protocol            (EvlTransport *self);
EVL_AVAILABLE_IN_ALL
void            evl_transport_set_protocol            (EvlTransport *self,
                                                       GObject      *protocol);
EVL_AVAILABLE_IN_ALL
GSocketAddress *evl_transport_get_peer_address        (EvlTransport *self);
EVL_AVAILABLE_IN_ALL
GSocketAddress *evl_transport_get_local_address       (EvlTransport *self);
EVL_AVAILABLE_IN_ALL
int             evl_transport_get_fd                  (EvlTransport *self);

G_END_DECLS
