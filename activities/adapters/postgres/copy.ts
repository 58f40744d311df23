// Full load: plan chunks, and copy one chunk source -> target as a streamed COPY whose rows commit
// together with the chunk's marker row (exactly once on the target).
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import type { ChunkResult, LoadChunk, TableMapping } from '../../../workflows/types';
import type { CopyProgress, EngineContext } from '../engine';
import { ConnectionFailed, CopyFailed, FerryError } from '../errors';
import { leafPartitions, needsTextFormat, relkindOf } from './catalog';
import { classifyError, closeClient, connectEndpoint, isConnectionLoss } from './connect';
import { mapSchema } from './selection';
import { displayName, qualify, quoteIdent, quoteIdentList } from './sql';
import { CHUNK_TABLE, ensureState } from './state';

/** Stable chunk id: the quoted source table, plus the range when there is one. */
export function chunkId(table: TableMapping, range?: LoadChunk['range']): string {
  const base = qualify(table.source.schema, table.source.name);
  return range ? `${base}#${quoteIdent(range.column)}[${range.lo ?? ''},${range.hi ?? ''})` : base;
}

/** One chunk per table (per leaf partition for a partitioned table), largest first. */
export async function planFullLoad(ctx: EngineContext, tables: TableMapping[]): Promise<LoadChunk[]> {
  const src = await connectEndpoint(ctx.source);
  try {
    const chunks: LoadChunk[] = [];
    for (const t of tables) {
      if ((await relkindOf(src, t.source)) === 'p') {
        // The root holds no rows: copy each leaf into the same leaf on the target.
        for (const leaf of await leafPartitions(src, t.source)) {
          const cols = await src.query<{ attname: string }>(
            `SELECT a.attname FROM pg_catalog.pg_attribute a WHERE a.attrelid = $1::oid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`,
            [leaf.oid],
          );
          const rootCols = new Map(t.columns.map((c) => [c.source, c.target]));
          const leafTable: TableMapping = {
            source: { schema: leaf.schema, name: leaf.name },
            target: { schema: mapSchema(ctx.spec.rename, leaf.schema), name: leaf.name },
            // Same columns as the root (generated ones left out), in the leaf's own order.
            columns: cols.rows.filter((c) => rootCols.has(c.attname)).map((c) => ({ source: c.attname, target: rootCols.get(c.attname)! })),
            estimatedBytes: leaf.bytes,
            estimatedRows: leaf.rows,
          };
          chunks.push({ id: chunkId(leafTable), table: leafTable });
        }
      } else {
        chunks.push({ id: chunkId(t), table: t });
      }
    }
    return chunks.sort((a, b) => b.table.estimatedBytes - a.table.estimatedBytes || a.id.localeCompare(b.id));
  } catch (err) {
    throw classifyError(err, ctx.source);
  } finally {
    await closeClient(src);
  }
}

/** `col >= lo AND col < hi` with the bounds rendered as literals by the server itself (COPY takes no parameters). */
async function rangePredicate(src: pg.Client, range: NonNullable<LoadChunk['range']>): Promise<string> {
  const parts: string[] = [];
  const lit = async (v: string) => (await src.query<{ l: string }>('SELECT pg_catalog.quote_literal($1::text) AS l', [v])).rows[0]!.l;
  if (range.lo !== null) parts.push(`${quoteIdent(range.column)} >= ${await lit(range.lo)}`);
  if (range.hi !== null) parts.push(`${quoteIdent(range.column)} < ${await lit(range.hi)}`);
  return parts.length ? ` WHERE ${parts.join(' AND ')}` : '';
}

const PROGRESS_EVERY_BYTES = 1 << 20;

/** Counts bytes (and rows, by parsing the COPY stream's framing) and reports progress about every MB. */
export class CopyCounter extends Transform {
  bytes = 0;
  rows = 0;
  private lastReport = 0;
  private readonly rowCounter: (chunk: Buffer) => void;
  constructor(
    format: 'binary' | 'text',
    private readonly onProgress: (p: CopyProgress) => void,
  ) {
    super();
    this.rowCounter = format === 'text' ? this.countText : binaryRowCounter((n) => (this.rows += n));
  }
  private countText = (chunk: Buffer) => {
    // Text COPY escapes newlines inside values, so every 0x0a ends a row.
    let i = -1;
    while ((i = chunk.indexOf(10, i + 1)) !== -1) this.rows++;
  };
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.bytes += chunk.length;
    this.rowCounter(chunk);
    if (this.bytes - this.lastReport >= PROGRESS_EVERY_BYTES) {
      this.lastReport = this.bytes;
      try {
        this.onProgress({ rows: this.rows, bytes: this.bytes });
      } catch {
        // progress is best effort
      }
    }
    cb(null, chunk);
  }
}

/**
 * Row counter for binary COPY: 11-byte signature, int32 flags, int32 extension length + extension,
 * then tuples (int16 field count, per field int32 length (-1 NULL) + data), trailer int16 -1.
 */
