// PITR acceptance, against a real PostgreSQL 15 cluster made for this file (initdb, 1 MB WAL
// segments, track_commit_timestamp), the real fake-gcs-server and the real Temporal dev server:
//  - restore to a time T between two commits: every row committed at or before T, none after
//  - a time outside the window is refused with the restorable range in the message
//  - a corrupted object is detected at restore, and the error names it
//  - retention prunes backups and WAL older than the window and the window's oldest second restores
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, Worker } from '@temporalio/worker';
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { createPitrActivities } from '../../activities/pitr';
import { createSecretResolver } from '../../activities/adapters/secrets';
import { GcsStore } from '../../activities/adapters/gcs';
import { LAYOUT, segmentName, type ArchiveStatus } from '../../activities/adapters/pitr/common';
import { streamWal } from '../../activities/adapters/pitr/stream';
import { protectionWorkflow } from '../../workflows/protection';
import { restoreWorkflow } from '../../workflows/restore';
import {
  epochMicros,
  checkTarget,
  isoMicros,
  lsnValue,
  protectionStatusQuery,
  type ProtectionStatus,
  type RestoreInput,
  type RestoreResult,
} from '../../workflows/pitrTypes';
import { ferryDataConverter } from '../../client/payloadCodec';
import { temporalAddress } from '../support/env';
import { waitFor } from '../support/wait';


const PG_BIN = '/usr/lib/postgresql/15/bin';
const GCS_ENDPOINT = process.env.FERRY_GCS_ENDPOINT ?? 'http://127.0.0.1:4443';
const POLICY = {
  baseBackupIntervalSeconds: 5,
  retentionSeconds: 10,
  streamSliceSeconds: 3,
  walUploadIntervalMs: 500,
  slicesPerRun: 4, // continue-as-new happens during the test
  heartbeatCommits: true,
};

const quiet = { trace() {}, debug() {}, info() {}, warn: console.warn, error: console.error, log() {} };

