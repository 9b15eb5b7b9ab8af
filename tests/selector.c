/* selector.c: tests of EvlSelector and its epoll, poll and select backends
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "evl-test-util.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

#define N_EVENTS 16

/* Every test runs once per selector kind, on a fresh selector; the
 * teardown checks that the selector is finalized and that no fd leaked. */
typedef struct
{
  EvlSelector *selector;
  guint        n_fds;
} Fixture;

static EvlSelector *
create_selector (const char *kind)
{
  EvlSelector *selector = NULL;
  GError *error = NULL;

  if (g_str_equal (kind, "epoll"))
    {
      selector = evl_epoll_selector_new (&error);
      g_assert_no_error (error);
    }
  else if (g_str_equal (kind, "poll"))
    selector = evl_poll_selector_new ();
  else if (g_str_equal (kind, "select"))
    selector = evl_select_selector_new ();

  g_assert_nonnull (selector);
  g_assert_true (EVL_IS_SELECTOR (selector));
  return selector;
}

static void
fixture_setup (Fixture       *f,
               gconstpointer  data)
{
  f->n_fds = evl_test_count_fds ();
  f->selector = create_selector (data);
  evl_test_watchdog_start (30);
}

static void
fixture_teardown (Fixture       *f,
                  gconstpointer  data)
{
  evl_test_watchdog_cancel ();
  g_assert_finalize_object (f->selector);
  g_assert_cmpuint (evl_test_count_fds (), ==, f->n_fds);
}

static void
write_byte (int fd)
{
  g_assert_cmpint (write (fd, "x", 1), ==, 1);
}

static void
close_pair (int fds[2])
{
  if (fds[0] >= 0)
    g_assert_cmpint (close (fds[0]), ==, 0);
  if (fds[1] >= 0)
    g_assert_cmpint (close (fds[1]), ==, 0);
}

static int
do_select (EvlSelector      *selector,
           double            timeout,
           EvlSelectorEvent *events,
           guint             n_events)
{
  GError *error = NULL;
  int n;

  n = evl_selector_select (selector, timeout, events, n_events, &error);
  g_assert_no_error (error);
  g_assert_cmpint (n, >=, 0);
  g_assert_cmpint (n, <=, (int) n_events);

  /* Each fd at most once, only public bits, never an empty event. */
  for (int i = 0; i < n; i++)
    {
      g_assert_cmpint (events[i].fd, >=, 0);
      g_assert_cmpuint (events[i].events, !=, 0);
      g_assert_cmpuint (events[i].events & ~(EVL_EVENT_READ | EVL_EVENT_WRITE), ==, 0);
      for (int j = 0; j < i; j++)
        g_assert_cmpint (events[i].fd, !=, events[j].fd);
    }
  return n;
}

static const EvlSelectorEvent *
find_event (const EvlSelectorEvent *events,
            int                     n,
            int                     fd)
{
  for (int i = 0; i < n; i++)
    if (events[i].fd == fd)
      return &events[i];
  return NULL;
}

static void
register_ok (EvlSelector   *selector,
             int            fd,
             EvlEventFlags  events,
             gpointer       data)
{
  GError *error = NULL;

  g_assert_true (evl_selector_register (selector, fd, events, data, &error));
  g_assert_no_error (error);
}

static void
unregister_ok (EvlSelector *selector,
               int          fd)
{
  GError *error = NULL;

  g_assert_true (evl_selector_unregister (selector, fd, &error));
  g_assert_no_error (error);
}

static void
assert_invalid (gboolean   ok,
                GError   **error)
{
  g_assert_false (ok);
  g_assert_error (*error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_INVALID);
  g_assert_cmpstr ((*error)->message, !=, "");
  g_clear_error (error);
}

