"""Connecting and logging in to a router, and reading its status.

Login methods by RouterOS version:

* >= 6.43 (and 7.x): *plain* -- ``/login =name= =password=``;
* < 6.43: *challenge* -- ``/login`` answers ``=ret=<challenge>``, then
  ``/login =name= =response=00<md5>``.

A pre-6.43 router ignores the name/password of a plain login and answers
``!done =ret=<challenge>``, which librouteros' ``plain`` takes for success
(the next command then fails with ``not logged in``).  Our *auto* method
sends the plain login and, when the answer carries a challenge, completes
the challenge login on the same connection: one extra round trip for old
routers, none for new ones.  A forced *plain* login that gets a challenge
is refused with a clear message instead of a false success.
"""
import contextlib
import hashlib
import re
import ssl
from dataclasses import dataclass

import librouteros
from librouteros.connections import SocketTransport
from librouteros.exceptions import ConnectionClosed, TrapError

from .errors import RouterError, RouterLoginRefused
from .session import RouterSession, read_response, translate_error

__all__ = ['RouterConfig', 'LOGIN_METHODS', 'connect', 'open_session',
    'session_for', 'router_info', 'challenge_response']

LOGIN_METHODS = ('auto', 'plain', 'challenge')
_CHALLENGE = re.compile(r'^[0-9a-fA-F]{32}$')
# certificate suites first, then anonymous DH (routers without certificate)
TLS_CIPHERS = 'HIGH:!PSK:!SRP:-aNULL:ADH:@SECLEVEL=0'


@dataclass
class RouterConfig:
    """How to reach and log in to one router (from the Router record)."""
    host: str
    port: int = 8728
    username: str = 'admin'
    password: str = ''
    tls: bool = False
    verify_tls: bool = False
    login_method: str = 'auto'
    timeout: float = 10.0

    def __post_init__(self):
        if self.login_method not in LOGIN_METHODS:
            raise ValueError('login_method must be one of %s, not %r'
                % (', '.join(LOGIN_METHODS), self.login_method))

    @property
    def address(self):
        return '%s:%s' % (self.host, self.port)


def challenge_response(challenge, password):
    """MD5 answer of the pre-6.43 login: ``00`` + md5(0x00+password+chal)."""
    digest = hashlib.md5(
        b'\x00' + password.encode('utf-8') + bytes.fromhex(challenge),
        usedforsecurity=False).hexdigest()
    return '00' + digest


def _send(api, *words):
    """Send one ``/login``; return the ``!done`` attributes (strings)."""
    api.protocol.writeSentence('/login', *words)
    return read_response(api.protocol)[1]


class _Login:
    """librouteros ``login_method`` callable for our three methods."""

    def __init__(self, config):
        self.config = config

    def __call__(self, api, username, password):
        api.login_method = self._login(api, username, password)

    def _login(self, api, username, password):
        """Log in; return the method that worked: 'plain' or 'challenge'."""
        method = self.config.login_method
        if method == 'challenge':
            done = _send(api)
            challenge = done.get('ret', '')
            if not _CHALLENGE.match(challenge):
                raise RouterLoginRefused(
                    'Router %s did not offer a challenge login. Set the '
                    'login method to "auto" or "plain".'
                    % self.config.address, self.config.host,
                    self.config.port, username=username)
            self._answer(api, username, password, challenge)
            return 'challenge'
        done = _send(api, '=name=%s' % username, '=password=%s' % password)
        challenge = done.get('ret', '')
        if not challenge:
            return 'plain'
        if method == 'plain':
            raise RouterLoginRefused(
                'Router %s runs RouterOS older than 6.43, which needs the '
                'challenge login, but the login method is set to "plain". '
                'Set the login method to "auto" or "challenge".'
                % self.config.address, self.config.host, self.config.port,
                username=username,
                router_message='!done =ret=%s' % challenge)
        if not _CHALLENGE.match(challenge):
            raise RouterLoginRefused(
                'Router %s answered the login with an unexpected value %r.'
                % (self.config.address, challenge), self.config.host,
                self.config.port, username=username)
        self._answer(api, username, password, challenge)
        return 'challenge'

    @staticmethod
    def _answer(api, username, password, challenge):
        _send(api, '=name=%s' % username,
            '=response=%s' % challenge_response(challenge, password))


def _ssl_wrapper(config):
    """Build the socket wrapper for api-ssl.

    Without verification MikroTik routers are reached either with a
    (usually self-signed) certificate or, when no certificate is set in
    IP > Services, with anonymous Diffie-Hellman -- so both cipher kinds are
    offered, anonymous ones last.  (``DEFAULT:ADH`` would not do: OpenSSL's
    DEFAULT removes aNULL suites for good, ``!``, so ADH cannot come back.)
    """
    if config.verify_tls:
        context = ssl.create_default_context()
        server_hostname = config.host
    else:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        context.set_ciphers(TLS_CIPHERS)
        server_hostname = None

    def wrap(sock):
        return context.wrap_socket(sock, server_hostname=server_hostname)
    return wrap


