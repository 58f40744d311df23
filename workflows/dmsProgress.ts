// The aws-dms migration's visible state: progress query answer, search attributes (phase, lag) and
// the markdown current details. Mirrors progress.ts for the DMS phases (`cdc`) and task details.
import { setCurrentDetails, upsertSearchAttributes } from '@temporalio/workflow';
import { enterPhase, lagKey } from './progress';
import type { DmsMigrationSpec } from './dmsSpec';
import type { DmsPhase, DmsProgress, DmsTaskSnapshot } from './dmsTypes';
import type { TableProgress } from './types';


export function initialDmsProgress(migrationId: string, spec: DmsMigrationSpec): DmsProgress {
  return {
    migrationId,
    name: spec.name,
    engine: 'aws-dms',
    mode: spec.mode,
    phase: 'starting',
    tables: [],
    totals: { rows: 0, bytes: 0, estimatedBytes: 0, chunksDone: 0, chunksTotal: 0 },
    timings: [],
    cutover: { approved: false, waitingFor: [] },
    abortRequested: false,
    dms: { tables: [] },
  };
}

export function enterDmsPhase(progress: DmsProgress, phase: DmsPhase): void {
  enterPhase(progress, phase, publishDmsDetails);
}

/** The larger of source and target CDC latency, when measured. */
export function lagOf(snapshot: DmsTaskSnapshot): number | undefined {
  return snapshot.lag ? Math.max(snapshot.lag.sourceSeconds, snapshot.lag.targetSeconds) : undefined;
}

/** Fold one task snapshot into progress: task state, per-table rows (when DMS answered), lag. */
export function applySnapshot(progress: DmsProgress, snapshot: DmsTaskSnapshot): void {
  const { tables, ...task } = snapshot;
  progress.dms.task = { ...task, tables: null };
  if (tables) {
    progress.dms.tables = tables;
    progress.tables = tables.map(
      (t): TableProgress => ({
        source: `${t.schema}.${t.table}`,
        target: `${t.schema}.${t.table}`,
        rows: t.fullLoadRows + t.inserts + t.updates + t.deletes,
        bytes: 0, // DMS does not report bytes per table
        estimatedBytes: 0,
        chunksDone: /completed/i.test(t.state) ? 1 : 0,
        chunksTotal: 1,
      }),
    );
    const totals = { rows: 0, bytes: 0, estimatedBytes: 0, chunksDone: 0, chunksTotal: 0 };
    for (const t of progress.tables) {
      totals.rows += t.rows;
      totals.chunksDone += t.chunksDone;
      totals.chunksTotal += t.chunksTotal;
    }
    progress.totals = totals;
  }
  const lag = lagOf(snapshot);
  if (lag !== undefined && lag !== progress.lagSeconds) {
    progress.lagSeconds = lag;
    upsertSearchAttributes([{ key: lagKey, value: lag }]);
  }
  publishDmsDetails(progress);
}

export function renderDmsDetails(p: DmsProgress): string {
  const lines: string[] = [`## Ferry migration \`${p.name}\``, '', `**Phase:** ${p.phase}  `, `**Engine:** aws-dms (${p.mode})`];
  if (p.failedStep && p.lastError) {
    lines.push('', `**Failed at ${p.failedStep}:** ${p.lastError.message}`, '', 'Send the `retry` update to re-run the step, or the `abort` signal to roll back.');
  }
  if (p.phase === 'awaiting_cutover' || p.phase === 'cdc') lines.push('', `**Waiting for:** ${p.cutover.waitingFor.join(', ') || 'nothing'}`);
  const t = p.dms.task;
  if (t) {
    lines.push('', `### DMS task \`${t.taskId}\`: ${t.status}${t.stopReason ? ` (${t.stopReason})` : ''}`, '');
    lines.push(`Full load ${t.fullLoadPercent}%: ${t.tablesLoaded} loaded, ${t.tablesLoading} loading, ${t.tablesQueued} queued, ${t.tablesErrored} errored  `);
    lines.push(t.lag ? `CDC lag: source ${t.lag.sourceSeconds}s, target ${t.lag.targetSeconds}s (at ${t.lag.at})` : `CDC lag: unknown (${t.lagUnavailable ?? 'not measured'})`);
    if (t.tableStatisticsError) lines.push('', `Table statistics unavailable: ${t.tableStatisticsError}`);
  }
  if (p.precheck) {
    lines.push('', '### Precheck', '', '| check | status | message |', '| --- | --- | --- |');
    for (const i of p.precheck.items) lines.push(`| ${i.id} | ${i.status}${i.acknowledged ? ' (acknowledged)' : ''} | ${i.message.replace(/\|/g, '\\|')} |`);
  }
  if (p.dms.tables.length > 0) {
    lines.push('', '| table | state | full-load rows | ins/upd/del | validation |', '| --- | --- | ---: | ---: | --- |');
    for (const x of p.dms.tables.slice(0, 50)) {
      lines.push(`| ${x.schema}.${x.table} | ${x.state} | ${x.fullLoadRows} | ${x.inserts}/${x.updates}/${x.deletes} | ${x.validationState ?? ''} |`);
    }
    if (p.dms.tables.length > 50) lines.push(`| ... ${p.dms.tables.length - 50} more | | | | |`);
  }
  if (p.validation) {
    lines.push('', `### Validation (${p.validation.level}): ${p.validation.status}`);
    for (const v of p.validation.tables.slice(0, 50)) lines.push(`- ${v.source}: ${v.status}${v.reason ? ` (${v.reason})` : ''}`);
  }
  return lines.join('\n');
}

export function publishDmsDetails(progress: DmsProgress): void {
  setCurrentDetails(renderDmsDetails(progress));
}
