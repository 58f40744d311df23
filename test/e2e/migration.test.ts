// The foundation's acceptance list, on the real Temporal dev server and the two real clusters.
import { describe, expect, it } from 'vitest';
import { ApplicationFailure } from '@temporalio/common';
import { Context } from '@temporalio/activity';
import { WorkflowFailedError, WorkflowUpdateFailedError } from '@temporalio/client';
import { createDatabasePair, devSpec, repoRoot, sql, temporalAddress } from '../support/env';
import { captureIo } from '../support/cli';
import { formatCount, main, renderStatus } from '../../client/cli';
import { FerryClient, liveProgress, type MigrationStatus } from '../../client/index';
import { loadDemoData } from '../support/dataset';
import { tableChecksums, tablesAnalyzed } from '../support/checksums';
import { historyText } from '../support/history';
import { ferryDataConverter } from '../../client/payloadCodec';
import { useTestFerry, waitFor, workflowBundle } from '../support/temporal';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { Worker } from '@temporalio/worker';
import { temporal } from '@temporalio/proto';
import { parseSpec } from '../../workflows/spec';
import type { MigrationInput, MigrationProgress, MigrationResult } from '../../workflows/types';
import { abortSignal, approveCutoverUpdate, progressQuery, retryUpdate } from '../../workflows/messages';
import type { migrationWorkflow } from '../../workflows/migration';

const testFerry = useTestFerry();
const drops = testFerry.drops;

async function freshDatabases(scale: number): Promise<string> {
  const pair = await createDatabasePair('e2e');
  drops.push(pair.drop);
  loadDemoData('source', pair.name, scale);
  return pair.name;
}

async function start(db: string, overrides: Record<string, unknown> = {}, tuning: MigrationInput['tuning'] = {}) {
  const spec = parseSpec(devSpec(db, overrides));
  return testFerry.ferry.env.client.workflow.start<typeof migrationWorkflow>('migrationWorkflow', {
    taskQueue: testFerry.ferry.taskQueue,
    workflowId: `ferry-${spec.name}`,
    args: [{ spec, tuning: { maximumAttempts: 2, initialRetryIntervalMs: 200, heartbeatTimeoutSeconds: 10, ...tuning } }],
  });
}

type Handle = Awaited<ReturnType<typeof start>>;
const progressOf = (h: Handle) => h.query(progressQuery);
const untilPhase = (h: Handle, phase: MigrationProgress['phase']) =>
  waitFor(() => progressOf(h), (p) => p.phase === phase, 90_000, `phase ${phase}`);

/** Ferry objects left on a side: the state schema and the demo's tables. */
async function ferryObjects(side: 'source' | 'target', db: string): Promise<string[]> {
  const rows = await sql<{ name: string }>(
    side,
    db,
    `SELECT n.nspname || '.' || c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r','p') AND n.nspname NOT IN ('pg_catalog','information_schema') AND n.nspname NOT LIKE 'pg_toast%'
     UNION ALL SELECT nspname FROM pg_namespace WHERE nspname IN ('ferry', 'archive', 'legacy')`,
  );
  return rows.map((r) => r.name).sort();
}

async function sourceIsWritable(db: string): Promise<boolean> {
  try {
    await sql('source', db, `INSERT INTO notes_without_key VALUES ('writable?', now())`);
    return true;
  } catch (err) {
    if (/read-only/.test(String(err))) return false;
    throw err;
  }
}

/** The activity types a history scheduled, in order. */
function activitiesIn(history: { events?: { activityTaskScheduledEventAttributes?: { activityType?: { name?: string | null } | null } | null }[] | null }): string[] {
  return (history.events ?? []).flatMap((e) => {
    const name = e.activityTaskScheduledEventAttributes?.activityType?.name;
    return name ? [name] : [];
  });
}

