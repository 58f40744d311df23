// The El Carro Oracle -> Oracle variants (oracle-datapump, oracle-rman, oracle-dataguard) behind
// MigrationEngine. The interface is shaped for row copies; a flow maps onto it as: precheck,
// provision, one "chunk" = the flow's fullLoad phase, fence/unfence, cleanup (abort phase when
// aborted). cutover() (RMAN: last round + OPEN RESETLOGS; Data Guard: SWITCHOVER) runs once in
// applyRenames, the workflow's cutover step, so the offline workflow needs nothing more.
// catchUp() is MigrationEngine's optional catch-up round, for an online loop the workflow does
// not call yet (docs/oracle.md, "Workflow wiring").
import type { ChunkResult, FenceState, LoadChunk, PrecheckItem, ProvisionResult, TableMapping, ValidationReport } from '../../../workflows/types';
import type { CatchUpResult, CleanupOptions, CopyProgress, EngineContext, MigrationEngine } from '../engine';
import { FencingFailed, PrecheckFailed } from '../errors';
import { runPhase, type FlowPhase, type FlowRunners, type FlowVars, type OracleFlow } from './flow';
import { OracleStepFailed } from './runner';

/** Where captured values (SCNs, file names) live between activities; they are not secret. */
export interface FlowVarsStore {
  load(migrationId: string): Promise<FlowVars>;
  save(migrationId: string, vars: FlowVars): Promise<void>;
}

/** Process memory: enough for one worker and for tests; a real deployment needs a durable store. */
export function memoryVarsStore(): FlowVarsStore {
  const m = new Map<string, FlowVars>();
  return {
    load: (id) => Promise.resolve(m.get(id) ?? {}),
    save: (id, v) => {
      m.set(id, v);
      return Promise.resolve();
    },
  };
}

export interface FlowEngineDeps {
  /** Build the flow for a migration (from the spec's `oracle` block; may resolve secrets). */
  flowFor(ctx: EngineContext): OracleFlow | Promise<OracleFlow>;
  /** Open the runners for both sides (SQL sessions, host or kubectl exec); close releases them. */
  openRunners(ctx: EngineContext): Promise<{ runners: FlowRunners; close(): Promise<void> }>;
  vars: FlowVarsStore;
  onStep?: Parameters<typeof runPhase>[4];
}

export class OracleFlowEngine implements MigrationEngine {
  constructor(private readonly deps: FlowEngineDeps) {}

  private async phase(ctx: EngineContext, phase: FlowPhase): Promise<FlowVars> {
    const flow = await this.deps.flowFor(ctx);
    const opened = await this.deps.openRunners(ctx);
    try {
      // A cancelled activity (abort) stops before the next step; a step already running ends first.
      const onStep: Parameters<typeof runPhase>[4] = (e) => {
        if (e.state === 'started') ctx.signal?.throwIfAborted();
        this.deps.onStep?.(e);
      };
      const vars = await runPhase(flow, phase, opened.runners, await this.deps.vars.load(ctx.migrationId), onStep);
      await this.deps.vars.save(ctx.migrationId, vars);
      return vars;
    } finally {
      await opened.close();
    }
  }

  async precheck(ctx: EngineContext): Promise<PrecheckItem[]> {
    const flow = await this.deps.flowFor(ctx);
    const items: PrecheckItem[] = [];
    const renames = ctx.spec.rename;
    const renamesGiven = Object.keys(renames.tables).length + Object.keys(renames.columns).length + Object.keys(renames.schemas).length > 0;
    if (renamesGiven && flow.variant !== 'oracle-datapump') {
      items.push({ id: 'rename:physical', status: 'fail', message: `${flow.variant} copies the database physically: renames are not possible`, remedy: 'use the Data Pump variant, or remove the rename mapping' });
    }
    const opened = await this.deps.openRunners(ctx);
    try {
      await runPhase(flow, 'precheck', opened.runners, {}, (e) => {
        if (e.state === 'done') items.push({ id: `${flow.variant}:${e.step.name}`, status: 'pass', message: e.step.name });
      });
    } catch (err) {
      if (!(err instanceof OracleStepFailed)) throw err;
      items.push({ id: `${flow.variant}:precheck`, status: 'fail', message: err.message });
    } finally {
      await opened.close();
    }
    return items;
  }

