/* stress.c: many connections and many threads, on the loop kind under test
 * (suite 'slow': bounded, but the longest tests of the suite)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "evl-test-protocol.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#ifdef G_OS_UNIX
#include <malloc.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>
#endif

#define MIB (1024 * 1024)

/* ASan's quarantine and TSan's shadow memory make VmRSS say nothing
 * about the library: there only the fds are checked. Windows has no
 * VmRSS (nor glibc's malloc_trim): there too. */
#if !defined(G_OS_UNIX)
# define RSS_MEANINGFUL 0
#elif defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
# define RSS_MEANINGFUL 0
#elif defined(__has_feature)
# if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#  define RSS_MEANINGFUL 0
# endif
#endif
#ifndef RSS_MEANINGFUL
# define RSS_MEANINGFUL 1
#endif

/* ---------------------------------------------------------------------- */
/* measurements */

#ifdef G_OS_UNIX

/* VmRSS of this process, in bytes, once malloc has given back the free
 * pages it can (glibc keeps them otherwise, and fragmentation would hide
 * what is really held). */
static gsize
rss_bytes (void)
{
  char *status = NULL;
  const char *line;
  gsize kib = 0;

  malloc_trim (0);
  g_assert_true (g_file_get_contents ("/proc/self/status", &status, NULL, NULL));
  line = strstr (status, "\nVmRSS:");
  g_assert_nonnull (line);
  kib = g_ascii_strtoull (line + strlen ("\nVmRSS:"), NULL, 10);
  g_free (status);
  return kib * 1024;
}

/* Logs the open fds (for a failure to show what was left). */
static void
log_fds (const char *when)
{
  GDir *dir = g_dir_open ("/proc/self/fd", 0, NULL);
  const char *name;

  g_assert_nonnull (dir);
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      char *path = g_build_filename ("/proc/self/fd", name, NULL);
      char *target = g_file_read_link (path, NULL);

      int fd = atoi (name), listening = 0;
      socklen_t len = sizeof listening;
      char *local = NULL, *peer = NULL;

      if (target != NULL && g_str_has_prefix (target, "socket:"))
        {
          GSocket *sock = g_socket_new_from_fd (dup (fd), NULL);

          getsockopt (fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len);
          if (sock != NULL)
            {
              GSocketAddress *a = g_socket_get_local_address (sock, NULL);
              GSocketAddress *b = g_socket_get_remote_address (sock, NULL);

              if (a != NULL)
                local = g_socket_connectable_to_string (G_SOCKET_CONNECTABLE (a));
              if (b != NULL)
                peer = g_socket_connectable_to_string (G_SOCKET_CONNECTABLE (b));
              g_clear_object (&a);
              g_clear_object (&b);
              g_object_unref (sock);
            }
        }
      g_test_message ("%s: fd %s -> %s%s%s%s%s%s", when, name, target != NULL ? target : "?",
                      listening ? " listening" : "", local ? " local " : "", local ? local : "",
                      peer ? " peer " : "", peer ? peer : "");
      g_free (local);
      g_free (peer);
      g_free (target);
      g_free (path);
    }
  g_dir_close (dir);
}

/* Raises the soft RLIMIT_NOFILE to the hard one; returns it. */
static rlim_t
raise_nofile (void)
{
  struct rlimit rl;

  g_assert_cmpint (getrlimit (RLIMIT_NOFILE, &rl), ==, 0);
  rl.rlim_cur = rl.rlim_max;
  g_assert_cmpint (setrlimit (RLIMIT_NOFILE, &rl), ==, 0);
  return rl.rlim_cur;
}

#else /* Windows: no /proc, no fd limit */

static gsize
rss_bytes (void)
{
  return 0;   /* not measured: RSS_MEANINGFUL is 0 */
}

static void
log_fds (const char *when)
{
  g_test_message ("%s: %u handles open", when, evl_test_count_fds ());
}

