// Change data capture (online mode), the I/O half: the publication and the slot on the source,
// Ferry's capture state on the target (ferry.cdc), and streamChanges, which reads pgoutput from
// the slot and applies it to the target in batches of whole source transactions, each batch
// committed together with the source LSN it reached.
//
// Why raw START_REPLICATION over pg's replication connection, not pg-logical-replication's
// PgoutputPlugin: that library decodes values with node-pg's type parsers while it reads (lossy:
// timestamps become Date with millisecond precision, json is parsed), reports an unchanged TOAST
// column as `undefined` or the old value, acknowledges the last *received* LSN on a timer (so WAL
// of changes not yet committed on the target could be recycled) and acknowledges LSN + 1 (which
// can skip a commit record that starts exactly at the acknowledged position), and in flow-control
// mode reports a failing handler as an event and goes on with the next message. The protocol
// itself is small: apply.ts decodes it (pure, unit-tested) and this file drives it.
//
// Exactly once: ferry.cdc.applied_lsn is the end LSN of the last source transaction committed on
// the target, written in the same target transaction as its rows. A slice starts streaming there
// and skips any transaction whose commit record lies before it; the slot is only ever told
// (standby status) positions already committed on the target.
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import type { CaptureProgress, StreamOptions, TableMapping } from '../../../workflows/types';
import type { EngineContext, ResolvedEndpoint } from '../engine';
import { FerryError } from '../errors';
import {
  decodeFrame,
  deleteStatements,
  insertStatement,
  mapColumns,
  mappingDisplay,
  multiStatement,
  standbyStatus,
  targetTable,
  truncateStatement,
  tupleBytes,
  updateJoinsRun,
  updateRunKey,
  updateRunStatement,
  updateStatement,
  type PgoutputMessage,
  type RelationMessage,
  type ReplicationFrame,
  type Statement,
  type TargetColumn,
  type TargetTable,
  type Tuple,
} from './apply';
import { classifyError, clientConfig, closeClient, connectEndpoint, inTransaction, pgCode, sslConfig } from './connect';
import { captureName, dropHeartbeatTable, ensureHeartbeatTable, heartbeatTable, SOURCE_WRITER, startHeartbeat, type HeartbeatTable, type HeartbeatWriter } from './heartbeat';
import { ParkingLot } from './parking';
import { formatLsn, isLsn, lsnDiff, parseLsn } from './lsn';
import { finishLoad, checkedSelection } from './schema';
import { refreshMaterializedViews } from './views';
import { displayName, qualify, quoteIdent } from './sql';
import { readProvisioned, STATE_SCHEMA, type ProvisionedObject } from './state';

/** Change capture cannot go on without a person acting (missing slot, unmapped table, diverged target). */
export class CaptureFailed extends FerryError {
  readonly retryable = false;
}

export const CDC_TABLE = qualify(STATE_SCHEMA, 'cdc');
/** Same lock as state.ts uses to create the state schema (creating tables concurrently is not safe otherwise). */
const STATE_LOCK_SQL = "SELECT pg_advisory_xact_lock(hashtext('ferry'), hashtext('ferry.state'))";

/** The logical replication slot of a migration (`ferry_<id>`, slot-name rules). */
export function slotName(migrationId: string): string {
  return captureName('ferry_', migrationId);
}

/** The publication of a migration: the same name as its slot. */
export function publicationName(migrationId: string): string {
  return captureName('ferry_', migrationId);
}

// ---------------------------------------------------------------- state on the target

export interface CdcState {
  slot: string;
  startLsn: string;
  appliedLsn: string;
  heartbeatTs: string | null;
  appliedChanges: number;
}

