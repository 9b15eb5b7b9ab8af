/* evl-loop-net.c: connections and servers on an EvlLoop
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

/* asyncio's base_events.py create_connection/create_server and
 * unix_events.py create_unix_*, connect_*_pipe. Every step that waits
 * (resolving, connecting) completes from the loop's own dispatch: no
 * GMainContext needs to be iterated. */

/* ---------------------------------------------------------------------- */
/* helpers */

int
evl_net_socket (int      family,
                int      type,
                GError **error)
{
  int fd = evl_os_sock_socket (family, type);

  if (fd < 0)
    {
      int errsv = -fd;

      fd = -1;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                   _("Cannot create a socket: %s; close unused files or raise the limit"),
                   evl_os_strerror (errsv));
    }
  return fd;
}

gboolean
evl_net_can_start (EvlLoop       *loop,
                   GCancellable  *cancellable,
                   GError       **error)
{
  if (evl_loop_is_closed (loop))
    {
      g_set_error_literal (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_CLOSED,
                           _("The event loop is closed; create a new loop to run more work"));
      return FALSE;
    }
  return !g_cancellable_set_error_if_cancelled (cancellable, error);
}

GList *
evl_net_resolve_finish (EvlLoop       *loop,
                        GAsyncResult  *result,
                        GCancellable  *cancellable,
                        GError       **error)
{
  GError *local_error = NULL;
  GList *addresses = evl_loop_resolve_finish (loop, result, &local_error);

  if (local_error == NULL)
    g_cancellable_set_error_if_cancelled (cancellable, &local_error);
  /* A lookup still running when the loop closed: the executor says
   * G_IO_ERROR_CANCELLED. */
  if (evl_loop_is_closed (loop))
    {
      g_clear_error (&local_error);
      g_set_error_literal (&local_error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_CLOSED,
                           _("The event loop was closed while a host name was being resolved"));
    }
  if (local_error != NULL)
    {
      g_list_free_full (addresses, g_object_unref);
      g_propagate_error (error, local_error);
      return NULL;
    }
  return addresses;
}

void
evl_net_factory_clear (EvlNetFactory *f)
{
  GDestroyNotify notify = f->notify;

  f->factory = NULL;
  f->notify = NULL;
  if (notify != NULL)
    notify (f->data);
  f->data = NULL;
}

typedef struct
{
  EvlTransport *transport;
  GObject      *protocol;
} ConnectionResult;

static void
connection_result_free (gpointer data)
{
  ConnectionResult *r = data;

  g_clear_object (&r->transport);
  g_clear_object (&r->protocol);
  g_free (r);
}

void
evl_net_start_stream (EvlLoop        *loop,
                      int             fd,
                      EvlStreamFlags  flags,
                      EvlNetFactory  *factory,
                      EvlOperation   *op)
{
  EvlProtocol *protocol = factory->factory (factory->data);
  EvlStreamTransport *transport;
  ConnectionResult *r;

  if (protocol == NULL || !EVL_IS_PROTOCOL (protocol))
    {
      if (flags & EVL_STREAM_SOCKET)
        evl_os_sock_close (fd);
      else
        evl_os_fd_close (fd);
      g_clear_object (&protocol);
      evl_operation_return_error (op, g_error_new_literal (EVL_LOOP_ERROR, EVL_LOOP_ERROR_INVALID,
                                                           _("The protocol factory returned no EvlProtocol; "
                                                             "return a new object that implements it")));
      return;
    }
  transport = evl_stream_transport_new (loop, fd, flags, G_OBJECT (protocol));
  evl_stream_transport_start (transport);
  r = g_new0 (ConnectionResult, 1);
  r->transport = EVL_TRANSPORT (transport);
  r->protocol = G_OBJECT (protocol);
  evl_operation_return_pointer (op, r, connection_result_free);
}

