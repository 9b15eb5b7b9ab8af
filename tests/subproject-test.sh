#!/usr/bin/env bash
# subproject-test.sh: evloop-glib as a meson subproject (suite 'install').
#
#   subproject-test.sh SRCDIR
#   EVL_MESON: meson     EVL_NINJA: ninja (optional, meson finds its own)
#
# Makes a parent project in a temporary directory with this source tree as
# subprojects/evloop-glib (a symlink), whose meson.build does
#   dependency('evloop-glib-1', fallback: ['evloop-glib', 'evl_dep'])
# (with --force-fallback-for, so that an installed copy is not used), builds
# it, and checks that:
#   - the parent's tiny program compiles (the single include, the generated
#     headers, the parent's own config.h first), links against the
#     subproject's library and runs;
#   - no directory the subproject puts on the parent's include path holds a
#     config.h (the subproject's own is evl-config.h), so that a parent
#     file including "config.h" from anywhere gets the parent's;
#   - the subproject builds none of its tests, demos or benchmarks, and its
#     translations and typelib do build inside a parent.
#
# SPDX-License-Identifier: LGPL-2.1-or-later

set -euo pipefail

srcdir="$(cd "$1" && pwd -P)"
tmp="$(mktemp -d "${TMPDIR:-/tmp}/evl-subproject-test.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

parent="$tmp/parent"
build="$tmp/build"
mkdir -p "$parent/subprojects"
ln -s "$srcdir" "$parent/subprojects/evloop-glib"

cat >"$parent/meson.build" <<'EOF'
project('evl-parent', 'c', version: '1.0', meson_version: '>= 1.0.0')

evl_dep = dependency('evloop-glib-1', fallback: ['evloop-glib', 'evl_dep'])

# The parent's own config.h, which the subproject's must not shadow.
conf = configuration_data()
conf.set('PARENT_CONFIG_H', 1)
configure_file(output: 'config.h', configuration: conf)

tiny = executable('tiny', 'tiny.c', dependencies: evl_dep)
test('tiny', tiny)
EOF

cat >"$parent/tiny.c" <<'EOF'
#include "config.h"
#include <evloop-glib/evloop-glib.h>

#ifndef PARENT_CONFIG_H
# error "the subproject's config.h shadows the parent's"
#endif

static void
on_timer (gpointer user_data)
{
  GValue value = G_VALUE_INIT;

  g_value_init (&value, G_TYPE_STRING);
  g_value_set_static_string (&value, "from the subproject");
  evl_future_set_result (EVL_FUTURE (user_data), &value, NULL);
  g_value_unset (&value);
}

int
main (void)
{
  g_autoptr(GError) error = NULL;
  EvlLoop *loop = evl_selector_loop_new (NULL);
  EvlFuture *future = evl_loop_create_future (loop);
  GValue result = G_VALUE_INIT;

  g_assert_null (evl_check_version (EVL_MAJOR_VERSION, EVL_MINOR_VERSION, EVL_MICRO_VERSION));
  evl_loop_call_later (loop, 0.02, on_timer, future, NULL);
  if (!evl_loop_run_until_complete (loop, future, &error) ||
      !evl_future_get_result (future, &result, &error))
    g_error ("%s", error->message);
  g_print ("tiny: %s (evloop-glib %s)\n", g_value_get_string (&result), EVL_VERSION_S);
  g_value_unset (&result);
  g_object_unref (future);
  evl_loop_close (loop, NULL);
  g_object_unref (loop);
  return 0;
}
EOF

# The build tree's uninstalled .pc must not be what is found either.
unset PKG_CONFIG_PATH LD_LIBRARY_PATH GI_TYPELIB_PATH
export LC_ALL=C.UTF-8

echo "# meson setup (parent with subprojects/evloop-glib -> $srcdir)"
if ! "$EVL_MESON" setup --force-fallback-for=evloop-glib-1 "$build" "$parent" >"$tmp/setup.log" 2>&1; then
  cat "$tmp/setup.log" >&2
  echo "FAIL: meson setup of the parent project" >&2
  exit 1
fi
grep -i 'warning\|deprecat' "$tmp/setup.log" | sed 's/^/# setup: /' || true

