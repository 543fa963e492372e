"""Payments, extensions and expiry: bad input writes nothing; exactly once;
concurrent payments are all applied (PostgreSQL)."""
import datetime as dt
import threading
import time
import unittest
from decimal import Decimal

from dateutil.relativedelta import relativedelta

from routeros_sim import RouterSim
from trytond import backend
from trytond.modules.account.tests import create_chart, get_fiscalyear
from trytond.modules.account_invoice.tests import set_invoice_sequences
from trytond.modules.company.tests import create_company, set_company
from trytond.pool import Pool
from trytond.tests import test_tryton
from trytond.tests.test_tryton import (
    DB_NAME, USER, activate_module, backup_db_cache, drop_db,
    restore_db_cache, with_transaction)
from trytond.transaction import Transaction, TransactionError
from trytond.worker import run_task

from ..exceptions import ExtensionError, PaymentError, PlanChangeError
from ..times import frozen_clock, utcnow
from .tools import (
    IspTestCase, committed, create_customer, create_plan, create_router, create_service)


class AccountingMixin:
    """A company with a chart, a fiscal year, a plan, a service and cash.

    With ``committed_accounting`` (a test class on IspTestCase), all but
    the fiscal year are made once per class and committed, from a cached
    database of their own: a chart of accounts costs seconds per test, tens
    on PostgreSQL.  Each test rolls back on top of it and finds the records
    by search; the fiscal year stays per test (a test may go without)."""
    committed_accounting = False
    #: DB_CACHE key of the database with the committed accounting
    ACCOUNTING_CACHE = 'isp_billing-accounting'

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if cls.committed_accounting:
            drop_db()
            if not restore_db_cache(cls.ACCOUNTING_CACHE):
                activate_module(['isp_billing'])
                committed(lambda: AccountingMixin().setup_accounting(
                        fiscalyear=False))
                backup_db_cache(cls.ACCOUNTING_CACHE)

    def setup_accounting(self, fiscalyear=True):
        if self.committed_accounting:
            return self._committed_accounting(fiscalyear)
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
                self.fiscalyear = self.create_fiscalyear(company)
            # this company's accounts (a test may have committed another)
            revenue, = Account.search([('type.revenue', '=', True),
                    ('closed', '!=', True), ('company', '=', company.id)],
                limit=1)
            cash, = Account.search([('code', '=', '1.1.1'),
                    ('company', '=', company.id)], limit=1)
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

    @staticmethod
    def create_fiscalyear(company):
        year = set_invoice_sequences(get_fiscalyear(company))
        year.save()
        year.create_period([year])
        return year

    def _committed_accounting(self, fiscalyear):
        "The records of the committed accounting (one of each)"
        pool = Pool()
        self.company, = pool.get('company.company').search([])
        self.plan, = pool.get('product.template').search(
            [('name', '=', 'Home 10M')])
        self.router, = pool.get('isp.router').search([('name', '=', 'R1')])
        self.customer, = pool.get('party.party').search(
            [('name', '=', 'Alice')])
        self.service, = pool.get('isp.service').search(
            [('login', '=', 'alice')])
        self.cash, = pool.get('account.invoice.payment.method').search(
            [('name', '=', 'Cash')])
        if fiscalyear:
            with set_company(self.company):
                self.fiscalyear = self.create_fiscalyear(self.company)
        return self.company


class PaymentTestCase(AccountingMixin, IspTestCase):
    "Test the pre-paid cycle"
    committed_accounting = True

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
        now = utcnow()
        with set_company(company), frozen_clock(now):
            invoice = Service.pay_renewal(
                [self.service], 2, self.cash, reference='R1')
            self.assertEqual(invoice.state, 'paid')
            service = Service(self.service.id)
            self.assertEqual(service.state, 'active')
            paid_until = service.paid_until
            # two monthly periods from the moment of payment
            self.assertEqual(paid_until, now + relativedelta(months=2))
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


@unittest.skipIf(backend.name == 'sqlite',
    "concurrent payments need two connections to one committed database; "
    "SQLite's :memory: test database cannot be shared between connections")
