/* evl-future.h: a result that becomes available later
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(EVL_INSIDE) && !defined(EVL_COMPILATION)
# error "Only <evloop-glib/evloop-glib.h> can be included directly."
#endif

#include "evl-types.h"

G_BEGIN_DECLS

#define EVL_TYPE_FUTURE (evl_future_get_type ())

EVL_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (EvlFuture, evl_future, EVL, FUTURE, GObject)

EVL_AVAILABLE_IN_ALL
EvlFuture *evl_future_new               (EvlLoop           *loop);
EVL_AVAILABLE_IN_ALL
EvlLoop   *evl_future_get_loop          (EvlFuture         *future);
EVL_AVAILABLE_IN_ALL
gboolean   evl_future_set_result        (EvlFuture         *future,
                                         const GValue      *value,
                                         GError           **error);
EVL_AVAILABLE_IN_ALL
gboolean   evl_future_set_error         (EvlFuture         *future,
                                         const GError      *err,
                                         GError           **error);
EVL_AVAILABLE_IN_ALL
gboolean   evl_future_cancel            (EvlFuture         *future);
EVL_AVAILABLE_IN_ALL
gboolean   evl_future_is_done           (EvlFuture         *future);
EVL_AVAILABLE_IN_ALL
gboolean   evl_future_is_cancelled      (EvlFuture         *future);
EVL_AVAILABLE_IN_ALL
gboolean   evl_future_get_result        (EvlFuture         *future,
                                         GValue            *out,
                                         GError           **error);
EVL_AVAILABLE_IN_ALL
void       evl_future_add_done_callback (EvlFuture         *future,
                                         EvlFutureCallback  callback,
                                         gpointer           user_data,
                                         GDestroyNotify     notify);
EVL_AVAILABLE_IN_ALL
guint      evl_future_remove_done_callback (EvlFuture         *future,
                                            EvlFutureCallback  callback,
                                            gpointer           user_data);

G_END_DECLS
