// Update validateNow's validator (pure: workflows/messages.ts validateNowRejection) and how a
// validation made during change capture reads: refused before CDC, for an offline migration,
// while one runs, during an abort; the report says as of which LSN and what was re-checked.
import { describe, expect, it } from 'vitest';
import { EXIT, renderStatus } from '../../client/cli';
import { runCli } from '../support/cli';
import { validateNowRejection, type ValidateNowState } from '../../workflows/messages';
import { renderValidationText } from '../../workflows/validationText';
import { renderDetails } from '../../workflows/progress';
import type { MigrationProgress, ValidationReport } from '../../workflows/types';

const cdc: ValidateNowState = { name: 'shop', mode: 'online', phase: 'cdc', aborting: false, level: 'checksums' };

describe('validateNow validator', () => {
  it('accepts during change capture', () => {
    expect(validateNowRejection(cdc, undefined)).toBeUndefined();
    expect(validateNowRejection(cdc, { by: 'qa', catchUpTimeoutSeconds: 30, rechecks: 0 })).toBeUndefined();
  });

  it('rejects before CDC with the phase it is in', () => {
    for (const phase of ['starting', 'precheck', 'provision', 'full_load', 'post_load'] as const) {
      expect(validateNowRejection({ ...cdc, phase }, {})).toBe(
        `on-demand validation runs during change data capture (phase 'cdc'); the migration is in phase '${phase}', try again once changes stream`,
      );
    }
  });

  it('rejects after CDC and points at the final validation', () => {
    expect(validateNowRejection({ ...cdc, phase: 'cutover' }, {})).toMatch(/in phase 'cutover'; the final validation runs after the drain at cutover \(see 'ferry validate shop'\)/);
  });

  it('rejects an offline migration, an abort, a second request and level none', () => {
    expect(validateNowRejection({ ...cdc, mode: 'offline', phase: 'awaiting_cutover' }, {})).toMatch(/this migration is offline: its validation runs after the load/);
    expect(validateNowRejection({ ...cdc, aborting: true }, {})).toBe('the migration is being aborted; no validation now');
    expect(validateNowRejection({ ...cdc, running: { requestedBy: 'ann', startedAt: '2026-01-01T00:00:00.000Z' } }, {})).toBe(
      "a validation is already running (requested by ann, since 2026-01-01T00:00:00.000Z); wait for its report in 'ferry status shop'",
    );
    expect(validateNowRejection({ ...cdc, level: 'none' }, {})).toMatch(/validation.level is 'none'/);
  });

  it('rejects bad bounds', () => {
    expect(validateNowRejection(cdc, { catchUpTimeoutSeconds: 0 })).toMatch(/catchUpTimeoutSeconds must be/);
    expect(validateNowRejection(cdc, { catchUpTimeoutSeconds: 7200 })).toMatch(/catchUpTimeoutSeconds must be/);
    expect(validateNowRejection(cdc, { rechecks: 11 })).toMatch(/rechecks must be an integer from 0 to 10/);
    expect(validateNowRejection(cdc, { rechecks: 1.5 })).toMatch(/rechecks must be/);
  });
});

const report: ValidationReport = {
  level: 'checksums',
  status: 'mismatch',
  tables: [
    { source: 'public.accounts', target: 'public.accounts', status: 'match', sourceRows: 20010, targetRows: 20004, reason: 'differed at first (changes in flight); matched when compared again after the target caught up' },
    {
      source: 'public.kv',
      target: 'public.kv',
      status: 'mismatch',
      sourceRows: 5000,
      targetRows: 5000,
      sourceChecksum: '1',
      targetChecksum: '2',
      reason: '1 key range(s) still differ after the target caught up',
      ranges: [{ column: 'k', lo: '2189', hi: '2502', sourceRows: 313, targetRows: 313, bounds: { lo: ['2189'], hi: ['2502'] } }],
      rows: [{ key: { k: '2500' }, kind: 'changed' }],
    },
  ],
  live: { asOfLsn: '1/D9F09330', recheckedTables: ['public.accounts', 'public.kv'], rounds: 3, caughtUp: true, requestedBy: 'qa', startedAt: '2026-11-23T16:00:00.000Z', finishedAt: '2026-11-23T16:00:09.000Z' },
};

