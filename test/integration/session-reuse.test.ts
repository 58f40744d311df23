// Sessions kept between a migration's steps (connect.ts withSession/withSessions), on the real
// clusters: a session goes back to the pool only clean (DISCARD ALL: no SET, advisory lock or
// temporary table outlives the step that made it), never with a transaction open or after a
// failure, and a migration's cleanup closes the idle ones on its databases.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPostgresEngine } from '../../activities/adapters/postgres';
import { closeIdleSessions, withSession, withSessions } from '../../activities/adapters/postgres/connect';
import { createDatabasePair, engineContext, sql } from '../support/env';

/** Ferry's sessions on `database` of a side, by backend pid. */
async function ferrySessions(side: 'source' | 'target', database: string): Promise<number[]> {
  const rows = await sql<{ pid: number }>(
    side,
    'postgres',
    `SELECT pid FROM pg_catalog.pg_stat_activity WHERE datname = $1 AND application_name = 'ferry' ORDER BY pid`,
    [database],
  );
  return rows.map((r) => r.pid);
}

const pidOf = async (c: { query: (q: string) => Promise<{ rows: { pid: number }[] }> }) => (await c.query('SELECT pg_catalog.pg_backend_pid() AS pid')).rows[0]!.pid;

describe('sessions kept between steps', () => {
  let db: { name: string; drop: () => Promise<void> };
  beforeAll(async () => {
    db = await createDatabasePair('reuse');
  });
  afterAll(async () => {
    await closeIdleSessions();
    await db?.drop();
  });

  it('reuses a session only after DISCARD ALL, keeping the startup settings', async () => {
    const ctx = engineContext(db.name);
    const first = await withSession(ctx.target, async (c) => {
      await c.query("SET lock_timeout = '7s'");
      await c.query('SELECT pg_catalog.pg_advisory_lock(4242)');
      await c.query('CREATE TEMPORARY TABLE scratch (x int)');
      return pidOf(c);
    });
    const seen = await withSession(ctx.target, async (c) => ({
      pid: await pidOf(c),
      lockTimeout: (await c.query<{ v: string }>("SELECT pg_catalog.current_setting('lock_timeout') AS v")).rows[0]!.v,
      searchPath: (await c.query<{ v: string }>("SELECT pg_catalog.current_setting('search_path') AS v")).rows[0]!.v,
      locks: (await c.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_catalog.pg_locks WHERE locktype = 'advisory' AND pid = pg_catalog.pg_backend_pid()")).rows[0]!.n,
      temp: (await c.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_catalog.pg_class WHERE relname = 'scratch' AND relpersistence = 't'")).rows[0]!.n,
    }));
    expect(seen.pid).toBe(first); // the same backend...
    expect(seen.lockTimeout).toBe('0'); // ...with what the step SET gone,
    expect(seen.locks).toBe(0); // its advisory lock released,
    expect(seen.temp).toBe(0); // its temporary table dropped,
    expect(seen.searchPath).toBe('pg_catalog'); // and Ferry's startup settings still there
  });

  it('drops a session left in a transaction or used by a failed step', async () => {
    const ctx = engineContext(db.name);
    const open = await withSession(ctx.target, async (c) => {
      await c.query('BEGIN');
      return pidOf(c);
    });
    let failed = 0;
    await expect(
      withSession(ctx.target, async (c) => {
        failed = await pidOf(c);
        throw new Error('step failed');
      }),
    ).rejects.toThrow('step failed');
    const next = await withSession(ctx.target, pidOf);
    expect(failed).not.toBe(open);
    expect(next).not.toBe(open);
    expect(next).not.toBe(failed);
    // The dropped sessions are gone from the server, not left idle in a transaction.
    const live = await ferrySessions('target', db.name);
    expect(live).not.toContain(open);
    expect(live).not.toContain(failed);
  });

  it('leases both sides at once and names the side a lost session was on', async () => {
    const ctx = engineContext(db.name);
    const err = await withSessions(ctx, async (src, tgt) => {
      expect(await pidOf(tgt)).toBeGreaterThan(0);
      await sql('source', 'postgres', 'SELECT pg_catalog.pg_terminate_backend($1)', [await pidOf(src)]);
      await src.query('SELECT 1');
    }).catch((e: unknown) => e as Error);
    expect(err).toBeInstanceOf(Error);
    expect(err?.message).toContain(`cannot reach PostgreSQL at 127.0.0.1:${ctx.source.port} `);
    // ...and the next lease gets a live session, not the dead one.
    expect(await withSessions(ctx, async (src) => pidOf(src))).toBeGreaterThan(0);
  });

  it('leaves no idle session on the databases once cleanup has run', async () => {
    const ctx = engineContext(db.name);
    const engine = createPostgresEngine();
    await withSessions(ctx, (src) => src.query('SELECT 1'));
    expect((await ferrySessions('source', db.name)).length).toBeGreaterThan(0);
    expect((await ferrySessions('target', db.name)).length).toBeGreaterThan(0);
    await engine.cleanup(ctx, { aborted: false });
    expect(await ferrySessions('source', db.name)).toEqual([]);
    expect(await ferrySessions('target', db.name)).toEqual([]);
  });
});
