"""What the browser tests share: one trytond with the demo database and
the demo's routers as simulators, all on free loopback ports, started once
per test process and stopped at exit; a chromium page per test, with helpers
to log in, open menus and tabs, read and fill form fields, and call the
server over JSON-RPC as sao does.

Subclass BrowserTestCase in a tests/browser_*.py module: scripts/test.sh
runs every such module in one process, so they share the server.
"""
import atexit
import base64
import json
import os
import shutil
import subprocess
import sys
import time
import unittest
import urllib.request

from routeros_sim import RouterSim

from .server_tools import ROOT, VAR, free_port, module_hash

SAO = os.path.join(VAR, 'sao', 'package')
CHROMIUM = '/usr/bin/chromium'
SHOTS = os.path.join(VAR, 'test', 'screenshots')
BIN = os.path.dirname(sys.executable)
#: the demo routers (isp_billing/demo.py ROUTERS order): name, RouterOS
ROUTERS = [('north', '7.18'), ('south', '6.33')]
HOTSPOT_USER = '/ip/hotspot/user'




def start_smtp_sink(mails):
    "An SMTP server on a free port that appends each message to mails"
    import email
    import email.policy
    from aiosmtpd.controller import Controller

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            mails.append(email.message_from_bytes(
                    envelope.content, policy=email.policy.default))
            return '250 OK'
    controller = Controller(Handler(), hostname='127.0.0.1', port=free_port())
    controller.start()
    return controller


