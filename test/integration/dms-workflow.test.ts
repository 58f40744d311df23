// dmsMigration on a real Temporal dev server with the real DMS activities against moto's server.
// moto moves no data: these tests assert the journey (phases, gates, retry, abort), the DMS calls'
// effect on resources (created once, tagged, deleted in the end) and that no secret enters history.
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, Worker } from '@temporalio/worker';
import type { WorkflowHandle } from '@temporalio/client';
import { createDmsActivities, type DmsActivities } from '../../activities/dms';
import { dmsNames } from '../../activities/adapters/dms/names';
import type { DmsClients } from '../../activities/adapters/dms/client';
import { abortSignal, approveCutoverUpdate, progressQuery, retryUpdate } from '../../workflows/messages';
import type { DmsMigrationSpecInput } from '../../workflows/dmsSpec';
import type { DmsMigrationResult, DmsProgress } from '../../workflows/dmsTypes';
import { ferryDataConverter } from '../../client/payloadCodec';
import { temporalAddress } from '../support/env';
import { count, createSecret, dmsSpec, inventory, motoClients, stubLagReader, uniqueName, waitFor } from './dms-support';

type Fault = (...args: unknown[]) => Promise<void>;
const before: Partial<Record<keyof DmsActivities, Fault>> = {};
const after: Partial<Record<keyof DmsActivities, Fault>> = {};

const SOURCE_PASSWORD = `src-${randomBytes(6).toString('hex')}-secret`;
const TARGET_PASSWORD = `tgt-${randomBytes(6).toString('hex')}-secret`;

let env: TestWorkflowEnvironment;
let worker: Worker;
let running: Promise<void>;
let taskQueue: string;
let clients: DmsClients;
let secrets: { source: string; target: string };

/** Holds an activity (heartbeating) until Temporal cancels it: a step the test aborts in. */
const stall: Fault = async () => {
  const ctx = Context.current();
  for (;;) {
    ctx.heartbeat();
    await ctx.sleep(100);
  }
};
const failOnce = (message: string): Fault => {
  let done = false;
  return () => {
    if (done) return Promise.resolve();
    done = true;
    return Promise.reject(ApplicationFailure.nonRetryable(message, 'InjectedFault'));
  };
};

beforeAll(async () => {
  clients = motoClients();
  secrets = {
    source: await createSecret(clients, uniqueName('ferry-wf-src'), SOURCE_PASSWORD),
    target: await createSecret(clients, uniqueName('ferry-wf-tgt'), TARGET_PASSWORD),
  };
  env = await TestWorkflowEnvironment.createFromExistingServer({
    address: temporalAddress,
    namespace: 'default',
    client: { dataConverter: ferryDataConverter },
  });
  taskQueue = `ferry-dms-test-${randomBytes(4).toString('hex')}`;
  const real = createDmsActivities({ clients: () => clients, lagReader: stubLagReader(), pollIntervalMs: 50, heartbeatIntervalMs: 200 });
  const activities = Object.fromEntries(
    Object.entries(real).map(([name, fn]) => [
      name,
      async (...args: unknown[]) => {
        await before[name as keyof DmsActivities]?.(...args);
        const out = await (fn as (...a: unknown[]) => Promise<unknown>)(...args);
        await after[name as keyof DmsActivities]?.(...args);
        return out;
      },
    ]),
  );
  const quiet = { trace() {}, debug() {}, info() {}, warn: console.warn, error: console.error, log() {} };
  worker = await Worker.create({
    connection: env.nativeConnection,
    namespace: 'default',
    taskQueue,
    workflowBundle: await bundleWorkflowCode({ workflowsPath: path.resolve(__dirname, '../../workflows/index.ts'), logger: quiet }),
    activities,
    dataConverter: ferryDataConverter,
  });
  running = worker.run();
});

afterAll(async () => {
  worker?.shutdown();
  await running;
  await env?.teardown();
});

beforeEach(() => {
  for (const k of Object.keys(before)) delete before[k as keyof DmsActivities];
  for (const k of Object.keys(after)) delete after[k as keyof DmsActivities];
});

const tuning = { maximumAttempts: 2, initialRetryIntervalMs: 100, heartbeatTimeoutSeconds: 2, pollIntervalMs: 100, cdcPollIntervalMs: 200 };

