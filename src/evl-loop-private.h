/* evl-loop-private.h: the loop's internals shared with its backends
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gnetworking.h>

#include "evl-handle-private.h"

G_BEGIN_DECLS

/* Events passed between the base loop and its backends. READ and WRITE are
 * the public EvlEventFlags; ERROR and HUP are only reported, never asked for.
 * Backends report an fd that failed or hung up with ERROR/HUP set *and* with
 * the READ/WRITE bits of its interest set, so that callbacks run and see the
 * error themselves (as Python's selectors do). */
enum {
  EVL_IO_READ  = EVL_EVENT_READ,
  EVL_IO_WRITE = EVL_EVENT_WRITE,
  EVL_IO_ERROR = 1 << 2,
  EVL_IO_HUP   = 1 << 3,
};

/* The socket primitives (evl-loop-sock.c). Their front half (argument
 * checks, cancellation, the GAsyncResult) is shared; a backend may do the
 * I/O itself through the sock_submit/sock_cancel hooks below, otherwise
 * evl-loop-sock.c does non-blocking syscalls and waits for readiness. */
typedef enum
{
  EVL_SOCK_RECV,      /* up to @length bytes into @buffer */
  EVL_SOCK_SEND,      /* up to @length bytes from @buffer (MSG_NOSIGNAL) */
  EVL_SOCK_CONNECT,   /* to @addr/@addrlen */
  EVL_SOCK_ACCEPT,    /* a new fd, non-blocking and close-on-exec; the
                       * peer's address into @addr/@addrlen */
} EvlSockKind;

/* One step of a socket operation (a sendall is several SEND steps). The
 * front half owns it and keeps it, @buffer included, valid until the
 * backend reports the step with evl_loop_sock_done(). */
typedef struct _EvlSockRequest
{
  EvlSockKind              kind;
  int                      fd;
  guint8                  *buffer;
  gsize                    length;
  struct sockaddr_storage  addr;
  socklen_t                addrlen;
  gpointer                 backend_data;  /* the backend's, while submitted */
  /* Set by a backend that could not take the request back from the
   * kernel (evl-uring-backend.c, a ring left behind by a thread change):
   * the request and its buffer must then never be freed. */
  gboolean                 orphaned;
} EvlSockRequest;

/* The I/O backend of a loop kind: an internal table, one per kind (the
 * selector loop, the io_uring proactor, later IOCP). The base loop owns the
 * fd table, the ready queue, the timers and the run logic; a backend only
 * watches fds and waits. All functions run on the loop's thread. */
typedef struct _EvlLoopBackend
{
  const char *name;

  /* Change what is watched on @fd from @old_events to @new_events (each a
   * mask of EVL_IO_READ|EVL_IO_WRITE; 0 means "not watched"). The fd may
   * have been closed and its number reused since the last call: a backend
   * must then register it afresh (epoll: MOD fails with ENOENT -> ADD). When
   * @new_events is 0 the fd may already be closed; that is not an error. */
  gboolean (*io_update)   (EvlLoop  *loop,
                           int       fd,
                           guint     old_events,
                           guint     new_events,
                           GError  **error);

  /* Wait for I/O for at most @timeout_ns nanoseconds (-1: no limit, 0: do
   * not block) and report each ready fd once with evl_loop_io_ready().
   * EINTR returns early without error. */
  void     (*io_poll)     (EvlLoop  *loop,
                           gint64    timeout_ns);

  /* An fd that is readable whenever io_poll() would find something (epoll
   * fd, the ring's eventfd), for the GSource bridge; -1 when the backend has
   * none (poll, select): the bridge then adds every watched fd to GLib. */
  int      (*get_poll_fd) (EvlLoop  *loop);

  /* Release the backend's resources; called once, from close or finalize. */
  void     (*close)       (EvlLoop  *loop);

  /* Optional, for completion-based backends (the proactor): start one step
   * of @req in the background and report it, exactly once, with
   * evl_loop_sock_done() from io_poll() or close() (never from inside
   * sock_submit). NULL: the backend is readiness-based and evl-loop-sock.c
   * does the syscalls, waiting with internal watches on EAGAIN. */
  void     (*sock_submit) (EvlLoop        *loop,
                           EvlSockRequest *req);
  /* Ask a submitted @req to end early. It still reports once: -ECANCELED,
   * or its real result if it completed first. */
  void     (*sock_cancel) (EvlLoop        *loop,
                           EvlSockRequest *req);
} EvlLoopBackend;

/* A backend reports a step of a socket operation: @result is the byte
 * count (RECV, SEND), 0 (CONNECT), the new fd (ACCEPT), or -errno;
 * -ECANCELED when cancelled or when the loop closes. */
void      evl_loop_sock_done         (EvlLoop               *loop,
                                      EvlSockRequest        *req,
                                      int                    result);

/* The backend table that the loop kind's class_init set. */
static inline const EvlLoopBackend *
evl_loop_get_backend (EvlLoop *loop)
{
  return (const EvlLoopBackend *) EVL_LOOP_GET_CLASS (loop)->_evl_reserved[0];
}

