// Ferry's typed client library: start a migration, talk to it (approve, abort, retry,
// acknowledge warnings), read its progress and result, list migrations. The `ferry` CLI is a thin
// layer over this module; programs use it the same way:
//
//   const ferry = await FerryClient.connect();
//   const { id } = await ferry.startMigration(loadSpecFile('examples/demo.yaml'));
//   await ferry.approveCutover(id, { by: 'me' });
//   const result = await ferry.result(id);
//
// Every failure a caller can act on is its own error class (below), so a program (or the CLI's
// exit codes) can tell "not found" from "rejected" from "Temporal is down".
import {
  Client,
  isGrpcDeadlineError,
  isGrpcServiceError,
  ServiceError,
  WorkflowExecutionAlreadyStartedError,
  WorkflowFailedError,
  WorkflowIdConflictPolicy,
  WorkflowIdReusePolicy,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  WorkflowUpdateRPCTimeoutOrCancelledError,
  type WorkflowExecutionDescription,
  type WorkflowExecutionInfo,
  type WorkflowExecutionStatusName,
  type WorkflowHandle,
} from '@temporalio/client';
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { decodeArrayFromPayloads } from '@temporalio/common/lib/internal-non-workflow';
import { connectClient, loadConnectionOptions, TemporalUnreachableError, type ConnectClientOptions } from './connection';
import {
  abortSignal,
  acknowledgeWarningsUpdate,
  approveCutoverUpdate,
  migrationWorkflowId,
  progressQuery,
  retryUpdate,
  SEARCH_ATTRIBUTES,
  TASK_QUEUE,
  validateNowUpdate,
  type AcknowledgeWarningsInput,
  type ApproveCutoverInput,
  type RetryResult,
  type ValidateNowInput,
} from '../workflows/messages';
import { parseSpec, SpecError, type MigrationSpec, type MigrationSpecInput } from '../workflows/spec';
import type { CopyHeartbeat, MigrationProgress, MigrationResult, MigrationTuning, Phase, ValidationReport } from '../workflows/types';
import type { migrationWorkflow } from '../workflows/migration';

export { connectClient, loadConnectionOptions, describeConnection, namespace, TemporalUnreachableError, ConnectionConfigError } from './connection';
export type { FerryConnectionOptions, ConnectClientOptions } from './connection';
export { loadSpecFile, readSpecData, SpecFileError } from './spec-file';
export type { SpecFileErrorKind } from './spec-file';
export { parseSpec, SpecError, migrationSpecSchema } from '../workflows/spec';
export type { MigrationSpec, MigrationSpecInput, SpecIssue, Endpoint } from '../workflows/spec';
export { migrationWorkflowId, TASK_QUEUE, SEARCH_ATTRIBUTES } from '../workflows/messages';
export type { ApproveCutoverInput, AbortInput, AcknowledgeWarningsInput, RetryResult, ValidateNowInput } from '../workflows/messages';
export type * from '../workflows/types';

/** The workflow type registered by the worker (workflows/index.ts). */
export const WORKFLOW_TYPE = 'migrationWorkflow';

// Record<Phase, true>: tsc fails here when a phase is added to workflows/types.ts but not below.
const phaseSet = {
  starting: true,
  precheck: true,
  awaiting_acknowledgement: true,
  provision: true,
  fence: true,
  full_load: true,
  cdc: true,
  post_load: true,
  awaiting_cutover: true,
  cutover: true,
  validate: true,
  cleanup: true,
  completed: true,
  failed: true,
  aborting: true,
  aborted: true,
} satisfies Record<Phase, true>;

/** Every phase in workflow order, for validating user input (e.g. `ferry list --phase`) before it reaches a query. */
export const PHASES = Object.keys(phaseSet) as readonly Phase[];

const keys = {
  phase: defineSearchAttributeKey(SEARCH_ATTRIBUTES.phase, SearchAttributeType.KEYWORD),
  engine: defineSearchAttributeKey(SEARCH_ATTRIBUTES.engine, SearchAttributeType.KEYWORD),
  migration: defineSearchAttributeKey(SEARCH_ATTRIBUTES.migration, SearchAttributeType.KEYWORD),
  mode: defineSearchAttributeKey(SEARCH_ATTRIBUTES.mode, SearchAttributeType.KEYWORD),
};

