/* evl-loop-executor-private.h: the executor for the library's own work
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <evloop-glib/evloop-glib.h>

G_BEGIN_DECLS

/* evl_loop_run_in_executor_async() for a public function of the library
 * built on the executor (getaddrinfo, getnameinfo): the GAsyncResult is
 * tagged with @source_tag, so that function's _finish can check it and
 * take the value with evl_loop_executor_propagate(). */
void      evl_loop_run_in_executor_tagged (EvlLoop             *loop,
                                           EvlExecutorFunc      func,
                                           gpointer             func_data,
                                           GDestroyNotify       func_notify,
                                           GCancellable        *cancellable,
                                           gpointer             source_tag,
                                           GAsyncReadyCallback  callback,
                                           gpointer             user_data);

/* Completes such an operation without a thread (a result known at once):
 * the callback runs from the loop as usual. Takes @value (moved from, left
 * unset; NULL: no value) or @error; a cancelled @cancellable wins. */
void      evl_loop_executor_return        (EvlLoop             *loop,
                                           gpointer             source_tag,
                                           GCancellable        *cancellable,
                                           GValue              *value,
                                           GError              *error,
                                           GAsyncReadyCallback  callback,
                                           gpointer             user_data);

/* Whether @result is such an operation of @loop tagged @source_tag. */
gboolean  evl_loop_executor_is_valid      (EvlLoop             *loop,
                                           GAsyncResult        *result,
                                           gpointer             source_tag);

/* Moves the result into @value (unset; initialized on success), or
 * returns FALSE with @error set. */
gboolean  evl_loop_executor_propagate     (GAsyncResult        *result,
                                           GValue              *value,
                                           GError             **error);

G_END_DECLS
