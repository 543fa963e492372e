"""Messages from staff to customers: one customer or a group, by email, in
the portal and by SMS, with one delivery record per recipient and channel.

Why it is shaped this way:

* the staff request never talks to SMTP or the SMS gateway: ``send``
  snapshots the recipients (one search) and queues them in batches
  (``ir.queue``, :data:`BATCH_SIZE` customers per task); each task creates
  its deliveries and sends them. 10,000 customers are a few dozen queue
  rows in the request, nothing more;
* a delivery is ``sent`` only once the SMTP server or the gateway accepted
  it; an outage makes it ``failed`` with the error text (an email is sent
  by the task with ``strict=True`` and the outcome recorded per delivery:
  trytond's SMTPDataManager would send after the commit and only log a
  failure, gotcha 13 of tryton-web.md);
* staff assigned to routers reach only the customers of their routers
  (:meth:`Message.router_restriction`), whatever group kind they choose.
"""
import datetime as dt
import logging
from email.message import EmailMessage

from sql.aggregate import Count

from trytond import backend, config
from trytond.i18n import gettext
from trytond.model import ModelSQL, ModelView, Workflow, fields
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Eval
from trytond.sendmail import send_message
from trytond.tools import grouped_slice
from trytond.tools.email_ import format_address, set_from_header
from trytond.transaction import Transaction

from .. import sms
from ..exceptions import MessageError
from ..mail import smtp_server
from ..times import utcnow
from .ir import assigned_router_ids
from .party import CUSTOMER_TYPES
from .service import STATES as SERVICE_STATES
from .sync import BackgroundRunner, in_background

logger = logging.getLogger(__name__)

QUEUE_NAME = 'isp_message'
#: customers per queue task ([isp_billing] message_batch_size)
BATCH_SIZE = 200
#: recipients listed by the preview (the count is always complete)
PREVIEW_LIMIT = 200

TARGETS = [
    ('customer', "One Customer"),
    ('all', "All Customers"),
    ('plan', "By Plan"),
    ('router', "By Router"),
    ('state', "By Service State"),
    ('customer_type', "By Customer Type"),
    ('expiring', "Expiring Within N Days"),
    ]
CHANNELS = [
    ('email', "Email"),
    ('portal', "Portal"),
    ('sms', "SMS"),
    ]


def batch_size():
    return config.getint(
        'isp_billing', 'message_batch_size', default=BATCH_SIZE)


#: runs the tasks queued by a staff request in a thread of this process
#: when there is no trytond-worker (see models/sync.py BackgroundRunner)
runner = BackgroundRunner()


class _MessageTasks:
    """Hands the message tasks queued by a staff request to :data:`runner`
    after the commit, so the request does not wait for thousands of mails"""

    def __init__(self):
        self.tasks = []
        self.database_name = None

    def __eq__(self, other):
        return isinstance(other, _MessageTasks)

    def __hash__(self):
        return hash(_MessageTasks)

    def abort(self, transaction):
        self.tasks = []

    def tpc_begin(self, transaction):
        pass

    def commit(self, transaction):
        pass

    def tpc_vote(self, transaction):
        pass

    def tpc_finish(self, transaction):
        tasks, self.tasks = self.tasks, []
        if tasks:
            runner.submit(self.database_name, tasks)

    def tpc_abort(self, transaction):
        self.tasks = []

    def pushed(self, transaction, task_id):
        if in_background() and task_id in transaction.tasks:
            transaction.tasks.remove(task_id)
            self.database_name = transaction.database.name
            self.tasks.append(task_id)