/** ferry.cdc: one row per migration, the slot's start and the position applied on the target. */
export async function ensureCdcState(tgt: pg.Client): Promise<void> {
  const r = await tgt.query(
    `SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = 'cdc' AND c.relkind = 'r'`,
    [STATE_SCHEMA],
  );
  if (r.rowCount) return;
  await inTransaction(tgt, async () => {
    await tgt.query(STATE_LOCK_SQL);
    await tgt.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(STATE_SCHEMA)}`);
    await tgt.query(`CREATE TABLE IF NOT EXISTS ${CDC_TABLE} (
      migration_id text PRIMARY KEY,
      slot text NOT NULL,
      start_lsn pg_lsn NOT NULL,
      applied_lsn pg_lsn NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now(),
      heartbeat_ts timestamptz,
      applied_changes bigint NOT NULL DEFAULT 0)`);
  });
}

export async function readCdcState(tgt: pg.Client, migrationId: string): Promise<CdcState | null> {
  const exists = await tgt.query(
    `SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = 'cdc'`,
    [STATE_SCHEMA],
  );
  if (!exists.rowCount) return null;
  const r = await tgt.query<{ slot: string; start_lsn: string; applied_lsn: string; heartbeat_ts: string | null; applied_changes: string }>(
    `SELECT slot, start_lsn::text, applied_lsn::text, heartbeat_ts::text, applied_changes::text FROM ${CDC_TABLE} WHERE migration_id = $1`,
    [migrationId],
  );
  const row = r.rows[0];
  if (!row) return null;
  return { slot: row.slot, startLsn: row.start_lsn, appliedLsn: row.applied_lsn, heartbeatTs: row.heartbeat_ts, appliedChanges: Number(row.applied_changes) };
}

/** Record a new slot's consistent point as both start and applied position (inside the caller's transaction). */
export async function recordSlot(tgt: pg.Client, migrationId: string, slot: string, consistentPoint: string): Promise<void> {
  await tgt.query(
    `INSERT INTO ${CDC_TABLE} (migration_id, slot, start_lsn, applied_lsn, applied_at) VALUES ($1, $2, $3::pg_lsn, $3::pg_lsn, now())
     ON CONFLICT (migration_id) DO UPDATE SET slot = EXCLUDED.slot, start_lsn = EXCLUDED.start_lsn, applied_lsn = EXCLUDED.applied_lsn,
       applied_at = EXCLUDED.applied_at, heartbeat_ts = NULL, applied_changes = 0`,
    [migrationId, slot, consistentPoint],
  );
}

// ---------------------------------------------------------------- connections

function replicationConfig(ep: ResolvedEndpoint, ssl: ReturnType<typeof sslConfig>): pg.ClientConfig {
  // Output functions run in the walsender: the same text settings as every other Ferry session.
  return { ...clientConfig(ep, ssl, {}), replication: 'database' } as pg.ClientConfig;
}

/** A replication (walsender) session on the source: `replication=database`. */
export async function connectReplication(ep: ResolvedEndpoint): Promise<pg.Client> {
  const attempt = async (ssl: ReturnType<typeof sslConfig>): Promise<pg.Client> => {
    const client = new pg.Client(replicationConfig(ep, ssl));
    client.on('error', () => undefined);
    try {
      await client.connect();
      return client;
    } catch (err) {
      await client.end().catch(() => undefined);
      throw err;
    }
  };
  try {
    try {
      return await attempt(sslConfig(ep.sslmode));
    } catch (err) {
      if (ep.sslmode === 'prefer' && /does not support SSL/i.test(String((err as Error)?.message))) return await attempt(false);
      throw err;
    }
  } catch (err) {
    throw classifyError(err, ep);
  }
}

function captureError(err: unknown, ep: ResolvedEndpoint): unknown {
  return err instanceof FerryError ? err : classifyError(err, ep);
}

// ---------------------------------------------------------------- prepareCapture / currentLsn / stopCapture

/**
 * The publication `ferry_<id>` of the selected tables (partitioned tables through their root) plus
 * the heartbeat table. Idempotent: an existing publication gets exactly that table list.
 */
export async function prepareCapture(ctx: EngineContext): Promise<void> {
  let src: pg.Client | undefined;
  try {
    src = await connectEndpoint(ctx.source, SOURCE_WRITER);
    const sel = await checkedSelection(ctx, src);
    const hb = heartbeatTable(ctx.migrationId);
    await ensureHeartbeatTable(src, hb);
    const list = [...sel.roots.map((t) => qualify(t.schema, t.name)), qualify(hb.schema, hb.name)].join(', ');
    const pub = publicationName(ctx.migrationId);
    const have = await src.query('SELECT 1 FROM pg_catalog.pg_publication WHERE pubname = $1', [pub]);
    if (have.rowCount) {
      await src.query(`ALTER PUBLICATION ${quoteIdent(pub)} SET TABLE ${list}`);
      await src.query(`ALTER PUBLICATION ${quoteIdent(pub)} SET (publish = 'insert, update, delete, truncate', publish_via_partition_root = true)`);
    } else {
      await src.query(
        `CREATE PUBLICATION ${quoteIdent(pub)} FOR TABLE ${list} WITH (publish = 'insert, update, delete, truncate', publish_via_partition_root = true)`,
      );
    }
  } catch (err) {
    throw captureError(err, ctx.source);
  } finally {
    if (src) await closeClient(src);
  }
}

/**
 * The source's current WAL position, as text: the *insert* position, not pg_current_wal_lsn()
 * (the write position). With synchronous_commit = off a transaction has committed (and is
 * visible) once its commit record is inserted, before it is written; draining only to the write
 * position would leave the last such transactions behind at cutover.
 */
export async function currentLsn(ctx: EngineContext): Promise<string> {
  let src: pg.Client | undefined;
  try {
    src = await connectEndpoint(ctx.source);
    const r = await src.query<{ lsn: string }>('SELECT pg_catalog.pg_current_wal_insert_lsn()::text AS lsn');
    return r.rows[0]!.lsn;
  } catch (err) {
    throw captureError(err, ctx.source);
  } finally {
    if (src) await closeClient(src);
  }
}

/**
 * Every target sequence set from the source, at cutover after the drain. This is finishLoad's
 * sequence sync (schema.ts), reached through finishLoad itself: its post-data part finds
 * everything already restored and does nothing, then the sequences are set. Then the materialized
 * views are refreshed over the caught-up tables (views.ts): the cutover's other derived state.
 */
export async function syncSequences(ctx: EngineContext, tables: TableMapping[]): Promise<void> {
  await finishLoad(ctx, tables);
  await refreshMaterializedViews(ctx);
}

/** The walsender streaming from `slot`, if any, is ended; waits until the slot is free. */
async function freeSlot(src: pg.Client, slot: string, waitMs: number, terminate: boolean): Promise<void> {
  const until = Date.now() + waitMs;
  for (;;) {
    const r = await src.query<{ pid: number | null }>('SELECT active_pid AS pid FROM pg_catalog.pg_replication_slots WHERE slot_name = $1', [slot]);
    const pid = r.rows[0]?.pid;
    if (pid === undefined || pid === null) return;
    if (Date.now() >= until) {
      if (!terminate) return;
      await src.query('SELECT pg_catalog.pg_terminate_backend($1)', [pid]);
      terminate = false;
    }
    await sleep(100);
  }
}

/** Drop `slot` if it exists, ending the walsender that holds it first. Idempotent. */
export async function dropSlot(src: pg.Client, slot: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    await freeSlot(src, slot, 2_000, true);
    try {
      await src.query('SELECT pg_catalog.pg_drop_replication_slot(slot_name) FROM pg_catalog.pg_replication_slots WHERE slot_name = $1', [slot]);
      return;
    } catch (err) {
      if (pgCode(err) !== '55006' || attempt >= 20) throw err; // still active: a walsender raced us
    }
  }
}

/** Drop the slot (ending its walsender first), the publication and the heartbeat table. Idempotent. */
export async function stopCapture(ctx: EngineContext): Promise<void> {
  let src: pg.Client | undefined;
  await parkedCaptures.discard(ctx.migrationId); // its walsender holds the slot
  try {
    src = await connectEndpoint(ctx.source, SOURCE_WRITER);
    await dropSlot(src, slotName(ctx.migrationId));
    await src.query(`DROP PUBLICATION IF EXISTS ${quoteIdent(publicationName(ctx.migrationId))}`);
    await dropHeartbeatTable(src, heartbeatTable(ctx.migrationId));
  } catch (err) {
    throw captureError(err, ctx.source);
  } finally {
    if (src) await closeClient(src);
  }
}

// ---------------------------------------------------------------- target tables

/** Where a mapped table is on the target now: by the OID provision recorded, else by name (source names before renames, then target names). */
async function locateTarget(tgt: pg.Client, m: TableMapping, objects: ProvisionedObject[]): Promise<number | null> {
  const o = objects.find((x) => x.kind === 'table' && x.schema === m.source.schema && x.name === m.source.name && x.targetOid);
  if (o?.targetOid) {
    const r = await tgt.query('SELECT 1 FROM pg_catalog.pg_class WHERE oid = $1::oid', [o.targetOid]);
    if (r.rowCount) return o.targetOid;
  }
  for (const at of [m.source, m.target]) {
    const r = await tgt.query<{ oid: number }>(
      `SELECT c.oid::int8 AS oid FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p')`,
      [at.schema, at.name],
    );
    if (r.rows[0]) return Number(r.rows[0].oid);
  }
  return null;
}

