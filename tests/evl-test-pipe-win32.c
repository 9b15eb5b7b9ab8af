/* evl-test-pipe-win32.c: the pipes of tests/pipe.c on Windows: named
 * pipes, the loop's end opened for overlapped I/O, the test's end
 * synchronous; a HANDLE is the int of the API
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "evl-test-pipe.h"

#include <stdio.h>
#include <wchar.h>

#include <windows.h>

static int
to_fd (HANDLE h)
{
  g_assert_true ((guintptr) h <= G_MAXINT);
  return (int) (guintptr) h;
}

static HANDLE
to_handle (int fd)
{
  return (HANDLE) (guintptr) fd;
}

/* A named pipe: @server, duplex and overlapped, and @client, overlapped
 * when @client_overlapped (else synchronous), with @client_access. */
static void
make_pipe (HANDLE   *server,
           HANDLE   *client,
           DWORD     client_access,
           gboolean  client_overlapped)
{
  static int counter;
  wchar_t name[96];
  BOOL connected;

  _snwprintf (name, G_N_ELEMENTS (name), L"\\\\.\\pipe\\evl-test-pipe-%lu-%d",
              (unsigned long) GetCurrentProcessId (), counter++);
  *server = CreateNamedPipeW (name, PIPE_ACCESS_DUPLEX | FILE_FLAG_OVERLAPPED | FILE_FLAG_FIRST_PIPE_INSTANCE,
                              PIPE_TYPE_BYTE | PIPE_READMODE_BYTE | PIPE_WAIT, 1,
                              64 * 1024, 64 * 1024, 0, NULL);
  g_assert_true (*server != INVALID_HANDLE_VALUE);
  *client = CreateFileW (name, client_access, 0, NULL, OPEN_EXISTING,
                         client_overlapped ? FILE_FLAG_OVERLAPPED : 0, NULL);
  g_assert_true (*client != INVALID_HANDLE_VALUE);
  /* Connected by CreateFileW already. */
  connected = ConnectNamedPipe (*server, NULL);
  g_assert_true (connected || GetLastError () == ERROR_PIPE_CONNECTED);
}

void
test_pipe_open (int      *loop_end,
                int      *peer,
                gboolean  loop_reads)
{
  HANDLE server, client;

  make_pipe (&server, &client, loop_reads ? GENERIC_WRITE : GENERIC_READ, FALSE);
  /* The library must clear it. */
  g_assert_true (SetHandleInformation (server, HANDLE_FLAG_INHERIT, HANDLE_FLAG_INHERIT));
  *loop_end = to_fd (server);
  *peer = to_fd (client);
}

void
test_pipe_open_both (int *read_end,
                     int *write_end)
{
  HANDLE server, client;

  make_pipe (&server, &client, GENERIC_READ | GENERIC_WRITE, TRUE);
  *read_end = to_fd (client);
  *write_end = to_fd (server);
}

void
test_pipe_peer_write (int         peer,
                      const void *data,
                      gsize       len)
{
  DWORD n = 0;

  g_assert_true (WriteFile (to_handle (peer), data, len, &n, NULL));
  g_assert_cmpuint (n, ==, len);
}

void
test_pipe_peer_close (int peer)
{
  g_assert_true (CloseHandle (to_handle (peer)));
}

gboolean
test_pipe_peer_try_write (int         peer,
                          const void *data,
                          gsize       len)
{
  DWORD n = 0;

  if (!WriteFile (to_handle (peer), data, len, &n, NULL))
    {
      g_assert_cmpuint (GetLastError (), ==, ERROR_NO_DATA);
      return FALSE;
    }
  g_assert_cmpuint (n, ==, len);
  return TRUE;
}

void
test_pipe_assert_peer_broken (int peer)
{
  g_assert_false (test_pipe_peer_try_write (peer, "x", 1));
  test_pipe_peer_close (peer);
}

void
test_pipe_assert_peer_eof (int peer)
{
  char buf[4096];
  DWORD n;

  while (ReadFile (to_handle (peer), buf, sizeof buf, &n, NULL) && n > 0)
    ;
  g_assert_cmpuint (GetLastError (), ==, ERROR_BROKEN_PIPE);
  test_pipe_peer_close (peer);
}

void
test_pipe_assert_taken (int fd)
{
  DWORD flags = 0;

  g_assert_true (GetHandleInformation (to_handle (fd), &flags));
  g_assert_false (flags & HANDLE_FLAG_INHERIT);
}

int
test_pipe_open_file (void)
{
  wchar_t dir[MAX_PATH], path[MAX_PATH];
  HANDLE file;

  g_assert_cmpuint (GetTempPathW (MAX_PATH, dir), >, 0);
  g_assert_cmpuint (GetTempFileNameW (dir, L"evl", 0, path), !=, 0);
  file = CreateFileW (path, GENERIC_READ, 0, NULL, OPEN_EXISTING,
                      FILE_FLAG_OVERLAPPED | FILE_FLAG_DELETE_ON_CLOSE, NULL);
  g_assert_true (file != INVALID_HANDLE_VALUE);
  return to_fd (file);
}

/* Whether @fd, a file or pipe HANDLE the test had, is still open. The
 * value alone does not say: Wine hands a closed HANDLE's value to the next
 * object opened (an event or a thread of GLib's, say), so a value that is
 * open again but not a file or pipe any more was closed. (The test thread
 * is the only one that opens files and pipes meanwhile.) */
gboolean
test_pipe_fd_is_open (int fd)
{
  HANDLE h = to_handle (fd);
  DWORD flags, type;

  if (!GetHandleInformation (h, &flags))
    return FALSE;
  SetLastError (NO_ERROR);
  type = GetFileType (h);
  return type == FILE_TYPE_DISK || type == FILE_TYPE_PIPE || type == FILE_TYPE_CHAR ||
         GetLastError () == NO_ERROR;
}

guint
test_pipe_loop_limit (void)
{
  return g_str_equal (evl_test_loop_kind (), "proactor") ? G_MAXUINT : 63;
}
