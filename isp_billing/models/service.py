"""A customer's internet service on one router: the pre-paid subscription."""
import datetime as dt
import ipaddress
import re
from decimal import Decimal

from trytond import backend
from trytond.i18n import gettext
from sql.operators import Equal

from trytond.model import Exclude, Index, ModelSQL, ModelView, Workflow, fields
from trytond.model.fields import SQL_OPERATORS
from trytond.pool import Pool
from trytond.pyson import Eval, If
from trytond.tools import grouped_slice
from trytond.transaction import Transaction, without_check_access

from ..exceptions import (
    ServiceDeleteError, ServiceStateError, ServiceValidationError)
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

    # --- ledger: credit notes, copy, login constraint ---

    @classmethod
    def _ledger_sql_constraints(cls):
        """The login is unique per router among services not cancelled, in
        the database: an exclusion constraint on PostgreSQL (concurrent
        transactions cannot both insert it). On SQLite trytond would check
        a parametrised constraint in Python with one OR term per record
        (a RecursionError for a 1000-service write), so there the Python
        checks (_check_login_free, check_login_unique) stand alone."""
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
        from ..payment_exceptions import PlanChangeError
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
        now = dt.datetime.now(dt.timezone.utc).replace(
            tzinfo=None, microsecond=0)
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

    @classmethod
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
