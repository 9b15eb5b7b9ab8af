/* evl-uring-backend.c: the io_uring proactor backend (Linux)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "evl-config.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#include <liburing.h>

/* valgrind does not see the kernel write received bytes and accepted
 * addresses into our memory: tell it (a few instructions otherwise). */
#if defined(__has_include)
# if __has_include(<valgrind/memcheck.h>)
#  include <valgrind/memcheck.h>
# endif
#endif
#ifndef VALGRIND_MAKE_MEM_DEFINED
# define VALGRIND_MAKE_MEM_DEFINED(addr, len) ((void) 0)
#endif
#ifndef RUNNING_ON_VALGRIND
# define RUNNING_ON_VALGRIND 0
#endif

#include "evl-loop-private.h"
#include "evl-proactor-backend-private.h"

/* liburing 2.3's headers may predate some of the kernel's constants;
 * these are the kernel's values (include/uapi/linux/io_uring.h). */
#ifndef IORING_SETUP_CQSIZE
# define IORING_SETUP_CQSIZE (1U << 3)
#endif
#ifndef IORING_SETUP_CLAMP
# define IORING_SETUP_CLAMP (1U << 4)
#endif
#ifndef IORING_SETUP_R_DISABLED
# define IORING_SETUP_R_DISABLED (1U << 6)
#endif
#ifndef IORING_SETUP_COOP_TASKRUN
# define IORING_SETUP_COOP_TASKRUN (1U << 8)
#endif
#ifndef IORING_SETUP_TASKRUN_FLAG
# define IORING_SETUP_TASKRUN_FLAG (1U << 9)
#endif
#ifndef IORING_SETUP_SINGLE_ISSUER
# define IORING_SETUP_SINGLE_ISSUER (1U << 12)
#endif
#ifndef IORING_SETUP_DEFER_TASKRUN
# define IORING_SETUP_DEFER_TASKRUN (1U << 13)
#endif
#ifndef IORING_POLL_ADD_MULTI
# define IORING_POLL_ADD_MULTI (1U << 0)
#endif
#ifndef IORING_CQE_F_MORE
# define IORING_CQE_F_MORE (1U << 1)
#endif
#ifndef IORING_SQ_CQ_OVERFLOW
# define IORING_SQ_CQ_OVERFLOW (1U << 1)
#endif
#ifndef IORING_SQ_TASKRUN
# define IORING_SQ_TASKRUN (1U << 2)
#endif
#ifndef IORING_FEAT_NODROP
# define IORING_FEAT_NODROP (1U << 1)
#endif
#ifndef IORING_FEAT_FAST_POLL
# define IORING_FEAT_FAST_POLL (1U << 5)
#endif
#ifndef IORING_FEAT_EXT_ARG
# define IORING_FEAT_EXT_ARG (1U << 8)
#endif
#ifndef IORING_RECVSEND_POLL_FIRST
# define IORING_RECVSEND_POLL_FIRST (1U << 0)
#endif
#ifndef IORING_CQE_F_SOCK_NONEMPTY
# define IORING_CQE_F_SOCK_NONEMPTY (1U << 2)
#endif
#define EVL_IORING_REGISTER_ENABLE_RINGS 12

/* The ring.
 *
 * Sizes: 256 submission entries, 4096 completion entries. Neither bounds
 * the operations in flight: submissions wait in a queue for room in the
 * SQ, and completions beyond the CQ wait in the kernel (IORING_FEAT_NODROP,
 * required) until reaped.
 *
 * Setup flags, probed in this order (EINVAL: try the next):
 *
 *  1. SINGLE_ISSUER | DEFER_TASKRUN: completions are posted only when the
 *     ring's one issuer thread asks for them, which saves the task-work
 *     interruptions while the thread runs callbacks. The ring is created
 *     R_DISABLED and enabled by the first thread that enters it, because a
 *     loop may be created on one thread and run on another. A loop that
 *     later runs or closes on yet another thread gets a new ring there
 *     (migrate()): polls are re-armed on it; a recv/send/connect/accept
 *     still in the old ring's hands (rare: a loop stopped with socket
 *     operations pending, then resumed elsewhere) cannot be reclaimed
 *     from another thread, so it is cancelled and its memory left alone.
 *     The GLib bridge (GLib waits, not us) cannot wait for deferred
 *     work reliably: a loop attached to GLib leaves DEFER_TASKRUN for
 *     COOP_TASKRUN (uring_get_poll_fd()), as does every loop under
 *     valgrind (see enter_via_ppoll()). Explicit runs, GLib-driving ones
 *     included, keep it: they wait in io_uring_enter(), which runs it.
 *  2. COOP_TASKRUN | TASKRUN_FLAG: no interruptions either; any thread may
 *     enter. IORING_SQ_TASKRUN says when a non-blocking reap must enter.
 *  3. none.
 *
 * EVL_URING_SETUP=defer|coop|plain starts the probe at that step (for
 * tests and benchmarks). */

#define RING_ENTRIES 256
#define CQ_ENTRIES   4096
#define REAP_BATCH   64
/* user_data: an op's address (even), or an odd tag for a cancel request,
 * found in EvlUringBackend.cancel_tags while its target lives. */

enum {
  OP_IDLE,
  OP_QUEUED,     /* waiting for room in the SQ */
  OP_INFLIGHT,   /* an SQE was prepared for it */
};

