/* iocp-backend.c: the IOCP proactor backend through its seam
 * (evl-proactor-backend-private.h), compiled into this test: the
 * overlapped socket operations (AcceptEx, ConnectEx, WSASend, WSARecv),
 * their cancellation (CancelIoEx) and close() with operations in flight,
 * which the loop's socket primitives reach once they are built for
 * Windows; and the cross-thread wakeup packets, coalesced.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "evl-config.h"

#include <winsock2.h>
#include <ws2tcpip.h>
#include <windows.h>

#include <errno.h>
#include <string.h>

#include "evl-loop-private.h"
#include "evl-proactor-backend-private.h"
#include "evl-wakeup-private.h"

/* The library's own is internal: the backend compiled in here gets this
 * one (messages untranslated). */
const char *
evl_gettext (const char *msgid)
{
  return msgid;
}

typedef struct
{
  EvlProactorOp  op;          /* first */
  guint          n_final;
  int            result;
} Op;

static void
op_done (EvlProactorOp *op,
         int            result,
         gboolean       more)
{
  Op *o = (Op *) op;

  g_assert_false (more);
  o->n_final++;
  o->result = result;
}

static void
op_init (Op               *o,
         EvlProactorOpKind kind,
         SOCKET            fd)
{
  memset (o, 0, sizeof *o);
  o->op.kind = kind;
  o->op.fd = (int) fd;
  o->op.complete = op_done;
}

/* Waits (at most 10 s) until @o has completed. */
static void
wait_for (EvlProactorBackend *b,
          Op                 *o)
{
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

  while (o->n_final == 0 && g_get_monotonic_time () < deadline)
    g_assert_cmpint (evl_proactor_backend_wait (b, 100 * G_GINT64_CONSTANT (1000000)), >=, 0);
  g_assert_cmpuint (o->n_final, ==, 1);
}

static SOCKET
listener (struct sockaddr_in *addr)
{
  SOCKET s = socket (AF_INET, SOCK_STREAM, IPPROTO_TCP);
  int len = sizeof *addr;

  g_assert_true (s != INVALID_SOCKET);
  memset (addr, 0, sizeof *addr);
  addr->sin_family = AF_INET;
  addr->sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  g_assert_cmpint (bind (s, (struct sockaddr *) addr, sizeof *addr), ==, 0);
  g_assert_cmpint (listen (s, 16), ==, 0);
  g_assert_cmpint (getsockname (s, (struct sockaddr *) addr, &len), ==, 0);
  return s;
}

static EvlProactorBackend *
backend_new (void)
{
  GError *error = NULL;
  EvlProactorBackend *b = evl_proactor_backend_new (&error);

  g_assert_no_error (error);
  g_assert_nonnull (b);
  return b;
}

/* The loop closes the backend's wakeup channel after the backend; so do
 * the tests. */
static void
backend_close (EvlProactorBackend *b)
{
  int wake_fd = evl_proactor_backend_get_wakeup_fd (b);

  evl_proactor_backend_close (b);
  evl_wakeup_close (wake_fd, wake_fd);
}

/* AcceptEx and ConnectEx (on an unbound socket: the backend binds it),
 * then 1 MiB through WSASend and WSARecv, and EOF. */
