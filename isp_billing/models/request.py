"""Customer requests (request, feedback, complaint, inquiry) and their replies.

Customers write them in the portal; staff handle them in the Requests inbox.
A staff reply reaches the customer in the portal and by email, sent at the
commit (:class:`ReplyMailer`) so that a reply that is rolled back is never
mailed, and a mail the server does not take fails the reply with a clear
message instead of being lost.
"""
from email.message import EmailMessage

from trytond import config
from trytond.i18n import gettext
from trytond.model import Index, ModelSQL, ModelView, Workflow, fields
from trytond.model.exceptions import AccessError
from trytond.pool import Pool
from trytond.pyson import Eval
from trytond.sendmail import SMTPDataManager, send_message_transactional
from trytond.tools.email_ import format_address, set_from_header
from trytond.transaction import Transaction

from ..exceptions import RequestError
from ..mail import send_now
from ..times import utcnow
from .service import plan_name

KINDS = [
    ('request', "Request"),
    ('feedback', "Feedback"),
    ('complaint', "Complaint"),
    ('inquiry', "Inquiry"),
    ]
STATES = [
    ('open', "Open"),
    ('in_progress', "In Progress"),
    ('answered', "Answered"),
    ('closed', "Closed"),
    ]
SUBJECT_SIZE = 200
TEXT_SIZE = 10000


