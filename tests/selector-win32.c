/* selector-win32.c: the Windows selectors (WSAPoll and select)
 *
 * Sockets past Winsock's FD_SETSIZE (64) and asyncio's 512, sockets and
 * HANDLEs in one selection, and the HANDLE limit of a selector. Built on
 * Windows only (tests/meson.build).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "evl-test-util.h"

#include <gio/gnetworking.h>
#include <windows.h>

#define N_PAIRS 600

typedef EvlSelector *(*NewSelector) (void);

static void
many_sockets (NewSelector new_selector)
{
  EvlSelector *selector = new_selector ();
  EvlSelectorEvent events[8];
  static int fds[N_PAIRS][2];
  GError *error = NULL;
  guint i;
  int n;

  for (i = 0; i < N_PAIRS; i++)
    {
      evl_test_socketpair (fds[i]);
      g_assert_true (evl_selector_register (selector, fds[i][0], EVL_EVENT_READ,
                                            GUINT_TO_POINTER (i + 1), &error));
      g_assert_no_error (error);
    }
  g_assert_cmpuint (evl_selector_get_n_keys (selector), ==, N_PAIRS);

  /* Nothing readable: a zero timeout returns nothing. */
  n = evl_selector_select (selector, 0, events, G_N_ELEMENTS (events), &error);
  g_assert_no_error (error);
  g_assert_cmpint (n, ==, 0);

  /* The last socket registered (far past 64 and 512) becomes readable. */
  g_assert_cmpint (evl_test_sock_write (fds[N_PAIRS - 1][1], "x", 1), ==, 1);
  n = evl_selector_select (selector, 5.0, events, G_N_ELEMENTS (events), &error);
  g_assert_no_error (error);
  g_assert_cmpint (n, ==, 1);
  g_assert_cmpint (events[0].fd, ==, fds[N_PAIRS - 1][0]);
  g_assert_true (events[0].events & EVL_EVENT_READ);
  g_assert_cmpuint (GPOINTER_TO_UINT (events[0].data), ==, N_PAIRS);

  for (i = 0; i < N_PAIRS; i++)
    {
      g_assert_true (evl_selector_unregister (selector, fds[i][0], &error));
      evl_test_sock_close (fds[i][0]);
      evl_test_sock_close (fds[i][1]);
    }
  g_assert_cmpuint (evl_selector_get_n_keys (selector), ==, 0);
  g_object_unref (selector);
}

static void
test_poll_many_sockets (void)
{
  many_sockets (evl_poll_selector_new);
}

static void
test_select_many_sockets (void)
{
  many_sockets (evl_select_selector_new);
}

static gpointer
set_event_later (gpointer data)
{
  g_usleep (20000);
  SetEvent (data);
  return NULL;
}

/* A socket and an event HANDLE in one selector: a blocking selection
 * returns when the event is set, and reports the HANDLE readable. */
static void
sockets_and_handles (NewSelector new_selector)
{
  EvlSelector *selector = new_selector ();
  EvlSelectorEvent events[4];
  GError *error = NULL;
  HANDLE event = CreateEventW (NULL, TRUE, FALSE, NULL);
  GThread *thread;
  int fds[2];
  int n;

  evl_test_watchdog_start (30);
  evl_test_socketpair (fds);
  g_assert_true (evl_selector_register (selector, fds[0], EVL_EVENT_READ, NULL, &error));
  g_assert_true (evl_selector_register (selector, (int) (gintptr) event, EVL_EVENT_READ, NULL, &error));
  g_assert_no_error (error);

  thread = g_thread_new ("setter", set_event_later, event);
  n = evl_selector_select (selector, -1, events, G_N_ELEMENTS (events), &error);
  g_thread_join (thread);
  g_assert_no_error (error);
  g_assert_cmpint (n, ==, 1);
  g_assert_cmpint (events[0].fd, ==, (int) (gintptr) event);
  g_assert_true (events[0].events & EVL_EVENT_READ);

  /* Both ready: both reported. */
  g_assert_cmpint (evl_test_sock_write (fds[1], "x", 1), ==, 1);
  n = evl_selector_select (selector, 5.0, events, G_N_ELEMENTS (events), &error);
  g_assert_no_error (error);
  g_assert_cmpint (n, ==, 2);

  g_assert_true (evl_selector_unregister (selector, (int) (gintptr) event, &error));
  g_assert_true (evl_selector_unregister (selector, fds[0], &error));
  evl_test_watchdog_cancel ();
  evl_test_sock_close (fds[0]);
  evl_test_sock_close (fds[1]);
  CloseHandle (event);
  g_object_unref (selector);
}

static void
test_poll_handles (void)
{
  sockets_and_handles (evl_poll_selector_new);
}

static void
test_select_handles (void)
{
  sockets_and_handles (evl_select_selector_new);
}

/* WaitForMultipleObjects() waits for 64 objects, one of them the sockets'
 * event: the 64th HANDLE is refused with NOT_SUPPORTED, not a crash. */
static void
handle_limit (NewSelector new_selector)
{
  EvlSelector *selector = new_selector ();
  HANDLE events[64];
  GError *error = NULL;
  guint i;

  for (i = 0; i < G_N_ELEMENTS (events); i++)
    events[i] = CreateEventW (NULL, TRUE, FALSE, NULL);
  for (i = 0; i < 63; i++)
    {
      g_assert_true (evl_selector_register (selector, (int) (gintptr) events[i], EVL_EVENT_READ, NULL, &error));
      g_assert_no_error (error);
    }
  g_assert_false (evl_selector_register (selector, (int) (gintptr) events[63], EVL_EVENT_READ, NULL, &error));
  g_assert_error (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_NOT_SUPPORTED);
  g_test_message ("%s", error->message);
  g_clear_error (&error);
  g_assert_cmpuint (evl_selector_get_n_keys (selector), ==, 63);

  g_object_unref (selector);
  for (i = 0; i < G_N_ELEMENTS (events); i++)
    CloseHandle (events[i]);
}

static void
test_poll_handle_limit (void)
{
  handle_limit (evl_poll_selector_new);
}

static void
test_select_handle_limit (void)
{
  handle_limit (evl_select_selector_new);
}

int
main (int    argc,
      char **argv)
{
  evl_test_init (&argc, &argv);

  g_test_add_func ("/Evl/SelectorWin32/poll/many-sockets", test_poll_many_sockets);
  g_test_add_func ("/Evl/SelectorWin32/select/many-sockets", test_select_many_sockets);
  g_test_add_func ("/Evl/SelectorWin32/poll/handles", test_poll_handles);
  g_test_add_func ("/Evl/SelectorWin32/select/handles", test_select_handles);
  g_test_add_func ("/Evl/SelectorWin32/poll/handle-limit", test_poll_handle_limit);
  g_test_add_func ("/Evl/SelectorWin32/select/handle-limit", test_select_handle_limit);

  return g_test_run ();
}
