/* evl-loop-resolve.c: name resolution (getaddrinfo, getnameinfo)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "evl-config.h"

#include "evl-loop-private.h"
#include "evl-loop-executor-private.h"
#include "evl-loop-resolve-private.h"

/* asyncio's getaddrinfo/getnameinfo run the C library's blocking calls in
 * the executor; so do these, with GIO's synchronous GResolver calls (the
 * system resolver, /etc/hosts, GIO's own rules for "localhost"), because
 * GResolver's asynchronous calls report through the thread-default
 * GMainContext, which nobody may iterate. Results travel from the worker
 * as a GValue: a GPtrArray of GInetSocketAddress (getaddrinfo), a
 * "(sq)" GVariant of host name and port (getnameinfo). Hosts that are
 * already addresses never reach a thread. */

typedef struct
{
  char            *host;
  guint16          port;
  EvlResolveFlags  flags;
} NameLookup;

static void
name_lookup_free (gpointer data)
{
  NameLookup *lookup = data;

  g_free (lookup->host);
  g_free (lookup);
}

/* Alternates families in order of first appearance, as asyncio's
 * _interleave_addrinfos: the first @first_family_count addresses of the
 * first family, then one of each family in turn. Takes @addresses. */
static GPtrArray *
interleave (GPtrArray *addresses,
            guint      first_family_count)
{
  GPtrArray *families = g_ptr_array_new ();   /* of GPtrArray, one per family */
  GPtrArray *out = g_ptr_array_new_with_free_func (g_object_unref);
  guint i, j, n, skip;

  for (i = 0; i < addresses->len; i++)
    {
      GSocketFamily family = g_socket_address_get_family (addresses->pdata[i]);
      GPtrArray *group = NULL;

      for (j = 0; j < families->len && group == NULL; j++)
        {
          GPtrArray *g = families->pdata[j];

          if (g_socket_address_get_family (g->pdata[0]) == family)
            group = g;
        }
      if (group == NULL)
        {
          group = g_ptr_array_new ();
          g_ptr_array_add (families, group);
        }
      g_ptr_array_add (group, addresses->pdata[i]);
    }
  /* asyncio: addrinfos_lists[0][:first_address_family_count - 1] first,
   * then zip_longest over the families. */
  skip = 0;
  if (families->len > 0 && first_family_count > 1)
    {
      GPtrArray *first = families->pdata[0];

      skip = MIN (first_family_count - 1, first->len);
      for (n = 0; n < skip; n++)
        g_ptr_array_add (out, g_object_ref (first->pdata[n]));
    }
  for (n = 0; out->len < addresses->len; n++)
    for (j = 0; j < families->len; j++)
      {
        GPtrArray *group = families->pdata[j];
        guint k = j == 0 ? n + skip : n;

        if (k < group->len)
          g_ptr_array_add (out, g_object_ref (group->pdata[k]));
      }
  for (j = 0; j < families->len; j++)
    g_ptr_array_unref (families->pdata[j]);
  g_ptr_array_unref (families);
  g_ptr_array_unref (addresses);
  return out;
}

GList *
evl_resolve_interleave (GList *addresses,
                        guint  first_family_count)
{
  GPtrArray *array = g_ptr_array_new_with_free_func (g_object_unref);
  GList *l, *list = NULL;
  guint i;

  for (l = addresses; l != NULL; l = l->next)
    g_ptr_array_add (array, l->data);   /* the list's reference */
  g_list_free (addresses);
  array = interleave (array, first_family_count);
  for (i = array->len; i > 0; i--)
    list = g_list_prepend (list, g_object_ref (array->pdata[i - 1]));
  g_ptr_array_unref (array);
  return list;
}

static void
add_address (GPtrArray    *addresses,
             GInetAddress *inet,
             guint16       port)
{
  g_ptr_array_add (addresses, g_inet_socket_address_new (inet, port));
}

static void
add_address_family (GPtrArray     *addresses,
                    GSocketFamily  family,
                    gboolean       any,
                    guint16        port)
{
  GInetAddress *inet = any ? g_inet_address_new_any (family)
                           : g_inet_address_new_loopback (family);

  add_address (addresses, inet, port);
  g_object_unref (inet);
}

static gboolean
lookup_by_name_func (GValue        *result,
                     GCancellable  *cancellable,
                     gpointer       user_data,
                     GError       **error)
{
  NameLookup *lookup = user_data;
  GResolver *resolver = g_resolver_get_default ();
  GList *found, *l;
  GPtrArray *addresses;

  found = g_resolver_lookup_by_name (resolver, lookup->host, cancellable, error);
  g_object_unref (resolver);
  if (found == NULL)
    return FALSE;
  addresses = g_ptr_array_new_with_free_func (g_object_unref);
  for (l = found; l != NULL; l = l->next)
    add_address (addresses, l->data, lookup->port);
  g_resolver_free_addresses (found);
  if (lookup->flags & EVL_RESOLVE_INTERLEAVE)
    addresses = interleave (addresses, 1);
  g_value_init (result, G_TYPE_PTR_ARRAY);
  g_value_take_boxed (result, addresses);
  return TRUE;
}

