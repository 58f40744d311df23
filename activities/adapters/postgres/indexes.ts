// A table's indexes and key constraints, built as soon as its last chunk is in, while other
// tables are still being copied (what pgcopydb does; pg_restore of the whole post-data section
// would wait for every table). Only what can be rebuilt exactly from the catalog is built here:
// plain indexes and PRIMARY KEY / UNIQUE / EXCLUDE constraints of an ordinary table that is not a
// partition. A table with anything more (a clustered or replica-identity index, comments or
// statistics targets on its indexes, partition indexes) is left whole to finishLoad, whose
// pg_restore skips what already exists, so both paths together build everything exactly once.
import type pg from 'pg';
import type { MigrationSpec } from '../../../workflows/spec';
import type { TableRef } from '../../../workflows/types';
import { inTransaction } from './connect';
import { qualify, quoteIdent } from './sql';

export interface IndexStatement {
  /** Index or constraint name (what finishLoad's existence check looks for). */
  name: string;
  kind: 'index' | 'constraint';
  sql: string;
}

/**
 * The statements that build `table`'s indexes and key constraints (constraints first), read from
 * the source catalog; null when the table is not one this path handles (see above).
 */
export async function earlyIndexStatements(src: pg.Client, table: TableRef): Promise<IndexStatement[] | null> {
  const rel = await src.query<{ oid: string; relkind: string; relispartition: boolean }>(
    `SELECT c.oid::int8 AS oid, c.relkind::text AS relkind, c.relispartition
       FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2`,
    [table.schema, table.name],
  );
  const r = rel.rows[0];
  if (!r || r.relkind !== 'r' || r.relispartition) return null;
  const rows = await src.query<{
    name: string;
    def: string;
    valid: boolean;
    special: boolean;
    conname: string | null;
    condef: string | null;
  }>(
    `SELECT ic.relname AS name, pg_catalog.pg_get_indexdef(i.indexrelid) AS def, i.indisvalid AS valid,
            (i.indisclustered OR i.indisreplident
              OR pg_catalog.obj_description(i.indexrelid, 'pg_class') IS NOT NULL
              OR (con.oid IS NOT NULL AND pg_catalog.obj_description(con.oid, 'pg_constraint') IS NOT NULL)
              OR EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a WHERE a.attrelid = i.indexrelid AND a.attstattarget > 0)
              OR EXISTS (SELECT 1 FROM pg_catalog.pg_inherits h WHERE h.inhrelid = i.indexrelid)) AS special,
            con.conname, CASE WHEN con.oid IS NULL THEN NULL ELSE pg_catalog.pg_get_constraintdef(con.oid) END AS condef
       FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
       LEFT JOIN pg_catalog.pg_constraint con ON con.conindid = i.indexrelid AND con.conrelid = i.indrelid AND con.contype IN ('p', 'u', 'x')
      WHERE i.indrelid = $1::oid
      ORDER BY con.oid IS NULL, ic.relname`,
    [r.oid],
  );
  if (rows.rows.some((x) => x.special)) return null;
  // pg_dump leaves invalid indexes (a failed CREATE INDEX CONCURRENTLY) out; so does this.
  return rows.rows
    .filter((x) => x.valid)
    .map((x) =>
      x.conname !== null && x.condef !== null
        ? { name: x.conname, kind: 'constraint' as const, sql: `ALTER TABLE ONLY ${qualify(table.schema, table.name)} ADD CONSTRAINT ${quoteIdent(x.conname)} ${x.condef}` }
        : { name: x.name, kind: 'index' as const, sql: x.def },
    );
}

/** Whether an index (by schema and name) or a constraint (by table and name) exists on the target. */
async function exists(tgt: pg.Client, table: TableRef, s: IndexStatement): Promise<boolean> {
  const r =
    s.kind === 'index'
      ? await tgt.query(
          `SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('i', 'I')`,
          [table.schema, s.name],
        )
      : await tgt.query(
          `SELECT 1 FROM pg_catalog.pg_constraint o JOIN pg_catalog.pg_class c ON c.oid = o.conrelid
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2 AND o.conname = $3`,
          [table.schema, table.name, s.name],
        );
  return (r.rowCount ?? 0) > 0;
}

/** Session settings of index builds on the target: maintenance_work_mem (kB), and max_parallel_maintenance_workers from PostgreSQL 11. */
export type IndexBuildSettings = Readonly<Record<string, string>>;

/**
 * The settings index builds run with: spec.fullLoad.indexMemoryMB, or the target's own
 * maintenance_work_mem when that is larger (a DBA's tuning is never lowered), and
 * spec.fullLoad.indexParallelWorkers on targets that have the setting (11+: an unknown one in
 * PGOPTIONS would refuse pg_restore's connections). Specs recorded before these options get their defaults.
 */
export async function indexBuildSettings(tgt: pg.Client, fullLoad: Partial<MigrationSpec['fullLoad']>): Promise<IndexBuildSettings> {
  const r = await tgt.query<{ kb: string; version: string }>(
    `SELECT setting AS kb, pg_catalog.current_setting('server_version_num') AS version FROM pg_catalog.pg_settings WHERE name = 'maintenance_work_mem'`,
  );
  const kb = Math.max(Number(r.rows[0]?.kb ?? 0), (fullLoad.indexMemoryMB ?? 1024) * 1024);
  const memory = { maintenance_work_mem: `${kb}kB` };
  return Number(r.rows[0]?.version ?? 0) >= 110000 ? { ...memory, max_parallel_maintenance_workers: String(fullLoad.indexParallelWorkers ?? 0) } : memory;
}

/**
 * Run the statements not yet done on the target, each in its own transaction under `settings`
 * (SET LOCAL: the session goes back to its own values after); returns how many ran.
 */
export async function buildIndexes(tgt: pg.Client, table: TableRef, statements: IndexStatement[], settings: IndexBuildSettings): Promise<number> {
  let ran = 0;
  for (const s of statements) {
    if (await exists(tgt, table, s)) continue;
    await inTransaction(tgt, async () => {
      await tgt.query('SELECT pg_catalog.set_config(name, value, true) FROM unnest($1::text[], $2::text[]) AS s(name, value)', [
        Object.keys(settings),
        Object.values(settings),
      ]);
      await tgt.query(s.sql);
    });
    ran++;
  }
  return ran;
}
