#!/usr/bin/env python3
# report.py: BENCH lines in, docs/benchmarks.md and PNG plots out.
#
#   bench/report.py RESULTS.txt OUTDIR [--title TEXT]
#
# RESULTS.txt holds the output of the bench-* programs (BENCH lines and
# '#' comments). Writes OUTDIR/benchmarks.md (a table per scenario, the
# targets of the benchmark issue checked against the medians) and, when
# gnuplot is installed, OUTDIR/bench-fd-scaling.png and
# OUTDIR/bench-timers.png. Standard library only.
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import collections
import os
import shutil
import subprocess
import sys
import tempfile

SCENARIOS = [
    ('callbacks', 'Scenario 1: queued callbacks',
     'Time per callback, from the first schedule to the last callback run, '
     'scheduling included (`call_soon`; one `g_idle_add` source per callback '
     'for GLib; one `ev_idle` watcher each for libev; a queue drained by one '
     '`uv_idle_t` for libuv). Floor: a plain C array of function pointers.'),
    ('timers', 'Scenario 2: one-shot timers',
     'N one-shot timers scheduled up front, deadlines at random over the span, '
     'starting 0.1–0.2 s later. Lateness is measured against the deadline asked '
     'for (GLib and libuv get the next whole millisecond: their APIs have no '
     'finer unit). CPU is the process\'s CPU time from the first schedule to '
     'the last callback. The smaller case has the same density (N/20 timers '
     'over span/20) so that CPU per timer shows whether a timer costs more when '
     'more are pending.'),
    ('fd-scaling', 'Scenario 3: wakeups with K idle fds',
     'K idle socketpairs watched for reading (one end each), plus one pair '
     'doing 1-byte ping-pong between its ends in the same loop: time per round '
     'trip. The process\'s open-file limit caps K (two fds per pair); `k` is '
     'the K used, `k_asked` the K wanted. `raw-io_uring` re-arms one-shot '
     'poll requests as the proactor loop\'s `add_reader` does.'),
    ('tcp-pingpong', 'Scenario 4: TCP ping-pong, 64-byte messages',
     'One loopback TCP connection, both ends in one thread, one message in '
     'flight. `evl-*` use the socket primitives (`sock_recv_into`, '
     '`sock_sendall`); `evl-*-reader` use `add_reader` with read()/write(); '
     '`evl-attached` is the selector loop with the primitives, attached to a '
     'GMainContext that `g_main_loop_run` drives.'),
    ('tcp-bulk', 'Scenario 4b: TCP bulk throughput, 64 KiB writes',
     'One way, 64 KiB writes and 64 KiB reads over loopback.'),
    ('cross-thread', 'Scenario 5: cross-thread posts',
     '2 producer threads each post callbacks as fast as they can to a loop in '
     'the main thread. Wakeup writes are counted by the kernel (`syscw` of each '
     'producer thread in /proc/thread-self/io). Peers: `g_main_context_invoke`; '
     'a locked queue with `uv_async_send` / `ev_async_send`; floor: a locked '
     'queue and an eventfd written only when the consumer is not already due '
     'to look.'),
    ('many-connections', 'Scenario 6: many concurrent connections',
     '100 loopback TCP connections, both ends in one loop, each doing 64-byte '
     'ping-pong with one message in flight: total round trips per second.'),
    ('bridge-overhead', 'Scenario 7: the GLib bridges',
     'The ping-pong of scenario 4 with `add_reader` and read()/write(): the '
     'loop alone, attached to a GMainContext run by `g_main_loop_run` '
     '(`-attached`), and driving a GMainContext that has one idle GLib fd '
     'source (`-driving`); GLib alone (`g_unix_fd_add`) for reference. Again '
     'with 1000 idle fds watched.'),
]


