// Validation computed inside each database (nothing but two numbers per table reaches the worker):
// row counts, and an order-independent checksum: the sum over rows of the first 60 bits of
// md5(ROW(columns)::text), with both sessions on identical output settings (see connect.ts).
import type pg from 'pg';
import type { TableMapping, TableValidation, ValidationReport } from '../../../workflows/types';
import type { EngineContext } from '../engine';
import { classifyError, closeClient, connectEndpoint, pgCode } from './connect';
import { displayName, qualify, quoteIdentList } from './sql';

export function checksumSql(schema: string, table: string, columns: string[]): string {
  return `SELECT count(*)::text AS n,
    coalesce(sum(('x' || substr(md5(ROW(${quoteIdentList(columns)})::text), 1, 15))::bit(60)::int8::numeric), 0)::text AS checksum
    FROM ${qualify(schema, table)}`;
}

export function countSql(schema: string, table: string): string {
  return `SELECT count(*)::text AS n, NULL::text AS checksum FROM ${qualify(schema, table)}`;
}

async function measure(client: pg.Client, sql: string): Promise<{ n: number; checksum?: string }> {
  const r = await client.query<{ n: string; checksum: string | null }>(sql);
  const row = r.rows[0]!;
  return { n: Number(row.n), ...(row.checksum !== null ? { checksum: row.checksum } : {}) };
}

export async function validate(ctx: EngineContext, tables: TableMapping[]): Promise<ValidationReport> {
  const level = ctx.spec.validation.level;
  const results: TableValidation[] = [];
  if (level === 'none') {
    for (const t of tables)
      results.push({
        source: displayName(t.source.schema, t.source.name),
        target: displayName(t.target.schema, t.target.name),
        status: 'skipped',
        sourceRows: 0,
        targetRows: 0,
        reason: 'validation.level is none',
      });
    return { level, status: 'skipped', tables: results };
  }
  const src = await connectEndpoint(ctx.source);
  let tgt: pg.Client | undefined;
  try {
    tgt = await connectEndpoint(ctx.target);
    for (const t of tables) {
      ctx.signal?.throwIfAborted();
      const name = { source: displayName(t.source.schema, t.source.name), target: displayName(t.target.schema, t.target.name) };
      const target = tgt;
      const [s, d] = await Promise.all([
        measure(src, level === 'checksums' ? checksumSql(t.source.schema, t.source.name, t.columns.map((c) => c.source)) : countSql(t.source.schema, t.source.name)),
        measure(target, level === 'checksums' ? checksumSql(t.target.schema, t.target.name, t.columns.map((c) => c.target)) : countSql(t.target.schema, t.target.name)).catch(
          (err: unknown) => {
            // A missing table or column on the target is a finding, not a crash.
            const code = pgCode(err);
            if (code === '42P01' || code === '42703') return { n: -1, missing: (err as Error).message };
            throw err;
          },
        ),
      ]);
      if ('missing' in d) {
        results.push({ ...name, status: 'mismatch', sourceRows: s.n, targetRows: 0, reason: `target: ${d.missing}` });
        continue;
      }
      const reasons: string[] = [];
      if (s.n !== d.n) reasons.push(`row counts differ: source ${s.n}, target ${d.n}`);
      if (level === 'checksums' && s.checksum !== d.checksum) reasons.push('checksums differ');
      results.push({
        ...name,
        status: reasons.length ? 'mismatch' : 'match',
        sourceRows: s.n,
        targetRows: d.n,
        ...(s.checksum !== undefined ? { sourceChecksum: s.checksum } : {}),
        ...(d.checksum !== undefined ? { targetChecksum: d.checksum } : {}),
        ...(reasons.length ? { reason: reasons.join('; ') } : {}),
      });
    }
    return { level, status: results.some((r) => r.status === 'mismatch') ? 'mismatch' : 'match', tables: results };
  } catch (err) {
    throw classifyError(err, tgt ? ctx.target : ctx.source);
  } finally {
    await closeClient(src);
    if (tgt) await closeClient(tgt);
  }
}
