/* win32-cmdline.c: the quoting of Windows command lines
 * (src/evl-win32-cmdline.c), on every platform: checked against a parser
 * written from the C runtime's documented rules, and on Windows against
 * CommandLineToArgvW as well (tests/subprocess-win32.c checks what a
 * real child receives)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>

#include <glib.h>

#ifdef G_OS_WIN32
#include <windows.h>
#include <shellapi.h>
#endif

#include "evl-win32-cmdline-private.h"

/* The library's gettext, which the quoting file calls for its error
 * message (hidden in the library, so this program has its own). */
const char *evl_gettext (const char *msgid);

const char *
evl_gettext (const char *msgid)
{
  return msgid;
}

/* "Parsing C command-line arguments" (Microsoft C runtime, since 2008):
 * the program name up to the next quote if it starts with one, else up
 * to a space or tab; then arguments separated by spaces and tabs, where
 * 2n backslashes + quote = n backslashes and a delimiting quote, 2n+1
 * backslashes + quote = n backslashes and a literal quote, a quote
 * inside a quoted part directly followed by another = a literal quote,
 * other backslashes literal. */
static GPtrArray *
parse (const char *line)
{
  GPtrArray *args = g_ptr_array_new_with_free_func (g_free);
  GString *cur = g_string_new (NULL);
  const char *p = line;

  if (*p == '"')
    {
      const char *end = strchr (p + 1, '"');

      end = end != NULL ? end : p + strlen (p);
      g_ptr_array_add (args, g_strndup (p + 1, end - p - 1));
      p = *end != '\0' ? end + 1 : end;
    }
  else
    {
      const char *end = p + strcspn (p, " \t");

      g_ptr_array_add (args, g_strndup (p, end - p));
      p = end;
    }

  for (;;)
    {
      gboolean in_quotes = FALSE;

      while (*p == ' ' || *p == '\t')
        p++;
      if (*p == '\0')
        break;
      g_string_truncate (cur, 0);
      while (*p != '\0' && (in_quotes || (*p != ' ' && *p != '\t')))
        {
          if (*p == '\\')
            {
              gsize n = 0;

              while (*p == '\\')
                {
                  n++;
                  p++;
                }
              if (*p == '"')
                {
                  for (; n >= 2; n -= 2)
                    g_string_append_c (cur, '\\');
                  if (n == 1)
                    {
                      g_string_append_c (cur, '"');
                      p++;
                    }
                }
              else
                for (; n > 0; n--)
                  g_string_append_c (cur, '\\');
            }
          else if (*p == '"')
            {
              if (in_quotes && p[1] == '"')
                {
                  g_string_append_c (cur, '"');
                  p += 2;
                }
              else
                {
                  in_quotes = !in_quotes;
                  p++;
                }
            }
          else
            g_string_append_c (cur, *p++);
        }
      g_ptr_array_add (args, g_strdup (cur->str));
    }
  g_string_free (cur, TRUE);
  return args;
}

static void
assert_round_trip (const char * const *argv)
{
  GError *error = NULL;
  char *line = evl_win32_build_command_line (argv, &error);
  GPtrArray *back;
  guint i, n = g_strv_length ((char **) argv);

  g_assert_no_error (error);
  back = parse (line);
  if (back->len != n)
    g_error ("«%s» parses into %u arguments, not %u", line, back->len, n);
  for (i = 0; i < n; i++)
    g_assert_cmpstr (back->pdata[i], ==, argv[i]);
  g_ptr_array_unref (back);

#ifdef G_OS_WIN32
  {
    gunichar2 *wline = g_utf8_to_utf16 (line, -1, NULL, NULL, NULL);
    wchar_t **wargv;
    int wargc;

    /* CommandLineToArgvW reads an empty line as the program's own name. */
    wargv = CommandLineToArgvW ((wchar_t *) wline, &wargc);
    g_assert_nonnull (wargv);
    g_assert_cmpint (wargc, ==, (int) n);
    for (i = 0; i < n; i++)
      {
        char *arg = g_utf16_to_utf8 ((gunichar2 *) wargv[i], -1, NULL, NULL, NULL);

        g_assert_cmpstr (arg, ==, argv[i]);
        g_free (arg);
      }
    LocalFree (wargv);
    g_free (wline);
  }
#endif
  g_free (line);
}

