/* evl-operation.c: the GAsyncResult of the loop's own operations
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "evl-loop-private.h"
#include "evl-operation-private.h"

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

EvlOperation *
evl_operation_new (EvlLoop             *loop,
                   gpointer             source_tag,
                   GAsyncReadyCallback  callback,
                   gpointer             user_data)
{
  EvlOperation *self = g_object_new (EVL_TYPE_OPERATION, NULL);

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
    self->callback (G_OBJECT (self->loop), G_ASYNC_RESULT (self), self->user_data);
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
  g_object_unref (self);
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
  g_object_ref (self);
  deliver (self);
  g_object_unref (self);
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
  self = EVL_OPERATION (result);
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
