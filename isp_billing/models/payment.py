"""The payment history of a service: one record per paid invoice applied.

Payments are made by the Register Payment wizard or by reconciling a bank
statement line; the rules that apply them live on the service
(models/service.py).  This record is the ledger: append-only.
"""
from trytond.i18n import gettext
from sql import Null

from trytond.model import Index, ModelSQL, ModelView, fields
from trytond.pool import Pool
from trytond.pyson import Eval
from trytond.transaction import Transaction

from ..exceptions import PaymentRecordError
from .service import plan_name


class ServicePayment(ModelSQL, ModelView):
    "Service Payment"
    __name__ = 'isp.service.payment'
    __string__ = "Service Payment"

    service = fields.Many2One(
        'isp.service', "Service",
        context={'company': Eval('company', -1)}, depends={'company'}, required=True, readonly=True,
        ondelete='RESTRICT')
    customer = fields.Many2One(
        'party.party', "Customer",
        context={'company': Eval('company', -1)}, depends={'company'}, required=True, readonly=True,
        ondelete='RESTRICT')
    company = fields.Many2One(
        'company.company', "Company", required=True, readonly=True)
    date = fields.Timestamp("Date", required=True, readonly=True,
        help="When the payment was applied to the service.")
    invoice = fields.Many2One(
        'account.invoice', "Invoice",
        context={'company': Eval('company', -1)}, depends={'company'}, required=True, readonly=True,
        ondelete='RESTRICT')
    amount = fields.Numeric(
        "Amount", digits=(16, 2), required=True, readonly=True)
    currency = fields.Many2One(
        'currency.currency', "Currency", required=True, readonly=True)
    payment_method = fields.Many2One(
        'account.invoice.payment.method', "Payment Method",
        context={'company': Eval('company', -1)}, depends={'company'}, readonly=True)
    journal = fields.Many2One('account.journal', "Journal",
        context={'company': Eval('company', -1)}, depends={'company'}, readonly=True)
    plan = fields.Many2One('product.product', "Plan",
        context={'company': Eval('company', -1)}, depends={'company'}, readonly=True)
    periods = fields.Integer("Periods", readonly=True)
    days = fields.Integer("Days", readonly=True)
    period_start = fields.Timestamp("Period Start", readonly=True)
    period_end = fields.Timestamp("Period End", readonly=True)
    paid_until_before = fields.Timestamp("Paid Until Before", readonly=True)
    paid_until_after = fields.Timestamp("Paid Until After", readonly=True)
    user = fields.Many2One('res.user', "Registered By", readonly=True)
    reference = fields.Char("Reference", readonly=True)
    lines = fields.One2Many(
        'account.invoice.line', 'isp_payment', "Invoice Lines",
        readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [('date', 'DESC'), ('id', 'DESC')]
        t = cls.__table__()
        cls._sql_indexes.update({
                # the dashboard (models/dashboard.py): revenue per month
                # (index-only), a customer's earlier payments, first payments
                # in customer order (the earliest of each customer read in
                # one ordered pass, no hash of every customer)
                Index(t, (t.date, Index.Range()),
                    include=[t.payment_method, t.amount, t.service,
                        t.company]),
                Index(t, (t.customer, Index.Equality()),
                    (t.date, Index.Range())),
                Index(t, (t.customer, Index.Range()), (t.date, Index.Range()),
                    include=[t.service, t.company],
                    where=t.paid_until_before == Null),
                })

    def get_rec_name(self, name):
        return f'{self.invoice.rec_name} - {self.service.rec_name}'

    @classmethod
    def portal_read(cls, customer_id):
        """The customer's payments as the portal lists them, newest first,
        read in one query: [{id, date, amount, currency, method, plan,
        period_start, period_end, invoice, timezone}].  Portal routes run
        as root: the customer filter is here."""
        pool = Pool()
        Currency = pool.get('currency.currency')
        Method = pool.get('account.invoice.payment.method')
        Journal = pool.get('account.journal')
        Product = pool.get('product.product')
        Template = pool.get('product.template')
        Invoice = pool.get('account.invoice')
        Company = pool.get('company.company')
        payment = cls.__table__()
        currency = Currency.__table__()
        method = Method.__table__()
        journal = Journal.__table__()
        product = Product.__table__()
        template = Template.__table__()
        invoice = Invoice.__table__()
        company = Company.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*payment
            .join(currency, condition=payment.currency == currency.id)
            .join(invoice, condition=payment.invoice == invoice.id)
            .join(company, condition=payment.company == company.id)
            .join(method, 'LEFT',
                condition=payment.payment_method == method.id)
            .join(journal, 'LEFT', condition=payment.journal == journal.id)
            .join(product, 'LEFT', condition=payment.plan == product.id)
            .join(template, 'LEFT',
                condition=product.template == template.id)
            .select(payment.id, payment.date, payment.amount,
                currency.code, method.name, journal.name, product.code,
                template.name, payment.period_start, payment.period_end,
                invoice.number, company.timezone,
                where=payment.customer == customer_id,
                order_by=[payment.date.desc, payment.id.desc]))
        return [{
                'id': id_, 'date': date, 'amount': amount,
                'currency': currency_code, 'method': method_name
                or journal_name or '',
                'plan': plan_name(code, name) if name else '',
                'period_start': start, 'period_end': end,
                'invoice': number or '', 'timezone': timezone or 'UTC',
                } for (id_, date, amount, currency_code, method_name,
                journal_name, code, name, start, end, number, timezone)
            in cursor]

    @classmethod
    def search_rec_name(cls, name, clause):
        return ['OR',
            ('invoice.rec_name',) + tuple(clause[1:]),
            ('service.rec_name',) + tuple(clause[1:]),
            ]

    @classmethod
    def check_modification(cls, mode, payments, values=None, external=False):
        super().check_modification(
            mode, payments, values=values, external=external)
        # append-only: only Service.apply_paid_lines creates them
        if mode == 'delete' or external:
            raise PaymentRecordError(gettext(
                    'isp_billing.msg_payment_record_readonly'))
