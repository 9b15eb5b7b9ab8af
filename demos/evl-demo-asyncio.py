#!/usr/bin/python3
# evl-demo-asyncio.py: ordinary asyncio code updating a GTK 4 window, on the
# loop GTK already runs (evl_asyncio).
#
# The window shows a clock and a progress bar, each updated by an
# `async def` loop (asyncio.sleep), and the result of asyncio TCP echo round
# trips (asyncio.start_server / open_connection on 127.0.0.1). "Echo" starts
# a round trip as an asyncio task; "Echo (nested run)" runs one to
# completion inside the button's signal handler with run_until_complete()
# (EvlEventLoop(allow_nested=True)), which stock asyncio refuses.
#
#   evl-demo-asyncio.py [--drive=gtk|asyncio] [--self-test]
#
# --drive=gtk (default): Gtk.Application.run() runs GLib's main loop; the
#   asyncio loop is attached to GLib's default context (evl_asyncio's
#   new_event_loop() does it on the main thread), so its tasks run too.
# --drive=asyncio: asyncio.run() (an asyncio.Runner with evl_asyncio's
#   loop factory) runs the loop, which drives GLib's default context, so the
#   GTK window stays alive while coroutines await.
# --self-test: clicks the buttons itself, waits until the window shows what
#   the tasks produced (clock ticks, full progress, both echoes), checks the
#   window is mapped, and exits 0 on success, 1 on failure (within 30 s).
#
# Uninstalled, from the source tree after `meson compile -C build`:
#   GI_TYPELIB_PATH=build/introspection LD_LIBRARY_PATH=build/src \
#     PYTHONPATH=introspection/python /usr/bin/python3 demos/evl-demo-asyncio.py
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import argparse
import asyncio
import sys
import time

import gi

gi.require_version('GLib', '2.0')
gi.require_version('Gio', '2.0')
gi.require_version('Gtk', '4.0')
from gi.repository import Gio, Gtk  # noqa: E402

import evl_asyncio  # noqa: E402

SELF_TEST_TIMEOUT = 30.0
APP_ID = 'org.evloop.DemoAsyncio'


async def echo_server():
    """A line echo server on 127.0.0.1 (any free port)."""
    async def handle(reader, writer):
        try:
            while line := await reader.readline():
                writer.write(b'echo: ' + line)
                await writer.drain()
        finally:
            writer.close()

    return await asyncio.start_server(handle, '127.0.0.1', 0)


async def echo_roundtrip(port, text):
    """One round trip; returns the echoed line and the time it took."""
    start = time.perf_counter()
    reader, writer = await asyncio.open_connection('127.0.0.1', port)
    try:
        writer.write(text.encode() + b'\n')
        await writer.drain()
        line = await reader.readline()
    finally:
        writer.close()
        await writer.wait_closed()
    return line.decode().rstrip('\n'), time.perf_counter() - start


