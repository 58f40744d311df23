// The native PostgreSQL engine end to end against the two real dev clusters: no mocks.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPostgresEngine } from '../../activities/adapters/postgres';
import type { EngineContext, ResolvedEndpoint } from '../../activities/adapters/engine';
import { AuthenticationFailed, PrecheckFailed, TargetConflict } from '../../activities/adapters/errors';
import { parseSpec } from '../../workflows/spec';
import type { ChunkResult, ProvisionResult } from '../../workflows/types';
import { connect, createDatabasePair, devSpec, password, ports, sql } from '../support/env';

const FIXTURE = `
CREATE SCHEMA sales;
CREATE SCHEMA "Odd Schema";
CREATE TYPE sales.mood AS ENUM ('sad', 'ok', 'happy');
CREATE TYPE sales.addr AS (street text, zip int, m sales.mood);
CREATE SEQUENCE sales.invoice_no START 1000;
CREATE FUNCTION sales.bump() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN NEW.updated := now(); RETURN NEW; END$$;
CREATE TABLE sales.customer (
  id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name text NOT NULL UNIQUE,
  mood sales.mood,
  moods sales.mood[],
  address sales.addr,
  doc jsonb,
  photo bytea,
  updated timestamptz,
  balance numeric(12,2),
  ratio double precision,
  name_len int GENERATED ALWAYS AS (length(name)) STORED
);
CREATE TRIGGER customer_bump BEFORE UPDATE ON sales.customer FOR EACH ROW EXECUTE FUNCTION sales.bump();
CREATE TABLE sales.invoice (
  no bigint PRIMARY KEY DEFAULT nextval('sales.invoice_no'),
  customer_id int NOT NULL REFERENCES sales.customer(id),
  amount numeric,
  issued date,
  tags text[]
);
CREATE INDEX invoice_customer ON sales.invoice (customer_id);
CREATE TABLE sales.event (id bigserial, at date NOT NULL, what text, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
CREATE TABLE sales.event_2023 PARTITION OF sales.event FOR VALUES FROM ('2023-01-01') TO ('2024-01-01');
CREATE TABLE sales.event_2024 PARTITION OF sales.event FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE INDEX event_what ON sales.event (what);
CREATE TABLE "Odd Schema"."Mixed ""Case""; table" (k int PRIMARY KEY, "Odd Col" text);
CREATE TABLE public.empty_one (a int, b text);
CREATE TABLE public.nokey (a int, b text);
CREATE TABLE public.skipme (a int);
CREATE VIEW sales.v AS SELECT * FROM public.skipme;
-- Views that go along: over tables (grouping by a primary key, which the key must exist for), over
-- a view, with a column default and a comment, materialized with an index, and over nothing.
CREATE VIEW sales.spend AS SELECT c.id, c.name, sum(i.amount) AS total FROM sales.customer c JOIN sales.invoice i ON i.customer_id = c.id GROUP BY c.id;
CREATE VIEW sales.big_spend AS SELECT * FROM sales.spend WHERE total > 500;
COMMENT ON VIEW sales.big_spend IS 'big spenders';
CREATE VIEW sales.recent_invoice AS SELECT no, customer_id, amount FROM sales.invoice WHERE issued >= date '2024-06-01';
ALTER VIEW sales.recent_invoice ALTER COLUMN amount SET DEFAULT 1;
CREATE MATERIALIZED VIEW "Odd Schema"."mood count" AS SELECT mood, count(*) AS n FROM sales.customer GROUP BY mood WITH NO DATA;
CREATE UNIQUE INDEX "mood count key" ON "Odd Schema"."mood count" (mood);
CREATE VIEW public.answer AS SELECT 42 AS answer;
INSERT INTO sales.customer (name, mood, moods, address, doc, photo, updated, balance, ratio)
SELECT 'c' || g, (ARRAY['sad','ok','happy'])[1 + g % 3]::sales.mood, ARRAY['ok','sad']::sales.mood[],
       ROW('street ' || g, g, 'happy')::sales.addr, jsonb_build_object('g', g, 'tags', jsonb_build_array('a', 'b')),
       decode(md5(g::text), 'hex'), '2024-01-01 12:00+02'::timestamptz + g * interval '1 hour', g * 1.25, g / 7.0
  FROM generate_series(1, 500) g;
INSERT INTO sales.customer (name) VALUES ('all nulls');
INSERT INTO sales.invoice (customer_id, amount, issued, tags)
SELECT 1 + g % 500, g * 0.5, date '2024-01-01' + g % 300, ARRAY['t' || g % 5, NULL] FROM generate_series(1, 2000) g;
INSERT INTO sales.event (at, what) SELECT date '2023-06-01' + g % 400, 'e' || g FROM generate_series(1, 1000) g;
INSERT INTO "Odd Schema"."Mixed ""Case""; table" SELECT g, 'v ' || g FROM generate_series(1, 50) g;
INSERT INTO public.nokey SELECT g, 'x' FROM generate_series(1, 10) g;
INSERT INTO public.skipme VALUES (1);
REFRESH MATERIALIZED VIEW "Odd Schema"."mood count";
COMMENT ON TABLE sales.invoice IS 'invoices';
COMMENT ON COLUMN sales.customer.doc IS 'profile';
COMMENT ON INDEX sales.invoice_customer IS 'by customer';
COMMENT ON CONSTRAINT invoice_pkey ON sales.invoice IS 'invoice number';
-- A DBA's own autovacuum settings, which the load must keep.
ALTER TABLE public.nokey SET (autovacuum_enabled = true);
ALTER TABLE public.empty_one SET (autovacuum_enabled = false, fillfactor = 90);
SELECT setval('sales.invoice_no', 5000, true);
`;

