"""Benchmark: desired-state reconcile versus a naive per-service sync.

Not a test -- nothing is asserted.  Writes ``var/bench/reconcile.txt`` and
prints it.  Everything runs against ``routeros_sim`` routers in this same
process (the simulator's CPU time is inside the measured times), with the
real librouteros client over TCP.

    .venv/bin/python bench/bench_reconcile.py [--quick]

The naive sync is what much billing software does: for every service,
``print ?name=<login>`` then a blind ``set`` (or ``add``): 2 commands per
service per sync, whatever changed.  At 20 ms per round trip that is
10,000 x 2 x 20 ms = 400 s, so it is measured on a sample and extrapolated
(the report says so).
"""
import argparse
import datetime
import os
import platform
import sys
import time
from importlib import metadata

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from bench_tools import Lines  # noqa: E402

from isp_billing.routeros import (  # noqa: E402
    DesiredProfile, DesiredUser, RouterConfig, rate_limit, reconcile,
    reconcile_many)
from isp_billing.routeros.connection import open_session  # noqa: E402
from isp_billing.routeros.menus import (  # noqa: E402
    MENUS, profile_attributes, user_attributes)
from routeros_sim import RouterSim  # noqa: E402

PASSWORD = 'bench'


def plans():
    out = []
    for kind in ('hotspot', 'pppoe'):
        out.append(DesiredProfile(kind, 'plan-10M', rate_limit(10000, 5000)))
        out.append(DesiredProfile(kind, 'plan-50M', rate_limit(50000, 10000)))
    return out


def services(n, pppoe_share=0.2, start=1):
    """n services, a share of them PPPoE, spread over two plans."""
    n_ppp = int(n * pppoe_share)
    users = []
    for i in range(start, start + n):
        kind = 'pppoe' if i - start < n_ppp else 'hotspot'
        users.append(DesiredUser(i, kind, '%s-%d' % (kind[:2], i), 'pw%d' % i,
            'plan-10M' if i % 3 else 'plan-50M'))
    return users


