#!/usr/bin/env bash
# Full-load benchmark: Ferry (through the real workflow and worker) against a raw binary COPY
# pipe, pg_dump -Fd -j2 + pg_restore -j2, and pgcopydb clone, on the same two clusters, in one run.
#
#   bench/full-load.sh [SCALE=50] [RUNS=3]
#
# Dataset: pgbench -i -s SCALE plus `wide` (~500k rows of text, jsonb, bytea, timestamptz).
# Writes bench/results.md (full-load section) with the exact commands, medians, MB/s, ratios and
# the worker's peak RSS. Not part of the test suite: it takes minutes, and timings belong here.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/lib.sh"
cd "$ROOT"
SCALE="${1:-50}"
RUNS="${2:-3}"
DB=bench
OUT="$ROOT/bench/out"
mkdir -p "$OUT"

ensure_node_modules "$ROOT"
scripts/dev.sh up temporal pg >/dev/null
eval "$(scripts/dev.sh env)"
command -v pgcopydb >/dev/null || { apt-get install -y -q pgcopydb >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q pgcopydb >/dev/null; }; }

source "$ROOT/bench/lib.sh"
use_db "$DB"
export PGOPTIONS="-c client_min_messages=warning"

build_dataset() {
  if [[ "$(psql -X -At "${SRC%/*}/postgres" -c "SELECT count(*) FROM pg_database WHERE datname = '$DB'")" == 1 ]] &&
     [[ "$(src -At -c "SELECT obj_description('pgbench_accounts'::regclass)" 2>/dev/null)" == "scale=$SCALE" ]]; then
    echo "[bench] dataset at scale $SCALE already present" >&2; return
  fi
  echo "[bench] building dataset: pgbench -i -s $SCALE + 500k wide rows" >&2
  admin source "DROP DATABASE IF EXISTS $DB WITH (FORCE)"; admin source "CREATE DATABASE $DB"
  PGPASSWORD="$FERRY_SOURCE_PASSWORD" pgbench -q -i -s "$SCALE" -h 127.0.0.1 -p "$FERRY_SOURCE_PORT" -U postgres "$DB" >/dev/null 2>&1
  src <<'SQL'
CREATE TABLE wide (
  id bigint PRIMARY KEY, title text NOT NULL, body text NOT NULL, doc jsonb NOT NULL, blob bytea NOT NULL, at timestamptz NOT NULL
);
INSERT INTO wide
SELECT g, 'title ' || g, repeat(md5(g::text), 8), jsonb_build_object('n', g, 'tags', jsonb_build_array(g % 7, g % 11), 'md5', md5(g::text)),
       decode(repeat(md5((g * 7)::text), 4), 'hex'), timestamptz '2024-01-01' + g * interval '1 second'
FROM generate_series(1, 500000) g;
VACUUM ANALYZE;
SQL
  src -c "COMMENT ON TABLE pgbench_accounts IS 'scale=$SCALE'"
}


TABLES=(pgbench_accounts wide pgbench_history pgbench_tellers pgbench_branches)
run_raw_pipe() {
  pg_dump --section=pre-data "$SRC" | tgt >/dev/null
  printf '%s\n' "${TABLES[@]}" | xargs -P 2 -I{} bash -c \
    "psql -X -q '$SRC' -c 'COPY public.{} TO STDOUT (FORMAT binary)' | psql -X -q '$TGT' -c 'COPY public.{} FROM STDIN (FORMAT binary)'"
  pg_dump --section=post-data "$SRC" | tgt >/dev/null
}
run_dump_restore() {
  rm -rf "$OUT/dump"
  pg_dump -Fd -j2 -f "$OUT/dump" "$SRC"
  pg_restore -j2 -d "$TGT" "$OUT/dump"
}
run_pgcopydb() {
  rm -rf "$OUT/pgcopydb"
  pgcopydb clone --source "$SRC" --target "$TGT" --table-jobs 2 --index-jobs 2 --dir "$OUT/pgcopydb" >"$OUT/pgcopydb.log" 2>&1
}
# Ferry as it runs in production: compiled (`tsc`, as `npm run build` does, here into bench/out/dist)
# with a prebuilt workflow bundle, so neither tsx's on-the-fly compiling nor webpack bundling at
# start is part of the timing or of the worker's memory. Its own worker process on a private task
# queue (never the shared dev worker), started once and kept across the runs, as a long-running
# worker service is: one untimed migration first (COLD_SECONDS reports it), so the timed runs do not
# include the first workflow's start-up on a fresh worker. /proc/PID/status VmHWM is that process's
# peak resident set over all the runs.
BENCH_QUEUE="ferry-bench-$$"
PEAK_RSS_KB=0
WORKFLOW_SECONDS=""
COLD_SECONDS=""
declare -A PHASES
trap stop_worker EXIT
prepare_ferry() {
  [[ -n "$WORKER_PID" ]] && return
  start_ferry "$BENCH_QUEUE" bench bench
  local t0; t0="$(now)"
  run_ferry
  COLD_SECONDS="$(printf '%.1f' "$(echo "$(now) - $t0" | bc -l)")"
  reset_target
}
run_ferry() { run_ferry_cli "$BENCH_QUEUE"; }
finish_ferry() {
  # The worker's peak resident set so far (VmHWM), in kB.
  local hwm; hwm="$(awk '/VmHWM/ {print $2}' "/proc/$WORKER_PID/status")"
  (( hwm > PEAK_RSS_KB )) && PEAK_RSS_KB=$hwm
  # Where the time went: the workflow's own start/close and phase timings (the status `--wait --json` printed).
  cp "$OUT/ferry.log" "$OUT/ferry-status-$run.json"
  local summary
  summary="$(node -e '
    const s = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    const p = s.progress ?? s.result?.progress;
    const secs = (a, b) => ((Date.parse(b) - Date.parse(a)) / 1000).toFixed(1);
    const phases = p.timings.filter((t) => t.endedAt).map((t) => `${t.phase} ${secs(t.startedAt, t.endedAt)}`).join(", ");
    console.log(`${secs(s.startTime, s.closeTime)}|${phases}`);' "$OUT/ferry-status-$run.json" 2>/dev/null || echo '?|?')"
  WORKFLOW_SECONDS+="${summary%%|*} "
  PHASES[$run]="${summary#*|}"
}

# CPU by process group for each timed run (bench/cpu-usage.ts): source and target clusters, the
# Temporal server, Ferry's worker, and the tools this shell runs (the ferry CLI, pgcopydb and its
# pg_dump/pg_restore, psql); `other` is the rest of the machine's busy time.
# One node process (not tsx's launcher and a child), so the tool's own start is not in the shell's reaped time.
CPU_TOOL=(node --import tsx bench/cpu-usage.ts)
postmaster_of() { head -1 "$(psql -X -At "${1%/*}/postgres" -c 'SHOW data_directory')/postmaster.pid"; }
CPU_GROUPS=("source=$(postmaster_of "$SRC")" "target=$(postmaster_of "$TGT")" "tools=$$")
TEMPORAL_PIDFILE="${FERRY_STATE_DIR:-$ROOT/.ferry}/run/temporal.pid" # where scripts/dev.sh keeps it
[[ -f "$TEMPORAL_PIDFILE" ]] && CPU_GROUPS+=("temporal=$(cat "$TEMPORAL_PIDFILE")")
declare -A CPU
rm -f "$OUT"/cpu-*.jsonl
cpu_snap() { "${CPU_TOOL[@]}" snap "$OUT/cpu-before.json"; }
cpu_diff() { # METHOD: one JSON line per run (also kept in $OUT/cpu-METHOD.jsonl)
  local groups=("${CPU_GROUPS[@]}") line
  # Ferry's worker lives across the runs: in the other methods' runs its (idle) time is shown apart too, not as theirs.
  [[ -n "$WORKER_PID" ]] && groups+=("worker=$WORKER_PID")
  line="$("${CPU_TOOL[@]}" diff "$OUT/cpu-before.json" "${groups[@]}")"
  CPU[$1]+="$line"$'\n'
  echo "$line" >>"$OUT/cpu-$1.jsonl"
}

# Every timed run starts from a quiet machine: the previous method's dirty pages written out
# (CHECKPOINT on both clusters: its ~1 GB of WAL otherwise triggers a checkpoint that writes during
# the next run; sync for the files it wrote) and a pause for the writeback to finish. Without it a
# method ran slower after a heavier one: Ferry after pg_dump/pg_restore took 8.2 s median, 7.7 s
# after itself (its source and target used 0.6 core-seconds more).
quiesce() {
  admin source CHECKPOINT
  admin target CHECKPOINT
  sync
  sleep "${BENCH_PAUSE:-3}"
}

build_dataset
BYTES="$(src -At -c "SELECT sum(pg_table_size(c.oid)) FROM pg_class c WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace")"
declare -A TIMES
# BENCH_METHODS="ferry raw_pipe" limits a development run to some methods (the report needs all four).
read -r -a METHODS <<<"${BENCH_METHODS:-ferry raw_pipe pgcopydb dump_restore}"
# Each run starts one method later in the list (run 2: raw pipe, pgcopydb, dump/restore, ferry), so
# no method always follows the same one: what a method leaves behind (writeback, caches) falls on
# every method in turn.
for run in $(seq 1 "$RUNS"); do
  rot=$(( (run - 1) % ${#METHODS[@]} ))
  for m in "${METHODS[@]:rot}" "${METHODS[@]:0:rot}"; do
    reset_target
    if declare -F "prepare_$m" >/dev/null; then "prepare_$m"; fi
    quiesce
    cpu_snap
    t0="$(now)"
    "run_$m"
    t1="$(now)"
    cpu_diff "$m"
    if declare -F "finish_$m" >/dev/null; then "finish_$m"; fi
    dt="$(echo "$t1 - $t0" | bc -l)"
    TIMES[$m]+="$dt "
    printf '[bench] run %s %-13s %6.1f s\n' "$run" "$m" "$dt" >&2
  done
done

declare -A MED
for m in "${METHODS[@]}"; do MED[$m]="$(median <<<"${TIMES[$m]}")"; done
MB="$(echo "$BYTES / 1048576" | bc -l)"

{
  echo "## Full load (bench/full-load.sh $SCALE $RUNS), $(date -u +%Y-%m-%dT%H:%MZ)"
  echo
  echo "Machine: $(nproc) cores, $(free -g | awk '/Mem/ {print $2}') GiB; PostgreSQL $(psql -X -At "$SRC" -c 'SHOW server_version'); dataset pgbench scale $SCALE + 500k wide rows, $(printf '%.0f' "$MB") MB of table data. Source and target are two clusters on this machine."
  echo
  echo "| method | runs (s) | median (s) | MB/s | ratio vs pgcopydb | ratio vs raw pipe |"
  echo "| --- | --- | ---: | ---: | ---: | ---: |"
  # Three decimals: a ratio next to a target (0.9, 1.0) must not round onto it.
  ratio() { if [[ -n "${MED[$2]:-}" ]]; then printf '%.3f' "$(echo "$1 / ${MED[$2]}" | bc -l)"; else echo -; fi; }
  for m in "${METHODS[@]}"; do
    printf '| %s | %s | %.2f | %.1f | %s | %s |\n' "$m" "$(printf '%.2f ' ${TIMES[$m]})" "${MED[$m]}" "$(echo "$MB / ${MED[$m]}" | bc -l)" \
      "$(ratio "${MED[$m]}" pgcopydb)" "$(ratio "${MED[$m]}" raw_pipe)"
  done
  echo
  echo "CPU core-seconds per run, median of the runs (bench/cpu-usage.ts; $(nproc) cores give $(nproc) core-seconds per second of wall time):"
  echo
  echo "| method | busy | idle | steal | source | target | temporal | worker | tools | other |"
  echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
  for m in "${METHODS[@]}"; do
    node -e '
      const runs = require("fs").readFileSync(0, "utf8").trim().split("\n").map((l) => JSON.parse(l));
      const med = (k) => { const v = runs.map((r) => r[k]).filter((x) => x !== undefined).sort((a, b) => a - b); const n = v.length; return n ? (n % 2 ? v[(n - 1) / 2] : (v[n / 2 - 1] + v[n / 2]) / 2).toFixed(1) : "-"; };
      console.log(`| ${process.argv[1]} | ${["busy", "idle", "steal", "source", "target", "temporal", "worker", "tools", "other"].map(med).join(" | ")} |`);' "$m" <<<"${CPU[$m]}"
  done
  echo
  echo "Ferry worker peak RSS: $((PEAK_RSS_KB / 1024)) MB (one worker for all the runs). The untimed first migration on the freshly started worker took ${COLD_SECONDS:-?} s."
  echo
  echo "Ferry workflow start-to-close (Temporal's own times, without the CLI's start): ${WORKFLOW_SECONDS% } s, median $(median <<<"$WORKFLOW_SECONDS") s."
  echo "Ferry phases (s) per run:"
  for r in $(seq 1 "$RUNS"); do echo "- run $r: ${PHASES[$r]:-?}"; done
  echo
  echo "Commands (target database dropped and recreated before each run):"
  echo '- ferry: `node bench/out/dist/client/launcher.js start --wait --json bench/out/bench.yaml` (the `ferry` CLI as `npm run build` compiles it: one bundled file, started through its V8 code cache, which the untimed first migration writes; `--wait` follows the workflow'"'"'s result), timed from the CLI start to its exit; worker `node '"$FERRY_WORKER_NODE_FLAGS"' bench/out/dist/worker/main.js` with a prebuilt workflow bundle (`FERRY_WORKFLOW_BUNDLE`) on its own task queue, started once for all the runs, with one untimed migration before the first timed one; parallelism 2, fence off, validation none, fullLoad defaults (chunkTargetMB 256, wholeTableMaxMB 4096, splitLongPole auto, indexMemoryMB 1024, indexParallelWorkers 0); methods in turn, each run starting one method later in the list'
  echo '- raw_pipe: `pg_dump --section=pre-data | psql`; per table, two at a time, `COPY t TO STDOUT (FORMAT binary) | COPY t FROM STDIN (FORMAT binary)`; `pg_dump --section=post-data | psql`'
  echo '- dump_restore: `pg_dump -Fd -j2 -f DIR` then `pg_restore -j2 -d TARGET DIR`'
  echo '- pgcopydb: `pgcopydb clone --source SRC --target TGT --table-jobs 2 --index-jobs 2`'
} >"$OUT/full-load.md"
cat "$OUT/full-load.md"
