/* happy-eyeballs.c: create_connection with Happy Eyeballs (RFC 8305,
 * asyncio's happy_eyeballs_delay and interleave), on the loop kind under
 * test
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "evl-test-protocol.h"

#include <math.h>
#include <string.h>

#include <gio/gnetworking.h>   /* the BSD socket API, or Winsock */

/* The host name the test resolver answers; every address it returns gets
 * the port of the create_connection call. */
#define TEST_HOST "happy.eyeballs.test"

/* ---------------------------------------------------------------------- */
/* A GResolver that answers every name with a list set by the test: the
 * library resolves names with g_resolver_get_default() in a worker
 * thread, numeric hosts without it. */

#define TEST_TYPE_RESOLVER (test_resolver_get_type ())
G_DECLARE_FINAL_TYPE (TestResolver, test_resolver, TEST, RESOLVER, GResolver)

struct _TestResolver
{
  GResolver  parent_instance;
  GList     *addresses;   /* GInetAddress; set before a lookup, read by it */
  gint       n_lookups;   /* atomic */
};

G_DEFINE_TYPE (TestResolver, test_resolver, G_TYPE_RESOLVER)

static GList *
test_resolver_lookup_by_name (GResolver     *resolver,
                              const char    *hostname,
                              GCancellable  *cancellable,
                              GError       **error)
{
  TestResolver *self = TEST_RESOLVER (resolver);
  GList *copy;

  g_assert_cmpstr (hostname, ==, TEST_HOST);
  copy = g_list_copy_deep (self->addresses, (GCopyFunc) (void (*) (void)) g_object_ref, NULL);
  g_atomic_int_inc (&self->n_lookups);
  return copy;
}

static void
test_resolver_finalize (GObject *object)
{
  TestResolver *self = TEST_RESOLVER (object);

  g_list_free_full (self->addresses, g_object_unref);
  G_OBJECT_CLASS (test_resolver_parent_class)->finalize (object);
}

static void
test_resolver_class_init (TestResolverClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = test_resolver_finalize;
  G_RESOLVER_CLASS (klass)->lookup_by_name = test_resolver_lookup_by_name;
}

static void
test_resolver_init (TestResolver *self)
{
}

/* Sets the answer: numeric addresses, NULL-terminated. */
static void
test_resolver_set (TestResolver *self,
                   const char   *first,
                   ...)
{
  const char *ip;
  va_list ap;

  g_list_free_full (self->addresses, g_object_unref);
  self->addresses = NULL;
  va_start (ap, first);
  for (ip = first; ip != NULL; ip = va_arg (ap, const char *))
    self->addresses = g_list_append (self->addresses, g_inet_address_new_from_string (ip));
  va_end (ap);
}

/* ---------------------------------------------------------------------- */
/* fixture */

typedef struct
{
  EvlLoop      *loop;
  TestResolver *resolver;
  GResolver    *old_resolver;
  TestFactory   factory;
  guint         fds_before;
  guint         fds_at_made;   /* evl_test_count_fds() when the protocol was made */
} Fixture;

static gboolean
setup (Fixture *fx)
{
  memset (fx, 0, sizeof *fx);
  fx->fds_before = evl_test_count_fds ();
  fx->loop = evl_test_new_loop ();
  if (fx->loop == NULL)
    return FALSE;
  test_factory_init (&fx->factory);
  fx->resolver = g_object_new (TEST_TYPE_RESOLVER, NULL);
  fx->old_resolver = g_resolver_get_default ();
  g_resolver_set_default (G_RESOLVER (fx->resolver));
  return TRUE;
}

static void
teardown (Fixture *fx)
{
  g_resolver_set_default (fx->old_resolver);
  g_object_unref (fx->old_resolver);
  g_object_unref (fx->resolver);
  test_factory_clear (&fx->factory);
  evl_test_close_loop (fx->loop);
  g_assert_cmpuint (evl_test_count_fds (), ==, fx->fds_before);
}

/* The factory of the tests: counts the open fds at the moment the winning
 * connection gets its protocol, before the caller's callback. */
