"""How the module reaches the mail server: Tryton's SMTP connection, with
a timeout.

Without one, a mail server that takes the connection and never answers
holds the staff request or the portal page that sends (an invitation, a
password link, a reply to a request) for as long as the socket lives.  The
``[email] uri`` may set its own ``?timeout=``; otherwise
``[isp_billing] smtp_timeout`` (seconds, 30 by default) applies.
"""
from urllib.parse import parse_qs

from trytond.config import config, parse_uri
from trytond.sendmail import get_smtp_server

__all__ = ['smtp_server', 'smtp_uri']

DEFAULT_TIMEOUT = 30


def smtp_uri(uri=None):
    "The SMTP uri with a timeout"
    uri = uri or config.get('email', 'uri')
    query = parse_uri(uri).query
    if 'timeout' in parse_qs(query):
        return uri
    timeout = config.getint(
        'isp_billing', 'smtp_timeout', default=DEFAULT_TIMEOUT)
    return '%s%stimeout=%d' % (uri, '&' if query else '?', timeout)


def smtp_server(uri=None):
    "A connected SMTP server (raises when it cannot be reached in time)"
    return get_smtp_server(smtp_uri(uri), strict=True)
