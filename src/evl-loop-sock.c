/* evl-loop-sock.c: the socket primitives (asyncio's sock_* methods)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "evl-config.h"

#include <errno.h>
#include <string.h>

#include "evl-os-sock-private.h"
#include "evl-loop-private.h"
#include "evl-loop-impl-private.h"
#include "evl-operation-private.h"

/* evl_loop_is_closed() without its type check, for the hot paths. */
static inline gboolean
loop_is_closed (EvlLoop *loop)
{
  return evl_loop_get_priv (loop)->closed;
}

/* The front half of every primitive is here: argument checks, the
 * GCancellable, the EvlOperation that carries the result. The I/O itself
 * is one of two back halves:
 *
 *  - a completion-based backend (the proactor) gets each step through its
 *    sock_submit hook and reports it with evl_loop_sock_done();
 *  - otherwise (the selector loop) the step is a non-blocking syscall,
 *    tried at once; on EAGAIN the operation waits and an internal watch
 *    (a slot of the loop's fd table next to the user's reader and writer,
 *    so neither replaces the other) retries it when the fd is ready. The
 *    watch is removed as soon as nobody waits, as asyncio does, so a
 *    closed fd is never left in the selector.
 *
 * Either way operations on one fd in one direction run one at a time, in
 * the order they were started (a FIFO per fd and direction, SockWaiters):
 * two sendalls never interleave their bytes, two recvs get the stream in
 * order. With the proactor only the head of a queue is with the kernel.
 *
 * A sendall is a series of SEND steps until all is sent. An operation
 * ends exactly once (SockOp.state == OP_DONE), with its result, with
 * G_IO_ERROR_CANCELLED (GCancellable, or the loop closing under it), or
 * with EVL_LOOP_ERROR_CLOSED at once on a closed loop.
 *
 * Limit shared with asyncio: an fd closed while an operation waits on it
 * leaves the operation pending (the selector forgets the fd; an io_uring
 * request keeps the file open) until it is cancelled or the loop closes. */

typedef struct _SockOp SockOp;
typedef struct _SockTable SockTable;
typedef struct _SockFd SockFd;
typedef struct _SockWaiters SockWaiters;

typedef enum
{
  OP_STARTING,
  OP_SUBMITTED,   /* with the backend */
  OP_WAITING,     /* in a SockWaiters queue */
  OP_DONE,
} OpState;

typedef enum
{
  CONNECT_START,
  CONNECT_CHECK,  /* in progress: SO_ERROR tells once writable */
  CONNECT_RETRY,  /* EAGAIN (AF_UNIX backlog full): connect again */
} ConnectPhase;

struct _SockOp
{
  EvlSockRequest  req;          /* first: what the backend sees */
  gint            ref_count;    /* atomic: the operation + posted cancellations */
  EvlLoop        *loop;         /* not owned: @op holds it */
  SockTable      *table;        /* the loop's (lives as long as it) */
  EvlOperation   *op;
  GCancellable   *cancellable;
  gulong          cancel_id;
  GBytes         *bytes;        /* SEND: the data */
  guint8         *owned;        /* RECV into a buffer of ours */
  gsize           total;        /* SEND: size of the data */
  gsize           done;         /* SEND: bytes sent so far */
  OpState         state;
  ConnectPhase    connect_phase;
  gboolean        cancel_requested;
  SockWaiters    *waiters;      /* the (fd, direction) queue it is in, if any */
  GList           link;         /* our node in it */
};

struct _SockWaiters
{
  SockFd   *sfd;
  gboolean  writer;
  gboolean  watching;       /* the internal watch is installed */
  gboolean  removing;       /* we remove it ourselves: not a close */
  gboolean  unverified;     /* adopted: in SockTable.unverified */
  GList     vlink;          /* our node there */
  GQueue    queue;          /* SockOp, FIFO */
};


/* The loop's table of the fds operations use (readiness back half). */
/* Finished SockOps kept for the next ones, on the loop's thread. */
#define SOP_POOL_MAX 64

struct _SockTable
{
  GHashTable *fds;          /* fd -> SockFd */
  SockOp     *pool[SOP_POOL_MAX];
  guint       n_pool;
  GQueue      unverified;   /* SockWaiters whose adopted watch awaits proof */
  gboolean    verify_armed; /* the timer that re-arms what is still unproven */
};

/* How long an adopted watch may wait for its first event before it is
 * registered afresh (see readiness_start()). */
#define VERIFY_DELAY 0.001

struct _SockFd
{
  gint         ref_count;   /* the loop's table + each installed watch */
  EvlLoop     *loop;
  int          fd;
  SockWaiters  dir[2];      /* reading, writing */
};

/* Bounds of one step: io_uring lengths are 32-bit, results are int. */
#define STEP_MAX ((gsize) G_MAXINT32 & ~(gsize) 4095)

static void sock_op_finish (SockOp *sop,
                            int     result);
static void release_if_idle (SockWaiters *w);

/* ---------------------------------------------------------------------- */
/* SockOp */

static SockTable *get_table (EvlLoop  *loop,
                             gboolean  create);

/* Whether the pools may be used: on the thread running the loop. */
static inline gboolean
may_pool (EvlLoop *loop)
{
  return evl_loop_get_running_thread (loop) == g_thread_self () && !loop_is_closed (loop);
}