class Configuration(metaclass=PoolMeta):
    __name__ = 'isp.configuration'

    sms_gateway_url = fields.Char(
        "SMS Gateway URL",
        help="URL of the HTTP SMS gateway; {to} and {text} are replaced "
        "by the number and the message (URL-encoded), e.g. "
        "https://sms.example/send?to={to}&text={text}. "
        "Empty: no SMS channel.")
    sms_gateway_method = fields.Selection([
            ('POST', "POST"),
            ('GET', "GET"),
            ], "SMS Gateway Method")
    sms_gateway_body = fields.Text(
        "SMS Gateway Body",
        states={'invisible': Eval('sms_gateway_method') != 'POST'},
        help="POST body template with {to} and {text}, "
        "e.g. to={to}&text={text} (form) or "
        '{"to": "{to}", "text": "{text}"} (JSON).')
    sms_gateway_content_type = fields.Selection([
            ('form', "Form (URL-encoded)"),
            ('json', "JSON"),
            ], "SMS Gateway Body Type",
        states={'invisible': Eval('sms_gateway_method') != 'POST'})
    sms_gateway_auth = fields.Selection([
            (None, "None"),
            ('basic', "Basic (user and password)"),
            ('bearer', "Bearer token"),
            ], "SMS Gateway Authentication")
    sms_gateway_username = fields.Char(
        "SMS Gateway User",
        states={'invisible': Eval('sms_gateway_auth') != 'basic'})
    sms_gateway_secret = fields.Char(
        "SMS Gateway Password or Token", strip=False,
        states={'invisible': ~Eval('sms_gateway_auth')})

    @classmethod
    def default_sms_gateway_method(cls):
        return 'POST'

    @classmethod
    def default_sms_gateway_content_type(cls):
        return 'form'

    def sms_gateway(self):
        "The configured SMS gateway, None when there is none"
        if not self.sms_gateway_url:
            return None
        return sms.HttpGateway(self.sms_gateway_url,
            method=self.sms_gateway_method,
            body=self.sms_gateway_body,
            content_type=self.sms_gateway_content_type,
            auth=self.sms_gateway_auth,
            username=self.sms_gateway_username,
            secret=self.sms_gateway_secret,
            timeout=config.getfloat(
                'isp_billing', 'sms_timeout', default=10.0))


