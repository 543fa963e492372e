"""A customer's internet service on one router: the pre-paid subscription.

The one home of ``isp.service``: its workflow, the payments that buy its time
(renewal invoices, the hook of an invoice becoming paid), the extensions,
suspension and plan changes that move ``paid_until``, the expiry sweep, and
the hooks that queue a router sync.  Routers are never called from here:
writing ``paid_until``/``state`` is enough, the sync hooks enqueue the
router's reconcile after commit (models/sync.py).
"""
import datetime as dt
import ipaddress
import logging
import re
from collections import defaultdict
from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal
from functools import wraps

from sql.operators import Equal

from sql import Literal
from sql.conditionals import Coalesce
from sql.functions import CurrentTimestamp
from sql.operators import Concat, Or

from trytond import backend
from trytond.exceptions import UserError
from trytond.i18n import gettext
from trytond.model import (
    Exclude, Index, ModelSQL, ModelView, Workflow, fields)
from trytond.model.exceptions import AccessError
from trytond.model.fields import SQL_OPERATORS
from trytond.pool import Pool
from trytond.pyson import Eval, Id, If
from trytond.tools import grouped_slice
from trytond.transaction import Transaction, without_check_access

from ..exceptions import (
    ExtensionError, PaymentError, PlanChangeError, ServiceDeleteError,
    ServiceStateError, ServiceValidationError)
from ..times import company_timezone, fmt_delta, fmt_ts, utcnow
from .extension import FREE_REASONS
from .plan import PLAN_KINDS
from .sync import SERVICE_SYNC_FIELDS, enqueue_service_sync, enqueue_sync

#: characters RouterOS accepts in hotspot user and PPP secret names
LOGIN = re.compile(r'^[A-Za-z0-9._@-]{1,64}$')
#: printable ASCII without space, quotes, backslash, '$', '?' and '='
PASSWORD = re.compile(r'^[A-Za-z0-9!#%&()*+,./:;<>@\[\]^_{|}~-]{1,64}$')
MAC = re.compile(r'^([0-9A-Fa-f]{2}[:-]){5}[0-9A-Fa-f]{2}$')

#: fields whose creation or change triggers each validation
LOGIN_FIELDS = {'login'}
PASSWORD_FIELDS = {'password'}
ADDRESS_FIELDS = {'mac_address', 'ip_address'}
PLAN_FIELDS = {'plan', 'kind'}


def touches(field_names, names):
    "True on create (field_names None or all) or when a name was written"
    return field_names is None or bool(set(field_names) & names)


STATES = [
    ('draft', "Draft"),
    ('active', "Active"),
    ('expired', "Expired"),
    ('suspended', "Suspended"),
    ('cancelled', "Cancelled"),
    ]


def staff_checked(check):
    """Run check (a classmethod's function) on the records before a button,
    only for staff calls: ModelView.button itself runs without access checks,
    so this must wrap it from outside"""
    def decorator(func):
        @wraps(func)
        def wrapper(cls, records, *args, **kwargs):
            if Transaction().check_access:
                check.__func__(cls, records)
            return func(cls, records, *args, **kwargs)
        return wrapper
    return decorator


