#!/usr/bin/env bash
# Ferry against Ferry: alternating runs of the full-load bench's migration with the default spec (A)
# and with extra spec lines (B), for changes smaller than the machine's drift from one minute to the
# next. Same worker, dataset, pause and CHECKPOINT before each run as bench/full-load.sh (run that
# first: it builds the dataset).
#
#   bench/ferry-ab.sh PAIRS 'B-YAML'     e.g. bench/ferry-ab.sh 5 'fullLoad: { wholeTableMaxMB: 0 }'
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/lib.sh"
cd "$ROOT"
PAIRS="${1:?usage: bench/ferry-ab.sh PAIRS B-YAML}"
B_YAML="${2:?usage: bench/ferry-ab.sh PAIRS B-YAML}"
OUT="$ROOT/bench/out"
mkdir -p "$OUT"
ensure_node_modules "$ROOT"
scripts/dev.sh up temporal pg >/dev/null
eval "$(scripts/dev.sh env)"
source "$ROOT/bench/lib.sh"
use_db bench
export PGOPTIONS="-c client_min_messages=warning"
QUEUE="ferry-ab-$$"
trap stop_worker EXIT
start_ferry "$QUEUE" ab bench
cp "$OUT/bench.yaml" "$OUT/ab-a.yaml"
{ cat "$OUT/ab-a.yaml"; echo "$B_YAML"; } >"$OUT/ab-b.yaml"
reset_target
cp "$OUT/ab-a.yaml" "$OUT/bench.yaml"
run_ferry_cli "$QUEUE" # untimed: the worker's first migration
declare -A TIMES
for _ in $(seq 1 "$PAIRS"); do
  for v in a b; do
    cp "$OUT/ab-$v.yaml" "$OUT/bench.yaml"
    reset_target
    admin source CHECKPOINT
    admin target CHECKPOINT
    sync
    sleep "${BENCH_PAUSE:-3}"
    t0="$(now)"
    run_ferry_cli "$QUEUE"
    dt="$(echo "$(now) - $t0" | bc -l)"
    TIMES[$v]+="$dt "
    printf '[ab] %s %6.2f s\n' "$v" "$dt" >&2
  done
done
for v in a b; do printf '%s: %s median %.2f s\n' "$v" "$(printf '%.2f ' ${TIMES[$v]})" "$(median <<<"${TIMES[$v]}")"; done
