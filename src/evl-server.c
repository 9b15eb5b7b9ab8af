/* evl-server.c: a listening server (asyncio's Server)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "evl-config.h"

#include <errno.h>

#include "evl-loop-private.h"
#include "evl-net-private.h"
#include "evl-operation-private.h"
#include "evl-os-sock-private.h"
#include "evl-unix-socket-private.h"

/**
 * EvlServer:
 *
 * The listening sockets of [method@Evl.Loop.create_server_async] or
 * [method@Evl.Loop.create_unix_server_async], asyncio's `Server`.
 *
 * Each accepted connection gets a protocol from the server's factory and
 * an [class@Evl.Transport]; the library keeps both alive until the
 * protocol's `connection_lost`. A server serves from creation until
 * [method@Evl.Server.close] (or until its loop closes), whether or not
 * anyone holds a reference to it. When the process runs out of file
 * descriptors (`EMFILE`, `ENFILE`), accepting pauses for a moment and
 * resumes on its own, so the server survives.
 */

/* Accepting, per listening socket:
 *
 *  - on a loop whose backend completes socket operations (the proactor:
 *    IORING_OP_ACCEPT, AcceptEx), an evl_loop_sock_accept_async kept in
 *    flight, as asyncio's proactor does. Closing cancels it; the socket is
 *    closed at once where a pending accept does not need it open (Windows:
 *    closesocket() aborts the AcceptEx, whose request the backend keeps),
 *    else shut down at once and closed once the accept has reported;
 *  - on the selector loop, an internal reader on the socket that accepts
 *    what waits when it is readable, as asyncio's selector loop does.
 *    Closing removes the reader and closes the socket at once: no accept
 *    is ever in flight there (Windows cannot shut a listening socket
 *    down, so this is what makes close() refuse new connections at once).
 */

#define ACCEPT_RETRY_DELAY 0.1   /* seconds, after EMFILE and the like */
#define ACCEPT_BURST       100   /* accepts per completed one, asyncio's backlog */

typedef struct
{
  EvlServer    *server;       /* strong while an accept is in flight */
  int           fd;
  gboolean      busy;         /* accept in flight or retry scheduled */
  gboolean      watching;     /* selector loop: the reader is installed */
  gboolean      fd_closed;    /* closed under an accept in flight */
  EvlHandle    *retry;
} Listener;

struct _EvlServer
{
  GObject            parent_instance;

  EvlLoop           *loop;
  EvlNetFactory      factory;
  GPtrArray         *listeners;      /* Listener */
  GList             *addresses;      /* GSocketAddress */
  char              *unix_path;      /* unlinked on close if still ours */
  EvlUnixSocketId    unix_id;        /* the socket file we created */
  GCancellable      *cancellable;    /* cancelled on close */
  guint              n_connections;
  gboolean           serving;
  gboolean           closed;
  GList             *waiters;        /* Waiter (wait_closed) */
};

G_DEFINE_FINAL_TYPE (EvlServer, evl_server, G_TYPE_OBJECT)

static void accept_next (Listener *l);

static void
evl_server_finalize (GObject *object)
{
  EvlServer *self = EVL_SERVER (object);
  guint i;

  for (i = 0; i < self->listeners->len; i++)
    {
      Listener *l = self->listeners->pdata[i];

      if (l->fd >= 0 && !l->fd_closed)
        evl_os_sock_close (l->fd);
      g_free (l);
    }
  g_ptr_array_unref (self->listeners);
  evl_net_factory_clear (&self->factory);
  g_list_free_full (self->addresses, g_object_unref);
  g_free (self->unix_path);
  g_clear_object (&self->cancellable);
  g_clear_object (&self->loop);
  g_assert (self->waiters == NULL);

  G_OBJECT_CLASS (evl_server_parent_class)->finalize (object);
}

static void
evl_server_class_init (EvlServerClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = evl_server_finalize;
}

static void
evl_server_init (EvlServer *self)
{
  self->listeners = g_ptr_array_new ();
  self->cancellable = g_cancellable_new ();
}

/* ---------------------------------------------------------------------- */
/* closing */

/* A wait_closed in progress. Its GCancellable may fire in any thread:
 * the handler only posts wait_cancel_cb to the loop's thread. */
