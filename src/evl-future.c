/* evl-future.c: a result that becomes available later
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "evl-config.h"

#include <evloop-glib/evloop-glib.h>

#include "evl-loop-private.h"

/**
 * EvlFuture:
 *
 * A result that becomes available later, the counterpart of asyncio's
 * `Future`.
 *
 * A future starts pending and is completed once, with
 * [method@Evl.Future.set_result], [method@Evl.Future.set_error] or
 * [method@Evl.Future.cancel]. Callbacks added with
 * [method@Evl.Future.add_done_callback] are then scheduled on the future's
 * loop, in the order they were added; they never run from inside the call
 * that completed the future. [method@Evl.Loop.run_until_complete] runs a loop
 * until a future is done.
 *
 * A future whose error is never retrieved with [method@Evl.Future.get_result]
 * reports that error to its loop's exception handler when it is finalized.
 *
 * Like asyncio's futures, an `EvlFuture` is not thread-safe: use it from the
 * thread that runs its loop, and hand results over from other threads with
 * [method@Evl.Loop.call_soon_threadsafe].
 */

typedef enum
{
  STATE_PENDING,
  STATE_DONE,
  STATE_CANCELLED,
} FutureState;

typedef struct
{
  EvlFutureCallback callback;
  gpointer          user_data;
  GDestroyNotify    notify;
} DoneCallback;

/* A done callback handed over to the loop: it keeps the future alive until
 * the callback has run or the loop dropped it. */
typedef struct
{
  EvlFuture        *future;
  EvlFutureCallback callback;
  gpointer          user_data;
  GDestroyNotify    notify;
} ScheduledCallback;

struct _EvlFuture
{
  GObject      parent_instance;

  EvlLoop     *loop;
  FutureState  state;

  /* STATE_DONE: either has_value (result holds a copy) or error != NULL, or
   * neither ("no value"). */
  GValue       result;
  gboolean     has_value;
  GError      *error;
  gboolean     error_retrieved;

  GQueue       callbacks; /* of DoneCallback* */
};

enum {
  PROP_0,
  PROP_LOOP,
  PROP_DONE,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

G_DEFINE_FINAL_TYPE (EvlFuture, evl_future, G_TYPE_OBJECT)

static void
done_callback_free_notify (DoneCallback *dc)
{
  if (dc->notify != NULL)
    dc->notify (dc->user_data);
  g_free (dc);
}

static void
scheduled_callback_run (gpointer data)
{
  ScheduledCallback *sc = data;

  sc->callback (sc->future, sc->user_data);
}

static void
scheduled_callback_free (gpointer data)
{
  ScheduledCallback *sc = data;

  if (sc->notify != NULL)
    sc->notify (sc->user_data);
  g_object_unref (sc->future);
  g_free (sc);
}

static void
evl_future_schedule_callback (EvlFuture         *self,
                              EvlFutureCallback  callback,
                              gpointer           user_data,
                              GDestroyNotify     notify)
{
  ScheduledCallback *sc = g_new (ScheduledCallback, 1);

  sc->future = g_object_ref (self);
  sc->callback = callback;
  sc->user_data = user_data;
  sc->notify = notify;

  /* On a closed loop this runs scheduled_callback_free() at once and
   * returns FALSE: the callback can never run, its notify has run, and
   * there is nothing else to do. */
  (void) evl_loop_call_soon_internal (self->loop,
                                      scheduled_callback_run,
                                      sc,
                                      scheduled_callback_free);
}

/* Move every done callback to the loop, in registration order. */
static void
evl_future_schedule_callbacks (EvlFuture *self)
{
  GQueue callbacks = G_QUEUE_INIT;
  DoneCallback *dc;

  /* Take the list first: a notify run by a refused schedule may call back
   * into the future. */
  callbacks = self->callbacks;
  g_queue_init (&self->callbacks);

  while ((dc = g_queue_pop_head (&callbacks)) != NULL)
    {
      evl_future_schedule_callback (self, dc->callback, dc->user_data, dc->notify);
      g_free (dc);
    }
}

static gboolean
evl_future_check_pending (EvlFuture  *self,
                          GError    **error)
{
  if (self->state == STATE_PENDING)
    return TRUE;

  g_set_error_literal (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_INVALID,
                       self->state == STATE_CANCELLED
                       ? _("The future was cancelled and cannot be completed; check evl_future_is_done() before completing it")
                       : _("The future is already done and cannot be completed twice; check evl_future_is_done() before completing it"));
  return FALSE;
}

static void
evl_future_complete (EvlFuture   *self,
                     FutureState  state)
{
  self->state = state;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_DONE]);
  evl_future_schedule_callbacks (self);
}

