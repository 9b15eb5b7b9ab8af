/* evl-selector-loop.h: the readiness-based event loop
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(EVL_INSIDE) && !defined(EVL_COMPILATION)
# error "Only <evloop-glib/evloop-glib.h> can be included directly."
#endif

#include "evl-loop.h"
#include "evl-selector.h"

G_BEGIN_DECLS

#define EVL_TYPE_SELECTOR_LOOP (evl_selector_loop_get_type ())

EVL_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (EvlSelectorLoop, evl_selector_loop, EVL, SELECTOR_LOOP, EvlLoop)

EVL_AVAILABLE_IN_ALL
EvlLoop     *evl_selector_loop_new          (EvlSelector     *selector);
EVL_AVAILABLE_IN_ALL
EvlSelector *evl_selector_loop_get_selector (EvlSelectorLoop *self);

G_END_DECLS
