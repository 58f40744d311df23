import { hostname } from 'node:os';
import { describe, expect, it } from 'vitest';
import { batchChunks, compactPlan, expandPlan, runBatches } from '../../workflows/fullLoad';
import type { FullLoadPlan, LoadChunk } from '../../workflows/types';
import { plannedChunkBytes, wholeTableLimit } from '../../activities/adapters/postgres/copy';
import { isThisMachine, splitsLongPole, thisMachine } from '../../activities/adapters/postgres/locality';

const chunk = (id: string, bytes: number): LoadChunk => ({
  id,
  table: { source: { schema: 's', name: id }, target: { schema: 's', name: id }, columns: [], estimatedBytes: bytes, estimatedRows: 0 },
});

describe('full-load batching', () => {
  it('gives big chunks a batch each and groups small ones up to the limits, in order', () => {
    const chunks = [chunk('big', 100), chunk('a', 10), chunk('b', 10), chunk('c', 10), chunk('d', 10)];
    const batches = batchChunks(chunks, { maxBytes: 25, maxChunks: 10 });
    expect(batches.map((b) => b.map((c) => c.id))).toEqual([['big'], ['a', 'b'], ['c', 'd']]);
  });

  it('keeps 10,000 small tables to a few hundred activities', () => {
    const chunks = Array.from({ length: 10_000 }, (_, i) => chunk(`t${i}`, 8192));
    expect(batchChunks(chunks).length).toBe(100);
  });

  it('runs at most `parallelism` batches at once and stops taking work after a failure', async () => {
    let running = 0;
    let peak = 0;
    const started: string[] = [];
    const batches = ['a', 'b', 'c', 'd', 'e', 'f'].map((id) => [chunk(id, 1)]);
    const err = await runBatches(
      batches,
      2,
      async (batch) => {
        const id = batch[0]!.id;
        started.push(id);
        running += 1;
        peak = Math.max(peak, running);
        await new Promise((r) => setTimeout(r, 5));
        running -= 1;
        if (id === 'b') throw new Error('copy of b failed');
        return [];
      },
      () => undefined,
    ).catch((e: unknown) => e);
    expect(peak).toBe(2);
    expect(String(err)).toContain('copy of b failed');
    expect(started.length).toBeLessThan(6);
  });

  it('plans name tables by index, so 10,000 tables are not sent back with the plan (issue #3)', () => {
    const tables = Array.from({ length: 10_000 }, (_, i) => chunk(`t${i}`, 8192).table);
    const leaf = chunk('leaf', 10).table; // a partition's leaf: not among the planner's input
    const chunks: LoadChunk[] = [
      ...tables.map((table) => ({ id: table.source.name, table: { ...table } })),
      { id: 'leaf#a', table: leaf, range: { column: 'id', lo: null, hi: '5', kind: 'key' } },
      { id: 'leaf#b', table: leaf, range: { column: 'id', lo: '5', hi: null, kind: 'key' } },
    ];
    const plan = compactPlan(tables, chunks);
    expect(plan.extraTables).toEqual([leaf]);
    expect(plan.chunks.at(-1)).toEqual({ id: 'leaf#b', table: 10_000, range: chunks.at(-1)!.range });
    expect(JSON.stringify(plan).length).toBeLessThan(JSON.stringify(chunks).length / 3);
    expect(expandPlan(tables, JSON.parse(JSON.stringify(plan)) as FullLoadPlan)).toEqual(chunks);
    // An old worker's answer (the chunks themselves) is taken as it is.
    expect(expandPlan(tables, chunks)).toBe(chunks);
  });
});

describe('planned chunk size', () => {
  const MB = 1024 * 1024;
  it('is the spec target for a big load, about a quarter of each stream share for a smaller one, never under 32 MB', () => {
    expect(plannedChunkBytes(256, 100_000 * MB, 4)).toBe(256 * MB);
    expect(plannedChunkBytes(256, 928 * MB, 2)).toBe(116 * MB);
    expect(plannedChunkBytes(256, 50 * MB, 2)).toBe(32 * MB);
    expect(plannedChunkBytes(1, 50 * MB, 2)).toBe(1 * MB); // an explicit small target wins
  });
});

