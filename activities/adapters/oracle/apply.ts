// Writing rows into Oracle: INSERT for the full load, MERGE by key for inserts and updates
// replayed from logical replication (a replay after a retry finds the row and updates it to the
// same values, so applying twice is harmless), DELETE by key for deletes. Every statement is
// run with executeMany (array DML: one round trip per batch, rows executed in order), and a
// batch never commits on its own: the caller commits it with its chunk marker or LSN.
import oracledb from 'oracledb';
import { CopyFailed } from '../errors';
import { qualifyOracle, quoteOracleIdent, type IdentifierLimit } from './identifiers';
import type { ColumnMapping } from './types';
import { bindBytes, oracleBindExpr, toBindValue, type BindValue, type EmptyStringPolicy } from './values';

export interface TargetColumn {
  /** Name on the PostgreSQL source (what replication and the reader use). */
  source: string;
  /** Name on Oracle, after renames and case folding. */
  target: string;
  mapping: ColumnMapping;
}

export interface TargetTable {
  schema: string;
  name: string;
  /** Copied columns only, in source order. */
  columns: TargetColumn[];
  /** Target names of the key (primary key or unique not-null) columns. */
  key: string[];
  limit: IdentifierLimit;
}

/** The slice of oracledb.Connection the writer needs: tests replace it at this boundary. */
export interface OracleWriter {
  executeMany(sql: string, binds: BindValue[][], options: oracledb.ExecuteManyOptions): Promise<oracledb.Results<unknown>>;
  execute(sql: string, binds?: oracledb.BindParameters, options?: oracledb.ExecuteOptions): Promise<oracledb.Result<unknown>>;
  commit(): Promise<void>;
  rollback(): Promise<void>;
}

const q = (t: TargetTable, n: string) => quoteOracleIdent(n, t.limit);

function columnsOf(t: TargetTable, names: readonly string[]): TargetColumn[] {
  return names.map((n) => {
    const c = t.columns.find((x) => x.target === n);
    if (!c) throw new CopyFailed(`${t.schema}.${t.name} has no copied column ${n}`);
    return c;
  });
}

/** `INSERT INTO "S"."T" ("A", "B") VALUES (:1, TO_DATE(:2, ...))` over all copied columns. */
export function insertSql(t: TargetTable): string {
  const cols = t.columns;
  return (
    `INSERT INTO ${qualifyOracle(t.schema, t.name, t.limit)} (${cols.map((c) => q(t, c.target)).join(', ')})\n` +
    `VALUES (${cols.map((c, i) => oracleBindExpr(c.mapping.kind, `:${i + 1}`)).join(', ')})`
  );
}

/**
 * Upsert by key over `present` columns (all copied columns unless an update left some out, e.g.
 * unchanged TOASTed values). With every column present the row is inserted when missing; with
 * some absent it can only be updated, and a missing row is reported by the caller.
 */
export function mergeSql(t: TargetTable, present: readonly string[] = t.columns.map((c) => c.target)): string {
  if (t.key.length === 0) throw new CopyFailed(`${t.schema}.${t.name} has no key: changes cannot be applied by key`);
  const cols = columnsOf(t, present);
  for (const k of t.key) if (!present.includes(k)) throw new CopyFailed(`${t.schema}.${t.name}: key column ${k} missing from a change`);
  const complete = cols.length === t.columns.length;
  const nonKey = cols.filter((c) => !t.key.includes(c.target));
  const lines = [
    `MERGE INTO ${qualifyOracle(t.schema, t.name, t.limit)} t`,
    `USING (SELECT ${cols.map((c, i) => `${oracleBindExpr(c.mapping.kind, `:${i + 1}`)} AS ${q(t, c.target)}`).join(', ')} FROM dual) s`,
    `ON (${t.key.map((k) => `t.${q(t, k)} = s.${q(t, k)}`).join(' AND ')})`,
  ];
  // Key columns cannot be updated in a MERGE (ORA-38104); a table of only key columns needs no update.
  if (nonKey.length > 0) lines.push(`WHEN MATCHED THEN UPDATE SET ${nonKey.map((c) => `t.${q(t, c.target)} = s.${q(t, c.target)}`).join(', ')}`);
  if (complete) {
    lines.push(`WHEN NOT MATCHED THEN INSERT (${cols.map((c) => q(t, c.target)).join(', ')}) VALUES (${cols.map((c) => `s.${q(t, c.target)}`).join(', ')})`);
  }
  return lines.join('\n');
}

