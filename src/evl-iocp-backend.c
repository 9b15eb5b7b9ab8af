/* evl-iocp-backend.c: the I/O completion port proactor backend (Windows)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/* One completion port per loop. Every operation is one overlapped request
 * (an IocpReq, allocated at submit() and freed at its final completion)
 * whose packet comes back through the port; results the backend knows at
 * once (a synchronous failure, a cancelled handle wait) are posted to the
 * port too (PostQueuedCompletionStatus), so completions have one path and
 * come only from wait(), as the seam wants.
 *
 *  - RECV, SEND: WSARecv/WSASend with one buffer.
 *  - ACCEPT: AcceptEx into a socket made like the listening one
 *    (WSA_FLAG_OVERLAPPED, not inheritable), then SO_UPDATE_ACCEPT_CONTEXT,
 *    GetAcceptExSockaddrs for the peer's address and FIONBIO.
 *  - CONNECT: ConnectEx (the socket is bound to the wildcard address of
 *    its family first if it is not bound), then SO_UPDATE_CONNECT_CONTEXT;
 *    on a datagram socket, connect(), which does not block there.
 *    The three extension functions come from WSAIoctl
 *    (SIO_GET_EXTENSION_FUNCTION_POINTER), loaded once per backend.
 *  - POLL (add_reader/add_writer, which asyncio's Windows proactor never
 *    had) on a socket: an overlapped IOCTL_AFD_POLL on the socket itself,
 *    as libuv, wepoll and mio do. It reports readiness on the port like any
 *    other completion (no helper thread, no 64-handle limit), for every
 *    kind of socket: readable (data, FIN, a pending connection on a
 *    listening socket), writable (room to send, a finished connect), reset
 *    and failed connects. It is one-shot, which is what the proactor loop
 *    wants (level-triggered watches, armed again after the callbacks).
 *  - RECV, SEND on a HANDLE that is not a socket (WSARecv fails on it):
 *    overlapped ReadFile/WriteFile, for named pipes opened
 *    with FILE_FLAG_OVERLAPPED (one opened for synchronous I/O is refused
 *    with EINVAL: it would block the loop); a broken pipe reads as end of
 *    stream.
 *  - POLL on anything else that is a waitable HANDLE (an event, a process,
 *    the HANDLEs of a GMainContext the loop drives): "ready" means
 *    signalled. RegisterWaitForSingleObject on the system thread pool
 *    posts the completion to the port.
 *
 * Each socket is associated with the loop's port when first used (a
 * socket can belong to one port only, for its whole life). Cancellation is
 * CancelIoEx for one request; its memory stays ours until its (cancelled
 * or real) packet has been dequeued, as with io_uring. close() cancels
 * everything and waits for every packet; one that does not come in 10 s
 * leaves its op orphaned and its request leaked on purpose.
 *
 * GLib: a GMainContext waits on HANDLEs, and a completion port is not a
 * waitable handle. get_poll_fd() therefore starts a helper thread blocked
 * in GetQueuedCompletionStatus(): it takes one packet, parks it, signals a
 * manual-reset event (the "fd" given to GLib, a HANDLE value) and waits
 * until the loop's thread has taken the packet in wait(), which drains the
 * port without blocking and lets the helper go on. A completion wakes GLib
 * at once (no polling delay); from then on the loop's own waits wait on
 * that event too, so the helper never steals a wakeup from them.
 *
 * Cross-thread wakeups (call_soon_threadsafe, stop, console control
 * events) are packets with KEY_WAKEUP posted to the port
 * (evl_wakeup_open_port()), at most one queued at a time: no socket pair,
 * no watch, no read. The loop takes this channel as its wakeup
 * (get_wakeup_fd()); dequeuing the packet lets the next one be posted.
 *
 * Limits (also in the README's platform table):
 *  - A socket that belongs to another completion port (another loop's, or
 *    a library's) cannot be used by this loop: Windows cannot tell us, and
 *    its completions go to the other port (they never end here until
 *    cancelled). Associating is tried before every request, so a socket
 *    number reused after closesocket() is associated afresh.
 *  - Sockets of a layered service provider (LSP) are polled through their
 *    own handle, not their base handle (LSPs are deprecated since 2012).
 *  - A POLL for EVL_IO_WRITE on a HANDLE that is not a socket reports
 *    when the handle is signalled, as for reading; pipes and files cannot
 *    be watched; their RECV/SEND (ReadFile/WriteFile) are not wired to
 *    the loop's pipe transports yet.
 *  - Timeouts have millisecond resolution, rounded up, so a timer never
 *    fires early; Windows' own timer tick (15.6 ms by default) may still
 *    make it late. */

#include "evl-config.h"

#include <winsock2.h>
#include <ws2tcpip.h>
#include <mswsock.h>
#include <windows.h>

#include <errno.h>
#include <string.h>

#include "evl-loop-private.h"
#include "evl-proactor-backend-private.h"
#include "evl-wakeup-private.h"

/* ---------------------------------------------------------------------- */
/* AFD polling: an undocumented but stable interface of the socket driver
 * (libuv has used it since 2011); Wine implements it too. */

#define EVL_IOCTL_AFD_POLL          0x00012024

#define AFD_POLL_RECEIVE            0x0001
#define AFD_POLL_RECEIVE_EXPEDITED  0x0002
#define AFD_POLL_SEND               0x0004
#define AFD_POLL_DISCONNECT         0x0008
#define AFD_POLL_ABORT              0x0010
#define AFD_POLL_LOCAL_CLOSE        0x0020
#define AFD_POLL_ACCEPT             0x0080
#define AFD_POLL_CONNECT_FAIL       0x0100

