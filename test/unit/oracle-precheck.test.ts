// The PG -> Oracle precheck as a function of facts from both sides: DTS's items (keys, versions,
// schemas/tables present, permissions, storage) and Oracle's own (types vs existing columns,
// '' vs NULL, identifier lengths, character set). No database.
import { describe, expect, it } from 'vitest';
import type { OracleColumnRow } from '../../activities/adapters/oracle/catalog';
import { checkTargetColumn } from '../../activities/adapters/oracle/compat';
import { evaluatePgToOracle, type PgToOracleFacts, type SourceTableFacts, type TargetFacts } from '../../activities/adapters/oracle/precheck';
import { mapColumn, type PgColumn } from '../../activities/adapters/oracle/types';

const t = { schema: 'sales', name: 'orders' };
const pgCols: PgColumn[] = [
  { table: t, name: 'id', type: { kind: 'base', name: 'bigint' }, notNull: true },
  { table: t, name: 'code', type: { kind: 'base', name: 'text' }, notNull: true },
  { table: t, name: 'amount', type: { kind: 'base', name: 'numeric', typmod: [12, 2] }, notNull: false },
];
const ocol = (name: string, dataType: string, over: Partial<OracleColumnRow> = {}): OracleColumnRow => ({
  name, dataType, dataLength: 22, charLength: 0, charUsed: null, precision: null, scale: null, nullable: true, virtual: false, ...over,
});
const source = (over: Partial<SourceTableFacts> = {}): SourceTableFacts => ({
  mapping: { source: t, target: t, columns: pgCols.map((c) => ({ source: c.name, target: c.name })), estimatedBytes: 1000, estimatedRows: 10 },
  columns: pgCols,
  key: ['id'],
  replicaIdentity: 'd',
  emptyStrings: { code: 0 },
  ...over,
});
const target = (over: Partial<TargetFacts> = {}): TargetFacts => ({
  version: { major: 19, minor: 3 },
  charset: 'AL32UTF8',
  maxStringSize: 'STANDARD',
  user: 'SALES',
  schemas: new Set(['SALES']),
  tables: new Map([['SALES.ORDERS', [ocol('ID', 'NUMBER', { precision: 19, scale: 0, nullable: false }), ocol('CODE', 'VARCHAR2', { dataLength: 400, charLength: 100, charUsed: 'C', nullable: false }), ocol('AMOUNT', 'NUMBER', { precision: 12, scale: 2 })]]]),
  writable: new Set(['SALES.ORDERS']),
  rowCounts: new Map([['SALES.ORDERS', 0]]),
  freeBytes: 1 << 30,
  ...over,
});
const facts = (over: Partial<PgToOracleFacts> = {}): PgToOracleFacts => ({ online: false, policy: 'null', source: [source()], target: target(), ...over });
const status = (items: { id: string; status: string }[], id: string) => items.find((i) => i.id === id)?.status;