function endpoint(side: 'source' | 'target', database: string, overrides: Partial<ResolvedEndpoint> = {}): ResolvedEndpoint {
  return { host: '127.0.0.1', port: ports[side], database, user: 'postgres', password: password(side), sslmode: 'disable', ...overrides };
}

function context(database: string, specOverrides: Record<string, unknown> = {}, migrationId = `m-${database}`): EngineContext {
  return {
    migrationId,
    spec: parseSpec(devSpec(database, specOverrides)),
    source: endpoint('source', database),
    target: endpoint('target', database),
    workerId: 'test-worker',
  };
}

const engine = createPostgresEngine();

async function catalogSnapshot(side: 'source' | 'target', db: string, schemaMap: Record<string, string> = {}, tableMap: Record<string, string> = {}) {
  const rename = (s: string) => schemaMap[s] ?? s;
  const rows = await sql<{ kind: string; schema: string; tbl: string; name: string; def: string }>(
    side,
    db,
    `SELECT 'index' AS kind, n.nspname AS schema, t.relname AS tbl, i.relname AS name, pg_get_indexdef(i.oid) AS def
       FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid JOIN pg_namespace n ON n.oid = t.relnamespace
      WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast', 'ferry')
     UNION ALL
     SELECT 'constraint', n.nspname, t.relname, c.conname, pg_get_constraintdef(c.oid)
       FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid JOIN pg_namespace n ON n.oid = t.relnamespace
      WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'ferry')
     UNION ALL
     SELECT 'trigger', n.nspname, t.relname, g.tgname, pg_get_triggerdef(g.oid)
       FROM pg_trigger g JOIN pg_class t ON t.oid = g.tgrelid JOIN pg_namespace n ON n.oid = t.relnamespace
      WHERE NOT g.tgisinternal AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'ferry')
     ORDER BY 1, 2, 3, 4`,
  );
  // Normalise the source side to the names the target should have after renames.
  return rows
    .filter((r) => side === 'target' || r.tbl !== 'skipme')
    .map((r) => {
      if (side === 'target') return `${r.kind} ${r.schema}.${r.tbl} ${r.name} ${r.def}`;
      const tbl = tableMap[`${r.schema}.${r.tbl}`] ?? r.tbl;
      let def = r.def;
      for (const [from, to] of Object.entries(schemaMap)) def = def.split(`${from}.`).join(`${to}.`);
      for (const [from, to] of Object.entries(tableMap)) {
        const [s, t] = from.split('.') as [string, string];
        def = def.replace(new RegExp(`\\b${rename(s)}\\.${t}\\b`, 'g'), `${rename(s)}.${to}`);
      }
      return `${r.kind} ${rename(r.schema)}.${tbl} ${r.name} ${def}`;
    })
    .sort();
}