// ------------------------------------------------------------------------------------ errors

/** No migration with this workflow id (never started, mistyped, or past the namespace's retention). */
export class MigrationNotFoundError extends Error {
  constructor(readonly migrationId: string) {
    super(`migration ${migrationId} not found (no workflow with this id in the namespace)`);
    this.name = 'MigrationNotFoundError';
  }
}

/** The migration (or Temporal) refused the request: an update's validator, a finished migration, a running duplicate. */
export class RequestRejectedError extends Error {
  constructor(
    readonly migrationId: string,
    readonly request: string,
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(`${request} rejected for ${migrationId}: ${reason}`, options);
    this.name = 'RequestRejectedError';
  }
}

/** A migration with this name is running; a name can be reused only once its migration has ended. */
export class MigrationAlreadyRunningError extends RequestRejectedError {
  constructor(migrationId: string, options?: { cause?: unknown }) {
    super(
      migrationId,
      'start',
      `a migration with this name is already running; watch it with 'ferry status ${migrationId}', or abort it before starting it again`,
      options,
    );
    this.name = 'MigrationAlreadyRunningError';
  }
}

/**
 * No worker answered in time (an update needs a worker to accept it, a query to answer it).
 * An update may still be applied once a worker polls again: check with `status` before repeating.
 */
export class RequestTimedOutError extends RequestRejectedError {
  constructor(migrationId: string, request: string, seconds: number, options?: { cause?: unknown }) {
    super(
      migrationId,
      request,
      `no worker answered within ${seconds}s (is a Ferry worker polling the task queue?); an update may still be applied when a worker picks it up`,
      options,
    );
    this.message = `${request} for ${migrationId} not answered: ${this.reason}`;
    this.name = 'RequestTimedOutError';
  }
}

/** The migration's workflow ended without a result: failed, cancelled, terminated or timed out. */
export class MigrationFailedError extends Error {
  constructor(
    readonly migrationId: string,
    readonly status: WorkflowExecutionStatusName | 'UNKNOWN',
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(`migration ${migrationId} ended ${status.toLowerCase()}: ${reason}`, options);
    this.name = 'MigrationFailedError';
  }
}

/** `ferry-<name>` from a workflow id or a migration name (names may be given without the prefix). */
export function migrationIdFrom(idOrName: string): string {
  const s = idOrName.trim();
  if (s === '') throw new Error('a migration id or name is required');
  return s.startsWith('ferry-') ? s : migrationWorkflowId(s);
}

/** The innermost message of a Temporal failure chain (ActivityFailure -> ApplicationFailure -> ...). */
export function rootMessage(err: unknown): string {
  let e: unknown = err;
  while (e instanceof Error && e.cause instanceof Error) e = e.cause;
  return e instanceof Error ? e.message : String(e);
}

// gRPC status codes (numbers, so we need not depend on @grpc/grpc-js directly).
const GRPC_DEADLINE_EXCEEDED = 4;
const GRPC_NOT_FOUND = 5;
const GRPC_UNAVAILABLE = 14;

function grpcCode(err: unknown): number | undefined {
  const grpc = err instanceof ServiceError && err.cause ? err.cause : err;
  return isGrpcServiceError(grpc) ? Number(grpc.code) : undefined;
}

/** gRPC UNAVAILABLE on a call: the server went away after we connected. */
function isUnreachable(err: unknown): boolean {
  return grpcCode(err) === GRPC_UNAVAILABLE;
}

// ------------------------------------------------------------------------------------ types

export interface StartOptions {
  /** Defaults to `ferry-<spec.name>`; the default is what the CLI and the UI links expect. */
  workflowId?: string;
  /** Test knobs (retry attempts, heartbeat timeout...): production uses the defaults. */
  tuning?: MigrationTuning;
  /** Defaults to FERRY_TASK_QUEUE or `ferry`, the worker's own default. */
  taskQueue?: string;
}

export interface StartedMigration {
  id: string;
  runId: string;
  name: string;
  /** The validated spec with defaults applied, exactly as the workflow received it. */
  spec: MigrationSpec;
}

