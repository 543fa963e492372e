"""Traffic per service per month, accumulated from router counters.

Router counters restart (reboot, re-created user, new PPPoE session), so we
never store them as totals: each reading is compared with the previous raw
reading kept in ``isp.usage.counter`` and only the difference
(:func:`isp_billing.routeros.accumulate`) is added to the month's row.  The
counter key names the counter's lifetime (router, router boot, PPPoE
session): when it changes, the whole new value is new traffic.
"""
import datetime as dt
import logging

from trytond import backend
from trytond.i18n import gettext
from trytond.model import Index, ModelSQL, ModelView, Unique, fields
from trytond.model.exceptions import AccessError
from trytond.pool import Pool
from trytond.transaction import Transaction

from .. import routeros
from ..times import utcnow
from .sync import router_config

logger = logging.getLogger(__name__)

#: two boot times further apart than this are two different boots
BOOT_TOLERANCE = dt.timedelta(minutes=2)


class BigInteger(fields.Integer):
    "Integer stored as 64 bits (byte counters pass 2 GiB quickly)"
    _sql_type = 'BIGINT'


class _ReadOnlyMixin:
    __slots__ = ()

    @classmethod
    def check_modification(cls, mode, records, values=None, external=False):
        super().check_modification(
            mode, records, values=values, external=external)
        if external:
            raise AccessError(gettext('isp_billing.msg_usage_readonly'))


class Usage(_ReadOnlyMixin, ModelSQL, ModelView):
    "Service Usage"
    __name__ = 'isp.usage'
    __string__ = "Service Usage"

    service = fields.Many2One(
        'isp.service', "Service", required=True, ondelete='CASCADE',
        readonly=True)
    month = fields.Date(
        "Month", required=True, readonly=True,
        help="The first day of the month.")
    bytes_in = BigInteger(
        "Upload (bytes)", required=True, readonly=True,
        help="Bytes the router received from the customer.")
    bytes_out = BigInteger(
        "Download (bytes)", required=True, readonly=True,
        help="Bytes the router sent to the customer.")
    upload_mb = fields.Function(
        fields.Float("Upload (MB)", digits=(16, 1)), 'get_megabytes')
    download_mb = fields.Function(
        fields.Float("Download (MB)", digits=(16, 1)), 'get_megabytes')
    customer = fields.Function(
        fields.Many2One('party.party', "Customer"),
        'get_service_field', searcher='search_service_field')
    router = fields.Function(
        fields.Many2One('isp.router', "Router"),
        'get_service_field', searcher='search_service_field')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        # Model.__setup__ resets __access__: set it here, not on the class
        cls.__access__.add('service')
        t = cls.__table__()
        cls._sql_constraints += [
            ('service_month_unique', Unique(t, t.service, t.month),
                'isp_billing.msg_usage_service_month_unique'),
            ]
        cls._sql_indexes.add(Index(t, (t.month, Index.Range())))
        cls._order = [('month', 'DESC'), ('id', 'DESC')]

    @classmethod
    def default_bytes_in(cls):
        return 0

    @classmethod
    def default_bytes_out(cls):
        return 0

    def get_megabytes(self, name):
        value = self.bytes_in if name == 'upload_mb' else self.bytes_out
        return round((value or 0) / 1_000_000, 1)

    @classmethod
    def portal_months(cls, service_ids):
        """{service id: [(month, bytes_in, bytes_out)], oldest first} in one
        query, for the portal (the ids come from Service.portal_read, which
        filters on the customer)"""
        usage = cls.__table__()
        result = {id_: [] for id_ in service_ids}
        if not service_ids:
            return result
        cursor = Transaction().connection.cursor()
        cursor.execute(*usage.select(usage.service, usage.month,
                usage.bytes_in, usage.bytes_out,
                where=usage.service.in_(list(service_ids)),
                order_by=[usage.service.asc, usage.month.asc]))
        for service, month, bytes_in, bytes_out in cursor:
            result[service].append((month, bytes_in, bytes_out))
        return result

    def get_service_field(self, name):
        record = getattr(self.service, name)
        return record.id if record else None

    @classmethod
    def search_service_field(cls, name, clause):
        return [('service.' + clause[0], *clause[1:])]

    @classmethod
    def collect_all(cls):
        "Scheduled action: collect the counters of every active router"
        Router = Pool().get('isp.router')
        cls.collect(Router.search([]))

    @classmethod
    def collect(cls, routers):
        """Read the counters of the routers (in parallel) and add the
        traffic since the previous reading to the month's rows.  A router
        that fails is logged and skipped; the others are recorded."""
        configs = {r.id: router_config(r) for r in routers}
        results = routeros.run_parallel(
            lambda r: _read_router(configs[r.id]), routers)
        for router, result, error in results:
            if error is not None:
                logger.warning("usage of router %s not collected: %s",
                    router.rec_name, error)
                continue
            try:
                cls._add_readings(router, *result)
            except backend.DatabaseOperationalError:
                raise
            except Exception:
                logger.exception("usage of router %s", router.id)

    @classmethod
    def _add_readings(cls, router, counters, boot, now):
        pool = Pool()
        Service = pool.get('isp.service')
        Counter = pool.get('isp.usage.counter')
        services = Service.search([
                ('router', '=', router.id),
                ('id', 'in', list(counters.keys())),
                ])
        if not services:
            return
        existing = {c.service.id: c for c in Counter.search([
                    ('service', 'in', [s.id for s in services]),
                    ])}
        month = now.date().replace(day=1)
        usages = {u.service.id: u for u in cls.search([
                    ('service', 'in', [s.id for s in services]),
                    ('month', '=', month),
                    ])}
        to_save_counters, to_save_usages = [], []
        for service in services:
            current = counters[service.id]
            key = '%s:%s:%s' % (router.id, service.kind, current.session or '')
            counter = existing.get(service.id)
            previous = None
            if counter is None:
                counter = Counter(service=service)
            elif counter.key == key and not _rebooted(counter.boot, boot):
                previous = routeros.Counter(
                    counter.bytes_in or 0, counter.bytes_out or 0,
                    current.session)
            delta_in, delta_out = routeros.accumulate(previous, current)
            if delta_in or delta_out:
                usage = usages.get(service.id)
                if usage is None:
                    usage = usages[service.id] = cls(
                        service=service, month=month, bytes_in=0,
                        bytes_out=0)
                usage.bytes_in = (usage.bytes_in or 0) + delta_in
                usage.bytes_out = (usage.bytes_out or 0) + delta_out
                to_save_usages.append(usage)
            counter.key = key
            counter.bytes_in = current.bytes_in
            counter.bytes_out = current.bytes_out
            counter.boot = boot
            counter.read_at = now
            to_save_counters.append(counter)
        cls.save(to_save_usages)
        Counter.save(to_save_counters)


