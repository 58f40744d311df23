// Retries, cancellation and renames into existing schemas, against the real dev clusters.
import { afterEach, describe, expect, it } from 'vitest';
import { createPostgresEngine } from '../../activities/adapters/postgres';
import type { EngineContext, ResolvedEndpoint } from '../../activities/adapters/engine';
import { parseSpec } from '../../workflows/spec';
import { createDatabasePair, devSpec, password, ports, sql } from '../support/env';

const engine = createPostgresEngine();
const drops: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (drops.length) await drops.pop()!();
});

function endpoint(side: 'source' | 'target', database: string): ResolvedEndpoint {
  return { host: '127.0.0.1', port: ports[side], database, user: 'postgres', password: password(side), sslmode: 'disable' };
}

async function setup(prefix: string, fixture: string, spec: Record<string, unknown> = {}): Promise<{ db: string; ctx: EngineContext }> {
  const pair = await createDatabasePair(prefix);
  drops.push(pair.drop);
  await sql('source', pair.name, fixture);
  await sql('source', pair.name, 'ANALYZE');
  return {
    db: pair.name,
    ctx: {
      migrationId: `m-${pair.name}`,
      spec: parseSpec(devSpec(pair.name, spec)),
      source: endpoint('source', pair.name),
      target: endpoint('target', pair.name),
      workerId: 'w1',
    },
  };
}

