/* evl-test-subprocess-win32.c: the children of the subprocess tests on
 * Windows: tests/child-win32.c, built next to the test programs
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "evl-test-subprocess.h"

#include <stdarg.h>

#include <windows.h>

/* The child program, next to this one. */
char *
test_child_path (void)
{
  wchar_t self[MAX_PATH];
  DWORD n = GetModuleFileNameW (NULL, self, MAX_PATH);
  char *path, *dir, *child;

  g_assert_true (n > 0 && n < MAX_PATH);
  path = g_utf16_to_utf8 ((gunichar2 *) self, n, NULL, NULL, NULL);
  dir = g_path_get_dirname (path);
  child = g_build_filename (dir, "test-child-win32.exe", NULL);
  g_free (path);
  g_free (dir);
  return child;
}

/* argv for the child: the program and @args (NULL-terminated). */
char **
test_child_argv (const char *first,
                 ...)
{
  GPtrArray *a = g_ptr_array_new ();
  const char *arg;
  va_list ap;

  g_ptr_array_add (a, test_child_path ());
  va_start (ap, first);
  for (arg = first; arg != NULL; arg = va_arg (ap, const char *))
    g_ptr_array_add (a, g_strdup (arg));
  va_end (ap);
  g_ptr_array_add (a, NULL);
  return (char **) g_ptr_array_free (a, FALSE);
}

char **
test_child_argv_cat (void)
{
  return test_child_argv ("echo", NULL);
}

char **
test_child_argv_exit (int code)
{
  char *text = g_strdup_printf ("%d", code);
  char **argv = test_child_argv ("exit", text, NULL);

  g_free (text);
  return argv;
}

char **
test_child_argv_sleep (void)
{
  return test_child_argv ("sleep", NULL);
}

int
test_child_killed_code (void)
{
  return 1;
}

void
test_child_assert_pid (GPid pid)
{
  g_assert_nonnull (pid);
}

void
test_sub_assert_pipe (EvlTransport *pipe)
{
  DWORD flags = 0;

  g_assert_nonnull (pipe);
  g_assert_true (GetHandleInformation ((HANDLE) (guintptr) evl_transport_get_fd (pipe), &flags));
  g_assert_false (flags & HANDLE_FLAG_INHERIT);
}
