"""Reading the values RouterOS answers with (all of them are strings)."""
import re

_DURATION = re.compile(r'(\d+)([wdhms])')
_UNITS = {'w': 604800, 'd': 86400, 'h': 3600, 'm': 60, 's': 1}


def to_int(value, default=None):
    "An integer answer ('123'), or default when it is missing or not a number"
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def to_mib(value):
    "A byte count answer in MiB (None when missing)"
    value = to_int(value)
    return value // (1024 * 1024) if value is not None else None


def parse_uptime(text):
    "Seconds of a RouterOS duration ('1w2d3h4m5s', '2d03:04:05'), or None"
    if not text:
        return None
    text = str(text).strip()
    seconds = 0
    clock = re.search(r'(\d+):(\d\d):(\d\d)$', text)
    if clock:
        h, m, s = map(int, clock.groups())
        seconds += h * 3600 + m * 60 + s
        text = text[:clock.start()]
    parts = _DURATION.findall(text)
    if not parts and not clock:
        return None
    for value, unit in parts:
        seconds += int(value) * _UNITS[unit]
    return seconds
