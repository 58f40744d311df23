// Online migration (issue 4's acceptance): full load while a writer runs every kind of change,
// change capture until the gate opens, cutover with a drain, target identical to source; kill -9
// of the worker during CDC; abort during CDC leaves nothing on the source.
import { describe, expect, it } from 'vitest';
import type { Client } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import pg from 'pg';
import { connect, createDatabasePair, devSpec, sql } from '../support/env';
import { tableChecksums, type TableSum } from '../support/checksums';
import { useTestFerry, waitFor } from '../support/temporal';
import { bundleFile, startWorkerProcess, type WorkerProcess } from '../integration/fullload-support';
import { parseSpec } from '../../workflows/spec';
import type { ChunkResult, MigrationInput, MigrationProgress, MigrationResult } from '../../workflows/types';
import { abortSignal, approveCutoverUpdate, progressQuery } from '../../workflows/messages';
import type { migrationWorkflow } from '../../workflows/migration';

const testFerry = useTestFerry();
const drops = testFerry.drops;

const SCHEMA = `
  CREATE TABLE accounts (id bigserial PRIMARY KEY, owner text NOT NULL, balance numeric(14,2) NOT NULL, note text);
  CREATE TABLE docs (id int PRIMARY KEY, title text NOT NULL, body text NOT NULL);
  CREATE TABLE kv (k text PRIMARY KEY, v int NOT NULL);
  CREATE TABLE events_full (a int NOT NULL, b text);
  ALTER TABLE events_full REPLICA IDENTITY FULL;
  INSERT INTO accounts (owner, balance, note) SELECT 'o' || g, g % 1000, repeat('n', g % 50) FROM generate_series(1, 20000) g;
  INSERT INTO docs SELECT g, 'doc ' || g, repeat(md5(g::text), 40000) FROM generate_series(1, 20) g; -- 1.3 MB each: TOASTed
  INSERT INTO kv SELECT 'k' || g, g FROM generate_series(1, 1000) g;
  INSERT INTO events_full SELECT g, 'e' || g FROM generate_series(1, 500) g;
  -- Never refreshed on the source while the writer runs: the target's is refreshed at cutover.
  CREATE MATERIALIZED VIEW account_totals AS SELECT count(*)::int AS n, sum(balance)::text AS total FROM accounts;
`;

async function onlineDatabases(): Promise<string> {
  const pair = await createDatabasePair('cdc');
  drops.push(pair.drop);
  await sql('source', pair.name, SCHEMA);
  return pair.name;
}

/** A writer on the source: every kind of change, one transaction each, until stopped. */
function startWriter(db: string): { stop: () => Promise<number> } {
  let running = true;
  let ops = 0;
  const done = (async () => {
    const c: pg.Client = await connect('source', db);
    const r = (n: number) => 1 + Math.floor(Math.random() * n);
    try {
      let big = false;
      while (running) {
        const step = ops % 8;
        if (step === 0) await c.query(`INSERT INTO accounts (owner, balance) VALUES ($1, $2)`, [`w${ops}`, r(500)]);
        if (step === 1) await c.query(`UPDATE accounts SET balance = balance + 1, note = 'u' WHERE id = $1`, [r(20000)]);
        if (step === 2) await c.query(`DELETE FROM accounts WHERE id = $1`, [r(20000)]);
        if (step === 3) await c.query(`UPDATE kv SET k = k || 'x' WHERE k = (SELECT k FROM kv ORDER BY k LIMIT 1 OFFSET $1)`, [r(900)]); // key update
        if (step === 4) await c.query(`UPDATE docs SET title = title || '!' WHERE id = $1`, [r(20)]); // TOAST column unchanged
        if (step === 5) await c.query(`UPDATE docs SET body = repeat(md5($1::text), 40000) WHERE id = $2`, [ops, r(20)]); // TOAST update
        if (step === 6) {
          await c.query('BEGIN');
          await c.query(`INSERT INTO accounts (owner, balance) VALUES ('rolled back', 0)`);
          await c.query('ROLLBACK');
        }
        if (step === 7) {
          await c.query(`DELETE FROM events_full WHERE a = $1`, [r(500)]);
          await c.query(`INSERT INTO events_full VALUES ($1, 'w')`, [1000 + ops]);
        }
        if (!big && ops === 40) {
          big = true; // one 100k-row transaction
          await c.query(`INSERT INTO accounts (owner, balance) SELECT 'bulk' || g, g % 10 FROM generate_series(1, 100000) g`);
        }
        ops += 1;
      }
    } finally {
      await c.end();
    }
  })();
  // A test that fails early drops the database under the writer: keep that from going unhandled.
  let failure: Error | undefined;
  done.catch((err: unknown) => {
    failure = err instanceof Error ? err : new Error(JSON.stringify(err));
  });
  return {
    stop: async () => {
      running = false;
      await done.catch(() => undefined);
      if (failure) throw failure;
      return ops;
    },
  };
}

