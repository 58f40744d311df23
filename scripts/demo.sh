#!/usr/bin/env bash
# The demo: an offline PostgreSQL -> PostgreSQL migration of a ~60 MB shop database, end to end,
# on local defaults. Starts Temporal (UI http://localhost:8233), two PostgreSQL clusters and a
# Ferry worker, runs the migration through every phase, approves the cutover after a pause (a
# person does this in production), and compares every table on both sides. Everything keeps
# running afterwards so you can look around; `scripts/dev.sh down` stops it all.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/lib.sh"
cd "$ROOT"
APPROVE_AFTER="${FERRY_DEMO_APPROVE_AFTER:-5}"

ensure_node_modules "$ROOT"
# The compiled CLI (scripts/build-cli.ts, ~2 s): bin/ferry's commands below start in ~0.3 s, not ~1 s through tsx.
node_modules/.bin/tsx scripts/build-cli.ts dist >/dev/null
scripts/dev.sh up >/dev/null
eval "$(scripts/dev.sh env)"
scripts/demo-load.sh "${FERRY_DEMO_SCALE:-1}"
scripts/dev.sh worker-restart

ferry() { "$ROOT/bin/ferry" "$@"; }
# A previous demo still running (e.g. waiting for approval) is aborted first.
if ferry status demo --json 2>/dev/null | grep -q '"running": *true'; then
  ferry abort demo --reason "new demo run" >/dev/null || true
  ferry status demo --wait-end >/dev/null 2>&1 || sleep 5
fi

ferry start examples/demo.yaml
echo
echo "  Watch it: http://localhost:8233/namespaces/default/workflows/ferry-demo"
echo
for _ in $(seq 1 600); do
  phase="$(ferry status demo --json | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).progress?.phase ?? ""))')"
  [[ "$phase" == awaiting_cutover || "$phase" == awaiting_acknowledgement || "$phase" == failed || "$phase" == completed ]] && break
  sleep 1
done
ferry status demo
if [[ "$phase" == awaiting_acknowledgement || "$phase" == failed ]]; then
  echo "[ferry demo] the migration stopped in '$phase' (see above); fix it, then: bin/ferry acknowledge demo | bin/ferry retry demo" >&2
  exit 1
fi
if [[ "$phase" == awaiting_cutover ]]; then
  echo "[ferry demo] cutover is waiting for approval; approving in ${APPROVE_AFTER}s (ferry approve demo)"
  sleep "$APPROVE_AFTER"
  ferry approve demo --by demo-script
fi
ferry status demo --wait-end
scripts/compare.sh shop legacy=archive
echo
echo "[ferry demo] done. The Temporal UI keeps the history: http://localhost:8233 (FerryPhase = 'completed')."
echo "[ferry demo] stop everything with: scripts/dev.sh down"
