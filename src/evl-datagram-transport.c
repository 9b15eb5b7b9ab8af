/* evl-datagram-transport.c: the datagram transport (asyncio's
 * _SelectorDatagramTransport)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "evl-config.h"

#include <errno.h>
#include <string.h>

#include "evl-loop-private.h"
#include "evl-os-dgram-private.h"
#include "evl-transport-private.h"
#include "evl-datagram-transport-private.h"
#include "evl-write-buffer-private.h"

/**
 * EvlDatagramTransport:
 *
 * The transport of a datagram endpoint (UDP, or Unix-domain datagram
 * sockets), asyncio's `DatagramTransport`, made by
 * [method@Evl.Loop.create_datagram_endpoint_async] and handed to the
 * endpoint's [iface@Evl.DatagramProtocol] in `connection_made`.
 *
 * [method@Evl.DatagramTransport.sendto] never blocks: a datagram the
 * socket does not take at once is buffered and sent when the socket has
 * room, in order, and the protocol's `pause_writing`/`resume_writing`
 * follow the buffer's size as for streams (see
 * [method@Evl.Transport.set_write_buffer_limits]). Received datagrams go
 * to `datagram_received` with their sender's address. Errors that belong
 * to one datagram (an ICMP "port unreachable" reported on a connected
 * endpoint, a datagram too large) go to `error_received` and never close
 * the endpoint.
 *
 * [method@Evl.Transport.close] sends what is buffered, then closes;
 * [method@Evl.Transport.abort] closes at once. `connection_lost` runs
 * exactly once, from the loop. The library keeps an open transport and
 * its protocol alive until then. [method@Evl.Transport.write] sends to
 * the peer of a connected endpoint.
 */

/* The same transport serves the selector loop and the proactor loop: both
 * wait for readiness (the proactor with poll requests on its ring, or AFD
 * polls on its completion port on Windows, through the loop's internal fd
 * watches) and then use recvfrom()/sendto() (evl-os-dgram-private.h). A
 * datagram socket gains nothing from completion-based I/O that justifies a
 * second engine: each IORING_OP_RECVMSG in flight would need its own
 * buffer, msghdr and address for one datagram, and a readiness event lets
 * us take every queued datagram with plain syscalls, in order; ICMP errors
 * queued on the socket surface the same way on both loops. The proactor
 * backend stays as it is. */

/* asyncio's max_size: room for any datagram, Unix-domain ones included. */
#define RECV_BUFFER_SIZE (256 * 1024)
/* Datagrams taken per readiness event, so that one busy socket cannot
 * starve the rest of the loop (the watch fires again while more wait). */
#define MAX_RECV_PER_EVENT 32
#define LOG_THRESHOLD_FOR_CONNLOST_WRITES 5

/* Where a datagram goes; the write buffer's chunks of an unconnected
 * endpoint carry one (a connected endpoint's carry none). */
typedef struct
{
  gsize                    addrlen;   /* 0: connected, send() */
  struct sockaddr_storage  addr;
} Destination;

struct _EvlDatagramTransport
{
  EvlTransport       parent_instance;

  EvlLoop           *loop;          /* the base class holds it */
  int                fd;
  GSocketAddress    *peer;          /* connected endpoints: the peer */
  guint8            *rbuf;

  EvlWriteBuffer     wbuf;          /* datagrams not sent yet */

  guint              conn_lost;     /* reasons it is gone; > 0: done */
  guint              dropped;       /* sendto calls after close */
  gboolean           closing;
  gboolean           paused;
  gboolean           started;
  gboolean           alive_ref;     /* it holds a reference to itself */
  gboolean           reading;       /* the reader watch is installed */
  gboolean           writing;       /* the writer watch is installed */
  EvlLoopCloseHook   hook;
};

G_DEFINE_FINAL_TYPE (EvlDatagramTransport, evl_datagram_transport, EVL_TYPE_TRANSPORT)

