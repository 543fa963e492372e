"""The simulated router's configuration and runtime state.

One ``RouterState`` per simulated router, guarded by one re-entrant lock
(API connections and the Python test API run in different threads).  Rows are
stored as ``dict[str, str]`` holding the values exactly as the API prints
them, keyed by integer internal id; ``.id`` is the first key (``*1A``).
Unique keys are indexed so that adding 10,000 users is O(n), not O(n^2).

Traffic model (UNCONFIRMED vs real routers, see README): ``add_traffic`` grows
the active session *and* the user's totals immediately (real routers update
local users' totals at logout, §3.1); the user's ``uptime`` shows the closed
sessions plus the running ones.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import threading
import time
from dataclasses import dataclass

from . import values as V
from .errors import SimError, Trap
from .menus import MENUS, Menu, normalize

BUILTIN_IDS = 0xF0000000   # ids like *FFFFFFFE (default-encryption) do not move the counter
VOLATILE_PATHS = {p for p, m in MENUS.items() if m.volatile}
_MONTHS = "jan feb mar apr may jun jul aug sep oct nov dec".split()


def parse_version(text: str) -> tuple[tuple[int, int, int], str]:
    """``'7.18'`` -> ((7, 18, 2), '7.18.2 (stable)'); patch defaults follow librouteros' test images.

    Anything after the numeric part (``7.19rc1``, ``6.49.10 (long-term)``) is ignored
    for the login/feature rules.
    """
    m = re.match(r"\s*(\d+)\.(\d+)(?:\.(\d+))?", text)
    if not m:
        raise ValueError(f"bad RouterOS version {text!r} (expected X.Y or X.Y.Z)")
    parts = [int(p) for p in m.groups() if p is not None]
    if len(parts) == 2:
        patch = {(6, 33): 3, (7, 18): 2}.get(tuple(parts))
        if patch is not None:
            parts.append(patch)
    shown = ".".join(str(p) for p in parts)
    while len(parts) < 3:
        parts.append(0)
    channel = "bugfix" if tuple(parts[:2]) == (6, 33) else "stable"
    return (parts[0], parts[1], parts[2]), f"{shown} ({channel})"


@dataclass
class Session:
    kind: str          # 'hotspot' | 'ppp'
    active_id: int
    user_id: int
    login_at: float
    iface_id: int | None = None


class Table:
    """Rows of one menu plus its unique-key index and encoded-row cache."""

    def __init__(self, menu: Menu):
        self.menu = menu
        self.rows: dict[int, dict[str, str]] = {}
        self.next_id = 1
        self.keys: dict[tuple, int] = {}
        self.enc: dict[int, bytes] = {}      # full-print encoding cache (server.py)
        self.volatile_ids: set[int] = set()  # dynamic rows: not saved, dropped on reboot
        self.live_ids: set[int] = set()      # rows whose print depends on the clock
        self.watchers: list = []             # callbacks(rid) of follow/listen streams (server.py)

    def notify(self, rid: int) -> None:
        for cb in list(self.watchers):
            cb(rid)

    def key_of(self, row: dict) -> tuple | None:
        if not self.menu.unique:
            return None
        return tuple(row.get(f, "") for f in self.menu.unique)

    def insert(self, row: dict, rid: int | None = None, volatile: bool = False) -> int:
        if rid is None:
            rid = self.next_id
        if rid < BUILTIN_IDS:
            self.next_id = max(self.next_id, rid + 1)
        row = {".id": f"*{rid:X}", **{k: v for k, v in row.items() if k != ".id"}}
        self.rows[rid] = row
        key = self.key_of(row)
        if key is not None:
            self.keys[key] = rid
        if volatile:
            self.volatile_ids.add(rid)
        if self.watchers:
            self.notify(rid)
        return rid

    def replace(self, rid: int, row: dict) -> None:
        old = self.rows[rid]
        okey, nkey = self.key_of(old), self.key_of(row)
        if okey != nkey:
            if self.keys.get(okey) == rid:
                del self.keys[okey]
            self.keys[nkey] = rid
        self.rows[rid] = row
        self.enc.pop(rid, None)
        if self.watchers:
            self.notify(rid)

    def delete(self, rid: int) -> dict:
        row = self.rows.pop(rid)
        key = self.key_of(row)
        if key is not None and self.keys.get(key) == rid:
            del self.keys[key]
        self.enc.pop(rid, None)
        self.volatile_ids.discard(rid)
        self.live_ids.discard(rid)
        if self.watchers:
            self.notify(rid)
        return row

    def bump(self, rid: int, **deltas: int) -> None:
        """Add to integer counters of a row in place (traffic)."""
        row = self.rows[rid]
        for k, d in deltas.items():
            row[k] = str(int(row.get(k, "0")) + d)
        self.enc.pop(rid, None)
        if self.watchers:
            self.notify(rid)

    def by_name(self, name: str) -> int | None:
        if self.menu.unique == ("name",):
            return self.keys.get((name,))
        for rid, row in self.rows.items():
            if row.get("name") == name:
                return rid
        return None


class RouterState:
    """Everything one simulated router knows; all methods take ``self.lock``."""

    def __init__(self, version: str = "7.18", identity: str = "MikroTik",
                 username: str = "admin", password: str = ""):
        self.lock = threading.RLock()
        self.version, self.version_text = parse_version(version)
        self.identity = identity
        self.accounts = {username: password}
        self.clock_offset = 0.0
        self.boot_at = self.now()
        self.dirty = False
        self.sessions: dict[tuple[str, int], Session] = {}   # (active path, active id)
        self.user_sessions: dict[tuple[str, int], list[int]] = {}  # (kind, user id) -> active ids
        self._seq = itertools.count(1)
        self.tables = {p: Table(m) for p, m in MENUS.items() if not m.singleton}
        self.on_reboot = []          # callbacks (server drops connections)
        self._defaults()

    # ------------------------------------------------------------------ basics
    def now(self) -> float:
        return time.monotonic() + self.clock_offset

    @property
    def no_such_item(self) -> str:
        """``no such item`` before 6.45, ``no such item (4)`` from 6.45 (§1.8, §3.12)."""
        return "no such item (4)" if self.version >= (6, 45, 0) else "no such item"

    def table(self, path: str) -> Table:
        return self.tables[path]

    def names_of(self, path: str) -> set | dict:
        t = self.tables[path]
        if t.menu.unique == ("name",):
            return {k[0]: v for k, v in t.keys.items()}
        return {r.get("name") for r in t.rows.values()}

    def _defaults(self) -> None:
        """Fresh-router configuration (§7.11)."""
        prof = self.tables["/ip/hotspot/user/profile"]
        prof.insert(self._row(prof.menu, {"name": "default", "default": "true"}), rid=0)
        ppp = self.tables["/ppp/profile"]
        ppp.insert(self._row(ppp.menu, {"name": "default", "default": "true"}), rid=0)
        ppp.insert(self._row(ppp.menu, {"name": "default-encryption", "use-encryption": "yes",
                                        "default": "true"}), rid=0xFFFFFFFE)
        iface = self.tables["/interface"]
        for i in range(1, 6):
            iface.insert(self._row(iface.menu, {
                "name": f"ether{i}", "default-name": f"ether{i}", "max-l2mtu": "9796",
                "mac-address": f"0C:00:00:00:00:{i:02X}", "last-link-up-time": self._date()}))
        hs = self.tables["/ip/hotspot"]
        hs.insert(self._row(hs.menu, {"name": "hotspot1", "interface": "ether2",
                                      "address-pool": "hs-pool-2", "profile": "hsprof1"}))

    @staticmethod
    def _row(menu: Menu, given: dict) -> dict:
        row = {f.name: f.default for f in menu.fields if f.default is not None}
        row.update(given)
        return {f.name: row[f.name] for f in menu.fields if row.get(f.name) is not None}

    def _date(self) -> str:
        t = time.localtime()
        if self.version >= (7, 10, 0):
            return time.strftime("%Y-%m-%d %H:%M:%S", t)
        return f"{_MONTHS[t.tm_mon - 1]}/{t.tm_mday:02d}/{t.tm_year} " + time.strftime("%H:%M:%S", t)

    # ------------------------------------------------------------ addressing
    def resolve(self, table: Table, spec: str) -> list[int]:
        """``*1A,*1B`` / names -> internal ids; Trap when any is missing."""
        out = []
        for item in spec.split(","):
            item = item.strip()
            if item.startswith("*"):
                try:
                    rid = int(item[1:], 16)
                except ValueError:
                    raise Trap("invalid internal item number") from None
                if rid not in table.rows:
                    raise Trap(self.no_such_item)
            else:
                rid = table.by_name(item)
                if rid is None:
                    raise Trap(self.no_such_item)
            out.append(rid)
        return out

    def _selector(self, attrs: dict) -> str:
        spec = attrs.pop(".id", None)
        numbers = attrs.pop("numbers", None)
        spec = spec if spec is not None else numbers
        if spec is None:
            raise Trap("missing value(s) of argument(s) numbers")  # UNCONFIRMED text
        return spec

    # ------------------------------------------------------------ writing
    def _apply(self, menu: Menu, row: dict, attrs: dict) -> dict:
        row = dict(row)
        for key, value in attrs.items():
            fld = menu.by_name.get(key)
            if fld is None or fld.readonly:
                raise Trap("unknown parameter")  # UNCONFIRMED text (§1.8)
            if value == "" and fld.default is None:
                row.pop(key, None)  # empty value unsets an optional property
                continue
            row[key] = normalize(menu, key, value, self.names_of)
        return row

    def _ordered(self, menu: Menu, rid: int, row: dict) -> dict:
        out = {".id": f"*{rid:X}"}
        for f in menu.fields:
            if f.name in row:
                out[f.name] = row[f.name]
        return out

    def _check_unique(self, table: Table, rid: int, row: dict) -> None:
        key = table.key_of(row)
        if key is not None:
            other = table.keys.get(key)
            if other is not None and other != rid:
                raise Trap(table.menu.dup_message)

    def add(self, path: str, attrs: dict) -> str:
        with self.lock:
            table = self.tables[path]
            menu = table.menu
            attrs = dict(attrs)
            attrs.pop(".id", None)
            row = self._apply(menu, self._row(menu, {}), attrs)
            if menu.auto_name and not row.get("name"):
                n = len(table.rows) + 1
                while (f"{menu.auto_name}{n}",) in table.keys:
                    n += 1
                row["name"] = f"{menu.auto_name}{n}"
            for f in menu.fields:
                if f.required and not row.get(f.name):
                    raise Trap(f"failure: {f.name} not specified")  # UNCONFIRMED text
            volatile = False
            if path == "/ip/firewall/address-list":
                row["creation-time"] = self._date()
                if "timeout" in row:  # timed entries live in RAM only (MT-AL, §3.9)
                    row["dynamic"] = "true"
                    volatile = True
            rid = table.next_id
            self._check_unique(table, rid, row)
            table.insert(self._ordered(menu, rid, row), volatile=volatile)
            self.dirty = True
            return f"*{rid:X}"

    def set(self, path: str, attrs: dict) -> None:
        with self.lock:
            attrs = dict(attrs)
            if path == "/system/identity":
                attrs.pop(".id", None), attrs.pop("numbers", None)
                unknown = set(attrs) - {"name"}
                if unknown:
                    raise Trap("unknown parameter")
                if "name" in attrs:
                    self.identity = attrs["name"]
                    self.dirty = True
                return
            table = self.tables[path]
            ids = self.resolve(table, self._selector(attrs))
            new_rows = []
            for rid in ids:
                row = self._apply(table.menu, table.rows[rid], attrs)
                self._check_unique(table, rid, row)
                new_rows.append((rid, self._ordered(table.menu, rid, row)))
            for rid, row in new_rows:
                table.replace(rid, row)
            self.dirty = True

    def set_disabled(self, path: str, attrs: dict, disabled: bool) -> None:
        with self.lock:
            attrs = dict(attrs)
            spec = self._selector(attrs)
            if attrs:
                raise Trap("unknown parameter")
            self.set(path, {".id": spec, "disabled": "true" if disabled else "false"})

    def remove(self, path: str, attrs: dict) -> None:
        with self.lock:
            attrs = dict(attrs)
            table = self.tables[path]
            ids = self.resolve(table, self._selector(attrs))
            if attrs:
                raise Trap("unknown parameter")
            for rid in dict.fromkeys(ids):
                if rid not in table.rows:
                    continue
                if path in ("/ip/hotspot/active", "/ppp/active"):
                    self._end_session((path, rid), "admin-reset")
                    continue
                if path in ("/ip/hotspot/user", "/ppp/secret"):
                    kind = "hotspot" if path == "/ip/hotspot/user" else "ppp"
                    for aid in list(self.user_sessions.get((kind, rid), ())):
                        self._end_session((self._active_path(kind), aid), "admin-reset")
                table.delete(rid)
            self.dirty = True

    def reset_counters(self, path: str, attrs: dict) -> None:
        with self.lock:
            attrs = dict(attrs)
            table = self.tables[path]
            ids = self.resolve(table, self._selector(attrs))
            for rid in ids:
                self._zero(table, rid)

    def _zero(self, table: Table, rid: int) -> None:
        row = dict(table.rows[rid])
        for name in table.menu.counters:
            row[name] = table.menu.by_name[name].default
        table.replace(rid, row)

    # ------------------------------------------------------------ reading
    def view(self, path: str, rid: int | None = None, row: dict | None = None) -> dict:
        """The row as the API prints it right now (clock-dependent fields filled in)."""
        if path == "/system/identity":
            return {"name": self.identity}
        if path == "/system/resource":
            return self._resource()
        if path in VOLATILE_PATHS:
            sess = self.sessions.get((path, rid))
            if sess is None:
                return row
            out = dict(row)
            up = int(self.now() - sess.login_at)
            out["uptime"] = V.format_duration(up)
            if path == "/ip/hotspot/active":
                user = self.tables["/ip/hotspot/user"].rows.get(sess.user_id, {})
                if "limit-uptime" in user:
                    left = V.parse_duration(user["limit-uptime"]) - self._user_uptime(sess.user_id)
                    out["session-time-left"] = V.format_duration(max(left, 0))
            return out
        if path == "/ip/hotspot/user" and rid in self.tables[path].live_ids:
            out = dict(row)
            out["uptime"] = V.format_duration(self._user_uptime(rid))
            return out
        return row

    def _user_uptime(self, user_id: int) -> int:
        row = self.tables["/ip/hotspot/user"].rows[user_id]
        total = V.parse_duration(row.get("uptime", "0s"))
        now = self.now()
        for aid in self.user_sessions.get(("hotspot", user_id), ()):
            total += int(now - self.sessions[("/ip/hotspot/active", aid)].login_at)
        return total

    def _resource(self) -> dict:
        up = int(self.now() - self.boot_at)
        n_users = len(self.tables["/ip/hotspot/user"].rows)
        total = 1073741824
        return {
            "uptime": V.format_duration(up), "version": self.version_text,
            "build-time": "2025-02-12 10:00:00" if self.version >= (7, 10, 0) else "Feb/12/2018 10:00:00",
            "factory-software": "7.1" if self.version >= (7, 0, 0) else "6.33",
            "free-memory": str(total - 60000000 - 300 * n_users), "total-memory": str(total),
            "cpu": "QEMU", "cpu-count": "1", "cpu-frequency": "2400",
            "cpu-load": str((int(time.time()) // 7) % 9), "free-hdd-space": "90000000",
            "total-hdd-space": "134217728", "architecture-name": "x86_64",
            "board-name": "CHR", "platform": "MikroTik",
        }

    def rows(self, path: str) -> list[dict]:
        with self.lock:
            if path in ("/system/identity", "/system/resource"):
                return [dict(self.view(path))]
            table = self.tables[path]
            return [dict(self.view(path, rid, row)) for rid, row in table.rows.items()]

    # ------------------------------------------------------------ sessions
    @staticmethod
    def _active_path(kind: str) -> str:
        return "/ip/hotspot/active" if kind == "hotspot" else "/ppp/active"

    def login(self, name: str, kind: str = "hotspot", address: str | None = None,
              mac: str | None = None, password: str | None = None) -> str:
        """Start a session; SimError when the account is missing, disabled or over its limits."""
        if kind not in ("hotspot", "ppp"):
            raise SimError(f"unknown kind {kind!r}")
        with self.lock:
            users = self.tables["/ip/hotspot/user" if kind == "hotspot" else "/ppp/secret"]
            uid = users.by_name(name)
            if uid is None:
                raise SimError(f"no such {kind} user: {name}")
            user = users.rows[uid]
            if user.get("disabled") == "true":
                raise SimError(f"{kind} user {name} is disabled")
            if password is not None and user.get("password", "") != password:
                raise SimError("invalid username or password")
            n = next(self._seq)
            mac = mac or f"02:00:00:{(n >> 16) & 255:02X}:{(n >> 8) & 255:02X}:{n & 255:02X}"
            live = self.user_sessions.setdefault((kind, uid), [])
            if kind == "hotspot":
                self._check_hotspot_limits(uid, user, len(live))
                active = self.tables["/ip/hotspot/active"]
                server = user.get("server", "all")
                if server == "all":
                    servers = self.tables["/ip/hotspot"].rows
                    server = next(iter(servers.values()))["name"] if servers else "hotspot1"
                row = self._row(active.menu, {
                    "server": server, "user": name, "address": address or f"10.5.50.{n % 250 + 2}",
                    "mac-address": mac})
                if "limit-bytes-total" in user:
                    used = int(user.get("bytes-in", "0")) + int(user.get("bytes-out", "0"))
                    row["limit-bytes-total"] = str(max(int(user["limit-bytes-total"]) - used, 0))
                aid = active.insert(row, volatile=True)
                active.live_ids.add(aid)
                users.live_ids.add(uid)
                users.enc.pop(uid, None)
                sess = Session(kind, aid, uid, self.now())
            else:
                if live:
                    raise SimError(f"ppp user {name} is already connected")
                active = self.tables["/ppp/active"]
                row = self._row(active.menu, {
                    "name": name, "service": "pppoe" if user.get("service", "any") == "any" else user["service"],
                    "caller-id": mac, "address": address or user.get("remote-address") or f"10.0.0.{n % 250 + 2}",
                    "session-id": f"0x81{n:06X}", "limit-bytes-in": user.get("limit-bytes-in", "0"),
                    "limit-bytes-out": user.get("limit-bytes-out", "0")})
                aid = active.insert(row, volatile=True)
                active.live_ids.add(aid)
                iface = self.tables["/interface"]
                iid = iface.insert(self._row(iface.menu, {
                    "name": f"<pppoe-{name}>", "type": "pppoe-in", "mtu": "1480", "actual-mtu": "1480",
                    "l2mtu": None, "dynamic": "true", "last-link-up-time": self._date()}), volatile=True)
                sess = Session(kind, aid, uid, self.now(), iid)
            self.sessions[(self._active_path(kind), aid)] = sess
            live.append(aid)
            return f"*{aid:X}"

    def _check_hotspot_limits(self, uid: int, user: dict, n_live: int) -> None:
        profile = self.tables["/ip/hotspot/user/profile"]
        prow = profile.rows.get(profile.by_name(user.get("profile", "default")), {})
        shared = prow.get("shared-users", "1")
        if shared != "unlimited" and n_live >= int(shared):
            raise SimError("no more sessions are allowed for user")
        if "limit-uptime" in user and V.parse_duration(user["limit-uptime"]) > 0:
            if self._user_uptime(uid) >= V.parse_duration(user["limit-uptime"]):
                raise SimError("user has reached uptime limit")
        if self._over_bytes(user):
            raise SimError("user has reached traffic limit")

    @staticmethod
    def _over_bytes(user: dict) -> bool:
        bi, bo = int(user.get("bytes-in", "0")), int(user.get("bytes-out", "0"))
        checks = (("limit-bytes-in", bi), ("limit-bytes-out", bo), ("limit-bytes-total", bi + bo))
        return any(int(user.get(k, "0")) and v >= int(user[k]) for k, v in checks)

    def _end_session(self, key: tuple[str, int], reason: str) -> None:
        sess = self.sessions.pop(key, None)
        path, aid = key
        active = self.tables[path]
        arow = active.delete(aid) if aid in active.rows else {}
        if sess is None:
            return
        live = self.user_sessions.get((sess.kind, sess.user_id), [])
        if aid in live:
            live.remove(aid)
        if sess.kind == "hotspot":
            users = self.tables["/ip/hotspot/user"]
            if sess.user_id in users.rows:
                row = dict(users.rows[sess.user_id])
                row["uptime"] = V.format_duration(
                    V.parse_duration(row.get("uptime", "0s")) + int(self.now() - sess.login_at))
                users.replace(sess.user_id, row)
                if not live:
                    users.live_ids.discard(sess.user_id)
        else:
            iface = self.tables["/interface"]
            if sess.iface_id in iface.rows:
                iface.delete(sess.iface_id)
            secrets = self.tables["/ppp/secret"]
            if sess.user_id in secrets.rows:
                row = dict(secrets.rows[sess.user_id])
                row["last-logged-out"] = self._date()
                row["last-caller-id"] = arow.get("caller-id", "")
                row["last-disconnect-reason"] = reason
                secrets.replace(sess.user_id, self._ordered(secrets.menu, sess.user_id, row))

    def logout(self, name: str, kind: str = "hotspot", reason: str = "user-request") -> None:
        with self.lock:
            users = self.tables["/ip/hotspot/user" if kind == "hotspot" else "/ppp/secret"]
            uid = users.by_name(name)
            live = self.user_sessions.get((kind, uid), []) if uid is not None else []
            if not live:
                raise SimError(f"{kind} user {name} is not logged in")
            for aid in list(live):
                self._end_session((self._active_path(kind), aid), reason)

    def add_traffic(self, name: str, bytes_in: int = 0, bytes_out: int = 0,
                    kind: str = "hotspot") -> None:
        with self.lock:
            users = self.tables["/ip/hotspot/user" if kind == "hotspot" else "/ppp/secret"]
            uid = users.by_name(name)
            live = self.user_sessions.get((kind, uid), []) if uid is not None else []
            if not live:
                raise SimError(f"{kind} user {name} is not logged in")
            aid = live[0]
            pin, pout = -(-bytes_in // 1500), -(-bytes_out // 1500)
            if kind == "hotspot":
                active = self.tables["/ip/hotspot/active"]
                active.bump(aid, **{"bytes-in": bytes_in, "bytes-out": bytes_out,
                                    "packets-in": pin, "packets-out": pout})
                arow = active.rows[aid]
                if "limit-bytes-total" in arow:
                    arow["limit-bytes-total"] = str(max(int(arow["limit-bytes-total"]) - bytes_in - bytes_out, 0))
                users.bump(uid, **{"bytes-in": bytes_in, "bytes-out": bytes_out,
                                   "packets-in": pin, "packets-out": pout})
                if self._over_bytes(users.rows[uid]):
                    for a in list(live):
                        self._end_session(("/ip/hotspot/active", a), "traffic limit reached")
            else:
                sess = self.sessions[("/ppp/active", aid)]
                self.tables["/interface"].bump(sess.iface_id, **{
                    "rx-byte": bytes_in, "tx-byte": bytes_out, "rx-packet": pin, "tx-packet": pout})
                secret = users.rows[uid]
                iface = self.tables["/interface"].rows[sess.iface_id]
                if (int(secret.get("limit-bytes-in", "0")) and int(iface["rx-byte"]) >= int(secret["limit-bytes-in"])) or \
                   (int(secret.get("limit-bytes-out", "0")) and int(iface["tx-byte"]) >= int(secret["limit-bytes-out"])):
                    self._end_session(("/ppp/active", aid), "traffic limit reached")

    def advance(self, seconds: float) -> None:
        """Move the simulated clock forward and enforce uptime limits / session timeouts."""
        with self.lock:
            self.clock_offset += seconds
            users = self.tables["/ip/hotspot/user"]
            for (kind, uid), live in list(self.user_sessions.items()):
                if kind != "hotspot" or not live or uid not in users.rows:
                    continue
                lim = users.rows[uid].get("limit-uptime")
                if lim and V.parse_duration(lim) and self._user_uptime(uid) >= V.parse_duration(lim):
                    for aid in list(live):
                        self._end_session(("/ip/hotspot/active", aid), "uptime limit reached")

    # ------------------------------------------------------------ reboot
    def reboot(self) -> None:
        """Sessions end, counters and dynamic rows vanish, uptime restarts (§1.7: ids may change)."""
        with self.lock:
            for key in list(self.sessions):
                self._end_session(key, "reboot")
            self.user_sessions.clear()
            for table in self.tables.values():
                for rid in list(table.volatile_ids):
                    if rid in table.rows:
                        table.delete(rid)
                if table.menu.counters:
                    for rid in list(table.rows):
                        self._zero(table, rid)
                table.live_ids.clear()
            self.boot_at = self.now()
        for cb in list(self.on_reboot):
            cb()

    # ------------------------------------------------------------ persistence
    def to_json(self) -> dict:
        with self.lock:
            tables = {}
            for path, t in self.tables.items():
                if t.menu.volatile:
                    continue
                tables[path] = {"next_id": t.next_id,
                                "rows": [r for rid, r in t.rows.items() if rid not in t.volatile_ids]}
            return {"format": 1, "identity": self.identity, "version": self.version_text,
                    "tables": tables}

    def load_json(self, data: dict) -> None:
        """Restore configuration; a restart is a reboot, so counters start at zero."""
        with self.lock:
            self.identity = data.get("identity", self.identity)
            for path, saved in data.get("tables", {}).items():
                if path not in self.tables:
                    continue
                t = Table(MENUS[path])
                for row in saved["rows"]:
                    t.insert(row, rid=int(row[".id"][1:], 16))
                t.next_id = max(t.next_id, int(saved.get("next_id", 1)))
                self.tables[path] = t
            for table in self.tables.values():
                if table.menu.counters:
                    for rid in list(table.rows):
                        self._zero(table, rid)
            self.dirty = False

    def save(self, path: str) -> None:
        data = self.to_json()
        tmp = f"{path}.tmp{os.getpid()}.{threading.get_ident()}"
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with open(tmp, "w") as fh:
            json.dump(data, fh, indent=1)
        os.replace(tmp, path)