class Request(Workflow, ModelSQL, ModelView):
    "Customer Request"
    __name__ = 'isp.request'
    __string__ = "Customer Request"

    customer = fields.Many2One(
        'party.party', "Customer", required=True, ondelete='CASCADE',
        domain=[('isp_customer', '=', True)],
        states={'readonly': Eval('id', -1) >= 0})
    service = fields.Many2One(
        'isp.service', "Service", ondelete='SET NULL',
        domain=[('customer', '=', Eval('customer', -1))],
        states={'readonly': Eval('state') == 'closed'},
        help="The internet service the request is about, if any.")
    router = fields.Function(fields.Many2One('isp.router', "Router"),
        'get_service_field', searcher='search_service_field')
    plan = fields.Function(fields.Many2One('product.product', "Plan"),
        'get_service_field', searcher='search_service_field')
    kind = fields.Selection(KINDS, "Kind", required=True,
        states={'readonly': Eval('id', -1) >= 0})
    subject = fields.Char("Subject", required=True, size=SUBJECT_SIZE,
        states={'readonly': Eval('id', -1) >= 0})
    text = fields.Text("Text", required=True,
        states={'readonly': Eval('id', -1) >= 0})
    state = fields.Selection(STATES, "State", readonly=True, required=True,
        sort=False)
    assigned_to = fields.Many2One('res.user', "Assigned To",
        states={'readonly': Eval('state') == 'closed'})
    date = fields.Timestamp("Date", required=True, readonly=True)
    replies = fields.One2Many('isp.request.reply', 'request', "Replies",
        states={'readonly': Eval('state') == 'closed'},
        order=[('date', 'ASC'), ('id', 'ASC')])

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.update({
                Index(t, (t.customer, Index.Range())),
                Index(t, (t.state, Index.Equality())),
                })
        cls._order = [('date', 'DESC'), ('id', 'DESC')]
        cls._transitions |= {
            ('open', 'in_progress'),
            ('open', 'answered'),
            ('in_progress', 'answered'),
            ('open', 'closed'),
            ('in_progress', 'closed'),
            ('answered', 'closed'),
            ('answered', 'in_progress'),
            ('closed', 'open'),
            }
        cls._buttons.update({
                'start': {
                    'invisible': ~Eval('state').in_(['open', 'answered']),
                    'depends': ['state'],
                    },
                'close': {
                    'invisible': Eval('state') == 'closed',
                    'depends': ['state'],
                    },
                'reopen': {
                    'invisible': Eval('state') != 'closed',
                    'depends': ['state'],
                    },
                })

    @classmethod
    def default_state(cls):
        return 'open'

    @classmethod
    def default_kind(cls):
        return 'request'

    @classmethod
    def default_date(cls):
        return utcnow()

    def get_rec_name(self, name):
        return '#%s %s' % (self.id, self.subject)

    def get_service_field(self, name):
        if self.service:
            record = getattr(self.service, name)
            return record.id if record else None

    @classmethod
    def search_service_field(cls, name, clause):
        return [('service.' + clause[0], *clause[1:])]

    @classmethod
    @ModelView.button
    @Workflow.transition('in_progress')
    def start(cls, requests):
        to_assign = [r for r in requests if not r.assigned_to]
        user = Transaction().user
        if to_assign and user:
            cls.write(to_assign, {'assigned_to': user})

    @classmethod
    @ModelView.button
    @Workflow.transition('closed')
    def close(cls, requests):
        pass

    @classmethod
    @ModelView.button
    @Workflow.transition('open')
    def reopen(cls, requests):
        pass

    @classmethod
    @Workflow.transition('answered')
    def answered(cls, requests):
        pass

    @classmethod
    def portal_read(cls, customer_id, request_id=None):
        """The customer's requests (or the one of request_id) as the portal
        shows them, newest first, with their replies oldest first, in two
        queries: [{id, kind, subject, text, state, date, plan, replies:
        [{author, text, date}]}].  Portal routes run as root: the customer
        filter is here."""
        pool = Pool()
        Reply = pool.get('isp.request.reply')
        Service = pool.get('isp.service')
        Product = pool.get('product.product')
        Template = pool.get('product.template')
        request = cls.__table__()
        reply = Reply.__table__()
        service = Service.__table__()
        product = Product.__table__()
        template = Template.__table__()
        where = request.customer == customer_id
        if request_id is not None:
            where &= request.id == request_id
        cursor = Transaction().connection.cursor()
        cursor.execute(*request
            .join(service, 'LEFT', condition=request.service == service.id)
            .join(product, 'LEFT', condition=service.plan == product.id)
            .join(template, 'LEFT',
                condition=product.template == template.id)
            .select(request.id, request.kind, request.subject, request.text,
                request.state, request.date, product.code, template.name,
                where=where,
                order_by=[request.date.desc, request.id.desc]))
        requests = [{
                'id': id_, 'kind': kind, 'subject': subject, 'text': text,
                'state': state, 'date': date,
                'plan': plan_name(code, name) if name else '',
                'replies': [],
                } for id_, kind, subject, text, state, date, code, name
            in cursor]
        if requests:
            by_id = {r['id']: r for r in requests}
            cursor.execute(*reply.select(reply.request, reply.author,
                    reply.text, reply.date,
                    where=reply.request.in_(list(by_id)),
                    order_by=[reply.date.asc, reply.id.asc]))
            for request_, author, text, date in cursor:
                by_id[request_]['replies'].append(
                    {'author': author, 'text': text, 'date': date})
        return requests

    @classmethod
    def submit(cls, customer, kind, subject, text, service=None):
        """A request written by the customer (portal): checked here so the
        customer reads one clear message, not a field error"""
        subject = (subject or '').strip()
        text = (text or '').strip()
        if kind not in dict(KINDS):
            raise RequestError(gettext('isp_billing.msg_request_kind'))
        if not subject:
            raise RequestError(gettext('isp_billing.msg_request_subject'))
        if len(subject) > SUBJECT_SIZE:
            raise RequestError(gettext(
                    'isp_billing.msg_request_subject_long',
                    size=SUBJECT_SIZE))
        if not text:
            raise RequestError(gettext('isp_billing.msg_request_text'))
        if len(text) > TEXT_SIZE:
            raise RequestError(gettext(
                    'isp_billing.msg_request_text_long', size=TEXT_SIZE))
        if service is not None and service.customer != customer:
            raise RequestError(gettext('isp_billing.msg_request_service'))
        request, = cls.create([{
                    'customer': customer.id,
                    'service': service.id if service else None,
                    'kind': kind,
                    'subject': subject,
                    'text': text,
                    }])
        return request

    def customer_reply(self, text):
        "The customer answers in the portal: the request is open again"
        pool = Pool()
        Reply = pool.get('isp.request.reply')
        text = (text or '').strip()
        if not text:
            raise RequestError(gettext('isp_billing.msg_request_text'))
        if len(text) > TEXT_SIZE:
            raise RequestError(gettext(
                    'isp_billing.msg_request_text_long', size=TEXT_SIZE))
        if self.state == 'closed':
            raise RequestError(gettext('isp_billing.msg_request_closed'))
        reply, = Reply.create([{
                    'request': self.id, 'author': 'customer', 'text': text}])
        if self.state == 'answered':
            self.__class__.write([self], {'state': 'open'})
        return reply


