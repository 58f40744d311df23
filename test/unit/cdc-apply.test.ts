// The pure half of change capture: pgoutput decoding (messages built byte by byte as the server
// sends them) and the SQL each change becomes on the target.
import { describe, expect, it } from 'vitest';
import {
  decodeFrame,
  decodePgoutput,
  deleteStatements,
  insertStatement,
  mapColumns,
  standbyStatus,
  targetTable,
  truncateStatement,
  UNCHANGED_TOAST,
  updateJoinsRun,
  updateRunKey,
  updateRunStatement,
  updateStatement,
  type RelationMessage,
  type TargetTable,
  type Value,
} from '../../activities/adapters/postgres/apply';
import { parseLsn } from '../../activities/adapters/postgres/lsn';

// ---- a tiny pgoutput encoder for the tests
const u8 = (n: number) => Buffer.from([n]);
const i16 = (n: number) => {
  const b = Buffer.alloc(2);
  b.writeInt16BE(n);
  return b;
};
const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};
const u64 = (n: bigint) => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(n);
  return b;
};
const cstr = (s: string) => Buffer.concat([Buffer.from(s, 'utf8'), u8(0)]);
const ch = (c: string) => u8(c.charCodeAt(0));
function tuple(values: Value[]): Buffer {
  return Buffer.concat([
    i16(values.length),
    ...values.map((v) => {
      if (v === null) return ch('n');
      if (v === UNCHANGED_TOAST) return ch('u');
      const bytes = Buffer.from(v, 'utf8');
      return Buffer.concat([ch('t'), u32(bytes.length), bytes]);
    }),
  ]);
}

const REL: RelationMessage = {
  tag: 'relation',
  oid: 16384,
  schema: 'Sales',
  name: 'order "x"',
  identity: 'd',
  columns: [
    { name: 'id', key: true, typeOid: 20, typeMod: -1 },
    { name: 'note', key: false, typeOid: 25, typeMod: -1 },
    { name: 'body', key: false, typeOid: 25, typeMod: -1 },
  ],
};

function relationBytes(rel: RelationMessage): Buffer {
  return Buffer.concat([
    ch('R'),
    u32(rel.oid),
    cstr(rel.schema),
    cstr(rel.name),
    ch(rel.identity),
    i16(rel.columns.length),
    ...rel.columns.map((c) => Buffer.concat([u8(c.key ? 1 : 0), cstr(c.name), u32(c.typeOid), Buffer.from(new Int32Array([0]).buffer).fill(0xff)])),
  ]);
}

const TABLE: TargetTable = targetTable(REL, 'Sales."order ""x""" -> shop.orders', 'shop', 'orders', [
  { name: 'order_id', type: 'bigint' },
  { name: 'note', type: 'text' },
  { name: 'body', type: 'text' },
]);

