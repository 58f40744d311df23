// Two worker processes on one task queue share one migration's full load: both commit chunks
// (the markers name both), every chunk is committed once, and the target equals the source.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MigrationResult } from '../../workflows/types';
import { tableChecksums } from '../support/checksums';
import { createDatabasePair } from '../support/env';
import { bundleFile, indexesAndConstraints, loadSplitDataset, markers, startMigration, startWorkerProcess, temporalClient, type WorkerProcess } from './fullload-support';

describe('full load on two workers', () => {
  let db: { name: string; drop: () => Promise<void> };
  let bundle: { path: string; remove: () => void };
  let temporal: Awaited<ReturnType<typeof temporalClient>>;
  const workers: WorkerProcess[] = [];

  beforeAll(async () => {
    db = await createDatabasePair('fl2');
    await loadSplitDataset(db.name, 40, 8);
    bundle = await bundleFile();
    temporal = await temporalClient();
  }, 120_000);
  afterAll(async () => {
    for (const w of workers) await w.stop();
    await temporal?.close();
    bundle?.remove();
    await db?.drop();
  });

  it('both workers commit chunks of one migration; each chunk once; the target is identical', async () => {
    const before = await tableChecksums('source', db.name);
    const taskQueue = `ferry-two-${randomBytes(4).toString('hex')}`;
    for (const id of ['alpha', 'beta']) {
      // Two activity slots each: whoever holds the snapshot still copies, and neither can take every copy.
      workers.push(startWorkerProcess({ taskQueue, workerId: `worker-${id}`, bundle: bundle.path, maxConcurrentActivities: 2 }));
    }
    await Promise.all(workers.map((w) => w.ready));
    // One chunk per copy activity, so the two workers' pollers share out many small tasks.
    const handle = await startMigration(temporal.client, taskQueue, db.name, { fullLoad: { chunkTargetMB: 1 } }, { batchMaxChunks: 1 });
    const result = (await handle.result()) as MigrationResult;
    expect(result.outcome).toBe('completed');

    expect(await tableChecksums('target', db.name)).toEqual(before);
    expect(await indexesAndConstraints('target', db.name)).toEqual(await indexesAndConstraints('source', db.name));
    const final = await markers(db.name, handle.workflowId);
    expect(final.length).toBe(result.progress.totals.chunksTotal);
    expect(final.length).toBeGreaterThanOrEqual(20);
    expect(new Set(final.map((m) => m.chunk_id)).size).toBe(final.length);
    expect(new Set(final.map((m) => m.worker))).toEqual(new Set(['worker-alpha', 'worker-beta']));
  }, 180_000);
});
