/* evl-test-util-win32.c: the platform part of the test helpers, Windows
 *
 * The "fds" of the tests are SOCKETs there (see README, "Platforms").
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "evl-test-util.h"

#include <gio/gnetworking.h>
#include <windows.h>
#include <tlhelp32.h>
#include <winternl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

static void warm_up (void);

void
evl_test_platform_init (void)
{
  g_networking_init ();
  /* No error dialog boxes from a crash or an abort: a test fails, it does
   * not wait for a click (Wine prints a backtrace instead). */
  SetErrorMode (SEM_FAILCRITICALERRORS | SEM_NOGPFAULTERRORBOX);
  /* Before any test counts handles: see "Counting handles" below. */
  warm_up ();
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

/* ---------------------------------------------------------------------- */
/* Counting handles: evl_test_count_fds()
 *
 * Every open handle of the process counts, whatever its type: sockets and
 * pipes (File), events, completion ports, threads, registry keys... A leak
 * check compares the count before and after a test, so two kinds of
 * handles that are not the test's must be kept out of the comparison:
 *
 * 1. Handles that a process opens once, the first time something is used,
 *    and keeps until it exits. warm_up() opens them before any test counts.
 *    Each was found by listing the handles, with their types, that a first
 *    use left open (EVL_TEST_HANDLES=1, below):
 *    - GIO's DLL starts a scan of the registry's file associations on a
 *      thread of its own when it is loaded (gio_win32_appinfo_init() from
 *      its DllMain) and keeps about 20 registry keys open in its cache;
 *      counted while the scan runs, the count changes under the test.
 *      g_app_info_get_all() waits for the scan.
 *    - libgcc's emulated thread-local storage (__emutls_get_address(),
 *      which the library's thread-locals go through) makes its lock, a
 *      semaphore, on first use and never frees it. evl_get_running_loop()
 *      reads a thread-local.
 *    - Winsock (at least Wine's ws2_32) makes an event per thread for its
 *      synchronous socket calls the first time the thread makes one, and
 *      frees it when the thread exits: a socket switched to non-blocking
 *      mode, here on the thread the tests run on.
 *    - The first GThreadPool that is not exclusive starts GLib's
 *      "pool-spawner" thread (Windows has no scheduler settings to copy
 *      to new threads), which runs until the process exits.
 *    - The watchdog's timer queue (CreateTimerQueueTimer()): the default
 *      timer queue and its thread are made on first use and kept.
 *    - The thread pool's wait thread (RegisterWaitForSingleObject(), which
 *      the proactor uses for HANDLEs and child processes): Wine makes it,
 *      with an event of its own, for the first wait and ends it 5 s after
 *      the last wait went, i.e. in the middle of some later test. The
 *      warm-up registers a wait on an event that is never set and keeps it
 *      for the life of the process, so that thread stays. (Wine groups up
 *      to 63 waits per thread: a test with more at once would see another
 *      thread come, and go 5 s after.)
 *
 * 2. Worker threads of GLib's shared thread pools (the executor's, GTask's
 *    for GResolver): GLib holds a handle to each while it runs, and Winsock
 *    gives each that calls it (to post its result to the loop) an event;
 *    an idle worker waits half a second for more work in its pool, then by
 *    default up to 15 s more in GLib's global pool of unused threads. The
 *    warm-up sets the number of unused threads kept to 0, so a worker
 *    exits half a second after its pool runs out of work, and
 *    wait_for_pool_workers() waits for every worker that started after the
 *    warm-up (GLib names them "pool-<program>") to exit before counting:
 *    then the threads' handles and Winsock's events of the threads are
 *    closed. A worker that still runs after 30 s fails the test.
 *
 * Everything else a test opens must be closed by the end of the test. */

static GHashTable *warm_threads;   /* the ids of the threads the warm-up saw */

typedef HRESULT (WINAPI *GetThreadDescriptionFunc) (HANDLE, PWSTR *);

static GetThreadDescriptionFunc
get_thread_description_func (void)
{
  static gsize func;

  if (g_once_init_enter (&func))
    {
      /* Windows 10 1607 and later, Wine. GLib names its threads with
       * SetThreadDescription() where that exists. */
      FARPROC f = GetProcAddress (GetModuleHandleA ("kernel32.dll"), "GetThreadDescription");

      g_once_init_leave (&func, f != NULL ? (gsize) f : 1);
    }
  return func != 1 ? (GetThreadDescriptionFunc) func : NULL;
}