describe('a report made during change capture', () => {
  it('says as of which LSN, what was re-checked, and where the persisting difference is', () => {
    const text = renderValidationText(report);
    expect(text).toContain('during change capture, as of source LSN 1/D9F09330; requested by qa at 2026-11-23T16:00:00.000Z');
    expect(text).toContain('re-checked after the target caught up (3 round(s)): public.accounts, public.kv; only differences that persisted are reported');
    expect(text).toMatch(/public\.kv -> public\.kv: differences\n {2}range k in \[2189, 2502\): source 313 rows, target 313 rows\n {4}k=2500 {2}changed/);
    expect(text).not.toContain('WARNING');
  });

  it('warns when the target did not catch up in time', () => {
    const text = renderValidationText({ ...report, live: { ...report.live!, caughtUp: false, rounds: 0, recheckedTables: [] } });
    expect(text).toContain('WARNING: the target did not catch up within the timeout');
    expect(text).not.toContain('nothing was re-checked');
    expect(renderValidationText({ ...report, live: { ...report.live!, rounds: 0, recheckedTables: [] } })).toContain('not re-checked (rechecks 0)');
    const clean = { ...report, status: 'match' as const, tables: [report.tables[0]!], live: { ...report.live!, rounds: 0, recheckedTables: [] } };
    expect(renderValidationText(clean)).toContain('no data differed, so nothing was re-checked');
  });

  it('shows in the Temporal UI details', () => {
    const progress = {
      migrationId: 'ferry-shop',
      name: 'shop',
      engine: 'native-postgres',
      mode: 'online',
      phase: 'cdc',
      tables: [],
      totals: { rows: 0, bytes: 0, estimatedBytes: 0, chunksDone: 0, chunksTotal: 0 },
      timings: [],
      cutover: { approved: false, waitingFor: ['approval'] },
      abortRequested: false,
      liveValidation: { state: 'done', requestedBy: 'qa', startedAt: report.live!.startedAt, finishedAt: report.live!.finishedAt, report },
    } satisfies MigrationProgress;
    const md = renderDetails(progress);
    expect(md).toContain('### Validation during CDC (by qa): mismatch as of LSN 1/D9F09330');
    expect(md).toContain('| public.kv | public.kv | 5000/5000 | 1 |');
    expect(renderDetails({ ...progress, liveValidation: { state: 'running', startedAt: 'T' } })).toContain('### Validation during CDC: running since T');
  });
});

describe('ferry validate --now', () => {
  it('--by, --catch-up-timeout and --rechecks need --now (exit 2, before connecting)', async () => {
    const r = await runCli(['validate', 'shop', '--rechecks', '2']);
    expect(r.code).toBe(EXIT.usage);
    expect(r.err).toContain('--by, --catch-up-timeout and --rechecks go with --now');
  });

  it('rejects a bad --rechecks value (exit 2)', async () => {
    const r = await runCli(['validate', 'shop', '--now', '--rechecks', '-1']);
    expect(r.code).toBe(EXIT.usage);
    expect(r.err).toContain('--rechecks must be a non-negative integer');
  });

  it('ferry status shows the validation made during CDC', () => {
    const text = renderStatus(
      {
        id: 'ferry-shop',
        runId: 'r',
        name: 'shop',
        status: 'RUNNING',
        running: true,
        startTime: new Date('2026-11-23T15:00:00.000Z'),
        progress: {
          migrationId: 'ferry-shop',
          name: 'shop',
          engine: 'native-postgres',
          mode: 'online',
          phase: 'cdc',
          tables: [],
          totals: { rows: 0, bytes: 0, estimatedBytes: 0, chunksDone: 0, chunksTotal: 0 },
          timings: [],
          cutover: { approved: false, waitingFor: ['approval'] },
          abortRequested: false,
          liveValidation: { state: 'done', requestedBy: 'qa', startedAt: report.live!.startedAt, finishedAt: report.live!.finishedAt, report },
        },
      },
      Date.parse('2026-11-23T16:00:10.000Z'),
    );
    expect(text).toContain('Validation during CDC (checksums): MISMATCH - 1 match, 1 mismatch, 0 skipped');
    expect(text).toContain('as of source LSN 1/D9F09330');
    expect(text).toContain('k=2500  changed');
  });
});