static void
test_accept_connect_transfer (void)
{
  EvlProactorBackend *b = backend_new ();
  struct sockaddr_in addr, peer;
  SOCKET l = listener (&addr), c = socket (AF_INET, SOCK_STREAM, IPPROTO_TCP), a;
  Op acc, con, snd, rcv;
  gsize size = 1024 * 1024, sent = 0, got = 0, i;
  guint8 *out = g_malloc (size), *in = g_malloc (size);

  for (i = 0; i < size; i++)
    out[i] = (guint8) (i % 251);
  op_init (&acc, EVL_PROACTOR_ACCEPT, l);
  acc.op.addr = (struct sockaddr *) &peer;
  acc.op.addrlen = sizeof peer;
  op_init (&con, EVL_PROACTOR_CONNECT, c);
  con.op.addr = (struct sockaddr *) &addr;
  con.op.addrlen = sizeof addr;
  evl_proactor_backend_submit (b, &acc.op);
  evl_proactor_backend_submit (b, &con.op);
  /* Completions come from wait() only. */
  g_assert_cmpuint (acc.n_final + con.n_final, ==, 0);
  wait_for (b, &acc);
  wait_for (b, &con);
  g_assert_cmpint (con.result, ==, 0);
  g_assert_cmpint (acc.result, >, 0);
  a = (SOCKET) acc.result;
  g_assert_cmpint (acc.op.addrlen, ==, sizeof (struct sockaddr_in));
  g_assert_cmpint (peer.sin_family, ==, AF_INET);
  g_assert_cmpuint (peer.sin_addr.s_addr, ==, htonl (INADDR_LOOPBACK));

  while (got < size)
    {
      if (sent < size)
        {
          op_init (&snd, EVL_PROACTOR_SEND, c);
          snd.op.buffer = out + sent;
          snd.op.length = size - sent;
          evl_proactor_backend_submit (b, &snd.op);
        }
      op_init (&rcv, EVL_PROACTOR_RECV, a);
      rcv.op.buffer = in + got;
      rcv.op.length = size - got;
      evl_proactor_backend_submit (b, &rcv.op);
      wait_for (b, &rcv);
      g_assert_cmpint (rcv.result, >, 0);
      got += rcv.result;
      if (sent < size)
        {
          wait_for (b, &snd);
          g_assert_cmpint (snd.result, >, 0);
          sent += snd.result;
        }
    }
  g_assert_true (memcmp (in, out, size) == 0);

  shutdown (c, SD_SEND);
  op_init (&rcv, EVL_PROACTOR_RECV, a);
  rcv.op.buffer = in;
  rcv.op.length = 16;
  evl_proactor_backend_submit (b, &rcv.op);
  wait_for (b, &rcv);
  g_assert_cmpint (rcv.result, ==, 0);

  backend_close (b);
  closesocket (a);
  closesocket (c);
  closesocket (l);
  g_free (in);
  g_free (out);
}

/* ConnectEx to a closed port: ECONNREFUSED. */
static void
test_connect_refused (void)
{
  EvlProactorBackend *b = backend_new ();
  struct sockaddr_in addr;
  SOCKET l = listener (&addr), c = socket (AF_INET, SOCK_STREAM, IPPROTO_TCP);
  Op con;

  closesocket (l);
  op_init (&con, EVL_PROACTOR_CONNECT, c);
  con.op.addr = (struct sockaddr *) &addr;
  con.op.addrlen = sizeof addr;
  evl_proactor_backend_submit (b, &con.op);
  wait_for (b, &con);
  g_assert_cmpint (con.result, ==, -ECONNREFUSED);
  backend_close (b);
  closesocket (c);
}

/* A pending WSARecv and AcceptEx, cancelled: -ECANCELED, once each; the
 * stream loses nothing. */
