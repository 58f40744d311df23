// The El Carro Oracle -> Oracle variants (oracle-datapump, oracle-rman, oracle-dataguard) behind
// MigrationEngine. The interface is shaped for row copies; a flow maps onto it as: precheck,
// provision, one "chunk" = the flow's fullLoad phase, fence/unfence, cleanup (abort phase when
// aborted). catchUp() and cutover() are extra methods the workflow must call for the online
// variants (RMAN roll-forward, Data Guard switchover): not in MigrationEngine yet.
import type { ChunkResult, FenceState, LoadChunk, PrecheckItem, ProvisionResult, TableMapping, ValidationReport } from '../../../workflows/types';
import type { CleanupOptions, CopyProgress, EngineContext, MigrationEngine } from '../engine';
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
  /** Build the flow for a migration (from the spec's Oracle settings, once the spec has them). */
  flowFor(ctx: EngineContext): OracleFlow;
  /** Open the runners for both sides (SQL sessions, host or kubectl exec); close releases them. */
  openRunners(ctx: EngineContext): Promise<{ runners: FlowRunners; close(): Promise<void> }>;
  vars: FlowVarsStore;
  onStep?: Parameters<typeof runPhase>[4];
}

export class OracleFlowEngine implements MigrationEngine {
  constructor(private readonly deps: FlowEngineDeps) {}

  private async phase(ctx: EngineContext, phase: FlowPhase): Promise<FlowVars> {
    const flow = this.deps.flowFor(ctx);
    const opened = await this.deps.openRunners(ctx);
    try {
      const vars = await runPhase(flow, phase, opened.runners, await this.deps.vars.load(ctx.migrationId), this.deps.onStep);
      await this.deps.vars.save(ctx.migrationId, vars);
      return vars;
    } finally {
      await opened.close();
    }
  }

  async precheck(ctx: EngineContext): Promise<PrecheckItem[]> {
    const flow = this.deps.flowFor(ctx);
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
  planFullLoad(ctx: EngineContext, tables: TableMapping[]): Promise<LoadChunk[]> {
    const flow = this.deps.flowFor(ctx);
    const whole: TableMapping = tables[0] ?? { source: { schema: '*', name: '*' }, target: { schema: '*', name: '*' }, columns: [], estimatedBytes: 0, estimatedRows: 0 };
    return Promise.resolve([{ id: `${flow.variant}:fullLoad`, table: whole }]);
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

  /** Renames after a Data Pump import are applied with ALTER TABLE by the lead's wiring (datapump renames not generated yet). */
  applyRenames(ctx: EngineContext): Promise<void> {
    const r = ctx.spec.rename;
    if (Object.keys(r.tables).length + Object.keys(r.columns).length > 0) {
      return Promise.reject(new PrecheckFailed('table and column renames are not implemented for Oracle -> Oracle flows (schema remaps are, through Data Pump)'));
    }
    return Promise.resolve();
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
  }

  /** Online variants: one catch-up round (RMAN roll-forward; Data Guard lag check). */
  async catchUp(ctx: EngineContext): Promise<FlowVars> {
    return this.phase(ctx, 'catchUp');
  }

  /** Online variants: the final round and the switch (OPEN RESETLOGS; broker SWITCHOVER). */
  async cutover(ctx: EngineContext): Promise<FlowVars> {
    return this.phase(ctx, 'cutover');
  }
}
