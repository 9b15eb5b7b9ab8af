/* evl-transport.c: the base class of transports
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "evl-config.h"

#include <errno.h>
#include <gio/gnetworking.h>

#include "evl-loop-private.h"
#include "evl-os-sock-private.h"
#include "evl-transport-private.h"

/**
 * EvlTransport:
 *
 * One end of a connection, asyncio's `Transport`: the loop creates it
 * ([method@Evl.Loop.create_connection_async],
 * [method@Evl.Loop.create_server_async], pipes, subprocesses) and hands
 * it to the connection's [iface@Evl.Protocol] in `connection_made`.
 *
 * Writing never blocks: what the kernel does not take at once is
 * buffered and sent as the peer reads. When the buffer goes over the
 * high-water mark the protocol's `pause_writing` is called, and
 * `resume_writing` once it has drained to the low-water mark (64 KiB and
 * 16 KiB by default; see [method@Evl.Transport.set_write_buffer_limits]).
 *
 * [method@Evl.Transport.close] sends what is buffered, then closes;
 * [method@Evl.Transport.abort] closes at once. Either way the protocol's
 * `connection_lost` runs exactly once, from the loop, after the last
 * `data_received`. The library keeps an open transport and its protocol
 * alive until then. Writing after close is ignored.
 *
 * EvlTransport is abstract and derivable: the loop's stream, datagram and
 * subprocess transports are its subclasses.
 */

typedef struct
{
  EvlLoop                     *loop;
  GObject                     *protocol;
  const EvlTransportFlowFuncs *flow;
  gsize                        high_water;
  gsize                        low_water;
  gboolean                     protocol_paused;
  int                          fd;
  GSocketAddress              *local_address;
  GSocketAddress              *peer_address;
} EvlTransportPrivate;

