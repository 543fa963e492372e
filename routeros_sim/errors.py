"""Exceptions shared by the state model, the server and the Python API."""

from __future__ import annotations


class SimError(Exception):
    """Raised by the Python API (e.g. logging in a missing/disabled user)."""


class Trap(Exception):
    """A RouterOS ``!trap``: only ``message`` and optional ``category`` (§0.5, §4.7)."""

    def __init__(self, message: str, category: int | None = None):
        super().__init__(message)
        self.message = message
        self.category = category


class MultiTrap(Exception):
    """Several ``!trap`` sentences before one ``!done`` (unknown path, §1.8)."""

    def __init__(self, *traps: Trap):
        super().__init__(", ".join(t.message for t in traps))
        self.traps = traps
