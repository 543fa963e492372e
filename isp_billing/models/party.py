"""Customers are Tryton parties with an ISP code and a type."""
from trytond.model import ModelView, fields
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Eval


class Party(metaclass=PoolMeta):
    __name__ = 'party.party'

    isp_customer = fields.Boolean(
        "ISP Customer",
        help="Check for parties that buy internet service from the ISP.")
    isp_customer_type = fields.Selection([
            (None, ""),
            ('individual', "Individual"),
            ('organization', "Organization"),
            ], "Customer Type",
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
