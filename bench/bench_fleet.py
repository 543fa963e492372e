"""Benchmark: the scheduled reconcile of a fleet through the module, on
PostgreSQL, through ir.queue and a real ``trytond-worker``.

Not a test -- nothing is asserted on time.  Writes ``var/bench/fleet.txt``
(and ``fleet.json`` for the summary table) and prints it.

500 routers x 200 accounts (``--routers``, ``--services``), every API round
trip delayed by 20 ms (``--latency``), the simulators in a child process.
``Router.cron_sync`` is committed (it queues one task per 100 routers), a
``trytond-worker`` started beforehand runs the tasks; the time is from the
commit to the last task finished (read in ``ir_queue``).  First the initial
sync (every account added), then the no-change reconcile (the safety net's
usual run), next to the driver alone (``reconcile_many`` on the same desired
state) and the former design (one task per router, one router after the
other: the driver with one thread, measured on a sample and extrapolated).

    .venv/bin/python bench/bench_fleet.py [--routers N] [--services N]
        [--latency S] [--quick]
"""
import argparse
import datetime as dt
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from bench_tools import PG_URI, Lines, pg_reachable  # noqa: E402
REPORT = os.path.join(ROOT, 'var', 'bench', 'fleet.txt')
DB_NAME = 'bench_isp_fleet'
PASSWORD = 'fleet-secret'


def serve_sims(n, latency):
    "Child: n simulated routers; print their ports, serve until SIGTERM"
    from routeros_sim import RouterSim
    sims = [RouterSim(version='7.18', password=PASSWORD).start()
        for _ in range(n)]
    for sim in sims:
        sim.faults.latency = latency
    print(json.dumps([sim.port for sim in sims]), flush=True)
    signal.sigwait({signal.SIGTERM, signal.SIGINT})
    for sim in sims:
        sim.stop()


def committed(function):
    "Run function as root in a committed transaction; return its result"
    from isp_billing.tests.tools import committed
    return committed(function, user=0, context={}, database=DB_NAME)


def prepare(ports, services):
    """Company, plan, one customer, a router per simulator and `services`
    accounts on each (inserted in SQL, copies of one service)"""
    from sql import Column
    from trytond.modules.company.tests import create_company, set_company
    from trytond.pool import Pool
    from trytond.transaction import Transaction

    from isp_billing.tests.tools import (
        create_customer, create_plan, create_service)

    pool = Pool(DB_NAME)
    Router = pool.get('isp.router')
    Service = pool.get('isp.service')
    company = create_company()
    with set_company(company):
        plan = create_plan()
        customer = create_customer()
        routers = Router.create([{'name': 'F%03d' % n, 'host': '127.0.0.1',
                    'port': port, 'username': 'admin', 'password': PASSWORD}
                for n, port in enumerate(ports)])
        seed = create_service(customer, plan, routers[0], login='seed')
        Service.activate([seed])
    table = Service.__table__()
    cursor = Transaction().connection.cursor()
    cursor.execute(*table.select(where=table.id == seed.id))
    columns = [d[0] for d in cursor.description]
    row = dict(zip(columns, cursor.fetchone()))
    columns = [c for c in columns if c != 'id']
    cursor.execute(*table.delete(where=table.id == seed.id))
    paid_until = dt.datetime.utcnow() + dt.timedelta(days=30)
    for router in routers:
        values = []
        for i in range(services):
            row.update(router=router.id, login='f%d-u%d' % (router.id, i),
                state='active', paid_until=paid_until, sync_status='pending')
            values.append([row[c] for c in columns])
        cursor.execute(*table.insert(
                [Column(table, c) for c in columns], values=values))
    return [r.id for r in routers]