enum {
  OPF_CANCEL        = 1 << 0,  /* cancellation requested */
  OPF_CANCEL_QUEUED = 1 << 1,  /* in the cancels array, no SQE yet */
  OPF_MULTISHOT     = 1 << 2,  /* armed as a multishot poll */
  OPF_POLL_STEP     = 1 << 3,  /* a data op waiting for readiness after EAGAIN */
  OPF_ASYNC_CANCEL  = 1 << 4,  /* POLL_REMOVE failed: use ASYNC_CANCEL */
  OPF_RECLAIM       = 1 << 5,  /* cancelled to move to a new ring: requeue it */
  OPF_CONNECT_AGAIN = 1 << 6,  /* a CONNECT issued again: EISCONN is success */
  OPF_POLL_FIRST    = 1 << 7,  /* a RECV issued with IORING_RECVSEND_POLL_FIRST */
};

typedef enum
{
  TIER_DEFER,
  TIER_COOP,
  TIER_PLAIN,
  N_TIERS
} Tier;

typedef struct
{
  EvlProactorBackend  parent;

  struct io_uring     ring;
  Tier                tier;
  gboolean            bound;         /* SINGLE_ISSUER: tied to one thread */
  gboolean            enabled;       /* bound rings start disabled */
  GThread            *owner;
  gboolean            polled;        /* GLib polls the ring fd: keep its number */
  gboolean            multishot_ok;
  gboolean            poll_first_ok; /* IORING_RECVSEND_POLL_FIRST (Linux 5.19) */
  gboolean            warned_orphans;
  gboolean            wait_in_ppoll; /* block in ppoll(ring fd), not io_uring_enter */

  EvlProactorOp      *all;           /* every op not yet finally completed */
  guint               n_all;
  EvlProactorOp      *queue_head;    /* OP_QUEUED, FIFO */
  EvlProactorOp      *queue_tail;
  EvlProactorOp      *done_head;     /* to complete without the kernel */
  EvlProactorOp      *done_tail;
  GPtrArray          *cancels;       /* OP_INFLIGHT ops whose cancel waits for an SQE */
  GHashTable         *cancel_tags;   /* tag -> op with a cancel request in flight */
  guint64             next_tag;
  guint               fork_generation; /* evl_fork_generation () when made */
} EvlUringBackend;

/* ---------------------------------------------------------------------- */
/* lists */

static void
list_add (EvlUringBackend *self,
          EvlProactorOp   *op)
{
  op->prev = NULL;
  op->next = self->all;
  if (self->all != NULL)
    self->all->prev = op;
  self->all = op;
  self->n_all++;
}

static void
list_remove (EvlUringBackend *self,
             EvlProactorOp   *op)
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

static void
queue_push (EvlUringBackend *self,
            EvlProactorOp   *op)
{
  op->state = OP_QUEUED;
  op->queue_next = NULL;
  if (self->queue_tail != NULL)
    self->queue_tail->queue_next = op;
  else
    self->queue_head = op;
  self->queue_tail = op;
}

static void
done_push (EvlUringBackend *self,
           EvlProactorOp   *op)
{
  op->state = OP_IDLE;
  op->queue_next = NULL;
  if (self->done_tail != NULL)
    self->done_tail->queue_next = op;
  else
    self->done_head = op;
  self->done_tail = op;
}

static void
forget_cancel (EvlUringBackend *self,
               EvlProactorOp   *op)
{
  if (op->flags & OPF_CANCEL_QUEUED)
    {
      g_ptr_array_remove_fast (self->cancels, op);
      op->flags &= ~OPF_CANCEL_QUEUED;
    }
  if (op->cancel_tag != 0)
    {
      g_hash_table_remove (self->cancel_tags, GSIZE_TO_POINTER (op->cancel_tag));
      op->cancel_tag = 0;
    }
}

/* The final completion: the op leaves the backend. */
static void
complete_final (EvlUringBackend *self,
                EvlProactorOp   *op,
                int              result)
{
  forget_cancel (self, op);
  list_remove (self, op);
  op->state = OP_IDLE;
  op->flags = 0;
  op->complete (op, result, FALSE);
}

static guint
deliver_done (EvlUringBackend *self)
{
  guint n = 0;

  while (self->done_head != NULL)
    {
      EvlProactorOp *op = self->done_head;

      self->done_head = op->queue_next;
      if (self->done_head == NULL)
        self->done_tail = NULL;
      complete_final (self, op, -ECANCELED);
      n++;
    }
  return n;
}

/* ---------------------------------------------------------------------- */
/* ring setup */

static const guint tier_flags[N_TIERS] = {
  [TIER_DEFER] = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_R_DISABLED,
  [TIER_COOP] = IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG,
  [TIER_PLAIN] = 0,
};

static int
ring_init (struct io_uring *ring,
           Tier             tier)
{
  struct io_uring_params params;
  int r;

  memset (&params, 0, sizeof params);
  params.flags = tier_flags[tier] | IORING_SETUP_CQSIZE | IORING_SETUP_CLAMP;
  params.cq_entries = CQ_ENTRIES;
  r = io_uring_queue_init_params (RING_ENTRIES, ring, &params);
  if (r < 0)
    return r;
  /* No lost completions, sockets polled in the kernel rather than
   * parked on worker threads, and waits with a timeout that takes no
   * SQE: Linux 5.11. */
  if ((params.features & (IORING_FEAT_NODROP | IORING_FEAT_FAST_POLL | IORING_FEAT_EXT_ARG)) !=
      (IORING_FEAT_NODROP | IORING_FEAT_FAST_POLL | IORING_FEAT_EXT_ARG))
    {
      io_uring_queue_exit (ring);
      return -EINVAL;
    }
  return 0;
}

