// Full load: plan chunks, and copy one chunk source -> target as a streamed COPY whose rows commit
// together with the chunk's marker row (exactly once on the target).
//
// Planning: a table (a leaf partition for a partitioned table) loads whole unless it is bigger
// than spec.fullLoad.wholeTableMaxMB or would be the load's long pole (wholeTableLimit,
// spec.fullLoad.splitLongPole); then it
// is split into ranges of about spec.fullLoad.chunkTargetMB: ctid block ranges (TID range scans,
// PostgreSQL 14+), or on older sources equal-width ranges of a single-column integer key. How
// each table was split is recorded on the target (ferry.plan) the first time, so a re-plan after a
// retry or a crash yields the same chunk ids, and markers keep done chunks from being copied again.
//
// Copying: under the full load's exported snapshot when one is given (every stream reads the
// same instant of the source); binary COPY (text for types whose binary form embeds OIDs) piped
// source -> target as the wire's own CopyData messages (copystream.ts), with backpressure; a whole
// table is TRUNCATEd and loaded with COPY FREEZE in the chunk's transaction (no hint-bit or
// freeze rewrite later); the target transaction commits asynchronously (synchronous_commit off:
// a commit lost to a target crash loses its marker with it, and the chunk is copied again).
// When a table's last chunk is in, its indexes and key constraints are built and it is analyzed
// right away (indexes.ts, statistics.ts), while the other streams go on copying; finishLoad does
// the rest.
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import type { ChunkResult, LoadChunk, TableMapping, TableRef } from '../../../workflows/types';
import type { CopyProgress, EngineContext } from '../engine';
import { ConnectionFailed, CopyFailed, FerryError, SnapshotLost } from '../errors';
import { integerKey, leafPartitions, needsTextFormat, relationSize, relkindOf } from './catalog';
import { cancelOnAbort, isConnectionLoss, leaseSession, pgCode, releaseSession, serverVersionNum, withSessions } from './connect';
import { CopyDataOut, copyDataIn, startCopyOut } from './copystream';
import { buildIndexes, earlyIndexStatements, indexBuildSettings } from './indexes';
import { splitsLongPole } from './locality';
import { mapSchema } from './selection';
import { analyzeTable } from './statistics';
import { displayName, qualify, quoteIdent, quoteIdentList } from './sql';
import { CHUNK_TABLE, ensureState, PLAN_TABLE } from './state';
import { beginUnderSnapshot, lockSnapshotForChunk, SNAPSHOT_ID } from './snapshot';

/** Stable chunk id: the quoted source table, plus the range when there is one. */
export function chunkId(table: TableMapping, range?: LoadChunk['range']): string {
  const base = qualify(table.source.schema, table.source.name);
  if (!range) return base;
  const column = range.kind === 'ctid' ? 'ctid' : quoteIdent(range.column);
  return `${base}#${column}[${range.lo ?? ''},${range.hi ?? ''})`;
}

/** How one table is copied: whole, or in ranges between `bounds` (n bounds make n + 1 ranges, both ends open). */
export type TableSplit = { kind: 'whole' } | { kind: 'key'; column: string; bounds: string[] } | { kind: 'ctid'; bounds: string[] };

/** TID range scans (ctid >= ... AND ctid < ...) read only the blocks asked for from PostgreSQL 14 on. */
const TID_RANGE_SCAN_VERSION = 140000;

/** `count` equal-width ranges over [lo, hi): the count - 1 inner bounds (fewer when the span is smaller). */
export function equalWidthBounds(lo: bigint, hi: bigint, count: number): bigint[] {
  const span = hi - lo;
  if (span <= 1n || count <= 1) return [];
  const n = BigInt(count) < span ? BigInt(count) : span;
  const width = (span + n - 1n) / n;
  const bounds: bigint[] = [];
  for (let b = lo + width; b < hi; b += width) bounds.push(b);
  return bounds;
}

