/* Binding test: evloop-glib from Vala through evloop-glib-1.vapi.
 *
 * Built by meson when valac is found and run in the 'bindings' suite
 * (GLib test framework, TAP output).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

delegate Evl.Loop LoopFactory () throws Error;

Evl.Loop? make_loop (string kind) throws Error {
    switch (kind) {
    case "selector":
        return new Evl.SelectorLoop (null);
    case "poll":
        return new Evl.SelectorLoop (new Evl.PollSelector ());
    case "select":
        return new Evl.SelectorLoop (new Evl.SelectSelector ());
    default:
        try {
            return new Evl.ProactorLoop ();
        } catch (Evl.LoopError.NOT_SUPPORTED e) {
            Test.skip ("no proactor on this system: " + e.message);
            return null;
        }
    }
}

/* A loop that also drives the default GMainContext, as the default policy's
 * loop on the main thread does: Vala's async methods report their end
 * through it. */
Evl.Loop? make_driving_loop (string kind) throws Error {
    Evl.Loop loop;
    switch (kind) {
    case "selector":
    case "poll":
    case "select":
        Evl.Selector? selector = null;
        if (kind == "poll")
            selector = new Evl.PollSelector ();
        else if (kind == "select")
            selector = new Evl.SelectSelector ();
        loop = (Evl.Loop) Object.new (typeof (Evl.SelectorLoop),
                                      "context", MainContext.default (),
                                      "selector", selector);
        return loop;
    default:
        loop = (Evl.Loop) Object.new (typeof (Evl.ProactorLoop),
                                      "context", MainContext.default ());
        try {
            ((Initable) loop).init (null);
        } catch (Evl.LoopError.NOT_SUPPORTED e) {
            Test.skip ("no proactor on this system: " + e.message);
            return null;
        }
        return loop;
    }
}

void close_loop (Evl.Loop loop) {
    try {
        assert_true (loop.close ());
    } catch (Error e) {
        assert_no_error (e);
    }
    assert_true (loop.is_closed ());
}

/* ------------------------------------------------------------ scheduling */

void test_fifo (string kind) throws Error {
    var loop = make_loop (kind);
    if (loop == null)
        return;
    int[] order = {};
    for (int i = 0; i < 10; i++) {
        int n = i;
        loop.call_soon (() => { order += n; });
    }
    loop.call_soon (() => { loop.stop (); });
    assert_true (loop.run_forever ());
    assert_cmpint (order.length, CompareOperator.EQ, 10);
    for (int i = 0; i < 10; i++)
        assert_cmpint (order[i], CompareOperator.EQ, i);
    close_loop (loop);
}

void test_timers (string kind) throws Error {
    var loop = make_loop (kind);
    if (loop == null)
        return;
    var order = new StringBuilder ();
    double start = loop.time ();
    loop.call_later (0.03, () => { order.append ("c"); });
    loop.call_later (0.01, () => { order.append ("a"); });
    loop.call_later (0.02, () => { order.append ("b"); });
    loop.call_later (0.02, () => { order.append ("B"); });   /* same deadline: FIFO */
    loop.call_soon (() => { order.append ("s"); });
    unowned Evl.Handle cancelled = loop.call_later (0.01, () => { order.append ("X"); });
    cancelled.cancel ();
    assert_true (cancelled.is_cancelled ());
    unowned Evl.Handle last = loop.call_later (0.04, () => { loop.stop (); });
    assert_true (last.get_when () >= start + 0.04);
    loop.run_forever ();
    assert_cmpstr (order.str, CompareOperator.EQ, "sabBc");
    assert_true (loop.time () - start >= 0.039);
    close_loop (loop);
}

/* --------------------------------------------------------------- futures */

