/* evl-proactor-loop-stub.c: EvlProactorLoop where no proactor backend is built
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "evl-config.h"

#include "evl-loop-private.h"

/* The type exists on every platform so that code and bindings can name it;
 * creating one fails with EVL_LOOP_ERROR_NOT_SUPPORTED. */

struct _EvlProactorLoop
{
  EvlLoop parent_instance;
};

static void evl_proactor_loop_initable_iface_init (GInitableIface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (EvlProactorLoop, evl_proactor_loop, EVL_TYPE_LOOP,
                               G_IMPLEMENT_INTERFACE (G_TYPE_INITABLE,
                                                      evl_proactor_loop_initable_iface_init))

static gboolean
evl_proactor_loop_initable_init (GInitable     *initable,
                                 GCancellable  *cancellable,
                                 GError       **error)
{
  g_set_error_literal (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_NOT_SUPPORTED,
                       _("This build of evloop-glib has no proactor backend; "
                         "use the selector loop instead"));
  return FALSE;
}

static void
evl_proactor_loop_initable_iface_init (GInitableIface *iface)
{
  iface->init = evl_proactor_loop_initable_init;
}

static void
evl_proactor_loop_class_init (EvlProactorLoopClass *klass)
{
}

static void
evl_proactor_loop_init (EvlProactorLoop *self)
{
}

/**
 * evl_proactor_loop_new:
 * @error: return location for a #GError
 *
 * Creates a completion-based loop (io_uring on Linux, IOCP on Windows).
 *
 * Returns: (transfer full) (nullable): a new loop, or %NULL with
 *   %EVL_LOOP_ERROR_NOT_SUPPORTED where the platform has no proactor
 */
EvlLoop *
evl_proactor_loop_new (GError **error)
{
  return g_initable_new (EVL_TYPE_PROACTOR_LOOP, NULL, error, NULL);
}
