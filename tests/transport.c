/* transport.c: stream transports and protocols over TCP, on the loop
 * kind under test (asyncio's test_selector_events / test_proactor_events
 * and test_sock_lowlevel shapes)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "evl-test-protocol.h"

#include <errno.h>
#include <string.h>

#include <gio/gnetworking.h>   /* the BSD socket API, or Winsock */

#define MIB (1024 * 1024)

typedef struct
{
  EvlLoop     *loop;
  TestFactory  server_factory;
  TestFactory  client_factory;
  EvlServer   *server;
  guint        fds_before;
} Fixture;

static gboolean
setup (Fixture    *fx,
       const char *host)
{
  memset (fx, 0, sizeof *fx);
  fx->fds_before = evl_test_count_fds ();
  fx->loop = evl_test_new_loop ();
  if (fx->loop == NULL)
    return FALSE;
  test_factory_init (&fx->server_factory);
  test_factory_init (&fx->client_factory);
  if (host != NULL)
    fx->server = test_start_server (fx->loop, &fx->server_factory, host);
  return TRUE;
}

static void
teardown (Fixture *fx)
{
  if (fx->server != NULL)
    test_server_close (fx->loop, fx->server);
  test_factory_clear (&fx->server_factory);
  test_factory_clear (&fx->client_factory);
  evl_test_close_loop (fx->loop);
  g_assert_cmpuint (evl_test_count_fds (), ==, fx->fds_before);
}

static TestProto *
server_proto (Fixture *fx,
              guint    i)
{
  while (fx->server_factory.created->len <= i)
    evl_test_run_once (fx->loop);
  return fx->server_factory.created->pdata[i];
}

static void
wait_lost (Fixture   *fx,
           TestProto *p)
{
  test_run_until (fx->loop, &p->lost);
  g_assert_cmpuint (p->n_lost, ==, 1);
}

static void
assert_same (GByteArray *got,
             GBytes     *want)
{
  gsize size;
  const guint8 *data = g_bytes_get_data (want, &size);

  g_assert_cmpuint (got->len, ==, size);
  g_assert_true (memcmp (got->data, data, size) == 0);
}

/* ---------------------------------------------------------------------- */

static void
test_echo_1mib (void)
{
  Fixture fx;
  TestProto *client, *server;
  EvlTransport *t;
  GBytes *data = test_pattern (MIB, 1);

  if (!setup (&fx, "127.0.0.1"))
    {
      g_bytes_unref (data);
      return;
    }
  fx.server_factory.template_.echo = TRUE;
  t = test_connect (fx.loop, &fx.client_factory, "127.0.0.1", evl_server_get_port (fx.server), &client);
  client->expect = MIB;
  evl_transport_write (t, data);
  test_run_until (fx.loop, &client->got_expected);
  assert_same (client->data, data);
  g_assert_cmpuint (evl_transport_get_write_buffer_size (t), ==, 0);

  evl_transport_close (t);
  g_assert_true (evl_transport_is_closing (t));
  wait_lost (&fx, client);
  g_assert_no_error (client->error);
  server = server_proto (&fx, 0);
  wait_lost (&fx, server);
  g_assert_no_error (server->error);
  g_assert_cmpuint (server->n_eof, ==, 1);
  g_assert_cmpuint (evl_server_get_n_connections (fx.server), ==, 0);

  g_object_unref (t);
  g_object_unref (client);
  g_bytes_unref (data);
  teardown (&fx);
}

static void
test_echo_small_writes (void)
{
  Fixture fx;
  TestProto *client;
  EvlTransport *t;
  GBytes *data = test_pattern (7 * 5000, 2);
  gsize i;

  if (!setup (&fx, "127.0.0.1"))
    {
      g_bytes_unref (data);
      return;
    }
  fx.server_factory.template_.echo = TRUE;
  t = test_connect (fx.loop, &fx.client_factory, "127.0.0.1", evl_server_get_port (fx.server), &client);
  client->expect = g_bytes_get_size (data);
  for (i = 0; i < 5000; i++)
    {
      GBytes *piece = g_bytes_new_from_bytes (data, i * 7, 7);

      evl_transport_write (t, piece);
      g_bytes_unref (piece);
    }
  test_run_until (fx.loop, &client->got_expected);
  assert_same (client->data, data);
  evl_transport_close (t);
  wait_lost (&fx, client);
  wait_lost (&fx, server_proto (&fx, 0));

  g_object_unref (t);
  g_object_unref (client);
  g_bytes_unref (data);
  teardown (&fx);
}