class Service(Workflow, ModelSQL, ModelView):
    "Internet Service"
    __name__ = 'isp.service'
    __string__ = "Internet Service"
    _rec_name = 'login'

    _states = {'readonly': Eval('state') == 'cancelled'}

    company = fields.Many2One(
        'company.company', "Company", required=True,
        states={'readonly': Eval('state') != 'draft'})
    customer = fields.Many2One(
        'party.party', "Customer", required=True, ondelete='RESTRICT',
        domain=[('isp_customer', '=', True)],
        context={'company': Eval('company', -1)}, depends={'company'},
        states={'readonly': Eval('state') != 'draft'})
    plan = fields.Many2One(
        'product.product', "Plan", required=True, ondelete='RESTRICT',
        domain=[
            ('template.isp_plan', '=', True),
            If(Eval('kind'),
                ('template.plan_kind', '=', Eval('kind')),
                ()),
            ],
        context={'company': Eval('company', -1)}, depends={'company'},
        states=_states)
    router = fields.Many2One(
        'isp.router', "Router", required=True, ondelete='RESTRICT',
        states=_states)
    kind = fields.Selection(
        PLAN_KINDS, "Kind", required=True, states=_states,
        help="Hotspot login or PPPoE dial-up.")
    login = fields.Char(
        "Login", required=True, states=_states,
        help="User name on the router: letters, digits and . _ @ -")
    password = fields.Char(
        "Password", required=True, strip=False, states=_states)
    mac_address = fields.Char("MAC Address", states=_states)
    ip_address = fields.Char("IP Address", states=_states)
    paid_until = fields.Timestamp(
        "Paid Until", readonly=True,
        help="The service is on until this moment (stored in UTC).")
    state = fields.Selection(
        STATES, "State", required=True, readonly=True, sort=False)
    state_string = state.translated('state')
    sync_status = fields.Selection([
            ('pending', "Pending"),
            ('in_sync', "In Sync"),
            ('error', "Error"),
            ], "Router Sync", readonly=True)
    sync_message = fields.Text("Router Sync Message", readonly=True)
    suspended_at = fields.Timestamp("Suspended At", readonly=True)
    next_plan = fields.Many2One(
        'product.product', "Next Plan", ondelete='RESTRICT',
        domain=[
            ('template.isp_plan', '=', True),
            ('template.plan_kind', '=', Eval('kind')),
            ],
        context={'company': Eval('company', -1)}, depends={'company'},
        states=_states,
        help="The plan the next renewal payment buys; "
        "empty: the current plan.")
    payments = fields.One2Many(
        'isp.service.payment', 'service', "Payments", readonly=True)
    invoice_lines = fields.One2Many(
        'account.invoice.line', 'isp_service', "Invoice Lines",
        readonly=True)
    extensions = fields.One2Many(
        'isp.service.extension', 'service', "Extensions", readonly=True)
    del _states

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.update({
                Index(t, (t.router, Index.Range()), (t.login, Index.Equality())),
                Index(t, (t.state, Index.Equality()),
                    (t.paid_until, Index.Range())),
                # the dashboard's customers per router (index-only)
                Index(t, (t.router, Index.Range()),
                    (t.customer, Index.Range()),
                    include=[t.state, t.company]),
                })
        cls._order = [('paid_until', 'DESC NULLS FIRST'), ('id', 'DESC')]
        cls._sql_constraints += cls._ledger_sql_constraints()
        cls._transitions |= {
            ('draft', 'active'),
            ('expired', 'active'),
            ('active', 'expired'),
            ('active', 'suspended'),
            ('suspended', 'active'),
            ('draft', 'cancelled'),
            ('active', 'cancelled'),
            ('expired', 'cancelled'),
            ('suspended', 'cancelled'),
            }
        cls._buttons.update({
                'activate': {
                    'invisible': ~Eval('state').in_(['draft', 'expired']),
                    'icon': 'tryton-ok',
                    'depends': ['state'],
                    },
                'suspend': {
                    'invisible': Eval('state') != 'active',
                    'icon': 'tryton-cancel',
                    'depends': ['state'],
                    },
                'resume': {
                    'invisible': Eval('state') != 'suspended',
                    'icon': 'tryton-forward',
                    'depends': ['state'],
                    },
                'cancel': {
                    'invisible': Eval('state') == 'cancelled',
                    'icon': 'tryton-delete',
                    'depends': ['state'],
                    },
                'register_payment': {
                    'invisible': Eval('state') == 'cancelled',
                    'icon': 'isp-payment',
                    'depends': ['state'],
                    },
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
                'correct_paid_time_wizard': {
                    # administrators only (also refused on the server)
                    'invisible': ((Eval('state') == 'cancelled')
                        | ~Id('isp_billing', 'group_isp_admin').in_(
                            Eval('context', {}).get('groups', []))),
                    'icon': 'tryton-date',
                    'depends': ['state'],
                    },
                })

    @staticmethod
    def default_company():
        return Transaction().context.get('company')

    @classmethod
    def default_state(cls):
        return 'draft'

    @classmethod
    def default_kind(cls):
        return 'hotspot'

    @classmethod
    def default_sync_status(cls):
        return 'pending'

    @fields.depends('plan', 'kind')
    def on_change_plan(self):
        if self.plan and self.plan.template.plan_kind:
            self.kind = self.plan.template.plan_kind

    def get_rec_name(self, name):
        if self.router:
            return f'{self.login} @ {self.router.rec_name}'
        return self.login

    @classmethod
    def portal_read(cls, customer_id, service_id=None):
        """The customer's services as the portal shows them, read in one
        query: [{id, login, state, paid_until, plan, timezone}], oldest
        first; without service_id the closed (cancelled) ones are left out.
        Portal routes run as root: the customer filter is here."""
        pool = Pool()
        Product = pool.get('product.product')
        Template = pool.get('product.template')
        Company = pool.get('company.company')
        service = cls.__table__()
        product = Product.__table__()
        template = Template.__table__()
        company = Company.__table__()
        where = service.customer == customer_id
        if service_id is None:
            where &= service.state != 'cancelled'
        else:
            where &= service.id == service_id
        cursor = Transaction().connection.cursor()
        cursor.execute(*service
            .join(product, condition=service.plan == product.id)
            .join(template, condition=product.template == template.id)
            .join(company, condition=service.company == company.id)
            .select(service.id, service.login, service.state,
                service.paid_until, product.code, template.name,
                company.timezone,
                where=where, order_by=[service.id.asc]))
        return [{
                'id': id_, 'login': login, 'state': state,
                'paid_until': paid_until, 'plan': plan_name(code, name),
                'timezone': timezone or 'UTC',
                } for id_, login, state, paid_until, code, name, timezone
            in cursor]

    @classmethod
    def __register__(cls, module):
        super().__register__(module)
        from .counter import enable_global_search
        enable_global_search(cls.__name__)

    @classmethod
    def search_rec_name(cls, name, clause):
        "The counter's keys: login, the customer's keys, an invoice number"
        from .counter import service_key_domain
        return service_key_domain(clause)

    @classmethod
    def validate_fields(cls, services, field_names):
        # field_names: every field on create, the written fields on write;
        # a state-only write (the expiry sweep) checks nothing here
        super().validate_fields(services, field_names)
        checks = [
            (LOGIN_FIELDS, 'check_login'),
            (PASSWORD_FIELDS, 'check_password'),
            (ADDRESS_FIELDS, 'check_addresses'),
            (PLAN_FIELDS, 'check_plan_kind'),
            ]
        checks = [name for fnames, name in checks
            if touches(field_names, fnames)]
        for service in services:
            for name in checks:
                getattr(service, name)()

    def check_login(self):
        if not LOGIN.match(self.login or ''):
            raise ServiceValidationError(gettext(
                    'isp_billing.msg_service_invalid_login',
                    login=self.login))

    def check_password(self):
        if not PASSWORD.match(self.password or ''):
            raise ServiceValidationError(gettext(
                    'isp_billing.msg_service_invalid_password',
                    service=self.login))

    def check_addresses(self):
        if self.mac_address and not MAC.match(self.mac_address):
            raise ServiceValidationError(gettext(
                    'isp_billing.msg_service_invalid_mac',
                    service=self.login, mac=self.mac_address))
        if self.ip_address:
            try:
                ipaddress.IPv4Address(self.ip_address)
            except ValueError:
                raise ServiceValidationError(gettext(
                        'isp_billing.msg_service_invalid_ip',
                        service=self.login, ip=self.ip_address))

    def check_plan_kind(self):
        template = self.plan.template
        if not template.isp_plan:
            raise ServiceValidationError(gettext(
                    'isp_billing.msg_service_plan_not_isp',
                    service=self.login, plan=template.rec_name))
        if template.plan_kind != self.kind:
            raise ServiceValidationError(gettext(
                    'isp_billing.msg_service_plan_kind',
                    service=self.login, plan=template.rec_name,
                    plan_kind=template.plan_kind, kind=self.kind))

    @classmethod
    def check_modification(cls, mode, services, values=None, external=False):
        super().check_modification(
            mode, services, values=values, external=external)
        cls.check_ledger_rights(mode, services, values, external=external)
        if mode == 'delete':
            for service in services:
                if service.state not in {'draft', 'cancelled'}:
                    raise ServiceDeleteError(gettext(
                            'isp_billing.msg_service_delete_state',
                            service=service.rec_name))

    @classmethod
    def copy(cls, services, default=None):
        """A copy is a new draft connection of the customer: a fresh login
        (the original's plus a number, unique on its router) and no device
        addresses (they belong to the original's equipment)"""
        default = default.copy() if default is not None else {}
        default.setdefault('state', 'draft')
        default.setdefault('paid_until')
        default.setdefault('sync_status', 'pending')
        default.setdefault('sync_message')
        default.setdefault('suspended_at')
        default.setdefault('next_plan')
        default.setdefault('payments')
        default.setdefault('invoice_lines')
        default.setdefault('extensions')
        default.setdefault('mac_address')
        default.setdefault('ip_address')
        if 'login' not in default:
            taken = set()

            def login(data):
                new = cls._free_login(data['login'], data['router'], taken)
                taken.add((data['router'], new))
                return new
            default['login'] = login
        return super().copy(services, default=default)

    # --- rights: paid time only through the ledger ---
    # Staff calls (RPC: access checks on, ``external`` in check_modification)
    # never write the paid time or the state; the workflow buttons and the
    # ledger methods (payment, extension, plan change, correction) write them
    # under without_check_access() after their own checks. Internal code
    # (cron, queue, tests running as root) is trusted.

    #: written only by the workflow and the ledger
    _ledger_fields = {'state', 'paid_until', 'suspended_at', 'next_plan'}
    #: fixed once the service left draft (Change Plan converts paid time)
    _draft_only_fields = {'company', 'customer', 'plan', 'router', 'kind'}
    #: the router account; after draft only these groups change it
    _account_fields = {'login', 'password'}
    _account_groups = ('group_isp_admin', 'group_isp_technician')

    @classmethod
    def check_ledger_rights(cls, mode, services, values=None, external=False):
        "Refuse staff writes that would change paid time outside the ledger"
        if not external:
            return
        if mode == 'create':
            for service in services:
                if (service.state != 'draft' or service.paid_until
                        or getattr(service, 'suspended_at', None)
                        or getattr(service, 'next_plan', None)):
                    raise AccessError(gettext(
                            'isp_billing.msg_service_create_draft_only',
                            service=service.rec_name))
        elif mode == 'write':
            names = set(values or {})
            ledger = names & cls._ledger_fields
            if ledger:
                raise AccessError(gettext(
                        'isp_billing.msg_service_ledger_field',
                        fields=', '.join(sorted(ledger))))
            started = [s for s in services if s.state != 'draft']
            if not started:
                return
            fixed = names & cls._draft_only_fields
            if fixed:
                raise AccessError(gettext(
                        'isp_billing.msg_service_draft_only_field',
                        service=started[0].rec_name,
                        fields=', '.join(sorted(fixed))))
            account = names & cls._account_fields
            if account and not user_in_groups(*cls._account_groups):
                raise AccessError(gettext(
                        'isp_billing.msg_service_account_field',
                        service=started[0].rec_name,
                        fields=', '.join(sorted(account))))

    @classmethod
    def check_paid_time_left(cls, services):
        """Activation gives no paid time: staff may only activate a service
        that has paid time left (otherwise the expiry sweep, which skips
        services without paid_until, would never stop it)"""
        now = utcnow()
        for service in services:
            if (service.state != 'cancelled'
                    and not (service.paid_until and service.paid_until > now)):
                raise ServiceStateError(gettext(
                        'isp_billing.msg_service_activate_no_paid_time',
                        service=service.rec_name))

    @classmethod
    @staff_checked(check_paid_time_left)
    @ModelView.button
    def activate(cls, services):
        for service in services:
            if service.state == 'cancelled':
                raise ServiceStateError(gettext(
                        'isp_billing.msg_service_cancelled_activate',
                        service=service.rec_name))
        cls._activate(services)

    @classmethod
    @Workflow.transition('active')
    def _activate(cls, services):
        pass

    # the workflow buttons run without access checks (ModelView.button):
    # their state writes pass check_ledger_rights

    @classmethod
    @ModelView.button
    @Workflow.transition('suspended')
    def suspend(cls, services):
        "Turn the service off for a while; resume gives the time back"
        if services:
            with without_check_access():
                cls.write(services, {'suspended_at': utcnow()})

    @classmethod
    @ModelView.button
    def resume(cls, services):
        """Resume; unless the configuration says suspension consumes time,
        paid_until moves by the suspended duration (an extension record)"""
        pool = Pool()
        Configuration = pool.get('isp.configuration')
        Extension = pool.get('isp.service.extension')
        resumed = [s for s in services if s.state == 'suspended']
        cls._resume(resumed)
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
                        note=gettext(
                            'isp_billing.msg_extension_note_suspension',
                            start=fmt_ts(since, timezone),
                            end=fmt_ts(now, timezone), timezone=timezone)))
                service.paid_until = after
        for service in resumed:
            service.suspended_at = None
        with without_check_access():
            Extension.save(extensions)
            cls.save(resumed)

    @classmethod
    @Workflow.transition('active')
    def _resume(cls, services):
        pass

    @classmethod
    @ModelView.button
    @Workflow.transition('cancelled')
    def cancel(cls, services):
        pass

    @classmethod
    @Workflow.transition('expired')
    def expire(cls, services):
        pass

    # --- router sync hooks (the sync itself: models/sync.py) ---

    @classmethod
    def preprocess_values(cls, mode, values):
        values = super().preprocess_values(mode, values)
        if (mode == 'write' and SERVICE_SYNC_FIELDS & values.keys()
                and 'sync_status' not in values):
            values = values.copy()
            values['sync_status'] = 'pending'
        return values

    @classmethod
    def _sync_targets(cls, ids):
        """{router id: {service ids}} of the services ids not in draft, read
        in SQL (a write of thousands of services browses none of them)"""
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        targets = defaultdict(set)
        for sub_ids in grouped_slice(ids, backend.MAX_QUERY_PARAMS - 2):
            cursor.execute(*table.select(table.router, table.id,
                    where=SQL_OPERATORS['in'](table.id, list(sub_ids))
                    & (table.state != 'draft')))
            for router_id, service_id in cursor:
                targets[router_id].add(service_id)
        return targets

    @classmethod
    def on_write(cls, services, values):
        callbacks = super().on_write(services, values)
        if SERVICE_SYNC_FIELDS & values.keys():
            # the routers before the write: a moved service must leave
            # its old router too
            ids = [s.id for s in services]
            old = cls._sync_targets(ids)

            def enqueue():
                targets = cls._sync_targets(ids)
                for router_id, service_ids in old.items():
                    targets[router_id] |= service_ids
                enqueue_service_sync(targets)
            callbacks.append(enqueue)
        return callbacks

    @classmethod
    def on_modification(cls, mode, services, field_names=None):
        super().on_modification(mode, services, field_names=field_names)
        if mode in {'create', 'delete'}:
            targets = defaultdict(set)
            for service in services:
                if service.state != 'draft':
                    targets[service.router.id].add(service.id)
            enqueue_service_sync(targets)

    # --- payments: renewal invoices and the hook of their payment ---

    @classmethod
    @ModelView.button_action('isp_billing.wizard_register_payment')
    def register_payment(cls, services):
        pass

    @property
    def renewal_plan(self):
        return self.next_plan or self.plan

    @staticmethod
    def plan_price(plan, company):
        with Transaction().set_context(company=company.id):
            return plan.list_price_used or Decimal(0)

    @classmethod
    def renewal_price(cls, services, periods, plan=None):
        "Price of periods for each service (plan or its renewal plan)"
        total = Decimal(0)
        for service in services:
            total += cls.plan_price(
                plan or service.renewal_plan, service.company) * periods
        return total

    @classmethod
    def extension_price(cls, service, days):
        "Price of days of the service's plan, pro rata of its period"
        plan = service.plan
        price = cls.plan_price(plan, service.company)
        return (price * days / plan.template.period_days()).quantize(
            Decimal('0.01'), rounding=ROUND_HALF_UP)

    # --- checks (nothing is written before all of them pass) ---

    @classmethod
    def check_payable(cls, services):
        if not services:
            raise PaymentError(gettext('isp_billing.msg_payment_no_service'))
        companies = {s.company for s in services}
        customers = {s.customer for s in services}
        if len(companies) > 1 or len(customers) > 1:
            raise PaymentError(gettext(
                    'isp_billing.msg_payment_one_customer'))
        for service in services:
            if service.state == 'cancelled':
                raise PaymentError(gettext(
                        'isp_billing.msg_payment_service_cancelled',
                        service=service.rec_name))
        customer, = customers
        if not customer.address_get(type='invoice'):
            raise PaymentError(gettext(
                    'isp_billing.msg_payment_no_address',
                    customer=customer.rec_name))
        company, = companies
        cls.check_accounting_period(company)

    @classmethod
    def check_accounting_period(cls, company, date=None):
        pool = Pool()
        Date = pool.get('ir.date')
        Period = pool.get('account.period')
        if date is None:
            with Transaction().set_context(company=company.id):
                date = Date.today()
        periods = Period.search([
                ('company', '=', company.id),
                ('start_date', '<=', date),
                ('end_date', '>=', date),
                ('type', '=', 'standard'),
                ])
        if not periods:
            raise PaymentError(gettext(
                    'isp_billing.msg_payment_no_period',
                    date=date, company=company.rec_name))
        if not any(p.state == 'open' for p in periods):
            raise PaymentError(gettext(
                    'isp_billing.msg_payment_period_closed',
                    date=date, period=periods[0].rec_name))

    @classmethod
    def check_payment_method(cls, payment_method, company):
        if payment_method is None:
            raise PaymentError(gettext(
                    'isp_billing.msg_payment_method_required'))
        if (not payment_method.journal
                or not payment_method.debit_account
                or not payment_method.credit_account
                or payment_method.company != company):
            raise PaymentError(gettext(
                    'isp_billing.msg_payment_method_journal',
                    method=payment_method.rec_name))

    @classmethod
    def check_amount(cls, amount, price):
        pool = Pool()
        Configuration = pool.get('isp.configuration')
        if amount is None:
            return price
        if amount <= 0:
            raise PaymentError(gettext(
                    'isp_billing.msg_payment_amount_positive', amount=amount))
        if amount != price:
            if not Configuration(1).allow_discount:
                raise PaymentError(gettext(
                        'isp_billing.msg_payment_amount_price',
                        amount=amount, price=price))
            if amount > price:
                raise PaymentError(gettext(
                        'isp_billing.msg_payment_amount_above_price',
                        amount=amount, price=price))
        return amount

    # --- invoices ---

    @classmethod
    def create_renewal_invoice(
            cls, services, periods=None, plan=None, amount=None,
            reference=None, days=None, note=None):
        """Create and post the invoice buying periods of plan (default: the
        renewal plan of each service), or days of each service's plan.

        One line per period (the covered period is in its description and
        fields), plus a discount line when amount is below the price."""
        pool = Pool()
        Invoice = pool.get('account.invoice')
        count = days if days is not None else periods
        if count is None or count <= 0:
            raise PaymentError(gettext(
                    'isp_billing.msg_payment_periods_positive'
                    if days is None else
                    'isp_billing.msg_extension_days_positive',
                    value=count))
        cls.check_payable(services)
        if plan is not None:
            for service in services:
                if plan.template.plan_kind != service.kind:
                    raise PaymentError(gettext(
                            'isp_billing.msg_payment_plan_kind',
                            plan=plan.rec_name, service=service.rec_name))
        if days is None:
            prices = [cls.plan_price(plan or s.renewal_plan, s.company)
                * periods for s in services]
        else:
            prices = [cls.extension_price(s, days) for s in services]
        price = sum(prices, Decimal(0))
        # the customer pays the total with taxes: compare like with like
        total = cls.taxed_total(services, periods, plan=plan, days=days)
        amount = cls.check_amount(amount, total)

        company = services[0].company
        customer = services[0].customer
        now = utcnow()
        timezone = company_timezone(company)
        with without_check_access():
            invoice = Invoice(
                type='out', company=company, party=customer,
                currency=company.currency, reference=reference,
                description=note)
            invoice.on_change_type()
            invoice.on_change_party()
            lines = []
            discount = cls.untaxed_discount(price, total, amount)
            for n, (service, service_price) in enumerate(
                    zip(services, prices)):
                line_plan = plan or service.renewal_plan
                if days is not None:
                    line_plan = service.plan
                start = max(now, service.paid_until or now)
                template = line_plan.template
                if days is None:
                    for i in range(periods):
                        end = start + template.plan_period(1)
                        lines.append(cls._invoice_line(
                                invoice, service, line_plan,
                                cls.plan_price(line_plan, company),
                                gettext('isp_billing.msg_invoice_line_period',
                                    plan=line_plan.rec_name,
                                    service=service.rec_name,
                                    start=fmt_ts(start, timezone),
                                    end=fmt_ts(end, timezone),
                                    timezone=timezone),
                                start, end, periods=1))
                        start = end
                else:
                    end = start + dt.timedelta(days=days)
                    lines.append(cls._invoice_line(
                            invoice, service, line_plan, service_price,
                            gettext('isp_billing.msg_invoice_line_days',
                                days=days, service=service.rec_name,
                                start=fmt_ts(start, timezone),
                                end=fmt_ts(end, timezone), timezone=timezone,
                                note=note or ''),
                            start, end, days=days))
                if discount:
                    if n == len(services) - 1:
                        share = discount
                    else:
                        share = (discount * service_price / price).quantize(
                            Decimal('0.01'))
                    discount -= share
                    if share:
                        line = cls._invoice_line(
                            invoice, service, line_plan, -share,
                            gettext('isp_billing.msg_invoice_line_discount',
                                service=service.rec_name),
                            None, None)
                        line.product = None
                        lines.append(line)
            invoice.lines = lines
            cls.match_total(invoice, amount)
            invoice.save()
            Invoice.post([invoice])
        return invoice

    @classmethod
    def _invoice_line(cls, invoice, service, plan, unit_price, description,
            start, end, periods=0, days=None):
        pool = Pool()
        Line = pool.get('account.invoice.line')
        line = Line(
            invoice=invoice, type='line', company=invoice.company,
            currency=invoice.currency, product=plan, quantity=1,
            unit=plan.default_uom)
        line.on_change_product()
        line.unit_price = unit_price
        line.description = description
        line.isp_service = service
        line.isp_periods = periods
        line.isp_days = days
        line.isp_period_start = start
        line.isp_period_end = end
        return line

    @classmethod
    def bill_renewal(cls, services, periods, plan=None, amount=None,
            reference=None):
        "Bill only: a posted renewal invoice that is paid later"
        cls.lock(services)
        return cls.create_renewal_invoice(
            services, periods, plan=plan, amount=amount, reference=reference)

    @classmethod
    def pay_renewal(cls, services, periods, payment_method, plan=None,
            amount=None, reference=None, days=None, note=None):
        """Register a payment at the counter: create and post the invoice,
        pay it with the method and reconcile it. The invoice becoming paid
        extends the services (Invoice.paid -> apply_paid_lines)."""
        pool = Pool()
        Invoice = pool.get('account.invoice')
        cls.lock(services)      # first: may restart the transaction
        if services:
            cls.check_payment_method(payment_method, services[0].company)
        invoice = cls.create_renewal_invoice(
            services, periods, plan=plan, amount=amount,
            reference=reference, days=days, note=note)
        with without_check_access(), Transaction().set_context(
                isp_payment_method=payment_method.id):
            invoice.isp_pay(
                invoice.amount_to_pay, payment_method,
                description=reference or invoice.rec_name)
            # apply now rather than in the queued process (idempotent)
            Invoice.process([Invoice(invoice.id)])
        return Invoice(invoice.id)

    # --- the hook: an invoice became paid ---

    @classmethod
    def apply_paid_lines(cls, lines):
        """Extend the services bought by paid invoice lines, once per line.

        Called by Invoice.paid. Lines already linked to a payment record are
        skipped, so paid -> posted -> paid again does not extend twice."""
        pool = Pool()
        Payment = pool.get('isp.service.payment')
        Line = pool.get('account.invoice.line')
        Extension = pool.get('isp.service.extension')
        context = Transaction().context

        lines = [l for l in lines if l.isp_service and not l.isp_payment]
        if not lines:
            return []
        groups = defaultdict(list)
        for line in lines:
            groups[(line.invoice, line.isp_service)].append(line)
        services = cls.browse(list({s.id for _, s in groups}))
        cls.lock(services)
        services = {s.id: s for s in cls.browse([s.id for s in services])}
        now = utcnow()
        user = Transaction().user or None
        method_id = context.get('isp_payment_method')

        payments, extensions, to_activate = [], [], []
        for (invoice, service), slines in groups.items():
            service = services[service.id]
            before = service.paid_until
            plan_lines = [l for l in slines if l.isp_periods]
            day_lines = [l for l in slines if l.isp_days]
            plan = plan_lines[0].product if plan_lines else service.plan
            if plan_lines and plan != service.plan:
                after, extension = service._convert_remaining(plan, now)
                if extension:
                    extensions.append(extension)
                service.paid_until = after
                service.plan = plan
            if service.next_plan and service.next_plan == plan:
                service.next_plan = None
            start = cursor = max(now, service.paid_until or now)
            for line in plan_lines:
                end = cursor + plan.template.plan_period(line.isp_periods)
                line.isp_period_start, line.isp_period_end = cursor, end
                cursor = end
            days = sum(l.isp_days for l in day_lines)
            for line in day_lines:
                end = cursor + dt.timedelta(days=line.isp_days)
                if not plan_lines:
                    extensions.append(Extension(
                            service=service, customer=service.customer,
                            company=service.company, plan=service.plan,
                            user=user, date=now, days=line.isp_days,
                            reason='paid', paid=True, invoice=invoice,
                            paid_until_before=service.paid_until,
                            paid_until_after=end,
                            note=line.description))
                line.isp_period_start, line.isp_period_end = cursor, end
                cursor = end
            journal = None
            if invoice.payment_lines:
                journal = sorted(invoice.payment_lines,
                    key=lambda l: (l.date, l.id))[-1].move.journal
            payment = Payment(
                service=service, customer=service.customer,
                company=service.company, date=now, invoice=invoice,
                amount=cls.paid_amount(invoice, slines),
                currency=invoice.currency, payment_method=method_id,
                journal=journal, plan=plan,
                periods=sum(l.isp_periods or 0 for l in slines),
                days=days or None, period_start=start, period_end=cursor,
                paid_until_before=before, paid_until_after=cursor,
                user=user, reference=invoice.reference)
            payments.append((payment, slines))
            service.paid_until = cursor
            if service.state in {'draft', 'expired'}:
                to_activate.append(service)
        with without_check_access():
            Payment.save([p for p, _ in payments])
            for payment, slines in payments:
                for line in slines:
                    line.isp_payment = payment
            Line.save(lines)
            if extensions:
                Extension.save(extensions)
            cls.save(list(services.values()))
            if to_activate:
                cls._activate(list(set(to_activate)))
        return [p for p, _ in payments]

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

    # --- plan change ---

    @staticmethod
    def daily_price(plan, company):
        pool = Pool()
        Service = pool.get('isp.service')
        return Service.plan_price(plan, company) / plan.template.period_days()

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
            old_price=old_price, old_days=self.plan.template.period_days(),
            new_remaining=fmt_delta(new_remaining),
            new_plan=new_plan.rec_name, new_price=new_price,
            new_days=new_plan.template.period_days(),
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
            new_days=new_plan.template.period_days())

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

    # --- ledger: credit notes, copy, login constraint ---

    @classmethod
    def _ledger_sql_constraints(cls):
        """The login is unique per router among services not cancelled, in
        the database: an exclusion constraint on PostgreSQL (concurrent
        transactions cannot both insert it). On SQLite trytond would check
        a parametrised constraint in Python with one OR term per record
        (a RecursionError for a 1000-service write), so there the Python
        checks (_check_login_free) stand alone."""
        if backend.name == 'sqlite':
            return []
        t = cls.__table__()
        return [
            ('login_router_exclude',
                Exclude(t, (t.router, Equal), (t.login, Equal),
                    where=t.state != 'cancelled'),
                'isp_billing.msg_service_login_router_exclude'),
            ]

    @classmethod
    def check_plan_change_selection(cls, services):
        """Services whose plan changes together: at least one, none
        cancelled, all of one kind and one company (one new plan fits
        them all)"""
        if not services:
            raise PlanChangeError(gettext(
                    'isp_billing.msg_ledger_no_service'))
        for service in services:
            if service.state == 'cancelled':
                raise PlanChangeError(gettext(
                        'isp_billing.msg_plan_change_cancelled',
                        service=service.rec_name))
        if len({s.kind for s in services}) > 1:
            raise PlanChangeError(gettext(
                    'isp_billing.msg_plan_change_mixed_kinds',
                    count=len(services)))
        if len({s.company for s in services}) > 1:
            raise PlanChangeError(gettext(
                    'isp_billing.msg_ledger_mixed_companies'))

    @classmethod
    def plan_change_rules(cls, services, new_plan, when='now'):
        "The conversion rule of each service, as staff confirm it"
        rules = []
        for service in services:
            if when == 'renewal':
                rule = service.plan_change_renewal_rule(new_plan)
            else:
                rule = service.plan_change_rule(new_plan)
            if len(services) > 1:
                rule = f'{service.rec_name}:\n{rule}'
            rules.append(rule)
        return '\n\n'.join(rules)

    @classmethod
    def take_back_credited_lines(cls, credit_lines):
        """Move paid_until back by the service time that posted credit note
        lines credit (their origin lines), once per origin line: a ledger
        record (reason credit, negative days, the credit note as invoice)
        per credit note and service; a service whose paid time is now past
        expires. Origin lines never paid gave no time: they are only marked,
        so paying them later gives none either."""
        pool = Pool()
        Line = pool.get('account.invoice.line')
        Extension = pool.get('isp.service.extension')
        groups = {}
        for line in credit_lines:
            origin = line.origin
            groups.setdefault(
                (line.invoice, origin.isp_service), []).append((line, origin))
        services = cls.browse(list({s.id for _, s in groups}))
        cls.lock(services)
        services = {s.id: s for s in cls.browse([s.id for s in services])}
        now = utcnow()
        origins, extensions, to_expire = [], [], []
        for (invoice, service), pairs in groups.items():
            service = services[service.id]
            taken = dt.timedelta(0)
            for line, origin in pairs:
                origin.isp_credited_by = line
                origins.append(origin)
                if (origin.isp_payment and origin.isp_period_start
                        and origin.isp_period_end):
                    share = min(abs(line.quantity or 0)
                        / (abs(origin.quantity or 0) or 1), 1)
                    taken += (origin.isp_period_end
                        - origin.isp_period_start) * share
            before = service.paid_until
            if not taken or before is None:
                continue
            after = before - taken
            extensions.append(Extension.record(
                    service, before, after, 'credit', paid=True,
                    invoice=invoice, now=now,
                    note=gettext('isp_billing.msg_extension_note_credit',
                        credit=invoice.rec_name,
                        invoice=pairs[0][1].invoice.rec_name)))
            service.paid_until = after
            if service.state == 'active' and after <= now:
                to_expire.append(service)
        with without_check_access():
            Line.save(origins)
            Extension.save(extensions)
            cls.save(list(services.values()))
            if to_expire:
                cls.expire(to_expire)
        return extensions

    # the customer pays the invoice total, taxes included: prices shown and
    # amounts checked are totals computed as the invoice computes them

    @staticmethod
    def _lines_total(invoice, lines):
        "Total with taxes of the unsaved invoice with lines"
        currency = invoice.currency
        invoice.lines = lines
        untaxed = sum((l.on_change_with_amount() for l in lines), Decimal(0))
        taxes = invoice._get_taxes()
        tax = sum((t.amount for t in taxes.values()), Decimal(0))
        return currency.round(untaxed) + currency.round(tax)

    @classmethod
    def taxed_total(cls, services, periods=None, plan=None, days=None):
        """What the customer pays for periods of plan (default: each
        service's renewal plan) or for days of each service's plan"""
        pool = Pool()
        Invoice = pool.get('account.invoice')
        if not services:
            return Decimal(0)
        company = services[0].company
        with without_check_access(), Transaction().set_context(
                company=company.id):
            invoice = Invoice(type='out', company=company,
                party=services[0].customer, currency=company.currency)
            invoice.on_change_type()
            invoice.on_change_party()
            lines = []
            for service in services:
                if days is not None:
                    lines.append(cls._invoice_line(invoice, service,
                            service.plan, cls.extension_price(service, days),
                            '', None, None, days=days))
                    continue
                line_plan = plan or service.renewal_plan
                for _ in range(periods or 0):
                    lines.append(cls._invoice_line(invoice, service,
                            line_plan, cls.plan_price(line_plan, company),
                            '', None, None, periods=1))
            return cls._lines_total(invoice, lines)

    @staticmethod
    def untaxed_discount(price, total, amount):
        """The untaxed discount that brings total (taxes included) down to
        amount, for lines of untaxed price"""
        if not total or amount >= total:
            return Decimal(0)
        return (price * (total - amount) / total).quantize(Decimal('0.01'))

    @classmethod
    def match_total(cls, invoice, amount):
        """Adjust the discount lines of the unsaved invoice by cents so its
        total with taxes is amount (a rounding of the tax may leave a cent;
        then the total stays the nearest above)"""
        if amount is None:
            return
        lines = list(invoice.lines)
        discounts = [l for l in lines if l.product is None
            and l.isp_service and (l.unit_price or 0) < 0]
        if not discounts:
            return
        cent = Decimal('0.01')
        line = discounts[-1]
        best = None
        for _ in range(6):
            total = cls._lines_total(invoice, lines)
            if best is None or (total >= amount
                    and (best[0] < amount or total < best[0])):
                best = (total, line.unit_price)
            if total == amount:
                return
            step = ((total - amount) / 2).quantize(cent) or (
                cent if total > amount else -cent)
            line.unit_price -= step
        line.unit_price = best[1]
        invoice.lines = lines

    @staticmethod
    def paid_amount(invoice, lines):
        """The part of the invoice total (taxes included) paid for lines
        (the lines of one service)"""
        untaxed = sum((l.amount for l in lines), Decimal(0))
        if not invoice.untaxed_amount:
            return untaxed
        if set(lines) >= {l for l in invoice.lines if l.type == 'line'}:
            return invoice.total_amount
        return invoice.currency.round(
            invoice.total_amount * untaxed / invoice.untaxed_amount)

    @classmethod
    def _free_login(cls, login, router, taken=()):
        """Return login suffixed -2, -3... with the first one no service
        that is not cancelled uses on router (nor in taken)"""
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        base = login[:58]
        for n in range(2, 10000):
            candidate = f'{base}-{n}'
            if (router, candidate) in taken:
                continue
            cursor.execute(*table.select(table.id,
                    where=(table.router == router)
                    & (table.login == candidate)
                    & (table.state != 'cancelled'),
                    limit=1))
            if not cursor.fetchone():
                return candidate
        return login

    @classmethod
    def create(cls, vlist):
        cls._check_login_free([(None, v.get('router'), v.get('login'),
                        v.get('state') or cls.default_state())
                    for v in vlist])
        return super().create(vlist)

    @classmethod
    def write(cls, *args):
        keys = {}
        actions = iter(args)
        for services, values in zip(actions, actions):
            if not ({'login', 'router'} & values.keys()
                    or ('state' in values and any(
                            s.state == 'cancelled' for s in services))):
                continue
            for service in services:
                keys[service.id] = (service.id,
                    values.get('router', service.router.id),
                    values.get('login', service.login),
                    values.get('state', service.state))
        if keys:
            cls._check_login_free(list(keys.values()))
        super().write(*args)

    @classmethod
    def _check_login_free(cls, keys):
        """Refuse with a clear message, before the database does, keys
        (id or None, router id, login, state) that share router and login
        with one another or with a stored service; cancelled ones aside"""
        pool = Pool()
        Router = pool.get('isp.router')
        keys = [(i, r, l) for i, r, l, s in keys
            if r is not None and l and s != 'cancelled']
        if not keys:
            return

        def refuse(router, login):
            with without_check_access():
                router = Router(router).rec_name
            raise ServiceValidationError(gettext(
                    'isp_billing.msg_service_login_unique',
                    login=login, router=router))
        seen = set()
        for _, router, login in keys:
            if (router, login) in seen:
                refuse(router, login)
            seen.add((router, login))
        ids = {i for i, _, _ in keys if i is not None}
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        for sub_keys in grouped_slice(keys, backend.MAX_QUERY_PARAMS // 3):
            sub_keys = list(sub_keys)
            logins = list({l for _, _, l in sub_keys})
            cursor.execute(*table.select(table.id, table.router, table.login,
                    where=SQL_OPERATORS['in'](table.login, logins)
                    & (table.state != 'cancelled')))
            for id_, router, login in cursor:
                if id_ not in ids and (router, login) in seen:
                    refuse(router, login)

    # --- correction of paid time (administrators) ---

    @classmethod
    @ModelView.button_action('isp_billing.wizard_correct_paid_time')
    def correct_paid_time_wizard(cls, services):
        pass

    @classmethod
    def correct_paid_time(cls, services, days, note):
        """Move the paid time of services by days (negative: shorten), for
        ISP Administrators only; recorded as a 'correction' extension.
        A service whose paid time moves into the past expires; one that
        gets paid time back is activated."""
        pool = Pool()
        Extension = pool.get('isp.service.extension')
        if Transaction().user and not user_in_groups('group_isp_admin'):
            raise AccessError(gettext(
                    'isp_billing.msg_correction_admin_only'))
        if not days:
            raise UserError(gettext(
                    'isp_billing.msg_correction_days', days=days))
        if not (note or '').strip():
            raise UserError(gettext('isp_billing.msg_correction_note'))
        for service in services:
            if service.state == 'cancelled':
                raise UserError(gettext(
                        'isp_billing.msg_correction_cancelled',
                        service=service.rec_name))
            if days < 0 and not service.paid_until:
                raise UserError(gettext(
                        'isp_billing.msg_correction_no_paid_time',
                        service=service.rec_name))
        cls.lock(services)
        services = cls.browse(services)
        now = utcnow()
        extensions = []
        for service in services:
            before = service.paid_until
            after = (before or now) + dt.timedelta(days=float(days))
            extensions.append(Extension.record(
                    service, before, after, 'correction', days=days,
                    note=note.strip(), now=now))
            service.paid_until = after
        with without_check_access():
            Extension.save(extensions)
            cls.save(services)
            to_expire = [s for s in services
                if s.state == 'active' and s.paid_until <= now]
            to_activate = [s for s in services
                if s.state in {'draft', 'expired'} and s.paid_until > now]
            if to_expire:
                cls.expire(to_expire)
            if to_activate:
                cls._activate(to_activate)
        return extensions

    # --- expiry ---

    #: services per workflow transition on the ORM path of the sweep
    _expire_chunk_size = 1000

    @classmethod
    def expire_due(cls, now=None):
        """Expire the active services whose paid time plus their plan's
        grace hours is over: ``paid_until + grace <= now``.

        The cron calls it every minute, at hh:mm:00, with now = utcnow():
        a paid_until that ends on a tick is expired at that tick (``<=``),
        so none stays on more than 60 s past its time (plus grace).

        Set-based (_expire_sql): a fixed number of statements whatever the
        number of services, with what the workflow transition gives: the
        state, the sync status, one ir.model.log row per transition and one
        router sync queued per affected router.  The ORM path (the
        transition by chunks, _expire_orm) is kept for when something
        hooks into the ORM write (_expire_by_orm).  Returns the services
        expired."""
        if now is None:
            now = utcnow()
        if cls._expire_by_orm():
            ids = cls._expire_orm(now)
        else:
            ids = cls._expire_sql(now)
        return cls._expire_records(ids)

    @classmethod
    def _expire_by_orm(cls):
        """Whether the sweep must write through the ORM: ir.trigger
        records fire on writes of services, or history is kept; SQL would
        skip them"""
        Trigger = Pool().get('ir.trigger')
        with without_check_access():
            return bool(cls._history or Trigger.get_triggers(
                    cls.__name__, 'write'))

    @classmethod
    def _expire_due(cls, now):
        """Return a function of a service table giving the SQL condition
        "active and due at now", or None when no plan exists.

        One branch per distinct grace value (a handful), each on the plans
        of that grace and a paid_until limit computed here: the (state,
        paid_until) index serves every branch."""
        pool = Pool()
        Product = pool.get('product.product')
        Template = pool.get('product.template')
        product, template = Product.__table__(), Template.__table__()
        grace = Coalesce(template.grace_hours, 0)
        cursor = Transaction().connection.cursor()
        cursor.execute(*template.select(template.grace_hours,
                group_by=[template.grace_hours]))
        branches = []
        for hours in sorted({h or 0 for h, in cursor}):
            plans = product.join(template,
                condition=product.template == template.id
                ).select(product.id, where=grace == hours)
            branches.append((plans, now - dt.timedelta(hours=hours)))
        if not branches:
            return None

        def due(table):
            return (table.state == 'active') & Or([
                    table.plan.in_(plans) & (table.paid_until <= limit)
                    for plans, limit in branches])
        return due

    @classmethod
    def _expire_sql(cls, now):
        """Expire the due services in SQL; return their ids.

        PostgreSQL (RETURNING): one UPDATE of the due rows that no other
        transaction holds, then the logs of the rows it returned.  Other
        backends (SQLite): the logs first -- the first write, which takes
        SQLite's write lock -- then the ids and the UPDATE, all on the same
        condition, which no other writer can change meanwhile."""
        transaction = Transaction()
        cursor = transaction.connection.cursor()
        table = cls.__table__()
        due = cls._expire_due(now)
        if due is None:
            return []
        if transaction.database.has_returning():
            rows = cls._expire_returning(due)
            if rows and cls._log:
                for sub_ids in grouped_slice(
                        [i for i, _ in rows], backend.MAX_QUERY_PARAMS):
                    cls._expire_log(
                        SQL_OPERATORS['in'](table.id, list(sub_ids)), table)
        else:
            if cls._log:
                cls._expire_log(due(table), table)
            cursor.execute(*table.select(table.id, table.router,
                    where=due(table), order_by=[table.id.asc]))
            rows = cursor.fetchall()
            if rows:
                cursor.execute(*table.update(
                        *cls._expire_values(table), where=due(table)))
        if not rows:
            return []
        ids = [i for i, _ in rows]
        # what ModelStorage.write does after writing: stale records are
        # read again
        transaction.counter += 1
        for cache in transaction.cache.values():
            if cls.__name__ in cache:
                cache_cls = cache[cls.__name__]
                for id_ in ids:
                    cache_cls.pop(id_, None)
        # as the write hook: one sync per router, queued for after commit
        enqueue_sync(sorted({r for _, r in rows}))
        return ids

    @classmethod
    def _expire_values(cls, table):
        "Columns and values of an expiry, as the transition writes them"
        return ([table.state, table.sync_status,
                table.write_uid, table.write_date],
            ['expired', 'pending', Transaction().user, CurrentTimestamp()])

    @classmethod
    def _expire_log(cls, where, table):
        """Insert one ir.model.log row per service of table matching where:
        the row Workflow.transition makes (ModelStorage.log)"""
        pool = Pool()
        Log = pool.get('ir.model.log')
        log = Log.__table__()
        user = Transaction().user
        cursor = Transaction().connection.cursor()
        cursor.execute(*log.insert(
                [log.resource, log.event, log.target, log.user,
                    log.create_uid, log.create_date],
                table.select(
                    Concat(cls.__name__ + ',', table.id),
                    Literal('transition'),
                    Literal('%s:expired' % cls._transition_state),
                    Literal(user), Literal(user), CurrentTimestamp(),
                    where=where, order_by=[table.id.asc])))

    @classmethod
    def _expire_returning(cls, due):
        """UPDATE ... RETURNING (id, router) of the due services, skipping
        the rows another transaction holds (a payment in progress: the next
        run sees them, due or paid).

        PostgreSQL runs Tryton's transactions in REPEATABLE READ: a row a
        payment committed after this transaction's snapshot fails the
        statement with a serialization error.  Then the work is not lost:
        back to the savepoint, the due ids (as this snapshot sees them) are
        updated by halves until the conflicting rows are alone, and those
        are left to the next run."""
        transaction = Transaction()
        database = transaction.database
        cursor = transaction.connection.cursor()
        For = database.get_select_for_skip_locked()
        table, locked = cls.__table__(), cls.__table__()

        def update(ids=None):
            where = due(locked)
            if ids is not None:
                where &= SQL_OPERATORS['in'](locked.id, ids)
            free = locked.select(locked.id, where=where, for_=For('UPDATE'))
            cursor.execute(*table.update(*cls._expire_values(table),
                    where=table.id.in_(free) & due(table),
                    returning=[table.id, table.router]))
            return cursor.fetchall()

        def attempt(ids=None):
            "The rows of update(ids), or None on a serialization failure"
            cursor.execute('SAVEPOINT isp_expire')
            try:
                rows = update(ids)
            except backend.DatabaseOperationalError as error:
                if getattr(error, 'sqlstate', None) != SERIALIZATION_FAILURE:
                    raise
                cursor.execute('ROLLBACK TO SAVEPOINT isp_expire')
                rows = None
            cursor.execute('RELEASE SAVEPOINT isp_expire')
            return rows

        rows = attempt()
        if rows is not None:
            return rows
        cursor.execute(*table.select(table.id, where=due(table),
                order_by=[table.id.asc]))
        rows, parts = [], [[i for i, in cursor]]
        while parts:
            ids = parts.pop()
            done = attempt(ids)
            if done is not None:
                rows.extend(done)
            elif len(ids) > 1:
                half = len(ids) // 2
                parts.extend([ids[half:], ids[:half]])
            else:
                logger.info("expiry of service %s left to the next run: "
                    "changed by a concurrent transaction", ids[0])
        return rows

    @classmethod
    def _expire_orm(cls, now):
        """The workflow transition chunk by chunk (_expire_chunk_size
        services: one read and one write each); return the ids expired"""
        pool = Pool()
        Log = pool.get('ir.model.log')
        transaction = Transaction()
        due = cls._expire_due(now)
        if due is None:
            return []
        table = cls.__table__()
        cursor = transaction.connection.cursor()
        cursor.execute(*table.select(table.id, where=due(table),
                order_by=[table.id.asc]))
        ids = [i for i, in cursor]
        size = max(1, cls._expire_chunk_size)
        for i in range(0, len(ids), size):
            cls.expire(cls.browse(ids[i:i + size]))
            # the transition logs are saved at commit in one create, which
            # is quadratic in Tryton (browse of every new id): save them
            # chunk by chunk, in this same transaction
            if transaction.log_records:
                with without_check_access():
                    Log.save(transaction.log_records)
                transaction.log_records.clear()
        return ids

    @classmethod
    def _expire_records(cls, ids):
        "The services of ids, browsed only when read (ExpiredServices)"
        return ExpiredServices(cls, ids)


logger = logging.getLogger(__name__)

#: SQLSTATE of a serialization failure (PostgreSQL, REPEATABLE READ)
SERIALIZATION_FAILURE = '40001'
#: ids per browse() of the services returned by the expiry sweep
EXPIRE_BROWSE_SIZE = 100


class ExpiredServices(Sequence):
    """The services an expiry sweep expired, browsed on demand by small
    groups: browsing 50,000 records costs seconds (ModelStorage.__init__
    checks every id against the list) and the cron never reads them"""

    def __init__(self, Model, ids):
        self.Model, self.ids = Model, list(ids)

    def __len__(self):
        return len(self.ids)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return self.Model.browse(self.ids[index])
        return self.Model(self.ids[index])

    def __iter__(self):
        for sub_ids in grouped_slice(self.ids, EXPIRE_BROWSE_SIZE):
            yield from self.Model.browse(list(sub_ids))

    def __eq__(self, other):
        if isinstance(other, (list, tuple, ExpiredServices)):
            return list(self) == list(other)
        return NotImplemented

    def __repr__(self):
        return '%s(%s, %r)' % (
            self.__class__.__name__, self.Model.__name__, self.ids)


def plan_name(code, name):
    "A plan's rec_name (product.product's) from its code and template name"
    return '[%s] %s' % (code, name) if code else (name or '')


def user_in_groups(*xml_ids):
    "True if the current user is in one of the isp_billing groups xml_ids"
    pool = Pool()
    User = pool.get('res.user')
    ModelData = pool.get('ir.model.data')
    groups = set(User.get_groups())
    return any(ModelData.get_id('isp_billing', x) in groups for x in xml_ids)