typedef struct
{
  HANDLE   handle;
  ULONG    events;
  LONG     status;
} AfdPollHandleInfo;

typedef struct
{
  LARGE_INTEGER      timeout;
  ULONG              n_handles;
  ULONG              exclusive;
  AfdPollHandleInfo  handles[1];
} AfdPollInfo;

#define EVL_STATUS_CANCELLED        ((LONG) 0xC0000120)
#define EVL_STATUS_END_OF_FILE      ((LONG) 0xC0000011)
#define EVL_STATUS_PIPE_BROKEN      ((LONG) 0xC000014B)
#define EVL_STATUS_BUFFER_OVERFLOW  ((LONG) 0x80000005)

/* Completion keys. */
enum
{
  KEY_IO = 1,      /* overlapped I/O on a handle associated with the port */
  KEY_LOCAL,       /* posted by the backend: req->local_result */
  KEY_QUIT,        /* tells the GLib helper thread to stop */
  KEY_WAKEUP,      /* a cross-thread wakeup (evl_wakeup_open_port) */
};

enum
{
  OP_IDLE,
  OP_INFLIGHT,
};

enum
{
  OPF_CANCEL = 1 << 0,   /* cancellation requested */
  /* POLL: op->fd is a socket associated with the port. Kept from one
   * submit to the next: the proactor loop submits a watch's op again for
   * the same fd only (a closed socket ends the watch with LOCAL_CLOSE
   * first), so arming it again skips two system calls. */
  OPF_SOCKET_KNOWN = 1 << 1,
  OPF_KEEP = OPF_SOCKET_KNOWN,
};

typedef enum
{
  REQ_AFD_POLL,      /* POLL on a socket */
  REQ_HANDLE_WAIT,   /* POLL on another waitable HANDLE */
  REQ_DATA,          /* RECV, SEND, CONNECT, ACCEPT */
  REQ_POLL_STEP,     /* a data op that met WSAEWOULDBLOCK waits for readiness */
  REQ_FILE,          /* RECV, SEND on a HANDLE: ReadFile, WriteFile */
} ReqKind;

typedef struct _EvlIocpBackend EvlIocpBackend;

typedef struct
{
  OVERLAPPED       ov;            /* first: the packet's lpOverlapped */
  EvlIocpBackend  *self;
  EvlProactorOp   *op;
  ReqKind          kind;
  SOCKET           sock;
  gboolean         local;         /* a packet of ours is on its way */
  int              local_result;
  HANDLE           wait_handle;   /* REQ_HANDLE_WAIT */
  volatile LONG    wait_fired;    /* REQ_HANDLE_WAIT: the packet was posted */
  SOCKET           accept_sock;   /* ACCEPT */
  DWORD            recv_flags;
  WSABUF           wsabuf;
  AfdPollInfo      poll_info;
  char             accept_buf[2 * (sizeof (SOCKADDR_STORAGE) + 16)];
} IocpReq;

#define BATCH 64

struct _EvlIocpBackend
{
  EvlProactorBackend         parent;

  HANDLE                     port;
  LPFN_ACCEPTEX              accept_ex;
  LPFN_CONNECTEX             connect_ex;
  LPFN_GETACCEPTEXSOCKADDRS  get_accept_ex_sockaddrs;

  EvlProactorOp             *all;     /* every op not finally completed */
  guint                      n_all;

  int                        wake_fd;  /* evl_wakeup_open_port(); the loop closes it */

  /* the GLib helper (get_poll_fd) */
  GThread                   *helper;
  HANDLE                     ready_event;   /* manual reset: a packet is parked */
  HANDLE                     resume_event;  /* auto reset: the helper may dequeue */
  GMutex                     lock;
  OVERLAPPED_ENTRY           parked;        /* under lock */
  gboolean                   have_parked;   /* under lock */
  gint                       quit;          /* atomic */
};

typedef ULONG (WINAPI *RtlNtStatusToDosErrorFunc) (LONG status);
static RtlNtStatusToDosErrorFunc rtl_nt_status_to_dos_error;
typedef LONG (WINAPI *NtQueryInformationFileFunc) (HANDLE handle, PVOID io_status,
                                                   PVOID info, ULONG length, int info_class);
static NtQueryInformationFileFunc nt_query_information_file;

/* ---------------------------------------------------------------------- */
/* errors */

