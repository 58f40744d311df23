// Validation pinpoints differences: after a real migration (engine functions, real clusters), one
// row changed, one deleted and one inserted on the target are reported as exactly those tables,
// the key ranges holding them, and the three rows.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPostgresEngine } from '../../activities/adapters/postgres';
import type { EngineContext } from '../../activities/adapters/engine';
import type { ProvisionResult, TableValidation, ValidationReport } from '../../workflows/types';
import { renderValidationText } from '../../workflows/validationText';
import { createDatabasePair, engineContext, sql } from '../support/env';

const FIXTURE = `
CREATE TABLE public.items (id int PRIMARY KEY, name text NOT NULL, qty int, at timestamptz, price numeric(10,2), CHECK (qty >= 0));
CREATE INDEX items_name ON public.items (name);
CREATE TABLE public.pairs (a int, b text, v double precision, PRIMARY KEY (a, b));
CREATE TABLE public.other (id bigserial PRIMARY KEY, item_id int REFERENCES public.items(id), note text);
CREATE TABLE public.nokey (a int, b text);
INSERT INTO public.items SELECT g, 'item ' || g, g % 50, '2024-01-01'::timestamptz + g * interval '1 minute', g / 3.0 FROM generate_series(1, 20000) g;
INSERT INTO public.pairs SELECT g / 10, 'k' || (g % 10), g / 7.0 FROM generate_series(1, 3000) g;
INSERT INTO public.other (item_id, note) SELECT g, 'n' || g FROM generate_series(1, 500) g;
INSERT INTO public.nokey SELECT g, 'x' || g FROM generate_series(1, 10) g;
`;

const engine = createPostgresEngine();
let db: { name: string; drop: () => Promise<void> };
let ctx: EngineContext;
let provisioned: ProvisionResult;

function withLevel(level: 'counts' | 'checksums' | 'full', maxReportedRows = 100): EngineContext {
  return { ...ctx, spec: { ...ctx.spec, validation: { level, maxReportedRows } } };
}
const table = (r: ValidationReport, source: string): TableValidation => r.tables.find((t) => t.source === source)!;
const inRange = (key: number, r: { lo: string | null; hi: string | null }) => (r.lo === null || key >= Number(r.lo)) && (r.hi === null || key < Number(r.hi));

function expectItem(item: { status: string; message: string } | undefined, status: string, text: string | RegExp): void {
  expect(item?.status).toBe(status);
  if (typeof text === 'string') expect(item?.message).toContain(text);
  else expect(item?.message).toMatch(text);
}

beforeAll(async () => {
  db = await createDatabasePair('vdiff');
  await sql('source', db.name, FIXTURE);
  await sql('source', db.name, 'ANALYZE');
  ctx = engineContext(db.name, { rename: { tables: { 'public.items': 'goods' }, columns: { 'public.items.name': 'title' } }, fullLoad: { chunkTargetMB: 1, wholeTableMaxMB: 0 } });
  provisioned = await engine.provision(ctx);
  for (const chunk of await engine.planFullLoad(ctx, provisioned.tables)) await engine.copyChunk(ctx, chunk, () => undefined);
  await engine.finishLoad(ctx, provisioned.tables);
  await engine.applyRenames(ctx, provisioned.tables);
  await engine.cleanup(ctx, { aborted: false, provision: provisioned });
});
afterAll(async () => {
  await db?.drop();
});