typedef struct
{
  gint          ref_count;    /* atomic: the list's + posted cancellations */
  EvlServer    *server;       /* alive while the waiter is in its list */
  EvlOperation *op;           /* NULL once completed */
  GCancellable *cancellable;
  gulong        cancel_id;
} Waiter;

static void
waiter_unref (gpointer data)
{
  Waiter *w = data;

  if (!g_atomic_int_dec_and_test (&w->ref_count))
    return;
  g_clear_object (&w->op);
  g_clear_object (&w->cancellable);
  g_free (w);
}

/* On the loop's thread, never inside the handler: no deadlock, and no
 * handler runs after it. */
static void
waiter_complete (Waiter *w,
                 GError *error)
{
  EvlOperation *op = g_steal_pointer (&w->op);

  if (w->cancel_id != 0)
    g_cancellable_disconnect (w->cancellable, w->cancel_id);
  w->cancel_id = 0;
  if (error != NULL)
    evl_operation_return_error (op, error);
  else
    evl_operation_return_boolean (op, TRUE);
  g_object_unref (op);
  waiter_unref (w);   /* the list's */
}

static void
wait_cancel_cb (gpointer data)
{
  Waiter *w = data;

  if (w->op == NULL)
    return;
  w->server->waiters = g_list_remove (w->server->waiters, w);
  waiter_complete (w, g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED,
                                           _("Operation was cancelled")));
}

static void
wait_cancelled (GCancellable *cancellable,
                gpointer      data)
{
  Waiter *w = data;

  g_atomic_int_inc (&w->ref_count);
  evl_loop_call_soon_threadsafe_internal (w->server->loop, wait_cancel_cb, w, waiter_unref);
}

/* Whether every listening fd is closed (one with an accept in flight is
 * closed only once that accept has reported). */
static gboolean
listeners_closed (EvlServer *self)
{
  guint i;

  for (i = 0; i < self->listeners->len; i++)
    if (((Listener *) self->listeners->pdata[i])->fd >= 0)
      return FALSE;
  return TRUE;
}

/* wait_closed ends once the connections are gone and the listening fds
 * closed, as asyncio's: a server started again on the same port after it
 * must find the port free. */
static void
complete_waiters (EvlServer *self)
{
  GList *waiters;

  if (!self->closed || self->n_connections > 0 || !listeners_closed (self))
    return;
  waiters = g_steal_pointer (&self->waiters);
  while (waiters != NULL)
    {
      Waiter *w = waiters->data;

      waiters = g_list_delete_link (waiters, waiters);
      waiter_complete (w, NULL);
    }
}

static void
listener_close (Listener *l)
{
  if (l->retry != NULL)
    {
      evl_handle_cancel (l->retry);
      g_clear_pointer (&l->retry, evl_handle_unref);
    }
  if (l->watching)
    {
      l->watching = FALSE;
      evl_loop_remove_internal_watch (l->server->loop, l->fd, FALSE);
    }
  if (l->fd >= 0 && !l->busy)
    {
      if (!l->fd_closed)
        evl_os_sock_close (l->fd);
      l->fd = -1;
      l->fd_closed = FALSE;
      complete_waiters (l->server);
    }
  else if (l->fd >= 0 && !l->fd_closed)
    {
      /* Stop listening now (new connections are refused); the fd is
       * closed once the accept in flight has reported, or now where that
       * is safe and shutting down is not possible (Windows). */
      if (EVL_OS_SOCK_CLOSE_UNDER_ACCEPT)
        {
          evl_os_sock_close (l->fd);
          l->fd_closed = TRUE;
        }
      else
        evl_os_sock_shutdown (l->fd, EVL_OS_SHUT_RDWR);
    }
}

static void
server_close (EvlServer *self)
{
  guint i;

  if (self->closed)
    return;
  self->closed = TRUE;
  self->serving = FALSE;
  g_cancellable_cancel (self->cancellable);
  for (i = 0; i < self->listeners->len; i++)
    listener_close (self->listeners->pdata[i]);
  /* Only our own socket file: another server may have replaced it. */
  if (self->unix_path != NULL)
    evl_unix_socket_remove_if_same (self->unix_path, &self->unix_id);
  evl_net_factory_clear (&self->factory);
  complete_waiters (self);
}

/* ---------------------------------------------------------------------- */
/* accepting */

static void
connection_lost_cb (gpointer data)
{
  EvlServer *self = data;

  self->n_connections--;
  complete_waiters (self);
  g_object_unref (self);
}

