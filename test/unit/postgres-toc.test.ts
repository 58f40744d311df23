import { describe, expect, it } from 'vitest';
import { binaryRowCounter, chunkId } from '../../activities/adapters/postgres/copy';
import { startupOptions } from '../../activities/adapters/postgres/connect';
import { preDataEntries } from '../../activities/adapters/postgres/schema';
import { commentOwners, formatToc, parseToc, preDataRuns, withOwnComments } from '../../activities/adapters/postgres/toc';
import { withoutMetaCommands } from '../../activities/adapters/postgres/views';

const LIST = `;
; Archive created at 2026-01-01 00:00:00 UTC
;
7; 2615 16496 SCHEMA - Odd Schema postgres
3425; 0 0 COMMENT - SCHEMA public pg_database_owner
853; 1247 16498 TYPE sales mood postgres
230; 1255 16509 FUNCTION sales bump() postgres
225; 1259 16562 TABLE Odd Schema Mixed "Case"; table postgres
3426; 0 0 SEQUENCE OWNED BY sales event_id_seq postgres
3245; 0 0 TABLE ATTACH sales event_2023 postgres
3269; 2606 16568 CONSTRAINT Odd Schema Mixed "Case"; table Mixed "Case"; table_pkey postgres
3274; 2606 16530 FK CONSTRAINT sales invoice invoice_customer_id_fkey postgres
3270; 0 0 INDEX ATTACH sales event_2023_pkey postgres
`;

describe('TOC', () => {
  it('parses ids, OIDs and multi-word descriptions', () => {
    const toc = parseToc(LIST);
    expect(toc.map((e) => e.desc)).toEqual([
      'SCHEMA', 'COMMENT', 'TYPE', 'FUNCTION', 'TABLE', 'SEQUENCE OWNED BY', 'TABLE ATTACH', 'CONSTRAINT', 'FK CONSTRAINT', 'INDEX ATTACH',
    ]);
    const table = toc.find((e) => e.desc === 'TABLE')!;
    expect(table).toMatchObject({ dumpId: 225, classId: 1259, objectId: 16562, rest: 'Odd Schema Mixed "Case"; table postgres' });
    expect(toc.find((e) => e.desc === 'INDEX ATTACH')!.rest).toBe('sales event_2023_pkey postgres');
  });

  it('pre-data leaves out schemas and schema comments (Ferry creates schemas itself)', () => {
    const pre = preDataEntries(parseToc(LIST));
    expect(pre.map((e) => e.dumpId)).toEqual([853, 230, 225, 3426, 3245]);
    expect(formatToc(pre).split('\n')[0]).toBe('853; 1247 16498 TYPE sales mood postgres');
  });

  it('restores pre-data in runs of at most N tables, in TOC order, each run holding a table (10,000 tables: 10 runs)', () => {
    const toc = parseToc(
      [
        '1; 1247 100 TYPE public mood postgres',
        ...Array.from({ length: 5 }, (_, i) => `${10 + i}; 1259 ${200 + i} TABLE public t${i} postgres`),
        '20; 0 0 SEQUENCE OWNED BY public t0_id_seq postgres',
        '21; 2604 300 DEFAULT public t0 id postgres',
      ].join('\n'),
    );
    const runs = preDataRuns(toc, 2);
    expect(runs.map((r) => r.map((e) => e.dumpId))).toEqual([[1, 10, 11], [12, 13], [14, 20, 21]]);
    expect(runs.every((r) => r.some((e) => e.desc === 'TABLE'))).toBe(true);
    expect(preDataRuns(toc).length).toBe(1);
    const many = parseToc(Array.from({ length: 10_000 }, (_, i) => `${i + 1}; 1259 ${20000 + i} TABLE public t${i} postgres`).join('\n'));
    expect(preDataRuns(many).map((r) => r.length)).toEqual(Array(10).fill(1000));
  });
});

