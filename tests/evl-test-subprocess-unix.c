/* evl-test-subprocess-unix.c: the children of the subprocess tests on
 * POSIX: cat, sh and sleep
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "evl-test-subprocess.h"

#include <fcntl.h>
#include <signal.h>

char **
test_child_argv_cat (void)
{
  const char *argv[] = { "cat", NULL };

  return g_strdupv ((char **) argv);
}

char **
test_child_argv_exit (int code)
{
  char *cmd = g_strdup_printf ("exit %d", code);
  const char *argv[] = { "sh", "-c", cmd, NULL };
  char **copy = g_strdupv ((char **) argv);

  g_free (cmd);
  return copy;
}

char **
test_child_argv_sleep (void)
{
  const char *argv[] = { "sleep", "1000", NULL };

  return g_strdupv ((char **) argv);
}

int
test_child_killed_code (void)
{
  return -SIGKILL;
}

void
test_child_assert_pid (GPid pid)
{
  g_assert_cmpint (pid, >, 0);
}

void
test_sub_assert_pipe (EvlTransport *pipe)
{
  g_assert_nonnull (pipe);
  g_assert_true (fcntl (evl_transport_get_fd (pipe), F_GETFL) & O_NONBLOCK);
}