/**
 * A relation message resolved against the mapping and the target catalog. Column names: the
 * source names while the target still has them (before applyRenames), else the mapped names; the
 * types are the target columns' own (format_type), so user types resolve on the target.
 */
async function resolveTable(tgt: pg.Client, rel: RelationMessage, mappings: TableMapping[], objects: ProvisionedObject[]): Promise<TargetTable> {
  const source = displayName(rel.schema, rel.name);
  const m = mappings.find((x) => x.source.schema === rel.schema && x.source.name === rel.name);
  if (!m) {
    throw new CaptureFailed(
      `change for source table ${source}, which is not part of this migration (it was not selected when the migration was provisioned, ` +
        'or was created afterwards and added to the publication): Ferry does not migrate tables created during a migration (docs/cdc.md)',
    );
  }
  const oid = await locateTarget(tgt, m, objects);
  const display = mappingDisplay(m);
  if (oid === null) throw new CaptureFailed(`table for ${display} is missing on the target; cannot apply changes to it`);
  const where = await tgt.query<{ schema: string; name: string }>(
    'SELECT n.nspname AS schema, c.relname AS name FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = $1::oid',
    [oid],
  );
  const at = where.rows[0]!;
  const cols = await tgt.query<TargetColumn>(
    `SELECT attname AS name, pg_catalog.format_type(atttypid, atttypmod) AS type FROM pg_catalog.pg_attribute
      WHERE attrelid = $1::oid AND attnum > 0 AND NOT attisdropped`,
    [oid],
  );
  const mapped = mapColumns(rel, m, cols.rows);
  if ('missing' in mapped) {
    throw new CaptureFailed(
      `column ${mapped.missing} of source table ${source} has no column on the target table ${displayName(at.schema, at.name)}: ` +
        'DDL is not replicated; a column added on the source during the migration must be added on the target too (docs/cdc.md)',
    );
  }
  return targetTable(rel, display, at.schema, at.name, mapped.columns);
}

// ---------------------------------------------------------------- applying

/** A target transaction is committed once it holds this many changes... */
const BATCH_MAX_CHANGES = 5_000;
/** ...or is this old, or nothing more is queued right now (at a source commit, never inside a source transaction). */
const BATCH_MAX_MS = 1_000;
/**
 * Inserts (or key deletes) of one table, consecutive within that table, go out as one statement of
 * at most this many rows / characters (all pending runs together at most RUN_MAX_CHARS).
 */
const RUN_MAX_ROWS = 1_000;
const RUN_MAX_CHARS = 8 * 1024 * 1024;
/**
 * Statements wait in the open batch and go to the target as one multi-statement simple query
 * (values inlined as literals) at the batch's commit, or once this much SQL is waiting: one round
 * trip per batch instead of one per UPDATE (node-postgres does not pipeline).
 */
const SEND_MAX_CHARS = 4 * 1024 * 1024;
/** Each sent chunk runs inside this savepoint, so a failing chunk can be replayed statement by statement to name the change. */
const CHUNK_SAVEPOINT = 'ferry_apply_chunk';
/** Decoded frames buffered before the socket is paused (backpressure; a 100k-row transaction never sits in memory). */
const QUEUE_HIGH = 2_000;
const QUEUE_LOW = 200;
/** Standby status at least this often, so the walsender (wal_sender_timeout) knows the stream is alive. */
const STATUS_EVERY_MS = 10_000;
const PROGRESS_EVERY_MS = 1_000;

/** Consecutive changes of one kind to one table, applied as one statement. */
interface Run {
  kind: 'insert' | 'delete' | 'update';
  rows: Tuple[];
  chars: number;
  /** Update runs: row index by key (a later update of a key replaces the earlier row). */
  at?: Map<string, number>;
}

class Applier {
  private readonly relations = new Map<number, RelationMessage>();
  private readonly targets = new Map<number, TargetTable | 'heartbeat'>();
  /** Statements of the open batch not sent yet, in apply order. */
  private pending: QueuedStatement[] = [];
  private pendingChars = 0;
  /** BEGIN of the open batch went to the target (it goes with the batch's first round trip). */
  private begun = false;
  /** Position of the heartbeat table's `ts` column in its relation. */
  private heartbeatTsIdx = 1;
  /** A target transaction is open. */
  open = false;
  /** Inside a source transaction (between BEGIN and COMMIT). */
  inTx = false;
  private skipping = false;
  /**
   * Pending runs, one per table. Each table's changes are applied in source order; changes of
   * different tables may be applied out of order inside the batch's one target transaction (the
   * batch commits atomically, and with session_replication_role = replica no foreign key or
   * ordinary trigger looks across tables), so an UPDATE of one table does not cut another table's
   * run of inserts short (pgbench: UPDATE accounts, INSERT history). Without the replica role
   * (`reorder` false) any other table's change flushes every run first, as the source did it.
   */
  private readonly runs = new Map<number, Run>();
  private runChars = 0;
  private batchChanges = 0;
  private batchStarted = 0;
  private batchEnd: bigint | null = null;
  private batchHeartbeat: string | null = null;
  /** Rows applied by committed batches of this slice. */
  appliedChanges = 0;

