// A batch of changes in one round trip: statements with their values inlined as literals (one
// multi-statement simple query), and how a failure in such a chunk is traced to its table.
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import {
  deleteStatements,
  escapeLiteral,
  inlineStatement,
  insertStatement,
  multiStatement,
  sqlLiteral,
  targetTable,
  UNCHANGED_TOAST,
  updateStatement,
  type RelationMessage,
} from '../../activities/adapters/postgres/apply';
import { CaptureFailed, sendChunk, type ChunkClient, type QueuedStatement } from '../../activities/adapters/postgres/replication';
import type { ResolvedEndpoint } from '../../activities/adapters/engine';

const REL: RelationMessage = {
  tag: 'relation',
  oid: 1,
  schema: 'public',
  name: 'we$1rd',
  identity: 'd',
  columns: [
    { name: 'id', key: true, typeOid: 20, typeMod: -1 },
    { name: 'note', key: false, typeOid: 25, typeMod: -1 },
    { name: 'b', key: false, typeOid: 17, typeMod: -1 },
    { name: 'j', key: false, typeOid: 3802, typeMod: -1 },
    { name: 'big', key: false, typeOid: 25, typeMod: -1 },
    { name: 'co$2l', key: false, typeOid: 0, typeMod: -1 },
  ],
};
const TABLE = targetTable(REL, 'public.we$1rd -> app."we$1rd"', 'app', 'we$1rd', [
  { name: 'id', type: 'bigint' },
  { name: 'note', type: 'text' },
  { name: 'b', type: 'bytea' },
  { name: 'j', type: 'jsonb' },
  { name: 'big', type: 'text' },
  { name: 'co$2l', type: '"My$3Schema"."mo$4od"' },
]);

describe('values as literals', () => {
  it('escapes like node-postgres: quotes doubled, E-string with doubled backslashes, NULL unquoted', () => {
    expect(sqlLiteral(null)).toBe('NULL');
    expect(sqlLiteral("it's")).toBe("'it''s'");
    expect(sqlLiteral('a\\b')).toBe(" E'a\\\\b'");
    expect(sqlLiteral("x'); DROP TABLE t; --")).toBe("'x''); DROP TABLE t; --'");
    expect(sqlLiteral(['1', null, "o'k"])).toBe("ARRAY['1', NULL, 'o''k']");
    expect(sqlLiteral([])).toBe('ARRAY[]');
    expect(sqlLiteral(3)).toBe('3');
    expect(() => sqlLiteral(UNCHANGED_TOAST)).toThrow(/unchanged TOAST/);
    expect(() => sqlLiteral('a\u0000b')).toThrow(/NUL/);
  });

  it('escapeLiteral writes exactly what node-postgres writes (and is fast on a TOASTed value)', () => {
    const samples = ['', 'a', "'", '\\', "a'b\\c", "''\\\\''", "ü€😀'\\n", " E'x'", '\\x00ff', '{"a":"\\"q\\""}', 'line\nbreak\ttab'];
    for (const v of samples) expect(escapeLiteral(v)).toBe(pg.escapeLiteral(v));
    const big = `${'0123456789abcdef'.repeat(80_000)}'\\`;
    const t = Date.now();
    expect(escapeLiteral(big)).toBe(pg.escapeLiteral(big));
    expect(Date.now() - t).toBeLessThan(2_000);
  });

  it('inlines an UPDATE: unchanged TOAST left out, bytea and json in their text forms, $ inside quoted names untouched', () => {
    const s = updateStatement(TABLE, {
      new: ['42', "O'Brien \\ co", '\\x00ff27', '{"a": "it\'s \\"q\\" \\\\n"}', UNCHANGED_TOAST, null],
    })!;
    expect(s.text).toBe(
      'UPDATE "app"."we$1rd" SET "note" = $1::text, "b" = $2::bytea, "j" = $3::jsonb, "co$2l" = $4::"My$3Schema"."mo$4od" WHERE "id" = $5::bigint',
    );
    expect(inlineStatement(s)).toBe(
      'UPDATE "app"."we$1rd" SET "note" =  E\'O\'\'Brien \\\\ co\'::text, "b" =  E\'\\\\x00ff27\'::bytea, ' +
        '"j" =  E\'{"a": "it\'\'s \\\\"q\\\\" \\\\\\\\n"}\'::jsonb, "co$2l" = NULL::"My$3Schema"."mo$4od" WHERE "id" = \'42\'::bigint',
    );
  });

  it('inlines runs of inserts and deletes as text arrays, and joins statements with semicolons', () => {
    const ins = insertStatement(TABLE, [
      ['1', null, '\\x', '[]', 'x', null],
      ['2', 'two', null, 'null', "'", null],
    ]);
    const del = deleteStatements(TABLE, [['3', null, null, null, null, null]]);
    const text = multiStatement([ins, ...del]);
    expect(text).toBe(
      'INSERT INTO "app"."we$1rd" ("id", "note", "b", "j", "big", "co$2l") OVERRIDING SYSTEM VALUE SELECT ' +
        'u.v1::bigint, u.v2::text, u.v3::bytea, u.v4::jsonb, u.v5::text, u.v6::"My$3Schema"."mo$4od" FROM ROWS FROM (' +
        "pg_catalog.unnest(ARRAY['1', '2']::text[]), pg_catalog.unnest(ARRAY[NULL, 'two']::text[]), " +
        "pg_catalog.unnest(ARRAY[ E'\\\\x', NULL]::text[]), pg_catalog.unnest(ARRAY['[]', 'null']::text[]), " +
        "pg_catalog.unnest(ARRAY['x', '''']::text[]), pg_catalog.unnest(ARRAY[NULL, NULL]::text[])) AS u(v1, v2, v3, v4, v5, v6);\n" +
        'DELETE FROM "app"."we$1rd" WHERE ("id") IN (SELECT u.v1::bigint FROM ROWS FROM (pg_catalog.unnest(ARRAY[\'3\']::text[])) AS u(v1))',
    );
  });

  it('refuses a parameter the statement has no value for', () => {
    expect(() => inlineStatement({ text: 'SELECT $2::int', values: [1] })).toThrow(/\$2/);
  });
});

