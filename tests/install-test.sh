#!/usr/bin/env bash
# install-test.sh: `meson install` into a temporary DESTDIR, check what went
# where, then build and run a C, a Python, a GJS and a Vala program against
# that installed copy only (suite 'install').
#
# Arguments and environment come from tests/meson.build:
#   install-test.sh BUILDDIR SRCDIR
#   EVL_MESON  meson            EVL_CC      the C compiler (words)
#   EVL_PREFIX, EVL_LIBDIR, EVL_INCLUDEDIR, EVL_DATADIR, EVL_BINDIR,
#   EVL_LOCALEDIR: absolute install paths     EVL_PYTHON_DIR: site-packages
#   EVL_PYTHON, EVL_GJS, EVL_VALAC: the interpreters/compilers ('' if absent)
#   EVL_INTROSPECTION, EVL_DOCS, EVL_DEMOS: 'true' when those are built
#
# The build tree is used for nothing but `meson install --no-rebuild`; the
# programs see PKG_CONFIG_PATH (a copy of the installed .pc whose prefix
# points into DESTDIR), LD_LIBRARY_PATH, GI_TYPELIB_PATH and PYTHONPATH
# inside DESTDIR, and the test fails if any of them leads to the build or
# source tree, or if a program loads the library from anywhere else.
#
# SPDX-License-Identifier: LGPL-2.1-or-later

set -euo pipefail

EVL_PYTHON_DIR="${EVL_PYTHON_DIR%/}"
builddir="$(cd "$1" && pwd -P)"
srcdir="$(cd "$2" && pwd -P)"

tmp="$(mktemp -d "${TMPDIR:-/tmp}/evl-install-test.XXXXXX")"
tmp="$(cd "$tmp" && pwd -P)"
cleanup () { rm -rf "$tmp"; }
trap cleanup EXIT

dest="$tmp/destdir"
work="$tmp/work"
mkdir -p "$work"

failures=0
ok ()   { printf 'ok: %s\n' "$*"; }
fail () { printf 'FAIL: %s\n' "$*" >&2; failures=$((failures + 1)); }
skip () { printf 'skip: %s\n' "$*"; }
need_file () { if [ -e "$1" ]; then ok "${1#"$dest"}"; else fail "not installed: ${1#"$dest"}"; fi; }

# 1. Install ------------------------------------------------------------------
# --no-rebuild: meson test has built everything already, and a rebuild from
# inside a test would race with the build itself.
"$EVL_MESON" install -C "$builddir" --no-rebuild --quiet --destdir "$dest" >"$tmp/install.log" 2>&1 || {
  cat "$tmp/install.log" >&2
  echo "FAIL: meson install --destdir failed" >&2
  exit 1
}

P="$dest$EVL_PREFIX"
L="$dest$EVL_LIBDIR"
I="$dest$EVL_INCLUDEDIR"
D="$dest$EVL_DATADIR"
B="$dest$EVL_BINDIR"

echo "# installed files (relative to DESTDIR; the reference counted, not listed):"
(cd "$dest" && find . \( -type f -o -type l \) -not -path '*/doc/evloop-glib-1/*' | sort | sed 's|^\.||; s|^|#   |')
if [ -d "$D/doc/evloop-glib-1" ]; then
  echo "#   ${D#"$dest"}/doc/evloop-glib-1/: $(find "$D/doc/evloop-glib-1" -type f | wc -l) files"
fi

# 2. Layout ---------------------------------------------------------------------
# The library: real name, soname link, linker name; the soname is the ABI.
real="$(cd "$L" && ls libevloop-glib-1.so.*.*.* 2>/dev/null | head -n 1 || true)"
if [ -z "$real" ]; then
  fail "no libevloop-glib-1.so.X.Y.Z in ${L#"$dest"}"
else
  ok "${L#"$dest"}/$real"
  soname="$(objdump -p "$L/$real" | awk '$1 == "SONAME" { print $2 }')"
  case "$soname" in
    libevloop-glib-1.so.[0-9]*) ok "SONAME $soname" ;;
    *) fail "SONAME of $real is '$soname', not libevloop-glib-1.so.N" ;;
  esac
  [ "$(readlink "$L/$soname")" = "$real" ] && ok "$soname -> $real" || fail "$soname is not a symlink to $real"
  [ "$(readlink "$L/libevloop-glib-1.so")" = "$soname" ] && ok "libevloop-glib-1.so -> $soname" \
    || fail "libevloop-glib-1.so is not a symlink to $soname"
