"""Customer portal over HTTP: trytond's WSGI app driven by werkzeug's test
client, on a committed database, with a real SMTP sink (aiosmtpd).

Each security test is a page or a request a real attacker would try: another
customer's records by id (IDOR) on every portal URL, a POST without the CSRF
token, a stolen or expired session, brute-forced logins, HTML in names,
input that makes the server fail.
"""
import datetime as dt
import email
import email.policy
import html
import re
import socket
import threading
import urllib.parse
from contextlib import contextmanager

from aiosmtpd.controller import Controller
from werkzeug.exceptions import Forbidden
from werkzeug.test import Client

from trytond import backend, config
from trytond.modules.company.tests import set_company
from trytond.pool import Pool
from trytond.tests.test_tryton import DB_NAME
from trytond.transaction import Transaction, TransactionError
from trytond.wsgi import app

from ..exceptions import PortalMailError, RequestError
from ..times import fmt_ts
from .server_tools import free_port
from .test_payment import AccountingMixin
from .tools import (
    IspTestCase, as_user, committed, create_customer, create_router,
    create_service, create_staff)

ALICE = ('alice@example.com', 'Alice-Portal-2026')
BOB = ('bob@example.com', 'Bob-Portal-2026!')
CAROL = ('carol@example.com', 'Carol-Portal-2026')
ERIN = ('erin@example.com', 'Erin-Portal-2026')
CSRF = re.compile(r'name="csrf" value="([^"]*)"')


class Sink:
    "An SMTP server that keeps the messages it receives"

    def __init__(self):
        self.messages = []
        self.lock = threading.Lock()
        self.refuse = False  # answer 554 to the mail, as a full mailbox
        self.refuse_to = set()  # ... only to these addresses

    async def handle_DATA(self, server, session, envelope):
        if self.refuse or self.refuse_to & set(envelope.rcpt_tos):
            return '554 Transaction failed: mailbox unavailable'
        with self.lock:
            self.messages.append(email.message_from_bytes(
                    envelope.content, policy=email.policy.default))
        return '250 OK'

    def wait(self, count, timeout=10):
        import time
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.messages) >= count:
                    return list(self.messages)
            time.sleep(0.05)
        return list(self.messages)


def body(message):
    part = message.get_body(('plain', 'html'))
    return part.get_content()


