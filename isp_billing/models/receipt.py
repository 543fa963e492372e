"""The receipt handed over at the counter after a payment.

One receipt per service payment: customer, service, period bought, amount,
method, cashier, the new paid until, and how to reach and pay the ISP (its
bank accounts and contact). HTML rendered to PDF by weasyprint; a second
report prints the same on an 80 mm receipt printer."""
from trytond.modules.company import CompanyReport
from trytond.pool import Pool
from trytond.transaction import without_check_access

from ..times import context_timezone, utcnow


class ReceiptReport(CompanyReport):
    "Receipt of a service payment (A4 page)"
    __name__ = 'isp.service.payment.receipt'

    @classmethod
    def get_context(cls, records, header, data):
        pool = Pool()
        BankAccount = pool.get('bank.account')
        context = super().get_context(records, header, data)
        company = context.get('company')
        if company is None and records:
            company = records[0].company
        timezone = context_timezone(company)

        def when(value):
            if not value:
                return '-'
            return cls.format_datetime(
                value, format='%Y-%m-%d %H:%M', timezone=timezone)

        party = company.party if company else None
        accounts, contacts, address = [], [], None
        if party:
            # the cashier prints the ISP's bank details without reading
            # the bank accounts themselves
            with without_check_access():
                accounts = [a.rec_name for a in BankAccount.search([
                            ('owners', '=', party.id),
                            ('active', '=', True),
                            ])]
                contacts = [m.value for m in party.contact_mechanisms
                    if m.type in {'phone', 'mobile', 'email', 'website'}]
                address = party.address_get()
                address = address.full_address if address else None
        context.update({
                'company': company,
                'timezone': timezone,
                'when': when,
                'bank_accounts': accounts,
                'contacts': contacts,
                'company_address': address,
                'printed_at': when(utcnow()),
                'narrow': cls.narrow(),
                })
        return context

    @classmethod
    def narrow(cls):
        return False


class ReceiptReport80mm(ReceiptReport):
    "Receipt of a service payment for an 80 mm receipt printer"
    __name__ = 'isp.service.payment.receipt_80mm'

    @classmethod
    def narrow(cls):
        return True
