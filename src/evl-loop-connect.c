/* evl-loop-connect.c: create_connection (sequential, or Happy Eyeballs)
 * and create_unix_connection on an EvlLoop
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "evl-config.h"

#include <math.h>

#include <gio/gunixsocketaddress.h>

#include "evl-loop-private.h"
#include "evl-loop-resolve-private.h"
#include "evl-net-private.h"
#include "evl-operation-private.h"
#include "evl-os-sock-private.h"
#include "evl-unix-socket-private.h"


/* Tries the addresses as asyncio's create_connection does: one after the
 * other, each when the previous one failed; or, with a finite delay
 * (happy_eyeballs_delay, RFC 8305), the next one also when @delay passed
 * and the attempts still run side by side. The first attempt that
 * connects wins; the others are cancelled, and the operation completes
 * once every other socket is closed, so the caller's callback never sees
 * a losing socket still open. The sequential case is the infinite delay. */

typedef struct _Connect Connect;

/* One connect() in flight, with a GCancellable of its own (chained to the
 * caller's), so that a losing attempt can be cancelled alone. */
typedef struct
{
  Connect      *c;
  int           fd;
  guint         index;       /* of its address, for the first address's error */
  gboolean      inet;
  GCancellable *cancellable;
  gulong        chain_id;    /* on the caller's cancellable */
} Attempt;

struct _Connect
{
  guint           ref_count;   /* the starter's, one per attempt, the timer's */
  EvlLoop        *loop;
  EvlOperation   *op;          /* NULL once completed */
  EvlNetFactory   factory;
  char           *host;
  guint16         port;
  GSocketAddress *local_address;
  GCancellable   *cancellable;
  double          delay;       /* between attempts; INFINITY: one at a time */
  guint           interleave;  /* addresses of the first family first; 0: as
                                * resolved; 1 for the sequential functions,
                                * which have always alternated the families */
  GList          *addresses;   /* GSocketAddress */
  GList          *next;        /* the next address to try */
  guint           next_index;
  GPtrArray      *attempts;    /* Attempt, in flight */
  EvlHandle      *timer;       /* starts the next attempt when @delay passed */
  int             winner_fd;
  gboolean        winner_inet;
  GError         *error;       /* ends the whole operation: cancelled, loop closed */
  GError         *first_error; /* of the address earliest in the list */
  guint           first_error_index;
};

static Connect *
connect_ref (Connect *c)
{
  c->ref_count++;
  return c;
}

static void
connect_unref (gpointer data)
{
  Connect *c = data;

  if (--c->ref_count > 0)
    return;
  g_assert (c->op == NULL && c->attempts->len == 0);
  if (c->winner_fd >= 0)
    evl_os_sock_close (c->winner_fd);
  g_clear_pointer (&c->timer, evl_handle_unref);
  evl_net_factory_clear (&c->factory);
  g_free (c->host);
  g_clear_object (&c->local_address);
  g_clear_object (&c->cancellable);
  g_list_free_full (c->addresses, g_object_unref);
  g_ptr_array_unref (c->attempts);
  g_clear_error (&c->error);
  g_clear_error (&c->first_error);
  g_free (c);
}

/* Completes the operation with @error (taken). */
static void
connect_return_error (Connect *c,
                      GError  *error)
{
  evl_operation_return_error (c->op, error);
  g_clear_object (&c->op);
}

static void
connect_stop_timer (Connect *c)
{
  EvlHandle *timer = g_steal_pointer (&c->timer);

  if (timer != NULL)
    {
      evl_handle_cancel (timer);   /* its notify drops the timer's reference */
      evl_handle_unref (timer);
    }
}

/* Keeps the error of the address that comes first in the list (@error is
 * taken). */
static void
connect_record_error (Connect *c,
                      guint    index,
                      GError  *error)
{
  if (c->first_error == NULL || index < c->first_error_index)
    {
      g_clear_error (&c->first_error);
      c->first_error = error;
      c->first_error_index = index;
    }
  else
    g_error_free (error);
}

