/* evl-wakeup-win32.c: the wakeup channels on Windows (a loopback socket
 * pair; a packet posted to an I/O completion port)
 *
 * Winsock's select() and WSAPoll() wait for sockets only, so the selector
 * loops' wakeup is what asyncio's self-pipe is on Windows: a connected pair
 * of TCP sockets on 127.0.0.1. Both ends are non-blocking and not
 * inherited by child processes. The "fds" are SOCKET values.
 *
 * The proactor loop waits in GetQueuedCompletionStatusEx(), which a
 * packet posted with PostQueuedCompletionStatus() wakes without a socket,
 * a watch or a read (evl_wakeup_open_port()). Posts are coalesced like an
 * eventfd's writes: a flag says a packet is queued, only the signal that
 * sets it posts, and the waiter clears it when it dequeues the packet
 * (evl_wakeup_drain()). A signal must find that flag from the int the loop
 * keeps, from any thread, so such a channel is a slot of a process-wide
 * table, and its "fd" is the slot number times 4 plus 2: never a SOCKET or
 * a HANDLE value, which are multiples of 4.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "evl-config.h"

#include <errno.h>
#include <gio/gio.h>

#include "evl-os-private.h"
#include "evl-loop-private.h"
#include "evl-wakeup-private.h"

/* ---------------------------------------------------------------------- */
/* completion-port channels */

typedef struct
{
  HANDLE         port;       /* NULL while the slot is free */
  ULONG_PTR      key;
  volatile LONG  posted;     /* a packet of ours is queued */
} PortWake;

#define PORT_WAKE_PAGE_SLOTS 256
#define PORT_WAKE_PAGES      1024     /* 2^18 channels */
#define PORT_WAKE_TAG        2

/* Pages are published once (atomic pointers) and never freed, so a signal
 * reads its slot without a lock; the allocation of slots is locked. */
static PortWake *port_wake_pages[PORT_WAKE_PAGES];
static GMutex    port_wake_lock;
static guint     port_wake_used;      /* slots handed out at least once */
static guint    *port_wake_free;      /* a stack of free slot numbers */
static guint     port_wake_n_free;
static guint     port_wake_free_cap;

static inline gboolean
is_port_wake (int fd)
{
  return fd >= 0 && (fd & 3) == PORT_WAKE_TAG;
}

static inline PortWake *
port_wake_get (int fd)
{
  guint slot = (guint) fd >> 2;
  PortWake *page = g_atomic_pointer_get (&port_wake_pages[slot / PORT_WAKE_PAGE_SLOTS]);

  return &page[slot % PORT_WAKE_PAGE_SLOTS];
}

gboolean
evl_wakeup_open_port (gpointer  port,
                      guintptr  key,
                      int      *fd)
{
  PortWake *w;
  guint slot;

  g_mutex_lock (&port_wake_lock);
  if (port_wake_n_free > 0)
    slot = port_wake_free[--port_wake_n_free];
  else if (port_wake_used < PORT_WAKE_PAGES * PORT_WAKE_PAGE_SLOTS)
    {
      slot = port_wake_used++;
      if (port_wake_pages[slot / PORT_WAKE_PAGE_SLOTS] == NULL)
        g_atomic_pointer_set (&port_wake_pages[slot / PORT_WAKE_PAGE_SLOTS],
                              g_new0 (PortWake, PORT_WAKE_PAGE_SLOTS));
    }
  else
    {
      g_mutex_unlock (&port_wake_lock);
      errno = EMFILE;
      return FALSE;
    }
  *fd = (int) (slot << 2) | PORT_WAKE_TAG;
  w = port_wake_get (*fd);
  w->port = port;
  w->key = key;
  w->posted = 0;
  g_mutex_unlock (&port_wake_lock);
  return TRUE;
}

static void
port_wake_close (int fd)
{
  PortWake *w = port_wake_get (fd);

  g_mutex_lock (&port_wake_lock);
  w->port = NULL;
  if (port_wake_n_free == port_wake_free_cap)
    {
      port_wake_free_cap = MAX (16, 2 * port_wake_free_cap);
      port_wake_free = g_renew (guint, port_wake_free, port_wake_free_cap);
    }
  port_wake_free[port_wake_n_free++] = (guint) fd >> 2;
  g_mutex_unlock (&port_wake_lock);
}

/* ---------------------------------------------------------------------- */
/* socket pairs */

