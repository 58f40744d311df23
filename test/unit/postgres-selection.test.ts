import { describe, expect, it } from 'vitest';
import { globToRegExp, isSelected, matchesPattern, selectTables, type CatalogTable } from '../../activities/adapters/postgres/selection';
import { parseSpec } from '../../workflows/spec';

describe('globs', () => {
  it('* and ? are the only wildcards; everything else is literal', () => {
    expect(globToRegExp('sales*').test('sales_2024')).toBe(true);
    expect(globToRegExp('order?').test('orders')).toBe(true);
    expect(globToRegExp('order?').test('order')).toBe(false);
    expect(globToRegExp('a+b').test('a+b')).toBe(true);
    expect(globToRegExp('a+b').test('aab')).toBe(false);
    expect(globToRegExp('x.y').test('xzy')).toBe(false);
    expect(globToRegExp('(x)|[y]').test('(x)|[y]')).toBe(true);
    expect(globToRegExp('*').test('')).toBe(true);
    expect(globToRegExp('Mixed "Case"; *').test('Mixed "Case"; table')).toBe(true);
  });

  it('matches schema and table separately, case-sensitively', () => {
    expect(matchesPattern('public.*', 'public', 'users')).toBe(true);
    expect(matchesPattern('public.*', 'Public', 'users')).toBe(false);
    expect(matchesPattern('*.user?', 'app', 'users')).toBe(true);
    expect(matchesPattern('*.user?', 'app', 'user')).toBe(false);
    // A dot inside a table name cannot be confused with the separator.
    expect(matchesPattern('a.*', 'a.b', 'c')).toBe(false);
    expect(matchesPattern('a.*', 'a', 'b.c')).toBe(true);
  });

  it('exclude wins over include', () => {
    const tables = { include: ['*.*'], exclude: ['audit.*', 'public.tmp_*'] };
    expect(isSelected(tables, 'public', 'users')).toBe(true);
    expect(isSelected(tables, 'audit', 'log')).toBe(false);
    expect(isSelected(tables, 'public', 'tmp_1')).toBe(false);
  });
});

function table(oid: number, schema: string, name: string, extra: Partial<CatalogTable> = {}): CatalogTable {
  return { oid, schema, name, relkind: 'r', parentOid: null, bytes: 100, rows: 10, columns: [{ name: 'id', generated: false }], ...extra };
}

const catalog: CatalogTable[] = [
  table(1, 'sales', 'customer', {
    columns: [
      { name: 'id', generated: false },
      { name: 'name', generated: false },
      { name: 'name_len', generated: true },
    ],
  }),
  table(2, 'sales', 'event', { relkind: 'p', bytes: 0, rows: 0 }),
  table(3, 'sales', 'event_2023', { parentOid: 2, bytes: 1000, rows: 50 }),
  table(4, 'other', 'event_2024', { parentOid: 2, bytes: 2000, rows: 70 }),
  table(5, 'audit', 'log'),
  table(6, 'audit', 'log_part', { parentOid: 5 }),
];

function spec(overrides: Record<string, unknown>) {
  return parseSpec({
    name: 'x',
    source: { host: 'h', database: 'd', user: 'u' },
    target: { host: 'h', database: 'd', user: 'u' },
    ...overrides,
  });
}

describe('selectTables', () => {
  it('selects roots, lets partitions follow their root, rolls sizes up, and leaves generated columns out', () => {
    const sel = selectTables(catalog, spec({ tables: { include: ['sales.*'], exclude: [] } }));
    expect(sel.roots.map((t) => t.name)).toEqual(['customer', 'event']);
    expect(sel.partitions.map((t) => `${t.schema}.${t.name}`)).toEqual(['sales.event_2023', 'other.event_2024']);
    expect(sel.unselected.map((t) => t.name)).toEqual(['log', 'log_part']);
    const event = sel.mappings.find((m) => m.source.name === 'event')!;
    expect(event.estimatedBytes).toBe(3000);
    expect(event.estimatedRows).toBe(120);
    expect(sel.mappings[0]!.columns.map((c) => c.source)).toEqual(['id', 'name']);
  });

  it('a pattern naming only a partition does not select it (partitions follow their root)', () => {
    const sel = selectTables(catalog, spec({ tables: { include: ['sales.event_2023'], exclude: [] } }));
    expect(sel.roots).toEqual([]);
    expect(sel.partitions).toEqual([]);
  });

  it('applies schema, table and column renames', () => {
    const sel = selectTables(
      catalog,
      spec({
        tables: { include: ['sales.*'], exclude: [] },
        rename: { schemas: { sales: 'shop' }, tables: { 'sales.customer': 'client' }, columns: { 'sales.customer.name': 'full_name' } },
      }),
    );
    expect(sel.renameErrors).toEqual([]);
    const c = sel.mappings.find((m) => m.source.name === 'customer')!;
    expect(c.target).toEqual({ schema: 'shop', name: 'client' });
    expect(c.columns).toEqual([
      { source: 'id', target: 'id' },
      { source: 'name', target: 'full_name' },
    ]);
    expect(sel.mappings.find((m) => m.source.name === 'event')!.target).toEqual({ schema: 'shop', name: 'event' });
  });

  it('names every rename key that matches nothing', () => {
    const sel = selectTables(
      catalog,
      spec({
        tables: { include: ['sales.*'], exclude: [] },
        rename: {
          schemas: { nowhere: 'x', other: 'y' },
          tables: { 'sales.nope': 'x', 'audit.log': 'y', 'sales.event_2023': 'z' },
          columns: { 'sales.customer.nope': 'x', 'sales.gone.id': 'y', 'sales.customer.name_len': 'len' },
        },
      }),
    );
    expect(sel.renameErrors.map((e) => e.key)).toEqual([
      'rename.schemas.nowhere',
      'rename.tables.sales.nope',
      'rename.tables.audit.log',
      'rename.tables.sales.event_2023',
      'rename.columns.sales.customer.nope',
      'rename.columns.sales.gone.id',
    ]);
    expect(sel.renameErrors.find((e) => e.key === 'rename.tables.sales.event_2023')?.message).toMatch(/partition/);
  });
});
