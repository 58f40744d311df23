// Full load: plan chunks, hold the source snapshot every chunk reads under, copy batches of
// chunks, then post-data (indexes, constraints, sequences). Each chunk commits with its marker on
// the target, so a retried batch skips what is done; the heartbeat carries the chunks finished so
// far and the rows/bytes of the one in flight.
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { ChunkResult, CopyHeartbeat, FullLoadPlan, LoadChunk, MigrationContext, TableMapping } from '../workflows/types';
import { compactPlan, tableLabel } from '../workflows/fullLoad';
import { engineContext, heartbeating, type ActivityDeps } from './context';

/** How often waitForSnapshot looks for the holder's snapshot: often at first (the holder starts alongside), then calmly. */
const SNAPSHOT_POLL_MS = [10, 10, 10, 10, 10, 20, 50, 100, 250];

/** Full-load activities heartbeat at least this often: a cancellation reaches an activity only with a heartbeat's answer. */
const FULL_LOAD_HEARTBEAT_MS = 1_000;

/**
 * Heartbeat every second, and at least three times per heartbeat timeout: the snapshot holder
 * learns promptly that the load is over (it is cancelled then), an abort stops copies promptly,
 * and a workflow that shortens the timeout (so a dead worker's activities are retried quickly)
 * does not see a live activity time out.
 */
function beatOften(deps: ActivityDeps): ActivityDeps {
  const interval = Math.min(deps.heartbeatIntervalMs ?? FULL_LOAD_HEARTBEAT_MS, FULL_LOAD_HEARTBEAT_MS);
  let timeout: number | undefined;
  try {
    timeout = Context.current().info.heartbeatTimeoutMs;
  } catch {
    timeout = undefined; // outside an activity
  }
  return timeout ? { ...deps, heartbeatIntervalMs: Math.max(100, Math.min(interval, Math.floor(timeout / 3))) } : deps;
}

export function fullLoadActivities(deps: ActivityDeps) {
  return {
    /** The engine's chunks, naming tables by their index in `tables` (the workflow has the list already). */
    async planFullLoad(ctx: MigrationContext, tables: TableMapping[]): Promise<FullLoadPlan> {
      return heartbeating(beatOften(deps), async () => {
        const { engine, ectx } = await engineContext(deps, ctx);
        return compactPlan(tables, await engine.planFullLoad(ectx, tables));
      });
    },

    /**
     * Export a snapshot of the source and hold it open until this activity is cancelled (the
     * workflow cancels it once every chunk is copied); then release it and end as cancelled.
     * Fails with SnapshotLost when the holding session dies. An engine without snapshots holds nothing.
     */
    async holdSnapshot(ctx: MigrationContext): Promise<void> {
      return heartbeating(beatOften(deps), async () => {
        const { engine, ectx } = await engineContext(deps, ctx);
        const signal = ectx.signal;
        if (engine.holdSnapshot) await engine.holdSnapshot(ectx);
        else if (signal) await new Promise<void>((resolve) => (signal.aborted ? resolve() : signal.addEventListener('abort', () => resolve(), { once: true })));
        // Released because the activity was cancelled: report it as cancelled, not completed.
        signal?.throwIfAborted();
      });
    },

    /** The snapshot the holder recorded, once it can be imported (polls until then); undefined for an engine without snapshots. */
    async waitForSnapshot(ctx: MigrationContext): Promise<string | undefined> {
      return heartbeating(beatOften(deps), async () => {
        const { engine, ectx } = await engineContext(deps, ctx);
        if (!engine.holdSnapshot || !engine.currentSnapshot) return undefined;
        for (let attempt = 0; ; attempt++) {
          ectx.signal?.throwIfAborted();
          const id = await engine.currentSnapshot(ectx);
          if (id !== undefined) return id;
          await new Promise((r) => setTimeout(r, SNAPSHOT_POLL_MS[Math.min(attempt, SNAPSHOT_POLL_MS.length - 1)]));
        }
      });
    },

    /** Copy chunks in order, each under `snapshotId` when given (SnapshotLost when it is gone). */
    async copyChunks(ctx: MigrationContext, chunks: LoadChunk[], snapshotId?: string): Promise<ChunkResult[]> {
      const beat: CopyHeartbeat = { done: [] };
      return heartbeating(
        beatOften(deps),
        async () => {
          const { engine, ectx } = await engineContext(deps, ctx);
          const results: ChunkResult[] = [];
          for (const chunk of chunks) {
            ectx.signal?.throwIfAborted();
            const table = tableLabel(chunk.table.source);
            beat.current = { chunkId: chunk.id, table, rows: 0, bytes: 0 };
            const result = await engine.copyChunk(
              ectx,
              chunk,
              (p) => {
                beat.current = { chunkId: chunk.id, table, ...p };
              },
              snapshotId,
            );
            results.push(result);
            beat.done.push(chunk.id);
            beat.current = undefined;
          }
          return results;
        },
        () => beat,
      );
    },

    /** Online mode, after SnapshotLost: the load starts again from scratch under a new snapshot (engine.restartLoad). */
    async restartLoad(ctx: MigrationContext, tables: TableMapping[]): Promise<void> {
      return heartbeating(beatOften(deps), async () => {
        const { engine, ectx } = await engineContext(deps, ctx);
        if (!engine.restartLoad) throw ApplicationFailure.nonRetryable(`engine ${ctx.spec.engine} cannot restart a full load`, 'Unsupported');
        await engine.restartLoad(ectx, tables);
      });
    },

    async finishLoad(ctx: MigrationContext, tables: TableMapping[]): Promise<void> {
      return heartbeating(beatOften(deps), async () => {
        const { engine, ectx } = await engineContext(deps, ctx);
        await engine.finishLoad(ectx, tables);
      });
    },
  };
}
