"""Load the demo ISP into a database: python -m isp_billing.demo.

Idempotent: every record is looked up by a natural key first, so running it
again changes nothing. The routers point at the routeros_sim instances that
`make run` starts on 127.0.0.1, by default ports 18728 (RouterOS 7.18) and
18738 (6.33); --router-ports NORTH,SOUTH moves them (an existing demo router
is moved to the given port).
"""
import argparse
import datetime as dt
from decimal import Decimal

#: staff users: login, password, name, ISP group, other Tryton groups
STAFF = [
    ('isp_admin', 'isp-admin-demo', 'ISP Administrator', 'group_isp_admin',
        ['party.group_party_admin', 'product.group_product_admin',
            'account.group_account', 'account.group_account_admin',
            'res.group_admin']),
    # the cashier works from ISP Billing only: no Financial menu
    ('cashier', 'cashier-demo-2026', 'Cashier', 'group_isp_cashier', []),
    ('accountant', 'accountant-demo-2026', 'Accountant',
        'group_isp_accountant',
        ['account.group_account', 'account.group_account_admin']),
    ('technician', 'technician-demo-2026', 'Technician',
        'group_isp_technician', []),
    ('support', 'support-demo-2026', 'Support', 'group_isp_support', []),
    ('viewer', 'viewer-demo-2026', 'Viewer', 'group_isp_viewer', []),
    ]
#: the names of the ISP groups (security/groups.xml), for the logins list
GROUP_NAMES = {
    'group_isp_admin': 'ISP Administrator',
    'group_isp_cashier': 'ISP Cashier',
    'group_isp_accountant': 'ISP Accountant',
    'group_isp_technician': 'ISP Technician',
    'group_isp_support': 'ISP Support',
    'group_isp_viewer': 'ISP Viewer',
    }
ADMIN = ('admin', 'admin-isp-demo')
#: the ISP's bank account, printed on its bills
DEMO_IBAN = 'DE89370400440532013000'

PLANS = [
    # name, kind, down, up kbit/s, duration, unit, price, shared users
    ('Hotspot Day Pass', 'hotspot', 4000, 2000, 1, 'day', '1.00', 1),
    ('Home 10M', 'hotspot', 10000, 5000, 1, 'month', '20.00', 2),
    ('Fibre 50M', 'pppoe', 50000, 20000, 1, 'month', '45.00', 1),
    ]
ROUTERS = [
    # name, default port, RouterOS version
    ('Tower North', 18728, '7.18'),
    ('Tower South', 18738, '6.33'),
    ]
ROUTER_HOST = '127.0.0.1'
ROUTER_USER, ROUTER_PASSWORD = 'admin', 'demo-router'
CUSTOMERS = [
    'Amina Njoroge', 'Brian Otieno', 'Carmen Ruiz', 'David Mensah',
    'Esther Wanjiru', 'Farid Haddad', 'Grace Achieng', 'Hassan Ali',
    'Irene Mwangi', 'James Kariuki', 'Kofi Boateng', 'Lina Park',
    'Mohamed Yusuf', 'Nadia Benali', 'Omar Diallo', 'Priya Nair',
    'Quentin Moreau', 'Rosa Lima', 'Samuel Kiptoo', 'Tariq Aziz',
    'Ursula Brandt', 'Victor Chege', 'Wanjiku Kamau', 'Xavier Dube',
    'Yasmin Saleh', 'Zawadi Mutua', 'Green Valley School',
    'Lakeside Clinic', 'Sunrise Hotel', 'Harbor Logistics Ltd',
    ]
#: customers with a portal login: name, email (login), password
PORTAL_CUSTOMERS = [
    ('Amina Njoroge', 'amina@example.com', 'amina-portal-2026'),
    ('Brian Otieno', 'brian@example.com', 'brian-portal-2026'),
    ]
#: state of the n-th customer's service, cycling
STATES = ['active'] * 5 + ['expired', 'active', 'suspended', 'draft',
    'cancelled']