/** Decide how to split one table of the source, from its size now (only called the first time a table is planned). */
export async function decideSplit(src: pg.Client, table: TableRef, targetBytes: number, version: number, wholeUpTo = 0): Promise<TableSplit> {
  const size = await relationSize(src, table);
  if (!size || size.bytes <= Math.max(targetBytes, wholeUpTo)) return { kind: 'whole' };
  const count = Math.ceil(size.bytes / targetBytes);
  // Block ranges first: a TID range scan reads its blocks in order like a sequential scan, where a
  // key range walks the index (a third of pgbench_accounts at scale 50: 0.78 s by ctid, 0.9-1.2 s
  // by aid). Under the load's snapshot both read the same rows; the last range is open-ended.
  // A table whose bytes are mostly TOAST has too few heap blocks for `count` block ranges: by key then.
  const blockBounds = version >= TID_RANGE_SCAN_VERSION ? equalWidthBounds(0n, BigInt(size.blocks), count) : [];
  if (blockBounds.length > 0 && size.blocks >= count) return { kind: 'ctid', bounds: blockBounds.map(String) };
  const column = await integerKey(src, table);
  if (column !== null) {
    const r = await src.query<{ lo: string | null; hi: string | null }>(
      `SELECT min(${quoteIdent(column)})::text AS lo, max(${quoteIdent(column)})::text AS hi FROM ONLY ${qualify(table.schema, table.name)}`,
    );
    const { lo, hi } = r.rows[0] ?? { lo: null, hi: null };
    if (lo === null || hi === null) return { kind: 'whole' };
    const bounds = equalWidthBounds(BigInt(lo), BigInt(hi) + 1n, count);
    return bounds.length ? { kind: 'key', column, bounds: bounds.map(String) } : { kind: 'whole' };
  }
  // No integer key: the block ranges there are (fewer than wanted), or whole before 14, where a
  // block range would read the whole heap.
  return blockBounds.length ? { kind: 'ctid', bounds: blockBounds.map(String) } : { kind: 'whole' };
}

/** The chunks of one table under its split: ranges cover everything (first and last are open-ended). */
export function chunksOf(table: TableMapping, split: TableSplit): LoadChunk[] {
  if (split.kind === 'whole' || split.bounds.length === 0) return [{ id: chunkId(table), table }];
  const edges: (string | null)[] = [null, ...split.bounds, null];
  const chunks: LoadChunk[] = [];
  for (let i = 0; i + 1 < edges.length; i++) {
    const range: NonNullable<LoadChunk['range']> =
      split.kind === 'key'
        ? { column: split.column, lo: edges[i]!, hi: edges[i + 1]!, kind: 'key' }
        : { column: 'ctid', lo: edges[i]!, hi: edges[i + 1]!, kind: 'ctid' };
    chunks.push({ id: chunkId(table, range), table, range });
  }
  return chunks;
}

/** The tables actually copied: each leaf of a partitioned table stands for it (the root holds no rows). */
async function copyUnits(ctx: EngineContext, src: pg.Client, tables: TableMapping[]): Promise<TableMapping[]> {
  const units: TableMapping[] = [];
  for (const t of tables) {
    if ((await relkindOf(src, t.source)) !== 'p') {
      units.push(t);
      continue;
    }
    for (const leaf of await leafPartitions(src, t.source)) {
      const cols = await src.query<{ attname: string }>(
        `SELECT a.attname FROM pg_catalog.pg_attribute a WHERE a.attrelid = $1::oid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`,
        [leaf.oid],
      );
      const rootCols = new Map(t.columns.map((c) => [c.source, c.target]));
      units.push({
        source: { schema: leaf.schema, name: leaf.name },
        target: { schema: mapSchema(ctx.spec.rename, leaf.schema), name: leaf.name },
        // Same columns as the root (generated ones left out), in the leaf's own order.
        columns: cols.rows.filter((c) => rootCols.has(c.attname)).map((c) => ({ source: c.attname, target: rootCols.get(c.attname)! })),
        estimatedBytes: leaf.bytes,
        estimatedRows: leaf.rows,
      });
    }
  }
  return units;
}

/** Splits recorded for this migration, by quoted source table. */
async function recordedSplits(tgt: pg.Client, migrationId: string): Promise<Map<string, TableSplit>> {
  const r = await tgt.query<{ source_table: string; split: TableSplit }>(`SELECT source_table, split FROM ${PLAN_TABLE} WHERE migration_id = $1`, [
    migrationId,
  ]);
  return new Map(r.rows.map((x) => [x.source_table, x.split]));
}

/** Chunks are never planned smaller than this (below it, a chunk's fixed cost starts to show)... */
const MIN_CHUNK_BYTES = 32 * 1024 * 1024;
/** ...and otherwise about 1/(parallelism x this) of the whole load, so the streams end together. */
const CHUNKS_PER_STREAM = 4;

/**
 * The chunk size to plan with: spec.fullLoad.chunkTargetMB, or smaller when the load is small next
 * to it. With 256 MB chunks a 930 MB load on 2 streams was 4 chunks, and its last chunk (plus the
 * table's index build) ran alone for seconds; at about a quarter of each stream's share the
 * streams stay busy until the end.
 */
