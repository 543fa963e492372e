"""The staff dashboard: one read-only SQL model per chart or list.

Every figure is counted or summed by the database (``table_query``), never
by loading services into the browser: the graphs of the board get a dozen
rows.  Record rules do not reach ``table_query`` models, so each query keeps
only the routers assigned to the user (models/ir.py assigned_router_ids;
none assigned = all routers) and the company of the context.

The rows of the lists carry the id of the record they show (service,
invoice, router): a double click runs the ``tree_open`` action of the list,
which opens that record.
"""
import datetime as dt
from decimal import Decimal

from sql import Literal, Null, Select, Union
from sql.aggregate import Count, Min, Sum
from sql.conditionals import Case, Coalesce

from trytond.model import ModelSQL, ModelView, fields
from trytond.modules.currency.fields import Monetary
from trytond.pool import Pool, PoolMeta
from trytond.transaction import Transaction

from ..times import company_timezone, utcnow
from .ir import assigned_router_ids
from .request import STATES as REQUEST_STATES
from .router import STATUS as ROUTER_STATUS

try:
    from zoneinfo import ZoneInfo
except ImportError:  # pragma: no cover
    ZoneInfo = None

#: months shown by the monthly charts (the current one included)
MONTHS = 12
#: payment methods with their own series in the revenue chart; the others
#: are summed in "Other"
REVENUE_METHODS = 6


def _company():
    "The company of the context (None: all)"
    return Transaction().context.get('company')


def _routers():
    """The routers whose figures the user sees (empty: all), as the record
    rules do: ISP administrators see all routers"""
    pool = Pool()
    User = pool.get('res.user')
    ModelData = pool.get('ir.model.data')
    user = Transaction().user
    if not user:
        return []
    if ModelData.get_id('isp_billing', 'group_isp_admin') in User.get_groups():
        return []
    return assigned_router_ids(user)


def _router_filter(router_column):
    "SQL condition keeping the routers of the user (None: all routers)"
    routers = _routers()
    if routers:
        return router_column.in_(routers)
    return None


def _and(*conditions):
    "AND of the conditions that are not None"
    result = None
    for condition in conditions:
        if condition is None:
            continue
        result = condition if result is None else (result & condition)
    return result if result is not None else Literal(True)


def _timezone():
    pool = Pool()
    Company = pool.get('company.company')
    company = _company()
    if company is not None and company >= 0:
        return company_timezone(Company(company))
    return 'UTC'


def _local_midnight(day, timezone):
    "The naive UTC timestamp of day's midnight in timezone"
    local = dt.datetime.combine(day, dt.time())
    if ZoneInfo is None or timezone == 'UTC':
        return local
    local = local.replace(tzinfo=ZoneInfo(timezone))
    return local.astimezone(dt.timezone.utc).replace(tzinfo=None)


def today_bounds(days=1):
    """The naive UTC bounds of today (and the days after it) in the
    company's time zone"""
    timezone = _timezone()
    now = utcnow()
    if ZoneInfo is not None and timezone != 'UTC':
        today = now.replace(tzinfo=dt.timezone.utc).astimezone(
            ZoneInfo(timezone)).date()
    else:
        today = now.date()
    return (_local_midnight(today, timezone),
        _local_midnight(today + dt.timedelta(days=days), timezone))


