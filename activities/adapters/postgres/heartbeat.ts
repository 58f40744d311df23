// The heartbeat table on the source (as DTS's dts_postgres_heartbeat): one row whose timestamp a
// normal session rewrites every spec.cdc.heartbeatIntervalSeconds while changes stream. The row
// travels through the slot like any change; the newest timestamp applied on the target gives the
// lag in seconds (measured on the source's clock, so worker clock skew does not matter).
//
// It lives in schema `ferry` on the source, which table selection never picks (catalog.ts leaves
// the `ferry` schema out), so it is never copied, validated or counted as a user table.
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import type { ResolvedEndpoint } from '../engine';
import { closeClient, connectEndpoint, pgCode, type ConnectOptions } from './connect';
import { qualify, quoteIdent } from './sql';
import { STATE_SCHEMA } from './state';

/** Schema on the source for Ferry's capture objects (the same name as the target's state schema). */
export const SOURCE_SCHEMA = STATE_SCHEMA;
/** Marks the source schema as Ferry's, so stopCapture drops it only when Ferry created it. */
const SCHEMA_COMMENT = 'created by Ferry for change data capture (heartbeat tables); dropped when empty';

/**
 * Ferry's source sessions write even through its own fence (the database default
 * default_transaction_read_only = on that the fence sets is overridden per session).
 */
export const SOURCE_WRITER: ConnectOptions = { settings: { default_transaction_read_only: 'off' } };

/**
 * `<prefix><id>` as a name valid for a replication slot (a-z, 0-9, _; at most 63 bytes) and so
 * also a plain identifier: the migration id lower-cased, other characters as `_`, long ids
 * shortened with a hash so two migrations never share a name.
 */
export function captureName(prefix: string, migrationId: string): string {
  const clean = migrationId.toLowerCase().replace(/[^a-z0-9_]/g, '_');
  const full = `${prefix}${clean}`;
  if (full.length <= 63) return full;
  const hash = createHash('sha256').update(migrationId).digest('hex').slice(0, 10);
  return `${prefix}${clean.slice(0, 63 - prefix.length - 11)}_${hash}`;
}

export interface HeartbeatTable {
  schema: string;
  name: string;
}

export function heartbeatTable(migrationId: string): HeartbeatTable {
  return { schema: SOURCE_SCHEMA, name: captureName('ferry_heartbeat_', migrationId) };
}

/** Create the schema (marked as Ferry's), the table and its one row, if missing. Idempotent. */
export async function ensureHeartbeatTable(src: pg.Client, table: HeartbeatTable): Promise<void> {
  const have = await src.query('SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $1', [table.schema]);
  if (!have.rowCount) {
    await src.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(table.schema)}`);
    const lit = (await src.query<{ l: string }>('SELECT pg_catalog.quote_literal($1::text) AS l', [SCHEMA_COMMENT])).rows[0]!.l;
    await src.query(`COMMENT ON SCHEMA ${quoteIdent(table.schema)} IS ${lit}`);
  }
  const t = qualify(table.schema, table.name);
  await src.query(`CREATE TABLE IF NOT EXISTS ${t} (id int PRIMARY KEY, ts timestamptz NOT NULL)`);
  await src.query(`INSERT INTO ${t} (id, ts) VALUES (1, pg_catalog.clock_timestamp()) ON CONFLICT (id) DO NOTHING`);
}

/** Drop the table, and the schema when Ferry created it and nothing else is left in it. Idempotent. */
export async function dropHeartbeatTable(src: pg.Client, table: HeartbeatTable): Promise<void> {
  await src.query(`DROP TABLE IF EXISTS ${qualify(table.schema, table.name)}`);
  const r = await src.query<{ comment: string | null; n: number }>(
    `SELECT pg_catalog.obj_description(n.oid, 'pg_namespace') AS comment,
            (SELECT count(*)::int FROM pg_catalog.pg_class c WHERE c.relnamespace = n.oid)
          + (SELECT count(*)::int FROM pg_catalog.pg_type y WHERE y.typnamespace = n.oid AND y.typrelid = 0)
          + (SELECT count(*)::int FROM pg_catalog.pg_proc p WHERE p.pronamespace = n.oid) AS n
       FROM pg_catalog.pg_namespace n WHERE n.nspname = $1`,
    [table.schema],
  );
  const row = r.rows[0];
  if (!row || row.comment !== SCHEMA_COMMENT || row.n > 0) return;
  try {
    await src.query(`DROP SCHEMA IF EXISTS ${quoteIdent(table.schema)} RESTRICT`);
  } catch (err) {
    if (pgCode(err) !== '2BP01') throw err; // something was created in it meanwhile: keep it
  }
}

export interface HeartbeatWriter {
  /** Stop writing and close the session. */
  stop(): Promise<void>;
  /** The last error writing, if the latest attempt failed (the writer keeps retrying). */
  lastError(): unknown;
}

/**
 * Write the heartbeat row now and then every `intervalMs` from its own normal session, until
 * stopped. A failed write (lost session, fenced source without the override) is retried with a
 * new session; streaming does not depend on it, only the lag in seconds does.
 */
export function startHeartbeat(ep: ResolvedEndpoint, table: HeartbeatTable, intervalMs: number): HeartbeatWriter {
  const stopper = new AbortController();
  let error: unknown;
  let client: pg.Client | undefined;
  const text = `UPDATE ${qualify(table.schema, table.name)} SET ts = pg_catalog.clock_timestamp() WHERE id = 1`;
  const loop = (async () => {
    while (!stopper.signal.aborted) {
      try {
        client ??= await connectEndpoint(ep, { ...SOURCE_WRITER, connectTimeoutMs: 10_000 });
        await client.query(text);
        error = undefined;
      } catch (err) {
        error = err;
        if (client) await closeClient(client, true);
        client = undefined;
      }
      try {
        await sleep(intervalMs, undefined, { signal: stopper.signal });
      } catch {
        break;
      }
    }
  })();
  return {
    async stop() {
      stopper.abort();
      await loop;
      if (client) await closeClient(client);
      client = undefined;
    },
    lastError: () => error,
  };
}