describe('native postgres engine', () => {
  let db: { name: string; drop: () => Promise<void> };

  beforeAll(async () => {
    db = await createDatabasePair('pge');
    const c = await connect('source', db.name);
    try {
      await c.query(FIXTURE);
      await c.query('ANALYZE');
    } finally {
      await c.end();
    }
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('migrates everything: precheck -> provision -> copy -> finishLoad -> renames -> validate -> cleanup', async () => {
    const ctx = context(db.name, {
      tables: { include: ['*.*'], exclude: ['public.skipme'] },
      rename: {
        schemas: { sales: 'shop' },
        tables: { 'sales.customer': 'client' },
        columns: { 'sales.customer.name': 'full_name', 'Odd Schema.Mixed "Case"; table.Odd Col': 'even col' },
      },
    });

    const items = await engine.precheck(ctx);
    const byId = new Map(items.map((i) => [i.id, i]));
    expect(items.filter((i) => i.status === 'fail')).toEqual([]);
    expect(byId.get('connectivity.source')?.status).toBe('pass');
    expect(byId.get('tables.primary-key')?.status).toBe('pass') // offline: keyless tables are copied whole;
    expect(byId.get('tables.primary-key')?.message).toContain('public.nokey');
    expect(byId.get('tables.primary-key')?.message).toContain('public.empty_one');
    expect(byId.get('tables.primary-key')?.message).not.toContain('customer');
    expect(byId.get('permission.fence')?.status).toBe('pass');

    const provisioned = await engine.provision(ctx);
    const names = provisioned.tables.map((t) => `${t.source.schema}.${t.source.name}`).sort();
    expect(names).toEqual(['Odd Schema.Mixed "Case"; table', 'public.empty_one', 'public.nokey', 'sales.customer', 'sales.event', 'sales.invoice']);
    expect(provisioned.createdSchemas).toEqual(['Odd Schema', 'sales']);
    const customer = provisioned.tables.find((t) => t.source.name === 'customer')!;
    expect(customer.target).toEqual({ schema: 'shop', name: 'client' });
    expect(customer.columns.map((c) => c.source)).not.toContain('name_len');
    expect(customer.columns.find((c) => c.source === 'name')?.target).toBe('full_name');
    // A retry after success is a no-op with the same result.
    expect(await engine.provision(ctx)).toEqual(provisioned);
    // Autovacuum is paused for the load where the source does not set it (not on the partitioned
    // parent, which has no storage of its own); the DBA's settings stay as they are.
    const autovacuum = () =>
      sql<{ t: string; o: string[] | null }>(
        'target',
        db.name,
        `SELECT n.nspname || '.' || c.relname AS t, c.reloptions AS o FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname IN ('sales', 'public', 'Odd Schema') AND c.relkind IN ('r', 'p') ORDER BY 1`,
      ).then((rows) => Object.fromEntries(rows.map((r) => [r.t, (r.o ?? []).join(',')])));
    expect(await autovacuum()).toEqual({
      'Odd Schema.Mixed "Case"; table': 'autovacuum_enabled=false',
      'public.empty_one': 'autovacuum_enabled=false,fillfactor=90',
      'public.nokey': 'autovacuum_enabled=true',
      'sales.customer': 'autovacuum_enabled=false',
      'sales.event': '',
      'sales.event_2023': 'autovacuum_enabled=false',
      'sales.event_2024': 'autovacuum_enabled=false',
      'sales.invoice': 'autovacuum_enabled=false',
    });

    const chunks = await engine.planFullLoad(ctx, provisioned.tables);
    const ids = chunks.map((c) => c.id);
    expect(ids).toContain('"sales"."event_2023"');
    expect(ids).toContain('"sales"."event_2024"');
    expect(ids).not.toContain('"sales"."event"');
    expect(new Set(ids).size).toBe(ids.length);
    for (let i = 1; i < chunks.length; i++) expect(chunks[i - 1]!.table.estimatedBytes).toBeGreaterThanOrEqual(chunks[i]!.table.estimatedBytes);

    const results: ChunkResult[] = [];
    const progress: number[] = [];
    for (const chunk of chunks) results.push(await engine.copyChunk(ctx, chunk, (p) => progress.push(p.bytes)));
    const rowsOf = (id: string) => results.find((r) => r.chunkId === id)!;
    expect(rowsOf('"sales"."customer"').rows).toBe(501);
    expect(rowsOf('"sales"."invoice"').rows).toBe(2000);
    expect(rowsOf('"sales"."event_2023"').rows + rowsOf('"sales"."event_2024"').rows).toBe(1000);
    expect(rowsOf('"Odd Schema"."Mixed ""Case""; table"').rows).toBe(50);
    expect(rowsOf('"public"."empty_one"').rows).toBe(0);
    expect(results.every((r) => !r.skipped)).toBe(true);
    expect(progress.length).toBeGreaterThan(0);

    // Copying a chunk again copies nothing: the marker says it is done.
    const again = await engine.copyChunk(ctx, chunks.find((c) => c.id === '"sales"."invoice"')!, () => undefined);
    expect(again).toEqual({ chunkId: '"sales"."invoice"', rows: 2000, bytes: rowsOf('"sales"."invoice"').bytes, skipped: true });
    expect((await sql('target', db.name, 'SELECT count(*)::int AS n FROM sales.invoice'))[0]?.n).toBe(2000);
    const markers = await sql('target', db.name, 'SELECT chunk_id, worker FROM ferry.chunk WHERE migration_id = $1', [ctx.migrationId]);
    expect(markers).toHaveLength(chunks.length);
    expect(markers.every((m) => m.worker === 'test-worker')).toBe(true);

    await engine.finishLoad(ctx, provisioned.tables);
    await engine.finishLoad(ctx, provisioned.tables); // idempotent
    // Given back where Ferry paused it, and only there.
    expect(await autovacuum()).toEqual({
      'Odd Schema.Mixed "Case"; table': '',
      'public.empty_one': 'autovacuum_enabled=false,fillfactor=90',
      'public.nokey': 'autovacuum_enabled=true',
      'sales.customer': '',
      'sales.event': '',
      'sales.event_2023': '',
      'sales.event_2024': '',
      'sales.invoice': '',
    });
    await engine.applyRenames(ctx, provisioned.tables);
    await engine.applyRenames(ctx, provisioned.tables); // idempotent

    // Indexes, constraints, FKs and triggers equal the source's, under the new names.
    const expected = await catalogSnapshot('source', db.name, { sales: 'shop' }, { 'sales.customer': 'client' });
    const actual = await catalogSnapshot('target', db.name);
    const clean = (xs: string[]) =>
      xs.map((x) => x.replace(/\bname\b/g, 'NAME').replace(/\bfull_name\b/g, 'NAME').replace(/"Odd Col"/g, 'ODD').replace(/"even col"/g, 'ODD'));
    expect(clean(actual)).toEqual(clean(expected));
    expect(actual.some((x) => x.includes('FOREIGN KEY (customer_id) REFERENCES shop.client(id)'))).toBe(true);
    expect(actual.some((x) => x.startsWith('trigger shop.client customer_bump'))).toBe(true);

    // Comments on tables and columns (pre-data) and on indexes and constraints (post-data) arrive once each.
    const comments = await sql<{ c: string }>(
      'target',
      db.name,
      `SELECT d.description || ' on ' || d.classoid::regclass::text AS c FROM pg_description d
        WHERE d.description IN ('invoices', 'profile', 'by customer', 'invoice number', 'big spenders') ORDER BY 1`,
    );
    expect(comments.map((r) => r.c)).toEqual([
      'big spenders on pg_class',
      'by customer on pg_class',
      'invoice number on pg_constraint',
      'invoices on pg_class',
      'profile on pg_class',
    ]);

    // Views go along (under the renamed schema), except the one over the table left out; the
    // materialized one is filled as on the source; a view's column default comes too.
    const views = await sql<{ v: string }>(
      'target',
      db.name,
      `SELECT n.nspname || '.' || c.relname || ' ' || c.relkind::text AS v FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('v', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1`,
    );
    expect(views.map((r) => r.v)).toEqual(['Odd Schema.mood count m', 'public.answer v', 'shop.big_spend v', 'shop.recent_invoice v', 'shop.spend v']);
    const moods = `SELECT mood::text AS mood, n::int AS n FROM "Odd Schema"."mood count" ORDER BY 1`;
    expect(await sql('target', db.name, moods)).toEqual(await sql('source', db.name, moods));
    const spenders = (side: 'source' | 'target', schema: string) =>
      sql(side, db.name, `SELECT id, name, total::text AS total FROM ${schema}.big_spend ORDER BY id`);
    expect(await spenders('target', 'shop')).toEqual(await spenders('source', 'sales'));
    expect((await spenders('target', 'shop')).length).toBeGreaterThan(0);
    const viewDefault = await sql('target', db.name, `SELECT pg_get_expr(adbin, adrelid) AS d FROM pg_attrdef WHERE adrelid = 'shop.recent_invoice'::regclass`);
    expect(viewDefault).toEqual([{ d: '1' }]);

    // Sequences: explicit, identity and serial carry the source values.
    const seq = await sql('target', db.name, `SELECT last_value::int AS v, is_called FROM shop.invoice_no`);
    expect(seq[0]).toEqual({ v: 5000, is_called: true });
    const ident = await sql('target', db.name, `SELECT nextval(pg_get_serial_sequence('shop.client', 'id'))::int AS v`);
    expect(ident[0]?.v).toBe(502);
    const serial = await sql('target', db.name, `SELECT nextval(pg_get_serial_sequence('shop.event', 'id'))::int AS v`);
    expect(serial[0]?.v).toBe(1001);

    // Values survive exactly: enum arrays, composites, jsonb, bytea, timestamptz, generated columns.
    const row = await sql('target', db.name, `SELECT full_name, mood::text, moods::text, (address).street, (address).m::text AS m, doc->>'g' AS g,
        encode(photo, 'hex') AS photo, updated, balance::text, name_len, ratio FROM shop.client WHERE id = 7`);
    const srcRow = await sql('source', db.name, `SELECT name AS full_name, mood::text, moods::text, (address).street, (address).m::text AS m, doc->>'g' AS g,
        encode(photo, 'hex') AS photo, updated, balance::text, name_len, ratio FROM sales.customer WHERE id = 7`);
    expect(row).toEqual(srcRow);

    const report = await engine.validate(ctx, provisioned.tables);
    expect(report.level).toBe('checksums');
    expect(report.status).toBe('match');
    expect(report.tables).toHaveLength(6);
    for (const t of report.tables) {
      expect(t.status, `${t.source}: ${t.reason}`).toBe('match');
      expect(t.sourceChecksum).toBe(t.targetChecksum);
    }
    expect(report.tables.find((t) => t.source === 'sales.customer')).toMatchObject({ target: 'shop.client', sourceRows: 501, targetRows: 501 });

    // A changed row on the target is caught.
    await sql('target', db.name, `UPDATE shop.client SET balance = balance + 1 WHERE id = 3`);
    const bad = await engine.validate(ctx, provisioned.tables);
    expect(bad.status).toBe('mismatch');
    expect(bad.tables.find((t) => t.target === 'shop.client')?.status).toBe('mismatch');
    const counts = await engine.validate({ ...ctx, spec: { ...ctx.spec, validation: { level: 'counts', maxReportedRows: 100 } } }, provisioned.tables);
    expect(counts.status).toBe('match');

    // Success cleanup: the migration's state goes, the migrated data stays.
    await engine.cleanup(ctx, { aborted: false, provision: provisioned });
    expect(await sql('target', db.name, `SELECT 1 FROM pg_namespace WHERE nspname = 'ferry'`)).toHaveLength(0);
    expect((await sql('target', db.name, 'SELECT count(*)::int AS n FROM shop.invoice'))[0]?.n).toBe(2000);
    await engine.cleanup(ctx, { aborted: false, provision: provisioned }); // idempotent
  });

  it('reports target conflicts and refuses to provision over them; abort cleanup removes only what Ferry made', async () => {
    const pair = await createDatabasePair('pgc');
    try {
      await sql('source', pair.name, FIXTURE);
      // The target already has one selected table (in a schema Ferry did not create) and an unrelated one.
      await sql('target', pair.name, `CREATE TABLE public.nokey (a int); CREATE TABLE public.keepme (x int); CREATE SCHEMA keep_schema`);
      const ctx = context(pair.name, { tables: { include: ['*.*'], exclude: ['public.skipme'] } });
      const items = await engine.precheck(ctx);
      const conflict = items.find((i) => i.id === 'target.conflicts');
      expect(conflict?.status).toBe('fail');
      expect(conflict?.message).toContain('public.nokey');
      await expect(engine.provision(ctx)).rejects.toThrow(TargetConflict);
      await expect(engine.provision(ctx)).rejects.toThrow(/public\.nokey/);

      // Without the conflict: provision, load, then abort.
      await sql('target', pair.name, 'DROP TABLE public.nokey');
      const provisioned: ProvisionResult = await engine.provision(ctx);
      for (const chunk of await engine.planFullLoad(ctx, provisioned.tables)) await engine.copyChunk(ctx, chunk, () => undefined);
      await engine.finishLoad(ctx, provisioned.tables);
      await engine.cleanup(ctx, { aborted: true, provision: provisioned });
      await engine.cleanup(ctx, { aborted: true, provision: provisioned }); // idempotent

      const left = await sql<{ name: string }>(
        'target',
        pair.name,
        `SELECT n.nspname || '.' || c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%' ORDER BY 1`,
      );
      expect(left.map((r) => r.name)).toEqual(['public.keepme']);
      const schemas = await sql<{ nspname: string }>(
        'target',
        pair.name,
        `SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg_%' AND nspname <> 'information_schema' ORDER BY 1`,
      );
      expect(schemas.map((s) => s.nspname)).toEqual(['keep_schema', 'public']);
      expect(await sql('target', pair.name, `SELECT 1 FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE n.nspname = 'public' AND t.typname = 'mood'`)).toHaveLength(0);
    } finally {
      await pair.drop();
    }
  });

  it('fences the source read-only and unfences it exactly', async () => {
    const ctx = context(db.name, { fence: { enabled: true, terminateSessions: true } }, `fence-${db.name}`);
    // An open session of another application is ended by the fence.
    const victim = await connect('source', db.name);
    await victim.query(`SET application_name = 'app'`);
    victim.on('error', () => undefined);
    const state = await engine.fenceSource(ctx);
    expect(state.previousReadOnly).toBeNull();
    expect(state.terminatedSessions).toBeGreaterThanOrEqual(1);
    await expect(victim.query('SELECT 1')).rejects.toThrow();
    await victim.end().catch(() => undefined);

    await expect(sql('source', db.name, 'INSERT INTO public.nokey VALUES (99, $1)', ['y'])).rejects.toThrow(/read-only/);
    // A retried fence keeps the original value, not its own 'on'.
    expect((await engine.fenceSource(ctx)).previousReadOnly).toBeNull();

    await engine.unfenceSource(ctx, state);
    await engine.unfenceSource(ctx, state); // idempotent
    await sql('source', db.name, 'INSERT INTO public.nokey VALUES (99, $1)', ['y']);
    await sql('source', db.name, 'DELETE FROM public.nokey WHERE a = 99');
    const settings = await sql('source', 'postgres', `SELECT s.setconfig FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase WHERE d.datname = $1`, [db.name]);
    expect(settings).toHaveLength(0);

    // A database that was already set explicitly gets that value back.
    await sql('source', 'postgres', `ALTER DATABASE ${db.name} SET default_transaction_read_only = off`);
    const s2 = await engine.fenceSource({ ...ctx, spec: { ...ctx.spec, fence: { enabled: true, terminateSessions: false } } });
    expect(s2).toEqual({ previousReadOnly: 'off', terminatedSessions: 0 });
    await engine.unfenceSource(ctx, s2);
    const after = await sql('source', 'postgres', `SELECT s.setconfig FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase WHERE d.datname = $1`, [db.name]);
    expect(after[0]?.setconfig).toEqual(['default_transaction_read_only=off']);
    await sql('source', 'postgres', `ALTER DATABASE ${db.name} RESET ALL`);
    await engine.cleanup(ctx, { aborted: false });
  });

  it('names the user when the password is wrong, and the key when a rename matches nothing', async () => {
    const ctx = context(db.name);
    const wrong: EngineContext = { ...ctx, source: { ...ctx.source, password: 'not-the-password' } };
    const err = await engine.provision(wrong).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AuthenticationFailed);
    expect((err as Error).message).toContain('"postgres"');
    const items = await engine.precheck(wrong);
    expect(items.find((i) => i.id === 'connectivity.source')).toMatchObject({ status: 'fail' });
    expect(items.find((i) => i.id === 'connectivity.source')?.message).toMatch(/authentication failed for user "postgres"/);

    const refused: EngineContext = { ...ctx, target: { ...ctx.target, port: 1 } };
    const items2 = await engine.precheck(refused);
    expect(items2.find((i) => i.id === 'connectivity.target')?.message).toMatch(/127\.0\.0\.1:1.*refused/);

    const badRename = context(db.name, { rename: { tables: { 'sales.nope': 'x' }, columns: { 'sales.customer.nope': 'y' } } });
    const items3 = await engine.precheck(badRename);
    const fails = items3.filter((i) => i.status === 'fail').map((i) => i.message).join('\n');
    expect(fails).toContain('rename.tables.sales.nope');
    expect(fails).toContain('rename.columns.sales.customer.nope');
    await expect(engine.provision(badRename)).rejects.toThrow(PrecheckFailed);
    await expect(engine.provision(badRename)).rejects.toThrow(/rename\.tables\.sales\.nope/);
  });
});
