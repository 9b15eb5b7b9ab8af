/* evl-win32-cmdline-private.h: Windows command lines from argv vectors
 *
 * Plain GLib code, built on Windows for the subprocesses and on every
 * platform for its test (tests/win32-cmdline.c).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Appends @arg to @cmdline quoted so that the Microsoft C runtime's
 * command-line parser (the argv of a C program, CommandLineToArgvW) gives
 * back exactly @arg: quoted when empty or holding a space, tab, newline,
 * vertical tab or double quote; inside quotes a double quote is escaped
 * with a backslash and the backslashes before it (or before the closing
 * quote) are doubled; other backslashes stay as they are. */
void  evl_win32_append_quoted      (GString            *cmdline,
                                    const char         *arg);

/* @argv as one command line for CreateProcessW (UTF-8), or NULL with
 * @error set (G_SPAWN_ERROR_INVAL) when argv[0] holds a double quote or
 * is empty: the parser reads the program name differently (no escapes:
 * it ends at the next double quote, or at a space when unquoted), so it
 * is quoted whole and cannot hold a double quote. */
char *evl_win32_build_command_line (const char * const *argv,
                                    GError            **error);

G_END_DECLS
