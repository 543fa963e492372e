"""The table of make bench: each scale target of the module, measured
through Tryton, next to the driver alone and the naive or former design,
with the ratios.  Reads the figures the benchmarks of this run left in
var/bench/*.json; writes var/bench/summary.txt and prints it.  A missing
figure (benchmark skipped or failed) shows as "-"."""
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, 'var', 'bench')
REPORT = os.path.join(BENCH, 'summary.txt')


def load(name):
    try:
        with open(os.path.join(BENCH, name + '.json')) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def get(figures, *keys):
    for key in keys:
        if not isinstance(figures, dict) or figures.get(key) is None:
            return None
        figures = figures[key]
    return figures


def seconds(value):
    return '-' if value is None else '%.2f s' % value


def ratio(slow, fast):
    if slow is None or fast is None or not fast:
        return '-'
    return 'x%.1f' % (slow / fast)


def rows():
    expiry, sync, fleet = load('expiry'), load('sync'), load('fleet')
    yield ('expiry sweep, %s services, %s due (PostgreSQL)' % (
            get(expiry, 'services') or '100000', get(expiry, 'expired')
            or '-'), seconds(get(expiry, 'sweep')), '-',
        seconds(get(expiry, 'orm')), ratio(get(expiry, 'orm'),
            get(expiry, 'sweep')), '<= 5 s')
    for backend in ('postgresql', 'sqlite'):
        figures = get(sync, backend, '10000@0ms')
        yield ('Router.sync, 10,000 unchanged services (%s)' % backend,
            seconds(get(figures, 'sync')),
            seconds(get(figures, 'sync_driver')),
            seconds(get(figures, 'sync_naive')),
            ratio(get(figures, 'sync_naive'), get(figures, 'sync')),
            '<= 1.5 s')
    for scenario, goal in (('10000@0ms', '<= 1 s'), ('10000@20ms', '<= 1 s'),
            ('1000@20ms', '<= 0.5 s')):
        for backend in ('postgresql', 'sqlite'):
            figures = get(sync, backend, scenario)
            n, latency = scenario.split('@')
            p50, p95 = get(figures, 'pay_p50'), get(figures, 'pay_p95')
            yield ('payment -> router, %s accounts, %s RTT, %s payments '
                '(%s), p95 (p50)' % (n, latency, get(figures, 'payments')
                    or '-', backend),
                '%s (%s)' % (seconds(p95), seconds(p50)),
                seconds(get(figures, 'pay_driver')),
                seconds(get(figures, 'sync')),
                ratio(get(figures, 'sync'), p50), 'p95 ' + goal)
    yield ('fleet 500 routers x 200 accounts, 20 ms RTT, no change '
        '(PostgreSQL, trytond-worker)', seconds(get(fleet, 'module')),
        seconds(get(fleet, 'driver')), seconds(get(fleet, 'serial')),
        ratio(get(fleet, 'serial'), get(fleet, 'module')), '<= 10 s')


def millis(value):
    return '-' if value is None else '%.0f ms' % (value * 1000)


def portal_rows():
    "bench_portal: p95 (p50) per page, per server and mode"
    portal = load('portal')
    for kind in ('trytond', 'gunicorn'):
        figures = get(portal, 'servers', kind)
        if figures is None:
            continue
        server = ("trytond's own server" if kind == 'trytond' else
            'gunicorn, %s processes x %s threads' % (
                get(figures, 'processes'), get(figures, 'threads')))
        for mode, how in (('realistic', '%s-%s s think time' % tuple(
                        '%g' % t for t in (get(portal, 'think') or [1, 3]))),
                ('stress', 'no pause (stress)')):
            yield ('portal page, %s customers, %s, %s (PostgreSQL), '
                'p95 (p50)' % (get(portal, 'customers'), how, server),
                '%s (%s)' % (millis(get(figures, mode, 'p95')),
                    millis(get(figures, mode, 'p50'))),
                '-', '-', '-', 'p95 <= 150 ms')


def main():
    header = ('what', 'through the module', 'driver alone',
        'naive / former', 'naive / module', 'goal')
    table = [header] + list(rows()) + list(portal_rows())
    widths = [max(len(str(row[i])) for row in table)
        for i in range(len(header))]
    lines = ['make bench: scale targets through the module (naive / former'
        ': the per-customer sync, the ORM sweep, a whole-router reconcile '
        'per payment, one router after the other)', '']
    for n, row in enumerate(table):
        lines.append('  '.join(str(cell).ljust(width)
                for cell, width in zip(row, widths)).rstrip())
        if n == 0:
            lines.append('  '.join('-' * width for width in widths))
    os.makedirs(BENCH, exist_ok=True)
    with open(REPORT, 'w') as f:
        f.write('\n'.join(lines) + '\n')
    print('\n'.join(lines))
    return 0


if __name__ == '__main__':
    sys.exit(main())
