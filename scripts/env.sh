# Shared settings of scripts/run.sh and scripts/test.sh (sourced).
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV="$ROOT/.venv"
PY="$VENV/bin/python"
export PATH="$VENV/bin:$PATH"
PG_DEFAULT_URI="postgresql://postgres@127.0.0.1:5432/"

# pg_reachable URI: true when a PostgreSQL server answers at URI
pg_reachable() {
    "$PY" - "$1" <<'PYEOF' >/dev/null 2>&1
import sys, psycopg
uri = sys.argv[1].rstrip('/') + '/postgres'
psycopg.connect(uri, connect_timeout=3).close()
PYEOF
}

# pg_drop_stale_templates URI HASH MARKER: drop the template databases of
# Tryton's test cache (test-<40 hex>) unless MARKER holds HASH, then write it
pg_drop_stale_templates() {
    "$PY" - "$@" <<'PYEOF'
import re, sys, psycopg
uri, module_hash, marker = sys.argv[1:]
try:
    with open(marker) as f:
        if f.read().strip() == module_hash:
            sys.exit(0)
except OSError:
    pass
with psycopg.connect(uri.rstrip('/') + '/postgres', autocommit=True) as db:
    for name, in db.execute('SELECT datname FROM pg_database').fetchall():
        if re.fullmatch(r'test-[0-9a-f]{40}', name):
            db.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
with open(marker, 'w') as f:
    f.write(module_hash + '\n')
PYEOF
}

# port_in_use PORT: true when something listens on loopback PORT (IPv4 or
# IPv6 'localhost') or holds it bound, so that our server could not bind it
port_in_use() {
    "$PY" - "$1" <<'PYEOF'
import socket, sys
port = int(sys.argv[1])
for family, _, _, _, address in socket.getaddrinfo(
        'localhost', port, type=socket.SOCK_STREAM):
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.settimeout(1)
        if sock.connect_ex(address) == 0:
            sys.exit(0)
with socket.socket() as sock:
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(('127.0.0.1', port))
    except OSError:
        sys.exit(0)
sys.exit(1)
PYEOF
}
