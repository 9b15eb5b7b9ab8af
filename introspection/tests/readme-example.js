import Evl from 'gi://Evl?version=1';

const loop = Evl.new_event_loop();
const future = loop.create_future();
const start = loop.time();
loop.call_later(0.5, () => future.set_result('hello from call_later'));

loop.run_until_complete(future);  // throws a GLib.Error if the future failed
const [, result] = future.get_result();  // GJS 1.74 returns [true, value]
print(`${result} after ${(loop.time() - start).toFixed(3)} s`);
loop.close();
