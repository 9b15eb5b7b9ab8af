/* evl-signal-private.h: process-wide signal delivery to loops
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* A loop's subscription to signals (POSIX signals; on Windows console
 * control events as SIGINT and SIGBREAK, and SIGTERM). The handler that
 * evloop installs is async-signal-safe: it only sets atomic flags and
 * writes to the loop's wakeup fd. */
typedef struct _EvlSignalTarget EvlSignalTarget;

typedef void (*EvlSignalFunc) (int signum, gpointer user_data);

EvlSignalTarget *evl_signal_target_new      (int               wake_fd_write,
                                             gint             *wake_pending);
void             evl_signal_target_free     (EvlSignalTarget  *target);
gboolean         evl_signal_target_watch    (EvlSignalTarget  *target,
                                             int               signum,
                                             GError          **error);
void             evl_signal_target_unwatch  (EvlSignalTarget  *target,
                                             int               signum);
gboolean         evl_signal_target_pending  (EvlSignalTarget  *target);
void             evl_signal_target_dispatch (EvlSignalTarget  *target,
                                             EvlSignalFunc     func,
                                             gpointer          user_data);
gboolean         evl_signal_check_signum    (int               signum,
                                             GError          **error);
/* One more than the highest signal number that may be watched here:
 * NSIG (the C runtime's on Windows), at most EVL_SIGNAL_NSIG. */
int              evl_signal_max             (void);

/* The platform part: evl-signal-unix.c (sigaction()) or
 * evl-signal-win32.c (console control events and the C runtime's
 * signal()); evl-signal.c keeps the per-signal table of loops, which
 * every signal number below EVL_SIGNAL_NSIG fits. */
#define EVL_SIGNAL_NSIG 65

/* @signum is between 1 and evl_signal_max() - 1: TRUE when it can be
 * watched here, or FALSE with @error set (evl_signal_set_invalid() for a
 * signal that can never be caught). */
gboolean         evl_signal_os_check        (int               signum,
                                             GError          **error);
/* Called under the table's lock when the first loop watches @signum:
 * installs the handler, which calls evl_signal_deliver(). Returns NULL, or
 * why it failed (free it). */
char *           evl_signal_os_install      (int               signum);
/* Called under the table's lock when the last loop stops watching
 * @signum; the handlers still running are waited for afterwards. */
void             evl_signal_os_uninstall    (int               signum);

/* For the platform's handler, which may run in a signal handler: it calls
 * evl_signal_deliver() between evl_signal_handler_enter() and _leave().
 * A loop that stops watching waits for every handler between the two, so
 * what a handler reads there (the Unix one's saved action) stays valid. */
void             evl_signal_handler_enter   (void);
void             evl_signal_handler_leave   (void);
/* Marks @signum pending in every loop watching it and wakes them; returns
 * whether some loop watches it. Async-signal-safe. */
gboolean         evl_signal_deliver         (int               signum);
/* Sets the EVL_LOOP_ERROR_INVALID error of a signal that cannot be
 * caught. */
void             evl_signal_set_invalid     (GError          **error,
                                             int               signum);

G_END_DECLS