static void
start_connection (EvlServer *self,
                  int        fd)
{
  EvlProtocol *protocol;
  EvlStreamTransport *transport;
  GError *error = NULL;

  protocol = self->factory.factory (self->factory.data);
  if (protocol == NULL || !EVL_IS_PROTOCOL (protocol))
    {
      g_clear_object (&protocol);
      evl_os_sock_close (fd);
      error = g_error_new_literal (EVL_LOOP_ERROR, EVL_LOOP_ERROR_INVALID,
                                   _("The server’s protocol factory returned no EvlProtocol; "
                                     "return a new object that implements it"));
      evl_loop_call_exception_handler (self->loop, error, _("A connection was refused"));
      g_error_free (error);
      return;
    }
  transport = evl_stream_transport_new (self->loop, fd,
                                        EVL_STREAM_SOCKET | EVL_STREAM_READ | EVL_STREAM_WRITE,
                                        G_OBJECT (protocol));
  self->n_connections++;
  evl_stream_transport_set_lost_notify (transport, connection_lost_cb, g_object_ref (self));
  evl_stream_transport_start (transport);
  /* The transport keeps itself and its protocol alive until
   * connection_lost. */
  g_object_unref (transport);
  g_object_unref (protocol);
}

static void
retry_cb (gpointer data)
{
  Listener *l = data;

  g_clear_pointer (&l->retry, evl_handle_unref);
  l->busy = FALSE;
  accept_next (l);
}

static void
retry_notify (gpointer data)
{
  Listener *l = data;
  EvlServer *server = l->server;

  /* After retry_cb, or when cancelled (close) or dropped (loop closed). */
  if (l->busy && l->retry != NULL)
    {
      l->busy = FALSE;
      g_clear_pointer (&l->retry, evl_handle_unref);
      if (evl_loop_is_closed (server->loop))
        server_close (server);
      listener_close (l);
    }
  g_object_unref (server);
}

/* Accepting failed (EMFILE, ENFILE, ...): accept again in a moment. */
static void
schedule_retry (Listener *l)
{
  EvlServer *self = l->server;

  l->busy = TRUE;
  g_object_ref (self);   /* retry_notify's */
  l->retry = evl_loop_call_later (self->loop, ACCEPT_RETRY_DELAY, retry_cb, l, retry_notify);
  if (l->retry != NULL)
    evl_handle_ref (l->retry);
}

/* Takes what else waits in the listen queue now, up to a bound, as
 * asyncio does (backlog-many accepts per wakeup). One accept per loop
 * iteration falls behind when iterations are long (thousands of busy
 * connections): the queue overflows, and clients whose handshake the
 * kernel completed see their connection reset. An error here (EAGAIN,
 * EMFILE, ...) is left to the asynchronous accept that follows, which
 * handles it. */
static void
accept_burst (Listener *l)
{
  EvlServer *self = l->server;
  guint i;

  for (i = 0; i < ACCEPT_BURST && l->fd >= 0 && !self->closed; i++)
    {
      int fd = evl_os_sock_accept (l->fd, NULL, NULL);

      if (fd < 0)
        return;
      evl_os_sock_set_nodelay (fd);
      start_connection (self, fd);
    }
}

static void
accepted_cb (GObject      *source,
             GAsyncResult *result,
             gpointer      data)
{
  Listener *l = data;
  EvlServer *self = l->server;
  GError *error = NULL;
  int fd;

  fd = evl_loop_sock_accept_finish (self->loop, result, NULL, &error);
  l->busy = FALSE;

  if (self->closed || evl_loop_is_closed (self->loop))
    {
      if (fd >= 0)
        evl_os_sock_close (fd);
      g_clear_error (&error);
      server_close (self);
      listener_close (l);
    }
  else if (fd >= 0)
    {
      evl_os_sock_set_nodelay (fd);
      start_connection (self, fd);
      accept_burst (l);
      accept_next (l);
    }
  else
    {
      /* EMFILE, ENFILE, ENOBUFS, ENOMEM: the connection waits in the
       * backlog; try again in a moment (asyncio waits a second). Errors
       * of one connection (ECONNABORTED) wait as well: harmless, and no
       * error can make the server spin. */
      g_clear_error (&error);
      schedule_retry (l);
    }
  g_object_unref (self);
}

