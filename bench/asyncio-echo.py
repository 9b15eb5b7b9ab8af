#!/usr/bin/python3
# asyncio TCP echo benchmark: N round trips of SIZE bytes over loopback with
# asyncio streams (start_server / open_connection, write + drain,
# readexactly), on the stock asyncio loop and on evl_asyncio.EvlEventLoop
# over each Evl loop kind, in one run.
#
# Prints one machine-readable line per loop (the median of the repeats):
#   asyncio-echo loop=<name> roundtrips=<N> size=<SIZE> us_per_roundtrip=<median> roundtrips_per_s=<rate> repeats=<R>
# and never asserts a time. EVL_BENCH_SMOKE=1 does a tiny amount of work.
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


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--roundtrips', type=int, default=1000)
    parser.add_argument('--size', type=int, default=64)
    parser.add_argument('--repeats', type=int, default=7)
    args = parser.parse_args()
    if os.environ.get('EVL_BENCH_SMOKE'):
        args.roundtrips, args.repeats = 20, 1

    loops = [('asyncio-selector', stock_loop),
             ('evl-selector', evl_loop(lambda: Evl.SelectorLoop.new(None)))]
    try:
        Evl.ProactorLoop.new().close()
    except GLib.Error as error:
        print(f'# evl-proactor not measured: {error.message}')
    else:
        loops.append(('evl-proactor', evl_loop(proactor)))

    results = {name: [] for name, _ in loops}
    # Interleave the loops so that machine noise spreads over all of them.
    for _ in range(args.repeats):
        for name, factory in loops:
            with asyncio.Runner(loop_factory=factory) as runner:
                results[name].append(runner.run(roundtrips(args.roundtrips, args.size)))

    for name, _ in loops:
        median = statistics.median(results[name])
        print(f'asyncio-echo loop={name} roundtrips={args.roundtrips} size={args.size} '
              f'us_per_roundtrip={median / args.roundtrips * 1e6:.2f} '
              f'roundtrips_per_s={args.roundtrips / median:.0f} repeats={args.repeats}')
    sys.stdout.flush()


if __name__ == '__main__':
    main()
