/* i18n.c: the library's messages come back translated
 *
 * Run with LANGUAGE=de or LANGUAGE=fr, LC_ALL=C.UTF-8 (the only locale a
 * minimal system has: glibc honours LANGUAGE for any locale but "C"),
 * EVL_LOCALEDIR pointing at the build tree's compiled catalogs
 * (<builddir>/po/<lang>/LC_MESSAGES/evloop-glib.mo) and EVL_TEST_PO_DIR at
 * the source tree's po/. The expected texts are the msgstrs of po/<lang>.po,
 * so that rewording a translation does not break the test while a catalog
 * that is missing, stale or not found does.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <locale.h>
#include <string.h>

#include <evloop-glib/evloop-glib.h>

#include "evl-test-util.h"

#define GETTEXT_PACKAGE "evloop-glib"

/* msgid -> msgstr of the translated, non-fuzzy entries of po/<lang>.po */
static GHashTable *catalog;
static const char *language;

/* A minimal .po reader: msgid/msgstr with continuation lines; fuzzy and
 * obsolete (#~) entries are left out, as msgfmt leaves them out of the .mo. */
static GHashTable *
read_po (const char *path)
{
  g_autofree char *contents = NULL;
  g_auto(GStrv) lines = NULL;
  g_autoptr(GError) error = NULL;
  GHashTable *table = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  GString *msgid = NULL, *msgstr = NULL, *current = NULL;
  gboolean fuzzy = FALSE;

  if (!g_file_get_contents (path, &contents, NULL, &error))
    g_error ("cannot read %s: %s", path, error->message);

  lines = g_strsplit (contents, "\n", -1);
  for (guint i = 0; ; i++)
    {
      const char *line = lines[i];
      gboolean end_of_entry = line == NULL || *line == '\0' ||
                              g_str_has_prefix (line, "#") ||
                              g_str_has_prefix (line, "msgid ");

      if (end_of_entry && msgid != NULL && msgstr != NULL)
        {
          if (!fuzzy && msgid->len > 0 && msgstr->len > 0)
            g_hash_table_insert (table, g_strcompress (msgid->str),
                                 g_strcompress (msgstr->str));
          g_string_free (msgid, TRUE);
          g_string_free (msgstr, TRUE);
          msgid = msgstr = current = NULL;
          fuzzy = FALSE;
        }
      if (line == NULL)
        break;

      if (g_str_has_prefix (line, "#,") && strstr (line, "fuzzy") != NULL)
        fuzzy = TRUE;
      else if (g_str_has_prefix (line, "msgid \""))
        {
          if (msgid != NULL)
            g_string_free (msgid, TRUE);
          msgid = current = g_string_new (NULL);
          g_string_append_len (msgid, line + 7, strlen (line + 7) - 1);
        }
      else if (g_str_has_prefix (line, "msgstr \"") && msgid != NULL)
        {
          msgstr = current = g_string_new (NULL);
          g_string_append_len (msgstr, line + 8, strlen (line + 8) - 1);
        }
      else if (line[0] == '"' && current != NULL)
        g_string_append_len (current, line + 1, strlen (line + 1) - 1);
    }

  if (msgid != NULL)
    g_string_free (msgid, TRUE);
  return table;
}

/* Asserts that @message is the translation of @msgid in po/<lang>.po; a
 * msgid that po/<lang>.po does not translate fails the test too (the test's
 * msgid no longer matches the source, or the translation is missing). */
#define assert_translated(message, msgid) \
  G_STMT_START {                                                              \
    const char *_msgstr = g_hash_table_lookup (catalog, (msgid));             \
    if (_msgstr == NULL)                                                      \
      {                                                                       \
        g_test_fail_printf ("po/%s.po has no translation of \"%s\"",          \
                            language, (msgid));                               \
        return;                                                               \
      }                                                                       \
    g_assert_cmpstr (_msgstr, !=, (msgid));                                   \
    g_assert_cmpstr ((message), ==, _msgstr);                                 \
  } G_STMT_END

