// ferry: the command line over client/index.ts (kept thin: parsing, printing, exit codes).
//
//   ferry start SPEC [--wait] [--json]          validate SPEC (YAML/JSON, `-` = stdin) and start it
//   ferry status ID [--watch|--wait-end] [--json]   phase, per-table progress, precheck, errors, validation
//   ferry approve ID [--by NAME] [--comment T]  approve the cutover (Update; the validator may refuse)
//   ferry acknowledge ID [WARNING...] [--by N]  accept precheck warnings (all when none named)
//   ferry abort ID [--reason TEXT]              abort: compensations run, the source is left as it was
//   ferry retry ID                              re-run the step a failed migration stopped at
//   ferry validate ID [--now] [--json]          the validation report; --now: validate during CDC (Update)
//   ferry list [--phase P] [--running] [--limit N] [--json]
//   ferry validate-spec SPEC [--json]           validate locally, print the spec with defaults
//
// ID is the workflow id (`ferry-demo`) or the migration name (`demo`; `ferry-` is prepended).
//
// Exit codes (scripts rely on them; keep EXIT_CODES_HELP in step):
//   0  success; with --wait / --watch / --wait-end: the migration completed
//   1  with --wait, --watch, --wait-end: the migration ended aborted, or failed (waits in phase
//      `failed` for retry/abort; --watch keeps following it), was cancelled or terminated
//   2  usage error or invalid spec (the message names the file and every bad field)
//   3  migration not found
//   4  request rejected (approval refused by the validator, nothing to retry, name already running, ...)
//      or not answered (no worker accepted the update within 30 s)
//   5  cannot reach Temporal (address, TLS or API key wrong, server down, broken config profile)
//
// Output never contains a secret: specs hold only secret references, and connection settings
// are printed through describeConnection (no API key, certificates or header values).
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { MultiBar, type SingleBar } from 'cli-progress';
import { stringify as toYaml } from 'yaml';
import { renderValidationText } from '../workflows/validationText';
import { startCodecServer } from './codecServer';
import {
  ConnectionConfigError,
  FerryClient,
  loadSpecFile,
  liveProgress,
  migrationIdFrom,
  MigrationAlreadyRunningError,
  MigrationFailedError,
  MigrationNotFoundError,
  PHASES,
  RequestRejectedError,
  SpecError,
  SpecFileError,
  TemporalUnreachableError,
  type MigrationProgress,
  type MigrationStatus,
  type MigrationSummary,
  type Phase,
  type TableProgress,
} from './index';

export const EXIT = { ok: 0, failed: 1, usage: 2, notFound: 3, rejected: 4, unreachable: 5 } as const;

export const EXIT_CODES_HELP = `
Exit codes:
  0  success; with --wait, --watch or --wait-end: the migration completed
  1  with --wait, --watch or --wait-end: the migration ended aborted, or failed (waits in phase
     failed for 'ferry retry' or 'ferry abort'), was cancelled or terminated
  2  usage error or invalid spec
  3  migration not found
  4  request rejected (e.g. approval refused by the workflow, nothing to retry, name already running)
     or not answered in time (no worker running)
  5  cannot reach Temporal

ID is a workflow id (ferry-demo) or a migration name (demo).
Temporal settings: TEMPORAL_ADDRESS (default 127.0.0.1:7233), TEMPORAL_NAMESPACE, TEMPORAL_API_KEY,
TEMPORAL_TLS*, TEMPORAL_PROFILE / TEMPORAL_CONFIG_FILE; FERRY_TASK_QUEUE (default ferry).`;

/** A mistake in how the command was called: exit 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** Where the CLI writes: replaceable so tests can capture it. */
export interface Io {
  out: NodeJS.WriteStream | NodeJS.WritableStream;
  err: NodeJS.WritableStream;
  isTTY: boolean;
}

export function exitCodeFor(err: unknown): number {
  if (err instanceof UsageError || err instanceof SpecFileError || err instanceof SpecError) return EXIT.usage;
  if (err instanceof MigrationNotFoundError) return EXIT.notFound;
  if (err instanceof RequestRejectedError || err instanceof MigrationAlreadyRunningError) return EXIT.rejected;
  if (err instanceof TemporalUnreachableError || err instanceof ConnectionConfigError) return EXIT.unreachable;
  if (err instanceof MigrationFailedError) return EXIT.failed;
  return EXIT.failed;
}

// ------------------------------------------------------------------------------- formatting

export function formatBytes(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return i === 0 ? `${v} B` : `${v.toFixed(v < 10 ? 2 : 1)} ${units[i]}`;
}

export function formatCount(n: number): string {
  return n.toLocaleString('en-US');
}

