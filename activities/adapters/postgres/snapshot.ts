// One instant of the source for the whole full load. A holder session exports a snapshot
// (pg_export_snapshot) inside a REPEATABLE READ, READ ONLY transaction and stays idle in it; the
// id is recorded on the target (ferry.snapshot) so any worker's chunk copies can find it and
// import it (SET TRANSACTION SNAPSHOT). The snapshot lives exactly as long as the holder's
// transaction: when that session dies, imports fail and the copies say so (SnapshotLost).
import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import type { TableMapping } from '../../../workflows/types';
import type { EngineContext } from '../engine';
import { FerryError, SnapshotLost } from '../errors';
import { classifyError, closeClient, connectEndpoint, inTransaction, pgCode, withClient, withSession } from './connect';
import { CHUNK_TABLE, ensureState, SNAPSHOT_TABLE, STATE_SCHEMA } from './state';
// online mode (CDC) only:
import { isLsn } from './lsn';
import { SOURCE_WRITER } from './heartbeat';
import { connectReplication, dropSlot, ensureCdcState, recordSlot, slotName } from './replication';
import { qualify, quoteIdent } from './sql';

/** What pg_export_snapshot returns (e.g. 00000003-0000001B-1): checked before it is put into SQL text. */
export const SNAPSHOT_ID = /^[0-9A-F]+-[0-9A-F]+-[0-9]+$/i;

/** How often the holder checks that its session (and so the snapshot) is still there. */
export const HOLD_CHECK_MS = 2_000;

/**
 * The holder's own settings. Its `SELECT 1` every HOLD_CHECK_MS resets the idle timer, so the
 * idle-in-transaction timeout only ends a holder whose worker vanished without closing the socket
 * (a network partition): the snapshot does not pin the source's xmin for hours.
 */
const HOLDER_SESSION = { settings: { statement_timeout: '0', idle_in_transaction_session_timeout: '60s' } };

/** True when the error says the snapshot cannot be imported (any more): invalid id, or its exporting transaction ended. */
export function isSnapshotGone(err: unknown): boolean {
  const code = pgCode(err);
  const msg = String((err as Error)?.message ?? err);
  return code === '22023' || (code === '55000' && /could not import/i.test(msg)) || /invalid snapshot identifier|could not import the requested snapshot/i.test(msg);
}

/**
 * BEGIN a REPEATABLE READ, READ ONLY transaction on `client` that reads under `snapshotId`.
 * Throws SnapshotLost (naming the snapshot and `what`) when it cannot be imported.
 */
export async function beginUnderSnapshot(client: pg.Client, snapshotId: string, what: string): Promise<void> {
  if (!SNAPSHOT_ID.test(snapshotId)) throw new SnapshotLost(`${what}: '${snapshotId}' is not a PostgreSQL snapshot id`);
  try {
    // SET TRANSACTION SNAPSHOT takes a literal, not a parameter: the id was checked above.
    await client.query(`BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY; SET TRANSACTION SNAPSHOT '${snapshotId}'`);
  } catch (err) {
    if (isSnapshotGone(err)) {
      throw new SnapshotLost(
        `${what}: the source snapshot ${snapshotId} cannot be imported any more (${(err as Error)?.message ?? String(err)}); ` +
          'the session holding it has ended, so the full load must continue under a new snapshot',
        { cause: err },
      );
    }
    throw err;
  }
}

async function snapshotTableExists(client: pg.Client): Promise<boolean> {
  const r = await client.query(
    `SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = 'snapshot'`,
    [STATE_SCHEMA],
  );
  return (r.rowCount ?? 0) > 0;
}

/**
 * Export a snapshot of the source, record it on the target (replacing an older one of this
 * migration), and hold it until ctx.signal aborts; then remove the record (if still this
 * snapshot's) and end the transaction. Throws SnapshotLost when the holding session dies.
 */
