"""Run-time faults, seen through librouteros."""

import socket
import time

from librouteros import connect
from librouteros.exceptions import ConnectionClosed, TrapError

from .support import SimTestCase


class Faults(SimTestCase):
    def connect(self, timeout=5):
        api = connect("127.0.0.1", "admin", "", port=self.sim.port, timeout=timeout)
        self.addCleanup(api.close)
        return api

    def test_refuse_and_recover(self):
        self.sim.faults.refuse = True
        with self.assertRaises(ConnectionRefusedError):
            connect("127.0.0.1", "admin", "", port=self.sim.port, timeout=2)
        self.sim.faults.clear()
        self.assertEqual(list(self.connect()("/system/identity/print")), [{"name": "MikroTik"}])

    def test_blackhole_times_out(self):
        self.sim.faults.blackhole = True
        with self.assertRaises(TimeoutError):
            connect("127.0.0.1", "admin", "", port=self.sim.port, timeout=0.3)
        api = None
        self.sim.faults.blackhole = False
        api = self.connect()
        self.sim.faults.blackhole = True  # also silences established connections
        api.protocol.transport.sock.settimeout(0.3)
        with self.assertRaises(TimeoutError):
            tuple(api("/system/identity/print"))

    def test_drop_after(self):
        self.sim.faults.drop_after = 2  # login !done, then one !re, then close
        api = self.connect()
        with self.assertRaises(ConnectionClosed):
            tuple(api("/interface/print"))

    def test_latency(self):
        api = self.connect()
        self.sim.faults.latency = 0.1
        start = time.monotonic()
        tuple(api("/system/identity/print"))
        self.assertGreaterEqual(time.monotonic() - start, 0.1)

    def test_trap_every(self):
        api = self.connect()
        self.sim.faults.trap_every = 3
        tuple(api("/system/identity/print"))
        tuple(api("/system/identity/print"))
        with self.assertRaises(TrapError) as cm:
            tuple(api("/system/identity/print"))
        self.assertEqual(cm.exception.message, "failure: simulated fault")
        tuple(api("/system/identity/print"))
        self.assertEqual(len(self.sim.commands), 4)

    def test_reboot_drops_connections_and_resets(self):
        api = self.connect()
        self.sim.add_row("/ip/hotspot/user", name="alice", password="x")
        self.sim.add_row("/ppp/secret", name="bob", password="x")
        self.sim.login("alice")
        self.sim.login("bob", kind="ppp")
        self.sim.add_traffic("alice", bytes_in=1000, bytes_out=5000)
        self.sim.add_traffic("bob", bytes_in=10, bytes_out=20, kind="ppp")
        self.sim.advance(120)
        before = tuple(api("/system/resource/print"))[0]["uptime"]
        self.assertTrue(before.startswith("2m"), before)
        self.sim.reboot()
        with self.assertRaises((ConnectionClosed, OSError)):
            tuple(api("/system/identity/print"))
        self.assertEqual(self.sim.rows("/ip/hotspot/active"), [])
        self.assertEqual(self.sim.rows("/ppp/active"), [])
        (alice,) = self.sim.rows("/ip/hotspot/user")
        self.assertEqual((alice["bytes-in"], alice["bytes-out"], alice["uptime"]), ("0", "0", "0s"))
        self.assertEqual([i["name"] for i in self.sim.rows("/interface")], [f"ether{i}" for i in range(1, 6)])
        self.assertEqual(self.sim.rows("/system/resource")[0]["uptime"], "0s")
        api2 = self.connect()  # state kept, router answers again
        self.assertEqual([u["name"] for u in api2.path("ip", "hotspot", "user")], ["alice"])

    def test_raw_drop_counts_reply_sentences(self):
        self.sim.faults.drop_after = 1
        s = socket.create_connection(("127.0.0.1", self.sim.port), timeout=2)
        self.addCleanup(s.close)
        s.sendall(b"\x06/login\x0b=name=admin\x0a=password=\x00")
        data = b""
        while True:
            chunk = s.recv(100)
            if not chunk:
                break
            data += chunk
        self.assertEqual(data, b"\x05!done\x00")
