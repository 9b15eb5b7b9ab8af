/* evl-test-subprocess.h: a recording EvlSubprocessProtocol and the spawn
 * helper of the subprocess tests (subprocess.c on POSIX, subprocess-win32.c
 * on Windows)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "evl-test-protocol.h"

G_BEGIN_DECLS

#define TEST_TYPE_SUB (test_sub_get_type ())
G_DECLARE_FINAL_TYPE (TestSub, test_sub, TEST, SUB, GObject)

/* Records every call and checks the ordering rules as it goes:
 * connection_made first and once, pipe data only on 1 and 2 and before
 * that pipe is lost, process_exited once and before connection_lost,
 * nothing after connection_lost. */
struct _TestSub
{
  GObject                 parent_instance;
  EvlSubprocessTransport *transport;
  GByteArray             *out[3];
  guint                   n_made;
  guint                   pipes_lost;      /* bit mask of fds */
  guint                   n_exited;
  guint                   n_lost;
  int                     returncode;      /* at process_exited */
  gboolean                exited;
  gboolean                lost;
  GMainLoop              *quit_on_lost;    /* quit at connection_lost, if set */
};

/* Starts @argv (or the shell command @cmd when not NULL) with a new
 * TestSub in *@sub, running @loop until the spawn finished; returns the
 * transport, or NULL with @error set (and *@sub NULL). */
EvlSubprocessTransport *test_sub_spawn  (EvlLoop                *loop,
                                         const char * const     *argv,
                                         const char             *cmd,
                                         EvlSubprocessStdio      in,
                                         EvlSubprocessStdio      out,
                                         EvlSubprocessStdio      err,
                                         TestSub               **sub,
                                         GError                **error);

/* Runs @loop until @sub saw connection_lost, then drops @t and @sub. */
void                    test_sub_finish (EvlLoop                *loop,
                                         EvlSubprocessTransport *t,
                                         TestSub                *sub);

G_END_DECLS
