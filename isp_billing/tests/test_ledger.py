"""The ledger of paid time: what the wizards save, several services at
once, copies, archived plans, credit notes, taxed plans and the login
constraint in the database."""
import datetime as dt
import unittest
from decimal import Decimal

from trytond import backend
from trytond.exceptions import UserError
from trytond.model.exceptions import SQLConstraintError
from trytond.modules.company.tests import set_company
from trytond.pool import Pool
from trytond.tests.test_tryton import (
    TestCase, activate_module, with_transaction)
from trytond.transaction import Transaction

from ..models.service import Service as BaseService
from ..payment_exceptions import ExtensionError, PlanChangeError
from .test_module import (
    create_customer, create_plan, create_router, create_service)
from .test_payment import AccountingMixin


def utcnow():
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def run_wizard(name, records, steps):
    """Run the wizard name on records as the client does: steps is a list
    of (state, data) executed in order; returns the results"""
    Wizard = Pool().get(name, type='wizard')
    ids = [r.id for r in records]
    context = {
        'active_model': records[0].__name__ if records else None,
        'active_id': ids[0] if ids else None,
        'active_ids': ids,
        }
    with Transaction().set_context(context):
        session_id, start, _ = Wizard.create()
        results = []
        for state, data in steps:
            results.append(Wizard.execute(session_id, data, state))
    return results


class LedgerTestCase(AccountingMixin, TestCase):
    "Test the ledger of paid time"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        activate_module('isp_billing')

    # --- 7b: archived plans keep their router profile ---

    @with_transaction()
    def test_plan_name_of_archived_plan(self):
        "A new plan named like an archived one gets a free profile name"
        Template = Pool().get('product.template')
        company = self.setup_accounting()
        with set_company(company):
            Template.write([self.plan], {'active': False})
            self.assertEqual(self.plan.router_profile, 'isp-home-10m')
            try:
                plan = create_plan('Home 10M')
            except SQLConstraintError as e:  # the bug: a constraint error
                self.fail('SQL constraint error: %s' % e)
            self.assertEqual(plan.router_profile, 'isp-home-10m-2')
            # restoring the archived plan keeps both profiles apart
            Template.write([self.plan], {'active': True})
            self.assertEqual(
                Template(self.plan.id).router_profile, 'isp-home-10m')
            third = create_plan('Home 10M')
            self.assertEqual(third.router_profile, 'isp-home-10m-3')

    # --- 7a: copying a service ---

    @with_transaction()
    def test_copy_active_service(self):
        "A copy of an active service is a draft with a fresh login"
        Service = Pool().get('isp.service')
        company = self.setup_accounting()
        with set_company(company):
            Service.write([self.service], {
                    'mac_address': 'AA:BB:CC:DD:EE:FF',
                    'ip_address': '10.0.0.5'})
            Service.pay_renewal([self.service], 1, self.cash)
            self.assertEqual(Service(self.service.id).state, 'active')
            copy, = Service.copy([self.service])
            self.assertEqual(copy.login, 'alice-2')
            self.assertEqual(copy.router, self.service.router)
            self.assertEqual(copy.customer, self.service.customer)
            self.assertEqual(copy.state, 'draft')
            self.assertIsNone(copy.paid_until)
            self.assertIsNone(copy.mac_address)
            self.assertIsNone(copy.ip_address)
            self.assertEqual(copy.payments, ())
            # again: the next free number; both originals at once
            again, = Service.copy([self.service])
            self.assertEqual(again.login, 'alice-3')
            copies = Service.copy([self.service, copy])
            self.assertEqual(
                sorted(c.login for c in copies), ['alice-2-2', 'alice-4'])
            # a given login is kept, and checked
            with self.assertRaises(UserError) as cm:
                Service.copy([self.service], default={'login': 'alice-2'})
            self.assertIn('alice-2', cm.exception.message)

    # --- 8: the login is unique in the database ---

    @with_transaction()
    def test_login_unique_clear_message(self):
        "A duplicate login is refused with the login and router named"
        Service = Pool().get('isp.service')
        company = self.setup_accounting()
        with set_company(company):
            other = create_customer('Bob')
            with self.assertRaises(UserError) as cm:
                create_service(other, self.plan, self.router, login='alice')
            self.assertIn('"alice"', cm.exception.message)
            self.assertIn(self.router.rec_name, cm.exception.message)
            # cancelled services free their login; restoring is refused
            Service.cancel([self.service])
            bob = create_service(other, self.plan, self.router, login='alice')
            self.assertEqual(bob.state, 'draft')
            # same login on another router: fine
            r2 = create_router('R2', port=8729)
            create_service(other, self.plan, r2, login='alice')

    @unittest.skipIf(backend.name == 'sqlite',
        'the exclusion constraint exists on PostgreSQL only')
    @with_transaction()
    def test_login_exclusion_constraint(self):
        "Rows inserted around the Python checks are refused by PostgreSQL"
        pool = Pool()
        Service = pool.get('isp.service')
        company = self.setup_accounting()
        with set_company(company):
            table = Service.__table__()
            cursor = Transaction().connection.cursor()
            columns = [table.company, table.customer, table.plan,
                table.router, table.kind, table.login, table.password,
                table.state, table.create_uid, table.create_date]
            select = table.select(*columns,
                where=table.id == self.service.id)
            # a cancelled duplicate is allowed by the constraint
            cursor.execute(*table.update([table.state], ['cancelled'],
                    where=table.id == self.service.id))
            cursor.execute(*table.insert(columns, select))
            cursor.execute(*table.update([table.state], ['active'],
                    where=table.id == self.service.id))
            # a second one that is not cancelled is not
            with self.assertRaises(backend.DatabaseIntegrityError) as cm:
                cursor.execute(*table.insert(columns, table.select(
                            *columns, where=table.id == self.service.id)))
            self.assertIn('login_router_exclude', str(cm.exception))

    @unittest.skipIf(backend.name == 'sqlite',
        'the exclusion constraint exists on PostgreSQL only')
    @with_transaction()
    def test_login_exclusion_constraint_message(self):
        "Refused by the database, the error is the message of message.xml"
        pool = Pool()
        Service = pool.get('isp.service')
        company = self.setup_accounting()
        with set_company(company):
            other = create_customer('Bob')
            values = dict(customer=other.id, plan=self.plan.products[0].id,
                router=self.router.id, kind='hotspot', login='alice',
                password='Pass-123')
            # ModelSQL.create itself, as a concurrent transaction would
            # reach it (the Python checks passed before alice committed)
            with self.assertRaises(SQLConstraintError) as cm:
                super(BaseService, Service).create([values])
            self.assertIn('Another service that is not cancelled',
                cm.exception.message)