/** `DELETE FROM "S"."T" WHERE "ID" = :1`; deleting a row already gone is a no-op, so replays are safe. */
export function deleteSql(t: TargetTable): string {
  if (t.key.length === 0) throw new CopyFailed(`${t.schema}.${t.name} has no key: deletes cannot be applied by key`);
  const keyCols = columnsOf(t, t.key);
  return `DELETE FROM ${qualifyOracle(t.schema, t.name, t.limit)} WHERE ${keyCols
    .map((c, i) => `${q(t, c.target)} = ${oracleBindExpr(c.mapping.kind, `:${i + 1}`)}`)
    .join(' AND ')}`;
}

/** Bind definitions for executeMany (no data scanning; strings sized to this batch's longest value). */
export function bindDefsFor(columns: readonly TargetColumn[], rows: readonly BindValue[][]): oracledb.BindDefinition[] {
  return columns.map((c, i) => {
    switch (c.mapping.kind) {
      case 'clob':
        return { type: oracledb.DB_TYPE_CLOB };
      case 'blob':
        return { type: oracledb.DB_TYPE_BLOB };
      case 'binary_float':
        return { type: oracledb.DB_TYPE_BINARY_FLOAT };
      case 'binary_double':
        return { type: oracledb.DB_TYPE_BINARY_DOUBLE };
      case 'bool_number':
        return { type: oracledb.DB_TYPE_NUMBER };
      case 'bool':
        return { type: oracledb.DB_TYPE_BOOLEAN };
      default: {
        let max = 1;
        for (const r of rows) {
          const v = r[i];
          if (typeof v === 'string') max = Math.max(max, Buffer.byteLength(v, 'utf8'));
        }
        return { type: oracledb.DB_TYPE_VARCHAR, maxSize: max };
      }
    }
  });
}

export interface BatchLimits {
  maxRows: number;
  maxBytes: number;
}

export const DEFAULT_BATCH: BatchLimits = { maxRows: 1000, maxBytes: 8 * 1024 * 1024 };

/** Split rows into batches of at most maxRows rows and (unless one row alone is larger) maxBytes bytes, in order. */
export function planBatches<R extends readonly BindValue[]>(rows: readonly R[], limits: BatchLimits = DEFAULT_BATCH): R[][] {
  const out: R[][] = [];
  let cur: R[] = [];
  let bytes = 0;
  for (const r of rows) {
    const size = r.reduce<number>((s, v) => s + bindBytes(v), 0);
    if (cur.length > 0 && (cur.length >= limits.maxRows || bytes + size > limits.maxBytes)) {
      out.push(cur);
      cur = [];
      bytes = 0;
    }
    cur.push(r);
    bytes += size;
  }
  if (cur.length > 0) out.push(cur);
  return out;
}

/** Convert source rows (values in column order as read by pgReadExpr) into bind rows; throws CopyFailed naming the column. */
export function toBindRows(t: TargetTable, columns: readonly TargetColumn[], rows: readonly (string | Buffer | null)[][], policy: EmptyStringPolicy): BindValue[][] {
  return rows.map((r) =>
    columns.map((c, i) => toBindValue(r[i] ?? null, c.mapping, { where: `${t.schema}.${t.name}.${c.target}`, policy })),
  );
}

/** Run one statement over rows in batches; returns rows affected per input row when asked (MERGE without insert). */
export async function executeBatched(
  w: OracleWriter,
  sql: string,
  columns: readonly TargetColumn[],
  rows: readonly BindValue[][],
  limits: BatchLimits = DEFAULT_BATCH,
  countRows = false,
): Promise<{ rows: number; bytes: number; rowCounts: number[] }> {
  let done = 0;
  let bytes = 0;
  const rowCounts: number[] = [];
  for (const batch of planBatches(rows, limits)) {
    const r = await w.executeMany(sql, batch, {
      autoCommit: false,
      bindDefs: bindDefsFor(columns, batch),
      ...(countRows ? { dmlRowCounts: true } : {}),
    });
    if (countRows) rowCounts.push(...(r.dmlRowCounts ?? []));
    done += batch.length;
    for (const row of batch) for (const v of row) bytes += bindBytes(v);
  }
  return { rows: done, bytes, rowCounts };
}