EvlTransport *
evl_net_connection_finish (EvlLoop       *loop,
                           GAsyncResult  *result,
                           gpointer       tag,
                           EvlProtocol  **protocol,
                           GError       **error)
{
  ConnectionResult *r;
  EvlTransport *transport;

  if (protocol != NULL)
    *protocol = NULL;
  g_return_val_if_fail (EVL_IS_LOOP (loop), NULL);
  g_return_val_if_fail (evl_operation_is_valid (result, loop, tag), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  r = evl_operation_propagate_pointer (EVL_OPERATION (result), error);
  if (r == NULL)
    return NULL;
  transport = g_steal_pointer (&r->transport);
  if (protocol != NULL)
    *protocol = EVL_PROTOCOL (g_steal_pointer (&r->protocol));
  connection_result_free (r);
  return transport;
}

/* ---------------------------------------------------------------------- */
/* create_connection, create_unix_connection */

typedef struct
{
  EvlLoop        *loop;
  EvlOperation   *op;
  EvlNetFactory   factory;
  char           *host;
  guint16         port;
  GSocketAddress *local_address;
  GCancellable   *cancellable;
  GList          *addresses;    /* GSocketAddress */
  GList          *next;
  int             fd;
  GError         *first_error;
} Connect;

static void
connect_free (Connect *c)
{
  if (c->fd >= 0)
    evl_os_sock_close (c->fd);
  evl_net_factory_clear (&c->factory);
  g_free (c->host);
  g_clear_object (&c->local_address);
  g_clear_object (&c->cancellable);
  g_list_free_full (c->addresses, g_object_unref);
  g_clear_error (&c->first_error);
  g_clear_object (&c->op);
  g_free (c);
}

static void
connect_fail (Connect *c,
              GError  *error)
{
  evl_operation_return_error (c->op, error);
  connect_free (c);
}

static void connect_next (Connect *c);

static void
connected_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      data)
{
  Connect *c = data;
  GError *error = NULL;
  GSocketAddress *address = c->next != NULL ? c->next->data : NULL;

  if (!evl_loop_sock_connect_finish (c->loop, result, &error))
    {
      evl_os_sock_close (c->fd);
      c->fd = -1;
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) ||
          g_error_matches (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_CLOSED))
        {
          connect_fail (c, error);
          return;
        }
      if (c->first_error == NULL)
        c->first_error = error;
      else
        g_error_free (error);
      c->next = c->next->next;
      connect_next (c);
      return;
    }

  if (G_IS_INET_SOCKET_ADDRESS (address))
    {
      /* asyncio's _set_nodelay: no Nagle delay on small writes. */
      evl_os_sock_set_nodelay (c->fd);
    }
  evl_net_start_stream (c->loop, c->fd, EVL_STREAM_SOCKET | EVL_STREAM_READ | EVL_STREAM_WRITE,
                &c->factory, c->op);
  c->fd = -1;
  connect_free (c);
}

static gboolean
bind_local (int             fd,
            GSocketAddress *address,
            GError        **error)
{
  struct sockaddr_storage ss;
  gssize size = g_socket_address_get_native_size (address);
  int r;

  if (size <= 0 || !g_socket_address_to_native (address, &ss, sizeof ss, error))
    return FALSE;
  r = evl_os_sock_bind (fd, (struct sockaddr *) &ss, size);
  if (r < 0)
    {
      int errsv = -r;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                   _("Cannot bind to the local address: %s; pick another address or port"),
                   evl_os_strerror (errsv));
      return FALSE;
    }
  return TRUE;
}

/* Tries the next address (asyncio tries every address in turn). */
static void
connect_next (Connect *c)
{
  GError *error = NULL;

  while (c->next != NULL)
    {
      GSocketAddress *address = c->next->data;
      GSocketFamily family = g_socket_address_get_family (address);

      if (c->local_address != NULL &&
          g_socket_address_get_family (c->local_address) != family)
        {
          c->next = c->next->next;
          continue;
        }
      c->fd = evl_net_socket (family, SOCK_STREAM, &error);
      if (c->fd >= 0 && c->local_address != NULL && !bind_local (c->fd, c->local_address, &error))
        {
          evl_os_sock_close (c->fd);
          c->fd = -1;
        }
      if (c->fd < 0)
        {
          if (c->first_error == NULL)
            c->first_error = error;
          else
            g_error_free (error);
          error = NULL;
          c->next = c->next->next;
          continue;
        }
      evl_loop_sock_connect_async (c->loop, c->fd, address, c->cancellable, connected_cb, c);
      return;
    }

  if (c->first_error != NULL)
    error = g_steal_pointer (&c->first_error);
  else if (c->local_address != NULL)
    error = g_error_new (G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                         _("“%s” has no address of the local address’s family; "
                           "pass a local address of the same family"), c->host);
  else
    error = g_error_new (G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                         _("“%s” has no address; check the host name"), c->host);
  connect_fail (c, error);
}

static void
connect_resolved (GObject      *source,
                  GAsyncResult *result,
                  gpointer      data)
{
  Connect *c = data;
  GError *error = NULL;
  GList *addresses = evl_net_resolve_finish (c->loop, result, c->cancellable, &error);

  if (error != NULL)
    {
      connect_fail (c, error);
      return;
    }
  c->addresses = addresses;
  c->next = c->addresses;
  connect_next (c);
}

