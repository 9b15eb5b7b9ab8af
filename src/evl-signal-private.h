/* evl-signal-private.h: process-wide signal delivery to loops
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* A loop's subscription to POSIX signals. The handler that evloop installs
 * with sigaction() is async-signal-safe: it only sets atomic flags and
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
int              evl_signal_max             (void);

G_END_DECLS
