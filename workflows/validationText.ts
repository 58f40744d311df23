// The validation report as plain text, for `ferry status` and `ferry validate ID`: one line per
// table (status, rows, checksums), then where each mismatching table differs (key ranges, rows),
// then the schema items that differ. Pure: no imports but types, safe anywhere.
import type { LiveValidationInfo, SchemaValidation, TableValidation, ValidationReport } from './types';

function pad(rows: string[][]): string[] {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd());
}

const STATUS: Record<TableValidation['status'], string> = { match: 'match', mismatch: 'MISMATCH', skipped: 'skipped' };

function checksumCell(t: TableValidation): string {
  if (t.sourceChecksum === undefined && t.targetChecksum === undefined) return '-';
  return t.sourceChecksum === t.targetChecksum ? 'equal' : 'differ';
}

function keyText(key: Record<string, string | null>): string {
  return Object.entries(key)
    .map(([k, v]) => `${k}=${v === null ? 'NULL' : v}`)
    .join(', ');
}

function rangeText(lo: string | null, hi: string | null): string {
  return `[${lo ?? '-inf'}, ${hi ?? '+inf'})`;
}

/** What a validation during change capture means: as of which LSN, what was compared again. */
function liveLines(live: LiveValidationInfo, dataDiffers: boolean): string[] {
  const lines = [`  during change capture, as of source LSN ${live.asOfLsn}${live.requestedBy ? `; requested by ${live.requestedBy}` : ''} at ${live.startedAt}`];
  if (live.recheckedTables.length > 0) {
    lines.push(`  re-checked after the target caught up (${live.rounds} round(s)): ${live.recheckedTables.join(', ')}; only differences that persisted are reported`);
  } else if (!dataDiffers) {
    lines.push('  no data differed, so nothing was re-checked');
  } else if (live.caughtUp) {
    lines.push('  not re-checked (rechecks 0): differences below may be changes still in flight');
  }
  if (!live.caughtUp) lines.push('  WARNING: the target did not catch up within the timeout; differences below may be changes still in flight');
  return lines;
}

export function renderValidationText(report: ValidationReport): string {
  const lines: string[] = [];
  const counts = { match: 0, mismatch: 0, skipped: 0 };
  for (const t of report.tables) counts[t.status] += 1;
  lines.push(
    `Validation (${report.level}): ${report.status === 'mismatch' ? 'MISMATCH' : report.status} - ${counts.match} match, ${counts.mismatch} mismatch, ${counts.skipped} skipped`,
  );
  if (report.live) lines.push(...liveLines(report.live, report.tables.some((t) => t.status === 'mismatch')));
  if (report.tables.length > 0) {
    const rows = [['TABLE', 'STATUS', 'SOURCE ROWS', 'TARGET ROWS', 'CHECKSUM', 'NOTE']];
    for (const t of report.tables) {
      rows.push([
        t.source === t.target ? t.source : `${t.source} -> ${t.target}`,
        STATUS[t.status],
        t.status === 'skipped' ? '-' : String(t.sourceRows),
        t.status === 'skipped' ? '-' : String(t.targetRows),
        checksumCell(t),
        t.reason ?? '',
      ]);
    }
    lines.push(...pad(rows).map((l) => `  ${l}`));
  }
  for (const t of report.tables) {
    if (t.status !== 'mismatch' || (!t.ranges?.length && !t.rows?.length)) continue;
    lines.push('', `${t.source} -> ${t.target}: differences`);
    for (const r of t.ranges ?? []) lines.push(`  range ${r.column} in ${rangeText(r.lo, r.hi)}: source ${r.sourceRows} rows, target ${r.targetRows} rows`);
    if (t.rows?.length) lines.push(...pad(t.rows.map((r) => [keyText(r.key), r.kind])).map((l) => `    ${l}`));
    if (t.rowsTruncated) lines.push(`    ... more differing rows not listed (validation.maxReportedRows)`);
  }
  const bad: SchemaValidation[] = (report.schema ?? []).filter((s) => s.status === 'mismatch');
  if (report.schema?.length) {
    lines.push('', `Schema: ${bad.length === 0 ? `match (${report.schema.length} items)` : `${bad.length} of ${report.schema.length} items differ`}`);
    for (const s of bad) lines.push(`  ${s.object} ${s.kind}: ${s.message}`);
  }
  return lines.join('\n');
}
