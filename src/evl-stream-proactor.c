/* evl-stream-proactor.c: the completion engine of stream transports
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "evl-config.h"

#include <errno.h>

#include "evl-loop-private.h"
#include "evl-stream-private.h"

/* asyncio's _ProactorReadPipeTransport / _ProactorBaseWritePipeTransport
 * over the loop's socket primitives, which the proactor hands to the
 * kernel (IORING_OP_RECV, IORING_OP_SEND):
 *
 *  - one RECV into @rbuf is kept in flight while reading is wanted; it is
 *    submitted again when it completes, before its bytes are delivered;
 *  - pause_reading lets the RECV in flight complete and holds its bytes
 *    (and an EOF) until resume_reading, as asyncio does (cancelling a
 *    completed-but-unreported receive would lose data);
 *  - one SEND at a time, of the whole buffer joined into one chunk; the
 *    bytes count as buffered until it completes;
 *  - close and abort cancel what is in flight (GCancellables of ours);
 *    the fd and @rbuf are released once both operations have reported. */

static void submit_recv (EvlStreamTransport *self);

static void
deliver_held (gpointer data)
{
  EvlStreamTransport *self = data;
  GByteArray *held;

  self->held_scheduled = FALSE;
  if (self->conn_lost > 0 || self->closing)
    {
      g_clear_pointer (&self->held, g_byte_array_unref);
      self->held_eof = FALSE;
      return;
    }
  if (self->paused)
    return;
  held = g_steal_pointer (&self->held);
  if (held != NULL)
    {
      evl_stream_data_received (self, held->data, held->len);
      g_byte_array_unref (held);
    }
  if (self->held_eof && !self->paused && self->held == NULL)
    {
      self->held_eof = FALSE;
      evl_stream_eof_received (self);
    }
  else if (evl_stream_wants_reading (self) && !self->recv_busy && !self->held_eof)
    submit_recv (self);
}

static void
on_recv (GObject      *source,
         GAsyncResult *result,
         gpointer      data)
{
  EvlStreamTransport *self = data;
  GError *error = NULL;
  gssize n;

  n = evl_loop_sock_recv_into_finish (EVL_LOOP (source), result, &error);
  self->recv_busy = FALSE;

  if (self->conn_lost > 0 || self->closing || self->eof_received)
    {
      g_clear_error (&error);
    }
  else if (n < 0)
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) &&
          !g_cancellable_is_cancelled (self->read_cancel))
        {
          /* The loop closed under the operation. */
          g_clear_error (&error);
          error = evl_stream_loop_closed_error ();
        }
      evl_stream_fatal_error (self, error);
    }
  else if (self->paused || self->held != NULL || self->held_eof)
    {
      /* Keep it for resume_reading, behind what is held already. */
      if (n == 0)
        self->held_eof = TRUE;
      else
        {
          if (self->held == NULL)
            self->held = g_byte_array_sized_new (n);
          g_byte_array_append (self->held, self->rbuf, n);
        }
    }
  else if (n == 0)
    {
      evl_stream_eof_received (self);
    }
  else
    {
      GBytes *bytes = g_bytes_new (self->rbuf, n);

      /* Read on while the protocol handles these bytes. */
      if (evl_stream_wants_reading (self))
        submit_recv (self);
      evl_stream_data_received (self, g_bytes_get_data (bytes, NULL), n);
      g_bytes_unref (bytes);
    }

  evl_stream_engine_settled (self);
  g_object_unref (self);
}

static void
submit_recv (EvlStreamTransport *self)
{
  if (self->recv_busy || self->fd < 0 || g_cancellable_is_cancelled (self->read_cancel))
    return;
  if (self->rbuf == NULL)
    self->rbuf = g_malloc (EVL_STREAM_READ_SIZE);
  self->recv_busy = TRUE;
  evl_loop_sock_recv_into_async (self->loop, self->fd, self->rbuf, EVL_STREAM_READ_SIZE,
                                 self->read_cancel, on_recv, g_object_ref (self));
}

static void
completion_start_reading (EvlStreamTransport *self)
{
  if (self->held != NULL || self->held_eof)
    {
      if (!self->held_scheduled)
        {
          self->held_scheduled = TRUE;
          evl_loop_call_soon_internal (self->loop, deliver_held, g_object_ref (self), g_object_unref);
        }
      return;
    }
  submit_recv (self);
}

static void
completion_stop_reading (EvlStreamTransport *self,
                         gboolean            for_good)
{
  if (!for_good)
    return;
  g_clear_pointer (&self->held, g_byte_array_unref);
  self->held_eof = FALSE;
  if (self->recv_busy)
    g_cancellable_cancel (self->read_cancel);
}

static void completion_flush (EvlStreamTransport *self);

/* A SEND of a completion engine ended (this one's for sockets, Windows'
 * pipe engine's): the bytes are taken off the buffer, or the failure ends
 * the transport. TRUE when more is buffered and the connection lives, so
 * the engine sends again. */
gboolean
evl_stream_completion_sent (EvlStreamTransport *self,
                            EvlLoop            *loop,
                            GAsyncResult       *result)
{
  GError *error = NULL;
  gboolean ok;

  ok = evl_loop_sock_sendall_finish (loop, result, &error);
  self->send_busy = FALSE;

  if (self->conn_lost > 0)
    {
      g_clear_error (&error);
      return FALSE;
    }
  if (!ok)
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        {
          g_clear_error (&error);
          error = evl_stream_loop_closed_error ();
        }
      evl_stream_fatal_error (self, error);
      return FALSE;
    }
  evl_stream_wrote (self, self->send_len);
  return self->wbuf.size > 0 && self->conn_lost == 0;
}

static void
on_sent (GObject      *source,
         GAsyncResult *result,
         gpointer      data)
{
  EvlStreamTransport *self = data;

  if (evl_stream_completion_sent (self, EVL_LOOP (source), result))
    completion_flush (self);
  evl_stream_engine_settled (self);
  g_object_unref (self);
}

static void
completion_flush (EvlStreamTransport *self)
{
  GBytes *bytes;

  if (self->send_busy || self->wbuf.size == 0 || self->fd < 0 ||
      g_cancellable_is_cancelled (self->write_cancel))
    return;
  bytes = evl_stream_take_coalesced (self);
  self->send_len = g_bytes_get_size (bytes);
  self->send_busy = TRUE;
  evl_loop_sock_sendall_async (self->loop, self->fd, bytes, self->write_cancel,
                               on_sent, g_object_ref (self));
  g_bytes_unref (bytes);
}

static void
completion_stop_writing (EvlStreamTransport *self)
{
  if (self->send_busy)
    g_cancellable_cancel (self->write_cancel);
}

static gboolean
completion_idle (EvlStreamTransport *self)
{
  return !self->recv_busy && !self->send_busy;
}

const EvlStreamEngine evl_stream_completion_engine = {
  completion_start_reading,
  completion_stop_reading,
  NULL,
  completion_flush,
  completion_stop_writing,
  completion_idle,
};
