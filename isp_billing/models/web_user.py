"""Portal logins of customers (web.user of the web_user module).

Staff invite a customer from the customer form: a web user is created (or
found) for the customer's email and a link to choose a password is mailed.
The portal routes only call the methods here.

Importing this module (trytond does when it loads the module's classes)
registers the portal routes on trytond's WSGI app.  Not from the package's
__init__: importing isp_billing (the demo loader, the router driver) must
not import trytond.wsgi, which picks the database backend from the
configuration before the caller has loaded it.
"""
import datetime as dt
import logging
import re
import smtplib
from email.message import EmailMessage
from email.utils import make_msgid

from sql import Literal

from trytond import config
from trytond.exceptions import RateLimitException
from trytond.i18n import gettext
from trytond.pool import Pool, PoolMeta
from trytond.tools.email_ import format_address, set_from_header
from trytond.transaction import Transaction
from trytond.url import host

from .. import portal  # noqa: F401 registers the portal's HTTP routes
from ..exceptions import PortalError, PortalMailError
from ..mail import send_now

logger = logging.getLogger(__name__)

#: failed logins of one email before the portal refuses it (429)
MAX_ATTEMPTS = 5
#: an invitation link stays valid this long
INVITATION_VALIDITY = dt.timedelta(days=7)
EMAIL = re.compile(r'^[^@\s<>"]+@[^@\s<>"]+\.[^@\s<>"]+$')
PHONE = re.compile(r'^\+?[0-9 ()./-]{5,25}$')


