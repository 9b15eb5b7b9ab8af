/* evl-selector-private.h: EvlSelector internals shared with the selector
 * backends and the selector loop
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <evloop-glib/evloop-glib.h>

G_BEGIN_DECLS

/* Backends call this from class_init; evl_selector_get_name() returns it.
 * @name must be a static string. Subclasses that do not call it get a name
 * derived from their type name ("MyFooSelector" -> "myfoo"). */
void evl_selector_class_set_name (EvlSelectorClass  *klass,
                                  const char        *name);

/* Like evl_selector_select_ns(), but keeps the private EVL_IO_ERROR and
 * EVL_IO_HUP bits (evl-loop-private.h) that a backend reports for a failed,
 * hung-up or closed fd, in addition to the READ/WRITE bits of its interest.
 * Fills in @data and drops the events of fds that are no longer registered.
 * EINTR is not an error: 0 events. Used by the selector loop. */
int  evl_selector_select_raw     (EvlSelector       *self,
                                  gint64             timeout_ns,
                                  EvlSelectorEvent  *events,
                                  guint              n_events,
                                  GError           **error);

/* evl-selector-loop.c: the GSource bridge polled @loop's fds (GLib's
 * poll) and reported them: the next non-blocking poll is skipped. */
void evl_selector_loop_set_polled (EvlLoop  *loop,
                                   gboolean  polled);

G_END_DECLS
