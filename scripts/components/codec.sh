#!/usr/bin/env bash
# Ferry's payload codec server (`ferry codec-server`, client/codecServer.ts) for the Temporal UI:
# payloads over 128 KiB are stored gzipped, and the UI shows them in clear through this server
# (scripts/dev.sh starts Temporal with --ui-codec-endpoint pointing here, and starts this with it).
#
#   bash scripts/components/codec.sh up|down|status|env
#
# `up` starts it in the background (the repository's tsx, so no build step), writes
# $FERRY_RUN/codec.pid and waits until it answers. `down` stops exactly that process group. Run by
# scripts/dev.sh, which exports FERRY_STATE_DIR, FERRY_CACHE, FERRY_RUN, FERRY_LOGS.
set -euo pipefail

# shellcheck source=../component-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../component-lib.sh"
PIDF="$RUN/codec.pid"
URL="http://127.0.0.1:$FERRY_CODEC_PORT"
mkdir -p "$RUN" "$LOGS"

# Ready when OUR process says it listens (a port taken by something else would answer a probe too).
ready() { grep -q 'ferry codec server on' "$LOGS/codec.log" 2>/dev/null; }

cmd_up() {
  local tsx="$ROOT/node_modules/.bin/tsx"
  [[ -x "$tsx" ]] || die "$tsx is missing (run 'npm install' in $ROOT); the codec server runs from this repository"
  if alive; then log "codec server already running (pid $(cat "$PIDF"))"; else
    log "starting the codec server on $URL (for the Temporal UI on :$FERRY_TEMPORAL_UI_PORT)"
    # setsid: a process-group leader, so `down` stops tsx and its node child together.
    setsid nohup "$tsx" --tsconfig "$ROOT/tsconfig.json" "$ROOT/client/cli.ts" codec-server --port "$FERRY_CODEC_PORT" \
      --origin "http://localhost:$FERRY_TEMPORAL_UI_PORT" "http://127.0.0.1:$FERRY_TEMPORAL_UI_PORT" \
      >"$LOGS/codec.log" 2>&1 </dev/null &
    echo $! >"$PIDF"
  fi
  local i
  for i in $(seq 1 120); do
    if ready && alive; then return 0; fi
    alive || { tail -20 "$LOGS/codec.log" >&2; die "the codec server exited during start (port $FERRY_CODEC_PORT taken? set FERRY_CODEC_PORT)"; }
    sleep 0.25
  done
  die "the codec server did not answer on $URL within 30s (see $LOGS/codec.log)"
}

cmd_down() {
  if alive; then
    log "stopping the codec server (pid $(cat "$PIDF"))"
    kill -TERM -- "-$(cat "$PIDF")" 2>/dev/null || kill -TERM "$(cat "$PIDF")" 2>/dev/null || true
    for _ in $(seq 1 40); do alive || break; sleep 0.25; done
  fi
  rm -f "$PIDF"
}

cmd_status() {
  if alive; then printf '%-10s running (pid %s)  %s\n' codec "$(cat "$PIDF")" "$URL"; else printf '%-10s stopped\n' codec; fi
}

# For the temporal CLI: `temporal workflow show --codec-endpoint "$FERRY_CODEC_ENDPOINT" ...`.
cmd_env() { echo "export FERRY_CODEC_ENDPOINT=$URL"; }

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  env) cmd_env ;;
  *) echo "usage: $0 up|down|status|env" >&2; exit 2 ;;
esac