/* Creates a ring, from @first down the tiers. */
static int
ring_create (struct io_uring *ring,
             Tier             first,
             Tier            *tier_out)
{
  int r = -EINVAL;
  Tier tier;

  for (tier = first; tier < N_TIERS; tier++)
    {
      r = ring_init (ring, tier);
      if (r == 0)
        {
          *tier_out = tier;
          return 0;
        }
      if (r != -EINVAL)
        break;
    }
  return r;
}

static void
set_tier (EvlUringBackend *self,
          Tier             tier)
{
  self->tier = tier;
  self->bound = tier == TIER_DEFER;
  self->enabled = !self->bound;
  self->owner = NULL;
}

/* ---------------------------------------------------------------------- */
/* submission */

static unsigned
poll_mask (guint events)
{
  unsigned mask = 0;

  if (events & EVL_IO_READ)
    mask |= POLLIN;
  if (events & EVL_IO_WRITE)
    mask |= POLLOUT;
  return mask;
}

static guint
poll_to_evl (int revents)
{
  guint events = 0;

  if (revents & (POLLIN | POLLPRI))
    events |= EVL_IO_READ;
  if (revents & POLLOUT)
    events |= EVL_IO_WRITE;
  if (revents & (POLLERR | POLLNVAL))
    events |= EVL_IO_ERROR;
  if (revents & POLLHUP)
    events |= EVL_IO_HUP;
  return events;
}

static void
prep_op (EvlUringBackend     *self,
         struct io_uring_sqe *sqe,
         EvlProactorOp       *op)
{
  if (op->flags & OPF_POLL_STEP)
    {
      io_uring_prep_poll_add (sqe, op->fd,
                              op->kind == EVL_PROACTOR_RECV || op->kind == EVL_PROACTOR_ACCEPT
                                ? POLLIN : POLLOUT);
    }
  else
    switch (op->kind)
      {
      case EVL_PROACTOR_POLL:
        if (op->multishot && self->multishot_ok)
          {
            io_uring_prep_poll_multishot (sqe, op->fd, poll_mask (op->events));
            op->flags |= OPF_MULTISHOT;
          }
        else
          {
            io_uring_prep_poll_add (sqe, op->fd, poll_mask (op->events));
            op->flags &= ~OPF_MULTISHOT;
          }
        break;
      case EVL_PROACTOR_RECV:
        io_uring_prep_recv (sqe, op->fd, op->buffer, op->length, 0);
        /* Where the caller expects to wait, arm the kernel's poll at once
         * rather than after a recv that says EAGAIN. */
        if (op->poll_first && self->poll_first_ok)
          {
            sqe->ioprio |= IORING_RECVSEND_POLL_FIRST;
            op->flags |= OPF_POLL_FIRST;
          }
        else
          op->flags &= ~OPF_POLL_FIRST;
        break;
      case EVL_PROACTOR_SEND:
        io_uring_prep_send (sqe, op->fd, op->buffer, op->length, MSG_NOSIGNAL);
        break;
      case EVL_PROACTOR_CONNECT:
        io_uring_prep_connect (sqe, op->fd, op->addr, op->addrlen);
        break;
      case EVL_PROACTOR_ACCEPT:
        io_uring_prep_accept (sqe, op->fd, op->addr, &op->addrlen, SOCK_NONBLOCK | SOCK_CLOEXEC);
        break;
      default:
        g_assert_not_reached ();
      }
  io_uring_sqe_set_data (sqe, op);
  op->state = OP_INFLIGHT;
}

/* An SQE, handing the full SQ to the kernel if need be; NULL when the
 * kernel takes no more for now (its completion queue overflowed). */
static struct io_uring_sqe *
get_sqe (EvlUringBackend *self)
{
  struct io_uring_sqe *sqe = io_uring_get_sqe (&self->ring);

  if (sqe == NULL)
    {
      io_uring_submit (&self->ring);
      sqe = io_uring_get_sqe (&self->ring);
    }
  return sqe;
}

/* Moves the waiting cancel requests into the SQ. */
static gboolean
prepare_cancels (EvlUringBackend *self)
{
  struct io_uring_sqe *sqe;
  EvlProactorOp *op;

  while (self->cancels->len > 0)
    {
      op = g_ptr_array_index (self->cancels, self->cancels->len - 1);
      if ((sqe = get_sqe (self)) == NULL)
        return FALSE;
      if (op->kind == EVL_PROACTOR_POLL && !(op->flags & (OPF_POLL_STEP | OPF_ASYNC_CANCEL)))
        io_uring_prep_poll_remove (sqe, (__u64) (uintptr_t) op);
      else
        io_uring_prep_cancel (sqe, op, 0);
      if (op->cancel_tag != 0)
        g_hash_table_remove (self->cancel_tags, GSIZE_TO_POINTER (op->cancel_tag));
      op->cancel_tag = self->next_tag;
      self->next_tag += 2;
      g_hash_table_insert (self->cancel_tags, GSIZE_TO_POINTER (op->cancel_tag), op);
      io_uring_sqe_set_data64 (sqe, op->cancel_tag);
      op->flags &= ~OPF_CANCEL_QUEUED;
      g_ptr_array_set_size (self->cancels, self->cancels->len - 1);
    }
  return TRUE;
}

