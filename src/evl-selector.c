/* evl-selector.c: abstract I/O readiness selector (like Python's selectors)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "evl-config.h"

#include <math.h>
#include <string.h>

#include "evl-os-private.h"
#include "evl-selector-private.h"
#include "evl-loop-private.h"

/**
 * EvlSelector:
 *
 * An abstract I/O readiness selector, the counterpart of Python's
 * `selectors.BaseSelector`.
 *
 * A selector watches file descriptors for the events
 * [flags@Evl.EventFlags.READ] and [flags@Evl.EventFlags.WRITE] and waits
 * until some of them are ready. Each registered file descriptor has a key:
 * the events it is watched for and a data pointer, which comes back with
 * every event reported for it.
 *
 * The concrete selectors are [class@Evl.EpollSelector] (Linux),
 * [class@Evl.PollSelector] and [class@Evl.SelectSelector];
 * [ctor@Evl.Selector.new_default] picks the best one for the platform.
 * A selector is used from one thread at a time.
 */

#define EVENTS_MASK (EVL_EVENT_READ | EVL_EVENT_WRITE)

typedef struct
{
  EvlEventFlags events;   /* 0: not registered */
  gpointer      data;
} EvlSelectorKey;

typedef struct
{
  EvlSelectorKey *keys;   /* indexed by fd */
  guint           n_alloc;
  guint           n_keys;
} EvlSelectorPrivate;

G_DEFINE_ABSTRACT_TYPE_WITH_PRIVATE (EvlSelector, evl_selector, G_TYPE_OBJECT)

static GQuark name_quark;

static void
evl_selector_finalize (GObject *object)
{
  EvlSelector *self = EVL_SELECTOR (object);
  EvlSelectorPrivate *priv = evl_selector_get_instance_private (self);

  g_clear_pointer (&priv->keys, g_free);
  priv->n_alloc = 0;
  priv->n_keys = 0;

  G_OBJECT_CLASS (evl_selector_parent_class)->finalize (object);
}

static void
evl_selector_class_init (EvlSelectorClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = evl_selector_finalize;

  name_quark = g_quark_from_static_string ("evl-selector-name");
}

static void
evl_selector_init (EvlSelector *self)
{
}

void
evl_selector_class_set_name (EvlSelectorClass *klass,
                             const char       *name)
{
  g_return_if_fail (EVL_IS_SELECTOR_CLASS (klass));
  g_return_if_fail (name != NULL);

  g_type_set_qdata (G_TYPE_FROM_CLASS (klass), name_quark,
                    (gpointer) g_intern_static_string (name));
}

static EvlSelectorKey *
lookup_key (EvlSelectorPrivate *priv,
            int                 fd)
{
  if (fd < 0 || (guint) fd >= priv->n_alloc || priv->keys[fd].events == 0)
    return NULL;
  return &priv->keys[fd];
}

static EvlSelectorKey *
ensure_key (EvlSelectorPrivate *priv,
            int                 fd)
{
  if ((guint) fd >= priv->n_alloc)
    {
      guint n_alloc = MAX (priv->n_alloc, 64);

      while (n_alloc <= (guint) fd)
        n_alloc = n_alloc < G_MAXUINT / 2 ? n_alloc * 2 : (guint) fd + 1;
      priv->keys = g_renew (EvlSelectorKey, priv->keys, n_alloc);
      memset (priv->keys + priv->n_alloc, 0,
              (n_alloc - priv->n_alloc) * sizeof (EvlSelectorKey));
      priv->n_alloc = n_alloc;
    }
  return &priv->keys[fd];
}

static gboolean
check_events (int             fd,
              EvlEventFlags   events,
              GError        **error)
{
  if (events == 0 || (events & ~EVENTS_MASK) != 0)
    {
      g_set_error (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_INVALID,
                   _("Invalid events 0x%x for file descriptor %d: "
                     "use EVL_EVENT_READ, EVL_EVENT_WRITE or both"),
                   (guint) events, fd);
      return FALSE;
    }
  return TRUE;
}

