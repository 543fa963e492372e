"""Service plans are service products with a speed, a duration and a kind."""
import re
import unicodedata

from dateutil.relativedelta import relativedelta

from trytond.i18n import gettext
from trytond.model import Unique, fields
from trytond.modules.currency.fields import Monetary
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Eval
from trytond.transaction import Transaction, without_check_access

from .. import routeros
from ..exceptions import PlanValidationError
from .sync import PLAN_SYNC_FIELDS, mark_plan_services

PLAN_KINDS = [
    ('hotspot', "Hotspot"),
    ('pppoe', "PPPoE"),
    ]


def profile_slug(name):
    "Return a RouterOS-safe profile name for a plan name"
    text = unicodedata.normalize('NFKD', name or '')
    text = text.encode('ascii', 'ignore').decode('ascii').lower()
    text = re.sub(r'[^a-z0-9]+', '-', text).strip('-')
    return 'isp-' + (text[:40] or 'plan')


class Template(metaclass=PoolMeta):
    __name__ = 'product.template'

    _plan_states = {
        'invisible': ~Eval('isp_plan', False),
        'required': Eval('isp_plan', False),
        }

    isp_plan = fields.Boolean(
        "ISP Service Plan",
        help="Check to sell this service as internet access on routers.")
    plan_kind = fields.Selection(
        [(None, "")] + PLAN_KINDS, "Plan Kind", states=_plan_states)
    download_rate = fields.Integer(
        "Download (kbit/s)", states=_plan_states,
        help="Speed the customer can download at.")
    upload_rate = fields.Integer(
        "Upload (kbit/s)", states=_plan_states,
        help="Speed the customer can upload at.")
    plan_duration = fields.Integer(
        "Duration", states=_plan_states,
        help="How long one paid period lasts.")
    plan_duration_unit = fields.Selection([
            (None, ""),
            ('day', "Days"),
            ('month', "Months"),
            ], "Duration Unit", states=_plan_states)
    # the price as the customer reads it: in the company currency's digits
    plan_price = fields.Function(Monetary(
            "Price", currency='plan_currency', digits='plan_currency'),
        'get_plan_price')
    plan_currency = fields.Function(fields.Many2One(
            'currency.currency', "Currency"), 'get_plan_price')
    shared_users = fields.Integer(
        "Shared Users", states=_plan_states,
        help="How many devices may be logged in at once with one login.")
    grace_hours = fields.Integer(
        "Grace (hours)", states={'invisible': ~Eval('isp_plan', False)},
        help="How long a service stays on after paid time ends.")
    router_profile = fields.Char(
        "Router Profile", readonly=True,
        states={'invisible': ~Eval('isp_plan', False)},
        help="Name of the hotspot or PPP profile on the routers. "
        "Given once from the plan name; renaming the plan keeps it.")
    del _plan_states

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('router_profile_unique', Unique(t, t.router_profile),
                'isp_billing.msg_plan_router_profile_unique'),
            ]

    @classmethod
    def default_isp_plan(cls):
        return False

    @classmethod
    def default_shared_users(cls):
        return 1

    @classmethod
    def default_grace_hours(cls):
        return 0

    @classmethod
    def default_plan_duration(cls):
        return 1

    @classmethod
    def default_plan_duration_unit(cls):
        return 'month'

    @fields.depends('isp_plan', 'type', 'plan_kind')
    def on_change_isp_plan(self):
        if self.isp_plan:
            self.type = 'service'
            if not self.plan_kind:
                self.plan_kind = 'hotspot'

    @classmethod
    def preprocess_values(cls, mode, values):
        values = super().preprocess_values(mode, values)
        if (values.get('isp_plan') and not values.get('router_profile')
                and (mode == 'create' or 'router_profile' not in values)):
            if mode == 'create':
                values['router_profile'] = cls._free_profile_name(
                    values.get('name'))
        return values

    @classmethod
    def on_modification(cls, mode, templates, field_names=None):
        super().on_modification(mode, templates, field_names=field_names)
        if mode == 'write' and 'isp_plan' in (field_names or set()):
            to_name = [t for t in templates
                if t.isp_plan and not t.router_profile]
            for template in to_name:
                template.router_profile = cls._free_profile_name(
                    template.name)
                template.save()
        if mode == 'write' and field_names and (
                field_names & PLAN_SYNC_FIELDS):
            plans = [t for t in templates if t.isp_plan]
            if plans:
                # the routers must get the new profile
                mark_plan_services([t.id for t in plans])

    @classmethod
    def _free_profile_name(cls, name):
        """A profile name no other plan holds, archived plans included: the
        unique constraint covers every row, and an archived plan keeps its
        profile (it may be restored)"""
        base = profile_slug(name)
        candidate, n = base, 1
        with without_check_access():
            while cls.search([
                        ('router_profile', '=', candidate),
                        ('active', 'in', [True, False]),
                        ], limit=1):
                n += 1
                candidate = f'{base}-{n}'
        return candidate

    @classmethod
    def copy(cls, templates, default=None):
        default = default.copy() if default is not None else {}
        default.setdefault('router_profile')
        return super().copy(templates, default=default)

    @classmethod
    def validate_fields(cls, templates, field_names):
        super().validate_fields(templates, field_names)
        for template in templates:
            if not template.isp_plan:
                continue
            if template.type != 'service':
                raise PlanValidationError(gettext(
                        'isp_billing.msg_plan_not_service',
                        plan=template.rec_name))
            for name in ('download_rate', 'upload_rate', 'plan_duration',
                    'shared_users'):
                value = getattr(template, name)
                if value is None or value <= 0:
                    raise PlanValidationError(gettext(
                            'isp_billing.msg_plan_positive',
                            plan=template.rec_name,
                            field=cls.__names__(name)['field']))
            if (template.grace_hours or 0) < 0:
                raise PlanValidationError(gettext(
                        'isp_billing.msg_plan_positive',
                        plan=template.rec_name,
                        field=cls.__names__('grace_hours')['field']))

    def period_days(self):
        "Approximate length in days of one period of the plan (a month is 30)"
        unit = 30 if self.plan_duration_unit == 'month' else 1
        return (self.plan_duration or 1) * unit

    def plan_period(self, periods=1):
        "Return the relativedelta covered by a number of paid periods"
        if self.plan_duration_unit == 'month':
            return relativedelta(months=self.plan_duration * periods)
        return relativedelta(days=self.plan_duration * periods)

    @property
    def rate_limit(self):
        "RouterOS rate-limit of the plan's profile (0: unlimited)"
        return routeros.rate_limit(
            self.download_rate or 0, self.upload_rate or 0)

    @classmethod
    def get_plan_price(cls, templates, names):
        "The list price rounded to the currency of the user's company"
        pool = Pool()
        Company = pool.get('company.company')
        company_id = Transaction().context.get('company')
        currency = Company(company_id).currency if company_id else None
        result = {n: {} for n in names}
        for template in templates:
            price = template.list_price
            if price is not None and currency:
                price = currency.round(price)
            if 'plan_price' in names:
                result['plan_price'][template.id] = price
            if 'plan_currency' in names:
                result['plan_currency'][template.id] = (
                    currency.id if currency else None)
        return result
