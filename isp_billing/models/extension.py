"""Every change of ``paid_until`` that is not an invoice: extensions by days,
time given back after a suspension, time converted by a plan change.

The record is the ledger (append-only); the rules that make the changes live
on the service (models/service.py)."""
from decimal import Decimal

from trytond.i18n import gettext
from trytond.model import ModelSQL, ModelView, fields
from trytond.modules.company import CompanyReport
from trytond.pool import Pool
from trytond.pyson import Eval
from trytond.transaction import Transaction

from ..exceptions import PaymentRecordError
from ..times import as_days, context_timezone, utcnow

REASONS = [
    ('trial', "Trial"),
    ('reward', "Reward"),
    ('compensation', "Compensation"),
    ('paid', "Paid"),
    ('suspension', "Suspension"),
    ('plan_change', "Plan Change"),
    ('correction', "Correction"),
    ('other', "Other"),
    ('credit', "Credit Note"),
    ]
#: reasons staff may choose for a free extension
FREE_REASONS = {'trial', 'reward', 'compensation', 'other'}


class ServiceExtension(ModelSQL, ModelView):
    "Service Extension"
    __name__ = 'isp.service.extension'
    __string__ = "Service Extension"

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
    plan = fields.Many2One('product.product', "Plan",
        context={'company': Eval('company', -1)}, depends={'company'}, readonly=True,
        help="The plan of the service when the change was made.")
    user = fields.Many2One('res.user', "User", readonly=True)
    date = fields.Timestamp("Date", required=True, readonly=True)
    days = fields.Numeric("Days", digits=(16, 2), required=True,
        readonly=True)
    reason = fields.Selection(REASONS, "Reason", required=True,
        readonly=True, sort=False)
    reason_string = reason.translated('reason')
    paid = fields.Boolean("Paid", readonly=True)
    invoice = fields.Many2One(
        'account.invoice', "Invoice",
        context={'company': Eval('company', -1)}, depends={'company'}, readonly=True, ondelete='RESTRICT',
        states={'invisible': ~Eval('paid')})
    paid_until_before = fields.Timestamp("Paid Until Before", readonly=True)
    paid_until_after = fields.Timestamp("Paid Until After", readonly=True)
    note = fields.Text("Note", readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [('date', 'DESC'), ('id', 'DESC')]

    @classmethod
    def default_paid(cls):
        return False

    def get_rec_name(self, name):
        return f'{self.service.rec_name} {self.days:+}'

    @classmethod
    def search_rec_name(cls, name, clause):
        return [('service.rec_name',) + tuple(clause[1:])]

    @classmethod
    def check_modification(cls, mode, records, values=None, external=False):
        super().check_modification(
            mode, records, values=values, external=external)
        # append-only: only the ledger methods create them
        if mode == 'delete' or external:
            raise PaymentRecordError(gettext(
                    'isp_billing.msg_extension_record_readonly'))

    @classmethod
    def record(cls, service, before, after, reason, days=None, note=None,
            paid=False, invoice=None, now=None):
        "Return an unsaved extension record of service"
        if days is None:
            days = as_days(after - (before or after))
        return cls(
            service=service, customer=service.customer,
            company=service.company, plan=service.plan,
            user=Transaction().user or None, date=now or utcnow(),
            days=days, reason=reason, paid=paid, invoice=invoice,
            paid_until_before=before, paid_until_after=after, note=note)


class ExtensionReport(CompanyReport):
    "The list of the selected extensions, with the total of days"
    __name__ = 'isp.service.extension.report'

    @classmethod
    def get_context(cls, records, header, data):
        pool = Pool()
        Company = pool.get('company.company')
        context = super().get_context(records, header, data)
        company = context.get('company')
        if company is None and Transaction().context.get('company'):
            company = Company(Transaction().context['company'])
        # timestamps are stored in UTC; shown in the client's time zone,
        # else the company's
        timezone = context_timezone(company)

        def when(value):
            if not value:
                return ''
            return cls.format_datetime(
                value, format='%Y-%m-%d %H:%M', timezone=timezone)

        by_reason = {}
        for record in records:
            label = record.reason_string
            count, days = by_reason.get(label, (0, Decimal(0)))
            by_reason[label] = (count + 1, days + record.days)
        context.update({
                'company': company,
                'timezone': timezone,
                'when': when,
                'total_days': sum((r.days for r in records), Decimal(0)),
                'by_reason': sorted(by_reason.items()),
                'printed_at': when(utcnow()),
                })
        return context