class ReplyMailer(SMTPDataManager):
    """Sends the reply mails while the transaction commits, strictly.

    Tryton's strict data manager only connects before the commit and sends
    after it, logging what the server refuses: a reply would be saved and
    its mail lost.  This one sends every mail in the vote, before the
    database commits: any SMTP error aborts the commit (the reply is not
    saved) with a message staff can act on."""

    def __eq__(self, other):
        # never merged with another module's data manager into one
        return isinstance(other, ReplyMailer) and super().__eq__(other)

    def tpc_vote(self, trans):
        try:
            send_now([msg for _, _, msg in self.queue], self.uri)
        except Exception as error:
            raise RequestError(gettext(
                    'isp_billing.msg_request_reply_mail_failed',
                    error=str(error) or error.__class__.__name__)) from error
        finally:
            self.queue = []

    def tpc_finish(self, trans):
        self._finish()


class RequestReply(ModelSQL, ModelView):
    "Customer Request Reply"
    __name__ = 'isp.request.reply'
    __string__ = "Customer Request Reply"

    request = fields.Many2One('isp.request', "Request", required=True,
        ondelete='CASCADE')
    author = fields.Selection([
            ('staff', "Staff"),
            ('customer', "Customer"),
            ], "Author", required=True, readonly=True)
    user = fields.Many2One('res.user', "Staff User", readonly=True)
    text = fields.Text("Text", required=True)
    date = fields.Timestamp("Date", required=True, readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.__access__.add('request')
        t = cls.__table__()
        cls._sql_indexes.add(Index(t, (t.request, Index.Range())))
        cls._order = [('date', 'ASC'), ('id', 'ASC')]

    @classmethod
    def default_author(cls):
        return 'staff'

    @classmethod
    def default_date(cls):
        return utcnow()

    @classmethod
    def default_user(cls):
        return Transaction().user or None

    @classmethod
    def check_modification(cls, mode, replies, values=None, external=False):
        super().check_modification(
            mode, replies, values=values, external=external)
        # the conversation is a record of what was said: no edits by staff
        # and staff never write in the customer's name
        if external and mode in {'write', 'delete'}:
            raise AccessError(gettext('isp_billing.msg_request_reply_readonly'))
        if external and mode == 'create':
            if any(r.author != 'staff' for r in replies):
                raise AccessError(
                    gettext('isp_billing.msg_request_reply_readonly'))

    @classmethod
    def preprocess_values(cls, mode, values):
        values = super().preprocess_values(mode, values)
        if mode == 'create' and values.get('author', 'staff') == 'staff':
            values['user'] = Transaction().user or None
        return values

    @classmethod
    def on_modification(cls, mode, replies, field_names=None):
        super().on_modification(mode, replies, field_names=field_names)
        if mode == 'create':
            staff = [r for r in replies if r.author == 'staff']
            if staff:
                cls.notify(staff)

    @classmethod
    def notify(cls, replies):
        """Mark the requests answered and mail each staff reply to its
        customer; sent at the commit, an SMTP failure fails the reply"""
        pool = Pool()
        Request = pool.get('isp.request')
        Email = pool.get('ir.email')
        requests = list({r.request for r in replies})
        Request.answered(
            [r for r in requests if r.state in {'open', 'in_progress'}])
        datamanager = None
        from_ = config.get('email', 'from')
        for reply in replies:
            customer = reply.request.customer
            if not customer.email:
                continue
            if datamanager is None:
                datamanager = ReplyMailer(strict=True)
            msg = EmailMessage()
            set_from_header(msg, from_, from_)
            msg['To'] = format_address(customer.email, customer.rec_name)
            msg['Subject'] = gettext('isp_billing.msg_request_reply_subject',
                subject=reply.request.subject)
            msg.set_content(gettext('isp_billing.msg_request_reply_body',
                    customer=customer.rec_name, text=reply.text,
                    subject=reply.request.subject))
            send_message_transactional(msg, datamanager=datamanager)
            Email.from_message(msg, resource=reply.request).save()
