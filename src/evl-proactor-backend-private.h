/* evl-proactor-backend-private.h: the completion engine under EvlProactorLoop
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>
#include <gio/gnetworking.h>

G_BEGIN_DECLS

/* A proactor backend runs operations in the background and reports each
 * one's completion: io_uring on Linux (evl-uring-backend.c); IOCP on
 * Windows can slot in as another file that defines
 * evl_proactor_backend_new(), without touching evl-proactor-loop.c.
 *
 * The caller owns each EvlProactorOp and keeps it (and what it points to)
 * valid from submit() until its final completion (@more == FALSE), which
 * comes exactly once per submit(), also after cancel() and from close().
 * Completions are only delivered from wait() and close(), never from
 * inside submit(), cancel() or flush(). Everything runs on the loop's
 * thread. */

typedef struct _EvlProactorBackend EvlProactorBackend;
typedef struct _EvlProactorOp      EvlProactorOp;

typedef enum
{
  EVL_PROACTOR_POLL,     /* readiness of @fd for @events */
  EVL_PROACTOR_RECV,     /* recv(@fd, @buffer, @length) */
  EVL_PROACTOR_SEND,     /* send(@fd, @buffer, @length, MSG_NOSIGNAL) */
  EVL_PROACTOR_CONNECT,  /* connect(@fd, @addr, @addrlen) */
  EVL_PROACTOR_ACCEPT,   /* accept4(@fd, @addr, &@addrlen, NONBLOCK|CLOEXEC) */
} EvlProactorOpKind;

/* @result: >= 0 on success (POLL: the EVL_IO_* events that occurred;
 * RECV/SEND: bytes; CONNECT: 0; ACCEPT: the new fd), -errno on failure,
 * -ECANCELED when cancelled. @more: the operation stays armed and will
 * complete again (a multishot poll). */
typedef void (*EvlProactorOpFunc) (EvlProactorOp *op,
                                   int            result,
                                   gboolean       more);

struct _EvlProactorOp
{
  /* set by the caller before submit() */
  EvlProactorOpKind   kind;
  int                 fd;
  guint               events;      /* POLL: EVL_IO_READ|EVL_IO_WRITE */
  gboolean            multishot;   /* POLL: keep reporting, if the backend can */
  gpointer            buffer;      /* RECV, SEND */
  gsize               length;      /* RECV, SEND: at most G_MAXINT32 */
  struct sockaddr    *addr;        /* CONNECT (read), ACCEPT (written) */
  socklen_t           addrlen;     /* CONNECT: its size; ACCEPT: in/out */
  gboolean            poll_first;  /* RECV: data is unlikely to be there yet:
                                    * wait for readiness before the first
                                    * try (a hint; backends may ignore it) */
  EvlProactorOpFunc   complete;

  /* Set by the backend before a RECV's completion: the socket had more
   * data after it (a hint: FALSE when the backend cannot tell). */
  gboolean            more_data;

  /* Set by the backend before the final completion of an operation it
   * could not take back from the kernel: keep its memory forever. */
  gboolean            orphaned;

  /*< private: the backend's >*/
  guint               state;
  guint               flags;
  guint64             cancel_tag;  /* of the cancel request in flight, or 0 */
  EvlProactorOp      *prev;        /* every op the backend knows */
  EvlProactorOp      *next;
  EvlProactorOp      *queue_next;  /* waiting for room in the ring */
};

typedef struct
{
  const char *name;

  /* Start @op (it may wait in a queue until the kernel has room: the
   * number of operations in flight is not bounded by the ring's size). */
  void (*submit)      (EvlProactorBackend *self,
                       EvlProactorOp      *op);
  /* Ask @op to end early: its final completion follows from wait(). */
  void (*cancel)      (EvlProactorBackend *self,
                       EvlProactorOp      *op);
  /* Hand what was submitted to the kernel, wait at most @timeout_ns for
   * completions (-1: no limit, 0: do not block) and deliver them all.
   * Returns the number delivered, or -errno (EINTR is not an error). */
  int  (*wait)        (EvlProactorBackend *self,
                       gint64              timeout_ns);
  /* Hand what was submitted to the kernel without waiting. */
  void (*flush)       (EvlProactorBackend *self);
  /* An fd that is readable whenever wait() would deliver something (for
   * GLib's poll), or -1. */
  int  (*get_poll_fd) (EvlProactorBackend *self);
  /* Optional: a wakeup channel of the backend's own (evl-wakeup-private.h)
   * that wakes wait() with nothing to watch (IOCP: a packet posted to the
   * port); the loop then uses it for its cross-thread wakeups and closes
   * it after close(). NULL: the loop watches the platform's wakeup fd
   * (io_uring: an eventfd, with a multishot poll). */
  int  (*get_wakeup_fd) (EvlProactorBackend *self);
  /* Cancel everything in flight, deliver the final completions, free the
   * backend. */
  void (*close)       (EvlProactorBackend *self);
} EvlProactorBackendFuncs;

struct _EvlProactorBackend
{
  const EvlProactorBackendFuncs *funcs;
};

/* The platform's backend. NULL with EVL_LOOP_ERROR_NOT_SUPPORTED (and a
 * message that says why and what to use instead) where it is missing or
 * disabled; with a G_IO_ERROR for other failures. */
EvlProactorBackend *evl_proactor_backend_new (GError **error);

static inline void
evl_proactor_backend_submit (EvlProactorBackend *self,
                             EvlProactorOp      *op)
{
  self->funcs->submit (self, op);
}

static inline void
evl_proactor_backend_cancel (EvlProactorBackend *self,
                             EvlProactorOp      *op)
{
  self->funcs->cancel (self, op);
}

static inline int
evl_proactor_backend_wait (EvlProactorBackend *self,
                           gint64              timeout_ns)
{
  return self->funcs->wait (self, timeout_ns);
}

static inline void
evl_proactor_backend_flush (EvlProactorBackend *self)
{
  self->funcs->flush (self);
}

static inline int
evl_proactor_backend_get_poll_fd (EvlProactorBackend *self)
{
  return self->funcs->get_poll_fd (self);
}

/* The backend's own wakeup channel, or -1. */
static inline int
evl_proactor_backend_get_wakeup_fd (EvlProactorBackend *self)
{
  return self->funcs->get_wakeup_fd != NULL ? self->funcs->get_wakeup_fd (self) : -1;
}

static inline void
evl_proactor_backend_close (EvlProactorBackend *self)
{
  self->funcs->close (self);
}

G_END_DECLS
