/* evl-test-util-win32.c: the platform part of the test helpers, Windows
 *
 * The "fds" of the tests are SOCKETs there (see README, "Platforms").
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "evl-test-util.h"

#include <gio/gnetworking.h>
#include <windows.h>
#include <stdio.h>
#include <stdlib.h>

void
evl_test_platform_init (void)
{
  g_networking_init ();
  /* No error dialog boxes from a crash or an abort: a test fails, it does
   * not wait for a click (Wine prints a backtrace instead). */
  SetErrorMode (SEM_FAILCRITICALERRORS | SEM_NOGPFAULTERRORBOX);
}

gboolean
evl_test_under_wine (void)
{
  HMODULE ntdll = GetModuleHandleA ("ntdll.dll");

  /* Wine's ntdll exports wine_get_version(); Windows' does not. */
  return ntdll != NULL && GetProcAddress (ntdll, "wine_get_version") != NULL;
}

static HANDLE watchdog_timer;

static VOID CALLBACK
watchdog_fired (PVOID data,
                BOOLEAN timer_or_wait)
{
  fputs ("evl-test: watchdog fired, the test hangs\n", stderr);
  fflush (stderr);
  abort ();
}

void
evl_test_watchdog_start (guint seconds)
{
  evl_test_watchdog_cancel ();
  g_assert_true (CreateTimerQueueTimer (&watchdog_timer, NULL, watchdog_fired, NULL,
                                        seconds * 1000, 0, WT_EXECUTEONLYONCE));
}

void
evl_test_watchdog_cancel (void)
{
  if (watchdog_timer != NULL)
    {
      /* INVALID_HANDLE_VALUE: wait for a running callback. */
      DeleteTimerQueueTimer (NULL, watchdog_timer, INVALID_HANDLE_VALUE);
      watchdog_timer = NULL;
    }
}

/* A connected pair of non-blocking TCP sockets on 127.0.0.1: Winsock has
 * no socketpair(). */
void
evl_test_socketpair (int fds[2])
{
  SOCKET listener, a, b;
  struct sockaddr_in addr;
  int len = sizeof addr;
  u_long one = 1;
  BOOL nodelay = TRUE;

  memset (&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  listener = socket (AF_INET, SOCK_STREAM, IPPROTO_TCP);
  g_assert_true (listener != INVALID_SOCKET);
  g_assert_cmpint (bind (listener, (struct sockaddr *) &addr, sizeof addr), ==, 0);
  g_assert_cmpint (getsockname (listener, (struct sockaddr *) &addr, &len), ==, 0);
  g_assert_cmpint (listen (listener, 1), ==, 0);
  a = socket (AF_INET, SOCK_STREAM, IPPROTO_TCP);
  g_assert_true (a != INVALID_SOCKET);
  g_assert_cmpint (connect (a, (struct sockaddr *) &addr, sizeof addr), ==, 0);
  b = accept (listener, NULL, NULL);
  g_assert_true (b != INVALID_SOCKET);
  closesocket (listener);
  g_assert_cmpint (ioctlsocket (a, FIONBIO, &one), ==, 0);
  g_assert_cmpint (ioctlsocket (b, FIONBIO, &one), ==, 0);
  setsockopt (a, IPPROTO_TCP, TCP_NODELAY, (const char *) &nodelay, sizeof nodelay);
  setsockopt (b, IPPROTO_TCP, TCP_NODELAY, (const char *) &nodelay, sizeof nodelay);
  g_assert_true (a <= G_MAXINT && b <= G_MAXINT);
  fds[0] = (int) a;
  fds[1] = (int) b;
}

/* Open handles of the process: the closest thing to counting fds. */
guint
evl_test_count_fds (void)
{
  DWORD n = 0;

  g_assert_true (GetProcessHandleCount (GetCurrentProcess (), &n));
  return n;
}

double
evl_test_cpu_time (void)
{
  FILETIME created, exited, kernel, user;
  ULARGE_INTEGER k, u;

  g_assert_true (GetProcessTimes (GetCurrentProcess (), &created, &exited, &kernel, &user));
  k.LowPart = kernel.dwLowDateTime;
  k.HighPart = kernel.dwHighDateTime;
  u.LowPart = user.dwLowDateTime;
  u.HighPart = user.dwHighDateTime;
  return (double) (k.QuadPart + u.QuadPart) / 1e7;
}

gssize
evl_test_sock_read (int    fd,
                    void  *buf,
                    gsize  count)
{
  return recv ((SOCKET) fd, buf, (int) MIN (count, G_MAXINT), 0);
}

gssize
evl_test_sock_write (int         fd,
                     const void *buf,
                     gsize       count)
{
  return send ((SOCKET) fd, buf, (int) MIN (count, G_MAXINT), 0);
}

void
evl_test_sock_close (int fd)
{
  closesocket ((SOCKET) fd);
}

int
evl_test_tcp_socket (GSocketFamily family)
{
  SOCKET s = WSASocketW (family == G_SOCKET_FAMILY_IPV6 ? AF_INET6 : AF_INET,
                         SOCK_STREAM, IPPROTO_TCP, NULL, 0,
                         WSA_FLAG_OVERLAPPED | WSA_FLAG_NO_HANDLE_INHERIT);
  u_long one = 1;

  if (s == INVALID_SOCKET)
    return -1;
  g_assert_cmpint (ioctlsocket (s, FIONBIO, &one), ==, 0);
  g_assert_true (s <= G_MAXINT);
  return (int) s;
}

void
evl_test_sock_shutdown_write (int fd)
{
  g_assert_cmpint (shutdown ((SOCKET) fd, SD_SEND), ==, 0);
}

void
evl_test_assert_sock_flags (int fd)
{
  DWORD flags = 0;
  char c;

  g_assert_true (GetHandleInformation ((HANDLE) (SOCKET) fd, &flags));
  g_assert_cmpuint (flags & HANDLE_FLAG_INHERIT, ==, 0);
  g_assert_cmpint (recv ((SOCKET) fd, &c, 1, MSG_PEEK), ==, SOCKET_ERROR);
  g_assert_cmpint (WSAGetLastError (), ==, WSAEWOULDBLOCK);
}

void
evl_test_pipe (int fds[2])
{
  HANDLE r, w;

  /* Anonymous pipes are not inheritable without SECURITY_ATTRIBUTES. */
  g_assert_true (CreatePipe (&r, &w, NULL, 0));
  g_assert_true ((guintptr) r <= G_MAXINT && (guintptr) w <= G_MAXINT);
  fds[0] = (int) (guintptr) r;
  fds[1] = (int) (guintptr) w;
}

void
evl_test_pipe_close (int fd)
{
  CloseHandle ((HANDLE) (guintptr) fd);
}

void
evl_test_sigpipe_default (void)
{
}
