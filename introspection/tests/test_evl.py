#!/usr/bin/python3
# Binding test: evloop-glib from Python through PyGObject (Evl-1.typelib).
#
# Run uninstalled (meson test does this, suite 'bindings'):
#   GI_TYPELIB_PATH=build/introspection LD_LIBRARY_PATH=build/src \
#     /usr/bin/python3 introspection/tests/test_evl.py
#
# The loop tests run once per loop kind (epoll, poll, select selectors and
# the proactor, which skips where io_uring is unavailable).
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import gc
import os
import signal
import socket
import sys
import threading
import unittest

import gi

gi.require_version('GLib', '2.0')
gi.require_version('GObject', '2.0')
gi.require_version('Gio', '2.0')
gi.require_version('Evl', '1')
from gi.repository import GLib, GObject, Gio, Evl  # noqa: E402


def loop_error(code):
    """A predicate for assertRaises results: GLib.Error in EVL_LOOP_ERROR."""
    def check(err):
        return err.matches(Evl.LoopError.quark(), code)
    return check


def run_async(loop, start, finish):
    """Starts an asynchronous operation with a GLib-style callback and runs
    the loop until that callback ran; returns what finish() returns or
    raises its GLib.Error."""
    future = loop.create_future()
    outcome = {}

    def done(source, result, *user_data):
        try:
            outcome['value'] = finish(source, result)
        except GLib.Error as e:
            outcome['error'] = e
        future.set_result(None)

    start(done)
    loop.run_until_complete(future)
    if 'error' in outcome:
        raise outcome['error']
    return outcome['value']


