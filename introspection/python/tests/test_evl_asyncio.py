#!/usr/bin/python3
# Tests of evl_asyncio beyond CPython's own (test_cpython_events.py): the
# GLib bridge in both directions, nested runs, loop_factory, the policy,
# signals, handles and threads, on the loop kind EVL_LOOP picks.
#
# Run uninstalled (meson test does this, suite 'asyncio', once per loop kind):
#   EVL_LOOP=proactor GI_TYPELIB_PATH=build/introspection \
#     LD_LIBRARY_PATH=build/src PYTHONPATH=introspection/python \
#     /usr/bin/python3 introspection/python/tests/test_evl_asyncio.py
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import asyncio
import contextvars
import gc
import logging
import os
import signal
import socket
import sys
import tempfile
import threading
import time
import unittest
import warnings
import weakref

import gi

gi.require_version('GLib', '2.0')
gi.require_version('Gio', '2.0')
gi.require_version('Evl', '1')
from gi.repository import GLib, Gio, Evl  # noqa: E402

import evl_asyncio  # noqa: E402

# A test that hangs fails instead (the meson timeout would kill the log).
WATCHDOG = 30


def expected_loop_type():
    kind = os.environ.get('EVL_LOOP', 'selector')
    return Evl.ProactorLoop if kind == 'proactor' else Evl.SelectorLoop


def proactor_available():
    try:
        Evl.ProactorLoop.new().close()
    except GLib.Error:
        return False
    return True


def glib_main_loop_run(main_loop, timeout=WATCHDOG):
    """GLib.MainLoop.run() with a watchdog that quits it (and fails)."""
    fired = []

    def watchdog():
        fired.append(True)
        main_loop.quit()
        return GLib.SOURCE_REMOVE

    wid = GLib.timeout_add(int(timeout * 1000), watchdog)
    main_loop.run()
    if not fired:
        GLib.source_remove(wid)
    if fired:
        raise AssertionError('GLib.MainLoop.run() timed out')


async def echo_roundtrip(payload=b'hello over TCP'):
    """A TCP echo server and one client round trip with asyncio streams."""
    async def handle(reader, writer):
        data = await reader.read(1024)
        writer.write(data)
        await writer.drain()
        writer.close()
        await writer.wait_closed()

    server = await asyncio.start_server(handle, '127.0.0.1', 0)
    port = server.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection('127.0.0.1', port)
    writer.write(payload)
    await writer.drain()
    echoed = await reader.read(1024)
    writer.close()
    await writer.wait_closed()
    server.close()
    await server.wait_closed()
    return echoed


class LoopKindTests(unittest.TestCase):

    def test_default_loop_kind_follows_evl_loop(self):
        loop = evl_asyncio.EvlEventLoop()
        try:
            want = expected_loop_type()
            if want is Evl.ProactorLoop and not proactor_available():
                want = Evl.SelectorLoop   # the policy falls back
            self.assertIsInstance(loop.evl_loop, want)
            self.assertIsInstance(loop, asyncio.AbstractEventLoop)
        finally:
            loop.close()
        self.assertTrue(loop.evl_loop.is_closed())

    def test_explicit_evl_loop(self):
        evl = Evl.SelectorLoop.new(None)
        loop = evl_asyncio.EvlEventLoop(evl)
        try:
            self.assertIs(loop.evl_loop, evl)
            self.assertEqual(loop.run_until_complete(asyncio.sleep(0, 'x')), 'x')
        finally:
            loop.close()
        self.assertTrue(evl.is_closed())
        self.assertRaises(RuntimeError, evl_asyncio.EvlEventLoop, evl)
        self.assertRaises(TypeError, evl_asyncio.EvlEventLoop, object())

    def test_time_is_the_evl_clock(self):
        loop = evl_asyncio.EvlEventLoop()
        try:
            before = loop.evl_loop.time()
            now = loop.time()
            self.assertLessEqual(before, now)
            self.assertLessEqual(now, loop.evl_loop.time())
        finally:
            loop.close()


