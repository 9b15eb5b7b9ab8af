/* evl-subprocess-protocol.h: the protocol of a child process (asyncio's
 * SubprocessProtocol)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(EVL_INSIDE) && !defined(EVL_COMPILATION)
# error "Only <evloop-glib/evloop-glib.h> can be included directly."
#endif

#include "evl-types.h"

G_BEGIN_DECLS

typedef struct _EvlSubprocessTransport EvlSubprocessTransport;

#define EVL_TYPE_SUBPROCESS_PROTOCOL (evl_subprocess_protocol_get_type ())

EVL_AVAILABLE_IN_ALL
G_DECLARE_INTERFACE (EvlSubprocessProtocol, evl_subprocess_protocol, EVL, SUBPROCESS_PROTOCOL, GObject)

/**
 * EvlSubprocessProtocolInterface:
 * @g_iface: the parent interface
 * @connection_made: the child runs; @transport controls it
 * @connection_lost: the child has exited and all its pipes are closed;
 *   @error is %NULL unless something failed
 * @pause_writing: the child's stdin buffer went over its high-water mark
 * @resume_writing: the child's stdin buffer drained to its low-water mark
 * @pipe_data_received: the child wrote @data to its stdout (@fd 1) or
 *   stderr (@fd 2)
 * @pipe_connection_lost: the pipe of the child's @fd (0, 1 or 2) closed;
 *   @error is %NULL on a clean close
 * @process_exited: the child exited; its return code is known
 *
 * The virtual functions of [iface@Evl.SubprocessProtocol]. Every member is
 * optional.
 */
struct _EvlSubprocessProtocolInterface
{
  GTypeInterface g_iface;

  void (*connection_made)      (EvlSubprocessProtocol  *self,
                                EvlSubprocessTransport *transport);
  void (*connection_lost)      (EvlSubprocessProtocol  *self,
                                const GError           *error);
  void (*pause_writing)        (EvlSubprocessProtocol  *self);
  void (*resume_writing)       (EvlSubprocessProtocol  *self);
  void (*pipe_data_received)   (EvlSubprocessProtocol  *self,
                                int                     fd,
                                GBytes                 *data);
  void (*pipe_connection_lost) (EvlSubprocessProtocol  *self,
                                int                     fd,
                                const GError           *error);
  void (*process_exited)       (EvlSubprocessProtocol  *self);
};

/**
 * EvlSubprocessProtocolFactory:
 * @user_data: (closure): the data given with the factory
 *
 * Creates the protocol of a new child process, as the `protocol_factory`
 * argument of asyncio's `subprocess_exec()`.
 *
 * Returns: (transfer full): a new protocol
 */
typedef EvlSubprocessProtocol *(*EvlSubprocessProtocolFactory) (gpointer user_data);

EVL_AVAILABLE_IN_ALL
void evl_subprocess_protocol_connection_made      (EvlSubprocessProtocol  *self,
                                                   EvlSubprocessTransport *transport);
EVL_AVAILABLE_IN_ALL
void evl_subprocess_protocol_connection_lost      (EvlSubprocessProtocol  *self,
                                                   const GError           *error);
EVL_AVAILABLE_IN_ALL
void evl_subprocess_protocol_pause_writing        (EvlSubprocessProtocol  *self);
EVL_AVAILABLE_IN_ALL
void evl_subprocess_protocol_resume_writing       (EvlSubprocessProtocol  *self);
EVL_AVAILABLE_IN_ALL
void evl_subprocess_protocol_pipe_data_received   (EvlSubprocessProtocol  *self,
                                                   int                     fd,
                                                   GBytes                 *data);
EVL_AVAILABLE_IN_ALL
void evl_subprocess_protocol_pipe_connection_lost (EvlSubprocessProtocol  *self,
                                                   int                     fd,
                                                   const GError           *error);
EVL_AVAILABLE_IN_ALL
void evl_subprocess_protocol_process_exited       (EvlSubprocessProtocol  *self);

G_END_DECLS
