/* resolve.c: tests of getaddrinfo and getnameinfo, on the loop kind under
 * test. No test needs the network: names come from /etc/hosts or GIO's
 * own rules for "localhost", and the ".invalid" top-level domain never
 * resolves (RFC 6761). glibc still asks the configured nameserver about
 * it (only systemd-resolved answers ".invalid" locally): RES_OPTIONS
 * bounds that question to 2 tries of 2 s, should the nameserver not
 * answer, well inside the waiter's 30 s.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "evl-test-util.h"

#include <gio/gunixsocketaddress.h>

static GList *
getaddrinfo_sync (EvlLoop      *loop,
                  const char   *host,
                  guint16       port,
                  GCancellable *cancellable,
                  GError      **error)
{
  EvlTestWaiter w;
  GList *list;

  evl_test_waiter_init (&w, loop);
  evl_loop_getaddrinfo_async (loop, host, port, cancellable, evl_test_waiter_cb, &w);
  /* Never from inside the call. */
  g_assert_false (w.done);
  evl_test_waiter_wait (&w);
  list = evl_loop_getaddrinfo_finish (loop, w.result, error);
  evl_test_waiter_clear (&w);
  return list;
}

/* The addresses of @list as strings "address port", in order. */
static char *
describe (GList *list)
{
  GString *s = g_string_new (NULL);
  GList *l;

  for (l = list; l != NULL; l = l->next)
    {
      GInetSocketAddress *sa;
      char *inet;

      g_assert_true (G_IS_INET_SOCKET_ADDRESS (l->data));
      sa = l->data;
      inet = g_inet_address_to_string (g_inet_socket_address_get_address (sa));
      g_string_append_printf (s, "%s%s %u", s->len > 0 ? "," : "", inet,
                              g_inet_socket_address_get_port (sa));
      g_free (inet);
    }
  return g_string_free (s, FALSE);
}

static void
test_localhost (void)
{
  EvlLoop *loop;
  GError *error = NULL;
  GList *list, *l;
  gboolean loopback = FALSE;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);

  list = getaddrinfo_sync (loop, "localhost", 8080, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (list);
  for (l = list; l != NULL; l = l->next)
    {
      GInetSocketAddress *sa = l->data;
      char *inet = g_inet_address_to_string (g_inet_socket_address_get_address (sa));

      g_assert_cmpuint (g_inet_socket_address_get_port (sa), ==, 8080);
      if (g_str_equal (inet, "127.0.0.1") || g_str_equal (inet, "::1"))
        loopback = TRUE;
      g_free (inet);
    }
  g_assert_true (loopback);
  g_list_free_full (list, g_object_unref);

  evl_test_close_loop (loop);
}

static void
test_numeric (void)
{
  EvlLoop *loop;
  GError *error = NULL;
  GList *list;
  char *s;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);

  list = getaddrinfo_sync (loop, "192.0.2.7", 0, NULL, &error);
  g_assert_no_error (error);
  s = describe (list);
  g_assert_cmpstr (s, ==, "192.0.2.7 0");
  g_free (s);
  g_list_free_full (list, g_object_unref);

  list = getaddrinfo_sync (loop, "2001:db8::5", 443, NULL, &error);
  g_assert_no_error (error);
  s = describe (list);
  g_assert_cmpstr (s, ==, "2001:db8::5 443");
  g_free (s);
  g_list_free_full (list, g_object_unref);

  /* No host: the loopback addresses. */
  list = getaddrinfo_sync (loop, NULL, 7, NULL, &error);
  g_assert_no_error (error);
  s = describe (list);
  g_assert_cmpstr (s, ==, "127.0.0.1 7,::1 7");
  g_free (s);
  g_list_free_full (list, g_object_unref);

  evl_test_close_loop (loop);
}

static void
test_not_found (void)
{
  EvlLoop *loop;
  GError *error = NULL;
  GList *list;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);

  list = getaddrinfo_sync (loop, "does-not-exist.invalid", 80, NULL, &error);
  g_assert_null (list);
  g_assert_nonnull (error);
  g_assert_true (error->domain == G_RESOLVER_ERROR);
  g_clear_error (&error);

  evl_test_close_loop (loop);
}

