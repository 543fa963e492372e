"""Byte-level exchanges of the RouterOS API, asserted over a raw socket."""

import unittest

from routeros_sim.protocol import encode_sentence
from routeros_sim.server import challenge_response

from .support import RawClient, SimTestCase, hexbytes

DONE = hexbytes("05 21 64 6f 6e 65 00")


class ChallengePairs(unittest.TestCase):
    """§2.2: MikroTik's documented challenge/response pairs and librouteros' test vector."""

    def test_documented_pairs(self):
        pairs = [
            ("", "ebddd18303a54111e2dea05a92ab46b4", "001ea726ed53ae38520c8334f82d44c9f2"),
            ("", "856780b7411eefd3abadee2058c149a3", "005062f7a5ef124d34675bf3e81f56c556"),
            ("", "93b438ec9b80057c06dd9fe67d56aa9a", "00e134102a9d330dd7b1849fedfea3cb57"),
            ("test", "259e0bc05acd6f46926dc2f809ed1bba", "00c7fd865183a43a772dde231f6d0bff13"),
        ]
        for password, challenge, response in pairs:
            self.assertEqual(challenge_response(password, challenge), response)


class PlainLoginBytes(SimTestCase):
    """§2.1 (7.18, password ``secret``)."""

    sim_kwargs = {"password": "secret"}

    LOGIN = hexbytes("""
      0000: 06 2f 6c 6f 67 69 6e 0b 3d 6e 61 6d 65 3d 61 64
      0010: 6d 69 6e 10 3d 70 61 73 73 77 6f 72 64 3d 73 65
      0020: 63 72 65 74 00""")
    FAIL = hexbytes("""
      0000: 05 21 74 72 61 70 2a 3d 6d 65 73 73 61 67 65 3d
      0010: 69 6e 76 61 6c 69 64 20 75 73 65 72 20 6e 61 6d
      0020: 65 20 6f 72 20 70 61 73 73 77 6f 72 64 20 28 36
      0030: 29 00""")

    def test_success(self):
        c = self.raw(login=False)
        self.assertEqual(encode_sentence(["/login", "=name=admin", "=password=secret"]), self.LOGIN)
        c.send_raw(self.LOGIN)
        self.assertEqual([raw for _, raw in c.reply()], [DONE])

    def test_failure(self):
        c = self.raw(login=False)
        c.send("/login", "=name=admin", "=password=wrong")
        self.assertEqual([raw for _, raw in c.reply()], [self.FAIL, DONE])


class TokenLoginBytes(SimTestCase):
    """§2.2 (pre-6.43 router, admin with empty password, fixed challenge)."""

    version = "6.33"

    def setUp(self):
        super().setUp()
        self.sim.fixed_challenge = "ebddd18303a54111e2dea05a92ab46b4"

    def test_success_and_failure(self):
        c = self.raw(login=False)
        self.assertEqual(c.send("/login"), hexbytes("06 2f 6c 6f 67 69 6e 00"))
        self.assertEqual([raw for _, raw in c.reply()], [hexbytes("""
          0000: 05 21 64 6f 6e 65 25 3d 72 65 74 3d 65 62 64 64
          0010: 64 31 38 33 30 33 61 35 34 31 31 31 65 32 64 65
          0020: 61 30 35 61 39 32 61 62 34 36 62 34 00""")])
        login2 = hexbytes("""
          0000: 06 2f 6c 6f 67 69 6e 0b 3d 6e 61 6d 65 3d 61 64
          0010: 6d 69 6e 2c 3d 72 65 73 70 6f 6e 73 65 3d 30 30
          0020: 31 65 61 37 32 36 65 64 35 33 61 65 33 38 35 32
          0030: 30 63 38 33 33 34 66 38 32 64 34 34 63 39 66 32
          0040: 00""")
        self.assertEqual(c.send("/login", "=name=admin",
                                "=response=001ea726ed53ae38520c8334f82d44c9f2"), login2)
        self.assertEqual([raw for _, raw in c.reply()], [DONE])

        bad = self.raw(login=False)
        bad.call("/login")
        bad.send("/login", "=name=admin", "=response=00" + "0" * 32)
        self.assertEqual([raw for _, raw in bad.reply()], [hexbytes("""
          0000: 05 21 74 72 61 70 16 3d 6d 65 73 73 61 67 65 3d
          0010: 63 61 6e 6e 6f 74 20 6c 6f 67 20 69 6e 00"""), DONE])