  constructor(
    private readonly tgt: pg.Client,
    private readonly targetEp: ResolvedEndpoint,
    private readonly migrationId: string,
    private readonly mappings: TableMapping[],
    private readonly objects: ProvisionedObject[],
    private readonly heartbeat: HeartbeatTable,
    /** End LSN of the last source transaction committed on the target. */
    public applied: bigint,
    public heartbeatTs: string | null,
    private readonly reorder: boolean,
  ) {}

  /**
   * A new slice on a kept session: count its changes from zero, and look target tables up again
   * (renames or other DDL on the target between slices; relation messages are not sent again).
   */
  startSlice(): void {
    this.appliedChanges = 0;
    this.targets.clear();
  }

  /** Source transactions are complete and the target holds no uncommitted batch. */
  get idle(): boolean {
    return !this.inTx && !this.open;
  }

  /** A committed source transaction waits in the open target transaction. */
  get committable(): boolean {
    return !this.inTx && this.open && this.batchEnd !== null;
  }

  shouldCommit(queueEmpty: boolean): boolean {
    return this.committable && (queueEmpty || this.batchChanges >= BATCH_MAX_CHANGES || Date.now() - this.batchStarted >= BATCH_MAX_MS);
  }

  private async target(relation: number): Promise<TargetTable | 'heartbeat'> {
    const have = this.targets.get(relation);
    if (have) return have;
    const rel = this.relations.get(relation);
    if (!rel) throw new Error(`pgoutput: change for relation ${relation} before its relation message`);
    if (rel.schema === this.heartbeat.schema && rel.name === this.heartbeat.name) {
      this.heartbeatTsIdx = rel.columns.findIndex((c) => c.name === 'ts');
      this.targets.set(relation, 'heartbeat');
      return 'heartbeat';
    }
    const t = await this.q(() => resolveTable(this.tgt, rel, this.mappings, this.objects));
    this.targets.set(relation, t);
    return t;
  }

