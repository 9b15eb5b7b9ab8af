/* version.c: tests of the version macros and of the run-time version
 * functions (evl_get_*_version, evl_check_version)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>

#include <evloop-glib/evloop-glib.h>

#include "evl-test-util.h"

static void
test_runtime_matches_headers (void)
{
  g_autofree char *version = NULL;

  /* The tests are built with the library they run with. */
  g_assert_cmpuint (evl_get_major_version (), ==, EVL_MAJOR_VERSION);
  g_assert_cmpuint (evl_get_minor_version (), ==, EVL_MINOR_VERSION);
  g_assert_cmpuint (evl_get_micro_version (), ==, EVL_MICRO_VERSION);

  version = g_strdup_printf ("%u.%u.%u", evl_get_major_version (),
                             evl_get_minor_version (), evl_get_micro_version ());
  g_assert_cmpstr (version, ==, EVL_VERSION_S);
}

static void
test_check_version_compatible (void)
{
  guint major = EVL_MAJOR_VERSION;
  guint minor = EVL_MINOR_VERSION;
  guint micro = EVL_MICRO_VERSION;

  g_assert_null (evl_check_version (major, minor, micro));
  g_assert_null (evl_check_version (major, 0, 0));
  if (minor > 0)
    g_assert_null (evl_check_version (major, minor - 1, G_MAXUINT));
  if (micro > 0)
    g_assert_null (evl_check_version (major, minor, micro - 1));
}

static void
test_check_version_too_old (void)
{
  guint major = EVL_MAJOR_VERSION;
  guint minor = EVL_MINOR_VERSION;
  guint micro = EVL_MICRO_VERSION;
  const char *msg;

  msg = evl_check_version (major, minor, micro + 1);
  g_assert_nonnull (msg);
  g_assert_nonnull (strstr (msg, "too old"));
  g_assert_nonnull (strstr (msg, "micro"));
  /* A static string: the same pointer each time, nothing to free. */
  g_assert_true (msg == evl_check_version (major, minor, micro + 1));

  msg = evl_check_version (major, minor + 1, 0);
  g_assert_nonnull (msg);
  g_assert_nonnull (strstr (msg, "too old"));
  g_assert_nonnull (strstr (msg, "minor"));

  msg = evl_check_version (major + 1, 0, 0);
  g_assert_nonnull (msg);
  g_assert_nonnull (strstr (msg, "too old"));
  g_assert_nonnull (strstr (msg, "major"));
  /* Says what to do. */
  g_assert_nonnull (strstr (msg, "install a newer version"));
}

static void
test_check_version_too_new (void)
{
  const char *msg;

  if (EVL_MAJOR_VERSION == 0)
    {
      g_test_skip ("no older major version than 0");
      return;
    }

  msg = evl_check_version (EVL_MAJOR_VERSION - 1, G_MAXUINT, G_MAXUINT);
  g_assert_nonnull (msg);
  g_assert_nonnull (strstr (msg, "too new"));
  g_assert_nonnull (strstr (msg, "major"));
}

static void
test_check_version_macro (void)
{
  g_assert_true (EVL_CHECK_VERSION (EVL_MAJOR_VERSION, EVL_MINOR_VERSION, EVL_MICRO_VERSION));
  g_assert_true (EVL_CHECK_VERSION (0, 0, 0));
  g_assert_false (EVL_CHECK_VERSION (EVL_MAJOR_VERSION, EVL_MINOR_VERSION, EVL_MICRO_VERSION + 1));
  g_assert_false (EVL_CHECK_VERSION (EVL_MAJOR_VERSION, EVL_MINOR_VERSION + 1, 0));
  g_assert_false (EVL_CHECK_VERSION (EVL_MAJOR_VERSION + 1, 0, 0));
  /* A newer minor version satisfies any micro version of an older one. */
  if (EVL_MINOR_VERSION > 0)
    g_assert_true (EVL_CHECK_VERSION (EVL_MAJOR_VERSION, EVL_MINOR_VERSION - 1, 999));

#if !EVL_CHECK_VERSION (0, 1, 0)
  g_assert_not_reached ();
#endif
}

int
main (int argc, char **argv)
{
  evl_test_init (&argc, &argv);

  g_test_add_func ("/Evl/Version/runtime-matches-headers", test_runtime_matches_headers);
  g_test_add_func ("/Evl/Version/check-version/compatible", test_check_version_compatible);
  g_test_add_func ("/Evl/Version/check-version/too-old", test_check_version_too_old);
  g_test_add_func ("/Evl/Version/check-version/too-new", test_check_version_too_new);
  g_test_add_func ("/Evl/Version/check-version/macro", test_check_version_macro);

  return g_test_run ();
}
