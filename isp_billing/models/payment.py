"""The payment history of a service: one record per paid invoice applied.

Payments are made by the Register Payment wizard or by reconciling a bank
statement line; the rules that apply them live on the service
(models/service.py).  This record is the ledger: append-only.
"""
from trytond.i18n import gettext
from sql import Null

from trytond.model import Index, ModelSQL, ModelView, fields
from trytond.pyson import Eval

from ..exceptions import PaymentRecordError


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
