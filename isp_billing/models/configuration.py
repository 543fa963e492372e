"""ISP-wide settings: one record for the whole installation."""
from trytond.model import ModelSingleton, ModelSQL, ModelView, fields
from trytond.pool import Pool
from trytond.pyson import Id


class Configuration(ModelSingleton, ModelSQL, ModelView):
    "ISP Billing Configuration"
    __name__ = 'isp.configuration'
    __string__ = "ISP Billing Configuration"

    customer_sequence = fields.Many2One(
        'ir.sequence', "Customer Code Sequence", required=True,
        domain=[
            ('sequence_type', '=',
                Id('isp_billing', 'sequence_type_isp_customer')),
            ],
        help="Numbers the ISP customer codes printed on bills and cards.")
    suspension_consumes_time = fields.Boolean(
        "Suspension Consumes Paid Time",
        help="If checked, the paid period keeps running while a service is "
        "suspended; otherwise the suspended days are given back on resume.")
    allow_discount = fields.Boolean(
        "Allow Discounts",
        help="If checked, the cashier may take less than the plan price "
        "when registering a payment; the difference is a discount line.")
    default_payment_method = fields.Many2One(
        'account.invoice.payment.method', "Default Payment Method",
        help="Proposed by Register Payment, so the usual case is one click "
        "for the cashier.")
    receipt_layout = fields.Selection([
            ('a4', "A4 page"),
            ('80mm', "Receipt printer (80 mm)"),
            ('none', "No receipt"),
            ], "Receipt After Payment",
        help="The receipt Register Payment and the Counter open after Pay: "
        "a page, a narrow slip for a receipt printer, or none.")

    @classmethod
    def default_customer_sequence(cls):
        pool = Pool()
        ModelData = pool.get('ir.model.data')
        try:
            return ModelData.get_id('isp_billing', 'sequence_isp_customer')
        except KeyError:
            return None

    @classmethod
    def default_suspension_consumes_time(cls):
        return False

    @classmethod
    def default_allow_discount(cls):
        return False

    @classmethod
    def default_receipt_layout(cls):
        return 'a4'
