/* evl-subprocess-transport.h: a child process and its pipes (asyncio's
 * SubprocessTransport)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(EVL_INSIDE) && !defined(EVL_COMPILATION)
# error "Only <evloop-glib/evloop-glib.h> can be included directly."
#endif

#include "evl-transport.h"
#include "evl-subprocess-protocol.h"

G_BEGIN_DECLS

#define EVL_TYPE_SUBPROCESS_TRANSPORT (evl_subprocess_transport_get_type ())

EVL_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (EvlSubprocessTransport, evl_subprocess_transport, EVL, SUBPROCESS_TRANSPORT, EvlTransport)

EVL_AVAILABLE_IN_ALL
GPid          evl_subprocess_transport_get_pid            (EvlSubprocessTransport  *self);
EVL_AVAILABLE_IN_ALL
EvlTransport *evl_subprocess_transport_get_pipe_transport (EvlSubprocessTransport  *self,
                                                           int                      fd);
EVL_AVAILABLE_IN_ALL
gboolean      evl_subprocess_transport_has_exited         (EvlSubprocessTransport  *self);
EVL_AVAILABLE_IN_ALL
int           evl_subprocess_transport_get_returncode     (EvlSubprocessTransport  *self);
EVL_AVAILABLE_IN_ALL
gboolean      evl_subprocess_transport_send_signal        (EvlSubprocessTransport  *self,
                                                           int                      signum,
                                                           GError                 **error);
EVL_AVAILABLE_IN_ALL
gboolean      evl_subprocess_transport_terminate          (EvlSubprocessTransport  *self,
                                                           GError                 **error);
EVL_AVAILABLE_IN_ALL
gboolean      evl_subprocess_transport_kill               (EvlSubprocessTransport  *self,
                                                           GError                 **error);

G_END_DECLS
