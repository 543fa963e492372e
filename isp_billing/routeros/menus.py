"""Where each kind of service lives on a router, and how fields compare.

Comparisons are semantic (``true``/``yes``, ``10M``/``10000k``, MAC letter
case) so that a router printing a value in its own spelling is not seen
as drift -- otherwise every reconcile would re-send every user.
"""
import re
from dataclasses import dataclass

__all__ = ['Menus', 'MENUS', 'user_attributes', 'profile_attributes',
    'differing', 'parse_bool']


@dataclass(frozen=True)
class Menus:
    kind: str
    users: str
    profiles: str
    active: str
    active_user_key: str
    user_fields: tuple
    profile_fields: tuple
    user_defaults: dict      # what the router holds when a field is unset
    profile_defaults: dict


MENUS = {
    'hotspot': Menus(
        kind='hotspot',
        users='/ip/hotspot/user',
        profiles='/ip/hotspot/user/profile',
        active='/ip/hotspot/active',
        active_user_key='user',
        user_fields=('.id', 'name', 'password', 'profile', 'disabled',
            'comment', 'server', 'mac-address', 'address'),
        profile_fields=('.id', 'name', 'rate-limit', 'shared-users'),
        user_defaults={'profile': 'default', 'disabled': 'false',
            'comment': '', 'server': 'all',
            'mac-address': '00:00:00:00:00:00', 'address': '0.0.0.0'},
        profile_defaults={'rate-limit': '', 'shared-users': '1'},
        ),
    'pppoe': Menus(
        kind='pppoe',
        users='/ppp/secret',
        profiles='/ppp/profile',
        active='/ppp/active',
        active_user_key='name',
        user_fields=('.id', 'name', 'password', 'profile', 'disabled',
            'comment', 'service', 'caller-id', 'remote-address'),
        profile_fields=('.id', 'name', 'rate-limit'),
        user_defaults={'profile': 'default', 'disabled': 'false',
            'comment': '', 'service': 'any', 'caller-id': ''},
        profile_defaults={'rate-limit': ''},
        ),
    }


def user_attributes(user):
    """The fields we manage for a DesiredUser, as the router spells them."""
    attrs = {
        'name': user.name,
        'password': user.password,
        'profile': user.profile,
        'disabled': 'yes' if user.disabled else 'no',
        'comment': user.comment,
        }
    if user.kind == 'hotspot':
        attrs['server'] = user.server or 'all'
        attrs['mac-address'] = user.mac_address or '00:00:00:00:00:00'
        attrs['address'] = user.address or '0.0.0.0'
    else:
        attrs['service'] = 'pppoe'
        if user.mac_address is not None:
            attrs['caller-id'] = user.mac_address
        if user.address is not None:
            attrs['remote-address'] = user.address
    return attrs


def profile_attributes(profile):
    attrs = {'name': profile.name, 'rate-limit': profile.rate_limit or ''}
    if profile.kind == 'hotspot' and profile.shared_users is not None:
        attrs['shared-users'] = str(profile.shared_users)
    return attrs


def parse_bool(value):
    return str(value).strip().lower() in ('true', 'yes')


_UNITS = {'': 1, 'k': 1000, 'm': 1000000, 'g': 1000000000}
_RATE = re.compile(r'^(\d+(?:\.\d+)?)([kKmMgG]?)$')


def _rate_bits(text):
    match = _RATE.match(text)
    if not match:
        return text
    return int(round(float(match.group(1)) * _UNITS[match.group(2).lower()]))


def _normal_rate(text):
    """``5M/10M 6M/12M`` -> ((5e6, 1e7), (6e6, 1.2e7)); tx defaults to rx."""
    groups = []
    for group in str(text or '').split():
        rx, _, tx = group.partition('/')
        rx = _rate_bits(rx)
        groups.append((rx, _rate_bits(tx) if tx else rx))
    while groups and groups[-1] == (0, 0):
        groups.pop()
    return tuple(groups)


def _normal(field, value):
    if field == 'disabled':
        return parse_bool(value)
    if field == 'rate-limit':
        return _normal_rate(value)
    if field in ('mac-address', 'caller-id'):
        return str(value).upper()
    if field == 'shared-users':
        return str(value).strip()
    return str(value)


def differing(desired, actual, defaults, on_add=False):
    """Fields of ``desired`` whose value differs from the router's row.

    A field the router did not print counts as its default; a password the
    router did not print (hidden by newer RouterOS) cannot be compared and
    is left alone.  With ``on_add`` the result drops fields that equal the
    router default, so an ``add`` carries only what matters.
    """
    changes = {}
    for field, value in desired.items():
        if field in actual:
            current = actual[field]
        elif field in defaults:
            current = defaults[field]
        elif on_add:
            changes[field] = value
            continue
        elif field == 'password':
            continue
        else:
            current = ''
        if _normal(field, value) != _normal(field, current):
            changes[field] = value
    return changes
