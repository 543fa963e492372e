"""The customer's bill: the standard invoice report (``account.invoice``)
rendered from report/bill.html to PDF by weasyprint, without LibreOffice.

The report name stays ``account.invoice`` so the invoice's Print button,
the cached copy of a posted invoice and the customer portal all get it.
"""
from trytond.pool import Pool, PoolMeta
from trytond.transaction import Transaction

from ..times import company_timezone


class InvoiceReport(metaclass=PoolMeta):
    __name__ = 'account.invoice'

    @classmethod
    def get_context(cls, records, header, data):
        context = super().get_context(records, header, data)
        invoice = context['invoice']
        # periods are stored in UTC; the customer reads them in the ISP's
        # time zone
        timezone = company_timezone(invoice.company)

        def when(value):
            if not value:
                return ''
            return cls.format_datetime(
                value, format='%Y-%m-%d %H:%M', timezone=timezone)

        context.update({
                'timezone': timezone,
                'when': when,
                'bank_accounts': cls.isp_bank_accounts(invoice),
                })
        return context

    @classmethod
    def isp_bank_accounts(cls, invoice):
        """The ISP's accounts to pay to, as (label, bank name) pairs: the
        invoice's payment means, else the company party's bank accounts"""
        pool = Pool()
        accounts = []
        for mean in getattr(invoice, 'payment_means', None) or []:
            instrument = getattr(mean, 'instrument', None)
            bank = (instrument.bank.rec_name
                if instrument and getattr(instrument, 'bank', None) else '')
            accounts.append((mean.rec_name, bank))
        if not accounts:
            Party = pool.get('party.party')
            with Transaction().set_context(company=invoice.company.id):
                party = Party(invoice.company.party.id)
                for account in party.bank_accounts_used or []:
                    for number in account.numbers:
                        label = ('IBAN: %s' % number.number
                            if number.type == 'iban' else number.number)
                        accounts.append((label,
                                account.bank.rec_name if account.bank else ''))
        return accounts