static void
test_closed_loop_error (void)
{
  g_autoptr(GError) error = NULL;
  EvlLoop *loop = evl_selector_loop_new (NULL);

  g_assert_true (evl_loop_close (loop, NULL));
  g_assert_false (evl_loop_run_forever (loop, &error));
  g_assert_error (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_CLOSED);
  evl_test_close_loop (loop);
  assert_translated (error->message, "The event loop is closed; create a new loop to run more work");
}

static void
test_cancelled_future_error (void)
{
  g_autoptr(GError) error = NULL;
  EvlLoop *loop = evl_selector_loop_new (NULL);
  EvlFuture *future = evl_loop_create_future (loop);

  g_assert_true (evl_future_cancel (future));
  g_assert_false (evl_loop_run_until_complete (loop, future, &error));
  g_assert_error (error, EVL_LOOP_ERROR, EVL_LOOP_ERROR_CANCELLED);
  g_object_unref (future);
  evl_test_close_loop (loop);
  assert_translated (error->message, "The future was cancelled");
}

static void
test_check_version (void)
{
  const char *msg = evl_check_version (EVL_MAJOR_VERSION + 1, 0, 0);

  assert_translated (msg, "The evloop-glib library is too old (major version mismatch); "
                         "install a newer version of evloop-glib");
}

/* Every translation of po/<lang>.po is in the compiled catalog the library
 * loads: the .mo is built from the current .po. */
static void
test_catalog_complete (void)
{
  GHashTableIter iter;
  gpointer msgid, msgstr;
  guint n = 0;

  /* The library binds its text domain on first use. */
  g_assert_null (evl_check_version (EVL_MAJOR_VERSION, 0, 0));

  g_hash_table_iter_init (&iter, catalog);
  while (g_hash_table_iter_next (&iter, &msgid, &msgstr))
    {
      g_assert_cmpstr (g_dgettext (GETTEXT_PACKAGE, msgid), ==, msgstr);
      n++;
    }
  g_assert_cmpuint (n, >, 0);
  g_test_message ("%u translations checked", n);
}

int
main (int argc, char **argv)
{
  const char *localedir = g_getenv ("EVL_LOCALEDIR");
  const char *podir = g_getenv ("EVL_TEST_PO_DIR");
  g_autofree char *mo = NULL;
  g_autofree char *po = NULL;
  const char *locale;

  /* glibc applies LANGUAGE only once a locale is set, and never for "C". */
  locale = setlocale (LC_ALL, "");
  evl_test_init (&argc, &argv);

  language = g_getenv ("LANGUAGE");
  if (language == NULL || localedir == NULL || podir == NULL)
    g_error ("run with LANGUAGE, EVL_LOCALEDIR and EVL_TEST_PO_DIR set (meson test does)");
  if (locale == NULL || strcmp (locale, "C") == 0 || strcmp (locale, "POSIX") == 0)
    g_error ("LC_ALL must name an available locale other than C (C.UTF-8), not %s",
             locale != NULL ? locale : "(unavailable)");

  mo = g_build_filename (localedir, language, "LC_MESSAGES", GETTEXT_PACKAGE ".mo", NULL);
  if (!g_file_test (mo, G_FILE_TEST_IS_REGULAR))
    g_error ("the compiled catalog %s does not exist", mo);
  po = g_strdup_printf ("%s/%s.po", podir, language);
  catalog = read_po (po);

  g_test_add_func ("/Evl/I18n/closed-loop-error", test_closed_loop_error);
  g_test_add_func ("/Evl/I18n/cancelled-future-error", test_cancelled_future_error);
  g_test_add_func ("/Evl/I18n/check-version", test_check_version);
  g_test_add_func ("/Evl/I18n/catalog-complete", test_catalog_complete);

  return g_test_run ();
}
