// Planner statistics on the target after the load. A freshly loaded table has none until
// autovacuum gets to it, and autovacuum never analyzes a partitioned table's root at all; a
// cutover onto tables without statistics means bad plans in the first minutes of production
// (pgcopydb runs VACUUM ANALYZE for the same reason). A table is analyzed as soon as its data and
// indexes are in (copy.ts, after the early index build); finishLoad analyzes what that missed.
import type pg from 'pg';
import type { TableRef } from '../../../workflows/types';
import { qualify } from './sql';

/** ANALYZE one table of the target (after its indexes, so expression indexes get statistics too). */
export async function analyzeTable(tgt: pg.Client, table: TableRef): Promise<void> {
  await tgt.query(`ANALYZE ${qualify(table.schema, table.name)}`);
}

/**
 * The loaded tables still without statistics (never analyzed, by Ferry or autovacuum), and the
 * partitioned tables above loaded partitions: what finishLoad analyzes. Statistics counters may
 * lag a moment behind an ANALYZE on servers before 15, which at worst analyzes a table twice.
 */
export async function tablesToAnalyze(tgt: pg.Client, tables: TableRef[]): Promise<TableRef[]> {
  if (tables.length === 0) return [];
  const r = await tgt.query<{ schema: string; name: string }>(
    `WITH RECURSIVE loaded AS (
       SELECT c.oid, c.relkind FROM unnest($1::text[], $2::text[]) AS t(nspname, relname)
         JOIN pg_catalog.pg_namespace n ON n.nspname = t.nspname
         JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relname = t.relname),
     ancestors(oid) AS (
       SELECT i.inhparent FROM pg_catalog.pg_inherits i JOIN loaded l ON i.inhrelid = l.oid
       UNION SELECT i.inhparent FROM pg_catalog.pg_inherits i JOIN ancestors a ON i.inhrelid = a.oid),
     wanted AS (
       SELECT l.oid FROM loaded l LEFT JOIN pg_catalog.pg_stat_all_tables s ON s.relid = l.oid
        WHERE l.relkind = 'p' OR (s.last_analyze IS NULL AND s.last_autoanalyze IS NULL)
       UNION SELECT a.oid FROM ancestors a JOIN pg_catalog.pg_class c ON c.oid = a.oid WHERE c.relkind = 'p')
     SELECT n.nspname AS schema, c.relname AS name FROM wanted w
       JOIN pg_catalog.pg_class c ON c.oid = w.oid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      ORDER BY 1, 2`,
    [tables.map((t) => t.schema), tables.map((t) => t.name)],
  );
  return r.rows;
}