export interface MigrationSummary {
  id: string;
  runId: string;
  /** FerryMigration, or the id without `ferry-` when the attribute is missing. */
  name: string;
  /** FerryPhase as last upserted by the workflow; undefined before its first workflow task. */
  phase?: Phase;
  /** Temporal's execution status: RUNNING, COMPLETED, FAILED, CANCELLED, TERMINATED, ... */
  status: WorkflowExecutionStatusName;
  startTime: Date;
  closeTime?: Date;
}

export interface MigrationStatus extends MigrationSummary {
  running: boolean;
  /** Live (query) while running; from the result once completed; undefined if no worker answered. */
  progress?: MigrationProgress;
  /** Present once the workflow completed (outcome completed or aborted). */
  result?: MigrationResult;
  /** Why the workflow ended without a result (failed, cancelled, terminated, timed out). */
  failure?: string;
  /** Why progress is missing while running (e.g. no worker polling the task queue). */
  progressUnavailable?: string;
  /**
   * Chunks being copied right now, from the copy activities' last heartbeats (running migrations).
   * `progress` counts a chunk once its activity has completed; liveProgress() adds these.
   */
  inFlight?: ChunkInFlight[];
}

export interface ChunkInFlight {
  /** TableProgress.source of the chunk's table. */
  table: string;
  chunkId: string;
  rows: number;
  bytes: number;
}

/**
 * `status.progress` with the chunks in flight added to their tables and the totals (a display
 * view: a chunk that completed between the two reads is counted once, as done).
 */
export function liveProgress(status: Pick<MigrationStatus, 'progress' | 'inFlight'>): MigrationProgress | undefined {
  const p = status.progress;
  if (!p || !status.inFlight?.length) return p;
  const tables = p.tables.map((t) => ({ ...t }));
  const totals = { ...p.totals };
  const bySource = new Map(tables.map((t) => [t.source, t]));
  for (const c of status.inFlight) {
    const t = bySource.get(c.table);
    if (!t || (t.chunksTotal > 0 && t.chunksDone >= t.chunksTotal)) continue;
    t.rows += c.rows;
    t.bytes += c.bytes;
    totals.rows += c.rows;
    totals.bytes += c.bytes;
  }
  return { ...p, tables, totals };
}

export interface RequestOptions {
  /** How long a worker has to answer: updates default to 30 s, the progress query to 10 s. */
  timeoutMs?: number;
}

export interface ListOptions {
  phase?: Phase;
  /** Only running (true) or only closed (false) migrations. */
  running?: boolean;
  /** Default 50. */
  limit?: number;
}

// ------------------------------------------------------------------------------------ client

export class FerryClient {
  constructor(
    readonly client: Client,
    private readonly defaults: { taskQueue?: string; address?: string } = {},
  ) {}

  /** Connect with the shared settings (client/connection.ts). Throws TemporalUnreachableError. */
  static async connect(options: ConnectClientOptions & { taskQueue?: string } = {}): Promise<FerryClient> {
    const address = options.connection?.address ?? loadConnectionOptions().address;
    return new FerryClient(await connectClient(options), { taskQueue: options.taskQueue, address });
  }

  async close(): Promise<void> {
    await this.client.connection.close();
  }

  /** The typed workflow handle, for anything this class does not wrap. */
  handle(idOrName: string): WorkflowHandle<typeof migrationWorkflow> {
    return this.client.workflow.getHandle<typeof migrationWorkflow>(migrationIdFrom(idOrName));
  }

