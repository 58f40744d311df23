// A Ferry worker on the real dev server, one per test file, on its own task queue. Activities are
// the real ones; a test may set `faults` to make one fail or stall (the only injection point).
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { createActivities, type FerryActivities } from '../../activities';
import { ferryDataConverter } from '../../client/payloadCodec';
import { createPostgresEngine } from '../../activities/adapters/postgres';
import { closeParkedCaptures } from '../../activities/adapters/postgres/replication';
import { createSecretResolver } from '../../activities/adapters/secrets';
import { temporalAddress, exportPasswords } from './env';

export type Faults = Partial<{ [K in keyof FerryActivities]: (...args: Parameters<FerryActivities[K]>) => Promise<void> }>;

let bundle: WorkflowBundleWithSourceMap | undefined;
export async function workflowBundle(): Promise<WorkflowBundleWithSourceMap> {
  bundle ??= await bundleWorkflowCode({ workflowsPath: path.resolve(__dirname, '../../workflows/index.ts'), logger: quietLogger });
  return bundle;
}

const quietLogger = { trace() {}, debug() {}, info() {}, warn: console.warn, error: console.error, log() {} };

export interface TestFerry {
  env: TestWorkflowEnvironment;
  taskQueue: string;
  faults: Faults;
  stop(): Promise<void>;
}

/**
 * A TestFerry for the calling test file, started before its tests and stopped after them, then the
 * databases pushed onto `drops` are dropped.
 */
export function useTestFerry(): { readonly ferry: TestFerry; drops: Array<() => Promise<void>> } {
  let ferry: TestFerry | undefined;
  const drops: Array<() => Promise<void>> = [];
  beforeAll(async () => {
    ferry = await startTestFerry();
  });
  afterAll(async () => {
    await ferry?.stop();
    for (const drop of drops) await drop();
  });
  return {
    get ferry(): TestFerry {
      if (!ferry) throw new Error('the test Ferry is not started');
      return ferry;
    },
    drops,
  };
}

export async function startTestFerry(options: { workerId?: string } = {}): Promise<TestFerry> {
  exportPasswords();
  const env = await TestWorkflowEnvironment.createFromExistingServer({
    address: temporalAddress,
    namespace: 'default',
    client: { dataConverter: ferryDataConverter },
  });
  const taskQueue = `ferry-test-${randomBytes(4).toString('hex')}`;
  const faults: Faults = {};
  const real = createActivities({
    engines: { 'native-postgres': createPostgresEngine() },
    secrets: createSecretResolver(),
    workerId: options.workerId ?? `test-worker-${process.pid}`,
    heartbeatIntervalMs: 500,
  });
  // Each activity first runs its fault (if a test set one), then the real thing.
  const activities = Object.fromEntries(
    Object.entries(real).map(([name, fn]) => [
      name,
      async (...args: unknown[]) => {
        const fault = (faults as Record<string, ((...a: unknown[]) => Promise<void>) | undefined>)[name];
        if (fault) await fault(...args);
        return (fn as (...a: unknown[]) => Promise<unknown>)(...args);
      },
    ]),
  );
  const worker = await Worker.create({
    connection: env.nativeConnection,
    namespace: 'default',
    taskQueue,
    workflowBundle: await workflowBundle(),
    activities,
    dataConverter: ferryDataConverter,
    maxHeartbeatThrottleInterval: '1 second', // as worker/createWorker.ts: heartbeats reach the server (and `ferry status`) every second
  });
  const running = worker.run();
  return {
    env,
    taskQueue,
    faults,
    async stop() {
      worker.shutdown();
      await running;
      await closeParkedCaptures();
      await env.teardown();
    },
  };
}

export { waitFor } from './wait';
