/* evl-net-private.h: what the loop's connection functions share
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "evl-operation-private.h"
#include "evl-stream-private.h"

G_BEGIN_DECLS

/* A protocol factory with its data, as the loop's functions take it. */
typedef struct
{
  EvlProtocolFactory factory;
  gpointer           data;
  GDestroyNotify     notify;
} EvlNetFactory;

/* Frees the factory's data (once) and forgets the factory. */
void evl_net_factory_clear (EvlNetFactory *f);

/* A new non-blocking, close-on-exec socket; -1 with @error set. */
int evl_net_socket (int      family,
                    int      type,
                    GError **error);

/* FALSE with @error set when an operation cannot start: @loop is closed
 * or @cancellable cancelled. */
gboolean evl_net_can_start (EvlLoop       *loop,
                            GCancellable  *cancellable,
                            GError       **error);

/* Finishes evl_loop_resolve_async() for create_connection and
 * create_server: the addresses (GSocketAddress, transfer full), or NULL
 * with @error set, also when @cancellable was cancelled meanwhile and, with
 * EVL_LOOP_ERROR_CLOSED, when the loop closed while it ran. NULL without
 * an error: no address. */
GList   *evl_net_resolve_finish (EvlLoop       *loop,
                                 GAsyncResult  *result,
                                 GCancellable  *cancellable,
                                 GError       **error);

/* Makes the protocol and the transport of a connected @fd (taken), calls
 * connection_made and completes @op with them. */
void          evl_net_start_stream      (EvlLoop        *loop,
                                         int             fd,
                                         EvlStreamFlags  flags,
                                         EvlNetFactory  *factory,
                                         EvlOperation   *op);

/* Finishes an operation completed by evl_net_start_stream(). */
EvlTransport *evl_net_connection_finish (EvlLoop        *loop,
                                         GAsyncResult   *result,
                                         gpointer        tag,
                                         EvlProtocol   **protocol,
                                         GError        **error);

/* evl-server.c */
/* Takes @factory (which is left empty). */
EvlServer *evl_server_new          (EvlLoop            *loop,
                                    EvlNetFactory      *factory,
                                    const char         *unix_path);
/* Takes @fd, a listening socket. */
void       evl_server_add_listener (EvlServer          *server,
                                    int                 fd);
void       evl_server_start        (EvlServer          *server);

G_END_DECLS