static void
test_register_errors (Fixture       *f,
                      gconstpointer  data)
{
  GError *error = NULL;
  int fds[2];
  int closed;
  gboolean ok;

  evl_test_socketpair (fds);

  ok = evl_selector_register (f->selector, -1, EVL_EVENT_READ, NULL, &error);
  assert_invalid (ok, &error);

  ok = evl_selector_register (f->selector, fds[0], 0, NULL, &error);
  assert_invalid (ok, &error);

  ok = evl_selector_register (f->selector, fds[0], (EvlEventFlags) (1 << 2), NULL, &error);
  assert_invalid (ok, &error);

  ok = evl_selector_register (f->selector, fds[0], EVL_EVENT_READ | (EvlEventFlags) (1 << 3), NULL, &error);
  assert_invalid (ok, &error);

  /* Not open: a large number and a closed fd. */
  ok = evl_selector_register (f->selector, 100000, EVL_EVENT_READ, NULL, &error);
  assert_invalid (ok, &error);

  closed = fds[0];
  g_assert_cmpint (close (fds[0]), ==, 0);
  fds[0] = -1;
  ok = evl_selector_register (f->selector, closed, EVL_EVENT_READ, NULL, &error);
  assert_invalid (ok, &error);

  g_assert_cmpuint (evl_selector_get_n_keys (f->selector), ==, 0);

  /* Twice. */
  register_ok (f->selector, fds[1], EVL_EVENT_READ, NULL);
  ok = evl_selector_register (f->selector, fds[1], EVL_EVENT_WRITE, NULL, &error);
  assert_invalid (ok, &error);
  g_assert_cmpuint (evl_selector_get_n_keys (f->selector), ==, 1);

  /* The failed second registration left the first one alone. */
  {
    EvlEventFlags events;

    g_assert_true (evl_selector_get_key (f->selector, fds[1], &events, NULL));
    g_assert_cmpuint (events, ==, EVL_EVENT_READ);
  }

  unregister_ok (f->selector, fds[1]);
  close_pair (fds);
}

static void
test_unknown_fd (Fixture       *f,
                 gconstpointer  data)
{
  GError *error = NULL;
  EvlEventFlags events = EVL_EVENT_READ;
  gpointer key_data = &events;
  int fds[2];
  gboolean ok;

  evl_test_socketpair (fds);

  ok = evl_selector_modify (f->selector, fds[0], EVL_EVENT_READ, NULL, &error);
  assert_invalid (ok, &error);
  ok = evl_selector_unregister (f->selector, fds[0], &error);
  assert_invalid (ok, &error);
  ok = evl_selector_unregister (f->selector, -1, &error);
  assert_invalid (ok, &error);
  ok = evl_selector_modify (f->selector, 100000, EVL_EVENT_READ, NULL, &error);
  assert_invalid (ok, &error);

  g_assert_false (evl_selector_get_key (f->selector, fds[0], &events, &key_data));
  g_assert_cmpuint (events, ==, 0);
  g_assert_null (key_data);
  g_assert_false (evl_selector_get_key (f->selector, -1, NULL, NULL));

  /* Bad events on a registered fd. */
  register_ok (f->selector, fds[0], EVL_EVENT_READ, NULL);
  ok = evl_selector_modify (f->selector, fds[0], 0, NULL, &error);
  assert_invalid (ok, &error);
  ok = evl_selector_modify (f->selector, fds[0], (EvlEventFlags) (1 << 4), NULL, &error);
  assert_invalid (ok, &error);

  /* Unregistered twice. */
  unregister_ok (f->selector, fds[0]);
  ok = evl_selector_unregister (f->selector, fds[0], &error);
  assert_invalid (ok, &error);

  close_pair (fds);
}

static void
test_readable (Fixture       *f,
               gconstpointer  data)
{
  EvlSelectorEvent events[N_EVENTS];
  int marker;
  int fds[2];
  int n;

  evl_test_socketpair (fds);
  register_ok (f->selector, fds[0], EVL_EVENT_READ, &marker);

  n = do_select (f->selector, 0, events, N_EVENTS);
  g_assert_cmpint (n, ==, 0);

  write_byte (fds[1]);
  n = do_select (f->selector, 5.0, events, N_EVENTS);
  g_assert_cmpint (n, ==, 1);
  g_assert_cmpint (events[0].fd, ==, fds[0]);
  g_assert_cmpuint (events[0].events, ==, EVL_EVENT_READ);
  g_assert_true (events[0].data == &marker);

  /* Level-triggered: still readable; -1 waits forever but need not wait. */
  n = do_select (f->selector, -1, events, N_EVENTS);
  g_assert_cmpint (n, ==, 1);
  g_assert_cmpint (events[0].fd, ==, fds[0]);

  unregister_ok (f->selector, fds[0]);
  close_pair (fds);
}

