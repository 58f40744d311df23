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

SRC="postgresql://postgres:$FERRY_SOURCE_PASSWORD@127.0.0.1:$FERRY_SOURCE_PORT/$DB"
TGT="postgresql://postgres:$FERRY_TARGET_PASSWORD@127.0.0.1:$FERRY_TARGET_PORT/$DB"
export PGOPTIONS="-c client_min_messages=warning"
src() { psql -X -q -v ON_ERROR_STOP=1 "$SRC" "$@"; }
tgt() { psql -X -q -v ON_ERROR_STOP=1 "$TGT" "$@"; }
admin() { # side sql
  local url=$SRC; [[ $1 == target ]] && url=$TGT
  psql -X -q -v ON_ERROR_STOP=1 "${url%/*}/postgres" -c "$2"
}

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

reset_target() { admin target "DROP DATABASE IF EXISTS $DB WITH (FORCE)"; admin target "CREATE DATABASE $DB"; }
now() { date +%s.%N; }

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
PEAK_RSS_KB=0
run_ferry() {
  scripts/dev.sh worker-restart >/dev/null 2>&1
  local pid; pid="$(cat .ferry/run/worker.pid)"
  cat >"$OUT/bench.yaml" <<EOF
name: bench
source: { host: 127.0.0.1, port: $FERRY_SOURCE_PORT, database: $DB, user: postgres, password: "env:FERRY_SOURCE_PASSWORD", sslmode: disable }
target: { host: 127.0.0.1, port: $FERRY_TARGET_PORT, database: $DB, user: postgres, password: "env:FERRY_TARGET_PASSWORD", sslmode: disable }
parallelism: 2
cutover: { requireApproval: false }
fence: { enabled: false }
validation: { level: none }
EOF
  bin/ferry start "$OUT/bench.yaml" --wait >"$OUT/ferry.log" 2>&1
  # The worker's peak resident set over its whole life (VmHWM), in kB.
  local hwm; hwm="$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")"
  (( hwm > PEAK_RSS_KB )) && PEAK_RSS_KB=$hwm
  scripts/dev.sh worker-restart >/dev/null 2>&1 # leave no bench worker state behind
}

build_dataset
BYTES="$(src -At -c "SELECT sum(pg_table_size(c.oid)) FROM pg_class c WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace")"
declare -A TIMES
METHODS=(ferry raw_pipe pgcopydb dump_restore)
for run in $(seq 1 "$RUNS"); do
  for m in "${METHODS[@]}"; do
    reset_target
    sync
    t0="$(now)"
    "run_$m"
    t1="$(now)"
    dt="$(echo "$t1 - $t0" | bc -l)"
    TIMES[$m]+="$dt "
    printf '[bench] run %s %-13s %6.1f s\n' "$run" "$m" "$dt" >&2
  done
done

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
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
  for m in "${METHODS[@]}"; do
    printf '| %s | %s | %.1f | %.1f | %.2f | %.2f |\n' "$m" "${TIMES[$m]% }" "${MED[$m]}" "$(echo "$MB / ${MED[$m]}" | bc -l)" \
      "$(echo "${MED[$m]} / ${MED[pgcopydb]}" | bc -l)" "$(echo "${MED[$m]} / ${MED[raw_pipe]}" | bc -l)"
  done
  echo
  echo "Ferry worker peak RSS: $((PEAK_RSS_KB / 1024)) MB."
  echo
  echo "Commands (target database dropped and recreated before each run):"
  echo '- ferry: `bin/ferry start bench/out/bench.yaml --wait` (worker `tsx worker/main.ts`; parallelism 2, fence off, validation none)'
  echo '- raw_pipe: `pg_dump --section=pre-data | psql`; per table, two at a time, `COPY t TO STDOUT (FORMAT binary) | COPY t FROM STDIN (FORMAT binary)`; `pg_dump --section=post-data | psql`'
  echo '- dump_restore: `pg_dump -Fd -j2 -f DIR` then `pg_restore -j2 -d TARGET DIR`'
  echo '- pgcopydb: `pgcopydb clone --source SRC --target TGT --table-jobs 2 --index-jobs 2`'
} >"$OUT/full-load.md"
cat "$OUT/full-load.md"
