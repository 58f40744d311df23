// Writing to Oracle: the INSERT / MERGE / DELETE text (golden files in test/golden/oracle/),
// batching, and change application, with the driver replaced at the OracleWriter boundary.
// UPDATE_GOLDEN=1 rewrites the golden files.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import oracledb from 'oracledb';
import { describe, expect, it } from 'vitest';
import { bindDefsFor, deleteSql, executeBatched, insertSql, mergeSql, planBatches, toBindRows, type OracleWriter, type TargetTable } from '../../activities/adapters/oracle/apply';
import { planChanges, type RowChange } from '../../activities/adapters/oracle/changes';
import { createTableSql } from '../../activities/adapters/oracle/ddl';
import { mapColumn, type OracleTarget, type PgType } from '../../activities/adapters/oracle/types';
import type { BindValue } from '../../activities/adapters/oracle/values';

const GOLDEN = path.resolve(__dirname, '../golden/oracle');
function golden(name: string, actual: string): void {
  const file = path.join(GOLDEN, name);
  if (process.env.UPDATE_GOLDEN === '1') {
    mkdirSync(GOLDEN, { recursive: true });
    writeFileSync(file, actual);
  }
  if (!existsSync(file)) throw new Error(`golden file ${file} is missing (UPDATE_GOLDEN=1 writes it)`);
  expect(actual).toBe(readFileSync(file, 'utf8'));
}

const ora: OracleTarget = { major: 19, minor: 3, maxStringSize: 'STANDARD' };
const pgTable = { schema: 'sales', name: 'orders' };
function column(source: string, target: string, type: PgType, notNull = false) {
  return { source, target, mapping: mapColumn({ table: pgTable, name: source, type, notNull }, ora) };
}
const orders: TargetTable = {
  schema: 'SALES',
  name: 'ORDERS',
  limit: 128,
  key: ['ID'],
  columns: [
    column('id', 'ID', { kind: 'base', name: 'bigint' }, true),
    column('customer', 'Customer Name', { kind: 'base', name: 'character varying', typmod: [100] }),
    column('placed_at', 'PLACED_AT', { kind: 'base', name: 'timestamp with time zone' }),
    column('ref', 'REF', { kind: 'base', name: 'uuid' }),
    column('note', 'NOTE', { kind: 'base', name: 'text' }),
  ],
};
const keyOnly: TargetTable = { schema: 'SALES', name: 'TAGS', limit: 128, key: ['ORDER_ID', 'TAG'], columns: [column('order_id', 'ORDER_ID', { kind: 'base', name: 'bigint' }, true), column('tag', 'TAG', { kind: 'base', name: 'character varying', typmod: [30] }, true)] };

describe('generated DML (golden)', () => {
  it('INSERT for the full load', () => golden('insert-orders.sql', `${insertSql(orders)}\n`));
  it('MERGE upsert by key (all columns)', () => golden('merge-orders.sql', `${mergeSql(orders)}\n`));
  it('MERGE update-only when an update left unchanged TOASTed columns out', () => golden('merge-orders-partial.sql', `${mergeSql(orders, ['ID', 'PLACED_AT'])}\n`));
  it('MERGE on a table of only key columns (no UPDATE clause: ORA-38104)', () => golden('merge-key-only.sql', `${mergeSql(keyOnly)}\n`));
  it('DELETE by composite key', () => golden('delete-key-only.sql', `${deleteSql(keyOnly)}\n`));
  it('suggested CREATE TABLE from the mapping', () => {
    const withChecks = [...orders.columns, column('paid', 'PAID', { kind: 'base', name: 'boolean' }), column('mood', 'MOOD', { kind: 'enum', name: 'public.mood', labels: ['ok', "it's"] })];
    golden('create-orders.sql', `${createTableSql(orders.schema, orders.name, withChecks, orders.key)}\n`);
  });

  it('a key column missing from a change, or a table without key, is refused', () => {
    expect(() => mergeSql(orders, ['PLACED_AT'])).toThrow(/key column ID missing/);
    expect(() => deleteSql({ ...orders, key: [] })).toThrow(/no key/);
  });
});