def parse(path):
    rows = []
    notes = []
    with open(path) as fh:
        for line in fh:
            line = line.strip()
            if line.startswith('BENCH '):
                fields = {}
                params = []
                for tok in line.split()[1:]:
                    k, _, v = tok.partition('=')
                    fields[k] = v
                    if k not in ('scenario', 'metric', 'impl', 'kind', 'value', 'unit', 'min', 'max',
                                 'runs', 'better', 'ratio_to_best_peer', 'best_peer',
                                 'ratio_to_floor', 'floor'):
                        params.append(tok)
                fields['params'] = ' '.join(params)
                for k in ('value', 'min', 'max'):
                    fields[k] = float(fields[k])
                rows.append(fields)
            elif line.startswith('# ') and ('skipped' in line or 'does not fit' in line
                                            or 'failed with status' in line):
                notes.append(line[2:])
    return rows, notes


def fmt(v):
    a = abs(v)
    if a >= 1000 or a == 0:
        return f'{v:,.0f}'.replace(',', ' ')
    if a >= 100:
        return f'{v:.1f}'
    if a >= 10:
        return f'{v:.2f}'
    if a >= 1:
        return f'{v:.3f}'
    return f'{v:.3g}'


class Results:
    def __init__(self, rows):
        self.rows = rows
        self.by_key = {}
        for r in rows:
            self.by_key[(r['scenario'], r['params'], r['metric'], r['impl'])] = r

    def params_of(self, scenario):
        seen = []
        for r in self.rows:
            if r['scenario'] == scenario and r['params'] not in seen:
                seen.append(r['params'])
        return seen

    def get(self, scenario, metric, impl, params=None, pick=None):
        cands = [r for r in self.rows if r['scenario'] == scenario and r['metric'] == metric
                 and r['impl'] == impl and (params is None or r['params'] == params)]
        if not cands:
            return None
        if pick is not None:
            cands = [pick(cands)]
        return cands[0]['value']


def param_value(params, key):
    for tok in params.split():
        k, _, v = tok.partition('=')
        if k == key:
            return v
    return None