/* Moves what waits (cancellations first, then submissions) into the SQ.
 * Only on the thread that may enter the ring. */
static void
prepare (EvlUringBackend *self)
{
  struct io_uring_sqe *sqe;
  EvlProactorOp *op;

  if (!prepare_cancels (self))
    return;
  while ((op = self->queue_head) != NULL)
    {
      if (!(op->flags & OPF_CANCEL) && (sqe = get_sqe (self)) == NULL)
        return;
      self->queue_head = op->queue_next;
      if (self->queue_head == NULL)
        self->queue_tail = NULL;
      if (op->flags & OPF_CANCEL)
        done_push (self, op);
      else
        prep_op (self, sqe, op);
    }
}

static void
uring_submit (EvlProactorBackend *backend,
              EvlProactorOp      *op)
{
  EvlUringBackend *self = (EvlUringBackend *) backend;

  g_return_if_fail (op->state == OP_IDLE);

  op->flags = 0;
  op->cancel_tag = 0;
  op->orphaned = FALSE;
  list_add (self, op);
  queue_push (self, op);
}

static void
uring_cancel (EvlProactorBackend *backend,
              EvlProactorOp      *op)
{
  EvlUringBackend *self = (EvlUringBackend *) backend;

  if (op->state == OP_IDLE || (op->flags & OPF_CANCEL))
    return;
  op->flags |= OPF_CANCEL;
  if (op->state == OP_INFLIGHT)
    {
      op->flags |= OPF_CANCEL_QUEUED;
      g_ptr_array_add (self->cancels, op);
    }
  /* OP_QUEUED: prepare() completes it instead of submitting it. */
}

/* ---------------------------------------------------------------------- */
/* threads */

static void
reap (EvlUringBackend *self,
      guint           *n_out);

/* Replaces the ring with a new one (from setup @first down), for a thread
 * change (a bound ring serves one thread: see the comment at the top) or
 * to leave DEFER_TASKRUN (uring_get_poll_fd()).
 *
 * Polls, and data ops waiting for readiness, only watch an fd: they start
 * again on the new ring. A data op the kernel holds may still touch its
 * memory: with @reclaim (this thread may enter the old ring) it is
 * cancelled there, waited for, and started again on the new ring unless
 * it completed meanwhile; otherwise it is given up (cancelled, its memory
 * left alone). */
static gboolean
replace_ring (EvlUringBackend *self,
              Tier             first,
              gboolean         reclaim)
{
  struct io_uring old = self->ring;
  EvlProactorOp *op, *requeue_head = NULL, **requeue_tail = &requeue_head;
  EvlProactorOp *queue;
  guint orphans = 0, n_reclaim = 0;
  Tier tier;
  int r;

  /* Completions the kernel already posted are in the old CQ's memory. */
  reap (self, NULL);

  if (reclaim)
    {
      gint64 deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;

      /* Every data op the kernel holds is waited for, also one whose
       * cancellation (by its caller) is already on its way: its final
       * completion is near, and the new ring must not inherit it. */
      for (op = self->all; op != NULL; op = op->next)
        if (op->state == OP_INFLIGHT && op->kind != EVL_PROACTOR_POLL &&
            !(op->flags & OPF_POLL_STEP))
          {
            if (!(op->flags & OPF_CANCEL_QUEUED) && op->cancel_tag == 0)
              {
                op->flags |= OPF_RECLAIM | OPF_CANCEL_QUEUED;
                g_ptr_array_add (self->cancels, op);
              }
            n_reclaim++;
          }
      while (n_reclaim > 0 && g_get_monotonic_time () < deadline)
        {
          struct __kernel_timespec ts = { 0, 100 * 1000 * 1000 };
          struct io_uring_cqe *cqe;

          prepare_cancels (self);
          io_uring_submit_and_wait_timeout (&self->ring, &cqe, 1, &ts, NULL);
          reap (self, NULL);
          n_reclaim = 0;
          for (op = self->all; op != NULL; op = op->next)
            if (op->state == OP_INFLIGHT && op->kind != EVL_PROACTOR_POLL &&
                !(op->flags & OPF_POLL_STEP))
              n_reclaim++;
        }
    }

  r = ring_create (&self->ring, first, &tier);
  if (r < 0)
    {
      self->ring = old;
      g_critical ("Cannot create an io_uring for thread %p: %s", (gpointer) g_thread_self (),
                  g_strerror (-r));
      return FALSE;
    }
  set_tier (self, tier);
  if (self->bound)
    {
      io_uring_register (self->ring.ring_fd, EVL_IORING_REGISTER_ENABLE_RINGS, NULL, 0);
      self->enabled = TRUE;
      self->owner = g_thread_self ();
    }

  /* What waited for an SQE stays queued (cancel requests are moot). */
  queue = self->queue_head;
  self->queue_head = self->queue_tail = NULL;
  for (op = self->all; op != NULL; op = op->next)
    {
      op->flags &= ~(OPF_CANCEL_QUEUED | OPF_RECLAIM);
      op->cancel_tag = 0;
    }
  g_ptr_array_set_size (self->cancels, 0);
  g_hash_table_remove_all (self->cancel_tags);

  for (op = self->all; op != NULL; op = op->next)
    {
      if (op->state != OP_INFLIGHT)
        continue;
      if (op->kind == EVL_PROACTOR_POLL || (op->flags & OPF_POLL_STEP))
        {
          op->state = OP_QUEUED;
          op->queue_next = NULL;
          *requeue_tail = op;
          requeue_tail = &op->queue_next;
        }
      else
        {
          op->orphaned = TRUE;
          done_push (self, op);
          orphans++;
        }
    }
  for (op = requeue_head; op != NULL; op = requeue_head)
    {
      requeue_head = op->queue_next;
      queue_push (self, op);
    }
  for (op = queue; op != NULL; op = queue)
    {
      queue = op->queue_next;
      queue_push (self, op);
    }

  io_uring_queue_exit (&old);
  if (self->polled)
    {
      /* GLib polls the old ring's fd number: give it to the new ring. */
      int fd = self->ring.ring_fd;

      if (dup3 (fd, old.ring_fd, O_CLOEXEC) >= 0)
        {
          close (fd);
          self->ring.ring_fd = self->ring.enter_ring_fd = old.ring_fd;
        }
      else
        g_warning ("Cannot keep the proactor's fd number for GLib: %s", g_strerror (errno));
    }

  if (orphans > 0 && !self->warned_orphans)
    {
      self->warned_orphans = TRUE;
      g_warning ("A proactor loop moved to another thread with %u socket operations "
                 "in flight; they were cancelled. Finish or cancel socket operations "
                 "before running or closing a loop in another thread.", orphans);
    }
  return TRUE;
}

