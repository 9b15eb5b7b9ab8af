/* evl-server.h: a listening server (asyncio's Server)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(EVL_INSIDE) && !defined(EVL_COMPILATION)
# error "Only <evloop-glib/evloop-glib.h> can be included directly."
#endif

#include "evl-types.h"

G_BEGIN_DECLS

#define EVL_TYPE_SERVER (evl_server_get_type ())

EVL_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (EvlServer, evl_server, EVL, SERVER, GObject)

EVL_AVAILABLE_IN_ALL
EvlLoop  *evl_server_get_loop          (EvlServer            *server);
EVL_AVAILABLE_IN_ALL
guint16   evl_server_get_port          (EvlServer            *server);
EVL_AVAILABLE_IN_ALL
GList    *evl_server_get_addresses     (EvlServer            *server);
EVL_AVAILABLE_IN_ALL
gboolean  evl_server_is_serving        (EvlServer            *server);
EVL_AVAILABLE_IN_ALL
guint     evl_server_get_n_connections (EvlServer            *server);
EVL_AVAILABLE_IN_ALL
void      evl_server_close             (EvlServer            *server);
EVL_AVAILABLE_IN_ALL
void      evl_server_wait_closed_async (EvlServer            *server,
                                        GCancellable         *cancellable,
                                        GAsyncReadyCallback   callback,
                                        gpointer              user_data);
EVL_AVAILABLE_IN_ALL
gboolean  evl_server_wait_closed_finish (EvlServer           *server,
                                         GAsyncResult        *result,
                                         GError             **error);

G_END_DECLS
