// protectionWorkflow: continuous archiving of one PostgreSQL server to GCS, so it can be restored
// to any second of the retention window (restoreWorkflow in ./restore.ts).
//
//   prepare (settings, replication slot) -> base backup Schedule (triggered now if new)
//   -> loop: stream WAL for a slice -> metrics -> retention + inventory -> ... -> continue-as-new
//
// Base backups are taken by `baseBackupWorkflow`, started by a Temporal Schedule every
// baseBackupIntervalSeconds; each signals this workflow when done. The `stop` signal (or
// cancellation) deletes the schedule; the archive and the slot stay (the slot holds WAL on the
// server: drop it when protection ends for good).
import {
  ApplicationFailure,
  CancellationScope,
  continueAsNew,
  getExternalWorkflowHandle,
  isCancellation,
  log,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  sleep,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import type { PitrActivities } from '../activities/pitr';
import {
  DEFAULT_POLICY,
  baseBackupScheduleId,
  baseBackupTakenSignal,
  describeRange,
  epochMicros,
  inventoryQuery,
  protectionStatusQuery,
  slotName,
  stopProtectionSignal,
  type BaseBackupWorkflowInput,
  type ProtectionInput,
  type ProtectionPhase,
  type ProtectionStatus,
} from './pitrTypes';

export { protectionStatusQuery, inventoryQuery, baseBackupTakenSignal, stopProtectionSignal } from './pitrTypes';

// The search attributes scripts/dev.sh registers for migrations serve protection too:
// FerryPhase = protection phase, FerryEngine = 'pitr', FerryMigration = name, FerryLagSeconds = RPO.
const phaseKey = defineSearchAttributeKey('FerryPhase', SearchAttributeType.KEYWORD);
const engineKey = defineSearchAttributeKey('FerryEngine', SearchAttributeType.KEYWORD);
const nameKey = defineSearchAttributeKey('FerryMigration', SearchAttributeType.KEYWORD);
const lagKey = defineSearchAttributeKey('FerryLagSeconds', SearchAttributeType.DOUBLE);

function errorMessage(err: unknown): string {
  let e: unknown = err;
  while (e instanceof Error && e.cause instanceof Error && e.name === 'ActivityFailure') e = e.cause;
  return e instanceof Error ? e.message : String(e);
}

function renderDetails(s: ProtectionStatus): string {
  const m = s.metrics;
  const lines = [
    `## Ferry PITR protection \`${s.name}\``,
    '',
    `**Phase:** ${s.phase}  `,
    `**Restorable:** ${describeRange(s.inventory?.restorable)}  `,
    `**RPO:** ${m.rpoSeconds === undefined ? 'not measured yet' : `${m.rpoSeconds.toFixed(1)} s`} (archived through ${m.archivedThrough?.time ?? '-'})  `,
    `**Last archived WAL:** ${m.lastArchivedWal ?? '-'}  `,
    `**Base backups:** ${s.inventory?.backups.length ?? 0} kept, ${m.baseBackups} taken, every ${s.policy.baseBackupIntervalSeconds} s (schedule \`${s.scheduleId}\`)  `,
    `**Retention:** ${s.policy.retentionSeconds} s; pruned ${m.pruned.backups} backups, ${m.pruned.walObjects} WAL objects  `,
    `**WAL uploaded:** ${m.walObjectsUploaded} objects, ${(m.walBytesUploaded / 1024 / 1024).toFixed(1)} MB`,
  ];
  if (s.lastError) lines.push('', `**Last error (${s.lastError.at}):** ${s.lastError.message}`);
  return lines.join('\n');
}

export async function protectionWorkflow(input: ProtectionInput): Promise<ProtectionStatus> {
  if (!/^[a-z0-9][a-z0-9_-]*$/.test(input.name)) {
    throw ApplicationFailure.nonRetryable(`protection name '${input.name}' must match [a-z0-9][a-z0-9_-]*`, 'InvalidInput');
  }
  const policy = { ...DEFAULT_POLICY, ...input.policy };
  const info = workflowInfo();
  const slot = slotName(input.name);
  const status: ProtectionStatus = input.carried
    ? { ...input.carried, policy, phase: input.carried.phase === 'degraded' ? 'protecting' : input.carried.phase, runs: input.carried.runs + 1 }
    : {
        name: input.name,
        phase: 'starting',
        policy,
        scheduleId: baseBackupScheduleId(input.name),
        metrics: { walBytesUploaded: 0, walObjectsUploaded: 0, baseBackups: 0, pruned: { backups: 0, walObjects: 0 } },
        runs: 1,
      };

  const quick = proxyActivities<PitrActivities>({
    startToCloseTimeout: '10 minutes',
    heartbeatTimeout: '2 minutes',
    retry: { initialInterval: '1 second', maximumInterval: '1 minute', maximumAttempts: 5 },
  });
  const stream = proxyActivities<PitrActivities>({
    startToCloseTimeout: `${policy.streamSliceSeconds + 600} seconds`,
    heartbeatTimeout: `${Math.max(30, Math.ceil((policy.walUploadIntervalMs * 3) / 1000))} seconds`,
    retry: { initialInterval: '1 second', maximumInterval: '30 seconds', maximumAttempts: 3 },
  });

  const publish = () => {
    upsertSearchAttributes([
      { key: phaseKey, value: status.phase },
      { key: engineKey, value: 'pitr' },
      { key: nameKey, value: input.name },
      ...(status.metrics.rpoSeconds === undefined ? [] : [{ key: lagKey, value: status.metrics.rpoSeconds }]),
    ]);
    setCurrentDetails(renderDetails(status));
  };
  const enter = (phase: ProtectionPhase) => {
    status.phase = phase;
    publish();
  };

  let stopRequested = false;
  let backupsSignalled = 0;
  setHandler(protectionStatusQuery, () => status);
  setHandler(inventoryQuery, () => status.inventory);
  setHandler(baseBackupTakenSignal, (b) => {
    status.metrics.baseBackups += 1;
    status.metrics.lastBaseBackup = { id: b.id, endTime: b.endTime, bytes: b.bytes };
    backupsSignalled += 1;
    publish();
  });
  setHandler(stopProtectionSignal, (req) => {
    log.info('protection stop requested', { reason: req?.reason });
    stopRequested = true;
  });

  const refreshRetention = async () => {
    const at = new Date().toISOString();
    const r = await quick.pitrApplyRetention({ storage: input.storage, retentionSeconds: policy.retentionSeconds, nowIso: at });
    status.inventory = r.inventory;
    status.metrics.lastRetention = { at, anchor: r.keptFrom, deletedBackups: r.deletedBackups.length, deletedWal: r.deletedWal, ...(r.leased?.length ? { leasedBackups: r.leased.length } : {}) };
    status.metrics.pruned.backups += r.deletedBackups.length;
    status.metrics.pruned.walObjects += r.deletedWal;
  };

  const scheduleArgs: BaseBackupWorkflowInput = {
    name: input.name,
    protectionWorkflowId: info.workflowId,
    database: input.database,
    storage: input.storage,
  };

  try {
    if (!input.carried) {
      enter('starting');
      // The slot exists before the first backup starts, so no WAL after that backup can be lost.
      await quick.pitrPrepare({ name: input.name, slot, database: input.database, storage: input.storage });
    }
    await quick.pitrEnsureSchedule({
      scheduleId: status.scheduleId,
      intervalSeconds: policy.baseBackupIntervalSeconds,
      taskQueue: info.taskQueue,
      workflowId: `${status.scheduleId}-run`,
      args: scheduleArgs,
      triggerNow: !input.carried,
    });
    enter('protecting');

    let slices = 0;
    let seenBackups = 0;
    while (!stopRequested) {
      try {
        const r = await stream.pitrStreamWal({
          name: input.name,
          slot,
          database: input.database,
          storage: input.storage,
          durationMs: policy.streamSliceSeconds * 1000,
          uploadIntervalMs: policy.walUploadIntervalMs,
          heartbeatCommits: policy.heartbeatCommits,
        });
        const m = status.metrics;
        m.walBytesUploaded += r.bytesUploaded;
        m.walObjectsUploaded += r.objectsUploaded;
        if (r.lastObject) m.lastArchivedWal = r.lastObject;
        if (r.archivedThrough) m.archivedThrough = r.archivedThrough;
        if (m.archivedThrough) m.rpoSeconds = Math.max(0, (Date.now() * 1000 - epochMicros(m.archivedThrough.time)) / 1e6);
        m.measuredAt = new Date().toISOString();
        // Retention after each new backup and every few slices; its inventory answers the query.
        if (backupsSignalled !== seenBackups || slices % 5 === 0 || !status.inventory?.restorable) {
          seenBackups = backupsSignalled;
          await refreshRetention();
        }
        status.lastError = undefined;
        if (status.phase === 'degraded') status.phase = 'protecting';
        publish();
      } catch (err) {
        if (isCancellation(err)) throw err;
        status.lastError = { message: errorMessage(err), at: new Date().toISOString() };
        log.warn(`protection step failed: ${status.lastError.message}`);
        enter('degraded');
        await sleep(Math.min(60_000, policy.walUploadIntervalMs * 3));
      }
      slices += 1;
      if (!stopRequested && (slices >= policy.slicesPerRun || workflowInfo().continueAsNewSuggested)) {
        await continueAsNew<typeof protectionWorkflow>({ ...input, carried: status });
      }
    }
  } catch (err) {
    if (!isCancellation(err)) throw err;
    await CancellationScope.nonCancellable(async () => {
      enter('stopping');
      await quick.pitrDeleteSchedule(status.scheduleId);
      enter('stopped');
    });
    throw err;
  }
  enter('stopping');
  await quick.pitrDeleteSchedule(status.scheduleId);
  enter('stopped');
  return status;
}

/** Started by the protection's Schedule: one base backup, then tell the protection workflow. */
export async function baseBackupWorkflow(input: BaseBackupWorkflowInput): Promise<string> {
  const acts = proxyActivities<PitrActivities>({
    startToCloseTimeout: '12 hours',
    heartbeatTimeout: '2 minutes',
    retry: { initialInterval: '5 seconds', maximumInterval: '5 minutes', maximumAttempts: 5 },
  });
  upsertSearchAttributes([
    { key: engineKey, value: 'pitr-basebackup' },
    { key: nameKey, value: input.name },
  ]);
  const backup = await acts.pitrBaseBackup(input);
  setCurrentDetails(`## Base backup \`${backup.id}\`\n\n${backup.startLsn} .. ${backup.endLsn}, restorable from ${backup.endTime}, ${backup.bytes} bytes`);
  try {
    await getExternalWorkflowHandle(input.protectionWorkflowId).signal(baseBackupTakenSignal, backup);
  } catch (err) {
    // The protection may have continued-as-new at this moment or stopped: the archive is the truth.
    log.warn(`could not tell ${input.protectionWorkflowId} about backup ${backup.id}: ${errorMessage(err)}`);
  }
  return backup.id;
}
