/* evl-stream-transport.c: the stream transport's state machine
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "evl-config.h"

#include <errno.h>
#include <string.h>

#include "evl-loop-private.h"
#include "evl-os-sock-private.h"
#include "evl-pipe-private.h"
#include "evl-stream-private.h"

/* The rules are asyncio's (selector_events.py _SelectorTransport and
 * _SelectorSocketTransport, proactor_events.py):
 *
 *  - connection_made once, first; connection_lost exactly once, last,
 *    scheduled with call_soon once the transport is done (close with an
 *    empty buffer, the buffer flushed after close, abort, a fatal error);
 *  - @conn_lost counts the reasons the connection is gone: once it is
 *    non-zero nothing is received, sent, or delivered any more;
 *  - the fd is closed and the transport's reference to itself dropped
 *    after connection_lost, once no operation of the engine is in flight
 *    (the proactor's RECV writes into @rbuf until it completes). */

G_DEFINE_FINAL_TYPE (EvlStreamTransport, evl_stream_transport, EVL_TYPE_TRANSPORT)

#define LOG_THRESHOLD_FOR_CONNLOST_WRITES 5

static void force_close (EvlStreamTransport *self,
                         GError             *error);

/* ---------------------------------------------------------------------- */
/* I/O without SIGPIPE */

gssize
evl_stream_fd_read (int       fd,
                    gboolean  is_socket,
                    guint8   *buffer,
                    gsize     len)
{
  gssize n;

  if (!is_socket)
    return evl_os_fd_read (fd, buffer, len);
  do
    n = evl_os_sock_recv (fd, buffer, len);
  while (n == -EINTR);
  return n;
}

gssize
evl_stream_fd_writev (int               fd,
                      gboolean          is_socket,
                      const EvlOsIoVec *iov,
                      int               n_iov)
{
  return is_socket ? evl_os_sock_sendv (fd, iov, n_iov) : evl_os_fd_writev (fd, iov, n_iov);
}

static void
evl_stream_close_fd (EvlStreamTransport *self)
{
  if (self->flags & EVL_STREAM_SOCKET)
    evl_os_sock_close (self->fd);
  else
    evl_os_fd_close (self->fd);
}

/* ---------------------------------------------------------------------- */
/* GObject */

static void
evl_stream_transport_finalize (GObject *object)
{
  EvlStreamTransport *self = EVL_STREAM_TRANSPORT (object);

  evl_loop_remove_close_hook (self->loop, &self->close_hook);
  evl_write_buffer_clear (&self->wbuf);
  if (self->fd >= 0)
    evl_stream_close_fd (self);
  g_free (self->rbuf);
  g_clear_pointer (&self->held, g_byte_array_unref);
  g_clear_object (&self->read_cancel);
  g_clear_object (&self->write_cancel);

  G_OBJECT_CLASS (evl_stream_transport_parent_class)->finalize (object);
}

/* ---------------------------------------------------------------------- */
/* protocol calls */

static EvlProtocol *
dup_protocol (EvlStreamTransport *self)
{
  GObject *protocol = evl_transport_get_protocol (EVL_TRANSPORT (self));

  if (protocol == NULL || !EVL_IS_PROTOCOL (protocol))
    return NULL;
  return g_object_ref (EVL_PROTOCOL (protocol));
}

