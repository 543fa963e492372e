"""Benchmark: router sync through the module (Tryton, ir.queue task, real
database) next to the driver alone and the naive per-customer sync.

Not a test -- nothing is asserted on time.  Writes ``var/bench/sync.txt``
and prints it.  One run per database backend (a child process each:
Tryton picks its backend at import): PostgreSQL (skipped when no server
answers) and SQLite (``:memory:``).  Per backend and scenario:

* ``Router.sync`` of a router whose N services are unchanged (the full
  reconcile task: desired state read in SQL, 4 prints, nothing written),
  next to the driver's ``reconcile`` of the same desired state and the
  naive per-customer sync (``print ?name=`` + ``set`` per service, measured
  on a sample and extrapolated);
* payment -> router: an expired service paid at the counter
  (``Service.pay_renewal`` in a transaction, commit), then the queued
  router task run as ``trytond-worker`` runs it (``trytond.worker.
  run_task``) until the simulator holds the login enabled; p50/p95 over
  the payments, next to the driver's ``apply_services`` alone and the
  former design (a whole-router reconcile per payment = the Router.sync
  figure).

Scenarios: 10,000 accounts at 0 ms and at 20 ms, and 1,000 accounts at
20 ms per API round trip (``routeros_sim`` faults.latency), in-process simulator (its CPU
time is inside the figures).

    .venv/bin/python bench/bench_sync.py [--payments N] [--quick]
        [--backend postgresql|sqlite]
"""
import argparse
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from bench_tools import PG_URI, Lines, pg_reachable  # noqa: E402
sys.path.insert(0, os.path.join(ROOT, 'bench'))
REPORT = os.path.join(ROOT, 'var', 'bench', 'sync.txt')


def percentile(values, p):
    values = sorted(values)
    if not values:
        return float('nan')
    k = (len(values) - 1) * p / 100
    low, high = int(k), min(int(k) + 1, len(values) - 1)
    return values[low] + (values[high] - values[low]) * (k - low)


# --- child: one backend ---------------------------------------------------

def run_backend(args):
    from trytond.tests.test_tryton import activate_module, drop_db, DB_NAME
    from trytond.pool import Pool
    from trytond import backend

    out = Lines()
    figures = {}
    scenarios = [(10000, 0.0), (10000, 0.02), (1000, 0.02)]
    if args.quick:
        scenarios = [(1000, 0.0), (300, 0.02)]
    for n, latency in scenarios:
        # a fresh database per scenario (restored from DB_CACHE)
        t0 = time.perf_counter()
        drop_db()
        activate_module(['isp_billing'])
        out.append('%s: database activated in %.1f s' % (
            backend.name, time.perf_counter() - t0))
        Pool.test = False       # measure as a server runs
        figures['%d@%dms' % (n, latency * 1000)] = scenario(
            out, DB_NAME, n, latency, args.payments, args.sample)
    drop_db()
    return out, figures


def transaction_retry(database, function, user=0, context=None):
    """Run function in a committed transaction, retried on a lock restart;
    return its result and the tasks it queued"""
    from isp_billing.tests.tools import committed
    tasks = []
    result = committed(function, user=user, context=context or {},
        database=database, tasks=tasks)
    return result, tasks


