"""The real librouteros 4.2.2 client against the simulator (plain, token, TLS cert and ADH)."""

import asyncio
import unittest

from librouteros import async_connect, connect
from librouteros.exceptions import FatalError, MultiTrapError, TrapError
from librouteros.login import plain, token
from librouteros.query import Key, Or

from routeros_sim import RouterSim
from routeros_sim.tls import client_context

from .support import SimTestCase


class CrudMixin:
    """add / print with queries / set / remove through ``api.path``."""

    def exercise(self, api):
        users = api.path("ip", "hotspot", "user")
        uid = users.add(name="u1", password="p1", **{"limit-uptime": "1h", "disabled": False,
                                                      "limit-bytes-total": 1000000})
        self.assertEqual(uid, "*1")
        users.add(name="u2", password="p2")
        users.add(name="u3", password="p3", disabled=True)
        name = Key("name")
        got = list(users.select(Key(".id"), name, Key("uptime")).where(name == "u1", Key("disabled") == False))
        self.assertEqual(got, [{".id": "*1", "name": "u1", "uptime": "0s"}])
        self.assertEqual({r["name"] for r in users.select(name).where(Or(name == "u1", name == "u3"))},
                         {"u1", "u3"})
        self.assertEqual({r["name"] for r in users.select(name).where(name.In("u2", "u3", "zz"))},
                         {"u2", "u3"})
        self.assertEqual([r["name"] for r in users.select(name).where(name != "u1", Key("disabled") == True)],
                         ["u3"])
        self.assertEqual(len(list(users.select(name).where(Key("limit-bytes-total") > 5))), 1)
        row = next(iter(users.select().where(name == "u1")))
        self.assertEqual(row["limit-uptime"], "1h")
        self.assertIs(row["disabled"], False)
        users.update(**{".id": uid, "disabled": True, "limit-uptime": "2h30m"})
        row = next(iter(users.select().where(name == "u1")))
        self.assertIs(row["disabled"], True)
        self.assertEqual(row["limit-uptime"], "2h30m")
        users.remove(uid, "*2")
        self.assertEqual([r["name"] for r in users], ["u3"])
        self.assertEqual(tuple(api("/ip/hotspot/user/print", **{"count-only": ""})), ({"ret": 1},))


