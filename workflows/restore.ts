// restoreWorkflow: restore a protected database to a second (or an LSN, or the latest archived
// point) into a NEW cluster, from the archive protectionWorkflow keeps in GCS.
//
//   planning (inventory, target inside the restorable range?, newest base backup before it)
//   -> restoring (download + verify, unpack into a new data directory, start on the given port,
//      replay WAL to the target, promote) -> completed, with the time actually reached
//
// A target outside the range is refused (non-retryable TargetOutsideWindow) with the range in the
// message. A failed restore removes the half-built cluster; the live database is never touched.
import {
  ApplicationFailure,
  CancellationScope,
  isCancellation,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
} from '@temporalio/workflow';
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import type { PitrActivities } from '../activities/pitr';
import { checkTarget, describeRange, restoreProgressQuery, type RestoreInput, type RestorePhase, type RestoreProgress, type RestoreResult } from './pitrTypes';

export { restoreProgressQuery } from './pitrTypes';

const phaseKey = defineSearchAttributeKey('FerryPhase', SearchAttributeType.KEYWORD);
const engineKey = defineSearchAttributeKey('FerryEngine', SearchAttributeType.KEYWORD);
const nameKey = defineSearchAttributeKey('FerryMigration', SearchAttributeType.KEYWORD);

function describeTarget(t: RestoreInput['target']): string {
  return 'time' in t ? `time ${t.time}` : 'lsn' in t ? `LSN ${t.lsn}` : 'latest archived point';
}

function errorOf(err: unknown): { message: string; type?: string } {
  let e: unknown = err;
  while (e instanceof Error && e.cause instanceof Error && e.name === 'ActivityFailure') e = e.cause;
  if (e instanceof ApplicationFailure) return { message: e.message, type: e.type ?? undefined };
  return { message: e instanceof Error ? e.message : String(e) };
}

export async function restoreWorkflow(input: RestoreInput): Promise<RestoreResult> {
  const progress: RestoreProgress = { name: input.name, phase: 'starting', target: input.target };
  const quick = proxyActivities<PitrActivities>({
    startToCloseTimeout: '5 minutes',
    heartbeatTimeout: '1 minute',
    retry: { initialInterval: '1 second', maximumInterval: '30 seconds', maximumAttempts: 5 },
  });
  const long = proxyActivities<PitrActivities>({
    startToCloseTimeout: `${(input.replayTimeoutSeconds ?? 3600) + 3600} seconds`,
    heartbeatTimeout: '2 minutes',
    // A restore that failed for a reason worth retrying starts over from an empty directory.
    retry: { initialInterval: '5 seconds', maximumInterval: '1 minute', maximumAttempts: 3 },
  });

  const enter = (phase: RestorePhase) => {
    progress.phase = phase;
    upsertSearchAttributes([
      { key: phaseKey, value: `restore_${phase}` },
      { key: engineKey, value: 'pitr-restore' },
      { key: nameKey, value: input.name },
    ]);
    const lines = [
      `## Ferry PITR restore \`${input.name}\``,
      '',
      `**Phase:** ${phase}  `,
      `**Target:** ${describeTarget(input.target)}  `,
      `**Restorable:** ${describeRange(progress.restorable)}  `,
      `**New cluster:** ${input.cluster.dataDirectory} on port ${input.cluster.port}`,
    ];
    if (progress.backupId) lines.push(`**Base backup:** ${progress.backupId}  `);
    if (progress.result) lines.push(`**Reached:** ${progress.result.reachedTime ?? '-'} (LSN ${progress.result.reachedLsn}) in ${progress.result.seconds.total.toFixed(1)} s`);
    if (progress.error) lines.push('', `**Error:** ${progress.error}`);
    setCurrentDetails(lines.join('\n'));
  };
  setHandler(restoreProgressQuery, () => progress);

  enter('planning');
  const inventory = await quick.pitrInventory(input.storage);
  progress.restorable = inventory.restorable;
  const check = checkTarget(inventory, input.target);
  if (!check.ok) {
    progress.error = check.reason;
    enter('refused');
    throw ApplicationFailure.nonRetryable(check.reason, check.type, { restorable: inventory.restorable });
  }
  progress.backupId = check.backup.id;
  enter('restoring');
  try {
    const result = await long.pitrRestore({ ...input, backupId: check.backup.id });
    progress.result = result;
    enter('completed');
    return result;
  } catch (err) {
    progress.error = errorOf(err).message;
    if (isCancellation(err)) {
      // The activity removes what it built when it fails; after a cancellation make sure of it.
      await CancellationScope.nonCancellable(() => quick.pitrDropCluster(input.cluster.dataDirectory));
    }
    enter('failed');
    throw err;
  }
}
