// dmsMigration: the ScaleArc journey on AWS DMS, with the gates, failure/retry and abort semantics
// of migrationWorkflow (see docs/dms.md for how migrationWorkflow hands an aws-dms spec over).
//
//   precheck -> provision (+ connection tests, premigration assessment) -> full_load
//            -> cdc / awaiting_cutover (approval + window + lag) -> cutover (drain, stop task)
//            -> validate -> cleanup
//
// Offline mode (DMS `full-load`) waits for approval and window before the load, as the native
// offline mode does before its fence. A step that fails waits in `failed` until `retry` re-runs it
// (DMS resumes or reloads as it allows) or `abort` ends it. Abort and cancellation delete every DMS
// resource the migration created, in a non-cancellable scope.
import {
  ActivityCancellationType,
  ApplicationFailure,
  CancellationScope,
  condition,
  isCancellation,
  log,
  proxyActivities,
  setHandler,
  sleep,
  workflowInfo,
} from '@temporalio/workflow';
import type { DmsActivities } from '../activities/dms';
import { validateNowUpdate, type ValidateNowInput } from './messages';
import { setOperatorHandlers } from './operator';
import { acknowledgeWarnings } from './precheck';
import { parseDmsSpec, type DmsMigrationSpec } from './dmsSpec';
import { SpecError } from './spec';
import type {
  DmsContext,
  DmsMigrationInput,
  DmsMigrationResult,
  DmsPhase,
  DmsResources,
  DmsStep,
  DmsTaskSnapshot,
} from './dmsTypes';
import type { PrecheckItem, ValidationReport } from './types';
import { applySnapshot, enterDmsPhase, initialDmsProgress, lagOf, publishDmsDetails } from './dmsProgress';
import { closeTimings } from './progress';
import { msUntilWindowOpens } from './window';

export { progressQuery, approveCutoverUpdate, approveSignal, abortSignal, retryUpdate, acknowledgeWarningsUpdate } from './messages';

function validDmsSpec(input: unknown): DmsMigrationSpec {
  try {
    return parseDmsSpec(input);
  } catch (err) {
    if (err instanceof SpecError) throw ApplicationFailure.nonRetryable(err.message, 'InvalidSpec', err.issues);
    throw err;
  }
}

function errorMessage(err: unknown): { message: string; type?: string } {
  let e: unknown = err;
  while (e instanceof Error && e.cause instanceof Error && e.name === 'ActivityFailure') e = e.cause;
  if (e instanceof ApplicationFailure) return { message: e.message, type: e.type ?? undefined };
  return { message: e instanceof Error ? e.message : String(e) };
}

