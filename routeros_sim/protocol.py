"""RouterOS API framing: word lengths, words, sentences (as the RouterOS API answers it).

Kept separate from the server so the byte-level rules (decode all five
length prefixes, encode only the 1-4 byte ones librouteros understands,
§0.5) can be unit-tested without sockets.

Words are handled as ``str`` decoded from UTF-8 with ``surrogateescape``:
RouterOS stores raw bytes, so whatever bytes a client sends come back
unchanged when the same word is echoed.
"""

from __future__ import annotations

import socket
import time

ENCODING = "utf-8"
ERRORS = "surrogateescape"
MAX_WORD = 0x0FFFFFFF  # largest length librouteros can decode (4-byte prefix)


class ProtocolError(Exception):
    """Malformed input from the client (control byte >= 0xF8)."""


class ConnectionEnded(Exception):
    """The peer closed the connection (EOF), possibly mid-sentence."""


def encode_length(length: int) -> bytes:
    """Encode a word length; never the 5-byte form (librouteros rejects it, §1.1)."""
    if length < 0x80:
        return bytes((length,))
    if length < 0x4000:
        return (length | 0x8000).to_bytes(2, "big")
    if length < 0x200000:
        return (length | 0xC00000).to_bytes(3, "big")
    if length <= MAX_WORD:
        return (length | 0xE0000000).to_bytes(4, "big")
    raise ValueError(f"word too long for librouteros: {length}")


# Pre-computed single-byte prefixes: most reply words are short.
_SHORT = [bytes((i,)) for i in range(0x80)]


def encode_word(word: str) -> bytes:
    data = word.encode(ENCODING, ERRORS)
    n = len(data)
    return (_SHORT[n] if n < 0x80 else encode_length(n)) + data


def encode_sentence(words) -> bytes:
    """Encode an iterable of str words followed by the zero-length terminator."""
    parts = []
    append = parts.append
    for word in words:
        data = word.encode(ENCODING, ERRORS)
        n = len(data)
        append(_SHORT[n] if n < 0x80 else encode_length(n))
        append(data)
    append(b"\x00")
    return b"".join(parts)


def prefix_size(first: int) -> int:
    """Number of length bytes following the first one (decoding rule of §1.1)."""
    if first < 0x80:
        return 0
    if first < 0xC0:
        return 1
    if first < 0xE0:
        return 2
    if first < 0xF0:
        return 3
    if first < 0xF8:
        return 4
    raise ProtocolError(f"control byte 0x{first:02x}")


def decode_length(data: bytes) -> int:
    """Decode a complete length prefix (1-5 bytes)."""
    first = data[0]
    if first < 0x80:
        return first
    if first < 0xC0:
        return int.from_bytes(data[:2], "big") & 0x3FFF
    if first < 0xE0:
        return int.from_bytes(data[:3], "big") & 0x1FFFFF
    if first < 0xF0:
        return int.from_bytes(data[:4], "big") & 0xFFFFFFF
    if first < 0xF8:
        return int.from_bytes(data[1:5], "big")
    raise ProtocolError(f"control byte 0x{first:02x}")


class SentenceReader:
    """Buffered reader of sentences from a (possibly TLS) socket."""

    def __init__(self, sock: socket.socket, bufsize: int = 65536):
        self.sock = sock
        self.buf = bytearray()
        self.pos = 0
        self.bufsize = bufsize
        self.received_at = 0.0  # monotonic time the last bytes arrived
        self.chunks = 0  # recv calls that returned data: the arrival batch

    def _fill(self, need: int) -> None:
        while len(self.buf) - self.pos < need:
            chunk = self.sock.recv(self.bufsize)
            if not chunk:
                raise ConnectionEnded()
            self.received_at = time.monotonic()
            self.chunks += 1
            if self.pos:
                del self.buf[: self.pos]
                self.pos = 0
            self.buf += chunk

    def _read(self, n: int) -> bytes:
        self._fill(n)
        data = bytes(self.buf[self.pos : self.pos + n])
        self.pos += n
        return data

    def read_word(self) -> bytes:
        first = self._read(1)[0]
        extra = prefix_size(first)
        length = decode_length(bytes((first,)) + self._read(extra)) if extra else first
        return self._read(length) if length else b""

    def read_sentence(self) -> list[str]:
        """Return the words of the next sentence (may be empty: caller ignores it)."""
        words = []
        while True:
            word = self.read_word()
            if not word:
                return words
            words.append(word.decode(ENCODING, ERRORS))


def parse_attribute(word: str) -> tuple[str, str]:
    """Split ``=key=value`` (value may contain ``=``; ``=flag`` means empty value)."""
    body = word[1:]
    key, sep, value = body.partition("=")
    return key, value