/* Subclasses call this from class_init. */
void      evl_loop_class_set_backend (EvlLoopClass          *klass,
                                      const EvlLoopBackend  *backend);

/* Subclasses call this once their backend is ready to accept io_update()
 * (end of constructed/init); it creates the wakeup eventfd and registers it. */
gboolean  evl_loop_backend_ready     (EvlLoop               *loop,
                                      GError               **error);
/* Why evl_loop_backend_ready() failed (the loop is then closed), or NULL. */
const GError *evl_loop_get_init_error (EvlLoop              *loop);

/* Called by a backend's io_poll() for every ready fd. */
void      evl_loop_io_ready          (EvlLoop               *loop,
                                      int                    fd,
                                      guint                  events);

/* Nanoseconds on the loop's monotonic clock. */
gint64    evl_loop_time_ns           (EvlLoop               *loop);

/* Wake the loop from any thread (coalesced). Async-signal-safe. */
void      evl_loop_wakeup            (EvlLoop               *loop);

/* Schedule an internal callback (used by futures, bridges, backends). The
 * handle is owned by the loop. Returns FALSE (and runs @notify) if the
 * loop is closed. */
gboolean  evl_loop_call_soon_internal (EvlLoop              *loop,
                                       EvlCallback           callback,
                                       gpointer              user_data,
                                       GDestroyNotify        notify);

/* Like evl_loop_call_soon_threadsafe(), from any thread, but quiet on a
 * closed loop: returns FALSE (and runs @notify) instead of a g_critical. */
gboolean  evl_loop_call_soon_threadsafe_internal (EvlLoop       *loop,
                                                  EvlCallback    callback,
                                                  gpointer       user_data,
                                                  GDestroyNotify notify);

/* The socket primitives' own watch on @fd (reading, or writing when
 * @writer), in a slot of its own next to the user's reader and writer, so
 * neither replaces the other. Same rules as evl_loop_add_reader(). */
gboolean  evl_loop_add_internal_watch    (EvlLoop               *loop,
                                          int                    fd,
                                          gboolean               writer,
                                          EvlCallback            callback,
                                          gpointer               user_data,
                                          GDestroyNotify         notify,
                                          GError               **error);
gboolean  evl_loop_remove_internal_watch (EvlLoop               *loop,
                                          int                    fd,
                                          gboolean               writer);
/* Has the backend register @fd afresh with the events it is watched for
 * (one epoll_ctl MOD; ADD when the number names a new file since): for a
 * watch kept across operations, whose fd may have been closed and its
 * number reused in between. */
gboolean  evl_loop_rearm_fd              (EvlLoop               *loop,
                                          int                    fd,
                                          GError               **error);

/* A callback run once when the loop closes: from evl_loop_close() (or
 * dispose), on the loop's thread, after the pending callbacks were dropped
 * and with the loop already closed (so an EvlOperation completed from it
 * delivers at once). For work that other threads finish (the executor,
 * signals emitted elsewhere) and so has no handle the loop could drop. The
 * caller embeds the struct, sets @func and @data, and adds and removes it
 * on the loop's thread; a hook is removed before its @func runs, and
 * removing one that is not added does nothing. */
typedef struct _EvlLoopCloseHook
{
  EvlCallback  func;
  gpointer     data;
  /*< private >*/
  GList        link;
  gboolean     added;
} EvlLoopCloseHook;

/* FALSE (and the hook is not added) when the loop is closed already. */
gboolean  evl_loop_add_close_hook    (EvlLoop               *loop,
                                      EvlLoopCloseHook      *hook);
void      evl_loop_remove_close_hook (EvlLoop               *loop,
                                      EvlLoopCloseHook      *hook);

/* The thread that runs the loop now, or NULL. */
GThread  *evl_loop_get_running_thread (EvlLoop              *loop);

/* Run exactly one iteration with a poll timeout of 0; used by the GSource
 * bridge's dispatch. */
void      evl_loop_run_once_nonblocking (EvlLoop            *loop);

/* For the GSource bridge: the next timer deadline in ns on the loop clock
 * (-1 when none) and whether callbacks are ready (poll must not block). */
gint64    evl_loop_get_next_deadline (EvlLoop               *loop);
gboolean  evl_loop_has_ready_work    (EvlLoop               *loop);

/* Iterate over the fds the loop watches now (for the GSource bridge on
 * backends without a poll fd). */
typedef void (*EvlLoopFdFunc) (int fd, guint events, gpointer user_data);
void      evl_loop_foreach_fd        (EvlLoop               *loop,
                                      EvlLoopFdFunc          func,
                                      gpointer               user_data);

/* Internal translation helper: binds the text domain on first use. */
const char *evl_gettext              (const char            *msgid) G_GNUC_FORMAT (1);
#define _(s) evl_gettext (s)
#define N_(s) (s)

void      evl_init                   (void);

/* Counts the fork()s that led to this process (0 in the process that
 * loaded the library, then +1 in each child). A loop made under another
 * generation shares its kernel objects (epoll set, io_uring) with the
 * parent's loop: a child may close it, which must then only drop its own
 * fds, never unregister or cancel anything there. */
guint     evl_fork_generation        (void);

G_END_DECLS
