"""The counter: find the customer by what they say, pay, print the receipt.

One entry takes a name, phone, email, ISP code, login or invoice number
(Service.search_rec_name, models/counter.py); choosing the service proposes
one period of its renewal plan with the usual payment method, so a renewal
is: type, pick, Pay. Pay and the receipt are those of Register Payment
(PayReceiptMixin, wizards/payment.py)."""
from decimal import Decimal

from trytond.model import ModelView, fields
from trytond.pool import Pool
from trytond.pyson import Eval
from trytond.wizard import Button, StateView, Wizard

from ..models.counter import renewal_defaults, total_summary
from .payment import RECEIPT_LAYOUTS, PayReceiptMixin


class CounterStart(ModelView):
    "Counter"
    __name__ = 'isp.counter.start'
    __string__ = "Counter"

    service = fields.Many2One(
        'isp.service', "Find", required=True,
        context={'company': Eval('company', -1)}, depends={'company'},
        domain=[('state', '!=', 'cancelled')],
        help="Type a name, phone, email, ISP code, login or invoice number "
        "and press Tab; pick the service in the list if several match.")
    customer = fields.Many2One('party.party', "Customer", readonly=True,
        context={'company': Eval('company', -1)}, depends={'company'})
    customer_services = fields.Many2Many(
        'isp.service', None, None, "Services of the Customer", readonly=True,
        context={'company': Eval('company', -1)}, depends={'company'})
    company = fields.Many2One('company.company', "Company", readonly=True)
    currency = fields.Many2One('currency.currency', "Currency", readonly=True)
    kind = fields.Char("Kind", readonly=True)
    plan = fields.Many2One(
        'product.product', "Plan",
        context={'company': Eval('company', -1)}, depends={'company'},
        domain=[
            ('template.isp_plan', '=', True),
            ('template.plan_kind', '=', Eval('kind', '')),
            ],
        states={'readonly': ~Eval('service')},
        help="The renewal plan of the service; another plan changes it.")
    periods = fields.Integer("Periods", required=True)
    payment_method = fields.Many2One(
        'account.invoice.payment.method', "Payment Method", required=True,
        context={'company': Eval('company', -1)}, depends={'company'},
        domain=[('company', '=', Eval('company', -1))])
    price = fields.Numeric("Total", digits=(16, 2), readonly=True,
        help="What the customer pays for all the periods, taxes included.")
    summary = fields.Char("To Pay", readonly=True)
    amount = fields.Numeric("Amount Received", digits=(16, 2), required=True,
        states={'readonly': ~Eval('allow_discount', False)},
        help="Taxes included. Less than the total is a discount, if the "
        "configuration allows discounts.")
    allow_discount = fields.Boolean("Allow Discount", readonly=True)
    reference = fields.Char("Reference",
        help="Receipt number, transfer or mobile money reference.")
    receipt = fields.Selection(RECEIPT_LAYOUTS, "Receipt", required=True)
    payments = fields.Many2Many(
        'isp.service.payment', None, None, "Payments", readonly=True,
        context={'company': Eval('company', -1)}, depends={'company'})

    @classmethod
    def default_periods(cls):
        return 1

    @classmethod
    def default_receipt(cls):
        Configuration = Pool().get('isp.configuration')
        return Configuration(1).receipt_layout or 'a4'

    @fields.depends('service', 'periods', 'plan', 'currency', 'customer',
        'customer_services', 'company', 'kind', 'payment_method',
        'allow_discount', methods=['on_change_periods'])
    def on_change_service(self):
        if not self.service:
            self.customer = None
            self.customer_services = []
            return
        values = renewal_defaults([self.service])
        for name in ['company', 'currency', 'customer', 'plan', 'kind',
                'payment_method', 'allow_discount']:
            if name in values:
                setattr(self, name, values[name])
        self.customer_services = [s.id for s in self.customer.isp_services]
        self.periods = 1
        self.on_change_periods()

    @fields.depends('service', 'plan', 'periods', 'currency', 'price',
        'amount', 'summary')
    def on_change_periods(self):
        Service = Pool().get('isp.service')
        if self.service and self.periods and self.periods > 0:
            self.price = Service.taxed_total(
                [self.service], self.periods, plan=self.plan)
        else:
            self.price = Decimal(0)
        self.amount = self.price
        self.summary = total_summary(self.periods, self.price, self.currency)

    @fields.depends(methods=['on_change_periods'])
    def on_change_plan(self):
        self.on_change_periods()


class Counter(PayReceiptMixin, Wizard):
    "Counter"
    __name__ = 'isp.counter'
    __string__ = "Counter"

    start = StateView('isp.counter.start',
        'isp_billing.counter_start_view_form', [
            Button("Close", 'end', 'tryton-close'),
            Button("Pay", 'pay', 'tryton-ok', default=True),
            ])

    def default_start(self, fields):
        values = {'periods': 1}
        values['receipt'] = CounterStart.default_receipt()
        # opened on a service (or a customer's only service): preselected
        context_services = self._context_services()
        if len(context_services) == 1:
            service, = context_services
            values.update(renewal_defaults([service]))
            values['service'] = service.id
            values['customer_services'] = [
                s.id for s in service.customer.isp_services]
            values['summary'] = total_summary(
                1, values['price'], service.company.currency)
        return values

    def _context_services(self):
        Service = Pool().get('isp.service')
        model = self.model.__name__ if self.model else None
        if model == 'isp.service':
            return [s for s in self.records if s.state != 'cancelled']
        if model == 'party.party' and len(self.records) == 1:
            return Service.search([
                    ('customer', '=', self.records[0].id),
                    ('state', '!=', 'cancelled'),
                    ])
        return []

    def services_to_pay(self):
        return [self.start.service]
