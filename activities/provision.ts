// Provision: Ferry's state schema and the pre-data schema of the selected tables on the target.
import type { MigrationContext, ProvisionResult } from '../workflows/types';
import { engineContext, heartbeating, type ActivityDeps } from './context';

export function provisionActivities(deps: ActivityDeps) {
  return {
    async provision(ctx: MigrationContext): Promise<ProvisionResult> {
      return heartbeating(deps, async () => {
        const { engine, ectx } = await engineContext(deps, ctx);
        return engine.provision(ectx);
      });
    },
  };
}