export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  const h = Math.floor(m / 60);
  return `${h}h${String(m % 60).padStart(2, '0')}m`;
}

/** A bar that needs no terminal: for pipes, logs and `status` without --watch. */
export function staticBar(fraction: number, width = 24): string {
  const f = Math.min(1, Math.max(0, Number.isFinite(fraction) ? fraction : 0));
  const full = Math.round(f * width);
  return `[${'#'.repeat(full)}${'-'.repeat(width - full)}]`;
}

/**
 * How far a table (or the total) is. Bytes copied are COPY bytes, not pg_table_size, so they only
 * estimate; finished chunks are exact, so 100% is shown only when every chunk is done.
 */
export function fractionDone(t: Pick<TableProgress, 'bytes' | 'estimatedBytes' | 'chunksDone' | 'chunksTotal'>): number {
  if (t.chunksTotal > 0 && t.chunksDone >= t.chunksTotal) return 1;
  if (t.estimatedBytes > 0) return Math.min(t.bytes / t.estimatedBytes, 0.99);
  if (t.chunksTotal > 0) return t.chunksDone / t.chunksTotal;
  return 0;
}

/** Seconds left in the full load at the rate seen so far; undefined outside it or before any data. */
export function etaSeconds(p: MigrationProgress, now = Date.now()): number | undefined {
  if (p.phase !== 'full_load') return undefined;
  const started = [...p.timings].reverse().find((t) => t.phase === 'full_load');
  if (!started) return undefined;
  const elapsed = (now - Date.parse(started.startedAt)) / 1000;
  const f = fractionDone(p.totals);
  if (elapsed <= 0 || f <= 0) return undefined;
  if (f >= 1) return 0;
  return (elapsed * (1 - f)) / f;
}

function pad(s: string, n: number): string {
  return s.length >= n ? s : s + ' '.repeat(n - s.length);
}

function tableLabel(t: TableProgress): string {
  return t.source === t.target ? t.source : `${t.source} -> ${t.target}`;
}

function phaseDurations(p: MigrationProgress, now: number): string {
  // One entry per phase, summed (a retried step appears once).
  const sums = new Map<Phase, number>();
  for (const t of p.timings) {
    if (t.phase === 'completed' || t.phase === 'aborted') continue;
    const end = t.endedAt ? Date.parse(t.endedAt) : now;
    sums.set(t.phase, (sums.get(t.phase) ?? 0) + (end - Date.parse(t.startedAt)) / 1000);
  }
  return [...sums].map(([phase, s]) => `${phase} ${formatDuration(s)}`).join(', ');
}

const CHECK_LABEL = { pass: 'pass', warning: 'warn', fail: 'FAIL' } as const;