/* Windows has no limit of open sockets per process. */
typedef guint rlim_t;

static rlim_t
raise_nofile (void)
{
  return G_MAXUINT;
}

#endif

/* ---------------------------------------------------------------------- */
/* many connections */

#define MESSAGE_SIZE 64
#define CONNECT_WINDOW 128
#define ROUND_TRIPS 3

typedef struct _Many Many;

#define TEST_TYPE_PINGER (test_pinger_get_type ())
G_DECLARE_FINAL_TYPE (TestPinger, test_pinger, TEST, PINGER, GObject)

/* A client that sends a message, waits for its echo, sends again. */
struct _TestPinger
{
  GObject       parent_instance;
  Many         *many;
  EvlTransport *transport;
  gsize         pending;     /* bytes of the current message not echoed yet */
  guint         round_trips;
  gboolean      lost;
};

struct _Many
{
  EvlLoop    *loop;
  guint       n;             /* connections wanted */
  guint       n_started;
  guint       n_connected;
  guint       n_in_flight;
  guint       n_failed;
  guint       n_done;        /* clients with ROUND_TRIPS round trips */
  guint       n_lost;
  GPtrArray  *clients;       /* TestPinger */
  GPtrArray  *transports;    /* EvlTransport */
  guint16     port;
  GBytes     *message;
};

static void test_pinger_iface_init (EvlProtocolInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (TestPinger, test_pinger, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (EVL_TYPE_PROTOCOL, test_pinger_iface_init))

static void
pinger_send (TestPinger *self)
{
  self->pending = MESSAGE_SIZE;
  evl_transport_write (self->transport, self->many->message);
}

static void
pinger_connection_made (EvlProtocol  *protocol,
                        EvlTransport *transport)
{
  TestPinger *self = TEST_PINGER (protocol);

  self->transport = g_object_ref (transport);
  pinger_send (self);
}

static void
pinger_data_received (EvlProtocol *protocol,
                      GBytes      *data)
{
  TestPinger *self = TEST_PINGER (protocol);
  gsize len = g_bytes_get_size (data);

  g_assert_cmpuint (len, <=, self->pending);
  self->pending -= len;
  if (self->pending > 0)
    return;
  if (++self->round_trips == ROUND_TRIPS)
    self->many->n_done++;
  else
    pinger_send (self);
}

static void
pinger_connection_lost (EvlProtocol  *protocol,
                        const GError *error)
{
  TestPinger *self = TEST_PINGER (protocol);

  g_assert_no_error (error);
  g_assert_false (self->lost);
  self->lost = TRUE;
  self->many->n_lost++;
  g_clear_object (&self->transport);
}

static void
test_pinger_iface_init (EvlProtocolInterface *iface)
{
  iface->connection_made = pinger_connection_made;
  iface->data_received = pinger_data_received;
  iface->connection_lost = pinger_connection_lost;
}

static void
test_pinger_finalize (GObject *object)
{
  g_clear_object (&TEST_PINGER (object)->transport);
  G_OBJECT_CLASS (test_pinger_parent_class)->finalize (object);
}

static void
test_pinger_class_init (TestPingerClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = test_pinger_finalize;
}

static void
test_pinger_init (TestPinger *self)
{
}

static EvlProtocol *
make_pinger (gpointer data)
{
  TestPinger *p = g_object_new (TEST_TYPE_PINGER, NULL);

  p->many = data;
  return EVL_PROTOCOL (p);
}

static void connect_more (Many *m);

static void
connected_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      data)
{
  Many *m = data;
  EvlProtocol *protocol = NULL;
  GError *error = NULL;
  EvlTransport *t;

  t = evl_loop_create_connection_finish (m->loop, result, &protocol, &error);
  m->n_in_flight--;
  if (t == NULL)
    {
      g_test_message ("connection %u failed: %s", m->n_started, error->message);
      g_clear_error (&error);
      m->n_failed++;
    }
  else
    {
      g_ptr_array_add (m->transports, t);
      g_ptr_array_add (m->clients, protocol);
      m->n_connected++;
    }
  connect_more (m);
}

