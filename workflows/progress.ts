// The migration's visible state: the `progress` query's answer, the search attributes the UI
// filters on, and the markdown "current details" the Temporal UI shows on the workflow page.
import { setCurrentDetails, upsertSearchAttributes } from '@temporalio/workflow';
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { SEARCH_ATTRIBUTES } from './messages';
import type { ChunkResult, LoadChunk, MigrationProgress, TableProgress } from './types';
import { tableLabel } from './fullLoad';
import type { MigrationSpec } from './spec';

const phaseKey = defineSearchAttributeKey(SEARCH_ATTRIBUTES.phase, SearchAttributeType.KEYWORD);
const engineKey = defineSearchAttributeKey(SEARCH_ATTRIBUTES.engine, SearchAttributeType.KEYWORD);
const migrationKey = defineSearchAttributeKey(SEARCH_ATTRIBUTES.migration, SearchAttributeType.KEYWORD);
const modeKey = defineSearchAttributeKey(SEARCH_ATTRIBUTES.mode, SearchAttributeType.KEYWORD);
export const lagKey = defineSearchAttributeKey(SEARCH_ATTRIBUTES.lagSeconds, SearchAttributeType.DOUBLE);

/** Record replication lag: progress, the FerryLagSeconds search attribute, the UI details. */
export function recordLag(progress: MigrationProgress, lagSeconds: number | undefined): void {
  progress.lagSeconds = lagSeconds;
  if (lagSeconds !== undefined) upsertSearchAttributes([{ key: lagKey, value: lagSeconds }]);
  publishDetails(progress);
}

export function initialProgress(migrationId: string, spec: MigrationSpec): MigrationProgress {
  return {
    migrationId,
    name: spec.name,
    engine: spec.engine,
    mode: spec.mode,
    phase: 'starting',
    tables: [],
    totals: { rows: 0, bytes: 0, estimatedBytes: 0, chunksDone: 0, chunksTotal: 0 },
    timings: [],
    cutover: { approved: false, waitingFor: [] },
    abortRequested: false,
  };
}

/** Enter a phase: close the previous timing, open a new one, tell the UI (`publish`: an engine's own details). */
export function enterPhase<P extends MigrationProgress>(progress: P, phase: P['phase'], publish: (p: P) => void = publishDetails): void {
  const now = new Date().toISOString(); // workflow time: deterministic on replay
  const last = progress.timings[progress.timings.length - 1];
  if (last && !last.endedAt) last.endedAt = now;
  progress.phase = phase;
  progress.timings.push({ phase, startedAt: now });
  upsertSearchAttributes([
    { key: phaseKey, value: phase },
    { key: engineKey, value: progress.engine },
    { key: migrationKey, value: progress.name },
    { key: modeKey, value: progress.mode },
  ]);
  publish(progress);
}

export function closeTimings(progress: MigrationProgress): void {
  const last = progress.timings[progress.timings.length - 1];
  if (last && !last.endedAt) last.endedAt = new Date().toISOString();
}

/** Reset per-table progress from a (re)planned full load. */
export function planTables(progress: MigrationProgress, chunks: LoadChunk[]): void {
  const byTable = new Map<string, TableProgress>();
  for (const chunk of chunks) {
    const key = tableLabel(chunk.table.source);
    let t = byTable.get(key);
    if (!t) {
      t = {
        source: key,
        target: tableLabel(chunk.table.target),
        rows: 0,
        bytes: 0,
        // The table's size, once: every chunk of a split table carries the whole table's estimate.
        estimatedBytes: chunk.table.estimatedBytes,
        chunksDone: 0,
        chunksTotal: 0,
      };
      byTable.set(key, t);
    }
    t.chunksTotal += 1;
  }
  progress.tables = [...byTable.values()];
  recomputeTotals(progress);
}

/**
 * progress.tables by source name, built once per table list (planTables and a continue-as-new
 * replace the array, which drops its entry): recordChunks finds a table in O(1), not O(tables),
 * which made a 10,000-table load O(tables^2) in workflow CPU (and again on every replay).
 */
const tablesBySource = new WeakMap<TableProgress[], Map<string, TableProgress>>();

function tableIndex(progress: MigrationProgress): Map<string, TableProgress> {
  let index = tablesBySource.get(progress.tables);
  if (!index || index.size !== progress.tables.length) {
    index = new Map(progress.tables.map((t) => [t.source, t]));
    tablesBySource.set(progress.tables, index);
  }
  return index;
}

export function recordChunks(progress: MigrationProgress, chunks: LoadChunk[], results: ChunkResult[]): void {
  const byId = new Map(chunks.map((c) => [c.id, c]));
  const tables = tableIndex(progress);
  for (const result of results) {
    const chunk = byId.get(result.chunkId);
    if (!chunk) continue;
    const t = tables.get(tableLabel(chunk.table.source));
    if (!t) continue;
    t.rows += result.rows;
    t.bytes += result.bytes;
    t.chunksDone += 1;
  }
  recomputeTotals(progress);
  publishDetails(progress);
}