def scenario(out, database, n, latency, payments, sample):
    from routeros_sim import RouterSim
    from sql import Column
    from trytond.modules.company.tests import set_company
    from trytond.pool import Pool
    from trytond.transaction import Transaction
    from trytond.worker import run_task

    from isp_billing import routeros
    from isp_billing.models.sync import (
        desired_state, router_config, service_rows)
    from isp_billing.tests.test_payment import AccountingMixin
    from bench_reconcile import naive_sync

    sim = RouterSim(version='7.18', password='secret', port=0).start()
    pool = Pool(database)
    try:
        setup = AccountingMixin()
        name = 'B%d-%d' % (n, int(latency * 1000))

        def prepare():
            Router = pool.get('isp.router')
            Service = pool.get('isp.service')
            company = setup.setup_accounting()
            with set_company(company):
                Router.write([setup.router], {'port': sim.port,
                        'name': name})
            # n services in bulk (a copy of the setup's service), a share
            # of them expired: the ones paid below
            table = Service.__table__()
            cursor = Transaction().connection.cursor()
            cursor.execute(*table.select(
                    where=table.id == setup.service.id))
            columns = [d[0] for d in cursor.description]
            seed = dict(zip(columns, cursor.fetchone()))
            columns = [c for c in columns if c != 'id']
            now = dt.datetime.utcnow().replace(microsecond=0)
            expired = set(range(0, n, max(1, n // (payments + 5))))
            for start in range(0, n, 500):
                values = []
                for i in range(start, min(n, start + 500)):
                    row = dict(seed)
                    row.update(login='%s-u%d' % (name.lower(), i),
                        state='expired' if i in expired else 'active',
                        paid_until=now - dt.timedelta(days=1)
                        if i in expired else now + dt.timedelta(days=30),
                        sync_status='pending')
                    values.append([row[c] for c in columns])
                cursor.execute(*table.insert(
                        [Column(table, c) for c in columns], values=values))
            cursor.execute(*table.select(table.id,
                    where=(table.router == setup.router.id)
                    & (table.state == 'expired'), order_by=[table.id.asc]))
            return company.id, [i for i, in cursor]
        t = time.perf_counter()
        (company_id, to_pay), _ = transaction_retry(database, prepare)
        router_id, method_id = setup.router.id, setup.cash.id
        t_insert = time.perf_counter() - t

        def sync(sweep=False):
            Router = pool.get('isp.router')
            Router.sync([Router(router_id)], sweep=sweep)
        t = time.perf_counter()
        transaction_retry(database, sync)
        t_initial = time.perf_counter() - t
        sim.faults.latency = latency
        out.append('')
        out.append('--- %d accounts on one router, %d ms per API round trip '
            '---' % (n, latency * 1000))
        out.append('setup: %d services inserted in %.1f s; first '
            'Router.sync (adds them all, 0 ms) %.1f s' % (
                n, t_insert, t_initial))

        # 1. full reconcile, nothing changed
        module = []
        for _ in range(3):
            sim.reset_commands()
            t = time.perf_counter()
            transaction_retry(database, sync)
            module.append(time.perf_counter() - t)
        commands = len(sim.commands)

        def desired():
            Router = pool.get('isp.router')
            router = Router(router_id)
            return (router_config(router),) + desired_state(
                router, service_rows(router_id=router_id))
        with Transaction().start(database, 0, readonly=True):
            config, users, profiles = desired()
        driver = []
        for _ in range(3):
            t = time.perf_counter()
            report = routeros.reconcile(config, users, profiles)
            driver.append(time.perf_counter() - t)
        part = users[:min(sample, len(users))]
        t = time.perf_counter()
        naive_commands = naive_sync(config, part, profiles)
        t_naive = (time.perf_counter() - t) * len(users) / len(part)
        naive_commands = int(naive_commands * len(users) / len(part))
        t_module = statistics.median(module)
        t_driver = statistics.median(driver)
        out.append('Router.sync, nothing changed (module, median of 3): '
            '%.2f s, %d commands' % (t_module, commands))
        out.append('  driver reconcile alone: %.2f s, %d commands '
            '(module / driver x%.1f)' % (t_driver, report.commands,
                t_module / t_driver))
        out.append('  naive per-customer sync (sample of %d, extrapolated):'
            ' %.1f s, %d commands (naive / module x%.0f)' % (
                len(part), t_naive, naive_commands, t_naive / t_module))

        # 2. payment -> router
        Service = pool.get('isp.service')
        Method = pool.get('account.invoice.payment.method')
        Queue = pool.get('ir.queue')
        latencies, pays, commands = [], [], []
        for service_id in to_pay[:payments]:
            def pay():
                Company = pool.get('company.company')
                with set_company(Company(company_id)):
                    Service.pay_renewal([Service(service_id)], 1,
                        Method(method_id))
                return Service(service_id).login
            t = time.perf_counter()
            login, tasks = transaction_retry(database, pay,
                context={'company': company_id})
            committed = time.perf_counter()
            pays.append(committed - t)
            with Transaction().start(database, 0, readonly=True):
                names = {i: Queue(i).name for i in tasks}
            sim.reset_commands()
            for task_id in tasks:           # the router task, as the worker
                if names[task_id] == 'isp_router':
                    run_task(database, task_id)
            row, = [r for r in sim.rows('/ip/hotspot/user')
                if r['name'] == login]
            assert row['disabled'] == 'false', row
            latencies.append(time.perf_counter() - committed)
            commands.append(len(sim.commands))
            # the invoice's own tasks (print, process) are left queued:
            # pay_renewal already processed the invoice
        with Transaction().start(database, 0, readonly=True):
            ids = to_pay[payments:payments + 20]
            config, users, profiles = desired()
        drv = []
        for service_id in ids:
            user, = [u for u in users if u.service_id == service_id]
            t = time.perf_counter()
            routeros.apply_services(config, [service_id], [user], profiles)
            drv.append(time.perf_counter() - t)
        p50, p95 = percentile(latencies, 50), percentile(latencies, 95)
        out.append('payment committed -> router changed (module, %d '
            'payments, worker task): p50 %.3f s, p95 %.3f s, max %.3f s; '
            '%s commands per payment' % (len(latencies), p50, p95,
                max(latencies), '/'.join(sorted(
                        {str(c) for c in commands}))))
        out.append('  the payment transaction itself (pay_renewal + commit):'
            ' p50 %.3f s' % percentile(pays, 50))
        if drv:
            out.append('  driver apply_services alone: p50 %.3f s '
                '(module / driver x%.1f)' % (percentile(drv, 50),
                    p50 / percentile(drv, 50)))
        out.append('  former design, a whole-router reconcile per payment: '
            '~%.2f s (x%.0f the targeted p50)' % (t_module, t_module / p50))
        out.append('  naive per-customer sync of the router per payment: '
            '~%.1f s (x%.0f)' % (t_naive, t_naive / p50))
        return {'sync': t_module, 'sync_driver': t_driver,
            'sync_naive': t_naive, 'sync_commands': commands,
            'pay_p50': p50, 'pay_p95': p95, 'payments': len(latencies),
            'pay_driver': percentile(drv, 50) if drv else None}
    finally:
        sim.faults.latency = 0
        sim.stop()


# --- parent: both backends ------------------------------------------------

def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--payments', type=int, default=100)
    parser.add_argument('--sample', type=int, default=500,
        help="services of the naive sync sample")
    parser.add_argument('--quick', action='store_true',
        help="1,000 and 300 accounts")
    parser.add_argument('--backend', choices=['postgresql', 'sqlite'])
    args = parser.parse_args(argv)
    if args.backend:
        lines, figures = run_backend(args)
        print('@@REPORT@@')
        print('\n'.join(lines))
        print('@@FIGURES@@ ' + json.dumps(figures))
        return 0
    import trytond
    from importlib import metadata
    out = [
        'isp-billing router sync benchmark, through the module (%s%s)' % (
            dt.datetime.now().isoformat(timespec='seconds'),
            ', --quick' if args.quick else ''),
        'Python %s, trytond %s, librouteros %s, %s %d cpu; routeros_sim '
        'RouterOS 7.18 in-process (its CPU time is included)' % (
            platform.python_version(), trytond.__version__,
            metadata.version('librouteros'), platform.machine(),
            os.cpu_count()),
        ]
    status = 0
    figures = {}
    for name in ('postgresql', 'sqlite'):
        env = dict(os.environ)
        if name == 'postgresql':
            reachable = pg_reachable(PG_URI)
            if reachable is not True:
                out += ['', 'PostgreSQL: SKIPPED, not reachable at %s: %s'
                    % (PG_URI, reachable)]
                continue
            env.update(TRYTOND_DATABASE_URI=PG_URI, DB_NAME='bench_isp_sync',
                DB_CACHE=env.get('BENCH_PG_CACHE', 'postgresql://'))
        else:
            env.update(TRYTOND_DATABASE_URI='sqlite://', DB_NAME=':memory:',
                DB_CACHE=env.get('BENCH_SQLITE_CACHE', os.path.join(
                        ROOT, 'var', 'cache', 'bench-sync-sqlite')))
        command = [sys.executable, os.path.abspath(__file__),
            '--backend', name, '--payments', str(args.payments),
            '--sample', str(args.sample)] + (
            ['--quick'] if args.quick else [])
        print('=== %s ===' % name, flush=True)
        process = subprocess.run(command, env=env, stdout=subprocess.PIPE,
            text=True)
        text = process.stdout
        if '@@FIGURES@@ ' in text:
            text, found = text.split('@@FIGURES@@ ', 1)
            figures[name] = json.loads(found)
        if '@@REPORT@@' in text:
            out += [''] + text.split('@@REPORT@@\n', 1)[1].splitlines()
        if process.returncode:
            out += ['', '%s: FAILED (exit %d)' % (name, process.returncode)]
            print(text[-3000:])
            status = 1
    os.makedirs(os.path.dirname(REPORT), exist_ok=True)
    with open(REPORT, 'w') as f:
        f.write('\n'.join(out) + '\n')
    with open(REPORT.replace('.txt', '.json'), 'w') as f:
        json.dump(figures, f)
    print('\n'.join(out))
    print('written to %s' % REPORT)
    return status


if __name__ == '__main__':
    sys.exit(main())
