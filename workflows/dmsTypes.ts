// Types of the aws-dms journey shared by dmsMigration, the DMS activities and the client. Pure
// types: no runtime code, safe on every side.
import type { DmsMigrationSpec } from './dmsSpec';
import type { MigrationProgress, Phase, PrecheckItem, StepError, ValidationReport } from './types';

/** The native phases plus `cdc` (DMS replicating ongoing changes before the cutover gate). */
export type DmsPhase = Phase | 'cdc';
export type DmsStep = 'precheck' | 'provision' | 'full_load' | 'cdc' | 'cutover' | 'validate' | 'cleanup';

/** What each DMS activity receives: names and references only, never a secret value. */
export interface DmsContext {
  migrationId: string;
  spec: DmsMigrationSpec;
}

/** The DMS resources of one migration. Each also carries the tag `ferry:migration-id`. */
export interface DmsResources {
  /** Present when Ferry manages the subnet group (spec `dms.subnetIds`). */
  subnetGroupId?: string;
  instanceArn: string;
  sourceEndpointArn: string;
  targetEndpointArn: string;
  taskArn: string;
  taskId: string;
}

export type DmsStartType = 'start-replication' | 'resume-processing' | 'reload-target';

export interface DmsStartResult {
  /** The StartReplicationTaskType Ferry sent, or why it sent none. */
  action: DmsStartType | 'already-running' | 'already-finished';
  status: string;
}

/** One table as DescribeTableStatistics reports it. */
export interface DmsTableProgress {
  schema: string;
  table: string;
  /** DMS TableState, e.g. `Table completed`, `Full load`, `Table error`. */
  state: string;
  fullLoadRows: number;
  inserts: number;
  updates: number;
  deletes: number;
  /** DMS ValidationState, e.g. `Validated`, `Pending records`, `Mismatched records`, `Not enabled`. */
  validationState?: string;
  validationPending?: number;
  validationFailed?: number;
  validationSuspended?: number;
}

export interface DmsLag {
  /** CDCLatencySource: seconds between the last source commit and DMS capturing it. */
  sourceSeconds: number;
  /** CDCLatencyTarget: seconds between the source commit and its apply on the target. */
  targetSeconds: number;
  /** When the metric was measured (ISO). */
  at: string;
}

/** One look at the replication task (DescribeReplicationTasks + DescribeTableStatistics + lag). */
export interface DmsTaskSnapshot {
  taskId: string;
  status: string;
  migrationType: string;
  stopReason?: string;
  lastFailureMessage?: string;
  fullLoadPercent: number;
  tablesLoaded: number;
  tablesLoading: number;
  tablesQueued: number;
  tablesErrored: number;
  /** DMS says the full load is over (every table loaded, none loading, queued or errored). */
  fullLoadDone: boolean;
  /** Set when the task failed or stopped on an error: the DMS error text, for the step's failure. */
  failure?: string;
  /**
   * Null when DescribeTableStatistics could not answer (`tableStatisticsError` says why); undefined
   * when unchanged since the snapshot whose `tablesHash` the caller passed.
   */
  tables?: DmsTableProgress[] | null;
  tablesHash?: string;
  tableStatisticsError?: string;
  /** Null when no lag reading exists (`lagUnavailable` says why). */
  lag: DmsLag | null;
  lagUnavailable?: string;
  observedAt: string;
}

export interface DmsCleanupReport {
  deleted: { kind: 'task' | 'endpoint' | 'instance' | 'subnet-group'; id: string }[];
}

/** The DMS part of the progress query's answer. */
export interface DmsProgressDetails {
  resources?: DmsResources;
  task?: DmsTaskSnapshot;
  tables: DmsTableProgress[];
  lastStart?: DmsStartResult;
  cleanup?: DmsCleanupReport;
}

/** The progress query's answer for an aws-dms migration: MigrationProgress with the `cdc` phase and DMS details. */
export type DmsProgress = Omit<MigrationProgress, 'phase' | 'failedStep' | 'lastError' | 'engine' | 'mode' | 'timings'> & {
  engine: 'aws-dms';
  mode: DmsMigrationSpec['mode'];
  phase: DmsPhase;
  failedStep?: DmsStep;
  lastError?: Omit<StepError, 'step'> & { step: DmsStep };
  timings: { phase: DmsPhase; startedAt: string; endedAt?: string }[];
  /** Latest CDC latency (seconds, the larger of source and target), when measured. */
  lagSeconds?: number;
  dms: DmsProgressDetails;
};

/** Knobs tests shorten; production uses the defaults. */
export interface DmsTuning {
  maximumAttempts?: number;
  initialRetryIntervalMs?: number;
  heartbeatTimeoutSeconds?: number;
  /** Between task polls during the full load (default 30 s). */
  pollIntervalMs?: number;
  /** Between lag/health polls while CDC runs and the cutover gate waits (default 60 s). */
  cdcPollIntervalMs?: number;
}

export interface DmsMigrationInput {
  /** An aws-dms spec (validated again by the workflow). */
  spec: unknown;
  tuning?: DmsTuning;
}

export interface DmsMigrationResult {
  migrationId: string;
  outcome: 'completed' | 'aborted';
  progress: DmsProgress;
  validation?: ValidationReport;
  /** Seconds between the cutover step's start and the task's stop (the replication freeze). */
  cutoverSeconds?: number;
}

export type { PrecheckItem };