class LoopTests:
    """Tests that run on every loop kind; subclasses define make_loop()."""

    def setUp(self):
        self.loop = self.make_loop()
        self.sockets = []

    def tearDown(self):
        for s in self.sockets:
            s.close()
        self.assertTrue(self.loop.close())
        self.assertTrue(self.loop.is_closed())
        del self.loop
        gc.collect()

    def socketpair(self):
        a, b = socket.socketpair()
        a.setblocking(False)
        b.setblocking(False)
        self.sockets += [a, b]
        return a, b

    # -- scheduling ---------------------------------------------------------

    def test_call_soon_fifo(self):
        order = []
        for i in range(10):
            self.loop.call_soon(order.append, i)
        self.loop.call_soon(self.loop.stop)
        self.assertTrue(self.loop.run_forever())
        self.assertEqual(order, list(range(10)))

    def test_call_soon_handle(self):
        handle = self.loop.call_soon(lambda: None)
        self.assertIsInstance(handle, Evl.Handle)
        self.assertLess(handle.get_when(), 0)
        self.assertFalse(handle.is_cancelled())

    def test_scheduled_while_running_waits(self):
        # asyncio's rule: a callback scheduled by a ready callback runs in
        # the next iteration, after the ones already queued.
        order = []

        def first():
            order.append('first')
            self.loop.call_soon(order.append, 'scheduled-by-first')

        self.loop.call_soon(first)
        self.loop.call_soon(order.append, 'second')
        self.loop.stop()   # stop before run: exactly one iteration
        self.loop.run_forever()
        self.assertEqual(order, ['first', 'second'])
        self.loop.stop()
        self.loop.run_forever()
        self.assertEqual(order, ['first', 'second', 'scheduled-by-first'])

    def test_call_later_order(self):
        order = []
        start = self.loop.time()
        self.loop.call_later(0.03, order.append, 'c')
        self.loop.call_later(0.01, order.append, 'a')
        self.loop.call_later(0.02, order.append, 'b1')
        self.loop.call_later(0.02, order.append, 'b2')   # same deadline: FIFO
        self.loop.call_soon(order.append, 'soon')
        self.loop.call_later(0.04, self.loop.stop)
        self.loop.run_forever()
        self.assertEqual(order, ['soon', 'a', 'b1', 'b2', 'c'])
        self.assertGreaterEqual(self.loop.time() - start, 0.04 - 0.001)

    def test_call_at(self):
        seen = []
        when = self.loop.time() + 0.02
        handle = self.loop.call_at(when, lambda: seen.append(self.loop.time()))
        self.assertAlmostEqual(handle.get_when(), when, places=6)
        self.loop.call_at(when + 0.01, self.loop.stop)
        self.loop.run_forever()
        self.assertEqual(len(seen), 1)
        self.assertGreaterEqual(seen[0], when - 0.001)

    def test_cancel(self):
        ran = []
        handle = self.loop.call_later(0.01, ran.append, 'timer')
        soon = self.loop.call_soon(ran.append, 'soon')
        handle.cancel()
        soon.cancel()
        self.assertTrue(handle.is_cancelled())
        self.assertTrue(soon.is_cancelled())
        self.loop.call_later(0.03, self.loop.stop)
        self.loop.run_forever()
        self.assertEqual(ran, [])

    def test_call_soon_threadsafe(self):
        handle = self.loop.call_soon_threadsafe(self.loop.stop)
        self.assertIsInstance(handle, Evl.Handle)
        self.assertTrue(self.loop.run_forever())

    def test_running_loop(self):
        seen = []

        def cb():
            seen.append((self.loop.is_running(), Evl.get_running_loop()))
            self.loop.stop()

        self.assertFalse(self.loop.is_running())
        self.assertIsNone(Evl.get_running_loop())
        self.loop.call_soon(cb)
        self.loop.run_forever()
        self.assertEqual(seen, [(True, self.loop)])
        self.assertIsNone(Evl.get_running_loop())

    def test_nested_run(self):
        outer = self.loop.create_future()
        inner = self.loop.create_future()

        def in_outer():
            self.loop.call_later(0.01, inner.set_result, 'inner')
            self.loop.run_until_complete(inner)   # nested run
            outer.set_result(inner.get_result() + '+outer')

        self.loop.call_soon(in_outer)
        self.assertTrue(self.loop.run_until_complete(outer))
        self.assertEqual(outer.get_result(), 'inner+outer')

    # -- futures ------------------------------------------------------------

    def complete_with(self, value):
        future = self.loop.create_future()
        self.loop.call_soon(future.set_result, value)
        self.assertTrue(self.loop.run_until_complete(future))
        self.assertTrue(future.is_done())
        self.assertTrue(future.props.done)
        return future.get_result()

    def test_future_results(self):
        self.assertEqual(self.complete_with(42), 42)
        self.assertEqual(self.complete_with(-7), -7)
        self.assertEqual(self.complete_with('hello'), 'hello')
        self.assertEqual(self.complete_with('ünïcode'), 'ünïcode')
        self.assertEqual(self.complete_with(2.5), 2.5)
        self.assertIs(self.complete_with(True), True)
        self.assertIsNone(self.complete_with(None))
        obj = Gio.Cancellable()
        self.assertIs(self.complete_with(obj), obj)
        big = GObject.Value(GObject.TYPE_INT64, 1 << 40)
        self.assertEqual(self.complete_with(big), 1 << 40)

    def test_future_error(self):
        future = self.loop.create_future()
        err = GLib.Error.new_literal(Gio.io_error_quark(), 'boom',
                                     Gio.IOErrorEnum.CONNECTION_REFUSED)
        self.loop.call_soon(future.set_error, err)
        with self.assertRaises(GLib.Error) as cm:
            self.loop.run_until_complete(future)
        self.assertTrue(cm.exception.matches(Gio.io_error_quark(),
                                             Gio.IOErrorEnum.CONNECTION_REFUSED))
        self.assertEqual(cm.exception.message, 'boom')
        with self.assertRaises(GLib.Error) as cm:
            future.get_result()
        self.assertEqual(cm.exception.code, Gio.IOErrorEnum.CONNECTION_REFUSED)

    def test_future_cancel(self):
        future = self.loop.create_future()
        self.assertTrue(future.cancel())
        self.assertFalse(future.cancel())     # already done
        self.assertTrue(future.is_cancelled())
        with self.assertRaises(GLib.Error) as cm:
            self.loop.run_until_complete(future)
        self.assertTrue(loop_error(Evl.LoopError.CANCELLED)(cm.exception))

    def test_future_states(self):
        future = Evl.Future.new(self.loop)
        self.assertIs(future.get_loop(), self.loop)
        with self.assertRaises(GLib.Error) as cm:
            future.get_result()                 # still pending
        self.assertTrue(loop_error(Evl.LoopError.INVALID)(cm.exception))
        self.assertTrue(future.set_result(1))
        with self.assertRaises(GLib.Error) as cm:
            future.set_result(2)                # already done
        self.assertTrue(loop_error(Evl.LoopError.INVALID)(cm.exception))
        self.assertEqual(future.get_result(), 1)

    def test_done_callbacks(self):
        future = self.loop.create_future()
        calls = []
        future.add_done_callback(lambda f, tag: calls.append((f, tag)), 'one')
        future.add_done_callback(lambda f: calls.append((f, 'two')))
        future.set_result('x')
        self.assertEqual(calls, [])   # scheduled with call_soon, not called
        self.loop.stop()
        self.loop.run_forever()
        self.assertEqual(calls, [(future, 'one'), (future, 'two')])

    # -- exception handler ----------------------------------------------------

    def test_exception_handler(self):
        seen = []
        self.loop.set_exception_handler(
            lambda loop, error, message: seen.append((loop, error, message)))
        err = GLib.Error.new_literal(Evl.LoopError.quark(), 'oops',
                                     Evl.LoopError.FAILED)
        self.loop.call_exception_handler(err, 'while testing')
        self.assertEqual(len(seen), 1)
        loop, error, message = seen[0]
        self.assertIs(loop, self.loop)
        self.assertTrue(error.matches(Evl.LoopError.quark(), Evl.LoopError.FAILED))
        self.assertEqual(message, 'while testing')
        # (PyGObject 3.42 cannot pass None for a nullable GError argument;
        # the handler's error is None when C reports none, see below.)
        self.assertTrue(callable(self.loop.default_exception_handler))
        self.loop.call_exception_handler(err, None)
        self.assertIsNone(seen[1][2])

        # A future whose error is never retrieved reports it when it goes.
        future = self.loop.create_future()
        future.set_error(err)
        del future
        gc.collect()
        self.assertEqual(len(seen), 3)
        self.assertTrue(seen[2][1].matches(Evl.LoopError.quark(),
                                           Evl.LoopError.FAILED))
        self.loop.set_exception_handler(None)

    # -- errors -------------------------------------------------------------

    def test_closed_loop_errors(self):
        loop = self.make_loop()
        self.assertTrue(loop.close())
        self.assertTrue(loop.close())          # idempotent
        with self.assertRaises(GLib.Error) as cm:
            loop.run_forever()
        self.assertTrue(cm.exception.matches(Evl.LoopError.quark(),
                                             Evl.LoopError.CLOSED))
        self.assertEqual(cm.exception.domain, 'evl-loop-error-quark')
        self.assertEqual(cm.exception.code, int(Evl.LoopError.CLOSED))
        a, b = self.socketpair()
        with self.assertRaises(GLib.Error) as cm:
            loop.add_reader(a.fileno(), lambda: None)
        self.assertTrue(loop_error(Evl.LoopError.CLOSED)(cm.exception))

    def test_bad_fd(self):
        r, w = os.pipe()
        os.close(r)
        os.close(w)
        with self.assertRaises(GLib.Error) as cm:
            self.loop.add_reader(r, lambda: None)
        self.assertTrue(loop_error(Evl.LoopError.INVALID)(cm.exception))

    # -- fd watching ----------------------------------------------------------

    def test_reader_writer(self):
        a, b = self.socketpair()
        got = []

        def on_readable():
            got.append(b.recv(100))
            if b''.join(got) == b'ping':
                self.assertTrue(self.loop.remove_reader(b.fileno()))
                self.loop.stop()

        def on_writable():
            a.send(b'ping')
            self.assertTrue(self.loop.remove_writer(a.fileno()))

        self.assertTrue(self.loop.add_reader(b.fileno(), on_readable))
        self.assertTrue(self.loop.add_writer(a.fileno(), on_writable))
        self.loop.run_forever()
        self.assertEqual(b''.join(got), b'ping')
        self.assertFalse(self.loop.remove_reader(b.fileno()))
        self.assertFalse(self.loop.remove_writer(a.fileno()))

    def test_reader_eof(self):
        a, b = self.socketpair()
        seen = []

        def on_readable():
            seen.append(b.recv(10))
            self.loop.remove_reader(b.fileno())
            self.loop.stop()

        self.loop.add_reader(b.fileno(), on_readable)
        a.shutdown(socket.SHUT_WR)
        self.loop.run_forever()
        self.assertEqual(seen, [b''])

    def test_signal_handler(self):
        seen = []

        def on_signal():
            seen.append('usr1')
            self.loop.stop()

        self.assertTrue(self.loop.add_signal_handler(signal.SIGUSR1, on_signal))
        self.loop.call_soon(os.kill, os.getpid(), signal.SIGUSR1)
        self.loop.run_forever()
        self.assertEqual(seen, ['usr1'])
        self.assertTrue(self.loop.remove_signal_handler(signal.SIGUSR1))
        self.assertFalse(self.loop.remove_signal_handler(signal.SIGUSR1))

    # -- socket primitives --------------------------------------------------

    def test_sock_sendall_recv(self):
        a, b = self.socketpair()
        sent = run_async(self.loop,
                         lambda cb: self.loop.sock_sendall_async(
                             a.fileno(), GLib.Bytes.new(b'hello world'), None, cb),
                         lambda src, res: src.sock_sendall_finish(res))
        self.assertTrue(sent)
        data = b''
        while len(data) < 11:
            chunk = run_async(self.loop,
                              lambda cb: self.loop.sock_recv_async(b.fileno(), 1024, None, cb),
                              lambda src, res: src.sock_recv_finish(res))
            self.assertIsInstance(chunk, GLib.Bytes)
            data += chunk.get_data()
        self.assertEqual(data, b'hello world')
        a.shutdown(socket.SHUT_WR)
        eof = run_async(self.loop,
                        lambda cb: self.loop.sock_recv_async(b.fileno(), 1024, None, cb),
                        lambda src, res: src.sock_recv_finish(res))
        self.assertEqual(eof.get_size(), 0)

    def test_sock_recv_cancel(self):
        a, b = self.socketpair()
        cancellable = Gio.Cancellable()
        self.loop.call_later(0.01, cancellable.cancel)
        with self.assertRaises(GLib.Error) as cm:
            run_async(self.loop,
                      lambda cb: self.loop.sock_recv_async(b.fileno(), 10, cancellable, cb),
                      lambda src, res: src.sock_recv_finish(res))
        self.assertTrue(cm.exception.matches(Gio.io_error_quark(),
                                             Gio.IOErrorEnum.CANCELLED))

    def test_sock_connect_accept(self):
        server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sockets.append(server)
        server.bind(('127.0.0.1', 0))
        server.listen(1)
        server.setblocking(False)
        port = server.getsockname()[1]
        client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        client.setblocking(False)
        self.sockets.append(client)

        done = self.loop.create_future()
        results = {}

        def maybe_done():
            if len(results) == 2:
                done.set_result(None)

        def on_accept(loop, res):
            results['accept'] = loop.sock_accept_finish(res)
            maybe_done()

        def on_connect(loop, res):
            results['connect'] = loop.sock_connect_finish(res)
            maybe_done()

        self.loop.sock_accept_async(server.fileno(), None, on_accept)
        address = Gio.InetSocketAddress.new_from_string('127.0.0.1', port)
        self.loop.sock_connect_async(client.fileno(), address, None, on_connect)
        self.loop.run_until_complete(done)

        self.assertTrue(results['connect'])
        fd, peer = results['accept']
        self.assertGreaterEqual(fd, 0)
        self.assertIsInstance(peer, Gio.InetSocketAddress)
        self.assertEqual(peer.get_address().to_string(), '127.0.0.1')
        self.assertEqual(peer.get_port(), client.getsockname()[1])
        self.assertFalse(os.get_blocking(fd))        # non-blocking
        self.assertFalse(os.get_inheritable(fd))     # close-on-exec
        self.sockets.append(socket.socket(fileno=fd))

        # And a round trip over the accepted connection.
        run_async(self.loop,
                  lambda cb: self.loop.sock_sendall_async(
                      client.fileno(), GLib.Bytes.new(b'over tcp'), None, cb),
                  lambda src, res: src.sock_sendall_finish(res))
        data = b''
        while len(data) < 8:
            data += run_async(self.loop,
                              lambda cb: self.loop.sock_recv_async(fd, 100, None, cb),
                              lambda src, res: src.sock_recv_finish(res)).get_data()
        self.assertEqual(data, b'over tcp')

    def test_sock_connect_refused(self):
        probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        probe.bind(('127.0.0.1', 0))
        port = probe.getsockname()[1]
        probe.close()                       # nobody listens there now
        client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        client.setblocking(False)
        self.sockets.append(client)
        address = Gio.InetSocketAddress.new_from_string('127.0.0.1', port)
        with self.assertRaises(GLib.Error) as cm:
            run_async(self.loop,
                      lambda cb: self.loop.sock_connect_async(client.fileno(), address, None, cb),
                      lambda src, res: src.sock_connect_finish(res))
        self.assertTrue(cm.exception.matches(Gio.io_error_quark(),
                                             Gio.IOErrorEnum.CONNECTION_REFUSED))

    # -- executor and name resolution ---------------------------------------

    def test_run_in_executor(self):
        main = threading.get_ident()
        seen = []

        # An ExecutorFunc returns (success, result) and runs on a worker
        # thread; raising a GLib.Error fails the job with that error.
        # (Return plain Python values: a GObject.Value returned from a
        # callback is copied shallowly by PyGObject 3.42.)
        def work(cancellable, *args):
            seen.append(threading.get_ident())
            return True, sum(args) if args else 'from a worker'

        future = self.loop.run_in_executor(work)
        self.assertTrue(self.loop.run_until_complete(future))
        self.assertEqual(future.get_result(), 'from a worker')
        self.assertNotEqual(seen[0], main)

        value = run_async(self.loop,
                          lambda cb: self.loop.run_in_executor_async(work, (20, 22), None, cb),
                          lambda src, res: src.run_in_executor_finish(res))
        if isinstance(value, tuple):      # (True, value) before (skip)
            value = value[-1]
        self.assertEqual(value, 42)

        def fail(cancellable):
            raise GLib.Error.new_literal(Gio.io_error_quark(), 'worker failed',
                                         Gio.IOErrorEnum.PERMISSION_DENIED)

        with self.assertRaises(GLib.Error) as cm:
            self.loop.run_until_complete(self.loop.run_in_executor(fail))
        self.assertTrue(cm.exception.matches(Gio.io_error_quark(),
                                             Gio.IOErrorEnum.PERMISSION_DENIED))

    def test_getaddrinfo(self):
        addresses = run_async(self.loop,
                              lambda cb: self.loop.getaddrinfo_async('localhost', 8080, None, cb),
                              lambda src, res: src.getaddrinfo_finish(res))
        self.assertTrue(addresses)
        for address in addresses:
            self.assertIsInstance(address, Gio.InetSocketAddress)
            self.assertTrue(address.get_address().get_is_loopback())
            self.assertEqual(address.get_port(), 8080)
        name, port = run_async(
            self.loop,
            lambda cb: self.loop.getnameinfo_async(
                Gio.InetSocketAddress.new_from_string('127.0.0.1', 80), None, cb),
            lambda src, res: src.getnameinfo_finish(res))
        self.assertIsInstance(name, str)
        self.assertEqual(port, 80)

    def test_wait_signal(self):
        if not hasattr(self.loop, 'wait_signal_async'):
            self.skipTest('no wait_signal yet')
        action = Gio.SimpleAction.new('go', GLib.VariantType.new('s'))
        self.loop.call_soon(action.activate, GLib.Variant('s', 'hi'))
        values = run_async(self.loop,
                           lambda cb: self.loop.wait_signal_async(action, 'activate', None, cb),
                           lambda src, res: src.wait_signal_finish(res))
        self.assertEqual(values, [GLib.Variant('s', 'hi')])   # without the emitter
        with self.assertRaises(GLib.Error) as cm:
            run_async(self.loop,
                      lambda cb: self.loop.wait_signal_async(action, 'no-such-signal', None, cb),
                      lambda src, res: src.wait_signal_finish(res))
        self.assertTrue(loop_error(Evl.LoopError.INVALID)(cm.exception))

    # -- GLib bridges ---------------------------------------------------------

    def test_attach_to_glib(self):
        # evloop inside GLib: a GLib.MainLoop dispatches the loop.
        context = GLib.MainContext.new()
        main_loop = GLib.MainLoop.new(context, False)
        a, b = self.socketpair()
        seen = []

        def on_readable():
            seen.append(('read', b.recv(10), self.loop.is_running()))
            self.loop.remove_reader(b.fileno())
            self.loop.call_later(0.01, main_loop.quit)

        source_id = self.loop.attach(context)
        self.assertGreater(source_id, 0)
        self.loop.add_reader(b.fileno(), on_readable)
        self.loop.call_soon(a.send, b'x')
        main_loop.run()
        self.assertEqual(seen, [('read', b'x', True)])
        context.find_source_by_id(source_id).destroy()

    def test_attach_source(self):
        source = self.loop.create_source()
        self.assertIsInstance(source, GLib.Source)
        context = GLib.MainContext.new()
        source.attach(context)
        ran = []
        self.loop.call_soon(ran.append, 1)
        while not ran:
            context.iteration(True)
        self.assertEqual(ran, [1])
        source.destroy()


