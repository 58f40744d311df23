# Helpers shared by the full-load benchmarks (full-load.sh, small-tables.sh): psql shortcuts, a
# median, and Ferry as both run it (compiled once per run, a worker on its own task queue, the
# same spec). Sourced after `eval "$(scripts/dev.sh env)"`; expects OUT.

# The database being measured, on both clusters.
use_db() {
  DB="$1"
  SRC="postgresql://postgres:$FERRY_SOURCE_PASSWORD@127.0.0.1:$FERRY_SOURCE_PORT/$DB"
  TGT="postgresql://postgres:$FERRY_TARGET_PASSWORD@127.0.0.1:$FERRY_TARGET_PORT/$DB"
}
src() { psql -X -q -v ON_ERROR_STOP=1 "$SRC" "$@"; }
tgt() { psql -X -q -v ON_ERROR_STOP=1 "$TGT" "$@"; }
admin() { # side sql
  local url=$SRC; [[ $1 == target ]] && url=$TGT
  psql -X -q -v ON_ERROR_STOP=1 "${url%/*}/postgres" -c "$2"
}
now() { date +%s.%N; }
reset_target() { admin target "DROP DATABASE IF EXISTS $DB WITH (FORCE)"; admin target "CREATE DATABASE $DB"; }
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

DIST="$OUT/dist"
BUNDLE="$OUT/workflow-bundle.js"
WORKER_PID=""
BUILT="" # compiled and bundled once per bench run, from the code as it is now
stop_worker() {
  [[ -n "$WORKER_PID" ]] || return 0
  kill -TERM "$WORKER_PID" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$WORKER_PID" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$WORKER_PID" 2>/dev/null || true
  WORKER_PID=""
}
build_ferry() {
  [[ -z "$BUILT" ]] || return 0
  rm -rf "$DIST"
  # Type errors elsewhere in a working tree do not stop tsc from emitting; a missing output does stop the bench.
  node_modules/.bin/tsc -p tsconfig.json --outDir "$DIST" >"$OUT/tsc.log" 2>&1 || echo "[bench] tsc reported errors (see $OUT/tsc.log)" >&2
  [[ -f "$DIST/worker/main.js" && -f "$DIST/client/cli.js" ]] || { cat "$OUT/tsc.log" >&2; exit 1; }
  node_modules/.bin/tsx scripts/build-workflow-bundle.ts "$BUNDLE" >/dev/null
  # The CLI as `npm run build` makes it: one bundled file and its launcher, with a code cache of
  # its own (the first, untimed migration writes the `start` command's cache).
  node_modules/.bin/tsx scripts/build-cli.ts "$DIST" >/dev/null
  rm -rf "$OUT/cli-cache"
  BUILT=1
}
# run_ferry_cli QUEUE: the migration in $OUT/bench.yaml, as a user runs it: `ferry start --wait
# --json` (the CLI follows the workflow's result, so it returns as the workflow closes, not at its
# next 2 s poll). Status JSON in $OUT/ferry.log, stderr in $OUT/ferry.err; exits the bench unless
# the outcome is completed.
run_ferry_cli() { # stdout (the final status as JSON) apart from stderr, so a warning cannot break its parsing
  FERRY_TASK_QUEUE="$1" FERRY_CLI_CACHE_DIR="$OUT/cli-cache" node ${CLI_NODE_ARGS:-} "$DIST/client/launcher.js" start --wait --json "$OUT/bench.yaml" >"$OUT/ferry.log" 2>"$OUT/ferry.err" ||
    { cat "$OUT/ferry.log" "$OUT/ferry.err" >&2; echo "[bench] ferry did not complete" >&2; exit 1; }
}

# start_ferry QUEUE WORKER_ID NAME: the compiled worker polling QUEUE (started before any clock
# starts), and $OUT/bench.yaml for migration NAME of $DB: parallelism 2, fence off, no validation.
# BENCH_SPEC_EXTRA: YAML lines appended to the spec, for development runs (e.g. 'fullLoad: { chunkTargetMB: 2000 }').
start_ferry() {
  build_ferry
  # WORKER_NODE_ARGS (CLI_NODE_ARGS): node options for the worker (the CLI), e.g. "--cpu-prof --cpu-prof-dir=DIR".
  FERRY_TASK_QUEUE="$1" FERRY_WORKER_ID="$2" FERRY_WORKFLOW_BUNDLE="$BUNDLE" \
    node $FERRY_WORKER_NODE_FLAGS ${WORKER_NODE_ARGS:-} "$DIST/worker/main.js" >"$OUT/worker.log" 2>&1 </dev/null &
  WORKER_PID=$!
  for _ in $(seq 1 600); do grep -q polling "$OUT/worker.log" && break; sleep 0.1; done
  grep -q polling "$OUT/worker.log" || { cat "$OUT/worker.log" >&2; echo "[bench] worker did not start" >&2; exit 1; }
  cat >"$OUT/bench.yaml" <<YAML
name: $3
source: { host: 127.0.0.1, port: $FERRY_SOURCE_PORT, database: $DB, user: postgres, password: "env:FERRY_SOURCE_PASSWORD", sslmode: disable }
target: { host: 127.0.0.1, port: $FERRY_TARGET_PORT, database: $DB, user: postgres, password: "env:FERRY_TARGET_PASSWORD", sslmode: disable }
parallelism: 2
cutover: { requireApproval: false }
fence: { enabled: false }
validation: { level: none }
${BENCH_SPEC_EXTRA:-}
YAML
}
