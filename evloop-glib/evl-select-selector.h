/* evl-select-selector.h: the select selector
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(EVL_INSIDE) && !defined(EVL_COMPILATION)
# error "Only <evloop-glib/evloop-glib.h> can be included directly."
#endif

#include "evl-selector.h"

G_BEGIN_DECLS

#define EVL_TYPE_SELECT_SELECTOR (evl_select_selector_get_type ())
EVL_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (EvlSelectSelector, evl_select_selector, EVL, SELECT_SELECTOR, EvlSelector)
EVL_AVAILABLE_IN_ALL
EvlSelector *evl_select_selector_new (void);

G_END_DECLS
