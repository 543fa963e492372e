"""make run on PostgreSQL: `DATABASE_URI=postgresql://… make run` starts
trytond, trytond-cron and trytond-worker; a cashier's payment over RPC is
carried to the router by the worker, not by the cashier's request.

scripts/run.sh runs for real on free loopback ports, its own var directory
and its own database (dropped at the end); the test skips, saying so, when no
PostgreSQL answers at TEST_POSTGRESQL_URI (default 127.0.0.1:5432).
"""
import os
import time
import unittest

import psycopg

from .server_tools import free_ports
from .test_run_service import RunServiceBase

PG_URI = os.environ.get(
    'TEST_POSTGRESQL_URI', 'postgresql://postgres@127.0.0.1:5432/')
#: initialising a PostgreSQL database and loading the demo takes minutes
#: on a busy machine
FIRST_START = 900


def pg_connect(database='postgres'):
    return psycopg.connect(PG_URI.rstrip('/') + '/' + database,
        connect_timeout=3, autocommit=True)


class RunPostgreSQLTestCase(RunServiceBase):
    "make run with DATABASE_URI=postgresql://…: the worker syncs routers"

    @classmethod
    def setUpClass(cls):
        try:
            pg_connect().close()
        except psycopg.OperationalError as exception:
            raise unittest.SkipTest(
                f'no PostgreSQL answers at {PG_URI}: {exception}')
        cls.database = f'test_run_pg_{os.getpid()}'
        super().setUpClass()

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        with pg_connect() as connection:
            connection.execute(
                f'DROP DATABASE IF EXISTS "{cls.database}" WITH (FORCE)')

    @classmethod
    def prepare(cls):
        """Nothing to copy: run.sh initialises the database (minutes). It is
        never kept as a template: the test pays a service in it."""
        with pg_connect() as connection:   # left by an earlier version
            for name, in connection.execute("SELECT datname FROM pg_database "
                    "WHERE datname LIKE 'test_run_pg_template_%'").fetchall():
                connection.execute(f'DROP DATABASE "{name}" WITH (FORCE)')

    def test_payment_reaches_router_through_worker(self):
        """A cashier pays an expired service over RPC: the worker enables
        it on its router, and the task went through ir.queue"""
        from proteus import Model, Wizard, config

        import librouteros
        import librouteros.login

        ports = free_ports(3)
        run = self.start_run(ports, DATABASE_URI=PG_URI,
            DB_NAME=self.database)
        self.addCleanup(self.stop_run, run)
        self.wait_running(run, FIRST_START)
        commands = list(self.children().values())
        self.assertTrue(any('/trytond-worker -c' in c for c in commands),
            commands)

        def disabled(login):
            "the disabled flags of login's hotspot users on Tower South"
            # RouterOS 6.33: the challenge login
            api = librouteros.connect('127.0.0.1', 'admin', 'demo-router',
                port=ports[2], encoding='utf-8', timeout=10,
                login_method=librouteros.login.token)
            try:
                return [row.get('disabled')
                    for row in api.path('ip', 'hotspot', 'user')
                    if row.get('name') == login]
            finally:
                api.close()

        def wait_router(expected, timeout=120):
            deadline = time.monotonic() + timeout
            while disabled('priya16') != expected:
                if time.monotonic() > deadline:
                    self.fail('priya16 on Tower South: %s, not %s\n%s' % (
                            disabled('priya16'), expected, self.output(run)))
                time.sleep(0.2)
        # priya16 expired in the demo: disabled on Tower South, once the
        # worker has run the demo's syncs
        wait_router([True])

        cashier = config.set_xmlrpc(
            f'http://cashier:cashier-demo-2026@localhost:{ports[0]}/'
            f'{self.database}/rpc/')
        Service = Model.get('isp.service', config=cashier)
        service, = Service.find([('login', '=', 'priya16')])
        self.assertEqual(service.state, 'expired')
        with pg_connect(self.database) as connection:
            last_task, = connection.execute(
                'SELECT coalesce(max(id), 0) FROM ir_queue').fetchone()
        payment = Wizard('isp.service.register_payment', [service],
            config=cashier)
        self.assertTrue(payment.form.payment_method)
        payment.execute('pay')
        service.reload()
        self.assertEqual(service.state, 'active')

        wait_router([False], timeout=60)

        # the sync was a queued task, run and finished by the worker
        with pg_connect(self.database) as connection:
            tasks = connection.execute(
                'SELECT id, finished_at FROM ir_queue '
                'WHERE name = %s AND id > %s', ('isp_router', last_task)
                ).fetchall()
        self.assertTrue(tasks)
        self.assertTrue(all(finished for _, finished in tasks), tasks)
        service.reload()
        self.assertEqual(service.sync_status, 'in_sync')

