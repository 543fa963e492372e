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
from trytond.tests.test_tryton import with_transaction
from trytond.transaction import Transaction

from ..models.service import Service as BaseService
from ..exceptions import ExtensionError, PlanChangeError
from .test_module import (
    create_customer, create_plan, create_router, create_service)
from ..times import utcnow
from .test_payment import AccountingMixin
from .tools import IspTestCase


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
        results, shown = [], {}
        for state, data in steps:
            # the client sends back the whole form it was shown
            data = {name: dict(shown.get(name, {}), **values)
                for name, values in data.items()}
            result = Wizard.execute(session_id, data, state)
            if 'view' in result:
                view = result['view']
                shown[view['state']] = {k: v
                    for k, v in view['defaults'].items() if '.' not in k}
            results.append(result)
    return results


class LedgerTestCase(AccountingMixin, IspTestCase):
    "Test the ledger of paid time"
    committed_accounting = True

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

    # --- 5: the Extend wizard saves the chosen reason ---

    def extend_data(self, **values):
        data = {'days': 2, 'paid': False, 'reason': None, 'note': None,
            'payment_method': None, 'amount': None, 'reference': None}
        data.update(values)
        return {'start': data}

    @with_transaction()
    def test_extend_reason_no_fallback(self):
        """No reason is proposed, and the value sao falls back to while it
        redisplays the selection is "no reason", never Compensation"""
        pool = Pool()
        Start = pool.get('isp.service.extend.start')
        company = self.setup_accounting()
        with set_company(company):
            result, = run_wizard(
                'isp.service.extend', [self.service], [('start', {})])
            defaults = result['view']['defaults']
            self.assertIsNone(defaults.get('reason'))
            self.assertEqual(defaults['services'], [self.service.id])
            selection = Start.fields_get(['reason'])['reason']
            self.assertIsNone(selection['selection'][0][0])
            self.assertFalse(selection['sort'])
            # what the client re-asks on a change does not touch reason
            amount = Start.fields_get(['amount'])['amount']
            self.assertNotIn('reason', amount['on_change_with'])
            self.assertFalse(selection.get('on_change'))

    @with_transaction()
    def test_extend_wizard_saves_reason(self):
        "Each free reason chosen in the wizard is the one recorded"
        pool = Pool()
        Service = pool.get('isp.service')
        Extension = pool.get('isp.service.extension')
        company = self.setup_accounting()
        with set_company(company):
            for reason in ['other', 'reward', 'trial', 'compensation']:
                run_wizard('isp.service.extend', [self.service], [
                        ('start', {}),
                        ('extend', self.extend_data(
                                reason=reason, note='Storm %s' % reason)),
                        ])
                extension, = Extension.search([], limit=1)
                self.assertEqual(extension.reason, reason)
                self.assertEqual(extension.note, 'Storm %s' % reason)
            self.assertEqual(Service(self.service.id).state, 'active')
            # what a racing client sends instead: refused, nothing written
            count = Extension.search([], count=True)
            with self.assertRaises(ExtensionError):
                run_wizard('isp.service.extend', [self.service], [
                        ('start', {}),
                        ('extend', self.extend_data(note='no reason')),
                        ])
            self.assertEqual(Extension.search([], count=True), count)

    # --- 6: the wizards act on every selected service ---

    @with_transaction()
    def test_extend_several_services(self):
        "Extend gives the days to every selected service, or to none"
        pool = Pool()
        Service = pool.get('isp.service')
        Extension = pool.get('isp.service.extension')
        company = self.setup_accounting()
        with set_company(company):
            bob = create_service(
                create_customer('Bob'), self.plan, self.router, login='bob')
            results = run_wizard('isp.service.extend', [self.service, bob], [
                    ('start', {}),
                    ('extend', self.extend_data(reason='other', note='x')),
                    ])
            self.assertEqual(sorted(results[0]['view']['defaults']['services']),
                sorted([self.service.id, bob.id]))
            for service in [self.service, bob]:
                service = Service(service.id)
                self.assertEqual(service.state, 'active')
                extension, = service.extensions
                self.assertEqual(extension.reason, 'other')
            # a cancelled service in the selection: a clear error, no days
            carol = create_service(
                create_customer('Carol'), self.plan, self.router,
                login='carol')
            Service.cancel([carol])
            before = Extension.search([], count=True)
            with self.assertRaises(ExtensionError) as cm:
                run_wizard('isp.service.extend', [self.service, carol], [
                        ('start', {}),
                        ('extend', self.extend_data(reason='trial')),
                        ])
            self.assertIn('carol', cm.exception.message)
            self.assertEqual(Extension.search([], count=True), before)

    @with_transaction()
    def test_paid_extend_several_services(self):
        "Paid days for two services of a customer: one invoice, both extended"
        pool = Pool()
        Service = pool.get('isp.service')
        Invoice = pool.get('account.invoice')
        company = self.setup_accounting()
        with set_company(company):
            second = create_service(
                self.customer, self.plan, self.router, login='alice2')
            result, _ = run_wizard(
                'isp.service.extend', [self.service, second], [
                    ('start', {}),
                    ('extend', self.extend_data(
                            days=3, paid=True, payment_method=self.cash.id,
                            amount=Decimal('4.00'))),
                    ])
            self.assertEqual(result['view']['defaults']['amount'],
                Decimal('1.34'))   # 2 x 20 / 30
            invoice, = Invoice.search([])
            self.assertEqual(invoice.state, 'paid')
            self.assertEqual(invoice.total_amount, Decimal('4.00'))
            for service in [self.service, second]:
                self.assertEqual(Service(service.id).state, 'active')
            # two customers cannot share one invoice
            bob = create_service(
                create_customer('Bob'), self.plan, self.router, login='bob')
            with self.assertRaises(UserError):
                run_wizard('isp.service.extend', [self.service, bob], [
                        ('start', {}),
                        ('extend', self.extend_data(
                                days=3, paid=True,
                                payment_method=self.cash.id,
                                amount=Decimal('4.00'))),
                        ])
            self.assertEqual(Invoice.search([], count=True), 1)

    @with_transaction()
    def test_change_plan_several_services(self):
        "Change Plan converts every selected service, or refuses them all"
        pool = Pool()
        Service = pool.get('isp.service')
        company = self.setup_accounting()
        with set_company(company):
            fibre = create_plan('Fibre', price=40).products[0]
            bob = create_service(
                create_customer('Bob'), self.plan, self.router, login='bob')
            Service.extend([self.service, bob], 10, 'trial')
            start, confirm, _ = run_wizard(
                'isp.service.change_plan', [self.service, bob], [
                    ('start', {}),
                    ('confirm', {'start': {
                                'plan': fibre.id, 'when': 'now'}}),
                    ('change', {}),
                    ])
            defaults = start['view']['defaults']
            self.assertEqual(sorted(defaults['services']),
                sorted([self.service.id, bob.id]))
            self.assertEqual(defaults['current_plan'], self.plan.products[0].id)
            rule = confirm['view']['defaults']['rule']
            self.assertIn('alice', rule)
            self.assertIn('bob', rule)
            for service in [self.service, bob]:
                service = Service(service.id)
                self.assertEqual(service.plan, fibre)
                days = (service.paid_until - utcnow()).total_seconds() / 86400
                self.assertAlmostEqual(days, 5, delta=0.01)

            # a PPPoE service with hotspot ones: no plan fits them all
            pppoe = create_plan('Fibre PPPoE', kind='pppoe')
            dave = create_service(
                create_customer('Dave'), pppoe, self.router, login='dave')
            with self.assertRaises(PlanChangeError) as cm:
                run_wizard('isp.service.change_plan', [self.service, dave],
                    [('start', {})])
            self.assertIn('not all of one kind', cm.exception.message)
            Service.cancel([bob])
            with self.assertRaises(PlanChangeError) as cm:
                run_wizard('isp.service.change_plan', [self.service, bob],
                    [('start', {})])
            self.assertIn('bob', cm.exception.message)
            # refused at the last step too (the selection is re-checked)
            with self.assertRaises(PlanChangeError):
                Service.change_plan([self.service, bob],
                    self.plan.products[0])
            self.assertEqual(Service(self.service.id).plan, fibre)

    # --- 7c: a credit note takes the paid time back ---

    def credit(self, invoice, refund=False):
        Invoice = Pool().get('account.invoice')
        credit_note, = Invoice.credit([invoice], refund=refund)
        if not refund:
            Invoice.post([credit_note])
        return Invoice(credit_note.id)

    @with_transaction()
    def test_credit_note_takes_time_back(self):
        "Crediting a paid renewal moves paid_until back once, then expires"
        pool = Pool()
        Service = pool.get('isp.service')
        Invoice = pool.get('account.invoice')
        Extension = pool.get('isp.service.extension')
        company = self.setup_accounting()
        with set_company(company):
            first = Service.pay_renewal([self.service], 1, self.cash)
            paid_until_1 = Service(self.service.id).paid_until
            second = Service.pay_renewal([self.service], 2, self.cash)
            paid_until_3 = Service(self.service.id).paid_until

            credit_note = self.credit(second)
            self.assertEqual(credit_note.state, 'posted')
            service = Service(self.service.id)
            self.assertEqual(service.paid_until, paid_until_1)
            self.assertEqual(service.state, 'active')
            record, = Extension.search([('reason', '=', 'credit')])
            self.assertEqual(record.invoice, credit_note)
            self.assertEqual(record.paid_until_before, paid_until_3)
            self.assertEqual(record.paid_until_after, paid_until_1)
            self.assertLess(record.days, -58)
            self.assertIn(second.rec_name, record.note)
            for line in second.lines:
                self.assertIsNotNone(line.isp_credited_by)

            # posted again, or credited again: nothing more is taken
            Invoice._post([credit_note])
            again = self.credit(Invoice(second.id))
            self.assertEqual(again.state, 'posted')
            self.assertEqual(
                Service(self.service.id).paid_until, paid_until_1)
            self.assertEqual(
                Extension.search([('reason', '=', 'credit')], count=True), 1)

            # the first period credited too: no paid time left, expired
            self.credit(first)
            service = Service(self.service.id)
            self.assertLessEqual(service.paid_until, utcnow())
            self.assertEqual(service.state, 'expired')
            self.assertEqual(service.sync_status, 'pending')
            self.assertEqual(
                Extension.search([('reason', '=', 'credit')], count=True), 2)

    @with_transaction()
    def test_credit_unpaid_renewal(self):
        "A credited bill gives no time, refunded or paid later"
        pool = Pool()
        Service = pool.get('isp.service')
        Invoice = pool.get('account.invoice')
        Extension = pool.get('isp.service.extension')
        company = self.setup_accounting()
        with set_company(company):
            bill = Service.bill_renewal([self.service], 1)
            refund = self.credit(bill, refund=True)
            self.assertEqual(refund.state, 'posted')
            self.assertIsNotNone(bill.lines[0].isp_credited_by)
            self.assertEqual(Invoice(bill.id).state, 'cancelled')
            service = Service(self.service.id)
            self.assertEqual(service.state, 'draft')
            self.assertIsNone(service.paid_until)
            self.assertEqual(service.payments, ())

            # credited without refund, then paid anyway: still no time
            bill = Service.bill_renewal([self.service], 1)
            self.credit(bill)
            bill = Invoice(bill.id)
            bill.isp_pay(bill.amount_to_pay, self.cash)
            Invoice.process([bill])
            self.assertEqual(Invoice(bill.id).state, 'paid')
            service = Service(self.service.id)
            self.assertEqual(service.state, 'draft')
            self.assertIsNone(service.paid_until)
            self.assertEqual(
                Extension.search([('reason', '=', 'credit')], count=True), 0)

    # --- 7d: a taxed plan: what is shown, checked, invoiced and recorded ---

    def add_vat(self, rate='0.16'):
        pool = Pool()
        Account = pool.get('account.account')
        Category = pool.get('product.category')
        Tax = pool.get('account.tax')
        account, = Account.search([('code', '=', '6.3.6')], limit=1)
        tax, = Tax.create([{'name': 'VAT', 'description': 'VAT 16%',
                    'type': 'percentage', 'rate': Decimal(rate),
                    'invoice_account': account.id,
                    'credit_note_account': account.id}])
        category, = Category.search([('name', '=', 'Internet')])
        Category.write([category], {'customer_taxes': [('add', [tax.id])]})
        return tax

    def pay_data(self, **values):
        data = {'periods': 1, 'plan': None, 'payment_method': self.cash.id,
            'reference': None}
        data.update(values)
        return {'start': data}

    @with_transaction()
    def test_taxed_plan_payment(self):
        "16% VAT: the wizard, the invoice and the payment show 23.20"
        pool = Pool()
        Service = pool.get('isp.service')
        Configuration = pool.get('isp.configuration')
        company = self.setup_accounting()
        with set_company(company):
            self.add_vat()
            start, _ = run_wizard(
                'isp.service.register_payment', [self.service], [
                    ('start', {}), ('pay', self.pay_data())])
            defaults = start['view']['defaults']
            self.assertEqual(defaults['price'], Decimal('23.20'))
            self.assertEqual(defaults['amount'], Decimal('23.20'))
            service = Service(self.service.id)
            payment, = service.payments
            self.assertEqual(payment.amount, Decimal('23.20'))
            self.assertEqual(payment.invoice.untaxed_amount, Decimal('20'))
            self.assertEqual(payment.invoice.total_amount, Decimal('23.20'))
            self.assertEqual(payment.invoice.state, 'paid')
            self.assertEqual(service.state, 'active')
            self.assertGreater(
                service.paid_until, utcnow() + dt.timedelta(days=27))

            # the untaxed price is not what the customer owes
            with self.assertRaises(UserError):
                Service.pay_renewal(
                    [self.service], 1, self.cash, amount=Decimal('20'))
            # a discount is counted on the total with taxes
            config = Configuration(1)
            config.allow_discount = True
            config.save()
            with self.assertRaises(UserError):
                Service.pay_renewal(
                    [self.service], 1, self.cash, amount=Decimal('23.21'))
            for amount in ['20.00', '17.03', '0.05']:
                invoice = Service.pay_renewal(
                    [self.service], 1, self.cash, amount=Decimal(amount))
                self.assertEqual(invoice.total_amount, Decimal(amount))
                self.assertEqual(invoice.state, 'paid')
                payment, = [p for p in Service(self.service.id).payments
                    if p.invoice == invoice]
                self.assertEqual(payment.amount, Decimal(amount))

    @with_transaction()
    def test_taxed_plan_paid_extension(self):
        "16% VAT on paid days: the wizard proposes the total with taxes"
        pool = Pool()
        Service = pool.get('isp.service')
        company = self.setup_accounting()
        with set_company(company):
            self.add_vat()
            second = create_service(
                self.customer, self.plan, self.router, login='alice2')
            start, _ = run_wizard(
                'isp.service.extend', [self.service, second], [
                    ('start', {}),
                    ('extend', self.extend_data(days=3, paid=True,
                            payment_method=self.cash.id,
                            amount=Decimal('4.64'))),
                    ])
            self.assertEqual(start['view']['defaults']['amount'],
                Decimal('1.55'))   # (0.67 + 0.67) x 1.16, tax rounded once
            for service in [self.service, second]:
                payment, = Service(service.id).payments
                self.assertEqual(payment.amount, Decimal('2.32'))
                self.assertEqual(payment.invoice.total_amount,
                    Decimal('4.64'))
