// Signals, queries and updates of migrationWorkflow, defined beside it and exported for the
// client, so the two cannot drift apart. Version the payloads by adding optional fields only.
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { MigrationProgress, Phase, Step, ValidationReport } from './types';

export const TASK_QUEUE = 'ferry';

export interface ApproveCutoverInput {
  /** Who approved: recorded in progress and history. */
  by?: string;
  comment?: string;
}

export interface AbortInput {
  reason?: string;
}

export interface RetryResult {
  step: Step;
}

/** Live state: phase, per-table rows and bytes, timings, last error, precheck and validation reports. */
export const progressQuery = defineQuery<MigrationProgress>('progress');

/** Approve the cutover; rejected by the validator before the gate, twice, or after an abort. */
export const approveCutoverUpdate = defineUpdate<MigrationProgress, [ApproveCutoverInput]>('approveCutover');

/** Same meaning as approveCutover, for the Temporal UI's Signal button. Invalid approvals are ignored and logged. */
export const approveSignal = defineSignal<[ApproveCutoverInput]>('approve');

/** Abort at any phase: compensations run (source unfenced, target objects dropped), then the workflow ends. */
export const abortSignal = defineSignal<[AbortInput]>('abort');

export interface AcknowledgeWarningsInput {
  /** Item ids or prefixes ending in `*`; omitted = every current warning. */
  ids?: string[];
  by?: string;
}

/** Accept precheck warnings so the migration goes on; rejected unless it waits in `awaiting_acknowledgement`. */
export const acknowledgeWarningsUpdate = defineUpdate<MigrationProgress, [AcknowledgeWarningsInput]>('acknowledgeWarnings');

/** Re-run the step that failed; rejected unless the migration waits in `failed`. */
export const retryUpdate = defineUpdate<RetryResult, []>('retry');

export interface ValidateNowInput {
  /** Who asked: recorded with the report. */
  by?: string;
  /** How long each re-check waits for the target to apply the source past the position read after the comparison (default 60, at most 3600). */
  catchUpTimeoutSeconds?: number;
  /** Re-check rounds at most (default 3, 0 to 10): tables that still differ are compared again after the target caught up once more. */
  rechecks?: number;
}

export const VALIDATE_NOW_DEFAULTS = { catchUpTimeoutSeconds: 60, rechecks: 3 } as const;

/**
 * Validate now, during change capture (online mode, phase `cdc`), while changes keep streaming:
 * schema and data at the spec's level; what differs is compared again once the target has caught
 * up, and only differences that persist are reported (`report.live` says as of which LSN).
 * Rejected outside phase `cdc`, while one runs, or during an abort. Also kept in progress.liveValidation.
 */
export const validateNowUpdate = defineUpdate<ValidationReport, [ValidateNowInput]>('validateNow');

/** What validateNow's validator looks at. */
export interface ValidateNowState {
  name: string;
  mode: 'offline' | 'online';
  phase: Phase;
  aborting: boolean;
  level: 'none' | 'counts' | 'checksums' | 'full';
  /** The on-demand validation in flight, if any. */
  running?: { requestedBy?: string; startedAt: string };
}

/** Why validateNow is refused now (the validator throws it), or undefined when it may run. Pure. */
export function validateNowRejection(state: ValidateNowState, req: ValidateNowInput | undefined): string | undefined {
  if (state.aborting) return 'the migration is being aborted; no validation now';
  if (state.mode !== 'online') {
    return `on-demand validation runs during change data capture, and this migration is offline: its validation runs after the load (see 'ferry validate ${state.name}')`;
  }
  if (state.phase !== 'cdc') {
    const later = ['fence', 'cutover', 'validate', 'cleanup', 'completed'].includes(state.phase);
    return `on-demand validation runs during change data capture (phase 'cdc'); the migration is in phase '${state.phase}'${
      later ? `; the final validation runs after the drain at cutover (see 'ferry validate ${state.name}')` : ', try again once changes stream'
    }`;
  }
  if (state.running) {
    const who = state.running.requestedBy ? `requested by ${state.running.requestedBy}, ` : '';
    return `a validation is already running (${who}since ${state.running.startedAt}); wait for its report in 'ferry status ${state.name}'`;
  }
  if (state.level === 'none') return "validation.level is 'none' in the spec: there is nothing to validate";
  const t = req?.catchUpTimeoutSeconds;
  if (t !== undefined && (typeof t !== 'number' || !Number.isFinite(t) || t <= 0 || t > 3600)) return `catchUpTimeoutSeconds must be a number of seconds in (0, 3600], not ${String(t)}`;
  const n = req?.rechecks;
  if (n !== undefined && (!Number.isInteger(n) || n < 0 || n > 10)) return `rechecks must be an integer from 0 to 10, not ${String(n)}`;
  return undefined;
}

/** Custom search attributes upserted at each phase (registered by scripts/dev.sh). */
export const SEARCH_ATTRIBUTES = {
  phase: 'FerryPhase',
  engine: 'FerryEngine',
  migration: 'FerryMigration',
  mode: 'FerryMode',
  lagSeconds: 'FerryLagSeconds',
} as const;

export function migrationWorkflowId(name: string): string {
  return `ferry-${name}`;
}