describe('pgoutput decoding', () => {
  it('decodes begin, relation, insert, commit', () => {
    const begin = decodePgoutput(Buffer.concat([ch('B'), u64(0x1_0000_0010n), u64(123n), u32(777)]));
    expect(begin).toEqual({ tag: 'begin', finalLsn: 0x1_0000_0010n, commitTime: 123n, xid: 777 });
    const rel = decodePgoutput(relationBytes(REL));
    expect(rel).toEqual(REL);
    const ins = decodePgoutput(Buffer.concat([ch('I'), u32(16384), ch('N'), tuple(['1', null, 'héllo'])]));
    expect(ins).toEqual({ tag: 'insert', relation: 16384, new: ['1', null, 'héllo'] });
    const commit = decodePgoutput(Buffer.concat([ch('C'), u8(0), u64(0x10n), u64(0x40n), u64(5n)]));
    expect(commit).toEqual({ tag: 'commit', commitLsn: 0x10n, endLsn: 0x40n, commitTime: 5n });
  });

  it('keeps the unchanged-TOAST marker apart from NULL', () => {
    const upd = decodePgoutput(Buffer.concat([ch('U'), u32(16384), ch('N'), tuple(['1', null, UNCHANGED_TOAST])]));
    expect(upd).toEqual({ tag: 'update', relation: 16384, key: undefined, old: undefined, new: ['1', null, UNCHANGED_TOAST] });
  });

  it('decodes old keys (K) and old rows (O) of updates and deletes, and truncate flags', () => {
    const k = decodePgoutput(Buffer.concat([ch('U'), u32(1), ch('K'), tuple(['7', null, null]), ch('N'), tuple(['8', 'n', 'b'])]));
    expect(k).toMatchObject({ key: ['7', null, null], new: ['8', 'n', 'b'] });
    const o = decodePgoutput(Buffer.concat([ch('U'), u32(1), ch('O'), tuple(['7', 'a', 'b']), ch('N'), tuple(['7', 'c', 'b'])]));
    expect(o).toMatchObject({ old: ['7', 'a', 'b'], new: ['7', 'c', 'b'] });
    expect(decodePgoutput(Buffer.concat([ch('D'), u32(1), ch('K'), tuple(['7', null, null])]))).toEqual({ tag: 'delete', relation: 1, key: ['7', null, null] });
    expect(decodePgoutput(Buffer.concat([ch('T'), u32(2), u8(2), u32(10), u32(11)]))).toEqual({
      tag: 'truncate',
      relations: [10, 11],
      cascade: false,
      restartIdentity: true,
    });
  });

  it('refuses binary values and unknown messages', () => {
    expect(() => decodePgoutput(Buffer.concat([ch('I'), u32(1), ch('N'), i16(1), ch('b'), u32(1), u8(1)]))).toThrow(/binary/);
    expect(() => decodePgoutput(ch('Z'))).toThrow(/unknown message/);
  });

  it('decodes XLogData and keepalive frames; standby status carries the applied LSN exactly', () => {
    const x = decodeFrame(Buffer.concat([ch('w'), u64(0x100n), u64(0x200n), u64(0n), ch('O'), u64(1n), cstr('origin')]));
    expect(x).toMatchObject({ kind: 'xlog', start: 0x100n, walEnd: 0x200n, message: { tag: 'origin' } });
    expect(decodeFrame(Buffer.concat([ch('k'), u64(0x300n), u64(0n), u8(1)]))).toEqual({ kind: 'keepalive', walEnd: 0x300n, replyRequested: true });
    const s = standbyStatus(parseLsn('1/20'), Date.UTC(2000, 0, 1, 0, 0, 1));
    expect(s.length).toBe(34);
    expect(String.fromCharCode(s[0]!)).toBe('r');
    expect(s.readBigUInt64BE(1)).toBe(0x1_0000_0020n); // written
    expect(s.readBigUInt64BE(9)).toBe(0x1_0000_0020n); // flushed: not +1
    expect(s.readBigInt64BE(25)).toBe(1_000_000n); // microseconds since 2000-01-01
  });
});

