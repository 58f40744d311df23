// Against a live Oracle, only when ORACLE_TEST_URL is set:
//   ORACLE_TEST_URL=oracle://USER:PASSWORD@HOST:PORT/SERVICE_NAME   (or ...:PORT/?sid=ORCL)
// The user needs CREATE TABLE in its own schema. Nothing here has been run in Ferry's CI: no
// Oracle server can run there (see docs/oracle.md). Without the variable the suite is skipped.
import oracledb from 'oracledb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { executeBatched, insertSql, toBindRows, type OracleWriter, type TargetTable } from '../../activities/adapters/oracle/apply';
import { planChanges } from '../../activities/adapters/oracle/changes';
import { connectOracle, versionOf, type OracleEndpoint } from '../../activities/adapters/oracle/connection';
import { createTableSql } from '../../activities/adapters/oracle/ddl';
import { identifierLimitFor } from '../../activities/adapters/oracle/identifiers';
import { CREATE_STATE_PLSQL, DROP_STATE_PLSQL } from '../../activities/adapters/oracle/state';
import { mapColumn, type OracleTarget, type PgType } from '../../activities/adapters/oracle/types';

const url = process.env.ORACLE_TEST_URL;
const SKIP_REASON = 'ORACLE_TEST_URL is not set: no live Oracle to test against (oracle://USER:PASSWORD@HOST:PORT/SERVICE or ?sid=SID)';