def targets(res):
    """(description, measured text, met?) per target of the issue."""
    out = []

    def ratio(a, b):
        return None if a is None or b is None or b == 0 else a / b

    def add(desc, value, ok, detail):
        if value is None:
            out.append((desc, 'not measured', None))
        else:
            out.append((desc, detail, ok))

    # callbacks
    for impl in ('evl-selector', 'evl-proactor', 'evl-attached'):
        evl = res.get('callbacks', 'per_callback', impl)
        r = ratio(evl, res.get('callbacks', 'per_callback', 'c-array'))
        add(f'callbacks: {impl} ≤ 2.5× the plain-C floor', r, r is not None and r <= 2.5,
            f'{r:.2f}×' if r else '')
        g = ratio(res.get('callbacks', 'per_callback', 'glib'), evl)
        add(f'callbacks: {impl} ≥ 20× faster than g_idle_add', g, g is not None and g >= 20,
            f'{g:.1f}× faster' if g else '')

    # timers
    tparams = res.params_of('timers')
    if tparams:
        big = max(tparams, key=lambda p: int(param_value(p, 'n')))
        small = min(tparams, key=lambda p: int(param_value(p, 'n')))
        n_big = param_value(big, 'n')
        n_small = param_value(small, 'n')
        for impl in ('evl-selector', 'evl-proactor'):
            r = ratio(res.get('timers', 'mean_lateness', impl, big),
                      res.get('timers', 'mean_lateness', 'libev', big))
            add(f'timers ({n_big}): {impl} mean lateness ≤ ¼ of libev\'s', r, r is not None and r <= 0.25,
                f'{r:.2f}× libev\'s' if r else '')
            r = ratio(res.get('timers', 'cpu', impl, big), res.get('timers', 'cpu', 'libuv', big))
            add(f'timers ({n_big}): {impl} CPU ≤ libuv\'s', r, r is not None and r <= 1.0,
                f'{r:.2f}× libuv\'s' if r else '')
            r = ratio(res.get('timers', 'cpu_per_timer', impl, big),
                      res.get('timers', 'cpu_per_timer', impl, small))
            add(f'timers: {impl} CPU per timer does not grow from {n_small} to {n_big} (≤ 1.1×, noise)',
                r, r is not None and r <= 1.1, f'{r:.2f}×' if r else '')

    # fd scaling
    fparams = res.params_of('fd-scaling')
    if fparams:
        ks = sorted(fparams, key=lambda p: int(param_value(p, 'k')))
        lo, hi = ks[0], ks[-1]
        k_lo, k_hi = param_value(lo, 'k'), param_value(hi, 'k')
        for impl in ('evl-selector', 'evl-proactor', 'evl-attached'):
            r = ratio(res.get('fd-scaling', 'round_trip', impl, hi), res.get('fd-scaling', 'round_trip', impl, lo))
            add(f'fd scaling: {impl} flat in K (K={k_hi} within 1.2× of K={k_lo})', r,
                r is not None and r <= 1.2, f'{r:.2f}×' if r else '')
        for p in ks:
            k = param_value(p, 'k')
            r = ratio(res.get('fd-scaling', 'round_trip', 'evl-selector', p),
                      res.get('fd-scaling', 'round_trip', 'raw-epoll', p))
            add(f'fd scaling K={k}: evl-selector ≤ 1.15× raw epoll', r, r is not None and r <= 1.15,
                f'{r:.2f}×' if r else '')
            r = ratio(res.get('fd-scaling', 'round_trip', 'evl-proactor', p),
                      res.get('fd-scaling', 'round_trip', 'raw-io_uring', p))
            add(f'fd scaling K={k}: evl-proactor ≤ 1.05× raw io_uring', r, r is not None and r <= 1.05,
                f'{r:.2f}×' if r else '')
        r = ratio(res.get('fd-scaling', 'round_trip', 'evl-attached', hi),
                  res.get('fd-scaling', 'round_trip', 'raw-epoll', hi))
        add(f'fd scaling K={k_hi}: attached to GLib ≤ 1.5× raw epoll', r, r is not None and r <= 1.5,
            f'{r:.2f}×' if r else '')

    # tcp
    ep = res.get('tcp-pingpong', 'round_trips', 'raw-epoll')
    for impl, need in (('evl-selector', 0.95), ('evl-selector-reader', 0.95),
                       ('evl-proactor', 1.0), ('evl-proactor-reader', 1.0)):
        r = ratio(res.get('tcp-pingpong', 'round_trips', impl), ep)
        add(f'tcp ping-pong: {impl} ≥ {need}× raw epoll', r, r is not None and r >= need,
            f'{r:.2f}×' if r else '')
    r = ratio(res.get('tcp-pingpong', 'round_trips', 'evl-attached'),
              res.get('tcp-pingpong', 'round_trips', 'evl-selector'))
    add('tcp ping-pong: attached ≥ 0.85× standalone (primitives)', r, r is not None and r >= 0.85,
        f'{r:.2f}×' if r else '')
    bparams = res.params_of('bridge-overhead')
    for p in bparams:
        for kind in ('selector', 'proactor'):
            r = ratio(res.get('bridge-overhead', 'round_trips', f'evl-{kind}-attached', p),
                      res.get('bridge-overhead', 'round_trips', f'evl-{kind}', p))
            add(f'bridges ({p.split()[0]}): {kind} attached ≥ 0.85× standalone (add_reader)', r,
                r is not None and r >= 0.85, f'{r:.2f}×' if r else '')

    # many connections
    pro = res.get('many-connections', 'round_trips', 'evl-proactor')
    r = ratio(pro, res.get('many-connections', 'round_trips', 'evl-selector'))
    add('many connections: evl-proactor ≥ 1.1× evl-selector', r, r is not None and r >= 1.1,
        f'{r:.2f}×' if r else '')
    r = ratio(pro, res.get('many-connections', 'round_trips', 'raw-epoll'))
    add('many connections: evl-proactor ≥ 1.0× raw epoll', r, r is not None and r >= 1.0,
        f'{r:.2f}×' if r else '')

    # cross-thread
    for impl in ('evl-selector', 'evl-proactor'):
        v = res.get('cross-thread', 'callbacks_per_s', impl)
        add(f'cross-thread: {impl} ≥ 25 M callbacks/s', v, v is not None and v >= 25, f'{v:.1f} M/s' if v else '')
        v = res.get('cross-thread', 'callbacks_per_wakeup', impl)
        add(f'cross-thread: {impl} ≥ 100 callbacks per wakeup', v, v is not None and v >= 100,
            f'{v:.0f}' if v else '')
    return out


