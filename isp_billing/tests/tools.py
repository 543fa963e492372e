"""What the tests of the module share: records to start from, a test case
on a database with the module activated, and acting as a staff user."""
from contextlib import contextmanager

from trytond.pool import Pool
from trytond.tests.test_tryton import (
    DB_NAME, TestCase, activate_module, drop_db)
from trytond.transaction import Transaction, TransactionError, check_access


class IspTestCase(TestCase):
    """A database with isp_billing activated, dropped at the end.

    Only test_module.IspBillingTestCase is a ModuleTestCase: Tryton's
    generic module checks run once, not once per test class."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        drop_db()
        activate_module(['isp_billing'])

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        drop_db()


def committed(function, user=1, context=None, database=DB_NAME, tasks=None):
    """Run function in a transaction of its own and commit it, restarted
    as trytond's dispatcher does when it asks for locks; return its result.
    The tasks it queued are left out (run them where they matter), or
    added to the list ``tasks``."""
    extras = {}
    while True:
        with Transaction().start(database, user, context=context,
                **extras) as transaction:
            try:
                result = function()
            except TransactionError as error:
                transaction.rollback()
                transaction.tasks.clear()
                error.fix(extras)
                continue
            transaction.commit()
            if tasks is not None:
                tasks.extend(transaction.tasks)
            transaction.tasks.clear()
            return result


@contextmanager
def as_user(user):
    "Act as a staff user the way the RPC layer does: access checks on"
    with Transaction().set_user(user.id), \
            Transaction().set_context(company=user.company.id,
                companies=[user.company.id]), \
            check_access():
        yield


def create_plan(name='Home 10M', kind='hotspot', price=20):
    pool = Pool()
    Template = pool.get('product.template')
    Uom = pool.get('product.uom')
    unit, = Uom.search([('name', '=', 'Unit')])
    template, = Template.create([{
                'name': name, 'type': 'service', 'default_uom': unit.id,
                'list_price': price, 'isp_plan': True, 'plan_kind': kind,
                'download_rate': 10000, 'upload_rate': 5000,
                'plan_duration': 1, 'plan_duration_unit': 'month',
                'products': [('create', [{}])],
                }])
    return template


def create_router(name='R1', port=8728, **values):
    Router = Pool().get('isp.router')
    values = dict(dict(name=name, host='127.0.0.1', port=port,
            username='admin', password='secret'), **values)
    router, = Router.create([values])
    return router


def create_customer(name='Alice'):
    Party = Pool().get('party.party')
    party, = Party.create([{'name': name, 'isp_customer': True,
                'isp_customer_type': 'individual'}])
    return party


def create_service(customer, plan, router, login='alice', **values):
    Service = Pool().get('isp.service')
    service, = Service.create([dict(
                customer=customer.id, plan=plan.products[0].id,
                router=router.id, kind=plan.plan_kind, login=login,
                password='Pass-123', **values)])
    return service


def create_staff(login, group_xml_id, company=None, groups=()):
    """A staff user of the ISP group; of company (its current one too) and
    in the other groups (ids) when given"""
    pool = Pool()
    User = pool.get('res.user')
    ModelData = pool.get('ir.model.data')
    group_id = ModelData.get_id('isp_billing', group_xml_id)
    values = {'name': login, 'login': login,
        'groups': [('add', [group_id, *groups])]}
    if company:
        values.update(companies=[('add', [company.id])], company=company.id)
    user, = User.create([values])
    return user
