/* evl-loop-wait-signal.c: awaiting a GObject signal (gbulb's wait_signal)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "evl-config.h"

#include "evl-loop-private.h"
#include "evl-operation-private.h"

/* One wait is a GClosure connected to the signal, with a marshaller of
 * its own that copies the parameter values whatever their types (the
 * generic way: no C callback signature to match). The first emission wins
 * and disconnects the handler; disposing the object destroys the handler,
 * which invalidates the closure: the wait then fails. Either may happen in
 * any thread, so what they share with the loop's thread is under
 * SignalWait.lock, and they hand over with call_soon_threadsafe; the
 * callback always runs from the loop's own dispatch.
 *
 * References: the loop side (the EvlOperation, until it completes), the
 * closure (until GLib finalizes it), and each posted callback. The object
 * is only weakly referenced, through a GWeakRef, so that the loop side can
 * disconnect from any thread's object safely. */

typedef enum
{
  WAIT_WAITING,
  WAIT_EMITTED,
  WAIT_DESTROYED,
  WAIT_ENDED,       /* cancelled, or the loop closed */
} WaitState;

typedef struct
{
  gint              ref_count;    /* atomic */
  GMutex            lock;
  /* under lock */
  EvlLoop          *loop;         /* not owned: NULL once the loop side ended */
  WaitState         state;
  gulong            handler_id;   /* while connected and nobody disconnects */
  GArray           *values;       /* WAIT_EMITTED: of GValue */

  /* the loop side (loop thread only) */
  EvlOperation     *op;
  EvlLoopCloseHook  hook;
  GCancellable     *cancellable;
  gulong            cancel_id;
  GWeakRef          instance;
  char             *signal;       /* for messages */
} SignalWait;

static SignalWait *
signal_wait_ref (SignalWait *wait)
{
  g_atomic_int_inc (&wait->ref_count);
  return wait;
}

static void
signal_wait_unref (gpointer data)
{
  SignalWait *wait = data;

  if (!g_atomic_int_dec_and_test (&wait->ref_count))
    return;
  g_assert (wait->op == NULL);
  g_clear_pointer (&wait->values, g_array_unref);
  g_clear_object (&wait->cancellable);
  g_weak_ref_clear (&wait->instance);
  g_free (wait->signal);
  g_mutex_clear (&wait->lock);
  g_free (wait);
}

static void
closure_finalized (gpointer  data,
                   GClosure *closure)
{
  signal_wait_unref (data);
}

static void deliver_cb (gpointer data);

/* Under wait->lock: tells the loop's thread that the wait is decided. */
static void
post_locked (SignalWait *wait)
{
  if (wait->loop != NULL)
    evl_loop_call_soon_threadsafe_internal (wait->loop, deliver_cb,
                                            signal_wait_ref (wait), signal_wait_unref);
}

/* The marshaller: runs in the emitting thread, for the first emission
 * (later ones, before the disconnection takes effect, are ignored). */
static void
wait_marshal (GClosure     *closure,
              GValue       *return_value,
              guint         n_param_values,
              const GValue *param_values,
              gpointer      invocation_hint,
              gpointer      marshal_data)
{
  SignalWait *wait = closure->data;
  gpointer instance = g_value_get_object (&param_values[0]);
  gulong handler_id;
  guint i;

  g_mutex_lock (&wait->lock);
  if (wait->state != WAIT_WAITING)
    {
      g_mutex_unlock (&wait->lock);
      return;
    }
  wait->state = WAIT_EMITTED;
  wait->values = g_array_sized_new (FALSE, TRUE, sizeof (GValue), n_param_values - 1);
  g_array_set_clear_func (wait->values, (GDestroyNotify) g_value_unset);
  for (i = 1; i < n_param_values; i++)
    {
      GValue copy = G_VALUE_INIT;

      g_value_init (&copy, G_VALUE_TYPE (&param_values[i]));
      g_value_copy (&param_values[i], &copy);
      g_array_append_val (wait->values, copy);
    }
  handler_id = wait->handler_id;
  wait->handler_id = 0;
  post_locked (wait);
  g_mutex_unlock (&wait->lock);

  /* Invalidates the closure: closure_invalidated() sees the state. */
  if (handler_id != 0)
    g_signal_handler_disconnect (instance, handler_id);
}