def queue_fleet_sync():
    "Commit Router.cron_sync; return the ids of the tasks it queued"
    from trytond.pool import Pool
    from trytond.transaction import Transaction

    def cron():
        pool = Pool(DB_NAME)
        Queue = pool.get('ir.queue')
        last = Queue.search([], order=[('id', 'DESC')], limit=1)
        pool.get('isp.router').cron_sync()
        return [q.id for q in Queue.search(
                [('id', '>', last[0].id if last else 0)])]
    with Transaction().start(DB_NAME, 0, context={}) as transaction:
        task_ids = cron()
        transaction.commit()
    return task_ids


def wait_finished(task_ids, timeout=900):
    "Seconds until every task has finished_at (polled in SQL)"
    import psycopg
    start = time.perf_counter()
    with psycopg.connect(PG_URI.rstrip('/') + '/' + DB_NAME,
            autocommit=True) as connection:
        while True:
            left, = connection.execute('SELECT count(*) FROM ir_queue '
                'WHERE id = ANY(%s) AND finished_at IS NULL',
                (task_ids,)).fetchone()
            if not left:
                return time.perf_counter() - start
            if time.perf_counter() - start > timeout:
                raise RuntimeError('%d tasks not finished' % left)
            time.sleep(0.02)


def sync_summary():
    "(services in sync, routers in error) after a fleet sync"
    from trytond.pool import Pool
    from trytond.transaction import Transaction
    with Transaction().start(DB_NAME, 0, readonly=True):
        pool = Pool(DB_NAME)
        in_sync = pool.get('isp.service').search(
            [('sync_status', '=', 'in_sync')], count=True)
        errors = pool.get('isp.router').search(
            [('sync_error', '!=', None)], count=True)
    return in_sync, errors


def desired_jobs(router_ids):
    from trytond.pool import Pool
    from trytond.transaction import Transaction

    from isp_billing.models.sync import (
        desired_state, router_config, service_rows)
    with Transaction().start(DB_NAME, 0, readonly=True):
        Router = Pool(DB_NAME).get('isp.router')
        jobs = []
        for router in Router.browse(router_ids):
            users, profiles = desired_state(
                router, service_rows(router_id=router.id))
            jobs.append((router_config(router), users, profiles))
    return jobs


def profile(router_ids):
    "Print where the time of Router.sync goes (in this process)"
    import cProfile
    import pstats
    from trytond.pool import Pool

    def sync():
        Router = Pool(DB_NAME).get('isp.router')
        Router.sync(Router.browse(router_ids), sweep=True)
    profiler = cProfile.Profile()
    profiler.enable()
    committed(sync)
    profiler.disable()
    pstats.Stats(profiler).sort_stats('cumulative').print_stats(40)


