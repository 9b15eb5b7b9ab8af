/* evl-select-selector.c: the select selector
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "evl-config.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/select.h>
#include <time.h>

#include "evl-selector-private.h"
#include "evl-loop-private.h"

/**
 * EvlSelectSelector:
 *
 * A selector that uses select(2), like Python's `selectors.SelectSelector`.
 * It is the most portable selector, but only watches file descriptors below
 * `FD_SETSIZE` (usually 1024): registering a larger one fails with
 * [error@Evl.LoopError.NOT_SUPPORTED].
 */

struct _EvlSelectSelector
{
  EvlSelector parent_instance;

  fd_set      read_fds;
  fd_set      write_fds;
  int         max_fd;    /* highest registered fd, -1 if none */
  int         start;     /* where the next scan of the results begins */
};

G_DEFINE_FINAL_TYPE (EvlSelectSelector, evl_select_selector, EVL_TYPE_SELECTOR)

static void
set_fd_events (EvlSelectSelector *self,
               int                fd,
               EvlEventFlags      events)
{
  if (events & EVL_EVENT_READ)
    FD_SET (fd, &self->read_fds);
  else
    FD_CLR (fd, &self->read_fds);

  if (events & EVL_EVENT_WRITE)
    FD_SET (fd, &self->write_fds);
  else
    FD_CLR (fd, &self->write_fds);
}

static EvlEventFlags
get_fd_events (const fd_set *read_fds,
               const fd_set *write_fds,
               int           fd)
{
  EvlEventFlags events = 0;

  if (FD_ISSET (fd, read_fds))
    events |= EVL_EVENT_READ;
  if (FD_ISSET (fd, write_fds))
    events |= EVL_EVENT_WRITE;
  return events;
}

static gboolean
evl_select_selector_register_fd (EvlSelector    *selector,
                                 int             fd,
                                 EvlEventFlags   events,
                                 GError        **error)
{
  EvlSelectSelector *self = EVL_SELECT_SELECTOR (selector);

  if (fd >= FD_SETSIZE)
    {
      g_set_error (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_NOT_SUPPORTED,
                   _("File descriptor %d is too large for the select "
                     "selector, which only watches file descriptors below "
                     "%d; use the epoll or poll selector instead"),
                   fd, (int) FD_SETSIZE);
      return FALSE;
    }

  set_fd_events (self, fd, events);
  self->max_fd = MAX (self->max_fd, fd);
  return TRUE;
}

static gboolean
evl_select_selector_modify_fd (EvlSelector    *selector,
                               int             fd,
                               EvlEventFlags   old_events,
                               EvlEventFlags   events,
                               GError        **error)
{
  EvlSelectSelector *self = EVL_SELECT_SELECTOR (selector);

  g_return_val_if_fail (fd < FD_SETSIZE, FALSE);

  set_fd_events (self, fd, events);
  return TRUE;
}

static void
evl_select_selector_unregister_fd (EvlSelector   *selector,
                                   int            fd,
                                   EvlEventFlags  old_events)
{
  EvlSelectSelector *self = EVL_SELECT_SELECTOR (selector);

  g_return_if_fail (fd < FD_SETSIZE);

  set_fd_events (self, fd, 0);
  while (self->max_fd >= 0 &&
         get_fd_events (&self->read_fds, &self->write_fds, self->max_fd) == 0)
    self->max_fd--;
}

/* Adds the fds set in @read_fds/@write_fds (@n_set bits in all) to @events
 * after the first @n, up to @n_events. The scan begins where the last one
 * stopped, so that a small @events array does not starve the high fds. */
static guint
collect_ready (EvlSelectSelector *self,
               const fd_set      *read_fds,
               const fd_set      *write_fds,
               int                n_set,
               EvlSelectorEvent  *events,
               guint              n,
               guint              n_events)
{
  int nfds = self->max_fd + 1;
  int fd;

  if (nfds <= 0)
    return n;

  fd = self->start < nfds ? self->start : 0;
  for (int k = 0; k < nfds && n_set > 0 && n < n_events; k++)
    {
      int cur = fd;
      EvlEventFlags ready;

      fd = fd + 1 < nfds ? fd + 1 : 0;
      ready = get_fd_events (read_fds, write_fds, cur);
      if (ready == 0)
        continue;
      n_set -= (ready & EVL_EVENT_READ) ? 1 : 0;
      n_set -= (ready & EVL_EVENT_WRITE) ? 1 : 0;

      events[n].fd = cur;
      events[n].events = ready;
      events[n].data = NULL;
      n++;
    }
  self->start = fd;

  return n;
}

