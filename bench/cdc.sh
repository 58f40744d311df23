#!/usr/bin/env bash
# CDC benchmark (issue #4): replication lag under `pgbench -n -N -c 4 -j 2 -T LOAD_SECONDS` on the
# source (p50/p99/max, catch-up after the load) for native logical replication (publication +
# subscription WITH (copy_data = false)) and for Ferry's online mode, measured the same way in the
# same run; then cutover downtime over RUNS small online migrations through the real workflow.
#
#   bench/cdc.sh [SCALE=10] [LOAD_SECONDS=60] [RUNS=5]
#
# CDC_SYSTEMS="native ferry" (default) limits the lag part; RUNS=0 skips the cutover runs.
# CDC_WORKER_NODE_ARGS passes node options to the worker (e.g. "--cpu-prof --cpu-prof-dir=DIR").
# Ferry runs as in production: compiled (tsc into bench/out/cdc-dist) with a prebuilt workflow
# bundle, its own worker process on a private task queue. The driver is bench/cdc-driver.ts.
# Writes CDC_REPORT (default bench/cdc.md) and bench/out/cdc.json. Creates databases ferry_cdc_bench
# (+ _native, _cut) on the dev clusters and drops them, their publications, subscriptions and
# slots at the end (also when interrupted); leaves the shared dev services running.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/lib.sh"
cd "$ROOT"
SCALE="${1:-10}"
LOAD_SECONDS="${2:-60}"
RUNS="${3:-5}"
REPORT="${CDC_REPORT:-$ROOT/bench/cdc.md}"
OUT="$ROOT/bench/out"
DIST="$OUT/cdc-dist"
BUNDLE="$OUT/cdc-workflow-bundle.js"
QUEUE="ferry-cdc-bench-$$"
TEMPORAL_BIN="$(command -v temporal || echo "${FERRY_CACHE:-$HOME/.cache/ferry}/bin/temporal")"
mkdir -p "$OUT"
log() { printf '[cdc-bench] %s\n' "$*" >&2; }

ensure_node_modules "$ROOT"
scripts/dev.sh up temporal pg >/dev/null
eval "$(scripts/dev.sh env)"
LOADAVG="$(cut -d' ' -f1-3 /proc/loadavg)"

log "building Ferry into $DIST and the workflow bundle"
rm -rf "$DIST"
# Type errors elsewhere in a working tree do not stop tsc from emitting; a missing output does stop the bench.
node_modules/.bin/tsc -p tsconfig.json --outDir "$DIST" >"$OUT/cdc-tsc.log" 2>&1 || log "tsc reported errors (see $OUT/cdc-tsc.log)"
[[ -f "$DIST/worker/main.js" ]] || { cat "$OUT/cdc-tsc.log" >&2; exit 1; }
node_modules/.bin/tsx scripts/build-workflow-bundle.ts "$BUNDLE" >"$OUT/cdc-bundle.log" 2>&1 || { cat "$OUT/cdc-bundle.log" >&2; exit 1; }

WORKER_PID=""
DRIVER_PID=""
stop_pid() {
  local pid=$1
  [[ -n "$pid" ]] || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
}
cleanup() {
  local rc=$?
  # The driver cleans up its migrations and databases on TERM; the worker must outlive it for aborts.
  stop_pid "$DRIVER_PID"
  # Whatever the driver could not clean up (killed, failed): abort our migrations while the worker
  # still runs (the abort drops the slot, publication and heartbeat table), then drop the rest.
  local m
  for m in cdc-bench cdc-bench-cut; do
    if FERRY_TASK_QUEUE="$QUEUE" timeout 20 node "$DIST/client/cli.js" status "$m" 2>/dev/null | grep -q 'status *RUNNING'; then
      log "aborting leftover migration $m"
      FERRY_TASK_QUEUE="$QUEUE" timeout 20 node "$DIST/client/cli.js" abort "$m" --reason "bench cleanup" >/dev/null 2>&1 || true
      timeout 120 "$TEMPORAL_BIN" workflow result --workflow-id "ferry-$m" >/dev/null 2>&1 || true
    fi
  done
  PGPASSWORD="$FERRY_TARGET_PASSWORD" psql -X -q -h 127.0.0.1 -p "$FERRY_TARGET_PORT" -U postgres ferry_cdc_bench_native \
    -c "DROP SUBSCRIPTION IF EXISTS ferry_cdc_bench_native" >/dev/null 2>&1 || true
  PGPASSWORD="$FERRY_SOURCE_PASSWORD" psql -X -q -h 127.0.0.1 -p "$FERRY_SOURCE_PORT" -U postgres postgres \
    -c "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = 'ferry_cdc_bench_native' AND NOT active" >/dev/null 2>&1 || true
  local db
  for db in ferry_cdc_bench ferry_cdc_bench_native ferry_cdc_bench_cut; do
    PGPASSWORD="$FERRY_SOURCE_PASSWORD" psql -X -q -h 127.0.0.1 -p "$FERRY_SOURCE_PORT" -U postgres postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
    PGPASSWORD="$FERRY_TARGET_PASSWORD" psql -X -q -h 127.0.0.1 -p "$FERRY_TARGET_PORT" -U postgres postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  done
  stop_pid "$WORKER_PID"
  # Nothing of ours may hold WAL on the shared source.
  local left
  left="$(PGPASSWORD="$FERRY_SOURCE_PASSWORD" psql -X -At -h 127.0.0.1 -p "$FERRY_SOURCE_PORT" -U postgres postgres \
    -c "SELECT string_agg(slot_name, ' ') FROM pg_replication_slots WHERE database LIKE 'ferry_cdc_bench%' OR slot_name LIKE 'ferry_cdc_bench%' OR slot_name LIKE 'ferry_ferry_cdc_bench%'" 2>/dev/null || true)"
  [[ -z "$left" ]] || log "WARNING: replication slot(s) left on the source: $left"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

FERRY_TASK_QUEUE="$QUEUE" FERRY_WORKER_ID=cdc-bench FERRY_WORKFLOW_BUNDLE="$BUNDLE" \
  node $FERRY_WORKER_NODE_FLAGS ${CDC_WORKER_NODE_ARGS:-} "$DIST/worker/main.js" >"$OUT/cdc-worker.log" 2>&1 </dev/null &
WORKER_PID=$!
for _ in $(seq 1 600); do grep -q polling "$OUT/cdc-worker.log" && break; sleep 0.1; done
grep -q polling "$OUT/cdc-worker.log" || { cat "$OUT/cdc-worker.log" >&2; log "worker did not start"; exit 1; }
log "worker $WORKER_PID polling $QUEUE; load average $LOADAVG"

CDC_TASK_QUEUE="$QUEUE" CDC_SCALE="$SCALE" CDC_LOAD_SECONDS="$LOAD_SECONDS" CDC_RUNS="$RUNS" \
CDC_REPORT="$REPORT" CDC_JSON="${CDC_JSON:-$OUT/cdc.json}" CDC_LOADAVG="$LOADAVG" \
CDC_INVOCATION="bench/cdc.sh $SCALE $LOAD_SECONDS $RUNS${CDC_SYSTEMS:+; CDC_SYSTEMS=\"$CDC_SYSTEMS\"}" \
  node_modules/.bin/tsx bench/cdc-driver.ts &
DRIVER_PID=$!
rc=0
wait "$DRIVER_PID" || rc=$?
DRIVER_PID=""
exit "$rc"
