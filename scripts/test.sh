#!/usr/bin/env bash
# The test command: installs and starts what the tests need (node modules, Temporal dev server,
# two PostgreSQL clusters), then lint, typecheck, unit and integration suites against the real
# servers. Ends with one line 'N passed, N failed, N skipped'.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/lib.sh"
cd "$ROOT"

ensure_node_modules "$ROOT"
scripts/dev.sh up
echo "[ferry test] lint + typecheck" >&2
npx --no-install eslint .
npx --no-install tsc --noEmit -p tsconfig.json

mkdir -p .ferry
status=0
npx --no-install vitest run --reporter=default --reporter=json --outputFile=.ferry/test-results.json "$@" || status=$?
node -e '
  const r = JSON.parse(require("fs").readFileSync(".ferry/test-results.json", "utf8"));
  const skipped = (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
  console.log(`${r.numPassedTests} passed, ${r.numFailedTests} failed, ${skipped} skipped`);
  if (r.numTotalTests === 0) process.exit(1);
' || status=1
exit "$status"
