/* evl-signal.c: process-wide POSIX signal delivery to loops
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "evl-config.h"

#include <errno.h>
#include <signal.h>
#include <string.h>

#include "evl-loop-private.h"
#include "evl-signal-private.h"
#include "evl-wakeup-private.h"

/* Every caught signal number has a small table of subscribed loops. The
 * handler reads it with atomic loads only, and a loop that unsubscribes
 * waits until no handler runs (handlers_active) before it frees anything,
 * so a handler never touches freed memory. */

#define EVL_NSIG 65
#define MAX_TARGETS 8

struct _EvlSignalTarget
{
  int   wake_fd_write;
  gint *wake_pending;
  gint  any_pending;
  gint  pending[EVL_NSIG];
  gboolean watching[EVL_NSIG];
};

static EvlSignalTarget *targets[EVL_NSIG][MAX_TARGETS];
static struct sigaction saved_actions[EVL_NSIG];
static guint n_subscribers[EVL_NSIG];
static gint handlers_active;
static GMutex signal_lock;

int
evl_signal_max (void)
{
  return MIN (NSIG, EVL_NSIG);
}

static void
evl_signal_handler (int        signum,
                    siginfo_t *info,
                    void      *context)
{
  int saved_errno = errno;
  struct sigaction *prev;
  guint i;

  g_atomic_int_inc (&handlers_active);
  if (signum > 0 && signum < EVL_NSIG)
    {
      for (i = 0; i < MAX_TARGETS; i++)
        {
          EvlSignalTarget *t = g_atomic_pointer_get (&targets[signum][i]);

          if (t == NULL)
            continue;
          g_atomic_int_set (&t->pending[signum], 1);
          g_atomic_int_set (&t->any_pending, 1);
          g_atomic_int_set (t->wake_pending, 1);
          evl_wakeup_signal (t->wake_fd_write);
        }

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
  g_atomic_int_dec_and_test (&handlers_active);
  errno = saved_errno;
}

gboolean
evl_signal_check_signum (int      signum,
                         GError **error)
{
  if (signum <= 0 || signum >= evl_signal_max () || signum == SIGKILL || signum == SIGSTOP)
    {
      g_set_error (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_INVALID,
                   _("Signal %d cannot be caught; use a valid signal number other than SIGKILL and SIGSTOP"),
                   signum);
      return FALSE;
    }
  return TRUE;
}

EvlSignalTarget *
evl_signal_target_new (int   wake_fd_write,
                       gint *wake_pending)
{
  EvlSignalTarget *target = g_new0 (EvlSignalTarget, 1);

  target->wake_fd_write = wake_fd_write;
  target->wake_pending = wake_pending;
  return target;
}

gboolean
evl_signal_target_watch (EvlSignalTarget  *target,
                         int               signum,
                         GError          **error)
{
  guint i;

  if (!evl_signal_check_signum (signum, error))
    return FALSE;
  if (target->watching[signum])
    return TRUE;

  g_mutex_lock (&signal_lock);
  for (i = 0; i < MAX_TARGETS; i++)
    if (targets[signum][i] == NULL)
      break;
  if (i == MAX_TARGETS)
    {
      g_mutex_unlock (&signal_lock);
      g_set_error (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_FAILED,
                   _("Too many event loops handle signal %d; remove a handler from another loop first"),
                   signum);
      return FALSE;
    }
  if (n_subscribers[signum] == 0)
    {
      struct sigaction action;

      memset (&action, 0, sizeof action);
      action.sa_sigaction = evl_signal_handler;
      action.sa_flags = SA_SIGINFO | SA_RESTART | SA_ONSTACK;
      sigemptyset (&action.sa_mask);
      if (sigaction (signum, &action, &saved_actions[signum]) < 0)
        {
          int errsv = errno;
          g_mutex_unlock (&signal_lock);
          g_set_error (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_INVALID,
                       _("Cannot handle signal %d: %s"), signum, g_strerror (errsv));
          return FALSE;
        }
    }
  n_subscribers[signum]++;
  g_atomic_pointer_set (&targets[signum][i], target);
  target->watching[signum] = TRUE;
  g_mutex_unlock (&signal_lock);
  return TRUE;
}

static void
wait_for_handlers (void)
{
  while (g_atomic_int_get (&handlers_active) > 0)
    g_thread_yield ();
}

void
evl_signal_target_unwatch (EvlSignalTarget *target,
                           int              signum)
{
  guint i;

  if (signum <= 0 || signum >= EVL_NSIG || !target->watching[signum])
    return;

  g_mutex_lock (&signal_lock);
  for (i = 0; i < MAX_TARGETS; i++)
    if (targets[signum][i] == target)
      g_atomic_pointer_set (&targets[signum][i], NULL);
  target->watching[signum] = FALSE;
  if (--n_subscribers[signum] == 0)
    sigaction (signum, &saved_actions[signum], NULL);
  /* Under the lock: a handler still running may read saved_actions[],
   * which the next watch of this signal (it takes the lock) overwrites.
   * Handlers never take the lock, so this cannot deadlock. */
  wait_for_handlers ();
  g_mutex_unlock (&signal_lock);
  g_atomic_int_set (&target->pending[signum], 0);
}

void
evl_signal_target_free (EvlSignalTarget *target)
{
  int signum;

  for (signum = 1; signum < EVL_NSIG; signum++)
    evl_signal_target_unwatch (target, signum);
  wait_for_handlers ();
  g_free (target);
}

gboolean
evl_signal_target_pending (EvlSignalTarget *target)
{
  return g_atomic_int_get (&target->any_pending) != 0;
}

void
evl_signal_target_dispatch (EvlSignalTarget *target,
                            EvlSignalFunc    func,
                            gpointer         user_data)
{
  int signum;

  g_atomic_int_set (&target->any_pending, 0);
  for (signum = 1; signum < EVL_NSIG; signum++)
    if (target->watching[signum] && g_atomic_int_compare_and_exchange (&target->pending[signum], 1, 0))
      func (signum, user_data);
}