def month_bounds(count=MONTHS):
    """The last count months (oldest first) as (first day, UTC start, UTC
    end), in the company's time zone"""
    timezone = _timezone()
    now = utcnow()
    if ZoneInfo is not None and timezone != 'UTC':
        today = now.replace(tzinfo=dt.timezone.utc).astimezone(
            ZoneInfo(timezone)).date()
    else:
        today = now.date()
    # count + 1 first days: the last one only ends the current month
    index = today.year * 12 + today.month - 1 - (count - 1)
    firsts = [dt.date(i // 12, i % 12 + 1, 1)
        for i in range(index, index + count + 1)]
    return [(first, _local_midnight(first, timezone),
            _local_midnight(next_, timezone))
        for first, next_ in zip(firsts, firsts[1:])]


def months_table(cls):
    """A derived table of the months: id (1..), month (a date), start and
    end (naive UTC).  Every month is there, so a month without any event
    still gives a row (zero, not a gap)."""
    selects = []
    for i, (first, start, end) in enumerate(month_bounds(), 1):
        selects.append(Select([
                Literal(i).as_('id'),
                cls.month.sql_cast(Literal(first)).as_('month'),
                _timestamp(start).as_('start'),
                _timestamp(end).as_('end')]))
    return Union(*selects, all_=True)


def month_index(column, bounds):
    """The number (1..) of the month of bounds the timestamp column falls
    in: each row is bucketed once (a join on the month ranges would scan
    the rows once per month); rows out of the months give NULL"""
    whens = [(column < end, Literal(i))
        for i, (_, _, end) in enumerate(bounds, 1)]
    return Case(*whens)


_TIMESTAMP = fields.Timestamp("Timestamp")


def _timestamp(value):
    return _TIMESTAMP.sql_cast(Literal(value))


# --- charts ---

class RouterCustomers(ModelSQL, ModelView):
    "Dashboard: Customers per Router"
    __name__ = 'isp.dashboard.router_customers'
    __string__ = "Customers per Router"

    router = fields.Many2One('isp.router', "Router", readonly=True)
    customers = fields.Integer("Customers", readonly=True,
        help="Customers with a service that is not a draft nor cancelled.")
    active_customers = fields.Integer("Active Customers", readonly=True,
        help="Customers with an active service.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [('customers', 'DESC'), ('id', 'ASC')]

    @classmethod
    def table_query(cls):
        pool = Pool()
        Router = pool.get('isp.router')
        Service = pool.get('isp.service')
        router = Router.__table__()
        service = Service.__table__()
        company = _company()
        # count per router first, then add the routers without customers
        counts = service.select(
            service.router.as_('router'),
            Count(service.customer, distinct=True).as_('customers'),
            Count(Case((service.state == 'active', service.customer)),
                distinct=True).as_('active_customers'),
            where=_and(~service.state.in_(['draft', 'cancelled']),
                (service.company == company) if company is not None
                else None,
                _router_filter(service.router)),
            group_by=[service.router])
        join = router.join(counts, 'LEFT',
            condition=counts.router == router.id)
        return join.select(
            router.id.as_('id'),
            router.id.as_('router'),
            Coalesce(counts.customers, Literal(0)).as_('customers'),
            Coalesce(counts.active_customers, Literal(0)).as_(
                'active_customers'),
            where=_and(router.active == Literal(True),
                _router_filter(router.id)))


class PlanServices(ModelSQL, ModelView):
    "Dashboard: Active Services per Plan"
    __name__ = 'isp.dashboard.plan_services'
    __string__ = "Active Services per Plan"

    plan = fields.Many2One('product.product', "Plan", readonly=True)
    services = fields.Integer("Active Services", readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [('services', 'DESC'), ('id', 'ASC')]

    @classmethod
    def table_query(cls):
        Service = Pool().get('isp.service')
        service = Service.__table__()
        company = _company()
        return service.select(
            service.plan.as_('id'),
            service.plan.as_('plan'),
            Count(service.id).as_('services'),
            where=_and(service.state == 'active',
                (service.company == company) if company is not None
                else None,
                _router_filter(service.router)),
            group_by=[service.plan])


class CustomerMonth(ModelSQL, ModelView):
    "Dashboard: Monthly Change of Customers"
    __name__ = 'isp.dashboard.customer_month'
    __string__ = "Monthly Change of Customers"

    month = fields.Date("Month", readonly=True)
    new = fields.Integer("New", readonly=True,
        help="Customers whose first payment was in the month.")
    lost = fields.Integer("Lost", readonly=True,
        help="Customers without an active or suspended service whose last "
        "paid time ended in the month.")
    net = fields.Integer("Net Change", readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [('month', 'ASC'), ('id', 'ASC')]

    @classmethod
    def table_query(cls):
        pool = Pool()
        Payment = pool.get('isp.service.payment')
        Service = pool.get('isp.service')
        months = months_table(cls)
        bounds = month_bounds()
        start, end = bounds[0][1], bounds[-1][2]
        company = _company()
        routers = _routers()

        # new: a customer's first payment is the first payment of one of
        # their services (nothing paid before it: paid_until_before NULL),
        # so the earliest of those is enough (a partial index)
        payment = Payment.__table__()
        if routers:
            service = Service.__table__()
            source = payment.join(service,
                condition=payment.service == service.id)
            router_where = service.router.in_(routers)
        else:
            source = payment
            router_where = None
        firsts = source.select(
            payment.customer.as_('customer'),
            Min(payment.date).as_('at'),
            where=_and(payment.paid_until_before == Null,
                (payment.company == company) if company is not None
                else None,
                router_where),
            group_by=[payment.customer])
        firsts = firsts.select(
            month_index(firsts.at, bounds).as_('month'),
            where=(firsts.at >= start) & (firsts.at < end))
        new = firsts.select(firsts.month, Count(Literal(1)).as_('count'),
            group_by=[firsts.month])

        # lost: the service of a customer that ended last, when none of the
        # customer's services is active or suspended.  "No other service"
        # is a LIMIT 1 sub-query without row, not NOT EXISTS: it probes the
        # customer's few services in the customer index, where NOT EXISTS
        # is planned as an anti-join that hashes every service
        ended, other = Service.__table__(), Service.__table__()
        other_where = ((other.customer == ended.customer)
            & (other.id != ended.id)
            & (other.state.in_(['active', 'suspended'])
                | (other.paid_until > ended.paid_until)
                | ((other.paid_until == ended.paid_until)
                    & (other.id > ended.id))))
        if routers:
            other_where &= other.router.in_(routers)
        lost = ended.select(
            month_index(ended.paid_until, bounds).as_('month'),
            where=_and(ended.state.in_(['expired', 'cancelled']),
                ended.paid_until >= start, ended.paid_until < end,
                (ended.company == company) if company is not None else None,
                ended.router.in_(routers) if routers else None,
                Coalesce(other.select(other.id, where=other_where, limit=1),
                    Literal(-1)) == Literal(-1)))
        lost = lost.select(lost.month, Count(Literal(1)).as_('count'),
            group_by=[lost.month])

        join = months.join(new, 'LEFT',
            condition=new.month == months.id).join(lost, 'LEFT',
            condition=lost.month == months.id)
        zero = Literal(0)
        return join.select(
            months.id.as_('id'),
            months.month.as_('month'),
            Coalesce(new.count, zero).as_('new'),
            Coalesce(lost.count, zero).as_('lost'),
            (Coalesce(new.count, zero) - Coalesce(lost.count, zero)
                ).as_('net'))


class RevenueMonth(ModelSQL, ModelView):
    """Dashboard: Revenue per Month by Payment Method

    The payment methods are records, not a fixed list: the first
    REVENUE_METHODS methods (by name) get the columns amount_1.. and their
    names label the series of the graph (fields_view_get); the others and the
    payments without method are summed in "Other"."""
    __name__ = 'isp.dashboard.revenue_month'
    __string__ = "Revenue per Month"

    month = fields.Date("Month", readonly=True)
    total = fields.Numeric("Total", digits=(16, 2), readonly=True)
    amount_1 = fields.Numeric("Method 1", digits=(16, 2), readonly=True)
    amount_2 = fields.Numeric("Method 2", digits=(16, 2), readonly=True)
    amount_3 = fields.Numeric("Method 3", digits=(16, 2), readonly=True)
    amount_4 = fields.Numeric("Method 4", digits=(16, 2), readonly=True)
    amount_5 = fields.Numeric("Method 5", digits=(16, 2), readonly=True)
    amount_6 = fields.Numeric("Method 6", digits=(16, 2), readonly=True)
    amount_other = fields.Numeric("Other", digits=(16, 2), readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [('month', 'ASC'), ('id', 'ASC')]

    @classmethod
    def series_methods(cls):
        "The payment methods that have a series, in column order"
        pool = Pool()
        Method = pool.get('account.invoice.payment.method')
        table = Method.__table__()
        company = _company()
        cursor = Transaction().connection.cursor()
        where = Literal(True)
        if company is not None:
            where = table.company == company
        cursor.execute(*table.select(table.id, table.name,
                where=where, order_by=[table.name.asc, table.id.asc],
                limit=REVENUE_METHODS))
        return list(cursor)

    @classmethod
    def table_query(cls):
        pool = Pool()
        Payment = pool.get('isp.service.payment')
        Service = pool.get('isp.service')
        months = months_table(cls)
        bounds = month_bounds()
        start, end = bounds[0][1], bounds[-1][2]
        company = _company()
        routers = _routers()
        methods = [m for m, _ in cls.series_methods()]

        zero = Literal(Decimal(0))
        if routers:
            # the payments of the services of the user's routers, a few of
            # all, in one pass: each bucketed by month, summed per month
            # and method
            payment = Payment.__table__()
            service = Service.__table__()
            rows = payment.join(service,
                condition=payment.service == service.id).select(
                month_index(payment.date, bounds).as_('month'),
                payment.payment_method.as_('method'),
                payment.amount.as_('amount'),
                where=_and(payment.date >= start, payment.date < end,
                    (payment.company == company) if company is not None
                    else None,
                    service.router.in_(routers)))
            sums = rows.select(
                rows.month, rows.method, Sum(rows.amount).as_('amount'),
                group_by=[rows.month, rows.method])
        else:
            # the sum per method of each month, a range of the date index
            # each (index-only): no CASE per payment to find its month
            parts = []
            for i, (_, month_start, month_end) in enumerate(bounds, 1):
                payment = Payment.__table__()
                parts.append(payment.select(
                        Literal(i).as_('month'),
                        payment.payment_method.as_('method'),
                        Sum(payment.amount).as_('amount'),
                        where=_and(payment.date >= month_start,
                            payment.date < month_end,
                            (payment.company == company)
                            if company is not None else None),
                        group_by=[payment.payment_method]))
            sums = Union(*parts, all_=True)
        columns = []
        for i in range(1, REVENUE_METHODS + 1):
            if i <= len(methods):
                amount = Sum(Case((sums.method == methods[i - 1], sums.amount),
                        else_=zero))
            else:
                amount = zero
            columns.append(amount.as_('amount_%s' % i))
        if methods:
            other = Case((sums.method.in_(methods), zero), else_=sums.amount)
        else:
            other = sums.amount
        paid = sums.select(
            sums.month,
            Sum(sums.amount).as_('total'),
            *columns,
            Sum(other).as_('amount_other'),
            group_by=[sums.month])
        join = months.join(paid, 'LEFT', condition=paid.month == months.id)
        return join.select(
            months.id.as_('id'),
            months.month.as_('month'),
            Coalesce(paid.total, zero).as_('total'),
            *(Coalesce(getattr(paid, 'amount_%s' % i), zero).as_(
                    'amount_%s' % i)
                for i in range(1, REVENUE_METHODS + 1)),
            Coalesce(paid.amount_other, zero).as_('amount_other'))

    @classmethod
    def fields_view_get(cls, view_id=None, view_type='form', level=None):
        """Name the graph series after the payment methods and drop the
        columns no method uses"""
        result = super().fields_view_get(
            view_id=view_id, view_type=view_type, level=level)
        if view_type != 'graph':
            return result
        from lxml import etree
        result = dict(result)
        tree = etree.fromstring(result['arch'])
        methods = cls.series_methods()
        for element in tree.xpath('//y/field'):
            name = element.get('name')
            if not name.startswith('amount_') or name == 'amount_other':
                continue
            i = int(name.split('_')[1])
            if i <= len(methods):
                element.set('string', methods[i - 1][1])
            else:
                element.getparent().remove(element)
        result['arch'] = etree.tostring(tree, encoding='utf-8').decode('utf-8')
        return result



# --- lists: each row has the id of the record it shows ---

class _ServiceList(ModelSQL, ModelView):
    "Services of the dashboard lists (row id = service id)"
    service = fields.Many2One('isp.service', "Service", readonly=True)
    customer = fields.Many2One('party.party', "Customer", readonly=True)
    plan = fields.Many2One('product.product', "Plan", readonly=True)
    router = fields.Many2One('isp.router', "Router", readonly=True)
    paid_until = fields.Timestamp("Paid Until", readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [('paid_until', 'ASC'), ('id', 'ASC')]

    @classmethod
    def _where(cls, service):
        raise NotImplementedError

    @classmethod
    def table_query(cls):
        Service = Pool().get('isp.service')
        service = Service.__table__()
        company = _company()
        return service.select(
            service.id.as_('id'),
            service.id.as_('service'),
            service.customer.as_('customer'),
            service.plan.as_('plan'),
            service.router.as_('router'),
            service.paid_until.as_('paid_until'),
            where=_and(cls._where(service),
                (service.company == company) if company is not None
                else None,
                _router_filter(service.router)))


class ExpiredToday(_ServiceList):
    "Dashboard: Services Expired Today"
    __name__ = 'isp.dashboard.expired_today'
    __string__ = "Services Expired Today"

    @classmethod
    def _where(cls, service):
        start, end = today_bounds()
        return ((service.state == 'expired')
            & (service.paid_until >= start) & (service.paid_until < end))


class ExpiringSoon(_ServiceList):
    "Dashboard: Services Expiring in the Next 3 Days"
    __name__ = 'isp.dashboard.expiring_soon'
    __string__ = "Services Expiring in the Next 3 Days"

    #: how far ahead the list looks
    days = 3

    @classmethod
    def _where(cls, service):
        now = utcnow()
        return ((service.state == 'active')
            & (service.paid_until >= now)
            & (service.paid_until < now + dt.timedelta(days=cls.days)))


class UnpaidBill(ModelSQL, ModelView):
    "Dashboard: Unpaid Renewal Bills (row id = invoice id)"
    __name__ = 'isp.dashboard.unpaid_bill'
    __string__ = "Unpaid Renewal Bills"

    invoice = fields.Many2One('account.invoice', "Bill", readonly=True)
    customer = fields.Many2One('party.party', "Customer", readonly=True)
    service = fields.Many2One('isp.service', "Service", readonly=True,
        help="The (first) service the bill renews.")
    invoice_date = fields.Date("Date", readonly=True)
    currency = fields.Many2One('currency.currency', "Currency", readonly=True)
    total = Monetary(
        "Total", currency='currency', digits='currency', readonly=True)
    amount_due = Monetary(
        "Amount Due", currency='currency', digits='currency', readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [('invoice_date', 'ASC'), ('id', 'ASC')]

    @classmethod
    def table_query(cls):
        pool = Pool()
        Invoice = pool.get('account.invoice')
        Line = pool.get('account.invoice.line')
        Service = pool.get('isp.service')
        PaymentLine = pool.get('account.invoice-account.move.line')
        MoveLine = pool.get('account.move.line')
        invoice = Invoice.__table__()
        line = Line.__table__()
        service = Service.__table__()
        payment_line = PaymentLine.__table__()
        move_line = MoveLine.__table__()
        company = _company()
        routers = _routers()

        # the renewal lines of posted customer invoices (on the user's
        # routers): one row per invoice with its first service
        renewal = line.join(service,
            condition=line.isp_service == service.id).join(invoice,
            condition=line.invoice == invoice.id)
        bills = renewal.select(
            invoice.id.as_('invoice'),
            invoice.party.as_('party'),
            invoice.invoice_date.as_('invoice_date'),
            invoice.currency.as_('currency'),
            invoice.total_amount_cache.as_('total'),
            Min(service.id).as_('service'),
            where=_and(invoice.type == 'out', invoice.state == 'posted',
                (invoice.company == company) if company is not None
                else None,
                service.router.in_(routers) if routers else None),
            group_by=[invoice.id, invoice.party, invoice.invoice_date,
                invoice.currency, invoice.total_amount_cache])
        # what was paid on the posted invoices only (not on every paid one)
        posted = Invoice.__table__()
        paid = payment_line.join(move_line,
            condition=payment_line.line == move_line.id).join(posted,
            condition=payment_line.invoice == posted.id).select(
            payment_line.invoice.as_('invoice'),
            Sum(move_line.credit - move_line.debit).as_('amount'),
            where=(posted.state == 'posted') & (posted.type == 'out'),
            group_by=[payment_line.invoice])
        join = bills.join(paid, 'LEFT', condition=paid.invoice == bills.invoice)
        total = Coalesce(bills.total, Literal(Decimal(0)))
        due = total - Coalesce(paid.amount, Literal(Decimal(0)))
        return join.select(
            bills.invoice.as_('id'),
            bills.invoice.as_('invoice'),
            bills.party.as_('customer'),
            bills.service.as_('service'),
            bills.invoice_date.as_('invoice_date'),
            bills.currency.as_('currency'),
            cls.total.sql_cast(total).as_('total'),
            cls.amount_due.sql_cast(due).as_('amount_due'),
            # paid in full but not yet marked paid: nothing due
            where=due > 0)


class RouterProblem(ModelSQL, ModelView):
    "Dashboard: Routers Offline or Out of Sync (row id = router id)"
    __name__ = 'isp.dashboard.router_problem'
    __string__ = "Routers Offline or Out of Sync"

    router = fields.Many2One('isp.router', "Router", readonly=True)
    status = fields.Selection(ROUTER_STATUS, "Status", readonly=True)
    last_seen = fields.Timestamp("Last Seen", readonly=True)
    last_sync = fields.Timestamp("Last Sync", readonly=True)
    sync_error = fields.Text("Last Sync Error", readonly=True)
    services_in_error = fields.Integer("Services in Error", readonly=True,
        help="Services the router refused or that could not be synced.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [('id', 'ASC')]

    @classmethod
    def table_query(cls):
        pool = Pool()
        Router = pool.get('isp.router')
        Service = pool.get('isp.service')
        router = Router.__table__()
        service = Service.__table__()
        errors = service.select(
            service.router.as_('router'),
            Count(service.id).as_('count'),
            where=service.sync_status == 'error',
            group_by=[service.router])
        join = router.join(errors, 'LEFT',
            condition=errors.router == router.id)
        return join.select(
            router.id.as_('id'),
            router.id.as_('router'),
            router.status.as_('status'),
            router.last_seen.as_('last_seen'),
            router.last_sync.as_('last_sync'),
            router.sync_error.as_('sync_error'),
            Coalesce(errors.count, Literal(0)).as_('services_in_error'),
            where=_and(router.active == Literal(True),
                (router.status != 'online') | (router.status == Null)
                | (router.sync_error != Null) | (errors.count > 0),
                _router_filter(router.id)))


class RequestCount(ModelSQL, ModelView):
    """Dashboard: Customer Requests not Closed, per State and Kind

    One row per state that is not closed (row id 1 open, 2 in progress, 3
    answered), zeros included, so that "nothing waiting" reads as 0; open
    and in progress wait for staff, answered ones for the customer.  The
    rows follow the record rules of isp.request: a request is on a router
    through its service, or without service through any service of its
    customer."""
    __name__ = 'isp.dashboard.request_count'
    __string__ = "Customer Requests to Handle"

    state = fields.Selection(
        [s for s in REQUEST_STATES if s[0] != 'closed'], "State",
        readonly=True, sort=False)
    waiting_for = fields.Selection([
            ('staff', "Staff"),
            ('customer', "Customer"),
            ], "Waiting For", readonly=True)
    request = fields.Integer("Requests", readonly=True)
    feedback = fields.Integer("Feedback", readonly=True)
    complaint = fields.Integer("Complaints", readonly=True)
    inquiry = fields.Integer("Inquiries", readonly=True)
    total = fields.Integer("Total", readonly=True)
    oldest = fields.Timestamp("Oldest", readonly=True,
        help="When the oldest request of the row was written.")

    #: the rows: (id, state, waiting for)
    ROWS = [(1, 'open', 'staff'), (2, 'in_progress', 'staff'),
        (3, 'answered', 'customer')]

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [('id', 'ASC')]

    @classmethod
    def table_query(cls):
        pool = Pool()
        Request = pool.get('isp.request')
        Service = pool.get('isp.service')
        request = Request.__table__()
        rows = Union(*(Select([Literal(i).as_('id'),
                        Literal(state).as_('state'),
                        Literal(waiting).as_('waiting_for')])
                for i, state, waiting in cls.ROWS), all_=True)
        routers = _routers()
        router_where = None
        if routers:
            # as the rule of isp.request (security/rules.xml)
            service, other = Service.__table__(), Service.__table__()
            router_where = (
                request.service.in_(service.select(service.id,
                        where=service.router.in_(routers)))
                | ((request.service == Null)
                    & request.customer.in_(other.select(other.customer,
                            where=other.router.in_(routers)))))
        one = Literal(1)
        counts = request.select(
            request.state.as_('state'),
            *(Count(Case((request.kind == kind, one))).as_(kind)
                for kind in ['request', 'feedback', 'complaint', 'inquiry']),
            Count(one).as_('total'),
            Min(request.date).as_('oldest'),
            where=_and(request.state != 'closed', router_where),
            group_by=[request.state])
        join = rows.join(counts, 'LEFT', condition=counts.state == rows.state)
        zero = Literal(0)
        return join.select(
            rows.id.as_('id'),
            rows.state.as_('state'),
            rows.waiting_for.as_('waiting_for'),
            *(Coalesce(getattr(counts, kind), zero).as_(kind)
                for kind in ['request', 'feedback', 'complaint', 'inquiry']),
            Coalesce(counts.total, zero).as_('total'),
            counts.oldest.as_('oldest'))


class User(metaclass=PoolMeta):
    __name__ = 'res.user'

    @classmethod
    def _get_preferences(cls, user, context_only=False):
        """Open the dashboard at login for ISP staff who chose no action of
        their own: the board with revenue for the groups that may read it,
        the one without for the others"""
        result = super()._get_preferences(user, context_only=context_only)
        if context_only or 'actions' not in result:
            return result
        action = dashboard_action(user)
        if action is None:
            return result
        pool = Pool()
        ModelData = pool.get('ir.model.data')
        wizard = ModelData.get_id('ir', 'act_module_config_wizard')
        own = [a for a in user.actions if a.id != wizard]
        if not own and action not in result['actions']:
            result['actions'] = list(result['actions']) + [action]
        return result


#: groups that see the board with the revenue chart
REVENUE_GROUPS = ['group_isp_admin', 'group_isp_accountant', 'group_isp_viewer']
STAFF_GROUPS = ['group_isp_cashier', 'group_isp_technician',
    'group_isp_support']


def dashboard_action(user):
    "The ir.action id of the user's dashboard (None: not ISP staff)"
    pool = Pool()
    ModelData = pool.get('ir.model.data')
    Action = pool.get('ir.action')
    groups = {g.id for g in user.groups}

    def ids(names):
        return {ModelData.get_id('isp_billing', n) for n in names}
    if groups & ids(REVENUE_GROUPS):
        xml_id = 'act_dashboard'
    elif groups & ids(STAFF_GROUPS):
        xml_id = 'act_dashboard_staff'
    else:
        return None
    return Action.get_action_id(ModelData.get_id('isp_billing', xml_id))
