// One schema dump per migration: provision keeps its pg_dump archive on the target, and finishLoad
// restores post-data (constraints, triggers, views) from it instead of dumping again. What the
// source gains after provision (a foreign key, a view) is not migrated.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPostgresEngine } from '../../activities/adapters/postgres';
import { createDatabasePair, engineContext, sql } from '../support/env';

const FIXTURE = `
CREATE TABLE public.customers (id int PRIMARY KEY);
INSERT INTO public.customers SELECT g FROM generate_series(0, 6) g;
CREATE TABLE public.orders (id int PRIMARY KEY, customer int NOT NULL, total numeric NOT NULL);
CREATE INDEX orders_customer ON public.orders (customer);
CREATE VIEW public.big_orders AS SELECT id, total FROM public.orders WHERE total > 50;
INSERT INTO public.orders SELECT g, g % 7, g FROM generate_series(1, 100) g;
`;

describe('schema dump kept from provision', () => {
  let db: { name: string; drop: () => Promise<void> };
  const engine = createPostgresEngine();

  beforeAll(async () => {
    db = await createDatabasePair('schemadump');
    await sql('source', db.name, FIXTURE);
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('restores post-data and views from the dump provision took, and drops it at cleanup', async () => {
    const ctx = engineContext(db.name, { tables: { include: ['public.*'] } });
    const provisioned = await engine.provision(ctx);
    const kept = await sql<{ n: number; has_index: boolean }>(
      'target',
      db.name,
      `SELECT count(*)::int AS n, bool_and(toc LIKE '%INDEX public orders_customer%') AS has_index FROM ferry.schema_dump WHERE migration_id = $1`,
      [ctx.migrationId],
    );
    expect(kept).toEqual([{ n: 1, has_index: true }]);

    // After provision: not in its dump, so not migrated (a second pg_dump at finishLoad would take them).
    await sql(
      'source',
      db.name,
      `ALTER TABLE public.orders ADD CONSTRAINT orders_customer_fk FOREIGN KEY (customer) REFERENCES public.customers (id);
       CREATE VIEW public.late AS SELECT id FROM public.orders WHERE id > 90`,
    );

    for (const chunk of await engine.planFullLoad(ctx, provisioned.tables)) await engine.copyChunk(ctx, chunk, () => undefined);
    await engine.finishLoad(ctx, provisioned.tables);

    const constraints = await sql<{ c: string }>('target', db.name, `SELECT conname AS c FROM pg_constraint WHERE conrelid = 'public.orders'::regclass ORDER BY 1`);
    expect(constraints.map((r) => r.c)).toEqual(['orders_pkey']);
    const indexes = await sql<{ i: string }>('target', db.name, `SELECT indexname AS i FROM pg_indexes WHERE tablename = 'orders' ORDER BY 1`);
    expect(indexes.map((r) => r.i)).toEqual(['orders_customer', 'orders_pkey']);
    const views = await sql<{ v: string }>('target', db.name, `SELECT viewname AS v FROM pg_views WHERE schemaname = 'public' ORDER BY 1`);
    expect(views.map((r) => r.v)).toEqual(['big_orders']);
    expect(await sql('target', db.name, 'SELECT count(*)::int AS n FROM public.big_orders')).toEqual([{ n: 50 }]);

    await engine.cleanup(ctx, { aborted: false, provision: provisioned });
    expect(await sql('target', db.name, `SELECT to_regclass('ferry.schema_dump') IS NULL AS gone`)).toEqual([{ gone: true }]);
  });
});
