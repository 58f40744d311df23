// Types shared by the workflow, the activities and the client. Pure types: no runtime code,
// so every side can import them without pulling anything into the workflow sandbox.
import type { MigrationSpec } from './spec';
import type { DmsProgressDetails } from './dmsTypes';

export type Phase =
  | 'starting'
  | 'precheck'
  | 'awaiting_acknowledgement'
  | 'provision'
  | 'fence'
  | 'full_load'
  | 'cdc'
  | 'post_load'
  | 'awaiting_cutover'
  | 'cutover'
  | 'validate'
  | 'cleanup'
  | 'completed'
  | 'failed'
  | 'aborting'
  | 'aborted';

/** The steps a failure can stop at, and `retry` re-runs. */
export type Step = Exclude<Phase, 'starting' | 'awaiting_acknowledgement' | 'awaiting_cutover' | 'completed' | 'failed' | 'aborting' | 'aborted'>;

/** A table as Ferry moves it: its source identity and where it lands on the target. */
export interface TableRef {
  schema: string;
  name: string;
}

export interface TableMapping {
  source: TableRef;
  target: TableRef;
  /** Columns copied, in source order: source name -> target name. Generated columns are left out. */
  columns: { source: string; target: string }[];
  /** Estimated size on the source (pg_table_size), for ordering and progress. */
  estimatedBytes: number;
  estimatedRows: number;
}

/** One unit of full-load work: a table, or a key range of one. */
export interface LoadChunk {
  /** Stable id, unique within the migration: the marker key on the target. */
  id: string;
  table: TableMapping;
  /**
   * A range `[lo, hi)` (null = open end); absent = the whole table. kind 'key' (the default): values
   * of an integer key column; 'ctid': heap block numbers (column is 'ctid'), rows of blocks lo..hi-1.
   */
  range?: { column: string; lo: string | null; hi: string | null; kind?: 'key' | 'ctid' };
}

/**
 * What planFullLoad answers: the chunks, each naming its table by index rather than repeating the
 * whole mapping (10,000 one-chunk tables would otherwise send the table list back once more, over
 * Temporal's 2 MB payload limit: issue #3). `table` < tables.length is the planner's input
 * `tables[table]`; from tables.length on, `extraTables[table - tables.length]` (a partitioned
 * table's leaves, which are not in the input). See compactPlan / expandPlan (workflows/fullLoad.ts).
 */
export interface FullLoadPlan {
  extraTables: TableMapping[];
  chunks: { id: string; table: number; range?: LoadChunk['range'] }[];
}

export interface ChunkResult {
  chunkId: string;
  rows: number;
  bytes: number;
  /** True when the marker showed the chunk already committed by an earlier attempt. */
  skipped: boolean;
}

export type CheckStatus = 'pass' | 'warning' | 'fail';

export interface PrecheckItem {
  /** Stable id, `check` or `check:object` (e.g. `no-key:public.notes`): what a warning is acknowledged by. */
  id: string;
  status: CheckStatus;
  message: string;
  remedy?: string;
  /** A warning someone accepted (spec `precheck.acknowledge` or the acknowledgeWarnings update). */
  acknowledged?: boolean;
}

export interface PrecheckReport {
  items: PrecheckItem[];
  /** fail if any item fails; warning if any warning is not acknowledged; else pass. */
  status: CheckStatus;
}

export interface ProvisionResult {
  tables: TableMapping[];
  /** Schemas Ferry created on the target (dropped on abort). */
  createdSchemas: string[];
}

export interface FenceState {
  /** The database-level default_transaction_read_only before Ferry fenced, restored on unfence. */
  previousReadOnly: string | null;
  terminatedSessions: number;
}

export type TableValidationStatus = 'match' | 'mismatch' | 'skipped';

/** A key range `[lo, hi)` (text of the key values; null = open end) whose checksums differ. */
export interface RangeDifference {
  column: string;
  lo: string | null;
  hi: string | null;
  sourceRows: number;
  targetRows: number;
  /** The bounds as key tuples (text values in key order; null = open end), so the range can be compared again exactly. */
  bounds?: { lo: string[] | null; hi: string[] | null };
}

/** One row that differs: its key (column -> text value) and how. */
export interface RowDifference {
  key: Record<string, string | null>;
  kind: 'missing_on_target' | 'extra_on_target' | 'changed';
}

export interface TableValidation {
  source: string;
  target: string;
  status: TableValidationStatus;
  sourceRows: number;
  targetRows: number;
  sourceChecksum?: string;
  targetChecksum?: string;
  reason?: string;
  /** Where the data differs, narrowed to key ranges, then to rows (capped by maxReportedRows). */
  ranges?: RangeDifference[];
  rows?: RowDifference[];
  rowsTruncated?: boolean;
}

/** Schema comparison: one item per object kind and table (columns, keys, indexes, sequences...), and one per migrated view. */
export interface SchemaValidation {
  object: string;
  kind: 'table' | 'column' | 'primary_key' | 'unique' | 'foreign_key' | 'check' | 'index' | 'sequence' | 'view';
  status: 'match' | 'mismatch';
  message: string;
}

export interface ValidationReport {
  level: MigrationSpec['validation']['level'];
  status: 'match' | 'mismatch' | 'skipped';
  tables: TableValidation[];
  schema?: SchemaValidation[];
  /** Set on a validation run on demand during change data capture (Update `validateNow`). */
  live?: LiveValidationInfo;
}

/**
 * How an on-demand validation during change capture was made. The target lags the source, so
 * tables whose first comparison differed were compared again (only their differing key ranges)
 * once the target had applied the source past the position read after the previous comparison;
 * only differences that persisted are reported.
 */
