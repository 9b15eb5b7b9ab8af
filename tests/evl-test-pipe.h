/* evl-test-pipe.h: the pipes of tests/pipe.c, made and used by the test
 * the way the platform has them: evl-test-pipe-unix.c (pipe2()) and
 * evl-test-pipe-win32.c (named pipes opened for overlapped I/O, their
 * HANDLEs as the int of the API)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "evl-test-protocol.h"

G_BEGIN_DECLS

/* A pipe of which the loop gets *@loop_end (to read from it when
 * @loop_reads, else to write into it) and the test keeps *@peer, a
 * blocking end used with the calls below. The loop's end is made
 * inheritable (Windows) so that test_pipe_assert_taken() sees the
 * library's own flags. */
void     test_pipe_open            (int       *loop_end,
                                    int       *peer,
                                    gboolean   loop_reads);
/* A pipe whose two ends both go to the loop. */
void     test_pipe_open_both       (int       *read_end,
                                    int       *write_end);
/* Writes all of @data into @peer (blocking). */
void     test_pipe_peer_write      (int        peer,
                                    const void *data,
                                    gsize      len);
void     test_pipe_peer_close      (int        peer);
/* Writes @data into @peer and returns TRUE, or FALSE when its reader is
 * gone (without a SIGPIPE). */
gboolean test_pipe_peer_try_write  (int        peer,
                                    const void *data,
                                    gsize      len);
/* Asserts that @peer, a writing peer, sees its reader gone (and closes
 * it); test_pipe_assert_peer_eof() the same for a reading peer, after
 * reading what is left. */
void     test_pipe_assert_peer_broken (int     peer);
void     test_pipe_assert_peer_eof (int        peer);

/* Asserts that @fd, connected as a pipe, is set up as the loop wants it:
 * non-blocking (POSIX), not inheritable (Windows). */
void     test_pipe_assert_taken    (int        fd);
/* An open file that is not a pipe. */
int      test_pipe_open_file       (void);
gboolean test_pipe_fd_is_open      (int        fd);

/* How many pipes one loop can hold at once: on Windows a selector waits
 * for at most 63 HANDLEs (a pipe takes one), G_MAXUINT elsewhere. */
guint    test_pipe_loop_limit      (void);

G_END_DECLS
