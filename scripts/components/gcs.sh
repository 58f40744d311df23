#!/usr/bin/env bash
# fake-gcs-server, the Google Cloud Storage emulator the PITR tests and the demo archive to.
#
#   bash scripts/components/gcs.sh up|down|status|env
#
# `up` builds the pinned version once into $FERRY_CACHE/bin (a stamp file records the tag, since
# `go install` builds carry no version), starts it in the background (objects on disk under
# $FERRY_STATE_DIR/gcs), writes $FERRY_RUN/gcs.pid and waits until it answers. `down` stops exactly
# that pid. Run by scripts/dev.sh, which exports FERRY_STATE_DIR, FERRY_CACHE, FERRY_RUN, FERRY_LOGS.
set -euo pipefail

# shellcheck source=../component-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../component-lib.sh"
PIDF="$RUN/gcs.pid"
BIN="$CACHE/bin/fake-gcs-server"
mkdir -p "$RUN" "$LOGS" "$CACHE/bin"

ready() { curl -fsS -o /dev/null "http://127.0.0.1:$FERRY_GCS_PORT/storage/v1/b" 2>/dev/null; }

install_bin() {
  if [[ -x "$BIN" && "$(cat "$BIN.version" 2>/dev/null)" == "$FAKE_GCS_SERVER_VERSION" ]]; then return; fi
  command -v go >/dev/null 2>&1 || die "no Go toolchain to build fake-gcs-server $FAKE_GCS_SERVER_VERSION"
  log "building fake-gcs-server $FAKE_GCS_SERVER_VERSION (once; cached in $CACHE/bin)"
  GOBIN="$CACHE/bin" GOFLAGS=-mod=mod go install "github.com/fsouza/fake-gcs-server@$FAKE_GCS_SERVER_VERSION" \
    >"$LOGS/gcs-build.log" 2>&1 || { tail -20 "$LOGS/gcs-build.log" >&2; die "fake-gcs-server build failed"; }
  echo "$FAKE_GCS_SERVER_VERSION" >"$BIN.version"
}

cmd_up() {
  install_bin
  if alive; then log "fake-gcs-server already running (pid $(cat "$PIDF"))"; else
    mkdir -p "$STATE/gcs"
    log "starting fake-gcs-server on :$FERRY_GCS_PORT (objects in $STATE/gcs)"
    setsid nohup "$BIN" -scheme http -host 127.0.0.1 -port "$FERRY_GCS_PORT" \
      -external-url "http://127.0.0.1:$FERRY_GCS_PORT" -backend filesystem -filesystem-root "$STATE/gcs" \
      -log-level warn >"$LOGS/gcs.log" 2>&1 </dev/null &
    echo $! >"$PIDF"
  fi
  local i
  for i in $(seq 1 60); do
    # Ready only if OUR process answers (another server on the port would answer too).
    if ready && alive; then sleep 0.2; alive && return 0; fi
    alive || { tail -20 "$LOGS/gcs.log" >&2; die "fake-gcs-server exited during start"; }
    sleep 0.25
  done
  die "fake-gcs-server did not answer on :$FERRY_GCS_PORT within 15s (see $LOGS/gcs.log)"
}

cmd_down() {
  if alive; then
    log "stopping fake-gcs-server (pid $(cat "$PIDF"))"
    kill "$(cat "$PIDF")" 2>/dev/null || true
    for _ in $(seq 1 40); do alive || break; sleep 0.25; done
  fi
  rm -f "$PIDF"
}

cmd_status() {
  if alive; then printf '%-10s running (pid %s)  http://127.0.0.1:%s\n' gcs "$(cat "$PIDF")" "$FERRY_GCS_PORT"
  else printf '%-10s stopped\n' gcs; fi
}

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  env) echo "export FERRY_GCS_ENDPOINT=http://127.0.0.1:$FERRY_GCS_PORT" ;;
  *) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
