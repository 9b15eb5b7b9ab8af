/* evl-version.c: the version of the library a program runs with
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "evl-config.h"

#include <evloop-glib/evloop-glib.h>

#include "evl-loop-private.h"

/**
 * evl_get_major_version:
 *
 * Returns the major version of the evloop-glib library the program runs
 * with (1 for evloop-glib 1.2.3).
 *
 * This is the version of the library loaded at run time, which can be newer
 * than the headers the program was compiled against ([const@Evl.MAJOR_VERSION]).
 * Bindings, which have no compile-time headers, only have this one.
 *
 * Returns: the major version of the running library
 */
guint
evl_get_major_version (void)
{
  return EVL_MAJOR_VERSION;
}

/**
 * evl_get_minor_version:
 *
 * Returns the minor version of the evloop-glib library the program runs
 * with (2 for evloop-glib 1.2.3). See [func@Evl.get_major_version].
 *
 * Returns: the minor version of the running library
 */
guint
evl_get_minor_version (void)
{
  return EVL_MINOR_VERSION;
}

/**
 * evl_get_micro_version:
 *
 * Returns the micro version of the evloop-glib library the program runs
 * with (3 for evloop-glib 1.2.3). See [func@Evl.get_major_version].
 *
 * Returns: the micro version of the running library
 */
guint
evl_get_micro_version (void)
{
  return EVL_MICRO_VERSION;
}

/**
 * evl_check_version:
 * @required_major: the required major version
 * @required_minor: the required minor version
 * @required_micro: the required micro version
 *
 * Checks that the evloop-glib library the program runs with is compatible
 * with the given version: its major version must be @required_major and
 * its minor.micro version must be @required_minor.@required_micro or newer
 * (newer releases of one major version keep the API and ABI of older ones).
 *
 * Compare `EVL_CHECK_VERSION()`, the same check at compile time against
 * the headers. Call it with the version macros to make sure that the library
 * found at run time is not older than the headers the program was built
 * with:
 *
 * ```c
 * const char *mismatch = evl_check_version (EVL_MAJOR_VERSION,
 *                                           EVL_MINOR_VERSION,
 *                                           EVL_MICRO_VERSION);
 * if (mismatch != NULL)
 *   g_error ("%s", mismatch);
 * ```
 *
 * Returns: (nullable): %NULL if the library is compatible, else a string
 *   (owned by the library, translated, not to be freed) that says what is
 *   wrong and what to do about it
 */
const char *
evl_check_version (guint required_major,
                   guint required_minor,
                   guint required_micro)
{
  if (required_major > EVL_MAJOR_VERSION)
    return _("The evloop-glib library is too old (major version mismatch); "
             "install a newer version of evloop-glib");
  if (required_major != EVL_MAJOR_VERSION)  /* older: '<' warns while it is 0 */
    return _("The evloop-glib library is too new (major version mismatch); "
             "rebuild the program against this version of evloop-glib");
  if (required_minor > EVL_MINOR_VERSION)
    return _("The evloop-glib library is too old (minor version mismatch); "
             "install a newer version of evloop-glib");
  if (required_minor == EVL_MINOR_VERSION && required_micro > EVL_MICRO_VERSION)
    return _("The evloop-glib library is too old (micro version mismatch); "
             "install a newer version of evloop-glib");
  return NULL;
}