/* The operation is decided (a winner, or an error for all of it): no
 * attempt starts any more and those in flight are cancelled. */
static void
connect_stop_attempts (Connect *c)
{
  guint i;

  connect_stop_timer (c);
  c->next = NULL;
  for (i = 0; i < c->attempts->len; i++)
    {
      Attempt *a = c->attempts->pdata[i];

      g_cancellable_cancel (a->cancellable);
    }
}

static GError *
connect_closed_error (void)
{
  return g_error_new_literal (EVL_LOOP_ERROR, EVL_LOOP_ERROR_CLOSED,
                              _("The event loop was closed while a connection was being made"));
}

/* Completes the operation once nothing is in flight any more. */
static void
connect_settle (Connect *c)
{
  GError *error = NULL;

  if (c->op == NULL || c->attempts->len > 0)
    return;

  if (c->winner_fd >= 0 && c->error == NULL && evl_loop_is_closed (c->loop))
    c->error = connect_closed_error ();
  if (c->error != NULL)
    {
      error = g_steal_pointer (&c->error);
      if (c->winner_fd >= 0)
        evl_os_sock_close (c->winner_fd);
      c->winner_fd = -1;
    }
  else if (c->winner_fd >= 0)
    {
      int fd = c->winner_fd;

      c->winner_fd = -1;
      if (c->winner_inet)
        {
          /* asyncio's _set_nodelay: no Nagle delay on small writes. */
          evl_os_sock_set_nodelay (fd);
        }
      evl_net_start_stream (c->loop, fd, EVL_STREAM_SOCKET | EVL_STREAM_READ | EVL_STREAM_WRITE,
                            &c->factory, c->op);
      g_clear_object (&c->op);
      return;
    }
  else if (c->next != NULL)
    return;   /* between two attempts */
  else if (c->first_error != NULL)
    error = g_steal_pointer (&c->first_error);
  else if (c->local_address != NULL)
    error = g_error_new (G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                         _("“%s” has no address of the local address’s family; "
                           "pass a local address of the same family"), c->host);
  else
    error = g_error_new (G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                         _("“%s” has no address; check the host name"), c->host);
  connect_return_error (c, error);
}

/* Ends the whole operation with @error (taken) once the attempts in
 * flight have ended. */
static void
connect_fail (Connect *c,
              GError  *error)
{
  if (c->error == NULL)
    c->error = error;
  else
    g_error_free (error);
  connect_stop_attempts (c);
  connect_settle (c);
}

static void
attempt_free (Attempt *a)
{
  if (a->fd >= 0)
    evl_os_sock_close (a->fd);
  if (a->chain_id != 0)
    g_cancellable_disconnect (a->c->cancellable, a->chain_id);
  g_object_unref (a->cancellable);
  connect_unref (a->c);
  g_free (a);
}

static void connect_start_next (Connect *c);

static void
attempt_done (GObject      *source,
              GAsyncResult *result,
              gpointer      data)
{
  Attempt *a = data;
  Connect *c = connect_ref (a->c);
  GError *error = NULL;
  gboolean connected = evl_loop_sock_connect_finish (c->loop, result, &error);

  g_ptr_array_remove_fast (c->attempts, a);
  if (c->op == NULL || c->error != NULL || c->winner_fd >= 0)
    {
      /* Lost, or the operation is over: the socket closes below. */
      g_clear_error (&error);
    }
  else if (connected)
    {
      c->winner_fd = a->fd;
      c->winner_inet = a->inet;
      a->fd = -1;
      connect_stop_attempts (c);
    }
  else if (evl_loop_is_closed (c->loop))
    {
      /* A connect pending when the loop closed: the whole operation fails
       * with CLOSED (the connect itself may say it was cancelled). */
      g_error_free (error);
      connect_fail (c, connect_closed_error ());
    }
  else if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) ||
           g_error_matches (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_CLOSED))
    connect_fail (c, error);
  else
    {
      connect_record_error (c, a->index, error);
      /* RFC 8305: a failure starts the next attempt at once. */
      connect_start_next (c);
    }
  attempt_free (a);
  connect_settle (c);
  connect_unref (c);
}

