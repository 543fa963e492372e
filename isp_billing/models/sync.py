"""Router synchronisation: the Tryton side of the desired-state reconcile.

Business transactions never talk to routers (design.md, "Router side
effects: one way only").  A change that affects a router only marks the
services ``pending`` and enqueues ONE ``isp.router|sync`` task per router on
``ir.queue`` (deduplicated per transaction).  The task runs after commit (by
``trytond-worker``, or in-process right after the commit without a worker),
locks the router, computes the desired state from the database, calls the
driver (:mod:`isp_billing.routeros`) and records the outcome.  A rollback
removes the queued task with everything else, so it never reaches a router.

The hooks are ``PoolMeta`` extensions of ``isp.router``, ``isp.service`` and
``product.template`` registered after the base classes (tryton.cfg).
"""
import datetime as dt
import logging
import re
from concurrent.futures import ThreadPoolExecutor

from trytond import backend
from trytond import config
from trytond.i18n import gettext
from trytond.model import ModelView
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Eval
from trytond.transaction import Transaction, without_check_access

from .. import routeros
from ..exceptions import RouterConnectionError

logger = logging.getLogger(__name__)

#: service fields whose change must reach the router
SERVICE_SYNC_FIELDS = {
    'state', 'paid_until', 'plan', 'login', 'password', 'mac_address',
    'ip_address', 'router', 'kind'}
#: plan (product.template) fields that end up in the router profile
PLAN_SYNC_FIELDS = {
    'download_rate', 'upload_rate', 'shared_users', 'plan_kind',
    'router_profile'}
#: router fields that change how (or whether) we reach the router
ROUTER_SYNC_FIELDS = {
    'host', 'port', 'tls', 'verify_tls', 'username', 'password',
    'login_method', 'hotspot_servers', 'active'}
QUEUE_NAME = 'isp_router'


def router_timeout():
    "Seconds to wait for a router ([isp_billing] router_timeout)"
    return config.getfloat('isp_billing', 'router_timeout', default=10.0)


def router_config(router):
    "The driver's RouterConfig of a router record"
    return routeros.RouterConfig(
        host=(router.host or '').strip(),
        port=router.port,
        username=router.username or '',
        password=router.password or '',
        tls=bool(router.tls),
        verify_tls=bool(router.verify_tls),
        login_method=router.login_method or 'auto',
        timeout=router_timeout())


def error_message(router, error):
    "Translated text (message.xml) for a driver error on a router"
    values = {
        'router': router.rec_name,
        'address': '%s:%s' % (router.host, router.port),
        'detail': str(error),
        'router_message': getattr(error, 'router_message', None) or '',
        'command': getattr(error, 'command', None) or '',
        }
    if isinstance(error, routeros.RouterTLSError):
        msg_id = 'msg_router_tls_error'
    elif isinstance(error, routeros.RouterConnectionLost):
        msg_id = 'msg_router_connection_lost'
    elif isinstance(error, routeros.RouterUnreachable):
        msg_id = 'msg_router_unreachable'
    elif isinstance(error, routeros.RouterLoginRefused):
        msg_id = 'msg_router_login_refused'
    elif isinstance(error, routeros.RouterTimeout):
        msg_id = 'msg_router_timeout'
    elif isinstance(error, routeros.RouterTrap):
        msg_id = 'msg_router_trap'
    elif isinstance(error, routeros.RouterError):
        msg_id = 'msg_router_error'
    else:
        msg_id = 'msg_router_unexpected_error'
    return gettext('isp_billing.' + msg_id, **values)


def is_offline_error(error):
    "The router could not be reached (as opposed to answering badly)"
    return isinstance(
        error, (routeros.RouterUnreachable, routeros.RouterTimeout))


