"""``python -m routeros_sim`` serves routers until SIGTERM and keeps state in --state files."""

import os
import signal
import socket
import subprocess
import sys
import tempfile
import unittest

from librouteros import connect

from routeros_sim.tls import client_context

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def free_port_block(n: int) -> int:
    """A base port P such that P..P+n-1 and P+100..P+100+n-1 look free."""
    for _ in range(50):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        base = s.getsockname()[1]
        s.close()
        if base + 100 + n >= 65535:
            continue
        try:
            probes = []
            for p in list(range(base, base + n)) + list(range(base + 100, base + 100 + n)):
                t = socket.socket()
                t.bind(("127.0.0.1", p))
                probes.append(t)
            for t in probes:
                t.close()
            return base
        except OSError:
            for t in probes:
                t.close()
    raise RuntimeError("no free port block")


class Cli(unittest.TestCase):
    def start(self, *args):
        proc = subprocess.Popen([sys.executable, "-m", "routeros_sim", *args], cwd=ROOT,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.addCleanup(lambda: proc.poll() is None and proc.kill())
        return proc

    def stop(self, proc):
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=10)
        self.assertEqual(proc.returncode, 0, err)
        return out

    def test_serves_and_keeps_state(self):
        base = free_port_block(2)
        state = os.path.join(tempfile.mkdtemp(), "fleet.json")
        args = ["--routers", "2", "--base-port", str(base), "--version", "7.18", "--tls",
                "--state", state, "--password", "s3cret"]
        proc = self.start(*args)
        lines = [proc.stdout.readline().strip() for _ in range(2)]
        self.assertTrue(lines[0].startswith(f"MikroTik-1 127.0.0.1:{base} version=7.18.2 (stable)"), lines)
        self.assertIn(f"api-ssl=127.0.0.1:{base + 100}", lines[0])
        self.assertIn("user=admin password='s3cret'", lines[0])
        self.assertTrue(lines[1].startswith(f"MikroTik-2 127.0.0.1:{base + 1} "), lines)

        api = connect("127.0.0.1", "admin", "s3cret", port=base + 1, timeout=5)
        self.assertEqual(list(api("/system/identity/print")), [{"name": "MikroTik-2"}])
        api.path("ip", "hotspot", "user").add(name="persisted")
        api.close()
        api = connect("127.0.0.1", "admin", "s3cret", port=base + 100, timeout=5,
                      ssl_wrapper=client_context().wrap_socket)
        self.assertEqual(list(api("/system/identity/print")), [{"name": "MikroTik-1"}])
        api.close()
        self.stop(proc)
        stem = state[:-5]
        self.assertTrue(os.path.exists(f"{stem}-1.json") and os.path.exists(f"{stem}-2.json"))

        proc = self.start(*args)
        proc.stdout.readline(), proc.stdout.readline()
        api = connect("127.0.0.1", "admin", "s3cret", port=base + 1, timeout=5)
        self.assertEqual([u["name"] for u in api.path("ip", "hotspot", "user")], ["persisted"])
        api.close()
        self.stop(proc)


if __name__ == "__main__":
    unittest.main()
