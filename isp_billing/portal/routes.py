"""Customer portal: pages served by trytond's WSGI app under
/<database>/isp_billing/portal/.

Handlers run as user 0 (no access checks, no record rules), so every query
here is filtered on the logged-in customer's party, and a record of another
customer answers 404 exactly like a record that does not exist.  The work is
done by model methods (models/request.py, models/web_user.py), and so are
the reads: each list a page shows comes from one query of a ``portal_read``
method that takes the customer's id; this module calls and renders.

Security: the session cookie is HttpOnly, SameSite=Lax, Secure over https
and not named like trytond's staff cookie; every POST carries a CSRF token
(derived from the session, or a double-submit cookie before login); pages
are Genshi templates (escaped); errors are plain pages without tracebacks.
"""
import functools
import hashlib
import hmac
import logging
import mimetypes
import os
import secrets
import urllib.parse

from genshi.template import MarkupTemplate, TemplateLoader
from werkzeug.exceptions import HTTPException

from trytond.exceptions import RateLimitException, UserError
from trytond.model.exceptions import ValidationError
from trytond.protocols.wrappers import (
    HTTPStatus, Response, abort, redirect, with_pool, with_transaction)
from trytond.pool import Pool
from trytond.transaction import Transaction
from trytond.wsgi import app

from ..exceptions import PortalMailError
from ..models.party import CUSTOMER_TYPES
from ..times import fmt_ts

logger = logging.getLogger(__name__)

PREFIX = '/<database_name>/isp_billing/portal'
#: never 'tryton_session': trytond reads that cookie as a staff session
SESSION_COOKIE = 'isp_portal'
LOGIN_CSRF_COOKIE = 'isp_portal_csrf'
SESSION_MAX_AGE = 30 * 24 * 3600

HERE = os.path.dirname(__file__)
loader = TemplateLoader(os.path.join(HERE, 'templates'),
    auto_reload=False, default_class=MarkupTemplate)

#: what a customer reads for each service state (no router words)
SERVICE_STATES = {
    'draft': "Being set up",
    'active': "Connected",
    'expired': "Disconnected: paid time is over",
    'suspended': "Paused",
    'cancelled': "Closed",
    }
REQUEST_STATES = {
    'open': "Open",
    'in_progress': "In progress",
    'answered': "Answered",
    'closed': "Closed",
    }
REQUEST_KINDS = [
    ('request', "Request"),
    ('feedback', "Feedback"),
    ('complaint', "Complaint"),
    ('inquiry', "Inquiry"),
    ]
HEADERS = {
    'Cache-Control': 'no-store',
    'X-Frame-Options': 'DENY',
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'same-origin',
    'Content-Security-Policy': "default-src 'self'; img-src 'self' data:",
    }


def render(template, code=HTTPStatus.OK, **context):
    html = loader.load(template).generate(**context).render(
        'html', doctype='html5')
    return Response(html, code, content_type='text/html; charset=utf-8',
        headers=HEADERS)


def base_url(database):
    return '/%s/isp_billing/portal' % database


def set_cookie(request, response, database, name, value, max_age):
    response.set_cookie(name, value, max_age=max_age,
        path=base_url(database) + '/', secure=request.is_secure,
        httponly=True, samesite='Lax')


def csrf_token(session_key):
    "One token per session, derived from it: nothing stored"
    return hmac.new(session_key.encode(), b'isp-portal-form',
        hashlib.sha256).hexdigest()


def check_csrf(expected, request):
    given = request.form.get('csrf', '')
    if not expected or not hmac.compare_digest(expected, given):
        abort(HTTPStatus.FORBIDDEN)


def error_page(status, message=None):
    status = HTTPStatus(status)
    return render('error.html', status, status=status.value,
        title=status.phrase, message=message)


