/* evl-signal.c: process-wide signal delivery to loops
 *
 * The per-signal table of the loops that watch a signal, shared by every
 * platform; installing and removing the handler that feeds it is the
 * platform's (evl-signal-unix.c, evl-signal-win32.c).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "evl-config.h"

#include <signal.h>

#include "evl-loop-private.h"
#include "evl-signal-private.h"
#include "evl-wakeup-private.h"

/* Every caught signal number has a small table of subscribed loops. The
 * handler reads it with atomic loads only, and a loop that unsubscribes
 * waits until no handler runs (handlers_active) before it frees anything,
 * so a handler never touches freed memory. */

#define EVL_NSIG EVL_SIGNAL_NSIG
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
static guint n_subscribers[EVL_NSIG];
static gint handlers_active;
static GMutex signal_lock;

int
evl_signal_max (void)
{
  return MIN (NSIG, EVL_NSIG);
}

void
evl_signal_handler_enter (void)
{
  g_atomic_int_inc (&handlers_active);
}

void
evl_signal_handler_leave (void)
{
  g_atomic_int_dec_and_test (&handlers_active);
}

gboolean
evl_signal_deliver (int signum)
{
  gboolean delivered = FALSE;
  guint i;

  if (signum <= 0 || signum >= EVL_NSIG)
    return FALSE;
  for (i = 0; i < MAX_TARGETS; i++)
    {
      EvlSignalTarget *t = g_atomic_pointer_get (&targets[signum][i]);

      if (t == NULL)
        continue;
      g_atomic_int_set (&t->pending[signum], 1);
      g_atomic_int_set (&t->any_pending, 1);
      g_atomic_int_set (t->wake_pending, 1);
      evl_wakeup_signal (t->wake_fd_write);
      delivered = TRUE;
    }
  return delivered;
}

void
evl_signal_set_invalid (GError **error,
                        int      signum)
{
  g_set_error (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_INVALID,
               _("Signal %d cannot be caught; use a valid signal number other than SIGKILL and SIGSTOP"),
               signum);
}

gboolean
evl_signal_check_signum (int      signum,
                         GError **error)
{
  if (signum <= 0 || signum >= evl_signal_max ())
    {
      evl_signal_set_invalid (error, signum);
      return FALSE;
    }
  return evl_signal_os_check (signum, error);
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
      char *why = evl_signal_os_install (signum);

      if (why != NULL)
        {
          g_mutex_unlock (&signal_lock);
          g_set_error (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_INVALID,
                       _("Cannot handle signal %d: %s"), signum, why);
          g_free (why);
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
    evl_signal_os_uninstall (signum);
  /* Under the lock: a handler still running may read what the platform
   * saved at install time (the previous sigaction), which the next watch
   * of this signal (it takes the lock) overwrites. Handlers never take the
   * lock, so this cannot deadlock. */
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
