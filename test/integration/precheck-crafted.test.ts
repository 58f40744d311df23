// Issue #5, the items the shared dev clusters cannot be made bad for: each on a crafted throwaway
// server (test/support/throwaway-cluster.ts), through the real precheck, asserting the status and
// that the message names the version, setting, extension or sizes at fault.
//   - a PostgreSQL 9.6 source (scripts/components/pg-old.sh)          -> version.source fails
//   - a source with wal_level=replica, its one slot and one WAL sender taken -> replication.* fail
//   - a target server without the citext extension                    -> extensions:citext fails
//   - a target database on a 32 MB tmpfs                              -> storage fails / warns
import { execFileSync, spawnSync } from 'node:child_process';
import { statfsSync, writeFileSync, mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EngineContext, ResolvedEndpoint } from '../../activities/adapters/engine';
import { buildIndexes, indexBuildSettings } from '../../activities/adapters/postgres/indexes';
import { precheck } from '../../activities/adapters/postgres/precheck';
import { formatBytes } from '../../activities/adapters/postgres/prechecks/common';
import { quoteIdent } from '../../activities/adapters/postgres/sql';
import { parseSpec, type MigrationSpec } from '../../workflows/spec';
import type { PrecheckItem } from '../../workflows/types';
import { createDatabasePair, devSpec, password, ports, repoRoot, sql } from '../support/env';
import {
  giveToServerUser, installWithoutExtension, startThrowawayCluster, systemBindir, throwawayDir, tmpfsUnavailableReason, tryRun, type ThrowawayCluster,
} from '../support/throwaway-cluster';

// ---- what this machine can do, decided before the tests are collected (skips carry the reason)

/** The old PostgreSQL's bindir (installed by scripts/components/pg-old.sh, also run by scripts/dev.sh up), or why there is none. */
function oldPostgres(): { bindir: string; skip: null } | { bindir: null; skip: string } {
  const script = path.join(repoRoot, 'scripts/components/pg-old.sh');
  execFileSync('bash', [script, 'up'], { stdio: ['ignore', 'ignore', 'inherit'], timeout: 5 * 60_000 });
  const env = execFileSync('bash', [script, 'env'], { encoding: 'utf8' });
  const bindir = /FERRY_PG_OLD_BINDIR=(\S+)/.exec(env)?.[1];
  if (!bindir) return { bindir: null, skip: `scripts/components/pg-old.sh installed nothing: no old PostgreSQL build for ${process.platform}/${process.arch}` };
  const r = spawnSync(path.join(bindir, 'postgres'), ['--version'], { encoding: 'utf8' });
  if (r.status !== 0) return { bindir: null, skip: `the old PostgreSQL binaries do not run here: ${(r.error?.message ?? r.stderr).trim()}` };
  return { bindir, skip: null };
}
const old = oldPostgres();
const noTmpfs = tmpfsUnavailableReason();

// ---- helpers, as in precheck-items.test.ts

const devTarget = (database: string): ResolvedEndpoint => ({
  host: '127.0.0.1', port: ports.target, database, user: 'postgres', password: password('target'), sslmode: 'disable',
});
const devSource = (database: string): ResolvedEndpoint => ({
  host: '127.0.0.1', port: ports.source, database, user: 'postgres', password: password('source'), sslmode: 'disable',
});

function context(source: ResolvedEndpoint, target: ResolvedEndpoint, spec: Partial<MigrationSpec> = {}): EngineContext {
  return {
    migrationId: `m-crafted-${source.port}-${target.port}`,
    // mode online is refused for native-postgres by the spec's refine; the adapter takes it directly.
    spec: { ...parseSpec(devSpec(source.database, { tables: { include: ['public.*'] } })), ...spec },
    source,
    target,
    workerId: 'test',
  };
}

const escapeRe = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

const find = (items: PrecheckItem[], id: string): PrecheckItem => {
  const item = items.find((i) => i.id === id);
  if (!item) throw new Error(`no item ${id} in ${items.map((i) => `${i.id}=${i.status}`).join(', ')}`);
  return item;
};

// The crafted servers, started side by side (initdb is most of this file's time), stopped in afterAll:
//   old:    PostgreSQL 9.6 (a source Ferry does not support)
//   repl:   PostgreSQL 15 with wal_level=replica, max_replication_slots=1, max_wal_senders=1
//   target: PostgreSQL 15 installed without citext, no autovacuum (nothing writes behind the storage test's back)
// And one database pair on the dev clusters: its source half feeds the target-side tests (citext,
// 6 MB of rows), its target half receives the source-side tests. The precheck only reads.
let dev: { name: string; drop: () => Promise<void> } | undefined;
const servers: { old?: ThrowawayCluster; repl?: ThrowawayCluster; target?: ThrowawayCluster } = {};
let installDir: string | undefined;

