"""Messages to customers: recipients per group kind, the preview, email to a
real SMTP server (aiosmtpd) and an SMTP outage, SMS through a real local
HTTP gateway (and its refusal), queue batches, the portal list, the rights
of each group and the per-router restriction.

The queue tasks that ``send`` pushes are run by :meth:`run_queue` inside the
test transaction, as the worker would run them after the commit.
"""
import base64
import datetime as dt
import http.server
import threading
import urllib.parse
from unittest.mock import patch

from aiosmtpd.controller import Controller

from trytond import config
from trytond.model.exceptions import AccessError
from trytond.model.modelstorage import RequiredValidationError
from trytond.model.modelview import AccessButtonError
from trytond.modules.company.tests import create_company, set_company
from trytond.pool import Pool
from trytond.tests.test_tryton import with_transaction
from trytond.transaction import Transaction

from ..exceptions import MessageError
from ..models import message as message_module
from ..times import utcnow
from .server_tools import free_port
from .tools import (
    IspTestCase, as_user, create_plan, create_router, create_service,
    create_staff)


#: a valid number (the party module checks numbers) the gateway refuses
REFUSED_NUMBER = '+255 799 999 999'

class Sink:
    "aiosmtpd handler keeping the envelopes it received"

    def __init__(self):
        self.mails = []

    async def handle_DATA(self, server, session, envelope):
        self.mails.append(envelope)
        return '250 OK'


class GatewayHandler(http.server.BaseHTTPRequestHandler):
    "A tiny SMS gateway: refuses REFUSED_NUMBER, records every request"

    def do_POST(self):
        length = int(self.headers.get('Content-Length') or 0)
        body = self.rfile.read(length).decode()
        self.server.requests.append({'path': self.path, 'body': body,
                'auth': self.headers.get('Authorization'),
                'type': self.headers.get('Content-Type')})
        if urllib.parse.parse_qs(body).get('to') == [REFUSED_NUMBER]:
            self.send_response(500)
            self.end_headers()
            self.wfile.write(b'unknown number')
            return
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b'queued')

    def log_message(self, *args):
        pass


def set_email_config(test, uri):
    old = config.get('email', 'uri'), config.get('email', 'from')
    config.set('email', 'uri', uri)
    config.set('email', 'from', 'ISP <billing@isp.test>')

    def restore():
        config.set('email', 'uri', old[0])
        config.set('email', 'from', old[1])
    test.addCleanup(restore)