class Portal:
    """What a page handler needs: the request, the pool and the customer.

    The session is checked in one query (WebUser.portal_session); the
    customer's records are read by model methods that filter on
    customer_id, each page in one or two queries."""

    def __init__(self, request, pool):
        self.request = request
        self.pool = pool
        self.base = base_url(pool.database_name)
        self.key = request.cookies.get(SESSION_COOKIE)
        session = pool.get('web.user').portal_session(self.key)
        if session:
            self.user_id, self.customer_id, self.customer_name = session
        else:
            self.key = self.user_id = self.customer_id = None
            self.customer_name = None
        self._services = None

    @property
    def user(self):
        "The customer's web.user (not read until used), None before login"
        if self.user_id is None:
            return None
        return self.pool.get('web.user')(self.user_id)

    @property
    def customer(self):
        "The customer's party (not read until used)"
        return self.pool.get('party.party')(self.customer_id)

    def render(self, name, status=HTTPStatus.OK, **context):
        context.setdefault('message', None)
        context.setdefault('error', None)
        return render(name, status, base=self.base,
            csrf=csrf_token(self.key) if self.key else None,
            customer={'rec_name': self.customer_name}
            if self.user_id else None,
            page=name.split('.')[0], **context)

    def redirect(self, path, **params):
        url = self.base + path
        if params:
            url += '?' + urllib.parse.urlencode(params)
        return redirect(url, code=303)

    def get(self, model, record_id, customer_field='customer'):
        "A record of this customer, else 404 (also for other customers')"
        Model = self.pool.get(model)
        records = Model.search([
                ('id', '=', record_id),
                (customer_field, '=', self.customer_id),
                ], limit=1)
        if not records:
            abort(HTTPStatus.NOT_FOUND)
        return records[0]

    def services(self):
        "The customer's services (not closed), read once per request"
        if self._services is None:
            self._services = self.pool.get('isp.service').portal_read(
                self.customer_id)
        return self._services

    def timezone(self):
        "The time zone the customer's dates are shown in (their company's)"
        services = self.services()
        return services[0]['timezone'] if services else 'UTC'


def page(path, methods=('GET',), readonly=True, login=True):
    """Register a portal page: errors become plain pages, a missing login
    redirects to the login page, every POST of a logged-in customer must
    carry the session's CSRF token"""
    def decorator(func):
        @with_pool
        @with_transaction(readonly=readonly)
        def handler(request, pool, **kwargs):
            portal = Portal(request, pool)
            if login:
                if not portal.user_id:
                    if request.method == 'POST':
                        abort(HTTPStatus.FORBIDDEN)
                    return portal.redirect('/login')
                if request.method == 'POST':
                    check_csrf(csrf_token(portal.key), request)
            return func(portal, **kwargs)

        @functools.wraps(func)
        def endpoint(request, database_name, **kwargs):
            try:
                return handler(request, database_name, **kwargs)
            except HTTPException as e:
                if e.code and e.code < 400:
                    raise
                return error_page(e.code or 500)
            except Exception:
                logger.exception("portal page %s failed", path)
                return error_page(HTTPStatus.INTERNAL_SERVER_ERROR)
        endpoint.__name__ = 'isp_portal_' + func.__name__
        app.route(PREFIX + path, methods=set(methods))(endpoint)
        return func
    return decorator


# --- static ---

@app.route('/<database_name>/isp_billing/portal/portal.css', methods={'GET'})
def portal_css(request, database_name):
    with open(os.path.join(HERE, 'static', 'portal.css'), 'rb') as fp:
        return Response(fp.read(), content_type='text/css; charset=utf-8',
            headers={'Cache-Control': 'max-age=3600'})


# --- login, logout, passwords ---

def login_page(request, database, error=None, message=None,
        status=HTTPStatus.OK, email=''):
    token = secrets.token_urlsafe(32)  # login CSRF: double-submit cookie
    response = render('login.html', status, base=base_url(database),
        csrf=token, error=error, message=message, email=email,
        customer=None, page='login', banner=current_banner())
    set_cookie(request, response, database, LOGIN_CSRF_COOKIE, token, 3600)
    return response


def current_banner():
    "The login banner staff set for now: {'text', 'image'} or None"
    banner = Pool().get('isp.banner').current()
    if not banner:
        return None
    return {'text': banner.text, 'image': bool(banner.image)}


@page('/banner-image', login=False)
def banner_image(portal):
    "The image of the current login banner (same origin: the CSP allows it)"
    banner = portal.pool.get('isp.banner').current()
    if not banner or not banner.image:
        abort(HTTPStatus.NOT_FOUND)
    return Response(banner.image, content_type=banner.mimetype,
        headers={'Cache-Control': 'no-cache'})


@page('/login', login=False)
def login_form(portal):
    if portal.user_id:
        return portal.redirect('/')
    messages = {
        'password': "Your password is set: log in.",
        'logout': "You are logged out.",
        }
    return login_page(portal.request, portal.pool.database_name,
        message=messages.get(portal.request.args.get('done')))


