import gi
gi.require_version('Evl', '1')
from gi.repository import Evl

loop = Evl.new_event_loop()
future = loop.create_future()
start = loop.time()
loop.call_later(0.5, future.set_result, 'hello from call_later')

loop.run_until_complete(future)  # raises GLib.Error if the future failed
print(f'{future.get_result()} after {loop.time() - start:.3f} s')
loop.close()
