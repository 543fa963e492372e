"""TCP/TLS listeners and per-connection API sessions (one thread each).

A session answers every sentence with zero or more ``!re``/``!trap``, an
optional ``!empty`` (7.18+) and exactly one ``!done`` (§0.2), echoing ``.tag``
only when the client sent a non-empty one (§1.5).  Login follows the
per-version table of §2.3; faults are applied here because they are about
the transport, not the configuration.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import os
import socket
import ssl
import threading
import time

from .commands import Reply, encode_row, execute
from .errors import Trap
from .menus import MENUS, PRINT_ARGS
from .query import QueryError, compile_query
from .faults import TRAP_MESSAGE
from .protocol import ConnectionEnded, ProtocolError, SentenceReader, encode_word, parse_attribute

RE, DONE, EMPTY, TRAP = (encode_word(w) for w in ("!re", "!done", "!empty", "!trap"))
SEND_CHUNK = 1 << 20
_CONNECTIONS = itertools.count(1)  # numbers the connections (round-trip log)
LOG = logging.getLogger("routeros_sim")


class _Drop(Exception):
    """Close this connection now (drop_after fault, /quit)."""


def challenge_response(password: str, challenge_hex: str) -> str:
    """The pre-6.43 MD5 scheme (§2.2): ``"00" + md5(0x00 + password + unhex(challenge))``."""
    digest = hashlib.md5(b"\x00" + password.encode("utf-8", "surrogateescape")
                         + bytes.fromhex(challenge_hex), usedforsecurity=False).hexdigest()
    return "00" + digest


class Listener:
    """Accept loop on one port; ``tls`` is an SSLContext for the API-SSL port."""

    def __init__(self, router, host: str, port: int, tls: ssl.SSLContext | None = None):
        self.router = router
        self.host = host
        self.port = port
        self.tls = tls
        self.sock: socket.socket | None = None
        self.thread: threading.Thread | None = None

    def open(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        sock.listen(128)
        sock.settimeout(0.2)
        self.port = sock.getsockname()[1]
        self.sock = sock
        self.thread = threading.Thread(target=self._loop, args=(sock,), daemon=True,
                                       name=f"routeros-sim-accept-{self.port}")
        self.thread.start()

    def close(self) -> None:
        sock, self.sock = self.sock, None
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)  # wakes accept() at once on Linux
            except OSError:
                pass
            sock.close()
        if self.thread is not None and self.thread is not threading.current_thread():
            self.thread.join(2)
        self.thread = None

    def _loop(self, sock: socket.socket) -> None:
        while self.sock is sock:
            try:
                conn, addr = sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            conn.settimeout(None)
            Session(self.router, conn, self.tls).start()


class Session(threading.Thread):
    """One client connection."""

    def __init__(self, router, sock: socket.socket, tls: ssl.SSLContext | None):
        super().__init__(daemon=True, name="routeros-sim-conn")
        self.router = router
        self.sock = sock
        self.tls = tls
        self.logged_in = False
        self.challenge: str | None = None
        self.sent = 0
        self.closed = False
        self.send_lock = threading.Lock()
        self.number = next(_CONNECTIONS)
        self.batch = None
        self.streams: dict = {}   # tag -> (table, callback) of running follow/listen commands

    # ------------------------------------------------------------ plumbing
    def close(self) -> None:
        """Abrupt close (reboot, drop fault, stop)."""
        self.closed = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        try:
            self.sock.close()
        except OSError:
            pass

    def run(self) -> None:
        router = self.router
        router._register(self)
        try:
            if self.tls is not None and not router.faults.blackhole:
                self.sock.settimeout(10)
                self.sock = self.tls.wrap_socket(self.sock, server_side=True)
                self.sock.settimeout(None)
            reader = SentenceReader(self.sock)
            while not self.closed:
                words = reader.read_sentence()
                if not words or router.faults.blackhole:
                    continue  # empty sentences are ignored (§1.2)
                self.batch = (self.number, reader.chunks)
                self.handle(words, reader.received_at)
        except (ConnectionEnded, ProtocolError, _Drop, OSError, ssl.SSLError, ValueError):
            pass
        finally:
            self.close()
            self._stop_streams(None)
            router._unregister(self)

    def send(self, sentences: list[bytes]) -> None:
        """Send whole sentences; honour ``drop_after`` (count of reply sentences)."""
        with self.send_lock:
            self._send(sentences)

    def _send(self, sentences: list[bytes]) -> None:
        limit = self.router.faults.drop_after
        drop = False
        if limit is not None:
            room = max(int(limit) - self.sent, 0)
            if len(sentences) >= room:
                sentences, drop = sentences[:room], True
        self.sent += len(sentences)
        buf = []
        size = 0
        for s in sentences:
            buf.append(s)
            size += len(s)
            if size >= SEND_CHUNK:
                self.sock.sendall(b"".join(buf))
                buf, size = [], 0
        if buf:
            self.sock.sendall(b"".join(buf))
        if drop:
            raise _Drop()

    # ------------------------------------------------------------ commands
    def handle(self, words: list[str], received_at: float | None = None) -> None:
        router = self.router
        command = words[0]
        attrs: dict[str, str] = {}
        queries: list[str] = []
        tag = None
        bad_word = False
        for w in words[1:]:
            if w.startswith("="):
                k, v = parse_attribute(w)
                attrs[k] = v
            elif w.startswith("?"):
                queries.append(w[1:])
            elif w.startswith(".tag="):
                tag = w[5:] or None
            elif w.startswith(".proplist="):
                attrs[".proplist"] = w[10:]
            else:
                bad_word = True
        if router.faults.latency:
            # a network round trip: the answer leaves `latency` after the
            # command arrived, so commands sent together (pipelined, tagged)
            # share one delay as they would on a real link
            arrived = received_at if received_at is not None else time.monotonic()
            delay = arrived + float(router.faults.latency) - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        tagw = encode_word(".tag=" + tag) if tag else b""

        if command == "/quit":
            if self.logged_in:
                router._record(command)
            self.send([encode_word("!fatal") + encode_word("session terminated on request") + b"\x00"])
            raise _Drop()
        if command == "/login":
            reply = self.login(attrs)
        elif not self.logged_in:
            reply = Reply(traps=[Trap("not logged in")])  # UNCONFIRMED: !trap, not !fatal (§8)
        else:
            router._record(command, self.batch)
            if router.faults.command_should_trap():
                reply = Reply(traps=[Trap(TRAP_MESSAGE)])
            elif bad_word:
                reply = Reply(traps=[Trap("unknown parameter")])
            elif command == "/cancel":
                self.cancel(attrs.get("tag"))
                reply = Reply()
            elif not command.startswith("/"):
                reply = Reply(traps=[Trap("no such command prefix")])
            elif self.is_stream(command, attrs):
                try:
                    self.start_stream(command, attrs, queries, tag, tagw)
                    return  # no !done until /cancel
                except Trap as e:
                    reply = Reply(traps=[e])
            else:
                try:
                    reply = execute(router.state, command, attrs, queries)
                except Exception as e:  # a simulator bug must not look like a protocol error
                    LOG.exception("routeros_sim: %s failed", command)
                    reply = Reply(traps=[Trap(f"failure: simulator error: {e}")])
        self.send(self.encode(reply, tagw))

    # ------------------------------------------------------------ follow / listen / cancel
    @staticmethod
    def is_stream(command: str, attrs: dict) -> bool:
        path, _, cmd = command.rpartition("/")
        menu = MENUS.get(path)
        if menu is None or menu.singleton:
            return False
        return cmd == "listen" or (cmd == "print" and ("follow" in attrs or "follow-only" in attrs))

    def start_stream(self, command, attrs, queries, tag, tagw) -> None:
        """``print =follow=`` / ``=follow-only=`` / ``listen``: stream changes until /cancel (§1.4)."""
        state = self.router.state
        path, _, cmd = command.rpartition("/")
        unknown = set(attrs) - PRINT_ARGS
        if unknown:
            raise Trap("unknown parameter")
        try:
            pred = compile_query(queries)
        except QueryError as e:
            raise Trap(str(e)) from None
        props = [p for p in attrs[".proplist"].split(",") if p] if ".proplist" in attrs else None
        tail = tagw + b"\x00"

        def sentence_for(rid):
            row = table.rows.get(rid)
            if row is None:
                return RE + encode_row({".id": f"*{rid:X}", ".dead": "yes"}, None) + tail
            row = state.view(path, rid, row)
            if pred is not None and not pred(row):
                return None
            return RE + encode_row(row, props) + tail

        def on_change(rid):
            if self.closed:
                return
            data = sentence_for(rid)
            if data is not None:
                try:
                    self.send([data])
                except (OSError, _Drop):
                    self.close()

        with state.lock:
            table = state.tables[path]
            self.cancel(tag, quiet=True)
            initial = []
            if cmd == "print" and "follow" in attrs:
                initial = [x for x in (sentence_for(rid) for rid in list(table.rows)) if x is not None]
            self.send(initial)
            table.watchers.append(on_change)
            self.streams[tag] = (table, on_change, tagw)

    def _stop_streams(self, tag) -> list:
        stopped = []
        with self.router.state.lock:
            for key in list(self.streams):
                if tag is None or key == tag:
                    table, cb, tagw = self.streams.pop(key)
                    if cb in table.watchers:
                        table.watchers.remove(cb)
                    stopped.append(tagw)
        return stopped

    def cancel(self, tag, quiet: bool = False) -> None:
        """Each cancelled command ends with ``!trap =category=2 =message=interrupted`` + ``!done``."""
        out = []
        for tagw in self._stop_streams(tag):
            tail = tagw + b"\x00"
            out.append(TRAP + encode_word("=category=2") + encode_word("=message=interrupted") + tail)
            out.append(DONE + tail)
        if out and not quiet:
            self.send(out)

    @staticmethod
    def encode(reply: Reply, tagw: bytes) -> list[bytes]:
        tail = tagw + b"\x00"
        out = [RE + body + tail for body in reply.bodies]
        for trap in reply.traps:
            words = TRAP
            if trap.category is not None:
                words += encode_word(f"=category={trap.category}")
            out.append(words + encode_word(f"=message={trap.message}") + tail)
        if reply.empty:
            out.append(EMPTY + tail)
        out.append(DONE + b"".join(encode_word(w) for w in reply.done) + tail)
        return out

    def login(self, attrs: dict) -> Reply:
        """§2.1-§2.3: challenge only < 6.43, both 6.43-6.45.0, plain only >= 6.45.1."""
        router = self.router
        version = router.state.version
        old = version < (6, 43, 0)
        refused = Trap("cannot log in" if old else "invalid user name or password (6)")
        name = attrs.get("name")
        accounts = router.state.accounts
        if name is not None and "response" in attrs:
            challenge, self.challenge = self.challenge, None
            if version >= (6, 45, 1) or challenge is None or name not in accounts:
                return Reply(traps=[refused])
            if attrs["response"].lower() != challenge_response(accounts[name], challenge):
                return Reply(traps=[refused])
            self.logged_in = True
            return Reply()
        if name is not None and "password" in attrs and not old:
            if accounts.get(name) != attrs["password"]:
                return Reply(traps=[refused])
            self.logged_in = True
            return Reply()
        # Bare /login (or pre-6.43 ignoring =name=/=password=): issue a challenge.
        self.challenge = router.fixed_challenge or os.urandom(16).hex()
        return Reply(done=[f"=ret={self.challenge}"])