export function plannedChunkBytes(targetMB: number, totalBytes: number, parallelism: number): number {
  const target = targetMB * 1024 * 1024;
  return Math.min(target, Math.max(MIN_CHUNK_BYTES, Math.ceil(totalBytes / (Math.max(1, parallelism) * CHUNKS_PER_STREAM))));
}

/** A table over this many even stream shares of the load is the long pole (splitLongPole). */
const LONG_POLE_SHARES = 1.5;

/**
 * Tables up to this many bytes load whole. A whole table is loaded with COPY FREEZE in one
 * transaction; a split one is not (FREEZE needs the table truncated in the loading transaction,
 * which the other streams' chunks cannot share), so the target writes all its pages a second time
 * on their first scan (hint bits) and again when vacuum freezes them. On the bench (bench/results.md,
 * "Whole tables loaded frozen"), pgbench_accounts (641 MB of 885, 1.45 shares on 2 streams) whole
 * took the same wall time as split across both streams, within the machine's noise, and the
 * target 6.8 core-s instead of 7.7. Past some size a whole table runs alone at the end while the
 * other streams idle: when `splitLongPole`, 1.5 shares is where splitting starts (a judgment,
 * measured only at 1.45); where the streams share the cores of one machine with both databases
 * (locality.ts), they have no core to spare for it, and only the size cap splits.
 */
export function wholeTableLimit(wholeTableMaxMB: number, totalBytes: number, parallelism: number, splitLongPole = true): number {
  const cap = wholeTableMaxMB * 1024 * 1024;
  return splitLongPole ? Math.min(cap, (LONG_POLE_SHARES * totalBytes) / Math.max(1, parallelism)) : cap;
}

/**
 * Chunks of every table (leaves for partitioned ones; big tables in ranges), the largest table
 * first with its ranges together: its last chunk, and so its index build, then comes early, while
 * the streams still have other tables to copy.
 */
export async function planFullLoad(ctx: EngineContext, tables: TableMapping[]): Promise<LoadChunk[]> {
  return withSessions(ctx, async (src, tgt) => {
    const units = await copyUnits(ctx, src, tables);
    await ensureState(tgt);
    let splits = await recordedSplits(tgt, ctx.migrationId);
    const fresh: [string, TableSplit][] = [];
    const totalBytes = units.reduce((sum, u) => sum + u.estimatedBytes, 0);
    const targetBytes = plannedChunkBytes(ctx.spec.fullLoad.chunkTargetMB, totalBytes, ctx.spec.parallelism);
    // An activity scheduled before wholeTableMaxMB (splitLongPole) existed carries a spec without
    // it: the behaviour of then (1024, and the long pole split).
    const longPole = splitsLongPole(ctx.spec.fullLoad.splitLongPole, ctx.spec.parallelism, { source: ctx.source.host, target: ctx.target.host });
    const wholeUpTo = wholeTableLimit(ctx.spec.fullLoad.wholeTableMaxMB ?? 1024, totalBytes, ctx.spec.parallelism, longPole);
    const version = await serverVersionNum(src);
    for (const unit of units) {
      const key = qualify(unit.source.schema, unit.source.name);
      if (!splits.has(key)) fresh.push([key, await decideSplit(src, unit.source, targetBytes, version, wholeUpTo)]);
    }
    if (fresh.length > 0) {
      // First writer wins (two planners racing record one split); then read back what is recorded.
      await tgt.query(
        `INSERT INTO ${PLAN_TABLE} (migration_id, source_table, split)
         SELECT $1, t, s FROM unnest($2::text[], $3::jsonb[]) AS x(t, s) ON CONFLICT (migration_id, source_table) DO NOTHING`,
        [ctx.migrationId, fresh.map(([k]) => k), fresh.map(([, s]) => JSON.stringify(s))],
      );
      splits = await recordedSplits(tgt, ctx.migrationId);
    }
    // Largest table first; a table's ranges together, in key (block) order.
    const sized: { chunk: LoadChunk; bytes: number; table: string; at: number }[] = [];
    for (const unit of units) {
      const table = qualify(unit.source.schema, unit.source.name);
      const chunks = chunksOf(unit, splits.get(table) ?? { kind: 'whole' });
      chunks.forEach((chunk, at) => sized.push({ chunk, bytes: unit.estimatedBytes, table, at }));
    }
    return sized.sort((a, b) => b.bytes - a.bytes || a.table.localeCompare(b.table) || a.at - b.at).map((x) => x.chunk);
  });
}