  /**
   * Validate (SpecError names every bad field, before anything is sent) and start a migration.
   * A name whose previous migration has ended can be reused; a running one is refused
   * (MigrationAlreadyRunningError).
   */
  async startMigration(specInput: MigrationSpecInput | MigrationSpec, options: StartOptions = {}): Promise<StartedMigration> {
    const spec = parseSpec(specInput);
    const workflowId = options.workflowId ?? migrationWorkflowId(spec.name);
    const endpoint = (e: MigrationSpec['source']) => `${e.host}:${e.port}/${e.database}`;
    try {
      const handle = await this.client.workflow.start<typeof migrationWorkflow>(WORKFLOW_TYPE, {
        taskQueue: options.taskQueue ?? this.defaults.taskQueue ?? (process.env.FERRY_TASK_QUEUE || TASK_QUEUE),
        workflowId,
        args: [{ spec, ...(options.tuning ? { tuning: options.tuning } : {}) }],
        // Reuse a finished migration's name; refuse while one with the name runs.
        workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE,
        workflowIdConflictPolicy: WorkflowIdConflictPolicy.FAIL,
        // Set at start so the UI lists the migration (phase 'starting') before its first task runs.
        typedSearchAttributes: [
          { key: keys.migration, value: spec.name },
          { key: keys.engine, value: spec.engine },
          { key: keys.mode, value: spec.mode },
          { key: keys.phase, value: 'starting' },
        ],
        staticSummary: `Ferry ${spec.mode} migration ${spec.name}: ${endpoint(spec.source)} -> ${endpoint(spec.target)}`,
      });
      return { id: workflowId, runId: handle.firstExecutionRunId, name: spec.name, spec };
    } catch (err) {
      if (err instanceof WorkflowExecutionAlreadyStartedError) throw new MigrationAlreadyRunningError(workflowId, { cause: err });
      if (err instanceof SpecError) throw err;
      throw await this.translate(workflowId, 'start', err);
    }
  }

  /**
   * Approve the cutover (Update `approveCutover`). The workflow's validator refuses an approval
   * before the gate, a second one, or one during an abort: RequestRejectedError carries its message.
   */
  async approveCutover(idOrName: string, input: ApproveCutoverInput = {}, options: RequestOptions = {}): Promise<MigrationProgress> {
    const id = migrationIdFrom(idOrName);
    return this.update(id, 'approve', options, () => this.handle(id).executeUpdate(approveCutoverUpdate, { args: [input] }));
  }

  /** Accept precheck warnings (all, or ids / `prefix*` patterns) so a held migration goes on. */
  async acknowledgeWarnings(idOrName: string, input: AcknowledgeWarningsInput = {}, options: RequestOptions = {}): Promise<MigrationProgress> {
    const id = migrationIdFrom(idOrName);
    return this.update(id, 'acknowledge', options, () => this.handle(id).executeUpdate(acknowledgeWarningsUpdate, { args: [input] }));
  }

  /** Abort (Signal `abort`): compensations run, then the workflow ends with outcome `aborted`. */
  async abort(idOrName: string, reason?: string): Promise<void> {
    const id = migrationIdFrom(idOrName);
    try {
      await this.handle(id).signal(abortSignal, reason === undefined ? {} : { reason });
    } catch (err) {
      throw await this.translate(id, 'abort', err);
    }
  }

  /** Re-run the failed step (Update `retry`); rejected unless the migration waits in `failed`. */
  async retry(idOrName: string, options: RequestOptions = {}): Promise<RetryResult> {
    const id = migrationIdFrom(idOrName);
    return this.update(id, 'retry', options, () => this.handle(id).executeUpdate(retryUpdate));
  }

  /**
   * Validate now, during change capture (Update `validateNow`): schema and data while changes keep
   * streaming; what differs is compared again once the target has caught up, and only
   * differences that persist are reported (`report.live`: as of which LSN, which tables were
   * re-checked). Refused outside phase `cdc`, while one runs, or during an abort
   * (RequestRejectedError). Waits for the report: `timeoutMs` defaults to one hour.
   */
  async validateNow(idOrName: string, input: ValidateNowInput = {}, options: RequestOptions = {}): Promise<ValidationReport> {
    const id = migrationIdFrom(idOrName);
    return this.update(id, 'validate now', { ...options, timeoutMs: options.timeoutMs ?? 3_600_000 }, () =>
      this.handle(id).executeUpdate(validateNowUpdate, { args: [input] }),
    );
  }

  /** Run an update under a deadline: without a worker, executeUpdate would wait forever. */
  private async update<T>(id: string, request: string, options: RequestOptions, run: () => Promise<T>): Promise<T> {
    const ms = options.timeoutMs ?? 30_000;
    try {
      return await this.client.connection.withDeadline(Date.now() + ms, run);
    } catch (err) {
      if (err instanceof WorkflowUpdateRPCTimeoutOrCancelledError || isGrpcDeadlineError(err)) {
        throw new RequestTimedOutError(id, request, Math.round(ms / 1000), { cause: err });
      }
      throw await this.translate(id, request, err);
    }
  }

