"""Router driver tests: the real librouteros over TCP to routeros_sim.

Only ``isp_billing.routeros`` is imported (no Tryton); each test starts its
own simulated router on a free port and stops it.
"""
import socket
import time
import unittest

from isp_billing.routeros import (
    NAME_HELD, NAME_TAKEN, Counter, apply_services, DesiredProfile, DesiredUser, RouterConfig,
    RouterConnectionLost, RouterError, RouterLoginRefused, RouterTimeout,
    RouterTrap, RouterUnreachable, accumulate, comment_for, connect,
    open_session, parse_comment, rate_limit, read_counters, reconcile, reconcile_many,
    router_info)
from routeros_sim import RouterSim

PASSWORD = 'S3cret-pw'
PRINTS = {'/ip/hotspot/user/print', '/ip/hotspot/user/profile/print',
    '/ppp/secret/print', '/ppp/profile/print'}


def free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


class SimTestCase(unittest.TestCase):
    version = '7.18'

    def start_sim(self, version=None, **kw):
        kw.setdefault('password', PASSWORD)
        sim = RouterSim(version=version or self.version, **kw).start()
        self.addCleanup(sim.stop)
        return sim

    @staticmethod
    def config(sim, **kw):
        kw.setdefault('password', PASSWORD)
        kw.setdefault('timeout', 5.0)
        # the TLS port is sim.tls_port (not in CONTRACT.md, sim extension)
        port = sim.tls_port if kw.get('tls') else sim.port
        return RouterConfig(host=sim.host, port=port, username='admin', **kw)

    @staticmethod
    def by_name(sim, menu):
        return {row['name']: row for row in sim.rows(menu)}


def plans():
    return [
        DesiredProfile('hotspot', 'isp-basic', rate_limit(10000, 5000), 1),
        DesiredProfile('hotspot', 'isp-pro', rate_limit(50000, 10000), 2),
        DesiredProfile('pppoe', 'isp-basic', rate_limit(10000, 5000)),
        DesiredProfile('pppoe', 'isp-pro', rate_limit(50000, 10000)),
        ]


def hotspot(service_id, name=None, profile='isp-basic', password=None, **kw):
    return DesiredUser(service_id, 'hotspot', name or 'hs%d' % service_id,
        password or 'pw%d' % service_id, profile, **kw)


def pppoe(service_id, name=None, profile='isp-basic', password=None, **kw):
    return DesiredUser(service_id, 'pppoe', name or 'pp%d' % service_id,
        password or 'pw%d' % service_id, profile, **kw)


class PureTest(unittest.TestCase):
    """Helpers that need no router."""

    def test_driver_never_imports_trytond(self):
        import ast
        import pathlib
        import isp_billing.routeros as package
        for path in pathlib.Path(package.__file__).parent.glob('*.py'):
            for node in ast.walk(ast.parse(path.read_text())):
                names = []
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom):
                    names = [node.module or '']
                for name in names:
                    self.assertFalse(name.startswith(('trytond', 'proteus')),
                        '%s imports %s' % (path.name, name))

    def test_rate_limit_is_upload_slash_download(self):
        self.assertEqual(rate_limit(10000, 5000), '5M/10M')
        self.assertEqual(rate_limit(1500, 512), '512k/1500k')
        self.assertEqual(rate_limit(0, 0), '0/0')

    def test_comment_round_trip(self):
        self.assertEqual(comment_for(42), 'isp-billing:42')
        self.assertEqual(parse_comment('isp-billing:42'), 42)
        for other in (None, '', 'isp-billing:', 'isp-billing:x',
                'customer bob', 'isp-billing:4 2'):
            self.assertIsNone(parse_comment(other))

    def test_accumulate(self):
        self.assertEqual(accumulate(None, Counter(10, 20)), (10, 20))
        self.assertEqual(
            accumulate(Counter(10, 20), Counter(15, 50)), (5, 30))
        # reset (reboot): the whole current value is new traffic
        self.assertEqual(accumulate(Counter(100, 200), Counter(7, 9)), (7, 9))
        # new PPPoE session with a bigger counter is still a restart
        self.assertEqual(accumulate(
            Counter(10, 10, session='*1'), Counter(50, 50, session='*2')),
            (50, 50))
        self.assertEqual(accumulate(Counter(1, 1), None), (0, 0))

    def test_config_rejects_unknown_login_method(self):
        with self.assertRaises(ValueError):
            RouterConfig('10.0.0.1', login_method='md5')


