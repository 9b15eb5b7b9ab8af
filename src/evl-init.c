/* evl-init.c: library initialisation (text domain)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "evl-config.h"

#include <libintl.h>

#include "evl-loop-private.h"
#include "evl-platform-private.h"

/* Bumped in the child of every fork(): a loop made before the fork shares
 * its epoll set or io_uring with the parent's loop there. */
static guint fork_generation;

static void
child_after_fork (void)
{
  fork_generation++;
}

guint
evl_fork_generation (void)
{
  return fork_generation;
}

/* The library binds its own text domain on first use, so that programs
 * need not know about it (libsoup's soup-init.c does the same). */
void
evl_init (void)
{
  static gsize initialized = 0;

  if (g_once_init_enter (&initialized))
    {
      const char *localedir = g_getenv ("EVL_LOCALEDIR");

      bindtextdomain (GETTEXT_PACKAGE, localedir != NULL ? localedir : LOCALEDIR);
      bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
      evl_platform_at_fork_child (child_after_fork);
      g_once_init_leave (&initialized, 1);
    }
}

const char *
evl_gettext (const char *msgid)
{
  evl_init ();
  return g_dgettext (GETTEXT_PACKAGE, msgid);
}
