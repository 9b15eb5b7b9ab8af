/* evl-loop-timers.c: call_later(), call_at() and the timer heap
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "evl-config.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <time.h>
#include <unistd.h>

#include "evl-loop-impl-private.h"
#include "evl-os-private.h"
#include "evl-wakeup-private.h"

static gint64
seconds_to_ns_ceil (double seconds)
{
  double ns = ceil (seconds * 1e9);

  if (ns >= (double) G_MAXINT64 / 2)
    return G_MAXINT64 / 2;
  if (ns <= (double) G_MININT64 / 2)
    return G_MININT64 / 2;
  return (gint64) ns;
}

static EvlHandle *
schedule_timer (EvlLoop        *loop,
                gint64          when,
                EvlCallback     callback,
                gpointer        user_data,
                GDestroyNotify  notify)
{
  EvlLoopPrivate *priv = evl_loop_get_priv (loop);
  EvlHandle *handle;

  evl_loop_check_thread (loop, priv, "evl_loop_call_at");
  handle = evl_handle_pool_take (&priv->timer_pool, callback, user_data, notify, EVL_HANDLE_TIMER);
  EVL_TIMER_HANDLE (handle)->when = MAX (when, 0);
  EVL_TIMER_HANDLE (handle)->seq = priv->timer_seq++;
  EVL_TIMER_HANDLE (handle)->loop = loop;
  evl_timer_heap_push (&priv->timers, handle);
  return handle;
}

/**
 * evl_loop_call_later:
 * @loop: a loop
 * @delay: seconds from now; negative means "as soon as possible"
 * @callback: (scope notified) (closure user_data) (destroy notify): the callback
 * @user_data: data for @callback
 * @notify: (nullable): frees @user_data; runs exactly once
 *
 * Schedules @callback to run after @delay seconds, never earlier. Timers
 * with the same deadline run in the order they were scheduled. A NaN
 * @delay is a programming error.
 *
 * Returns: (transfer none) (nullable): the handle, owned by the loop until
 *   the callback has run or was cancelled; %NULL if the loop is closed or
 *   @delay is NaN (then @notify has run)
 */
EvlHandle *
evl_loop_call_later (EvlLoop        *loop,
                     double          delay,
                     EvlCallback     callback,
                     gpointer        user_data,
                     GDestroyNotify  notify)
{
  g_return_val_if_fail (evl_loop_is_loop_fast (loop), NULL);
  g_return_val_if_fail (callback != NULL, NULL);

  if (G_UNLIKELY (isnan (delay)))
    {
      g_critical ("%s: the delay is NaN", G_STRFUNC);
      if (notify != NULL)
        notify (user_data);
      return NULL;
    }
  if (G_UNLIKELY (evl_loop_get_priv (loop)->closed))
    return evl_loop_refuse_closed (notify, user_data, G_STRFUNC);

  return schedule_timer (loop, evl_loop_time_ns (loop) + seconds_to_ns_ceil (delay),
                         callback, user_data, notify);
}

/**
 * evl_loop_call_at:
 * @loop: a loop
 * @when: the deadline on the loop's clock ([method@Evl.Loop.time])
 * @callback: (scope notified) (closure user_data) (destroy notify): the callback
 * @user_data: data for @callback
 * @notify: (nullable): frees @user_data; runs exactly once
 *
 * Schedules @callback to run at loop time @when, never earlier. A deadline
 * in the past means "as soon as possible". A NaN @when is a programming
 * error.
 *
 * Returns: (transfer none) (nullable): the handle, owned by the loop until
 *   the callback has run or was cancelled; %NULL if the loop is closed or
 *   @when is NaN (then @notify has run)
 */
EvlHandle *
evl_loop_call_at (EvlLoop        *loop,
                  double          when,
                  EvlCallback     callback,
                  gpointer        user_data,
                  GDestroyNotify  notify)
{
  g_return_val_if_fail (evl_loop_is_loop_fast (loop), NULL);
  g_return_val_if_fail (callback != NULL, NULL);

  if (G_UNLIKELY (isnan (when)))
    {
      g_critical ("%s: the deadline is NaN", G_STRFUNC);
      if (notify != NULL)
        notify (user_data);
      return NULL;
    }
  if (G_UNLIKELY (evl_loop_get_priv (loop)->closed))
    return evl_loop_refuse_closed (notify, user_data, G_STRFUNC);

  return schedule_timer (loop, seconds_to_ns_ceil (when), callback, user_data, notify);
}

void
evl_loop_timer_cancelled (EvlLoop *loop)
{
  EvlLoopPrivate *priv = evl_loop_get_priv (loop);

  g_atomic_int_inc (&priv->timers_cancelled);
}

static void
drop_cancelled_timers (EvlLoopPrivate *priv)
{
  EvlHandle *top;

  if (priv->timers.len > 64 &&
      (guint) g_atomic_int_get (&priv->timers_cancelled) * 2 > priv->timers.len)
    {
      guint dropped = evl_timer_heap_compact (&priv->timers);
      g_atomic_int_add (&priv->timers_cancelled, - (gint) dropped);
    }
  while ((top = evl_timer_heap_peek (&priv->timers)) != NULL && evl_handle_cancelled_fast (top))
    {
      evl_timer_heap_pop (&priv->timers);
      g_atomic_int_add (&priv->timers_cancelled, -1);
      EVL_TIMER_HANDLE (top)->loop = NULL;
      evl_handle_unref (top);
    }
}

gint64
evl_loop_get_next_deadline (EvlLoop *loop)
{
  EvlLoopPrivate *priv = evl_loop_get_priv (loop);
  EvlHandle *top;

  drop_cancelled_timers (priv);
  top = evl_timer_heap_peek (&priv->timers);
  return top != NULL ? EVL_TIMER_HANDLE (top)->when : -1;
}