static EvlProtocol *
counting_factory_make (gpointer data)
{
  Fixture *fx = data;

  fx->fds_at_made = evl_test_count_fds ();
  return test_factory_make (&fx->factory);
}

static void
start (Fixture     *fx,
       guint16      port,
       double       delay,
       guint        interleave,
       GCancellable *cancellable,
       TestWaiter  *w)
{
  test_waiter_init (w, fx->loop);
  evl_loop_create_connection_happy_eyeballs_async (fx->loop, counting_factory_make, fx, NULL,
                                                   TEST_HOST, port, NULL, delay, interleave,
                                                   cancellable, test_waiter_cb, w);
}

/* ---------------------------------------------------------------------- */
/* sockets */

static GSocketAddress *
inet_address (const char *ip,
              guint16     port)
{
  GInetAddress *inet = g_inet_address_new_from_string (ip);
  GSocketAddress *address = g_inet_socket_address_new (inet, port);

  g_object_unref (inet);
  return address;
}

/* A listening socket on @ip and @port (0: any), or -1 when it cannot bind
 * (the port is taken there, or no such address on this machine). */
static int
listener_new (const char *ip,
              guint16     port,
              int         backlog,
              guint16    *bound_port)
{
  GInetAddress *inet = g_inet_address_new_from_string (ip);
  GSocketFamily family = g_inet_address_get_family (inet);
  GSocketAddress *address = inet_address (ip, port);
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  int fd = evl_test_tcp_socket (family);

  g_object_unref (inet);
  if (fd < 0)
    {
      g_object_unref (address);
      return -1;
    }
  g_assert_true (g_socket_address_to_native (address, &ss, sizeof ss, NULL));
  if (bind (fd, (struct sockaddr *) &ss, g_socket_address_get_native_size (address)) != 0)
    {
      g_object_unref (address);
      evl_test_sock_close (fd);
      return -1;
    }
  g_object_unref (address);
  g_assert_cmpint (listen (fd, backlog), ==, 0);
  g_assert_cmpint (getsockname (fd, (struct sockaddr *) &ss, &len), ==, 0);
  if (bound_port != NULL)
    *bound_port = ntohs (ss.ss_family == AF_INET ? ((struct sockaddr_in *) &ss)->sin_port
                                                 : ((struct sockaddr_in6 *) &ss)->sin6_port);
  return fd;
}

/* Starts a non-blocking connect of @fd to @ip:@port and waits up to
 * @timeout_ms for it to complete; whether it connected. */
static gboolean
connect_within (int         fd,
                const char *ip,
                guint16     port,
                int         timeout_ms)
{
  GSocketAddress *address = inet_address (ip, port);
  struct sockaddr_storage ss;
  struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
  fd_set writable;
  int err = -1;
  socklen_t len = sizeof err;

  g_assert_true (g_socket_address_to_native (address, &ss, sizeof ss, NULL));
  (void) connect (fd, (struct sockaddr *) &ss, g_socket_address_get_native_size (address));
  g_object_unref (address);
  FD_ZERO (&writable);
  FD_SET (fd, &writable);
  if (select (fd + 1, NULL, &writable, NULL, &tv) != 1)
    return FALSE;
  g_assert_cmpint (getsockopt (fd, SOL_SOCKET, SO_ERROR, (void *) &err, &len), ==, 0);
  return err == 0;
}

/* A black hole on loopback: a listener on @ip (127.0.0.2, 127.0.0.4...)
 * with a backlog of 0 whose queue is already full, so the kernel drops
 * every further SYN and a connect to it stays pending (for the minutes of
 * the system's connect timeout). FALSE (the test is then skipped) where
 * @ip:@port (0: any) is taken or the backlog does not work that way. */
typedef struct
{
  int     listener;
  int     filler;
  guint16 port;
} BlackHole;

