# The preamble every component script (scripts/components/NAME.sh) sources: pinned versions and
# ports, the folders scripts/dev.sh exports (with their defaults when a script runs alone), and
# the log/die/alive helpers. `alive` checks the pid in $PIDF, which the script sets. (Not in
# scripts/components/, where scripts/dev.sh takes every *.sh for a component.)
# shellcheck source=versions.env
source "$(dirname "${BASH_SOURCE[0]}")/versions.env"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE="${FERRY_STATE_DIR:-$ROOT/.ferry}"
CACHE="${FERRY_CACHE:-$HOME/.cache/ferry}"
RUN="${FERRY_RUN:-$STATE/run}"
LOGS="${FERRY_LOGS:-$STATE/logs}"

log() { printf '[ferry dev] %s\n' "$*" >&2; }
die() { printf '[ferry dev] error: %s\n' "$*" >&2; exit 1; }
alive() { [[ -f "$PIDF" ]] && kill -0 "$(cat "$PIDF")" 2>/dev/null; }
