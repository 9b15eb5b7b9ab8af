/* evl-loop-executor.h: blocking work on worker threads (run_in_executor)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(EVL_INSIDE) && !defined(EVL_COMPILATION)
# error "Only <evloop-glib/evloop-glib.h> can be included directly."
#endif

#include "evl-types.h"

G_BEGIN_DECLS

/**
 * EvlExecutorFunc:
 * @result: (out caller-allocates): an unset #GValue (`G_VALUE_INIT`) for
 *   the result; leave it unset for "no value"
 * @cancellable: (nullable): cancelled when the caller gives up on the
 *   result; check it in long computations
 * @user_data: (closure): the data given with the function
 * @error: return location for a #GError
 *
 * Blocking work run on a worker thread by
 * [method@Evl.Loop.run_in_executor_async]. It must not touch the loop or
 * anything else that is not thread-safe.
 *
 * Returns: %TRUE on success (with @result set, or left unset); %FALSE
 *   with @error set on failure
 */
typedef gboolean (*EvlExecutorFunc) (GValue        *result,
                                     GCancellable  *cancellable,
                                     gpointer       user_data,
                                     GError       **error);

EVL_AVAILABLE_IN_ALL
void       evl_loop_run_in_executor_async  (EvlLoop              *loop,
                                            EvlExecutorFunc       func,
                                            gpointer              func_data,
                                            GDestroyNotify        func_notify,
                                            GCancellable         *cancellable,
                                            GAsyncReadyCallback   callback,
                                            gpointer              user_data);
EVL_AVAILABLE_IN_ALL
gboolean   evl_loop_run_in_executor_finish (EvlLoop              *loop,
                                            GAsyncResult         *result,
                                            GValue               *value,
                                            GError              **error);
EVL_AVAILABLE_IN_ALL
EvlFuture *evl_loop_run_in_executor        (EvlLoop              *loop,
                                            EvlExecutorFunc       func,
                                            gpointer              func_data,
                                            GDestroyNotify        func_notify);

EVL_AVAILABLE_IN_ALL
void       evl_executor_set_max_threads    (guint                 max_threads);
EVL_AVAILABLE_IN_ALL
guint      evl_executor_get_max_threads    (void);

G_END_DECLS