static void force_close (EvlDatagramTransport *self,
                         GError               *error);

/* ---------------------------------------------------------------------- */
/* protocol calls */

static EvlDatagramProtocol *
dup_protocol (EvlDatagramTransport *self)
{
  GObject *protocol = evl_transport_get_protocol (EVL_TRANSPORT (self));

  if (protocol == NULL || !EVL_IS_DATAGRAM_PROTOCOL (protocol))
    return NULL;
  return g_object_ref (EVL_DATAGRAM_PROTOCOL (protocol));
}

static void
flow_pause_writing (GObject *protocol)
{
  if (EVL_IS_DATAGRAM_PROTOCOL (protocol))
    evl_datagram_protocol_pause_writing (EVL_DATAGRAM_PROTOCOL (protocol));
}

static void
flow_resume_writing (GObject *protocol)
{
  if (EVL_IS_DATAGRAM_PROTOCOL (protocol))
    evl_datagram_protocol_resume_writing (EVL_DATAGRAM_PROTOCOL (protocol));
}

static const EvlTransportFlowFuncs datagram_flow = {
  flow_pause_writing,
  flow_resume_writing,
};

static gboolean
is_fatal_errno (int errsv)
{
  /* The socket itself is unusable; anything else concerns one datagram
   * (ICMP errors, EMSGSIZE, ENOBUFS, EACCES for broadcasts, ...). */
  return errsv == EBADF || errsv == ENOTSOCK || errsv == EFAULT;
}

/* Takes @error. */
static void
report_error (EvlDatagramTransport *self,
              GError               *error)
{
  EvlDatagramProtocol *protocol = dup_protocol (self);

  if (protocol != NULL && self->conn_lost == 0)
    {
      g_object_ref (self);
      evl_datagram_protocol_error_received (protocol, error);
      g_object_unref (self);
    }
  g_clear_object (&protocol);
  g_error_free (error);
}

static GError *
errno_error (int      errsv,
             gboolean sending)
{
  GIOErrorEnum code = g_io_error_from_errno (errsv);

  if (sending)
    return g_error_new (G_IO_ERROR, code, _("Error sending a datagram: %s"), evl_os_strerror (errsv));
  return g_error_new (G_IO_ERROR, code, _("Error receiving a datagram: %s"), evl_os_strerror (errsv));
}

static void
fatal_errno (EvlDatagramTransport *self,
             int                   errsv,
             gboolean              sending)
{
  GIOErrorEnum code = g_io_error_from_errno (errsv);

  force_close (self, g_error_new (G_IO_ERROR, code,
                                  sending ? _("Error sending a datagram: %s; the endpoint is closed")
                                          : _("Error receiving a datagram: %s; the endpoint is closed"),
                                  evl_os_strerror (errsv)));
}

/* ---------------------------------------------------------------------- */
/* the end */

static void
stop_reading (EvlDatagramTransport *self)
{
  if (self->reading)
    {
      self->reading = FALSE;
      evl_loop_remove_internal_watch (self->loop, self->fd, FALSE);
    }
}

static void
stop_writing (EvlDatagramTransport *self)
{
  if (self->writing)
    {
      self->writing = FALSE;
      evl_loop_remove_internal_watch (self->loop, self->fd, TRUE);
    }
}

static void
release (EvlDatagramTransport *self)
{
  evl_loop_remove_close_hook (self->loop, &self->hook);
  stop_reading (self);
  stop_writing (self);
  if (self->fd >= 0)
    {
      evl_os_sock_close (self->fd);
      self->fd = -1;
      evl_transport_set_fd (EVL_TRANSPORT (self), -1);
    }
  g_clear_pointer (&self->rbuf, g_free);
  if (self->alive_ref)
    {
      self->alive_ref = FALSE;
      g_object_unref (self);
    }
}

