// Resumable after any crash: one real worker process, kill -9'd at random points of the full
// load five times and restarted each time. The migration completes, the target equals the
// source, and no chunk committed before a kill was copied again (its marker is unchanged).
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { progressQuery } from '../../workflows/messages';
import type { MigrationProgress, MigrationResult } from '../../workflows/types';
import { tableChecksums } from '../support/checksums';
import { waitFor } from '../support/temporal';
import { fullLoadFixture, indexesAndConstraints, markers, startMigration, startWorkerProcess, type Marker } from './fullload-support';

const KILLS = 5;

describe('full load: kill -9 the worker at random points', () => {
  const f = fullLoadFixture('flc', 200, 12);

  it('completes after five kills; the target is identical and committed chunks are never copied again', async () => {
    const before = await tableChecksums('source', f.db.name);
    const taskQueue = `ferry-crash-${randomBytes(4).toString('hex')}`;
    const start = (n: number) => {
      const w = startWorkerProcess({ taskQueue, workerId: `crash-w${n}`, bundle: f.bundle.path });
      f.workers.push(w);
      return w;
    };
    let worker = start(0);
    await worker.ready;
    const handle = await startMigration(f.temporal.client, taskQueue, f.db.name, { fullLoad: { chunkTargetMB: 2, wholeTableMaxMB: 0 } }, {});
    const migrationId = handle.workflowId;
    const progress = () => handle.query(progressQuery);

    // Every marker seen before a kill, as it was then.
    const seen = new Map<string, Marker>();
    const kills: { afterMs: number; markers: number; phase: string; resumedAfterS: number; readyAfterS: number }[] = [];
    let restartedAt = Date.now();
    let readyAfterS = 0;
    for (let k = 0; k < KILLS; k++) {
      const startedWith = (await markers(f.db.name, migrationId)).length;
      if (k === 0) {
        // Anywhere from planning and the snapshot holder's start to the first copies.
        await waitFor(progress, (p: MigrationProgress) => p.phase === 'full_load', 90_000, 'phase full_load');
      } else {
        // This incarnation has committed something: the load is moving again.
        await waitFor(() => markers(f.db.name, migrationId), (m) => m.length > startedWith, 90_000, `a chunk committed by ${worker.workerId}`);
      }
      const resumedAfterS = (Date.now() - restartedAt) / 1000;
      const afterMs = Math.floor(Math.random() * 600);
      await new Promise((r) => setTimeout(r, afterMs));
      const phase = (await progress()).phase;
      await worker.kill9();
      // What a supervisor restarting a crashed worker may do: tell Temporal the dead worker's
      // cached copy of the workflow is gone, so its next task goes to the new worker now rather
      // than after the sticky queue's 10 s timeout (only the test's duration depends on it).
      await f.temporal.client.workflowService.resetStickyTaskQueue({ namespace: 'default', execution: { workflowId: migrationId } });
      const now = await markers(f.db.name, migrationId);
      for (const m of now) if (!seen.has(m.chunk_id)) seen.set(m.chunk_id, m);
      kills.push({ afterMs, markers: now.length, phase, resumedAfterS, readyAfterS });
      expect(phase, `kill ${k + 1} should land in the full load (${JSON.stringify(kills)})`).toBe('full_load');
      restartedAt = Date.now();
      worker = start(k + 1);
      await worker.ready;
      readyAfterS = (Date.now() - restartedAt) / 1000;
    }

    const result = (await handle.result()) as MigrationResult;
    expect(result.outcome).toBe('completed');

    // The target is the source: rows and order-independent checksums per table.
    expect(await tableChecksums('target', f.db.name)).toEqual(before);
    expect(await indexesAndConstraints('target', f.db.name)).toEqual(await indexesAndConstraints('source', f.db.name));

    // One marker per chunk, and every chunk committed before a kill kept its marker: same commit time, same worker.
    const final = await markers(f.db.name, migrationId);
    expect(final.length).toBeGreaterThanOrEqual(20);
    expect(final.length).toBe(result.progress.totals.chunksTotal);
    expect(new Set(final.map((m) => m.chunk_id)).size).toBe(final.length);
    const byId = new Map(final.map((m) => [m.chunk_id, m]));
    expect(seen.size).toBeGreaterThan(0);
    for (const [id, m] of seen) expect(byId.get(id), id).toEqual(m);
    // Chunks were committed by several incarnations of the worker.
    expect(new Set(final.map((m) => m.worker)).size).toBeGreaterThanOrEqual(3);
    console.log(`kills: ${JSON.stringify(kills)}; chunks ${final.length}; by worker ${JSON.stringify(countBy(final.map((m) => m.worker)))}`);
  }, 240_000);
});

function countBy(xs: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const x of xs) out[x] = (out[x] ?? 0) + 1;
  return out;
}
