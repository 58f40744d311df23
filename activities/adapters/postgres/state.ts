// Ferry's state on the target, schema `ferry`: chunk markers (committed with the rows they
// describe), what provision created (so abort can remove exactly that), the fence record, the
// snapshot the full load reads under, each split table's ranges (so a re-plan keeps chunk ids),
// and provision's schema dump (finishLoad restores post-data from the same dump).
import type pg from 'pg';
import type { ProvisionResult } from '../../../workflows/types';
import { inTransaction } from './connect';
import { qualify, quoteIdent } from './sql';

export const STATE_SCHEMA = 'ferry';
export const CHUNK_TABLE = qualify(STATE_SCHEMA, 'chunk');
export const PROVISIONED_TABLE = qualify(STATE_SCHEMA, 'provisioned');
export const FENCE_TABLE = qualify(STATE_SCHEMA, 'fence');
export const SNAPSHOT_TABLE = qualify(STATE_SCHEMA, 'snapshot');
export const PLAN_TABLE = qualify(STATE_SCHEMA, 'plan');
export const SCHEMA_DUMP_TABLE = qualify(STATE_SCHEMA, 'schema_dump');

/** Every table of the state schema (cleanup empties them all). */
const STATE_TABLES = ['chunk', 'provisioned', 'fence', 'snapshot', 'plan', 'schema_dump'];

/** Serialises creating and dropping the state schema between concurrent migrations on one target. */
const STATE_LOCK_SQL = "SELECT pg_advisory_xact_lock(hashtext('ferry'), hashtext('ferry.state'))";

/** An object the pre-data restore created on the target, tracked by OID so renames do not lose it. */
export interface ProvisionedObject {
  kind: 'table' | 'sequence' | 'type' | 'domain' | 'function' | 'procedure' | 'aggregate' | 'view';
  /** Where it was on the source (and, before renames, on the target). */
  schema: string;
  name: string;
  /** Functions: identity arguments as the source renders them. */
  args?: string;
  sourceOid: number;
  /** OID on the target once the restore committed. */
  targetOid?: number;
  /** Sequences owned by a column move and drop with their table. */
  owned?: boolean;
  /** Views: a materialized view. */
  materialized?: boolean;
}

export interface ProvisionedRow {
  status: 'pending' | 'done';
  createdSchemas: string[];
  objects: ProvisionedObject[];
  result: ProvisionResult | null;
}

export async function stateSchemaExists(client: pg.Client): Promise<boolean> {
  const r = await client.query('SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $1', [STATE_SCHEMA]);
  return (r.rowCount ?? 0) > 0;
}

/** Create the state schema and tables if missing (idempotent, safe against concurrent callers). */
export async function ensureState(client: pg.Client): Promise<void> {
  // One round trip when everything is there (every chunk copy calls this).
  const r = await client.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relname = ANY($2::text[]) AND c.relkind = 'r'`,
    [STATE_SCHEMA, STATE_TABLES],
  );
  if (r.rows[0]?.n === STATE_TABLES.length) return;
  await inTransaction(client, async () => {
    await client.query(STATE_LOCK_SQL);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(STATE_SCHEMA)}`);
    await client.query(`CREATE TABLE IF NOT EXISTS ${CHUNK_TABLE} (
      migration_id text NOT NULL,
      chunk_id text NOT NULL,
      source_table text NOT NULL,
      target_table text NOT NULL,
      rows bigint NOT NULL,
      bytes bigint NOT NULL,
      worker text,
      committed_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (migration_id, chunk_id))`);
    await client.query(`CREATE TABLE IF NOT EXISTS ${PROVISIONED_TABLE} (
      migration_id text PRIMARY KEY,
      status text NOT NULL,
      created_schemas text[] NOT NULL DEFAULT '{}',
      dump_toc text,
      objects jsonb NOT NULL DEFAULT '[]',
      result jsonb,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now())`);
    await client.query(`CREATE TABLE IF NOT EXISTS ${FENCE_TABLE} (
      migration_id text PRIMARY KEY,
      previous_read_only text,
      fenced_at timestamptz NOT NULL DEFAULT now())`);
    // The snapshot exported by the session that holds it open for the full load (one per migration).
    await client.query(`CREATE TABLE IF NOT EXISTS ${SNAPSHOT_TABLE} (
      migration_id text PRIMARY KEY,
      snapshot_id text NOT NULL,
      worker text,
      exported_at timestamptz NOT NULL DEFAULT now())`);
    // How a big table was split the first time it was planned: re-plans reuse it, so chunk ids stay.
    await client.query(`CREATE TABLE IF NOT EXISTS ${PLAN_TABLE} (
      migration_id text NOT NULL,
      source_table text NOT NULL,
      split jsonb NOT NULL,
      planned_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (migration_id, source_table))`);
    // The archive provision restored pre-data from (pg_dump -Fc), with its table of contents.
    await client.query(`CREATE TABLE IF NOT EXISTS ${SCHEMA_DUMP_TABLE} (
      migration_id text PRIMARY KEY,
      archive bytea NOT NULL,
      toc text NOT NULL,
      schemas text[] NOT NULL,
      dumped_at timestamptz NOT NULL DEFAULT now())`);
  });
}

