/* config.h: the build configuration (evl-config.h, generated at the top
 * of the build tree) under its old name, for the sources not converted
 * yet. New code includes "evl-config.h".
 *
 * The generated header is named evl-config.h so that a parent project
 * that uses evloop-glib as a meson subproject keeps its own config.h: the
 * top of this project's build tree is on the parent's include path
 * (evl_dep), src/ is not, so this file never is.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "evl-config.h"