static Connect *
connect_new (EvlLoop             *loop,
             gpointer             tag,
             EvlProtocolFactory   factory,
             gpointer             factory_data,
             GDestroyNotify       factory_notify,
             GCancellable        *cancellable,
             GAsyncReadyCallback  callback,
             gpointer             user_data)
{
  Connect *c = g_new0 (Connect, 1);
  GError *error = NULL;

  c->loop = loop;
  c->op = evl_operation_new (loop, tag, callback, user_data);
  c->factory.factory = factory;
  c->factory.data = factory_data;
  c->factory.notify = factory_notify;
  c->cancellable = cancellable != NULL ? g_object_ref (cancellable) : NULL;
  c->fd = -1;
  if (!evl_net_can_start (loop, cancellable, &error))
    {
      connect_fail (c, error);
      return NULL;
    }
  return c;
}

static void
create_connection (EvlLoop             *loop,
                   gpointer             tag,
                   EvlProtocolFactory   factory,
                   gpointer             factory_data,
                   GDestroyNotify       factory_notify,
                   const char          *host,
                   guint16              port,
                   GSocketAddress      *local_address,
                   GCancellable        *cancellable,
                   GAsyncReadyCallback  callback,
                   gpointer             user_data)
{
  Connect *c = connect_new (loop, tag, factory, factory_data, factory_notify,
                            cancellable, callback, user_data);

  if (c == NULL)
    return;
  c->host = g_strdup (host);
  c->port = port;
  c->local_address = local_address != NULL ? g_object_ref (local_address) : NULL;
  /* GResolver never found an address for "" (G_RESOLVER_ERROR_NOT_FOUND);
   * the resolver below would take it for the loopback addresses. */
  if (*host == '\0')
    {
      connect_fail (c, g_error_new (G_RESOLVER_ERROR, G_RESOLVER_ERROR_NOT_FOUND,
                                    _("“%s” has no address; check the host name"), host));
      return;
    }
  evl_loop_resolve_async (loop, host, port, EVL_RESOLVE_INTERLEAVE, cancellable,
                          connect_resolved, c);
}

/**
 * evl_loop_create_connection_async:
 * @loop: a loop
 * @factory: (scope notified) (closure factory_data) (destroy factory_notify):
 *   makes the connection's protocol
 * @factory_data: data for @factory
 * @factory_notify: (nullable): frees @factory_data once the factory is no
 *   longer needed
 * @host: a host name or a numeric IPv4 or IPv6 address
 * @port: the TCP port
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async) (closure user_data): called when connected
 * @user_data: data for @callback
 *
 * Opens a TCP connection to @host and @port, as asyncio's
 * `loop.create_connection()`: the name is resolved (numeric addresses
 * directly, names with #GResolver in a worker thread, so that no
 * GMainContext needs to be iterated), every address is tried in turn
 * until one connects, then @factory makes the protocol and its
 * `connection_made` runs, before @callback. Get the transport with
 * [method@Evl.Loop.create_connection_finish].
 *
 * A refused connection fails with %G_IO_ERROR_CONNECTION_REFUSED (the
 * error of the first address when all fail), cancellation with
 * %G_IO_ERROR_CANCELLED, a closed loop with %EVL_LOOP_ERROR_CLOSED.
 */
