/* evl-signal-win32.c: console control events delivered to loops as signals
 *
 * Windows has no POSIX signals. What a console program gets instead are
 * control events, handled on a thread of their own that the system starts
 * (SetConsoleCtrlHandler): Ctrl+C is delivered as SIGINT and Ctrl+Break as
 * SIGBREAK, as the C runtime and Python's asyncio do. SIGTERM can only be
 * raised by the process itself (raise()), through the C runtime's signal().
 * Every other signal number is refused with EVL_LOOP_ERROR_NOT_SUPPORTED.
 * The handler only sets flags and writes to the loops' wakeup sockets, like
 * the Unix one; it tells Windows the event was handled (the default action,
 * ending the process, is not taken) while any loop watches it.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "evl-config.h"

#include <errno.h>
#include <signal.h>
#include <string.h>

#include "evl-os-private.h"
#include "evl-loop-private.h"
#include "evl-signal-private.h"
#include "evl-wakeup-private.h"

#ifndef SIGBREAK
# define SIGBREAK 21
#endif

#define EVL_NSIG 23
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
static gboolean ctrl_handler_installed;
static GMutex signal_lock;

int
evl_signal_max (void)
{
  return EVL_NSIG;
}

/* Returns whether some loop watches @signum. */
static gboolean
deliver (int signum)
{
  gboolean delivered = FALSE;
  guint i;

  g_atomic_int_inc (&handlers_active);
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
  g_atomic_int_dec_and_test (&handlers_active);
  return delivered;
}

static BOOL WINAPI
evl_ctrl_handler (DWORD type)
{
  switch (type)
    {
    case CTRL_C_EVENT:
      return deliver (SIGINT);
    case CTRL_BREAK_EVENT:
      return deliver (SIGBREAK);
    default:
      return FALSE;
    }
}

static void
evl_crt_handler (int signum)
{
  int saved_errno = errno;

  /* The C runtime resets the disposition before calling a handler. */
  signal (signum, evl_crt_handler);
  deliver (signum);
  errno = saved_errno;
}

static gboolean
is_console_signal (int signum)
{
  return signum == SIGINT || signum == SIGBREAK;
}

gboolean
evl_signal_check_signum (int      signum,
                         GError **error)
{
  if (signum <= 0 || signum >= EVL_NSIG)
    {
      g_set_error (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_INVALID,
                   _("Signal %d cannot be caught; use a valid signal number other than SIGKILL and SIGSTOP"),
                   signum);
      return FALSE;
    }
  if (!is_console_signal (signum) && signum != SIGTERM)
    {
      g_set_error (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_NOT_SUPPORTED,
                   _("Signal %d cannot be handled on Windows; only SIGINT (Ctrl+C), SIGBREAK (Ctrl+Break) and SIGTERM (raised by the process itself) can"),
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
      if (is_console_signal (signum))
        {
          if (!ctrl_handler_installed)
            {
              if (!SetConsoleCtrlHandler (evl_ctrl_handler, TRUE))
                {
                  char *msg = g_win32_error_message (GetLastError ());

                  g_mutex_unlock (&signal_lock);
                  g_set_error (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_INVALID,
                               _("Cannot handle signal %d: %s"), signum, msg);
                  g_free (msg);
                  return FALSE;
                }
              ctrl_handler_installed = TRUE;
            }
        }
      else if (signal (signum, evl_crt_handler) == SIG_ERR)
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
    {
      if (is_console_signal (signum))
        {
          if (n_subscribers[SIGINT] == 0 && n_subscribers[SIGBREAK] == 0 && ctrl_handler_installed)
            {
              SetConsoleCtrlHandler (evl_ctrl_handler, FALSE);
              ctrl_handler_installed = FALSE;
            }
        }
      else
        signal (signum, SIG_DFL);
    }
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