static void
test_cancel (void)
{
  EvlProactorBackend *b = backend_new ();
  struct sockaddr_in addr;
  SOCKET l = listener (&addr), c = socket (AF_INET, SOCK_STREAM, IPPROTO_TCP), a;
  Op acc, rcv;
  char buf[16];

  g_assert_cmpint (connect (c, (struct sockaddr *) &addr, sizeof addr), ==, 0);
  a = accept (l, NULL, NULL);
  g_assert_true (a != INVALID_SOCKET);

  op_init (&acc, EVL_PROACTOR_ACCEPT, l);
  acc.op.addr = NULL;
  op_init (&rcv, EVL_PROACTOR_RECV, a);
  rcv.op.buffer = buf;
  rcv.op.length = sizeof buf;
  evl_proactor_backend_submit (b, &acc.op);
  evl_proactor_backend_submit (b, &rcv.op);
  g_assert_cmpint (evl_proactor_backend_wait (b, 20 * G_GINT64_CONSTANT (1000000)), ==, 0);
  evl_proactor_backend_cancel (b, &acc.op);
  evl_proactor_backend_cancel (b, &rcv.op);
  evl_proactor_backend_cancel (b, &rcv.op);   /* twice: no harm */
  g_assert_cmpuint (acc.n_final + rcv.n_final, ==, 0);
  wait_for (b, &acc);
  wait_for (b, &rcv);
  g_assert_cmpint (acc.result, ==, -ECANCELED);
  g_assert_cmpint (rcv.result, ==, -ECANCELED);

  g_assert_cmpint (send (c, "hello", 5, 0), ==, 5);
  op_init (&rcv, EVL_PROACTOR_RECV, a);
  rcv.op.buffer = buf;
  rcv.op.length = sizeof buf;
  evl_proactor_backend_submit (b, &rcv.op);
  wait_for (b, &rcv);
  g_assert_cmpint (rcv.result, ==, 5);
  g_assert_cmpmem (buf, 5, "hello", 5);

  backend_close (b);
  closesocket (a);
  closesocket (c);
  closesocket (l);
}

/* close() with operations and polls in flight delivers every final
 * completion, cancelled, before it returns. */
static void
test_close_in_flight (void)
{
  EvlProactorBackend *b = backend_new ();
  struct sockaddr_in addr;
  SOCKET l = listener (&addr), c = socket (AF_INET, SOCK_STREAM, IPPROTO_TCP), a;
  HANDLE event = CreateEventW (NULL, TRUE, FALSE, NULL);
  Op acc, rcv, poll, wait;
  char buf[16];

  g_assert_cmpint (connect (c, (struct sockaddr *) &addr, sizeof addr), ==, 0);
  a = accept (l, NULL, NULL);
  op_init (&acc, EVL_PROACTOR_ACCEPT, l);
  op_init (&rcv, EVL_PROACTOR_RECV, a);
  rcv.op.buffer = buf;
  rcv.op.length = sizeof buf;
  op_init (&poll, EVL_PROACTOR_POLL, c);
  poll.op.events = EVL_IO_READ;
  op_init (&wait, EVL_PROACTOR_POLL, (SOCKET) event);
  wait.op.events = EVL_IO_READ;
  evl_proactor_backend_submit (b, &acc.op);
  evl_proactor_backend_submit (b, &rcv.op);
  evl_proactor_backend_submit (b, &poll.op);
  evl_proactor_backend_submit (b, &wait.op);
  g_assert_cmpint (evl_proactor_backend_wait (b, 0), ==, 0);
  backend_close (b);
  g_assert_cmpuint (acc.n_final, ==, 1);
  g_assert_cmpuint (rcv.n_final, ==, 1);
  g_assert_cmpuint (poll.n_final, ==, 1);
  g_assert_cmpuint (wait.n_final, ==, 1);
  g_assert_cmpint (acc.result, ==, -ECANCELED);
  g_assert_cmpint (rcv.result, ==, -ECANCELED);
  g_assert_cmpint (poll.result, ==, -ECANCELED);
  g_assert_cmpint (wait.result, ==, -ECANCELED);
  g_assert_false (acc.op.orphaned || rcv.op.orphaned || poll.op.orphaned || wait.op.orphaned);

  CloseHandle (event);
  closesocket (a);
  closesocket (c);
  closesocket (l);
}

/* Polls: a HANDLE signalled, a socket closed under its poll (EBADF), a
 * failed submission (not a socket, not a HANDLE) delivered from wait(). */
