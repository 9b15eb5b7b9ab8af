/* evl-winsock-wait.c: the event the Windows selectors tie their sockets to
 *
 * See evl-winsock-wait-private.h.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "evl-config.h"

#include "evl-winsock-wait-private.h"
#include "evl-loop-private.h"

/* What ties a socket to the event: FD_WRITE and FD_CONNECT only while it
 * is watched for writing. Wine 8 sets the event again on every select()
 * or WSAPoll() of a writable socket tied with FD_WRITE, so a loop inside
 * GLib never let GLib block (it spun); Windows records FD_WRITE once, at
 * the tie if the socket is writable then, and after a send that would
 * block. */
#define EVL_WINSOCK_READ_EVENTS (FD_READ | FD_OOB | FD_ACCEPT | FD_CLOSE)
#define EVL_WINSOCK_WRITE_EVENTS (FD_WRITE | FD_CONNECT)

typedef struct
{
  HANDLE        handle;
  EvlEventFlags events;
} WatchedHandle;

static gboolean
is_socket (int fd)
{
  int type = 0;
  int len = sizeof type;
  int saved = WSAGetLastError ();
  gboolean is_socket;

  is_socket = getsockopt ((SOCKET) fd, SOL_SOCKET, SO_TYPE, (char *) &type, &len) == 0;
  WSASetLastError (saved);
  return is_socket;
}

static int
find_handle (EvlWinsockWait *wait,
             int             fd)
{
  for (guint i = 0; i < wait->handles->len; i++)
    if (g_array_index (wait->handles, WatchedHandle, i).handle == (HANDLE) (gintptr) fd)
      return (int) i;
  return -1;
}

static gboolean
add_handle (EvlWinsockWait *wait,
            int             fd,
            EvlEventFlags   events,
            GError        **error)
{
  WatchedHandle w = { (HANDLE) (gintptr) fd, events };

  if (wait->handles->len >= EVL_WINSOCK_MAX_HANDLES)
    {
      g_set_error (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_NOT_SUPPORTED,
                   _("A selector on Windows watches at most %d HANDLEs that are not "
                     "sockets; use the proactor loop for more"),
                   (int) EVL_WINSOCK_MAX_HANDLES);
      return FALSE;
    }
  g_array_append_val (wait->handles, w);
  return TRUE;
}

static gboolean
modify_handle (EvlWinsockWait *wait,
               int             fd,
               EvlEventFlags   events)
{
  int i = find_handle (wait, fd);

  if (i < 0)
    return FALSE;
  g_array_index (wait->handles, WatchedHandle, i).events = events;
  return TRUE;
}

static gboolean
remove_handle (EvlWinsockWait *wait,
               int             fd)
{
  int i = find_handle (wait, fd);

  if (i < 0)
    return FALSE;
  g_array_remove_index_fast (wait->handles, (guint) i);
  return TRUE;
}

guint
evl_winsock_wait_collect_handles (EvlWinsockWait   *wait,
                                  EvlSelectorEvent *events,
                                  guint             n,
                                  guint             n_events)
{
  for (guint i = 0; i < wait->handles->len && n < n_events; i++)
    {
      const WatchedHandle *w = &g_array_index (wait->handles, WatchedHandle, i);
      DWORD r;

      if (!(w->events & EVL_EVENT_READ))
        continue;
      if (w->handle == wait->fired)
        {
          r = WAIT_OBJECT_0;
          wait->fired = NULL;
        }
      else
        r = WaitForSingleObject (w->handle, 0);
      if (r == WAIT_TIMEOUT)
        continue;
      events[n].fd = (int) (gintptr) w->handle;
      /* WAIT_FAILED: not a waitable HANDLE (any more). */
      events[n].events = r == WAIT_FAILED ? w->events | EVL_IO_ERROR : EVL_EVENT_READ;
      events[n].data = NULL;
      n++;
    }
  return n;
}

