// Builds a Ferry worker: the real engines and secret resolver injected into createActivities.
// Used by worker/main.ts and by the tests, so both run the same wiring.
import path from 'node:path';
import { NativeConnection, Worker } from '@temporalio/worker';
import { createActivities, type FerryActivities } from '../activities';
import { createPostgresEngine } from '../activities/adapters/postgres';
import { createOracleEngines } from '../activities/adapters/oracle/factory';
import { createSecretResolver } from '../activities/adapters/secrets';
import { ferryDataConverter } from '../client/payloadCodec';
import type { WorkerConfig } from './config';

export interface FerryWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  config: WorkerConfig;
  /** Tests replace single activities to inject failures; production never sets this. */
  wrapActivities?: (activities: FerryActivities) => FerryActivities;
  heartbeatIntervalMs?: number;
}

export async function createFerryWorker(options: FerryWorkerOptions): Promise<Worker> {
  const activities = createActivities({
    engines: { 'native-postgres': createPostgresEngine(), ...createOracleEngines({ secrets: createSecretResolver() }) },
    secrets: createSecretResolver(),
    workerId: options.config.workerId,
    heartbeatIntervalMs: options.heartbeatIntervalMs,
  });
  const workflows = options.config.workflowBundlePath
    ? { workflowBundle: { codePath: options.config.workflowBundlePath } }
    : { workflowsPath: path.resolve(__dirname, '../workflows/index.ts') };
  return Worker.create({
    connection: options.connection,
    namespace: options.namespace,
    taskQueue: options.config.taskQueue,
    // Large payloads gzipped (the same codec as the client's): see client/payloadCodec.ts.
    dataConverter: ferryDataConverter,
    activities: options.wrapActivities ? options.wrapActivities(activities) : activities,
    maxConcurrentActivityTaskExecutions: options.config.maxConcurrentActivities,
    // Heartbeats reach the server at most this often. The SDK's default throttle is 80% of the
    // heartbeat timeout (48 s for 60 s), and a cancellation only reaches an activity with a
    // heartbeat's answer: the full load's snapshot holder would hold on for up to 48 s after the
    // last chunk (and an abort would wait as long). One heartbeat a second per activity is cheap.
    maxHeartbeatThrottleInterval: '1 second',
    ...workflows,
  });
}
