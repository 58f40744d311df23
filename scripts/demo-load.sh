#!/usr/bin/env bash
# (Re)creates the demo database `shop`: filled on the source, empty on the target.
#   scripts/demo-load.sh [scale]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/versions.env"
eval "$("$ROOT/scripts/dev.sh" env)"
SCALE="${1:-1}"
psql_on() { # side db args...
  local side=$1 db=$2; shift 2
  local port=$FERRY_SOURCE_PORT pw=$FERRY_SOURCE_PASSWORD
  [[ $side == target ]] && { port=$FERRY_TARGET_PORT; pw=$FERRY_TARGET_PASSWORD; }
  PGOPTIONS="-c client_min_messages=warning" PGPASSWORD="$pw" psql -X -q -h 127.0.0.1 -p "$port" -U postgres -d "$db" -v ON_ERROR_STOP=1 "$@"
}
for side in source target; do
  psql_on "$side" postgres -c "DROP DATABASE IF EXISTS shop WITH (FORCE)" -c "CREATE DATABASE shop"
done
echo "[ferry demo] loading the demo dataset (scale $SCALE) into the source's 'shop' database" >&2
psql_on source shop -v scale="$SCALE" -f "$ROOT/scripts/demo-data.sql"
psql_on source shop -At -c "SELECT 'source shop: ' || pg_size_pretty(pg_database_size('shop'))" >&2
