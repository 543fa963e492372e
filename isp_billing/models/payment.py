"""The pre-paid cycle: renewal invoices, counter payments, the payment
history of a service, and the expiry sweep.

Business rules live here (model methods); the wizards only collect input.
Routers are never called: writing ``paid_until``/``state`` on the service is
enough, the service's own hooks enqueue the router sync after commit.
"""
import datetime as dt
from zoneinfo import ZoneInfo
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal

from trytond.i18n import gettext
from trytond.model import ModelSQL, ModelView, fields
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Eval
from trytond.transaction import Transaction, without_check_access

from ..payment_exceptions import PaymentError, PaymentRecordError


def utcnow():
    "Naive UTC now, as Tryton stores timestamps"
    return dt.datetime.now(dt.timezone.utc).replace(
        tzinfo=None, microsecond=0)


def period_days(template):
    "Approximate length in days of one period of the plan (a month is 30)"
    unit = 30 if template.plan_duration_unit == 'month' else 1
    return (template.plan_duration or 1) * unit


def company_timezone(company):
    "The company's time zone name (UTC when it has none)"
    return (company.timezone if company and company.timezone else 'UTC')


def fmt_ts(value, timezone='UTC'):
    """A stored (naive UTC) timestamp as the company reads it: in its time
    zone, to the minute"""
    if not value:
        return '-'
    if timezone != 'UTC':
        value = value.replace(tzinfo=dt.timezone.utc).astimezone(
            ZoneInfo(timezone))
    return value.strftime('%Y-%m-%d %H:%M')


class Configuration(metaclass=PoolMeta):
    __name__ = 'isp.configuration'

    allow_discount = fields.Boolean(
        "Allow Discounts",
        help="If checked, the cashier may take less than the plan price "
        "when registering a payment; the difference is a discount line.")

    default_payment_method = fields.Many2One(
        'account.invoice.payment.method', "Default Payment Method",
        help="Proposed by Register Payment, so the usual case is one click "
        "for the cashier.")

    @classmethod
    def default_allow_discount(cls):
        return False


class Cron(metaclass=PoolMeta):
    __name__ = 'ir.cron'

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.method.selection.append(
            ('isp.service|expire_due', "Expire Services Past Paid Time"))


class Party(metaclass=PoolMeta):
    __name__ = 'party.party'

    isp_payments = fields.One2Many(
        'isp.service.payment', 'customer', "Service Payments", readonly=True,
        states={'invisible': ~Eval('isp_customer', False)})

    @classmethod
    def copy(cls, parties, default=None):
        default = default.copy() if default is not None else {}
        default.setdefault('isp_payments')
        return super().copy(parties, default=default)