static void
test_polls (void)
{
  EvlProactorBackend *b = backend_new ();
  HANDLE event = CreateEventW (NULL, TRUE, FALSE, NULL);
  SOCKET s = socket (AF_INET, SOCK_STREAM, IPPROTO_TCP);
  Op wait, poll, bad;

  op_init (&wait, EVL_PROACTOR_POLL, (SOCKET) event);
  wait.op.events = EVL_IO_READ;
  evl_proactor_backend_submit (b, &wait.op);
  SetEvent (event);
  wait_for (b, &wait);
  g_assert_cmpint (wait.result, ==, EVL_IO_READ);

  g_test_message ("a socket closed under its poll");
  op_init (&poll, EVL_PROACTOR_POLL, s);
  poll.op.events = EVL_IO_READ;
  evl_proactor_backend_submit (b, &poll.op);
  g_assert_cmpint (evl_proactor_backend_wait (b, 0), >=, 0);
  closesocket (s);
  wait_for (b, &poll);
  g_assert_cmpint (poll.result, <, 0);

  g_test_message ("neither a socket nor a HANDLE");
  op_init (&bad, EVL_PROACTOR_POLL, (SOCKET) 0x7ffffff0);
  bad.op.events = EVL_IO_READ;
  evl_proactor_backend_submit (b, &bad.op);
  g_assert_cmpuint (bad.n_final, ==, 0);
  wait_for (b, &bad);
  g_assert_cmpint (bad.result, ==, -EBADF);

  backend_close (b);
  CloseHandle (event);
}

/* The event given to GLib is signalled while a completion is pending and
 * reset once wait() took it. */
static void
test_poll_handle (void)
{
  EvlProactorBackend *b = backend_new ();
  HANDLE ready = (HANDLE) (gintptr) evl_proactor_backend_get_poll_fd (b);
  HANDLE event = CreateEventW (NULL, TRUE, FALSE, NULL);
  Op wait;
  guint round;

  g_assert_nonnull (ready);
  for (round = 0; round < 3; round++)
    {
      g_assert_cmpuint (WaitForSingleObject (ready, 20), ==, WAIT_TIMEOUT);
      op_init (&wait, EVL_PROACTOR_POLL, (SOCKET) event);
      wait.op.events = EVL_IO_READ;
      evl_proactor_backend_submit (b, &wait.op);
      SetEvent (event);
      g_assert_cmpuint (WaitForSingleObject (ready, 10000), ==, WAIT_OBJECT_0);
      g_assert_cmpuint (wait.n_final, ==, 0);
      g_assert_cmpint (evl_proactor_backend_wait (b, 0), ==, 1);
      g_assert_cmpuint (wait.n_final, ==, 1);
      ResetEvent (event);
    }
  g_assert_cmpuint (WaitForSingleObject (ready, 20), ==, WAIT_TIMEOUT);
  backend_close (b);
  CloseHandle (event);
}

/* RECV and SEND on named pipes opened for overlapped I/O (ReadFile,
 * WriteFile), a pending read cancelled, end of stream when the writer
 * closes; a handle opened for synchronous I/O is refused. */