class ConnectionTest(SimTestCase):

    def test_info_on_7_18_uses_plain_login(self):
        sim = self.start_sim('7.18', identity='tower-7')
        info = router_info(self.config(sim))
        self.assertEqual(info['identity'], 'tower-7')
        self.assertTrue(info['version'].startswith('7.18'), info)
        for key in ('board', 'uptime', 'cpu_load', 'free_memory',
                'total_memory', 'architecture'):
            self.assertIn(key, info)
        self.assertIsInstance(info['cpu_load'], int)
        self.assertEqual(info['login_method'], 'plain')

    def test_info_on_6_33_auto_completes_challenge(self):
        sim = self.start_sim('6.33', identity='old-tower')
        info = router_info(self.config(sim))
        self.assertEqual(info['identity'], 'old-tower')
        self.assertTrue(info['version'].startswith('6.33'), info)
        self.assertEqual(info['login_method'], 'challenge')
        info = router_info(self.config(sim, login_method='challenge'))
        self.assertEqual(info['identity'], 'old-tower')
        with connect(self.config(sim)) as api:
            self.assertEqual(api.login_method, 'challenge')

    def test_forced_plain_on_6_33_is_a_clear_error(self):
        sim = self.start_sim('6.33')
        with self.assertRaises(RouterLoginRefused) as cm:
            router_info(self.config(sim, login_method='plain'))
        self.assertIn('older than 6.43', str(cm.exception))
        self.assertIn('challenge', str(cm.exception))

    def test_forced_challenge_on_7_18_is_refused(self):
        sim = self.start_sim('7.18')
        with self.assertRaises(RouterLoginRefused) as cm:
            router_info(self.config(sim, login_method='challenge'))
        self.assertIn('"auto" or "plain"', str(cm.exception))

    def test_auto_on_6_45_uses_plain(self):
        sim = self.start_sim('6.45')
        info = router_info(self.config(sim))
        self.assertEqual(info['login_method'], 'plain')

    def test_connect_gives_a_librouteros_api(self):
        sim = self.start_sim('7.18')
        with connect(self.config(sim)) as api:
            rows = list(api.path('system', 'identity'))
        self.assertEqual(rows[0]['name'], 'MikroTik')

    def test_trap_keeps_the_routers_words_and_the_session(self):
        sim = self.start_sim('7.18')
        with open_session(self.config(sim)) as session:
            with self.assertRaises(RouterTrap) as cm:
                session.remove('/ip/hotspot/user', '*FFFF')
            self.assertIn('no such item', cm.exception.router_message)
            self.assertEqual(cm.exception.command, '/ip/hotspot/user/remove')
            # usable after a trap; values stay strings ('123456', 'yes')
            session.add('/ip/hotspot/user',
                {'name': '123456', 'password': 'yes'})
            rows = session.print('/ip/hotspot/user', ('name', 'password'))
        self.assertEqual(rows, [{'name': '123456', 'password': 'yes'}])

    def test_utf8_names_survive(self):
        sim = self.start_sim('7.18')
        config = self.config(sim)
        reconcile(config, [hotspot(1, name='José-ñ', profile='default')], [],
            kinds=('hotspot',))
        self.assertIn('José-ñ', self.by_name(sim, '/ip/hotspot/user'))
        report = reconcile(config,
            [hotspot(1, name='José-ñ', profile='default')], [],
            kinds=('hotspot',))
        self.assertEqual(report.changed, [])

    def test_tls_with_certificate(self):
        sim = self.start_sim('7.18', tls='cert')
        info = router_info(self.config(sim, tls=True))
        self.assertEqual(info['identity'], 'MikroTik')

    def test_tls_anonymous_dh(self):
        sim = self.start_sim('7.18', tls='adh')
        info = router_info(self.config(sim, tls=True))
        self.assertEqual(info['identity'], 'MikroTik')

    def test_tls_verification_rejects_self_signed(self):
        sim = self.start_sim('7.18', tls='cert')
        with self.assertRaises(RouterUnreachable):
            router_info(self.config(sim, tls=True, verify_tls=True))

    def test_wrong_password(self):
        for version, text in (('7.18', 'invalid user name or password'),
                ('6.33', 'cannot log in')):
            sim = self.start_sim(version)
            with self.assertRaises(RouterLoginRefused) as cm:
                router_info(self.config(sim, password='wrong'))
            error = cm.exception
            self.assertIn(text, error.router_message)
            self.assertEqual((error.host, error.port), (sim.host, sim.port))
            self.assertIn('password', str(error))

    def test_refused(self):
        sim = self.start_sim('7.18')
        sim.faults.refuse = True
        with self.assertRaises(RouterUnreachable) as cm:
            router_info(self.config(sim))
        self.assertIn('refused', str(cm.exception))
        with self.assertRaises(RouterUnreachable):
            router_info(RouterConfig('127.0.0.1', free_port(),
                password=PASSWORD))

    def test_unknown_host_name(self):
        with self.assertRaises(RouterUnreachable) as cm:
            router_info(RouterConfig('no-such-router.invalid', timeout=3))
        self.assertIn('resolved', str(cm.exception))

    def test_blackhole_times_out(self):
        sim = self.start_sim('7.18')
        sim.faults.blackhole = True
        start = time.monotonic()
        with self.assertRaises(RouterTimeout) as cm:
            router_info(self.config(sim, timeout=0.5))
        self.assertLess(time.monotonic() - start, 4)
        self.assertEqual(cm.exception.timeout, 0.5)


