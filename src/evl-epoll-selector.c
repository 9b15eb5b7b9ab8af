/* evl-epoll-selector.c: the epoll selector (Linux)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "evl-config.h"

#include <errno.h>
#include <limits.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "evl-selector-private.h"
#include "evl-loop-private.h"

/**
 * EvlEpollSelector:
 *
 * A selector that uses Linux's epoll, like Python's
 * `selectors.EpollSelector`. It scales to many file descriptors and has a
 * file descriptor of its own ([method@Evl.Selector.get_fd]) that becomes
 * readable when events are pending, so that it can be nested in another
 * main loop.
 *
 * epoll cannot watch regular files or directories: registering one fails
 * with `G_IO_ERROR_PERMISSION_DENIED`.
 */

struct _EvlEpollSelector
{
  EvlSelector         parent_instance;

  int                 epfd;
  int                 create_errno;  /* why epfd is -1 */
  struct epoll_event *buf;           /* reused by every select() */
  guint               buf_len;
  guint               no_pwait2 : 1; /* epoll_pwait2() is not available */
};

static void evl_epoll_selector_initable_iface_init (GInitableIface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (EvlEpollSelector, evl_epoll_selector, EVL_TYPE_SELECTOR,
                               G_IMPLEMENT_INTERFACE (G_TYPE_INITABLE,
                                                      evl_epoll_selector_initable_iface_init))

static gboolean
check_epfd (EvlEpollSelector  *self,
            GError           **error)
{
  if (self->epfd >= 0)
    return TRUE;

  g_set_error (error, G_IO_ERROR, g_io_error_from_errno (self->create_errno),
               _("Could not create an epoll instance: %s; use the poll "
                 "selector instead"),
               g_strerror (self->create_errno));
  return FALSE;
}

static guint32
to_epoll_events (EvlEventFlags events)
{
  guint32 ev = 0;

  if (events & EVL_EVENT_READ)
    ev |= EPOLLIN;
  if (events & EVL_EVENT_WRITE)
    ev |= EPOLLOUT;
  return ev;
}

static int
epoll_ctl_fd (EvlEpollSelector *self,
              int               op,
              int               fd,
              EvlEventFlags     events)
{
  struct epoll_event ev = { 0 };

  ev.events = to_epoll_events (events);
  /* The fd, never a pointer: an fd closed while registered may still be
   * reported by the kernel (if it was duplicated) after we forgot it. */
  ev.data.fd = fd;
  return epoll_ctl (self->epfd, op, fd, &ev);
}

static void
set_ctl_error (GError **error,
               int      fd,
               int      errsv)
{
  if (errsv == EPERM)
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                 _("Cannot watch file descriptor %d with epoll: %s. epoll "
                   "does not watch regular files or directories (they are "
                   "always ready); use the poll or select selector for "
                   "them"),
                 fd, g_strerror (errsv));
  else
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                 _("Cannot watch file descriptor %d with epoll: %s"),
                 fd, g_strerror (errsv));
}

static gboolean
evl_epoll_selector_register_fd (EvlSelector    *selector,
                                int             fd,
                                EvlEventFlags   events,
                                GError        **error)
{
  EvlEpollSelector *self = EVL_EPOLL_SELECTOR (selector);

  if (!check_epfd (self, error))
    return FALSE;

  if (epoll_ctl_fd (self, EPOLL_CTL_ADD, fd, events) == 0)
    return TRUE;
  /* Still in the epoll set from an earlier life (a duplicate kept the
   * open file alive): take it over. */
  if (errno == EEXIST && epoll_ctl_fd (self, EPOLL_CTL_MOD, fd, events) == 0)
    return TRUE;

  set_ctl_error (error, fd, errno);
  return FALSE;
}

static gboolean
evl_epoll_selector_modify_fd (EvlSelector    *selector,
                              int             fd,
                              EvlEventFlags   old_events,
                              EvlEventFlags   events,
                              GError        **error)
{
  EvlEpollSelector *self = EVL_EPOLL_SELECTOR (selector);

  if (!check_epfd (self, error))
    return FALSE;

  if (epoll_ctl_fd (self, EPOLL_CTL_MOD, fd, events) == 0)
    return TRUE;
  /* The fd was closed (which removed it from the epoll set) and its
   * number reused: register the new file. */
  if (errno == ENOENT && epoll_ctl_fd (self, EPOLL_CTL_ADD, fd, events) == 0)
    return TRUE;

  set_ctl_error (error, fd, errno);
  return FALSE;
}

static void
evl_epoll_selector_unregister_fd (EvlSelector   *selector,
                                  int            fd,
                                  EvlEventFlags  old_events)
{
  EvlEpollSelector *self = EVL_EPOLL_SELECTOR (selector);
  int errsv;

  if (self->epfd < 0)
    return;
  if (epoll_ctl (self->epfd, EPOLL_CTL_DEL, fd, NULL) == 0)
    return;

  /* EBADF, ENOENT: the fd was closed already (closing removed it);
   * EPERM: its number now belongs to a file epoll cannot watch. */
  errsv = errno;
  if (errsv != EBADF && errsv != ENOENT && errsv != EPERM)
    g_debug ("epoll_ctl (EPOLL_CTL_DEL, %d): %s", fd, g_strerror (errsv));
}