class Demo:
    def __init__(self, loop, self_test):
        self.loop = loop
        self.self_test = self_test
        self.exit_status = 0
        self.window = None
        self.server = None
        self.tasks = []
        self.ticks = 0
        self.echoes = 0

    # -- the window ---------------------------------------------------------

    def build_window(self, app):
        self.window = Gtk.ApplicationWindow(application=app,
                                            title='evloop-glib: asyncio in GTK')
        self.window.set_default_size(420, 220)
        box = Gtk.Box(orientation=Gtk.Orientation.VERTICAL, spacing=8)
        for side in ('top', 'bottom', 'start', 'end'):
            getattr(box, f'set_margin_{side}')(12)

        self.clock = Gtk.Label(label='--:--:--', xalign=0)
        self.clock.add_css_class('title-1')
        box.append(self.clock)

        self.progress = Gtk.ProgressBar(show_text=True)
        box.append(self.progress)

        buttons = Gtk.Box(spacing=8)
        self.echo_button = Gtk.Button(label='Echo')
        self.echo_button.connect('clicked', self.on_echo_clicked)
        buttons.append(self.echo_button)
        self.nested_button = Gtk.Button(label='Echo (nested run)')
        self.nested_button.connect('clicked', self.on_nested_clicked)
        buttons.append(self.nested_button)
        box.append(buttons)

        self.echo_label = Gtk.Label(label='no echo yet', xalign=0)
        box.append(self.echo_label)
        self.nested_label = Gtk.Label(label='no nested echo yet', xalign=0)
        box.append(self.nested_label)

        self.status = Gtk.Label(xalign=0)
        self.status.add_css_class('dim-label')
        box.append(self.status)

        self.window.set_child(box)
        self.window.present()

    # -- asyncio tasks ------------------------------------------------------

    async def start(self, app):
        """Starts the server and the window's tasks (runs on the loop)."""
        self.server = await echo_server()
        self.port = self.server.sockets[0].getsockname()[1]
        self.status.set_text(f'{type(self.loop).__name__} on '
                             f'{type(self.loop.evl_loop).__name__}; '
                             f'echo server on 127.0.0.1:{self.port}')
        self.echo_button.set_sensitive(True)
        self.nested_button.set_sensitive(True)
        self.tasks.append(self.loop.create_task(self.clock_task()))
        self.tasks.append(self.loop.create_task(self.progress_task()))
        if self.self_test:
            self.tasks.append(self.loop.create_task(self.run_self_test(app)))

    async def clock_task(self):
        while True:
            self.clock.set_text(time.strftime('%H:%M:%S'))
            self.ticks += 1
            # Wake at the next full second.
            await asyncio.sleep(1.0 - time.time() % 1.0 + 0.001)

    async def progress_task(self):
        steps = 20
        for i in range(steps + 1):
            self.progress.set_fraction(i / steps)
            self.progress.set_text(f'async progress {i * 100 // steps}%')
            await asyncio.sleep(0.05)

    async def echo_task(self, text):
        line, took = await echo_roundtrip(self.port, text)
        self.echoes += 1
        self.echo_label.set_text(f'{line} ({took * 1e3:.2f} ms)')

    def on_echo_clicked(self, button):
        self.tasks.append(self.loop.create_task(self.echo_task('hello from asyncio')))

    def on_nested_clicked(self, button):
        # A GTK signal handler that needs a result now: run the coroutine
        # to completion here (the loop runs nested, GTK stays responsive).
        line, took = self.loop.run_until_complete(
            echo_roundtrip(self.port, 'hello from a nested run'))
        self.nested_label.set_text(f'{line} ({took * 1e3:.2f} ms)')

    async def stop(self):
        for task in self.tasks:
            if task is not asyncio.current_task():
                task.cancel()
        await asyncio.gather(*[t for t in self.tasks if t is not asyncio.current_task()],
                             return_exceptions=True)
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    # -- self-test ----------------------------------------------------------

    async def run_self_test(self, app):
        ok, message = False, 'timed out'
        try:
            ok, message = await asyncio.wait_for(self.check(), SELF_TEST_TIMEOUT)
        except asyncio.TimeoutError:
            message = (f'timed out: ticks={self.ticks} progress={self.progress.get_fraction()} '
                       f'echo={self.echo_label.get_text()!r} '
                       f'nested={self.nested_label.get_text()!r}')
        except Exception as exc:
            message = f'{type(exc).__name__}: {exc}'
        print(f'self-test: {"PASS" if ok else "FAIL"}: {message}')
        self.exit_status = 0 if ok else 1
        await self.stop()
        self.window.close()

    async def check(self):
        first_clock = self.clock.get_text()
        # Let the window settle (its first frames) before the round trips.
        while self.progress.get_fraction() < 0.5:
            await asyncio.sleep(0.05)
        self.echo_button.emit('clicked')
        self.nested_button.emit('clicked')   # returns once the echo is shown
        if self.nested_label.get_text().split(' (')[0] != 'echo: hello from a nested run':
            return False, f'nested echo label: {self.nested_label.get_text()!r}'
        while not (self.echoes >= 1 and self.progress.get_fraction() >= 1.0
                   and self.ticks >= 2 and self.clock.get_text() != first_clock):
            await asyncio.sleep(0.05)
        if not self.echo_label.get_text().startswith('echo: hello from asyncio ('):
            return False, f'echo label: {self.echo_label.get_text()!r}'
        if self.progress.get_text() != 'async progress 100%':
            return False, f'progress text: {self.progress.get_text()!r}'
        if not self.window.get_mapped():
            return False, 'the window is not mapped'
        return True, (f'clock ticked {self.ticks} times ({first_clock} -> '
                      f'{self.clock.get_text()}), progress 100%, '
                      f'{self.echo_label.get_text()!r}, {self.nested_label.get_text()!r}')


def run_gtk_driven(args):
    """Gtk.Application.run() drives; the asyncio loop is attached to it."""
    loop = evl_asyncio.new_event_loop(allow_nested=True)   # attached on the main thread
    asyncio.set_event_loop(loop)
    demo = Demo(loop, args.self_test)
    app = Gtk.Application(application_id=APP_ID, flags=Gio.ApplicationFlags.NON_UNIQUE)

    def activate(app):
        if demo.window is not None:
            demo.window.present()
            return
        demo.build_window(app)
        demo.echo_button.set_sensitive(False)
        demo.nested_button.set_sensitive(False)
        loop.create_task(demo.start(app))

    def shutdown(app):
        if not loop.is_closed():
            loop.run_until_complete(demo.stop())

    app.connect('activate', activate)
    app.connect('shutdown', shutdown)
    try:
        status = app.run([sys.argv[0]])
    finally:
        asyncio.set_event_loop(None)
        loop.close()
    return status or demo.exit_status


def run_asyncio_driven(args):
    """asyncio runs the loop, which drives GLib's default context."""
    def factory():
        return evl_asyncio.new_event_loop(allow_nested=True)

    async def main():
        loop = asyncio.get_running_loop()
        demo = Demo(loop, args.self_test)
        app = Gtk.Application(application_id=APP_ID, flags=Gio.ApplicationFlags.NON_UNIQUE)
        app.register(None)
        closed = loop.create_future()
        demo.build_window(app)
        demo.window.connect('close-request', lambda w: closed.done() or closed.set_result(None))
        await demo.start(app)
        await closed
        await demo.stop()
        return demo.exit_status

    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(main())


def main():
    parser = argparse.ArgumentParser(description='asyncio tasks in a GTK 4 window (evl_asyncio)')
    parser.add_argument('--drive', choices=('gtk', 'asyncio'), default='gtk',
                        help='who runs the loop: Gtk.Application.run() or asyncio.run()')
    parser.add_argument('--self-test', action='store_true',
                        help='drive the window, check what the tasks showed, exit 0/1')
    args = parser.parse_args()
    if not Gtk.init_check():
        print('evl-demo-asyncio: cannot open a display', file=sys.stderr)
        return 77 if args.self_test else 1
    if args.drive == 'gtk':
        return run_gtk_driven(args)
    return run_asyncio_driven(args)


if __name__ == '__main__':
    sys.exit(main())