static int
errno_from_win32 (DWORD code)
{
  switch (code)
    {
    case ERROR_OPERATION_ABORTED:
    case WSAEINTR:
      return ECANCELED;
    case WSAECONNRESET:
    case ERROR_NETNAME_DELETED:
    case WSAENETRESET:
      return ECONNRESET;
    case WSAECONNREFUSED:
    case ERROR_CONNECTION_REFUSED:
    case ERROR_PORT_UNREACHABLE:
      return ECONNREFUSED;
    case WSAECONNABORTED:
    case ERROR_CONNECTION_ABORTED:
    case ERROR_REQUEST_ABORTED:
      return ECONNABORTED;
    case WSAENETUNREACH:
    case ERROR_NETWORK_UNREACHABLE:
      return ENETUNREACH;
    case WSAEHOSTUNREACH:
    case ERROR_HOST_UNREACHABLE:
      return EHOSTUNREACH;
    case WSAENETDOWN:
      return ENETDOWN;
    case WSAETIMEDOUT:
    case ERROR_SEM_TIMEOUT:
      return ETIMEDOUT;
    case WSAENOTCONN:
      return ENOTCONN;
    case WSAEISCONN:
      return EISCONN;
    case WSAEALREADY:
      return EALREADY;
    case WSAEINPROGRESS:
      return EINPROGRESS;
    case WSAEWOULDBLOCK:
      return EAGAIN;
    case WSAEADDRINUSE:
      return EADDRINUSE;
    case WSAEADDRNOTAVAIL:
      return EADDRNOTAVAIL;
    case WSAEAFNOSUPPORT:
    case WSAEPFNOSUPPORT:
      return EAFNOSUPPORT;
    case WSAENOTSOCK:
      return ENOTSOCK;
    case WSAEBADF:
    case ERROR_INVALID_HANDLE:
      return EBADF;
    case WSAEINVAL:
    case ERROR_INVALID_PARAMETER:
      return EINVAL;
    case WSAESHUTDOWN:
    case ERROR_BROKEN_PIPE:
    case ERROR_NO_DATA:
      return EPIPE;
    case WSAEMSGSIZE:
    case ERROR_MORE_DATA:
      return EMSGSIZE;
    case WSAENOBUFS:
    case ERROR_NOT_ENOUGH_MEMORY:
    case ERROR_NO_SYSTEM_RESOURCES:
      return ENOBUFS;
    case WSAEMFILE:
      return EMFILE;
    case WSAEACCES:
    case ERROR_ACCESS_DENIED:
      return EACCES;
    case WSAEOPNOTSUPP:
    case ERROR_NOT_SUPPORTED:
    case ERROR_INVALID_FUNCTION:
      return EOPNOTSUPP;
    case WSAEFAULT:
      return EFAULT;
    default:
      return EIO;
    }
}

static int
errno_from_ntstatus (LONG status)
{
  if (status == EVL_STATUS_CANCELLED)
    return ECANCELED;
  if (rtl_nt_status_to_dos_error == NULL)
    return EIO;
  return errno_from_win32 (rtl_nt_status_to_dos_error (status));
}

/* ---------------------------------------------------------------------- */
/* lists */

static void
list_add (EvlIocpBackend *self,
          EvlProactorOp  *op)
{
  op->prev = NULL;
  op->next = self->all;
  if (self->all != NULL)
    self->all->prev = op;
  self->all = op;
  self->n_all++;
}

static void
list_remove (EvlIocpBackend *self,
             EvlProactorOp  *op)
{
  if (op->prev != NULL)
    op->prev->next = op->next;
  else
    self->all = op->next;
  if (op->next != NULL)
    op->next->prev = op->prev;
  op->prev = op->next = NULL;
  self->n_all--;
}

/* The op's request lives in the backend's private cancel_tag field. */
static inline IocpReq *
op_req (EvlProactorOp *op)
{
  return (IocpReq *) (guintptr) op->cancel_tag;
}

static void
req_free (IocpReq *req)
{
  if (req->accept_sock != INVALID_SOCKET)
    closesocket (req->accept_sock);
  g_free (req);
}

/* The final completion: the op leaves the backend. */
static void
complete_final (EvlIocpBackend *self,
                EvlProactorOp  *op,
                int             result)
{
  IocpReq *req = op_req (op);

  list_remove (self, op);
  op->state = OP_IDLE;
  op->flags &= OPF_KEEP;
  if (result < 0 && result != -ECANCELED)
    op->flags = 0;     /* the socket failed: check it afresh */
  op->cancel_tag = 0;
  if (op->orphaned)
    req->op = NULL;            /* leaked on purpose: the kernel may write it */
  else
    req_free (req);
  op->complete (op, result, FALSE);
}

/* A result known now, delivered from wait() like the others. */
static void
post_local (IocpReq *req,
            int      result)
{
  req->local = TRUE;
  req->local_result = result;
  if (!PostQueuedCompletionStatus (req->self->port, 0, KEY_LOCAL, &req->ov))
    g_error ("PostQueuedCompletionStatus failed: %lu", (unsigned long) GetLastError ());
}

/* ---------------------------------------------------------------------- */
/* starting operations */

/* Associates @sock with the port. A socket already associated (with this
 * port: it was used before) says ERROR_INVALID_PARAMETER; so does one
 * that belongs to another port, which cannot work here. */
static void
associate (EvlIocpBackend *self,
           SOCKET          sock)
{
  CreateIoCompletionPort ((HANDLE) sock, self->port, KEY_IO, 0);
}

/* SOCK_STREAM, SOCK_DGRAM...; -1 when @sock is not a socket. */
static int
socket_type (SOCKET sock)
{
  int type = 0;
  int len = sizeof type;

  if (getsockopt (sock, SOL_SOCKET, SO_TYPE, (char *) &type, &len) != 0)
    return -1;
  return type;
}

static gboolean
is_socket (SOCKET sock)
{
  return socket_type (sock) >= 0;
}

static ULONG
afd_events_for (guint events)
{
  ULONG afd = AFD_POLL_ABORT | AFD_POLL_CONNECT_FAIL | AFD_POLL_LOCAL_CLOSE;

  if (events & EVL_IO_READ)
    afd |= AFD_POLL_RECEIVE | AFD_POLL_ACCEPT | AFD_POLL_DISCONNECT;
  if (events & EVL_IO_WRITE)
    afd |= AFD_POLL_SEND;
  return afd;
}

