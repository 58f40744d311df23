// Validation: per-table row counts and checksums computed inside each database. During change
// capture (Update `validateNow`) the workflow also re-checks what differed once the target has
// caught up: recheckValidation compares only those ranges again, awaitAppliedLsn waits for the
// target's applied position while heartbeating.
import { ApplicationFailure } from '@temporalio/common';
import type { AppliedWait, MigrationEngine } from './adapters/engine';
import type { MigrationContext, TableMapping, ValidateOptions, ValidationReport } from '../workflows/types';
import { engineContext, heartbeating, type ActivityDeps } from './context';

type LiveMethod = 'recheckValidation' | 'waitForAppliedLsn';

function need<K extends LiveMethod>(engine: MigrationEngine, name: string, method: K): NonNullable<MigrationEngine[K]> {
  const fn = engine[method];
  if (!fn) throw ApplicationFailure.nonRetryable(`engine ${name} cannot validate during change capture (${method})`, 'LiveValidationUnsupported');
  return fn.bind(engine) as NonNullable<MigrationEngine[K]>;
}

export function validateActivities(deps: ActivityDeps) {
  return {
    async validate(ctx: MigrationContext, tables: TableMapping[], options?: ValidateOptions): Promise<ValidationReport> {
      return heartbeating(deps, async () => {
        const { engine, ectx } = await engineContext(deps, ctx);
        return options ? engine.validate(ectx, tables, options) : engine.validate(ectx, tables);
      });
    },

    /** Compare again only the tables and key ranges `previous` found different; keep what persists. */
    async recheckValidation(ctx: MigrationContext, tables: TableMapping[], previous: ValidationReport, options?: ValidateOptions): Promise<ValidationReport> {
      return heartbeating(deps, async () => {
        const { engine, ectx } = await engineContext(deps, ctx);
        return need(engine, ctx.spec.engine, 'recheckValidation')(ectx, tables, previous, options);
      });
    },

    /** Wait (heartbeating the applied position) until the target has applied the source past `lsn`, at most timeoutSeconds. */
    async awaitAppliedLsn(ctx: MigrationContext, lsn: string, timeoutSeconds: number): Promise<AppliedWait> {
      let applied: string | undefined;
      return heartbeating(
        deps,
        async () => {
          const { engine, ectx } = await engineContext(deps, ctx);
          return need(engine, ctx.spec.engine, 'waitForAppliedLsn')(ectx, lsn, timeoutSeconds * 1000, (a) => {
            applied = a;
          });
        },
        () => ({ waitingFor: lsn, appliedLsn: applied }),
      );
    },
  };
}