class ContextLoopTests(unittest.TestCase):
    """GLib inside evloop: a loop constructed with a GMainContext drives it."""

    def test_drives_context(self):
        context = GLib.MainContext.new()
        loop = GObject.new(Evl.SelectorLoop, context=context)
        self.assertEqual(loop.get_context(), context)
        future = loop.create_future()
        idle = GLib.idle_source_new()
        idle.set_callback(lambda *a: future.set_result('from GLib') and GLib.SOURCE_REMOVE)
        idle.attach(context)
        self.assertTrue(loop.run_until_complete(future))
        self.assertEqual(future.get_result(), 'from GLib')
        # GIO's async calls complete on the driven context too.
        context.push_thread_default()
        try:
            done = loop.create_future()
            Gio.File.new_for_path(__file__).load_contents_async(
                None, lambda f, res: done.set_result(f.load_contents_finish(res)[0]))
            loop.run_until_complete(done)
            self.assertTrue(done.get_result())
        finally:
            context.pop_thread_default()
        self.assertTrue(loop.close())


class SelectorLoopTests(LoopTests, unittest.TestCase):
    def make_loop(self):
        return Evl.SelectorLoop.new(None)

    def test_selector_kind(self):
        selector = self.loop.get_selector()
        self.assertIsInstance(selector, Evl.Selector)
        self.assertIn(selector.get_name(), ('epoll', 'poll', 'select', 'kqueue'))