static guint
afd_to_evl (ULONG afd)
{
  guint events = 0;

  if (afd & (AFD_POLL_RECEIVE | AFD_POLL_RECEIVE_EXPEDITED | AFD_POLL_ACCEPT | AFD_POLL_DISCONNECT))
    events |= EVL_IO_READ;
  if (afd & AFD_POLL_SEND)
    events |= EVL_IO_WRITE;
  if (afd & AFD_POLL_ABORT)
    events |= EVL_IO_HUP;
  if (afd & AFD_POLL_CONNECT_FAIL)
    events |= EVL_IO_ERROR;
  return events;
}

/* Issues an AFD poll for @afd_events on req->sock; FALSE with errno set
 * when it could not start (no packet follows then). */
static int
start_afd_poll (IocpReq *req,
                ULONG    afd_events)
{
  AfdPollInfo *pi = &req->poll_info;

  memset (&req->ov, 0, sizeof req->ov);
  memset (pi, 0, sizeof *pi);
  pi->timeout.QuadPart = G_MAXINT64;
  pi->n_handles = 1;
  pi->exclusive = FALSE;
  pi->handles[0].handle = (HANDLE) req->sock;
  pi->handles[0].events = afd_events;
  if (!DeviceIoControl ((HANDLE) req->sock, EVL_IOCTL_AFD_POLL,
                        pi, sizeof *pi, pi, sizeof *pi, NULL, &req->ov) &&
      GetLastError () != ERROR_IO_PENDING)
    return -errno_from_win32 (GetLastError ());
  return 0;
}

static VOID CALLBACK
handle_signalled (PVOID   data,
                  BOOLEAN timed_out)
{
  IocpReq *req = data;

  /* Whoever flips wait_fired first posts the packet: this callback (on
   * the thread pool: it touches nothing but local_result), or cancel()
   * once the wait is unregistered. */
  if (InterlockedCompareExchange (&req->wait_fired, 1, 0) == 0)
    {
      req->local_result = (int) req->op->events;
      PostQueuedCompletionStatus (req->self->port, 0, KEY_LOCAL, &req->ov);
    }
}

static int
start_handle_wait (IocpReq *req)
{
  DWORD flags;

  /* The thread pool takes any value and would never call back for one
   * that is not a handle. */
  if (!GetHandleInformation ((HANDLE) req->sock, &flags))
    return -EBADF;
  if (!RegisterWaitForSingleObject (&req->wait_handle, (HANDLE) req->sock,
                                    handle_signalled, req, INFINITE,
                                    WT_EXECUTEONLYONCE | WT_EXECUTEINWAITTHREAD))
    {
      req->wait_handle = NULL;
      return -EBADF;
    }
  return 0;
}

static gboolean
ensure_bound (SOCKET                 sock,
              const struct sockaddr *peer)
{
  struct sockaddr_storage ss;
  int len = sizeof ss;

  if (getsockname (sock, (struct sockaddr *) &ss, &len) == 0)
    return TRUE;
  if (WSAGetLastError () != WSAEINVAL)
    return FALSE;
  memset (&ss, 0, sizeof ss);
  ss.ss_family = peer->sa_family;
  if (peer->sa_family == AF_INET)
    len = sizeof (struct sockaddr_in);
  else if (peer->sa_family == AF_INET6)
    len = sizeof (struct sockaddr_in6);
  else
    {
      WSASetLastError (WSAEAFNOSUPPORT);
      return FALSE;
    }
  return bind (sock, (struct sockaddr *) &ss, len) == 0;
}

static SOCKET
socket_like (SOCKET listener)
{
  WSAPROTOCOL_INFOW info;
  int len = sizeof info;
  SOCKET s;

  if (getsockopt (listener, SOL_SOCKET, SO_PROTOCOL_INFOW, (char *) &info, &len) != 0)
    return INVALID_SOCKET;
  s = WSASocketW (info.iAddressFamily, info.iSocketType, info.iProtocol, NULL, 0,
                  WSA_FLAG_OVERLAPPED | WSA_FLAG_NO_HANDLE_INHERIT);
  if (s == INVALID_SOCKET && WSAGetLastError () == WSAEINVAL)
    {
      /* Before Windows 7 SP1: no WSA_FLAG_NO_HANDLE_INHERIT. */
      s = WSASocketW (info.iAddressFamily, info.iSocketType, info.iProtocol, NULL, 0,
                      WSA_FLAG_OVERLAPPED);
      if (s != INVALID_SOCKET)
        SetHandleInformation ((HANDLE) s, HANDLE_FLAG_INHERIT, 0);
    }
  return s;
}

/* Whether @h was opened for overlapped I/O (FILE_FLAG_OVERLAPPED): on a
 * handle opened for synchronous I/O, ReadFile() would block the loop. */
static gboolean
handle_is_overlapped (HANDLE h)
{
  struct { LONG status; ULONG_PTR info; } iosb;
  ULONG mode = 0;

  if (nt_query_information_file == NULL)
    return TRUE;
  /* 16: FileModeInformation; 0x30: FILE_SYNCHRONOUS_IO_ALERT|NONALERT */
  if (nt_query_information_file (h, &iosb, &mode, sizeof mode, 16) < 0)
    return FALSE;
  return (mode & 0x30) == 0;
}

/* RECV and SEND on a HANDLE that is not a socket (a named pipe opened for
 * overlapped I/O): ReadFile, WriteFile. 0 when a packet will follow (or
 * was posted), -errno otherwise. */
