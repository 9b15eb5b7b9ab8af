/* evl-net-private.h: what the loop's connection functions share
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "evl-stream-private.h"

G_BEGIN_DECLS

/* A new non-blocking, close-on-exec socket; -1 with @error set. */
int evl_net_socket (int      family,
                    int      type,
                    GError **error);

/* evl-server.c */
EvlServer *evl_server_new          (EvlLoop            *loop,
                                    EvlProtocolFactory  factory,
                                    gpointer            factory_data,
                                    GDestroyNotify      factory_notify,
                                    const char         *unix_path);
/* Takes @fd, a listening socket. */
void       evl_server_add_listener (EvlServer          *server,
                                    int                 fd);
void       evl_server_start        (EvlServer          *server);

G_END_DECLS