const INTEGER = /^-?[0-9]+$/;
const BLOCK = /^[0-9]+$/;

/**
 * `WHERE` clause of a range. Integer key and block bounds are checked and written as literals;
 * any other bound is rendered as a literal by the server itself (COPY takes no parameters).
 */
export async function rangePredicate(src: pg.Client, range: NonNullable<LoadChunk['range']>): Promise<string> {
  const parts: string[] = [];
  if (range.kind === 'ctid') {
    for (const v of [range.lo, range.hi]) if (v !== null && !BLOCK.test(v)) throw new CopyFailed(`invalid block number '${v}' in a ctid range`);
    if (range.lo !== null) parts.push(`ctid >= '(${range.lo},0)'::pg_catalog.tid`);
    if (range.hi !== null) parts.push(`ctid < '(${range.hi},0)'::pg_catalog.tid`);
  } else {
    const lit = async (v: string) =>
      INTEGER.test(v) ? v : (await src.query<{ l: string }>('SELECT pg_catalog.quote_literal($1::text) AS l', [v])).rows[0]!.l;
    if (range.lo !== null) parts.push(`${quoteIdent(range.column)} >= ${await lit(range.lo)}`);
    if (range.hi !== null) parts.push(`${quoteIdent(range.column)} < ${await lit(range.hi)}`);
  }
  return parts.length ? ` WHERE ${parts.join(' AND ')}` : '';
}

/**
 * Row counter for binary COPY data (payloads, not wire messages): 11-byte signature, int32 flags,
 * int32 extension length + extension, then tuples (int16 field count, per field int32 length
 * (-1 NULL) + data), trailer int16 -1. Streams over the chunks as they come: field data is skipped
 * in place and only the few bytes of a length split between two chunks are carried over. (The copy
 * itself counts CopyData messages, one per row; this is for code that sees only the COPY data.)
 */
export function binaryRowCounter(onRows: (n: number) => void): (chunk: Buffer) => void {
  type State = 'header' | 'ext' | 'tuple' | 'fieldlen' | 'field' | 'done';
  let state: State = 'header';
  let need = 19; // bytes still wanted by the current state (signature + flags + extension length)
  let fieldsLeft = 0;
  const carry = Buffer.alloc(19); // the start of a header/length split across chunks
  let carried = 0;
  return (chunk: Buffer) => {
    let pos = 0;
    let rows = 0;
    while (state !== 'done' && pos < chunk.length) {
      if (state === 'field' || state === 'ext') {
        const skip = Math.min(need, chunk.length - pos);
        pos += skip;
        need -= skip;
        if (need > 0) break;
        if (state === 'ext') {
          state = 'tuple';
          need = 2;
        } else {
          state = --fieldsLeft > 0 ? 'fieldlen' : 'tuple';
          need = state === 'tuple' ? 2 : 4;
        }
        continue;
      }
      // A fixed-size item: read in place when whole, else gather it in `carry`.
      let buf: Buffer;
      let at: number;
      if (carried === 0 && chunk.length - pos >= need) {
        buf = chunk;
        at = pos;
        pos += need;
      } else {
        const take = Math.min(need - carried, chunk.length - pos);
        chunk.copy(carry, carried, pos, pos + take);
        carried += take;
        pos += take;
        if (carried < need) break;
        buf = carry;
        at = 0;
        carried = 0;
      }
      if (state === 'header') {
        need = buf.readInt32BE(at + 15);
        state = need > 0 ? 'ext' : 'tuple';
        if (state === 'tuple') need = 2;
      } else if (state === 'tuple') {
        const n = buf.readInt16BE(at);
        if (n === -1) state = 'done';
        else {
          rows++;
          fieldsLeft = n;
          state = n > 0 ? 'fieldlen' : 'tuple';
          need = n > 0 ? 4 : 2;
        }
      } else {
        const len = buf.readInt32BE(at);
        if (len > 0) {
          state = 'field';
          need = len;
        } else {
          state = --fieldsLeft > 0 ? 'fieldlen' : 'tuple';
          need = state === 'tuple' ? 2 : 4;
        }
      }
    }
    if (rows) onRows(rows);
  };
}

/** Copy format per table and columns, remembered for the chunks of a split table (types do not change under a fenced source). */
const formats = new Map<string, 'binary' | 'text'>();
const FORMAT_CACHE_MAX = 10_000;

