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