/* The selector loop's reader: accepts what waits, up to a bound. */
static void
accept_ready (gpointer data)
{
  Listener *l = data;
  EvlServer *self = l->server;
  guint i;

  g_object_ref (self);
  for (i = 0; i < ACCEPT_BURST && l->watching && !self->closed; i++)
    {
      int fd = evl_os_sock_accept (l->fd, NULL, NULL);

      if (fd >= 0)
        {
          evl_os_sock_set_nodelay (fd);
          start_connection (self, fd);
          continue;
        }
      /* Nothing more waits, or one connection went away: the reader
       * tells when another one comes. */
      if (fd == -EAGAIN || fd == -EWOULDBLOCK || fd == -EINTR || fd == -ECONNABORTED)
        break;
      /* EMFILE and the like: the connection stays in the backlog, and
       * the socket stays readable; stop watching for a moment. */
      l->watching = FALSE;
      evl_loop_remove_internal_watch (self->loop, l->fd, FALSE);
      schedule_retry (l);
      break;
    }
  g_object_unref (self);
}

/* The reader's notify: removed (close, EMFILE) or dropped by the loop
 * closing, which ends the server. */
static void
accept_watch_dropped (gpointer data)
{
  Listener *l = data;
  EvlServer *server = l->server;

  if (evl_loop_is_closed (server->loop))
    {
      l->watching = FALSE;
      server_close (server);
      listener_close (l);
    }
  g_object_unref (server);
}

static void
accept_next (Listener *l)
{
  EvlServer *self = l->server;

  if (l->busy || l->watching || l->fd < 0 || self->closed)
    return;
  if (evl_loop_get_backend (self->loop)->sock_submit == NULL)
    {
      GError *error = NULL;

      g_object_ref (self);   /* the reader's: accept_watch_dropped() drops it */
      l->watching = TRUE;
      if (!evl_loop_add_internal_watch (self->loop, l->fd, FALSE, accept_ready, l,
                                        accept_watch_dropped, &error))
        {
          /* The notify ran. A closed loop ended the server there; else
           * try again in a moment, as after EMFILE. */
          l->watching = FALSE;
          g_clear_error (&error);
          if (!self->closed && !evl_loop_is_closed (self->loop))
            schedule_retry (l);
        }
      return;
    }
  l->busy = TRUE;
  g_object_ref (self);
  evl_loop_sock_accept_async (self->loop, l->fd, self->cancellable, accepted_cb, l);
}

/* ---------------------------------------------------------------------- */
/* internal API */

EvlServer *
evl_server_new (EvlLoop            *loop,
                EvlNetFactory      *factory,
                const char         *unix_path)
{
  EvlServer *self = g_object_new (EVL_TYPE_SERVER, NULL);

  self->loop = g_object_ref (loop);
  self->factory = *factory;
  *factory = (EvlNetFactory) { NULL, NULL, NULL };
  if (unix_path != NULL)
    {
      self->unix_path = g_strdup (unix_path);
      evl_unix_socket_get_id (unix_path, &self->unix_id);
    }
  return self;
}

void
evl_server_add_listener (EvlServer *self,
                         int        fd)
{
  Listener *l = g_new0 (Listener, 1);
  struct sockaddr_storage ss;
  gssize len;

  l->server = self;
  l->fd = fd;
  g_ptr_array_add (self->listeners, l);
  len = evl_os_sock_getsockname (fd, &ss);
  if (len >= 0)
    {
      GSocketAddress *address = g_socket_address_new_from_native (&ss, len);

      if (address != NULL)
        self->addresses = g_list_append (self->addresses, address);
    }
}

void
evl_server_start (EvlServer *self)
{
  guint i;

  self->serving = TRUE;
  for (i = 0; i < self->listeners->len; i++)
    accept_next (self->listeners->pdata[i]);
}

/* ---------------------------------------------------------------------- */
/* public API */

/**
 * evl_server_get_loop:
 * @server: a server
 *
 * Gets the loop the server runs on.
 *
 * Returns: (transfer none): the loop the server runs on
 */
EvlLoop *
evl_server_get_loop (EvlServer *server)
{
  g_return_val_if_fail (EVL_IS_SERVER (server), NULL);

  return server->loop;
}

/**
 * evl_server_get_port:
 * @server: a server
 *
 * The port the server listens on: the one it was asked for, or the one
 * the system picked for port 0 (the same on every address).
 *
 * Returns: the TCP port, or 0 for a Unix-domain server
 */