/* Calls @func for each thread of this process but the calling one. */
static void
foreach_thread (void (*func) (DWORD tid, gpointer data),
                gpointer data)
{
  HANDLE snap = CreateToolhelp32Snapshot (TH32CS_SNAPTHREAD, 0);
  THREADENTRY32 te = { .dwSize = sizeof te };
  DWORD pid = GetCurrentProcessId (), self = GetCurrentThreadId ();
  gboolean more;

  g_assert_true (snap != INVALID_HANDLE_VALUE);
  for (more = Thread32First (snap, &te); more; more = Thread32Next (snap, &te))
    if (te.th32OwnerProcessID == pid && te.th32ThreadID != self)
      func (te.th32ThreadID, data);
  CloseHandle (snap);
}

static void
remember_thread (DWORD    tid,
                 gpointer data)
{
  g_hash_table_add (warm_threads, GUINT_TO_POINTER (tid));
}

static void
wait_if_pool_worker (DWORD    tid,
                     gpointer data)
{
  GetThreadDescriptionFunc get_description = data;
  HANDLE thread;
  PWSTR name = NULL;

  if (g_hash_table_contains (warm_threads, GUINT_TO_POINTER (tid)))
    return;
  thread = OpenThread (SYNCHRONIZE | THREAD_QUERY_LIMITED_INFORMATION, FALSE, tid);
  if (thread == NULL)
    return;   /* gone already */
  /* A thread GLib has just made names itself first thing: a new thread
   * without a name yet gets up to a second to take one (or to exit). */
  for (guint i = 0; i < 100; i++)
    {
      if (SUCCEEDED (get_description (thread, &name)) && name != NULL && name[0] != 0)
        break;
      LocalFree (name);
      name = NULL;
      if (WaitForSingleObject (thread, 10) == WAIT_OBJECT_0)
        break;
    }
  if (name != NULL &&
      wcsncmp (name, L"pool", 4) == 0 &&
      WaitForSingleObject (thread, 30000) != WAIT_OBJECT_0)
    g_test_message ("a worker thread of a GLib thread pool (%lu) still runs after 30 s",
                    (unsigned long) tid);
  LocalFree (name);
  CloseHandle (thread);
}

static void
wait_for_pool_workers (void)
{
  GetThreadDescriptionFunc get_description = get_thread_description_func ();

  /* Without thread names there is no telling GLib's workers apart: the
   * count then includes those that still run. */
  if (get_description != NULL && warm_threads != NULL)
    foreach_thread (wait_if_pool_worker, get_description);
}

static void
noop_task (gpointer data,
           gpointer user_data)
{
}

static VOID CALLBACK
never_called (PVOID   data,
              BOOLEAN timed_out)
{
  g_assert_not_reached ();
}

static void
warm_up (void)
{
  static HANDLE never_set, wait;
  SOCKET s;
  u_long one = 1;
  GThreadPool *pool;

  g_list_free_full (g_app_info_get_all (), g_object_unref);
  g_assert_null (evl_get_running_loop ());
  s = WSASocketW (AF_INET, SOCK_STREAM, IPPROTO_TCP, NULL, 0, WSA_FLAG_NO_HANDLE_INHERIT);
  g_assert_true (s != INVALID_SOCKET);
  g_assert_cmpint (ioctlsocket (s, FIONBIO, &one), ==, 0);
  closesocket (s);
  g_thread_pool_set_max_unused_threads (0);
  pool = g_thread_pool_new (noop_task, NULL, 1, FALSE, NULL);
  g_thread_pool_free (pool, FALSE, TRUE);
  evl_test_watchdog_start (60);
  evl_test_watchdog_cancel ();
  never_set = CreateEventW (NULL, TRUE, FALSE, NULL);
  g_assert_nonnull (never_set);
  /* The flags the proactor uses (evl-iocp-backend.c): Wine keeps waits
   * that run their callbacks on an I/O thread on another wait thread. */
  g_assert_true (RegisterWaitForSingleObject (&wait, never_set, never_called, NULL, INFINITE,
                                              WT_EXECUTEONLYONCE | WT_EXECUTEINWAITTHREAD));
  warm_threads = g_hash_table_new (NULL, NULL);
  foreach_thread (remember_thread, NULL);
}

/* EVL_TEST_HANDLES=1: each count prints the handles opened and closed
 * since the previous count of the process, with their types (and names,
 * but not of files: asking a pipe's name can block on Windows), to find
 * what a failing leak check counted. */
typedef NTSTATUS (NTAPI *NtQueryObjectFunc) (HANDLE, OBJECT_INFORMATION_CLASS, PVOID, ULONG, PULONG);