static void
attempt_chain_cancel (GCancellable *cancellable,
                      gpointer      data)
{
  g_cancellable_cancel (data);
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

static void
connect_timer_cb (gpointer data)
{
  Connect *c = data;

  g_clear_pointer (&c->timer, evl_handle_unref);
  if (c->op == NULL || c->error != NULL || c->winner_fd >= 0)
    return;
  connect_start_next (c);
  connect_settle (c);
}

/* Starts an attempt on the next address that can have a socket (an
 * address whose socket cannot be made or bound fails at once), then, with
 * a finite delay and addresses left, the timer of the next one. */
static void
connect_start_next (Connect *c)
{
  connect_stop_timer (c);
  while (c->next != NULL)
    {
      GSocketAddress *address = c->next->data;
      GSocketFamily family = g_socket_address_get_family (address);
      guint index = c->next_index;
      GError *error = NULL;
      Attempt *a;
      int fd;

      c->next = c->next->next;
      c->next_index++;
      if (c->local_address != NULL &&
          g_socket_address_get_family (c->local_address) != family)
        continue;
      fd = evl_net_socket (family, SOCK_STREAM, &error);
      if (fd >= 0 && c->local_address != NULL && !bind_local (fd, c->local_address, &error))
        {
          evl_os_sock_close (fd);
          fd = -1;
        }
      if (fd < 0)
        {
          connect_record_error (c, index, error);
          continue;
        }

      a = g_new0 (Attempt, 1);
      a->c = connect_ref (c);
      a->fd = fd;
      a->index = index;
      a->inet = G_IS_INET_SOCKET_ADDRESS (address);
      a->cancellable = g_cancellable_new ();
      if (c->cancellable != NULL)
        a->chain_id = g_cancellable_connect (c->cancellable, G_CALLBACK (attempt_chain_cancel),
                                             g_object_ref (a->cancellable), g_object_unref);
      g_ptr_array_add (c->attempts, a);
      if (c->next != NULL && isfinite (c->delay))
        {
          EvlHandle *timer = evl_loop_call_later (c->loop, c->delay, connect_timer_cb,
                                                  connect_ref (c), connect_unref);

          c->timer = timer != NULL ? evl_handle_ref (timer) : NULL;
        }
      evl_loop_sock_connect_async (c->loop, fd, address, a->cancellable, attempt_done, a);
      return;
    }
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
    connect_fail (c, error);
  else
    {
      if (c->interleave > 0)
        addresses = evl_resolve_interleave (addresses, c->interleave);
      c->addresses = addresses;
      c->next = c->addresses;
      connect_start_next (c);
      connect_settle (c);
    }
  connect_unref (c);
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

  c->ref_count = 1;
  c->loop = loop;
  c->op = evl_operation_new (loop, tag, callback, user_data);
  c->factory.factory = factory;
  c->factory.data = factory_data;
  c->factory.notify = factory_notify;
  c->cancellable = cancellable != NULL ? g_object_ref (cancellable) : NULL;
  c->delay = INFINITY;
  c->attempts = g_ptr_array_new ();
  c->winner_fd = -1;
  if (!evl_net_can_start (loop, cancellable, &error))
    {
      connect_fail (c, error);
      connect_unref (c);
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
                   double               delay,
                   guint                interleave,
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
  c->delay = delay;
  c->interleave = interleave;
  /* GResolver never found an address for "" (G_RESOLVER_ERROR_NOT_FOUND);
   * the resolver below would take it for the loopback addresses. */
  if (*host == '\0')
    {
      connect_fail (c, g_error_new (G_RESOLVER_ERROR, G_RESOLVER_ERROR_NOT_FOUND,
                                    _("“%s” has no address; check the host name"), host));
      connect_unref (c);
      return;
    }
  /* Reordered when resolved (connect_resolved) by @interleave. */
  evl_loop_resolve_async (loop, host, port, EVL_RESOLVE_NONE, cancellable,
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
                     factory_notify, host, port, NULL, INFINITY, 1, cancellable, callback, user_data);
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
                     factory_notify, host, port, local_address, INFINITY, 1, cancellable,
                     callback, user_data);
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
 * evl_loop_create_connection_happy_eyeballs_async:
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
 * @delay: seconds to wait for an attempt before the next one starts beside
 *   it (asyncio's `happy_eyeballs_delay`; RFC 8305 recommends 0.25); 0
 *   starts every attempt at once, `INFINITY` one after the other
 * @interleave: how many addresses of the first address family come before
 *   the families alternate (asyncio's `interleave`; asyncio uses 1 when a
 *   delay is given); 0 keeps the order of the resolver
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async) (closure user_data): called when connected
 * @user_data: data for @callback
 *
 * [method@Evl.Loop.create_connection_full_async] with "Happy Eyeballs"
 * (RFC 8305), as asyncio's `loop.create_connection()` with
 * `happy_eyeballs_delay` and `interleave`: the addresses of @host are
 * tried in an overlapping way. The first attempt starts at once; the next
 * one starts when @delay has passed or as soon as the running attempt
 * fails, whichever comes first, while the earlier attempts keep running.
 * The first attempt that connects wins: the others are cancelled and
 * their sockets closed before @callback runs. A host whose first address
 * does not answer (a broken IPv6 route that drops the SYN) then connects
 * through its next address after @delay, instead of after the system's
 * connect timeout, which takes minutes.
 *
 * The other functions try one address at a time, as asyncio does by
 * default: a single connection attempt at a time sends no extra SYNs to
 * servers that answer, and a server sees exactly one connection.
 *
 * When every attempt fails, the error is that of the first address;
 * cancellation fails with %G_IO_ERROR_CANCELLED and a closed loop with
 * %EVL_LOOP_ERROR_CLOSED, every socket closed. Finish with
 * [method@Evl.Loop.create_connection_happy_eyeballs_finish].
 */
void
evl_loop_create_connection_happy_eyeballs_async (EvlLoop             *loop,
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
                                                 gpointer             user_data)
{
  g_return_if_fail (EVL_IS_LOOP (loop));
  g_return_if_fail (factory != NULL);
  g_return_if_fail (host != NULL);
  g_return_if_fail (local_address == NULL || G_IS_SOCKET_ADDRESS (local_address));
  g_return_if_fail (!isnan (delay) && delay >= 0);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  create_connection (loop, evl_loop_create_connection_happy_eyeballs_async, factory,
                     factory_data, factory_notify, host, port, local_address, delay,
                     interleave, cancellable, callback, user_data);
}

/**
 * evl_loop_create_connection_happy_eyeballs_finish:
 * @loop: a loop
 * @result: the #GAsyncResult passed to the callback
 * @protocol: (out) (transfer full) (optional) (nullable): the connection's
 *   protocol
 * @error: return location for a #GError
 *
 * Finishes [method@Evl.Loop.create_connection_happy_eyeballs_async].
 *
 * Returns: (transfer full): the transport, or %NULL with @error set
 */
EvlTransport *
evl_loop_create_connection_happy_eyeballs_finish (EvlLoop       *loop,
                                                  GAsyncResult  *result,
                                                  EvlProtocol  **protocol,
                                                  GError       **error)
{
  return evl_net_connection_finish (loop, result, evl_loop_create_connection_happy_eyeballs_async,
                                    protocol, error);
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
    connect_fail (c, error);
  else
    {
      c->host = g_strdup (path);
      c->addresses = g_list_prepend (NULL, g_unix_socket_address_new (path));
      c->next = c->addresses;
      connect_start_next (c);
      connect_settle (c);
    }
  connect_unref (c);
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