echo "# meson compile"
if ! "$EVL_MESON" compile -C "$build" >"$tmp/compile.log" 2>&1; then
  tail -n 60 "$tmp/compile.log" >&2
  echo "FAIL: the parent project does not build" >&2
  exit 1
fi

failures=0
fail () { printf 'FAIL: %s\n' "$*" >&2; failures=$((failures + 1)); }
ok ()   { printf 'ok: %s\n' "$*"; }

sub="$build/subprojects/evloop-glib"
[ -d "$sub" ] && ok "evloop-glib was built as a subproject" || fail "no $sub: the dependency did not fall back"

lib="$(ldd "$build/tiny" | awk '$1 ~ /^libevloop-glib-1\.so/ { print $3 }')"
case "$lib" in
  "$sub"/*) ok "tiny links ${lib#"$build"/}" ;;
  *) fail "tiny loads libevloop-glib-1 from '$lib', not from the subproject" ;;
esac

# The include directories of tiny's compile command that belong to the
# subproject (its source tree or its build tree): none may hold a config.h.
incdirs="$("${EVL_PYTHON:-python3}" - "$build" "$srcdir" "$sub" <<'PY'
import json, os, shlex, sys
build, srcdir, sub = sys.argv[1:4]
for entry in json.load(open(os.path.join(build, 'compile_commands.json'))):
    if os.path.basename(entry['file']) != 'tiny.c':
        continue
    args = entry.get('arguments') or shlex.split(entry['command'])
    for i, arg in enumerate(args):
        path = args[i + 1] if arg in ('-I', '-isystem') else (arg[2:] if arg.startswith('-I') else None)
        if path is None:
            continue
        path = os.path.realpath(os.path.join(entry['directory'], path))
        if any(path == root or path.startswith(root + os.sep)
               for root in (os.path.realpath(srcdir), os.path.realpath(sub))):
            print(path)
PY
)"
if [ -z "$incdirs" ]; then
  fail "no include directory of the subproject on tiny's compile command (compile_commands.json)"
else
  shadowing=""
  while IFS= read -r dir; do
    [ -e "$dir/config.h" ] && shadowing="$shadowing $dir/config.h"
  done <<<"$incdirs"
  [ -z "$shadowing" ] && ok "no config.h on the parent's include path from the subproject ($(wc -l <<<"$incdirs") directories)" \
    || fail "the subproject puts a config.h on the parent's include path:$shadowing"
fi
[ -f "$sub/evl-config.h" ] && ok "the subproject's configuration header is evl-config.h" \
  || fail "no $sub/evl-config.h"

if out="$("$build/tiny" 2>&1)"; then
  echo "# $out"
  grep -q '^tiny: from the subproject' <<<"$out" && ok "tiny runs" || fail "tiny printed '$out'"
else
  fail "tiny failed: $out"
fi

# Nothing but the library's own targets: no tests, demos or benchmarks.
tests="$("$EVL_MESON" introspect --tests "$build" | "${EVL_PYTHON:-python3}" -c '
import json, sys
print(" ".join(sorted(t["name"] for t in json.load(sys.stdin))))')"
[ "$tests" = "tiny" ] && ok "the only test is the parent's" || fail "tests defined in the parent build: $tests"
extra="$(cd "$sub" && find . -maxdepth 1 -type d \( -name tests -o -name demos -o -name bench \) | sort | tr '\n' ' ')"
[ -z "$extra" ] && ok "no tests, demos or benchmarks built" || fail "the subproject built $extra"

[ -f "$sub/po/de/LC_MESSAGES/evloop-glib.mo" ] && ok "translations build as a subproject" \
  || fail "no $sub/po/de/LC_MESSAGES/evloop-glib.mo"
if [ -f "$srcdir/introspection/meson.build" ] && [ -d "$sub/introspection" ]; then
  [ -f "$sub/introspection/Evl-1.typelib" ] && ok "the typelib builds as a subproject" \
    || fail "no Evl-1.typelib in the subproject build"
fi

if [ "$failures" -ne 0 ]; then
  echo "$failures check(s) failed" >&2
  exit 1
fi
echo "evloop-glib works as a meson subproject"
