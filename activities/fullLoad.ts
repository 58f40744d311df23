// Full load: plan chunks, copy batches of them, then post-data (indexes, constraints, sequences).
// Each chunk commits with its marker on the target, so a retried batch skips what is done; the
// heartbeat carries the chunks finished so far and the rows/bytes of the one in flight.
import type { ChunkResult, LoadChunk, MigrationContext, TableMapping } from '../workflows/types';
import { engineContext, heartbeating, type ActivityDeps } from './context';

export interface CopyHeartbeat {
  done: string[];
  current?: { chunkId: string; rows: number; bytes: number };
}

export function fullLoadActivities(deps: ActivityDeps) {
  return {
    async planFullLoad(ctx: MigrationContext, tables: TableMapping[]): Promise<LoadChunk[]> {
      return heartbeating(deps, async () => {
        const { engine, ectx } = await engineContext(deps, ctx);
        return engine.planFullLoad(ectx, tables);
      });
    },

    async copyChunks(ctx: MigrationContext, chunks: LoadChunk[]): Promise<ChunkResult[]> {
      const beat: CopyHeartbeat = { done: [] };
      return heartbeating(
        deps,
        async () => {
          const { engine, ectx } = await engineContext(deps, ctx);
          const results: ChunkResult[] = [];
          for (const chunk of chunks) {
            ectx.signal?.throwIfAborted();
            beat.current = { chunkId: chunk.id, rows: 0, bytes: 0 };
            const result = await engine.copyChunk(ectx, chunk, (p) => {
              beat.current = { chunkId: chunk.id, ...p };
            });
            results.push(result);
            beat.done.push(chunk.id);
            beat.current = undefined;
          }
          return results;
        },
        () => beat,
      );
    },

    async finishLoad(ctx: MigrationContext, tables: TableMapping[]): Promise<void> {
      return heartbeating(deps, async () => {
        const { engine, ectx } = await engineContext(deps, ctx);
        await engine.finishLoad(ectx, tables);
      });
    },
  };
}