export async function holdSnapshot(ctx: EngineContext): Promise<void> {
  if (ctx.spec.mode === 'online') return holdSlotSnapshot(ctx); // online mode (CDC): see the section at the end
  const src = await connectEndpoint(ctx.source, HOLDER_SESSION);
  let id: string | undefined;
  let released = false;
  try {
    await src.query('BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY');
    id = (await src.query<{ id: string }>('SELECT pg_catalog.pg_export_snapshot() AS id')).rows[0]?.id;
    if (!id || !SNAPSHOT_ID.test(id)) throw new SnapshotLost(`the source exported an unexpected snapshot id '${id ?? ''}'`);
    const snapshot = id;
    await withSession(ctx.target, async (tgt) => {
      await ensureState(tgt);
      await tgt.query(
        `INSERT INTO ${SNAPSHOT_TABLE} (migration_id, snapshot_id, worker, exported_at) VALUES ($1, $2, $3, now())
         ON CONFLICT (migration_id) DO UPDATE SET snapshot_id = EXCLUDED.snapshot_id, worker = EXCLUDED.worker, exported_at = EXCLUDED.exported_at`,
        [ctx.migrationId, snapshot, ctx.workerId],
      );
    });

    while (!ctx.signal?.aborted) {
      try {
        await sleep(HOLD_CHECK_MS, undefined, ctx.signal ? { signal: ctx.signal } : {});
      } catch {
        break; // aborted: release below
      }
      try {
        await src.query('SELECT 1');
      } catch (err) {
        throw new SnapshotLost(
          `the source session holding snapshot ${snapshot} ended (${(err as Error)?.message ?? String(err)}); chunks cannot import it any more`,
          { cause: err },
        );
      }
    }

    // Released: forget the record first (only if it is still ours), then end the transaction.
    await withSession(ctx.target, async (tgt) => {
      if (await snapshotTableExists(tgt)) {
        await tgt.query(`DELETE FROM ${SNAPSHOT_TABLE} WHERE migration_id = $1 AND snapshot_id = $2`, [ctx.migrationId, snapshot]);
      }
    }).catch(() => undefined); // a record left behind names a snapshot nobody can import: currentSnapshot ignores it
    await src.query('COMMIT');
    released = true;
  } catch (err) {
    if (err instanceof FerryError) throw err;
    throw classifyError(err, ctx.source);
  } finally {
    await closeClient(src, !released);
  }
}

/** The snapshot recorded for this migration, when it can be imported on the source now; else undefined. */
export async function currentSnapshot(ctx: EngineContext): Promise<string | undefined> {
  let id: string | undefined;
  try {
    id = await withSession(ctx.target, async (tgt) => {
      if (!(await snapshotTableExists(tgt))) return undefined;
      const r = await tgt.query<{ snapshot_id: string }>(`SELECT snapshot_id FROM ${SNAPSHOT_TABLE} WHERE migration_id = $1`, [ctx.migrationId]);
      return r.rows[0]?.snapshot_id;
    });
  } catch (err) {
    throw classifyError(err, ctx.target);
  }
  if (id === undefined || !SNAPSHOT_ID.test(id)) return undefined;
  const snapshot = id;
  try {
    return await withSession(ctx.source, async (src) => {
      try {
        await beginUnderSnapshot(src, snapshot, 'snapshot check');
      } catch (err) {
        if (err instanceof SnapshotLost) return undefined;
        throw err;
      }
      await src.query('ROLLBACK');
      return snapshot;
    });
  } catch (err) {
    throw classifyError(err, ctx.source);
  }
}

// ==================================================================================================
// Online mode (change data capture). Added for CDC; the offline holder above is unchanged.
//
// The snapshot comes from creating the migration's logical replication slot on a replication
// connection (CREATE_REPLICATION_SLOT ... LOGICAL pgoutput EXPORT_SNAPSHOT): the full load reads
// the source exactly as of the slot's consistent point, and streamChanges applies everything after
// it, so nothing is lost or applied twice. The snapshot id goes into ferry.snapshot (so
// currentSnapshot and the chunk copies work unchanged) and the consistent point into ferry.cdc,
// in one target transaction. The exported snapshot lives while the replication session stays idle;
// the slot outlives it (stopCapture drops it).
// ==================================================================================================

async function slotExists(ctx: EngineContext, slot: string): Promise<boolean> {
  return withClient(ctx.source, async (src) => {
    const r = await src.query('SELECT 1 FROM pg_catalog.pg_replication_slots WHERE slot_name = $1', [slot]);
    return (r.rowCount ?? 0) > 0;
  });
}

function slotSnapshotGone(slot: string, why: string): SnapshotLost {
  return new SnapshotLost(
    `replication slot ${slot} already exists from an earlier attempt, but the snapshot it exported is gone (${why}): ` +
      'rows copied under that snapshot and changes streamed from the slot would no longer meet, so the full load must restart from scratch ' +
      '(Ferry drops the slot, empties the target tables and loads them again under a new slot)',
  );
}

