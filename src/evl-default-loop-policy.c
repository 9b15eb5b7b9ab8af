/* evl-default-loop-policy.c: one loop per thread
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "evl-config.h"

#include <evloop-glib/evloop-glib.h>

#include "evl-loop-private.h"
#include "evl-platform-private.h"

/**
 * EvlDefaultLoopPolicy:
 *
 * The default event-loop policy, the counterpart of asyncio's
 * `DefaultEventLoopPolicy`: it keeps one loop per thread.
 *
 * [method@Evl.LoopPolicy.get_event_loop] returns the loop set for the
 * calling thread with [method@Evl.LoopPolicy.set_event_loop]. In the main
 * thread it creates one on first use, unless a loop (or %NULL) was set
 * there explicitly; other threads must set their loop themselves.
 *
 * [method@Evl.LoopPolicy.new_event_loop] creates a loop of the type in
 * [property@Evl.DefaultLoopPolicy:loop-type]. A loop created in the main
 * thread drives the global-default `GMainContext` (see
 * [property@Evl.Loop:context]); a loop created in another thread drives a
 * new context of its own. If a loop of that type cannot be created (the
 * proactor loop needs io_uring), it falls back to an
 * [class@Evl.SelectorLoop].
 *
 * The policy drops its reference to a thread's loop when the thread exits.
 * All its methods may be called from any thread.
 */

/* Per-thread storage.
 *
 * Each thread that stores a loop in a default policy gets a token, a small
 * allocation kept in a GPrivate; the policies key their table on it. (Not on
 * the GThread: GLib may free a foreign thread's GThread before our
 * destructor runs, and a new thread could reuse its address.) When the
 * thread exits, the GPrivate's destroy notify removes the token's entries
 * from every live default policy, then frees the token. A policy registers
 * itself in live_policies while it lives, so a thread that exits after a
 * policy died never touches it.
 *
 * Lock order: live_policies_lock, then a policy's lock. Loops are unreffed
 * with no lock held. */

typedef struct
{
  guint8 unused;
} ThreadToken;

typedef struct
{
  EvlLoop  *loop;        /* owned, nullable */
  gboolean  set_called;  /* set_event_loop() ran in this thread */
} ThreadState;

struct _EvlDefaultLoopPolicy
{
  EvlLoopPolicy  parent_instance;

  GMutex         lock;
  GType          loop_type;  /* under lock */
  GHashTable    *threads;    /* under lock; ThreadToken* -> ThreadState* */
};

