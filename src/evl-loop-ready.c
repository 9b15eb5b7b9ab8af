/* evl-loop-ready.c: the ready queue and call_soon()
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

/* ---------------------------------------------------------------------- */
/* ready queue */

void
evl_loop_ready_grow (EvlLoopPrivate *priv)
{
  guint new_cap = (priv->ready_mask + 1) * 2;
  EvlHandle **ready = g_new (EvlHandle *, new_cap);
  guint64 i;

  /* Each position keeps its number; only its index in the ring changes. */
  for (i = priv->ready_head; i < priv->ready_tail; i++)
    ready[i & (new_cap - 1)] = priv->ready[i & priv->ready_mask];
  g_free (priv->ready);
  priv->ready = ready;
  priv->ready_mask = new_cap - 1;
}

void
evl_loop_ready_shrink (EvlLoopPrivate *priv)
{
  guint64 len = evl_loop_ready_len (priv), i;
  guint new_cap = READY_KEEP_CAPACITY;
  EvlHandle **ready;

  priv->ready_quiet = 0;
  while (new_cap < 2 * len)
    new_cap *= 2;
  if (new_cap >= priv->ready_mask + 1)
    return;
  ready = g_new (EvlHandle *, new_cap);
  for (i = priv->ready_head; i < priv->ready_tail; i++)
    ready[i & (new_cap - 1)] = priv->ready[i & priv->ready_mask];
  g_free (priv->ready);
  priv->ready = ready;
  priv->ready_mask = new_cap - 1;
}

/**
 * evl_loop_call_soon:
 * @loop: a loop
 * @callback: (scope notified) (closure user_data) (destroy notify): the callback
 * @user_data: data for @callback
 * @notify: (nullable): frees @user_data; runs exactly once
 *
 * Schedules @callback to run in the next iteration of the loop. Callbacks
 * run in the order they were scheduled; one scheduled while the loop is
 * running its ready callbacks waits for the next iteration.
 *
 * Returns: (transfer none) (nullable): the handle, owned by the loop until
 *   the callback has run or was cancelled (take a reference to keep it
 *   longer); %NULL if the loop is closed (then @notify has run)
 */
EvlHandle *
evl_loop_call_soon (EvlLoop        *loop,
                    EvlCallback     callback,
                    gpointer        user_data,
                    GDestroyNotify  notify)
{
  EvlLoopPrivate *priv;
  EvlHandle *handle;

  g_return_val_if_fail (evl_loop_is_loop_fast (loop), NULL);
  g_return_val_if_fail (callback != NULL, NULL);

  priv = evl_loop_get_priv (loop);
  if (G_UNLIKELY (priv->closed))
    return evl_loop_refuse_closed (notify, user_data, G_STRFUNC);
  evl_loop_check_thread (loop, priv, G_STRFUNC);

  handle = evl_handle_pool_take (&priv->pool, callback, user_data, notify, 0);
  evl_loop_ready_push (priv, handle);
  return handle;
}

gboolean
evl_loop_call_soon_internal (EvlLoop        *loop,
                             EvlCallback     callback,
                             gpointer        user_data,
                             GDestroyNotify  notify)
{
  EvlLoopPrivate *priv = evl_loop_get_priv (loop);

  if (priv->closed)
    {
      if (notify != NULL)
        notify (user_data);
      return FALSE;
    }
  evl_loop_ready_push (priv, evl_handle_pool_take (&priv->pool, callback, user_data, notify, 0));
  return TRUE;
}