static void
test_writable (Fixture       *f,
               gconstpointer  data)
{
  EvlSelectorEvent events[N_EVENTS];
  int marker;
  int fds[2];
  int n;

  evl_test_socketpair (fds);
  register_ok (f->selector, fds[0], EVL_EVENT_WRITE, &marker);

  n = do_select (f->selector, 5.0, events, N_EVENTS);
  g_assert_cmpint (n, ==, 1);
  g_assert_cmpint (events[0].fd, ==, fds[0]);
  g_assert_cmpuint (events[0].events, ==, EVL_EVENT_WRITE);
  g_assert_true (events[0].data == &marker);

  /* Data to read is not reported: only WRITE is watched. */
  write_byte (fds[1]);
  n = do_select (f->selector, 5.0, events, N_EVENTS);
  g_assert_cmpint (n, ==, 1);
  g_assert_cmpuint (events[0].events, ==, EVL_EVENT_WRITE);

  unregister_ok (f->selector, fds[0]);
  close_pair (fds);
}

static void
test_read_write (Fixture       *f,
                 gconstpointer  data)
{
  EvlSelectorEvent events[N_EVENTS];
  int fds[2];
  int n;

  evl_test_socketpair (fds);
  register_ok (f->selector, fds[0], EVL_EVENT_READ | EVL_EVENT_WRITE, NULL);

  n = do_select (f->selector, 5.0, events, N_EVENTS);
  g_assert_cmpint (n, ==, 1);
  g_assert_cmpuint (events[0].events, ==, EVL_EVENT_WRITE);

  write_byte (fds[1]);
  n = do_select (f->selector, 5.0, events, N_EVENTS);
  g_assert_cmpint (n, ==, 1);
  g_assert_cmpint (events[0].fd, ==, fds[0]);
  g_assert_cmpuint (events[0].events, ==, EVL_EVENT_READ | EVL_EVENT_WRITE);
  g_assert_null (events[0].data);

  unregister_ok (f->selector, fds[0]);
  close_pair (fds);
}

static void
test_modify (Fixture       *f,
             gconstpointer  data)
{
  EvlSelectorEvent events[N_EVENTS];
  GError *error = NULL;
  EvlEventFlags key_events;
  gpointer key_data;
  int a, b;
  int fds[2];
  int n;

  evl_test_socketpair (fds);
  write_byte (fds[1]);   /* fds[0] is readable and writable */

  register_ok (f->selector, fds[0], EVL_EVENT_READ, &a);
  n = do_select (f->selector, 5.0, events, N_EVENTS);
  g_assert_cmpint (n, ==, 1);
  g_assert_cmpuint (events[0].events, ==, EVL_EVENT_READ);
  g_assert_true (events[0].data == &a);

  g_assert_true (evl_selector_modify (f->selector, fds[0], EVL_EVENT_WRITE, &b, &error));
  g_assert_no_error (error);
  g_assert_true (evl_selector_get_key (f->selector, fds[0], &key_events, &key_data));
  g_assert_cmpuint (key_events, ==, EVL_EVENT_WRITE);
  g_assert_true (key_data == &b);

  n = do_select (f->selector, 5.0, events, N_EVENTS);
  g_assert_cmpint (n, ==, 1);
  g_assert_cmpuint (events[0].events, ==, EVL_EVENT_WRITE);
  g_assert_true (events[0].data == &b);

  /* Same events, new data only. */
  g_assert_true (evl_selector_modify (f->selector, fds[0], EVL_EVENT_WRITE, &a, &error));
  g_assert_no_error (error);
  n = do_select (f->selector, 5.0, events, N_EVENTS);
  g_assert_cmpint (n, ==, 1);
  g_assert_true (events[0].data == &a);

  g_assert_true (evl_selector_modify (f->selector, fds[0], EVL_EVENT_READ | EVL_EVENT_WRITE, NULL, &error));
  g_assert_no_error (error);
  n = do_select (f->selector, 5.0, events, N_EVENTS);
  g_assert_cmpint (n, ==, 1);
  g_assert_cmpuint (events[0].events, ==, EVL_EVENT_READ | EVL_EVENT_WRITE);
  g_assert_null (events[0].data);

  g_assert_cmpuint (evl_selector_get_n_keys (f->selector), ==, 1);
  unregister_ok (f->selector, fds[0]);
  close_pair (fds);
}