class ReconcileTest(SimTestCase):

    def setUp(self):
        self.sim = self.start_sim()
        self.router = self.config(self.sim)

    def sync(self, users, profiles=None, **kw):
        return reconcile(self.router, users,
            plans() if profiles is None else profiles, **kw)

    def hs(self):
        return self.by_name(self.sim, '/ip/hotspot/user')

    def ppp(self):
        return self.by_name(self.sim, '/ppp/secret')

    def test_create(self):
        report = self.sync([hotspot(1), hotspot(2, profile='isp-pro'),
            pppoe(3)])
        self.assertTrue(report.ok, report.failed)
        self.assertEqual(sorted(report.added), [1, 2, 3])
        self.assertEqual(sorted(report.profiles_added),
            ['isp-basic', 'isp-basic', 'isp-pro', 'isp-pro'])
        user = self.hs()['hs2']
        self.assertEqual(user['comment'], 'isp-billing:2')
        self.assertEqual(user['profile'], 'isp-pro')
        self.assertEqual(user['password'], 'pw2')
        self.assertEqual(user['disabled'], 'false')
        profile = self.by_name(self.sim, '/ip/hotspot/user/profile')
        self.assertEqual(profile['isp-pro']['rate-limit'], '10M/50M')
        self.assertEqual(profile['isp-pro']['shared-users'], '2')
        secret = self.ppp()['pp3']
        self.assertEqual(secret['comment'], 'isp-billing:3')
        self.assertEqual(secret['service'], 'pppoe')
        ppp_profile = self.by_name(self.sim, '/ppp/profile')
        self.assertEqual(ppp_profile['isp-basic']['rate-limit'], '5M/10M')
        # converged: nothing more to do
        again = self.sync([hotspot(1), hotspot(2, profile='isp-pro'),
            pppoe(3)])
        self.assertEqual((again.added, again.changed, again.removed,
            again.profiles_added, again.profiles_changed),
            ([], [], [], [], []))

    def test_plan_change_sets_profile_and_kicks(self):
        self.sync([hotspot(1), hotspot(2), pppoe(3)])
        self.sim.login('hs1', kind='hotspot')
        self.sim.login('hs2', kind='hotspot')
        self.sim.login('pp3', kind='ppp')
        report = self.sync([hotspot(1, profile='isp-pro'), hotspot(2),
            pppoe(3, profile='isp-pro')])
        self.assertTrue(report.ok, report.failed)
        self.assertEqual(sorted(report.changed), [1, 3])
        self.assertEqual(sorted(report.kicked), [1, 3])
        self.assertEqual(self.hs()['hs1']['profile'], 'isp-pro')
        self.assertEqual(self.ppp()['pp3']['profile'], 'isp-pro')
        online = [row['user'] for row in self.sim.rows('/ip/hotspot/active')]
        self.assertEqual(online, ['hs2'])
        self.assertEqual(self.sim.rows('/ppp/active'), [])

    def test_plan_rate_change_is_a_profile_set(self):
        self.sync([hotspot(1)])
        faster = [DesiredProfile('hotspot', 'isp-basic',
            rate_limit(20000, 5000), 1)]
        report = self.sync([hotspot(1)], faster, kinds=('hotspot',))
        self.assertEqual(report.profiles_changed, ['isp-basic'])
        self.assertEqual(report.changed, [])
        profile = self.by_name(self.sim, '/ip/hotspot/user/profile')
        self.assertEqual(profile['isp-basic']['rate-limit'], '5M/20M')

    def test_disable_kicks_then_enable(self):
        self.sync([hotspot(1), pppoe(2)])
        self.sim.login('hs1', kind='hotspot')
        self.sim.login('pp2', kind='ppp')
        report = self.sync([hotspot(1, disabled=True),
            pppoe(2, disabled=True)])
        self.assertEqual(sorted(report.changed), [1, 2])
        self.assertEqual(sorted(report.kicked), [1, 2])
        self.assertEqual(self.hs()['hs1']['disabled'], 'true')
        self.assertEqual(self.ppp()['pp2']['disabled'], 'true')
        self.assertEqual(self.sim.rows('/ip/hotspot/active'), [])
        self.assertEqual(self.sim.rows('/ppp/active'), [])
        report = self.sync([hotspot(1), pppoe(2)])
        self.assertEqual(sorted(report.changed), [1, 2])
        self.assertEqual(report.kicked, [])
        self.assertEqual(self.hs()['hs1']['disabled'], 'false')
        self.sim.login('hs1', kind='hotspot')

    def test_removal_of_owned_entry(self):
        self.sync([hotspot(1), hotspot(2), pppoe(3)])
        self.sim.login('hs2', kind='hotspot')
        report = self.sync([hotspot(1)])
        self.assertEqual(sorted(report.removed), [2, 3])
        # the sim ends the session with the user; a router that keeps it
        # gets it kicked
        self.assertIn(report.kicked, ([], [2]))
        self.assertEqual(self.sim.rows('/ip/hotspot/active'), [])
        self.assertEqual(set(self.hs()), {'hs1'})
        self.assertEqual(self.ppp(), {})
        # profiles are never removed
        self.assertIn('isp-basic', self.by_name(self.sim, '/ppp/profile'))

    def test_unowned_entries_untouched(self):
        manual = self.sim.add_row('/ip/hotspot/user', name='hs1',
            password='theirs', profile='default', comment='staff laptop')
        other = self.sim.add_row('/ip/hotspot/user', name='guest',
            password='x', comment='isp-billing:not-a-number')
        self.sim.add_row('/ppp/secret', name='pp9', password='keep')
        before = {row['.id']: row for row in self.sim.rows(
            '/ip/hotspot/user')}
        report = self.sync([hotspot(1), hotspot(2), pppoe(3)])
        self.assertIn((1, NAME_TAKEN), report.failed)
        self.assertEqual(sorted(report.added), [2, 3])
        after = {row['.id']: row for row in self.sim.rows(
            '/ip/hotspot/user')}
        self.assertEqual(after[manual], before[manual])
        self.assertEqual(after[other], before[other])
        self.assertEqual(self.ppp()['pp9']['password'], 'keep')
        # a rename onto an unmanaged name is refused too
        report = self.sync([hotspot(2, name='guest'), pppoe(3)])
        self.assertIn((2, NAME_TAKEN), report.failed)
        self.assertIn('hs2', self.hs())

    def test_drift_repaired(self):
        self.sync([hotspot(1, disabled=True), pppoe(2)])
        row = self.hs()['hs1']
        self.sim.set_row('/ip/hotspot/user', row['.id'], disabled='false',
            profile='isp-pro')
        self.sim.set_row('/ppp/secret', self.ppp()['pp2']['.id'],
            password='guessed')
        self.sim.login('hs1', kind='hotspot')
        report = self.sync([hotspot(1, disabled=True), pppoe(2)])
        self.assertEqual(sorted(report.changed), [1, 2])
        self.assertEqual(report.kicked, [1])
        self.assertEqual(self.hs()['hs1']['disabled'], 'true')
        self.assertEqual(self.hs()['hs1']['profile'], 'isp-basic')
        self.assertEqual(self.ppp()['pp2']['password'], 'pw2')

    def test_timeout_mid_sync(self):
        self.sync([hotspot(1)])
        with connect(self.config(self.sim, timeout=0.3)) as api:
            self.sim.faults.latency = 1.0
            with self.assertRaises(RouterTimeout) as cm:
                reconcile(api, [hotspot(1), hotspot(2)], plans())
        self.sim.faults.clear()
        error = cm.exception
        self.assertEqual((error.host, error.port), (self.sim.host,
            self.sim.port))
        self.assertEqual(error.command, '/ip/hotspot/user/print')
        self.assertIsNotNone(error.report)
        self.assertEqual(self.sync([hotspot(1), hotspot(2)]).added, [2])

    def test_router_spelling_is_not_drift(self):
        self.sync([hotspot(1, mac_address='aa:bb:cc:dd:ee:01')])
        profile = self.by_name(self.sim, '/ip/hotspot/user/profile')
        self.sim.set_row('/ip/hotspot/user/profile',
            profile['isp-basic']['.id'], **{'rate-limit': '5000k/10000k'})
        report = self.sync([hotspot(1, mac_address='aa:bb:cc:dd:ee:01')])
        self.assertEqual((report.changed, report.profiles_changed), ([], []))
        self.assertEqual(self.hs()['hs1']['mac-address'], 'AA:BB:CC:DD:EE:01')

    def test_no_connection_left_open(self):
        self.sync([hotspot(1)])
        with self.assertRaises(RouterLoginRefused):
            reconcile(self.config(self.sim, password='bad'), [hotspot(1)], [])
        self.sim.faults.trap_every = 2
        self.sync([hotspot(1), hotspot(2), hotspot(3)])
        self.sim.faults.clear()
        self.sim.faults.drop_after = 3
        with self.assertRaises(RouterConnectionLost):
            self.sync([hotspot(1)])
        self.sim.faults.clear()
        deadline = time.monotonic() + 3
        while self.sim.connections and time.monotonic() < deadline:
            time.sleep(0.02)
        self.assertEqual(self.sim.connections, 0)

    def test_sweep_heals_a_lost_kick(self):
        self.sync([hotspot(1, disabled=True), hotspot(2)])
        # a session the last sync could not kick (connection dropped)
        self.sim.set_row('/ip/hotspot/user', 'hs1', disabled='false')
        self.sim.login('hs1', kind='hotspot')
        self.sim.login('hs2', kind='hotspot')
        self.sim.set_row('/ip/hotspot/user', 'hs1', disabled='true')
        plain = self.sync([hotspot(1, disabled=True), hotspot(2)])
        self.assertEqual(plain.kicked, [])
        swept = self.sync([hotspot(1, disabled=True), hotspot(2)],
            sweep_sessions=True)
        self.assertEqual(swept.kicked, [1])
        # the prints, one print of the hotspot active menu, one kick
        self.assertEqual(swept.commands, 4 + 1 + 1)
        online = [row['user'] for row in self.sim.rows('/ip/hotspot/active')]
        self.assertEqual(online, ['hs2'])

    def test_login_rename(self):
        self.sync([hotspot(1), pppoe(2)])
        ids = (self.hs()['hs1']['.id'], self.ppp()['pp2']['.id'])
        report = self.sync([hotspot(1, name='alice'), pppoe(2, name='bob')])
        self.assertEqual(sorted(report.changed), [1, 2])
        self.assertEqual(report.added, [])
        self.assertEqual(report.removed, [])
        self.assertEqual((self.hs()['alice']['.id'],
            self.ppp()['bob']['.id']), ids)

    def test_trap_on_one_command(self):
        users = [hotspot(i) for i in range(1, 11)]
        self.sync([hotspot(1)])
        self.sim.faults.trap_every = 4
        report = self.sync(users)
        self.assertTrue(report.failed)
        self.assertTrue(report.added)
        for key, reason in report.failed:
            self.assertTrue(reason)
        failed_users = [k for k, _ in report.failed if isinstance(k, int)]
        self.assertEqual(
            len(report.added) + len(failed_users), 9, report.failed)
        self.sim.faults.clear()
        report = self.sync(users)
        self.assertTrue(report.ok, report.failed)
        self.assertEqual(set(self.hs()), {'hs%d' % i for i in range(1, 11)})

    def test_drop_mid_sync(self):
        users = [hotspot(i) for i in range(1, 21)]
        self.sync(users[:2])
        # 20 reply sentences: the prints (2 users, 1+2 profiles + !done
        # each) fit, the connection dies among the adds
        self.sim.faults.drop_after = 20
        with self.assertRaises(RouterError) as cm:
            self.sync(users)
        error = cm.exception
        self.assertIsInstance(error, (RouterConnectionLost, RouterTimeout))
        self.assertIsNotNone(error.report)
        self.assertTrue(error.report.added)
        self.assertLess(len(error.report.added), 18)
        self.sim.faults.clear()
        report = self.sync(users)
        self.assertTrue(report.ok, report.failed)
        self.assertEqual(len(self.hs()), 20)
        self.assertEqual(
            sorted(error.report.added + report.added), list(range(3, 21)))

    def test_commands_are_o_changes(self):
        n = 300
        users = [hotspot(i) for i in range(1, n + 1)] + [
            pppoe(i) for i in range(n + 1, n + 51)]
        self.sync(users)
        self.sim.reset_commands()
        report = self.sync(users)
        self.assertEqual(sorted(self.sim.commands), sorted(PRINTS))
        self.assertEqual(report.commands, 4)
        # K changes that kick nobody: prints + K commands
        users[5] = hotspot(6, name='renamed')
        users[7] = hotspot(8, password='new')
        users.append(hotspot(9999))
        users.append(pppoe(9998))
        self.sim.reset_commands()
        report = self.sync(users)
        commands = [c for c in self.sim.commands if c not in PRINTS]
        self.assertEqual(sorted(commands), [
            '/ip/hotspot/user/add', '/ip/hotspot/user/set',
            '/ip/hotspot/user/set', '/ppp/secret/add'])
        self.assertEqual(report.commands, 4 + 4)
        # changes that may need a kick add one print of the active menu
        users[0] = hotspot(1, profile='isp-pro')
        users[1] = hotspot(2, disabled=True)
        del users[10]
        self.sim.login('hs1', kind='hotspot')
        self.sim.reset_commands()
        report = self.sync(users)
        commands = [c for c in self.sim.commands if c not in PRINTS]
        self.assertEqual(sorted(commands), [
            '/ip/hotspot/active/print', '/ip/hotspot/active/remove',
            '/ip/hotspot/user/remove', '/ip/hotspot/user/set',
            '/ip/hotspot/user/set'])
        self.assertEqual(report.kicked, [1])
        self.assertEqual(report.commands, 4 + 5)

    def test_state_is_read_in_one_round_trip(self):
        "Every menu's print is sent before any answer is read"
        users = [hotspot(1), pppoe(2)]
        self.sync(users)
        self.sim.reset_commands()
        report = self.sync(users)
        self.assertTrue(report.ok, report.failed)
        self.assertEqual(self.sim.round_trips, [[
                    '/ip/hotspot/user/print', '/ip/hotspot/user/profile/print',
                    '/ppp/secret/print', '/ppp/profile/print']])
        # a change costs its own round trip after the read
        self.sim.reset_commands()
        self.sync([hotspot(1, password='new'), pppoe(2)])
        self.assertEqual(self.sim.round_trips[1:], [
                ['/ip/hotspot/user/set']])

    def test_pipelined_prints_keep_their_own_answers(self):
        self.sync([hotspot(1), hotspot(2), pppoe(3)])
        with open_session(self.router) as session:
            self.sim.faults.trap_every = 2  # the 2nd print traps
            answers = session.print_many([
                    ('/ip/hotspot/user', ('name',), ()),
                    ('/ip/hotspot/user/profile', ('name',), ()),
                    ('/ppp/secret', ('name',), ('?name=pp3',))])
            self.sim.faults.clear()
            self.assertEqual(session.commands, 3)
            self.assertEqual(sorted(r['name'] for r in answers[0]),
                ['hs1', 'hs2'])
            self.assertIsInstance(answers[1], RouterTrap)
            self.assertEqual(answers[1].command,
                '/ip/hotspot/user/profile/print')
            self.assertEqual(answers[2], [{'name': 'pp3'}])
            # the session goes on after a trapped print
            self.assertEqual(len(session.print('/ppp/secret')), 1)

    def test_pipelined_prints_on_a_dropped_connection(self):
        self.sync([hotspot(i) for i in range(1, 6)])
        with open_session(self.router) as session:
            self.sim.faults.drop_after = 2  # two rows, then the link drops
            with self.assertRaises(RouterConnectionLost):
                session.print_many([
                        ('/ip/hotspot/user', ('name',), ()),
                        ('/ppp/secret', ('name',), ())])
        self.sim.faults.clear()
        self.assertTrue(self.sync([hotspot(i) for i in range(1, 6)]).ok)

    def test_only_menus_of_managed_kinds_are_read(self):
        self.sim.reset_commands()
        report = reconcile(self.router, [hotspot(1, profile='default')], [],
            kinds=('hotspot',))
        self.assertTrue(report.ok)
        self.assertEqual(
            [c for c in self.sim.commands if c.endswith('/print')],
            ['/ip/hotspot/user/print'])

    def test_reconcile_on_an_open_api(self):
        with connect(self.router) as api:
            report = reconcile(api, [hotspot(1)], plans())
            again = reconcile(api, [hotspot(1)], plans())
        self.assertEqual(report.added, [1])
        self.assertEqual(again.commands, 4)


