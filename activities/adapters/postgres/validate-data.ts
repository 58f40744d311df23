// Data validation of one table, computed inside each database; only counts, checksums, key
// boundaries and (key, row hash) pairs of small ranges ever reach the worker, never row values.
//
//   counts     row counts
//   checksums  count + checksum of the whole table; when they differ (and the table has a key),
//              the key space is split into PARTS ranges (boundaries from the side with more rows),
//              each range measured on both sides, and only differing ranges split again, until a
//              range holds at most LEAF_ROWS rows: then (key, row hash) lists of both sides are
//              diffed into missing_on_target / extra_on_target / changed rows
//   full       every range of LEAF_ROWS source rows is compared row by row, in key order
//
// Each side reads one REPEATABLE READ snapshot per table, so the ranges it measures are consistent.
import type pg from 'pg';
import type { RangeDifference, RowDifference, TableMapping, TableValidation } from '../../../workflows/types';
import type { EngineContext } from '../engine';
import { pgCode } from './connect';
import { displayName } from './sql';
import {
  boundariesSql,
  checksumOf,
  countSql,
  diffRows,
  formatKey,
  measureSql,
  rowHashesSql,
  WHOLE,
  type HashedRow,
  type KeyRange,
  type KeySpec,
} from './validate-sql';

export const PARTS = 16;
export const LEAF_ROWS = 1000;
/** Deeper than this the key space is not split further (never reached with unique keys and PARTS >= 2). */
export const MAX_DEPTH = 12;
/** Row hashes fetched per side and range at most (a leaf at MAX_DEPTH may hold more). */
export const FETCH_CAP = 20_000;

interface Measure {
  n: number;
  checksum: string | null;
}

type Level = 'counts' | 'checksums' | 'full';

export interface TableKeys {
  /** Source key columns, in key order. */
  source: KeySpec;
  /** The same key with target column names. */
  target: KeySpec;
}

/** The key a table is compared by: its primary key, else its first unique not-null index; null when none (or a key column is not copied). */
export async function tableKey(src: pg.Client, tgt: pg.Client, t: TableMapping): Promise<TableKeys | null> {
  const r = await src.query<{ cols: string[]; coll: boolean[] }>(
    `SELECT array_agg(a.attname::text ORDER BY k.ord) AS cols, array_agg(a.attcollation <> 0 ORDER BY k.ord) AS coll
       FROM pg_catalog.pg_index i
       JOIN pg_catalog.pg_class c ON c.oid = i.indrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
       CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
       JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum
      WHERE n.nspname = $1 AND c.relname = $2 AND i.indisvalid AND i.indexprs IS NULL AND i.indpred IS NULL
        AND (i.indisprimary OR (i.indisunique AND NOT EXISTS (
              SELECT 1 FROM pg_catalog.pg_attribute x WHERE x.attrelid = c.oid AND x.attnum = ANY(i.indkey) AND NOT x.attnotnull)))
      GROUP BY i.indexrelid, i.indisprimary, i.indnatts
      ORDER BY i.indisprimary DESC, i.indnatts, i.indexrelid LIMIT 1`,
    [t.source.schema, t.source.name],
  );
  const row = r.rows[0];
  if (!row) return null;
  const toTarget = new Map(t.columns.map((c) => [c.source, c.target]));
  if (!row.cols.every((c) => toTarget.has(c))) return null;
  const targetCols = row.cols.map((c) => toTarget.get(c)!);
  // Key ranges must hold the same keys on both sides: compare text keys byte-wise when the collations differ.
  let forceC = false;
  if (row.coll.some(Boolean)) {
    const sig = (c: pg.Client, schema: string, table: string, cols: string[]) =>
      c.query<{ s: string }>(
        `SELECT coalesce((SELECT datcollate || '/' || datctype || '/' || coalesce(to_jsonb(d) ->> 'daticulocale', to_jsonb(d) ->> 'datlocale', '')
                            FROM pg_catalog.pg_database d WHERE d.datname = current_database()), '') || '|' ||
                string_agg(coalesce((to_jsonb(co) - 'oid' - 'collnamespace' - 'collowner' - 'collversion')::text, ''), '|' ORDER BY w.ord) AS s
           FROM unnest($3::text[]) WITH ORDINALITY AS w(col, ord)
           JOIN pg_catalog.pg_attribute a ON a.attname = w.col
           JOIN pg_catalog.pg_class cl ON cl.oid = a.attrelid JOIN pg_catalog.pg_namespace n ON n.oid = cl.relnamespace
           LEFT JOIN pg_catalog.pg_collation co ON co.oid = a.attcollation
          WHERE n.nspname = $1 AND cl.relname = $2`,
        [schema, table, cols],
      );
    const [a, b] = await Promise.all([sig(src, t.source.schema, t.source.name, row.cols), sig(tgt, t.target.schema, t.target.name, targetCols)]);
    forceC = a.rows[0]?.s !== b.rows[0]?.s;
  }
  return {
    source: { columns: row.cols, collatable: row.coll, forceC },
    target: { columns: targetCols, collatable: row.coll, forceC },
  };
}

