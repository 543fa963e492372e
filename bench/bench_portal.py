"""Benchmark: customer portal pages at 50 concurrent customers on
PostgreSQL, through a real trytond server (goal: p95 <= 150 ms per page).

Not a test -- nothing is asserted.  Writes ``var/bench/portal.txt`` and
prints it.  Skips (exit 0, with a message) when PostgreSQL is not reachable.

    .venv/bin/python bench/bench_portal.py [--customers 50] [--rounds 10]

Each customer has a paid service, 12 months of usage, a request with a
reply and a portal session; every customer's thread opens each page
``--rounds`` times, all threads at once (plus one round of logins).
"""
import argparse
import datetime as dt
import os
import platform
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
REPORT = os.path.join(ROOT, 'var', 'bench', 'portal.txt')
DB_NAME = 'bench_isp_portal'
PAGES = ['/', '/usage', '/payments', '/requests', '/details', '/request/%d']


def write_report(lines):
    os.makedirs(os.path.dirname(REPORT), exist_ok=True)
    text = '\n'.join(lines) + '\n'
    with open(REPORT, 'w') as f:
        f.write(text)
    print(text, end='')


def pg_reachable(uri):
    try:
        import psycopg
        psycopg.connect(uri.rstrip('/') + '/postgres',
            connect_timeout=3).close()
        return True
    except Exception as exc:  # noqa: BLE001
        return exc


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


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--customers', type=int, default=50)
    parser.add_argument('--rounds', type=int, default=10)
    parser.add_argument('--uri', default=os.environ.get(
            'BENCH_DATABASE_URI', 'postgresql://postgres@127.0.0.1:5432/'))
    args = parser.parse_args()

    started = dt.datetime.now().isoformat(timespec='seconds')
    reachable = pg_reachable(args.uri)
    if reachable is not True:
        write_report([f'portal benchmark ({started})',
                f'SKIPPED: PostgreSQL not reachable at {args.uri}: '
                f'{reachable}'])
        return 0

    os.environ['TRYTOND_DATABASE_URI'] = args.uri
    os.environ['DB_NAME'] = DB_NAME
    os.environ.setdefault(
        'DB_CACHE', os.path.join(ROOT, 'var', 'cache', 'portal-pg-bench'))
    from trytond.tests.test_tryton import activate_module, drop_db
    from trytond.pool import Pool
    from trytond.transaction import Transaction, TransactionError

    from isp_billing.tests.server_tools import free_port

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

    port = free_port()
    workdir = tempfile.mkdtemp(prefix='bench-portal-')
    config = os.path.join(workdir, 'trytond.conf')
    with open(config, 'w') as f:
        f.write(f'[database]\nuri = {args.uri}\n'
            f'[web]\nlisten = 127.0.0.1:{port}\n'
            '[session]\nmax_attempt = 1000\n')
    env = {k: v for k, v in os.environ.items()
        if k not in {'TRYTOND_DATABASE_URI', 'DB_NAME', 'DB_CACHE'}}
    log = open(os.path.join(workdir, 'trytond.log'), 'w')
    server = subprocess.Popen([os.path.join(os.path.dirname(sys.executable),
                'trytond'), '-c', config, '-d', DB_NAME],
        stdout=log, stderr=subprocess.STDOUT, env=env)
    base = f'http://127.0.0.1:{port}/{DB_NAME}/isp_billing/portal'
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(base + '/login', timeout=2).read()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit('trytond did not start: see %s' % (
                            os.path.join(workdir, 'trytond.log')))
                time.sleep(0.3)
        # warm up, then one customer alone: the cost of a page without
        # waiting for the other customers' pages
        email, password, key, request_id = customers[0]
        alone = {page: [] for page in PAGES}
        for round_ in range(6):
            for page in PAGES:
                path = page % request_id if '%d' in page else page
                elapsed, _ = get(base + path, f'isp_portal={key}')
                if round_:
                    alone[page].append(elapsed)

        times = {page: [] for page in PAGES}
        errors = []
        lock = threading.Lock()
        barrier = threading.Barrier(len(customers))

        def visit(email, password, key, request_id):
            barrier.wait()
            cookie = f'isp_portal={key}'
            for _ in range(args.rounds):
                for page in PAGES:
                    path = page % request_id if '%d' in page else page
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

        threads = [threading.Thread(target=visit, args=c) for c in customers]
        t1 = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        t_load = time.perf_counter() - t1

        logins = []
        login_errors = []
        login_barrier = threading.Barrier(len(customers))

        def log_in(email, password, key, request_id):
            login_barrier.wait()
            try:
                elapsed, status = login(base, email, password)
            except Exception as exc:  # noqa: BLE001
                with lock:
                    login_errors.append(str(exc))
                return
            with lock:
                logins.append(elapsed)
                if status not in {200, 303}:
                    login_errors.append(status)
        threads = [threading.Thread(target=log_in, args=c)
            for c in customers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()

    total = sum(len(v) for v in times.values())
    every = [t for v in times.values() for t in v]
    lines = [
        f'portal benchmark ({started})',
        f'machine: {platform.node()} {os.cpu_count()} CPU, '
        f'Python {platform.python_version()}, PostgreSQL {args.uri}',
        f'{len(customers)} customers at once, each opening every page '
        f'{args.rounds} times through trytond (one server process); '
        f'data built in {t_build:.1f} s',
        f'goal: p95 <= 150 ms per page',
        '',
        'one customer alone (5 visits of each page):',
        '  ' + ', '.join('%s %.0f ms' % (page.replace('%d', '<id>'),
                statistics.median(values) * 1000)
            for page, values in alone.items()),
        '',
        f'{"page":14} {"requests":>8} {"p50 ms":>8} {"p95 ms":>8} '
        f'{"max ms":>8}',
        ]
    for page, values in list(times.items()) + [('all pages', every)] + [
            ('login (POST)', logins)]:
        if not values:
            continue
        name = page.replace('%d', '<id>')
        lines.append(f'{name:14} {len(values):>8} '
            f'{statistics.median(values) * 1000:>8.0f} '
            f'{percentile(values, 95) * 1000:>8.0f} '
            f'{max(values) * 1000:>8.0f}')
    lines += ['',
        f'throughput: {total / t_load:.0f} pages/s over {t_load:.1f} s',
        f'errors: {len(errors)}' + (f' (first: {errors[0]})'
            if errors else ''),
        f'login errors: {len(login_errors)}' + (
            f' (first: {login_errors[0]})' if login_errors else ''),
        'logins: 50 at once; each password check is argon2 (trytond '
        'res.user PASSWORD_HASH), CPU-bound by design']
    write_report(lines)
    from trytond.tests.test_tryton import drop_db as drop
    drop()
    return 0


if __name__ == '__main__':
    sys.exit(main())
