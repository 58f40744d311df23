// The aws-dms engine's activities: thin. Each builds the AWS clients (endpoint from deps, region
// from the spec or the worker), calls the adapter, and heartbeats so an abort reaches it. No
// secret value passes here: the spec names Secrets Manager secrets that only DMS reads.
import { Context } from '@temporalio/activity';
import { DmsAdapter, type DmsInput } from './adapters/dms/adapter';
import { createDmsClients, dmsClientConfigFromEnv, type DmsClientConfig, type DmsClients } from './adapters/dms/client';
import type { DmsLagReader } from './adapters/dms/lag';
import { toFailure } from './context';
import type {
  DmsCleanupReport,
  DmsContext,
  DmsResources,
  DmsStartResult,
  DmsTaskSnapshot,
} from '../workflows/dmsTypes';
import type { PrecheckItem, ValidationReport } from '../workflows/types';

export interface DmsActivityDeps {
  /** Endpoints, region and credentials of the AWS clients (default: dmsClientConfigFromEnv()). */
  client?: DmsClientConfig;
  /** Build the clients yourself (tests); `region` is the spec's dms.region when it has one. */
  clients?: (region: string | undefined) => DmsClients;
  /** Reads CDC latency (CloudWatch CDCLatencySource/Target); none: lag is unknown. */
  lagReader?: DmsLagReader;
  /** Between polls of changing DMS state inside an activity (default 15 s). */
  pollIntervalMs?: number;
  heartbeatIntervalMs?: number;
}

function currentContext(): Context | undefined {
  try {
    return Context.current();
  } catch {
    return undefined; // outside an activity (direct use)
  }
}

export function createDmsActivities(deps: DmsActivityDeps = {}) {
  const config = deps.client ?? dmsClientConfigFromEnv();
  const cache = new Map<string, DmsClients>();
  const clientsFor = (region: string | undefined): DmsClients => {
    if (deps.clients) return deps.clients(region);
    const key = region ?? '';
    let c = cache.get(key);
    if (!c) {
      c = createDmsClients({ ...config, region: region ?? config.region });
      cache.set(key, c);
    }
    return c;
  };

  /** Run `work` with an adapter bound to this activity's cancellation, heartbeating meanwhile. */
  async function run<T>(ctx: DmsContext, work: (adapter: DmsAdapter, input: DmsInput) => Promise<T>): Promise<T> {
    const actx = currentContext();
    const adapter = new DmsAdapter(clientsFor(ctx.spec.dms.region), {
      pollMs: deps.pollIntervalMs,
      signal: actx?.cancellationSignal,
      lagReader: deps.lagReader,
    });
    const beat = () => actx?.heartbeat();
    beat();
    const timer = actx ? setInterval(beat, deps.heartbeatIntervalMs ?? 5_000) : undefined;
    try {
      return await work(adapter, { migrationId: ctx.migrationId, spec: ctx.spec });
    } catch (err) {
      throw toFailure(err);
    } finally {
      if (timer) clearInterval(timer);
    }
  }

  return {
    /** Read-only checks before anything is created. */
    async dmsPrecheck(ctx: DmsContext): Promise<PrecheckItem[]> {
      return run(ctx, (a, input) => a.precheck(input, Boolean(deps.lagReader)));
    },
    /** Subnet group (unless the spec names one) and replication instance, waiting until available. */
    async dmsEnsureNetwork(ctx: DmsContext): Promise<{ subnetGroupId?: string; instanceArn: string }> {
      return run(ctx, (a, input) => a.ensureNetwork(input));
    },
    /** Source and target endpoints with Secrets Manager references. */
    async dmsEnsureEndpoints(ctx: DmsContext): Promise<{ sourceEndpointArn: string; targetEndpointArn: string }> {
      return run(ctx, (a, input) => a.ensureEndpoints(input));
    },
    async dmsEnsureTask(ctx: DmsContext, res: Omit<DmsResources, 'taskArn' | 'taskId'>): Promise<{ taskArn: string; taskId: string }> {
      return run(ctx, (a, input) => a.ensureTask(input, res));
    },
    /** Connection tests and the premigration assessment, as precheck items. */
    async dmsReadiness(ctx: DmsContext, res: DmsResources): Promise<PrecheckItem[]> {
      return run(ctx, async (a, input) => [...(await a.testConnections(res)), ...(await a.assess(input, res))]);
    },
    async dmsStartTask(ctx: DmsContext, res: DmsResources, phase: 'full_load' | 'cdc'): Promise<DmsStartResult> {
      return run(ctx, (a) => a.startTask(res, phase));
    },
    /** One look at the task; pass the last snapshot's tablesHash to leave out an unchanged table list. */
    async dmsTaskStatus(ctx: DmsContext, res: DmsResources, knownTablesHash?: string): Promise<DmsTaskSnapshot> {
      return run(ctx, (a, input) => a.snapshot(input, res, knownTablesHash));
    },
    async dmsStopTask(ctx: DmsContext, res: DmsResources): Promise<DmsTaskSnapshot> {
      return run(ctx, (a, input) => a.stopTask(input, res));
    },
    async dmsValidate(ctx: DmsContext, res: DmsResources): Promise<ValidationReport> {
      return run(ctx, (a, input) => a.validate(input, res));
    },
    /** Delete everything the migration created (found by identifier and tag). Idempotent. */
    async dmsCleanup(ctx: DmsContext): Promise<DmsCleanupReport> {
      return run(ctx, (a, input) => a.cleanup(input));
    },
  };
}

export type DmsActivities = ReturnType<typeof createDmsActivities>;