class Side {
  constructor(
    readonly client: pg.Client,
    readonly schema: string,
    readonly table: string,
    readonly columns: string[],
    readonly key: KeySpec | null,
  ) {}

  async measure(level: Level, range: KeyRange = WHOLE): Promise<Measure> {
    const q = level === 'counts' ? { sql: countSql(this.schema, this.table), params: [] } : measureSql(this.schema, this.table, this.columns, this.key ?? undefined, range);
    const r = await this.client.query<{ n: string; checksum: string | null }>(q.sql, q.params);
    return { n: Number(r.rows[0]!.n), checksum: r.rows[0]!.checksum };
  }

  async boundaries(range: KeyRange, step: number): Promise<string[][]> {
    const q = boundariesSql(this.schema, this.table, this.key!, range, Math.max(2, step));
    const r = await this.client.query({ text: q.sql, values: q.params, rowMode: 'array' });
    return r.rows as string[][];
  }

  async rows(range: KeyRange, limit: number): Promise<HashedRow[]> {
    const q = rowHashesSql(this.schema, this.table, this.columns, this.key!, range, limit);
    const r = await this.client.query({ text: q.sql, values: q.params, rowMode: 'array' });
    const width = this.key!.columns.length;
    return (r.rows as (string | null)[][]).map((x) => ({ key: x.slice(0, width), hash: x[width] as string }));
  }
}

const differs = (a: Measure, b: Measure) => a.n !== b.n || a.checksum !== b.checksum;

/** Split [lo, hi) at sorted boundaries. */
function split(range: KeyRange, bounds: string[][]): KeyRange[] {
  const out: KeyRange[] = [];
  let lo = range.lo;
  for (const b of bounds) {
    out.push({ lo, hi: b });
    lo = b;
  }
  out.push({ lo, hi: range.hi });
  return out;
}

class Findings {
  ranges: RangeDifference[] = [];
  rows: RowDifference[] = [];
  truncated = false;
  constructor(
    readonly column: string,
    readonly max: number,
  ) {}
  get full(): boolean {
    return this.rows.length >= this.max;
  }
  range(r: KeyRange, sourceRows: number, targetRows: number): void {
    this.ranges.push({ column: this.column, lo: formatKey(r.lo), hi: formatKey(r.hi), sourceRows, targetRows, bounds: { lo: r.lo, hi: r.hi } });
  }
  add(found: { rows: RowDifference[]; truncated: boolean }): void {
    const room = this.max - this.rows.length;
    this.rows.push(...found.rows.slice(0, room));
    if (found.truncated || found.rows.length > room) this.truncated = true;
  }
}

export interface CompareOptions {
  level: Level;
  maxReportedRows: number;
  signal?: AbortSignal;
}

async function inSnapshots<T>(a: pg.Client, b: pg.Client, fn: () => Promise<T>): Promise<T> {
  await Promise.all([a.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY'), b.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY')]);
  try {
    return await fn();
  } finally {
    await Promise.all([a.query('ROLLBACK').catch(() => undefined), b.query('ROLLBACK').catch(() => undefined)]);
  }
}

