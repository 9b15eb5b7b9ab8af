/* evl-demo-echo.c: a line-based TCP echo server and client on an evloop
 * loop, with plain non-blocking sockets and add_reader/add_writer
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#define _GNU_SOURCE  /* accept4 */

#include "evl-demo-echo.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

DemoStats demo_stats;

static gboolean
set_errno_error (GError     **error,
                 const char  *what)
{
  int errsv = errno;

  g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv), "%s: %s", what,
               g_strerror (errsv));
  return FALSE;
}

/* Sends what @out holds; returns FALSE (with errno set) on a hard error. */
static gboolean
send_buffered (int         fd,
               GByteArray *out)
{
  while (out->len > 0)
    {
      gssize n = send (fd, out->data, out->len, MSG_NOSIGNAL);

      if (n < 0)
        return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
      g_byte_array_remove_range (out, 0, (guint) n);
    }
  return TRUE;
}

/* Server ----------------------------------------------------------------- */

struct _DemoServer
{
  EvlLoop *loop;
  int      fd;
  guint16  port;
  GList   *peers;
};

typedef struct
{
  DemoServer *server;
  int         fd;
  GByteArray *out;
  gboolean    writing;
} Peer;

static void
peer_free (Peer *peer)
{
  evl_loop_remove_reader (peer->server->loop, peer->fd);
  if (peer->writing)
    evl_loop_remove_writer (peer->server->loop, peer->fd);
  close (peer->fd);
  g_byte_array_unref (peer->out);
  peer->server->peers = g_list_remove (peer->server->peers, peer);
  g_free (peer);
}

static void peer_writable_cb (gpointer data);

/* Returns FALSE if the peer is gone. */
static gboolean
peer_flush (Peer *peer)
{
  if (!send_buffered (peer->fd, peer->out))
    {
      peer_free (peer);
      return FALSE;
    }
  if (peer->out->len > 0 && !peer->writing)
    peer->writing = evl_loop_add_writer (peer->server->loop, peer->fd, peer_writable_cb,
                                         peer, NULL, NULL);
  else if (peer->out->len == 0 && peer->writing)
    {
      evl_loop_remove_writer (peer->server->loop, peer->fd);
      peer->writing = FALSE;
    }
  return TRUE;
}

static void
peer_writable_cb (gpointer data)
{
  DEMO_CALLBACK ();
  peer_flush (data);
}

static void
peer_readable_cb (gpointer data)
{
  Peer *peer = data;
  guint8 buf[4096];

  DEMO_CALLBACK ();
  for (;;)
    {
      gssize n = recv (peer->fd, buf, sizeof buf, 0);

      if (n > 0)
        {
          g_byte_array_append (peer->out, buf, (guint) n);
          demo_stats.bytes_echoed += (guint64) n;
          continue;
        }
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        break;
      /* EOF or a hard error: the peer is done. */
      peer_free (peer);
      return;
    }
  peer_flush (peer);
}