class PortalTestCase(AccountingMixin, IspTestCase):
    "The customer portal, its security and the requests inbox"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sink = Sink()
        cls.smtp = Controller(cls.sink, hostname='127.0.0.1', port=free_port())
        cls.smtp.start()
        cls._config = {(s, o): config.get(s, o) for s, o in [
                ('email', 'uri'), ('web', 'reset_password_url')]}
        config.set('email', 'uri', 'smtp://127.0.0.1:%s' % cls.smtp.port)
        config.set('web', 'reset_password_url',
            'http://localhost/%s/isp_billing/portal/reset' % DB_NAME)
        extras = {}
        while True:  # as trytond's with_transaction: retry with the locks
            try:
                with Transaction().start(DB_NAME, 0, **extras):
                    cls.build_world()
                break
            except TransactionError as e:
                e.fix(extras)

    @classmethod
    def tearDownClass(cls):
        cls.smtp.stop()
        for (section, option), value in cls._config.items():
            if value is None:
                config._config.remove_option(section, option)
                config._cache_clear()
            else:
                config.set(section, option, value)
        super().tearDownClass()

    @classmethod
    def build_world(cls):
        """Alice (service on R1), Bob (service on R2), Carol named <script>;
        each paid, with usage, a portal login and (Bob) a request"""
        pool = Pool()
        Service = pool.get('isp.service')
        Usage = pool.get('isp.usage')
        WebUser = pool.get('web.user')
        Request = pool.get('isp.request')
        Party = pool.get('party.party')
        company = AccountingMixin.setup_accounting(cls)
        with set_company(company):
            cls.r2 = create_router('R2', port=8729)
            cls.bob = create_customer('Bob')
            cls.carol = create_customer('<script>alert(1)</script>')
            cls.dave = create_customer('Dave')
            cls.erin = create_customer('Erin')
            cls.frank = create_customer('Frank')
            Party.write([cls.bob, cls.carol, cls.dave, cls.erin, cls.frank],
                {'addresses': [('create', [{}])]})
            Party.write([cls.customer], {'contact_mechanisms': [
                        ('create', [{'type': 'email', 'value': ALICE[0]}])]})
            Party.write([cls.bob], {'contact_mechanisms': [
                        ('create', [{'type': 'email', 'value': BOB[0]}])]})
            Party.write([cls.dave], {'contact_mechanisms': [
                        ('create', [{'type': 'email',
                                    'value': 'dave@example.com'}])]})
            Party.write([cls.frank], {'contact_mechanisms': [
                        ('create', [{'type': 'email',
                                    'value': 'frank@example.com'}])]})
            cls.bob_service = create_service(cls.bob, cls.plan, cls.r2,
                login='bob')
            cls.carol_service = create_service(cls.carol, cls.plan, cls.r2,
                login='carol')
            cls.alice_invoice = Service.pay_renewal([cls.service], 1, cls.cash)
            cls.bob_invoice = Service.pay_renewal(
                [cls.bob_service], 1, cls.cash)
            for service, base in [(cls.service, 1), (cls.bob_service, 7)]:
                Usage.create([{'service': service.id,
                            'month': dt.date(2026, m, 1),
                            'bytes_in': base * m * 1_000_000,
                            'bytes_out': base * m * 10_000_000}
                        for m in range(1, 5)])
            WebUser.create([
                    {'email': ALICE[0], 'password': ALICE[1],
                        'party': cls.customer.id, 'email_valid': True},
                    {'email': BOB[0], 'password': BOB[1],
                        'party': cls.bob.id, 'email_valid': True},
                    {'email': CAROL[0], 'password': CAROL[1],
                        'party': cls.carol.id, 'email_valid': True},
                    {'email': ERIN[0], 'password': ERIN[1],
                        'party': cls.erin.id, 'email_valid': True},
                    ])
            cls.bob_request = Request.submit(cls.bob, 'complaint',
                "Bob's secret complaint", "Only Bob may read this.")
            cls.support = create_staff('support1', 'group_isp_support')
            pool.get('res.user').write([cls.support], {
                    'companies': [('add', [company.id])],
                    'company': company.id})
        cls.alice = cls.customer
        cls.alice_number = cls.alice_invoice.number
        cls.bob_number = cls.bob_invoice.number
        cls.alice_payment = Service(cls.service.id).payments[0]
        cls.bob_payment = Service(cls.bob_service.id).payments[0]

    # --- helpers ---

    def url(self, path=''):
        return '/%s/isp_billing/portal%s' % (DB_NAME, path)

    def client(self):
        return Client(app)

    def token(self, client, path):
        response = client.get(self.url(path))
        self.assertEqual(response.status_code, 200, path)
        return CSRF.search(response.get_data(as_text=True)).group(1)

    def login(self, who=ALICE, client=None, **kwargs):
        client = client or self.client()
        token = self.token(client, '/login')
        response = client.post(self.url('/login'), data={
                'email': who[0], 'password': who[1], 'csrf': token},
            **kwargs)
        self.assertEqual(response.status_code, 303,
            response.get_data(as_text=True))
        return client, response

    def text(self, client, path, status=200):
        response = client.get(self.url(path))
        self.assertEqual(response.status_code, status, path)
        return response.get_data(as_text=True)

    def count(self, model, domain=None):
        with Transaction().start(DB_NAME, 0, readonly=True):
            return Pool().get(model).search(domain or [], count=True)

    # --- login, logout, cookies ---

    def test_login_logout(self):
        "Log in with email and password, see only own services, log out"
        client = self.client()
        response = client.get(self.url('/'))
        self.assertEqual(response.status_code, 303)
        self.assertTrue(response.headers['Location'].endswith('/login'))

        token = self.token(client, '/login')
        response = client.post(self.url('/login'), data={
                'email': ALICE[0], 'password': 'wrong-password',
                'csrf': token})
        self.assertEqual(response.status_code, 401)
        self.assertIn('Wrong email or password.', response.get_data(
                as_text=True))

        client, response = self.login(client=client)
        cookie = [h for h in response.headers.getlist('Set-Cookie')
            if h.startswith('isp_portal=')][0]
        self.assertIn('HttpOnly', cookie)
        self.assertIn('SameSite=Lax', cookie)
        self.assertIn('Path=/%s/isp_billing/portal/' % DB_NAME, cookie)
        self.assertNotIn('Secure', cookie)  # plain http: not sent back
        self.assertFalse(any(h.startswith('tryton_session')
                for h in response.headers.getlist('Set-Cookie')))

        home = self.text(client, '/')
        self.assertIn('alice', home)
        self.assertIn('Home 10M', home)
        self.assertIn('Connected', home)
        self.assertNotIn('bob', home)
        self.assertNotIn('Bob', home)

        sessions = self.count('web.user.session')
        response = client.post(self.url('/logout'), data={
                'csrf': self.token(client, '/')})
        self.assertEqual(response.status_code, 303)
        self.assertEqual(self.count('web.user.session'), sessions - 1)
        self.assertEqual(client.get(self.url('/')).status_code, 303)

    def test_cookie_secure_behind_https(self):
        "Over https the session cookie is Secure"
        client = self.client()
        response = client.get(self.url('/login'),
            base_url='https://localhost')
        token = CSRF.search(response.get_data(as_text=True)).group(1)
        self.assertIn('Secure', response.headers['Set-Cookie'])
        response = client.post(self.url('/login'), data={
                'email': ALICE[0], 'password': ALICE[1], 'csrf': token},
            base_url='https://localhost')
        self.assertEqual(response.status_code, 303)
        cookie, = [h for h in response.headers.getlist('Set-Cookie')
            if h.startswith('isp_portal=')]
        for flag in ['Secure', 'HttpOnly', 'SameSite=Lax']:
            self.assertIn(flag, cookie)

    def test_wrong_session_key(self):
        "A made-up or staff session cookie is no portal login"
        client = self.client()
        client.set_cookie('isp_portal', 'f' * 64, domain='localhost',
            path=self.url('/'))
        self.assertEqual(client.get(self.url('/')).status_code, 303)
        client = self.client()
        client.set_cookie('tryton_session', 'x' * 64, domain='localhost')
        self.assertEqual(client.get(self.url('/payments')).status_code, 303)

    def test_login_throttled(self):
        "After 5 failures for an email even the right password is refused"
        who = ERIN
        client = self.client()
        token = self.token(client, '/login')
        response = client.post(self.url('/login'), data={
                'email': who[0], 'password': 'nope-nope', 'csrf': token})
        self.assertEqual(response.status_code, 401)
        token = CSRF.search(response.get_data(as_text=True)).group(1)
        with Transaction().start(DB_NAME, 0):
            Attempt = Pool().get('web.user.authenticate.attempt')
            self.assertEqual(Attempt.count(who[0]), 1)
            # four more failures (as the login route records them; posting
            # them would sleep 1+3+7+15 s: trytond slows brute force down)
            for _ in range(4):
                Attempt.add(who[0])
        response = client.post(self.url('/login'), data={
                'email': who[0].upper(), 'password': who[1], 'csrf': token})
        self.assertEqual(response.status_code, 429)
        self.assertIn('Too many failed attempts', response.get_data(
                as_text=True))
        self.assertNotIn('isp_portal=', response.headers.get(
                'Set-Cookie', ''))

    def test_session_expiry(self):
        "A session older than [session] web_timeout logs the customer out"
        client, _ = self.login(BOB)
        self.assertEqual(client.get(self.url('/')).status_code, 200)
        with Transaction().start(DB_NAME, 0) as transaction:
            Session = Pool().get('web.user.session')
            table = Session.__table__()
            old = dt.datetime.now() - Session.timeout() - dt.timedelta(
                minutes=1)
            cursor = transaction.connection.cursor()
            cursor.execute(*table.update([table.create_date,
                        table.write_date], [old, old]))
        response = client.get(self.url('/'))
        self.assertEqual(response.status_code, 303)
        self.assertTrue(response.headers['Location'].endswith('/login'))

    # --- each page in a few queries ---

    @contextmanager
    def statements(self):
        "The SQL statements the backend runs inside the block"
        if backend.name == 'postgresql':
            from trytond.backend.postgresql.database import (
                LoggingCursor as Cursor)
        else:
            from trytond.backend.sqlite.database import SQLiteCursor as Cursor
        statements = []
        execute = Cursor.execute

        def counting(cursor, query, *args, **kwargs):
            if str(query).strip():  # not the pool's empty connection check
                statements.append(str(query))
            return execute(cursor, query, *args, **kwargs)
        Cursor.execute = counting
        try:
            yield statements
        finally:
            Cursor.execute = execute

    def test_pages_read_in_few_queries(self):
        """A page runs one query for the session and one or two per list it
        shows, however many records the customer has (no query per row)"""
        client, _ = self.login(BOB)
        pages = {
            '/': 2,  # session, services
            '/usage': 3,  # + usage months
            '/payments': 2,  # session, payments
            '/requests': 4,  # session, requests, replies, services
            # session, request, replies, services (the time zone)
            '/request/%d' % self.bob_request.id: 4,
            # session, services (time zone), deliveries, their messages
            '/messages': 4,
            }
        for path, count in pages.items():
            self.text(client, path)  # warm the caches
            with self.subTest(path=path), self.statements() as statements:
                self.text(client, path)
                self.assertLessEqual(len(statements), count, statements)

    # --- IDOR: every URL that takes an id ---

    def test_idor_every_url(self):
        "Another customer's service, usage, bill, request: 404 everywhere"
        client, _ = self.login()
        token = self.token(client, '/')
        bob = {
            'service': self.bob_service.id,
            'payment': self.bob_payment.id,
            'request': self.bob_request.id,
            }
        own = {
            'service': self.service.id,
            'payment': self.alice_payment.id,
            }
        for path in ['/usage/%d' % own['service'],
                '/bill/%d' % own['payment']]:
            with self.subTest(own=path):
                self.assertEqual(
                    client.get(self.url(path)).status_code, 200)
        replies = self.count('isp.request.reply')
        requests = self.count('isp.request')
        for path in ['/usage/%d' % bob['service'],
                '/bill/%d' % bob['payment'],
                '/request/%d' % bob['request'],
                '/usage/999999', '/bill/999999', '/request/999999']:
            with self.subTest(path=path):
                response = client.get(self.url(path))
                self.assertEqual(response.status_code, 404)
                text = response.get_data(as_text=True)
                self.assertNotIn("Bob", text)
                self.assertNotIn('bob', text)
        response = client.post(self.url('/request/%d' % bob['request']),
            data={'csrf': token, 'text': 'I read your request'})
        self.assertEqual(response.status_code, 404)
        # a request "about" Bob's service
        response = client.post(self.url('/requests'), data={
                'csrf': token, 'kind': 'request', 'subject': 'Hi',
                'text': 'x', 'service': str(bob['service'])})
        self.assertEqual(response.status_code, 404)
        self.assertEqual(self.count('isp.request.reply'), replies)
        self.assertEqual(self.count('isp.request'), requests)
        # lists never show Bob's records
        for path in ['/', '/usage', '/payments', '/requests', '/details']:
            with self.subTest(list=path):
                text = self.text(client, path)
                self.assertNotIn("Bob's secret", text)
                self.assertNotIn('/bill/%d"' % bob['payment'], text)
                self.assertNotIn('/usage/%d"' % bob['service'], text)
                self.assertNotIn('bob@example.com', text)

    # --- CSRF ---

    def test_csrf_required_on_every_post(self):
        "Every POST without the token (or with a wrong one) is refused: 403"
        client, _ = self.login()
        own_request = self.submit(client, 'About CSRF')
        posts = {
            '/login': {'email': ALICE[0], 'password': ALICE[1]},
            '/forgot': {'email': ALICE[0]},
            '/reset': {'email': ALICE[0], 'token': 'x', 'password': 'a',
                'confirm': 'a'},
            '/details': {'name': 'Mallory', 'phone': '+255712345678'},
            '/requests': {'kind': 'request', 'subject': 'forged',
                'text': 'forged'},
            '/request/%d' % own_request: {'text': 'forged'},
            '/logout': {},
            }
        before = (self.count('isp.request'), self.count('isp.request.reply'),
            self.count('party.contact_mechanism'),
            self.count('web.user.session'))
        for path, data in posts.items():
            for token in [None, 'wrong-token']:
                with self.subTest(path=path, token=token):
                    form = dict(data)
                    if token:
                        form['csrf'] = token
                    response = client.post(self.url(path), data=form)
                    self.assertEqual(response.status_code, 403)
        self.assertEqual(before, (self.count('isp.request'),
                self.count('isp.request.reply'),
                self.count('party.contact_mechanism'),
                self.count('web.user.session')))
        # still logged in: the forged logout did nothing
        self.assertEqual(client.get(self.url('/')).status_code, 200)
        # a foreign Origin is refused by trytond before any route runs
        # (werkzeug's Forbidden escapes the test client; a server answers
        # 500, tryton-web.md gotcha 10)
        token = self.token(client, '/')
        with self.assertRaises(Forbidden):
            client.post(self.url('/requests'), data={
                    'csrf': token, 'kind': 'request',
                    'subject': 'cross-site', 'text': 'x'},
                headers={'Origin': 'https://evil.example'})
        self.assertEqual(self.count('isp.request'), before[0])

    # --- escaping and errors ---

    def test_html_escaped(self):
        "A customer named <script> and a subject with HTML show as text"
        client, _ = self.login(CAROL)
        token = self.token(client, '/requests')
        response = client.post(self.url('/requests'), data={
                'csrf': token, 'kind': 'inquiry',
                'subject': '<img src=x onerror=alert(2)>',
                'text': '<b>bold</b>'})
        self.assertEqual(response.status_code, 303)
        for path in ['/', '/usage', '/payments', '/requests', '/details']:
            with self.subTest(path=path):
                text = self.text(client, path)
                self.assertNotIn('<script>alert', text)
                self.assertNotIn('<img src=x', text)
        self.assertIn('&lt;script&gt;alert(1)&lt;/script&gt;',
            self.text(client, '/'))
        self.assertIn('&lt;img src=x onerror=alert(2)&gt;',
            self.text(client, '/requests'))

    def test_error_pages_without_traceback(self):
        "A failing page, a missing page, a refused form: no stack trace"
        client, _ = self.login()
        huge = '/usage/99999999999999999999999'  # beyond any integer column
        responses = {
            huge: client.get(self.url(huge)),
            '/request/0': client.get(self.url('/request/0')),
            '/nothing-here': client.get(self.url('/nothing-here')),
            'POST /requests (no token)': client.post(
                self.url('/requests'), data={'csrf': 'x'}),
            }
        # input the database itself refuses: the server fails (500); which
        # input depends on the backend (SQLite: an integer past 64 bits;
        # PostgreSQL: a NUL character in a text)
        if backend.name == 'sqlite':
            failing = responses[huge]
        else:
            self.assertEqual(responses[huge].status_code, 404)
            failing = client.post(self.url('/requests'), data={
                    'csrf': self.token(client, '/'), 'kind': 'request',
                    'subject': 'nul \x00 byte', 'text': 'x'})
        responses['failing'] = failing
        self.assertEqual(failing.status_code, 500)
        self.assertIn('Something went wrong on our side',
            failing.get_data(as_text=True))
        self.assertEqual(responses['/request/0'].status_code, 404)
        self.assertIn(responses['/nothing-here'].status_code, {404, 405})
        self.assertEqual(
            responses['POST /requests (no token)'].status_code, 403)
        for name, response in responses.items():
            with self.subTest(name=name):
                text = response.get_data(as_text=True)
                self.assertNotIn('Traceback', text)
                self.assertNotIn('File "', text)
                self.assertNotIn('.py', text)
                self.assertNotIn('Error:', text)

    # --- pages ---

    def test_services_and_usage(self):
        "Services with plan, state, paid until; usage table and SVG chart"
        client, _ = self.login()
        home = self.text(client, '/')
        with Transaction().start(DB_NAME, 0, readonly=True):
            service = Pool().get('isp.service')(self.service.id)
            paid_until = service.paid_until.strftime('%Y-%m-%d %H:%M')
        self.assertIn(paid_until, home)
        for word in ['hotspot', 'PPPoE', 'router', 'RouterOS']:
            self.assertNotIn(word, home)
        usage = self.text(client, '/usage/%d' % self.service.id)
        self.assertIn('2026-04', usage)
        self.assertIn('40.0', usage)  # April download: 4 x 10 MB
        self.assertIn('<svg', usage)
        self.assertEqual(usage.count('<rect'), 8)  # 4 months x 2 bars
        self.assertIn('Usage month by month', self.text(client, '/usage'))

    def test_payments_and_bill(self):
        "Payments list date, amount, method, period; the bill downloads"
        client, _ = self.login()
        text = self.text(client, '/payments')
        self.assertIn(self.alice_number, text)
        self.assertIn('Cash', text)
        self.assertIn('20', text)
        self.assertIn('/bill/%d' % self.alice_payment.id, text)
        response = client.get(self.url('/bill/%d' % self.alice_payment.id))
        self.assertEqual(response.status_code, 200)
        disposition = response.headers['Content-Disposition']
        self.assertIn('attachment', disposition)
        data = response.get_data()
        if disposition.endswith('.pdf"'):
            self.assertEqual(response.content_type, 'application/pdf')
            self.assertTrue(data.startswith(b'%PDF'))
        else:  # the invoice report as it is set up (OpenDocument)
            self.assertTrue(data)
            self.assertNotIn('text/html', response.content_type)

    def test_details(self):
        "Phone, email, address saved; a new name becomes a request"
        client, _ = self.login()
        token = self.token(client, '/details')
        form = {'csrf': token, 'phone': '+255712345678',
            'email': 'alice.new@example.com', 'street': '1 Main Street',
            'postal_code': '1000', 'city': 'Springfield', 'name': 'Alice',
            'customer_type': 'individual'}
        bad = dict(form, email='not an email')
        response = client.post(self.url('/details'), data=bad)
        self.assertEqual(response.status_code, 400)
        self.assertIn('is not a valid email address',
            response.get_data(as_text=True))
        requests = self.count('isp.request')
        response = client.post(self.url('/details'), data=dict(
                form, name='Alice Cooper', customer_type='organization'))
        self.assertEqual(response.status_code, 303)
        with Transaction().start(DB_NAME, 0, readonly=True):
            party = Pool().get('party.party')(self.alice.id)
            self.assertEqual(party.name, 'Alice')
            self.assertEqual(party.isp_customer_type, 'individual')
            self.assertEqual(party.phone, '+255 712 345 678')
            self.assertEqual(party.email, 'alice.new@example.com')
            self.assertEqual(party.addresses[0].city, 'Springfield')
            request, = Pool().get('isp.request').search(
                [('customer', '=', self.alice.id)],
                order=[('id', 'DESC')], limit=1)
            self.assertIn('Alice Cooper', request.text)
            self.assertIn('Organization', request.text)
        self.assertEqual(self.count('isp.request'), requests + 1)
        text = self.text(client, '/details?done=requested')
        self.assertIn('+255 712 345 678', text)
        # the login did not change
        client.post(self.url('/logout'), data={
                'csrf': self.token(client, '/')})
        self.login(ALICE)
        with Transaction().start(DB_NAME, 0):
            Party = Pool().get('party.party')
            party = Party(self.alice.id)
            for mechanism in party.contact_mechanisms:
                if mechanism.type == 'email':
                    mechanism.value = ALICE[0]
                    mechanism.save()

    # --- requests ---

    def submit(self, client, subject, kind='request', text='Please help.'):
        token = self.token(client, '/requests')
        response = client.post(self.url('/requests'), data={
                'csrf': token, 'kind': kind, 'subject': subject,
                'text': text, 'service': str(self.service.id)})
        self.assertEqual(response.status_code, 303)
        with Transaction().start(DB_NAME, 0, readonly=True):
            request, = Pool().get('isp.request').search(
                [('subject', '=', subject)])
            return request.id

    def test_request_times_in_the_company_time_zone(self):
        "Request and reply times read as every portal date: company's zone"
        pool = Pool(DB_NAME)

        def set_timezone(timezone):
            def write():
                Company = pool.get('company.company')
                Company.write([Company(self.company.id)],
                    {'timezone': timezone})
            committed(write, user=0)
        with Transaction().start(DB_NAME, 0, readonly=True):
            before = pool.get('company.company')(self.company.id).timezone
        set_timezone('Africa/Dar_es_Salaam')  # UTC+3
        self.addCleanup(set_timezone, before)
        client, _ = self.login()
        request_id = self.submit(client, 'What time is it?')
        with Transaction().start(DB_NAME, 0, readonly=True):
            written = pool.get('isp.request')(request_id).date
        local = fmt_ts(written, 'Africa/Dar_es_Salaam')
        self.assertNotEqual(local, fmt_ts(written))
        page = self.text(client, '/request/%d' % request_id)
        self.assertIn(local, page)
        self.assertNotIn(fmt_ts(written), page)
        self.assertIn(local, self.text(client, '/requests'))

    def test_request_bad_input(self):
        "Empty subject or text, unknown kind: a clear message, nothing saved"
        client, _ = self.login()
        token = self.token(client, '/requests')
        before = self.count('isp.request')
        for data, message in [
                ({'kind': 'request', 'subject': '  ', 'text': 'x'},
                    'Write a subject.'),
                ({'kind': 'request', 'subject': 'Hello', 'text': ''},
                    'Write your message.'),
                ({'kind': 'spam', 'subject': 'Hello', 'text': 'x'},
                    'Choose what kind of message'),
                ({'kind': 'request', 'subject': 'x' * 201, 'text': 'x'},
                    'The subject is too long'),
                ]:
            with self.subTest(data=data):
                response = client.post(self.url('/requests'),
                    data=dict(data, csrf=token))
                self.assertEqual(response.status_code, 400)
                self.assertIn(message, response.get_data(as_text=True))
        self.assertEqual(self.count('isp.request'), before)

    def test_request_answered_by_staff(self):
        """The customer sends a request; a staff reply is mailed after the
        commit and shown in the portal; the customer answers back"""
        pool = Pool(DB_NAME)
        client, _ = self.login()
        request_id = self.submit(client, 'Slow at night', kind='complaint')
        text = self.text(client, '/requests')
        self.assertIn('Slow at night', text)
        self.assertIn('Open', text)
        mails = len(self.sink.messages)
        with Transaction().start(DB_NAME, 0) as transaction:
            Request = pool.get('isp.request')
            User = pool.get('res.user')
            support = User(self.support.id)
            with as_user(support):
                request = Request(request_id)
                Request.start([request])
                Request.write([request], {'replies': [('create', [{
                                    'text': 'We changed your channel.'}])]})
            # not sent before the commit
            self.assertEqual(len(self.sink.messages), mails)
            transaction.commit()
        messages = self.sink.wait(mails + 1)
        self.assertEqual(len(messages), mails + 1)
        mail = messages[-1]
        self.assertEqual(mail['To'], 'Alice <%s>' % ALICE[0])
        self.assertIn('Slow at night', mail['Subject'])
        self.assertIn('We changed your channel.', body(mail))
        with Transaction().start(DB_NAME, 0, readonly=True):
            request = pool.get('isp.request')(request_id)
            self.assertEqual(request.state, 'answered')
            self.assertEqual(request.assigned_to.id, self.support.id)
            self.assertEqual(request.replies[0].user.id, self.support.id)
        page = self.text(client, '/request/%d' % request_id)
        self.assertIn('We changed your channel.', page)
        self.assertIn('Answered', page)
        response = client.post(self.url('/request/%d' % request_id), data={
                'csrf': self.token(client, '/'), 'text': ''})
        self.assertEqual(response.status_code, 400)
        self.assertIn('Write your message.', response.get_data(as_text=True))
        response = client.post(self.url('/request/%d' % request_id), data={
                'csrf': self.token(client, '/'), 'text': 'Thanks, better.'})
        self.assertEqual(response.status_code, 303)
        with Transaction().start(DB_NAME, 0, readonly=True):
            request = pool.get('isp.request')(request_id)
            self.assertEqual(request.state, 'open')
            self.assertEqual([r.author for r in request.replies],
                ['staff', 'customer'])

    def test_staff_reply_smtp_down(self):
        "SMTP down: the staff reply fails, nothing is saved or marked"
        client, _ = self.login()
        request_id = self.submit(client, 'While SMTP is down')
        uri = config.get('email', 'uri')
        config.set('email', 'uri', 'smtp://127.0.0.1:%d' % free_port())
        try:
            with self.assertRaises(RequestError) as cm:
                self.staff_reply(request_id, 'Lost?')
        finally:
            config.set('email', 'uri', uri)
        self.assertIn('The reply was not saved', str(cm.exception))
        self.assertIn('Connection refused', str(cm.exception))
        self.assertEqual(self.request_state(request_id), ('open', 0))

    def staff_reply(self, request_id, text):
        "Support writes a reply to the request and commits"
        pool = Pool(DB_NAME)
        with Transaction().start(DB_NAME, 0) as transaction:
            Request = pool.get('isp.request')
            with as_user(pool.get('res.user')(self.support.id)):
                Request.write([Request(request_id)], {'replies': [
                            ('create', [{'text': text}])]})
            transaction.commit()

    def request_state(self, request_id):
        "(state, number of replies) of the request as saved"
        with Transaction().start(DB_NAME, 0, readonly=True):
            request = Pool(DB_NAME).get('isp.request')(request_id)
            return request.state, len(request.replies)

    def test_staff_reply_refused_by_the_mail_server(self):
        """The server takes the connection but refuses the mail: the reply
        is not saved (it was lost before, logged only); later it goes"""
        client, _ = self.login()
        request_id = self.submit(client, 'Mailbox full')
        mails = len(self.sink.messages)
        self.sink.refuse = True
        try:
            with self.assertRaises(RequestError) as cm:
                self.staff_reply(request_id, 'We are on it')
        finally:
            self.sink.refuse = False
        self.assertIn('The reply was not saved', str(cm.exception))
        self.assertIn('554', str(cm.exception))
        self.assertEqual(self.request_state(request_id), ('open', 0))
        self.assertEqual(len(self.sink.messages), mails)
        self.staff_reply(request_id, 'We are on it')
        messages = self.sink.wait(mails + 1)
        self.assertEqual(len(messages), mails + 1)
        self.assertIn('We are on it', body(messages[-1]))
        self.assertEqual(self.request_state(request_id), ('answered', 1))

    def test_staff_replies_are_a_record(self):
        "Staff cannot edit, delete or forge a customer's reply"
        pool = Pool(DB_NAME)
        client, _ = self.login()
        request_id = self.submit(client, 'Record of replies')
        client.post(self.url('/request/%d' % request_id), data={
                'csrf': self.token(client, '/'), 'text': 'Mine.'})
        from trytond.model.exceptions import AccessError
        with Transaction().start(DB_NAME, 0) as transaction:
            Reply = pool.get('isp.request.reply')
            reply, = Reply.search([('request', '=', request_id)])
            with as_user(pool.get('res.user')(self.support.id)):
                with self.assertRaises(AccessError):
                    Reply.write([Reply(reply.id)], {'text': 'edited'})
                with self.assertRaises(AccessError):
                    Reply.create([{'request': request_id,
                                'author': 'customer', 'text': 'forged'}])
            transaction.rollback()

    # --- invitation and passwords ---

    def reset_link(self, message):
        link = re.search(r'https?://[^\s"<>]+/reset\?[^\s"<>]+',
            body(message)).group(0)
        return urllib.parse.urlsplit(html.unescape(link))

    def choose_password(self, link, password):
        client = self.client()
        response = client.get(link.path + '?' + link.query)
        self.assertEqual(response.status_code, 200)
        text = response.get_data(as_text=True)
        token = CSRF.search(text).group(1)
        params = dict(urllib.parse.parse_qsl(link.query))
        self.assertIn(params['email'], text)
        bad = client.post(link.path, data={'csrf': token,
                'email': params['email'], 'token': params['token'],
                'password': password, 'confirm': password + 'x'})
        self.assertEqual(bad.status_code, 400)
        self.assertIn('Enter the same new password twice',
            bad.get_data(as_text=True))
        token = CSRF.search(bad.get_data(as_text=True)).group(1)
        response = client.post(link.path, data={'csrf': token,
                'email': params['email'], 'token': params['token'],
                'password': password, 'confirm': password})
        self.assertEqual(response.status_code, 303,
            response.get_data(as_text=True))
        # the link works once
        token = self.token(client, '/reset')
        again = client.post(link.path, data={'csrf': token,
                'email': params['email'], 'token': params['token'],
                'password': password, 'confirm': password})
        self.assertEqual(again.status_code, 400)

    def test_invite_to_portal(self):
        "Staff invite a customer: mailed link, first password, login"
        pool = Pool(DB_NAME)
        mails = len(self.sink.messages)
        with Transaction().start(DB_NAME, 0) as transaction:
            Party = pool.get('party.party')
            with as_user(pool.get('res.user')(self.support.id)):
                Party.isp_invite_portal([Party(self.dave.id)])
                with self.assertRaises(Exception) as cm:
                    Party.isp_invite_portal([Party(self.carol.id)])
                self.assertIn('has no email address', str(cm.exception))
            transaction.commit()
        messages = self.sink.wait(mails + 1)
        mail = messages[-1]
        self.assertIn('dave@example.com', mail['To'])
        self.choose_password(self.reset_link(mail), 'Dave-First-2026')
        self.login(('dave@example.com', 'Dave-First-2026'))

    @contextmanager
    def smtp_down(self):
        "The [email] uri on a free port nobody listens on"
        uri = config.get('email', 'uri')
        config.set('email', 'uri', 'smtp://127.0.0.1:%d' % free_port())
        try:
            yield
        finally:
            config.set('email', 'uri', uri)

    def test_invite_smtp_down(self):
        "SMTP down: staff get the error, no login, token or email is kept"
        pool = Pool(DB_NAME)
        mails = len(self.sink.messages)
        with self.smtp_down(), \
                Transaction().start(DB_NAME, 0) as transaction:
            Party = pool.get('party.party')
            with as_user(pool.get('res.user')(self.support.id)):
                with self.assertRaises(PortalMailError) as cm:
                    Party.isp_invite_portal([Party(self.frank.id)])
            transaction.rollback()
        self.assertIn('The invitation could not be sent', str(cm.exception))
        self.assertIn('Nobody was invited', str(cm.exception))
        self.assertEqual(self.count('web.user',
                [('email', '=', 'frank@example.com')]), 0)
        self.assertEqual(self.count('ir.email',
                [('resource', '=', 'party.party,%d' % self.frank.id)]), 0)
        self.assertEqual(len(self.sink.messages), mails)
        # SMTP back: the same button works
        with Transaction().start(DB_NAME, 0) as transaction:
            Party = pool.get('party.party')
            with as_user(pool.get('res.user')(self.support.id)):
                Party.isp_invite_portal([Party(self.frank.id)])
            transaction.commit()
        messages = self.sink.wait(mails + 1)
        self.assertEqual(len(messages), mails + 1)
        self.assertIn('frank@example.com', messages[-1]['To'])
        self.assertEqual(self.count('ir.email',
                [('resource', '=', 'party.party,%d' % self.frank.id)]), 1)

    def test_invite_refused_partway(self):
        """The server takes the first invitation and refuses the second:
        nothing is kept, and staff read who got a link that will not work"""
        pool = Pool(DB_NAME)
        mails = len(self.sink.messages)
        emails = ['frank@example.com', 'dave@example.com']
        before = [self.count('web.user', [('email', '=', e)]) for e in emails]
        self.sink.refuse_to = {'dave@example.com'}
        try:
            with Transaction().start(DB_NAME, 0) as transaction:
                Party = pool.get('party.party')
                with as_user(pool.get('res.user')(self.support.id)):
                    with self.assertRaises(PortalMailError) as cm:
                        Party.isp_invite_portal([Party(self.frank.id),
                                Party(self.dave.id)])
                transaction.rollback()
        finally:
            self.sink.refuse_to = set()
        text = str(cm.exception)
        self.assertIn('Nobody was invited', text)
        self.assertIn('frank@example.com', text)
        self.assertIn('invite them again', text)
        self.assertNotIn('dave@example.com', text.split('Nobody')[1])
        self.assertEqual(len(self.sink.wait(mails + 1)), mails + 1)
        self.assertEqual(
            [self.count('web.user', [('email', '=', e)]) for e in emails],
            before)

    def test_invite_smtp_silent(self):
        """A mail server that takes the connection and never answers: the
        invitation fails after [isp_billing] smtp_timeout, it does not hold
        the staff request for ever"""
        pool = Pool(DB_NAME)
        uri = config.get('email', 'uri')
        timeout = config.get('isp_billing', 'smtp_timeout')
        if not config.has_section('isp_billing'):
            config.add_section('isp_billing')
        with socket.socket() as silent:
            silent.bind(('127.0.0.1', 0))
            silent.listen()
            config.set('email', 'uri',
                'smtp://127.0.0.1:%d' % silent.getsockname()[1])
            config.set('isp_billing', 'smtp_timeout', '1')
            try:
                with Transaction().start(DB_NAME, 0) as transaction:
                    Party = pool.get('party.party')
                    with as_user(pool.get('res.user')(self.support.id)):
                        with self.assertRaises(PortalMailError) as cm:
                            Party.isp_invite_portal([Party(self.frank.id)])
                    transaction.rollback()
            finally:
                config.set('email', 'uri', uri)
                if timeout is None:
                    config._config.remove_option('isp_billing', 'smtp_timeout')
                    config._cache_clear()
                else:
                    config.set('isp_billing', 'smtp_timeout', timeout)
        self.assertIn('timed out', str(cm.exception))
        self.assertIn('Nobody was invited', str(cm.exception))

    def forgot(self, client, address, status):
        token = self.token(client, '/forgot')
        response = client.post(self.url('/forgot'),
            data={'csrf': token, 'email': address})
        self.assertEqual(response.status_code, status, address)
        page = response.get_data(as_text=True)
        return re.search(
            r'<div class="alert error" role="alert">(.*?)</div>', page,
            re.S), page

    def test_forgotten_password_smtp_down(self):
        """SMTP down: the customer reads that the mail could not be sent,
        no reset token is kept, and an unknown address gets the same page"""
        client = self.client()
        mails = len(self.sink.messages)
        with self.smtp_down():
            known, page = self.forgot(client, ERIN[0], 503)
            unknown, _ = self.forgot(client, 'nobody@example.com', 503)
        self.assertIn('We could not send the email just now', page)
        self.assertNotIn('on its way', page)
        self.assertEqual(known.group(1), unknown.group(1))
        with Transaction().start(DB_NAME, 0, readonly=True):
            user, = Pool().get('web.user').search([('email', '=', ERIN[0])])
            self.assertIsNone(user.reset_password_token)
            self.assertIsNone(user.reset_password_token_expire)
        self.assertEqual(len(self.sink.messages), mails)
        # SMTP back: the customer asks again and the link arrives (no
        # dangling token holds the next request back)
        _, page = self.forgot(client, ERIN[0], 200)
        self.assertIn('a link to choose a new password is on its way', page)
        messages = self.sink.wait(mails + 1)
        self.assertEqual(len(messages), mails + 1)
        self.assertIn(ERIN[0], messages[-1]['To'])
        with Transaction().start(DB_NAME, 0, readonly=True):
            user, = Pool().get('web.user').search([('email', '=', ERIN[0])])
            self.assertIn(user.reset_password_token, body(messages[-1]))

    def test_forgotten_password(self):
        "Forgot password: the same answer for any address, a link if known"
        client = self.client()
        mails = len(self.sink.messages)
        for address in ['nobody@example.com', BOB[0]]:
            token = self.token(client, '/forgot')
            response = client.post(self.url('/forgot'),
                data={'csrf': token, 'email': address})
            self.assertEqual(response.status_code, 200)
            self.assertIn('a link to choose a new password is on its way',
                response.get_data(as_text=True))
        token = self.token(client, '/forgot')
        response = client.post(self.url('/forgot'),
            data={'csrf': token, 'email': ''})
        self.assertEqual(response.status_code, 400)
        self.assertIn('Enter your email address.', response.get_data(
                as_text=True))
        messages = self.sink.wait(mails + 1)
        self.assertEqual(len(messages), mails + 1)
        self.assertIn(BOB[0], messages[-1]['To'])
        self.choose_password(self.reset_link(messages[-1]), 'Bob-New-2026!')
        self.login(('bob@example.com', 'Bob-New-2026!'))
        with Transaction().start(DB_NAME, 0):
            WebUser = Pool().get('web.user')
            user, = WebUser.search([('email', '=', BOB[0])])
            user.password = BOB[1]
            user.save()

    # --- messages from staff, the login banner ---

    def test_messages_own_only(self):
        "The Messages page lists what staff sent me, never another's"
        from ..times import utcnow

        def send():
            pool = Pool()
            Message = pool.get('isp.message')
            Delivery = pool.get('isp.message.delivery')
            message, = Message.create([{'subject': 'Maintenance <b>Sunday</b>',
                        'body': 'Short outage at 02:00.', 'target': 'all'}])
            secret, = Message.create([{'subject': 'For Bob only',
                        'body': 'Your special offer.', 'target': 'all'}])
            Delivery.create([
                    {'message': message.id, 'party': self.alice.id,
                        'channel': 'portal', 'state': 'sent',
                        'sent_date': utcnow()},
                    {'message': secret.id, 'party': self.bob.id,
                        'channel': 'portal', 'state': 'sent',
                        'sent_date': utcnow()},
                    ])
        committed(send, user=0)
        client, _ = self.login()
        text = self.text(client, '/messages')
        self.assertIn('Maintenance &lt;b&gt;Sunday&lt;/b&gt;', text)
        self.assertIn('Short outage at 02:00.', text)
        self.assertNotIn('For Bob only', text)
        self.assertNotIn('special offer', text)
        # logged out: the login page, not the messages
        response = self.client().get(self.url('/messages'))
        self.assertEqual(response.status_code, 303)

    def test_banner_on_login_page(self):
        "The login banner staff set shows on the portal's login page"
        png = (b'\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00'
            b'\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx'
            b'\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa75\x81\x84\x00\x00\x00'
            b'\x00IEND\xaeB`\x82')
        self.assertEqual(
            self.client().get(self.url('/banner-image')).status_code, 404)

        def banner(values):
            Banner = Pool().get('isp.banner')
            Banner.delete(Banner.search([]))
            if values:
                Banner.create([values])
        committed(lambda: banner({'name': 'Outage',
                    'text': 'Maintenance <script>x</script> tonight',
                    'image': png}), user=0)
        self.addCleanup(committed, lambda: banner(None), user=0)
        text = self.text(self.client(), '/login')
        self.assertIn('Maintenance &lt;script&gt;x&lt;/script&gt; tonight',
            text)
        self.assertIn('/banner-image', text)
        response = self.client().get(self.url('/banner-image'))
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.headers['Content-Type'], 'image/png')
        self.assertEqual(response.get_data(), png)
