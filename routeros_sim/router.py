"""The Python API of CONTRACT.md: ``RouterSim`` (one router) and ``Fleet``.

Tests start routers in-process; every router owns its state, its listening
sockets (plain and optionally API-SSL), its faults and its command log.
"""

from __future__ import annotations

import json
import os
import threading

from . import tls as tlsmod
from .errors import MultiTrap, SimError, Trap
from .faults import Faults
from .server import Listener
from .state import RouterState


def _api_value(value) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    return str(value)


def _api_fields(fields: dict) -> dict:
    """Python kwargs -> API attributes (``limit_uptime`` -> ``limit-uptime``)."""
    return {(k if k.startswith(".") else k.replace("_", "-")): _api_value(v) for k, v in fields.items()}


class RouterSim:
    def __init__(self, version: str = "7.18", username: str = "admin", password: str = "",
                 identity: str = "MikroTik", port: int = 0, tls: str | None = None,
                 state_file: str | None = None, host: str = "127.0.0.1", tls_port: int = 0,
                 save_interval: float = 0.5):
        if tls is not None and tls not in tlsmod.MODES:
            raise ValueError(f"tls must be None or one of {tlsmod.MODES}")
        self.host = host
        self.port = port
        self.tls = tls
        self.tls_port = tls_port if tls else None
        self.state_file = state_file
        self.save_interval = save_interval
        self.username, self.password = username, password
        self.state = RouterState(version, identity, username, password)
        self.state.on_reboot.append(self._drop_connections)
        self.faults = Faults(self._refuse_changed)
        self.fixed_challenge: str | None = None   # tests: force the /login challenge (32 hex)
        self._commands: list[str] = []
        self._round_trips: list[list[str]] = []
        self._last_batch = None
        self._cmd_lock = threading.Lock()
        self._sessions: set = set()
        self._sess_lock = threading.Lock()
        self._listeners: list[Listener] = []
        self._stop = threading.Event()
        self._saver: threading.Thread | None = None
        self.running = False
        if state_file and os.path.exists(state_file):
            with open(state_file) as fh:
                self.state.load_json(json.load(fh))

    # ------------------------------------------------------------ lifecycle
    def start(self) -> "RouterSim":
        plain = Listener(self, self.host, self.port)
        plain.open()
        self.port = plain.port
        self._listeners = [plain]
        if self.tls:
            secure = Listener(self, self.host, self.tls_port or 0, tlsmod.server_context(self.tls))
            secure.open()
            self.tls_port = secure.port
            self._listeners.append(secure)
        if self.faults.refuse:
            self._refuse_changed(True)
        self._stop.clear()
        if self.state_file:
            self._saver = threading.Thread(target=self._save_loop, daemon=True, name="routeros-sim-save")
            self._saver.start()
        self.running = True
        return self

    def stop(self) -> None:
        self.running = False
        for listener in self._listeners:
            listener.close()
        self._drop_connections()
        self._stop.set()
        if self._saver is not None:
            self._saver.join(5)
            self._saver = None
        self.save()

    def __enter__(self) -> "RouterSim":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def save(self) -> None:
        """Write the state file now (also done periodically after changes and on stop)."""
        if self.state_file:
            self.state.save(self.state_file)
            self.state.dirty = False

    def _save_loop(self) -> None:
        while not self._stop.wait(self.save_interval):
            if self.state.dirty:
                self.state.dirty = False
                try:
                    self.state.save(self.state_file)
                except OSError:
                    self.state.dirty = True

    # ------------------------------------------------------------ connections
    def _register(self, session) -> None:
        with self._sess_lock:
            self._sessions.add(session)

    def _unregister(self, session) -> None:
        with self._sess_lock:
            self._sessions.discard(session)

    def _drop_connections(self) -> None:
        with self._sess_lock:
            sessions = list(self._sessions)
        for s in sessions:
            s.close()

    def _refuse_changed(self, refuse: bool) -> None:
        if not self.running and not self._listeners:
            return
        for listener in self._listeners:
            if refuse:
                listener.close()
            elif listener.sock is None:
                listener.open()

    @property
    def connections(self) -> int:
        """Number of open API connections (handy for leak asserts)."""
        with self._sess_lock:
            return len(self._sessions)

    # ------------------------------------------------------------ command log
    def _record(self, command: str, batch=None) -> None:
        """Log a command; ``batch`` identifies the bytes it arrived in (one
        recv of one connection): commands sent together share it."""
        with self._cmd_lock:
            self._commands.append(command)
            if (batch is not None and self._round_trips
                    and self._last_batch == batch):
                self._round_trips[-1].append(command)
            else:
                self._round_trips.append([command])
            self._last_batch = batch

    @property
    def round_trips(self) -> list[list[str]]:
        """The logged commands grouped by arrival: a group of several is
        commands the client sent before reading any answer (pipelined)."""
        with self._cmd_lock:
            return [list(group) for group in self._round_trips]

    @property
    def commands(self) -> list[str]:
        with self._cmd_lock:
            return list(self._commands)

    def reset_commands(self) -> None:
        with self._cmd_lock:
            self._commands.clear()
            self._round_trips.clear()
            self._last_batch = None

    # ------------------------------------------------------------ state
    @property
    def identity(self) -> str:
        return self.state.identity

    @property
    def version(self) -> str:
        return self.state.version_text

    def rows(self, path: str) -> list[dict]:
        try:
            return self.state.rows(path.rstrip("/"))
        except KeyError:
            raise SimError(f"unknown menu {path}") from None

    def _call(self, fn, *args):
        try:
            return fn(*args)
        except KeyError as e:
            raise SimError(f"unknown menu {args[0]}") from e
        except (Trap, MultiTrap) as e:
            raise SimError(str(e)) from e

    def add_row(self, path: str, **fields) -> str:
        return self._call(self.state.add, path.rstrip("/"), _api_fields(fields))

    def set_row(self, path: str, id: str | None = None, **fields) -> None:
        attrs = _api_fields(fields)
        if id is not None:
            attrs[".id"] = id
        self._call(self.state.set, path.rstrip("/"), attrs)

    def remove_row(self, path: str, id: str) -> None:
        self._call(self.state.remove, path.rstrip("/"), {".id": id})

    # ------------------------------------------------------------ traffic
    def login(self, name: str, kind: str = "hotspot", address: str | None = None,
              mac: str | None = None) -> str:
        return self.state.login(name, kind, address=address, mac=mac)

    def add_traffic(self, name: str, bytes_in: int = 0, bytes_out: int = 0, kind: str = "hotspot") -> None:
        self.state.add_traffic(name, int(bytes_in), int(bytes_out), kind)

    def logout(self, name: str, kind: str = "hotspot") -> None:
        self.state.logout(name, kind)

    def advance(self, seconds: float) -> None:
        """Move the router clock forward (uptimes grow, uptime limits kick users)."""
        self.state.advance(seconds)

    def reboot(self) -> None:
        """State kept; sessions, counters and dynamic rows reset; connections dropped."""
        self.state.reboot()