/* The handler is gone: we disconnected it, or the object is disposed. */
static void
closure_invalidated (gpointer  data,
                     GClosure *closure)
{
  SignalWait *wait = data;

  g_mutex_lock (&wait->lock);
  wait->handler_id = 0;
  if (wait->state == WAIT_WAITING)
    {
      wait->state = WAIT_DESTROYED;
      post_locked (wait);
    }
  g_mutex_unlock (&wait->lock);
}

/* Ends the loop side with @error (taken), or with what the wait saw. */
static void
complete_op (SignalWait *wait,
             GError     *error)
{
  EvlOperation *op = g_steal_pointer (&wait->op);
  gulong handler_id;
  WaitState state;

  evl_loop_remove_close_hook (evl_operation_get_loop (op), &wait->hook);
  g_mutex_lock (&wait->lock);
  wait->loop = NULL;
  if (wait->state == WAIT_WAITING)
    wait->state = WAIT_ENDED;
  state = wait->state;
  handler_id = wait->handler_id;
  wait->handler_id = 0;
  g_mutex_unlock (&wait->lock);

  if (handler_id != 0)
    {
      /* A strong reference, if the object is not being disposed (whose
       * disposal destroys the handler anyway). */
      GObject *instance = g_weak_ref_get (&wait->instance);

      if (instance != NULL)
        {
          g_signal_handler_disconnect (instance, handler_id);
          g_object_unref (instance);
        }
    }
  if (wait->cancel_id != 0)
    g_cancellable_disconnect (wait->cancellable, wait->cancel_id);
  wait->cancel_id = 0;

  if (error == NULL && g_cancellable_is_cancelled (wait->cancellable))
    error = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED, _("Operation was cancelled"));
  if (error == NULL && state == WAIT_DESTROYED)
    error = g_error_new (G_IO_ERROR, G_IO_ERROR_CLOSED,
                         _("The object was destroyed before it emitted “%s”; keep a reference "
                           "to it while you wait for the signal"), wait->signal);
  if (error != NULL)
    evl_operation_return_error (op, error);
  else
    {
      GArray *values;

      g_assert (state == WAIT_EMITTED);
      g_mutex_lock (&wait->lock);
      values = g_steal_pointer (&wait->values);
      g_mutex_unlock (&wait->lock);
      evl_operation_return_pointer (op, values, (GDestroyNotify) g_array_unref);
    }
  g_object_unref (op);
  signal_wait_unref (wait);   /* the loop side's reference */
}

/* On the loop's thread: emitted, or the object was destroyed. */
static void
deliver_cb (gpointer data)
{
  SignalWait *wait = data;

  if (wait->op != NULL)
    complete_op (wait, NULL);
}

static void
do_cancel (gpointer data)
{
  SignalWait *wait = data;

  if (wait->op != NULL)
    complete_op (wait, g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED,
                                            _("Operation was cancelled")));
}

static void
close_hook_cb (gpointer data)
{
  do_cancel (data);
}

/* GCancellable::cancelled, in whatever thread cancelled; never
 * disconnects here (complete_op() does, on the loop's thread). */
static void
on_cancelled (GCancellable *cancellable,
              gpointer      data)
{
  SignalWait *wait = data;

  g_mutex_lock (&wait->lock);
  if (wait->loop != NULL)
    evl_loop_call_soon_threadsafe_internal (wait->loop, do_cancel,
                                            signal_wait_ref (wait), signal_wait_unref);
  g_mutex_unlock (&wait->lock);
}

/**
 * evl_loop_wait_signal_async:
 * @loop: a loop
 * @instance: (type GObject.Object): the object that will emit the signal
 * @detailed_signal: a signal of @instance, in the form `signal-name` or
 *   `signal-name::detail` (such as `notify::title`)
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async) (closure user_data): called once the signal is
 *   emitted
 * @user_data: data for @callback
 *
 * Waits for the next emission of @detailed_signal on @instance, as gbulb's
 * `wait_signal()`: the GIO way to await a GObject signal (in Python, with
 * the evl_asyncio adapter, `await` it; in JavaScript, a Promise). Get the
 * signal's arguments with [method@Evl.Loop.wait_signal_finish].
 *
 * Only the first emission counts: the handler is disconnected when the
 * signal is emitted (whatever thread emits it), when @cancellable is
 * cancelled (%G_IO_ERROR_CANCELLED), when the loop closes (the same), or
 * when @instance is disposed first, which fails with %G_IO_ERROR_CLOSED.
 * The wait does not keep @instance alive. @callback runs from the loop's
 * own dispatch, never from inside the emission; a handler connected to the
 * same signal still sees the emission first.
 *
 * An unknown signal fails with %EVL_LOOP_ERROR_INVALID, a closed loop
 * with %EVL_LOOP_ERROR_CLOSED.
 */
