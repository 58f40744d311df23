#!/usr/bin/env bash
# Compares every user table, view and materialized view of DATABASE on the source and target
# clusters: row count and an order-independent checksum, each computed inside its own database.
# Exit 1 on any difference.
#   scripts/compare.sh DATABASE [schema-rename source=target ...]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
eval "$("$ROOT/scripts/dev.sh" env)"
DB="$1"; shift || true
read -r -d '' Q <<'SQL' || true
SELECT n.nspname AS schema, c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('r','p','v','m') AND NOT c.relispartition
   AND n.nspname NOT IN ('pg_catalog','information_schema','ferry') AND n.nspname NOT LIKE 'pg_toast%' ORDER BY 1, 2;
SQL
sums() { # side -> lines "schema.table rows checksum"
  local port=$FERRY_SOURCE_PORT pw=$FERRY_SOURCE_PASSWORD
  [[ $1 == target ]] && { port=$FERRY_TARGET_PORT; pw=$FERRY_TARGET_PASSWORD; }
  local psqlc=(psql -X -At -F ' ' -h 127.0.0.1 -p "$port" -U postgres -d "$DB" -v ON_ERROR_STOP=1)
  PGPASSWORD="$pw" "${psqlc[@]}" -c "$Q" | while read -r s t; do
    PGPASSWORD="$pw" "${psqlc[@]}" -c "SET TimeZone='UTC'" -c \
      "SELECT '$s.$t', count(*), coalesce(sum(('x' || substr(md5(x::text), 1, 16))::bit(64)::bigint::numeric), 0) FROM \"$s\".\"$t\" x" | grep -v '^SET$'
  done
}
src="$(sums source)"; tgt="$(sums target)"
for map in "$@"; do src="$(sed "s/^${map%%=*}\./${map#*=}./" <<<"$src")"; done
src="$(sort <<<"$src")"; tgt="$(sort <<<"$tgt")"
printf '%-34s %12s %12s  %s\n' table "rows(src)" "rows(tgt)" checksum
join -a1 -a2 -e MISSING -o 0,1.2,2.2,1.3,2.3 <(echo "$src") <(echo "$tgt") | while read -r t rs rt cs ct; do
  status=match; [[ "$rs" == "$rt" && "$cs" == "$ct" ]] || status=MISMATCH
  printf '%-34s %12s %12s  %s\n' "$t" "$rs" "$rt" "$status"
done
if [[ "$src" == "$tgt" ]]; then echo "[ferry compare] every table matches (rows and checksums)"; else echo "[ferry compare] DIFFERENCES found" >&2; exit 1; fi