fi
need_file "$L/pkgconfig/evloop-glib-1.pc"

# Headers: the single include, everything it includes (generated ones too).
hdrdir="$I/evloop-glib-1/evloop-glib"
need_file "$hdrdir/evloop-glib.h"
need_file "$hdrdir/evl-version.h"
need_file "$hdrdir/evl-enums.h"
if [ -f "$hdrdir/evloop-glib.h" ]; then
  for h in $(sed -n 's/^#[[:space:]]*include "\(.*\)"/\1/p' "$hdrdir/evloop-glib.h"); do
    [ -f "$hdrdir/$h" ] || fail "evloop-glib.h includes $h, which is not installed"
  done
fi

# Translations.
for lang in de fr; do
  need_file "$dest$EVL_LOCALEDIR/$lang/LC_MESSAGES/evloop-glib.mo"
done

if [ "$EVL_INTROSPECTION" = true ]; then
  need_file "$D/gir-1.0/Evl-1.gir"
  need_file "$L/girepository-1.0/Evl-1.typelib"
  need_file "$D/vala/vapi/evloop-glib-1.vapi"
  need_file "$dest$EVL_PYTHON_DIR/evl_asyncio/__init__.py"
fi
if [ "$EVL_DOCS" = true ]; then
  need_file "$D/doc/evloop-glib-1/index.html"