typedef struct
{
  TestWaiter   w;
  TestFactory *factory;
  guint        made_at_callback;
} MadeCheck;

static void
made_check_cb (GObject      *source,
               GAsyncResult *result,
               gpointer      data)
{
  MadeCheck *mc = data;

  mc->made_at_callback = mc->factory->created->len > 0
                         ? TEST_PROTO (mc->factory->created->pdata[0])->n_made : 0;
  test_waiter_cb (source, result, &mc->w);
}

static void
test_made_before_callback (void)
{
  Fixture fx;
  MadeCheck mc;
  GError *error = NULL;
  EvlTransport *t;
  EvlProtocol *p = NULL;
  GSocketAddress *peer, *local;

  if (!setup (&fx, "127.0.0.1"))
    return;
  test_waiter_init (&mc.w, fx.loop);
  mc.factory = &fx.client_factory;
  mc.made_at_callback = 0;
  evl_loop_create_connection_async (fx.loop, (EvlProtocolFactory) test_factory_make,
                                    &fx.client_factory, NULL, "127.0.0.1",
                                    evl_server_get_port (fx.server), NULL, made_check_cb, &mc);
  g_assert_false (mc.w.done);
  test_waiter_wait (&mc.w);
  g_assert_cmpuint (mc.made_at_callback, ==, 1);
  t = evl_loop_create_connection_finish (fx.loop, mc.w.result, &p, &error);
  g_assert_no_error (error);
  g_assert_true (TEST_PROTO (p)->transport == t);
  g_assert_true (evl_transport_get_protocol (t) == G_OBJECT (p));
  g_assert_true (evl_transport_get_loop (t) == fx.loop);
  g_assert_true (evl_transport_is_reading (t));
  g_assert_true (evl_transport_can_write_eof (t));
  g_assert_cmpint (evl_transport_get_fd (t), >=, 0);
  peer = evl_transport_get_peer_address (t);
  local = evl_transport_get_local_address (t);
  g_assert_true (G_IS_INET_SOCKET_ADDRESS (peer));
  g_assert_true (G_IS_INET_SOCKET_ADDRESS (local));
  g_assert_cmpuint (g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (peer)), ==,
                    evl_server_get_port (fx.server));
  test_waiter_clear (&mc.w);

  evl_transport_close (t);
  wait_lost (&fx, TEST_PROTO (p));
  g_assert_null (evl_transport_get_protocol (t));
  wait_lost (&fx, server_proto (&fx, 0));
  g_object_unref (t);
  g_object_unref (p);
  teardown (&fx);
}

/* Half-close both ways: each side writes, then write_eof; the other side
 * gets the data, then eof_received (kept open), and still writes. */
static void
test_write_eof (void)
{
  Fixture fx;
  TestProto *client, *server;
  EvlTransport *t;
  GBytes *hello = g_bytes_new_static ("hello", 5);

  if (!setup (&fx, "127.0.0.1"))
    {
      g_bytes_unref (hello);
      return;
    }
  fx.server_factory.template_.keep_open = TRUE;
  fx.server_factory.template_.echo = TRUE;
  fx.server_factory.template_.echo_eof = TRUE;
  fx.client_factory.template_.keep_open = TRUE;
  t = test_connect (fx.loop, &fx.client_factory, "127.0.0.1", evl_server_get_port (fx.server), &client);
  evl_transport_write (t, hello);
  evl_transport_write_eof (t);
  evl_transport_write_eof (t);   /* twice: nothing */
  server = server_proto (&fx, 0);
  test_run_until (fx.loop, &server->eof);
  g_assert_cmpuint (server->data->len, ==, 5);
  test_run_until (fx.loop, &client->eof);
  g_assert_cmpuint (client->data->len, ==, 5);
  g_assert_true (memcmp (client->data->data, "hello", 5) == 0);
  g_assert_false (client->lost);
  g_assert_false (server->lost);
  g_assert_false (evl_transport_is_closing (t));

  /* Both write sides are shut: closing ends both cleanly. */
  evl_transport_close (t);
  wait_lost (&fx, client);
  g_assert_no_error (client->error);
  evl_transport_close (server->transport);
  wait_lost (&fx, server);
  g_assert_no_error (server->error);

  g_object_unref (t);
  g_object_unref (client);
  g_bytes_unref (hello);
  teardown (&fx);
}

