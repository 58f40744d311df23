#!/usr/bin/env bash
# moto's server: a local emulation of the AWS APIs the aws-dms engine calls (DMS, Secrets Manager).
# Component contract of scripts/dev.sh:
#
#   bash scripts/components/moto.sh up       install moto[server] into a venv under $FERRY_CACHE (once, version-stamped)
#                                            and start moto_server on 127.0.0.1:$FERRY_MOTO_PORT (idempotent)
#   bash scripts/components/moto.sh down     stop exactly the pid `up` started
#   bash scripts/components/moto.sh status   one line: running or stopped
#   bash scripts/components/moto.sh env      export lines: FERRY_DMS_ENDPOINT and dummy AWS credentials/region
#
# moto moves no data and emulates DMS only partly: see docs/dms.md's support matrix.
set -euo pipefail

# shellcheck source=../component-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../component-lib.sh"
VENV="$CACHE/moto-venv"
PIDF="$RUN/moto.pid"
URL="http://127.0.0.1:$FERRY_MOTO_PORT"


ready() {
  # moto answers its own dashboard API once the server is up.
  "$VENV/bin/python" - "$URL" <<'EOF' >/dev/null 2>&1
import sys, urllib.request
urllib.request.urlopen(sys.argv[1] + "/moto-api/data.json", timeout=2).read()
EOF
}

install() {
  local stamp="$VENV/.ferry-moto-version"
  if [[ -x "$VENV/bin/moto_server" && "$(cat "$stamp" 2>/dev/null)" == "$MOTO_VERSION" ]]; then return; fi
  command -v python3 >/dev/null 2>&1 || die "python3 is needed for moto's server"
  log "installing moto[server] $MOTO_VERSION into $VENV (once)"
  mkdir -p "$CACHE" "$LOGS"
  rm -rf "$VENV"
  { python3 -m venv "$VENV" && "$VENV/bin/pip" install -q "moto[server]==$MOTO_VERSION"; } >"$LOGS/moto-install.log" 2>&1 ||
    { tail -20 "$LOGS/moto-install.log" >&2; rm -rf "$VENV"; die "moto install failed (log: $LOGS/moto-install.log)"; }
  echo "$MOTO_VERSION" >"$stamp"
}

up() {
  install
  mkdir -p "$RUN" "$LOGS"
  if alive; then
    log "moto already running on :$FERRY_MOTO_PORT (pid $(cat "$PIDF"))"
  else
    log "starting moto server $MOTO_VERSION on :$FERRY_MOTO_PORT"
    setsid nohup "$VENV/bin/moto_server" -H 127.0.0.1 -p "$FERRY_MOTO_PORT" >"$LOGS/moto.log" 2>&1 </dev/null &
    echo $! >"$PIDF"
  fi
  local _
  for _ in $(seq 1 120); do
    ready && return 0
    alive || { tail -20 "$LOGS/moto.log" >&2; die "moto exited during start (port $FERRY_MOTO_PORT taken?)"; }
    sleep 0.25
  done
  die "moto did not answer on $URL within 30s (log: $LOGS/moto.log)"
}

down() {
  if alive; then
    local pid
    pid="$(cat "$PIDF")"
    log "stopping moto (pid $pid)"
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
  fi
  rm -f "$PIDF"
}

status() {
  if alive; then printf '%-10s running (pid %s)  %s\n' moto "$(cat "$PIDF")" "$URL"; else printf '%-10s stopped\n' moto; fi
}

env_lines() {
  # Dummy credentials: moto accepts any; real AWS uses the worker's normal credential chain instead.
  cat <<EOF
export FERRY_DMS_ENDPOINT=$URL
export FERRY_SECRETS_MANAGER_ENDPOINT=$URL
export AWS_ACCESS_KEY_ID=\${AWS_ACCESS_KEY_ID:-testing}
export AWS_SECRET_ACCESS_KEY=\${AWS_SECRET_ACCESS_KEY:-testing}
export AWS_REGION=\${AWS_REGION:-us-east-1}
EOF
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  env) env_lines ;;
  *) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
