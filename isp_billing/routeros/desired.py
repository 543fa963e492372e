"""What a router should hold, as computed from the database.

The Tryton layer builds these plain objects; the driver never reads the
database.  Every entry we create carries the comment
``isp-billing:<service id>``: that comment is how we recognise our own
entries (and the only thing that lets us rename a login in place).
"""
import re
from dataclasses import dataclass

__all__ = ['KINDS', 'COMMENT_PREFIX', 'DesiredProfile', 'DesiredUser',
    'rate_limit', 'comment_for', 'parse_comment']

KINDS = ('hotspot', 'pppoe')
COMMENT_PREFIX = 'isp-billing:'
_COMMENT = re.compile(r'^isp-billing:(\d+)$')


def _check_kind(kind):
    if kind not in KINDS:
        raise ValueError('kind must be one of %s, not %r'
            % (', '.join(KINDS), kind))


def _rate(kbps):
    kbps = int(kbps)
    if kbps < 0:
        raise ValueError('a rate cannot be negative: %r' % kbps)
    if kbps and kbps % 1000 == 0:
        return '%dM' % (kbps // 1000)
    return '%dk' % kbps if kbps else '0'


def rate_limit(download_kbps, upload_kbps):
    """RouterOS ``rate-limit`` for a plan.

    RouterOS writes it from the router's point of view, ``rx/tx``: rx is
    what the customer uploads, tx what they download -- so a 10 Mbit/s down,
    5 Mbit/s up plan is ``5M/10M``.  ``0`` means unlimited.
    """
    return '%s/%s' % (_rate(upload_kbps), _rate(download_kbps))


def comment_for(service_id):
    """Ownership mark written in the comment of every entry we manage."""
    return '%s%s' % (COMMENT_PREFIX, int(service_id))


def parse_comment(comment):
    """Service id of an entry we own, or None (entry not ours)."""
    if comment is None:
        return None
    match = _COMMENT.match(str(comment).strip())
    return int(match.group(1)) if match else None


@dataclass
class DesiredProfile:
    """A plan as a router profile (``/ip/hotspot/user/profile`` or
    ``/ppp/profile``).

    ``shared_users`` (simultaneous logins) applies to hotspot profiles
    only; None leaves the router's value alone.
    """
    kind: str
    name: str
    rate_limit: str
    shared_users: int | None = 1

    def __post_init__(self):
        _check_kind(self.kind)
        if not self.name:
            raise ValueError('a profile needs a name')


@dataclass
class DesiredUser:
    """A customer login (hotspot user or PPPoE secret) of one service.

    ``disabled`` is True for a service that lost its right to connect
    (expired, suspended).  ``server`` is the hotspot server (hotspot only).
    ``mac_address`` binds the login to a device (hotspot ``mac-address``,
    PPPoE ``caller-id``); ``address`` is a fixed IP (hotspot ``address``,
    PPPoE ``remote-address``).  None means "any": for hotspot the router's
    default is written, for PPPoE the router's value is left alone.
    """
    service_id: int
    kind: str
    name: str
    password: str
    profile: str
    disabled: bool = False
    server: str = 'all'
    mac_address: str | None = None
    address: str | None = None

    def __post_init__(self):
        _check_kind(self.kind)
        if not self.name:
            raise ValueError('service %s has no login name' % self.service_id)

    @property
    def comment(self):
        return comment_for(self.service_id)
