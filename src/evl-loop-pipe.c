/* evl-loop-pipe.c: pipes on an EvlLoop
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "evl-config.h"

#include "evl-loop-private.h"
#include "evl-net-private.h"
#include "evl-operation-private.h"
#include "evl-pipe-private.h"

/* asyncio's unix_events.py connect_read_pipe/connect_write_pipe and
 * windows_events.py's pipe transports; what a pipe fd is and how its
 * bytes move is the platform's (evl-pipe-unix.c, evl-pipe-win32.c). */

/* ---------------------------------------------------------------------- */
/* pipes */

static void
connect_pipe (EvlLoop             *loop,
              gpointer             tag,
              EvlStreamFlags       flags,
              EvlProtocolFactory   factory,
              gpointer             factory_data,
              GDestroyNotify       factory_notify,
              int                  fd,
              GCancellable        *cancellable,
              GAsyncReadyCallback  callback,
              gpointer             user_data)
{
  EvlOperation *op = evl_operation_new (loop, tag, callback, user_data);
  EvlNetFactory f = { factory, factory_data, factory_notify };
  GError *error = NULL;

  if (!evl_net_can_start (loop, cancellable, &error))
    {
      evl_pipe_close_fd (fd);
      evl_operation_return_error (op, error);
    }
  else if (!evl_pipe_prepare_fd (fd, flags, &error))
    evl_operation_return_error (op, error);
  else
    {
      /* A socket given as a pipe stays a pipe transport in one direction,
       * as in asyncio. */
      evl_net_start_stream (loop, fd, flags, &f, op);
    }
  evl_net_factory_clear (&f);
  g_object_unref (op);
}

/**
 * evl_loop_connect_read_pipe_async:
 * @loop: a loop
 * @factory: (scope notified) (closure factory_data) (destroy factory_notify):
 *   makes the pipe's protocol
 * @factory_data: data for @factory
 * @factory_notify: (nullable): frees @factory_data
 * @fd: the read end of a pipe (or a FIFO, socket or character device); on
 *   Windows the `HANDLE` of a pipe opened for overlapped I/O, cast to int
 *   (see below); the transport owns it from this call on, and it is
 *   closed on failure
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async) (closure user_data): called when connected
 * @user_data: data for @callback
 *
 * Wraps @fd in a read transport, as asyncio's `loop.connect_read_pipe()`:
 * the protocol gets `data_received` for what is written into the pipe,
 * `eof_received` and `connection_lost` when the write end is closed. The
 * fd is made non-blocking and close-on-exec. Finish with
 * [method@Evl.Loop.connect_read_pipe_finish].
 *
 * On Windows pipes cannot be polled: the transport reads with overlapped
 * `ReadFile()`, so @fd must be a pipe opened with `FILE_FLAG_OVERLAPPED`
 * (a named pipe: `CreateNamedPipe()`, or `CreateFile()` on its name);
 * anonymous pipes from `CreatePipe()` are synchronous and fail with
 * %EVL_LOOP_ERROR_INVALID. The HANDLE is made not inheritable. On the
 * selector loops each pipe takes one of the 63 HANDLEs a selector waits
 * for while a read is in flight.
 */
void
evl_loop_connect_read_pipe_async (EvlLoop             *loop,
                                  EvlProtocolFactory   factory,
                                  gpointer             factory_data,
                                  GDestroyNotify       factory_notify,
                                  int                  fd,
                                  GCancellable        *cancellable,
                                  GAsyncReadyCallback  callback,
                                  gpointer             user_data)
{
  g_return_if_fail (EVL_IS_LOOP (loop));
  g_return_if_fail (factory != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  connect_pipe (loop, evl_loop_connect_read_pipe_async, EVL_STREAM_READ, factory, factory_data,
                factory_notify, fd, cancellable, callback, user_data);
}

/**
 * evl_loop_connect_read_pipe_finish:
 * @loop: a loop
 * @result: the #GAsyncResult passed to the callback
 * @protocol: (out) (transfer full) (optional) (nullable): the pipe's
 *   protocol
 * @error: return location for a #GError
 *
 * Finishes [method@Evl.Loop.connect_read_pipe_async].
 *
 * Returns: (transfer full): the transport, or %NULL with @error set
 */
EvlTransport *
evl_loop_connect_read_pipe_finish (EvlLoop       *loop,
                                   GAsyncResult  *result,
                                   EvlProtocol  **protocol,
                                   GError       **error)
{
  return evl_net_connection_finish (loop, result, evl_loop_connect_read_pipe_async, protocol, error);
}

/**
 * evl_loop_connect_write_pipe_async:
 * @loop: a loop
 * @factory: (scope notified) (closure factory_data) (destroy factory_notify):
 *   makes the pipe's protocol
 * @factory_data: data for @factory
 * @factory_notify: (nullable): frees @factory_data
 * @fd: the write end of a pipe (or a FIFO, socket or character device); on
 *   Windows the `HANDLE` of a pipe opened for overlapped I/O, cast to int
 *   (see [method@Evl.Loop.connect_read_pipe_async]); the transport owns it
 *   from this call on, and it is closed on failure
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async) (closure user_data): called when connected
 * @user_data: data for @callback
 *
 * Wraps @fd in a write transport, as asyncio's
 * `loop.connect_write_pipe()`, with the same write buffering and flow
 * control as a socket. [method@Evl.Transport.write_eof] closes the pipe
 * once the buffer is flushed. When the read end goes away the protocol's
 * `connection_lost` runs, with %G_IO_ERROR_BROKEN_PIPE if data was still
 * to be written; `SIGPIPE` is never raised. Finish with
 * [method@Evl.Loop.connect_write_pipe_finish].
 *
 * On Windows the transport keeps a read in flight on @fd to learn when
 * the read end goes away (as asyncio does), so a pipe opened for writing
 * only learns it from its next write.
 */
void
evl_loop_connect_write_pipe_async (EvlLoop             *loop,
                                   EvlProtocolFactory   factory,
                                   gpointer             factory_data,
                                   GDestroyNotify       factory_notify,
                                   int                  fd,
                                   GCancellable        *cancellable,
                                   GAsyncReadyCallback  callback,
                                   gpointer             user_data)
{
  g_return_if_fail (EVL_IS_LOOP (loop));
  g_return_if_fail (factory != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  connect_pipe (loop, evl_loop_connect_write_pipe_async, EVL_STREAM_WRITE, factory, factory_data,
                factory_notify, fd, cancellable, callback, user_data);
}

/**
 * evl_loop_connect_write_pipe_finish:
 * @loop: a loop
 * @result: the #GAsyncResult passed to the callback
 * @protocol: (out) (transfer full) (optional) (nullable): the pipe's
 *   protocol
 * @error: return location for a #GError
 *
 * Finishes [method@Evl.Loop.connect_write_pipe_async].
 *
 * Returns: (transfer full): the transport, or %NULL with @error set
 */
EvlTransport *
evl_loop_connect_write_pipe_finish (EvlLoop       *loop,
                                    GAsyncResult  *result,
                                    EvlProtocol  **protocol,
                                    GError       **error)
{
  return evl_net_connection_finish (loop, result, evl_loop_connect_write_pipe_async, protocol, error);
}
