/* evl-fd-table-private.h: the registration table of the poll and select
 * selectors
 *
 * The watched fds (SOCKETs on Windows) as a dense array of entries, in no
 * particular order, that the selector hands to its system call as it is
 * (struct pollfd, WSAPOLLFD) or reads to build one (fd sets), with an
 * index from fd to position. Removal moves the last entry into the hole.
 * The index is an array for fds below EVL_FD_TABLE_DENSE_MAX (every POSIX
 * fd in practice) and a hash table past it (Windows SOCKET and HANDLE
 * values are not small numbers). Used by evl-poll-selector.c,
 * evl-poll-selector-win32.c and evl-select-selector-win32.c.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <string.h>

#include <evloop-glib/evloop-glib.h>

G_BEGIN_DECLS

#define EVL_FD_TABLE_DENSE_MAX (1 << 20)

typedef struct
{
  gpointer    entries;     /* n entries of entry_size bytes */
  int        *fds;         /* the fd of each entry */
  guint       n;
  guint       alloc;
  gsize       entry_size;
  int        *index;       /* fd -> position, -1: not watched */
  guint       index_len;
  GHashTable *sparse;      /* fd -> position + 1, for the others */
  guint       start;       /* where the next scan of the results begins */
} EvlFdTable;

void     evl_fd_table_init   (EvlFdTable *table,
                              gsize       entry_size);
void     evl_fd_table_clear  (EvlFdTable *table);
/* The position of @fd, -1 if it is not in the table. */
static inline int
evl_fd_table_position (const EvlFdTable *table,
                       int               fd)
{
  if ((guint) fd < table->index_len)
    return table->index[fd];
  if (table->sparse != NULL)
    return (int) GPOINTER_TO_UINT (g_hash_table_lookup (table->sparse, GINT_TO_POINTER (fd))) - 1;
  return -1;
}

static inline gpointer
evl_fd_table_entry (const EvlFdTable *table,
                    guint             pos)
{
  return (guint8 *) table->entries + pos * table->entry_size;
}

/* Out of line: more room for entries; the index past its dense array's
 * length (growing it, or the hash table). */
void     evl_fd_table_grow              (EvlFdTable *table);
void     evl_fd_table_set_position_slow (EvlFdTable *table,
                                         int         fd,
                                         int         pos);

static inline void
evl_fd_table_set_position (EvlFdTable *table,
                           int         fd,
                           int         pos)
{
  if (G_LIKELY ((guint) fd < table->index_len))
    table->index[fd] = pos;
  else
    evl_fd_table_set_position_slow (table, fd, pos);
}

/* Adds @fd, which must not be in the table (the EvlSelector base class
 * refuses a second registration before a backend sees it); returns its
 * new entry, which the caller fills in (it is not initialized). The
 * entries may move. Inline, as the rest: the selectors register and
 * unregister in their hot paths. */
static inline gpointer
evl_fd_table_add (EvlFdTable *table,
                  int         fd)
{
  gpointer entry;

  if (G_UNLIKELY (table->n == table->alloc))
    evl_fd_table_grow (table);
  entry = evl_fd_table_entry (table, table->n);
  table->fds[table->n] = fd;
  evl_fd_table_set_position (table, fd, (int) table->n);
  table->n++;
  return entry;
}

/* Removes @fd; FALSE if it was not in the table. The last entry moves
 * into its place. */
static inline gboolean
evl_fd_table_remove (EvlFdTable *table,
                     int         fd)
{
  int pos = evl_fd_table_position (table, fd);
  guint last;

  if (pos < 0)
    return FALSE;
  last = table->n - 1;
  if ((guint) pos != last)
    {
      memcpy (evl_fd_table_entry (table, (guint) pos), evl_fd_table_entry (table, last),
              table->entry_size);
      table->fds[pos] = table->fds[last];
      evl_fd_table_set_position (table, table->fds[pos], pos);
    }
  evl_fd_table_set_position (table, fd, -1);
  table->n--;
  return TRUE;
}

/* The entry of @fd, NULL if it is not in the table. */
static inline gpointer
evl_fd_table_lookup (const EvlFdTable *table,
                     int               fd)
{
  int pos = evl_fd_table_position (table, fd);

  return pos >= 0 ? evl_fd_table_entry (table, (guint) pos) : NULL;
}

/* For the poll selectors, whose entries are struct pollfd (WSAPOLLFD on
 * Windows) with their events and revents (shorts) at @events_offset and
 * @revents_offset: adds the fds with revents to @events after the first
 * @n, up to @n_events, with the private EVL_IO_ERROR and EVL_IO_HUP bits
 * (evl-loop-private.h) for a failed or hung-up fd; @n_ready is what the
 * poll returned. The scan begins where the last truncated one stopped.
 * Returns the new count. */
guint    evl_fd_table_collect_polled (EvlFdTable       *table,
                                      gsize             events_offset,
                                      gsize             revents_offset,
                                      guint             n_ready,
                                      EvlSelectorEvent *events,
                                      guint             n,
                                      guint             n_events);

/* Where a scan of the results begins: where the last truncated one
 * stopped, so that a small events array does not starve the fds at the
 * end of the table. Store the next position in table->start after it. */
static inline guint
evl_fd_table_scan_start (const EvlFdTable *table)
{
  return table->start < table->n ? table->start : 0;
}

static inline guint
evl_fd_table_next (const EvlFdTable *table,
                   guint             pos)
{
  return pos + 1 < table->n ? pos + 1 : 0;
}

G_END_DECLS
