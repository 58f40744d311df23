#!/usr/bin/env bash
# Validation benchmark: checksum (and full row-hash) validation throughput of the native
# PostgreSQL engine's validate(), on two identical databases on the dev clusters.
#
#   bench/validate.sh [SCALE=10] [RUNS=3]
#
# Dataset: the full-load bench database `bench` when it exists on both clusters (after
# bench/full-load.sh migrated it); else `bench_validate`, built identically on both sides with
# pgbench -i -s SCALE plus `wide` (SCALE*10k rows of text, jsonb, bytea, timestamptz).
# MB/s = total size of the compared tables on the source (pg_total_relation_size) / wall time.
# Writes bench/validation.md.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
SCALE="${1:-10}"
RUNS="${2:-3}"
OUT="$ROOT/bench/out"
mkdir -p "$OUT"
if pgrep -f full-load.sh >/dev/null; then echo "[bench] bench/full-load.sh is running: not benchmarking now" >&2; exit 1; fi
scripts/dev.sh up temporal pg >/dev/null
eval "$(scripts/dev.sh env)"
export PGOPTIONS="-c client_min_messages=warning"
url() { local side=$1 db=$2; if [[ $side == source ]]; then echo "postgresql://postgres:$FERRY_SOURCE_PASSWORD@127.0.0.1:$FERRY_SOURCE_PORT/$db"; else echo "postgresql://postgres:$FERRY_TARGET_PASSWORD@127.0.0.1:$FERRY_TARGET_PORT/$db"; fi; }
has_db() { [[ "$(psql -X -At "$(url "$1" postgres)" -c "SELECT count(*) FROM pg_database WHERE datname = '$2'")" == 1 ]]; }

DB=bench
if ! { has_db source bench && has_db target bench && psql -X -At "$(url target bench)" -c "SELECT 1 FROM pgbench_accounts LIMIT 1" >/dev/null 2>&1; }; then
  DB=bench_validate
  for side in source target; do
    if has_db "$side" "$DB" && [[ "$(psql -X -At "$(url "$side" "$DB")" -c "SELECT obj_description('pgbench_accounts'::regclass)" 2>/dev/null)" == "scale=$SCALE" ]]; then continue; fi
    echo "[bench] building $DB on $side: pgbench -i -s $SCALE + $((SCALE * 10000)) wide rows" >&2
    psql -X -q "$(url "$side" postgres)" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB"
    pw=$FERRY_SOURCE_PASSWORD; port=$FERRY_SOURCE_PORT
    [[ $side == target ]] && { pw=$FERRY_TARGET_PASSWORD; port=$FERRY_TARGET_PORT; }
    PGPASSWORD="$pw" pgbench -q -i -s "$SCALE" -h 127.0.0.1 -p "$port" -U postgres "$DB" >/dev/null 2>&1
    psql -X -q -v ON_ERROR_STOP=1 "$(url "$side" "$DB")" <<SQL
CREATE TABLE wide (id bigint PRIMARY KEY, title text NOT NULL, body text NOT NULL, doc jsonb NOT NULL, blob bytea NOT NULL, at timestamptz NOT NULL);
INSERT INTO wide SELECT g, 'title ' || g, repeat(md5(g::text), 8), jsonb_build_object('n', g, 'tags', jsonb_build_array(g % 7, g % 11), 'md5', md5(g::text)),
       decode(repeat(md5((g * 7)::text), 4), 'hex'), timestamptz '2024-01-01' + g * interval '1 second' FROM generate_series(1, $((SCALE * 10000))) g;
VACUUM ANALYZE;
COMMENT ON TABLE pgbench_accounts IS 'scale=$SCALE';
SQL
  done
fi

