"""Router synchronisation: the Tryton side of the desired-state reconcile.

Business transactions never talk to routers.  A change that affects a router
only marks the services ``pending`` and enqueues ONE ``isp.router|sync`` task
per router on ``ir.queue`` (deduplicated per transaction).  The task runs
after commit (by ``trytond-worker``, or in-process right after the commit
without a worker), locks the router, computes the desired state from the
database, calls the driver (:mod:`isp_billing.routeros`) and records the
outcome (``Router.sync`` in models/router.py).  A rollback removes the queued
task with everything else, so it never reaches a router.

This file holds the functions shared by the hooks of the service, the plan
and the router: it defines no model.
"""
from trytond import config
from trytond.i18n import gettext
from trytond.pool import Pool
from trytond.transaction import Transaction

from .. import routeros


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