@page('/login', methods=('POST',), readonly=False, login=False)
def login(portal):
    request, database = portal.request, portal.pool.database_name
    check_csrf(request.cookies.get(LOGIN_CSRF_COOKIE), request)
    WebUser = portal.pool.get('web.user')
    email = request.form.get('email', '')
    try:
        user = WebUser.portal_authenticate(
            email, request.form.get('password', ''))
    except RateLimitException:
        return login_page(request, database,
            error="Too many failed attempts: wait a while, or use "
            "\"Forgot your password?\".",
            status=HTTPStatus.TOO_MANY_REQUESTS, email=email)
    if not user:
        return login_page(request, database,
            error="Wrong email or password.",
            status=HTTPStatus.UNAUTHORIZED, email=email)
    response = portal.redirect('/')
    set_cookie(request, response, database, SESSION_COOKIE,
        user.new_session(), SESSION_MAX_AGE)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path=portal.base + '/')
    return response


@page('/logout', methods=('POST',), readonly=False)
def logout(portal):
    portal.pool.get('web.user.session').remove(portal.key)
    response = portal.redirect('/login', done='logout')
    response.delete_cookie(SESSION_COOKIE, path=portal.base + '/')
    return response


def anonymous_form(portal, template, status=HTTPStatus.OK, **context):
    "A page before login: its form is protected by the login CSRF cookie"
    token = secrets.token_urlsafe(32)
    context.setdefault('message', None)
    context.setdefault('error', None)
    response = render(template, status, base=portal.base, csrf=token,
        customer=None, page=template.split('.')[0], **context)
    set_cookie(portal.request, response, portal.pool.database_name,
        LOGIN_CSRF_COOKIE, token, 3600)
    return response


@page('/forgot', login=False)
def forgot_form(portal):
    return anonymous_form(portal, 'forgot.html', email='')


@page('/forgot', methods=('POST',), readonly=False, login=False)
def forgot(portal):
    request = portal.request
    check_csrf(request.cookies.get(LOGIN_CSRF_COOKIE), request)
    email = request.form.get('email', '')
    try:
        portal.pool.get('web.user').portal_forgotten(email)
    except PortalMailError as e:
        # nothing kept (no token), and the same answer for any address
        Transaction().rollback()
        return anonymous_form(portal, 'forgot.html',
            HTTPStatus.SERVICE_UNAVAILABLE, error=e.message, email=email)
    except UserError as e:
        return anonymous_form(portal, 'forgot.html', HTTPStatus.BAD_REQUEST,
            error=e.message, email=email)
    # the same answer whether the address is known or not
    return anonymous_form(portal, 'forgot.html', email=email,
        message="If this address belongs to a customer, a link to choose "
        "a new password is on its way. Check your email.")


@page('/reset', login=False)
def reset_form(portal):
    args = portal.request.args
    return anonymous_form(portal, 'reset.html', email=args.get('email', ''),
        token=args.get('token', ''))


@page('/reset', methods=('POST',), readonly=False, login=False)
def reset(portal):
    request = portal.request
    check_csrf(request.cookies.get(LOGIN_CSRF_COOKIE), request)
    form = request.form
    email, token = form.get('email', ''), form.get('token', '')
    try:
        done = portal.pool.get('web.user').portal_set_password(
            email, token, form.get('password', ''), form.get('confirm', ''))
    except UserError as e:
        Transaction().rollback()
        return anonymous_form(portal, 'reset.html', HTTPStatus.BAD_REQUEST,
            error=e.message, email=email, token=token)
    if not done:
        return anonymous_form(portal, 'reset.html', HTTPStatus.BAD_REQUEST,
            error="This link is not valid any more: ask for a new one with "
            "\"Forgot your password?\".", email=email, token='')
    return portal.redirect('/login', done='password')


# --- services, usage, payments, bills ---

def service_view(service):
    "A service of Service.portal_read as the pages show it"
    return {
        'id': service['id'],
        'name': service['plan'],
        'login': service['login'],
        'state': service['state'],
        'state_text': SERVICE_STATES.get(service['state'], service['state']),
        'paid_until': (fmt_ts(service['paid_until'], service['timezone'])
            if service['paid_until'] else '-'),
        'timezone': service['timezone'],
        }


