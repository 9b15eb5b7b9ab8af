#!/usr/bin/python3
# Two small jobs for the README's binding examples (meson test, 'bindings'):
#
#   check-readme.py README.md FILE...
#       fails unless each FILE appears in README.md, verbatim, as the body of
#       a fenced code block: the README shows exactly the tested programs.
#   check-readme.py --expect TEXT -- COMMAND [ARG...]
#       runs COMMAND and fails unless it exits 0 and prints TEXT.
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import re
import subprocess
import sys


def fenced_blocks(markdown):
    return [m.group(1) for m in
            re.finditer(r'^```[^\n]*\n(.*?)^```[ \t]*$', markdown, re.M | re.S)]


def check_readme(readme, files):
    with open(readme, encoding='utf-8') as f:
        blocks = fenced_blocks(f.read())
    status = 0
    for path in files:
        with open(path, encoding='utf-8') as f:
            body = f.read()
        if body not in blocks:
            print(f'{readme} does not show {path} verbatim in a fenced code '
                  f'block: copy the file into the README (or the README '
                  f'snippet back into the file)', file=sys.stderr)
            status = 1
        else:
            print(f'ok: {path} is in {readme}')
    return status


def run_expect(text, command):
    proc = subprocess.run(command, capture_output=True, text=True, timeout=60)
    sys.stdout.write(proc.stdout)
    sys.stderr.write(proc.stderr)
    if proc.returncode != 0:
        print(f'{command[0]} exited with {proc.returncode}', file=sys.stderr)
        return 1
    if text not in proc.stdout:
        print(f'{command[0]} did not print {text!r}', file=sys.stderr)
        return 1
    return 0


def main(argv):
    if len(argv) >= 4 and argv[1] == '--expect' and argv[3] == '--':
        return run_expect(argv[2], argv[4:])
    if len(argv) >= 3:
        return check_readme(argv[1], argv[2:])
    print(__doc__ or 'usage: see the comment at the top', file=sys.stderr)
    return 2


if __name__ == '__main__':
    sys.exit(main(sys.argv))
