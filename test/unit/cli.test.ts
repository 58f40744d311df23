// The `ferry` command as scripts use it: exit codes, errors on stderr that name the field, output
// they can parse. Commands that need Temporal are exercised against an address nothing listens
// on (exit 5); the rest never connect.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import {
  EXIT,
  exitCodeFor,
  fractionDone,
  etaSeconds,
  formatBytes,
  formatDuration,
  main,
  outcomeExitCode,
  renderList,
  renderStatus,
  staticBar,
  UsageError,
} from '../../client/cli';
import {
  MigrationAlreadyRunningError,
  MigrationNotFoundError,
  migrationIdFrom,
  RequestRejectedError,
  RequestTimedOutError,
  TemporalUnreachableError,
  liveProgress,
  type MigrationProgress,
  type MigrationStatus,
} from '../../client/index';
import { loadSpecFile, SpecFileError } from '../../client/spec-file';
import { captureIo } from '../support/cli';

const root = path.resolve(__dirname, '../..');
const bin = path.join(root, 'bin/ferry');
// Nothing listens on port 1: any command that connects fails fast with exit 5.
const offline = { ...process.env, TEMPORAL_ADDRESS: '127.0.0.1:1', TEMPORAL_CONFIG_FILE: '/nonexistent/temporal.toml' };

/** Run bin/ferry as a script would: from another directory, capturing output and the exit code. */
function ferry(...args: string[]) {
  const r = spawnSync(bin, args, { cwd: os.tmpdir(), env: offline, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function tempSpec(name: string, content: string): string {
  const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'ferry-cli-')), name);
  writeFileSync(file, content);
  return file;
}