static gboolean
check_registered (EvlSelectorPrivate  *priv,
                  int                  fd,
                  GError             **error)
{
  if (lookup_key (priv, fd) == NULL)
    {
      g_set_error (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_INVALID,
                   _("File descriptor %d is not registered with this "
                     "selector; register it first"),
                   fd);
      return FALSE;
    }
  return TRUE;
}

/**
 * evl_selector_new_default:
 *
 * Creates the best selector for the platform: an [class@Evl.EpollSelector]
 * where epoll works, otherwise an [class@Evl.PollSelector].
 *
 * The environment variable `EVL_SELECTOR` (`epoll`, `poll` or `select`)
 * overrides the choice; an unknown value is ignored with a warning.
 *
 * Returns: (transfer full): a new selector
 */
EvlSelector *
evl_selector_new_default (void)
{
  const char *choice = g_getenv ("EVL_SELECTOR");
  EvlSelector *selector;
  GError *error = NULL;

  if (choice != NULL && *choice != '\0')
    {
      if (g_str_equal (choice, "poll"))
        return evl_poll_selector_new ();
      if (g_str_equal (choice, "select"))
        return evl_select_selector_new ();
      if (g_str_equal (choice, "epoll"))
        {
          selector = evl_epoll_selector_new (&error);
          if (selector != NULL)
            return selector;
          g_warning (_("EVL_SELECTOR=epoll: cannot create an epoll "
                       "selector (%s); using the poll selector instead"),
                     error->message);
          g_clear_error (&error);
          return evl_poll_selector_new ();
        }
      g_warning (_("Unknown selector “%s” in EVL_SELECTOR; use “epoll”, "
                   "“poll” or “select”. Using the default selector."),
                 choice);
    }

  selector = evl_epoll_selector_new (&error);
  if (selector != NULL)
    return selector;
  g_debug ("epoll selector not available (%s), using poll", error->message);
  g_clear_error (&error);
  return evl_poll_selector_new ();
}

/**
 * evl_selector_get_name:
 * @self: a selector
 *
 * Gets the short name of the selector's mechanism: `"epoll"`, `"poll"` or
 * `"select"` for the built-in selectors. Subclasses defined elsewhere get a
 * name derived from their type name (`MyFooSelector` gives `"myfoo"`).
 *
 * Returns: (transfer none): the name of the selector
 */
const char *
evl_selector_get_name (EvlSelector *self)
{
  GType type;
  const char *name;

  g_return_val_if_fail (EVL_IS_SELECTOR (self), NULL);

  type = G_OBJECT_TYPE (self);
  name = g_type_get_qdata (type, name_quark);
  if (name == NULL)
    {
      const char *type_name = g_type_name (type);
      const char *start = type_name;
      gsize len;
      char *lower;

      if (g_str_has_prefix (start, "Evl") && g_ascii_isupper (start[3]))
        start += 3;
      len = strlen (start);
      if (len > strlen ("Selector") && g_str_has_suffix (start, "Selector"))
        len -= strlen ("Selector");
      lower = g_ascii_strdown (start, len);
      name = g_intern_string (lower);
      g_free (lower);
      g_type_set_qdata (type, name_quark, (gpointer) name);
    }
  return name;
}

/**
 * evl_selector_register:
 * @self: a selector
 * @fd: an open file descriptor
 * @events: the events to watch for: [flags@Evl.EventFlags.READ],
 *   [flags@Evl.EventFlags.WRITE] or both
 * @data: (nullable): data returned with each event reported for @fd
 * @error: return location for a #GError
 *
 * Starts watching @fd for @events.
 *
 * Fails with [error@Evl.LoopError.INVALID] if @fd is negative, not open or
 * already registered, or if @events is empty or has unknown bits; and with
 * a `G_IO_ERROR` if the operating system refuses to watch @fd (epoll does
 * not watch regular files, for instance).
 *
 * Returns: %TRUE on success, %FALSE with @error set
 */
