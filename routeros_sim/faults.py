"""Run-time switchable faults of one simulated router (CONTRACT.md "faults").

Plain attributes so tests can flip them from any thread; setting ``refuse``
notifies the router so it can close/re-open its listening sockets, setting
``trap_every`` restarts the command count.
"""

from __future__ import annotations

import threading

TRAP_MESSAGE = "failure: simulated fault"


class Faults:
    _FIELDS = {"refuse": False, "blackhole": False, "drop_after": None,
               "latency": 0.0, "trap_every": None}

    def __init__(self, on_refuse=None):
        object.__setattr__(self, "_lock", threading.Lock())
        object.__setattr__(self, "_on_refuse", on_refuse)
        object.__setattr__(self, "_count", 0)
        for name, default in self._FIELDS.items():
            object.__setattr__(self, name, default)

    def __setattr__(self, name, value):
        if name not in self._FIELDS:
            raise AttributeError(f"unknown fault {name!r}")
        old = getattr(self, name)
        object.__setattr__(self, name, value)
        if name == "trap_every":
            with self._lock:
                object.__setattr__(self, "_count", 0)
        if name == "refuse" and bool(old) != bool(value) and self._on_refuse:
            self._on_refuse(bool(value))

    def clear(self) -> None:
        """Back to a healthy router (re-opens the port if it was refusing)."""
        for name, default in self._FIELDS.items():
            setattr(self, name, default)

    def command_should_trap(self) -> bool:
        """Count one post-login command; True on every ``trap_every``-th."""
        every = self.trap_every
        if not every:
            return False
        with self._lock:
            n = self._count + 1
            object.__setattr__(self, "_count", n)
        return n % int(every) == 0

    def __repr__(self):
        return "Faults(" + ", ".join(f"{k}={getattr(self, k)!r}" for k in self._FIELDS) + ")"
