// Shared by the full-load process tests: real Ferry workers as child processes
// (`npm run worker`'s command, as an operator runs them) that a test can kill -9, a Temporal client,
// a dataset big enough to be split into many chunks, and the target's chunk markers.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { ferryDataConverter } from '../../client/payloadCodec';
import { parseSpec } from '../../workflows/spec';
import type { MigrationInput } from '../../workflows/types';
import type { migrationWorkflow } from '../../workflows/migration';
import { afterAll, beforeAll } from 'vitest';
import { createDatabasePair, devSpec, exportPasswords, repoRoot, sql, temporalAddress } from '../support/env';
import { workflowBundle } from '../support/temporal';

/** The workflow bundle written once to a file: worker processes load it (FERRY_WORKFLOW_BUNDLE) instead of bundling at start. */
export async function bundleFile(): Promise<{ path: string; remove: () => void }> {
  const dir = mkdtempSync(path.join(tmpdir(), 'ferry-bundle-'));
  const file = path.join(dir, 'workflow-bundle.js');
  writeFileSync(file, (await workflowBundle()).code);
  return { path: file, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface WorkerProcess {
  workerId: string;
  child: ChildProcess;
  /** Resolves once the worker polls its task queue. */
  ready: Promise<void>;
  exited: Promise<void>;
  /** kill -9 the worker (its whole process group: tsx and the node process it runs). */
  kill9(): Promise<void>;
  /** SIGTERM (graceful shutdown), SIGKILL after 10 s. */
  stop(): Promise<void>;
  output(): string;
}

/** `npm run worker`'s command (package.json), split into its program (from node_modules/.bin) and arguments. */
function workerCommand(): [string, string[]] {
  const pkg = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { scripts: { worker: string } };
  const script = pkg.scripts.worker;
  const [program, ...args] = script.split(/\s+/);
  return [path.join(repoRoot, 'node_modules/.bin', program!), args];
}

export function startWorkerProcess(options: { taskQueue: string; workerId: string; bundle: string; maxConcurrentActivities?: number }): WorkerProcess {
  exportPasswords();
  const [program, args] = workerCommand();
  const child = spawn(program, args, {
    cwd: repoRoot,
    detached: true, // its own process group, so kill -9 reaches the node process tsx starts
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      TEMPORAL_ADDRESS: temporalAddress,
      FERRY_TASK_QUEUE: options.taskQueue,
      FERRY_WORKER_ID: options.workerId,
      FERRY_WORKFLOW_BUNDLE: options.bundle,
      ...(options.maxConcurrentActivities ? { FERRY_MAX_CONCURRENT_ACTIVITIES: String(options.maxConcurrentActivities) } : {}),
      FERRY_SOURCE_PASSWORD: process.env.FERRY_SOURCE_PASSWORD,
      FERRY_TARGET_PASSWORD: process.env.FERRY_TARGET_PASSWORD,
    },
  });
  let out = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const ready = new Promise<void>((resolve, reject) => {
    const onData = (b: Buffer) => {
      out += b.toString();
      if (out.length > 200_000) out = out.slice(-100_000);
      if (/polling/.test(out)) resolve();
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    void exited.then(() => reject(new Error(`worker ${options.workerId} exited before polling:\n${out.slice(-4000)}`)));
  });
  ready.catch(() => undefined);
  const signalGroup = (signal: NodeJS.Signals) => {
    try {
      if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) process.kill(-child.pid, signal);
    } catch {
      // already gone
    }
  };
  return {
    workerId: options.workerId,
    child,
    ready,
    exited,
    async kill9() {
      signalGroup('SIGKILL');
      await exited;
    },
    async stop() {
      signalGroup('SIGTERM');
      const timer = setTimeout(() => signalGroup('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
      signalGroup('SIGKILL'); // anything of the group left behind
    },
    output: () => out,
  };
}

export async function temporalClient(): Promise<{ client: Client; close: () => Promise<void> }> {
  const connection = await Connection.connect({ address: temporalAddress });
  return { client: new Client({ connection, namespace: 'default', dataConverter: ferryDataConverter }), close: () => connection.close() };
}

/** Start a migration of `db` on `taskQueue`, markers kept on the target afterwards. */
export async function startMigration(client: Client, taskQueue: string, db: string, overrides: Record<string, unknown>, tuning: MigrationInput['tuning']) {
  const spec = parseSpec(devSpec(db, { parallelism: 2, cleanup: { keepState: true }, ...overrides }));
  return client.workflow.start<typeof migrationWorkflow>('migrationWorkflow', {
    taskQueue,
    workflowId: `ferry-${spec.name}`,
    args: [{ spec, tuning: { initialRetryIntervalMs: 200, heartbeatTimeoutSeconds: 5, ...tuning } }],
  });
}

/**
 * Tables of about `mb` MB in all: `keyed` (bigint primary key, 2/3 of it) and `keyless` (no key:
 * ctid ranges, 1/3), plus `smallTables` small tables with a serial key.
 */
export async function loadSplitDataset(db: string, mb: number, smallTables: number): Promise<void> {
  // A keyed row is about 190 bytes on disk, a keyless one about 170.
  const keyedRows = Math.round(((mb * 2) / 3) * 1024 * 1024 / 190);
  const keylessRows = Math.round((mb / 3) * 1024 * 1024 / 170);
  let text = `
    CREATE TABLE public.keyed (id bigint PRIMARY KEY, pad text NOT NULL, n int, at timestamptz);
    INSERT INTO public.keyed SELECT g, repeat(md5(g::text), 4), g % 1000, timestamptz '2024-01-01' + g * interval '1 second' FROM generate_series(1, ${keyedRows}) g;
    CREATE TABLE public.keyless (a int, pad text);
    INSERT INTO public.keyless SELECT g % 5000, repeat(md5((g * 7)::text), 4) FROM generate_series(1, ${keylessRows}) g;
    CREATE INDEX keyless_a ON public.keyless (a);`;
  for (let i = 1; i <= smallTables; i++) {
    text += `
    CREATE TABLE public.small_${i} (id serial PRIMARY KEY, v text, keyed_id bigint REFERENCES public.keyed (id));
    INSERT INTO public.small_${i} (v, keyed_id) SELECT 'row ' || g, g FROM generate_series(1, ${50 * i}) g;`;
  }
  await sql('source', db, text);
  await sql('source', db, 'VACUUM ANALYZE');
}

export interface Marker {
  chunk_id: string;
  worker: string;
  committed_at: string;
  rows: number;
}

export async function markers(db: string, migrationId: string): Promise<Marker[]> {
  try {
    return await sql<Marker>(
      'target',
      db,
      `SELECT chunk_id, worker, committed_at::text AS committed_at, rows::int AS rows FROM ferry.chunk WHERE migration_id = $1 ORDER BY chunk_id`,
      [migrationId],
    );
  } catch (err) {
    if (/does not exist/.test(String(err))) return [];
    throw err;
  }
}

/** Per table: its indexes and constraints (kind letters), to compare a target's schema with its source's. */
export async function indexesAndConstraints(side: 'source' | 'target', db: string): Promise<Record<string, string>> {
  const rows = await sql<{ name: string; what: string }>(
    side,
    db,
    `SELECT n.nspname || '.' || c.relname AS name,
            (SELECT count(*) FROM pg_index i WHERE i.indrelid = c.oid) || ' indexes, constraints ' ||
            coalesce((SELECT string_agg(o.contype::text, '' ORDER BY o.contype) FROM pg_constraint o WHERE o.conrelid = c.oid), '') AS what
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'ferry') AND n.nspname NOT LIKE 'pg_toast%'`,
  );
  return Object.fromEntries(rows.map((r) => [r.name, r.what]));
}

/**
 * What the full-load process tests share, set up before the describe block's tests and torn down
 * after them: a database pair holding loadSplitDataset(mb, smallTables), the workflow bundle, a
 * Temporal client, and the worker processes a test starts (stopped at the end).
 */
export function fullLoadFixture(prefix: string, mb: number, smallTables: number) {
  const f = {
    db: undefined as unknown as { name: string; drop: () => Promise<void> },
    bundle: undefined as unknown as { path: string; remove: () => void },
    temporal: undefined as unknown as Awaited<ReturnType<typeof temporalClient>>,
    workers: [] as WorkerProcess[],
  };
  beforeAll(async () => {
    f.db = await createDatabasePair(prefix);
    await loadSplitDataset(f.db.name, mb, smallTables);
    f.bundle = await bundleFile();
    f.temporal = await temporalClient();
  }, 120_000);
  afterAll(async () => {
    for (const w of f.workers) await w.stop();
    await f.temporal?.close();
    f.bundle?.remove();
    await f.db?.drop();
  });
  return f;
}
