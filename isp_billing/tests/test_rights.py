"""Staff rights, enforced on the server: the rights matrix (TABLE is the
specification, also in README.md "Staff rights"), paid time only through the
ledger, append-only history, per-router visibility and the correction of
paid time.

Every check runs as a staff user with access checks on, as an RPC call does:
Transaction().set_user(uid) + check_access() + the company context."""
import datetime as dt
import itertools
from contextlib import contextmanager

from aiosmtpd.controller import Controller

from trytond import config
from trytond.exceptions import UserError
from trytond.model import ModelSQL
from trytond.model.exceptions import AccessError
from trytond.model.modelview import AccessButtonError
from trytond.modules.company.tests import set_company
from trytond.pool import Pool
from trytond.tests.test_tryton import with_transaction
from trytond.transaction import Transaction, check_access

from ..exceptions import ServiceStateError
from .test_module import (
    create_customer, create_plan, create_router, create_service,
    create_staff)
from ..times import utcnow
from .server_tools import free_port
from .test_payment import AccountingMixin
from .test_portal import Sink
from .tools import IspTestCase

GROUPS = ['admin', 'cashier', 'accountant', 'technician', 'support', 'viewer']

#: what each group may do on each model: r(ead) w(rite) c(reate) d(elete).
#: Anything not listed is refused with an AccessError. Writes of paid time,
#: state, plan and router are refused to everybody (test_ledger_*), the
#: rows below use harmless fields (a draft service's MAC address).
TABLE = {
    #                        admin   cashier accountant technician support viewer
    'isp.router':            ('rwcd', 'r',   'r',       'rw',      'r',    'r'),
    'isp.router-res.user':   ('rwcd', 'r',   'r',       'r',       'r',    'r'),
    'isp.service':           ('rwcd', 'rw',  'r',       'rwc',     'rw',   'r'),
    'isp.service.payment':   ('r',    'r',   'r',       'r',       'r',    'r'),
    'isp.service.extension': ('r',    'r',   'r',       'r',       'r',    'r'),
    'isp.usage':             ('r',    'r',   'r',       'r',       'r',    'r'),
    'isp.usage.counter':     ('r',    'r',   'r',       'r',       'r',    'r'),
    'isp.router.status':     ('r',    'r',   'r',       'r',       'r',    'r'),
    # a singleton: "create" writes its one record
    'isp.configuration':     ('rwc',  'r',   'r',       'r',       'r',    'r'),
    'product.template':      ('rwcd', 'r',   'r',       'r',       'r',    'r'),
    'product.product':       ('rwcd', 'r',   'r',       'r',       'r',    'r'),
    'party.party':           ('rwcd', 'rwc', 'r',       'r',       'rw',   'r'),
    'account.invoice':       ('r',    'r',   'r',       'r',       'r',    'r'),
    # messages: administrators and support send; deliveries are a log
    'isp.message':           ('rwcd', 'r',   'r',       'r',       'rwc',  'r'),
    'isp.message.delivery':  ('r',    'r',   'r',       'r',       'r',    'r'),
    'isp.banner':            ('rwcd', 'r',   'r',       'r',       'r',    'r'),
    'isp.request':           ('rwcd', 'rwc', 'r',       'rw',      'rwc',  'r'),
    # replies are a record: written once (staff replies only), never changed
    'isp.request.reply':     ('rc',   'rc',  'r',       'rc',      'rc',   'r'),
    # the dashboard (SQL models, read-only; figures of the user's routers)
    'isp.dashboard.router_customers': ('r', 'r', 'r', 'r', 'r', 'r'),
    'isp.dashboard.customer_month':   ('r', 'r', 'r', 'r', 'r', 'r'),
    'isp.dashboard.plan_services':    ('r', 'r', 'r', 'r', 'r', 'r'),
    'isp.dashboard.revenue_month':    ('r', '',  'r', '',  '',  'r'),
    'isp.dashboard.expired_today':    ('r', 'r', 'r', 'r', 'r', 'r'),
    'isp.dashboard.expiring_soon':    ('r', 'r', 'r', 'r', 'r', 'r'),
    'isp.dashboard.unpaid_bill':      ('r', 'r', 'r', 'r', 'r', 'r'),
    'isp.dashboard.router_problem':   ('r', 'r', 'r', 'r', 'r', 'r'),
    'isp.dashboard.request_count':    ('r', 'r', 'r', 'r', 'r', 'r'),
    }

#: who may read the passwords (field access)
PASSWORD_READERS = {
    'isp.router': {'admin', 'technician'},
    'isp.service': {'admin', 'cashier', 'technician'},
    }


