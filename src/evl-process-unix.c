/* evl-process-unix.c: child processes on Unix
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "evl-config.h"

#include <errno.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib-unix.h>

#include "evl-loop-private.h"
#include "evl-process-private.h"

gboolean
evl_process_spawn (const char * const        *argv,
                   const char                *shell_command,
                   const EvlSubprocessStdio   modes[3],
                   GPid                      *pid,
                   int                        pipe_fds[3],
                   GError                   **error)
{
  GSpawnFlags flags = G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_SEARCH_PATH | G_SPAWN_CLOEXEC_PIPES;
  const char *shell_argv[] = { "/bin/sh", "-c", shell_command, NULL };
  guint i;

  if (argv == NULL)
    argv = shell_argv;
  if (modes[0] == EVL_SUBPROCESS_STDIO_DEVNULL)
    flags |= G_SPAWN_STDIN_FROM_DEV_NULL;
  else if (modes[0] == EVL_SUBPROCESS_STDIO_INHERIT)
    flags |= G_SPAWN_CHILD_INHERITS_STDIN;
  if (modes[1] == EVL_SUBPROCESS_STDIO_DEVNULL)
    flags |= G_SPAWN_STDOUT_TO_DEV_NULL;
  else if (modes[1] == EVL_SUBPROCESS_STDIO_INHERIT)
    flags |= G_SPAWN_CHILD_INHERITS_STDOUT;
  if (modes[2] == EVL_SUBPROCESS_STDIO_DEVNULL)
    flags |= G_SPAWN_STDERR_TO_DEV_NULL;
  else if (modes[2] == EVL_SUBPROCESS_STDIO_INHERIT)
    flags |= G_SPAWN_CHILD_INHERITS_STDERR;

  for (i = 0; i < 3; i++)
    pipe_fds[i] = -1;
  if (!g_spawn_async_with_pipes_and_fds (NULL, argv, NULL, flags, NULL, NULL,
                                         -1, -1, -1, NULL, NULL, 0, pid,
                                         modes[0] == EVL_SUBPROCESS_STDIO_PIPE ? &pipe_fds[0] : NULL,
                                         modes[1] == EVL_SUBPROCESS_STDIO_PIPE ? &pipe_fds[1] : NULL,
                                         modes[2] == EVL_SUBPROCESS_STDIO_PIPE ? &pipe_fds[2] : NULL,
                                         error))
    return FALSE;
  for (i = 0; i < 3; i++)
    if (pipe_fds[i] >= 0)
      g_unix_set_fd_nonblocking (pipe_fds[i], TRUE, NULL);
  return TRUE;
}

gboolean
evl_process_send_signal (GPid      pid,
                         int       signum,
                         GError  **error)
{
  if (kill (pid, signum) < 0)
    {
      int errsv = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                   _("Cannot send signal %d to child process %d: %s"),
                   signum, (int) pid, g_strerror (errsv));
      return FALSE;
    }
  return TRUE;
}

void
evl_process_wait_exited (GPid pid)
{
  siginfo_t info;

  while (waitid (P_PID, pid, &info, WEXITED | WNOWAIT) < 0 && errno == EINTR)
    ;
}

void
evl_process_kill_and_release (GPid pid)
{
  int status;

  kill (pid, SIGKILL);
  while (waitpid (pid, &status, 0) < 0 && errno == EINTR)
    ;
}

int
evl_process_get_id (GPid pid)
{
  return (int) pid;
}
