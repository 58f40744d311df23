// A precheck warning holds the migration before anything is touched, until someone acknowledges
// it; then the precheck runs again and the migration completes. Real Temporal, real clusters.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { createDatabasePair, devSpec, sql } from '../support/env';
import { startTestFerry, waitFor, type TestFerry } from '../support/temporal';
import { parseSpec } from '../../workflows/spec';
import type { MigrationProgress, MigrationResult } from '../../workflows/types';
import { acknowledgeWarningsUpdate, progressQuery } from '../../workflows/messages';
import type { migrationWorkflow } from '../../workflows/migration';

let ferry: TestFerry;
let db: { name: string; drop: () => Promise<void> };

beforeAll(async () => {
  ferry = await startTestFerry();
  db = await createDatabasePair('pack');
  await sql(
    'source',
    db.name,
    `CREATE TABLE public.customers (id int PRIMARY KEY, name text NOT NULL);
     CREATE TABLE public.orders (id bigserial PRIMARY KEY, customer_id int REFERENCES public.customers(id), total numeric);
     INSERT INTO public.customers SELECT g, 'c' || g FROM generate_series(1, 300) g;
     INSERT INTO public.orders (customer_id, total) SELECT 1 + g % 300, g * 1.5 FROM generate_series(1, 2000) g;`,
  );
  // The warning: the target database sorts text differently (LC_COLLATE C instead of the source's).
  await sql('target', 'postgres', `DROP DATABASE ${db.name}`);
  await sql('target', 'postgres', `CREATE DATABASE ${db.name} TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'`);
});
afterAll(async () => {
  await ferry?.stop();
  await db?.drop();
});

describe('precheck warnings', () => {
  it('stop the migration before anything is touched until acknowledged, then it completes', async () => {
    const spec = parseSpec(devSpec(db.name));
    const handle = await ferry.env.client.workflow.start<typeof migrationWorkflow>('migrationWorkflow', {
      taskQueue: ferry.taskQueue,
      workflowId: `ferry-${spec.name}`,
      args: [{ spec, tuning: { maximumAttempts: 2, initialRetryIntervalMs: 200, heartbeatTimeoutSeconds: 10 } }],
    });
    const waiting: MigrationProgress = await waitFor(() => handle.query(progressQuery), (p) => p.phase === 'awaiting_acknowledgement', 60_000, 'awaiting_acknowledgement');
    expect(waiting.precheck?.status).toBe('warning');
    const warnings = waiting.precheck!.items.filter((i) => i.status === 'warning');
    expect(warnings.map((i) => i.id)).toEqual(['encoding.collation']);
    expect(warnings[0]!.message).toMatch(/LC_COLLATE C\b/);
    expect(waiting.precheck!.items.some((i) => i.status === 'fail')).toBe(false);

    // Held: nothing provisioned on the target, even a while later.
    await new Promise((r) => setTimeout(r, 1500));
    expect((await handle.query(progressQuery)).phase).toBe('awaiting_acknowledgement');
    expect(await sql('target', db.name, `SELECT 1 FROM pg_namespace WHERE nspname = 'ferry'`)).toHaveLength(0);

    // Acknowledging something that is not a warning is refused, naming the warnings.
    const wrong = await handle.executeUpdate(acknowledgeWarningsUpdate, { args: [{ ids: ['storage'] }] }).catch((e: unknown) => e);
    expect(wrong).toBeInstanceOf(WorkflowUpdateFailedError);
    expect(String((wrong as WorkflowUpdateFailedError).cause?.message)).toMatch(/no precheck warning matches storage; warnings are: encoding\.collation/);

    const acked = await handle.executeUpdate(acknowledgeWarningsUpdate, { args: [{ ids: ['encoding.collation'], by: 'dba' }] });
    expect(acked.precheck?.status).toBe('pass');
    const result = (await handle.result()) as MigrationResult;
    expect(result.outcome).toBe('completed');
    expect(result.progress.precheck?.items.find((i) => i.id === 'encoding.collation')).toMatchObject({ status: 'warning', acknowledged: true });
    // The precheck ran again after the acknowledgement, then every step followed.
    const phases = result.progress.timings.map((t) => t.phase);
    expect(phases.slice(0, 4)).toEqual(['precheck', 'awaiting_acknowledgement', 'precheck', 'provision']);
    expect(phases.at(-1)).toBe('completed');
    expect(result.validation?.status).toBe('match');
    expect(result.validation?.tables.map((t) => [t.source, t.status, t.sourceRows])).toEqual(
      expect.arrayContaining([['public.customers', 'match', 300], ['public.orders', 'match', 2000]]),
    );
    const [n] = await sql<{ n: number }>('target', db.name, 'SELECT count(*)::int AS n FROM public.orders');
    expect(n?.n).toBe(2000);
  });
});
