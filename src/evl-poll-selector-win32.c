/* evl-poll-selector-win32.c: the poll selector on Windows (WSAPoll)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "evl-config.h"

#include "evl-winsock-wait-private.h"
#include "evl-selector-private.h"
#include "evl-loop-private.h"

/**
 * EvlPollSelector:
 *
 * A selector that uses poll(2), like Python's `selectors.PollSelector`.
 * It is available on every POSIX system and has no limit on file
 * descriptor numbers; each wait costs time proportional to the number of
 * registered file descriptors. On Windows it uses `WSAPoll()` and watches
 * sockets only (the `fd` is a `SOCKET`), with no limit on their number.
 */

struct _EvlPollSelector
{
  EvlSelector     parent_instance;

  EvlWinsockWait  wait;       /* the sockets (WSAPOLLFD entries), the HANDLEs */
};

G_DEFINE_FINAL_TYPE (EvlPollSelector, evl_poll_selector, EVL_TYPE_SELECTOR)

static short
to_poll_events (EvlEventFlags events)
{
  short ev = 0;

  /* WSAPoll refuses POLLPRI and friends in events: only these two. */
  if (events & EVL_EVENT_READ)
    ev |= POLLRDNORM;
  if (events & EVL_EVENT_WRITE)
    ev |= POLLWRNORM;
  return ev;
}

static gboolean
evl_poll_selector_register_fd (EvlSelector    *selector,
                               int             fd,
                               EvlEventFlags   events,
                               GError        **error)
{
  EvlPollSelector *self = EVL_POLL_SELECTOR (selector);
  WSAPOLLFD *pfd;

  if (!evl_winsock_wait_register (&self->wait, fd, events, (gpointer *) &pfd, error))
    return FALSE;
  if (pfd != NULL)
    {
      pfd->fd = (SOCKET) fd;
      pfd->events = to_poll_events (events);
      pfd->revents = 0;
    }
  return TRUE;
}

static gboolean
evl_poll_selector_modify_fd (EvlSelector    *selector,
                             int             fd,
                             EvlEventFlags   old_events,
                             EvlEventFlags   events,
                             GError        **error)
{
  EvlPollSelector *self = EVL_POLL_SELECTOR (selector);
  WSAPOLLFD *pfd = evl_winsock_wait_modify (&self->wait, fd, events);

  if (pfd != NULL)
    pfd->events = to_poll_events (events);
  return TRUE;
}

static void
evl_poll_selector_unregister_fd (EvlSelector   *selector,
                                 int            fd,
                                 EvlEventFlags  old_events)
{
  evl_winsock_wait_unregister (&EVL_POLL_SELECTOR (selector)->wait, fd);
}

/* An EvlWinsockPollFunc. */
static int
poll_ms (gpointer   data,
         int        timeout_ms,
         GError   **error)
{
  EvlPollSelector *self = data;
  int r;

  r = WSAPoll ((WSAPOLLFD *) self->wait.sockets.entries, self->wait.sockets.n, timeout_ms);
  if (r < 0)
    {
      int code = WSAGetLastError ();
      char *msg = g_win32_error_message (code);

      g_set_error (error, G_IO_ERROR, g_io_error_from_win32_error (code),
                   _("Could not wait for file descriptors with poll: %s"), msg);
      g_free (msg);
    }
  return r;
}

static int
evl_poll_selector_select (EvlSelector       *selector,
                          gint64             timeout_ns,
                          EvlSelectorEvent  *events,
                          guint              n_events,
                          GError           **error)
{
  EvlPollSelector *self = EVL_POLL_SELECTOR (selector);
  guint n = 0;
  int r;

  r = evl_winsock_wait_select (&self->wait, timeout_ns, poll_ms, self,
                               events, n_events, &n, error);
  if (r < 0)
    return -1;
  if (r == 0 || self->wait.sockets.n == 0 || n == n_events)
    {
      evl_winsock_wait_done (&self->wait, n > 0);
      return (int) n;
    }

  n = evl_fd_table_collect_polled (&self->wait.sockets,
                                   G_STRUCT_OFFSET (WSAPOLLFD, events),
                                   G_STRUCT_OFFSET (WSAPOLLFD, revents),
                                   (guint) r, events, n, n_events);
  evl_winsock_wait_done (&self->wait, n > 0);

  return (int) n;
}

static int
evl_poll_selector_get_fd (EvlSelector *selector)
{
  return evl_winsock_wait_get_fd (&EVL_POLL_SELECTOR (selector)->wait);
}

static void
evl_poll_selector_finalize (GObject *object)
{
  EvlPollSelector *self = EVL_POLL_SELECTOR (object);

  evl_winsock_wait_clear (&self->wait);

  G_OBJECT_CLASS (evl_poll_selector_parent_class)->finalize (object);
}

static void
evl_poll_selector_class_init (EvlPollSelectorClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  EvlSelectorClass *selector_class = EVL_SELECTOR_CLASS (klass);

  object_class->finalize = evl_poll_selector_finalize;

  selector_class->register_fd = evl_poll_selector_register_fd;
  selector_class->modify_fd = evl_poll_selector_modify_fd;
  selector_class->unregister_fd = evl_poll_selector_unregister_fd;
  selector_class->select = evl_poll_selector_select;
  selector_class->get_fd = evl_poll_selector_get_fd;

  evl_selector_class_set_name (selector_class, "poll");
}

static void
evl_poll_selector_init (EvlPollSelector *self)
{
  evl_winsock_wait_init (&self->wait, sizeof (WSAPOLLFD));
}

/**
 * evl_poll_selector_new:
 *
 * Creates a poll selector.
 *
 * Returns: (transfer full): a new [class@Evl.PollSelector]
 */
EvlSelector *
evl_poll_selector_new (void)
{
  return g_object_new (EVL_TYPE_POLL_SELECTOR, NULL);
}