static char *
describe_handle (HANDLE h)
{
  static NtQueryObjectFunc query;
  union { PUBLIC_OBJECT_TYPE_INFORMATION info; char buf[1024]; } type;
  union { UNICODE_STRING name; char buf[2048]; } name;
  char *type_str = NULL, *name_str = NULL, *ret;
  ULONG len;

  if (query == NULL)
    query = (NtQueryObjectFunc) GetProcAddress (GetModuleHandleA ("ntdll.dll"), "NtQueryObject");
  if (query == NULL)
    return g_strdup ("?");
  if (query (h, ObjectTypeInformation, &type, sizeof type, &len) >= 0)
    type_str = g_utf16_to_utf8 (type.info.TypeName.Buffer, type.info.TypeName.Length / 2,
                                NULL, NULL, NULL);
  if (g_strcmp0 (type_str, "File") != 0 &&
      query (h, (OBJECT_INFORMATION_CLASS) 1 /* ObjectNameInformation */,
             &name, sizeof name, &len) >= 0 && name.name.Buffer != NULL)
    name_str = g_utf16_to_utf8 (name.name.Buffer, name.name.Length / 2, NULL, NULL, NULL);
  ret = g_strdup_printf ("%s %s", type_str != NULL ? type_str : "?",
                         name_str != NULL ? name_str : "");
  g_free (type_str);
  g_free (name_str);
  return ret;
}

static void
trace_handles (GHashTable *now)
{
  static GHashTable *previous;
  GHashTableIter iter;
  gpointer key, value;

  if (previous != NULL)
    {
      g_hash_table_iter_init (&iter, now);
      while (g_hash_table_iter_next (&iter, &key, &value))
        {
          const char *old = g_hash_table_lookup (previous, key);

          if (old == NULL || strcmp (old, value) != 0)
            g_printerr ("# handles: + %#lx %s\n", (unsigned long) GPOINTER_TO_SIZE (key),
                        (char *) value);
        }
      g_hash_table_iter_init (&iter, previous);
      while (g_hash_table_iter_next (&iter, &key, &value))
        if (!g_hash_table_contains (now, key))
          g_printerr ("# handles: - %#lx %s\n", (unsigned long) GPOINTER_TO_SIZE (key),
                      (char *) value);
      g_hash_table_unref (previous);
    }
  g_printerr ("# handles: %u open\n", g_hash_table_size (now));
  previous = now;
}

/* Open handles of the process: the closest thing to counting fds.
 * Windows counts them for us; Wine 8's GetProcessHandleCount() always
 * says 0, which would make every leak check pass, so there the handle
 * table is probed: handle values are multiples of 4, handed out lowest
 * first, and GetHandleInformation() fails on a value that is not open.
 * The probe stops 4096 values past the highest open one it found. */
static guint
count_handles (void)
{
  gboolean trace = g_getenv ("EVL_TEST_HANDLES") != NULL;
  GHashTable *handles = NULL;
  guintptr value, last_open = 0;
  DWORD n = 0;

  wait_for_pool_workers ();
  g_assert_true (GetProcessHandleCount (GetCurrentProcess (), &n));
  if (n > 0 && !trace)
    return n;
  /* Listing the handles allocates: the table only when tracing. */
  if (trace)
    handles = g_hash_table_new_full (NULL, NULL, NULL, g_free);
  n = 0;
  for (value = 4; value <= last_open + 4 * 4096; value += 4)
    {
      DWORD flags;

      if (GetHandleInformation ((HANDLE) value, &flags))
        {
          n++;
          last_open = value;
          if (handles != NULL)
            g_hash_table_insert (handles, GSIZE_TO_POINTER (value),
                                 describe_handle ((HANDLE) value));
        }
    }
  g_assert_cmpuint (n, >, 0);
  if (handles != NULL)
    trace_handles (handles);
  return n;
}

/* A count that differs from the previous one is taken again until it has
 * not changed for 300 ms (at most 5 s): GLib's thread pools start and end
 * their workers on threads of their own (the "pool-spawner" makes a
 * worker some time after the push, and a worker's handle is closed just
 * after it exits), so under load a count can catch a worker that
 * wait_for_pool_workers() could not see yet, or see it go. Seen: both
 * transport tests at once, 56 == 55 after a cancelled "localhost" lookup
 * whose worker started late. A real leak stays, and still fails the
 * comparison; an unchanged count costs nothing. */
guint
evl_test_count_fds (void)
{
  static guint last;
  guint n = count_handles ();

  if (last != 0 && n != last)
    {
      gint64 now = g_get_monotonic_time ();
      gint64 deadline = now + 5 * G_USEC_PER_SEC, stable_since = now;

      while (now < deadline && now - stable_since < 300 * 1000)
        {
          guint m;

          g_usleep (20 * 1000);
          m = count_handles ();
          now = g_get_monotonic_time ();
          if (m != n)
            {
              n = m;
              stable_since = now;
            }
        }
    }
  last = n;
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

gboolean
evl_test_sock_wait_readable (int fd,
                             int timeout_ms)
{
  WSAPOLLFD pfd = { .fd = (SOCKET) fd, .events = POLLRDNORM };
  int r = WSAPoll (&pfd, 1, timeout_ms);

  g_assert_cmpint (r, !=, SOCKET_ERROR);
  return r > 0;
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