static int
start_file_io (IocpReq *req)
{
  EvlProactorOp *op = req->op;
  HANDLE h = (HANDLE) req->sock;
  DWORD len = (DWORD) MIN (op->length, (gsize) G_MAXINT32);
  DWORD err;
  BOOL ok;

  if (!handle_is_overlapped (h))
    return -EINVAL;
  req->kind = REQ_FILE;
  memset (&req->ov, 0, sizeof req->ov);
  if (op->kind == EVL_PROACTOR_RECV)
    ok = ReadFile (h, op->buffer, len, NULL, &req->ov);
  else
    ok = WriteFile (h, op->buffer, len, NULL, &req->ov);
  if (ok || (err = GetLastError ()) == ERROR_IO_PENDING)
    return 0;
  if (op->kind == EVL_PROACTOR_RECV && (err == ERROR_BROKEN_PIPE || err == ERROR_HANDLE_EOF))
    {
      post_local (req, 0);     /* the writer is gone: end of stream */
      return 0;
    }
  return -errno_from_win32 (err);
}

/* Issues a data op; 0 when a packet will follow, -errno otherwise. */
static int
start_data (EvlIocpBackend *self,
            IocpReq        *req)
{
  EvlProactorOp *op = req->op;
  DWORD addr_len = sizeof (SOCKADDR_STORAGE) + 16;
  int r;

  req->kind = REQ_DATA;
  memset (&req->ov, 0, sizeof req->ov);
  switch (op->kind)
    {
    case EVL_PROACTOR_RECV:
      req->wsabuf.buf = op->buffer;
      req->wsabuf.len = (ULONG) MIN (op->length, (gsize) G_MAXINT32);
      req->recv_flags = 0;
      r = WSARecv (req->sock, &req->wsabuf, 1, NULL, &req->recv_flags, &req->ov, NULL);
      break;
    case EVL_PROACTOR_SEND:
      req->wsabuf.buf = op->buffer;
      req->wsabuf.len = (ULONG) MIN (op->length, (gsize) G_MAXINT32);
      r = WSASend (req->sock, &req->wsabuf, 1, NULL, 0, &req->ov, NULL);
      break;
    case EVL_PROACTOR_CONNECT:
      if (socket_type (req->sock) == SOCK_DGRAM)
        {
          /* ConnectEx is for connection-oriented sockets; a datagram
           * socket's connect() only sets its peer and never blocks. */
          post_local (req, connect (req->sock, op->addr, op->addrlen) == 0
                             ? 0 : -errno_from_win32 (WSAGetLastError ()));
          return 0;
        }
      if (!ensure_bound (req->sock, op->addr))
        return -errno_from_win32 (WSAGetLastError ());
      r = self->connect_ex (req->sock, op->addr, op->addrlen, NULL, 0, NULL, &req->ov) ? 0 : SOCKET_ERROR;
      break;
    case EVL_PROACTOR_ACCEPT:
      if (req->accept_sock == INVALID_SOCKET)
        {
          req->accept_sock = socket_like (req->sock);
          if (req->accept_sock == INVALID_SOCKET)
            return -errno_from_win32 (WSAGetLastError ());
        }
      r = self->accept_ex (req->sock, req->accept_sock, req->accept_buf, 0,
                           addr_len, addr_len, NULL, &req->ov) ? 0 : SOCKET_ERROR;
      break;
    default:
      return -EOPNOTSUPP;      /* a kind this backend does not know */
    }
  if (r == 0)
    return 0;
  r = WSAGetLastError ();
  if (r == WSA_IO_PENDING)
    return 0;
  if ((op->kind == EVL_PROACTOR_RECV || op->kind == EVL_PROACTOR_SEND) &&
      r != WSAEWOULDBLOCK && (r == WSAENOTSOCK || !is_socket (req->sock)))
    return start_file_io (req);
  if (r == WSAEWOULDBLOCK)
    {
      /* Overlapped requests on a non-blocking socket pend on Windows; if
       * one does not, wait for readiness and try again. */
      req->kind = REQ_POLL_STEP;
      return start_afd_poll (req, op->kind == EVL_PROACTOR_RECV || op->kind == EVL_PROACTOR_ACCEPT
                                    ? afd_events_for (EVL_IO_READ) : afd_events_for (EVL_IO_WRITE));
    }
  return -errno_from_win32 (r);
}

static void
start (EvlIocpBackend *self,
       IocpReq        *req)
{
  EvlProactorOp *op = req->op;
  int r;

  if (op->kind == EVL_PROACTOR_POLL)
    {
      if ((op->flags & OPF_SOCKET_KNOWN) || is_socket (req->sock))
        {
          if (!(op->flags & OPF_SOCKET_KNOWN))
            associate (self, req->sock);
          op->flags |= OPF_SOCKET_KNOWN;
          req->kind = REQ_AFD_POLL;
          r = start_afd_poll (req, afd_events_for (op->events));
        }
      else
        {
          req->kind = REQ_HANDLE_WAIT;
          r = start_handle_wait (req);
        }
    }
  else
    {
      associate (self, req->sock);
      r = start_data (self, req);
    }
  if (r < 0)
    post_local (req, r);
}