describe('offline PostgreSQL -> PostgreSQL migration', () => {
  it('runs every phase, waits for approval, and the target equals the source', async () => {
    const db = await freshDatabases(0.25);
    const before = await tableChecksums('source', db);
    const handle = await start(db, {
      cutover: { requireApproval: true },
      rename: { schemas: { legacy: 'archive' }, columns: { 'public.products.sku': 'stock_code' } },
    });

    const waiting = await untilPhase(handle, 'awaiting_cutover');
    expect(waiting.cutover.waitingFor).toEqual(['approval']);
    expect(waiting.precheck?.status).not.toBe('fail');
    // Nothing is fenced or copied before the approval: the source still takes writes.
    expect(await sourceIsWritable(db)).toBe(true);
    const after = await tableChecksums('source', db);

    // `ferry status --watch` notices the end at once, not at its next poll: once it has seen the
    // migration running, with an hour between polls it can only end within this test's timeout by
    // following the workflow's result.
    process.env.TEMPORAL_ADDRESS ??= temporalAddress;
    const watching = captureIo();
    const watchExit = main(['status', handle.workflowId, '--watch', '--interval', '3600', '--json'], watching.io);
    await waitFor(() => Promise.resolve(watching.out()), (text) => text.includes('"running":true'), 30_000, 'ferry status --watch polled once');
    await handle.executeUpdate(approveCutoverUpdate, { args: [{ by: 'dba@example.com' }] });
    const result: MigrationResult = await handle.result();
    expect(await watchExit).toBe(0);
    expect(watching.err()).toBe('');
    const lines = watching.out().trim().split('\n');
    expect(JSON.parse(lines[0]!)).toMatchObject({ running: true });
    expect(JSON.parse(lines[lines.length - 1]!)).toMatchObject({ running: false, status: 'COMPLETED', result: { outcome: 'completed' } });

    expect(result.outcome).toBe('completed');
    expect(result.validation?.status).toBe('match');
    expect(result.progress.timings.map((t) => t.phase)).toEqual([
      'precheck', 'provision', 'awaiting_cutover', 'fence', 'full_load', 'post_load', 'cutover', 'validate', 'cleanup', 'completed',
    ]);
    expect(result.progress.cutover.approvedBy).toBe('dba@example.com');
    expect(result.downtimeSeconds).toBeGreaterThan(0);

    // Independent check: every table's rows and checksum on the target equal the source's (at approval).
    expect(Object.keys(before).length).toBeGreaterThanOrEqual(7);
    const target = await tableChecksums('target', db);
    const expected = Object.fromEntries(Object.entries(after).map(([k, v]) => [k.replace(/^legacy\./, 'archive.'), v]));
    expect(target).toEqual(expected);
    // Renamed column, post-data (indexes, FKs) and sequences arrived.
    const [col] = await sql('target', db, `SELECT count(*)::int AS n FROM information_schema.columns WHERE table_name = 'products' AND column_name = 'stock_code'`);
    expect(col?.n).toBe(1);
    const [fk] = await sql('target', db, `SELECT count(*)::int AS n FROM pg_constraint WHERE contype = 'f'`);
    expect(fk?.n).toBe(3);
    const [seq] = await sql('target', db, `SELECT last_value::text AS v FROM orders_id_seq`);
    const [srcSeq] = await sql('source', db, `SELECT last_value::text AS v FROM orders_id_seq`);
    expect(seq?.v).toBe(srcSeq?.v);
    // Every table has planner statistics before the cutover.
    const unanalyzed = Object.entries(await tablesAnalyzed('target', db)).filter(([, analyzed]) => !analyzed);
    expect(unanalyzed).toEqual([]);
    // Offline: the source stays fenced (read-only) after the cutover; Ferry's state is gone from the target.
    expect(await sourceIsWritable(db)).toBe(false);
    expect(await ferryObjects('target', db)).not.toContain('ferry');

    // The UI can list it by phase.
    const listed = await waitFor(
      async () => {
        const ids: string[] = [];
        for await (const wf of testFerry.ferry.env.client.workflow.list({ query: `FerryPhase = 'completed' AND WorkflowId = '${handle.workflowId}'` })) ids.push(wf.workflowId);
        return ids;
      },
      (ids) => ids.length === 1,
      20_000,
      'visibility',
    );
    expect(listed).toEqual([handle.workflowId]);

    // The history replays against today's workflow code (and is kept as the replay fixture when asked).
    const recorded = await handle.fetchHistory();
    expect(activitiesIn(recorded)).toContain('applyRenames'); // renames to apply: the cutover runs them
    await Worker.runReplayHistory({ workflowBundle: await workflowBundle(), dataConverter: ferryDataConverter }, recorded, handle.workflowId);
    if (process.env.FERRY_RECORD_HISTORY) {
      // Binary protobuf: the server's newer API fields survive where the JSON mapping trips.
      writeFileSync(path.join(repoRoot, 'test/fixtures/offline-migration.history.pb'), temporal.api.history.v1.History.encode(recorded).finish());
    }

    // No password in the history, anywhere.
    const history = historyText(recorded);
    expect(history).toContain('env:FERRY_SOURCE_PASSWORD');
    expect(history).not.toContain(process.env.FERRY_SOURCE_PASSWORD);
    expect(history).not.toContain(process.env.FERRY_TARGET_PASSWORD);
  });

  it('status shows the copy of a whole table while it is in flight, from the copy activity\'s heartbeat', async () => {
    const pair = await createDatabasePair('e2e');
    drops.push(pair.drop);
    // One whole chunk of ~450 MB on the wire (the values compress, so the table is small and quick
    // to make): its copy takes seconds, and heartbeats (each second at most) report it midway.
    await sql('source', pair.name, `CREATE TABLE public.big (id bigint PRIMARY KEY, pad text NOT NULL);
      INSERT INTO public.big SELECT g, repeat(chr(97 + g % 26), 1100) FROM generate_series(1, 400000) g`);
    // One stream: the table is all of the load, and on two streams it would be split as the long pole.
    const handle = await start(pair.name, { parallelism: 1 });
    const ferry = new FerryClient(testFerry.ferry.env.client);
    const midway = (s: MigrationStatus) => (s.inFlight ?? []).some((c) => c.table === 'public.big' && c.bytes > 0);
    const seen = await waitFor(() => ferry.status(handle.workflowId), (s) => midway(s) || !s.running, 90_000, 'public.big in flight');
    expect(midway(seen)).toBe(true);
    const chunk = seen.inFlight!.find((c) => c.table === 'public.big')!;
    expect(chunk.chunkId).toBe('"public"."big"'); // whole, one chunk
    const recorded = seen.progress!.tables.find((t) => t.source === 'public.big')!;
    expect(recorded.chunksDone).toBe(0);
    const live = liveProgress(seen)!.tables.find((t) => t.source === 'public.big')!;
    expect(live.bytes).toBe(recorded.bytes + chunk.bytes);
    expect(live.rows).toBeGreaterThan(0);
    // The human view shows the rows in flight (none of the table's are recorded as done yet).
    expect(renderStatus(seen)).toContain(`${formatCount(live.rows)} rows`);
    const result = await handle.result();
    expect(result.outcome).toBe('completed');
    expect(result.progress.tables.find((t) => t.source === 'public.big')!.rows).toBe(400000);
    // Nothing to rename: the cutover step ran no applyRenames activity (workflows/renames.ts).
    const activities = activitiesIn(await handle.fetchHistory());
    expect(activities).toContain('finishLoad');
    expect(activities).not.toContain('applyRenames');
  });

  it('abort during the full load leaves the source writable and no Ferry objects on either side', async () => {
    const db = await freshDatabases(0.05);
    const sourceBefore = await ferryObjects('source', db);
    let copies = 0;
    // The second copy batch stalls (heartbeating until cancelled) so the abort lands mid-load.
    testFerry.ferry.faults.copyChunks = async () => {
      copies += 1;
      if (copies === 2) {
        const ctx = Context.current();
        const beat = setInterval(() => ctx.heartbeat(), 200);
        try {
          await ctx.cancelled;
        } finally {
          clearInterval(beat);
        }
      }
    };
    const handle = await start(db, { parallelism: 1 }, { batchMaxChunks: 1 });
    try {
      await waitFor(() => progressOf(handle), (p) => p.phase === 'full_load' && p.totals.chunksDone >= 1, 60_000, 'first chunk');
      expect(await sourceIsWritable(db)).toBe(false); // fenced during the load
      await handle.signal(abortSignal, { reason: 'test' });
      const result = await handle.result();
      expect(result.outcome).toBe('aborted');
      expect(result.progress.phase).toBe('aborted');
    } finally {
      delete testFerry.ferry.faults.copyChunks;
    }
    expect(await sourceIsWritable(db)).toBe(true);
    expect(await ferryObjects('target', db)).toEqual([]);
    expect(await ferryObjects('source', db)).toEqual(sourceBefore);
  });

  it('an activity failure leaves the workflow in failed; retry completes it', async () => {
    const db = await freshDatabases(0.02);
    let failures = 0;
    testFerry.ferry.faults.finishLoad = () =>
      failures++ === 0 ? Promise.reject(ApplicationFailure.nonRetryable('injected: index build failed', 'InjectedFailure')) : Promise.resolve();
    try {
      const handle = await start(db);
      // `ferry status --wait-end` (quiet: it follows the phase from the server) returns once the
      // migration waits in phase failed, with exit code 1 and the failed step in its JSON.
      const waiting = captureIo();
      expect(await main(['status', handle.workflowId, '--wait-end', '--interval', '0.2', '--json'], waiting.io)).toBe(1);
      expect(JSON.parse(waiting.out())).toMatchObject({ running: true, progress: { phase: 'failed', failedStep: 'post_load' } });
      const failed = await untilPhase(handle, 'failed');
      expect(failed.failedStep).toBe('post_load');
      expect(failed.lastError?.message).toContain('injected: index build failed');
      const { step } = await handle.executeUpdate(retryUpdate);
      expect(step).toBe('post_load');
      const result = await handle.result();
      expect(result.outcome).toBe('completed');
      expect(result.validation?.status).toBe('match');
      expect(failures).toBe(2);
    } finally {
      delete testFerry.ferry.faults.finishLoad;
    }
  });

  it('rejects approval before the gate, and retry re-runs a failed precheck once the conflict is gone', async () => {
    const db = await freshDatabases(0.02);
    await sql('target', db, `CREATE TABLE public.orders (id int)`); // conflicts with the source's orders
    const handle = await start(db, { cutover: { requireApproval: true } });
    const failed = await untilPhase(handle, 'failed');
    expect(failed.failedStep).toBe('precheck');
    expect(failed.lastError?.message).toMatch(/orders/);

    const rejection = await handle.executeUpdate(approveCutoverUpdate, { args: [{ by: 'eager' }] }).catch((e: unknown) => e);
    expect(rejection).toBeInstanceOf(WorkflowUpdateFailedError);
    expect(String((rejection as WorkflowUpdateFailedError).cause?.message)).toMatch(/not awaiting approval yet.*'failed'/);

    await sql('target', db, `DROP TABLE public.orders`);
    await handle.executeUpdate(retryUpdate);
    await untilPhase(handle, 'awaiting_cutover');
    await handle.executeUpdate(approveCutoverUpdate, { args: [{ by: 'dba' }] });
    const twice = await handle.executeUpdate(approveCutoverUpdate, { args: [{ by: 'again' }] }).catch((e: unknown) => e);
    expect(String((twice as WorkflowUpdateFailedError).cause?.message)).toMatch(/already approved by dba/);
    expect((await handle.result()).outcome).toBe('completed');
  });

  it('workflow cancellation compensates like abort and ends Cancelled', async () => {
    const db = await freshDatabases(0.02);
    const handle = await start(db, { cutover: { requireApproval: true } });
    await untilPhase(handle, 'awaiting_cutover');
    await handle.cancel();
    await expect(handle.result()).rejects.toBeInstanceOf(WorkflowFailedError);
    expect((await handle.describe()).status.name).toBe('CANCELLED');
    expect(await sourceIsWritable(db)).toBe(true);
    expect(await ferryObjects('target', db)).toEqual([]);
  });

  it('a spec that bypasses the client is refused by the workflow, naming the field', async () => {
    const handle = await testFerry.ferry.env.client.workflow.start<typeof migrationWorkflow>('migrationWorkflow', {
      taskQueue: testFerry.ferry.taskQueue,
      workflowId: `ferry-bad-spec-${Date.now()}`,
      args: [{ spec: { ...devSpec('x'), source: { host: 'h', database: 'd', user: 'u', password: 'hunter2' } } } as unknown as MigrationInput],
    });
    const err = await handle.result().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect(String((err as WorkflowFailedError).cause?.message)).toMatch(/source\.password: must be a secret reference/);
  });
});
