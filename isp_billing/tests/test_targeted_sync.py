"""Targeted router sync through the module, and a cashier who never waits
on a router.

The targeted tests (``with_transaction``) call the task method
(``Router.sync_services``) with the ids the hook queued, as the worker
would.  The cashier tests commit like the RPC dispatcher does (context
``_request``, tasks run after the commit) on a database the background
thread can open: a file copy of SQLite's ``:memory:`` test database, or the
PostgreSQL test database itself.
"""
import os
import shutil
import sqlite3
import tempfile
import time
import unittest

from routeros_sim import RouterSim
from trytond import backend, config
from trytond.modules.company.tests import set_company
from trytond.pool import Pool
from trytond.tests.test_tryton import (
    DB_NAME, USER, TestCase, activate_module, drop_db, with_transaction)
from trytond.transaction import Transaction, TransactionError
from trytond.worker import run_task

from ..models import sync
from .test_payment import AccountingMixin
from .tools import (
    IspTestCase, create_customer, create_plan, create_router, create_service)

HOTSPOT_USER = '/ip/hotspot/user'
#: commands a targeted sync may send: the reads of the changed entries and
#: profiles (queried by comment/name), the change, a kick
TARGETED_PRINTS = {'/ip/hotspot/user/print', '/ppp/secret/print',
    '/ip/hotspot/user/profile/print'}


def owned(sim):
    return {r['name']: r for r in sim.rows(HOTSPOT_USER)
        if (r.get('comment') or '').startswith('isp-billing:')}


