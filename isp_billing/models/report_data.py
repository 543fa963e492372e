"""The figures of the staff reports (Revenue, Customers, Service Plans,
Payment Information), computed in SQL.

Each report is returned as plain data (title, filters used, sheets of typed
columns and rows with their totals) so that the Excel writer and the PDF
template (models/report.py) show the same numbers.  Sums and counts are
grouped in the database; only the detail sheets read one row per record.
The queries bypass record rules, so they are restricted here to the
company of the context and to the routers assigned to the user.
"""
import datetime as dt
from collections import defaultdict
from decimal import Decimal
from zoneinfo import ZoneInfo

from sql import Literal
from sql.aggregate import Count, Sum
from sql.functions import AtTimeZone, DateTrunc
from sql.operators import Exists

from trytond import backend
from trytond.i18n import gettext
from trytond.model import Model
from trytond.pool import Pool
from trytond.transaction import Transaction

from ..exceptions import ReportError
from ..times import company_timezone, utcnow
from .ir import assigned_router_ids

#: column kinds: how a value is written to Excel and printed in the PDF
SUMMED = {'money', 'int', 'days'}


def column(label, kind='text', width=14):
    return {'label': label, 'kind': kind, 'width': width}


def sheet(name, columns, rows, totals=True):
    "A sheet with its totals row: the sum of each numeric column"
    total_row = None
    if totals:
        total_row = []
        for i, col in enumerate(columns):
            if col['kind'] in SUMMED:
                zero = Decimal(0) if col['kind'] != 'int' else 0
                total_row.append(sum((r[i] or zero for r in rows), zero))
            else:
                total_row.append(None)
        total_row[0] = gettext('isp_billing.msg_report_total')
    return {'name': name, 'columns': columns, 'rows': rows,
        'totals': total_row}


def to_decimal(value, digits=2):
    "SQL sums come back as Decimal, float or int depending on the backend"
    if value is None:
        value = 0
    if not isinstance(value, Decimal):
        value = Decimal(str(value))
    return value.quantize(Decimal(1).scaleb(-digits))


def to_datetime(value):
    "DATE_TRUNC gives a string on SQLite"
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value


