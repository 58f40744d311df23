// CDC benchmark driver, run by bench/cdc.sh (which compiled Ferry and started its worker on a
// private task queue):
//  1. lag under `pgbench -n -N -c 4 -j 2 -T LOAD` on the source, for native logical replication
//     (publication + subscription WITH (copy_data = false)) and for Ferry (online migration held
//     at its cutover gate), measured the same way for both;
//  2. cutover downtime: RUNS small online migrations through the real workflow, approved once
//     lag is low, downtime read from the workflow result (and split by phase timings).
//
// Lag, measured outside Ferry: a bench-owned table `bench_clock` on the source gets
// `ts = clock_timestamp()` every TICK_MS from its own session; it is replicated like any table.
// Every SAMPLE_MS the target is asked for (clock_timestamp(), replicated ts):
//   lag = target now − newest replicated tick  (the heartbeat method; includes up to TICK_MS of
//         tick granularity),
//   age = target now − oldest tick written but not yet on the target (0 when none), i.e. how old
//         the oldest missing change is; free of tick granularity. Both clusters share one clock.
// Catch-up: from pgbench's exit until the target holds a tick written after it (then every change
// made during the load, all committed before that tick, is applied), and until the applied LSN
// (Ferry: ferry.cdc.applied_lsn; native: the slot's confirmed_flush_lsn) passes the source's
// insert LSN at load end.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { FerryClient } from '../client/index';
import { progressQuery } from '../workflows/messages';
import type { MigrationProgress, MigrationResult } from '../workflows/types';

