/* evl-timer-heap.c: binary min-heap of timer handles
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "evl-config.h"

#include "evl-timer-heap-private.h"

static inline gboolean
timer_less (const EvlHandle *a,
            const EvlHandle *b)
{
  const EvlTimerHandle *ta = (const EvlTimerHandle *) a, *tb = (const EvlTimerHandle *) b;

  return ta->when < tb->when || (ta->when == tb->when && ta->seq < tb->seq);
}

static void
sift_up (EvlTimerHeap *heap,
         guint         i)
{
  EvlHandle *item = heap->items[i];

  while (i > 0)
    {
      guint parent = (i - 1) / 2;

      if (!timer_less (item, heap->items[parent]))
        break;
      heap->items[i] = heap->items[parent];
      i = parent;
    }
  heap->items[i] = item;
}

static void
sift_down (EvlTimerHeap *heap,
           guint         i)
{
  EvlHandle *item = heap->items[i];
  guint n = heap->len;

  for (;;)
    {
      guint child = 2 * i + 1;

      if (child >= n)
        break;
      if (child + 1 < n && timer_less (heap->items[child + 1], heap->items[child]))
        child++;
      if (!timer_less (heap->items[child], item))
        break;
      heap->items[i] = heap->items[child];
      i = child;
    }
  heap->items[i] = item;
}

void
evl_timer_heap_init (EvlTimerHeap *heap)
{
  heap->items = NULL;
  heap->len = 0;
  heap->cap = 0;
}

void
evl_timer_heap_clear (EvlTimerHeap *heap)
{
  g_free (heap->items);
  evl_timer_heap_init (heap);
}

void
evl_timer_heap_push (EvlTimerHeap *heap,
                     EvlHandle    *handle)
{
  if (heap->len == heap->cap)
    {
      heap->cap = MAX (64, heap->cap * 2);
      heap->items = g_renew (EvlHandle *, heap->items, heap->cap);
    }
  heap->items[heap->len++] = handle;
  sift_up (heap, heap->len - 1);
}

EvlHandle *
evl_timer_heap_pop (EvlTimerHeap *heap)
{
  EvlHandle *top;

  if (heap->len == 0)
    return NULL;
  top = heap->items[0];
  heap->len--;
  if (heap->len > 0)
    {
      heap->items[0] = heap->items[heap->len];
      sift_down (heap, 0);
    }
  return top;
}

guint
evl_timer_heap_compact (EvlTimerHeap *heap)
{
  guint i, kept = 0, dropped;

  for (i = 0; i < heap->len; i++)
    {
      EvlHandle *h = heap->items[i];

      if (evl_handle_cancelled_fast (h))
        {
          EVL_TIMER_HANDLE (h)->loop = NULL;
          evl_handle_unref (h);
        }
      else
        heap->items[kept++] = h;
    }
  dropped = heap->len - kept;
  heap->len = kept;
  /* Floyd's heapify */
  for (i = heap->len / 2; i-- > 0;)
    sift_down (heap, i);
  return dropped;
}
