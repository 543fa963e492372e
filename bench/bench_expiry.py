"""Benchmark: the expiry sweep (``isp.service.expire_due``) over 100,000
services on PostgreSQL.

Not a test -- nothing is asserted.  Writes ``var/bench/expiry.txt`` and
prints it.  Skips (exit 0, with a message) when PostgreSQL is not reachable.

    .venv/bin/python bench/bench_expiry.py [--services N] [--uri URI]

The services are inserted in bulk with one ``INSERT ... SELECT
generate_series`` copying a template service; half of them are past due
(with a mix of plans with and without grace hours), half are paid ahead.
The database is activated once through Tryton's DB_CACHE (template dumps
under ``var/cache/pay-pg-bench``), so a second run is fast.
"""
import argparse
import datetime as dt
import json
import os
import platform
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from bench_tools import PG_URI, start_on_postgresql, write_report  # noqa: E402
REPORT = os.path.join(ROOT, 'var', 'bench', 'expiry.txt')
DB_NAME = 'bench_isp_expiry'


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--services', type=int, default=100_000)
    parser.add_argument('--chunk', type=int, default=None,
        help="services per transition on the ORM path "
        "(isp.service._expire_chunk_size; default: the module's)")
    parser.add_argument('--orm', action='store_true',
        help="also time the ORM path (the workflow transition by chunks, "
        "what the sweep falls back to when ir.trigger records watch "
        "services) on the same services: ~60 s at 100,000")
    parser.add_argument('--uri', default=PG_URI)
    parser.add_argument('--keep', action='store_true',
        help="keep the database (%s) after the run" % DB_NAME)
    args = parser.parse_args()

    started = start_on_postgresql(args.uri, REPORT, 'expiry sweep benchmark', DB_NAME,
        'pay-pg-bench')
    if started is None:
        return 0
    from trytond.tests.test_tryton import activate_module, drop_db
    from trytond.pool import Pool
    from trytond.transaction import Transaction

    t0 = time.perf_counter()
    drop_db()
    activate_module(['isp_billing'])
    t_activate = time.perf_counter() - t0
    # importing trytond.tests sets Pool.test, which makes every validation
    # also check Function fields (ir.model.log's cost 4 times more): measure
    # as a server runs
    Pool.test = False

    from trytond.modules.company.tests import create_company, set_company

    n = args.services
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    with Transaction().start(DB_NAME, 0, context={'_skip_warnings': True}
            ) as transaction:
        pool = Pool()
        Template = pool.get('product.template')
        Uom = pool.get('product.uom')
        Router = pool.get('isp.router')
        Party = pool.get('party.party')
        Service = pool.get('isp.service')
        company = create_company()
        with set_company(company):
            unit, = Uom.search([('name', '=', 'Unit')])
            plans = Template.create([{
                        'name': f'Bench {g}h', 'type': 'service',
                        'default_uom': unit.id, 'list_price': 10,
                        'isp_plan': True, 'plan_kind': 'hotspot',
                        'download_rate': 1000, 'upload_rate': 1000,
                        'plan_duration': 1, 'plan_duration_unit': 'month',
                        'grace_hours': g, 'products': [('create', [{}])],
                        } for g in (0, 6)])
            router, = Router.create([{'name': 'Bench', 'host': '127.0.0.1',
                        'port': 1, 'username': 'u', 'password': 'p'}])
            party, = Party.create([{'name': 'Bench', 'isp_customer': True,
                        'isp_customer_type': 'individual'}])
            seed, = Service.create([{'customer': party.id,
                        'plan': plans[0].products[0].id, 'router': router.id,
                        'kind': 'hotspot', 'login': 'seed',
                        'password': 'Pass-123'}])
        product_ids = [p.products[0].id for p in plans]
        cursor = transaction.connection.cursor()
        cursor.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_name = 'isp_service' AND column_name <> 'id'")
        columns = [c for c, in cursor]
        special = {
            'login': "'bench-' || g",
            'state': "'active'",
            # even: past due by 1..(n/2) minutes; odd: paid ahead 1 day
            'paid_until': "CASE WHEN g %% 2 = 0 "
            "THEN %s - (g || ' minutes')::interval "
            "ELSE %s + interval '1 day' END",
            'plan': f"CASE WHEN g %% 4 = 0 THEN {product_ids[1]} "
            f"ELSE {product_ids[0]} END",
            }
        select = ', '.join(special.get(c, f'"{c}"') for c in columns)
        names = ', '.join(f'"{c}"' for c in columns)
        t1 = time.perf_counter()
        cursor.execute(
            f'INSERT INTO isp_service ({names}) '
            f'SELECT {select} FROM isp_service, generate_series(1, %s) g '
            f'WHERE isp_service.id = %s',
            (now, now, n, seed.id))
        t_insert = time.perf_counter() - t1
        cursor.execute("ANALYZE isp_service")
        transaction.commit()

    with Transaction().start(DB_NAME, 0, context={
                '_skip_warnings': True, 'company': company.id}
            ) as transaction:
        Service = Pool().get('isp.service')
        if args.chunk:
            Service._expire_chunk_size = args.chunk
        chunk = Service._expire_chunk_size
        t2 = time.perf_counter()
        expired = Service.expire_due(now=now)
        t_sweep = time.perf_counter() - t2
        count = len(expired)
        cursor = transaction.connection.cursor()
        cursor.execute("SELECT count(DISTINCT router) FROM isp_service "
            "WHERE state = 'expired'")
        routers, = cursor.fetchone()
        cursor.execute(
            "SELECT state, count(*) FROM isp_service GROUP BY state "
            "ORDER BY state")
        states = cursor.fetchall()
        cursor.execute("SELECT count(*) FROM ir_queue")
        queued, = cursor.fetchone()
        t4 = time.perf_counter()
        # the commit stores what is left of the transition logs
        transaction.commit()
        t_commit = time.perf_counter() - t4

    # a second sweep finds nothing to do: the cost of the every-minute cron
    with Transaction().start(DB_NAME, 0, context={'_skip_warnings': True}):
        Service = Pool().get('isp.service')
        t3 = time.perf_counter()
        again = len(Service.expire_due(now=now))
        t_idle = time.perf_counter() - t3
        cursor = Transaction().connection.cursor()
        cursor.execute("SELECT count(*) FROM ir_model_log "
            "WHERE event = 'transition' AND target = 'state:expired'")
        logged, = cursor.fetchone()

    orm = 'ORM path: not measured (bench_expiry.py --orm)'
    figures = {'services': n, 'expired': count,
        'sweep': t_sweep + t_commit, 'idle': t_idle}
    if args.orm:
        # the same services due again, then the workflow transition path
        with Transaction().start(DB_NAME, 0) as transaction:
            cursor = transaction.connection.cursor()
            cursor.execute("UPDATE isp_service SET state = 'active' "
                "WHERE state = 'expired'")
            cursor.execute("DELETE FROM ir_model_log "
                "WHERE target = 'state:expired'")
            cursor.execute("DELETE FROM ir_queue")
            transaction.commit()
        with Transaction().start(DB_NAME, 0, context={
                    '_skip_warnings': True, 'company': company.id}
                ) as transaction:
            Service = Pool().get('isp.service')
            by_orm = Service._expire_by_orm
            Service._expire_by_orm = classmethod(lambda cls: True)
            try:
                t5 = time.perf_counter()
                orm_count = len(Service.expire_due(now=now))
                t_orm = time.perf_counter() - t5
                t6 = time.perf_counter()
                transaction.commit()
                t_orm_commit = time.perf_counter() - t6
            finally:
                Service._expire_by_orm = by_orm
        figures['orm'] = t_orm + t_orm_commit
        orm = (f'ORM path (fallback when ir.trigger watches services), '
            f'same services: {orm_count} expired in {t_orm:.2f} s + '
            f'commit {t_orm_commit:.2f} s '
            f'(x{(t_orm + t_orm_commit) / (t_sweep + t_commit):.0f} the '
            f'set-based sweep)')

    import trytond
    write_report(REPORT, [
            f'expiry sweep benchmark ({started})',
            f'machine: {platform.machine()} {os.cpu_count()} cpu, '
            f'Python {platform.python_version()}, trytond '
            f'{trytond.__version__}, {args.uri}; load average at the end '
            f'{os.getloadavg()[0]:.1f} (other processes share the CPUs)',
            f'services inserted in bulk: {n} '
            f'(+1 seed) in {t_insert:.2f} s (one INSERT ... SELECT)',
            f'database activation (DB_CACHE {os.environ["DB_CACHE"]}): '
            f'{t_activate:.1f} s',
            f'sweep (set-based): {count} services expired in {t_sweep:.2f} s '
            f'({count / t_sweep if t_sweep else 0:.0f} services/s; one '
            f'UPDATE ... RETURNING, one INSERT of the transition logs, one '
            f'sync queued per router)',
            f'commit of the sweep: {t_commit:.2f} s '
            f'({logged} transition logs stored); sweep + commit: '
            f'{t_sweep + t_commit:.2f} s',
            f'idle sweep (nothing due): {again} expired in {t_idle:.3f} s',
            orm + (f'; chunks of {chunk}' if args.orm else ''),
            f'states after: {dict(states)}',
            f'ir.queue records after the sweep (router syncs, not run '
            f'here): {queued} for {routers} affected router(s)',
            'expiry delay: at most 60 s, argued, not timed: trytond-cron '
            'runs the sweep each minute at hh:mm:00 with now = utcnow() and '
            'it expires paid_until + grace <= now, so a paid_until in '
            '(tick - 60 s, tick] is expired at that tick (a paid_until on '
            'the tick included: isp_billing/tests/test_expiry.py '
            'test_cut_on_the_tick), then the router sync runs after the '
            'commit (sweep + commit time above).',
            'expected: every even-numbered service is past due; those on the '
            '6-hour-grace plan (g % 4 == 0) only when past due by more '
            'than 6 hours.',
            ])
    with open(REPORT.replace('.txt', '.json'), 'w') as f:
        json.dump(figures, f)
    if not args.keep:
        drop_db()
    return 0


if __name__ == '__main__':
    sys.exit(main())
