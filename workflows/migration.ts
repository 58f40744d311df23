// migrationWorkflow: one migration, as the phase machine of the design brief.
//
//   precheck -> provision -> cutover gate -> fence -> full_load -> post_load -> cutover -> validate -> cleanup
//
// Offline mode puts the gate (approval + window) before the fence, because the fence is where
// downtime begins. A step that fails after its activity retries leaves the workflow in `failed`
// (still running, error in `progress`) until a `retry` update re-runs it or `abort` ends it. Abort
// (signal) and cancellation both run the compensations in a non-cancellable scope.
import {
  ActivityCancellationType,
  allHandlersFinished,
  ApplicationFailure,
  CancellationScope,
  condition,
  ContinueAsNew,
  continueAsNew,
  isCancellation,
  log,
  patched,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { FerryActivities } from '../activities';
import { VALIDATE_NOW_DEFAULTS, validateNowRejection, validateNowUpdate, type ValidateNowInput } from './messages';
import { parseSpec, SpecError, type MigrationSpec } from './spec';
import type {
  CaptureProgress,
  FenceState,
  LoadChunk,
  MigrationContext,
  MigrationInput,
  MigrationResult,
  ProvisionResult,
  Step,
  ValidationReport,
} from './types';
import { closeTimings, enterPhase, initialProgress, planTables, publishDetails, recordChunks, recordLag } from './progress';
import { batchChunks, DEFAULT_BATCH_LIMITS, expandPlan, runBatches } from './fullLoad';
import { msUntilWindowOpens } from './window';
import { renamesNeeded } from './renames';
import { dmsMigration } from './dmsMigration';
import type { DmsMigrationResult } from './dmsTypes';

import { acknowledgeWarnings } from './precheck';
import { setOperatorHandlers } from './operator';

export { progressQuery, approveCutoverUpdate, approveSignal, abortSignal, retryUpdate, acknowledgeWarningsUpdate, validateNowUpdate } from './messages';

/** Differing rows per table the activities of an on-demand validation list (the report keeps validation.maxReportedRows). */
const LIVE_ROW_CAP = 1000;

/** Online loads restarted from scratch after a lost slot snapshot, per attempt of the step; then it fails (and can be retried). */
const MAX_ONLINE_RELOADS = 3;

function validSpec(input: MigrationInput): MigrationSpec {
  try {
    return parseSpec(input.spec);
  } catch (err) {
    if (err instanceof SpecError) throw ApplicationFailure.nonRetryable(err.message, 'InvalidSpec', err.issues);
    throw err;
  }
}

function errorMessage(err: unknown): { message: string; type?: string } {
  // ActivityFailure wraps the ApplicationFailure that carries the adapter's message.
  let e: unknown = err;
  while (e instanceof Error && e.cause instanceof Error && e.name === 'ActivityFailure') e = e.cause;
  if (e instanceof ApplicationFailure) return { message: e.message, type: e.type ?? undefined };
  return { message: e instanceof Error ? e.message : String(e) };
}

function isSnapshotLost(err: unknown): boolean {
  for (let e: unknown = err; e instanceof Error; e = e.cause) {
    if (e instanceof ApplicationFailure && e.type === 'SnapshotLost') return true;
  }
  return false;
}

export async function migrationWorkflow(input: MigrationInput): Promise<MigrationResult | DmsMigrationResult> {
  const spec = validSpec(input);
  // AWS DMS runs its own journey (same phases, gates, messages and cleanup semantics).
  if (spec.engine === 'aws-dms') return dmsMigration({ spec: input.spec, tuning: input.tuning });
  const tuning = input.tuning ?? {};
  const migrationId = workflowInfo().workflowId;
  const ctx: MigrationContext = { migrationId, spec };
  const resume = input.resume;
  const progress = resume?.progress ?? initialProgress(migrationId, spec);
  const online = spec.mode === 'online';

  const retry = {
    initialInterval: tuning.initialRetryIntervalMs ?? 1_000,
    backoffCoefficient: 2,
    maximumInterval: '1 minute',
    maximumAttempts: tuning.maximumAttempts,
  } as const;
  // Retries of lost connections stop after the spec's window; non-retryable failures stop at once.
  const options = {
    startToCloseTimeout: '24 hours',
    scheduleToCloseTimeout: `${spec.connectionRetry.windowSeconds} seconds`,
    heartbeatTimeout: `${tuning.heartbeatTimeoutSeconds ?? 60} seconds`,
    retry,
    // Abort waits for the running activity to stop (roll back) before compensating.
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  } as const;
  const acts = proxyActivities<FerryActivities>(options);
  // The snapshot holder is never retried by Temporal: a new snapshot is a different point in time,
  // so whether one may replace it is the workflow's decision (see fullLoad).
  const holderOptions = { ...options, scheduleToCloseTimeout: undefined, startToCloseTimeout: '30 days', retry: { maximumAttempts: 1 } } as const;
  const holderActs = proxyActivities<FerryActivities>(holderOptions);
  // Once the chunks are in, the next step need not wait for the holder to see its cancellation
  // (it learns of it at its next heartbeat, up to a second later): it only pins a snapshot.
  const holderActsNoWait = proxyActivities<FerryActivities>({ ...holderOptions, cancellationType: ActivityCancellationType.TRY_CANCEL });
  // On-demand validation during change capture: someone waits for the answer, so a few attempts within an hour, not the retry window.
  const liveActs = proxyActivities<FerryActivities>({ ...options, scheduleToCloseTimeout: '1 hour', retry: { ...retry, maximumAttempts: tuning.maximumAttempts ?? 5 } });

  // ---- state the handlers touch
  const acknowledged: string[] = resume?.acknowledged ?? [...spec.precheck.acknowledge];
  let provisionStarted = resume !== undefined;
  let captureStarted = resume !== undefined && online;
  let fenceStarted = false;
  let provisioned: ProvisionResult | undefined = resume?.provisioned;
  let fence: FenceState | undefined;
  let fencedAt: number | undefined;
  // Downtime ends when the target is open for writes: after the drain, sequences, renames and the
  // validation that vouches for it, but before cleanup (dropping the slot is no reason to wait).
  let openedAt: number | undefined;
  let validation: ValidationReport | undefined;
  const main = new CancellationScope();
  /** The on-demand validation running during change capture (Update validateNow), cancelled by an abort. */
  let liveScope: CancellationScope | undefined;

  const operator = setOperatorHandlers({
    progress,
    gatePhases: online ? ['cdc', 'awaiting_cutover'] : ['awaiting_cutover'],
    acknowledged,
    publish: () => publishDetails(progress),
    onAbort: () => {
      main.cancel();
      liveScope?.cancel();
    },
  });

  /**
   * Validation during change capture, as DMS validates during CDC: compare everything; for what
   * differs, read the source's position after the comparison, let the target apply past it
   * (awaitAppliedLsn heartbeats while it polls; CDC slices keep streaming meanwhile), compare only
   * the differing ranges again; repeat up to `rechecks` times. Rows in flight drop out; what
   * persists is reported, as of the last position the target had caught up to.
   */
  async function validateDuringCapture(req: ValidateNowInput, startedAt: string): Promise<ValidationReport> {
    const tables = (provisioned as ProvisionResult).tables;
    const rechecks = req.rechecks ?? VALIDATE_NOW_DEFAULTS.rechecks;
    const timeoutSeconds = req.catchUpTimeoutSeconds ?? VALIDATE_NOW_DEFAULTS.catchUpTimeoutSeconds;
    const mismatching = (r: ValidationReport) => r.tables.filter((t) => t.status === 'mismatch');
    // Rows in flight are told from lasting differences row by row, so the activities list more rows than the report keeps.
    const options = { duringCapture: true, rowCap: Math.max(spec.validation.maxReportedRows, LIVE_ROW_CAP) };
    let report = await liveActs.validate(ctx, tables, options);
    let asOfLsn = await liveActs.currentLsn(ctx);
    let waitFor = asOfLsn;
    const rechecked: string[] = [];
    let rounds = 0;
    let caughtUp = true;
    while (mismatching(report).length > 0 && rounds < rechecks) {
      const waited = await liveActs.awaitAppliedLsn(ctx, waitFor, timeoutSeconds);
      if (!waited.reached) {
        caughtUp = false;
        log.warn('on-demand validation: the target did not catch up in time; reporting differences that may be changes in flight', { waitFor, applied: waited.appliedLsn });
        break;
      }
      rounds += 1;
      asOfLsn = waitFor;
      for (const t of mismatching(report)) if (!rechecked.includes(t.source)) rechecked.push(t.source);
      report = await liveActs.recheckValidation(ctx, tables, report, options);
      if (mismatching(report).length > 0 && rounds < rechecks) waitFor = await liveActs.currentLsn(ctx);
    }
    const max = spec.validation.maxReportedRows;
    return {
      ...report,
      tables: report.tables.map((t) => (t.rows && t.rows.length > max ? { ...t, rows: t.rows.slice(0, max), rowsTruncated: true } : t)),
      live: { asOfLsn, recheckedTables: rechecked, rounds, caughtUp, ...(req.by ? { requestedBy: req.by } : {}), startedAt, finishedAt: new Date().toISOString() },
    };
  }

  setHandler(
    validateNowUpdate,
    async (req) => {
      const input = req ?? {};
      const startedAt = new Date().toISOString();
      const scope = new CancellationScope();
      liveScope = scope;
      progress.liveValidation = { state: 'running', ...(input.by ? { requestedBy: input.by } : {}), startedAt };
      publishDetails(progress);
      log.info('on-demand validation requested', { by: input.by });
      try {
        const report = await scope.run(() => validateDuringCapture(input, startedAt));
        progress.liveValidation = { ...progress.liveValidation, state: 'done', finishedAt: new Date().toISOString(), report };
        return report;
      } catch (err) {
        const cancelled = isCancellation(err);
        const { message, type } = errorMessage(err);
        const why = cancelled ? 'cancelled: the migration is being aborted' : `failed: ${message}`;
        progress.liveValidation = { ...progress.liveValidation, state: 'failed', finishedAt: new Date().toISOString(), error: why };
        // An ApplicationFailure fails the update only, never the migration.
        throw ApplicationFailure.nonRetryable(`on-demand validation ${why}`, cancelled ? 'ValidationCancelled' : (type ?? 'ValidationFailed'));
      } finally {
        liveScope = undefined;
        publishDetails(progress);
      }
    },
    {
      validator: (req: ValidateNowInput | undefined) => {
        const running = liveScope ? progress.liveValidation : undefined;
        const why = validateNowRejection(
          {
            name: spec.name,
            mode: spec.mode,
            phase: progress.phase,
            aborting: operator.abortRequested || progress.abortRequested,
            level: spec.validation.level,
            ...(running ? { running: { requestedBy: running.requestedBy, startedAt: running.startedAt } } : {}),
          },
          req,
        );
        if (why) throw new Error(why);
      },
    },
  );

  /** Run one step; on failure wait in `failed` for retry (re-run) or abort (cancels `main`). */
  async function step<T>(name: Step, run: () => Promise<T>): Promise<T> {
    for (;;) {
      enterPhase(progress, name);
      try {
        return await run();
      } catch (err) {
        if (isCancellation(err) || err instanceof ContinueAsNew) throw err;
        const { message, type } = errorMessage(err);
        progress.failedStep = name;
        progress.lastError = { step: name, message, type, at: new Date().toISOString() };
        log.warn(`step ${name} failed: ${message}`);
        enterPhase(progress, 'failed');
        await operator.retryRequested();
        progress.failedStep = undefined;
      }
    }
  }

  /** What the gate still waits for, apart from lag: approval and the window. */
  function gateWaits(): { waitingFor: string[]; untilWindow: number } {
    const waitingFor: string[] = [];
    if (spec.cutover.requireApproval && !progress.cutover.approved) waitingFor.push('approval');
    const untilWindow = spec.cutover.window ? msUntilWindowOpens(Date.now(), spec.cutover.window) : 0;
    if (untilWindow > 0) waitingFor.push(`cutover window ${spec.cutover.window?.start}-${spec.cutover.window?.end} ${spec.cutover.window?.timeZone}`);
    return { waitingFor, untilWindow };
  }

  async function cutoverGate(): Promise<void> {
    enterPhase(progress, 'awaiting_cutover');
    for (;;) {
      const { waitingFor, untilWindow } = gateWaits();
      progress.cutover.waitingFor = waitingFor;
      publishDetails(progress);
      if (waitingFor.length === 0) return;
      const approvedBefore = progress.cutover.approved;
      // Wake on approval, or when the window should open.
      if (untilWindow > 0) await condition(() => progress.cutover.approved !== approvedBefore, untilWindow);
      else await condition(() => progress.cutover.approved);
    }
  }

  /** The snapshot holder activity, running in its own scope (holding settles when it ends, never rejects). */
  interface Holder {
    scope: CancellationScope;
    holding: Promise<void>;
    /** Why it ended, unless cancelled. */
    error?: unknown;
  }

  function startHolder(): Holder {
    const scope = new CancellationScope();
    const holderProxy = patched('snapshot-holder-try-cancel') ? holderActsNoWait : holderActs;
    const holder: Holder = { scope, holding: Promise.resolve() };
    holder.holding = scope.run(() => holderProxy.holdSnapshot(ctx)).then(
      () => undefined,
      (err: unknown) => {
        if (!isCancellation(err)) holder.error = err;
      },
    );
    return holder;
  }

  async function stopHolder(holder: Holder): Promise<void> {
    holder.scope.cancel();
    await holder.holding;
  }

  /**
   * Copy every chunk under one exported snapshot, held open by a holder activity for as long as
   * chunks need it. If the holder's session is lost (its worker died), chunks fail with
   * SnapshotLost. With the source fenced since before the load, a new snapshot sees the same data,
   * so the load goes on under a new one (committed chunks stay: markers skip them); unfenced, a
   * new snapshot would be another point in time, so the step fails loudly instead.
   */
  async function fullLoad(tables: ProvisionResult['tables']): Promise<void> {
    // Offline, the holder does not need the plan: it starts alongside planning, so the snapshot
    // is exported by the time the chunks are known (the two were ~0.1 s one after the other).
    // Online it creates the replication slot, which should not hold WAL while a failed plan waits.
    let early = !online && tables.length > 0 && patched('hold-snapshot-while-planning') ? startHolder() : undefined;
    // ...and the snapshot's id is asked for while planning too (one workflow task and activity
    // fewer between provision and the first copy). Cancelled with the holder's scope if planning fails.
    let earlySnapshot = early && patched('wait-for-snapshot-while-planning') ? early.scope.run(() => acts.waitForSnapshot(ctx)) : undefined;
    earlySnapshot?.catch(() => undefined); // awaited below, or dropped with the holder
    let chunks: LoadChunk[];
    try {
      chunks = expandPlan(tables, await acts.planFullLoad(ctx, tables));
      planTables(progress, chunks);
      publishDetails(progress);
    } catch (err) {
      if (early) await stopHolder(early);
      throw err;
    }
    const counted = new Set<string>();
    const limits = { ...DEFAULT_BATCH_LIMITS, maxChunks: tuning.batchMaxChunks ?? DEFAULT_BATCH_LIMITS.maxChunks };
    let reloads = 0; // online restarts from scratch in this attempt of the step (a retry starts a new count)
    for (;;) {
      const pending = chunks.filter((c) => !counted.has(c.id));
      if (pending.length === 0) {
        if (early) await stopHolder(early);
        return;
      }
      const current = early ?? startHolder();
      const asked = early ? earlySnapshot : undefined;
      early = undefined;
      earlySnapshot = undefined;
      const { scope: holder, holding } = current;
      let reloadFromScratch = false;
      try {
        const snapshotId = await holder.run(() =>
          Promise.race([
            asked ?? acts.waitForSnapshot(ctx),
            holding.then(() => {
              throw ApplicationFailure.nonRetryable(`the session holding the source snapshot ended before it was exported: ${errorMessage(current.error).message}`, 'SnapshotLost');
            }),
          ]),
        );
        await runBatches(
          batchChunks(pending, limits),
          spec.parallelism,
          (batch: LoadChunk[]) => acts.copyChunks(ctx, batch, snapshotId),
          (batch, results) => {
            const fresh = results.filter((r) => !counted.has(r.chunkId));
            fresh.forEach((r) => counted.add(r.chunkId));
            recordChunks(progress, batch, fresh);
          },
        );
      } catch (err) {
        if (!isSnapshotLost(err)) throw err;
        // Online, the snapshot came with the slot: rows copied under it and the slot's changes
        // meet only at its position. A new snapshot needs a new slot, and every table again.
        reloadFromScratch = !fence && online && reloads < MAX_ONLINE_RELOADS && patched('online-snapshot-reload');
        if (!fence && !reloadFromScratch) throw err;
        progress.snapshotRestarts = (progress.snapshotRestarts ?? 0) + 1;
        if (reloadFromScratch) {
          reloads += 1;
          log.warn('source snapshot lost during the online load; the load starts again from scratch under a new slot', {
            error: errorMessage(err).message,
            restart: reloads,
          });
        } else {
          log.warn('source snapshot lost; the source is fenced, so the load continues under a new snapshot', { error: errorMessage(err).message });
        }
      } finally {
        await stopHolder(current);
      }
      if (reloadFromScratch) {
        await acts.restartLoad(ctx, tables);
        counted.clear();
        planTables(progress, chunks);
        publishDetails(progress);
      }
    }
  }

  function recordCapture(p: CaptureProgress): void {
    progress.capture = {
      appliedLsn: p.appliedLsn,
      lagBytes: p.lagBytes,
      applied: (progress.capture?.applied ?? 0) + p.applied,
      warning: p.longTransactionWarning,
    };
    recordLag(progress, p.lagSeconds);
  }

  /**
   * Online mode: stream changes in slices until the gate opens: approved, inside the window, and
   * lag at or under maxLagSeconds for lagSustainSeconds. Continues as new before history grows
   * large, carrying the state, so waiting days for a cutover window stays cheap.
   */
  async function captureUntilGateOpens(tables: ProvisionResult['tables']): Promise<void> {
    let lagUnderSince = resume?.lagUnderSince;
    for (;;) {
      const p = await acts.streamChanges(ctx, { maxSeconds: spec.cdc.sliceSeconds, tables });
      recordCapture(p);
      const lagOk = p.lagSeconds !== undefined && p.lagSeconds <= spec.cutover.maxLagSeconds;
      lagUnderSince = lagOk ? (lagUnderSince ?? Date.now()) : undefined;
      const { waitingFor } = gateWaits();
      if (lagUnderSince === undefined || Date.now() - lagUnderSince < spec.cutover.lagSustainSeconds * 1000) {
        waitingFor.push(`lag <= ${spec.cutover.maxLagSeconds}s for ${spec.cutover.lagSustainSeconds}s (now ${p.lagSeconds ?? 'unknown'}s)`);
      }
      // An on-demand validation needs changes to keep streaming (it waits for the target to catch up): the gate stays shut until it ends.
      if (liveScope) waitingFor.push('the on-demand validation to finish');
      progress.cutover.waitingFor = waitingFor;
      publishDetails(progress);
      if (waitingFor.length === 0) return;
      // Continue-as-new only between validations (one in flight would be lost with this run): streaming goes on until it ends.
      if ((workflowInfo().continueAsNewSuggested || workflowInfo().historyLength > 10_000) && !liveScope) {
        await condition(allHandlersFinished);
        await continueAsNew<typeof migrationWorkflow>({
          spec: input.spec,
          tuning: input.tuning,
          resume: { progress, provisioned: provisioned as ProvisionResult, acknowledged, lagUnderSince },
        });
      }
    }
  }

  /** Online cutover: the source is fenced; drain every change up to its final position. */
  async function drainAndOpen(tables: ProvisionResult['tables']): Promise<void> {
    const finalLsn = await acts.currentLsn(ctx);
    for (;;) {
      const p = await acts.streamChanges(ctx, { maxSeconds: 60, untilLsn: finalLsn, tables });
      recordCapture(p);
      if (p.reachedUntil) break;
    }
    await acts.syncSequences(ctx, tables);
    await acts.applyRenames(ctx, tables);
  }

  async function compensate(): Promise<void> {
    enterPhase(progress, 'aborting');
    // An on-demand validation was cancelled with the abort: let its activities stop before dropping what they read.
    await condition(() => liveScope === undefined);
    if (captureStarted) await acts.stopCapture(ctx);
    if (fence || fenceStarted) {
      // A fence whose result was lost restores the database default (RESET).
      await acts.unfenceSource(ctx, fence ?? { previousReadOnly: null, terminatedSessions: 0 });
    }
    if (provisioned || provisionStarted) await acts.cleanup(ctx, { aborted: true, provision: provisioned });
  }

  try {
    await main.run(async () => {
      if (!resume) {
        await step('precheck', async () => {
          // Unacknowledged warnings hold the migration until someone accepts them; then the
          // precheck runs again, since the databases may have changed while it waited.
          for (;;) {
            const report = acknowledgeWarnings((await acts.precheck(ctx)).items, acknowledged);
            progress.precheck = report;
            if (report.status === 'fail') {
              const failing = report.items.filter((i) => i.status === 'fail').map((i) => `${i.id}: ${i.message}`);
              throw ApplicationFailure.nonRetryable(`precheck failed:\n${failing.join('\n')}`, 'PrecheckFailed');
            }
            if (report.status === 'pass') return;
            enterPhase(progress, 'awaiting_acknowledgement');
            await operator.moreAcknowledged();
            enterPhase(progress, 'precheck');
          }
        });

        provisionStarted = true;
        provisioned = await step('provision', async () => {
          const result = await acts.provision(ctx);
          if (online) {
            captureStarted = true;
            await acts.prepareCapture(ctx); // publication + heartbeat table, before the slot
          }
          return result;
        });

        // Offline: the gate comes first, because the fence is where downtime begins.
        if (!online) {
          await cutoverGate();
          if (spec.fence.enabled) {
            fenceStarted = true;
            fencedAt = Date.now(); // writes start failing as the fence goes up
            fence = await step('fence', () => acts.fenceSource(ctx));
          }
        }

        const loaded = provisioned.tables;
        await step('full_load', () => fullLoad(loaded));
        await step('post_load', () => acts.finishLoad(ctx, loaded));
      }
      const tables = (provisioned as ProvisionResult).tables;

      if (online) {
        await step('cdc', () => captureUntilGateOpens(tables));
        fenceStarted = true;
        fencedAt = Date.now(); // writes start failing as the fence goes up
        fence = await step('fence', () => acts.fenceSource(ctx));
        await step('cutover', () => drainAndOpen(tables));
      } else {
        // Native PostgreSQL with nothing to rename (renames.ts): no activity, once workflows
        // recorded before this change have ended. (An Oracle engine's applyRenames is its switchover.)
        await step('cutover', async () => {
          if (spec.engine === 'native-postgres' && !renamesNeeded(spec.rename, tables) && patched('skip-no-op-renames')) return;
          await acts.applyRenames(ctx, tables);
        });
      }
      validation = await step('validate', async () => {
        const report = await acts.validate(ctx, tables);
        progress.validation = report;
        if (report.status === 'mismatch') {
          const bad = report.tables.filter((t) => t.status === 'mismatch').map((t) => `${t.source} -> ${t.target}`);
          const schema = (report.schema ?? []).filter((i) => i.status === 'mismatch').map((i) => `${i.kind} ${i.object}: ${i.message}`);
          const parts = [
            bad.length > 0 ? `data differs in ${bad.length} table(s): ${bad.join(', ')}` : '',
            schema.length > 0 ? `schema differs: ${schema.slice(0, 20).join('; ')}${schema.length > 20 ? ` (+${schema.length - 20} more)` : ''}` : '',
          ].filter(Boolean);
          throw ApplicationFailure.nonRetryable(`validation found differences: ${parts.join('. ')}`, 'ValidationMismatch');
        }
        return report;
      });
      openedAt = Date.now();
      await step('cleanup', async () => {
        if (online) await acts.stopCapture(ctx);
        await acts.cleanup(ctx, { aborted: false, provision: provisioned });
      });
    });
  } catch (err) {
    if (!isCancellation(err)) throw err;
    await CancellationScope.nonCancellable(compensate);
    enterPhase(progress, 'aborted');
    closeTimings(progress);
    if (!operator.abortRequested) throw err; // workflow cancellation: end as Cancelled, after compensating
    log.info('migration aborted', { reason: operator.abortReason });
    return { migrationId, outcome: 'aborted', progress };
  }

  enterPhase(progress, 'completed');
  closeTimings(progress);
  return {
    migrationId,
    outcome: 'completed',
    progress,
    validation,
    downtimeSeconds: fencedAt === undefined ? undefined : ((openedAt ?? Date.now()) - fencedAt) / 1000,
  };
}
