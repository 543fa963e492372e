"""Extend a service by days: free (trial, reward, ...) or paid."""
from decimal import Decimal

from trytond.model import ModelView, fields
from trytond.pool import Pool
from trytond.pyson import Bool, Eval
from trytond.transaction import Transaction
from trytond.wizard import Button, StateTransition, StateView, Wizard


class ExtendStart(ModelView):
    "Extend Service"
    __name__ = 'isp.service.extend.start'

    service = fields.Many2One('isp.service', "Service",
        context={'company': Eval('company', -1)}, depends={'company'}, readonly=True)
    company = fields.Many2One('company.company', "Company", readonly=True)
    days = fields.Integer("Days", required=True)
    reason = fields.Selection([
            ('trial', "Trial"),
            ('reward', "Reward"),
            ('compensation', "Compensation"),
            ('other', "Other"),
            ], "Reason", states={'required': ~Eval('paid')},
        help="Why the days are given (free extensions).")
    paid = fields.Boolean("Paid",
        help="The customer pays for the days: an invoice is created and "
        "paid with the payment method.")
    payment_method = fields.Many2One(
        'account.invoice.payment.method', "Payment Method",
        context={'company': Eval('company', -1)}, depends={'company'},
        domain=[('company', '=', Eval('company', -1))],
        states={'invisible': ~Eval('paid'), 'required': Bool(Eval('paid'))})
    amount = fields.Numeric("Amount", digits=(16, 2),
        states={'invisible': ~Eval('paid'), 'required': Bool(Eval('paid'))})
    reference = fields.Char("Reference", states={'invisible': ~Eval('paid')})
    note = fields.Text("Note")

    @classmethod
    def default_days(cls):
        return 1

    @classmethod
    def default_reason(cls):
        return 'compensation'

    @fields.depends('service', 'days', 'paid')
    def on_change_with_amount(self):
        Service = Pool().get('isp.service')
        if self.service and self.days and self.days > 0:
            return Service.extension_price(self.service, self.days)
        return Decimal(0)


class Extend(Wizard):
    "Extend Service"
    __name__ = 'isp.service.extend'

    start = StateView('isp.service.extend.start',
        'isp_billing.extend_start_view_form', [
            Button("Cancel", 'end', 'tryton-cancel'),
            Button("Extend", 'extend', 'tryton-ok', default=True),
            ])
    extend = StateTransition()

    def default_start(self, fields):
        Service = Pool().get('isp.service')
        service = self.record
        values = {'days': 1, 'reason': 'compensation', 'paid': False}
        if service:
            values['service'] = service.id
            values['company'] = service.company.id
            values['amount'] = Service.extension_price(service, 1)
        return values

    def transition_extend(self):
        Service = Pool().get('isp.service')
        services = [self.record]
        if self.start.paid:
            Service.pay_extension(
                services, self.start.days, self.start.payment_method,
                amount=self.start.amount, reference=self.start.reference,
                note=self.start.note)
        else:
            Service.extend(
                services, self.start.days, self.start.reason,
                note=self.start.note)
        return 'end'

    def end(self):
        return 'reload'
