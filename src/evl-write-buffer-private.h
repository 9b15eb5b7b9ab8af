/* evl-write-buffer-private.h: the write buffer of the stream and datagram
 * transports
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

#include "evl-os-sock-private.h"   /* EvlOsIoVec */

G_BEGIN_DECLS

/* What a transport has been asked to send and the kernel has not taken
 * yet, oldest first, and its size in bytes (which the transport reports as
 * get_write_buffer_size and compares with its water marks through
 * evl_transport_maybe_pause_protocol/_resume_protocol). A stream sends
 * the chunks as one byte stream, part of a chunk at a time (@offset); a
 * datagram endpoint sends each chunk whole, as one datagram, to the
 * chunk's @dest. */

typedef struct
{
  GList     link;     /* in EvlWriteBuffer.chunks; data: this chunk */
  GBytes   *data;
  gpointer  dest;     /* the datagram's destination or NULL; the buffer owns it */
} EvlWriteChunk;

typedef struct
{
  GQueue          chunks;     /* of EvlWriteChunk */
  gsize           offset;     /* bytes of the head chunk already sent */
  gsize           size;       /* bytes not yet sent */
  GDestroyNotify  dest_free;  /* frees a chunk's @dest */
} EvlWriteBuffer;

void            evl_write_buffer_init      (EvlWriteBuffer     *buf,
                                            GDestroyNotify      dest_free);
/* Drops every chunk (abort, finalize). */
void            evl_write_buffer_clear     (EvlWriteBuffer     *buf);

static inline gboolean
evl_write_buffer_is_empty (const EvlWriteBuffer *buf)
{
  return buf->chunks.length == 0;
}

/* Appends the bytes of @data from @offset on (a reference is taken), with
 * @dest (taken; NULL for streams). */
void            evl_write_buffer_push      (EvlWriteBuffer     *buf,
                                            GBytes             *data,
                                            gsize               offset,
                                            gpointer            dest);
/* The oldest chunk, or NULL. */
EvlWriteChunk  *evl_write_buffer_peek      (EvlWriteBuffer     *buf);
/* Removes the oldest chunk whatever was sent of it (a datagram sent or
 * failed). */
void            evl_write_buffer_drop_head (EvlWriteBuffer     *buf);
/* @n bytes of the stream were sent: removes the chunks they end. */
void            evl_write_buffer_consume   (EvlWriteBuffer     *buf,
                                            gsize               n);
/* Fills @iov with the unsent bytes (at most @max entries, each at most
 * EVL_OS_IOV_MAX_LEN long: a longer chunk ends the list); returns how many
 * entries it filled. */
int             evl_write_buffer_get_iov   (EvlWriteBuffer     *buf,
                                            EvlOsIoVec         *iov,
                                            int                 max);
/* Joins the unsent bytes into one chunk, which then is the only one, and
 * returns a reference to its data. The buffer must not be empty. */
GBytes         *evl_write_buffer_coalesce  (EvlWriteBuffer     *buf);

G_END_DECLS
