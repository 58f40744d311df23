// Validation: does the target hold the source's schema and data, table by table?
//   schema (validate-schema.ts): columns and types, keys, checks, indexes, sequences, through renames
//   data (validate-data.ts): counts; checksums per key range narrowed to rows; or every row (full)
// Everything is computed inside the two databases; the worker only sees counts, checksums, key
// boundaries and (key, row hash) pairs of small ranges.
import type pg from 'pg';
import type { SchemaValidation, TableMapping, TableValidation, ValidationReport } from '../../../workflows/types';
import type { EngineContext } from '../engine';
import { classifyError, closeClient, connectEndpoint } from './connect';
import { displayName } from './sql';
import { compareTable } from './validate-data';
import { validateTableSchema } from './validate-schema';

export { checksumExpr, measureSql } from './validate-sql';

/** Validation sessions never write, and wait on a lock at most this long. */
const SETTINGS = { default_transaction_read_only: 'on', lock_timeout: '60s' };

export async function validate(ctx: EngineContext, tables: TableMapping[]): Promise<ValidationReport> {
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
  const src = await connectEndpoint(ctx.source, { settings: SETTINGS });
  let tgt: pg.Client | undefined;
  try {
    tgt = await connectEndpoint(ctx.target, { settings: SETTINGS });
    const schema: SchemaValidation[] = [];
    const results: TableValidation[] = [];
    for (const t of tables) {
      ctx.signal?.throwIfAborted();
      schema.push(...(await validateTableSchema(src, tgt, t, tables, ctx.spec)));
      results.push(await compareTable(ctx, src, tgt, t, { level, maxReportedRows: ctx.spec.validation.maxReportedRows, signal: ctx.signal }));
    }
    const mismatch = results.some((r) => r.status === 'mismatch') || schema.some((s) => s.status === 'mismatch');
    return { level, status: mismatch ? 'mismatch' : 'match', tables: results, schema };
  } catch (err) {
    throw classifyError(err, tgt ? ctx.target : ctx.source);
  } finally {
    await closeClient(src);
    if (tgt) await closeClient(tgt);
  }
}
