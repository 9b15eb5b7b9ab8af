/* evl-loop-policy.c: event-loop policies and the module-level loop functions
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "evl-config.h"

#include <evloop-glib/evloop-glib.h>

#include "evl-loop-private.h"

/**
 * EvlLoopPolicy:
 *
 * Decides which loop [func@Evl.get_event_loop] returns in each thread and
 * how [func@Evl.new_event_loop] creates loops: the counterpart of asyncio's
 * `AbstractEventLoopPolicy`.
 *
 * The process has one current policy, [func@Evl.get_event_loop_policy]; it
 * is an [class@Evl.DefaultLoopPolicy] unless [func@Evl.set_event_loop_policy]
 * installed another one. Subclasses, in C or in a binding language, override
 * the three virtual functions of [struct@Evl.LoopPolicyClass]. Policies are
 * called from many threads at once and must be thread-safe.
 *
 * A policy written in a binding language must keep the loop it returns from
 * `get_event_loop` alive itself.
 */

G_DEFINE_ABSTRACT_TYPE (EvlLoopPolicy, evl_loop_policy, G_TYPE_OBJECT)

/* The current policy. Replaced under the lock; a policy that is no longer
 * current lives on while a caller of the module functions still uses it. */
static GMutex         current_policy_lock;
static EvlLoopPolicy *current_policy;

static void
evl_loop_policy_class_init (EvlLoopPolicyClass *klass)
{
}

static void
evl_loop_policy_init (EvlLoopPolicy *self)
{
}

/**
 * evl_loop_policy_get_event_loop: (virtual get_event_loop)
 * @self: a policy
 * @error: return location for a #GError
 *
 * Returns the loop of the calling thread according to @self. What that
 * means is up to the policy; [class@Evl.DefaultLoopPolicy] keeps one loop
 * per thread and creates one on demand in the main thread only.
 *
 * If the implementation returns %NULL without setting an error (an
 * exception in a binding language, for instance), this fails with
 * %EVL_LOOP_ERROR_NO_LOOP.
 *
 * Returns: (transfer none): the loop of the calling thread, or %NULL with
 *   @error set
 */