void
evl_winsock_wait_init (EvlWinsockWait *wait,
                       gsize           entry_size)
{
  g_networking_init ();
  evl_fd_table_init (&wait->sockets, entry_size);
  wait->handles = g_array_new (FALSE, FALSE, sizeof (WatchedHandle));
  wait->event = WSACreateEvent ();
  if (wait->event == WSA_INVALID_EVENT)
    wait->event = NULL;
}

static void
tie (EvlWinsockWait *wait,
     int             fd,
     EvlEventFlags   events)
{
  int saved = WSAGetLastError ();
  long mask = EVL_WINSOCK_READ_EVENTS;

  if (events & EVL_EVENT_WRITE)
    mask |= EVL_WINSOCK_WRITE_EVENTS;
  if (wait->event != NULL)
    WSAEventSelect ((SOCKET) fd, wait->event, mask);
  WSASetLastError (saved);
}

static void
untie (EvlWinsockWait *wait,
       int             fd)
{
  int saved = WSAGetLastError ();

  /* Fails harmlessly (WSAENOTSOCK) when the socket was closed already. */
  if (wait->event != NULL)
    WSAEventSelect ((SOCKET) fd, NULL, 0);
  WSASetLastError (saved);
}

void
evl_winsock_wait_clear (EvlWinsockWait *wait)
{
  for (guint i = 0; i < wait->sockets.n; i++)
    untie (wait, wait->sockets.fds[i]);
  evl_fd_table_clear (&wait->sockets);
  if (wait->event != NULL)
    WSACloseEvent (wait->event);
  wait->event = NULL;
  g_clear_pointer (&wait->handles, g_array_unref);
}

gboolean
evl_winsock_wait_register (EvlWinsockWait *wait,
                           int             fd,
                           EvlEventFlags   events,
                           gpointer       *entry,
                           GError        **error)
{
  *entry = NULL;
  if (!is_socket (fd))
    return add_handle (wait, fd, events, error);
  *entry = evl_fd_table_add (&wait->sockets, fd);
  tie (wait, fd, events);
  return TRUE;
}

gpointer
evl_winsock_wait_modify (EvlWinsockWait *wait,
                         int             fd,
                         EvlEventFlags   events)
{
  gpointer entry = evl_fd_table_lookup (&wait->sockets, fd);

  /* Not inside g_return_val_if_fail(): G_DISABLE_CHECKS would compile
   * the call out with the check. */
  if (entry == NULL && !modify_handle (wait, fd, events))
    g_return_val_if_reached (NULL);
  /* Tied again on every modify, also when the write interest did not
   * change: EvlSelector calls modify_fd for a kept registration whose
   * socket may have been closed and its value reused (see
   * evl_selector_modify()), and a new socket is tied to nothing. The loop
   * modifies only when a watch's events change, so the one call that a
   * "write bit flipped" test would save is READ|WRITE <-> WRITE. */
  if (entry != NULL)
    tie (wait, fd, events);
  return entry;
}

void
evl_winsock_wait_unregister (EvlWinsockWait *wait,
                             int             fd)
{
  if (evl_fd_table_remove (&wait->sockets, fd))
    untie (wait, fd);
  else if (!remove_handle (wait, fd))
    g_return_if_reached ();   /* the call outside the check: see _modify */
}

void
evl_winsock_wait_reset (EvlWinsockWait *wait)
{
  if (wait->event != NULL)
    ResetEvent (wait->event);
}

void
evl_winsock_wait_done (EvlWinsockWait *wait,
                       gboolean        reported)
{
  if (wait->event != NULL && reported)
    SetEvent (wait->event);
}

int
evl_winsock_timeout_ms (gint64 timeout_ns)
{
  if (timeout_ns < 0)
    return -1;
  if (timeout_ns >= (gint64) G_MAXINT * 1000000)
    return G_MAXINT;
  return (int) ((timeout_ns + 999999) / 1000000);
}

