// Worker configuration, all from the environment. The Temporal connection itself (address,
// namespace, TLS, API key) comes from @temporalio/envconfig through client/connection.ts, the one
// module the worker and the client share.
import os from 'node:os';
import { TASK_QUEUE } from '../workflows/messages';

export interface WorkerConfig {
  taskQueue: string;
  /** Recorded in chunk markers. */
  workerId: string;
  /** Activities run at once on this worker: copy streams plus the odd precheck. */
  maxConcurrentActivities: number;
  /** A prebuilt workflow bundle (production) instead of bundling workflows/ at start (development). */
  workflowBundlePath?: string;
}

function positiveInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a positive integer, got '${raw}'`);
  return n;
}

export function loadWorkerConfig(): WorkerConfig {
  return {
    taskQueue: process.env.FERRY_TASK_QUEUE || TASK_QUEUE,
    workerId: process.env.FERRY_WORKER_ID || `${os.hostname()}:${process.pid}`,
    maxConcurrentActivities: positiveInt('FERRY_MAX_CONCURRENT_ACTIVITIES', Math.max(4, os.cpus().length * 2)),
    workflowBundlePath: process.env.FERRY_WORKFLOW_BUNDLE || undefined,
  };
}
