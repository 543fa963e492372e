"""A customer's internet service on one router: the pre-paid subscription."""
import datetime as dt
import ipaddress
import re
from functools import wraps

from trytond import backend
from trytond.exceptions import UserError
from trytond.i18n import gettext
from trytond.model import Index, ModelSQL, ModelView, Workflow, fields
from trytond.model.exceptions import AccessError
from trytond.model.fields import SQL_OPERATORS
from trytond.pool import Pool
from trytond.pyson import Eval, Id, If
from trytond.tools import grouped_slice
from trytond.transaction import Transaction, without_check_access

from ..exceptions import (
    ServiceDeleteError, ServiceStateError, ServiceValidationError)
from .payment import utcnow
from .plan import PLAN_KINDS

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
UNIQUE_FIELDS = {'login', 'router', 'state'}


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
    sync_status = fields.Selection([
            ('pending', "Pending"),
            ('in_sync', "In Sync"),
            ('error', "Error"),
            ], "Router Sync", readonly=True)
    sync_message = fields.Text("Router Sync Message", readonly=True)
    del _states

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.update({
                Index(t, (t.router, Index.Range()), (t.login, Index.Equality())),
                Index(t, (t.state, Index.Equality()),
                    (t.paid_until, Index.Range())),
                })
        cls._order = [('paid_until', 'DESC NULLS FIRST'), ('id', 'DESC')]
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
    def search_rec_name(cls, name, clause):
        _, operator, operand, *extra = clause
        if operator.startswith('!') or operator.startswith('not '):
            bool_op = 'AND'
        else:
            bool_op = 'OR'
        return [bool_op,
            ('login', operator, operand, *extra),
            ('customer.rec_name', operator, operand, *extra),
            ]

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
        cls.check_login_unique(services, field_names)

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
    def check_login_unique(cls, services, field_names=None):
        """A login is unique per router among services that are not
        cancelled. Checked only when login, router or state are created or
        written, with one query per slice of services (one for all of them
        on PostgreSQL)."""
        if not touches(field_names, UNIQUE_FIELDS):
            return
        ids = [s.id for s in services]
        for sub_ids in grouped_slice(ids, backend.MAX_QUERY_PARAMS - 2):
            duplicate = cls._login_duplicate(list(sub_ids))
            if duplicate is not None:
                service = cls(duplicate)
                raise ServiceValidationError(gettext(
                        'isp_billing.msg_service_login_unique',
                        login=service.login,
                        router=service.router.rec_name))

    @classmethod
    def _login_duplicate(cls, ids):
        """Return the id of one of the services ids that shares its router
        and login with another service, neither cancelled; else None.
        Plain SQL: the (router, login) index, no record rule, no browse."""
        table, other = cls.__table__(), cls.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*table.join(other, condition=(
                    (other.router == table.router)
                    & (other.login == table.login)
                    & (other.id != table.id)
                    & (other.state != 'cancelled'))
                ).select(table.id,
                where=(SQL_OPERATORS['in'](table.id, ids)
                    & (table.state != 'cancelled')),
                order_by=[table.id.asc],
                limit=1))
        row = cursor.fetchone()
        return row[0] if row else None

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
        default = default.copy() if default is not None else {}
        default.setdefault('state', 'draft')
        default.setdefault('paid_until')
        default.setdefault('sync_status', 'pending')
        default.setdefault('sync_message')
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
        pass

    @classmethod
    @ModelView.button
    @Workflow.transition('active')
    def resume(cls, services):
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


def user_in_groups(*xml_ids):
    "True if the current user is in one of the isp_billing groups xml_ids"
    pool = Pool()
    User = pool.get('res.user')
    ModelData = pool.get('ir.model.data')
    groups = set(User.get_groups())
    return any(ModelData.get_id('isp_billing', x) in groups for x in xml_ids)