  /** Run target work; a lost target session is reported as the target's (retryable) connection failure. */
  private async q<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw err instanceof FerryError ? err : classifyError(err, this.targetEp);
    }
  }

  /** Queue a statement of the open batch; it is sent with the batch's next round trip. */
  private async exec(s: Statement, table: TargetTable): Promise<void> {
    this.pending.push({ s, table });
    this.pendingChars += s.text.length + tupleChars(s.values);
    if (this.pendingChars >= SEND_MAX_CHARS) await this.send();
  }

  /** Send the queued statements (and `tail`) in one round trip; see sendChunk. */
  private async send(tail?: Statement): Promise<pg.QueryResult | undefined> {
    const chunk = this.pending;
    this.pending = [];
    this.pendingChars = 0;
    if (chunk.length === 0 && tail === undefined && this.begun) return undefined;
    const begin = !this.begun;
    this.begun = true; // even when the chunk fails: ROLLBACK ends the batch
    return sendChunk(this.tgt, this.targetEp, chunk, begin, tail);
  }

  /** Apply the pending run of `relation`, or every pending run (in the order they began). */
  private async flushRun(relation?: number): Promise<void> {
    if (relation !== undefined && this.reorder) {
      await this.flushOne(relation);
      return;
    }
    for (const r of [...this.runs.keys()]) await this.flushOne(r);
  }

  private async flushOne(relation: number): Promise<void> {
    const run = this.runs.get(relation);
    if (!run) return;
    this.runs.delete(relation);
    this.runChars -= run.chars;
    const t = await this.target(relation);
    if (t === 'heartbeat') return;
    const statements = run.kind === 'insert' ? [insertStatement(t, run.rows)] : run.kind === 'update' ? [updateRunStatement(t, run.rows)] : deleteStatements(t, run.rows);
    for (const s of statements) await this.exec(s, t);
  }

  /** Add a change to its table's run; an update (whole new row, see updateJoinsRun) replaces the run's earlier row of the same key. */
  private async addToRun(relation: number, kind: Run['kind'], row: Tuple, table?: TargetTable): Promise<void> {
    const have = this.runs.get(relation);
    if (have && have.kind !== kind) await this.flushRun(relation);
    // In source order: a change of another table flushes the runs of every table first.
    if (!this.reorder && this.runs.size > 0 && !this.runs.has(relation)) await this.flushRun();
    let run = this.runs.get(relation);
    if (!run) {
      run = { kind, rows: [], chars: 0, ...(kind === 'update' ? { at: new Map<string, number>() } : {}) };
      this.runs.set(relation, run);
    }
    const chars = tupleBytes(row);
    if (run.at && table) {
      const key = updateRunKey(table, row);
      const i = run.at.get(key);
      if (i !== undefined) {
        run.rows[i] = row;
      } else {
        run.at.set(key, run.rows.length);
        run.rows.push(row);
      }
    } else {
      run.rows.push(row);
    }
    run.chars += chars;
    this.runChars += chars;
    if (run.rows.length >= RUN_MAX_ROWS || run.chars >= RUN_MAX_CHARS) await this.flushRun(relation);
    else if (this.runChars >= RUN_MAX_CHARS) await this.flushRun();
  }

  async handle(msg: PgoutputMessage): Promise<void> {
    switch (msg.tag) {
      case 'relation':
        await this.flushRun();
        this.relations.set(msg.oid, msg);
        this.targets.delete(msg.oid);
        return;
      case 'begin':
        this.inTx = true;
        // Exactly once: a commit record before the applied position was committed on the target already.
        this.skipping = msg.finalLsn < this.applied;
        if (!this.skipping && !this.open) {
          // BEGIN goes with the batch's first round trip (send).
          this.open = true;
          this.begun = false;
          this.batchStarted = Date.now();
          this.batchChanges = 0;
        }
        return;
      case 'commit':
        this.inTx = false;
        if (this.skipping) {
          this.skipping = false;
          return;
        }
        // Runs may go on across source transactions: commit() applies them before the target commits.
        if (!this.reorder) await this.flushRun();
        this.batchEnd = msg.endLsn;
        return;
      case 'type':
      case 'origin':
      case 'message':
        return;
    }
    if (this.skipping) return;
    if (!this.open) throw new Error(`pgoutput: ${msg.tag} outside a transaction`);
    this.batchChanges++;
    switch (msg.tag) {
      case 'insert': {
        const t = await this.target(msg.relation);
        if (t === 'heartbeat') {
          this.noteHeartbeat(msg.new);
          return;
        }
        await this.addToRun(msg.relation, 'insert', msg.new);
        return;
      }
      case 'delete': {
        const t = await this.target(msg.relation);
        if (t === 'heartbeat') return;
        const old = msg.old ?? msg.key;
        if (!old) throw new Error('pgoutput: DELETE without old key');
        if (t.full) {
          await this.flushRun(msg.relation);
          for (const s of deleteStatements(t, [old])) await this.exec(s, t);
        } else {
          await this.addToRun(msg.relation, 'delete', old);
        }
        return;
      }
      case 'update': {
        const t = await this.target(msg.relation);
        if (t === 'heartbeat') {
          this.noteHeartbeat(msg.new);
          return;
        }
        if (updateJoinsRun(t, msg)) {
          await this.addToRun(msg.relation, 'update', msg.new, t);
          return;
        }
        await this.flushRun(msg.relation);
        const s = updateStatement(t, msg);
        if (s) await this.exec(s, t);
        return;
      }
      case 'truncate': {
        await this.flushRun();
        const tables: TargetTable[] = [];
        for (const oid of msg.relations) {
          const t = await this.target(oid);
          if (t !== 'heartbeat') tables.push(t);
        }
        if (tables.length > 0) await this.exec(truncateStatement(tables, msg.restartIdentity), tables[0]!);
        return;
      }
    }
  }

  private noteHeartbeat(tuple: Tuple): void {
    const ts = this.heartbeatTsIdx >= 0 ? tuple[this.heartbeatTsIdx] : undefined;
    if (typeof ts === 'string') this.batchHeartbeat = ts;
  }

  /** Commit the open batch with the LSN it reached; returns that LSN. */
  async commit(): Promise<bigint> {
    await this.flushRun();
    const end = this.batchEnd;
    if (!this.open || end === null) throw new Error('no committed source transaction to commit');
    // The queued statements and the LSN marker in one round trip; COMMIT only once every row
    // count and the marker's own check passed.
    const marker: Statement = {
      text: `UPDATE ${CDC_TABLE} SET applied_lsn = $2::pg_lsn, applied_at = now(),
         heartbeat_ts = CASE WHEN $3::timestamptz IS NULL THEN heartbeat_ts ELSE greatest(heartbeat_ts, $3::timestamptz) END,
         applied_changes = applied_changes + $4::bigint
       WHERE migration_id = $1 AND applied_lsn < $2::pg_lsn RETURNING heartbeat_ts::text AS hb`,
      values: [this.migrationId, formatLsn(end), this.batchHeartbeat, this.batchChanges],
      what: 'capture state update',
    };
    const r = (await this.q(() => this.send(marker))) as pg.QueryResult<{ hb: string | null }>;
    if (r.rowCount !== 1) {
      await this.tgt.query('ROLLBACK');
      this.open = false;
      throw new CaptureFailed(
        `capture state of ${this.migrationId} moved while this slice applied up to ${formatLsn(end)} (another worker streaming the same slot?); nothing was committed`,
      );
    }
    await this.q(() => this.tgt.query('COMMIT'));
    this.open = false;
    this.applied = end;
    this.heartbeatTs = r.rows[0]?.hb ?? this.heartbeatTs;
    this.appliedChanges += this.batchChanges;
    this.batchChanges = 0;
    this.batchEnd = null;
    this.batchHeartbeat = null;
    return end;
  }

  async rollback(): Promise<void> {
    this.runs.clear();
    this.runChars = 0;
    this.pending = [];
    this.pendingChars = 0;
    if (this.open) await this.tgt.query('ROLLBACK').catch(() => undefined);
    this.open = false;
    this.inTx = false;
    this.skipping = false;
    this.batchEnd = null;
    this.batchHeartbeat = null;
  }
}

/** A statement of an open batch, with the table it changes (for messages). */
export interface QueuedStatement {
  s: Statement;
  table: TargetTable;
}

/** The part of pg.Client that sendChunk uses. */
export interface ChunkClient {
  query(text: string): Promise<unknown>;
  query(config: { text: string; values: unknown[] }): Promise<unknown>;
}

/**
 * Queued statements of the open target transaction in one round trip: `[BEGIN;] SAVEPOINT;
 * statements; RELEASE SAVEPOINT[; tail]` as one simple query with the values inlined as
 * literals, then each statement's row count is checked. `tail` (the LSN marker at commit) runs
 * after them in the same round trip; its result is returned. COMMIT is the caller's, after this
 * returned: a failed check never commits. A failing statement aborts the rest of the text (the
 * transaction is then only good for ROLLBACK); which one failed is found by going back to the
 * savepoint and replaying the chunk one parameterised statement at a time, and reported with its
 * table. Either way the batch is lost (the caller rolls it back).
 */
