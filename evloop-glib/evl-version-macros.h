/* evl-version-macros.h: symbol visibility and availability macros
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(EVL_INSIDE) && !defined(EVL_COMPILATION)
# error "Only <evloop-glib/evloop-glib.h> can be included directly."
#endif

#include <glib.h>

#ifndef _EVL_EXTERN
# if defined(_WIN32) && defined(EVL_COMPILATION)
#  define _EVL_EXTERN __declspec(dllexport) extern
# elif defined(__GNUC__)
#  define _EVL_EXTERN __attribute__((visibility("default"))) extern
# else
#  define _EVL_EXTERN extern
# endif
#endif

#define EVL_AVAILABLE_IN_ALL _EVL_EXTERN
#define EVL_AVAILABLE_IN_0_1 _EVL_EXTERN
