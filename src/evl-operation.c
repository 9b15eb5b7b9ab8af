/* evl-operation.c: the GAsyncResult of the loop's own operations
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "evl-config.h"

#include "evl-loop-private.h"
#include "evl-loop-impl-private.h"
#include "evl-operation-private.h"

/* evl_loop_is_closed() without its type check, for the hot paths. */
static inline gboolean
loop_is_closed (EvlLoop *loop)
{
  return evl_loop_get_priv (loop)->closed;
}

typedef enum
{
  RESULT_NONE,
  RESULT_POINTER,
  RESULT_SIZE,
  RESULT_BOOLEAN,
} ResultKind;

struct _EvlOperation
{
  GObject              parent_instance;

  EvlLoop             *loop;          /* the source object: strong */
  gpointer             pool;          /* the loop's OperationPool, if it had one */
  gpointer             source_tag;
  GAsyncReadyCallback  callback;
  gpointer             user_data;

  ResultKind           kind;
  union {
    gpointer           pointer;
    gssize             size;
    gboolean           boolean;
  } result;
  GDestroyNotify       result_notify;
  GError              *error;

  guint                completed : 1;
  guint                delivered : 1;
  guint                propagated : 1;
  guint                held : 1;
};

static void evl_operation_async_result_iface_init (GAsyncResultIface *iface);

/* Operations whose callback has run and that nobody else holds go back to
 * a small pool of their loop's, for the loop's next ones: a GObject made
 * and finalized per socket operation cost more than the rest of the
 * operation's bookkeeping. Only on the thread that runs the loop, and
 * only an operation nothing else can see (no other reference, no qdata:
 * no weak reference, toggle reference or binding wrapper). A pooled
 * operation holds no reference on its loop (the pool is the loop's). */
#define POOL_MAX 64

typedef struct
{
  EvlOperation *ops[POOL_MAX];
  guint         n;
} OperationPool;

G_DEFINE_FINAL_TYPE_WITH_CODE (EvlOperation, evl_operation, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (G_TYPE_ASYNC_RESULT,
                                                      evl_operation_async_result_iface_init))

static gpointer
evl_operation_get_user_data (GAsyncResult *result)
{
  return EVL_OPERATION (result)->user_data;
}

static GObject *
evl_operation_get_source_object (GAsyncResult *result)
{
  return g_object_ref (G_OBJECT (EVL_OPERATION (result)->loop));
}

static gboolean
evl_operation_is_tagged (GAsyncResult *result,
                         gpointer      source_tag)
{
  return EVL_OPERATION (result)->source_tag == source_tag;
}

static void
evl_operation_async_result_iface_init (GAsyncResultIface *iface)
{
  iface->get_user_data = evl_operation_get_user_data;
  iface->get_source_object = evl_operation_get_source_object;
  iface->is_tagged = evl_operation_is_tagged;
}

static void
evl_operation_finalize (GObject *object)
{
  EvlOperation *self = EVL_OPERATION (object);

  if (self->kind == RESULT_POINTER && !self->propagated && self->result_notify != NULL)
    self->result_notify (self->result.pointer);
  g_clear_error (&self->error);
  g_clear_object (&self->loop);

  G_OBJECT_CLASS (evl_operation_parent_class)->finalize (object);
}

static void
evl_operation_class_init (EvlOperationClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = evl_operation_finalize;
}

static void
evl_operation_init (EvlOperation *self)
{
}

static GQuark
pool_quark (void)
{
  static GQuark quark;

  if (G_UNLIKELY (quark == 0))
    quark = g_quark_from_static_string ("evl-operation-pool");
  return quark;
}

static void
pool_free (gpointer data)
{
  OperationPool *pool = data;

  while (pool->n > 0)
    g_object_unref (pool->ops[--pool->n]);
  g_free (pool);
}

/* Whether only we can see @self (our reference is the last one). */
static gboolean
is_private (EvlOperation *self)
{
  GObject *object = (GObject *) self;

  /* qdata's low bits are GLib's flags. */
  return g_atomic_int_get (&object->ref_count) == 1 &&
         ((gsize) g_atomic_pointer_get (&object->qdata) & ~(gsize) 7) == 0;
}

/* Drops our reference on @self, which may go to the pool. */
static void
release (EvlOperation *self)
{
  EvlLoop *loop = self->loop;
  OperationPool *pool;

  if (!is_private (self) || loop == NULL || loop_is_closed (loop) ||
      evl_loop_get_running_thread (loop) != g_thread_self ())
    {
      g_object_unref (self);
      return;
    }
  pool = self->pool != NULL ? self->pool : g_object_get_qdata ((GObject *) loop, pool_quark ());
  if (pool == NULL)
    {
      pool = g_new0 (OperationPool, 1);
      g_object_set_qdata_full (G_OBJECT (loop), pool_quark (), pool, pool_free);
    }
  if (pool->n == POOL_MAX)
    {
      g_object_unref (self);
      return;
    }
  if (self->kind == RESULT_POINTER && !self->propagated && self->result_notify != NULL)
    self->result_notify (self->result.pointer);
  g_clear_error (&self->error);
  self->source_tag = NULL;
  self->callback = NULL;
  self->user_data = NULL;
  self->kind = RESULT_NONE;
  self->result.pointer = NULL;
  self->result_notify = NULL;
  self->completed = self->delivered = self->propagated = self->held = FALSE;
  self->loop = NULL;
  self->pool = NULL;
  pool->ops[pool->n++] = self;
  /* Last, as it may drop the last reference on the loop. */
  g_object_unref (loop);
}