class Message(Workflow, ModelSQL, ModelView):
    "Customer Message"
    __name__ = 'isp.message'
    __string__ = "Customer Message"
    _rec_name = 'subject'

    _draft = {'readonly': Eval('state') != 'draft'}

    subject = fields.Char("Subject", required=True, states=_draft)
    body = fields.Text("Text", required=True, states=_draft)
    channel_email = fields.Boolean("Email", states=_draft)
    channel_portal = fields.Boolean(
        "Portal", states=_draft,
        help="Listed in the customer's portal under Messages.")
    channel_sms = fields.Boolean(
        "SMS", states=_draft,
        help="Sent through the SMS gateway of the ISP configuration.")
    target = fields.Selection(
        TARGETS, "Send To", required=True, states=_draft, sort=False)
    customer = fields.Many2One(
        'party.party', "Customer", ondelete='RESTRICT',
        domain=[('isp_customer', '=', True)],
        states={
            'readonly': Eval('state') != 'draft',
            'required': Eval('target') == 'customer',
            'invisible': Eval('target') != 'customer',
            })
    plan = fields.Many2One(
        'product.template', "Plan", ondelete='RESTRICT',
        domain=[('isp_plan', '=', True)],
        states={
            'readonly': Eval('state') != 'draft',
            'required': Eval('target') == 'plan',
            'invisible': Eval('target') != 'plan',
            })
    router = fields.Many2One(
        'isp.router', "Router", ondelete='RESTRICT',
        states={
            'readonly': Eval('state') != 'draft',
            'required': Eval('target') == 'router',
            'invisible': Eval('target') != 'router',
            })
    service_state = fields.Selection(
        [(None, "")] + SERVICE_STATES, "Service State",
        states={
            'readonly': Eval('state') != 'draft',
            'required': Eval('target') == 'state',
            'invisible': Eval('target') != 'state',
            })
    customer_type = fields.Selection(
        [(None, "")] + CUSTOMER_TYPES, "Customer Type",
        states={
            'readonly': Eval('state') != 'draft',
            'required': Eval('target') == 'customer_type',
            'invisible': Eval('target') != 'customer_type',
            })
    expiring_days = fields.Integer(
        "Expiring Within (Days)",
        states={
            'readonly': Eval('state') != 'draft',
            'required': Eval('target') == 'expiring',
            'invisible': Eval('target') != 'expiring',
            },
        help="Customers with an active service whose paid time ends "
        "within this many days.")
    state = fields.Selection([
            ('draft', "Draft"),
            ('sending', "Sending"),
            ('done', "Done"),
            ], "State", readonly=True, required=True, sort=False)
    recipient_count = fields.Integer("Recipients", readonly=True)
    sent_by = fields.Many2One('res.user', "Sent By", readonly=True)
    sent_at = fields.Timestamp("Sent At", readonly=True)
    deliveries = fields.One2Many(
        'isp.message.delivery', 'message', "Deliveries", readonly=True)
    sent_count = fields.Function(
        fields.Integer("Sent"), 'get_counts')
    failed_count = fields.Function(
        fields.Integer("Failed"), 'get_counts')
    pending_count = fields.Function(
        fields.Integer("Pending"), 'get_counts')
    del _draft

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [('id', 'DESC')]
        cls._transitions |= {('draft', 'sending'), ('sending', 'done')}
        cls._buttons.update({
                'send_wizard': {
                    'invisible': Eval('state') != 'draft',
                    'depends': ['state'],
                    },
                })

    @classmethod
    def default_state(cls):
        return 'draft'

    @classmethod
    def default_target(cls):
        return 'customer'

    @classmethod
    def default_channel_email(cls):
        return True

    @classmethod
    def default_channel_portal(cls):
        return True

    @classmethod
    def default_channel_sms(cls):
        return False

    @property
    def channels(self):
        return [c for c, _ in CHANNELS if getattr(self, 'channel_' + c)]

    @classmethod
    def get_counts(cls, messages, names):
        pool = Pool()
        Delivery = pool.get('isp.message.delivery')
        delivery = Delivery.__table__()
        cursor = Transaction().connection.cursor()
        result = {n: {m.id: 0 for m in messages} for n in names}
        for sub_ids in grouped_slice(
                [m.id for m in messages], backend.MAX_QUERY_PARAMS):
            cursor.execute(*delivery.select(
                    delivery.message, delivery.state, Count(delivery.id),
                    where=delivery.message.in_(list(sub_ids)),
                    group_by=[delivery.message, delivery.state]))
            for message_id, state, count in cursor:
                name = state + '_count'
                if name in result:
                    result[name][message_id] = count
        return result

    @classmethod
    def copy(cls, messages, default=None):
        default = default.copy() if default is not None else {}
        for name in ['deliveries', 'recipient_count', 'sent_by', 'sent_at',
                'state']:
            default.setdefault(name)
        return super().copy(messages, default=default)

    @classmethod
    def check_modification(cls, mode, messages, values=None, external=False):
        super().check_modification(
            mode, messages, values=values, external=external)
        if mode == 'delete':
            for message in messages:
                if message.state != 'draft':
                    raise MessageError(gettext(
                            'isp_billing.msg_message_delete_sent',
                            message=message.rec_name))

    # --- recipients ---

    @classmethod
    def router_restriction(cls):
        """Router ids the current staff user is limited to; None for no
        limit (root, ISP administrators, staff without routers)"""
        pool = Pool()
        User = pool.get('res.user')
        ModelData = pool.get('ir.model.data')
        user_id = Transaction().user
        if not user_id:
            return None
        admin = ModelData.get_id('isp_billing', 'group_isp_admin')
        if admin in User.get_groups():
            return None
        return assigned_router_ids(user_id) or None

    def recipient_domain(self, now=None):
        "The party domain of this message's customers"
        domain = [('isp_customer', '=', True)]
        live = ('state', '!=', 'cancelled')
        if self.target == 'customer':
            domain.append(('id', '=', self.customer.id if self.customer
                    else -1))
        elif self.target == 'plan':
            domain.append(('isp_services', 'where', [
                        ('plan.template', '=',
                            self.plan.id if self.plan else -1),
                        live]))
        elif self.target == 'router':
            domain.append(('isp_services', 'where', [
                        ('router', '=', self.router.id if self.router
                            else -1),
                        live]))
        elif self.target == 'state':
            domain.append(('isp_services.state', '=', self.service_state))
        elif self.target == 'customer_type':
            domain.append(('isp_customer_type', '=', self.customer_type))
        elif self.target == 'expiring':
            now = now or utcnow()
            until = now + dt.timedelta(days=self.expiring_days or 0)
            domain.append(('isp_services', 'where', [
                        ('state', '=', 'active'),
                        ('paid_until', '>=', now),
                        ('paid_until', '<=', until),
                        ]))
        routers = self.router_restriction()
        if routers is not None:
            domain.append(('isp_services', 'where', [
                        ('router', 'in', routers)]))
        return domain

    def recipients(self, now=None):
        """Ids of the customers this message goes to, in id order: one SQL
        query (the search's, record rules included), no record browsed"""
        Party = Pool().get('party.party')
        self.check_target()
        query = Party.search(self.recipient_domain(now=now),
            order=[('id', 'ASC')], query=True)
        cursor = Transaction().connection.cursor()
        cursor.execute(*query)
        return [i for i, in cursor]

    def recipient_preview(self, limit=PREVIEW_LIMIT):
        "(count, the first ``limit`` customer ids) before sending"
        ids = self.recipients()
        return len(ids), ids[:limit]

    def check_target(self):
        if self.target == 'expiring' and (self.expiring_days or 0) <= 0:
            raise MessageError(gettext(
                    'isp_billing.msg_message_expiring_days'))
        required = {'customer': 'customer', 'plan': 'plan',
            'router': 'router', 'state': 'service_state',
            'customer_type': 'customer_type'}.get(self.target)
        if required and not getattr(self, required):
            raise MessageError(gettext(
                    'isp_billing.msg_message_target_missing',
                    field=self.__class__._fields[required].string))

    def check_sendable(self):
        pool = Pool()
        Configuration = pool.get('isp.configuration')
        if self.state != 'draft':
            raise MessageError(gettext(
                    'isp_billing.msg_message_already_sent',
                    message=self.rec_name))
        if not self.channels:
            raise MessageError(gettext(
                    'isp_billing.msg_message_no_channel',
                    message=self.rec_name))
        if 'sms' in self.channels and not Configuration(1).sms_gateway_url:
            raise MessageError(gettext(
                    'isp_billing.msg_message_no_sms_gateway'))
        if 'email' in self.channels and not config.get('email', 'from'):
            raise MessageError(gettext(
                    'isp_billing.msg_message_no_email_from'))

    # --- sending ---

    @classmethod
    @ModelView.button_action('isp_billing.wizard_message_send')
    def send_wizard(cls, messages):
        pass

    @classmethod
    def send(cls, messages):
        """Snapshot the recipients and queue them in batches; the queue
        tasks create and send the deliveries. Nothing is sent here."""
        transaction = Transaction()
        tasks = transaction.join(_MessageTasks())
        size = max(batch_size(), 1)
        batches = []
        for message in messages:
            message.check_sendable()
            ids = message.recipients()
            if not ids:
                raise MessageError(gettext(
                        'isp_billing.msg_message_no_recipient',
                        message=message.rec_name))
            message.recipient_count = len(ids)
            message.sent_by = transaction.user
            message.sent_at = utcnow()
            batches.extend((message, list(b))
                for b in grouped_slice(ids, count=size))
        cls.save(messages)
        cls._to_sending(messages)
        with transaction.set_context(queue_name=QUEUE_NAME):
            for message, party_ids in batches:
                task_id = cls.__queue__.deliver_batch([message], party_ids)
                tasks.pushed(transaction, task_id)

    @classmethod
    @Workflow.transition('sending')
    def _to_sending(cls, messages):
        pass

    @classmethod
    @Workflow.transition('done')
    def _to_done(cls, messages):
        pass

    @classmethod
    def deliver_batch(cls, messages, party_ids):
        """Queue task: create the deliveries of these customers and send
        them. The batches of one message run one after the other (lock
        taken first, before any mail leaves): the last one sees every
        delivery and marks the message done."""
        pool = Pool()
        Delivery = pool.get('isp.message.delivery')
        Party = pool.get('party.party')
        cls.lock(messages)
        for message in messages:
            deliveries = []
            for party in Party.browse(party_ids):
                for channel in message.channels:
                    deliveries.append(Delivery(message=message, party=party,
                            channel=channel, state='pending',
                            address=Delivery.party_address(party, channel)))
            Delivery.save(deliveries)
            Delivery.deliver(deliveries)
        cls.check_done(messages)

    @classmethod
    def check_done(cls, messages):
        "Done once every recipient has a delivery per channel"
        pool = Pool()
        Delivery = pool.get('isp.message.delivery')
        done = []
        for message in cls.browse(messages):
            if message.state != 'sending':
                continue
            count = Delivery.search(
                [('message', '=', message.id)], count=True)
            if count >= (message.recipient_count or 0) * len(
                    message.channels):
                done.append(message)
        if done:
            cls._to_done(done)


