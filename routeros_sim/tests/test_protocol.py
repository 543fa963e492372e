"""Framing (§1.1-§1.3), query stack (§1.6) and value formats, plus pre-login rules."""

import unittest

from routeros_sim.protocol import decode_length, encode_length, prefix_size
from routeros_sim.query import compile_query
from routeros_sim import values as V
from routeros_sim.errors import Trap

from .support import SimTestCase


class Lengths(unittest.TestCase):
    def test_doc_examples(self):
        cases = {0: "00", 0x7F: "7f", 0x80: "8080", 0x100: "8100", 0x3FFF: "bfff",
                 0x4000: "c04000", 0x1FFFFF: "dfffff", 0x200000: "e0200000", 0xFFFFFFF: "efffffff",
                 130: "8082", 2097140: "dffff4", 268435440: "effffff0"}
        for n, hx in cases.items():
            self.assertEqual(encode_length(n).hex(), hx)
            self.assertEqual(decode_length(bytes.fromhex(hx)), n)
        self.assertEqual(decode_length(bytes.fromhex("f010000000")), 0x10000000)
        self.assertEqual(prefix_size(0xF0), 4)

    def test_never_five_bytes(self):
        with self.assertRaises(ValueError):
            encode_length(0x10000000)


class AllFivePrefixesOnInput(SimTestCase):
    """A client may use any (even non-minimal) prefix; replies only use 1-4 bytes."""

    def test_login_with_each_prefix_form(self):
        forms = [b"\x06", b"\x80\x06", b"\xc0\x00\x06", b"\xe0\x00\x00\x06", b"\xf0\x00\x00\x00\x06"]
        for form in forms:
            c = self.raw(login=False)
            name = b"=name=admin"
            c.send_raw(form + b"/login" + bytes([len(name)]) + name + b"\x0a=password=" + b"\x00")
            self.assertEqual(c.reply()[0][0], ["!done"], form)

    def test_long_words(self):
        c = self.raw()
        for size in (200, 20000, 3000000):
            comment = "c" * size
            c.call("/ip/hotspot/user/add", "=name=u%d" % size, "=comment=" + comment)
            rows = c.call("/ip/hotspot/user/print", "?name=u%d" % size, "=.proplist=comment")
            self.assertEqual(rows[0], ["!re", "=comment=" + comment])

    def test_empty_sentence_ignored_and_control_byte_closes(self):
        c = self.raw()
        c.send_raw(b"\x00")
        self.assertEqual(c.call("/system/identity/print"), [["!re", "=name=MikroTik"], ["!done"]])
        c.send_raw(b"\xf8")
        self.assertEqual(c.sock.recv(10), b"")


class PreLogin(SimTestCase):
    def test_not_logged_in(self):
        c = self.raw(login=False)
        self.assertEqual(c.call("/ip/hotspot/user/print"), [["!trap", "=message=not logged in"], ["!done"]])
        self.assertEqual(self.sim.commands, [])
        c.login()
        c.call("/ip/hotspot/user/print")
        self.assertEqual(self.sim.commands, ["/ip/hotspot/user/print"])

    def test_attribute_without_value(self):
        """routeros_api sends ``=count-only`` (no second ``=``)."""
        c = self.raw()
        self.assertEqual(c.call("/interface/print", "=count-only"), [["!done", "=ret=5"]])


class QueryOverWire(SimTestCase):
    """The doc's examples (§1.6) sent to the server."""

    def test_doc_examples(self):
        self.sim.add_row("/ppp/secret", name="bob")
        self.sim.login("bob", kind="ppp")  # adds <pppoe-bob>, type pppoe-in
        c = self.raw()

        def names(*words):
            return [w[1] for w in c.call("/interface/print", "=.proplist=name", *words) if w[0] == "!re"]

        ethers = [f"=name=ether{i}" for i in range(1, 6)]
        self.assertEqual(names("?type=ether", "?type=pppoe-in", "?#|"), ethers + ["=name=<pppoe-bob>"])
        self.assertEqual(names("?type=ether", "?type=pppoe-in", "?#|!"), [])
        self.assertEqual(names("?type=ether", "?#!"), ["=name=<pppoe-bob>"])
        self.assertEqual(names("?=name=ether2"), ["=name=ether2"])
        self.assertEqual(names("?>name=ether3", "?<name=ether5"), ["=name=ether4"])
        self.assertEqual(names("?-comment", "?dynamic=yes"), ["=name=<pppoe-bob>"])
        self.assertEqual(c.call("/interface/print", "=count-only=", "?type=ether"), [["!done", "=ret=5"]])


