"""The staff reports (Revenue, Customers, Service Plans, Payment
Information): figures checked against the payments, services and extensions
made here, read back from the .xlsx (openpyxl) and the PDF text (pypdf);
filters, empty range, bad input and who may run each report."""
import datetime as dt
import io

import openpyxl
from pypdf import PdfReader

from trytond.model.exceptions import AccessError
from trytond.modules.company.tests import set_company
from trytond.pool import Pool
from trytond.tests.test_tryton import with_transaction
from trytond.transaction import Transaction

from ..exceptions import ReportError
from ..models.report import MAX_ROWS, xlsx_workbook
from ..times import frozen_clock
from .test_payment import AccountingMixin
from .tools import (
    IspTestCase, as_user, create_customer, create_plan, create_router,
    create_service, create_staff)

GROUPS = ['admin', 'cashier', 'accountant', 'technician', 'support', 'viewer']
#: who may run each report (the groups on its actions)
ALLOWED = {
    'revenue': {'admin', 'accountant', 'viewer'},
    'payments': {'admin', 'accountant', 'viewer'},
    'customers': {'admin', 'accountant', 'viewer', 'support'},
    'plans': {'admin', 'accountant', 'viewer', 'support'},
    }
MARCH = {'start_date': dt.date(2026, 3, 1), 'end_date': dt.date(2026, 3, 31)}
SPRING = {'start_date': dt.date(2026, 3, 1), 'end_date': dt.date(2026, 4, 30)}


def workbook(content):
    return openpyxl.load_workbook(io.BytesIO(content), data_only=True)


def table(sheet):
    """The header and data rows of a report sheet (row 4 is the header;
    the title and filters are above it), and the totals row if any"""
    rows = [list(r) for r in sheet.iter_rows(min_row=4, values_only=True)]
    header, body = rows[0], rows[1:]
    totals = None
    if body and body[-1][0] == 'Total':
        totals = body.pop()
    return header, body, totals


def report_data(name, kind, data):
    "The report data as the web client sends it: with the action's id"
    ModelData = Pool().get('ir.model.data')
    return dict(data, action_id=ModelData.get_id(
            'isp_billing', 'report_%s_%s' % (name, kind)))


def pdf_text(content):
    reader = PdfReader(io.BytesIO(content))
    return '\n'.join(page.extract_text() for page in reader.pages)