async function start(overrides: Partial<DmsMigrationSpecInput> = {}): Promise<{ handle: WorkflowHandle; id: string; name: string }> {
  const name = uniqueName('dms-wf');
  const id = `ferry-${name}`;
  // Through the product's entry point: migrationWorkflow hands aws-dms specs to dmsMigration.
  const handle = await env.client.workflow.start('migrationWorkflow', {
    taskQueue,
    workflowId: id,
    args: [{ spec: dmsSpec(name, secrets, overrides), tuning }],
    workflowExecutionTimeout: '2 minutes',
  });
  return { handle, id, name };
}

const progress = (h: WorkflowHandle) => h.query(progressQuery) as unknown as Promise<DmsProgress>;
const inPhase = (h: WorkflowHandle, phase: string) => waitFor(() => progress(h), (p) => p.phase === phase, 30_000, `phase ${phase}`);
const left = async (id: string) => count(await inventory(clients, id, dmsNames(id).subnetGroup));

describe('dmsMigration workflow (Temporal + moto)', () => {
  let completedId: string | undefined;

  it('online: precheck -> provision -> full load -> cdc -> approval -> cutover -> validate -> cleanup', async () => {
    const { handle, id } = await start({ cutover: { requireApproval: true, maxLagSeconds: 5 } });
    const waiting = await inPhase(handle, 'awaiting_cutover');
    expect(waiting.cutover.waitingFor).toEqual(['approval']);
    expect(waiting.precheck?.status).toBe('pass');
    expect(waiting.precheck?.items.map((i) => i.id)).toEqual(expect.arrayContaining(['dms-secret:source', 'dms-connection:source', 'dms-connection:target']));
    expect(waiting.dms.task).toMatchObject({ status: 'running', fullLoadDone: true, lag: { targetSeconds: 0 } });
    // While CDC runs: exactly one of each resource, all tagged with the migration id.
    const inv = await inventory(clients, id, dmsNames(id).subnetGroup);
    expect([inv.subnetGroups.length, inv.instances.length, inv.endpoints.length, inv.tasks.length]).toEqual([1, 1, 2, 1]);
    expect(inv.tasks[0]?.status).toBe('running');

    await handle.executeUpdate(approveCutoverUpdate, { args: [{ by: 'dba@example.com' }] });
    const result = (await handle.result()) as DmsMigrationResult;
    expect(result.outcome).toBe('completed');
    const phases = result.progress.timings.map((t) => t.phase);
    expect(phases).toEqual(['precheck', 'provision', 'full_load', 'cdc', 'awaiting_cutover', 'cutover', 'validate', 'cleanup', 'completed']);
    expect(result.progress.dms.task?.status).toBe('stopped');
    expect(result.progress.dms.lastStart?.action).toBe('already-running');
    // moto has no DescribeTableStatistics: validation says so instead of inventing a result.
    expect(result.validation?.status).toBe('skipped');
    expect(result.progress.dms.cleanup?.deleted.map((d) => d.kind)).toEqual(['task', 'endpoint', 'endpoint', 'instance', 'subnet-group']);
    expect(await left(id)).toBe(0);
    completedId = id;
  });

  it('no secret value in the workflow history', async () => {
    expect(completedId).toBeDefined();
    const history = await env.client.workflow.getHandle(completedId!).fetchHistory();
    const text = JSON.stringify(history);
    // Payloads are base64 JSON in history: decode every payload too.
    const decoded = [...text.matchAll(/"data":"([A-Za-z0-9+/=]+)"/g)].map((m) => Buffer.from(m[1]!, 'base64').toString('utf8')).join('\n');
    expect(decoded).toContain(secrets.source); // the reference is there ...
    for (const secret of [SOURCE_PASSWORD, TARGET_PASSWORD]) {
      expect(text).not.toContain(secret); // ... the value never
      expect(decoded).not.toContain(secret);
    }
  });

  it('offline (full-load): gate before the load, then cutover and cleanup', async () => {
    const { handle, id } = await start({ mode: 'offline', cutover: { requireApproval: true, maxLagSeconds: 5 } });
    await inPhase(handle, 'awaiting_cutover');
    // Writes must stop before a full-load-only task starts: the task exists but has not run yet.
    const inv = await inventory(clients, id, dmsNames(id).subnetGroup);
    expect(inv.tasks.map((t) => [t.migrationType, t.status])).toEqual([['full-load', 'creating']]);
    await handle.executeUpdate(approveCutoverUpdate, { args: [{ by: 'dba' }] });
    const result = (await handle.result()) as DmsMigrationResult;
    expect(result.outcome).toBe('completed');
    expect(result.progress.timings.map((t) => t.phase)).toEqual(['precheck', 'provision', 'awaiting_cutover', 'full_load', 'cutover', 'validate', 'cleanup', 'completed']);
    expect(await left(id)).toBe(0);
  });

  it('a failure after the endpoints exist, then retry: no duplicate endpoints or tasks', async () => {
    // The task is created, then the activity fails (as if the worker died before reporting back).
    after.dmsEnsureTask = failOnce('injected: worker lost after CreateReplicationTask');
    const { handle, id } = await start({ cutover: { requireApproval: true, maxLagSeconds: 5 } });
    const failed = await inPhase(handle, 'failed');
    expect(failed.failedStep).toBe('provision');
    expect(failed.lastError?.message).toContain('injected');
    let inv = await inventory(clients, id, dmsNames(id).subnetGroup);
    expect([inv.instances.length, inv.endpoints.length, inv.tasks.length]).toEqual([1, 2, 1]);

    expect(await handle.executeUpdate(retryUpdate)).toEqual({ step: 'provision' });
    await inPhase(handle, 'awaiting_cutover');
    inv = await inventory(clients, id, dmsNames(id).subnetGroup);
    expect([inv.subnetGroups.length, inv.instances.length, inv.endpoints.length, inv.tasks.length]).toEqual([1, 1, 2, 1]);
    await handle.signal(abortSignal, { reason: 'test done' });
    expect(((await handle.result()) as DmsMigrationResult).outcome).toBe('aborted');
    expect(await left(id)).toBe(0);
  });

  it('a DMS task failure during CDC fails the step with the DMS error; retry resumes', async () => {
    before.dmsStartTask = (...args: unknown[]) => {
      if (args[2] !== 'cdc') return Promise.resolve();
      delete before.dmsStartTask;
      return Promise.reject(ApplicationFailure.nonRetryable('DMS task x failed: injected LastFailureMessage', 'DmsTaskFailed'));
    };
    const { handle, id } = await start();
    const failed = await inPhase(handle, 'failed');
    expect(failed.failedStep).toBe('cdc');
    expect(failed.lastError?.type).toBe('DmsTaskFailed');
    expect(failed.lastError?.message).toContain('LastFailureMessage');
    await handle.executeUpdate(retryUpdate);
    const result = (await handle.result()) as DmsMigrationResult;
    expect(result.outcome).toBe('completed');
    expect(await left(id)).toBe(0);
  });

  // How each phase is held so the abort lands in it: a gate, a stalled activity, or a failure.
  const holds: [string, () => Partial<DmsMigrationSpecInput>][] = [
    // lagSource none -> a precheck warning waiting for acknowledgement
    ['awaiting_acknowledgement', () => ({ dms: { ...dmsSpec('x', secrets).dms, lagSource: 'none' } })],
    ['provision', () => ((before.dmsReadiness = stall), {})],
    ['full_load', () => ((before.dmsTaskStatus = stall), {})],
    ['cdc', () => ((before.dmsStartTask = (...a: unknown[]) => (a[2] === 'cdc' ? stall() : Promise.resolve())), {})],
    ['awaiting_cutover', () => ({ cutover: { requireApproval: true, maxLagSeconds: 5 } })],
    ['cutover', () => ((before.dmsStopTask = stall), {})],
    ['validate', () => ((before.dmsValidate = stall), {})],
    [
      'cleanup',
      () => {
        let calls = 0; // the workflow's cleanup stalls; the abort's compensation runs for real
        before.dmsCleanup = () => (++calls === 1 ? stall() : Promise.resolve());
        return {};
      },
    ],
    ['failed', () => ((before.dmsTaskStatus = failOnce('injected: DMS task failed')), {})],
  ];

  it.each(holds)('abort in %s leaves zero DMS resources carrying the migration tag', async (phase, hold) => {
    const { handle, id } = await start(hold());
    await inPhase(handle, phase);
    await handle.signal(abortSignal, { reason: `abort in ${phase}` });
    const result = (await handle.result()) as DmsMigrationResult;
    expect(result.outcome).toBe('aborted');
    expect(result.progress.phase).toBe('aborted');
    expect(await left(id)).toBe(0);
  });
});
