"""Traffic counters of the customers on one router.

Counters are in the router's view, like everything RouterOS prints:
``bytes_in`` is what the router received from the customer (upload),
``bytes_out`` what it sent to them (download).

* hotspot: ``bytes-in``/``bytes-out`` of ``/ip/hotspot/user`` (cumulative
  over sessions, updated by the router at logout, reset by a reboot);
* PPPoE: the dynamic ``<pppoe-NAME>`` interface of each online customer
  (``rx-byte`` = upload, ``tx-byte`` = download; it only exists while the
  session is up and restarts at 0 with each session), mapped to the service
  through the owned ``/ppp/secret`` entries.

Counters go down after a reboot or a new session, so the Tryton layer adds
:func:`accumulate` deltas to its monthly rows instead of storing raw values.
"""
from dataclasses import dataclass

from .connection import session_for
from .desired import KINDS, parse_comment
from .menus import MENUS
from .values import to_int

__all__ = ['Counter', 'read_counters', 'accumulate']


@dataclass(frozen=True)
class Counter:
    """One reading.  ``session`` identifies the counter's lifetime when the
    router exposes one (the PPPoE interface id): a different session means
    the counter restarted even if the new value is not smaller."""
    bytes_in: int
    bytes_out: int
    session: str | None = None

    @property
    def upload(self):
        return self.bytes_in

    @property
    def download(self):
        return self.bytes_out


def read_counters(target, kinds=KINDS):
    """Return {service id: Counter} for the owned entries of ``kinds``.

    One print per menu.  A PPPoE customer who is offline has no counter
    (absent from the result): keep the previous reading for them.
    """
    counters = {}
    with session_for(target) as session:
        if 'hotspot' in kinds:
            for row in session.print(MENUS['hotspot'].users,
                    ('.id', 'name', 'comment', 'bytes-in', 'bytes-out')):
                service_id = parse_comment(row.get('comment'))
                if service_id is not None:
                    counters[service_id] = Counter(
                        to_int(row.get('bytes-in'), 0),
                        to_int(row.get('bytes-out'), 0))
        if 'pppoe' in kinds:
            services = {}
            for row in session.print(MENUS['pppoe'].users,
                    ('.id', 'name', 'comment')):
                service_id = parse_comment(row.get('comment'))
                if service_id is not None:
                    services[row.get('name')] = service_id
            if services:
                for row in session.print('/interface',
                        ('.id', 'name', 'rx-byte', 'tx-byte')):
                    name = row.get('name') or ''
                    if not (name.startswith('<pppoe-')
                            and name.endswith('>')):
                        continue
                    service_id = services.get(name[len('<pppoe-'):-1])
                    if service_id is not None:
                        counters[service_id] = Counter(
                            to_int(row.get('rx-byte'), 0),
                            to_int(row.get('tx-byte'), 0),
                            session=row.get('.id'))
    return counters


def accumulate(previous, current):
    """Traffic since ``previous`` as ``(delta_in, delta_out)``.

    If the counter went down (router reboot, counters reset, new session)
    the whole current value is new traffic -- the traffic between the last
    reading and the reset is lost, never counted twice.  ``previous`` None
    (first reading) counts the whole current value; ``current`` None
    (no reading, e.g. offline) adds nothing.
    """
    if current is None:
        return 0, 0
    if previous is None:
        return current.bytes_in, current.bytes_out
    restarted = (
        current.bytes_in < previous.bytes_in
        or current.bytes_out < previous.bytes_out
        or (current.session is not None and previous.session is not None
            and current.session != previous.session))
    if restarted:
        return current.bytes_in, current.bytes_out
    return (current.bytes_in - previous.bytes_in,
        current.bytes_out - previous.bytes_out)