static void
call_connection_lost (EvlTransport *transport,
                      const GError *error)
{
  EvlDatagramTransport *self = EVL_DATAGRAM_TRANSPORT (transport);
  EvlDatagramProtocol *protocol = dup_protocol (self);

  g_object_ref (self);
  if (protocol != NULL && self->started)
    evl_datagram_protocol_connection_lost (protocol, error);
  g_clear_object (&protocol);
  evl_transport_set_protocol (EVL_TRANSPORT (self), NULL);
  release (self);
  g_object_unref (self);
}

/* asyncio: conn_lost += 1; call_soon (_call_connection_lost). Takes
 * @error. */
static void
schedule_connection_lost (EvlDatagramTransport *self,
                          GError               *error)
{
  self->conn_lost++;
  evl_transport_call_lost_soon (EVL_TRANSPORT (self), call_connection_lost, error);
}

/* asyncio's _force_close. Takes @error. */
static void
force_close (EvlDatagramTransport *self,
             GError               *error)
{
  if (self->conn_lost > 0)
    {
      g_clear_error (&error);
      return;
    }
  evl_write_buffer_clear (&self->wbuf);
  stop_writing (self);
  if (!self->closing)
    {
      self->closing = TRUE;
      stop_reading (self);
    }
  schedule_connection_lost (self, error);
}

/* The loop closes while the endpoint is open: it ends now (from here on
 * the loop delivers synchronously). */
static void
loop_closed_cb (gpointer data)
{
  EvlDatagramTransport *self = data;

  g_object_ref (self);
  /* The loop dropped our watches already. */
  self->reading = self->writing = FALSE;
  force_close (self, g_error_new_literal (EVL_LOOP_ERROR, EVL_LOOP_ERROR_CLOSED,
                                          _("The event loop was closed while the endpoint was open; "
                                            "close transports before closing their loop")));
  g_object_unref (self);
}

/* ---------------------------------------------------------------------- */
/* receiving */

static gboolean
wants_reading (EvlDatagramTransport *self)
{
  return self->conn_lost == 0 && !self->closing && !self->paused;
}

static void
read_ready (gpointer data)
{
  EvlDatagramTransport *self = data;
  guint i;

  g_object_ref (self);
  for (i = 0; i < MAX_RECV_PER_EVENT && wants_reading (self); i++)
    {
      struct sockaddr_storage ss;
      gsize len = sizeof ss;
      GSocketAddress *address = NULL;
      EvlDatagramProtocol *protocol;
      GBytes *bytes;
      gssize n;

      /* A datagram too large for the buffer: its real length here (Unix),
       * or -EMSGSIZE, an error_received like the others (Windows). */
      n = evl_os_dgram_recvfrom (self->fd, self->rbuf, RECV_BUFFER_SIZE, &ss, &len);
      if (n < 0)
        {
          int errsv = (int) -n;

          if (errsv == EINTR)
            continue;
          if (errsv == EAGAIN || errsv == EWOULDBLOCK)
            {
              /* Woken for nothing: an error the receive did not return
               * (Windows under Wine; never on Unix)? */
              if (i == 0 && (errsv = evl_os_dgram_pending_error (self->fd)) != 0)
                report_error (self, errno_error (errsv, FALSE));
              break;
            }
          if (is_fatal_errno (errsv))
            fatal_errno (self, errsv, FALSE);
          else
            report_error (self, errno_error (errsv, FALSE));
          continue;
        }
      if (n > RECV_BUFFER_SIZE)
        {
          report_error (self, g_error_new (G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE,
                                           _("A datagram of %lu bytes was larger than the %d "
                                             "bytes an endpoint receives and was dropped; send "
                                             "smaller datagrams"),
                                           (unsigned long) n, RECV_BUFFER_SIZE));
          continue;
        }
      if (len > 0 && len <= sizeof ss)
        address = g_socket_address_new_from_native (&ss, len);
      bytes = g_bytes_new (self->rbuf, n);
      protocol = dup_protocol (self);
      if (protocol != NULL)
        evl_datagram_protocol_datagram_received (protocol, bytes, address);
      g_clear_object (&protocol);
      g_bytes_unref (bytes);
      g_clear_object (&address);
    }
  g_object_unref (self);
}

