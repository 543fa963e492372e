"""Declarative description of the simulated menus (as the RouterOS API answers it).

Each menu lists its properties in print order, their type, default and
whether they can be written.  ``default=None`` means "not printed until set"
(UNCONFIRMED whether real routers omit unset optional properties, §3.1;
clients must use ``.get()`` anyway).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from . import values as V
from .errors import Trap


@dataclass(frozen=True)
class Field:
    name: str
    kind: str = "str"          # str bool int time time-none rate pair ip mac target laddr enum ref shared
    default: str | None = None  # None: omitted from print until set
    readonly: bool = False
    required: bool = False
    choices: tuple = ()
    ref: str | None = None      # menu path whose ``name`` values are accepted
    ref_extra: tuple = ()       # literal values accepted besides names (``all``)


@dataclass
class Menu:
    path: str
    fields: list[Field]
    commands: frozenset
    unique: tuple = ()          # fields forming the uniqueness key
    dup_message: str = "failure: already have such name"
    volatile: bool = False      # not persisted; emptied by reboot
    singleton: bool = False     # /system/identity, /system/resource: one row, no .id
    auto_name: str | None = None  # prefix for generated names (queue1, ...)
    counters: tuple = ()        # fields zeroed by reboot
    by_name: dict = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self):
        self.by_name = {f.name: f for f in self.fields}
        self.writable = {f.name for f in self.fields if not f.readonly}


LIST_CMDS = frozenset({"add", "set", "remove", "print", "enable", "disable"})
B, T, F = "bool", "true", "false"


def _f(name, kind="str", default=None, **kw) -> Field:
    return Field(name, kind, default, **kw)


def _ro(name, default="0", kind="str") -> Field:
    return Field(name, kind, default, readonly=True)


HOTSPOT_SERVER = Menu("/ip/hotspot", [
    _f("name", required=True), _f("interface", "ref", ref="/interface", required=True),
    _f("address-pool", default="none"), _f("profile", default="default"),
    _f("idle-timeout", "time-none", "5m"), _f("keepalive-timeout", "time-none", "none"),
    _f("login-timeout", "time-none", "none"), _f("addresses-per-mac", default="2"),
    _ro("proxy-status", "running"), _f("disabled", B, F), _ro("invalid", F), _ro("HTTPS", F),
    _f("comment"),
], LIST_CMDS, unique=("name",))

HOTSPOT_PROFILE = Menu("/ip/hotspot/user/profile", [
    _f("name", required=True), _f("idle-timeout", "time-none", "none"),
    _f("keepalive-timeout", "time-none", "2m"), _f("status-autorefresh", "time", "1m"),
    _f("shared-users", "shared", "1"), _f("add-mac-cookie", B, T),
    _f("mac-cookie-timeout", "time", "3d"), _f("address-pool"), _f("rate-limit", "rate"),
    _f("session-timeout", "time"), _f("address-list"), _f("incoming-filter"),
    _f("outgoing-filter"), _f("on-login"), _f("on-logout"), _f("parent-queue"),
    _f("queue-type"), _f("open-status-page", "enum", "always", choices=("always", "http-login")),
    _f("transparent-proxy", B, F), _ro("default", F), _f("comment"),
], frozenset({"add", "set", "remove", "print"}), unique=("name",))

HOTSPOT_USER = Menu("/ip/hotspot/user", [
    _f("server", "ref", None, ref="/ip/hotspot", ref_extra=("all",)),
    _f("name", required=True), _f("password", default=""),
    _f("profile", "ref", "default", ref="/ip/hotspot/user/profile"),
    _f("address", "ip"), _f("mac-address", "mac"), _f("email"), _f("routes"),
    _f("limit-uptime", "time"), _f("limit-bytes-in", "int"), _f("limit-bytes-out", "int"),
    _f("limit-bytes-total", "int"),
    _ro("uptime", "0s"), _ro("bytes-in"), _ro("bytes-out"), _ro("packets-in"), _ro("packets-out"),
    _ro("dynamic", F), _f("disabled", B, F), _f("comment"),
], LIST_CMDS | {"reset-counters"}, unique=("name",),
    dup_message="failure: already have user with this name for this server",
    counters=("uptime", "bytes-in", "bytes-out", "packets-in", "packets-out"))

HOTSPOT_ACTIVE = Menu("/ip/hotspot/active", [
    _ro("server", "hotspot1"), _ro("user", ""), _ro("domain", ""), _ro("address", ""),
    _ro("mac-address", ""), _ro("login-by", "http-chap"), _ro("uptime", "0s"),
    _ro("idle-time", "0s"), _ro("session-time-left", None), _ro("limit-bytes-total", None),
    _ro("bytes-in"), _ro("bytes-out"), _ro("packets-in"), _ro("packets-out"),
    _ro("radius", F), _f("comment"),
], frozenset({"print", "remove", "login"}), volatile=True)

PPP_PROFILE = Menu("/ppp/profile", [
    _f("name", required=True), _f("local-address"), _f("remote-address"), _f("bridge"),
    _f("rate-limit", "rate"), _f("session-timeout", "time"), _f("idle-timeout", "time"),
    _f("address-list"), _f("dns-server"), _f("parent-queue"), _f("queue-type"),
    _f("on-up"), _f("on-down"),
    _f("use-mpls", default="default"), _f("use-compression", default="default"),
    _f("use-encryption", default="default"), _f("only-one", default="default"),
    _f("change-tcp-mss", default="default"), _f("use-upnp", default="default"),
    _ro("default", F), _f("comment"),
], frozenset({"add", "set", "remove", "print"}), unique=("name",))

PPP_SECRET = Menu("/ppp/secret", [
    _f("name", required=True),
    _f("service", "enum", "any", choices=("any", "async", "l2tp", "ovpn", "pppoe", "pptp", "sstp")),
    _f("caller-id", default=""), _f("password", default=""),
    _f("profile", "ref", "default", ref="/ppp/profile"),
    _f("local-address", "ip"), _f("remote-address", "ip"), _f("routes", default=""),
    _f("ipv6-routes", default=""), _f("limit-bytes-in", "int", "0"),
    _f("limit-bytes-out", "int", "0"), _ro("last-logged-out", None),
    _ro("last-caller-id", None), _ro("last-disconnect-reason", None),
    _f("disabled", B, F), _f("comment"),
], LIST_CMDS, unique=("name",), dup_message="failure: secret with the same name already exists")

PPP_ACTIVE = Menu("/ppp/active", [
    _ro("name", ""), _ro("service", "pppoe"), _ro("caller-id", ""), _ro("address", ""),
    _ro("uptime", "0s"), _ro("encoding", ""), _ro("session-id", ""),
    _ro("limit-bytes-in"), _ro("limit-bytes-out"), _ro("radius", F), _f("comment"),
], frozenset({"print", "remove"}), volatile=True)

QUEUE_SIMPLE = Menu("/queue/simple", [
    _f("name"), _f("target", "target", required=True), _f("parent", default="none"),
    _f("packet-marks", default=""), _f("priority", default="8/8"),
    _f("queue", default="default-small/default-small"),
    _f("limit-at", "pair", "0/0"), _f("max-limit", "pair", "0/0"),
    _f("burst-limit", "pair", "0/0"), _f("burst-threshold", "pair", "0/0"),
    _f("burst-time", default="0s/0s"), _f("bucket-size", default="0.1/0.1"),
    _ro("invalid", F), _ro("dynamic", F), _f("disabled", B, F), _f("comment"),
    _ro("rate", "0/0"), _ro("packet-rate", "0/0"), _ro("bytes", "0/0"), _ro("total-bytes"),
    _ro("packets", "0/0"), _ro("dropped", "0/0"),
], LIST_CMDS, unique=("name",), auto_name="queue",
    counters=("bytes", "packets", "dropped"))

ADDRESS_LIST = Menu("/ip/firewall/address-list", [
    _f("list", required=True), _f("address", "laddr", required=True),
    _f("timeout", "time"), _ro("creation-time", ""), _ro("dynamic", F),
    _f("disabled", B, F), _f("comment"),
], LIST_CMDS, unique=("list", "address"), dup_message="failure: already have such entry")

INTERFACE = Menu("/interface", [
    _f("name", required=True), _ro("default-name", None), _ro("type", "ether"),
    _f("mtu", default="1500"), _ro("actual-mtu", "1500"), _f("l2mtu", default="1514"),
    _ro("max-l2mtu", None), _ro("mac-address", None), _ro("last-link-up-time", None),
    _ro("link-downs"), _ro("rx-byte"), _ro("tx-byte"), _ro("rx-packet"), _ro("tx-packet"),
    _ro("rx-drop"), _ro("tx-drop"), _ro("tx-queue-drop"), _ro("rx-error"), _ro("tx-error"),
    _ro("fp-rx-byte"), _ro("fp-tx-byte"), _ro("fp-rx-packet"), _ro("fp-tx-packet"),
    _ro("running", T), _ro("slave", F), _ro("dynamic", F), _f("disabled", B, F), _f("comment"),
], frozenset({"set", "print", "enable", "disable", "reset-counters"}), unique=("name",),
    counters=("rx-byte", "tx-byte", "rx-packet", "tx-packet", "rx-drop", "tx-drop",
              "tx-queue-drop", "rx-error", "tx-error", "fp-rx-byte", "fp-tx-byte",
              "fp-rx-packet", "fp-tx-packet", "link-downs"))

IDENTITY = Menu("/system/identity", [_f("name", default="MikroTik")],
                frozenset({"print", "set"}), singleton=True)

RESOURCE = Menu("/system/resource", [
    _ro("uptime", "0s"), _ro("version", ""), _ro("build-time", ""), _ro("factory-software", ""),
    _ro("free-memory", "0"), _ro("total-memory", "0"), _ro("cpu", "QEMU"), _ro("cpu-count", "1"),
    _ro("cpu-frequency", "2400"), _ro("cpu-load", "0"), _ro("free-hdd-space", "0"),
    _ro("total-hdd-space", "0"), _ro("architecture-name", "x86_64"), _ro("board-name", "CHR"),
    _ro("platform", "MikroTik"),
], frozenset({"print"}), singleton=True)

MENUS: dict[str, Menu] = {m.path: m for m in (
    HOTSPOT_SERVER, HOTSPOT_PROFILE, HOTSPOT_USER, HOTSPOT_ACTIVE, PPP_PROFILE, PPP_SECRET,
    PPP_ACTIVE, QUEUE_SIMPLE, ADDRESS_LIST, INTERFACE, IDENTITY, RESOURCE)}

# Every prefix of a menu path is a "directory" (for the unknown-path traps, §1.8).
DIRS: set[str] = {"/"}
for _p in MENUS:
    _segs = _p.strip("/").split("/")
    for _i in range(1, len(_segs) + 1):
        DIRS.add("/" + "/".join(_segs[:_i]))

PRINT_ARGS = frozenset({
    ".proplist", "count-only", "detail", "without-paging", "terse", "brief", "as-value",
    "show-ids", "value-list", "stats", "interval", "follow", "follow-only", "from", "append",
    "bytes", "packets", "group-by", "file", "oid", "where", "show-sensitive", "all",
})


def normalize(menu: Menu, name: str, value: str, names_of) -> str:
    """Check and convert one written value to its printed form; raise Trap on bad input.

    ``names_of(path)`` returns the set of ``name`` values of another menu (refs).
    """
    fld = menu.by_name[name]
    kind = fld.kind
    if kind == "str":
        return value
    if kind == "bool":
        return V.parse_bool(value, name)
    if kind == "int":
        return V.parse_int(value, name)
    if kind == "time":
        return V.format_duration(V.parse_duration(value, name))
    if kind == "time-none":
        if value in ("none", ""):
            return "none"
        return V.format_duration(V.parse_duration(value, name))
    if kind == "rate":
        return V.check_rate_limit(value, name)
    if kind == "pair":
        return V.parse_limit_pair(value, name)
    if kind == "ip":
        return V.parse_ip(value, name)
    if kind == "mac":
        return V.parse_mac(value, name)
    if kind == "target":
        return V.parse_target(value, name)
    if kind == "laddr":
        return V.parse_list_address(value, name)
    if kind == "enum":
        if value not in fld.choices:
            raise V.bad(name)
        return value
    if kind == "shared":
        if value == "unlimited":
            return value
        return V.parse_int(value, name)
    if kind == "ref":
        if value in fld.ref_extra or value in names_of(fld.ref):
            return value
        raise Trap(f"input does not match any value of {name}", 1)
    raise AssertionError(kind)