static gboolean
migrate (EvlUringBackend *self)
{
  return replace_ring (self, self->tier, FALSE);
}

/* Whether this thread may enter the ring (enabling it, or moving it when
 * @may_migrate). */
static gboolean
ensure_owner (EvlUringBackend *self,
              gboolean         may_migrate)
{
  if (!self->bound)
    return TRUE;
  if (!self->enabled)
    {
      int r = io_uring_register (self->ring.ring_fd, EVL_IORING_REGISTER_ENABLE_RINGS, NULL, 0);

      if (r < 0)
        {
          g_critical ("Cannot enable the io_uring: %s", g_strerror (-r));
          return FALSE;
        }
      self->enabled = TRUE;
      self->owner = g_thread_self ();
      return TRUE;
    }
  if (self->owner == g_thread_self ())
    return TRUE;
  return may_migrate && migrate (self);
}

/* ---------------------------------------------------------------------- */
/* completion */

static void
handle_cqe (EvlUringBackend *self,
            guint64          user_data,
            int              res,
            guint            cqe_flags)
{
  EvlProactorOp *op;
  gboolean more;

  if (user_data & 1)
    {
      /* A cancel request. POLL_REMOVE fails (EALREADY) while the poll's
       * own completion work is pending (always so, for a moment, under
       * DEFER_TASKRUN): then ask again with ASYNC_CANCEL, which marks the
       * poll and lets that work end it. */
      op = g_hash_table_lookup (self->cancel_tags, GSIZE_TO_POINTER (user_data));
      if (op == NULL)
        return;
      g_hash_table_remove (self->cancel_tags, GSIZE_TO_POINTER (user_data));
      op->cancel_tag = 0;
      if ((res == -EALREADY || res == -ENOENT) && op->state == OP_INFLIGHT &&
          op->kind == EVL_PROACTOR_POLL && !(op->flags & OPF_ASYNC_CANCEL))
        {
          op->flags |= OPF_ASYNC_CANCEL | OPF_CANCEL_QUEUED;
          g_ptr_array_add (self->cancels, op);
        }
      return;
    }
  op = (EvlProactorOp *) (uintptr_t) user_data;
  more = (cqe_flags & IORING_CQE_F_MORE) != 0;
  if (op->state != OP_INFLIGHT)
    {
      /* Completes a request of an op that was requeued (a migration):
       * that request is gone; its successor will report. */
      return;
    }

  if (op->flags & OPF_RECLAIM)
    {
      op->flags &= ~OPF_RECLAIM;
      if (res == -ECANCELED && !(op->flags & OPF_CANCEL))
        {
          /* Taken back for the new ring: replace_ring() requeues it. A
           * connect may have started: issued again, it says EALREADY
           * (wait, then ask again) or EISCONN (done). */
          if (op->kind == EVL_PROACTOR_CONNECT)
            op->flags |= OPF_CONNECT_AGAIN;
          queue_push (self, op);
          return;
        }
    }

  if (op->flags & OPF_POLL_STEP)
    {
      /* The fd got ready (or failed) for a data op that had met EAGAIN:
       * try it again, unless it was cancelled meanwhile. */
      op->flags &= ~OPF_POLL_STEP;
      if (res >= 0 && !(op->flags & OPF_CANCEL))
        {
          queue_push (self, op);
          return;
        }
      complete_final (self, op, (op->flags & OPF_CANCEL) ? -ECANCELED : res);
      return;
    }

  switch (op->kind)
    {
    case EVL_PROACTOR_POLL:
      if (res == -EINVAL && (op->flags & OPF_MULTISHOT) && !(op->flags & OPF_CANCEL))
        {
          /* A kernel without multishot polls: fall back to one-shot ones. */
          self->multishot_ok = FALSE;
          queue_push (self, op);
          return;
        }
      if (res >= 0)
        res = (int) poll_to_evl (res);
      break;
    case EVL_PROACTOR_RECV:
    case EVL_PROACTOR_SEND:
    case EVL_PROACTOR_CONNECT:
    case EVL_PROACTOR_ACCEPT:
      if (res == -EINVAL && (op->flags & OPF_POLL_FIRST) && !(op->flags & OPF_CANCEL))
        {
          /* A kernel that does not know the flag (before 5.19). */
          self->poll_first_ok = FALSE;
          queue_push (self, op);
          return;
        }
      if (op->kind == EVL_PROACTOR_RECV)
        op->more_data = res > 0 && (cqe_flags & IORING_CQE_F_SOCK_NONEMPTY) != 0;
      if (res == -EAGAIN && !(op->flags & OPF_CANCEL))
        {
          /* The kernel gave back EAGAIN (it can for a non-blocking fd
           * outside its poll-driven retry): wait for readiness, retry. */
          op->flags |= OPF_POLL_STEP;
          queue_push (self, op);
          return;
        }
      if (op->kind == EVL_PROACTOR_CONNECT && (op->flags & OPF_CONNECT_AGAIN))
        {
          if (res == -EISCONN)
            res = 0;
          else if ((res == -EALREADY || res == -EINPROGRESS) && !(op->flags & OPF_CANCEL))
            {
              op->flags |= OPF_POLL_STEP;
              queue_push (self, op);
              return;
            }
        }
      if (res == -EAGAIN)
        res = -ECANCELED;
      if (res > 0 && op->kind == EVL_PROACTOR_RECV)
        VALGRIND_MAKE_MEM_DEFINED (op->buffer, res);
      if (res >= 0 && op->kind == EVL_PROACTOR_ACCEPT)
        {
          VALGRIND_MAKE_MEM_DEFINED (&op->addrlen, sizeof op->addrlen);
          VALGRIND_MAKE_MEM_DEFINED (op->addr, op->addrlen);
        }
      break;
    default:
      g_assert_not_reached ();
    }

  if (more)
    op->complete (op, res, TRUE);
  else
    complete_final (self, op, res);
}

