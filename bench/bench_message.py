"""Benchmark: a message to 10,000 customers (email + portal) on SQLite.

Not a test -- nothing is asserted on time.  Writes ``var/bench/message.txt``
and prints it.  Measures the staff request (``isp.message.send``: recipient
search, queue rows), the number of queue tasks, and the queued delivery
run (tasks run one after the other as ``trytond-worker`` would, email to a
local aiosmtpd server).

    .venv/bin/python bench/bench_message.py [--customers N]
"""
import argparse
import os
import platform
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
REPORT = os.path.join(ROOT, 'var', 'bench', 'message.txt')


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--customers', type=int, default=10_000)
    args = parser.parse_args(argv)
    os.environ.setdefault('TRYTOND_DATABASE_URI', 'sqlite://')
    os.environ['DB_NAME'] = ':memory:'
    os.environ.setdefault('DB_CACHE', os.path.join(
            ROOT, 'var', 'cache', 'message-bench'))

    from aiosmtpd.controller import Controller
    from trytond import config
    from trytond.modules.company.tests import create_company, set_company
    from trytond.pool import Pool
    from trytond.tests.test_tryton import DB_NAME, activate_module
    from trytond.transaction import Transaction

    from isp_billing.models import message as message_module
    from isp_billing.tests.server_tools import free_port

    class Sink:
        count = 0

        async def handle_DATA(self, server, session, envelope):
            Sink.count += 1
            return '250 OK'

    activate_module(['isp_billing'])
    controller = Controller(Sink(), hostname='127.0.0.1', port=free_port())
    controller.start()
    config.set('email', 'uri', 'smtp://127.0.0.1:%s' % controller.port)
    config.set('email', 'from', 'ISP <billing@isp.test>')
    lines = ['message to %d customers (email + portal), SQLite :memory:, '
        'Python %s' % (args.customers, platform.python_version())]
    try:
        with Transaction().start(DB_NAME, 0):
            pool = Pool()
            Party = pool.get('party.party')
            Message = pool.get('isp.message')
            Queue = pool.get('ir.queue')
            company = create_company()
            with set_company(company):
                started = time.perf_counter()
                for start in range(0, args.customers, 1000):
                    Party.create([{'name': 'Customer %d' % i,
                                'isp_customer': True,
                                'isp_customer_type': 'individual',
                                'contact_mechanisms': [('create', [{
                                                'type': 'email',
                                                'value': 'c%d@example.com' % i,
                                                }])],
                                } for i in range(start,
                                min(start + 1000, args.customers))])
                lines.append('setup: %d customers created in %.1f s' % (
                        args.customers, time.perf_counter() - started))
                message, = Message.create([{'subject': 'Bench',
                            'body': 'Hello', 'target': 'all',
                            'channel_email': True, 'channel_portal': True}])
                started = time.perf_counter()
                Message.send([message])
                request = time.perf_counter() - started
                tasks = Queue.search([
                        ('name', '=', message_module.QUEUE_NAME),
                        ('dequeued_at', '=', None)])
                lines.append('staff request (send): %.2f s, %d queue tasks '
                    'of up to %d customers, nothing sent yet (%d mails)' % (
                        request, len(tasks), message_module.batch_size(),
                        Sink.count))
                started = time.perf_counter()
                durations = []
                for task in tasks:
                    t0 = time.perf_counter()
                    task.run()
                    durations.append(time.perf_counter() - t0)
                total = time.perf_counter() - started
                message = Message(message.id)
                durations.sort()
                lines.append('delivery tasks: %.1f s in all, per task p50 '
                    '%.2f s, max %.2f s; %.0f deliveries/s' % (total,
                        durations[len(durations) // 2], durations[-1],
                        (message.sent_count + message.failed_count)
                        / total))
                lines.append('result: state %s, sent %d, failed %d, '
                    'mails received %d' % (message.state, message.sent_count,
                        message.failed_count, Sink.count))
            Transaction().rollback()
    finally:
        controller.stop()
    os.makedirs(os.path.dirname(REPORT), exist_ok=True)
    text = '\n'.join(lines) + '\n'
    with open(REPORT, 'w') as f:
        f.write(text)
    print(text, end='')


if __name__ == '__main__':
    main()
