#!/usr/bin/env bash
# Point-in-time recovery benchmark: RPO under pgbench load (seconds of committed data at risk) and
# restore time, against a protected PostgreSQL 15 cluster made for the run, archiving to
# fake-gcs-server through the real protectionWorkflow / restoreWorkflow and a Ferry worker.
#
#   bench/pitr.sh [SCALE=50] [LOAD_SECONDS=60] [RUNS=3]
#
# Dataset: pgbench -i -s SCALE plus PITR_WIDE_ROWS (default 500000) rows of `wide`: the full-load
# bench dataset (bench/full-load.sh). For each WAL upload interval in PITR_INTERVALS_MS (default
# "1000 10000"; 10000 is the policy default) a protection is started (own base backup, own archive
# prefix), RPO is sampled every second while idle and during `pgbench -n -c 4 -j 2 -T LOAD_SECONDS`;
# on the last one, RUNS restores each to 'latest' and to a time T in the middle of the load go into
# new clusters, timed and checked. The driver is bench/pitr-driver.ts.
#
# Writes PITR_REPORT (default bench/pitr.md) and bench/out/pitr.json. Removes everything it
# created (clusters, protections, schedules, slots, the bucket); leaves the shared dev services
# (scripts/dev.sh up temporal pg gcs) running. Waits (up to PITR_WAIT_MINUTES, default 40) while
# bench/full-load.sh runs: two benchmarks on one small machine measure each other.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/lib.sh"
cd "$ROOT"
SCALE="${1:-50}"
LOAD_SECONDS="${2:-60}"
RUNS="${3:-3}"
WIDE_ROWS="${PITR_WIDE_ROWS:-500000}"
INTERVALS="${PITR_INTERVALS_MS:-1000 10000}"
REPORT="${PITR_REPORT:-$ROOT/bench/pitr.md}"
OUT="$ROOT/bench/out"
DB=bench
PG_BIN=/usr/lib/postgresql/15/bin
mkdir -p "$OUT"
log() { printf '[pitr-bench] %s\n' "$*" >&2; }
now() { date +%s.%N; }

# ---- one benchmark at a time
waited=0
while pgrep -f 'bench/full-load[.]sh' >/dev/null; do
  (( waited < ${PITR_WAIT_MINUTES:-40} )) || { log "bench/full-load.sh still running after $waited min; giving up"; exit 3; }
  log "bench/full-load.sh is running; waiting (${waited} min so far)"
  sleep 60; waited=$((waited + 1))
done

STARTED_AT="$(date +%s)"
ensure_node_modules "$ROOT"
scripts/dev.sh up temporal pg gcs >/dev/null
eval "$(scripts/dev.sh env)"

