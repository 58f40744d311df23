// Two worker processes on one task queue share one migration's full load: both commit chunks
// (the markers name both), every chunk is committed once, and the target equals the source.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { MigrationResult } from '../../workflows/types';
import { tableChecksums } from '../support/checksums';
import { fullLoadFixture, indexesAndConstraints, markers, startMigration, startWorkerProcess } from './fullload-support';

describe('full load on two workers', () => {
  const f = fullLoadFixture('fl2', 40, 8);

  it('both workers commit chunks of one migration; each chunk once; the target is identical', async () => {
    const before = await tableChecksums('source', f.db.name);
    const taskQueue = `ferry-two-${randomBytes(4).toString('hex')}`;
    for (const id of ['alpha', 'beta']) {
      // Two activity slots each: whoever holds the snapshot still copies, and neither can take every copy.
      f.workers.push(startWorkerProcess({ taskQueue, workerId: `worker-${id}`, bundle: f.bundle.path, maxConcurrentActivities: 2 }));
    }
    await Promise.all(f.workers.map((w) => w.ready));
    // One chunk per copy activity, so the two workers' pollers share out many small tasks.
    const handle = await startMigration(f.temporal.client, taskQueue, f.db.name, { fullLoad: { chunkTargetMB: 1, wholeTableMaxMB: 0 } }, { batchMaxChunks: 1 });
    const result = (await handle.result()) as MigrationResult;
    expect(result.outcome).toBe('completed');

    expect(await tableChecksums('target', f.db.name)).toEqual(before);
    expect(await indexesAndConstraints('target', f.db.name)).toEqual(await indexesAndConstraints('source', f.db.name));
    const final = await markers(f.db.name, handle.workflowId);
    expect(final.length).toBe(result.progress.totals.chunksTotal);
    expect(final.length).toBeGreaterThanOrEqual(20);
    expect(new Set(final.map((m) => m.chunk_id)).size).toBe(final.length);
    expect(new Set(final.map((m) => m.worker))).toEqual(new Set(['worker-alpha', 'worker-beta']));
  }, 180_000);
});