void
evl_loop_create_connection_async (EvlLoop             *loop,
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
  g_return_if_fail (host != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  create_connection (loop, evl_loop_create_connection_async, factory, factory_data,
                     factory_notify, host, port, NULL, cancellable, callback, user_data);
}

/**
 * evl_loop_create_connection_finish:
 * @loop: a loop
 * @result: the #GAsyncResult passed to the callback
 * @protocol: (out) (transfer full) (optional) (nullable): the connection's
 *   protocol
 * @error: return location for a #GError
 *
 * Finishes [method@Evl.Loop.create_connection_async]. The transport is
 * open and its protocol has seen `connection_made`.
 *
 * Returns: (transfer full): the transport, or %NULL with @error set
 */
EvlTransport *
evl_loop_create_connection_finish (EvlLoop       *loop,
                                   GAsyncResult  *result,
                                   EvlProtocol  **protocol,
                                   GError       **error)
{
  return evl_net_connection_finish (loop, result, evl_loop_create_connection_async, protocol, error);
}

/**
 * evl_loop_create_connection_full_async:
 * @loop: a loop
 * @factory: (scope notified) (closure factory_data) (destroy factory_notify):
 *   makes the connection's protocol
 * @factory_data: data for @factory
 * @factory_notify: (nullable): frees @factory_data
 * @host: a host name or a numeric IPv4 or IPv6 address
 * @port: the TCP port
 * @local_address: (nullable): the local address to bind to first
 *   (asyncio's `local_addr`); only the remote addresses of its family are
 *   tried
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async) (closure user_data): called when connected
 * @user_data: data for @callback
 *
 * [method@Evl.Loop.create_connection_async] with more options. Finish
 * with [method@Evl.Loop.create_connection_full_finish].
 */
void
evl_loop_create_connection_full_async (EvlLoop             *loop,
                                       EvlProtocolFactory   factory,
                                       gpointer             factory_data,
                                       GDestroyNotify       factory_notify,
                                       const char          *host,
                                       guint16              port,
                                       GSocketAddress      *local_address,
                                       GCancellable        *cancellable,
                                       GAsyncReadyCallback  callback,
                                       gpointer             user_data)
{
  g_return_if_fail (EVL_IS_LOOP (loop));
  g_return_if_fail (factory != NULL);
  g_return_if_fail (host != NULL);
  g_return_if_fail (local_address == NULL || G_IS_SOCKET_ADDRESS (local_address));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  create_connection (loop, evl_loop_create_connection_full_async, factory, factory_data,
                     factory_notify, host, port, local_address, cancellable, callback, user_data);
}

/**
 * evl_loop_create_connection_full_finish:
 * @loop: a loop
 * @result: the #GAsyncResult passed to the callback
 * @protocol: (out) (transfer full) (optional) (nullable): the connection's
 *   protocol
 * @error: return location for a #GError
 *
 * Finishes [method@Evl.Loop.create_connection_full_async].
 *
 * Returns: (transfer full): the transport, or %NULL with @error set
 */
EvlTransport *
evl_loop_create_connection_full_finish (EvlLoop       *loop,
                                        GAsyncResult  *result,
                                        EvlProtocol  **protocol,
                                        GError       **error)
{
  return evl_net_connection_finish (loop, result, evl_loop_create_connection_full_async, protocol, error);
}

/**
 * evl_loop_create_unix_connection_async:
 * @loop: a loop
 * @factory: (scope notified) (closure factory_data) (destroy factory_notify):
 *   makes the connection's protocol
 * @factory_data: data for @factory
 * @factory_notify: (nullable): frees @factory_data
 * @path: (type filename): the path of a Unix-domain stream socket
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async) (closure user_data): called when connected
 * @user_data: data for @callback
 *
 * Connects to the Unix-domain socket at @path, as asyncio's
 * `loop.create_unix_connection()`; otherwise as
 * [method@Evl.Loop.create_connection_async]. A path with nobody
 * listening fails with %G_IO_ERROR_CONNECTION_REFUSED, a missing one with
 * %G_IO_ERROR_NOT_FOUND. Not available on Windows: it fails with
 * %EVL_LOOP_ERROR_NOT_SUPPORTED there.
 */
void
evl_loop_create_unix_connection_async (EvlLoop             *loop,
                                       EvlProtocolFactory   factory,
                                       gpointer             factory_data,
                                       GDestroyNotify       factory_notify,
                                       const char          *path,
                                       GCancellable        *cancellable,
                                       GAsyncReadyCallback  callback,
                                       gpointer             user_data)
{
  Connect *c;
  GError *error = NULL;

  g_return_if_fail (EVL_IS_LOOP (loop));
  g_return_if_fail (factory != NULL);
  g_return_if_fail (path != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  c = connect_new (loop, evl_loop_create_unix_connection_async, factory, factory_data,
                   factory_notify, cancellable, callback, user_data);
  if (c == NULL)
    return;
  if (!evl_unix_socket_supported (&error))
    {
      connect_fail (c, error);
      return;
    }
  c->host = g_strdup (path);
  c->addresses = g_list_prepend (NULL, g_unix_socket_address_new (path));
  c->next = c->addresses;
  connect_next (c);
}

/**
 * evl_loop_create_unix_connection_finish:
 * @loop: a loop
 * @result: the #GAsyncResult passed to the callback
 * @protocol: (out) (transfer full) (optional) (nullable): the connection's
 *   protocol
 * @error: return location for a #GError
 *
 * Finishes [method@Evl.Loop.create_unix_connection_async].
 *
 * Returns: (transfer full): the transport, or %NULL with @error set
 */
EvlTransport *
evl_loop_create_unix_connection_finish (EvlLoop       *loop,
                                        GAsyncResult  *result,
                                        EvlProtocol  **protocol,
                                        GError       **error)
{
  return evl_net_connection_finish (loop, result, evl_loop_create_unix_connection_async, protocol, error);
}
