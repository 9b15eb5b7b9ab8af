/* evl-winsock-wait.c: the event the Windows selectors tie their sockets to
 *
 * See evl-winsock-wait-private.h.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "evl-winsock-wait-private.h"

#define EVL_WINSOCK_EVENTS (FD_READ | FD_WRITE | FD_OOB | FD_ACCEPT | FD_CONNECT | FD_CLOSE)

void
evl_winsock_wait_init (EvlWinsockWait *wait)
{
  g_networking_init ();
  wait->event = WSACreateEvent ();
  if (wait->event == WSA_INVALID_EVENT)
    wait->event = NULL;
}

void
evl_winsock_wait_clear (EvlWinsockWait *wait)
{
  if (wait->event != NULL)
    WSACloseEvent (wait->event);
  wait->event = NULL;
}

void
evl_winsock_wait_tie (EvlWinsockWait *wait,
                      int             fd)
{
  int saved = WSAGetLastError ();

  if (wait->event != NULL)
    WSAEventSelect ((SOCKET) fd, wait->event, EVL_WINSOCK_EVENTS);
  WSASetLastError (saved);
}

void
evl_winsock_wait_untie (EvlWinsockWait *wait,
                        int             fd)
{
  int saved = WSAGetLastError ();

  /* Fails harmlessly (WSAENOTSOCK) when the socket was closed already. */
  if (wait->event != NULL)
    WSAEventSelect ((SOCKET) fd, NULL, 0);
  WSASetLastError (saved);
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

  if (wait->event != NULL)
    WaitForSingleObject (wait->event, ms < 0 ? INFINITE : (DWORD) ms);
  else if (ms != 0)
    Sleep (ms < 0 ? INFINITE : (DWORD) ms);
}

int
evl_winsock_wait_get_fd (EvlWinsockWait *wait)
{
  /* A HANDLE value: what GLib's GPollFD.fd holds on Windows. */
  return wait->event != NULL ? (int) (gintptr) wait->event : -1;
}
