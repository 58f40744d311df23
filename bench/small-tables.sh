#!/usr/bin/env bash
# Many small tables (issue #3): Ferry's full load of 1,000 small tables against the same bytes in
# 10 tables, with pgcopydb clone as the baseline on the same datasets in the same session; and one
# migration of N (10,000) tiny tables, for the workflow's history length, payload sizes and phases.
#
#   bench/small-tables.sh compare [RUNS=3]     1,000 vs 10 tables: ferry and pgcopydb, RUNS each
#   bench/small-tables.sh many [N=10000]       one Ferry migration of N tiny tables (one int + text row each)
#   bench/small-tables.sh clean                drop the bench databases this script creates, on both clusters
#
# Conventions as bench/full-load.sh (which this does not change): Ferry compiled by `tsc` with a
# prebuilt workflow bundle, its own worker on a private task queue, started fresh for each run
# (full-load.sh keeps one across its runs) and polling before the clock starts; timed from `ferry
# start --wait`'s start to its exit (it follows the workflow's result); target database dropped
# and recreated before each run. Its own databases (bench_small_*), workflow ids
# (ferry-bench-small, ferry-bench-small-huge) and output folder (bench/out/small-tables/), so it
# never touches what full-load.sh uses. Writes bench/out/small-tables/compare.md and many/many.md. Not
# part of the test suite.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/lib.sh"
cd "$ROOT"
MODE="${1:-compare}"
OUT="$ROOT/bench/out/small-tables"
mkdir -p "$OUT"

ensure_node_modules "$ROOT"
scripts/dev.sh up temporal pg >/dev/null
eval "$(scripts/dev.sh env)"
command -v pgcopydb >/dev/null || { apt-get install -y -q pgcopydb >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q pgcopydb >/dev/null; }; }
export PGOPTIONS="-c client_min_messages=warning"
TEMPORAL_BIN="$(command -v temporal || echo "${FERRY_CACHE:-$HOME/.cache/ferry}/bin/temporal")"
TEMPORAL_ADDR="${TEMPORAL_ADDRESS:-127.0.0.1:7233}"
NAME=bench-small            # migration name; the workflow id is ferry-bench-small
WORKFLOW_ID="ferry-$NAME"
DB=""                       # the dataset being measured (use_db)
source "$ROOT/bench/lib.sh"
use_db bench_small_many
load() { cut -d' ' -f1-3 /proc/loadavg; }

