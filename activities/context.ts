// Plumbing every activity shares: turn the workflow's MigrationContext (secret references only)
// into an EngineContext (secrets resolved), heartbeat while work runs, and map Ferry's errors to
// Temporal failures that say whether a retry can help.
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { MigrationEngine, EngineContext, ResolvedEndpoint } from './adapters/engine';
import { FerryError } from './adapters/errors';
import type { SecretResolver } from './adapters/secrets';
import type { DmsActivityDeps } from './dms';
import type { Endpoint } from '../workflows/spec';
import type { MigrationContext } from '../workflows/types';

export interface ActivityDeps {
  engines: Partial<Record<MigrationContext['spec']['engine'], MigrationEngine>>;
  secrets: SecretResolver;
  /** Recorded in chunk markers: which worker committed a chunk. */
  workerId: string;
  /** AWS DMS clients' configuration (default: from the environment). */
  dms?: DmsActivityDeps;
  /** How often long activities heartbeat while they run. */
  heartbeatIntervalMs?: number;
}

async function resolveEndpoint(deps: ActivityDeps, endpoint: Endpoint, field: string): Promise<ResolvedEndpoint> {
  const { password, ...rest } = endpoint;
  return { ...rest, password: password === undefined ? undefined : await deps.secrets(password, `${field}.password`) };
}

export async function engineContext(deps: ActivityDeps, ctx: MigrationContext): Promise<{ engine: MigrationEngine; ectx: EngineContext }> {
  const engine = deps.engines[ctx.spec.engine];
  if (!engine) throw ApplicationFailure.nonRetryable(`engine ${ctx.spec.engine} is not available on this worker`, 'EngineUnavailable');
  const ectx: EngineContext = {
    migrationId: ctx.migrationId,
    spec: ctx.spec,
    source: await resolveEndpoint(deps, ctx.spec.source, 'source'),
    target: await resolveEndpoint(deps, ctx.spec.target, 'target'),
    workerId: deps.workerId,
    signal: activitySignal(),
  };
  return { engine, ectx };
}

function activitySignal(): AbortSignal | undefined {
  try {
    return Context.current().cancellationSignal;
  } catch {
    return undefined; // called outside an activity (unit use)
  }
}

/** Ferry errors keep their type name and message; non-retryable ones stop Temporal's retries at once. */
export function toFailure(err: unknown): unknown {
  if (err instanceof FerryError) {
    return ApplicationFailure.create({ message: err.message, type: err.name, nonRetryable: !err.retryable, cause: err });
  }
  return err;
}

/**
 * Run `work`, heartbeating every interval (with `details()` as resumable details) so Temporal
 * notices a dead worker and delivers cancellation, which aborts `work` through the context's signal.
 */
export async function heartbeating<T>(deps: ActivityDeps, work: () => Promise<T>, details?: () => unknown): Promise<T> {
  const ctx = Context.current();
  const beat = () => ctx.heartbeat(details?.());
  beat();
  const timer = setInterval(beat, deps.heartbeatIntervalMs ?? 5_000);
  try {
    return await work();
  } catch (err) {
    throw toFailure(err);
  } finally {
    clearInterval(timer);
  }
}