// Each child process starts tsx (about a second, more on a busy machine).
describe('ferry (child process through bin/ferry)', { timeout: 60_000 }, () => {
  it('start with an invalid spec exits 2, names the fields on stderr, and never contacts Temporal', () => {
    const r = ferry('start', path.join(root, 'examples/bad.yaml'));
    expect(r.code).toBe(EXIT.usage);
    expect(r.stderr).toContain('examples/bad.yaml');
    expect(r.stderr).toContain('source.port');
    expect(r.stderr).toContain('source.password');
    expect(r.stderr).toContain('target.sslmod');
    expect(r.stderr).not.toContain('hunter2');
    expect(r.stderr).not.toMatch(/cannot reach Temporal/);
  });

  it('validate-spec prints the defaulted spec as YAML and exits 0', () => {
    const r = ferry('validate-spec', path.join(root, 'examples/demo.yaml'));
    expect(r.code).toBe(EXIT.ok);
    expect(parseYaml(r.stdout)).toEqual(loadSpecFile(path.join(root, 'examples/demo.yaml')));
  });

  it('a YAML syntax error exits 2 naming the file and the line', () => {
    const file = tempSpec('broken.yaml', 'name: demo\nsource:\n  host: a\n   port: 5\n');
    const r = ferry('validate-spec', file);
    expect(r.code).toBe(EXIT.usage);
    expect(r.stderr).toContain(`${file}:3:`);
  });

  it('usage errors exit 2: unknown command, missing argument, unknown phase', () => {
    expect(ferry('frobnicate').code).toBe(EXIT.usage);
    expect(ferry('status').code).toBe(EXIT.usage);
    const bad = ferry('list', '--phase', 'nope');
    expect(bad.code).toBe(EXIT.usage);
    expect(bad.stderr).toMatch(/Allowed choices are/);
  });

  it('--help exits 0 and documents the exit codes', () => {
    const r = ferry('--help');
    expect(r.code).toBe(EXIT.ok);
    for (const line of ['0  success', '1  with --wait', '2  usage error or invalid spec', '3  migration not found', '4  request rejected', '5  cannot reach Temporal']) {
      expect(r.stdout).toContain(line);
    }
  });

  it('exits 5 when Temporal cannot be reached, and never prints the API key', () => {
    const r = spawnSync(bin, ['--connect-timeout', '1', 'status', 'demo'], {
      cwd: os.tmpdir(),
      env: { ...offline, TEMPORAL_API_KEY: 'sekret-api-key-123' },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(r.status).toBe(EXIT.unreachable);
    expect(r.stderr).toMatch(/cannot reach Temporal at 127\.0\.0\.1:1/);
    expect(r.stdout + r.stderr).not.toContain('sekret-api-key-123');
  });
});

describe('ferry (in process)', () => {
  it('validate-spec --json prints the spec with defaults', async () => {
    const c = captureIo();
    const code = await main(['validate-spec', '--json', path.join(root, 'examples/demo.yaml')], c.io);
    expect(code).toBe(EXIT.ok);
    const spec = JSON.parse(c.out()) as { name: string; tables: unknown; source: { port: number } };
    expect(spec.name).toBe('demo');
    expect(spec.tables).toEqual({ include: ['*.*'], exclude: [] });
  });

  it('an unknown key is named on stderr with exit 2', async () => {
    const file = tempSpec('typo.yaml', 'name: demo\nsource: {host: a, database: d, user: u}\ntarget: {host: b, database: d, user: u}\nparalelism: 3\n');
    const c = captureIo();
    expect(await main(['validate-spec', file], c.io)).toBe(EXIT.usage);
    expect(c.err()).toContain('paralelism: is not a known field');
  });

  it('maps each failure a script can act on to its exit code', () => {
    expect(exitCodeFor(new UsageError('x'))).toBe(2);
    expect(exitCodeFor(new SpecFileError('f', 'syntax', 'f: bad'))).toBe(2);
    expect(exitCodeFor(new MigrationNotFoundError('ferry-x'))).toBe(3);
    expect(exitCodeFor(new RequestRejectedError('ferry-x', 'approve', 'not yet'))).toBe(4);
    expect(exitCodeFor(new MigrationAlreadyRunningError('ferry-x'))).toBe(4);
    expect(exitCodeFor(new RequestTimedOutError('ferry-x', 'retry', 30))).toBe(4);
    expect(exitCodeFor(new TemporalUnreachableError('h:1', 'default'))).toBe(5);
    expect(exitCodeFor(new Error('boom'))).toBe(1);
  });

  it('accepts a migration name or a workflow id', () => {
    expect(migrationIdFrom('demo')).toBe('ferry-demo');
    expect(migrationIdFrom('ferry-demo')).toBe('ferry-demo');
    expect(() => migrationIdFrom('  ')).toThrow();
  });
});

describe('status rendering', () => {
  const now = Date.parse('2026-01-01T10:10:00Z');
  const progress: MigrationProgress = {
    migrationId: 'ferry-demo',
    name: 'demo',
    engine: 'native-postgres',
    mode: 'offline',
    phase: 'full_load',
    tables: [
      { source: 'public.orders', target: 'public.orders', rows: 1000, bytes: 50_000_000, estimatedBytes: 100_000_000, chunksDone: 2, chunksTotal: 4 },
      { source: 'legacy.audit_log', target: 'archive.audit_log', rows: 10, bytes: 1000, estimatedBytes: 1000, chunksDone: 1, chunksTotal: 1 },
    ],
    totals: { rows: 1010, bytes: 50_001_000, estimatedBytes: 100_001_000, chunksDone: 3, chunksTotal: 5 },
    timings: [
      { phase: 'precheck', startedAt: '2026-01-01T10:00:00Z', endedAt: '2026-01-01T10:01:00Z' },
      { phase: 'full_load', startedAt: '2026-01-01T10:05:00Z' },
    ],
    precheck: {
      status: 'warning',
      items: [
        { id: 'wal-level', status: 'pass', message: 'wal_level is logical' },
        { id: 'no-key:public.notes', status: 'warning', message: 'no primary key', remedy: 'add one', acknowledged: true },
      ],
    },
    lastError: { step: 'full_load', message: 'connection reset by peer', type: 'ConnectionLost', at: '2026-01-01T10:06:00Z' },
    validation: {
      level: 'checksums',
      status: 'mismatch',
      tables: [
        { source: 'public.orders', target: 'public.orders', status: 'mismatch', sourceRows: 1000, targetRows: 999, sourceChecksum: 'a', targetChecksum: 'b' },
      ],
    },
    cutover: { approved: true, approvedBy: 'alice', waitingFor: [] },
    abortRequested: false,
  };
  const status: MigrationStatus = {
    id: 'ferry-demo',
    runId: 'r1',
    name: 'demo',
    phase: 'full_load',
    status: 'RUNNING',
    startTime: new Date('2026-01-01T10:00:00Z'),
    running: true,
    progress,
  };

  it('shows phase, a bar per table and a total with rows, bytes and ETA', () => {
    const text = renderStatus(status, now);
    expect(text).toContain('phase    full_load');
    expect(text).toMatch(/public\.orders\s+\[#{12}-{12}\] 50%\s+1,000 rows, 50\.0 MB of ~100\.0 MB/);
    expect(text).toMatch(/legacy\.audit_log -> archive\.audit_log\s+\[#{24}\] 100%/);
    // Half the bytes in 5 minutes: about 5 more minutes.
    expect(text).toMatch(/total\s+\[#+-+\] 50%\s+1,010 rows, 50\.0 MB of ~100\.0 MB, ETA 5m00s/);
  });

  it('counts the chunks in flight (from heartbeats) toward their tables, the total and the ETA; a done table gets none', () => {
    const live: MigrationStatus = {
      ...status,
      inFlight: [
        { table: 'public.orders', chunkId: '"public"."orders"#ctid[100,200)', rows: 500, bytes: 25_000_000 },
        { table: 'legacy.audit_log', chunkId: '"legacy"."audit_log"', rows: 10, bytes: 1000 }, // done meanwhile: not again
      ],
    };
    const p = liveProgress(live)!;
    expect(p.tables[0]).toMatchObject({ rows: 1500, bytes: 75_000_000, chunksDone: 2 });
    expect(p.tables[1]).toMatchObject({ rows: 10, bytes: 1000 });
    expect(p.totals).toMatchObject({ rows: 1510, bytes: 75_001_000 });
    expect(progress.tables[0]!.bytes).toBe(50_000_000); // the status itself is left as it was
    const text = renderStatus(live, now);
    expect(text).toMatch(/public\.orders\s+\[#{18}-{6}\] 75%\s+1,500 rows, 75\.0 MB of ~100\.0 MB/);
    // Three quarters in 5 minutes: 1m40s more.
    expect(text).toMatch(/total\s+\[#+-+\] 75%\s+1,510 rows, 75\.0 MB of ~100\.0 MB, ETA 1m40s/);
    expect(liveProgress(status)).toBe(progress);
  });

  it('shows the precheck items, the last error and the validation table', () => {
    const text = renderStatus(status, now);
    expect(text).toContain('[pass] wal-level: wal_level is logical');
    expect(text).toContain('[warn (acknowledged)] no-key:public.notes: no primary key');
    expect(text).toMatch(/Last error \(step full_load, ConnectionLost/);
    expect(text).toContain('connection reset by peer');
    expect(text).toContain('Validation (checksums): mismatch');
    expect(text).toMatch(/public\.orders\s+1,000\s+999\s+differs\s+mismatch/);
  });

  it('shows the replication lag when the workflow reports one', () => {
    expect(renderStatus({ ...status, progress: { ...progress, lagSeconds: 3 } }, now)).toMatch(/lag\s+3s/);
  });

  it('explains a missing progress instead of failing', () => {
    const text = renderStatus({ ...status, progress: undefined, progressUnavailable: 'no worker answered' }, now);
    expect(text).toContain('progress unavailable: no worker answered');
  });

  it('exit code after waiting: 0 only for a completed migration', () => {
    const result = { migrationId: 'ferry-demo', progress };
    expect(outcomeExitCode({ ...status, running: false, result: { ...result, outcome: 'completed' } })).toBe(0);
    expect(outcomeExitCode({ ...status, running: false, result: { ...result, outcome: 'aborted' } })).toBe(1);
    expect(outcomeExitCode({ ...status, running: false, status: 'TERMINATED', failure: 'ops' })).toBe(1);
    expect(outcomeExitCode({ ...status, progress: { ...progress, phase: 'failed' } })).toBe(1);
  });

  it('formats sizes, durations, bars and progress fractions', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(1_500_000)).toBe('1.50 MB');
    expect(formatDuration(59)).toBe('59s');
    expect(formatDuration(3725)).toBe('1h02m');
    expect(staticBar(0.5, 4)).toBe('[##--]');
    expect(staticBar(Number.NaN, 2)).toBe('[--]');
    // COPY bytes only estimate: 100% only when every chunk is done.
    expect(fractionDone({ bytes: 200, estimatedBytes: 100, chunksDone: 1, chunksTotal: 2 })).toBe(0.99);
    expect(fractionDone({ bytes: 50, estimatedBytes: 100, chunksDone: 2, chunksTotal: 2 })).toBe(1);
    expect(etaSeconds({ ...progress, phase: 'validate' }, now)).toBeUndefined();
  });

  it('lists migrations as a table', () => {
    const text = renderList([{ id: 'ferry-demo', runId: 'r', name: 'demo', phase: 'completed', status: 'COMPLETED', startTime: new Date(now - 90_000) }], now);
    expect(text.split('\n')[0]).toMatch(/^NAME\s+PHASE\s+STATUS\s+STARTED\s+ID$/);
    expect(text).toMatch(/demo\s+completed\s+COMPLETED\s+1m30s ago\s+ferry-demo/);
    expect(renderList([], now)).toBe('no migrations found');
  });
});
