// Change data capture (online mode): prepare the publication and heartbeat table, stream and
// apply changes in slices, read the source position, sync sequences, and stop capturing.
import { ApplicationFailure } from '@temporalio/common';
import type { CaptureProgress, MigrationEngine, StreamOptions } from './adapters/engine';
import type { MigrationContext, TableMapping } from '../workflows/types';
import { engineContext, heartbeating, type ActivityDeps } from './context';

type CaptureMethod = 'prepareCapture' | 'streamChanges' | 'currentLsn' | 'syncSequences' | 'stopCapture';

function need<K extends CaptureMethod>(engine: MigrationEngine, name: string, method: K): NonNullable<MigrationEngine[K]> {
  const fn = engine[method];
  if (!fn) throw ApplicationFailure.nonRetryable(`engine ${name} has no change data capture (${method}); use mode offline`, 'CaptureUnsupported');
  return fn.bind(engine) as NonNullable<MigrationEngine[K]>;
}

export function cdcActivities(deps: ActivityDeps) {
  return {
    async prepareCapture(ctx: MigrationContext): Promise<void> {
      return heartbeating(deps, async () => {
        const { engine, ectx } = await engineContext(deps, ctx);
        await need(engine, ctx.spec.engine, 'prepareCapture')(ectx);
      });
    },

    /** One slice of streaming; the heartbeat carries the applied LSN and the lag. */
    async streamChanges(ctx: MigrationContext, options: StreamOptions): Promise<CaptureProgress> {
      let last: CaptureProgress | undefined;
      return heartbeating(
        deps,
        async () => {
          const { engine, ectx } = await engineContext(deps, ctx);
          return need(engine, ctx.spec.engine, 'streamChanges')(ectx, options, (p) => {
            last = p;
          });
        },
        () => last,
      );
    },

    async currentLsn(ctx: MigrationContext): Promise<string> {
      return heartbeating(deps, async () => {
        const { engine, ectx } = await engineContext(deps, ctx);
        return need(engine, ctx.spec.engine, 'currentLsn')(ectx);
      });
    },

    async syncSequences(ctx: MigrationContext, tables: TableMapping[]): Promise<void> {
      return heartbeating(deps, async () => {
        const { engine, ectx } = await engineContext(deps, ctx);
        await need(engine, ctx.spec.engine, 'syncSequences')(ectx, tables);
      });
    },

    async stopCapture(ctx: MigrationContext): Promise<void> {
      return heartbeating(deps, async () => {
        const { engine, ectx } = await engineContext(deps, ctx);
        if (engine.stopCapture) await engine.stopCapture(ectx);
      });
    },
  };
}