describe('native postgres engine: retries and cancellation', () => {
  it('a cancelled copy rolls back without a marker; the retry copies everything once', async () => {
    const { db, ctx } = await setup(
      'pgr',
      `CREATE TABLE public.big (id int PRIMARY KEY, pad text);
       INSERT INTO public.big SELECT g, repeat(md5(g::text), 8) FROM generate_series(1, 60000) g;`,
    );
    const p = await engine.provision(ctx);
    const [chunk] = await engine.planFullLoad(ctx, p.tables);
    const ac = new AbortController();
    const seen: { rows: number; bytes: number }[] = [];
    const cancelled = engine.copyChunk({ ...ctx, signal: ac.signal }, chunk!, (progress) => {
      seen.push(progress);
      ac.abort(new Error('activity cancelled'));
    });
    await expect(cancelled).rejects.toThrow(/cancelled/);
    expect(seen.length).toBeGreaterThan(0);
    expect((await sql('target', db, 'SELECT count(*)::int AS n FROM public.big'))[0]?.n).toBe(0);
    expect(await sql('target', db, 'SELECT * FROM ferry.chunk')).toHaveLength(0);
    // No session is left holding the target transaction (idle ones that provision and planning gave back may be kept).
    const open = await sql('target', 'postgres', `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND application_name = 'ferry' AND state <> 'idle'`, [db]);
    expect(open[0]?.n).toBe(0);

    // Two workers racing on the same chunk: exactly one copies, the other waits and sees its marker.
    const progress: [{ rows: number; bytes: number }[], { rows: number; bytes: number }[]] = [[], []];
    const results = await Promise.all([0, 1].map((i) => engine.copyChunk({ ...ctx, workerId: `w${i}` }, chunk!, (x) => progress[i as 0 | 1].push(x))));
    expect(results.map((r) => r.skipped).sort()).toEqual([false, true]);
    expect(results.every((r) => r.rows === 60000)).toBe(true);
    const copier = results.findIndex((r) => !r.skipped);
    const seenByCopier = progress[copier as 0 | 1];
    expect(seenByCopier.length).toBeGreaterThan(2);
    // Rows are counted while streaming, not only at the end.
    expect(seenByCopier[0]!.rows).toBeGreaterThan(0);
    expect(seenByCopier[0]!.rows).toBeLessThan(60000);
    expect((await sql('target', db, 'SELECT worker FROM ferry.chunk'))[0]?.worker).toBe(`w${copier}`);
    expect((await sql('target', db, 'SELECT count(*)::int AS n FROM public.big'))[0]?.n).toBe(60000);
    await engine.cleanup(ctx, { aborted: true, provision: p });
  });

  it('provision resumes after a crash between restore and record; finishLoad completes a partial post-data restore', async () => {
    const { db, ctx } = await setup(
      'pgp',
      `CREATE TABLE public.parent (id int PRIMARY KEY, code text UNIQUE);
       CREATE TABLE public.child (id int PRIMARY KEY, parent_id int REFERENCES public.parent(id), note text);
       CREATE INDEX child_note ON public.child (note);
       CREATE TABLE public.unrelated (id int);
       CREATE TABLE public.refs_unrelated (id int PRIMARY KEY, u int);
       INSERT INTO public.parent SELECT g, 'c' || g FROM generate_series(1, 100) g;
       INSERT INTO public.child SELECT g, 1 + g % 100, 'n' FROM generate_series(1, 300) g;`,
      { tables: { include: ['public.*'], exclude: ['public.unrelated'] } },
    );
    const p = await engine.provision(ctx);
    // Simulate the crash: the restore committed but the attempt died before marking it done.
    await sql('target', db, `UPDATE ferry.provisioned SET status = 'pending' WHERE migration_id = $1`, [ctx.migrationId]);
    expect(await engine.provision(ctx)).toEqual(p);
    expect((await sql('target', db, 'SELECT status FROM ferry.provisioned'))[0]?.status).toBe('done');

    for (const c of await engine.planFullLoad(ctx, p.tables)) await engine.copyChunk(ctx, c, () => undefined);
    await engine.finishLoad(ctx, p.tables);
    const defs = async () =>
      (
        await sql<{ d: string }>(
          'target',
          db,
          `SELECT conrelid::regclass || ' ' || conname || ' ' || pg_get_constraintdef(oid) AS d FROM pg_constraint WHERE connamespace = 'public'::regnamespace
           UNION ALL SELECT indexrelid::regclass::text FROM pg_index WHERE indrelid IN ('public.child'::regclass, 'public.parent'::regclass) ORDER BY 1`,
        )
      ).map((r) => r.d);
    const complete = await defs();
    expect(complete).toContain('child child_parent_id_fkey FOREIGN KEY (parent_id) REFERENCES parent(id)');
    expect(complete).toContain('child_note');
    // Partial success: some post-data objects missing, the others present. The retry adds only the missing.
    await sql('target', db, 'ALTER TABLE public.child DROP CONSTRAINT child_parent_id_fkey; DROP INDEX public.child_note');
    await engine.finishLoad(ctx, p.tables);
    expect(await defs()).toEqual(complete);
    await engine.cleanup(ctx, { aborted: true, provision: p });
    expect(await sql('target', db, `SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace`)).toEqual([]);
  });

  it('renames into an existing schema move only Ferry objects; abort cleanup finds them by OID', async () => {
    const { db, ctx } = await setup(
      'pgs',
      `CREATE SCHEMA app;
       CREATE TYPE app.color AS ENUM ('red', 'green');
       CREATE DOMAIN app.pos AS int CHECK (VALUE > 0);
       CREATE FUNCTION app.twice(x app.pos) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT x * 2';
       CREATE SEQUENCE app.counter;
       CREATE TABLE app.items (id app.pos PRIMARY KEY, c app.color, cs app.color[], n int DEFAULT nextval('app.counter'));
       INSERT INTO app.items SELECT g, 'green', ARRAY['red', 'green']::app.color[] FROM generate_series(1, 20) g;`,
      { rename: { schemas: { app: 'public' }, tables: { 'app.items': 'things' }, columns: { 'app.items.c': 'colour' } } },
    );
    await sql('target', db, `CREATE TABLE public.mine (x int); CREATE FUNCTION public.mine_fn() RETURNS int LANGUAGE sql AS 'SELECT 1'`);
    const p = await engine.provision(ctx);
    expect(p.createdSchemas).toEqual(['app']);
    for (const c of await engine.planFullLoad(ctx, p.tables)) await engine.copyChunk(ctx, c, () => undefined);
    await engine.finishLoad(ctx, p.tables);
    await engine.applyRenames(ctx, p.tables);
    await engine.applyRenames(ctx, p.tables);
    // Everything moved into the existing public schema; Ferry's emptied schema is gone.
    expect(await sql('target', db, `SELECT 1 FROM pg_namespace WHERE nspname = 'app'`)).toHaveLength(0);
    const row = await sql('target', db, `SELECT colour::text, cs::text, public.twice(id) AS t FROM public.things WHERE id = 3`);
    expect(row).toEqual([{ colour: 'green', cs: '{red,green}', t: 6 }]);
    const report = await engine.validate(ctx, p.tables);
    expect(report.status).toBe('match');

    await engine.cleanup(ctx, { aborted: true, provision: p });
    const left = await sql<{ n: string }>(
      'target',
      db,
      `SELECT relname AS n FROM pg_class WHERE relnamespace = 'public'::regnamespace
       UNION ALL SELECT typname FROM pg_type WHERE typnamespace = 'public'::regnamespace AND typname NOT LIKE '\\_%' AND typrelid = 0
       UNION ALL SELECT proname FROM pg_proc WHERE pronamespace = 'public'::regnamespace ORDER BY 1`,
    );
    expect(left.map((r) => r.n)).toEqual(['mine', 'mine_fn']);
    expect(await sql('target', db, `SELECT 1 FROM pg_namespace WHERE nspname IN ('app', 'ferry')`)).toHaveLength(0);
  });
});
