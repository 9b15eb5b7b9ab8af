/* evl-proactor-loop.c: the completion-based event loop
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "evl-config.h"

#include <errno.h>
#include <string.h>

#include "evl-loop-impl-private.h"
#include "evl-proactor-backend-private.h"

/**
 * EvlProactorLoop:
 *
 * An [class@Evl.Loop] driven by a completion engine: io_uring on Linux,
 * an I/O completion port on Windows; asyncio's `ProactorEventLoop`.
 *
 * The socket primitives ([method@Evl.Loop.sock_recv_async] and the others)
 * are operations the kernel performs; everything else, file-descriptor
 * watches ([method@Evl.Loop.add_reader], [method@Evl.Loop.add_writer])
 * included, works as on the selector loop, with poll requests on the ring.
 * Attached to a GMainContext ([method@Evl.Loop.attach]) the loop adds one
 * fd to GLib, which is readable whenever the ring has completions.
 *
 * Creating one fails with %EVL_LOOP_ERROR_NOT_SUPPORTED where io_uring is
 * missing or disabled (`/proc/sys/kernel/io_uring_disabled`, a seccomp
 * filter, or `EVL_NO_IO_URING=1` in the environment); use a
 * [class@Evl.SelectorLoop] there.
 *
 * On Windows, watches are `IOCTL_AFD_POLL` requests on the completion port
 * (any socket), and readers may also watch a waitable HANDLE (readable
 * means signalled); the GLib bridge adds one event HANDLE. A socket can
 * belong to one completion port only: use it with one proactor loop.
 * `EVL_NO_IOCP=1` turns the backend off.
 */

/* An fd watch is a poll request on the ring. Watches are level-triggered,
 * as the base loop's contract (and asyncio) wants: a callback that leaves
 * data unread runs again. A one-shot poll gives exactly that: it is armed
 * again at the next io_poll(), after the callbacks ran, and the kernel
 * checks readiness when it is armed. A multishot poll (IORING_POLL_ADD_MULTI)
 * only reports wakeups (edges), so it serves the loop's own wakeup
 * eventfd, which the base loop drains each time it is reported; it is
 * armed again only if the kernel ends it (a final completion without
 * IORING_CQE_F_MORE).
 *
 * Attached to a GMainContext, nothing of ours runs between GLib's
 * dispatches, so whatever a dispatch leaves unsubmitted (a poll to arm
 * again after the callbacks, a socket operation started from a callback)
 * is handed to the kernel by a callback queued behind the others
 * (flush_cb). */

typedef struct _PollWatch PollWatch;

struct _PollWatch
{
  EvlProactorOp     op;           /* first */
  EvlProactorLoop  *self;
  int               fd;
  guint             events;       /* EVL_IO_READ|WRITE wanted */
  guint             reported;     /* gathered during this io_poll */
  gboolean          armed;        /* the op is with the backend */
  gboolean          detached;     /* not in the table any more */
  gboolean          dead;         /* the fd failed: not armed again */
  gboolean          on_rearm;
  gboolean          on_report;
  guint64           completed_in;  /* the io_poll that saw it complete */
  PollWatch        *rearm_next;
  PollWatch        *report_next;
};

typedef struct
{
  EvlProactorOp     op;           /* first */
  EvlLoop          *loop;
  EvlSockRequest   *req;
} SockStep;

struct _EvlProactorLoop
{
  EvlLoop              parent_instance;

  EvlProactorBackend  *backend;
  int                  poll_fd;   /* the backend's fd for GLib, once asked for */
  int                  wake_fd;   /* the backend's own wakeup channel, or -1 */
  PollWatch          **watches;   /* indexed by fd */
  guint                n_watches;
  PollWatch           *rearm;     /* one-shot polls to arm again */
  PollWatch           *report;    /* readiness gathered for evl_loop_io_ready */
  gboolean             in_poll;
  guint64              n_polls;     /* io_poll calls so far */
  gboolean             flush_scheduled;
  guint64              flush_after; /* flush_cb may arm polls completed up to this io_poll */
  SockStep            *free_steps;  /* finished socket steps, for the next ones */
  guint                n_free_steps;
  guint8              *drained;     /* by fd: its last recv emptied the socket */
  guint                n_drained;
};

