"""Change the plan of a service now or at the next renewal."""
from trytond.model import ModelView, fields
from trytond.pool import Pool
from trytond.pyson import Eval
from trytond.wizard import Button, StateTransition, StateView, Wizard


class ChangePlanStart(ModelView):
    "Change Plan"
    __name__ = 'isp.service.change_plan.start'

    company = fields.Many2One('company.company', "Company", readonly=True)

    service = fields.Many2One('isp.service', "Service",
        context={'company': Eval('company', -1)}, depends={'company'}, readonly=True)
    kind = fields.Char("Kind", readonly=True)
    current_plan = fields.Many2One(
        'product.product', "Current Plan",
        context={'company': Eval('company', -1)}, depends={'company'}, readonly=True)
    plan = fields.Many2One(
        'product.product', "New Plan",
        context={'company': Eval('company', -1)}, depends={'company'}, required=True,
        domain=[
            ('template.isp_plan', '=', True),
            ('template.plan_kind', '=', Eval('kind', '')),
            ('id', '!=', Eval('current_plan', -1)),
            ])
    when = fields.Selection([
            ('now', "Now"),
            ('renewal', "At Next Renewal"),
            ], "When", required=True,
        help="Now: the paid time left is converted by the price ratio.\n"
        "At next renewal: the next payment buys the new plan.")


class ChangePlanConfirm(ModelView):
    "Change Plan"
    __name__ = 'isp.service.change_plan.confirm'

    rule = fields.Text("Rule", readonly=True)


class ChangePlan(Wizard):
    "Change Plan"
    __name__ = 'isp.service.change_plan'

    start = StateView('isp.service.change_plan.start',
        'isp_billing.change_plan_start_view_form', [
            Button("Cancel", 'end', 'tryton-cancel'),
            Button("Next", 'confirm', 'tryton-forward', default=True),
            ])
    confirm = StateView('isp.service.change_plan.confirm',
        'isp_billing.change_plan_confirm_view_form', [
            Button("Cancel", 'end', 'tryton-cancel'),
            Button("Change Plan", 'change', 'tryton-ok', default=True),
            ])
    change = StateTransition()

    def default_start(self, fields):
        service = self.record
        values = {'when': 'now'}
        if service:
            values.update(service=service.id, kind=service.kind,
                current_plan=service.plan.id, company=service.company.id)
        return values

    def default_confirm(self, fields):
        Service = Pool().get('isp.service')
        service = self.record
        Service.check_plan_change([service], self.start.plan)
        if self.start.when == 'renewal':
            rule = service.plan_change_renewal_rule(self.start.plan)
        else:
            rule = service.plan_change_rule(self.start.plan)
        return {'rule': rule}

    def transition_change(self):
        Service = Pool().get('isp.service')
        Service.change_plan([self.record], self.start.plan, self.start.when)
        return 'end'

    def end(self):
        return 'reload'
