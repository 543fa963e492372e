"""Payments, extensions and expiry: bad input writes nothing; exactly once."""
import datetime as dt
from decimal import Decimal

from trytond.exceptions import UserError
from trytond.modules.account.tests import create_chart, get_fiscalyear
from trytond.modules.account_invoice.tests import set_invoice_sequences
from trytond.modules.company.tests import (
    CompanyTestMixin, create_company, set_company)
from trytond.pool import Pool
from trytond.tests.test_tryton import ModuleTestCase, with_transaction

from ..payment_exceptions import ExtensionError, PaymentError, PlanChangeError
from .test_module import create_customer, create_plan, create_router, create_service


def utcnow():
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


class PaymentTestCase(CompanyTestMixin, ModuleTestCase):
    "Test the pre-paid cycle"
    module = 'isp_billing'

    def setup_accounting(self, fiscalyear=True):
        pool = Pool()
        Account = pool.get('account.account')
        Category = pool.get('product.category')
        Journal = pool.get('account.journal')
        Method = pool.get('account.invoice.payment.method')
        Template = pool.get('product.template')
        company = create_company()
        self.company = company
        with set_company(company):
            create_chart(company)
            if fiscalyear:
                year = set_invoice_sequences(get_fiscalyear(company))
                year.save()
                year.create_period([year])
                self.fiscalyear = year
            revenue, = Account.search([('type.revenue', '=', True),
                    ('closed', '!=', True)], limit=1)
            cash, = Account.search([('code', '=', '1.1.1')], limit=1)
            category, = Category.create([{'name': 'Internet',
                        'accounting': True, 'account_revenue': revenue.id}])
            self.plan = create_plan()
            Template.write([self.plan], {'account_category': category.id})
            self.router = create_router()
            self.customer = create_customer()
            self.customer.addresses = [{}]
            self.customer.save()
            self.service = create_service(
                self.customer, self.plan, self.router)
            journal, = Journal.search([('type', '=', 'cash')], limit=1)
            self.cash, = Method.create([{'name': 'Cash',
                        'journal': journal.id, 'credit_account': cash.id,
                        'debit_account': cash.id}])
        return company

    def count(self, model):
        return Pool().get(model).search([], count=True)

    def assert_nothing_written(self, before):
        for model, count in before.items():
            self.assertEqual(self.count(model), count, model)

    def snapshot(self):
        return {m: self.count(m) for m in ['account.invoice',
                'account.move', 'isp.service.payment',
                'isp.service.extension']}

    @with_transaction()
    def test_counter_payment_once(self):
        "A paid invoice extends once, whatever is retried"
        pool = Pool()
        Service = pool.get('isp.service')
        Invoice = pool.get('account.invoice')
        company = self.setup_accounting()
        with set_company(company):
            invoice = Service.pay_renewal(
                [self.service], 2, self.cash, reference='R1')
            self.assertEqual(invoice.state, 'paid')
            service = Service(self.service.id)
            self.assertEqual(service.state, 'active')
            paid_until = service.paid_until
            self.assertTrue(paid_until > utcnow() + dt.timedelta(days=55))
            self.assertIsNone(paid_until.tzinfo)
            # retried hook: process again, paid again after a reversal
            Invoice.process([invoice])
            Invoice.write([invoice], {'state': 'posted'})
            Invoice.paid([Invoice(invoice.id)])
            Service.apply_paid_lines(list(Invoice(invoice.id).lines))
            self.assertEqual(Service(self.service.id).paid_until, paid_until)
            self.assertEqual(len(Service(self.service.id).payments), 1)

    @with_transaction()
    def test_bill_only_then_partial(self):
        "A billed invoice does not activate; nor does a partial payment"
        pool = Pool()
        Service = pool.get('isp.service')
        Invoice = pool.get('account.invoice')
        company = self.setup_accounting()
        with set_company(company):
            invoice = Service.bill_renewal([self.service], 1)
            self.assertEqual(invoice.state, 'posted')
            invoice.isp_pay(Decimal('5'), self.cash)
            Invoice.process([invoice])
            invoice = Invoice(invoice.id)
            self.assertEqual(invoice.state, 'posted')
            self.assertEqual(invoice.amount_to_pay, Decimal('15'))
            self.assertEqual(Service(self.service.id).state, 'draft')
            with self.assertRaises(PaymentError):
                invoice.isp_pay(Decimal('16'), self.cash)
            invoice.isp_pay(Decimal('15'), self.cash)
            Invoice.process([invoice])
            self.assertEqual(Invoice(invoice.id).state, 'paid')
            self.assertEqual(Service(self.service.id).state, 'active')

    @with_transaction()
    def test_bad_periods_amount_method(self):
        "Zero or negative periods, a wrong amount, no method: nothing written"
        pool = Pool()
        Service = pool.get('isp.service')
        company = self.setup_accounting()
        with set_company(company):
            before = self.snapshot()
            for periods in [0, -1, None]:
                with self.assertRaises(PaymentError):
                    Service.pay_renewal([self.service], periods, self.cash)
            with self.assertRaises(PaymentError):
                Service.pay_renewal([self.service], 1, None)
            with self.assertRaises(PaymentError):
                Service.pay_renewal(
                    [self.service], 1, self.cash, amount=Decimal('15'))
            with self.assertRaises(PaymentError):
                Service.pay_renewal(
                    [self.service], 1, self.cash, amount=Decimal('-20'))
            with self.assertRaises(PaymentError):
                Service.pay_renewal([], 1, self.cash)
            self.assert_nothing_written(before)
            self.assertIsNone(Service(self.service.id).paid_until)

    @with_transaction()
    def test_cancelled_service(self):
        "A cancelled service cannot be paid, billed, extended or re-planned"
        pool = Pool()
        Service = pool.get('isp.service')
        company = self.setup_accounting()
        with set_company(company):
            fibre = create_plan('Fibre', price=40)
            Service.cancel([self.service])
            before = self.snapshot()
            with self.assertRaises(PaymentError):
                Service.pay_renewal([self.service], 1, self.cash)
            with self.assertRaises(PaymentError):
                Service.bill_renewal([self.service], 1)
            with self.assertRaises(ExtensionError):
                Service.extend([self.service], 3, 'trial')
            with self.assertRaises(PlanChangeError):
                Service.change_plan([self.service], fibre.products[0])
            self.assert_nothing_written(before)

    @with_transaction()
    def test_no_fiscal_year(self):
        "Without a fiscal year the payment is refused with a clear message"
        Service = Pool().get('isp.service')
        company = self.setup_accounting(fiscalyear=False)
        with set_company(company):
            before = self.snapshot()
            with self.assertRaises(PaymentError) as cm:
                Service.pay_renewal([self.service], 1, self.cash)
            self.assertIn('fiscal year', cm.exception.message)
            self.assert_nothing_written(before)

    @with_transaction()
    def test_closed_period(self):
        "A closed accounting period refuses the payment, writes nothing"
        pool = Pool()
        Service = pool.get('isp.service')
        Period = pool.get('account.period')
        Date = pool.get('ir.date')
        company = self.setup_accounting()
        with set_company(company):
            period = Period.find(company, date=Date.today())
            Period.close([Period(period.id)])
            before = self.snapshot()
            with self.assertRaises(PaymentError) as cm:
                Service.pay_renewal([self.service], 1, self.cash)
            self.assertIn('closed', cm.exception.message)
            self.assert_nothing_written(before)

    @with_transaction()
    def test_bad_extension(self):
        "Zero or negative days and unknown reasons are refused"
        Service = Pool().get('isp.service')
        company = self.setup_accounting()
        with set_company(company):
            before = self.snapshot()
            for days in [0, -3, None]:
                with self.assertRaises(ExtensionError):
                    Service.extend([self.service], days, 'trial')
                with self.assertRaises(ExtensionError):
                    Service.pay_extension([self.service], days, self.cash)
            with self.assertRaises(ExtensionError):
                Service.extend([self.service], 3, 'suspension')
            self.assert_nothing_written(before)
            Service.extend([self.service], 3, 'trial', note="Welcome")
            service = Service(self.service.id)
            self.assertEqual(service.state, 'active')
            extension, = service.extensions
            self.assertEqual(extension.days, 3)
            self.assertEqual(extension.reason, 'trial')
            self.assertIsNone(extension.paid_until_before)
            self.assertEqual(extension.paid_until_after, service.paid_until)

    @with_transaction()
    def test_expire_bulk(self):
        "The sweep expires past-due services only, honouring grace hours"
        pool = Pool()
        Service = pool.get('isp.service')
        Template = pool.get('product.template')
        company = self.setup_accounting()
        with set_company(company):
            graced = create_plan('Graced', price=5)
            Template.write([graced], {'grace_hours': 6})
            now = utcnow()
            services = []
            for n, (plan, hours) in enumerate([
                        (self.plan, -1), (self.plan, 1),
                        (graced, -3), (graced, -7)]):
                service = create_service(
                    self.customer, plan, self.router, login='s%d' % n)
                Service.write([service], {
                        'paid_until': now + dt.timedelta(hours=hours)})
                services.append(service)
            Service.activate(services)
            expired = Service.expire_due(now=now)
            self.assertEqual(
                sorted(s.login for s in expired), ['s0', 's3'])
            self.assertEqual(
                [Service(s.id).state for s in services],
                ['expired', 'active', 'active', 'expired'])


del ModuleTestCase
