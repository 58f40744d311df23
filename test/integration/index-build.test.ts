// Index builds on the target run with the spec's memory and parallel workers, only for the build:
// against the real target cluster.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { buildIndexes, indexBuildSettings } from '../../activities/adapters/postgres/indexes';
import { parseSpec } from '../../workflows/spec';
import { connect, createDatabasePair, devSpec } from '../support/env';

describe('index build settings', () => {
  let db: Awaited<ReturnType<typeof createDatabasePair>>;
  let tgt: pg.Client;

  beforeAll(async () => {
    db = await createDatabasePair('idx');
    tgt = await connect('target', db.name);
    await tgt.query('CREATE TABLE t (id int, v text); INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 1000) g');
  });
  afterAll(async () => {
    await tgt?.end();
    await db?.drop();
  });

  it('raises maintenance_work_mem and sets parallel workers for each statement only', async () => {
    const spec = parseSpec(devSpec(db.name));
    expect(spec.fullLoad).toMatchObject({ indexMemoryMB: 1024, indexParallelWorkers: 0 });
    const before = (await tgt.query<{ m: string; w: string }>("SELECT current_setting('maintenance_work_mem') AS m, current_setting('max_parallel_maintenance_workers') AS w")).rows[0]!;
    const settings = await indexBuildSettings(tgt, { ...spec.fullLoad, indexParallelWorkers: 1 });
    expect(settings).toEqual({ maintenance_work_mem: '1048576kB', max_parallel_maintenance_workers: '1' });
    // What the statements saw: the first builds a real index, the second records its session's settings.
    const ran = await buildIndexes(tgt, { schema: 'public', name: 't' }, [
      { name: 't_id', kind: 'index', sql: 'CREATE UNIQUE INDEX t_id ON public.t (id)' },
      {
        name: 'seen',
        kind: 'index',
        sql: "CREATE TABLE public.seen AS SELECT current_setting('maintenance_work_mem') AS m, current_setting('max_parallel_maintenance_workers') AS w",
      },
    ], settings);
    expect(ran).toBe(2);
    expect((await tgt.query('SELECT m, w FROM public.seen')).rows).toEqual([{ m: '1GB', w: '1' }]);
    expect((await tgt.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_indexes WHERE indexname = 't_id'")).rows[0]?.n).toBe(1);
    // The session is back to its own values afterwards (SET LOCAL).
    const after = (await tgt.query<{ m: string; w: string }>("SELECT current_setting('maintenance_work_mem') AS m, current_setting('max_parallel_maintenance_workers') AS w")).rows[0]!;
    expect(after).toEqual(before);
    // A statement that fails is rolled back: the session is not left in an aborted transaction.
    await expect(buildIndexes(tgt, { schema: 'public', name: 't' }, [{ name: 'bad', kind: 'index', sql: 'CREATE INDEX bad ON public.t (nope)' }], settings)).rejects.toThrow(/nope/);
    expect((await tgt.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
  });

  it('never lowers a larger maintenance_work_mem the target already has', async () => {
    await tgt.query("SET maintenance_work_mem = '3GB'");
    try {
      const settings = await indexBuildSettings(tgt, parseSpec(devSpec(db.name, { fullLoad: { indexMemoryMB: 64 } })).fullLoad);
      expect(settings.maintenance_work_mem).toBe(`${3 * 1024 * 1024}kB`);
    } finally {
      await tgt.query('RESET maintenance_work_mem');
    }
  });
});