def write_markdown(res, notes, outdir, title, plots, machine):
    lines = []
    lines.append('# Benchmarks')
    lines.append('')
    lines.append(title)
    lines.append('')
    lines.append('Regenerated by `bench/run-all` from the BENCH lines of the `bench/` programs '
                 '(raw lines: [benchmarks.txt](benchmarks.txt)). Each figure is the median of '
                 'several runs, the runs of all implementations interleaved; min–max is the range '
                 'of the runs. *Ratio to best peer* divides the median by the best peer\'s '
                 '(GLib, libuv, libev): for a time, above 1 is slower; for a rate, above 1 is '
                 'faster. *Ratio to floor* does the same against the best floor (plain C, '
                 'raw epoll, raw io_uring, raw queue). Peer and floor programs are ours, written '
                 'against those libraries\' public APIs; see each program\'s header comment.')
    lines.append('')
    if machine:
        lines.append(f'Machine: {machine}')
        lines.append('')
    lines.append('Run it: `bench/run-all` (about 4 minutes) or `bench/run-all --quick`; one scenario: '
                 '`meson test -C build --benchmark callbacks`, or run `build/bench/bench-callbacks '
                 '--help`.')
    lines.append('')
    lines.append('Contents: ' + ', '.join(f'[{t}](#{t.lower().replace(" ", "-").replace(":", "").replace(",", "")})'
                                          for s, t, _ in SCENARIOS if res.params_of(s)) +
                 ', [targets](#targets).')
    lines.append('')
    for scen, heading, text in SCENARIOS:
        params_list = res.params_of(scen)
        if not params_list:
            continue
        lines.append(f'## {heading}')
        lines.append('')
        lines.append(text)
        lines.append('')
        if scen in plots:
            lines.append(f'![{heading}]({plots[scen]})')
            lines.append('')
        for params in params_list:
            metrics = []
            for r in res.rows:
                if r['scenario'] == scen and r['params'] == params and r['metric'] not in metrics:
                    metrics.append(r['metric'])
            for metric in metrics:
                rows = [r for r in res.rows if r['scenario'] == scen and r['params'] == params
                        and r['metric'] == metric]
                unit = rows[0]['unit']
                better = rows[0]['better']
                lines.append(f'**{metric}** ({unit}, {better} is better){" — " + params if params else ""}')
                lines.append('')
                lines.append('| impl | kind | median | min–max | ratio to best peer | ratio to floor |')
                lines.append('|---|---|---:|---:|---:|---:|')
                for r in rows:
                    rp = r.get('ratio_to_best_peer')
                    rf = r.get('ratio_to_floor')
                    lines.append('| {} | {} | {} | {}–{} | {} | {} |'.format(
                        r['impl'], r['kind'], fmt(r['value']), fmt(r['min']), fmt(r['max']),
                        f'{float(rp):.2f} ({r["best_peer"]})' if rp else '—',
                        f'{float(rf):.2f} ({r["floor"]})' if rf else '—'))
                lines.append('')
    lines.append('## Targets')
    lines.append('')
    lines.append('The targets of the benchmark issue, checked against the medians above (ratios of '
                 'one run of the suite on this machine).')
    lines.append('')
    lines.append('| target | measured | |')
    lines.append('|---|---|---|')
    for desc, detail, ok in targets(res):
        mark = '—' if ok is None else ('met' if ok else '**missed**')
        lines.append(f'| {desc} | {detail} | {mark} |')
    lines.append('')
    if notes:
        lines.append('Notes from the run:')
        lines.append('')
        for n in notes:
            lines.append(f'- {n}')
        lines.append('')
    with open(os.path.join(outdir, 'benchmarks.md'), 'w') as fh:
        fh.write('\n'.join(lines))


def gnuplot(script):
    if shutil.which('gnuplot') is None:
        return False
    r = subprocess.run(['gnuplot'], input=script, text=True, capture_output=True)
    if r.returncode != 0:
        sys.stderr.write(r.stderr)
        return False
    return True


