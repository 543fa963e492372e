"""The accountant's bank file, edge cases (the main flow, CAMT.053 and OFX,
is tests/scenario_bank_file.rst): what is matched and what is not, a file
imported twice, who may import, and the bill's PDF without a payment
mean."""
import io
import os
from decimal import Decimal

from pypdf import PdfReader

from trytond.exceptions import UserError
from trytond.model.exceptions import AccessError
from trytond.model.modelview import AccessButtonError
from trytond.modules.company.tests import set_company
from trytond.pool import Pool
from trytond.tests.test_tryton import with_transaction
from trytond.transaction import Transaction

from ..models.statement import structured_references
from .test_payment import AccountingMixin
from .tools import (
    IspTestCase, as_user, create_customer, create_service, create_staff)

FILES = os.path.join(os.path.dirname(__file__), 'bank_files')
COMPANY_IBAN = 'DE89370400440532013000'


def customer(name):
    "A customer with the address a bill needs"
    party = create_customer(name)
    party.addresses = [{}]
    party.save()
    return party


def pdf_text(content):
    "The words of a PDF, one space apart"
    pdf = PdfReader(io.BytesIO(bytes(content)))
    return ' '.join(' '.join((page.extract_text() or '').split())
        for page in pdf.pages)


class BankFileTestCase(AccountingMixin, IspTestCase):
    "Match bank payments to bills"

    def setup_bank(self):
        "The company's bank account and its statement journal"
        pool = Pool()
        Bank = pool.get('bank')
        BankAccount = pool.get('bank.account')
        Party = pool.get('party.party')
        Journal = pool.get('account.journal')
        StatementJournal = pool.get('account.statement.journal')
        Account = pool.get('account.account')
        Currency = pool.get('currency.currency')
        company = self.setup_accounting()
        # the bank files are in USD (the test currency's code is 'usd')
        Currency.write([company.currency], {'code': 'USD'})
        with set_company(company):
            bank_party, = Party.create([{'name': "Example Bank"}])
            bank, = Bank.create([{'party': bank_party.id}])
            account, = BankAccount.create([{
                        'bank': bank.id,
                        'owners': [('add', [company.party.id])],
                        'numbers': [('create', [{
                                        'type': 'iban',
                                        'number': COMPANY_IBAN}])],
                        }])
            journal, = Journal.search([('code', '=', 'STA')], limit=1)
            cash, = Account.search([('code', '=', '1.1.1')], limit=1)
            self.journal, = StatementJournal.create([{
                        'name': "Bank", 'journal': journal.id,
                        'account': cash.id, 'bank_account': account.id,
                        'currency': company.currency.id,
                        'validation': 'number_of_lines'}])
        return company

    def statement(self, name, payments):
        """An unsaved statement as a bank file parser makes it: payments
        are (entry id, amount, party, description)"""
        pool = Pool()
        Statement = pool.get('account.statement')
        Origin = pool.get('account.statement.origin')
        Date = pool.get('ir.date')
        today = Date.today()
        statement = Statement(name=name, company=self.company,
            journal=self.journal, date=today, start_balance=Decimal(0),
            end_balance=sum(Decimal(a) for _, a, _, _ in payments),
            number_of_lines=len(payments))
        statement.origins = [Origin(number=number, date=today,
                amount=Decimal(amount), party=party, description=description)
            for number, amount, party, description in payments]
        return statement

    def test_structured_references(self):
        "RF references are found in free text, compact, valid ones only"
        self.assertEqual(
            structured_references('Pay RF74 1 thanks', 'rf47 2', None),
            ['RF741', 'RF472'])
        # a wrong check digit, and letters glued to a word, are no reference
        self.assertEqual(structured_references('RF75 1', 'TRANSFER 12'), [])
        self.assertEqual(
            structured_references('RF18 5390 0754 7034'), ['RF18539007547034'])

    @with_transaction()
    def test_overpayment_ambiguous_partial_unknown(self):
        """More than the bill pays it and leaves the rest pending; two open
        bills of the amount, or a partial payment without reference, are
        left to the accountant"""
        pool = Pool()
        Service = pool.get('isp.service')
        Statement = pool.get('account.statement')
        Invoice = pool.get('account.invoice')
        company = self.setup_bank()
        with set_company(company):
            bill = Service.bill_renewal([self.service], 1)      # 20
            bob = customer("Bob")
            bob_service = create_service(bob, self.plan, self.router,
                login='bob')
            Service.bill_renewal([bob_service], 1)
            Service.bill_renewal([bob_service], 1)   # two open bills of 20
            carol = customer("Carol")
            carol_service = create_service(carol, self.plan, self.router,
                login='carol')
            Service.bill_renewal([carol_service], 1)
            reference = bill.customer_payment_reference
            statement = self.statement('S-1', [
                    ('1', '25', None, 'Internet %s' % reference),
                    ('2', '20', bob, 'Internet'),
                    ('3', '15', carol, 'Internet, part'),
                    ('4', '9', None, 'Who am I'),
                    ])
            statement, = Statement.isp_save_imported([statement], b'file')
            lines = {l.origin.number: l for l in statement.lines}
            self.assertEqual(sorted(lines), ['1'])
            self.assertEqual(lines['1'].related_to, bill)
            self.assertEqual(lines['1'].amount, Decimal('20'))
            pending = {o.number: o.pending_amount for o in statement.origins}
            self.assertEqual(pending, {'1': Decimal('5'), '2': Decimal('20'),
                    '3': Decimal('15'), '4': Decimal('9')})
            # matching again (the button) creates nothing more
            self.assertEqual(Statement.isp_match_bills([statement]), [])
            # a paid bill is no longer open: its reference matches nothing
            Statement.validate_statement([statement])
            # the queue's task, run at the end of the transaction outside
            # the tests
            Invoice.process([bill])
            self.assertEqual(Invoice(bill.id).state, 'paid')
            statement2 = self.statement('S-2', [
                    ('5', '20', None, reference)])
            statement2, = Statement.isp_save_imported([statement2], b'file')
            self.assertEqual(list(statement2.lines), [])

    @with_transaction()
    def test_imported_twice(self):
        """A statement already in the journal is refused; a file that
        overlaps another one skips the payments already imported"""
        pool = Pool()
        Statement = pool.get('account.statement')
        Origin = pool.get('account.statement.origin')
        company = self.setup_bank()
        with set_company(company):
            Statement.isp_save_imported([self.statement('S-1', [
                            ('1', '10', None, 'a'),
                            ('2', '11', None, 'b')])], b'file')
            with self.assertRaises(UserError) as cm:
                Statement.isp_save_imported([self.statement('S-1', [
                                ('1', '10', None, 'a')])], b'file')
            self.assertIn('already imported', cm.exception.message)
            with self.assertRaises(UserError) as cm:
                Statement.isp_save_imported([self.statement('S-2', [
                                ('1', '10', None, 'a'),
                                ('2', '11', None, 'b')])], b'file')
            self.assertIn('Every payment', cm.exception.message)
            self.assertEqual(Statement.search([], count=True), 1)
            statement, = Statement.isp_save_imported([self.statement('S-3', [
                            ('2', '11', None, 'b'),
                            ('3', '12', None, 'c')])], b'file')
            self.assertEqual([o.number for o in statement.origins], ['3'])
            self.assertEqual(statement.number_of_lines, 1)
            self.assertEqual(Origin.search([], count=True), 3)
            # a cancelled statement may be imported again
            first, = Statement.search([('name', '=', 'S-1')])
            Statement.cancel([first])
            Statement.isp_save_imported([self.statement('S-1', [
                            ('1', '10', None, 'a')])], b'file')

    @with_transaction()
    def test_import_rights(self):
        """Accountants and administrators import bank files; a cashier may
        not (the import wizard is refused)"""
        pool = Pool()
        ModelData = pool.get('ir.model.data')
        User = pool.get('res.user')
        Statement = pool.get('account.statement')
        StatementImport = pool.get('account.statement.import', type='wizard')
        company = self.setup_bank()
        with set_company(company):
            bill = pool.get('isp.service').bill_renewal([self.service], 1)
        account_group = ModelData.get_id('account', 'group_account')
        users = {}
        for login, group in [('acc', 'group_isp_accountant'),
                ('adm', 'group_isp_admin'), ('cash', 'group_isp_cashier'),
                ('view', 'group_isp_viewer')]:
            user = create_staff(login, group)
            values = {'companies': [('add', [company.id])],
                'company': company.id}
            if login in {'acc', 'adm'}:
                values['groups'] = [('add', [account_group])]
            User.write([user], values)
            users[login] = User(user.id)
        with open(os.path.join(FILES, 'camt053_2026_001.xml'), 'rb') as f:
            camt = f.read()
        # the bill is number 1: the file's first payment carries RF74 1
        self.assertEqual(bill.customer_payment_reference, 'RF74 1')
        for login in ['cash', 'view']:
            with as_user(users[login]):
                with self.assertRaises(AccessError):
                    StatementImport.create()
        with as_user(users['acc']):
            session_id, _, _ = StatementImport.create()
            with Transaction().set_context(active_model=None):
                StatementImport.execute(session_id, {
                        'start': {
                            'company': company.id,
                            'file_': camt,
                            'file_format': 'camt_053_001',
                            },
                        }, 'import_')
            statement, = Statement.search([])
            self.assertEqual(statement.name, 'CAMT-2026-001')
            line, = statement.lines     # only bill 1 exists here
            self.assertEqual(line.related_to, bill)

    @with_transaction()
    def test_match_bills_rights(self):
        """Match Bills is refused on the server to the groups that do not
        reconcile bank statements, even with Tryton's Statement group (which
        reads and validates statements); accountants and administrators
        with the Accounting group match"""
        pool = Pool()
        ModelData = pool.get('ir.model.data')
        Statement = pool.get('account.statement')
        Line = pool.get('account.statement.line')
        company = self.setup_bank()
        with set_company(company):
            bill = pool.get('isp.service').bill_renewal([self.service], 1)
            statement = self.statement('S-1', [
                    ('1', '20', None, bill.customer_payment_reference)])
            # saved without matching, as before more bills were posted
            statement.save()
        account_group = ModelData.get_id('account', 'group_account')
        statement_group = ModelData.get_id(
            'account_statement', 'group_statement')

        def staff(login, group, *others):
            return create_staff(
                login, 'group_isp_' + group, company=company, groups=others)

        refused = [(group, others)
            for group in ['cashier', 'technician', 'support', 'viewer']
            for others in [(), (statement_group,)]]
        # an ISP accountant or administrator without Tryton's Accounting
        # group does not see the statements
        refused += [('accountant', ()), ('admin', ())]
        for n, (group, others) in enumerate(refused):
            user = staff('match%d' % n, group, *others)
            with self.subTest(group=group, statement_group=bool(others)), \
                    as_user(user):
                with self.assertRaises((AccessError, AccessButtonError)):
                    Statement.isp_match_bills([Statement(statement.id)])
            self.assertEqual(Line.search([], count=True), 0)
        # the button check itself: statement readers outside its groups
        with as_user(staff('clerk', 'cashier', statement_group)):
            with self.assertRaises(AccessButtonError):
                Statement.isp_match_bills([Statement(statement.id)])

        for login, group in [('acc', 'accountant'), ('adm', 'admin')]:
            user = staff(login, group, account_group)
            with self.subTest(group=group), as_user(user):
                lines = Statement.isp_match_bills([Statement(statement.id)])
                if group == 'accountant':
                    line, = lines
                    self.assertEqual(line.related_to, bill)
                    self.assertEqual(line.amount, Decimal('20'))
                else:
                    # already matched: nothing more
                    self.assertEqual(lines, [])
        self.assertEqual(Line.search([], count=True), 1)

    @with_transaction()
    def test_bill_pdf_company_account(self):
        """Without payment means the bill shows the company party's bank
        account; it always shows the structured reference and the period"""
        pool = Pool()
        Service = pool.get('isp.service')
        company = self.setup_bank()
        with set_company(company):
            bill = Service.bill_renewal([self.service], 1)
            # no payment mean rule in this company
            self.assertEqual(list(bill.payment_means), [])
            report = pool.get('account.invoice', type='report')
            ext, content, _, name = report.execute([bill.id], {})
            self.assertEqual(ext, 'pdf')
            text = pdf_text(content)
            self.assertIn('IBAN: DE89 3704 0044 0532 0130 00', text)
            self.assertIn(bill.customer_payment_reference, text)
            line, = bill.lines
            self.assertIn(' '.join(line.description.split()), text)
            self.assertIn('Amount due', text)
