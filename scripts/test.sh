#!/usr/bin/env bash
# make test: every suite on SQLite, the database suites again on PostgreSQL
# when one is reachable, then the browser test. Non-zero exit on failure.
#
# The stages run in two lanes at once (the machine has two CPUs or more):
# lane 1 runs the no-database stage, SQLite and the browser; lane 2 runs
# PostgreSQL, the longest stage. Each stage writes its own log under
# var/test/, printed whole when the stage ends, so the output stays readable.
set -uo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"

RESULTS=var/test-results.tsv
mkdir -p var/cache var/test
: > "$RESULTS"
started=$(date +%s)

# DB_CACHE is keyed on module names only: key ours on the module's content.
module_hash=$(find isp_billing -type f \( -name '*.py' -o -name '*.xml' -o -name '*.cfg' \) \
    -not -path '*/tests/*' -print0 | sort -z | xargs -0 cat | sha1sum | cut -c1-12)

stage() {  # stage LABEL TARGET... (environment set by the caller)
    local label=$1 log
    log="var/test/stage-$(echo "$label" | tr -c 'a-zA-Z0-9\n' '-' | tr 'A-Z' 'a-z').log"
    echo "--- $label: started at +$(( $(date +%s) - started )) s (log: $log)"
    python scripts/run_tests.py "$RESULTS" "$@" > "$log" 2>&1
    local rc=$?
    { echo; echo "=== $label (ended at +$(( $(date +%s) - started )) s) ==="; cat "$log"; } 
    return $rc
}

# 1. no database in the runner: the RouterOS simulator, the router driver,
#    and make run as a service (scripts/run.sh with its own SQLite file, and
#    on PostgreSQL with trytond-worker when a server answers)
stage_no_database() {
    stage "routeros_sim, driver, make run" discover:routeros_sim/tests \
        isp_billing.tests.test_routeros_driver isp_billing.tests.test_run_service \
        isp_billing.tests.test_run_postgresql
}

DB_TESTS=$(cd isp_billing/tests && ls test_*.py | sed 's/\.py$//' \
    | grep -v -e '^test_routeros_' -e '^test_run_' | sed 's/^/isp_billing.tests./')

# 2. Tryton module, scenarios and sync on SQLite
stage_sqlite() {
    TRYTOND_DATABASE_URI=sqlite:// DB_NAME=:memory: \
        DB_CACHE="$ROOT/var/cache/sqlite-$module_hash" \
        stage "Tryton on SQLite" $DB_TESTS
}

# 3. the same on PostgreSQL, when reachable
PG_URI=${TEST_POSTGRESQL_URI:-$PG_DEFAULT_URI}
stage_postgresql() {
    # Tryton's template databases (DB_CACHE=postgresql://: a test database
    # is a CREATE DATABASE … TEMPLATE, ~1 s; a pg_restore takes ~16 s) are
    # named on the module names only: drop them when the module changed.
    pg_drop_stale_templates "$PG_URI" "$module_hash" var/cache/pg-templates.hash
    # test databases need no durability: commits do not wait for the disk
    # (synchronous_commit=off, for the test connections only)
    local sep='?'
    [[ $PG_URI == *\?* ]] && sep='&'
    TRYTOND_DATABASE_URI="$PG_URI${sep}options=-c%20synchronous_commit%3Doff" \
        DB_NAME="test_isp_$$" DB_CACHE=postgresql:// \
        stage "Tryton on PostgreSQL" $DB_TESTS
}

# 4. the web client in a real browser (Debian chromium + playwright)
stage_browser() {
    local tests
    tests=$(cd isp_billing/tests && ls browser_*.py | grep -v "^browser_tools.py$" \
        | sed -e "s/\.py$//" -e "s/^/isp_billing.tests./")
    stage "web client (chromium)" $tests
}

lane1() {
    local rc=0
    stage_no_database || rc=1
    stage_sqlite || rc=1
    stage_browser || rc=1
    return $rc
}

status=0
if pg_reachable "$PG_URI"; then
    stage_postgresql &
    lane2=$!
    lane1 || status=1
    wait "$lane2" || status=1
else
    lane1 || status=1
    echo; echo "=== Tryton on PostgreSQL: SKIPPED, no server answers at $PG_URI ==="
    echo "(set TEST_POSTGRESQL_URI to run it)"
fi

echo
echo "=== summary ($(( $(date +%s) - started )) s) ==="
awk -F'\t' '{printf "  %-30s %4d passed, %d failed, %d skipped, %5d s\n", $1, $2, $3, $4, $5; p+=$2; f+=$3; s+=$4}
    END {printf "%d passed, %d failed, %d skipped\n", p, f, s}' "$RESULTS"
exit $status