static void
resolve_start (EvlLoop             *loop,
               const char          *host,
               guint16              port,
               EvlResolveFlags      flags,
               GCancellable        *cancellable,
               gpointer             source_tag,
               GAsyncReadyCallback  callback,
               gpointer             user_data)
{
  GInetAddress *inet = NULL;
  GPtrArray *addresses;
  GValue value = G_VALUE_INIT;
  NameLookup *lookup;

  if (host == NULL || *host == '\0')
    {
      gboolean any = (flags & EVL_RESOLVE_PASSIVE) != 0;

      addresses = g_ptr_array_new_with_free_func (g_object_unref);
      add_address_family (addresses, G_SOCKET_FAMILY_IPV4, any, port);
      add_address_family (addresses, G_SOCKET_FAMILY_IPV6, any, port);
    }
  else if ((inet = g_inet_address_new_from_string (host)) != NULL)
    {
      addresses = g_ptr_array_new_with_free_func (g_object_unref);
      add_address (addresses, inet, port);
      g_object_unref (inet);
    }
  else
    {
      lookup = g_new0 (NameLookup, 1);
      lookup->host = g_strdup (host);
      lookup->port = port;
      lookup->flags = flags;
      evl_loop_run_in_executor_tagged (loop, lookup_by_name_func, lookup, name_lookup_free,
                                       cancellable, source_tag, callback, user_data);
      return;
    }

  g_value_init (&value, G_TYPE_PTR_ARRAY);
  g_value_take_boxed (&value, addresses);
  evl_loop_executor_return (loop, source_tag, cancellable, &value, NULL, callback, user_data);
}

static GList *
resolve_finish (GAsyncResult  *result,
                GError       **error)
{
  GValue value = G_VALUE_INIT;
  GPtrArray *addresses;
  GList *list = NULL;
  guint i;

  if (!evl_loop_executor_propagate (result, &value, error))
    return NULL;
  addresses = g_value_get_boxed (&value);
  for (i = addresses->len; i > 0; i--)
    list = g_list_prepend (list, g_object_ref (addresses->pdata[i - 1]));
  g_value_unset (&value);
  return list;
}

void
evl_loop_resolve_async (EvlLoop             *loop,
                        const char          *host,
                        guint16              port,
                        EvlResolveFlags      flags,
                        GCancellable        *cancellable,
                        GAsyncReadyCallback  callback,
                        gpointer             user_data)
{
  g_return_if_fail (EVL_IS_LOOP (loop));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  resolve_start (loop, host, port, flags, cancellable, evl_loop_resolve_async,
                 callback, user_data);
}