EvlOperation *
evl_operation_new (EvlLoop             *loop,
                   gpointer             source_tag,
                   GAsyncReadyCallback  callback,
                   gpointer             user_data)
{
  EvlOperation *self = NULL;
  OperationPool *pool = NULL;

  if (evl_loop_get_running_thread (loop) == g_thread_self () &&
      (pool = g_object_get_qdata ((GObject *) loop, pool_quark ())) != NULL &&
      pool->n > 0)
    self = pool->ops[--pool->n];
  else
    self = g_object_new (EVL_TYPE_OPERATION, NULL);
  /* Valid while we hold the loop, which owns it. */
  self->pool = pool;

  self->loop = g_object_ref (loop);
  self->source_tag = source_tag;
  self->callback = callback;
  self->user_data = user_data;
  return self;
}

EvlLoop *
evl_operation_get_loop (EvlOperation *self)
{
  return self->loop;
}

gboolean
evl_operation_is_completed (EvlOperation *self)
{
  return self->completed;
}

static void
deliver (EvlOperation *self)
{
  self->delivered = TRUE;
  if (self->callback != NULL)
    self->callback ((GObject *) self->loop, (GAsyncResult *) self, self->user_data);
}

static void
deliver_cb (gpointer data)
{
  deliver (data);
}

/* The handle's notify runs exactly once: after deliver_cb, or instead of
 * it when the loop drops the callback (closed before it ran, or closed
 * already when the operation completed). Deliver then, so the callback
 * still runs once and what the result holds (a buffer, an accepted fd)
 * reaches the caller. */
static void
deliver_notify (gpointer data)
{
  EvlOperation *self = data;

  if (!self->delivered)
    deliver (self);
  release (self);
}

static void
complete (EvlOperation *self)
{
  g_return_if_fail (!self->completed);

  self->completed = TRUE;
  if (self->held)
    return;
  evl_loop_call_soon_internal (self->loop, deliver_cb, g_object_ref (self), deliver_notify);
}

void
evl_operation_hold (EvlOperation *self,
                    gboolean      hold)
{
  g_return_if_fail (EVL_IS_OPERATION (self));
  g_return_if_fail (!self->completed);

  self->held = hold != FALSE;
}

void
evl_operation_deliver_held (EvlOperation *self)
{
  g_return_if_fail (EVL_IS_OPERATION (self));
  g_return_if_fail (self->held && self->completed && !self->delivered);

  self->held = FALSE;
  deliver (self);
  release (self);
}

void
evl_operation_return_pointer (EvlOperation   *self,
                              gpointer        result,
                              GDestroyNotify  result_notify)
{
  g_return_if_fail (EVL_IS_OPERATION (self));
  g_return_if_fail (self->kind == RESULT_NONE && self->error == NULL);

  self->kind = RESULT_POINTER;
  self->result.pointer = result;
  self->result_notify = result_notify;
  complete (self);
}

void
evl_operation_return_size (EvlOperation *self,
                           gssize        result)
{
  g_return_if_fail (EVL_IS_OPERATION (self));
  g_return_if_fail (self->kind == RESULT_NONE && self->error == NULL);

  self->kind = RESULT_SIZE;
  self->result.size = result;
  complete (self);
}

void
evl_operation_return_boolean (EvlOperation *self,
                              gboolean      result)
{
  g_return_if_fail (EVL_IS_OPERATION (self));
  g_return_if_fail (self->kind == RESULT_NONE && self->error == NULL);

  self->kind = RESULT_BOOLEAN;
  self->result.boolean = result;
  complete (self);
}

void
evl_operation_return_error (EvlOperation *self,
                            GError       *error)
{
  g_return_if_fail (EVL_IS_OPERATION (self));
  g_return_if_fail (error != NULL);
  g_return_if_fail (self->kind == RESULT_NONE && self->error == NULL);

  self->error = error;
  complete (self);
}

gboolean
evl_operation_is_valid (GAsyncResult *result,
                        gpointer      source_object,
                        gpointer      source_tag)
{
  EvlOperation *self;

  if (!EVL_IS_OPERATION (result))
    return FALSE;
  self = (EvlOperation *) result;
  return (gpointer) self->loop == source_object &&
         self->source_tag == source_tag &&
         self->completed;
}

static gboolean
propagate_error (EvlOperation  *self,
                 GError       **error)
{
  g_return_val_if_fail (!self->propagated, TRUE);

  self->propagated = TRUE;
  if (self->error != NULL)
    {
      g_propagate_error (error, g_error_copy (self->error));
      return TRUE;
    }
  return FALSE;
}

gpointer
evl_operation_propagate_pointer (EvlOperation  *self,
                                 GError       **error)
{
  g_return_val_if_fail (EVL_IS_OPERATION (self), NULL);

  if (propagate_error (self, error))
    return NULL;
  g_return_val_if_fail (self->kind == RESULT_POINTER, NULL);
  return g_steal_pointer (&self->result.pointer);
}

gssize
evl_operation_propagate_size (EvlOperation  *self,
                              GError       **error)
{
  g_return_val_if_fail (EVL_IS_OPERATION (self), -1);

  if (propagate_error (self, error))
    return -1;
  g_return_val_if_fail (self->kind == RESULT_SIZE, -1);
  return self->result.size;
}

gboolean
evl_operation_propagate_boolean (EvlOperation  *self,
                                 GError       **error)
{
  g_return_val_if_fail (EVL_IS_OPERATION (self), FALSE);

  if (propagate_error (self, error))
    return FALSE;
  g_return_val_if_fail (self->kind == RESULT_BOOLEAN, FALSE);
  return self->result.boolean;
}