class BrowserTestCase(unittest.TestCase):
    "A chromium page on the shared demo server (self.url, self.sims)"
    _started = False

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        base = BrowserTestCase
        if not base._started:
            base.start_server()
            base._started = True
            atexit.register(base.stop_server)

    @classmethod
    def start_server(cls):
        if not os.path.exists(CHROMIUM):
            raise unittest.SkipTest(
                'Debian chromium is missing (make test installs it)')
        if not os.path.exists(os.path.join(SAO, 'index.html')):
            raise AssertionError('sao is not installed (run make sao)')
        cls.workdir = os.path.join(VAR, 'test', 'browser')
        shutil.rmtree(cls.workdir, ignore_errors=True)
        os.makedirs(cls.workdir)
        os.makedirs(SHOTS, exist_ok=True)
        cls.port = free_port()
        # mails of the server (portal invitations, replies to requests) go
        # to this sink: cls.mails, the messages received
        cls.mails = []
        cls.smtp = start_smtp_sink(cls.mails)
        cls.config = os.path.join(cls.workdir, 'trytond.conf')
        with open(cls.config, 'w') as f:
            f.write(f'[database]\nuri = sqlite://\npath = {cls.workdir}\n'
                f'[web]\nlisten = 127.0.0.1:{cls.port}\nroot = {SAO}\n'
                f'reset_password_url = http://127.0.0.1:{cls.port}'
                '/demo/isp_billing/portal/reset\n'
                f'[email]\nuri = smtp://127.0.0.1:{cls.smtp.port}\n')
        cls.cache = os.path.join(VAR, 'cache', f'browser-{module_hash()}')
        try:
            cls.prepare_database()
        except BaseException:
            cls.stop_server()
            raise
        env = dict(os.environ)
        for key in ['TRYTOND_DATABASE_URI', 'DB_NAME', 'DB_CACHE']:
            env.pop(key, None)
        cls.log = open(os.path.join(cls.workdir, 'trytond.log'), 'w')
        cls.server = subprocess.Popen(
            [os.path.join(BIN, 'trytond'), '-c', cls.config, '-d', 'demo'],
            stdout=cls.log, stderr=subprocess.STDOUT, env=env)
        cls.url = f'http://127.0.0.1:{cls.port}/'
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(cls.url, timeout=1)
                break
            except OSError:
                if cls.server.poll() is not None or (
                        time.monotonic() > deadline):
                    cls.stop_server()
                    raise AssertionError('trytond did not start')
                time.sleep(0.3)

    @classmethod
    def prepare_database(cls):
        """Database with the demo, and the routers' state, cached on the
        module's content; the demo routers are moved to this run's
        simulators (free ports) by the demo loader itself"""
        target = os.path.join(cls.workdir, 'demo.sqlite')
        files = [(cls.cache + '.sqlite', target)] + [
            (f'{cls.cache}-{name}.json',
                os.path.join(cls.workdir, f'sim-{name}.json'))
            for name, _ in ROUTERS]
        cached = all(os.path.exists(c) for c, _ in files)
        if cached:
            for cache, copy in files:
                shutil.copy(cache, copy)
        cls.sims = []
        for (name, version), (_, state) in zip(ROUTERS, files[1:]):
            cls.sims.append(RouterSim(version=version, username='admin',
                    password='demo-router', identity=f'Tower {name}',
                    state_file=state).start())
        env = {k: v for k, v in os.environ.items()
            if k not in {'TRYTOND_DATABASE_URI', 'DB_NAME', 'DB_CACHE'}}
        if not cached:
            subprocess.run([sys.executable,
                    os.path.join(ROOT, 'scripts', 'initdb.py'),
                    '--config', cls.config, '--database', 'demo',
                    '--admin-password', 'admin-isp-demo'],
                check=True, env=env, cwd=ROOT)
        subprocess.run([sys.executable, '-m', 'isp_billing.demo',
                '--config', cls.config, '--database', 'demo',
                '--router-ports', ','.join(str(s.port) for s in cls.sims)],
            check=True, env=env, cwd=ROOT)
        if not cached:
            for sim in cls.sims:
                sim.save()
            os.makedirs(os.path.dirname(cls.cache), exist_ok=True)
            for cache, copy in files:
                shutil.copy(copy, cache + '.tmp')
                os.replace(cache + '.tmp', cache)

    @classmethod
    def stop_server(cls):
        server = getattr(cls, 'server', None)
        if server and server.poll() is None:
            server.terminate()
            try:
                server.wait(10)
            except subprocess.TimeoutExpired:
                server.kill()
        if getattr(cls, 'log', None):
            cls.log.close()
        for sim in getattr(cls, 'sims', []):
            sim.stop()
        if getattr(cls, 'smtp', None):
            cls.smtp.stop()

    def setUp(self):
        from playwright.sync_api import sync_playwright
        self.playwright = sync_playwright().start()
        self.addCleanup(self.playwright.stop)
        self.browser = self.playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=['--no-sandbox', '--disable-gpu',
                '--disable-background-networking',
                '--disable-component-update', '--no-first-run'])
        self.addCleanup(self.browser.close)
        self.page = self.browser.new_page(
            viewport={'width': 1400, 'height': 900})
        self.page.set_default_timeout(20000)
        # count the client's pending requests (see wait_idle)
        self.page.add_init_script("""
            window.__pending = 0;
            const send = XMLHttpRequest.prototype.send;
            XMLHttpRequest.prototype.send = function(...args) {
                window.__pending += 1;
                this.addEventListener('loadend',
                    () => { window.__pending -= 1; });
                return send.apply(this, args);
            };""")
        # a JavaScript error in sao (e.g. a column type it cannot show)
        # leaves the client "Processing" forever: collect and fail on them
        self.page_errors = []
        self.page.on('pageerror', lambda e: self.page_errors.append(str(e)))
        self.addCleanup(self.check_page_errors)

    def check_page_errors(self):
        self.assertEqual(self.page_errors, [])

    def login(self, login, password):
        page = self.page
        page.goto(self.url)
        database = page.locator('#database:visible')
        database.wait_for()
        if database.evaluate('e => e.tagName') == 'SELECT':
            database.select_option('demo')
        elif database.get_attribute('readonly') is None:
            database.fill('demo')
        else:  # the server offers this one database
            self.assertEqual(database.input_value(), 'demo')
        page.locator('#login').fill(login)
        page.locator('.login-dialog button.btn-primary').click()
        page.locator('input[type=password]:visible').fill(password)
        page.locator('input[type=password]:visible').press('Enter')

    def open_menu(self, *names):
        for name in names:
            self.page.locator('#menu').get_by_text(
                name, exact=True).first.click()

    def wait_active_tab(self, title, filter_tab=None):
        """Wait until the tab named title is the active one and its list has
        rows: until then, the previous tab's rows are still on the page.
        filter_tab: the list's filter tab to show first (e.g. 'All')."""
        from playwright.sync_api import TimeoutError
        try:
            # (a long title is there twice: for wide and narrow screens)
            self.page.locator('#tablist li.active').get_by_text(
                title, exact=True).first.wait_for(state='attached')
            if filter_tab:
                self.page.locator('.tab-pane.active .nav-tabs').get_by_text(
                    filter_tab, exact=False).first.click()
            rows = self.page.locator(
                '.tab-pane.active table tbody tr:visible')
            rows.first.wait_for()
        except TimeoutError:
            # say what blocks the client (e.g. an error dialog)
            shot = self.screenshot(
                'timeout_%s.png' % title.lower().replace(' ', '_'))
            dialogs = self.page.locator('.modal-dialog:visible')
            self.fail('%s: no rows; dialogs: %r; see %s' % (title,
                    dialogs.all_inner_texts() if dialogs.count() else [],
                    shot))
        return rows

    def wait_idle(self):
        "Wait until sao has no request pending (e.g. the record's read)"
        self.page.wait_for_timeout(100)
        self.page.wait_for_function('() => window.__pending === 0')

    def screenshot(self, name):
        path = os.path.join(SHOTS, name)
        self.page.screenshot(path=path, full_page=True)
        return path

    def has_field(self, label, scope='.tab-pane.active'):
        return self.page.evaluate(
            """([scope, label]) => Array.from(document.querySelectorAll(
                scope + ' label[for]')).some(l => l.offsetParent !== null
                && l.textContent.trim().replace(/:$/, '') === label)""",
            [scope, label])

    def field(self, label, scope='.tab-pane.active'):
        """The input of the field labelled label in scope (sao generates
        the ids; form labels point at their widget with for=)"""
        widget_id = self.page.evaluate(
            """([scope, label]) => {
                for (const l of document.querySelectorAll(
                        scope + ' label[for]')) {
                    if (l.offsetParent !== null && l.textContent.trim()
                            .replace(/:$/, '') === label) {
                        return l.htmlFor;
                    }
                }
                return null;
            }""", [scope, label])
        self.assertIsNotNone(widget_id, 'no field labelled %s' % label)
        return self.page.locator('[id="%s"]' % widget_id)

    def fill_many2one(self, label, text, scope):
        """Type text in a Many2One and pick the record named text: sao
        either completes it or asks in a search dialog."""
        entry = self.field(label, scope)
        entry.fill(text)
        entry.press('Tab')
        search = self.page.locator('.modal-dialog:visible').filter(
            has_text='Search %s' % label)
        deadline = time.monotonic() + 20
        while self.field_value(label, scope) != text:
            if search.count():
                search.locator('tbody tr td:not(:has(a))').get_by_text(
                    text, exact=True).first.dblclick()
                search.wait_for(state='hidden')
            elif time.monotonic() > deadline:
                self.screenshot('many2one_failed.png')
                self.fail('%s: %r not chosen' % (label, text))
            time.sleep(0.2)

    def wait_value(self, label, value, scope='.tab-pane.active',
            timeout=30000):
        deadline = time.monotonic() + timeout / 1000
        # the form is drawn (its labels) before the record is read
        while not self.has_field(label, scope):
            if time.monotonic() > deadline:
                self.fail('no field labelled %s' % label)
            time.sleep(0.2)
        while self.field_value(label, scope) != value:
            if time.monotonic() > deadline:
                self.fail('%s shows %r, not %r' % (
                        label, self.field_value(label, scope), value))
            time.sleep(0.2)

    def field_value(self, label, scope='.tab-pane.active'):
        "The text a form field shows"
        return self.field(label, scope).evaluate(
            "e => e.tagName === 'SELECT' ? e.selectedOptions[0].text "
            ": e.value")

    def rpc(self, method, *params, session=None):
        """One JSON-RPC call as sao makes it (POST /<db>/rpc/); returns the
        response: {'id', 'result'} or {'id', 'error'}"""
        request = urllib.request.Request(f'{self.url}demo/rpc/',
            data=json.dumps({'id': 1, 'method': method,
                    'params': list(params)}).encode(),
            headers={'Content-Type': 'application/json'})
        if session:
            request.add_header('Authorization', 'Session ' + base64.b64encode(
                    ':'.join(map(str, session)).encode()).decode())
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read())

    def rpc_login(self, login, password):
        "(login, user id, session key) of a JSON-RPC session"
        response = self.rpc('common.db.login', login,
            {'password': password}, 'en')
        self.assertIn('result', response)
        user_id, key = response['result'][:2]
        return login, user_id, key

    @staticmethod
    def rpc_datetime(value):
        "A datetime as trytond's JSON decoder reads it"
        return {'__class__': 'datetime', 'year': value.year,
            'month': value.month, 'day': value.day, 'hour': value.hour,
            'minute': value.minute, 'second': value.second,
            'microsecond': value.microsecond}

    def router_user(self, name):
        "(router index, disabled) of the hotspot user name on the simulators"
        return [(n, row.get('disabled'))
            for n, sim in enumerate(self.sims)
            for row in sim.rows(HOTSPOT_USER) if row.get('name') == name]

    def relate(self, name):
        "Open the related records called name from the active form"
        page = self.page
        page.locator('button[title="Open related records"]:visible') \
            .first.click()
        page.locator('.dropdown-menu:visible').get_by_text(
            name, exact=True).first.click()