@page('/')
def home(portal):
    return portal.render('services.html',
        services=[service_view(s) for s in portal.services()])


def megabytes(value):
    return round((value or 0) / 1_000_000, 1)


def usage_view(service, usages):
    """The service's months (usages: (month, bytes_in, bytes_out), oldest
    first) and the bars of the SVG chart"""
    months = [{
            'month': month.strftime('%Y-%m'),
            'download': megabytes(bytes_out),
            'upload': megabytes(bytes_in),
            } for month, bytes_in, bytes_out in usages]
    chart = None
    if months:
        shown = months[-12:]
        top = max(max(m['download'], m['upload']) for m in shown) or 1
        width, height, left, bottom = 600, 220, 50, 30
        slot = (width - left) / len(shown)
        bar = max(min(slot / 2 - 4, 30), 2)
        bars = []
        for i, m in enumerate(shown):
            x = left + i * slot + (slot - 2 * bar) / 2
            for j, (key, css) in enumerate(
                    [('download', 'down'), ('upload', 'up')]):
                h = (height - bottom - 10) * m[key] / top
                bars.append({'x': round(x + j * bar, 1),
                        'y': round(height - bottom - h, 1),
                        'w': round(bar, 1), 'h': round(h, 1), 'css': css,
                        'title': '%s %s: %s MB' % (m['month'], key, m[key])})
        labels = [{'x': round(left + i * slot + slot / 2, 1),
                'text': m['month']} for i, m in enumerate(shown)]
        chart = {'width': width, 'height': height, 'bars': bars,
            'labels': labels, 'top': top, 'left': left,
            'base': height - bottom}
    return {'service': service_view(service),
        'months': list(reversed(months)), 'chart': chart}


def usage_page(portal, services):
    usages = portal.pool.get('isp.usage').portal_months(
        [s['id'] for s in services])
    return portal.render('usage.html', usages=[
            usage_view(s, usages[s['id']]) for s in services])


@page('/usage')
def usage_all(portal):
    return usage_page(portal, portal.services())


@page('/usage/<int:service_id>')
def usage(portal, service_id):
    services = portal.pool.get('isp.service').portal_read(
        portal.customer_id, service_id)
    if not services:
        abort(HTTPStatus.NOT_FOUND)
    return usage_page(portal, services)


@page('/messages')
def messages(portal):
    "What staff sent this customer through the portal, newest first"
    Delivery = portal.pool.get('isp.message.delivery')
    timezone = portal.timezone()
    return portal.render('messages.html', messages=[{
                'date': fmt_ts(d.sent_date, timezone),
                'subject': d.subject, 'body': d.body,
                } for d in Delivery.portal_messages(portal.customer_id)])


def payment_view(payment):
    "A payment of ServicePayment.portal_read as the page shows it"
    timezone = payment['timezone']
    return {
        'id': payment['id'],
        'date': fmt_ts(payment['date'], timezone),
        'amount': '%s %s' % (payment['amount'], payment['currency']),
        'method': payment['method'],
        'service': payment['plan'],
        'period': '%s – %s' % (fmt_ts(payment['period_start'], timezone),
            fmt_ts(payment['period_end'], timezone)),
        'invoice': payment['invoice'],
        }


@page('/payments')
def payments(portal):
    Payment = portal.pool.get('isp.service.payment')
    return portal.render('payments.html', payments=[
            payment_view(p) for p in Payment.portal_read(portal.customer_id)])


@page('/bill/<int:payment_id>', readonly=False)
def bill(portal, payment_id):
    """The bill of the payment as the invoice report renders it (PDF when
    the report is set up for PDF; its own extension otherwise)"""
    payment = portal.get('isp.service.payment', payment_id)
    InvoiceReport = portal.pool.get('account.invoice', type='report')
    with Transaction().set_context(company=payment.company.id):
        ext, content, _, name = InvoiceReport.execute(
            [payment.invoice.id], {})
    content_type = mimetypes.types_map.get(
        '.' + ext, 'application/octet-stream')
    filename = 'bill-%s.%s' % (
        ''.join(c for c in (payment.invoice.number or str(payment.id))
            if c.isalnum() or c in '-_') or payment.id, ext)
    return Response(bytes(content), content_type=content_type, headers={
            'Content-Disposition': 'attachment; filename="%s"' % filename,
            'Cache-Control': 'no-store',
            'X-Content-Type-Options': 'nosniff'})


# --- my details ---

