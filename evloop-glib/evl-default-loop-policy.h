/* evl-default-loop-policy.h: one loop per thread
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(EVL_INSIDE) && !defined(EVL_COMPILATION)
# error "Only <evloop-glib/evloop-glib.h> can be included directly."
#endif

#include "evl-loop-policy.h"

G_BEGIN_DECLS

#define EVL_TYPE_DEFAULT_LOOP_POLICY (evl_default_loop_policy_get_type ())

EVL_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (EvlDefaultLoopPolicy, evl_default_loop_policy, EVL, DEFAULT_LOOP_POLICY, EvlLoopPolicy)

EVL_AVAILABLE_IN_ALL
EvlLoopPolicy *evl_default_loop_policy_new           (void);
EVL_AVAILABLE_IN_ALL
GType          evl_default_loop_policy_get_loop_type (EvlDefaultLoopPolicy *self);
EVL_AVAILABLE_IN_ALL
void           evl_default_loop_policy_set_loop_type (EvlDefaultLoopPolicy *self,
                                                      GType                 loop_type);

G_END_DECLS
