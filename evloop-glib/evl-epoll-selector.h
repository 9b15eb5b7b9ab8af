/* evl-epoll-selector.h: the epoll selector
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(EVL_INSIDE) && !defined(EVL_COMPILATION)
# error "Only <evloop-glib/evloop-glib.h> can be included directly."
#endif

#include "evl-selector.h"

G_BEGIN_DECLS

#define EVL_TYPE_EPOLL_SELECTOR (evl_epoll_selector_get_type ())
EVL_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (EvlEpollSelector, evl_epoll_selector, EVL, EPOLL_SELECTOR, EvlSelector)
EVL_AVAILABLE_IN_ALL
EvlSelector *evl_epoll_selector_new (GError **error);

G_END_DECLS