static void
test_unregister (Fixture       *f,
                 gconstpointer  data)
{
  EvlSelectorEvent events[N_EVENTS];
  int a[2], b[2];
  int n;

  evl_test_socketpair (a);
  evl_test_socketpair (b);
  write_byte (a[1]);
  write_byte (b[1]);
  register_ok (f->selector, a[0], EVL_EVENT_READ, NULL);
  register_ok (f->selector, b[0], EVL_EVENT_READ, NULL);

  n = do_select (f->selector, 5.0, events, N_EVENTS);
  g_assert_cmpint (n, ==, 2);

  unregister_ok (f->selector, a[0]);
  g_assert_false (evl_selector_get_key (f->selector, a[0], NULL, NULL));
  n = do_select (f->selector, 5.0, events, N_EVENTS);
  g_assert_cmpint (n, ==, 1);
  g_assert_cmpint (events[0].fd, ==, b[0]);

  unregister_ok (f->selector, b[0]);
  n = do_select (f->selector, 0, events, N_EVENTS);
  g_assert_cmpint (n, ==, 0);
  g_assert_cmpuint (evl_selector_get_n_keys (f->selector), ==, 0);

  /* Registering again after unregistering works. */
  register_ok (f->selector, a[0], EVL_EVENT_READ, NULL);
  n = do_select (f->selector, 5.0, events, N_EVENTS);
  g_assert_cmpint (n, ==, 1);
  g_assert_cmpint (events[0].fd, ==, a[0]);
  unregister_ok (f->selector, a[0]);

  close_pair (a);
  close_pair (b);
}

static void
test_timeout_zero (Fixture       *f,
                   gconstpointer  data)
{
  EvlSelectorEvent events[N_EVENTS];
  GError *error = NULL;
  int fds[2];
  int n;

  /* Nothing registered. */
  n = do_select (f->selector, 0, events, N_EVENTS);
  g_assert_cmpint (n, ==, 0);
  n = evl_selector_select_ns (f->selector, 0, events, N_EVENTS, &error);
  g_assert_no_error (error);
  g_assert_cmpint (n, ==, 0);

  /* An fd that is not ready. */
  evl_test_socketpair (fds);
  register_ok (f->selector, fds[0], EVL_EVENT_READ, NULL);
  n = do_select (f->selector, 0, events, N_EVENTS);
  g_assert_cmpint (n, ==, 0);
  n = evl_selector_select_ns (f->selector, 0, events, N_EVENTS, &error);
  g_assert_no_error (error);
  g_assert_cmpint (n, ==, 0);

  unregister_ok (f->selector, fds[0]);
  close_pair (fds);
}

static void
test_timeout (Fixture       *f,
              gconstpointer  data)
{
  EvlSelectorEvent events[N_EVENTS];
  GError *error = NULL;
  gint64 start, elapsed;
  int fds[2];
  int n;

  /* No upper bounds: a loaded machine may oversleep at will. */
  start = g_get_monotonic_time ();
  n = do_select (f->selector, 0.020, events, N_EVENTS);
  elapsed = g_get_monotonic_time () - start;
  g_assert_cmpint (n, ==, 0);
  g_assert_cmpint (elapsed, >=, 20000 - 1000);

  evl_test_socketpair (fds);
  register_ok (f->selector, fds[0], EVL_EVENT_READ, NULL);

  start = g_get_monotonic_time ();
  n = do_select (f->selector, 0.020, events, N_EVENTS);
  elapsed = g_get_monotonic_time () - start;
  g_assert_cmpint (n, ==, 0);
  g_assert_cmpint (elapsed, >=, 20000 - 1000);

  start = g_get_monotonic_time ();
  n = evl_selector_select_ns (f->selector, 20 * G_TIME_SPAN_MILLISECOND * 1000,
                              events, N_EVENTS, &error);
  elapsed = g_get_monotonic_time () - start;
  g_assert_no_error (error);
  g_assert_cmpint (n, ==, 0);
  g_assert_cmpint (elapsed, >=, 20000 - 1000);

  /* A sub-millisecond timeout is not rounded down to "do not wait". */
  start = g_get_monotonic_time ();
  n = evl_selector_select_ns (f->selector, 500 * 1000, events, N_EVENTS, &error);
  elapsed = g_get_monotonic_time () - start;
  g_assert_no_error (error);
  g_assert_cmpint (n, ==, 0);
  g_assert_cmpint (elapsed, >=, 500);

  unregister_ok (f->selector, fds[0]);
  close_pair (fds);
}