void test_futures (string kind) throws Error {
    var loop = make_loop (kind);
    if (loop == null)
        return;

    var f = loop.create_future ();
    loop.call_later (0.01, () => {
        try {
            f.set_result (42);
        } catch (Error e) {
            assert_no_error (e);
        }
    });
    assert_true (loop.run_until_complete (f));
    Value v;
    f.get_result (out v);
    assert_cmpint (v.get_int (), CompareOperator.EQ, 42);

    var s = new Evl.Future (loop);
    s.set_result ("text");
    s.get_result (out v);
    assert_cmpstr (v.get_string (), CompareOperator.EQ, "text");

    var o = loop.create_future ();
    var obj = new Cancellable ();
    o.set_result (obj);
    o.get_result (out v);
    assert_true (v.get_object () == obj);

    var n = loop.create_future ();
    n.set_result (null);
    n.get_result (out v);
    assert_true (v.holds (typeof (void*)) && v.get_pointer () == null);

    bool called = false;
    var d = loop.create_future ();
    d.add_done_callback ((fut) => { called = fut == d; });
    d.set_result (true);
    assert_false (called);          /* scheduled through the loop */
    loop.stop ();
    loop.run_forever ();
    assert_true (called);

    var e = loop.create_future ();
    e.set_error (new IOError.TIMED_OUT ("too slow"));
    try {
        loop.run_until_complete (e);
        assert_not_reached ();
    } catch (IOError.TIMED_OUT err) {
        assert_cmpstr (err.message, CompareOperator.EQ, "too slow");
    }

    var c = loop.create_future ();
    assert_true (c.cancel ());
    assert_false (c.cancel ());
    try {
        c.get_result (out v);
        assert_not_reached ();
    } catch (Evl.LoopError.CANCELLED err) {
    }

    var p = loop.create_future ();
    try {
        p.get_result (out v);
        assert_not_reached ();
    } catch (Evl.LoopError.INVALID err) {
    }
    close_loop (loop);
}

/* ---------------------------------------------------------------- errors */

void test_errors () throws Error {
    var loop = new Evl.SelectorLoop (null);
    assert_true (loop.close ());
    assert_true (loop.close ());
    try {
        loop.run_forever ();
        assert_not_reached ();
    } catch (Evl.LoopError.CLOSED e) {
        assert_true (e.domain == Evl.LoopError.quark ());
        assert_true (e is Evl.LoopError);
    }

    var other = new Evl.SelectorLoop (null);
    try {
        other.add_reader (-1, () => {});
        assert_not_reached ();
    } catch (Evl.LoopError.INVALID e) {
    }
    close_loop (other);
}

/* ------------------------------------------------------- a Vala policy */

class MyPolicy : Evl.LoopPolicy {
    public Evl.Loop? loop = null;       /* keeps the loop it returns alive */
    public string calls = "";

    public override unowned Evl.Loop get_event_loop () throws Error {
        calls += "g";
        if (loop == null)
            loop = new_event_loop ();
        return loop;
    }

    public override void set_event_loop (Evl.Loop? new_loop) {
        calls += "s";
        loop = new_loop;
    }

    public override Evl.Loop new_event_loop () {
        calls += "n";
        return new Evl.SelectorLoop (new Evl.PollSelector ());
    }
}

class NoLoopPolicy : Evl.LoopPolicy {
    public override unowned Evl.Loop get_event_loop () throws Error {
        throw new Evl.LoopError.NO_LOOP ("no loops here");
    }

    public override void set_event_loop (Evl.Loop? new_loop) {
    }

    public override Evl.Loop new_event_loop () {
        return new Evl.SelectorLoop (null);
    }
}

