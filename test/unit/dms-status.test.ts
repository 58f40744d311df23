// DMS task states Ferry must read right, including failures moto cannot produce.
import { describe, expect, it } from 'vitest';
import type { ReplicationTask } from '@aws-sdk/client-database-migration-service';
import { fullLoadDone, startDecision, taskFailure } from '../../activities/adapters/dms/status';

const task = (t: Partial<ReplicationTask>): ReplicationTask => ({ ReplicationTaskIdentifier: 'ferry-x-task', MigrationType: 'full-load-and-cdc', ...t });
const stats = (percent: number, extra: Record<string, number> = {}) => ({ FullLoadProgressPercent: percent, TablesLoaded: 3, TablesLoading: 0, TablesQueued: 0, TablesErrored: 0, ...extra });

describe('DMS task status', () => {
  it('failed and error stops carry DMS LastFailureMessage', () => {
    expect(taskFailure(task({ Status: 'failed', LastFailureMessage: 'Last Error ODBC general error. Task error notification received' }))).toBe(
      'DMS task ferry-x-task failed: Last Error ODBC general error. Task error notification received',
    );
    expect(taskFailure(task({ Status: 'stopped', StopReason: 'Stop Reason FATAL_ERROR', LastFailureMessage: 'slot gone' }))).toContain('FATAL_ERROR): slot gone');
    expect(taskFailure(task({ Status: 'stopped', StopReason: 'Stop Reason NORMAL' }))).toBeUndefined();
    expect(
      taskFailure(task({ Status: 'running', ReplicationTaskStats: stats(80, { TablesErrored: 1 }) }), [
        { schema: 'public', table: 'bad', state: 'Table error', fullLoadRows: 0, inserts: 0, updates: 0, deletes: 0 },
      ]),
    ).toContain('1 table(s) errored (public.bad)');
  });

  it('full load over: stats say so, or a full-load task stopped as finished', () => {
    expect(fullLoadDone(task({ Status: 'running', ReplicationTaskStats: stats(100) }))).toBe(true);
    expect(fullLoadDone(task({ Status: 'running', ReplicationTaskStats: stats(100, { TablesQueued: 1 }) }))).toBe(false);
    expect(fullLoadDone(task({ Status: 'running', ReplicationTaskStats: stats(60) }))).toBe(false);
    expect(fullLoadDone(task({ Status: 'starting', ReplicationTaskStats: stats(0) }))).toBe(false);
    expect(fullLoadDone(task({ Status: 'stopped', MigrationType: 'full-load', StopReason: 'Stop Reason FULL_LOAD_ONLY_FINISHED' }))).toBe(true);
    expect(fullLoadDone(task({ Status: 'failed', ReplicationTaskStats: stats(100) }))).toBe(false);
    // Per-table statistics, where available, must agree.
    expect(
      fullLoadDone(task({ Status: 'running', ReplicationTaskStats: stats(100) }), [
        { schema: 'a', table: 'b', state: 'Full load', fullLoadRows: 1, inserts: 0, updates: 0, deletes: 0 },
      ]),
    ).toBe(false);
  });

  it('(re)start: start, reload during full load, resume during CDC', () => {
    expect(startDecision(task({ Status: 'ready' }), 'full_load')).toEqual({ kind: 'start', type: 'start-replication' });
    expect(startDecision(task({ Status: 'creating' }), 'full_load')).toEqual({ kind: 'start', type: 'start-replication' });
    expect(startDecision(task({ Status: 'running' }), 'cdc')).toEqual({ kind: 'already-running' });
    expect(startDecision(task({ Status: 'stopping' }), 'cdc')).toEqual({ kind: 'wait' });
    const started = new Date();
    expect(startDecision(task({ Status: 'failed', ReplicationTaskStartDate: started, ReplicationTaskStats: stats(40) }), 'full_load')).toEqual({
      kind: 'start',
      type: 'reload-target',
    });
    expect(startDecision(task({ Status: 'failed', ReplicationTaskStartDate: started, ReplicationTaskStats: stats(100) }), 'cdc')).toEqual({
      kind: 'start',
      type: 'resume-processing',
    });
    expect(
      startDecision(task({ Status: 'stopped', MigrationType: 'full-load', StopReason: 'Stop Reason FULL_LOAD_ONLY_FINISHED', ReplicationTaskStats: stats(100) }), 'full_load'),
    ).toEqual({ kind: 'already-finished' });
    expect(startDecision(task({ Status: 'deleting' }), 'cdc').kind).toBe('error');
  });
});
