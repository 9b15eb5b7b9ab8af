/* evl-wakeup-private.h: a wakeup fd (eventfd, or a pipe where there is none)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Creates a non-blocking, close-on-exec wakeup channel. For an eventfd
 * *read_fd == *write_fd. */
gboolean evl_wakeup_open   (int     *read_fd,
                            int     *write_fd,
                            GError **error);
/* Async-signal-safe; preserves errno. */
void     evl_wakeup_signal (int      write_fd);
/* Empties the channel. */
void     evl_wakeup_drain  (int      read_fd);
void     evl_wakeup_close  (int      read_fd,
                            int      write_fd);

G_END_DECLS