class LoopTestCase(unittest.TestCase):
    """A fresh EvlEventLoop per test, closed afterwards."""

    def setUp(self):
        self.loop = evl_asyncio.EvlEventLoop()
        asyncio.set_event_loop(None)

    def tearDown(self):
        if not self.loop.is_closed():
            self.loop.run_until_complete(self.loop.shutdown_default_executor())
            self.loop.close()
        self.loop = None

    def run_coro(self, coro, timeout=WATCHDOG):
        return self.loop.run_until_complete(asyncio.wait_for(coro, timeout))


class HandleTests(LoopTestCase):

    def test_call_soon_fifo_and_next_iteration(self):
        order = []

        def first():
            order.append('first')
            self.loop.call_soon(order.append, 'scheduled-by-first')

        self.loop.call_soon(first)
        self.loop.call_soon(order.append, 'second')
        self.loop.call_soon(self.loop.stop)
        self.loop.run_forever()
        # stop() ends the run after the iteration: the callback scheduled
        # while the iteration ran waits for the next one.
        self.assertEqual(order, ['first', 'second'])
        self.loop.call_soon(self.loop.stop)
        self.loop.run_forever()
        self.assertEqual(order, ['first', 'second', 'scheduled-by-first'])

    def test_timers_same_deadline_fifo_and_never_early(self):
        order = []
        when = self.loop.time() + 0.05
        for i in range(5):
            self.loop.call_at(when, lambda i=i: order.append((i, self.loop.time())))
        self.loop.call_at(when + 0.01, self.loop.stop)
        self.loop.run_forever()
        self.assertEqual([i for i, _ in order], list(range(5)))
        for _, t in order:
            self.assertGreaterEqual(t, when)

    def test_cancel_timer_and_handle(self):
        ran = []
        timer = self.loop.call_later(0.01, ran.append, 'timer')
        handle = self.loop.call_soon(ran.append, 'handle')
        self.assertIsInstance(timer, asyncio.TimerHandle)
        self.assertIsInstance(handle, asyncio.Handle)
        timer.cancel()
        handle.cancel()
        self.assertTrue(timer.cancelled())
        self.assertTrue(handle.cancelled())
        self.assertIsNone(timer._evl_handle)
        self.run_coro(asyncio.sleep(0.05))
        self.assertEqual(ran, [])

    def test_handle_repr_as_asyncio(self):
        def cb():
            pass
        timer = self.loop.call_later(10, cb)
        self.assertTrue(repr(timer).startswith('<TimerHandle when='), repr(timer))
        self.assertIn('cb()', repr(timer))
        timer.cancel()
        self.assertTrue(repr(timer).startswith('<TimerHandle cancelled when='), repr(timer))
        handle = self.loop.call_soon(cb)
        self.assertRegex(repr(handle), r'^<Handle [\w.<>]*cb\(\) at .*>$')
        handle.cancel()

    def test_callbacks_run_in_their_context(self):
        var = contextvars.ContextVar('var', default='unset')
        seen = []

        def cb():
            seen.append(var.get())

        ctx = contextvars.copy_context()
        ctx.run(var.set, 'in-ctx')
        self.loop.call_soon(cb, context=ctx)
        self.loop.call_later(0.001, cb, context=ctx)
        r, w = socket.socketpair()
        with r, w:
            def reader():
                seen.append(var.get())
                self.loop.remove_reader(r)
            ctx.run(self.loop.add_reader, r, reader)
            w.send(b'x')
            var.set('outside')
            self.run_coro(asyncio.sleep(0.02))
        self.assertEqual(seen[:2], ['in-ctx', 'in-ctx'])
        # add_reader's callback runs in a copy of the caller's context.
        self.assertEqual(seen[2], 'in-ctx')

    def test_exception_in_callback_goes_to_the_handler(self):
        contexts = []
        self.loop.set_exception_handler(lambda loop, ctx: contexts.append(ctx))

        def boom():
            raise ZeroDivisionError

        self.loop.call_soon(boom)
        self.loop.call_later(0.001, boom)
        self.run_coro(asyncio.sleep(0.02))
        self.assertEqual(len(contexts), 2)
        for ctx in contexts:
            self.assertIsInstance(ctx['exception'], ZeroDivisionError)
            self.assertIn('handle', ctx)

    def test_base_exception_ends_the_run(self):
        def interrupt():
            raise KeyboardInterrupt

        ran = []
        self.loop.call_soon(interrupt)
        self.loop.call_soon(ran.append, 'after')
        with self.assertRaises(KeyboardInterrupt):
            self.loop.run_forever()
        # The rest of the iteration is kept for the next run, as asyncio.
        self.assertEqual(ran, [])
        self.loop.call_soon(self.loop.stop)
        self.loop.run_forever()
        self.assertEqual(ran, ['after'])

    def test_stop_before_run_does_one_iteration(self):
        ran = []
        self.loop.stop()
        self.loop.call_soon(ran.append, 1)
        self.loop.run_forever()
        self.assertEqual(ran, [1])

    def test_debug_mode_logs_slow_callbacks(self):
        self.loop.set_debug(True)
        self.loop.slow_callback_duration = 0.01
        with self.assertLogs('asyncio', logging.WARNING) as logs:
            self.loop.call_soon(time.sleep, 0.03)
            self.run_coro(asyncio.sleep(0.01))
        self.assertTrue(any('Executing <Handle' in m and 'took' in m
                            for m in logs.output), logs.output)
        handle = self.loop.call_soon(lambda: None)
        self.assertIsNotNone(handle._source_traceback)

    def test_unclosed_loop_is_collected_and_warns(self):
        loop = evl_asyncio.EvlEventLoop()
        loop.run_until_complete(asyncio.sleep(0))
        ref = weakref.ref(loop)
        evl = loop.evl_loop
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter('always')
            del loop
            gc.collect()
        self.assertTrue(any(issubclass(w.category, ResourceWarning) for w in caught))
        self.assertTrue(evl.is_closed())
        del caught   # the warning holds the loop
        gc.collect()
        self.assertIsNone(ref())