static void
evl_future_finalize (GObject *object)
{
  EvlFuture *self = EVL_FUTURE (object);

  if (self->error != NULL && !self->error_retrieved && self->loop != NULL)
    evl_loop_call_exception_handler (self->loop,
                                     self->error,
                                     _("Future exception was never retrieved"));

  /* Callbacks of a future that never completed never run; their notify
   * runs now. */
  g_queue_clear_full (&self->callbacks, (GDestroyNotify) done_callback_free_notify);

  if (self->has_value)
    g_value_unset (&self->result);
  g_clear_error (&self->error);
  g_clear_object (&self->loop);

  G_OBJECT_CLASS (evl_future_parent_class)->finalize (object);
}

static void
evl_future_get_property (GObject    *object,
                         guint       prop_id,
                         GValue     *value,
                         GParamSpec *pspec)
{
  EvlFuture *self = EVL_FUTURE (object);

  switch (prop_id)
    {
    case PROP_LOOP:
      g_value_set_object (value, self->loop);
      break;

    case PROP_DONE:
      g_value_set_boolean (value, evl_future_is_done (self));
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
evl_future_set_property (GObject      *object,
                         guint         prop_id,
                         const GValue *value,
                         GParamSpec   *pspec)
{
  EvlFuture *self = EVL_FUTURE (object);

  switch (prop_id)
    {
    case PROP_LOOP:
      g_assert (self->loop == NULL);
      self->loop = g_value_dup_object (value);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
evl_future_constructed (GObject *object)
{
  EvlFuture *self = EVL_FUTURE (object);

  G_OBJECT_CLASS (evl_future_parent_class)->constructed (object);

  if (self->loop == NULL)
    g_critical ("An EvlFuture needs a loop: create it with evl_future_new() "
                "or evl_loop_create_future()");
}

static void
evl_future_class_init (EvlFutureClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->constructed = evl_future_constructed;
  object_class->finalize = evl_future_finalize;
  object_class->get_property = evl_future_get_property;
  object_class->set_property = evl_future_set_property;

  /**
   * EvlFuture:loop:
   *
   * The loop that runs the future's done callbacks. The future keeps a
   * reference to it.
   */
  properties[PROP_LOOP] =
    g_param_spec_object ("loop", NULL, NULL,
                         EVL_TYPE_LOOP,
                         (G_PARAM_READWRITE |
                          G_PARAM_CONSTRUCT_ONLY |
                          G_PARAM_STATIC_STRINGS |
                          G_PARAM_EXPLICIT_NOTIFY));

  /**
   * EvlFuture:done:
   *
   * Whether the future is done (it has a result, an error or was
   * cancelled). Notified once, when the future completes.
   */
  properties[PROP_DONE] =
    g_param_spec_boolean ("done", NULL, NULL,
                          FALSE,
                          (G_PARAM_READABLE |
                           G_PARAM_STATIC_STRINGS |
                           G_PARAM_EXPLICIT_NOTIFY));

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
evl_future_init (EvlFuture *self)
{
  self->state = STATE_PENDING;
  g_queue_init (&self->callbacks);
}

/**
 * evl_future_new:
 * @loop: the loop that runs the future's done callbacks
 *
 * Creates a pending future attached to @loop.
 * [method@Evl.Loop.create_future] does the same.
 *
 * Returns: (transfer full): a new pending future
 */
EvlFuture *
evl_future_new (EvlLoop *loop)
{
  g_return_val_if_fail (EVL_IS_LOOP (loop), NULL);

  return g_object_new (EVL_TYPE_FUTURE, "loop", loop, NULL);
}

/**
 * evl_future_get_loop:
 * @future: a future
 *
 * Returns the loop the future is attached to.
 *
 * Returns: (transfer none): the future's loop
 */
EvlLoop *
evl_future_get_loop (EvlFuture *future)
{
  g_return_val_if_fail (EVL_IS_FUTURE (future), NULL);

  return future->loop;
}

/**
 * evl_future_set_result:
 * @future: a pending future
 * @value: (nullable): the result; %NULL means "no value"
 * @error: return location for a #GError
 *
 * Completes @future with a copy of @value and schedules its done callbacks
 * on its loop. A %NULL @value stores "no value": [method@Evl.Future.get_result]
 * then returns a %G_TYPE_POINTER value holding %NULL (`None` in Python,
 * `null` in JavaScript).
 *
 * Completing a future that is already done (or cancelled) fails with
 * %EVL_LOOP_ERROR_INVALID.
 *
 * Returns: %TRUE on success, %FALSE with @error set if @future is already done
 */
gboolean
evl_future_set_result (EvlFuture     *future,
                       const GValue  *value,
                       GError       **error)
{
  g_return_val_if_fail (EVL_IS_FUTURE (future), FALSE);
  g_return_val_if_fail (value == NULL || G_IS_VALUE (value), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!evl_future_check_pending (future, error))
    return FALSE;

  if (value != NULL)
    {
      g_value_init (&future->result, G_VALUE_TYPE (value));
      g_value_copy (value, &future->result);
      future->has_value = TRUE;
    }

  evl_future_complete (future, STATE_DONE);
  return TRUE;
}

/**
 * evl_future_set_error:
 * @future: a pending future
 * @err: the error the future fails with; the future stores a copy
 * @error: return location for a #GError
 *
 * Completes @future with a copy of @err and schedules its done callbacks on
 * its loop. If nobody retrieves the error with
 * [method@Evl.Future.get_result] before the future is finalized, it is
 * passed to the loop's exception handler (see
 * [method@Evl.Loop.set_exception_handler]).
 *
 * Completing a future that is already done (or cancelled) fails with
 * %EVL_LOOP_ERROR_INVALID.
 *
 * Returns: %TRUE on success, %FALSE with @error set if @future is already done
 */
gboolean
evl_future_set_error (EvlFuture     *future,
                      const GError  *err,
                      GError       **error)
{
  g_return_val_if_fail (EVL_IS_FUTURE (future), FALSE);
  g_return_val_if_fail (err != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!evl_future_check_pending (future, error))
    return FALSE;

  future->error = g_error_copy (err);
  future->error_retrieved = FALSE;

  evl_future_complete (future, STATE_DONE);
  return TRUE;
}

/**
 * evl_future_cancel:
 * @future: a future
 *
 * Cancels @future if it is still pending and schedules its done callbacks.
 * [method@Evl.Future.get_result] then fails with %EVL_LOOP_ERROR_CANCELLED.
 *
 * Returns: %TRUE if the future was cancelled, %FALSE if it was already done
 *   (or cancelled)
 */
gboolean
evl_future_cancel (EvlFuture *future)
{
  g_return_val_if_fail (EVL_IS_FUTURE (future), FALSE);

  if (future->state != STATE_PENDING)
    return FALSE;

  evl_future_complete (future, STATE_CANCELLED);
  return TRUE;
}

/**
 * evl_future_is_done:
 * @future: a future
 *
 * Returns whether @future is done: it has a result or an error, or it was
 * cancelled.
 *
 * Returns: %TRUE if @future is no longer pending
 */
gboolean
evl_future_is_done (EvlFuture *future)
{
  g_return_val_if_fail (EVL_IS_FUTURE (future), FALSE);

  return future->state != STATE_PENDING;
}

/**
 * evl_future_is_cancelled:
 * @future: a future
 *
 * Returns whether @future was cancelled.
 *
 * Returns: %TRUE if @future was cancelled
 */
gboolean
evl_future_is_cancelled (EvlFuture *future)
{
  g_return_val_if_fail (EVL_IS_FUTURE (future), FALSE);

  return future->state == STATE_CANCELLED;
}

/**
 * evl_future_get_result:
 * @future: a future
 * @out: (out caller-allocates) (optional): an unset value (`G_VALUE_INIT`),
 *   initialized with a copy of the result on success
 * @error: return location for a #GError
 *
 * Retrieves the outcome of @future. On success @out is initialized with a
 * copy of the result; a future completed with "no value" gives a
 * %G_TYPE_POINTER value holding %NULL. The caller unsets @out with
 * g_value_unset().
 *
 * Fails with %EVL_LOOP_ERROR_INVALID if @future is still pending, with
 * %EVL_LOOP_ERROR_CANCELLED if it was cancelled, and with a copy of its
 * error if it failed (which counts as retrieving that error).
 *
 * Returns: (skip): %TRUE if @future has a result, %FALSE with @error set
 *   otherwise (bindings return the result itself, or raise the error)
 */
gboolean
evl_future_get_result (EvlFuture  *future,
                       GValue     *out,
                       GError    **error)
{
  g_return_val_if_fail (EVL_IS_FUTURE (future), FALSE);
  g_return_val_if_fail (out == NULL || !G_IS_VALUE (out), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  switch (future->state)
    {
    case STATE_PENDING:
      g_set_error_literal (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_INVALID,
                           _("The future is not done yet; wait for it with evl_loop_run_until_complete() or a done callback"));
      return FALSE;

    case STATE_CANCELLED:
      g_set_error_literal (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_CANCELLED,
                           _("The future was cancelled"));
      return FALSE;

    case STATE_DONE:
    default:
      break;
    }

  if (future->error != NULL)
    {
      future->error_retrieved = TRUE;
      if (error != NULL)
        *error = g_error_copy (future->error);
      return FALSE;
    }

  if (out != NULL)
    {
      if (future->has_value)
        {
          g_value_init (out, G_VALUE_TYPE (&future->result));
          g_value_copy (&future->result, out);
        }
      else
        {
          g_value_init (out, G_TYPE_POINTER);
          g_value_set_pointer (out, NULL);
        }
    }

  return TRUE;
}

/**
 * evl_future_add_done_callback:
 * @future: a future
 * @callback: (scope notified) (closure user_data) (destroy notify): the
 *   function to call once @future is done
 * @user_data: data passed to @callback
 * @notify: (nullable): called with @user_data exactly once: after @callback
 *   ran, when the callback is removed, or when it can no longer run (the
 *   future is finalized without completing, or its loop is closed)
 *
 * Adds a callback to run once @future is done. When the future completes,
 * each callback is scheduled with its own call on the loop, in the order
 * they were added; none runs from inside the call that completed the future.
 * A callback added to a future that is already done is scheduled at once.
 */
void
evl_future_add_done_callback (EvlFuture         *future,
                              EvlFutureCallback  callback,
                              gpointer           user_data,
                              GDestroyNotify     notify)
{
  DoneCallback *dc;

  g_return_if_fail (EVL_IS_FUTURE (future));
  g_return_if_fail (callback != NULL);

  if (future->state != STATE_PENDING)
    {
      evl_future_schedule_callback (future, callback, user_data, notify);
      return;
    }

  dc = g_new (DoneCallback, 1);
  dc->callback = callback;
  dc->user_data = user_data;
  dc->notify = notify;
  g_queue_push_tail (&future->callbacks, dc);
}

/**
 * evl_future_remove_done_callback: (skip)
 * @future: a future
 * @callback: (scope call): the callback given to
 *   [method@Evl.Future.add_done_callback]
 * @user_data: the data given with it
 *
 * Removes every done callback of @future that matches both @callback and
 * @user_data and runs their notify functions. Callbacks already scheduled
 * (because the future is done) are no longer registered and are not
 * removed.
 *
 * Not available to Python and JavaScript: a callback from those languages
 * is a new C function pointer on each call, so it never matches. (Vala,
 * which passes the same function and target, has it.)
 *
 * Returns: the number of callbacks removed
 */
guint
evl_future_remove_done_callback (EvlFuture         *future,
                                 EvlFutureCallback  callback,
                                 gpointer           user_data)
{
  GQueue removed = G_QUEUE_INIT;
  GList *l;
  guint n;

  g_return_val_if_fail (EVL_IS_FUTURE (future), 0);

  l = future->callbacks.head;
  while (l != NULL)
    {
      GList *next = l->next;
      DoneCallback *dc = l->data;

      if (dc->callback == callback && dc->user_data == user_data)
        {
          g_queue_unlink (&future->callbacks, l);
          g_queue_push_tail_link (&removed, l);
        }
      l = next;
    }

  /* Run the notifies once the list is consistent again: they may call back
   * into the future. */
  n = removed.length;
  g_queue_clear_full (&removed, (GDestroyNotify) done_callback_free_notify);

  return n;
}