# ---- the protected cluster, in a temp dir (as test/integration/pitr-restore.test.ts makes it)
DIR="$(mktemp -d /tmp/ferry-pitr-bench-XXXXXX)"
chmod 755 "$DIR"
DRIVER_PID=""
as_pg() { if [[ "$(id -u)" == 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi; }
cleanup() {
  local rc=$?
  [[ -n "$DRIVER_PID" ]] && kill -TERM "$DRIVER_PID" 2>/dev/null && wait "$DRIVER_PID" 2>/dev/null || true
  # Every cluster under DIR (the protected one, any restore the driver did not remove).
  local pidfile
  for pidfile in "$DIR"/*/postmaster.pid; do
    [[ -f "$pidfile" ]] && as_pg "$PG_BIN/pg_ctl" -D "$(dirname "$pidfile")" -m immediate -w stop >/dev/null 2>&1 || true
  done
  rm -rf "$DIR"
  log "removed $DIR"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

PASSWORD="$(head -c 18 /dev/urandom | base64 | tr -d '/+=')"
PORT="$(node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"
printf '%s' "$PASSWORD" >"$DIR/pw"
[[ "$(id -u)" == 0 ]] && chown -R postgres "$DIR"
SETTINGS="wal_level = replica, max_wal_senders = 10, max_replication_slots = 10, track_commit_timestamp = on, fsync = off, shared_buffers = 256MB, max_connections = 50"
t0="$(now)"
log "initdb protected cluster in $DIR/protected (port $PORT)"
as_pg "$PG_BIN/initdb" -D "$DIR/protected" -U postgres --pwfile="$DIR/pw" --auth=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 >"$DIR/initdb.log" 2>&1 ||
  { cat "$DIR/initdb.log" >&2; exit 1; }
{
  echo "port = $PORT"
  echo "listen_addresses = '127.0.0.1'"
  echo "unix_socket_directories = '$DIR'"
  echo "log_min_messages = warning"
  tr ',' '\n' <<<"$SETTINGS" | sed 's/^ *//'
} >>"$DIR/protected/postgresql.auto.conf"
as_pg "$PG_BIN/pg_ctl" -D "$DIR/protected" -l "$DIR/protected.log" -w start >/dev/null

export PGPASSWORD="$PASSWORD" PGOPTIONS="-c client_min_messages=warning"
psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PORT" -U postgres postgres -c "CREATE DATABASE $DB"
log "loading: pgbench -i -s $SCALE + $WIDE_ROWS wide rows"
pgbench -q -i -s "$SCALE" -h 127.0.0.1 -p "$PORT" -U postgres "$DB" >"$DIR/pgbench-init.log" 2>&1 || { cat "$DIR/pgbench-init.log" >&2; exit 1; }
psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PORT" -U postgres "$DB" <<SQL
CREATE TABLE wide (
  id bigint PRIMARY KEY, title text NOT NULL, body text NOT NULL, doc jsonb NOT NULL, blob bytea NOT NULL, at timestamptz NOT NULL
);
INSERT INTO wide
SELECT g, 'title ' || g, repeat(md5(g::text), 8), jsonb_build_object('n', g, 'tags', jsonb_build_array(g % 7, g % 11), 'md5', md5(g::text)),
       decode(repeat(md5((g * 7)::text), 4), 'hex'), timestamptz '2024-01-01' + g * interval '1 second'
FROM generate_series(1, $WIDE_ROWS) g;
VACUUM ANALYZE;
CHECKPOINT;
SQL
SETUP_SECONDS="$(printf '%.0f' "$(echo "$(now) - $t0" | bc -l)")"
log "cluster ready in ${SETUP_SECONDS} s"
unset PGPASSWORD

# ---- the driver: worker, protections, load + RPO sampling, restores, report, cleanup of its own
PITR_DIR="$DIR" PITR_PG_PORT="$PORT" PITR_PG_PASSWORD="$PASSWORD" PITR_DATABASE="$DB" PITR_SCALE="$SCALE" PITR_WIDE_ROWS="$WIDE_ROWS" \
PITR_LOAD_SECONDS="$LOAD_SECONDS" PITR_RUNS="$RUNS" PITR_INTERVALS_MS="$INTERVALS" PITR_REPORT="$REPORT" PITR_JSON="$OUT/pitr.json" \
PITR_SETUP_SECONDS="$SETUP_SECONDS" PITR_STARTED_AT="$STARTED_AT" PITR_LOADAVG="$(cut -d' ' -f1-3 /proc/loadavg)" \
PITR_INVOCATION="bench/pitr.sh $SCALE $LOAD_SECONDS $RUNS; PITR_INTERVALS_MS=\"$INTERVALS\" PITR_WIDE_ROWS=$WIDE_ROWS" \
PITR_SETTINGS="$SETTINGS" \
PITR_INIT_COMMAND="\`createdb $DB\`, \`pgbench -i -s $SCALE $DB\`, the \`wide\` table of bench/full-load.sh with $WIDE_ROWS rows, \`VACUUM ANALYZE\`, \`CHECKPOINT\`" \
  node_modules/.bin/tsx bench/pitr-driver.ts &
DRIVER_PID=$!
rc=0
wait "$DRIVER_PID" || rc=$?
DRIVER_PID=""
exit "$rc"
