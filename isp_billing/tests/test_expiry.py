"""The expiry sweep (isp.service expire_due): set-based, with the audit
trail, grace hours and router syncs of the workflow transition; a paid_until
that ends on a cron tick is cut at that tick; the ORM path when ir.trigger
records watch services; a concurrent payment never fails the sweep
(PostgreSQL)."""
import datetime as dt
import itertools
import threading
import time
import unittest
from unittest.mock import patch

from trytond import backend
from trytond.modules.company.tests import create_company, set_company
from trytond.pool import Pool
from trytond.pyson import Eval, PYSONEncoder
from trytond.tests import test_tryton
from trytond.tests.test_tryton import DB_NAME, USER
from trytond.transaction import Transaction, TransactionError

from ..models import service as service_module
from ..times import frozen_clock, utcnow
from .test_payment import AccountingMixin
from .tools import (
    IspTestCase, create_customer, create_plan, create_router, create_service,
    create_staff)

#: a moment on a cron tick (hh:mm:00), in UTC
TICK = dt.datetime(2031, 3, 4, 10, 15)
#: router ports: one (host, port) per router; the syncs are never run
PORTS = itertools.count(20001)


def set_paid_until(values):
    """Set paid_until (service -> timestamp) in SQL: the setup of a due
    service, not a business operation"""
    table = Pool().get('isp.service').__table__()
    cursor = Transaction().connection.cursor()
    for service, value in values.items():
        cursor.execute(*table.update([table.paid_until], [value],
                where=table.id == service.id))


def set_columns(services, **values):
    "Write columns of services in SQL (states the workflow cannot reach)"
    table = Pool().get('isp.service').__table__()
    cursor = Transaction().connection.cursor()
    columns = [getattr(table, c) for c in values]
    cursor.execute(*table.update(columns, list(values.values()),
            where=table.id.in_([s.id for s in services])))


def transition_logs(service_ids):
    "{service id: [(user, target)]} of the expiry transition logs"
    Log = Pool().get('ir.model.log')
    logs = {}
    for log in Log.search([
                ('resource', 'in',
                    ['isp.service,%s' % i for i in service_ids]),
                ('event', '=', 'transition'),
                ], order=[('id', 'ASC')]):
        logs.setdefault(log.resource.id, []).append(
            (log.user.id if log.user else None, log.target))
    return logs


def sync_tasks(after_id):
    """Router ids of the isp.router sync tasks (whole router, or targeted at
    some services by the write hook) queued after queue id after_id"""
    Queue = Pool().get('ir.queue')
    return sorted(r for q in Queue.search([('id', '>', after_id)])
        if q.data['model'] == 'isp.router'
        and q.data['method'] in {'sync', 'sync_services'}
        for r in q.data['instances'])


def last_queue_id():
    Queue = Pool().get('ir.queue')
    tasks = Queue.search([], order=[('id', 'DESC')], limit=1)
    return tasks[0].id if tasks else 0


