// One test per precheck item, each on a crafted bad source or target (real clusters): the status,
// and that the message names the table, column, setting, extension or permission at fault.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import { createServer, type Socket } from 'node:net';
import { precheck } from '../../activities/adapters/postgres/precheck';
import { checkConnectivity } from '../../activities/adapters/postgres/prechecks/connectivity';
import type { EngineContext, ResolvedEndpoint } from '../../activities/adapters/engine';
import { parseSpec, type MigrationSpec } from '../../workflows/spec';
import type { PrecheckItem } from '../../workflows/types';
import { connect, createDatabasePair, devSpec, resolvedEndpoint, sql } from '../support/env';

const SOURCE = `
CREATE EXTENSION hstore;
CREATE SCHEMA colls;
CREATE COLLATION colls.bytewise FROM "C";
CREATE TABLE public.ok (id int PRIMARY KEY, v text);
CREATE TABLE public.nokey (a int, b text);
CREATE TABLE public.uniq (a int NOT NULL UNIQUE, b text);
CREATE TABLE public.nothing (id int PRIMARY KEY);
ALTER TABLE public.nothing REPLICA IDENTITY NOTHING;
CREATE TABLE public.oids (id int PRIMARY KEY, rel regclass, types regtype[]);
CREATE TABLE public.kv (id int PRIMARY KEY, attrs hstore);
CREATE TABLE public.sorted (id int PRIMARY KEY, name text COLLATE colls.bytewise);
CREATE TABLE public.secret (id int PRIMARY KEY);
CREATE TABLE public.taken (id int PRIMARY KEY);
CREATE TABLE public.taken_empty (id int PRIMARY KEY);
INSERT INTO public.ok SELECT g, 'v' || g FROM generate_series(1, 1000) g;
CREATE VIEW public.recent AS SELECT * FROM public.ok WHERE id > 900;
CREATE MATERIALIZED VIEW public.totals AS SELECT count(*) AS n FROM public.ok;
CREATE VIEW colls.elsewhere AS SELECT 1 AS x;
CREATE VIEW colls.over_ok AS SELECT id FROM public.ok;
CREATE TABLE colls.unselected (id int);
CREATE FUNCTION colls.answer() RETURNS int LANGUAGE sql AS 'SELECT 42';
CREATE VIEW public.over_unselected AS SELECT id FROM colls.unselected;
CREATE VIEW public.over_that AS SELECT * FROM public.over_unselected;
CREATE VIEW public.calls_answer AS SELECT colls.answer() AS a;
`;

function context(database: string, spec: Partial<MigrationSpec> = {}, over: { source?: Partial<ResolvedEndpoint>; target?: Partial<ResolvedEndpoint> } = {}): EngineContext {
  return {
    migrationId: `m-${database}`,
    // mode online is refused for native-postgres by the spec's refine; the adapter takes it directly.
    spec: { ...parseSpec(devSpec(database, { tables: { include: ['public.*'] } })), ...spec },
    source: resolvedEndpoint('source', database, over.source),
    target: resolvedEndpoint('target', database, over.target),
    workerId: 'test',
  };
}

const find = (items: PrecheckItem[], id: string): PrecheckItem => {
  const item = items.find((i) => i.id === id);
  if (!item) throw new Error(`no item ${id} in ${items.map((i) => i.id).join(', ')}`);
  return item;
};

function expectItem(item: { status: string; message: string } | undefined, status: string, text: string | RegExp): void {
  expect(item?.status).toBe(status);
  if (typeof text === 'string') expect(item?.message).toContain(text);
  else expect(item?.message).toMatch(text);
}

let db: { name: string; drop: () => Promise<void> };
let offline: PrecheckItem[];
let online: PrecheckItem[];

beforeAll(async () => {
  db = await createDatabasePair('pchk');
  await sql('source', db.name, SOURCE);
  await sql('target', db.name, `CREATE TABLE public.taken (x int); INSERT INTO public.taken VALUES (1); CREATE TABLE public.taken_empty (x int); CREATE VIEW public.recent AS SELECT 1 AS x`);
  offline = await precheck(context(db.name));
  online = await precheck(context(db.name, { mode: 'online' }));
});
afterAll(async () => {
  await db?.drop();
});

