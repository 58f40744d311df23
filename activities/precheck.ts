// Precheck: read-only checks of both sides, folded into one report. Warnings acknowledged in the
// spec are marked here; the workflow adds those acknowledged while it waits.
import type { PrecheckReport, MigrationContext } from '../workflows/types';
import { acknowledgeWarnings } from '../workflows/precheck';
import { engineContext, heartbeating, type ActivityDeps } from './context';

export function precheckActivities(deps: ActivityDeps) {
  return {
    async precheck(ctx: MigrationContext): Promise<PrecheckReport> {
      return heartbeating(deps, async () => {
        const { engine, ectx } = await engineContext(deps, ctx);
        return acknowledgeWarnings(await engine.precheck(ectx), ctx.spec.precheck.acknowledge);
      });
    },
  };
}
