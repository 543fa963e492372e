"""MikroTik routers that the ISP manages through the RouterOS API."""
import datetime as dt
import ipaddress
import re

import logging

from trytond import backend
from trytond.i18n import gettext
from trytond.model import (
    DeactivableMixin, ModelSQL, ModelView, Unique, fields)
from trytond.pool import Pool
from trytond.pyson import Eval
from trytond.transaction import Transaction, without_check_access

from .. import routeros
from ..exceptions import RouterConnectionError, RouterValidationError
from ..times import context_timezone, fmt_ts, utcnow
from . import sync
from .sync import (
    ROUTER_SYNC_FIELDS, desired_state, enqueue_sync,
    error_message, is_offline_error, router_config, router_threads,
    service_rows, status_changes, write_sync_status)

logger = logging.getLogger(__name__)
#: how stale Last Sync / Last Seen may get on a router that only receives
#: targeted syncs
LAST_SYNC_STEP = dt.timedelta(seconds=60)

HOSTNAME = re.compile(
    r'^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)'
    r'(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$')
VERSION = re.compile(r'^\d+\.\d+(\.\d+)?$')


#: what the last poll found of a router (also on the dashboard)
STATUS = [
    ('unknown', "Unknown"),
    ('online', "Online"),
    ('offline', "Offline"),
    ]


