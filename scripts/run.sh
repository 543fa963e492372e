#!/usr/bin/env bash
# make run: database under $VAR_DIR, module activated, demo loaded, routers
# simulated, trytond + trytond-cron (+ trytond-worker on PostgreSQL).
#
# Runs as a service: SIGTERM or Ctrl-C stops every process it started; it
# refuses to start when one of its ports is taken; it exits non-zero when
# one of its processes dies (the others are stopped first).
#
# Settings (environment, defaults in brackets):
#   PORT [8000]                 web client and JSON-RPC (trytond)
#   ROUTER_PORT_NORTH [18728]   simulated router Tower North (RouterOS 7.18)
#   ROUTER_PORT_SOUTH [18738]   simulated router Tower South (RouterOS 6.33)
#   VAR_DIR [var/]              configuration, SQLite database, logs, routers
#   DATABASE_URI [sqlite://]    DB_NAME [isp_demo]    READY_TIMEOUT [90] s
#   SMTP_PORT [a free port]     local SMTP sink: the demo's mails (portal
#                               invitations, password resets, replies to
#                               requests) are kept under $VAR_DIR/mail/
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"

DB_NAME=${DB_NAME:-isp_demo}
DATABASE_URI=${DATABASE_URI:-sqlite://}
PORT=${PORT:-8000}
ROUTER_PORT_NORTH=${ROUTER_PORT_NORTH:-18728}
ROUTER_PORT_SOUTH=${ROUTER_PORT_SOUTH:-18738}
VAR_DIR=$(mkdir -p "${VAR_DIR:-$ROOT/var}" && cd "${VAR_DIR:-$ROOT/var}" && pwd)
READY_TIMEOUT=${READY_TIMEOUT:-90}
ADMIN_PASSWORD=${ADMIN_PASSWORD:-admin-isp-demo}
SAO_ROOT="$ROOT/var/sao/package"   # installed by `make sao`
LOG="$VAR_DIR/log"

fail() { echo "make run: $*" >&2; exit 1; }

for name in PORT ROUTER_PORT_NORTH ROUTER_PORT_SOUTH; do
    value=${!name}
    [[ "$value" =~ ^[0-9]+$ ]] && (( value > 0 && value < 65536 )) \
        || fail "$name=$value is not a TCP port"
done
[ "$(printf '%s\n' "$PORT" "$ROUTER_PORT_NORTH" "$ROUTER_PORT_SOUTH" \
    | sort -u | wc -l)" = 3 ] || fail "PORT, ROUTER_PORT_NORTH and ROUTER_PORT_SOUTH must differ"

# Refuse to start on a taken port, before touching anything: otherwise our
# trytond dies on it while another one answers in its place.
busy=()
port_in_use "$PORT" && busy+=("$PORT (web, PORT)")
port_in_use "$ROUTER_PORT_NORTH" && busy+=("$ROUTER_PORT_NORTH (router Tower North, ROUTER_PORT_NORTH)")
port_in_use "$ROUTER_PORT_SOUTH" && busy+=("$ROUTER_PORT_SOUTH (router Tower South, ROUTER_PORT_SOUTH)")
if [ ${#busy[@]} -gt 0 ]; then
    {
        echo "make run: not started, port already in use on this machine:"
        printf '    %s\n' "${busy[@]}"
        echo "Is another \`make run\` up? Stop it, or choose free ports, e.g."
        echo "    PORT=8001 ROUTER_PORT_NORTH=18729 ROUTER_PORT_SOUTH=18739 make run"
    } >&2
    exit 1
fi

# the SMTP sink: a free port unless SMTP_PORT says otherwise
if [ -z "${SMTP_PORT:-}" ]; then
    SMTP_PORT=$(python -c "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])")
elif ! [[ "$SMTP_PORT" =~ ^[0-9]+$ ]] || (( SMTP_PORT <= 0 || SMTP_PORT >= 65536 )); then
    fail "SMTP_PORT=$SMTP_PORT is not a TCP port"
elif port_in_use "$SMTP_PORT"; then
    fail "not started, port already in use on this machine: $SMTP_PORT (SMTP sink, SMTP_PORT)"
fi
PORTAL_URL="http://localhost:$PORT/$DB_NAME/isp_billing/portal/"

# a Maildir: the sink writes under tmp/ and moves each mail to new/
mkdir -p "$VAR_DIR/db" "$VAR_DIR/sim" "$LOG" "$VAR_DIR/mail/"{cur,new,tmp}
CONF="$VAR_DIR/trytond.conf"
WORKER=False
case "$DATABASE_URI" in postgresql*) WORKER=True;; esac
cat > "$CONF" <<CONF
[database]
uri = $DATABASE_URI
path = $VAR_DIR/db
[web]
listen = localhost:$PORT
root = $SAO_ROOT
reset_password_url = ${PORTAL_URL}reset
[queue]
worker = $WORKER
[session]
max_attempt = 10
[email]
uri = smtp://127.0.0.1:$SMTP_PORT
from = Demo Wireless ISP <billing@isp.example>
CONF

# Every process we start leads its own process group (setsid), so that
# stopping a group also stops whatever that process forked. names[pid].
declare -A names=()
stopping=

stop_all() {  # TERM every group, wait up to 10 s, then KILL what is left
    local pid
    for pid in "${!names[@]}"; do
        kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    done
    for _ in $(seq 100); do
        local alive=
        for pid in "${!names[@]}"; do
            if kill -0 -- "-$pid" 2>/dev/null; then alive=1; fi
        done
        [ -z "$alive" ] && break
        sleep 0.1
    done
    for pid in "${!names[@]}"; do
        if kill -0 -- "-$pid" 2>/dev/null; then
            echo "make run: ${names[$pid]} did not stop in 10 s, killing it" >&2
            kill -KILL -- "-$pid" 2>/dev/null || true
        fi
    done
    wait 2>/dev/null || true
    names=()
}

on_signal() {  # requested stop: a clean exit
    trap '' INT TERM
    stopping=1
    echo; echo "make run: $1, stopping..."
    stop_all
    echo "make run: stopped"
    trap - EXIT
    exit 0
}
trap 'on_signal interrupted' INT
trap 'on_signal SIGTERM' TERM
trap 'stop_all' EXIT

start() {  # start NAME CMD...: in the background, in its own process group
    local name=$1; shift
    setsid "$@" >"$LOG/$name.log" 2>&1 </dev/null &
    names[$!]=$name
    last_pid=$!
}

run_step() {  # run_step NAME CMD...: a setup step, its output shown as it
    # comes; waited for in the background so that a signal reaches our trap
    # at once (a foreground command would delay it until it ends)
    local name=$1 status=0; shift
    start "$name" "$@"
    local pid=$last_pid
    tail -n +1 -f --pid="$pid" "$LOG/$name.log" &
    local tail_pid=$!
    wait "$pid" || status=$?
    unset "names[$pid]"
    wait "$tail_pid" || true
    [ "$status" = 0 ] || fail "$name failed (exit $status); log: $LOG/$name.log"
}

wait_answer() {  # wait_answer NAME PID TIMEOUT CHECK...: until CHECK succeeds
    local name=$1 pid=$2 timeout=$3; shift 3
    local deadline=$((SECONDS + timeout))
    until "$@" 2>/dev/null; do
        kill -0 "$pid" 2>/dev/null || {
            tail -n 20 "$LOG/$name.log" >&2
            fail "$name exited before it answered; log: $LOG/$name.log"; }
        (( SECONDS < deadline )) || fail "$name did not answer in $timeout s; log: $LOG/$name.log"
        sleep 0.3
    done
}

tcp_open() { python -c "import socket, sys; socket.create_connection(('127.0.0.1', int(sys.argv[1])), 1).close()" "$1"; }
http_ok() { python -c "import urllib.request, sys; urllib.request.urlopen(sys.argv[1], timeout=2)" "$1"; }

start smtp python -m aiosmtpd -n -l "127.0.0.1:$SMTP_PORT" \
    -c aiosmtpd.handlers.Mailbox "$VAR_DIR/mail"
smtp_pid=$last_pid
start sim-north python -m routeros_sim --routers 1 --base-port "$ROUTER_PORT_NORTH" \
    --version 7.18 --user admin --password demo-router --state "$VAR_DIR/sim/north.json"
sim_north=$last_pid
start sim-south python -m routeros_sim --routers 1 --base-port "$ROUTER_PORT_SOUTH" \
    --version 6.33 --user admin --password demo-router --state "$VAR_DIR/sim/south.json"
sim_south=$last_pid

run_step initdb python scripts/initdb.py --config "$CONF" --database "$DB_NAME" \
    --admin-password "$ADMIN_PASSWORD"
# the demo services are enabled on the routers: they must answer first
wait_answer sim-north "$sim_north" 30 tcp_open "$ROUTER_PORT_NORTH"
wait_answer sim-south "$sim_south" 30 tcp_open "$ROUTER_PORT_SOUTH"
run_step demo python -m isp_billing.demo --config "$CONF" --database "$DB_NAME" \
    --router-ports "$ROUTER_PORT_NORTH,$ROUTER_PORT_SOUTH"

start trytond trytond -c "$CONF" -d "$DB_NAME"
trytond_pid=$last_pid
start trytond-cron trytond-cron -c "$CONF" -d "$DB_NAME"
if [ "$WORKER" = True ]; then
    start trytond-worker trytond-worker -c "$CONF" -d "$DB_NAME"
fi
wait_answer trytond "$trytond_pid" "$READY_TIMEOUT" http_ok "http://localhost:$PORT/"
wait_answer smtp "$smtp_pid" 30 tcp_open "$SMTP_PORT"
for pid in "${!names[@]}"; do  # e.g. cron failing at start
    kill -0 "$pid" 2>/dev/null || fail "${names[$pid]} exited at start; log: $LOG/${names[$pid]}.log"
done
cat <<MSG

  isp_billing is running: http://localhost:$PORT/   (database: $DB_NAME, $DATABASE_URI)
  Logs in $LOG/. Ctrl-C (or SIGTERM to pid $$) stops everything.

  Demo logins (user / password):
$(python -m isp_billing.demo --logins)
  Customer portal: $PORTAL_URL
  Customer logins (email / password):
$(python -m isp_billing.demo --portal-logins)
  Mails (invitations, password resets, replies) are not sent out: the SMTP
  sink on 127.0.0.1:$SMTP_PORT keeps them in $VAR_DIR/mail/new/ (one file each).
  Simulated routers: Tower North 127.0.0.1:$ROUTER_PORT_NORTH (RouterOS 7.18),
                     Tower South 127.0.0.1:$ROUTER_PORT_SOUTH (RouterOS 6.33, challenge login)
MSG

# Serve until a signal (trap above) or until one of the processes ends.
status=0
wait -n -p ended "${!names[@]}" || status=$?
[ -n "$stopping" ] && exit 0
name=${names[$ended]:-a process}
unset "names[$ended]"
echo "make run: $name exited (status $status), stopping the others; log: $LOG/$name.log" >&2
trap '' INT TERM
stop_all
trap - EXIT
exit 1
