// What an operator does to a running migration, the same in every engine's workflow: read its
// progress, approve the cutover (Update or signal), abort, retry a failed step, acknowledge
// precheck warnings. Deterministic: handlers only change workflow state.
import { condition, log, setHandler } from '@temporalio/workflow';
import {
  abortSignal,
  acknowledgeWarningsUpdate,
  approveCutoverUpdate,
  approveSignal,
  progressQuery,
  retryUpdate,
  type AcknowledgeWarningsInput,
  type ApproveCutoverInput,
} from './messages';
import { acknowledgeWarnings, matchesAck } from './precheck';
import type { MigrationProgress, Step } from './types';

export interface OperatorOptions {
  /** The live progress (an engine's own progress seen through the common shape). */
  progress: MigrationProgress;
  /** Phases in which the cutover can be approved. */
  gatePhases: readonly string[];
  /** Precheck warning patterns acknowledged so far; acknowledgements are appended. */
  acknowledged: string[];
  /** After a change the UI should see (search attributes, details). */
  publish: () => void;
  /** On the first abort request: cancel what runs. */
  onAbort: () => void;
}

export interface Operator {
  readonly abortRequested: boolean;
  readonly abortReason: string | undefined;
  /** Until the operator asks to retry the failed step. */
  retryRequested(): Promise<void>;
  /** Until the operator acknowledges more precheck warnings. */
  moreAcknowledged(): Promise<void>;
}

export function setOperatorHandlers(options: OperatorOptions): Operator {
  const { progress, acknowledged, publish } = options;
  let abortRequested = false;
  let abortReason: string | undefined;
  let retryRequested = false;

  const approvalRejection = (): string | undefined => {
    if (abortRequested || progress.abortRequested) return 'the migration is being aborted; approval is no longer possible';
    if (progress.cutover.approved) return `cutover was already approved${progress.cutover.approvedBy ? ` by ${progress.cutover.approvedBy}` : ''}`;
    if (!options.gatePhases.includes(progress.phase)) return `cutover is not awaiting approval yet: the migration is in phase '${progress.phase}'`;
    return undefined;
  };
  const approve = (req: ApproveCutoverInput) => {
    progress.cutover.approved = true;
    progress.cutover.approvedBy = req.by ?? 'unknown';
    log.info('cutover approved', { by: progress.cutover.approvedBy, comment: req.comment });
    publish();
  };

  setHandler(progressQuery, () => progress);
  setHandler(
    approveCutoverUpdate,
    (req) => {
      approve(req ?? {});
      return progress;
    },
    {
      validator: (_req) => {
        const why = approvalRejection();
        if (why) throw new Error(why);
      },
    },
  );
  setHandler(approveSignal, (req) => {
    const why = approvalRejection();
    if (why) log.warn(`approve signal ignored: ${why}`);
    else approve(req ?? {});
  });
  setHandler(abortSignal, (req) => {
    if (abortRequested) return;
    abortRequested = true;
    abortReason = req?.reason;
    progress.abortRequested = true;
    options.onAbort();
  });
  setHandler(
    retryUpdate,
    () => {
      retryRequested = true;
      return { step: progress.failedStep as Step };
    },
    {
      validator: () => {
        if (abortRequested) throw new Error('the migration is being aborted; nothing to retry');
        if (progress.phase !== 'failed' || !progress.failedStep) {
          throw new Error(`nothing to retry: the migration is in phase '${progress.phase}', not 'failed'`);
        }
      },
    },
  );
  setHandler(
    acknowledgeWarningsUpdate,
    (req) => {
      const ids = req?.ids ?? ['*'];
      acknowledged.push(...ids);
      log.info('precheck warnings acknowledged', { ids, by: req?.by });
      if (progress.precheck) progress.precheck = acknowledgeWarnings(progress.precheck.items, acknowledged);
      publish();
      return progress;
    },
    {
      validator: (req: AcknowledgeWarningsInput | undefined) => {
        if (progress.phase !== 'awaiting_acknowledgement' || !progress.precheck) {
          throw new Error(`no precheck warnings are waiting: the migration is in phase '${progress.phase}'`);
        }
        const warnings = progress.precheck.items.filter((i) => i.status === 'warning').map((i) => i.id);
        const unknown = (req?.ids ?? []).filter((pattern) => !warnings.some((id) => matchesAck(id, pattern)));
        if (unknown.length > 0) throw new Error(`no precheck warning matches ${unknown.join(', ')}; warnings are: ${warnings.join(', ')}`);
      },
    },
  );

  return {
    get abortRequested() {
      return abortRequested;
    },
    get abortReason() {
      return abortReason;
    },
    retryRequested: async () => {
      retryRequested = false;
      await condition(() => retryRequested);
    },
    moreAcknowledged: async () => {
      const before = acknowledged.length;
      await condition(() => acknowledged.length > before);
    },
  };
}
