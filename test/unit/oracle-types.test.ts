// PostgreSQL -> Oracle type mapping: every type of the acceptance list is mapped or rejected
// with a message naming schema.table.column, plus property tests of the rules (numeric
// precision, string lengths, value conversion). No database.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { UnsupportedType } from '../../activities/adapters/errors';
import { decodeTypmod, pgTypeOf, type PgTypeRow } from '../../activities/adapters/oracle/catalog';
import { mapColumn, mapColumns, varchar2Limit, type OracleTarget, type PgColumn, type PgType } from '../../activities/adapters/oracle/types';
import { decimalShape, oracleBindExpr, pgReadExpr, timeToDsInterval, toBindValue } from '../../activities/adapters/oracle/values';
import { CopyFailed } from '../../activities/adapters/errors';

const table = { schema: 'public', name: 'orders' };
const ora19: OracleTarget = { major: 19, minor: 3, maxStringSize: 'STANDARD' };
const ora23: OracleTarget = { major: 23, minor: 4, maxStringSize: 'STANDARD' };
const ora11: OracleTarget = { major: 11, minor: 2, maxStringSize: 'STANDARD' };

const col = (name: string, type: PgType, extra: Partial<PgColumn> = {}): PgColumn => ({ table, name, type, notNull: false, ...extra });
const b = (name: string, typmod?: number[]): PgType => (typmod ? { kind: 'base', name, typmod } : { kind: 'base', name });
const mood: PgType = { kind: 'enum', name: 'public.mood', labels: ['sad', 'ok', "it's fine"] };

type Expect = { oracle: string; check?: RegExp } | { reject: RegExp };