class Router(DeactivableMixin, ModelSQL, ModelView):
    "Router"
    __name__ = 'isp.router'
    __string__ = "Router"

    name = fields.Char("Name", required=True)
    host = fields.Char(
        "Host", required=True, help="IP address or DNS name of the router.")
    port = fields.Integer(
        "API Port", required=True,
        help="8728 for the API, 8729 for API-SSL.")
    tls = fields.Boolean("API-SSL (TLS)")
    verify_tls = fields.Boolean(
        "Verify Certificate", states={'invisible': ~Eval('tls', False)},
        help="Check the router's certificate. Leave unchecked for routers "
        "without a certificate (anonymous TLS).")
    username = fields.Char("API User", required=True)
    password = fields.Char(
        "API Password", strip=False,
        help="Readable only by ISP Administrators and Technicians.")
    routeros_version = fields.Char(
        "RouterOS Version", help="For example 6.33 or 7.18.")
    login_method = fields.Selection([
            ('auto', "Automatic"),
            ('plain', "Plain (RouterOS 6.43 and later)"),
            ('challenge', "Challenge (before RouterOS 6.43)"),
            ], "Login Method", required=True)
    hotspot_servers = fields.Char(
        "Hotspot Servers",
        help="Comma-separated hotspot server names customers may log in to; "
        "empty means all servers.")
    users = fields.Many2Many(
        'isp.router-res.user', 'router', 'user', "Assigned Staff",
        help="Staff users who work on this router. A staff user with "
        "assigned routers only sees the services of those routers.")
    services = fields.One2Many(
        'isp.service', 'router', "Services", readonly=True)

    # status, filled by polling
    status = fields.Selection(STATUS, "Status", readonly=True)
    last_seen = fields.Timestamp("Last Seen", readonly=True)
    identity = fields.Char("Identity", readonly=True)
    reported_version = fields.Char("Reported Version", readonly=True)
    board = fields.Char("Board", readonly=True)
    uptime = fields.Char("Uptime", readonly=True)
    cpu_load = fields.Integer("CPU Load (%)", readonly=True)
    memory_free = fields.Integer("Free Memory (MiB)", readonly=True)
    memory_total = fields.Integer("Total Memory (MiB)", readonly=True)
    # synchronisation
    last_sync = fields.Timestamp("Last Sync", readonly=True)
    sync_error = fields.Text("Last Sync Error", readonly=True)
    status_message = fields.Text("Last Check", readonly=True,
        help="What the last Test Connection, Refresh Status or Sync found, "
        "in words.")
    drift_count = fields.Integer(
        "Drift Repaired", readonly=True,
        help="How many router entries the last sync had to correct.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('name_unique', Unique(t, t.name),
                'isp_billing.msg_router_name_unique'),
            ('host_port_unique', Unique(t, t.host, t.port),
                'isp_billing.msg_router_host_port_unique'),
            ]
        cls._order.insert(0, ('name', 'ASC'))
        cls._buttons.update({
                'test_connection': {
                    'icon': 'isp-connect',
                    },
                'sync_now': {
                    'icon': 'tryton-refresh',
                    'invisible': ~Eval('active', True),
                    'depends': ['active'],
                    },
                'refresh_status': {
                    'icon': 'tryton-refresh',
                    },
                })

    @classmethod
    def default_port(cls):
        return 8728

    @classmethod
    def default_tls(cls):
        return False

    @classmethod
    def default_verify_tls(cls):
        return False

    @classmethod
    def default_username(cls):
        return 'admin'

    @classmethod
    def default_login_method(cls):
        return 'auto'

    @classmethod
    def default_status(cls):
        return 'unknown'

    @classmethod
    def default_drift_count(cls):
        return 0

    @fields.depends('tls', 'port')
    def on_change_tls(self):
        if self.tls and self.port == 8728:
            self.port = 8729
        elif not self.tls and self.port == 8729:
            self.port = 8728

    @classmethod
    def validate_fields(cls, routers, field_names):
        super().validate_fields(routers, field_names)
        for router in routers:
            router.check_host()
            router.check_port()
            router.check_version()

    def check_host(self):
        host = (self.host or '').strip()
        try:
            ipaddress.ip_address(host)
        except ValueError:
            if not HOSTNAME.match(host):
                raise RouterValidationError(gettext(
                        'isp_billing.msg_router_invalid_host',
                        router=self.rec_name, host=self.host))

    def check_port(self):
        if not (1 <= (self.port or 0) <= 65535):
            raise RouterValidationError(gettext(
                    'isp_billing.msg_router_invalid_port',
                    router=self.rec_name, port=self.port))

    def check_version(self):
        if self.routeros_version and not VERSION.match(
                self.routeros_version.strip()):
            raise RouterValidationError(gettext(
                    'isp_billing.msg_router_invalid_version',
                    router=self.rec_name, version=self.routeros_version))

    @property
    def hotspot_server(self):
        "The server value written on hotspot users"
        names = [n.strip() for n in (self.hotspot_servers or '').split(',')
            if n.strip()]
        return names[0] if len(names) == 1 else 'all'

    @classmethod
    def on_modification(cls, mode, routers, field_names=None):
        super().on_modification(mode, routers, field_names=field_names)
        if mode in {'write', 'delete'} and (
                field_names is None or 'users' in field_names):
            _clear_rule_cache()
        if mode == 'write' and (
                field_names is None or field_names & ROUTER_SYNC_FIELDS):
            enqueue_sync([r for r in routers if r.active])

    # buttons

    @classmethod
    @ModelView.button
    @without_check_access
    def test_connection(cls, routers):
        "Log in and read identity, version and board; raise the error"
        cls._forget_client_timestamps(routers)
        for router in routers:
            try:
                info = routeros.router_info(router_config(router))
            except routeros.RouterError as error:
                raise RouterConnectionError(
                    error_message(router, error)) from error
            router._set_status_info(info)
            router.status_message = router._connected_message()
        cls.save(routers)

    @classmethod
    @ModelView.button
    def sync_now(cls, routers):
        "Reconcile these routers now, in the request; say what it did"
        cls._forget_client_timestamps(routers)
        cls.sync(routers)
        with without_check_access():
            routers = cls.browse([r.id for r in routers])
            for router in routers:
                if router.sync_error:
                    router.status_message = router.sync_error
                else:
                    router.status_message = gettext(
                        'isp_billing.msg_router_sync_done',
                        router=router.rec_name,
                        time=router._time_text(router.last_sync),
                        drift=router.drift_count or 0)
            cls.save(routers)

    @classmethod
    @ModelView.button
    @without_check_access
    def refresh_status(cls, routers):
        cls._forget_client_timestamps(routers)
        cls._refresh_status(routers)

    @classmethod
    def _forget_client_timestamps(cls, routers):
        """The buttons write only what the router reports; the status
        polling and the background syncs write these fields all the time,
        so the form's read time must not refuse them ("Records were
        modified in the meanwhile")."""
        timestamp = Transaction().timestamp or {}
        for router in routers:
            timestamp.pop('%s,%s' % (cls.__name__, router.id), None)

    # scheduled actions

    @classmethod
    def cron_sync(cls):
        """Queue a reconcile (with session sweep) of every active router:
        a few tasks, each reconciling its routers in parallel"""
        routers = cls.search([])
        # read at call time: a test sizes the tasks down
        enqueue_sync(routers, sweep=True, per_task=sync.FLEET_TASK_ROUTERS)

    @classmethod
    def cron_refresh_status(cls):
        cls._refresh_status(cls.search([]))
        Status = Pool().get('isp.router.status')
        Status.clean()

    # synchronisation

    @classmethod
    @without_check_access
    def sync(cls, routers, sweep=False):
        """Reconcile each router with the database (queue task).

        Locks first (a lock restarts the transaction, so no router may be
        called before it).  The desired state of every router is read in
        this transaction, the routers are then reconciled in parallel
        threads (the work is waiting on sockets: a fleet task of hundreds of
        routers takes about as long as its slowest routers, not their sum),
        and each outcome is recorded here.  Each router's failure is
        recorded on it and its services; the others go on.  Runs without
        access checks: the desired state must hold every service of the
        router, not only those the user who clicked may see."""
        routers = [r for r in routers if r.active]
        if not routers:
            return
        cls.lock(routers)
        jobs = []
        for router in routers:
            rows = service_rows(router_id=router.id)
            users, profiles = desired_state(router, rows)
            jobs.append((router, rows, (router_config(router), users,
                        profiles)))
        results = routeros.reconcile_many([job for _, _, job in jobs],
            max_workers=router_threads(), sweep_sessions=sweep)
        now = utcnow()
        synced = {}     # the routers' new values: routers
        for (router, rows, _), result in zip(jobs, results):
            try:
                if result.error is not None:
                    if not isinstance(result.error, routeros.RouterError):
                        logger.error("sync of router %s failed",
                            router.id, exc_info=result.error)
                    router._record_sync_error(result.error, rows)
                else:
                    values = router._record_sync(result.report, rows, now)
                    synced.setdefault(
                        tuple(sorted(values.items())), []).append(router)
            except backend.DatabaseOperationalError:
                raise
            except Exception as error:
                logger.exception("sync of router %s failed", router.id)
                router._record_sync_error(error)
        # one write per distinct outcome: a fleet in sync is one write
        to_write = []
        for values, same in synced.items():
            to_write.extend([same, dict(values)])
        if to_write:
            cls.write(*to_write)

    def _record_sync(self, report, rows, now):
        """Record a completed reconcile of the router (report) on its
        services; return the router's new values (written by the caller)"""
        applied = set(report.added) | set(report.changed) | set(
            report.removed)
        in_sync = {r.id for r in rows if r.sync_status == 'in_sync'}
        known = {r.id for r in rows}
        drift = sum(1 for i in applied if i not in known or i in in_sync)
        write_sync_status(status_changes(rows, report))
        if report.failed:
            sync_error = gettext('isp_billing.msg_router_sync_failures',
                router=self.rec_name, count=len(report.failed),
                details='; '.join('%s: %s' % (k, r)
                    for k, r in report.failed))
        else:
            sync_error = None
        logger.info("router %s synced: %s", self.id, report.summary())
        return {'last_sync': now, 'last_seen': now, 'status': 'online',
            'sync_error': sync_error, 'drift_count': drift}

    @classmethod
    @without_check_access
    def sync_services(cls, routers, service_ids):
        """Targeted sync of some services on each router (queue task of a
        payment or any change of a few services): only their entries are
        read and changed on the router, found by comment or login.

        No router lock: targeted syncs of one router may run side by side
        (each touches its own entries); the full reconcile heals any race.
        The router record is written only when its status changes."""
        routers = [r for r in routers if r.active]
        if not routers or not service_ids:
            return
        rows = service_rows(service_ids=service_ids)
        for router in routers:
            try:
                router._sync_targeted(service_ids, rows)
            except backend.DatabaseOperationalError:
                raise
            except Exception as error:
                logger.exception(
                    "targeted sync of router %s failed", router.id)
                router._record_sync_error(error, [r for r in rows
                        if r.router == router.id and r.state != 'draft'])

    def _sync_targeted(self, service_ids, rows):
        users, profiles = desired_state(self, rows)
        mine = [r for r in rows if r.router == self.id and r.state != 'draft']
        try:
            report = routeros.apply_services(
                router_config(self), service_ids, users, profiles)
        except routeros.RouterError as error:
            self._record_sync_error(error, mine)
            return
        write_sync_status(status_changes(mine, report))
        now = utcnow()
        if (self.status != 'online' or not self.last_sync
                or now - self.last_sync >= LAST_SYNC_STEP):
            # it answered: online; a connection error is history.  At
            # most one router write per LAST_SYNC_STEP from the targeted
            # syncs of a busy router (they would contend on its row)
            if self.status != 'online' and not report.failed:
                self.sync_error = None
            self.status = 'online'
            self.last_seen = self.last_sync = now
            self.save()
        logger.info("router %s, services %s synced: %s", self.id,
            sorted(service_ids)[:10], report.summary())

    def _record_sync_error(self, error, rows=None):
        """Record a sync that could not complete on router and services
        (``rows``: the ServiceRows the sync was about)"""
        message = error_message(self, error)
        if rows is None:
            rows = service_rows(router_id=self.id)
        partial = getattr(error, 'report', None)
        done = set()
        if partial is not None:
            done = (set(partial.added) | set(partial.changed)
                | set(partial.removed)) - partial.failed_ids
        changes = {}
        for row in rows:
            if row.id in done:
                if (row.sync_status, row.sync_message) != ('in_sync', None):
                    changes.setdefault(('in_sync', None), []).append(row.id)
            elif row.sync_status in {'pending', 'error'} and (
                    row.sync_status, row.sync_message) != ('error', message):
                changes.setdefault(('error', message), []).append(row.id)
        write_sync_status(changes)
        self.last_sync = utcnow()
        self.sync_error = message
        if is_offline_error(error):
            self.status = 'offline'
        self.save()

    # status

    def _set_status_info(self, info):
        "Apply a router_info() dict to the status fields"
        self.status = 'online'
        self.last_seen = utcnow()
        self.identity = info.get('identity')
        self.reported_version = info.get('version')
        self.board = info.get('board')
        self.uptime = info.get('uptime')
        self.cpu_load = routeros.to_int(info.get('cpu_load'))
        self.memory_free = routeros.to_mib(info.get('free_memory'))
        self.memory_total = routeros.to_mib(info.get('total_memory'))

    @staticmethod
    def _time_text(value):
        "A stored timestamp in the user's (else the company's) time zone"
        return fmt_ts(value, context_timezone())

    def _connected_message(self):
        return gettext('isp_billing.msg_router_connected',
            router=self.rec_name, time=self._time_text(self.last_seen),
            identity=self.identity or '-',
            version=self.reported_version or '-', board=self.board or '-')

    @classmethod
    def _refresh_status(cls, routers):
        """Poll every router (in parallel threads), record its status and
        a history row; an unreachable router is marked offline."""
        Status = Pool().get('isp.router.status')
        configs = {r.id: router_config(r) for r in routers}
        results = routeros.run_parallel(
            lambda r: routeros.router_info(configs[r.id]), routers)
        history = []
        for router, info, error in results:
            if error is None:
                router._set_status_info(info)
                router.status_message = router._connected_message()
            else:
                if not isinstance(error, routeros.RouterError):
                    logger.error("status of router %s: %r", router.id, error)
                router.status = 'offline'
                router.status_message = error_message(router, error)
            history.append(Status.from_router(router, online=error is None))
        cls.save(routers)
        Status.save(history)


class RouterUser(ModelSQL):
    "Router - Staff User"
    __name__ = 'isp.router-res.user'
    __string__ = "Router Staff User"
    router = fields.Many2One(
        'isp.router', "Router", required=True, ondelete='CASCADE')
    user = fields.Many2One(
        'res.user', "User", required=True, ondelete='CASCADE')

    @classmethod
    def on_modification(cls, mode, records, field_names=None):
        super().on_modification(mode, records, field_names=field_names)
        _clear_rule_cache()


def _clear_rule_cache():
    "Router assignments are part of the record rule context"
    Rule = Pool().get('ir.rule')
    Rule._domain_get_cache.clear()
