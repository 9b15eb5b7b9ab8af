/* evl-stream-selector.c: the readiness engine of stream transports
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "evl-config.h"

#include <errno.h>

#include "evl-loop-private.h"
#include "evl-stream-private.h"

/* asyncio's _SelectorSocketTransport: a reader on the fd while reading is
 * wanted (one read per readiness), writes tried at once, the rest sent
 * from a writer installed while the buffer is not empty. The watches are
 * the loop's internal slots, so a user's add_reader on the same fd
 * neither replaces nor is replaced by them. A write pipe keeps a reader
 * too: its write end turns readable (POLLERR) when the reader goes away. */

#define MAX_IOV 64

static void
watch_unref (gpointer data)
{
  g_object_unref (data);
}

static void
read_ready (gpointer data)
{
  EvlStreamTransport *self = data;
  gssize n;

  if (self->conn_lost > 0)
    return;

  if (!(self->flags & EVL_STREAM_READ))
    {
      /* A write pipe whose reader went away. */
      if (self->wbuf.size > 0)
        evl_stream_fatal_errno (self, EPIPE, TRUE);
      else
        evl_transport_abort (EVL_TRANSPORT (self));
      return;
    }

  if (self->rbuf == NULL)
    self->rbuf = g_malloc (EVL_STREAM_READ_SIZE);
  n = evl_stream_fd_read (self->fd, self->flags & EVL_STREAM_SOCKET, self->rbuf, EVL_STREAM_READ_SIZE);
  if (n == -EAGAIN || n == -EWOULDBLOCK)
    return;
  if (n < 0)
    evl_stream_fatal_errno (self, (int) -n, FALSE);
  else if (n == 0)
    evl_stream_eof_received (self);
  else
    evl_stream_data_received (self, self->rbuf, n);
}

static void
readiness_start_reading (EvlStreamTransport *self)
{
  GError *error = NULL;

  if (self->reading || self->fd < 0)
    return;
  if (!evl_loop_add_internal_watch (self->loop, self->fd, FALSE, read_ready,
                                    g_object_ref (self), watch_unref, &error))
    {
      evl_stream_fatal_error (self, error);
      return;
    }
  self->reading = TRUE;
}

static void
readiness_stop_reading (EvlStreamTransport *self,
                        gboolean            for_good)
{
  if (!self->reading)
    return;
  self->reading = FALSE;
  evl_loop_remove_internal_watch (self->loop, self->fd, FALSE);
}

static gssize
readiness_try_write (EvlStreamTransport *self,
                     const guint8       *data,
                     gsize               len)
{
  EvlOsIoVec iov;
  gssize n;

  evl_os_iov_set (&iov, data, MIN (len, EVL_OS_IOV_MAX_LEN));
  n = evl_stream_fd_writev (self->fd, self->flags & EVL_STREAM_SOCKET, &iov, 1);

  if (n == -EAGAIN || n == -EWOULDBLOCK)
    return 0;
  return n;
}

static void
readiness_stop_writing (EvlStreamTransport *self)
{
  if (!self->writing)
    return;
  self->writing = FALSE;
  evl_loop_remove_internal_watch (self->loop, self->fd, TRUE);
}

static void
write_ready (gpointer data)
{
  EvlStreamTransport *self = data;
  EvlOsIoVec iov[MAX_IOV];
  gssize n;
  int n_iov;

  if (self->conn_lost > 0)
    return;
  n_iov = evl_stream_get_iov (self, iov, MAX_IOV);
  if (n_iov == 0)
    {
      readiness_stop_writing (self);
      return;
    }
  n = evl_stream_fd_writev (self->fd, self->flags & EVL_STREAM_SOCKET, iov, n_iov);
  if (n == -EAGAIN || n == -EWOULDBLOCK)
    return;
  if (n < 0)
    {
      readiness_stop_writing (self);
      evl_stream_fatal_errno (self, (int) -n, TRUE);
      return;
    }
  g_object_ref (self);
  evl_stream_wrote (self, n);
  if (self->wbuf.size == 0)
    readiness_stop_writing (self);
  g_object_unref (self);
}

static void
readiness_flush (EvlStreamTransport *self)
{
  GError *error = NULL;

  if (self->writing || self->fd < 0)
    return;
  if (!evl_loop_add_internal_watch (self->loop, self->fd, TRUE, write_ready,
                                    g_object_ref (self), watch_unref, &error))
    {
      evl_stream_fatal_error (self, error);
      return;
    }
  self->writing = TRUE;
}

static gboolean
readiness_idle (EvlStreamTransport *self)
{
  return TRUE;
}

const EvlStreamEngine evl_stream_readiness_engine = {
  readiness_start_reading,
  readiness_stop_reading,
  readiness_try_write,
  readiness_flush,
  readiness_stop_writing,
  readiness_idle,
};