def run(args):
    from trytond import config
    from trytond.tests.test_tryton import activate_module, drop_db

    from isp_billing import routeros
    from isp_billing.models.sync import (
        FLEET_TASK_ROUTERS, router_threads)

    out = Lines()
    out.append('isp-billing fleet benchmark, through the module (%s)' %
        dt.datetime.now().isoformat(timespec='seconds'))
    out.append('Python %s, %s %d cpu; PostgreSQL at %s; routeros_sim '
        'RouterOS 7.18 in a child process' % (platform.python_version(),
            platform.machine(), os.cpu_count(), PG_URI))
    reachable = pg_reachable(PG_URI)
    if reachable is not True:
        out.append('SKIPPED: no PostgreSQL answers at %s: %s'
            % (PG_URI, reachable))
        return out, {}
    figures = {}
    sims = subprocess.Popen([sys.executable, os.path.abspath(__file__),
            '--serve-sims', str(args.routers), '--latency',
            str(args.latency)], stdout=subprocess.PIPE, text=True)
    worker = None
    workdir = tempfile.mkdtemp(prefix='bench-fleet-')
    try:
        ports = json.loads(sims.stdout.readline())
        t = time.perf_counter()
        drop_db()
        activate_module(['isp_billing'])
        router_ids = committed(lambda: prepare(ports, args.services))
        out.append('%d routers x %d accounts, %d ms per API round trip; '
            'database ready in %.0f s' % (args.routers, args.services,
                args.latency * 1000, time.perf_counter() - t))

        conf = os.path.join(workdir, 'trytond.conf')
        with open(conf, 'w') as f:
            f.write('[database]\nuri = %s\n[queue]\nworker = True\n'
                '[isp_billing]\nrouter_threads = %d\n' % (
                    PG_URI, router_threads()))
        worker = subprocess.Popen([os.path.join(os.path.dirname(
                        sys.executable), 'trytond-worker'), '-c', conf,
                '-d', DB_NAME, '-n', str(args.processes)],
            stdout=subprocess.DEVNULL, stderr=open(
                os.path.join(workdir, 'worker.log'), 'w'),
            start_new_session=True)
        time.sleep(3)   # the worker listens before the first task
        config.set('queue', 'worker', 'True')   # we queue, it runs

        for label, key in [('initial sync (adds every account)', 'initial'),
                ('no change, 1st', 'nochange1'),
                ('no change, 2nd', 'nochange2')]:
            task_ids = queue_fleet_sync()
            elapsed = wait_finished(task_ids)
            in_sync, errors = sync_summary()
            figures[key] = elapsed
            out.append('module, %s: %.2f s (%d tasks of up to %d routers, '
                'worker -n %d, %d threads each; %d services in sync, %d '
                'routers in error)' % (label, elapsed, len(task_ids),
                    FLEET_TASK_ROUTERS, args.processes, router_threads(),
                    in_sync, errors))
        module = min(figures['nochange1'], figures['nochange2'])

        if args.profile:
            profile(router_ids)
        jobs = desired_jobs(router_ids)
        t = time.perf_counter()
        results = routeros.reconcile_many(jobs, router_threads())
        driver = time.perf_counter() - t
        failed = sum(1 for r in results if not r.ok)
        sample = jobs[:max(1, len(jobs) // 20)]
        t = time.perf_counter()
        routeros.reconcile_many(sample, 1)
        serial = (time.perf_counter() - t) * len(jobs) / len(sample)
        figures.update(module=module, driver=driver, serial=serial)
        out.append('driver alone, no change, reconcile_many %d threads: '
            '%.2f s (%d failed; module / driver x%.1f)' % (
                router_threads(), driver, failed, module / driver))
        out.append('former design, one router after the other (driver, 1 '
            'thread, %d routers measured, extrapolated): %.1f s '
            '(x%.1f the module)' % (len(sample), serial, serial / module))
        out.append('goal: <= 10 s through the module -> %s' % (
                'met' if module <= 10 else 'NOT met'))
    finally:
        if worker:   # and its processes
            os.killpg(worker.pid, signal.SIGTERM)
            worker.wait(30)
        sims.terminate()
        sims.wait(30)
        drop_db()
    return out, figures


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--routers', type=int, default=500)
    parser.add_argument('--services', type=int, default=200)
    parser.add_argument('--latency', type=float, default=0.02)
    parser.add_argument('--processes', type=int, default=2,
        help="trytond-worker processes")
    parser.add_argument('--quick', action='store_true',
        help="50 routers x 200 accounts")
    parser.add_argument('--profile', action='store_true',
        help="profile Router.sync in this process")
    parser.add_argument('--serve-sims', type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_sims:
        serve_sims(args.serve_sims, args.latency)
        return 0
    if args.quick:
        args.routers = 50
    os.environ.setdefault('TRYTOND_DATABASE_URI', PG_URI)
    os.environ['DB_NAME'] = DB_NAME
    lines, figures = run(args)
    os.makedirs(os.path.dirname(REPORT), exist_ok=True)
    with open(REPORT, 'w') as f:
        f.write('\n'.join(lines) + '\n')
    with open(REPORT.replace('.txt', '.json'), 'w') as f:
        json.dump(figures, f)
    return 0


if __name__ == '__main__':
    sys.exit(main())