class PollLoopTests(LoopTests, unittest.TestCase):
    def make_loop(self):
        return Evl.SelectorLoop.new(Evl.PollSelector.new())


class SelectLoopTests(LoopTests, unittest.TestCase):
    def make_loop(self):
        return Evl.SelectorLoop.new(Evl.SelectSelector.new())


class ProactorLoopTests(LoopTests, unittest.TestCase):
    def make_loop(self):
        try:
            return Evl.ProactorLoop.new()
        except GLib.Error as e:
            if e.matches(Evl.LoopError.quark(), Evl.LoopError.NOT_SUPPORTED):
                self.skipTest('no proactor here: ' + e.message)
            raise


class SelectorTests(unittest.TestCase):
    def test_register(self):
        selector = Evl.Selector.new_default()
        a, b = socket.socketpair()
        try:
            self.assertTrue(selector.register(b.fileno(), Evl.EventFlags.READ, None))
            self.assertEqual(selector.get_n_keys(), 1)
            found, events, _data = selector.get_key(b.fileno())
            self.assertTrue(found)
            self.assertEqual(events, Evl.EventFlags.READ)
            self.assertTrue(selector.modify(b.fileno(),
                                            Evl.EventFlags.READ | Evl.EventFlags.WRITE, None))
            self.assertTrue(selector.unregister(b.fileno()))
            self.assertEqual(selector.get_n_keys(), 0)
            with self.assertRaises(GLib.Error):
                selector.unregister(b.fileno())
        finally:
            a.close()
            b.close()

    def test_epoll(self):
        try:
            selector = Evl.EpollSelector.new()
        except GLib.Error as e:
            self.skipTest(e.message)
        self.assertEqual(selector.get_name(), 'epoll')
        self.assertGreaterEqual(selector.get_fd(), 0)