static gboolean
black_hole_open (BlackHole  *bh,
                 const char *ip,
                 guint16     port)
{
  int probe;
  gboolean connected;

  bh->listener = listener_new (ip, port, 0, &bh->port);
  if (bh->listener < 0)
    {
      g_test_skip ("cannot listen on a 127.0.0.x address here, or the port is taken");
      return FALSE;
    }
  bh->filler = evl_test_tcp_socket (G_SOCKET_FAMILY_IPV4);
  (void) connect_within (bh->filler, ip, bh->port, 0);
  /* The filler counts once the listener holds it, not once its connect
   * returned (the handshake may end later, in softirq context). */
  evl_test_wait_backlog_full (bh->listener);
  /* A connection that completes now would complete in the test as well:
   * no black hole here. (A dropped SYN is retried after a second at the
   * earliest; a connection the backlog took completes at once.) */
  probe = evl_test_tcp_socket (G_SOCKET_FAMILY_IPV4);
  connected = connect_within (probe, ip, bh->port, 500);
  evl_test_sock_close (probe);
  if (connected)
    {
      evl_test_sock_close (bh->filler);
      evl_test_sock_close (bh->listener);
      g_test_skip ("a full listen backlog does not drop connections here (no black hole)");
      return FALSE;
    }
  return TRUE;
}

static void
black_hole_close (BlackHole *bh)
{
  evl_test_sock_close (bh->filler);
  evl_test_sock_close (bh->listener);
}

/* A listener on 127.0.0.1 with the black hole's port (the test resolver's
 * addresses share one port), or -1 (the test is skipped) when it is taken. */
static int
good_listener_new (guint16 port)
{
  int fd = listener_new ("127.0.0.1", port, 16, NULL);

  if (fd < 0)
    g_test_skip ("the port of the black hole is taken on 127.0.0.1");
  return fd;
}

static void
assert_peer (EvlTransport *t,
             const char   *ip,
             guint16       port)
{
  GSocketAddress *peer = evl_transport_get_peer_address (t);
  char *peer_ip;

  g_assert_true (G_IS_INET_SOCKET_ADDRESS (peer));
  peer_ip = g_inet_address_to_string (g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (peer)));
  g_assert_cmpstr (peer_ip, ==, ip);
  g_assert_cmpuint (g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (peer)), ==, port);
  g_free (peer_ip);
}

/* Closes the transport of a finished connection and waits for its
 * connection_lost. */
static void
close_connection (Fixture      *fx,
                  EvlTransport *t,
                  EvlProtocol  *p)
{
  TestProto *proto = TEST_PROTO (p);

  g_assert_cmpuint (proto->n_made, ==, 1);
  evl_transport_close (t);
  test_run_until (fx->loop, &proto->lost);
  g_object_unref (t);
  g_object_unref (p);
}

#ifdef G_OS_WIN32
# define COUNT_FDS_WHILE_RUNNING FALSE   /* handles of worker threads come and go */
#else
# define COUNT_FDS_WHILE_RUNNING TRUE
#endif

/* Runs the loop until both attempts of a call have a socket: on Unix the
 * fd count says so; on Windows, where handles of threads come and go, the
 * loop runs a while after the lookup. */
static void
wait_two_attempts (Fixture *fx,
                   guint    fds_before_call)
{
  while (g_atomic_int_get (&fx->resolver->n_lookups) == 0)
    evl_test_run_once (fx->loop);
  if (COUNT_FDS_WHILE_RUNNING)
    {
      while (evl_test_count_fds () < fds_before_call + 2)
        evl_test_run_once (fx->loop);
    }
  else
    evl_test_run_for (fx->loop, 0.3);
}

/* ---------------------------------------------------------------------- */
/* tests */

/* The first address is a black hole: the second attempt starts after the
 * delay, wins while the first is still pending, and the first socket is
 * closed before the callback. */