static void
start_reading (EvlDatagramTransport *self)
{
  GError *error = NULL;

  if (self->reading || !wants_reading (self))
    return;
  if (self->rbuf == NULL)
    self->rbuf = g_malloc (RECV_BUFFER_SIZE);
  if (!evl_loop_add_internal_watch (self->loop, self->fd, FALSE, read_ready, self, NULL, &error))
    {
      force_close (self, error);
      return;
    }
  self->reading = TRUE;
}

/* ---------------------------------------------------------------------- */
/* sending */

/* One datagram: bytes sent (>= 0) or -errno. */
static gssize
send_one (EvlDatagramTransport *self,
          GBytes               *data,
          const Destination    *dest)
{
  gsize size;
  gconstpointer buf = g_bytes_get_data (data, &size);
  gssize n;

  do
    {
      if (dest == NULL || dest->addrlen == 0)
        n = evl_os_dgram_send (self->fd, buf, size);
      else
        n = evl_os_dgram_sendto (self->fd, buf, size,
                                 (const struct sockaddr *) &dest->addr, dest->addrlen);
    }
  while (n == -EINTR);
  return n;
}

static void
write_ready (gpointer data)
{
  EvlDatagramTransport *self = data;
  EvlWriteChunk *dgram;

  g_object_ref (self);
  while (self->conn_lost == 0 && (dgram = evl_write_buffer_peek (&self->wbuf)) != NULL)
    {
      gssize r = send_one (self, dgram->data, dgram->dest);

      if (r == -EAGAIN || r == -EWOULDBLOCK)
        break;
      evl_write_buffer_drop_head (&self->wbuf);
      if (r < 0)
        {
          /* As asyncio: report, and go on at the next readiness. */
          if (is_fatal_errno ((int) -r))
            fatal_errno (self, (int) -r, TRUE);
          else
            report_error (self, errno_error ((int) -r, TRUE));
          g_object_unref (self);
          return;
        }
    }
  if (self->conn_lost == 0)
    evl_transport_maybe_resume_protocol (EVL_TRANSPORT (self));   /* may send more */
  if (self->conn_lost == 0 && evl_write_buffer_is_empty (&self->wbuf))
    {
      stop_writing (self);
      if (self->closing)
        schedule_connection_lost (self, NULL);
    }
  g_object_unref (self);
}

static gboolean
address_equal (GSocketAddress *a,
               GSocketAddress *b)
{
  if (G_IS_INET_SOCKET_ADDRESS (a) && G_IS_INET_SOCKET_ADDRESS (b))
    return g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (a)) ==
             g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (b)) &&
           g_inet_address_equal (g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (a)),
                                 g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (b)));
  else
    {
      struct sockaddr_storage na, nb;
      gssize la = g_socket_address_get_native_size (a);
      gssize lb = g_socket_address_get_native_size (b);

      if (la <= 0 || la != lb || (gsize) la > sizeof na ||
          !g_socket_address_to_native (a, &na, sizeof na, NULL) ||
          !g_socket_address_to_native (b, &nb, sizeof nb, NULL))
        return FALSE;
      return memcmp (&na, &nb, la) == 0;
    }
}

/**
 * evl_datagram_transport_sendto:
 * @self: a datagram transport
 * @data: the datagram (may be empty)
 * @address: (nullable): where to send it; %NULL (or the peer's address)
 *   on a connected endpoint, required otherwise
 *
 * Sends one datagram without blocking, as asyncio's
 * `DatagramTransport.sendto()`. A datagram the socket does not take at
 * once is buffered and sent in order when it has room (see
 * [method@Evl.Transport.get_write_buffer_size]); an error for this
 * datagram goes to the protocol's `error_received`, and the endpoint stays
 * open. After [method@Evl.Transport.close] or
 * [method@Evl.Transport.abort] the datagram is dropped.
 *
 * Another address than the peer's on a connected endpoint, or none on an
 * unconnected one, is a programming error.
 */
