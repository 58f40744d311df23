// Cleanup: after success drop Ferry's state; after an abort also drop everything provisioned.
import type { CleanupOptions } from './adapters/engine';
import type { MigrationContext } from '../workflows/types';
import { engineContext, heartbeating, type ActivityDeps } from './context';

export function cleanupActivities(deps: ActivityDeps) {
  return {
    async cleanup(ctx: MigrationContext, options: CleanupOptions): Promise<void> {
      return heartbeating(deps, async () => {
        const { engine, ectx } = await engineContext(deps, ctx);
        await engine.cleanup(ectx, options);
      });
    },
  };
}
