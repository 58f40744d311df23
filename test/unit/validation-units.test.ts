// Pure pieces of validation: range SQL, row diffs, canonical definitions, and the text report.
import { describe, expect, it } from 'vitest';
import { canonicalSql } from '../../activities/adapters/postgres/validate-schema';
import { boundariesSql, checksumOf, diffRows, formatKey, rangeWhere, rowHashesSql, type KeySpec } from '../../activities/adapters/postgres/validate-sql';
import { renderValidationText } from '../../workflows/validationText';
import type { ValidationReport } from '../../workflows/types';

const single: KeySpec = { columns: ['id'], collatable: [false], forceC: false };
const pair: KeySpec = { columns: ['a', 'B b'], collatable: [false, true], forceC: true };

describe('range SQL', () => {
  it('is open, half-open or closed, with values as parameters', () => {
    expect(rangeWhere(single, { lo: null, hi: null })).toEqual({ sql: '', params: [] });
    expect(rangeWhere(single, { lo: ['10'], hi: ['20'] })).toEqual({ sql: 'WHERE "id" >= $1 AND "id" < $2', params: ['10', '20'] });
    expect(rangeWhere(pair, { lo: null, hi: ['1', "x'y"] }, 3)).toEqual({ sql: 'WHERE ("a", "B b" COLLATE "C") < ($3, $4)', params: ['1', "x'y"] });
  });
  it('orders by the key and limits row hashes; boundaries by row number', () => {
    const q = rowHashesSql('s', 't', ['id', 'v'], single, { lo: ['5'], hi: null }, 100);
    expect(q.sql).toContain('md5(ROW("id", "v")::text) AS h FROM "s"."t" WHERE "id" >= $2 ORDER BY "id" LIMIT $1');
    expect(q.params).toEqual(['100', '5']);
    const b = boundariesSql('s', 't', pair, { lo: null, hi: null }, 64);
    expect(b.sql).toContain('row_number() OVER (ORDER BY "a", "B b" COLLATE "C")');
    expect(b.params).toEqual(['64']);
  });
});

describe('row diff', () => {
  it('finds missing, extra and changed rows and caps them', () => {
    const src = [{ key: ['1'], hash: 'a' }, { key: ['2'], hash: 'b' }, { key: ['3'], hash: 'c' }];
    const tgt = [{ key: ['1'], hash: 'a' }, { key: ['3'], hash: 'X' }, { key: ['4'], hash: 'd' }];
    expect(diffRows(src, tgt, ['id'], 10)).toEqual({
      rows: [
        { key: { id: '2' }, kind: 'missing_on_target' },
        { key: { id: '3' }, kind: 'changed' },
        { key: { id: '4' }, kind: 'extra_on_target' },
      ],
      truncated: false,
    });
    expect(diffRows(src, tgt, ['id'], 1)).toMatchObject({ rows: [{ key: { id: '2' } }], truncated: true });
  });
  it('sums 60-bit hash prefixes like the SQL checksum', () => {
    expect(checksumOf([{ key: ['1'], hash: 'fffffffffffffff0' }, { key: ['2'], hash: '0000000000000011' }])).toBe(0xfffffffffffffffn + 1n);
    expect(formatKey(['1', 'x'])).toBe('(1, x)');
    expect(formatKey(null)).toBeNull();
  });
});

describe('canonical definitions', () => {
  it('ignores quoting and whitespace, maps renamed names, keeps literals', () => {
    const map = new Map([['name', 'full_name'], ['sales', 'shop']]);
    expect(canonicalSql('CHECK ((length(name) > 0))', map)).toBe(canonicalSql('CHECK ((length(full_name) > 0))'));
    expect(canonicalSql('USING btree ("Odd Col")')).toBe(canonicalSql('USING  btree ( "Odd Col" )').replace(/ \)/, ')').replace(/\( /, '('));
    expect(canonicalSql("CHECK (v <> 'name')", map)).toContain("'name'");
    expect(canonicalSql('sales.mood[]', map)).toBe(canonicalSql('shop.mood[]'));
  });
});

describe('renderValidationText', () => {
  const report: ValidationReport = {
    level: 'checksums',
    status: 'mismatch',
    tables: [
      { source: 'public.items', target: 'public.goods', status: 'mismatch', sourceRows: 20000, targetRows: 19999, sourceChecksum: '1', targetChecksum: '2',
        reason: 'row counts differ: source 20000, target 19999; checksums differ; 2 key range(s) differ',
        ranges: [{ column: 'id', lo: '751', hi: '1001', sourceRows: 250, targetRows: 250 }, { column: 'id', lo: '15000', hi: null, sourceRows: 900, targetRows: 899 }],
        rows: [{ key: { id: '777' }, kind: 'changed' }, { key: { id: '15001' }, kind: 'missing_on_target' }], rowsTruncated: true },
      { source: 'public.pairs', target: 'public.pairs', status: 'match', sourceRows: 3000, targetRows: 3000, sourceChecksum: '5', targetChecksum: '5' },
      { source: 'public.skip', target: 'public.skip', status: 'skipped', sourceRows: 0, targetRows: 0, reason: 'validation.level is none' },
    ],
    schema: [
      { object: 'public.goods', kind: 'index', status: 'mismatch', message: 'items_name missing on the target' },
      { object: 'public.goods', kind: 'table', status: 'match', message: 'exists' },
    ],
  };
  it('renders one aligned line per table, then ranges, rows and schema differences', () => {
    const text = renderValidationText(report);
    const lines = text.split('\n');
    expect(lines[0]).toBe('Validation (checksums): MISMATCH - 1 match, 1 mismatch, 1 skipped');
    expect(lines[1]).toMatch(/^ {2}TABLE\s+STATUS\s+SOURCE ROWS\s+TARGET ROWS\s+CHECKSUM\s+NOTE$/);
    expect(lines[2]).toMatch(/^ {2}public\.items -> public\.goods\s+MISMATCH\s+20000\s+19999\s+differ\s+row counts differ/);
    expect(lines[3]).toMatch(/^ {2}public\.pairs\s+match\s+3000\s+3000\s+equal$/);
    expect(lines[4]).toMatch(/^ {2}public\.skip\s+skipped\s+-\s+-\s+-\s+validation\.level is none$/);
    expect(lines[1]!.indexOf('STATUS')).toBe(lines[2]!.indexOf('MISMATCH'));
    expect(text).toContain('range id in [751, 1001): source 250 rows, target 250 rows');
    expect(text).toContain('range id in [15000, +inf): source 900 rows, target 899 rows');
    expect(text).toMatch(/id=777\s+changed\n\s+id=15001\s+missing_on_target/);
    expect(text).toContain('more differing rows not listed');
    expect(text).toContain('Schema: 1 of 2 items differ');
    expect(text).toContain('public.goods index: items_name missing on the target');
  });
  it('says skipped for level none', () => {
    expect(renderValidationText({ level: 'none', status: 'skipped', tables: [] })).toBe('Validation (none): skipped - 0 match, 0 mismatch, 0 skipped');
  });
});
