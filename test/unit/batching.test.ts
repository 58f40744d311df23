import { describe, expect, it } from 'vitest';
import { batchChunks, compactPlan, expandPlan, runBatches } from '../../workflows/fullLoad';
import type { FullLoadPlan, LoadChunk } from '../../workflows/types';
import { plannedChunkBytes, wholeTableLimit } from '../../activities/adapters/postgres/copy';

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
});
