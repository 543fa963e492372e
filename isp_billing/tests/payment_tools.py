"""Shared setup of the payment scenarios (proteus)."""
import datetime as dt
from decimal import Decimal
from types import SimpleNamespace

from proteus import Model
from trytond.modules.account.tests.tools import (
    create_fiscalyear, get_accounts)
from trytond.modules.account_invoice.tests.tools import (
    set_fiscalyear_invoice_sequences)
from trytond.modules.company.tests.tools import get_company


def utcnow():
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def setup_payments(config):
    "Fiscal year, a plan category, two plans, a router and payment methods"
    Journal = Model.get('account.journal')
    PaymentMethod = Model.get('account.invoice.payment.method')
    ProductCategory = Model.get('product.category')
    Template = Model.get('product.template')
    Uom = Model.get('product.uom')
    Router = Model.get('isp.router')

    company = get_company()
    fiscalyear = set_fiscalyear_invoice_sequences(create_fiscalyear(company))
    fiscalyear.click('create_period')
    accounts = get_accounts(company)

    category = ProductCategory(name="Internet", accounting=True)
    category.account_revenue = accounts['revenue']
    category.account_expense = accounts['expense']
    category.save()
    unit, = Uom.find([('name', '=', 'Unit')])

    def plan(name, price, kind='hotspot', duration=1, unit_='month',
            grace=0):
        template = Template(name=name, default_uom=unit, isp_plan=True,
            account_category=category)
        template.list_price = Decimal(price)
        template.plan_kind = kind
        template.download_rate = 10000
        template.upload_rate = 5000
        template.plan_duration = duration
        template.plan_duration_unit = unit_
        template.grace_hours = grace
        template.save()
        return template.products[0]

    home = plan("Home 10M", '20')
    fibre = plan("Fibre 50M", '40')
    daily = plan("Day Pass", '1', duration=1, unit_='day', grace=2)

    journal_cash, = Journal.find([('type', '=', 'cash')])
    cash = PaymentMethod(name="Cash at the counter", journal=journal_cash,
        credit_account=accounts['cash'], debit_account=accounts['cash'])
    cash.save()
    mobile = PaymentMethod(name="Mobile money", journal=journal_cash,
        credit_account=accounts['cash'], debit_account=accounts['cash'])
    mobile.save()
    # nothing listens on port 1: the queued router syncs fail fast
    router = Router(name="Tower A", host='127.0.0.1', port=1,
        username='api', password='secret')
    router.save()
    return SimpleNamespace(company=company, fiscalyear=fiscalyear,
        accounts=accounts, category=category, home=home, fibre=fibre,
        daily=daily, cash=cash, mobile=mobile, router=router, plan=plan)


def new_service(env, name, login, plan=None):
    Party = Model.get('party.party')
    Service = Model.get('isp.service')
    customer = Party(name=name, isp_customer=True)
    customer.save()
    service = Service(customer=customer, plan=plan or env.home,
        router=env.router, login=login, password='Pass-123')
    service.save()
    return service


def run_expiry(config, now):
    "Run the expiry sweep as the cron would, at a given UTC moment"
    from trytond.pool import Pool
    from trytond.transaction import Transaction
    with Transaction().start(config.database_name, 0,
            context={'_skip_warnings': True}) as transaction:
        Service = Pool().get('isp.service')
        expired = [s.id for s in Service.expire_due(now=now)]
        transaction.commit()
    return expired


def shift_suspension(config, service_id, delta):
    "Pretend the service was suspended delta earlier (time travel)"
    from trytond.pool import Pool
    from trytond.transaction import Transaction
    with Transaction().start(config.database_name, 0) as transaction:
        Service = Pool().get('isp.service')
        service = Service(service_id)
        Service.write([service], {
                'suspended_at': service.suspended_at - delta})
        transaction.commit()