class ExpiryTestCase(IspTestCase):
    "The expiry sweep on the backend of the test run"

    def committed(self, func, user=USER, **context):
        """Run func in its own committed transaction (the sweep queues one
        sync per router and transaction: a setup in the same transaction
        would hide them); return its result"""
        extras = {}
        while True:
            with Transaction().start(DB_NAME, user, context=context,
                    **extras) as transaction:
                try:
                    result = func()
                    transaction.commit()
                except TransactionError as e:
                    transaction.rollback()
                    e.fix(extras)
                    continue
                transaction.tasks.clear()     # syncs are not run here
                return result

    def setup_services(self, prefix):
        """Three routers and services in every state, due or not; return
        {name: id}, the company id, the staff user id and the routers"""
        pool = Pool()
        Service = pool.get('isp.service')
        Template = pool.get('product.template')
        company = create_company()
        with set_company(company):
            plan = create_plan('%s plan' % prefix)
            graced = create_plan('%s graced' % prefix)
            Template.write([graced], {'grace_hours': 6})
            r1 = create_router('%s R1' % prefix, port=next(PORTS))
            r2 = create_router('%s R2' % prefix, port=next(PORTS))
            r3 = create_router('%s R3' % prefix, port=next(PORTS))
            customer = create_customer()
            now = utcnow()
            specs = {
                # name: (plan, router, hours from now, state)
                'due1': (plan, r1, -1, 'active'),
                'due2': (plan, r1, -30, 'active'),
                'due3': (plan, r2, -2, 'active'),
                'grace_over': (graced, r2, -7, 'active'),
                'in_grace': (graced, r1, -5, 'active'),
                'paid': (plan, r1, 1, 'active'),
                'other_router': (plan, r3, 2, 'active'),
                'draft': (plan, r1, -1, 'draft'),
                'suspended': (plan, r1, -1, 'suspended'),
                'cancelled': (plan, r1, -1, 'cancelled'),
                'expired': (plan, r1, -1, 'expired'),
                }
            services = {}
            for name, (p, router, hours, state) in specs.items():
                service = create_service(
                    customer, p, router, login='%s-%s' % (prefix, name))
                services[name] = service
            set_paid_until({
                    services[n]: now + dt.timedelta(hours=spec[2])
                    for n, spec in specs.items()})
            Service.activate([s for n, s in services.items()
                    if specs[n][3] != 'draft'])
            Service.suspend([services['suspended']])
            Service.cancel([services['cancelled']])
            Service.expire([services['expired']])
            # what a router sync leaves: every service in sync
            set_columns(services.values(), sync_status='in_sync')
            staff = create_staff('%s-cron' % prefix, 'group_isp_admin')
        return ({n: s.id for n, s in services.items()}, company.id,
            staff.id, {'r1': r1.id, 'r2': r2.id, 'r3': r3.id})

    def snapshot(self, ids):
        "state, sync status and write date of the services"
        Service = Pool().get('isp.service')
        return {s.id: (s.state, s.sync_status, s.write_date)
            for s in Service.browse(ids)}

    def test_set_based_sweep(self):
        "Due services expire in SQL with the transition's log, sync, grace"
        ids, company, staff, routers = self.committed(
            lambda: self.setup_services('set'))
        due = ['due1', 'due2', 'due3', 'grace_over']
        untouched = [n for n in ids if n not in due]

        def sweep():
            pool = Pool()
            Service = pool.get('isp.service')
            before = self.snapshot(ids.values())
            queue_id = last_queue_id()
            with patch.object(Service, 'expire',
                    wraps=Service.expire) as expire:
                expired = Service.expire_due()
            # set-based: no workflow transition through the ORM
            expire.assert_not_called()
            mine = set(ids.values())
            self.assertEqual(sorted(s.id for s in expired if s.id in mine),
                sorted(ids[n] for n in due))
            after = self.snapshot(ids.values())
            for name in due:
                self.assertEqual(after[ids[name]][:2], ('expired', 'pending'),
                    name)
            # nothing else touched, not even its write date
            for name in untouched:
                self.assertEqual(after[ids[name]], before[ids[name]], name)
            # one sync task per affected router, none for the others
            self.assertEqual(sync_tasks(queue_id),
                sorted([routers['r1'], routers['r2']]))
            return queue_id

        # as the cron runs it: a user (here staff) and utcnow()
        self.committed(sweep, user=staff, company=company)

        def check():
            logs = transition_logs(ids.values())
            for name in due:
                # the transition log the workflow writes, once, by the user
                # who ran the sweep
                self.assertEqual(logs[ids[name]][-1:],
                    [(staff, 'state:expired')], name)
                self.assertEqual(
                    [t for _, t in logs[ids[name]]].count('state:expired'),
                    1, name)
            self.assertEqual(logs[ids['expired']][-1],
                (USER, 'state:expired'))
            for name in ['paid', 'in_grace', 'other_router', 'draft',
                    'suspended', 'cancelled']:
                self.assertNotIn('state:expired',
                    [t for _, t in logs.get(ids[name], [])], name)
            # a second run finds nothing: no statement writes, no task
            Service = Pool().get('isp.service')
            queue_id = last_queue_id()
            self.assertEqual(Service.expire_due(), [])
            self.assertEqual(sync_tasks(queue_id), [])
            self.assertEqual(transition_logs(ids.values()), logs)
        self.committed(check)

    def test_cut_on_the_tick(self):
        """A paid_until on a cron tick is expired at that tick; one second
        later, at the next tick: never more than 60 s late"""
        def setup():
            pool = Pool()
            Service = pool.get('isp.service')
            Template = pool.get('product.template')
            company = create_company()
            with set_company(company):
                plan = create_plan('tick plan')
                graced = create_plan('tick graced')
                Template.write([graced], {'grace_hours': 6})
                router = create_router('tick', port=next(PORTS))
                customer = create_customer()
                on_tick = create_service(customer, plan, router,
                    login='on-tick')
                after_tick = create_service(customer, plan, router,
                    login='after-tick')
                graced_tick = create_service(customer, graced, router,
                    login='graced-tick')
                Service.activate([on_tick, after_tick, graced_tick])
                set_paid_until({
                        on_tick: TICK,
                        after_tick: TICK + dt.timedelta(seconds=1),
                        graced_tick: TICK - dt.timedelta(hours=6),
                        })
            return on_tick.id, after_tick.id, graced_tick.id
        on_tick, after_tick, graced_tick = self.committed(setup)

        def run(now):
            Service = Pool().get('isp.service')
            # the cron passes no time: expire_due reads the clock
            with frozen_clock(now):
                return sorted(s.id for s in Service.expire_due()
                    if s.id in {on_tick, after_tick, graced_tick})
        self.assertEqual(
            self.committed(lambda: run(TICK - dt.timedelta(seconds=60))),
            [])
        self.assertEqual(self.committed(lambda: run(TICK)),
            sorted([on_tick, graced_tick]))
        self.assertEqual(
            self.committed(lambda: run(TICK + dt.timedelta(seconds=60))),
            [after_tick])

    def test_trigger_fallback(self):
        """With an ir.trigger on writes of services the sweep goes through
        the workflow transition by chunks: the trigger fires"""
        ids, company, staff, routers = self.committed(
            lambda: self.setup_services('trg'))
        due = ['due1', 'due2', 'due3', 'grace_over']

        def add_trigger():
            pool = Pool()
            Model = pool.get('ir.model')
            Trigger = pool.get('ir.trigger')
            model, = Model.search([('name', '=', 'isp.service')])
            trigger = Trigger.__table__()
            # in SQL: no module of this database offers a trigger action
            # (its selection is empty), the sweep only needs the record
            condition = PYSONEncoder().encode(
                Eval('self', {}).get('state') == 'expired')
            cursor = Transaction().connection.cursor()
            cursor.execute(*trigger.insert(
                    [trigger.name, trigger.model, trigger.on_write_,
                        trigger.on_time_, trigger.on_create_,
                        trigger.on_delete_, trigger.condition,
                        trigger.limit_number, trigger.action,
                        trigger.active],
                    [['Expired', model.id, True, False, False, False,
                            condition, 0, 'isp.service|on_expired', True]]))
            # what Trigger.create does: its lookups are cached
            Trigger._get_triggers_cache.clear()
        self.committed(add_trigger)

        def sweep():
            pool = Pool()
            Service = pool.get('isp.service')
            Queue = pool.get('ir.queue')
            queue_id = last_queue_id()
            with patch.object(Service, '_expire_chunk_size', 3), \
                    patch.object(Service, 'expire',
                        wraps=Service.expire) as expire:
                expired = Service.expire_due()
            self.assertEqual([len(c.args[0]) for c in expire.call_args_list],
                [3, 1])
            mine = set(ids.values())
            self.assertEqual(sorted(s.id for s in expired if s.id in mine),
                sorted(ids[n] for n in due))
            after = self.snapshot(ids.values())
            for name in due:
                self.assertEqual(after[ids[name]][:2], ('expired', 'pending'))
            self.assertEqual(after[ids['in_grace']][0], 'active')
            # the logs are stored, not left for the commit
            self.assertFalse(Transaction().log_records)
            logs = transition_logs([ids[n] for n in due])
            self.assertEqual({i: l[-1] for i, l in logs.items()},
                {ids[n]: (staff, 'state:expired') for n in due})
            self.assertEqual(sync_tasks(queue_id),
                sorted([routers['r1'], routers['r2']]))
            # the trigger saw every expired service change
            fired = [q for q in Queue.search([('id', '>', queue_id)])
                if q.data['model'] == 'ir.trigger']
            self.assertEqual(sorted(i for q in fired
                    for i in q.data['args'][0]),
                sorted(ids[n] for n in due))
        try:
            self.committed(sweep, user=staff, company=company)
        finally:
            def remove_trigger():
                Trigger = Pool().get('ir.trigger')
                Trigger.delete(Trigger.search([('name', '=', 'Expired')]))
            self.committed(remove_trigger)

    def test_nothing_due(self):
        "Without services due, the sweep writes nothing and queues nothing"
        def run():
            Service = Pool().get('isp.service')
            queue_id = last_queue_id()
            with frozen_clock(dt.datetime(2000, 1, 1)):
                self.assertEqual(Service.expire_due(), [])
            self.assertEqual(sync_tasks(queue_id), [])
            self.assertFalse(Transaction().log_records)
        self.committed(run)