void test_policy () throws Error {
    var policy = new MyPolicy ();
    Evl.set_event_loop_policy (policy);
    assert_true (Evl.get_event_loop_policy () == policy);

    unowned Evl.Loop loop = Evl.get_event_loop ();
    assert_true (loop is Evl.SelectorLoop);
    assert_cmpstr (((Evl.SelectorLoop) loop).get_selector ().get_name (), CompareOperator.EQ, "poll");
    assert_true (Evl.get_event_loop () == loop);

    var f = loop.create_future ();
    loop.call_soon (() => {
        try {
            f.set_result ("policy loop ran");
        } catch (Error e) {
            assert_no_error (e);
        }
    });
    loop.run_until_complete (f);

    var other = Evl.new_event_loop ();
    Evl.set_event_loop (other);
    assert_true (Evl.get_event_loop () == other);
    assert_cmpstr (policy.calls, CompareOperator.EQ, "gngnsg");
    close_loop (loop);
    close_loop (other);

    Evl.set_event_loop_policy (new NoLoopPolicy ());
    try {
        Evl.get_event_loop ();
        assert_not_reached ();
    } catch (Evl.LoopError.NO_LOOP e) {
    }
    Evl.set_event_loop_policy (null);
    assert_true (Evl.get_event_loop_policy () is Evl.DefaultLoopPolicy);
}

/* ---------------------------------------------- socket primitives, yield */

async void exchange (Evl.Loop loop) throws Error {
    var server = new Socket (SocketFamily.IPV4, SocketType.STREAM, SocketProtocol.TCP);
    server.bind (new InetSocketAddress.from_string ("127.0.0.1", 0), true);
    server.listen ();
    var port = ((InetSocketAddress) server.get_local_address ()).get_port ();
    var client = new Socket (SocketFamily.IPV4, SocketType.STREAM, SocketProtocol.TCP);

    /* accept and connect at the same time */
    int fd = -1;
    SocketAddress? peer = null;
    bool accepted = false, waiting = false;
    SourceFunc resume = exchange.callback;
    loop.sock_accept.begin (server.fd, null, (obj, res) => {
        try {
            fd = loop.sock_accept.end (res, out peer);
        } catch (Error e) {
            assert_no_error (e);
        }
        accepted = true;
        if (waiting)
            resume ();
    });
    yield loop.sock_connect (client.fd, new InetSocketAddress.from_string ("127.0.0.1", port), null);
    if (!accepted) {
        waiting = true;
        yield;
    }
    assert_cmpint (fd, CompareOperator.GE, 0);
    assert_cmpuint (((InetSocketAddress) peer).get_port (), CompareOperator.EQ,
                    ((InetSocketAddress) client.get_local_address ()).get_port ());
    var conn = new Socket.from_fd (fd);

    yield loop.sock_sendall (client.fd, new Bytes ("hello from vala".data), null);
    var received = new ByteArray ();
    while (received.len < 15) {
        var bytes = yield loop.sock_recv (fd, 1024, null);
        received.append (bytes.get_data ());
    }
    received.append ({0});
    assert_cmpstr ((string) received.data, CompareOperator.EQ, "hello from vala");

    /* recv_into, Vala only: the array lives in this coroutine */
    yield loop.sock_sendall (fd, new Bytes ("into".data), null);
    var buffer = new uint8[16];
    ssize_t n = 0;
    while (n < 4)
        n += yield loop.sock_recv_into (client.fd, buffer[n:buffer.length], null);
    assert_cmpmem (buffer[0:4], "into".data);

    client.shutdown (false, true);
    var eof = yield loop.sock_recv (fd, 1024, null);
    assert_cmpuint ((uint) eof.get_size (), CompareOperator.EQ, 0);

    var cancellable = new Cancellable ();
    loop.call_later (0.01, () => { cancellable.cancel (); });
    try {
        yield loop.sock_recv (client.fd, 10, cancellable);
        assert_not_reached ();
    } catch (IOError.CANCELLED e) {
    }

    conn.close ();
    client.close ();
    server.close ();
}

void test_sockets (string kind) throws Error {
    var loop = make_driving_loop (kind);
    if (loop == null)
        return;
    var done = loop.create_future ();
    Error? failure = null;
    exchange.begin (loop, (obj, res) => {
        try {
            exchange.end (res);
        } catch (Error e) {
            failure = e;
        }
        try {
            done.set_result (null);
        } catch (Error e) {
            assert_no_error (e);
        }
    });
    loop.run_until_complete (done);
    if (failure != null)
        throw failure;
    close_loop (loop);
}

