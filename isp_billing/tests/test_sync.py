"""Router synchronisation against a real RouterOS simulator over TCP.

``with_transaction`` tests roll back and clear queued tasks, so they call
the task method (``Router.sync``) directly and assert on ``ir.queue`` rows.
The after-commit tests open their own transactions, commit, run the queued
tasks the way trytond's dispatcher does and clean up what they committed.
"""
import datetime as dt
import unittest

from routeros_sim import RouterSim
from trytond import config
from trytond.modules.company.tests import create_company, set_company
from trytond.pool import Pool
from trytond.tests.test_tryton import (
    DB_NAME, TestCase, activate_module, drop_db, with_transaction)
from trytond.exceptions import UserError
from trytond.transaction import Transaction, check_access
from trytond.worker import run_task

from ..exceptions import RouterConnectionError
from ..models import sync
from .server_tools import free_port
from .tools import (
    create_customer, create_plan, create_router, create_service,
    create_staff)

HOTSPOT_USER = '/ip/hotspot/user'
HOTSPOT_ACTIVE = '/ip/hotspot/active'
HOTSPOT_PROFILE = '/ip/hotspot/user/profile'


def user_rows(sim, menu=HOTSPOT_USER):
    return {r['name']: r for r in sim.rows(menu)
        if (r.get('comment') or '').startswith('isp-billing:')}


