// Logical-replication changes (decoded pgoutput: INSERT, UPDATE, DELETE) turned into Oracle
// statements. Consecutive changes that share a statement are batched into one executeMany, and
// batches run in the order the changes arrived, so a row inserted then updated then deleted in
// one batch ends deleted. Pure: the caller executes the plan and commits it with the LSN.
import { CopyFailed } from '../errors';
import { deleteSql, mergeSql, type TargetColumn, type TargetTable } from './apply';
import { toBindValue, type BindValue, type EmptyStringPolicy } from './values';

type Raw = string | Buffer | null;

/** A decoded change, values keyed by SOURCE column name; `undefined` = unchanged TOASTed value not sent. */
export type RowChange =
  | { op: 'insert'; table: string; values: Record<string, Raw> }
  | { op: 'update'; table: string; values: Record<string, Raw | undefined>; oldKey?: Record<string, Raw> }
  | { op: 'delete'; table: string; key: Record<string, Raw> };

export interface PlannedStatement {
  table: string;
  sql: string;
  columns: TargetColumn[];
  rows: BindValue[][];
  /** MERGE without its INSERT branch: every row must match one target row (checked with dmlRowCounts). */
  mustMatch: boolean;
}

function bindRow(t: TargetTable, cols: TargetColumn[], values: Record<string, Raw | undefined>, policy: EmptyStringPolicy): BindValue[] {
  return cols.map((c) => toBindValue(values[c.source] ?? null, c.mapping, { where: `${t.schema}.${t.name}.${c.target}`, policy }));
}

function keyColumns(t: TargetTable): TargetColumn[] {
  return t.key.map((k) => t.columns.find((c) => c.target === k)!);
}

function sameKey(t: TargetTable, a: Record<string, Raw | undefined>, b: Record<string, Raw | undefined>): boolean {
  return keyColumns(t).every((c) => {
    const x = a[c.source];
    const y = b[c.source];
    return Buffer.isBuffer(x) && Buffer.isBuffer(y) ? x.equals(y) : x === y;
  });
}

/** Plan a batch of changes: `tables` maps the change's table id to its target. */
export function planChanges(changes: readonly RowChange[], tables: ReadonlyMap<string, TargetTable>, policy: EmptyStringPolicy): PlannedStatement[] {
  const out: PlannedStatement[] = [];
  const push = (table: string, sql: string, columns: TargetColumn[], row: BindValue[], mustMatch: boolean) => {
    const last = out[out.length - 1];
    if (last && last.table === table && last.sql === sql) last.rows.push(row);
    else out.push({ table, sql, columns, rows: [row], mustMatch });
  };
  for (const ch of changes) {
    const t = tables.get(ch.table);
    if (!t) throw new CopyFailed(`a change arrived for ${ch.table}, which is not a selected table`);
    if (ch.op === 'delete') {
      push(ch.table, deleteSql(t), keyColumns(t), bindRow(t, keyColumns(t), ch.key, policy), false);
      continue;
    }
    if (ch.op === 'update' && ch.oldKey && !sameKey(t, ch.oldKey, ch.values)) {
      // The key itself changed: remove the old row, then upsert the new one.
      push(ch.table, deleteSql(t), keyColumns(t), bindRow(t, keyColumns(t), ch.oldKey, policy), false);
    }
    const present = t.columns.filter((c) => ch.values[c.source] !== undefined);
    const sql = mergeSql(t, present.map((c) => c.target));
    push(ch.table, sql, present, bindRow(t, present, ch.values, policy), present.length < t.columns.length);
  }
  return out;
}
