/* evl-loop-net.h: connections, servers, pipes and child processes on an
 * EvlLoop (asyncio's create_connection, create_server, connect_*_pipe,
 * subprocess_exec and subprocess_shell)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(EVL_INSIDE) && !defined(EVL_COMPILATION)
# error "Only <evloop-glib/evloop-glib.h> can be included directly."
#endif

#include "evl-loop.h"
#include "evl-protocol.h"
#include "evl-transport.h"
#include "evl-server.h"
#include "evl-subprocess-protocol.h"
#include "evl-subprocess-transport.h"

G_BEGIN_DECLS

/**
 * EvlServerFlags:
 * @EVL_SERVER_FLAGS_NONE: none of the options
 * @EVL_SERVER_FLAGS_REUSE_ADDRESS: set `SO_REUSEADDR` on the listening
 *   sockets, so a restarted server can bind while old connections linger
 *   in TIME_WAIT (asyncio's default on Unix)
 * @EVL_SERVER_FLAGS_REUSE_PORT: set `SO_REUSEPORT`, so several servers
 *   can share the port
 * @EVL_SERVER_FLAGS_DEFAULT: what [method@Evl.Loop.create_server_async]
 *   uses: %EVL_SERVER_FLAGS_REUSE_ADDRESS
 *
 * Options of [method@Evl.Loop.create_server_full_async].
 */
typedef enum /*< flags >*/
{
  EVL_SERVER_FLAGS_NONE          = 0,
  EVL_SERVER_FLAGS_REUSE_ADDRESS = 1 << 0,
  EVL_SERVER_FLAGS_REUSE_PORT    = 1 << 1,
  EVL_SERVER_FLAGS_DEFAULT       = EVL_SERVER_FLAGS_REUSE_ADDRESS,
} EvlServerFlags;

/**
 * EvlSubprocessStdio:
 * @EVL_SUBPROCESS_STDIO_PIPE: connect the stream to a pipe of ours,
 *   served by a pipe transport (asyncio's `subprocess.PIPE`)
 * @EVL_SUBPROCESS_STDIO_DEVNULL: connect it to `/dev/null`
 * @EVL_SUBPROCESS_STDIO_INHERIT: leave the child the parent's stream
 *   (asyncio's `None`)
 *
 * What a child's stdin, stdout or stderr is connected to.
 */
typedef enum
{
  EVL_SUBPROCESS_STDIO_PIPE,
  EVL_SUBPROCESS_STDIO_DEVNULL,
  EVL_SUBPROCESS_STDIO_INHERIT,
} EvlSubprocessStdio;

/**
 * EVL_SERVER_DEFAULT_BACKLOG:
 *
 * The listen backlog of [method@Evl.Loop.create_server_async], asyncio's.
 */
#define EVL_SERVER_DEFAULT_BACKLOG 100

EVL_AVAILABLE_IN_ALL
void          evl_loop_create_connection_async       (EvlLoop             *loop,
                                                      EvlProtocolFactory   factory,
                                                      gpointer             factory_data,
                                                      GDestroyNotify       factory_notify,
                                                      const char          *host,
                                                      guint16              port,
                                                      GCancellable        *cancellable,
                                                      GAsyncReadyCallback  callback,
                                                      gpointer             user_data);
EVL_AVAILABLE_IN_ALL
EvlTransport *evl_loop_create_connection_finish      (EvlLoop             *loop,
                                                      GAsyncResult        *result,
                                                      EvlProtocol        **protocol,
                                                      GError             **error);
EVL_AVAILABLE_IN_ALL
void          evl_loop_create_connection_full_async  (EvlLoop             *loop,
                                                      EvlProtocolFactory   factory,
                                                      gpointer             factory_data,
                                                      GDestroyNotify       factory_notify,
                                                      const char          *host,
                                                      guint16              port,
                                                      GSocketAddress      *local_address,
                                                      GCancellable        *cancellable,
                                                      GAsyncReadyCallback  callback,
                                                      gpointer             user_data);
EVL_AVAILABLE_IN_ALL
EvlTransport *evl_loop_create_connection_full_finish (EvlLoop             *loop,
                                                      GAsyncResult        *result,
                                                      EvlProtocol        **protocol,
                                                      GError             **error);
EVL_AVAILABLE_IN_ALL
void          evl_loop_create_connection_happy_eyeballs_async  (EvlLoop             *loop,
                                                                EvlProtocolFactory   factory,
                                                                gpointer             factory_data,
                                                                GDestroyNotify       factory_notify,
                                                                const char          *host,
                                                                guint16              port,
                                                                GSocketAddress      *local_address,
                                                                double               delay,
                                                                guint                interleave,
                                                                GCancellable        *cancellable,
                                                                GAsyncReadyCallback  callback,
                                                                gpointer             user_data);
EVL_AVAILABLE_IN_ALL
EvlTransport *evl_loop_create_connection_happy_eyeballs_finish (EvlLoop             *loop,
                                                                GAsyncResult        *result,
                                                                EvlProtocol        **protocol,
                                                                GError             **error);

EVL_AVAILABLE_IN_ALL
void          evl_loop_create_server_async           (EvlLoop             *loop,
                                                      EvlProtocolFactory   factory,
                                                      gpointer             factory_data,
                                                      GDestroyNotify       factory_notify,
                                                      const char          *host,
                                                      guint16              port,
                                                      GCancellable        *cancellable,
                                                      GAsyncReadyCallback  callback,
                                                      gpointer             user_data);
