"""Benchmark: customer portal pages at 50 concurrent customers on
PostgreSQL, through a real server (goal: p95 <= 150 ms per page).

Not a test -- nothing is asserted.  Writes ``var/bench/portal.txt`` (and
the figures of bench/summary.py in ``var/bench/portal.json``) and prints
it.  Skips (exit 0, with a message) when PostgreSQL is not reachable.

    .venv/bin/python bench/bench_portal.py [--customers 50] [--rounds 10]
        [--servers trytond,gunicorn] [--workers 2] [--threads 4]

Each customer has a paid service, 12 months of usage, a request with a
reply and a portal session.  For each server, every customer opens each
page ``--rounds`` times, in two modes:

* realistic: a customer opens a page, reads it for a random 1-3 s (think
  time, seeded), opens the next one: 50 customers using the portal at once;
* stress (closed loop): every customer fires the pages back to back with
  no pause: 50 requests always waiting, the most the server can take.

Servers: ``trytond`` (its own werkzeug server: one process, one thread per
request) and ``gunicorn`` (trytond.application:app, the WSGI app trytond's
docs name for "your own WSGI server", ``--workers`` processes of
``--threads`` threads).  Then 50 logins at once (argon2 password checks).
"""
import argparse
import datetime as dt
import json
import os
import platform
import random
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from bench_tools import PG_URI, start_on_postgresql, write_report  # noqa: E402
REPORT = os.path.join(ROOT, 'var', 'bench', 'portal.txt')
FIGURES = os.path.join(ROOT, 'var', 'bench', 'portal.json')
DB_NAME = 'bench_isp_portal'
PAGES = ['/', '/usage', '/payments', '/requests', '/details', '/request/%d']


def build(customers):
    """The customers with their service, payment, usage, request, web user
    and an open session; returns [(email, password, key, request id)]"""
    from trytond.modules.company.tests import set_company
    from trytond.pool import Pool
    from isp_billing.tests.test_payment import AccountingMixin
    from isp_billing.tests.tools import create_customer, create_service

    pool = Pool()
    Service = pool.get('isp.service')
    Usage = pool.get('isp.usage')
    WebUser = pool.get('web.user')
    Request = pool.get('isp.request')
    Party = pool.get('party.party')
    world = AccountingMixin()  # keeps the company, plan, cash... it makes
    company = world.setup_accounting()
    result = []
    with set_company(company):
        for n in range(customers):
            customer = world.customer if n == 0 else create_customer(
                'Customer %03d' % n)
            service = world.service if n == 0 else create_service(
                customer, world.plan, world.router, login='c%03d' % n)
            Party.write([customer], {'addresses': [('create', [{}])]})
            Service.pay_renewal([service], 1, world.cash)
            Usage.create([{'service': service.id,
                        'month': dt.date(2026, m, 1),
                        'bytes_in': (n + m) * 10_000_000,
                        'bytes_out': (n + m) * 100_000_000}
                    for m in range(1, 13)])
            email, password = 'c%03d@example.com' % n, 'Bench-Portal-%03d' % n
            user, = WebUser.create([{'email': email, 'password': password,
                        'party': customer.id, 'email_valid': True}])
            request = Request.submit(customer, 'inquiry', 'Question %d' % n,
                'How fast is my plan?', service=service)
            request.customer_reply('Any news?')
            result.append((email, password, user.new_session(), request.id))
    return result


def get(url, cookie):
    request = urllib.request.Request(url, headers={'Cookie': cookie})
    start = time.perf_counter()
    with urllib.request.urlopen(request, timeout=60) as response:
        response.read()
        # a lost session is redirected to the login page: not a page served
        status = response.status if response.url == url else 'to login'
    return time.perf_counter() - start, status