export async function sendChunk(
  tgt: ChunkClient,
  ep: ResolvedEndpoint,
  chunk: QueuedStatement[],
  begin: boolean,
  tail?: Statement,
): Promise<pg.QueryResult | undefined> {
  const parts: Pick<Statement, 'text' | 'values'>[] = [];
  if (begin) parts.push({ text: 'BEGIN', values: [] });
  const first = parts.length + (chunk.length > 0 ? 1 : 0);
  if (chunk.length > 0) {
    parts.push({ text: `SAVEPOINT ${CHUNK_SAVEPOINT}`, values: [] });
    for (const c of chunk) parts.push(c.s);
    parts.push({ text: `RELEASE SAVEPOINT ${CHUNK_SAVEPOINT}`, values: [] });
  }
  if (tail) parts.push(tail);
  if (parts.length === 0) return undefined;
  let results: pg.QueryResult[];
  try {
    const r = (await tgt.query(multiStatement(parts))) as pg.QueryResult | pg.QueryResult[];
    results = Array.isArray(r) ? r : [r];
  } catch (err) {
    const classified = classifyError(err, ep);
    if (classified instanceof FerryError || pgCode(err) === undefined) throw classified;
    if (chunk.length > 0) await replayChunk(tgt, ep, chunk);
    throw classified;
  }
  if (results.length !== parts.length) throw new Error(`the target returned ${results.length} results for ${parts.length} statements`);
  chunk.forEach((c, i) => checkRows(c.s, c.table, results[first + i]!));
  return tail ? results[results.length - 1] : undefined;
}

/** A sent chunk failed: back to its savepoint, then its statements one at a time until one fails, reported with its table. */
async function replayChunk(tgt: ChunkClient, ep: ResolvedEndpoint, chunk: QueuedStatement[]): Promise<void> {
  try {
    await tgt.query(`ROLLBACK TO SAVEPOINT ${CHUNK_SAVEPOINT}`);
  } catch {
    return; // the savepoint is gone (the failure came after the chunk): the caller reports the error as it is
  }
  for (const c of chunk) {
    let r: pg.QueryResult;
    try {
      r = (await tgt.query({ text: c.s.text, values: c.s.values })) as pg.QueryResult;
    } catch (e) {
      const classified = classifyError(e, ep);
      if (classified instanceof FerryError || pgCode(e) === undefined) throw classified;
      throw new CaptureFailed(`applying a ${c.s.what} to ${c.table.display} failed: ${(e as Error).message}`, { cause: e });
    }
    checkRows(c.s, c.table, r);
  }
}

/** Rough characters of a statement's values (strings and text arrays), to bound a round trip. */
function tupleChars(values: unknown[]): number {
  let n = 0;
  for (const v of values) {
    if (typeof v === 'string') n += v.length + 2;
    else if (Array.isArray(v)) n += tupleBytes(v as Tuple) + 4 * v.length;
    else n += 8;
  }
  return n;
}

/** A statement touched fewer (or more) rows than its change names: the target diverged. */
function checkRows(s: Statement, table: TargetTable, r: pg.QueryResult): void {
  if (s.expectRows !== undefined && r.rowCount !== s.expectRows) {
    throw new CaptureFailed(
      `applying a ${s.what} to ${table.display}: ${r.rowCount ?? 0} of ${s.expectRows} row(s) found on the target; ` +
        'the target no longer matches the source (changed on the target during the migration?)',
    );
  }
}

// ---------------------------------------------------------------- streamChanges

interface Stream {
  client: pg.Client;
  next(timeoutMs: number): Promise<ReplicationFrame | undefined>;
  /** Decoded frames waiting in the queue. */
  pending(): number;
  sendStatus(lsn: bigint, replyRequested?: boolean): void;
  /** The stream's failure (connection lost, bad frame), if any. */
  failure(): unknown;
}

/** START_REPLICATION on `slot` from `from`; frames are decoded on arrival and queued with backpressure. */
async function startStream(ep: ResolvedEndpoint, slot: string, publication: string, from: bigint, signal?: AbortSignal): Promise<Stream> {
  for (let attempt = 0; ; attempt++) {
    const client = await connectReplication(ep);
    const connection = (client as unknown as { connection: ReplicationConnection }).connection;
    const queue: ReplicationFrame[] = [];
    let paused = false;
    let failure: unknown;
    let started = false;
    let wake: (() => void) | undefined;
    const notify = () => {
      const w = wake;
      wake = undefined;
      w?.();
    };
    connection.on('copyData', (msg: { chunk: Buffer }) => {
      try {
        queue.push(decodeFrame(msg.chunk));
      } catch (err) {
        failure ??= err;
      }
      if (queue.length >= QUEUE_HIGH && !paused) {
        paused = true;
        connection.stream.pause();
      }
      notify();
    });
    connection.once('replicationStart', () => {
      started = true;
      notify();
    });
    client.on('error', (err: unknown) => {
      failure ??= err;
      notify();
    });
    client.on('end', () => {
      failure ??= new Error('Connection terminated: the replication session ended');
      notify();
    });
    const done = client
      .query(`START_REPLICATION SLOT ${quoteIdent(slot)} LOGICAL ${formatLsn(from)} (proto_version '1', publication_names '${publication}')`)
      .then(
        () => {
          failure ??= new Error('Connection terminated: the server ended replication');
        },
        (err: unknown) => {
          failure ??= err;
        },
      )
      .finally(notify);
    // Wait for CopyBoth (streaming) or the error that refused it.
    while (!started && failure === undefined) {
      await Promise.race([new Promise<void>((r) => (wake = r)), done, sleep(1_000)]);
    }
    if (!started) {
      await closeClient(client, true);
      // The previous slice's walsender may not have exited yet: wait, then end it.
      if (pgCode(failure) === '55006' && attempt < 30 && !signal?.aborted) {
        if (attempt === 20) {
          await withSource(ep, (src) => freeSlot(src, slot, 0, true));
        }
        await sleep(attempt < 10 ? 100 : 300);
        continue;
      }
      if (pgCode(failure) === '42704') {
        throw new CaptureFailed(`replication slot ${slot} does not exist on the source (dropped, or never created by the snapshot holder)`, { cause: failure });
      }
      throw failure;
    }
    return {
      client,
      failure: () => failure,
      pending: () => queue.length,
      sendStatus: (lsn, replyRequested = false) => connection.sendCopyFromChunk(standbyStatus(lsn, Date.now(), replyRequested)),
      next: async (timeoutMs) => {
        if (queue.length === 0 && failure === undefined) {
          await Promise.race([new Promise<void>((r) => (wake = r)), sleep(timeoutMs)]);
          wake = undefined;
        }
        const f = queue.shift();
        if (paused && queue.length <= QUEUE_LOW) {
          paused = false;
          connection.stream.resume();
        }
        return f;
      },
    };
  }
}