/* eof_received returning FALSE closes the transport. */
static void
test_eof_closes (void)
{
  Fixture fx;
  TestProto *client, *server;
  EvlTransport *t;

  if (!setup (&fx, "127.0.0.1"))
    return;
  t = test_connect (fx.loop, &fx.client_factory, "127.0.0.1", evl_server_get_port (fx.server), &client);
  evl_transport_write_eof (t);
  server = server_proto (&fx, 0);
  wait_lost (&fx, server);
  g_assert_cmpuint (server->n_eof, ==, 1);
  g_assert_no_error (server->error);
  wait_lost (&fx, client);
  g_assert_cmpuint (client->n_eof, ==, 1);
  g_assert_no_error (client->error);
  g_object_unref (t);
  g_object_unref (client);
  teardown (&fx);
}

/* Fills the client's write buffer against a server that does not read. */
static void
fill_until_paused (Fixture      *fx,
                   EvlTransport *t,
                   TestProto    *client)
{
  GBytes *chunk = test_pattern (64 * 1024, 3);
  guint i;

  for (i = 0; i < 4096 && client->n_pause == 0; i++)
    {
      evl_transport_write (t, chunk);
      if (client->n_pause == 0)
        evl_test_run_once (fx->loop);
    }
  g_assert_cmpuint (client->n_pause, ==, 1);
  g_bytes_unref (chunk);
}

static void
test_abort (void)
{
  Fixture fx;
  TestProto *client, *server;
  EvlTransport *t;

  if (!setup (&fx, "127.0.0.1"))
    return;
  t = test_connect (fx.loop, &fx.client_factory, "127.0.0.1", evl_server_get_port (fx.server), &client);
  server = server_proto (&fx, 0);
  evl_transport_pause_reading (server->transport);
  fill_until_paused (&fx, t, client);
  g_assert_cmpuint (evl_transport_get_write_buffer_size (t), >, 0);

  evl_transport_abort (t);
  g_assert_true (evl_transport_is_closing (t));
  g_assert_cmpuint (evl_transport_get_write_buffer_size (t), ==, 0);
  g_assert_false (client->lost);   /* from the loop, not from abort() */
  wait_lost (&fx, client);
  g_assert_no_error (client->error);
  g_assert_cmpuint (client->n_resume, ==, 0);

  evl_transport_resume_reading (server->transport);
  wait_lost (&fx, server);
  g_object_unref (t);
  g_object_unref (client);
  teardown (&fx);
}

/* close() sends what is buffered, then closes. */
static void
test_close_flushes (void)
{
  Fixture fx;
  TestProto *client, *server;
  EvlTransport *t;
  GBytes *data = test_pattern (4 * MIB, 4);

  if (!setup (&fx, "127.0.0.1"))
    {
      g_bytes_unref (data);
      return;
    }
  t = test_connect (fx.loop, &fx.client_factory, "127.0.0.1", evl_server_get_port (fx.server), &client);
  evl_transport_write (t, data);
  evl_transport_close (t);
  g_assert_true (evl_transport_is_closing (t));
  evl_transport_close (t);   /* twice: nothing */
  /* Written after close: dropped. */
  evl_transport_write (t, data);
  server = server_proto (&fx, 0);
  wait_lost (&fx, server);
  assert_same (server->data, data);
  g_assert_cmpuint (server->n_eof, ==, 1);
  wait_lost (&fx, client);
  g_assert_no_error (client->error);
  g_assert_cmpuint (evl_transport_get_write_buffer_size (t), ==, 0);
  g_object_unref (t);
  g_object_unref (client);
  g_bytes_unref (data);
  teardown (&fx);
}

/* pause_writing over the high-water mark, resume_writing at the low one,
 * each once per crossing. */
