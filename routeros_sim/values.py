"""Value parsing/printing rules for RouterOS property types.

Values are stored exactly as the API prints them (strings), so a print never
has to convert anything.  Input forms accepted and output forms follow
the RouterOS API's (booleans printed true/false, accepted
yes/no/true/false; durations printed ``1w2d3h4m5s``/``0s`` — UNCONFIRMED
per version; queue limits printed as integer bits ``10000000/10000000``).
"""

from __future__ import annotations

import ipaddress
import re

from .errors import Trap

TRUE_WORDS = {"yes": "true", "true": "true", "no": "false", "false": "false"}

_UNITS = (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60), ("s", 1))
_DUR = re.compile(r"(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m(?!s))?(?:(\d+)s)?(?:(\d+)ms)?\Z")
_CLOCK = re.compile(r"(?:(\d+)w)?(?:(\d+)d)?\s*(\d+):(\d{1,2}):(\d{1,2})\Z")
_RATE = re.compile(r"\d+(?:\.\d+)?[kKMG]?\Z")
_MAC = re.compile(r"[0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){5}\Z")


def bad(name: str) -> Trap:
    return Trap(f"invalid value for argument {name}", 1)


def parse_bool(value: str, name: str = "value") -> str:
    try:
        return TRUE_WORDS[value.lower()]
    except KeyError:
        raise bad(name) from None


def parse_duration(value: str, name: str = "value") -> int:
    """Seconds from ``1h``, ``1d2h3m4s``, ``01:00:00``, ``1d 01:00:00`` or bare seconds."""
    v = value.strip()
    if v.isdigit():
        return int(v)
    m = _CLOCK.match(v)
    if m:
        w, d, h, mi, s = (int(x or 0) for x in m.groups())
        return w * 604800 + d * 86400 + h * 3600 + mi * 60 + s
    m = _DUR.match(v)
    if v and m and any(g is not None for g in m.groups()):
        w, d, h, mi, s, ms = (int(x or 0) for x in m.groups())
        return w * 604800 + d * 86400 + h * 3600 + mi * 60 + s + (ms // 1000)
    raise bad(name)


def format_duration(seconds: int) -> str:
    seconds = int(seconds)
    if seconds <= 0:
        return "0s"
    out = []
    for unit, size in _UNITS:
        q, seconds = divmod(seconds, size)
        if q:
            out.append(f"{q}{unit}")
    return "".join(out)


def parse_rate(value: str) -> int:
    """Bits per second from ``10M``, ``512k``, ``1.5M``, ``1000``."""
    mult = {"k": 1000, "K": 1000, "M": 1000000, "G": 1000000000}.get(value[-1:], 1)
    number = value[:-1] if mult != 1 else value
    return int(float(number) * mult)


def check_rate_limit(value: str, name: str = "rate-limit") -> str:
    """Validate ``rx[/tx] [burst-rx[/tx] [thr-rx[/tx] [time-rx[/tx] [prio] [min-rx[/tx]]]]]``."""
    tokens = value.split()
    if not tokens or len(tokens) > 6:
        raise bad(name)
    for pos, token in enumerate(tokens):
        if pos == 4:
            if not token.isdigit() or not 1 <= int(token) <= 8:
                raise bad(name)
            continue
        parts = token.split("/")
        if len(parts) > 2:
            raise bad(name)
        for part in parts:
            if pos == 3:
                parse_duration(part, name)
            elif not _RATE.match(part):
                raise bad(name)
    return value


def parse_limit_pair(value: str, name: str) -> str:
    """Queue ``max-limit``/``limit-at``: ``10M/10M`` -> ``10000000/10000000``."""
    parts = value.split("/")
    if len(parts) == 1:
        parts = parts * 2
    if len(parts) != 2 or not all(_RATE.match(p) for p in parts):
        raise bad(name)
    return "/".join(str(parse_rate(p)) for p in parts)


def parse_ip(value: str, name: str) -> str:
    try:
        return str(ipaddress.IPv4Address(value))
    except ValueError:
        raise bad(name) from None


def parse_target(value: str, name: str) -> str:
    """Queue target: comma list of addresses/prefixes (``1.2.3.4`` -> ``1.2.3.4/32``) or interfaces."""
    out = []
    for item in value.split(","):
        item = item.strip()
        if not item:
            raise bad(name)
        if item[0].isdigit():
            try:
                net = ipaddress.IPv4Network(item, strict=False)
            except ValueError:
                raise bad(name) from None
            out.append(str(net))
        else:
            out.append(item)
    return ",".join(out)


def parse_list_address(value: str, name: str) -> str:
    """Address-list address: IP, prefix (host prefix printed bare), range, or DNS name."""
    v = value.strip()
    if not v:
        raise bad(name)
    if "-" in v and v[0].isdigit():
        lo, _, hi = v.partition("-")
        parse_ip(lo, name), parse_ip(hi, name)
        return v
    if v[0].isdigit():
        try:
            net = ipaddress.IPv4Network(v, strict=False)
        except ValueError:
            raise bad(name) from None
        return str(net.network_address) if net.prefixlen == 32 else str(net)
    return v


def parse_mac(value: str, name: str) -> str:
    if not _MAC.match(value):
        raise bad(name)
    return value.upper()


def parse_int(value: str, name: str) -> str:
    v = value.strip()
    if not v.isdigit():
        raise bad(name)
    return str(int(v))
