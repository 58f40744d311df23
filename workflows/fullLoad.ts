// Full-load orchestration: chunks become activities on the task queue (so any worker can take
// them), small chunks are batched so 10,000 tiny tables stay a few hundred history events, and
// at most `parallelism` batches run at once. A failing lane stops the others from taking new work;
// the step then fails as a whole and `retry` re-plans (markers make done chunks no-ops).
import type { ChunkResult, FullLoadPlan, LoadChunk, TableMapping, TableRef } from './types';

/** `schema.name`: what a table's progress (TableProgress.source/target) and the copy's heartbeats call it. */
export function tableLabel(t: TableRef): string {
  return `${t.schema}.${t.name}`;
}

/** The key a table mapping is matched by (the same mapping in the input and in a chunk). */
function mappingKey(t: TableMapping): string {
  return JSON.stringify([t.source, t.target, t.columns, t.estimatedBytes, t.estimatedRows]);
}

/** Chunks (the engine's plan) as a FullLoadPlan against the planner's input `tables`; the activity's side. */
export function compactPlan(tables: TableMapping[], chunks: LoadChunk[]): FullLoadPlan {
  const index = new Map<string, number>();
  tables.forEach((t, i) => {
    const key = mappingKey(t);
    if (!index.has(key)) index.set(key, i);
  });
  const extraTables: TableMapping[] = [];
  const plan: FullLoadPlan = { extraTables, chunks: [] };
  for (const chunk of chunks) {
    const key = mappingKey(chunk.table);
    let at = index.get(key);
    if (at === undefined) {
      at = tables.length + extraTables.length;
      extraTables.push(chunk.table);
      index.set(key, at);
    }
    plan.chunks.push(chunk.range ? { id: chunk.id, table: at, range: chunk.range } : { id: chunk.id, table: at });
  }
  return plan;
}

/**
 * The chunks of a plan, with their mappings, in plan order; the workflow's side. An array is the
 * answer of a worker from before FullLoadPlan (histories recorded then replay unchanged).
 */
export function expandPlan(tables: TableMapping[], plan: FullLoadPlan | LoadChunk[]): LoadChunk[] {
  if (Array.isArray(plan)) return plan;
  return plan.chunks.map((c) => {
    const table = c.table < tables.length ? tables[c.table] : plan.extraTables[c.table - tables.length];
    if (!table) throw new Error(`full-load plan: chunk ${c.id} names table #${c.table}, which is not in the plan`);
    return c.range ? { id: c.id, table, range: c.range } : { id: c.id, table };
  });
}

export interface BatchLimits {
  /** A batch holds chunks up to this many estimated bytes (a bigger chunk is a batch of its own). */
  maxBytes: number;
  maxChunks: number;
}

export const DEFAULT_BATCH_LIMITS: BatchLimits = { maxBytes: 64 * 1024 * 1024, maxChunks: 100 };

/** Group chunks (already ordered largest first) into batches, keeping that order. */
export function batchChunks(chunks: LoadChunk[], limits: BatchLimits = DEFAULT_BATCH_LIMITS): LoadChunk[][] {
  const batches: LoadChunk[][] = [];
  let current: LoadChunk[] = [];
  let bytes = 0;
  for (const chunk of chunks) {
    const size = chunk.table.estimatedBytes;
    if (current.length > 0 && (bytes + size > limits.maxBytes || current.length >= limits.maxChunks)) {
      batches.push(current);
      current = [];
      bytes = 0;
    }
    current.push(chunk);
    bytes += size;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}

/** Run batches through `copy` with at most `parallelism` in flight; throws the first failure after all lanes stop. */
export async function runBatches(
  batches: LoadChunk[][],
  parallelism: number,
  copy: (batch: LoadChunk[]) => Promise<ChunkResult[]>,
  onDone: (batch: LoadChunk[], results: ChunkResult[]) => void,
): Promise<void> {
  const queue = [...batches];
  let failure: Error | undefined;
  const lane = async (): Promise<void> => {
    while (failure === undefined) {
      const batch = queue.shift();
      if (!batch) return;
      try {
        onDone(batch, await copy(batch));
      } catch (err) {
        failure ??= err instanceof Error ? err : new Error(String(err));
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(parallelism, queue.length)) }, lane));
  if (failure !== undefined) throw failure;
}