void
evl_datagram_transport_sendto (EvlDatagramTransport *self,
                               GBytes               *data,
                               GSocketAddress       *address)
{
  Destination dest = { 0 };
  gssize r;

  g_return_if_fail (EVL_IS_DATAGRAM_TRANSPORT (self));
  g_return_if_fail (data != NULL);
  g_return_if_fail (address == NULL || G_IS_SOCKET_ADDRESS (address));

  if (self->peer != NULL)
    {
      if (address != NULL && !address_equal (address, self->peer))
        {
          g_critical ("%s: the endpoint is connected; send to its peer "
                      "(pass NULL as the address), not to another address", G_STRFUNC);
          return;
        }
    }
  else
    {
      gssize size;

      if (address == NULL)
        {
          g_critical ("%s: the endpoint is not connected; pass the address to send to", G_STRFUNC);
          return;
        }
      size = g_socket_address_get_native_size (address);
      if (size <= 0 || (gsize) size > sizeof dest.addr ||
          !g_socket_address_to_native (address, &dest.addr, sizeof dest.addr, NULL))
        {
          g_critical ("%s: the address cannot be converted; pass an IPv4, IPv6 or "
                      "Unix-domain address", G_STRFUNC);
          return;
        }
      dest.addrlen = (gsize) size;
    }

  if (self->conn_lost > 0 || self->closing)
    {
      if (++self->dropped >= LOG_THRESHOLD_FOR_CONNLOST_WRITES)
        g_warning ("evl_datagram_transport_sendto: the endpoint is closed; "
                   "the datagram is dropped");
      return;
    }

  if (evl_write_buffer_is_empty (&self->wbuf))
    {
      /* Try it right away. */
      r = send_one (self, data, &dest);
      if (r >= 0)
        return;
      if (r != -EAGAIN && r != -EWOULDBLOCK)
        {
          if (is_fatal_errno ((int) -r))
            fatal_errno (self, (int) -r, TRUE);
          else
            report_error (self, errno_error ((int) -r, TRUE));
          return;
        }
      if (!self->writing)
        {
          GError *error = NULL;

          if (!evl_loop_add_internal_watch (self->loop, self->fd, TRUE, write_ready, self,
                                            NULL, &error))
            {
              force_close (self, error);
              return;
            }
          self->writing = TRUE;
        }
    }

  evl_write_buffer_push (&self->wbuf, data, 0,
                         dest.addrlen > 0 ? g_memdup2 (&dest, sizeof dest) : NULL);
  evl_transport_maybe_pause_protocol (EVL_TRANSPORT (self));
}

/* ---------------------------------------------------------------------- */
/* EvlTransport */

static void
evl_datagram_transport_write (EvlTransport *transport,
                              GBytes       *data)
{
  evl_datagram_transport_sendto (EVL_DATAGRAM_TRANSPORT (transport), data, NULL);
}

static void
evl_datagram_transport_close (EvlTransport *transport)
{
  EvlDatagramTransport *self = EVL_DATAGRAM_TRANSPORT (transport);

  if (self->closing)
    return;
  self->closing = TRUE;
  stop_reading (self);
  if (evl_write_buffer_is_empty (&self->wbuf) && self->conn_lost == 0)
    {
      stop_writing (self);
      schedule_connection_lost (self, NULL);
    }
}

static void
evl_datagram_transport_abort (EvlTransport *transport)
{
  force_close (EVL_DATAGRAM_TRANSPORT (transport), NULL);
}

static gboolean
evl_datagram_transport_is_closing (EvlTransport *transport)
{
  return EVL_DATAGRAM_TRANSPORT (transport)->closing;
}