gboolean
evl_selector_register (EvlSelector    *self,
                       int             fd,
                       EvlEventFlags   events,
                       gpointer        data,
                       GError        **error)
{
  EvlSelectorPrivate *priv;
  EvlSelectorKey *key;

  g_return_val_if_fail (EVL_IS_SELECTOR (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  priv = evl_selector_get_instance_private (self);

  if (fd < 0)
    {
      g_set_error (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_INVALID,
                   _("Invalid file descriptor %d: pass an open, "
                     "non-negative file descriptor"),
                   fd);
      return FALSE;
    }
  if (!check_events (fd, events, error))
    return FALSE;
  if (lookup_key (priv, fd) != NULL)
    {
      g_set_error (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_INVALID,
                   _("File descriptor %d is already registered with this "
                     "selector; use modify() to change its events, or "
                     "unregister it first"),
                   fd);
      return FALSE;
    }
  if (!evl_os_fd_is_open (fd))
    {
      g_set_error (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_INVALID,
                   _("File descriptor %d is not open; register an open "
                     "file descriptor"),
                   fd);
      return FALSE;
    }

  if (!EVL_SELECTOR_GET_CLASS (self)->register_fd (self, fd, events, error))
    return FALSE;

  key = ensure_key (priv, fd);
  key->events = events;
  key->data = data;
  priv->n_keys++;

  return TRUE;
}

/**
 * evl_selector_modify:
 * @self: a selector
 * @fd: a registered file descriptor
 * @events: the events to watch for from now on: [flags@Evl.EventFlags.READ],
 *   [flags@Evl.EventFlags.WRITE] or both
 * @data: (nullable): the new data of @fd
 * @error: return location for a #GError
 *
 * Changes the events watched on @fd and its data. If @fd was closed and
 * its number reused by a new file since it was registered, the selector
 * watches the new file from now on.
 *
 * Fails with [error@Evl.LoopError.INVALID] if @fd is not registered or
 * @events is empty or has unknown bits.
 *
 * Returns: %TRUE on success, %FALSE with @error set
 */
gboolean
evl_selector_modify (EvlSelector    *self,
                     int             fd,
                     EvlEventFlags   events,
                     gpointer        data,
                     GError        **error)
{
  EvlSelectorPrivate *priv;
  EvlSelectorKey *key;

  g_return_val_if_fail (EVL_IS_SELECTOR (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  priv = evl_selector_get_instance_private (self);

  if (!check_registered (priv, fd, error))
    return FALSE;
  if (!check_events (fd, events, error))
    return FALSE;

  /* Tell the backend even when @events did not change: the fd may have
   * been closed and its number reused, and the backend must then watch the
   * new file (epoll forgot the old one when it was closed). */
  key = lookup_key (priv, fd);
  if (!EVL_SELECTOR_GET_CLASS (self)->modify_fd (self, fd, key->events,
                                                 events, error))
    return FALSE;
  key->events = events;
  key->data = data;

  return TRUE;
}

/**
 * evl_selector_unregister:
 * @self: a selector
 * @fd: a registered file descriptor
 * @error: return location for a #GError
 *
 * Stops watching @fd. @fd may have been closed since it was registered;
 * unregister it before its number is reused by a new file.
 *
 * Fails with [error@Evl.LoopError.INVALID] if @fd is not registered.
 *
 * Returns: %TRUE on success, %FALSE with @error set
 */
gboolean
evl_selector_unregister (EvlSelector  *self,
                         int           fd,
                         GError      **error)
{
  EvlSelectorPrivate *priv;
  EvlSelectorKey *key;
  EvlEventFlags old_events;

  g_return_val_if_fail (EVL_IS_SELECTOR (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  priv = evl_selector_get_instance_private (self);

  if (!check_registered (priv, fd, error))
    return FALSE;

  key = lookup_key (priv, fd);
  old_events = key->events;
  key->events = 0;
  key->data = NULL;
  priv->n_keys--;

  EVL_SELECTOR_GET_CLASS (self)->unregister_fd (self, fd, old_events);

  return TRUE;
}

/**
 * evl_selector_get_key:
 * @self: a selector
 * @fd: a file descriptor
 * @events: (out) (optional): return location for the events watched on @fd
 * @data: (out) (optional) (transfer none): return location for the data of @fd
 *
 * Looks up the key of @fd.
 *
 * Returns: %TRUE if @fd is registered, %FALSE otherwise (then @events and
 *   @data are set to 0 and %NULL)
 */
gboolean
evl_selector_get_key (EvlSelector   *self,
                      int            fd,
                      EvlEventFlags *events,
                      gpointer      *data)
{
  EvlSelectorPrivate *priv;
  EvlSelectorKey *key;

  g_return_val_if_fail (EVL_IS_SELECTOR (self), FALSE);

  priv = evl_selector_get_instance_private (self);
  key = lookup_key (priv, fd);
  if (events != NULL)
    *events = key != NULL ? key->events : 0;
  if (data != NULL)
    *data = key != NULL ? key->data : NULL;
  return key != NULL;
}

/**
 * evl_selector_get_n_keys:
 * @self: a selector
 *
 * Gets the number of registered file descriptors.
 *
 * Returns: the number of registered file descriptors
 */
guint
evl_selector_get_n_keys (EvlSelector *self)
{
  EvlSelectorPrivate *priv;

  g_return_val_if_fail (EVL_IS_SELECTOR (self), 0);

  priv = evl_selector_get_instance_private (self);
  return priv->n_keys;
}

/* Calls the backend, then fills in the data pointers and drops the events
 * of fds that were unregistered (or never were). @raw keeps the private
 * ERROR/HUP bits. */
static int
select_internal (EvlSelector       *self,
                 gint64             timeout_ns,
                 EvlSelectorEvent  *events,
                 guint              n_events,
                 gboolean           raw,
                 GError           **error)
{
  EvlSelectorPrivate *priv = evl_selector_get_instance_private (self);
  GError *local_error = NULL;
  guint n_out = 0;
  int n;

  if (timeout_ns < -1)
    timeout_ns = -1;
  if (n_events > G_MAXINT)
    n_events = G_MAXINT;

  n = EVL_SELECTOR_GET_CLASS (self)->select (self, timeout_ns, events,
                                             n_events, &local_error);
  if (n < 0)
    {
      if (local_error == NULL)
        g_set_error_literal (&local_error, EVL_LOOP_ERROR,
                             EVL_LOOP_ERROR_FAILED,
                             _("The selector failed to wait for file "
                               "descriptors"));
      g_propagate_error (error, local_error);
      return -1;
    }
  g_warn_if_fail (local_error == NULL);
  g_clear_error (&local_error);
  g_return_val_if_fail ((guint) n <= n_events, -1);

  for (guint i = 0; i < (guint) n; i++)
    {
      EvlSelectorKey *key = lookup_key (priv, events[i].fd);
      guint mask;
      guint ready;

      if (key == NULL)
        continue;
      mask = key->events;
      if (raw)
        mask |= EVL_IO_ERROR | EVL_IO_HUP;
      ready = events[i].events & mask;
      if (ready == 0)
        continue;

      events[n_out].fd = events[i].fd;
      events[n_out].events = ready;
      events[n_out].data = key->data;
      n_out++;
    }

  return n_out;
}

/**
 * evl_selector_select: (skip)
 * @self: a selector
 * @timeout: the longest time to wait, in seconds; 0 does not block and a
 *   negative value waits until an event arrives
 * @events: (out caller-allocates) (array length=n_events): an array that
 *   receives the ready file descriptors
 * @n_events: (in): the length of @events, at least 1
 * @error: return location for a #GError
 *
 * Waits until some registered file descriptors are ready or @timeout
 * passes, and stores at most @n_events of them in @events, each file
 * descriptor once, with the events that are ready (a failed or hung-up
 * descriptor is reported with all the events it is watched for) and its
 * data. When more descriptors are ready than fit, the next call reports
 * the others.
 *
 * An interrupted wait (a signal arrived) is not an error: it returns 0.
 *
 * Not available to Python and JavaScript, which cannot pass a
 * caller-allocated array of structures (Vala has it). For the same reason
 * selectors are implemented in C or Vala, not in those languages.
 *
 * Returns: the number of events stored (0 on timeout), or -1 with @error
 *   set
 */
int
evl_selector_select (EvlSelector       *self,
                     double             timeout,
                     EvlSelectorEvent  *events,
                     guint              n_events,
                     GError           **error)
{
  gint64 timeout_ns;

  g_return_val_if_fail (EVL_IS_SELECTOR (self), -1);
  g_return_val_if_fail (!isnan (timeout), -1);
  g_return_val_if_fail (events != NULL, -1);
  g_return_val_if_fail (n_events > 0, -1);
  g_return_val_if_fail (error == NULL || *error == NULL, -1);

  if (timeout < 0)
    timeout_ns = -1;
  else if (timeout >= (double) G_MAXINT64 / 1e9)
    timeout_ns = G_MAXINT64;
  else
    {
      /* Round up: never wake before the timeout. */
      double ns = timeout * 1e9;

      timeout_ns = (gint64) ns;
      if ((double) timeout_ns < ns)
        timeout_ns++;
    }

  return select_internal (self, timeout_ns, events, n_events, FALSE, error);
}

/**
 * evl_selector_select_ns: (virtual select) (skip)
 * @self: a selector
 * @timeout: the longest time to wait, in nanoseconds; 0 does not block
 *   and -1 waits until an event arrives
 * @events: (out caller-allocates) (array length=n_events): an array that
 *   receives the ready file descriptors
 * @n_events: (in): the length of @events, at least 1
 * @error: return location for a #GError
 *
 * Like [method@Evl.Selector.select], with the timeout in nanoseconds.
 *
 * Returns: the number of events stored (0 on timeout), or -1 with @error
 *   set
 */
int
evl_selector_select_ns (EvlSelector       *self,
                        gint64             timeout,
                        EvlSelectorEvent  *events,
                        guint              n_events,
                        GError           **error)
{
  g_return_val_if_fail (EVL_IS_SELECTOR (self), -1);
  g_return_val_if_fail (events != NULL, -1);
  g_return_val_if_fail (n_events > 0, -1);
  g_return_val_if_fail (error == NULL || *error == NULL, -1);

  return select_internal (self, timeout, events, n_events, FALSE, error);
}

int
evl_selector_select_raw (EvlSelector       *self,
                         gint64             timeout_ns,
                         EvlSelectorEvent  *events,
                         guint              n_events,
                         GError           **error)
{
  g_return_val_if_fail (EVL_IS_SELECTOR (self), -1);
  g_return_val_if_fail (events != NULL, -1);
  g_return_val_if_fail (n_events > 0, -1);
  g_return_val_if_fail (error == NULL || *error == NULL, -1);

  return select_internal (self, timeout_ns, events, n_events, TRUE, error);
}

/**
 * evl_selector_get_fd:
 * @self: a selector
 *
 * Gets a file descriptor that becomes readable whenever the selector has
 * events to report (the epoll file descriptor of an
 * [class@Evl.EpollSelector]), so that the selector can be nested in
 * another event loop. The selector keeps ownership of it.
 *
 * Returns: the file descriptor, or -1 if the selector has none
 */
int
evl_selector_get_fd (EvlSelector *self)
{
  EvlSelectorClass *klass;

  g_return_val_if_fail (EVL_IS_SELECTOR (self), -1);

  klass = EVL_SELECTOR_GET_CLASS (self);
  if (klass->get_fd == NULL)
    return -1;
  return klass->get_fd (self);
}