// The acceptance list, in its order: each PostgreSQL type and what Oracle 19c gets.
const CASES: [string, PgColumn, Expect][] = [
  ['smallint', col('c_smallint', b('smallint')), { oracle: 'NUMBER(5)' }],
  ['integer', col('c_integer', b('integer')), { oracle: 'NUMBER(10)' }],
  ['bigint', col('c_bigint', b('bigint')), { oracle: 'NUMBER(19)' }],
  ['numeric(p,s)', col('c_numeric', b('numeric', [12, 2])), { oracle: 'NUMBER(12,2)' }],
  ['numeric (unbounded)', col('c_numeric_any', b('numeric')), { oracle: 'NUMBER' }],
  ['real', col('c_real', b('real')), { oracle: 'BINARY_FLOAT' }],
  ['double precision', col('c_double', b('double precision')), { oracle: 'BINARY_DOUBLE' }],
  ['boolean', col('c_bool', b('boolean')), { oracle: 'NUMBER(1)', check: /^%s IN \(0, 1\)$/ }],
  ['text', col('c_text', b('text')), { oracle: 'CLOB' }],
  ['varchar(n)', col('c_varchar', b('character varying', [80])), { oracle: 'VARCHAR2(80 CHAR)' }],
  ['char(n)', col('c_char', b('character', [3])), { oracle: 'CHAR(3 CHAR)' }],
  ['bytea', col('c_bytea', b('bytea')), { oracle: 'BLOB' }],
  ['date', col('c_date', b('date')), { oracle: 'DATE' }],
  ['timestamp', col('c_ts', b('timestamp without time zone')), { oracle: 'TIMESTAMP(6)' }],
  ['timestamptz', col('c_tstz', b('timestamp with time zone', [3])), { oracle: 'TIMESTAMP(3) WITH TIME ZONE' }],
  ['time', col('c_time', b('time without time zone')), { oracle: 'INTERVAL DAY(1) TO SECOND(6)' }],
  ['timetz', col('c_timetz', b('time with time zone')), { oracle: 'VARCHAR2(24 CHAR)' }],
  ['interval', col('c_interval', b('interval')), { oracle: 'VARCHAR2(100 CHAR)' }],
  ['interval year to month', col('c_interval_ym', b('interval', [4 | 2])), { oracle: 'INTERVAL YEAR(9) TO MONTH' }],
  ['interval day to second(3)', col('c_interval_ds', b('interval', [8 | 1024 | 2048 | 4096, 3])), { oracle: 'INTERVAL DAY(9) TO SECOND(3)' }],
  ['uuid', col('c_uuid', b('uuid')), { oracle: 'RAW(16)' }],
  ['json', col('c_json', b('json')), { oracle: 'CLOB', check: /^%s IS JSON$/ }],
  ['jsonb', col('c_jsonb', b('jsonb')), { oracle: 'CLOB', check: /^%s IS JSON$/ }],
  ['inet', col('c_inet', b('inet')), { oracle: 'VARCHAR2(49 CHAR)' }],
  ['cidr', col('c_cidr', b('cidr')), { oracle: 'VARCHAR2(49 CHAR)' }],
  ['macaddr', col('c_mac', b('macaddr')), { oracle: 'VARCHAR2(17 CHAR)' }],
  ['enum types', col('c_mood', mood), { oracle: 'VARCHAR2(9 CHAR)', check: /^%s IN \('sad', 'ok', 'it''s fine'\)$/ }],
  ['domain types (base type)', col('c_domain', { kind: 'domain', name: 'public.price', base: b('numeric', [10, 2]) }), { oracle: 'NUMBER(10,2)' }],
  ['composite types', col('c_composite', { kind: 'composite', name: 'public.address' }), { reject: /public\.orders\.c_composite.*composite type public\.address/ }],
  ['arrays', col('c_int_array', { kind: 'array', element: b('integer') }), { oracle: 'CLOB', check: /IS JSON/ }],
  ['arrays of enums', col('c_mood_array', { kind: 'array', element: mood }), { oracle: 'CLOB', check: /IS JSON/ }],
  ['range types (tstzrange)', col('c_period', { kind: 'range', name: 'tstzrange', subtype: 'timestamp with time zone' }), { reject: /public\.orders\.c_period.*range type tstzrange/ }],
  ['range types (int4range)', col('c_span', { kind: 'range', name: 'int4range', subtype: 'integer' }), { reject: /public\.orders\.c_span.*range type int4range/ }],
  ['multirange', col('c_multi', { kind: 'multirange', name: 'tstzmultirange' }), { reject: /public\.orders\.c_multi.*multirange/ }],
  ['identity columns', col('c_id', b('bigint'), { identity: 'always', notNull: true }), { oracle: 'NUMBER(19)' }],
  ['generated columns', col('c_total', b('numeric', [12, 2]), { generated: true }), { oracle: 'NUMBER(12,2)' }],
  ['money', col('c_money', b('money')), { oracle: 'NUMBER' }],
  ['xml', col('c_xml', b('xml')), { oracle: 'CLOB' }],
  ['bit(n)', col('c_bits', b('bit', [8])), { oracle: 'VARCHAR2(8 CHAR)', check: /TRANSLATE/ }],
  ['varbit', col('c_varbit', b('bit varying')), { oracle: 'CLOB' }],
  ['tsvector', col('c_tsv', b('tsvector')), { reject: /public\.orders\.c_tsv.*tsvector.*full-text/ }],
  ['point', col('c_point', b('point')), { reject: /public\.orders\.c_point.*geometric type point/ }],
  ['polygon', col('c_poly', b('polygon')), { reject: /public\.orders\.c_poly.*geometric type polygon/ }],
  ['array of composite', col('c_addrs', { kind: 'array', element: { kind: 'composite', name: 'public.address' } }), { reject: /public\.orders\.c_addrs.*array of composite/ }],
  ['unknown type', col('c_lsn', b('pg_lsn')), { reject: /public\.orders\.c_lsn.*pg_lsn has no Oracle mapping/ }],
];