class RouterSyncTestCase(TestCase):
    "Router synchronisation"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        drop_db()
        activate_module(['isp_billing'])
        cls._timeout = config.get('isp_billing', 'router_timeout')
        if not config.has_section('isp_billing'):
            config.add_section('isp_billing')
        config.set('isp_billing', 'router_timeout', '1')

    @classmethod
    def tearDownClass(cls):
        config.set('isp_billing', 'router_timeout', cls._timeout or '10')
        drop_db()
        super().tearDownClass()

    def start_sim(self, **kwargs):
        kwargs.setdefault('password', 'secret')
        sim = RouterSim(port=0, **kwargs).start()
        self.addCleanup(sim.stop)
        return sim

    def setUp(self):
        super().setUp()
        self.sim = self.start_sim()

    def setup_service(self, sim=None, name='R1', login='alice', **router):
        "company, plan, router on the sim, customer, draft service"
        sim = sim or self.sim
        self.company = company = create_company()
        with set_company(company):
            plan = create_plan()
            router = create_router(name, host=sim.host, port=sim.port,
                password=router.pop('password', 'secret'), **router)
            customer = create_customer()
            service = create_service(customer, plan, router, login=login)
        return plan, router, service

    def queued(self, router=None):
        Queue = Pool().get('ir.queue')
        tasks = [q for q in Queue.search([('dequeued_at', '=', None)])
            if q.data['model'] == 'isp.router'
            and q.data['method'] in {'sync', 'sync_services'}]
        if router is not None:
            tasks = [q for q in tasks
                if list(q.data['instances']) == [router.id]]
        return tasks

    @with_transaction()
    def test_lifecycle(self):
        "create, plan change, expire, re-activate, cancel reach the router"
        pool = Pool()
        Router = pool.get('isp.router')
        Service = pool.get('isp.service')
        plan, router, service = self.setup_service()
        stranger = self.sim.add_row(
            HOTSPOT_USER, name='guest', password='x', profile='default')

        Service.activate([service])
        self.assertEqual(service.sync_status, 'pending')
        Router.sync([router])
        users = user_rows(self.sim)
        self.assertEqual(users['alice']['profile'], plan.router_profile)
        self.assertEqual(users['alice']['password'], 'Pass-123')
        self.assertEqual(users['alice']['disabled'], 'false')
        profile, = [p for p in self.sim.rows(HOTSPOT_PROFILE)
            if p['name'] == plan.router_profile]
        self.assertEqual(profile['rate-limit'], '5M/10M')
        self.assertEqual(service.sync_status, 'in_sync')
        self.assertIsNone(router.sync_error)
        self.assertIsNotNone(router.last_sync)

        # plan change: new profile, session kicked
        with set_company(self.company):
            faster = create_plan('Home 20M')
        self.sim.login('alice', kind='hotspot')
        Service.write([service], {'plan': faster.products[0].id})
        self.assertEqual(service.sync_status, 'pending')
        Router.sync([router])
        self.assertEqual(
            user_rows(self.sim)['alice']['profile'], faster.router_profile)
        self.assertEqual(self.sim.rows(HOTSPOT_ACTIVE), [])

        # expire: disabled and kicked
        self.sim.login('alice', kind='hotspot')
        Service.expire([service])
        Router.sync([router])
        self.assertEqual(user_rows(self.sim)['alice']['disabled'], 'true')
        self.assertEqual(self.sim.rows(HOTSPOT_ACTIVE), [])
        self.assertEqual(service.sync_status, 'in_sync')

        # re-activate: enabled
        Service.activate([service])
        Router.sync([router])
        self.assertEqual(user_rows(self.sim)['alice']['disabled'], 'false')

        # cancel: removed; the unowned entry is untouched
        guest_before = [r for r in self.sim.rows(HOTSPOT_USER)
            if r['.id'] == stranger]
        Service.cancel([service])
        Router.sync([router])
        self.assertNotIn('alice', user_rows(self.sim))
        self.assertEqual([r for r in self.sim.rows(HOTSPOT_USER)
                if r['.id'] == stranger], guest_before)
        self.assertEqual(service.sync_status, 'in_sync')

    @with_transaction()
    def test_drift_repaired(self):
        "A user re-enabled by hand on the router is disabled again"
        pool = Pool()
        Router = pool.get('isp.router')
        Service = pool.get('isp.service')
        _, router, service = self.setup_service()
        Service.activate([service])
        Service.expire([service])
        Router.sync([router])
        row = user_rows(self.sim)['alice']
        self.assertEqual(row['disabled'], 'true')
        self.sim.set_row(HOTSPOT_USER, row['.id'], disabled='false')
        Router.sync([router])
        self.assertEqual(user_rows(self.sim)['alice']['disabled'], 'true')
        self.assertEqual(router.drift_count, 1)
        Router.sync([router])
        self.assertEqual(router.drift_count, 0)

    def assert_fault_recorded(self, router, service, text):
        self.assertIn(text, router.sync_error)
        self.assertEqual(service.sync_status, 'error')
        self.assertIn(text, service.sync_message)

    @with_transaction()
    def test_router_down(self):
        "Router down: error recorded, DB keeps the change, then converges"
        pool = Pool()
        Router = pool.get('isp.router')
        Service = pool.get('isp.service')
        _, router, service = self.setup_service()
        self.sim.faults.refuse = True
        Service.activate([service])
        Router.sync([router])
        self.assert_fault_recorded(router, service, 'cannot be reached')
        self.assertEqual(router.status, 'offline')
        self.assertEqual(service.state, 'active')
        self.sim.faults.clear()
        Router.sync([router])
        self.assertIsNone(router.sync_error)
        self.assertEqual(router.status, 'online')
        self.assertEqual(service.sync_status, 'in_sync')
        self.assertIn('alice', user_rows(self.sim))

    @with_transaction()
    def test_stopped_router(self):
        "A stopped router is offline; another router still syncs"
        pool = Pool()
        Router = pool.get('isp.router')
        Service = pool.get('isp.service')
        _, router, service = self.setup_service()
        other_sim = self.start_sim()
        other = create_router('R2', host=other_sim.host, port=other_sim.port,
            password='secret')
        with set_company(self.company):
            bob = create_service(create_customer('Bob'),
                service.plan.template, other, login='bob')
        Service.activate([service, bob])
        self.sim.stop()
        Router.sync([router, other])
        self.assertEqual(router.status, 'offline')
        self.assertEqual(service.sync_status, 'error')
        self.assertIsNone(other.sync_error)
        self.assertEqual(bob.sync_status, 'in_sync')
        self.assertIn('bob', user_rows(other_sim))

    @with_transaction()
    def test_wrong_password(self):
        "Login refused: recorded, then fixed by correcting the password"
        pool = Pool()
        Router = pool.get('isp.router')
        Service = pool.get('isp.service')
        _, router, service = self.setup_service(password='wrong')
        Service.activate([service])
        Router.sync([router])
        self.assert_fault_recorded(router, service, 'refused the login')
        with self.assertRaises(RouterConnectionError) as cm:
            Router.test_connection([router])
        self.assertIn('refused the login', cm.exception.message)
        Router.write([router], {'password': 'secret'})
        self.assertEqual(len(self.queued(router)), 1)
        Router.sync([router])
        self.assertIsNone(router.sync_error)
        self.assertEqual(service.sync_status, 'in_sync')

    @with_transaction()
    def test_timeout(self):
        "A router that never answers times out; the next sync converges"
        pool = Pool()
        Router = pool.get('isp.router')
        Service = pool.get('isp.service')
        _, router, service = self.setup_service()
        Service.activate([service])
        self.sim.faults.blackhole = True
        Router.sync([router])
        self.assert_fault_recorded(router, service, 'did not answer in time')
        self.assertEqual(router.status, 'offline')
        self.sim.faults.clear()
        Router.sync([router])
        self.assertIsNone(router.sync_error)
        self.assertIn('alice', user_rows(self.sim))

    @with_transaction()
    def test_connection_dropped_mid_sync(self):
        "The router drops the connection mid-sync; the next sync converges"
        pool = Pool()
        Router = pool.get('isp.router')
        Service = pool.get('isp.service')
        _, router, service = self.setup_service()
        Service.activate([service])
        self.sim.faults.drop_after = 3
        Router.sync([router])
        self.assertTrue(router.sync_error)
        self.assertEqual(service.sync_status, 'error')
        self.assertEqual(service.state, 'active')
        self.sim.faults.clear()
        Router.sync([router])
        self.assertIsNone(router.sync_error)
        self.assertEqual(service.sync_status, 'in_sync')
        self.assertIn('alice', user_rows(self.sim))

    @with_transaction()
    def test_trap(self):
        "A !trap on one command fails that item only; then converges"
        pool = Pool()
        Router = pool.get('isp.router')
        Service = pool.get('isp.service')
        plan, router, service = self.setup_service()
        with set_company(self.company):
            services = [service] + [create_service(service.customer, plan,
                    router, login='user%d' % i) for i in range(4)]
        Service.activate(services)
        self.sim.faults.trap_every = 4
        Router.sync([router])
        self.assertIn('simulated fault', router.sync_error)
        statuses = {s.sync_status for s in services}
        self.assertIn('error', statuses)
        self.assertTrue(any('simulated fault' in (s.sync_message or '')
                for s in services))
        self.sim.faults.clear()
        Router.sync([router])
        self.assertIsNone(router.sync_error)
        self.assertEqual({s.sync_status for s in services}, {'in_sync'})
        self.assertEqual(set(user_rows(self.sim)),
            {s.login for s in services})

    @with_transaction()
    def test_routeros_633_challenge(self):
        "A RouterOS 6.33 router (challenge login) is synced"
        pool = Pool()
        Router = pool.get('isp.router')
        Service = pool.get('isp.service')
        sim = self.start_sim(version='6.33')
        _, router, service = self.setup_service(sim=sim)
        Service.activate([service])
        Router.sync([router])
        self.assertIsNone(router.sync_error)
        self.assertIn('alice', user_rows(sim))
        Router.test_connection([router])
        self.assertTrue(router.reported_version.startswith('6.33'))

    @with_transaction()
    def test_routeros_7_tls(self):
        "A RouterOS 7.x router over API-SSL (anonymous TLS)"
        pool = Pool()
        Router = pool.get('isp.router')
        Service = pool.get('isp.service')
        sim = self.start_sim(version='7.18', tls='adh')
        _, router, service = self.setup_service(sim=sim)
        Router.write([router], {'tls': True, 'port': sim.tls_port})
        Service.activate([service])
        Router.sync([router])
        self.assertIsNone(router.sync_error)
        self.assertIn('alice', user_rows(sim))
        Router.test_connection([router])
        self.assertTrue(router.reported_version.startswith('7.18'))
        self.assertEqual(router.status, 'online')
        self.assertTrue(router.identity)
        self.assertTrue(router.board)

    @with_transaction()
    def test_buttons_as_technician(self):
        "A technician assigned to the router tests, refreshes and syncs it"
        pool = Pool()
        Router = pool.get('isp.router')
        Service = pool.get('isp.service')
        User = pool.get('res.user')
        _, router, service = self.setup_service()
        Service.activate([service])
        tech = create_staff('tech_sync', 'group_isp_technician')
        User.write([tech], {'companies': [('add', [self.company.id])],
                'company': self.company.id})
        Router.write([router], {'users': [('add', [tech.id])]})
        with Transaction().set_user(tech.id), \
                Transaction().set_context(company=self.company.id), \
                check_access():
            Router.test_connection([Router(router.id)])
            Router.refresh_status([Router(router.id)])
            Router.sync_now([Router(router.id)])
        self.assertEqual(router.status, 'online')
        self.assertEqual(service.sync_status, 'in_sync')
        self.assertIn('alice', user_rows(self.sim))
        viewer = create_staff('viewer_sync', 'group_isp_viewer')
        with Transaction().set_user(viewer.id), check_access():
            with self.assertRaises(UserError):
                Router.sync_now([Router(router.id)])

    @with_transaction()
    def test_refresh_status(self):
        "Status fields and a history row; a stopped router is offline"
        pool = Pool()
        Router = pool.get('isp.router')
        Status = pool.get('isp.router.status')
        _, router, _ = self.setup_service()
        Router.refresh_status([router])
        self.assertEqual(router.status, 'online')
        self.assertTrue(router.identity)
        self.assertIsNotNone(router.memory_total)
        self.assertLess(router.memory_total, 1024 * 1024)  # MiB
        reading, = Status.search([('router', '=', router.id)])
        self.assertTrue(reading.online)
        self.sim.stop()
        Router.cron_refresh_status()
        self.assertEqual(router.status, 'offline')
        self.assertEqual(
            [s.online for s in Status.search([('router', '=', router.id)])],
            [False, True])

    @with_transaction()
    def test_queue_one_task_per_router(self):
        "Changes enqueue exactly one sync per affected router"
        pool = Pool()
        Service = pool.get('isp.service')
        Template = pool.get('product.template')
        plan, router, service = self.setup_service()
        self.assertEqual(self.queued(), [])  # a draft touches no router
        with set_company(self.company):
            bob = create_service(
                service.customer, plan, router, login='bob')
        Service.activate([service, bob])
        Service.write([service], {'password': 'Other-123'})
        Service.write([bob], {'mac_address': 'AA:BB:CC:DD:EE:FF'})
        self.assertEqual(len(self.queued(router)), 1)
        self.assertEqual(len(self.queued()), 1)

        # moving a service enqueues the old router and the new one
        other = create_router('R2', host='127.0.0.1', port=1)
        Service.write([bob], {'router': other.id})
        self.assertEqual(len(self.queued(router)), 1)
        self.assertEqual(len(self.queued(other)), 1)

        # a plan rate change marks its services pending
        Service.write([service, bob], {'sync_status': 'in_sync'})
        Template.write([plan], {'download_rate': 20000})
        self.assertEqual(
            {service.sync_status, bob.sync_status}, {'pending'})
        self.assertEqual(len(self.queued()), 2)

    def test_after_commit_and_rollback(self):
        "The task runs after commit; a rolled-back change queues nothing"
        pool = Pool(DB_NAME)
        with Transaction().start(DB_NAME, 0) as transaction:
            pool.init()
            Queue = pool.get('ir.queue')
            Service = pool.get('isp.service')
            Router = pool.get('isp.router')
            company = create_company()
            with set_company(company):
                plan = create_plan('Commit Plan')
                router = create_router('RC', host=self.sim.host,
                    port=self.sim.port, password='secret')
                service = create_service(
                    create_customer('Carol'), plan, router, login='carol')
            transaction.commit()
            queue_count = Queue.search([], count=True)
            router_id, service_id = router.id, service.id

        try:
            # rollback: no task, nothing on the router
            with Transaction().start(DB_NAME, 0) as transaction:
                Service.activate([Service(service_id)])
                self.assertEqual(len(transaction.tasks), 1)
                transaction.rollback()
                transaction.tasks.clear()
            with Transaction().start(DB_NAME, 0):
                self.assertEqual(Queue.search([], count=True), queue_count)
                self.assertEqual(Service(service_id).state, 'draft')
            self.assertNotIn('carol', user_rows(self.sim))

            # commit: one task, run after the commit like the dispatcher
            with Transaction().start(DB_NAME, 0) as transaction:
                Service.activate([Service(service_id)])
                Service.write([Service(service_id)],
                    {'password': 'Later-123'})
                tasks = list(transaction.tasks)
                self.assertEqual(len(tasks), 1)
                self.assertNotIn('carol', user_rows(self.sim))
                transaction.commit()
                transaction.tasks.clear()
            for task_id in tasks:
                run_task(DB_NAME, task_id)
            row = user_rows(self.sim)['carol']
            self.assertEqual(row['password'], 'Later-123')
            with Transaction().start(DB_NAME, 0):
                self.assertEqual(Service(service_id).sync_status, 'in_sync')
                self.assertIsNotNone(Router(router_id).last_sync)
        finally:
            with Transaction().start(DB_NAME, 0) as transaction:
                service = Service(service_id)
                if service.state != 'draft':
                    Service.cancel([service])
                Service.delete([service])
                Router.delete([Router(router_id)])
                Queue.delete(Queue.search([]))
                transaction.commit()
                transaction.tasks.clear()

    @with_transaction()
    def test_cron_sync(self):
        "The scheduled reconcile queues every active router once"
        pool = Pool()
        Router = pool.get('isp.router')
        _, router, _ = self.setup_service()
        inactive = create_router('R9', host='127.0.0.1', port=2)
        Router.write([inactive], {'active': False})
        Router.cron_sync()
        task, = self.queued()
        self.assertEqual(list(task.data['instances']), [router.id])
        self.assertEqual(task.data['kwargs'], {'sweep': True})

    @with_transaction()
    def test_fleet_task_reconciles_routers_in_parallel(self):
        """The scheduled reconcile of a fleet is one task per
        FLEET_TASK_ROUTERS routers, not one per router; the task reconciles
        its routers side by side, and a router that is down is recorded
        without holding up or undoing the others"""
        pool = Pool()
        Router = pool.get('isp.router')
        Service = pool.get('isp.service')
        plan, router, service = self.setup_service()
        sims = [self.sim] + [self.start_sim() for _ in range(3)]
        services = [service]
        with set_company(self.company):
            for n, sim in enumerate(sims[1:], 2):
                other = create_router(f'R{n}', host=sim.host, port=sim.port)
                services.append(create_service(service.customer, plan, other,
                        login=f'user{n}'))
            # nobody listens there
            down = create_router('R-down', host='127.0.0.1', port=free_port())
        sims[-1].faults.refuse = True   # R4 and R-down: refused
        Service.activate(services)
        for sim in sims:
            sim.faults.latency = 0.3    # per API round trip
        Router.cron_sync()
        task, = self.queued()
        routers = Router.search([])
        self.assertEqual(sorted(task.data['instances']),
            sorted(r.id for r in routers))

        # a smaller task size: 5 routers make 3 tasks
        Queue = pool.get('ir.queue')
        Queue.delete(Queue.search([]))
        Transaction().join(sync._SyncQueue())._clear()
        size = sync.FLEET_TASK_ROUTERS
        sync.FLEET_TASK_ROUTERS = 2
        try:
            Router.cron_sync()
        finally:
            sync.FLEET_TASK_ROUTERS = size
        self.assertEqual(
            sorted(len(t.data['instances']) for t in self.queued()),
            [1, 2, 2])

        # open API connections over all routers, at each command
        open_connections = []
        for sim in sims:
            def record(command, sim=sim, original=sim._record):
                open_connections.append(
                    sum(s.connections for s in sims))
                original(command)
            sim._record = record
        Router.sync(routers, sweep=True)
        for sim in sims:
            sim.faults.latency = 0
        for sim, service in zip(sims[:3], services[:3]):
            self.assertIn(service.login, user_rows(sim))
            self.assertEqual(service.sync_status, 'in_sync')
            self.assertEqual(service.router.status, 'online')
        for failed in [services[3].router, down]:
            self.assertEqual(failed.status, 'offline')
            self.assertIn('cannot be reached', failed.sync_error)
        self.assertEqual(services[3].sync_status, 'error')
        # side by side: the routers were connected at the same time
        self.assertGreater(max(open_connections), 1)

    @with_transaction()
    def test_usage_counter_reset(self):
        "Usage accumulates across logouts and a reboot, never twice"
        pool = Pool()
        Router = pool.get('isp.router')
        Service = pool.get('isp.service')
        Usage = pool.get('isp.usage')
        _, router, service = self.setup_service()
        Service.activate([service])
        Router.sync([router])

        def traffic(bytes_in, bytes_out):
            self.sim.login('alice', kind='hotspot')
            self.sim.add_traffic('alice', bytes_in=bytes_in,
                bytes_out=bytes_out, kind='hotspot')
            self.sim.logout('alice', kind='hotspot')

        def totals():
            usages = Usage.search([('service', '=', service.id)])
            return (sum(u.bytes_in for u in usages),
                sum(u.bytes_out for u in usages))

        self.sim.advance(3600)  # the router has been up for an hour
        traffic(1000, 5000)
        Usage.collect([router])
        self.assertEqual(totals(), (1000, 5000))
        Usage.collect([router])  # no new traffic: nothing added
        self.assertEqual(totals(), (1000, 5000))
        traffic(500, 700)
        Usage.collect([router])
        self.assertEqual(totals(), (1500, 5700))
        self.sim.reboot()  # counters restart; uptime tells the reboot
        traffic(3000, 9000)  # more than before the reboot
        Usage.collect([router])
        self.assertEqual(totals(), (4500, 14700))
        usage, = Usage.search([('service', '=', service.id)])
        self.assertEqual(usage.month, dt.date.today().replace(day=1))
        self.assertEqual(usage.router, router)


del TestCase

if __name__ == '__main__':
    unittest.main()