static void
test_flow_control (void)
{
  Fixture fx;
  TestProto *client, *server;
  EvlTransport *t;
  gsize high, low;

  if (!setup (&fx, "127.0.0.1"))
    return;
  t = test_connect (fx.loop, &fx.client_factory, "127.0.0.1", evl_server_get_port (fx.server), &client);
  evl_transport_get_write_buffer_limits (t, &high, &low);
  g_assert_cmpuint (high, ==, 64 * 1024);
  g_assert_cmpuint (low, ==, 16 * 1024);
  evl_transport_set_write_buffer_limits (t, 100000, 30000);
  evl_transport_get_write_buffer_limits (t, &high, &low);
  g_assert_cmpuint (high, ==, 100000);
  g_assert_cmpuint (low, ==, 30000);

  server = server_proto (&fx, 0);
  evl_transport_pause_reading (server->transport);
  g_assert_false (evl_transport_is_reading (server->transport));
  fill_until_paused (&fx, t, client);
  g_assert_cmpuint (evl_transport_get_write_buffer_size (t), >, 100000);
  g_assert_cmpuint (client->n_resume, ==, 0);

  /* Writing while paused only grows the buffer; no second pause. */
  {
    GBytes *more = test_pattern (1000, 5);
    evl_transport_write (t, more);
    g_bytes_unref (more);
  }
  g_assert_cmpuint (client->n_pause, ==, 1);

  evl_transport_resume_reading (server->transport);
  g_assert_true (evl_transport_is_reading (server->transport));
  while (client->n_resume == 0)
    evl_test_run_once (fx.loop);
  g_assert_cmpuint (client->n_pause, ==, 1);
  g_assert_cmpuint (evl_transport_get_write_buffer_size (t), <=, 30000);

  /* A second crossing each way. */
  evl_transport_pause_reading (server->transport);
  {
    GBytes *chunk = test_pattern (64 * 1024, 6);
    guint i;

    for (i = 0; i < 4096 && client->n_pause < 2; i++)
      {
        evl_transport_write (t, chunk);
        if (client->n_pause < 2)
          evl_test_run_once (fx.loop);
      }
    g_bytes_unref (chunk);
  }
  g_assert_cmpuint (client->n_pause, ==, 2);
  evl_transport_resume_reading (server->transport);
  while (client->n_resume < 2)
    evl_test_run_once (fx.loop);

  evl_transport_close (t);
  wait_lost (&fx, client);
  wait_lost (&fx, server);
  g_assert_cmpuint (client->n_pause, ==, 2);
  g_assert_cmpuint (client->n_resume, ==, 2);
  g_object_unref (t);
  g_object_unref (client);
  teardown (&fx);
}

/* (0, 0): paused whenever anything is buffered, resumed when empty. */
static void
test_flow_control_zero (void)
{
  Fixture fx;
  TestProto *client, *server;
  EvlTransport *t;
  GBytes *chunk = test_pattern (256 * 1024, 7);
  guint i;

  if (!setup (&fx, "127.0.0.1"))
    {
      g_bytes_unref (chunk);
      return;
    }
  t = test_connect (fx.loop, &fx.client_factory, "127.0.0.1", evl_server_get_port (fx.server), &client);
  server = server_proto (&fx, 0);
  evl_transport_pause_reading (server->transport);
  evl_transport_set_write_buffer_limits (t, 0, 0);
  g_assert_cmpuint (client->n_pause, ==, 0);
  for (i = 0; i < 1000 && client->n_pause == 0; i++)
    {
      evl_transport_write (t, chunk);
      g_assert_true ((evl_transport_get_write_buffer_size (t) > 0) == (client->n_pause == 1));
    }
  g_assert_cmpuint (client->n_pause, ==, 1);
  evl_transport_resume_reading (server->transport);
  while (client->n_resume == 0)
    evl_test_run_once (fx.loop);
  g_assert_cmpuint (evl_transport_get_write_buffer_size (t), ==, 0);

  evl_transport_close (t);
  wait_lost (&fx, client);
  wait_lost (&fx, server);
  g_object_unref (t);
  g_object_unref (client);
  g_bytes_unref (chunk);
  teardown (&fx);
}

static void
test_limits_high_below_low (void)
{
  if (g_test_subprocess ())
    {
      Fixture fx;
      TestProto *client;
      EvlTransport *t;

      if (!setup (&fx, "127.0.0.1"))
        return;
      t = test_connect (fx.loop, &fx.client_factory, "127.0.0.1", evl_server_get_port (fx.server), &client);
      evl_transport_set_write_buffer_limits (t, 10, 20);
      return;
    }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_failed ();
  g_test_trap_assert_stderr ("*high >= low*");
}

static void
set_flag (gpointer data)
{
  *(gboolean *) data = TRUE;
}

