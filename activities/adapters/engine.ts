// The one interface every engine implements. Adapters are plain code: no Temporal imports.
// Activities resolve secrets into ResolvedEndpoints, pass a progress callback that heartbeats,
// and an AbortSignal that fires when Temporal cancels the activity.
import type { MigrationSpec } from '../../workflows/spec';
import type {
  CaptureProgress,
  StreamOptions,
  ChunkResult,
  FenceState,
  LoadChunk,
  PrecheckItem,
  ProvisionResult,
  TableMapping,
  ValidateOptions,
  ValidationReport,
} from '../../workflows/types';

/** An endpoint from the spec with its password resolved: lives only inside an activity. */
export interface ResolvedEndpoint {
  host: string;
  port: number;
  database: string;
  user: string;
  password?: string;
  sslmode: MigrationSpec['source']['sslmode'];
}

export interface EngineContext {
  migrationId: string;
  spec: MigrationSpec;
  source: ResolvedEndpoint;
  target: ResolvedEndpoint;
  /** Recorded in chunk markers so a reader can tell which worker committed what. */
  workerId: string;
  /** Fires when the activity is cancelled (abort) or times out: stop streaming, roll back. */
  signal?: AbortSignal;
}

export interface CopyProgress {
  rows: number;
  bytes: number;
}

export interface CleanupOptions {
  /** Abort: drop everything provisioned on the target. Success: drop only Ferry's state. */
  aborted: boolean;
  provision?: ProvisionResult;
}

export interface MigrationEngine {
  /** Read-only checks of both sides; never changes anything. */
  precheck(ctx: EngineContext): Promise<PrecheckItem[]>;
  /** Idempotent: Ferry's state schema plus the selected tables' pre-data schema on the target. */
  provision(ctx: EngineContext): Promise<ProvisionResult>;
  /** Split the tables into chunks, largest first; tables over wholeTableLimit into key or ctid ranges of about spec.fullLoad.chunkTargetMB. */
  planFullLoad(ctx: EngineContext, tables: TableMapping[]): Promise<LoadChunk[]>;
  /**
   * Export a snapshot of the source and hold it open until ctx.signal aborts: every chunk reads
   * under it, so the copy is the source at one instant. The id is recorded on the target
   * (ferry.snapshot) for currentSnapshot(); losing the holding session throws SnapshotLost.
   */
  holdSnapshot?(ctx: EngineContext): Promise<void>;
  /** The snapshot id holdSnapshot recorded, once it can be imported; undefined while not (yet) there. */
  currentSnapshot?(ctx: EngineContext): Promise<string | undefined>;
  /**
   * Online mode, after the snapshot the load reads under is lost: forget the load so it starts
   * again under a new snapshot from a new change stream position (PostgreSQL: drop the slot,
   * empty the loaded target tables and their chunk markers). Idempotent.
   */
  restartLoad?(ctx: EngineContext, tables: TableMapping[]): Promise<void>;
  /**
   * Copy one chunk under `snapshotId` (when given); its rows commit with its marker, and a chunk
   * already marked is skipped. A snapshot that cannot be imported any more throws SnapshotLost.
   */
  copyChunk(ctx: EngineContext, chunk: LoadChunk, onProgress: (p: CopyProgress) => void, snapshotId?: string): Promise<ChunkResult>;
  /** Post-data (indexes, constraints, foreign keys) and sequences, once every chunk is in. */
  finishLoad(ctx: EngineContext, tables: TableMapping[]): Promise<void>;
  /** Make the source read-only for everyone but Ferry's sessions; returns what to restore. */
  fenceSource(ctx: EngineContext): Promise<FenceState>;
  /** Undo fenceSource exactly. Idempotent. */
  unfenceSource(ctx: EngineContext, state: FenceState): Promise<void>;
  /** Apply the spec's rename mapping on the target (the load uses source names). Idempotent. */
  applyRenames(ctx: EngineContext, tables: TableMapping[]): Promise<void>;
  /** Compare each source table with its target (after renames) at the spec's level. */
  validate(ctx: EngineContext, tables: TableMapping[], options?: ValidateOptions): Promise<ValidationReport>;
  /**
   * Compare again only what `previous` found different: each differing key range of a table (or the
   * whole table when it has no ranges). Differences that are gone, or rows that did not differ in
   * `previous` too, are dropped; the rest is the new report. Engines without it cannot validate
   * during change capture.
   */
  recheckValidation?(ctx: EngineContext, tables: TableMapping[], previous: ValidationReport, options?: ValidateOptions): Promise<ValidationReport>;
  /**
   * Wait (polling, until ctx.signal aborts) until the position change capture has applied on the
   * target is at or past `lsn`, at most `timeoutMs`. Returns the applied position seen last.
   */
  waitForAppliedLsn?(ctx: EngineContext, lsn: string, timeoutMs: number, onProgress?: (appliedLsn: string) => void): Promise<AppliedWait>;
  /** Idempotent; see CleanupOptions. */
  cleanup(ctx: EngineContext, options: CleanupOptions): Promise<void>;

  // ---- online mode (change data capture); engines without it leave these out
  /**
   * Online mode, before the full load: the publication of the selected tables and the heartbeat
   * table on the source (idempotent). holdSnapshot then creates the logical replication slot with
   * an exported snapshot and records the slot's consistent LSN beside the snapshot id.
   */
  prepareCapture?(ctx: EngineContext): Promise<void>;
  /**
   * Stream changes from the slot and apply them to the target in transaction-sized batches, each
   * committed with the source LSN it reached (exactly once across restarts: a restart resumes
   * after the last committed LSN). Confirms flushed LSNs to the slot. Returns after
   * `maxSeconds`, or once `untilLsn` is applied.
   */
  streamChanges?(ctx: EngineContext, options: StreamOptions, onProgress: (p: CaptureProgress) => void): Promise<CaptureProgress>;
  /** The source's current WAL position (after the fence: the point to drain to). */
  currentLsn?(ctx: EngineContext): Promise<string>;
  /** Set every target sequence from the source (at cutover, after the drain). */
  syncSequences?(ctx: EngineContext, tables: TableMapping[]): Promise<void>;
  /** Drop the slot, the publication and the heartbeat table from the source (idempotent). */
  stopCapture?(ctx: EngineContext): Promise<void>;

  // ---- physical copies that follow the source (Oracle RMAN roll-forward, Data Guard standby);
  // engines without them leave these out. Offline, cutover() runs inside applyRenames already.
  /** One catch-up round after the full load (RMAN: archived-redo round; Data Guard: apply-lag check). Repeatable. */
  catchUp?(ctx: EngineContext): Promise<CatchUpResult>;
  /** After the fence: the final round and the switch (RMAN: OPEN RESETLOGS; Data Guard: SWITCHOVER). A repeat after success does nothing. */
  cutover?(ctx: EngineContext): Promise<void>;
}

export interface AppliedWait {
  reached: boolean;
  /** The applied position last read on the target (undefined: no capture state there). */
  appliedLsn?: string;
}

export interface CatchUpResult {
  /** How far the target has come (an SCN for RMAN), when the engine knows. */
  position?: string;
  /** Seconds the target is behind the source, when the engine knows. */
  lagSeconds?: number;
}

export type { CaptureProgress, StreamOptions } from '../../workflows/types';