class Delivery(ModelSQL, ModelView):
    "Message Delivery"
    __name__ = 'isp.message.delivery'
    __string__ = "Message Delivery"

    message = fields.Many2One(
        'isp.message', "Message", required=True, ondelete='CASCADE',
        readonly=True)
    party = fields.Many2One(
        'party.party', "Customer", required=True, ondelete='CASCADE',
        readonly=True)
    channel = fields.Selection(CHANNELS, "Channel", required=True,
        readonly=True)
    address = fields.Char("Address", readonly=True,
        help="The email address or phone number used.")
    state = fields.Selection([
            ('pending', "Pending"),
            ('sent', "Sent"),
            ('failed', "Failed"),
            ], "State", required=True, readonly=True)
    error = fields.Text("Error", readonly=True)
    sent_date = fields.Timestamp("Sent Date", readonly=True)
    subject = fields.Function(fields.Char("Subject"), 'get_message_field')
    body = fields.Function(fields.Text("Text"), 'get_message_field')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [('id', 'DESC')]

    @classmethod
    def default_state(cls):
        return 'pending'

    def get_message_field(self, name):
        return getattr(self.message, name)

    @classmethod
    def portal_messages(cls, party):
        "The portal messages of a customer, newest first"
        return cls.search([
                ('party', '=', int(party)),
                ('channel', '=', 'portal'),
                ('state', '=', 'sent'),
                ], order=[('sent_date', 'DESC'), ('id', 'DESC')])

    @staticmethod
    def party_address(party, channel):
        if channel == 'email':
            return party.email or None
        if channel == 'sms':
            return party.mobile or party.phone or None
        return None

    @classmethod
    def deliver(cls, deliveries):
        "Send pending deliveries; each ends sent or failed with the error"
        by_channel = {}
        for delivery in deliveries:
            if delivery.state == 'pending':
                by_channel.setdefault(delivery.channel, []).append(delivery)
        for channel, todo in by_channel.items():
            getattr(cls, '_deliver_' + channel)(todo)
        cls.save(deliveries)

    @staticmethod
    def _sent(delivery):
        delivery.state = 'sent'
        delivery.error = None
        delivery.sent_date = utcnow()

    @staticmethod
    def _failed(delivery, error):
        delivery.state = 'failed'
        delivery.error = str(error) or error.__class__.__name__
        delivery.sent_date = None

    @classmethod
    def _deliver_portal(cls, deliveries):
        for delivery in deliveries:
            cls._sent(delivery)

    @classmethod
    def _deliver_email(cls, deliveries):
        todo = []
        for delivery in deliveries:
            if delivery.address:
                todo.append(delivery)
            else:
                cls._failed(delivery, gettext(
                        'isp_billing.msg_delivery_no_email'))
        if not todo:
            return
        try:
            server = smtp_server()
        except Exception as e:
            logger.warning("SMTP server unreachable: %s", e)
            for delivery in todo:
                cls._failed(delivery, gettext(
                        'isp_billing.msg_delivery_smtp_error', error=e))
            return
        from_ = config.get('email', 'from')
        try:
            for delivery in todo:
                msg = EmailMessage()
                set_from_header(msg, from_, from_)
                msg['To'] = format_address(
                    delivery.address, delivery.party.rec_name)
                msg['Subject'] = delivery.message.subject
                msg.set_content(delivery.message.body)
                try:
                    server = send_message(msg, server=server, strict=True)
                except Exception as e:
                    cls._failed(delivery, gettext(
                            'isp_billing.msg_delivery_smtp_error', error=e))
                    if server is None or not _connected(server):
                        server = _reconnect()
                else:
                    cls._sent(delivery)
        finally:
            if server is not None:
                try:
                    server.quit()
                except Exception:
                    pass

    @classmethod
    def _deliver_sms(cls, deliveries):
        Configuration = Pool().get('isp.configuration')
        gateway = Configuration(1).sms_gateway()
        for delivery in deliveries:
            if not gateway:
                cls._failed(delivery, gettext(
                        'isp_billing.msg_message_no_sms_gateway'))
            elif not delivery.address:
                cls._failed(delivery, gettext(
                        'isp_billing.msg_delivery_no_phone'))
            else:
                try:
                    gateway.send(delivery.address, delivery.message.body)
                except sms.SmsError as e:
                    cls._failed(delivery, gettext(
                            'isp_billing.msg_delivery_sms_error', error=e))
                else:
                    cls._sent(delivery)


def _connected(server):
    return getattr(server, 'sock', None) is not None


def _reconnect():
    try:
        return smtp_server()
    except Exception:
        return None