def login(base, email, password, timeout=300):
    """GET the login page (CSRF cookie), POST the form: the POST's time
    (the password check is argon2: about a second of CPU by design)"""
    opener = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(),
        NoRedirect())
    with opener.open(base + '/login', timeout=60) as response:
        token = re.search(r'name="csrf" value="([^"]*)"',
            response.read().decode()).group(1)
    data = urllib.parse.urlencode({'email': email, 'password': password,
            'csrf': token}).encode()
    start = time.perf_counter()
    try:
        opener.open(base + '/login', data=data, timeout=timeout)
        status = 200
    except urllib.error.HTTPError as e:
        status = e.code
    return time.perf_counter() - start, status


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def percentile(values, p):
    values = sorted(values)
    k = max(0, min(len(values) - 1, round(p / 100 * len(values) + 0.5) - 1))
    return values[k]


class LoadSampler(threading.Thread):
    "The 1-minute load average, every second, while a phase runs"

    def __init__(self):
        super().__init__(daemon=True)
        self.values = []
        self.stop = threading.Event()

    def run(self):
        self.values.append(os.getloadavg()[0])
        while not self.stop.wait(1):
            self.values.append(os.getloadavg()[0])

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.join()

    def summary(self):
        if not self.values:
            return None
        return {'mean': round(statistics.mean(self.values), 1),
            'max': round(max(self.values), 1)}


def page_path(page, request_id):
    return page % request_id if '%d' in page else page


def run_load(base, customers, rounds, think=None, seed=1):
    """Every customer opens each page rounds times; think=(low, high)
    seconds of pause after each page (seeded per customer), or none (the
    closed loop).  Returns {page: [seconds]}, errors, wall time, load."""
    times = {page: [] for page in PAGES}
    errors = []
    lock = threading.Lock()
    barrier = threading.Barrier(len(customers))

    def visit(n, email, password, key, request_id):
        rng = random.Random(seed * 1000 + n)
        cookie = f'isp_portal={key}'
        barrier.wait()
        if think:  # customers arrive spread over one think time
            time.sleep(rng.uniform(0, think[1]))
        for _ in range(rounds):
            for page in PAGES:
                path = page_path(page, request_id)
                try:
                    elapsed, status = get(base + path, cookie)
                except Exception as exc:  # noqa: BLE001
                    with lock:
                        errors.append(f'{path}: {exc}')
                    continue
                with lock:
                    if status != 200:
                        errors.append(f'{path}: HTTP {status}')
                    times[page].append(elapsed)
                if think:
                    time.sleep(rng.uniform(*think))

    threads = [threading.Thread(target=visit, args=(n,) + c)
        for n, c in enumerate(customers)]
    with LoadSampler() as load:
        start = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.perf_counter() - start
    return times, errors, wall, load.summary()