function onlineSpec(db: string): MigrationInput {
  return {
    spec: parseSpec(
      devSpec(db, {
        mode: 'online',
        cutover: { requireApproval: true, maxLagSeconds: 5, lagSustainSeconds: 1 },
        cdc: { sliceSeconds: 2, heartbeatIntervalSeconds: 0.5 },
        fullLoad: { chunkTargetMB: 4, wholeTableMaxMB: 0 },
      }),
    ),
    tuning: { maximumAttempts: 10, initialRetryIntervalMs: 200, heartbeatTimeoutSeconds: 5 },
  };
}

async function startOnline(client: Client, taskQueue: string, db: string, tuning: MigrationInput['tuning'] = {}) {
  const base = onlineSpec(db);
  const input = { ...base, tuning: { ...base.tuning, ...tuning } };
  return client.workflow.start<typeof migrationWorkflow>('migrationWorkflow', {
    taskQueue,
    workflowId: `ferry-${input.spec.name}`,
    args: [input],
  });
}

type Handle = Awaited<ReturnType<typeof startOnline>>;
const progressOf = (h: Handle): Promise<MigrationProgress> => h.query(progressQuery);

function withoutHeartbeat(sums: Record<string, TableSum>): Record<string, TableSum> {
  return Object.fromEntries(Object.entries(sums).filter(([k]) => !/ferry_heartbeat/.test(k)));
}

async function captureLeftovers(db: string): Promise<string[]> {
  const rows = await sql<{ what: string }>(
    'source',
    db,
    `SELECT 'slot ' || slot_name AS what FROM pg_replication_slots WHERE database = current_database()
     UNION ALL SELECT 'publication ' || pubname FROM pg_publication
     UNION ALL SELECT 'table ' || relname FROM pg_class WHERE relname LIKE 'ferry%' AND relkind = 'r'`,
  );
  return rows.map((r) => r.what);
}

async function finishAndCompare(handle: Handle, db: string, writer: { stop: () => Promise<number> }): Promise<MigrationResult> {
  const ops = await writer.stop();
  expect(ops).toBeGreaterThan(40);
  await handle.executeUpdate(approveCutoverUpdate, { args: [{ by: 'dba' }] });
  const result = (await handle.result()) as MigrationResult;
  expect(result.outcome).toBe('completed');
  expect(result.validation?.status).toBe('match');
  const source = withoutHeartbeat(await tableChecksums('source', db));
  const target = withoutHeartbeat(await tableChecksums('target', db));
  expect(Object.keys(source).sort()).toEqual(['public.accounts', 'public.docs', 'public.events_full', 'public.kv']);
  expect(target).toEqual(source);
  const [s] = await sql('source', db, `SELECT last_value::text AS v FROM accounts_id_seq`);
  const [t] = await sql('target', db, `SELECT last_value::text AS v FROM accounts_id_seq`);
  expect(t?.v).toBe(s?.v);
  expect(await captureLeftovers(db)).toEqual([]);
  return result;
}

