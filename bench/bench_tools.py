"""What the benchmarks share: reaching PostgreSQL, echoing and writing a
report.  Benchmarks run as scripts (``python bench/bench_x.py``), so this
module is imported from their own folder."""
import datetime as dt
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
#: where the benchmarks find PostgreSQL unless BENCH_DATABASE_URI says
PG_URI = os.environ.get(
    'BENCH_DATABASE_URI', 'postgresql://postgres@127.0.0.1:5432/')


class Lines(list):
    """Report lines, echoed as they come (a full run takes minutes)"""

    def append(self, line):
        super().append(line)
        print(line, flush=True)


def pg_reachable(uri):
    "True when a PostgreSQL server answers at uri, else the error"
    try:
        import psycopg
        psycopg.connect(uri.rstrip('/') + '/postgres',
            connect_timeout=3).close()
        return True
    except Exception as exc:  # noqa: BLE001
        return exc


def write_report(path, lines):
    "Write the report lines to path and print them"
    os.makedirs(os.path.dirname(path), exist_ok=True)
    text = '\n'.join(lines) + '\n'
    with open(path, 'w') as f:
        f.write(text)
    print(text, end='')


def start_on_postgresql(uri, report, title, database, cache):
    """Point Tryton (before it is imported) at ``database`` on ``uri``, its
    initialised database cached in var/cache/<cache> unless DB_CACHE says
    otherwise; return the start time, or None after writing a SKIPPED
    report when no PostgreSQL answers there"""
    started = dt.datetime.now().isoformat(timespec='seconds')
    reachable = pg_reachable(uri)
    if reachable is not True:
        write_report(report, [f'{title} ({started})',
                f'SKIPPED: PostgreSQL not reachable at {uri}: {reachable}'])
        return None
    os.environ['TRYTOND_DATABASE_URI'] = uri
    os.environ['DB_NAME'] = database
    os.environ.setdefault(
        'DB_CACHE', os.path.join(ROOT, 'var', 'cache', cache))
    return started
