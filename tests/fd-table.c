/* fd-table.c: the registration table of the poll and select selectors
 * (src/evl-fd-table.c, compiled in), with fd numbers of both kinds of its
 * index: small ones (the dense array) and large ones (the hash table,
 * which Windows SOCKET and HANDLE values may need; no POSIX test can open
 * an fd that large)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "evl-test-util.h"

#include <glib.h>
#ifdef G_OS_WIN32
# include <gio/gnetworking.h>
#else
# include <poll.h>
#endif

#include "evl-fd-table-private.h"
#include "evl-loop-private.h"

typedef struct
{
  int   fd;
  short events;
  short revents;
} Entry;

/* Every fd of the table is where the index says, with its own entry. */
static void
assert_consistent (EvlFdTable *table,
                   GHashTable *expected)
{
  GHashTableIter iter;
  gpointer key;

  g_assert_cmpuint (table->n, ==, g_hash_table_size (expected));
  for (guint i = 0; i < table->n; i++)
    {
      Entry *e = evl_fd_table_entry (table, i);

      g_assert_cmpint (e->fd, ==, table->fds[i]);
      g_assert_cmpint (evl_fd_table_position (table, e->fd), ==, (int) i);
      g_assert_true (evl_fd_table_lookup (table, e->fd) == e);
    }
  g_hash_table_iter_init (&iter, expected);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    g_assert_cmpint (evl_fd_table_position (table, GPOINTER_TO_INT (key)), >=, 0);
}

static void
test_add_remove (void)
{
  /* Small, past the first index length, and past EVL_FD_TABLE_DENSE_MAX. */
  static const int fds[12] = { 0, 3, 63, 64, 1000, 4096, EVL_FD_TABLE_DENSE_MAX - 1,
                               EVL_FD_TABLE_DENSE_MAX, EVL_FD_TABLE_DENSE_MAX + 4,
                               0x7ffffffc, 12, 0x10000 * 4 + 8 };
  GHashTable *expected = g_hash_table_new (NULL, NULL);
  EvlFdTable table;
  guint i, round;

  evl_fd_table_init (&table, sizeof (Entry));
  g_assert_null (evl_fd_table_lookup (&table, 5));
  g_assert_cmpint (evl_fd_table_position (&table, EVL_FD_TABLE_DENSE_MAX + 4), ==, -1);
  g_assert_false (evl_fd_table_remove (&table, 5));

  for (round = 0; round < 3; round++)
    {
      for (i = 0; i < G_N_ELEMENTS (fds); i++)
        {
          Entry *e = evl_fd_table_add (&table, fds[i]);

          g_assert_nonnull (e);
          e->fd = fds[i];
          e->events = (short) i;
          g_hash_table_add (expected, GINT_TO_POINTER (fds[i]));
          assert_consistent (&table, expected);
        }
      for (i = 0; i < G_N_ELEMENTS (fds); i++)
        g_assert_cmpint (((Entry *) evl_fd_table_lookup (&table, fds[i]))->events, ==, (short) i);

      /* Removed in another order each round (a step prime to the count
       * visits each once): from the middle, the end and the start of the
       * entries, dense and sparse alike. */
      for (i = 0; i < G_N_ELEMENTS (fds); i++)
        {
          static const guint steps[] = { 5, 7, 11 };
          int fd = fds[(i * steps[round]) % G_N_ELEMENTS (fds)];

          g_assert_true (evl_fd_table_remove (&table, fd));
          g_assert_false (evl_fd_table_remove (&table, fd));
          g_assert_null (evl_fd_table_lookup (&table, fd));
          g_hash_table_remove (expected, GINT_TO_POINTER (fd));
          assert_consistent (&table, expected);
        }
      g_assert_cmpuint (table.n, ==, 0);
    }

  evl_fd_table_clear (&table);
  g_assert_cmpuint (table.n, ==, 0);
  g_assert_null (evl_fd_table_lookup (&table, 3));
  g_hash_table_unref (expected);
}