/** Compare one table at the given level. */
export async function compareTable(_ctx: EngineContext, src: pg.Client, tgt: pg.Client, t: TableMapping, opts: CompareOptions): Promise<TableValidation> {
  const name = { source: displayName(t.source.schema, t.source.name), target: displayName(t.target.schema, t.target.name) };
  try {
    return await inSnapshots(src, tgt, async () => {
      const keys = opts.level === 'counts' ? null : await tableKey(src, tgt, t);
      const s = new Side(src, t.source.schema, t.source.name, t.columns.map((c) => c.source), keys?.source ?? null);
      const d = new Side(tgt, t.target.schema, t.target.name, t.columns.map((c) => c.target), keys?.target ?? null);
      if (opts.level === 'full' && keys) return await fullCompare(name, s, d, opts);

      const [ms, md] = await Promise.all([s.measure(opts.level), d.measure(opts.level)]);
      const base: TableValidation = {
        ...name,
        status: differs(ms, md) ? 'mismatch' : 'match',
        sourceRows: ms.n,
        targetRows: md.n,
        ...(ms.checksum !== null ? { sourceChecksum: ms.checksum } : {}),
        ...(md.checksum !== null ? { targetChecksum: md.checksum } : {}),
      };
      const reasons: string[] = [];
      if (ms.n !== md.n) reasons.push(`row counts differ: source ${ms.n}, target ${md.n}`);
      if (ms.checksum !== md.checksum) reasons.push('checksums differ');
      if (base.status === 'match') return base;
      if (opts.level === 'counts') return { ...base, reason: reasons.join('; ') };
      if (!keys) {
        reasons.push('narrowing to key ranges and rows is not possible: the table has no primary key or unique not-null index');
        return { ...base, reason: reasons.join('; ') };
      }
      const f = new Findings(keys.source.columns.join(', '), opts.maxReportedRows);
      await narrow(s, d, WHOLE, ms, md, 0, f, opts);
      reasons.push(`${f.ranges.length} key range(s) differ`);
      return { ...base, reason: reasons.join('; '), ranges: f.ranges, rows: f.rows, ...(f.truncated ? { rowsTruncated: true } : {}) };
    });
  } catch (err) {
    // A missing table or column on the target is a finding, not a crash.
    const code = pgCode(err);
    if (code === '42P01' || code === '42703')
      return { ...name, status: 'mismatch', sourceRows: 0, targetRows: 0, reason: `target: ${(err as Error).message}` };
    throw err;
  }
}

/** Descend into a range known to differ, down to LEAF_ROWS, then diff its rows. */
async function narrow(s: Side, d: Side, range: KeyRange, ms: Measure, md: Measure, depth: number, f: Findings, opts: CompareOptions): Promise<void> {
  opts.signal?.throwIfAborted();
  const big = Math.max(ms.n, md.n);
  if (f.full) {
    // Enough rows reported: name the range, but do not look inside.
    f.range(range, ms.n, md.n);
    f.truncated = true;
    return;
  }
  if (big <= LEAF_ROWS || depth >= MAX_DEPTH) {
    await leaf(s, d, range, ms.n, md.n, f);
    return;
  }
  const bounds = await (ms.n >= md.n ? s : d).boundaries(range, Math.ceil(big / PARTS));
  if (bounds.length === 0) {
    await leaf(s, d, range, ms.n, md.n, f);
    return;
  }
  for (const sub of split(range, bounds)) {
    const [a, b] = await Promise.all([s.measure('checksums', sub), d.measure('checksums', sub)]);
    if (differs(a, b)) await narrow(s, d, sub, a, b, depth + 1, f, opts);
  }
}

async function leaf(s: Side, d: Side, range: KeyRange, sourceRows: number, targetRows: number, f: Findings): Promise<void> {
  f.range(range, sourceRows, targetRows);
  const [a, b] = await Promise.all([s.rows(range, FETCH_CAP), d.rows(range, FETCH_CAP)]);
  if (a.length >= FETCH_CAP || b.length >= FETCH_CAP) f.truncated = true;
  f.add(diffRows(a, b, s.key!.columns, f.max - f.rows.length));
}

/** level full: every range of LEAF_ROWS source rows compared row by row, in key order. */
async function fullCompare(name: { source: string; target: string }, s: Side, d: Side, opts: CompareOptions): Promise<TableValidation> {
  const bounds = await s.boundaries(WHOLE, LEAF_ROWS);
  const f = new Findings(s.key!.columns.join(', '), opts.maxReportedRows);
  let sourceRows = 0;
  let targetRows = 0;
  let sourceSum = 0n;
  let targetSum = 0n;
  for (const range of split(WHOLE, bounds)) {
    opts.signal?.throwIfAborted();
    const [a, b] = await Promise.all([s.rows(range, FETCH_CAP + 1), d.rows(range, FETCH_CAP + 1)]);
    if (a.length > FETCH_CAP || b.length > FETCH_CAP) {
      // More rows in this range than a batch holds (the target gained many): measure it and narrow.
      const [ma, mb] = await Promise.all([s.measure('checksums', range), d.measure('checksums', range)]);
      sourceRows += ma.n;
      targetRows += mb.n;
      sourceSum += BigInt(ma.checksum ?? '0');
      targetSum += BigInt(mb.checksum ?? '0');
      if (differs(ma, mb)) await narrow(s, d, range, ma, mb, 1, f, opts);
      continue;
    }
    sourceRows += a.length;
    targetRows += b.length;
    sourceSum += checksumOf(a);
    targetSum += checksumOf(b);
    const found = diffRows(a, b, s.key!.columns, Math.max(0, f.max - f.rows.length));
    if (found.rows.length > 0 || found.truncated) {
      f.range(range, a.length, b.length);
      f.add(found);
    }
  }
  const mismatch = f.ranges.length > 0;
  const reasons: string[] = [];
  if (sourceRows !== targetRows) reasons.push(`row counts differ: source ${sourceRows}, target ${targetRows}`);
  if (mismatch) reasons.push(`${f.ranges.length} key range(s) differ`);
  return {
    ...name,
    status: mismatch ? 'mismatch' : 'match',
    sourceRows,
    targetRows,
    sourceChecksum: sourceSum.toString(),
    targetChecksum: targetSum.toString(),
    ...(mismatch ? { reason: reasons.join('; '), ranges: f.ranges, rows: f.rows } : {}),
    ...(f.truncated ? { rowsTruncated: true } : {}),
  };
}