static void
iocp_submit (EvlProactorBackend *backend,
             EvlProactorOp      *op)
{
  EvlIocpBackend *self = (EvlIocpBackend *) backend;
  IocpReq *req;

  g_return_if_fail (op->state == OP_IDLE);

  req = g_new0 (IocpReq, 1);
  req->self = self;
  req->op = op;
  req->sock = (SOCKET) (gintptr) op->fd;
  req->accept_sock = INVALID_SOCKET;
  op->flags = op->kind == EVL_PROACTOR_POLL ? (op->flags & OPF_KEEP) : 0;
  op->orphaned = FALSE;
  op->more_data = FALSE;   /* Winsock does not say (poll_first is ignored) */
  op->cancel_tag = (guint64) (guintptr) req;
  op->state = OP_INFLIGHT;
  list_add (self, op);
  start (self, req);
}

static void
iocp_cancel (EvlProactorBackend *backend,
             EvlProactorOp      *op)
{
  IocpReq *req;

  if (op->state == OP_IDLE || (op->flags & OPF_CANCEL))
    return;
  op->flags |= OPF_CANCEL;
  req = op_req (op);
  if (req->local)
    return;                     /* its packet is on its way */
  if (req->kind == REQ_HANDLE_WAIT)
    {
      /* Waits for a callback that runs: after this, nobody else posts. */
      if (req->wait_handle != NULL)
        UnregisterWaitEx (req->wait_handle, INVALID_HANDLE_VALUE);
      req->wait_handle = NULL;
      if (InterlockedCompareExchange (&req->wait_fired, 1, 0) == 0)
        post_local (req, -ECANCELED);
      return;
    }
  /* ERROR_NOT_FOUND: it completed, its packet is in the port. A closed
   * socket cancelled its requests itself. */
  CancelIoEx ((HANDLE) req->sock, &req->ov);
}

/* ---------------------------------------------------------------------- */
/* completions */

static void
handle_packet (EvlIocpBackend   *self,
               OVERLAPPED_ENTRY *entry)
{
  IocpReq *req;
  EvlProactorOp *op;
  LONG status;
  int res;

  if (entry->lpCompletionKey == KEY_WAKEUP)
    {
      /* The loop reads its posts after wait(): let the next one post. */
      evl_wakeup_drain (self->wake_fd);
      return;
    }
  if (entry->lpCompletionKey == KEY_QUIT || entry->lpOverlapped == NULL)
    return;
  req = (IocpReq *) entry->lpOverlapped;
  op = req->op;
  if (op == NULL)
    {
      /* An orphan's late packet (close() gave up on it): now it is free. */
      req_free (req);
      return;
    }

  if (entry->lpCompletionKey == KEY_LOCAL)
    {
      req->local = FALSE;
      res = req->local_result;
      if (req->kind == REQ_HANDLE_WAIT && req->wait_handle != NULL)
        {
          /* Fired: the thread pool is done with it (WT_EXECUTEONLYONCE);
           * release the registration without waiting. */
          UnregisterWaitEx (req->wait_handle, NULL);
          req->wait_handle = NULL;
        }
      complete_final (self, op, res);
      return;
    }

  status = (LONG) req->ov.Internal;
  if (status < 0 && status != EVL_STATUS_BUFFER_OVERFLOW)
    res = -errno_from_ntstatus (status);
  else
    res = 0;

  switch (req->kind)
    {
    case REQ_AFD_POLL:
      if (res == 0)
        {
          ULONG afd = req->poll_info.n_handles > 0 ? req->poll_info.handles[0].events : 0;

          if (afd & AFD_POLL_LOCAL_CLOSE)
            res = -EBADF;
          else
            res = (int) afd_to_evl (afd);
        }
      break;

    case REQ_POLL_STEP:
      if (res == 0 && !(op->flags & OPF_CANCEL))
        {
          if ((res = start_data (self, req)) == 0)
            return;
          break;
        }
      if (op->flags & OPF_CANCEL)
        res = -ECANCELED;
      break;

    case REQ_DATA:
      if (res < 0)
        break;
      switch (op->kind)
        {
        case EVL_PROACTOR_RECV:
        case EVL_PROACTOR_SEND:
          res = (int) MIN (entry->dwNumberOfBytesTransferred, (DWORD) G_MAXINT32);
          break;
        case EVL_PROACTOR_CONNECT:
          setsockopt (req->sock, SOL_SOCKET, SO_UPDATE_CONNECT_CONTEXT, NULL, 0);
          res = 0;
          break;
        case EVL_PROACTOR_ACCEPT:
          {
            DWORD addr_len = sizeof (SOCKADDR_STORAGE) + 16;
            struct sockaddr *local_sa = NULL, *remote_sa = NULL;
            int local_len = 0, remote_len = 0;
            u_long nonblocking = 1;

            setsockopt (req->accept_sock, SOL_SOCKET, SO_UPDATE_ACCEPT_CONTEXT,
                        (char *) &req->sock, sizeof req->sock);
            ioctlsocket (req->accept_sock, FIONBIO, &nonblocking);
            self->get_accept_ex_sockaddrs (req->accept_buf, 0, addr_len, addr_len,
                                           &local_sa, &local_len, &remote_sa, &remote_len);
            if (remote_sa != NULL && remote_len > 0 && op->addr != NULL)
              {
                memcpy (op->addr, remote_sa, MIN ((socklen_t) remote_len, op->addrlen));
                op->addrlen = remote_len;
              }
            else
              op->addrlen = 0;
            res = (int) req->accept_sock;
            req->accept_sock = INVALID_SOCKET;   /* the caller's now */
          }
          break;
        default:
          g_assert_not_reached ();
        }
      break;

    case REQ_FILE:
      if (res == -EPIPE || status == EVL_STATUS_END_OF_FILE || status == EVL_STATUS_PIPE_BROKEN)
        res = op->kind == EVL_PROACTOR_RECV ? 0 : -EPIPE;
      else if (res == 0)
        res = (int) MIN (entry->dwNumberOfBytesTransferred, (DWORD) G_MAXINT32);
      break;

    case REQ_HANDLE_WAIT:
    default:
      g_assert_not_reached ();
    }

  complete_final (self, op, res);
}

