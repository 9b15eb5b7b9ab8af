/* evl-child-watch-win32.c: learning that a child process exited, on
 * Windows
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "evl-config.h"

#include "evl-loop-private.h"   /* winsock2.h before windows.h */

#include <windows.h>

#include "evl-child-watch-private.h"

/* asyncio's Windows proactor (wait_for_handle on the process HANDLE): the
 * process HANDLE is signalled when the child exits; the loop watches it
 * as an internal reader (a waitable HANDLE: the selector loops wait for
 * it next to their sockets, the proactor loop through a thread-pool
 * wait), and GetExitCodeProcess() gives the return code. Nothing is
 * reaped on Windows: the HANDLE is the transport's (g_spawn_close_pid()
 * closes it). */

struct _EvlChildWatch
{
  EvlLoop          *loop;
  HANDLE            process;
  gboolean          watching;
  gboolean          exited;
  EvlChildExitFunc  func;
  gpointer          user_data;
};

static gboolean
try_reap (EvlChildWatch *w)
{
  DWORD code = 0;

  if (w->exited)
    return TRUE;
  if (WaitForSingleObject (w->process, 0) != WAIT_OBJECT_0)
    return FALSE;
  if (!GetExitCodeProcess (w->process, &code))
    code = 255;
  w->exited = TRUE;
  if (w->watching)
    {
      w->watching = FALSE;
      evl_loop_remove_internal_watch (w->loop, (int) (gintptr) w->process, FALSE);
    }
  /* Exit codes are DWORDs (an NTSTATUS such as 0xC000013A after Ctrl+C);
   * asyncio gives them as they are, here as the int of the same bits. */
  w->func ((int) code, w->user_data);
  return TRUE;
}

static void
process_ready (gpointer data)
{
  try_reap (data);
}

EvlChildWatch *
evl_child_watch_new (EvlLoop           *loop,
                     GPid               pid,
                     EvlChildExitFunc   func,
                     gpointer           user_data,
                     GError           **error)
{
  EvlChildWatch *w = g_new0 (EvlChildWatch, 1);

  w->loop = loop;
  w->process = pid;
  w->func = func;
  w->user_data = user_data;
  if (!evl_loop_add_internal_watch (loop, (int) (gintptr) w->process, FALSE, process_ready, w, NULL, error))
    {
      g_free (w);
      return NULL;
    }
  w->watching = TRUE;
  return w;
}

gboolean
evl_child_watch_poll (EvlChildWatch *w)
{
  return try_reap (w);
}

void
evl_child_watch_free (EvlChildWatch *w)
{
  if (w == NULL)
    return;
  if (w->watching)
    evl_loop_remove_internal_watch (w->loop, (int) (gintptr) w->process, FALSE);
  g_free (w);
}
