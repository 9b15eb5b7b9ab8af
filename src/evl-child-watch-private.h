/* evl-child-watch-private.h: learning that a child process exited, on
 * the loop, without racing GLib's child watch
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <evloop-glib/evloop-glib.h>

G_BEGIN_DECLS

typedef struct _EvlChildWatch EvlChildWatch;

/* Called once, from the loop, when @pid has exited and was reaped:
 * @returncode is its exit status, or -signum when a signal killed it. */
typedef void (*EvlChildExitFunc) (int      returncode,
                                  gpointer user_data);

/* Watches @pid (a child spawned with G_SPAWN_DO_NOT_REAP_CHILD) with a
 * pidfd as an internal reader; where pidfd_open is missing (ENOSYS), with
 * a SIGCHLD handler on the loop and waitpid (pid, WNOHANG)
 * (evl-child-watch-unix.c). On Windows @pid is the process HANDLE, itself
 * the internal reader; the exit code comes from GetExitCodeProcess()
 * (evl-child-watch-win32.c). */
EvlChildWatch *evl_child_watch_new  (EvlLoop           *loop,
                                     GPid               pid,
                                     EvlChildExitFunc   func,
                                     gpointer           user_data,
                                     GError           **error);
/* Whether the child was reaped; if not yet, tries once more now. */
gboolean       evl_child_watch_poll (EvlChildWatch     *watch);
/* Stops watching; @func is not called any more. */
void           evl_child_watch_free (EvlChildWatch     *watch);

G_END_DECLS
