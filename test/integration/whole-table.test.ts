// Whole tables versus split ones on the real clusters: under the default whole-table limit a table
// loads as one chunk, frozen by COPY FREEZE (every page all-frozen on the target, nothing left for
// a later scan or vacuum to rewrite); a table over 1.5 even stream shares of the load (the long
// pole) is split all the same when splitLongPole says so, and so is every table over
// wholeTableMaxMB. Both arrive identical. Here source, target and worker are one machine: with
// as many streams as its cores, `auto` leaves the long pole whole.
import { availableParallelism } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPostgresEngine } from '../../activities/adapters/postgres';
import { closeIdleSessions } from '../../activities/adapters/postgres/connect';
import type { ChunkResult, ProvisionResult } from '../../workflows/types';
import { tableChecksums } from '../support/checksums';
import { createDatabasePair, engineContext, sql } from '../support/env';

// `big` ~6 MB and `small` ~1.6 MB: with 2 streams an even share is ~3.8 MB, so `big` (1.6 shares)
// is the long pole and `small` (0.4) is not; both are over the 1 MB chunk target.
const FIXTURE = `
CREATE TABLE public.big (id bigint PRIMARY KEY, pad text NOT NULL);
INSERT INTO public.big SELECT g, repeat(md5(g::text), 2) FROM generate_series(1, 60000) g;
CREATE TABLE public.small (id bigint PRIMARY KEY, pad text NOT NULL);
INSERT INTO public.small SELECT g, repeat(md5(g::text), 2) FROM generate_series(1, 16000) g;
`;

describe('whole-table loads', () => {
  let db: { name: string; drop: () => Promise<void> };
  let provisioned: ProvisionResult;
  const engine = createPostgresEngine();
  const context = (fullLoad: Record<string, number | string>, parallelism = 2) => engineContext(db.name, { parallelism, fullLoad: { chunkTargetMB: 1, ...fullLoad } });

  beforeAll(async () => {
    db = await createDatabasePair('whole');
    await sql('source', db.name, FIXTURE);
    await sql('source', db.name, 'VACUUM ANALYZE'); // sizes and row estimates for the planner
    provisioned = await engine.provision(context({}));
  });
  afterAll(async () => {
    await closeIdleSessions();
    await db?.drop();
  });

  const chunksPerTable = (ids: string[]) => ({
    big: ids.filter((id) => id.startsWith('"public"."big"')).length,
    small: ids.filter((id) => id.startsWith('"public"."small"')).length,
  });

  it('loads a table under the limit whole and frozen, splits the long pole, and both arrive identical', async () => {
    const ctx = context({ splitLongPole: 'always' });
    expect(ctx.spec.fullLoad.wholeTableMaxMB).toBe(4096); // the default
    const chunks = await engine.planFullLoad(ctx, provisioned.tables);
    const per = chunksPerTable(chunks.map((c) => c.id));
    expect(per.small).toBe(1);
    expect(per.big).toBeGreaterThanOrEqual(4);

    const results: ChunkResult[] = [];
    for (const chunk of chunks) results.push(await engine.copyChunk(ctx, chunk, () => undefined));
    expect(results.every((r) => !r.skipped)).toBe(true);
    const source = await tableChecksums('source', db.name);
    const target = await tableChecksums('target', db.name);
    expect(target['public.big']).toEqual(source['public.big']);
    expect(target['public.small']).toEqual(source['public.small']);

    // COPY FREEZE marked every page of the whole table all-frozen; the split table's pages are not.
    await sql('target', db.name, 'CREATE EXTENSION IF NOT EXISTS pg_visibility');
    const frozen = await sql<{ t: string; pages: number; all_frozen: number }>(
      'target',
      db.name,
      `SELECT t, (pg_relation_size(t::regclass) / current_setting('block_size')::int)::int AS pages, (pg_visibility_map_summary(t::regclass)).all_frozen::int AS all_frozen
       FROM unnest(ARRAY['public.small', 'public.big']) AS t ORDER BY t`,
    );
    const by = Object.fromEntries(frozen.map((r) => [r.t, r]));
    expect(by['public.small']!.pages).toBeGreaterThan(100);
    expect(by['public.small']!.all_frozen).toBe(by['public.small']!.pages);
    expect(by['public.big']!.all_frozen).toBe(0);
  }, 60_000);

  it('leaves the long pole whole when the streams share this machine\'s cores with both databases (auto), or with never', async () => {
    const cores = availableParallelism();
    const cases = [
      { mode: 'auto', parallelism: Math.max(2, cores), big: 1 },
      { mode: 'never', parallelism: 2, big: 1 },
      { mode: 'always', parallelism: Math.max(2, cores), big: 4 },
    ];
    expect(context({}).spec.fullLoad.splitLongPole).toBe('auto'); // the default
    for (const c of cases) {
      // A migration of its own: splits are recorded per migration, and the first plan's would be read back.
      const ctx = { ...context({ splitLongPole: c.mode }, c.parallelism), migrationId: `m-${db.name}-${c.mode}` };
      const per = chunksPerTable((await engine.planFullLoad(ctx, provisioned.tables)).map((c) => c.id));
      expect(per.small, c.mode).toBe(1);
      if (c.big === 1) expect(per.big, c.mode).toBe(1);
      else expect(per.big, c.mode).toBeGreaterThanOrEqual(c.big);
    }
  }, 60_000);

  it('splits every table over wholeTableMaxMB, and by chunk size alone at 0', async () => {
    for (const wholeTableMaxMB of [1, 0]) {
      // A migration of its own: splits are recorded per migration, and the first plan's would be read back.
      const ctx = { ...context({ wholeTableMaxMB }), migrationId: `m-${db.name}-${wholeTableMaxMB}` };
      const per = chunksPerTable((await engine.planFullLoad(ctx, provisioned.tables)).map((c) => c.id));
      expect(per.small, `wholeTableMaxMB ${wholeTableMaxMB}`).toBeGreaterThanOrEqual(2);
      expect(per.big, `wholeTableMaxMB ${wholeTableMaxMB}`).toBeGreaterThanOrEqual(4);
    }
  }, 60_000);
});
