"""MikroTik routers that the ISP manages through the RouterOS API."""
import ipaddress
import re

from trytond.i18n import gettext
from trytond.model import (
    DeactivableMixin, ModelSQL, ModelView, Unique, fields)
from trytond.pool import Pool
from trytond.pyson import Eval

from ..exceptions import RouterValidationError

HOSTNAME = re.compile(
    r'^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)'
    r'(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$')
VERSION = re.compile(r'^\d+\.\d+(\.\d+)?$')


class Router(DeactivableMixin, ModelSQL, ModelView):
    "Router"
    __name__ = 'isp.router'

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
    status = fields.Selection([
            ('unknown', "Unknown"),
            ('online', "Online"),
            ('offline', "Offline"),
            ], "Status", readonly=True)
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


class RouterUser(ModelSQL):
    "Router - Staff User"
    __name__ = 'isp.router-res.user'
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
