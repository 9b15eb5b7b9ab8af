/* evl-win32-cmdline.c: Windows command lines from argv vectors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "evl-config.h"

#include <string.h>

#include "evl-loop-private.h"
#include "evl-win32-cmdline-private.h"

/* Windows passes a child one command line, which the child's C runtime
 * splits into argv (the rules of "Parsing C command-line arguments" in
 * Microsoft's C runtime documentation, those of CommandLineToArgvW since
 * 2008): arguments are separated by spaces or tabs; a double quote starts
 * or ends a quoted part, in which spaces and tabs are kept; 2n
 * backslashes before a double quote become n backslashes and the quote
 * delimits, 2n+1 backslashes become n backslashes and a literal quote;
 * backslashes not followed by a quote are literal. The program name
 * (argv[0]) is read without escapes. GLib has no public function for it
 * (g_spawn quotes inside its helper process), so here it is; the quoting
 * is Python's subprocess.list2cmdline(), plus newline and vertical tab,
 * which some runtimes split on too. */

void
evl_win32_append_quoted (GString    *cmdline,
                         const char *arg)
{
  const char *p;
  gsize backslashes = 0;

  if (*arg != '\0' && strpbrk (arg, " \t\n\v\"") == NULL)
    {
      g_string_append (cmdline, arg);
      return;
    }
  g_string_append_c (cmdline, '"');
  for (p = arg; *p != '\0'; p++)
    {
      if (*p == '\\')
        {
          backslashes++;
          continue;
        }
      if (*p == '"')
        {
          /* The backslashes before it doubled, and one for the quote. */
          while (backslashes-- > 0)
            g_string_append (cmdline, "\\\\");
          g_string_append (cmdline, "\\\"");
        }
      else
        {
          while (backslashes-- > 0)
            g_string_append_c (cmdline, '\\');
          g_string_append_c (cmdline, *p);
        }
      backslashes = 0;
    }
  /* Doubled before the closing quote. */
  while (backslashes-- > 0)
    g_string_append (cmdline, "\\\\");
  g_string_append_c (cmdline, '"');
}

char *
evl_win32_build_command_line (const char * const *argv,
                              GError            **error)
{
  GString *cmdline;
  gsize i;

  g_return_val_if_fail (argv != NULL && argv[0] != NULL, NULL);

  if (argv[0][0] == '\0' || strchr (argv[0], '"') != NULL)
    {
      g_set_error (error, G_SPAWN_ERROR, G_SPAWN_ERROR_INVAL,
                   _("Program name “%s” cannot be passed on a Windows command line; "
                     "it must not be empty or hold a double quote"), argv[0]);
      return NULL;
    }
  cmdline = g_string_new (NULL);
  if (strpbrk (argv[0], " \t\n\v") != NULL)
    {
      g_string_append_c (cmdline, '"');
      g_string_append (cmdline, argv[0]);
      g_string_append_c (cmdline, '"');
    }
  else
    g_string_append (cmdline, argv[0]);
  for (i = 1; argv[i] != NULL; i++)
    {
      g_string_append_c (cmdline, ' ');
      evl_win32_append_quoted (cmdline, argv[i]);
    }
  return g_string_free (cmdline, FALSE);
}
