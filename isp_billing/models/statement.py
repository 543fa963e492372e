"""The accountant's bank file: match its payments to the customers' bills.

Tryton's statement modules (OFX, CAMT.053, MT940) turn the bank's file into
a statement with one *origin* per payment. ``Statement.isp_match_bills``
then gives each incoming payment that pays a renewal bill a statement line
related to that bill, as the accountant would by hand:

- its description or remittance information holds the bill's structured
  reference (``customer_payment_reference``, an RF creditor reference
  printed on the bill), or
- its party (found by the statement module from the payer's IBAN or name)
  has exactly one open renewal bill of exactly that amount.

A payment smaller than the bill is matched only by its reference, and like
a manual partial reconciliation it leaves the bill open (``amount_to_pay``
goes down, the service is not activated). A payment larger than the bill
pays the bill; the rest stays pending on the origin. Everything else stays
unmatched for the accountant (menu *Bank Payments to Check*). Validating the
statement reconciles the lines: the bills become paid and the ``paid``
transition (models/invoice.py) activates the services, exactly once.
"""
import re
from collections import defaultdict
from decimal import Decimal

from stdnum import iban, iso11649

from trytond.i18n import gettext
from trytond.model import ModelView, fields
from trytond.modules.account_statement.exceptions import ImportStatementError
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Eval

# an RF creditor reference, possibly written in groups of 4 characters
RF_REFERENCE = re.compile(r'\bRF\s*\d{2}(?:\s?[0-9A-Z]){1,21}', re.IGNORECASE)


def structured_references(*texts):
    """The valid RF references that the texts may hold, compact and upper
    case. The pattern may eat the words after a reference, so every valid
    prefix of what it found is a candidate, the longest first."""
    references = []
    for text in texts:
        if not isinstance(text, str):
            continue
        for found in RF_REFERENCE.finditer(text):
            candidate = iso11649.compact(found.group(0))
            while len(candidate) > 4:
                if (iso11649.is_valid(candidate)
                        and candidate not in references):
                    references.append(candidate)
                candidate = candidate[:-1]
    return references


# an IBAN as a bank writes it in a text, compact (MT940 ?31 subfield)
IBAN = re.compile(r'[A-Z]{2}\d{2}[0-9A-Z]{11,30}')


def ibans(*texts):
    """The valid IBANs that the texts may hold, compact: an IBAN may be
    glued to the next word, so the longest valid prefix is taken"""
    found = []
    for text in texts:
        if not isinstance(text, str):
            continue
        for match in IBAN.finditer(text.upper()):
            candidate = match.group(0)
            while len(candidate) >= 15:
                if iban.is_valid(candidate):
                    if candidate not in found:
                        found.append(candidate)
                    break
                candidate = candidate[:-1]
    return found


def mt940_entry_id(transaction):
    """The id of an MT940 entry (:61:): the bank's reference (after //),
    else the customer's reference; Tryton's number is the transaction type
    (NTRF, NMSC...), the same for most entries of a file"""
    bank = (transaction.institution_reference or '').strip()
    if bank:
        return bank
    reference = (transaction.reference or '').strip()
    if reference and reference.upper() != 'NONREF':
        return reference
    return transaction.id


