// Autovacuum is paused on the tables being loaded (provision) and given back once they are
// loaded, indexed and analyzed (finishLoad). During a bulk load PostgreSQL's insert-triggered
// autovacuum (13+) starts VACUUMs of half-loaded tables: work that is thrown away, and the
// table's index build then waits deadlock_timeout (1 s by default) for the autovacuum to be
// cancelled. In bench runs that was a 1 s stall on the load's last table in about one run in three.
//
// The DBA's own settings are kept: a table whose reloptions on the target already name
// autovacuum_enabled (restored from the source) is not touched, and finishLoad resets only what
// Ferry paused: off on the target, not named on the source. Both are idempotent, so a retried
// provision or finishLoad does the same.
import type pg from 'pg';
import type { TableRef } from '../../../workflows/types';
import { qualify } from './sql';
import type { ProvisionedObject } from './state';

/** Tables per transaction (each ALTER TABLE holds a lock until commit). */
const TABLES_PER_TRANSACTION = 1000;

const PAUSED = 'autovacuum_enabled=false';

/** The autovacuum_enabled entry of the reloptions of pg_class row `c`, if any (SQL). */
const AUTOVACUUM_OPTION = `(SELECT o FROM unnest(c.reloptions) AS o WHERE o LIKE 'autovacuum\\_enabled=%')`;

/** Which of `tables` (ordinary tables, partitions included) have reloptions naming autovacuum_enabled, and its value. */
async function autovacuumOptions(client: pg.Client, tables: TableRef[]): Promise<Map<string, string | null>> {
  if (tables.length === 0) return new Map();
  const r = await client.query<{ schema: string; name: string; option: string | null }>(
    `SELECT n.nspname AS schema, c.relname AS name,
            ${AUTOVACUUM_OPTION} AS option
       FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
       JOIN unnest($1::text[], $2::text[]) AS w(s, t) ON w.s = n.nspname AND w.t = c.relname
      WHERE c.relkind IN ('r', 'm')`,
    [tables.map((t) => t.schema), tables.map((t) => t.name)],
  );
  return new Map(r.rows.map((x) => [qualify(x.schema, x.name), x.option]));
}

/** Run one ALTER TABLE per table, TABLES_PER_TRANSACTION to a transaction, one round trip each. */
async function alterInRuns(tgt: pg.Client, tables: string[], clause: string): Promise<void> {
  for (let i = 0; i < tables.length; i += TABLES_PER_TRANSACTION) {
    const run = tables.slice(i, i + TABLES_PER_TRANSACTION);
    await tgt.query(`BEGIN; ${run.map((t) => `ALTER TABLE ONLY ${t} ${clause};`).join(' ')} COMMIT;`).catch(async (err: unknown) => {
      await tgt.query('ROLLBACK').catch(() => undefined);
      throw err;
    });
  }
}

/** Turn autovacuum off on the target tables (source names) that do not set it themselves; returns how many. */
export async function pauseAutovacuum(tgt: pg.Client, tables: TableRef[]): Promise<number> {
  const options = await autovacuumOptions(tgt, tables);
  const pause = [...options].filter(([, option]) => option === null).map(([table]) => table);
  await alterInRuns(tgt, pause, `SET (autovacuum_enabled = false)`);
  return pause.length;
}

/**
 * Give autovacuum back where Ferry paused it: on the tables provision created (by target OID, from
 * the provisioned record: a table since dropped or detached on the source is still given back),
 * where the target says off and the source (same table by source OID) does not name the option.
 * Returns how many.
 */
export async function resumeAutovacuum(src: pg.Client, tgt: pg.Client, created: ProvisionedObject[]): Promise<number> {
  const tables = created.filter((o) => o.kind === 'table' && o.targetOid !== undefined);
  if (tables.length === 0) return 0;
  const onTarget = await tgt.query<{ oid: string; schema: string; name: string }>(
    `SELECT c.oid::text AS oid, n.nspname AS schema, c.relname AS name
       FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      WHERE c.oid = ANY($1::oid[]) AND c.relkind IN ('r', 'm') AND $2 = ANY(c.reloptions)`,
    [tables.map((t) => t.targetOid), PAUSED],
  );
  if (onTarget.rows.length === 0) return 0;
  const sourceOf = new Map(tables.map((t) => [String(t.targetOid), t.sourceOid]));
  const namedOnSource = await src.query<{ oid: string }>(
    `SELECT c.oid::text AS oid FROM pg_catalog.pg_class c
      WHERE c.oid = ANY($1::oid[]) AND ${AUTOVACUUM_OPTION} IS NOT NULL`,
    [onTarget.rows.map((r) => sourceOf.get(r.oid))],
  );
  const keep = new Set(namedOnSource.rows.map((r) => r.oid));
  const resume = onTarget.rows.filter((r) => !keep.has(String(sourceOf.get(r.oid)))).map((r) => qualify(r.schema, r.name));
  await alterInRuns(tgt, resume, `RESET (autovacuum_enabled)`);
  return resume.length;
}