/**
 * Compare again what an earlier comparison of this table found different (validation during change
 * capture, once the target has caught up): each differing key range is measured on both sides and,
 * where it still differs, narrowed to rows again. Only rows that differed before too are kept (a
 * row in flight the first time and another one now are both changes in flight, not a difference),
 * unless the earlier row list was cut short. A table with no ranges (counts level, no key, missing
 * on the target) is compared whole again.
 */
export async function recheckTable(ctx: EngineContext, src: pg.Client, tgt: pg.Client, t: TableMapping, previous: TableValidation, opts: CompareOptions): Promise<TableValidation> {
  const ranges = previous.ranges ?? [];
  if (previous.status !== 'mismatch') return previous;
  if (opts.level === 'counts' || ranges.length === 0 || ranges.some((r) => !r.bounds)) return compareTable(ctx, src, tgt, t, opts);
  const name = { source: previous.source, target: previous.target };
  try {
    const keys = await tableKey(src, tgt, t);
    if (!keys) return await compareTable(ctx, src, tgt, t, opts);
    return await inSnapshots(src, tgt, async () => {
      const s = new Side(src, t.source.schema, t.source.name, t.columns.map((c) => c.source), keys.source);
      const d = new Side(tgt, t.target.schema, t.target.name, t.columns.map((c) => c.target), keys.target);
      const id = (key: Record<string, string | null>) => JSON.stringify(keys.source.columns.map((c) => key[c] ?? null));
      const before = previous.rowsTruncated ? undefined : new Set((previous.rows ?? []).map((r) => id(r.key)));
      const column = keys.source.columns.join(', ');
      const all = new Findings(column, opts.maxReportedRows);
      for (const prev of ranges) {
        opts.signal?.throwIfAborted();
        const range: KeyRange = prev.bounds!;
        const [ms, md] = await Promise.all([s.measure('checksums', range), d.measure('checksums', range)]);
        if (!differs(ms, md)) continue;
        const f = new Findings(column, opts.maxReportedRows);
        await narrow(s, d, range, ms, md, 0, f, opts);
        const rows = before ? f.rows.filter((r) => before.has(id(r.key))) : f.rows;
        // Every row that differs now is a different one than before: changes in flight, twice.
        if (before && !f.truncated && f.rows.length > 0 && rows.length === 0) continue;
        all.ranges.push(...f.ranges);
        all.add({ rows, truncated: f.truncated });
      }
      const base = { ...name, sourceRows: previous.sourceRows, targetRows: previous.targetRows };
      const sums = {
        ...(previous.sourceChecksum !== undefined ? { sourceChecksum: previous.sourceChecksum } : {}),
        ...(previous.targetChecksum !== undefined ? { targetChecksum: previous.targetChecksum } : {}),
      };
      if (all.ranges.length === 0) {
        return { ...base, ...sums, status: 'match' as const, reason: 'differed at first (changes in flight); matched when compared again after the target caught up' };
      }
      return {
        ...base,
        ...sums,
        status: 'mismatch' as const,
        reason: `${all.ranges.length} key range(s) still differ after the target caught up`,
        ranges: all.ranges,
        rows: all.rows,
        ...(all.truncated ? { rowsTruncated: true } : {}),
      };
    });
  } catch (err) {
    const code = pgCode(err);
    if (code === '42P01' || code === '42703')
      return { ...name, status: 'mismatch', sourceRows: 0, targetRows: 0, reason: `target: ${(err as Error).message}` };
    throw err;
  }
}
