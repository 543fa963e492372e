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
from trytond.sendmail import get_smtp_server, send_message

__all__ = ['send_now', 'smtp_server', 'smtp_uri']

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


def send_now(messages, uri=None):
    """Send the messages now, in the request, with any SMTP error raised.

    The portal's mails carry a token (reset link, invitation) written in
    the same transaction, and a reply to a request is one: sent before the
    commit, a mail the server did not take raises and the rest is rolled
    back, so nothing is kept that the customer never received and no one is
    told "sent".  (Sent after the commit, as send_message_transactional
    does, a failure can only be logged.)  The server is asked even with no
    message, so that an unknown address fails like a known one while SMTP
    is down.  The error carries ``isp_sent``: how many mails went before."""
    server = smtp_server(uri)
    sent = 0
    try:
        for msg in messages:
            try:
                server = send_message(
                    msg, server=server, strict=True) or server
            except BaseException as error:
                error.isp_sent = sent  # mails already gone (see callers)
                raise
            sent += 1
    except BaseException:
        server.close()
        raise
    server.quit()