# A policy written in Python: one loop for the whole process.
class MyPolicy(Evl.LoopPolicy):
    def __init__(self):
        super().__init__()
        self.loop = None      # the policy keeps the loop it returns alive
        self.calls = []

    def do_get_event_loop(self):
        self.calls.append('get')
        if self.loop is None:
            self.loop = self.new_event_loop()
        return self.loop

    def do_set_event_loop(self, loop):
        self.calls.append('set')
        self.loop = loop

    def do_new_event_loop(self):
        self.calls.append('new')
        return Evl.SelectorLoop.new(Evl.PollSelector.new())


class NoLoopPolicy(Evl.LoopPolicy):
    def do_get_event_loop(self):
        raise RuntimeError('this policy has no loops')

    def do_set_event_loop(self, loop):
        pass

    def do_new_event_loop(self):
        return Evl.SelectorLoop.new(None)


class PolicyTests(unittest.TestCase):
    def tearDown(self):
        Evl.set_event_loop_policy(None)

    def test_default_policy(self):
        policy = Evl.get_event_loop_policy()
        self.assertIsInstance(policy, Evl.DefaultLoopPolicy)
        self.assertEqual(policy.props.loop_type, Evl.SelectorLoop.__gtype__)
        loop = Evl.get_event_loop()
        self.assertIs(Evl.get_event_loop(), loop)   # one loop per thread
        fresh = Evl.new_event_loop()
        self.assertIsNot(fresh, loop)
        self.assertTrue(fresh.close())
        Evl.set_event_loop(None)
        self.assertTrue(loop.close())

    def test_python_policy(self):
        policy = MyPolicy()
        Evl.set_event_loop_policy(policy)
        self.assertIs(Evl.get_event_loop_policy(), policy)

        loop = Evl.get_event_loop()
        self.assertIsInstance(loop, Evl.SelectorLoop)
        self.assertEqual(loop.get_selector().get_name(), 'poll')
        self.assertIs(Evl.get_event_loop(), loop)
        self.assertEqual(policy.calls, ['get', 'new', 'get'])

        # The loop from the Python policy runs like any other.
        future = loop.create_future()
        loop.call_soon(future.set_result, 'policy loop ran')
        loop.run_until_complete(future)
        self.assertEqual(future.get_result(), 'policy loop ran')

        other = Evl.new_event_loop()
        self.assertIsNot(other, loop)
        Evl.set_event_loop(other)
        self.assertIs(Evl.get_event_loop(), other)
        self.assertEqual(policy.calls, ['get', 'new', 'get', 'new', 'set', 'get'])
        Evl.set_event_loop_policy(None)
        self.assertIsInstance(Evl.get_event_loop_policy(), Evl.DefaultLoopPolicy)
        self.assertTrue(loop.close())
        self.assertTrue(other.close())

    def test_python_policy_error(self):
        Evl.set_event_loop_policy(NoLoopPolicy())
        with self.assertRaises(GLib.Error) as cm:
            Evl.get_event_loop()
        self.assertTrue(loop_error(Evl.LoopError.NO_LOOP)(cm.exception))


