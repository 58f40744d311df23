// PITR activities: thin. Resolve the password reference, open the archive, call an adapter,
// heartbeat (with resumable details where a slice can resume), map errors to failures.
import os from 'node:os';
import path from 'node:path';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { ScheduleAlreadyRunning, ScheduleOverlapPolicy } from '@temporalio/client';
import { GcsStore, type GcsOptions } from './adapters/gcs';
import type { SecretResolver } from './adapters/secrets';
import { takeBaseBackup } from './adapters/pitr/basebackup';
import { ensureSlot, streamWal } from './adapters/pitr/stream';
import { applyRetention, computeInventory, listArchive } from './adapters/pitr/archive';
import { restoreToNewCluster, stopCluster } from './adapters/pitr/restore';
import type { PgConn } from './adapters/pitr/common';
import { toFailure } from './context';
import type {
  ArchiveInventory,
  BaseBackupInfo,
  BaseBackupWorkflowInput,
  PitrDatabase,
  PitrStorage,
  RestoreInput,
  RestoreResult,
  RetentionResult,
  StreamSliceResult,
} from '../workflows/pitrTypes';
import { epochMicros } from '../workflows/pitrTypes';

export interface PitrDeps {
  secrets: SecretResolver;
  /** fake-gcs-server in development (FERRY_GCS_ENDPOINT), Google otherwise. */
  gcs?: GcsOptions;
  /** Spools (WAL), base backup staging. Default: $TMPDIR/ferry-pitr. */
  workDir?: string;
  /** OS user the restored server runs as (default postgres when the worker is root). */
  serverUser?: string;
  heartbeatIntervalMs?: number;
}

export interface ScheduleInput {
  scheduleId: string;
  intervalSeconds: number;
  taskQueue: string;
  workflowId: string;
  args: BaseBackupWorkflowInput;
  /** Take one backup right away (a new protection has none). */
  triggerNow: boolean;
}

export interface StreamSliceInput {
  name: string;
  slot: string;
  database: PitrDatabase;
  storage: PitrStorage;
  durationMs: number;
  uploadIntervalMs: number;
  heartbeatCommits: boolean;
}

export interface RestoreActivityInput extends RestoreInput {
  backupId: string;
}

function beat(details?: unknown): void {
  try {
    Context.current().heartbeat(details);
  } catch {
    // outside an activity (unit use)
  }
}

function cancelSignal(): AbortSignal | undefined {
  try {
    return Context.current().cancellationSignal;
  } catch {
    return undefined;
  }
}