EvlLoop *
evl_loop_policy_get_event_loop (EvlLoopPolicy  *self,
                                GError        **error)
{
  EvlLoopPolicyClass *klass;
  GError *local_error = NULL;
  EvlLoop *loop = NULL;

  g_return_val_if_fail (EVL_IS_LOOP_POLICY (self), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  klass = EVL_LOOP_POLICY_GET_CLASS (self);
  if (klass->get_event_loop != NULL)
    loop = klass->get_event_loop (self, &local_error);

  if (loop == NULL)
    {
      if (local_error == NULL)
        local_error = g_error_new (EVL_LOOP_ERROR, EVL_LOOP_ERROR_NO_LOOP,
                                   _("The event-loop policy %s returned no loop for this thread; "
                                     "create one with evl_new_event_loop() and make it current with evl_set_event_loop()"),
                                   G_OBJECT_TYPE_NAME (self));
      g_propagate_error (error, local_error);
      return NULL;
    }

  if (local_error != NULL)
    {
      g_critical ("%s::get_event_loop() returned a loop and set an error (%s); "
                  "the error is ignored",
                  G_OBJECT_TYPE_NAME (self), local_error->message);
      g_clear_error (&local_error);
    }

  g_return_val_if_fail (EVL_IS_LOOP (loop), NULL);

  return loop;
}

/**
 * evl_loop_policy_set_event_loop: (virtual set_event_loop)
 * @self: a policy
 * @loop: (nullable): the loop to make current in the calling thread, or
 *   %NULL to unset it
 *
 * Makes @loop the loop of the calling thread according to @self.
 */
void
evl_loop_policy_set_event_loop (EvlLoopPolicy *self,
                                EvlLoop       *loop)
{
  EvlLoopPolicyClass *klass;

  g_return_if_fail (EVL_IS_LOOP_POLICY (self));
  g_return_if_fail (loop == NULL || EVL_IS_LOOP (loop));

  klass = EVL_LOOP_POLICY_GET_CLASS (self);
  if (klass->set_event_loop == NULL)
    {
      g_critical ("%s does not implement set_event_loop()", G_OBJECT_TYPE_NAME (self));
      return;
    }

  klass->set_event_loop (self, loop);
}

/**
 * evl_loop_policy_new_event_loop: (virtual new_event_loop)
 * @self: a policy
 *
 * Creates a new loop according to @self. The loop is not made current in
 * any thread.
 *
 * Returns: (transfer full): a new loop
 */
EvlLoop *
evl_loop_policy_new_event_loop (EvlLoopPolicy *self)
{
  EvlLoopPolicyClass *klass;
  EvlLoop *loop;

  g_return_val_if_fail (EVL_IS_LOOP_POLICY (self), NULL);

  klass = EVL_LOOP_POLICY_GET_CLASS (self);
  if (klass->new_event_loop == NULL)
    {
      g_critical ("%s does not implement new_event_loop()", G_OBJECT_TYPE_NAME (self));
      return NULL;
    }

  loop = klass->new_event_loop (self);
  if (loop == NULL)
    {
      g_critical ("%s::new_event_loop() returned no loop", G_OBJECT_TYPE_NAME (self));
      return NULL;
    }

  if (!EVL_IS_LOOP (loop))
    {
      g_critical ("%s::new_event_loop() returned a %s, not an EvlLoop",
                  G_OBJECT_TYPE_NAME (self), G_OBJECT_TYPE_NAME (loop));
      g_object_unref (loop);
      return NULL;
    }

  return loop;
}

/* The current policy, created on first use; call with the lock held. */
static EvlLoopPolicy *
evl_current_policy_locked (void)
{
  if (current_policy == NULL)
    current_policy = evl_default_loop_policy_new ();
  return current_policy;
}

/* A new reference to the current policy: the module functions use it
 * without the lock while another thread may replace it. */
static EvlLoopPolicy *
evl_ref_event_loop_policy (void)
{
  EvlLoopPolicy *policy;

  g_mutex_lock (&current_policy_lock);
  policy = g_object_ref (evl_current_policy_locked ());
  g_mutex_unlock (&current_policy_lock);

  return policy;
}

/**
 * evl_get_event_loop_policy:
 *
 * Returns the current event-loop policy of the process, creating an
 * [class@Evl.DefaultLoopPolicy] on first use. The policy stays valid until
 * another one replaces it; take a reference to keep it longer.
 *
 * Returns: (transfer none): the current policy
 */
EvlLoopPolicy *
evl_get_event_loop_policy (void)
{
  EvlLoopPolicy *policy;

  g_mutex_lock (&current_policy_lock);
  policy = evl_current_policy_locked ();
  g_mutex_unlock (&current_policy_lock);

  return policy;
}

/**
 * evl_set_event_loop_policy:
 * @policy: (nullable): the new policy, or %NULL to restore a new
 *   [class@Evl.DefaultLoopPolicy]
 *
 * Makes @policy the current event-loop policy of the process. The library
 * keeps its own reference to it and drops the one it held on the previous
 * policy (which does not close that policy's loops).
 */
void
evl_set_event_loop_policy (EvlLoopPolicy *policy)
{
  EvlLoopPolicy *old;

  g_return_if_fail (policy == NULL || EVL_IS_LOOP_POLICY (policy));

  if (policy != NULL)
    g_object_ref (policy);

  g_mutex_lock (&current_policy_lock);
  old = current_policy;
  /* NULL: a new default policy is created on next use. */
  current_policy = policy;
  g_mutex_unlock (&current_policy_lock);

  /* Outside the lock: finalizing a policy drops its loops, which may run
   * arbitrary code. */
  g_clear_object (&old);
}

/**
 * evl_get_event_loop:
 * @error: return location for a #GError
 *
 * Returns the loop that runs in the calling thread if there is one (see
 * [func@Evl.get_running_loop]), otherwise the loop the current policy
 * assigns to this thread (see [method@Evl.LoopPolicy.get_event_loop]). With
 * the default policy this creates a loop on demand in the main thread and
 * fails with %EVL_LOOP_ERROR_NO_LOOP in other threads that have none.
 *
 * The loop stays valid while it is the thread's loop in the current policy;
 * take a reference to keep it longer.
 *
 * Returns: (transfer none): the loop of the calling thread, or %NULL with
 *   @error set
 */
EvlLoop *
evl_get_event_loop (GError **error)
{
  EvlLoopPolicy *policy;
  EvlLoop *loop;

  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  loop = evl_get_running_loop ();
  if (loop != NULL)
    return loop;

  policy = evl_ref_event_loop_policy ();
  loop = evl_loop_policy_get_event_loop (policy, error);
  g_object_unref (policy);

  return loop;
}

/**
 * evl_set_event_loop:
 * @loop: (nullable): the loop to make current in the calling thread, or
 *   %NULL to unset it
 *
 * Makes @loop the loop of the calling thread in the current policy (see
 * [method@Evl.LoopPolicy.set_event_loop]).
 */
void
evl_set_event_loop (EvlLoop *loop)
{
  EvlLoopPolicy *policy;

  g_return_if_fail (loop == NULL || EVL_IS_LOOP (loop));

  policy = evl_ref_event_loop_policy ();
  evl_loop_policy_set_event_loop (policy, loop);
  g_object_unref (policy);
}

/**
 * evl_new_event_loop:
 *
 * Creates a new loop with the current policy (see
 * [method@Evl.LoopPolicy.new_event_loop]). With the default policy this is
 * a loop of its [property@Evl.DefaultLoopPolicy:loop-type], which the
 * environment variable `EVL_LOOP=selector|proactor` selects.
 *
 * Returns: (transfer full): a new loop
 */
EvlLoop *
evl_new_event_loop (void)
{
  EvlLoopPolicy *policy;
  EvlLoop *loop;

  policy = evl_ref_event_loop_policy ();
  loop = evl_loop_policy_new_event_loop (policy);
  g_object_unref (policy);

  return loop;
}