beforeAll(async () => {
  installDir = throwawayDir('no-citext');
  const noCitext = installWithoutExtension(systemBindir(), installDir, 'citext');
  const started = await Promise.allSettled([
    createDatabasePair('pcc').then((d) => (dev = d)),
    old.bindir ? startThrowawayCluster({ name: 'pg96', bindir: old.bindir, auth: 'md5' }).then((c) => (servers.old = c)) : null,
    startThrowawayCluster({ name: 'repl', bindir: systemBindir(), settings: { wal_level: 'replica', max_replication_slots: 1, max_wal_senders: 1 } })
      .then((c) => (servers.repl = c)),
    startThrowawayCluster({ name: 'target', bindir: noCitext, settings: { autovacuum: 'off' } }).then((c) => (servers.target = c)),
  ]);
  const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  await sql('source', dev!.name, `
    CREATE EXTENSION citext;
    CREATE TABLE public.blob (id int PRIMARY KEY, v text) WITH (autovacuum_enabled = off);
    INSERT INTO public.blob SELECT g, repeat(md5(g::text), 30) FROM generate_series(1, 6000) g;`);
});
afterAll(async () => {
  await Promise.all(Object.values(servers).map((c) => c.stop()));
  if (installDir) rmSync(installDir, { recursive: true, force: true });
  await dev?.drop();
});