class ReportsTestCase(AccountingMixin, IspTestCase):
    "Test the staff reports"

    def setup_world(self):
        """Alice (individual, Home 10M on R1) and Bob (organization, Fibre
        50M on R2); the company is in Nairobi (UTC+3, no DST). Payments:
        P1 Alice 2 periods cash 2026-03-10 12:00 local (40), P2 Bob 1 period
        mobile 2026-03-11 22:30 UTC = 03-12 01:30 local (40), P3 Alice 1
        period mobile 2026-04-02 by a cashier (20). A trial extension of 3
        days for Alice on 03-15; Carol's service is still a draft."""
        pool = Pool()
        Company = pool.get('company.company')
        Category = pool.get('product.category')
        Template = pool.get('product.template')
        Method = pool.get('account.invoice.payment.method')
        Service = pool.get('isp.service')
        User = pool.get('res.user')
        company = self.setup_accounting()
        Company.write([company], {'timezone': 'Africa/Nairobi'})
        with set_company(company):
            category, = Category.search([('name', '=', 'Internet')])
            self.fibre = create_plan('Fibre 50M', price=40)
            Template.write([self.fibre], {'account_category': category.id})
            self.r2 = create_router('R2', port=8729)
            self.bob = create_customer('Bob Org')
            self.bob.isp_customer_type = 'organization'
            self.bob.addresses = [{}]
            self.bob.save()
            self.bob_service = create_service(
                self.bob, self.fibre, self.r2, login='bob')
            self.carol_service = create_service(
                create_customer('Carol'), self.plan, self.router,
                login='carol')
            self.mobile, = Method.copy([self.cash], {'name': 'Mobile'})
            self.cashier = self.staff('cashier')
            with frozen_clock(dt.datetime(2026, 3, 10, 9, 0)):
                Service.pay_renewal([self.service], 2, self.cash)
            with frozen_clock(dt.datetime(2026, 3, 11, 22, 30)):
                Service.pay_renewal([self.bob_service], 1, self.mobile)
            with frozen_clock(dt.datetime(2026, 3, 15, 8, 0)):
                Service.extend([Service(self.service.id)], 3, 'trial',
                    note="Welcome")
            with frozen_clock(dt.datetime(2026, 4, 2, 8, 0)), \
                    Transaction().set_user(self.cashier.id):
                Service.pay_renewal([Service(self.service.id)], 1,
                    self.mobile)
        User.write([User(Transaction().user)], {
                'companies': [('add', [company.id])],
                'company': company.id})
        return company

    def staff(self, group, routers=()):
        pool = Pool()
        User = pool.get('res.user')
        Router = pool.get('isp.router')
        self.unique = getattr(self, 'unique', 0) + 1
        user = create_staff('staff_%s_%s' % (group, self.unique),
            'group_isp_' + group)
        User.write([user], {'companies': [('add', [self.company.id])],
                'company': self.company.id})
        for router in routers:
            Router.write([router], {'users': [('add', [user.id])]})
        return user

    def run_report(self, name, data, kind='xlsx'):
        Report = Pool().get('isp.report.%s.%s' % (name, kind),
            type='report')
        with set_company(self.company):
            return Report.execute([], report_data(name, kind, data))

    def xlsx(self, name, data):
        oext, content, _, filename = self.run_report(name, data)
        self.assertEqual(oext, 'xlsx')
        return workbook(content), filename

    # --- revenue ---

    @with_transaction()
    def test_revenue_xlsx(self):
        "Totals by method, local day, customer type, and the detail sheet"
        self.setup_world()
        book, filename = self.xlsx('revenue', MARCH)
        self.assertEqual(filename, 'Revenue')
        self.assertEqual(book.sheetnames, ['By Payment Method', 'By Day',
                'By Customer Type', 'Detail'])
        sheet = book['By Payment Method']
        self.assertIn('Revenue', sheet['A1'].value)
        self.assertIn('2026-03-01 - 2026-03-31', sheet['A2'].value)
        self.assertEqual(sheet.freeze_panes, 'A5')
        self.assertEqual(sheet.auto_filter.ref, 'A4:C6')
        self.assertTrue(sheet['A4'].font.b)
        header, rows, totals = table(sheet)
        self.assertEqual(header, ['Payment Method', 'Payments', 'Amount'])
        self.assertEqual(rows, [['Cash', 1, 40], ['Mobile', 1, 40]])
        self.assertEqual(totals, ['Total', 2, 80])
        self.assertEqual(sheet['C5'].number_format,
            '#,##0.00 "%s"' % self.company.currency.symbol)
        # 22:30 UTC on the 11th is the 12th in Nairobi
        _, rows, totals = table(book['By Day'])
        self.assertEqual(rows, [[dt.datetime(2026, 3, 10), 1, 40],
                [dt.datetime(2026, 3, 12), 1, 40]])
        self.assertEqual(book['By Day']['A5'].number_format, 'yyyy-mm-dd')
        _, rows, _ = table(book['By Customer Type'])
        self.assertEqual(rows, [['Individual', 1, 40],
                ['Organization', 1, 40]])
        header, rows, totals = table(book['Detail'])
        self.assertEqual(header, ['Date', 'Customer', 'Service', 'Plan',
                'Router', 'Period From', 'Period To', 'Amount',
                'Payment Method', 'Invoice', 'Registered By'])
        self.assertEqual(len(rows), 2)
        first = rows[0]
        self.assertEqual(first[0], dt.datetime(2026, 3, 10, 12, 0))
        self.assertEqual(first[1:5], ['Alice', 'alice', 'Home 10M', 'R1'])
        self.assertEqual(first[5], dt.datetime(2026, 3, 10, 12, 0))
        self.assertEqual(first[6], dt.datetime(2026, 5, 10, 12, 0))
        self.assertEqual(first[7], 40)
        self.assertEqual(first[8], 'Cash')
        self.assertTrue(first[9])
        self.assertEqual(first[10], 'Administrator')
        self.assertEqual(rows[1][1], 'Bob Org')
        self.assertEqual(totals[7], 80)

    @with_transaction()
    def test_revenue_by_month_and_filters(self):
        "By month; each filter narrows the payments"
        self.setup_world()
        book, _ = self.xlsx('revenue', dict(SPRING, group_by='month'))
        self.assertEqual(book.sheetnames[1], 'By Month')
        _, rows, totals = table(book['By Month'])
        self.assertEqual(rows, [[dt.datetime(2026, 3, 1), 2, 80],
                [dt.datetime(2026, 4, 1), 1, 20]])
        self.assertEqual(totals, ['Total', 3, 100])
        for filters, total, count in [
                ({'payment_method': self.mobile.id}, 60, 2),
                ({'payment_method': self.cash.id}, 40, 1),
                ({'customer_type': 'individual'}, 60, 2),
                ({'customer_type': 'organization'}, 40, 1),
                ({'plan': self.fibre.products[0].id}, 40, 1),
                ({'router': self.r2.id}, 40, 1),
                ({'user': self.cashier.id}, 20, 1),
                ]:
            with self.subTest(filters=filters):
                book, _ = self.xlsx('revenue', dict(SPRING, **filters))
                _, rows, totals = table(book['Detail'])
                self.assertEqual(len(rows), count)
                self.assertEqual(totals[7], total)
                _, _, totals = table(book['By Payment Method'])
                self.assertEqual(totals[1:], [count, total])
                # the filter is named on the title rows
                self.assertGreater(
                    book['Detail']['A2'].value.count(':'), 2)

    @with_transaction()
    def test_revenue_pdf(self):
        "The PDF shows the same figures"
        self.setup_world()
        oext, content, _, filename = self.run_report(
            'revenue', MARCH, 'pdf')
        self.assertEqual(oext, 'pdf')
        self.assertTrue(bytes(content).startswith(b'%PDF'))
        text = pdf_text(bytes(content))
        for expected in ['Revenue', 'By Payment Method', 'Cash', 'Mobile',
                '80.00', 'Individual', 'Organization', '2026-03-12',
                'Alice', 'Bob Org', 'Administrator', 'Total']:
            self.assertIn(expected, text)

    @with_transaction()
    def test_revenue_empty_range(self):
        "A range without payments: every sheet with its headers, zero totals"
        self.setup_world()
        book, _ = self.xlsx('revenue', {
                'start_date': dt.date(2025, 1, 1),
                'end_date': dt.date(2025, 1, 31)})
        for name in book.sheetnames:
            header, rows, totals = table(book[name])
            self.assertTrue(header[0])
            self.assertEqual(rows, [])
            self.assertEqual([v for v in totals if isinstance(v, (int, float))
                    ], [0] * len([v for v in totals[1:] if v is not None]))
        _, content, _, _ = self.run_report('revenue', {
                'start_date': dt.date(2025, 1, 1),
                'end_date': dt.date(2025, 1, 31)}, 'pdf')
        self.assertIn('Detail', pdf_text(bytes(content)))

    @with_transaction()
    def test_bad_input(self):
        "End before start and a currency mix: a clear message, no file"
        pool = Pool()
        Currency = pool.get('currency.currency')
        Payment = pool.get('isp.service.payment')
        Wizard = pool.get('isp.report.revenue', type='wizard')
        self.setup_world()
        backwards = {'start_date': dt.date(2026, 3, 31),
            'end_date': dt.date(2026, 3, 1)}
        for name in ['revenue', 'plans', 'payments']:
            for kind in ['xlsx', 'pdf']:
                with self.subTest(report=name, kind=kind), \
                        self.assertRaisesRegex(ReportError,
                            'ends .2026-03-01. before it starts'):
                    self.run_report(name, backwards, kind)
        # the wizard refuses it before the download
        session_id, _, _ = Wizard.create()
        with set_company(self.company), \
                self.assertRaises(ReportError):
            Wizard.execute(session_id, {'start': dict(backwards,
                        group_by='day', detail=True, payment_method=None,
                        customer_type=None, plan=None, router=None,
                        user=None)}, 'xlsx')
        euro, = Currency.create([{'name': 'Euro', 'code': 'EUR',
                    'symbol': 'E'}])
        payment, = Payment.search([], limit=1)
        Payment.copy([payment], {'currency': euro.id})
        mix = r'several currencies \(EUR, %s\)' % self.company.currency.code
        with self.assertRaisesRegex(ReportError, mix):
            self.run_report('revenue', SPRING)
        with self.assertRaisesRegex(ReportError, mix):
            self.run_report('payments', SPRING, 'pdf')

    @with_transaction()
    def test_xlsx_sheet_limit(self):
        "More rows than an Excel sheet holds: a clear message"
        report = {'title': 'Revenue', 'digits': 2, 'symbol': '$',
            'filters': [], 'printed_at': '', 'timezone': 'UTC',
            'sheets': [{'name': 'Detail', 'totals': None,
                    'columns': [{'label': 'Amount', 'kind': 'money',
                            'width': 10}],
                    'rows': [(1,)] * (MAX_ROWS + 1)}]}
        with self.assertRaisesRegex(ReportError, 'untick Detail'):
            xlsx_workbook(report)

    @with_transaction()
    def test_pdf_row_limit(self):
        "A PDF too long to print: a message pointing to Excel"
        Report = Pool().get('isp.report.payments.pdf', type='report')
        self.setup_world()
        limit = Report.max_rows
        Report.max_rows = 2
        try:
            with self.assertRaisesRegex(ReportError, 'use Excel'):
                self.run_report('payments', SPRING, 'pdf')
        finally:
            Report.max_rows = limit
        self.xlsx('payments', SPRING)

    # --- payment information ---

    @with_transaction()
    def test_payments_report(self):
        "Each payment with bill, activation and deactivation, responsible"
        self.setup_world()
        book, filename = self.xlsx('payments', SPRING)
        self.assertEqual(filename, 'Payment Information')
        header, rows, totals = table(book['Payments'])
        self.assertEqual(header[5:7], ['Activation', 'Deactivation'])
        self.assertEqual(len(rows), 3)
        last = rows[-1]
        # bought after the two March periods and the 3 trial days:
        # May 13 to June 13, local
        self.assertEqual(last[5], dt.datetime(2026, 5, 13, 12, 0))
        self.assertEqual(last[6], dt.datetime(2026, 6, 13, 12, 0))
        self.assertEqual(last[10], self.cashier.name)
        self.assertEqual(totals[7], 100)
        _, rows, _ = table(book['By Payment Method'])
        self.assertEqual(rows, [['Cash', 1, 40], ['Mobile', 2, 60]])
        book, _ = self.xlsx('payments', dict(SPRING, router=self.r2.id))
        _, rows, _ = table(book['Payments'])
        self.assertEqual([r[1] for r in rows], ['Bob Org'])
        _, content, _, _ = self.run_report('payments', SPRING, 'pdf')
        text = pdf_text(bytes(content))
        for expected in ['Payment Information', 'Activation',
                '2026-06-13 12:00', self.cashier.name, '100.00']:
            self.assertIn(expected, text)

    # --- customers ---

    @with_transaction()
    def test_customers_report(self):
        "Counts by type, plan, state and router; the list; filters"
        self.setup_world()
        # a customer without service yet (and a party that is no customer)
        create_customer('Dave')
        Pool().get('party.party').create([{'name': 'Supplier Ltd'}])
        book, _ = self.xlsx('customers', {})
        self.assertEqual(book.sheetnames, ['By Customer Type', 'By Plan',
                'By State', 'By Router', 'Customer List'])
        _, rows, totals = table(book['By Customer Type'])
        self.assertEqual(rows, [['Individual', 3, 2],
                ['Organization', 1, 1]])
        self.assertEqual(totals, ['Total', 4, 3])
        _, rows, _ = table(book['By Plan'])
        self.assertEqual(rows, [['Fibre 50M', 1, 1], ['Home 10M', 2, 2]])
        _, rows, _ = table(book['By State'])
        self.assertEqual(rows, [['Active', 2, 2], ['Draft', 1, 1],
                ['No Service', 1, 0]])
        _, rows, _ = table(book['By Router'])
        self.assertEqual(rows, [['R1', 2, 2], ['R2', 1, 1]])
        header, rows, totals = table(book['Customer List'])
        self.assertIsNone(totals)
        self.assertEqual([r[1] for r in rows],
            ['Alice', 'Bob Org', 'Carol', 'Dave'])
        self.assertEqual(rows[0][7], dt.datetime(2026, 6, 13, 12, 0))
        self.assertEqual(rows[3][2:8],
            ['Individual', None, None, None, 'No Service', None])
        for filters, names in [
                ({'router': self.r2.id}, ['Bob Org']),
                ({'state': 'draft'}, ['Carol']),
                ({'customer_type': 'individual'}, ['Alice', 'Carol', 'Dave']),
                ({'customer_type': 'organization'}, ['Bob Org']),
                ({'plan': self.fibre.products[0].id}, ['Bob Org']),
                ]:
            with self.subTest(filters=filters):
                book, _ = self.xlsx('customers', filters)
                _, rows, _ = table(book['Customer List'])
                self.assertEqual([r[1] for r in rows], names)
        _, content, _, _ = self.run_report('customers', {}, 'pdf')
        text = pdf_text(bytes(content))
        for expected in ['Customers', 'By Router', 'Carol', 'Draft']:
            self.assertIn(expected, text)

    # --- service plans ---

    @with_transaction()
    def test_plans_report(self):
        "Per plan: price, speed, states, revenue, extensions by reason"
        self.setup_world()
        book, _ = self.xlsx('plans', SPRING)
        self.assertEqual(book.sheetnames, ['Service Plans',
                'Extensions by Reason', 'Extension History'])
        header, rows, totals = table(book['Service Plans'])
        self.assertEqual(header[:3], ['Plan', 'Price', 'Download (kbit/s)'])
        self.assertEqual(rows, [
                ['Fibre 50M', 40, 10000, 5000, '1 Months', 1, 0, 0, 1, 40, 0],
                ['Home 10M', 20, 10000, 5000, '1 Months', 1, 0, 0, 2, 60, 3],
                ])
        self.assertIsNone(totals[1])
        self.assertEqual(totals[8:], [3, 100, 3])
        _, rows, _ = table(book['Extensions by Reason'])
        self.assertEqual(rows, [['Home 10M', 'Trial', 1, 3]])
        _, rows, _ = table(book['Extension History'])
        self.assertEqual(rows, [[dt.datetime(2026, 3, 15, 11, 0), 'Home 10M',
                    'Alice', 'alice', 3, 'Trial', 'Administrator',
                    'Welcome']])
        # April only: the revenue and extensions of the range
        book, _ = self.xlsx('plans', {'start_date': dt.date(2026, 4, 1),
                'end_date': dt.date(2026, 4, 30),
                'plan': self.plan.products[0].id})
        _, rows, _ = table(book['Service Plans'])
        self.assertEqual([r[0] for r in rows], ['Home 10M'])
        self.assertEqual(rows[0][8:], [1, 20, 0])
        _, rows, _ = table(book['Extension History'])
        self.assertEqual(rows, [])
        _, content, _, _ = self.run_report('plans', SPRING, 'pdf')
        text = pdf_text(bytes(content))
        for expected in ['Service Plans', 'Extension History', 'Trial',
                'Welcome', 'Fibre 50M']:
            self.assertIn(expected, text)

    # --- who sees what ---

    @with_transaction()
    def test_rights_per_group(self):
        "Each report runs for its groups only, checked on the server"
        pool = Pool()
        self.setup_world()
        for group in GROUPS:
            user = self.staff(group)
            for name, allowed in ALLOWED.items():
                data = SPRING if name != 'customers' else {}
                for kind in ['xlsx', 'pdf']:
                    Report = pool.get('isp.report.%s.%s' % (name, kind),
                        type='report')
                    with self.subTest(group=group, report=name, kind=kind), \
                            as_user(user):
                        if group in allowed:
                            oext, content, _, _ = Report.execute(
                                [], report_data(name, kind, data))
                            self.assertEqual(oext, kind)
                        else:
                            with self.assertRaises(AccessError):
                                Report.execute(
                                    [], report_data(name, kind, data))
                Wizard = pool.get('isp.report.%s' % name, type='wizard')
                with self.subTest(group=group, wizard=name), as_user(user):
                    if group in allowed:
                        Wizard.create()
                    else:
                        with self.assertRaises(AccessError):
                            Wizard.create()

    @with_transaction()
    def test_assigned_routers_only(self):
        "A user assigned to routers gets only their figures"
        self.setup_world()
        create_customer('Dave')  # no service: on no router
        user = self.staff('accountant', routers=[self.r2])
        Report = Pool().get('isp.report.revenue.xlsx', type='report')
        with as_user(user):
            _, content, _, _ = Report.execute(
                [], report_data('revenue', 'xlsx', SPRING))
        _, rows, totals = table(workbook(content)['Detail'])
        self.assertEqual([r[1] for r in rows], ['Bob Org'])
        Report = Pool().get('isp.report.customers.xlsx', type='report')
        with as_user(user):
            _, content, _, _ = Report.execute(
                [], report_data('customers', 'xlsx', {}))
        _, rows, _ = table(workbook(content)['Customer List'])
        self.assertEqual([r[1] for r in rows], ['Bob Org'])
        # ISP administrators see everything, assigned or not
        admin = self.staff('admin', routers=[self.r2])
        with as_user(admin):
            _, content, _, _ = Report.execute(
                [], report_data('customers', 'xlsx', {}))
        _, rows, _ = table(workbook(content)['Customer List'])
        self.assertEqual(len(rows), 4)
