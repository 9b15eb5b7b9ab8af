/* evl-select-selector-win32.c: the select selector on Windows
 *
 * Winsock's fd_set is not a bitmap but a counted array of SOCKETs, and
 * select() reads as many entries as the count says: FD_SETSIZE (64) only
 * sizes the struct that <winsock2.h> declares. The sets here are allocated
 * to the number of watched sockets, so there is no 64 (or asyncio's 512)
 * socket limit; each wait costs time proportional to that number.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "evl-config.h"

#include "evl-winsock-wait-private.h"
#include "evl-selector-private.h"
#include "evl-loop-private.h"

/**
 * EvlSelectSelector:
 *
 * A selector that uses select(2), like Python's `selectors.SelectSelector`.
 * It is the most portable selector, but only watches file descriptors below
 * `FD_SETSIZE` (usually 1024): registering a larger one fails with
 * [error@Evl.LoopError.NOT_SUPPORTED]. On Windows it watches sockets only
 * (the `fd` is a `SOCKET`), with no limit on their number.
 */

/* A Winsock fd_set of any size. */
typedef struct
{
  u_int  fd_count;
  SOCKET fd_array[];
} EvlFdSet;

struct _EvlSelectSelector
{
  EvlSelector     parent_instance;

  EvlFdSet       *read_set;  /* scratch, sized to the sockets */
  EvlFdSet       *write_set;
  EvlFdSet       *except_set;
  guint           sets_alloc;
  int             select_error;  /* of the last failed select() */
  EvlWinsockWait  wait;      /* the sockets (EvlEventFlags entries), the HANDLEs */
};

G_DEFINE_FINAL_TYPE (EvlSelectSelector, evl_select_selector, EVL_TYPE_SELECTOR)

static gboolean
evl_select_selector_register_fd (EvlSelector    *selector,
                                 int             fd,
                                 EvlEventFlags   events,
                                 GError        **error)
{
  EvlSelectSelector *self = EVL_SELECT_SELECTOR (selector);
  EvlEventFlags *watched;

  if (!evl_winsock_wait_register (&self->wait, fd, events, (gpointer *) &watched, error))
    return FALSE;
  if (watched != NULL)
    *watched = events;
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
  EvlEventFlags *watched = evl_winsock_wait_modify (&self->wait, fd, events);

  if (watched != NULL)
    *watched = events;
  return TRUE;
}

static void
evl_select_selector_unregister_fd (EvlSelector   *selector,
                                   int            fd,
                                   EvlEventFlags  old_events)
{
  evl_winsock_wait_unregister (&EVL_SELECT_SELECTOR (selector)->wait, fd);
}

static gboolean
in_set (const EvlFdSet *set,
        SOCKET          fd)
{
  /* __WSAFDIsSet() is what FD_ISSET() expands to; it takes a fd_set. */
  return __WSAFDIsSet (fd, (fd_set *) set) != 0;
}

static void
fill_sets (EvlSelectSelector *self)
{
  guint n = self->wait.sockets.n;

  if (n > self->sets_alloc)
    {
      self->sets_alloc = MAX (n, self->sets_alloc * 2);
      self->read_set = g_realloc (self->read_set, sizeof (EvlFdSet) + self->sets_alloc * sizeof (SOCKET));
      self->write_set = g_realloc (self->write_set, sizeof (EvlFdSet) + self->sets_alloc * sizeof (SOCKET));
      self->except_set = g_realloc (self->except_set, sizeof (EvlFdSet) + self->sets_alloc * sizeof (SOCKET));
    }
  self->read_set->fd_count = self->write_set->fd_count = self->except_set->fd_count = 0;
  for (guint i = 0; i < n; i++)
    {
      const EvlEventFlags *watched = evl_fd_table_entry (&self->wait.sockets, i);
      SOCKET fd = (SOCKET) self->wait.sockets.fds[i];

      if (*watched & EVL_EVENT_READ)
        self->read_set->fd_array[self->read_set->fd_count++] = fd;
      if (*watched & EVL_EVENT_WRITE)
        self->write_set->fd_array[self->write_set->fd_count++] = fd;
      /* Errors come in exceptfds: a failed non-blocking connect(), and
       * under Wine 8 the ICMP error of a connected UDP socket, which is
       * never in readfds there (its recv() says WSAEWOULDBLOCK and SO_ERROR
       * holds it). Every interest sees them, as with the WSAPoll
       * selector's POLLERR. (exceptfds also reports TCP out-of-band data,
       * which nothing here sends or expects.) */
      if (*watched & (EVL_EVENT_READ | EVL_EVENT_WRITE))
        self->except_set->fd_array[self->except_set->fd_count++] = fd;
    }
}

/* An EvlWinsockPollFunc: select() of the watched sockets (the sets are
 * filled again each time: select() changes them); 0 when no socket is
 * watched for anything. A failure leaves the Winsock error in
 * self->select_error. */
