// Validation: per-table row counts and checksums computed inside each database.
import type { MigrationContext, TableMapping, ValidationReport } from '../workflows/types';
import { engineContext, heartbeating, type ActivityDeps } from './context';

export function validateActivities(deps: ActivityDeps) {
  return {
    async validate(ctx: MigrationContext, tables: TableMapping[]): Promise<ValidationReport> {
      return heartbeating(deps, async () => {
        const { engine, ectx } = await engineContext(deps, ctx);
        return engine.validate(ectx, tables);
      });
    },
  };
}
