"""Shared setup of the payment scenarios (proteus)."""
from decimal import Decimal
from types import SimpleNamespace

from proteus import Model
from routeros_sim import RouterSim
from trytond.modules.account.tests.tools import (
    create_fiscalyear, get_accounts)
from trytond.modules.account_invoice.tests.tools import (
    set_fiscalyear_invoice_sequences)
from trytond.modules.company.tests.tools import get_company

from isp_billing.times import frozen_clock, utcnow  # noqa: F401 (scenarios)


def setup_payments(config):
    """Fiscal year, a plan category, plans, payment methods and a router
    served by an in-process RouterOS simulator (env.sim; stop it with
    env.sim.stop() at the end of the scenario)"""
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
    # a simulated RouterOS 7 router: the syncs queued after each commit
    # really reach it, and sim.rows() shows what the router holds
    sim = RouterSim(version='7.18', password='secret', port=0).start()
    router = Router(name="Tower A", host=sim.host, port=sim.port,
        username='admin', password='secret')
    router.save()
    return SimpleNamespace(company=company, fiscalyear=fiscalyear,
        accounts=accounts, category=category, home=home, fibre=fibre,
        daily=daily, cash=cash, mobile=mobile, router=router, plan=plan,
        sim=sim)


def router_user(env, service):
    """The hotspot user the router holds for the service (found by the
    comment the module writes on it), or None"""
    comment = 'isp-billing:%s' % service.id
    users = [u for u in env.sim.rows('/ip/hotspot/user')
        if u.get('comment') == comment]
    assert len(users) <= 1, users
    return users[0] if users else None


def router_state(env, service):
    """How the router sees the service's login: 'missing', 'enabled' or
    'disabled'"""
    user = router_user(env, service)
    if user is None:
        return 'missing'
    return 'disabled' if user.get('disabled') == 'true' else 'enabled'


def sessions(env, service):
    "The router's active hotspot sessions of the service's login"
    return [s for s in env.sim.rows('/ip/hotspot/active')
        if s.get('user') == service.login]


def run_tasks(config):
    """Run the queue tasks (router syncs) committed by a transaction
    started outside proteus, as proteus does after each call"""
    from trytond.transaction import Transaction
    from trytond.worker import run_task
    transaction = Transaction()
    while transaction.tasks:
        run_task(config.database_name, transaction.tasks.pop())


def new_service(env, name, login, plan=None):
    Party = Model.get('party.party')
    Service = Model.get('isp.service')
    customer = Party(name=name, isp_customer=True)
    customer.save()
    service = Service(customer=customer, plan=plan or env.home,
        router=env.router, login=login, password='Pass-123')
    service.save()
    return service


def run_expiry(config, now=None):
    "Run the expiry sweep as the cron would, at a given UTC moment (now)"
    from trytond.pool import Pool
    from trytond.transaction import Transaction
    with Transaction().start(config.database_name, 0,
            context={'_skip_warnings': True}) as transaction:
        Service = Pool().get('isp.service')
        expired = [s.id for s in Service.expire_due(now=now)]
        transaction.commit()
    run_tasks(config)
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
    run_tasks(config)


def set_paid_until(config, service_id, value):
    "Pretend the service's paid time ends at value (time travel)"
    from trytond.pool import Pool
    from trytond.transaction import Transaction
    with Transaction().start(config.database_name, 0) as transaction:
        Service = Pool().get('isp.service')
        Service.write([Service(service_id)], {'paid_until': value})
        transaction.commit()
    run_tasks(config)
