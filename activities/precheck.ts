// Precheck: read-only checks of both sides, folded into one report.
import type { PrecheckReport, MigrationContext, CheckStatus } from '../workflows/types';
import { engineContext, heartbeating, type ActivityDeps } from './context';

export function summarize(items: PrecheckReport['items']): CheckStatus {
  if (items.some((i) => i.status === 'fail')) return 'fail';
  if (items.some((i) => i.status === 'warning')) return 'warning';
  return 'pass';
}

export function precheckActivities(deps: ActivityDeps) {
  return {
    async precheck(ctx: MigrationContext): Promise<PrecheckReport> {
      return heartbeating(deps, async () => {
        const { engine, ectx } = await engineContext(deps, ctx);
        const items = await engine.precheck(ectx);
        return { items, status: summarize(items) };
      });
    },
  };
}