describe('binary COPY row counter', () => {
  function binaryCopy(rows: (Buffer | null)[][]): Buffer {
    const parts: Buffer[] = [Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1'), Buffer.alloc(4), Buffer.from([0, 0, 0, 4]), Buffer.from('ext!')];
    for (const r of rows) {
      const n = Buffer.alloc(2);
      n.writeInt16BE(r.length);
      parts.push(n);
      for (const f of r) {
        const len = Buffer.alloc(4);
        len.writeInt32BE(f === null ? -1 : f.length);
        parts.push(len);
        if (f) parts.push(f);
      }
    }
    parts.push(Buffer.from([0xff, 0xff]));
    return Buffer.concat(parts);
  }

  it('counts tuples however the stream is split', () => {
    const rows = Array.from({ length: 50 }, (_, i) => [Buffer.from(`row ${i}`), null, Buffer.alloc(i * 7, 1), Buffer.alloc(0)]);
    const data = binaryCopy(rows);
    for (const size of [1, 2, 3, 7, 19, 64, 1000, data.length]) {
      let count = 0;
      const feed = binaryRowCounter((n) => (count += n));
      for (let i = 0; i < data.length; i += size) feed(data.subarray(i, i + size));
      expect(count, `split ${size}`).toBe(50);
    }
  });
});

describe('misc', () => {
  it('chunk ids are stable and quote-safe', () => {
    const t = { source: { schema: 'Odd Schema', name: 'a"b' }, target: { schema: 'x', name: 'y' }, columns: [], estimatedBytes: 0, estimatedRows: 0 };
    expect(chunkId(t)).toBe('"Odd Schema"."a""b"');
    expect(chunkId(t, { column: 'id', lo: '1', hi: null })).toBe('"Odd Schema"."a""b"#"id"[1,)');
  });

  it('startup options escape spaces', () => {
    expect(startupOptions({ TimeZone: 'UTC', application_name: 'a b' })).toBe('-c TimeZone=UTC -c application_name=a\\ b');
  });

  it('a comment goes with its object: pre-data keeps those of tables, columns and inline checks, not of keys or indexes', () => {
    // pg_restore -l of a real dump (comments right after their objects).
    const toc = parseToc(`3425; 0 0 COMMENT - SCHEMA public pg_database_owner
6; 2615 476180 SCHEMA - sales postgres
215; 1259 476181 TABLE sales invoice postgres
3355; 0 0 COMMENT sales TABLE invoice postgres
3356; 0 0 COMMENT sales COLUMN invoice.c postgres
3357; 0 0 COMMENT sales CONSTRAINT invoice_c_check ON invoice postgres
216; 1259 476189 VIEW sales v postgres
3358; 0 0 COMMENT sales VIEW v postgres
3201; 2606 476188 CHECK CONSTRAINT sales invoice d_pos postgres
3359; 0 0 COMMENT sales CONSTRAINT d_pos ON invoice postgres
3205; 2606 476186 CONSTRAINT sales invoice invoice_pkey postgres
3360; 0 0 COMMENT sales CONSTRAINT invoice_pkey ON invoice postgres
3203; 1259 476187 INDEX sales invoice_c postgres
3361; 0 0 COMMENT sales INDEX invoice_c postgres
`);
    const owners = commentOwners(toc);
    expect(owners.get(3360)?.dumpId).toBe(3205);
    expect(owners.get(3357)?.dumpId).toBe(215);
    expect(owners.has(3425)).toBe(false);
    // The NOT VALID check is in both section lists; pg_restore --section places it (and, with it in the list, its comment).
    // (Ferry creates schemas itself and restores no views: their comments stay out with them.)
    expect(preDataEntries(toc).map((e) => e.dumpId)).toEqual([215, 3355, 3356, 3357, 3201, 3359]);
    const post = toc.filter((e) => ['CONSTRAINT', 'INDEX', 'CHECK CONSTRAINT', 'COMMENT'].includes(e.desc));
    expect(withOwnComments(toc, post).map((e) => e.dumpId)).toEqual([3201, 3359, 3205, 3360, 3203, 3361]);
    // The index already there: its comment is set again only when asked.
    const withoutIndex = post.filter((e) => e.dumpId !== 3203);
    expect(withOwnComments(toc, withoutIndex).map((e) => e.dumpId)).not.toContain(3361);
    expect(withOwnComments(toc, withoutIndex, (o) => o.dumpId === 3203).map((e) => e.dumpId)).toContain(3361);
  });

  it("a comment written after its object's ACL (domains, composite types) still belongs to the object", () => {
    // pg_restore -l of a real dump: a domain and a composite type with grants and comments.
    const toc = parseToc(`845; 1247 478390 TYPE s pair postgres
3355; 0 0 ACL s TYPE pair postgres
3356; 0 0 COMMENT s COLUMN pair.a postgres
841; 1247 478386 DOMAIN s pos postgres
3357; 0 0 ACL s TYPE pos postgres
3358; 0 0 COMMENT s CONSTRAINT pos_check ON DOMAIN pos postgres
216; 1259 478391 TABLE s t postgres
3359; 0 0 COMMENT s TABLE t postgres
3360; 0 0 ACL s TABLE t postgres
3361; 0 0 SECURITY LABEL s TABLE t postgres
3362; 0 0 COMMENT s COLUMN t.id postgres
`);
    const owners = commentOwners(toc);
    expect([3356, 3358, 3359, 3362].map((id) => owners.get(id)?.dumpId)).toEqual([845, 841, 216, 216]);
    expect(toc.find((e) => e.dumpId === 3361)?.desc).toBe('SECURITY LABEL');
    expect(preDataEntries(toc).map((e) => e.dumpId)).toEqual([845, 3356, 841, 3358, 216, 3359, 3362]);
  });
});

describe('withoutMetaCommands', () => {
  it("drops pg_restore's \\restrict / \\unrestrict lines and keeps the SQL", () => {
    const script = "--\n\\restrict AbC123\nSET lock_timeout = 0;\nCREATE VIEW a AS SELECT '\\restrict x' AS t;\n\\unrestrict AbC123\n";
    expect(withoutMetaCommands(script)).toBe("--\n\nSET lock_timeout = 0;\nCREATE VIEW a AS SELECT '\\restrict x' AS t;\n\n");
  });
});