static void
test_black_hole_first (void)
{
  Fixture fx;
  BlackHole bh;
  TestWaiter w;
  EvlTransport *t;
  EvlProtocol *p = NULL;
  GError *error = NULL;
  guint fds_before_call, fds_max = 0;
  int good;

  if (!setup (&fx))
    return;
  if (!black_hole_open (&bh, "127.0.0.2", 0))
    {
      teardown (&fx);
      return;
    }
  if ((good = good_listener_new (bh.port)) < 0)
    {
      black_hole_close (&bh);
      teardown (&fx);
      return;
    }
  test_resolver_set (fx.resolver, "127.0.0.2", "127.0.0.1", NULL);

  fds_before_call = evl_test_count_fds ();
  start (&fx, bh.port, 0.05, 1, NULL, &w);
  while (!w.done)
    {
      evl_test_run_once (fx.loop);
      if (COUNT_FDS_WHILE_RUNNING)
        fds_max = MAX (fds_max, evl_test_count_fds ());
    }
  t = evl_loop_create_connection_happy_eyeballs_finish (fx.loop, w.result, &p, &error);
  g_assert_no_error (error);
  g_assert_nonnull (t);
  assert_peer (t, "127.0.0.1", bh.port);
  g_assert_cmpuint (TEST_PROTO (p)->n_made, ==, 1);
  if (COUNT_FDS_WHILE_RUNNING)
    {
      /* Both attempts had a socket at the same time... */
      g_assert_cmpuint (fds_max, >=, fds_before_call + 2);
      /* ...and only the winner's was left when its protocol was made. */
      g_assert_cmpuint (fx.fds_at_made, ==, fds_before_call + 1);
      g_assert_cmpuint (evl_test_count_fds (), ==, fds_before_call + 1);
    }
  close_connection (&fx, t, p);
  test_waiter_clear (&w);
  evl_test_sock_close (good);
  black_hole_close (&bh);
  teardown (&fx);
}

/* A failed attempt starts the next one at once, long before the delay. */
static void
test_failure_starts_next (void)
{
  Fixture fx;
  TestWaiter w;
  EvlTransport *t;
  EvlProtocol *p = NULL;
  GError *error = NULL;
  guint16 port;
  int good;

  if (!setup (&fx))
    return;
  good = listener_new ("127.0.0.1", 0, 16, &port);
  g_assert_cmpint (good, >=, 0);
  /* Nobody listens on 127.0.0.3: refused. A delay the watchdog would
   * fire long before. */
  test_resolver_set (fx.resolver, "127.0.0.3", "127.0.0.1", NULL);
  start (&fx, port, 3600, 1, NULL, &w);
  test_waiter_wait (&w);
  t = evl_loop_create_connection_happy_eyeballs_finish (fx.loop, w.result, &p, &error);
  g_assert_no_error (error);
  assert_peer (t, "127.0.0.1", port);
  close_connection (&fx, t, p);
  test_waiter_clear (&w);
  evl_test_sock_close (good);
  teardown (&fx);
}

/* The error of a sequential connection to @ip alone. */
static GError *
error_of (Fixture    *fx,
          const char *ip,
          guint16     port)
{
  TestWaiter w;
  GError *error = NULL;

  test_waiter_init (&w, fx->loop);
  evl_loop_create_connection_async (fx->loop, (EvlProtocolFactory) test_factory_make,
                                    &fx->factory, NULL, ip, port, NULL, test_waiter_cb, &w);
  test_waiter_wait (&w);
  g_assert_null (evl_loop_create_connection_finish (fx->loop, w.result, NULL, &error));
  g_assert_nonnull (error);
  test_waiter_clear (&w);
  return error;
}

/* Every attempt fails: the error is the first address's, whichever
 * attempt failed first. */
