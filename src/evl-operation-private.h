/* evl-operation-private.h: the GAsyncResult of the loop's own operations
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <evloop-glib/evloop-glib.h>

G_BEGIN_DECLS

/* EvlOperation is GTask's small cousin for work that completes inside the
 * loop: its callback is scheduled with evl_loop_call_soon_internal(), so it
 * runs from the loop's own dispatch whether or not any GMainContext is
 * iterated (GTask would defer it to an idle source on the thread-default
 * context when completed outside a dispatch of that context).
 *
 * The callback runs exactly once: from the loop when the operation
 * completes, or, when the loop is closed (or closes before the callback
 * ran), synchronously from the call that completed it or from
 * evl_loop_close(). */

#define EVL_TYPE_OPERATION (evl_operation_get_type ())

G_DECLARE_FINAL_TYPE (EvlOperation, evl_operation, EVL, OPERATION, GObject)

EvlOperation *evl_operation_new              (EvlLoop              *loop,
                                              gpointer              source_tag,
                                              GAsyncReadyCallback   callback,
                                              gpointer              user_data);
EvlLoop      *evl_operation_get_loop         (EvlOperation         *self);
gboolean      evl_operation_is_completed     (EvlOperation         *self);

/* Completing: exactly one of these, once. @error is taken. */
void          evl_operation_return_pointer   (EvlOperation         *self,
                                              gpointer              result,
                                              GDestroyNotify        result_notify);
void          evl_operation_return_size      (EvlOperation         *self,
                                              gssize                result);
void          evl_operation_return_boolean   (EvlOperation         *self,
                                              gboolean              result);
void          evl_operation_return_error     (EvlOperation         *self,
                                              GError               *error);

/* For a completion found inside one of the loop's own callbacks (a watch
 * that fired), where running the callback at once is what the loop would
 * do a moment later: evl_operation_hold() (before the operation completes)
 * keeps the next return_* from scheduling the callback, and
 * evl_operation_deliver_held() then runs it, once, right there, and takes
 * a reference of the caller's. Never from inside a call of the caller's:
 * the callback must not run synchronously from the function that started
 * the operation. */
void          evl_operation_hold             (EvlOperation         *self,
                                              gboolean              hold);
void          evl_operation_deliver_held     (EvlOperation         *self);

/* For the _finish functions: whether @result is an EvlOperation of
 * @source_object made by the function @source_tag. */
gboolean      evl_operation_is_valid         (GAsyncResult         *result,
                                              gpointer              source_object,
                                              gpointer              source_tag);

/* Each hands the result (or a copy of the error) over once. A pointer
 * result not taken is freed with its notify when the operation is. */
gpointer      evl_operation_propagate_pointer (EvlOperation        *self,
                                               GError             **error);
gssize        evl_operation_propagate_size    (EvlOperation        *self,
                                               GError             **error);
gboolean      evl_operation_propagate_boolean (EvlOperation        *self,
                                               GError             **error);

G_END_DECLS