static void
test_closed_fd (Fixture       *f,
                gconstpointer  data)
{
  EvlSelectorEvent events[N_EVENTS];
  const EvlSelectorEvent *ev;
  int marker_a, marker_b;
  int a[2], b[2], c[2];
  int closed;
  int n;

  evl_test_socketpair (a);
  evl_test_socketpair (b);
  register_ok (f->selector, a[0], EVL_EVENT_READ, &marker_a);
  register_ok (f->selector, b[0], EVL_EVENT_READ, &marker_b);
  write_byte (b[1]);

  /* Closed while registered: select still works and reports the others. */
  closed = a[0];
  g_assert_cmpint (close (a[0]), ==, 0);
  a[0] = -1;

  for (int round = 0; round < 2; round++)
    {
      n = do_select (f->selector, 5.0, events, N_EVENTS);
      ev = find_event (events, n, b[0]);
      g_assert_nonnull (ev);
      g_assert_cmpuint (ev->events, ==, EVL_EVENT_READ);
      g_assert_true (ev->data == &marker_b);

      /* The closed fd may be reported (poll, select) or not (epoll); if it
       * is, it comes with its interest and its data. */
      ev = find_event (events, n, closed);
      if (ev != NULL)
        {
          g_assert_cmpuint (ev->events, ==, EVL_EVENT_READ);
          g_assert_true (ev->data == &marker_a);
        }
    }

  g_assert_cmpuint (evl_selector_get_n_keys (f->selector), ==, 2);
  unregister_ok (f->selector, closed);
  g_assert_cmpuint (evl_selector_get_n_keys (f->selector), ==, 1);

  n = do_select (f->selector, 5.0, events, N_EVENTS);
  g_assert_cmpint (n, ==, 1);
  g_assert_cmpint (events[0].fd, ==, b[0]);

  /* A closed fd alone, watched for both events. */
  evl_test_socketpair (c);
  register_ok (f->selector, c[0], EVL_EVENT_READ | EVL_EVENT_WRITE, NULL);
  closed = c[0];
  g_assert_cmpint (close (c[0]), ==, 0);
  c[0] = -1;
  unregister_ok (f->selector, b[0]);
  n = do_select (f->selector, 0, events, N_EVENTS);
  g_assert_cmpint (n, <=, 1);
  if (n == 1)
    {
      g_assert_cmpint (events[0].fd, ==, closed);
      g_assert_cmpuint (events[0].events, ==, EVL_EVENT_READ | EVL_EVENT_WRITE);
    }
  unregister_ok (f->selector, closed);
  g_assert_cmpuint (evl_selector_get_n_keys (f->selector), ==, 0);

  close_pair (a);
  close_pair (b);
  close_pair (c);
}

static void
test_reused_fd (Fixture       *f,
                gconstpointer  data)
{
  EvlSelectorEvent events[N_EVENTS];
  GError *error = NULL;
  int a[2], b[2];
  int old;
  int n;

  /* An fd closed while registered whose number is reused by a new file
   * before the selector hears of it: modify() watches the new file. */
  evl_test_socketpair (a);
  register_ok (f->selector, a[0], EVL_EVENT_READ, NULL);
  old = a[0];
  close_pair (a);

  evl_test_socketpair (b);   /* the lowest free numbers: a's again */
  if (b[0] != old)
    {
      close_pair (b);
      unregister_ok (f->selector, old);
      g_test_skip ("the closed fd's number was not reused");
      return;
    }

  /* Same events as before: the new file is watched all the same. */
  g_assert_true (evl_selector_modify (f->selector, old, EVL_EVENT_READ, NULL, &error));
  g_assert_no_error (error);
  write_byte (b[1]);
  n = do_select (f->selector, 5.0, events, N_EVENTS);
  g_assert_cmpint (n, ==, 1);
  g_assert_cmpint (events[0].fd, ==, old);
  g_assert_cmpuint (events[0].events, ==, EVL_EVENT_READ);

  g_assert_true (evl_selector_modify (f->selector, old, EVL_EVENT_READ | EVL_EVENT_WRITE,
                                      NULL, &error));
  g_assert_no_error (error);
  n = do_select (f->selector, 5.0, events, N_EVENTS);
  g_assert_cmpint (n, ==, 1);
  g_assert_cmpint (events[0].fd, ==, old);
  g_assert_cmpuint (events[0].events, ==, EVL_EVENT_READ | EVL_EVENT_WRITE);

  unregister_ok (f->selector, old);
  close_pair (b);
}