describe('precheck items on crafted servers', () => {
  describe.skipIf(old.skip !== null)(`versions: a PostgreSQL 9.6 source${old.skip ? ` (skipped: ${old.skip})` : ''}`, () => {
    let items: PrecheckItem[];
    beforeAll(async () => {
      await servers.old!.sql('postgres', 'CREATE TABLE public.t (id int PRIMARY KEY)');
      items = await precheck(context(servers.old!.endpoint('postgres'), devTarget(dev!.name)));
    });

    it('version.source fails, naming the source version and the minimum', async () => {
      const v = (await servers.old!.sql<{ v: string }>('postgres', "SELECT current_setting('server_version') AS v"))[0]!.v;
      expect(v).toMatch(/^9\.6\./);
      const item = find(items, 'version.source');
      expect(item.status).toBe('fail');
      expect(item.message).toBe('source runs PostgreSQL 9.6; Ferry needs 10 or later');
      expect(item.remedy).toContain('upgrade the source to PostgreSQL 10 or later');
      // Nothing else is read from a catalog Ferry does not support (no "could not be checked" noise).
      expect(items.map((i) => i.id).filter((id) => !/^(connectivity|version)\./.test(id))).toEqual([]);
    });

    it('index builds on a server without max_parallel_maintenance_workers (before 11, like a PostgreSQL 10 target) leave it out', async () => {
      const c = await servers.old!.connect('postgres');
      try {
        const settings = await indexBuildSettings(c, { indexMemoryMB: 256, indexParallelWorkers: 2 });
        expect(settings).toEqual({ maintenance_work_mem: `${256 * 1024}kB` });
        expect(await buildIndexes(c, { schema: 'public', name: 't' }, [{ name: 't_id', kind: 'index', sql: 'CREATE INDEX t_id ON public.t (id)' }], settings)).toBe(1);
      } finally {
        await c.end();
      }
    });
  });

  describe('replication (online): a source with wal_level=replica, its one slot and its one WAL sender taken', () => {
    let walsender: pg.Client | undefined;
    let items: PrecheckItem[];
    beforeAll(async () => {
      const server = servers.repl!;
      await server.sql('postgres', 'SELECT pg_catalog.pg_create_physical_replication_slot($1)', ['someone_elses_slot']);
      await server.sql('postgres', 'CREATE TABLE public.t (id int PRIMARY KEY)');
      // A physical replication connection: the server's only WAL sender.
      walsender = await server.connect('postgres', { replication: 'true' });
      items = await precheck(context(server.endpoint('postgres'), devTarget(dev!.name), { mode: 'online' }));
    });
    afterAll(async () => {
      await walsender?.end().catch(() => undefined);
    });

    it('replication.wal_level fails, naming the setting and its value', () => {
      const item = find(items, 'replication.wal_level');
      expect(item.status).toBe('fail');
      expect(item.message).toBe('wal_level is replica on the source; online mode needs wal_level=logical');
    });
    it('replication.slots fails, naming max_replication_slots and the slots in use', () => {
      const item = find(items, 'replication.slots');
      expect(item.status).toBe('fail');
      expect(item.message).toBe('no free replication slot on the source: max_replication_slots=1, 1 in use');
      expect(item.remedy).toContain('pg_drop_replication_slot');
    });
    it('replication.wal_senders fails, naming max_wal_senders and the senders in use', () => {
      const item = find(items, 'replication.wal_senders');
      expect(item.status).toBe('fail');
      expect(item.message).toBe('no free WAL sender on the source: max_wal_senders=1, 1 in use');
    });
  });

  it('extensions: installed on the source, not available on the target server -> fail naming the extension', async () => {
    const server = servers.target!;
    const avail = await server.sql<{ name: string }>('postgres', 'SELECT name FROM pg_catalog.pg_available_extensions WHERE name = ANY($1::text[]) ORDER BY 1', [['citext', 'hstore']]);
    expect(avail.map((r) => r.name)).toEqual(['hstore']); // the server works, and only citext is missing
    await server.sql('postgres', `CREATE DATABASE ${quoteIdent(dev!.name)}`);
    const items = await precheck(context(devSource(dev!.name), server.endpoint(dev!.name)));
    const item = find(items, 'extensions:citext');
    expect(item.status).toBe('fail');
    expect(item.message).toMatch(/^extension citext \([\d.]+\) is installed on the source but not available on the target server$/);
    expect(item.remedy).toContain('install the citext package on the target server');
  });

  describe.skipIf(noTmpfs !== null)(`storage: the target database on a 32 MB tmpfs${noTmpfs ? ` (skipped: ${noTmpfs})` : ''}`, () => {
    let mnt: string | undefined;
    let mounted = false;
    let tsDir: string;
    let need: number;
    const database = 'on_small_disk';
    const tablespace = 'small_disk';
    /** Fill the tmpfs until `free` bytes are left, with a ballast file beside the tablespace. */
    const leaveFree = (free: number): void => {
      const ballast = path.join(mnt!, 'ballast');
      rmSync(ballast, { force: true });
      const fs = statfsSync(mnt!);
      const now = Number(fs.bavail) * Number(fs.bsize);
      expect(now).toBeGreaterThan(free);
      writeFileSync(ballast, Buffer.alloc(now - free, 1));
    };
    beforeAll(async () => {
      const server = servers.target!;
      mnt = throwawayDir('disk');
      const failed = tryRun('mount', ['-t', 'tmpfs', '-o', 'size=32M,mode=0755', 'tmpfs', mnt]);
      if (failed) throw new Error(failed);
      mounted = true;
      tsDir = path.join(mnt, 'ts');
      mkdirSync(tsDir, { mode: 0o700 });
      giveToServerUser(tsDir);
      await server.sql('postgres', `CREATE TABLESPACE ${quoteIdent(tablespace)} LOCATION '${tsDir.replace(/'/g, "''")}'`);
      await server.sql('postgres', `CREATE DATABASE ${quoteIdent(database)} TABLESPACE ${quoteIdent(tablespace)}`);
      // The first session writes the database's relcache init file: have it there before measuring free space.
      await server.sql(database, 'CHECKPOINT');
      need = Number((await sql<{ n: string }>('source', dev!.name, `SELECT pg_catalog.pg_total_relation_size('public.blob')::text AS n`))[0]!.n);
    });
    afterAll(async () => {
      if (!mounted || !mnt) return;
      // The server's files on the tmpfs go first, then the mount.
      await servers.target?.stop();
      if (tryRun('umount', [mnt])) tryRun('umount', ['-l', mnt]);
      rmSync(mnt, { recursive: true, force: true });
    });

    const run = async (): Promise<PrecheckItem> => find(await precheck(context(devSource(dev!.name), servers.target!.endpoint(database))), 'storage');

    it('less free space than the selected tables -> fail naming both sizes and where', async () => {
      leaveFree(Math.floor(need / 2));
      const item = await run();
      expect(item.status).toBe('fail');
      expect(item.message).toContain(`the selected tables take ${formatBytes(need)} on the source`);
      expect(item.message).toMatch(new RegExp(`but the target has only [\\d.]+ (kB|MB) free at ${escapeRe(tsDir)}$`));
    });
    it('between 1x and 1.2x the selected tables -> warning naming both sizes', async () => {
      leaveFree(Math.floor(need * 1.1));
      const item = await run();
      expect(item.status).toBe('warning');
      expect(item.message).toContain(`the selected tables take ${formatBytes(need)} on the source`);
      expect(item.message).toMatch(new RegExp(`the target has [\\d.]+ MB free at ${escapeRe(tsDir)}, less than 1\\.2x that$`));
    });
  });
});
