"""The Extensions list: printable (HTML report), exportable (predefined
export), and the expiry sweep's logs."""
import datetime as dt
from contextlib import contextmanager
from decimal import Decimal
from unittest.mock import patch

from trytond.model.exceptions import AccessError
from trytond.modules.company.tests import create_company, set_company
from trytond.pool import Pool
from trytond.tests.test_tryton import with_transaction
from trytond.transaction import Transaction, check_access

from ..times import utcnow
from .tools import (
    IspTestCase, create_customer, create_plan, create_router, create_service,
    create_staff)

REPORT = 'isp.service.extension.report'


class ExtensionReportTestCase(IspTestCase):
    "Test the extensions report and export"

    def setup_extensions(self):
        "Two customers, three extensions (one paid), made by the admin"
        pool = Pool()
        Service = pool.get('isp.service')
        Extension = pool.get('isp.service.extension')
        company = create_company()
        self.company = company
        with set_company(company):
            plan = create_plan('Home 10M')
            router = create_router('Tower')
            alice = create_service(
                create_customer('Alice Example'), plan, router, login='alice')
            bob = create_service(
                create_customer('Bob Sample'), plan, router, login='bob')
            # with_transaction runs as user 1, the Administrator
            Service.extend([alice], 3, 'trial', note="Welcome")
            Service.extend([bob], 7, 'compensation', note="Outage 12 May")
            bob = Service(bob.id)
            paid = Extension.record(bob, bob.paid_until,
                bob.paid_until + dt.timedelta(days=30), 'paid', paid=True)
            paid.save()
        return Extension.search([], order=[('id', 'ASC')])

    def staff(self, group):
        User = Pool().get('res.user')
        user = create_staff('staff_' + group.split('_')[-1], group)
        User.write([user], {'companies': [('add', [self.company.id])],
                'company': self.company.id})
        return user

    @contextmanager
    def as_user(self, user):
        with Transaction().set_user(user.id), \
                Transaction().set_context(company=user.company.id,
                    companies=[user.company.id]), \
                check_access():
            yield

    @with_transaction()
    def test_report_lists_extensions_with_total(self):
        "The printed list names customers, days, reasons and the total"
        Report = Pool().get(REPORT, type='report')
        extensions = self.setup_extensions()
        with set_company(self.company):
            oext, content, direct_print, name = Report.execute(
                [e.id for e in extensions], {})
        self.assertEqual(oext, 'html')
        self.assertFalse(direct_print)
        self.assertTrue(name.startswith('Extensions'))
        for text in ['Alice Example', 'Bob Sample', 'alice @ Tower',
                'Home 10M', 'class="reason">Trial<',
                'class="reason">Compensation<', 'class="reason">Paid<',
                'Welcome', 'Outage 12 May', 'Administrator',
                '3.00', '7.00', '30.00',
                'Total (3 extensions)', '40.00']:
            self.assertIn(text, content)
        self.assertEqual(content.count('class="extension"'), 3)

    @with_transaction()
    def test_report_groups(self):
        "Viewers print the list; a cashier is refused; no record is sensible"
        pool = Pool()
        Report = pool.get(REPORT, type='report')
        ModelData = pool.get('ir.model.data')
        Keyword = pool.get('ir.action.keyword')
        extensions = self.setup_extensions()
        ids = [e.id for e in extensions]
        # the web client sends the id of the action it ran
        data = {'action_id': ModelData.get_id(
                'isp_billing', 'report_extension')}
        viewer = self.staff('group_isp_viewer')
        cashier = self.staff('group_isp_cashier')

        def print_actions():
            return [a['name'] for a in Keyword.get_keyword(
                    'form_print', ('isp.service.extension', -1))]
        with self.as_user(viewer):
            self.assertIn('Extensions', print_actions())
            oext, content, _, _ = Report.execute(ids[:1], data)
            self.assertIn('Alice Example', content)
            self.assertNotIn('Bob Sample', content)
            # nothing selected: an empty report that says so
            oext, content, _, _ = Report.execute([], data)
            self.assertEqual(oext, 'html')
            self.assertIn('No extensions selected.', content)
            self.assertNotIn('class="extension"', content)
            # a record that does not exist (deleted meanwhile)
            with self.assertRaises(AccessError):
                Report.execute([max(ids) + 1000], data)
        with self.as_user(cashier):
            self.assertNotIn('Extensions', print_actions())
            with self.assertRaises(AccessError):
                Report.execute(ids, data)

    @with_transaction()
    def test_predefined_export(self):
        "The predefined export exists for staff and exports the columns"
        pool = Pool()
        Export = pool.get('ir.export')
        Extension = pool.get('isp.service.extension')
        ModelData = pool.get('ir.model.data')
        extensions = self.setup_extensions()
        export = Export(ModelData.get_id('isp_billing', 'export_extension'))
        self.assertEqual(export.resource, 'isp.service.extension')
        self.assertEqual(export.records, 'listed')
        names = [line.name for line in export.export_fields]
        self.assertEqual(names[:7], ['date', 'customer', 'customer/isp_code',
                'service', 'plan', 'days', 'reason.translated'])
        for name in ['user', 'paid', 'paid_until_before',
                'paid_until_after', 'note']:
            self.assertIn(name, names)

        viewer = self.staff('group_isp_viewer')
        with self.as_user(viewer):
            found = Export.get('isp.service.extension', ['name'])
            self.assertIn(export.id, [e['id'] for e in found])
            records = Extension.browse([e.id for e in extensions])
            rows = Extension.export_data(records, names, header=True)
        header, *rows = rows
        self.assertEqual(
            header[:3], ['Date', 'Customer', 'Customer/ISP Customer Code'])
        self.assertEqual(len(rows), 3)
        col = {name: i for i, name in enumerate(names)}
        self.assertEqual(
            [(r[col['customer']], r[col['days']], r[col['reason.translated']],
                    r[col['user']], bool(r[col['paid']]), r[col['note']])
                for r in rows],
            [('Alice Example', Decimal('3'), 'Trial', 'Administrator', False,
                    'Welcome'),
                ('Bob Sample', Decimal('7'), 'Compensation', 'Administrator',
                    False, 'Outage 12 May'),
                ('Bob Sample', Decimal('30'), 'Paid', 'Administrator', True,
                    '')])
        self.assertEqual(rows[0][col['service']], 'alice @ Tower')
        self.assertEqual(rows[0][col['plan']], 'Home 10M')
        self.assertTrue(rows[0][col['customer/isp_code']].startswith('C'))
        self.assertIsInstance(rows[0][col['date']], dt.datetime)

        # no records: no rows, the header only
        self.assertEqual(Extension.export_data([], names), [])
        self.assertEqual(len(Extension.export_data([], names, header=True)), 1)

    @with_transaction()
    def test_expire_due_set_based(self):
        """The sweep expires in SQL, not through the workflow transition:
        same services, logs stored (the ORM path by chunks, kept for
        ir.trigger: test_expiry.ExpiryTestCase.test_trigger_fallback)"""
        pool = Pool()
        Service = pool.get('isp.service')
        Log = pool.get('ir.model.log')
        company = create_company()
        with set_company(company):
            plan, router = create_plan(), create_router()
            customer = create_customer()
            now = utcnow()
            services = [create_service(customer, plan, router, login='s%d' % n)
                for n in range(5)]
            for n, service in enumerate(services):
                Service.write([service], {
                        'paid_until': now + dt.timedelta(
                            hours=1 if n == 2 else -1)})
            Service.activate(services)
            with patch.object(Service, '_expire_chunk_size', 2), \
                    patch.object(Service, 'expire',
                        wraps=Service.expire) as expire:
                expired = Service.expire_due(now=now)
            expire.assert_not_called()
            self.assertEqual(sorted(s.login for s in expired),
                ['s0', 's1', 's3', 's4'])
            self.assertEqual([Service(s.id).state for s in services],
                ['expired', 'expired', 'active', 'expired', 'expired'])
            # the transition logs are stored by the sweep, not at commit
            self.assertNotIn('state:expired',
                [l.target for l in Transaction().log_records])
            self.assertEqual(Log.search([
                        ('event', '=', 'transition'),
                        ('target', '=', 'state:expired'),
                        ], count=True), 4)
            # nothing due: no transition at all
            with patch.object(Service, 'expire',
                    wraps=Service.expire) as expire:
                self.assertEqual(Service.expire_due(now=now), [])
            expire.assert_not_called()

