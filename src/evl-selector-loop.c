/* evl-selector-loop.c: the readiness-based event loop
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "evl-config.h"

#include "evl-loop-private.h"
#include "evl-selector-private.h"

/**
 * EvlSelectorLoop:
 *
 * An [class@Evl.Loop] that waits with an [class@Evl.Selector]: epoll on
 * Linux, poll or select elsewhere (asyncio's `SelectorEventLoop`).
 *
 * With an epoll selector the loop has a single fd that becomes readable
 * when any watched fd is ready, so attached to a GMainContext it costs GLib
 * one poll fd however many fds it watches.
 */

struct _EvlSelectorLoop
{
  EvlLoop           parent_instance;

  EvlSelector      *selector;
  EvlSelectorEvent *events;
  guint             n_events;
  gboolean          polled;   /* the GSource bridge polled for us */
};

enum {
  PROP_0,
  PROP_SELECTOR,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

G_DEFINE_FINAL_TYPE (EvlSelectorLoop, evl_selector_loop, EVL_TYPE_LOOP)

static gboolean
selector_io_update (EvlLoop  *loop,
                    int       fd,
                    guint     old_events,
                    guint     new_events,
                    GError  **error)
{
  EvlSelectorLoop *self = EVL_SELECTOR_LOOP (loop);

  if (self->selector == NULL)
    return new_events == 0;
  if (new_events == 0)
    return evl_selector_unregister (self->selector, fd, NULL) || TRUE;
  if (old_events == 0)
    return evl_selector_register (self->selector, fd, new_events, NULL, error);
  return evl_selector_modify (self->selector, fd, new_events, NULL, error);
}

static void
selector_io_poll (EvlLoop *loop,
                  gint64   timeout_ns)
{
  EvlSelectorLoop *self = EVL_SELECTOR_LOOP (loop);
  GError *error = NULL;
  int n, i;

  if (self->polled)
    {
      self->polled = FALSE;
      if (timeout_ns == 0)
        return;
    }
  n = evl_selector_select_raw (self->selector, timeout_ns, self->events, self->n_events, &error);
  if (n < 0)
    {
      evl_loop_call_exception_handler (loop, error, _("The selector failed while waiting for I/O"));
      g_error_free (error);
      return;
    }
  for (i = 0; i < n; i++)
    evl_loop_io_ready (loop, self->events[i].fd, self->events[i].events);
  if ((guint) n == self->n_events && self->n_events < 65536)
    {
      self->n_events *= 2;
      self->events = g_renew (EvlSelectorEvent, self->events, self->n_events);
    }
}

/* The GSource bridge (evl-loop-source.c) polled the loop's fds itself
 * and reported them with evl_loop_io_ready(): the non-blocking io_poll()
 * of the iteration it runs next would find nothing newer, and skips its
 * syscall. */
void
evl_selector_loop_set_polled (EvlLoop  *loop,
                              gboolean  polled)
{
  EVL_SELECTOR_LOOP (loop)->polled = polled;
}

static int
selector_get_poll_fd (EvlLoop *loop)
{
  EvlSelectorLoop *self = EVL_SELECTOR_LOOP (loop);

  return self->selector != NULL ? evl_selector_get_fd (self->selector) : -1;
}

static void
selector_close (EvlLoop *loop)
{
  EvlSelectorLoop *self = EVL_SELECTOR_LOOP (loop);

  g_clear_object (&self->selector);
}

static const EvlLoopBackend selector_backend = {
  .name = "selector",
  .io_update = selector_io_update,
  .io_poll = selector_io_poll,
  .get_poll_fd = selector_get_poll_fd,
  .close = selector_close,
};

static void
evl_selector_loop_constructed (GObject *object)
{
  EvlSelectorLoop *self = EVL_SELECTOR_LOOP (object);

  G_OBJECT_CLASS (evl_selector_loop_parent_class)->constructed (object);

  if (self->selector == NULL)
    self->selector = evl_selector_new_default ();
  /* Only fails when the process is out of file descriptors: the loop is
   * then closed, and g_initable_init() (EvlLoop's) reports the error. */
  evl_loop_backend_ready (EVL_LOOP (self), NULL);
}

static void
evl_selector_loop_finalize (GObject *object)
{
  EvlSelectorLoop *self = EVL_SELECTOR_LOOP (object);

  G_OBJECT_CLASS (evl_selector_loop_parent_class)->finalize (object);

  g_clear_object (&self->selector);
  g_free (self->events);
}

static void
evl_selector_loop_get_property (GObject    *object,
                                guint       prop_id,
                                GValue     *value,
                                GParamSpec *pspec)
{
  EvlSelectorLoop *self = EVL_SELECTOR_LOOP (object);

  switch (prop_id)
    {
    case PROP_SELECTOR:
      g_value_set_object (value, self->selector);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
evl_selector_loop_set_property (GObject      *object,
                                guint         prop_id,
                                const GValue *value,
                                GParamSpec   *pspec)
{
  EvlSelectorLoop *self = EVL_SELECTOR_LOOP (object);

  switch (prop_id)
    {
    case PROP_SELECTOR:
      self->selector = g_value_dup_object (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
evl_selector_loop_class_init (EvlSelectorLoopClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->constructed = evl_selector_loop_constructed;
  object_class->finalize = evl_selector_loop_finalize;
  object_class->get_property = evl_selector_loop_get_property;
  object_class->set_property = evl_selector_loop_set_property;

  /**
   * EvlSelectorLoop:selector:
   *
   * The selector the loop waits with; %NULL at construction picks the best
   * one for the platform ([ctor@Evl.Selector.new_default]).
   */
  properties[PROP_SELECTOR] =
    g_param_spec_object ("selector", NULL, NULL, EVL_TYPE_SELECTOR,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY |
                         G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  evl_loop_class_set_backend (EVL_LOOP_CLASS (klass), &selector_backend);
}

static void
evl_selector_loop_init (EvlSelectorLoop *self)
{
  self->n_events = 64;
  self->events = g_new (EvlSelectorEvent, self->n_events);
}

/**
 * evl_selector_loop_new:
 * @selector: (nullable) (transfer none): the selector to use, or %NULL for
 *   the best one of the platform
 *
 * Creates a selector loop. It drives no GMainContext; set the
 * [property@Evl.Loop:context] property with g_object_new() for that, or
 * use [func@Evl.new_event_loop].
 *
 * When the process has no file descriptor left for the loop's wakeup
 * channel, the loop comes back closed, with a warning; use
 * g_initable_new() to get that failure as a #GError instead.
 *
 * Returns: (transfer full): a new loop
 */
EvlLoop *
evl_selector_loop_new (EvlSelector *selector)
{
  EvlLoop *loop;
  const GError *error;

  g_return_val_if_fail (selector == NULL || EVL_IS_SELECTOR (selector), NULL);

  loop = g_object_new (EVL_TYPE_SELECTOR_LOOP, "selector", selector, NULL);
  if ((error = evl_loop_get_init_error (loop)) != NULL)
    g_warning ("%s", error->message);
  return loop;
}

/**
 * evl_selector_loop_get_selector:
 * @self: a selector loop
 *
 * Gets the selector the loop waits on, the one given to
 * [ctor@Evl.SelectorLoop.new] or the platform's best.
 *
 * Returns: (transfer none) (nullable): the loop's selector, or %NULL once
 *   the loop is closed
 */
EvlSelector *
evl_selector_loop_get_selector (EvlSelectorLoop *self)
{
  g_return_val_if_fail (EVL_IS_SELECTOR_LOOP (self), NULL);

  return self->selector;
}
