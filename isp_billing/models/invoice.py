"""Customer invoices that buy service time, and the hook that applies them.

An invoice line with ``isp_service`` buys ``isp_periods`` periods of its
product (a plan) for that service (or ``isp_days`` days for a paid extension).
When the invoice becomes *paid* (counter payment wizard, or an accountant
reconciling a bank statement line), ``Service.apply_paid_lines`` extends
``paid_until`` once: each line is linked to the ``isp.service.payment`` record
it produced, so a retried or repeated ``paid`` transition does nothing.
"""
from trytond.i18n import gettext
from trytond.model import Workflow, fields
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Eval
from trytond.transaction import Transaction

from ..exceptions import PaymentError


class Invoice(metaclass=PoolMeta):
    __name__ = 'account.invoice'

    isp_services = fields.Function(fields.Many2Many(
            'isp.service', None, None, "Internet Services"),
        'get_isp_services', searcher='search_isp_services')

    def get_isp_services(self, name):
        return list({l.isp_service.id for l in self.lines if l.isp_service})

    @classmethod
    def search_isp_services(cls, name, clause):
        return [('lines.isp_service' + clause[0][len(name):],
                *clause[1:])]

    @classmethod
    @Workflow.transition('paid')       # keep: only real posted -> paid
    def paid(cls, invoices):
        pool = Pool()
        Service = pool.get('isp.service')
        super().paid(invoices)
        # a credited line buys nothing, even if the invoice gets paid later
        lines = [l for i in invoices for l in i.lines
            if l.isp_service and not l.isp_payment
            and not l.isp_credited_by]
        if lines:
            Service.apply_paid_lines(lines)

    @classmethod
    def _post(cls, invoices):
        """A posted credit note takes back the service time its lines
        credit: the accounting event, whatever created the note (the Credit
        wizard with or without refund, or by hand with origin lines)"""
        pool = Pool()
        Service = pool.get('isp.service')
        Line = pool.get('account.invoice.line')
        super()._post(invoices)
        lines = [l for i in invoices for l in i.lines
            if isinstance(l.origin, Line) and l.origin.isp_service
            and l.origin.invoice != i and not l.origin.isp_credited_by]
        if lines:
            Service.take_back_credited_lines(lines)

    def isp_pay(self, amount, payment_method, date=None, description=None):
        """Record a payment of amount with the method and reconcile it.

        The same steps as the account.invoice.pay wizard for a payment that
        is not more than the amount to pay. Returns the payment lines."""
        pool = Pool()
        Date = pool.get('ir.date')
        MoveLine = pool.get('account.move.line')
        if payment_method is None:
            raise PaymentError(gettext(
                    'isp_billing.msg_payment_method_required'))
        if amount > self.amount_to_pay:
            raise PaymentError(gettext(
                    'isp_billing.msg_payment_amount_exceeds',
                    invoice=self.rec_name, amount=amount,
                    amount_to_pay=self.amount_to_pay))
        if date is None:
            with Transaction().set_context(company=self.company.id):
                date = Date.today()
        lines = self.pay_invoice(amount, payment_method, date, description)
        reconcile_lines, remainder = self.get_reconcile_lines_for_amount(
            amount, self.currency)
        if not remainder:
            reconcile_lines += [l for l in lines if l not in reconcile_lines]
            MoveLine.reconcile(reconcile_lines)
        return lines


class InvoiceLine(metaclass=PoolMeta):
    __name__ = 'account.invoice.line'

    _isp_states = {'invisible': ~Eval('isp_service')}

    isp_service = fields.Many2One(
        'isp.service', "Internet Service", ondelete='RESTRICT', readonly=True,
        states={'invisible': Eval('type') != 'line'})
    isp_periods = fields.Integer(
        "Periods", readonly=True, states=_isp_states,
        help="Number of plan periods this line buys.")
    isp_days = fields.Integer(
        "Days", readonly=True, states=_isp_states,
        help="Number of days this line buys (paid extension).")
    isp_period_start = fields.Timestamp(
        "Period Start", readonly=True, states=_isp_states,
        help="Start of the service time bought.")
    isp_period_end = fields.Timestamp(
        "Period End", readonly=True, states=_isp_states,
        help="End of the service time bought.")
    isp_payment = fields.Many2One(
        'isp.service.payment', "Service Payment", readonly=True,
        ondelete='RESTRICT', states=_isp_states,
        help="The service time given for this line: set once, when the "
        "invoice is paid.")
    isp_credited_by = fields.Many2One(
        'account.invoice.line', "Credited By", readonly=True,
        ondelete='RESTRICT', states=_isp_states,
        help="The credit note line that took this line's service time back "
        "(once).")
    del _isp_states

    @classmethod
    def __setup__(cls):
        super().__setup__()
        # the period actually bought is known when the invoice gets paid;
        # the credit note comes after the posting
        cls._check_modify_exclude |= {
            'isp_payment', 'isp_period_start', 'isp_period_end',
            'isp_credited_by'}

    @classmethod
    def copy(cls, lines, default=None):
        default = default.copy() if default is not None else {}
        default.setdefault('isp_payment')
        default.setdefault('isp_credited_by')
        return super().copy(lines, default=default)