function asPostgres(args: string[]): string {
  return execFileSync('runuser', ['-u', 'postgres', '--', ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

const TS = (e: string) => `to_char((${e}) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

describe('point-in-time recovery (PostgreSQL 15 + fake-gcs-server + Temporal)', () => {
  const id = randomBytes(3).toString('hex');
  const password = randomBytes(12).toString('hex');
  const storage = { bucket: `ferry-pitr-test-${id}`, prefix: 'db1' };
  const store = new GcsStore(storage, { endpoint: GCS_ENDPOINT });
  let dir = '';
  let port = 0;
  let env: TestWorkflowEnvironment;
  const workers: { worker: Worker; running: Promise<void> }[] = [];
  const queues = { protect: `ferry-pitr-p-${id}`, restore: `ferry-pitr-r-${id}` };
  let protection: WorkflowHandle<typeof protectionWorkflow>;
  let writer: { stop: () => Promise<void> } | undefined;
  const restored: string[] = [];
  let activitiesForTest: ReturnType<typeof createPitrActivities>;

  const conn = (p = port) => new pg.Client({ host: '127.0.0.1', port: p, user: 'postgres', password, database: 'postgres' });
  async function query<T extends pg.QueryResultRow>(text: string, p = port): Promise<T[]> {
    const c = conn(p);
    await c.connect();
    try {
      return (await c.query<T>(text)).rows;
    } finally {
      await c.end();
    }
  }

  async function status(): Promise<ProtectionStatus> {
    return protection.query(protectionStatusQuery);
  }

  async function restore(target: RestoreInput['target'], label: string): Promise<{ result: RestoreResult; port: number }> {
    const p = await freePort();
    const dataDirectory = path.join(dir, `restore-${label}`);
    restored.push(dataDirectory);
    const result = await env.client.workflow.execute(restoreWorkflow, {
      taskQueue: queues.restore,
      workflowId: `ferry-pitr-restore-${id}-${label}`,
      args: [{ name: `test-${label}`, storage, target, cluster: { dataDirectory, port: p, user: 'postgres', password: 'env:FERRY_PITR_TEST_PASSWORD' }, replayTimeoutSeconds: 60 }],
    });
    return { result, port: p };
  }

  function dropRestored(dataDirectory: string): void {
    try {
      asPostgres([`${PG_BIN}/pg_ctl`, '-D', dataDirectory, '-m', 'immediate', '-w', 'stop']);
    } catch {
      // not running
    }
    rmSync(dataDirectory, { recursive: true, force: true });
    rmSync(`${dataDirectory}.ferry-restore`, { recursive: true, force: true });
  }

  /** Rows with their commit timestamps (track_commit_timestamp), in commit order. */
  async function committedRows(): Promise<{ id: number; ts: string }[]> {
    const rows = await query<{ id: number; ts: string }>(`SELECT id, ${TS('pg_xact_commit_timestamp(xmin)')} AS ts FROM ticks ORDER BY id`);
    return rows.map((r) => ({ id: Number(r.id), ts: r.ts }));
  }

  async function waitArchivedPast(ts: string): Promise<void> {
    await waitFor(status, (s) => !!s.metrics.archivedThrough && epochMicros(s.metrics.archivedThrough.time) > epochMicros(ts), 30_000, `WAL archived past ${ts}`);
  }

  beforeAll(async () => {
    process.env.FERRY_PITR_TEST_PASSWORD = password;
    dir = mkdtempSync('/tmp/fpitr-');
    chmodSync(dir, 0o755);
    port = await freePort();
    const data = path.join(dir, 'protected');
    writeFileSync(path.join(dir, 'pw'), password);
    execFileSync('chown', ['-R', 'postgres', dir]);
    asPostgres([`${PG_BIN}/initdb`, '-D', data, '-U', 'postgres', `--pwfile=${path.join(dir, 'pw')}`, '--auth=scram-sha-256', '--wal-segsize=1', '--encoding=UTF8', '--locale=C.UTF-8']);
    writeFileSync(
      path.join(data, 'postgresql.auto.conf'),
      [`port = ${port}`, `listen_addresses = '127.0.0.1'`, `unix_socket_directories = '${dir}'`, 'wal_level = replica', 'max_wal_senders = 10',
        'max_replication_slots = 10', 'track_commit_timestamp = on', 'fsync = off', 'shared_buffers = 32MB', 'max_connections = 30',
        'log_min_messages = warning', ''].join('\n'),
    );
    asPostgres([`${PG_BIN}/pg_ctl`, '-D', data, '-l', path.join(dir, 'protected.log'), '-w', 'start']);
    await query(`CREATE TABLE ticks (id bigserial PRIMARY KEY, note text NOT NULL)`);

    env = await TestWorkflowEnvironment.createFromExistingServer({
      address: temporalAddress,
      namespace: 'default',
      client: { dataConverter: ferryDataConverter },
    });
    const activities = (activitiesForTest = createPitrActivities({
      secrets: createSecretResolver(),
      gcs: { endpoint: GCS_ENDPOINT },
      workDir: path.join(dir, 'work'),
      heartbeatIntervalMs: 500,
    }));
    for (const [queue, file] of [[queues.protect, 'protection.ts'], [queues.restore, 'restore.ts']] as const) {
      const worker = await Worker.create({
        connection: env.nativeConnection,
        namespace: 'default',
        taskQueue: queue,
        workflowBundle: await bundleWorkflowCode({ workflowsPath: path.resolve(__dirname, '../../workflows', file), logger: quiet }),
        activities,
        dataConverter: ferryDataConverter,
      });
      workers.push({ worker, running: worker.run() });
    }

    protection = await env.client.workflow.start(protectionWorkflow, {
      taskQueue: queues.protect,
      workflowId: `ferry-pitr-test-${id}`,
      args: [{ name: `test-${id}`, database: { host: '127.0.0.1', port, user: 'postgres', password: 'env:FERRY_PITR_TEST_PASSWORD' }, storage, policy: POLICY }],
    });
    // A row every ~40 ms, each its own transaction, for the whole file.
    let stopped = false;
    const c = conn();
    await c.connect();
    const loop = (async () => {
      for (let i = 0; !stopped; i++) {
        await c.query(`INSERT INTO ticks (note) VALUES ($1)`, [`tick ${i}`]);
        await new Promise((r) => setTimeout(r, 40));
      }
    })();
    writer = { stop: async () => { stopped = true; await loop; await c.end(); } };
    await waitFor(status, (s) => !!s.inventory?.restorable, 60_000, 'a first restorable range');
  });

  afterAll(async () => {
    await writer?.stop().catch(() => undefined);
    if (protection) {
      await protection.cancel().catch(() => undefined);
      await protection.result().catch(() => undefined);
    }
    for (const w of workers) {
      w.worker.shutdown();
      await w.running.catch(() => undefined);
    }
    await env?.teardown();
    for (const d of restored) dropRestored(d);
    if (dir) {
      try {
        asPostgres([`${PG_BIN}/pg_ctl`, '-D', path.join(dir, 'protected'), '-m', 'immediate', '-w', 'stop']);
      } catch {
        // already stopped
      }
      rmSync(dir, { recursive: true, force: true });
    }
    const [files] = await store.storage.bucket(storage.bucket).getFiles().catch(() => [[]]);
    for (const f of files) await f.delete({ ignoreNotFound: true }).catch(() => undefined);
    await store.storage.bucket(storage.bucket).delete().catch(() => undefined);
  });

  it('restores to a time T between two commits: every row committed at or before T, none after', async () => {
    // Rows committed after the first backup; T halfway between two consecutive commits.
    const start = (await status()).inventory!.restorable!.earliest;
    await new Promise((r) => setTimeout(r, 1500));
    const rows = (await committedRows()).filter((r) => epochMicros(r.ts) > epochMicros(start));
    expect(rows.length).toBeGreaterThan(10);
    const i = Math.floor(rows.length / 2);
    const before = rows[i]!;
    const after = rows[i + 1]!;
    const T = isoMicros(Math.floor((epochMicros(before.ts) + epochMicros(after.ts)) / 2));
    expect(epochMicros(T)).toBeGreaterThan(epochMicros(before.ts));
    expect(epochMicros(T)).toBeLessThan(epochMicros(after.ts));
    await waitArchivedPast(after.ts);

    const { result, port: p } = await restore({ time: T }, 'time');
    const got = (await query<{ id: string }>(`SELECT id FROM ticks ORDER BY id`, p)).map((r) => Number(r.id));
    const all = await committedRows();
    const expected = all.filter((r) => epochMicros(r.ts) <= epochMicros(T)).map((r) => r.id);
    expect(got).toEqual(expected);
    expect(got).toContain(before.id);
    expect(got).not.toContain(after.id);
    // The time reached is the last commit at or before T (a row's, or the stream's heartbeat commit).
    expect(epochMicros(result.reachedTime!)).toBeGreaterThanOrEqual(epochMicros(before.ts));
    expect(epochMicros(result.reachedTime!)).toBeLessThanOrEqual(epochMicros(T));
    console.log(`restore to ${T}: ${got.length} rows, reached ${result.reachedTime}, backup ${result.backupId}, ` +
      `${result.walSegmentsReplayed} WAL segments, ${result.seconds.total.toFixed(1)} s (download ${result.seconds.download.toFixed(1)} s, replay ${result.seconds.replay.toFixed(1)} s)`);
    const s = await status();
    expect(s.metrics.lastArchivedWal).toMatch(/^wal\/[0-9A-F]{24}(\.partial)?$/);
    expect(s.metrics.rpoSeconds).toBeGreaterThanOrEqual(0);
    console.log(`protection: RPO ${s.metrics.rpoSeconds?.toFixed(2)} s, last archived ${s.metrics.lastArchivedWal}, runs ${s.runs}, ` +
      `last base backup ${s.metrics.lastBaseBackup?.bytes} bytes, WAL uploaded ${s.metrics.walObjectsUploaded} objects / ${s.metrics.walBytesUploaded} bytes`);
    dropRestored(result.dataDirectory);
  });

  it('refuses a time outside the window, naming the restorable range', async () => {
    const range = (await status()).inventory!.restorable!;
    const tooEarly = isoMicros(epochMicros(range.earliest) - 3_600_000_000);
    const err = await restore({ time: tooEarly }, 'early').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(WorkflowFailedError);
    const cause = (err as WorkflowFailedError).cause as Error & { type?: string };
    expect(cause.type).toBe('TargetOutsideWindow');
    expect(cause.message).toContain(tooEarly);
    expect(cause.message).toMatch(/restorable range \d{4}-\d\d-\d\dT[\d:.]+Z \.\. \d{4}-/);
  });

  it('detects a corrupted object at restore and names it', async () => {
    // Restore to T = 1 ms after the newest listed base backup ended: the restore must use that
    // backup (a backup still being taken ends well after T), so the first WAL segment it replays is
    // known. (T just before the archive's end raced a backup whose manifest was not listed yet.)
    // Corrupt that segment, keeping its recorded checksums (bit rot, a bad copy).
    const first = await activitiesForTest.pitrInventory(storage);
    const newest = [...first.backups].sort((a, b) => epochMicros(b.endTime) - epochMicros(a.endTime))[0]!;
    const T = isoMicros(epochMicros(newest.endTime) + 1000);
    const inv = await waitFor(
      () => activitiesForTest.pitrInventory(storage),
      (x) => !!x.archivedThrough && epochMicros(x.archivedThrough.time) > epochMicros(T),
      20_000,
      `the archive past ${T}`,
    );
    const check = checkTarget(inv, { time: T });
    if (!check.ok) throw new Error(check.reason);
    expect(check.backup.id).toBe(newest.id);
    const victim = `wal/${segmentName(check.backup.timeline, lsnValue(check.backup.startLsn), check.backup.walSegmentSize)}`;
    await waitFor(() => store.exists(victim), (x) => x, 20_000, `${victim} archived`);
    const file = store.storage.bucket(storage.bucket).file(`${storage.prefix}/${victim}`);
    const [original] = await file.download();
    const [meta] = await file.getMetadata();
    const damaged = Buffer.from(original);
    damaged[100] = (damaged[100] ?? 0) ^ 0xff;
    await file.save(damaged, { resumable: false, metadata: { metadata: meta.metadata } });
    try {
      // A new WAL slice (every 3 s here) starts with the newest completed segment still in its
      // spool; it must not upload it again over the archived object (which would also hide the damage).
      await new Promise((r) => setTimeout(r, (POLICY.streamSliceSeconds + 1) * 1000));
      expect((await file.download())[0].equals(damaged)).toBe(true);
      const err = await restore({ time: T }, 'corrupt').then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(WorkflowFailedError);
      const cause = (err as WorkflowFailedError).cause?.cause as Error & { type?: string };
      expect(cause.type).toBe('ObjectCorrupted');
      expect(cause.message).toContain(`gs://${storage.bucket}/${storage.prefix}/${victim}`);
      expect(cause.message).toMatch(/corrupted: crc32c/);
      console.log(`corruption detected: ${cause.message}`);
    } finally {
      await file.save(original, { resumable: false, metadata: { metadata: meta.metadata } });
    }
  });

  it('prunes base backups and WAL older than the window and restores the window\'s oldest second', async () => {
    // A retention run while an earlier test's restore held its lease kept that backup too: wait for one without.
    const s = await waitFor(
      status,
      (x) => x.metrics.pruned.backups >= 1 && x.metrics.pruned.walObjects >= 1 && !!x.metrics.lastRetention?.anchor && !x.metrics.lastRetention.leasedBackups && x.runs >= 2,
      60_000,
      'a prune without leases, after a continue-as-new',
    );
    expect(s.runs).toBeGreaterThanOrEqual(2); // it continued-as-new and kept its metrics
    expect(s.metrics.baseBackups).toBeGreaterThanOrEqual(3);
    const inv = s.inventory!;
    const oldest = inv.backups[0]!;
    const cutoff = epochMicros(s.metrics.lastRetention!.at) - POLICY.retentionSeconds * 1e6;
    // The window is still covered: the oldest kept backup ended at or before its oldest second,
    // and it is the only one that did (the older ones are gone).
    expect(oldest.id).toBe(s.metrics.lastRetention!.anchor);
    expect(epochMicros(oldest.endTime)).toBeLessThanOrEqual(cutoff);
    if (inv.backups[1]) expect(epochMicros(inv.backups[1].endTime)).toBeGreaterThan(cutoff);
    expect(epochMicros(inv.restorable!.earliest)).toBeLessThanOrEqual(cutoff);
    // In GCS: no backup older than the anchor, no WAL before the anchor's first segment.
    const inGcs = [...new Set((await store.list('basebackups/')).map((o) => o.name.split('/')[1]!))].sort();
    expect(inGcs.every((bid) => bid >= oldest.id)).toBe(true);
    const walNames = (await store.list('wal/')).map((o) => o.name.slice(4).replace(/\.partial$/, '')).sort();
    const anchorSeg = segmentName(oldest.timeline, lsnValue(oldest.startLsn), oldest.walSegmentSize);
    expect(walNames.length).toBeGreaterThan(0);
    expect(walNames[0]! >= anchorSeg).toBe(true);

    // Restore to the window's oldest second, as seen now.
    const now = epochMicros((await query<{ t: string }>(`SELECT ${TS('clock_timestamp()')} AS t`))[0]!.t);
    const T = isoMicros(Math.ceil((now - POLICY.retentionSeconds * 1e6) / 1e6) * 1e6);
    const range = (await status()).inventory!.restorable!;
    expect(epochMicros(range.earliest)).toBeLessThanOrEqual(epochMicros(T));
    const { result, port: p } = await restore({ time: T }, 'oldest');
    const got = (await query<{ id: string }>(`SELECT id FROM ticks ORDER BY id`, p)).map((r) => Number(r.id));
    const expected = (await committedRows()).filter((r) => epochMicros(r.ts) <= epochMicros(T)).map((r) => r.id);
    expect(got).toEqual(expected);
    console.log(`retention: pruned ${s.metrics.pruned.backups} backups and ${s.metrics.pruned.walObjects} WAL objects; kept ${inv.backups.length} backups from ${oldest.endTime}; ` +
      `restored oldest second ${T} (${got.length} rows) in ${result.seconds.total.toFixed(1)} s`);
    dropRestored(result.dataDirectory);
  });

  it('a stream that skips partial uploads publishes only points whose WAL is in the archive', async () => {
    // A stream of its own (its own slot, spool and archive prefix) while segments are switched
    // every 50 ms, so points keep falling in segments that complete during their cycle. Last in
    // the file: its WAL would otherwise lengthen the restores above, whose window moves while they
    // run. Whether a given cycle skips depends on timing (unit test: archivedSegmentBelow); what
    // must hold for every point it publishes is checked here.
    const own = new GcsStore({ ...storage, prefix: `${storage.prefix}-skip` }, { endpoint: GCS_ENDPOINT });
    let switching = true;
    const switcher = (async () => {
      while (switching) {
        await query(`INSERT INTO ticks (note) VALUES ('switch'); SELECT pg_switch_wal()`);
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    const slot = `ferry_skip_${id}`;
    try {
      const result = await streamWal({
        conn: { host: '127.0.0.1', port, user: 'postgres', password },
        store: own,
        spoolDir: path.join(dir, 'skip-spool'),
        slot,
        durationMs: 4_000,
        uploadIntervalMs: 300,
        heartbeatCommits: true,
      });
      expect(result.archivedThrough).toBeDefined();
      console.log(`stream with switches: ${result.partialsSkipped ?? 0} partial upload(s) skipped, ${result.objectsUploaded} objects uploaded`);
      // What the archive says it holds, it holds: the completed segment below the recorded point.
      const status = await own.readJson<ArchiveStatus>(LAYOUT.status);
      const below = segmentName(status.timeline, lsnValue(status.archivedThrough.lsn) - 1n, status.walSegmentSize);
      const names = (await own.list(LAYOUT.walPrefix)).map((o) => o.name.slice(LAYOUT.walPrefix.length));
      expect(names.includes(below) || names.includes(`${below}.partial`)).toBe(true);
    } finally {
      switching = false;
      await switcher;
      await query(`SELECT pg_drop_replication_slot('${slot}') FROM pg_replication_slots WHERE slot_name = '${slot}' AND NOT active`);
    }
  });
});