describe('evaluatePgToOracle', () => {
  it('a table that fits: a plan with folded names, the text key bound as VARCHAR2 (not CLOB)', () => {
    const { items, tables } = evaluatePgToOracle(facts());
    expect(items.filter((i) => i.status === 'fail')).toEqual([]);
    expect(tables).toHaveLength(1);
    expect(tables[0]).toMatchObject({ schema: 'SALES', name: 'ORDERS', key: ['ID'] });
    expect(tables[0]!.columns.find((c) => c.target === 'CODE')!.mapping).toMatchObject({ kind: 'text', maxBytes: 400 });
    expect(status(items, 'type:sales.orders.code')).toBe('warning'); // unbounded text into VARCHAR2(100 CHAR)
  });

  it('missing schema, table or column; no key when online; REPLICA IDENTITY NOTHING', () => {
    expect(status(evaluatePgToOracle(facts({ target: target({ schemas: new Set() }) })).items, 'schema:SALES')).toBe('fail');
    expect(status(evaluatePgToOracle(facts({ target: target({ tables: new Map() }) })).items, 'table:SALES.ORDERS')).toBe('fail');
    const noAmount = target({ tables: new Map([['SALES.ORDERS', [ocol('ID', 'NUMBER'), ocol('CODE', 'VARCHAR2', { dataLength: 400 })]]]) });
    expect(status(evaluatePgToOracle(facts({ target: noAmount })).items, 'column:sales.orders.amount')).toBe('fail');
    expect(status(evaluatePgToOracle(facts({ source: [source({ key: null })] })).items, 'no-key:sales.orders')).toBe('warning');
    const online = evaluatePgToOracle(facts({ online: true, source: [source({ key: null, replicaIdentity: 'n' })] }));
    expect(status(online.items, 'no-key:sales.orders')).toBe('fail');
    expect(status(online.items, 'replica-identity:sales.orders')).toBe('fail');
    expect(online.tables).toEqual([]);
  });

  it("'' in a NOT NULL column fails unless the policy is 'space'", () => {
    const withEmpty = [source({ emptyStrings: { code: 3 } })];
    expect(status(evaluatePgToOracle(facts({ source: withEmpty })).items, 'empty-string:sales.orders.code')).toBe('fail');
    expect(status(evaluatePgToOracle(facts({ source: withEmpty, policy: 'space' })).items, 'empty-string:sales.orders.code')).toBeUndefined();
  });

  it('versions, character set, storage, permissions, non-empty targets', () => {
    expect(status(evaluatePgToOracle(facts({ target: target({ version: { major: 10, minor: 2 } }) })).items, 'version:target')).toBe('fail');
    expect(status(evaluatePgToOracle(facts({ target: target({ version: { major: 23, minor: 4 } }) })).items, 'version:target')).toBe('warning');
    expect(status(evaluatePgToOracle(facts({ target: target({ charset: 'WE8ISO8859P1' }) })).items, 'charset:target')).toBe('fail');
    expect(status(evaluatePgToOracle(facts({ target: target({ freeBytes: 10 }) })).items, 'storage:target')).toBe('fail');
    expect(status(evaluatePgToOracle(facts({ target: target({ freeBytes: null }) })).items, 'storage:target')).toBe('warning');
    expect(status(evaluatePgToOracle(facts({ target: target({ writable: new Set() }) })).items, 'permissions:SALES.ORDERS')).toBe('fail');
    expect(status(evaluatePgToOracle(facts({ target: target({ rowCounts: new Map([['SALES.ORDERS', 1]]) }) })).items, 'not-empty:SALES.ORDERS')).toBe('warning');
  });

  it('names too long for an 11g target are refused with the rename remedy', () => {
    const long = 'a_very_long_table_name_for_oracle_11g';
    const m = source({ mapping: { ...source().mapping, source: { schema: 'sales', name: long }, target: { schema: 'sales', name: long } } });
    const { items } = evaluatePgToOracle(facts({ source: [m], target: target({ version: { major: 11, minor: 2 } }) }));
    const item = items.find((i) => i.id === `identifier:sales.${long}`);
    expect(item?.status).toBe('fail');
    expect(item?.message).toMatch(/allows 30/);
  });

  it('an unsupported source type fails naming the column', () => {
    const withPoint = source({ columns: [...pgCols, { table: t, name: 'loc', type: { kind: 'base', name: 'point' }, notNull: false }], mapping: { ...source().mapping, columns: [...source().mapping.columns, { source: 'loc', target: 'loc' }] } });
    const { items } = evaluatePgToOracle(facts({ source: [withPoint] }));
    const item = items.find((i) => i.id === 'type:sales.orders.loc');
    expect(item?.status).toBe('fail');
    expect(item?.message).toMatch(/sales\.orders\.loc.*point/);
  });
});

describe('checkTargetColumn', () => {
  const m = (type: PgColumn['type']) => mapColumn({ table: t, name: 'c', type, notNull: false }, { major: 19, minor: 3, maxStringSize: 'STANDARD' });
  it('compatible, compatible with a warning, incompatible', () => {
    expect(checkTargetColumn(m({ kind: 'base', name: 'boolean' }), ocol('C', 'NUMBER', { precision: 1, scale: 0 })).status).toBe('pass');
    expect(checkTargetColumn(m({ kind: 'base', name: 'numeric', typmod: [12, 2] }), ocol('C', 'NUMBER', { precision: 8, scale: 2 })).status).toBe('warning');
    expect(checkTargetColumn(m({ kind: 'base', name: 'timestamp with time zone' }), ocol('C', 'TIMESTAMP(6) WITH LOCAL TIME ZONE')).status).toBe('pass');
    expect(checkTargetColumn(m({ kind: 'base', name: 'timestamp without time zone' }), ocol('C', 'DATE')).status).toBe('warning');
    expect(checkTargetColumn(m({ kind: 'base', name: 'uuid' }), ocol('C', 'VARCHAR2', { dataLength: 36 })).mapping.kind).toBe('text');
    expect(checkTargetColumn(m({ kind: 'base', name: 'bytea' }), ocol('C', 'NUMBER')).status).toBe('fail');
    expect(checkTargetColumn(m({ kind: 'base', name: 'integer' }), ocol('C', 'NUMBER', { virtual: true })).status).toBe('fail');
  });
});