/* pselect() failed with EBADF: some registered fd was closed. Report every
 * closed fd as ready (its interest + ERROR) so that its owner notices, and
 * poll the others without blocking so that they are not starved. */
static guint
select_with_closed_fds (EvlSelectSelector *self,
                        EvlSelectorEvent  *events,
                        guint              n_events)
{
  fd_set read_fds = self->read_fds;
  fd_set write_fds = self->write_fds;
  gboolean any_open = FALSE;
  guint n = 0;

  for (int fd = 0; fd <= self->max_fd; fd++)
    {
      EvlEventFlags interest = get_fd_events (&self->read_fds,
                                              &self->write_fds, fd);

      if (interest == 0)
        continue;
      if (fcntl (fd, F_GETFD) != -1 || errno != EBADF)
        {
          any_open = TRUE;
          continue;
        }

      FD_CLR (fd, &read_fds);
      FD_CLR (fd, &write_fds);
      if (n < n_events)
        {
          events[n].fd = fd;
          events[n].events = interest | EVL_IO_ERROR;
          events[n].data = NULL;
          n++;
        }
    }

  if (any_open && n < n_events)
    {
      struct timespec zero = { 0, 0 };
      int r;

      r = pselect (self->max_fd + 1, &read_fds, &write_fds, NULL, &zero, NULL);
      if (r > 0)
        n = collect_ready (self, &read_fds, &write_fds, r, events, n, n_events);
    }

  return n;
}

static int
evl_select_selector_select (EvlSelector       *selector,
                            gint64             timeout_ns,
                            EvlSelectorEvent  *events,
                            guint              n_events,
                            GError           **error)
{
  EvlSelectSelector *self = EVL_SELECT_SELECTOR (selector);
  fd_set read_fds = self->read_fds;
  fd_set write_fds = self->write_fds;
  struct timespec ts;
  int r;

  if (timeout_ns >= 0)
    {
      ts.tv_sec = timeout_ns / 1000000000;
      ts.tv_nsec = timeout_ns % 1000000000;
    }

  r = pselect (self->max_fd + 1, &read_fds, &write_fds, NULL,
               timeout_ns >= 0 ? &ts : NULL, NULL);
  if (r < 0)
    {
      int errsv = errno;

      if (errsv == EINTR)
        return 0;
      if (errsv == EBADF)
        return (int) select_with_closed_fds (self, events, n_events);
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                   _("Could not wait for file descriptors with select: %s"),
                   g_strerror (errsv));
      return -1;
    }
  if (r == 0)
    return 0;

  return (int) collect_ready (self, &read_fds, &write_fds, r,
                              events, 0, n_events);
}

static void
evl_select_selector_class_init (EvlSelectSelectorClass *klass)
{
  EvlSelectorClass *selector_class = EVL_SELECTOR_CLASS (klass);

  selector_class->register_fd = evl_select_selector_register_fd;
  selector_class->modify_fd = evl_select_selector_modify_fd;
  selector_class->unregister_fd = evl_select_selector_unregister_fd;
  selector_class->select = evl_select_selector_select;
  /* get_fd: none, the base class returns -1 */

  evl_selector_class_set_name (selector_class, "select");
}

static void
evl_select_selector_init (EvlSelectSelector *self)
{
  FD_ZERO (&self->read_fds);
  FD_ZERO (&self->write_fds);
  self->max_fd = -1;
}

/**
 * evl_select_selector_new:
 *
 * Creates a new select selector.
 *
 * Returns: (transfer full): a new selector
 */
EvlSelector *
evl_select_selector_new (void)
{
  return g_object_new (EVL_TYPE_SELECT_SELECTOR, NULL);
}
