/* evl-os-private.h (Windows): the few OS primitives shared code needs, inline
 *
 * meson puts src/unix or src/win32 on the include path, so shared code
 * includes "evl-os-private.h" and never tests the platform itself.
 *
 * On Windows the `int fd` of the public API holds a SOCKET (Winsock socket
 * handles are small multiples of 4 in practice; a value above G_MAXINT is
 * refused where an fd is taken).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gnetworking.h>   /* winsock2.h before windows.h */
#include <windows.h>

#include <glib.h>

G_BEGIN_DECLS

/* Thread-local (__thread) variables are NOT valid while GPrivate destroy
 * notifies run at thread exit: mingw-w64's emulated TLS is freed by the C
 * runtime's TLS callback before GLib runs its destructors, so a notify must
 * take what it needs from its data argument and not touch __thread storage. */
#define EVL_OS_TLS_VALID_AT_THREAD_EXIT 0

/* The performance counter's frequency: fixed at boot, read once (per
 * file that reads the clock). Any thread may be first; all store the same
 * value, so a relaxed atomic load and store suffice: no lock and no
 * once-guard on the clock's path, and no torn 64-bit read either. */
static inline gint64
evl_os_qpc_frequency (void)
{
  static gint64 frequency;   /* 0: not read yet */
  gint64 f = __atomic_load_n (&frequency, __ATOMIC_RELAXED);

  if (G_UNLIKELY (f == 0))
    {
      LARGE_INTEGER li;

      QueryPerformanceFrequency (&li);   /* cannot fail since Windows XP */
      f = li.QuadPart;
      __atomic_store_n (&frequency, f, __ATOMIC_RELAXED);
    }
  return f;
}

/* The loop's clock: QueryPerformanceCounter in nanoseconds. */
static inline gint64
evl_os_monotonic_ns (void)
{
  LARGE_INTEGER c;
  gint64 f = evl_os_qpc_frequency ();

  QueryPerformanceCounter (&c);
  return (gint64) (c.QuadPart / f) * G_GINT64_CONSTANT (1000000000) +
         (gint64) (c.QuadPart % f) * G_GINT64_CONSTANT (1000000000) / f;
}

/* Whether @fd names an open socket or HANDLE. */
static inline gboolean
evl_os_fd_is_open (int fd)
{
  int type = 0;
  int len = sizeof type;
  int saved = WSAGetLastError ();
  gboolean ok;

  if (fd < 0)
    return FALSE;
  ok = getsockopt ((SOCKET) fd, SOL_SOCKET, SO_TYPE, (char *) &type, &len) == 0 ||
       WSAGetLastError () != WSAENOTSOCK;
  if (!ok)
    {
      /* Not a socket: a HANDLE the selectors and the proactor can wait for
       * (an event, a process, a GMainContext's GPollFD)? */
      DWORD flags;

      ok = GetHandleInformation ((HANDLE) (gintptr) fd, &flags);
    }
  WSASetLastError (saved);
  return ok;
}

/* The loop's GSource and its backend's poll "fd": on Windows a HANDLE that
 * the backend signals (the selectors' WSA event, the IOCP backend's event),
 * which GLib waits for with WaitForMultipleObjects(). A plain poll record:
 * the source's check() looks at @record's revents itself. */
static inline gpointer
evl_os_source_add_poll_fd (GSource *source,
                           GPollFD *record,
                           int      fd)
{
  record->fd = (gint64) (gintptr) fd;
  record->events = G_IO_IN;
  record->revents = 0;
  g_source_add_poll (source, record);
  return record;
}

/* No direct mode (evl-loop-source.c) on Windows: GLib cannot wait for
 * sockets, only for the HANDLE of the selector's event or of the IOCP
 * backend, so the source always polls that. */
#define EVL_OS_SOURCE_DIRECT 0

/* Whether the GSource of a selector loop must give GLib @fd itself, next
 * to the selector's poll HANDLE: a waitable HANDLE that is not a socket
 * (an event, a process, a pipe operation's event). The selector's event is
 * signalled by its sockets only, and a selector waits for such HANDLEs
 * itself (WaitForMultipleObjects) only when the loop runs on its own: GLib
 * must wait for them too, or a HANDLE signalled while GLib waits would
 * wake nobody. Asked when a reader is added, so @fd is open. */
static inline gboolean
evl_os_source_mirrors_fd (int fd)
{
  int type = 0;
  int len = sizeof type;
  int saved = WSAGetLastError ();
  gboolean handle;

  handle = getsockopt ((SOCKET) fd, SOL_SOCKET, SO_TYPE, (char *) &type, &len) != 0;
  WSASetLastError (saved);
  return handle;
}

/* A mirrored HANDLE (evl_os_source_mirrors_fd()) in GLib's wait: a poll
 * record of its own, which GLib's g_poll() waits for with
 * WaitForMultipleObjects() (in several threads past 64 HANDLEs). A HANDLE
 * is only ever "readable" (signalled), whatever @condition asks. The
 * source's check() looks at the records' revents itself. (Sockets cannot
 * be mirrored: they are no HANDLEs GLib could wait for; every Windows
 * backend has a poll handle for them.) */
static inline gpointer
evl_os_source_add_fd (GSource      *source,
                      int           fd,
                      GIOCondition  condition)
{
  GPollFD *record = g_new0 (GPollFD, 1);

  record->fd = (gint64) (gintptr) fd;
  record->events = G_IO_IN;
  g_source_add_poll (source, record);
  return record;
}

static inline void
evl_os_source_modify_fd (GSource      *source,
                         gpointer      tag,
                         GIOCondition  condition)
{
}

static inline void
evl_os_source_remove_fd (GSource  *source,
                         gpointer  tag)
{
  g_source_remove_poll (source, tag);
  g_free (tag);
}

/* A tag of a destroyed (finalized) source: what GLib does not free. */
static inline void
evl_os_source_forget_fd (gpointer tag)
{
  g_free (tag);
}

/* What GLib's last wait found on a HANDLE added with evl_os_source_add_fd(). */
static inline GIOCondition
evl_os_source_query_fd (GSource  *source,
                        gpointer  tag)
{
  return ((GPollFD *) tag)->revents;
}

G_END_DECLS