  async provision(ctx: EngineContext): Promise<ProvisionResult> {
    await this.phase(ctx, 'provision');
    return { tables: [], createdSchemas: [] };
  }

  /** The whole database is one unit of work. */
  async planFullLoad(ctx: EngineContext, tables: TableMapping[]): Promise<LoadChunk[]> {
    const flow = await this.deps.flowFor(ctx);
    const whole: TableMapping = tables[0] ?? { source: { schema: '*', name: '*' }, target: { schema: '*', name: '*' }, columns: [], estimatedBytes: 0, estimatedRows: 0 };
    return [{ id: `${flow.variant}:fullLoad`, table: whole }];
  }

  async copyChunk(ctx: EngineContext, chunk: LoadChunk, onProgress: (p: CopyProgress) => void): Promise<ChunkResult> {
    const before = await this.deps.vars.load(ctx.migrationId);
    if (before.fullLoadDone === 'yes') return { chunkId: chunk.id, rows: 0, bytes: 0, skipped: true };
    const vars = await this.phase(ctx, 'fullLoad');
    await this.deps.vars.save(ctx.migrationId, { ...vars, fullLoadDone: 'yes' });
    onProgress({ rows: 0, bytes: 0 });
    return { chunkId: chunk.id, rows: 0, bytes: 0, skipped: false };
  }

  finishLoad(): Promise<void> {
    return Promise.resolve();
  }

  async fenceSource(ctx: EngineContext): Promise<FenceState> {
    try {
      await this.phase(ctx, 'fence');
    } catch (err) {
      throw new FencingFailed(`cannot fence the Oracle source: ${(err as Error).message}`, { cause: err });
    }
    return { previousReadOnly: null, terminatedSessions: 0 };
  }

  async unfenceSource(ctx: EngineContext): Promise<void> {
    await this.phase(ctx, 'unfence');
  }

  /**
   * The workflow's cutover step: the flow's cutover phase, once (RMAN: last archive round and OPEN
   * RESETLOGS; Data Guard: lag check and SWITCHOVER; Data Pump: nothing). Table and column renames
   * after a Data Pump import are not generated yet and are refused.
   */
  async applyRenames(ctx: EngineContext): Promise<void> {
    const r = ctx.spec.rename;
    if (Object.keys(r.tables).length + Object.keys(r.columns).length > 0) {
      throw new PrecheckFailed('table and column renames are not implemented for Oracle -> Oracle flows (schema remaps are, through Data Pump)');
    }
    await this.cutover(ctx);
  }

  validate(ctx: EngineContext): Promise<ValidationReport> {
    return Promise.resolve({
      level: ctx.spec.validation.level,
      status: 'skipped',
      tables: [{ source: '*', target: '*', status: 'skipped', sourceRows: 0, targetRows: 0, reason: 'row validation is not implemented for Oracle -> Oracle flows' }],
    });
  }

  async cleanup(ctx: EngineContext, options: CleanupOptions): Promise<void> {
    await this.phase(ctx, options.aborted ? 'abort' : 'cleanup');
    // The migration is over: a later one under the same id starts from nothing.
    await this.deps.vars.save(ctx.migrationId, {});
  }

  /** One catch-up round (RMAN roll-forward; Data Guard lag check, which fails over maxLagSeconds). */
  async catchUp(ctx: EngineContext): Promise<CatchUpResult> {
    const vars = await this.phase(ctx, 'catchUp');
    return vars.recoveredScn !== undefined ? { position: vars.recoveredScn } : {};
  }

  /** The final round and the switch (OPEN RESETLOGS; broker SWITCHOVER), once: a repeat after success does nothing. */
  async cutover(ctx: EngineContext): Promise<void> {
    const before = await this.deps.vars.load(ctx.migrationId);
    if (before.cutoverDone === 'yes') return;
    const vars = await this.phase(ctx, 'cutover');
    await this.deps.vars.save(ctx.migrationId, { ...vars, cutoverDone: 'yes' });
  }
}
