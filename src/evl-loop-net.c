/* evl-loop-net.c: what the loop's connections, servers and pipes share
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "evl-config.h"

#include <errno.h>
#include <string.h>

#include "evl-loop-private.h"
#include "evl-loop-resolve-private.h"
#include "evl-net-private.h"
#include "evl-operation-private.h"
#include "evl-os-sock-private.h"

/* asyncio's base_events.py create_connection/create_server and
 * unix_events.py create_unix_*, connect_*_pipe share these (the connect
 * machinery is evl-loop-connect.c, servers evl-loop-server.c). Every step
 * that waits (resolving, connecting) completes from the loop's own
 * dispatch: no GMainContext needs to be iterated. */

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