static void
test_data (Fixture       *f,
           gconstpointer  data)
{
  EvlSelectorEvent events[N_EVENTS];
  int fds[3][2];
  int markers[3];
  int n;

  for (int i = 0; i < 3; i++)
    {
      evl_test_socketpair (fds[i]);
      register_ok (f->selector, fds[i][0], EVL_EVENT_READ, &markers[i]);
      write_byte (fds[i][1]);
    }

  n = do_select (f->selector, 5.0, events, N_EVENTS);
  g_assert_cmpint (n, ==, 3);
  for (int i = 0; i < 3; i++)
    {
      const EvlSelectorEvent *ev = find_event (events, n, fds[i][0]);
      gpointer key_data = NULL;

      g_assert_nonnull (ev);
      g_assert_true (ev->data == &markers[i]);
      g_assert_true (evl_selector_get_key (f->selector, fds[i][0], NULL, &key_data));
      g_assert_true (key_data == &markers[i]);
    }

  for (int i = 0; i < 3; i++)
    {
      unregister_ok (f->selector, fds[i][0]);
      close_pair (fds[i]);
    }
}

static void
test_n_keys (Fixture       *f,
             gconstpointer  data)
{
  int fds[4][2];

  g_assert_cmpuint (evl_selector_get_n_keys (f->selector), ==, 0);
  for (int i = 0; i < 4; i++)
    {
      evl_test_socketpair (fds[i]);
      register_ok (f->selector, fds[i][0], EVL_EVENT_READ, NULL);
      register_ok (f->selector, fds[i][1], EVL_EVENT_WRITE, NULL);
      g_assert_cmpuint (evl_selector_get_n_keys (f->selector), ==, 2 * (i + 1));
    }

  /* Unregister from the middle (the poll selector swap-removes). */
  unregister_ok (f->selector, fds[1][0]);
  g_assert_cmpuint (evl_selector_get_n_keys (f->selector), ==, 7);
  g_assert_false (evl_selector_get_key (f->selector, fds[1][0], NULL, NULL));
  g_assert_true (evl_selector_get_key (f->selector, fds[3][1], NULL, NULL));

  {
    EvlSelectorEvent events[N_EVENTS];
    int n = do_select (f->selector, 5.0, events, N_EVENTS);

    /* The four write ends are writable; no read end has data. */
    g_assert_cmpint (n, ==, 4);
    for (int i = 0; i < 4; i++)
      g_assert_nonnull (find_event (events, n, fds[i][1]));
  }

  for (int i = 0; i < 4; i++)
    {
      if (i != 1)
        unregister_ok (f->selector, fds[i][0]);
      unregister_ok (f->selector, fds[i][1]);
      close_pair (fds[i]);
    }
  g_assert_cmpuint (evl_selector_get_n_keys (f->selector), ==, 0);
}

static void
test_hangup (Fixture       *f,
             gconstpointer  data)
{
  EvlSelectorEvent events[N_EVENTS];
  int fds[2];
  int n;

  evl_test_socketpair (fds);
  register_ok (f->selector, fds[0], EVL_EVENT_READ, NULL);
  g_assert_cmpint (close (fds[1]), ==, 0);
  fds[1] = -1;

  /* A hung-up peer makes the fd readable (read() returns 0). */
  n = do_select (f->selector, 5.0, events, N_EVENTS);
  g_assert_cmpint (n, ==, 1);
  g_assert_cmpint (events[0].fd, ==, fds[0]);
  g_assert_cmpuint (events[0].events, ==, EVL_EVENT_READ);

  unregister_ok (f->selector, fds[0]);
  close_pair (fds);
}

static void
test_small_buffer (Fixture       *f,
                   gconstpointer  data)
{
  EvlSelectorEvent events[1];
  int a[2], b[2];
  gboolean seen_a = FALSE, seen_b = FALSE;

  evl_test_socketpair (a);
  evl_test_socketpair (b);
  write_byte (a[1]);
  write_byte (b[1]);
  register_ok (f->selector, a[0], EVL_EVENT_READ, NULL);
  register_ok (f->selector, b[0], EVL_EVENT_READ, NULL);

  /* Two ready fds, room for one: successive calls report both. */
  for (int i = 0; i < 2; i++)
    {
      int n = do_select (f->selector, 5.0, events, 1);

      g_assert_cmpint (n, ==, 1);
      if (events[0].fd == a[0])
        seen_a = TRUE;
      else if (events[0].fd == b[0])
        seen_b = TRUE;
      else
        g_assert_not_reached ();
    }
  g_assert_true (seen_a);
  g_assert_true (seen_b);

  unregister_ok (f->selector, a[0]);
  unregister_ok (f->selector, b[0]);
  close_pair (a);
  close_pair (b);
}

