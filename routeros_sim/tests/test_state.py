"""Python API: state access, traffic/sessions, persistence, command log."""

import json
import os
import tempfile
import threading

from librouteros import connect

from routeros_sim import Fleet, RouterSim, SimError

from .support import SimTestCase


class StateApi(SimTestCase):
    def api(self):
        api = connect("127.0.0.1", "admin", "", port=self.sim.port, timeout=5)
        self.addCleanup(api.close)
        return api

    def alice(self):
        return next(u for u in self.sim.rows("/ip/hotspot/user") if u["name"] == "alice")

    def test_defaults(self):
        self.assertEqual(self.sim.rows("/system/identity"), [{"name": "MikroTik"}])
        self.assertEqual([p["name"] for p in self.sim.rows("/ip/hotspot/user/profile")], ["default"])
        self.assertEqual([p["name"] for p in self.sim.rows("/ppp/profile")], ["default", "default-encryption"])
        self.assertEqual([h["name"] for h in self.sim.rows("/ip/hotspot")], ["hotspot1"])
        self.assertEqual([i["name"] for i in self.sim.rows("/interface")], [f"ether{i}" for i in range(1, 6)])

    def test_rows_are_copies_and_errors_are_simerror(self):
        uid = self.sim.add_row("/ip/hotspot/user", name="x", password="y", limit_uptime="1h")
        self.assertEqual(uid, "*1")
        rows = self.sim.rows("/ip/hotspot/user")
        rows[0]["name"] = "changed"
        self.assertEqual(self.sim.rows("/ip/hotspot/user")[0]["name"], "x")
        self.assertEqual(self.sim.rows("/ip/hotspot/user")[0]["limit-uptime"], "1h")
        self.sim.set_row("/ip/hotspot/user", uid, disabled="true")
        self.assertEqual(self.sim.rows("/ip/hotspot/user")[0]["disabled"], "true")
        with self.assertRaises(SimError):
            self.sim.add_row("/ip/hotspot/user", name="x")
        with self.assertRaises(SimError):
            self.sim.add_row("/ip/hotspot/user", name="z", profile="missing")
        with self.assertRaises(SimError):
            self.sim.rows("/no/such/menu")
        self.sim.remove_row("/ip/hotspot/user", uid)
        self.assertEqual(self.sim.rows("/ip/hotspot/user"), [])
        self.assertEqual(self.sim.add_row("/ip/hotspot/user", name="x2"), "*2")  # ids are monotonic

    def test_hotspot_session_and_counters(self):
        self.sim.add_row("/ip/hotspot/user", name="alice", password="pw")
        self.sim.add_row("/ip/hotspot/user", name="off", disabled=True)
        with self.assertRaises(SimError):
            self.sim.login("off")
        with self.assertRaises(SimError):
            self.sim.login("nobody")
        aid = self.sim.login("alice", address="10.5.50.9", mac="AA:BB:CC:DD:EE:FF")
        with self.assertRaises(SimError):
            self.sim.login("alice")  # shared-users 1 on the default profile
        self.sim.add_traffic("alice", bytes_in=1000, bytes_out=5000)
        self.sim.add_traffic("alice", bytes_in=1, bytes_out=2)
        self.sim.advance(65)
        (act,) = self.api().path("ip", "hotspot", "active")
        self.assertEqual((act[".id"], act["user"], act["address"], act["mac-address"]),
                         (aid, "alice", "10.5.50.9", "AA:BB:CC:DD:EE:FF"))
        self.assertEqual((act["bytes-in"], act["bytes-out"]), (1001, 5002))
        self.assertTrue(act["uptime"].startswith("1m5s"), act["uptime"])
        user = self.alice()
        self.assertEqual((user["bytes-in"], user["bytes-out"]), ("1001", "5002"))
        self.assertTrue(user["uptime"].startswith("1m5s"))
        # kicking through the API ends the session, totals stay
        tuple(self.api()("/ip/hotspot/active/remove", **{".id": aid}))
        self.assertEqual(self.sim.rows("/ip/hotspot/active"), [])
        with self.assertRaises(SimError):
            self.sim.add_traffic("alice", bytes_in=1)
        user = self.alice()
        self.assertEqual(user["bytes-in"], "1001")
        # removing the user ends its session
        self.sim.login("alice")
        self.sim.remove_row("/ip/hotspot/user", user[".id"])
        self.assertEqual(self.sim.rows("/ip/hotspot/active"), [])

    def test_limits_end_sessions(self):
        self.sim.add_row("/ip/hotspot/user", name="t", limit_uptime="1h", limit_bytes_total=10000)
        self.sim.login("t")
        self.sim.add_traffic("t", bytes_in=4000, bytes_out=6000)
        self.assertEqual(self.sim.rows("/ip/hotspot/active"), [])
        with self.assertRaises(SimError):
            self.sim.login("t")
        self.sim.add_row("/ip/hotspot/user", name="u", limit_uptime="1h")
        self.sim.login("u")
        self.sim.advance(3600)
        self.assertEqual(self.sim.rows("/ip/hotspot/active"), [])

    def test_ppp_session(self):
        self.sim.add_row("/ppp/secret", name="bob", password="x", remote_address="10.20.0.2")
        aid = self.sim.login("bob", kind="ppp")
        self.sim.add_traffic("bob", bytes_in=100, bytes_out=900, kind="ppp")
        (act,) = self.sim.rows("/ppp/active")
        self.assertEqual((act[".id"], act["name"], act["address"], act["service"]),
                         (aid, "bob", "10.20.0.2", "pppoe"))
        iface = [i for i in self.api().path("interface") if i["name"] == "<pppoe-bob>"]
        self.assertEqual(len(iface), 1)
        self.assertEqual((iface[0]["type"], iface[0]["rx-byte"], iface[0]["tx-byte"]), ("pppoe-in", 100, 900))
        tuple(self.api()("/ppp/active/remove", **{".id": aid}))
        self.assertEqual(self.sim.rows("/ppp/active"), [])
        self.assertNotIn("<pppoe-bob>", [i["name"] for i in self.sim.rows("/interface")])
        self.assertEqual(self.sim.rows("/ppp/secret")[0]["last-disconnect-reason"], "admin-reset")
        self.sim.login("bob", kind="ppp")
        self.sim.logout("bob", kind="ppp")
        self.sim.set_row("/ppp/secret", "bob", disabled="yes")
        with self.assertRaises(SimError):
            self.sim.login("bob", kind="ppp")

    def test_commands_thread_safe(self):
        def work():
            api = connect("127.0.0.1", "admin", "", port=self.sim.port, timeout=5)
            for _ in range(50):
                tuple(api("/system/identity/print"))
            api.close()
        threads = [threading.Thread(target=work) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(self.sim.commands, ["/system/identity/print"] * 200)
        self.sim.reset_commands()
        self.assertEqual(self.sim.commands, [])

    def test_print_10000_users(self):
        for i in range(10000):
            self.sim.add_row("/ip/hotspot/user", name=f"v{i:05d}", password="p")
        api = self.api()
        self.assertEqual(len(list(api.path("ip", "hotspot", "user"))), 10000)
        self.assertEqual(tuple(api("/ip/hotspot/user/print", **{"count-only": ""})), ({"ret": 10000},))


class Persistence(SimTestCase):
    def test_state_file_survives_restart(self):
        tmp = tempfile.mkdtemp()
        path = os.path.join(tmp, "r1.json")
        with RouterSim(state_file=path) as sim:
            api = connect("127.0.0.1", "admin", "", port=sim.port, timeout=5)
            api.path("ip", "hotspot", "user").add(name="keep", password="me")
            tuple(api("/system/identity/set", name="edge-7"))
            api.close()
            sim.login("keep")
            sim.add_traffic("keep", bytes_in=10)
        with open(path) as fh:
            self.assertEqual(json.load(fh)["identity"], "edge-7")
        with RouterSim(state_file=path) as sim:
            (user,) = sim.rows("/ip/hotspot/user")
            self.assertEqual((user["name"], user["password"], user["bytes-in"]), ("keep", "me", "0"))
            self.assertEqual(sim.identity, "edge-7")
            self.assertEqual(sim.add_row("/ip/hotspot/user", name="next"), "*2")
            self.assertEqual(sim.add_row("/ppp/profile", name="gold"), "*1")
            self.assertEqual([p[".id"] for p in sim.rows("/ppp/profile")], ["*0", "*FFFFFFFE", "*1"])
            self.assertEqual(sim.rows("/ip/hotspot/active"), [])

    def test_fleet(self):
        tmp = tempfile.mkdtemp()
        with Fleet(n=3, state_dir=tmp) as fleet:
            self.assertEqual([r.identity for r in fleet.routers], ["MikroTik-1", "MikroTik-2", "MikroTik-3"])
            self.assertEqual(len({r.port for r in fleet.routers}), 3)
            fleet.routers[1].add_row("/ppp/secret", name="only-on-2")
            api = connect("127.0.0.1", "admin", "", port=fleet.routers[0].port, timeout=5)
            self.assertEqual(list(api("/system/identity/print")), [{"name": "MikroTik-1"}])
            self.assertEqual(list(api.path("ppp", "secret")), [])
            api.close()
        self.assertEqual(sorted(os.listdir(tmp)), ["router-1.json", "router-2.json", "router-3.json"])