enum {
  PROP_0,
  PROP_LOOP_TYPE,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void thread_token_free (gpointer data);

static GPrivate  thread_token = G_PRIVATE_INIT (thread_token_free);
static GMutex    live_policies_lock;
static GSList   *live_policies;  /* of EvlDefaultLoopPolicy*, not owned */

G_DEFINE_FINAL_TYPE (EvlDefaultLoopPolicy, evl_default_loop_policy, EVL_TYPE_LOOP_POLICY)

static void
thread_state_free (gpointer data)
{
  ThreadState *state = data;

  g_clear_object (&state->loop);
  g_free (state);
}

/* Runs when a thread that has a token exits. */
static void
thread_token_free (gpointer data)
{
  ThreadToken *token = data;
  GSList *dropped = NULL;
  GSList *l;

  g_mutex_lock (&live_policies_lock);
  for (l = live_policies; l != NULL; l = l->next)
    {
      EvlDefaultLoopPolicy *self = l->data;
      gpointer state;

      g_mutex_lock (&self->lock);
      if (g_hash_table_steal_extended (self->threads, token, NULL, &state))
        dropped = g_slist_prepend (dropped, state);
      g_mutex_unlock (&self->lock);
    }
  g_mutex_unlock (&live_policies_lock);

  g_slist_free_full (dropped, thread_state_free);
  g_free (token);
}

static ThreadToken *
get_thread_token (gboolean create)
{
  ThreadToken *token = g_private_get (&thread_token);

  if (token == NULL && create)
    {
      token = g_new0 (ThreadToken, 1);
      g_private_set (&thread_token, token);
    }

  return token;
}

static GType
loop_type_from_environment (void)
{
  const char *name = g_getenv ("EVL_LOOP");

  if (name == NULL || *name == '\0' || g_str_equal (name, "selector"))
    return EVL_TYPE_SELECTOR_LOOP;
  if (g_str_equal (name, "proactor"))
    return EVL_TYPE_PROACTOR_LOOP;

  g_warning (_("Unknown event-loop kind “%s” in the environment variable EVL_LOOP; "
               "set it to “selector” or “proactor”. Using the selector loop."),
             name);
  return EVL_TYPE_SELECTOR_LOOP;
}

static EvlLoop *
create_loop (GType          loop_type,
             GMainContext  *context,
             GError       **error)
{
  if (g_type_is_a (loop_type, G_TYPE_INITABLE))
    return g_initable_new (loop_type, NULL, error, "context", context, NULL);

  return g_object_new (loop_type, "context", context, NULL);
}

static EvlLoop *
evl_default_loop_policy_new_event_loop (EvlLoopPolicy *policy)
{
  EvlDefaultLoopPolicy *self = EVL_DEFAULT_LOOP_POLICY (policy);
  g_autoptr(GMainContext) context = NULL;
  g_autoptr(GError) error = NULL;
  EvlLoop *loop;
  GType loop_type;

  g_mutex_lock (&self->lock);
  loop_type = self->loop_type;
  g_mutex_unlock (&self->lock);

  if (evl_is_main_thread ())
    context = g_main_context_ref (g_main_context_default ());
  else
    context = g_main_context_new ();

  loop = create_loop (loop_type, context, &error);
  if (loop == NULL && loop_type != EVL_TYPE_SELECTOR_LOOP)
    {
      g_debug ("Cannot create an event loop of type %s (%s); "
               "falling back to EvlSelectorLoop",
               g_type_name (loop_type), error->message);
      g_clear_error (&error);
      loop = create_loop (EVL_TYPE_SELECTOR_LOOP, context, &error);
    }

  if (loop == NULL)
    g_critical ("Cannot create an event loop: %s", error->message);

  return loop;
}

static void
evl_default_loop_policy_set_event_loop (EvlLoopPolicy *policy,
                                        EvlLoop       *loop)
{
  EvlDefaultLoopPolicy *self = EVL_DEFAULT_LOOP_POLICY (policy);
  ThreadToken *token = get_thread_token (TRUE);
  ThreadState *state;
  EvlLoop *old;

  if (loop != NULL)
    g_object_ref (loop);

  g_mutex_lock (&self->lock);
  state = g_hash_table_lookup (self->threads, token);
  if (state == NULL)
    {
      state = g_new0 (ThreadState, 1);
      g_hash_table_insert (self->threads, token, state);
    }
  old = state->loop;
  state->loop = loop;
  state->set_called = TRUE;
  g_mutex_unlock (&self->lock);

  g_clear_object (&old);
}

static EvlLoop *
evl_default_loop_policy_get_event_loop (EvlLoopPolicy  *policy,
                                        GError        **error)
{
  EvlDefaultLoopPolicy *self = EVL_DEFAULT_LOOP_POLICY (policy);
  ThreadToken *token = get_thread_token (FALSE);
  gboolean set_called = FALSE;
  EvlLoop *loop = NULL;

  if (token != NULL)
    {
      ThreadState *state;

      g_mutex_lock (&self->lock);
      state = g_hash_table_lookup (self->threads, token);
      if (state != NULL)
        {
          loop = state->loop;
          set_called = state->set_called;
        }
      g_mutex_unlock (&self->lock);
    }

  /* Only this thread changes its own entry (or removes it, when it exits),
   * so the loop stays the thread's loop after the lock is released. */
  if (loop != NULL)
    return loop;

  /* As asyncio: create a loop on demand in the main thread only, and only
   * if nobody set (or unset) its loop explicitly. */
  if (!set_called && evl_is_main_thread ())
    {
      loop = evl_default_loop_policy_new_event_loop (policy);
      if (loop != NULL)
        {
          evl_default_loop_policy_set_event_loop (policy, loop);
          g_object_unref (loop);
          return loop;
        }
    }

  g_set_error_literal (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_NO_LOOP,
                       set_called
                       ? _("There is no current event loop in this thread: it was unset with evl_set_event_loop(NULL). "
                           "Call evl_set_event_loop() to make a loop current, or create one with evl_new_event_loop().")
                       : _("There is no current event loop in this thread: loops are created on demand only in the main thread. "
                           "Call evl_set_event_loop() to make a loop current, or create one with evl_new_event_loop()."));
  return NULL;
}

static void
evl_default_loop_policy_finalize (GObject *object)
{
  EvlDefaultLoopPolicy *self = EVL_DEFAULT_LOOP_POLICY (object);

  /* Once off the list, no exiting thread looks at this policy any more. */
  g_mutex_lock (&live_policies_lock);
  live_policies = g_slist_remove (live_policies, self);
  g_mutex_unlock (&live_policies_lock);

  g_clear_pointer (&self->threads, g_hash_table_unref);
  g_mutex_clear (&self->lock);

  G_OBJECT_CLASS (evl_default_loop_policy_parent_class)->finalize (object);
}

static void
evl_default_loop_policy_get_property (GObject    *object,
                                      guint       prop_id,
                                      GValue     *value,
                                      GParamSpec *pspec)
{
  EvlDefaultLoopPolicy *self = EVL_DEFAULT_LOOP_POLICY (object);

  switch (prop_id)
    {
    case PROP_LOOP_TYPE:
      g_value_set_gtype (value, evl_default_loop_policy_get_loop_type (self));
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
evl_default_loop_policy_set_property (GObject      *object,
                                      guint         prop_id,
                                      const GValue *value,
                                      GParamSpec   *pspec)
{
  EvlDefaultLoopPolicy *self = EVL_DEFAULT_LOOP_POLICY (object);

  switch (prop_id)
    {
    case PROP_LOOP_TYPE:
      evl_default_loop_policy_set_loop_type (self, g_value_get_gtype (value));
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
evl_default_loop_policy_class_init (EvlDefaultLoopPolicyClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  EvlLoopPolicyClass *policy_class = EVL_LOOP_POLICY_CLASS (klass);

  object_class->finalize = evl_default_loop_policy_finalize;
  object_class->get_property = evl_default_loop_policy_get_property;
  object_class->set_property = evl_default_loop_policy_set_property;

  policy_class->get_event_loop = evl_default_loop_policy_get_event_loop;
  policy_class->set_event_loop = evl_default_loop_policy_set_event_loop;
  policy_class->new_event_loop = evl_default_loop_policy_new_event_loop;

  /**
   * EvlDefaultLoopPolicy:loop-type:
   *
   * The type of the loops that [method@Evl.LoopPolicy.new_event_loop]
   * creates: a non-abstract subtype of [class@Evl.Loop]. The default is
   * [class@Evl.SelectorLoop]; the environment variable
   * `EVL_LOOP=selector|proactor` overrides it when the policy is created.
   */
  properties[PROP_LOOP_TYPE] =
    g_param_spec_gtype ("loop-type", NULL, NULL,
                        EVL_TYPE_LOOP,
                        (G_PARAM_READWRITE |
                         G_PARAM_STATIC_STRINGS |
                         G_PARAM_EXPLICIT_NOTIFY));

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
evl_default_loop_policy_init (EvlDefaultLoopPolicy *self)
{
  g_mutex_init (&self->lock);
  self->loop_type = loop_type_from_environment ();
  self->threads = g_hash_table_new_full (NULL, NULL, NULL, thread_state_free);

  g_mutex_lock (&live_policies_lock);
  live_policies = g_slist_prepend (live_policies, self);
  g_mutex_unlock (&live_policies_lock);
}

/**
 * evl_default_loop_policy_new:
 *
 * Creates a default policy. Install it with [func@Evl.set_event_loop_policy]
 * (the current policy is already one unless another was installed).
 *
 * Returns: (transfer full) (type EvlDefaultLoopPolicy): a new default policy
 */
EvlLoopPolicy *
evl_default_loop_policy_new (void)
{
  return g_object_new (EVL_TYPE_DEFAULT_LOOP_POLICY, NULL);
}

/**
 * evl_default_loop_policy_get_loop_type:
 * @self: a default policy
 *
 * Returns the type of the loops that @self creates.
 *
 * Returns: the value of [property@Evl.DefaultLoopPolicy:loop-type]
 */
GType
evl_default_loop_policy_get_loop_type (EvlDefaultLoopPolicy *self)
{
  GType loop_type;

  g_return_val_if_fail (EVL_IS_DEFAULT_LOOP_POLICY (self), G_TYPE_INVALID);

  g_mutex_lock (&self->lock);
  loop_type = self->loop_type;
  g_mutex_unlock (&self->lock);

  return loop_type;
}

/**
 * evl_default_loop_policy_set_loop_type:
 * @self: a default policy
 * @loop_type: a non-abstract subtype of [class@Evl.Loop], such as
 *   `EVL_TYPE_SELECTOR_LOOP` or `EVL_TYPE_PROACTOR_LOOP`
 *
 * Sets the type of the loops that @self creates from now on. Loops that
 * exist already are not affected.
 */
void
evl_default_loop_policy_set_loop_type (EvlDefaultLoopPolicy *self,
                                       GType                 loop_type)
{
  gboolean changed;

  g_return_if_fail (EVL_IS_DEFAULT_LOOP_POLICY (self));
  g_return_if_fail (g_type_is_a (loop_type, EVL_TYPE_LOOP));
  g_return_if_fail (!G_TYPE_IS_ABSTRACT (loop_type));

  g_mutex_lock (&self->lock);
  changed = self->loop_type != loop_type;
  self->loop_type = loop_type;
  g_mutex_unlock (&self->lock);

  if (changed)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_LOOP_TYPE]);
}