static void
test_name_and_fd (Fixture       *f,
                  gconstpointer  data)
{
  const char *kind = data;
  int fd;

  g_assert_cmpstr (evl_selector_get_name (f->selector), ==, kind);

  fd = evl_selector_get_fd (f->selector);
  if (g_str_equal (kind, "epoll"))
    {
      g_assert_cmpint (fd, >=, 0);
      g_assert_cmpint (fcntl (fd, F_GETFD), ==, FD_CLOEXEC);
    }
  else
    g_assert_cmpint (fd, ==, -1);
}

#ifdef __linux__
static void
test_epoll_regular_file (Fixture       *f,
                         gconstpointer  data)
{
  GError *error = NULL;
  int fd;

  fd = open ("/proc/self/stat", O_RDONLY | O_CLOEXEC);
  g_assert_cmpint (fd, >=, 0);

  g_assert_false (evl_selector_register (f->selector, fd, EVL_EVENT_READ, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED);
  g_clear_error (&error);
  g_assert_cmpuint (evl_selector_get_n_keys (f->selector), ==, 0);

  g_assert_cmpint (close (fd), ==, 0);
}

static void
test_epoll_fd_readable (Fixture       *f,
                        gconstpointer  data)
{
  EvlSelectorEvent events[N_EVENTS];
  EvlSelector *outer;
  int fds[2];
  int n;

  /* The epoll fd nests in another selector: readable when events wait. */
  outer = evl_poll_selector_new ();
  evl_test_socketpair (fds);
  register_ok (f->selector, fds[0], EVL_EVENT_READ, NULL);
  register_ok (outer, evl_selector_get_fd (f->selector), EVL_EVENT_READ, NULL);

  n = do_select (outer, 0, events, N_EVENTS);
  g_assert_cmpint (n, ==, 0);
  write_byte (fds[1]);
  n = do_select (outer, 5.0, events, N_EVENTS);
  g_assert_cmpint (n, ==, 1);
  g_assert_cmpint (events[0].fd, ==, evl_selector_get_fd (f->selector));

  unregister_ok (outer, evl_selector_get_fd (f->selector));
  g_assert_finalize_object (outer);
  unregister_ok (f->selector, fds[0]);
  close_pair (fds);
}
#endif

/* Tests that are not per selector kind. */

static void
test_default_env (void)
{
  static const struct {
    const char *env;
    GType     (*get_type) (void);
  } cases[] = {
#ifdef __linux__
    { "epoll", evl_epoll_selector_get_type },
#endif
    { "poll", evl_poll_selector_get_type },
    { "select", evl_select_selector_get_type },
  };
  char *saved = g_strdup (g_getenv ("EVL_SELECTOR"));
  EvlSelector *selector;

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_assert_true (g_setenv ("EVL_SELECTOR", cases[i].env, TRUE));
      selector = evl_selector_new_default ();
      g_assert_nonnull (selector);
      g_assert_true (G_TYPE_CHECK_INSTANCE_TYPE (selector, cases[i].get_type ()));
      g_assert_cmpstr (evl_selector_get_name (selector), ==, cases[i].env);
      g_assert_finalize_object (selector);
    }

  /* Unset (or empty): the best one for the platform. */
  g_unsetenv ("EVL_SELECTOR");
  selector = evl_selector_new_default ();
#ifdef __linux__
  g_assert_true (EVL_IS_EPOLL_SELECTOR (selector));
#else
  g_assert_true (EVL_IS_POLL_SELECTOR (selector));
#endif
  g_assert_finalize_object (selector);

  g_setenv ("EVL_SELECTOR", "", TRUE);
  selector = evl_selector_new_default ();
#ifdef __linux__
  g_assert_true (EVL_IS_EPOLL_SELECTOR (selector));
#endif
  g_assert_finalize_object (selector);

  if (saved != NULL)
    g_setenv ("EVL_SELECTOR", saved, TRUE);
  else
    g_unsetenv ("EVL_SELECTOR");
  g_free (saved);
}

static void
test_default_unknown (void)
{
  char *saved = g_strdup (g_getenv ("EVL_SELECTOR"));
  EvlSelector *selector;

  g_setenv ("EVL_SELECTOR", "bogus", TRUE);
  g_test_expect_message ("Evl", G_LOG_LEVEL_WARNING, "*bogus*");
  selector = evl_selector_new_default ();
  g_test_assert_expected_messages ();
  g_assert_nonnull (selector);
#ifdef __linux__
  g_assert_true (EVL_IS_EPOLL_SELECTOR (selector));
#endif
  g_assert_finalize_object (selector);

  if (saved != NULL)
    g_setenv ("EVL_SELECTOR", saved, TRUE);
  else
    g_unsetenv ("EVL_SELECTOR");
  g_free (saved);
}

