"""Benchmark: each query of the staff dashboard (models/dashboard.py) on
PostgreSQL with 100,000 services and 1,000,000 invoice lines.

Not a test -- nothing is asserted (goal: each query <= 200 ms).  Writes
``var/bench/dashboard.txt`` and prints it.  Skips (exit 0, with a message)
when PostgreSQL is not reachable.

    .venv/bin/python bench/bench_dashboard.py [--services N] [--lines N]
        [--keep | --reuse]

The database is ``bench_isp_dashboard`` or ``BENCH_DASHBOARD_DB``.

A seed service is paid through the module (invoice, line, payment) and a
bill is left unpaid; then customers, services, invoices (two lines each) and
service payments are copied from the seeds with set-based ``INSERT ...
SELECT generate_series`` statements (not the ORM): services in every state
with paid time around today, 24 months of payments by three methods, 1 %
of the bills unpaid, a customer request per 10 services (every kind and
state, a fifth without service).  Each dashboard model is read as sao does (search and
read of its rows) as the administrator and as a technician assigned to 2 of
the 50 routers; the median of 5 warm runs is reported.
"""
import argparse
import datetime as dt
import os
import platform
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from bench_tools import PG_URI, start_on_postgresql, write_report  # noqa: E402
REPORT = os.path.join(ROOT, 'var', 'bench', 'dashboard.txt')
DB_NAME = os.environ.get('BENCH_DASHBOARD_DB', 'bench_isp_dashboard')
MODELS = ['router_customers', 'customer_month', 'plan_services',
    'revenue_month', 'expired_today', 'expiring_soon', 'unpaid_bill',
    'router_problem', 'request_count']
ROUTERS = 50
RUNS = 5
#: rows of a list sao reads first
PAGE = 100
#: the limit of the board's list actions (data/dashboard.xml)
LIMITS = {n: 100 for n in MODELS[4:]}