async function copyFormat(ctx: EngineContext, src: pg.Client, table: TableRef, columns: string[]): Promise<'binary' | 'text'> {
  const key = JSON.stringify([ctx.migrationId, ctx.source.host, ctx.source.port, ctx.source.database, table.schema, table.name, columns]);
  let format = formats.get(key);
  if (!format) {
    format = (await needsTextFormat(src, table, columns)) ? 'text' : 'binary';
    if (formats.size >= FORMAT_CACHE_MAX) formats.clear();
    formats.set(key, format);
  }
  return format;
}

/**
 * When every chunk of this chunk's table has its marker, build the table's indexes and key
 * constraints (indexes.ts) and analyze it (statistics.ts), unless another session is already at
 * it. Cancelled with the activity.
 */
async function indexWhenComplete(ctx: EngineContext, src: pg.Client, tgt: pg.Client, chunk: LoadChunk): Promise<void> {
  const from = qualify(chunk.table.source.schema, chunk.table.source.name);
  // A whole table is its only chunk, whose marker just committed. A range: are the markers of all
  // the table's chunks there? Looked up by chunk id (the markers' key), so the cost does not grow
  // with the number of tables in the migration.
  if (chunk.range) {
    const plan = await tgt.query<{ split: TableSplit }>(`SELECT split FROM ${PLAN_TABLE} WHERE migration_id = $1 AND source_table = $2`, [ctx.migrationId, from]);
    const split = plan.rows[0]?.split;
    if (!split) return;
    const ids = chunksOf(chunk.table, split).map((c) => c.id);
    const r = await tgt.query<{ done: number }>(`SELECT count(*)::int AS done FROM ${CHUNK_TABLE} WHERE migration_id = $1 AND chunk_id = ANY($2::text[])`, [
      ctx.migrationId,
      ids,
    ]);
    if ((r.rows[0]?.done ?? 0) < ids.length) return;
  }
  const statements = await earlyIndexStatements(src, chunk.table.source);
  if (!statements) return; // finishLoad builds this table's indexes, then analyzes it
  const key = `${ctx.migrationId}/${from}`;
  const got = await tgt.query<{ ok: boolean }>("SELECT pg_catalog.pg_try_advisory_lock(pg_catalog.hashtext('ferry.index'), pg_catalog.hashtext($1)) AS ok", [key]);
  if (!got.rows[0]?.ok) return;
  try {
    const settings = await indexBuildSettings(tgt, ctx.spec.fullLoad);
    await cancelOnAbort(ctx, tgt, () => buildIndexes(tgt, chunk.table.source, statements, settings));
    await analyzeTable(ctx, tgt, chunk.table.source);
  } finally {
    await tgt.query("SELECT pg_catalog.pg_advisory_unlock(pg_catalog.hashtext('ferry.index'), pg_catalog.hashtext($1))", [key]);
  }
}

/** Sessions of chunk copies: no statement or idle timeout of the role may cut a long COPY short. */
const COPY_SESSION = { settings: { statement_timeout: '0', idle_in_transaction_session_timeout: '0', lock_timeout: '0' } };