/* Keeps CONNECT_WINDOW connections being made until n were started: the
 * listen backlog stays short. */
static void
connect_more (Many *m)
{
  while (m->n_in_flight < CONNECT_WINDOW && m->n_started < m->n)
    {
      m->n_started++;
      m->n_in_flight++;
      evl_loop_create_connection_async (m->loop, make_pinger, m, NULL, "127.0.0.1", m->port,
                                        NULL, connected_cb, m);
    }
}

/* Runs until @cond (checked after each iteration) or the watchdog. */
#define RUN_UNTIL(loop, cond) \
  G_STMT_START { while (!(cond)) evl_test_run_once (loop); } G_STMT_END

/* One round: n connections through a server that echoes, ROUND_TRIPS
 * round trips on each, all open at once; then every client closes and
 * every server side ends. */
static void
many_round (EvlLoop *loop,
            guint    n)
{
  Many m = { 0 };
  TestFactory sf;
  EvlServer *server;
  TestWaiter w;
  GError *error = NULL;
  guint i;
  gint64 start = g_get_monotonic_time ();

  test_factory_init (&sf);
  sf.template_.echo = TRUE;
  test_waiter_init (&w, loop);
  evl_loop_create_server_full_async (loop, (EvlProtocolFactory) test_factory_make, &sf, NULL,
                                     "127.0.0.1", 0, 4096, EVL_SERVER_FLAGS_DEFAULT, NULL,
                                     test_waiter_cb, &w);
  test_waiter_wait (&w);
  server = evl_loop_create_server_full_finish (loop, w.result, &error);
  g_assert_no_error (error);
  test_waiter_clear (&w);

  m.loop = loop;
  m.n = n;
  m.port = evl_server_get_port (server);
  m.clients = g_ptr_array_new_with_free_func (g_object_unref);
  m.transports = g_ptr_array_new_with_free_func (g_object_unref);
  {
    guint8 msg[MESSAGE_SIZE];

    memset (msg, 'm', sizeof msg);
    m.message = g_bytes_new (msg, sizeof msg);
  }

  connect_more (&m);
  RUN_UNTIL (loop, m.n_started == n && m.n_in_flight == 0);
  g_assert_cmpuint (m.n_failed, ==, 0);
  g_assert_cmpuint (m.n_connected, ==, n);
  RUN_UNTIL (loop, m.n_done == n);
  /* Every connection is open at once here. */
  g_assert_cmpuint (evl_server_get_n_connections (server), ==, n);
  g_test_message ("%u connections open, %u round trips each, in %.1f s", n, ROUND_TRIPS,
                  (g_get_monotonic_time () - start) / 1e6);

  for (i = 0; i < m.transports->len; i++)
    evl_transport_close (m.transports->pdata[i]);
  RUN_UNTIL (loop, m.n_lost == n && evl_server_get_n_connections (server) == 0);
  for (i = 0; i < sf.created->len; i++)
    g_assert_true (TEST_PROTO (sf.created->pdata[i])->lost);
  g_assert_cmpuint (sf.created->len, ==, n);

  test_server_close (loop, server);
  g_ptr_array_unref (m.transports);
  g_ptr_array_unref (m.clients);
  g_bytes_unref (m.message);
  test_factory_clear (&sf);
}