def details_view(party):
    address = party.addresses[0] if party.addresses else None
    return {
        'name': party.name or '',
        'customer_type': party.isp_customer_type or '',
        'phone': party.phone or '',
        'email': party.email or '',
        'street': (address.street or '') if address else '',
        'postal_code': (address.postal_code or '') if address else '',
        'city': (address.city or '') if address else '',
        }


@page('/details')
def details_form(portal):
    done = {
        'saved': "Your details are saved.",
        'requested': "Your details are saved. The change of name or "
        "customer type was sent to us as a request: see Requests.",
        }
    return portal.render('details.html', details=details_view(
            portal.customer), types=CUSTOMER_TYPES,
        message=done.get(portal.request.args.get('done')))


@page('/details', methods=('POST',), readonly=False)
def details(portal):
    form = portal.request.form
    values = {k: form.get(k, '') for k in [
            'name', 'customer_type', 'phone', 'email', 'street',
            'postal_code', 'city']}
    try:
        requests = portal.user.portal_update_details(values)
    except (UserError, ValidationError) as e:
        Transaction().rollback()
        return portal.render('details.html', HTTPStatus.BAD_REQUEST,
            details=values, types=CUSTOMER_TYPES, error=e.message)
    return portal.redirect('/details',
        done='requested' if requests else 'saved')


# --- requests ---

def request_view(record, timezone):
    """A request of Request.portal_read as the pages show it, its times in
    the customer's (company's) time zone like every date of the portal"""
    return {
        'id': record['id'],
        'kind': dict(REQUEST_KINDS).get(record['kind'], record['kind']),
        'subject': record['subject'],
        'text': record['text'],
        'state': record['state'],
        'state_text': REQUEST_STATES.get(record['state'], record['state']),
        'date': fmt_ts(record['date'], timezone),
        'service': record['plan'],
        'replies': [{
                'author': r['author'],
                'who': "You" if r['author'] == 'customer' else "Our team",
                'text': r['text'],
                'date': fmt_ts(r['date'], timezone),
                } for r in record['replies']],
        }


def request_read(portal, request_id):
    "A request of this customer, else 404 (also for other customers')"
    records = portal.pool.get('isp.request').portal_read(
        portal.customer_id, request_id)
    if not records:
        abort(HTTPStatus.NOT_FOUND)
    return records[0]


def requests_page(portal, status=HTTPStatus.OK, error=None, form=None):
    records = portal.pool.get('isp.request').portal_read(portal.customer_id)
    return portal.render('requests.html', status,
        requests=[request_view(r, portal.timezone()) for r in records],
        kinds=REQUEST_KINDS,
        services=[service_view(s) for s in portal.services()],
        form=form or {'kind': 'request', 'subject': '', 'text': '',
            'service': ''},
        error=error, message="Your request was sent."
        if portal.request.args.get('done') == 'sent' else None)


@page('/requests')
def requests(portal):
    return requests_page(portal)


@page('/requests', methods=('POST',), readonly=False)
def request_new(portal):
    form = portal.request.form
    values = {k: form.get(k, '') for k in ['kind', 'subject', 'text',
            'service']}
    service = None
    try:
        if values['service']:
            try:
                service_id = int(values['service'])
            except ValueError:
                abort(HTTPStatus.NOT_FOUND)
            service = portal.get('isp.service', service_id)
        portal.pool.get('isp.request').submit(portal.customer,
            values['kind'], values['subject'], values['text'],
            service=service)
    except UserError as e:
        Transaction().rollback()
        return requests_page(portal, HTTPStatus.BAD_REQUEST,
            error=e.message, form=values)
    return portal.redirect('/requests', done='sent')


@page('/request/<int:request_id>')
def request_show(portal, request_id):
    return portal.render('request.html',
        request=request_view(request_read(portal, request_id),
            portal.timezone()), text='')


@page('/request/<int:request_id>', methods=('POST',), readonly=False)
def request_reply(portal, request_id):
    record = portal.get('isp.request', request_id)
    text = portal.request.form.get('text', '')
    try:
        record.customer_reply(text)
    except UserError as e:
        Transaction().rollback()
        return portal.render('request.html', HTTPStatus.BAD_REQUEST,
            request=request_view(request_read(portal, record.id),
                portal.timezone()),
            error=e.message, text=text)
    return portal.redirect('/request/%d' % record.id)