static Entry *
add_polled (EvlFdTable *table,
            int         fd,
            short       events,
            short       revents)
{
  Entry *e = evl_fd_table_add (table, fd);

  e->fd = fd;
  e->events = events;
  e->revents = revents;
  return e;
}

static EvlEventFlags
find (EvlSelectorEvent *events,
      guint             n,
      int               fd)
{
  for (guint i = 0; i < n; i++)
    if (events[i].fd == fd)
      return events[i].events;
  return 0;
}

static guint
collect (EvlFdTable       *table,
         guint             n_ready,
         EvlSelectorEvent *events,
         guint             n,
         guint             n_events)
{
  return evl_fd_table_collect_polled (table, G_STRUCT_OFFSET (Entry, events),
                                      G_STRUCT_OFFSET (Entry, revents),
                                      n_ready, events, n, n_events);
}

static void
test_collect_polled (void)
{
  EvlSelectorEvent events[8];
  EvlFdTable table;
  guint n;

  evl_fd_table_init (&table, sizeof (Entry));
  add_polled (&table, 4, POLLIN, POLLIN);
  add_polled (&table, 5, POLLIN | POLLOUT, POLLOUT);
  add_polled (&table, 6, POLLIN, 0);
  add_polled (&table, EVL_FD_TABLE_DENSE_MAX + 8, POLLOUT, POLLHUP);
  add_polled (&table, 8, POLLIN, POLLERR);

  n = collect (&table, 4, events, 0, G_N_ELEMENTS (events));
  g_assert_cmpuint (n, ==, 4);
  g_assert_cmpuint (find (events, n, 4), ==, EVL_EVENT_READ);
  g_assert_cmpuint (find (events, n, 5), ==, EVL_EVENT_WRITE);
  g_assert_cmpuint (find (events, n, 6), ==, 0);
  /* A hang-up or an error: every interest, and the private bits. */
  g_assert_cmpuint (find (events, n, EVL_FD_TABLE_DENSE_MAX + 8), ==, EVL_EVENT_WRITE | EVL_IO_HUP);
  g_assert_cmpuint (find (events, n, 8), ==, EVL_EVENT_READ | EVL_IO_ERROR);
  for (guint i = 0; i < n; i++)
    g_assert_null (events[i].data);

  /* Appended after the first @n. */
  events[0].fd = -7;
  n = collect (&table, 4, events, 1, G_N_ELEMENTS (events));
  g_assert_cmpuint (n, ==, 5);
  g_assert_cmpint (events[0].fd, ==, -7);

  /* Room for two at a time: the next scan goes on where this one
   * stopped, so every ready fd comes out within two rounds. */
  {
    GHashTable *seen = g_hash_table_new (NULL, NULL);

    for (guint round = 0; round < 2; round++)
      {
        n = collect (&table, 4, events, 0, 2);
        g_assert_cmpuint (n, ==, 2);
        for (guint i = 0; i < n; i++)
          g_hash_table_add (seen, GINT_TO_POINTER (events[i].fd));
      }
    g_assert_cmpuint (g_hash_table_size (seen), ==, 4);
    g_hash_table_unref (seen);
  }

  /* Nothing ready: nothing, and no event array is touched. */
  n = collect (&table, 0, events, 0, G_N_ELEMENTS (events));
  g_assert_cmpuint (n, ==, 0);
  n = collect (&table, 4, events, 0, 0);
  g_assert_cmpuint (n, ==, 0);

  evl_fd_table_clear (&table);
}

int
main (int    argc,
      char **argv)
{
  evl_test_init (&argc, &argv);

  g_test_add_func ("/Evl/FdTable/add-remove", test_add_remove);
  g_test_add_func ("/Evl/FdTable/collect-polled", test_collect_polled);

  return g_test_run ();
}