def plot_fd_scaling(res, outdir, tmp):
    params = sorted(res.params_of('fd-scaling'), key=lambda p: int(param_value(p, 'k')))
    if len(params) < 2:
        return None
    impls = []
    for r in res.rows:
        if r['scenario'] == 'fd-scaling' and r['impl'] not in impls:
            impls.append(r['impl'])
    plots = []
    for i, impl in enumerate(impls):
        path = os.path.join(tmp, f'fd-{i}.dat')
        with open(path, 'w') as fh:
            for p in params:
                v = res.get('fd-scaling', 'round_trip', impl, p)
                if v is not None:
                    r = res.by_key[('fd-scaling', p, 'round_trip', impl)]
                    fh.write(f'{param_value(p, "k")} {v} {r["min"]} {r["max"]}\n')
        plots.append(f"'{path}' using 1:2:3:4 with yerrorlines title '{impl}'")
    out = os.path.join(outdir, 'bench-fd-scaling.png')
    script = f"""
set terminal pngcairo size 900,560 font ',10' noenhanced
set output '{out}'
set title 'Round trip of 1-byte ping-pong with K idle fds watched (median, min-max)'
set xlabel 'K idle socketpairs (log scale)'
set ylabel 'us per round trip (log scale)'
set logscale xy
set grid
set key outside right
plot {', '.join(plots)}
"""
    return 'bench-fd-scaling.png' if gnuplot(script) else None


def plot_timers(res, outdir, tmp):
    params = sorted(res.params_of('timers'), key=lambda p: int(param_value(p, 'n')))
    if not params:
        return None
    impls = []
    for r in res.rows:
        if r['scenario'] == 'timers' and r['impl'] not in impls:
            impls.append(r['impl'])
    path = os.path.join(tmp, 'timers.dat')
    with open(path, 'w') as fh:
        for impl in impls:
            vals = []
            for p in params:
                for m in ('mean_lateness', 'p99_lateness'):
                    v = res.get('timers', m, impl, p)
                    vals.append(str(v if v is not None else 'NaN'))
            fh.write(f'"{impl}" ' + ' '.join(vals) + '\n')
    cols = []
    col = 2
    for p in params:
        n = param_value(p, 'n')
        cols.append(f"'{path}' using {col}:xtic(1) title 'mean, n={n}'")
        cols.append(f"'' using {col + 1} title 'p99, n={n}'")
        col += 2
    out = os.path.join(outdir, 'bench-timers.png')
    script = f"""
set terminal pngcairo size 900,560 font ',10' noenhanced
set output '{out}'
set title 'Timer lateness against the deadline asked for (median of runs)'
set ylabel 'ms late (log scale)'
set logscale y
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set grid ytics
set key outside right
set xtics rotate by -30
plot {', '.join(cols)}
"""
    return 'bench-timers.png' if gnuplot(script) else None


def main():
    args = sys.argv[1:]
    title = ''
    machine = ''
    if '--title' in args:
        i = args.index('--title')
        title = args[i + 1]
        del args[i:i + 2]
    if '--machine' in args:
        i = args.index('--machine')
        machine = args[i + 1]
        del args[i:i + 2]
    if len(args) != 2:
        sys.stderr.write(__doc__ if __doc__ else 'usage: report.py RESULTS OUTDIR\n')
        return 2
    results, outdir = args
    rows, notes = parse(results)
    res = Results(rows)
    os.makedirs(outdir, exist_ok=True)
    plots = {}
    with tempfile.TemporaryDirectory() as tmp:
        p = plot_fd_scaling(res, outdir, tmp)
        if p:
            plots['fd-scaling'] = p
        p = plot_timers(res, outdir, tmp)
        if p:
            plots['timers'] = p
    if os.path.abspath(results) != os.path.abspath(os.path.join(outdir, 'benchmarks.txt')):
        shutil.copyfile(results, os.path.join(outdir, 'benchmarks.txt'))
    write_markdown(res, notes, outdir, title, plots, machine)
    for desc, detail, ok in targets(res):
        print(f"{'MET   ' if ok else 'MISSED' if ok is not None else 'N/A   '} {desc}: {detail}")
    return 0


if __name__ == '__main__':
    sys.exit(main())
