/* evl-loop-wait-signal.h: awaiting a GObject signal
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(EVL_INSIDE) && !defined(EVL_COMPILATION)
# error "Only <evloop-glib/evloop-glib.h> can be included directly."
#endif

#include "evl-types.h"

G_BEGIN_DECLS

EVL_AVAILABLE_IN_ALL
void       evl_loop_wait_signal_async  (EvlLoop              *loop,
                                        gpointer              instance,
                                        const char           *detailed_signal,
                                        GCancellable         *cancellable,
                                        GAsyncReadyCallback   callback,
                                        gpointer              user_data);
EVL_AVAILABLE_IN_ALL
gboolean   evl_loop_wait_signal_finish (EvlLoop              *loop,
                                        GAsyncResult         *result,
                                        GValue              **values,
                                        guint                *n_values,
                                        GError              **error);

G_END_DECLS
