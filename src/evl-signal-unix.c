/* evl-signal-unix.c: the POSIX part of signal delivery to loops
 *
 * The handler is installed with sigaction() while some loop watches the
 * signal (evl-signal.c keeps the table of loops); it is async-signal-safe:
 * it only sets atomic flags and writes to the loops' wakeup fds, then
 * chains to the handler installed before it.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "evl-config.h"

#include <errno.h>
#include <signal.h>
#include <string.h>

#include "evl-signal-private.h"

static struct sigaction saved_actions[EVL_SIGNAL_NSIG];

gboolean
evl_signal_os_check (int      signum,
                     GError **error)
{
  if (signum == SIGKILL || signum == SIGSTOP)
    {
      evl_signal_set_invalid (error, signum);
      return FALSE;
    }
  return TRUE;
}

static void
evl_signal_handler (int        signum,
                    siginfo_t *info,
                    void      *context)
{
  int saved_errno = errno;
  struct sigaction *prev;

  evl_signal_handler_enter ();
  if (signum > 0 && signum < EVL_SIGNAL_NSIG)
    {
      evl_signal_deliver (signum);

      /* Chain to whoever handled the signal before us (GLib's unix signal
       * handler, for instance); never to the default action. */
      prev = &saved_actions[signum];
      if (prev->sa_flags & SA_SIGINFO)
        {
          if (prev->sa_sigaction != NULL)
            prev->sa_sigaction (signum, info, context);
        }
      else if (prev->sa_handler != SIG_DFL && prev->sa_handler != SIG_IGN && prev->sa_handler != NULL)
        prev->sa_handler (signum);
    }
  evl_signal_handler_leave ();
  errno = saved_errno;
}

char *
evl_signal_os_install (int signum)
{
  struct sigaction action;

  memset (&action, 0, sizeof action);
  action.sa_sigaction = evl_signal_handler;
  action.sa_flags = SA_SIGINFO | SA_RESTART | SA_ONSTACK;
  sigemptyset (&action.sa_mask);
  if (sigaction (signum, &action, &saved_actions[signum]) < 0)
    return g_strdup (g_strerror (errno));
  return NULL;
}

void
evl_signal_os_uninstall (int signum)
{
  sigaction (signum, &saved_actions[signum], NULL);
}