typedef struct
{
  guint64 user_data;
  int     res;
  guint   flags;
} Cqe;

static void
reap (EvlUringBackend *self,
      guint           *n_out)
{
  struct io_uring_cqe *cqes[REAP_BATCH];
  Cqe batch[REAP_BATCH];
  guint n, i, total = 0;

  while ((n = io_uring_peek_batch_cqe (&self->ring, cqes, REAP_BATCH)) > 0)
    {
      for (i = 0; i < n; i++)
        {
          batch[i].user_data = cqes[i]->user_data;
          batch[i].res = cqes[i]->res;
          batch[i].flags = cqes[i]->flags;
        }
      io_uring_cq_advance (&self->ring, n);
      for (i = 0; i < n; i++)
        handle_cqe (self, batch[i].user_data, batch[i].res, batch[i].flags);
      total += n;
    }
  if (n_out != NULL)
    *n_out += total;
}

static gboolean
needs_enter (EvlUringBackend *self)
{
  if (self->bound || io_uring_sq_ready (&self->ring) > 0)
    return TRUE;
  return (IO_URING_READ_ONCE (*self->ring.sq.kflags) & (IORING_SQ_CQ_OVERFLOW | IORING_SQ_TASKRUN)) != 0;
}

/* valgrind (3.19 at least) keeps its lock on the process while a thread
 * blocks in io_uring_enter(), so no other thread runs (a wakeup from
 * another thread never comes). There, and with EVL_URING_WAIT=ppoll, the
 * wait is a ppoll() on the ring fd, which is readable when completions or
 * (DEFER_TASKRUN) deferred work are pending, then a non-blocking reap. */
static int
enter_via_ppoll (EvlUringBackend *self,
                 gint64           timeout_ns)
{
  struct pollfd pfd = { self->ring.ring_fd, POLLIN, 0 };
  struct timespec ts;
  int r;

  r = io_uring_submit_and_get_events (&self->ring);
  if (r < 0 || io_uring_cq_ready (&self->ring) > 0)
    return r;
  ts.tv_sec = timeout_ns / G_GINT64_CONSTANT (1000000000);
  ts.tv_nsec = timeout_ns % G_GINT64_CONSTANT (1000000000);
  if (ppoll (&pfd, 1, timeout_ns < 0 ? NULL : &ts, NULL) < 0 && errno == EINTR)
    return -EINTR;
  return io_uring_get_events (&self->ring);
}

static int
enter (EvlUringBackend *self,
       gint64           timeout_ns)
{
  struct io_uring_cqe *cqe = NULL;
  int r;

  if (self->wait_in_ppoll && timeout_ns != 0)
    r = enter_via_ppoll (self, timeout_ns);
  else if (timeout_ns == 0)
    r = needs_enter (self) ? io_uring_submit_and_get_events (&self->ring) : 0;
  else if (timeout_ns < 0)
    r = io_uring_submit_and_wait (&self->ring, 1);
  else
    {
      struct __kernel_timespec ts;

      ts.tv_sec = timeout_ns / G_GINT64_CONSTANT (1000000000);
      ts.tv_nsec = timeout_ns % G_GINT64_CONSTANT (1000000000);
      r = io_uring_submit_and_wait_timeout (&self->ring, &cqe, 1, &ts, NULL);
    }
  if (r >= 0 || r == -ETIME || r == -EINTR || r == -EBUSY || r == -EAGAIN)
    return 0;
  return r;
}

