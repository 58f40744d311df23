// Catch-up and cutover for engines whose copy follows the source physically (Oracle RMAN
// roll-forward, Data Guard standby): MigrationEngine's optional catchUp/cutover. Offline, the
// workflow needs neither (the flow engines cut over inside applyRenames); an online loop calls
// them (docs/oracle.md, "Workflow wiring"). Thin: resolve the engine, heartbeat, map errors.
import { ApplicationFailure } from '@temporalio/common';
import type { CatchUpResult } from './adapters/engine';
import type { MigrationContext } from '../workflows/types';
import { engineContext, heartbeating, type ActivityDeps } from './context';

export function createOracleActivities(deps: ActivityDeps) {
  return {
    /** One catch-up round (RMAN: archived-redo backup, transfer, RECOVER; Data Guard: apply-lag check). */
    async catchUp(ctx: MigrationContext): Promise<CatchUpResult> {
      return heartbeating(deps, async () => {
        const { engine, ectx } = await engineContext(deps, ctx);
        if (!engine.catchUp) throw ApplicationFailure.nonRetryable(`engine ${ctx.spec.engine} has no catch-up rounds`, 'CatchUpUnsupported');
        return engine.catchUp(ectx);
      });
    },

    /** After the fence: the final round and the switch (RMAN: OPEN RESETLOGS; Data Guard: SWITCHOVER). Once per migration. */
    async engineCutover(ctx: MigrationContext): Promise<void> {
      return heartbeating(deps, async () => {
        const { engine, ectx } = await engineContext(deps, ctx);
        if (!engine.cutover) throw ApplicationFailure.nonRetryable(`engine ${ctx.spec.engine} has no cutover step of its own`, 'CutoverUnsupported');
        await engine.cutover(ectx);
      });
    },
  };
}