def run_logins(base, customers):
    logins, errors = [], []
    lock = threading.Lock()
    barrier = threading.Barrier(len(customers))

    def log_in(email, password, key, request_id):
        barrier.wait()
        try:
            elapsed, status = login(base, email, password)
        except Exception as exc:  # noqa: BLE001
            with lock:
                errors.append(str(exc))
            return
        with lock:
            logins.append(elapsed)
            if status not in {200, 303}:
                errors.append(status)
    threads = [threading.Thread(target=log_in, args=c) for c in customers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return logins, errors


def alone(base, customer):
    """One customer alone, after a warm-up (3 rounds: gunicorn's workers
    each warm their caches): the median cost of each page"""
    email, password, key, request_id = customer
    result = {page: [] for page in PAGES}
    for round_ in range(8):
        for page in PAGES:
            elapsed, _ = get(base + page_path(page, request_id),
                f'isp_portal={key}')
            if round_ >= 3:
                result[page].append(elapsed)
    return {page: statistics.median(v) for page, v in result.items()}


def figures(values):
    if not values:
        return None
    return {'requests': len(values),
        'p50': statistics.median(values), 'p95': percentile(values, 95),
        'max': max(values)}


class Server:
    "A server process on a free port, stopped on exit"

    def __init__(self, kind, uri, workdir, workers, threads):
        from isp_billing.tests.server_tools import free_port
        self.kind = kind
        self.port = free_port()
        self.config = os.path.join(workdir, 'trytond.conf')
        with open(self.config, 'w') as f:
            f.write(f'[database]\nuri = {uri}\n'
                f'[web]\nlisten = 127.0.0.1:{self.port}\n'
                '[session]\nmax_attempt = 1000\n')
        self.log_path = os.path.join(workdir, f'{kind}.log')
        bindir = os.path.dirname(sys.executable)
        env = {k: v for k, v in os.environ.items()
            if k not in {'TRYTOND_DATABASE_URI', 'DB_NAME', 'DB_CACHE'}}
        if kind == 'trytond':
            self.command = [os.path.join(bindir, 'trytond'),
                '-c', self.config, '-d', DB_NAME]
            self.processes, self.threads = 1, 'one per request'
        else:
            env.update(TRYTOND_CONFIG=self.config,
                TRYTOND_DATABASE_NAMES=DB_NAME)
            self.command = [os.path.join(bindir, 'gunicorn'),
                '--bind', f'127.0.0.1:{self.port}',
                '--workers', str(workers), '--threads', str(threads),
                '--worker-class', 'gthread', '--timeout', '120',
                'trytond.application:app']
            self.processes, self.threads = workers, threads
        self.env = env
        self.base = (f'http://127.0.0.1:{self.port}/{DB_NAME}'
            '/isp_billing/portal')

    def label(self):
        if self.kind == 'trytond':
            return 'trytond (its own server: 1 process, 1 thread/request)'
        return (f'gunicorn trytond.application:app ({self.processes} '
            f'processes x {self.threads} threads)')

    def __enter__(self):
        self.log = open(self.log_path, 'w')
        self.process = subprocess.Popen(self.command, stdout=self.log,
            stderr=subprocess.STDOUT, env=self.env)
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(self.base + '/login', timeout=5).read()
                break
            except OSError:
                if (self.process.poll() is not None
                        or time.monotonic() > deadline):
                    self.__exit__()
                    raise SystemExit('%s did not start: see %s' % (
                            self.kind, self.log_path))
                time.sleep(0.3)
        if self.kind == 'gunicorn':
            # every worker loads the pool on its first request: warm them
            threads = [threading.Thread(target=lambda: urllib.request
                    .urlopen(self.base + '/login', timeout=60).read())
                for _ in range(4 * self.processes)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        return self

    def __exit__(self, *exc):
        self.process.terminate()
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


def measure(server, customers, args):
    think = (args.think_min, args.think_max)
    result = {'processes': server.processes, 'threads': server.threads,
        'alone': alone(server.base, customers[0])}
    for mode, pause in [('realistic', think), ('stress', None)]:
        times, errors, wall, load = run_load(server.base, customers,
            args.rounds, think=pause, seed=args.seed)
        every = [t for v in times.values() for t in v]
        result[mode] = dict(figures(every) or {},
            pages={page: figures(v) for page, v in times.items()},
            errors=len(errors), first_error=errors[0] if errors else None,
            wall=wall, pages_per_s=len(every) / wall if wall else None,
            load=load)
    if args.logins:
        with LoadSampler() as load:
            logins, errors = run_logins(server.base, customers)
        result['login'] = dict(figures(logins) or {}, errors=len(errors),
            load=load.summary())
    return result


def ms(value):
    return '-' if value is None else '%.0f' % (value * 1000)


def report_lines(results, args, started, t_build, customers):
    lines = [
        f'portal benchmark ({started})',
        f'machine: {platform.node()} {os.cpu_count()} CPU, '
        f'Python {platform.python_version()}, PostgreSQL {args.uri}',
        f'{customers} customers, each opening every page {args.rounds} '
        f'times ({len(PAGES)} pages); data built in {t_build:.1f} s',
        'goal: p95 <= 150 ms per page',
        f'realistic: {args.think_min:g}-{args.think_max:g} s think time '
        f'after each page (seed {args.seed}); stress: no pause (closed loop)',
        ]
    for name, result in results.items():
        lines += ['', f'== {result["label"]} ==',
            'one customer alone (median of 5 visits):',
            '  ' + ', '.join('%s %s ms' % (page.replace('%d', '<id>'),
                    ms(value)) for page, value in result['alone'].items()),
            '',
            f'{"mode / page":24} {"requests":>8} {"p50 ms":>7} '
            f'{"p95 ms":>7} {"max ms":>7}']
        for mode in ('realistic', 'stress'):
            figure = result[mode]
            for page, values in list(figure['pages'].items()) + [
                    ('all pages', figure)]:
                if not values:
                    continue
                label = f'{mode} {page.replace("%d", "<id>")}'
                lines.append(f'{label:24} {values["requests"]:>8} '
                    f'{ms(values["p50"]):>7} {ms(values["p95"]):>7} '
                    f'{ms(values["max"]):>7}')
            load = figure['load'] or {}
            lines.append(f'  {mode}: {figure["pages_per_s"]:.0f} pages/s '
                f'over {figure["wall"]:.1f} s, load average '
                f'{load.get("mean", "-")} (max {load.get("max", "-")}), '
                f'errors: {figure["errors"]}'
                + (f' (first: {figure["first_error"]})'
                    if figure['errors'] else ''))
        if result.get('login'):
            login = result['login']
            lines.append(f'  {customers} logins at once: p50 '
                f'{ms(login.get("p50"))} ms, p95 {ms(login.get("p95"))} ms '
                f'(argon2 password checks, CPU-bound by design), '
                f'errors: {login["errors"]}')
    return lines


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--customers', type=int, default=50)
    parser.add_argument('--rounds', type=int, default=10)
    parser.add_argument('--think-min', type=float, default=1.0)
    parser.add_argument('--think-max', type=float, default=3.0)
    parser.add_argument('--seed', type=int, default=1)
    parser.add_argument('--servers', default='trytond,gunicorn',
        help="comma-separated: trytond, gunicorn")
    parser.add_argument('--workers', type=int, default=os.cpu_count() or 2,
        help="gunicorn worker processes (default: one per CPU)")
    parser.add_argument('--threads', type=int, default=4,
        help="threads per gunicorn worker")
    parser.add_argument('--no-logins', dest='logins', action='store_false')
    parser.add_argument('--uri', default=PG_URI)
    args = parser.parse_args()

    started = start_on_postgresql(args.uri, REPORT, 'portal benchmark', DB_NAME,
        'portal-pg-bench')
    if started is None:
        return 0
    from trytond.tests.test_tryton import activate_module, drop_db
    from trytond.pool import Pool
    from trytond.transaction import Transaction, TransactionError

    drop_db()
    activate_module(['isp_billing'])
    Pool.test = False
    extras = {}
    t0 = time.perf_counter()
    while True:
        try:
            with Transaction().start(DB_NAME, 0, **extras):
                customers = build(args.customers)
            break
        except TransactionError as e:
            e.fix(extras)
    t_build = time.perf_counter() - t0

    workdir = tempfile.mkdtemp(prefix='bench-portal-')
    results = {}
    for kind in [k.strip() for k in args.servers.split(',') if k.strip()]:
        with Server(kind, args.uri, workdir, args.workers,
                args.threads) as server:
            result = measure(server, customers, args)
        result['label'] = server.label()
        results[kind] = result
        print(f'{kind}: realistic p95 {ms(result["realistic"]["p95"])} ms,'
            f' stress p95 {ms(result["stress"]["p95"])} ms', flush=True)

    write_report(REPORT, report_lines(results, args, started, t_build,
            len(customers)))
    with open(FIGURES, 'w') as f:
        json.dump({'customers': len(customers), 'rounds': args.rounds,
                'think': [args.think_min, args.think_max],
                'cpus': os.cpu_count(), 'goal_p95': 0.150,
                'servers': results}, f, indent=1, default=str)
    drop_db()
    return 0


if __name__ == '__main__':
    sys.exit(main())
