// Binding test: evloop-glib from JavaScript through GJS (Evl-1.typelib).
//
// Run uninstalled (meson test does this, suite 'bindings'; output is TAP):
//   GI_TYPELIB_PATH=build/introspection LD_LIBRARY_PATH=build/src \
//     gjs -m introspection/tests/test-evl.js
//
// SPDX-License-Identifier: LGPL-2.1-or-later

import GLib from 'gi://GLib';
import GObject from 'gi://GObject';
import Gio from 'gi://Gio';
import Evl from 'gi://Evl?version=1';
import System from 'system';

// The asynchronous operations as Promises (GJS's own helper).
for (const op of ['sock_recv', 'sock_sendall', 'sock_connect', 'sock_accept'])
    Gio._promisify(Evl.Loop.prototype, `${op}_async`, `${op}_finish`);
const HAVE_RESOLVER = 'getaddrinfo_async' in Evl.Loop.prototype;
if (HAVE_RESOLVER) {
    for (const op of ['getaddrinfo', 'getnameinfo'])
        Gio._promisify(Evl.Loop.prototype, `${op}_async`, `${op}_finish`);
}
const HAVE_WAIT_SIGNAL = 'wait_signal_async' in Evl.Loop.prototype;
if (HAVE_WAIT_SIGNAL)
    Gio._promisify(Evl.Loop.prototype, 'wait_signal_async', 'wait_signal_finish');
// (run_in_executor runs its function on a worker thread: GJS cannot run
// JavaScript there, so it is not tested here.)
const HAVE_STREAMS = 'create_server_async' in Evl.Loop.prototype &&
    Evl.Protocol !== undefined;
