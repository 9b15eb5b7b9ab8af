/* evl-epoll-selector-stub.c: the epoll selector where there is no epoll
 *
 * The type exists on every platform so that the API and the bindings are
 * the same everywhere; creating an instance fails with
 * EVL_LOOP_ERROR_NOT_SUPPORTED.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "evl-config.h"

#include "evl-selector-private.h"
#include "evl-loop-private.h"

struct _EvlEpollSelector
{
  EvlSelector parent_instance;
};

static void evl_epoll_selector_initable_iface_init (GInitableIface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (EvlEpollSelector, evl_epoll_selector, EVL_TYPE_SELECTOR,
                               G_IMPLEMENT_INTERFACE (G_TYPE_INITABLE,
                                                      evl_epoll_selector_initable_iface_init))

static void
set_not_supported (GError **error)
{
  g_set_error_literal (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_NOT_SUPPORTED,
                       _("The epoll selector is only available on Linux; "
                         "use the poll or select selector"));
}

static gboolean
evl_epoll_selector_register_fd (EvlSelector    *selector,
                                int             fd,
                                EvlEventFlags   events,
                                GError        **error)
{
  set_not_supported (error);
  return FALSE;
}

static gboolean
evl_epoll_selector_modify_fd (EvlSelector    *selector,
                              int             fd,
                              EvlEventFlags   old_events,
                              EvlEventFlags   events,
                              GError        **error)
{
  set_not_supported (error);
  return FALSE;
}

static void
evl_epoll_selector_unregister_fd (EvlSelector   *selector,
                                  int            fd,
                                  EvlEventFlags  old_events)
{
}

static int
evl_epoll_selector_select (EvlSelector       *selector,
                           gint64             timeout_ns,
                           EvlSelectorEvent  *events,
                           guint              n_events,
                           GError           **error)
{
  set_not_supported (error);
  return -1;
}

static int
evl_epoll_selector_get_fd (EvlSelector *selector)
{
  return -1;
}

static gboolean
evl_epoll_selector_initable_init (GInitable     *initable,
                                  GCancellable  *cancellable,
                                  GError       **error)
{
  set_not_supported (error);
  return FALSE;
}

static void
evl_epoll_selector_initable_iface_init (GInitableIface *iface)
{
  iface->init = evl_epoll_selector_initable_init;
}

static void
evl_epoll_selector_class_init (EvlEpollSelectorClass *klass)
{
  EvlSelectorClass *selector_class = EVL_SELECTOR_CLASS (klass);

  selector_class->register_fd = evl_epoll_selector_register_fd;
  selector_class->modify_fd = evl_epoll_selector_modify_fd;
  selector_class->unregister_fd = evl_epoll_selector_unregister_fd;
  selector_class->select = evl_epoll_selector_select;
  selector_class->get_fd = evl_epoll_selector_get_fd;

  evl_selector_class_set_name (selector_class, "epoll");
}

static void
evl_epoll_selector_init (EvlEpollSelector *self)
{
}

/**
 * evl_epoll_selector_new:
 * @error: return location for a #GError
 *
 * Creates a new epoll selector.
 *
 * Returns: (transfer full): a new selector, or %NULL with @error set
 *   ([error@Evl.LoopError.NOT_SUPPORTED] on this platform)
 */
EvlSelector *
evl_epoll_selector_new (GError **error)
{
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  set_not_supported (error);
  return NULL;
}