describe('changes to SQL', () => {
  it('inserts a run of rows as text arrays cast to the target types; values never in the SQL text', () => {
    const s = insertStatement(TABLE, [
      ['1', 'a', "x'); DROP TABLE t; --"],
      ['2', null, 'y'],
    ]);
    expect(s.text).toBe(
      'INSERT INTO "shop"."orders" ("order_id", "note", "body") OVERRIDING SYSTEM VALUE SELECT u.v1::bigint, u.v2::text, u.v3::text ' +
        'FROM ROWS FROM (pg_catalog.unnest($1::text[]), pg_catalog.unnest($2::text[]), pg_catalog.unnest($3::text[])) AS u(v1, v2, v3)',
    );
    expect(s.values).toEqual([
      ['1', '2'],
      ['a', null],
      ["x'); DROP TABLE t; --", 'y'],
    ]);
    expect(s.expectRows).toBe(2);
  });

  it('leaves unchanged TOAST columns out of the SET list, and an unchanged key out too', () => {
    const s = updateStatement(TABLE, { new: ['1', 'new note', UNCHANGED_TOAST] })!;
    expect(s.text).toBe('UPDATE "shop"."orders" SET "note" = $1::text WHERE "order_id" = $2::bigint');
    expect(s.values).toEqual(['new note', '1']);
    // Only the TOASTed column, unchanged: nothing to do.
    expect(updateStatement({ ...TABLE, columns: TABLE.columns }, { new: ['1', UNCHANGED_TOAST, UNCHANGED_TOAST] })).toBeNull();
  });

  it('runs of whole-row updates: one UPDATE ... FROM the rows, keyed by the replica identity', () => {
    expect(updateJoinsRun(TABLE, { new: ['1', 'n', 'b'] })).toBe(true);
    expect(updateJoinsRun(TABLE, { new: ['1', 'n', UNCHANGED_TOAST] })).toBe(false); // a value is missing
    expect(updateJoinsRun(TABLE, { key: ['7', null, null], new: ['8', 'n', 'b'] })).toBe(false); // the key changed
    expect(updateJoinsRun({ ...TABLE, full: true, keyIdx: [] }, { old: ['1', 'a', 'b'], new: ['1', 'n', 'b'] })).toBe(false);
    expect(updateRunKey(TABLE, ['1', 'n', 'b'])).toBe(updateRunKey(TABLE, ['1', 'other', null]));
    expect(updateRunKey(TABLE, ['1', 'n', 'b'])).not.toBe(updateRunKey(TABLE, ['2', 'n', 'b']));
    const s = updateRunStatement(TABLE, [
      ['1', "it's", null],
      ['2', 'n', 'b'],
    ]);
    expect(s.text).toBe(
      'UPDATE "shop"."orders" AS t SET "note" = u.v2::text, "body" = u.v3::text ' +
        'FROM ROWS FROM (pg_catalog.unnest($1::text[]), pg_catalog.unnest($2::text[]), pg_catalog.unnest($3::text[])) AS u(v1, v2, v3) ' +
        'WHERE t."order_id" = u.v1::bigint',
    );
    expect(s.values).toEqual([
      ['1', '2'],
      ["it's", 'n'],
      [null, 'b'],
    ]);
    expect(s.expectRows).toBe(2);
  });

  it('finds the row by the old key when the key changed (K tuple)', () => {
    const s = updateStatement(TABLE, { key: ['7', null, null], new: ['8', 'n', UNCHANGED_TOAST] })!;
    expect(s.text).toBe('UPDATE "shop"."orders" SET "order_id" = $1::bigint, "note" = $2::text WHERE "order_id" = $3::bigint');
    expect(s.values).toEqual(['8', 'n', '7']);
  });

  it('a composite key: only the changed part is set, the WHERE uses the whole old key', () => {
    const rel: RelationMessage = { ...REL, columns: [REL.columns[0]!, { ...REL.columns[1]!, key: true }, REL.columns[2]!] };
    const t = targetTable(rel, 'x', 'public', 't', TABLE.columns);
    const s = updateStatement(t, { key: ['1', 'a', null], new: ['1', 'b', 'c'] })!;
    expect(s.text).toBe('UPDATE "public"."t" SET "note" = $1::text, "body" = $2::text WHERE "order_id" = $3::bigint AND "note" = $4::text');
    expect(s.values).toEqual(['b', 'c', '1', 'a']);
  });

  it('REPLICA IDENTITY FULL: exactly one row matched by all old values (text comparison, NULL-safe)', () => {
    const full = targetTable({ ...REL, identity: 'f', columns: REL.columns.map((c) => ({ ...c, key: false })) }, 'x', 'public', 'ev', [
      { name: 'a', type: 'integer' },
      { name: 'j', type: 'json' },
      { name: 'b', type: 'text' },
    ]);
    const u = updateStatement(full, { old: ['1', '{"k": 1}', null], new: ['1', '{"k": 2}', UNCHANGED_TOAST] })!;
    expect(u.text).toBe(
      'UPDATE "public"."ev" SET "j" = $1::json WHERE (tableoid, ctid) = (SELECT t.tableoid, t.ctid FROM "public"."ev" t WHERE ' +
        't."a"::text IS NOT DISTINCT FROM ($2::integer)::text AND t."j"::text IS NOT DISTINCT FROM ($3::json)::text AND ' +
        't."b"::text IS NOT DISTINCT FROM ($4::text)::text LIMIT 1)',
    );
    expect(u.values).toEqual(['{"k": 2}', '1', '{"k": 1}', null]);
    const d = deleteStatements(full, [['1', '{}', 'x'], ['2', '{}', 'y']]);
    expect(d).toHaveLength(2); // one statement per row: each removes exactly one of possibly equal rows
    expect(d[0]!.text).toMatch(/^DELETE FROM "public"."ev" WHERE \(tableoid, ctid\) = \(SELECT .* LIMIT 1\)$/);
    expect(d[0]!.expectRows).toBe(1);
  });

  it('deletes a run by key in one statement', () => {
    const [d] = deleteStatements(TABLE, [['1', null, null], ['2', null, null]]);
    expect(d!.text).toBe(
      'DELETE FROM "shop"."orders" WHERE ("order_id") IN (SELECT u.v1::bigint FROM ROWS FROM (pg_catalog.unnest($1::text[])) AS u(v1))',
    );
    expect(d!.values).toEqual([['1', '2']]);
    expect(d!.expectRows).toBe(2);
  });

  it('refuses a change whose key is unknown (no identity, NULL or unchanged-TOAST key)', () => {
    const nokey = targetTable({ ...REL, columns: REL.columns.map((c) => ({ ...c, key: false })) }, 'public.nokey', 'public', 'nokey', TABLE.columns);
    expect(() => updateStatement(nokey, { new: ['1', 'a', 'b'] })).toThrow(/no replica identity key/);
    expect(() => deleteStatements(TABLE, [[null, null, null]])).toThrow(/NULL/);
    expect(() => updateStatement(TABLE, { key: [UNCHANGED_TOAST, null, null], new: ['1', 'a', 'b'] })).toThrow(/unchanged TOAST/);
  });

  it('truncates the tables named together, without CASCADE', () => {
    expect(truncateStatement([TABLE, TABLE], true).text).toBe('TRUNCATE TABLE "shop"."orders", "shop"."orders" RESTART IDENTITY');
    expect(truncateStatement([TABLE], false).text).toBe('TRUNCATE TABLE "shop"."orders"');
  });
});