class RightsTestCase(AccountingMixin, IspTestCase):
    "Staff rights per group, on the server"
    committed_accounting = True

    # --- fixtures (as root) ---

    def setup_world(self):
        """Two routers R1 and R2, each with a paid service (payment,
        invoice, extension, usage, counter, status), and a draft on R1"""
        pool = Pool()
        Service = pool.get('isp.service')
        Usage = pool.get('isp.usage')
        Counter = pool.get('isp.usage.counter')
        Status = pool.get('isp.router.status')
        company = self.setup_accounting()
        self.unique = itertools.count(1)
        with set_company(company):
            self.r1 = self.router
            self.r2 = create_router('R2', port=8729)
            self.bob = create_customer('Bob')
            self.bob.addresses = [{}]
            self.bob.save()
            self.s1 = self.service
            self.s2 = create_service(self.bob, self.plan, self.r2, login='bob')
            self.inv1 = Service.pay_renewal([self.s1], 1, self.cash)
            self.inv2 = Service.pay_renewal([self.s2], 1, self.cash)
            Service.extend([self.s1, self.s2], 3, 'reward', note='welcome')
            self.draft = create_service(
                self.customer, self.plan, self.r1, login='draft1')
            month = dt.date.today().replace(day=1)
            Usage.create([{'service': s.id, 'month': month,
                        'bytes_in': 10, 'bytes_out': 20}
                    for s in [self.s1, self.s2]])
            Counter.create([{'service': s.id, 'key': 'k'}
                    for s in [self.s1, self.s2]])
            Status.create([{'router': r.id, 'timestamp': utcnow(),
                        'online': True} for r in [self.r1, self.r2]])
            self.fibre = create_plan('Fibre 50M', price=40)
            # the configuration record (ModelSingleton.create locks the
            # table, which a test transaction cannot)
            Configuration = pool.get('isp.configuration')
            ModelSQL.create.__func__(Configuration, [{}])
            Request = pool.get('isp.request')
            self.request = Request.submit(
                self.customer, 'inquiry', 'Speed?', 'How fast is it?',
                service=self.s1)
            self.reply = self.request.customer_reply('Still waiting.')
        self.s1, self.s2 = Service(self.s1.id), Service(self.s2.id)
        return company

    def staff(self, group, routers=()):
        pool = Pool()
        User = pool.get('res.user')
        Router = pool.get('isp.router')
        login = 'staff_%s_%s' % (group, next(self.unique))
        user = create_staff(login, 'group_isp_' + group)
        User.write([user], {'companies': [('add', [self.company.id])],
                'company': self.company.id})
        for router in routers:
            Router.write([router], {'users': [('add', [user.id])]})
        return user

    @contextmanager
    def as_user(self, user):
        with Transaction().set_user(user.id), \
                Transaction().set_context(company=self.company.id,
                    companies=[self.company.id]), \
                check_access():
            yield

    def counts(self):
        pool = Pool()
        return {m: pool.get(m).search([], count=True) for m in [
                'isp.service.payment', 'isp.service.extension',
                'account.invoice']}

    # --- the matrix: one (record, values) per model and operation ---

    def fresh(self, model):
        "A record to delete, created as root"
        pool = Pool()
        n = next(self.unique)
        with set_company(self.company):
            if model == 'isp.router':
                return create_router('Del%d' % n, port=10000 + n)
            if model == 'isp.router-res.user':
                user = create_staff('rel%d' % n, 'group_isp_viewer')
                return pool.get(model).create(
                    [{'router': self.r2.id, 'user': user.id}])[0]
            if model == 'isp.service':
                return create_service(
                    self.customer, self.plan, self.r1, login='del%d' % n)
            if model == 'isp.usage':
                return pool.get(model).create([{'service': self.s1.id,
                            'month': dt.date(1990 + n, 1, 1)}])[0]
            if model == 'isp.usage.counter':
                service = create_service(
                    self.customer, self.plan, self.r1, login='cnt%d' % n)
                return pool.get(model).create([{'service': service.id}])[0]
            if model == 'isp.router.status':
                return pool.get(model).create([{'router': self.r1.id,
                            'timestamp': utcnow()}])[0]
            if model == 'product.template':
                return create_plan('Del plan %d' % n)
            if model == 'product.product':
                return create_plan('Del plan %d' % n).products[0]
            if model == 'party.party':
                return create_customer('Del %d' % n)
            if model == 'isp.message':
                return self.draft_message()
            if model == 'isp.message.delivery':
                return pool.get(model).create([{
                            'message': self.draft_message().id,
                            'party': self.customer.id,
                            'channel': 'portal'}])[0]
            if model == 'isp.banner':
                return pool.get(model).create(
                    [{'name': 'Banner %d' % n, 'text': 'Hello'}])[0]
            if model == 'isp.request':
                return pool.get(model).submit(
                    self.customer, 'request', 'Del %d' % n, 'text')
        return self.existing(model)

    def draft_message(self):
        return Pool().get('isp.message').create([{'subject': 'Hello',
                    'body': 'Hi', 'target': 'all'}])[0]

    def existing(self, model):
        pool = Pool()
        if model.startswith('isp.dashboard.'):
            # SQL rows: read by a search (attempt), written by id
            return pool.get(model)(1)
        return {
            'isp.router': self.r1,
            'isp.router-res.user': None,
            'isp.service': self.draft,
            'isp.service.payment': self.s1.payments[0],
            'isp.service.extension': self.s1.extensions[0],
            'isp.usage': pool.get('isp.usage').search(
                [('service', '=', self.s1.id)])[0],
            'isp.usage.counter': pool.get('isp.usage.counter').search(
                [('service', '=', self.s1.id)])[0],
            'isp.router.status': pool.get('isp.router.status').search(
                [('router', '=', self.r1.id)])[0],
            'isp.configuration': pool.get('isp.configuration')(1),
            'product.template': self.plan,
            'product.product': self.plan.products[0],
            'party.party': self.customer,
            'account.invoice': self.inv1,
            'isp.message': None,
            'isp.message.delivery': None,
            'isp.banner': None,
            'isp.request': self.request,
            'isp.request.reply': self.reply,
            }[model] or self.fresh(model)

    def write_values(self, model):
        if model.startswith('isp.dashboard.'):
            return {}
        return {
            'isp.router': {'routeros_version': '7.18'},
            'isp.router-res.user': {'router': self.r2.id},
            'isp.service': {'mac_address': '00:11:22:33:44:55'},
            'isp.service.payment': {'reference': 'edited'},
            'isp.service.extension': {'note': 'edited'},
            'isp.usage': {'bytes_in': 999},
            'isp.usage.counter': {'key': 'edited'},
            'isp.router.status': {'cpu_load': 99},
            'isp.configuration': {'suspension_consumes_time': True},
            'product.template': {'name': 'Renamed plan'},
            'product.product': {'suffix_code': 'X'},
            'party.party': {'name': 'Renamed customer'},
            'account.invoice': {'description': 'edited'},
            'isp.message': {'subject': 'edited'},
            'isp.message.delivery': {'error': 'edited'},
            'isp.banner': {'text': 'edited'},
            'isp.request': {'assigned_to': None},
            'isp.request.reply': {'text': 'edited'},
            }[model]

    def create_values(self, model):
        "Valid values: a refusal must come from the rights, not validation"
        pool = Pool()
        n = next(self.unique)
        if model.startswith('isp.dashboard.'):
            return {}
        if model == 'isp.service.payment':
            return {'service': self.s1.id, 'customer': self.customer.id,
                'company': self.company.id, 'date': utcnow(),
                'invoice': self.inv1.id, 'amount': 1,
                'currency': self.company.currency.id}
        if model == 'isp.service.extension':
            return {'service': self.s1.id, 'customer': self.customer.id,
                'company': self.company.id, 'date': utcnow(), 'days': 30,
                'reason': 'other'}
        if model == 'product.template':
            unit, = pool.get('product.uom').search([('name', '=', 'Unit')])
            return {'name': 'New plan %d' % n, 'type': 'service',
                'default_uom': unit.id, 'list_price': 5, 'isp_plan': True,
                'plan_kind': 'hotspot', 'download_rate': 1000,
                'upload_rate': 1000, 'plan_duration': 1,
                'plan_duration_unit': 'month'}
        with set_company(self.company):
            service = create_service(
                self.customer, self.plan, self.r1, login='new%d' % n)
        return {
            'isp.router': {'name': 'New%d' % n, 'host': '127.0.0.1',
                'port': 20000 + n, 'username': 'admin'},
            'isp.router-res.user': {'router': self.r1.id,
                'user': self.existing_user.id},
            'isp.service': {'customer': self.customer.id,
                'plan': self.plan.products[0].id, 'router': self.r1.id,
                'kind': 'hotspot', 'login': 'c%d' % n,
                'password': 'Pass-123', 'company': self.company.id},
            'isp.usage': {'service': self.s1.id,
                'month': dt.date(1900 + n, 1, 1)},
            'isp.usage.counter': {'service': service.id},
            'isp.router.status': {'router': self.r1.id,
                'timestamp': utcnow()},
            'isp.configuration': {},
            'product.product': {'template': self.plan.id},
            'party.party': {'name': 'New customer %d' % n,
                'isp_customer': True, 'isp_customer_type': 'individual'},
            'account.invoice': {'party': self.customer.id, 'type': 'out',
                'company': self.company.id},
            'isp.message': {'subject': 'New %d' % n, 'body': 'Hi',
                'target': 'all'},
            'isp.message.delivery': {'message': self.draft_message().id,
                'party': self.customer.id, 'channel': 'portal'},
            'isp.banner': {'name': 'New %d' % n, 'text': 'Hello'},
            'isp.request': {'customer': self.customer.id,
                'kind': 'inquiry', 'subject': 'New %d' % n, 'text': 'x'},
            'isp.request.reply': {'request': self.request.id, 'text': 'ok'},
            }[model]

    def attempt(self, user, operation, model):
        "Run one operation as user; True if done, False if refused"
        Model = Pool().get(model)
        if operation == 'r':
            record = self.existing(model)
        elif operation == 'w':
            record, values = self.existing(model), self.write_values(model)
        elif operation == 'c':
            values = self.create_values(model)
        else:
            record = self.fresh(model)
        with self.as_user(user):
            try:
                if operation == 'r' and Model._is_table_query():
                    Model.read([r.id for r in Model.search([])], ['id'])
                elif operation == 'r':
                    Model.read([record.id], ['id'])
                elif operation == 'w':
                    Model.write([Model(record.id)], values)
                elif operation == 'c':
                    Model.create([values])
                else:
                    Model.delete([Model(record.id)])
            except AccessError:
                return False
            except NotImplementedError:
                # table_query (dashboard) models: nothing to write
                if not Model._is_table_query():
                    raise
                return False
        return True

    @with_transaction()
    def test_rights_matrix(self):
        "Each group reads, writes, creates and deletes exactly as TABLE says"
        self.setup_world()
        self.existing_user = create_staff('assigned', 'group_isp_viewer')
        for i, group in enumerate(GROUPS):
            user = self.staff(group)
            for model, rights in TABLE.items():
                allowed = rights[i]
                for operation in 'rwcd':
                    with self.subTest(group=group, model=model,
                            operation=operation):
                        self.assertEqual(
                            self.attempt(user, operation, model),
                            operation in allowed)

    @with_transaction()
    def test_passwords_readable_by_few(self):
        "Router API and service passwords: only the groups that need them"
        pool = Pool()
        self.setup_world()
        for group in GROUPS:
            user = self.staff(group)
            for model, record in [('isp.router', self.r1),
                    ('isp.service', self.s1)]:
                Model = pool.get(model)
                with self.subTest(group=group, model=model), \
                        self.as_user(user):
                    if group in PASSWORD_READERS[model]:
                        value, = Model.read([record.id], ['password'])
                        self.assertTrue(value['password'])
                    else:
                        with self.assertRaises(AccessError):
                            Model.read([record.id], ['password'])
                        # the form does not even carry the field
                        view = Model.fields_view_get(view_type='form')
                        self.assertNotIn('password', view['fields'])

    # --- point 1: paid time only through the ledger ---

    @with_transaction()
    def test_ledger_fields_refused(self):
        "Cashier, support, technician cannot give themselves paid time"
        pool = Pool()
        Service = pool.get('isp.service')
        self.setup_world()
        Service.expire([self.s2])
        other = self.fibre.products[0]
        attempts = [
            {'state': 'active', 'paid_until': utcnow() + dt.timedelta(days=30)},
            {'state': 'active'},
            {'paid_until': utcnow() + dt.timedelta(days=30)},
            {'suspended_at': utcnow() - dt.timedelta(days=300)},
            {'next_plan': other.id},
            {'plan': other.id},
            {'router': self.r1.id},
            {'customer': self.customer.id},
            ]
        for group in ['cashier', 'support', 'technician', 'admin']:
            user = self.staff(group)
            for values in attempts:
                for service in [self.s1, self.s2]:
                    before = Service.read([service.id], list(
                            {'state', 'paid_until', 'suspended_at',
                                'next_plan', 'plan', 'router', 'customer'}))
                    counts = self.counts()
                    with self.subTest(group=group, values=values,
                            service=service.login), self.as_user(user):
                        with self.assertRaises(AccessError):
                            Service.write([Service(service.id)], values)
                    self.assertEqual(Service.read([service.id], list(
                                before[0].keys() - {'id'}) + ['id']),
                        before)
                    self.assertEqual(self.counts(), counts)
        self.assertEqual(Service(self.s2.id).state, 'expired')

    @with_transaction()
    def test_credited_by_refused(self):
        """Nobody on the ISP staff marks a bill line as credited (which
        would stop a credit note from taking the time back): the write of
        isp_credited_by is refused, the line unchanged"""
        pool = Pool()
        Line = pool.get('account.invoice.line')
        self.setup_world()
        line = self.inv1.lines[0]
        other = self.inv2.lines[0]
        for group in GROUPS:
            user = self.staff(group)
            with self.subTest(group=group), self.as_user(user):
                with self.assertRaises(AccessError):
                    Line.write([Line(line.id)],
                        {'isp_credited_by': other.id})
            self.assertIsNone(Line(line.id).isp_credited_by)

    @with_transaction()
    def test_create_only_drafts(self):
        "Staff create draft services only, without paid time"
        pool = Pool()
        Service = pool.get('isp.service')
        self.setup_world()
        values = {'customer': self.customer.id,
            'plan': self.plan.products[0].id, 'router': self.r1.id,
            'kind': 'hotspot', 'password': 'Pass-123',
            'company': self.company.id}
        for group in ['technician', 'admin']:
            user = self.staff(group)
            for n, extra in enumerate([{'state': 'active'},
                        {'paid_until': utcnow() + dt.timedelta(days=30)},
                        {'next_plan': self.fibre.products[0].id}]):
                with self.subTest(group=group, extra=extra), \
                        self.as_user(user):
                    with self.assertRaises(AccessError):
                        Service.create([dict(values, login='x%s%d' % (
                                        group, n), **extra)])
            with self.as_user(user):
                service, = Service.create([dict(values, login='ok' + group)])
                self.assertEqual(service.state, 'draft')

    @with_transaction()
    def test_login_password_after_draft(self):
        "Only administrators and technicians change a started service's account"
        pool = Pool()
        Service = pool.get('isp.service')
        self.setup_world()
        for group in ['cashier', 'support', 'accountant', 'viewer']:
            user = self.staff(group)
            for values in [{'login': 'newlogin'}, {'password': 'New-pass-1'}]:
                with self.subTest(group=group, values=values), \
                        self.as_user(user):
                    with self.assertRaises(AccessError):
                        Service.write([Service(self.s1.id)], values)
        self.assertEqual(Service(self.s1.id).login, 'alice')
        self.assertEqual(Service(self.s1.id).password, 'Pass-123')
        for n, group in enumerate(['technician', 'admin']):
            user = self.staff(group)
            with self.as_user(user):
                Service.write([Service(self.s1.id)],
                    {'password': 'New-pass-%d' % n})
            service = Service(self.s1.id)
            self.assertEqual(service.password, 'New-pass-%d' % n)
            # reaches the router through the sync hooks
            self.assertEqual(service.sync_status, 'pending')
        # a draft's account is set up freely by those who write services
        user = self.staff('cashier')
        with self.as_user(user):
            Service.write([Service(self.draft.id)], {'login': 'draft2'})
        self.assertEqual(Service(self.draft.id).login, 'draft2')

    @with_transaction()
    def test_activate_needs_paid_time(self):
        "The Activate button gives no free internet"
        pool = Pool()
        Service = pool.get('isp.service')
        self.setup_world()
        Service.expire([self.s2])
        # expired with its paid time over
        Service.write([self.s2], {'paid_until': utcnow() - dt.timedelta(days=1)})
        for group in ['admin', 'technician']:
            user = self.staff(group)
            for service in [self.draft, self.s2]:
                with self.subTest(group=group, service=service.login), \
                        self.as_user(user):
                    with self.assertRaises(ServiceStateError):
                        Service.activate([Service(service.id)])
        self.assertEqual(Service(self.draft.id).state, 'draft')
        self.assertEqual(Service(self.s2.id).state, 'expired')
        # with paid time left (e.g. after a correction) it works, for the
        # groups of the button only
        Service.write([self.s2], {'paid_until': utcnow() + dt.timedelta(days=1)})
        for group in ['cashier', 'support', 'viewer']:
            user = self.staff(group)
            with self.as_user(user):
                with self.assertRaises(AccessButtonError):
                    Service.activate([Service(self.s2.id)])
        self.assertEqual(Service(self.s2.id).state, 'expired')
        with self.as_user(self.staff('technician')):
            Service.activate([Service(self.s2.id)])
        self.assertEqual(Service(self.s2.id).state, 'active')

    @with_transaction()
    def test_workflow_buttons_still_work(self):
        "Suspend and resume write state and suspended_at for their groups"
        pool = Pool()
        Service = pool.get('isp.service')
        self.setup_world()
        user = self.staff('support')
        with self.as_user(user):
            Service.suspend([Service(self.s1.id)])
            service = Service(self.s1.id)
            self.assertEqual(service.state, 'suspended')
            self.assertIsNotNone(service.suspended_at)
            Service.resume([Service(self.s1.id)])
            self.assertEqual(Service(self.s1.id).state, 'active')
            with self.assertRaises(AccessButtonError):
                Service.cancel([Service(self.s1.id)])
        with self.as_user(self.staff('admin')):
            Service.cancel([Service(self.s1.id)])
        self.assertEqual(Service(self.s1.id).state, 'cancelled')

    # --- history is append-only ---

    @with_transaction()
    def test_history_append_only(self):
        "No staff creates, changes or deletes payments and extensions"
        pool = Pool()
        Payment = pool.get('isp.service.payment')
        Extension = pool.get('isp.service.extension')
        self.setup_world()
        self.existing_user = create_staff('assigned', 'group_isp_viewer')
        admin = self.staff('admin')
        for Model in [Payment, Extension]:
            record = self.existing(Model.__name__)
            counts = self.counts()
            with self.subTest(model=Model.__name__), self.as_user(admin):
                with self.assertRaises(AccessError):
                    Model.create([self.create_values(Model.__name__)])
                with self.assertRaises(AccessError):
                    Model.write([Model(record.id)],
                        self.write_values(Model.__name__))
                with self.assertRaises(AccessError):
                    Model.delete([Model(record.id)])
            self.assertEqual(self.counts(), counts)
            # not even internal code deletes them
            with self.assertRaises(AccessError):
                Model.delete([record])
        # internal creation by the ledger still works
        Service = pool.get('isp.service')
        with set_company(self.company):
            extensions = Service.extend([self.s1], 1, 'trial')
        self.assertEqual(len(extensions), 1)
        self.assertEqual(extensions[0].id is not None, True)

    # --- per router ---

    @with_transaction()
    def test_technician_sees_own_router_only(self):
        "A technician of R1 sees nothing of R2 anywhere"
        pool = Pool()
        self.setup_world()
        user = self.staff('technician', routers=[self.r1])
        Usage = pool.get('isp.usage')
        Counter = pool.get('isp.usage.counter')
        Status = pool.get('isp.router.status')
        r1_records = {
            'isp.router': [self.r1],
            'isp.service': [self.s1, self.draft],
            'party.party': [self.customer],
            'isp.service.payment': list(self.s1.payments),
            'isp.service.extension': list(self.s1.extensions),
            'isp.usage': Usage.search([('service', '=', self.s1.id)]),
            'isp.usage.counter': Counter.search(
                [('service', '=', self.s1.id)]),
            'isp.router.status': Status.search([('router', '=', self.r1.id)]),
            'account.invoice': [self.inv1],
            'account.invoice.line': list(self.inv1.lines),
            }
        r2_records = {
            'isp.router': [self.r2],
            'isp.service': [self.s2],
            'party.party': [self.bob],
            'isp.service.payment': list(self.s2.payments),
            'isp.service.extension': list(self.s2.extensions),
            'isp.usage': Usage.search([('service', '=', self.s2.id)]),
            'isp.usage.counter': Counter.search(
                [('service', '=', self.s2.id)]),
            'isp.router.status': Status.search([('router', '=', self.r2.id)]),
            'account.invoice': [self.inv2],
            'account.invoice.line': list(self.inv2.lines),
            }
        for model, records in r2_records.items():
            Model = pool.get(model)
            domain = [('isp_customer', '=', True)] if model == 'party.party' \
                else []
            with self.subTest(model=model), self.as_user(user):
                self.assertTrue(records)
                self.assertEqual(
                    sorted(r.id for r in Model.search(domain)),
                    sorted(r.id for r in r1_records[model]))
                for record in records:
                    with self.assertRaises(AccessError):
                        Model.read([record.id], ['id'])
        # the customer's payment list (issue #8 point 3): rows of R1 only
        Party = pool.get('party.party')
        with self.as_user(user):
            customer, = Party.read([self.customer.id], ['isp_payments'])
            payments = pool.get('isp.service.payment').read(
                customer['isp_payments'], ['rec_name', 'amount'])
            self.assertEqual(len(payments), 1)

    @with_transaction()
    def test_staff_assignments(self):
        """Only administrators assign staff to routers: nobody else assigns
        themselves (or anyone) over RPC, through the relation or the
        router's Assigned Staff; a staff user with routers reads only the
        assignments of those routers"""
        pool = Pool()
        Router = pool.get('isp.router')
        RouterUser = pool.get('isp.router-res.user')
        self.setup_world()
        colleague = self.staff('viewer', routers=[self.r2])
        assignment, = RouterUser.search([('user', '=', colleague.id)])

        def assignments():
            return sorted((a.router.id, a.user.id)
                for a in RouterUser.search([]))

        for group in ['technician', 'cashier', 'accountant', 'support',
                'viewer']:
            for routers in [[self.r1], []]:
                user = self.staff(group, routers=routers)
                before = assignments()
                with self.subTest(group=group, routers=len(routers)), \
                        self.as_user(user):
                    for router in [self.r1, self.r2]:
                        with self.assertRaises(AccessError):
                            RouterUser.create([{
                                        'router': router.id,
                                        'user': user.id}])
                        with self.assertRaises(AccessError):
                            Router.write([Router(router.id)], {
                                    'users': [('add', [user.id])]})
                    with self.assertRaises(AccessError):
                        Router.write([Router(self.r1.id)], {
                                'users': [('remove', [user.id])]})
                    with self.assertRaises(AccessError):
                        RouterUser.write([RouterUser(assignment.id)],
                            {'user': user.id})
                    with self.assertRaises(AccessError):
                        RouterUser.delete([RouterUser(assignment.id)])
                self.assertEqual(assignments(), before)

        # reading: the assignments of one's own routers only
        technician = self.staff('technician', routers=[self.r1])
        with self.as_user(technician):
            self.assertEqual(
                {a.router.id for a in RouterUser.search([])}, {self.r1.id})
            with self.assertRaises(AccessError):
                RouterUser.read([assignment.id], ['user'])
            router, = Router.read([self.r1.id], ['users'])
            self.assertIn(technician.id, router['users'])
        readers = [self.staff('viewer'), self.staff('admin'),
            self.staff('admin', routers=[self.r1])]
        everybody = assignments()
        for user in readers:
            with self.as_user(user):
                self.assertEqual(assignments(), everybody)

        # an administrator assigns and unassigns, also on the router form
        admin = self.staff('admin')
        with self.as_user(admin):
            Router.write([Router(self.r2.id)], {
                    'users': [('add', [technician.id])]})
            RouterUser.delete(RouterUser.search([
                        ('router', '=', self.r1.id),
                        ('user', '=', technician.id)]))
        self.assertEqual(
            [a.router.id for a in RouterUser.search(
                    [('user', '=', technician.id)])], [self.r2.id])
        # and the technician now sees R2, not R1
        with self.as_user(technician):
            self.assertEqual(
                [r.id for r in Router.search([])], [self.r2.id])

    # --- usage and status can be opened ---

    @with_transaction()
    def test_usage_and_status_open(self):
        "Every staff group opens Usage and Router Status from the menu"
        pool = Pool()
        Menu = pool.get('ir.ui.menu')
        ModelData = pool.get('ir.model.data')
        Usage = pool.get('isp.usage')
        Status = pool.get('isp.router.status')
        self.setup_world()
        menus = [ModelData.get_id('isp_billing', m)
            for m in ['menu_usage', 'menu_router_status']]
        for group in GROUPS:
            user = self.staff(group)
            with self.subTest(group=group), self.as_user(user):
                self.assertEqual(
                    sorted(m.id for m in Menu.search([('id', 'in', menus)])),
                    sorted(menus))
                usage = Usage.search_read([], fields_names=[
                        'service', 'month', 'upload_mb', 'download_mb'])
                self.assertEqual(len(usage), 2)
                self.assertEqual(len(Status.search([])), 2)
                Usage.fields_view_get(view_type='tree')
                Usage.fields_view_get(view_type='graph')

    # --- correction of paid time ---

    @with_transaction()
    def test_correction(self):
        "An administrator corrects paid time, recorded; nobody else may"
        pool = Pool()
        Service = pool.get('isp.service')
        Extension = pool.get('isp.service.extension')
        self.setup_world()
        admin = self.staff('admin')
        before = Service(self.s1.id).paid_until
        with self.as_user(admin):
            extension, = Service.correct_paid_time(
                [Service(self.s1.id)], -5, 'Typed 35 days instead of 30')
        service = Service(self.s1.id)
        self.assertEqual(service.paid_until, before - dt.timedelta(days=5))
        self.assertEqual(service.state, 'active')
        extension = Extension(extension.id)
        self.assertEqual(extension.reason, 'correction')
        self.assertEqual(extension.days, -5)
        self.assertEqual(extension.user, admin)
        self.assertEqual(extension.paid_until_before, before)
        self.assertEqual(extension.paid_until_after, service.paid_until)
        self.assertEqual(extension.note, 'Typed 35 days instead of 30')
        self.assertEqual(service.sync_status, 'pending')

        # into the past: the service expires
        with self.as_user(admin):
            Service.correct_paid_time([Service(self.s1.id)], -60, 'Refund')
        self.assertEqual(Service(self.s1.id).state, 'expired')
        # and back: active again
        with self.as_user(admin):
            Service.correct_paid_time([Service(self.s1.id)], 90, 'Mistake')
        self.assertEqual(Service(self.s1.id).state, 'active')

        # bad input: nothing written
        paid_until = Service(self.s1.id).paid_until
        count = Extension.search([], count=True)
        with self.as_user(admin):
            for days, note in [(3, ''), (3, '   '), (3, None), (0, 'x')]:
                with self.subTest(days=days, note=note):
                    with self.assertRaises(UserError):
                        Service.correct_paid_time(
                            [Service(self.s1.id)], days, note)
            with self.assertRaises(UserError):
                # a draft has no paid time to shorten
                Service.correct_paid_time(
                    [Service(self.draft.id)], -1, 'x')
        for group in ['cashier', 'accountant', 'technician', 'support',
                'viewer']:
            user = self.staff(group)
            with self.subTest(group=group), self.as_user(user):
                with self.assertRaises(AccessError):
                    Service.correct_paid_time(
                        [Service(self.s1.id)], 30, 'free month')
        self.assertEqual(Service(self.s1.id).paid_until, paid_until)
        self.assertEqual(Extension.search([], count=True), count)

    @with_transaction()
    def test_correction_wizard(self):
        "The Correct Paid Time wizard calls the method; admins only"
        pool = Pool()
        Service = pool.get('isp.service')
        Wizard = pool.get('isp.service.correct_paid_time', type='wizard')
        self.setup_world()
        before = Service(self.s1.id).paid_until
        context = {'active_model': 'isp.service', 'active_id': self.s1.id,
            'active_ids': [self.s1.id]}
        data = {'start': {'days': -2, 'note': 'Wrong plan length',
                'services': [self.s1.id]}}
        cashier = self.staff('cashier')
        with self.as_user(cashier), Transaction().set_context(context):
            with self.assertRaises(AccessButtonError):
                Service.correct_paid_time_wizard([Service(self.s1.id)])
            with self.assertRaises(AccessError):
                Wizard.create()
        self.assertEqual(Service(self.s1.id).paid_until, before)
        admin = self.staff('admin')
        with self.as_user(admin), Transaction().set_context(context):
            self.assertTrue(
                Service.correct_paid_time_wizard([Service(self.s1.id)]))
            session_id, _, _ = Wizard.create()
            Wizard.execute(session_id, {}, 'start')
            Wizard.execute(session_id, data, 'correct')
        self.assertEqual(Service(self.s1.id).paid_until,
            before - dt.timedelta(days=2))

    # --- the portal invitation ---

    @contextmanager
    def mail_sink(self):
        "An SMTP sink on a free port, and the portal's reset link address"
        sink = Sink()
        smtp = Controller(sink, hostname='127.0.0.1', port=free_port())
        smtp.start()
        saved = {(s, o): config.get(s, o) for s, o in [
                ('email', 'uri'), ('web', 'reset_password_url')]}
        config.set('email', 'uri', 'smtp://127.0.0.1:%s' % smtp.port)
        config.set('web', 'reset_password_url', 'http://localhost/reset')
        try:
            yield sink
        finally:
            smtp.stop()
            for (section, option), value in saved.items():
                if value is None:
                    config._config.remove_option(section, option)
                    config._cache_clear()
                else:
                    config.set(section, option, value)

    @with_transaction()
    def test_invite_to_portal_groups(self):
        """Invite to Portal mails a login link: refused to viewers,
        technicians (even on the customer's router) and accountants"""
        pool = Pool()
        Party = pool.get('party.party')
        WebUser = pool.get('web.user')
        self.setup_world()
        Party.write([self.customer], {'contact_mechanisms': [('create', [{
                            'type': 'email', 'value': 'alice@example.com'}])]})
        with self.mail_sink() as sink:
            for group in ['viewer', 'technician', 'accountant']:
                user = self.staff(group, routers=[self.r1])
                with self.subTest(group=group), self.as_user(user):
                    # the customer is readable: the refusal is the button's
                    self.assertEqual(
                        Party(self.customer.id).rec_name, 'Alice')
                    with self.assertRaises(AccessButtonError):
                        Party.isp_invite_portal([Party(self.customer.id)])
            self.assertEqual(WebUser.search([], count=True), 0)
            self.assertEqual(sink.messages, [])
            for n, group in enumerate(['admin', 'cashier', 'support'], 1):
                user = self.staff(group, routers=[self.r1])
                with self.subTest(group=group), self.as_user(user):
                    Party.isp_invite_portal([Party(self.customer.id)])
                messages = sink.wait(n)
                self.assertEqual(len(messages), n)
                self.assertIn('alice@example.com', messages[-1]['To'])
        user, = WebUser.search([])
        self.assertEqual(user.party, self.customer)