/* Lets the loop run for at least @seconds (a lower bound only). */
static void
run_for (EvlLoop *loop,
         double   seconds)
{
  gboolean done = FALSE;
  EvlHandle *h = evl_loop_call_later (loop, seconds, set_flag, &done, NULL);

  g_assert_nonnull (h);
  test_run_until (loop, &done);
}

static void
test_pause_reading (void)
{
  Fixture fx;
  TestProto *client, *server;
  EvlTransport *t;
  GBytes *data = test_pattern (300 * 1024, 8);

  if (!setup (&fx, "127.0.0.1"))
    {
      g_bytes_unref (data);
      return;
    }
  t = test_connect (fx.loop, &fx.client_factory, "127.0.0.1", evl_server_get_port (fx.server), &client);
  client->expect = g_bytes_get_size (data);
  evl_transport_pause_reading (t);
  evl_transport_pause_reading (t);   /* twice: nothing */
  g_assert_false (evl_transport_is_reading (t));
  server = server_proto (&fx, 0);
  evl_transport_write (server->transport, data);
  run_for (fx.loop, 0.2);
  g_assert_cmpuint (client->data->len, ==, 0);
  evl_transport_resume_reading (t);
  g_assert_true (evl_transport_is_reading (t));
  test_run_until (fx.loop, &client->got_expected);
  assert_same (client->data, data);

  /* Paused between pieces: one data_received per resume. */
  client->pause_on_data = TRUE;
  client->got_expected = FALSE;
  client->expect += g_bytes_get_size (data);
  evl_transport_write (server->transport, data);
  while (!client->got_expected)
    {
      guint before = client->n_data;

      while (client->n_data == before)
        evl_test_run_once (fx.loop);
      g_assert_false (evl_transport_is_reading (t));
      run_for (fx.loop, 0.01);
      g_assert_cmpuint (client->n_data, ==, before + 1);
      evl_transport_resume_reading (t);
    }

  evl_transport_close (t);
  wait_lost (&fx, client);
  wait_lost (&fx, server);
  g_object_unref (t);
  g_object_unref (client);
  g_bytes_unref (data);
  teardown (&fx);
}

static guint16
free_port_refused (void)
{
  struct sockaddr_in sin = { 0 };
  socklen_t len = sizeof sin;
  int fd = evl_test_tcp_socket (G_SOCKET_FAMILY_IPV4);

  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  g_assert_cmpint (bind (fd, (struct sockaddr *) &sin, sizeof sin), ==, 0);
  g_assert_cmpint (getsockname (fd, (struct sockaddr *) &sin, &len), ==, 0);
  evl_test_sock_close (fd);   /* bound, never listened: the port refuses */
  return ntohs (sin.sin_port);
}