// ---- sendChunk against a scripted client
const EP: ResolvedEndpoint = { host: '127.0.0.1', port: 1, database: 'db', user: 'u', password: 'p', sslmode: 'disable' };

class FakeClient implements ChunkClient {
  sent: string[] = [];
  constructor(private readonly onText: (text: string) => unknown, private readonly onStatement: (text: string) => unknown = () => ({ rowCount: 1 })) {}
  query(q: string | { text: string; values: unknown[] }): Promise<unknown> {
    const text = typeof q === 'string' ? q : q.text;
    this.sent.push(text);
    return new Promise((resolve) => resolve(typeof q === 'string' ? this.onText(text) : this.onStatement(text)));
  }
}

function pgError(message: string, code: string): Error {
  return Object.assign(new Error(message), { code });
}

const OTHER = targetTable({ ...REL, name: 'other' }, 'public.other -> public.other', 'public', 'other', TABLE.columns);
const chunk = (): QueuedStatement[] => [
  { s: updateStatement(OTHER, { new: ['1', 'a', null, null, null, null] })!, table: OTHER },
  { s: updateStatement(TABLE, { new: ['2', 'dup', null, null, null, null] })!, table: TABLE },
  { s: updateStatement(OTHER, { new: ['3', 'c', null, null, null, null] })!, table: OTHER },
];

describe('a batch in one round trip', () => {
  it('sends BEGIN, a savepoint, the statements and the marker as one text; checks every row count; returns the marker result', async () => {
    const marker = { text: 'UPDATE m SET x = $1', values: ["0/1"], what: 'marker' };
    const c = new FakeClient((text) => text.split(';\n').map((_, i, all) => (i === all.length - 1 ? { rowCount: 1, rows: [{ hb: 'h' }] } : { rowCount: 1 })));
    const r = await sendChunk(c, EP, chunk(), true, marker);
    expect(c.sent).toHaveLength(1);
    expect(c.sent[0]!.split(';\n')).toEqual([
      'BEGIN',
      'SAVEPOINT ferry_apply_chunk',
      expect.stringMatching(/^UPDATE "public"."other" SET/),
      expect.stringMatching(/^UPDATE "app"."we\$1rd" SET "note" = 'dup'::text/),
      expect.stringMatching(/^UPDATE "public"."other" SET/),
      'RELEASE SAVEPOINT ferry_apply_chunk',
      "UPDATE m SET x = '0/1'",
    ]);
    expect(r).toEqual({ rowCount: 1, rows: [{ hb: 'h' }] });
  });

  it('names the table whose row is missing on the target', async () => {
    const c = new FakeClient(() => [{}, { rowCount: 1 }, { rowCount: 0 }, { rowCount: 1 }, {}]);
    await expect(sendChunk(c, EP, chunk(), false)).rejects.toThrow(/applying a update to public\.we\$1rd -> app\."we\$1rd": 0 of 1 row\(s\) found on the target/);
  });

  it('traces an error in the multi-statement text to its statement and table by replaying from the savepoint', async () => {
    const c = new FakeClient(
      (text) => {
        if (text.includes(';')) throw pgError('duplicate key value violates unique constraint "we_pkey"', '23505');
        return {}; // ROLLBACK TO SAVEPOINT
      },
      (text) => {
        if (text.startsWith('UPDATE "app"."we$1rd"')) throw pgError('duplicate key value violates unique constraint "we_pkey"', '23505');
        return { rowCount: 1 };
      },
    );
    const err = await sendChunk(c, EP, chunk(), true).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CaptureFailed);
    expect((err as Error).message).toBe(
      'applying a update to public.we$1rd -> app."we$1rd" failed: duplicate key value violates unique constraint "we_pkey"',
    );
    expect(c.sent.slice(1)).toEqual([
      'ROLLBACK TO SAVEPOINT ferry_apply_chunk',
      expect.stringMatching(/^UPDATE "public"."other"/),
      expect.stringMatching(/^UPDATE "app"."we\$1rd"/),
    ]);
  });

  it('a lost connection is not replayed: it is reported as the target connection failure', async () => {
    const c = new FakeClient(() => {
      throw new Error('Connection terminated unexpectedly');
    });
    await expect(sendChunk(c, EP, chunk(), true)).rejects.toThrow(/cannot reach PostgreSQL at 127\.0\.0\.1:1/);
    expect(c.sent).toHaveLength(1);
  });
});