enum {
  PROP_0,
  PROP_LOOP,
  PROP_PROTOCOL,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

G_DEFINE_ABSTRACT_TYPE_WITH_PRIVATE (EvlTransport, evl_transport, G_TYPE_OBJECT)

static void
protocol_pause_writing (GObject *protocol)
{
  if (EVL_IS_PROTOCOL (protocol))
    evl_protocol_pause_writing (EVL_PROTOCOL (protocol));
}

static void
protocol_resume_writing (GObject *protocol)
{
  if (EVL_IS_PROTOCOL (protocol))
    evl_protocol_resume_writing (EVL_PROTOCOL (protocol));
}

static const EvlTransportFlowFuncs default_flow = {
  protocol_pause_writing,
  protocol_resume_writing,
};

/* ---------------------------------------------------------------------- */
/* defaults of the virtual functions */

static void
not_supported (EvlTransport *self,
               const char   *what)
{
  g_critical ("%s does not support %s()", G_OBJECT_TYPE_NAME (self), what);
}

static void
real_write (EvlTransport *self,
            GBytes       *data)
{
  not_supported (self, "write");
}

static void
real_write_eof (EvlTransport *self)
{
  not_supported (self, "write_eof");
}

static gboolean
real_can_write_eof (EvlTransport *self)
{
  return FALSE;
}

static void
real_close (EvlTransport *self)
{
  not_supported (self, "close");
}

static void
real_abort (EvlTransport *self)
{
  evl_transport_close (self);
}

static gboolean
real_is_closing (EvlTransport *self)
{
  return FALSE;
}

static void
real_pause_reading (EvlTransport *self)
{
  not_supported (self, "pause_reading");
}

static void
real_resume_reading (EvlTransport *self)
{
  not_supported (self, "resume_reading");
}

static gboolean
real_is_reading (EvlTransport *self)
{
  return FALSE;
}

static gsize
real_get_write_buffer_size (EvlTransport *self)
{
  return 0;
}

/* ---------------------------------------------------------------------- */
/* GObject */

static void
evl_transport_dispose (GObject *object)
{
  EvlTransportPrivate *priv = evl_transport_get_instance_private (EVL_TRANSPORT (object));

  g_clear_object (&priv->protocol);
  G_OBJECT_CLASS (evl_transport_parent_class)->dispose (object);
}

static void
evl_transport_finalize (GObject *object)
{
  EvlTransportPrivate *priv = evl_transport_get_instance_private (EVL_TRANSPORT (object));

  g_clear_object (&priv->local_address);
  g_clear_object (&priv->peer_address);
  g_clear_object (&priv->loop);
  G_OBJECT_CLASS (evl_transport_parent_class)->finalize (object);
}

static void
evl_transport_get_property (GObject    *object,
                            guint       prop_id,
                            GValue     *value,
                            GParamSpec *pspec)
{
  EvlTransport *self = EVL_TRANSPORT (object);
  EvlTransportPrivate *priv = evl_transport_get_instance_private (self);

  switch (prop_id)
    {
    case PROP_LOOP:
      g_value_set_object (value, priv->loop);
      break;
    case PROP_PROTOCOL:
      g_value_set_object (value, priv->protocol);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
evl_transport_set_property (GObject      *object,
                            guint         prop_id,
                            const GValue *value,
                            GParamSpec   *pspec)
{
  EvlTransport *self = EVL_TRANSPORT (object);
  EvlTransportPrivate *priv = evl_transport_get_instance_private (self);

  switch (prop_id)
    {
    case PROP_LOOP:
      priv->loop = g_value_dup_object (value);
      break;
    case PROP_PROTOCOL:
      evl_transport_set_protocol (self, g_value_get_object (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
evl_transport_class_init (EvlTransportClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = evl_transport_dispose;
  object_class->finalize = evl_transport_finalize;
  object_class->get_property = evl_transport_get_property;
  object_class->set_property = evl_transport_set_property;

  klass->write = real_write;
  klass->write_eof = real_write_eof;
  klass->can_write_eof = real_can_write_eof;
  klass->close = real_close;
  klass->abort = real_abort;
  klass->is_closing = real_is_closing;
  klass->pause_reading = real_pause_reading;
  klass->resume_reading = real_resume_reading;
  klass->is_reading = real_is_reading;
  klass->get_write_buffer_size = real_get_write_buffer_size;

  /**
   * EvlTransport:loop:
   *
   * The loop the transport belongs to.
   */
  properties[PROP_LOOP] =
    g_param_spec_object ("loop", NULL, NULL, EVL_TYPE_LOOP,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY |
                         G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  /**
   * EvlTransport:protocol:
   *
   * The protocol the transport calls: an [iface@Evl.Protocol] for stream
   * transports. It is dropped after `connection_lost`, as asyncio does.
   */
  properties[PROP_PROTOCOL] =
    g_param_spec_object ("protocol", NULL, NULL, G_TYPE_OBJECT,
                         G_PARAM_READWRITE |
                         G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
evl_transport_init (EvlTransport *self)
{
  EvlTransportPrivate *priv = evl_transport_get_instance_private (self);

  priv->flow = &default_flow;
  priv->high_water = EVL_TRANSPORT_DEFAULT_HIGH_WATER;
  priv->low_water = EVL_TRANSPORT_DEFAULT_HIGH_WATER / 4;
  priv->fd = -1;
}

/* ---------------------------------------------------------------------- */
/* for subclasses */

void
evl_transport_set_flow_funcs (EvlTransport                *self,
                              const EvlTransportFlowFuncs *funcs)
{
  EvlTransportPrivate *priv = evl_transport_get_instance_private (self);

  priv->flow = funcs != NULL ? funcs : &default_flow;
}

void
evl_transport_set_fd (EvlTransport *self,
                      int           fd)
{
  EvlTransportPrivate *priv = evl_transport_get_instance_private (self);
  struct sockaddr_storage ss;
  gssize len;

  priv->fd = fd;
  if (fd < 0)
    return;   /* closed: the addresses stay known, as in asyncio */
  g_clear_object (&priv->local_address);
  g_clear_object (&priv->peer_address);
  len = evl_os_sock_getsockname (fd, &ss);
  if (len > 0)
    priv->local_address = g_socket_address_new_from_native (&ss, len);
  len = evl_os_sock_getpeername (fd, &ss);
  if (len > 0)
    priv->peer_address = g_socket_address_new_from_native (&ss, len);
}

void
evl_transport_maybe_pause_protocol (EvlTransport *self)
{
  EvlTransportPrivate *priv = evl_transport_get_instance_private (self);
  gsize size = evl_transport_get_write_buffer_size (self);

  if (size <= priv->high_water || priv->protocol_paused)
    return;
  priv->protocol_paused = TRUE;
  if (priv->protocol != NULL && priv->flow->pause_writing != NULL)
    {
      GObject *protocol = g_object_ref (priv->protocol);

      priv->flow->pause_writing (protocol);
      g_object_unref (protocol);
    }
}

void
evl_transport_maybe_resume_protocol (EvlTransport *self)
{
  EvlTransportPrivate *priv = evl_transport_get_instance_private (self);

  if (!priv->protocol_paused || evl_transport_get_write_buffer_size (self) > priv->low_water)
    return;
  priv->protocol_paused = FALSE;
  if (priv->protocol != NULL && priv->flow->resume_writing != NULL)
    {
      GObject *protocol = g_object_ref (priv->protocol);

      priv->flow->resume_writing (protocol);
      g_object_unref (protocol);
    }
}

gboolean
evl_transport_is_protocol_paused (EvlTransport *self)
{
  EvlTransportPrivate *priv = evl_transport_get_instance_private (self);

  return priv->protocol_paused;
}

typedef struct
{
  EvlTransport         *self;
  EvlTransportLostFunc  func;
  GError               *error;
  gboolean              done;
} LostCall;

static void
lost_cb (gpointer data)
{
  LostCall *call = data;

  call->done = TRUE;
  call->func (call->self, call->error);
}

/* Runs instead of lost_cb when the loop is closed (or closes first): the
 * function still runs, once. */
static void
lost_notify (gpointer data)
{
  LostCall *call = data;

  if (!call->done)
    call->func (call->self, call->error);
  g_clear_error (&call->error);
  g_object_unref (call->self);
  g_free (call);
}

void
evl_transport_call_lost_soon (EvlTransport         *self,
                              EvlTransportLostFunc  func,
                              GError               *error)
{
  EvlTransportPrivate *priv = evl_transport_get_instance_private (self);
  LostCall *call = g_new0 (LostCall, 1);

  call->self = g_object_ref (self);
  call->func = func;
  call->error = error;
  evl_loop_call_soon_internal (priv->loop, lost_cb, call, lost_notify);
}

/* ---------------------------------------------------------------------- */
/* public API */

/**
 * evl_transport_get_loop:
 * @self: a transport
 *
 * Gets the loop the transport runs on.
 *
 * Returns: (transfer none): the loop the transport belongs to
 */
EvlLoop *
evl_transport_get_loop (EvlTransport *self)
{
  EvlTransportPrivate *priv;

  g_return_val_if_fail (EVL_IS_TRANSPORT (self), NULL);

  priv = evl_transport_get_instance_private (self);
  return priv->loop;
}

/**
 * evl_transport_write: (virtual write)
 * @self: a transport
 * @data: the bytes to send
 *
 * Sends @data without blocking, as asyncio's `Transport.write()`: what
 * the kernel does not take at once is buffered (see
 * [method@Evl.Transport.get_write_buffer_size]) and sent in order as the
 * peer reads. After [method@Evl.Transport.close],
 * [method@Evl.Transport.abort], [method@Evl.Transport.write_eof] or a lost
 * connection the data is dropped (with a warning after a few attempts).
 */
void
evl_transport_write (EvlTransport *self,
                     GBytes       *data)
{
  g_return_if_fail (EVL_IS_TRANSPORT (self));
  g_return_if_fail (data != NULL);

  EVL_TRANSPORT_GET_CLASS (self)->write (self, data);
}

/**
 * evl_transport_write_eof: (virtual write_eof)
 * @self: a transport
 *
 * Closes the write side once the buffered data is sent (`shutdown
 * (SHUT_WR)` for a socket, closing a write pipe), while data can still
 * be received. Nothing can be written afterwards.
 */
void
evl_transport_write_eof (EvlTransport *self)
{
  g_return_if_fail (EVL_IS_TRANSPORT (self));

  EVL_TRANSPORT_GET_CLASS (self)->write_eof (self);
}

/**
 * evl_transport_can_write_eof: (virtual can_write_eof)
 * @self: a transport
 *
 * Checks whether the transport can close its write side alone, as
 * asyncio's `WriteTransport.can_write_eof()`.
 *
 * Returns: whether [method@Evl.Transport.write_eof] is supported
 */
gboolean
evl_transport_can_write_eof (EvlTransport *self)
{
  g_return_val_if_fail (EVL_IS_TRANSPORT (self), FALSE);

  return EVL_TRANSPORT_GET_CLASS (self)->can_write_eof (self);
}

/**
 * evl_transport_close: (virtual close)
 * @self: a transport
 *
 * Closes the transport: nothing more is received, what is buffered is
 * still sent, then the connection is closed and the protocol's
 * `connection_lost` runs with %NULL. Closing twice does nothing.
 */
void
evl_transport_close (EvlTransport *self)
{
  g_return_if_fail (EVL_IS_TRANSPORT (self));

  EVL_TRANSPORT_GET_CLASS (self)->close (self);
}

/**
 * evl_transport_abort: (virtual abort)
 * @self: a transport
 *
 * Closes the transport at once, dropping whatever is buffered; the
 * protocol's `connection_lost` runs with %NULL from the loop.
 */
void
evl_transport_abort (EvlTransport *self)
{
  g_return_if_fail (EVL_IS_TRANSPORT (self));

  EVL_TRANSPORT_GET_CLASS (self)->abort (self);
}

/**
 * evl_transport_is_closing: (virtual is_closing)
 * @self: a transport
 *
 * Checks whether the transport is closing or closed, as asyncio's
 * `BaseTransport.is_closing()`.
 *
 * Returns: %TRUE when the transport is closing or closed
 */
gboolean
evl_transport_is_closing (EvlTransport *self)
{
  g_return_val_if_fail (EVL_IS_TRANSPORT (self), TRUE);

  return EVL_TRANSPORT_GET_CLASS (self)->is_closing (self);
}

/**
 * evl_transport_pause_reading: (virtual pause_reading)
 * @self: a transport
 *
 * Stops calling the protocol's `data_received` (and `eof_received`)
 * until [method@Evl.Transport.resume_reading]. Does nothing when already
 * paused or closing.
 */
void
evl_transport_pause_reading (EvlTransport *self)
{
  g_return_if_fail (EVL_IS_TRANSPORT (self));

  EVL_TRANSPORT_GET_CLASS (self)->pause_reading (self);
}

/**
 * evl_transport_resume_reading: (virtual resume_reading)
 * @self: a transport
 *
 * Undoes [method@Evl.Transport.pause_reading]. Does nothing when not
 * paused or closing.
 */
void
evl_transport_resume_reading (EvlTransport *self)
{
  g_return_if_fail (EVL_IS_TRANSPORT (self));

  EVL_TRANSPORT_GET_CLASS (self)->resume_reading (self);
}

/**
 * evl_transport_is_reading: (virtual is_reading)
 * @self: a transport
 *
 * Checks whether the transport is receiving, as asyncio's
 * `ReadTransport.is_reading()`.
 *
 * Returns: %TRUE while the transport receives (open and not paused)
 */
gboolean
evl_transport_is_reading (EvlTransport *self)
{
  g_return_val_if_fail (EVL_IS_TRANSPORT (self), FALSE);

  return EVL_TRANSPORT_GET_CLASS (self)->is_reading (self);
}

/**
 * evl_transport_get_write_buffer_size: (virtual get_write_buffer_size)
 * @self: a transport
 *
 * Gets the number of bytes waiting in the write buffer, as asyncio's
 * `WriteTransport.get_write_buffer_size()`.
 *
 * Returns: the number of bytes written but not yet handed to the kernel
 */
gsize
evl_transport_get_write_buffer_size (EvlTransport *self)
{
  g_return_val_if_fail (EVL_IS_TRANSPORT (self), 0);

  return EVL_TRANSPORT_GET_CLASS (self)->get_write_buffer_size (self);
}

/**
 * evl_transport_set_write_buffer_limits:
 * @self: a transport
 * @high: the high-water mark, in bytes
 * @low: the low-water mark, in bytes; at most @high
 *
 * Sets the limits of flow control: the protocol's `pause_writing` is
 * called when the write buffer grows over @high, `resume_writing` when it
 * has drained to @low. The values are used as given (asyncio's defaults
 * are 64 KiB and 16 KiB); (0, 0) pauses the protocol whenever anything is
 * buffered. @high < @low is a programming error.
 */
void
evl_transport_set_write_buffer_limits (EvlTransport *self,
                                       gsize         high,
                                       gsize         low)
{
  EvlTransportPrivate *priv;

  g_return_if_fail (EVL_IS_TRANSPORT (self));
  g_return_if_fail (high >= low);

  priv = evl_transport_get_instance_private (self);
  priv->high_water = high;
  priv->low_water = low;
  evl_transport_maybe_pause_protocol (self);
}

/**
 * evl_transport_get_write_buffer_limits:
 * @self: a transport
 * @high: (out) (optional): the high-water mark
 * @low: (out) (optional): the low-water mark
 *
 * Gets the limits set with [method@Evl.Transport.set_write_buffer_limits].
 */
void
evl_transport_get_write_buffer_limits (EvlTransport *self,
                                       gsize        *high,
                                       gsize        *low)
{
  EvlTransportPrivate *priv;

  g_return_if_fail (EVL_IS_TRANSPORT (self));

  priv = evl_transport_get_instance_private (self);
  if (high != NULL)
    *high = priv->high_water;
  if (low != NULL)
    *low = priv->low_water;
}

/**
 * evl_transport_get_protocol:
 * @self: a transport
 *
 * Gets the protocol the transport reports to, as asyncio's
 * `BaseTransport.get_protocol()`.
 *
 * Returns: (transfer none) (nullable): the protocol the transport calls
 *   (an [iface@Evl.Protocol] for stream transports), %NULL once
 *   `connection_lost` has run
 */
GObject *
evl_transport_get_protocol (EvlTransport *self)
{
  EvlTransportPrivate *priv;

  g_return_val_if_fail (EVL_IS_TRANSPORT (self), NULL);

  priv = evl_transport_get_instance_private (self);
  return priv->protocol;
}

/**
 * evl_transport_set_protocol:
 * @self: a transport
 * @protocol: (nullable): the protocol to call from now on
 *
 * Switches to another protocol, as asyncio's `set_protocol()`; the new
 * one is not told `connection_made`.
 */
void
evl_transport_set_protocol (EvlTransport *self,
                            GObject      *protocol)
{
  EvlTransportPrivate *priv;

  g_return_if_fail (EVL_IS_TRANSPORT (self));
  g_return_if_fail (protocol == NULL || G_IS_OBJECT (protocol));

  priv = evl_transport_get_instance_private (self);
  if (g_set_object (&priv->protocol, protocol))
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PROTOCOL]);
}

/**
 * evl_transport_get_peer_address:
 * @self: a transport
 *
 * The peer's address, asyncio's `get_extra_info ("peername")`.
 *
 * Returns: (transfer none) (nullable): the address of the remote end of a
 *   socket, %NULL when there is none (a pipe, an unnamed Unix socket)
 */
GSocketAddress *
evl_transport_get_peer_address (EvlTransport *self)
{
  EvlTransportPrivate *priv;

  g_return_val_if_fail (EVL_IS_TRANSPORT (self), NULL);

  priv = evl_transport_get_instance_private (self);
  return priv->peer_address;
}

/**
 * evl_transport_get_local_address:
 * @self: a transport
 *
 * The local address, asyncio's `get_extra_info ("sockname")`.
 *
 * Returns: (transfer none) (nullable): the address of the local end of a
 *   socket, %NULL when there is none
 */
GSocketAddress *
evl_transport_get_local_address (EvlTransport *self)
{
  EvlTransportPrivate *priv;

  g_return_val_if_fail (EVL_IS_TRANSPORT (self), NULL);

  priv = evl_transport_get_instance_private (self);
  return priv->local_address;
}

/**
 * evl_transport_get_fd:
 * @self: a transport
 *
 * The file descriptor behind the transport, asyncio's
 * `get_extra_info ("socket")` or `("pipe")`. It belongs to the transport:
 * do not close it, and do not read or write it while the transport uses it.
 *
 * Returns: the fd, or -1 when there is none (or it is closed)
 */
int
evl_transport_get_fd (EvlTransport *self)
{
  EvlTransportPrivate *priv;

  g_return_val_if_fail (EVL_IS_TRANSPORT (self), -1);

  priv = evl_transport_get_instance_private (self);
  return priv->fd;
}
