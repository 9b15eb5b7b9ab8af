/* evl-write-buffer.c: the write buffer of the stream and datagram
 * transports
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "evl-config.h"

#include <string.h>

#include "evl-write-buffer-private.h"

void
evl_write_buffer_init (EvlWriteBuffer *buf,
                       GDestroyNotify  dest_free)
{
  g_queue_init (&buf->chunks);
  buf->offset = 0;
  buf->size = 0;
  buf->dest_free = dest_free;
}

static void
chunk_free (EvlWriteBuffer *buf,
            EvlWriteChunk  *chunk)
{
  g_bytes_unref (chunk->data);
  if (chunk->dest != NULL)
    buf->dest_free (chunk->dest);
  g_free (chunk);
}

static EvlWriteChunk *
pop_head (EvlWriteBuffer *buf)
{
  GList *link = g_queue_pop_head_link (&buf->chunks);

  return link != NULL ? link->data : NULL;
}

void
evl_write_buffer_clear (EvlWriteBuffer *buf)
{
  EvlWriteChunk *chunk;

  while ((chunk = pop_head (buf)) != NULL)
    chunk_free (buf, chunk);
  buf->offset = 0;
  buf->size = 0;
}

static void
push_chunk (EvlWriteBuffer *buf,
            GBytes         *data,
            gpointer        dest,
            gboolean        at_head)
{
  EvlWriteChunk *chunk = g_new0 (EvlWriteChunk, 1);

  chunk->link.data = chunk;
  chunk->data = data;
  chunk->dest = dest;
  if (at_head)
    g_queue_push_head_link (&buf->chunks, &chunk->link);
  else
    g_queue_push_tail_link (&buf->chunks, &chunk->link);
}

void
evl_write_buffer_push (EvlWriteBuffer *buf,
                       GBytes         *data,
                       gsize           offset,
                       gpointer        dest)
{
  gsize len = g_bytes_get_size (data);

  g_return_if_fail (offset <= len);

  push_chunk (buf, offset == 0 ? g_bytes_ref (data)
                               : g_bytes_new_from_bytes (data, offset, len - offset),
              dest, FALSE);
  buf->size += len - offset;
}

EvlWriteChunk *
evl_write_buffer_peek (EvlWriteBuffer *buf)
{
  GList *link = g_queue_peek_head_link (&buf->chunks);

  return link != NULL ? link->data : NULL;
}

void
evl_write_buffer_drop_head (EvlWriteBuffer *buf)
{
  EvlWriteChunk *chunk = pop_head (buf);

  g_return_if_fail (chunk != NULL);

  buf->size -= g_bytes_get_size (chunk->data) - buf->offset;
  buf->offset = 0;
  chunk_free (buf, chunk);
}

void
evl_write_buffer_consume (EvlWriteBuffer *buf,
                          gsize           n)
{
  g_return_if_fail (n <= buf->size);

  buf->size -= n;
  while (n > 0)
    {
      EvlWriteChunk *head = evl_write_buffer_peek (buf);
      gsize left = g_bytes_get_size (head->data) - buf->offset;

      if (n < left)
        {
          buf->offset += n;
          break;
        }
      n -= left;
      buf->offset = 0;
      chunk_free (buf, pop_head (buf));
    }
}

int
evl_write_buffer_get_iov (EvlWriteBuffer *buf,
                          EvlOsIoVec     *iov,
                          int             max)
{
  GList *l;
  int n = 0;
  gsize offset = buf->offset;

  for (l = buf->chunks.head; l != NULL && n < max; l = l->next)
    {
      EvlWriteChunk *chunk = l->data;
      gsize size;
      const guint8 *data = g_bytes_get_data (chunk->data, &size);

      if (size - offset > EVL_OS_IOV_MAX_LEN)
        {
          /* The rest of this chunk goes in a later call. */
          evl_os_iov_set (&iov[n++], data + offset, EVL_OS_IOV_MAX_LEN);
          break;
        }
      evl_os_iov_set (&iov[n++], data + offset, size - offset);
      offset = 0;
    }
  return n;
}

GBytes *
evl_write_buffer_coalesce (EvlWriteBuffer *buf)
{
  EvlWriteChunk *head = evl_write_buffer_peek (buf);

  g_return_val_if_fail (head != NULL, NULL);

  if (buf->chunks.length == 1 && buf->offset == 0)
    return g_bytes_ref (head->data);

  if (buf->chunks.length == 1)
    {
      GBytes *rest = g_bytes_new_from_bytes (head->data, buf->offset,
                                             g_bytes_get_size (head->data) - buf->offset);

      g_bytes_unref (head->data);
      head->data = rest;
    }
  else
    {
      guint8 *joined = g_malloc (buf->size);
      gsize pos = 0, offset = buf->offset;
      EvlWriteChunk *chunk;

      while ((chunk = pop_head (buf)) != NULL)
        {
          gsize size;
          const guint8 *data = g_bytes_get_data (chunk->data, &size);

          memcpy (joined + pos, data + offset, size - offset);
          pos += size - offset;
          offset = 0;
          chunk_free (buf, chunk);
        }
      g_assert (pos == buf->size);
      push_chunk (buf, g_bytes_new_take (joined, pos), NULL, TRUE);
    }
  buf->offset = 0;
  return g_bytes_ref (evl_write_buffer_peek (buf)->data);
}