static void
test_many_connections (void)
{
  EvlLoop *loop;
  rlim_t limit = raise_nofile ();
  guint fds_before, fds_after1, fds_after2, n;
  gsize rss_before, rss_after1, rss_after2;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  evl_test_watchdog_start (300);
  fds_before = evl_test_count_fds ();
  /* Two fds per connection (both ends are ours), the listener, and room
   * for the loop, GLib and the test runner. */
  n = MIN (10000, ((guint) MIN (limit, G_MAXUINT) - fds_before - 64) / 2);
  /* Wine backs every socket with a Unix fd in wineserver, which holds
   * those of every process of the prefix under its own RLIMIT_NOFILE
   * (20000 sockets, here, failed with WSAEMFILE), and meson runs two
   * stress programs at once there: 2000 connections (4000 sockets) each
   * keep both well inside it, and a run takes under a minute. */
  if (evl_test_under_wine ())
    n = MIN (n, 2000);
  g_test_message ("RLIMIT_NOFILE %lu: %u connections", (unsigned long) limit, n);
  g_assert_cmpuint (n, >=, 1000);

  rss_before = rss_bytes ();
  log_fds ("before");
  many_round (loop, n);
  fds_after1 = evl_test_count_fds ();
  rss_after1 = rss_bytes ();
  many_round (loop, n);
  fds_after2 = evl_test_count_fds ();
  rss_after2 = rss_bytes ();
  g_test_message ("fds: %u before, %u after a round, %u after two", fds_before, fds_after1, fds_after2);
  g_test_message ("VmRSS: %.1f MiB before, %.1f after a round, %.1f after two",
                  rss_before / (double) MIB, rss_after1 / (double) MIB, rss_after2 / (double) MIB);

  if (fds_after2 != fds_before)
    log_fds ("after");
  /* No fd outlives its connection. */
  g_assert_cmpuint (fds_after1, ==, fds_before);
  g_assert_cmpuint (fds_after2, ==, fds_before);
  /* The first round leaves the tables it grew (fd table, ready ring,
   * handle pool, ...); a second round of as many connections must find
   * its memory there: 16 MiB is less than 2 KiB per connection. */
  if (RSS_MEANINGFUL)
    g_assert_cmpuint (rss_after2, <, rss_after1 + 16 * MIB);

  evl_test_close_loop (loop);
  evl_test_watchdog_cancel ();
}

/* ---------------------------------------------------------------------- */
/* threads posting to each other */

#define N_THREADS 8
#define POSTS_PER_PEER 20000
#define POST_BATCH 500

typedef struct _Mesh Mesh;

typedef struct
{
  Mesh     *mesh;
  guint     index;
  EvlLoop  *loop;
  guint     received;         /* on the loop's own thread */
  guint     notified;         /* atomic: notifies run on this loop's thread */
  guint     sent[N_THREADS];  /* to each peer */
  gboolean  finished;         /* counted in n_finished */
  GThread  *thread;
} Node;

struct _Mesh
{
  Node     nodes[N_THREADS];
  gint     n_finished;        /* atomic: nodes that sent and received all */
  GMutex   lock;
  GCond    cond;
  gboolean go;
};

static void
mesh_received (gpointer data)
{
  Node *node = data;

  /* Runs on the receiving loop's thread only. */
  g_assert_true (evl_get_running_loop () == node->loop);
  node->received++;
}

static void
mesh_notify (gpointer data)
{
  Node *node = data;

  g_atomic_int_inc (&node->notified);
}

static gboolean
node_sent_all (Node *node)
{
  guint i;

  for (i = 0; i < N_THREADS; i++)
    if (i != node->index && node->sent[i] < POSTS_PER_PEER)
      return FALSE;
  return TRUE;
}

/* Posts a batch to every peer, then yields to the loop. */
static void
mesh_send (gpointer data)
{
  Node *node = data;
  Mesh *mesh = node->mesh;
  guint i, j;

  for (i = 0; i < N_THREADS; i++)
    {
      Node *peer = &mesh->nodes[i];

      if (i == node->index)
        continue;
      for (j = 0; j < POST_BATCH && node->sent[i] < POSTS_PER_PEER; j++, node->sent[i]++)
        {
          EvlHandle *h = evl_loop_call_soon_threadsafe (peer->loop, mesh_received, peer, mesh_notify);

          g_assert_nonnull (h);
          evl_handle_unref (h);
        }
    }
  if (!node_sent_all (node))
    g_assert_nonnull (evl_loop_call_soon (node->loop, mesh_send, node, NULL));
}