describe('rename mapping of columns', () => {
  const mapping = { columns: [{ source: 'id', target: 'order_id' }, { source: 'note', target: 'remark' }, { source: 'body', target: 'body' }] };

  it('uses the source names while the target still has them (before applyRenames)', () => {
    const r = mapColumns(REL, mapping, [
      { name: 'id', type: 'bigint' },
      { name: 'note', type: 'text' },
      { name: 'body', type: 'text' },
    ]);
    expect(r).toEqual({ columns: [{ name: 'id', type: 'bigint' }, { name: 'note', type: 'text' }, { name: 'body', type: 'text' }] });
  });

  it('uses the mapped names after renames, with the target types', () => {
    const r = mapColumns(REL, mapping, [
      { name: 'body', type: 'character varying(10)' },
      { name: 'order_id', type: 'bigint' },
      { name: 'remark', type: '"My Schema".mood' },
    ]);
    expect(r).toEqual({
      columns: [
        { name: 'order_id', type: 'bigint' },
        { name: 'remark', type: '"My Schema".mood' },
        { name: 'body', type: 'character varying(10)' },
      ],
    });
  });

  it('names a source column the target lacks (DDL on the source is not replicated)', () => {
    expect(mapColumns({ columns: [...REL.columns, { name: 'added', key: false, typeOid: 25, typeMod: -1 }] }, mapping, [
      { name: 'order_id', type: 'bigint' },
      { name: 'remark', type: 'text' },
      { name: 'body', type: 'text' },
    ])).toEqual({ missing: 'added' });
  });
});