static void
test_pipe (void)
{
  EvlProactorBackend *b = backend_new ();
  wchar_t *name = g_new0 (wchar_t, 64);
  HANDLE server, client, r, w;
  OVERLAPPED ov = { 0 };
  Op rcv, snd;
  char buf[16];

  _snwprintf (name, 63, L"\\\\.\\pipe\\evl-iocp-test-%lu", (unsigned long) GetCurrentProcessId ());
  server = CreateNamedPipeW (name, PIPE_ACCESS_DUPLEX | FILE_FLAG_OVERLAPPED | FILE_FLAG_FIRST_PIPE_INSTANCE,
                             PIPE_TYPE_BYTE | PIPE_READMODE_BYTE | PIPE_WAIT, 1, 4096, 4096, 0, NULL);
  g_assert_true (server != INVALID_HANDLE_VALUE);
  client = CreateFileW (name, GENERIC_READ | GENERIC_WRITE, 0, NULL, OPEN_EXISTING, FILE_FLAG_OVERLAPPED, NULL);
  g_assert_true (client != INVALID_HANDLE_VALUE);
  ov.hEvent = CreateEventW (NULL, TRUE, FALSE, NULL);
  g_assert_false (ConnectNamedPipe (server, &ov));
  g_assert_cmpuint (GetLastError (), ==, ERROR_PIPE_CONNECTED);
  CloseHandle (ov.hEvent);

  op_init (&rcv, EVL_PROACTOR_RECV, (SOCKET) server);
  rcv.op.buffer = buf;
  rcv.op.length = sizeof buf;
  evl_proactor_backend_submit (b, &rcv.op);
  g_assert_cmpint (evl_proactor_backend_wait (b, 20 * G_GINT64_CONSTANT (1000000)), ==, 0);
  evl_proactor_backend_cancel (b, &rcv.op);
  wait_for (b, &rcv);
  g_assert_cmpint (rcv.result, ==, -ECANCELED);

  op_init (&snd, EVL_PROACTOR_SEND, (SOCKET) client);
  snd.op.buffer = (gpointer) "hello";
  snd.op.length = 5;
  op_init (&rcv, EVL_PROACTOR_RECV, (SOCKET) server);
  rcv.op.buffer = buf;
  rcv.op.length = sizeof buf;
  evl_proactor_backend_submit (b, &rcv.op);
  evl_proactor_backend_submit (b, &snd.op);
  wait_for (b, &snd);
  wait_for (b, &rcv);
  g_assert_cmpint (snd.result, ==, 5);
  g_assert_cmpint (rcv.result, ==, 5);
  g_assert_cmpmem (buf, 5, "hello", 5);

  CloseHandle (client);
  op_init (&rcv, EVL_PROACTOR_RECV, (SOCKET) server);
  rcv.op.buffer = buf;
  rcv.op.length = sizeof buf;
  evl_proactor_backend_submit (b, &rcv.op);
  wait_for (b, &rcv);
  g_assert_cmpint (rcv.result, ==, 0);

  /* An anonymous pipe is synchronous: ReadFile would block. */
  g_assert_true (CreatePipe (&r, &w, NULL, 0));
  op_init (&rcv, EVL_PROACTOR_RECV, (SOCKET) r);
  rcv.op.buffer = buf;
  rcv.op.length = sizeof buf;
  evl_proactor_backend_submit (b, &rcv.op);
  wait_for (b, &rcv);
  g_assert_cmpint (rcv.result, ==, -EINVAL);

  backend_close (b);
  CloseHandle (r);
  CloseHandle (w);
  CloseHandle (server);
  g_free (name);
}

/* EVL_NO_IOCP=1 turns the backend off: NOT_SUPPORTED, saying so. */
static void
test_gate_env (void)
{
  GError *error = NULL;

  g_setenv ("EVL_NO_IOCP", "1", TRUE);
  g_assert_null (evl_proactor_backend_new (&error));
  g_assert_error (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_NOT_SUPPORTED);
  g_assert_nonnull (strstr (error->message, "EVL_NO_IOCP"));
  g_clear_error (&error);
  g_setenv ("EVL_NO_IOCP", "0", TRUE);
  backend_close (backend_new ());
  g_unsetenv ("EVL_NO_IOCP");
}

#define MANY 200

/* Many polls and receives in flight at once, half of them completed by
 * data, the other half cancelled: each completes exactly once. */