/** Wait until aborted, or throw SnapshotLost once `alive()` says the snapshot is gone. */
async function watchSnapshot(ctx: EngineContext, alive: () => Promise<boolean>, lost: () => SnapshotLost): Promise<void> {
  while (!ctx.signal?.aborted) {
    try {
      await sleep(HOLD_CHECK_MS, undefined, ctx.signal ? { signal: ctx.signal } : {});
    } catch {
      return; // aborted
    }
    if (!(await alive())) throw lost();
  }
}

/** holdSnapshot in online mode: create the slot with an exported snapshot and hold it until ctx.signal aborts. */
export async function holdSlotSnapshot(ctx: EngineContext): Promise<void> {
  const slot = slotName(ctx.migrationId);
  try {
    if (await slotExists(ctx, slot)) {
      // Another holder of this migration may still be alive (a retried holder while the old one runs): watch its snapshot.
      const existing = await currentSnapshot(ctx);
      if (!existing) throw slotSnapshotGone(slot, 'no session holds it any more');
      await watchSnapshot(
        ctx,
        async () => (await currentSnapshot(ctx)) === existing,
        () => slotSnapshotGone(slot, `the session holding snapshot ${existing} ended`),
      );
      return;
    }

    const repl = await connectReplication(ctx.source);
    let ended: Error | undefined;
    repl.on('error', (err: Error) => (ended ??= err));
    repl.on('end', () => (ended ??= new Error('the replication session ended')));
    let snapshot: string | undefined;
    try {
      let row: { consistent_point?: string; snapshot_name?: string } | undefined;
      try {
        row = (await repl.query<{ consistent_point: string; snapshot_name: string }>(
          `CREATE_REPLICATION_SLOT ${quoteIdent(slot)} LOGICAL pgoutput EXPORT_SNAPSHOT`,
        )).rows[0];
      } catch (err) {
        if (pgCode(err) === '42710') throw slotSnapshotGone(slot, 'another attempt created the slot meanwhile');
        throw err;
      }
      const id = row?.snapshot_name;
      const lsn = row?.consistent_point;
      if (!id || !SNAPSHOT_ID.test(id) || !lsn || !isLsn(lsn)) {
        throw new SnapshotLost(`creating replication slot ${slot} returned an unexpected snapshot '${id ?? ''}' / consistent point '${lsn ?? ''}'`);
      }
      snapshot = id;
      await withClient(ctx.target, async (tgt) => {
        await ensureState(tgt);
        await ensureCdcState(tgt);
        await inTransaction(tgt, async () => {
          await tgt.query(
            `INSERT INTO ${SNAPSHOT_TABLE} (migration_id, snapshot_id, worker, exported_at) VALUES ($1, $2, $3, now())
             ON CONFLICT (migration_id) DO UPDATE SET snapshot_id = EXCLUDED.snapshot_id, worker = EXCLUDED.worker, exported_at = EXCLUDED.exported_at`,
            [ctx.migrationId, id, ctx.workerId],
          );
          await recordSlot(tgt, ctx.migrationId, slot, lsn);
        });
      });

      // Hold: no command may run on the replication session (the next one would end the snapshot).
      await watchSnapshot(
        ctx,
        () => Promise.resolve(ended === undefined),
        () =>
          new SnapshotLost(
            `the replication session holding snapshot ${id} of slot ${slot} ended (${ended?.message ?? 'unknown reason'}); chunks cannot import it any more`,
            { cause: ended },
          ),
      );
      if (ended !== undefined) {
        throw new SnapshotLost(`the replication session holding snapshot ${id} of slot ${slot} ended (${ended?.message ?? 'unknown reason'})`, {
          cause: ended,
        });
      }
      await withClient(ctx.target, async (tgt) => {
        if (await snapshotTableExists(tgt)) {
          await tgt.query(`DELETE FROM ${SNAPSHOT_TABLE} WHERE migration_id = $1 AND snapshot_id = $2`, [ctx.migrationId, id]);
        }
      }).catch(() => undefined);
    } finally {
      await closeClient(repl, snapshot === undefined);
    }
  } catch (err) {
    if (err instanceof FerryError) throw err;
    throw classifyError(err, ctx.source);
  }
}

