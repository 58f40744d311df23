// Cutover: fence the source (read-only), and open the target under its final names.
import type { FenceState, MigrationContext, TableMapping } from '../workflows/types';
import { engineContext, heartbeating, type ActivityDeps } from './context';

export function cutoverActivities(deps: ActivityDeps) {
  return {
    async fenceSource(ctx: MigrationContext): Promise<FenceState> {
      return heartbeating(deps, async () => {
        const { engine, ectx } = await engineContext(deps, ctx);
        return engine.fenceSource(ectx);
      });
    },

    async unfenceSource(ctx: MigrationContext, state: FenceState): Promise<void> {
      return heartbeating(deps, async () => {
        const { engine, ectx } = await engineContext(deps, ctx);
        await engine.unfenceSource(ectx, state);
      });
    },

    async applyRenames(ctx: MigrationContext, tables: TableMapping[]): Promise<void> {
      return heartbeating(deps, async () => {
        const { engine, ectx } = await engineContext(deps, ctx);
        await engine.applyRenames(ectx, tables);
      });
    },
  };
}
