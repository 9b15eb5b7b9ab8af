/* evl-child-watch-unix.c: learning that a child process exited, on Unix
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "evl-config.h"

#include <errno.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "evl-loop-private.h"
#include "evl-child-watch-private.h"

/* asyncio's PidfdChildWatcher: pidfd_open (pid) turns readable when the
 * child exits; waitid (P_PID, pid, WNOHANG) then reaps it. Only our own
 * children with G_SPAWN_DO_NOT_REAP_CHILD are reaped, by pid, so GLib's
 * child watch (and anyone else's) is never raced. Without pidfds (Linux
 * before 5.3: ENOSYS) a SIGCHLD handler on the loop polls each watched
 * child with waitpid (pid, WNOHANG), asyncio's SafeChildWatcher. */

#ifndef SYS_pidfd_open
# define SYS_pidfd_open 434
#endif

struct _EvlChildWatch
{
  EvlLoop          *loop;
  GPid              pid;
  int               pidfd;      /* -1: the SIGCHLD fallback */
  gboolean          reaped;
  EvlChildExitFunc  func;
  gpointer          user_data;
};

/* The SIGCHLD fallback: the watches of one loop. */
typedef struct
{
  GPtrArray *watches;
} Fallback;

static GQuark
fallback_quark (void)
{
  return g_quark_from_static_string ("evl-child-watch-fallback");
}

static gboolean
try_reap (EvlChildWatch *w)
{
  siginfo_t info = { 0 };
  int r, code;

  if (w->reaped)
    return TRUE;
  do
    r = waitid (P_PID, w->pid, &info, WEXITED | WNOHANG);
  while (r < 0 && errno == EINTR);
  if (r < 0)
    {
      /* ECHILD: someone else reaped it; the status is lost. */
      if (errno != ECHILD)
        return FALSE;
      code = 255;
    }
  else if (info.si_pid == 0)
    return FALSE;
  else if (info.si_code == CLD_EXITED)
    code = info.si_status;
  else
    code = -info.si_status;

  w->reaped = TRUE;
  if (w->pidfd >= 0)
    {
      evl_loop_remove_internal_watch (w->loop, w->pidfd, FALSE);
      close (w->pidfd);
      w->pidfd = -1;
    }
  w->func (code, w->user_data);
  return TRUE;
}

static void
pidfd_ready (gpointer data)
{
  try_reap (data);
}

static void
sigchld_cb (gpointer data)
{
  EvlLoop *loop = data;
  Fallback *fb = g_object_get_qdata (G_OBJECT (loop), fallback_quark ());
  GPtrArray *snapshot;
  guint i;

  if (fb == NULL)
    return;
  snapshot = g_ptr_array_copy (fb->watches, NULL, NULL);
  for (i = 0; i < snapshot->len; i++)
    {
      EvlChildWatch *w = snapshot->pdata[i];

      /* A callback may have freed a later watch. */
      if (g_ptr_array_find (fb->watches, w, NULL))
        try_reap (w);
    }
  g_ptr_array_unref (snapshot);
}

static void
fallback_free (gpointer data)
{
  Fallback *fb = data;

  g_ptr_array_unref (fb->watches);
  g_free (fb);
}

static void
check_soon (gpointer data)
{
  sigchld_cb (data);
}

EvlChildWatch *
evl_child_watch_new (EvlLoop           *loop,
                     GPid               pid,
                     EvlChildExitFunc   func,
                     gpointer           user_data,
                     GError           **error)
{
  EvlChildWatch *w = g_new0 (EvlChildWatch, 1);
  Fallback *fb;

  w->loop = loop;
  w->pid = pid;
  w->func = func;
  w->user_data = user_data;
  w->pidfd = (int) syscall (SYS_pidfd_open, (pid_t) pid, 0);   /* close-on-exec */

  if (w->pidfd >= 0)
    {
      if (!evl_loop_add_internal_watch (loop, w->pidfd, FALSE, pidfd_ready, w, NULL, error))
        {
          close (w->pidfd);
          g_free (w);
          return NULL;
        }
      return w;
    }
  if (errno != ENOSYS && errno != EPERM)
    {
      int errsv = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                   _("Cannot watch child process %d: %s"), (int) pid, g_strerror (errsv));
      g_free (w);
      return NULL;
    }

  fb = g_object_get_qdata (G_OBJECT (loop), fallback_quark ());
  if (fb == NULL)
    {
      if (!evl_loop_add_signal_handler (loop, SIGCHLD, sigchld_cb, loop, NULL, error))
        {
          g_free (w);
          return NULL;
        }
      fb = g_new0 (Fallback, 1);
      fb->watches = g_ptr_array_new ();
      g_object_set_qdata_full (G_OBJECT (loop), fallback_quark (), fb, fallback_free);
    }
  g_ptr_array_add (fb->watches, w);
  /* The child may have exited before the handler was there. */
  evl_loop_call_soon_internal (loop, check_soon, loop, NULL);
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
  /* A reaped watch has no pidfd any more (try_reap closed it). */
  if (w->pidfd >= 0)
    {
      evl_loop_remove_internal_watch (w->loop, w->pidfd, FALSE);
      close (w->pidfd);
    }
  else
    {
      Fallback *fb = g_object_get_qdata (G_OBJECT (w->loop), fallback_quark ());

      if (fb != NULL)
        g_ptr_array_remove (fb->watches, w);
    }
  g_free (w);
}