  /**
   * The live progress (Query `progress`). Needs a worker to answer; bounded by `timeoutMs`
   * (default 10 s) so a missing worker does not hang the caller.
   */
  async getProgress(idOrName: string, options: RequestOptions = {}): Promise<MigrationProgress> {
    const id = migrationIdFrom(idOrName);
    try {
      return await this.client.connection.withDeadline(Date.now() + (options.timeoutMs ?? 10_000), () =>
        this.handle(id).query(progressQuery),
      );
    } catch (err) {
      throw await this.translate(id, 'progress query', err);
    }
  }

  /**
   * Wait for the migration to end. Resolves with the result (outcome `completed` or `aborted`);
   * throws MigrationFailedError if the workflow failed, was cancelled, terminated or timed out.
   * `signal` stops the wait (its long poll would otherwise outlive close() by up to ~20 s).
   */
  async result(idOrName: string, options: { signal?: AbortSignal } = {}): Promise<MigrationResult> {
    const id = migrationIdFrom(idOrName);
    try {
      const wait = () => this.handle(id).result();
      return await (options.signal ? this.client.connection.withAbortSignal(options.signal, wait) : wait());
    } catch (err) {
      if (err instanceof WorkflowFailedError) {
        const status = await this.describe(id).then(
          (d) => d.status,
          () => 'UNKNOWN' as const,
        );
        throw new MigrationFailedError(id, status, rootMessage(err.cause ?? err), { cause: err });
      }
      throw await this.translate(id, 'result', err);
    }
  }

  /** Execution status and search attributes, without asking a worker. */
  async describe(idOrName: string): Promise<MigrationSummary> {
    return summarize(await this.describeExecution(migrationIdFrom(idOrName)));
  }

  /** The server's whole description (pending activities too), errors translated as describe's. */
  private async describeExecution(id: string): Promise<WorkflowExecutionDescription> {
    try {
      return await this.handle(id).describe();
    } catch (err) {
      throw await this.translate(id, 'describe', err, false);
    }
  }

  /**
   * Everything `ferry status` shows: status from the server, progress from the workflow (query
   * while running, the result once completed), the failure message otherwise.
   */
  async status(idOrName: string, options: RequestOptions = {}): Promise<MigrationStatus> {
    const description = await this.describeExecution(migrationIdFrom(idOrName));
    const summary = summarize(description);
    const status: MigrationStatus = { ...summary, running: summary.status === 'RUNNING' };
    if (summary.status === 'COMPLETED') {
      status.result = await this.handle(summary.id).result();
      status.progress = status.result.progress;
      return status;
    }
    if (!status.running) {
      status.failure = await this.handle(summary.id)
        .result()
        .then(
          () => undefined,
          (err: unknown) => rootMessage(err instanceof WorkflowFailedError ? (err.cause ?? err) : err),
        );
    }
    try {
      status.progress = await this.getProgress(summary.id, options);
      const inFlight = await this.chunksInFlight(description).catch(() => []); // display only: never fails a status
      if (inFlight.length > 0) status.inFlight = inFlight;
    } catch (err) {
      if (err instanceof TemporalUnreachableError) throw err;
      // A closed workflow answers queries only through a worker that can replay it.
      status.progressUnavailable = describeQueryFailure(err);
    }
    return status;
  }

  /** The chunk each running copy activity reported last in its heartbeat. */
  private async chunksInFlight(description: WorkflowExecutionDescription): Promise<ChunkInFlight[]> {
    const out: ChunkInFlight[] = [];
    for (const a of description.raw.pendingActivities ?? []) {
      if (a.activityType?.name !== 'copyChunks' || !a.heartbeatDetails?.payloads?.length) continue;
      const [beat] = (await decodeArrayFromPayloads(this.client.options.loadedDataConverter, a.heartbeatDetails.payloads)) as [CopyHeartbeat | undefined];
      const c = beat?.current;
      if (c?.table !== undefined) out.push({ table: c.table, chunkId: c.chunkId, rows: c.rows, bytes: c.bytes });
    }
    return out;
  }