class MessageTestCase(IspTestCase):
    "Messages to customers"

    def setup_world(self):
        """Routers R1 and R2; plans Home and Fibre; customers:
        alice (individual, R1 Home active, 3 days left, email + mobile),
        bob (organization, R2 Fibre active, 20 days left, email),
        carol (individual, R1 Fibre expired, no email),
        dave (individual, R2 Home cancelled, email),
        erin (organization, no service, email); a supplier (not a
        customer)"""
        pool = Pool()
        Party = pool.get('party.party')
        Service = pool.get('isp.service')
        self.company = create_company()
        now = utcnow()
        with set_company(self.company):
            self.home = create_plan('Home')
            self.fibre = create_plan('Fibre', price=40)
            self.r1 = create_router('R1')
            self.r2 = create_router('R2', port=8729)

            def customer(name, kind, email=None, mobile=None):
                mechanisms = []
                if email:
                    mechanisms.append({'type': 'email', 'value': email})
                if mobile:
                    mechanisms.append({'type': 'mobile', 'value': mobile})
                party, = Party.create([{'name': name, 'isp_customer': True,
                            'isp_customer_type': kind,
                            'contact_mechanisms': [('create', mechanisms)]}])
                return party
            self.alice = customer('Alice', 'individual', 'alice@example.com',
                '+255712345678')
            self.bob = customer('Bob', 'organization', 'bob@example.com')
            self.carol = customer('Carol', 'individual')
            self.dave = customer('Dave', 'individual', 'dave@example.com')
            self.erin = customer('Erin', 'organization', 'erin@example.com')
            Party.create([{'name': 'Supplier',
                        'contact_mechanisms': [('create', [{
                                        'type': 'email',
                                        'value': 'supplier@example.com'}])],
                        }])
            services = {
                'alice': create_service(
                    self.alice, self.home, self.r1, login='alice'),
                'bob': create_service(
                    self.bob, self.fibre, self.r2, login='bob'),
                'carol': create_service(
                    self.carol, self.fibre, self.r1, login='carol'),
                'dave': create_service(
                    self.dave, self.home, self.r2, login='dave'),
                }
        # the service states, in SQL: no workflow, no router sync
        table = Service.__table__()
        cursor = Transaction().connection.cursor()
        for login, state, paid_until in [
                ('alice', 'active', now + dt.timedelta(days=3)),
                ('bob', 'active', now + dt.timedelta(days=20)),
                ('carol', 'expired', now - dt.timedelta(days=2)),
                ('dave', 'cancelled', now - dt.timedelta(days=40)),
                ]:
            cursor.execute(*table.update(
                    [table.state, table.paid_until], [state, paid_until],
                    where=table.id == services[login].id))
        self.names = {p.id: p.name for p in [self.alice, self.bob,
                self.carol, self.dave, self.erin]}

    def new_message(self, **values):
        Message = Pool().get('isp.message')
        values.setdefault('subject', 'Maintenance')
        values.setdefault('body', 'The network stops at 2 am.')
        values.setdefault('channel_email', False)
        values.setdefault('channel_portal', True)
        message, = Message.create([values])
        return message

    def recipient_names(self, message):
        return sorted(self.names[i] for i in message.recipients())

    def queued(self):
        Queue = Pool().get('ir.queue')
        return Queue.search([('name', '=', message_module.QUEUE_NAME),
                ('dequeued_at', '=', None)], order=[('id', 'ASC')])

    def run_queue(self):
        "Run the message tasks as the worker would; their number"
        tasks = self.queued()
        for task in tasks:
            task.run()
        return len(tasks)

    def deliveries(self, message):
        Delivery = Pool().get('isp.message.delivery')
        return {(self.names[d.party.id], d.channel): d
            for d in Delivery.search([('message', '=', message.id)])}

    # --- recipients ---

    @with_transaction()
    def test_recipients_per_group(self):
        "Each group kind reaches exactly its customers, never a non-customer"
        self.setup_world()
        cases = [
            (dict(target='customer', customer=self.bob.id), ['Bob']),
            (dict(target='all'), ['Alice', 'Bob', 'Carol', 'Dave', 'Erin']),
            (dict(target='plan', plan=self.home.id), ['Alice']),
            (dict(target='plan', plan=self.fibre.id), ['Bob', 'Carol']),
            (dict(target='router', router=self.r1.id), ['Alice', 'Carol']),
            (dict(target='router', router=self.r2.id), ['Bob']),
            (dict(target='state', service_state='active'), ['Alice', 'Bob']),
            (dict(target='state', service_state='expired'), ['Carol']),
            (dict(target='customer_type', customer_type='organization'),
                ['Bob', 'Erin']),
            (dict(target='expiring', expiring_days=7), ['Alice']),
            (dict(target='expiring', expiring_days=30), ['Alice', 'Bob']),
            (dict(target='expiring', expiring_days=1), []),
            ]
        for values, expected in cases:
            with self.subTest(**values):
                message = self.new_message(**values)
                self.assertEqual(self.recipient_names(message), expected)

    @with_transaction()
    def test_preview_then_send(self):
        "The wizard shows the count and the recipients; Send queues them"
        pool = Pool()
        Wizard = pool.get('isp.message.send', type='wizard')
        self.setup_world()
        message = self.new_message(target='router', router=self.r1.id)
        with Transaction().set_context(active_model='isp.message',
                active_id=message.id, active_ids=[message.id]):
            session_id, _, _ = Wizard.create()
            result = Wizard.execute(session_id, {}, 'start')
            start = result['view']['defaults']
            self.assertEqual(start['recipient_count'], 2)
            self.assertEqual(sorted(start['recipients']),
                sorted([self.alice.id, self.carol.id]))
            self.assertEqual(start['channels'], 'Portal')
            self.assertEqual(message.state, 'draft')
            self.assertFalse(self.queued())
            Wizard.execute(session_id, {'start': {k: v
                        for k, v in start.items() if '.' not in k}}, 'send')
        message = pool.get('isp.message')(message.id)
        self.assertEqual(message.state, 'sending')
        self.assertEqual(message.recipient_count, 2)
        # nothing is delivered in the request, only queued
        self.assertFalse(message.deliveries)
        self.assertEqual(self.run_queue(), 1)
        message = pool.get('isp.message')(message.id)
        self.assertEqual(message.state, 'done')
        self.assertEqual(message.sent_count, 2)
        self.assertEqual(set(self.deliveries(message)),
            {('Alice', 'portal'), ('Carol', 'portal')})

    @with_transaction()
    def test_bad_input(self):
        "Refusals with a clear message, nothing queued or written"
        Message = Pool().get('isp.message')
        self.setup_world()
        cases = [
            (dict(target='all', channel_portal=False), 'channel'),
            (dict(target='expiring', expiring_days=0), 'greater than zero'),
            (dict(target='expiring', expiring_days=1), 'no recipient'),
            (dict(target='all', channel_sms=True), 'SMS gateway'),
            ]
        for values, text in cases:
            with self.subTest(**values):
                message = self.new_message(**values)
                with self.assertRaises(MessageError) as cm:
                    Message.send([message])
                self.assertIn(text, cm.exception.message)
                self.assertEqual(Message(message.id).state, 'draft')
                self.assertFalse(self.queued())
        # a group kind without its value is refused when saved
        with self.assertRaises(RequiredValidationError):
            self.new_message(target='plan')
        message = self.new_message(target='all')
        Message.send([message])
        self.run_queue()
        with self.assertRaises(MessageError) as cm:
            Message.send([Message(message.id)])
        self.assertIn('already been sent', cm.exception.message)
        with self.assertRaises(MessageError):
            Message.delete([Message(message.id)])

    # --- email ---

    def start_sink(self):
        sink = Sink()
        controller = Controller(sink, hostname='127.0.0.1', port=free_port())
        controller.start()
        self.addCleanup(controller.stop)
        set_email_config(self, 'smtp://127.0.0.1:%s' % controller.port)
        return sink

    @with_transaction()
    def test_email_to_smtp_server(self):
        "Each customer with an address gets one mail; no address: failed"
        Message = Pool().get('isp.message')
        self.setup_world()
        sink = self.start_sink()
        message = self.new_message(target='all', channel_email=True,
            channel_portal=False, subject='Maintenance tonight')
        Message.send([message])
        self.assertFalse(sink.mails)            # not in the request
        self.run_queue()
        deliveries = self.deliveries(message)
        self.assertEqual({k[0]: d.state for k, d in deliveries.items()}, {
                'Alice': 'sent', 'Bob': 'sent', 'Carol': 'failed',
                'Dave': 'sent', 'Erin': 'sent'})
        self.assertEqual(deliveries['Carol', 'email'].error,
            'The customer has no email address.')
        self.assertEqual(deliveries['Alice', 'email'].address,
            'alice@example.com')
        self.assertTrue(deliveries['Alice', 'email'].sent_date)
        self.assertEqual(sorted(m.rcpt_tos[0] for m in sink.mails), [
                'alice@example.com', 'bob@example.com', 'dave@example.com',
                'erin@example.com'])
        mail = sink.mails[0].content.decode()
        self.assertIn('Subject: Maintenance tonight', mail)
        self.assertIn('The network stops at 2 am.', mail)
        self.assertIn('billing@isp.test', sink.mails[0].mail_from)
        message = Message(message.id)
        self.assertEqual((message.state, message.sent_count,
                message.failed_count, message.pending_count),
            ('done', 4, 1, 0))

    @with_transaction()
    def test_smtp_down(self):
        "SMTP outage: every email delivery failed with the error, none sent"
        Message = Pool().get('isp.message')
        self.setup_world()
        set_email_config(self, 'smtp://127.0.0.1:%s' % free_port())
        message = self.new_message(target='all', channel_email=True,
            channel_portal=True)
        Message.send([message])
        self.run_queue()
        emails = [d for (_, c), d in self.deliveries(message).items()
            if c == 'email']
        self.assertEqual(len(emails), 5)
        self.assertEqual({d.state for d in emails}, {'failed'})
        for delivery in emails:
            self.assertIsNone(delivery.sent_date)
            self.assertTrue(delivery.error)
        with_address = [d for d in emails if d.address]
        self.assertEqual(len(with_address), 4)
        for delivery in with_address:
            self.assertIn('The mail server did not accept the email',
                delivery.error)
            self.assertIn('refused', delivery.error.lower())
        message = Message(message.id)
        # the portal channel is independent of the mail server
        self.assertEqual((message.sent_count, message.failed_count),
            (5, 5))

    # --- SMS ---

    def start_gateway(self):
        server = http.server.ThreadingHTTPServer(
            ('127.0.0.1', free_port()), GatewayHandler)
        server.requests = []
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()

        def stop():
            server.shutdown()
            server.server_close()
        self.addCleanup(stop)
        return server

    def configure_gateway(self, port):
        Configuration = Pool().get('isp.configuration')
        config_ = Configuration(1)
        config_.sms_gateway_url = (
            'http://127.0.0.1:%s/send?sender=ISP' % port)
        config_.sms_gateway_method = 'POST'
        config_.sms_gateway_body = 'to={to}&text={text}'
        config_.sms_gateway_content_type = 'form'
        config_.sms_gateway_auth = 'basic'
        config_.sms_gateway_username = 'isp'
        config_.sms_gateway_secret = 's3cret'
        config_.save()

    @with_transaction()
    def test_sms_gateway(self):
        "SMS through the HTTP gateway; refused or no number: failed"
        pool = Pool()
        Message = pool.get('isp.message')
        Party = pool.get('party.party')
        self.setup_world()
        gateway = self.start_gateway()
        self.configure_gateway(gateway.server_address[1])
        # Bob's phone is one the gateway refuses
        Party.write([self.bob], {'contact_mechanisms': [('create', [
                            {'type': 'phone', 'value': REFUSED_NUMBER}])]})
        message = self.new_message(target='state', service_state='active',
            channel_portal=False, channel_sms=True, body='Pay & stay: 50%')
        Message.send([message])
        self.assertFalse(gateway.requests)      # not in the request
        self.run_queue()
        deliveries = self.deliveries(message)
        alice, bob = deliveries['Alice', 'sms'], deliveries['Bob', 'sms']
        # stored as the party module formats it (phonenumbers)
        self.assertEqual((alice.state, alice.address),
            ('sent', '+255 712 345 678'))
        self.assertEqual(bob.state, 'failed')
        self.assertIn('HTTP 500', bob.error)
        self.assertIn('unknown number', bob.error)
        self.assertEqual(len(gateway.requests), 2)
        request = [r for r in gateway.requests
            if '712' in r['body']][0]
        self.assertEqual(request['path'], '/send?sender=ISP')
        self.assertEqual(urllib.parse.parse_qs(request['body']),
            {'to': ['+255 712 345 678'], 'text': ['Pay & stay: 50%']})
        self.assertEqual(request['auth'],
            'Basic ' + base64.b64encode(b'isp:s3cret').decode())

    @with_transaction()
    def test_sms_gateway_down(self):
        "An unreachable gateway or no phone number: failed with the error"
        Message = Pool().get('isp.message')
        self.setup_world()
        self.configure_gateway(free_port())
        message = self.new_message(target='plan', plan=self.fibre.id,
            channel_portal=False, channel_sms=True)
        Message.send([message])
        self.run_queue()
        deliveries = self.deliveries(message)
        self.assertEqual(deliveries['Bob', 'sms'].state, 'failed')
        self.assertEqual(deliveries['Bob', 'sms'].error,
            'The customer has no mobile or phone number.')
        self.assertEqual(Message(message.id).sent_count, 0)

    # --- queue, portal ---

    @with_transaction()
    def test_large_group_in_batches(self):
        "A group is queued in batches; each task delivers its customers"
        pool = Pool()
        Message = pool.get('isp.message')
        Party = pool.get('party.party')
        self.setup_world()
        Party.create([{'name': 'Customer %d' % i, 'isp_customer': True,
                    'isp_customer_type': 'individual'} for i in range(20)])
        message = self.new_message(target='all')
        with patch.object(message_module, 'BATCH_SIZE', 10):
            Message.send([message])
        tasks = self.queued()
        self.assertEqual(len(tasks), 3)         # 25 customers, 10 per task
        self.assertEqual([len(t.data['args'][0]) for t in tasks],
            [10, 10, 5])
        self.assertEqual(Message(message.id).deliveries, ())
        tasks[0].run()
        message = Message(message.id)
        self.assertEqual((message.state, message.sent_count), ('sending', 10))
        self.run_queue()
        message = Message(message.id)
        self.assertEqual((message.state, message.sent_count), ('done', 25))

    @with_transaction()
    def test_portal_messages(self):
        "A customer's portal messages, newest first, only theirs"
        pool = Pool()
        Message = pool.get('isp.message')
        Delivery = pool.get('isp.message.delivery')
        self.setup_world()
        first = self.new_message(target='all', subject='First')
        Message.send([first])
        self.run_queue()
        second = self.new_message(target='customer', customer=self.alice.id,
            subject='Second')
        Message.send([second])
        self.run_queue()
        email_only = self.new_message(target='customer',
            customer=self.alice.id, channel_portal=False, channel_email=True,
            subject='Email only')
        set_email_config(self, 'smtp://127.0.0.1:%s' % free_port())
        Message.send([email_only])
        self.run_queue()
        self.assertEqual(
            [d.subject for d in Delivery.portal_messages(self.alice)],
            ['Second', 'First'])
        self.assertEqual(
            [d.subject for d in Delivery.portal_messages(self.bob)],
            ['First'])
        self.assertEqual(
            Delivery.portal_messages(self.bob)[0].body,
            'The network stops at 2 am.')

    # --- rights ---

    def staff(self, group, routers=()):
        pool = Pool()
        User = pool.get('res.user')
        Router = pool.get('isp.router')
        user = create_staff('%s%s' % (group, len(routers)),
            'group_isp_' + group)
        User.write([user], {'companies': [('add', [self.company.id])],
                'company': self.company.id})
        for router in routers:
            Router.write([router], {'users': [('add', [user.id])]})
        return user

    @with_transaction()
    def test_who_may_send(self):
        "Administrators and support send; the other groups only read"
        pool = Pool()
        Message = pool.get('isp.message')
        self.setup_world()
        for group, may in [('admin', True), ('support', True),
                ('cashier', False), ('accountant', False),
                ('technician', False), ('viewer', False)]:
            user = self.staff(group)
            message = self.new_message(target='all')
            with self.subTest(group=group), as_user(user):
                Message.read([message.id], ['subject'])
                if may:
                    Message.send_wizard([Message(message.id)])
                    created, = Message.create([{'subject': 's', 'body': 'b',
                                'target': 'all'}])
                    Message.send([created])
                else:
                    with self.assertRaises(AccessButtonError):
                        Message.send_wizard([Message(message.id)])
                    with self.assertRaises(AccessError):
                        Message.create([{'subject': 's', 'body': 'b',
                                    'target': 'all'}])

    @with_transaction()
    def test_router_restriction(self):
        """Staff assigned to R1 reach only R1's customers and see only
        their deliveries; an administrator reaches everybody"""
        pool = Pool()
        Message = pool.get('isp.message')
        Delivery = pool.get('isp.message.delivery')
        self.setup_world()
        support = self.staff('support', [self.r1])
        admin = self.staff('admin', [self.r1])
        with as_user(support):
            message, = Message.create([{'subject': 'Hello', 'body': 'Hi',
                        'target': 'all', 'channel_portal': True}])
            self.assertEqual(self.recipient_names(message),
                ['Alice', 'Carol'])
            message.target, message.router = 'router', self.r2.id
            self.assertEqual(self.recipient_names(message), [])
            to_bob, = Message.create([{'subject': 'Hello', 'body': 'Hi',
                        'target': 'customer', 'customer': self.bob.id,
                        'channel_portal': True}])
            with self.assertRaises(MessageError):
                Message.send([to_bob])
        with as_user(admin):
            message, = Message.create([{'subject': 'Hello', 'body': 'Hi',
                        'target': 'all', 'channel_email': False,
                        'channel_portal': True}])
            self.assertEqual(len(message.recipients()), 5)
            Message.send([message])
        self.run_queue()
        with as_user(support):
            seen = Delivery.search([('message', '=', message.id)])
            self.assertEqual(sorted(d.party.name for d in seen),
                ['Alice', 'Carol'])
        with as_user(admin):
            self.assertEqual(Delivery.search(
                    [('message', '=', message.id)], count=True), 5)
