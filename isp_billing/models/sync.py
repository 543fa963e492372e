"""Router synchronisation: the Tryton side of the desired-state reconcile.

Business transactions never talk to routers.  A change that affects a router
only marks the services ``pending`` and enqueues a task on ``ir.queue``, at
most ONE per router per transaction:

* a change of some services (a payment, an expiry, a password...) queues a
  **targeted sync**, ``isp.router|sync_services`` carrying the changed
  service ids: the task reads the desired entries of those services only
  (one SQL join) and the driver touches only their entries
  (``routeros.apply_services``): O(1) router commands per payment whatever
  the router's size.  More changes in the same transaction add their ids to
  the same task; past :data:`TARGETED_LIMIT` ids it becomes a full
  reconcile;
* a change of a plan's profile or of the router, the *Sync now* button and
  the scheduled reconcile queue a **full reconcile**, ``isp.router|sync``
  (the safety net that repairs drift); queued in the same transaction, it
  supersedes the targeted task of its router.

The task runs after commit (by ``trytond-worker``; without a worker Tryton
runs it in-process right after the commit -- and for a user's request we
hand it to a background thread instead, see :class:`BackgroundRunner`:
a cashier never waits on a router).  It computes the desired state from the
database, calls the driver (:mod:`isp_billing.routeros`) and records the
outcome (models/router.py).  A rollback removes the queued task with
everything else, so it never reaches a router.

Desired state and sync status are read and written with set-based SQL
(python-sql), never by browsing every service of a router: a router holds
tens of thousands of them.

This file holds the functions shared by the hooks of the service, the plan
and the router: it defines no model.
"""
import logging
import re
import threading
from collections import namedtuple

from sql import Null

from trytond import backend, config
from trytond.i18n import gettext
from trytond.model.fields import SQL_OPERATORS
from trytond.pool import Pool
from trytond.tools import grouped_slice
from trytond.transaction import Transaction, without_check_access

from .. import routeros

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
#: changed services of one router in one transaction above which the
#: targeted sync gives way to a full reconcile (a few prints)
TARGETED_LIMIT = 200


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


def _error_detail(error):
    """What went wrong, without the driver's advice when the message gives
    its own (a refused connection said "check the API service" twice)."""
    reason = getattr(error, 'reason', None)
    if type(error) is routeros.RouterUnreachable and reason:
        if isinstance(reason, OSError) and reason.strerror:
            text = reason.strerror
        else:
            text = re.sub(r'^\[Errno -?\d+\]\s*', '', str(reason))
        return text.rstrip('.') + '.'
    return str(error)