  /** Migrations in the namespace, newest first (visibility query on WorkflowType and FerryPhase). */
  async list(options: ListOptions = {}): Promise<MigrationSummary[]> {
    const limit = options.limit ?? 50;
    const query = listQuery(options);
    const out: MigrationSummary[] = [];
    try {
      for await (const info of this.client.workflow.list({ query, pageSize: Math.min(limit, 1000) })) {
        out.push(summarize(info));
        if (out.length >= limit) break;
      }
    } catch (err) {
      throw await this.translate('(list)', 'list', err, false);
    }
    return out;
  }

  /**
   * Turn an SDK error into one of ours. A signal or update sent to a finished workflow comes back
   * as "not found"; describe tells that apart from a migration that never existed.
   */
  private async translate(id: string, request: string, err: unknown, checkClosed = true): Promise<Error> {
    if (err instanceof TemporalUnreachableError || err instanceof RequestRejectedError || err instanceof MigrationNotFoundError) return err;
    if (isUnreachable(err)) {
      return new TemporalUnreachableError(this.defaults.address ?? 'the configured address', this.client.options.namespace, { cause: err });
    }
    if (err instanceof WorkflowUpdateFailedError) {
      // The validator's Error arrives as the ApplicationFailure cause: its message is the reason.
      return new RequestRejectedError(id, request, rootMessage(err.cause ?? err), { cause: err });
    }
    if (err instanceof WorkflowNotFoundError || grpcCode(err) === GRPC_NOT_FOUND) {
      if (checkClosed) {
        const closed = await this.handle(id)
          .describe()
          .then(
            (d) => d.status.name,
            () => undefined,
          );
        if (closed && closed !== 'RUNNING') {
          return new RequestRejectedError(id, request, `the migration has already ended (${closed.toLowerCase()})`, { cause: err });
        }
      }
      return new MigrationNotFoundError(id);
    }
    if (/search attribute/i.test(rootMessage(err))) {
      return new RequestRejectedError(
        id,
        request,
        `${rootMessage(err)} (Ferry's search attributes ${Object.values(SEARCH_ATTRIBUTES).join(', ')} must be registered in the namespace; scripts/dev.sh does it)`,
        { cause: err },
      );
    }
    return err instanceof Error ? err : new Error(String(err));
  }
}

function listQuery(options: ListOptions): string {
  const clauses = [`WorkflowType = '${WORKFLOW_TYPE}'`];
  if (options.phase !== undefined) {
    // Validated against the known phases: user input never reaches the query string unchecked.
    if (!PHASES.includes(options.phase)) throw new Error(`unknown phase '${options.phase}'; phases are: ${PHASES.join(', ')}`);
    clauses.push(`${SEARCH_ATTRIBUTES.phase} = '${options.phase}'`);
  }
  if (options.running === true) clauses.push(`ExecutionStatus = 'Running'`);
  if (options.running === false) clauses.push(`ExecutionStatus != 'Running'`);
  return clauses.join(' AND ');
}

function summarize(
  info: Pick<WorkflowExecutionInfo, 'workflowId' | 'runId' | 'status' | 'startTime' | 'closeTime' | 'typedSearchAttributes'>,
): MigrationSummary {
  const sa = info.typedSearchAttributes;
  const summary: MigrationSummary = {
    id: info.workflowId,
    runId: info.runId,
    name: sa.get(keys.migration) ?? info.workflowId.replace(/^ferry-/, ''),
    status: info.status.name,
    startTime: info.startTime,
  };
  const phase = sa.get(keys.phase);
  if (phase !== undefined) summary.phase = phase as Phase;
  if (info.closeTime) summary.closeTime = info.closeTime;
  return summary;
}

function describeQueryFailure(err: unknown): string {
  const msg = rootMessage(err);
  if (grpcCode(err) === GRPC_DEADLINE_EXCEEDED || /deadline|timed? ?out/i.test(msg)) return `no worker answered the progress query in time (is a Ferry worker polling the task queue?)`;
  return msg;
}
