// Pure pieces of validation: the SQL text that computes counts, checksums, key boundaries and row
// hashes inside each database, and the row-level diff. No I/O, unit-tested without a database.
//
// A row's hash is md5 of its row text, ROW(c1, c2, ...)::text, in the mapping's column order
// (source names on the source, mapped names on the target), with both sessions on identical output
// settings (connect.ts). A range's checksum is the sum over its rows of the hash's first 60 bits:
// order-independent, so each side computes it in its own scan order.
import type { RowDifference } from '../../../workflows/types';
import { qualify, quoteIdent, quoteIdentList } from './sql';

/** The key a table is compared by: columns in key order; `collatable` marks text-like ones. */
export interface KeySpec {
  columns: string[];
  collatable: boolean[];
  /** Compare collatable key columns in byte order (COLLATE "C"): set when the two sides' collations differ. */
  forceC: boolean;
}

/** A key range `[lo, hi)` as tuples of key text values; null = open end. */
export interface KeyRange {
  lo: string[] | null;
  hi: string[] | null;
}

export const WHOLE: KeyRange = { lo: null, hi: null };

export function rowHashExpr(columns: string[]): string {
  return `md5(ROW(${quoteIdentList(columns)})::text)`;
}

export function checksumExpr(columns: string[]): string {
  return `coalesce(sum(('x' || substr(${rowHashExpr(columns)}, 1, 15))::bit(60)::int8::numeric), 0)::text`;
}

/** The key columns as an ordering/comparison expression list (with COLLATE "C" where forced). */
function keyTerms(key: KeySpec): string[] {
  return key.columns.map((c, i) => (key.forceC && key.collatable[i] ? `${quoteIdent(c)} COLLATE "C"` : quoteIdent(c)));
}

function tuple(terms: string[]): string {
  return terms.length === 1 ? terms[0]! : `(${terms.join(', ')})`;
}

/** WHERE clause (or '') for a range; values become $n parameters starting at `first`. */
export function rangeWhere(key: KeySpec, range: KeyRange, first = 1): { sql: string; params: string[] } {
  const terms = tuple(keyTerms(key));
  const parts: string[] = [];
  const params: string[] = [];
  const placeholders = (values: string[]) => {
    const ps = values.map((v) => {
      params.push(v);
      return `$${first + params.length - 1}`;
    });
    return ps.length === 1 ? ps[0]! : `(${ps.join(', ')})`;
  };
  if (range.lo) parts.push(`${terms} >= ${placeholders(range.lo)}`);
  if (range.hi) parts.push(`${terms} < ${placeholders(range.hi)}`);
  return { sql: parts.length ? `WHERE ${parts.join(' AND ')}` : '', params };
}

export function countSql(schema: string, table: string): string {
  return `SELECT count(*)::text AS n, NULL::text AS checksum FROM ${qualify(schema, table)}`;
}

/** Row count and checksum of a table, or of one key range of it. */
export function measureSql(schema: string, table: string, columns: string[], key?: KeySpec, range: KeyRange = WHOLE): { sql: string; params: string[] } {
  const where = key ? rangeWhere(key, range) : { sql: '', params: [] };
  return {
    sql: `SELECT count(*)::text AS n, ${checksumExpr(columns)} AS checksum FROM ${qualify(schema, table)} ${where.sql}`,
    params: where.params,
  };
}

/** Keys splitting a range into parts of `step` rows: the keys of rows step+1, 2*step+1, ... in key order. */
export function boundariesSql(schema: string, table: string, key: KeySpec, range: KeyRange, step: number): { sql: string; params: string[] } {
  const where = rangeWhere(key, range, 2);
  const terms = keyTerms(key);
  const cols = key.columns.map((c, i) => `${quoteIdent(c)}::text AS k${i}`);
  return {
    sql: `SELECT ${key.columns.map((_, i) => `k${i}`).join(', ')} FROM (
      SELECT ${cols.join(', ')}, row_number() OVER (ORDER BY ${terms.join(', ')}) AS rn FROM ${qualify(schema, table)} ${where.sql}) s
     WHERE rn % $1 = 1 AND rn > 1 ORDER BY rn`,
    params: [String(step), ...where.params],
  };
}

/** (key text..., row hash) of a range in key order, at most `limit` rows. */
export function rowHashesSql(schema: string, table: string, columns: string[], key: KeySpec, range: KeyRange, limit: number): { sql: string; params: string[] } {
  const where = rangeWhere(key, range, 2);
  const cols = key.columns.map((c, i) => `${quoteIdent(c)}::text AS k${i}`);
  return {
    sql: `SELECT ${cols.join(', ')}, ${rowHashExpr(columns)} AS h FROM ${qualify(schema, table)} ${where.sql} ORDER BY ${keyTerms(key).join(', ')} LIMIT $1`,
    params: [String(limit), ...where.params],
  };
}

/** Text of a key tuple for reports: `42`, or `(7, abc)` for composite keys. */
export function formatKey(values: string[] | null): string | null {
  if (values === null) return null;
  return values.length === 1 ? values[0]! : `(${values.join(', ')})`;
}

export interface HashedRow {
  key: (string | null)[];
  hash: string;
}

/** Sum of the rows' 60-bit hash prefixes, as the SQL checksum computes it. */
export function checksumOf(rows: HashedRow[]): bigint {
  let sum = 0n;
  for (const r of rows) sum += BigInt(`0x${r.hash.slice(0, 15)}`);
  return sum;
}

/**
 * Row-level diff of one range, both lists from the same key range. Differences come in source
 * key order (missing and changed), then the target's extra rows in its order; at most `max`.
 */
export function diffRows(source: HashedRow[], target: HashedRow[], keyNames: string[], max: number): { rows: RowDifference[]; truncated: boolean } {
  const id = (k: (string | null)[]) => JSON.stringify(k);
  const tgt = new Map(target.map((r) => [id(r.key), r.hash]));
  const src = new Set<string>();
  const rows: RowDifference[] = [];
  let total = 0;
  const push = (key: (string | null)[], kind: RowDifference['kind']) => {
    total += 1;
    if (rows.length < max) rows.push({ key: Object.fromEntries(keyNames.map((n, i) => [n, key[i] ?? null])), kind });
  };
  for (const r of source) {
    const k = id(r.key);
    src.add(k);
    const h = tgt.get(k);
    if (h === undefined) push(r.key, 'missing_on_target');
    else if (h !== r.hash) push(r.key, 'changed');
  }
  for (const r of target) if (!src.has(id(r.key))) push(r.key, 'extra_on_target');
  return { rows, truncated: total > rows.length };
}