class ReportData(Model):
    "ISP Report Data"
    __name__ = 'isp.report.data'
    __string__ = "ISP Report Data"

    # --- context: company, time zone, currency, routers ---

    @classmethod
    def _company(cls):
        pool = Pool()
        Company = pool.get('company.company')
        company_id = Transaction().context.get('company')
        if not company_id:
            raise ReportError(gettext('isp_billing.msg_report_no_company'))
        return Company(company_id)

    @classmethod
    def _router_ids(cls):
        """The routers the user may see (None: all), as the record rules:
        ISP administrators and users without assigned routers see all"""
        pool = Pool()
        User = pool.get('res.user')
        ModelData = pool.get('ir.model.data')
        user = Transaction().user
        if not user or ModelData.get_id('isp_billing', 'group_isp_admin') in (
                User.get_groups()):
            return None
        return assigned_router_ids(user) or None

    @classmethod
    def check_filters(cls, data):
        "Refuse a range that ends before it starts"
        start, end = data.get('start_date'), data.get('end_date')
        if start and end and end < start:
            raise ReportError(gettext('isp_billing.msg_report_dates',
                    start=start, end=end))

    @classmethod
    def _header(cls, title, company, data, filters):
        "Title, the filters used (labels) and the figures' context"
        tz = company_timezone(company)
        currency = company.currency
        shown = [(gettext('isp_billing.msg_report_company'), company.rec_name)]
        if data.get('start_date') or data.get('end_date'):
            shown.append((gettext('isp_billing.msg_report_period'),
                    '%s - %s' % (data.get('start_date') or '',
                        data.get('end_date') or '')))
        shown.extend((label, value) for label, value in filters if value)
        printed = utcnow().replace(tzinfo=dt.timezone.utc).astimezone(
            ZoneInfo(tz))
        return {'title': title, 'company': company.rec_name,
            'currency': currency.code, 'symbol': currency.symbol or
            currency.code, 'digits': currency.digits, 'timezone': tz,
            'filters': shown,
            'printed_at': printed.strftime('%Y-%m-%d %H:%M'),
            'sheets': []}

    @staticmethod
    def _utc_range(data, tz):
        "The local dates of the range as UTC bounds [start, end)"
        zone = ZoneInfo(tz)

        def utc(day):
            return dt.datetime.combine(day, dt.time(), zone).astimezone(
                dt.timezone.utc).replace(tzinfo=None)
        start = data.get('start_date')
        end = data.get('end_date')
        return (utc(start) if start else None,
            utc(end + dt.timedelta(days=1)) if end else None)

    @staticmethod
    def _local(value, tz):
        "A stored (naive UTC) timestamp in the company's time zone, naive"
        if not value:
            return None
        value = to_datetime(value)
        return value.replace(tzinfo=dt.timezone.utc).astimezone(
            ZoneInfo(tz)).replace(tzinfo=None)

    @staticmethod
    def _labels(model, field):
        "Selection labels as the user reads them"
        Model = Pool().get(model)
        return dict(Model.fields_get([field])[field]['selection'])

    @staticmethod
    def _name(model, id_):
        if not id_:
            return None
        return Pool().get(model)(id_).rec_name

    # --- payments (revenue and payment information) ---

    @classmethod
    def _payment_tables(cls):
        "Payments with their customer (the customer type)"
        pool = Pool()
        tables = {name: pool.get(model).__table__() for name, model in [
                ('payment', 'isp.service.payment'),
                ('party', 'party.party'),
                ]}
        p, c = tables['payment'], tables['party']
        return tables, p.join(c, condition=p.customer == c.id)

    @classmethod
    def _payment_where(cls, tables, data, company):
        p, c = tables['payment'], tables['party']
        start, end = cls._utc_range(data, company_timezone(company))
        where = p.company == company.id
        if start:
            where &= p.date >= start
        if end:
            where &= p.date < end
        for key, col in [('payment_method', p.payment_method),
                ('plan', p.plan), ('user', p.user),
                ('customer_type', c.isp_customer_type)]:
            if data.get(key):
                where &= col == data[key]
        # the router is the service's: a semi-join, no join of every row
        routers = cls._router_ids()
        if data.get('router') or routers is not None:
            service = Pool().get('isp.service').__table__()
            swhere = service.company == company.id
            if data.get('router'):
                swhere &= service.router == data['router']
            if routers is not None:
                swhere &= service.router.in_(routers)
            where &= p.service.in_(service.select(service.id, where=swhere))
        return where

    @classmethod
    def _check_currency(cls, tables, join, where, company):
        "One currency only: sums of different currencies mean nothing"
        p = tables['payment']
        cursor = Transaction().connection.cursor()
        cursor.execute(*join.select(p.currency, where=where,
                group_by=[p.currency]))
        cls._refuse_currency_mix([r for r, in cursor], company)

    @classmethod
    def _refuse_currency_mix(cls, currencies, company):
        currencies = sorted(set(currencies))
        if len(currencies) > 1 or (
                currencies and currencies[0] != company.currency.id):
            Currency = Pool().get('currency.currency')
            raise ReportError(gettext('isp_billing.msg_report_currency_mix',
                    currencies=', '.join(sorted(
                            c.code for c in Currency.browse(currencies))),
                    company=company.currency.code))

    @classmethod
    def _payment_filters(cls, data):
        types = cls._labels('party.party', 'isp_customer_type')
        return [
            (gettext('isp_billing.msg_report_payment_method'),
                cls._name('account.invoice.payment.method',
                    data.get('payment_method'))),
            (gettext('isp_billing.msg_report_customer_type'),
                types.get(data.get('customer_type'))
                if data.get('customer_type') else None),
            (gettext('isp_billing.msg_report_plan'),
                cls._name('product.product', data.get('plan'))),
            (gettext('isp_billing.msg_report_router'),
                cls._name('isp.router', data.get('router'))),
            (gettext('isp_billing.msg_report_user'),
                cls._name('res.user', data.get('user'))),
            ]

    @classmethod
    def payment_rows(cls, data, company=None, checked=False):
        """One row per payment in the range: date, customer, service, plan,
        router, period start and end, amount, method, invoice, user
        (checked: the currencies were checked by the caller)"""
        pool = Pool()
        company = company or cls._company()
        tz = company_timezone(company)
        tables, join = cls._payment_tables()
        p, c = tables['payment'], tables['party']
        where = cls._payment_where(tables, data, company)
        if not checked:
            cls._check_currency(tables, join, where, company)
        s = pool.get('isp.service').__table__()
        router = pool.get('isp.router').__table__()
        product = pool.get('product.product').__table__()
        template = pool.get('product.template').__table__()
        method = pool.get('account.invoice.payment.method').__table__()
        invoice = pool.get('account.invoice').__table__()
        user = pool.get('res.user').__table__()
        join = (join
            .join(s, condition=p.service == s.id)
            .join(router, condition=s.router == router.id)
            .join(product, 'LEFT', condition=p.plan == product.id)
            .join(template, 'LEFT', condition=product.template == template.id)
            .join(method, 'LEFT', condition=p.payment_method == method.id)
            .join(invoice, condition=p.invoice == invoice.id)
            .join(user, 'LEFT', condition=p.user == user.id))
        cursor = Transaction().connection.cursor()
        cursor.execute(*join.select(
                p.date, c.name, s.login, template.name, router.name,
                p.period_start, p.period_end, p.amount, method.name,
                invoice.number, user.name,
                where=where, order_by=[p.date.asc, p.id.asc]))
        digits = company.currency.digits
        local = cls._local
        return [(local(date, tz), customer, login, plan or '', rname,
                local(start, tz), local(end, tz), to_decimal(amount, digits),
                mname or '', number or '', uname or '')
            for (date, customer, login, plan, rname, start, end, amount,
                mname, number, uname) in cursor]

    @classmethod
    def revenue(cls, data):
        """Paid renewal invoices (service payments) in the range: totals by
        method, by day or month, by customer type, and the detail"""
        pool = Pool()
        Method = pool.get('account.invoice.payment.method')
        cls.check_filters(data)
        company = cls._company()
        tz = company_timezone(company)
        digits = company.currency.digits
        group_by = data.get('group_by') or 'day'
        types = cls._labels('party.party', 'isp_customer_type')
        tables, join = cls._payment_tables()
        p, c = tables['payment'], tables['party']
        where = cls._payment_where(tables, data, company)
        filters = cls._payment_filters(data) + [
            (gettext('isp_billing.msg_report_group_by'),
                cls._labels('isp.report.revenue.start', 'group_by').get(
                    group_by))]
        report = cls._header(
            gettext('isp_billing.msg_report_revenue'), company, data,
            filters)

        # PostgreSQL sums by the company's local day or month; SQLite (no
        # time zones) by the UTC hour, moved to the local day here.
        # (a subquery: PostgreSQL does not match DATE_TRUNC($1, ...) of the
        # select with DATE_TRUNC($4, ...) of the group by)
        local_sql = backend.name == 'postgresql'
        if local_sql:
            bucket = DateTrunc(group_by,
                AtTimeZone(AtTimeZone(p.date, 'UTC'), tz))
        else:
            bucket = DateTrunc('hour', p.date)
        hourly = join.select(p.payment_method.as_('method'),
            c.isp_customer_type.as_('ctype'),
            bucket.as_('bucket'),
            p.currency.as_('currency'), p.amount.as_('amount'),
            p.id.as_('id'), where=where)
        cursor = Transaction().connection.cursor()
        cursor.execute(*hourly.select(
                hourly.method, hourly.ctype, hourly.bucket, hourly.currency,
                Sum(hourly.amount), Count(hourly.id),
                group_by=[hourly.method, hourly.ctype, hourly.bucket,
                    hourly.currency]))
        buckets = cursor.fetchall()
        cls._refuse_currency_mix({r[3] for r in buckets}, company)
        by_method = defaultdict(lambda: [0, Decimal(0)])
        by_type = defaultdict(lambda: [0, Decimal(0)])
        by_period = defaultdict(lambda: [0, Decimal(0)])
        days = {}
        for method_id, ctype, bucket, _, amount, count in buckets:
            amount = to_decimal(amount, digits)
            day = days.get(bucket)
            if day is None:
                day = days[bucket] = (to_datetime(bucket) if local_sql
                    else cls._local(bucket, tz)).date()
            if group_by == 'month':
                day = day.replace(day=1)
            for groups, key in [(by_method, method_id), (by_type, ctype),
                    (by_period, day)]:
                groups[key][0] += count
                groups[key][1] += amount
        methods = {m.id: m.rec_name for m in Method.browse(
                [m for m in by_method if m])}
        none = gettext('isp_billing.msg_report_none')

        def rows(groups, label):
            return sorted(([label(k), n, a] for k, (n, a) in groups.items()),
                key=lambda r: r[0])
        count_col = column(gettext('isp_billing.msg_report_payments'),
            'int', 10)
        amount_col = column(gettext('isp_billing.msg_report_amount'),
            'money', 16)
        report['sheets'] = [
            sheet(gettext('isp_billing.msg_report_by_method'), [
                    column(gettext('isp_billing.msg_report_payment_method'),
                        'text', 28), count_col, amount_col],
                rows(by_method, lambda k: methods.get(k, none))),
            sheet(gettext('isp_billing.msg_report_by_month'
                    if group_by == 'month'
                    else 'isp_billing.msg_report_by_day'),
                [column(gettext('isp_billing.msg_report_month'
                            if group_by == 'month'
                            else 'isp_billing.msg_report_day'),
                        'month' if group_by == 'month' else 'date', 14),
                    count_col, amount_col],
                rows(by_period, lambda k: k)),
            sheet(gettext('isp_billing.msg_report_by_customer_type'), [
                    column(gettext('isp_billing.msg_report_customer_type'),
                        'text', 20), count_col, amount_col],
                rows(by_type, lambda k: types.get(k) or none)),
            ]
        if data.get('detail', True):
            report['sheets'].append(sheet(
                    gettext('isp_billing.msg_report_detail'),
                    cls._payment_columns(),
                    cls.payment_rows(data, company, checked=True)))
        return report

    @classmethod
    def _payment_columns(cls, activation=False):
        labels = [('msg_report_date', 'datetime', 17),
            ('msg_report_customer', 'text', 24),
            ('msg_report_service', 'text', 16),
            ('msg_report_plan', 'text', 16),
            ('msg_report_router', 'text', 14),
            ('msg_report_activation' if activation
                else 'msg_report_period_start', 'datetime', 17),
            ('msg_report_deactivation' if activation
                else 'msg_report_period_end', 'datetime', 17),
            ('msg_report_amount', 'money', 14),
            ('msg_report_payment_method', 'text', 18),
            ('msg_report_invoice', 'text', 14),
            ('msg_report_user', 'text', 18)]
        return [column(gettext('isp_billing.' + m), k, w)
            for m, k, w in labels]

    @classmethod
    def payments(cls, data):
        """Payment information: each payment with its method, bill, the
        period it activates (activation and deactivation), router and the
        staff user responsible; totals by method"""
        cls.check_filters(data)
        company = cls._company()
        report = cls._header(
            gettext('isp_billing.msg_report_payment_info'), company, data,
            cls._payment_filters(data))
        rows = cls.payment_rows(data, company)
        by_method = defaultdict(lambda: [0, Decimal(0)])
        for row in rows:
            by_method[row[8]][0] += 1
            by_method[row[8]][1] += row[7]
        none = gettext('isp_billing.msg_report_none')
        report['sheets'] = [
            sheet(gettext('isp_billing.msg_report_payments'),
                cls._payment_columns(activation=True), rows),
            sheet(gettext('isp_billing.msg_report_by_method'), [
                    column(gettext('isp_billing.msg_report_payment_method'),
                        'text', 28),
                    column(gettext('isp_billing.msg_report_payments'),
                        'int', 10),
                    column(gettext('isp_billing.msg_report_amount'),
                        'money', 16)],
                sorted([k or none, n, a] for k, (n, a) in by_method.items())),
            ]
        return report

    # --- customers ---

    @classmethod
    def customers(cls, data):
        """Customers and services counted by customer type, plan, state and
        router, and the list of services with their customer"""
        pool = Pool()
        company = cls._company()
        tz = company_timezone(company)
        service = pool.get('isp.service').__table__()
        party = pool.get('party.party').__table__()
        router = pool.get('isp.router').__table__()
        product = pool.get('product.product').__table__()
        template = pool.get('product.template').__table__()
        types = cls._labels('party.party', 'isp_customer_type')
        states = cls._labels('isp.service', 'state')
        none = gettext('isp_billing.msg_report_none')
        report = cls._header(
            gettext('isp_billing.msg_report_customers'), company, data, [
                (gettext('isp_billing.msg_report_customer_type'),
                    types.get(data.get('customer_type'))
                    if data.get('customer_type') else None),
                (gettext('isp_billing.msg_report_plan'),
                    cls._name('product.product', data.get('plan'))),
                (gettext('isp_billing.msg_report_state'),
                    states.get(data.get('state'))
                    if data.get('state') else None),
                (gettext('isp_billing.msg_report_router'),
                    cls._name('isp.router', data.get('router'))),
                ])
        join = (service
            .join(party, condition=service.customer == party.id)
            .join(router, condition=service.router == router.id)
            .join(product, condition=service.plan == product.id)
            .join(template, condition=product.template == template.id))
        where = service.company == company.id
        for key, col in [('customer_type', party.isp_customer_type),
                ('plan', service.plan), ('state', service.state),
                ('router', service.router)]:
            if data.get(key):
                where &= col == data[key]
        routers = cls._router_ids()
        if routers is not None:
            where &= service.router.in_(routers)
        cursor = Transaction().connection.cursor()
        no_service = gettext('isp_billing.msg_report_no_service')
        loose = cls._customers_without_service(company, data, routers)
        count_cols = [
            column(gettext('isp_billing.msg_report_customer_count'),
                'int', 12),
            column(gettext('isp_billing.msg_report_service_count'),
                'int', 12)]
        for title, label, key, show in [
                ('msg_report_by_customer_type', 'msg_report_customer_type',
                    party.isp_customer_type, lambda k: types.get(k) or none),
                ('msg_report_by_plan', 'msg_report_plan', template.name,
                    lambda k: k),
                ('msg_report_by_state', 'msg_report_state', service.state,
                    lambda k: states.get(k, k)),
                ('msg_report_by_router', 'msg_report_router', router.name,
                    lambda k: k)]:
            cursor.execute(*join.select(key,
                    Count(service.customer, distinct=True), Count(service.id),
                    where=where, group_by=[key]))
            rows = sorted([show(k), n, m] for k, n, m in cursor)
            if title == 'msg_report_by_customer_type':
                rows = cls._add_counts(rows, [show(t) for _, _, t in loose])
            elif title == 'msg_report_by_state' and loose:
                rows.append([no_service, len(loose), 0])
            # a customer with services on two plans counts in both rows
            report['sheets'].append(sheet(gettext('isp_billing.' + title),
                    [column(gettext('isp_billing.' + label), 'text', 24)]
                    + count_cols, rows))
        cursor.execute(*join.select(
                party.isp_code, party.name, party.isp_customer_type,
                service.login, template.name, router.name, service.state,
                service.paid_until,
                where=where,
                order_by=[party.name.asc, party.id.asc, service.id.asc]))
        rows = [(code or '', name, types.get(ctype) or none, login, plan,
                rname, states.get(state, state), cls._local(paid_until, tz))
            for (code, name, ctype, login, plan, rname, state, paid_until)
            in cursor]
        if loose:
            rows = sorted(rows + [(code or '', name, types.get(ctype) or none,
                        '', '', '', no_service, None)
                    for code, name, ctype in loose], key=lambda r: r[1])
        labels = [('msg_report_customer_code', 'text', 12),
            ('msg_report_customer', 'text', 26),
            ('msg_report_customer_type', 'text', 14),
            ('msg_report_service', 'text', 16),
            ('msg_report_plan', 'text', 16),
            ('msg_report_router', 'text', 14),
            ('msg_report_state', 'text', 12),
            ('msg_report_paid_until', 'datetime', 17)]
        report['sheets'].append(sheet(
                gettext('isp_billing.msg_report_customer_list'),
                [column(gettext('isp_billing.' + m), k, w)
                    for m, k, w in labels], rows, totals=False))
        return report

    @classmethod
    def _customers_without_service(cls, company, data, routers):
        """[(code, name, type)] of the active customers with no service in
        the company: a prospect or a former customer is still a customer.
        None when the report is narrowed to a plan, a state or a router, or
        the user sees only some routers (such a customer is on none)."""
        if routers is not None or any(
                data.get(k) for k in ('plan', 'state', 'router')):
            return []
        pool = Pool()
        party = pool.get('party.party').__table__()
        service = pool.get('isp.service').__table__()
        where = ((party.isp_customer == Literal(True))
            & (party.active == Literal(True))
            & ~Exists(service.select(service.id,
                    where=(service.customer == party.id)
                    & (service.company == company.id))))
        if data.get('customer_type'):
            where &= party.isp_customer_type == data['customer_type']
        cursor = Transaction().connection.cursor()
        cursor.execute(*party.select(party.isp_code, party.name,
                party.isp_customer_type, where=where,
                order_by=[party.name.asc, party.id.asc]))
        return list(cursor)

    @staticmethod
    def _add_counts(rows, labels):
        "rows [label, customers, services] plus one customer per label"
        rows = {r[0]: list(r) for r in rows}
        for label in labels:
            rows.setdefault(label, [label, 0, 0])[1] += 1
        return sorted(rows.values())

    # --- service plans ---

    @classmethod
    def plans(cls, data):
        """Per plan: price, speed, duration, services by state, revenue and
        extension days by reason in the range; the extension history"""
        pool = Pool()
        Product = pool.get('product.product')
        cls.check_filters(data)
        company = cls._company()
        tz = company_timezone(company)
        digits = company.currency.digits
        reasons = cls._labels('isp.service.extension', 'reason')
        units = cls._labels('product.template', 'plan_duration_unit')
        report = cls._header(
            gettext('isp_billing.msg_report_plans'), company, data, [
                (gettext('isp_billing.msg_report_plan'),
                    cls._name('product.product', data.get('plan'))),
                (gettext('isp_billing.msg_report_router'),
                    cls._name('isp.router', data.get('router'))),
                ])
        domain = [('template.isp_plan', '=', True)]
        if data.get('plan'):
            domain.append(('id', '=', data['plan']))
        with Transaction().set_context(company=company.id,
                active_test=False):
            plans = Product.search(domain, order=[('rec_name', 'ASC')])
        plan_ids = [p.id for p in plans]
        routers = cls._router_ids()
        if data.get('router'):
            # a router outside the user's ones: nothing (-1 matches no row)
            routers = [r for r in (routers or [data['router']])
                if r == data['router']] or [-1]
        cursor = Transaction().connection.cursor()

        service = pool.get('isp.service').__table__()
        where = (service.company == company.id)
        if plan_ids:
            where &= service.plan.in_(plan_ids)
        if routers is not None:
            where &= service.router.in_(routers)
        cursor.execute(*service.select(service.plan, service.state,
                Count(service.id), where=where,
                group_by=[service.plan, service.state]))
        by_state = defaultdict(int)
        for plan_id, state, count in cursor:
            by_state[(plan_id, state)] += count

        tables, join = cls._payment_tables()
        pdata = {k: data.get(k) for k in ['start_date', 'end_date', 'plan',
                'router']}
        pwhere = cls._payment_where(tables, pdata, company)
        cls._check_currency(tables, join, pwhere, company)
        p = tables['payment']
        cursor.execute(*join.select(p.plan, Sum(p.amount), Count(p.id),
                where=pwhere, group_by=[p.plan]))
        revenue = {k: (to_decimal(a, digits), n) for k, a, n in cursor}

        extension = pool.get('isp.service.extension').__table__()
        eservice = pool.get('isp.service').__table__()
        ejoin = extension.join(eservice,
            condition=extension.service == eservice.id)
        start, end = cls._utc_range(data, tz)
        ewhere = extension.company == company.id
        if start:
            ewhere &= extension.date >= start
        if end:
            ewhere &= extension.date < end
        if data.get('plan'):
            ewhere &= extension.plan == data['plan']
        if routers is not None:
            ewhere &= eservice.router.in_(routers)
        cursor.execute(*ejoin.select(extension.plan, extension.reason,
                Count(extension.id), Sum(extension.days), where=ewhere,
                group_by=[extension.plan, extension.reason]))
        ext_by_reason = defaultdict(lambda: [0, Decimal(0)])
        ext_days = defaultdict(Decimal)
        for plan_id, reason, count, days in cursor:
            days = to_decimal(days)
            ext_by_reason[(plan_id, reason)][0] += count
            ext_by_reason[(plan_id, reason)][1] += days
            ext_days[plan_id] += days

        with Transaction().set_context(company=company.id):
            plan_rows = []
            for plan in Product.browse(plan_ids):
                tpl = plan.template
                amount, paid = revenue.get(plan.id, (Decimal(0), 0))
                plan_rows.append([plan.rec_name,
                        to_decimal(plan.list_price_used or 0, digits),
                        tpl.download_rate or 0, tpl.upload_rate or 0,
                        '%s %s' % (tpl.plan_duration or '',
                            units.get(tpl.plan_duration_unit) or ''),
                        by_state[(plan.id, 'active')],
                        by_state[(plan.id, 'expired')],
                        by_state[(plan.id, 'suspended')],
                        paid, amount, ext_days[plan.id]])
        names = {p.id: p.rec_name for p in plans}
        none = gettext('isp_billing.msg_report_none')
        labels = [('msg_report_plan', 'text', 20),
            ('msg_report_price', 'money', 12),
            ('msg_report_download', 'int', 12),
            ('msg_report_upload', 'int', 12),
            ('msg_report_duration', 'text', 12),
            ('msg_report_active', 'int', 9),
            ('msg_report_expired', 'int', 9),
            ('msg_report_suspended', 'int', 10),
            ('msg_report_payments', 'int', 10),
            ('msg_report_revenue_col', 'money', 14),
            ('msg_report_extension_days', 'days', 14)]
        plans_sheet = sheet(gettext('isp_billing.msg_report_plans'),
            [column(gettext('isp_billing.' + m), k, w)
                for m, k, w in labels], plan_rows)
        plans_sheet['totals'][1] = None         # a sum of prices means nothing
        report['sheets'].append(plans_sheet)
        report['sheets'].append(sheet(
                gettext('isp_billing.msg_report_extensions_by_reason'), [
                    column(gettext('isp_billing.msg_report_plan'), 'text', 20),
                    column(gettext('isp_billing.msg_report_reason'),
                        'text', 16),
                    column(gettext('isp_billing.msg_report_extensions'),
                        'int', 12),
                    column(gettext('isp_billing.msg_report_days'), 'days', 12),
                    ],
                sorted([names.get(pid, none), reasons.get(r, r), n, d]
                    for (pid, r), (n, d) in ext_by_reason.items())))

        party = pool.get('party.party').__table__()
        user = pool.get('res.user').__table__()
        product = pool.get('product.product').__table__()
        template = pool.get('product.template').__table__()
        hjoin = (ejoin
            .join(party, condition=extension.customer == party.id)
            .join(product, 'LEFT', condition=extension.plan == product.id)
            .join(template, 'LEFT', condition=product.template == template.id)
            .join(user, 'LEFT', condition=extension.user == user.id))
        cursor.execute(*hjoin.select(extension.date, template.name,
                party.name, eservice.login, extension.days, extension.reason,
                user.name, extension.note, where=ewhere,
                order_by=[extension.date.asc, extension.id.asc]))
        history = [(cls._local(date, tz), plan or none, customer, login,
                to_decimal(days), reasons.get(reason, reason), uname or '',
                note or '')
            for date, plan, customer, login, days, reason, uname, note
            in cursor]
        labels = [('msg_report_date', 'datetime', 17),
            ('msg_report_plan', 'text', 16),
            ('msg_report_customer', 'text', 24),
            ('msg_report_service', 'text', 16),
            ('msg_report_days', 'days', 10),
            ('msg_report_reason', 'text', 14),
            ('msg_report_user', 'text', 18),
            ('msg_report_note', 'text', 30)]
        report['sheets'].append(sheet(
                gettext('isp_billing.msg_report_extension_history'),
                [column(gettext('isp_billing.' + m), k, w)
                    for m, k, w in labels], history))
        return report

