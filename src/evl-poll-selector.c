/* evl-poll-selector.c: the poll selector
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "evl-config.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <time.h>

#include "evl-fd-table-private.h"
#include "evl-selector-private.h"
#include "evl-loop-private.h"

/**
 * EvlPollSelector:
 *
 * A selector that uses poll(2), like Python's `selectors.PollSelector`.
 * It is available on every POSIX system and has no limit on file
 * descriptor numbers; each wait costs time proportional to the number of
 * registered file descriptors.
 */

struct _EvlPollSelector
{
  EvlSelector    parent_instance;

  EvlFdTable     table;      /* of struct pollfd */
};

G_DEFINE_FINAL_TYPE (EvlPollSelector, evl_poll_selector, EVL_TYPE_SELECTOR)

static short
to_poll_events (EvlEventFlags events)
{
  short ev = 0;

  if (events & EVL_EVENT_READ)
    ev |= POLLIN;
  if (events & EVL_EVENT_WRITE)
    ev |= POLLOUT;
  return ev;
}

static gboolean
evl_poll_selector_register_fd (EvlSelector    *selector,
                               int             fd,
                               EvlEventFlags   events,
                               GError        **error)
{
  EvlPollSelector *self = EVL_POLL_SELECTOR (selector);
  struct pollfd *pfd = evl_fd_table_add (&self->table, fd);

  pfd->fd = fd;
  pfd->events = to_poll_events (events);
  pfd->revents = 0;
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
  struct pollfd *pfd = evl_fd_table_lookup (&self->table, fd);

  g_return_val_if_fail (pfd != NULL, FALSE);
  pfd->events = to_poll_events (events);
  return TRUE;
}

static void
evl_poll_selector_unregister_fd (EvlSelector   *selector,
                                 int            fd,
                                 EvlEventFlags  old_events)
{
  EvlPollSelector *self = EVL_POLL_SELECTOR (selector);

  /* Not inside g_return_if_fail(): G_DISABLE_CHECKS would drop the
   * removal with the check. */
  if (!evl_fd_table_remove (&self->table, fd))
    g_return_if_reached ();
}

static int
poll_ns (EvlPollSelector *self,
         gint64           timeout_ns)
{
#ifdef HAVE_PPOLL
  struct timespec ts;

  if (timeout_ns >= 0)
    {
      ts.tv_sec = timeout_ns / 1000000000;
      ts.tv_nsec = timeout_ns % 1000000000;
    }
  return ppoll ((struct pollfd *) self->table.entries, self->table.n,
                timeout_ns >= 0 ? &ts : NULL, NULL);
#else
  int timeout_ms;

  /* Millisecond resolution: round up, never wake before the timeout. */
  if (timeout_ns < 0)
    timeout_ms = -1;
  else if (timeout_ns >= (gint64) INT_MAX * 1000000)
    timeout_ms = INT_MAX;
  else
    timeout_ms = (int) ((timeout_ns + 999999) / 1000000);
  return poll ((struct pollfd *) self->table.entries, self->table.n, timeout_ms);
#endif
}

static int
evl_poll_selector_select (EvlSelector       *selector,
                          gint64             timeout_ns,
                          EvlSelectorEvent  *events,
                          guint              n_events,
                          GError           **error)
{
  EvlPollSelector *self = EVL_POLL_SELECTOR (selector);
  int r;

  r = poll_ns (self, timeout_ns);
  if (r < 0)
    {
      int errsv = errno;

      if (errsv == EINTR)
        return 0;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                   _("Could not wait for file descriptors with poll: %s"),
                   g_strerror (errsv));
      return -1;
    }
  if (r == 0 || self->table.n == 0)
    return 0;

  return (int) evl_fd_table_collect_polled (&self->table,
                                            G_STRUCT_OFFSET (struct pollfd, events),
                                            G_STRUCT_OFFSET (struct pollfd, revents),
                                            (guint) r, events, 0, n_events);
}

static void
evl_poll_selector_finalize (GObject *object)
{
  EvlPollSelector *self = EVL_POLL_SELECTOR (object);

  evl_fd_table_clear (&self->table);

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
  /* get_fd: none, the base class returns -1 */

  evl_selector_class_set_name (selector_class, "poll");
}

static void
evl_poll_selector_init (EvlPollSelector *self)
{
  evl_fd_table_init (&self->table, sizeof (struct pollfd));
}

/**
 * evl_poll_selector_new:
 *
 * Creates a new poll selector.
 *
 * Returns: (transfer full): a new selector
 */
EvlSelector *
evl_poll_selector_new (void)
{
  return g_object_new (EVL_TYPE_POLL_SELECTOR, NULL);
}