function need(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set (run bench/cdc.sh, not this file)`);
  return v;
}

const cfg = {
  db: process.env.CDC_DB ?? 'ferry_cdc_bench',
  scale: Number(process.env.CDC_SCALE ?? 10),
  loadSeconds: Number(process.env.CDC_LOAD_SECONDS ?? 60),
  runs: Number(process.env.CDC_RUNS ?? 5),
  idleSeconds: Number(process.env.CDC_IDLE_SECONDS ?? 10),
  systems: (process.env.CDC_SYSTEMS ?? 'native ferry').trim().split(/\s+/),
  /** Extra loads after the full-speed one, on the same subscription / migration: pgbench -R RATE. */
  rates: (process.env.CDC_RATES ?? '').trim().split(/\s+/).filter(Boolean).map(Number),
  taskQueue: need('CDC_TASK_QUEUE'),
  report: need('CDC_REPORT'),
  json: need('CDC_JSON'),
  loadavg: process.env.CDC_LOADAVG ?? '?',
  invocation: process.env.CDC_INVOCATION ?? 'bench/cdc.sh',
  srcPort: Number(process.env.FERRY_SOURCE_PORT ?? 54321),
  tgtPort: Number(process.env.FERRY_TARGET_PORT ?? 54322),
  srcPassword: need('FERRY_SOURCE_PASSWORD'),
  tgtPassword: need('FERRY_TARGET_PASSWORD'),
};
const TICK_MS = 100;
const SAMPLE_MS = 100;
const PGBENCH = ['-n', '-N', '-c', '4', '-j', '2', '-T', String(cfg.loadSeconds)];
const CUT_DB = `${cfg.db}_cut`;
const NATIVE_DB = `${cfg.db}_native`;
const NATIVE = 'ferry_cdc_bench_native'; // publication, subscription and slot name
const log = (m: string) => process.stderr.write(`[cdc-bench] ${new Date().toISOString().slice(11, 23)} ${m}\n`);

type Side = 'source' | 'target';
function conn(side: Side, database: string): pg.ClientConfig {
  return {
    host: '127.0.0.1',
    port: side === 'source' ? cfg.srcPort : cfg.tgtPort,
    user: 'postgres',
    password: side === 'source' ? cfg.srcPassword : cfg.tgtPassword,
    database,
    application_name: 'ferry-cdc-bench',
  };
}
async function connect(side: Side, database: string): Promise<pg.Client> {
  const c = new pg.Client(conn(side, database));
  c.on('error', () => undefined);
  await c.connect();
  await c.query('SET client_min_messages = warning');
  return c;
}
async function sql<T extends pg.QueryResultRow = pg.QueryResultRow>(side: Side, database: string, text: string, values: unknown[] = []): Promise<T[]> {
  const c = await connect(side, database);
  try {
    return (await c.query<T>(text, values)).rows;
  } finally {
    await c.end();
  }
}

function run(cmd: string, args: string[], env: Record<string, string> = {}): Promise<{ code: number; out: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (out += d.toString()));
    p.on('error', reject);
    p.on('close', (code) => resolve({ code: code ?? -1, out }));
  });
}
async function sh(script: string): Promise<string> {
  const r = await run('bash', ['-o', 'pipefail', '-c', script]);
  if (r.code !== 0) throw new Error(`failed (${r.code}): ${script}\n${r.out}`);
  return r.out;
}
const srcUrl = (db: string) => `postgresql://postgres:${cfg.srcPassword}@127.0.0.1:${cfg.srcPort}/${db}`;
const tgtUrl = (db: string) => `postgresql://postgres:${cfg.tgtPassword}@127.0.0.1:${cfg.tgtPort}/${db}`;

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
const f2 = (x: number | undefined) => (x !== undefined && Number.isFinite(x) ? x.toFixed(2) : '-');
const f3 = (x: number | undefined) => (x !== undefined && Number.isFinite(x) ? x.toFixed(3) : '-');

async function waitFor<T>(read: () => Promise<T>, done: (v: T) => boolean, timeoutMs: number, what: string, everyMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  let lastErr: unknown;
  for (;;) {
    let ok = false;
    try {
      last = await read();
      ok = true;
    } catch (err) {
      lastErr = err;
    }
    if (ok && done(last as T)) return last as T; // `done` may throw to give up early
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}: ${lastErr instanceof Error ? lastErr.message : JSON.stringify(last)?.slice(0, 2000)}`);
    }
    await sleep(everyMs);
  }
}

// ------------------------------------------------------------------ cleanup registry

const cleanups: { what: string; fn: () => Promise<unknown> }[] = [];
let cleaning: Promise<void> | undefined;
function cleanup(): Promise<void> {
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

async function recreate(side: Side, db: string): Promise<void> {
  await sql(side, 'postgres', `DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
  await sql(side, 'postgres', `CREATE DATABASE ${db}`);
}
async function dropDb(side: Side, db: string): Promise<void> {
  await sql(side, 'postgres', `DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
}

// ------------------------------------------------------------------ lag measurement

interface Sample {
  at: number; // target clock, epoch ms
  lag: number; // s, now − newest replicated tick
  age: number; // s, age of the oldest tick not yet on the target
  ferryLag?: number; // s, now − ferry.cdc.heartbeat_ts (what Ferry's gate sees, before its own reporting delay)
  applied?: string; // LSN applied on the target
}

interface LagStats {
  samples: number;
  p50: number;
  p99: number;
  max: number;
  mean: number;
  ageP50: number;
  ageP99: number;
  ageMax: number;
  ferryP50?: number;
  ferryP99?: number;
  ferryMax?: number;
}

function lagStats(xs: Sample[]): LagStats {
  const lag = xs.map((s) => s.lag).sort((a, b) => a - b);
  const age = xs.map((s) => s.age).sort((a, b) => a - b);
  const fl = xs.filter((s) => s.ferryLag !== undefined).map((s) => s.ferryLag!).sort((a, b) => a - b);
  return {
    samples: xs.length,
    p50: percentile(lag, 0.5),
    p99: percentile(lag, 0.99),
    max: lag[lag.length - 1] ?? NaN,
    mean: lag.reduce((a, b) => a + b, 0) / Math.max(1, lag.length),
    ageP50: percentile(age, 0.5),
    ageP99: percentile(age, 0.99),
    ageMax: age[age.length - 1] ?? NaN,
    ...(fl.length ? { ferryP50: percentile(fl, 0.5), ferryP99: percentile(fl, 0.99), ferryMax: fl[fl.length - 1] } : {}),
  };
}

/** Writes bench_clock.ts every TICK_MS; keeps every tick's time (epoch ms, source clock). */
function startTicker(db: string): { ticks: number[]; stop: () => Promise<void> } {
  const ticks: number[] = [];
  let running = true;
  const done = (async () => {
    const c = await connect('source', db);
    try {
      let next = Date.now();
      while (running) {
        const r = await c.query<{ t: string }>(`UPDATE bench_clock SET ts = clock_timestamp() WHERE id = 1 RETURNING (extract(epoch FROM ts) * 1000)::float8::text AS t`);
        ticks.push(Number(r.rows[0]!.t));
        next += TICK_MS;
        const wait = next - Date.now();
        if (wait > 0) await sleep(wait);
        else next = Date.now();
      }
    } finally {
      await c.end();
    }
  })();
  return {
    ticks,
    stop: async () => {
      running = false;
      await done;
    },
  };
}

/** Samples the target every SAMPLE_MS. `extra` adds Ferry's state columns. */
function startSampler(db: string, ticks: number[], ferryId?: string): { samples: Sample[]; stop: () => Promise<void> } {
  const samples: Sample[] = [];
  let running = true;
  const done = (async () => {
    const c = await connect('target', db);
    const text = ferryId
      ? `SELECT (extract(epoch FROM clock_timestamp()) * 1000)::float8 AS now, (SELECT (extract(epoch FROM ts) * 1000)::float8 FROM bench_clock WHERE id = 1) AS ts,
                (SELECT (extract(epoch FROM heartbeat_ts) * 1000)::float8 FROM ferry.cdc WHERE migration_id = $1) AS hb,
                (SELECT applied_lsn::text FROM ferry.cdc WHERE migration_id = $1) AS lsn`
      : `SELECT (extract(epoch FROM clock_timestamp()) * 1000)::float8 AS now, (SELECT (extract(epoch FROM ts) * 1000)::float8 FROM bench_clock WHERE id = 1) AS ts`;
    try {
      let next = Date.now();
      let i = 0; // index of the first tick not known to be on the target
      while (running) {
        const r = (await c.query<{ now: number; ts: number | null; hb?: number | null; lsn?: string | null }>(text, ferryId ? [ferryId] : [])).rows[0]!;
        if (r.ts !== null) {
          while (i < ticks.length && ticks[i]! <= r.ts + 0.001) i++;
          const oldestMissing = i < ticks.length ? ticks[i]! : undefined;
          samples.push({
            at: r.now,
            lag: Math.max(0, (r.now - r.ts) / 1000),
            age: oldestMissing !== undefined && oldestMissing < r.now ? (r.now - oldestMissing) / 1000 : 0,
            ...(ferryId && r.hb !== null && r.hb !== undefined ? { ferryLag: Math.max(0, (r.now - r.hb) / 1000) } : {}),
            ...(r.lsn ? { applied: r.lsn } : {}),
          });
        }
        next += SAMPLE_MS;
        const wait = next - Date.now();
        if (wait > 0) await sleep(wait);
        else next = Date.now();
      }
    } finally {
      await c.end();
    }
  })();
  return {
    samples,
    stop: async () => {
      running = false;
      await done;
    },
  };
}

function parsePgbench(out: string): { tps: number; transactions: number; failed: string } {
  const tps = /tps = ([\d.]+) \(without initial connection time\)/.exec(out) ?? /tps = ([\d.]+)/.exec(out);
  const tx = /number of transactions actually processed: (\d+)/.exec(out);
  const failed = /number of failed transactions: (\d+)/.exec(out);
  return { tps: tps ? Number(tps[1]) : NaN, transactions: tx ? Number(tx[1]) : NaN, failed: failed?.[1] ?? '0' };
}

const lsnNum = (s: string) => {
  const [hi, lo] = s.split('/');
  return (BigInt(`0x${hi}`) << 32n) | BigInt(`0x${lo}`);
};

interface LagRun {
  system: 'native' | 'ferry';
  rate?: number; // pgbench -R, when rate-limited
  pgbench: { tps: number; transactions: number; failed: string; output: string };
  idle: LagStats;
  load: LagStats;
  catchUpTick: number; // s
  catchUpLsn: number; // s
  loadEndLsn: string;
  walBytes: number;
  note: string;
  ferryReported?: number[]; // progress.lagSeconds seen during the load
}

/** idle sampling, the load, catch-up; `appliedLsn` reads the system's applied position. */
async function measureLag(system: 'native' | 'ferry', tgtDb: string, appliedLsn: () => Promise<string | null>, ferry?: { client: FerryClient; id: string }, rate?: number): Promise<LagRun> {
  const args = rate ? [...PGBENCH, '-R', String(rate)] : PGBENCH;
  const ticker = startTicker(cfg.db);
  await sleep(500);
  const sampler = startSampler(tgtDb, ticker.ticks, system === 'ferry' ? ferry?.id : undefined);
  const reported: number[] = [];
  let polling = true;
  const poller = (async () => {
    while (polling && ferry) {
      try {
        const p: MigrationProgress = await ferry.client.handle(ferry.id).query(progressQuery);
        if (p.lagSeconds !== undefined) reported.push(p.lagSeconds);
      } catch {
        /* ignore */
      }
      await sleep(1000);
    }
  })();
  await sleep(cfg.idleSeconds * 1000);
  const startLsn = (await sql<{ lsn: string }>('source', cfg.db, 'SELECT pg_current_wal_insert_lsn()::text AS lsn'))[0]!.lsn;
  log(`${system}: pgbench ${args.join(' ')}`);
  const loadStart = Date.now();
  const pgb = await run('pgbench', [...args, '-h', '127.0.0.1', '-p', String(cfg.srcPort), '-U', 'postgres', cfg.db], { PGPASSWORD: cfg.srcPassword });
  const loadEnd = Date.now();
  const endLsn = (await sql<{ lsn: string }>('source', cfg.db, 'SELECT pg_current_wal_insert_lsn()::text AS lsn'))[0]!.lsn;
  const pb = parsePgbench(pgb.out);
  log(`${system}: pgbench exited ${pgb.code}, ${pb.tps} tps; waiting for catch-up`);
  let catchUpLsn = NaN;
  const target = lsnNum(endLsn);
  const deadline = Date.now() + 300_000;
  while (Date.now() < deadline) {
    const a = await appliedLsn().catch(() => null);
    if (a && lsnNum(a) >= target) {
      catchUpLsn = (Date.now() - loadEnd) / 1000;
      break;
    }
    await sleep(20);
  }
  // the tick-based catch-up, then 5 s more of idle samples
  await waitFor(() => Promise.resolve(sampler.samples.at(-1)), (s) => s !== undefined && s.at - s.lag * 1000 >= loadEnd, 300_000, 'a tick after the load on the target', 100).catch((e: Error) => log(e.message));
  await sleep(5000);
  polling = false;
  await poller;
  await sampler.stop();
  await ticker.stop();
  const s = sampler.samples;
  // Raw samples (ms since the load started) for looking at when lag peaks; not part of the report.
  writeFileSync(
    cfg.json.replace(/\.json$/, `-samples-${system}${rate ? `-r${rate}` : ''}.json`),
    JSON.stringify(s.map((x) => ({ t: Math.round(x.at - loadStart), lag: x.lag, age: x.age, ferryLag: x.ferryLag }))),
  );
  const firstAfter = s.find((x) => x.at - x.lag * 1000 >= loadEnd);
  const idle = s.filter((x) => x.at < loadStart);
  const load = s.filter((x) => x.at >= loadStart && x.at <= loadEnd);
  return {
    system,
    ...(rate ? { rate } : {}),
    pgbench: { ...pb, output: pgb.out.trim().split('\n').slice(-12).join('\n') },
    idle: lagStats(idle),
    load: lagStats(load),
    catchUpTick: firstAfter ? (firstAfter.at - loadEnd) / 1000 : NaN,
    catchUpLsn,
    loadEndLsn: endLsn,
    walBytes: Number(lsnNum(endLsn) - lsnNum(startLsn)),
    note: pgb.code === 0 ? '' : `pgbench exited ${pgb.code}`,
    ...(ferry ? { ferryReported: reported } : {}),
  };
}

// ------------------------------------------------------------------ the systems

async function prepareSource(): Promise<void> {
  log(`source database ${cfg.db}: pgbench -i -s ${cfg.scale} + bench_clock`);
  await recreate('source', cfg.db);
  cleanups.push({ what: `source database ${cfg.db}`, fn: () => dropDb('source', cfg.db) });
  await sh(`PGPASSWORD='${cfg.srcPassword}' pgbench -q -i -s ${cfg.scale} -h 127.0.0.1 -p ${cfg.srcPort} -U postgres ${cfg.db} 2>&1`);
  await sql('source', cfg.db, `CREATE TABLE bench_clock (id int PRIMARY KEY, ts timestamptz NOT NULL); INSERT INTO bench_clock VALUES (1, clock_timestamp())`);
  // Ferry's online mode needs a key on every table (pgbench_history has none): the same for both systems.
  await sql('source', cfg.db, 'ALTER TABLE pgbench_history ADD COLUMN id bigserial PRIMARY KEY');
  await sql('source', cfg.db, 'VACUUM ANALYZE');
  await sql('source', cfg.db, 'CHECKPOINT');
}

async function runNative(): Promise<LagRun[]> {
  log(`native: ${NATIVE_DB} on the target from pg_dump, publication + subscription (copy_data = false)`);
  await recreate('target', NATIVE_DB);
  cleanups.push({ what: `target database ${NATIVE_DB}`, fn: () => dropDb('target', NATIVE_DB) });
  await sh(`pg_dump '${srcUrl(cfg.db)}' | psql -X -q -v ON_ERROR_STOP=1 '${tgtUrl(NATIVE_DB)}' >/dev/null`);
  await sql('source', cfg.db, `CREATE PUBLICATION ${NATIVE} FOR TABLE pgbench_accounts, pgbench_branches, pgbench_tellers, pgbench_history, bench_clock`);
  cleanups.push({ what: `publication ${NATIVE}`, fn: () => sql('source', cfg.db, `DROP PUBLICATION IF EXISTS ${NATIVE}`) });
  cleanups.push({
    what: `subscription ${NATIVE} (and its slot)`,
    fn: async () => {
      const have = await sql('target', NATIVE_DB, `SELECT 1 FROM pg_subscription WHERE subname = $1`, [NATIVE]).catch(() => []);
      if (have.length) await sql('target', NATIVE_DB, `DROP SUBSCRIPTION ${NATIVE}`);
      await sql('source', 'postgres', `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 AND NOT active`, [NATIVE]);
    },
  });
  await sql(
    'target',
    NATIVE_DB,
    `CREATE SUBSCRIPTION ${NATIVE} CONNECTION 'host=127.0.0.1 port=${cfg.srcPort} dbname=${cfg.db} user=postgres password=${cfg.srcPassword}' PUBLICATION ${NATIVE} WITH (copy_data = false)`,
  );
  await waitFor(() => sql('source', 'postgres', `SELECT active FROM pg_replication_slots WHERE slot_name = $1`, [NATIVE]), (r) => r[0]?.active === true, 60_000, 'the subscription streaming');
  const applied = async () => {
    const x = await sql<{ lsn: string | null }>('source', 'postgres', `SELECT confirmed_flush_lsn::text AS lsn FROM pg_replication_slots WHERE slot_name = $1`, [NATIVE]);
    return x[0]?.lsn ?? null;
  };
  const r = [await measureLag('native', NATIVE_DB, applied)];
  for (const rate of cfg.rates) r.push(await measureLag('native', NATIVE_DB, applied, undefined, rate));
  await sql('target', NATIVE_DB, `DROP SUBSCRIPTION ${NATIVE}`);
  await sql('source', cfg.db, `DROP PUBLICATION ${NATIVE}`);
  await dropDb('target', NATIVE_DB);
  return r;
}

function spec(name: string, db: string, extra: Record<string, unknown>): Record<string, unknown> {
  return {
    name,
    mode: 'online',
    source: { host: '127.0.0.1', port: cfg.srcPort, database: db, user: 'postgres', password: 'env:FERRY_SOURCE_PASSWORD', sslmode: 'disable' },
    target: { host: '127.0.0.1', port: cfg.tgtPort, database: db, user: 'postgres', password: 'env:FERRY_TARGET_PASSWORD', sslmode: 'disable' },
    parallelism: 2,
    // pgbench_history has no primary key (inserts only): its replica-identity warning is accepted.
    precheck: { acknowledge: ['replica-identity:*', 'no-key:*'] },
    ...extra,
  };
}

/** Start, acknowledge any other warnings, wait until the workflow streams changes with low lag. */
async function startOnline(client: FerryClient, s: Record<string, unknown>): Promise<string> {
  const started = await client.startMigration(s as never, { taskQueue: cfg.taskQueue });
  const id = started.id;
  cleanups.push({
    what: `migration ${id}`,
    fn: async () => {
      const d = await client.describe(id);
      if (d.status !== 'RUNNING') return;
      await client.abort(id, 'bench cleanup');
      await client.result(id).catch(() => undefined);
    },
  });
  await waitFor(
    async () => {
      const p: MigrationProgress = await client.handle(id).query(progressQuery);
      if (p.phase === 'awaiting_acknowledgement') await client.acknowledgeWarnings(id, {});
      return p;
    },
    (p) => {
      if (p.phase === 'failed') throw new Error(`migration ${id} failed: ${JSON.stringify(p.lastError ?? p).slice(0, 1000)}`);
      return p.phase === 'cdc' && p.lagSeconds !== undefined && p.lagSeconds < 2;
    },
    600_000,
    `${id} streaming changes`,
    500,
  );
  return id;
}

async function runFerry(client: FerryClient): Promise<LagRun[]> {
  log('ferry: online migration of the pgbench database, held at the cutover gate');
  await recreate('target', cfg.db);
  cleanups.push({ what: `target database ${cfg.db}`, fn: () => dropDb('target', cfg.db) });
  const id = await startOnline(client, spec('cdc-bench', cfg.db, { cutover: { requireApproval: true } }));
  log(`ferry: ${id} in cdc`);
  const applied = async () => {
    const x = await sql<{ lsn: string }>('target', cfg.db, `SELECT applied_lsn::text AS lsn FROM ferry.cdc WHERE migration_id = $1`, [id]);
    return x[0]?.lsn ?? null;
  };
  const r = [await measureLag('ferry', cfg.db, applied, { client, id })];
  for (const rate of cfg.rates) r.push(await measureLag('ferry', cfg.db, applied, { client, id }, rate));
  await client.abort(id, 'bench done');
  const result = await client.result(id);
  if (result.outcome !== 'aborted') log(`ferry: unexpected outcome ${result.outcome}`);
  await dropDb('target', cfg.db);
  return r;
}

interface CutRun {
  run: number;
  downtime: number; // s, workflow result (fence end -> workflow end)
  fence: number;
  cutover: number; // drain + sequences + renames: fence end -> target open
  validate: number;
  cleanup: number;
  lagAtApproval?: number;
  writerTps: number;
  applied: number;
}

const phaseSecs = (p: MigrationProgress, phase: string) => {
  const t = p.timings.find((x) => x.phase === phase);
  return t?.endedAt ? (Date.parse(t.endedAt) - Date.parse(t.startedAt)) / 1000 : NaN;
};

async function runCutovers(client: FerryClient): Promise<CutRun[]> {
  log(`cutover: source ${CUT_DB}, pgbench -i -s 1, ${cfg.runs} runs`);
  await recreate('source', CUT_DB);
  cleanups.push({ what: `source database ${CUT_DB}`, fn: () => dropDb('source', CUT_DB) });
  cleanups.push({ what: `target database ${CUT_DB}`, fn: () => dropDb('target', CUT_DB) });
  await sh(`PGPASSWORD='${cfg.srcPassword}' pgbench -q -i -s 1 -h 127.0.0.1 -p ${cfg.srcPort} -U postgres ${CUT_DB} 2>&1`);
  await sql('source', CUT_DB, 'ALTER TABLE pgbench_history ADD COLUMN id bigserial PRIMARY KEY');
  const out: CutRun[] = [];
  for (let i = 1; i <= cfg.runs; i++) {
    await sql('source', 'postgres', `ALTER DATABASE ${CUT_DB} RESET default_transaction_read_only`);
    await recreate('target', CUT_DB);
    const id = await startOnline(
      client,
      spec('cdc-bench-cut', CUT_DB, { cutover: { requireApproval: true, maxLagSeconds: 1, lagSustainSeconds: 2 }, cdc: { sliceSeconds: 5, heartbeatIntervalSeconds: 1 } }),
    );
    // An application writing until the fence ends its sessions: pgbench at 100 tps, one client.
    const writer = run('pgbench', ['-n', '-N', '-c', '1', '-R', '100', '-T', '600', '-h', '127.0.0.1', '-p', String(cfg.srcPort), '-U', 'postgres', CUT_DB], {
      PGPASSWORD: cfg.srcPassword,
    });
    await sleep(5000);
    const p0: MigrationProgress = await client.handle(id).query(progressQuery);
    await client.approveCutover(id, { by: 'bench' });
    const result: MigrationResult = await client.result(id);
    const w = await writer;
    if (result.outcome !== 'completed') throw new Error(`cutover run ${i}: outcome ${result.outcome}`);
    const p = result.progress;
    const r: CutRun = {
      run: i,
      downtime: result.downtimeSeconds ?? NaN,
      fence: phaseSecs(p, 'fence'),
      cutover: phaseSecs(p, 'cutover'),
      validate: phaseSecs(p, 'validate'),
      cleanup: phaseSecs(p, 'cleanup'),
      lagAtApproval: p0.lagSeconds,
      writerTps: parsePgbench(w.out).tps,
      applied: p.capture?.applied ?? 0,
    };
    log(`cutover run ${i}: downtime ${f2(r.downtime)} s (fence ${f2(r.fence)}, cutover ${f2(r.cutover)}, validate ${f2(r.validate)}, cleanup ${f2(r.cleanup)})`);
    out.push(r);
  }
  await sql('source', 'postgres', `ALTER DATABASE ${CUT_DB} RESET default_transaction_read_only`);
  await dropDb('target', CUT_DB);
  await dropDb('source', CUT_DB);
  return out;
}

// ------------------------------------------------------------------ report

function lagRow(r: LagRun): string {
  return `| ${r.system} | ${r.rate ? `-R ${r.rate}` : 'full speed'} | ${r.pgbench.tps.toFixed(0)} | ${f3(r.load.p50)} | ${f3(r.load.p99)} | ${f3(r.load.max)} | ${f3(r.load.ageP50)} | ${f3(r.load.ageP99)} | ${f3(r.load.ageMax)} | ${f2(r.catchUpTick)} | ${f2(r.catchUpLsn)} | ${f3(r.idle.p50)} / ${f3(r.idle.max)} | ${r.load.samples} |`;
}

function report(lag: LagRun[], cuts: CutRun[], started: Date, loadAfter: string): string {
  const native = lag.find((r) => r.system === 'native' && !r.rate);
  const ferry = lag.find((r) => r.system === 'ferry' && !r.rate);
  const downtimes = cuts.map((c) => c.downtime);
  const open = cuts.map((c) => c.cutover);
  const med = median(downtimes);
  const verdict = (ok: boolean | undefined) => (ok === undefined ? 'not measured' : ok ? '**met**' : '**missed**');
  const L: string[] = [];
  L.push('# CDC benchmark (issue #4)', '');
  L.push(`Run ${started.toISOString()} with \`${cfg.invocation}\` on ${os.cpus().length} × ${os.cpus()[0]?.model ?? '?'}, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB, ${os.type()} ${os.release()}; load average before the run ${cfg.loadavg}, after ${loadAfter}.`);
  L.push(`Source and target: the dev PostgreSQL 15 clusters (127.0.0.1:${cfg.srcPort} and :${cfg.tgtPort}; fsync = off, synchronous_commit = off, wal_writer_delay = 200ms). Dataset: \`pgbench -i -s ${cfg.scale}\` in database \`${cfg.db}\` plus \`bench_clock\` (1 row). Load: \`pgbench ${PGBENCH.join(' ')}\` on the source.`, '');
  L.push('## Lag under load', '');
  L.push(`Measured outside Ferry and the same way for both: a session on the source sets \`bench_clock.ts = clock_timestamp()\` every ${TICK_MS} ms; every ${SAMPLE_MS} ms the target is read. **lag** = target now − newest replicated tick (heartbeat method; up to ${TICK_MS} ms of it is tick granularity); **age** = target now − oldest tick written on the source but not yet on the target (0 when none is missing). Both over the ${cfg.loadSeconds} s load. **catch-up (tick)** = pgbench's exit → the target holds a tick written after it; **catch-up (LSN)** = pgbench's exit → applied position (native: slot confirmed_flush_lsn; Ferry: ferry.cdc.applied_lsn) ≥ the source's insert LSN at pgbench's exit (polled every 20 ms). Native: \`CREATE PUBLICATION ... FOR TABLE\` the 4 pgbench tables + bench_clock, \`CREATE SUBSCRIPTION ... WITH (copy_data = false)\` into a pg_dump copy on the target. Ferry: \`mode: online\`, spec defaults (sliceSeconds 30, heartbeatIntervalSeconds 1), held at the cutover gate (approval), compiled worker with a prebuilt workflow bundle on a private task queue; aborted after.`, '');
  L.push('| system | load | pgbench tps | lag p50 s | lag p99 s | lag max s | age p50 s | age p99 s | age max s | catch-up (tick) s | catch-up (LSN) s | idle lag p50 / max s | samples |');
  L.push('| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const r of lag) L.push(lagRow(r));
  L.push('');
  for (const r of lag) L.push(`- ${r.system}${r.rate ? ` (-R ${r.rate})` : ''}: ${r.pgbench.transactions} transactions, ${r.pgbench.failed} failed, ${(r.walBytes / 2 ** 20).toFixed(0)} MB of WAL during the load${r.note ? `; ${r.note}` : ''}.`);
  for (const f of lag.filter((x) => x.system === 'ferry' && x.load.ferryP50 !== undefined)) {
    const ferry = f;
    L.push(`- Ferry${f.rate ? ` (-R ${f.rate})` : ''}'s own heartbeat lag (target now − ferry.cdc.heartbeat_ts, the basis of the gate's lagSeconds) during the load: p50 ${f3(ferry.load.ferryP50)} s, p99 ${f3(ferry.load.ferryP99)} s, max ${f3(ferry.load.ferryMax)} s. The \`progress\` query's lagSeconds (refreshed at slice ends, what the gate compares with maxLagSeconds) showed: ${(ferry.ferryReported ?? []).length ? [...new Set((ferry.ferryReported ?? []).map((x) => x.toFixed(2)))].join(', ') : 'nothing'}.`);
  }
  L.push('');
  L.push('## Cutover downtime', '');
  L.push(`${cfg.runs} online migrations of \`pgbench -i -s 1\` (database \`${CUT_DB}\`) through the real workflow: \`pgbench -n -N -c 1 -R 100\` writes until the fence ends its session; approved 5 s after the workflow reached \`cdc\` with lag < 2 s; spec cutover { maxLagSeconds 1, lagSustainSeconds 2 }, cdc { sliceSeconds 5 } (the slice length only sets how soon after approval the fence comes, not the downtime), validation checksums (default). **downtime** is the workflow result's downtimeSeconds: from the fence request to the target being open: fence + drain, sequences and renames (the \`cutover\` phase) + the validation that vouches for the target; cleanup after that is not counted.`, '');
  L.push('| run | downtime s (result) | fence s | cutover s (drain, sequences, renames) | validate s | cleanup s | lag at approval s | writer tps |');
  L.push('| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const c of cuts) L.push(`| ${c.run} | ${f2(c.downtime)} | ${f2(c.fence)} | ${f2(c.cutover)} | ${f2(c.validate)} | ${f2(c.cleanup)} | ${f2(c.lagAtApproval)} | ${c.writerTps.toFixed(0)} |`);
  L.push(`| **median** | **${f2(med)}** | ${f2(median(cuts.map((c) => c.fence)))} | ${f2(median(open))} | ${f2(median(cuts.map((c) => c.validate)))} | ${f2(median(cuts.map((c) => c.cleanup)))} | | |`);
  L.push('');
  L.push('## Targets', '');
  const p99ok = ferry ? ferry.load.p99 <= 0.5 : undefined;
  L.push(`- Ferry p99 lag <= 0.5 s at the load native logical replication sustains: ${verdict(p99ok)} (Ferry ${f3(ferry?.load.p99)} s at ${ferry?.pgbench.tps.toFixed(0) ?? '-'} tps; native ${f3(native?.load.p99)} s at ${native?.pgbench.tps.toFixed(0) ?? '-'} tps).`);
  const cu = ferry ? Math.max(ferry.catchUpTick, ferry.catchUpLsn) : undefined;
  L.push(`- Ferry catch-up <= 1 s: ${verdict(cu === undefined ? undefined : cu <= 1)} (tick ${f2(ferry?.catchUpTick)} s, LSN ${f2(ferry?.catchUpLsn)} s; native ${f2(native?.catchUpTick)} / ${f2(native?.catchUpLsn)} s).`);
  L.push(`- Cutover downtime median <= 2 s: ${verdict(cuts.length ? med <= 2 : undefined)} (median ${f2(med)} s as the result reports it; drain, sequences and renames alone (cutover phase) median ${f2(median(open))} s).`);
  L.push('');
  L.push('<!-- NOTES -->');
  L.push('');
  L.push('## pgbench output', '');
  for (const r of lag) L.push(`### ${r.system}${r.rate ? ` -R ${r.rate}` : ''}`, '', '```', r.pgbench.output, '```', '');
  return L.join('\n');
}

async function main(): Promise<void> {
  const started = new Date();
  const client = await FerryClient.connect({ taskQueue: cfg.taskQueue });
  try {
    const lag: LagRun[] = [];
    let cuts: CutRun[] = [];
    if (cfg.systems.some((s) => s === 'native' || s === 'ferry')) await prepareSource();
    for (const s of cfg.systems) {
      if (s === 'native') lag.push(...(await runNative()));
      if (s === 'ferry') lag.push(...(await runFerry(client)));
    }
    for (const r of lag) log(`${r.system}: tps ${r.pgbench.tps} lag p50 ${f3(r.load.p50)} p99 ${f3(r.load.p99)} max ${f3(r.load.max)} age p99 ${f3(r.load.ageP99)} catch-up ${f2(r.catchUpTick)} / ${f2(r.catchUpLsn)} s`);
    if (cfg.runs > 0) cuts = await runCutovers(client);
    const loadAfter = os.loadavg().map((x) => x.toFixed(2)).join(' ');
    writeFileSync(cfg.json, JSON.stringify({ started, cfg: { ...cfg, srcPassword: undefined, tgtPassword: undefined }, lag, cuts }, null, 2));
    writeFileSync(cfg.report, report(lag, cuts, started, loadAfter));
    log(`wrote ${cfg.report} and ${cfg.json}`);
  } finally {
    await cleanup();
    await client.close();
  }
}

main().catch(async (err: unknown) => {
  log(`failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  await cleanup();
  process.exit(1);
});