static SockOp *
sock_op_new (EvlLoop             *loop,
             EvlSockKind          kind,
             int                  fd,
             GCancellable        *cancellable,
             gpointer             source_tag,
             GAsyncReadyCallback  callback,
             gpointer             user_data)
{
  SockTable *table = get_table (loop, TRUE);
  SockOp *sop;

  if (table->n_pool > 0 && may_pool (loop))
    sop = table->pool[--table->n_pool];   /* zeroed when pooled */
  else
    sop = g_new0 (SockOp, 1);
  sop->table = table;

  sop->req.kind = kind;
  sop->req.fd = fd;
  sop->ref_count = 1;
  sop->loop = loop;
  sop->op = evl_operation_new (loop, source_tag, callback, user_data);
  sop->cancellable = cancellable != NULL ? g_object_ref (cancellable) : NULL;
  sop->state = OP_STARTING;
  sop->link.data = sop;
  return sop;
}

static SockOp *
sock_op_ref (SockOp *sop)
{
  g_atomic_int_inc (&sop->ref_count);
  return sop;
}

static void
sock_op_unref (gpointer data)
{
  SockOp *sop = data;
  EvlOperation *op;
  SockTable *table;

  if (!g_atomic_int_dec_and_test (&sop->ref_count))
    return;
  if (sop->req.orphaned)
    {
      /* The kernel may still read or write what the request points to:
       * leave all of it allocated (see EvlSockRequest.orphaned). */
      g_clear_object (&sop->op);
      g_clear_object (&sop->cancellable);
      return;
    }
  g_clear_object (&sop->cancellable);
  g_clear_pointer (&sop->bytes, g_bytes_unref);
  g_free (sop->owned);
  /* @op holds the loop: drop it last. */
  op = sop->op;
  table = sop->table;
  if (table->n_pool < SOP_POOL_MAX && may_pool (sop->loop))
    {
      memset (sop, 0, sizeof *sop);
      table->pool[table->n_pool++] = sop;
    }
  else
    g_free (sop);
  g_clear_object (&op);
}

/* A G_IO_ERROR for errno @errsv, saying which operation failed. */
static GError *
sock_error_new (EvlSockKind kind,
                int         errsv)
{
  GIOErrorEnum code = g_io_error_from_errno (errsv);
  const char *what = evl_os_strerror (errsv);

  switch (kind)
    {
    case EVL_SOCK_RECV:
      return g_error_new (G_IO_ERROR, code, _("Error receiving data: %s"), what);
    case EVL_SOCK_SEND:
      return g_error_new (G_IO_ERROR, code, _("Error sending data: %s"), what);
    case EVL_SOCK_CONNECT:
      return g_error_new (G_IO_ERROR, code, _("Error connecting: %s"), what);
    case EVL_SOCK_ACCEPT:
    default:
      return g_error_new (G_IO_ERROR, code, _("Error accepting a connection: %s"), what);
    }
}

typedef struct
{
  int             fd;
  GSocketAddress *address;
} AcceptResult;

static void
accept_result_free (gpointer data)
{
  AcceptResult *ar = data;

  if (ar->fd >= 0)
    evl_os_sock_close (ar->fd);
  g_clear_object (&ar->address);
  g_free (ar);
}

/* Ends @sop with @result (>= 0, or -errno) and hands it to its
 * EvlOperation, which schedules the callback. */
static void
sock_op_finish (SockOp *sop,
                int     result)
{
  EvlOperation *op = sop->op;

  g_assert (sop->state != OP_DONE);
  sop->state = OP_DONE;
  if (sop->waiters != NULL)
    {
      g_queue_unlink (&sop->waiters->queue, &sop->link);
      sop->waiters = NULL;
    }
  if (sop->cancel_id != 0)
    {
      g_cancellable_disconnect (sop->cancellable, sop->cancel_id);
      sop->cancel_id = 0;
    }

  if (result >= 0 && sop->req.kind == EVL_SOCK_SEND && sop->done < sop->total)
    result = -ECANCELED;   /* a sendall stopped by a cancellation */

  if (result == -ECANCELED)
    evl_operation_return_error (op, g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED,
                                                         _("Operation was cancelled")));
  else if (result < 0)
    {
      evl_operation_return_error (op, sock_error_new (sop->req.kind, -result));
    }
  else
    {
      switch (sop->req.kind)
        {
        case EVL_SOCK_RECV:
          if (sop->owned != NULL)
            {
              GBytes *bytes;

              if (result == 0)
                {
                  g_clear_pointer (&sop->owned, g_free);
                  bytes = g_bytes_new (NULL, 0);
                }
              else
                bytes = g_bytes_new_take (g_realloc (g_steal_pointer (&sop->owned), result), result);
              evl_operation_return_pointer (op, bytes, (GDestroyNotify) g_bytes_unref);
            }
          else
            evl_operation_return_size (op, result);
          break;
        case EVL_SOCK_SEND:
        case EVL_SOCK_CONNECT:
          evl_operation_return_boolean (op, TRUE);
          break;
        case EVL_SOCK_ACCEPT:
          {
            AcceptResult *ar = g_new0 (AcceptResult, 1);

            ar->fd = result;
            if (sop->req.addrlen > 0 && (gsize) sop->req.addrlen <= sizeof sop->req.addr)
              ar->address = g_socket_address_new_from_native (&sop->req.addr, sop->req.addrlen);
            evl_operation_return_pointer (op, ar, accept_result_free);
          }
          break;
        default:
          g_assert_not_reached ();
        }
    }
  sock_op_unref (sop);
}

/* ---------------------------------------------------------------------- */
/* the readiness back half */