export async function copyChunk(
  ctx: EngineContext,
  chunk: LoadChunk,
  onProgress: (p: CopyProgress) => void,
  snapshotId?: string,
): Promise<ChunkResult> {
  const table = chunk.table;
  const name = displayName(table.source.schema, table.source.name);
  if (snapshotId !== undefined && !SNAPSHOT_ID.test(snapshotId)) {
    throw new SnapshotLost(`chunk ${chunk.id}: '${snapshotId}' is not a PostgreSQL snapshot id`);
  }
  let tgt: pg.Client | undefined;
  let src: pg.Client | undefined;
  let clean = false;
  try {
    tgt = await leaseSession(ctx.target, COPY_SESSION);
    await ensureState(tgt);
    await tgt.query('BEGIN; SET LOCAL synchronous_commit = off');
    // Two workers on the same chunk: the second waits here, then sees the first one's marker.
    await tgt.query("SELECT pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('ferry.chunk'), pg_catalog.hashtext($1))", [
      `${ctx.migrationId}/${chunk.id}`,
    ]);
    const marker = await tgt.query<{ rows: string; bytes: string }>(
      `SELECT rows::text AS rows, bytes::text AS bytes FROM ${CHUNK_TABLE} WHERE migration_id = $1 AND chunk_id = $2`,
      [ctx.migrationId, chunk.id],
    );
    const done = marker.rows[0];
    if (done) {
      await tgt.query('COMMIT');
      clean = true;
      return { chunkId: chunk.id, rows: Number(done.rows), bytes: Number(done.bytes), skipped: true };
    }

    src = await leaseSession(ctx.source, COPY_SESSION);
    if (snapshotId !== undefined) await beginUnderSnapshot(src, snapshotId, `chunk ${chunk.id}`);
    else await src.query('BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY');
    const sourceCols = table.columns.map((c) => c.source);
    const format = await copyFormat(ctx, src, table.source, sourceCols);
    const from = qualify(table.source.schema, table.source.name);
    // The load writes under source names; applyRenames moves them to the target names afterwards.
    const into = `${from}${sourceCols.length ? ` (${quoteIdentList(sourceCols)})` : ''}`;
    // A whole table: COPY reads exactly its rows (not its inheritance children); a range: a query.
    const out = chunk.range
      ? `COPY (SELECT ${quoteIdentList(sourceCols)} FROM ONLY ${from}${await rangePredicate(src, chunk.range)}) TO STDOUT (FORMAT ${format})`
      : sourceCols.length
        ? `COPY ${into} TO STDOUT (FORMAT ${format})`
        : `COPY (SELECT FROM ONLY ${from}) TO STDOUT (FORMAT ${format})`;
    // A whole table is this chunk's alone: empty it in this transaction and load it frozen. (A
    // foreign key pointing at it forbids the TRUNCATE: then it is loaded as it is, unfrozen.)
    let freeze = '';
    if (!chunk.range) {
      await tgt.query('SAVEPOINT ferry_truncate');
      try {
        await tgt.query(`TRUNCATE ONLY ${from}`);
        freeze = ', FREEZE';
      } catch (err) {
        if (pgCode(err) !== '0A000') throw err;
        await tgt.query('ROLLBACK TO SAVEPOINT ferry_truncate');
      }
    }

    ctx.signal?.throwIfAborted();
    // The source's CopyData messages go to the target as they are (see copystream.ts).
    const reader = startCopyOut(src, new CopyDataOut(out, onProgress));
    const writer = tgt.query(copyDataIn(`COPY ${into} FROM STDIN (FORMAT ${format}${freeze})`));
    await pipeline(reader, writer, ctx.signal ? { signal: ctx.signal } : {});
    const rows = writer.rowCount ?? reader.rowsSoFar();
    const bytes = reader.bytes;
    if (snapshotId !== undefined) await lockSnapshotForChunk(tgt, ctx.migrationId, snapshotId, `chunk ${chunk.id}`);
    await tgt.query(
      `INSERT INTO ${CHUNK_TABLE} (migration_id, chunk_id, source_table, target_table, rows, bytes, worker) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
      [ctx.migrationId, chunk.id, from, qualify(table.target.schema, table.target.name), rows, bytes, ctx.workerId],
    );
    await tgt.query('COMMIT');
    // The chunk is in, whatever happens to the source session now (its transaction only read): a
    // session lost at this point is dropped, not kept, and the table's indexes are left to finishLoad.
    const sourceAlive = await src.query('COMMIT').then(
      () => true,
      () => false,
    );
    onProgress({ rows, bytes });
    if (!sourceAlive) return { chunkId: chunk.id, rows, bytes, skipped: false };
    clean = true;
    // The table's last chunk: its indexes now, while other tables still copy. Best effort: what
    // fails or is cut short here, finishLoad builds (and reports) later.
    clean = await indexWhenComplete(ctx, src, tgt, chunk).then(
      () => true,
      () => false,
    );
    return { chunkId: chunk.id, rows, bytes, skipped: false };
  } catch (err) {
    if (ctx.signal?.aborted) throw ctx.signal.reason instanceof Error ? ctx.signal.reason : new Error(`copy of ${name} cancelled`);
    if (err instanceof FerryError) throw err;
    if (isConnectionLoss(err)) {
      throw new ConnectionFailed(`copy of ${name} (chunk ${chunk.id}) lost its connection (it is retried): ${(err as Error)?.message ?? String(err)}`, {
        cause: err,
      });
    }
    throw new CopyFailed(`copy of ${name} (chunk ${chunk.id}) failed: ${(err as Error)?.message ?? String(err)}`, { cause: err });
  } finally {
    // On failure drop the sessions outright: the server rolls the open transactions back.
    if (tgt) await releaseSession(tgt, clean);
    if (src) await releaseSession(src, clean);
  }
}