describe('online PostgreSQL -> PostgreSQL migration', () => {
  it('captures every kind of change during and after the load; after cutover the target equals the source', async () => {
    const db = await onlineDatabases();
    const handle = await startOnline(testFerry.ferry.env.client, testFerry.ferry.taskQueue, db);
    const writer = startWriter(db);
    const cdc = await waitFor(() => progressOf(handle), (p) => p.phase === 'cdc' && (p.capture?.applied ?? 0) > 0, 120_000, 'changes applied');
    expect(cdc.cutover.waitingFor).toContain('approval');
    const result = await finishAndCompare(handle, db, writer);
    // The materialized view holds the tables as they were at cutover, not at the load's snapshot
    // (nor the source's own, never refreshed since the writer started).
    const live = await sql('source', db, 'SELECT count(*)::int AS n, sum(balance)::text AS total FROM accounts');
    const [onTarget] = await sql('target', db, 'SELECT n, total FROM account_totals');
    expect(onTarget).toEqual(live[0]);
    expect(await sql('source', db, 'SELECT n, total FROM account_totals')).not.toEqual(live);
    const phases = result.progress.timings.map((t) => t.phase);
    expect(phases).toEqual(expect.arrayContaining(['full_load', 'cdc', 'fence', 'cutover', 'validate', 'cleanup', 'completed']));
    expect(result.downtimeSeconds).toBeGreaterThan(0);
  });

  it('a slot snapshot lost during the load: the load restarts from scratch under a new slot, and the target still equals the source', async () => {
    const db = await onlineDatabases();
    const writer = startWriter(db);
    // One chunk per activity, two at a time: the third starts once a chunk has committed under the
    // slot's snapshot. It ends the replication session holding that snapshot (as a network cut or
    // a source restart would) before importing it, so the load must empty what it copied and start over.
    let calls = 0;
    let killed = 0;
    let committedBefore: string[] = [];
    testFerry.ferry.faults.copyChunks = async (ctx) => {
      calls += 1;
      if (calls !== 3) return;
      killed += 1;
      const marked = await sql<{ id: string }>('target', db, `SELECT chunk_id AS id FROM ferry.chunk WHERE migration_id = $1`, [ctx.migrationId]);
      committedBefore = marked.map((m) => m.id);
      const walsenders = `SELECT pid FROM pg_stat_activity WHERE backend_type = 'walsender' AND datname = current_database()`;
      await sql('source', db, `SELECT pg_terminate_backend(pid) FROM (${walsenders}) w`);
      await waitFor(() => sql('source', db, walsenders), (rows) => rows.length === 0, 10_000, 'the holder session ended');
    };
    try {
      const handle = await startOnline(testFerry.ferry.env.client, testFerry.ferry.taskQueue, db, { batchMaxChunks: 1 });
      await waitFor(() => progressOf(handle), (p) => p.phase === 'cdc' && (p.capture?.applied ?? 0) > 0, 120_000, 'changes applied');
      const result = await finishAndCompare(handle, db, writer);
      expect(killed).toBe(1);
      expect(result.progress.snapshotRestarts).toBe(1);
      const events = (await handle.fetchHistory()).events ?? [];
      const restarts = events.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'restartLoad');
      expect(restarts).toHaveLength(1);
      // What was committed under the lost snapshot was copied again after the restart, not skipped by its marker.
      expect(committedBefore.length).toBeGreaterThan(0);
      const restartedAt = Number(restarts[0]!.eventId);
      const copiedAfter = events
        .filter((e) => Number(e.eventId) > restartedAt && e.activityTaskCompletedEventAttributes)
        .flatMap((e) => {
          const payload = e.activityTaskCompletedEventAttributes!.result?.payloads?.[0];
          const value: unknown = payload ? defaultPayloadConverter.fromPayload(payload) : undefined;
          return Array.isArray(value) ? (value as ChunkResult[]) : [];
        });
      for (const id of committedBefore) expect(copiedAfter.find((r) => r.chunkId === id)).toMatchObject({ skipped: false });
    } finally {
      delete testFerry.ferry.faults.copyChunks;
    }
  });

  it('survives kill -9 of the worker during CDC three times', async () => {
    const db = await onlineDatabases();
    const bundle = await bundleFile();
    const taskQueue = `ferry-cdc-kill-${Date.now()}`;
    let worker: WorkerProcess = startWorkerProcess({ taskQueue, workerId: 'cdc-0', bundle: bundle.path });
    try {
      await worker.ready;
      const handle = await startOnline(testFerry.ferry.env.client, taskQueue, db);
      const writer = startWriter(db);
      let applied = 0;
      for (let kill = 1; kill <= 3; kill++) {
        const p = await waitFor(() => progressOf(handle), (x) => x.phase === 'cdc' && (x.capture?.applied ?? 0) > applied, 120_000, `changes before kill ${kill}`);
        applied = p.capture?.applied ?? 0;
        await worker.kill9();
        worker = startWorkerProcess({ taskQueue, workerId: `cdc-${kill}`, bundle: bundle.path });
        await worker.ready;
      }
      await waitFor(() => progressOf(handle), (x) => (x.capture?.applied ?? 0) > applied, 120_000, 'changes after the last kill');
      await finishAndCompare(handle, db, writer);
    } finally {
      await worker.stop();
      bundle.remove();
    }
  });

  it('abort during CDC leaves no slot, publication or heartbeat table on the source', async () => {
    const db = await onlineDatabases();
    const handle = await startOnline(testFerry.ferry.env.client, testFerry.ferry.taskQueue, db);
    await waitFor(() => progressOf(handle), (p) => p.phase === 'cdc', 120_000, 'cdc');
    expect((await captureLeftovers(db)).length).toBeGreaterThan(0);
    await handle.signal(abortSignal, { reason: 'test' });
    const result = (await handle.result()) as MigrationResult;
    expect(result.outcome).toBe('aborted');
    expect(await captureLeftovers(db)).toEqual([]);
  });
});