static int
uring_wait (EvlProactorBackend *backend,
            gint64              timeout_ns)
{
  EvlUringBackend *self = (EvlUringBackend *) backend;
  guint n = 0;
  int r;

  if (!ensure_owner (self, TRUE))
    return -EEXIST;
  prepare (self);
  n += deliver_done (self);
  if (n > 0 || io_uring_cq_ready (&self->ring) > 0)
    timeout_ns = 0;

  r = enter (self, timeout_ns);
  if (r == -EEXIST && self->bound)
    {
      /* The kernel knows better than our GThread pointer (a thread that
       * exited and one created later at the same address). */
      self->owner = NULL;
      if (migrate (self))
        {
          prepare (self);
          r = enter (self, 0);
        }
    }

  reap (self, &n);
  /* Queue what the completions started, cancelled or submitted. */
  prepare (self);
  n += deliver_done (self);
  return r < 0 ? r : (int) n;
}

static void
uring_flush (EvlProactorBackend *backend)
{
  EvlUringBackend *self = (EvlUringBackend *) backend;
  gboolean had_cancels;

  if (self->queue_head == NULL && self->cancels->len == 0 &&
      io_uring_sq_ready (&self->ring) == 0)
    return;
  /* A thread change waits for wait(): completions come only from there. */
  if (!ensure_owner (self, FALSE))
    return;
  had_cancels = self->cancels->len > 0;
  prepare (self);
  /* A cancelled poll drops its reference on the file only once its
   * completion has run, which DEFER_TASKRUN postpones until we ask for
   * events: ask now, so that closing a socket right after remove_reader()
   * really closes it. The completions stay in the ring for wait(). */
  if (had_cancels)
    io_uring_submit_and_get_events (&self->ring);
  else if (io_uring_sq_ready (&self->ring) > 0)
    io_uring_submit (&self->ring);
}

/* GLib polls the ring fd itself: it is readable whenever completions are
 * pending, and a thread asleep in poll() on it is woken when one is
 * posted; the dispatch then reaps without blocking. The ring must not use
 * DEFER_TASKRUN then: its completions wait for the issuer to enter the
 * kernel, and the kernel does not reliably wake a poller for that
 * deferred work (on Linux 6.18, a registered eventfd is signalled for the
 * first piece only, an epoll fd holding the ring fd never, and a plain
 * poll() of the ring fd missed socket readiness in tests/bridge.c). So the
 * first call moves the loop to a COOP_TASKRUN ring, which never moves
 * again (it is not tied to a thread): the fd stays valid for GLib. */
static int
uring_get_poll_fd (EvlProactorBackend *backend)
{
  EvlUringBackend *self = (EvlUringBackend *) backend;

  if (self->tier == TIER_DEFER)
    {
      /* GLib's poll() is not woken reliably for deferred work (see
       * above): take a ring without DEFER_TASKRUN. The operations in
       * flight move along when this thread may enter the ring. */
      gboolean can_enter = !self->enabled || self->owner == g_thread_self ();

      replace_ring (self, TIER_COOP, can_enter);
    }
  self->polled = TRUE;
  return self->ring.ring_fd;
}

static void
uring_close (EvlProactorBackend *backend)
{
  EvlUringBackend *self = (EvlUringBackend *) backend;
  gint64 deadline;
  EvlProactorOp *op;
  gboolean forked = self->fork_generation != evl_fork_generation ();

  /* In a forked child the ring (its SQ and CQ memory too) is the parent's
   * as well: submitting, reaping or unregistering there would take the
   * parent's completions or cancel its requests. Only drop our mapping and
   * fd; the requests stay the parent's business (they work on the
   * parent's memory, not on our copy of it, which is ours to free). */
  if (forked)
    while ((op = self->all) != NULL)
      complete_final (self, op, -ECANCELED);
  else if (ensure_owner (self, TRUE))
    {
      /* Cancel everything and wait until the kernel has given every op
       * back, so no completion can touch memory freed after us. */
      for (op = self->all; op != NULL; op = op->next)
        uring_cancel (backend, op);
      deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
      while (self->n_all > 0 && g_get_monotonic_time () < deadline)
        uring_wait (backend, 100 * G_GINT64_CONSTANT (1000000));
    }
  if (self->n_all > 0)
    {
      /* The kernel did not give them back: leave their memory alone. */
      g_warning ("%u io_uring operations did not end when the loop closed", self->n_all);
      while ((op = self->all) != NULL)
        {
          op->orphaned = TRUE;
          complete_final (self, op, -ECANCELED);
        }
    }

  io_uring_queue_exit (&self->ring);
  g_ptr_array_unref (self->cancels);
  g_hash_table_unref (self->cancel_tags);
  g_free (self);
}

static const EvlProactorBackendFuncs uring_funcs = {
  .name = "io_uring",
  .submit = uring_submit,
  .cancel = uring_cancel,
  .wait = uring_wait,
  .flush = uring_flush,
  .get_poll_fd = uring_get_poll_fd,
  .close = uring_close,
};