GList *
evl_loop_resolve_finish (EvlLoop       *loop,
                         GAsyncResult  *result,
                         GError       **error)
{
  g_return_val_if_fail (EVL_IS_LOOP (loop), NULL);
  g_return_val_if_fail (evl_loop_executor_is_valid (loop, result, evl_loop_resolve_async), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return resolve_finish (result, error);
}

/**
 * evl_loop_getaddrinfo_async:
 * @loop: a loop
 * @host: (nullable): a host name or a numeric IPv4 or IPv6 address; %NULL
 *   for the loopback addresses
 * @port: the port to put in each address (0 is fine)
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async) (closure user_data): called with the addresses
 * @user_data: data for @callback
 *
 * Resolves @host into socket addresses, as asyncio's `loop.getaddrinfo()`,
 * with GIO's #GResolver (the system's resolver and `/etc/hosts`). The
 * lookup runs on the executor (see [method@Evl.Loop.run_in_executor_async]),
 * so @callback runs from the loop's own dispatch whether or not any
 * GMainContext is iterated; a numeric @host is converted without a thread.
 * Get the addresses with [method@Evl.Loop.getaddrinfo_finish].
 *
 * Cancelling ends the operation at once with %G_IO_ERROR_CANCELLED; on a
 * closed loop the callback runs at once with %EVL_LOOP_ERROR_CLOSED.
 */
void
evl_loop_getaddrinfo_async (EvlLoop             *loop,
                            const char          *host,
                            guint16              port,
                            GCancellable        *cancellable,
                            GAsyncReadyCallback  callback,
                            gpointer             user_data)
{
  g_return_if_fail (EVL_IS_LOOP (loop));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  resolve_start (loop, host, port, EVL_RESOLVE_NONE, cancellable, evl_loop_getaddrinfo_async,
                 callback, user_data);
}

/**
 * evl_loop_getaddrinfo_finish:
 * @loop: a loop
 * @result: the #GAsyncResult passed to the callback
 * @error: return location for a #GError
 *
 * Finishes [method@Evl.Loop.getaddrinfo_async].
 *
 * Returns: (element-type GInetSocketAddress) (transfer full): the
 *   addresses, in the resolver's order, never an empty list; %NULL with
 *   @error set: a %G_RESOLVER_ERROR (such as %G_RESOLVER_ERROR_NOT_FOUND),
 *   %G_IO_ERROR_CANCELLED or %EVL_LOOP_ERROR_CLOSED. Free with
 *   `g_list_free_full (list, g_object_unref)`.
 */
GList *
evl_loop_getaddrinfo_finish (EvlLoop       *loop,
                             GAsyncResult  *result,
                             GError       **error)
{
  g_return_val_if_fail (EVL_IS_LOOP (loop), NULL);
  g_return_val_if_fail (evl_loop_executor_is_valid (loop, result, evl_loop_getaddrinfo_async), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return resolve_finish (result, error);
}

/* ---------------------------------------------------------------------- */
/* getnameinfo */

typedef struct
{
  GInetAddress *inet;
  guint16       port;
} AddressLookup;

static void
address_lookup_free (gpointer data)
{
  AddressLookup *lookup = data;

  g_object_unref (lookup->inet);
  g_free (lookup);
}

static gboolean
lookup_by_address_func (GValue        *result,
                        GCancellable  *cancellable,
                        gpointer       user_data,
                        GError       **error)
{
  AddressLookup *lookup = user_data;
  GResolver *resolver = g_resolver_get_default ();
  char *name;

  name = g_resolver_lookup_by_address (resolver, lookup->inet, cancellable, error);
  g_object_unref (resolver);
  if (name == NULL)
    return FALSE;
  g_value_init (result, G_TYPE_VARIANT);
  g_value_take_variant (result, g_variant_ref_sink (g_variant_new ("(sq)", name, lookup->port)));
  g_free (name);
  return TRUE;
}

/**
 * evl_loop_getnameinfo_async:
 * @loop: a loop
 * @address: an IPv4 or IPv6 socket address (a #GInetSocketAddress)
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async) (closure user_data): called with the host name
 * @user_data: data for @callback
 *
 * Finds the host name of @address, as asyncio's `loop.getnameinfo()`,
 * with GIO's #GResolver (a reverse lookup: `/etc/hosts`, then DNS). Like
 * [method@Evl.Loop.getaddrinfo_async], the lookup runs on the executor and
 * @callback runs from the loop's own dispatch. Another kind of address
 * fails with %EVL_LOOP_ERROR_INVALID. Get the name with
 * [method@Evl.Loop.getnameinfo_finish].
 */
void
evl_loop_getnameinfo_async (EvlLoop             *loop,
                            GSocketAddress      *address,
                            GCancellable        *cancellable,
                            GAsyncReadyCallback  callback,
                            gpointer             user_data)
{
  AddressLookup *lookup;

  g_return_if_fail (EVL_IS_LOOP (loop));
  g_return_if_fail (G_IS_SOCKET_ADDRESS (address));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  if (!G_IS_INET_SOCKET_ADDRESS (address))
    {
      evl_loop_executor_return (loop, evl_loop_getnameinfo_async, cancellable, NULL,
                                g_error_new_literal (EVL_LOOP_ERROR, EVL_LOOP_ERROR_INVALID,
                                                     _("Only IPv4 and IPv6 addresses have host "
                                                       "names; pass a GInetSocketAddress")),
                                callback, user_data);
      return;
    }
  lookup = g_new0 (AddressLookup, 1);
  lookup->inet = g_object_ref (g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (address)));
  lookup->port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (address));
  evl_loop_run_in_executor_tagged (loop, lookup_by_address_func, lookup, address_lookup_free,
                                   cancellable, evl_loop_getnameinfo_async, callback, user_data);
}

/**
 * evl_loop_getnameinfo_finish:
 * @loop: a loop
 * @result: the #GAsyncResult passed to the callback
 * @port: (out) (optional): the port of the address
 * @error: return location for a #GError
 *
 * Finishes [method@Evl.Loop.getnameinfo_async].
 *
 * Returns: (transfer full): the host name; %NULL with @error set: a
 *   %G_RESOLVER_ERROR (%G_RESOLVER_ERROR_NOT_FOUND when the address has no
 *   name), %G_IO_ERROR_CANCELLED, %EVL_LOOP_ERROR_INVALID or
 *   %EVL_LOOP_ERROR_CLOSED
 */
char *
evl_loop_getnameinfo_finish (EvlLoop       *loop,
                             GAsyncResult  *result,
                             guint16       *port,
                             GError       **error)
{
  GValue value = G_VALUE_INIT;
  char *name = NULL;
  guint16 p = 0;

  if (port != NULL)
    *port = 0;
  g_return_val_if_fail (EVL_IS_LOOP (loop), NULL);
  g_return_val_if_fail (evl_loop_executor_is_valid (loop, result, evl_loop_getnameinfo_async), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!evl_loop_executor_propagate (result, &value, error))
    return NULL;
  g_variant_get (g_value_get_variant (&value), "(sq)", &name, &p);
  g_value_unset (&value);
  if (port != NULL)
    *port = p;
  return name;
}