def _login_error(exc, config):
    if isinstance(exc, (TrapError,)):
        text = exc.message
        hint = 'Check the user name and password, and that the user has the '\
            '"api" policy.'
        if config.login_method == 'challenge':
            hint += (' RouterOS 6.45.1 and newer refuse the challenge login: '
                'set the login method to "auto" or "plain".')
        return RouterLoginRefused(
            'Router %s refused the login of user "%s": %s. %s'
            % (config.address, config.username, text, hint),
            config.host, config.port, username=config.username,
            router_message=text)
    return translate_error(exc, config.host, config.port,
        command='/login' if not isinstance(exc, OSError) else None,
        timeout=config.timeout)


class BufferedTransport(SocketTransport):
    """librouteros' transport reading the socket in large chunks.

    librouteros reads every word with two or three ``recv`` calls of a few
    bytes (length, then data): a router's list of 10,000 users costs over
    a hundred thousand system calls and most of the driver's CPU time in a
    fleet reconcile.  This one keeps what the socket gave beyond the word.
    The socket's timeout applies to each ``recv``, as before.
    """
    CHUNK = 65536

    def __init__(self, sock):
        super().__init__(sock)
        self._buffer = bytearray()

    def read(self, length):
        buffer = self._buffer
        while len(buffer) < length:
            got = self.sock.recv(max(self.CHUNK, length - len(buffer)))
            if not got:
                raise ConnectionClosed('Connection unexpectedly closed.')
            buffer += got
        data = bytes(buffer[:length])
        del buffer[:length]
        return data


def _open_api(config):
    api = _login(config)
    # nothing is buffered yet: librouteros read the login answer exactly
    api.protocol.transport = BufferedTransport(api.protocol.transport.sock)
    return api


def _login(config):
    try:
        return librouteros.connect(
            config.host, config.username, config.password,
            port=config.port, timeout=config.timeout, encoding='utf-8',
            ssl_wrapper=_ssl_wrapper(config) if config.tls else None,
            login_method=_Login(config))
    except RouterError as error:
        raise error
    except Exception as exc:
        error = _login_error(exc, config)
        if error is None:
            raise
        raise error from exc


@contextlib.contextmanager
def connect(config):
    """Context manager: a logged-in librouteros ``Api`` (utf-8), closed at
    the end.  ``api.login_method`` tells which login worked ('plain' or
    'challenge').  Raises the typed errors of :mod:`.errors`."""
    api = _open_api(config)
    try:
        yield api
    finally:
        api.close()


@contextlib.contextmanager
def open_session(config):
    """Like :func:`connect` but yields a :class:`RouterSession`."""
    with connect(config) as api:
        yield RouterSession(api, config.host, config.port, config.timeout)


@contextlib.contextmanager
def session_for(target):
    """Accept a RouterConfig, a librouteros Api or a RouterSession.

    Only a RouterConfig opens (and closes) its own connection.
    """
    if isinstance(target, RouterConfig):
        with open_session(target) as session:
            yield session
    elif isinstance(target, RouterSession):
        yield target
    else:
        yield RouterSession(target)


_INFO_FIELDS = {
    'version': 'version',
    'board': 'board-name',
    'uptime': 'uptime',
    'cpu_load': 'cpu-load',
    'free_memory': 'free-memory',
    'total_memory': 'total-memory',
    'architecture': 'architecture-name',
}
_INTEGERS = {'cpu_load', 'free_memory', 'total_memory'}


def router_info(target):
    """Identity and status of a router, for *Test connection* and
    *Refresh status*: identity, version, board, uptime (RouterOS text),
    cpu_load (%), free_memory, total_memory (bytes), architecture.
    ``login_method`` is the login that worked ('plain' / 'challenge').
    Missing fields are None."""
    with session_for(target) as session:
        login_method = getattr(session.api, 'login_method', None)
        identity = session.print('/system/identity', ['name'])
        resource = session.print('/system/resource', [
            field for field in _INFO_FIELDS.values()])
    info = {'identity': identity[0].get('name') if identity else None,
        'login_method': login_method}
    row = resource[0] if resource else {}
    for key, field in _INFO_FIELDS.items():
        value = row.get(field)
        if key in _INTEGERS and value is not None:
            try:
                value = int(value)
            except ValueError:
                pass
        info[key] = value
    return info
