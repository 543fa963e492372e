"""One logged-in API session: raw commands, exact strings, typed errors.

librouteros turns reply values into Python types (``'123456'`` -> int,
``'yes'`` -> True), which would corrupt voucher names and passwords and
make desired-versus-actual comparisons lie.  So the driver writes and reads
sentences through the librouteros protocol object itself and keeps every
value as the string the router sent.  Every exception on the way is mapped
to one of the typed errors of :mod:`.errors`, and every command is counted
(the count is what the benchmark and the O(changes) tests look at).
"""
import socket
import ssl

from librouteros.exceptions import (
    ConnectionClosed, FatalError, MultiTrapError, ProtocolError, TrapError)
from librouteros.protocol import encode_sentence

from .errors import (
    RouterConnectionLost, RouterError, RouterTimeout, RouterTLSError,
    RouterTrap, RouterUnreachable)

__all__ = ['RouterSession', 'TaggedAnswers', 'read_response',
    'translate_error', 'to_api']


def to_api(value):
    """Format a Python value the way RouterOS expects it in a word."""
    if value is True:
        return 'yes'
    if value is False:
        return 'no'
    if value is None:
        return ''
    return str(value)


def _split_word(word):
    """``=key=value`` -> (key, value); the value may contain ``=``."""
    if not word.startswith('='):
        return None, None
    key, sep, value = word[1:].partition('=')
    if not sep:
        return None, None
    return key, value


def _read_sentence(protocol):
    """The next sentence: its reply word, its ``=key=value`` attributes and
    its ``.tag`` (None when untagged)"""
    reply, words = protocol.readSentence()
    attrs, tag = {}, None
    for word in words:
        if word.startswith('.tag='):
            tag = word[5:]
            continue
        key, value = _split_word(word)
        if key is not None:
            attrs[key] = value
    return reply, attrs, tag


def _trap(attrs):
    "The TrapError of a ``!trap`` sentence's attributes"
    category = attrs.get('category')
    return TrapError(attrs.get('message', ''),
        int(category) if category and category.isdigit() else None)


def _traps_error(traps):
    "The error to raise for a command's traps (None when it had none)"
    if len(traps) > 1:
        return MultiTrapError(*traps)
    return traps[0] if traps else None


def read_response(protocol):
    """Read sentences until ``!done``; raise the trap(s) afterwards so
    the session stays usable, as librouteros does."""
    rows, traps = [], []
    while True:
        reply, attrs, _ = _read_sentence(protocol)
        if reply == '!re':
            if attrs:
                rows.append(attrs)
        elif reply == '!trap':
            traps.append(_trap(attrs))
        elif reply == '!done':
            done = attrs
            break
        # '!empty' (7.18+) and unknown reply words carry no data
    error = _traps_error(traps)
    if error is not None:
        raise error
    return rows, done


class TaggedAnswers:
    """The answers of ``count`` commands tagged '0', '1'...: rows and traps
    per tag, read until each has its ``!done``"""

    def __init__(self, count):
        self.rows = [[] for _ in range(count)]
        self.traps = [[] for _ in range(count)]
        self.done = [False] * count

    def first_pending(self):
        return self.done.index(False) if False in self.done else 0

    def read(self, protocol):
        while False in self.done:
            reply, attrs, tag = _read_sentence(protocol)
            if tag is None or not tag.isdigit() \
                    or int(tag) >= len(self.done):
                continue  # not one of ours: nothing else runs here
            tag = int(tag)
            if reply == '!re':
                if attrs:
                    self.rows[tag].append(attrs)
            elif reply == '!trap':
                self.traps[tag].append(_trap(attrs))
            elif reply == '!done':
                self.done[tag] = True


def translate_error(exc, host, port, command=None, timeout=None):
    """Return the typed RouterError for a librouteros/socket exception.

    Returns None for exceptions that are not about the router (bugs).
    """
    where = ' while running %s' % command if command else ''
    address = '%s:%s' % (host, port)
    if isinstance(exc, RouterError):
        return exc
    if isinstance(exc, MultiTrapError):
        text = '; '.join(t.message for t in exc.traps)
        category = exc.traps[0].category if exc.traps else None
        return RouterTrap(
            'Router %s rejected %s: %s' % (address, command, text),
            host, port, router_message=text, command=command,
            category=category)
    if isinstance(exc, TrapError):
        return RouterTrap(
            'Router %s rejected %s: %s' % (address, command, exc.message),
            host, port, router_message=exc.message, command=command,
            category=exc.category)
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return RouterTimeout(
            'Router %s did not answer within %s s%s. Check that the address '
            'points to a MikroTik router with the API service enabled and '
            'that no firewall silently drops the traffic; a busy router may '
            'need a longer timeout.' % (address, timeout or '?', where),
            host, port, timeout=timeout, command=command)
    if isinstance(exc, FatalError):
        return RouterConnectionLost(
            'Router %s ended the session%s: %s. The next sync will retry.'
            % (address, where, exc), host, port, reason=str(exc),
            command=command)
    if isinstance(exc, (ConnectionClosed, ConnectionResetError,
                BrokenPipeError, ConnectionAbortedError)) or (
            command and isinstance(exc, ssl.SSLEOFError)):
        return RouterConnectionLost(
            'Router %s closed the connection unexpectedly%s. The router may '
            'have rebooted or the link dropped; the next sync will retry.'
            % (address, where), host, port, reason=str(exc), command=command)
    if isinstance(exc, ConnectionRefusedError):
        return RouterUnreachable(
            'Router %s refused the connection. Check that the API service is '
            'enabled on the router (IP > Services: "api" on 8728, "api-ssl" '
            'on 8729) and that host and port are right.' % address,
            host, port, reason=str(exc))
    if isinstance(exc, socket.gaierror):
        return RouterUnreachable(
            'The router host name "%s" could not be resolved (%s). Check the '
            'address.' % (host, exc.strerror or exc), host, port,
            reason=str(exc))
    if isinstance(exc, ssl.SSLError):
        return RouterTLSError(
            'The TLS handshake with router %s failed (%s). Check that this is '
            'the api-ssl port, that TLS is wanted, and the router certificate '
            'if verification is on.' % (address, exc.reason or exc),
            host, port, reason=str(exc))
    if isinstance(exc, ssl.CertificateError):
        return RouterTLSError(
            'The certificate of router %s could not be verified (%s).'
            % (address, exc), host, port, reason=str(exc))
    if isinstance(exc, OSError):
        return RouterUnreachable(
            'Router %s could not be reached (%s). Check the address, the '
            'network path and the firewall.' % (address, exc.strerror or exc),
            host, port, reason=str(exc))
    if isinstance(exc, ProtocolError):
        return RouterConnectionLost(
            'Router %s sent a reply the driver cannot read%s (%s).'
            % (address, where, exc), host, port, reason=str(exc),
            command=command)
    return None