describe('whole-table limit', () => {
  const MB = 1024 * 1024;
  it('is wholeTableMaxMB, or 1.5 even stream shares of the load when that is less; 0 splits by chunk size alone', () => {
    // The bench: 885 MB on 2 streams; pgbench_accounts (641 MB) loads whole, at 1.45 shares.
    expect(wholeTableLimit(1024, 885 * MB, 2)).toBeCloseTo(663.75 * MB, 0);
    expect(wholeTableLimit(1024, 885 * MB, 2)).toBeGreaterThan(641 * MB);
    // One table of 90 % of the load would run alone for most of it: split.
    expect(wholeTableLimit(1024, 1000 * MB, 2)).toBeLessThan(900 * MB);
    // A big load: the size cap (what a killed worker can lose) decides.
    expect(wholeTableLimit(1024, 100_000 * MB, 4)).toBe(1024 * MB);
    // One stream: nothing to balance, only the cap.
    expect(wholeTableLimit(1024, 800 * MB, 1)).toBe(1024 * MB);
    expect(wholeTableLimit(0, 885 * MB, 2)).toBe(0);
  });

  it('is the size cap alone when the long pole is not split', () => {
    // The bench at scale 100: pgbench_accounts 1.28 GB of 1.53 GB on 2 streams (1.67 shares).
    expect(wholeTableLimit(4096, 1530 * MB, 2)).toBeLessThan(1280 * MB);
    expect(wholeTableLimit(4096, 1530 * MB, 2, false)).toBe(4096 * MB);
    expect(wholeTableLimit(1024, 1530 * MB, 2, false)).toBe(1024 * MB);
  });
});

describe('splitLongPole', () => {
  const machine = { cores: 2, names: new Set(['db-host', '10.0.0.5']) };
  const local = { source: '127.0.0.1', target: 'localhost' };

  it('auto: whole when both databases are on this machine and the streams are at least its cores', () => {
    expect(splitsLongPole('auto', 2, local, machine)).toBe(false);
    expect(splitsLongPole('auto', 4, { source: '/var/run/postgresql', target: '::1' }, machine)).toBe(false);
    expect(splitsLongPole('auto', 2, { source: 'DB-HOST', target: '[::1]' }, machine)).toBe(false);
    expect(splitsLongPole('auto', 2, { source: '10.0.0.5', target: '127.0.0.2' }, machine)).toBe(false);
    expect(splitsLongPole('auto', 2, { source: '::ffff:127.0.0.1', target: 'app.localhost' }, machine)).toBe(false);
  });

  it('auto: split when a database is elsewhere or cores are to spare', () => {
    expect(splitsLongPole('auto', 2, { source: '127.0.0.1', target: 'db.example.com' }, machine)).toBe(true);
    expect(splitsLongPole('auto', 2, { source: '10.0.0.6', target: 'localhost' }, machine)).toBe(true);
    expect(splitsLongPole('auto', 2, local, { ...machine, cores: 8 })).toBe(true);
  });

  it('always and never override; unset (a spec from before the setting) splits, as Ferry did', () => {
    expect(splitsLongPole('always', 2, local, machine)).toBe(true);
    expect(splitsLongPole('never', 2, { source: 'a.example', target: 'b.example' }, machine)).toBe(false);
    expect(splitsLongPole(undefined, 2, local, machine)).toBe(true);
  });

  it('knows this machine by loopback, its host name and its addresses', () => {
    const here = thisMachine();
    expect(here.cores).toBeGreaterThanOrEqual(1);
    expect(isThisMachine('localhost', here)).toBe(true);
    expect(isThisMachine(hostname(), here)).toBe(true);
    expect(isThisMachine('192.0.2.1', here)).toBe(false); // TEST-NET-1: never an interface here
  });
});