static void
sock_fd_unref (gpointer data)
{
  SockFd *sfd = data;

  if (--sfd->ref_count == 0)
    g_free (sfd);
}

static GQuark
sock_table_quark (void)
{
  static GQuark quark;

  if (G_UNLIKELY (quark == 0))
    quark = g_quark_from_static_string ("evl-loop-sock-fds");
  return quark;
}

static void
unverified_remove (SockTable   *table,
                   SockWaiters *w)
{
  if (!w->unverified)
    return;
  w->unverified = FALSE;
  g_queue_unlink (&table->unverified, &w->vlink);
  sock_fd_unref (w->sfd);
}

static void
unverified_clear (SockTable *table)
{
  GList *l;

  while ((l = table->unverified.head) != NULL)
    unverified_remove (table, l->data);
}

static void
sock_table_free (gpointer data)
{
  SockTable *table = data;

  unverified_clear (table);
  g_hash_table_unref (table->fds);
  while (table->n_pool > 0)
    g_free (table->pool[--table->n_pool]);
  g_free (table);
}

static SockTable *
get_table (EvlLoop  *loop,
           gboolean  create)
{
  SockTable *table = g_object_get_qdata ((GObject *) loop, sock_table_quark ());

  if (table == NULL && create)
    {
      table = g_new0 (SockTable, 1);
      table->fds = g_hash_table_new_full (NULL, NULL, NULL, sock_fd_unref);
      g_queue_init (&table->unverified);
      g_object_set_qdata_full (G_OBJECT (loop), sock_table_quark (), table, sock_table_free);
    }
  return table;
}

static SockWaiters *
lookup_waiters (SockTable *table,
                EvlLoop   *loop,
                int        fd,
                gboolean   writer,
                gboolean   create)
{
  SockFd *sfd;

  sfd = g_hash_table_lookup (table->fds, GINT_TO_POINTER (fd));
  if (sfd == NULL)
    {
      guint i;

      if (!create)
        return NULL;
      sfd = g_new0 (SockFd, 1);
      sfd->ref_count = 1;
      sfd->loop = loop;
      sfd->fd = fd;
      for (i = 0; i < 2; i++)
        {
          sfd->dir[i].sfd = sfd;
          sfd->dir[i].writer = i == 1;
          sfd->dir[i].vlink.data = &sfd->dir[i];
          g_queue_init (&sfd->dir[i].queue);
        }
      g_hash_table_insert (table->fds, GINT_TO_POINTER (fd), sfd);
    }
  return &sfd->dir[writer ? 1 : 0];
}

/* Drops the table's reference once neither direction has anything. */
static void
forget_if_idle (SockFd *sfd)
{
  SockTable *table;
  guint i;

  for (i = 0; i < 2; i++)
    if (sfd->dir[i].watching || sfd->dir[i].queue.length > 0)
      return;
  table = get_table (sfd->loop, FALSE);
  if (table != NULL && g_hash_table_lookup (table->fds, GINT_TO_POINTER (sfd->fd)) == sfd)
    g_hash_table_remove (table->fds, GINT_TO_POINTER (sfd->fd));
}

/* The timer: every adopted watch still unproven is registered afresh. */
static void
verify_cb (gpointer data)
{
  SockTable *table = get_table (data, FALSE);
  GList *l;

  if (table == NULL)
    return;
  table->verify_armed = FALSE;
  while ((l = table->unverified.head) != NULL)
    {
      SockWaiters *w = l->data;
      SockFd *sfd = w->sfd;

      sfd->ref_count++;
      unverified_remove (table, w);
      if (w->watching && w->queue.length > 0 &&
          !evl_loop_rearm_fd (sfd->loop, sfd->fd, NULL))
        {
          /* The number is not open any more. */
          while ((l = w->queue.head) != NULL)
            sock_op_finish (l->data, -EBADF);
          release_if_idle (w);
        }
      sock_fd_unref (sfd);
    }
}

/* The timer's notify: it ran, or the loop dropped it (closing). */
static void
verify_notify (gpointer data)
{
  SockTable *table = get_table (data, FALSE);

  if (table != NULL)
    table->verify_armed = FALSE;
}

/* @w's watch was installed for an operation that has just ended, and
 * one started from its callback waits on it (waiters_ready()). That
 * callback may have closed the fd and opened another file under the same
 * number, which epoll does not watch (it forgot the old file when it was
 * closed) although the loop thinks it does. Rather than a syscall for
 * every such operation, a watch that reports an event has proven itself,
 * and the few still unproven after VERIFY_DELAY are registered afresh
 * (one epoll_ctl MOD each, and ADD where the file is new). */
static void
adopt_watch (SockWaiters *w)
{
  SockTable *table = get_table (w->sfd->loop, TRUE);

  if (w->unverified)
    return;
  w->unverified = TRUE;
  w->sfd->ref_count++;
  g_queue_push_tail_link (&table->unverified, &w->vlink);
  if (!table->verify_armed)
    {
      table->verify_armed = TRUE;
      evl_loop_call_later (w->sfd->loop, VERIFY_DELAY, verify_cb, w->sfd->loop, verify_notify);
    }
}

