/* evl-test-util.h: helpers shared by the test programs
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <evloop-glib/evloop-glib.h>

G_BEGIN_DECLS

/* A new loop of the kind the test run is parametrized with:
 * EVL_TEST_LOOP=selector (default) | proactor, and for the selector loop
 * EVL_SELECTOR=epoll|poll|select (read by evl_selector_new_default()). */
EvlLoop *evl_test_new_loop       (void);

/* Name of the loop kind under test, for messages. */
const char *evl_test_loop_kind   (void);

/* Guard against hangs: arms a watchdog that aborts the test with a message
 * after @seconds unless evl_test_watchdog_cancel() is called. */
void     evl_test_watchdog_start (guint seconds);
void     evl_test_watchdog_cancel (void);

/* A connected non-blocking AF_UNIX stream socketpair (close-on-exec). */
void     evl_test_socketpair     (int fds[2]);

/* Count open fds of this process (from /proc/self/fd). */
guint    evl_test_count_fds      (void);

/* Run the loop until *flag becomes TRUE or @timeout_s passes; returns *flag. */
gboolean evl_test_run_until_flag (EvlLoop  *loop,
                                  gboolean *flag,
                                  double    timeout_s);

/* Standard test init: g_test_init + watchdog defaults. */
void     evl_test_init           (int     *argc,
                                  char  ***argv);

G_END_DECLS
