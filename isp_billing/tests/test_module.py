"""Module tests: Tryton's own checks plus staff rights per group."""
from contextlib import contextmanager
from unittest.mock import patch

from trytond.exceptions import UserError
from trytond.model.exceptions import AccessError, ValidationError
from trytond.modules.company.tests import (
    CompanyTestMixin, create_company, set_company)
from trytond.pool import Pool
from trytond.tests.test_tryton import ModuleTestCase, with_transaction
from trytond.transaction import Transaction, check_access

from ..exceptions import (
    ServiceDeleteError, ServiceStateError, ServiceValidationError)
from .tools import (  # noqa: F401 (the other test modules import them here)
    IspTestCase, create_customer, create_plan, create_router,
    create_service, create_staff)


class IspBillingTestCase(CompanyTestMixin, ModuleTestCase):
    "Test isp_billing module"
    module = 'isp_billing'

    @with_transaction()
    def test_customer_code_from_sequence(self):
        "ISP customers get a code; other parties do not"
        Party = Pool().get('party.party')
        alice = create_customer('Alice')
        bob = create_customer('Bob')
        supplier, = Party.create([{'name': 'Supplier'}])
        self.assertTrue(alice.isp_code.startswith('C'))
        self.assertNotEqual(alice.isp_code, bob.isp_code)
        self.assertIsNone(supplier.isp_code)
        Party.write([supplier], {'isp_customer': True,
                'isp_customer_type': 'organization'})
        self.assertTrue(supplier.isp_code)

    @with_transaction()
    def test_plan_profile_stable_across_rename(self):
        "The router profile name is kept when the plan is renamed"
        Template = Pool().get('product.template')
        company = create_company()
        with set_company(company):
            plan = create_plan('Home 10 Mbit/s')
            self.assertEqual(plan.router_profile, 'isp-home-10-mbit-s')
            Template.write([plan], {'name': 'Family 10'})
            self.assertEqual(plan.router_profile, 'isp-home-10-mbit-s')
            other = create_plan('Home 10 Mbit/s!')
            self.assertEqual(other.router_profile, 'isp-home-10-mbit-s-2')
            self.assertEqual(plan.rate_limit, '5M/10M')

    @with_transaction()
    def test_plan_rates_positive(self):
        "A plan with no speed or no duration is refused"
        Template = Pool().get('product.template')
        company = create_company()
        with set_company(company):
            plan = create_plan()
            for field in ['download_rate', 'plan_duration', 'shared_users']:
                with self.assertRaises(UserError):
                    Template.write([plan], {field: 0})

    @with_transaction()
    def test_router_validation(self):
        "Bad host, port or version are refused"
        Router = Pool().get('isp.router')
        create_router()
        for n, values in enumerate([{'host': 'not a host!'}, {'port': 70000},
                    {'routeros_version': 'seven'}]):
            with self.assertRaises(UserError):
                create_router(**dict(
                        dict(name='Bad%d' % n, port=9000 + n), **values))
        with self.assertRaises(UserError):
            # same host and port (an SQL constraint: ends the transaction)
            create_router(name='R2', port=8728)

    @with_transaction()
    def test_service_constraints(self):
        "Login, password, addresses and plan kind are checked"
        Service = Pool().get('isp.service')
        company = create_company()
        with set_company(company):
            plan = create_plan()
            pppoe = create_plan('Fibre', kind='pppoe')
            router = create_router()
            alice = create_customer()
            service = create_service(alice, plan, router)
            bad_values = [
                {'login': 'alice smith'},
                {'login': 'ali=ce'},
                {'password': 'has space'},
                {'password': 'quote"'},
                {'mac_address': '00:11:22'},
                {'ip_address': '10.0.0.300'},
                {'plan': pppoe.products[0].id},
                ]
            for values in bad_values:
                victim = create_service(alice, plan, router,
                    login='case%s' % len(str(values)))
                with self.subTest(values=values):
                    with self.assertRaises(ValidationError):
                        Service.write([victim], values)
                Service.delete([victim])
            victim = create_service(alice, plan, router, login='alice2')
            with self.assertRaises(ServiceValidationError):
                Service.write([victim], {'login': 'alice'})
            Service.delete([victim])
            other_router = create_router('R2', port=8729)
            create_service(alice, plan, other_router, login='alice')
            Service.cancel([service])
            # a cancelled service frees its login
            create_service(alice, plan, router, login='alice')

    @with_transaction()
    def test_service_login_unique_batch(self):
        "Duplicate logins are refused on create and on write of login/router"
        Service = Pool().get('isp.service')
        company = create_company()
        with set_company(company):
            plan = create_plan()
            r1, r2 = create_router(), create_router('R2', port=8729)
            alice = create_customer()
            values = dict(customer=alice.id, plan=plan.products[0].id,
                kind='hotspot', password='Pass-123')

            def login_searches(values, records):
                with patch.object(Service, '_check_login_free',
                        wraps=Service._check_login_free) as query:
                    Service.write(records, values)
                return query.call_args_list
            a, b, c = Service.create([
                    dict(values, router=r1.id, login='a'),
                    dict(values, router=r2.id, login='a'),
                    dict(values, router=r2.id, login='c')])
            # one check for many records, none when no key field changes
            self.assertEqual(len(login_searches(
                        {'login': 'x'}, [a])), 1)
            self.assertEqual(len(login_searches(
                        {'router': r1.id}, [b, c])), 1)
            self.assertEqual(
                len(login_searches({'state': 'active'}, [a, b, c])), 0)
            self.assertEqual(
                len(login_searches({'sync_status': 'error'}, [a, b, c])), 0)
            self.assertEqual(
                len(login_searches({'mac_address': '00:11:22:33:44:55'},
                        [a, b, c])), 0)

            # a failed write stays in the database until the transaction
            # rolls back: every case below uses fresh logins
            with self.assertRaises(ServiceValidationError):
                # two new services with the same login in one create
                Service.create([dict(values, router=r1.id, login='dup'),
                        dict(values, router=r1.id, login='dup')])
            with self.assertRaises(ServiceValidationError):
                create_service(alice, plan, r1, login='a')
            d, e = Service.create([dict(values, router=r1.id, login='d'),
                    dict(values, router=r1.id, login='e')])
            with self.assertRaises(ServiceValidationError):
                Service.write([e], {'login': 'd'})
            f, g = Service.create([dict(values, router=r1.id, login='f'),
                    dict(values, router=r2.id, login='f')])
            with self.assertRaises(ServiceValidationError):
                Service.write([g], {'router': r1.id})
            h, i = Service.create([dict(values, router=r2.id, login='h'),
                    dict(values, router=r2.id, login='i')])
            with self.assertRaises(ServiceValidationError):
                # both moved to the same router and login in one write
                Service.write([h, i], {'router': r1.id, 'login': 'hi'})
            # several services moved together keep distinct keys: fine
            j, k = Service.create([dict(values, router=r2.id, login='j'),
                    dict(values, router=r2.id, login='k')])
            Service.write([j, k], {'router': r1.id})

    @with_transaction()
    def test_service_workflow(self):
        "draft -> active -> suspended -> active -> expired -> cancelled"
        Service = Pool().get('isp.service')
        company = create_company()
        with set_company(company):
            service = create_service(
                create_customer(), create_plan(), create_router())
            Service.activate([service])
            self.assertEqual(service.state, 'active')
            Service.suspend([service])
            self.assertEqual(service.state, 'suspended')
            Service.resume([service])
            self.assertEqual(service.state, 'active')
            Service.expire([service])
            self.assertEqual(service.state, 'expired')
            with self.assertRaises(ServiceDeleteError):
                Service.delete([service])
            Service.cancel([service])
            self.assertEqual(service.state, 'cancelled')
            with self.assertRaises(ServiceStateError):
                Service.activate([service])
            self.assertEqual(service.state, 'cancelled')
            Service.delete([service])


