/* evl-resolve.c: host names to addresses without a GMainContext
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "evl-loop-private.h"
#include "evl-net-private.h"

/* GIO's asynchronous lookups report through the thread-default
 * GMainContext, which nobody may iterate here: the blocking lookup runs
 * in a small pool of worker threads instead and the result comes back
 * with evl_loop_call_soon_threadsafe. A close hook answers a lookup still
 * running when the loop closes. */

typedef struct
{
  gint            ref_count;     /* atomic */
  GMutex          lock;
  /* Not a reference: set while the lookup is pending, when the pending
   * operation keeps the loop alive; cleared (under @lock) when it is
   * answered, so a worker that outlives it (getaddrinfo cannot be
   * interrupted) never touches or keeps the loop. */
  EvlLoop        *loop;
  char           *host;
  GCancellable   *cancellable;
  EvlResolveFunc  callback;
  gpointer        user_data;
  GList          *result;
  GError         *error;
  gulong          cancel_id;
  gboolean        done;          /* loop thread */
  EvlHandle      *hook;          /* loop thread */
} Resolve;

static void
resolve_unref (gpointer data)
{
  Resolve *r = data;

  if (!g_atomic_int_dec_and_test (&r->ref_count))
    return;
  g_list_free_full (r->result, g_object_unref);
  g_clear_error (&r->error);
  g_clear_object (&r->cancellable);
  g_free (r->host);
  g_mutex_clear (&r->lock);
  g_free (r);
}

static void
resolve_deliver (Resolve *r,
                 GList   *result,
                 GError  *error)
{
  r->done = TRUE;
  /* Never from inside the cancelled handler (it only posts), so this
   * cannot deadlock; afterwards no handler runs or is running. */
  if (r->cancel_id != 0)
    g_cancellable_disconnect (r->cancellable, r->cancel_id);
  r->cancel_id = 0;
  g_mutex_lock (&r->lock);
  r->loop = NULL;
  g_mutex_unlock (&r->lock);
  r->callback (result, error, r->user_data);
}

static void
resolved_cb (gpointer data)
{
  Resolve *r = data;

  if (r->done)
    return;
  if (r->hook != NULL)
    {
      evl_loop_close_hook_remove (&r->hook);
      resolve_unref (r);   /* the hook's reference; the caller holds one */
    }
  if (r->error == NULL && r->result == NULL)
    r->error = g_error_new (G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                            _("“%s” has no address; check the host name"), r->host);
  resolve_deliver (r, g_steal_pointer (&r->result), g_steal_pointer (&r->error));
}

static void
resolve_loop_closed (gpointer data)
{
  Resolve *r = data;

  evl_loop_close_hook_remove (&r->hook);
  if (!r->done)
    resolve_deliver (r, NULL, g_error_new_literal (EVL_LOOP_ERROR, EVL_LOOP_ERROR_CLOSED,
                                                   _("The event loop was closed while a host name was being resolved")));
  resolve_unref (r);   /* the hook's reference */
}

/* A cancelled lookup ends at once; the blocking lookup itself may run on
 * in its thread (getaddrinfo cannot be interrupted) and is dropped. */
static void
resolve_cancel_cb (gpointer data)
{
  Resolve *r = data;

  if (r->done)
    return;
  if (r->hook != NULL)
    {
      evl_loop_close_hook_remove (&r->hook);
      resolve_unref (r);   /* the hook's reference; the caller holds one */
    }
  resolve_deliver (r, NULL, g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED,
                                                 _("Operation was cancelled")));
}

static void
on_resolve_cancelled (GCancellable *cancellable,
                      gpointer      data)
{
  Resolve *r = data;

  g_atomic_int_inc (&r->ref_count);
  /* Runs before the answer (which disconnects this handler, waiting for
   * it) or on the loop's thread: the loop is alive. */
  evl_loop_call_soon_threadsafe_internal (r->loop, resolve_cancel_cb, r, resolve_unref);
}

static void
resolve_worker (gpointer data,
                gpointer pool_data)
{
  Resolve *r = data;
  GResolver *resolver = g_resolver_get_default ();

  r->result = g_resolver_lookup_by_name (resolver, r->host, r->cancellable, &r->error);
  g_object_unref (resolver);
  g_atomic_int_inc (&r->ref_count);
  g_mutex_lock (&r->lock);
  if (r->loop != NULL)
    evl_loop_call_soon_threadsafe_internal (r->loop, resolved_cb, r, resolve_unref);
  else
    resolve_unref (r);   /* answered already (cancelled, loop closed) */
  g_mutex_unlock (&r->lock);
  resolve_unref (r);
}

static GThreadPool *
resolve_pool (void)
{
  static GThreadPool *pool;

  if (g_once_init_enter (&pool))
    g_once_init_leave (&pool, g_thread_pool_new (resolve_worker, NULL, 4, FALSE, NULL));
  return pool;
}

/* Runs for a numeric address on the loop, or instead of it on a closed
 * loop. */
static void
resolve_numeric_notify (gpointer data)
{
  Resolve *r = data;

  if (!r->done)
    {
      if (evl_loop_is_closed (r->loop) && r->result == NULL && r->error == NULL)
        r->error = g_error_new_literal (EVL_LOOP_ERROR, EVL_LOOP_ERROR_CLOSED,
                                        _("The event loop is closed; create a new loop to run more work"));
      resolve_deliver (r, g_steal_pointer (&r->result), g_steal_pointer (&r->error));
    }
  resolve_unref (r);
}

void
evl_net_resolve (EvlLoop        *loop,
                 const char     *host,
                 GCancellable   *cancellable,
                 EvlResolveFunc  callback,
                 gpointer        user_data)
{
  Resolve *r = g_new0 (Resolve, 1);
  GInetAddress *numeric;

  r->ref_count = 1;
  g_mutex_init (&r->lock);
  r->loop = loop;
  r->host = g_strdup (host);
  r->cancellable = cancellable != NULL ? g_object_ref (cancellable) : NULL;
  r->callback = callback;
  r->user_data = user_data;

  numeric = g_inet_address_new_from_string (host);
  if (numeric != NULL || evl_loop_is_closed (loop))
    {
      if (numeric != NULL)
        r->result = g_list_prepend (NULL, numeric);
      evl_loop_call_soon_internal (loop, (EvlCallback) resolved_cb, r, resolve_numeric_notify);
      return;
    }

  /* One reference for the worker (dropped by the threadsafe callback's
   * notify), one for the close hook (dropped when it fires or is removed). */
  g_atomic_int_inc (&r->ref_count);
  r->hook = evl_loop_close_hook_add (loop, resolve_loop_closed, r);
  if (cancellable != NULL)
    r->cancel_id = g_cancellable_connect (cancellable, G_CALLBACK (on_resolve_cancelled), r, NULL);
  g_thread_pool_push (resolve_pool (), r, NULL);
}