void
evl_winsock_wait_block (EvlWinsockWait *wait,
                        gint64          timeout_ns)
{
  int ms = evl_winsock_timeout_ms (timeout_ns);
  HANDLE all[MAXIMUM_WAIT_OBJECTS];
  DWORD n = 0;

  if (wait->event != NULL)
    all[n++] = wait->event;
  for (guint i = 0; i < wait->handles->len && n < MAXIMUM_WAIT_OBJECTS; i++)
    if (g_array_index (wait->handles, WatchedHandle, i).events & EVL_EVENT_READ)
      all[n++] = g_array_index (wait->handles, WatchedHandle, i).handle;
  /* The wait takes the signal of an auto-reset object (an auto-reset
   * event, a mutex...): remember which one it returned for, for
   * evl_winsock_wait_collect_handles(). */
  wait->fired = NULL;
  if (n > 0)
    {
      DWORD r = WaitForMultipleObjects (n, all, FALSE, ms < 0 ? INFINITE : (DWORD) ms);

      if (r < WAIT_OBJECT_0 + n && all[r - WAIT_OBJECT_0] != wait->event)
        wait->fired = all[r - WAIT_OBJECT_0];
    }
  else if (ms != 0)
    Sleep (ms < 0 ? INFINITE : (DWORD) ms);
}

int
evl_winsock_wait_get_fd (EvlWinsockWait *wait)
{
  /* A HANDLE value: what GLib's GPollFD.fd holds on Windows. */
  return wait->event != NULL ? (int) (gintptr) wait->event : -1;
}

int
evl_winsock_wait_select (EvlWinsockWait     *wait,
                         gint64              timeout_ns,
                         EvlWinsockPollFunc  poll_sockets,
                         gpointer            data,
                         EvlSelectorEvent   *events,
                         guint               n_events,
                         guint              *n_handles,
                         GError            **error)
{
  guint n_sockets = wait->sockets.n;
  guint n = 0;
  int r = 0;

  evl_winsock_wait_reset (wait);
  if (wait->handles->len > 0)
    {
      gint64 deadline;

      /* HANDLEs too: their state and the sockets' now, else a wait for
       * the event the sockets signal and the HANDLEs, then both again. */
      if (n_sockets > 0)
        r = poll_sockets (data, 0, error);
      n = evl_winsock_wait_collect_handles (wait, events, 0, n_events);
      /* The event also wakes for socket events nobody asked for (the
       * FD_WRITE of a socket watched for reading): wait again until
       * something asked for is ready or the timeout is over. */
      deadline = timeout_ns > 0 ? evl_os_monotonic_ns () + timeout_ns : timeout_ns;

      while (r == 0 && n == 0 && timeout_ns != 0)
        {
          gint64 left = deadline < 0 ? -1 : MAX (deadline - evl_os_monotonic_ns (), 0);

          evl_winsock_wait_reset (wait);
          evl_winsock_wait_block (wait, left);
          if (n_sockets > 0)
            r = poll_sockets (data, 0, error);
          n = evl_winsock_wait_collect_handles (wait, events, 0, n_events);
          if (left == 0)
            break;
        }
    }
  else if (n_sockets == 0)
    {
      if (timeout_ns != 0)
        evl_winsock_wait_block (wait, timeout_ns);
    }
  else if (evl_winsock_is_sub_ms (timeout_ns))
    {
      /* Winsock waits in whole milliseconds (or more): a shorter wait
       * polls until the deadline instead of sleeping a millisecond or
       * more (without yielding the CPU: on a busy machine a yield costs a
       * time slice, longer than the wait). */
      gint64 deadline = evl_os_monotonic_ns () + timeout_ns;

      while ((r = poll_sockets (data, 0, error)) == 0 && evl_os_monotonic_ns () < deadline)
        YieldProcessor ();
    }
  else
    r = poll_sockets (data, evl_winsock_timeout_ms (timeout_ns), error);
  *n_handles = n;
  return r;
}