function endpointFrom(u: string): OracleEndpoint {
  const p = new URL(u);
  const sid = p.searchParams.get('sid');
  const service = p.pathname.replace(/^\//, '');
  return {
    host: p.hostname.replace(/^\[|\]$/g, ''),
    port: Number(p.port || 1521),
    user: decodeURIComponent(p.username),
    password: decodeURIComponent(p.password),
    protocol: p.protocol === 'oracles:' ? 'tcps' : 'tcp',
    ...(sid ? { sid } : { serviceName: service }),
  };
}

if (!url) console.info(`oracle-live: skipped: ${SKIP_REASON}`);

describe.skipIf(!url)(`oracle-live (${url ? 'ORACLE_TEST_URL set' : SKIP_REASON})`, () => {
  let conn: oracledb.Connection;
  let target: OracleTarget;
  let table: TargetTable;
  const name = `FERRY_LIVE_${process.pid}`;
  const w = (): OracleWriter => ({
    executeMany: (sql, binds, options) => conn.executeMany(sql, binds as oracledb.BindParameters[], options),
    execute: (sql, binds, options) => conn.execute(sql, binds ?? [], options ?? {}),
    commit: () => conn.commit(),
    rollback: () => conn.rollback(),
  });

  beforeAll(async () => {
    conn = await connectOracle(endpointFrom(url!));
    const v = versionOf(conn.oracleServerVersion);
    target = { ...v, maxStringSize: 'STANDARD' };
    const user = String(((await conn.execute<unknown[]>('SELECT USER FROM dual', [], { outFormat: oracledb.OUT_FORMAT_ARRAY })).rows as unknown[][])[0]![0]);
    const col = (n: string, type: PgType, notNull = false) => ({ source: n, target: n.toUpperCase(), mapping: mapColumn({ table: { schema: 'public', name: 't' }, name: n, type, notNull }, target) });
    table = {
      schema: user,
      name,
      limit: identifierLimitFor(v),
      key: ['ID'],
      columns: [
        col('id', { kind: 'base', name: 'bigint' }, true),
        col('big', { kind: 'base', name: 'numeric' }),
        col('flag', { kind: 'base', name: 'boolean' }),
        col('label', { kind: 'base', name: 'character varying', typmod: [50] }),
        col('body', { kind: 'base', name: 'text' }),
        col('at', { kind: 'base', name: 'timestamp with time zone' }),
        col('day', { kind: 'base', name: 'date' }),
        col('tod', { kind: 'base', name: 'time without time zone' }),
        col('ref', { kind: 'base', name: 'uuid' }),
        col('blob', { kind: 'base', name: 'bytea' }),
        col('ratio', { kind: 'base', name: 'double precision' }),
      ],
    };
    await conn.execute(createTableSql(table.schema, table.name, table.columns, table.key, table.limit));
  });

  afterAll(async () => {
    if (!conn) return;
    await conn.execute(`BEGIN EXECUTE IMMEDIATE 'DROP TABLE "${name}" PURGE'; EXCEPTION WHEN OTHERS THEN NULL; END;`).catch(() => undefined);
    await conn.execute(DROP_STATE_PLSQL).catch(() => undefined);
    await conn.close();
  });

  it('state tables: creation is idempotent', async () => {
    await conn.execute(CREATE_STATE_PLSQL);
    await conn.execute(CREATE_STATE_PLSQL);
  });

  it("INSERT with executeMany carries every value exactly, and '' becomes NULL", async () => {
    const raw = [
      ['1', '12345678901234567890123456789012345678', 'true', 'héllo', 'x'.repeat(40_000), '2024-05-01 12:34:56.123456', '2024-02-29', '23:59:59.999999', '0b6c9a8e-7f52-4d0e-9a51-5cba8d9e2f10', Buffer.from([0, 1, 255]), '0.1'],
      ['2', '-0.000001', 'false', '', '', '1999-12-31 23:59:59.000000', '0001-01-01', '00:00:00', null, null, 'NaN'],
    ];
    const r = await executeBatched(w(), insertSql(table), table.columns, toBindRows(table, table.columns, raw, 'null'), { maxRows: 1, maxBytes: 1 << 20 });
    await conn.commit();
    expect(r.rows).toBe(2);
    const rows = (await conn.execute<unknown[]>(
      `SELECT TO_CHAR(BIG), FLAG, LABEL, DBMS_LOB.GETLENGTH(BODY), TO_CHAR(AT, 'YYYY-MM-DD HH24:MI:SS.FF6 TZH:TZM'), TO_CHAR(DAY, 'YYYY-MM-DD HH24:MI:SS'), TO_CHAR(TOD), RAWTOHEX(REF), RATIO FROM "${name}" ORDER BY ID`,
      [],
      { outFormat: oracledb.OUT_FORMAT_ARRAY },
    )).rows as unknown[][];
    expect(rows[0]!.slice(0, 8)).toEqual(['12345678901234567890123456789012345678', 1, 'héllo', 40_000, '2024-05-01 12:34:56.123456 +00:00', '2024-02-29 00:00:00', '+0 23:59:59.999999', '0B6C9A8E7F524D0E9A515CBA8D9E2F10']);
    expect(rows[1]!.slice(0, 4)).toEqual(['-.000001', 0, null, null]);
    expect(rows[1]![8]).toBeNaN();
  });

  it('MERGE applies inserts and updates idempotently; DELETE by key', async () => {
    const tables = new Map([['public.t', table]]);
    const values = (id: string, label: string) => ({ id, big: '1', flag: 'true', label, body: 'b', at: '2024-01-01 00:00:00.000000', day: '2024-01-01', tod: '01:02:03', ref: null, blob: null, ratio: '1.5' });
    const plan = planChanges(
      [
        { op: 'insert', table: 'public.t', values: values('3', 'new') },
        { op: 'update', table: 'public.t', values: values('3', 'updated') },
        { op: 'update', table: 'public.t', values: values('1', 'changed') },
        { op: 'delete', table: 'public.t', key: { id: '2' } },
      ],
      tables,
      'null',
    );
    for (let pass = 0; pass < 2; pass++) {
      for (const p of plan) await executeBatched(w(), p.sql, p.columns, p.rows);
      await conn.commit();
    }
    const rows = (await conn.execute<unknown[]>(`SELECT ID, LABEL FROM "${name}" ORDER BY ID`, [], { outFormat: oracledb.OUT_FORMAT_ARRAY })).rows;
    expect(rows).toEqual([[1, 'changed'], [3, 'updated']]);
  });
});
