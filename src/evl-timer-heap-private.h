/* evl-timer-heap-private.h: binary min-heap of timer handles
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "evl-handle-private.h"

G_BEGIN_DECLS

/* Ordered by (when, seq): equal deadlines run in insertion order, as in
 * libuv's timer heap. Cancelled timers stay in the heap until they reach
 * the top or until more than half of the heap is cancelled, when
 * evl_timer_heap_compact() filters them out in O(n) (asyncio's rule). */
typedef struct
{
  EvlHandle **items;
  guint       len;
  guint       cap;
} EvlTimerHeap;

void        evl_timer_heap_init    (EvlTimerHeap *heap);
void        evl_timer_heap_clear   (EvlTimerHeap *heap);
void        evl_timer_heap_push    (EvlTimerHeap *heap,
                                    EvlHandle    *handle);
EvlHandle  *evl_timer_heap_pop     (EvlTimerHeap *heap);
/* Drops cancelled handles (unreffing them); returns how many. */
guint       evl_timer_heap_compact (EvlTimerHeap *heap);

static inline EvlHandle *
evl_timer_heap_peek (EvlTimerHeap *heap)
{
  return heap->len > 0 ? heap->items[0] : NULL;
}

G_END_DECLS
