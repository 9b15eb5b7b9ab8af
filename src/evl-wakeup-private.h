/* evl-wakeup-private.h: a wakeup fd (eventfd, or a pipe where there is none)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Creates a non-blocking, close-on-exec wakeup channel. For an eventfd
 * *read_fd == *write_fd. On Windows a completion-port channel already in
 * *write_fd (evl_wakeup_open_port(), which a proactor backend made before
 * the loop opened its wakeup) is kept, in both. */
gboolean evl_wakeup_open   (int     *read_fd,
                            int     *write_fd,
                            GError **error);
/* Async-signal-safe; preserves errno. */
void     evl_wakeup_signal (int      write_fd);
/* Empties the channel. */
void     evl_wakeup_drain  (int      read_fd);
void     evl_wakeup_close  (int      read_fd,
                            int      write_fd);

/* Windows only (evl-wakeup-win32.c): a channel that wakes a wait on the
 * I/O completion port @port with a packet of completion key @key and no
 * OVERLAPPED, coalesced: at most one such packet is queued at a time; the
 * waiter calls evl_wakeup_drain() on the channel when it dequeues it,
 * which lets the next signal post again. *fd is both ends; there is nothing
 * to watch. evl_wakeup_close() frees it (after the port is closed: a
 * signal must not race with the close, as for any channel). FALSE (errno
 * EMFILE) when 2^18 of them are open. */
gboolean evl_wakeup_open_port (gpointer   port,
                               guintptr   key,
                               int       *fd);

G_END_DECLS