class Statement(metaclass=PoolMeta):
    __name__ = 'account.statement'

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._buttons.update({
                'isp_match_bills': {
                    'invisible': Eval('state') != 'draft',
                    'depends': ['state'],
                    },
                })

    @classmethod
    def isp_check_not_imported(cls, statements):
        """Refuse a bank file whose statements are already in the journal
        (same statement id), and drop the payments already imported (same
        entry id, date and amount) from a statement that overlaps another"""
        pool = Pool()
        Origin = pool.get('account.statement.origin')
        for statement in statements:
            if statement.name and cls.search([
                        ('journal', '=', statement.journal.id),
                        ('name', '=', statement.name),
                        ('state', '!=', 'cancelled'),
                        ], limit=1):
                raise ImportStatementError(gettext(
                        'isp_billing.msg_bank_file_already_imported',
                        statement=statement.name,
                        journal=statement.journal.rec_name))
            origins = list(getattr(statement, 'origins', None) or [])
            numbers = {o.number for o in origins if o.number}
            known = set()
            if numbers:
                for origin in Origin.search([
                            ('statement.journal', '=', statement.journal.id),
                            ('statement.state', '!=', 'cancelled'),
                            ('number', 'in', list(numbers)),
                            ]):
                    known.add((origin.number, origin.date, origin.amount))
            kept = [o for o in origins
                if (o.number, o.date, o.amount) not in known]
            if origins and not kept:
                raise ImportStatementError(gettext(
                        'isp_billing.msg_bank_file_payments_already_imported',
                        statement=statement.name or '',
                        journal=statement.journal.rec_name))
            if len(kept) != len(origins):
                statement.origins = kept
                if getattr(statement, 'number_of_lines', None):
                    statement.number_of_lines = len(kept)

    @classmethod
    def isp_save_imported(cls, statements, file_):
        """Save the statements parsed from a bank file, once, and match
        their payments to the bills"""
        cls.isp_check_not_imported(statements)
        for statement in statements:
            statement.origin_file = fields.Binary.cast(file_)
        cls.save(statements)
        cls.isp_match_bills(statements)
        return statements

    @classmethod
    @ModelView.button
    def isp_match_bills(cls, statements):
        """Give a statement line to each payment of the draft statements
        that pays a customer's renewal bill. Returns the lines created."""
        pool = Pool()
        Line = pool.get('account.statement.line')
        lines = []
        # what this run already took from each bill
        taken = defaultdict(Decimal)
        for statement in statements:
            if statement.state != 'draft':
                continue
            for origin in statement.origins:
                if origin.lines or not origin.amount or origin.amount < 0:
                    continue
                invoice = cls._isp_bill_of(origin, taken)
                if not invoice:
                    continue
                amount = min(origin.amount,
                    invoice.amount_to_pay - taken[invoice.id])
                taken[invoice.id] += amount
                lines.append(cls._isp_line(origin, invoice, amount))
        Line.save(lines)
        return lines

    @classmethod
    def _isp_open_bills_domain(cls, origin):
        return [
            ('type', '=', 'out'),
            ('state', '=', 'posted'),
            ('company', '=', origin.statement.company.id),
            ('currency', '=', origin.statement.journal.currency.id),
            ('lines.isp_service', '!=', None),
            ]

    @classmethod
    def _isp_bill_of(cls, origin, taken):
        """The renewal bill the payment pays: by structured reference
        first, else the party's only open bill of that amount"""
        pool = Pool()
        Invoice = pool.get('account.invoice')
        information = origin.information or {}
        texts = [origin.description] + [
            information[k] for k in sorted(information)]
        for reference in structured_references(*texts):
            bills = Invoice.search(cls._isp_open_bills_domain(origin) + [
                    ('customer_payment_reference', '=', reference),
                    ])
            bills = [b for b in bills
                if b.amount_to_pay - taken[b.id] > 0]
            if len(bills) == 1:
                return bills[0]
        if origin.party:
            bills = Invoice.search(cls._isp_open_bills_domain(origin) + [
                    ('party', '=', origin.party.id),
                    ])
            bills = [b for b in bills
                if b.amount_to_pay - taken[b.id] == origin.amount]
            if len(bills) == 1:
                return bills[0]

    @classmethod
    def _isp_line(cls, origin, invoice, amount):
        pool = Pool()
        Line = pool.get('account.statement.line')
        line = Line()
        line.statement = origin.statement
        line.origin = origin
        line.number = origin.number
        line.description = origin.description
        line.date = origin.date
        line.amount = amount
        line.party = invoice.party
        line.account = invoice.account
        line.related_to = invoice
        return line
