/* evl-process-private.h: starting, signalling and waiting for a child
 * process, per platform (evl-process-unix.c, evl-process-win32.c)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <signal.h>

#include <evloop-glib/evloop-glib.h>

G_BEGIN_DECLS

/* mingw-w64 defines SIGKILL only with _POSIX; on Windows it means
 * TerminateProcess(), as SIGTERM does. */
#ifndef SIGKILL
# define SIGKILL 9
#endif

/* Starts @argv (looked up in PATH), or @shell_command through the
 * platform's shell when @argv is NULL (/bin/sh -c; %COMSPEC% /c on
 * Windows), with its standard streams as @modes say. On success *@pid is
 * the child (a pid on Unix, the process HANDLE on Windows, as GLib's
 * GPid) and @pipe_fds[i] our end of stream i where modes[i] is
 * EVL_SUBPROCESS_STDIO_PIPE (-1 elsewhere): non-blocking and
 * close-on-exec on Unix, an overlapped pipe HANDLE that is not
 * inheritable on Windows. FALSE with @error set (a G_SPAWN_ERROR) on
 * failure. */
gboolean evl_process_spawn        (const char * const        *argv,
                                   const char                *shell_command,
                                   const EvlSubprocessStdio   modes[3],
                                   GPid                      *pid,
                                   int                        pipe_fds[3],
                                   GError                   **error);

/* Sends @signum to the running (not yet reaped) child @pid. Windows:
 * SIGTERM and SIGKILL end it with TerminateProcess() (return code 1, as
 * Python's terminate() and kill()); any other signal fails with
 * EVL_LOOP_ERROR_NOT_SUPPORTED. */
gboolean evl_process_send_signal  (GPid                       pid,
                                   int                        signum,
                                   GError                   **error);

/* Waits until @pid has exited, without reaping it (the child watch does
 * that); for a child just killed. */
void     evl_process_wait_exited  (GPid                       pid);

/* Kills @pid, waits for it and releases it: for a child whose watch
 * could not be set up. */
void     evl_process_kill_and_release (GPid                   pid);

/* The number that names @pid in messages (the process id). */
int      evl_process_get_id       (GPid                       pid);

G_END_DECLS
