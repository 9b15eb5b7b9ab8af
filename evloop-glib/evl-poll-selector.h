/* evl-poll-selector.h: the poll selector
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(EVL_INSIDE) && !defined(EVL_COMPILATION)
# error "Only <evloop-glib/evloop-glib.h> can be included directly."
#endif

#include "evl-selector.h"

G_BEGIN_DECLS

#define EVL_TYPE_POLL_SELECTOR (evl_poll_selector_get_type ())
EVL_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (EvlPollSelector, evl_poll_selector, EVL, POLL_SELECTOR, EvlSelector)
EVL_AVAILABLE_IN_ALL
EvlSelector *evl_poll_selector_new (void);

G_END_DECLS
