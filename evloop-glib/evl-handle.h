/* evl-handle.h: a scheduled callback
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(EVL_INSIDE) && !defined(EVL_COMPILATION)
# error "Only <evloop-glib/evloop-glib.h> can be included directly."
#endif

#include "evl-types.h"

G_BEGIN_DECLS

#define EVL_TYPE_HANDLE (evl_handle_get_type ())

EVL_AVAILABLE_IN_ALL
GType      evl_handle_get_type     (void) G_GNUC_CONST;
EVL_AVAILABLE_IN_ALL
EvlHandle *evl_handle_ref          (EvlHandle *handle);
EVL_AVAILABLE_IN_ALL
void       evl_handle_unref        (EvlHandle *handle);
EVL_AVAILABLE_IN_ALL
void       evl_handle_cancel       (EvlHandle *handle);
EVL_AVAILABLE_IN_ALL
gboolean   evl_handle_is_cancelled (EvlHandle *handle);
EVL_AVAILABLE_IN_ALL
double     evl_handle_get_when     (EvlHandle *handle);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (EvlHandle, evl_handle_unref)

G_END_DECLS
