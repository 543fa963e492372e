"""SMS gateways: the interface the message queue task sends through, and one
generic HTTP gateway configured by a URL template, a method, a body
template and an authentication.

No trytond import here (like routeros/): the queue task in
models/message.py builds a gateway from isp.configuration and calls
``send``; a failure is an :class:`SmsError` whose text lands on the
delivery record.
"""
import base64
import json
import urllib.error
import urllib.parse
import urllib.request

__all__ = ['SmsError', 'Gateway', 'HttpGateway']

#: placeholders a template may hold
PLACEHOLDERS = ('{to}', '{text}')


class SmsError(Exception):
    "The gateway refused the message or could not be reached"


class Gateway:
    "What the message task needs from an SMS gateway"

    def send(self, to, text):
        "Send text to the number; raise SmsError when it is not accepted"
        raise NotImplementedError


def _fill(template, to, text, quote):
    "Replace the placeholders, each value escaped for where it goes"
    return (template
        .replace('{to}', quote(to))
        .replace('{text}', quote(text)))


def _json_quote(value):
    # inside a JSON string literal: "{text}" in the template
    return json.dumps(value)[1:-1]


class HttpGateway(Gateway):
    """One HTTP request per SMS.

    url: e.g. ``https://sms.example/send?to={to}&msg={text}`` (values
    URL-encoded); method GET or POST; body (POST): a template, form
    encoded (``to={to}&text={text}``) or JSON (``{"to": "{to}",
    "text": "{text}"}``); auth: None, 'basic' (username/secret) or
    'bearer' (secret). Any 2xx answer means accepted."""

    def __init__(self, url, method='POST', body=None, content_type='form',
            auth=None, username=None, secret=None, timeout=10.0):
        self.url = url
        self.method = (method or 'POST').upper()
        self.body = body
        self.content_type = content_type or 'form'
        self.auth = auth
        self.username = username or ''
        self.secret = secret or ''
        self.timeout = timeout

    def request(self, to, text):
        "The urllib request for one SMS (no network)"
        url = _fill(self.url, to, text,
            lambda v: urllib.parse.quote(v, safe=''))
        data = None
        headers = {}
        if self.method == 'POST' and self.body:
            if self.content_type == 'json':
                data = _fill(self.body, to, text, _json_quote)
                headers['Content-Type'] = 'application/json'
            else:
                data = _fill(self.body, to, text, urllib.parse.quote_plus)
                headers['Content-Type'] = 'application/x-www-form-urlencoded'
            data = data.encode('utf-8')
        if self.auth == 'basic':
            token = base64.b64encode(
                f'{self.username}:{self.secret}'.encode()).decode()
            headers['Authorization'] = 'Basic ' + token
        elif self.auth == 'bearer':
            headers['Authorization'] = 'Bearer ' + self.secret
        return urllib.request.Request(
            url, data=data, headers=headers, method=self.method)

    def send(self, to, text):
        if not to:
            raise SmsError("no phone number")
        try:
            with urllib.request.urlopen(
                    self.request(to, text), timeout=self.timeout) as answer:
                answer.read()
        except urllib.error.HTTPError as e:
            detail = e.read(200).decode('utf-8', 'replace').strip()
            raise SmsError(f"HTTP {e.code} {e.reason}: {detail}".strip(': '))
        except (urllib.error.URLError, OSError, ValueError) as e:
            raise SmsError(str(getattr(e, 'reason', e) or e))
