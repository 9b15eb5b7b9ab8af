/* evl-fd-table.c: the registration table of the poll and select selectors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "evl-config.h"

#include <string.h>
#include <glib.h>
#ifdef G_OS_WIN32
# include <gio/gnetworking.h>  /* WSAPoll's POLLIN is POLLRDNORM | POLLRDBAND */
#else
# include <poll.h>
#endif

#include "evl-fd-table-private.h"
#include "evl-loop-private.h"

void
evl_fd_table_init (EvlFdTable *table,
                   gsize       entry_size)
{
  memset (table, 0, sizeof *table);
  table->entry_size = entry_size;
}

void
evl_fd_table_clear (EvlFdTable *table)
{
  g_clear_pointer (&table->entries, g_free);
  g_clear_pointer (&table->fds, g_free);
  g_clear_pointer (&table->index, g_free);
  g_clear_pointer (&table->sparse, g_hash_table_unref);
  table->n = table->alloc = table->index_len = table->start = 0;
}

void
evl_fd_table_set_position_slow (EvlFdTable *table,
                                int         fd,
                                int         pos)
{
  if (fd >= 0 && fd < EVL_FD_TABLE_DENSE_MAX)
    {
      guint len = MAX (table->index_len, 64);
      guint i;

      while (len <= (guint) fd)
        len *= 2;
      len = MIN (len, (guint) EVL_FD_TABLE_DENSE_MAX);
      table->index = g_renew (int, table->index, len);
      for (i = table->index_len; i < len; i++)
        table->index[i] = -1;
      table->index_len = len;
      table->index[fd] = pos;
      return;
    }
  if (table->sparse == NULL)
    table->sparse = g_hash_table_new (NULL, NULL);
  if (pos < 0)
    g_hash_table_remove (table->sparse, GINT_TO_POINTER (fd));
  else
    g_hash_table_insert (table->sparse, GINT_TO_POINTER (fd), GUINT_TO_POINTER ((guint) pos + 1));
}

void
evl_fd_table_grow (EvlFdTable *table)
{
  table->alloc = MAX (table->alloc * 2, 16);
  table->entries = g_realloc_n (table->entries, table->alloc, table->entry_size);
  table->fds = g_renew (int, table->fds, table->alloc);
}

static EvlEventFlags
from_poll_events (short events)
{
  EvlEventFlags ev = 0;

  if (events & POLLIN)
    ev |= EVL_EVENT_READ;
  if (events & POLLOUT)
    ev |= EVL_EVENT_WRITE;
  return ev;
}

guint
evl_fd_table_collect_polled (EvlFdTable       *table,
                             gsize             events_offset,
                             gsize             revents_offset,
                             guint             n_ready,
                             EvlSelectorEvent *events,
                             guint             n,
                             guint             n_events)
{
  /* Locals (the writes to @events could alias the table's fields) and a
   * cursor: this loop runs over every watched fd at each wakeup. */
  const guint8 *entries = table->entries;
  gsize size = table->entry_size;
  guint len = table->n;
  guint i = evl_fd_table_scan_start (table);
  const guint8 *cursor;

  if (n >= n_events || n_ready == 0 || len == 0)
    return n;
  cursor = entries + (gsize) i * size;
  for (guint k = 0; k < len; k++)
    {
      const guint8 *entry = cursor;
      guint pos = i;
      short asked, revents;
      EvlEventFlags ready;

      /* memcpy: no alignment assumed (a plain load once compiled). */
      memcpy (&revents, entry + revents_offset, sizeof revents);
      if (++i == len)
        {
          i = 0;
          cursor = entries;
        }
      else
        cursor += size;
      if (revents == 0)
        continue;

      ready = from_poll_events (revents);
      if (revents & (POLLERR | POLLHUP | POLLNVAL))
        {
          /* Let the callbacks of every interest see the failure. */
          memcpy (&asked, entry + events_offset, sizeof asked);
          ready |= from_poll_events (asked);
          if (revents & (POLLERR | POLLNVAL))
            ready |= EVL_IO_ERROR;
          if (revents & POLLHUP)
            ready |= EVL_IO_HUP;
        }
      if (ready != 0)
        {
          events[n].fd = table->fds[pos];
          events[n].events = ready;
          events[n].data = NULL;
          if (++n == n_events)
            break;
        }
      if (--n_ready == 0)
        break;
    }
  table->start = i;
  return n;
}