def desired_state(router, services):
    """Return (users, profiles) that ``router`` should hold for
    ``services`` (the non-draft services on it): cancelled ones are left
    out (their entries are removed), active ones enabled, expired and
    suspended ones disabled."""
    users, profiles = [], {}
    server = router.hotspot_server
    for service in services:
        if service.state in {'draft', 'cancelled'}:
            continue
        template = service.plan.template
        profile = template.router_profile
        key = (service.kind, profile)
        if key not in profiles:
            profiles[key] = routeros.DesiredProfile(
                kind=service.kind, name=profile,
                rate_limit=template.rate_limit,
                shared_users=(template.shared_users
                    if service.kind == 'hotspot' else None))
        users.append(routeros.DesiredUser(
                service_id=service.id,
                kind=service.kind,
                name=service.login,
                password=service.password,
                profile=profile,
                disabled=service.state != 'active',
                server=server,
                mac_address=service.mac_address or None,
                address=service.ip_address or None))
    return users, list(profiles.values())


def run_parallel(function, items, max_workers=8):
    """Call ``function(item)`` for every item in threads (the work is
    waiting on router sockets); return [(item, result, error)] in order.
    ``function`` must be pure driver work: no database access."""
    items = list(items)
    if not items:
        return []

    def call(item):
        try:
            return item, function(item), None
        except Exception as error:   # isolated per item, reported
            return item, None, error
    if len(items) == 1:
        return [call(items[0])]
    with ThreadPoolExecutor(
            max_workers=max(1, min(max_workers, len(items))),
            thread_name_prefix='isp-router') as pool:
        return list(pool.map(call, items))


_DURATION = re.compile(r'(\d+)([wdhms])')
_UNITS = {'w': 604800, 'd': 86400, 'h': 3600, 'm': 60, 's': 1}


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


class _SyncQueue:
    """Transaction data manager remembering which routers already have a
    sync task queued in the current transaction (one task per router).
    Forgotten on commit and on rollback."""

    def __init__(self):
        self.routers = set()

    def __eq__(self, other):
        return isinstance(other, _SyncQueue)

    def __hash__(self):
        return hash(_SyncQueue)

    def abort(self, transaction):
        self.routers.clear()

    def tpc_begin(self, transaction):
        pass

    def commit(self, transaction):
        pass

    def tpc_vote(self, transaction):
        pass

    def tpc_finish(self, transaction):
        self.routers.clear()

    def tpc_abort(self, transaction):
        self.routers.clear()


def enqueue_sync(routers, sweep=False):
    """Queue one sync task per router not yet queued in this transaction.
    Runs after commit; nothing happens if the transaction rolls back."""
    Router = Pool().get('isp.router')
    transaction = Transaction()
    queued = transaction.join(_SyncQueue()).routers
    ids = []
    for router in routers:
        router_id = int(router)
        if router_id not in queued and router_id not in ids:
            ids.append(router_id)
    if not ids:
        return []
    queued.update(ids)
    task_ids = []
    with transaction.set_context(queue_name=QUEUE_NAME):
        for router_id in ids:
            if sweep:
                task_ids.append(Router.__queue__.sync(
                        [Router(router_id)], sweep=True))
            else:
                task_ids.append(
                    Router.__queue__.sync([Router(router_id)]))
    return task_ids