def copy_rows(cursor, table, seed_id, count, special, joins=''):
    """Insert count copies of the seed row of table, the columns in special
    computed from g (1..count) and the joined tables"""
    cursor.execute(
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_name = %s AND column_name <> 'id'", (table,))
    columns = [c for c, in cursor]
    select = ', '.join(special.get(c, f's."{c}"') for c in columns)
    names = ', '.join(f'"{c}"' for c in columns)
    cursor.execute(
        f'INSERT INTO "{table}" ({names}) '
        f'SELECT {select} FROM "{table}" s '
        f'CROSS JOIN generate_series(1, %s) g {joins} '
        f'WHERE s.id = %s', (count, seed_id))


def numbered(cursor, name, query):
    "A temporary table (id, n) numbering the rows of query from 0"
    cursor.execute(f'CREATE TEMPORARY TABLE {name} AS '
        f'SELECT id, (row_number() OVER (ORDER BY id) - 1)::int AS n '
        f'FROM ({query}) q')
    cursor.execute(f'CREATE UNIQUE INDEX ON {name} (n)')
    cursor.execute(f'ANALYZE {name}')


def seed(extras):
    """The seeds, through the module: a paid service (invoice, line,
    payment), an unpaid bill, the routers, 3 payment methods, a technician
    assigned to 2 routers"""
    from trytond.modules.company.tests import set_company
    from trytond.pool import Pool
    from trytond.transaction import Transaction

    from isp_billing.tests.test_payment import AccountingMixin
    from isp_billing.tests.tools import create_plan, create_staff

    class Fixture(AccountingMixin):
        pass

    with Transaction().start(DB_NAME, 0, context={'_skip_warnings': True},
            **extras) as transaction:
        pool = Pool()
        Service = pool.get('isp.service')
        Router = pool.get('isp.router')
        Method = pool.get('account.invoice.payment.method')
        User = pool.get('res.user')
        fixture = Fixture()
        company = fixture.setup_accounting()
        with set_company(company):
            cash = fixture.cash
            others = [Method.copy([cash], default={'name': name})[0]
                for name in ['Bank Transfer', 'Mobile Money']]
            methods = [cash] + others
            fibre = create_plan('Bench Fibre', price=40)
            Service.pay_renewal([fixture.service], 1, cash)
            unpaid = Service.create_renewal_invoice([fixture.service], 1)
            routers = [fixture.router] + Router.create([{
                        'name': f'Bench {i}', 'host': '127.0.0.1',
                        'port': 10000 + i, 'username': 'u',
                        'password': 'p'} for i in range(1, ROUTERS)])
            technician = create_staff('bench_tech', 'group_isp_technician')
            User.write([technician], {
                    'companies': [('add', [company.id])],
                    'company': company.id})
            Router.write(routers[:2], {'users': [('add', [technician.id])]})
        seed_request = pool.get('isp.request').submit(fixture.customer,
            'request', "Bench request", "Bench text",
            service=fixture.service)
        seed_service = fixture.service
        seed_party = fixture.customer
        paid_invoice, = [p.invoice for p in seed_service.payments]
        seed_payment, = seed_service.payments
        seed_line = [l for l in paid_invoice.lines if l.isp_service][0]
        products = [fixture.plan.products[0].id, fibre.products[0].id]

        transaction.commit()
        return (company.id, technician.id, unpaid.id, seed_service.id,
            seed_party.id, paid_invoice.id, seed_payment.id, seed_line.id,
            products, [m.id for m in methods], seed_request.id)


def build(args, now):
    "The database: seeds through the module, the volume in bulk"
    from trytond.transaction import Transaction, TransactionError

    timings = {}
    extras = {}
    while True:
        try:
            seeds = seed(extras)
            break
        except TransactionError as error:
            # a table to lock first (a singleton's creation): start again
            error.fix(extras)
    (company, technician, unpaid, seed_service, seed_party, paid_invoice,
        seed_payment, seed_line, products, methods, seed_request) = seeds
    with Transaction().start(DB_NAME, 0, context={'_skip_warnings': True}
            ) as transaction:
        cursor = transaction.connection.cursor()
        n_services = args.services
        n_customers = n_services // 2
        n_lines = args.lines
        n_invoices = n_lines // 2
        n_paid = n_invoices - n_invoices // 100
        stamp = f"TIMESTAMP '{now.isoformat(sep=' ')}'"

        t0 = time.perf_counter()
        copy_rows(cursor, 'party_party', seed_party, n_customers, {
                'name': "'Bench customer ' || g",
                'code': "'BENCH-' || g",
                })
        numbered(cursor, 'bench_party',
            "SELECT id FROM party_party WHERE code LIKE 'BENCH-%%'")
        numbered(cursor, 'bench_router',
            "SELECT id FROM isp_router")
        # states: 70 % active, 10 % expired, 5 % cancelled, 5 % suspended,
        # 10 % draft; active paid 0..30 days ahead, expired 0..400 days ago
        state = ("CASE WHEN g %% 20 < 14 THEN 'active' "
            "WHEN g %% 20 < 16 THEN 'expired' "
            "WHEN g %% 20 = 16 THEN 'cancelled' "
            "WHEN g %% 20 = 17 THEN 'suspended' ELSE 'draft' END")
        copy_rows(cursor, 'isp_service', seed_service, n_services, {
                'login': "'bench-' || g",
                'customer': 'bp.id',
                'router': 'br.id',
                'plan': f"CASE WHEN g %% 3 = 0 THEN {products[1]} "
                f"ELSE {products[0]} END",
                'state': state,
                'paid_until': f"CASE WHEN g %% 20 >= 18 THEN NULL "
                f"WHEN g %% 20 < 14 OR g %% 20 = 17 "
                f"THEN {stamp} + ((g %% 43200) || ' minutes')::interval "
                f"ELSE {stamp} - ((g %% 576000) || ' minutes')::interval END",
                'sync_status': "CASE WHEN g %% 1000 = 0 THEN 'error' "
                "ELSE 'in_sync' END",
                }, joins=(
                f'JOIN bench_party bp ON bp.n = g %% {n_customers} '
                f'JOIN bench_router br ON br.n = g %% {ROUTERS}'))
        timings['services'] = time.perf_counter() - t0
        numbered(cursor, 'bench_service',
            "SELECT id FROM isp_service WHERE login LIKE 'bench-%%'")

        t0 = time.perf_counter()
        # invoices: 1 % posted (unpaid), dates over 24 months
        copy_rows(cursor, 'account_invoice', paid_invoice, n_invoices, {
                'number': "'BENCH-' || g",
                'reference': 'NULL',
                'move': 'NULL',
                'party': 'sv.customer',
                'state': f"CASE WHEN g > {n_paid} THEN 'posted' "
                "ELSE 'paid' END",
                'invoice_date': "CURRENT_DATE - (g %% 730)",
                }, joins=(
                f'JOIN bench_service bs ON bs.n = g %% {n_services} '
                'JOIN isp_service sv ON sv.id = bs.id'))
        numbered(cursor, 'bench_invoice',
            "SELECT id FROM account_invoice WHERE number LIKE 'BENCH-%%'")
        timings['invoices'] = time.perf_counter() - t0

        t0 = time.perf_counter()
        copy_rows(cursor, 'account_invoice_line', seed_line, n_lines, {
                'invoice': 'bi.id',
                'isp_service': 'bs.id',
                'isp_payment': 'NULL',
                'origin': 'NULL',
                }, joins=(
                'JOIN bench_invoice bi ON bi.n = (g - 1) / 2 '
                f'JOIN bench_service bs ON bs.n = bi.n %% {n_services}'))
        timings['lines'] = time.perf_counter() - t0

        t0 = time.perf_counter()
        # one payment per paid invoice; k-th payment of a service k * 150
        # days after its first (which has no paid time before it)
        cursor.execute(
            "CREATE TEMPORARY TABLE bench_method AS SELECT id, "
            "(row_number() OVER (ORDER BY id) - 1)::int AS n "
            "FROM account_invoice_payment_method WHERE id IN (%s, %s, %s)",
            methods)
        copy_rows(cursor, 'isp_service_payment', seed_payment, n_paid, {
                'service': 'bs.id',
                'customer': 'sv.customer',
                'invoice': 'bi.id',
                'payment_method': 'bm.id',
                'date': f"{stamp} - ((((g - 1) / " + str(n_services) + ") * 150"
                " + (g %% 150)) || ' days')::interval"
                " - ((g %% 1440) || ' minutes')::interval",
                'paid_until_before': "CASE WHEN g <= " + str(n_services)
                + f" THEN NULL ELSE {stamp} END",
                }, joins=(
                'JOIN bench_invoice bi ON bi.n = g - 1 '
                f'JOIN bench_service bs ON bs.n = bi.n %% {n_services} '
                'JOIN isp_service sv ON sv.id = bs.id '
                'JOIN bench_method bm ON bm.n = g %% 3'))
        timings['payments'] = time.perf_counter() - t0

        t0 = time.perf_counter()
        # a request per 10 services: kinds in turn, 40 % closed, a fifth
        # without service
        copy_rows(cursor, 'isp_request', seed_request, n_services // 10, {
                'customer': 'sv.customer',
                'service': 'CASE WHEN g %% 5 = 0 THEN NULL ELSE sv.id END',
                'kind': "(ARRAY['request', 'feedback', 'complaint', "
                "'inquiry'])[1 + g %% 4]",
                'state': "(ARRAY['open', 'in_progress', 'answered', "
                "'closed', 'closed'])[1 + g %% 5]",
                'date': f"{stamp} - ((g %% 525600) || ' minutes')::interval",
                }, joins=(
                'JOIN bench_service bs ON bs.n = (g * 10) %% '
                f'{n_services} JOIN isp_service sv ON sv.id = bs.id'))
        timings['requests'] = time.perf_counter() - t0
        transaction.commit()
    # as autovacuum would (the visibility map of index-only scans)
    with Transaction().start(DB_NAME, 0, autocommit=True) as transaction:
        cursor = transaction.connection.cursor()
        for table in ['party_party', 'isp_service', 'account_invoice',
                'account_invoice_line', 'isp_service_payment',
                'isp_router', 'isp_request']:
            cursor.execute(f'VACUUM ANALYZE "{table}"')
    return company, technician, unpaid, timings