@unittest.skipIf(backend.name == 'sqlite',
    "a payment concurrent with the sweep needs two connections to one "
    "committed database; SQLite's :memory: test database cannot be shared, "
    "and SQLite serializes writers anyway")
class ConcurrentExpiryTestCase(AccountingMixin, test_tryton.TestCase):
    """A payment lands on a due service while the sweep runs (PostgreSQL,
    REPEATABLE READ): the sweep never fails, the payment is never lost.

    Its own database, committed setup, dropped at the end of the class."""
    module = 'isp_billing'

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        test_tryton.drop_db()
        test_tryton.activate_module([cls.module])
        cls.ids = None

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        test_tryton.drop_db()

    def setUp(self):
        super().setUp()
        if type(self).ids is None:
            def setup():
                company = self.setup_accounting()
                return {'company': company.id, 'customer': self.customer.id,
                    'plan': self.plan.id, 'router': self.router.id,
                    'method': self.cash.id}
            type(self).ids = self.committed(setup)

    def committed(self, func, **context):
        extras = {}
        while True:
            with Transaction().start(DB_NAME, USER, context=context,
                    **extras) as transaction:
                try:
                    result = func()
                    transaction.commit()
                except TransactionError as e:
                    transaction.rollback()
                    e.fix(extras)
                    continue
                transaction.tasks.clear()
                return result

    def due_services(self, prefix):
        "Three active services an hour past due; return their ids"
        def create():
            pool = Pool()
            Service = pool.get('isp.service')
            Party = pool.get('party.party')
            Template = pool.get('product.template')
            customer = Party(self.ids['customer'])
            plan = Template(self.ids['plan'])
            router = pool.get('isp.router')(self.ids['router'])
            company = pool.get('company.company')(self.ids['company'])
            with set_company(company):
                services = [create_service(customer, plan, router,
                        login='%s-%s' % (prefix, n)) for n in range(3)]
                Service.activate(services)
                past = utcnow() - dt.timedelta(hours=1)
                set_paid_until({s: past for s in services})
            return [s.id for s in services]
        return self.committed(create)

    def pay(self, service_id, locked=None, release=None):
        """A cashier pays one period of the service; with events, holds its
        transaction open (the row locked) until release is set"""
        pool = Pool(DB_NAME)
        extras = {}
        while True:
            with Transaction().start(DB_NAME, USER, **extras) as transaction:
                try:
                    User = pool.get('res.user')
                    Service = pool.get('isp.service')
                    Method = pool.get('account.invoice.payment.method')
                    with transaction.set_context(
                            User.get_preferences(context_only=True)):
                        Service.pay_renewal([Service(service_id)], 1,
                            Method(self.ids['method']))
                    if locked is not None:
                        locked.set()
                        if not release.wait(timeout=60):
                            raise AssertionError(
                                "the sweep waited for the payment's lock")
                    transaction.commit()
                except TransactionError as e:
                    transaction.rollback()
                    transaction.tasks.clear()
                    e.fix(extras)
                    continue
                transaction.tasks.clear()
            return

    def in_thread(self, target, *args):
        errors = []

        def run():
            try:
                target(*args)
            except BaseException as error:  # noqa: BLE001
                errors.append(error)
        thread = threading.Thread(target=run)
        thread.start()
        return thread, errors

    def check(self, paid_id, expired_ids, paid_before):
        "The paid service is on and paid for, the others expired, logged"
        def check():
            Service = Pool().get('isp.service')
            paid = Service(paid_id)
            self.assertEqual(paid.state, 'active')
            self.assertGreater(paid.paid_until,
                utcnow() + dt.timedelta(days=27))
            self.assertEqual(len(paid.payments), 1)
            self.assertEqual(paid.payments[0].paid_until_before, paid_before)
            self.assertEqual([s.state for s in Service.browse(expired_ids)],
                ['expired'] * len(expired_ids))
            logs = transition_logs([paid_id] + expired_ids)
            self.assertEqual(
                sorted(i for i, l in logs.items()
                    if (USER, 'state:expired') in l),
                sorted(expired_ids))
            # the next run leaves the paid service alone
            self.assertEqual(Service.expire_due(), [])
        self.committed(check)

    def paid_until(self, service_id):
        return self.committed(
            lambda: Pool().get('isp.service')(service_id).paid_until)

    def test_payment_in_progress(self):
        "A payment holding its service: the sweep skips it and commits"
        paid, *others = self.due_services('progress')
        before = self.paid_until(paid)
        locked, release = threading.Event(), threading.Event()
        thread, errors = self.in_thread(self.pay, paid, locked, release)
        try:
            self.assertTrue(locked.wait(timeout=60), errors)

            def sweep():
                Service = Pool().get('isp.service')
                return sorted(s.id for s in Service.expire_due()
                    if s.id in {paid, *others})
            # the payment holds its row: the sweep goes on without it
            self.assertEqual(self.committed(sweep), sorted(others))
        finally:
            release.set()
            thread.join(timeout=60)
        self.assertFalse(thread.is_alive(), "hung")
        if errors:
            raise errors[0]
        self.check(paid, others, before)

    def test_payment_committed_during_sweep(self):
        """A payment committed after the sweep's snapshot: the serialization
        conflict costs the sweep nothing but that service"""
        paid, *others = self.due_services('committed')
        before = self.paid_until(paid)
        payment = []

        def sweep():
            Service = Pool().get('isp.service')
            cursor = Transaction().connection.cursor()
            # this transaction's snapshot is taken: the services are due
            cursor.execute('SELECT count(*) FROM isp_service')
            cursor.fetchone()
            thread, errors = self.in_thread(self.pay, paid)
            thread.join(timeout=60)
            payment.extend(errors)
            self.assertFalse(thread.is_alive(), "hung")
            # the conflict was met, and only that service left out
            with self.assertLogs(service_module.logger, 'INFO') as logs:
                expired = sorted(s.id for s in Service.expire_due()
                    if s.id in {paid, *others})
            self.assertEqual(len(logs.records), 1)
            self.assertIn('service %s left' % paid, logs.output[0])
            return expired
        self.assertEqual(self.committed(sweep), sorted(others))
        if payment:
            raise payment[0]
        self.check(paid, others, before)

    def test_sweep_holds_payment_retries(self):
        """The sweep holds the due rows: a payment waits for its commit
        (Tryton's lock restart) and re-activates the expired service"""
        paid, *others = self.due_services('retry')
        before = self.paid_until(paid)
        refused, swept = threading.Event(), threading.Event()

        def pay_until_done():
            # as the cashier (and the RPC layer) do: retry while locked
            deadline = time.monotonic() + 60
            while True:
                try:
                    self.pay(paid)
                    return
                except backend.DatabaseOperationalError:
                    Transaction().tasks.clear()
                    refused.set()
                    if time.monotonic() > deadline:
                        raise
                    swept.wait(timeout=0.05)
        threads = []

        def sweep():
            Service = Pool().get('isp.service')
            expired = sorted(s.id for s in Service.expire_due()
                if s.id in {paid, *others})
            threads.append(self.in_thread(pay_until_done))
            # the payment found the row held by the sweep
            self.assertTrue(refused.wait(timeout=60))
            return expired
        try:
            self.assertEqual(self.committed(sweep), sorted([paid] + others))
        finally:
            swept.set()
        for thread, errors in threads:
            thread.join(timeout=60)
            self.assertFalse(thread.is_alive(), "hung")
            if errors:
                raise errors[0]

        def check():
            Service = Pool().get('isp.service')
            service = Service(paid)
            self.assertEqual(service.state, 'active')
            payment, = service.payments
            # paid after the expiry: from the payment's time, not before
            self.assertEqual(payment.paid_until_before, before)
            self.assertGreater(service.paid_until,
                utcnow() + dt.timedelta(days=27))
            logs = transition_logs([paid])
            self.assertEqual([t for _, t in logs[paid]][-2:],
                ['state:expired', 'state:active'])
        self.committed(check)