/* ------------------------------------- executor and name resolution */

async void executor_and_resolver (Evl.Loop loop) throws Error {
    Thread<void*> main_thread = Thread.self<void*> ();
    bool on_worker = false;

    /* A closure run on a worker thread; the result travels as a Value. */
    Value result;
    yield loop.run_in_executor_async ((out val, cancellable) => {
        on_worker = Thread.self<void*> () != main_thread;
        val = Value (typeof (int));
        val.set_int (6 * 7);
        return true;
    }, null, out result);
    assert_true (on_worker);
    assert_cmpint (result.get_int (), CompareOperator.EQ, 42);

    try {
        yield loop.run_in_executor_async ((out val, cancellable) => {
            val = Value (typeof (int));
            throw new IOError.PERMISSION_DENIED ("worker failed");
        }, null, out result);
        assert_not_reached ();
    } catch (IOError.PERMISSION_DENIED e) {
        assert_cmpstr (e.message, CompareOperator.EQ, "worker failed");
    }

    var addresses = yield loop.getaddrinfo ("localhost", 8080, null);
    assert_cmpuint (addresses.length (), CompareOperator.GT, 0);
    foreach (var address in addresses) {
        assert_true (address.get_address ().get_is_loopback ());
        assert_cmpuint (address.get_port (), CompareOperator.EQ, 8080);
    }
    /* gbulb's wait_signal: the next emission of a GObject signal */
    var action = new SimpleAction ("go", new VariantType ("s"));
    loop.call_soon (() => { action.activate (new Variant.string ("hi")); });
    Value[] values;
    yield loop.wait_signal (action, "activate", null, out values);
    assert_cmpint (values.length, CompareOperator.EQ, 1);
    assert_cmpstr (((Variant) values[0]).get_string (), CompareOperator.EQ, "hi");

    uint16 port;
    var name = yield loop.getnameinfo (new InetSocketAddress.from_string ("127.0.0.1", 80), null, out port);
    assert_true (name != null);
    assert_cmpuint (port, CompareOperator.EQ, 80);
}

void test_executor (string kind) throws Error {
    var loop = make_driving_loop (kind);
    if (loop == null)
        return;
    var done = loop.create_future ();
    Error? failure = null;
    executor_and_resolver.begin (loop, (obj, res) => {
        try {
            executor_and_resolver.end (res);
        } catch (Error e) {
            failure = e;
        }
        try {
            done.set_result (null);
        } catch (Error e) {
            assert_no_error (e);
        }
    });
    loop.run_until_complete (done);
    if (failure != null)
        throw failure;
    close_loop (loop);
}

/* ------------------------------------------------- a protocol in Vala */

class EchoServer : Object, Evl.Protocol {
    Evl.Transport? transport = null;

    /* Only what it needs: the other members keep their defaults. */
    public void connection_made (Evl.Transport t) {
        transport = t;
    }

    public void data_received (Bytes data) {
        transport.write (data);
    }
}

class EchoClient : Object, Evl.Protocol {
    public StringBuilder received = new StringBuilder ();
    public string events = "";
    public Evl.Future lost;

    public EchoClient (Evl.Loop loop) {
        lost = loop.create_future ();
    }

    public void connection_made (Evl.Transport t) {
        events += "m";
        t.write (new Bytes ("echo me".data));
        t.write_eof ();
    }

    public void data_received (Bytes data) {
        received.append_len ((string) data.get_data (), (ssize_t) data.get_size ());
    }

    public bool eof_received () {
        events += "e";
        return false;
    }

    public void connection_lost (Error? error) {
        events += "l";
        try {
            lost.set_result (error == null);
        } catch (Error e) {
            assert_no_error (e);
        }
    }
}

