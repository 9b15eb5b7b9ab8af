/* evl-test-util.h: helpers shared by the test programs
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <evloop-glib/evloop-glib.h>

G_BEGIN_DECLS

/* A new loop of the kind the test run is parametrized with:
 * EVL_TEST_LOOP=selector (default) | proactor, and for the selector loop
 * EVL_SELECTOR=epoll|poll|select (read by evl_selector_new_default()).
 *
 * When the kind is not available in this build or on this kernel (the
 * proactor fails with EVL_LOOP_ERROR_NOT_SUPPORTED), the current test is
 * marked skipped and %NULL is returned; use EVL_TEST_NEW_LOOP_OR_SKIP. Any
 * other failure fails the test. Under valgrind the proactor is skipped as
 * well: evl_test_init() then skips the whole program (see
 * evl-test-util.c). */
EvlLoop *evl_test_new_loop       (void);

/* Stores a new loop of the kind under test in @var, or returns from the
 * (void) test function when that kind is unavailable (the test is then
 * reported as skipped). */
#define EVL_TEST_NEW_LOOP_OR_SKIP(var) \
  G_STMT_START {                       \
    (var) = evl_test_new_loop ();      \
    if ((var) == NULL)                 \
      return;                          \
  } G_STMT_END

/* Name of the loop kind under test, for messages. */
const char *evl_test_loop_kind   (void);

/* Closes @loop (asserting success), drops the caller's reference and
 * asserts that the loop was finalized: nothing else may hold it. */
void     evl_test_close_loop     (EvlLoop  *loop);

/* Runs exactly one iteration of @loop: every callback that is ready now
 * runs, callbacks they schedule do not. */
void     evl_test_run_once       (EvlLoop  *loop);

/* Guard against hangs: arms a watchdog that aborts the test with a message
 * after @seconds (ten times longer under valgrind) unless
 * evl_test_watchdog_cancel() is called. */
void     evl_test_watchdog_start (guint seconds);
void     evl_test_watchdog_cancel (void);

/* A connected non-blocking AF_UNIX stream socketpair (close-on-exec). */
void     evl_test_socketpair     (int fds[2]);

/* Count open fds of this process (from /proc/self/fd); on Windows every
 * open handle, after GLib's idle pool workers have exited (see "Counting
 * handles" in evl-test-util-win32.c: what is opened before the first
 * count, and EVL_TEST_HANDLES=1 to list the handles with their types). */
guint    evl_test_count_fds      (void);

/* Run the loop until *flag becomes TRUE (read atomically, so another
 * thread may set it) or @timeout_s passes; returns *flag. */
gboolean evl_test_run_until_flag (EvlLoop  *loop,
                                  gboolean *flag,
                                  double    timeout_s);

/* A GDestroyNotify / EvlCallback that increments the guint at @data
 * (atomically, so it may run on any thread). */
void     evl_test_count          (gpointer  data);

/* CPU time (user + system) used by the whole process, in seconds. */
double   evl_test_cpu_time       (void);

/* Whether the test runs under valgrind (EVL_TEST_VALGRIND is set). */
gboolean evl_test_under_valgrind (void);

/* Whether the test runs under Wine (a Windows build; FALSE on Unix).
 * Wine's own threads in the process add CPU time a real Windows would not. */
gboolean evl_test_under_wine     (void);

/* Stops the loop at @data (an EvlCallback). */
void     evl_test_stop_cb        (gpointer  data);

/* Runs @loop until it stops, asserting success. */
void     evl_test_run_forever    (EvlLoop  *loop);

/* Runs @loop for about @seconds (a stop is scheduled that far ahead). */
void     evl_test_run_for        (EvlLoop  *loop,
                                  double    seconds);

/* Collects the result of one asynchronous call of the loop: pass
 * evl_test_waiter_cb with the waiter as its data. */
typedef struct
{
  EvlLoop      *loop;
  GAsyncResult *result;
  gboolean      done;
  guint         n_calls;
  GThread      *thread;      /* where the callback ran */
  gboolean      in_loop;     /* the callback ran inside the loop */
} EvlTestWaiter;

void     evl_test_waiter_init    (EvlTestWaiter *w,
                                  EvlLoop       *loop);
/* The callback: asserts it runs once, for the waiter's loop. */
void     evl_test_waiter_cb      (GObject       *source,
                                  GAsyncResult  *result,
                                  gpointer       user_data);
/* Runs the loop until the callback ran (failing after 30 s) and asserts
 * that it ran on this thread. */
void     evl_test_waiter_wait    (EvlTestWaiter *w);
void     evl_test_waiter_clear   (EvlTestWaiter *w);

/* Standard test init: g_test_init + watchdog defaults. */
/* Socket I/O for the fds of evl_test_socketpair(): read(), write() and
 * close() on Unix, recv(), send() and closesocket() on Windows. */
gssize   evl_test_sock_read      (int          fd,
                                  void        *buf,
                                  gsize        count);
gssize   evl_test_sock_write     (int          fd,
                                  const void  *buf,
                                  gsize        count);
void     evl_test_sock_close     (int          fd);

/* A new non-blocking, close-on-exec (on Windows: not inheritable) TCP
 * socket of @family (G_SOCKET_FAMILY_IPV4 or G_SOCKET_FAMILY_IPV6), or -1
 * when the family is not available here. */
int      evl_test_tcp_socket     (GSocketFamily family);

/* shutdown() of the sending side (SHUT_WR; SD_SEND on Windows). */
void     evl_test_sock_shutdown_write (int fd);

/* Waits up to @timeout_ms for socket @fd to be readable (poll(), WSAPoll()
 * on Windows); FALSE if it was not. For a listener: a connection is
 * queued. */
gboolean evl_test_sock_wait_readable (int fd,
                                      int timeout_ms);

/* Waits until the listening socket @listener, made with a backlog of 0,
 * holds a connection that @fillers made, so its queue is full and the
 * kernel drops any further SYN: a connect to it then stays pending. A
 * fixed sleep was not enough on a loaded machine (the handshake can finish
 * in softirq context after connect() returned). */
void     evl_test_wait_backlog_full (int listener);

/* Asserts that @fd, a socket the library made, is non-blocking and not
 * inherited by child processes: O_NONBLOCK and FD_CLOEXEC on Unix; on
 * Windows HANDLE_FLAG_INHERIT cleared, and non-blocking by a recv() that
 * must fail with WSAEWOULDBLOCK (Windows cannot say whether a socket is
 * non-blocking), so @fd must have no data pending there. */
void     evl_test_assert_sock_flags (int fd);

/* A pipe (non-blocking, close-on-exec) whose ends are not sockets: POSIX
 * fds on Unix, HANDLEs from CreatePipe() cast to int on Windows. Close
 * each end with evl_test_pipe_close(). */
void     evl_test_pipe           (int          fds[2]);
void     evl_test_pipe_close     (int          fd);

/* SIGPIPE back to its default action (evl_test_platform_init() ignores
 * it), to test that the library never raises it; nothing on Windows,
 * which has no SIGPIPE. */
void     evl_test_sigpipe_default (void);

/* The platform part of evl_test_init() (evl-test-util-unix.c or
 * evl-test-util-win32.c): SIGPIPE ignored on Unix, Winsock started on
 * Windows. */
void     evl_test_platform_init  (void);

void     evl_test_init           (int     *argc,
                                  char  ***argv);

G_END_DECLS
