"""The staff dashboard: each figure of models/dashboard.py against the
services, payments and bills made in the test, the technician's view
limited to the routers assigned to them, the labels of the graphs, the home
action at login and who may read what."""
import datetime as dt
from decimal import Decimal

from trytond.model.exceptions import AccessError
from trytond.modules.company.tests import set_company
from trytond.pool import Pool
from trytond.tests.test_tryton import with_transaction
from trytond.transaction import Transaction

from ..models.dashboard import month_bounds, today_bounds
from ..times import utcnow
from .test_payment import AccountingMixin
from .tools import (
    IspTestCase, as_user, create_customer, create_plan, create_router,
    create_service, create_staff)

DASHBOARD = ['router_customers', 'customer_month', 'plan_services',
    'revenue_month', 'expired_today', 'expiring_soon', 'unpaid_bill',
    'router_problem', 'request_count']


def sql_update(Model, values, ids):
    "Move records in time as a fixture (the ledger refuses writes)"
    table = Model.__table__()
    cursor = Transaction().connection.cursor()
    columns = [getattr(table, name) for name in values]
    cursor.execute(*table.update(columns, list(values.values()),
            where=table.id.in_(list(ids))))
    Pool().get(Model.__name__)._reset_cache = True


class DashboardTestCase(AccountingMixin, IspTestCase):
    "The dashboard's SQL figures"

    def month_start(self, back):
        "The UTC start of the month back months ago (+ 1 hour)"
        return month_bounds(14)[-1 - back][1] + dt.timedelta(hours=1)

    def setup_world(self):
        """Routers R1 (online), R2 (offline), R3 (sync error); Alice (R1,
        paid 2 months ago in cash, active), Bob (R2, paid this month by
        bank, expiring in 2 days), Carol (R1, Fibre, paid 5 months ago in
        cash, expired last month), Dave (R2, expired today, paid 13 months
        ago), an unpaid bill for Alice with 5 paid on it"""
        pool = Pool()
        Service = pool.get('isp.service')
        Payment = pool.get('isp.service.payment')
        Router = pool.get('isp.router')
        Method = pool.get('account.invoice.payment.method')
        Journal = pool.get('account.journal')
        Account = pool.get('account.account')
        company = self.setup_accounting()
        with set_company(company):
            self.r1 = self.router
            self.r2 = create_router('R2', port=8729)
            self.r3 = create_router('R3', port=8730)
            journal, = Journal.search([('type', '=', 'cash')], limit=1)
            cash_account, = Account.search([('code', '=', '1.1.1')], limit=1)
            self.bank, = Method.create([{'name': 'Bank Transfer',
                        'journal': journal.id,
                        'credit_account': cash_account.id,
                        'debit_account': cash_account.id}])
            self.fibre = create_plan('Fibre 50M', price=40)
            self.fibre.account_category = self.plan.account_category
            self.fibre.save()
            self.alice = self.service
            customers = {}
            for name in ['Bob', 'Carol', 'Dave']:
                party = create_customer(name)
                party.addresses = [{}]
                party.save()
                customers[name] = party
            self.bob = create_service(
                customers['Bob'], self.plan, self.r2, login='bob')
            self.carol = create_service(
                customers['Carol'], self.fibre, self.r1, login='carol')
            self.dave = create_service(
                customers['Dave'], self.plan, self.r2, login='dave')
            Service.pay_renewal([self.alice], 1, self.cash)
            Service.pay_renewal([self.bob], 1, self.bank)
            Service.pay_renewal([self.carol], 1, self.cash)
            Service.pay_renewal([self.dave], 1, self.cash)
            self.unpaid = Service.create_renewal_invoice([self.alice], 1)
            self.unpaid.isp_pay(Decimal(5), self.cash)

        def payment_of(service):
            payment, = Payment.search([('service', '=', service.id)])
            return payment
        # move the payments and paid time to their months
        for service, back in [(self.alice, 2), (self.bob, 0),
                (self.carol, 5), (self.dave, 13)]:
            sql_update(Payment, {'date': self.month_start(back)},
                [payment_of(service).id])
        now = utcnow()
        sql_update(Service, {'paid_until': now + dt.timedelta(days=2)},
            [self.bob.id])
        sql_update(Service, {'state': 'expired',
                'paid_until': self.month_start(1)}, [self.carol.id])
        start, end = today_bounds()
        sql_update(Service, {'state': 'expired',
                'paid_until': start + (min(now, end) - start) / 2},
            [self.dave.id])
        sql_update(Router, {'status': 'online'}, [self.r1.id, self.r3.id])
        sql_update(Router, {'status': 'offline'}, [self.r2.id])
        sql_update(Router, {'sync_error': 'boom'}, [self.r3.id])
        self.setup_requests()
        return company

    def setup_requests(self):
        """Requests: Alice's (R1, her service) open; two of Bob's
        complaints (R2, his service) open and in progress; Carol's inquiry
        (no service, her service on R1) answered; Dave's feedback (no
        service, his service on R2) open and his closed request"""
        Request = Pool().get('isp.request')
        self.requests = Request.create([{
                    'customer': service.customer.id,
                    'service': service.id if with_service else None,
                    'kind': kind, 'state': state,
                    'subject': kind, 'text': 'Hello',
                    } for service, with_service, kind, state in [
                    (self.alice, True, 'request', 'open'),
                    (self.bob, True, 'complaint', 'open'),
                    (self.bob, True, 'complaint', 'in_progress'),
                    (self.carol, False, 'inquiry', 'answered'),
                    (self.dave, False, 'feedback', 'open'),
                    (self.dave, True, 'request', 'closed'),
                    ]])

    def technician(self, routers, group='technician'):
        pool = Pool()
        User = pool.get('res.user')
        Router = pool.get('isp.router')
        user = create_staff('tech_' + group, 'group_isp_' + group)
        User.write([user], {'companies': [('add', [self.company.id])],
                'company': self.company.id})
        Router.write(list(routers), {'users': [('add', [user.id])]})
        return User(user.id)

    def rows(self, name, *fields):
        Model = Pool().get('isp.dashboard.' + name)
        records = Model.search([])
        return [tuple(getattr(r, f) for f in fields) for r in records]

    def figures(self, revenue=True):
        "Every figure of the dashboard, read as the current user"
        def ident(record):
            return record.id if record else None
        result = {
            'router_customers': sorted(
                (r.name, c, a) for r, c, a in self.rows(
                    'router_customers', 'router', 'customers',
                    'active_customers')),
            'plan_services': sorted(
                (p.rec_name, n) for p, n in self.rows(
                    'plan_services', 'plan', 'services')),
            'customer_month': self.rows(
                'customer_month', 'month', 'new', 'lost', 'net'),
            'expired_today': [ident(s) for s, in self.rows(
                    'expired_today', 'service')],
            'expiring_soon': [ident(s) for s, in self.rows(
                    'expiring_soon', 'service')],
            'unpaid_bill': [(ident(i), ident(s), t, d) for i, s, t, d in
                self.rows('unpaid_bill', 'invoice', 'service', 'total',
                    'amount_due')],
            'router_problem': sorted((r.name, s, e, n) for r, s, e, n in
                self.rows('router_problem', 'router', 'status',
                    'sync_error', 'services_in_error')),
            }
        result['request_count'] = self.rows('request_count', 'state',
            'waiting_for', 'request', 'feedback', 'complaint', 'inquiry',
            'total')
        if revenue:
            result['revenue_month'] = self.rows('revenue_month', 'month',
                'total', 'amount_1', 'amount_2', 'amount_other')
        return result

    def months(self):
        return [first for first, _, _ in month_bounds()]

    @with_transaction()
    def test_figures(self):
        "Each chart and list counts what the test made, empty months as 0"
        company = self.setup_world()
        with set_company(company):
            figures = self.figures()
        self.assertEqual(figures['router_customers'], [
                ('R1', 2, 1), ('R2', 2, 1), ('R3', 0, 0)])
        self.assertEqual(figures['plan_services'], [('Home 10M', 2)])
        months = self.months()
        new = {months[-1]: 1, months[-3]: 1, months[-6]: 1}
        lost = {months[-2]: 1, months[-1]: 1}    # Carol, Dave
        self.assertEqual(figures['customer_month'], [
                (m, new.get(m, 0), lost.get(m, 0),
                    new.get(m, 0) - lost.get(m, 0)) for m in months])
        zero = Decimal(0)
        # series by method name: Bank Transfer, Cash
        revenue = {months[-1]: (Decimal(20), Decimal(20), zero),
            months[-3]: (Decimal(20), zero, Decimal(20)),
            months[-6]: (Decimal(40), zero, Decimal(40))}
        self.assertEqual(figures['revenue_month'], [
                (m, *revenue.get(m, (zero, zero, zero)), zero)
                for m in months])
        self.assertEqual(figures['expired_today'], [self.dave.id])
        self.assertEqual(figures['expiring_soon'], [self.bob.id])
        self.assertEqual(figures['unpaid_bill'], [
                (self.unpaid.id, self.alice.id, Decimal(20), Decimal(15))])
        self.assertEqual(figures['router_problem'], [
                ('R2', 'offline', None, 0), ('R3', 'online', 'boom', 0)])
        # state, waiting for, request, feedback, complaint, inquiry, total
        self.assertEqual(figures['request_count'], [
                ('open', 'staff', 1, 1, 1, 0, 3),
                ('in_progress', 'staff', 0, 0, 1, 0, 1),
                ('answered', 'customer', 0, 0, 0, 1, 1)])

    @with_transaction()
    def test_request_count_follows_requests(self):
        """Answering, closing and reopening requests moves them between the
        rows; the oldest date is the oldest request of the row; no request
        at all gives three rows of zeros"""
        pool = Pool()
        Request = pool.get('isp.request')
        Model = pool.get('isp.dashboard.request_count')
        company = self.setup_world()
        alice, bob_open, bob_started, carol, dave, closed = self.requests
        with set_company(company):
            Request.answered([bob_open, bob_started])
            Request.close([carol])
            Request.reopen([closed])
            Request.start([dave])
            counts = self.figures()['request_count']
            oldest = {r.state: r.oldest for r in Model.search([])}
        self.assertEqual(counts, [
                ('open', 'staff', 2, 0, 0, 0, 2),
                ('in_progress', 'staff', 0, 1, 0, 0, 1),
                ('answered', 'customer', 0, 0, 2, 0, 2)])
        self.assertEqual(oldest, {
                'open': min(alice.date, closed.date),
                'in_progress': dave.date,
                'answered': min(bob_open.date, bob_started.date)})
        with set_company(company):
            Request.delete(self.requests)
            self.assertEqual(self.figures()['request_count'], [
                    ('open', 'staff', 0, 0, 0, 0, 0),
                    ('in_progress', 'staff', 0, 0, 0, 0, 0),
                    ('answered', 'customer', 0, 0, 0, 0, 0)])
            self.assertEqual(
                [r.oldest for r in Model.search([])], [None] * 3)

    @with_transaction()
    def test_request_count_labels(self):
        """The list shows the states and whom they wait for by their
        labels (Selection fields, not raw keys); a double click opens the
        requests of the row's state"""
        pool = Pool()
        Model = pool.get('isp.dashboard.request_count')
        Keyword = pool.get('ir.action.keyword')
        view = Model.fields_view_get(view_type='tree')
        self.assertEqual(view['fields']['state']['type'], 'selection')
        self.assertEqual(list(view['fields']['state']['selection']), [
                ('open', "Open"), ('in_progress', "In Progress"),
                ('answered', "Answered")])
        self.assertEqual(list(view['fields']['waiting_for']['selection']), [
                ('staff', "Staff"), ('customer', "Customer")])
        action, = Keyword.get_keyword(
            'tree_open', ('isp.dashboard.request_count', -1))
        self.assertEqual(action['res_model'], 'isp.request')
        from trytond.pyson import PYSONDecoder
        for row, state in [(1, 'open'), (2, 'in_progress'), (3, 'answered')]:
            domain = PYSONDecoder({'active_id': row}).decode(
                action['pyson_domain'])
            self.assertEqual(domain, [['state', '=', state]])

    @with_transaction()
    def test_first_payment_of_second_service_not_new(self):
        "A customer's second service is not a new customer; a paid bill "
        "leaves the unpaid list"
        pool = Pool()
        Service = pool.get('isp.service')
        company = self.setup_world()
        with set_company(company):
            second = create_service(
                self.alice.customer, self.plan, self.r2, login='alice2')
            Service.pay_renewal([second], 1, self.cash)
            self.unpaid.isp_pay(Decimal(15), self.cash)
            figures = self.figures()
        months = self.months()
        self.assertEqual(
            [n for _, n, _, _ in figures['customer_month']],
            [1 if m in {months[-1], months[-3], months[-6]} else 0
                for m in months])
        self.assertEqual(figures['unpaid_bill'], [])
        self.assertEqual(figures['plan_services'], [('Home 10M', 3)])

    @with_transaction()
    def test_technician_sees_own_routers(self):
        "Assigned to R2: only R2's figures; not assigned: everything"
        company = self.setup_world()
        with set_company(company):
            tech = self.technician([self.r2])
            everything = self.figures(revenue=False)
            with as_user(tech):
                mine = self.figures(revenue=False)
        self.assertEqual(mine['router_customers'], [('R2', 2, 1)])
        self.assertEqual(mine['plan_services'], [('Home 10M', 1)])
        months = self.months()
        # Bob new, Dave lost this month
        self.assertEqual(mine['customer_month'], [
                (m, 1, 1, 0) if m == months[-1] else (m, 0, 0, 0)
                for m in months])
        self.assertEqual(mine['expired_today'], [self.dave.id])
        self.assertEqual(mine['expiring_soon'], [self.bob.id])
        self.assertEqual(mine['unpaid_bill'], [])
        self.assertEqual(mine['router_problem'], [('R2', 'offline', None, 0)])
        # Bob's complaints (his service on R2), Dave's feedback (no service,
        # Dave's service on R2); not Alice's nor Carol's (R1)
        self.assertEqual(mine['request_count'], [
                ('open', 'staff', 0, 1, 1, 0, 2),
                ('in_progress', 'staff', 0, 0, 1, 0, 1),
                ('answered', 'customer', 0, 0, 0, 0, 0)])
        self.assertNotEqual(mine, everything)

    @with_transaction()
    def test_request_count_as_record_rules(self):
        """For each group restricted by router, the counts are what the
        group reads in the Requests inbox (the record rules of
        isp.request)"""
        pool = Pool()
        Request = pool.get('isp.request')
        company = self.setup_world()
        for group in ['cashier', 'accountant', 'technician', 'support',
                'viewer', 'admin']:
            with set_company(company):
                user = self.technician([self.r1], group=group)
            with self.subTest(group=group):
                with as_user(user):
                    inbox = Request.search([('state', '!=', 'closed')])
                    counts = self.figures(revenue=False)['request_count']
                self.assertEqual(sum(c[-1] for c in counts), len(inbox))
                self.assertEqual(len(inbox), 5 if group == 'admin'
                    else 2)

    @with_transaction()
    def test_revenue_of_own_routers(self):
        "A viewer assigned to R2 sees only the revenue of R2's services"
        company = self.setup_world()
        with set_company(company):
            viewer = self.technician([self.r2], group='viewer')
            with as_user(viewer):
                revenue = self.figures()['revenue_month']
        months = self.months()
        zero = Decimal(0)
        self.assertEqual(revenue, [
                (m, Decimal(20), Decimal(20), zero, zero)
                if m == months[-1] else (m, zero, zero, zero, zero)
                for m in months])

    @with_transaction()
    def test_lost_once_per_customer(self):
        """A customer is lost once, in the month their last service ended;
        not while another service is active; two services ended at the
        same time count once"""
        pool = Pool()
        Service = pool.get('isp.service')
        company = self.setup_world()
        with set_company(company):
            carol2 = create_service(self.carol.customer, self.plan, self.r1,
                login='carol2')
            bob2 = create_service(self.bob.customer, self.plan, self.r2,
                login='bob2')
            dave2 = create_service(self.dave.customer, self.plan, self.r2,
                login='dave2')
        sql_update(Service, {'state': 'expired',
                'paid_until': self.month_start(3)}, [carol2.id])
        sql_update(Service, {'state': 'cancelled',
                'paid_until': self.month_start(4)}, [bob2.id])
        table = Service.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*table.select(table.paid_until,
                where=table.id == self.dave.id))
        dave_ended, = cursor.fetchone()
        sql_update(Service, {'state': 'expired', 'paid_until': dave_ended},
            [dave2.id])
        with set_company(company):
            figures = self.figures()
            tech = self.technician([self.r2])
            with as_user(tech):
                mine = self.figures(revenue=False)
        months = self.months()
        lost = {months[-2]: 1, months[-1]: 1}    # Carol, Dave
        self.assertEqual([(m, l) for m, _, l, _ in figures['customer_month']],
            [(m, lost.get(m, 0)) for m in months])
        # on R2 only: Dave (both services), not Bob (active on R2)
        self.assertEqual([(m, l) for m, _, l, _ in mine['customer_month']],
            [(m, 1 if m == months[-1] else 0) for m in months])

    @with_transaction()
    def test_revenue_other_methods(self):
        """Payments of a month by one method are summed in its series;
        the 7th method by name and later ones are summed in "Other\""""
        pool = Pool()
        Service = pool.get('isp.service')
        Method = pool.get('account.invoice.payment.method')
        company = self.setup_world()
        with set_company(company):
            extra = [Method.copy([self.cash], default={'name': name})[0]
                for name in ['M1', 'M2', 'M3', 'M4', 'M5', 'M6']]
            # Bank Transfer, Cash, M1..M4 have a series; M5, M6 are other
            Service.pay_renewal([self.alice], 1, self.cash)
            Service.pay_renewal([self.alice], 1, extra[1])
            Service.pay_renewal([self.carol], 1, extra[4])
            Service.pay_renewal([self.dave], 1, extra[5])
            Service.pay_renewal([self.dave], 1, extra[5])
            Model = pool.get('isp.dashboard.revenue_month')
            rows = [(r.month, r.total, r.amount_1, r.amount_2, r.amount_3,
                    r.amount_4, r.amount_5, r.amount_6, r.amount_other)
                for r in Model.search([])]
        months = self.months()
        zero = Decimal(0)
        expected = {
            # Bob by bank; Alice cash and M2; Carol (40) M5, Dave twice M6
            months[-1]: (Decimal(140), Decimal(20), Decimal(20), zero,
                Decimal(20), zero, zero, Decimal(80)),
            months[-3]: (Decimal(20), zero, Decimal(20), zero, zero, zero,
                zero, zero),
            months[-6]: (Decimal(40), zero, Decimal(40), zero, zero, zero,
                zero, zero),
            }
        self.assertEqual(rows, [(m, *expected.get(m, (zero,) * 8))
                for m in months])

    @with_transaction()
    def test_admin_assigned_sees_all(self):
        "An ISP administrator sees all routers, assigned or not (as rules)"
        company = self.setup_world()
        with set_company(company):
            admin = self.technician([self.r2], group='admin')
            everything = self.figures()
            with as_user(admin):
                figures = self.figures()
        self.assertEqual(figures, everything)

    @with_transaction()
    def test_technician_without_routers_sees_all(self):
        "A technician with no router assigned sees every router"
        company = self.setup_world()
        with set_company(company):
            tech = self.technician([])
            everything = self.figures(revenue=False)
            with as_user(tech):
                figures = self.figures(revenue=False)
        self.assertEqual(figures, everything)

    @with_transaction()
    def test_labels(self):
        """Graph axes are records or dates (a Selection would show its raw
        key); the revenue series are named after the payment methods"""
        pool = Pool()
        company = self.setup_world()
        with set_company(company):
            for name in DASHBOARD:
                Model = pool.get('isp.dashboard.' + name)
                view = Model.fields_view_get(view_type='graph') \
                    if name in DASHBOARD[:4] else None
                if view is None:
                    continue
                from lxml import etree
                tree = etree.fromstring(view['arch'])
                x, = tree.xpath('//x/field')
                self.assertIn(view['fields'][x.get('name')]['type'],
                    {'many2one', 'date'}, name)
            Revenue = pool.get('isp.dashboard.revenue_month')
            view = Revenue.fields_view_get(view_type='graph')
            from lxml import etree
            series = [(f.get('name'), f.get('string'))
                for f in etree.fromstring(view['arch']).xpath('//y/field')]
        self.assertEqual(series, [
                ('amount_1', 'Bank Transfer'), ('amount_2', 'Cash'),
                ('amount_other', None)])

    @with_transaction()
    def test_empty_database(self):
        "No service at all: 12 months of zeros, empty lists, no error"
        company = self.setup_accounting()
        with set_company(company):
            figures = self.figures()
        self.assertEqual([(n, l, c) for _, n, l, c in
                figures['customer_month']], [(0, 0, 0)] * 12)
        self.assertEqual(len(figures['revenue_month']), 12)
        self.assertTrue(all(t == 0 for _, t, _, _, _ in
                figures['revenue_month']))
        for name in ['expired_today', 'expiring_soon', 'unpaid_bill']:
            self.assertEqual(figures[name], [], name)
        self.assertEqual(figures['plan_services'], [])

    @with_transaction()
    def test_read_only(self):
        "Nobody writes, creates or deletes dashboard rows"
        pool = Pool()
        company = self.setup_world()
        with set_company(company):
            admin = create_staff('boss', 'group_isp_admin')
            pool.get('res.user').write([admin], {
                    'companies': [('add', [company.id])],
                    'company': company.id})
            admin = pool.get('res.user')(admin.id)
            Model = pool.get('isp.dashboard.router_customers')
            with as_user(admin):
                record, = [r for r in Model.search([])
                    if r.router == self.r1]
                refused = (AccessError, NotImplementedError)
                with self.assertRaises(refused):
                    Model.write([record], {'customers': 5})
                with self.assertRaises(refused):
                    Model.delete([record])
                with self.assertRaises(refused):
                    Model.create([{'customers': 1}])
            self.assertEqual(Model(record.id).customers, 2)

    @with_transaction()
    def test_rights_per_group(self):
        """Every ISP group reads the lists and customer charts; only
        administrators, accountants and viewers read the revenue"""
        pool = Pool()
        User = pool.get('res.user')
        company = self.setup_world()
        revenue_readers = {'admin', 'accountant', 'viewer'}
        for group in ['admin', 'cashier', 'accountant', 'technician',
                'support', 'viewer']:
            with set_company(company):
                user = create_staff('u_' + group, 'group_isp_' + group)
                User.write([user], {'companies': [('add', [company.id])],
                        'company': company.id})
                user = User(user.id)
            for name in DASHBOARD:
                Model = pool.get('isp.dashboard.' + name)
                allowed = name != 'revenue_month' or group in revenue_readers
                with self.subTest(group=group, model=name):
                    with as_user(user):
                        try:
                            Model.search([], limit=1)
                            Model.read([r.id for r in Model.search([])],
                                [f for f in Model._fields
                                    if f not in {'rec_name'}][:3])
                            done = True
                        except AccessError:
                            done = False
                    self.assertEqual(done, allowed)

    @with_transaction()
    def test_request_count_refused_without_request_rights(self):
        """A user who may not read customer requests (no ISP group, e.g.
        Tryton's accounting group only) is refused their counts too"""
        pool = Pool()
        User = pool.get('res.user')
        ModelData = pool.get('ir.model.data')
        Request = pool.get('isp.request')
        Model = pool.get('isp.dashboard.request_count')
        company = self.setup_world()
        user, = User.create([{'name': 'bookkeeper', 'login': 'bookkeeper',
                    'groups': [('add', [
                                ModelData.get_id('account', 'group_account')])],
                    'companies': [('add', [company.id])],
                    'company': company.id}])
        with as_user(user):
            with self.assertRaises(AccessError):
                Request.search([])
            with self.assertRaises(AccessError):
                Model.search([])
            with self.assertRaises(AccessError):
                Model.read([1], ['total'])