class TargetedSyncTestCase(IspTestCase):
    "Targeted sync of changed services"

    def setUp(self):
        super().setUp()
        self.sim = RouterSim(version='7.18', password='secret', port=0
            ).start()
        self.addCleanup(self.sim.stop)

    def setup_router(self, count, sim=None, name='R1'):
        "a router holding count active services, synced; their plan"
        pool = Pool()
        Router = pool.get('isp.router')
        Service = pool.get('isp.service')
        sim = sim or self.sim
        if not hasattr(self, 'company'):
            from trytond.modules.company.tests import create_company
            self.company = create_company()
        with set_company(self.company):
            if not hasattr(self, 'plan'):
                self.plan = create_plan()
                self.customer = create_customer()
            router = create_router(name, host=sim.host, port=sim.port)
            services = Service.create([{
                        'customer': self.customer.id,
                        'plan': self.plan.products[0].id,
                        'router': router.id, 'kind': 'hotspot',
                        'login': '%s-u%d' % (name.lower(), i),
                        'password': 'Pass-123'} for i in range(count)])
            Service.activate(services)
        Router.sync([router])
        self.assertEqual(len(owned(sim)), count)
        self.clear_queue()
        return router, services

    @staticmethod
    def clear_queue():
        Queue = Pool().get('ir.queue')
        Queue.delete(Queue.search([]))
        Transaction().join(sync._SyncQueue())._clear()

    @staticmethod
    def tasks():
        Queue = Pool().get('ir.queue')
        return [(q.data['method'], list(q.data['instances']),
                [sorted(a) for a in q.data['args']])
            for q in Queue.search([('dequeued_at', '=', None)],
                order=[('id', 'ASC')])
            if q.data['model'] == 'isp.router']

    def run_queued(self):
        "Run the queued router tasks the way the worker does (Queue.run)"
        Queue = Pool().get('ir.queue')
        for task in Queue.search([('dequeued_at', '=', None)],
                order=[('id', 'ASC')]):
            task.run()

    def payment_commands(self, count):
        "Commands a payment (expired -> paid) sends to a router of count"
        Service = Pool().get('isp.service')
        sim = RouterSim(version='7.18', password='secret', port=0).start()
        self.addCleanup(sim.stop)
        router, services = self.setup_router(
            count, sim=sim, name='S%d' % count)
        service = services[count // 2]
        Service.expire([service])
        self.run_queued()
        self.assertEqual(owned(sim)[service.login]['disabled'], 'true')
        self.clear_queue()
        sim.reset_commands()
        Service.activate([service])  # what the paid invoice does
        self.assertEqual(service.sync_status, 'pending')
        self.assertEqual(self.tasks(),
            [('sync_services', [router.id], [[service.id]])])
        self.run_queued()
        self.assertEqual(owned(sim)[service.login]['disabled'], 'false')
        self.assertEqual(Service(service.id).sync_status, 'in_sync')
        return sorted(sim.commands)

    @with_transaction()
    def test_payment_commands_do_not_grow_with_the_router(self):
        "A payment sends as many commands to a router of 5 as of 400"
        small = self.payment_commands(5)
        large = self.payment_commands(400)
        self.assertEqual(small, large)
        self.assertEqual(set(large) - TARGETED_PRINTS,
            {'/ip/hotspot/user/set'})
        self.assertEqual(len(large), 4)

    @with_transaction()
    def test_one_task_per_router_and_transaction(self):
        "Changes merge into one task; a full reconcile supersedes it"
        pool = Pool()
        Service = pool.get('isp.service')
        Template = pool.get('product.template')
        router, services = self.setup_router(4)
        a, b, c, d = services
        Service.write([a], {'password': 'Other-123'})
        Service.write([b], {'mac_address': 'AA:BB:CC:DD:EE:FF'})
        Service.write([a], {'password': 'Again-123'})
        self.assertEqual(self.tasks(),
            [('sync_services', [router.id], [[a.id, b.id]])])
        # moved: its old router removes the entry, the new one adds it
        other_sim = RouterSim(version='7.18', password='secret', port=0
            ).start()
        self.addCleanup(other_sim.stop)
        other, _ = self.setup_router(0, sim=other_sim, name='R2')
        Service.write([a], {'password': 'Third-123'})
        Service.write([c], {'router': other.id})
        self.assertEqual(sorted(self.tasks()), [
                ('sync_services', [router.id], [[a.id, c.id]]),
                ('sync_services', [other.id], [[c.id]])])
        self.run_queued()
        self.assertNotIn(c.login, owned(self.sim))
        self.assertEqual(owned(other_sim)[c.login]['comment'],
            'isp-billing:%d' % c.id)
        self.assertEqual(owned(self.sim)[a.login]['password'], 'Third-123')
        self.assertEqual(Service(c.id).sync_status, 'in_sync')
        self.assertEqual(Service(a.id).sync_status, 'in_sync')

        # a plan change in the same transaction: a full reconcile instead
        self.clear_queue()
        Service.write([d], {'password': 'Fourth-123'})
        Template.write([self.plan], {'download_rate': 20000})
        self.assertEqual(sorted(self.tasks()), sorted([
                ('sync', [other.id], []), ('sync', [router.id], [])]))
        # and a targeted change after it adds nothing
        Service.write([b], {'password': 'Fifth-123'})
        self.assertEqual(len(self.tasks()), 2)

    @with_transaction()
    def test_many_changes_become_a_full_reconcile(self):
        "Past TARGETED_LIMIT changed services, one full reconcile"
        Service = Pool().get('isp.service')
        router, services = self.setup_router(6)
        limit, sync.TARGETED_LIMIT = sync.TARGETED_LIMIT, 3
        try:
            Service.write(services[:2], {'password': 'Other-123'})
            self.assertEqual([t[0] for t in self.tasks()],
                ['sync_services'])
            Service.write(services[2:4], {'password': 'Other-123'})
            self.assertEqual(self.tasks(), [('sync', [router.id], [])])
        finally:
            sync.TARGETED_LIMIT = limit
        self.run_queued()
        self.assertEqual({r['password'] for r in owned(self.sim).values()},
            {'Other-123', 'Pass-123'})

    @with_transaction()
    def test_router_down_then_back(self):
        "Router down: the service shows the error; back: in sync again"
        pool = Pool()
        Service = pool.get('isp.service')
        Router = pool.get('isp.router')
        router, (service, other) = self.setup_router(2)
        self.sim.faults.refuse = True
        Service.expire([service])
        self.run_queued()
        self.assertEqual(service.sync_status, 'error')
        self.assertIn('cannot be reached', service.sync_message)
        self.assertEqual(other.sync_status, 'in_sync')
        self.assertEqual(router.status, 'offline')
        self.assertEqual(service.state, 'expired')
        self.sim.faults.clear()
        self.clear_queue()
        Service.activate([service])
        self.run_queued()
        self.assertEqual(service.sync_status, 'in_sync')
        self.assertIsNone(service.sync_message)
        self.assertEqual(router.status, 'online')
        self.assertIsNone(router.sync_error)
        # a trap on the change fails that service only
        self.clear_queue()
        # print hotspot users, profiles, PPPoE secrets (sent together),
        # then set: the 4th
        self.sim.faults.trap_every = 4
        Service.write([service], {'password': 'Other-123'})
        self.run_queued()
        self.assertEqual(service.sync_status, 'error')
        self.assertIn('simulated fault', service.sync_message)
        self.sim.faults.clear()
        Router.sync([router])
        self.assertEqual(service.sync_status, 'in_sync')
        self.assertEqual(owned(self.sim)[service.login]['password'],
            'Other-123')

    @with_transaction()
    def test_full_sync_reads_services_in_sql(self):
        "Router.sync: a no-change reconcile writes no service"
        pool = Pool()
        Router = pool.get('isp.router')
        Service = pool.get('isp.service')
        router, services = self.setup_router(30)
        Service.cancel(services[:1])
        Router.sync([router])
        table = Service.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*table.select(table.sync_status,
                where=table.router == router.id, group_by=[table.sync_status]))
        self.assertEqual([s for s, in cursor], ['in_sync'])
        # a status recorded wrong is repaired, the others are not written
        cursor.execute(*table.update([table.sync_status], ['error'],
                where=table.id == services[1].id))
        self.sim.reset_commands()
        Router.sync([router])
        # the prints: hotspot users and profiles, PPPoE secrets
        self.assertEqual(len(self.sim.commands), 3)
        self.assertEqual(Service(services[1].id).sync_status, 'in_sync')
        self.assertEqual(router.drift_count, 0)
        self.assertEqual(len(owned(self.sim)), 29)


