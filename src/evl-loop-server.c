/* evl-loop-server.c: create_server and create_unix_server
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "evl-config.h"

#include <errno.h>
#include <string.h>

#include <gio/gunixsocketaddress.h>

#include "evl-loop-private.h"
#include "evl-loop-resolve-private.h"
#include "evl-net-private.h"
#include "evl-operation-private.h"
#include "evl-os-sock-private.h"
#include "evl-unix-socket-private.h"

/* asyncio's base_events.create_server and unix_events.create_unix_server:
 * one listening socket per address of the host (every interface, IPv4 and
 * IPv6, for no host), SO_REUSEADDR (SO_EXCLUSIVEADDRUSE on Windows, where
 * SO_REUSEADDR lets other sockets take the port: evl-os-sock-private.h),
 * IPV6_V6ONLY on IPv6 sockets so both families can share a port. Port 0
 * gets one free port, the same on every address. */

typedef struct
{
  EvlLoop           *loop;
  EvlOperation      *op;
  EvlNetFactory      factory;
  char              *host;
  guint16            port;
  int                backlog;
  EvlServerFlags     flags;
  GCancellable      *cancellable;
} ServerStart;

static void
server_start_free (ServerStart *s,
                   GError      *error)
{
  if (error != NULL)
    evl_operation_return_error (s->op, error);
  evl_net_factory_clear (&s->factory);
  g_clear_object (&s->cancellable);
  g_free (s->host);
  g_clear_object (&s->op);
  g_free (s);
}

static void
succeed (ServerStart *s,
         GArray      *fds,
         const char  *unix_path)
{
  EvlServer *server = evl_server_new (s->loop, &s->factory, unix_path);
  guint i;

  for (i = 0; i < fds->len; i++)
    evl_server_add_listener (server, g_array_index (fds, int, i));
  evl_server_start (server);
  evl_operation_return_pointer (s->op, server, g_object_unref);
  server_start_free (s, NULL);
}

static int
listen_on (GInetAddress    *address,
           guint16          port,
           int              backlog,
           EvlServerFlags   flags,
           GError         **error)
{
  GSocketAddress *sa = g_inet_socket_address_new (address, port);
  GSocketFamily family = g_inet_address_get_family (address);
  struct sockaddr_storage ss;
  gssize size = g_socket_address_get_native_size (sa);
  int fd, r;
  char *where;

  if (!g_socket_address_to_native (sa, &ss, sizeof ss, error))
    {
      g_object_unref (sa);
      return -1;
    }
  fd = evl_net_socket (family, SOCK_STREAM, error);
  if (fd < 0)
    {
      g_object_unref (sa);
      return -1;
    }
  evl_os_sock_set_listen_options (fd, (flags & EVL_SERVER_FLAGS_REUSE_ADDRESS) != 0,
                                  (flags & EVL_SERVER_FLAGS_REUSE_PORT) != 0);
  if (family == G_SOCKET_FAMILY_IPV6)
    evl_os_sock_set_option (fd, IPPROTO_IPV6, IPV6_V6ONLY, 1);
  r = evl_os_sock_bind (fd, (struct sockaddr *) &ss, size);
  if (r == 0)
    r = evl_os_sock_listen (fd, backlog);
  if (r == 0)
    {
      g_object_unref (sa);
      return fd;
    }
  evl_os_sock_close (fd);
  where = g_socket_connectable_to_string (G_SOCKET_CONNECTABLE (sa));
  g_set_error (error, G_IO_ERROR, g_io_error_from_errno (-r),
               _("Cannot listen on %s: %s; pick another address or port"),
               where, evl_os_strerror (-r));
  g_free (where);
  g_object_unref (sa);
  return -1;
}

static void
close_fds (GArray *fds)
{
  guint i;

  for (i = 0; i < fds->len; i++)
    evl_os_sock_close (g_array_index (fds, int, i));
  g_array_set_size (fds, 0);
}

/* Listens on every address; @optional_v6: skip IPv6 addresses the machine
 * does not have (the wildcard host). */