class DashboardHomeActionTestCase(AccountingMixin, IspTestCase):
    """The dashboard as the home action, in a database of its own: reading
    preferences generates the users' avatars in a transaction of their own,
    which on SQLite's :memory: test database commits the test's records"""

    @with_transaction()
    def test_home_action(self):
        """ISP staff open their dashboard at login (the one with revenue for
        its readers); a user's own login action wins; others get none"""
        pool = Pool()
        User = pool.get('res.user')
        ModelData = pool.get('ir.model.data')
        Action = pool.get('ir.action')

        def action(xml_id):
            return Action.get_action_id(
                ModelData.get_id('isp_billing', xml_id))
        company = self.setup_accounting()
        with set_company(company):
            expected = {'admin': 'act_dashboard',
                'accountant': 'act_dashboard', 'viewer': 'act_dashboard',
                'cashier': 'act_dashboard_staff',
                'technician': 'act_dashboard_staff',
                'support': 'act_dashboard_staff'}
            for group, xml_id in expected.items():
                user = create_staff('h_' + group, 'group_isp_' + group)
                with Transaction().set_user(user.id):
                    prefs = User.get_preferences()
                self.assertEqual(prefs['actions'], [action(xml_id)], group)
            plain, = User.create([{'name': 'plain', 'login': 'plain'}])
            with Transaction().set_user(plain.id):
                self.assertEqual(User.get_preferences()['actions'], [])
            own = create_staff('own', 'group_isp_cashier')
            usage = action('act_usage')
            User.write([own], {'actions': [('add', [usage])]})
            with Transaction().set_user(own.id):
                self.assertEqual(
                    User.get_preferences()['actions'], [usage])
