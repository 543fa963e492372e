"""Extend the selected services by days: free (trial, reward, ...) or paid."""
from decimal import Decimal

from trytond.model import ModelView, fields
from trytond.pool import Pool
from trytond.pyson import Bool, Eval
from trytond.wizard import Button, StateTransition, StateView, Wizard


class ExtendStart(ModelView):
    "Extend Service"
    __name__ = 'isp.service.extend.start'
    __string__ = "Extend Service"

    services = fields.Many2Many('isp.service', None, None, "Services",
        context={'company': Eval('company', -1)}, depends={'company'},
        readonly=True)
    company = fields.Many2One('company.company', "Company", readonly=True)
    days = fields.Integer("Days", required=True)
    # No default and an empty first entry: sao rebuilds the options of a
    # selection on every redisplay and puts its value back only after a
    # deferred callback; a button clicked in that window (the note's blur
    # redisplays the form) makes the client read the FIRST option. It was
    # "Compensation" (and the default), so a chosen Other/Reward/Trial was
    # silently saved as Compensation. Now that read gives no reason, which
    # is refused, never a wrong one.
    reason = fields.Selection([
            (None, ""),
            ('trial', "Trial"),
            ('reward', "Reward"),
            ('compensation', "Compensation"),
            ('other', "Other"),
            ], "Reason", sort=False, states={
            'required': ~Eval('paid'),
            'invisible': Bool(Eval('paid')),
            },
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
        help="What the customer pays, taxes included.",
        states={'invisible': ~Eval('paid'), 'required': Bool(Eval('paid'))})
    reference = fields.Char("Reference", states={'invisible': ~Eval('paid')})
    note = fields.Text("Note")

    @classmethod
    def default_days(cls):
        return 1

    @classmethod
    def default_paid(cls):
        return False

    @fields.depends('services', 'days')
    def on_change_with_amount(self):
        Service = Pool().get('isp.service')
        if self.services and self.days and self.days > 0:
            return Service.taxed_total(list(self.services), days=self.days)
        return Decimal(0)


class Extend(Wizard):
    "Extend Service"
    __name__ = 'isp.service.extend'
    __string__ = "Extend Service"

    start = StateView('isp.service.extend.start',
        'isp_billing.extend_start_view_form', [
            Button("Cancel", 'end', 'tryton-cancel'),
            Button("Extend", 'extend', 'tryton-ok', default=True),
            ])
    extend = StateTransition()

    def default_start(self, fields):
        Service = Pool().get('isp.service')
        services = self.records
        values = {}
        if services:
            values['services'] = [s.id for s in services]
            values['company'] = services[0].company.id
            values['amount'] = Service.taxed_total(services, days=1)
        return values

    def transition_extend(self):
        Service = Pool().get('isp.service')
        services = list(self.records)
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
