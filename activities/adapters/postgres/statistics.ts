// Planner statistics on the target after the load. A freshly loaded table has none until
// autovacuum gets to it, and autovacuum never analyzes a partitioned table's parent at all; a
// cutover onto tables without statistics means bad plans in the first minutes of production
// (pgcopydb runs VACUUM ANALYZE for the same reason). A table is analyzed as soon as its data and
// indexes are in (copy.ts, after the early index build); finishLoad analyzes what that missed.
import type pg from 'pg';
import type { TableRef } from '../../../workflows/types';
import type { EngineContext } from '../engine';
import { SchemaCopyFailed } from '../errors';
import { cancelOnAbort, isConnectionLoss } from './connect';
import { displayName, qualify } from './sql';
import { CHUNK_TABLE } from './state';

/**
 * ANALYZE one table of the target (after its indexes, so expression indexes get statistics too);
 * a partitioned table's ANALYZE covers its partitions. Cancelled with ctx.signal.
 */
export async function analyzeTable(ctx: EngineContext, tgt: pg.Client, table: TableRef): Promise<void> {
  try {
    await cancelOnAbort(ctx, tgt, () => tgt.query(`ANALYZE ${qualify(table.schema, table.name)}`));
  } catch (err) {
    if (ctx.signal?.aborted || isConnectionLoss(err)) throw err;
    throw new SchemaCopyFailed(`ANALYZE of ${displayName(table.schema, table.name)} on the target failed: ${(err as Error)?.message ?? String(err)}`, { cause: err });
  }
}

/**
 * What finishLoad analyzes: the loaded tables Ferry has not analyzed since their last chunk
 * committed (an autovacuum ANALYZE part-way through a chunked load does not count), each partition
 * replaced by its topmost partitioned ancestor (whose ANALYZE covers every partition below it, and
 * which autovacuum never analyzes). Judged by the chunk markers' times, not n_mod_since_analyze:
 * the other chunk sessions report their inserts to the statistics up to seconds later, after the
 * early ANALYZE that already read their rows, which made every split table look changed.
 */
export async function tablesToAnalyze(tgt: pg.Client, migrationId: string, tables: TableRef[]): Promise<TableRef[]> {
  if (tables.length === 0) return [];
  const r = await tgt.query<{ schema: string; name: string }>(
    `WITH RECURSIVE loaded AS (
       SELECT c.oid, t.qualified FROM unnest($1::text[], $2::text[], $3::text[]) AS t(nspname, relname, qualified)
         JOIN pg_catalog.pg_namespace n ON n.nspname = t.nspname
         JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relname = t.relname),
     needs AS (
       SELECT l.oid FROM loaded l LEFT JOIN pg_catalog.pg_stat_all_tables s ON s.relid = l.oid
        WHERE s.relid IS NULL OR s.last_analyze IS NULL
           OR s.last_analyze < (SELECT max(m.committed_at) FROM ${CHUNK_TABLE} m WHERE m.migration_id = $4 AND m.source_table = l.qualified)),
     up(oid, ancestor) AS (
       SELECT i.inhrelid, i.inhparent FROM pg_catalog.pg_inherits i JOIN needs n ON i.inhrelid = n.oid
       UNION SELECT u.oid, i.inhparent FROM up u JOIN pg_catalog.pg_inherits i ON i.inhrelid = u.ancestor),
     top AS (
       SELECT u.oid, u.ancestor FROM up u JOIN pg_catalog.pg_class a ON a.oid = u.ancestor
        WHERE a.relkind = 'p' AND NOT EXISTS (
          SELECT 1 FROM pg_catalog.pg_inherits i JOIN pg_catalog.pg_class p ON p.oid = i.inhparent
           WHERE i.inhrelid = u.ancestor AND p.relkind = 'p')),
     wanted AS (SELECT DISTINCT coalesce(t.ancestor, n.oid) AS oid FROM needs n LEFT JOIN top t ON t.oid = n.oid)
     SELECT n.nspname AS schema, c.relname AS name FROM wanted w
       JOIN pg_catalog.pg_class c ON c.oid = w.oid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      ORDER BY 1, 2`,
    [tables.map((t) => t.schema), tables.map((t) => t.name), tables.map((t) => qualify(t.schema, t.name)), migrationId],
  );
  return r.rows;
}
