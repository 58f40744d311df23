// PITR benchmark driver, run by bench/pitr.sh (which made and loaded the protected cluster):
//  - a Ferry worker in this process (PITR activities, the workflow bundle of workflows/index.ts)
//    on a private task queue, as test/integration/pitr-restore.test.ts does;
//  - per WAL upload interval: start protectionWorkflow (its own archive prefix), wait until the
//    archive is restorable, sample RPO every second while idle and while pgbench runs;
//  - on the last protection: restores to 'latest' and to a time T in the middle of the load, RUNS
//    times each, each into a new cluster, timed and checked (row counts, balances);
//  - writes the report (markdown) and a JSON of every figure; removes everything it created
//    (restored clusters, protections, schedules, slots, the bucket), also when interrupted.
//
// RPO = now − archivedThrough.time, read from the archive's status.json each second: the stream
// rewrites it after every upload, whereas the workflow's metrics (pitrStatus query) refresh only
// between stream slices (every streamSliceSeconds, default 300 s). It is the same archivedThrough.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { bundleWorkflowCode, DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { createPitrActivities } from '../activities/pitr';
import { createSecretResolver } from '../activities/adapters/secrets';
import { GcsStore } from '../activities/adapters/gcs';
import { ferryDataConverter } from '../client/payloadCodec';
import type { ArchiveStatus } from '../activities/adapters/pitr/common';
import { protectionWorkflow } from '../workflows/protection';
import { restoreWorkflow } from '../workflows/restore';
import {
  epochMicros,
  isoMicros,
  lsnValue,
  slotName,
  type PitrStorage,
  type ProtectionPolicy,
  type RestoreResult,
  type RestoreTarget,
} from '../workflows/pitrTypes';

// ------------------------------------------------------------------ configuration (from bench/pitr.sh)

