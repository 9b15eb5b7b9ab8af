/* evl-proactor-loop.h: the completion-based event loop (io_uring, IOCP)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(EVL_INSIDE) && !defined(EVL_COMPILATION)
# error "Only <evloop-glib/evloop-glib.h> can be included directly."
#endif

#include "evl-loop.h"

G_BEGIN_DECLS

#define EVL_TYPE_PROACTOR_LOOP (evl_proactor_loop_get_type ())

EVL_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (EvlProactorLoop, evl_proactor_loop, EVL, PROACTOR_LOOP, EvlLoop)

EVL_AVAILABLE_IN_ALL
EvlLoop *evl_proactor_loop_new (GError **error);

G_END_DECLS
