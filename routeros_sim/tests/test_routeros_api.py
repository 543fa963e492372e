"""The independent socialwifi ``routeros_api`` 0.21.0 client (tags every command, ``=flag`` words)."""

import unittest
import warnings

import routeros_api
from routeros_api import exceptions as rexc
from routeros_api.query import IsEqualQuery, OrQuery

from routeros_sim import RouterSim

from .support import SimTestCase


class RouterOsApiClient(SimTestCase):
    def pool(self, **kw):
        pool = routeros_api.RouterOsApiPool("127.0.0.1", "admin", "", port=self.sim.port,
                                           plaintext_login=True, **kw)
        self.addCleanup(pool.disconnect)
        return pool

    def test_crud_and_queries(self):
        api = self.pool().get_api()
        users = api.get_resource("/ip/hotspot/user")
        users.add(name="u1", password="p1", limit_uptime="1h")
        users.add(name="u2", password="p2", disabled="yes")
        users.add(name="u3", password="p3")
        self.assertEqual([u["name"] for u in users.get()], ["u1", "u2", "u3"])
        (u1,) = users.get(name="u1")
        self.assertEqual((u1["id"], u1["limit-uptime"], u1["disabled"]), ("*1", "1h", "false"))
        got = users.call("print", {}, {}, additional_queries=[
            OrQuery(IsEqualQuery("name", "u1"), IsEqualQuery("name", "u3"))])
        self.assertEqual(sorted(u["name"] for u in got), ["u1", "u3"])
        self.assertEqual([u["name"] for u in users.get(disabled="yes")], ["u2"])
        users.set(id=u1["id"], comment="vip", disabled="yes")
        (u1,) = users.get(name="u1")
        self.assertEqual((u1["comment"], u1["disabled"]), ("vip", "true"))
        users.remove(id="*2")
        self.assertEqual([u["name"] for u in users.get()], ["u1", "u3"])
        count = users.call("print", {"count-only": ""})
        self.assertEqual(count.done_message["ret"], "2")
        self.assertEqual(api.get_resource("/system/identity").get(), [{"name": "MikroTik"}])
        self.assertIn("/ip/hotspot/user/add", self.sim.commands)

    def test_empty_print_and_errors(self):
        api = self.pool().get_api()
        secrets = api.get_resource("/ppp/secret")
        self.assertEqual(secrets.get(), [])  # !empty + !done, tagged
        secrets.add(name="c1", password="x")
        with self.assertRaises(rexc.RouterOsApiCommunicationError) as cm:
            secrets.add(name="c1", password="x")
        self.assertEqual(cm.exception.original_message, b"failure: secret with the same name already exists")
        with self.assertRaises(rexc.RouterOsApiCommunicationError) as cm:
            secrets.remove(id="*99")
        self.assertEqual(cm.exception.original_message, b"no such item (4)")

    def test_token_login_old_router(self):
        with RouterSim(version="6.33", password="pw") as sim:
            pool = routeros_api.RouterOsApiPool("127.0.0.1", "admin", "pw", port=sim.port)
            api = pool.get_api()
            self.assertEqual(api.get_resource("/system/identity").get(), [{"name": "MikroTik"}])
            pool.disconnect()

    def test_bad_login(self):
        warnings.simplefilter("ignore", ResourceWarning)  # the client leaks its socket on a failed login
        with self.assertRaises(rexc.RouterOsApiCommunicationError) as cm:
            routeros_api.RouterOsApiPool("127.0.0.1", "admin", "wrong", port=self.sim.port,
                                         plaintext_login=True).get_api()
        self.assertIn(b"invalid user name or password (6)", cm.exception.original_message)


if __name__ == "__main__":
    unittest.main()
