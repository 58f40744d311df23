// Signals, queries and updates of migrationWorkflow, defined beside it and exported for the
// client, so the two cannot drift apart. Version the payloads by adding optional fields only.
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { MigrationProgress, Step } from './types';

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
