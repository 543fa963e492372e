"""Every change of ``paid_until`` that is not an invoice: extensions by days,
time given back after a suspension, time converted by a plan change."""
import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

from trytond.i18n import gettext
from trytond.model import ModelSQL, ModelView, fields
from trytond.modules.company import CompanyReport
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Eval
from trytond.transaction import Transaction, without_check_access

from ..payment_exceptions import (
    ExtensionError, PaymentRecordError, PlanChangeError)
from .payment import company_timezone, fmt_ts, period_days, utcnow

REASONS = [
    ('trial', "Trial"),
    ('reward', "Reward"),
    ('compensation', "Compensation"),
    ('paid', "Paid"),
    ('suspension', "Suspension"),
    ('plan_change', "Plan Change"),
    ('other', "Other"),
    ('credit', "Credit Note"),
    ]
#: reasons staff may choose for a free extension
FREE_REASONS = {'trial', 'reward', 'compensation', 'other'}


def as_days(delta):
    return (Decimal(delta.total_seconds()) / 86400).quantize(
        Decimal('0.01'), rounding=ROUND_HALF_UP)


def fmt_delta(delta):
    seconds = int(delta.total_seconds())
    sign = '-' if seconds < 0 else ''
    seconds = abs(seconds)
    days, rest = divmod(seconds, 86400)
    return f'{sign}{days}d {rest // 3600}h{(rest % 3600) // 60:02d}'


class ServiceExtension(ModelSQL, ModelView):
    "Service Extension"
    __name__ = 'isp.service.extension'

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
        return f'{self.service.rec_name} +{self.days}'

    @classmethod
    def search_rec_name(cls, name, clause):
        return [('service.rec_name',) + tuple(clause[1:])]

    @classmethod
    def check_modification(cls, mode, records, values=None, external=False):
        super().check_modification(
            mode, records, values=values, external=external)
        if mode == 'delete' or (mode == 'write' and external):
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
        timezone = (Transaction().context.get('timezone')
            or company_timezone(company))

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


