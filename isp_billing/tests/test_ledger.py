"""The ledger of paid time: what the wizards save, several services at
once, copies, archived plans, credit notes, taxed plans and the login
constraint in the database."""
import datetime as dt
import unittest
from decimal import Decimal

from trytond import backend
from trytond.exceptions import UserError
from trytond.model.exceptions import SQLConstraintError
from trytond.modules.company.tests import set_company
from trytond.pool import Pool
from trytond.tests.test_tryton import (
    TestCase, activate_module, with_transaction)
from trytond.transaction import Transaction

from ..payment_exceptions import ExtensionError, PlanChangeError
from .test_module import (
    create_customer, create_plan, create_router, create_service)
from .test_payment import AccountingMixin


def utcnow():
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def run_wizard(name, records, steps):
    """Run the wizard name on records as the client does: steps is a list
    of (state, data) executed in order; returns the results"""
    Wizard = Pool().get(name, type='wizard')
    ids = [r.id for r in records]
    context = {
        'active_model': records[0].__name__ if records else None,
        'active_id': ids[0] if ids else None,
        'active_ids': ids,
        }
    with Transaction().set_context(context):
        session_id, start, _ = Wizard.create()
        results = []
        for state, data in steps:
            results.append(Wizard.execute(session_id, data, state))
    return results


class LedgerTestCase(AccountingMixin, TestCase):
    "Test the ledger of paid time"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        activate_module('isp_billing')

    # --- 7b: archived plans keep their router profile ---

    @with_transaction()
    def test_plan_name_of_archived_plan(self):
        "A new plan named like an archived one gets a free profile name"
        Template = Pool().get('product.template')
        company = self.setup_accounting()
        with set_company(company):
            Template.write([self.plan], {'active': False})
            self.assertEqual(self.plan.router_profile, 'isp-home-10m')
            try:
                plan = create_plan('Home 10M')
            except SQLConstraintError as e:  # the bug: a constraint error
                self.fail('SQL constraint error: %s' % e)
            self.assertEqual(plan.router_profile, 'isp-home-10m-2')
            # restoring the archived plan keeps both profiles apart
            Template.write([self.plan], {'active': True})
            self.assertEqual(
                Template(self.plan.id).router_profile, 'isp-home-10m')
            third = create_plan('Home 10M')
            self.assertEqual(third.router_profile, 'isp-home-10m-3')
