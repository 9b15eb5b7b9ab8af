#!/usr/bin/python3
# More of CPython's own asyncio tests (Debian's libpython3.X-testsuite) on
# evl_asyncio.EvlEventLoop, beyond test_events (test_cpython_events.py):
# sockets (sock_* and sendfile, native and fallback), servers, streams,
# subprocesses with every child watcher, TLS, and tasks, locks, queues,
# timeouts and task groups, whose tests make their loops through the policy
# or asyncio.Runner.
#
# Each CPython class is subclassed here in one of three ways, as its tests
# make their loop:
#   loop     create_event_loop() / new_loop() return EvlEventLoop()
#   policy   the class runs with EvlEventLoopPolicy set, so that
#            asyncio.new_event_loop(), policy.new_event_loop() and
#            asyncio.Runner make EvlEventLoops
# Classes whose tests use a mock loop (test_utils.TestLoop) or a specific
# stock loop are not listed: they would not run on the Evl loop at all.
#
# Run uninstalled (meson test does this, suite 'asyncio', once per loop kind):
#   EVL_LOOP=selector GI_TYPELIB_PATH=build/introspection \
#     LD_LIBRARY_PATH=build/src PYTHONPATH=introspection/python \
#     /usr/bin/python3 introspection/python/tests/test_cpython_asyncio.py
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import importlib
import sys
import unittest

try:
    from test.test_asyncio import utils as test_utils  # noqa: F401
except ImportError as exc:   # no libpython3.X-testsuite
    print(f'1..0 # SKIP CPython test suite not installed: {exc}')
    sys.exit(77)

import asyncio  # noqa: E402

import evl_asyncio  # noqa: E402

# (module, class, how, extra bases)
CLASSES = [
    # sock_recv, sock_recv_into, sock_sendall, sock_connect, sock_accept,
    # create_connection/create_server on sockets, huge payloads, cancellation
    ('test_sock_lowlevel', 'BaseSockTestsMixin', 'loop', ['test_utils.TestCase']),
    # loop.sendfile and sock_sendfile: os.sendfile and the fallback
    ('test_sendfile', 'SendfileTestsBase', 'loop', ['test_utils.TestCase']),
    ('test_server', 'BaseStartServer', 'loop', ['unittest.TestCase']),
    ('test_sslproto', 'BaseStartTLS', 'loop', ['unittest.TestCase']),
    ('test_streams', 'StreamTests', 'policy', []),
    ('test_ssl', 'TestSSL', 'policy', []),
    ('test_unix_events', 'TestFunctional', 'policy', []),
    ('test_subprocess', 'SubprocessThreadedWatcherTests', 'policy', []),
    ('test_subprocess', 'SubprocessSafeWatcherTests', 'policy', []),
    ('test_subprocess', 'SubprocessFastWatcherTests', 'policy', []),
    ('test_subprocess', 'SubprocessPidfdWatcherTests', 'policy', []),
    ('test_tasks', 'RunCoroutineThreadsafeTests', 'policy', []),
    ('test_tasks', 'SleepTests', 'policy', []),
    ('test_tasks', 'CompatibilityTests', 'policy', []),
    ('test_tasks', 'CTask_CFuture_Tests', 'policy', []),
    ('test_tasks', 'PyTask_PyFuture_Tests', 'policy', []),
    ('test_tasks', 'CCurrentLoopTests', 'policy', []),
    ('test_tasks', 'CoroutineGatherTests', 'policy', []),
    ('test_locks', 'LockTests', 'policy', []),
    ('test_locks', 'EventTests', 'policy', []),
    ('test_locks', 'ConditionTests', 'policy', []),
    ('test_locks', 'SemaphoreTests', 'policy', []),
    ('test_locks', 'BarrierTests', 'policy', []),
    ('test_queues', 'QueueBasicTests', 'policy', []),
    ('test_queues', 'QueueGetTests', 'policy', []),
    ('test_queues', 'QueuePutTests', 'policy', []),
    ('test_queues', 'QueueJoinTests', 'policy', []),
    ('test_taskgroups', 'TestTaskGroup', 'policy', []),
    ('test_timeouts', 'TimeoutTests', 'policy', []),
    ('test_waitfor', 'AsyncioWaitForTest', 'policy', []),
]


class EvlLoopMixin:
    """Tests that ask for their loop: they get an EvlEventLoop."""

    def create_event_loop(self):
        return evl_asyncio.EvlEventLoop()

    def new_loop(self):
        return evl_asyncio.EvlEventLoop()


class EvlPolicyMixin:
    """Tests that make their loop through the policy (asyncio.new_event_loop,
    asyncio.Runner, IsolatedAsyncioTestCase): EvlEventLoopPolicy for the
    whole class (IsolatedAsyncioTestCase makes its loop before setUp)."""

    @classmethod
    def setUpClass(cls):
        asyncio.set_event_loop_policy(evl_asyncio.EvlEventLoopPolicy())
        super().setUpClass()

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            asyncio.set_event_loop_policy(None)


def _define(module_name, class_name, how, extra_bases):
    try:
        module = importlib.import_module('test.test_asyncio.' + module_name)
    except ImportError as exc:   # e.g. test_ssl without the ssl module
        print(f'# {module_name} not run: {exc}', file=sys.stderr)
        return
    cls = getattr(module, class_name, None)
    if cls is None:
        # Not in this Python version (or not on this platform).
        print(f'# {module_name}.{class_name} not in this Python', file=sys.stderr)
        return
    mixin = EvlLoopMixin if how == 'loop' else EvlPolicyMixin
    bases = [mixin, cls]
    for name in extra_bases:
        owner, _, attr = name.partition('.')
        bases.append(getattr({'unittest': unittest, 'test_utils': test_utils}[owner], attr))
    name = f'Evl_{module_name}_{class_name}'
    globals()[name] = type(name, tuple(bases), {'__module__': __name__})


for _spec in CLASSES:
    _define(*_spec)
del _spec


def tearDownModule():
    asyncio.set_event_loop_policy(None)


if __name__ == '__main__':
    unittest.main()