static void
evl_datagram_transport_pause_reading (EvlTransport *transport)
{
  EvlDatagramTransport *self = EVL_DATAGRAM_TRANSPORT (transport);

  if (!wants_reading (self))
    return;
  self->paused = TRUE;
  stop_reading (self);
}

static void
evl_datagram_transport_resume_reading (EvlTransport *transport)
{
  EvlDatagramTransport *self = EVL_DATAGRAM_TRANSPORT (transport);

  if (self->closing || !self->paused)
    return;
  self->paused = FALSE;
  if (self->started)
    start_reading (self);
}

static gboolean
evl_datagram_transport_is_reading (EvlTransport *transport)
{
  return wants_reading (EVL_DATAGRAM_TRANSPORT (transport));
}

static gsize
evl_datagram_transport_get_write_buffer_size (EvlTransport *transport)
{
  return EVL_DATAGRAM_TRANSPORT (transport)->wbuf.size;
}

/* ---------------------------------------------------------------------- */
/* GObject */

static void
evl_datagram_transport_finalize (GObject *object)
{
  EvlDatagramTransport *self = EVL_DATAGRAM_TRANSPORT (object);

  /* Started transports hold themselves until release(): only one that
   * never started gets here with its fd. */
  if (self->fd >= 0)
    evl_os_sock_close (self->fd);
  evl_write_buffer_clear (&self->wbuf);
  g_free (self->rbuf);
  g_clear_object (&self->peer);

  G_OBJECT_CLASS (evl_datagram_transport_parent_class)->finalize (object);
}

static void
evl_datagram_transport_class_init (EvlDatagramTransportClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  EvlTransportClass *transport_class = EVL_TRANSPORT_CLASS (klass);

  object_class->finalize = evl_datagram_transport_finalize;

  transport_class->write = evl_datagram_transport_write;
  transport_class->close = evl_datagram_transport_close;
  transport_class->abort = evl_datagram_transport_abort;
  transport_class->is_closing = evl_datagram_transport_is_closing;
  transport_class->pause_reading = evl_datagram_transport_pause_reading;
  transport_class->resume_reading = evl_datagram_transport_resume_reading;
  transport_class->is_reading = evl_datagram_transport_is_reading;
  transport_class->get_write_buffer_size = evl_datagram_transport_get_write_buffer_size;
}

static void
evl_datagram_transport_init (EvlDatagramTransport *self)
{
  self->fd = -1;
  evl_write_buffer_init (&self->wbuf, g_free);
  evl_transport_set_flow_funcs (EVL_TRANSPORT (self), &datagram_flow);
}

/* ---------------------------------------------------------------------- */
/* for create_datagram_endpoint */

EvlDatagramTransport *
evl_datagram_transport_new (EvlLoop             *loop,
                            int                  fd,
                            EvlDatagramProtocol *protocol)
{
  EvlDatagramTransport *self = g_object_new (EVL_TYPE_DATAGRAM_TRANSPORT,
                                             "loop", loop,
                                             "protocol", protocol,
                                             NULL);
  GSocketAddress *peer;

  self->loop = loop;
  self->fd = fd;
  evl_transport_set_fd (EVL_TRANSPORT (self), fd);
  peer = evl_transport_get_peer_address (EVL_TRANSPORT (self));
  if (peer != NULL)
    self->peer = g_object_ref (peer);
  return self;
}

void
evl_datagram_transport_start (EvlDatagramTransport *self)
{
  EvlDatagramProtocol *protocol;

  g_return_if_fail (!self->started);

  self->started = TRUE;
  self->alive_ref = TRUE;
  g_object_ref (self);
  self->hook.func = loop_closed_cb;
  self->hook.data = self;
  evl_loop_add_close_hook (self->loop, &self->hook);

  g_object_ref (self);
  protocol = dup_protocol (self);
  if (protocol != NULL)
    evl_datagram_protocol_connection_made (protocol, self);
  g_clear_object (&protocol);
  start_reading (self);
  g_object_unref (self);
}
