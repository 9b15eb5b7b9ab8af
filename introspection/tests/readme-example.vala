int main () {
    var loop = Evl.new_event_loop ();
    var future = loop.create_future ();
    double start = loop.time ();
    loop.call_later (0.5, () => {
        try {
            future.set_result ("hello from call_later");
        } catch (Error e) {
            printerr ("%s\n", e.message);
        }
    });

    try {
        loop.run_until_complete (future);  // throws if the future failed
        Value result;
        future.get_result (out result);
        print ("%s after %.3f s\n", result.get_string (), loop.time () - start);
        loop.close ();
    } catch (Error e) {
        printerr ("failed: %s\n", e.message);
        return 1;
    }
    return 0;
}