class RouterSession:
    """A logged-in librouteros ``Api`` plus command counting.

    Use :meth:`call` for commands and :meth:`print` for reads; both return
    rows as ``dict[str, str]`` exactly as the router printed them.
    """

    def __init__(self, api, host=None, port=None, timeout=None):
        self.api = api
        if host is None:
            host, port = self._peer(api)
        self.host = host
        self.port = port
        self.timeout = timeout
        self.commands = 0

    @staticmethod
    def _peer(api):
        try:
            return api.protocol.transport.sock.getpeername()[:2]
        except Exception:
            return None, None

    def call(self, command, *words, **attributes):
        """Send one command; return ``(rows, done)``: the ``!re`` rows and
        the attributes of ``!done`` (e.g. ``{'ret': '*1A'}`` after add).

        ``words`` are raw words (``?name=x``, ``=.proplist=a,b``);
        ``attributes`` become ``=key=value`` words (pass names such as
        ``mac-address`` or ``.id`` with ``**{...}``).
        """
        sentence = list(words) + [
            '=%s=%s' % (key, to_api(value))
            for key, value in attributes.items()]
        self.commands += 1
        try:
            self.api.protocol.writeSentence(command, *sentence)
            return read_response(self.api.protocol)
        except Exception as exc:
            error = translate_error(
                exc, self.host, self.port, command, self.timeout)
            if error is None:
                raise
            if not isinstance(error, RouterTrap):
                self.close()
            raise error from exc

    def print(self, menu, proplist=None, queries=()):
        """``<menu>/print`` with ``.proplist``; returns the rows."""
        words = []
        if proplist:
            words.append('=.proplist=%s' % ','.join(proplist))
        words.extend(queries)
        rows, _ = self.call(menu + '/print', *words)
        return rows

    def print_many(self, requests):
        """Several ``print`` s in one round trip: ``requests`` is a list of
        ``(menu, proplist, queries)``; returns, in the same order, the rows
        of each or the RouterTrap it got.

        The commands are sent together, tagged, in one write before any
        answer is read (RouterOS answers each under its ``.tag``): reading
        a router's state costs one round trip instead of one per menu, which
        is most of a reconcile's time on a distant router.  A lost
        connection or a timeout raises as :meth:`call` does, naming the
        first command still unanswered.
        """
        if len(requests) < 2:
            return [self._print_or_trap(*request) for request in requests]
        protocol = self.api.protocol
        commands = [menu + '/print' for menu, _, _ in requests]
        data = []
        for tag, (menu, proplist, queries) in enumerate(requests):
            words = ['.tag=%d' % tag]
            if proplist:
                words.append('=.proplist=%s' % ','.join(proplist))
            words.extend(queries)
            data.append(encode_sentence(
                    commands[tag], *words, encoding=protocol.encoding))
        answers = TaggedAnswers(len(requests))
        try:
            self.commands += len(requests)
            protocol.transport.write(b''.join(data))
            answers.read(protocol)
        except Exception as exc:
            error = translate_error(exc, self.host, self.port,
                commands[answers.first_pending()], self.timeout)
            if error is None:
                raise
            self.close()
            raise error from exc
        result = []
        for tag, command in enumerate(commands):
            rows = answers.rows[tag]
            error = _traps_error(answers.traps[tag])
            if error is not None:
                rows = translate_error(
                    error, self.host, self.port, command, self.timeout)
            result.append(rows)
        return result

    def _print_or_trap(self, menu, proplist=None, queries=()):
        try:
            return self.print(menu, proplist, queries)
        except RouterTrap as error:
            return error

    def add(self, menu, attributes):
        """``<menu>/add``; returns the new ``.id`` ('' if none was sent)."""
        _, done = self.call(menu + '/add', **attributes)
        return done.get('ret', '')

    def set(self, menu, item_id, attributes):
        self.call(menu + '/set', **{'.id': item_id}, **attributes)

    def remove(self, menu, item_id):
        self.call(menu + '/remove', **{'.id': item_id})

    def close(self):
        try:
            self.api.close()
        except Exception:
            pass