void
evl_loop_wait_signal_async (EvlLoop             *loop,
                            gpointer             instance,
                            const char          *detailed_signal,
                            GCancellable        *cancellable,
                            GAsyncReadyCallback  callback,
                            gpointer             user_data)
{
  EvlOperation *op;
  SignalWait *wait;
  GClosure *closure;
  GError *error = NULL;
  guint signal_id = 0;
  GQuark detail = 0;

  g_return_if_fail (EVL_IS_LOOP (loop));
  g_return_if_fail (G_IS_OBJECT (instance));
  g_return_if_fail (detailed_signal != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  op = evl_operation_new (loop, evl_loop_wait_signal_async, callback, user_data);
  if (evl_loop_is_closed (loop))
    g_set_error_literal (&error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_CLOSED,
                         _("The event loop is closed; create a new loop to run more work"));
  else if (!g_signal_parse_name (detailed_signal, G_OBJECT_TYPE (instance), &signal_id, &detail, TRUE))
    g_set_error (&error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_INVALID,
                 _("%s has no signal “%s”; check the signal’s name and detail"),
                 G_OBJECT_TYPE_NAME (instance), detailed_signal);
  else
    g_cancellable_set_error_if_cancelled (cancellable, &error);
  if (error != NULL)
    {
      evl_operation_return_error (op, error);
      g_object_unref (op);
      return;
    }

  wait = g_new0 (SignalWait, 1);
  wait->ref_count = 2;   /* the loop side and the closure */
  g_mutex_init (&wait->lock);
  wait->loop = loop;
  wait->state = WAIT_WAITING;
  wait->op = op;
  g_weak_ref_init (&wait->instance, instance);
  wait->signal = g_strdup (detailed_signal);
  wait->hook.func = close_hook_cb;
  wait->hook.data = wait;
  evl_loop_add_close_hook (loop, &wait->hook);

  closure = g_closure_new_simple (sizeof (GClosure), wait);
  g_closure_set_marshal (closure, wait_marshal);
  g_closure_add_finalize_notifier (closure, wait, closure_finalized);
  g_closure_add_invalidate_notifier (closure, wait, closure_invalidated);
  /* Under the lock: an emission in another thread waits for the id. */
  g_mutex_lock (&wait->lock);
  wait->handler_id = g_signal_connect_closure_by_id (instance, signal_id, detail, closure, FALSE);
  g_mutex_unlock (&wait->lock);

  if (cancellable != NULL)
    {
      wait->cancellable = g_object_ref (cancellable);
      wait->cancel_id = g_cancellable_connect (cancellable, G_CALLBACK (on_cancelled), wait, NULL);
    }
}

/**
 * evl_loop_wait_signal_finish:
 * @loop: a loop
 * @result: the #GAsyncResult passed to the callback
 * @values: (out) (optional) (array length=n_values) (transfer full):
 *   copies of the signal's arguments, without the emitting object; free
 *   with g_value_unset() on each and g_free()
 * @n_values: (out) (optional): the number of @values
 * @error: return location for a #GError
 *
 * Finishes [method@Evl.Loop.wait_signal_async].
 *
 * Returns: (skip): %TRUE when the signal was emitted; %FALSE with
 *   %G_IO_ERROR_CANCELLED, %G_IO_ERROR_CLOSED (the object was destroyed
 *   first), %EVL_LOOP_ERROR_INVALID or %EVL_LOOP_ERROR_CLOSED
 */
gboolean
evl_loop_wait_signal_finish (EvlLoop       *loop,
                             GAsyncResult  *result,
                             GValue       **values,
                             guint         *n_values,
                             GError       **error)
{
  GArray *array;

  if (values != NULL)
    *values = NULL;
  if (n_values != NULL)
    *n_values = 0;
  g_return_val_if_fail (EVL_IS_LOOP (loop), FALSE);
  g_return_val_if_fail (evl_operation_is_valid (result, loop, evl_loop_wait_signal_async), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  array = evl_operation_propagate_pointer (EVL_OPERATION (result), error);
  if (array == NULL)
    return FALSE;
  if (n_values != NULL)
    *n_values = array->len;
  if (values != NULL && array->len > 0)
    {
      g_array_set_clear_func (array, NULL);
      *values = (GValue *) g_array_free (array, FALSE);
    }
  else
    g_array_unref (array);
  return TRUE;
}