class PlainTcp(CrudMixin, SimTestCase):
    def connect(self, **kw):
        api = connect("127.0.0.1", "admin", "", port=self.sim.port, timeout=5, **kw)
        self.addCleanup(api.close)
        return api

    def test_crud(self):
        self.exercise(self.connect())
        self.assertIn("/ip/hotspot/user/add", self.sim.commands)
        self.assertEqual(self.sim.commands.count("/ip/hotspot/user/add"), 3)

    def test_errors(self):
        api = self.connect()
        users = api.path("ip", "hotspot", "user")
        users.add(name="u1")
        with self.assertRaises(TrapError) as cm:
            users.add(name="u1")
        self.assertEqual(str(cm.exception), "failure: already have user with this name for this server")
        self.assertIsNone(cm.exception.category)
        with self.assertRaises(TrapError) as cm:
            users.add(name="u9", profile="gold")
        self.assertEqual((cm.exception.message, cm.exception.category),
                         ("input does not match any value of profile", 1))
        with self.assertRaises(TrapError) as cm:
            users.remove("*FF")
        self.assertEqual(cm.exception.message, "no such item (4)")
        with self.assertRaises(MultiTrapError) as cm:
            tuple(api("/ip/adress/print"))
        self.assertEqual([(t.message, t.category) for t in cm.exception.traps],
                         [("no such command or directory (adress)", 0), ("no such command prefix", None)])
        with self.assertRaises(TrapError) as cm:
            tuple(api("/ip/hotspot/user/frobnicate"))
        self.assertEqual(cm.exception.message, "no such command")
        with self.assertRaises(TrapError) as cm:
            users.add(name="u5", colour="red")
        self.assertEqual(cm.exception.message, "unknown parameter")
        for key, value in (("disabled", "maybe"), ("limit-uptime", "soon"), ("limit-bytes-total", "lots")):
            with self.assertRaises(TrapError) as cm:
                users.add(name="u6", **{key: value})
            self.assertEqual(cm.exception.message, f"invalid value for argument {key}")
        with self.assertRaises(TrapError) as cm:
            api.path("ip", "hotspot", "user", "profile").add(name="p", **{"rate-limit": "fast"})
        self.assertEqual(cm.exception.message, "invalid value for argument rate-limit")
        # connection still usable after traps
        self.assertEqual(list(api("/system/identity/print")), [{"name": "MikroTik"}])

    def test_other_menus(self):
        api = self.connect()
        secrets = api.path("ppp", "secret")
        secrets.add(name="c1", password="x", profile="default-encryption", **{"remote-address": "10.9.0.2"})
        with self.assertRaises(TrapError) as cm:
            secrets.add(name="c1")
        self.assertEqual(cm.exception.message, "failure: secret with the same name already exists")
        with self.assertRaises(TrapError) as cm:
            secrets.add(name="c2", **{"remote-address": "10.9.0"})
        self.assertEqual(cm.exception.message, "invalid value for argument remote-address")
        self.assertEqual({p["name"] for p in api.path("ppp", "profile")}, {"default", "default-encryption"})
        al = api.path("ip", "firewall", "address-list")
        al.add(list="blocked", address="10.0.0.5")
        with self.assertRaises(TrapError) as cm:
            al.add(list="blocked", address="10.0.0.5")
        self.assertEqual(cm.exception.message, "failure: already have such entry")
        q = api.path("queue", "simple")
        q.add(name="q1", target="10.0.0.5", **{"max-limit": "10M/10M"})
        self.assertEqual(next(iter(q))["max-limit"], "10000000/10000000")
        with self.assertRaises(TrapError) as cm:
            q.add(name="q1", target="10.0.0.6")
        self.assertEqual(cm.exception.message, "failure: already have such name")
        self.assertEqual([i["name"] for i in api.path("interface")], [f"ether{i}" for i in range(1, 6)])
        self.assertEqual([h["name"] for h in api.path("ip", "hotspot")], ["hotspot1"])
        res = next(iter(api.path("system", "resource")))
        self.assertEqual((res["version"], res["board-name"], res["platform"]),
                         ("7.18.2 (stable)", "CHR", "MikroTik"))
        for key in ("uptime", "cpu-load", "free-memory", "total-memory", "architecture-name"):
            self.assertIn(key, res)
        tuple(api("/system/identity/set", name="edge-1"))
        self.assertEqual(list(api("/system/identity/print")), [{"name": "edge-1"}])
        # numbers= and comma lists for set/enable/disable/remove
        users = api.path("ip", "hotspot", "user")
        a, b = users.add(name="a"), users.add(name="b")
        tuple(api("/ip/hotspot/user/disable", numbers=f"{a},{b}"))
        self.assertEqual({r["disabled"] for r in users}, {True})
        tuple(api("/ip/hotspot/user/enable", **{".id": a}))
        tuple(api("/ip/hotspot/user/set", numbers="b", comment="by name"))
        self.assertEqual([r.get("comment") for r in users], [None, "by name"])
        tuple(api("/ip/hotspot/user/remove", numbers=f"{a},{b}"))
        self.assertEqual(list(users), [])

    def test_quit_is_fatal(self):
        api = self.connect()
        with self.assertRaises(FatalError) as cm:
            tuple(api("/quit"))
        self.assertEqual(str(cm.exception), "session terminated on request")

    def test_cancel(self):
        api = self.connect()
        self.assertEqual(tuple(api("/cancel")), ())
        self.assertEqual(self.sim.commands, ["/cancel"])

    def test_bad_password(self):
        with self.assertRaises(TrapError) as cm:
            connect("127.0.0.1", "admin", "nope", port=self.sim.port, timeout=5)
        self.assertEqual(cm.exception.message, "invalid user name or password (6)")