class ServicePayment(ModelSQL, ModelView):
    "Service Payment"
    __name__ = 'isp.service.payment'

    service = fields.Many2One(
        'isp.service', "Service",
        context={'company': Eval('company', -1)}, depends={'company'}, required=True, readonly=True,
        ondelete='RESTRICT')
    customer = fields.Many2One(
        'party.party', "Customer",
        context={'company': Eval('company', -1)}, depends={'company'}, required=True, readonly=True,
        ondelete='RESTRICT')
    company = fields.Many2One(
        'company.company', "Company", required=True, readonly=True)
    date = fields.Timestamp("Date", required=True, readonly=True,
        help="When the payment was applied to the service.")
    invoice = fields.Many2One(
        'account.invoice', "Invoice",
        context={'company': Eval('company', -1)}, depends={'company'}, required=True, readonly=True,
        ondelete='RESTRICT')
    amount = fields.Numeric(
        "Amount", digits=(16, 2), required=True, readonly=True)
    currency = fields.Many2One(
        'currency.currency', "Currency", required=True, readonly=True)
    payment_method = fields.Many2One(
        'account.invoice.payment.method', "Payment Method",
        context={'company': Eval('company', -1)}, depends={'company'}, readonly=True)
    journal = fields.Many2One('account.journal', "Journal",
        context={'company': Eval('company', -1)}, depends={'company'}, readonly=True)
    plan = fields.Many2One('product.product', "Plan",
        context={'company': Eval('company', -1)}, depends={'company'}, readonly=True)
    periods = fields.Integer("Periods", readonly=True)
    days = fields.Integer("Days", readonly=True)
    period_start = fields.Timestamp("Period Start", readonly=True)
    period_end = fields.Timestamp("Period End", readonly=True)
    paid_until_before = fields.Timestamp("Paid Until Before", readonly=True)
    paid_until_after = fields.Timestamp("Paid Until After", readonly=True)
    user = fields.Many2One('res.user', "Registered By", readonly=True)
    reference = fields.Char("Reference", readonly=True)
    lines = fields.One2Many(
        'account.invoice.line', 'isp_payment', "Invoice Lines",
        readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [('date', 'DESC'), ('id', 'DESC')]

    def get_rec_name(self, name):
        return f'{self.invoice.rec_name} - {self.service.rec_name}'

    @classmethod
    def search_rec_name(cls, name, clause):
        return ['OR',
            ('invoice.rec_name',) + tuple(clause[1:]),
            ('service.rec_name',) + tuple(clause[1:]),
            ]

    @classmethod
    def check_modification(cls, mode, payments, values=None, external=False):
        super().check_modification(
            mode, payments, values=values, external=external)
        if mode == 'delete' or (mode == 'write' and external):
            raise PaymentRecordError(gettext(
                    'isp_billing.msg_payment_record_readonly'))


class Service(metaclass=PoolMeta):
    __name__ = 'isp.service'

    next_plan = fields.Many2One(
        'product.product', "Next Plan", ondelete='RESTRICT',
        domain=[
            ('template.isp_plan', '=', True),
            ('template.plan_kind', '=', Eval('kind')),
            ],
        context={'company': Eval('company', -1)}, depends={'company'},
        states={'readonly': Eval('state') == 'cancelled'},
        help="The plan the next renewal payment buys; "
        "empty: the current plan.")
    payments = fields.One2Many(
        'isp.service.payment', 'service', "Payments", readonly=True)
    invoice_lines = fields.One2Many(
        'account.invoice.line', 'isp_service', "Invoice Lines",
        readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._buttons.update({
                'register_payment': {
                    'invisible': Eval('state') == 'cancelled',
                    'icon': 'tryton-payment',
                    'depends': ['state'],
                    },
                })

    @classmethod
    def copy(cls, services, default=None):
        default = default.copy() if default is not None else {}
        default.setdefault('payments')
        default.setdefault('invoice_lines')
        default.setdefault('next_plan')
        return super().copy(services, default=default)

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
        return (price * days / period_days(plan.template)).quantize(
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
        Line = pool.get('account.invoice.line')
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

    # --- expiry ---

    #: services expired per workflow transition by the sweep
    _expire_chunk_size = 1000

    @classmethod
    def expire_due(cls, now=None):
        """Expire active services whose paid time plus plan grace passed.

        One search of the ids (a clause per distinct grace value), then the
        transition chunk by chunk (_expire_chunk_size services: one read and
        one write each), so 100,000 due services never make one giant list.
        Returns the services found due."""
        pool = Pool()
        Template = pool.get('product.template')
        if now is None:
            now = utcnow()
        template = Template.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*template.select(
                template.grace_hours,
                where=template.isp_plan == True,  # noqa: E712
                group_by=[template.grace_hours]))
        graces = sorted({g or 0 for g, in cursor})
        if not graces:
            return []
        clause = ['OR']
        for grace in graces:
            limit = now - dt.timedelta(hours=grace)
            if grace:
                grace_clause = ('plan.template.grace_hours', '=', grace)
            else:
                grace_clause = ['OR',
                    ('plan.template.grace_hours', '=', 0),
                    ('plan.template.grace_hours', '=', None),
                    ]
            clause.append([grace_clause, ('paid_until', '<', limit)])
        # the ids only: browsing every due service at once is quadratic
        query = cls.search([
                ('state', '=', 'active'),
                ('paid_until', '!=', None),
                clause,
                ], order=[('id', 'ASC')], query=True)
        cursor.execute(*query)
        ids = [i for i, in cursor]
        transaction = Transaction()
        Log = pool.get('ir.model.log')
        services, size = [], max(1, cls._expire_chunk_size)
        for i in range(0, len(ids), size):
            chunk = cls.browse(ids[i:i + size])
            cls.expire(chunk)
            services.extend(chunk)
            # the transition logs are saved at commit in one create, which
            # is quadratic in Tryton (browse of every new id): save them
            # chunk by chunk, in this same transaction
            if transaction.log_records:
                with without_check_access():
                    Log.save(transaction.log_records)
                transaction.log_records.clear()
        return services