class ThreadTests(LoopTestCase):

    def test_call_soon_threadsafe_wakes_the_loop(self):
        results = []

        async def main():
            fut = self.loop.create_future()

            def worker():
                time.sleep(0.05)
                for i in range(100):
                    self.loop.call_soon_threadsafe(results.append, i)
                self.loop.call_soon_threadsafe(fut.set_result, 'done')

            threading.Thread(target=worker).start()
            return await fut

        self.assertEqual(self.run_coro(main()), 'done')
        self.assertEqual(results, list(range(100)))

    def test_run_in_executor_and_to_thread(self):
        async def main():
            a = await self.loop.run_in_executor(None, threading.get_ident)
            b = await asyncio.to_thread(threading.get_ident)
            return a, b

        a, b = self.run_coro(main())
        self.assertNotEqual(a, threading.get_ident())
        self.assertNotEqual(b, threading.get_ident())

    def test_loop_in_another_thread(self):
        out = {}

        def thread_main():
            try:
                loop = evl_asyncio.new_event_loop()
                out['attached'] = loop.is_attached()
                try:
                    out['echo'] = loop.run_until_complete(echo_roundtrip(b'thread'))
                    self.assertRaises(RuntimeError, loop.add_signal_handler,
                                      signal.SIGUSR1, lambda: None)
                finally:
                    loop.close()
            except BaseException as exc:   # reported in the main thread
                out['error'] = exc

        t = threading.Thread(target=thread_main)
        t.start()
        t.join(WATCHDOG)
        self.assertNotIn('error', out, out.get('error'))
        self.assertEqual(out, {'attached': False, 'echo': b'thread'})