async void echo (Evl.Loop loop) throws Error {
    var server = yield loop.create_server (() => new EchoServer (), "127.0.0.1", 0, null);
    assert_cmpuint (server.get_port (), CompareOperator.GT, 0);
    var client = new EchoClient (loop);
    Evl.Protocol? protocol;
    var transport = yield loop.create_connection (() => client, "127.0.0.1", server.get_port (),
                                                  null, out protocol);
    assert_true (protocol == client);
    assert_true (transport.get_protocol () == client);
    assert_cmpstr (client.events, CompareOperator.EQ, "m");     /* before the callback */
    if (!client.lost.is_done ()) {
        SourceFunc resume = echo.callback;
        client.lost.add_done_callback (() => { resume (); });
        yield;
    }
    Value clean;
    client.lost.get_result (out clean);
    assert_true (clean.get_boolean ());
    assert_cmpstr (client.received.str, CompareOperator.EQ, "echo me");
    assert_cmpstr (client.events, CompareOperator.EQ, "mel");
    server.close ();
    yield server.wait_closed (null);
}

void test_protocol (string kind) throws Error {
    var loop = make_driving_loop (kind);
    if (loop == null)
        return;
    var done = loop.create_future ();
    Error? failure = null;
    echo.begin (loop, (obj, res) => {
        try {
            echo.end (res);
        } catch (Error e) {
            failure = e;
        }
        try {
            done.set_result (null);
        } catch (Error e) {
            assert_no_error (e);
        }
    });
    loop.run_until_complete (done);
    if (failure != null)
        throw failure;
    close_loop (loop);
}

/* ----------------------------------------------------------- GLib bridge */

void test_attach () throws Error {
    var loop = new Evl.SelectorLoop (null);
    var context = new MainContext ();
    var main_loop = new MainLoop (context, false);
    bool ran = false;
    var id = loop.attach (context);
    assert_cmpuint (id, CompareOperator.GT, 0);
    loop.call_later (0.01, () => {
        ran = loop.is_running () && Evl.get_running_loop () == loop;
        main_loop.quit ();
    });
    main_loop.run ();
    assert_true (ran);
    context.find_source_by_id (id).destroy ();
    close_loop (loop);
}

void test_drive_context () throws Error {
    var context = new MainContext ();
    var loop = (Evl.Loop) Object.new (typeof (Evl.SelectorLoop), "context", context);
    assert_true (loop.get_context () == context);
    var f = loop.create_future ();
    var source = new TimeoutSource (10);
    source.set_callback (() => {
        try {
            f.set_result ("from GLib");
        } catch (Error e) {
            assert_no_error (e);
        }
        return Source.REMOVE;
    });
    source.attach (context);
    assert_true (loop.run_until_complete (f));
    close_loop (loop);
}

delegate void KindTest (string kind) throws Error;

void add_kind_test (string path, string kind, owned KindTest fn) {
    Test.add_data_func ("/Evl/Vala/%s/%s".printf (kind, path), () => {
        try {
            fn (kind);
        } catch (Error e) {
            assert_no_error (e);
        }
    });
}

int main (string[] args) {
    Test.init (ref args);
    foreach (var kind in new string[] { "selector", "poll", "select", "proactor" }) {
        add_kind_test ("call-soon/fifo", kind, test_fifo);
        add_kind_test ("timers", kind, test_timers);
        add_kind_test ("futures", kind, test_futures);
        add_kind_test ("sockets", kind, test_sockets);
        add_kind_test ("protocol", kind, test_protocol);
        add_kind_test ("executor", kind, test_executor);
    }
    Test.add_func ("/Evl/Vala/errors", () => {
        try { test_errors (); } catch (Error e) { assert_no_error (e); }
    });
    Test.add_func ("/Evl/Vala/policy", () => {
        try { test_policy (); } catch (Error e) { assert_no_error (e); }
    });
    Test.add_func ("/Evl/Vala/bridge/attach", () => {
        try { test_attach (); } catch (Error e) { assert_no_error (e); }
    });
    Test.add_func ("/Evl/Vala/bridge/context", () => {
        try { test_drive_context (); } catch (Error e) { assert_no_error (e); }
    });
    return Test.run ();
}
