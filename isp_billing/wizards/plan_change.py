"""Change the plan of the selected services now or at the next renewal."""
from trytond.model import ModelView, fields
from trytond.pool import Pool
from trytond.pyson import Eval
from trytond.wizard import Button, StateTransition, StateView, Wizard


class ChangePlanStart(ModelView):
    "Change Plan"
    __name__ = 'isp.service.change_plan.start'
    __string__ = "Change Plan"

    company = fields.Many2One('company.company', "Company", readonly=True)

    services = fields.Many2Many('isp.service', None, None, "Services",
        context={'company': Eval('company', -1)}, depends={'company'},
        readonly=True)
    kind = fields.Char("Kind", readonly=True)
    current_plan = fields.Many2One(
        'product.product', "Current Plan",
        context={'company': Eval('company', -1)}, depends={'company'},
        readonly=True, help="Empty when the services have different plans.")
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
    __string__ = "Change Plan"

    rule = fields.Text("Rule", readonly=True)


class ChangePlan(Wizard):
    "Change Plan"
    __name__ = 'isp.service.change_plan'
    __string__ = "Change Plan"

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
        Service = Pool().get('isp.service')
        services = self.records
        values = {'when': 'now'}
        if services:
            # several services change together only if they can
            Service.check_plan_change_selection(services)
            plans = {s.plan for s in services}
            values.update(services=[s.id for s in services],
                kind=services[0].kind, company=services[0].company.id,
                current_plan=plans.pop().id if len(plans) == 1 else None)
        return values

    def default_confirm(self, fields):
        Service = Pool().get('isp.service')
        services = self.records
        Service.check_plan_change(services, self.start.plan)
        return {'rule': Service.plan_change_rules(
                services, self.start.plan, self.start.when)}

    def transition_change(self):
        Service = Pool().get('isp.service')
        Service.change_plan(
            list(self.records), self.start.plan, self.start.when)
        return 'end'

    def end(self):
        return 'reload'
