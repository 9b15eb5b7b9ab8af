/* evl-test-subprocess.h: a recording EvlSubprocessProtocol and the spawn
 * helper of the subprocess tests (subprocess.c, subprocess-win32.c), and
 * the children they run, made the platform's way (evl-test-subprocess-unix.c:
 * POSIX programs; evl-test-subprocess-win32.c: tests/child-win32.c)
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

/* argv (free with g_strfreev()) of a child that copies its stdin to its
 * stdout, then exits with 0 */
char   **test_child_argv_cat       (void);
/* ... that exits with @code at once */
char   **test_child_argv_exit      (int           code);
/* ... that runs until it is killed */
char   **test_child_argv_sleep     (void);
/* The return code of a child that kill() ended: -SIGKILL on POSIX, 1 on
 * Windows (TerminateProcess, as Python's). */
int      test_child_killed_code    (void);
/* Asserts that @pid is a running child's: > 0 on POSIX, a process HANDLE
 * on Windows. */
void     test_child_assert_pid     (GPid          pid);
/* Asserts that a pipe of a subprocess is set up as the loop wants it:
 * non-blocking (POSIX), not inheritable (Windows). */
void     test_sub_assert_pipe      (EvlTransport *pipe);

#ifdef G_OS_WIN32
/* The path of tests/child-win32.c's program, and an argv running it with
 * the arguments from @first on (NULL-terminated). */
char    *test_child_path           (void);
char   **test_child_argv           (const char   *first,
                                    ...) G_GNUC_NULL_TERMINATED;
#endif

G_END_DECLS
