/* evl-pipe-private.h: what the pipe transports need from the platform
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "evl-stream-private.h"

G_BEGIN_DECLS

/* Checks that @fd can be a pipe transport in the direction of @flags
 * (EVL_STREAM_READ or EVL_STREAM_WRITE) and prepares it: on Unix a pipe,
 * FIFO, socket or character device, made non-blocking and close-on-exec
 * (evl-pipe-unix.c); on Windows a HANDLE of a pipe opened for overlapped
 * I/O, made not inheritable (evl-pipe-win32.c). On failure @fd is closed
 * (when it is one) and FALSE returned with @error set. */
gboolean evl_pipe_prepare_fd (int              fd,
                              EvlStreamFlags   flags,
                              GError         **error);

/* Closes @fd (a pipe fd, or HANDLE on Windows) when it is >= 0. */
void     evl_pipe_close_fd   (int              fd);

/* The engine of the pipe transports where the platform needs one of its
 * own (Windows: pipes cannot be polled, so they move bytes with
 * overlapped ReadFile/WriteFile, evl-pipe-win32.c), or NULL where pipes
 * use the engine of the loop (Unix: readiness). */
extern const EvlStreamEngine *const evl_stream_pipe_engine;

G_END_DECLS