describe('precheck items', () => {
  it('connectivity: diagnoses refused, unresolvable, authentication and TLS', async () => {
    expect(find(offline, 'connectivity.source').status).toBe('pass');
    const refused = find(await precheck(context(db.name, {}, { target: { port: 1 } })), 'connectivity.target');
    expect(refused).toMatchObject({ status: 'fail' });
    expect(refused.message).toMatch(/connection refused.*127\.0\.0\.1:1/);
    const dns = find(await precheck(context(db.name, {}, { source: { host: 'no-such-host.invalid' } })), 'connectivity.source');
    expect(dns.message).toMatch(/name resolution.*no-such-host\.invalid/);
    const auth = find(await precheck(context(db.name, {}, { source: { password: 'wrong' } })), 'connectivity.source');
    expect(auth.message).toMatch(/authentication.*user "postgres"/);
    const tls = find(await precheck(context(db.name, {}, { target: { sslmode: 'require' } })), 'connectivity.target');
    expect(tls.message).toMatch(/TLS/);
    expect(tls.remedy).toMatch(/sslmode/);
  });

  it('connectivity: a server that accepts but never answers is diagnosed as a timeout', async () => {
    // A real listener that swallows the connection, like a firewall dropping replies.
    const sockets: Socket[] = [];
    const silent = createServer((s) => void sockets.push(s));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as { port: number }).port;
    try {
      const ep: ResolvedEndpoint = { host: '127.0.0.1', port, database: 'app', user: 'postgres', password: 'x', sslmode: 'disable' };
      const { client, item } = await checkConnectivity(ep, 'target', 1_000);
      expect(client).toBeNull();
      expect(item.status).toBe('fail');
      expect(item.message).toMatch(/^target \(timeout\): /);
      expect(item.remedy).toMatch(/firewalls/);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });

  it('versions: names the server versions', () => {
    expectItem(find(offline, 'version.source'), 'pass', /PostgreSQL \d+/);
    expect(find(offline, 'version.target').message).toMatch(/target runs PostgreSQL \d+ \(source \d+\)/);
  });

  describe('permissions of a non-superuser', () => {
    const role = `ferry_pc_${randomBytes(3).toString('hex')}`;
    const secret = randomBytes(12).toString('hex');
    let items: PrecheckItem[];
    beforeAll(async () => {
      for (const side of ['source', 'target'] as const) {
        await sql(side, 'postgres', `CREATE ROLE ${role} LOGIN PASSWORD '${secret}'`);
        await sql(side, 'postgres', `GRANT CONNECT ON DATABASE ${db.name} TO ${role}`);
      }
      await sql('source', db.name, `GRANT SELECT ON ALL TABLES IN SCHEMA public TO ${role}; REVOKE SELECT ON public.secret FROM ${role}`);
      items = await precheck(context(db.name, { mode: 'online' }, { source: { user: role, password: secret }, target: { user: role, password: secret } }));
    });
    afterAll(async () => {
      for (const side of ['source', 'target'] as const) {
        await sql(side, db.name, `DROP OWNED BY ${role}`).catch(() => undefined);
        await sql(side, 'postgres', `REVOKE ALL ON DATABASE ${db.name} FROM ${role}`).catch(() => undefined);
        await sql(side, 'postgres', `DROP ROLE IF EXISTS ${role}`);
      }
    });
    it('source SELECT on every selected table', () => {
      const sel = find(items, 'permission.source.select:public.secret');
      expect(sel.status).toBe('fail');
      expect(sel.message).toContain(`"${role}" may not read public.secret`);
      expect(sel.remedy).toContain('GRANT SELECT ON public.secret');
      expect(items.filter((i) => i.id.startsWith('permission.source.select:'))).toHaveLength(1);
    });
    it('source REPLICATION for online mode', () => {
      expectItem(find(items, 'permission.source.replication'), 'fail', 'REPLICATION');
      expect(find(online, 'permission.source.replication').status).toBe('pass');
    });
    it('source: the fence needs the owner or a superuser', () => {
      expectItem(find(items, 'permission.fence'), 'fail', `"${role}"`);
      expectItem(find(items, 'permission.terminate-sessions'), 'warning', 'pg_signal_backend');
    });
    it('target: create in every target schema', () => {
      const pub = find(items, 'permission.target.create:public');
      expect(pub.status).toBe('fail');
      expect(pub.message).toMatch(/may not create tables in target schema "public"/);
      expect(find(items, 'permission.target.create:ferry').message).toMatch(/may not create schema "ferry".*needs CREATE on the database/);
      expect(find(offline, 'permission.target.create').status).toBe('pass');
    });
  });

  it('replication settings (online): wal_level, slots and WAL senders named with their values', () => {
    expectItem(find(online, 'replication.wal_level'), 'pass', 'wal_level is logical');
    expect(find(online, 'replication.slots').message).toMatch(/max_replication_slots=\d+/);
    expect(find(online, 'replication.wal_senders').message).toMatch(/max_wal_senders=\d+/);
    expect(offline.some((i) => i.id.startsWith('replication.'))).toBe(false);
  });

  it('keys: a table without primary key or unique not-null index fails online, passes offline', () => {
    expectItem(find(online, 'tables.primary-key:public.nokey'), 'fail', 'public.nokey has no primary key');
    expect(online.some((i) => i.id === 'tables.primary-key:public.uniq')).toBe(false);
    expectItem(find(offline, 'tables.primary-key'), 'pass', 'public.nokey');
  });

  it('replica identity (online): DEFAULT without a primary key warns, NOTHING fails', () => {
    expectItem(find(online, 'replica-identity:public.uniq'), 'warning', 'REPLICA IDENTITY DEFAULT but no primary key');
    expectItem(find(online, 'replica-identity:public.nothing'), 'fail', 'public.nothing has REPLICA IDENTITY NOTHING');
  });

  it('views: those that read what is not migrated are named in a warning with the reason; the others go along', () => {
    const v = find(offline, 'schema.views');
    expect(v.status).toBe('warning');
    expect(v.message).toContain('4 view(s) over the selected tables or in their schemas are not migrated');
    expect(v.message).toContain('colls.over_ok (its schema "colls" is not migrated)'); // reads public.ok, but lives elsewhere
    expect(v.message).toContain('public.over_unselected (reads table colls.unselected, which is not migrated)');
    expect(v.message).toContain('public.over_that (reads view public.over_unselected, which is not migrated)');
    expect(v.message).toContain('public.calls_answer (uses function colls.answer(), which is not migrated)');
    expect(v.message).toContain('2 view(s) go along, created after the load: public.recent, public.totals (materialized)');
    expect(v.message).not.toContain('colls.elsewhere'); // another schema, and reads no selected table
  });

  it('conflicts: tables (and names of views that go along) already on the target fail, saying whether they hold rows', () => {
    const c = find(offline, 'target.conflicts');
    expect(c.status).toBe('fail');
    expect(c.message).toContain('public.taken (not empty)');
    expect(c.message).toContain('public.taken_empty (empty)');
    expect(c.message).toContain('public.recent (not empty)'); // the name of a view that goes along
  });

  it('storage: names the source size and the target free space', () => {
    const s = find(offline, 'storage');
    expect(s.status).toBe('pass');
    expect(s.message).toMatch(/the selected tables take [\d.]+ (B|kB|MB) on the source/);
    expect(s.message).toMatch(/free/);
  });

  it('long-running transactions on the source: a warning naming pid, age and state', async () => {
    const holder: pg.Client = await connect('source', db.name);
    const before = process.env.FERRY_PRECHECK_LONG_TRANSACTION_SECONDS;
    try {
      await holder.query('BEGIN; SELECT txid_current()');
      const pid = (await holder.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
      process.env.FERRY_PRECHECK_LONG_TRANSACTION_SECONDS = '1';
      await new Promise((r) => setTimeout(r, 1500));
      const items = await precheck(context(db.name));
      const w = find(items, `long-transaction:${pid}`);
      expect(w.status).toBe('warning');
      expect(w.message).toMatch(new RegExp(`pid ${pid} .*open for \\ds.*state idle in transaction`));
      expect(w.remedy).toContain(`pg_terminate_backend(${pid})`);
    } finally {
      if (before === undefined) delete process.env.FERRY_PRECHECK_LONG_TRANSACTION_SECONDS;
      else process.env.FERRY_PRECHECK_LONG_TRANSACTION_SECONDS = before;
      await holder.end();
    }
    expect(find(offline, 'long-transactions').status).toBe('pass');
  });

  it('types: reg* columns and extension types missing on the target fail, naming table.column', () => {
    expectItem(find(offline, 'types:public.oids.rel'), 'fail', 'column public.oids.rel (regclass) uses regclass');
    expect(find(offline, 'types:public.oids.types').message).toContain('regtype');
    expectItem(find(offline, 'types:public.kv.attrs'), 'fail', 'extension hstore, which is not installed on the target');
  });

  it('extensions: installed on the source, available but not installed on the target', () => {
    const e = find(offline, 'extensions:hstore');
    expect(e.status).toBe('fail');
    expect(e.message).toMatch(/extension hstore .* not in the target database \(available there/);
    expect(e.remedy).toContain('CREATE EXTENSION "hstore"');
  });

  it('collations: a column collation the target lacks (and the copy will not create) fails, naming it', () => {
    const c = find(offline, 'collation:colls.bytewise');
    expect(c.status).toBe('fail');
    expect(c.message).toContain('"colls"."bytewise" used by public.sorted.name');
    expect(find(offline, 'encoding.server').status).toBe('pass');
  });

  it('encoding: a different server encoding fails, a different LC_COLLATE warns', async () => {
    const pair = await createDatabasePair('pcenc');
    try {
      await sql('source', pair.name, 'CREATE TABLE public.t (id int PRIMARY KEY, v text)');
      await sql('target', 'postgres', `DROP DATABASE ${pair.name}`);
      await sql('target', 'postgres', `CREATE DATABASE ${pair.name} TEMPLATE template0 ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C'`);
      const items = await precheck(context(pair.name));
      expectItem(find(items, 'encoding.server'), 'fail', /source database .* is UTF8, target database .* is LATIN1/);
      expect(find(items, 'encoding.server').remedy).toContain("ENCODING 'UTF8'");
      expectItem(find(items, 'encoding.collation'), 'warning', /LC_COLLATE C\.UTF-8.*LC_COLLATE C,/);
    } finally {
      await pair.drop();
    }
  });

  it('never writes: every session is read-only', async () => {
    const rows = await sql<{ n: number }>('source', db.name, `SELECT count(*)::int AS n FROM pg_namespace WHERE nspname = 'ferry'`);
    expect(rows[0]?.n).toBe(0);
    expect(await sql('target', db.name, `SELECT 1 FROM pg_namespace WHERE nspname = 'ferry'`)).toHaveLength(0);
  });
});
