/* evl-subprocess-protocol.c: the protocol of a child process
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "evl-config.h"

#include <evloop-glib/evloop-glib.h>

#include "evl-loop-private.h"

/**
 * EvlSubprocessProtocol:
 *
 * What a child process started with [method@Evl.Loop.subprocess_exec_async]
 * or [method@Evl.Loop.subprocess_shell_async] reports, asyncio's
 * `SubprocessProtocol`. Implement it in C, Python or JavaScript; every
 * virtual function is optional.
 *
 * The order is asyncio's: `connection_made` first; `pipe_data_received`
 * for each piece of the child's stdout (fd 1) and stderr (fd 2);
 * `pipe_connection_lost` once per pipe; `process_exited` once the child
 * has exited and its return code is known; `connection_lost` last, once
 * the child has exited and every pipe is closed.
 */

G_DEFINE_INTERFACE (EvlSubprocessProtocol, evl_subprocess_protocol, G_TYPE_OBJECT)

static void
evl_subprocess_protocol_default_init (EvlSubprocessProtocolInterface *iface)
{
}

/**
 * evl_subprocess_protocol_connection_made: (virtual connection_made)
 * @self: a protocol
 * @transport: the child's transport
 *
 * Called once the child runs, before anything else.
 */
void
evl_subprocess_protocol_connection_made (EvlSubprocessProtocol  *self,
                                         EvlSubprocessTransport *transport)
{
  EvlSubprocessProtocolInterface *iface;

  g_return_if_fail (EVL_IS_SUBPROCESS_PROTOCOL (self));

  iface = EVL_SUBPROCESS_PROTOCOL_GET_IFACE (self);
  if (iface->connection_made != NULL)
    iface->connection_made (self, transport);
}

/**
 * evl_subprocess_protocol_connection_lost: (virtual connection_lost)
 * @self: a protocol
 * @error: (nullable): %NULL normally
 *
 * Called once, last: the child has exited and its pipes are closed.
 */
void
evl_subprocess_protocol_connection_lost (EvlSubprocessProtocol *self,
                                         const GError          *error)
{
  EvlSubprocessProtocolInterface *iface;

  g_return_if_fail (EVL_IS_SUBPROCESS_PROTOCOL (self));

  iface = EVL_SUBPROCESS_PROTOCOL_GET_IFACE (self);
  if (iface->connection_lost != NULL)
    iface->connection_lost (self, error);
}

/**
 * evl_subprocess_protocol_pause_writing: (virtual pause_writing)
 * @self: a protocol
 *
 * Called when the buffer of the child's stdin goes over its high-water
 * mark.
 */
void
evl_subprocess_protocol_pause_writing (EvlSubprocessProtocol *self)
{
  EvlSubprocessProtocolInterface *iface;

  g_return_if_fail (EVL_IS_SUBPROCESS_PROTOCOL (self));

  iface = EVL_SUBPROCESS_PROTOCOL_GET_IFACE (self);
  if (iface->pause_writing != NULL)
    iface->pause_writing (self);
}

/**
 * evl_subprocess_protocol_resume_writing: (virtual resume_writing)
 * @self: a protocol
 *
 * Called when the buffer of the child's stdin has drained to its
 * low-water mark.
 */
void
evl_subprocess_protocol_resume_writing (EvlSubprocessProtocol *self)
{
  EvlSubprocessProtocolInterface *iface;

  g_return_if_fail (EVL_IS_SUBPROCESS_PROTOCOL (self));

  iface = EVL_SUBPROCESS_PROTOCOL_GET_IFACE (self);
  if (iface->resume_writing != NULL)
    iface->resume_writing (self);
}

/**
 * evl_subprocess_protocol_pipe_data_received: (virtual pipe_data_received)
 * @self: a protocol
 * @fd: 1 for the child's stdout, 2 for its stderr
 * @data: the bytes
 *
 * Called with each piece of the child's output.
 */
void
evl_subprocess_protocol_pipe_data_received (EvlSubprocessProtocol *self,
                                            int                    fd,
                                            GBytes                *data)
{
  EvlSubprocessProtocolInterface *iface;

  g_return_if_fail (EVL_IS_SUBPROCESS_PROTOCOL (self));

  iface = EVL_SUBPROCESS_PROTOCOL_GET_IFACE (self);
  if (iface->pipe_data_received != NULL)
    iface->pipe_data_received (self, fd, data);
}

/**
 * evl_subprocess_protocol_pipe_connection_lost: (virtual pipe_connection_lost)
 * @self: a protocol
 * @fd: 0, 1 or 2
 * @error: (nullable): %NULL on a clean close
 *
 * Called once when the pipe of the child's @fd is closed.
 */
void
evl_subprocess_protocol_pipe_connection_lost (EvlSubprocessProtocol *self,
                                              int                    fd,
                                              const GError          *error)
{
  EvlSubprocessProtocolInterface *iface;

  g_return_if_fail (EVL_IS_SUBPROCESS_PROTOCOL (self));

  iface = EVL_SUBPROCESS_PROTOCOL_GET_IFACE (self);
  if (iface->pipe_connection_lost != NULL)
    iface->pipe_connection_lost (self, fd, error);
}

/**
 * evl_subprocess_protocol_process_exited: (virtual process_exited)
 * @self: a protocol
 *
 * Called once when the child has exited;
 * [method@Evl.SubprocessTransport.get_returncode] tells how.
 */
void
evl_subprocess_protocol_process_exited (EvlSubprocessProtocol *self)
{
  EvlSubprocessProtocolInterface *iface;

  g_return_if_fail (EVL_IS_SUBPROCESS_PROTOCOL (self));

  iface = EVL_SUBPROCESS_PROTOCOL_GET_IFACE (self);
  if (iface->process_exited != NULL)
    iface->process_exited (self);
}
