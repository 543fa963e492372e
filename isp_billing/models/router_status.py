"""History of router status readings, for lists and charts."""
import datetime as dt

from trytond import config
from trytond.i18n import gettext
from trytond.model import Index, ModelSQL, ModelView, fields
from trytond.model.exceptions import AccessError
from trytond.transaction import Transaction

from .. import routeros
from ..times import utcnow


class RouterStatus(ModelSQL, ModelView):
    "Router Status"
    __name__ = 'isp.router.status'
    __string__ = "Router Status"

    router = fields.Many2One(
        'isp.router', "Router", required=True, ondelete='CASCADE',
        readonly=True)
    timestamp = fields.Timestamp("Timestamp", required=True, readonly=True)
    online = fields.Boolean("Online", readonly=True)
    cpu_load = fields.Integer("CPU Load (%)", readonly=True)
    memory_free = fields.Integer("Free Memory (MiB)", readonly=True)
    uptime = fields.Integer(
        "Uptime (s)", readonly=True, help="Seconds since the router booted.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        # Model.__setup__ resets __access__: set it here, not on the class
        cls.__access__.add('router')
        t = cls.__table__()
        cls._sql_indexes.add(Index(t,
                (t.router, Index.Equality()),
                (t.timestamp, Index.Range(order='DESC'))))
        cls._order = [('timestamp', 'DESC'), ('id', 'DESC')]

    @classmethod
    def from_router(cls, router, online):
        "A reading of the router's current status fields"
        if online:
            return cls(router=router, timestamp=router.last_seen
                or utcnow(), online=True,
                cpu_load=router.cpu_load, memory_free=router.memory_free,
                uptime=routeros.parse_uptime(router.uptime))
        return cls(router=router, timestamp=utcnow(), online=False)

    @classmethod
    def check_modification(cls, mode, records, values=None, external=False):
        super().check_modification(
            mode, records, values=values, external=external)
        if external:
            raise AccessError(gettext('isp_billing.msg_router_status_readonly'))

    @classmethod
    def clean(cls, days=None):
        "Remove readings older than [isp_billing] status_history_days (30)"
        if days is None:
            days = config.getint(
                'isp_billing', 'status_history_days', default=30)
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        limit = utcnow() - dt.timedelta(days=days)
        cursor.execute(*table.delete(where=table.timestamp < limit))