class WebUser(metaclass=PoolMeta):
    __name__ = 'web.user'

    @classmethod
    def portal_authenticate(cls, email, password):
        """The customer's web user, or None; RateLimitException after
        MAX_ATTEMPTS failures for that email (even with the right password)"""
        Attempt = Pool().get('web.user.authenticate.attempt')
        email = (email or '').strip().lower()
        if not email or not password:
            return None
        if Attempt.count(email) >= MAX_ATTEMPTS:
            Attempt.add(email)
            raise RateLimitException()
        user = cls.authenticate(email, password)
        if user and user.party and user.party.isp_customer:
            return user
        return None

    @classmethod
    def portal_session(cls, key):
        """(web user id, customer id, customer name) of a live portal
        session, or None: web.user.session's get_user (same timeout) in one
        query, without loading records -- every portal page asks it"""
        pool = Pool()
        Session = pool.get('web.user.session')
        Party = pool.get('party.party')
        if not key:
            return None
        session = Session.__table__()
        user = cls.__table__()
        party = Party.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*session
            .join(user, condition=session.user == user.id)
            .join(party, condition=user.party == party.id)
            .select(user.id, party.id, party.name, party.code,
                session.write_date, session.create_date,
                where=(session.key == key) & (user.active == Literal(True))
                & (party.isp_customer == Literal(True)),
                limit=1))
        row = cursor.fetchone()
        if not row:
            return None
        user_id, party_id, name, code, write_date, create_date = row
        last = write_date or create_date
        if abs(last - dt.datetime.now()) > Session.timeout():
            Session.get_user(key)  # removes it (in a read-write request)
            return None
        return user_id, party_id, name or '[%s]' % code

    @classmethod
    def portal_forgotten(cls, email):
        "Mail a password reset link if the email belongs to a portal user"
        email = (email or '').strip().lower()
        if not email:
            raise PortalError(gettext('isp_billing.msg_portal_email_required'))
        users = cls.search([
                ('email', '=', email),
                ('email_valid', '=', True),
                ('party', '!=', None),
                ])
        # as web_user's reset_password: no new link while one is valid (a
        # flood of mails to someone else's address)
        now = dt.datetime.now()
        users = [u for u in users if not (u.reset_password_token_expire
                and u.reset_password_token_expire > now)]
        for user in users:
            user.set_reset_password_token()
        cls.save(users)
        from_ = config.get('email', 'from')
        messages = []
        for user in users:
            msg, title = user.get_email_reset_password()
            set_from_header(msg, from_, from_)
            msg['To'] = user.email
            msg['Subject'] = title
            messages.append(msg)
        try:
            send_now(messages)
        except (OSError, smtplib.SMTPException) as e:
            logger.warning("portal password reset mail not sent: %s", e)
            raise PortalMailError(
                gettext('isp_billing.msg_portal_mail_failed')) from e

    @classmethod
    def portal_set_password(cls, email, token, password, confirm):
        "Set the password from a reset or invitation link: True if done"
        if not password or password != confirm:
            raise PortalError(
                gettext('isp_billing.msg_portal_password_mismatch'))
        return cls.set_password_token(email or '', token or '', password)

    @classmethod
    def portal_invite(cls, parties):
        """Create (or find) the web user of each customer and mail the link
        that sets the first password; an SMTP failure fails the invitation
        (PortalMailError: nothing is kept, see send_now)"""
        url = config.get('web', 'reset_password_url')
        if not url:
            raise PortalError(gettext('isp_billing.msg_portal_no_url'))
        from_ = config.get('email', 'from')
        Email = Pool().get('ir.email')
        messages = []
        for party in parties:
            email = (party.email or '').strip().lower()
            if not party.isp_customer or not email:
                raise PortalError(gettext(
                        'isp_billing.msg_portal_invite_no_email',
                        customer=party.rec_name))
            users = cls.search([('email', '=', email)])
            if users:
                user, = users
                if user.party and user.party != party:
                    raise PortalError(gettext(
                            'isp_billing.msg_portal_invite_email_taken',
                            customer=party.rec_name, email=email))
            else:
                user = cls(email=email)
            user.party = party
            user.email_valid = True
            user.set_reset_password_token()
            user.reset_password_token_expire = (
                dt.datetime.now() + INVITATION_VALIDITY)
            user.save()
            msg = EmailMessage()
            set_from_header(msg, from_, from_)
            msg['To'] = format_address(email, party.rec_name)
            msg['Subject'] = gettext('isp_billing.msg_portal_invite_subject')
            msg.set_content(gettext('isp_billing.msg_portal_invite_body',
                    customer=party.rec_name, email=email,
                    url=user.get_email_reset_password_url(url)))
            msg['Message-ID'] = make_msgid(domain=host())
            Email.from_message(msg, resource=party).save()
            messages.append(msg)
        try:
            send_now(messages)
        except (OSError, smtplib.SMTPException) as e:
            logger.warning("portal invitation not sent: %s", e)
            sent = getattr(e, 'isp_sent', 0)
            if sent:
                # their links die with this transaction: say who to invite
                # again rather than let them find a dead link alone
                raise PortalMailError(gettext(
                        'isp_billing.msg_portal_invite_mail_failed_partway',
                        error=e, customers=', '.join(
                            m['To'] for m in messages[:sent]))) from e
            raise PortalMailError(gettext(
                    'isp_billing.msg_portal_invite_mail_failed',
                    error=e)) from e

    def portal_update_details(self, values):
        """The customer edits phone, email and address directly; a change of
        name or customer type becomes a request to staff (returned)"""
        pool = Pool()
        Party = pool.get('party.party')
        Request = pool.get('isp.request')
        ContactMechanism = pool.get('party.contact_mechanism')
        Address = pool.get('party.address')
        party = self.party
        values = {k: (v or '').strip() for k, v in values.items()}
        email = values.get('email', '')
        if email and not EMAIL.match(email):
            raise PortalError(gettext(
                    'isp_billing.msg_portal_email_invalid', email=email))
        phone = values.get('phone', '')
        if phone and not PHONE.match(phone):
            raise PortalError(gettext(
                    'isp_billing.msg_portal_phone_invalid', phone=phone))
        for type_, value in [('email', email), ('phone', phone)]:
            mechanisms = [m for m in party.contact_mechanisms
                if m.type == type_]
            if mechanisms and value != mechanisms[0].value:
                if value:
                    mechanisms[0].value = value
                    mechanisms[0].save()
                else:
                    ContactMechanism.delete(mechanisms[:1])
            elif not mechanisms and value:
                ContactMechanism.create([{
                            'party': party.id, 'type': type_,
                            'value': value}])
        address = {k: values.get(k, '') for k in [
                'street', 'postal_code', 'city']}
        if party.addresses:
            Address.write([party.addresses[0]], address)
        elif any(address.values()):
            Address.create([dict(address, party=party.id)])
        changes = []
        name = values.get('name', '')
        if name and name != party.name:
            changes.append(gettext('isp_billing.msg_request_change_name',
                    old=party.name, new=name))
        types = dict(Party.isp_customer_type.selection)
        ctype = values.get('customer_type', '')
        if ctype in types and ctype and ctype != party.isp_customer_type:
            changes.append(gettext('isp_billing.msg_request_change_type',
                    old=types.get(party.isp_customer_type, ''),
                    new=types[ctype]))
        if changes:
            return [Request.submit(party, 'request',
                    gettext('isp_billing.msg_request_change_subject'),
                    '\n'.join(changes))]
        return []
