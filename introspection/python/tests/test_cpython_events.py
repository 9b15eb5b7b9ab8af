#!/usr/bin/python3
# CPython's own event-loop tests (Debian's libpython3.X-testsuite,
# test.test_asyncio.test_events) run on evl_asyncio.EvlEventLoop, the way
# test_events runs them on its selector loops: EventLoopTestsMixin (through
# UnixEventLoopTestsMixin, which installs a SafeChildWatcher as CPython's
# own Unix loop tests do) and SubprocessTestsMixin, with create_event_loop()
# returning EvlEventLoop().
#
# Run uninstalled (meson test does this, suite 'asyncio', once per loop kind):
#   EVL_LOOP=selector GI_TYPELIB_PATH=build/introspection \
#     LD_LIBRARY_PATH=build/src PYTHONPATH=introspection/python \
#     /usr/bin/python3 introspection/python/tests/test_cpython_events.py
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import sys
import unittest

try:
    from test.test_asyncio import test_events
    from test.test_asyncio import utils as test_utils
except ImportError as exc:   # no libpython3.X-testsuite
    print(f'1..0 # SKIP CPython test suite not installed: {exc}')
    sys.exit(77)

import asyncio  # noqa: E402

import evl_asyncio  # noqa: E402
from gi.repository import Evl  # noqa: E402


class EvlEventLoopTests(test_events.UnixEventLoopTestsMixin,
                        test_events.SubprocessTestsMixin,
                        test_utils.TestCase):

    def create_event_loop(self):
        return evl_asyncio.EvlEventLoop()


class EvlPidfdSubprocessTests(test_events.SubprocessTestsMixin,
                              test_utils.TestCase):
    """The subprocess tests again with asyncio's pidfd child watcher, which
    watches each child's pidfd through the loop's add_reader."""

    def create_event_loop(self):
        return evl_asyncio.EvlEventLoop()

    def setUp(self):
        super().setUp()
        self.loop = self.create_event_loop()
        self.set_event_loop(self.loop)
        try:
            watcher = asyncio.PidfdChildWatcher()
            watcher.attach_loop(self.loop)
        except (AttributeError, OSError) as exc:
            self.skipTest(f'no pidfd child watcher: {exc}')
        asyncio.set_child_watcher(watcher)

    def tearDown(self):
        asyncio.set_child_watcher(None)
        super().tearDown()


def tearDownModule():
    asyncio.set_event_loop_policy(None)


if __name__ == '__main__':
    unittest.main()