/** The human `ferry status` view. Pure: tests call it with a fixed `now`. */
export function renderStatus(s: MigrationStatus, now = Date.now()): string {
  const lines: string[] = [];
  const p = liveProgress(s); // chunks in flight count toward their tables
  const phase = p?.phase ?? s.phase ?? 'unknown';
  lines.push(`Migration ${s.name} (${s.id})`);
  lines.push(`  status   ${s.status}${s.running ? '' : s.closeTime ? ` at ${s.closeTime.toISOString()}` : ''}`);
  lines.push(`  phase    ${phase}${p?.failedStep ? ` (step ${p.failedStep} failed; 'ferry retry ${s.name}' or 'ferry abort ${s.name}')` : ''}`);
  if (p) lines.push(`  engine   ${p.engine}, ${p.mode}`);
  lines.push(`  started  ${s.startTime.toISOString()} (${formatDuration((now - s.startTime.getTime()) / 1000)} ago)`);
  if (p?.abortRequested && s.running) lines.push('  abort    requested: compensations are running');
  if (s.result) {
    const r = s.result;
    const extra = r.downtimeSeconds !== undefined ? `, downtime ${formatDuration(r.downtimeSeconds)}` : '';
    lines.push(`  outcome  ${r.outcome}${extra}`);
  }
  if (s.failure) lines.push(`  failure  ${s.failure}`);
  if (s.progressUnavailable) lines.push(`  progress unavailable: ${s.progressUnavailable}`);
  if (!p) return lines.join('\n');

  if (p.lagSeconds !== undefined) lines.push(`  lag      ${formatDuration(p.lagSeconds)} (replication lag of the changes not yet applied)`);
  if (p.phase === 'awaiting_cutover' && p.cutover.waitingFor.length > 0) {
    lines.push(`  cutover  waiting for ${p.cutover.waitingFor.join(' and ')}${p.cutover.waitingFor.includes('approval') ? ` ('ferry approve ${s.name}')` : ''}`);
  } else if (p.cutover.approved) {
    lines.push(`  cutover  approved by ${p.cutover.approvedBy ?? 'unknown'}`);
  }
  if (p.phase === 'awaiting_acknowledgement') {
    lines.push(`  precheck warnings wait for acknowledgement ('ferry acknowledge ${s.name} [WARNING-ID...]')`);
  }

  if (p.precheck) {
    lines.push('', `Precheck: ${p.precheck.status}`);
    for (const item of p.precheck.items) {
      const label = `${CHECK_LABEL[item.status]}${item.status === 'warning' && item.acknowledged ? ' (acknowledged)' : ''}`;
      lines.push(`  [${label}] ${item.id}: ${item.message}`);
      if (item.remedy && item.status !== 'pass') lines.push(`      remedy: ${item.remedy}`);
    }
  }

  if (p.tables.length > 0) {
    const done = p.tables.filter((t) => t.chunksTotal > 0 && t.chunksDone >= t.chunksTotal).length;
    lines.push('', `Tables (${done}/${p.tables.length} done):`);
    const width = Math.min(48, Math.max(...p.tables.map((t) => tableLabel(t).length), 5));
    for (const t of p.tables) {
      const f = fractionDone(t);
      lines.push(
        `  ${pad(tableLabel(t), width)} ${staticBar(f)} ${pad(`${Math.floor(f * 100)}%`, 4)} ${formatCount(t.rows)} rows, ${formatBytes(t.bytes)} of ~${formatBytes(t.estimatedBytes)}`,
      );
    }
    const f = fractionDone(p.totals);
    const eta = etaSeconds(p, now);
    lines.push(
      `  ${pad('total', width)} ${staticBar(f)} ${pad(`${Math.floor(f * 100)}%`, 4)} ${formatCount(p.totals.rows)} rows, ${formatBytes(p.totals.bytes)} of ~${formatBytes(p.totals.estimatedBytes)}${eta !== undefined ? `, ETA ${formatDuration(eta)}` : ''}`,
    );
  }

  const task = p.dms?.task;
  if (task) {
    lines.push('', `DMS task ${task.taskId}: ${task.status}, full load ${task.fullLoadPercent}% (${task.tablesLoaded} loaded, ${task.tablesLoading} loading, ${task.tablesQueued} queued, ${task.tablesErrored} errored)`);
    if (task.failure) lines.push(`  ${task.failure}`);
  }
  if (p.dms && p.dms.tables.length > 0) {
    const width = Math.min(48, Math.max(...p.dms.tables.map((t) => `${t.schema}.${t.table}`.length), 5));
    for (const t of p.dms.tables) {
      const changes = `+${formatCount(t.inserts)} ~${formatCount(t.updates)} -${formatCount(t.deletes)}`;
      lines.push(`  ${pad(`${t.schema}.${t.table}`, width)} ${pad(t.state, 16)} ${formatCount(t.fullLoadRows)} rows loaded, changes ${changes}${t.validationState ? `, validation ${t.validationState}` : ''}`);
    }
  }

  if (p.lastError) {
    const e = p.lastError;
    lines.push('', `Last error (step ${e.step}${e.type ? `, ${e.type}` : ''}, ${e.at}):`);
    for (const l of e.message.split('\n')) lines.push(`  ${l}`);
  }

  if (p.validation) {
    const v = p.validation;
    lines.push('', `Validation (${v.level}): ${v.status}`);
    if (v.tables.length > 0) {
      const rows = v.tables.map((t) => [
        t.source === t.target ? t.source : `${t.source} -> ${t.target}`,
        formatCount(t.sourceRows),
        formatCount(t.targetRows),
        t.sourceChecksum === undefined ? '-' : t.sourceChecksum === t.targetChecksum ? 'same' : 'differs',
        t.status + (t.reason ? ` (${t.reason})` : ''),
      ]);
      const head = ['table', 'source rows', 'target rows', 'checksum', 'status'];
      const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
      const fmt = (r: string[]) => `  ${r.map((c, i) => (i === 1 || i === 2 ? c.padStart(widths[i]!) : pad(c, widths[i]!))).join('  ')}`.trimEnd();
      lines.push(fmt(head), ...rows.map(fmt));
    }
  }

  const live = p.liveValidation;
  if (live) {
    if (live.state === 'running') lines.push('', `Validation during CDC: running since ${live.startedAt}${live.requestedBy ? ` (requested by ${live.requestedBy})` : ''}`);
    else if (live.state === 'failed') lines.push('', `Validation during CDC: ${live.error ?? 'failed'}`);
    else if (live.report) lines.push('', ...renderValidationText(live.report).split('\n').map((l, i) => (i === 0 ? `${l.replace(/^Validation/, 'Validation during CDC')}` : l)));
  }

  if (p.timings.length > 0) lines.push('', `Timings: ${phaseDurations(p, now)}`);
  return lines.join('\n');
}