static void
server_accept_cb (gpointer data)
{
  DemoServer *server = data;

  DEMO_CALLBACK ();
  for (;;)
    {
      int fd = accept4 (server->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
      Peer *peer;

      if (fd < 0)
        break;
      peer = g_new0 (Peer, 1);
      peer->server = server;
      peer->fd = fd;
      peer->out = g_byte_array_new ();
      server->peers = g_list_prepend (server->peers, peer);
      if (!evl_loop_add_reader (server->loop, fd, peer_readable_cb, peer, NULL, NULL))
        peer_free (peer);
    }
}

DemoServer *
demo_server_new (EvlLoop  *loop,
                 guint16   port,
                 GError  **error)
{
  struct sockaddr_in addr = { 0 };
  socklen_t len = sizeof addr;
  DemoServer *server;
  int fd, one = 1;

  fd = socket (AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0)
    {
      set_errno_error (error, "socket");
      return NULL;
    }
  setsockopt (fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  addr.sin_family = AF_INET;
  addr.sin_port = htons (port);
  addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  if (bind (fd, (struct sockaddr *) &addr, sizeof addr) < 0 ||
      listen (fd, 16) < 0 ||
      getsockname (fd, (struct sockaddr *) &addr, &len) < 0)
    {
      set_errno_error (error, "bind/listen");
      close (fd);
      return NULL;
    }

  server = g_new0 (DemoServer, 1);
  server->loop = g_object_ref (loop);
  server->fd = fd;
  server->port = ntohs (addr.sin_port);
  if (!evl_loop_add_reader (loop, fd, server_accept_cb, server, NULL, error))
    {
      demo_server_free (server);
      return NULL;
    }
  return server;
}

guint16
demo_server_get_port (DemoServer *server)
{
  return server->port;
}

guint
demo_server_get_n_peers (DemoServer *server)
{
  return g_list_length (server->peers);
}

void
demo_server_free (DemoServer *server)
{
  while (server->peers != NULL)
    peer_free (server->peers->data);
  evl_loop_remove_reader (server->loop, server->fd);
  close (server->fd);
  g_object_unref (server->loop);
  g_free (server);
}

/* Client ----------------------------------------------------------------- */

struct _DemoClient
{
  EvlLoop        *loop;
  int             fd;
  gboolean        connected;
  gboolean        reading;
  gboolean        writing;
  GByteArray     *out;
  GString        *in;
  DemoClientFunc  func;
  gpointer        user_data;
  guint           busy;          /* calls to func on the stack */
  gboolean        free_pending;  /* demo_client_free() ran from func */
};

static void
client_unwatch (DemoClient *client)
{
  if (client->reading)
    evl_loop_remove_reader (client->loop, client->fd);
  if (client->writing)
    evl_loop_remove_writer (client->loop, client->fd);
  client->reading = client->writing = FALSE;
}

static void
client_really_free (DemoClient *client)
{
  client_unwatch (client);
  if (client->fd >= 0)
    close (client->fd);
  g_byte_array_unref (client->out);
  g_string_free (client->in, TRUE);
  g_object_unref (client->loop);
  g_free (client);
}

/* Calls the user's function; returns FALSE if the client was freed by it. */
static gboolean
client_emit (DemoClient   *client,
             const char   *line,
             const GError *error)
{
  client->busy++;
  client->func (client, line, error, client->user_data);
  client->busy--;
  if (client->free_pending && client->busy == 0)
    {
      client_really_free (client);
      return FALSE;
    }
  return !client->free_pending;
}

static void
client_fail (DemoClient *client,
             GError     *error)
{
  client_unwatch (client);
  client->connected = FALSE;
  if (client->fd >= 0)
    {
      close (client->fd);
      client->fd = -1;
    }
  client_emit (client, NULL, error);
  g_error_free (error);
}

static void client_writable_cb (gpointer data);

static gboolean
client_flush (DemoClient *client)
{
  if (!send_buffered (client->fd, client->out))
    {
      GError *error = NULL;

      set_errno_error (&error, "send");
      client_fail (client, error);
      return FALSE;
    }
  if (client->out->len > 0 && !client->writing)
    client->writing = evl_loop_add_writer (client->loop, client->fd, client_writable_cb,
                                           client, NULL, NULL);
  else if (client->out->len == 0 && client->writing)
    {
      evl_loop_remove_writer (client->loop, client->fd);
      client->writing = FALSE;
    }
  return TRUE;
}

static void
client_writable_cb (gpointer data)
{
  DEMO_CALLBACK ();
  client_flush (data);
}

static void
client_readable_cb (gpointer data)
{
  DemoClient *client = data;
  char buf[4096];
  char *nl;

  DEMO_CALLBACK ();
  for (;;)
    {
      gssize n = recv (client->fd, buf, sizeof buf, 0);

      if (n > 0)
        {
          g_string_append_len (client->in, buf, n);
          continue;
        }
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        break;
      if (n == 0)
        client_fail (client, g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED,
                                                  "the server closed the connection"));
      else
        {
          GError *error = NULL;

          set_errno_error (&error, "recv");
          client_fail (client, error);
        }
      return;
    }

  while ((nl = memchr (client->in->str, '\n', client->in->len)) != NULL)
    {
      char *line = g_strndup (client->in->str, nl - client->in->str);
      gboolean alive;

      g_string_erase (client->in, 0, nl - client->in->str + 1);
      demo_stats.lines_echoed++;
      alive = client_emit (client, line, NULL);
      g_free (line);
      if (!alive)
        return;
    }
}

static void
client_connect_cb (gpointer data)
{
  DemoClient *client = data;
  socklen_t len = sizeof (int);
  int err = 0;

  DEMO_CALLBACK ();
  evl_loop_remove_writer (client->loop, client->fd);
  client->writing = FALSE;
  if (getsockopt (client->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
    err = errno;
  if (err != 0)
    {
      client_fail (client, g_error_new (G_IO_ERROR, g_io_error_from_errno (err),
                                        "connect: %s", g_strerror (err)));
      return;
    }
  client->connected = TRUE;
  client->reading = evl_loop_add_reader (client->loop, client->fd, client_readable_cb,
                                         client, NULL, NULL);
  if (!client_emit (client, NULL, NULL))
    return;
  client_flush (client);
}

DemoClient *
demo_client_new (EvlLoop         *loop,
                 guint16          port,
                 DemoClientFunc   func,
                 gpointer         user_data,
                 GError         **error)
{
  struct sockaddr_in addr = { 0 };
  DemoClient *client;
  int fd, one = 1;

  fd = socket (AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0)
    {
      set_errno_error (error, "socket");
      return NULL;
    }
  setsockopt (fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  addr.sin_family = AF_INET;
  addr.sin_port = htons (port);
  addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  if (connect (fd, (struct sockaddr *) &addr, sizeof addr) < 0 && errno != EINPROGRESS)
    {
      set_errno_error (error, "connect");
      close (fd);
      return NULL;
    }

  client = g_new0 (DemoClient, 1);
  client->loop = g_object_ref (loop);
  client->fd = fd;
  client->out = g_byte_array_new ();
  client->in = g_string_new (NULL);
  client->func = func;
  client->user_data = user_data;
  /* Writable once the connection is made (or has failed). */
  client->writing = evl_loop_add_writer (loop, fd, client_connect_cb, client, NULL, error);
  if (!client->writing)
    {
      client_really_free (client);
      return NULL;
    }
  return client;
}

gboolean
demo_client_is_connected (DemoClient *client)
{
  return client->connected;
}

void
demo_client_send_line (DemoClient *client,
                       const char *line)
{
  if (client->fd < 0)
    return;
  g_byte_array_append (client->out, (const guint8 *) line, strlen (line));
  g_byte_array_append (client->out, (const guint8 *) "\n", 1);
  if (client->connected)
    client_flush (client);
}

void
demo_client_free (DemoClient *client)
{
  if (client->busy > 0)
    {
      client_unwatch (client);
      client->free_pending = TRUE;
      return;
    }
  client_really_free (client);
}