static void
test_refused (void)
{
  Fixture fx;
  TestWaiter w;
  GError *error = NULL;
  EvlProtocol *p = (EvlProtocol *) 0x1;

  if (!setup (&fx, NULL))
    return;
  test_waiter_init (&w, fx.loop);
  evl_loop_create_connection_async (fx.loop, (EvlProtocolFactory) test_factory_make,
                                    &fx.client_factory, NULL, "127.0.0.1", free_port_refused (),
                                    NULL, test_waiter_cb, &w);
  test_waiter_wait (&w);
  g_assert_null (evl_loop_create_connection_finish (fx.loop, w.result, &p, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED);
  g_assert_null (p);
  g_assert_cmpuint (fx.client_factory.created->len, ==, 0);
  g_clear_error (&error);
  test_waiter_clear (&w);
  teardown (&fx);
}

/* The peer resets the connection (SO_LINGER 0) while we write: the
 * transport reports an error, and SIGPIPE never comes. */
static void
test_reset_mid_write (void)
{
  Fixture fx;
  TestProto *client, *server;
  EvlTransport *t;
  struct linger lg = { 1, 0 };
  GBytes *chunk = test_pattern (256 * 1024, 10);
  guint i;

  if (!setup (&fx, "127.0.0.1"))
    {
      g_bytes_unref (chunk);
      return;
    }
  t = test_connect (fx.loop, &fx.client_factory, "127.0.0.1", evl_server_get_port (fx.server), &client);
  server = server_proto (&fx, 0);
  evl_transport_pause_reading (server->transport);
  fill_until_paused (&fx, t, client);
  g_assert_cmpint (setsockopt (evl_transport_get_fd (server->transport), SOL_SOCKET, SO_LINGER,
                               (void *) &lg, sizeof lg), ==, 0);
  evl_transport_abort (server->transport);
  wait_lost (&fx, server);
  /* Keep writing until the transport notices. */
  for (i = 0; i < 10000 && !client->lost; i++)
    {
      evl_transport_write (t, chunk);
      evl_test_run_once (fx.loop);
    }
  wait_lost (&fx, client);
  g_assert_nonnull (client->error);
  g_assert_true (client->error->domain == G_IO_ERROR);
  g_assert_true (client->error->code == G_IO_ERROR_CONNECTION_CLOSED ||
                 client->error->code == G_IO_ERROR_BROKEN_PIPE ||
                 client->error->code == G_IO_ERROR_FAILED);
  g_assert_true (evl_transport_is_closing (t));
  g_assert_cmpuint (evl_transport_get_write_buffer_size (t), ==, 0);
  /* Written after the loss: dropped, quietly. */
  evl_transport_write (t, chunk);
  g_object_unref (t);
  g_object_unref (client);
  g_bytes_unref (chunk);
  teardown (&fx);
}

/* The peer sends, then closes: every byte arrives before eof and lost. */
static void
test_peer_gone (void)
{
  Fixture fx;
  TestProto *client, *server;
  EvlTransport *t;
  GBytes *data = test_pattern (MIB, 11);

  if (!setup (&fx, "127.0.0.1"))
    {
      g_bytes_unref (data);
      return;
    }
  t = test_connect (fx.loop, &fx.client_factory, "127.0.0.1", evl_server_get_port (fx.server), &client);
  server = server_proto (&fx, 0);
  evl_transport_write (server->transport, data);
  evl_transport_close (server->transport);
  wait_lost (&fx, client);
  g_assert_no_error (client->error);
  g_assert_cmpuint (client->n_eof, ==, 1);
  assert_same (client->data, data);
  wait_lost (&fx, server);
  g_object_unref (t);
  g_object_unref (client);
  g_bytes_unref (data);
  teardown (&fx);
}

static gboolean
have_ipv6_loopback (void)
{
  GSocket *sock = g_socket_new (G_SOCKET_FAMILY_IPV6, G_SOCKET_TYPE_STREAM,
                                G_SOCKET_PROTOCOL_TCP, NULL);
  GInetAddress *loopback;
  GSocketAddress *address;
  gboolean ok;

  if (sock == NULL)
    return FALSE;
  loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV6);
  address = g_inet_socket_address_new (loopback, 0);
  ok = g_socket_bind (sock, address, FALSE, NULL);
  g_object_unref (address);
  g_object_unref (loopback);
  g_object_unref (sock);
  return ok;
}

static void
run_echo_over (const char *server_host,
               const char *client_host,
               GType       address_family_check)
{
  Fixture fx;
  TestProto *client;
  EvlTransport *t;
  GBytes *data = test_pattern (100000, 12);

  if (!setup (&fx, server_host))
    {
      g_bytes_unref (data);
      return;
    }
  fx.server_factory.template_.echo = TRUE;
  t = test_connect (fx.loop, &fx.client_factory, client_host, evl_server_get_port (fx.server), &client);
  g_assert_true (G_IS_INET_SOCKET_ADDRESS (evl_transport_get_peer_address (t)));
  client->expect = g_bytes_get_size (data);
  evl_transport_write (t, data);
  test_run_until (fx.loop, &client->got_expected);
  assert_same (client->data, data);
  evl_transport_close (t);
  wait_lost (&fx, client);
  wait_lost (&fx, server_proto (&fx, 0));
  g_object_unref (t);
  g_object_unref (client);
  g_bytes_unref (data);
  teardown (&fx);
}

static void
test_ipv4 (void)
{
  run_echo_over ("127.0.0.1", "127.0.0.1", 0);
}

static void
test_ipv6 (void)
{
  if (!have_ipv6_loopback ())
    {
      g_test_skip ("this machine has no IPv6 loopback (::1)");
      return;
    }
  run_echo_over ("::1", "::1", 0);
}

/* A name (resolved in a worker thread) and a server on every interface. */
static void
test_localhost_any (void)
{
  run_echo_over ("", "localhost", 0);   /* "": every interface */
}

