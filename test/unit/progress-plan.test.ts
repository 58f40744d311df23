// Per-table progress from a full-load plan: a split table counts its size once, whatever its
// number of chunks, so `ferry status` and the UI show a real percentage for the big tables.
import { describe, expect, it } from 'vitest';
import { initialProgress, planTables } from '../../workflows/progress';
import { parseSpec } from '../../workflows/spec';
import type { LoadChunk, TableMapping } from '../../workflows/types';

const table = (name: string, bytes: number): TableMapping => ({
  source: { schema: 'public', name },
  target: { schema: 'public', name },
  columns: [],
  estimatedBytes: bytes,
  estimatedRows: 0,
});

describe('full-load progress per table', () => {
  it('counts a split table once, and a whole table as itself', () => {
    const spec = parseSpec({
      name: 'p',
      source: { host: 'h', port: 5432, database: 'd', user: 'u', password: 'env:X' },
      target: { host: 'h', port: 5433, database: 'd', user: 'u', password: 'env:Y' },
    });
    const progress = initialProgress('m', spec);
    const big = table('big', 600);
    const small = table('small', 10);
    const chunks: LoadChunk[] = [
      { id: 'big#1', table: big, range: { column: 'ctid', lo: null, hi: '10', kind: 'ctid' } },
      { id: 'big#2', table: big, range: { column: 'ctid', lo: '10', hi: '20', kind: 'ctid' } },
      { id: 'big#3', table: big, range: { column: 'ctid', lo: '20', hi: null, kind: 'ctid' } },
      { id: 'small', table: small },
    ];
    planTables(progress, chunks);
    expect(progress.tables.map((t) => [t.source, t.estimatedBytes, t.chunksTotal])).toEqual([
      ['public.big', 600, 3],
      ['public.small', 10, 1],
    ]);
    expect(progress.totals.estimatedBytes).toBe(610);
  });
});