def load(config_file, database, router_ports=None):
    """Load the demo; router_ports: the simulators' ports, in ROUTERS order
    (default: the ports of ROUTERS)"""
    router_ports = list(router_ports or [port for _, port, _ in ROUTERS])
    assert len(router_ports) == len(ROUTERS)
    from proteus import Model, config as pconfig

    # first: trytond picks its database backend from the configuration
    # when trytond.backend is imported (the test tools below import it)
    config = pconfig.set_trytond(database, config_file=config_file)
    from trytond.modules.account.tests.tools import (
        create_chart, create_fiscalyear, get_accounts)
    from trytond.modules.account_invoice.tests.tools import (
        set_fiscalyear_invoice_sequences)
    from trytond.modules.company.tests.tools import create_company
    Company = Model.get('company.company')
    Party = Model.get('party.party')
    Currency = Model.get('currency.currency')
    User = Model.get('res.user')
    ModelData = Model.get('ir.model.data')

    # company and currency
    if not Company.find([]):
        currency, = Currency.find([('code', '=', 'USD')]) or [None]
        if currency is None:
            currency = Currency(name='US Dollar', code='USD', symbol='$',
                rounding=Decimal('0.01'), digits=2)
            currency.save()
        party = Party(name='Demo Wireless ISP')
        party.save()
        create_company(party=party, currency=currency)
        print('demo: company created')
    company, = Company.find([])
    admin, = User.find([('login', '=', 'admin')])
    config._context = User.get_preferences(True, {})

    # chart of accounts, fiscal year, payment methods
    Account = Model.get('account.account')
    if not Account.find([('company', '=', company.id)]):
        create_chart(company)
        print('demo: chart of accounts created')
    accounts = get_accounts(company)
    FiscalYear = Model.get('account.fiscalyear')
    today = dt.date.today()
    if not FiscalYear.find([('start_date', '<=', today),
                ('end_date', '>=', today)]):
        fiscalyear = set_fiscalyear_invoice_sequences(create_fiscalyear(
                company, today=(dt.date(today.year, 1, 1),
                    dt.date(today.year, 12, 31))))
        fiscalyear.click('create_period')
    Journal = Model.get('account.journal')
    PaymentMethod = Model.get('account.invoice.payment.method')
    cash_journal, = Journal.find([('type', '=', 'cash')], limit=1)
    for name in ['Cash', 'Bank Transfer', 'Mobile Money']:
        if not PaymentMethod.find([('name', '=', name)]):
            journal = cash_journal
            if name != 'Cash':
                journal, = Journal.find([('name', '=', name)]) or [None]
                if journal is None:
                    journal = Journal(name=name, type='cash',
                        code=name[:3].upper())
                    journal.save()
            PaymentMethod(name=name, journal=journal,
                credit_account=accounts['cash'],
                debit_account=accounts['cash']).save()

    # the ISP's bank account: printed on every bill (a payment mean rule)
    # and the statement journal its bank files are imported into
    demo_bank_account(company, accounts)

    # plans
    Category = Model.get('product.category')
    Uom = Model.get('product.uom')
    Template = Model.get('product.template')
    category, = Category.find([('name', '=', 'Internet Service')]) or [None]
    if category is None:
        category = Category(name='Internet Service', accounting=True)
        category.account_revenue = accounts['revenue']
        category.account_expense = accounts['expense']
        category.save()
    unit, = Uom.find([('name', '=', 'Unit')])
    plans = {}
    for name, kind, down, up, duration, unit_, price, shared in PLANS:
        template, = Template.find([('name', '=', name)]) or [None]
        if template is None:
            template = Template(name=name, type='service', default_uom=unit,
                list_price=Decimal(price), account_category=category,
                isp_plan=True, plan_kind=kind, download_rate=down,
                upload_rate=up, plan_duration=duration,
                plan_duration_unit=unit_, shared_users=shared)
            template.save()
        plans[name] = template.products[0]

    # routers
    Router = Model.get('isp.router')
    routers = []
    moved = 0
    for (name, _, version), port in zip(ROUTERS, router_ports):
        router, = Router.find([('name', '=', name)]) or [None]
        if router is None:
            router = Router(name=name, host=ROUTER_HOST, port=port,
                username=ROUTER_USER, password=ROUTER_PASSWORD,
                routeros_version=version, login_method='auto')
            router.save()
        elif (router.host, router.port) != (ROUTER_HOST, port):
            # make run on other ports: the simulator moved, follow it
            router.host, router.port = ROUTER_HOST, port
            router.save()
            print(f'demo: {name} now at {ROUTER_HOST}:{port}')
            moved += 1
        routers.append(router)

    # staff
    Group = Model.get('res.group')
    for login, password, name, isp_group, others in STAFF:
        if User.find([('login', '=', login)]):
            continue
        user = User(name=name, login=login)
        user.password = password
        for xml_id in [f'isp_billing.{isp_group}'] + others:
            module, fs_id = xml_id.split('.')
            user.groups.append(
                Group(ModelData.get_id(module, fs_id, config.context)))
        user.companies.append(Company(company.id))
        user.company = Company(company.id)
        user.save()
    technician, = User.find([('login', '=', 'technician')])
    north = Router(routers[0].id)
    if technician not in north.users:
        north.users.append(User(technician.id))
        north.save()

    # customers and services in every state
    Service = Model.get('isp.service')
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    plan_cycle = [plans['Home 10M'], plans['Fibre 50M'],
        plans['Hotspot Day Pass']]
    created = 0
    to_expire = []
    for n, name in enumerate(CUSTOMERS):
        if Party.find([('name', '=', name), ('isp_customer', '=', True)]):
            continue
        customer = Party(name=name, isp_customer=True,
            isp_customer_type='organization' if n >= 26 else 'individual')
        login = name.split()[0].lower() + str(n + 1)
        # what customers say at the counter: a phone number, an email
        customer.contact_mechanisms.new(
            type='phone', value=f'+255 712 000 {n + 1:03d}')
        customer.contact_mechanisms.new(
            type='email', value=f'{login}@example.com')
        customer.save()
        plan = plan_cycle[n % 3]
        router = routers[n % 2]
        service = Service(customer=customer, plan=plan, router=router,
            kind=plan.template.plan_kind, login=login,
            password=f'pw{n + 1:03d}-{login[:3]}')
        service.save()
        state = STATES[n % len(STATES)]
        if state == 'draft':
            created += 1
            continue
        days = {'active': 10 + n, 'expired': -3, 'suspended': 12,
            'cancelled': -40}[state]
        seed_paid_time(database, config.context, service.id,
            now + dt.timedelta(days=days))
        service.reload()
        if state == 'expired':
            to_expire.append(service.id)
        elif state == 'suspended':
            service.click('suspend')
        elif state == 'cancelled':
            service.click('cancel')
        created += 1
    # the cashier's usual method is proposed by Register Payment
    Configuration = Model.get('isp.configuration')
    configuration = Configuration(1)
    if not configuration.default_payment_method:
        configuration.default_payment_method, = PaymentMethod.find(
            [('name', '=', 'Cash')])
        configuration.save()
    # the company is set up: skip the module configuration wizard
    WizardItem = Model.get('ir.module.config_wizard.item')
    items = WizardItem.find([('state', '!=', 'done')])
    for item in items:
        item.state = 'done'
    WizardItem.save(items)

    if to_expire:
        # expiry is a scheduled action, not a client button: run it here
        from trytond.pool import Pool
        from trytond.transaction import Transaction
        with Transaction().start(database, 0, context=config.context):
            ServiceModel = Pool().get('isp.service')
            ServiceModel.expire(ServiceModel.browse(to_expire))
    paid = history(Service)
    billed = unpaid_bill(Service)
    readings = usage_and_status(database, config.context)
    if message_and_banner(database, config.context):
        print('demo: login banner set, a message sent to the customers')
    if portal_users(database, config.context):
        print(f'demo: {len(PORTAL_CUSTOMERS)} customers can log in to the '
            'portal')
    if created:
        print(f'demo: {created} customers with services created')
    elif not moved:
        print('demo: already loaded, nothing changed')
    if paid:
        print(f'demo: {paid} counter payments and extensions registered')
    if billed:
        print('demo: a renewal bill left unpaid (the dashboard lists it)')
    if readings:
        print(f'demo: usage of {readings} services over 3 months, '
            'router status read')