/** Tables emptied per target transaction: a TRUNCATE locks each table with its TOAST table and indexes, and the lock table is finite. */
const RESTART_RUN = 1000;

/**
 * Online mode, after the slot's snapshot is lost: rows copied under it and the changes the slot
 * would stream no longer meet at one point, so the load starts again from scratch. The recorded
 * snapshot is forgotten (see lockSnapshotForChunk), the tables that have chunk markers are emptied
 * together with their markers (runs of RESTART_RUN tables, a transaction each), and only then is
 * the slot dropped (its walsender ended first). In that order, a restart cut short leaves the
 * slot without a snapshot, so the next holder throws SnapshotLost and the restart runs again;
 * dropping the slot first would let a new slot start while rows of the old snapshot stay marked
 * done. Idempotent.
 */
export async function restartSlotLoad(ctx: EngineContext, tables: TableMapping[]): Promise<void> {
  try {
    await withClient(ctx.target, async (tgt) => {
      await ensureState(tgt);
      // The snapshot first: chunks still copying under it then fail at their marker (or, already
      // past it, make this wait for their commit), so no chunk of it commits behind the emptying.
      await tgt.query(`DELETE FROM ${SNAPSHOT_TABLE} WHERE migration_id = $1`, [ctx.migrationId]);
      // Markers name the table where the load writes: the source name (renames come at cutover).
      const marked = await tgt.query<{ table: string }>(`SELECT DISTINCT source_table AS table FROM ${CHUNK_TABLE} WHERE migration_id = $1`, [ctx.migrationId]);
      const loaded = new Set(marked.rows.map((r) => r.table));
      const byName = new Map(tables.map((t) => [qualify(t.source.schema, t.source.name), t] as const));
      const toEmpty = [...byName].filter(([name]) => loaded.has(name));
      for (let i = 0; i < toEmpty.length; i += RESTART_RUN) {
        const run = toEmpty.slice(i, i + RESTART_RUN);
        // A partitioned table is emptied with its partitions; any other only by itself (not inheritance children).
        const found = await tgt.query<{ schema: string; name: string; relkind: string }>(
          `SELECT n.nspname AS schema, c.relname AS name, c.relkind::text AS relkind
             FROM unnest($1::text[], $2::text[]) AS t(schema, name)
             JOIN pg_catalog.pg_namespace n ON n.nspname = t.schema
             JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relname = t.name AND c.relkind IN ('r', 'p')`,
          [run.map(([, t]) => t.source.schema), run.map(([, t]) => t.source.name)],
        );
        await inTransaction(tgt, async () => {
          if (found.rows.length > 0) {
            await tgt.query(`TRUNCATE TABLE ${found.rows.map((r) => `${r.relkind === 'p' ? '' : 'ONLY '}${qualify(r.schema, r.name)}`).join(', ')}`);
          }
          await tgt.query(`DELETE FROM ${CHUNK_TABLE} WHERE migration_id = $1 AND source_table = ANY($2::text[])`, [ctx.migrationId, run.map(([name]) => name)]);
        });
      }
    });
  } catch (err) {
    if (err instanceof FerryError) throw err;
    throw classifyError(err, ctx.target);
  }
  try {
    await withClient(ctx.source, (src) => dropSlot(src, slotName(ctx.migrationId)), SOURCE_WRITER);
  } catch (err) {
    if (err instanceof FerryError) throw err;
    throw classifyError(err, ctx.source);
  }
}

/**
 * In a chunk's target transaction, just before its marker: the snapshot the chunk read under is
 * still the migration's. FOR SHARE, so a restart that forgets it (restartSlotLoad, or a fenced
 * load going on under a new snapshot) waits for this chunk to commit, and a chunk that finds it
 * forgotten (a late copy from a worker cut off meanwhile) fails instead of committing rows, and a
 * marker, of a snapshot the load no longer uses.
 */
export async function lockSnapshotForChunk(tgt: pg.Client, migrationId: string, snapshotId: string, what: string): Promise<void> {
  const r = await tgt.query(`SELECT 1 FROM ${SNAPSHOT_TABLE} WHERE migration_id = $1 AND snapshot_id = $2 FOR SHARE`, [migrationId, snapshotId]);
  if (!r.rowCount) throw new SnapshotLost(`${what}: snapshot ${snapshotId} is no longer the one this migration loads under; its rows are not kept`);
}