def measure(company_id, user_id):
    "Median time of reading each dashboard model as user (ms), rows"
    from trytond.pool import Pool
    from trytond.transaction import Transaction

    result = {}
    with Transaction().start(DB_NAME, user_id, readonly=True, context={
                'company': company_id, 'companies': [company_id]}):
        pool = Pool()
        for name in MODELS:
            Model = pool.get('isp.dashboard.' + name)
            names = [f for f in Model._fields
                if f not in {'create_uid', 'create_date', 'write_uid',
                    'write_date', 'rec_name'}]
            searches, reads = [], []
            for _ in range(RUNS):
                Transaction().cache.clear()
                t0 = time.perf_counter()
                ids = Model.search([], limit=LIMITS.get(name, 1000))
                t1 = time.perf_counter()
                Model.read([r.id for r in ids[:PAGE]], names)
                t2 = time.perf_counter()
                searches.append((t1 - t0) * 1000)
                reads.append((t2 - t0) * 1000)
            result[name] = (statistics.median(searches),
                statistics.median(reads), len(ids))
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--services', type=int, default=100_000)
    parser.add_argument('--lines', type=int, default=1_000_000)
    parser.add_argument('--uri', default=PG_URI)
    parser.add_argument('--keep', action='store_true',
        help="keep the database (%s) after the run" % DB_NAME)
    parser.add_argument('--reuse', action='store_true',
        help="measure on the database kept by --keep (no build)")
    args = parser.parse_args()

    started = start_on_postgresql(args.uri, REPORT, 'dashboard benchmark', DB_NAME,
        'dash-pg-bench')
    if started is None:
        return 0
    from trytond.pool import Pool
    from trytond.tests.test_tryton import activate_module, drop_db

    if args.reuse:
        from trytond.transaction import Transaction
        Pool.test = False
        pool = Pool(DB_NAME)
        pool.init()
        with Transaction().start(DB_NAME, 0) as transaction:
            cursor = transaction.connection.cursor()
            cursor.execute('SELECT max(id) FROM company_company')
            company, = cursor.fetchone()
            cursor.execute(
                "SELECT id FROM res_user WHERE login = 'bench_tech'")
            technician, = cursor.fetchone()
        t_activate = t_build = 0
        timings = {'reused': 0}
    else:
        t0 = time.perf_counter()
        drop_db()
        activate_module(['isp_billing'])
        t_activate = time.perf_counter() - t0
        Pool.test = False

        now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
        t0 = time.perf_counter()
        company, technician, _, timings = build(args, now)
        t_build = time.perf_counter() - t0

    admin = measure(company, 0)
    tech = measure(company, technician)

    import trytond
    lines = [
        f'dashboard benchmark ({started})',
        f'machine: {platform.machine()} {os.cpu_count()} cpu, Python '
        f'{platform.python_version()}, trytond {trytond.__version__}, '
        f'{args.uri}; load average at the end {os.getloadavg()[0]:.1f} '
        f'(other processes share the CPUs)',
        f'data: {args.services} services on {ROUTERS} routers, '
        f'{args.services // 2} customers, {args.lines // 2} invoices with '
        f'{args.lines} invoice lines (1 % unpaid), one service payment per '
        f'paid invoice over ~24 months, 3 payment methods; built in '
        f'{t_build:.1f} s (' + ', '.join(
            f'{k} {v:.1f} s' for k, v in timings.items())
        + f'); activation {t_activate:.1f} s',
        f'each query: the search as sao runs it (the SQL of the model, '
        f'limit 1000, lists 100 as their actions) and the search + read of the first {PAGE} rows '
        f'(record names included), median of {RUNS} warm runs, ms; goal: '
        f'the query <= 200 ms (not asserted)',
        f'{"model":<32} {"admin":>7} {"+read":>7} {"rows":>5}  '
        f'{"technician":>10} {"+read":>7} {"rows":>5}',
        ]
    for name in MODELS:
        a, t = admin[name], tech[name]
        flag = '' if max(a[0], t[0]) <= 200 else '  query > 200 ms'
        lines.append(f'{"isp.dashboard." + name:<32} {a[0]:>7.1f} '
            f'{a[1]:>7.1f} {a[2]:>5}  {t[0]:>10.1f} {t[1]:>7.1f} '
            f'{t[2]:>5}{flag}')
    write_report(REPORT, lines)
    if not args.keep and not args.reuse:
        drop_db()
    return 0


if __name__ == '__main__':
    sys.exit(main())