def demo_bank_account(company, accounts):
    """The company's bank account (IBAN DEMO_IBAN), its payment mean rule
    and the Bank statement journal (Import Statement finds it by IBAN)"""
    from proteus import Model
    Party = Model.get('party.party')
    Bank = Model.get('bank')
    BankAccount = Model.get('bank.account')
    MeanRule = Model.get('account.invoice.payment.mean.rule')
    Journal = Model.get('account.journal')
    StatementJournal = Model.get('account.statement.journal')
    account, = BankAccount.find(
        [('numbers.number_compact', '=', DEMO_IBAN)]) or [None]
    if account is None:
        bank_party = Party(name='Demo Bank')
        bank_party.save()
        bank = Bank(party=bank_party, bic='COBADEFFXXX')
        bank.save()
        account = BankAccount(bank=bank, currency=company.currency,
            owners=[Party(company.party.id)])
        account.numbers.new(type='iban', number=DEMO_IBAN)
        account.save()
    instrument = 'bank.account,%s' % account.id
    if not MeanRule.find([('instrument', '=', instrument)]):
        MeanRule(instrument=account).save()
    if not StatementJournal.find([('bank_account', '=', account.id)]):
        journal, = Journal.find([('code', '=', 'STA')], limit=1)
        # number_of_lines: a bank file with unknown payments can be
        # validated; it is posted once the accountant dealt with them
        StatementJournal(name='Bank', journal=journal,
            account=accounts['cash'], bank_account=account,
            currency=company.currency, validation='number_of_lines').save()
    return account


