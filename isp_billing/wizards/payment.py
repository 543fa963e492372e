"""Register payment: the cashier's one-click renewal (or bill only)."""
from decimal import Decimal

from trytond.model import ModelView, fields
from trytond.pool import Pool
from trytond.pyson import Eval
from trytond.transaction import Transaction
from trytond.wizard import (
    Button, StateReport, StateTransition, StateView, Wizard)

from ..models.counter import renewal_defaults, renewal_payments, total_summary

RECEIPT_LAYOUTS = [
    ('a4', "A4 page"),
    ('80mm', "Receipt printer (80 mm)"),
    ('none', "No receipt"),
    ]


class PayReceiptMixin:
    """The Pay step of Register Payment and of the Counter: the payment is
    Service.pay_renewal, then the receipt chosen on the form opens at once.
    The start view names the services (``services_to_pay``) and carries
    plan, periods, payment_method, amount, reference, receipt and payments.
    """
    pay = StateTransition()
    receipt = StateReport('isp.service.payment.receipt')
    receipt_80mm = StateReport('isp.service.payment.receipt_80mm')

    def services_to_pay(self):
        raise NotImplementedError

    def transition_pay(self):
        Service = Pool().get('isp.service')
        invoice = Service.pay_renewal(
            self.services_to_pay(), self.start.periods,
            self.start.payment_method, plan=self.start.plan,
            amount=self.start.amount, reference=self.start.reference)
        self.start.payments = renewal_payments(invoice)
        return {
            'a4': 'receipt',
            '80mm': 'receipt_80mm',
            }.get(self.start.receipt, 'end')

    def do_receipt(self, action):
        "The receipt opens right after Pay"
        return action, {
            'model': 'isp.service.payment',
            'id': self.start.payments[0].id,
            'ids': [p.id for p in self.start.payments],
            }

    def do_receipt_80mm(self, action):
        return self.do_receipt(action)

    def transition_receipt(self):
        return 'end'

    def transition_receipt_80mm(self):
        return 'end'

    def end(self):
        return 'reload'


class RegisterPaymentStart(ModelView):
    "Register Payment"
    __name__ = 'isp.service.register_payment.start'
    __string__ = "Register Payment"

    company = fields.Many2One('company.company', "Company", readonly=True)
    currency = fields.Many2One('currency.currency', "Currency", readonly=True)
    customer = fields.Many2One('party.party', "Customer",
        context={'company': Eval('company', -1)}, depends={'company'}, readonly=True)
    services = fields.Many2Many(
        'isp.service', None, None, "Services",
        context={'company': Eval('company', -1)}, depends={'company'}, required=True,
        domain=[
            ('customer', '=', Eval('customer', -1)),
            ('state', '!=', 'cancelled'),
            ])
    kind = fields.Char("Kind", readonly=True)
    plan = fields.Many2One(
        'product.product', "Plan",
        context={'company': Eval('company', -1)}, depends={'company'},
        domain=[
            ('template.isp_plan', '=', True),
            ('template.plan_kind', '=', Eval('kind', '')),
            ],
        states={'invisible': ~Eval('kind')},
        help="Empty: each service renews its own plan (or next plan).")
    periods = fields.Integer("Periods", required=True)
    payment_method = fields.Many2One(
        'account.invoice.payment.method', "Payment Method", required=True,
        context={'company': Eval('company', -1)}, depends={'company'},
        domain=[('company', '=', Eval('company', -1))],
        help="How the customer pays; not used to bill only.")
    price = fields.Numeric("Total", digits=(16, 2), readonly=True,
        help="What the customer pays for all the periods and services: "
        "the invoice total, taxes included.")
    summary = fields.Char("To Pay", readonly=True)
    receipt = fields.Selection(RECEIPT_LAYOUTS, "Receipt", required=True)
    payments = fields.Many2Many(
        'isp.service.payment', None, None, "Payments", readonly=True,
        context={'company': Eval('company', -1)}, depends={'company'})
    amount = fields.Numeric("Amount", digits=(16, 2), required=True,
        help="Taxes included. Price by default; less is a discount, if the "
        "configuration allows discounts.")
    allow_discount = fields.Boolean("Allow Discount", readonly=True)
    reference = fields.Char("Reference",
        help="Receipt number, transfer or mobile money reference.")

    @classmethod
    def default_periods(cls):
        return 1

    @fields.depends('services')
    def on_change_with_kind(self, name=None):
        kinds = {s.kind for s in self.services or []}
        return kinds.pop() if len(kinds) == 1 else None

    @fields.depends('services', 'plan', 'periods')
    def on_change_with_price(self, name=None):
        Service = Pool().get('isp.service')
        if not self.services or not self.periods or self.periods < 0:
            return Decimal(0)
        return Service.taxed_total(
            list(self.services), self.periods, plan=self.plan)

    @fields.depends('currency', methods=['on_change_with_price'])
    def on_change_periods(self):
        self.price = self.on_change_with_price()
        self.amount = self.price
        self.summary = total_summary(self.periods, self.price, self.currency)

    @fields.depends(methods=['on_change_periods'])
    def on_change_plan(self):
        self.on_change_periods()

    @fields.depends(methods=['on_change_periods'])
    def on_change_services(self):
        self.on_change_periods()


class RegisterPayment(PayReceiptMixin, Wizard):
    "Register Payment"
    __name__ = 'isp.service.register_payment'
    __string__ = "Register Payment"

    start = StateView('isp.service.register_payment.start',
        'isp_billing.register_payment_start_view_form', [
            Button("Cancel", 'end', 'tryton-cancel'),
            Button("Bill Only", 'bill', 'tryton-print', validate=False),
            Button("Pay", 'pay', 'tryton-ok', default=True),
            ])
    bill = StateTransition()

    def default_start(self, fields):
        Service = Pool().get('isp.service')
        context = Transaction().context
        model = context.get('active_model')
        ids = context.get('active_ids') or []
        if model == 'isp.service':
            services = Service.browse(ids)
        elif model == 'party.party':
            services = Service.search([
                    ('customer', 'in', ids),
                    ('state', '!=', 'cancelled'),
                    ])
        else:
            services = []
        services = [s for s in services if s.state != 'cancelled']
        values = renewal_defaults(services)
        values['services'] = [s.id for s in services]
        if services:
            values['summary'] = total_summary(
                1, values['price'], services[0].company.currency)
        elif model == 'party.party' and ids:
            values['customer'] = ids[0]
        return values

    def services_to_pay(self):
        return list(self.start.services)

    def transition_bill(self):
        Service = Pool().get('isp.service')
        Service.bill_renewal(
            list(self.start.services), self.start.periods,
            plan=self.start.plan, amount=self.start.amount,
            reference=self.start.reference)
        return 'end'
