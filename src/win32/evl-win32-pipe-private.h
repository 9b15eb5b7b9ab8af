/* evl-win32-pipe-private.h (Windows): pipe HANDLEs and Win32 error
 * codes, for the pipe transports and subprocesses
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <winsock2.h>   /* before windows.h, as GLib's gnetworking.h */
#include <windows.h>

#include <glib.h>

G_BEGIN_DECLS

/* The errno value of a Win32 error code (EPIPE for a broken pipe, EIO for
 * what has no match). evl-pipe-win32.c */
int       evl_win32_errno                (DWORD        code);

/* Whether @h was opened for overlapped I/O (FILE_FLAG_OVERLAPPED): on a
 * HANDLE opened for synchronous I/O, ReadFile() would block the loop.
 * evl-pipe-win32.c */
gboolean  evl_win32_handle_is_overlapped (HANDLE       h);

/* A pipe as asyncio's windows_utils.pipe() makes it: a uniquely named
 * pipe, byte mode, one instance. @parent_reads: the parent reads (the
 * child's stdout or stderr) or writes (the child's stdin). The parent's
 * end is overlapped and not inheritable; the child's end is synchronous
 * (as a C runtime expects its standard streams) and inheritable. Both
 * ends can read, so the parent's write end learns when the child's end is
 * closed. FALSE with @error set on failure. evl-process-win32.c */
gboolean  evl_win32_pipe_pair            (gboolean     parent_reads,
                                          HANDLE      *parent_end,
                                          HANDLE      *child_end,
                                          GError     **error);

G_END_DECLS