/* Stops the loop once every node sent and received everything: until
 * then others may still post to it. */
static void
mesh_check (gpointer data)
{
  Node *node = data;
  Mesh *mesh = node->mesh;
  static const guint expected = (N_THREADS - 1) * POSTS_PER_PEER;

  if (node->received == expected && node_sent_all (node) && !node->finished)
    {
      node->finished = TRUE;
      g_atomic_int_inc (&mesh->n_finished);
    }
  if (g_atomic_int_get (&mesh->n_finished) == N_THREADS)
    evl_loop_stop (node->loop);
  else
    g_assert_nonnull (evl_loop_call_later (node->loop, 0.001, mesh_check, node, NULL));
}

static gpointer
mesh_thread (gpointer data)
{
  Node *node = data;
  Mesh *mesh = node->mesh;
  GError *error = NULL;

  g_mutex_lock (&mesh->lock);
  while (!mesh->go)
    g_cond_wait (&mesh->cond, &mesh->lock);
  g_mutex_unlock (&mesh->lock);

  g_assert_nonnull (evl_loop_call_soon (node->loop, mesh_send, node, NULL));
  g_assert_nonnull (evl_loop_call_soon (node->loop, mesh_check, node, NULL));
  g_assert_true (evl_loop_run_forever (node->loop, &error));
  g_assert_no_error (error);
  return NULL;
}

static void
test_threads_post (void)
{
  Mesh mesh;
  EvlLoop *probe;
  guint i;
  guint fds_before = evl_test_count_fds ();

  EVL_TEST_NEW_LOOP_OR_SKIP (probe);
  evl_test_close_loop (probe);
  evl_test_watchdog_start (120);

  memset (&mesh, 0, sizeof mesh);
  g_mutex_init (&mesh.lock);
  g_cond_init (&mesh.cond);
  /* Every loop exists before anyone posts; each runs in its thread. */
  for (i = 0; i < N_THREADS; i++)
    {
      mesh.nodes[i].mesh = &mesh;
      mesh.nodes[i].index = i;
      mesh.nodes[i].loop = evl_test_new_loop ();
      g_assert_nonnull (mesh.nodes[i].loop);
    }
  for (i = 0; i < N_THREADS; i++)
    mesh.nodes[i].thread = g_thread_new ("mesh", mesh_thread, &mesh.nodes[i]);
  g_mutex_lock (&mesh.lock);
  mesh.go = TRUE;
  g_cond_broadcast (&mesh.cond);
  g_mutex_unlock (&mesh.lock);

  for (i = 0; i < N_THREADS; i++)
    g_thread_join (mesh.nodes[i].thread);
  for (i = 0; i < N_THREADS; i++)
    {
      Node *node = &mesh.nodes[i];

      g_assert_cmpuint (node->received, ==, (N_THREADS - 1) * POSTS_PER_PEER);
      g_assert_cmpuint (g_atomic_int_get (&node->notified), ==, (N_THREADS - 1) * POSTS_PER_PEER);
      evl_test_close_loop (node->loop);
    }
  g_test_message ("%u threads, %u posts delivered", N_THREADS,
                  N_THREADS * (N_THREADS - 1) * POSTS_PER_PEER);
  g_mutex_clear (&mesh.lock);
  g_cond_clear (&mesh.cond);
  evl_test_watchdog_cancel ();
  g_assert_cmpuint (evl_test_count_fds (), ==, fds_before);
}

int
main (int    argc,
      char **argv)
{
  evl_test_init (&argc, &argv);

  g_test_add_func ("/Evl/Stress/many-connections", test_many_connections);
  g_test_add_func ("/Evl/Stress/threads-post", test_threads_post);

  return g_test_run ();
}
