"""Benchmark: the one-year Revenue report on PostgreSQL with 1,000,000 paid
renewal invoices (service payments), aggregated and as .xlsx.

Not a test -- nothing is asserted (goal: <= 5 s).  Writes
``var/bench/reports.txt`` and prints it.  Skips (exit 0, with a message)
when PostgreSQL is not reachable.

    .venv/bin/python bench/bench_reports.py [--payments N] [--uri URI]

One real counter payment (invoice, moves, service payment) is made through
the module, then copied in bulk with ``INSERT ... SELECT generate_series``:
10,000 customers (individual / organization), 100,000 services on two
routers, N invoices and N service payments spread over one year, two
payment methods and two plans.  Each payment stands for one invoice line
(the worst case: one period per bill).  The report never reads the lines.
"""
import argparse
import datetime as dt
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from bench_tools import PG_URI, start_on_postgresql, write_report  # noqa: E402
REPORT = os.path.join(ROOT, 'var', 'bench', 'reports.txt')
DB_NAME = 'bench_isp_reports'
YEAR = 2026


def copy_rows(cursor, table, seed_id, count, special):
    """Insert count copies of row seed_id of table, columns in special
    computed from g (1..count); returns the first new id"""
    cursor.execute(
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_name = %s AND column_name <> 'id'", (table,))
    columns = [c for c, in cursor]
    select = ', '.join(special.get(c, f'"{c}"') for c in columns)
    names = ', '.join(f'"{c}"' for c in columns)
    cursor.execute(f'SELECT max(id) FROM "{table}"')
    first, = cursor.fetchone()
    cursor.execute(
        f'INSERT INTO "{table}" ({names}) '
        f'SELECT {select} FROM "{table}", generate_series(1, %s) g '
        f'WHERE "{table}".id = %s', (count, seed_id))
    cursor.execute(f'ANALYZE "{table}"')
    return first + 1


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--payments', type=int, default=1_000_000)
    parser.add_argument('--services', type=int, default=100_000)
    parser.add_argument('--customers', type=int, default=10_000)
    parser.add_argument('--uri', default=PG_URI)
    parser.add_argument('--keep', action='store_true',
        help="keep the database (%s) after the run" % DB_NAME)
    parser.add_argument('--reuse', action='store_true',
        help="time the reports on the database kept by --keep")
    args = parser.parse_args()

    started = start_on_postgresql(args.uri, REPORT, 'reports benchmark', DB_NAME,
        'reports-pg-bench')
    if started is None:
        return 0
    from trytond.tests.test_tryton import activate_module, drop_db
    from trytond.pool import Pool
    from trytond.transaction import Transaction, TransactionError

    if not args.reuse:
        drop_db()
        activate_module(['isp_billing'])
    Pool.test = False

    from trytond.modules.company.tests import set_company
    from isp_billing.tests.test_payment import AccountingMixin
    from isp_billing.tests.tools import create_plan, create_router
    from isp_billing.times import frozen_clock

    n, n_services, n_customers = args.payments, args.services, args.customers
    year_start = dt.datetime(YEAR, 1, 1)
    def build(transaction):
        pool = Pool()
        Service = pool.get('isp.service')
        Method = pool.get('account.invoice.payment.method')
        Template = pool.get('product.template')
        Category = pool.get('product.category')
        env = AccountingMixin()  # keeps the company, plan, router... it makes
        company = env.setup_accounting()
        with set_company(company):
            category, = Category.search([('name', '=', 'Internet')])
            fibre = create_plan('Fibre 50M', price=40)
            Template.write([fibre], {'account_category': category.id})
            router2 = create_router('R2', port=8729)
            mobile, = Method.copy([env.cash], {'name': 'Mobile'})
            with frozen_clock(year_start + dt.timedelta(hours=1)):
                invoice = Service.pay_renewal([env.service], 1, env.cash)
        payment, = env.service.payments
        cursor = transaction.connection.cursor()
        t0 = time.perf_counter()
        party0 = copy_rows(cursor, 'party_party', env.customer.id,
            n_customers, {
                'name': "'Customer ' || g", 'code': "'BC' || g",
                'isp_code': "'B' || g",
                'isp_customer_type': "CASE WHEN g %% 5 = 0 "
                "THEN 'organization' ELSE 'individual' END"})
        service0 = copy_rows(cursor, 'isp_service', env.service.id,
            n_services, {
                'login': "'bench-' || g",
                'customer': f"{party0} + g %% {n_customers}",
                'router': f"CASE WHEN g %% 3 = 0 THEN {router2.id} "
                f"ELSE {env.router.id} END",
                'plan': f"CASE WHEN g %% 4 = 0 THEN {fibre.products[0].id} "
                f"ELSE {env.plan.products[0].id} END"})
        invoice0 = copy_rows(cursor, 'account_invoice', invoice.id, n, {
                'number': "'BENCH-' || g",
                'party': f"{party0} + (g %% {n_services}) %% {n_customers}"})
        seconds = 365 * 86400
        copy_rows(cursor, 'isp_service_payment', payment.id, n, {
                'service': f"{service0} + g %% {n_services}",
                'customer': f"{party0} + (g %% {n_services}) %% {n_customers}",
                'invoice': f"{invoice0} + g - 1",
                'date': f"TIMESTAMP '{year_start}' + "
                f"((g::bigint * {seconds}) / {n} || ' seconds')::interval",
                'payment_method': f"CASE WHEN g %% 2 = 0 THEN {mobile.id} "
                f"ELSE {env.cash.id} END",
                'plan': f"CASE WHEN g %% 4 = 0 THEN {fibre.products[0].id} "
                f"ELSE {env.plan.products[0].id} END"})
        t_build = time.perf_counter() - t0
        return company, mobile, router2, t_build

    def kept(transaction):
        pool = Pool()
        company, = pool.get('company.company').search([])
        mobile, = pool.get('account.invoice.payment.method').search(
            [('name', '=', 'Mobile')])
        router2, = pool.get('isp.router').search([('name', '=', 'R2')])
        return company, mobile, router2, 0

    # the chart's singletons lock tables: retry as trytond's tests do
    extras = {}
    while args.reuse:
        with Transaction().start(DB_NAME, 0) as transaction:
            Pool(DB_NAME).init()
            Pool.test = False
            company, mobile, router2, t_build = kept(transaction)
            break
    while not args.reuse:
        with Transaction().start(DB_NAME, 0,
                context={'_skip_warnings': True}, **extras) as transaction:
            try:
                company, mobile, router2, t_build = build(transaction)
            except TransactionError as e:
                transaction.rollback()
                e.fix(extras)
                continue
            transaction.commit()
            break

    from isp_billing.models.report import xlsx_workbook
    year = {'start_date': dt.date(YEAR, 1, 1),
        'end_date': dt.date(YEAR, 12, 31), 'group_by': 'day'}
    month = dict(year, start_date=dt.date(YEAR, 3, 1),
        end_date=dt.date(YEAR, 3, 31))
    results = []
    with Transaction().start(DB_NAME, 0, context={
                'company': company.id, '_skip_warnings': True}):
        pool = Pool()
        ReportData = pool.get('isp.report.data')
        Xlsx = pool.get('isp.report.revenue.xlsx', type='report')

        def timed(label, func):
            t = time.perf_counter()
            value = func()
            results.append((label, time.perf_counter() - t))
            return value

        for i in range(2):      # the second run is the warm one
            report = timed(f'year, aggregated (figures) run {i + 1}',
                lambda: ReportData.revenue(dict(year, detail=False)))
        timed('year, aggregated, by month (figures)',
            lambda: ReportData.revenue(dict(year, detail=False,
                    group_by='month')))
        timed('year, aggregated, one method + router filter (figures)',
            lambda: ReportData.revenue(dict(year, detail=False,
                    payment_method=mobile.id, router=router2.id)))
        ext, content, _, _ = timed('year, aggregated, to .xlsx (execute)',
            lambda: Xlsx.execute([], dict(year, detail=False)))
        detail = timed('one month with detail (figures)',
            lambda: ReportData.revenue(dict(month, detail=True)))
        rows = len(detail['sheets'][-1]['rows'])
        timed(f'one month with detail, .xlsx writing ({rows:,} rows)',
            lambda: xlsx_workbook(detail))
        total = report['sheets'][0]['totals']

    lines = [f'revenue report benchmark ({started}), PostgreSQL {args.uri}',
        f'{n:,} payments (one invoice each) over {YEAR}, '
        f'{n_services:,} services, {n_customers:,} customers; '
        f'dataset built in {t_build:.1f} s',
        f'year totals: {total[1]:,} payments, {total[2]:,} amount',
        'goal: <= 5 s for the one-year report']
    for label, seconds in results:
        lines.append(f'  {label:<58} {seconds:7.2f} s')
    write_report(REPORT, lines)
    if not args.keep:
        drop_db()
    return 0


if __name__ == '__main__':
    sys.exit(main())