static void
test_cancel_connection (void)
{
  Fixture fx;
  TestWaiter w;
  GCancellable *cancellable = g_cancellable_new ();
  GError *error = NULL;
  guint round;

  if (!setup (&fx, "127.0.0.1"))
    {
      g_object_unref (cancellable);
      return;
    }
  /* Before the call, right after it (numeric and named hosts). */
  for (round = 0; round < 3; round++)
    {
      g_cancellable_reset (cancellable);
      if (round == 0)
        g_cancellable_cancel (cancellable);
      test_waiter_init (&w, fx.loop);
      evl_loop_create_connection_async (fx.loop, (EvlProtocolFactory) test_factory_make,
                                        &fx.client_factory, NULL,
                                        round == 2 ? "localhost" : "127.0.0.1",
                                        evl_server_get_port (fx.server),
                                        cancellable, test_waiter_cb, &w);
      g_cancellable_cancel (cancellable);
      test_waiter_wait (&w);
      g_assert_null (evl_loop_create_connection_finish (fx.loop, w.result, NULL, &error));
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
      g_clear_error (&error);
      test_waiter_clear (&w);
    }
  g_assert_cmpuint (fx.client_factory.created->len, ==, 0);
  /* Connections the server may have accepted meanwhile end. */
  while (evl_server_get_n_connections (fx.server) > 0)
    evl_test_run_once (fx.loop);
  g_object_unref (cancellable);
  teardown (&fx);
}

static void
test_cancel_server (void)
{
  Fixture fx;
  TestWaiter w;
  GCancellable *cancellable = g_cancellable_new ();
  GError *error = NULL;
  guint round;

  if (!setup (&fx, NULL))
    {
      g_object_unref (cancellable);
      return;
    }
  for (round = 0; round < 3; round++)
    {
      g_cancellable_reset (cancellable);
      if (round == 0)
        g_cancellable_cancel (cancellable);
      test_waiter_init (&w, fx.loop);
      evl_loop_create_server_async (fx.loop, (EvlProtocolFactory) test_factory_make,
                                    &fx.server_factory, NULL,
                                    round == 2 ? "localhost" : "127.0.0.1", 0,
                                    cancellable, test_waiter_cb, &w);
      g_cancellable_cancel (cancellable);
      test_waiter_wait (&w);
      g_assert_null (evl_loop_create_server_finish (fx.loop, w.result, &error));
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
      g_clear_error (&error);
      test_waiter_clear (&w);
    }
  g_object_unref (cancellable);
  teardown (&fx);
}

int
main (int    argc,
      char **argv)
{
  evl_test_init (&argc, &argv);
  evl_test_sigpipe_default ();   /* a SIGPIPE must kill the test */

  g_test_add_func ("/Evl/Transport/echo/1mib", test_echo_1mib);
  g_test_add_func ("/Evl/Transport/echo/small-writes", test_echo_small_writes);
  g_test_add_func ("/Evl/Transport/connection-made-before-callback", test_made_before_callback);
  g_test_add_func ("/Evl/Transport/write-eof/both-ways", test_write_eof);
  g_test_add_func ("/Evl/Transport/write-eof/eof-closes", test_eof_closes);
  g_test_add_func ("/Evl/Transport/abort", test_abort);
  g_test_add_func ("/Evl/Transport/close-flushes", test_close_flushes);
  g_test_add_func ("/Evl/Transport/flow-control/water-marks", test_flow_control);
  g_test_add_func ("/Evl/Transport/flow-control/zero", test_flow_control_zero);
  g_test_add_func ("/Evl/Transport/flow-control/high-below-low", test_limits_high_below_low);
  g_test_add_func ("/Evl/Transport/pause-reading", test_pause_reading);
  g_test_add_func ("/Evl/Transport/refused", test_refused);
  g_test_add_func ("/Evl/Transport/reset-mid-write", test_reset_mid_write);
  g_test_add_func ("/Evl/Transport/peer-gone", test_peer_gone);
  g_test_add_func ("/Evl/Transport/ipv4", test_ipv4);
  g_test_add_func ("/Evl/Transport/ipv6", test_ipv6);
  g_test_add_func ("/Evl/Transport/localhost-any", test_localhost_any);
  g_test_add_func ("/Evl/Transport/cancel/connection", test_cancel_connection);
  g_test_add_func ("/Evl/Transport/cancel/server", test_cancel_server);

  return g_test_run ();
}