/** One line for logs and pipes while waiting. */
export function progressLine(s: MigrationStatus, now = Date.now()): string {
  const p = liveProgress(s);
  const phase = p?.phase ?? s.phase ?? 'unknown';
  let line = `${new Date(now).toISOString()} ${s.id} ${phase}`;
  if (p && p.phase === 'full_load' && p.totals.chunksTotal > 0) {
    const eta = etaSeconds(p, now);
    line += ` ${Math.floor(fractionDone(p.totals) * 100)}% (${formatCount(p.totals.rows)} rows, ${formatBytes(p.totals.bytes)} of ~${formatBytes(p.totals.estimatedBytes)}${eta !== undefined ? `, ETA ${formatDuration(eta)}` : ''})`;
  }
  if (p?.lagSeconds !== undefined) line += ` lag ${formatDuration(p.lagSeconds)}`;
  if (p?.phase === 'awaiting_cutover' && p.cutover.waitingFor.length > 0) line += ` waiting for ${p.cutover.waitingFor.join(' and ')}`;
  if (p?.phase === 'failed' && p.lastError) line += `: ${p.lastError.message.split('\n')[0]}`;
  return line;
}

export function renderList(rows: MigrationSummary[], now = Date.now()): string {
  if (rows.length === 0) return 'no migrations found';
  const table = rows.map((r) => [r.name, r.phase ?? '-', r.status, `${formatDuration((now - r.startTime.getTime()) / 1000)} ago`, r.id]);
  const head = ['NAME', 'PHASE', 'STATUS', 'STARTED', 'ID'];
  const widths = head.map((h, i) => Math.max(h.length, ...table.map((r) => r[i]!.length)));
  return [head, ...table].map((r) => r.map((c, i) => pad(c, widths[i]!)).join('  ').trimEnd()).join('\n');
}

function statusJson(s: MigrationStatus): unknown {
  // result.progress is the same object as progress: print it once.
  const result = s.result ? { ...s.result, progress: undefined } : undefined;
  return { ...s, result, startTime: s.startTime.toISOString(), closeTime: s.closeTime?.toISOString() };
}

// ------------------------------------------------------------------------------- watching

/** Exit code for a migration that has ended (or waits in `failed`): 0 only for outcome `completed`. */
export function outcomeExitCode(s: MigrationStatus): number {
  return s.result?.outcome === 'completed' ? EXIT.ok : EXIT.failed;
}

interface WatchOptions {
  intervalMs: number;
  /** live: cli-progress bars (TTY); lines: a line per change (pipes, logs); quiet: nothing until the end. */
  view: 'live' | 'lines' | 'json-lines' | 'quiet';
  /**
   * Also stop when the migration waits in phase `failed` (for --wait and --wait-end: a script
   * must not hang on a migration that needs a person; it can still be retried or aborted).
   */
  stopOnFailed: boolean;
}

/**
 * Poll until the workflow closes; show progress on the way. Returns the final status. Progress is
 * polled every intervalMs, but the end is noticed at once: a long poll on the result cuts the
 * wait short, so a script waiting on a migration does not lose up to an interval at the end.
 */
async function watch(ferry: FerryClient, id: string, io: Io, options: WatchOptions): Promise<MigrationStatus> {
  const live = options.view === 'live' ? new LiveView(io) : undefined;
  let lastLine = '';
  let lastLineAt = 0;
  // Set when the workflow closes, whatever its outcome (the status call below reports it). Any
  // other error of the long poll (Temporal unreachable for a while) leaves the interval polling.
  // Aborted when watching ends, so a pending long poll does not keep the process alive.
  let closed = false;
  let wake: (() => void) | undefined;
  const stopFollowing = new AbortController();
  void ferry.result(id, { signal: stopFollowing.signal }).then(
    () => true,
    (err: unknown) => err instanceof MigrationFailedError,
  ).then((ended) => {
    closed = ended;
    if (ended) wake?.();
  });
  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      // Once only: a new run under the same id (a name reused) is polled at the interval again.
      if (closed) {
        closed = false;
        return resolve();
      }
      const timer = setTimeout(resolve, ms);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  try {
    for (;;) {
      if (options.view === 'quiet' && !closed) {
        // Nothing is shown until the end: the server's description (status and the FerryPhase
        // search attribute) says when that is, without querying the workflow at every poll.
        // (Once the long poll has seen the end, the status call below is all that is left.)
        const d = await ferry.describe(id);
        if (d.status === 'RUNNING' && !(options.stopOnFailed && d.phase === 'failed')) {
          await pause(options.intervalMs);
          continue;
        }
      }
      const s = await ferry.status(id);
      if (live) live.update(s);
      else if (options.view === 'json-lines') io.out.write(`${JSON.stringify(statusJson(s))}\n`);
      else if (options.view === 'lines') {
        // A line when something changed, and at most every 10 s while only counters move.
        const line = progressLine(s);
        const key = line.replace(/^\S+ /, '').replace(/ \d+% .*$/, '');
        if (key !== lastLine || Date.now() - lastLineAt > 10_000) {
          io.out.write(`${line}\n`);
          lastLine = key;
          lastLineAt = Date.now();
        }
      }
      // The phase from the workflow, or from the server when the workflow did not answer the query.
      if (!s.running || (options.stopOnFailed && (s.progress?.phase ?? s.phase) === 'failed')) return s;
      await pause(options.intervalMs);
    }
  } finally {
    stopFollowing.abort();
    live?.stop();
  }
}

