#!/usr/bin/python3
# asyncio TCP echo benchmark: N round trips of SIZE bytes over loopback with
# asyncio streams (start_server / open_connection, write + drain,
# readexactly), on the stock asyncio loop and on evl_asyncio.EvlEventLoop
# over each Evl loop kind, in one run; evl-selector-driving-glib is the
# selector loop driving GLib's default main context, as EvlEventLoop()
# does on the main thread.
#
# Prints one line per loop in bench/'s BENCH format (bench-common.h): the
# median of the interleaved runs, their range, and the ratio to asyncio's own
# loop (kind=peer):
#   BENCH scenario=asyncio-echo roundtrips=1000 size=64 metric=per_roundtrip
#         impl=evl-selector kind=evl value=44.5 unit=us/op min=.. max=..
#         runs=7 better=lower ratio_to_best_peer=1.13 best_peer=asyncio-selector
# and never asserts a time. --quick (fewer runs) or EVL_BENCH_SMOKE=1 (a
# tiny amount of work) for CI.
#
# Uninstalled:
#   GI_TYPELIB_PATH=build/introspection LD_LIBRARY_PATH=build/src \
#     PYTHONPATH=introspection/python /usr/bin/python3 bench/asyncio-echo.py
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import argparse
import asyncio
import os
import statistics
import sys
import time

import gi

gi.require_version('GLib', '2.0')
gi.require_version('Evl', '1')
from gi.repository import GLib, Evl  # noqa: E402

import evl_asyncio  # noqa: E402


async def echo_handler(reader, writer):
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    finally:
        writer.close()


async def roundtrips(n, size):
    server = await asyncio.start_server(echo_handler, '127.0.0.1', 0)
    port = server.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection('127.0.0.1', port)
    payload = b'x' * size
    # Warm up (connection set-up, first allocations) before timing.
    for _ in range(min(n, 50)):
        writer.write(payload)
        await writer.drain()
        await reader.readexactly(size)
    start = time.perf_counter()
    for _ in range(n):
        writer.write(payload)
        await writer.drain()
        await reader.readexactly(size)
    elapsed = time.perf_counter() - start
    writer.close()
    await writer.wait_closed()
    server.close()
    await server.wait_closed()
    return elapsed


def stock_loop():
    return asyncio.SelectorEventLoop()


def evl_loop(make):
    def factory():
        return evl_asyncio.EvlEventLoop(make())
    return factory


def proactor():
    return Evl.ProactorLoop.new()


def driving_glib(loop_type):
    # As EvlEventLoop() makes them on the main thread: the loop drives
    # GLib's default main context while it runs.
    def make():
        loop = loop_type(context=GLib.MainContext.default())
        if isinstance(loop, Evl.ProactorLoop):
            loop.init(None)
        return loop
    return make


def main():
    parser = argparse.ArgumentParser(description='asyncio streams TCP echo on each loop')
    parser.add_argument('--roundtrips', type=int, default=1000)
    parser.add_argument('--size', type=int, default=64)
    parser.add_argument('--runs', type=int, default=7)
    parser.add_argument('--quick', action='store_true', help='fewer runs')
    args = parser.parse_args()
    if args.quick:
        args.runs = 3
    if os.environ.get('EVL_BENCH_SMOKE', '0') not in ('', '0'):
        args.roundtrips, args.runs = 20, 1

    # (name, kind, factory): asyncio's own loop is the peer to beat.
    loops = [('asyncio-selector', 'peer', stock_loop),
             ('evl-selector', 'evl', evl_loop(lambda: Evl.SelectorLoop.new(None)))]
    try:
        Evl.ProactorLoop.new().close()
    except GLib.Error as error:
        print(f'# evl-proactor not measured: {error.message}')
    else:
        loops.append(('evl-proactor', 'evl', evl_loop(proactor)))
    loops.append(('evl-selector-driving-glib', 'evl',
                  evl_loop(driving_glib(Evl.SelectorLoop))))

    results = {name: [] for name, _, _ in loops}
    # Interleave the loops so that machine noise spreads over all of them.
    for _ in range(args.runs):
        for name, _, factory in loops:
            with asyncio.Runner(loop_factory=factory) as runner:
                elapsed = runner.run(roundtrips(args.roundtrips, args.size))
            results[name].append(elapsed / args.roundtrips * 1e6)

    peer = statistics.median(results['asyncio-selector'])
    for name, kind, _ in loops:
        values = results[name]
        value = statistics.median(values)
        print(f'BENCH scenario=asyncio-echo roundtrips={args.roundtrips} size={args.size} '
              f'metric=per_roundtrip impl={name} kind={kind} value={value:.2f} unit=us/op '
              f'min={min(values):.2f} max={max(values):.2f} runs={len(values)} better=lower '
              f'ratio_to_best_peer={value / peer:.3f} best_peer=asyncio-selector')
    sys.stdout.flush()


if __name__ == '__main__':
    main()