class Query(unittest.TestCase):
    rows = [
        {".id": "*1", "name": "ether1", "type": "ether", "disabled": "false", "mtu": "1500"},
        {".id": "*2", "name": "vlan1", "type": "vlan", "disabled": "true", "mtu": "1496", "comment": "x"},
        {".id": "*3", "name": "br", "type": "bridge", "disabled": "false", "mtu": "auto"},
    ]

    def names(self, *words):
        pred = compile_query(list(words))
        return [r["name"] for r in self.rows if pred is None or pred(r)]

    def test_basic(self):
        self.assertEqual(self.names(), ["ether1", "vlan1", "br"])
        self.assertEqual(self.names("type=ether"), ["ether1"])
        self.assertEqual(self.names("=type=vlan"), ["vlan1"])
        self.assertEqual(self.names("comment"), ["vlan1"])
        self.assertEqual(self.names("-comment"), ["ether1", "br"])
        self.assertEqual(self.names("=disabled=no"), ["ether1", "br"])   # yes/no vs true/false
        self.assertEqual(self.names("=disabled=yes"), ["vlan1"])
        self.assertEqual(self.names(">comment="), ["vlan1"])              # non-empty comment (§1.6)
        self.assertEqual(self.names(">mtu=1496"), ["ether1", "br"])       # int, then string ('auto')
        self.assertEqual(self.names("<mtu=1500"), ["vlan1"])
        self.assertEqual(self.names("<mtu=900"), [])                      # 1496 vs 900 as integers

    def test_stack_ops(self):
        self.assertEqual(self.names("type=ether", "type=vlan", "#|"), ["ether1", "vlan1"])
        self.assertEqual(self.names("type=ether", "type=vlan", "#|!"), ["br"])
        self.assertEqual(self.names("=name=c", "#!"), ["ether1", "vlan1", "br"])
        self.assertEqual(self.names("type=ether", "disabled=false", "#&"), ["ether1"])
        # librouteros In(): ?=n=a ?=n=b ?=n=c ?#| ?#|
        self.assertEqual(self.names("=name=br", "=name=vlan1", "=name=zz", "#|", "#|"), ["vlan1", "br"])
        # index ops: copy value at index 1, "." duplicates top, trailing index replaces stack
        self.assertEqual(self.names("type=ether", "type=vlan", "#1"), ["ether1"])
        self.assertEqual(self.names("type=ether", "type=vlan", "#0"), ["vlan1"])
        self.assertEqual(self.names("type=vlan", "#.!|"), ["ether1", "vlan1", "br"])
        self.assertEqual(self.names("type=ether", "type=vlan", "#1.|"), ["ether1"])
        self.assertEqual(self.names("#&"), ["ether1", "vlan1", "br"])  # pops from infinite trues


class Values(unittest.TestCase):
    def test_durations(self):
        self.assertEqual(V.format_duration(0), "0s")
        self.assertEqual(V.format_duration(93784), "1d2h3m4s")
        self.assertEqual(V.format_duration(604800 + 5), "1w5s")
        for text, secs in (("1h", 3600), ("30m", 1800), ("01:00:00", 3600), ("1d02:03:04", 93784),
                           ("1d2h3m4s", 93784), ("90", 90), ("0s", 0), ("1w", 604800)):
            self.assertEqual(V.parse_duration(text), secs, text)
        for bad in ("1x", "", "h", "1h1h", "abc"):
            with self.assertRaises(Trap):
                V.parse_duration(bad)

    def test_rates(self):
        self.assertEqual(V.parse_limit_pair("10M/10M", "max-limit"), "10000000/10000000")
        self.assertEqual(V.parse_limit_pair("512k/2M", "max-limit"), "512000/2000000")
        for ok in ("10M/10M", "512k/1M", "1M", "2M/4M 4M/8M 1500k/3M 16/16 8 1M/2M"):
            self.assertEqual(V.check_rate_limit(ok), ok)
        for bad in ("abc", "10X/10M", "1M/1M/1M", "1M 2M 3M 4M 9"):
            with self.assertRaises(Trap) as cm:
                V.check_rate_limit(bad)
            self.assertEqual(cm.exception.message, "invalid value for argument rate-limit")

    def test_bool(self):
        self.assertEqual(V.parse_bool("yes"), "true")
        self.assertEqual(V.parse_bool("false"), "false")
        with self.assertRaises(Trap):
            V.parse_bool("maybe", "disabled")


if __name__ == "__main__":
    unittest.main()