function recomputeTotals(progress: MigrationProgress): void {
  const totals = { rows: 0, bytes: 0, estimatedBytes: 0, chunksDone: 0, chunksTotal: 0 };
  for (const t of progress.tables) {
    totals.rows += t.rows;
    totals.bytes += t.bytes;
    totals.estimatedBytes += t.estimatedBytes;
    totals.chunksDone += t.chunksDone;
    totals.chunksTotal += t.chunksTotal;
  }
  progress.totals = totals;
}

function mb(bytes: number): string {
  return (bytes / 1024 / 1024).toFixed(1);
}

/** Markdown for the Temporal UI's "current details": phase, error, precheck, tables, validation. */
export function renderDetails(p: MigrationProgress): string {
  const lines: string[] = [`## Ferry migration \`${p.name}\``, '', `**Phase:** ${p.phase}  `, `**Engine:** ${p.engine} (${p.mode})`];
  if (p.failedStep && p.lastError) {
    lines.push('', `**Failed at ${p.failedStep}:** ${p.lastError.message}`, '', 'Send the `retry` update to re-run the step, or the `abort` signal to roll back.');
  }
  if (p.phase === 'awaiting_cutover' || p.phase === 'cdc') lines.push('', `**Waiting for:** ${p.cutover.waitingFor.join(', ') || 'nothing'}`);
  if (p.capture) {
    lines.push('', `**Change capture:** applied up to ${p.capture.appliedLsn}, ${p.capture.applied} changes, lag ${p.lagSeconds ?? '?'} s / ${p.capture.lagBytes} bytes`);
    if (p.capture.warning) lines.push('', `**Warning:** ${p.capture.warning}`);
  }
  if (p.precheck) {
    lines.push('', '### Precheck', '', '| check | status | message |', '| --- | --- | --- |');
    for (const i of p.precheck.items) lines.push(`| ${i.id} | ${i.status} | ${i.message.replace(/\|/g, '\\|')} |`);
  }
  if (p.tables.length > 0) {
    const tables = p.tables.length > 50 ? p.tables.slice(0, 50) : p.tables;
    lines.push('', `### Full load: ${p.totals.rows} rows, ${mb(p.totals.bytes)} MB, ${p.totals.chunksDone}/${p.totals.chunksTotal} chunks`, '');
    lines.push('| table | target | rows | MB | chunks |', '| --- | --- | ---: | ---: | ---: |');
    for (const t of tables) lines.push(`| ${t.source} | ${t.target} | ${t.rows} | ${mb(t.bytes)} | ${t.chunksDone}/${t.chunksTotal} |`);
    if (tables.length < p.tables.length) lines.push(`| ... ${p.tables.length - tables.length} more | | | | |`);
  }
  const live = p.liveValidation;
  if (live) {
    const r = live.report;
    const head =
      live.state === 'running'
        ? `running since ${live.startedAt}`
        : live.state === 'failed'
          ? `failed: ${live.error ?? 'unknown error'}`
          : `${r?.status ?? '?'} as of LSN ${r?.live?.asOfLsn ?? '?'} (${live.finishedAt ?? ''})`;
    lines.push('', `### Validation during CDC${live.requestedBy ? ` (by ${live.requestedBy})` : ''}: ${head}`);
    if (r?.live?.recheckedTables.length) lines.push('', `Re-checked after the target caught up (${r.live.rounds} round(s)): ${r.live.recheckedTables.join(', ')}${r.live.caughtUp ? '' : ' - the target did not catch up in time'}`);
    const bad = r?.tables.filter((t) => t.status === 'mismatch') ?? [];
    if (bad.length > 0) {
      lines.push('', '| source | target | rows (src/tgt) | differing ranges | note |', '| --- | --- | --- | ---: | --- |');
      for (const v of bad.slice(0, 50)) lines.push(`| ${v.source} | ${v.target} | ${v.sourceRows}/${v.targetRows} | ${v.ranges?.length ?? 0} | ${(v.reason ?? '').replace(/\|/g, '\\|')} |`);
    }
  }
  if (p.validation) {
    lines.push('', `### Validation (${p.validation.level}): ${p.validation.status}`, '', '| source | target | status | rows (src/tgt) |', '| --- | --- | --- | --- |');
    for (const v of p.validation.tables.slice(0, 50)) lines.push(`| ${v.source} | ${v.target} | ${v.status} | ${v.sourceRows}/${v.targetRows} |`);
  }
  return lines.join('\n');
}

export function publishDetails(progress: MigrationProgress): void {
  setCurrentDetails(renderDetails(progress));
}