/** The TTY view: phase changes as lines above one cli-progress bar per table and a total. */
class LiveView {
  private bars: MultiBar | undefined;
  private readonly byTable = new Map<string, SingleBar>();
  private total: SingleBar | undefined;
  private lastPhase: string | undefined;
  private lastError: string | undefined;
  private labelWidth = 5;

  constructor(private readonly io: Io) {}

  private say(text: string): void {
    if (this.bars) this.bars.log(`${text}\n`);
    else this.io.out.write(`${text}\n`);
  }

  update(s: MigrationStatus): void {
    const p = liveProgress(s);
    const phase = p?.phase ?? s.phase ?? 'unknown';
    if (phase !== this.lastPhase) {
      this.say(progressLine(s));
      this.lastPhase = phase;
    }
    if (p?.lastError && p.lastError.at !== this.lastError) {
      this.say(`  step ${p.lastError.step} failed: ${p.lastError.message}`);
      this.lastError = p.lastError.at;
    }
    // Bars only while there is something to follow; the final render shows the end state.
    if (!p || p.tables.length === 0 || (!s.running && !this.bars)) return;
    if (!this.bars) {
      this.labelWidth = Math.min(30, Math.max(...p.tables.map((t) => tableLabel(t).length), 5));
      this.bars = new MultiBar({
        stream: this.io.out,
        format: '{label} |{bar}| {pct} {detail}',
        barsize: 20,
        hideCursor: true,
        clearOnComplete: false,
        autopadding: true,
        barCompleteChar: '#',
        barIncompleteChar: '-',
      });
    }
    for (const t of p.tables) {
      const payload = this.payload(tableLabel(t), t, '');
      const bar = this.byTable.get(t.source);
      if (bar) bar.update(Math.round(fractionDone(t) * 1000), payload);
      else this.byTable.set(t.source, this.bars.create(1000, Math.round(fractionDone(t) * 1000), payload));
    }
    const eta = etaSeconds(p);
    const totalPayload = this.payload('total', p.totals, eta !== undefined ? `, ETA ${formatDuration(eta)}` : '');
    // The total stays the last bar: recreate it below tables that appeared since.
    if (this.total) this.bars.remove(this.total);
    this.total = this.bars.create(1000, Math.round(fractionDone(p.totals) * 1000), totalPayload);
  }

  private payload(label: string, t: Pick<TableProgress, 'rows' | 'bytes' | 'estimatedBytes' | 'chunksDone' | 'chunksTotal'>, extra: string) {
    const f = fractionDone(t);
    return {
      label: label.length > this.labelWidth ? `${label.slice(0, this.labelWidth - 1)}~` : pad(label, this.labelWidth),
      pct: pad(`${Math.floor(f * 100)}%`, 4),
      detail: `${formatCount(t.rows)} rows ${formatBytes(t.bytes)}/${formatBytes(t.estimatedBytes)}${extra}`,
    };
  }

  stop(): void {
    this.bars?.stop();
    this.bars = undefined;
  }
}

// ------------------------------------------------------------------------------- commands