class Router(metaclass=PoolMeta):
    __name__ = 'isp.router'

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._buttons.update({
                'test_connection': {
                    'icon': 'tryton-connect',
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

    # hooks

    @classmethod
    def on_modification(cls, mode, routers, field_names=None):
        super().on_modification(mode, routers, field_names=field_names)
        if mode == 'write' and (
                field_names is None or field_names & ROUTER_SYNC_FIELDS):
            enqueue_sync([r for r in routers if r.active])

    # buttons

    @classmethod
    @ModelView.button
    @without_check_access
    def test_connection(cls, routers):
        "Log in and read identity, version and board; raise the error"
        for router in routers:
            try:
                info = routeros.router_info(router_config(router))
            except routeros.RouterError as error:
                raise RouterConnectionError(
                    error_message(router, error)) from error
            router._set_status_info(info)
        cls.save(routers)

    @classmethod
    @ModelView.button
    def sync_now(cls, routers):
        "Reconcile these routers now, in the request"
        cls.sync(routers)

    @classmethod
    @ModelView.button
    @without_check_access
    def refresh_status(cls, routers):
        cls._refresh_status(routers)

    # scheduled actions

    @classmethod
    def cron_sync(cls):
        "Queue a reconcile (with session sweep) of every active router"
        routers = cls.search([])
        enqueue_sync(routers, sweep=True)

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
        called before it).  Each router's failure is recorded on it and its
        services; the others go on.  Runs without access checks: the desired
        state must hold every service of the router, not only those the
        user who clicked may see."""
        routers = [r for r in routers if r.active]
        if not routers:
            return
        cls.lock(routers)
        for router in routers:
            try:
                router._sync(sweep=sweep)
            except backend.DatabaseOperationalError:
                raise
            except Exception as error:
                logger.exception("sync of router %s failed", router.id)
                router._record_sync_error(error)

    def _sync_services(self):
        Service = Pool().get('isp.service')
        return Service.search([
                ('router', '=', self.id),
                ('state', '!=', 'draft'),
                ], order=[('id', 'ASC')])

    def _sync(self, sweep=False):
        pool = Pool()
        Service = pool.get('isp.service')
        services = self._sync_services()
        users, profiles = desired_state(self, services)
        try:
            report = routeros.reconcile(
                router_config(self), users, profiles,
                sweep_sessions=sweep)
        except routeros.RouterError as error:
            self._record_sync_error(error, services)
            return
        now = dt.datetime.now()
        failed = {}
        for key, reason in report.failed:
            failed.setdefault(key, []).append(reason)
        applied = set(report.added) | set(report.changed) | set(
            report.removed)
        services_by_id = {s.id: s for s in services}
        drift = sum(1 for i in applied
            if i not in services_by_id
            or services_by_id[i].sync_status == 'in_sync')
        to_write = {}
        for service in services:
            reasons = list(failed.get(service.id, []))
            if service.state != 'cancelled':
                profile = service.plan.template.router_profile
                reasons += ['%s: %s' % (profile, r)
                    for r in failed.get(profile, [])]
            if reasons:
                values = ('error', '\n'.join(reasons))
            else:
                values = ('in_sync', None)
            if (service.sync_status, service.sync_message) != values:
                to_write.setdefault(values, []).append(service)
        args = []
        for (status, message), records in to_write.items():
            args.extend((records, {
                        'sync_status': status, 'sync_message': message}))
        if args:
            Service.write(*args)
        if report.failed:
            sync_error = gettext('isp_billing.msg_router_sync_failures',
                router=self.rec_name, count=len(report.failed),
                details='; '.join('%s: %s' % (k, r)
                    for k, r in report.failed))
        else:
            sync_error = None
        self.last_sync = now
        self.last_seen = now
        self.status = 'online'
        self.sync_error = sync_error
        self.drift_count = drift
        self.save()
        logger.info("router %s synced: %s", self.id, report.summary())

    def _record_sync_error(self, error, services=None):
        "Record a sync that could not complete on router and services"
        pool = Pool()
        Service = pool.get('isp.service')
        message = error_message(self, error)
        if services is None:
            services = self._sync_services()
        partial = getattr(error, 'report', None)
        done = set()
        if partial is not None:
            done = (set(partial.added) | set(partial.changed)
                | set(partial.removed)) - partial.failed_ids
        in_sync = [s for s in services
            if s.id in done and s.sync_status != 'in_sync']
        errors = [s for s in services
            if s.id not in done and s.sync_status in {'pending', 'error'}]
        args = []
        if in_sync:
            args.extend((in_sync,
                    {'sync_status': 'in_sync', 'sync_message': None}))
        if errors:
            args.extend((errors,
                    {'sync_status': 'error', 'sync_message': message}))
        if args:
            Service.write(*args)
        self.last_sync = dt.datetime.now()
        self.sync_error = message
        if is_offline_error(error):
            self.status = 'offline'
        self.save()

    # status

    def _set_status_info(self, info):
        "Apply a router_info() dict to the status fields"
        self.status = 'online'
        self.last_seen = dt.datetime.now()
        self.identity = info.get('identity')
        self.reported_version = info.get('version')
        self.board = info.get('board')
        self.uptime = info.get('uptime')
        self.cpu_load = _int(info.get('cpu_load'))
        self.memory_free = _mib(info.get('free_memory'))
        self.memory_total = _mib(info.get('total_memory'))

    @classmethod
    def _refresh_status(cls, routers):
        """Poll every router (in parallel threads), record its status and
        a history row; an unreachable router is marked offline."""
        Status = Pool().get('isp.router.status')
        configs = {r.id: router_config(r) for r in routers}
        results = run_parallel(
            lambda r: routeros.router_info(configs[r.id]), routers)
        history = []
        for router, info, error in results:
            if error is None:
                router._set_status_info(info)
            else:
                if not isinstance(error, routeros.RouterError):
                    logger.error("status of router %s: %r", router.id, error)
                router.status = 'offline'
            history.append(Status.from_router(router, online=error is None))
        cls.save(routers)
        Status.save(history)


def _int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _mib(value):
    value = _int(value)
    return value // (1024 * 1024) if value is not None else None


class Service(metaclass=PoolMeta):
    __name__ = 'isp.service'

    @classmethod
    def preprocess_values(cls, mode, values):
        values = super().preprocess_values(mode, values)
        if (mode == 'write' and SERVICE_SYNC_FIELDS & values.keys()
                and 'sync_status' not in values):
            values = values.copy()
            values['sync_status'] = 'pending'
        return values

    @classmethod
    def on_write(cls, services, values):
        callbacks = super().on_write(services, values)
        if SERVICE_SYNC_FIELDS & values.keys():
            # the routers before the write: a moved service must leave
            # its old router too
            old = {s.router.id for s in services if s.state != 'draft'}
            ids = [s.id for s in services]

            def enqueue():
                new = {s.router.id for s in cls.browse(ids)
                    if s.state != 'draft'}
                enqueue_sync(sorted(old | new))
            callbacks.append(enqueue)
        return callbacks

    @classmethod
    def on_modification(cls, mode, services, field_names=None):
        super().on_modification(mode, services, field_names=field_names)
        if mode in {'create', 'delete'}:
            enqueue_sync(sorted({s.router.id for s in services
                        if s.state != 'draft'}))


class Template(metaclass=PoolMeta):
    __name__ = 'product.template'

    @classmethod
    def on_modification(cls, mode, templates, field_names=None):
        super().on_modification(mode, templates, field_names=field_names)
        if mode == 'write' and field_names and (
                field_names & PLAN_SYNC_FIELDS):
            plans = [t for t in templates if t.isp_plan]
            if plans:
                mark_plan_services([t.id for t in plans])


def mark_plan_services(template_ids):
    "Mark the services of these plans pending and enqueue their routers"
    Service = Pool().get('isp.service')
    services = Service.search([
            ('plan.template', 'in', template_ids),
            ('state', '!=', 'draft'),
            ])
    if not services:
        return
    Service.write(services, {'sync_status': 'pending'})
    enqueue_sync(sorted({s.router.id for s in services}))


class Cron(metaclass=PoolMeta):
    __name__ = 'ir.cron'

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.method.selection.extend([
                ('isp.router|cron_sync', "Synchronize Routers"),
                ('isp.router|cron_refresh_status', "Refresh Router Status"),
                ('isp.usage|collect_all', "Collect Router Usage"),
                ])