export interface LiveValidationInfo {
  /**
   * The report is as of this source LSN: the target had applied the source up to it before the
   * comparison whose differences are reported (with no re-check: the source position read right
   * after the comparison).
   */
  asOfLsn: string;
  /** Tables (source names) compared again after the target caught up. */
  recheckedTables: string[];
  /** Re-check rounds run (at most the request's `rechecks`). */
  rounds: number;
  /** False when the target did not apply past the position within the timeout: what still differs may be changes in flight. */
  caughtUp: boolean;
  requestedBy?: string;
  startedAt: string;
  finishedAt: string;
}

/** The on-demand validation during change capture: running, or its last outcome. */
export interface OnDemandValidation {
  state: 'running' | 'done' | 'failed';
  requestedBy?: string;
  startedAt: string;
  finishedAt?: string;
  report?: ValidationReport;
  error?: string;
}

/** Options of a validation run (engine.validate). */
export interface ValidateOptions {
  /** Change capture is running: target sequences are set only at cutover, so a sequence behind the source is expected. */
  duringCapture?: boolean;
  /** Differing rows listed per table (default spec.validation.maxReportedRows); re-checks need the fuller list to tell rows in flight from rows that stay different. */
  rowCap?: number;
}

/**
 * The details a copyChunks activity heartbeats: the chunks of its batch done so far, and the one
 * being copied (its table as TableProgress.source, rows and bytes so far). A retry skips `done`;
 * `ferry status` shows `current` as the table's copy in flight.
 */
export interface CopyHeartbeat {
  done: string[];
  current?: { chunkId: string; table?: string; rows: number; bytes: number };
}

export interface TableProgress {
  source: string;
  target: string;
  rows: number;
  bytes: number;
  estimatedBytes: number;
  chunksDone: number;
  chunksTotal: number;
}

export interface StepError {
  step: Step;
  message: string;
  type?: string;
  at: string;
}

export interface PhaseTiming {
  phase: Phase;
  startedAt: string;
  endedAt?: string;
}

export interface MigrationProgress {
  migrationId: string;
  name: string;
  engine: MigrationSpec['engine'];
  mode: MigrationSpec['mode'];
  phase: Phase;
  /** The step that failed, while the workflow waits in `failed` for retry or abort. */
  failedStep?: Step;
  lastError?: StepError;
  precheck?: PrecheckReport;
  tables: TableProgress[];
  totals: { rows: number; bytes: number; estimatedBytes: number; chunksDone: number; chunksTotal: number };
  timings: PhaseTiming[];
  cutover: { approved: boolean; approvedBy?: string; waitingFor: string[] };
  validation?: ValidationReport;
  /** Online mode: the last on-demand validation during change capture (`ferry validate ID --now`). */
  liveValidation?: OnDemandValidation;
  abortRequested: boolean;
  /** Times the full load went on under a new snapshot after losing one: a fenced source continues; online, the load starts again under a new slot. */
  snapshotRestarts?: number;
  /** Online modes: replication lag in seconds, when known. */
  lagSeconds?: number;
  /** Online mode (native): where change capture stands. */
  capture?: { appliedLsn: string; lagBytes: number; applied: number; warning?: string };
  /** Engine aws-dms: the replication task's state and table statistics. */
  dms?: DmsProgressDetails;
}

export type MigrationOutcome = 'completed' | 'aborted';

export interface MigrationResult {
  migrationId: string;
  outcome: MigrationOutcome;
  progress: MigrationProgress;
  validation?: ValidationReport;
  /** Seconds from the source's fence to the target being open: drain, sequences, renames and validation; cleanup after that is not counted. */
  downtimeSeconds?: number;
}

/** Knobs that tests shorten; production uses the defaults. */
export interface MigrationTuning {
  /** Activity attempts before a step is declared failed (default: unlimited within connectionRetry.windowSeconds). */
  maximumAttempts?: number;
  initialRetryIntervalMs?: number;
  heartbeatTimeoutSeconds?: number;
  /** At most this many chunks per copy activity (default 100; small tables are batched). */
  batchMaxChunks?: number;
}

export interface MigrationInput {
  spec: MigrationSpec;
  tuning?: MigrationTuning;
  /** Set by continue-as-new during change capture: the state the next run goes on from. */
  resume?: MigrationResume;
}

export interface MigrationResume {
  progress: MigrationProgress;
  provisioned: ProvisionResult;
  acknowledged: string[];
  /** Workflow time since when lag has been under the threshold (sustain period). */
  lagUnderSince?: number;
}

/** What each activity needs to find its databases: never a secret, only references. */
export interface MigrationContext {
  migrationId: string;
  spec: MigrationSpec;
}

// ---- change data capture (online mode)
export interface StreamOptions {
  maxSeconds: number;
  /** The provisioned tables: source -> target names and columns (rename mapping). */
  tables?: TableMapping[];
  /** Stop once changes up to this LSN are applied (the drain at cutover). */
  untilLsn?: string;
}

export interface CaptureProgress {
  /** Last source LSN committed on the target with its batch. */
  appliedLsn: string;
  /** Changes (rows) applied by this call. */
  applied: number;
  /** Seconds between now and the newest source heartbeat applied on the target. */
  lagSeconds?: number;
  /** WAL bytes between the source's current position and appliedLsn. */
  lagBytes: number;
  /** True when untilLsn was reached. */
  reachedUntil: boolean;
  /** Oldest open transaction on the source holding WAL back, when older than a minute. */
  longTransactionWarning?: string;
}