static gboolean
listen_all (ServerStart  *s,
            GList        *addresses,
            gboolean      optional_v6,
            GArray       *fds,
            GError      **error)
{
  guint attempt;

  for (attempt = 0; attempt < 8; attempt++)
    {
      guint16 port = s->port;
      GError *local_error = NULL;
      GList *l;

      for (l = addresses; l != NULL; l = l->next)
        {
          GInetAddress *address = l->data;
          int fd = listen_on (address, port, s->backlog, s->flags, &local_error);

          if (fd >= 0)
            {
              g_array_append_val (fds, fd);
              if (port == 0)
                {
                  struct sockaddr_storage ss;

                  /* Every address gets the port the first one got. */
                  if (evl_os_sock_getsockname (fd, &ss) > 0)
                    port = ntohs (ss.ss_family == AF_INET6
                                  ? ((struct sockaddr_in6 *) &ss)->sin6_port
                                  : ((struct sockaddr_in *) &ss)->sin_port);
                }
              continue;
            }
          /* No IPv6 on this machine (EAFNOSUPPORT, EADDRNOTAVAIL): serve
           * IPv4 only. */
          if (optional_v6 && g_inet_address_get_family (address) == G_SOCKET_FAMILY_IPV6 &&
              !g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE))
            {
              g_clear_error (&local_error);
              continue;
            }
          break;
        }
      if (local_error == NULL && fds->len > 0)
        return TRUE;
      close_fds (fds);
      /* The port picked for the first address was taken on another one:
       * pick again. */
      if (s->port == 0 && g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE) &&
          attempt < 7)
        {
          g_clear_error (&local_error);
          continue;
        }
      if (local_error == NULL)
        local_error = g_error_new (G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                                   _("“%s” has no address to listen on; check the host name"),
                                   s->host != NULL ? s->host : "*");
      g_propagate_error (error, local_error);
      return FALSE;
    }
  g_assert_not_reached ();
}

static void
server_resolved (GObject      *source,
                 GAsyncResult *result,
                 gpointer      data)
{
  ServerStart *s = data;
  GError *error = NULL;
  GList *found = evl_net_resolve_finish (s->loop, result, s->cancellable, &error);
  GList *addresses = NULL, *l;
  GArray *fds;

  if (error != NULL)
    {
      server_start_free (s, error);
      return;
    }
  for (l = found; l != NULL; l = l->next)
    addresses = g_list_prepend (addresses,
                                g_object_ref (g_inet_socket_address_get_address (l->data)));
  addresses = g_list_reverse (addresses);
  g_list_free_full (found, g_object_unref);
  fds = g_array_new (FALSE, FALSE, sizeof (int));
  if (listen_all (s, addresses, s->host == NULL, fds, &error))
    succeed (s, fds, NULL);
  else
    server_start_free (s, error);
  g_array_unref (fds);
  g_list_free_full (addresses, g_object_unref);
}

static ServerStart *
server_start_new (EvlLoop             *loop,
                  gpointer             tag,
                  EvlProtocolFactory   factory,
                  gpointer             factory_data,
                  GDestroyNotify       factory_notify,
                  GCancellable        *cancellable,
                  GAsyncReadyCallback  callback,
                  gpointer             user_data)
{
  ServerStart *s = g_new0 (ServerStart, 1);
  GError *error = NULL;

  s->loop = loop;
  s->op = evl_operation_new (loop, tag, callback, user_data);
  s->factory = (EvlNetFactory) { factory, factory_data, factory_notify };
  s->cancellable = cancellable != NULL ? g_object_ref (cancellable) : NULL;
  s->backlog = EVL_SERVER_DEFAULT_BACKLOG;
  s->flags = EVL_SERVER_FLAGS_DEFAULT;
  if (!evl_net_can_start (loop, cancellable, &error))
    {
      server_start_free (s, error);
      return NULL;
    }
  return s;
}

static void
create_server (EvlLoop             *loop,
               gpointer             tag,
               EvlProtocolFactory   factory,
               gpointer             factory_data,
               GDestroyNotify       factory_notify,
               const char          *host,
               guint16              port,
               int                  backlog,
               EvlServerFlags       flags,
               GCancellable        *cancellable,
               GAsyncReadyCallback  callback,
               gpointer             user_data)
{
  ServerStart *s = server_start_new (loop, tag, factory, factory_data, factory_notify,
                                     cancellable, callback, user_data);

  if (s == NULL)
    return;
  if ((flags & EVL_SERVER_FLAGS_REUSE_PORT) && !EVL_OS_SOCK_HAS_REUSE_PORT)
    {
      server_start_free (s, g_error_new_literal (EVL_LOOP_ERROR, EVL_LOOP_ERROR_NOT_SUPPORTED,
                                                 _("This platform has no SO_REUSEPORT: servers cannot "
                                                   "share a port; do not pass EVL_SERVER_FLAGS_REUSE_PORT")));
      return;
    }
  s->host = g_strdup (host);
  s->port = port;
  s->backlog = backlog > 0 ? backlog : EVL_SERVER_DEFAULT_BACKLOG;
  s->flags = flags;
  /* NULL or "": every interface (the wildcard addresses), IPv6 optional. */
  if (host == NULL || *host == '\0')
    g_clear_pointer (&s->host, g_free);
  evl_loop_resolve_async (loop, s->host, port, EVL_RESOLVE_PASSIVE, cancellable,
                          server_resolved, s);
}