class StaffRightsTestCase(IspTestCase):
    "One thing each group may do and one thing it is refused"

    def setup_records(self, group, assign=None):
        "Two routers with a service each, and a staff user of the group"
        pool = Pool()
        Router, Service = pool.get('isp.router'), pool.get('isp.service')
        User = pool.get('res.user')
        company = create_company()
        with set_company(company):
            self.plan = create_plan()
            self.r1 = create_router('R1')
            self.r2 = create_router('R2', port=8729)
            self.alice = create_customer('Alice')
            bob = create_customer('Bob')
            self.s1 = create_service(self.alice, self.plan, self.r1, login='alice')
            self.s2 = create_service(bob, self.plan, self.r2, login='bob')
            Service.activate([self.s1, self.s2])
        user = create_staff('staff_' + group.split('_')[-1], group)
        User.write([user], {'companies': [('add', [company.id])],
                'company': company.id})
        if assign:
            Router.write([assign], {'users': [('add', [user.id])]})
        return user

    @contextmanager
    def as_user(self, user):
        with Transaction().set_user(user.id), \
                Transaction().set_context(company=user.company.id,
                    companies=[user.company.id]), \
                check_access():
            yield

    @with_transaction()
    def test_administrator(self):
        "Administrator creates routers and sees every router's services"
        pool = Pool()
        Router, Service = pool.get('isp.router'), pool.get('isp.service')
        user = self.setup_records('group_isp_admin')
        Router.write([self.r1], {'users': [('add', [user.id])]})
        with self.as_user(user):
            create_router('R3', port=9000)
            self.assertEqual(Router(self.r1.id).password, 'secret')
            self.assertEqual(Service.search([], count=True), 2)
            with self.assertRaises(ServiceDeleteError):
                Service.delete([Service(self.s1.id)])

    @with_transaction()
    def test_cashier(self):
        "Cashier writes services but may not read router passwords"
        pool = Pool()
        Router, Service = pool.get('isp.router'), pool.get('isp.service')
        user = self.setup_records('group_isp_cashier')
        with self.as_user(user):
            Service.write([Service(self.s1.id)],
                {'mac_address': 'AA:BB:CC:DD:EE:FF'})
            with self.assertRaises(AccessError):
                Router.read([self.r1.id], ['password'])
            with self.assertRaises(AccessError):
                create_router('R3', port=9000)

    @with_transaction()
    def test_accountant(self):
        "Accountant reads services but may not change them"
        Service = Pool().get('isp.service')
        user = self.setup_records('group_isp_accountant')
        with self.as_user(user):
            self.assertEqual(Service.search([], count=True), 2)
            with self.assertRaises(AccessError):
                Service.write([Service(self.s1.id)],
                    {'ip_address': '10.0.0.9'})

    @with_transaction()
    def test_technician(self):
        "Technician on R1 sees R1 only, sets its password, cannot cancel"
        pool = Pool()
        Router, Service = pool.get('isp.router'), pool.get('isp.service')
        Party = pool.get('party.party')
        user = self.setup_records('group_isp_technician')
        Router.write([self.r1], {'users': [('add', [user.id])]})
        with self.as_user(user):
            self.assertEqual(
                [s.login for s in Service.search([])], ['alice'])
            self.assertEqual([r.name for r in Router.search([])], ['R1'])
            self.assertEqual(
                [p.name for p in Party.search([('isp_customer', '=', True)])],
                ['Alice'])
            Router.write([Router(self.r1.id)], {'password': 'n3w'})
            with self.assertRaises(UserError):
                Service.cancel([Service(self.s1.id)])
            self.assertEqual(Service(self.s1.id).state, 'active')

    @with_transaction()
    def test_support(self):
        "Support suspends a service but may not create one"
        Service = Pool().get('isp.service')
        user = self.setup_records('group_isp_support')
        with self.as_user(user):
            Service.suspend([Service(self.s1.id)])
            self.assertEqual(Service(self.s1.id).state, 'suspended')
            with self.assertRaises(AccessError):
                create_service(self.alice, self.plan, self.r1, login='al2')

    @with_transaction()
    def test_viewer(self):
        "Viewer reads every router when none is assigned, changes nothing"
        pool = Pool()
        Router, Service = pool.get('isp.router'), pool.get('isp.service')
        user = self.setup_records('group_isp_viewer')
        with self.as_user(user):
            self.assertEqual(Router.search([], count=True), 2)
            self.assertEqual(Service.search([], count=True), 2)
            with self.assertRaises(UserError):
                Service.suspend([Service(self.s1.id)])
            with self.assertRaises(AccessError):
                Router.write([Router(self.r1.id)], {'name': 'Renamed'})


del ModuleTestCase
