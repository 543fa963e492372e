#!/usr/bin/env bash
# make bench: the benchmarks under bench/, each writing its report under
# var/bench/. Nothing is asserted on time; non-zero exit only when a
# benchmark itself fails.
#   BENCH_SERVICES=N      services of the expiry sweep (default 100000)
#   BENCH_DATABASE_URI    PostgreSQL of the expiry sweep (default below);
#                         it reports SKIPPED when no server answers there
#   BENCH_CHUNK=N         services per expiry transition (default: module's)
#   BENCH_QUICK=1         smaller reconcile and sync runs (--quick)
#   BENCH_PAYMENTS=N      payments per sync scenario (default 100)
#   BENCH_DASHBOARD_SERVICES=N  services of the dashboard bench (default
#                         100000, with 10 invoice lines per service)
#   BENCH_REPORT_PAYMENTS=N  payments of the revenue report (default 1000000)
set -uo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"

mkdir -p var/bench var/cache
rm -f var/bench/*.json   # the summary table shows this run's figures only
status=0

# DB_CACHE is keyed on module names only: key ours on the module's content
# (as scripts/test.sh does), so a changed module is never benched stale.
module_hash=$(find isp_billing -type f \( -name '*.py' -o -name '*.xml' -o -name '*.cfg' \) \
    -not -path '*/tests/*' -print0 | sort -z | xargs -0 cat | sha1sum | cut -c1-12)

bench() {  # bench LABEL SCRIPT [ARGS...]
    local label=$1; shift
    echo; echo "=== $label ==="
    local start=$SECONDS
    if ! python "$@"; then
        echo "!!! $label failed"
        status=1
    fi
    echo "($label: $((SECONDS - start)) s wall)"
}

bench "RouterOS simulator" bench/bench_sim.py
if [ "${BENCH_QUICK:-0}" = 1 ]; then
    bench "reconcile vs naive sync" bench/bench_reconcile.py --quick
else
    bench "reconcile vs naive sync" bench/bench_reconcile.py
fi
BENCH_DATABASE_URI=${BENCH_DATABASE_URI:-$PG_DEFAULT_URI} \
    DB_CACHE="$ROOT/var/cache/pay-pg-bench-$module_hash" \
    bench "expiry sweep (PostgreSQL)" bench/bench_expiry.py \
        --services "${BENCH_SERVICES:-100000}" ${BENCH_CHUNK:+--chunk "$BENCH_CHUNK"}

BENCH_SQLITE_CACHE="$ROOT/var/cache/sync-sqlite-bench-$module_hash" \
    BENCH_PG_CACHE="$ROOT/var/cache/sync-pg-bench-$module_hash" \
    bench "router sync through the module (PostgreSQL, SQLite)" bench/bench_sync.py \
        ${BENCH_PAYMENTS:+--payments "$BENCH_PAYMENTS"} $([ "${BENCH_QUICK:-0}" = 1 ] && echo --quick)

BENCH_DATABASE_URI=${BENCH_DATABASE_URI:-$PG_DEFAULT_URI} \
    DB_CACHE="$ROOT/var/cache/fleet-pg-bench-$module_hash" \
    bench "fleet reconcile through trytond-worker (PostgreSQL)" bench/bench_fleet.py \
        $([ "${BENCH_QUICK:-0}" = 1 ] && echo --quick)

DB_CACHE="$ROOT/var/cache/message-bench-$module_hash" \
    bench "message to 10,000 customers (SQLite)" bench/bench_message.py

BENCH_DATABASE_URI=${BENCH_DATABASE_URI:-$PG_DEFAULT_URI} \
    DB_CACHE="$ROOT/var/cache/portal-pg-bench-$module_hash" \
    bench "customer portal, 50 customers at once (PostgreSQL)" bench/bench_portal.py

BENCH_DATABASE_URI=${BENCH_DATABASE_URI:-$PG_DEFAULT_URI} \
    DB_CACHE="$ROOT/var/cache/dash-pg-bench-$module_hash" \
    bench "dashboard queries (PostgreSQL)" bench/bench_dashboard.py \
        ${BENCH_DASHBOARD_SERVICES:+--services "$BENCH_DASHBOARD_SERVICES"}

# one-year revenue report, 1,000,000 payments (BENCH_REPORT_PAYMENTS)
BENCH_DATABASE_URI=${BENCH_DATABASE_URI:-$PG_DEFAULT_URI} \
    DB_CACHE="$ROOT/var/cache/reports-pg-bench-$module_hash" \
    bench "revenue report (PostgreSQL)" bench/bench_reports.py \
        --payments "${BENCH_REPORT_PAYMENTS:-1000000}"

echo
echo "=== summary ==="
python bench/summary.py || status=1

echo
echo "=== reports ==="
for report in var/bench/bench_sim.txt var/bench/reconcile.txt var/bench/expiry.txt \
        var/bench/sync.txt var/bench/fleet.txt var/bench/message.txt var/bench/portal.txt \
        var/bench/dashboard.txt var/bench/reports.txt var/bench/summary.txt; do
    if [ -f "$report" ]; then
        echo "  $ROOT/$report"
    else
        echo "  $ROOT/$report (missing)"
        status=1
    fi
done
exit $status