EVL_AVAILABLE_IN_ALL
EvlServer    *evl_loop_create_server_finish          (EvlLoop             *loop,
                                                      GAsyncResult        *result,
                                                      GError             **error);
EVL_AVAILABLE_IN_ALL
void          evl_loop_create_server_full_async      (EvlLoop             *loop,
                                                      EvlProtocolFactory   factory,
                                                      gpointer             factory_data,
                                                      GDestroyNotify       factory_notify,
                                                      const char          *host,
                                                      guint16              port,
                                                      int                  backlog,
                                                      EvlServerFlags       flags,
                                                      GCancellable        *cancellable,
                                                      GAsyncReadyCallback  callback,
                                                      gpointer             user_data);
EVL_AVAILABLE_IN_ALL
EvlServer    *evl_loop_create_server_full_finish     (EvlLoop             *loop,
                                                      GAsyncResult        *result,
                                                      GError             **error);

EVL_AVAILABLE_IN_ALL
void          evl_loop_create_unix_connection_async  (EvlLoop             *loop,
                                                      EvlProtocolFactory   factory,
                                                      gpointer             factory_data,
                                                      GDestroyNotify       factory_notify,
                                                      const char          *path,
                                                      GCancellable        *cancellable,
                                                      GAsyncReadyCallback  callback,
                                                      gpointer             user_data);
EVL_AVAILABLE_IN_ALL
EvlTransport *evl_loop_create_unix_connection_finish (EvlLoop             *loop,
                                                      GAsyncResult        *result,
                                                      EvlProtocol        **protocol,
                                                      GError             **error);
EVL_AVAILABLE_IN_ALL
void          evl_loop_create_unix_server_async      (EvlLoop             *loop,
                                                      EvlProtocolFactory   factory,
                                                      gpointer             factory_data,
                                                      GDestroyNotify       factory_notify,
                                                      const char          *path,
                                                      GCancellable        *cancellable,
                                                      GAsyncReadyCallback  callback,
                                                      gpointer             user_data);
EVL_AVAILABLE_IN_ALL
EvlServer    *evl_loop_create_unix_server_finish     (EvlLoop             *loop,
                                                      GAsyncResult        *result,
                                                      GError             **error);

EVL_AVAILABLE_IN_ALL
void          evl_loop_connect_read_pipe_async       (EvlLoop             *loop,
                                                      EvlProtocolFactory   factory,
                                                      gpointer             factory_data,
                                                      GDestroyNotify       factory_notify,
                                                      int                  fd,
                                                      GCancellable        *cancellable,
                                                      GAsyncReadyCallback  callback,
                                                      gpointer             user_data);
EVL_AVAILABLE_IN_ALL
EvlTransport *evl_loop_connect_read_pipe_finish      (EvlLoop             *loop,
                                                      GAsyncResult        *result,
                                                      EvlProtocol        **protocol,
                                                      GError             **error);
EVL_AVAILABLE_IN_ALL
void          evl_loop_connect_write_pipe_async      (EvlLoop             *loop,
                                                      EvlProtocolFactory   factory,
                                                      gpointer             factory_data,
                                                      GDestroyNotify       factory_notify,
                                                      int                  fd,
                                                      GCancellable        *cancellable,
                                                      GAsyncReadyCallback  callback,
                                                      gpointer             user_data);
EVL_AVAILABLE_IN_ALL
EvlTransport *evl_loop_connect_write_pipe_finish     (EvlLoop             *loop,
                                                      GAsyncResult        *result,
                                                      EvlProtocol        **protocol,
                                                      GError             **error);

EVL_AVAILABLE_IN_ALL
void          evl_loop_subprocess_exec_async         (EvlLoop                      *loop,
                                                      EvlSubprocessProtocolFactory  factory,
                                                      gpointer                      factory_data,
                                                      GDestroyNotify                factory_notify,
                                                      const char * const           *argv,
                                                      EvlSubprocessStdio            stdin_mode,
                                                      EvlSubprocessStdio            stdout_mode,
                                                      EvlSubprocessStdio            stderr_mode,
                                                      GCancellable                 *cancellable,
                                                      GAsyncReadyCallback           callback,
                                                      gpointer                      user_data);
EVL_AVAILABLE_IN_ALL
EvlSubprocessTransport *evl_loop_subprocess_exec_finish (EvlLoop                *loop,
                                                         GAsyncResult           *result,
                                                         EvlSubprocessProtocol **protocol,
                                                         GError                **error);
EVL_AVAILABLE_IN_ALL
void          evl_loop_subprocess_shell_async        (EvlLoop                      *loop,
                                                      EvlSubprocessProtocolFactory  factory,
                                                      gpointer                      factory_data,
                                                      GDestroyNotify                factory_notify,
                                                      const char                   *command,
                                                      EvlSubprocessStdio            stdin_mode,
                                                      EvlSubprocessStdio            stdout_mode,
                                                      EvlSubprocessStdio            stderr_mode,
                                                      GCancellable                 *cancellable,
                                                      GAsyncReadyCallback           callback,
                                                      gpointer                      user_data);
EVL_AVAILABLE_IN_ALL
EvlSubprocessTransport *evl_loop_subprocess_shell_finish (EvlLoop                *loop,
                                                          GAsyncResult           *result,
                                                          EvlSubprocessProtocol **protocol,
                                                          GError                **error);

G_END_DECLS