describe('validation after a migration', () => {
  it('matches schema and data table by table, through the renames', async () => {
    const report = await engine.validate(ctx, provisioned.tables);
    expect(report.schema?.filter((s) => s.status === 'mismatch')).toEqual([]);
    expect(report.status).toBe('match');
    expect(report.tables.map((t) => `${t.source} -> ${t.target}: ${t.status}`).sort()).toEqual([
      'public.items -> public.goods: match',
      'public.nokey -> public.nokey: match',
      'public.other -> public.other: match',
      'public.pairs -> public.pairs: match',
    ]);
    const kinds = new Set(report.schema?.map((s) => s.kind));
    for (const k of ['table', 'column', 'primary_key', 'foreign_key', 'check', 'index', 'sequence']) expect(kinds, k).toContain(k);
    expect(table(report, 'public.items').sourceChecksum).toBe(table(report, 'public.items').targetChecksum);
    // Full: every row hash compared, same totals as the SQL checksums.
    const full = await engine.validate(withLevel('full'), provisioned.tables);
    expect(full.status).toBe('match');
    expect(table(full, 'public.items').sourceChecksum).toBe(table(report, 'public.items').sourceChecksum);
    expect(table(full, 'public.items').sourceRows).toBe(20000);
  });

  it('pinpoints one changed, one deleted and one inserted row to their tables, key ranges and rows', async () => {
    await sql('target', db.name, `UPDATE public.goods SET qty = qty + 1 WHERE id = 777`);
    await sql('target', db.name, `DELETE FROM public.goods WHERE id = 15001`);
    await sql('target', db.name, `INSERT INTO public.pairs VALUES (9999, 'zz', 1.5)`);
    try {
      for (const level of ['checksums', 'full'] as const) {
        const report = await engine.validate(withLevel(level), provisioned.tables);
        expect(report.status, level).toBe('mismatch');
        expect(report.tables.filter((t) => t.status === 'mismatch').map((t) => t.source).sort(), level).toEqual(['public.items', 'public.pairs']);

        const items = table(report, 'public.items');
        expect(items).toMatchObject({ sourceRows: 20000, targetRows: 19999 });
        expect(items.rows).toEqual([
          { key: { id: '777' }, kind: 'changed' },
          { key: { id: '15001' }, kind: 'missing_on_target' },
        ]);
        expect(items.ranges).toHaveLength(2);
        expect(items.ranges!.every((r) => r.column === 'id' && r.sourceRows <= 1000)).toBe(true);
        expect(inRange(777, items.ranges![0]!)).toBe(true);
        expect(inRange(15001, items.ranges![1]!)).toBe(true);
        expect(items.ranges![1]!.targetRows).toBe(items.ranges![1]!.sourceRows - 1);

        const pairs = table(report, 'public.pairs');
        expect(pairs.rows).toEqual([{ key: { a: '9999', b: 'zz' }, kind: 'extra_on_target' }]);
        expect(pairs.ranges).toHaveLength(1);
        expect(pairs.ranges![0]!.column).toBe('a, b');
        expect(pairs.rowsTruncated).toBeUndefined();

        const text = renderValidationText(report);
        expect(text).toContain('public.items -> public.goods');
        expect(text).toMatch(/id=777\s+changed/);
        expect(text).toMatch(/a=9999, b=zz\s+extra_on_target/);
      }
      // counts: only the row counts.
      const counts = await engine.validate(withLevel('counts'), provisioned.tables);
      expect(counts.tables.filter((t) => t.status === 'mismatch').map((t) => t.source).sort()).toEqual(['public.items', 'public.pairs']);
      expect(table(counts, 'public.items').rows).toBeUndefined();
    } finally {
      await sql('target', db.name, `UPDATE public.goods SET qty = qty - 1 WHERE id = 777`);
      await sql('target', db.name, `INSERT INTO public.goods SELECT * FROM (VALUES (15001, 'item 15001', 15001 % 50, '2024-01-01'::timestamptz + 15001 * interval '1 minute', round(15001 / 3.0, 2))) v`);
      await sql('target', db.name, `DELETE FROM public.pairs WHERE a = 9999`);
    }
    expect((await engine.validate(ctx, provisioned.tables)).status).toBe('match');
  });

  it('caps the reported rows, and says why a table without a key cannot be narrowed', async () => {
    await sql('target', db.name, `DELETE FROM public.goods WHERE id BETWEEN 5000 AND 5004`);
    await sql('target', db.name, `UPDATE public.nokey SET b = 'changed' WHERE a = 3`);
    const report = await engine.validate(withLevel('checksums', 2), provisioned.tables);
    const items = table(report, 'public.items');
    expect(items.rows).toHaveLength(2);
    expect(items.rowsTruncated).toBe(true);
    const nokey = table(report, 'public.nokey');
    expect(nokey.status).toBe('mismatch');
    expect(nokey.reason).toMatch(/checksums differ.*not possible.*no primary key/);
    expect(nokey.ranges).toBeUndefined();
    // Schema: a dropped index and a sequence set back are found.
    await sql('target', db.name, `DROP INDEX public.items_name; SELECT setval('public.other_id_seq', 3)`);
    const schema = (await engine.validate(withLevel('counts'), provisioned.tables)).schema!;
    expectItem(schema.find((s) => s.kind === 'index' && s.object === 'public.goods'), 'mismatch', 'items_name missing');
    expectItem(schema.find((s) => s.kind === 'sequence' && s.object === 'public.other'), 'mismatch', 'behind the source');
  });
});