#define FREE_STEPS_MAX 64

static void evl_proactor_loop_initable_iface_init (GInitableIface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (EvlProactorLoop, evl_proactor_loop, EVL_TYPE_LOOP,
                               G_IMPLEMENT_INTERFACE (G_TYPE_INITABLE,
                                                      evl_proactor_loop_initable_iface_init))

/* ---------------------------------------------------------------------- */
/* handing work to the kernel outside an explicit run */

static void request_flush (EvlProactorLoop *self);

static void
watch_free_if_unused (PollWatch *w)
{
  if (w->detached && !w->armed && !w->on_rearm && !w->on_report)
    g_free (w);
}

static void
flush_cb (gpointer data)
{
  EvlProactorLoop *self = data;
  PollWatch *w;

  PollWatch *later = NULL;

  self->flush_scheduled = FALSE;
  if (self->backend == NULL)
    return;
  /* Arm again the polls that completed before this callback was queued:
   * their callbacks, queued before it, have run, so the kernel checks the
   * fresh state. Polls that completed since wait for the next round. */
  while ((w = self->rearm) != NULL)
    {
      self->rearm = w->rearm_next;
      if (w->completed_in > self->flush_after && !w->detached)
        {
          w->rearm_next = later;
          later = w;
          continue;
        }
      w->on_rearm = FALSE;
      if (w->detached)
        {
          watch_free_if_unused (w);
          continue;
        }
      if (!w->armed && !w->dead)
        {
          w->armed = TRUE;
          evl_proactor_backend_submit (self->backend, &w->op);
        }
    }
  self->rearm = later;
  evl_proactor_backend_flush (self->backend);
  if (self->rearm != NULL)
    request_flush (self);
}

/* An explicit run polls again soon and submits then, in the same
 * syscall as its wait; otherwise (attached to GLib, or not running) queue
 * flush_cb, which also makes the GLib source dispatch again. */
static void
request_flush (EvlProactorLoop *self)
{
  EvlLoop *loop = EVL_LOOP (self);

  if (self->flush_scheduled || self->in_poll || evl_loop_get_priv (loop)->run_depth > 0)
    return;
  if (evl_loop_call_soon_internal (loop, flush_cb, self, NULL))
    {
      self->flush_scheduled = TRUE;
      self->flush_after = self->n_polls;
    }
}

/* ---------------------------------------------------------------------- */
/* fd watches */

static void
gather (PollWatch *w,
        guint      events)
{
  EvlProactorLoop *self = w->self;

  w->reported |= events;
  if (!w->on_report)
    {
      w->on_report = TRUE;
      w->report_next = self->report;
      self->report = w;
    }
}

static void
watch_completed (EvlProactorOp *op,
                 int            result,
                 gboolean       more)
{
  PollWatch *w = (PollWatch *) op;
  EvlProactorLoop *self = w->self;

  if (!more)
    w->armed = FALSE;
  if (w->detached)
    {
      watch_free_if_unused (w);
      return;
    }

  if (result >= 0)
    {
      guint events = (guint) result;

      /* Failures and hangups reach the callbacks of every interest. */
      if (events & (EVL_IO_ERROR | EVL_IO_HUP))
        events |= w->events;
      events &= w->events | EVL_IO_ERROR | EVL_IO_HUP;
      if (events != 0)
        gather (w, events);
    }
  else if (result != -ECANCELED)
    {
      /* The fd is gone (EBADF) or cannot be polled: the callbacks see it
       * once; the watch sleeps until it is changed. */
      gather (w, w->events | EVL_IO_ERROR);
      w->dead = TRUE;
    }

  w->completed_in = self->n_polls;
  if (!more && !w->dead && !w->on_rearm)
    {
      w->on_rearm = TRUE;
      w->rearm_next = self->rearm;
      self->rearm = w;
    }
}

static void
detach_watch (EvlProactorLoop *self,
              PollWatch       *w)
{
  self->watches[w->fd] = NULL;
  w->detached = TRUE;
  if (w->armed)
    evl_proactor_backend_cancel (self->backend, &w->op);
  watch_free_if_unused (w);
}

static gboolean
proactor_io_update (EvlLoop  *loop,
                    int       fd,
                    guint     old_events,
                    guint     new_events,
                    GError  **error)
{
  EvlProactorLoop *self = EVL_PROACTOR_LOOP (loop);
  PollWatch *w;

  if (self->backend == NULL)
    return new_events == 0;

  if ((guint) fd < self->n_watches && self->watches[fd] != NULL)
    {
      gboolean was_armed = self->watches[fd]->armed;

      detach_watch (self, self->watches[fd]);
      /* Hand the removal to the kernel now: the poll request holds a
       * reference on the file, so a socket closed right after
       * remove_reader() (a listening socket) would otherwise stay open,
       * and keep accepting, until the next iteration. */
      if (new_events == 0 && was_armed)
        evl_proactor_backend_flush (self->backend);
    }
  if (new_events == 0 || fd == self->wake_fd)
    return TRUE;     /* the backend's own wakeup has nothing to watch */
  if (fd == self->poll_fd)
    {
      /* The fd the loop's own GLib source polls (a GLib context the loop
       * drives holds that source): a poll on the ring would make it
       * readable again at once. As an epoll fd cannot watch itself,
       * refuse. */
      g_set_error (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_INVALID,
                   _("File descriptor %d is the loop's own completion descriptor; watch another one"), fd);
      return FALSE;
    }

  if ((guint) fd >= self->n_watches)
    {
      guint n = MAX (64, self->n_watches);

      while (n <= (guint) fd)
        n *= 2;
      self->watches = g_renew (PollWatch *, self->watches, n);
      memset (self->watches + self->n_watches, 0, (n - self->n_watches) * sizeof (PollWatch *));
      self->n_watches = n;
    }

  /* A new request even when only the events change: the fd may be a new
   * file under a reused number. */
  w = g_new0 (PollWatch, 1);
  w->self = self;
  w->fd = fd;
  w->events = new_events;
  w->op.kind = EVL_PROACTOR_POLL;
  w->op.fd = fd;
  w->op.events = new_events;
  w->op.multishot = fd == evl_loop_get_priv (loop)->wake_fd;
  w->op.complete = watch_completed;
  w->armed = TRUE;
  self->watches[fd] = w;
  evl_proactor_backend_submit (self->backend, &w->op);
  request_flush (self);
  return TRUE;
}

static void
proactor_io_poll (EvlLoop *loop,
                  gint64   timeout_ns)
{
  EvlProactorLoop *self = (EvlProactorLoop *) loop;   /* our backend's: no check */
  PollWatch *w, *report;
  int r;

  if (self->backend == NULL)
    return;
  self->in_poll = TRUE;
  self->n_polls++;

  while ((w = self->rearm) != NULL)
    {
      self->rearm = w->rearm_next;
      w->on_rearm = FALSE;
      if (w->detached)
        watch_free_if_unused (w);
      else if (!w->armed && !w->dead)
        {
          w->armed = TRUE;
          evl_proactor_backend_submit (self->backend, &w->op);
        }
    }

  r = evl_proactor_backend_wait (self->backend, timeout_ns);
  if (r < 0)
    {
      GError *error = g_error_new (G_IO_ERROR, g_io_error_from_errno (-r),
                                   _("Error waiting for I/O: %s"), g_strerror (-r));

      evl_loop_call_exception_handler (loop, error, _("The io_uring failed while waiting for I/O"));
      g_error_free (error);
    }

  report = self->report;
  self->report = NULL;
  while ((w = report) != NULL)
    {
      guint events = w->reported;

      report = w->report_next;
      w->on_report = FALSE;
      w->reported = 0;
      if (w->detached)
        watch_free_if_unused (w);
      else
        evl_loop_io_ready (loop, w->fd, events);
    }

  self->in_poll = FALSE;
  if (self->rearm != NULL)
    request_flush (self);
  else if (evl_loop_get_priv (loop)->run_depth == 0)
    evl_proactor_backend_flush (self->backend);
}

static int
proactor_get_poll_fd (EvlLoop *loop)
{
  EvlProactorLoop *self = EVL_PROACTOR_LOOP (loop);

  if (self->backend == NULL)
    return -1;
  self->poll_fd = evl_proactor_backend_get_poll_fd (self->backend);
  /* The backend may have moved what was in flight to a new ring: have it
   * submitted from the first dispatch. */
  request_flush (self);
  return self->poll_fd;
}

static void
proactor_close (EvlLoop *loop)
{
  EvlProactorLoop *self = EVL_PROACTOR_LOOP (loop);
  EvlProactorBackend *backend = self->backend;
  PollWatch *w;
  guint fd;

  if (backend == NULL)
    return;
  for (fd = 0; fd < self->n_watches; fd++)
    if ((w = self->watches[fd]) != NULL)
      {
        self->watches[fd] = NULL;
        w->detached = TRUE;
        watch_free_if_unused (w);
      }
  /* Every operation still with the backend completes from here. */
  evl_proactor_backend_close (backend);
  self->backend = NULL;

  while ((w = self->rearm) != NULL)
    {
      self->rearm = w->rearm_next;
      w->on_rearm = FALSE;
      watch_free_if_unused (w);
    }
  while ((w = self->report) != NULL)
    {
      self->report = w->report_next;
      w->on_report = FALSE;
      watch_free_if_unused (w);
    }
  g_clear_pointer (&self->watches, g_free);
  self->n_watches = 0;
  g_clear_pointer (&self->drained, g_free);
  self->n_drained = 0;
  while (self->free_steps != NULL)
    {
      SockStep *step = self->free_steps;

      self->free_steps = (SockStep *) step->loop;
      g_free (step);
    }
  self->n_free_steps = 0;
}

/* ---------------------------------------------------------------------- */
/* socket operations */

/* A recv that emptied the socket is most often followed by one that
 * waits (a request and its answer): that one asks the kernel to wait for
 * readiness first (EvlProactorOp.poll_first) rather than try, fail and
 * then wait. Per fd number: a hint, harmless when the number is reused. */
static void
note_drained (EvlProactorLoop *self,
              int              fd,
              gboolean         drained)
{
  if (fd < 0)
    return;
  if ((guint) fd >= self->n_drained)
    {
      guint n;

      if (!drained)
        return;
      n = MAX (64, self->n_drained);
      while (n <= (guint) fd)
        n *= 2;
      self->drained = g_realloc (self->drained, n);
      memset (self->drained + self->n_drained, 0, n - self->n_drained);
      self->n_drained = n;
    }
  self->drained[fd] = drained;
}

static void
sock_step_completed (EvlProactorOp *op,
                     int            result,
                     gboolean       more)
{
  SockStep *step = (SockStep *) op;
  EvlLoop *loop = step->loop;
  EvlSockRequest *req = step->req;

  if (op->kind == EVL_PROACTOR_ACCEPT && result >= 0)
    req->addrlen = op->addrlen;
  if (op->kind == EVL_PROACTOR_RECV)
    note_drained ((EvlProactorLoop *) loop, op->fd, result > 0 && !op->more_data);
  if (op->orphaned)
    req->orphaned = TRUE;   /* and the step stays allocated too */
  else
    {
      EvlProactorLoop *self = (EvlProactorLoop *) loop;

      if (self->backend != NULL && self->n_free_steps < FREE_STEPS_MAX)
        {
          /* @loop links the free list. */
          step->loop = (EvlLoop *) self->free_steps;
          self->free_steps = step;
          self->n_free_steps++;
        }
      else
        g_free (step);
    }
  evl_loop_sock_done (loop, req, result);
}

static void
proactor_sock_submit (EvlLoop        *loop,
                      EvlSockRequest *req)
{
  EvlProactorLoop *self = (EvlProactorLoop *) loop;   /* our backend's: no check */
  SockStep *step = self->free_steps;

  if (step != NULL)
    {
      self->free_steps = (SockStep *) step->loop;
      self->n_free_steps--;
      memset (step, 0, sizeof *step);
    }
  else
    step = g_new0 (SockStep, 1);
  step->loop = loop;
  step->req = req;
  step->op.fd = req->fd;
  step->op.buffer = req->buffer;
  step->op.length = req->length;
  step->op.complete = sock_step_completed;
  switch (req->kind)
    {
    case EVL_SOCK_RECV:
      step->op.kind = EVL_PROACTOR_RECV;
      step->op.poll_first = req->fd >= 0 && (guint) req->fd < self->n_drained &&
                            self->drained[req->fd];
      break;
    case EVL_SOCK_SEND:
      step->op.kind = EVL_PROACTOR_SEND;
      break;
    case EVL_SOCK_CONNECT:
      step->op.kind = EVL_PROACTOR_CONNECT;
      step->op.addr = (struct sockaddr *) &req->addr;
      step->op.addrlen = req->addrlen;
      break;
    case EVL_SOCK_ACCEPT:
      step->op.kind = EVL_PROACTOR_ACCEPT;
      step->op.addr = (struct sockaddr *) &req->addr;
      step->op.addrlen = sizeof req->addr;
      break;
    default:
      g_assert_not_reached ();
    }
  req->backend_data = step;
  evl_proactor_backend_submit (self->backend, &step->op);
  request_flush (self);
}

static void
proactor_sock_cancel (EvlLoop        *loop,
                      EvlSockRequest *req)
{
  EvlProactorLoop *self = EVL_PROACTOR_LOOP (loop);
  SockStep *step = req->backend_data;

  if (step == NULL || self->backend == NULL)
    return;
  evl_proactor_backend_cancel (self->backend, &step->op);
  request_flush (self);
}

static const EvlLoopBackend proactor_backend = {
  .name = "proactor",
  .io_update = proactor_io_update,
  .io_poll = proactor_io_poll,
  .get_poll_fd = proactor_get_poll_fd,
  .close = proactor_close,
  .sock_submit = proactor_sock_submit,
  .sock_cancel = proactor_sock_cancel,
};

/* ---------------------------------------------------------------------- */
/* GObject */

static gboolean
evl_proactor_loop_initable_init (GInitable     *initable,
                                 GCancellable  *cancellable,
                                 GError       **error)
{
  EvlProactorLoop *self = EVL_PROACTOR_LOOP (initable);

  if (self->backend != NULL)
    return TRUE;
  self->backend = evl_proactor_backend_new (error);
  if (self->backend == NULL)
    return FALSE;
  /* A backend whose wait() other threads can wake directly (IOCP: a
   * packet posted to the port) hands the loop its wakeup channel, which
   * evl_loop_backend_ready() keeps instead of opening its own. */
  self->wake_fd = evl_proactor_backend_get_wakeup_fd (self->backend);
  if (self->wake_fd >= 0)
    {
      EvlLoopPrivate *priv = evl_loop_get_priv (EVL_LOOP (self));

      priv->wake_fd = priv->wake_fd_write = self->wake_fd;
    }
  if (!evl_loop_backend_ready (EVL_LOOP (self), error))
    {
      evl_loop_close (EVL_LOOP (self), NULL);
      return FALSE;
    }
  return TRUE;
}

static void
evl_proactor_loop_initable_iface_init (GInitableIface *iface)
{
  iface->init = evl_proactor_loop_initable_init;
}

static void
evl_proactor_loop_class_init (EvlProactorLoopClass *klass)
{
  evl_loop_class_set_backend (EVL_LOOP_CLASS (klass), &proactor_backend);
}

static void
evl_proactor_loop_init (EvlProactorLoop *self)
{
  self->poll_fd = -1;
  self->wake_fd = -1;
}

/**
 * evl_proactor_loop_new:
 * @error: return location for a #GError
 *
 * Creates a completion-based loop: io_uring on Linux. It drives no
 * GMainContext; set the [property@Evl.Loop:context] property with
 * g_initable_new() for that, or use [func@Evl.new_event_loop] with
 * `EVL_LOOP=proactor`.
 *
 * Returns: (transfer full) (nullable): a new loop, or %NULL with
 *   %EVL_LOOP_ERROR_NOT_SUPPORTED (the message says why) where io_uring is
 *   missing or disabled
 */
EvlLoop *
evl_proactor_loop_new (GError **error)
{
  return g_initable_new (EVL_TYPE_PROACTOR_LOOP, NULL, error, NULL);
}