/* One non-blocking syscall for the current step: >= 0, or -errno. */
static int
sock_syscall (SockOp *sop)
{
  EvlSockRequest *req = &sop->req;
  gssize n;
  int err;
  socklen_t len;

  switch (req->kind)
    {
    case EVL_SOCK_RECV:
      return (int) evl_os_sock_recv (req->fd, req->buffer, req->length);

    case EVL_SOCK_SEND:
      return (int) evl_os_sock_send (req->fd, req->buffer, req->length);

    case EVL_SOCK_CONNECT:
      if (sop->connect_phase == CONNECT_CHECK)
        {
          err = evl_os_sock_error (req->fd);
          return err <= 0 ? err : -err;
        }
      err = -evl_os_sock_connect (req->fd, (struct sockaddr *) &req->addr, req->addrlen);
      if (err == 0)
        return 0;
      if (err == EISCONN && sop->connect_phase == CONNECT_RETRY)
        return 0;
      if (err == EINPROGRESS || err == EINTR || err == EALREADY)
        {
          sop->connect_phase = CONNECT_CHECK;
          return -EAGAIN;
        }
      if (err == EAGAIN)
        sop->connect_phase = CONNECT_RETRY;
      return -err;

    case EVL_SOCK_ACCEPT:
      len = sizeof req->addr;
      n = evl_os_sock_accept (req->fd, (struct sockaddr *) &req->addr, &len);
      if (n < 0)
        return (int) n;
      req->addrlen = len;
      return (int) n;

    default:
      g_assert_not_reached ();
    }
}

static void
setup_send_step (SockOp *sop)
{
  sop->req.buffer = (guint8 *) g_bytes_get_data (sop->bytes, NULL) + sop->done;
  sop->req.length = MIN (sop->total - sop->done, STEP_MAX);
}

/* Takes the result of one step. Returns TRUE when the operation needs
 * another step (a sendall with more to send), FALSE when it has ended. */
static gboolean
step_result (SockOp *sop,
             int     result)
{
  if (sop->req.kind == EVL_SOCK_SEND && result >= 0)
    {
      sop->done += (gsize) result;
      if (sop->done < sop->total && !sop->cancel_requested)
        {
          setup_send_step (sop);
          return TRUE;
        }
    }
  sock_op_finish (sop, result);
  return FALSE;
}

/* Runs syscalls until the operation ends (TRUE) or would block (FALSE). */
static gboolean
try_steps (SockOp *sop)
{
  for (;;)
    {
      int r = sock_syscall (sop);

      if (r == -EAGAIN || r == -EWOULDBLOCK)
        return FALSE;
      if (r == -EINTR)
        continue;
      if (!step_result (sop, r))
        return TRUE;
    }
}

static void waiters_ready   (gpointer data);
static void waiters_dropped (gpointer data);

/* Removes the internal watch when nobody waits any more; may free @w. */
static void
release_if_idle (SockWaiters *w)
{
  SockFd *sfd = w->sfd;

  if (w->queue.length > 0)
    return;
  sfd->ref_count++;
  if (w->watching)
    {
      w->removing = TRUE;
      w->watching = FALSE;
      evl_loop_remove_internal_watch (sfd->loop, sfd->fd, w->writer);
    }
  forget_if_idle (sfd);
  sock_fd_unref (sfd);
}

/* The internal watch fired: retry the waiting operations in order (each
 * leaves the queue when it ends).
 *
 * This runs from the loop's own dispatch, so an operation that ends here
 * runs its callback at once rather than an iteration later (which would
 * cost a poll more per operation). Operations its callback starts on the
 * same fd and direction have just tried their syscall: they wait for the
 * next readiness, and the watch stays for them instead of being removed
 * and added again (see readiness_start()). */
static void
waiters_ready (gpointer data)
{
  SockWaiters *w = data;
  SockFd *sfd = w->sfd;
  GList *l, *last = w->queue.tail;

  sfd->ref_count++;
  while (w->watching && (l = w->queue.head) != NULL)
    {
      SockOp *sop = l->data;
      EvlOperation *op = g_object_ref (sop->op);
      gboolean was_last = l == last;

      evl_operation_hold (op, TRUE);
      if (!try_steps (sop))
        {
          evl_operation_hold (op, FALSE);
          g_object_unref (op);
          sock_fd_unref (sfd);
          return;
        }
      /* The event was for the file the number names now. */
      if (w->unverified)
        unverified_remove (get_table (sfd->loop, FALSE), w);
      evl_operation_deliver_held (op);
      if (was_last)
        break;
    }
  if (w->watching)
    release_if_idle (w);
  sock_fd_unref (sfd);
}

/* The watch handle's notify: we removed it, or the loop dropped it while
 * closing; then whoever still waits ends with G_IO_ERROR_CANCELLED. */
static void
waiters_dropped (gpointer data)
{
  SockWaiters *w = data;
  SockFd *sfd = w->sfd;
  GList *l;

  if (!w->removing)
    {
      w->watching = FALSE;
      while ((l = w->queue.head) != NULL)
        {
          SockOp *sop = l->data;

          sop->cancel_requested = TRUE;
          sock_op_finish (sop, -ECANCELED);
        }
      forget_if_idle (sfd);
    }
  w->removing = FALSE;
  sock_fd_unref (sfd);
}