def usage_and_status(database, context):
    """Demo history for the Usage and Router Status lists: three months of
    traffic per active service (as the usage collection would have
    accumulated it) and a status reading of each router, polled from the
    routers when they answer. Only on a demo that has no usage yet."""
    from trytond.pool import Pool
    from trytond.transaction import Transaction
    with Transaction().start(database, 0, context=context):
        pool = Pool()
        Service = pool.get('isp.service')
        Usage = pool.get('isp.usage')
        Router = pool.get('isp.router')
        if Usage.search([], limit=1):
            return 0
        month = dt.date.today().replace(day=1)
        months = [month]
        for _ in range(2):
            months.append((months[-1] - dt.timedelta(days=1)).replace(day=1))
        services = Service.search([('state', '=', 'active')],
            order=[('id', 'ASC')])
        Usage.create([{
                    'service': s.id, 'month': m,
                    'bytes_in': (n + 1) * (i + 2) * 150_000_000,
                    'bytes_out': (n + 1) * (i + 2) * 1_900_000_000,
                    } for n, s in enumerate(services)
                for i, m in enumerate(months)])
        # a router that does not answer is recorded offline
        Router._refresh_status(Router.search([]))
        return len(services)


def message_and_banner(database, context):
    """A login banner and one message sent to every customer's portal
    (Messages, Login Banner). Only on a demo that has no message yet."""
    from trytond.pool import Pool
    from trytond.transaction import Transaction
    from trytond.worker import run_task
    with Transaction().start(database, 0, context=context) as transaction:
        pool = Pool()
        Message = pool.get('isp.message')
        Banner = pool.get('isp.banner')
        if Message.search([], limit=1):
            return False
        if not Banner.search([], limit=1):
            Banner.create([{'name': 'Welcome',
                        'text': 'Demo Wireless ISP: planned maintenance '
                        'on Sunday 02:00-03:00. Thank you for your '
                        'patience.'}])
        message, = Message.create([{
                    'subject': 'New Fibre 50M plan',
                    'body': 'Dear customer, Fibre 50M is now available '
                    'in your area. Ask us at the counter.',
                    'target': 'all', 'channel_email': False,
                    'channel_portal': True, 'channel_sms': False}])
        Message.send([message])
        tasks = list(transaction.tasks)
    for task_id in tasks:       # as trytond does after a request's commit
        run_task(database, task_id)
    return True
def portal_users(database, context):
    """Portal logins for PORTAL_CUSTOMERS (their email becomes their
    contact address) and an open request of the first one. Only once."""
    from trytond.pool import Pool
    from trytond.transaction import Transaction
    with Transaction().start(database, 0, context=context):
        pool = Pool()
        Party = pool.get('party.party')
        WebUser = pool.get('web.user')
        Mechanism = pool.get('party.contact_mechanism')
        Request = pool.get('isp.request')
        if WebUser.search([('email', '=', PORTAL_CUSTOMERS[0][1])]):
            return False
        for n, (name, email, password) in enumerate(PORTAL_CUSTOMERS):
            party, = Party.search([('name', '=', name),
                    ('isp_customer', '=', True)])
            if not party.email:
                Mechanism.create([{'party': party.id, 'type': 'email',
                            'value': email}])
            WebUser.create([{'email': email, 'password': password,
                        'party': party.id, 'email_valid': True}])
            if n == 0:
                Request.submit(party, 'inquiry', "Faster plan?",
                    "Can I move to fibre without losing my paid days?",
                    service=party.isp_services[0])
        return True