guint16
evl_server_get_port (EvlServer *server)
{
  GList *l;

  g_return_val_if_fail (EVL_IS_SERVER (server), 0);

  for (l = server->addresses; l != NULL; l = l->next)
    if (G_IS_INET_SOCKET_ADDRESS (l->data))
      return g_inet_socket_address_get_port (l->data);
  return 0;
}

/**
 * evl_server_get_addresses:
 * @server: a server
 *
 * The addresses the server listens on, asyncio's `Server.sockets`.
 *
 * Returns: (transfer full) (element-type GSocketAddress): one address per
 *   listening socket; free with `g_list_free_full (list, g_object_unref)`
 */
GList *
evl_server_get_addresses (EvlServer *server)
{
  g_return_val_if_fail (EVL_IS_SERVER (server), NULL);

  return g_list_copy_deep (server->addresses, (GCopyFunc) (void (*) (void)) g_object_ref, NULL);
}

/**
 * evl_server_is_serving:
 * @server: a server
 *
 * Checks whether the server accepts connections, as asyncio's
 * `Server.is_serving()`.
 *
 * Returns: %TRUE while the server accepts connections (until
 *   [method@Evl.Server.close])
 */
gboolean
evl_server_is_serving (EvlServer *server)
{
  g_return_val_if_fail (EVL_IS_SERVER (server), FALSE);

  return server->serving;
}

/**
 * evl_server_get_n_connections:
 * @server: a server
 *
 * Counts the server's open connections.
 *
 * Returns: the number of accepted connections whose protocol has not yet
 *   seen `connection_lost`
 */
guint
evl_server_get_n_connections (EvlServer *server)
{
  g_return_val_if_fail (EVL_IS_SERVER (server), 0);

  return server->n_connections;
}

/**
 * evl_server_close:
 * @server: a server
 *
 * Stops serving, as asyncio's `Server.close()`: the listening sockets are
 * closed (new connections are refused from now on) and a Unix-domain
 * socket file is removed. Connections already accepted stay open. Closing
 * twice does nothing.
 */
void
evl_server_close (EvlServer *server)
{
  g_return_if_fail (EVL_IS_SERVER (server));

  g_object_ref (server);
  server_close (server);
  g_object_unref (server);
}

/**
 * evl_server_wait_closed_async:
 * @server: a server
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async) (closure user_data): called once the server is
 *   closed and all its connections are lost
 * @user_data: data for @callback
 *
 * Waits until [method@Evl.Server.close] was called and every connection
 * the server accepted has ended (asyncio 3.12's `Server.wait_closed()`).
 * Finish with [method@Evl.Server.wait_closed_finish].
 */
void
evl_server_wait_closed_async (EvlServer           *server,
                              GCancellable        *cancellable,
                              GAsyncReadyCallback  callback,
                              gpointer             user_data)
{
  EvlOperation *op;
  GError *error = NULL;
  Waiter *w;

  g_return_if_fail (EVL_IS_SERVER (server));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  op = evl_operation_new (server->loop, evl_server_wait_closed_async, callback, user_data);
  if (g_cancellable_set_error_if_cancelled (cancellable, &error))
    {
      evl_operation_return_error (op, error);
      g_object_unref (op);
      return;
    }
  w = g_new0 (Waiter, 1);
  w->ref_count = 1;
  w->server = server;
  w->op = op;
  server->waiters = g_list_append (server->waiters, w);
  if (cancellable != NULL)
    {
      w->cancellable = g_object_ref (cancellable);
      w->cancel_id = g_cancellable_connect (cancellable, G_CALLBACK (wait_cancelled), w, NULL);
    }
  complete_waiters (server);
}

/**
 * evl_server_wait_closed_finish:
 * @server: a server
 * @result: the #GAsyncResult passed to the callback
 * @error: return location for a #GError
 *
 * Finishes [method@Evl.Server.wait_closed_async].
 *
 * Returns: %TRUE once the server is closed; %FALSE with @error set
 */
gboolean
evl_server_wait_closed_finish (EvlServer     *server,
                               GAsyncResult  *result,
                               GError       **error)
{
  g_return_val_if_fail (EVL_IS_SERVER (server), FALSE);
  g_return_val_if_fail (evl_operation_is_valid (result, server->loop, evl_server_wait_closed_async), FALSE);

  return evl_operation_propagate_boolean (EVL_OPERATION (result), error);
}