function positiveInt(what: string) {
  return (raw: string): number => {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${what} must be a positive integer`);
    return n;
  };
}

function positiveNumber(what: string) {
  return (raw: string): number => {
    const n = Number(raw);
    if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`${what} must be a positive number`);
    return n;
  };
}

function portNumber(what: string) {
  return (raw: string): number => {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError(`${what} must be a port number (0-65535), not '${raw}'`);
    return n;
  };
}

function nonNegativeInt(what: string) {
  return (raw: string): number => {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`${what} must be a non-negative integer`);
    return n;
  };
}

function idArg(raw: string): string {
  try {
    return migrationIdFrom(raw);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

function defaultApprover(): string | undefined {
  return process.env.FERRY_USER || process.env.USER || process.env.USERNAME || undefined;
}

/** The program, with every command wired to `io` and a lazily connected client. */
export function buildProgram(io: Io, setExit: (code: number) => void, clients: { connect(timeoutMs: number): Promise<FerryClient> }): Command {
  const program = new Command('ferry');
  let ferry: FerryClient | undefined;
  const client = async (): Promise<FerryClient> => {
    const seconds = program.opts<{ connectTimeout: number }>().connectTimeout;
    ferry ??= await clients.connect(seconds * 1000);
    return ferry;
  };
  const print = (text: string) => io.out.write(`${text}\n`);
  const printJson = (value: unknown) => io.out.write(`${JSON.stringify(value, null, 2)}\n`);

  program
    .description('Ferry: database migrations as durable Temporal workflows')
    .version('0.1.0')
    .addOption(new Option('--connect-timeout <seconds>', 'how long to wait for Temporal').default(10).argParser(positiveNumber('--connect-timeout')))
    .showHelpAfterError('(run ferry --help for usage)')
    .addHelpText('after', EXIT_CODES_HELP)
    .configureOutput({ writeOut: (s) => io.out.write(s), writeErr: (s) => io.err.write(s) })
    .exitOverride();

  program
    .command('start')
    .description('validate a spec file and start its migration (workflow ferry-<name>)')
    .argument('<spec>', 'spec file (.yaml, .yml or .json; - for stdin)')
    .option('--wait', 'wait for the migration to end (or to wait in phase failed); exit 0 if it completed, 1 otherwise')
    .option('--json', 'print JSON')
    .action(async (file: string, opts: { wait?: boolean; json?: boolean }) => {
      const spec = loadSpecFile(file); // before connecting: a bad spec never needs Temporal
      const f = await client();
      const started = await f.startMigration(spec);
      if (!opts.wait) {
        if (opts.json) printJson({ id: started.id, runId: started.runId, name: started.name });
        else print(`started migration ${started.name} as workflow ${started.id}\n  follow it: ferry status ${started.name} --watch`);
        return;
      }
      if (!opts.json) print(`started migration ${started.name} as workflow ${started.id}; waiting for it to end`);
      const final = await watch(f, started.id, io, { intervalMs: 2000, view: opts.json ? 'quiet' : io.isTTY ? 'live' : 'lines', stopOnFailed: true });
      if (opts.json) printJson(statusJson(final));
      else print(`\n${renderStatus(final)}`);
      setExit(outcomeExitCode(final));
    });

  program
    .command('status')
    .description('show a migration: phase, per-table progress with ETA, precheck, last error, validation')
    .argument('<id>', 'workflow id or migration name')
    .option('--watch', 'follow the migration until its workflow closes (live bars on a terminal); exit 0 if it completed, 1 otherwise')
    .option('--wait-end', 'wait quietly until it ends or waits in phase failed, then print; exit 0 if it completed, 1 otherwise')
    .addOption(new Option('--interval <seconds>', 'poll interval for --watch').default(2).argParser(positiveNumber('--interval')))
    .option('--json', 'print JSON (with --watch: one JSON object per line)')
    .action(async (raw: string, opts: { watch?: boolean; waitEnd?: boolean; json?: boolean; interval: number }) => {
      const id = idArg(raw);
      const f = await client();
      if (!opts.watch && !opts.waitEnd) {
        const s = await f.status(id);
        if (opts.json) printJson(statusJson(s));
        else print(renderStatus(s));
        return;
      }
      const view = opts.waitEnd ? 'quiet' : opts.json ? 'json-lines' : io.isTTY ? 'live' : 'lines';
      const final = await watch(f, id, io, { intervalMs: opts.interval * 1000, view, stopOnFailed: Boolean(opts.waitEnd) });
      if (opts.json && view === 'quiet') printJson(statusJson(final));
      else if (!opts.json) print(view === 'quiet' ? renderStatus(final) : `\n${renderStatus(final)}`);
      setExit(outcomeExitCode(final));
    });

  program
    .command('approve')
    .description('approve the cutover (refused before the gate, twice, or during an abort: exit 4)')
    .argument('<id>', 'workflow id or migration name')
    .option('--by <name>', 'who approves (default: $FERRY_USER or $USER)')
    .option('--comment <text>', 'recorded with the approval')
    .option('--json', 'print the progress after approval as JSON')
    .action(async (raw: string, opts: { by?: string; comment?: string; json?: boolean }) => {
      const id = idArg(raw);
      const by = opts.by ?? defaultApprover();
      const progress = await (await client()).approveCutover(id, { ...(by ? { by } : {}), ...(opts.comment ? { comment: opts.comment } : {}) });
      if (opts.json) printJson(progress);
      else {
        const waiting = progress.cutover.waitingFor.filter((w) => w !== 'approval');
        print(`cutover of ${id} approved by ${progress.cutover.approvedBy ?? by ?? 'unknown'}${waiting.length ? `; still waiting for ${waiting.join(' and ')}` : ''}`);
      }
    });

  program
    .command('acknowledge')
    .description('accept precheck warnings so a held migration goes on (all warnings when none are named)')
    .argument('<id>', 'workflow id or migration name')
    .argument('[warnings...]', 'warning ids or prefixes ending in * (e.g. no-key:*)')
    .option('--by <name>', 'who accepts (default: $FERRY_USER or $USER)')
    .action(async (raw: string, warnings: string[], opts: { by?: string }) => {
      const id = idArg(raw);
      const by = opts.by ?? defaultApprover();
      const progress = await (await client()).acknowledgeWarnings(id, { ...(warnings.length ? { ids: warnings } : {}), ...(by ? { by } : {}) });
      print(`precheck warnings of ${id} acknowledged (${warnings.length ? warnings.join(', ') : 'all'}); precheck: ${progress.precheck?.status ?? 'unknown'}`);
    });

  program
    .command('abort')
    .description('abort at any phase: compensations run, the source is left as it was, then the workflow ends')
    .argument('<id>', 'workflow id or migration name')
    .option('--reason <text>', 'recorded in the workflow history')
    .action(async (raw: string, opts: { reason?: string }) => {
      const id = idArg(raw);
      await (await client()).abort(id, opts.reason);
      print(`abort requested for ${id}; follow the compensation with: ferry status ${id} --watch`);
    });

  program
    .command('retry')
    .description('re-run the step a failed migration stopped at (refused unless it waits in phase failed)')
    .argument('<id>', 'workflow id or migration name')
    .action(async (raw: string) => {
      const id = idArg(raw);
      const { step } = await (await client()).retry(id);
      print(`retrying step ${step} of ${id}`);
    });

  program
    .command('validate')
    .description(
      'print the per-table validation report of a migration (exit 0 match, 1 mismatch, 3 none yet); with --now, validate an online migration during change capture and wait for the report (refused outside phase cdc: exit 4)',
    )
    .argument('<id>', 'workflow id or migration name')
    .option('--json', 'print the report as JSON')
    .option('--now', 'validate now, while change capture streams (Update validateNow): differences are compared again once the target caught up; only persisting ones are reported')
    .option('--by <name>', 'with --now: who asks (default: $FERRY_USER or $USER)')
    .addOption(new Option('--catch-up-timeout <seconds>', 'with --now: how long each re-check waits for the target to catch up').argParser(positiveNumber('--catch-up-timeout')))
    .addOption(new Option('--rechecks <n>', 'with --now: re-check rounds at most (0-10, default 3)').argParser(nonNegativeInt('--rechecks')))
    .addOption(new Option('--timeout <seconds>', 'with --now: how long to wait for the report').default(3600).argParser(positiveNumber('--timeout')))
    .action(async (raw: string, opts: { json?: boolean; now?: boolean; by?: string; catchUpTimeout?: number; rechecks?: number; timeout: number }) => {
      const id = idArg(raw);
      if (!opts.now && (opts.by !== undefined || opts.catchUpTimeout !== undefined || opts.rechecks !== undefined)) {
        throw new UsageError('--by, --catch-up-timeout and --rechecks go with --now');
      }
      if (opts.now) {
        const by = opts.by ?? defaultApprover();
        const report = await (await client()).validateNow(
          id,
          {
            ...(by ? { by } : {}),
            ...(opts.catchUpTimeout !== undefined ? { catchUpTimeoutSeconds: opts.catchUpTimeout } : {}),
            ...(opts.rechecks !== undefined ? { rechecks: opts.rechecks } : {}),
          },
          { timeoutMs: opts.timeout * 1000 },
        );
        if (opts.json) printJson(report);
        else print(renderValidationText(report));
        setExit(report.status === 'mismatch' ? EXIT.failed : EXIT.ok);
        return;
      }
      const progress = await (await client()).getProgress(id);
      const report = progress.validation;
      if (!report) {
        print(`${id} has no validation report yet (phase ${progress.phase})`);
        setExit(EXIT.notFound);
        return;
      }
      if (opts.json) printJson(report);
      else print(renderValidationText(report));
      setExit(report.status === 'mismatch' ? EXIT.failed : EXIT.ok);
    });

  program
    .command('list')
    .description('list migrations, newest first')
    .addOption(new Option('--phase <phase>', 'only migrations in this phase (FerryPhase)').choices(PHASES as string[]))
    .option('--running', 'only running migrations')
    .addOption(new Option('--limit <n>', 'at most this many').default(50).argParser(positiveInt('--limit')))
    .option('--json', 'print JSON')
    .action(async (opts: { phase?: Phase; running?: boolean; limit: number; json?: boolean }) => {
      const rows = await (await client()).list({
        limit: opts.limit,
        ...(opts.phase ? { phase: opts.phase } : {}),
        ...(opts.running ? { running: true } : {}),
      });
      if (opts.json) printJson(rows.map((r) => ({ ...r, startTime: r.startTime.toISOString(), closeTime: r.closeTime?.toISOString() })));
      else print(renderList(rows));
    });

  program
    .command('codec-server')
    .description("serve Ferry's payload codec to the Temporal UI and CLI, so gzipped inputs and results (over 128 KiB) show in clear")
    .option('--port <n>', 'port to listen on', portNumber('--port'), 8888)
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--origin <url...>', "browser origins allowed to call it (the Temporal UI's)", ['http://localhost:8233', 'http://127.0.0.1:8233'])
    .action(async (opts: { port: number; host: string; origin: string[] }) => {
      const server = await startCodecServer({ port: opts.port, host: opts.host, origins: opts.origin });
      io.out.write(
        `ferry codec server on ${server.url} (allowed origins: ${opts.origin.join(', ')})\n` +
          `Temporal UI: Settings (Codec Server) -> ${server.url}; or temporal server start-dev --ui-codec-endpoint ${server.url}\n` +
          `temporal CLI: --codec-endpoint ${server.url}\n`,
      );
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      await server.close();
    });

  program
    .command('validate-spec')
    .description('validate a spec file locally (no Temporal needed) and print it with defaults applied')
    .argument('<spec>', 'spec file (.yaml, .yml or .json; - for stdin)')
    .option('--json', 'print the defaulted spec as JSON')
    .action((file: string, opts: { json?: boolean }) => {
      const spec = loadSpecFile(file);
      if (opts.json) printJson(spec);
      else io.out.write(`# ${file}: valid. The spec with defaults applied:\n${toYaml(spec)}`);
    });

  return program;
}