class DocExamples(SimTestCase):
    """§6.1-§6.4 on a 7.18 router."""

    def setUp(self):
        super().setUp()
        self.sim.add_row("/ip/hotspot/user/profile", name="1h")
        self.c = self.raw()

    def add_u1(self):
        data = hexbytes("""
          0000: 14 2f 69 70 2f 68 6f 74 73 70 6f 74 2f 75 73 65
          0010: 72 2f 61 64 64 08 3d 6e 61 6d 65 3d 75 31 0c 3d
          0020: 70 61 73 73 77 6f 72 64 3d 70 31 0b 3d 70 72 6f
          0030: 66 69 6c 65 3d 31 68 10 3d 6c 69 6d 69 74 2d 75
          0040: 70 74 69 6d 65 3d 31 68 0c 3d 64 69 73 61 62 6c
          0050: 65 64 3d 6e 6f 1a 3d 6c 69 6d 69 74 2d 62 79 74
          0060: 65 73 2d 74 6f 74 61 6c 3d 31 30 30 30 30 30 30
          0070: 00""")
        self.c.send_raw(data)
        return [raw for _, raw in self.c.reply()]

    def test_6_1_add(self):
        self.assertEqual(self.add_u1(), [hexbytes("05 21 64 6f 6e 65 07 3d 72 65 74 3d 2a 31 00")])

    def test_6_2_print_proplist_query(self):
        self.add_u1()
        query = hexbytes("""
          0000: 16 2f 69 70 2f 68 6f 74 73 70 6f 74 2f 75 73 65
          0010: 72 2f 70 72 69 6e 74 1a 3d 2e 70 72 6f 70 6c 69
          0020: 73 74 3d 2e 69 64 2c 6e 61 6d 65 2c 75 70 74 69
          0030: 6d 65 09 3f 3d 6e 61 6d 65 3d 75 31 0d 3f 3d 64
          0040: 69 73 61 62 6c 65 64 3d 6e 6f 00""")
        self.c.send_raw(query)
        self.assertEqual([raw for _, raw in self.c.reply()], [hexbytes("""
          0000: 03 21 72 65 07 3d 2e 69 64 3d 2a 31 08 3d 6e 61
          0010: 6d 65 3d 75 31 0a 3d 75 70 74 69 6d 65 3d 30 73
          0020: 00"""), DONE])
        # no match on 7.18+: !empty then !done
        self.c.send("/ip/hotspot/user/print", "=.proplist=.id,name,uptime", "?=name=zz")
        self.assertEqual([raw for _, raw in self.c.reply()],
                         [hexbytes("06 21 65 6d 70 74 79 00"), DONE])

    def test_6_3_traps(self):
        self.add_u1()
        self.assertEqual(self.add_u1(), [hexbytes("""
          0000: 05 21 74 72 61 70 42 3d 6d 65 73 73 61 67 65 3d
          0010: 66 61 69 6c 75 72 65 3a 20 61 6c 72 65 61 64 79
          0020: 20 68 61 76 65 20 75 73 65 72 20 77 69 74 68 20
          0030: 74 68 69 73 20 6e 61 6d 65 20 66 6f 72 20 74 68
          0040: 69 73 20 73 65 72 76 65 72 00"""), DONE])
        self.c.send("/ip/hotspot/user/add", "=name=u2", "=profile=nope")
        self.assertEqual([raw for _, raw in self.c.reply()], [hexbytes("""
          0000: 05 21 74 72 61 70 0b 3d 63 61 74 65 67 6f 72 79
          0010: 3d 31 32 3d 6d 65 73 73 61 67 65 3d 69 6e 70 75
          0020: 74 20 64 6f 65 73 20 6e 6f 74 20 6d 61 74 63 68
          0030: 20 61 6e 79 20 76 61 6c 75 65 20 6f 66 20 70 72
          0040: 6f 66 69 6c 65 00"""), DONE])
        self.c.send("/ip/hotspot/user/remove", "=.id=*99")
        self.assertEqual([raw for _, raw in self.c.reply()], [hexbytes("""
          0000: 05 21 74 72 61 70 19 3d 6d 65 73 73 61 67 65 3d
          0010: 6e 6f 20 73 75 63 68 20 69 74 65 6d 20 28 34 29
          0020: 00"""), DONE])

    def test_6_4_kick_count_quit(self):
        for name in "abcd":
            self.sim.add_row("/ip/hotspot/user", name=name)
        self.sim.state.tables["/ip/hotspot/active"].next_id = 0x1A
        self.assertEqual([self.sim.login(n) for n in "abcd"], ["*1A", "*1B", "*1C", "*1D"])
        self.c.send_raw(hexbytes("""
          0000: 19 2f 69 70 2f 68 6f 74 73 70 6f 74 2f 61 63 74
          0010: 69 76 65 2f 72 65 6d 6f 76 65 08 3d 2e 69 64 3d
          0020: 2a 31 41 00"""))
        self.assertEqual([raw for _, raw in self.c.reply()], [DONE])
        self.c.send_raw(hexbytes("""
          0000: 18 2f 69 70 2f 68 6f 74 73 70 6f 74 2f 61 63 74
          0010: 69 76 65 2f 70 72 69 6e 74 0c 3d 63 6f 75 6e 74
          0020: 2d 6f 6e 6c 79 3d 00"""))
        self.assertEqual([raw for _, raw in self.c.reply()],
                         [hexbytes("05 21 64 6f 6e 65 06 3d 72 65 74 3d 33 00")])
        self.c.send_raw(hexbytes("05 2f 71 75 69 74 00"))
        self.assertEqual([raw for _, raw in self.c.reply()], [hexbytes("""
          0000: 06 21 66 61 74 61 6c 1d 73 65 73 73 69 6f 6e 20
          0010: 74 65 72 6d 69 6e 61 74 65 64 20 6f 6e 20 72 65
          0020: 71 75 65 73 74 00""")])
        self.assertEqual(self.c.sock.recv(10), b"")  # then TCP close
        self.assertEqual([r["user"] for r in self.sim.rows("/ip/hotspot/active")], ["b", "c", "d"])

    def test_6_5_tag_echo(self):
        # the doc's request bytes (no .proplist) are a valid sentence for our decoder
        self.assertEqual(encode_sentence(["/interface/print", ".tag=7"]), hexbytes("""
          0000: 10 2f 69 6e 74 65 72 66 61 63 65 2f 70 72 69 6e
          0010: 74 06 2e 74 61 67 3d 37 00"""))
        # narrowed to the doc's single-word reply with .proplist and a query
        self.c.send("/interface/print", "=.proplist=name", "?name=ether1", ".tag=7")
        self.assertEqual([raw for _, raw in self.c.reply()], [
            hexbytes("03 21 72 65 0c 3d 6e 61 6d 65 3d 65 74 68 65 72 31 06 2e 74 61 67 3d 37 00"),
            hexbytes("05 21 64 6f 6e 65 06 2e 74 61 67 3d 37 00")])

    def test_no_tag_unless_sent(self):
        for words in self.c.call("/interface/print", "=.proplist=name"):
            self.assertFalse(any(w.startswith(".tag") for w in words), words)
        # empty tag value: no tag in replies (§1.5)
        for words in self.c.call("/interface/print", "=.proplist=name", ".tag="):
            self.assertFalse(any(w.startswith(".tag") for w in words), words)
        # tag on !trap, !empty and !done as well
        got = self.c.call("/ip/hotspot/user/print", "?name=none", ".tag=x1")
        self.assertEqual(got, [["!empty", ".tag=x1"], ["!done", ".tag=x1"]])
        got = self.c.call("/ip/hotspot/user/remove", "=.id=*77", ".tag=x2")
        self.assertEqual(got, [["!trap", "=message=no such item (4)", ".tag=x2"], ["!done", ".tag=x2"]])


class EmptyOnlyOn718(unittest.TestCase):
    def test_versions(self):
        from routeros_sim import RouterSim
        for version, expected in (("6.33", [["!done"]]), ("6.45", [["!done"]]),
                                  ("7.17", [["!done"]]), ("7.18", [["!empty"], ["!done"]])):
            with RouterSim(version=version) as sim:
                c = RawClient(sim.port)
                if version == "6.33":
                    ret = c.call("/login")[0][1].split("=", 2)[2]
                    c.call("/login", "=name=admin", "=response=" + challenge_response("", ret))
                else:
                    c.login()
                self.assertEqual(c.call("/ppp/secret/print"), expected, version)
                self.assertEqual(c.call("/ppp/secret/print", "=count-only="), [["!done", "=ret=0"]])
                c.close()


if __name__ == "__main__":
    unittest.main()