describe('batching', () => {
  const row = (n: number): BindValue[] => [String(n), 'x'.repeat(n % 50)];
  it('keeps order, respects maxRows and maxBytes (a single oversized row still goes alone)', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 500 }), { maxLength: 300 }), fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 400 }), (ns, maxRows, maxBytes) => {
        const rows = ns.map(row);
        const batches = planBatches(rows, { maxRows, maxBytes });
        expect(batches.flat()).toEqual(rows);
        for (const b of batches) {
          expect(b.length).toBeGreaterThan(0);
          expect(b.length).toBeLessThanOrEqual(maxRows);
          const bytes = b.reduce((s, r) => s + Buffer.byteLength(String(r[0])) + Buffer.byteLength(String(r[1]) || 'x'), 0);
          if (b.length > 1) expect(bytes).toBeLessThanOrEqual(maxBytes + 2 * b.length);
        }
      }),
      { numRuns: 100 },
    );
  });

  it('executeBatched: one executeMany per batch, never autocommit, strings sized per batch, LOBs typed', async () => {
    const calls: { sql: string; binds: BindValue[][]; options: oracledb.ExecuteManyOptions }[] = [];
    const w: OracleWriter = {
      executeMany: (sql, binds, options) => {
        calls.push({ sql, binds, options });
        const result: oracledb.Results<unknown> = { dmlRowCounts: binds.map(() => 1) } as oracledb.Results<unknown>;
        return Promise.resolve(result);
      },
      execute: () => Promise.resolve({}),
      commit: () => Promise.resolve(),
      rollback: () => Promise.resolve(),
    };
    const raw = Array.from({ length: 5 }, (_, i) => [String(i + 1), `customer ${i}`, '2024-05-01 12:00:00.000000', '0b6c9a8e-7f52-4d0e-9a51-5cba8d9e2f10', i === 2 ? '' : 'note']);
    const rows = toBindRows(orders, orders.columns, raw, 'null');
    expect(rows[2]![4]).toBeNull();
    const r = await executeBatched(w, insertSql(orders), orders.columns, rows, { maxRows: 2, maxBytes: 1 << 20 });
    expect(r.rows).toBe(5);
    expect(calls.map((c) => c.binds.length)).toEqual([2, 2, 1]);
    for (const c of calls) expect(c.options.autoCommit).toBe(false);
    const defs = calls[0]!.options.bindDefs as oracledb.BindDefinition[];
    expect(defs[1]).toEqual({ type: oracledb.DB_TYPE_VARCHAR, maxSize: 10 });
    expect(defs[4]).toEqual({ type: oracledb.DB_TYPE_CLOB });
    expect(bindDefsFor(orders.columns, [])[0]).toEqual({ type: oracledb.DB_TYPE_VARCHAR, maxSize: 1 });
  });

  it('a bad value stops the batch before any SQL runs, naming the column', () => {
    expect(() => toBindRows(orders, orders.columns, [['1', 'a', 'infinity', null, null]], 'null')).toThrow(/SALES\.ORDERS\.PLACED_AT: infinity/);
  });
});

describe('change application plan', () => {
  const tables = new Map([['sales.orders', orders], ['sales.tags', keyOnly]]);
  const full = (id: string, note: string) => ({ id, customer: 'c', placed_at: '2024-05-01 00:00:00.000000', ref: null, note });

  it('consecutive changes sharing a statement are one batch, in arrival order', () => {
    const changes: RowChange[] = [
      { op: 'insert', table: 'sales.orders', values: full('1', 'a') },
      { op: 'update', table: 'sales.orders', values: full('1', 'b') },
      { op: 'insert', table: 'sales.orders', values: full('2', 'c') },
      { op: 'delete', table: 'sales.orders', key: { id: '1' } },
      { op: 'insert', table: 'sales.tags', values: { order_id: '2', tag: 'x' } },
      { op: 'insert', table: 'sales.orders', values: full('3', 'd') },
    ];
    const plan = planChanges(changes, tables, 'null');
    expect(plan.map((p) => [p.table, p.sql.split(' ')[0], p.rows.length])).toEqual([
      ['sales.orders', 'MERGE', 3],
      ['sales.orders', 'DELETE', 1],
      ['sales.tags', 'MERGE', 1],
      ['sales.orders', 'MERGE', 1],
    ]);
    expect(plan[0]!.rows.map((r) => r[4])).toEqual(['a', 'b', 'c']);
  });

  it('an update that changes the key deletes the old row first', () => {
    const plan = planChanges([{ op: 'update', table: 'sales.orders', values: full('9', 'n'), oldKey: { id: '8' } }], tables, 'null');
    expect(plan.map((p) => p.sql.split(' ')[0])).toEqual(['DELETE', 'MERGE']);
    expect(plan[0]!.rows).toEqual([['8']]);
  });

  it('unchanged TOASTed values: update-only MERGE that must match a row', () => {
    const values = { ...full('5', 'x'), note: undefined };
    const [p] = planChanges([{ op: 'update', table: 'sales.orders', values }], tables, 'null');
    expect(p!.mustMatch).toBe(true);
    expect(p!.sql).not.toMatch(/WHEN NOT MATCHED/);
    expect(p!.columns.map((c) => c.target)).toEqual(['ID', 'Customer Name', 'PLACED_AT', 'REF']);
  });

  it('changes for tables not selected are refused', () => {
    expect(() => planChanges([{ op: 'delete', table: 'public.other', key: {} }], tables, 'null')).toThrow(/not a selected table/);
  });
});