def _read_router(config):
    "Driver work only (runs in a thread): counters and boot time"
    with routeros.open_session(config) as session:
        info = routeros.router_info(session)
        counters = routeros.read_counters(session)
    now = utcnow()
    uptime = routeros.parse_uptime(info.get('uptime'))
    boot = now - dt.timedelta(seconds=uptime) if uptime is not None else None
    return counters, boot, now


def _rebooted(previous_boot, boot):
    if previous_boot is None or boot is None:
        return False
    return abs(boot - previous_boot) > BOOT_TOLERANCE


class UsageCounter(_ReadOnlyMixin, ModelSQL):
    "Service Usage Counter"
    __name__ = 'isp.usage.counter'
    __string__ = "Service Usage Counter"

    service = fields.Many2One(
        'isp.service', "Service", required=True, ondelete='CASCADE')
    key = fields.Char(
        "Counter Key",
        help="router:kind:session; another key is another counter.")
    bytes_in = BigInteger("Last Raw Bytes In")
    bytes_out = BigInteger("Last Raw Bytes Out")
    boot = fields.Timestamp("Router Boot")
    read_at = fields.Timestamp("Read At")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        # Model.__setup__ resets __access__: set it here, not on the class
        cls.__access__.add('service')
        t = cls.__table__()
        cls._sql_constraints += [
            ('service_unique', Unique(t, t.service),
                'isp_billing.msg_usage_counter_service_unique'),
            ]