class Fleet:
    """N routers ``MikroTik-1..N`` on consecutive ports (TLS on ``base_port + 100 + i``)."""

    def __init__(self, n: int = 3, base_port: int = 0, version: str = "7.18", tls: str | None = None,
                 state_dir: str | None = None, username: str = "admin", password: str = "",
                 host: str = "127.0.0.1", identity_prefix: str = "MikroTik-", state_files=None):
        self.routers: list[RouterSim] = []
        for i in range(n):
            port = base_port + i if base_port else 0
            tls_port = base_port + 100 + i if (base_port and tls) else 0
            if state_files is not None:
                state_file = state_files[i]
            elif state_dir:
                state_file = os.path.join(state_dir, f"router-{i + 1}.json")
            else:
                state_file = None
            self.routers.append(RouterSim(version=version, username=username, password=password,
                                          identity=f"{identity_prefix}{i + 1}", port=port, tls=tls,
                                          state_file=state_file, host=host, tls_port=tls_port))

    def start(self) -> "Fleet":
        try:
            for r in self.routers:
                r.start()
        except Exception:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for r in self.routers:
            if r.running:
                r.stop()

    def __enter__(self) -> "Fleet":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def __iter__(self):
        return iter(self.routers)

    def __len__(self):
        return len(self.routers)
