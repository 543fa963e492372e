"""Tagged follow/listen commands and /cancel (as the RouterOS API answers it)."""

from .support import SimTestCase


class Streams(SimTestCase):
    def test_listen_then_cancel_by_tag(self):
        c = self.raw()
        c.send("/ip/hotspot/user/listen", ".tag=2")
        c.call("/system/identity/print", ".tag=1")  # the stream is registered once this answers
        uid = self.sim.add_row("/ip/hotspot/user", name="n1")
        words, _ = c.sentence()
        self.assertEqual(words[0], "!re")
        self.assertIn("=name=n1", words)
        self.assertEqual(words[-1], ".tag=2")
        self.sim.remove_row("/ip/hotspot/user", uid)
        self.assertEqual(c.sentence()[0], ["!re", f"=.id={uid}", "=.dead=yes", ".tag=2"])
        # other commands keep working while the stream runs
        self.assertEqual(c.call("/system/identity/print", ".tag=3"),
                         [["!re", "=name=MikroTik", ".tag=3"], ["!done", ".tag=3"]])
        c.send("/cancel", "=tag=2", ".tag=4")
        got = [c.sentence()[0] for _ in range(3)]
        self.assertEqual(got, [["!trap", "=category=2", "=message=interrupted", ".tag=2"],
                               ["!done", ".tag=2"], ["!done", ".tag=4"]])
        self.sim.add_row("/ip/hotspot/user", name="n2")  # no more stream output
        self.assertEqual(c.call("/cancel"), [["!done"]])

    def test_print_follow_with_query_and_proplist(self):
        self.sim.add_row("/ppp/secret", name="a", password="x")
        c = self.raw()
        c.send("/ppp/secret/print", "=follow=", "=.proplist=name,disabled", "?disabled=no", ".tag=f")
        self.assertEqual(c.sentence()[0], ["!re", "=name=a", "=disabled=false", ".tag=f"])
        self.sim.add_row("/ppp/secret", name="b", disabled="yes")   # filtered out
        self.sim.add_row("/ppp/secret", name="c")
        self.assertEqual(c.sentence()[0], ["!re", "=name=c", "=disabled=false", ".tag=f"])
        c.send("/cancel")
        self.assertEqual([c.sentence()[0] for _ in range(3)],
                         [["!trap", "=category=2", "=message=interrupted", ".tag=f"],
                          ["!done", ".tag=f"], ["!done"]])