static void
test_cancel (void)
{
  EvlLoop *loop;
  GCancellable *cancellable;
  GError *error = NULL;
  GList *list;
  EvlTestWaiter w;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);

  /* Already cancelled, numeric or not. */
  cancellable = g_cancellable_new ();
  g_cancellable_cancel (cancellable);
  list = getaddrinfo_sync (loop, "127.0.0.1", 1, cancellable, &error);
  g_assert_null (list);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);
  list = getaddrinfo_sync (loop, "localhost", 1, cancellable, &error);
  g_assert_null (list);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);
  g_object_unref (cancellable);

  /* Cancelled right after the call: the callback does not wait for the
   * lookup (which may complete anyway; its result is dropped). */
  cancellable = g_cancellable_new ();
  evl_test_waiter_init (&w, loop);
  evl_loop_getaddrinfo_async (loop, "localhost", 1, cancellable, evl_test_waiter_cb, &w);
  g_cancellable_cancel (cancellable);
  evl_test_waiter_wait (&w);
  g_assert_null (evl_loop_getaddrinfo_finish (loop, w.result, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);
  evl_test_waiter_clear (&w);
  g_object_unref (cancellable);

  /* getnameinfo too. */
  cancellable = g_cancellable_new ();
  evl_test_waiter_init (&w, loop);
  {
    GInetAddress *inet = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
    GSocketAddress *sa = g_inet_socket_address_new (inet, 1);

    evl_loop_getnameinfo_async (loop, sa, cancellable, evl_test_waiter_cb, &w);
    g_object_unref (sa);
    g_object_unref (inet);
  }
  g_cancellable_cancel (cancellable);
  evl_test_waiter_wait (&w);
  g_assert_null (evl_loop_getnameinfo_finish (loop, w.result, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);
  evl_test_waiter_clear (&w);
  g_object_unref (cancellable);

  evl_test_close_loop (loop);
}

static void
test_getnameinfo (void)
{
  EvlLoop *loop;
  GInetAddress *inet;
  GSocketAddress *sa;
  GError *error = NULL;
  guint16 port = 0;
  char *name;
  EvlTestWaiter w;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);

  inet = g_inet_address_new_from_string ("127.0.0.1");
  sa = g_inet_socket_address_new (inet, 4242);
  evl_test_waiter_init (&w, loop);
  evl_loop_getnameinfo_async (loop, sa, NULL, evl_test_waiter_cb, &w);
  g_assert_false (w.done);
  evl_test_waiter_wait (&w);
  name = evl_loop_getnameinfo_finish (loop, w.result, &port, &error);
  if (name == NULL && g_error_matches (error, G_RESOLVER_ERROR, G_RESOLVER_ERROR_NOT_FOUND))
    {
      /* A system whose /etc/hosts names nothing 127.0.0.1. */
      g_test_message ("127.0.0.1 has no name here: %s", error->message);
      g_clear_error (&error);
    }
  else
    {
      g_assert_no_error (error);
      g_assert_nonnull (name);
      g_assert_cmpstr (name, !=, "");
      g_assert_cmpuint (port, ==, 4242);
      g_test_message ("127.0.0.1 is %s", name);
    }
  g_free (name);
  evl_test_waiter_clear (&w);
  g_object_unref (sa);
  g_object_unref (inet);

  /* Only internet addresses have names. */
  sa = g_unix_socket_address_new ("/nonexistent");
  evl_test_waiter_init (&w, loop);
  evl_loop_getnameinfo_async (loop, sa, NULL, evl_test_waiter_cb, &w);
  g_assert_false (w.done);
  evl_test_waiter_wait (&w);
  g_assert_null (evl_loop_getnameinfo_finish (loop, w.result, &port, &error));
  g_assert_error (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_INVALID);
  g_assert_cmpuint (port, ==, 0);
  g_clear_error (&error);
  evl_test_waiter_clear (&w);
  g_object_unref (sa);

  evl_test_close_loop (loop);
}

static void
test_closed (void)
{
  EvlLoop *loop;
  GError *error = NULL;
  EvlTestWaiter w;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);
  g_assert_true (evl_loop_close (loop, NULL));

  evl_test_waiter_init (&w, loop);
  evl_loop_getaddrinfo_async (loop, "localhost", 1, NULL, evl_test_waiter_cb, &w);
  g_assert_true (w.done);
  g_assert_null (evl_loop_getaddrinfo_finish (loop, w.result, &error));
  g_assert_error (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_CLOSED);
  g_clear_error (&error);
  evl_test_waiter_clear (&w);

  evl_test_waiter_init (&w, loop);
  evl_loop_getaddrinfo_async (loop, "::1", 1, NULL, evl_test_waiter_cb, &w);
  g_assert_true (w.done);
  g_assert_null (evl_loop_getaddrinfo_finish (loop, w.result, &error));
  g_assert_error (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_CLOSED);
  g_clear_error (&error);
  evl_test_waiter_clear (&w);

  evl_test_close_loop (loop);
}

/* Many lookups at once, closing the loop while some are in flight. */
static void
count_cb (GObject      *source,
          GAsyncResult *result,
          gpointer      user_data)
{
  GError *error = NULL;
  GList *list = evl_loop_getaddrinfo_finish (EVL_LOOP (source), result, &error);

  g_assert_true (list != NULL || error != NULL);
  g_list_free_full (list, g_object_unref);
  g_clear_error (&error);
  evl_test_count (user_data);
}

static void
test_close_in_flight (void)
{
  EvlLoop *loop;
  guint n = 0, i;

  EVL_TEST_NEW_LOOP_OR_SKIP (loop);

  for (i = 0; i < 20; i++)
    evl_loop_getaddrinfo_async (loop, "localhost", i, NULL, count_cb, &n);
  evl_test_close_loop (loop);
  g_assert_cmpuint (n, ==, 20);
}

int
main (int   argc,
      char *argv[])
{
  g_setenv ("RES_OPTIONS", "timeout:2 attempts:2", FALSE);
  evl_test_init (&argc, &argv);
  evl_test_watchdog_start (100);

  g_test_add_func ("/Evl/Resolve/localhost", test_localhost);
  g_test_add_func ("/Evl/Resolve/numeric", test_numeric);
  g_test_add_func ("/Evl/Resolve/not-found", test_not_found);
  g_test_add_func ("/Evl/Resolve/cancel", test_cancel);
  g_test_add_func ("/Evl/Resolve/getnameinfo", test_getnameinfo);
  g_test_add_func ("/Evl/Resolve/closed", test_closed);
  g_test_add_func ("/Evl/Resolve/close-in-flight", test_close_in_flight);

  return g_test_run ();
}