class Service(metaclass=PoolMeta):
    __name__ = 'isp.service'

    extensions = fields.One2Many(
        'isp.service.extension', 'service', "Extensions", readonly=True)
    suspended_at = fields.Timestamp("Suspended At", readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._buttons.update({
                'extend_wizard': {
                    'invisible': Eval('state') == 'cancelled',
                    'icon': 'tryton-date',
                    'depends': ['state'],
                    },
                'change_plan_wizard': {
                    'invisible': Eval('state') == 'cancelled',
                    'icon': 'tryton-refresh',
                    'depends': ['state'],
                    },
                })

    @classmethod
    def copy(cls, services, default=None):
        default = default.copy() if default is not None else {}
        default.setdefault('extensions')
        default.setdefault('suspended_at')
        return super().copy(services, default=default)

    @classmethod
    @ModelView.button_action('isp_billing.wizard_extend')
    def extend_wizard(cls, services):
        pass

    @classmethod
    @ModelView.button_action('isp_billing.wizard_change_plan')
    def change_plan_wizard(cls, services):
        pass

    # --- free extension by days ---

    @classmethod
    def extend(cls, services, days, reason, note=None):
        "Give days of service for free; recorded as extensions"
        pool = Pool()
        Extension = pool.get('isp.service.extension')
        if days is None or days <= 0:
            raise ExtensionError(gettext(
                    'isp_billing.msg_extension_days_positive', value=days))
        if reason not in FREE_REASONS:
            raise ExtensionError(gettext(
                    'isp_billing.msg_extension_reason', reason=reason))
        for service in services:
            if service.state == 'cancelled':
                raise ExtensionError(gettext(
                        'isp_billing.msg_extension_service_cancelled',
                        service=service.rec_name))
        cls.lock(services)
        services = cls.browse(services)
        now = utcnow()
        extensions, to_activate = [], []
        for service in services:
            before = service.paid_until
            after = max(now, before or now) + dt.timedelta(days=days)
            extensions.append(Extension.record(
                    service, before, after, reason, days=days, note=note,
                    now=now))
            service.paid_until = after
            if service.state in {'draft', 'expired'}:
                to_activate.append(service)
        with without_check_access():
            Extension.save(extensions)
            cls.save(services)
            if to_activate:
                cls._activate(to_activate)
        return extensions

    @classmethod
    def pay_extension(cls, services, days, payment_method, amount=None,
            reference=None, note=None):
        "A paid extension by days goes through the payment flow"
        if days is None or days <= 0:
            raise ExtensionError(gettext(
                    'isp_billing.msg_extension_days_positive', value=days))
        return cls.pay_renewal(
            services, None, payment_method, amount=amount,
            reference=reference, days=days, note=note)

    # --- suspension ---

    @classmethod
    def suspend(cls, services):
        super().suspend(services)
        suspended = [s for s in services if s.state == 'suspended']
        if suspended:
            cls.write(suspended, {'suspended_at': utcnow()})

    @classmethod
    def resume(cls, services):
        """Resume; unless the configuration says suspension consumes time,
        paid_until moves by the suspended duration (an extension record)"""
        pool = Pool()
        Configuration = pool.get('isp.configuration')
        Extension = pool.get('isp.service.extension')
        to_resume = [s for s in services if s.state == 'suspended']
        super().resume(services)
        resumed = [s for s in to_resume if s.state == 'active']
        if not resumed:
            return
        now = utcnow()
        extensions = []
        if not Configuration(1).suspension_consumes_time:
            for service in resumed:
                since, before = service.suspended_at, service.paid_until
                if not since or not before or before <= since or now <= since:
                    continue
                after = before + (now - since)
                timezone = company_timezone(service.company)
                extensions.append(Extension.record(
                        service, before, after, 'suspension', now=now,
                        note=gettext('isp_billing.msg_extension_note_suspension',
                            start=fmt_ts(since, timezone),
                            end=fmt_ts(now, timezone), timezone=timezone)))
                service.paid_until = after
        for service in resumed:
            service.suspended_at = None
        with without_check_access():
            Extension.save(extensions)
            cls.save(resumed)

    # --- plan change ---

    @staticmethod
    def daily_price(plan, company):
        pool = Pool()
        Service = pool.get('isp.service')
        return Service.plan_price(plan, company) / period_days(plan.template)

    def _convert_remaining(self, new_plan, now=None):
        """Return (paid_until, unsaved extension) after converting the paid
        time left from the current plan to new_plan by the price ratio"""
        pool = Pool()
        Extension = pool.get('isp.service.extension')
        now = now or utcnow()
        before = self.paid_until
        if not before or before <= now or new_plan == self.plan:
            return before, None
        new_daily = self.daily_price(new_plan, self.company)
        if not new_daily:
            raise PlanChangeError(gettext(
                    'isp_billing.msg_plan_change_free_plan',
                    plan=new_plan.rec_name))
        ratio = self.daily_price(self.plan, self.company) / new_daily
        remaining = before - now
        seconds = int(Decimal(remaining.total_seconds()) * ratio)
        after = now + dt.timedelta(seconds=seconds)
        return after, Extension.record(
            self, before, after, 'plan_change', now=now,
            note=self.plan_change_rule(new_plan, now=now))

    def plan_change_rule(self, new_plan, now=None):
        "The conversion rule as shown to staff before confirming"
        now = now or utcnow()
        old_price = self.plan_price(self.plan, self.company)
        new_price = self.plan_price(new_plan, self.company)
        before = self.paid_until
        remaining = max(before - now, dt.timedelta(0)) if before else (
            dt.timedelta(0))
        new_daily = self.daily_price(new_plan, self.company)
        if new_daily and remaining:
            ratio = self.daily_price(self.plan, self.company) / new_daily
            new_remaining = dt.timedelta(seconds=int(
                    Decimal(remaining.total_seconds()) * ratio))
        else:
            new_remaining = dt.timedelta(0)
        timezone = company_timezone(self.company)
        return gettext('isp_billing.msg_plan_change_rule',
            remaining=fmt_delta(remaining), old_plan=self.plan.rec_name,
            old_price=old_price, old_days=period_days(self.plan.template),
            new_remaining=fmt_delta(new_remaining),
            new_plan=new_plan.rec_name, new_price=new_price,
            new_days=period_days(new_plan.template),
            before=fmt_ts(before, timezone),
            after=fmt_ts(now + new_remaining if remaining else before,
                timezone),
            timezone=timezone)

    def plan_change_renewal_rule(self, new_plan):
        timezone = company_timezone(self.company)
        return gettext('isp_billing.msg_plan_change_renewal_rule',
            plan=self.plan.rec_name, new_plan=new_plan.rec_name,
            paid_until=fmt_ts(self.paid_until, timezone), timezone=timezone,
            new_price=self.plan_price(new_plan, self.company),
            new_days=period_days(new_plan.template))

    @classmethod
    def check_plan_change(cls, services, new_plan):
        if new_plan is None:
            raise PlanChangeError(gettext(
                    'isp_billing.msg_plan_change_no_plan'))
        for service in services:
            if service.state == 'cancelled':
                raise PlanChangeError(gettext(
                        'isp_billing.msg_plan_change_cancelled',
                        service=service.rec_name))
            if new_plan == service.plan:
                raise PlanChangeError(gettext(
                        'isp_billing.msg_plan_change_same',
                        service=service.rec_name, plan=new_plan.rec_name))
            if (not new_plan.template.isp_plan
                    or new_plan.template.plan_kind != service.kind):
                raise PlanChangeError(gettext(
                        'isp_billing.msg_payment_plan_kind',
                        plan=new_plan.rec_name, service=service.rec_name))

    @classmethod
    def change_plan(cls, services, new_plan, when='now'):
        """Change the plan now (paid time left converted by price ratio)
        or at the next renewal (next_plan)"""
        pool = Pool()
        Extension = pool.get('isp.service.extension')
        cls.check_plan_change(services, new_plan)
        if when == 'renewal':
            with without_check_access():
                cls.write(list(services), {'next_plan': new_plan.id})
            return []
        cls.lock(services)
        services = cls.browse(services)
        now = utcnow()
        extensions = []
        for service in services:
            after, extension = service._convert_remaining(new_plan, now=now)
            if extension:
                extensions.append(extension)
            service.paid_until = after
            service.plan = new_plan
            service.next_plan = None
        with without_check_access():
            Extension.save(extensions)
            cls.save(services)
        return extensions