interface ReplicationConnection {
  on(event: string, fn: (msg: never) => void): void;
  once(event: string, fn: () => void): void;
  sendCopyFromChunk(chunk: Buffer): void;
  stream: { pause(): void; resume(): void };
}

async function withSource<T>(ep: ResolvedEndpoint, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = await connectEndpoint(ep);
  try {
    return await fn(c);
  } finally {
    await closeClient(c);
  }
}

/** The oldest transaction on the source with an xid, open longer than a minute (it holds WAL back). */
async function longTransaction(src: pg.Client): Promise<string | undefined> {
  const r = await src.query<{ pid: number; age: number; datname: string | null; state: string | null }>(
    `SELECT pid, extract(epoch FROM pg_catalog.clock_timestamp() - xact_start)::int AS age, datname, state
       FROM pg_catalog.pg_stat_activity
      WHERE backend_xid IS NOT NULL AND xact_start < pg_catalog.clock_timestamp() - interval '1 minute'
      ORDER BY xact_start LIMIT 1`,
  );
  const row = r.rows[0];
  if (!row) return undefined;
  return `a transaction open for ${row.age}s on the source (pid ${row.pid}, database ${row.datname ?? '?'}, ${row.state ?? 'unknown state'}) holds WAL back until it ends`;
}

// ---------------------------------------------------------------- capture sessions

/**
 * What a slice streams with: the target session (the applier's), a source session (lag, long
 * transactions), the replication stream and the heartbeat writer. A slice that ends cleanly parks
 * it for the next slice of the same migration on this worker, so the walsender keeps decoding
 * between slices instead of restarting from the slot's restart point (a restart under load cost
 * about a second of lag every slice). Frames that arrive while it is parked wait in the stream's
 * queue (with backpressure).
 */
interface CaptureSession {
  /** Endpoints, heartbeat interval and mappings it was opened for: a slice with others opens its own. */
  key: string;
  tgt: pg.Client;
  src: pg.Client;
  stream: Stream;
  writer: HeartbeatWriter;
  applier: Applier;
  /** The target or source session ended or failed (while parked, nothing else would notice). */
  lost: () => boolean;
}

/** How long a parked session waits for the next slice (the workflow's turnaround is well under a second). */
const PARK_MS = 10_000;

async function closeCaptureSession(c: CaptureSession): Promise<void> {
  await closeClient(c.stream.client, true);
  await c.writer.stop();
  await closeClient(c.src);
  await closeClient(c.tgt, c.applier.open);
}

const parkedCaptures = new ParkingLot<CaptureSession>(PARK_MS, closeCaptureSession);

/** Close every parked capture session of this process (worker shutdown, tests). */
export function closeParkedCaptures(): Promise<void> {
  return parkedCaptures.closeAll();
}

function captureKey(ctx: EngineContext, options: StreamOptions): string {
  const ep = (e: ResolvedEndpoint) => [e.host, e.port, e.database, e.user, e.password ?? null, e.sslmode];
  return createHash('sha256')
    .update(JSON.stringify([ep(ctx.source), ep(ctx.target), ctx.spec.cdc.heartbeatIntervalSeconds, options.tables ?? null]))
    .digest('hex');
}

/**
 * The session the previous slice parked, if it is still good for this one: same key, its stream
 * alive, and the target's marker where it left it (nobody else applied meanwhile).
 */
async function resumeParked(ctx: EngineContext, key: string): Promise<CaptureSession | undefined> {
  const c = parkedCaptures.take(ctx.migrationId);
  if (!c) return undefined;
  let good = c.key === key && !c.lost() && c.stream.failure() === undefined && c.applier.idle;
  if (good) {
    const state = await readCdcState(c.tgt, ctx.migrationId).catch(() => null);
    good = state !== null && parseLsn(state.appliedLsn) === c.applier.applied;
  }
  if (good) return c;
  await closeCaptureSession(c).catch(() => undefined);
  return undefined;
}