/* The reference parser against the examples of Microsoft's documentation. */
static void
test_parser (void)
{
  static const struct { const char *line; const char *args[5]; } cases[] = {
    { "prog \"abc\" d e", { "prog", "abc", "d", "e", NULL } },
    { "prog a\\\\\\b d\"e f\"g h", { "prog", "a\\\\\\b", "de fg", "h", NULL } },
    { "prog a\\\\\\\"b c d", { "prog", "a\\\"b", "c", "d", NULL } },
    { "prog a\\\\\\\\\"b c\" d e", { "prog", "a\\\\b c", "d", "e", NULL } },
    { "prog a\"b\"\" c d", { "prog", "ab\" c d", NULL } },
    { "\"C:\\Program Files\\p.exe\" x", { "C:\\Program Files\\p.exe", "x", NULL } },
  };
  guint i, j;

  for (i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      GPtrArray *args = parse (cases[i].line);

      for (j = 0; cases[i].args[j] != NULL; j++)
        {
          g_assert_cmpuint (j, <, args->len);
          g_assert_cmpstr (args->pdata[j], ==, cases[i].args[j]);
        }
      g_assert_cmpuint (args->len, ==, j);
      g_ptr_array_unref (args);
    }
}

/* What the quoting writes, for the cases that matter. */
static void
test_quoting (void)
{
  static const struct { const char *arg; const char *quoted; } cases[] = {
    { "plain", "plain" },
    { "", "\"\"" },
    { "two words", "\"two words\"" },
    { "tab\there", "\"tab\there\"" },
    { "new\nline", "\"new\nline\"" },
    { "back\\slash", "back\\slash" },
    { "a\"b", "\"a\\\"b\"" },
    { "a\\\"b", "\"a\\\\\\\"b\"" },
    { "end\\", "end\\" },
    { "end space\\", "\"end space\\\\\"" },
    { "end space\\\\", "\"end space\\\\\\\\\"" },
    { "\\\\server\\share\\", "\\\\server\\share\\" },
  };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      GString *s = g_string_new (NULL);

      evl_win32_append_quoted (s, cases[i].arg);
      g_assert_cmpstr (s->str, ==, cases[i].quoted);
      g_string_free (s, TRUE);
    }
}

static void
test_round_trip (void)
{
  static const char *tricky[] = {
    "prog", "", " ", "\t", "\"", "\\", "\\\\", "\\\"", "\"\"", "a b", "a\\ b\\",
    "a\\\\\"b", "\"quoted\"", "x\"y\"\"z", "ünïcödé €", "%PATH%", "^&|<>()", "*?",
    "C:\\Program Files\\", "--opt=\"v a l\"", NULL,
  };
  const char *with_space[] = { "C:\\Program Files\\prog.exe", "a b", NULL };
  GRand *rand = g_rand_new_with_seed (11);
  guint round;

  assert_round_trip (tricky);
  assert_round_trip (with_space);

  /* Random arguments over the characters that matter. */
  for (round = 0; round < 2000; round++)
    {
      static const char alphabet[] = "a \t\"\\";
      char *argv[6];
      guint i, j;

      argv[0] = g_strdup ("prog");
      for (i = 1; i < 5; i++)
        {
          guint len = g_rand_int_range (rand, 0, 9);

          argv[i] = g_malloc (len + 1);
          for (j = 0; j < len; j++)
            argv[i][j] = alphabet[g_rand_int_range (rand, 0, sizeof alphabet - 1)];
          argv[i][len] = '\0';
        }
      argv[5] = NULL;
      assert_round_trip ((const char * const *) argv);
      for (i = 0; i < 5; i++)
        g_free (argv[i]);
    }
  g_rand_free (rand);
}

/* The program name is read without escapes: it cannot hold a double
 * quote, and cannot be empty. */
static void
test_bad_program (void)
{
  const char *quote[] = { "a\"b", "x", NULL };
  const char *empty[] = { "", NULL };
  GError *error = NULL;

  g_assert_null (evl_win32_build_command_line (quote, &error));
  g_assert_error (error, G_SPAWN_ERROR, G_SPAWN_ERROR_INVAL);
  g_clear_error (&error);
  g_assert_null (evl_win32_build_command_line (empty, &error));
  g_assert_error (error, G_SPAWN_ERROR, G_SPAWN_ERROR_INVAL);
  g_clear_error (&error);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/Evl/Win32Cmdline/parser", test_parser);
  g_test_add_func ("/Evl/Win32Cmdline/quoting", test_quoting);
  g_test_add_func ("/Evl/Win32Cmdline/round-trip", test_round_trip);
  g_test_add_func ("/Evl/Win32Cmdline/bad-program", test_bad_program);

  return g_test_run ();
}