class CashierNeverWaitsTestCase(TestCase):
    """Pay through an RPC-like call while the router is down or blackholed.

    The request must not wait for the router: the sync is handed to the
    background runner after the commit, the service shows pending.  The
    router timeout is long (20 s): a request that waited on the router
    could not return before it."""
    timeout = 20

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        drop_db()
        activate_module(['isp_billing'])
        cls._timeout = config.get('isp_billing', 'router_timeout')
        if not config.has_section('isp_billing'):
            config.add_section('isp_billing')
        config.set('isp_billing', 'router_timeout', str(cls.timeout))
        cls.database = DB_NAME
        cls.tmp = cls._path = None
        if backend.name == 'sqlite' and DB_NAME == ':memory:':
            # another thread cannot open this thread's :memory: database:
            # work on a file copy
            cls.tmp = tempfile.mkdtemp(prefix='isp-cashier-')
            cls._path = config.get('database', 'path')
            config.set('database', 'path', cls.tmp)
            cls.database = 'isp_cashier'
            database = backend.Database(DB_NAME).connect()
            memory = database.get_connection()
            try:
                copy = sqlite3.connect(
                    os.path.join(cls.tmp, cls.database + '.sqlite'))
                memory.backup(copy)
                copy.close()
            finally:
                database.put_connection(memory)
            with Transaction().start(cls.database, 0, readonly=True):
                Pool(cls.database).init()
        cls.sim = RouterSim(version='7.18', password='secret', port=0
            ).start()
        setup, extras = AccountingMixin(), {}
        while True:     # as with_transaction, but committed
            with Transaction().start(cls.database, USER, **extras
                    ) as transaction:
                try:
                    Router = Pool().get('isp.router')
                    company = setup.setup_accounting()
                    with set_company(company):
                        Router.write([setup.router], {'port': cls.sim.port})
                    cls.ids = {'method': setup.cash.id,
                        'router': setup.router.id, 'company': company.id,
                        'plan': setup.plan.id, 'customer': setup.customer.id}
                    transaction.commit()
                except TransactionError as e:
                    transaction.rollback()
                    transaction.tasks.clear()
                    e.fix(extras)
                    continue
            break
        cls.run_tasks()

    @classmethod
    def tearDownClass(cls):
        sync.background.wait(60)
        cls.sim.stop()
        config.set('isp_billing', 'router_timeout', cls._timeout or '10')
        if cls.tmp:
            config.set('database', 'path', cls._path)
            shutil.rmtree(cls.tmp, ignore_errors=True)
        drop_db()
        super().tearDownClass()

    def setUp(self):
        "a new draft service of the customer on the router"
        super().setUp()
        self.sim.faults.clear()
        self.login = 'cash%d' % len(self.ids)
        with Transaction().start(self.database, USER) as transaction:
            pool = Pool()
            Template = pool.get('product.template')
            Party = pool.get('party.party')
            Router = pool.get('isp.router')
            Company = pool.get('company.company')
            with set_company(Company(self.ids['company'])):
                service = create_service(Party(self.ids['customer']),
                    Template(self.ids['plan']), Router(self.ids['router']),
                    login=self.login)
            self.ids[self.login] = service.id
            transaction.commit()
        self.service_id = self.ids[self.login]
        self.run_tasks()

    @classmethod
    def run_tasks(cls):
        transaction = Transaction()
        while transaction.tasks:
            run_task(cls.database, transaction.tasks.pop())

    def pay(self):
        """The cashier presses Pay: one request as the RPC dispatcher runs
        it (context _request; commit; then the tasks left in
        transaction.tasks); returns its duration"""
        pool = Pool(self.database)
        start = time.monotonic()
        extras = {}
        while True:
            with Transaction().start(self.database, USER, context={
                        '_request': {'remote_addr': '127.0.0.1'}},
                    **extras) as transaction:
                try:
                    User = pool.get('res.user')
                    Service = pool.get('isp.service')
                    Method = pool.get('account.invoice.payment.method')
                    with transaction.set_context(
                            User.get_preferences(context_only=True)):
                        Service.pay_renewal([Service(self.service_id)], 1,
                            Method(self.ids['method']))
                except TransactionError as e:   # the lock restarts it
                    transaction.rollback()
                    transaction.tasks.clear()
                    e.fix(extras)
                    continue
                transaction.commit()
            break
        self.run_tasks()
        return time.monotonic() - start

    def read(self):
        with Transaction().start(self.database, USER, readonly=True):
            pool = Pool(self.database)
            service = pool.get('isp.service')(self.service_id)
            router = pool.get('isp.router')(self.ids['router'])
            return (service.state, service.sync_status, router.status,
                service.sync_message or '')

    def test_pay_with_the_router_blackholed(self):
        "Pay returns before any router timeout; the sync runs after"
        self.sim.faults.blackhole = True
        ran = sync.background.ran
        self.pay()
        # the sync is in the background runner, not done in the request
        # (which would have waited the router timeout, then recorded the
        # error): Pay returned with the task still pending
        self.assertEqual(sync.background.pending, 1)
        self.assertEqual(sync.background.ran, ran)
        self.assertEqual(self.read()[:2], ('active', 'pending'))
        # the link drops (still blackholed): the sync records the error
        self.sim.reboot()
        self.assertTrue(sync.background.wait(self.timeout * 3))
        self.assertEqual(sync.background.ran, ran + 1)
        state, status, router_status, message = self.read()
        self.assertEqual((state, status, router_status),
            ('active', 'error', 'offline'))
        self.assertIn('Router', message)
        self.assertNotIn(self.login, owned(self.sim))
        # the router comes back: the scheduled reconcile heals it
        self.sim.faults.clear()
        with Transaction().start(self.database, 0) as transaction:
            Pool(self.database).get('isp.router').cron_sync()
            transaction.commit()
        self.run_tasks()
        self.assertEqual(self.read()[:3], ('active', 'in_sync', 'online'))
        self.assertEqual(owned(self.sim)[self.login]['disabled'], 'false')

    def test_pay_with_the_router_up(self):
        "The payment reaches the router through the background runner"
        self.sim.reset_commands()
        self.pay()
        self.assertTrue(sync.background.wait(self.timeout * 6))
        self.assertEqual(self.read()[:3], ('active', 'in_sync', 'online'))
        self.assertEqual(owned(self.sim)[self.login]['disabled'], 'false')
        commands = self.sim.commands
        self.assertIn('/ip/hotspot/user/add', commands)
        self.assertLessEqual(set(commands) - TARGETED_PRINTS,
            {'/ip/hotspot/user/add', '/ip/hotspot/user/profile/add'})

    def test_outside_a_request_the_task_stays_in_the_transaction(self):
        "cron, scripts and tests keep Tryton's after-commit run"
        with Transaction().start(self.database, USER) as transaction:
            Service = Pool(self.database).get('isp.service')
            Service.activate([Service(self.service_id)])
            self.assertEqual(len(transaction.tasks), 1)
            transaction.commit()
        self.assertEqual(sync.background.pending, 0)
        self.run_tasks()
        self.assertEqual(self.read()[:2], ('active', 'in_sync'))


del TestCase

if __name__ == '__main__':
    unittest.main()
