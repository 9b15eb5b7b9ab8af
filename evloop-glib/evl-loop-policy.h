/* evl-loop-policy.h: event-loop policies and the module-level loop functions
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(EVL_INSIDE) && !defined(EVL_COMPILATION)
# error "Only <evloop-glib/evloop-glib.h> can be included directly."
#endif

#include "evl-loop.h"

G_BEGIN_DECLS

#define EVL_TYPE_LOOP_POLICY (evl_loop_policy_get_type ())

EVL_AVAILABLE_IN_ALL
G_DECLARE_DERIVABLE_TYPE (EvlLoopPolicy, evl_loop_policy, EVL, LOOP_POLICY, GObject)

/**
 * EvlLoopPolicyClass:
 * @parent_class: the parent class
 * @get_event_loop: return the loop of the calling thread (transfer none),
 *   or %NULL with @error set
 * @set_event_loop: make @loop (nullable) the loop of the calling thread
 * @new_event_loop: create a new loop (transfer full)
 *
 * The class structure of [class@Evl.LoopPolicy]. Subclasses (in C, Python
 * or JavaScript) override the three virtual functions.
 */
struct _EvlLoopPolicyClass
{
  GObjectClass parent_class;

  EvlLoop *(*get_event_loop) (EvlLoopPolicy  *self,
                              GError        **error);
  void     (*set_event_loop) (EvlLoopPolicy  *self,
                              EvlLoop        *loop);
  EvlLoop *(*new_event_loop) (EvlLoopPolicy  *self);

  /*< private >*/
  gpointer _evl_reserved[8];
};

EVL_AVAILABLE_IN_ALL
EvlLoop       *evl_loop_policy_get_event_loop (EvlLoopPolicy  *self,
                                               GError        **error);
EVL_AVAILABLE_IN_ALL
void           evl_loop_policy_set_event_loop (EvlLoopPolicy  *self,
                                               EvlLoop        *loop);
EVL_AVAILABLE_IN_ALL
EvlLoop       *evl_loop_policy_new_event_loop (EvlLoopPolicy  *self);

EVL_AVAILABLE_IN_ALL
EvlLoopPolicy *evl_get_event_loop_policy      (void);
EVL_AVAILABLE_IN_ALL
void           evl_set_event_loop_policy      (EvlLoopPolicy  *policy);
EVL_AVAILABLE_IN_ALL
EvlLoop       *evl_get_event_loop             (GError        **error);
EVL_AVAILABLE_IN_ALL
void           evl_set_event_loop             (EvlLoop        *loop);
EVL_AVAILABLE_IN_ALL
EvlLoop       *evl_new_event_loop             (void);
EVL_AVAILABLE_IN_ALL
EvlLoop       *evl_get_running_loop           (void);

G_END_DECLS