# ---- datasets ---------------------------------------------------------------------------------
# `tables` tables t0001.. of `rows` rows each, the same row generator everywhere, so 1,000 x 1,000
# rows and 10 x 100,000 rows are the same rows and the same bytes. Columns: bigint key, text,
# integer, numeric, timestamptz, jsonb (~170 bytes a row on disk). Created 200 tables per
# transaction (lock table: max_locks_per_transaction 64).
ROWS_TOTAL="${ROWS_TOTAL:-1000000}"
build_tables() { # db tables rows kind(wide|tiny)
  local db=$1 tables=$2 rows=$3 kind=$4 tag="tables=$2 rows=$3 kind=$4"
  use_db "$db"
  if [[ "$(psql -X -At "${SRC%/*}/postgres" -c "SELECT count(*) FROM pg_database WHERE datname = '$db'")" == 1 ]] &&
     [[ "$(src -At -c "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = current_database()")" == "$tag" ]]; then
    echo "[bench] $db ($tag) already present" >&2; return
  fi
  echo "[bench] building $db: $tag" >&2
  admin source "DROP DATABASE IF EXISTS $db WITH (FORCE)"; admin source "CREATE DATABASE $db"
  local body
  if [[ $kind == wide ]]; then
    body="EXECUTE format('CREATE TABLE public.%I (id bigint PRIMARY KEY, name text NOT NULL, qty integer NOT NULL, price numeric(12,2) NOT NULL, at timestamptz NOT NULL, tags jsonb NOT NULL)', t);
          EXECUTE format('INSERT INTO public.%I SELECT g, ''item '' || g || '' '' || md5(g::text), mod(g, 1000), mod(g, 1000000) / 100.0,
                          timestamptz ''2024-01-01'' + g * interval ''1 second'', jsonb_build_object(''k'', mod(g, 7), ''v'', md5((g * 3)::text))
                          FROM generate_series(\$1 + 1, \$1 + \$2) g', t) USING (i - 1)::bigint * $rows, $rows;"
  else
    body="EXECUTE format('CREATE TABLE public.%I (id integer PRIMARY KEY, v text)', t);
          EXECUTE format('INSERT INTO public.%I SELECT g, ''row '' || g FROM generate_series(1, $rows) g', t);"
  fi
  local from to
  for ((from = 1; from <= tables; from += 200)); do
    to=$((from + 199 < tables ? from + 199 : tables))
    echo "DO \$\$ DECLARE t text; BEGIN FOR i IN $from..$to LOOP t := 't' || lpad(i::text, ${#tables}, '0'); $body END LOOP; END \$\$;"
  done | src
  src -c "VACUUM ANALYZE" -c "COMMENT ON DATABASE $db IS '$tag'"
}
table_bytes() { src -At -c "SELECT sum(pg_table_size(c.oid)) FROM pg_class c WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace"; }
total_bytes() { src -At -c "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace"; }
table_count() { src -At -c "SELECT count(*) FROM pg_class c WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace"; }

# ---- Ferry, as full-load.sh runs it -------------------------------------------------------------
BENCH_QUEUE="ferry-bench-small-$$"
trap stop_worker EXIT
prepare_ferry() { start_ferry "$BENCH_QUEUE" bench-small "$NAME"; }
run_ferry() { run_ferry_cli "$BENCH_QUEUE"; }
# After a Ferry run: stop the worker, then read the workflow's phases, history (events, bytes,
# largest payload) and the progress query's size. Sets FERRY_INFO (one line, for the report).
FERRY_INFO=""
finish_ferry() { # label
  local label=$1 hwm
  hwm="$(awk '/VmHWM/ {print $2}' "/proc/$WORKER_PID/status")"
  stop_worker
  FERRY_TASK_QUEUE="$BENCH_QUEUE" node "$DIST/client/cli.js" status "$NAME" --json >"$OUT/status-$label.json" 2>/dev/null || true
  "$TEMPORAL_BIN" workflow show --workflow-id "$WORKFLOW_ID" --address "$TEMPORAL_ADDR" -o json >"$OUT/history-$label.json" 2>/dev/null || true
  FERRY_INFO="$(node -e '
    const fs = require("fs");
    const [statusFile, historyFile, hwm] = process.argv.slice(1);
    const out = [];
    try {
      const s = JSON.parse(fs.readFileSync(statusFile, "utf8"));
      const p = s.progress ?? s.result?.progress;
      const secs = (a, b) => ((Date.parse(b) - Date.parse(a)) / 1000).toFixed(1);
      out.push(`workflow ${secs(s.startTime, s.closeTime)} s`);
      out.push(p.timings.filter((t) => t.endedAt).map((t) => `${t.phase} ${secs(t.startedAt, t.endedAt)}`).join(", "));
      out.push(`progress query ${(fs.statSync(statusFile).size / 1024).toFixed(0)} KiB (status --json)`);
    } catch (e) { out.push(`status: ${e.message}`); }
    try {
      const h = JSON.parse(fs.readFileSync(historyFile, "utf8"));
      const events = h.events ?? [];
      const count = (t) => events.filter((e) => e.eventType === t || e.eventType === `EVENT_TYPE_${t.replace(/([A-Z])/g, "_$1").replace(/^_/, "").toUpperCase()}`).length;
      let big = { size: 0, what: "" };
      for (const e of events) {
        const size = JSON.stringify(e).length;
        if (size > big.size) {
          const a = e.activityTaskScheduledEventAttributes ?? e.activityTaskCompletedEventAttributes;
          big = { size, what: `event ${e.eventId} ${e.eventType}${a?.activityType ? ` ${a.activityType.name}` : ""}` };
        }
      }
      const scheduled = events.filter((e) => e.activityTaskScheduledEventAttributes);
      const copies = scheduled.filter((e) => e.activityTaskScheduledEventAttributes.activityType.name === "copyChunks").length;
      out.push(`history ${events.length} events, ${(fs.statSync(historyFile).size / 1048576).toFixed(1)} MB as JSON, ${scheduled.length} activities (${copies} copyChunks), largest event ${(big.size / 1024).toFixed(0)} KiB (${big.what})`);
    } catch (e) { out.push(`history: ${e.message}`); }
    out.push(`worker peak RSS ${Math.round(Number(hwm) / 1024)} MB`);
    console.log(out.join("; "));' "$OUT/status-$label.json" "$OUT/history-$label.json" "${hwm:-0}")"
}
run_pgcopydb() {
  rm -rf "$OUT/pgcopydb"
  pgcopydb clone --source "$SRC" --target "$TGT" --table-jobs 2 --index-jobs 2 --dir "$OUT/pgcopydb" >"$OUT/pgcopydb.log" 2>&1
}
# Compares the two sides: tables and rows must match (a quick check that a run really copied everything).
check_copy() {
  local s t
  s="$(src -At -c "SELECT count(*), sum(n_live_tup) FROM pg_stat_user_tables")"
  t="$(tgt -At -c "ANALYZE" -c "SELECT count(*), sum(n_live_tup) FROM pg_stat_user_tables WHERE schemaname = 'public'")"
  [[ "$s" == "$t" ]] || echo "[bench] WARNING: source (tables|rows) $s, target $t" >&2
}

clean() {
  for db in bench_small_many bench_small_few bench_small_huge; do
    use_db "$db"; admin source "DROP DATABASE IF EXISTS $db WITH (FORCE)"; admin target "DROP DATABASE IF EXISTS $db WITH (FORCE)"
  done
  echo "[bench] dropped bench_small_many, bench_small_few, bench_small_huge on both clusters" >&2
}

compare() {
  local runs="${1:-3}"
  build_tables bench_small_many 1000 $((ROWS_TOTAL / 1000)) wide
  build_tables bench_small_few 10 $((ROWS_TOTAL / 10)) wide
  build_ferry
  declare -A TIMES BYTES TOTAL COUNT INFO LOADS
  for db in bench_small_many bench_small_few; do
    use_db "$db"; BYTES[$db]="$(table_bytes)"; TOTAL[$db]="$(total_bytes)"; COUNT[$db]="$(table_count)"
  done
  local start_load; start_load="$(load)"
  for run in $(seq 1 "$runs"); do
    for db in bench_small_many bench_small_few; do
      for m in ferry pgcopydb; do
        use_db "$db"
        reset_target
        [[ $m == ferry ]] && prepare_ferry
        sync
        local l t0 t1 dt
        l="$(load)"
        t0="$(now)"; "run_$m"; t1="$(now)"
        check_copy
        [[ $m == ferry ]] && { finish_ferry "$db-$run"; INFO[$db-$run]="$FERRY_INFO"; }
        dt="$(echo "$t1 - $t0" | bc -l)"
        TIMES[$db-$m]+="$dt "
        LOADS[$db-$m-$run]="$l"
        printf '[bench] run %s %-16s %-8s %6.1f s (load %s)\n' "$run" "$db" "$m" "$dt" "$l" >&2
      done
    done
  done
  local end_load; end_load="$(load)"
  declare -A MED
  for k in "${!TIMES[@]}"; do MED[$k]="$(median <<<"${TIMES[$k]}")"; done
  {
    echo "## Small tables: 1,000 tables vs the same bytes in 10 (bench/small-tables.sh compare $runs), $(date -u +%Y-%m-%dT%H:%MZ)"
    echo
    echo "Machine: $(nproc) cores, $(free -g | awk '/Mem/ {print $2}') GiB; PostgreSQL $(src -At -c 'SHOW server_version'); source and target are two clusters on this machine. Load average (1/5/15 min) at the start $start_load, at the end $end_load."
    echo
    echo "| dataset | tables | rows | table MB (pg_table_size) | with indexes MB |"
    echo "| --- | ---: | ---: | ---: | ---: |"
    for db in bench_small_many bench_small_few; do
      printf '| %s | %s | %s | %.1f | %.1f |\n' "$db" "${COUNT[$db]}" "$ROWS_TOTAL" "$(echo "${BYTES[$db]} / 1048576" | bc -l)" "$(echo "${TOTAL[$db]} / 1048576" | bc -l)"
    done
    echo
    echo "| dataset | method | runs (s) | median (s) | MB/s | tables/s | vs pgcopydb | 1,000 tables vs 10 |"
    echo "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |"
    for db in bench_small_many bench_small_few; do
      for m in ferry pgcopydb; do
        local med=${MED[$db-$m]}
        printf '| %s | %s | %s | %.1f | %.1f | %.1f | %.2f | %s |\n' "$db" "$m" "$(printf '%.1f ' ${TIMES[$db-$m]})" "$med" \
          "$(echo "${BYTES[$db]} / 1048576 / $med" | bc -l)" "$(echo "${COUNT[$db]} / $med" | bc -l)" "$(echo "$med / ${MED[$db-pgcopydb]}" | bc -l)" \
          "$([[ $db == bench_small_many ]] && printf '%.2f x' "$(echo "$med / ${MED[bench_small_few-$m]}" | bc -l)" || echo -)"
      done
    done
    echo
    echo "Load average (1/5/15) at each run's start:"
    for run in $(seq 1 "$runs"); do
      echo "- run $run: many/ferry ${LOADS[bench_small_many-ferry-$run]}, many/pgcopydb ${LOADS[bench_small_many-pgcopydb-$run]}, few/ferry ${LOADS[bench_small_few-ferry-$run]}, few/pgcopydb ${LOADS[bench_small_few-pgcopydb-$run]}"
    done
    echo
    echo "Ferry per run (Temporal's own start-to-close, phases in s, workflow history, progress query size, worker peak RSS):"
    for run in $(seq 1 "$runs"); do
      for db in bench_small_many bench_small_few; do echo "- run $run $db: ${INFO[$db-$run]}"; done
    done
    echo
    echo "Commands (target database dropped and recreated before each run; runs interleaved: many/ferry, many/pgcopydb, few/ferry, few/pgcopydb):"
    echo '- ferry: `node bench/out/small-tables/dist/client/cli.js start --wait --json bench/out/small-tables/bench.yaml`, timed from the CLI start to its exit (`--wait` follows the workflow'"'"'s result); worker `node bench/out/small-tables/dist/worker/main.js` with a prebuilt workflow bundle, started and polling before the clock starts, on its own task queue; parallelism 2, fence off, validation none, fullLoad.chunkTargetMB default (256)'
    echo '- pgcopydb: `pgcopydb clone --source SRC --target TGT --table-jobs 2 --index-jobs 2` (0.10, Debian package)'
  } >"$OUT/compare.md"
  cat "$OUT/compare.md"
}

many() {
  local n="${1:-10000}"
  # Its own workflow id, worker build and outputs: it may run while a `compare` is going on.
  NAME=bench-small-huge; WORKFLOW_ID="ferry-$NAME"; BENCH_QUEUE="ferry-bench-small-huge-$$"
  OUT="$OUT/many"; DIST="$OUT/dist"; BUNDLE="$OUT/workflow-bundle.js"; mkdir -p "$OUT"
  build_tables bench_small_huge "$n" 1 tiny
  use_db bench_small_huge
  build_ferry
  local bytes count l0 l1 t0 t1 dt dump_s restore_s
  bytes="$(table_bytes)"; count="$(table_count)"
  # The schema step alone, as provision runs it: pg_dump --schema-only -Fc, pg_restore --section=pre-data --single-transaction.
  reset_target
  t0="$(now)"; pg_dump -d "$SRC" --schema-only -Fc -f "$OUT/huge-schema.dump" --no-tablespaces -n public; t1="$(now)"
  dump_s="$(echo "$t1 - $t0" | bc -l)"
  t0="$(now)"
  pg_restore -l "$OUT/huge-schema.dump" | grep -v ' SCHEMA ' >"$OUT/huge-schema.list"
  restore_s="$(pg_restore -d "$TGT" --section=pre-data --single-transaction --exit-on-error --no-owner --no-privileges -L "$OUT/huge-schema.list" "$OUT/huge-schema.dump" 2>"$OUT/huge-restore.log" && echo ok || echo "failed: $(grep -m1 ERROR "$OUT/huge-restore.log")")"
  t1="$(now)"
  restore_s="$(printf '%.1f s, %s' "$(echo "$t1 - $t0" | bc -l)" "$restore_s")"
  rm -f "$OUT/huge-schema.dump"
  reset_target
  prepare_ferry
  sync
  l0="$(load)"
  # Like run_ferry, but a step that fails leaves the workflow waiting in phase `failed`: then the
  # failure is recorded and the migration aborted (which times the abort's cleanup of N tables).
  local outcome=completed abort_s=""
  t0="$(now)"
  FERRY_TASK_QUEUE="$BENCH_QUEUE" node "$DIST/client/cli.js" start "$OUT/bench.yaml" >"$OUT/ferry.log" 2>&1 || { cat "$OUT/ferry.log" >&2; exit 1; }
  "$TEMPORAL_BIN" workflow result --workflow-id "$WORKFLOW_ID" --address "$TEMPORAL_ADDR" >>"$OUT/ferry.log" 2>&1 &
  local waiter=$!
  while kill -0 "$waiter" 2>/dev/null; do
    sleep 2
    if FERRY_TASK_QUEUE="$BENCH_QUEUE" node "$DIST/client/cli.js" status "$NAME" --json 2>/dev/null | grep -q '"phase": *"failed"'; then
      outcome="failed: $(FERRY_TASK_QUEUE="$BENCH_QUEUE" node "$DIST/client/cli.js" status "$NAME" --json 2>/dev/null | node -e 'const s=JSON.parse(require("fs").readFileSync(0,"utf8"));const p=s.progress??s;console.log(`${p.lastError?.step}: ${p.lastError?.message}`)')"
      echo "[bench] the migration failed ($outcome); aborting it" >&2
      local a0; a0="$(now)"
      node "$DIST/client/cli.js" abort "$NAME" --reason "bench: $outcome" >/dev/null
      wait "$waiter" || true
      abort_s="$(printf '%.1f' "$(echo "$(now) - $a0" | bc -l)")"
      break
    fi
  done
  wait "$waiter" 2>/dev/null || true
  t1="$(now)"
  l1="$(load)"
  [[ $outcome == completed ]] && check_copy
  finish_ferry huge
  dt="$(echo "$t1 - $t0" | bc -l)"
  printf '[bench] %s tiny tables: ferry %.1f s, %s\n' "$count" "$dt" "$outcome" >&2
  {
    echo "## $count tiny tables (bench/small-tables.sh many $n), $(date -u +%Y-%m-%dT%H:%MZ)"
    echo
    echo "Machine: $(nproc) cores, $(free -g | awk '/Mem/ {print $2}') GiB; PostgreSQL $(src -At -c 'SHOW server_version'). Dataset bench_small_huge: $count tables \`(id integer PRIMARY KEY, v text)\`, one row each, $(printf '%.1f' "$(echo "$bytes / 1048576" | bc -l)") MB of table data. Load average (1/5/15) before $l0, after $l1."
    echo
    echo "- Ferry, CLI start to result: $(printf '%.1f' "$dt") s ($(printf '%.0f' "$(echo "$count / $dt" | bc -l)") tables/s), outcome: $outcome${abort_s:+ (abort, its cleanup included: $abort_s s)}"
    echo "- $FERRY_INFO"
    echo "- The schema step alone, by hand: \`pg_dump --schema-only -Fc\` $(printf '%.1f' "$dump_s") s; \`pg_restore --section=pre-data --single-transaction\` $restore_s"
  } >"$OUT/many.md"
  cat "$OUT/many.md"
}

case "$MODE" in
  compare) compare "${2:-3}" ;;
  many) many "${2:-10000}" ;;
  clean) clean ;;
  *) echo "usage: bench/small-tables.sh compare [RUNS] | many [N] | clean" >&2; exit 2 ;;
esac