def with_changes(users, count, variant):
    """Copy of ``users`` with ``count`` services changed (spread evenly):
    alternately a plan change, a suspension and a password change."""
    out = list(users)
    step = max(1, len(users) // count)
    for k, index in enumerate(range(0, step * count, step)):
        u = out[index]
        what = (k + variant) % 3
        if what == 0:
            profile = 'plan-50M' if u.profile == 'plan-10M' else 'plan-10M'
            out[index] = DesiredUser(u.service_id, u.kind, u.name, u.password,
                profile)
        elif what == 1:
            out[index] = DesiredUser(u.service_id, u.kind, u.name, u.password,
                u.profile, disabled=True)
        else:
            out[index] = DesiredUser(u.service_id, u.kind, u.name,
                u.password + 'x%d' % variant, u.profile)
    return out


def naive_sync(config, users, profiles):
    """Per-service sync (benchmark only): print by name + set/add each."""
    with open_session(config) as session:
        for profile in profiles:
            menus = MENUS[profile.kind]
            rows = session.print(menus.profiles, ('.id',),
                ['?name=%s' % profile.name])
            attrs = profile_attributes(profile)
            if rows:
                session.set(menus.profiles, rows[0]['.id'], attrs)
            else:
                session.add(menus.profiles, attrs)
        for user in users:
            menus = MENUS[user.kind]
            rows = session.print(menus.users, ('.id',),
                ['?name=%s' % user.name])
            attrs = user_attributes(user)
            if rows:
                session.set(menus.users, rows[0]['.id'], attrs)
            else:
                session.add(menus.users, attrs)
        return session.commands


def timed(function, *args):
    start = time.perf_counter()
    result = function(*args)
    return time.perf_counter() - start, result


def config_of(sim):
    return RouterConfig(sim.host, sim.port, 'admin', PASSWORD, timeout=60)


def bench_one_router(n, changes, sample, latencies, out):
    sim = RouterSim(version='7.18', password=PASSWORD).start()
    try:
        config = config_of(sim)
        base = services(n)
        profiles = plans()
        elapsed, report = timed(reconcile, config, base, profiles)
        out.append('Initial sync of %d services (0 ms): %.2f s, %d commands '
            '(%d adds)' % (n, elapsed, report.commands, len(report.added)))
        out.append('')
        header = ('%-8s %-12s | %-22s | %-34s | %s' % ('latency', 'scenario',
            'reconcile: time / cmds', 'naive: time / cmds (sample x)',
            'naive / reconcile'))
        out.append(header)
        out.append('-' * len(header))
        variant = 0
        for latency in latencies:
            sim.faults.latency = latency
            for label, count in (('no change', 0), ('%d changes' % changes,
                    changes)):
                variant += 1
                desired = with_changes(base, count, variant) if count else base
                t_smart, report = timed(reconcile, config, desired, profiles)
                assert report.ok, report.failed[:5]
                # back to the base state, unmeasured
                sim.faults.latency = 0
                reconcile(config, base, profiles)
                sim.faults.latency = latency
                # naive on a sample of the same desired state
                part = desired[:sample]
                t_part, commands = timed(naive_sync, config, part, profiles)
                scale = n / len(part)
                t_naive = t_part * scale
                c_naive = int(round((commands - len(profiles) * 2) * scale
                    + len(profiles) * 2))
                sim.faults.latency = 0
                reconcile(config, base, profiles)
                sim.faults.latency = latency
                out.append('%-8s %-12s | %8.2f s / %7d   | %8.2f s / %7d (x%-5.1f) '
                    '    | time x%.0f, commands x%.0f' % (
                        '%d ms' % (latency * 1000), label, t_smart,
                        report.commands, t_naive, c_naive, scale,
                        t_naive / t_smart, c_naive / report.commands))
        sim.faults.latency = 0
        out.append('')
        out.append('naive figures are extrapolated from a sample of %d of '
            'the %d services (x%.1f); the naive sync sends 2 commands per '
            'service (print ?name= + set/add) and kicks nobody.'
            % (sample, n, n / sample))
    finally:
        sim.stop()


def bench_fleet(n_routers, n_services, workers, latency, out):
    sims = []
    try:
        for _ in range(n_routers):
            sims.append(RouterSim(version='7.18', password=PASSWORD).start())
        profiles = [p for p in plans() if p.kind == 'hotspot']
        jobs = [(config_of(sim), services(n_services, pppoe_share=0,
            start=1000 * r + 1), profiles, ('hotspot',))
            for r, sim in enumerate(sims)]
        out.append('')
        out.append('Fleet: %d routers x %d services, reconcile_many'
            % (n_routers, n_services))
        elapsed, results = timed(reconcile_many, jobs, 8)
        failed = sum(1 for r in results if not r.ok)
        out.append('  initial sync, 0 ms, 8 workers: %.2f s, %d commands, '
            '%d routers failed' % (elapsed, sum(r.report.commands
                for r in results if r.report), failed))
        for sim in sims:
            sim.faults.latency = latency
        base = None
        for count in workers:
            elapsed, results = timed(reconcile_many, jobs, count)
            failed = sum(1 for r in results if not r.ok)
            base = base or elapsed
            out.append('  no change, %d ms, %2d workers: %6.2f s  (x%.1f vs '
                '%d worker%s), %d commands, %d failed' % (latency * 1000,
                    count, elapsed, base / elapsed, workers[0],
                    '' if workers[0] == 1 else 's',
                    sum(r.report.commands for r in results if r.report),
                    failed))
    finally:
        for sim in sims:
            sim.stop()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--quick', action='store_true',
        help='small run (1,000 services, 10 routers)')
    parser.add_argument('--output',
        default=os.path.join(ROOT, 'var', 'bench', 'reconcile.txt'))
    args = parser.parse_args(argv)
    if args.quick:
        n, changes, sample, routers, per_router = 1000, 20, 100, 10, 50
    else:
        n, changes, sample, routers, per_router = 10000, 100, 500, 100, 100
    out = Lines()
    for line in [
        'isp-billing reconcile benchmark (%s%s)' % (
            datetime.datetime.now().isoformat(timespec='seconds'),
            ', --quick' if args.quick else ''),
        'Python %s, librouteros %s, routeros_sim RouterOS 7.18 in-process '
        '(sim CPU included in the times), %s' % (platform.python_version(),
            metadata.version('librouteros'), platform.machine()),
        '%d services on one router (80%% hotspot, 20%% PPPoE), 2 plans per '
        'kind; "changes" = plan changes, suspensions and password changes.'
        % n,
        '']:
        out.append(line)
    bench_one_router(n, changes, sample, (0.0, 0.02), out)
    bench_fleet(routers, per_router, (1, 8, 32), 0.02, out)
    text = '\n'.join(out) + '\n'
    os.makedirs(os.path.dirname(args.output), exist_ok=True)
    with open(args.output, 'w') as stream:
        stream.write(text)
    print('written to %s' % args.output)


if __name__ == '__main__':
    main()