static int
select_ms (gpointer   data,
           int        timeout_ms,
           GError   **error)
{
  EvlSelectSelector *self = data;
  struct timeval tv;
  int r;

  fill_sets (self);
  if (self->read_set->fd_count + self->write_set->fd_count == 0)
    {
      if (timeout_ms != 0)
        evl_winsock_wait_block (&self->wait, timeout_ms < 0 ? -1 : (gint64) timeout_ms * 1000000);
      return 0;
    }
  if (timeout_ms >= 0)
    {
      tv.tv_sec = timeout_ms / 1000;
      tv.tv_usec = (timeout_ms % 1000) * 1000;
    }
  r = select (0, (fd_set *) self->read_set, (fd_set *) self->write_set,
              (fd_set *) self->except_set, timeout_ms >= 0 ? &tv : NULL);
  if (r < 0)
    self->select_error = WSAGetLastError ();
  return r;
}

static int
evl_select_selector_select (EvlSelector       *selector,
                            gint64             timeout_ns,
                            EvlSelectorEvent  *events,
                            guint              n_events,
                            GError           **error)
{
  EvlSelectSelector *self = EVL_SELECT_SELECTOR (selector);
  guint n = 0, len, i;
  int r;

  r = evl_winsock_wait_select (&self->wait, timeout_ns, select_ms, self,
                               events, n_events, &n, NULL);
  if (r < 0)
    {
      int code = self->select_error;
      char *msg;

      if (code == WSAENOTSOCK)
        {
          /* A watched socket was closed: report each closed one as an
           * error to every interest, as the Unix select selector does. */
          for (i = 0; i < self->wait.sockets.n && n < n_events; i++)
            {
              const EvlEventFlags *watched = evl_fd_table_entry (&self->wait.sockets, i);

              if (!evl_os_fd_is_open (self->wait.sockets.fds[i]))
                {
                  events[n].fd = self->wait.sockets.fds[i];
                  events[n].events = *watched | EVL_IO_ERROR;
                  events[n].data = NULL;
                  n++;
                }
            }
          evl_winsock_wait_done (&self->wait, n > 0);
          return (int) n;
        }
      msg = g_win32_error_message (code);
      g_set_error (error, G_IO_ERROR, g_io_error_from_win32_error (code),
                   _("Could not wait for file descriptors with select: %s"), msg);
      g_free (msg);
      return -1;
    }
  if (r == 0 || n == n_events)
    {
      evl_winsock_wait_done (&self->wait, n > 0);
      return (int) n;
    }

  len = self->wait.sockets.n;
  i = evl_fd_table_scan_start (&self->wait.sockets);
  for (guint k = 0; k < len && n < n_events; k++)
    {
      EvlEventFlags watched = *(const EvlEventFlags *) evl_fd_table_entry (&self->wait.sockets, i);
      int fd = self->wait.sockets.fds[i];
      EvlEventFlags ready = 0;

      i = evl_fd_table_next (&self->wait.sockets, i);
      if ((watched & EVL_EVENT_READ) && in_set (self->read_set, (SOCKET) fd))
        ready |= EVL_EVENT_READ;
      if ((watched & EVL_EVENT_WRITE) && in_set (self->write_set, (SOCKET) fd))
        ready |= EVL_EVENT_WRITE;
      if ((watched & (EVL_EVENT_READ | EVL_EVENT_WRITE)) && in_set (self->except_set, (SOCKET) fd))
        ready |= watched | EVL_IO_ERROR;
      if (ready == 0)
        continue;
      events[n].fd = fd;
      events[n].events = ready;
      events[n].data = NULL;
      n++;
    }
  self->wait.sockets.start = i;
  evl_winsock_wait_done (&self->wait, n > 0);
  return (int) n;
}

static int
evl_select_selector_get_fd (EvlSelector *selector)
{
  return evl_winsock_wait_get_fd (&EVL_SELECT_SELECTOR (selector)->wait);
}

static void
evl_select_selector_finalize (GObject *object)
{
  EvlSelectSelector *self = EVL_SELECT_SELECTOR (object);

  g_clear_pointer (&self->read_set, g_free);
  g_clear_pointer (&self->write_set, g_free);
  g_clear_pointer (&self->except_set, g_free);
  evl_winsock_wait_clear (&self->wait);

  G_OBJECT_CLASS (evl_select_selector_parent_class)->finalize (object);
}

static void
evl_select_selector_class_init (EvlSelectSelectorClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  EvlSelectorClass *selector_class = EVL_SELECTOR_CLASS (klass);

  object_class->finalize = evl_select_selector_finalize;

  selector_class->register_fd = evl_select_selector_register_fd;
  selector_class->modify_fd = evl_select_selector_modify_fd;
  selector_class->unregister_fd = evl_select_selector_unregister_fd;
  selector_class->select = evl_select_selector_select;
  selector_class->get_fd = evl_select_selector_get_fd;

  evl_selector_class_set_name (selector_class, "select");
}

static void
evl_select_selector_init (EvlSelectSelector *self)
{
  self->sets_alloc = 16;
  self->read_set = g_malloc (sizeof (EvlFdSet) + self->sets_alloc * sizeof (SOCKET));
  self->write_set = g_malloc (sizeof (EvlFdSet) + self->sets_alloc * sizeof (SOCKET));
  self->except_set = g_malloc (sizeof (EvlFdSet) + self->sets_alloc * sizeof (SOCKET));
  evl_winsock_wait_init (&self->wait, sizeof (EvlEventFlags));
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
