/* evl-signal-win32.c: console control events delivered to loops as signals
 * (the Windows part; evl-signal.c keeps the table of loops)
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

#include "evl-os-private.h"
#include "evl-loop-private.h"
#include "evl-signal-private.h"

#ifndef SIGBREAK
# define SIGBREAK 21
#endif

/* The console signals (SIGINT, SIGBREAK) installed: the console control
 * handler is registered while any is. Changed under evl-signal.c's lock. */
static guint console_installed;

G_STATIC_ASSERT (SIGBREAK < NSIG && NSIG <= EVL_SIGNAL_NSIG);

static gboolean
deliver (int signum)
{
  gboolean delivered;

  evl_signal_handler_enter ();
  delivered = evl_signal_deliver (signum);
  evl_signal_handler_leave ();
  return delivered;
}

/* Tells Windows the event was handled (the default action, ending the
 * process, is not taken) while any loop watches it. */
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

static guint
console_bit (int signum)
{
  return signum == SIGINT ? 1 : signum == SIGBREAK ? 2 : 0;
}

gboolean
evl_signal_os_check (int      signum,
                     GError **error)
{
  if (console_bit (signum) == 0 && signum != SIGTERM)
    {
      g_set_error (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_NOT_SUPPORTED,
                   _("Signal %d cannot be handled on Windows; only SIGINT (Ctrl+C), SIGBREAK (Ctrl+Break) and SIGTERM (raised by the process itself) can"),
                   signum);
      return FALSE;
    }
  return TRUE;
}

char *
evl_signal_os_install (int signum)
{
  guint bit = console_bit (signum);

  if (bit != 0)
    {
      if (console_installed == 0 && !SetConsoleCtrlHandler (evl_ctrl_handler, TRUE))
        return g_win32_error_message (GetLastError ());
      console_installed |= bit;
      return NULL;
    }
  if (signal (signum, evl_crt_handler) == SIG_ERR)
    return g_strdup (g_strerror (errno));
  return NULL;
}

void
evl_signal_os_uninstall (int signum)
{
  guint bit = console_bit (signum);

  if (bit != 0)
    {
      console_installed &= ~bit;
      if (console_installed == 0)
        SetConsoleCtrlHandler (evl_ctrl_handler, FALSE);
    }
  else
    signal (signum, SIG_DFL);
}
