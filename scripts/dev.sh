#!/usr/bin/env bash
# Ferry's local development environment: Temporal dev server (UI on 8233, decoding Ferry's gzipped
# payloads through its codec server, started with it) and two PostgreSQL clusters (source and
# target, wal_level=logical), all under .ferry/ in the repository.
#
#   scripts/dev.sh up [temporal|pg|COMPONENT]...
#                                        install what is missing, start what is stopped (idempotent);
#                                        no argument: everything. COMPONENT = scripts/components/NAME.sh
#   scripts/dev.sh down                  stop exactly what `up` started, by pid
#   scripts/dev.sh status                what runs, where
#   scripts/dev.sh env                   export lines for the worker and the CLI (eval "$(scripts/dev.sh env)")
#   scripts/dev.sh worker-restart        (re)start a Ferry worker in the background (log in .ferry/logs/worker.log)
#
# Builds are cached outside the clone in $FERRY_CACHE (default ~/.cache/ferry) so a fresh clone
# on a warm machine starts in seconds.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=versions.env
source "$ROOT/scripts/versions.env"
# shellcheck source=lib.sh
source "$ROOT/scripts/lib.sh"
STATE="${FERRY_STATE_DIR:-$ROOT/.ferry}"
CACHE="${FERRY_CACHE:-$HOME/.cache/ferry}"
RUN="$STATE/run"
LOGS="$STATE/logs"
SECRETS="$STATE/secrets"
mkdir -p "$RUN" "$LOGS" "$SECRETS" "$CACHE/bin"
# Component scripts (scripts/components/NAME.sh up|down|status|env) see the same folders.
export FERRY_STATE_DIR="$STATE" FERRY_CACHE="$CACHE" FERRY_RUN="$RUN" FERRY_LOGS="$LOGS"
COMPONENTS=()
for f in "$ROOT"/scripts/components/*.sh; do [[ -e "$f" ]] && COMPONENTS+=("$(basename "$f" .sh)"); done
component() { bash "$ROOT/scripts/components/$1.sh" "$2"; }

log() { printf '[ferry dev] %s\n' "$*" >&2; }
die() { printf '[ferry dev] error: %s\n' "$*" >&2; exit 1; }

alive() { [[ -f "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

# ---------------------------------------------------------------- Temporal
temporal_bin() {
  if command -v temporal >/dev/null 2>&1; then command -v temporal; return; fi
  local cached="$CACHE/bin/temporal"
  # `go install` builds report version 0.0.0-DEV: a stamp file records which tag was built.
  if [[ -x "$cached" && "$(cat "$cached.version" 2>/dev/null)" == "$TEMPORAL_CLI_VERSION" ]]; then
    echo "$cached"; return
  fi
  command -v go >/dev/null 2>&1 || die "no temporal on PATH and no Go toolchain to build it"
  log "building temporal CLI $TEMPORAL_CLI_VERSION (once; cached in $CACHE/bin)"
  GOBIN="$CACHE/bin" GOFLAGS=-mod=mod go install "github.com/temporalio/cli/cmd/temporal@$TEMPORAL_CLI_VERSION" \
    >"$LOGS/temporal-build.log" 2>&1 || { cat "$LOGS/temporal-build.log" >&2; die "temporal CLI build failed"; }
  echo "$TEMPORAL_CLI_VERSION" >"$cached.version"
  echo "$cached"
}

SEARCH_ATTRIBUTES=(FerryPhase=Keyword FerryEngine=Keyword FerryMigration=Keyword FerryMode=Keyword FerryLagSeconds=Double)

temporal_up() {
  local bin pidf="$RUN/temporal.pid"
  bin="$(temporal_bin)"
  if alive "$pidf"; then log "temporal already running (pid $(cat "$pidf"))"; else
    mkdir -p "$STATE/temporal"
    # The UI decodes Ferry's gzipped payloads through the codec server (started below, with it).
    local args=(server start-dev --ip 127.0.0.1 --port "$FERRY_TEMPORAL_PORT" --ui-port "$FERRY_TEMPORAL_UI_PORT"
      --ui-codec-endpoint "http://127.0.0.1:$FERRY_CODEC_PORT" --db-filename "$STATE/temporal/dev.db" --log-level warn
      # A write-ahead log instead of SQLite's default rollback journal: every workflow and activity
      # task is a few small writes, and with the journal each fsyncs twice. A crash of the server
      # process loses nothing; power loss can lose the last transactions (this is the dev server).
      # Measured: its CPU per bench migration went from 0.51-0.57 to 0.38-0.41 core-s.
      --sqlite-pragma journal_mode=wal --sqlite-pragma synchronous=normal)
    for sa in "${SEARCH_ATTRIBUTES[@]}"; do args+=(--search-attribute "$sa"); done
    log "starting temporal dev server on :$FERRY_TEMPORAL_PORT (UI http://localhost:$FERRY_TEMPORAL_UI_PORT)"
    setsid nohup "$bin" "${args[@]}" >"$LOGS/temporal.log" 2>&1 </dev/null &
    echo $! >"$pidf"
  fi
  local i
  for i in $(seq 1 120); do
    if "$bin" operator cluster health --address "127.0.0.1:$FERRY_TEMPORAL_PORT" >/dev/null 2>&1; then break; fi
    alive "$pidf" || { tail -20 "$LOGS/temporal.log" >&2; die "temporal exited during start"; }
    sleep 0.5
  done
  # Registered by start-dev on a new db; make sure on an existing one too (idempotent).
  local existing
  existing="$("$bin" operator search-attribute list --address "127.0.0.1:$FERRY_TEMPORAL_PORT" 2>/dev/null || true)"
  for sa in "${SEARCH_ATTRIBUTES[@]}"; do
    grep -q "${sa%%=*}" <<<"$existing" ||
      "$bin" operator search-attribute create --address "127.0.0.1:$FERRY_TEMPORAL_PORT" --name "${sa%%=*}" --type "${sa#*=}" >/dev/null
  done
  # The UI is set to use it: whenever Temporal is up, so is the codec server.
  codec_up
}

# Only the UI's view of gzipped payloads needs the codec server: a failure is a warning, not the end of `up`.
codec_up() {
  component codec up || log "warning: the codec server did not start (see $LOGS/codec.log); the UI shows payloads over 128 KiB as binary/gzip"
}

# ---------------------------------------------------------------- PostgreSQL
pg_bindir() {
  local d="/usr/lib/postgresql/$POSTGRES_MAJOR/bin"
  if [[ ! -x "$d/initdb" ]]; then
    command -v apt-get >/dev/null 2>&1 || die "PostgreSQL $POSTGRES_MAJOR not found in $d and no apt-get to install it"
    log "installing PostgreSQL $POSTGRES_MAJOR from Debian"
    { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "postgresql-$POSTGRES_MAJOR" "postgresql-client-$POSTGRES_MAJOR"; } \
      >"$LOGS/apt.log" 2>&1 || { tail -20 "$LOGS/apt.log" >&2; die "apt-get install postgresql-$POSTGRES_MAJOR failed"; }
  fi
  echo "$d"
}

# initdb runs as a non-root user; root (CI, containers) hands the folders to `postgres` or `nobody`.
pg_run_as() {
  if [[ "$(id -u)" != 0 ]]; then "$@"; return; fi
  local user=postgres
  id "$user" >/dev/null 2>&1 || user=nobody
  chown -R "$user" "$STATE/pg" "$LOGS" "$RUN" "$SECRETS"
  runuser -u "$user" -- "$@"
}

pg_cluster_up() {
  local name="$1" port="$2" bindir dir="$STATE/pg/$1" pwfile="$SECRETS/$1-password"
  bindir="$(pg_bindir)"
  mkdir -p "$STATE/pg"
  [[ -s "$pwfile" ]] || { head -c 18 /dev/urandom | base64 | tr -d '/+=' >"$pwfile"; chmod 600 "$pwfile"; }
  if [[ ! -f "$dir/PG_VERSION" ]]; then
    log "initdb $name cluster in $dir"
    rm -rf "$dir"; mkdir -p "$dir"; chmod 700 "$dir"
    pg_run_as "$bindir/initdb" -D "$dir" -U postgres --pwfile="$pwfile" --auth=scram-sha-256 \
      --encoding=UTF8 --locale=C.UTF-8 >"$LOGS/initdb-$name.log" 2>&1 ||
      { cat "$LOGS/initdb-$name.log" >&2; die "initdb $name failed"; }
    cat >>"$dir/postgresql.conf" <<EOF

# --- ferry dev settings
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$RUN'
wal_level = logical
max_replication_slots = 20
max_wal_senders = 20
max_connections = 200
shared_buffers = 256MB
fsync = off
synchronous_commit = off
full_page_writes = off
log_min_messages = warning
EOF
  fi
  if pg_run_as "$bindir/pg_ctl" -D "$dir" status >/dev/null 2>&1; then
    log "$name cluster already running on :$port"
  else
    log "starting $name cluster on :$port"
    pg_run_as "$bindir/pg_ctl" -D "$dir" -l "$LOGS/pg-$name.log" -w -t 60 start >/dev/null ||
      { tail -20 "$LOGS/pg-$name.log" >&2; die "$name cluster did not start"; }
  fi
  head -1 "$dir/postmaster.pid" >"$RUN/pg-$name.pid"
}

pg_up() {
  pg_cluster_up source "$FERRY_SOURCE_PORT"
  pg_cluster_up target "$FERRY_TARGET_PORT"
}

# ---------------------------------------------------------------- worker
worker_stop() {
  local pidf="$RUN/worker.pid"
  if alive "$pidf"; then
    log "stopping ferry worker (pid $(cat "$pidf"))"
    kill -TERM -- "-$(cat "$pidf")" 2>/dev/null || kill -TERM "$(cat "$pidf")" 2>/dev/null || true
    for _ in $(seq 1 60); do alive "$pidf" || break; sleep 0.25; done
  fi
  rm -f "$pidf"
}

worker_restart() {
  worker_stop
  eval "$(cmd_env)"
  log "starting ferry worker (log: $LOGS/worker.log)"
  cd "$ROOT"
  # setsid makes the worker a process-group leader: `down` stops it and its node child together.
  setsid nohup "$ROOT/node_modules/.bin/tsx" $FERRY_WORKER_NODE_FLAGS worker/main.ts >"$LOGS/worker.log" 2>&1 </dev/null &
  echo $! >"$RUN/worker.pid"
  for _ in $(seq 1 120); do
    grep -q 'polling' "$LOGS/worker.log" 2>/dev/null && return
    alive "$RUN/worker.pid" || { tail -20 "$LOGS/worker.log" >&2; die "worker exited during start"; }
    sleep 0.5
  done
  die "worker did not start within 60s (see $LOGS/worker.log)"
}

# ---------------------------------------------------------------- commands
cmd_up() {
  local parts=("$@")
  [[ ${#parts[@]} -gt 0 ]] || parts=(temporal pg "${COMPONENTS[@]}")
  for p in "${parts[@]}"; do
    case "$p" in
      temporal) temporal_up ;;
      pg) pg_up ;;
      codec) codec_up ;;
      *) [[ -f "$ROOT/scripts/components/$p.sh" ]] || die "unknown component '$p'"
         component "$p" up ;;
    esac
  done
  cmd_status
}

cmd_down() {
  worker_stop
  local c
  for c in "${COMPONENTS[@]}"; do component "$c" down || true; done
  local bindir="/usr/lib/postgresql/$POSTGRES_MAJOR/bin" name
  for name in source target; do
    if [[ -f "$STATE/pg/$name/postmaster.pid" ]] && alive "$RUN/pg-$name.pid"; then
      log "stopping $name cluster"
      pg_run_as "$bindir/pg_ctl" -D "$STATE/pg/$name" -m fast -w stop >/dev/null || true
    fi
    rm -f "$RUN/pg-$name.pid"
  done
  if alive "$RUN/temporal.pid"; then
    log "stopping temporal (pid $(cat "$RUN/temporal.pid"))"
    kill "$(cat "$RUN/temporal.pid")" 2>/dev/null || true
    for _ in $(seq 1 40); do alive "$RUN/temporal.pid" || break; sleep 0.25; done
  fi
  rm -f "$RUN/temporal.pid"
}

cmd_status() {
  local s
  for s in temporal pg-source pg-target worker; do
    if alive "$RUN/$s.pid"; then printf '%-10s running (pid %s)\n' "$s" "$(cat "$RUN/$s.pid")"; else printf '%-10s stopped\n' "$s"; fi
  done
  local c
  for c in "${COMPONENTS[@]}"; do component "$c" status || true; done
  printf 'temporal   127.0.0.1:%s  UI http://localhost:%s\n' "$FERRY_TEMPORAL_PORT" "$FERRY_TEMPORAL_UI_PORT"
  printf 'source     postgresql://postgres@127.0.0.1:%s\n' "$FERRY_SOURCE_PORT"
  printf 'target     postgresql://postgres@127.0.0.1:%s\n' "$FERRY_TARGET_PORT"
}

cmd_env() {
  cat <<EOF
export TEMPORAL_ADDRESS=127.0.0.1:$FERRY_TEMPORAL_PORT
export FERRY_SOURCE_PORT=$FERRY_SOURCE_PORT
export FERRY_TARGET_PORT=$FERRY_TARGET_PORT
export FERRY_SOURCE_PASSWORD="\$(cat '$SECRETS/source-password')"
export FERRY_TARGET_PASSWORD="\$(cat '$SECRETS/target-password')"
export PATH="$(dirname "$(temporal_bin)"):/usr/lib/postgresql/$POSTGRES_MAJOR/bin:\$PATH"
EOF
  local c
  for c in "${COMPONENTS[@]}"; do component "$c" env; done
}

case "${1:-}" in
  up) shift; cmd_up "$@" ;;
  down) cmd_down ;;
  status) cmd_status ;;
  env) cmd_env ;;
  worker-restart) worker_restart ;;
  *) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
