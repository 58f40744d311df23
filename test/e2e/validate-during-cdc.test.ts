// On-demand validation during change capture (issue 5: "online: ... on demand during CDC (an
// Update)"). An online migration streams changes while a writer runs on the source; validateNow
// reports no mismatch for rows in flight (they are compared again once the target caught up);
// a row corrupted directly on the target, in a table the writer never touches, is reported with
// exactly its table, key range and key. The update is refused before CDC and while one runs; the
// cutover then completes as usual.
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { WorkflowUpdateFailedError, WorkflowUpdateStage } from '@temporalio/client';
import pg from 'pg';
import { connect, createDatabasePair, devSpec, sql, temporalAddress } from '../support/env';
import { useTestFerry, waitFor } from '../support/temporal';
import { parseSpec } from '../../workflows/spec';
import type { MigrationInput, MigrationProgress, MigrationResult, ValidationReport } from '../../workflows/types';
import { approveCutoverUpdate, progressQuery, validateNowUpdate } from '../../workflows/messages';
import type { migrationWorkflow } from '../../workflows/migration';
import { EXIT } from '../../client/cli';
import { runCli } from '../support/cli';

const testFerry = useTestFerry();
const drops = testFerry.drops;

// `accounts` takes the writer's changes; `kv` is never written, so only the corruption differs there.
const SCHEMA = `
  CREATE TABLE accounts (id bigserial PRIMARY KEY, owner text NOT NULL, balance numeric(14,2) NOT NULL, note text);
  CREATE TABLE kv (k int PRIMARY KEY, v text NOT NULL);
  INSERT INTO accounts (owner, balance, note) SELECT 'o' || g, g % 1000, repeat('n', g % 50) FROM generate_series(1, 20000) g;
  INSERT INTO kv SELECT g, 'v' || g FROM generate_series(1, 5000) g;
`;

/** Inserts, updates and deletes on accounts, one transaction each (some of 5 rows), about a hundred a second, until stopped. */
function startWriter(db: string): { stop: () => Promise<number>; ops: () => number } {
  let running = true;
  let ops = 0;
  const done = (async () => {
    const c: pg.Client = await connect('source', db);
    const r = (n: number) => 1 + Math.floor(Math.random() * n);
    try {
      while (running) {
        const step = ops % 4;
        if (step === 0) await c.query(`INSERT INTO accounts (owner, balance) VALUES ($1, $2)`, [`w${ops}`, r(500)]);
        if (step === 1) await c.query(`UPDATE accounts SET balance = balance + 1, note = 'u' WHERE id = $1`, [r(20000)]);
        if (step === 2) await c.query(`DELETE FROM accounts WHERE id = $1`, [r(20000)]);
        if (step === 3) await c.query(`UPDATE accounts SET balance = balance - 1 WHERE id BETWEEN $1 AND $1 + 4`, [r(19995)]);
        ops += 1;
        await sleep(8); // a steady stream the capture keeps up with, not a flood
      }
    } finally {
      await c.end();
    }
  })();
  let failure: Error | undefined;
  done.catch((err: unknown) => {
    failure = err instanceof Error ? err : new Error(JSON.stringify(err));
  });
  return {
    ops: () => ops,
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
        validation: { level: 'checksums', maxReportedRows: 100 },
      }),
    ),
    tuning: { maximumAttempts: 10, initialRetryIntervalMs: 200, heartbeatTimeoutSeconds: 5 },
  };
}

const mismatching = (r: ValidationReport) => r.tables.filter((t) => t.status === 'mismatch').map((t) => t.source);