/** Open a capture session at the target's applied position; `onSide` tracks which server a failure came from. */
async function openCaptureSession(ctx: EngineContext, options: StreamOptions, key: string, onSide: (ep: ResolvedEndpoint) => void): Promise<CaptureSession> {
  const hb = heartbeatTable(ctx.migrationId);
  let tgt: pg.Client | undefined;
  let src: pg.Client | undefined;
  let writer: HeartbeatWriter | undefined;
  try {
    onSide(ctx.target);
    tgt = await connectEndpoint(ctx.target);
    const state = await readCdcState(tgt, ctx.migrationId);
    if (!state) throw new CaptureFailed(`no change capture state for ${ctx.migrationId} on the target: the slot was never created (holdSnapshot in online mode)`);
    // Triggers and foreign keys do not fire for replicated rows (as in PostgreSQL's own apply); needs a superuser target login.
    const replicaRole = await tgt.query('SET session_replication_role = replica').then(
      () => true,
      () => false,
    );
    const provisioned = await readProvisioned(tgt, ctx.migrationId);
    const mappings = options.tables ?? provisioned?.result?.tables ?? [];
    const applier = new Applier(tgt, ctx.target, ctx.migrationId, mappings, provisioned?.objects ?? [], hb, parseLsn(state.appliedLsn), state.heartbeatTs, replicaRole);

    onSide(ctx.source);
    src = await connectEndpoint(ctx.source);
    writer = startHeartbeat(ctx.source, hb, ctx.spec.cdc.heartbeatIntervalSeconds * 1000);
    const stream = await startStream(ctx.source, state.slot, publicationName(ctx.migrationId), applier.applied, ctx.signal);
    let lost = false;
    for (const c of [tgt, src]) {
      c.on('error', () => (lost = true));
      c.on('end', () => (lost = true));
    }
    return { key, tgt, src, stream, writer, applier, lost: () => lost };
  } catch (err) {
    await writer?.stop();
    if (src) await closeClient(src);
    if (tgt) await closeClient(tgt, true);
    throw err;
  }
}

/**
 * One slice of change capture: stream from the applied position, apply in batches, confirm what
 * committed. Returns after options.maxSeconds (at a transaction boundary: a transaction being
 * applied is finished first), once options.untilLsn is applied, or when ctx.signal aborts (the
 * open batch is rolled back and nothing beyond the applied position is confirmed). A slice that
 * ends cleanly parks its session for the next one (see CaptureSession).
 */
export async function streamChanges(ctx: EngineContext, options: StreamOptions, onProgress: (p: CaptureProgress) => void): Promise<CaptureProgress> {
  const started = Date.now();
  const deadline = started + Math.max(0, options.maxSeconds) * 1000;
  const until = options.untilLsn !== undefined ? parseLsn(options.untilLsn) : undefined;
  if (options.untilLsn !== undefined && !isLsn(options.untilLsn)) throw new CaptureFailed(`untilLsn '${options.untilLsn}' is not an LSN`);
  const key = captureKey(ctx, options);
  let session: CaptureSession | undefined;
  let keep = false;
  let side: ResolvedEndpoint = ctx.target;
  try {
    session = (await resumeParked(ctx, key)) ?? (await openCaptureSession(ctx, options, key, (ep) => (side = ep)));
    side = ctx.source;
    session.applier.startSlice();

    const a = session.applier;
    const s = session.stream;
    const source = session.src;
    let lastStatus = Date.now();
    let lastProgress = 0;
    let caughtUpTo = 0n; // a keepalive said everything before this was sent, and we had applied all of it
    let sourceLsn = a.applied;
    let lagSeconds: number | undefined;
    let longTx: string | undefined;

    const measure = async (): Promise<void> => {
      const r = await source.query<{ lsn: string; lag: number | null }>(
        'SELECT pg_catalog.pg_current_wal_insert_lsn()::text AS lsn, extract(epoch FROM pg_catalog.clock_timestamp() - $1::timestamptz)::float8 AS lag',
        [a.heartbeatTs],
      );
      sourceLsn = parseLsn(r.rows[0]!.lsn);
      lagSeconds = r.rows[0]?.lag === null || r.rows[0]?.lag === undefined ? undefined : Math.max(0, Number(r.rows[0].lag));
    };
    const snapshot = (): CaptureProgress => ({
      appliedLsn: formatLsn(a.applied),
      applied: a.appliedChanges,
      lagSeconds,
      lagBytes: lsnDiff(sourceLsn, a.applied),
      reachedUntil: until !== undefined && (a.applied >= until || (a.idle && caughtUpTo >= until)),
      longTransactionWarning: longTx,
    });
    const report = async (force = false): Promise<void> => {
      if (!force && Date.now() - lastProgress < PROGRESS_EVERY_MS) return;
      lastProgress = Date.now();
      await measure();
      onProgress(snapshot());
    };
    const commit = async (): Promise<void> => {
      const end = await a.commit();
      s.sendStatus(end);
      lastStatus = Date.now();
    };

    await report(true);
    for (;;) {
      const failure = s.failure();
      if (failure !== undefined) throw failure instanceof Error ? failure : new Error(`replication stream failed: ${JSON.stringify(failure)}`);
      if (ctx.signal?.aborted) {
        await a.rollback();
        break;
      }
      const frame = await s.next(200);
      if (ctx.signal?.aborted) {
        await a.rollback();
        break;
      }
      if (frame?.kind === 'xlog') {
        await a.handle(frame.message);
      } else if (frame?.kind === 'keepalive') {
        if (!a.inTx) caughtUpTo = frame.walEnd > caughtUpTo ? frame.walEnd : caughtUpTo;
        if (frame.replyRequested) {
          s.sendStatus(a.applied);
          lastStatus = Date.now();
        }
      }
      // Commit as soon as nothing more is queued: waiting for a quiet stream would, under a steady
      // trickle of changes (or the heartbeat), hold every batch open for BATCH_MAX_MS.
      if (a.shouldCommit(frame === undefined || s.pending() === 0)) await commit();
      if (Date.now() - lastStatus >= STATUS_EVERY_MS) {
        s.sendStatus(a.applied);
        lastStatus = Date.now();
      }
      await report();
      if (a.inTx) continue; // a source transaction is finished before anything else
      const reached = until !== undefined && (a.applied >= until || caughtUpTo >= until);
      if (reached || Date.now() >= deadline) {
        if (a.committable) await commit();
        if (a.idle) break;
      }
    }
    if (!ctx.signal?.aborted) {
      longTx = await longTransaction(source).catch(() => undefined);
      await report(true);
      keep = a.idle && s.failure() === undefined;
    }
    return snapshot();
  } catch (err) {
    await session?.applier.rollback();
    throw captureError(err, side);
  } finally {
    if (session && keep) parkedCaptures.park(ctx.migrationId, session);
    else if (session) await closeCaptureSession(session);
  }
}