static guint
drain (EvlIocpBackend *self)
{
  OVERLAPPED_ENTRY entries[BATCH];
  ULONG n, i;
  guint total = 0;
  int rounds;

  /* A bounded number of rounds, so a flood cannot starve the callbacks. */
  for (rounds = 0; rounds < 4; rounds++)
    {
      if (!GetQueuedCompletionStatusEx (self->port, entries, BATCH, &n, 0, FALSE))
        break;
      for (i = 0; i < n; i++)
        handle_packet (self, &entries[i]);
      total += n;
      if (n < BATCH)
        break;
    }
  return total;
}

static DWORD
timeout_ms (gint64 timeout_ns)
{
  gint64 ms;

  if (timeout_ns < 0)
    return INFINITE;
  /* Round up: a timer must never fire early. */
  ms = (timeout_ns + 999999) / 1000000;
  return (DWORD) MIN (ms, (gint64) INFINITE - 1);
}

static int
iocp_wait (EvlProactorBackend *backend,
           gint64              timeout_ns)
{
  EvlIocpBackend *self = (EvlIocpBackend *) backend;
  OVERLAPPED_ENTRY entries[BATCH];
  ULONG n = 0, i;
  guint total = 0;

  if (self->helper == NULL)
    {
      if (!GetQueuedCompletionStatusEx (self->port, entries, BATCH, &n,
                                        timeout_ms (timeout_ns), FALSE))
        {
          DWORD code = GetLastError ();

          if (code != WAIT_TIMEOUT && code != WAIT_IO_COMPLETION)
            return -errno_from_win32 (code);
          return 0;
        }
      for (i = 0; i < n; i++)
        handle_packet (self, &entries[i]);
      total = n;
      if (n == BATCH)
        total += drain (self);
      return (int) total;
    }
  else
    {
      /* The helper thread dequeues for GLib: wait for its event, take its
       * packet, drain the rest, let it go on. */
      OVERLAPPED_ENTRY parked;
      gboolean have;

      if (timeout_ns != 0)
        WaitForSingleObject (self->ready_event, timeout_ms (timeout_ns));
      g_mutex_lock (&self->lock);
      have = self->have_parked;
      parked = self->parked;
      self->have_parked = FALSE;
      if (have)
        ResetEvent (self->ready_event);
      g_mutex_unlock (&self->lock);
      if (have)
        {
          handle_packet (self, &parked);
          total++;
        }
      total += drain (self);
      if (have)
        SetEvent (self->resume_event);
      return (int) total;
    }
}

static void
iocp_flush (EvlProactorBackend *backend)
{
  /* Requests are issued by submit() and cancel() themselves. */
}

/* ---------------------------------------------------------------------- */
/* GLib */

static gpointer
helper_main (gpointer data)
{
  EvlIocpBackend *self = data;
  OVERLAPPED_ENTRY entry;
  ULONG n;

  for (;;)
    {
      WaitForSingleObject (self->resume_event, INFINITE);
      if (g_atomic_int_get (&self->quit))
        break;
      if (!GetQueuedCompletionStatusEx (self->port, &entry, 1, &n, INFINITE, FALSE) || n == 0)
        {
          SetEvent (self->resume_event);
          continue;
        }
      if (entry.lpCompletionKey == KEY_QUIT)
        break;
      /* The event changes under the lock: it is set exactly while a
       * packet is parked. */
      g_mutex_lock (&self->lock);
      self->parked = entry;
      self->have_parked = TRUE;
      SetEvent (self->ready_event);
      g_mutex_unlock (&self->lock);
    }
  return NULL;
}

static int
iocp_get_poll_fd (EvlProactorBackend *backend)
{
  EvlIocpBackend *self = (EvlIocpBackend *) backend;

  if (self->helper == NULL)
    {
      SetEvent (self->resume_event);
      self->helper = g_thread_new ("evl-iocp-glib", helper_main, self);
    }
  return (int) (gintptr) self->ready_event;
}

static int
iocp_get_wakeup_fd (EvlProactorBackend *backend)
{
  return ((EvlIocpBackend *) backend)->wake_fd;
}

static void
stop_helper (EvlIocpBackend *self)
{
  if (self->helper == NULL)
    return;
  g_atomic_int_set (&self->quit, 1);
  SetEvent (self->resume_event);
  PostQueuedCompletionStatus (self->port, 0, KEY_QUIT, NULL);
  g_thread_join (self->helper);
  self->helper = NULL;
  if (self->have_parked)
    {
      self->have_parked = FALSE;
      handle_packet (self, &self->parked);
    }
}

