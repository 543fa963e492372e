"""The accountant's bank file, edge cases (the main flow, CAMT.053 and OFX,
is tests/scenario_bank_file.rst): what is matched and what is not, a file
imported twice, who may import, an MT940 file (the generic flavour), and
the bill's PDF without a payment mean."""
import datetime as dt
import io
import os
from types import SimpleNamespace
from decimal import Decimal

from pypdf import PdfReader

from trytond.exceptions import UserError
from trytond.model.exceptions import AccessError
from trytond.model.modelview import AccessButtonError
from trytond.modules.company.tests import set_company
from trytond.pool import Pool
from trytond.tests.test_tryton import with_transaction
from trytond.transaction import Transaction

from trytond.modules.account.tests import get_fiscalyear
from trytond.modules.account_invoice.tests import set_invoice_sequences

from ..models.statement import ibans, mt940_entry_id, structured_references
from .test_payment import AccountingMixin
from .tools import (
    IspTestCase, as_user, create_customer, create_plan, create_service,
    create_staff)

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

    def test_ibans(self):
        "IBANs are found in an MT940 entry's text, valid ones only"
        self.assertEqual(ibans(
                '?30MIDLGB22XXX?31GB82WEST12345698765432?32BRIAN OTIENO'),
            ['GB82WEST12345698765432'])
        self.assertEqual(ibans('?31gb82west12345698765432BRIAN'),
            ['GB82WEST12345698765432'])
        # a wrong check digit
        self.assertEqual(ibans('?31GB83WEST12345698765432?32X', None), [])

    def test_mt940_entry_id(self):
        "An MT940 entry's id is the bank's reference, else the customer's"
        def entry(reference, bank):
            return SimpleNamespace(id='NTRF', reference=reference,
                institution_reference=bank)
        self.assertEqual(mt940_entry_id(entry('NONREF', 'B-1')), 'B-1')
        self.assertEqual(mt940_entry_id(entry('E2E-7', '')), 'E2E-7')
        self.assertEqual(mt940_entry_id(entry('NONREF', '')), 'NTRF')

    @with_transaction()
    def test_mt940(self):
        """An MT940 file (generic flavour: no bank chosen; a German bank's
        :86: subfields) as the CAMT.053 one: Amina's payment matched by its
        reference, Brian's by the IBAN in the text and the amount of his only
        open bill, Carmen's partial payment by its reference, the unknown
        one left to check; validated, the paid bills activate their
        services; the same file twice creates nothing twice, and a file
        that overlaps it imports only the new payment"""
        pool = Pool()
        Service = pool.get('isp.service')
        Invoice = pool.get('account.invoice')
        Statement = pool.get('account.statement')
        Origin = pool.get('account.statement.origin')
        BankAccount = pool.get('bank.account')
        StatementImport = pool.get('account.statement.import', type='wizard')
        company = self.setup_bank()
        with set_company(company):
            if dt.date.today().year != 2026:
                # the file is dated 30 November 2026
                year = set_invoice_sequences(get_fiscalyear(
                        company, today=dt.date(2026, 11, 30)))
                year.save()
                year.create_period([year])
            amina = self.service
            brian = create_service(customer("Brian Otieno"), self.plan,
                self.router, login='brian')
            BankAccount.create([{
                        'owners': [('add', [brian.customer.id])],
                        'numbers': [('create', [{'type': 'iban',
                                        'number': 'GB82 WEST 1234 5698 7654 32',
                                        }])],
                        }])
            fibre = create_plan('Fibre 50M', price=40)
            fibre.account_category = self.plan.account_category
            fibre.save()
            carmen = create_service(customer("Carmen Ruiz"), fibre,
                self.router, login='carmen')
            bill_a, bill_b, bill_c = [Service.bill_renewal([s], 1)
                for s in [amina, brian, carmen]]
            self.assertEqual([b.customer_payment_reference
                    for b in [bill_a, bill_b, bill_c]],
                ['RF74 1', 'RF47 2', 'RF20 3'])
            with open(os.path.join(FILES, 'mt940_2026_003.sta'), 'rb') as f:
                mt940 = f.read()

            def import_(content):
                session_id, _, _ = StatementImport.create()
                with Transaction().set_context(active_model=None):
                    StatementImport.execute(session_id, {
                            'start': {
                                'company': company.id,
                                'file_': content,
                                'file_format': 'mt940',
                                'mt940_bank': None,
                                },
                            }, 'import_')
            import_(mt940)
            statement, = Statement.search([])
            self.assertEqual(statement.name, '00003/001')
            self.assertEqual(statement.journal, self.journal)
            self.assertEqual(statement.date, dt.date(2026, 11, 30))
            self.assertEqual(
                [(o.number, o.amount) for o in statement.origins], [
                    ('MT-26113-0001', Decimal('20.00')),
                    ('MT-26113-0002', Decimal('20.00')),
                    ('MT-26113-0003', Decimal('25.00')),
                    ('MT-26113-0004', Decimal('15.00'))])
            lines = {l.origin.number: l for l in statement.lines}
            self.assertEqual(sorted(lines),
                ['MT-26113-0001', 'MT-26113-0002', 'MT-26113-0003'])
            self.assertEqual(lines['MT-26113-0001'].related_to, bill_a)
            self.assertEqual(lines['MT-26113-0002'].related_to, bill_b)
            self.assertEqual(lines['MT-26113-0002'].party, brian.customer)
            self.assertEqual(lines['MT-26113-0003'].related_to, bill_c)
            self.assertEqual(lines['MT-26113-0003'].amount, Decimal('25'))
            # Bank Payments to Check (data/statement.xml)
            self.assertEqual([o.number for o in Origin.search([
                            ('pending_amount', '!=', 0),
                            ('statement.state', 'in', ['draft', 'validated']),
                            ])], ['MT-26113-0004'])

            Statement.validate_statement([statement])
            # the queue's task, run after the commit outside the tests
            Invoice.process([bill_a, bill_b, bill_c])
            self.assertEqual(
                [Invoice(b.id).state for b in [bill_a, bill_b, bill_c]],
                ['paid', 'paid', 'posted'])
            self.assertEqual(Invoice(bill_c.id).amount_to_pay, Decimal(15))
            self.assertEqual(
                [Service(s.id).state for s in [amina, brian, carmen]],
                ['active', 'active', 'draft'])
            self.assertEqual(
                [len(Service(s.id).payments) for s in [amina, brian, carmen]],
                [1, 1, 0])

            with self.assertRaises(UserError) as cm:
                import_(mt940)
            self.assertIn('already imported', cm.exception.message)
            self.assertEqual(
                (Statement.search([], count=True),
                    Origin.search([], count=True)), (1, 4))

            # the next statement repeats the unknown payment and brings
            # another 20.00 of the same day, type (NTRF) and no reference:
            # only the new one is imported
            header, _, _ = mt940.partition(b':61:')
            entries = mt940[len(header):].split(b':62F:')[0]
            unknown = entries[entries.index(b':61:2611301130C15,00'):]
            overlap = (header.replace(b'00003/001', b'00004/001').replace(
                    b':60F:C261130USD100,00', b':60F:C261130USD180,00')
                + unknown
                + b':61:2611301130C20,00NTRFNONREF//MT-26113-0005\r\n'
                + b':86:166?00SEPA-UEBERWEISUNG?20SVWZ+INTERNET\r\n'
                + b':62F:C261130USD215,00\r\n-\r\n')
            import_(overlap)
            second, = Statement.search([('name', '=', '00004/001')])
            self.assertEqual([o.number for o in second.origins],
                ['MT-26113-0005'])
            self.assertEqual(second.number_of_lines, 1)
            self.assertEqual(Origin.search([], count=True), 5)

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