if (HAVE_STREAMS) {
    for (const op of ['create_server', 'create_connection'])
        Gio._promisify(Evl.Loop.prototype, `${op}_async`, `${op}_finish`);
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const bytes = s => new GLib.Bytes(encoder.encode(s));
const text = b => decoder.decode(b.toArray());

// ---------------------------------------------------------------- harness

const tests = [];
function test(name, fn) {
    tests.push([name, fn]);
}

class AssertionError extends Error {}
function assert(cond, what = 'assertion failed') {
    if (!cond)
        throw new AssertionError(what);
}
function assertEqual(actual, expected, what = '') {
    const a = JSON.stringify(actual), e = JSON.stringify(expected);
    if (a !== e)
        throw new AssertionError(`${what} expected ${e}, got ${a}`);
}
function assertThrowsLoopError(fn, code, what = '') {
    try {
        fn();
    } catch (e) {
        assert(e instanceof GLib.Error, `${what} threw ${e}, not a GLib.Error`);
        assert(e.matches(Evl.LoopError, code),
            `${what} threw ${e} (code ${e.code}), not Evl.LoopError ${code}`);
        return e;
    }
    throw new AssertionError(`${what} did not throw`);
}

// GJS 1.74 does not apply (skip) to a return value: get_result() gives
// [true, value] there, the value alone in later versions.
function result(future) {
    const r = future.get_result();
    return Array.isArray(r) && r.length === 2 && r[0] === true ? r[1] : r;
}

// Runs an async function to completion by running the loop (the loop must
// drive the default GMainContext, where GJS runs its Promise jobs).
function runAsync(loop, fn) {
    const done = loop.create_future();
    let failure = null;
    fn().then(() => done.set_result(null), e => {
        failure = e;
        done.set_result(null);
    });
    loop.run_until_complete(done);
    if (failure)
        throw failure;
}

// ------------------------------------------------------------- loop kinds

const loopKinds = {
    'selector': () => Evl.SelectorLoop.new(null),
    'poll': () => Evl.SelectorLoop.new(Evl.PollSelector.new()),
    'select': () => Evl.SelectorLoop.new(Evl.SelectSelector.new()),
    'proactor': () => Evl.ProactorLoop.new(),
};

function makeLoop(kind) {
    try {
        return loopKinds[kind]();
    } catch (e) {
        if (e instanceof GLib.Error && e.matches(Evl.LoopError, Evl.LoopError.NOT_SUPPORTED))
            return null;
        throw e;
    }
}

// A TCP listener and a client, as Gio.Sockets (GSocket fds are
// non-blocking); the tests pass their fds to the loop.
function tcpPair() {
    const server = Gio.Socket.new(Gio.SocketFamily.IPV4, Gio.SocketType.STREAM,
        Gio.SocketProtocol.TCP);
    server.bind(Gio.InetSocketAddress.new_from_string('127.0.0.1', 0), true);
    server.listen();
    const client = Gio.Socket.new(Gio.SocketFamily.IPV4, Gio.SocketType.STREAM,
        Gio.SocketProtocol.TCP);
    return [server, client, server.get_local_address().get_port()];
}

for (const kind of Object.keys(loopKinds)) {
    const loopTest = (name, fn) => test(`${kind}: ${name}`, () => {
        const loop = makeLoop(kind);
        if (loop === null)
            return 'SKIP no proactor on this system';
        try {
            fn(loop);
        } finally {
            assert(loop.close(), 'close');
            assert(loop.is_closed());
        }
        return null;
    });

    loopTest('call_soon runs callbacks in FIFO order', loop => {
        const order = [];
        for (let i = 0; i < 10; i++)
            loop.call_soon(() => order.push(i));
        loop.call_soon(() => loop.stop());
        assert(loop.run_forever());
        assertEqual(order, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    });

    loopTest('a callback scheduled while the queue runs waits', loop => {
        const order = [];
        loop.call_soon(() => {
            order.push('first');
            loop.call_soon(() => order.push('scheduled-by-first'));
        });
        loop.call_soon(() => order.push('second'));
        loop.stop();
        loop.run_forever();
        assertEqual(order, ['first', 'second']);
        loop.stop();
        loop.run_forever();
        assertEqual(order, ['first', 'second', 'scheduled-by-first']);
    });

    loopTest('call_later order, ties FIFO, never early', loop => {
        const order = [];
        const start = loop.time();
        loop.call_later(0.03, () => order.push('c'));
        loop.call_later(0.01, () => order.push('a'));
        loop.call_later(0.02, () => order.push('b1'));
        loop.call_later(0.02, () => order.push('b2'));
        loop.call_soon(() => order.push('soon'));
        const h = loop.call_later(0.04, () => loop.stop());
        assert(h instanceof Evl.Handle);
        assert(Math.abs(h.get_when() - (start + 0.04)) < 0.01, 'get_when');
        loop.run_forever();
        assertEqual(order, ['soon', 'a', 'b1', 'b2', 'c']);
        assert(loop.time() - start >= 0.039, 'timer ran early');
    });

    loopTest('cancelled handles never run', loop => {
        const ran = [];
        const h1 = loop.call_later(0.01, () => ran.push('timer'));
        const h2 = loop.call_soon(() => ran.push('soon'));
        h1.cancel();
        h2.cancel();
        assert(h1.is_cancelled() && h2.is_cancelled());
        loop.call_later(0.03, () => loop.stop());
        loop.run_forever();
        assertEqual(ran, []);
    });

    loopTest('running loop and call_soon_threadsafe', loop => {
        let seen = null;
        assert(!loop.is_running());
        assert(Evl.get_running_loop() === null);
        loop.call_soon_threadsafe(() => {
            seen = [loop.is_running(), Evl.get_running_loop() === loop];
            loop.stop();
        });
        loop.run_forever();
        assertEqual(seen, [true, true]);
    });

    loopTest('futures carry numbers, strings, null, booleans and objects', loop => {
        const obj = new Gio.Cancellable();
        for (const value of [42, -1.5, 'hello', 'ünï', null, true, false, obj]) {
            const f = loop.create_future();
            loop.call_soon(() => f.set_result(value));
            assert(loop.run_until_complete(f));
            assert(f.is_done());
            assert(result(f) === value, `result ${value}`);
        }
    });

    loopTest('future errors and cancellation', loop => {
        const f = loop.create_future();
        const err = new GLib.Error(Gio.IOErrorEnum, Gio.IOErrorEnum.TIMED_OUT, 'too slow');
        loop.call_soon(() => f.set_error(err));
        try {
            loop.run_until_complete(f);
            throw new AssertionError('no error');
        } catch (e) {
            assert(e.matches(Gio.IOErrorEnum, Gio.IOErrorEnum.TIMED_OUT), `${e}`);
            assertEqual(e.message, 'too slow');
        }
        const c = loop.create_future();
        assert(c.cancel());
        assert(!c.cancel());
        assert(c.is_cancelled());
        assertThrowsLoopError(() => loop.run_until_complete(c), Evl.LoopError.CANCELLED);
        // (GJS 1.74 converts the out GValue of a call that failed, so
        // get_result() on a pending, cancelled or failed future throws a
        // conversion error there instead of the GError: check is_done() and
        // is_cancelled(), or let run_until_complete() throw.)
        const p = new Evl.Future({loop});
        assert(p.get_loop() === loop);
        assert(!p.is_done() && !p.done);
        p.set_result(1);
        assert(p.is_done() && p.done);
        assertThrowsLoopError(() => p.set_result(2), Evl.LoopError.INVALID, 'done twice');
    });

    loopTest('done callbacks run through the loop', loop => {
        const f = loop.create_future();
        const calls = [];
        f.add_done_callback(fut => calls.push(['one', fut === f]));
        f.add_done_callback(() => calls.push(['two']));
        f.set_result('x');
        assertEqual(calls, []);
        loop.stop();
        loop.run_forever();
        assertEqual(calls, [['one', true], ['two']]);
    });

    loopTest('exception handler', loop => {
        const seen = [];
        loop.set_exception_handler((l, error, message) => seen.push([l, error, message]));
        const err = new GLib.Error(Evl.LoopError, Evl.LoopError.FAILED, 'oops');
        loop.call_exception_handler(err, 'while testing');
        loop.call_exception_handler(null, 'no error');
        assertEqual(seen.length, 2);
        assert(seen[0][0] === loop);
        assert(seen[0][1].matches(Evl.LoopError, Evl.LoopError.FAILED));
        assertEqual(seen[0][2], 'while testing');
        assert(seen[1][1] === null);
        loop.set_exception_handler(null);
    });

    loopTest('closed loops and bad fds fail with Evl.LoopError', loop => {
        const other = makeLoop(kind);
        assert(other.close());
        assert(other.close());
        const e = assertThrowsLoopError(() => other.run_forever(), Evl.LoopError.CLOSED);
        assert(e instanceof GLib.Error);
        assertEqual(e.code, Evl.LoopError.CLOSED);
        assertThrowsLoopError(() => loop.add_reader(-1, () => {}), Evl.LoopError.INVALID);
    });

    loopTest('add_reader and add_writer', loop => {
        const [server, client, port] = tcpPair();
        let accepted = null, got = '';
        loop.add_reader(server.get_fd(), () => {
            accepted = server.accept(null);
            loop.remove_reader(server.get_fd());
            loop.add_reader(accepted.get_fd(), () => {
                // (Gio.Socket.receive() is not usable from GJS: read a stream.)
                const stream = accepted.connection_factory_create_connection().get_input_stream();
                got += text(stream.read_bytes(64, null));
                if (got === 'ping') {
                    assert(loop.remove_reader(accepted.get_fd()));
                    loop.stop();
                }
            });
        });
        try {
            client.connect(Gio.InetSocketAddress.new_from_string('127.0.0.1', port), null);
        } catch (e) {
            if (!e.matches(Gio.IOErrorEnum, Gio.IOErrorEnum.PENDING))
                throw e;
        }
        loop.add_writer(client.get_fd(), () => {
            client.send(encoder.encode('ping'), null);
            assert(loop.remove_writer(client.get_fd()));
        });
        loop.run_forever();
        assertEqual(got, 'ping');
        assert(!loop.remove_reader(accepted.get_fd()));
        for (const s of [accepted, client, server])
            s.close();
    });

    loopTest('socket primitives with callbacks', loop => {
        const [server, client, port] = tcpPair();
        const done = loop.create_future();
        const results = {};
        const check = () => Object.keys(results).length === 2 && done.set_result(null);
        loop.sock_accept_async(server.get_fd(), null, (l, res) => {
            results.accept = l.sock_accept_finish(res);
            check();
        });
        loop.sock_connect_async(client.get_fd(),
            Gio.InetSocketAddress.new_from_string('127.0.0.1', port), null, (l, res) => {
                results.connect = l.sock_connect_finish(res);
                check();
            });
        loop.run_until_complete(done);
        assert(results.connect === true, 'connected');
        const [fd, peer] = results.accept;
        assert(fd >= 0, 'accepted fd');
        assertEqual(peer.get_address().to_string(), '127.0.0.1');
        assertEqual(peer.get_port(), client.get_local_address().get_port());
        const conn = Gio.Socket.new_from_fd(fd);   // takes the fd
        const recv = loop.create_future();
        loop.sock_recv_async(fd, 100, null, (l, res) => recv.set_result(text(l.sock_recv_finish(res))));
        loop.sock_sendall_async(client.get_fd(), bytes('callbacks'), null, (l, res) => {
            assert(l.sock_sendall_finish(res));
        });
        loop.run_until_complete(recv);
        assertEqual(result(recv), 'callbacks');
        for (const s of [conn, client, server])
            s.close();
    });

    test(`${kind}: socket primitives with await, the loop driving GLib`, () => {
        let loop;
        try {
            loop = kind === 'proactor' ? Evl.ProactorLoop.new() : null;
        } catch (e) {
            if (e.matches(Evl.LoopError, Evl.LoopError.NOT_SUPPORTED))
                return 'SKIP no proactor on this system';
            throw e;
        }
        if (loop !== null) {
            loop.close();
            loop = GObject.Object.new(Evl.ProactorLoop, {context: GLib.MainContext.default()});
            loop.init(null);
        } else {
            loop = new Evl.SelectorLoop({
                context: GLib.MainContext.default(),
                selector: kind === 'selector' ? null
                    : kind === 'poll' ? Evl.PollSelector.new() : Evl.SelectSelector.new(),
            });
        }
        try {
            runAsync(loop, async () => {
                const [server, client, port] = tcpPair();
                const address = Gio.InetSocketAddress.new_from_string('127.0.0.1', port);
                const [[fd, peer], connected] = await Promise.all([
                    loop.sock_accept_async(server.get_fd(), null),
                    loop.sock_connect_async(client.get_fd(), address, null),
                ]);
                assert(connected === true);
                assert(peer instanceof Gio.InetSocketAddress);
                const conn = Gio.Socket.new_from_fd(fd);
                assert(await loop.sock_sendall_async(client.get_fd(), bytes('awaited'), null));
                let got = '';
                while (got.length < 7)
                    got += text(await loop.sock_recv_async(fd, 1024, null));
                assertEqual(got, 'awaited');
                client.shutdown(false, true);
                const eof = await loop.sock_recv_async(fd, 1024, null);
                assertEqual(eof.get_size(), 0);
                const cancellable = new Gio.Cancellable();
                loop.call_later(0.01, () => cancellable.cancel());
                try {
                    await loop.sock_recv_async(client.get_fd(), 10, cancellable);
                    throw new AssertionError('not cancelled');
                } catch (e) {
                    assert(e.matches(Gio.IOErrorEnum, Gio.IOErrorEnum.CANCELLED), `${e}`);
                }
                for (const s of [conn, client, server])
                    s.close();
            });
        } finally {
            loop.close();
        }
        return null;
    });
}

if (HAVE_RESOLVER) {
    test('getaddrinfo and getnameinfo with await', () => {
        const loop = new Evl.SelectorLoop({context: GLib.MainContext.default()});
        try {
            runAsync(loop, async () => {
                const addresses = await loop.getaddrinfo_async('localhost', 8080, null);
                assert(addresses.length > 0, 'no address');
                for (const address of addresses) {
                    assert(address instanceof Gio.InetSocketAddress);
                    assert(address.get_address().get_is_loopback());
                    assertEqual(address.get_port(), 8080);
                }
                const [name, port] = await loop.getnameinfo_async(
                    Gio.InetSocketAddress.new_from_string('127.0.0.1', 80), null);
                assertEqual(typeof name, 'string');
                assertEqual(port, 80);
            });
        } finally {
            loop.close();
        }
    });
}

if (HAVE_WAIT_SIGNAL) {
    test('wait_signal with await', () => {
        const loop = new Evl.SelectorLoop({context: GLib.MainContext.default()});
        try {
            runAsync(loop, async () => {
                const action = Gio.SimpleAction.new('go', new GLib.VariantType('s'));
                loop.call_soon(() => action.activate(new GLib.Variant('s', 'hi')));
                // GJS 1.74 keeps the skipped boolean: [true, values] becomes
                // [values] once Gio._promisify drops the leading true.
                let values = await loop.wait_signal_async(action, 'activate', null);
                if (values.length === 1 && Array.isArray(values[0]))
                    values = values[0];
                assertEqual(values.length, 1);
                assertEqual(values[0].unpack(), 'hi');
            });
        } finally {
            loop.close();
        }
    });
}

// ----------------------------------------------------------- GLib bridges

test('bridge: the loop attached to a GLib.MainLoop', () => {
    const loop = Evl.SelectorLoop.new(null);
    const context = GLib.MainContext.new();
    const mainLoop = GLib.MainLoop.new(context, false);
    const seen = [];
    const id = loop.attach(context);
    assert(id > 0);
    loop.call_soon(() => seen.push(['soon', loop.is_running()]));
    loop.call_later(0.01, () => {
        seen.push(['later', Evl.get_running_loop() === loop]);
        mainLoop.quit();
    });
    mainLoop.run();
    assertEqual(seen, [['soon', true], ['later', true]]);
    context.find_source_by_id(id).destroy();
    loop.close();
});

test('bridge: the loop driving a GMainContext', () => {
    const context = GLib.MainContext.new();
    const loop = new Evl.SelectorLoop({context});
    // (boxed GMainContexts get a new wrapper each time in GJS: no ===)
    assert(loop.get_context() instanceof GLib.MainContext);
    const f = loop.create_future();
    const source = GLib.timeout_source_new(10);
    source.set_callback(() => {
        f.set_result('from GLib');
        return GLib.SOURCE_REMOVE;
    });
    source.attach(context);
    assert(loop.run_until_complete(f));
    assertEqual(result(f), 'from GLib');
    loop.close();
});

// --------------------------------------------------------------- policies

const MyPolicy = GObject.registerClass(class MyPolicy extends Evl.LoopPolicy {
    _init() {
        super._init();
        this.loop = null;   // the policy keeps the loop it returns alive
        this.calls = [];
    }

    vfunc_get_event_loop() {
        this.calls.push('get');
        if (this.loop === null)
            this.loop = this.new_event_loop();
        return this.loop;
    }

    vfunc_set_event_loop(loop) {
        this.calls.push('set');
        this.loop = loop;
    }

    vfunc_new_event_loop() {
        this.calls.push('new');
        return Evl.SelectorLoop.new(Evl.PollSelector.new());
    }
});

const NoLoopPolicy = GObject.registerClass(class NoLoopPolicy extends Evl.LoopPolicy {
    vfunc_get_event_loop() {
        throw new GLib.Error(Evl.LoopError, Evl.LoopError.NO_LOOP, 'no loops here');
    }

    vfunc_set_event_loop() {}

    vfunc_new_event_loop() {
        return Evl.SelectorLoop.new(null);
    }
});

test('policy: the default policy', () => {
    const policy = Evl.get_event_loop_policy();
    assert(policy instanceof Evl.DefaultLoopPolicy);
    assertEqual(policy.loop_type, Evl.SelectorLoop.$gtype);
    const loop = Evl.get_event_loop();
    assert(Evl.get_event_loop() === loop);
    assert(loop.get_context() instanceof GLib.MainContext, 'drives the main context');
    Evl.set_event_loop(null);
    loop.close();
});

test('policy: a policy written in JavaScript', () => {
    const policy = new MyPolicy();
    Evl.set_event_loop_policy(policy);
    try {
        assert(Evl.get_event_loop_policy() === policy);
        const loop = Evl.get_event_loop();
        assert(loop instanceof Evl.SelectorLoop);
        assertEqual(loop.get_selector().get_name(), 'poll');
        assert(Evl.get_event_loop() === loop);
        const f = loop.create_future();
        loop.call_soon(() => f.set_result('policy loop ran'));
        loop.run_until_complete(f);
        assertEqual(result(f), 'policy loop ran');
        const other = Evl.new_event_loop();
        Evl.set_event_loop(other);
        assert(Evl.get_event_loop() === other);
        assertEqual(policy.calls, ['get', 'new', 'get', 'new', 'set', 'get']);
        loop.close();
        other.close();
    } finally {
        Evl.set_event_loop_policy(null);
    }
    assert(Evl.get_event_loop_policy() instanceof Evl.DefaultLoopPolicy);
});

test('policy: a JavaScript policy that throws', () => {
    Evl.set_event_loop_policy(new NoLoopPolicy());
    try {
        assertThrowsLoopError(() => Evl.get_event_loop(), Evl.LoopError.NO_LOOP);
    } finally {
        Evl.set_event_loop_policy(null);
    }
});

// -------------------------------------------------------------- protocols

if (HAVE_STREAMS) {
    const EchoServer = GObject.registerClass({
        Implements: [Evl.Protocol],
    }, class EchoServer extends GObject.Object {
        vfunc_connection_made(transport) {
            this._transport = transport;
        }

        vfunc_data_received(data) {
            this._transport.write(data);
        }

        vfunc_eof_received() {
            return false;
        }
    });

    const Client = GObject.registerClass({
        Implements: [Evl.Protocol],
    }, class Client extends GObject.Object {
        _init(loop) {
            super._init();
            this.received = '';
            this.events = [];
            this.lost = loop.create_future();
        }

        vfunc_connection_made(transport) {
            this.events.push('made');
            transport.write(bytes('echo me'));
            transport.write_eof();
        }

        vfunc_data_received(data) {
            this.received += text(data);
        }

        vfunc_eof_received() {
            this.events.push('eof');
            return false;
        }

        vfunc_connection_lost(error) {
            this.events.push('lost');
            this.lost.set_result(error);
        }
    });

    test('protocol: an echo server and client written in JavaScript', () => {
        const loop = new Evl.SelectorLoop({context: GLib.MainContext.default()});
        try {
            runAsync(loop, async () => {
                const server = await loop.create_server_async(() => new EchoServer(),
                    '127.0.0.1', 0, null);
                const port = server.get_port();
                assert(port > 0);
                const client = new Client(loop);
                const [transport, protocol] = await loop.create_connection_async(
                    () => client, '127.0.0.1', port, null);
                assert(transport instanceof Evl.Transport);
                assert(protocol === client);
                assertEqual(client.events[0], 'made');
                await new Promise(resolve => client.lost.add_done_callback(resolve));
                assertEqual(client.received, 'echo me');
                assertEqual(client.events, ['made', 'eof', 'lost']);
                assert(result(client.lost) === null);
                server.close();
            });
        } finally {
            loop.close();
        }
    });
}

// -------------------------------------------------------------------- run

let failed = 0;
print(`1..${tests.length}`);
tests.forEach(([name, fn], i) => {
    try {
        const skip = fn();
        if (typeof skip === 'string' && skip.startsWith('SKIP'))
            print(`ok ${i + 1} - ${name} # ${skip}`);
        else
            print(`ok ${i + 1} - ${name}`);
    } catch (e) {
        failed++;
        print(`not ok ${i + 1} - ${name}`);
        for (const line of `${e}\n${e.stack ?? ''}`.split('\n'))
            print(`# ${line}`);
    }
});
System.exit(failed > 0 ? 1 : 0);