static void
readiness_start (SockOp *sop)
{
  gboolean writer = sop->req.kind == EVL_SOCK_SEND || sop->req.kind == EVL_SOCK_CONNECT;
  SockWaiters *w = lookup_waiters (sop->table, sop->loop, sop->req.fd, writer, FALSE);
  GError *error = NULL;

  /* FIFO: behind operations already waiting in the same direction.
   * An operation started from the callback of the previous one, whose
   * watch is still installed (waiters_ready()), leaves its first syscall
   * to the watch: the fd is polled before the callback could run anyway
   * (it would be scheduled for the next iteration), and level-triggered
   * the poll reports it at once if it is ready already; in a ping-pong
   * that saves the recv that says EAGAIN. */
  if ((w == NULL || (w->queue.length == 0 && !w->watching)) && try_steps (sop))
    return;

  w = lookup_waiters (sop->table, sop->loop, sop->req.fd, writer, TRUE);
  if (!w->watching)
    {
      SockFd *sfd = w->sfd;

      /* One reference for the watch, one for us while we look. */
      sfd->ref_count += 2;
      if (!evl_loop_add_internal_watch (sop->loop, sop->req.fd, writer,
                                        waiters_ready, w, waiters_dropped, &error))
        {
          /* The watch's notify has run and dropped its reference. */
          sop->state = OP_DONE;
          if (sop->cancel_id != 0)
            g_cancellable_disconnect (sop->cancellable, sop->cancel_id);
          sop->cancel_id = 0;
          evl_operation_return_error (sop->op, error);
          sock_op_unref (sop);
          forget_if_idle (sfd);
          sock_fd_unref (sfd);
          return;
        }
      w->watching = TRUE;
      sock_fd_unref (sfd);
    }
  else if (w->queue.length == 0)
    adopt_watch (w);
  sop->state = OP_WAITING;
  sop->waiters = w;
  g_queue_push_tail_link (&w->queue, &sop->link);
}

/* The operation at the head of @w's queue was cancelled and others wait
 * behind it. It may have waited on a file that is gone: the fd closed and
 * its number reused (the limit above), so that the watch, installed for
 * the old file, never fires for the new one (epoll forgot the old file
 * when it was closed). Watch the number afresh, so the backend registers
 * the file it names now; level-triggered, it reports it if ready. */
static void
rewatch (SockWaiters *w)
{
  SockFd *sfd = w->sfd;
  GList *l;

  w->removing = TRUE;
  w->watching = FALSE;
  evl_loop_remove_internal_watch (sfd->loop, sfd->fd, w->writer);
  sfd->ref_count++;   /* the new watch's */
  w->removing = TRUE;   /* a refused watch runs its notify at once */
  if (evl_loop_add_internal_watch (sfd->loop, sfd->fd, w->writer,
                                   waiters_ready, w, waiters_dropped, NULL))
    {
      w->removing = FALSE;
      w->watching = TRUE;
      return;
    }
  /* The number is not open any more. */
  while ((l = w->queue.head) != NULL)
    sock_op_finish (l->data, -EBADF);
  forget_if_idle (sfd);
}

/* ---------------------------------------------------------------------- */
/* the shared front half */

static void
do_cancel (gpointer data)
{
  SockOp *sop = data;
  const EvlLoopBackend *backend;
  SockWaiters *w;
  gboolean was_head;

  if (sop->state == OP_DONE || sop->cancel_requested)
    return;
  sop->cancel_requested = TRUE;
  switch (sop->state)
    {
    case OP_SUBMITTED:
      backend = evl_loop_get_backend (sop->loop);
      backend->sock_cancel (sop->loop, &sop->req);
      break;
    case OP_WAITING:
      w = sop->waiters;
      was_head = w->queue.head == &sop->link;
      /* Readiness: waiting for the fd; proactor: behind the queue's
       * head, not submitted yet. */
      w->sfd->ref_count++;
      sock_op_finish (sop, -ECANCELED);
      if (w->watching && was_head && w->queue.length > 0)
        rewatch (w);
      else if (w->watching)
        release_if_idle (w);
      else
        forget_if_idle (w->sfd);
      sock_fd_unref (w->sfd);
      break;
    case OP_STARTING:
    case OP_DONE:
    default:
      break;
    }
}

/* GCancellable::cancelled, in whatever thread cancelled: the work is done
 * in the loop's thread. Never disconnects from here (that would
 * deadlock); sock_op_finish() does, on the loop's thread. */
static void
on_cancelled (GCancellable *cancellable,
              gpointer      data)
{
  SockOp *sop = data;

  sock_op_ref (sop);
  if (evl_loop_get_running_thread (sop->loop) == g_thread_self ())
    evl_loop_call_soon_internal (sop->loop, do_cancel, sop, sock_op_unref);
  else
    evl_loop_call_soon_threadsafe_internal (sop->loop, do_cancel, sop, sock_op_unref);
}

/* Refuses the operation at once when the loop is closed, @fd is invalid
 * or @cancellable is already cancelled; the callback then runs (from the
 * loop, or at once when the loop is closed). */
static gboolean
sock_op_check (SockOp *sop)
{
  GError *error = NULL;

  if (loop_is_closed (sop->loop))
    g_set_error_literal (&error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_CLOSED,
                         _("The event loop is closed; create a new loop to run more work"));
  else if (sop->req.fd < 0)
    g_set_error (&error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_INVALID,
                 _("File descriptor %d is not valid; pass an open socket"), sop->req.fd);
  else
    g_cancellable_set_error_if_cancelled (sop->cancellable, &error);

  if (error == NULL)
    return TRUE;
  sop->state = OP_DONE;
  evl_operation_return_error (sop->op, error);
  sock_op_unref (sop);
  return FALSE;
}

/* connect and accept must not block the loop: ask for a non-blocking fd,
 * as asyncio does (recv and send pass MSG_DONTWAIT instead). */
