"""Time helpers of the module: one clock, one way to show a timestamp.

Tryton stores timestamps naive, in UTC.  Every "now" of the module comes from
:func:`utcnow`, so tests can move time with :func:`frozen_clock` instead of
depending on the wall clock.  The clock is a module global, never a context
key: a client must not be able to choose the time a payment is applied at.
"""
import datetime as dt
from contextlib import contextmanager
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

_now = None


def utcnow():
    "Naive UTC now (to the second), as Tryton stores timestamps"
    if _now is not None:
        return _now
    return dt.datetime.now(dt.timezone.utc).replace(
        tzinfo=None, microsecond=0)


@contextmanager
def frozen_clock(now):
    "Make utcnow() return now (naive UTC) inside the block (tests)"
    global _now
    previous, _now = _now, now
    try:
        yield now
    finally:
        _now = previous


def company_timezone(company):
    "The company's time zone name (UTC when it has none)"
    return (company.timezone if company and company.timezone else 'UTC')


def context_timezone(company=None):
    """The time zone staff read a timestamp in: the user's (the client's
    context), else the company's (given, else the context's), else UTC"""
    from trytond.pool import Pool
    from trytond.transaction import Transaction
    context = Transaction().context
    if context.get('timezone'):
        return context['timezone']
    if company is None and (context.get('company') or -1) >= 0:
        company = Pool().get('company.company')(context['company'])
    return company_timezone(company)


def fmt_ts(value, timezone='UTC'):
    """A stored (naive UTC) timestamp as the company reads it: in its time
    zone, to the minute"""
    if not value:
        return '-'
    if timezone != 'UTC':
        value = value.replace(tzinfo=dt.timezone.utc).astimezone(
            ZoneInfo(timezone))
    return value.strftime('%Y-%m-%d %H:%M')


def as_days(delta):
    "A timedelta in days, to the hundredth"
    return (Decimal(delta.total_seconds()) / 86400).quantize(
        Decimal('0.01'), rounding=ROUND_HALF_UP)


def fmt_delta(delta):
    "A timedelta as staff read it: '-3d 4h05'"
    seconds = int(delta.total_seconds())
    sign = '-' if seconds < 0 else ''
    seconds = abs(seconds)
    days, rest = divmod(seconds, 86400)
    return f'{sign}{days}d {rest // 3600}h{(rest % 3600) // 60:02d}'


#: how the web client shows a moment: to the minute, in the user's date format
MINUTE_FORMAT = '%H:%M'


def minute_timestamp(string, **kwargs):
    "A Timestamp field shown to the minute (for Function fields)"
    from trytond.model import fields
    field = fields.Timestamp(string, **kwargs)
    field.format = MINUTE_FORMAT
    return field
