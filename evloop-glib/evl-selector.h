/* evl-selector.h: abstract I/O readiness selector (like Python's selectors)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(EVL_INSIDE) && !defined(EVL_COMPILATION)
# error "Only <evloop-glib/evloop-glib.h> can be included directly."
#endif

#include "evl-types.h"

G_BEGIN_DECLS

/**
 * EvlSelectorEvent:
 * @fd: the file descriptor
 * @events: the events that are ready (a subset of those registered; a failed
 *   or hung-up descriptor is reported with every registered event)
 * @data: the data given when @fd was registered
 *
 * One ready file descriptor, as returned by [method@Evl.Selector.select].
 */
typedef struct
{
  int           fd;
  EvlEventFlags events;
  gpointer      data;
} EvlSelectorEvent;

#define EVL_TYPE_SELECTOR (evl_selector_get_type ())

EVL_AVAILABLE_IN_ALL
G_DECLARE_DERIVABLE_TYPE (EvlSelector, evl_selector, EVL, SELECTOR, GObject)

/**
 * EvlSelectorClass:
 * @parent_class: the parent class
 * @register_fd: start watching @fd for @events (the base class has checked
 *   the arguments and keeps the key table)
 * @modify_fd: change the events watched on @fd from @old_events to @events
 * @unregister_fd: stop watching @fd (which may be closed already)
 * @select: wait up to @timeout nanoseconds (-1: no limit, 0: do not
 *   block) and store at most @n_events ready events in @events; return
 *   their number, or -1 with @error set
 * @get_fd: return a file descriptor that becomes readable when the selector
 *   has events (an epoll fd), or -1 if there is none
 *
 * The class structure of [class@Evl.Selector].
 */
struct _EvlSelectorClass
{
  GObjectClass parent_class;

  gboolean (*register_fd)   (EvlSelector      *self,
                             int               fd,
                             EvlEventFlags     events,
                             GError          **error);
  gboolean (*modify_fd)     (EvlSelector      *self,
                             int               fd,
                             EvlEventFlags     old_events,
                             EvlEventFlags     events,
                             GError          **error);
  void     (*unregister_fd) (EvlSelector      *self,
                             int               fd,
                             EvlEventFlags     old_events);
  int      (*select)        (EvlSelector      *self,
                             gint64            timeout,
                             EvlSelectorEvent *events,
                             guint             n_events,
                             GError          **error);
  int      (*get_fd)        (EvlSelector      *self);

  /*< private >*/
  gpointer _evl_reserved[8];
};

EVL_AVAILABLE_IN_ALL
EvlSelector  *evl_selector_new_default  (void);
EVL_AVAILABLE_IN_ALL
const char   *evl_selector_get_name     (EvlSelector      *self);
EVL_AVAILABLE_IN_ALL
gboolean      evl_selector_register     (EvlSelector      *self,
                                         int               fd,
                                         EvlEventFlags     events,
                                         gpointer          data,
                                         GError          **error);
EVL_AVAILABLE_IN_ALL
gboolean      evl_selector_modify       (EvlSelector      *self,
                                         int               fd,
                                         EvlEventFlags     events,
                                         gpointer          data,
                                         GError          **error);
EVL_AVAILABLE_IN_ALL
gboolean      evl_selector_unregister   (EvlSelector      *self,
                                         int               fd,
                                         GError          **error);
EVL_AVAILABLE_IN_ALL
gboolean      evl_selector_get_key      (EvlSelector      *self,
                                         int               fd,
                                         EvlEventFlags    *events,
                                         gpointer         *data);
EVL_AVAILABLE_IN_ALL
guint         evl_selector_get_n_keys   (EvlSelector      *self);
EVL_AVAILABLE_IN_ALL
int           evl_selector_select       (EvlSelector      *self,
                                         double            timeout,
                                         EvlSelectorEvent *events,
                                         guint             n_events,
                                         GError          **error);
EVL_AVAILABLE_IN_ALL
int           evl_selector_select_ns    (EvlSelector      *self,
                                         gint64            timeout,
                                         EvlSelectorEvent *events,
                                         guint             n_events,
                                         GError          **error);
EVL_AVAILABLE_IN_ALL
int           evl_selector_get_fd       (EvlSelector      *self);

G_END_DECLS