static EvlServer *
server_finish (EvlLoop       *loop,
               GAsyncResult  *result,
               gpointer       tag,
               GError       **error)
{
  g_return_val_if_fail (EVL_IS_LOOP (loop), NULL);
  g_return_val_if_fail (evl_operation_is_valid (result, loop, tag), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return evl_operation_propagate_pointer (EVL_OPERATION (result), error);
}

/**
 * evl_loop_create_server_async:
 * @loop: a loop
 * @factory: (scope notified) (closure factory_data) (destroy factory_notify):
 *   makes the protocol of each accepted connection
 * @factory_data: data for @factory
 * @factory_notify: (nullable): frees @factory_data once the server is
 *   closed
 * @host: (nullable): a host name or numeric address to listen on (every
 *   address it resolves to), or %NULL for every interface, IPv4 and IPv6
 * @port: the TCP port; 0 picks a free one (see [method@Evl.Server.get_port])
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async) (closure user_data): called when the server
 *   listens
 * @user_data: data for @callback
 *
 * Starts a TCP server, as asyncio's `loop.create_server()`: one listening
 * socket per address, `SO_REUSEADDR`, a backlog of
 * %EVL_SERVER_DEFAULT_BACKLOG. It serves at once: each accepted connection
 * gets a protocol from @factory and a transport. Get the server with
 * [method@Evl.Loop.create_server_finish].
 *
 * On Windows, where `SO_REUSEADDR` would let other sockets bind the same
 * port and take its connections, the listening sockets get
 * `SO_EXCLUSIVEADDRUSE` instead (a port with connections in TIME_WAIT can
 * be bound there without an option).
 */
void
evl_loop_create_server_async (EvlLoop             *loop,
                              EvlProtocolFactory   factory,
                              gpointer             factory_data,
                              GDestroyNotify       factory_notify,
                              const char          *host,
                              guint16              port,
                              GCancellable        *cancellable,
                              GAsyncReadyCallback  callback,
                              gpointer             user_data)
{
  g_return_if_fail (EVL_IS_LOOP (loop));
  g_return_if_fail (factory != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  create_server (loop, evl_loop_create_server_async, factory, factory_data, factory_notify,
                 host, port, EVL_SERVER_DEFAULT_BACKLOG, EVL_SERVER_FLAGS_DEFAULT,
                 cancellable, callback, user_data);
}

/**
 * evl_loop_create_server_finish:
 * @loop: a loop
 * @result: the #GAsyncResult passed to the callback
 * @error: return location for a #GError
 *
 * Finishes [method@Evl.Loop.create_server_async]. A port in use fails
 * with %G_IO_ERROR_ADDRESS_IN_USE.
 *
 * Returns: (transfer full): the server, or %NULL with @error set
 */
EvlServer *
evl_loop_create_server_finish (EvlLoop       *loop,
                               GAsyncResult  *result,
                               GError       **error)
{
  return server_finish (loop, result, evl_loop_create_server_async, error);
}

/**
 * evl_loop_create_server_full_async:
 * @loop: a loop
 * @factory: (scope notified) (closure factory_data) (destroy factory_notify):
 *   makes the protocol of each accepted connection
 * @factory_data: data for @factory
 * @factory_notify: (nullable): frees @factory_data once the server is
 *   closed
 * @host: (nullable): a host name or numeric address, or %NULL for every
 *   interface
 * @port: the TCP port; 0 picks a free one
 * @backlog: the listen backlog; 0 or less for the default
 *   (%EVL_SERVER_DEFAULT_BACKLOG)
 * @flags: socket options
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async) (closure user_data): called when the server
 *   listens
 * @user_data: data for @callback
 *
 * [method@Evl.Loop.create_server_async] with more options. Finish with
 * [method@Evl.Loop.create_server_full_finish].
 *
 * Windows has no `SO_REUSEPORT`: %EVL_SERVER_FLAGS_REUSE_PORT fails there
 * with %EVL_LOOP_ERROR_NOT_SUPPORTED; %EVL_SERVER_FLAGS_REUSE_ADDRESS
 * makes no difference there (see [method@Evl.Loop.create_server_async]).
 */
void
evl_loop_create_server_full_async (EvlLoop             *loop,
                                   EvlProtocolFactory   factory,
                                   gpointer             factory_data,
                                   GDestroyNotify       factory_notify,
                                   const char          *host,
                                   guint16              port,
                                   int                  backlog,
                                   EvlServerFlags       flags,
                                   GCancellable        *cancellable,
                                   GAsyncReadyCallback  callback,
                                   gpointer             user_data)
{
  g_return_if_fail (EVL_IS_LOOP (loop));
  g_return_if_fail (factory != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  create_server (loop, evl_loop_create_server_full_async, factory, factory_data, factory_notify,
                 host, port, backlog, flags, cancellable, callback, user_data);
}

/**
 * evl_loop_create_server_full_finish:
 * @loop: a loop
 * @result: the #GAsyncResult passed to the callback
 * @error: return location for a #GError
 *
 * Finishes [method@Evl.Loop.create_server_full_async].
 *
 * Returns: (transfer full): the server, or %NULL with @error set
 */
EvlServer *
evl_loop_create_server_full_finish (EvlLoop       *loop,
                                    GAsyncResult  *result,
                                    GError       **error)
{
  return server_finish (loop, result, evl_loop_create_server_full_async, error);
}

/**
 * evl_loop_create_unix_server_async:
 * @loop: a loop
 * @factory: (scope notified) (closure factory_data) (destroy factory_notify):
 *   makes the protocol of each accepted connection
 * @factory_data: data for @factory
 * @factory_notify: (nullable): frees @factory_data once the server is
 *   closed
 * @path: (type filename): where to create the Unix-domain socket
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async) (closure user_data): called when the server
 *   listens
 * @user_data: data for @callback
 *
 * Starts a Unix-domain stream server at @path, as asyncio's
 * `loop.create_unix_server()`. A socket file left at @path by a server
 * that is gone is replaced; one with a live server fails with
 * %G_IO_ERROR_ADDRESS_IN_USE. Nothing else found at @path (a regular
 * file, a symbolic link) is ever removed: the call fails with
 * %G_IO_ERROR_ADDRESS_IN_USE. The socket file gets the permissions
 * `bind()` gives it, 0777 less the process's umask: set a umask of 077,
 * or use a private directory, for a server only its user may reach.
 * [method@Evl.Server.close] removes the socket file. Finish with
 * [method@Evl.Loop.create_unix_server_finish]. Not available on Windows:
 * it fails with %EVL_LOOP_ERROR_NOT_SUPPORTED there.
 */
void
evl_loop_create_unix_server_async (EvlLoop             *loop,
                                   EvlProtocolFactory   factory,
                                   gpointer             factory_data,
                                   GDestroyNotify       factory_notify,
                                   const char          *path,
                                   GCancellable        *cancellable,
                                   GAsyncReadyCallback  callback,
                                   gpointer             user_data)
{
  ServerStart *s;
  GSocketAddress *address;
  struct sockaddr_storage ss;
  GError *error = NULL;
  GArray *fds;
  int fd;

  g_return_if_fail (EVL_IS_LOOP (loop));
  g_return_if_fail (factory != NULL);
  g_return_if_fail (path != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  s = server_start_new (loop, evl_loop_create_unix_server_async, factory, factory_data,
                        factory_notify, cancellable, callback, user_data);
  if (s == NULL)
    return;
  if (!evl_unix_socket_supported (&error) || !evl_unix_socket_clear_stale (path, &error))
    {
      server_start_free (s, error);
      return;
    }
  address = g_unix_socket_address_new (path);
  if (!g_socket_address_to_native (address, &ss, sizeof ss, &error))
    {
      g_object_unref (address);
      server_start_free (s, error);
      return;
    }
  fd = evl_net_socket (G_SOCKET_FAMILY_UNIX, SOCK_STREAM, &error);
  if (fd >= 0)
    {
      int r = evl_os_sock_bind (fd, (struct sockaddr *) &ss,
                                g_socket_address_get_native_size (address));

      if (r == 0)
        r = evl_os_sock_listen (fd, s->backlog);
      if (r < 0)
        {
          evl_os_sock_close (fd);
          fd = -1;
          g_set_error (&error, G_IO_ERROR, g_io_error_from_errno (-r),
                       _("Cannot listen on “%s”: %s; pick another path"), path, evl_os_strerror (-r));
        }
    }
  g_object_unref (address);
  if (fd < 0)
    {
      server_start_free (s, error);
      return;
    }
  fds = g_array_new (FALSE, FALSE, sizeof (int));
  g_array_append_val (fds, fd);
  succeed (s, fds, path);
  g_array_unref (fds);
}

/**
 * evl_loop_create_unix_server_finish:
 * @loop: a loop
 * @result: the #GAsyncResult passed to the callback
 * @error: return location for a #GError
 *
 * Finishes [method@Evl.Loop.create_unix_server_async].
 *
 * Returns: (transfer full): the server, or %NULL with @error set
 */
EvlServer *
evl_loop_create_unix_server_finish (EvlLoop       *loop,
                                    GAsyncResult  *result,
                                    GError       **error)
{
  return server_finish (loop, result, evl_loop_create_unix_server_async, error);
}