function need(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set (run bench/pitr.sh, not this file)`);
  return v;
}

const ROOT = path.resolve(__dirname, '..');
const cfg = {
  dir: need('PITR_DIR'),
  port: Number(need('PITR_PG_PORT')),
  database: process.env.PITR_DATABASE ?? 'bench',
  scale: Number(need('PITR_SCALE')),
  wideRows: Number(process.env.PITR_WIDE_ROWS ?? 0),
  loadSeconds: Number(process.env.PITR_LOAD_SECONDS ?? 60),
  runs: Number(process.env.PITR_RUNS ?? 3),
  intervalsMs: (process.env.PITR_INTERVALS_MS ?? '1000 10000').trim().split(/\s+/).map(Number),
  idleSeconds: Number(process.env.PITR_IDLE_SECONDS ?? 10),
  report: need('PITR_REPORT'),
  json: need('PITR_JSON'),
  setupSeconds: process.env.PITR_SETUP_SECONDS ?? '?',
  startedAt: Number(process.env.PITR_STARTED_AT ?? Date.now() / 1000),
  invocation: process.env.PITR_INVOCATION ?? 'bench/pitr.sh',
  initCommand: process.env.PITR_INIT_COMMAND ?? '',
  settings: process.env.PITR_SETTINGS ?? '',
  gcsEndpoint: process.env.FERRY_GCS_ENDPOINT ?? 'http://127.0.0.1:4443',
  temporal: process.env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233',
};
// The password reaches the activities as a secret reference, as in production.
const PASSWORD_REF = 'env:PITR_PG_PASSWORD';
const password = need('PITR_PG_PASSWORD');
const PGBENCH = ['-n', '-c', '4', '-j', '2', '-T', String(cfg.loadSeconds)];

const id = randomBytes(3).toString('hex');
const bucket = `ferry-pitr-bench-${id}`;
const taskQueue = `ferry-pitr-bench-${id}`;

const log = (msg: string) => process.stderr.write(`[pitr-bench] ${msg}\n`);

// ------------------------------------------------------------------ small helpers

async function query<T extends pg.QueryResultRow>(text: string, values: unknown[] = [], port = cfg.port): Promise<T[]> {
  const c = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', password, database: cfg.database, application_name: 'ferry-pitr-bench' });
  await c.connect();
  try {
    return (await c.query<T>(text, values)).rows;
  } finally {
    await c.end();
  }
}

const ISO = (e: string) => `to_char((${e}) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

async function serverNow(): Promise<{ t: string; lsn: string }> {
  return (await query<{ t: string; lsn: string }>(`SELECT ${ISO('clock_timestamp()')} AS t, pg_current_wal_lsn()::text AS lsn`))[0]!;
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

/** Nearest-rank percentile of an ascending array. */
function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

const f1 = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : '-');
const f2 = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : '-');
const mb = (bytes: number) => bytes / 1048576;

async function waitFor<T>(read: () => Promise<T>, done: (v: T) => boolean, timeoutMs: number, what: string, everyMs = 500): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown;
  for (;;) {
    try {
      const v = await read();
      if (done(v)) return v;
    } catch (err) {
      lastErr = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}${lastErr ? `: ${lastErr instanceof Error ? lastErr.message : JSON.stringify(lastErr)}` : ''}`);
    await sleep(everyMs);
  }
}

// ------------------------------------------------------------------ what the bench measures

interface RpoStats {
  samples: number;
  failed: number;
  p50: number;
  p99: number;
  max: number;
  mean: number;
  /** Distinct archive points (stream cycles) seen, the median gap between them, and the median
   *  time from a point's server time to its status.json write (sample, flush wait, uploads). */
  points: number;
  pointGap: number;
  publishLatency: number;
}

interface Phase {
  intervalMs: number;
  name: string;
  prefix: string;
  secondsToRestorable: number;
  backup: { id: string; bytes: number; seconds: number; startTime: string; endTime: string };
  idle: RpoStats;
  load: RpoStats;
  pgbench: { tps: number; transactions: number; output: string };
  loadStart: string;
  loadEnd: string;
  /** Seconds from protection start to the end of the load: under streamSliceSeconds = no slice boundary during the load. */
  loadEndAfterStart: number;
  walBytes: number;
  archive: { walObjects: number; walBytes: number };
}

interface RestoreRun {
  target: 'latest' | 'T';
  wallSeconds: number;
  result: RestoreResult;
  history: number;
  historyDelta: number;
  balances: { accounts: number; tellers: number; branches: number };
  maxCommit?: string;
  /** Failed activity attempts before the one that succeeded (from the workflow history). */
  retries: string[];
  ok: boolean;
  note: string;
}

function stats(values: number[], failed: number, seen: ArchiveStatus[]): RpoStats {
  const s = [...values].sort((a, b) => a - b);
  const byTime = new Map(seen.map((x) => [x.archivedThrough.time, x]));
  const times = [...byTime.keys()].map(epochMicros).sort((a, b) => a - b);
  return {
    points: byTime.size,
    pointGap: median(times.slice(1).map((t, i) => (t - times[i]!) / 1e6)),
    publishLatency: median([...byTime.values()].map((x) => (Date.parse(x.updatedAt) * 1000 - epochMicros(x.archivedThrough.time)) / 1e6)),
    samples: s.length,
    failed,
    p50: percentile(s, 0.5),
    p99: percentile(s, 0.99),
    max: s.length ? s[s.length - 1]! : NaN,
    mean: s.length ? s.reduce((a, b) => a + b, 0) / s.length : NaN,
  };
}

// ------------------------------------------------------------------ cleanup registry

const cleanups: { what: string; fn: () => Promise<unknown> }[] = [];
let cleaning: Promise<void> | undefined;
async function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    for (const c of cleanups.reverse()) {
      try {
        await c.fn();
      } catch (err) {
        log(`cleanup: ${c.what} failed: ${(err as Error).message}`);
      }
    }
  })();
  return cleaning;
}
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    log(`${sig}: cleaning up`);
    void cleanup().finally(() => process.exit(130));
  });
}

// ------------------------------------------------------------------ main

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const workDir = path.join(cfg.dir, 'work');
  const activities = createPitrActivities({
    secrets: createSecretResolver(),
    gcs: { endpoint: cfg.gcsEndpoint },
    workDir,
    heartbeatIntervalMs: 500,
  });
  const gcs = new GcsStore({ bucket, prefix: '' }, { endpoint: cfg.gcsEndpoint });

  cleanups.push({
    what: `bucket gs://${bucket}`,
    fn: async () => {
      const b = gcs.storage.bucket(bucket);
      const [exists] = await b.exists();
      if (!exists) return;
      const [files] = await b.getFiles();
      for (const f of files) await f.delete({ ignoreNotFound: true });
      await b.delete();
      log(`removed bucket gs://${bucket} (${files.length} objects)`);
    },
  });

  const nativeConnection = await NativeConnection.connect({ address: cfg.temporal });
  const connection = await Connection.connect({ address: cfg.temporal });
  const client = new Client({ connection, namespace: 'default', dataConverter: ferryDataConverter });
  cleanups.push({ what: 'temporal connections', fn: async () => { await connection.close(); await nativeConnection.close(); } });

  log(`bundling workflows and starting a worker on task queue ${taskQueue}`);
  const quiet = { trace() {}, debug() {}, info() {}, warn() {}, error: console.error, log() {} };
  const worker = await Worker.create({
    connection: nativeConnection,
    namespace: 'default',
    taskQueue,
    workflowBundle: await bundleWorkflowCode({ workflowsPath: path.join(ROOT, 'workflows/index.ts'), logger: quiet }),
    activities,
    dataConverter: ferryDataConverter,
  });
  const running = worker.run();
  cleanups.push({ what: 'worker', fn: async () => { worker.shutdown(); await running; } });

  const dataset = (
    await query<{ tables: string; db: string; history: string }>(
      `SELECT (SELECT sum(pg_table_size(c.oid)) FROM pg_class c WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace)::text AS tables,
              pg_database_size(current_database())::text AS db, (SELECT count(*) FROM pgbench_history)::text AS history`,
    )
  )[0]!;
  const settings = (await query<{ v: string; seg: string; fpw: string }>(`SELECT version() AS v, current_setting('wal_segment_size') AS seg, current_setting('full_page_writes') AS fpw`))[0]!;

  const phases: Phase[] = [];
  const restores: RestoreRun[] = [];
  let finalCounts: { history: number; delta: number } | undefined;
  let T = '';
  let expectedAtT: { upToT: number; upToTMinus1s: number } | undefined;

  for (const [i, intervalMs] of cfg.intervalsMs.entries()) {
    const last = i === cfg.intervalsMs.length - 1;
    const name = `bench-${id}-${intervalMs}`;
    const storage: PitrStorage = { bucket, prefix: `i${intervalMs}` };
    const policy: Partial<ProtectionPolicy> = { walUploadIntervalMs: intervalMs, baseBackupIntervalSeconds: 24 * 3600 };
    const slot = slotName(name);
    const workflowId = `ferry-pitr-${name}`;

    log(`protection ${name}: WAL upload every ${intervalMs} ms`);
    const t0 = Date.now();
    const protection: WorkflowHandle<typeof protectionWorkflow> = await client.workflow.start(protectionWorkflow, {
      taskQueue,
      workflowId,
      args: [{ name, database: { host: '127.0.0.1', port: cfg.port, user: 'postgres', password: PASSWORD_REF, database: cfg.database }, storage, policy }],
    });
    let stopped = false;
    const stop = async () => {
      if (stopped) return;
      stopped = true;
      // Cancellation ends the stream slice at once (the stop signal waits for the slice to end);
      // the workflow deletes its schedule in a non-cancellable scope.
      await protection.cancel().catch(() => undefined);
      await protection.result().catch(() => undefined);
      const leftovers = client.workflow.list({ query: `FerryMigration = '${name}' AND ExecutionStatus = 'Running'` });
      for await (const w of leftovers) await client.workflow.getHandle(w.workflowId, w.runId).terminate('pitr bench cleanup').catch(() => undefined);
      await client.schedule.getHandle(`ferry-pitr-${name}-basebackup`).delete().catch(() => undefined);
      await waitFor(
        () => query<{ n: string }>(`SELECT count(*)::text AS n FROM pg_replication_slots WHERE slot_name = $1 AND active`, [slot]),
        (r) => r[0]?.n === '0',
        30_000,
        `slot ${slot} inactive`,
      ).catch(() => undefined);
      await query(`SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1`, [slot]);
      log(`protection ${name} stopped, schedule deleted, slot ${slot} dropped`);
    };
    cleanups.push({ what: `protection ${name}`, fn: stop });

    const store = new GcsStore(storage, { endpoint: cfg.gcsEndpoint });
    const inv = await waitFor(() => activities.pitrInventory(storage), (x) => !!x.restorable && x.backups.length > 0, 30 * 60_000, 'a first restorable point', 1000);
    const secondsToRestorable = (Date.now() - t0) / 1000;
    const b = inv.backups[0]!;
    const backup = { id: b.id, bytes: b.bytes, seconds: (epochMicros(b.endTime) - epochMicros(b.startTime)) / 1e6, startTime: b.startTime, endTime: b.endTime };
    log(`restorable after ${f1(secondsToRestorable)} s (base backup ${f1(mb(backup.bytes))} MB in ${f1(backup.seconds)} s)`);

    // RPO sampler: once a second, now − archivedThrough.time from status.json (read raw, not
    // through the checksum-verified path: the stream rewrites it every interval).
    const statusFile = gcs.storage.bucket(bucket).file(`${storage.prefix}/status.json`);
    const readStatus = async (): Promise<ArchiveStatus> => {
      const [buf] = await statusFile.download();
      return JSON.parse(buf.toString('utf8')) as ArchiveStatus;
    };
    const archivedThrough = async (): Promise<ArchiveStatus['archivedThrough']> => (await readStatus()).archivedThrough;
    const sample = async (seconds: number | (() => boolean)): Promise<RpoStats> => {
      const values: number[] = [];
      const seen: ArchiveStatus[] = [];
      let failed = 0;
      const start = Date.now();
      for (let k = 1; ; k++) {
        if (typeof seconds === 'number' && k > seconds) break;
        await sleep(Math.max(0, start + k * 1000 - Date.now()));
        if (typeof seconds !== 'number' && seconds()) break;
        try {
          const st = await readStatus();
          values.push(Math.max(0, (Date.now() * 1000 - epochMicros(st.archivedThrough.time)) / 1e6));
          seen.push(st);
        } catch {
          failed += 1;
        }
      }
      return stats(values, failed, seen);
    };

    const idle = await sample(cfg.idleSeconds);
    log(`idle RPO p50 ${f2(idle.p50)} s, max ${f2(idle.max)} s (${idle.samples} samples)`);

    // ---- load: pgbench against the protected cluster while sampling
    const before = await serverNow();
    log(`pgbench ${PGBENCH.join(' ')} (${cfg.loadSeconds} s)`);
    let done = false;
    const bench = new Promise<{ code: number | null; out: string }>((resolve, reject) => {
      const child = spawn('pgbench', [...PGBENCH, '-h', '127.0.0.1', '-p', String(cfg.port), '-U', 'postgres', cfg.database], {
        env: { ...process.env, PGPASSWORD: password },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (out += d.toString()));
      child.on('error', reject);
      child.on('close', (code) => {
        done = true;
        resolve({ code, out });
      });
      cleanups.push({ what: 'pgbench', fn: () => Promise.resolve(done || child.kill('SIGTERM')) });
    });
    const [load, pgb] = await Promise.all([sample(() => done), bench]);
    const after = await serverNow();
    if (pgb.code !== 0) throw new Error(`pgbench exited ${pgb.code}: ${pgb.out}`);
    const tps = Number(/tps = ([\d.]+)/.exec(pgb.out)?.[1] ?? NaN);
    const transactions = Number(/number of transactions actually processed: (\d+)/.exec(pgb.out)?.[1] ?? NaN);
    const walBytes = Number(lsnValue(after.lsn) - lsnValue(before.lsn));
    log(`load RPO p50 ${f2(load.p50)} s, p99 ${f2(load.p99)} s, max ${f2(load.max)} s (${load.samples} samples; ${load.points} archive points, median gap ${f2(load.pointGap)} s, publish latency ${f2(load.publishLatency)} s); ${f1(tps)} tps, ${f1(mb(walBytes))} MB WAL`);

    // Everything the load committed is archived before the restores (and the next phase).
    await waitFor(archivedThrough, (a) => epochMicros(a.time) > epochMicros(after.t), 120_000, `archivedThrough past ${after.t}`);
    const walObjects = await store.list('wal/');
    phases.push({
      intervalMs,
      name,
      prefix: storage.prefix,
      secondsToRestorable,
      backup,
      idle,
      load,
      pgbench: { tps, transactions, output: pgb.out.trim() },
      loadStart: before.t,
      loadEnd: after.t,
      loadEndAfterStart: (epochMicros(after.t) / 1000 - t0) / 1000,
      walBytes,
      archive: { walObjects: walObjects.length, walBytes: walObjects.reduce((a, o) => a + o.size, 0) },
    });

    if (last) {
      // ---- restores: 'latest' and T = the middle of this load, RUNS times each
      T = isoMicros(Math.round((epochMicros(before.t) + epochMicros(after.t)) / 2));
      const fin = (await query<{ n: string; d: string }>(`SELECT count(*)::text AS n, coalesce(sum(delta), 0)::text AS d FROM pgbench_history`))[0]!;
      finalCounts = { history: Number(fin.n), delta: Number(fin.d) };
      // Commit timestamps (track_commit_timestamp): rows committed at or before T, and before T − 1 s.
      const e = (
        await query<{ a: string; b: string }>(
          `SELECT count(*) FILTER (WHERE pg_xact_commit_timestamp(xmin) <= $1::timestamptz)::text AS a,
                  count(*) FILTER (WHERE pg_xact_commit_timestamp(xmin) <= $1::timestamptz - interval '1 second')::text AS b
           FROM pgbench_history`,
          [T],
        )
      )[0]!;
      expectedAtT = { upToT: Number(e.a), upToTMinus1s: Number(e.b) };
      log(`final pgbench_history ${finalCounts.history} rows; T = ${T}: ${expectedAtT.upToT} rows committed at or before T`);

      for (let run = 1; run <= cfg.runs; run++) {
        for (const which of ['latest', 'T'] as const) {
          const target: RestoreTarget = which === 'latest' ? { latest: true } : { time: T };
          const port = await freePort();
          const dataDirectory = path.join(cfg.dir, `restore-${which}-${run}`);
          const drop = () => activities.pitrDropCluster(dataDirectory);
          cleanups.push({ what: `restored cluster ${dataDirectory}`, fn: drop });
          log(`restore ${run}/${cfg.runs} to ${which === 'latest' ? 'latest' : `T ${T}`} into port ${port}`);
          const w0 = Date.now();
          const result = await client.workflow.execute(restoreWorkflow, {
            taskQueue,
            workflowId: `ferry-pitr-restore-${id}-${which}-${run}`,
            args: [{ name: `${name}-${which}-${run}`, storage, target, cluster: { dataDirectory, port, user: 'postgres', password: PASSWORD_REF }, replayTimeoutSeconds: 1800 }],
          });
          const wallSeconds = (Date.now() - w0) / 1000;
          // A retried activity restarts the restore from an empty directory: its time is in the
          // wall time, not in result.seconds (the last attempt's). Name the failures.
          const events = (await client.workflow.getHandle(`ferry-pitr-restore-${id}-${which}-${run}`).fetchHistory()).events ?? [];
          const retries = events
            .map((e) => e.activityTaskStartedEventAttributes)
            .filter((a) => (a?.attempt ?? 1) > 1)
            .map((a) => a?.lastFailure?.message ?? '?');
          const r = (
            await query<{ n: string; d: string; ab: string; tb: string; bb: string; mc: string | null }>(
              `SELECT (SELECT count(*) FROM pgbench_history)::text AS n, (SELECT coalesce(sum(delta), 0) FROM pgbench_history)::text AS d,
                      (SELECT sum(abalance) FROM pgbench_accounts)::text AS ab, (SELECT sum(tbalance) FROM pgbench_tellers)::text AS tb,
                      (SELECT sum(bbalance) FROM pgbench_branches)::text AS bb,
                      (SELECT ${ISO('max(pg_xact_commit_timestamp(xmin))')} FROM pgbench_history) AS mc`,
              [],
              port,
            )
          )[0]!;
          const history = Number(r.n);
          const historyDelta = Number(r.d);
          const balances = { accounts: Number(r.ab), tellers: Number(r.tb), branches: Number(r.bb) };
          // pgbench's invariant: every transaction adds delta to one account, teller and branch
          // and logs it in pgbench_history; all start at 0. A consistent point keeps the sums equal.
          const consistent = balances.accounts === historyDelta && balances.tellers === historyDelta && balances.branches === historyDelta;
          const problems: string[] = [];
          if (!consistent) problems.push(`balances ${JSON.stringify(balances)} != history delta ${historyDelta}`);
          if (which === 'latest') {
            if (history !== finalCounts.history || historyDelta !== finalCounts.delta) problems.push(`history ${history}/${historyDelta} != live ${finalCounts.history}/${finalCounts.delta}`);
          } else {
            if (history > finalCounts.history) problems.push(`history ${history} > final ${finalCounts.history}`);
            if (history > expectedAtT.upToT) problems.push(`history ${history} > rows committed at or before T (${expectedAtT.upToT})`);
            if (history < expectedAtT.upToTMinus1s) problems.push(`history ${history} < rows committed before T − 1 s (${expectedAtT.upToTMinus1s})`);
            if (r.mc && epochMicros(r.mc) > epochMicros(T)) problems.push(`a restored row committed at ${r.mc}, after T`);
          }
          const note =
            which === 'latest'
              ? `${history} rows = live`
              : `${history} rows; live: ${expectedAtT.upToT} committed ≤ T, ${expectedAtT.upToTMinus1s} ≤ T − 1 s; newest restored commit ${r.mc ?? '-'}`;
          restores.push({ target: which, wallSeconds, result, history, historyDelta, balances, maxCommit: r.mc ?? undefined, retries, ok: problems.length === 0, note: problems.length ? problems.join('; ') : note });
          log(`  ${f1(wallSeconds)} s (activity ${f1(result.seconds.total)}: replay ${f1(result.seconds.replay)}), ${result.walSegmentsReplayed} WAL segments, reached ${result.reachedTime}; ${problems.length ? `CHECK FAILED: ${problems.join('; ')}` : 'checks ok'}${retries.length ? `; activity retried after: ${retries.join(' | ')}` : ''}`);
          await drop();
        }
      }
    }
    await stop();
  }

  // ------------------------------------------------------------------ report
  const machine = `${os.cpus().length} cores (${os.cpus()[0]?.model.trim() ?? '?'}), ${Math.round(os.totalmem() / 2 ** 30)} GiB RAM; load average at start ${process.env.PITR_LOADAVG ?? '?'}`;
  const lastPhase = phases[phases.length - 1]!;
  const lines: string[] = [];
  lines.push(`## Point-in-time recovery (${cfg.invocation}), ${new Date().toISOString().slice(0, 16)}Z`, '');
  lines.push(`Machine: ${machine}. ${settings.v.split(',')[0]}. Protected cluster, fake-gcs-server, Temporal dev server, the Ferry worker (in the driver process) and pgbench all on this machine.`, '');
  lines.push(
    `Dataset: \`pgbench -i -s ${cfg.scale}\`${cfg.wideRows ? ` + ${cfg.wideRows} rows of bench/full-load.sh's \`wide\` table` : ''}${cfg.scale === 50 && cfg.wideRows === 500_000 ? ' (the full-load bench dataset)' : ' (the full-load bench dataset is scale 50 + 500000 wide rows)'}: ${f1(mb(Number(dataset.tables)))} MB of table data, database ${f1(mb(Number(dataset.db)))} MB. ` +
      `WAL segments ${settings.seg}, full_page_writes ${settings.fpw}. Cluster setup (initdb + load): ${cfg.setupSeconds} s; whole bench run until this report: ${Math.round(Date.now() / 1000 - cfg.startedAt)} s.`,
    '',
  );
  lines.push(`Load: \`pgbench ${PGBENCH.join(' ')}\` (tpcb-like) against the protected cluster; one protection per WAL upload interval, each with its own base backup and archive prefix, in this order.`, '');
  lines.push('### RPO under load (seconds of committed data at risk)', '');
  lines.push('RPO = now − archivedThrough.time, sampled every second from the archive (status.json), during the whole pgbench run; idle = the ' + `${cfg.idleSeconds} s before it.`, '');
  lines.push('| WAL upload interval | samples | RPO p50 (s) | RPO p99 (s) | RPO max (s) | mean (s) | idle p50 / max (s) | archive points seen, median gap (s) | publish latency (s, median) | pgbench tps | WAL written (MB) | WAL MB/s |');
  lines.push('| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const p of phases) {
    lines.push(
      `| ${p.intervalMs} ms${p.intervalMs === 10_000 ? ' (default)' : ''} | ${p.load.samples}${p.load.failed ? ` (+${p.load.failed} failed reads)` : ''} | ${f2(p.load.p50)} | ${f2(p.load.p99)} | ${f2(p.load.max)} | ${f2(p.load.mean)} | ${f2(p.idle.p50)} / ${f2(p.idle.max)} | ${p.load.points}, ${f2(p.load.pointGap)} | ${f2(p.load.publishLatency)} | ${f1(p.pgbench.tps)} | ${f1(mb(p.walBytes))} | ${f2(mb(p.walBytes) / cfg.loadSeconds)} |`,
    );
  }
  lines.push('');
  lines.push(
    'Archive points: the distinct archivedThrough values the samples saw during the load (one per stream cycle: server time + heartbeat commit, wait for ' +
      'pg_receivewal to flush past it, upload completed segments and the current partial segment, write status.json); their median gap is the cycle period; ' +
      'publish latency = status.json written − the point\'s time. RPO ≈ gap + latency.',
    '',
  );
  lines.push('### Time to protect', '');
  lines.push('| WAL upload interval | protection start → first restorable point (s) | base backup (pg_basebackup -Ft -z) (s) | base backup size (MB, compressed) | WAL objects in the archive at the end | their size (MB) |');
  lines.push('| ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const p of phases) {
    lines.push(`| ${p.intervalMs} ms | ${f1(p.secondsToRestorable)} | ${f1(p.backup.seconds)} | ${f1(mb(p.backup.bytes))} | ${p.archive.walObjects} | ${f1(mb(p.archive.walBytes))} |`);
  }
  lines.push('');
  lines.push(`### Restore time (into a new cluster, archive of the ${lastPhase.intervalMs} ms protection, protection still running)`, '');
  lines.push(`T = ${T}, the middle of the load (${lastPhase.loadStart} .. ${lastPhase.loadEnd}). Each restore: inventory, newest base backup before the target, download + verify, unpack, start with recovery_target_*, replay, promote; timed from workflow start to its result.`, '');
  lines.push('| target | runs (s) | median (s) | planning (s, median) | base backup download + verify + unpack (s, median) | start + WAL fetch + replay + promote (s, median) | WAL segments replayed | pgbench_history rows | checks |');
  lines.push('| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |');
  for (const which of ['latest', 'T'] as const) {
    const rs = restores.filter((r) => r.target === which);
    if (rs.length === 0) continue;
    lines.push(
      `| ${which === 'latest' ? 'latest' : 'T (mid-load)'} | ${rs.map((r) => f1(r.wallSeconds)).join(' ')} | ${f1(median(rs.map((r) => r.wallSeconds)))} | ${f1(median(rs.map((r) => r.wallSeconds - r.result.seconds.total)))} | ` +
        `${f1(median(rs.map((r) => r.result.seconds.total - r.result.seconds.replay)))} | ` +
        `${f1(median(rs.map((r) => r.result.seconds.replay)))} | ${[...new Set(rs.map((r) => r.result.walSegmentsReplayed))].join(', ')} | ${[...new Set(rs.map((r) => r.history))].join(', ')} | ${rs.every((r) => r.ok) ? 'ok' : 'FAILED'} |`,
    );
  }
  lines.push('');
  lines.push('Checks per restore: pgbench\'s balances are consistent (sum of abalance = tbalance = bbalance = sum of pgbench_history.delta); ' +
    `'latest' has exactly the live cluster's pgbench_history after the load (${finalCounts?.history ?? '?'} rows); T has at most the final count, at most the rows committed ≤ T ` +
    '(commit timestamps, track_commit_timestamp), at least those committed ≤ T − 1 s, and no row committed after T.', '');
  for (const r of restores) {
    lines.push(
      `- ${r.target}: ${f1(r.wallSeconds)} s, ${r.ok ? 'ok' : 'FAILED'}, ${r.note}; reached ${r.result.reachedTime ?? '-'}, backup ${r.result.backupId}` +
        (r.retries.length ? `; **the restore activity was retried** (${r.retries.length}×, 5 s backoff, whole restore redone) after: \`${r.retries.join(' | ')}\`` : ''),
    );
  }
  lines.push('');
  lines.push('Commands:');
  lines.push(`- cluster: \`initdb --wal-segsize=16\` (default) in a temp dir, settings \`${cfg.settings}\`; ${cfg.initCommand}`);
  lines.push(`- protection: \`protectionWorkflow\` with policy \`{ walUploadIntervalMs: <interval>, baseBackupIntervalSeconds: 86400 }\` (other fields default: streamSliceSeconds 300, heartbeatCommits on), archive in fake-gcs-server; worker in the driver process (\`createPitrActivities\`, workflows/index.ts bundle)`);
  lines.push(`- load: \`pgbench ${PGBENCH.join(' ')} -h 127.0.0.1 -p PORT -U postgres ${cfg.database}\``);
  lines.push(`- restore: \`restoreWorkflow({ target: { latest: true } | { time: T }, cluster: { dataDirectory: <new>, port: <free> } })\`, then the checks, then \`pitrDropCluster\``);
  lines.push('');
  const slices =
    phases.every((p) => p.loadEndAfterStart < 300)
      ? 'Every load ended within 300 s of its protection\'s start, so no slice boundary (a pg_receivewal restart) fell inside a load window.'
      : 'A load ended more than 300 s after its protection started: a slice boundary (a pg_receivewal restart) may fall inside it.';
  lines.push(
    'Notes: the workflow\'s own RPO metric (pitrStatus query, search attribute FerryLagSeconds) is updated between stream slices (every 300 s by default), so per-second ' +
      `sampling reads the archivedThrough the stream writes to status.json after each upload, which is the same value. ${slices} ` +
      `Every partial upload is a whole WAL segment (${settings.seg} here), gzipped (docs/pitr.md, limits).`,
  );
  const md = `${lines.join('\n')}\n`;
  writeFileSync(cfg.report, md);
  writeFileSync(cfg.json, JSON.stringify({ cfg: { ...cfg }, dataset, settings, phases, restores, T, expectedAtT, finalCounts }, null, 2));
  process.stdout.write(md);
  if (restores.some((r) => !r.ok)) throw new Error('a restore check failed (see the report)');
}

main()
  .then(async () => {
    await cleanup();
    process.exit(0);
  })
  .catch(async (err: unknown) => {
    log(`failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    await cleanup();
    process.exit(1);
  });