def error_message(router, error):
    "Translated text (message.xml) for a driver error on a router"
    values = {
        'router': router.rec_name,
        'address': '%s:%s' % (router.host, router.port),
        'detail': _error_detail(error),
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


#: what the sync needs of a service, read in one join (service_rows)
ServiceRow = namedtuple('ServiceRow', [
        'id', 'router', 'kind', 'login', 'password', 'mac_address',
        'ip_address', 'state', 'sync_status', 'sync_message', 'profile',
        'download_rate', 'upload_rate', 'shared_users'])


def _service_query(where):
    pool = Pool()
    Service = pool.get('isp.service')
    Product = pool.get('product.product')
    Template = pool.get('product.template')
    service = Service.__table__()
    product = Product.__table__()
    template = Template.__table__()
    return service.join(product, condition=product.id == service.plan
        ).join(template, condition=template.id == product.template
        ).select(
            service.id, service.router, service.kind, service.login,
            service.password, service.mac_address, service.ip_address,
            service.state, service.sync_status, service.sync_message,
            template.router_profile, template.download_rate,
            template.upload_rate, template.shared_users,
            where=where(service), order_by=[service.id.asc])


def service_rows(router_id=None, service_ids=None):
    """ServiceRows of the non-draft services of a router (one query), or of
    the given service ids whatever their router and state (by slices)"""
    cursor = Transaction().connection.cursor()
    if service_ids is None:
        cursor.execute(*_service_query(lambda s: (s.router == router_id)
                & (s.state != 'draft')))
        return [ServiceRow(*r) for r in cursor]
    rows = []
    for sub_ids in grouped_slice(
            sorted(set(service_ids)), backend.MAX_QUERY_PARAMS - 2):
        cursor.execute(*_service_query(
                lambda s: SQL_OPERATORS['in'](s.id, list(sub_ids))))
        rows.extend(ServiceRow(*r) for r in cursor)
    return rows


def desired_state(router, rows):
    """Return (users, profiles) that ``router`` should hold for ``rows``
    (ServiceRows): draft and cancelled ones and those of another router are
    left out (their entries are removed), active ones enabled, expired and
    suspended ones disabled."""
    users, profiles = [], {}
    server = router.hotspot_server
    for row in rows:
        if row.state in {'draft', 'cancelled'} or row.router != router.id:
            continue
        key = (row.kind, row.profile)
        if key not in profiles:
            profiles[key] = routeros.DesiredProfile(
                kind=row.kind, name=row.profile,
                rate_limit=routeros.rate_limit(
                    row.download_rate or 0, row.upload_rate or 0),
                shared_users=(row.shared_users
                    if row.kind == 'hotspot' else None))
        users.append(routeros.DesiredUser(
                service_id=row.id,
                kind=row.kind,
                name=row.login,
                password=row.password,
                profile=row.profile,
                disabled=row.state != 'active',
                server=server,
                mac_address=row.mac_address or None,
                address=row.ip_address or None))
    return users, list(profiles.values())


def write_sync_status(changes):
    """Store sync results: ``changes`` maps (status, message) to service
    ids.  One UPDATE per value and slice of ids, without the ORM: after a
    router outage every service of it changes status, and these system
    fields need neither validation nor hooks.  write_date is left alone so
    that a background sync never makes a clerk's open form stale."""
    Service = Pool().get('isp.service')
    transaction = Transaction()
    table = Service.__table__()
    cursor = transaction.connection.cursor()
    written = False
    for (status, message), ids in changes.items():
        for sub_ids in grouped_slice(
                sorted(ids), backend.MAX_QUERY_PARAMS - 2):
            cursor.execute(*table.update(
                    [table.sync_status, table.sync_message],
                    [status, message],
                    where=SQL_OPERATORS['in'](table.id, list(sub_ids))))
            written = True
    if written:
        # as ModelStorage.write does: no record of this transaction keeps
        # a stale value in its cache
        transaction.counter += 1
        for cache in transaction.cache.values():
            cache.pop(Service.__name__, None)


def status_changes(rows, report, only=None):
    """{(status, message): ids} of the rows whose recorded status differs
    from what the driver's report says (rows restricted to ids ``only``)"""
    failed = {}
    for key, reason in report.failed:
        failed.setdefault(key, []).append(reason)
    changes = {}
    for row in rows:
        if only is not None and row.id not in only:
            continue
        reasons = list(failed.get(row.id, []))
        if row.state != 'cancelled':
            reasons += ['%s: %s' % (row.profile, r)
                for r in failed.get(row.profile, [])]
        if reasons:
            values = ('error', '\n'.join(reasons))
        else:
            values = ('in_sync', None)
        if (row.sync_status, row.sync_message) != values:
            changes.setdefault(values, []).append(row.id)
    return changes


class BackgroundRunner:
    """Runs queue tasks handed over by users' requests in one daemon thread
    of this process, one after the other.

    Without ``trytond-worker`` Tryton runs the tasks queued by a request
    right after its commit, inside the request: a cashier's *Pay* would wait
    for the router (up to the router timeout when it is down).  So the sync
    tasks queued by a request (context ``_request``, set by the RPC
    dispatcher) are taken out of ``transaction.tasks`` and given to this
    runner once the transaction has committed; it runs them as the worker
    would (``trytond.worker.run_task``: own transaction, retries).  The
    service shows *pending* until the task has run; if the process stops
    before, the scheduled reconcile heals the router.

    Not for SQLite's ``:memory:`` database (one per thread): there the task
    stays in the request.  Other callers (cron, scripts, tests) keep
    Tryton's behaviour: the task runs after their commit, in their thread.
    """

    def __init__(self):
        self._condition = threading.Condition()
        self._tasks = []
        self._unfinished = 0
        self._thread = None
        self.ran = 0

    def submit(self, database_name, task_ids):
        with self._condition:
            for task_id in task_ids:
                self._tasks.append((database_name, task_id))
                self._unfinished += 1
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop,
                    name='isp-router-sync', daemon=True)
                self._thread.start()
            self._condition.notify_all()

    def _loop(self):
        from trytond.worker import run_task
        while True:
            with self._condition:
                while not self._tasks:
                    self._condition.wait()
                database_name, task_id = self._tasks.pop(0)
            try:
                run_task(database_name, task_id)
            except Exception:
                logger.exception("router sync task %s failed", task_id)
            finally:
                with self._condition:
                    self._unfinished -= 1
                    self.ran += 1
                    self._condition.notify_all()

    @property
    def pending(self):
        "Tasks handed over and not finished yet"
        with self._condition:
            return self._unfinished

    def wait(self, timeout=None):
        "Wait until every handed-over task ran; False on timeout"
        with self._condition:
            return self._condition.wait_for(
                lambda: not self._unfinished, timeout)


background = BackgroundRunner()


def in_background():
    """True when the tasks queued now must go to the background runner:
    a user's request (RPC dispatcher), no worker, a database other threads
    can open"""
    transaction = Transaction()
    return ('_request' in transaction.context
        and not config.getboolean('queue', 'worker', default=False)
        and not (backend.name == 'sqlite'
            and transaction.database.name == ':memory:'))