static void
release (EvlStreamTransport *self)
{
  if (self->released)
    return;
  if (!self->engine->idle (self))
    {
      self->release_pending = TRUE;
      return;
    }
  self->released = TRUE;
  self->release_pending = FALSE;
  evl_loop_remove_close_hook (self->loop, &self->close_hook);
  self->engine->stop_reading (self, TRUE);
  self->engine->stop_writing (self);
  if (self->fd >= 0)
    {
      evl_stream_close_fd (self);
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

void
evl_stream_engine_settled (EvlStreamTransport *self)
{
  if (self->release_pending)
    release (self);
}

static void
call_connection_lost (EvlTransport *transport,
                      const GError *error)
{
  EvlStreamTransport *self = EVL_STREAM_TRANSPORT (transport);
  EvlProtocol *protocol = dup_protocol (self);
  GDestroyNotify on_lost = self->on_lost;

  g_object_ref (self);
  if (protocol != NULL && self->started)
    evl_protocol_connection_lost (protocol, error);
  g_clear_object (&protocol);
  evl_transport_set_protocol (EVL_TRANSPORT (self), NULL);
  self->on_lost = NULL;
  if (on_lost != NULL)
    on_lost (self->on_lost_data);
  release (self);
  g_object_unref (self);
}

/* Counts one reason for the connection to be gone and schedules
 * connection_lost (asyncio: conn_lost += 1; call_soon (...)). Takes
 * @error. */
static void
schedule_connection_lost (EvlStreamTransport *self,
                          GError             *error)
{
  self->conn_lost++;
  evl_transport_call_lost_soon (EVL_TRANSPORT (self), call_connection_lost, error);
}

/* asyncio's _force_close. Takes @error. */
static void
force_close (EvlStreamTransport *self,
             GError             *error)
{
  if (self->conn_lost > 0)
    {
      g_clear_error (&error);
      return;
    }
  evl_write_buffer_clear (&self->wbuf);
  self->engine->stop_writing (self);
  if (!self->closing)
    {
      self->closing = TRUE;
      self->engine->stop_reading (self, TRUE);
    }
  schedule_connection_lost (self, error);
}

void
evl_stream_fatal_error (EvlStreamTransport *self,
                        GError             *error)
{
  force_close (self, error);
}

void
evl_stream_fatal_errno (EvlStreamTransport *self,
                        int                 errsv,
                        gboolean            writing)
{
  GIOErrorEnum code = g_io_error_from_errno (errsv);
  GError *error;

  if (writing)
    error = g_error_new (G_IO_ERROR, code,
                         _("Error sending data: %s; the connection is closed"),
                         evl_os_strerror (errsv));
  else
    error = g_error_new (G_IO_ERROR, code,
                         _("Error receiving data: %s; the connection is closed"),
                         evl_os_strerror (errsv));
  force_close (self, error);
}

gboolean
evl_stream_wants_reading (EvlStreamTransport *self)
{
  return (self->flags & EVL_STREAM_READ) && self->conn_lost == 0 &&
         !self->closing && !self->paused && !self->eof_received;
}

void
evl_stream_data_received (EvlStreamTransport *self,
                          const guint8       *data,
                          gsize               len)
{
  EvlProtocol *protocol;
  GBytes *bytes;

  if (self->conn_lost > 0 || self->closing || len == 0)
    return;
  protocol = dup_protocol (self);
  if (protocol == NULL)
    return;
  bytes = g_bytes_new (data, len);
  g_object_ref (self);
  evl_protocol_data_received (protocol, bytes);
  g_object_unref (self);
  g_bytes_unref (bytes);
  g_object_unref (protocol);
}

void
evl_stream_eof_received (EvlStreamTransport *self)
{
  EvlProtocol *protocol;
  gboolean keep_open = FALSE;

  if (self->conn_lost > 0 || self->closing || self->eof_received)
    return;
  self->eof_received = TRUE;
  g_object_ref (self);
  self->engine->stop_reading (self, TRUE);
  protocol = dup_protocol (self);
  if (protocol != NULL)
    keep_open = evl_protocol_eof_received (protocol);
  g_clear_object (&protocol);
  /* A read pipe ends at EOF whatever the protocol says (asyncio's
   * _UnixReadPipeTransport): there is no write side to keep open. */
  if (!keep_open || !(self->flags & EVL_STREAM_WRITE))
    evl_transport_close (EVL_TRANSPORT (self));
  g_object_unref (self);
}

/* ---------------------------------------------------------------------- */
/* the write buffer */

static void
shutdown_write (EvlStreamTransport *self)
{
  if (self->fd >= 0 && (self->flags & EVL_STREAM_SOCKET))
    evl_os_sock_shutdown (self->fd, EVL_OS_SHUT_WR);
}

void
evl_stream_wrote (EvlStreamTransport *self,
                  gsize               n)
{
  g_return_if_fail (n <= self->wbuf.size);

  evl_write_buffer_consume (&self->wbuf, n);
  g_object_ref (self);
  evl_transport_maybe_resume_protocol (EVL_TRANSPORT (self));
  if (self->wbuf.size == 0 && self->conn_lost == 0)
    {
      if (self->closing)
        schedule_connection_lost (self, NULL);
      else if (self->eof)
        shutdown_write (self);
    }
  g_object_unref (self);
}

int
evl_stream_get_iov (EvlStreamTransport *self,
                    EvlOsIoVec         *iov,
                    int                 max)
{
  return evl_write_buffer_get_iov (&self->wbuf, iov, max);
}

GBytes *
evl_stream_take_coalesced (EvlStreamTransport *self)
{
  return evl_write_buffer_coalesce (&self->wbuf);
}

/* ---------------------------------------------------------------------- */
/* EvlTransport */

static void
stream_write (EvlTransport *transport,
              GBytes       *data)
{
  EvlStreamTransport *self = EVL_STREAM_TRANSPORT (transport);
  gsize len = g_bytes_get_size (data), offset = 0;

  if (!(self->flags & EVL_STREAM_WRITE))
    {
      g_critical ("Cannot write to a read-only transport (the read end of a pipe)");
      return;
    }
  if (self->eof && !self->closing && self->conn_lost == 0)
    {
      g_critical ("Cannot write after evl_transport_write_eof()");
      return;
    }
  if (len == 0)
    return;
  if (self->conn_lost > 0 || self->closing || self->eof)
    {
      /* asyncio ignores the data and logs after a few attempts. */
      if (++self->writes_after_lost == LOG_THRESHOLD_FOR_CONNLOST_WRITES)
        g_message ("Data written to a transport that is closed or closing "
                   "is dropped; stop writing once connection_lost is called");
      return;
    }

  if (self->wbuf.size == 0 && self->engine->try_write != NULL)
    {
      gssize n = self->engine->try_write (self, g_bytes_get_data (data, NULL), len);

      if (n < 0)
        {
          evl_stream_fatal_errno (self, (int) -n, TRUE);
          return;
        }
      if ((gsize) n == len)
        return;
      offset = n;
    }

  evl_write_buffer_push (&self->wbuf, data, offset, NULL);
  self->engine->flush (self);
  evl_transport_maybe_pause_protocol (transport);
}

static void
stream_write_eof (EvlTransport *transport)
{
  EvlStreamTransport *self = EVL_STREAM_TRANSPORT (transport);

  if (!(self->flags & EVL_STREAM_WRITE))
    {
      g_critical ("Cannot call write_eof() on a read-only transport (the read end of a pipe)");
      return;
    }
  if (self->closing || self->eof || self->conn_lost > 0)
    return;
  if (!(self->flags & EVL_STREAM_SOCKET))
    {
      /* A write pipe ends by being closed. */
      evl_transport_close (transport);
      return;
    }
  self->eof = TRUE;
  if (self->wbuf.size == 0)
    shutdown_write (self);
}

static gboolean
stream_can_write_eof (EvlTransport *transport)
{
  EvlStreamTransport *self = EVL_STREAM_TRANSPORT (transport);

  return (self->flags & EVL_STREAM_WRITE) != 0;
}

static void
stream_close (EvlTransport *transport)
{
  EvlStreamTransport *self = EVL_STREAM_TRANSPORT (transport);

  if (self->closing || self->conn_lost > 0)
    return;
  self->closing = TRUE;
  self->engine->stop_reading (self, TRUE);
  if (self->wbuf.size == 0)
    {
      self->engine->stop_writing (self);
      schedule_connection_lost (self, NULL);
    }
}

static void
stream_abort (EvlTransport *transport)
{
  force_close (EVL_STREAM_TRANSPORT (transport), NULL);
}

static gboolean
stream_is_closing (EvlTransport *transport)
{
  EvlStreamTransport *self = EVL_STREAM_TRANSPORT (transport);

  return self->closing || self->conn_lost > 0;
}

static void
stream_pause_reading (EvlTransport *transport)
{
  EvlStreamTransport *self = EVL_STREAM_TRANSPORT (transport);

  if (self->closing || self->paused || !(self->flags & EVL_STREAM_READ))
    return;
  self->paused = TRUE;
  self->engine->stop_reading (self, FALSE);
}

static void
stream_resume_reading (EvlTransport *transport)
{
  EvlStreamTransport *self = EVL_STREAM_TRANSPORT (transport);

  if (self->closing || !self->paused)
    return;
  self->paused = FALSE;
  if (self->started && (evl_stream_wants_reading (self) || self->held != NULL || self->held_eof))
    self->engine->start_reading (self);
}

static gboolean
stream_is_reading (EvlTransport *transport)
{
  EvlStreamTransport *self = EVL_STREAM_TRANSPORT (transport);

  return (self->flags & EVL_STREAM_READ) && !self->paused && !self->closing && self->conn_lost == 0;
}

static gsize
stream_get_write_buffer_size (EvlTransport *transport)
{
  return EVL_STREAM_TRANSPORT (transport)->wbuf.size;
}

static void
evl_stream_transport_class_init (EvlStreamTransportClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  EvlTransportClass *transport_class = EVL_TRANSPORT_CLASS (klass);

  object_class->finalize = evl_stream_transport_finalize;

  transport_class->write = stream_write;
  transport_class->write_eof = stream_write_eof;
  transport_class->can_write_eof = stream_can_write_eof;
  transport_class->close = stream_close;
  transport_class->abort = stream_abort;
  transport_class->is_closing = stream_is_closing;
  transport_class->pause_reading = stream_pause_reading;
  transport_class->resume_reading = stream_resume_reading;
  transport_class->is_reading = stream_is_reading;
  transport_class->get_write_buffer_size = stream_get_write_buffer_size;
}

static void
evl_stream_transport_init (EvlStreamTransport *self)
{
  self->fd = -1;
  evl_write_buffer_init (&self->wbuf, NULL);
}

/* ---------------------------------------------------------------------- */
/* for the loop's functions */

EvlStreamTransport *
evl_stream_transport_new (EvlLoop        *loop,
                          int             fd,
                          EvlStreamFlags  flags,
                          GObject        *protocol)
{
  EvlStreamTransport *self = g_object_new (EVL_TYPE_STREAM_TRANSPORT,
                                           "loop", loop,
                                           "protocol", protocol,
                                           NULL);

  self->loop = loop;
  self->fd = fd;
  self->flags = flags;
  if (!(flags & EVL_STREAM_SOCKET) && evl_stream_pipe_engine != NULL)
    self->engine = evl_stream_pipe_engine;   /* Windows: overlapped pipes */
  else if ((flags & EVL_STREAM_SOCKET) && evl_loop_get_backend (loop)->sock_submit != NULL)
    self->engine = &evl_stream_completion_engine;
  else
    self->engine = &evl_stream_readiness_engine;
  self->read_cancel = g_cancellable_new ();
  self->write_cancel = g_cancellable_new ();
  evl_transport_set_fd (EVL_TRANSPORT (self), fd);
  return self;
}

void
evl_stream_transport_set_lost_notify (EvlStreamTransport *self,
                                      GDestroyNotify      notify,
                                      gpointer            data)
{
  self->on_lost = notify;
  self->on_lost_data = data;
}

/* The loop closes while the transport is open: it ends now (the loop's
 * operations deliver synchronously from here on). */
/* What a transport's protocol gets when its loop closes under it. */
GError *
evl_stream_loop_closed_error (void)
{
  return g_error_new_literal (EVL_LOOP_ERROR, EVL_LOOP_ERROR_CLOSED,
                              _("The event loop was closed while the connection was open; "
                                "close transports before closing their loop"));
}

static void
loop_closed_cb (gpointer data)
{
  EvlStreamTransport *self = data;

  g_object_ref (self);
  evl_loop_remove_close_hook (self->loop, &self->close_hook);
  force_close (self, evl_stream_loop_closed_error ());
  release (self);
  g_object_unref (self);
}

void
evl_stream_transport_start (EvlStreamTransport *self)
{
  EvlProtocol *protocol;

  g_return_if_fail (!self->started);

  self->started = TRUE;
  self->alive_ref = TRUE;
  g_object_ref (self);
  self->close_hook.func = loop_closed_cb;
  self->close_hook.data = self;
  evl_loop_add_close_hook (self->loop, &self->close_hook);

  g_object_ref (self);
  protocol = dup_protocol (self);
  if (protocol != NULL)
    evl_protocol_connection_made (protocol, EVL_TRANSPORT (self));
  g_clear_object (&protocol);
  /* A write pipe watches for its reader going away. */
  if (evl_stream_wants_reading (self) ||
      (!(self->flags & EVL_STREAM_READ) && self->conn_lost == 0 && !self->closing))
    self->engine->start_reading (self);
  g_object_unref (self);
}