fi
if [ "$EVL_DEMOS" = true ]; then
  need_file "$B/evl-demo-ticker"
  [ "$EVL_INTROSPECTION" = true ] && need_file "$B/evl-demo-asyncio"
  for f in "$B"/*; do
    [ -x "$f" ] || fail "${f#"$dest"} is not executable"
  done
fi

# 3. Environment pointing into DESTDIR only -----------------------------------
mkdir -p "$tmp/pkgconfig"
sed "s|^prefix=.*|prefix=$P|" "$L/pkgconfig/evloop-glib-1.pc" >"$tmp/pkgconfig/evloop-glib-1.pc"
export PKG_CONFIG_PATH="$tmp/pkgconfig"
unset PKG_CONFIG_LIBDIR PKG_CONFIG_SYSROOT_DIR
export LD_LIBRARY_PATH="$L"
export GI_TYPELIB_PATH="$L/girepository-1.0"
export PYTHONPATH="$dest$EVL_PYTHON_DIR"
export PYTHONDONTWRITEBYTECODE=1
export EVL_LOCALEDIR="$dest$EVL_LOCALEDIR"
export EVL_DESTDIR="$dest"
export LANGUAGE=C LC_ALL=C.UTF-8
unset GI_GIR_PATH XDG_DATA_DIRS VALAFLAGS

for var in PKG_CONFIG_PATH LD_LIBRARY_PATH GI_TYPELIB_PATH PYTHONPATH EVL_LOCALEDIR; do
  IFS=: read -r -a entries <<<"${!var}"
  for e in "${entries[@]}"; do
    case "$e" in
      "$dest"/*|"$tmp"/*) ;;
      *) fail "$var has $e, outside the install tree" ;;
    esac
    case "$e" in
      "$builddir"|"$builddir"/*|"$srcdir"|"$srcdir"/*) fail "$var leads into the build or source tree: $e" ;;
    esac
  done
done

pcflags="$(pkg-config --cflags --libs evloop-glib-1)" || { fail "pkg-config evloop-glib-1"; pcflags=""; }
echo "# pkg-config --cflags --libs evloop-glib-1: $pcflags"
case "$pcflags" in
  *"-I$I/evloop-glib-1"*) ok "pkg-config gives the installed headers" ;;
  *) fail "pkg-config --cflags does not point at $I/evloop-glib-1" ;;
esac
case "$pcflags" in
  *"$builddir"*|*"$srcdir"*) fail "pkg-config leads into the build or source tree" ;;
esac

# Each program prints lines "<lang>: ..." and loads the library from $L only.
check_loaded_from_destdir () {  # $1: program, for ldd
  local lib
  lib="$(ldd "$1" | awk '$1 ~ /^libevloop-glib-1\.so/ { print $3 }')"
  case "$lib" in
    "$L"/*) ok "$(basename "$1") links ${lib#"$dest"}" ;;
    *) fail "$(basename "$1") loads libevloop-glib-1 from '$lib', not from DESTDIR" ;;
  esac
}

# 4. C ---------------------------------------------------------------------------
cat >"$work/hello.c" <<'EOF'
#include <locale.h>

#include <evloop-glib/evloop-glib.h>

static void
on_timer (gpointer user_data)
{
  GValue value = G_VALUE_INIT;

  g_value_init (&value, G_TYPE_INT);
  g_value_set_int (&value, 42);
  evl_future_set_result (EVL_FUTURE (user_data), &value, NULL);
  g_value_unset (&value);
}

int
main (void)
{
  g_autoptr(GError) error = NULL;
  EvlLoop *loop;
  EvlFuture *future;
  GValue result = G_VALUE_INIT;
  const char *mismatch;
  double start;

  setlocale (LC_ALL, "");
  mismatch = evl_check_version (EVL_MAJOR_VERSION, EVL_MINOR_VERSION, EVL_MICRO_VERSION);
  if (mismatch != NULL)
    g_error ("%s", mismatch);

  loop = evl_selector_loop_new (NULL);
  future = evl_loop_create_future (loop);
  start = evl_loop_time (loop);
  evl_loop_call_later (loop, 0.05, on_timer, future, NULL);
  if (!evl_loop_run_until_complete (loop, future, &error) ||
      !evl_future_get_result (future, &result, &error))
    g_error ("run_until_complete: %s", error->message);
  if (evl_loop_time (loop) - start < 0.049)
    g_error ("the timer ran early");
  g_print ("c: result %d, version %u.%u.%u\n", g_value_get_int (&result),
           evl_get_major_version (), evl_get_minor_version (), evl_get_micro_version ());
  g_value_unset (&result);
  g_object_unref (future);

  evl_loop_close (loop, NULL);
  if (!evl_loop_run_forever (loop, &error))
    g_print ("c: closed: %s\n", error->message);
  g_object_unref (loop);
  return 0;
}
EOF
read -r -a cc <<<"$EVL_CC"
# shellcheck disable=SC2086
if "${cc[@]}" -o "$work/hello-c" "$work/hello.c" $pcflags 2>"$work/cc.log"; then
  ok "C program compiled with pkg-config evloop-glib-1"
  check_loaded_from_destdir "$work/hello-c"
  out="$("$work/hello-c" 2>&1)" || fail "C program failed: $out"
  echo "$out" | sed 's/^/#   /'
  expected_version="$(sed -n 's/^#define EVL_VERSION_S "\(.*\)"/\1/p' "$hdrdir/evl-version.h")"
  grep -qx "c: result 42, version $expected_version" <<<"$out" && ok "C program: loop, timer, future" \
    || fail "C program printed no 'c: result 42, version $expected_version'"
  english="$(sed -n 's/^c: closed: //p' <<<"$out")"
  [ -n "$english" ] || fail "C program: no closed-loop error"
  # The installed catalogs, through EVL_LOCALEDIR (the library itself would
  # look in $EVL_LOCALEDIR without DESTDIR).
  for lang in de fr; do
    translated="$(LANGUAGE=$lang "$work/hello-c" 2>&1 | sed -n 's/^c: closed: //p')"
    if [ -n "$translated" ] && [ "$translated" != "$english" ]; then
      ok "installed $lang catalog: $translated"
    else
      fail "LANGUAGE=$lang: the closed-loop error is not translated ('$translated')"
    fi
  done
else
  cat "$work/cc.log" >&2
  fail "C program does not compile against the installed headers"
fi

# 5. Python ---------------------------------------------------------------------
if [ "$EVL_INTROSPECTION" != true ]; then
  skip "Python, GJS and Vala: introspection is disabled"
elif [ -z "$EVL_PYTHON" ]; then
  fail "no python3 with PyGObject (python3-gi) for the Python program"
else
  cat >"$work/hello.py" <<'EOF'
import asyncio
import os

import gi
gi.require_version('Evl', '1')
gi.require_version('GIRepository', '2.0')
from gi.repository import Evl, GIRepository

import evl_asyncio

dest = os.environ['EVL_DESTDIR']
typelib = GIRepository.Repository.get_default().get_typelib_path('Evl')
assert typelib.startswith(dest + '/'), f'Evl-1.typelib from {typelib}'
assert evl_asyncio.__file__.startswith(dest + '/'), f'evl_asyncio from {evl_asyncio.__file__}'

loop = Evl.new_event_loop()
future = loop.create_future()
loop.call_later(0.05, future.set_result, 42)
loop.run_until_complete(future)
print(f'python: result {future.get_result()}, version '
      f'{Evl.get_major_version()}.{Evl.get_minor_version()}.{Evl.get_micro_version()}')
assert Evl.check_version(Evl.get_major_version(), Evl.get_minor_version(), Evl.get_micro_version()) is None
loop.close()

with open('/proc/self/maps') as maps:
    libs = {line.split()[-1] for line in maps if 'libevloop-glib-1.so' in line}
assert libs and all(l.startswith(dest + '/') for l in libs), f'library from {libs}'


async def main():
    await asyncio.sleep(0.01)
    return 'evl_asyncio'

aloop = evl_asyncio.new_event_loop()
try:
    print(f'python: {aloop.run_until_complete(main())}')
finally:
    aloop.close()
EOF
  if out="$("$EVL_PYTHON" "$work/hello.py" 2>&1)"; then
    echo "$out" | sed 's/^/#   /'
    grep -q '^python: result 42, version ' <<<"$out" && grep -qx 'python: evl_asyncio' <<<"$out" \
      && ok "Python program: gi.repository.Evl and evl_asyncio from DESTDIR" \
      || fail "Python program printed the wrong thing"
  else
    echo "$out" >&2
    fail "Python program failed"
  fi
fi

# 6. GJS ------------------------------------------------------------------------
if [ "$EVL_INTROSPECTION" = true ]; then
  if [ -z "$EVL_GJS" ]; then
    skip "GJS program: gjs is not installed"
  else
    cat >"$work/hello.js" <<'EOF'
import Evl from 'gi://Evl?version=1';

const loop = Evl.new_event_loop();
const future = loop.create_future();
loop.call_later(0.05, () => future.set_result(42));
loop.run_until_complete(future);
const [, result] = future.get_result();
print(`gjs: result ${result}`);
loop.close();
EOF
    if out="$("$EVL_GJS" -m "$work/hello.js" 2>&1)"; then
      echo "$out" | sed 's/^/#   /'
      grep -qx 'gjs: result 42' <<<"$out" && ok "GJS program" || fail "GJS program printed the wrong thing"
    else
      echo "$out" >&2
      fail "GJS program failed"
    fi
  fi
fi

# 7. Vala -----------------------------------------------------------------------
if [ "$EVL_INTROSPECTION" = true ]; then
  if [ -z "$EVL_VALAC" ]; then
    fail "no valac for the Vala program"
  else
    cat >"$work/hello.vala" <<'EOF'
int main () {
    var loop = Evl.new_event_loop ();
    var future = loop.create_future ();
    loop.call_later (0.05, () => {
        try {
            future.set_result (42);
        } catch (Error e) {
            printerr ("%s\n", e.message);
        }
    });
    try {
        loop.run_until_complete (future);
        Value result;
        future.get_result (out result);
        print ("vala: result %d, version %u.%u.%u\n", result.get_int (),
               Evl.get_major_version (), Evl.get_minor_version (), Evl.get_micro_version ());
        loop.close ();
    } catch (Error e) {
        printerr ("failed: %s\n", e.message);
        return 1;
    }
    return 0;
}
EOF
    if (cd "$work" && "$EVL_VALAC" --vapidir="$D/vala/vapi" --pkg evloop-glib-1 \
          --cc="${cc[0]}" -o hello-vala hello.vala) >"$work/valac.log" 2>&1; then
      ok "Vala program compiled with valac --pkg evloop-glib-1 --vapidir=${D#"$dest"}/vala/vapi"
      check_loaded_from_destdir "$work/hello-vala"
      if out="$("$work/hello-vala" 2>&1)"; then
        echo "$out" | sed 's/^/#   /'
        grep -q '^vala: result 42, version ' <<<"$out" && ok "Vala program" \
          || fail "Vala program printed the wrong thing"
      else
        echo "$out" >&2
        fail "Vala program failed"
      fi
    else
      cat "$work/valac.log" >&2
      fail "Vala program does not compile against the installed VAPI"
    fi
  fi
fi

if [ "$failures" -ne 0 ]; then
  echo "$failures check(s) failed" >&2
  exit 1
fi
echo "all install checks passed"