class HotspotActiveLoginCommand(SimTestCase):
    def test_login_via_api_and_async_client(self):
        self.sim.add_row("/ip/hotspot/user", name="u1", password="p1")
        api = connect("127.0.0.1", "admin", "", port=self.sim.port, timeout=5)
        self.addCleanup(api.close)
        active = api.path("ip", "hotspot", "active")
        tuple(active("login", user="u1", password="p1", ip="10.5.50.9", **{"mac-address": "AA:BB:CC:DD:EE:FF"}))
        (row,) = list(active)
        self.assertEqual((row["user"], row["address"], row["mac-address"]), ("u1", "10.5.50.9", "AA:BB:CC:DD:EE:FF"))
        with self.assertRaises(TrapError):
            tuple(active("login", user="u1", password="wrong", ip="10.5.50.10"))

        async def run():
            aapi = await async_connect("127.0.0.1", "admin", "", port=self.sim.port, timeout=5)
            try:
                return [r async for r in aapi.path("ip", "hotspot", "active").select(Key("user"))]
            finally:
                await aapi.close()
        self.assertEqual(asyncio.run(run()), [{"user": "u1"}])


class TokenLogin(unittest.TestCase):
    def test_token_on_6_33_and_6_45(self):
        for version in ("6.33", "6.45"):
            with RouterSim(version=version, password="pw") as sim:
                api = connect("127.0.0.1", "admin", "pw", port=sim.port, login_method=token, timeout=5)
                self.assertEqual(list(api("/system/identity/print")), [{"name": "MikroTik"}])
                api.close()
                with self.assertRaises(TrapError) as cm:
                    connect("127.0.0.1", "admin", "bad", port=sim.port, login_method=token, timeout=5)
                self.assertEqual(cm.exception.message,
                                 "cannot log in" if version == "6.33" else "invalid user name or password (6)")

    def test_plain_on_6_33_succeeds_then_not_logged_in(self):
        with RouterSim(version="6.33") as sim:
            api = connect("127.0.0.1", "admin", "", port=sim.port, login_method=plain, timeout=5)
            with self.assertRaises(TrapError) as cm:
                tuple(api("/system/identity/print"))
            self.assertEqual(cm.exception.message, "not logged in")
            api.close()
            self.assertEqual(sim.commands, [])

    def test_plain_on_6_45(self):
        with RouterSim(version="6.45") as sim:
            api = connect("127.0.0.1", "admin", "", port=sim.port, timeout=5)
            self.assertEqual(next(iter(api.path("system", "resource")))["version"], "6.45 (stable)")
            api.close()

    def test_token_rejected_from_6_45_1(self):
        for version in ("6.45.1", "6.49.14", "7.18"):
            with RouterSim(version=version) as sim:
                with self.assertRaises(TrapError) as cm:
                    connect("127.0.0.1", "admin", "", port=sim.port, login_method=token, timeout=5)
                self.assertEqual(cm.exception.message, "invalid user name or password (6)")


class Tls(CrudMixin, unittest.TestCase):
    def test_cert_and_adh(self):
        for mode in ("cert", "adh"):
            with RouterSim(tls=mode) as sim:
                ctx = client_context(mode)
                api = connect("127.0.0.1", "admin", "", port=sim.tls_port, ssl_wrapper=ctx.wrap_socket,
                              timeout=5)
                self.exercise(api)
                cipher = api.protocol.transport.sock.cipher()
                if mode == "adh":
                    self.assertTrue(cipher[0].startswith("ADH-"), cipher)
                    self.assertEqual(cipher[1], "TLSv1.2")
                api.close()
                # the plain port keeps working next to API-SSL
                api = connect("127.0.0.1", "admin", "", port=sim.port, timeout=5)
                self.assertEqual(len(list(api.path("ip", "hotspot", "user"))), 1)
                api.close()


if __name__ == "__main__":
    unittest.main()