export function createPitrActivities(deps: PitrDeps) {
  const workDir = deps.workDir ?? path.join(os.tmpdir(), 'ferry-pitr');
  const gcsOptions: GcsOptions = deps.gcs ?? (process.env.FERRY_GCS_ENDPOINT ? { endpoint: process.env.FERRY_GCS_ENDPOINT } : {});
  const store = (s: PitrStorage) => new GcsStore(s, gcsOptions);
  const conn = async (db: PitrDatabase, field: string): Promise<PgConn> => ({
    host: db.host,
    port: db.port,
    user: db.user,
    database: db.database,
    password: db.password === undefined ? undefined : await deps.secrets(db.password, `${field}.password`),
  });

  /** Heartbeat every interval while `work` runs; errors keep their Ferry type. */
  async function heartbeating<T>(work: () => Promise<T>, details?: () => unknown): Promise<T> {
    beat(details?.());
    const timer = setInterval(() => beat(details?.()), deps.heartbeatIntervalMs ?? 5_000);
    try {
      return await work();
    } catch (err) {
      throw toFailure(err);
    } finally {
      clearInterval(timer);
    }
  }

  return {
    /** Check the server can be archived and create the replication slot, before any backup. */
    async pitrPrepare(input: { name: string; slot: string; database: PitrDatabase; storage: PitrStorage }): Promise<{ slotCreated: boolean }> {
      return heartbeating(async () => {
        await store(input.storage).ensureBucket();
        const { created } = await ensureSlot(await conn(input.database, 'database'), input.slot);
        return { slotCreated: created };
      });
    },

    /** Create (or update) the base backup Schedule; idempotent across continue-as-new. */
    async pitrEnsureSchedule(input: ScheduleInput): Promise<{ created: boolean }> {
      const client = Context.current().client;
      const options = {
        spec: { intervals: [{ every: `${input.intervalSeconds}s` as const }] },
        action: {
          type: 'startWorkflow' as const,
          workflowType: 'baseBackupWorkflow',
          taskQueue: input.taskQueue,
          workflowId: input.workflowId,
          args: [input.args],
        },
        policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 minute' },
      };
      try {
        await client.schedule.create({ scheduleId: input.scheduleId, ...options, state: { triggerImmediately: input.triggerNow, note: `ferry pitr ${input.args.name}` } });
        return { created: true };
      } catch (err) {
        if (!(err instanceof ScheduleAlreadyRunning)) throw err;
        const handle = client.schedule.getHandle(input.scheduleId);
        await handle.update((prev) => ({ ...prev, spec: options.spec, action: options.action, policies: { ...prev.policies, ...options.policies } }));
        if (input.triggerNow) await handle.trigger(ScheduleOverlapPolicy.SKIP);
        return { created: false };
      }
    },

    async pitrDeleteSchedule(scheduleId: string): Promise<void> {
      try {
        await Context.current().client.schedule.getHandle(scheduleId).delete();
      } catch (err) {
        if ((err as Error).name !== 'ScheduleNotFoundError') throw err;
      }
    },

    async pitrBaseBackup(input: BaseBackupWorkflowInput): Promise<Omit<BaseBackupInfo, 'objects'>> {
      let step = 'start';
      return heartbeating(
        async () => {
          const { objects: _objects, ...info } = await takeBaseBackup({
            conn: await conn(input.database, 'database'),
            store: store(input.storage),
            workDir,
            signal: cancelSignal(),
            onProgress: (s) => (step = s),
          });
          return info;
        },
        () => ({ step }),
      );
    },

    /** One slice of WAL streaming: runs `durationMs`, heartbeating what is archived. */
    async pitrStreamWal(input: StreamSliceInput): Promise<StreamSliceResult> {
      let last: StreamSliceResult | undefined;
      return heartbeating(
        () =>
          (async () =>
            streamWal({
              conn: await conn(input.database, 'database'),
              store: store(input.storage),
              spoolDir: path.join(workDir, 'spool', input.slot),
              slot: input.slot,
              durationMs: input.durationMs,
              uploadIntervalMs: input.uploadIntervalMs,
              heartbeatCommits: input.heartbeatCommits,
              signal: cancelSignal(),
              onProgress: (r) => (last = r),
            }))(),
        () => last,
      );
    },

    /** Prune what the window no longer needs (workflow time passed in: `nowIso`). */
    async pitrApplyRetention(input: { storage: PitrStorage; retentionSeconds: number; nowIso: string }): Promise<RetentionResult> {
      return heartbeating(async () => {
        const { plan, inventory } = await applyRetention(store(input.storage), epochMicros(input.nowIso), input.retentionSeconds);
        return { deletedBackups: plan.deleteBackups, deletedWal: plan.deleteObjects.length, keptFrom: plan.anchor, ...(plan.leased ? { leased: plan.leased } : {}), inventory };
      });
    },

    async pitrInventory(storage: PitrStorage): Promise<ArchiveInventory> {
      return heartbeating(async () => computeInventory(await listArchive(store(storage))));
    },

    async pitrRestore(input: RestoreActivityInput): Promise<RestoreResult> {
      let progress: unknown;
      return heartbeating(
        async () => {
          const outcome = await restoreToNewCluster({
            store: store(input.storage),
            backupId: input.backupId,
            target: input.target,
            dataDirectory: input.cluster.dataDirectory,
            port: input.cluster.port,
            user: input.cluster.user,
            password: input.cluster.password === undefined ? undefined : await deps.secrets(input.cluster.password, 'cluster.password'),
            runAs: deps.serverUser,
            replayTimeoutMs: (input.replayTimeoutSeconds ?? 3600) * 1000,
            holder: `restore ${input.name}`,
            signal: cancelSignal(),
            onProgress: (p) => (progress = p),
          });
          return {
            name: input.name,
            backupId: input.backupId,
            target: input.target,
            reachedTime: outcome.reachedTime,
            reachedLsn: outcome.reachedLsn,
            dataDirectory: input.cluster.dataDirectory,
            port: input.cluster.port,
            walSegmentsReplayed: outcome.walSegmentsReplayed,
            seconds: outcome.seconds,
          };
        },
        () => progress,
      );
    },

    /** Stop a restored cluster and remove its directory (tests, or an operator discarding a restore). */
    async pitrDropCluster(dataDirectory: string): Promise<void> {
      if (!path.isAbsolute(dataDirectory)) throw ApplicationFailure.nonRetryable(`data directory must be absolute: ${dataDirectory}`, 'InvalidInput');
      await stopCluster(dataDirectory, deps.serverUser, true);
    },
  };
}

export type PitrActivities = ReturnType<typeof createPitrActivities>;