static gboolean
sock_op_check_nonblocking (SockOp *sop)
{
  GError *error = NULL;
  int nonblocking = evl_os_sock_is_nonblocking (sop->req.fd);

  if (nonblocking < 0)
    {
      error = sock_error_new (sop->req.kind, -nonblocking);
    }
  else if (!nonblocking)
    g_set_error (&error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_INVALID,
                 _("Socket %d is in blocking mode; make it non-blocking "
                   "(SOCK_NONBLOCK, or g_unix_set_fd_nonblocking())"), sop->req.fd);
  if (error == NULL)
    return TRUE;
  sop->state = OP_DONE;
  evl_operation_return_error (sop->op, error);
  sock_op_unref (sop);
  return FALSE;
}

/* ---------------------------------------------------------------------- */
/* the completion back half */

/* Hands the head of @w's queue to the backend once the previous head has
 * ended; on a closed loop everything still queued ends (cancelled). */
static void
completion_next (SockWaiters *w)
{
  SockFd *sfd = w->sfd;
  GList *l;

  sfd->ref_count++;
  while ((l = w->queue.head) != NULL)
    {
      SockOp *sop = l->data;

      if (sop->state != OP_WAITING)
        break;
      if (loop_is_closed (sop->loop))
        {
          sop->cancel_requested = TRUE;
          sock_op_finish (sop, -ECANCELED);
          continue;
        }
      sop->state = OP_SUBMITTED;
      evl_loop_get_backend (sop->loop)->sock_submit (sop->loop, &sop->req);
      break;
    }
  /* The entry stays for the fd's next operations (no hash table insert
   * and removal per operation): it is only queues, which an fd number
   * reused by another file can share (the kernel resolves the number
   * when the request is submitted). At most one per fd number. */
  sock_fd_unref (sfd);
}

static void
completion_start (SockOp *sop)
{
  gboolean writer = sop->req.kind == EVL_SOCK_SEND || sop->req.kind == EVL_SOCK_CONNECT;
  SockWaiters *w;

  if (sop->req.kind == EVL_SOCK_SEND && sop->total == 0)
    {
      sock_op_finish (sop, 0);
      return;
    }
  w = lookup_waiters (sop->table, sop->loop, sop->req.fd, writer, TRUE);
  sop->waiters = w;
  sop->state = OP_WAITING;
  g_queue_push_tail_link (&w->queue, &sop->link);
  if (w->queue.length == 1)
    completion_next (w);
}

void
evl_loop_sock_done (EvlLoop        *loop,
                    EvlSockRequest *req,
                    int             result)
{
  SockOp *sop = (SockOp *) req;
  SockWaiters *w = sop->waiters;

  g_return_if_fail (sop->state == OP_SUBMITTED);

  req->backend_data = NULL;
  sop->state = OP_STARTING;
  if (step_result (sop, result))
    {
      /* A sendall with more to send. */
      if (!loop_is_closed (loop))
        {
          sop->state = OP_SUBMITTED;
          evl_loop_get_backend (loop)->sock_submit (loop, req);
          return;
        }
      sock_op_finish (sop, -ECANCELED);
    }
  completion_next (w);
}

static void
sock_op_start (SockOp *sop)
{
  const EvlLoopBackend *backend = evl_loop_get_backend (sop->loop);

  if (sop->cancellable != NULL)
    sop->cancel_id = g_cancellable_connect (sop->cancellable, G_CALLBACK (on_cancelled), sop, NULL);

  if (backend->sock_submit != NULL)
    completion_start (sop);
  else
    readiness_start (sop);
}

/**
 * evl_loop_sock_recv_async:
 * @loop: a loop
 * @fd: a connected socket
 * @max_bytes: the most bytes to receive
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async) (closure user_data): called when the bytes are
 *   received
 * @user_data: data for @callback
 *
 * Receives up to @max_bytes from the socket @fd, as asyncio's
 * `loop.sock_recv()`. The callback runs from the loop's own dispatch (no
 * GMainContext needs to be iterated); get the result with
 * [method@Evl.Loop.sock_recv_finish].
 *
 * Operations on one fd in one direction complete in the order they were
 * started. On a closed loop the callback runs at once with
 * %EVL_LOOP_ERROR_CLOSED; if the loop closes while the operation is
 * pending, it runs with %G_IO_ERROR_CANCELLED. The fd is the caller's:
 * keep it open until the callback has run.
 */
void
evl_loop_sock_recv_async (EvlLoop             *loop,
                          int                  fd,
                          gsize                max_bytes,
                          GCancellable        *cancellable,
                          GAsyncReadyCallback  callback,
                          gpointer             user_data)
{
  SockOp *sop;

  g_return_if_fail (EVL_IS_LOOP (loop));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  sop = sock_op_new (loop, EVL_SOCK_RECV, fd, cancellable,
                     evl_loop_sock_recv_async, callback, user_data);
  if (!sock_op_check (sop))
    return;
  max_bytes = MIN (max_bytes, STEP_MAX);
  /* At least one byte, so that the result always owns a buffer. */
  sop->owned = g_try_malloc (MAX (max_bytes, 1));
  if (sop->owned == NULL)
    {
      /* %lu, not G_GSIZE_FORMAT: xgettext cannot see through that macro
       * (max_bytes <= STEP_MAX < 2^31). */
      sop->state = OP_DONE;
      evl_operation_return_error (sop->op,
                                  g_error_new (G_IO_ERROR, G_IO_ERROR_NO_SPACE,
                                               _("Cannot allocate %lu bytes "
                                                 "to receive into; ask for fewer bytes"),
                                               (unsigned long) max_bytes));
      sock_op_unref (sop);
      return;
    }
  sop->req.buffer = sop->owned;
  sop->req.length = max_bytes;
  sock_op_start (sop);
}