static int
wait_ns (EvlEpollSelector *self,
         int               max_events,
         gint64            timeout_ns)
{
  int timeout_ms;

#ifdef HAVE_EPOLL_PWAIT2
  if (!self->no_pwait2)
    {
      struct timespec ts;
      int n;

      if (timeout_ns >= 0)
        {
          ts.tv_sec = timeout_ns / 1000000000;
          ts.tv_nsec = timeout_ns % 1000000000;
        }
      n = epoll_pwait2 (self->epfd, self->buf, max_events,
                        timeout_ns >= 0 ? &ts : NULL, NULL);
      /* ENOSYS: kernel older than 5.11; EPERM: a seccomp filter that does
       * not know the system call (epoll_pwait2 never fails with EPERM
       * otherwise). Fall back to epoll_wait() for good. */
      if (n >= 0 || (errno != ENOSYS && errno != EPERM))
        return n;
      self->no_pwait2 = TRUE;
    }
#endif

  /* Millisecond resolution: round up, never wake before the timeout. */
  if (timeout_ns < 0)
    timeout_ms = -1;
  else if (timeout_ns >= (gint64) INT_MAX * 1000000)
    timeout_ms = INT_MAX;
  else
    timeout_ms = (int) ((timeout_ns + 999999) / 1000000);

  return epoll_wait (self->epfd, self->buf, max_events, timeout_ms);
}

static int
evl_epoll_selector_select (EvlSelector       *selector,
                           gint64             timeout_ns,
                           EvlSelectorEvent  *events,
                           guint              n_events,
                           GError           **error)
{
  EvlEpollSelector *self = EVL_EPOLL_SELECTOR (selector);
  guint max_events;
  int n;

  if (!check_epfd (self, error))
    return -1;

  /* epoll reports each registered fd at most once. */
  max_events = MAX (evl_selector_get_n_keys (selector), 1);
  max_events = MIN (max_events, n_events);
  max_events = MIN (max_events, INT_MAX / sizeof (struct epoll_event));
  if (self->buf_len < max_events)
    {
      self->buf = g_renew (struct epoll_event, self->buf, max_events);
      self->buf_len = max_events;
    }

  n = wait_ns (self, (int) max_events, timeout_ns);
  if (n < 0)
    {
      int errsv = errno;

      if (errsv == EINTR)
        return 0;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                   _("Could not wait for file descriptors with epoll: %s"),
                   g_strerror (errsv));
      return -1;
    }

  for (int i = 0; i < n; i++)
    {
      guint32 ev = self->buf[i].events;
      int fd = self->buf[i].data.fd;
      guint ready = 0;

      if (ev & EPOLLIN)
        ready |= EVL_IO_READ;
      if (ev & EPOLLOUT)
        ready |= EVL_IO_WRITE;
      if (ev & (EPOLLERR | EPOLLHUP))
        {
          EvlEventFlags interest;

          /* Let the callbacks of every interest see the failure. */
          if (!evl_selector_get_key (selector, fd, &interest, NULL))
            interest = EVL_EVENT_READ | EVL_EVENT_WRITE;
          ready |= interest;
          if (ev & EPOLLERR)
            ready |= EVL_IO_ERROR;
          if (ev & EPOLLHUP)
            ready |= EVL_IO_HUP;
        }

      events[i].fd = fd;
      events[i].events = ready;
      events[i].data = NULL;
    }

  return n;
}

static int
evl_epoll_selector_get_fd (EvlSelector *selector)
{
  return EVL_EPOLL_SELECTOR (selector)->epfd;
}

static gboolean
evl_epoll_selector_initable_init (GInitable     *initable,
                                  GCancellable  *cancellable,
                                  GError       **error)
{
  return check_epfd (EVL_EPOLL_SELECTOR (initable), error);
}

static void
evl_epoll_selector_initable_iface_init (GInitableIface *iface)
{
  iface->init = evl_epoll_selector_initable_init;
}

static void
evl_epoll_selector_finalize (GObject *object)
{
  EvlEpollSelector *self = EVL_EPOLL_SELECTOR (object);

  if (self->epfd >= 0)
    {
      close (self->epfd);
      self->epfd = -1;
    }
  g_clear_pointer (&self->buf, g_free);
  self->buf_len = 0;

  G_OBJECT_CLASS (evl_epoll_selector_parent_class)->finalize (object);
}

static void
evl_epoll_selector_class_init (EvlEpollSelectorClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  EvlSelectorClass *selector_class = EVL_SELECTOR_CLASS (klass);

  object_class->finalize = evl_epoll_selector_finalize;

  selector_class->register_fd = evl_epoll_selector_register_fd;
  selector_class->modify_fd = evl_epoll_selector_modify_fd;
  selector_class->unregister_fd = evl_epoll_selector_unregister_fd;
  selector_class->select = evl_epoll_selector_select;
  selector_class->get_fd = evl_epoll_selector_get_fd;

  evl_selector_class_set_name (selector_class, "epoll");
}

static void
evl_epoll_selector_init (EvlEpollSelector *self)
{
  /* Created here rather than in GInitable::init so that an instance made
   * with g_object_new() (as some bindings do) works too; init() reports
   * the failure. */
  self->epfd = epoll_create1 (EPOLL_CLOEXEC);
  if (self->epfd < 0)
    self->create_errno = errno;
#ifndef HAVE_EPOLL_PWAIT2
  self->no_pwait2 = TRUE;
#endif
}

/**
 * evl_epoll_selector_new:
 * @error: return location for a #GError
 *
 * Creates a new epoll selector.
 *
 * Returns: (transfer full): a new selector, or %NULL with @error set (a
 *   `G_IO_ERROR` when the system cannot create an epoll instance, for
 *   instance because the process has too many open files)
 */
EvlSelector *
evl_epoll_selector_new (GError **error)
{
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return g_initable_new (EVL_TYPE_EPOLL_SELECTOR, NULL, error, NULL);
}
