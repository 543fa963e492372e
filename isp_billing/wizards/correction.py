"""Correct Paid Time: an administrator moves a service's paid time by days
(negative shortens it), with a reason; Service.correct_paid_time records it."""
from trytond.model import ModelView, fields
from trytond.pool import Pool
from trytond.wizard import Button, StateTransition, StateView, Wizard


class CorrectPaidTimeStart(ModelView):
    "Correct Paid Time"
    __name__ = 'isp.service.correct_paid_time.start'
    __string__ = "Correct Paid Time"

    services = fields.Many2Many(
        'isp.service', None, None, "Services", readonly=True)
    days = fields.Integer(
        "Days", required=True,
        help="Added to the paid time; negative to shorten it.")
    note = fields.Text(
        "Reason", required=True,
        help="Why the paid time is corrected (kept on the record).")


class CorrectPaidTime(Wizard):
    "Correct Paid Time"
    __name__ = 'isp.service.correct_paid_time'
    __string__ = "Correct Paid Time"

    start = StateView('isp.service.correct_paid_time.start',
        'isp_billing.correct_paid_time_start_view_form', [
            Button("Cancel", 'end', 'tryton-cancel'),
            Button("Correct", 'correct', 'tryton-ok', default=True),
            ])
    correct = StateTransition()

    def default_start(self, fields):
        return {'services': [s.id for s in self.records]}

    def transition_correct(self):
        Service = Pool().get('isp.service')
        Service.correct_paid_time(
            list(self.records), self.start.days, self.start.note)
        return 'end'

    def end(self):
        return 'reload'