class TargetedTest(SimTestCase):
    """apply_services: only the given services' entries, O(ids) commands"""

    def setUp(self):
        self.sim = self.start_sim()
        self.router = self.config(self.sim)

    def apply(self, ids, users, profiles=None, **kw):
        return apply_services(self.router, ids, users,
            plans() if profiles is None else profiles, **kw)

    def hs(self):
        return self.by_name(self.sim, '/ip/hotspot/user')

    def ppp(self):
        return self.by_name(self.sim, '/ppp/secret')

    def commands_of_a_payment(self, size):
        """Commands a targeted sync sends on a router holding ``size``
        hotspot entries (+ 10% PPPoE): re-enable one, add one, kick one"""
        sim = self.start_sim()
        config = self.config(sim)
        users = [hotspot(i, disabled=(i == 5)) for i in range(1, size + 1)]
        users += [pppoe(i) for i in range(size + 1, size + size // 10 + 1)]
        report = reconcile(config, users, plans())
        self.assertTrue(report.ok, report.failed[:3])
        self.assertEqual(len(sim.rows('/ip/hotspot/user')), size)
        sim.login('hs7', kind='hotspot')
        result, self.round_trips = [], []
        for ids, desired in (
                ([5], [hotspot(5)]),                     # paid: enable
                ([size * 2], [hotspot(size * 2)]),       # new service
                ([7], [hotspot(7, disabled=True)]),      # expired: kick
                ):
            sim.reset_commands()
            report = apply_services(config, ids, desired, plans())
            self.assertTrue(report.ok, report.failed)
            self.assertEqual(report.commands, len(sim.commands))
            result.append(sim.commands)
            self.round_trips.append(sim.round_trips)
        rows = self.by_name(sim, '/ip/hotspot/user')
        self.assertEqual(rows['hs5']['disabled'], 'false')
        self.assertEqual(rows['hs7']['disabled'], 'true')
        self.assertEqual(rows['hs%d' % (size * 2)]['comment'],
            'isp-billing:%d' % (size * 2))
        self.assertEqual(sim.rows('/ip/hotspot/active'), [])
        self.assertEqual(len(rows), size + 1)
        return result

    def test_commands_do_not_grow_with_the_router(self):
        small = self.commands_of_a_payment(10)
        large = self.commands_of_a_payment(2000)
        self.assertEqual(small, large)
        reads = ['/ip/hotspot/user/print', '/ppp/secret/print',
            '/ip/hotspot/user/profile/print']
        enable, add, kick = large
        self.assertEqual(sorted(enable),
            sorted(reads + ['/ip/hotspot/user/set']))
        self.assertEqual(sorted(add),
            sorted(reads + ['/ip/hotspot/user/add']))
        self.assertEqual(sorted(kick), sorted(reads + [
            '/ip/hotspot/user/set', '/ip/hotspot/active/print',
            '/ip/hotspot/active/remove']))
        # the reads go in one round trip, then one per change
        enable, add, kick = self.round_trips
        self.assertEqual(enable, [['/ip/hotspot/user/print',
                    '/ip/hotspot/user/profile/print', '/ppp/secret/print'],
                ['/ip/hotspot/user/set']])
        self.assertEqual(len(kick), 4)

    def test_only_the_given_entries_change(self):
        reconcile(self.router, [hotspot(1), hotspot(2), pppoe(3),
            hotspot(4)], plans())
        manual = self.sim.add_row('/ip/hotspot/user', name='walkin',
            password='x', comment='front desk')
        before = self.hs()
        # 1 renamed and moved to the pro plan, 2 gone (cancelled), 3 from
        # PPPoE to hotspot; 4 is not part of this sync and keeps its drift
        self.sim.set_row('/ip/hotspot/user', before['hs4']['.id'],
            password='drifted')
        self.sim.login('hs1', kind='hotspot')
        report = self.apply([1, 2, 3], [
            hotspot(1, name='alice', profile='isp-pro'),
            hotspot(3, name='carol')])
        self.assertTrue(report.ok, report.failed)
        self.assertEqual(report.changed, [1])
        self.assertEqual(sorted(report.removed), [2, 3])
        self.assertEqual(report.added, [3])
        self.assertEqual(report.kicked, [1])
        after = self.hs()
        self.assertEqual(set(after), {'alice', 'carol', 'hs4', 'walkin'})
        self.assertEqual(after['alice']['.id'], before['hs1']['.id'])
        self.assertEqual(after['alice']['profile'], 'isp-pro')
        self.assertEqual(after['carol']['comment'], 'isp-billing:3')
        self.assertEqual(after['hs4']['password'], 'drifted')
        self.assertEqual(after['walkin'], before['walkin'])
        self.assertEqual(self.ppp(), {})
        self.assertEqual(self.sim.rows('/ip/hotspot/active'), [])
        # converged: the same call changes nothing
        again = self.apply([1, 2, 3], [
            hotspot(1, name='alice', profile='isp-pro'),
            hotspot(3, name='carol')])
        self.assertEqual((again.added, again.changed, again.removed),
            ([], [], []))

    def test_taken_names_are_refused(self):
        reconcile(self.router, [hotspot(1), hotspot(2)], plans())
        self.sim.add_row('/ip/hotspot/user', name='guest', password='x')
        report = self.apply([1, 9], [hotspot(1, name='hs2'),
            hotspot(9, name='guest')])
        self.assertEqual(sorted(report.failed), [
            (1, NAME_HELD % ('hs2', 2)), (9, NAME_TAKEN)])
        self.assertEqual(set(self.hs()), {'hs1', 'hs2', 'guest'})
        self.assertEqual(self.hs()['hs2']['comment'], 'isp-billing:2')

    def test_profile_ensured_with_its_rate(self):
        reconcile(self.router, [hotspot(1)], plans()[:1],
            kinds=('hotspot',))
        slow = self.by_name(self.sim, '/ip/hotspot/user/profile')
        self.sim.set_row('/ip/hotspot/user/profile',
            slow['isp-basic']['.id'], **{'rate-limit': '1M/1M'})
        report = self.apply([1, 2], [hotspot(1), hotspot(2, profile='isp-pro')],
            kinds=('hotspot',))
        self.assertTrue(report.ok, report.failed)
        self.assertEqual(report.profiles_changed, ['isp-basic'])
        self.assertEqual(report.profiles_added, ['isp-pro'])
        profiles = self.by_name(self.sim, '/ip/hotspot/user/profile')
        self.assertEqual(profiles['isp-basic']['rate-limit'], '5M/10M')
        self.assertEqual(profiles['isp-pro']['rate-limit'], '10M/50M')
        self.assertEqual(self.hs()['hs2']['profile'], 'isp-pro')

    def test_many_ids_are_read_in_bounded_prints(self):
        from isp_billing.routeros.targeted import MAX_QUERY_TERMS
        users = [hotspot(i) for i in range(1, 121)]
        reconcile(self.router, users, plans(), kinds=('hotspot',))
        changed = [hotspot(i, password='new%d' % i) for i in range(1, 121)]
        self.sim.reset_commands()
        report = self.apply(range(1, 121), changed, kinds=('hotspot',))
        self.assertTrue(report.ok, report.failed)
        self.assertEqual(len(report.changed), 120)
        terms = 120 * 2     # a comment and a name per service
        prints = -(-terms // MAX_QUERY_TERMS)
        self.assertEqual(self.sim.commands.count('/ip/hotspot/user/print'),
            prints)
        self.assertEqual(self.hs()['hs120']['password'], 'new120')

    def test_failures(self):
        reconcile(self.router, [hotspot(1), hotspot(2)], plans())
        # print users, print profiles, set 1, set 2: the 4th traps
        self.sim.faults.trap_every = 4
        report = self.apply([1, 2], [hotspot(1, password='a1'),
            hotspot(2, password='a2')], kinds=('hotspot',))
        self.assertEqual([key for key, _ in report.failed], [2])
        self.assertEqual(report.changed, [1])
        self.sim.faults.clear()
        self.sim.faults.refuse = True
        with self.assertRaises(RouterUnreachable) as cm:
            self.apply([1], [hotspot(1, password='b1')])
        self.assertIsNotNone(cm.exception.report)
        self.sim.faults.clear()
        self.sim.faults.drop_after = 2
        with self.assertRaises(RouterConnectionLost) as cm:
            self.apply([1], [hotspot(1, password='b1')])
        self.assertEqual(cm.exception.report.changed, [])
        self.sim.faults.clear()
        report = self.apply([1], [hotspot(1, password='b1')])
        self.assertEqual(report.changed, [1])
        self.assertEqual(self.hs()['hs1']['password'], 'b1')


class OldRouterTest(SimTestCase):
    version = '6.33'

    def test_reconcile_on_6_33(self):
        sim = self.start_sim()
        report = reconcile(self.config(sim), [hotspot(1), pppoe(2)], plans())
        self.assertTrue(report.ok, report.failed)
        self.assertEqual(sorted(report.added), [1, 2])


class UsageTest(SimTestCase):

    def test_counters_across_reboot(self):
        sim = self.start_sim()
        config = self.config(sim)
        reconcile(config, [hotspot(1), hotspot(2)], plans())
        sim.login('hs1', kind='hotspot')
        sim.add_traffic('hs1', bytes_in=1000, bytes_out=5000, kind='hotspot')
        sim.logout('hs1', kind='hotspot')
        first = read_counters(config, ('hotspot',))
        self.assertEqual(first[1], Counter(1000, 5000))
        self.assertEqual(first[2], Counter(0, 0))
        total = list(accumulate(None, first[1]))
        sim.reboot()
        sim.login('hs1', kind='hotspot')
        sim.add_traffic('hs1', bytes_in=300, bytes_out=700, kind='hotspot')
        sim.logout('hs1', kind='hotspot')
        second = read_counters(config, ('hotspot',))
        self.assertEqual(second[1], Counter(300, 700))
        delta = accumulate(first[1], second[1])
        self.assertEqual(delta, (300, 700))
        total = [a + b for a, b in zip(total, delta)]
        self.assertEqual(total, [1300, 5700])

    def test_pppoe_counters_from_interface(self):
        sim = self.start_sim()
        config = self.config(sim)
        reconcile(config, [pppoe(1), pppoe(2)], plans())
        sim.login('pp1', kind='ppp')
        sim.add_traffic('pp1', bytes_in=400, bytes_out=9000, kind='ppp')
        counters = read_counters(config, ('pppoe',))
        self.assertEqual(counters[1].bytes_in, 400)
        self.assertEqual(counters[1].bytes_out, 9000)
        self.assertNotIn(2, counters)   # offline: no interface


class FleetTest(SimTestCase):

    def test_failures_are_isolated(self):
        good = [self.start_sim() for _ in range(3)]
        bad = self.start_sim()
        bad.faults.refuse = True
        jobs = [(self.config(sim), [hotspot(1), pppoe(2)], plans())
            for sim in good]
        jobs.insert(1, (self.config(bad), [hotspot(1)], plans()))
        results = reconcile_many(jobs, max_workers=2)
        self.assertEqual(len(results), 4)
        self.assertIsInstance(results[1].error, RouterUnreachable)
        self.assertFalse(results[1].ok)
        for result in results[:1] + results[2:]:
            self.assertTrue(result.ok, result.error)
            self.assertEqual(sorted(result.report.added), [1, 2])
        for sim in good:
            self.assertIn('hs1', self.by_name(sim, '/ip/hotspot/user'))


if __name__ == '__main__':
    unittest.main()
