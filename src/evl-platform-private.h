/* evl-platform-private.h: small platform queries, one implementation per OS
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Whether the calling thread is the process's main thread (the one that
 * ran main()), as Python's threading.main_thread(). */
gboolean  evl_is_main_thread (void);

/* Has @func called in the child process after every fork() (pthread_atfork);
 * nothing where there is no fork(). */
void      evl_platform_at_fork_child (void (*func) (void));

/* Why an operation that is not ported to this platform yet failed with
 * EVL_LOOP_ERROR_NOT_SUPPORTED (translated). */
const char *evl_platform_not_ported_message (void);

G_END_DECLS