def seed_paid_time(database, context, service_id, paid_until):
    """Demo history: the service was paid until paid_until and activated.
    Written as root (user 0): staff cannot write paid time, only payments,
    extensions and corrections change it."""
    from trytond.pool import Pool
    from trytond.transaction import Transaction
    with Transaction().start(database, 0, context=context):
        Service = Pool().get('isp.service')
        service = Service(service_id)
        Service.write([service], {'paid_until': paid_until})
        Service._activate([service])


def history(Service):
    """A little history for the Service Payments and Extensions lists:
    counter payments and a free trial extension, through the same wizards
    the staff use. Only on a demo that has none yet."""
    from proteus import Model, Wizard
    Payment = Model.get('isp.service.payment')
    PaymentMethod = Model.get('account.invoice.payment.method')
    if Payment.find([], limit=1):
        return 0
    cash, = PaymentMethod.find([('name', '=', 'Cash')])
    mobile, = PaymentMethod.find([('name', '=', 'Mobile Money')])
    active = Service.find([('state', '=', 'active')], order=[('id', 'ASC')])
    done = 0
    for n, service in enumerate(active[:4]):
        pay = Wizard('isp.service.register_payment', [service])
        pay.form.periods = 1 + n % 2
        pay.form.payment_method = cash if n % 2 else mobile
        pay.form.reference = f'DEMO-{n + 1:03d}'
        pay.execute('pay')
        done += 1
    for service, reason in zip(active[4:6], ['trial', 'compensation']):
        extend = Wizard('isp.service.extend', [service])
        extend.form.days = 3
        extend.form.reason = reason
        extend.form.note = "Demo: %s" % reason
        extend.execute('extend')
        done += 1
    return done


def unpaid_bill(Service):
    """A bill waiting for its bank transfer (Bill Only), for the dashboard's
    unpaid bills list. Only on a demo that has none yet."""
    from proteus import Model, Wizard
    Invoice = Model.get('account.invoice')
    PaymentMethod = Model.get('account.invoice.payment.method')
    if Invoice.find([('state', '=', 'posted'), ('type', '=', 'out')],
            limit=1):
        return 0
    active = Service.find([('state', '=', 'active')], order=[('id', 'DESC')])
    if not active:
        return 0
    bill = Wizard('isp.service.register_payment', [active[0]])
    bill.form.periods = 1
    bill.form.payment_method, = PaymentMethod.find([('name', '=', 'Cash')])
    bill.form.reference = 'DEMO-BANK'
    bill.execute('bill')
    return 1


def logins():
    lines = [f'    {ADMIN[0]:12} {ADMIN[1]:22} (Tryton administrator)']
    for login, password, _, group, _ in STAFF:
        lines.append(f'    {login:12} {password:22} ({GROUP_NAMES[group]})')
    return '\n'.join(lines)


def portal_logins():
    return '\n'.join(f'    {email:20} {password:22} ({name})'
        for name, email, password in PORTAL_CUSTOMERS)


def router_ports_arg(value):
    try:
        ports = [int(p) for p in value.split(',')]
    except ValueError:
        ports = []
    if len(ports) != len(ROUTERS) or not all(
            0 < p < 65536 for p in ports) or len(set(ports)) != len(ports):
        raise argparse.ArgumentTypeError(
            f'{len(ROUTERS)} different TCP ports separated by a comma '
            f'expected, not {value!r}')
    return ports


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--config')
    parser.add_argument('--database')
    parser.add_argument('--router-ports', metavar='NORTH,SOUTH',
        type=router_ports_arg,
        help="ports of the simulated routers (default: %s)" % ','.join(
            str(port) for _, port, _ in ROUTERS))
    parser.add_argument('--logins', action='store_true',
        help="print the demo logins and exit")
    parser.add_argument('--portal-logins', action='store_true',
        help="print the demo customers' portal logins and exit")
    args = parser.parse_args()
    if args.logins:
        print(logins())
        return
    if args.portal_logins:
        print(portal_logins())
        return
    if not (args.config and args.database):
        parser.error('--config and --database are required')
    load(args.config, args.database, args.router_ports)


if __name__ == '__main__':
    main()