class _SyncQueue:
    """Transaction data manager remembering the sync tasks queued in the
    current transaction: routers with a full reconcile, routers with a
    targeted task (its queue id and service ids) and the tasks to hand to
    the background runner after commit.  Forgotten on commit and rollback."""

    def __init__(self):
        self.routers = set()        # full reconcile queued
        self.targeted = {}          # router id: (task id, set of ids)
        self.background = []        # task ids for the BackgroundRunner
        self.database_name = None

    def __eq__(self, other):
        return isinstance(other, _SyncQueue)

    def __hash__(self):
        return hash(_SyncQueue)

    def _clear(self):
        self.routers.clear()
        self.targeted.clear()
        self.background = []

    def abort(self, transaction):
        self._clear()

    def tpc_begin(self, transaction):
        pass

    def commit(self, transaction):
        pass

    def tpc_vote(self, transaction):
        pass

    def tpc_finish(self, transaction):
        tasks, database_name = self.background, self.database_name
        self._clear()
        if tasks:
            background.submit(database_name, tasks)

    def tpc_abort(self, transaction):
        self._clear()

    def pushed(self, transaction, task_id):
        "Route a just queued task to the background runner if needed"
        if in_background() and task_id in transaction.tasks:
            transaction.tasks.remove(task_id)
            self.database_name = transaction.database.name
            self.background.append(task_id)

    def drop(self, transaction, task_id):
        "Forget a queued task superseded in this transaction"
        Queue = Pool().get('ir.queue')
        with without_check_access():
            Queue.delete([Queue(task_id)])
        if task_id in transaction.tasks:
            transaction.tasks.remove(task_id)
        if task_id in self.background:
            self.background.remove(task_id)


#: routers per task of the scheduled reconcile: a fleet is a few tasks
#: (several workers share them), each reconciling its routers in parallel
FLEET_TASK_ROUTERS = 100


def router_threads():
    "Routers reconciled at once by one task ([isp_billing] router_threads)"
    return max(1, config.getint('isp_billing', 'router_threads', default=16))


def enqueue_sync(routers, sweep=False, per_task=1):
    """Queue the full reconcile of the routers not yet queued in this
    transaction, per_task routers a task: one each after a change of
    routers or services; FLEET_TASK_ROUTERS for the scheduled reconcile of
    the fleet, whose task runs its routers in parallel (Router.sync).  It
    supersedes a targeted sync queued before for the same router.  Runs
    after commit; nothing happens if the transaction rolls back."""
    Router = Pool().get('isp.router')
    transaction = Transaction()
    queue = transaction.join(_SyncQueue())
    ids = sorted({int(r) for r in routers} - queue.routers)
    task_ids = []
    with transaction.set_context(queue_name=QUEUE_NAME):
        for i in range(0, len(ids), per_task):
            chunk = ids[i:i + per_task]
            queue.routers.update(chunk)
            for router_id in chunk:
                if router_id in queue.targeted:
                    queue.drop(transaction, queue.targeted.pop(router_id)[0])
            task_id, = Router.__queue__.sync(
                Router.browse(chunk), sweep=sweep)
            queue.pushed(transaction, task_id)
            task_ids.append(task_id)
    return task_ids


def enqueue_service_sync(changes):
    """Queue a targeted sync of changed services: ``changes`` maps router
    ids to the ids of its services that changed.  One task per router and
    transaction (later changes add their ids to it), none where a full
    reconcile is already queued; more than TARGETED_LIMIT ids make it a
    full reconcile."""
    pool = Pool()
    Router = pool.get('isp.router')
    Queue = pool.get('ir.queue')
    transaction = Transaction()
    queue = transaction.join(_SyncQueue())
    full = []
    with transaction.set_context(queue_name=QUEUE_NAME), \
            without_check_access():
        for router_id, service_ids in sorted(changes.items()):
            router_id = int(router_id)
            service_ids = {int(i) for i in service_ids}
            if router_id in queue.routers or not service_ids:
                continue
            task_id, queued = queue.targeted.get(router_id, (None, set()))
            if service_ids <= queued:
                continue
            queued = queued | service_ids
            if len(queued) > TARGETED_LIMIT:
                full.append(router_id)
                continue
            if task_id is None:
                task_id, = Router.__queue__.sync_services(
                    [Router(router_id)], sorted(queued))
                queue.pushed(transaction, task_id)
            else:
                task = Queue(task_id)
                data = dict(task.data)
                data['args'] = [sorted(queued)]
                Queue.write([task], {'data': data})
            queue.targeted[router_id] = (task_id, queued)
    if full:
        enqueue_sync(full)


def mark_plan_services(template_ids):
    """Mark the services of these plans pending and enqueue their routers
    (a full reconcile: the plan's profile changes).  Set-based SQL."""
    pool = Pool()
    Service = pool.get('isp.service')
    Product = pool.get('product.product')
    service = Service.__table__()
    product = Product.__table__()
    transaction = Transaction()
    cursor = transaction.connection.cursor()
    plans = product.select(product.id,
        where=SQL_OPERATORS['in'](product.template, list(template_ids)))
    where = (service.plan.in_(plans) & (service.state != 'draft'))
    cursor.execute(*service.select(service.router, where=where,
            group_by=[service.router], order_by=[service.router.asc]))
    routers = [r for r, in cursor]
    if not routers:
        return
    cursor.execute(*service.update([service.sync_status], ['pending'],
            where=where & ((service.sync_status != 'pending')
                | (service.sync_status == Null))))
    transaction.counter += 1
    for cache in transaction.cache.values():
        cache.pop(Service.__name__, None)
    enqueue_sync(routers)
