// Validation: does the target hold the source's schema and data, table by table?
//   schema (validate-schema.ts): columns and types, keys, checks, indexes, sequences, through renames;
//     each migrated view: there, same columns and definition, filled as on the source
//   data (validate-data.ts): counts; checksums per key range narrowed to rows; or every row (full)
// Everything is computed inside the two databases; the worker only sees counts, checksums, key
// boundaries and (key, row hash) pairs of small ranges.
import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import type { SchemaValidation, TableMapping, TableValidation, ValidateOptions, ValidationReport } from '../../../workflows/types';
import type { AppliedWait, EngineContext } from '../engine';
import { classifyError, closeClient, connectEndpoint, withSessions } from './connect';
import { compareLsn } from './lsn';
import { readCdcState } from './replication';
import { displayName } from './sql';
import { compareTable, recheckTable } from './validate-data';
import { readProvisioned } from './state';
import { validateTableSchema, validateViewSchema } from './validate-schema';

export { checksumExpr, measureSql } from './validate-sql';

/** Validation sessions never write, and wait on a lock at most this long. */
const SETTINGS = { default_transaction_read_only: 'on', lock_timeout: '60s' };

export async function validate(ctx: EngineContext, tables: TableMapping[], options: ValidateOptions = {}): Promise<ValidationReport> {
  const level = ctx.spec.validation.level;
  if (level === 'none') {
    return {
      level,
      status: 'skipped',
      tables: tables.map((t) => ({
        source: displayName(t.source.schema, t.source.name),
        target: displayName(t.target.schema, t.target.name),
        status: 'skipped',
        sourceRows: 0,
        targetRows: 0,
        reason: 'validation.level is none',
      })),
    };
  }
  return withSessions(ctx, async (src, tgt) => {
    const schema: SchemaValidation[] = [];
    const results: TableValidation[] = [];
    for (const t of tables) {
      ctx.signal?.throwIfAborted();
      schema.push(...(await validateTableSchema(src, tgt, t, tables, ctx.spec, options)));
      results.push(await compareTable(ctx, src, tgt, t, { level, maxReportedRows: options.rowCap ?? ctx.spec.validation.maxReportedRows, signal: ctx.signal }));
    }
    // The views provision recorded (by OID on both sides), once created: the schema part only.
    const views = ((await readProvisioned(tgt, ctx.migrationId))?.objects ?? []).filter((o) => o.kind === 'view');
    for (const v of views) schema.push(await validateViewSchema(src, tgt, v, tables, ctx.spec));
    const mismatch = results.some((r) => r.status === 'mismatch') || schema.some((s) => s.status === 'mismatch');
    return { level, status: mismatch ? 'mismatch' : 'match', tables: results, schema };
  }, { settings: SETTINGS });
}

/**
 * Validation during change capture, second look: compare again only the tables `previous` found
 * different, and in them only the differing key ranges (validate-data.ts recheckTable). Schema
 * items are kept as they were: DDL does not travel through change capture, so waiting changes
 * nothing there.
 */
export async function recheckValidation(ctx: EngineContext, tables: TableMapping[], previous: ValidationReport, options: ValidateOptions = {}): Promise<ValidationReport> {
  const level = ctx.spec.validation.level;
  if (level === 'none' || !previous.tables.some((t) => t.status === 'mismatch')) return previous;
  return withSessions(ctx, async (src, tgt) => {
    const results: TableValidation[] = [];
    for (const before of previous.tables) {
      const t = tables.find((m) => displayName(m.source.schema, m.source.name) === before.source);
      if (before.status !== 'mismatch' || !t) {
        results.push(before);
        continue;
      }
      ctx.signal?.throwIfAborted();
      results.push(await recheckTable(ctx, src, tgt, t, before, { level, maxReportedRows: options.rowCap ?? ctx.spec.validation.maxReportedRows, signal: ctx.signal }));
    }
    const schema = previous.schema ?? [];
    const mismatch = results.some((r) => r.status === 'mismatch') || schema.some((s) => s.status === 'mismatch');
    return { ...previous, status: mismatch ? 'mismatch' : 'match', tables: results };
  }, { settings: SETTINGS });
}

/** How often waitForAppliedLsn reads the applied position. */
const APPLIED_POLL_MS = 250;

/**
 * Wait until change capture has applied the source on the target at or past `lsn`: ferry.cdc's
 * applied_lsn (the end of the last source transaction committed on the target with its rows).
 * The heartbeat table is in the publication, so the position moves while capture streams even
 * when the selected tables are quiet. Reads only; one session for the whole wait.
 */
export async function waitForAppliedLsn(ctx: EngineContext, lsn: string, timeoutMs: number, onProgress?: (appliedLsn: string) => void): Promise<AppliedWait> {
  const deadline = Date.now() + Math.max(0, timeoutMs);
  let tgt: pg.Client | undefined;
  try {
    tgt = await connectEndpoint(ctx.target, { settings: SETTINGS });
    let applied: string | undefined;
    for (;;) {
      ctx.signal?.throwIfAborted();
      applied = (await readCdcState(tgt, ctx.migrationId))?.appliedLsn;
      if (applied !== undefined) onProgress?.(applied);
      if (applied !== undefined && compareLsn(applied, lsn) >= 0) return { reached: true, appliedLsn: applied };
      if (Date.now() >= deadline) return { reached: false, ...(applied !== undefined ? { appliedLsn: applied } : {}) };
      await sleep(Math.min(APPLIED_POLL_MS, Math.max(1, deadline - Date.now())), undefined, ctx.signal ? { signal: ctx.signal } : undefined);
    }
  } catch (err) {
    throw classifyError(err, ctx.target);
  } finally {
    if (tgt) await closeClient(tgt);
  }
}
