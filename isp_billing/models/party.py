"""Customers are Tryton parties with an ISP code and a type."""
from trytond.model import ModelView, fields
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Eval

from ..times import minute_timestamp

#: what kind of customer a party is (reports, messages and the portal too)
CUSTOMER_TYPES = [
    ('individual', "Individual"),
    ('organization', "Organization"),
    ]


class Party(metaclass=PoolMeta):
    __name__ = 'party.party'

    isp_customer = fields.Boolean(
        "ISP Customer",
        help="Check for parties that buy internet service from the ISP.")
    isp_customer_type = fields.Selection(
        [(None, "")] + CUSTOMER_TYPES, "Customer Type",
        states={
            'required': Eval('isp_customer', False),
            'invisible': ~Eval('isp_customer', False),
            })
    isp_code = fields.Char(
        "ISP Customer Code", readonly=True,
        states={'invisible': ~Eval('isp_customer', False)},
        help="Given from the customer sequence when the party becomes "
        "an ISP customer.")
    isp_services = fields.One2Many(
        'isp.service', 'customer', "Internet Services", readonly=True,
        states={'invisible': ~Eval('isp_customer', False)})
    isp_payments = fields.One2Many(
        'isp.service.payment', 'customer', "Service Payments", readonly=True,
        states={'invisible': ~Eval('isp_customer', False)})

    # the Customers list: what the front desk asks first
    isp_plans = fields.Function(fields.Char("Plan"), 'get_isp_summary')
    isp_states = fields.Function(fields.Char("Service State"),
        'get_isp_summary')
    isp_routers = fields.Function(fields.Char("Router"), 'get_isp_summary')
    isp_paid_until = fields.Function(
        minute_timestamp("Paid Until"), 'get_isp_summary')

    @classmethod
    def get_isp_summary(cls, parties, names):
        """Plan, state and router of the customer's services (not
        cancelled ones, unless there is nothing else), the latest paid
        until."""
        result = {n: {p.id: None for p in parties} for n in names}
        for party in parties:
            services = [s for s in party.isp_services
                if s.state != 'cancelled'] or list(party.isp_services)
            if not services:
                continue

            def join(values):
                return ', '.join(dict.fromkeys(v for v in values if v))
            if 'isp_plans' in names:
                result['isp_plans'][party.id] = join(
                    s.plan.rec_name for s in services)
            if 'isp_states' in names:
                result['isp_states'][party.id] = join(
                    s.state_string for s in services)
            if 'isp_routers' in names:
                result['isp_routers'][party.id] = join(
                    s.router.rec_name for s in services)
            if 'isp_paid_until' in names:
                paid = [s.paid_until for s in services if s.paid_until]
                result['isp_paid_until'][party.id] = max(paid, default=None)
        return result

    @classmethod
    def __register__(cls, module):
        super().__register__(module)
        from .counter import enable_global_search
        enable_global_search(cls.__name__)

    @classmethod
    def search_rec_name(cls, name, clause):
        """The counter's keys: name, phone, email, code (party's), the ISP
        code, a service login or an invoice number."""
        from .counter import customer_key_domain
        domain = super().search_rec_name(name, clause)
        return customer_key_domain(domain, clause)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._buttons.update({
                'isp_invite_portal': {
                    'invisible': ~Eval('isp_customer', False),
                    'depends': ['isp_customer'],
                    },
                })

    @classmethod
    @ModelView.button
    def isp_invite_portal(cls, parties):
        "Mail the customers a link to their first portal login"
        Pool().get('web.user').portal_invite(parties)

    @classmethod
    def default_isp_customer(cls):
        return False

    @fields.depends('isp_customer', 'isp_customer_type')
    def on_change_isp_customer(self):
        if self.isp_customer and not self.isp_customer_type:
            self.isp_customer_type = 'individual'

    @classmethod
    def preprocess_values(cls, mode, values):
        values = super().preprocess_values(mode, values)
        if values.get('isp_customer') and not values.get('isp_code'):
            if mode == 'create':
                values['isp_code'] = cls._new_isp_code()
        return values

    @classmethod
    def on_modification(cls, mode, parties, field_names=None):
        super().on_modification(mode, parties, field_names=field_names)
        if mode == 'write' and 'isp_customer' in (field_names or set()):
            to_code = [p for p in parties if p.isp_customer and not p.isp_code]
            for party in to_code:
                party.isp_code = cls._new_isp_code()
            if to_code:
                cls.save(to_code)

    @classmethod
    def _new_isp_code(cls):
        pool = Pool()
        Configuration = pool.get('isp.configuration')
        config = Configuration(1)
        if config.customer_sequence:
            return config.customer_sequence.get()

    @classmethod
    def copy(cls, parties, default=None):
        default = default.copy() if default is not None else {}
        default.setdefault('isp_code')
        default.setdefault('isp_services')
        default.setdefault('isp_payments')
        return super().copy(parties, default=default)
