/* evl-loop-resolve.h: name resolution (getaddrinfo, getnameinfo)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(EVL_INSIDE) && !defined(EVL_COMPILATION)
# error "Only <evloop-glib/evloop-glib.h> can be included directly."
#endif

#include "evl-types.h"

G_BEGIN_DECLS

EVL_AVAILABLE_IN_ALL
void       evl_loop_getaddrinfo_async  (EvlLoop              *loop,
                                        const char           *host,
                                        guint16               port,
                                        GCancellable         *cancellable,
                                        GAsyncReadyCallback   callback,
                                        gpointer              user_data);
EVL_AVAILABLE_IN_ALL
GList     *evl_loop_getaddrinfo_finish (EvlLoop              *loop,
                                        GAsyncResult         *result,
                                        GError              **error);
EVL_AVAILABLE_IN_ALL
void       evl_loop_getnameinfo_async  (EvlLoop              *loop,
                                        GSocketAddress       *address,
                                        GCancellable         *cancellable,
                                        GAsyncReadyCallback   callback,
                                        gpointer              user_data);
EVL_AVAILABLE_IN_ALL
char      *evl_loop_getnameinfo_finish (EvlLoop              *loop,
                                        GAsyncResult         *result,
                                        guint16              *port,
                                        GError              **error);

G_END_DECLS