static void
iocp_close (EvlProactorBackend *backend)
{
  EvlIocpBackend *self = (EvlIocpBackend *) backend;
  EvlProactorOp *op, *next;
  gint64 deadline;

  stop_helper (self);
  deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  while (self->n_all > 0 && g_get_monotonic_time () < deadline)
    {
      /* Also what the completions submitted meanwhile. */
      for (op = self->all; op != NULL; op = next)
        {
          next = op->next;
          iocp_cancel (backend, op);
        }
      iocp_wait (backend, 100 * G_GINT64_CONSTANT (1000000));
    }
  if (self->n_all > 0)
    {
      /* The kernel did not give them back: leave their memory alone. */
      g_warning ("%u overlapped operations did not end when the loop closed", self->n_all);
      while ((op = self->all) != NULL)
        {
          op->orphaned = TRUE;
          complete_final (self, op, -ECANCELED);
        }
    }
  CloseHandle (self->port);
  CloseHandle (self->ready_event);
  CloseHandle (self->resume_event);
  g_mutex_clear (&self->lock);
  g_free (self);
}

static const EvlProactorBackendFuncs iocp_funcs = {
  .name = "iocp",
  .submit = iocp_submit,
  .cancel = iocp_cancel,
  .wait = iocp_wait,
  .flush = iocp_flush,
  .get_poll_fd = iocp_get_poll_fd,
  .get_wakeup_fd = iocp_get_wakeup_fd,
  .close = iocp_close,
};

/* ---------------------------------------------------------------------- */
/* setup */

static gboolean
load_extension (SOCKET   sock,
                GUID     guid,
                gpointer func,
                gsize    size)
{
  DWORD bytes = 0;

  return WSAIoctl (sock, SIO_GET_EXTENSION_FUNCTION_POINTER, &guid, sizeof guid,
                   func, (DWORD) size, &bytes, NULL, NULL) == 0;
}

static gboolean
env_says_no (void)
{
  const char *v = g_getenv ("EVL_NO_IOCP");

  return v != NULL && *v != '\0' && !g_str_equal (v, "0");
}

static void
not_supported (GError     **error,
               const char  *why)
{
  g_set_error (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_NOT_SUPPORTED,
               _("The proactor loop cannot use an I/O completion port: %s. "
                 "Use the selector loop instead (evl_selector_loop_new(), or EVL_LOOP=selector)"),
               why);
}

EvlProactorBackend *
evl_proactor_backend_new (GError **error)
{
  static const GUID accept_ex_guid = WSAID_ACCEPTEX;
  static const GUID connect_ex_guid = WSAID_CONNECTEX;
  static const GUID sockaddrs_guid = WSAID_GETACCEPTEXSOCKADDRS;
  EvlIocpBackend *self;
  SOCKET probe;
  gboolean ok;

  if (env_says_no ())
    {
      not_supported (error, _("it is turned off by the environment variable EVL_NO_IOCP"));
      return NULL;
    }

  g_networking_init ();
  if (rtl_nt_status_to_dos_error == NULL)
    {
      HMODULE ntdll = GetModuleHandleW (L"ntdll.dll");

      if (ntdll != NULL)
        {
          rtl_nt_status_to_dos_error =
            (RtlNtStatusToDosErrorFunc) (void (*) (void)) GetProcAddress (ntdll, "RtlNtStatusToDosError");
          nt_query_information_file =
            (NtQueryInformationFileFunc) (void (*) (void)) GetProcAddress (ntdll, "NtQueryInformationFile");
        }
    }

  self = g_new0 (EvlIocpBackend, 1);
  self->parent.funcs = &iocp_funcs;
  self->wake_fd = -1;
  g_mutex_init (&self->lock);

  probe = WSASocketW (AF_INET, SOCK_STREAM, IPPROTO_TCP, NULL, 0, WSA_FLAG_OVERLAPPED);
  if (probe == INVALID_SOCKET)
    probe = WSASocketW (AF_INET6, SOCK_STREAM, IPPROTO_TCP, NULL, 0, WSA_FLAG_OVERLAPPED);
  ok = probe != INVALID_SOCKET &&
       load_extension (probe, accept_ex_guid, &self->accept_ex, sizeof self->accept_ex) &&
       load_extension (probe, connect_ex_guid, &self->connect_ex, sizeof self->connect_ex) &&
       load_extension (probe, sockaddrs_guid, &self->get_accept_ex_sockaddrs,
                       sizeof self->get_accept_ex_sockaddrs);
  if (probe != INVALID_SOCKET)
    closesocket (probe);
  if (!ok)
    {
      not_supported (error, _("Winsock lacks AcceptEx or ConnectEx"));
      goto fail;
    }

  self->port = CreateIoCompletionPort (INVALID_HANDLE_VALUE, NULL, 0, 1);
  self->ready_event = CreateEventW (NULL, TRUE, FALSE, NULL);
  self->resume_event = CreateEventW (NULL, FALSE, FALSE, NULL);
  if (self->port == NULL || self->ready_event == NULL || self->resume_event == NULL)
    {
      int errsv = errno_from_win32 (GetLastError ());

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                   _("Cannot create an I/O completion port: %s"), g_strerror (errsv));
      goto fail;
    }
  if (!evl_wakeup_open_port (self->port, KEY_WAKEUP, &self->wake_fd))
    {
      int errsv = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                   _("Cannot create an I/O completion port: %s"), g_strerror (errsv));
      goto fail;
    }
  return &self->parent;

fail:
  if (self->port != NULL)
    CloseHandle (self->port);
  if (self->ready_event != NULL)
    CloseHandle (self->ready_event);
  if (self->resume_event != NULL)
    CloseHandle (self->resume_event);
  g_mutex_clear (&self->lock);
  g_free (self);
  return NULL;
}
