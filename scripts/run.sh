#!/usr/bin/env bash
# make run: database under var/, module activated, demo loaded, routers
# simulated, trytond + trytond-cron (+ trytond-worker on PostgreSQL).
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"

DB_NAME=${DB_NAME:-isp_demo}
DATABASE_URI=${DATABASE_URI:-sqlite://}
PORT=${PORT:-8000}
mkdir -p var/db var/sim var/log
CONF="$ROOT/var/trytond.conf"
WORKER=False
case "$DATABASE_URI" in postgresql*) WORKER=True;; esac
cat > "$CONF" <<CONF
[database]
uri = $DATABASE_URI
path = $ROOT/var/db
[web]
listen = localhost:$PORT
root = $ROOT/var/sao/package
[queue]
worker = $WORKER
[session]
max_attempt = 10
CONF

pids=()
stop() {
    trap - INT TERM EXIT
    echo; echo "stopping..."
    for pid in "${pids[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap stop INT TERM EXIT
start() {  # start NAME CMD...: own process group so that Ctrl-C stops its children
    local name=$1; shift
    setsid "$@" >"var/log/$name.log" 2>&1 &
    pids+=($!)
}
start sim-north python -m routeros_sim --routers 1 --base-port 18728 --version 7.18 \
    --user admin --password demo-router --state var/sim/north.json
start sim-south python -m routeros_sim --routers 1 --base-port 18738 --version 6.33 \
    --user admin --password demo-router --state var/sim/south.json
ADMIN_PASSWORD=${ADMIN_PASSWORD:-admin-isp-demo}
python scripts/initdb.py --config "$CONF" --database "$DB_NAME" \
    --admin-password "$ADMIN_PASSWORD"
python -m isp_billing.demo --config "$CONF" --database "$DB_NAME"

start trytond trytond -c "$CONF" -d "$DB_NAME"
start trytond-cron trytond-cron -c "$CONF" -d "$DB_NAME"
if [ "$WORKER" = True ]; then
    start trytond-worker trytond-worker -c "$CONF" -d "$DB_NAME"
fi
for _ in $(seq 60); do
    python -c "import urllib.request; urllib.request.urlopen('http://localhost:$PORT/', timeout=1)" 2>/dev/null && break
    sleep 1
done
cat <<MSG

  isp_billing is running: http://localhost:$PORT/   (database: $DB_NAME, $DATABASE_URI)
  Logs in var/log/. Ctrl-C stops everything.

  Demo logins (user / password):
$(python -m isp_billing.demo --logins)
  Simulated routers: Tower North 127.0.0.1:18728 (RouterOS 7.18),
                     Tower South 127.0.0.1:18738 (RouterOS 6.33, challenge login)
MSG
wait