static SOCKET
new_socket (void)
{
  return WSASocketW (AF_INET, SOCK_STREAM, IPPROTO_TCP, NULL, 0,
                     WSA_FLAG_OVERLAPPED | WSA_FLAG_NO_HANDLE_INHERIT);
}

static void
set_wsa_error (GError **error)
{
  int code = WSAGetLastError ();
  char *msg = g_win32_error_message (code);

  g_set_error (error, G_IO_ERROR, g_io_error_from_win32_error (code),
               _("Could not create the loop's wakeup sockets: %s"), msg);
  g_free (msg);
}

gboolean
evl_wakeup_open (int     *read_fd,
                 int     *write_fd,
                 GError **error)
{
  SOCKET listener = INVALID_SOCKET, w = INVALID_SOCKET, r = INVALID_SOCKET;
  struct sockaddr_in addr;
  int len = sizeof addr;
  u_long nonblocking = 1;
  BOOL nodelay = TRUE;

  if (is_port_wake (*write_fd))
    {
      /* The proactor backend's: kept. */
      *read_fd = *write_fd;
      return TRUE;
    }
  g_networking_init ();

  memset (&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  addr.sin_port = 0;

  listener = new_socket ();
  if (listener == INVALID_SOCKET ||
      bind (listener, (struct sockaddr *) &addr, sizeof addr) != 0 ||
      getsockname (listener, (struct sockaddr *) &addr, &len) != 0 ||
      listen (listener, 1) != 0)
    goto fail;
  w = new_socket ();
  if (w == INVALID_SOCKET ||
      connect (w, (struct sockaddr *) &addr, sizeof addr) != 0)
    goto fail;
  r = accept (listener, NULL, NULL);
  if (r == INVALID_SOCKET)
    goto fail;
  closesocket (listener);
  SetHandleInformation ((HANDLE) r, HANDLE_FLAG_INHERIT, 0);

  if (ioctlsocket (r, FIONBIO, &nonblocking) != 0 ||
      ioctlsocket (w, FIONBIO, &nonblocking) != 0)
    goto fail;
  setsockopt (w, IPPROTO_TCP, TCP_NODELAY, (const char *) &nodelay, sizeof nodelay);

  if (r > G_MAXINT || w > G_MAXINT)
    {
      WSASetLastError (WSAEMFILE);
      goto fail;
    }
  *read_fd = (int) r;
  *write_fd = (int) w;
  return TRUE;

fail:
  set_wsa_error (error);
  if (listener != INVALID_SOCKET)
    closesocket (listener);
  if (w != INVALID_SOCKET)
    closesocket (w);
  if (r != INVALID_SOCKET)
    closesocket (r);
  return FALSE;
}

void
evl_wakeup_signal (int write_fd)
{
  int saved_errno = errno;
  int saved_wsa = WSAGetLastError ();
  char one = 1;

  if (is_port_wake (write_fd))
    {
      PortWake *w = port_wake_get (write_fd);

      /* Full barrier: the caller's wake_pending store before the flag's
       * load, which the waiter clears before it reads wake_pending. */
      if (InterlockedCompareExchange (&w->posted, 1, 0) == 0 &&
          !PostQueuedCompletionStatus (w->port, 0, w->key, NULL))
        InterlockedExchange (&w->posted, 0);   /* out of memory: the next signal tries again */
    }
  else
    {
      /* A full socket buffer already wakes the reader. */
      send ((SOCKET) write_fd, &one, 1, 0);
    }
  WSASetLastError (saved_wsa);
  errno = saved_errno;
}

void
evl_wakeup_drain (int read_fd)
{
  char buf[64];
  int saved_wsa;

  if (is_port_wake (read_fd))
    {
      /* Its packet was dequeued: the next signal posts again. */
      InterlockedExchange (&port_wake_get (read_fd)->posted, 0);
      return;
    }
  saved_wsa = WSAGetLastError ();
  while (recv ((SOCKET) read_fd, buf, sizeof buf, 0) > 0)
    ;
  WSASetLastError (saved_wsa);
}

void
evl_wakeup_close (int read_fd,
                  int write_fd)
{
  if (is_port_wake (write_fd))
    {
      port_wake_close (write_fd);
      return;
    }
  if (write_fd >= 0 && write_fd != read_fd)
    closesocket ((SOCKET) write_fd);
  if (read_fd >= 0)
    closesocket ((SOCKET) read_fd);
}
