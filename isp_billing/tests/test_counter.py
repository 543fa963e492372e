"""The counter: one entry finds a customer by any key, Pay renews and hands
a receipt; router buttons say what they found."""
import io
from decimal import Decimal

from trytond.exceptions import UserError
from trytond.model.exceptions import AccessError
from trytond.modules.company.tests import set_company
from trytond.pool import Pool
from trytond.tests.test_tryton import with_transaction
from trytond.transaction import Transaction

from ..times import utcnow
from .server_tools import free_port
from .test_ledger import run_wizard
from .test_payment import AccountingMixin
from .tools import (
    IspTestCase, as_user, create_customer, create_router, create_service,
    create_staff)


def pdf_text(content):
    from pypdf import PdfReader
    reader = PdfReader(io.BytesIO(content))
    return reader, '\n'.join(page.extract_text() for page in reader.pages)


class CounterTestCase(AccountingMixin, IspTestCase):
    "Test the counter, its search keys and the receipt"

    def setup_counter(self):
        """Alice (phone, email, a paid invoice) and Bob, a cashier of the
        company; the cash method is the usual one."""
        pool = Pool()
        Party = pool.get('party.party')
        Service = pool.get('isp.service')
        Configuration = pool.get('isp.configuration')
        User = pool.get('res.user')
        company = self.setup_accounting()
        with set_company(company):
            Party.write([self.customer], {'contact_mechanisms': [('create', [
                            {'type': 'phone', 'value': '+255 712 345 678'},
                            {'type': 'email',
                                'value': 'alice@example.com'}])]})
            self.bob = create_customer('Bob Other')
            self.bob.addresses = [{}]
            self.bob.save()
            self.bob_service = create_service(
                self.bob, self.plan, self.router, login='bobby')
            config = Configuration(1)
            config.default_payment_method = self.cash
            config.save()
            self.invoice = Service.pay_renewal([self.service], 1, self.cash)
            # test sequences number invoices 1, 2...: a number as printed
            Invoice = pool.get('account.invoice')
            table = Invoice.__table__()
            Transaction().connection.cursor().execute(*table.update(
                    [table.number], ['INV/2026/0042'],
                    where=table.id == self.invoice.id))
            self.invoice_number = 'INV/2026/0042'
        self.cashier = create_staff('cashier_counter', 'group_isp_cashier')
        User.write([self.cashier], {'companies': [('add', [company.id])],
                'company': company.id})
        return company

    def money(self, text, amount):
        "text with amount in the company currency, as the user reads it"
        pool = Pool()
        Lang = pool.get('ir.lang')
        return text % Lang.get().currency(
            Decimal(amount), self.company.currency)

    def keys(self):
        customer = Pool().get('party.party')(self.customer.id)
        return {
            'name': 'Alice',
            'phone as stored': '+255 712 345 678',
            'phone as said': '0712 345 678',
            'email': 'alice@example',
            'ISP code': customer.isp_code,
            'login': 'alice',
            'invoice number': self.invoice_number,
            }

    @with_transaction()
    def test_search_keys_as_cashier(self):
        "Customers and services are found by every key, as the cashier"
        pool = Pool()
        Party = pool.get('party.party')
        Service = pool.get('isp.service')
        IrModel = pool.get('ir.model')
        company = self.setup_counter()
        keys = self.keys()
        self.assertTrue(keys['ISP code'])
        with set_company(company), as_user(self.cashier):
            for key, text in keys.items():
                with self.subTest(key=key):
                    # what a many2one sends on Tab and the search box
                    parties = Party.search(
                        [('rec_name', 'ilike', f'%{text}%')])
                    self.assertEqual(
                        [p.id for p in parties], [self.customer.id])
                    services = Service.search(
                        [('rec_name', 'ilike', f'%{text}%')])
                    self.assertEqual(
                        [s.id for s in services], [self.service.id])
                    found = IrModel.global_search(text, 20)
                    models = {(m, i) for _, m, _, i, _, _ in found}
                    self.assertIn(('party.party', self.customer.id), models)
                    self.assertIn(('isp.service', self.service.id), models)
            # another customer's login finds that customer only
            services = Service.search([('rec_name', 'ilike', '%bobby%')])
            self.assertEqual([s.id for s in services], [self.bob_service.id])
            # nothing for a key nobody has, nor a negative search mixing up
            self.assertEqual(
                Party.search([('rec_name', 'ilike', '%zz-nobody%')]), [])
            self.assertEqual(
                Service.search([('rec_name', 'ilike', '%999999999%')]), [])
            services = Service.search([('rec_name', 'not ilike', '%alice%')])
            self.assertEqual([s.id for s in services], [self.bob_service.id])

    def counter_start(self, service, **values):
        "The form the cashier sees after picking the service (on_change)"
        Start = Pool().get('isp.counter.start')
        start = Start(service=service, periods=1, receipt='a4')
        start.on_change_service()
        for name, value in values.items():
            setattr(start, name, value)
        if 'periods' in values:
            start.on_change_periods()
        return start

    def pay_data(self, start):
        return {'start': {
                'service': start.service.id,
                'company': start.company.id,
                'currency': start.currency.id,
                'plan': start.plan.id if start.plan else None,
                'periods': start.periods,
                'payment_method': (start.payment_method.id
                    if start.payment_method else None),
                'amount': start.amount,
                'reference': None,
                'receipt': start.receipt,
                'allow_discount': start.allow_discount,
                }}

    @with_transaction()
    def test_counter_renew_and_receipt_action(self):
        "Pick, Pay: renewed with the proposals, the receipt is returned"
        pool = Pool()
        Service = pool.get('isp.service')
        Payment = pool.get('isp.service.payment')
        company = self.setup_counter()
        with set_company(company), as_user(self.cashier):
            service = Service(self.service.id)
            before = service.paid_until
            start = self.counter_start(service)
            self.assertEqual(start.customer.id, self.customer.id)
            self.assertEqual(
                [s.id for s in start.customer_services], [self.service.id])
            self.assertEqual(start.payment_method.id, self.cash.id)
            self.assertEqual(start.amount, Decimal('20'))
            self.assertEqual(start.summary, self.money('Total for 1 period: %s', 20))
            three = self.counter_start(service, periods=3)
            self.assertEqual(three.summary, self.money('Total for 3 periods: %s', 60))
            self.assertEqual(three.amount, Decimal('60'))

            _, pay = run_wizard('isp.counter', [], [
                    ('start', {}), ('pay', self.pay_data(start))])
            service = Service(self.service.id)
            self.assertEqual(service.state, 'active')
            self.assertGreater(service.paid_until, before)
            payment, = Payment.search([
                    ('service', '=', service.id),
                    ('paid_until_after', '=', service.paid_until)])
            self.assertEqual(payment.user.id, self.cashier.id)
            action, = pay['actions']
            self.assertEqual(
                action[0]['report_name'], 'isp.service.payment.receipt')
            self.assertEqual(action[1]['ids'], [payment.id])

            # the narrow slip, or no receipt at all
            _, pay = run_wizard('isp.counter', [], [
                    ('start', {}), ('pay', self.pay_data(
                            self.counter_start(service, receipt='80mm')))])
            action, = pay['actions']
            self.assertEqual(action[0]['report_name'],
                'isp.service.payment.receipt_80mm')
            _, pay = run_wizard('isp.counter', [], [
                    ('start', {}), ('pay', self.pay_data(
                            self.counter_start(service, receipt='none')))])
            self.assertFalse(pay.get('actions'))

    @with_transaction()
    def test_counter_opened_on_service(self):
        "From a service, the counter proposes it with the total"
        company = self.setup_counter()
        with set_company(company), as_user(self.cashier):
            start, = run_wizard('isp.counter', [self.service], [
                    ('start', {})])
            defaults = start['view']['defaults']
            self.assertEqual(defaults['service'], self.service.id)
            self.assertEqual(defaults['amount'], Decimal('20'))
            self.assertEqual(defaults['summary'],
                self.money('Total for 1 period: %s', 20))

    @with_transaction()
    def test_counter_bad_input_writes_nothing(self):
        "No payment method, a cancelled service: clear error, nothing paid"
        pool = Pool()
        Service = pool.get('isp.service')
        Invoice = pool.get('account.invoice')
        company = self.setup_counter()
        with set_company(company), as_user(self.cashier):
            invoices = Invoice.search([], count=True)
            start = self.counter_start(Service(self.service.id))
            data = self.pay_data(start)
            data['start']['payment_method'] = None
            with self.assertRaises(UserError) as cm:
                run_wizard('isp.counter', [], [('start', {}), ('pay', data)])
            self.assertIn('payment method', str(cm.exception).lower())
            data = self.pay_data(start)
            data['start']['periods'] = 0
            with self.assertRaises(UserError):
                run_wizard('isp.counter', [], [('start', {}), ('pay', data)])
            self.assertEqual(Invoice.search([], count=True), invoices)

    @with_transaction()
    def test_counter_refused_to_technician_and_viewer(self):
        """ISP Billing > Counter is refused on the server to the groups that
        take no payments: neither starting it (from the menu or a service)
        nor executing Pay on a session; nothing is paid. The cashier pays."""
        pool = Pool()
        Service = pool.get('isp.service')
        Invoice = pool.get('account.invoice')
        Counter = pool.get('isp.counter', type='wizard')
        company = self.setup_counter()
        before = Service(self.service.id).paid_until
        with set_company(company), as_user(self.cashier):
            data = self.pay_data(self.counter_start(Service(self.service.id)))
            # a session as the cashier would have it open
            session_id, _, _ = Counter.create()
        invoices = Invoice.search([], count=True)
        for group in ['technician', 'viewer', 'support']:
            user = create_staff('counter_%s' % group, 'group_isp_%s' % group,
                company=company)
            for records in [[], [self.service]]:
                with self.subTest(group=group, records=len(records)), \
                        set_company(company), as_user(user):
                    with self.assertRaises(AccessError):
                        run_wizard('isp.counter', records, [
                                ('start', {}), ('pay', data)])
            with self.subTest(group=group, session='cashier'), \
                    set_company(company), as_user(user), \
                    Transaction().set_context(active_model=None):
                for state in ['start', 'pay']:
                    with self.assertRaises(AccessError):
                        Counter.execute(session_id, data, state)
        self.assertEqual(Invoice.search([], count=True), invoices)
        self.assertEqual(Service(self.service.id).paid_until, before)

        # the cashier's session pays: one more invoice, the service extended
        with set_company(company), as_user(self.cashier):
            Counter.execute(session_id, {}, 'start')
            result = Counter.execute(session_id, data, 'pay')
        self.assertEqual(
            result['actions'][0][0]['report_name'],
            'isp.service.payment.receipt')
        self.assertEqual(Invoice.search([], count=True), invoices + 1)
        service = Service(self.service.id)
        self.assertEqual(service.state, 'active')
        self.assertGreater(service.paid_until, before)

    @with_transaction()
    def test_register_payment_says_total_and_gives_receipt(self):
        "Register Payment: 'Total for 3 periods', then the receipt"
        pool = Pool()
        Start = pool.get('isp.service.register_payment.start')
        company = self.setup_counter()
        with set_company(company), as_user(self.cashier):
            start = Start(services=[self.service], periods=3, plan=None,
                currency=company.currency)
            start.on_change_periods()
            self.assertEqual(start.summary, self.money('Total for 3 periods: %s', 60))
            _, pay = run_wizard('isp.service.register_payment',
                [self.service], [('start', {}), ('pay', {'start': {
                                'periods': 1, 'plan': None,
                                'payment_method': self.cash.id,
                                'reference': None}})])
            action, = pay['actions']
            self.assertEqual(
                action[0]['report_name'], 'isp.service.payment.receipt')

    @with_transaction()
    def test_receipt_pdf(self):
        "The receipt PDF names customer, service, period, amount, method,"
        " cashier, new paid until, the ISP's bank account and contact"
        pool = Pool()
        Party = pool.get('party.party')
        BankAccount = pool.get('bank.account')
        Service = pool.get('isp.service')
        Payment = pool.get('isp.service.payment')
        company = self.setup_counter()
        with set_company(company):
            Party.write([company.party], {'contact_mechanisms': [
                        ('create', [{'type': 'phone',
                                    'value': '+255 22 000 1111'}])]})
            BankAccount.create([{'owners': [('add', [company.party.id])],
                        'numbers': [('create', [{'type': 'other',
                                        'number': 'ACC-4455-77'}])]}])
        with set_company(company), as_user(self.cashier):
            Service.pay_renewal([self.service], 2, self.cash,
                reference='MM-998')
            payment, = Payment.search([('reference', '=', 'MM-998')])
            paid_until = payment.paid_until_after
            Report = pool.get('isp.service.payment.receipt', type='report')
            ext, content, _, name = Report.execute([payment.id], {})
            self.assertEqual(ext, 'pdf')
            self.assertTrue(content.startswith(b'%PDF'))
            reader, text = pdf_text(content)
            for expected in ['Receipt', 'Alice', self.keys()['ISP code'],
                    'alice', 'Home 10M', self.money('%s', 40), 'Cash', 'cashier_counter',
                    paid_until.strftime('%Y-%m-%d'), 'MM-998',
                    'ACC-4455-77', '+255 22 000 1111',
                    payment.invoice.number]:
                self.assertIn(expected, text)
            a4_width = float(reader.pages[0].mediabox.width)

            Report = pool.get(
                'isp.service.payment.receipt_80mm', type='report')
            ext, content, _, _ = Report.execute([payment.id], {})
            reader, text = pdf_text(content)
            self.assertIn(self.money('%s', 40), text)
            width = float(reader.pages[0].mediabox.width)
            self.assertAlmostEqual(width, 80 / 25.4 * 72, delta=2)
            self.assertGreater(a4_width, 500)