describe('validation on demand during change capture (Update validateNow)', () => {
  it('hides rows in flight, pinpoints a row corrupted on the target, and the cutover still completes', async () => {
    const pair = await createDatabasePair('vcdc');
    drops.push(pair.drop);
    const db = pair.name;
    await sql('source', db, SCHEMA);
    const input = onlineSpec(db);
    const handle = await testFerry.ferry.env.client.workflow.start<typeof migrationWorkflow>('migrationWorkflow', {
      taskQueue: testFerry.ferry.taskQueue,
      workflowId: `ferry-${input.spec.name}`,
      args: [input],
    });
    const progressOf = (): Promise<MigrationProgress> => handle.query(progressQuery);

    // Before change capture: refused by the validator, with the reason.
    const early = await handle.executeUpdate(validateNowUpdate, { args: [{ by: 'qa' }] }).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(early).toBeInstanceOf(WorkflowUpdateFailedError);
    expect(String((early as WorkflowUpdateFailedError).cause?.message)).toMatch(
      /on-demand validation runs during change data capture \(phase 'cdc'\); the migration is in phase '(starting|precheck|provision|full_load|post_load)'/,
    );

    const writer = startWriter(db);
    try {
      await waitFor(progressOf, (p) => p.phase === 'cdc' && (p.capture?.applied ?? 0) > 0, 180_000, 'changes applied');
      // Slices start a little late, so the target trails the writer and rows are in flight at every comparison.
      testFerry.ferry.faults.streamChanges = () => sleep(1000);

      // While the writer runs: no mismatch. At least one run must have seen rows in flight and re-checked them away.
      let sawInFlight = false;
      for (let i = 0; i < 3 && !sawInFlight; i++) {
        const report = await handle.executeUpdate(validateNowUpdate, { args: [{ by: 'qa', catchUpTimeoutSeconds: 60 }] });
        expect(mismatching(report), JSON.stringify(report.tables.filter((t) => t.status === 'mismatch'))).toEqual([]);
        expect(report.status).toBe('match');
        expect(report.live?.asOfLsn).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
        expect(report.live?.caughtUp).toBe(true);
        expect(report.tables.find((t) => t.source === 'public.kv')?.status).toBe('match');
        // The target's sequence trails the source during CDC by design: not a schema mismatch.
        expect((report.schema ?? []).filter((s) => s.status === 'mismatch')).toEqual([]);
        sawInFlight = report.live?.recheckedTables.includes('public.accounts') === true;
        if (sawInFlight) {
          expect(report.live?.rounds).toBeGreaterThan(0);
          expect(report.tables.find((t) => t.source === 'public.accounts')?.reason).toMatch(/changes in flight/);
        }
      }
      expect(sawInFlight).toBe(true);
      expect(writer.ops()).toBeGreaterThan(100);
      const p = await progressOf();
      expect(p.liveValidation?.state).toBe('done');
      expect(p.liveValidation?.report?.status).toBe('match');
      expect(p.phase).toBe('cdc');

      // A second request while one runs is refused.
      const first = await handle.startUpdate(validateNowUpdate, { args: [{ by: 'qa' }], waitForStage: WorkflowUpdateStage.ACCEPTED });
      const second = await handle.executeUpdate(validateNowUpdate, { args: [{ by: 'someone else' }] }).then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(String((second as WorkflowUpdateFailedError).cause?.message)).toMatch(/a validation is already running \(requested by qa, since /);
      expect(mismatching(await first.result())).toEqual([]);

      // Corrupt one row on the target, in the table the writer does not touch.
      await sql('target', db, `UPDATE kv SET v = 'corrupted' WHERE k = 2500`);
      const bad = await handle.executeUpdate(validateNowUpdate, { args: [{ by: 'qa' }] });
      expect(bad.status).toBe('mismatch');
      expect(mismatching(bad)).toEqual(['public.kv']);
      const kv = bad.tables.find((t) => t.source === 'public.kv')!;
      expect(kv.ranges).toHaveLength(1);
      const range = kv.ranges![0]!;
      expect(range.column).toBe('k');
      expect(Number(range.lo ?? '-Infinity')).toBeLessThanOrEqual(2500);
      expect(Number(range.hi ?? 'Infinity')).toBeGreaterThan(2500);
      expect(range.sourceRows).toBeLessThanOrEqual(1000);
      expect(kv.rows).toEqual([{ key: { k: '2500' }, kind: 'changed' }]);
      expect(bad.live?.recheckedTables).toContain('public.kv');
      expect(bad.live?.rounds).toBe(3);

      // The same through the CLI: exit 1 (mismatch), the report names the table, the range and the row, as of an LSN.
      process.env.TEMPORAL_ADDRESS ??= temporalAddress;
      const cli = await runCli(['validate', input.spec.name, '--now', '--by', 'cli']);
      expect(cli.err).toBe('');
      expect(cli.code).toBe(EXIT.failed);
      expect(cli.out).toMatch(/during change capture, as of source LSN [0-9A-F]+\/[0-9A-F]+; requested by cli/);
      expect(cli.out).toMatch(/re-checked after the target caught up \(3 round\(s\)\): .*public\.kv/);
      expect(cli.out).toMatch(/public\.kv -> public\.kv: differences\n {2}range k in \[\S+, \S+\): source \d+ rows, target \d+ rows\n {4}k=2500 {2}changed/);
      expect(cli.out).not.toMatch(/public\.accounts -> public\.accounts: differences/);

      // Repair the row, then cut over as usual.
      await sql('target', db, `UPDATE kv SET v = 'v2500' WHERE k = 2500`);
    } finally {
      delete testFerry.ferry.faults.streamChanges;
      await writer.stop();
    }
    await handle.executeUpdate(approveCutoverUpdate, { args: [{ by: 'dba' }] });
    const result = (await handle.result()) as MigrationResult;
    expect(result.outcome).toBe('completed');
    expect(result.validation?.status).toBe('match');
    expect(result.validation?.live).toBeUndefined();

    // After CDC: refused again (the workflow has ended: Temporal refuses the update).
    const late = await handle.executeUpdate(validateNowUpdate, { args: [{}] }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(late).toBeInstanceOf(Error);
  });
});