static void
test_all_fail (void)
{
  Fixture fx;
  BlackHole bh;
  GError *refused, *unreachable;
  guint16 port;
  int fd;
  guint round;

  if (!setup (&fx))
    return;
  /* A port nobody listens on: bound, never listened. */
  fd = listener_new ("127.0.0.1", 0, 1, &port);
  evl_test_sock_close (fd);
  refused = error_of (&fx, "127.0.0.3", port);
  /* TCP to the broadcast address: refused by the kernel at once. */
  unreachable = error_of (&fx, "255.255.255.255", port);
  if (refused->domain == unreachable->domain && refused->code == unreachable->code)
    {
      g_test_skip ("a refused and a broadcast address fail alike here");
      g_error_free (refused);
      g_error_free (unreachable);
      teardown (&fx);
      return;
    }

  for (round = 0; round < 4; round++)
    {
      gboolean refused_first = round % 2 == 0;
      double delay = round < 2 ? 0 : 0.01;
      GError *want = refused_first ? refused : unreachable;
      TestWaiter w;
      GError *error = NULL;
      EvlProtocol *p = (EvlProtocol *) 0x1;
      guint fds_before_call = evl_test_count_fds ();

      if (refused_first)
        test_resolver_set (fx.resolver, "127.0.0.3", "255.255.255.255", NULL);
      else
        test_resolver_set (fx.resolver, "255.255.255.255", "127.0.0.3", NULL);
      start (&fx, port, delay, 1, NULL, &w);
      test_waiter_wait (&w);
      g_assert_null (evl_loop_create_connection_happy_eyeballs_finish (fx.loop, w.result, &p, &error));
      g_assert_null (p);
      g_assert_error (error, want->domain, want->code);
      g_assert_cmpstr (error->message, ==, want->message);
      g_clear_error (&error);
      test_waiter_clear (&w);
      if (COUNT_FDS_WHILE_RUNNING)
        g_assert_cmpuint (evl_test_count_fds (), ==, fds_before_call);
    }

  /* The first address fails last: a black hole drops its SYN, then its
   * listener closes and the SYN sent again (a second later) is refused,
   * long after the second address failed. (Should the listener close
   * before the first SYN, the first address is refused at once: the same
   * error, in the other order.) */
  if (black_hole_open (&bh, "127.0.0.2", 0))
    {
      TestWaiter w;
      GError *error = NULL;

      test_resolver_set (fx.resolver, "127.0.0.2", "255.255.255.255", NULL);
      start (&fx, bh.port, 0.01, 1, NULL, &w);
      evl_test_run_for (fx.loop, 0.2);
      black_hole_close (&bh);
      test_waiter_wait (&w);
      g_assert_null (evl_loop_create_connection_happy_eyeballs_finish (fx.loop, w.result, NULL, &error));
      g_assert_error (error, refused->domain, refused->code);
      g_clear_error (&error);
      test_waiter_clear (&w);
    }
  g_assert_cmpuint (fx.factory.created->len, ==, 0);
  g_error_free (refused);
  g_error_free (unreachable);
  teardown (&fx);
}

/* Cancelled, or the loop closed, while two attempts are pending. */
static void
run_interrupted (gboolean close_loop)
{
  Fixture fx;
  BlackHole bh, bh2;
  TestWaiter w;
  GCancellable *cancellable = g_cancellable_new ();
  GError *error = NULL;
  guint fds_before_call;

  if (!setup (&fx))
    {
      g_object_unref (cancellable);
      return;
    }
  /* GResolver drops duplicate addresses: two black holes on one port. */
  if (!black_hole_open (&bh, "127.0.0.2", 0))
    {
      g_object_unref (cancellable);
      teardown (&fx);
      return;
    }
  if (!black_hole_open (&bh2, "127.0.0.4", bh.port))
    {
      black_hole_close (&bh);
      g_object_unref (cancellable);
      teardown (&fx);
      return;
    }
  test_resolver_set (fx.resolver, "127.0.0.2", "127.0.0.4", NULL);
  fds_before_call = evl_test_count_fds ();
  start (&fx, bh.port, 0.01, 1, cancellable, &w);
  wait_two_attempts (&fx, fds_before_call);
  g_assert_false (w.done);

  if (close_loop)
    {
      /* The callback runs from close(). */
      g_assert_true (evl_loop_close (fx.loop, NULL));
      g_assert_true (w.done);
    }
  else
    {
      g_cancellable_cancel (cancellable);
      test_waiter_wait (&w);
    }
  g_assert_null (evl_loop_create_connection_happy_eyeballs_finish (fx.loop, w.result, NULL, &error));
  if (close_loop)
    g_assert_error (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_CLOSED);
  else
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);
  g_assert_cmpuint (fx.factory.created->len, ==, 0);
  /* Every attempt's socket is closed by the time of the callback (and
   * with the loop closed, the loop's own fds: the black holes are left). */
  if (COUNT_FDS_WHILE_RUNNING && close_loop)
    g_assert_cmpuint (evl_test_count_fds (), ==, fx.fds_before + 4);
  else if (COUNT_FDS_WHILE_RUNNING)
    g_assert_cmpuint (evl_test_count_fds (), ==, fds_before_call);
  test_waiter_clear (&w);
  g_object_unref (cancellable);
  black_hole_close (&bh2);
  black_hole_close (&bh);
  teardown (&fx);
}

