// Reading DMS task state: failure, "full load over", and how a (re)start must be sent. Pure.
import type { ReplicationTask, TableStatistics } from '@aws-sdk/client-database-migration-service';
import type { DmsStartType, DmsTableProgress } from '../../../workflows/dmsTypes';

/** Stop reasons that mean DMS stopped on a problem, not because it finished or was asked to. */
const ERROR_STOP = /ERROR|LOW_MEMORY|LOW_DISK|LIMITS_REACHED/i;
const FULL_LOAD_FINISHED = /FULL_LOAD_ONLY_FINISHED|STOPPED_AFTER_FULL_LOAD/i;

export function taskFailure(task: ReplicationTask, tables?: DmsTableProgress[] | null): string | undefined {
  const id = task.ReplicationTaskIdentifier ?? task.ReplicationTaskArn ?? 'replication task';
  const why = task.LastFailureMessage?.trim();
  if (task.Status === 'failed' || task.Status === 'failed-move') {
    return `DMS task ${id} failed: ${why || `status ${task.Status}, DMS gave no LastFailureMessage`}`;
  }
  if (task.Status === 'stopped' && task.StopReason && ERROR_STOP.test(task.StopReason)) {
    return `DMS task ${id} stopped (${task.StopReason}): ${why || 'DMS gave no LastFailureMessage'}`;
  }
  const errored = task.ReplicationTaskStats?.TablesErrored ?? 0;
  if (errored > 0) {
    const names = (tables ?? []).filter((t) => /error/i.test(t.state)).map((t) => `${t.schema}.${t.table}`);
    return `DMS task ${id}: ${errored} table(s) errored${names.length ? ` (${names.join(', ')})` : ''}${why ? `: ${why}` : ''}`;
  }
  return undefined;
}

/** DMS reports the full load over: every table loaded, none loading, queued or errored. */
export function fullLoadDone(task: ReplicationTask, tables?: DmsTableProgress[] | null): boolean {
  if (taskFailure(task, tables)) return false;
  if (task.Status === 'stopped' && task.StopReason && FULL_LOAD_FINISHED.test(task.StopReason)) return true;
  const s = task.ReplicationTaskStats;
  if (!s || !['running', 'stopping', 'stopped'].includes(task.Status ?? '')) return false;
  const statsDone = (s.FullLoadProgressPercent ?? 0) >= 100 && (s.TablesLoading ?? 0) === 0 && (s.TablesQueued ?? 0) === 0;
  // Where per-table statistics answer, no table may still be before or in its load.
  const tablesDone = !tables || tables.every((t) => !/before load|full load/i.test(t.state));
  return statsDone && tablesDone;
}

export type StartDecision = { kind: 'start'; type: DmsStartType } | { kind: 'already-running' } | { kind: 'already-finished' } | { kind: 'wait' } | { kind: 'error'; message: string };

/**
 * How to (re)start the task for a phase. A task that has never run starts (`start-replication`);
 * one that stopped or failed before its full load completed restarts from scratch (`reload-target`:
 * partially loaded tables cannot be resumed safely); one that stopped or failed during CDC resumes
 * from its checkpoint (`resume-processing`).
 */
export function startDecision(task: ReplicationTask, phase: 'full_load' | 'cdc'): StartDecision {
  const status = task.Status ?? 'unknown';
  const everStarted = Boolean(task.ReplicationTaskStartDate);
  const s = task.ReplicationTaskStats;
  const loaded = (s?.FullLoadProgressPercent ?? 0) >= 100 && (s?.TablesErrored ?? 0) === 0;
  switch (status) {
    case 'running':
    case 'starting':
      return { kind: 'already-running' };
    case 'stopping':
      return { kind: 'wait' };
    case 'creating':
    case 'modifying':
    case 'moving':
    case 'testing':
    case 'ready':
      // DMS rejects a start while the task is not ready (InvalidResourceStateFault): the caller waits.
      return { kind: 'start', type: everStarted ? (loaded ? 'resume-processing' : 'reload-target') : 'start-replication' };
    case 'stopped':
    case 'failed':
      if (phase === 'full_load' && task.MigrationType === 'full-load' && status === 'stopped' && fullLoadDone(task)) {
        return { kind: 'already-finished' };
      }
      return { kind: 'start', type: loaded ? 'resume-processing' : 'reload-target' };
    default:
      return { kind: 'error', message: `DMS task ${task.ReplicationTaskIdentifier} is ${status}; it cannot be started` };
  }
}

export function tableProgress(stats: TableStatistics[]): DmsTableProgress[] {
  return stats.map((t) => ({
    schema: t.SchemaName ?? '',
    table: t.TableName ?? '',
    state: t.TableState ?? 'unknown',
    fullLoadRows: t.FullLoadRows ?? 0,
    inserts: t.Inserts ?? 0,
    updates: t.Updates ?? 0,
    deletes: t.Deletes ?? 0,
    validationState: t.ValidationState,
    validationPending: t.ValidationPendingRecords,
    validationFailed: t.ValidationFailedRecords,
    validationSuspended: t.ValidationSuspendedRecords,
  }));
}
