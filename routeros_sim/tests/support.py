"""Test helpers: a raw socket client that records the exact bytes it receives."""

from __future__ import annotations

import socket
import unittest

from routeros_sim import RouterSim
from routeros_sim.protocol import SentenceReader, encode_sentence


def hexbytes(text: str) -> bytes:
    """Bytes from a hex dump like a packet capture (offsets and text ignored)."""
    out = []
    for line in text.strip().splitlines():
        line = line.split('"')[0]
        if ":" in line:
            line = line.split(":", 1)[1]
        out.append("".join(line.split()))
    return bytes.fromhex("".join(out))


class _Tap(SentenceReader):
    def __init__(self, sock):
        super().__init__(sock)
        self.captured = bytearray()

    def _read(self, n):
        data = super()._read(n)
        self.captured += data
        return data


class RawClient:
    """Speak the wire protocol by hand; ``sentence()`` returns (words, raw bytes)."""

    def __init__(self, port: int, timeout: float = 5.0, sock=None):
        self.sock = sock or socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.reader = _Tap(self.sock)

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def send(self, *words: str) -> bytes:
        data = encode_sentence(words)
        self.sock.sendall(data)
        return data

    def sentence(self):
        self.reader.captured = bytearray()
        words = self.reader.read_sentence()
        return words, bytes(self.reader.captured)

    def reply(self):
        """All sentences up to and including the one starting with !done (or !fatal)."""
        out = []
        while True:
            words, raw = self.sentence()
            out.append((words, raw))
            if words and words[0] in ("!done", "!fatal"):
                return out

    def call(self, *words):
        self.send(*words)
        return [w for w, _ in self.reply()]

    def login(self, user="admin", password=""):
        return self.call("/login", f"=name={user}", f"=password={password}")

    def close(self):
        self.sock.close()


class SimTestCase(unittest.TestCase):
    """Starts one simulator per test on a free loopback port."""

    version = "7.18"
    sim_kwargs: dict = {}

    def setUp(self):
        self.sim = RouterSim(version=self.version, **self.sim_kwargs).start()
        self.addCleanup(self.sim.stop)

    def raw(self, login=True, **kw) -> RawClient:
        client = RawClient(self.sim.port, **kw)
        self.addCleanup(client.close)
        if login:
            self.assertEqual(client.login(self.sim.username, self.sim.password), [["!done"]])
        return client