describe('PostgreSQL -> Oracle type mapping (acceptance list, Oracle 19c)', () => {
  it.each(CASES)('%s', (_label, c, want) => {
    if ('reject' in want) {
      expect(() => mapColumn(c, ora19)).toThrow(UnsupportedType);
      expect(() => mapColumn(c, ora19)).toThrow(want.reject);
      return;
    }
    const m = mapColumn(c, ora19);
    expect(m.oracleType).toBe(want.oracle);
    if (want.check) expect(m.check).toMatch(want.check);
    else expect(m.check).toBeUndefined();
  });

  it('identity columns become BY DEFAULT identities on 12c+, plain numbers on 11g', () => {
    const c = col('id', b('bigint'), { identity: 'always', notNull: true });
    expect(mapColumn(c, ora19).identity).toBe(true);
    expect(mapColumn(c, ora11).identity).toBeUndefined();
    expect(mapColumn(c, ora11).notes.join(' ')).toMatch(/need 12c/);
  });

  it('generated columns are mapped but not copied', () => {
    const m = mapColumn(col('total', b('integer'), { generated: true }), ora19);
    expect(m.copied).toBe(false);
    expect(m.notes.join(' ')).toMatch(/virtual column/);
  });

  it('domains carry a note that their constraints are not carried; a rejected base names the column', () => {
    expect(mapColumn(col('d', { kind: 'domain', name: 'public.pos', base: b('integer') }), ora19).notes[0]).toMatch(/domain public\.pos/);
    expect(() => mapColumn(col('g', { kind: 'domain', name: 'public.pt', base: b('point') }), ora19)).toThrow(/public\.orders\.g \(public\.pt \(domain over point\)\)/);
  });

  it('version-dependent mappings: 23ai BOOLEAN, 21c+ JSON for jsonb, plain CLOB for json on 11g', () => {
    expect(mapColumn(col('b', b('boolean')), ora23)).toMatchObject({ oracleType: 'BOOLEAN', kind: 'bool' });
    expect(mapColumn(col('b', b('boolean')), ora23).check).toBeUndefined();
    expect(mapColumn(col('j', b('jsonb')), ora23).oracleType).toBe('JSON');
    expect(mapColumn(col('j', b('json')), ora23)).toMatchObject({ oracleType: 'CLOB', check: '%s IS JSON' });
    expect(mapColumn(col('j', b('json')), ora11).oracleType).toBe('CLOB');
    expect(mapColumn(col('j', b('json')), ora11).check).toBeUndefined();
  });

  it('an enum with an empty label is rejected (Oracle would store NULL)', () => {
    expect(() => mapColumn(col('e', { kind: 'enum', name: 'public.e', labels: ['a', ''] }), ora19)).toThrow(/public\.orders\.e.*empty label/);
  });

  it('mapColumns reports every rejected column at once', () => {
    const cols = [col('ok', b('integer')), col('p', b('point')), col('r', { kind: 'range', name: 'daterange', subtype: 'date' })];
    expect(() => mapColumns(cols, ora19)).toThrow(/2 columns[\s\S]*public\.orders\.p[\s\S]*public\.orders\.r/);
  });
});