export async function dmsMigration(input: DmsMigrationInput): Promise<DmsMigrationResult> {
  const spec = validDmsSpec(input.spec);
  const tuning = input.tuning ?? {};
  const migrationId = workflowInfo().workflowId;
  const ctx: DmsContext = { migrationId, spec };
  const progress = initialDmsProgress(migrationId, spec);
  const pollMs = tuning.pollIntervalMs ?? 30_000;
  const cdcPollMs = tuning.cdcPollIntervalMs ?? 60_000;
  const online = spec.mode === 'online';

  const acts = proxyActivities<DmsActivities>({
    startToCloseTimeout: '24 hours',
    scheduleToCloseTimeout: `${spec.connectionRetry.windowSeconds} seconds`,
    heartbeatTimeout: `${tuning.heartbeatTimeoutSeconds ?? 60} seconds`,
    retry: {
      initialInterval: tuning.initialRetryIntervalMs ?? 1_000,
      backoffCoefficient: 2,
      maximumInterval: '1 minute',
      maximumAttempts: tuning.maximumAttempts,
    },
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  });

  // ---- state the handlers touch
  const acknowledged: string[] = [...spec.precheck.acknowledge];
  let staticItems: PrecheckItem[] = [];
  let readinessItems: PrecheckItem[] = [];
  let provisionStarted = false;
  let resources: DmsResources | undefined;
  let validation: ValidationReport | undefined;
  let tablesHash: string | undefined;
  const main = new CancellationScope();

  const enter = (phase: DmsPhase) => enterDmsPhase(progress, phase);
  const gatePhases: DmsPhase[] = ['cdc', 'awaiting_cutover'];

  // DmsProgress is the common progress plus `dms`.
  const operator = setOperatorHandlers({
    progress,
    gatePhases,
    acknowledged,
    publish: () => publishDmsDetails(progress),
    onAbort: () => main.cancel(),
  });
  // On-demand validation during CDC is Ferry's own (native engine); a DMS task validates through its own settings.
  setHandler(
    validateNowUpdate,
    (_req: ValidateNowInput): ValidationReport => {
      throw ApplicationFailure.nonRetryable('on-demand validation is not available for engine aws-dms');
    },
    {
      validator: (_req: ValidateNowInput) => {
        throw new Error("on-demand validation during change capture is not available for engine aws-dms: DMS validates through the task's validation settings (see progress.dms tables)");
      },
    },
  );

  /** Run one step; on failure wait in `failed` for retry (re-run) or abort (cancels `main`). */
  async function step<T>(name: DmsStep, run: () => Promise<T>): Promise<T> {
    for (;;) {
      enter(name);
      try {
        return await run();
      } catch (err) {
        if (isCancellation(err)) throw err;
        const { message, type } = errorMessage(err);
        progress.failedStep = name;
        progress.lastError = { step: name, message, type, at: new Date().toISOString() };
        log.warn(`step ${name} failed: ${message}`);
        enter('failed');
        await operator.retryRequested();
        progress.failedStep = undefined;
      }
    }
  }

  /**
   * A precheck report part (before provisioning: static checks; after: connection tests and the
   * premigration assessment). Failing items fail the step; unacknowledged warnings wait for an
   * acknowledgement, then the checks run again.
   */
  async function gated(phase: DmsPhase, run: () => Promise<PrecheckItem[]>, keep: (items: PrecheckItem[]) => void): Promise<void> {
    for (;;) {
      keep(await run());
      const report = acknowledgeWarnings([...staticItems, ...readinessItems], acknowledged);
      progress.precheck = report;
      publishDmsDetails(progress);
      if (report.status === 'fail') {
        const failing = report.items.filter((i) => i.status === 'fail').map((i) => `${i.id}: ${i.message}`);
        throw ApplicationFailure.nonRetryable(`precheck failed:\n${failing.join('\n')}`, 'PrecheckFailed');
      }
      if (report.status === 'pass') return;
      enter('awaiting_acknowledgement');
      await operator.moreAcknowledged();
      enter(phase);
    }
  }

  async function look(res: DmsResources): Promise<DmsTaskSnapshot> {
    const snap = await acts.dmsTaskStatus(ctx, res, tablesHash);
    if (snap.tablesHash !== undefined) tablesHash = snap.tablesHash;
    applySnapshot(progress, snap);
    if (snap.failure) throw ApplicationFailure.nonRetryable(snap.failure, 'DmsTaskFailed');
    return snap;
  }

  /**
   * Approval + window (+ lag under cutover.maxLagSeconds when online). Phase `cdc` while only lag
   * holds the cutover, `awaiting_cutover` while a person or the window does.
   */
  async function cutoverGate(res: DmsResources | undefined): Promise<void> {
    for (;;) {
      const waitingFor: string[] = [];
      if (spec.cutover.requireApproval && !progress.cutover.approved) waitingFor.push('approval');
      const untilWindow = spec.cutover.window ? msUntilWindowOpens(Date.now(), spec.cutover.window) : 0;
      if (untilWindow > 0) waitingFor.push(`cutover window ${spec.cutover.window?.start}-${spec.cutover.window?.end} ${spec.cutover.window?.timeZone}`);
      if (online && res) {
        const snap = await look(res);
        if (spec.dms.lagSource !== 'none') {
          const lag = lagOf(snap);
          if (lag === undefined) waitingFor.push(`lag (unknown: ${snap.lagUnavailable ?? 'no reading'})`);
          else if (lag > spec.cutover.maxLagSeconds) waitingFor.push(`lag ${lag}s > ${spec.cutover.maxLagSeconds}s`);
        }
      }
      progress.cutover.waitingFor = waitingFor;
      if (waitingFor.length === 0) return;
      const phase: DmsPhase = waitingFor.some((w) => !w.startsWith('lag')) || !online ? 'awaiting_cutover' : 'cdc';
      if (progress.phase !== phase) enter(phase);
      else publishDmsDetails(progress);
      const approvedBefore = progress.cutover.approved;
      // Wake on approval, when the window should open, or (online) for the next lag/health poll.
      const timeouts = [untilWindow > 0 ? untilWindow : Infinity, online ? cdcPollMs : Infinity];
      const timeout = Math.min(...timeouts);
      if (timeout === Infinity) await condition(() => progress.cutover.approved !== approvedBefore);
      else await condition(() => progress.cutover.approved !== approvedBefore, timeout);
    }
  }

  async function compensate(): Promise<void> {
    enter('aborting');
    if (provisionStarted) progress.dms.cleanup = await acts.dmsCleanup(ctx);
  }

  let cutoverStartedAt: number | undefined;
  let cutoverSeconds: number | undefined;
  try {
    await main.run(async () => {
      await step('precheck', () => gated('precheck', () => acts.dmsPrecheck(ctx), (items) => (staticItems = items)));

      provisionStarted = true;
      const res = await step('provision', async () => {
        const net = await acts.dmsEnsureNetwork(ctx);
        const eps = await acts.dmsEnsureEndpoints(ctx);
        const partial = { ...net, ...eps };
        const task = await acts.dmsEnsureTask(ctx, partial);
        const all: DmsResources = { ...partial, ...task };
        progress.dms.resources = all;
        await gated('provision', () => acts.dmsReadiness(ctx, all), (items) => (readinessItems = items));
        return all;
      });
      resources = res;

      // Offline: no changes are captured, so writes must stop before the load starts.
      if (!online) await cutoverGate(undefined);

      await step('full_load', async () => {
        progress.dms.lastStart = await acts.dmsStartTask(ctx, res, 'full_load');
        for (;;) {
          const snap = await look(res);
          if (snap.fullLoadDone) return;
          await sleep(pollMs);
        }
      });

      if (online) {
        await step('cdc', async () => {
          // After a failure this resumes the task from its checkpoint (resume-processing).
          progress.dms.lastStart = await acts.dmsStartTask(ctx, res, 'cdc');
          await cutoverGate(res);
        });
      }

      await step('cutover', async () => {
        cutoverStartedAt ??= Date.now();
        if (online && spec.dms.lagSource !== 'none') {
          // The drained point: what was committed on the source has been applied on the target.
          for (;;) {
            const snap = await look(res);
            const lag = snap.lag?.targetSeconds;
            progress.cutover.waitingFor = lag === undefined || lag > spec.dms.drainedLagSeconds ? [`CDC to drain (target lag ${lag ?? '?'}s > ${spec.dms.drainedLagSeconds}s)`] : [];
            if (progress.cutover.waitingFor.length === 0) break;
            publishDmsDetails(progress);
            await sleep(Math.min(pollMs, cdcPollMs));
          }
        }
        const stopped = await acts.dmsStopTask(ctx, res);
        if (stopped.tablesHash !== undefined) tablesHash = stopped.tablesHash;
        applySnapshot(progress, stopped);
        if (stopped.failure) throw ApplicationFailure.nonRetryable(stopped.failure, 'DmsTaskFailed');
        cutoverSeconds = (Date.now() - cutoverStartedAt) / 1000;
      });

      validation = await step('validate', async () => {
        const report = await acts.dmsValidate(ctx, res);
        progress.validation = report;
        publishDmsDetails(progress);
        if (report.status === 'mismatch') {
          const bad = report.tables.filter((t) => t.status === 'mismatch').map((t) => `${t.source} (${t.reason ?? ''})`);
          throw ApplicationFailure.nonRetryable(`DMS validation found differences in ${bad.length} table(s): ${bad.join(', ')}`, 'ValidationMismatch');
        }
        return report;
      });

      await step('cleanup', async () => {
        progress.dms.cleanup = await acts.dmsCleanup(ctx);
      });
    });
  } catch (err) {
    if (!isCancellation(err)) throw err;
    await CancellationScope.nonCancellable(compensate);
    enter('aborted');
    closeTimings(progress);
    if (!operator.abortRequested) throw err; // workflow cancellation: end as Cancelled, after compensating
    log.info('migration aborted', { reason: operator.abortReason, resources: resources?.taskId });
    return { migrationId, outcome: 'aborted', progress };
  }

  enter('completed');
  closeTimings(progress);
  return { migrationId, outcome: 'completed', progress, validation, cutoverSeconds };
}