static void
test_many_in_flight (void)
{
  EvlProactorBackend *b = backend_new ();
  struct sockaddr_in addr;
  SOCKET l = listener (&addr);
  SOCKET c[MANY / 2], a[MANY / 2];
  Op *ops = g_new0 (Op, MANY);
  char *bufs = g_malloc0 (MANY * 4);
  gint64 deadline;
  guint i, done;

  for (i = 0; i < MANY / 2; i++)
    {
      c[i] = socket (AF_INET, SOCK_STREAM, IPPROTO_TCP);
      g_assert_cmpint (connect (c[i], (struct sockaddr *) &addr, sizeof addr), ==, 0);
      a[i] = accept (l, NULL, NULL);
      g_assert_true (a[i] != INVALID_SOCKET);
      /* even: a poll on the accepted end; odd: a receive */
      op_init (&ops[2 * i], EVL_PROACTOR_POLL, a[i]);
      ops[2 * i].op.events = EVL_IO_READ;
      op_init (&ops[2 * i + 1], EVL_PROACTOR_RECV, c[i]);
      ops[2 * i + 1].op.buffer = bufs + 4 * (2 * i + 1);
      ops[2 * i + 1].op.length = 4;
      evl_proactor_backend_submit (b, &ops[2 * i].op);
      evl_proactor_backend_submit (b, &ops[2 * i + 1].op);
    }
  g_assert_cmpint (evl_proactor_backend_wait (b, 0), ==, 0);
  for (i = 0; i < MANY / 2; i++)
    if (i % 2 == 0)
      {
        g_assert_cmpint (send (c[i], "x", 1, 0), ==, 1);
        g_assert_cmpint (send (a[i], "y", 1, 0), ==, 1);
      }
    else
      {
        evl_proactor_backend_cancel (b, &ops[2 * i].op);
        evl_proactor_backend_cancel (b, &ops[2 * i + 1].op);
      }
  deadline = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;
  do
    {
      g_assert_cmpint (evl_proactor_backend_wait (b, 100 * G_GINT64_CONSTANT (1000000)), >=, 0);
      for (i = 0, done = 0; i < MANY; i++)
        done += ops[i].n_final;
    }
  while (done < MANY && g_get_monotonic_time () < deadline);
  for (i = 0; i < MANY; i++)
    {
      g_assert_cmpuint (ops[i].n_final, ==, 1);
      if ((i / 2) % 2 == 0)
        g_assert_cmpint (ops[i].result, ==, i % 2 == 0 ? EVL_IO_READ : 1);
      else
        g_assert_cmpint (ops[i].result, ==, -ECANCELED);
    }

  backend_close (b);
  for (i = 0; i < MANY / 2; i++)
    {
      closesocket (a[i]);
      closesocket (c[i]);
    }
  closesocket (l);
  g_free (ops);
  g_free (bufs);
}

/* A datagram socket: CONNECT sets its peer (no ConnectEx there), then
 * WSASend and WSARecv carry datagrams. */
static void
test_datagram (void)
{
  EvlProactorBackend *b = backend_new ();
  SOCKET u1 = socket (AF_INET, SOCK_DGRAM, IPPROTO_UDP), u2 = socket (AF_INET, SOCK_DGRAM, IPPROTO_UDP);
  struct sockaddr_in a1 = { 0 }, a2;
  int len = sizeof a2;
  Op con, snd, rcv;
  char buf[16];

  a1.sin_family = AF_INET;
  a1.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  a2 = a1;
  g_assert_cmpint (bind (u1, (struct sockaddr *) &a1, sizeof a1), ==, 0);
  g_assert_cmpint (bind (u2, (struct sockaddr *) &a2, sizeof a2), ==, 0);
  g_assert_cmpint (getsockname (u2, (struct sockaddr *) &a2, &len), ==, 0);

  op_init (&con, EVL_PROACTOR_CONNECT, u1);
  con.op.addr = (struct sockaddr *) &a2;
  con.op.addrlen = sizeof a2;
  evl_proactor_backend_submit (b, &con.op);
  g_assert_cmpuint (con.n_final, ==, 0);
  wait_for (b, &con);
  g_assert_cmpint (con.result, ==, 0);

  op_init (&rcv, EVL_PROACTOR_RECV, u2);
  rcv.op.buffer = buf;
  rcv.op.length = sizeof buf;
  op_init (&snd, EVL_PROACTOR_SEND, u1);
  snd.op.buffer = (gpointer) "dgram";
  snd.op.length = 5;
  evl_proactor_backend_submit (b, &rcv.op);
  evl_proactor_backend_submit (b, &snd.op);
  wait_for (b, &snd);
  wait_for (b, &rcv);
  g_assert_cmpint (snd.result, ==, 5);
  g_assert_cmpint (rcv.result, ==, 5);
  g_assert_cmpmem (buf, 5, "dgram", 5);

  backend_close (b);
  closesocket (u1);
  closesocket (u2);
}