static void
test_cancel (void)
{
  run_interrupted (FALSE);
}

static void
test_loop_closed (void)
{
  run_interrupted (TRUE);
}

static gboolean
have_ipv6_loopback (void)
{
  int fd = listener_new ("::1", 0, 1, NULL);

  if (fd < 0)
    return FALSE;
  evl_test_sock_close (fd);
  return TRUE;
}

/* interleave reorders the addresses as asyncio's: with an infinite delay
 * the attempts run one at a time, so the first address in the new order
 * that has a listener wins. */
static void
test_interleave (void)
{
  static const struct
  {
    guint       interleave;
    const char *winner;
  } cases[] = {
    { 0, "127.0.0.1" },   /* as resolved: 127.0.0.3, 127.0.0.1, ::1 */
    { 1, "::1" },         /* 127.0.0.3, ::1, 127.0.0.1 */
    { 2, "127.0.0.1" },   /* 127.0.0.3, 127.0.0.1, ::1 */
  };
  Fixture fx;
  guint16 port;
  int good4, good6;
  guint i;

  if (!have_ipv6_loopback ())
    {
      g_test_skip ("this machine has no IPv6 loopback (::1)");
      return;
    }
  if (!setup (&fx))
    return;
  good6 = listener_new ("::1", 0, 16, &port);
  g_assert_cmpint (good6, >=, 0);
  good4 = listener_new ("127.0.0.1", port, 16, NULL);
  if (good4 < 0)
    {
      g_test_skip ("the port of ::1 is taken on 127.0.0.1");
      evl_test_sock_close (good6);
      teardown (&fx);
      return;
    }
  test_resolver_set (fx.resolver, "127.0.0.3", "127.0.0.1", "::1", NULL);
  for (i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      TestWaiter w;
      EvlTransport *t;
      EvlProtocol *p = NULL;
      GError *error = NULL;

      start (&fx, port, INFINITY, cases[i].interleave, NULL, &w);
      test_waiter_wait (&w);
      t = evl_loop_create_connection_happy_eyeballs_finish (fx.loop, w.result, &p, &error);
      g_assert_no_error (error);
      assert_peer (t, cases[i].winner, port);
      close_connection (&fx, t, p);
      test_waiter_clear (&w);
    }
  evl_test_sock_close (good4);
  evl_test_sock_close (good6);
  teardown (&fx);
}

/* A negative or NaN delay is a programming error. */
static void
test_bad_delay (void)
{
  Fixture fx;
  double delays[] = { -1, NAN };
  guint i;

  if (!setup (&fx))
    return;
  for (i = 0; i < G_N_ELEMENTS (delays); i++)
    {
      TestWaiter w;

      g_test_expect_message (G_LOG_DOMAIN, G_LOG_LEVEL_CRITICAL, "*delay*");
      start (&fx, 80, delays[i], 1, NULL, &w);
      g_test_assert_expected_messages ();
      g_assert_false (w.done);
      test_waiter_clear (&w);
    }
  teardown (&fx);
}

int
main (int    argc,
      char **argv)
{
  evl_test_init (&argc, &argv);

  g_test_add_func ("/Evl/HappyEyeballs/black-hole-first", test_black_hole_first);
  g_test_add_func ("/Evl/HappyEyeballs/failure-starts-next", test_failure_starts_next);
  g_test_add_func ("/Evl/HappyEyeballs/all-fail/first-address-error", test_all_fail);
  g_test_add_func ("/Evl/HappyEyeballs/cancel", test_cancel);
  g_test_add_func ("/Evl/HappyEyeballs/loop-closed", test_loop_closed);
  g_test_add_func ("/Evl/HappyEyeballs/interleave", test_interleave);
  g_test_add_func ("/Evl/HappyEyeballs/bad-delay", test_bad_delay);

  return g_test_run ();
}
