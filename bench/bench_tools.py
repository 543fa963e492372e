"""What the benchmarks share: reaching PostgreSQL, echoing and writing a
report.  Benchmarks run as scripts (``python bench/bench_x.py``), so this
module is imported from their own folder."""
import os


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