/* Cross-thread wakeups are packets posted to the port, coalesced: however
 * many signals come from however many threads, one packet is queued until
 * wait() dequeues it; then the next signal posts again. */
#define N_SIGNALLERS 4
#define N_SIGNALS    1000

static gpointer
signal_many (gpointer data)
{
  int fd = GPOINTER_TO_INT (data);
  guint i;

  for (i = 0; i < N_SIGNALS; i++)
    evl_wakeup_signal (fd);
  return NULL;
}

static gpointer
signal_later (gpointer data)
{
  g_usleep (20000);
  evl_wakeup_signal (GPOINTER_TO_INT (data));
  return NULL;
}

static void
test_wakeup_coalesced (void)
{
  EvlProactorBackend *b = backend_new ();
  GThread *threads[N_SIGNALLERS];
  int fd = evl_proactor_backend_get_wakeup_fd (b);
  guint round, i;

  g_assert_cmpint (fd, >=, 0);
  /* Not a SOCKET or HANDLE value (multiples of 4). */
  g_assert_cmpint (fd & 3, !=, 0);
  g_assert_cmpint (evl_proactor_backend_wait (b, 0), ==, 0);
  for (round = 0; round < 3; round++)
    {
      for (i = 0; i < N_SIGNALLERS; i++)
        threads[i] = g_thread_new ("signal", signal_many, GINT_TO_POINTER (fd));
      for (i = 0; i < N_SIGNALLERS; i++)
        g_thread_join (threads[i]);
      g_assert_cmpint (evl_proactor_backend_wait (b, 0), ==, 1);
      g_assert_cmpint (evl_proactor_backend_wait (b, 0), ==, 0);
    }

  /* A wait with no limit returns for a signal from another thread. */
  threads[0] = g_thread_new ("signal-later", signal_later, GINT_TO_POINTER (fd));
  g_assert_cmpint (evl_proactor_backend_wait (b, -1), ==, 1);
  g_thread_join (threads[0]);

  /* Two backends' channels are apart: one's signal wakes only its own. */
  {
    EvlProactorBackend *b2 = backend_new ();
    int fd2 = evl_proactor_backend_get_wakeup_fd (b2);

    g_assert_cmpint (fd2, !=, fd);
    evl_wakeup_signal (fd2);
    g_assert_cmpint (evl_proactor_backend_wait (b, 0), ==, 0);
    g_assert_cmpint (evl_proactor_backend_wait (b2, 0), ==, 1);
    backend_close (b2);
  }

  /* A packet still queued at close is dropped with the port. */
  evl_wakeup_signal (fd);
  backend_close (b);
}

int
main (int    argc,
      char **argv)
{
  WSADATA wsa;

  g_test_init (&argc, &argv, NULL);
  g_assert_cmpint (WSAStartup (MAKEWORD (2, 2), &wsa), ==, 0);

  g_test_add_func ("/Evl/IocpBackend/accept-connect-transfer", test_accept_connect_transfer);
  g_test_add_func ("/Evl/IocpBackend/connect-refused", test_connect_refused);
  g_test_add_func ("/Evl/IocpBackend/cancel", test_cancel);
  g_test_add_func ("/Evl/IocpBackend/close-in-flight", test_close_in_flight);
  g_test_add_func ("/Evl/IocpBackend/polls", test_polls);
  g_test_add_func ("/Evl/IocpBackend/poll-handle", test_poll_handle);
  g_test_add_func ("/Evl/IocpBackend/pipe", test_pipe);
  g_test_add_func ("/Evl/IocpBackend/datagram", test_datagram);
  g_test_add_func ("/Evl/IocpBackend/many-in-flight", test_many_in_flight);
  g_test_add_func ("/Evl/IocpBackend/gate/env", test_gate_env);
  g_test_add_func ("/Evl/IocpBackend/wakeup/coalesced", test_wakeup_coalesced);

  return g_test_run ();
}
