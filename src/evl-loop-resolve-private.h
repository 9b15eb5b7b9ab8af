/* evl-loop-resolve-private.h: host:port to socket addresses, for the
 * library's own connections and servers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <evloop-glib/evloop-glib.h>

G_BEGIN_DECLS

/* For create_connection, create_server and the like: resolves @host and
 * @port into the socket addresses to try, in order, as asyncio does before
 * it connects or binds. The lookup runs on the executor with GIO's
 * synchronous GResolver calls, so it completes from the loop's dispatch
 * whether or not any GMainContext is iterated; a numeric @host (or a NULL
 * one) completes without a thread. Errors: G_RESOLVER_ERROR,
 * G_IO_ERROR_CANCELLED, EVL_LOOP_ERROR_CLOSED.
 *
 *   evl_loop_resolve_async (loop, host, port, EVL_RESOLVE_INTERLEAVE,
 *                           cancellable, resolved_cb, data);
 *   ...
 *   GList *addresses = evl_loop_resolve_finish (loop, result, &error);
 *   ... g_list_free_full (addresses, g_object_unref);
 */
typedef enum
{
  EVL_RESOLVE_NONE       = 0,
  /* A NULL or empty @host means every local interface: the wildcard
   * addresses (0.0.0.0, then ::), for a server to bind. Without it, a NULL
   * or empty @host means the loopback addresses (127.0.0.1, then ::1). */
  EVL_RESOLVE_PASSIVE    = 1 << 0,
  /* Alternate the address families, the first family first (RFC 8305,
   * asyncio's _interleave_addrinfos), for a client that tries each. */
  EVL_RESOLVE_INTERLEAVE = 1 << 1,
} EvlResolveFlags;

void   evl_loop_resolve_async  (EvlLoop              *loop,
                                const char           *host,
                                guint16               port,
                                EvlResolveFlags       flags,
                                GCancellable         *cancellable,
                                GAsyncReadyCallback   callback,
                                gpointer              user_data);

/* Returns: (element-type GSocketAddress) (transfer full): GInetSocketAddresses,
 * never an empty list on success; NULL with @error set. */
GList *evl_loop_resolve_finish (EvlLoop              *loop,
                                GAsyncResult         *result,
                                GError              **error);

/* Reorders @addresses (GSocketAddress, taken) as asyncio's
 * _interleave_addrinfos (create_connection's interleave): the first
 * @first_family_count addresses of the first family, then the families in
 * turn. Returns: (transfer full) the same addresses, reordered. */
GList *evl_resolve_interleave  (GList                *addresses,
                                guint                 first_family_count);

G_END_DECLS