/* ---------------------------------------------------------------------- */
/* feature detection */

static gboolean
env_says_no (void)
{
  const char *v = g_getenv ("EVL_NO_IO_URING");

  return v != NULL && *v != '\0' && !g_str_equal (v, "0");
}

static int
sysctl_io_uring_disabled (void)
{
  char *contents = NULL;
  int value = 0;

  if (g_file_get_contents ("/proc/sys/kernel/io_uring_disabled", &contents, NULL, NULL))
    value = atoi (contents);
  g_free (contents);
  return value;
}

static Tier
first_tier (void)
{
  const char *v = g_getenv ("EVL_URING_SETUP");

  if (RUNNING_ON_VALGRIND || g_strcmp0 (g_getenv ("EVL_URING_WAIT"), "ppoll") == 0)
    return TIER_COOP;
  if (v == NULL)
    return TIER_DEFER;
  if (g_str_equal (v, "coop"))
    return TIER_COOP;
  if (g_str_equal (v, "plain"))
    return TIER_PLAIN;
  return TIER_DEFER;
}

static gboolean
not_supported (GError     **error,
               const char  *why)
{
  g_set_error (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_NOT_SUPPORTED,
               _("The proactor loop cannot use io_uring: %s. "
                 "Use the selector loop instead (evl_selector_loop_new(), or EVL_LOOP=selector)"),
               why);
  return FALSE;
}

static gboolean
probe_opcodes (struct io_uring  *ring,
               GError          **error)
{
  static const struct { int opcode; const char *name; } needed[] = {
    { IORING_OP_POLL_ADD, "POLL_ADD" },
    { IORING_OP_POLL_REMOVE, "POLL_REMOVE" },
    { IORING_OP_ASYNC_CANCEL, "ASYNC_CANCEL" },
    { IORING_OP_ACCEPT, "ACCEPT" },
    { IORING_OP_CONNECT, "CONNECT" },
    { IORING_OP_SEND, "SEND" },
    { IORING_OP_RECV, "RECV" },
  };
  struct io_uring_probe *probe = io_uring_get_probe_ring (ring);
  guint i;

  if (probe == NULL)
    return not_supported (error, _("the kernel cannot list its io_uring operations"));
  for (i = 0; i < G_N_ELEMENTS (needed); i++)
    if (!io_uring_opcode_supported (probe, needed[i].opcode))
      {
        char *why = g_strdup_printf (_("the kernel lacks the %s operation"), needed[i].name);

        io_uring_free_probe (probe);
        not_supported (error, why);
        g_free (why);
        return FALSE;
      }
  io_uring_free_probe (probe);
  return TRUE;
}

EvlProactorBackend *
evl_proactor_backend_new (GError **error)
{
  EvlUringBackend *self;
  int disabled, r;
  Tier tier;

  if (env_says_no ())
    {
      not_supported (error, _("it is turned off by the environment variable EVL_NO_IO_URING"));
      return NULL;
    }
  disabled = sysctl_io_uring_disabled ();
  if (disabled == 2)
    {
      not_supported (error, _("it is disabled on this system (kernel.io_uring_disabled = 2)"));
      return NULL;
    }

  self = g_new0 (EvlUringBackend, 1);
  self->parent.funcs = &uring_funcs;
  self->multishot_ok = TRUE;
  self->poll_first_ok = TRUE;
  self->cancels = g_ptr_array_new ();
  self->cancel_tags = g_hash_table_new (NULL, NULL);
  self->next_tag = 1;
  self->fork_generation = evl_fork_generation ();

  r = ring_create (&self->ring, first_tier (), &tier);
  if (r < 0)
    {
      switch (-r)
        {
        case ENOSYS:
          not_supported (error, _("this kernel has no io_uring"));
          break;
        case EPERM:
        case EACCES:
          if (disabled == 1)
            not_supported (error, _("it is reserved to privileged processes on this system "
                                    "(kernel.io_uring_disabled = 1)"));
          else
            not_supported (error, _("it is not permitted here (a seccomp filter or a container "
                                    "policy blocks it)"));
          break;
        case EINVAL:
          not_supported (error, _("this kernel's io_uring is too old (Linux 5.11 or later is needed)"));
          break;
        case ENOMEM:
          not_supported (error, _("the locked-memory limit is too low (raise it with ulimit -l)"));
          break;
        default:
          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (-r),
                       _("Cannot create an io_uring: %s"), g_strerror (-r));
          break;
        }
      g_ptr_array_unref (self->cancels);
      g_hash_table_unref (self->cancel_tags);
      g_free (self);
      return NULL;
    }
  set_tier (self, tier);
  if (!probe_opcodes (&self->ring, error))
    {
      io_uring_queue_exit (&self->ring);
      g_ptr_array_unref (self->cancels);
      g_hash_table_unref (self->cancel_tags);
      g_free (self);
      return NULL;
    }
  self->wait_in_ppoll = RUNNING_ON_VALGRIND || g_strcmp0 (g_getenv ("EVL_URING_WAIT"), "ppoll") == 0;
  g_debug ("io_uring proactor: setup %s",
           tier == TIER_DEFER ? "SINGLE_ISSUER|DEFER_TASKRUN" :
           tier == TIER_COOP ? "COOP_TASKRUN|TASKRUN_FLAG" : "plain");
  return &self->parent;
}
