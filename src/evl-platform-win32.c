/* evl-platform-win32.c: platform queries for Windows
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "evl-config.h"

#include <evloop-glib/evloop-glib.h>

#include "evl-os-private.h"
#include "evl-loop-private.h"
#include "evl-platform-private.h"

/* Windows has no "process id == main thread id": remember the thread that
 * loaded the library (the main thread, for a program linked with it). */
static DWORD evl_main_thread_id;

__attribute__((constructor))
static void
evl_platform_record_main_thread (void)
{
  evl_main_thread_id = GetCurrentThreadId ();
}

gboolean
evl_is_main_thread (void)
{
  return GetCurrentThreadId () == evl_main_thread_id;
}

void
evl_platform_at_fork_child (void (*func) (void))
{
  /* No fork() on Windows. */
}

const char *
evl_platform_not_ported_message (void)
{
  return _("This operation is not available on Windows yet: the socket "
           "primitives, streams, servers, datagrams and subprocesses of "
           "evloop-glib work on Unix only for now; see the README's "
           "platform table");
}
