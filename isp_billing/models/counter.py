"""The keys a cashier types at the counter.

A customer says a name, a phone number, an email, their ISP code, a login
or the number of an invoice: the global search, every customer and service
many2one and the Counter wizard (wizards/counter.py) find them all, because
Party.search_rec_name and Service.search_rec_name build their domains here.
"""
import re

from trytond.pool import Pool
from trytond.transaction import Transaction, without_check_access

#: models the web client's global search looks into
GLOBAL_SEARCH_MODELS = {'party.party', 'isp.service'}


def enable_global_search(model):
    """Tick "Global Search" on the model at module update: the global search
    box of the web client finds customers and services by the counter keys.
    """
    if model not in GLOBAL_SEARCH_MODELS:
        return
    IrModel = Pool().get('ir.model')
    table = IrModel.__table__()
    cursor = Transaction().connection.cursor()
    cursor.execute(*table.update(
            [table.global_search_p], [True],
            where=table.name == model))


def _negative(operator):
    return operator.startswith('!') or operator.startswith('not ')


def _phone_digits(operand):
    """The significant digits of a typed phone number ('0712 345 678' ->
    '712345678'), so that it matches the stored international form; None
    when the text is not a phone number."""
    if not isinstance(operand, str):
        return None
    text = operand.strip('%')
    if not text or not re.fullmatch(r'[\d\s+().-]+', text):
        return None
    digits = re.sub(r'\D', '', text).lstrip('0')
    return digits if len(digits) >= 6 else None


def _invoice_parties(operator, operand, extra):
    "SQL: the parties of the invoices whose number matches"
    Invoice = Pool().get('account.invoice')
    invoice = Invoice.__table__()
    with without_check_access():
        ids = Invoice.search(
            [('number', operator, operand, *extra)], query=True, order=[])
    return invoice.select(invoice.party, where=invoice.id.in_(ids))


def customer_key_domain(domain, clause):
    "Add the ISP keys to the domain of party.party search_rec_name"
    _, operator, operand, *extra = clause
    if _negative(operator):
        return domain + [('isp_code', operator, operand, *extra)]
    domain = domain + [
        ('isp_code', operator, operand, *extra),
        ('isp_services.login', operator, operand, *extra),
        ]
    if operator in {'like', 'ilike', '='} and operand:
        domain.append(
            ('id', 'in', _invoice_parties(operator, operand, extra)))
    digits = _phone_digits(operand) if operator.endswith('like') else None
    if digits:
        domain.append(('contact_mechanisms.value_compact', 'like',
                f'%{digits}%'))
    return domain


def service_key_domain(clause):
    """The domain of isp.service search_rec_name: its login, its customer's
    name, codes, phones and emails, the number of an invoice that bought it.
    Another service's login does not find this one."""
    _, operator, operand, *extra = clause
    if _negative(operator):
        return ['AND',
            ('login', operator, operand, *extra),
            ('customer.rec_name', operator, operand, *extra),
            ]
    domain = ['OR',
        ('login', operator, operand, *extra),
        ('customer.name', operator, operand, *extra),
        ('customer.code', operator, operand, *extra),
        ('customer.isp_code', operator, operand, *extra),
        ('customer.contact_mechanisms.value', operator, operand, *extra),
        ('customer.contact_mechanisms.value_compact',
            operator, operand, *extra),
        ]
    if operator in {'like', 'ilike', '='} and operand:
        domain.append(('id', 'in', _invoice_services(operator, operand, extra)))
    digits = _phone_digits(operand) if operator.endswith('like') else None
    if digits:
        domain.append(('customer.contact_mechanisms.value_compact', 'like',
                f'%{digits}%'))
    return domain


def _invoice_services(operator, operand, extra):
    "SQL: the services bought by the invoices whose number matches"
    pool = Pool()
    Invoice = pool.get('account.invoice')
    Line = pool.get('account.invoice.line')
    line = Line.__table__()
    with without_check_access():
        ids = Invoice.search(
            [('number', operator, operand, *extra)], query=True, order=[])
    return line.select(line.isp_service,
        where=line.invoice.in_(ids) & (line.isp_service != None))  # noqa: E711


def renewal_defaults(services):
    """What Register Payment and the Counter propose for services: one
    period of their plan, the usual payment method, the full price."""
    pool = Pool()
    Service = pool.get('isp.service')
    Configuration = pool.get('isp.configuration')
    configuration = Configuration(1)
    services = [s for s in services if s.state != 'cancelled']
    values = {
        'periods': 1,
        'allow_discount': bool(configuration.allow_discount),
        'receipt': configuration.receipt_layout or 'a4',
        }
    if not services:
        return values
    company = services[0].company
    values['company'] = company.id
    values['currency'] = company.currency.id
    values['customer'] = services[0].customer.id
    plans = {s.renewal_plan for s in services}
    values['plan'] = plans.pop().id if len(plans) == 1 else None
    kinds = {s.kind for s in services}
    values['kind'] = kinds.pop() if len(kinds) == 1 else None
    values['price'] = values['amount'] = Service.taxed_total(services, 1)
    method = configuration.default_payment_method
    if method and method.company == company:
        values['payment_method'] = method.id
    return values


def total_summary(periods, total, currency):
    "The sentence the wizards show above Pay: what the customer pays"
    from trytond.i18n import gettext
    lang = Pool().get('ir.lang').get()
    amount = (lang.currency(total, currency) if currency
        else lang.format('%.2f', total, grouping=True))
    if periods == 1:
        return gettext('isp_billing.msg_counter_total_one', total=amount)
    return gettext('isp_billing.msg_counter_total',
        periods=periods or 0, total=amount)


def renewal_payments(invoice):
    "The payment records a paid renewal invoice made (one per service)"
    Payment = Pool().get('isp.service.payment')
    with without_check_access():
        return Payment.search([('invoice', '=', invoice.id)],
            order=[('id', 'ASC')])
