/* child-win32.c: the child process of tests/subprocess-win32.c (plain
 * Win32 and C runtime, no GLib), built with -municode so that its argv
 * is the C runtime's split of its command line, in UTF-16.
 *
 *   test-child-win32 echo          copies stdin to stdout until EOF, exit 0
 *   test-child-win32 stderr TEXT   writes TEXT to stderr and "out" to
 *                                  stdout, reads stdin and writes "eof" to
 *                                  stderr when it ends at once, exit 0
 *   test-child-win32 exit N        exit code N
 *   test-child-win32 args ARG...   writes each ARG in UTF-8 followed by a
 *                                  NUL byte to stdout, exit 0
 *   test-child-win32 sleep         waits forever
 *   test-child-win32 inherited H...  writes to stdout how many of the
 *                                  HANDLE values H (decimal) name a
 *                                  signalled object here, exit 0
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <windows.h>

#include <fcntl.h>
#include <io.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

static void
write_all (int         fd,
           const char *data,
           size_t      len)
{
  while (len > 0)
    {
      int n = _write (fd, data, (unsigned int) len);

      if (n <= 0)
        exit (120);
      data += n;
      len -= (size_t) n;
    }
}

int wmain (int      argc,
           wchar_t *argv[]);

int
wmain (int      argc,
       wchar_t *argv[])
{
  char buf[65536];
  int n;

  _setmode (0, _O_BINARY);
  _setmode (1, _O_BINARY);
  _setmode (2, _O_BINARY);
  if (argc < 2)
    return 100;

  if (wcscmp (argv[1], L"echo") == 0)
    {
      while ((n = _read (0, buf, sizeof buf)) > 0)
        write_all (1, buf, (size_t) n);
      return n == 0 ? 0 : 101;
    }
  if (wcscmp (argv[1], L"stderr") == 0 && argc == 3)
    {
      n = WideCharToMultiByte (CP_UTF8, 0, argv[2], -1, buf, sizeof buf, NULL, NULL);
      if (n <= 0)
        return 102;
      write_all (2, buf, strlen (buf));
      write_all (1, "out", 3);
      if (_read (0, buf, sizeof buf) == 0)
        write_all (2, "eof", 3);
      return 0;
    }
  if (wcscmp (argv[1], L"exit") == 0 && argc == 3)
    return _wtoi (argv[2]);
  if (wcscmp (argv[1], L"args") == 0)
    {
      int i;

      for (i = 2; i < argc; i++)
        {
          n = WideCharToMultiByte (CP_UTF8, 0, argv[i], -1, buf, sizeof buf, NULL, NULL);
          if (n <= 0)
            return 103;
          write_all (1, buf, (size_t) n);   /* with its NUL */
        }
      return 0;
    }
  if (wcscmp (argv[1], L"sleep") == 0)
    {
      Sleep (INFINITE);
      return 104;
    }
  if (wcscmp (argv[1], L"inherited") == 0)
    {
      int i, count = 0;

      for (i = 2; i < argc; i++)
        {
          HANDLE h = (HANDLE) (ULONG_PTR) _wcstoui64 (argv[i], NULL, 10);
          DWORD flags;

          if (GetHandleInformation (h, &flags) && WaitForSingleObject (h, 0) == WAIT_OBJECT_0)
            count++;
        }
      n = snprintf (buf, sizeof buf, "%d", count);
      write_all (1, buf, (size_t) n);
      return 0;
    }
  return 105;
}