class NetworkTests(LoopTestCase):

    def test_tcp_echo_streams(self):
        self.assertEqual(self.run_coro(echo_roundtrip()), b'hello over TCP')

    def test_sock_primitives(self):
        async def main():
            listener = socket.socket()
            listener.bind(('127.0.0.1', 0))
            listener.listen()
            listener.setblocking(False)
            client = socket.socket()
            client.setblocking(False)
            with listener, client:
                accept = self.loop.create_task(self.loop.sock_accept(listener))
                await self.loop.sock_connect(client, listener.getsockname())
                conn, _ = await accept
                with conn:
                    await self.loop.sock_sendall(client, b'x' * 100000)
                    got = bytearray()
                    buf = bytearray(4096)
                    while len(got) < 100000:
                        n = await self.loop.sock_recv_into(conn, buf)
                        got += buf[:n]
                    await self.loop.sock_sendall(conn, b'pong')
                    pong = await self.loop.sock_recv(client, 10)
                    with tempfile.TemporaryFile() as f:
                        f.write(b'file contents')
                        f.flush()
                        f.seek(0)
                        sent = await self.loop.sock_sendfile(client, f)
                    data = await self.loop.sock_recv(conn, 100)
            return len(got), pong, sent, data

        self.assertEqual(self.run_coro(main()), (100000, b'pong', 13, b'file contents'))

    def test_udp_and_unix_sockets(self):
        async def main():
            received = self.loop.create_future()

            class Echo(asyncio.DatagramProtocol):
                def connection_made(self, transport):
                    self.transport = transport

                def datagram_received(self, data, addr):
                    self.transport.sendto(data, addr)

            class Client(asyncio.DatagramProtocol):
                def datagram_received(self, data, addr):
                    received.set_result(data)

            server, _ = await self.loop.create_datagram_endpoint(
                Echo, local_addr=('127.0.0.1', 0))
            client, _ = await self.loop.create_datagram_endpoint(
                Client, remote_addr=server.get_extra_info('sockname'))
            client.sendto(b'datagram')
            udp = await received
            client.close()
            server.close()

            with tempfile.TemporaryDirectory() as d:
                path = os.path.join(d, 'sock')

                async def handle(reader, writer):
                    writer.write(await reader.readline())
                    await writer.drain()
                    writer.close()

                srv = await asyncio.start_unix_server(handle, path)
                reader, writer = await asyncio.open_unix_connection(path)
                writer.write(b'unix line\n')
                line = await reader.readline()
                writer.close()
                await writer.wait_closed()
                srv.close()
                await srv.wait_closed()
            return udp, line

        self.assertEqual(self.run_coro(main()), (b'datagram', b'unix line\n'))

    def test_subprocess_and_pipes(self):
        async def main():
            proc = await asyncio.create_subprocess_exec(
                sys.executable, '-c', 'import sys; sys.stdout.write(sys.stdin.read().upper())',
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
            out, _ = await proc.communicate(b'piped')
            shell = await asyncio.create_subprocess_shell('exit 3')
            return out, proc.returncode, await shell.wait()

        self.assertEqual(self.run_coro(main()), (b'PIPED', 0, 3))


class SignalTests(LoopTestCase):

    def test_signal_handler(self):
        got = []

        async def main():
            done = self.loop.create_future()

            def handler(arg):
                got.append(arg)
                done.set_result(None)

            self.loop.add_signal_handler(signal.SIGUSR1, handler, 'usr1')
            self.assertIs(signal.getsignal(signal.SIGUSR1), evl_asyncio._sighandler_noop)
            self.loop.call_later(0.01, os.kill, os.getpid(), signal.SIGUSR1)
            await done
            self.assertTrue(self.loop.remove_signal_handler(signal.SIGUSR1))
            self.assertFalse(self.loop.remove_signal_handler(signal.SIGUSR1))

        self.run_coro(main())
        self.assertEqual(got, ['usr1'])
        self.assertEqual(signal.getsignal(signal.SIGUSR1), signal.SIG_DFL)

    def test_asyncio_errors(self):
        self.assertRaises(TypeError, self.loop.add_signal_handler, 'x', print)
        self.assertRaises(ValueError, self.loop.add_signal_handler, 0, print)
        self.assertRaises(RuntimeError, self.loop.add_signal_handler, signal.SIGKILL, print)

        async def coro():
            pass
        self.assertRaises(TypeError, self.loop.add_signal_handler, signal.SIGUSR1, coro)

    def test_ctrl_c_while_waiting(self):
        # SIGINT arrives while the loop waits in C: KeyboardInterrupt comes
        # out of run_until_complete at once, as with asyncio's own loop.
        threading.Timer(0.1, os.kill, (os.getpid(), signal.SIGINT)).start()
        start = time.monotonic()
        with self.assertRaises(KeyboardInterrupt):
            self.loop.run_until_complete(asyncio.sleep(WATCHDOG))
        self.assertLess(time.monotonic() - start, WATCHDOG / 2)
        self.assertIs(signal.getsignal(signal.SIGINT), signal.default_int_handler)

    def test_ctrl_c_cancels_asyncio_run(self):
        # asyncio.Runner's SIGINT handler cancels the main task.
        cancelled = []

        async def main():
            try:
                await asyncio.sleep(WATCHDOG)
            except asyncio.CancelledError:
                cancelled.append(True)
                raise

        threading.Timer(0.1, os.kill, (os.getpid(), signal.SIGINT)).start()
        with self.assertRaises(KeyboardInterrupt):
            with asyncio.Runner(loop_factory=evl_asyncio.new_event_loop) as runner:
                runner.run(main())
        self.assertEqual(cancelled, [True])


class GLibDrivenByAsyncioTests(LoopTestCase):
    """evloop drives GLib: GLib sources fire while asyncio runs."""

    def setUp(self):
        super().setUp()
        if self.loop.evl_loop.get_context() != GLib.MainContext.default():
            self.skipTest('the loop does not drive the default main context')

    def test_glib_timeout_and_idle_fire_during_run(self):
        async def main():
            fut = self.loop.create_future()
            fired = []

            def idle():
                fired.append('idle')
                return GLib.SOURCE_REMOVE

            def timeout():
                fired.append('timeout')
                fut.set_result(asyncio.get_running_loop())
                return GLib.SOURCE_REMOVE

            GLib.idle_add(idle)
            GLib.timeout_add(20, timeout)
            running = await fut
            return fired, running

        fired, running = self.run_coro(main())
        self.assertEqual(fired, ['idle', 'timeout'])
        self.assertIs(running, self.loop)

    def test_gio_async_call_during_run(self):
        with tempfile.NamedTemporaryFile() as f:
            f.write(b'read by GIO')
            f.flush()

            async def main():
                fut = self.loop.create_future()

                def done(gfile, result):
                    ok, contents, etag = gfile.load_contents_finish(result)
                    fut.set_result(contents)

                Gio.File.new_for_path(f.name).load_contents_async(None, done)
                return await fut

            self.assertEqual(self.run_coro(main()), b'read by GIO')

    def test_glib_source_does_not_starve_asyncio(self):
        # A busy GLib idle keeps firing; asyncio timers still run.
        count = [0]

        def idle():
            count[0] += 1
            return GLib.SOURCE_CONTINUE

        sid = GLib.idle_add(idle)
        try:
            self.run_coro(asyncio.sleep(0.05))
        finally:
            GLib.source_remove(sid)
        self.assertGreater(count[0], 0)


class AsyncioDrivenByGLibTests(unittest.TestCase):
    """GLib drives evloop: asyncio tasks run during GLib.MainLoop.run()."""

    def setUp(self):
        self.loop = evl_asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)

    def tearDown(self):
        asyncio.set_event_loop(None)
        self.loop.close()

    def test_new_event_loop_is_attached_on_the_main_thread(self):
        self.assertTrue(self.loop.is_attached())
        self.assertFalse(self.loop.detach() is False)
        self.assertFalse(self.loop.is_attached())
        self.loop.attach()
        self.assertTrue(self.loop.is_attached())

    def test_tasks_run_during_glib_main_loop(self):
        main_loop = GLib.MainLoop()
        seen = {}

        async def task():
            seen['running'] = asyncio.get_running_loop()
            seen['is_running'] = self.loop.is_running()
            await asyncio.sleep(0.01)
            seen['echo'] = await echo_roundtrip(b'under GLib')
            seen['thread'] = await asyncio.to_thread(lambda: 'from a thread')
            main_loop.quit()

        t = self.loop.create_task(task())
        self.assertFalse(self.loop.is_running())
        glib_main_loop_run(main_loop)
        self.assertTrue(t.done())
        t.result()
        self.assertEqual(seen, {'running': self.loop, 'is_running': True,
                                'echo': b'under GLib', 'thread': 'from a thread'})
        self.assertFalse(self.loop.is_running())
        self.assertIsNone(asyncio._get_running_loop())

    def test_async_generators_finalized_under_glib(self):
        # The loop's async-generator hooks are in place while GLib
        # dispatches it: a dropped generator is closed on the loop.
        main_loop = GLib.MainLoop()
        closed = []

        async def agen():
            try:
                yield 1
                yield 2
            finally:
                closed.append(asyncio.get_running_loop())

        async def task():
            gen = agen()
            await gen.__anext__()
            del gen
            gc.collect()
            for _ in range(10):
                await asyncio.sleep(0)
                if closed:
                    break
            main_loop.quit()

        self.loop.create_task(task())
        glib_main_loop_run(main_loop)
        self.assertEqual(closed, [self.loop])

        async def keep_one():
            gen = agen()
            await gen.__anext__()
            return gen

        gen = self.loop.run_until_complete(keep_one())
        self.loop.run_until_complete(self.loop.shutdown_asyncgens())
        self.assertEqual(closed, [self.loop, self.loop])
        del gen

    def test_run_until_complete_from_a_glib_callback(self):
        # A GTK-style callback (not an asyncio one) may run a coroutine to
        # completion while GLib runs: the loop is not running then.
        main_loop = GLib.MainLoop()
        out = []

        def on_idle():
            out.append(self.loop.run_until_complete(echo_roundtrip(b'nested in GLib')))
            main_loop.quit()
            return GLib.SOURCE_REMOVE

        GLib.idle_add(on_idle)
        glib_main_loop_run(main_loop)
        self.assertEqual(out, [b'nested in GLib'])

    def test_detached_loop_does_not_run_under_glib(self):
        self.loop.detach()
        ran = []
        self.loop.call_soon(ran.append, 1)
        ctx = GLib.MainContext.default()
        for _ in range(10):
            ctx.iteration(False)
        self.assertEqual(ran, [])
        self.loop.attach()
        for _ in range(10):
            ctx.iteration(False)
        self.assertEqual(ran, [1])


