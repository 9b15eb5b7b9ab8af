/* evl-winsock-wait-private.h: what the Windows selectors share
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "evl-os-private.h"
#include "evl-fd-table-private.h"

#include <evloop-glib/evloop-glib.h>

G_BEGIN_DECLS

/* Winsock readiness cannot be waited for next to other HANDLEs, and GLib
 * waits for HANDLEs only (WaitForMultipleObjects in g_poll()). So every
 * socket a Windows selector watches is also tied with WSAEventSelect() to
 * one manual-reset event of the selector: the event is what GLib waits
 * for when the loop runs inside GLib (the selector's "fd", see
 * evl_selector_get_fd()), and what the selector waits for next to the
 * HANDLEs of a GMainContext the loop drives.
 *
 * Winsock records a network event only once until the socket is read or
 * written again; the event is therefore only a hint that something may
 * have changed, and the truth comes from a zero-timeout WSAPoll()/select()
 * right after the event is reset. A selection that reports a ready socket
 * sets the event again, so the loop inside GLib behaves level-triggered
 * like epoll: a reader that left data unread is called again.
 *
 * Limits: a socket can be tied to one event only; a socket watched by two
 * selectors, or a GSocket's own socket (GSocket uses WSAEventSelect for
 * its GSource), keeps working for the selector's zero-timeout polls, but
 * only the last WSAEventSelect() wakes a waiter. Sockets also stay
 * non-blocking while tied (they are, for the loop, anyway). */
typedef struct
{
  EvlFdTable  sockets;  /* the watched sockets, with the selector's entries */
  HANDLE      event;    /* WSACreateEvent(); NULL if that failed */
  GArray     *handles;  /* WatchedHandle: the waitable HANDLEs watched */
  HANDLE      fired;    /* the HANDLE the last block returned for, if any */
} EvlWinsockWait;

/* The selectors also watch waitable HANDLEs (events, processes, GLib's
 * GPollFDs of a GMainContext the loop drives): "readable" while
 * signalled. Waiting for sockets and HANDLEs together goes through
 * WaitForMultipleObjects(), so at most EVL_WINSOCK_MAX_HANDLES of them. */
#define EVL_WINSOCK_MAX_HANDLES (MAXIMUM_WAIT_OBJECTS - 1)

/* The registrations of a selector: a socket gets an entry in
 * wait->sockets (an EvlFdTable of @entry_size entries, see
 * evl_winsock_wait_init()), stored in *@entry for the selector to fill,
 * and is tied to the event; a HANDLE is watched by @wait itself (*@entry
 * is then NULL). */
gboolean evl_winsock_wait_register   (EvlWinsockWait *wait,
                                      int             fd,
                                      EvlEventFlags   events,
                                      gpointer       *entry,
                                      GError        **error);
/* The entry of socket @fd for the selector to update, or NULL when @fd is
 * a watched HANDLE (then updated here). */
gpointer evl_winsock_wait_modify     (EvlWinsockWait *wait,
                                      int             fd,
                                      EvlEventFlags   events);
void     evl_winsock_wait_unregister (EvlWinsockWait *wait,
                                      int             fd);
/* Adds the signalled HANDLEs (EVL_EVENT_READ) to @events from @n on;
 * returns the new count. Waiting takes an auto-reset event's signal. */
guint    evl_winsock_wait_collect_handles (EvlWinsockWait   *wait,
                                           EvlSelectorEvent *events,
                                           guint             n,
                                           guint             n_events);

void     evl_winsock_wait_init     (EvlWinsockWait *wait,
                                    gsize           entry_size);
/* Unties the sockets still watched, too. */
void     evl_winsock_wait_clear    (EvlWinsockWait *wait);
/* Before the zero-timeout poll of a selection. */
void     evl_winsock_wait_reset    (EvlWinsockWait *wait);
/* After a selection: @reported says whether it reported a ready socket. */
void     evl_winsock_wait_done     (EvlWinsockWait *wait,
                                    gboolean        reported);
/* Blocks up to @timeout_ns (-1: no limit) until the event or a watched
 * HANDLE is signalled. */
void     evl_winsock_wait_block    (EvlWinsockWait *wait,
                                    gint64          timeout_ns);
int      evl_winsock_wait_get_fd   (EvlWinsockWait *wait);
/* Whether @timeout_ns is shorter than Winsock's millisecond resolution
 * (and not 0): the selectors then poll until the deadline. */
static inline gboolean
evl_winsock_is_sub_ms (gint64 timeout_ns)
{
  return timeout_ns > 0 && timeout_ns < 1000000;
}

/* Milliseconds for Winsock, rounded up: never wake before the timeout. */
int      evl_winsock_timeout_ms    (gint64          timeout_ns);

/* Waits for the sockets of a selector (through @poll_sockets) and the
 * HANDLEs of @wait together, as a selector's select() does, up to
 * @timeout_ns (-1: no limit, 0: a poll).
 *
 * @poll_sockets (@data, timeout_ms, @error) waits up to timeout_ms (-1:
 * no limit, 0: a poll) for the sockets (wait->sockets) with WSAPoll() or
 * select() and returns what that returns: a failure is -1, with @error
 * set or the Winsock error left for the caller. It is called only when
 * there are sockets (both calls refuse an empty set).
 *
 * Returns what the last @poll_sockets returned (0 when it was not
 * called); the signalled HANDLEs are in @events, *@n_handles of them. */
typedef int (*EvlWinsockPollFunc) (gpointer   data,
                                   int        timeout_ms,
                                   GError   **error);

int      evl_winsock_wait_select   (EvlWinsockWait     *wait,
                                    gint64              timeout_ns,
                                    EvlWinsockPollFunc  poll_sockets,
                                    gpointer            data,
                                    EvlSelectorEvent   *events,
                                    guint               n_events,
                                    guint              *n_handles,
                                    GError            **error);

G_END_DECLS
