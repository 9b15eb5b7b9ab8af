/* evl-test-util.c: helpers shared by the test programs
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "evl-test-util.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

const char *
evl_test_loop_kind (void)
{
  const char *kind = g_getenv ("EVL_TEST_LOOP");
  return kind != NULL && *kind != '\0' ? kind : "selector";
}

EvlLoop *
evl_test_new_loop (void)
{
  const char *kind = evl_test_loop_kind ();

  if (g_str_equal (kind, "proactor"))
    {
      GError *error = NULL;
      EvlLoop *loop = evl_proactor_loop_new (&error);
      g_assert_no_error (error);
      g_assert_nonnull (loop);
      return loop;
    }
  g_assert_cmpstr (kind, ==, "selector");
  return evl_selector_loop_new (NULL);
}

static guint watchdog_seconds;

static void
watchdog_fired (int signum)
{
  static const char msg[] = "evl-test: watchdog fired, the test hangs\n";
  (void) signum;
  (void) !write (2, msg, sizeof msg - 1);
  abort ();
}

void
evl_test_watchdog_start (guint seconds)
{
  watchdog_seconds = seconds;
  signal (SIGALRM, watchdog_fired);
  alarm (g_getenv ("EVL_TEST_VALGRIND") ? seconds * 10 : seconds);
}

void
evl_test_watchdog_cancel (void)
{
  alarm (0);
}

void
evl_test_socketpair (int fds[2])
{
  int r = socketpair (AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds);
  g_assert_cmpint (r, ==, 0);
}

guint
evl_test_count_fds (void)
{
  DIR *d = opendir ("/proc/self/fd");
  struct dirent *e;
  guint n = 0;

  g_assert_nonnull (d);
  while ((e = readdir (d)) != NULL)
    if (e->d_name[0] != '.')
      n++;
  closedir (d);
  return n - 1; /* the DIR's own fd */
}

static void
flag_timeout (gpointer data)
{
  EvlLoop *loop = data;
  evl_loop_stop (loop);
}

typedef struct
{
  EvlLoop   *loop;
  gboolean  *flag;
  EvlHandle *pending;
} FlagPoll;

static void
flag_check (gpointer data)
{
  FlagPoll *fp = data;

  g_clear_pointer (&fp->pending, evl_handle_unref);
  if (*fp->flag)
    evl_loop_stop (fp->loop);
  else
    fp->pending = evl_handle_ref (evl_loop_call_later (fp->loop, 0.001, flag_check, fp, NULL));
}

gboolean
evl_test_run_until_flag (EvlLoop  *loop,
                         gboolean *flag,
                         double    timeout_s)
{
  FlagPoll fp = { loop, flag, NULL };
  EvlHandle *timeout;
  GError *error = NULL;

  if (*flag)
    return TRUE;
  timeout = evl_handle_ref (evl_loop_call_later (loop, timeout_s, flag_timeout, loop, NULL));
  fp.pending = evl_handle_ref (evl_loop_call_soon (loop, flag_check, &fp, NULL));
  evl_loop_run_forever (loop, &error);
  g_assert_no_error (error);
  evl_handle_cancel (timeout);
  evl_handle_unref (timeout);
  if (fp.pending != NULL)
    {
      evl_handle_cancel (fp.pending);
      evl_handle_unref (fp.pending);
    }
  return *flag;
}

void
evl_test_init (int    *argc,
               char ***argv)
{
  g_test_init (argc, argv, NULL);
  signal (SIGPIPE, SIG_IGN);
}