class NestedRunTests(unittest.TestCase):

    def test_nested_run_refused_by_default(self):
        loop = evl_asyncio.EvlEventLoop()
        try:
            async def inner():
                return 1

            async def outer():
                coro = inner()
                try:
                    loop.run_until_complete(coro)
                finally:
                    coro.close()

            with self.assertRaisesRegex(RuntimeError, 'This event loop is already running'):
                loop.run_until_complete(outer())
        finally:
            loop.close()

    def test_other_loop_running_is_refused(self):
        loop = evl_asyncio.EvlEventLoop(allow_nested=True)
        other = evl_asyncio.EvlEventLoop(allow_nested=True)
        try:
            async def outer():
                coro = asyncio.sleep(0)
                with self.assertRaisesRegex(RuntimeError, 'another loop is running'):
                    other.run_until_complete(coro)
                coro.close()
            loop.run_until_complete(outer())
        finally:
            loop.close()
            other.close()

    def test_nested_run_from_a_glib_callback_during_asyncio_run(self):
        # asyncio.run() drives GLib; a GLib callback (a GTK signal handler,
        # say) runs a coroutine to completion: allow_nested.
        loop = evl_asyncio.EvlEventLoop(allow_nested=True)
        if loop.evl_loop.get_context() != GLib.MainContext.default():
            loop.close()
            self.skipTest('the loop does not drive the default main context')
        results = []
        try:
            async def main():
                done = loop.create_future()

                def gtk_callback():
                    results.append(loop.run_until_complete(echo_roundtrip(b'nested')))
                    done.set_result(None)
                    return GLib.SOURCE_REMOVE

                GLib.idle_add(gtk_callback)
                await asyncio.wait_for(done, WATCHDOG)

            loop.run_until_complete(main())
        finally:
            loop.close()
        self.assertEqual(results, [b'nested'])

    def test_nested_run_inside_a_task(self):
        loop = evl_asyncio.EvlEventLoop(allow_nested=True)
        try:
            async def inner():
                await asyncio.sleep(0.01)
                return asyncio.current_task()

            async def outer():
                me = asyncio.current_task()
                inner_task = loop.run_until_complete(inner())
                self.assertIs(asyncio.current_task(), me)
                self.assertIsNot(inner_task, me)
                return 'outer done'

            self.assertEqual(loop.run_until_complete(outer()), 'outer done')
            self.assertFalse(loop.is_running())
        finally:
            loop.close()