/** A schema dump kept on the target: the archive's bytes, its `pg_restore -l` listing and the schemas it covers. */
export interface StoredSchemaDump {
  archive: Buffer;
  toc: string;
  schemas: string[];
}

/** Keep (or replace: a retried provision dumps again) this migration's schema dump. */
export async function writeSchemaDump(client: pg.Client, migrationId: string, dump: StoredSchemaDump): Promise<void> {
  await client.query(
    `INSERT INTO ${SCHEMA_DUMP_TABLE} (migration_id, archive, toc, schemas) VALUES ($1, $2, $3, $4)
     ON CONFLICT (migration_id) DO UPDATE SET archive = EXCLUDED.archive, toc = EXCLUDED.toc, schemas = EXCLUDED.schemas, dumped_at = now()`,
    [migrationId, dump.archive, dump.toc, dump.schemas],
  );
}

/** The kept dump; null when there is none (a migration provisioned before dumps were kept). */
export async function readSchemaDump(client: pg.Client, migrationId: string): Promise<StoredSchemaDump | null> {
  return readKeptDump<StoredSchemaDump>(client, migrationId, 'archive, toc, schemas');
}

/** Only the kept dump's `pg_restore -l` listing (not the archive's bytes); null when there is none. */
export async function readSchemaDumpToc(client: pg.Client, migrationId: string): Promise<string | null> {
  return (await readKeptDump<{ toc: string }>(client, migrationId, 'toc'))?.toc ?? null;
}

async function readKeptDump<T extends pg.QueryResultRow>(client: pg.Client, migrationId: string, columns: string): Promise<T | null> {
  const exists = await client.query('SELECT 1 FROM pg_catalog.pg_class WHERE oid = pg_catalog.to_regclass($1)', [SCHEMA_DUMP_TABLE]);
  if (!exists.rowCount) return null;
  const r = await client.query<T>(`SELECT ${columns} FROM ${SCHEMA_DUMP_TABLE} WHERE migration_id = $1`, [migrationId]);
  return r.rows[0] ?? null;
}

/** The provision record; `dumpToc` is the pre-data list it restores (or restored). */
export async function readProvisioned(client: pg.Client, migrationId: string): Promise<(ProvisionedRow & { dumpToc: string | null }) | null> {
  if (!(await stateSchemaExists(client))) return null;
  const r = await client.query<{ status: string; created_schemas: string[]; objects: ProvisionedObject[]; result: ProvisionResult | null; dump_toc: string | null }>(
    `SELECT status, created_schemas, objects, result, dump_toc FROM ${PROVISIONED_TABLE} WHERE migration_id = $1`,
    [migrationId],
  );
  const row = r.rows[0];
  if (!row) return null;
  return {
    status: row.status === 'done' ? 'done' : 'pending',
    createdSchemas: row.created_schemas,
    objects: row.objects,
    result: row.result,
    dumpToc: row.dump_toc,
  };
}

export async function writeProvisioned(
  client: pg.Client,
  migrationId: string,
  row: ProvisionedRow & { dumpToc?: string },
): Promise<void> {
  await client.query(
    `INSERT INTO ${PROVISIONED_TABLE} (migration_id, status, created_schemas, dump_toc, objects, result)
     VALUES ($1, $2, $3, $4, $5::jsonb, $6::jsonb)
     ON CONFLICT (migration_id) DO UPDATE SET status = EXCLUDED.status, created_schemas = EXCLUDED.created_schemas,
       dump_toc = coalesce(EXCLUDED.dump_toc, ${PROVISIONED_TABLE}.dump_toc), objects = EXCLUDED.objects,
       result = EXCLUDED.result, updated_at = now()`,
    [migrationId, row.status, row.createdSchemas, row.dumpToc ?? null, JSON.stringify(row.objects), row.result ? JSON.stringify(row.result) : null],
  );
}

export async function updateCreatedSchemas(client: pg.Client, migrationId: string, schemas: string[]): Promise<void> {
  await client.query(`UPDATE ${PROVISIONED_TABLE} SET created_schemas = $2, updated_at = now() WHERE migration_id = $1`, [migrationId, schemas]);
}

/** Delete this migration's state; drop the schema when no other migration has rows left. */
export async function removeState(client: pg.Client, migrationId: string): Promise<void> {
  if (!(await stateSchemaExists(client))) return;
  await inTransaction(client, async () => {
    await client.query(STATE_LOCK_SQL);
    if (!(await stateSchemaExists(client))) return;
    let remaining = 0;
    for (const table of STATE_TABLES) {
      const exists = await client.query(
        `SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2`,
        [STATE_SCHEMA, table],
      );
      if (!exists.rowCount) continue;
      const t = qualify(STATE_SCHEMA, table);
      await client.query(`DELETE FROM ${t} WHERE migration_id = $1`, [migrationId]);
      const r = await client.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${t}`);
      remaining += r.rows[0]?.n ?? 0;
    }
    if (remaining === 0) await client.query(`DROP SCHEMA ${quoteIdent(STATE_SCHEMA)} CASCADE`);
  });
}