class RouterButtonsTestCase(IspTestCase):
    "Router buttons say in words what they found"

    @with_transaction()
    def test_unreachable_router(self):
        "A router nobody listens for: offline, the error stored once"
        pool = Pool()
        Router = pool.get('isp.router')
        port = free_port()
        router = create_router('Hill', port=port)
        Router.refresh_status([router])
        router = Router(router.id)
        self.assertEqual(router.status, 'offline')
        self.assertIn('Hill', router.status_message)
        self.assertIn(f'127.0.0.1:{port}', router.status_message)
        self.assertIn('cannot be reached', router.status_message)
        self.assertIn('refused', router.status_message.lower())

        with self.assertRaises(UserError) as cm:
            Router.test_connection([router])
        message = str(cm.exception)
        self.assertIn('cannot be reached', message)
        # the advice is given once
        self.assertEqual(message.count('IP > Services'), 1, message)
        self.assertEqual(message.lower().count('check'), 1, message)

        Router.sync_now([router])
        router = Router(router.id)
        self.assertEqual(router.status_message, router.sync_error)
        self.assertIn('cannot be reached', router.status_message)

    @with_transaction()
    def test_reachable_router_feedback(self):
        "A router that answers: the buttons say what they found"
        from routeros_sim import RouterSim
        pool = Pool()
        Router = pool.get('isp.router')
        sim = RouterSim(version='7.18', password='secret', port=0).start()
        self.addCleanup(sim.stop)
        router = create_router('Tower', port=sim.port, routeros_version='7.18')
        with Transaction().set_context(timezone='UTC'):
            Router.test_connection([router])
            router = Router(router.id)
            self.assertEqual(router.status, 'online')
            self.assertIn('Connected to router "Tower"', router.status_message)
            self.assertIn(utcnow().strftime('%Y-%m-%d'),
                router.status_message)
            Router.refresh_status([router])
            self.assertIn('Connected', Router(router.id).status_message)
            Router.sync_now([router])
            self.assertIn('synchronised', Router(router.id).status_message)