class FactoryAndPolicyTests(unittest.TestCase):

    def tearDown(self):
        asyncio.set_event_loop_policy(None)

    def test_loop_factory(self):
        async def main():
            return type(asyncio.get_running_loop()), await echo_roundtrip(b'factory')

        with asyncio.Runner(loop_factory=evl_asyncio.new_event_loop) as runner:
            self.assertEqual(runner.run(main()), (evl_asyncio.EvlEventLoop, b'factory'))
        if sys.version_info >= (3, 12):
            self.assertEqual(asyncio.run(main(), loop_factory=evl_asyncio.new_event_loop),
                             (evl_asyncio.EvlEventLoop, b'factory'))

    def test_policy_asyncio_run(self):
        asyncio.set_event_loop_policy(evl_asyncio.EvlEventLoopPolicy())

        async def main():
            loop = asyncio.get_running_loop()
            await asyncio.sleep(0.001)
            return type(loop), loop.is_attached()

        self.assertEqual(asyncio.run(main()), (evl_asyncio.EvlEventLoop, True))

    def test_policy_main_thread_loop_runs_under_glib(self):
        asyncio.set_event_loop_policy(evl_asyncio.EvlEventLoopPolicy())
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', DeprecationWarning)
            loop = asyncio.get_event_loop()
        try:
            self.assertIsInstance(loop, evl_asyncio.EvlEventLoop)
            self.assertTrue(loop.is_attached())
            main_loop = GLib.MainLoop()

            async def task():
                await asyncio.sleep(0.01)
                main_loop.quit()
                return 'ran under GLib'

            t = loop.create_task(task())
            glib_main_loop_run(main_loop)
            self.assertEqual(t.result(), 'ran under GLib')
        finally:
            asyncio.set_event_loop(None)
            loop.close()

    def test_policy_allow_nested(self):
        policy = evl_asyncio.EvlEventLoopPolicy(allow_nested=True)
        loop = policy.new_event_loop()
        try:
            async def outer():
                return loop.run_until_complete(asyncio.sleep(0, 'inner'))
            self.assertEqual(loop.run_until_complete(outer()), 'inner')
        finally:
            loop.close()


if __name__ == '__main__':
    unittest.main()