export function binaryRowCounter(onRows: (n: number) => void): (chunk: Buffer) => void {
  let need = 19; // signature + flags + extension length
  let state: 'header' | 'ext' | 'tuple' | 'fieldlen' | 'field' | 'done' = 'header';
  let pending = Buffer.alloc(0);
  let fieldsLeft = 0;
  return (chunk: Buffer) => {
    const buf = pending.length ? Buffer.concat([pending, chunk]) : chunk;
    let pos = 0;
    let rows = 0;
    for (;;) {
      if (state === 'done') break;
      if (state === 'field') {
        const skip = Math.min(need, buf.length - pos);
        pos += skip;
        need -= skip;
        if (need > 0) break;
        state = --fieldsLeft > 0 ? 'fieldlen' : 'tuple';
        need = state === 'tuple' ? 2 : 4;
        continue;
      }
      if (state === 'ext') {
        const skip = Math.min(need, buf.length - pos);
        pos += skip;
        need -= skip;
        if (need > 0) break;
        state = 'tuple';
        need = 2;
        continue;
      }
      if (buf.length - pos < need) break;
      if (state === 'header') {
        need = buf.readInt32BE(pos + 15);
        pos += 19;
        state = need > 0 ? 'ext' : 'tuple';
        if (state === 'tuple') need = 2;
      } else if (state === 'tuple') {
        const n = buf.readInt16BE(pos);
        pos += 2;
        if (n === -1) state = 'done';
        else {
          rows++;
          fieldsLeft = n;
          state = n > 0 ? 'fieldlen' : 'tuple';
          need = n > 0 ? 4 : 2;
        }
      } else if (state === 'fieldlen') {
        const len = buf.readInt32BE(pos);
        pos += 4;
        if (len > 0) {
          state = 'field';
          need = len;
        } else {
          state = --fieldsLeft > 0 ? 'fieldlen' : 'tuple';
          need = state === 'tuple' ? 2 : 4;
        }
      }
    }
    pending = Buffer.from(buf.subarray(pos));
    if (rows) onRows(rows);
  };
}

export async function copyChunk(ctx: EngineContext, chunk: LoadChunk, onProgress: (p: CopyProgress) => void): Promise<ChunkResult> {
  const table = chunk.table;
  const name = displayName(table.source.schema, table.source.name);
  const tgt = await connectEndpoint(ctx.target);
  let src: pg.Client | undefined;
  let broken = false;
  try {
    await ensureState(tgt);
    await tgt.query('BEGIN');
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
      return { chunkId: chunk.id, rows: Number(done.rows), bytes: Number(done.bytes), skipped: true };
    }

    src = await connectEndpoint(ctx.source);
    const sourceCols = table.columns.map((c) => c.source);
    const format = (await needsTextFormat(src, table.source, sourceCols)) ? 'text' : 'binary';
    const where = chunk.range ? await rangePredicate(src, chunk.range) : '';
    const select = `SELECT ${quoteIdentList(sourceCols)} FROM ${qualify(table.source.schema, table.source.name)}${where}`;
    // The load writes under source names; applyRenames moves them to the target names afterwards.
    const into = `${qualify(table.source.schema, table.source.name)}${sourceCols.length ? ` (${quoteIdentList(sourceCols)})` : ''}`;

    ctx.signal?.throwIfAborted();
    const out = src.query(copyTo(`COPY (${select}) TO STDOUT (FORMAT ${format})`));
    const counter = new CopyCounter(format, onProgress);
    const inp = tgt.query(copyFrom(`COPY ${into} FROM STDIN (FORMAT ${format})`));
    try {
      await pipeline(out, counter, inp, ctx.signal ? { signal: ctx.signal } : {});
    } catch (err) {
      broken = true;
      throw err;
    }
    const rows = inp.rowCount ?? counter.rows;
    await tgt.query(
      `INSERT INTO ${CHUNK_TABLE} (migration_id, chunk_id, source_table, target_table, rows, bytes, worker) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
      [ctx.migrationId, chunk.id, qualify(table.source.schema, table.source.name), qualify(table.target.schema, table.target.name), rows, counter.bytes, ctx.workerId],
    );
    await tgt.query('COMMIT');
    onProgress({ rows, bytes: counter.bytes });
    return { chunkId: chunk.id, rows, bytes: counter.bytes, skipped: false };
  } catch (err) {
    broken = true;
    if (ctx.signal?.aborted) throw ctx.signal.reason instanceof Error ? ctx.signal.reason : new Error(`copy of ${name} cancelled`);
    if (err instanceof FerryError) throw err;
    if (isConnectionLoss(err)) {
      throw new ConnectionFailed(`copy of ${name} lost its connection (it is retried): ${(err as Error)?.message ?? String(err)}`, { cause: err });
    }
    throw new CopyFailed(`copy of ${name} failed: ${(err as Error)?.message ?? String(err)}`, { cause: err });
  } finally {
    // On failure drop the sessions outright: the server rolls the open transaction back.
    await closeClient(tgt, broken);
    if (src) await closeClient(src, broken);
  }
}