class ConcurrentPaymentTestCase(AccountingMixin, test_tryton.TestCase):
    """Two cashiers pay the same service at the same instant (PostgreSQL).

    Its own database: the setup is committed (each thread has its own
    connection), and the database is dropped at the end of the class."""
    module = 'isp_billing'

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        test_tryton.drop_db()
        test_tryton.activate_module([cls.module])

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        test_tryton.drop_db()

    def setUp(self):
        super().setUp()
        self.sim = RouterSim(version='7.18', password='secret', port=0).start()
        self.addCleanup(self.sim.stop)
        extras = {}
        while True:     # as with_transaction, but committed
            with Transaction().start(DB_NAME, USER, **extras) as transaction:
                try:
                    Router = Pool().get('isp.router')
                    company = self.setup_accounting()
                    with set_company(company):
                        Router.write([self.router], {'port': self.sim.port})
                    self.ids = {
                        'company': company.id, 'service': self.service.id,
                        'method': self.cash.id}
                    transaction.commit()
                except TransactionError as e:
                    transaction.rollback()
                    transaction.tasks.clear()
                    e.fix(extras)
                    continue
            break
        self.run_tasks()

    @staticmethod
    def run_tasks():
        "Run the router syncs queued by this thread's committed transactions"
        transaction = Transaction()
        while transaction.tasks:
            run_task(DB_NAME, transaction.tasks.pop())

    def pay(self, barrier, errors, timeout=60):
        """A cashier's request: retried on a lock restart and, like the user
        clicking again, when the other cashier holds the lock (Tryton locks
        with NOWAIT)"""
        pool = Pool(DB_NAME)
        extras, first, deadline = {}, True, time.monotonic() + timeout
        try:
            while True:
                try:
                    with Transaction().start(DB_NAME, USER, **extras
                            ) as transaction:
                        try:
                            if first:
                                first = False
                                barrier.wait(timeout=timeout)
                            User = pool.get('res.user')
                            Service = pool.get('isp.service')
                            Method = pool.get(
                                'account.invoice.payment.method')
                            with transaction.set_context(
                                    User.get_preferences(context_only=True)):
                                Service.pay_renewal(
                                    [Service(self.ids['service'])], 1,
                                    Method(self.ids['method']))
                            transaction.commit()
                        except TransactionError as e:
                            transaction.rollback()
                            transaction.tasks.clear()
                            e.fix(extras)
                            continue
                except backend.DatabaseOperationalError:
                    Transaction().tasks.clear()
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)
                    continue
                break
            self.run_tasks()
        except BaseException as error:
            errors.append(error)
            barrier.abort()

    def test_concurrent_payments(self):
        "Two payments of one service at the same instant both extend it"
        barrier = threading.Barrier(2)
        errors = []
        threads = [threading.Thread(target=self.pay, args=(barrier, errors))
            for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        self.assertFalse(any(t.is_alive() for t in threads), "hung")
        if errors:
            raise errors[0]

        with Transaction().start(DB_NAME, USER) as transaction:
            pool = Pool()
            Service = pool.get('isp.service')
            Invoice = pool.get('account.invoice')
            Payment = pool.get('isp.service.payment')
            service = Service(self.ids['service'])
            invoices = Invoice.search(
                [('lines.isp_service', '=', service.id)])
            self.assertEqual(len(invoices), 2)
            self.assertEqual({i.state for i in invoices}, {'paid'})
            first, second = Payment.search(
                [('service', '=', service.id)],
                order=[('paid_until_after', 'ASC')])
            self.assertNotEqual(first.invoice, second.invoice)
            self.assertEqual({first.invoice, second.invoice}, set(invoices))
            # no lost update: the second payment starts where the first
            # ended, and the service is paid for exactly two months
            self.assertIsNone(first.paid_until_before)
            self.assertEqual(first.paid_until_after,
                first.period_start + relativedelta(months=1))
            self.assertEqual(second.paid_until_before, first.paid_until_after)
            self.assertEqual(second.period_start, first.paid_until_after)
            self.assertEqual(second.paid_until_after,
                first.paid_until_after + relativedelta(months=1))
            self.assertEqual(service.paid_until, second.paid_until_after)
            self.assertEqual(service.state, 'active')
            transaction.rollback()

        # both syncs ran: the router has the login, enabled, once
        comment = 'isp-billing:%s' % self.ids['service']
        user, = [u for u in self.sim.rows('/ip/hotspot/user')
            if u.get('comment') == comment]
        self.assertEqual(user['name'], 'alice')
        self.assertEqual(user['disabled'], 'false')