describe('mapping rules (property-based)', () => {
  it('numeric(p,s): NUMBER(p,s) within Oracle limits, else NUMBER with a note; never rejected', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1000 }), fc.integer({ min: -1000, max: 1000 }), (p, s) => {
        const m = mapColumn(col('n', b('numeric', [p, s])), ora19);
        if (p <= 38 && s >= -84 && s <= 127) expect(m.oracleType).toBe(`NUMBER(${p},${s})`);
        else {
          expect(m.oracleType).toBe('NUMBER');
          expect(m.notes.join(' ')).toMatch(/beyond NUMBER\(38\)/);
        }
      }),
      { numRuns: 200 },
    );
  });

  it('varchar(n): VARCHAR2(n CHAR) up to the VARCHAR2 limit, CLOB beyond; EXTENDED raises the limit', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 10_485_760 }), fc.constantFrom<OracleTarget['maxStringSize']>('STANDARD', 'EXTENDED'), (n, size) => {
        const t = { ...ora19, maxStringSize: size };
        const m = mapColumn(col('v', b('character varying', [n])), t);
        expect(m.oracleType).toBe(n <= varchar2Limit(t) ? `VARCHAR2(${n} CHAR)` : 'CLOB');
      }),
      { numRuns: 200 },
    );
  });

  it('every generated type is mapped to a well-formed Oracle type or rejected naming the column', () => {
    const baseNames = ['smallint', 'integer', 'bigint', 'numeric', 'real', 'double precision', 'boolean', 'text', 'character varying', 'character', 'bytea', 'date', 'timestamp without time zone', 'timestamp with time zone', 'time without time zone', 'time with time zone', 'interval', 'uuid', 'json', 'jsonb', 'inet', 'cidr', 'macaddr', 'macaddr8', 'money', 'xml', 'bit', 'bit varying', 'tsvector', 'point', 'box', 'circle', 'line', 'oid'];
    const leaf: fc.Arbitrary<PgType> = fc.oneof(
      fc.constantFrom(...baseNames).map((name): PgType => ({ kind: 'base', name })),
      fc.array(fc.string({ minLength: 1, maxLength: 10 }), { minLength: 1, maxLength: 5 }).map((labels): PgType => ({ kind: 'enum', name: 'public.e', labels })),
      fc.constant<PgType>({ kind: 'composite', name: 'public.c' }),
      fc.constantFrom('int4range', 'tstzrange', 'daterange').map((name): PgType => ({ kind: 'range', name, subtype: 'x' })),
    );
    const type = leaf.chain((t) => fc.constantFrom<PgType>(t, { kind: 'array', element: t }, { kind: 'domain', name: 'public.d', base: t }));
    const ORACLE_TYPE = /^(NUMBER(\(\d+(,-?\d+)?\))?|BINARY_(FLOAT|DOUBLE)|BOOLEAN|CLOB|BLOB|JSON|DATE|RAW\(16\)|(VARCHAR2|CHAR)\(\d+ CHAR\)|TIMESTAMP\(\d\)( WITH TIME ZONE)?|INTERVAL (DAY\(\d\) TO SECOND\(\d\)|YEAR\(9\) TO MONTH))$/;
    fc.assert(
      fc.property(type, fc.constantFrom(ora11, ora19, ora23), fc.stringMatching(/^[a-z_][a-z0-9_]{0,20}$/), (t, target, name) => {
        try {
          const m = mapColumn(col(name, t), target);
          expect(m.oracleType).toMatch(ORACLE_TYPE);
        } catch (err) {
          expect(err).toBeInstanceOf(UnsupportedType);
          expect((err as Error).message.startsWith(`public.orders.${name} (`)).toBe(true);
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('values on their way to Oracle', () => {
  const num = mapColumn(col('n', b('numeric')), ora19);
  const ctx = { where: 'public.orders.n', policy: 'null' as const };

  it('decimals with up to 38 significant digits pass unchanged; more fail naming the column', () => {
    const decimal = fc
      .tuple(fc.boolean(), fc.stringMatching(/^[1-9][0-9]{0,45}$/), fc.stringMatching(/^[0-9]{0,10}$/))
      .map(([neg, int, frac]) => `${neg ? '-' : ''}${int}${frac ? `.${frac}` : ''}`);
    fc.assert(
      fc.property(decimal, (v) => {
        const shape = decimalShape(v)!;
        if (shape.digits <= 38) expect(toBindValue(v, num, ctx)).toBe(v);
        else expect(() => toBindValue(v, num, ctx)).toThrow(/public\.orders\.n: .* 38/);
      }),
      { numRuns: 200 },
    );
  });

  it('NaN and Infinity cannot go into NUMBER; they can go into BINARY_DOUBLE', () => {
    for (const v of ['NaN', 'Infinity', '-Infinity']) expect(() => toBindValue(v, num, ctx)).toThrow(CopyFailed);
    const dbl = mapColumn(col('d', b('double precision')), ora19);
    expect(toBindValue('NaN', dbl, ctx)).toBeNaN();
    expect(toBindValue('-Infinity', dbl, ctx)).toBe(Number.NEGATIVE_INFINITY);
    expect(toBindValue('1.0000000000000002', dbl, ctx)).toBe(1.0000000000000002);
  });

  it("empty-string policy: '' -> NULL, ' ', or a failure; NOT NULL columns refuse NULL", () => {
    const text = mapColumn(col('t', b('text')), ora19);
    const notNull = mapColumn(col('t', b('text'), { notNull: true }), ora19);
    fc.assert(
      fc.property(fc.string({ maxLength: 20 }), (s) => {
        const asNull = toBindValue(s, text, { where: 'x', policy: 'null' });
        expect(asNull).toBe(s === '' ? null : s);
        expect(toBindValue(s, text, { where: 'x', policy: 'space' })).toBe(s === '' ? ' ' : s);
        if (s === '') {
          expect(() => toBindValue(s, text, { where: 'public.orders.t', policy: 'reject' })).toThrow(/public\.orders\.t.*'reject'/);
          expect(() => toBindValue(s, notNull, { where: 'public.orders.t', policy: 'null' })).toThrow(/public\.orders\.t.*NOT NULL/);
        }
      }),
      { numRuns: 100 },
    );
  });

  it('VARCHAR2 byte limits are checked before Oracle would refuse the row', () => {
    const v = mapColumn(col('v', b('character varying', [4000])), ora19);
    expect(toBindValue('é'.repeat(2000), v, ctx)).toHaveLength(2000);
    expect(() => toBindValue('é'.repeat(2001), v, ctx)).toThrow(/4002 bytes exceeds VARCHAR2\(4000 CHAR\)/);
  });

  it('times of day become day-to-second intervals, 24:00:00 included', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 23 }), fc.integer({ min: 0, max: 59 }), fc.integer({ min: 0, max: 59 }), fc.integer({ min: 0, max: 999_999 }), (h, m, s, us) => {
        const p = (n: number, w = 2) => String(n).padStart(w, '0');
        const v = `${p(h)}:${p(m)}:${p(s)}.${p(us, 6)}`;
        expect(timeToDsInterval(v)).toBe(`+0 ${p(h)}:${p(m)}:${p(s)}.${p(us, 6)}`);
      }),
      { numRuns: 100 },
    );
    expect(timeToDsInterval('24:00:00')).toBe('+1 00:00:00.000000');
  });

  it('dates outside Oracle years and infinities fail; uuids become 32 hex digits', () => {
    const d = mapColumn(col('d', b('date')), ora19);
    expect(toBindValue('2024-02-29', d, ctx)).toBe('2024-02-29');
    expect(() => toBindValue('infinity', d, ctx)).toThrow(/infinity has no Oracle equivalent/);
    expect(() => toBindValue('0044-03-15 BC', d, ctx)).toThrow(/years 1\.\.9999/);
    expect(() => toBindValue('10000-01-01', d, ctx)).toThrow(/years 1\.\.9999/);
    const u = mapColumn(col('u', b('uuid')), ora19);
    fc.assert(
      fc.property(fc.uuid(), (x) => {
        expect(toBindValue(x, u, ctx)).toBe(x.replace(/-/g, '').toUpperCase());
      }),
      { numRuns: 50 },
    );
  });

  it('booleans: 1/0 for NUMBER(1), true/false for 23ai BOOLEAN', () => {
    expect(toBindValue('true', mapColumn(col('b', b('boolean')), ora19), ctx)).toBe(1);
    expect(toBindValue('false', mapColumn(col('b', b('boolean')), ora23), ctx)).toBe(false);
  });

  it('read and bind expressions per kind', () => {
    expect(pgReadExpr('timestamptz', 'timestamp with time zone', '"at"')).toBe(`CASE WHEN pg_catalog.isfinite("at") THEN pg_catalog.to_char("at" AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') ELSE "at"::text END`);
    expect(pgReadExpr('clob', 'integer[]', '"xs"')).toBe('pg_catalog.to_json("xs")::text');
    expect(pgReadExpr('number', 'money', '"m"')).toBe('"m"::numeric::text');
    expect(oracleBindExpr('timestamptz', ':3')).toBe("FROM_TZ(TO_TIMESTAMP(:3, 'YYYY-MM-DD HH24:MI:SS.FF6'), '+00:00')");
    expect(oracleBindExpr('uuid', ':1')).toBe('HEXTORAW(:1)');
  });
});

describe('PostgreSQL catalog decoding', () => {
  it('typmods: numeric (incl. negative scale), varchar, interval fields', () => {
    expect(decodeTypmod('numeric', ((12 << 16) | 2) + 4)).toEqual([12, 2]);
    expect(decodeTypmod('numeric', ((5 << 16) | (-2 & 0x7ff)) + 4)).toEqual([5, -2]);
    expect(decodeTypmod('character varying', 84)).toEqual([80]);
    expect(decodeTypmod('interval', ((4 | 2) << 16) | 0xffff)).toEqual([6]);
    expect(decodeTypmod('numeric', -1)).toBeUndefined();
  });

  it('types: arrays of enums, domains over arrays, ranges', () => {
    const rows = new Map<number, PgTypeRow>();
    const add = (r: Partial<PgTypeRow> & { oid: number; name: string }) =>
      rows.set(r.oid, { typtype: 'b', category: 'U', elem: 0, base: 0, baseTypmod: -1, relid: 0, rangeSubtype: 0, labels: [], ...r });
    add({ oid: 23, name: 'integer', category: 'N' });
    add({ oid: 1043, name: 'character varying', category: 'S' });
    add({ oid: 1015, name: 'character varying[]', category: 'A', elem: 1043 });
    add({ oid: 20000, name: 'public.mood', typtype: 'e', category: 'E', labels: ['a', 'b'] });
    add({ oid: 20001, name: 'public.mood[]', category: 'A', elem: 20000 });
    add({ oid: 20002, name: 'public.codes', typtype: 'd', base: 1015, baseTypmod: 14 });
    add({ oid: 3904, name: 'int4range', typtype: 'r', category: 'R', rangeSubtype: 23 });
    expect(pgTypeOf(20001, -1, rows)).toEqual({ kind: 'array', element: { kind: 'enum', name: 'public.mood', labels: ['a', 'b'] } });
    expect(pgTypeOf(20002, -1, rows)).toEqual({ kind: 'domain', name: 'public.codes', base: { kind: 'array', element: { kind: 'base', name: 'character varying', typmod: [10] } } });
    expect(pgTypeOf(3904, -1, rows)).toEqual({ kind: 'range', name: 'int4range', subtype: 'integer' });
  });
});
