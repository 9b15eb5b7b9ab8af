#!/usr/bin/env python3
# check-po.py: keeps po/ from rotting (run by meson test, suite 'po').
#
#   check-po.py potfiles SRCROOT
#       POTFILES.in is sorted (byte order, as `LC_ALL=C sort`), has no
#       duplicates, names only files that exist, and names every source file
#       under src/ that marks a message for translation (_(), N_(), C_(),
#       NC_(), g_dngettext ()...). Files listed without any mark are reported,
#       not failed.
#
#   check-po.py translations SRCROOT LANG
#       po/LANG.po is valid (msgfmt -c: format specifiers match the msgid)
#       and translates every message of the sources as they are now: a fresh
#       template is extracted with xgettext (the keywords of meson's 'glib'
#       preset) and compared with msgcmp, which counts an untranslated or
#       fuzzy entry as missing. Fix with
#         meson compile -C build evloop-glib-update-po
#       then translate the new or fuzzy entries of po/LANG.po.
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import os
import re
import subprocess
import sys
import tempfile

MARK = re.compile(r'(?<![A-Za-z0-9_])(?:_|N_|C_|NC_|g_dcgettext|g_dngettext|g_dpgettext2)\s*\(')
# Comments and the macros' own definitions are not marks.
COMMENT = re.compile(r'/\*.*?\*/|^[ \t]*#[ \t]*define[^\n]*', re.S | re.M)

XGETTEXT_ARGS = [
    '--from-code=UTF-8', '--add-comments',
    '--keyword=_', '--keyword=N_', '--keyword=C_:1c,2', '--keyword=NC_:1c,2',
    '--keyword=g_dcgettext:2', '--keyword=g_dngettext:2,3', '--keyword=g_dpgettext2:2c,3',
    '--flag=N_:1:pass-c-format', '--flag=C_:2:pass-c-format', '--flag=NC_:2:pass-c-format',
    '--flag=g_dngettext:2:pass-c-format', '--flag=g_strdup_printf:1:c-format',
    '--flag=g_string_printf:2:c-format', '--flag=g_string_append_printf:2:c-format',
    '--flag=g_error_new:3:c-format', '--flag=g_set_error:4:c-format',
]


def read_potfiles(srcroot):
    with open(os.path.join(srcroot, 'po', 'POTFILES.in'), encoding='utf-8') as f:
        return [l.strip() for l in f if l.strip() and not l.lstrip().startswith('#')]


def has_marks(path):
    with open(path, encoding='utf-8', errors='replace') as f:
        return MARK.search(COMMENT.sub('', f.read())) is not None


def check_potfiles(srcroot):
    errors = []
    listed = read_potfiles(srcroot)

    # Byte order, like `LC_ALL=C sort` (evl-loop-sock.c before evl-loop.c).
    expected = sorted(set(listed), key=lambda s: s.encode())
    if listed != expected:
        errors.append('po/POTFILES.in is not sorted or has duplicates; it should read:\n  '
                      + '\n  '.join(expected))

    for name in listed:
        path = os.path.join(srcroot, name)
        if not os.path.isfile(path):
            errors.append(f'po/POTFILES.in lists {name}, which does not exist')
        elif not has_marks(path):
            print(f'note: po/POTFILES.in lists {name}, which has no translatable message')

    missing = []
    for dirpath, dirnames, filenames in os.walk(os.path.join(srcroot, 'src')):
        dirnames.sort()
        for fn in sorted(filenames):
            if not fn.endswith(('.c', '.h')):
                continue
            path = os.path.join(dirpath, fn)
            rel = os.path.relpath(path, srcroot).replace(os.sep, '/')
            if rel not in listed and has_marks(path):
                missing.append(rel)
    for rel in missing:
        errors.append(f'{rel} has translatable messages but is not in po/POTFILES.in')

    print(f'{len(listed)} files in po/POTFILES.in')
    return errors


def run(cmd, **kwargs):
    r = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    return r.returncode, (r.stdout + r.stderr).strip()


def check_translations(srcroot, lang):
    errors = []
    po = os.path.join(srcroot, 'po', lang + '.po')
    if not os.path.isfile(po):
        return [f'po/{lang}.po does not exist (po/LINGUAS lists {lang})']

    rc, out = run(['msgfmt', '-c', '--statistics', '-o', os.devnull, po])
    print(f'po/{lang}.po: {out}')
    if rc != 0:
        errors.append(f'msgfmt -c rejects po/{lang}.po:\n{out}')
    if re.search(r'fuzzy|untranslated', out):
        errors.append(f'po/{lang}.po has fuzzy or untranslated entries: {out}')

    with tempfile.TemporaryDirectory() as tmp:
        pot = os.path.join(tmp, 'evloop-glib.pot')
        rc, out = run(['xgettext', '--package-name=evloop-glib', '-o', pot,
                       '--files-from=' + os.path.join('po', 'POTFILES.in')] + XGETTEXT_ARGS,
                      cwd=srcroot)
        if rc != 0:
            return errors + [f'xgettext failed:\n{out}']
        rc, out = run(['msgcmp', po, pot])
        if rc != 0:
            errors.append(f'po/{lang}.po does not translate every message of the sources '
                          f'(run `meson compile -C build evloop-glib-update-po` and '
                          f'translate):\n{out}')
    return errors


def main(argv):
    if len(argv) >= 3 and argv[1] == 'potfiles':
        errors = check_potfiles(argv[2])
    elif len(argv) >= 4 and argv[1] == 'translations':
        errors = check_translations(argv[2], argv[3])
    else:
        print(__doc__ or 'usage: check-po.py potfiles SRCROOT | translations SRCROOT LANG',
              file=sys.stderr)
        return 2
    for e in errors:
        print('error: ' + e, file=sys.stderr)
    return 1 if errors else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