/**
 * evl_loop_sock_recv_finish:
 * @loop: a loop
 * @result: the #GAsyncResult passed to the callback
 * @error: return location for a #GError
 *
 * Finishes [method@Evl.Loop.sock_recv_async].
 *
 * Returns: (transfer full): the bytes received, empty at the end of the
 *   stream; %NULL with @error set on failure
 */
GBytes *
evl_loop_sock_recv_finish (EvlLoop       *loop,
                           GAsyncResult  *result,
                           GError       **error)
{
  g_return_val_if_fail (EVL_IS_LOOP (loop), NULL);
  g_return_val_if_fail (evl_operation_is_valid (result, loop, evl_loop_sock_recv_async), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return evl_operation_propagate_pointer ((EvlOperation *) result, error);
}

/**
 * evl_loop_sock_recv_into_async: (skip)
 * @loop: a loop
 * @fd: a connected socket
 * @buffer: (array length=count) (element-type guint8): where to put the
 *   bytes; it must stay valid, and untouched, until @callback has run
 * @count: the size of @buffer
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async) (closure user_data): called when the bytes are
 *   received
 * @user_data: data for @callback
 *
 * Receives up to @count bytes from the socket @fd into @buffer, as
 * asyncio's `loop.sock_recv_into()`. The proactor loop lets the kernel
 * write into @buffer while the operation is pending. Get the result with
 * [method@Evl.Loop.sock_recv_into_finish]. The rules of
 * [method@Evl.Loop.sock_recv_async] apply.
 *
 * Not available to Python and JavaScript, which cannot keep @buffer alive
 * and unmoved while the operation is pending: use
 * [method@Evl.Loop.sock_recv_async] there. (Vala has it, as an `async`
 * method.)
 */
void
evl_loop_sock_recv_into_async (EvlLoop             *loop,
                               int                  fd,
                               guint8              *buffer,
                               gsize                count,
                               GCancellable        *cancellable,
                               GAsyncReadyCallback  callback,
                               gpointer             user_data)
{
  SockOp *sop;

  g_return_if_fail (EVL_IS_LOOP (loop));
  g_return_if_fail (buffer != NULL || count == 0);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  sop = sock_op_new (loop, EVL_SOCK_RECV, fd, cancellable,
                     evl_loop_sock_recv_into_async, callback, user_data);
  if (!sock_op_check (sop))
    return;
  sop->req.buffer = buffer;
  sop->req.length = MIN (count, STEP_MAX);
  sock_op_start (sop);
}

/**
 * evl_loop_sock_recv_into_finish: (skip)
 * @loop: a loop
 * @result: the #GAsyncResult passed to the callback
 * @error: return location for a #GError
 *
 * Finishes [method@Evl.Loop.sock_recv_into_async].
 *
 * Returns: the number of bytes received, 0 at the end of the stream; -1
 *   with @error set on failure
 */
gssize
evl_loop_sock_recv_into_finish (EvlLoop       *loop,
                                GAsyncResult  *result,
                                GError       **error)
{
  g_return_val_if_fail (EVL_IS_LOOP (loop), -1);
  g_return_val_if_fail (evl_operation_is_valid (result, loop, evl_loop_sock_recv_into_async), -1);
  g_return_val_if_fail (error == NULL || *error == NULL, -1);

  return evl_operation_propagate_size ((EvlOperation *) result, error);
}

/**
 * evl_loop_sock_sendall_async:
 * @loop: a loop
 * @fd: a connected socket
 * @data: the bytes to send
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async) (closure user_data): called when all of @data
 *   is sent
 * @user_data: data for @callback
 *
 * Sends all of @data on the socket @fd, as asyncio's `loop.sock_sendall()`,
 * in as many steps as the socket needs. A peer that went away gives
 * %G_IO_ERROR_BROKEN_PIPE (or %G_IO_ERROR_CONNECTION_CLOSED), never
 * `SIGPIPE`. When cancelled part of @data may have been sent. Get the
 * result with [method@Evl.Loop.sock_sendall_finish]. The rules of
 * [method@Evl.Loop.sock_recv_async] apply.
 */
void
evl_loop_sock_sendall_async (EvlLoop             *loop,
                             int                  fd,
                             GBytes              *data,
                             GCancellable        *cancellable,
                             GAsyncReadyCallback  callback,
                             gpointer             user_data)
{
  SockOp *sop;

  g_return_if_fail (EVL_IS_LOOP (loop));
  g_return_if_fail (data != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  sop = sock_op_new (loop, EVL_SOCK_SEND, fd, cancellable,
                     evl_loop_sock_sendall_async, callback, user_data);
  if (!sock_op_check (sop))
    return;
  sop->bytes = g_bytes_ref (data);
  sop->total = g_bytes_get_size (data);
  setup_send_step (sop);
  sock_op_start (sop);
}

/**
 * evl_loop_sock_sendall_finish:
 * @loop: a loop
 * @result: the #GAsyncResult passed to the callback
 * @error: return location for a #GError
 *
 * Finishes [method@Evl.Loop.sock_sendall_async].
 *
 * Returns: %TRUE when all the data was sent; %FALSE with @error set
 */
gboolean
evl_loop_sock_sendall_finish (EvlLoop       *loop,
                              GAsyncResult  *result,
                              GError       **error)
{
  g_return_val_if_fail (EVL_IS_LOOP (loop), FALSE);
  g_return_val_if_fail (evl_operation_is_valid (result, loop, evl_loop_sock_sendall_async), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return evl_operation_propagate_boolean ((EvlOperation *) result, error);
}

/**
 * evl_loop_sock_connect_async:
 * @loop: a loop
 * @fd: a non-blocking socket of @address's family
 * @address: the address to connect to
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async) (closure user_data): called when connected
 * @user_data: data for @callback
 *
 * Connects the socket @fd to @address, as asyncio's `loop.sock_connect()`
 * (the address is already resolved: see #GResolver). A refused connection
 * gives %G_IO_ERROR_CONNECTION_REFUSED; a blocking @fd gives
 * %EVL_LOOP_ERROR_INVALID. Get the result with
 * [method@Evl.Loop.sock_connect_finish]. The rules of
 * [method@Evl.Loop.sock_recv_async] apply.
 */
void
evl_loop_sock_connect_async (EvlLoop             *loop,
                             int                  fd,
                             GSocketAddress      *address,
                             GCancellable        *cancellable,
                             GAsyncReadyCallback  callback,
                             gpointer             user_data)
{
  SockOp *sop;
  GError *error = NULL;
  gssize size;

  g_return_if_fail (EVL_IS_LOOP (loop));
  g_return_if_fail (G_IS_SOCKET_ADDRESS (address));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  sop = sock_op_new (loop, EVL_SOCK_CONNECT, fd, cancellable,
                     evl_loop_sock_connect_async, callback, user_data);
  if (!sock_op_check (sop) || !sock_op_check_nonblocking (sop))
    return;
  size = g_socket_address_get_native_size (address);
  if (size <= 0 || (gsize) size > sizeof sop->req.addr ||
      !g_socket_address_to_native (address, &sop->req.addr, sizeof sop->req.addr, &error))
    {
      if (error == NULL)
        g_set_error_literal (&error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_INVALID,
                             _("The socket address cannot be converted; pass an IPv4, IPv6 or Unix address"));
      sop->state = OP_DONE;
      evl_operation_return_error (sop->op, error);
      sock_op_unref (sop);
      return;
    }
  sop->req.addrlen = (socklen_t) size;
  sock_op_start (sop);
}

/**
 * evl_loop_sock_connect_finish:
 * @loop: a loop
 * @result: the #GAsyncResult passed to the callback
 * @error: return location for a #GError
 *
 * Finishes [method@Evl.Loop.sock_connect_async].
 *
 * Returns: %TRUE when connected; %FALSE with @error set
 */
gboolean
evl_loop_sock_connect_finish (EvlLoop       *loop,
                              GAsyncResult  *result,
                              GError       **error)
{
  g_return_val_if_fail (EVL_IS_LOOP (loop), FALSE);
  g_return_val_if_fail (evl_operation_is_valid (result, loop, evl_loop_sock_connect_async), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return evl_operation_propagate_boolean ((EvlOperation *) result, error);
}

/**
 * evl_loop_sock_accept_async:
 * @loop: a loop
 * @fd: a non-blocking listening socket
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async) (closure user_data): called when a connection
 *   is accepted
 * @user_data: data for @callback
 *
 * Accepts a connection on the listening socket @fd, as asyncio's
 * `loop.sock_accept()`. A blocking @fd gives %EVL_LOOP_ERROR_INVALID. Get
 * the new socket with [method@Evl.Loop.sock_accept_finish]. The rules of
 * [method@Evl.Loop.sock_recv_async] apply.
 */
void
evl_loop_sock_accept_async (EvlLoop             *loop,
                            int                  fd,
                            GCancellable        *cancellable,
                            GAsyncReadyCallback  callback,
                            gpointer             user_data)
{
  SockOp *sop;

  g_return_if_fail (EVL_IS_LOOP (loop));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  sop = sock_op_new (loop, EVL_SOCK_ACCEPT, fd, cancellable,
                     evl_loop_sock_accept_async, callback, user_data);
  if (!sock_op_check (sop) || !sock_op_check_nonblocking (sop))
    return;
  sop->req.addrlen = sizeof sop->req.addr;
  sock_op_start (sop);
}

/**
 * evl_loop_sock_accept_finish:
 * @loop: a loop
 * @result: the #GAsyncResult passed to the callback
 * @address: (out) (optional) (nullable) (transfer full): the peer's
 *   address, %NULL if it has none GIO can represent
 * @error: return location for a #GError
 *
 * Finishes [method@Evl.Loop.sock_accept_async]. The new socket is
 * non-blocking and close-on-exec, and belongs to the caller (close it
 * with close()).
 *
 * Returns: the new socket's fd; -1 with @error set on failure
 */
int
evl_loop_sock_accept_finish (EvlLoop         *loop,
                             GAsyncResult    *result,
                             GSocketAddress **address,
                             GError         **error)
{
  AcceptResult *ar;
  int fd;

  if (address != NULL)
    *address = NULL;
  g_return_val_if_fail (EVL_IS_LOOP (loop), -1);
  g_return_val_if_fail (evl_operation_is_valid (result, loop, evl_loop_sock_accept_async), -1);
  g_return_val_if_fail (error == NULL || *error == NULL, -1);

  ar = evl_operation_propagate_pointer ((EvlOperation *) result, error);
  if (ar == NULL)
    return -1;
  fd = ar->fd;
  ar->fd = -1;
  if (address != NULL)
    *address = g_steal_pointer (&ar->address);
  accept_result_free (ar);
  return fd;
}