static void
test_select_fd_setsize (void)
{
  EvlSelectorEvent events[N_EVENTS];
  EvlSelector *selector;
  EvlSelector *poll_selector;
  GError *error = NULL;
  struct rlimit saved, rl;
  int fds[2];
  int big;
  int n;

  g_assert_cmpint (getrlimit (RLIMIT_NOFILE, &saved), ==, 0);
  rl = saved;
  if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur <= FD_SETSIZE + 1)
    {
      if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max <= FD_SETSIZE + 1)
        {
          g_test_skip ("RLIMIT_NOFILE does not allow fds >= FD_SETSIZE");
          return;
        }
      rl.rlim_cur = FD_SETSIZE + 16;
      g_assert_cmpint (setrlimit (RLIMIT_NOFILE, &rl), ==, 0);
    }

  evl_test_socketpair (fds);
  big = fcntl (fds[0], F_DUPFD_CLOEXEC, FD_SETSIZE);
  if (big < 0)
    {
      close_pair (fds);
      setrlimit (RLIMIT_NOFILE, &saved);
      g_test_skip ("cannot make an fd >= FD_SETSIZE here");
      return;
    }

  selector = evl_select_selector_new ();
  g_assert_false (evl_selector_register (selector, big, EVL_EVENT_READ, NULL, &error));
  g_assert_error (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_NOT_SUPPORTED);
  g_assert_nonnull (strstr (error->message, "epoll"));
  g_assert_nonnull (strstr (error->message, "poll selector"));
  g_clear_error (&error);
  g_assert_cmpuint (evl_selector_get_n_keys (selector), ==, 0);
  g_assert_finalize_object (selector);

  /* The poll selector has no such limit. */
  poll_selector = evl_poll_selector_new ();
  register_ok (poll_selector, big, EVL_EVENT_READ, NULL);
  write_byte (fds[1]);
  n = do_select (poll_selector, 5.0, events, N_EVENTS);
  g_assert_cmpint (n, ==, 1);
  g_assert_cmpint (events[0].fd, ==, big);
  unregister_ok (poll_selector, big);
  g_assert_finalize_object (poll_selector);

  g_assert_cmpint (close (big), ==, 0);
  close_pair (fds);
  g_assert_cmpint (setrlimit (RLIMIT_NOFILE, &saved), ==, 0);
}

typedef void (*FixtureFunc) (Fixture *f, gconstpointer data);

int
main (int   argc,
      char *argv[])
{
  static const char *kinds[] = {
#ifdef __linux__
    "epoll",
#endif
    "poll",
    "select",
  };
  static const struct {
    const char  *name;
    FixtureFunc  func;
  } tests[] = {
    { "register-errors", test_register_errors },
    { "unknown-fd", test_unknown_fd },
    { "readable", test_readable },
    { "writable", test_writable },
    { "read-write", test_read_write },
    { "modify", test_modify },
    { "unregister", test_unregister },
    { "timeout-zero", test_timeout_zero },
    { "timeout", test_timeout },
    { "closed-fd", test_closed_fd },
    { "reused-fd", test_reused_fd },
    { "data", test_data },
    { "n-keys", test_n_keys },
    { "hangup", test_hangup },
    { "small-buffer", test_small_buffer },
    { "name-and-fd", test_name_and_fd },
  };

  evl_test_init (&argc, &argv);

  for (gsize k = 0; k < G_N_ELEMENTS (kinds); k++)
    for (gsize t = 0; t < G_N_ELEMENTS (tests); t++)
      {
        char *path = g_strdup_printf ("/Evl/Selector/%s/%s", kinds[k], tests[t].name);

        g_test_add (path, Fixture, kinds[k],
                    fixture_setup, tests[t].func, fixture_teardown);
        g_free (path);
      }

#ifdef __linux__
  g_test_add ("/Evl/Selector/epoll/regular-file", Fixture, "epoll",
              fixture_setup, test_epoll_regular_file, fixture_teardown);
  g_test_add ("/Evl/Selector/epoll/fd-readable", Fixture, "epoll",
              fixture_setup, test_epoll_fd_readable, fixture_teardown);
#endif
  g_test_add_func ("/Evl/Selector/default/env", test_default_env);
  g_test_add_func ("/Evl/Selector/default/unknown", test_default_unknown);
  g_test_add_func ("/Evl/Selector/select/fd-setsize", test_select_fd_setsize);

  return g_test_run ();
}
