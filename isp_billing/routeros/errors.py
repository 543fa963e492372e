"""Typed router errors.

The Tryton layer maps each class to its own translated message, so every
error keeps the raw facts (host, port, the router's own text, the command)
as attributes, and its ``str()`` is a plain English sentence that tells an
ISP operator what to check.
"""


class RouterError(Exception):
    """Something went wrong while talking to one router.

    ``report`` is set when the error interrupted a reconcile: it holds what
    was already applied before the failure (a ``ReconcileReport``).
    """

    def __init__(self, message, host=None, port=None):
        super().__init__(message)
        self.message = message
        self.host = host
        self.port = port
        self.report = None

    @property
    def address(self):
        if self.port is None:
            return str(self.host)
        return '%s:%s' % (self.host, self.port)

    def __str__(self):
        return self.message


class RouterUnreachable(RouterError):
    """No TCP session: refused, unknown host name, no route, TLS failure."""

    def __init__(self, message, host=None, port=None, reason=None):
        super().__init__(message, host, port)
        self.reason = reason


class RouterTLSError(RouterUnreachable):
    """The TLS handshake failed (wrong port, certificate, cipher)."""


class RouterConnectionLost(RouterUnreachable):
    """The router closed an established session (reboot, link drop, !fatal)."""

    def __init__(self, message, host=None, port=None, reason=None,
            command=None):
        super().__init__(message, host, port, reason)
        self.command = command


class RouterLoginRefused(RouterError):
    """Wrong user name / password, or a login method the router refuses."""

    def __init__(self, message, host=None, port=None, username=None,
            router_message=None):
        super().__init__(message, host, port)
        self.username = username
        self.router_message = router_message


class RouterTimeout(RouterError):
    """The router did not answer within the timeout (at login or mid-sync)."""

    def __init__(self, message, host=None, port=None, timeout=None,
            command=None):
        super().__init__(message, host, port)
        self.timeout = timeout
        self.command = command


class RouterTrap(RouterError):
    """The router answered a command with ``!trap``.

    ``router_message`` is the router's own text, e.g.
    ``failure: already have user with this name for this server``;
    ``category`` its numeric category when given.
    """

    def __init__(self, message, host=None, port=None, router_message=None,
            command=None, category=None):
        super().__init__(message, host, port)
        self.router_message = router_message
        self.command = command
        self.category = category