cat > "$OUT/validate-bench.ts" <<'TS'
import { validate } from '../../activities/adapters/postgres/validate';
import { loadSelection } from '../../activities/adapters/postgres/catalog';
import { connectEndpoint, closeClient } from '../../activities/adapters/postgres/connect';
import { parseSpec } from '../../workflows/spec';
const [db, level, runs] = [process.argv[2]!, process.argv[3] as 'checksums' | 'full', Number(process.argv[4])];
const ep = (p: string, pw: string) => ({ host: '127.0.0.1', port: Number(p), database: db, user: 'postgres', password: pw, sslmode: 'disable' as const });
const source = ep(process.env.FERRY_SOURCE_PORT!, process.env.FERRY_SOURCE_PASSWORD!);
const target = ep(process.env.FERRY_TARGET_PORT!, process.env.FERRY_TARGET_PASSWORD!);
const spec = parseSpec({ name: 'bench', source: { ...source, password: 'env:X' }, target: { ...target, password: 'env:X' }, tables: { include: ['public.pgbench_*', 'public.wide'] }, validation: { level } });
async function main() {
  const c = await connectEndpoint(source);
  const sel = await loadSelection(c, spec);
  const r = await c.query<{ b: string }>('SELECT sum(pg_total_relation_size(o))::int8::text AS b FROM unnest($1::oid[]) o', [sel.roots.map((t) => t.oid)]);
  await closeClient(c);
  const bytes = Number(r.rows[0]!.b);
  const times: number[] = [];
  let rows = 0;
  for (let i = 0; i < runs; i++) {
    const t0 = process.hrtime.bigint();
    const report = await validate({ migrationId: 'bench', spec, source, target, workerId: 'bench' }, sel.mappings);
    times.push(Number(process.hrtime.bigint() - t0) / 1e9);
    if (report.status !== 'match') throw new Error(`bench databases differ: ${JSON.stringify(report.tables.filter((t) => t.status !== 'match'))}`);
    rows = report.tables.reduce((n, t) => n + t.sourceRows, 0);
  }
  times.sort((a, b) => a - b);
  const median = times[Math.floor(times.length / 2)]!;
  console.log(JSON.stringify({ level, tables: sel.roots.length, rows, mb: bytes / 1048576, median, mbps: bytes / 1048576 / median, times }));
}
void main().then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });
TS
echo "[bench] validating $DB ($RUNS runs per level)" >&2
CHK=$(npx vite-node "$OUT/validate-bench.ts" "$DB" checksums "$RUNS" 2>/dev/null | tail -1)
FULL=$(npx vite-node "$OUT/validate-bench.ts" "$DB" full 1 2>/dev/null | tail -1)
echo "$CHK"; echo "$FULL"
field() { node -e "const o=JSON.parse(process.argv[1]); console.log(typeof o[process.argv[2]]==='number' ? o[process.argv[2]].toFixed(process.argv[3]??1) : o[process.argv[2]])" "$1" "$2" "${3:-1}"; }
cat > bench/validation.md <<MD
## Validation throughput (native-postgres validate)

\`bench/validate.sh $SCALE $RUNS\` on $(date -u +%Y-%m-%d), $(nproc) cores shared, PostgreSQL 15 source and target on this machine.
Dataset \`$DB\`: $(field "$CHK" tables 0) tables, $(field "$CHK" rows 0) rows, $(field "$CHK" mb) MB on the source (tables + indexes + TOAST).

| level | what runs | wall time (median) | throughput |
| --- | --- | --- | --- |
| checksums | count + md5 row-hash checksum per table, both sides in parallel (match: no narrowing needed); schema comparison | $(field "$CHK" median 2) s | **$(field "$CHK" mbps) MB/s** |
| full | every row's (key, md5) compared in ranges of 1000 keys, both sides streamed in key order (1 run) | $(field "$FULL" median 2) s | $(field "$FULL" mbps) MB/s |

MB/s is source bytes (pg_total_relation_size of the compared tables) over wall time; the work
runs inside the two servers (md5 of each row's text), the worker receives only counts and
checksums (checksums level) or keys and hashes (full level).
MD
cat bench/validation.md