/** Run the CLI; resolves with the exit code. */
export async function main(argv: string[], io: Io = { out: process.stdout, err: process.stderr, isTTY: Boolean(process.stdout.isTTY) }): Promise<number> {
  let code: number = EXIT.ok;
  let ferry: FerryClient | undefined;
  const program = buildProgram(io, (c) => (code = c), {
    async connect(timeoutMs) {
      ferry = await FerryClient.connect({ connectTimeoutMs: timeoutMs });
      return ferry;
    },
  });
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      // Commander already printed the message (or the help / version).
      const fine = err.code === 'commander.helpDisplayed' || err.code === 'commander.version';
      code = fine ? EXIT.ok : EXIT.usage;
    } else {
      code = exitCodeFor(err);
      io.err.write(`ferry: ${errorText(err)}\n`);
    }
  } finally {
    await ferry?.close().catch(() => undefined);
  }
  return code;
}

function errorText(err: unknown): string {
  if (err instanceof SpecFileError || err instanceof SpecError) return err.message;
  if (err instanceof TemporalUnreachableError) {
    return `${err.message}\n  (set TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_TLS / TEMPORAL_API_KEY or a temporal.toml profile; for local development: eval "$(scripts/dev.sh env)" && scripts/dev.sh up temporal)`;
  }
  if (err instanceof Error) return err.message;
  return String(err);
}

/** The process's command line through `main`, with the exit code and Ctrl-C handled as a shell expects. */
export function runCli(): void {
  // Ctrl-C while watching: give the cursor back (the live bars hide it), exit like a shell would.
  const stop = () => {
    if (process.stdout.isTTY) process.stdout.write('\x1b[?25h\n');
    process.exit(130);
  };
  process.once('SIGINT', stop);
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`ferry: unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exitCode = EXIT.failed;
    },
  );
}

// Run only when executed (`tsx client/cli.ts`), not when a test imports the module; the compiled
// single-file CLI (client/bundleEntry.ts) calls runCli itself.
if (typeof module !== 'undefined' && typeof require !== 'undefined' && require.main === module) runCli();