# Stream protocols implemented in Python, once the library has them.
# (PyGObject 3.42 wants the factory's user data as a tuple of arguments for
# the factory: pass () for none.)
HAVE_STREAMS = hasattr(Evl, 'Protocol') and hasattr(Evl.Loop, 'create_server_async')

if HAVE_STREAMS:
    class EchoServer(GObject.Object, Evl.Protocol):
        def do_connection_made(self, transport):
            self.transport = transport

        def do_data_received(self, data):
            self.transport.write(data)

        def do_eof_received(self):
            return False        # let the transport close

    class Client(GObject.Object, Evl.Protocol):
        def __init__(self, loop):
            super().__init__()
            self.received = b''
            self.events = []
            self.lost = loop.create_future()

        def do_connection_made(self, transport):
            self.events.append('made')
            self.transport = transport
            transport.write(GLib.Bytes.new(b'echo me'))
            transport.write_eof()

        def do_data_received(self, data):
            self.received += data.get_data()

        def do_eof_received(self):
            self.events.append('eof')
            return False

        def do_connection_lost(self, error):
            self.events.append('lost')
            self.lost.set_result(error)


@unittest.skipUnless(HAVE_STREAMS, 'no create_server/create_connection yet')
class ProtocolTests(unittest.TestCase):
    def test_echo(self):
        loop = Evl.SelectorLoop.new(None)
        try:
            server = run_async(loop,
                               lambda cb: loop.create_server_async(
                                   lambda: EchoServer(), (), '127.0.0.1', 0, None, cb),
                               lambda src, res: src.create_server_finish(res))
            port = server.get_port()
            self.assertGreater(port, 0)
            client = Client(loop)
            transport, protocol = run_async(
                loop,
                lambda cb: loop.create_connection_async(
                    lambda: client, (), '127.0.0.1', port, None, cb),
                lambda src, res: src.create_connection_finish(res))
            self.assertIs(protocol, client)
            self.assertIsInstance(transport, Evl.Transport)
            self.assertEqual(client.events[0], 'made')   # before the callback
            loop.run_until_complete(client.lost)
            self.assertIsNone(client.lost.get_result())
            self.assertEqual(client.received, b'echo me')
            self.assertEqual(client.events, ['made', 'eof', 'lost'])
            server.close()
        finally:
            loop.close()

    def test_happy_eyeballs(self):
        # asyncio's create_connection(happy_eyeballs_delay=0.25, interleave=1).
        loop = Evl.SelectorLoop.new(None)
        try:
            server = run_async(loop,
                               lambda cb: loop.create_server_async(
                                   lambda: EchoServer(), (), '127.0.0.1', 0, None, cb),
                               lambda src, res: src.create_server_finish(res))
            client = Client(loop)
            transport, protocol = run_async(
                loop,
                lambda cb: loop.create_connection_happy_eyeballs_async(
                    lambda: client, (), '127.0.0.1', server.get_port(), None, 0.25, 1,
                    None, cb),
                lambda src, res: src.create_connection_happy_eyeballs_finish(res))
            self.assertIs(protocol, client)
            self.assertIsInstance(transport, Evl.Transport)
            loop.run_until_complete(client.lost)
            self.assertEqual(client.received, b'echo me')
            server.close()
        finally:
            loop.close()


if __name__ == '__main__':
    unittest.main(verbosity=2)
