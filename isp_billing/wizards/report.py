"""Report wizards (ISP Billing > Reports): ask the filters, then give the
report as Excel or PDF. The figures are computed by isp.report.data; the
wizard only checks the filters first so a bad range is refused before any
download starts."""
from trytond.model import ModelView, fields
from trytond.pool import Pool
from trytond.pyson import Eval
from trytond.wizard import Button, StateReport, StateView, Wizard

from ..models.party import CUSTOMER_TYPES
from ..models.service import STATES as SERVICE_STATES

#: a filter on the customer type, empty for all
CUSTOMER_TYPE_FILTER = [(None, "")] + CUSTOMER_TYPES


def _today():
    return Pool().get('ir.date').today()


class RangeMixin:
    "A date range (local dates of the company), this month by default"
    __slots__ = ()
    start_date = fields.Date("From", required=True)
    end_date = fields.Date("To", required=True)

    @classmethod
    def default_start_date(cls):
        return _today().replace(day=1)

    @classmethod
    def default_end_date(cls):
        return _today()


def _payment_method():
    return fields.Many2One('account.invoice.payment.method',
        "Payment Method",
        domain=[('company', '=', Eval('context', {}).get('company', -1))])


def _plan():
    return fields.Many2One('product.product', "Plan",
        domain=[('template.isp_plan', '=', True)],
        context={'active_test': False})


class ReportWizard(Wizard):
    "Filters, then the Excel or PDF file (not registered)"
    #: the report data classmethod that validates the filters
    _fields = []

    def _data(self):
        ReportData = Pool().get('isp.report.data')
        data = {}
        for name in self._fields:
            value = getattr(self.start, name)
            data[name] = value.id if hasattr(value, 'id') else value
        ReportData.check_filters(data)
        return data

    def do_xlsx(self, action):
        return action, self._data()

    def do_pdf(self, action):
        return action, self._data()


def _buttons():
    return [
        Button("Cancel", 'end', 'tryton-cancel'),
        Button("PDF", 'pdf', 'tryton-print'),
        Button("Excel", 'xlsx', 'tryton-launch', default=True),
        ]


class RevenueReportStart(RangeMixin, ModelView):
    "Revenue Report"
    __name__ = 'isp.report.revenue.start'
    __string__ = "Revenue Report"
    group_by = fields.Selection([
            ('day', "Day"),
            ('month', "Month"),
            ], "Totals By", required=True)
    payment_method = _payment_method()
    customer_type = fields.Selection(CUSTOMER_TYPE_FILTER, "Customer Type")
    plan = _plan()
    router = fields.Many2One('isp.router', "Router",
        context={'active_test': False})
    user = fields.Many2One('res.user', "Registered By",
        help="The staff user who registered the payment.")
    detail = fields.Boolean("Detail",
        help="Add the sheet listing each payment.")

    @classmethod
    def default_group_by(cls):
        return 'day'

    @classmethod
    def default_detail(cls):
        return True


class RevenueReport(ReportWizard):
    "Revenue Report"
    __name__ = 'isp.report.revenue'
    __string__ = "Revenue Report"
    _fields = ['start_date', 'end_date', 'group_by', 'payment_method',
        'customer_type', 'plan', 'router', 'user', 'detail']
    start = StateView('isp.report.revenue.start',
        'isp_billing.report_revenue_start_view_form', _buttons())
    xlsx = StateReport('isp.report.revenue.xlsx')
    pdf = StateReport('isp.report.revenue.pdf')


class CustomersReportStart(ModelView):
    "Customers Report"
    __name__ = 'isp.report.customers.start'
    __string__ = "Customers Report"
    customer_type = fields.Selection(CUSTOMER_TYPE_FILTER, "Customer Type")
    plan = _plan()
    state = fields.Selection(
        [(None, "")] + SERVICE_STATES, "Service State")
    router = fields.Many2One('isp.router', "Router",
        context={'active_test': False})


class CustomersReport(ReportWizard):
    "Customers Report"
    __name__ = 'isp.report.customers'
    __string__ = "Customers Report"
    _fields = ['customer_type', 'plan', 'state', 'router']
    start = StateView('isp.report.customers.start',
        'isp_billing.report_customers_start_view_form', _buttons())
    xlsx = StateReport('isp.report.customers.xlsx')
    pdf = StateReport('isp.report.customers.pdf')


class PlansReportStart(RangeMixin, ModelView):
    "Service Plans Report"
    __name__ = 'isp.report.plans.start'
    __string__ = "Service Plans Report"
    plan = _plan()
    router = fields.Many2One('isp.router', "Router",
        context={'active_test': False})


class PlansReport(ReportWizard):
    "Service Plans Report"
    __name__ = 'isp.report.plans'
    __string__ = "Service Plans Report"
    _fields = ['start_date', 'end_date', 'plan', 'router']
    start = StateView('isp.report.plans.start',
        'isp_billing.report_plans_start_view_form', _buttons())
    xlsx = StateReport('isp.report.plans.xlsx')
    pdf = StateReport('isp.report.plans.pdf')


class PaymentsReportStart(RangeMixin, ModelView):
    "Payment Information"
    __name__ = 'isp.report.payments.start'
    __string__ = "Payment Information"
    payment_method = _payment_method()
    customer_type = fields.Selection(CUSTOMER_TYPE_FILTER, "Customer Type")
    plan = _plan()
    router = fields.Many2One('isp.router', "Router",
        context={'active_test': False})
    user = fields.Many2One('res.user', "Registered By",
        help="The staff user responsible for the payment.")


class PaymentsReport(ReportWizard):
    "Payment Information"
    __name__ = 'isp.report.payments'
    __string__ = "Payment Information"
    _fields = ['start_date', 'end_date', 'payment_method', 'customer_type',
        'plan', 'router', 'user']
    start = StateView('isp.report.payments.start',
        'isp_billing.report_payments_start_view_form', _buttons())
    xlsx = StateReport('isp.report.payments.xlsx')
    pdf = StateReport('isp.report.payments.pdf')
