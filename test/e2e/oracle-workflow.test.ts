// Issue 8's workflow acceptance: the real workflow and the real activities on the Temporal dev
// server run each Oracle variant to completion, abort it during the load, and fail then retry it,
// with the Oracle adapter replaced at its own boundary: the SQL sessions and command runners the
// flows run on (SqlRunner / CommandRunner), and the Oracle session of pg-to-oracle (its source
// is the real PostgreSQL dev cluster). Every statement and script the adapter sends is recorded
// per workflow and asserted in order. Nothing here talks to an Oracle database.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Context } from '@temporalio/activity';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { createActivities } from '../../activities';
import type { OracleSession } from '../../activities/adapters/oracle/pgToOracle';
import { createOracleEngines, shortName } from '../../activities/adapters/oracle/factory';
import type { Side } from '../../activities/adapters/oracle/flow';
import type { CommandResult } from '../../activities/adapters/oracle/runner';
import { createSecretResolver } from '../../activities/adapters/secrets';
import { ferryDataConverter } from '../../client/payloadCodec';
import { parseSpec } from '../../workflows/spec';
import type { MigrationInput, MigrationProgress, MigrationResult } from '../../workflows/types';
import { abortSignal, progressQuery, retryUpdate } from '../../workflows/messages';
import type { migrationWorkflow } from '../../workflows/migration';
import { createDatabasePair, devSpec, exportPasswords, sql, temporalAddress } from '../support/env';
import { historyText } from '../support/history';
import { waitFor, workflowBundle } from '../support/temporal';

// ------------------------------------------------------------------ the boundary, recorded

interface Call {
  side: Side;
  kind: 'sql' | 'cmd' | 'dml' | 'commit' | 'rollback';
  text: string;
  stdin?: string;
  rows?: number;
}
type Answer = { rows?: unknown[][]; result?: Partial<CommandResult>; throws?: string };
/** How the fake databases and hosts answer a call; may stall (until the activity is cancelled). */
type Behaviour = (c: Call) => Answer | Promise<Answer>;

const calls = new Map<string, Call[]>();
const behaviours = new Map<string, Behaviour>();

/** Calls come from inside activities: the workflow id keys them, so runs never mix. */
function current(): { calls: Call[]; answer: Behaviour } {
  const id = Context.current().info.workflowExecution?.workflowId ?? 'none';
  if (!calls.has(id)) calls.set(id, []);
  return { calls: calls.get(id)!, answer: behaviours.get(id) ?? (() => ({})) };
}

async function answered(c: Call): Promise<Answer> {
  const { calls: list, answer } = current();
  list.push(c);
  const a = await answer(c);
  if (a.throws) throw new Error(a.throws);
  return a;
}

/** A step that runs until the activity is cancelled (abort), then ends as a killed tool would. */
async function untilCancelled(): Promise<Answer> {
  await Context.current().cancelled.catch(() => undefined);
  return { result: { code: 137, stderr: 'killed' } };
}

const fakeSql = (side: Side) => ({
  runner: {
    description: `fake ${side} session`,
    async execute(text: string): Promise<unknown[][]> {
      return (await answered({ side, kind: 'sql', text })).rows ?? [];
    },
  },
  close: () => Promise.resolve(),
});

const fakeCommands = (side: Side) => ({
  description: `fake ${side} host`,
  async run(argv: string[], stdin?: string): Promise<CommandResult> {
    const a = await answered({ side, kind: 'cmd', text: argv.join(' '), ...(stdin !== undefined ? { stdin } : {}) });
    return { code: 0, stdout: '', stderr: '', ...a.result };
  },
});

/** pg-to-oracle's target: a small in-memory Oracle that keeps markers, positions and row counts, and commits them together. */
interface FakeOracle {
  markers: Map<string, [number, number]>;
  positions: Map<string, string>;
  rows: number;
  pending: { rows: number; markers: [string, [number, number]][] };
}
const oracles = new Map<string, FakeOracle>();

const ITEM_COLUMNS = [
  ['ID', 'NUMBER', 22, 0, null, 10, 0, 'N', 'NO'],
  ['NAME', 'CLOB', 4000, 0, null, null, null, 'N', 'NO'],
  ['PRICE', 'NUMBER', 22, 0, null, 10, 2, 'Y', 'NO'],
];

function fakeOracleSession(): Promise<OracleSession> {
  const id = Context.current().info.workflowExecution?.workflowId ?? 'none';
  if (!oracles.has(id)) oracles.set(id, { markers: new Map(), positions: new Map(), rows: 0, pending: { rows: 0, markers: [] } });
  const db = oracles.get(id)!;
  const reply = (text: string, binds: unknown[]): unknown[][] => {
    if (text.includes('NLS_CHARACTERSET')) return [['AL32UTF8']];
    if (text.includes('max_string_size')) return [['STANDARD']];
    if (text === 'SELECT USER FROM dual') return [['APP']];
    if (text.includes('FROM all_users')) return binds[0] === 'APP' ? [['APP']] : [];
    if (text.includes('FROM all_tab_cols')) return binds[0] === 'APP' && binds[1] === 'ITEMS' ? ITEM_COLUMNS : [];
    if (text.includes('user_ts_quotas')) return [['USERS', -1, 0, 10_000_000_000]];
    if (text.includes('WHERE ROWNUM <= 1')) return [[db.rows > 0 ? 1 : 0]];
    if (text.startsWith('SELECT COUNT(*) FROM "APP"."ITEMS"')) return [[db.rows]];
    if (text.startsWith('SELECT ROWS_COPIED')) {
      const m = db.markers.get(String(binds[1]));
      return m ? [m] : [];
    }
    if (text.startsWith('INSERT INTO "FERRY_CHUNK"')) db.pending.markers.push([String(binds[1]), [Number(binds[2]), Number(binds[3])]]);
    if (text.startsWith('SELECT LSN FROM "FERRY_POSITION"')) {
      const v = db.positions.get(`${String(binds[0])}/${String(binds[1])}`);
      return v === undefined ? [] : [[v]];
    }
    if (text.startsWith('MERGE INTO "FERRY_POSITION"')) db.positions.set(`${String(binds[0])}/${String(binds[1])}`, String(binds[2]));
    return [];
  };
  const session = {
    oracleServerVersion: 1903000000,
    async execute(text: string, binds: unknown = []) {
      await answered({ side: 'target', kind: 'sql', text });
      return { rows: reply(text, Array.isArray(binds) ? binds : []) };
    },
    async executeMany(text: string, binds: unknown[]) {
      await answered({ side: 'target', kind: 'dml', text: text.split('\n')[0]!, rows: binds.length });
      db.pending.rows += binds.length;
      return { rowsAffected: binds.length };
    },
    async commit() {
      await answered({ side: 'target', kind: 'commit', text: 'COMMIT' });
      db.rows += db.pending.rows;
      for (const [k, v] of db.pending.markers) db.markers.set(k, v);
      db.pending = { rows: 0, markers: [] };
    },
    async rollback() {
      await answered({ side: 'target', kind: 'rollback', text: 'ROLLBACK' });
      db.pending = { rows: 0, markers: [] };
    },
    close: () => Promise.resolve(),
  };
  return Promise.resolve(session as unknown as OracleSession);
}

// ------------------------------------------------------------------ a worker with the real activities

let env: TestWorkflowEnvironment;
let worker: Worker;
let running: Promise<void>;
let taskQueue: string;
const drops: Array<() => Promise<void>> = [];

const ORACLE_PASSWORD = `Ora_${randomBytes(6).toString('hex')}`;
const DG_PASSWORD = `Dg_${randomBytes(6).toString('hex')}`;

beforeAll(async () => {
  exportPasswords();
  process.env.FERRY_TEST_ORACLE_PASSWORD = ORACLE_PASSWORD;
  process.env.FERRY_TEST_DG_PASSWORD = DG_PASSWORD;
  env = await TestWorkflowEnvironment.createFromExistingServer({
    address: temporalAddress,
    namespace: 'default',
    client: { dataConverter: ferryDataConverter },
  });
  taskQueue = `ferry-oracle-${randomBytes(4).toString('hex')}`;
  const secrets = createSecretResolver();
  const activities = createActivities({
    engines: createOracleEngines({ secrets, openSql: fakeSql, commandRunner: fakeCommands, connectOracle: fakeOracleSession }),
    secrets,
    workerId: 'oracle-test-worker',
    heartbeatIntervalMs: 500,
  });
  // As worker/createWorker.ts: cancellation reaches the snapshot holder within a second (the SDK's
  // default throttle, 80% of the heartbeat timeout, would hold every load open for 8 s).
  worker = await Worker.create({
    connection: env.nativeConnection,
    namespace: 'default',
    taskQueue,
    workflowBundle: await workflowBundle(),
    activities,
    maxHeartbeatThrottleInterval: '1 second',
    dataConverter: ferryDataConverter,
  });
  running = worker.run();
});

afterAll(async () => {
  worker?.shutdown();
  await running;
  await env?.teardown();
  for (const drop of drops) await drop();
});

// ------------------------------------------------------------------ specs and helpers

type FlowEngine = 'oracle-datapump' | 'oracle-rman' | 'oracle-dataguard';

const staging = { bucket: 'ferry-staging', prefix: 'm', sourceDir: '/u03/stage', targetDir: '/u03/stage' };
const runners = { source: { kind: 'host' }, target: { kind: 'kubectl', namespace: 'db', pod: 'mydb-sts-0', container: 'oracledb' } };
const oracleBlocks: Record<FlowEngine, Record<string, unknown>> = {
  'oracle-datapump': { staging, runners, dataPump: { schemas: ['HR'], parallel: 2 } },
  'oracle-rman': { staging, runners, rman: { channels: 1, targetDataDir: '/u02/oradata/ORCL', fenceSchemas: ['HR'] } },
  'oracle-dataguard': {
    runners,
    dataGuard: {
      configuration: 'ferry_dg',
      primary: { dbUniqueName: 'ORCL_A', connectIdentifier: 'orcl_a' },
      standby: { dbUniqueName: 'ORCL_B', connectIdentifier: 'orcl_b', dataDir: '/u02/oradata/ORCL_B', sourceDataDir: '/u02/oradata/ORCL_A' },
      credentials: { kind: 'password', user: 'sys', password: 'env:FERRY_TEST_DG_PASSWORD' },
    },
  },
};

function flowSpec(engine: FlowEngine, extra: Record<string, unknown> = {}) {
  const endpoint = (host: string, database: string) => ({ host, port: 1521, database, user: 'system', password: 'env:FERRY_TEST_ORACLE_PASSWORD' });
  return parseSpec({
    name: `${engine.replace('oracle-', 'ora-')}-${randomBytes(3).toString('hex')}`,
    engine,
    source: endpoint('src.example', 'ORCLPDB1'),
    target: endpoint('tgt.example', 'sid:ORCL'),
    cutover: { requireApproval: false },
    ...(engine === 'oracle-datapump' ? { rename: { schemas: { HR: 'HR2' } } } : {}),
    oracle: oracleBlocks[engine],
    ...extra,
  });
}

async function start(spec: ReturnType<typeof parseSpec>, behaviour: Behaviour) {
  const workflowId = `ferry-${spec.name}`;
  behaviours.set(workflowId, behaviour);
  calls.set(workflowId, []);
  return env.client.workflow.start<typeof migrationWorkflow>('migrationWorkflow', {
    taskQueue,
    workflowId,
    args: [{ spec, tuning: { maximumAttempts: 2, initialRetryIntervalMs: 200, heartbeatTimeoutSeconds: 10 } } satisfies MigrationInput],
  });
}
type Handle = Awaited<ReturnType<typeof start>>;
const recorded = (h: Handle) => calls.get(h.workflowId) ?? [];
const untilPhase = (h: Handle, phase: MigrationProgress['phase']) => waitFor(() => h.query(progressQuery), (p) => p.phase === phase, 60_000, `phase ${phase}`);

/** One line per call: side, then the statement's or script's telling line. */
function label(c: Call): string {
  const pick = (text: string, re: RegExp) => text.split('\n').map((l) => l.trim()).filter((l) => re.test(l)).join(' / ');
  if (c.kind === 'cmd') {
    const script = c.stdin ? pick(c.stdin, /^(BACKUP AS|RESTORE CONTROLFILE|RECOVER DATABASE|ALTER DATABASE OPEN|DUPLICATE TARGET|CREATE CONFIGURATION|SHOW DATABASE|SWITCHOVER TO|REMOVE DATABASE)/) : '';
    return `${c.side} $ ${c.text}${script ? ` <<< ${script}` : ''}`;
  }
  if (c.kind === 'sql') {
    const dp = /DBMS_DATAPUMP\.OPEN\(operation => '(\w+)'/.exec(c.text);
    if (dp) return `${c.side} sql: DBMS_DATAPUMP ${dp[1]}`;
    const drop = /DROP USER ([^ ]+) CASCADE/.exec(c.text);
    if (drop) return `${c.side} sql: DROP USER ${drop[1]}`;
    return `${c.side} sql: ${c.text.split('\n')[0]}`;
  }
  return `${c.side} ${c.kind}: ${c.text}${c.rows !== undefined ? ` x${c.rows}` : ''}`;
}
const labels = (h: Handle) => recorded(h).map(label);

// What the fake Oracle side answers for each flow (values the flows capture and check).
const CTL = '/u03/stage/base/ctl_ORCL_20240101_1';
function flowAnswers(extra: Behaviour = () => ({})): Behaviour {
  let scn = 5000;
  return async (c) => {
    const a = await extra(c);
    if (Object.keys(a).length > 0) return a;
    if (c.kind === 'sql' && c.text.includes('FROM all_users')) return { rows: [[c.side === 'source' ? '1' : '0']] };
    if (c.kind === 'sql' && c.text.includes('GET_SYSTEM_CHANGE_NUMBER')) return { rows: [['123456']] };
    if (c.kind === 'sql' && c.text.includes('log_mode')) return { rows: [['ARCHIVELOG']] };
    if (c.kind === 'sql' && c.text.includes('v$backup_redolog')) return { rows: [[String((scn += 100))]] };
    if (c.kind === 'cmd' && c.text.startsWith('find /u03/stage/base -maxdepth')) return { result: { stdout: `${CTL}\n` } };
    if (c.kind === 'cmd' && c.stdin?.includes('SHOW DATABASE')) return { result: { stdout: 'Database - ORCL_B\n  Role: PHYSICAL STANDBY\n  Transport Lag: 0 seconds (computed 1 second ago)\n  Apply Lag: 1 second (computed 1 second ago)\n' } };
    if (c.kind === 'cmd' && c.stdin?.includes('SWITCHOVER TO')) {
      return { result: { stdout: "  Ready for Switchover:  Yes\nSwitchover succeeded, new primary is \"orcl_b\"\nConfiguration - ferry_dg\n  Members:\n  ORCL_B - Primary database\n    ORCL_A - Physical standby database\nConfiguration Status:\nSUCCESS   (status updated 5 seconds ago)\n" } };
    }
    return {};
  };
}

const OFFLINE_PHASES = ['precheck', 'provision', 'awaiting_cutover', 'fence', 'full_load', 'post_load', 'cutover', 'validate', 'cleanup', 'completed'];

// The expected recordings, phase by phase, read off the flows in activities/adapters/oracle/.
const DP = {
  precheck: ['source sql: SELECT TO_CHAR(COUNT(*)) FROM all_users WHERE username = :name', 'target sql: SELECT TO_CHAR(COUNT(*)) FROM all_users WHERE username = :name'],
  provision: [
    'source $ mkdir -p /u03/stage/datapump',
    'target $ mkdir -p /u03/stage/datapump',
    'source sql: CREATE OR REPLACE DIRECTORY "FERRY_DP" AS \'/u03/stage/datapump\'',
    'target sql: CREATE OR REPLACE DIRECTORY "FERRY_DP" AS \'/u03/stage/datapump\'',
  ],
  fence: ['source sql: ALTER SYSTEM ENABLE RESTRICTED SESSION', 'source sql: BEGIN'],
  fullLoad: [
    'source sql: SELECT TO_CHAR(DBMS_FLASHBACK.GET_SYSTEM_CHANGE_NUMBER) FROM dual',
    'source sql: DBMS_DATAPUMP EXPORT',
    'source $ gcloud storage rsync --checksums-only /u03/stage/datapump gs://ferry-staging/m/datapump',
    'target $ mkdir -p /u03/stage/datapump',
    'target $ gcloud storage rsync --checksums-only gs://ferry-staging/m/datapump /u03/stage/datapump',
    'target sql: DBMS_DATAPUMP IMPORT',
    "target sql: BEGIN DBMS_UTILITY.COMPILE_SCHEMA(schema => 'HR2', compile_all => FALSE); END;",
  ],
  cleanup: ['source $ find /u03/stage/datapump -mindepth 1 -delete', 'target $ find /u03/stage/datapump -mindepth 1 -delete'],
  abort: ['source $ find /u03/stage/datapump -mindepth 1 -delete', 'target $ find /u03/stage/datapump -mindepth 1 -delete', 'target sql: DROP USER "HR2"'],
  unfence: ['source sql: ALTER SYSTEM DISABLE RESTRICTED SESSION'],
};

/** The RMAN tag is the spec name's short form (factory.ts shortName), upper-cased. */
const rmanRound = (tag: string, fromScn: number, recoverTo: number) => [
  'source $ find /u03/stage/archivelog -mindepth 1 -delete',
  `source $ rman target / <<< BACKUP AS COMPRESSED BACKUPSET ARCHIVELOG FROM SCN ${fromScn} TAG '${tag}_ARCH';`,
  'source sql: SELECT TO_CHAR(MAX(r.next_change#)) FROM v$backup_redolog r',
  'source $ gcloud storage rsync --checksums-only /u03/stage/archivelog gs://ferry-staging/m/archivelog',
  'target $ mkdir -p /u03/stage/archivelog',
  'target $ gcloud storage rsync --checksums-only gs://ferry-staging/m/archivelog /u03/stage/archivelog',
  `target $ rman target / <<< RECOVER DATABASE UNTIL SCN ${recoverTo};`,
];
const RMAN = (tag: string) => ({
  precheck: ['source sql: SELECT log_mode FROM v$database', 'target $ sh -c command -v rman'],
  provision: ['source $ mkdir -p /u03/stage/base', 'source $ mkdir -p /u03/stage/archivelog', 'target $ mkdir -p /u02/oradata/ORCL'],
  fence: ['source sql: ALTER SYSTEM ENABLE RESTRICTED SESSION', 'source sql: BEGIN'],
  fullLoad: [
    `source $ rman target / <<< BACKUP AS COMPRESSED BACKUPSET INCREMENTAL LEVEL 0 DATABASE TAG '${tag}_L0' PLUS ARCHIVELOG TAG '${tag}_ARCH';`,
    'source sql: SELECT TO_CHAR(MAX(r.next_change#)) FROM v$backup_redolog r',
    'source $ gcloud storage rsync --checksums-only /u03/stage/base gs://ferry-staging/m/base',
    'target $ mkdir -p /u03/stage/base',
    'target $ gcloud storage rsync --checksums-only gs://ferry-staging/m/base /u03/stage/base',
    'target $ find /u03/stage/base -maxdepth 1 -type f -name ctl_*',
    `target $ rman target / <<< RESTORE CONTROLFILE FROM '${CTL}'; / RECOVER DATABASE UNTIL SCN 5100;`,
  ],
  cutover: [...rmanRound(tag, 5100, 5200), 'target $ rman target / <<< ALTER DATABASE OPEN RESETLOGS;'],
  cleanup: [
    'source $ find /u03/stage/base -mindepth 1 -delete',
    'source $ find /u03/stage/archivelog -mindepth 1 -delete',
    'target $ find /u03/stage/base -mindepth 1 -delete',
    'target $ find /u03/stage/archivelog -mindepth 1 -delete',
  ],
  abort: ['source $ find /u03/stage/base -mindepth 1 -delete', 'source $ find /u03/stage/archivelog -mindepth 1 -delete'],
  unfence: ['source sql: ALTER SYSTEM DISABLE RESTRICTED SESSION'],
});
const tagOf = (h: Handle) => shortName(h.workflowId.replace(/^ferry-/, '')).toUpperCase();

const DG = {
  precheck: ['source sql: SELECT log_mode FROM v$database', 'target $ sh -c command -v rman && command -v dgmgrl'],
  provision: [
    'source sql: ALTER DATABASE FORCE LOGGING',
    "source sql: ALTER SYSTEM SET standby_file_management = 'AUTO' SCOPE = BOTH",
    'source sql: DECLARE',
    'source sql: ALTER SYSTEM SET dg_broker_start = TRUE SCOPE = BOTH',
    'target $ mkdir -p /u02/oradata/ORCL_B',
  ],
  fullLoad: [
    'target $ rman <<< DUPLICATE TARGET DATABASE FOR STANDBY FROM ACTIVE DATABASE DORECOVER',
    "target $ dgmgrl -silent <<< CREATE CONFIGURATION 'ferry_dg' AS PRIMARY DATABASE IS 'ORCL_A' CONNECT IDENTIFIER IS 'orcl_a';",
  ],
  cutover: ["target $ dgmgrl -silent <<< SHOW DATABASE 'ORCL_B';", "target $ dgmgrl -silent <<< SWITCHOVER TO 'ORCL_B';"],
  abort: ["target $ dgmgrl -silent <<< REMOVE DATABASE 'ORCL_B';"],
};

// ------------------------------------------------------------------ the El Carro flows

describe.concurrent('Oracle -> Oracle flows through the workflow (runners replaced at the adapter boundary)', () => {
  it('oracle-datapump runs to completion: export at one SCN, transfer, import with the schema remap', async () => {
    const h = await start(flowSpec('oracle-datapump'), flowAnswers());
    const result = (await h.result()) as MigrationResult;
    expect(result.outcome).toBe('completed');
    expect(result.progress.timings.map((t) => t.phase)).toEqual(OFFLINE_PHASES);
    expect(result.validation?.status).toBe('skipped');
    expect(labels(h)).toEqual([...DP.precheck, ...DP.provision, ...DP.fence, ...DP.fullLoad, ...DP.cleanup]);
    const exp = recorded(h).find((c) => c.text.includes("operation => 'EXPORT'"))!;
    expect(exp.text).toContain("'FLASHBACK_SCN', value => TO_NUMBER(:scn)");
    expect(recorded(h).find((c) => c.text.includes("operation => 'IMPORT'"))!.text).toContain("old_value => 'HR', value => 'HR2'");
  });

  it('oracle-rman runs to completion: level-0 restore, then at cutover a final archive round and OPEN RESETLOGS', async () => {
    const h = await start(flowSpec('oracle-rman'), flowAnswers());
    const result = (await h.result()) as MigrationResult;
    expect(result.outcome).toBe('completed');
    expect(result.progress.timings.map((t) => t.phase)).toEqual(OFFLINE_PHASES);
    const r = RMAN(tagOf(h));
    expect(labels(h)).toEqual([...r.precheck, ...r.provision, ...r.fence, ...r.fullLoad, ...r.cutover, ...r.cleanup]);
    // RMAN scripts go to the target through the runner named in the spec, on stdin.
    expect(recorded(h).filter((c) => c.text === 'rman target /').every((c) => c.stdin !== undefined)).toBe(true);
  });

  it('oracle-dataguard runs to completion: active duplicate, broker, lag check and SWITCHOVER at cutover; the password only on stdin', async () => {
    const h = await start(flowSpec('oracle-dataguard'), flowAnswers());
    const result = (await h.result()) as MigrationResult;
    expect(result.outcome).toBe('completed');
    expect(result.progress.timings.map((t) => t.phase)).toEqual(OFFLINE_PHASES);
    expect(labels(h)).toEqual([...DG.precheck, ...DG.provision, ...DG.fullLoad, ...DG.cutover]);
    const switchover = recorded(h).at(-1)!;
    expect(switchover.stdin).toContain(`CONNECT sys/${DG_PASSWORD}@orcl_a;`);
    expect(switchover.stdin).toMatch(/VALIDATE DATABASE 'ORCL_B';\nSWITCHOVER TO 'ORCL_B';\nSHOW CONFIGURATION;/);
    expect(recorded(h).some((c) => c.text.includes(DG_PASSWORD))).toBe(false); // never in argv
    const history = historyText(await h.fetchHistory());
    expect(history).toContain('env:FERRY_TEST_DG_PASSWORD');
    expect(history).not.toContain(DG_PASSWORD);
    expect(history).not.toContain(ORACLE_PASSWORD);
  });

  const stallAt: Record<FlowEngine, (c: Call) => boolean> = {
    'oracle-datapump': (c) => c.text.startsWith('gcloud storage rsync --checksums-only /u03/stage/datapump'),
    'oracle-rman': (c) => c.text.startsWith('gcloud storage rsync --checksums-only /u03/stage/base'),
    'oracle-dataguard': (c) => c.text === 'rman',
  };
  const afterAbort: Record<FlowEngine, string[]> = {
    'oracle-datapump': [...DP.unfence, ...DP.abort],
    'oracle-rman': [...RMAN('').unfence, ...RMAN('').abort],
    'oracle-dataguard': DG.abort,
  };

  for (const engine of ['oracle-datapump', 'oracle-rman', 'oracle-dataguard'] as const) {
    it(`${engine}: abort during the load stops before the next step and runs the compensation`, async () => {
      let reached: () => void = () => undefined;
      const stalled = new Promise<void>((r) => (reached = r));
      const h = await start(
        flowSpec(engine),
        flowAnswers((c) => {
          if (!stallAt[engine](c)) return {};
          reached();
          return untilCancelled().then(() => ({ result: { code: 0 } }));
        }),
      );
      await stalled;
      const before = recorded(h).length;
      await h.signal(abortSignal, { reason: 'test abort' });
      const result = (await h.result()) as MigrationResult;
      expect(result.outcome).toBe('aborted');
      expect(result.progress.timings.map((t) => t.phase)).toContain('full_load');
      // Nothing after the stalled step ran; then the unfence (if the flow has one) and the abort phase.
      expect(labels(h).slice(before)).toEqual(afterAbort[engine]);
    });
  }

  it('oracle-datapump: a failing import leaves the workflow failed at full_load; retry re-runs the load and completes', async () => {
    let imports = 0;
    const h = await start(
      flowSpec('oracle-datapump'),
      flowAnswers((c) => (c.kind === 'sql' && c.text.includes("operation => 'IMPORT'") && imports++ === 0 ? { throws: 'ORA-39002: invalid operation\nORA-39070: Unable to open the log file.' } : {})),
    );
    const failed = await untilPhase(h, 'failed');
    expect(failed.failedStep).toBe('full_load');
    expect(failed.lastError?.message).toMatch(/Data Pump import failed on fake target session: ORA-39002: invalid operation; ORA-39070/);
    expect(failed.lastError?.type).toBe('OracleStepFailed');
    expect(recorded(h).filter((c) => c.text.includes("operation => 'IMPORT'"))).toHaveLength(1); // not retried by Temporal: non-retryable
    expect((await h.executeUpdate(retryUpdate)).step).toBe('full_load');
    const result = (await h.result()) as MigrationResult;
    expect(result.outcome).toBe('completed');
    expect(labels(h)).toEqual([...DP.precheck, ...DP.provision, ...DP.fence, ...DP.fullLoad.slice(0, 6), ...DP.fullLoad, ...DP.cleanup]);
  });

  it('oracle-rman: OPEN RESETLOGS failing leaves the workflow failed at cutover; retry runs the cutover again and completes', async () => {
    let opens = 0;
    const h = await start(
      flowSpec('oracle-rman'),
      flowAnswers((c) => (c.stdin?.includes('OPEN RESETLOGS') && opens++ === 0 ? { result: { code: 1, stdout: 'RMAN-03002: failure of sql statement command\nORA-01152: file 1 was not restored from a sufficiently old backup' } } : {})),
    );
    const failed = await untilPhase(h, 'failed');
    expect(failed.failedStep).toBe('cutover');
    expect(failed.lastError?.message).toMatch(/open the copy failed on fake target host \(exit 1\): RMAN-03002.*; ORA-01152/);
    await h.executeUpdate(retryUpdate);
    expect(((await h.result()) as MigrationResult).outcome).toBe('completed');
    // A failed phase keeps none of its captured values: the retried round starts again from the
    // last completed phase's SCN (5100, harmless: RECOVER skips what is applied) and goes further.
    const r = RMAN(tagOf(h));
    const second = [...rmanRound(tagOf(h), 5100, 5300), 'target $ rman target / <<< ALTER DATABASE OPEN RESETLOGS;'];
    expect(labels(h)).toEqual([...r.precheck, ...r.provision, ...r.fence, ...r.fullLoad, ...r.cutover, ...second, ...r.cleanup]);
  });

  it('oracle-dataguard: a standby not ready for switchover fails the cutover; retry switches over', async () => {
    let tries = 0;
    const h = await start(
      flowSpec('oracle-dataguard'),
      flowAnswers((c) => (c.stdin?.includes('SWITCHOVER TO') && tries++ === 0 ? { result: { stdout: '  Ready for Switchover:  No\n' } } : {})),
    );
    const failed = await untilPhase(h, 'failed');
    expect(failed.failedStep).toBe('cutover');
    expect(failed.lastError?.message).toMatch(/not ready for switchover \(No\)/);
    await h.executeUpdate(retryUpdate);
    expect(((await h.result()) as MigrationResult).outcome).toBe('completed');
    expect(labels(h)).toEqual([...DG.precheck, ...DG.provision, ...DG.fullLoad, ...DG.cutover, ...DG.cutover]);
  });
});

// ------------------------------------------------------------------ PostgreSQL -> Oracle

describe.concurrent('pg-to-oracle through the workflow (real PostgreSQL source, Oracle session replaced)', () => {
  async function sourceDb(rows: number): Promise<string> {
    const pair = await createDatabasePair('ora');
    drops.push(pair.drop);
    await sql('source', pair.name, `CREATE TABLE public.items (id int PRIMARY KEY, name text NOT NULL, price numeric(10,2))`);
    await sql('source', pair.name, `INSERT INTO public.items SELECT g, 'item ' || g, g * 1.5 FROM generate_series(1, ${rows}) g`);
    return pair.name;
  }
  function pgSpec(db: string) {
    const base = devSpec(db);
    return parseSpec({
      ...base,
      name: `pg-ora-${randomBytes(3).toString('hex')}`,
      engine: 'pg-to-oracle',
      target: { host: 'ora.example', port: 1521, database: 'ORCLPDB1', user: 'app', password: 'env:FERRY_TEST_ORACLE_PASSWORD' },
      rename: { schemas: { public: 'app' } },
      validation: { level: 'counts' },
      oracle: { emptyStrings: 'reject' },
    });
  }
  async function sourceWritable(db: string): Promise<boolean> {
    try {
      await sql('source', db, `CREATE TEMP TABLE probe (x int)`);
      await sql('source', db, `INSERT INTO public.items VALUES (-1, 'probe', 0)`);
      await sql('source', db, `DELETE FROM public.items WHERE id = -1`);
      return true;
    } catch (err) {
      if (/read-only/.test(String(err))) return false;
      throw err;
    }
  }

  it('runs to completion: state tables, one INSERT batch committed with its marker, counts validated, state dropped', async () => {
    const db = await sourceDb(50);
    const h = await start(pgSpec(db), () => ({}));
    const result = (await h.result()) as MigrationResult;
    expect(result.outcome).toBe('completed');
    expect(result.progress.precheck?.status).toBe('pass');
    expect(result.validation).toMatchObject({ status: 'match', tables: [{ source: 'public.items', target: 'APP.ITEMS', sourceRows: 50, targetRows: 50 }] });
    const writes = labels(h).filter((l) => !/ sql: SELECT /.test(l) && !l.includes('ALTER SESSION'));
    expect(writes).toEqual([
      'target sql: BEGIN', // provision: CREATE_STATE_PLSQL
      'target sql: BEGIN', // fence: CREATE_STATE_PLSQL again (idempotent) before the saved setting
      expect.stringMatching(/^target sql: MERGE INTO "FERRY_POSITION"/),
      'target dml: INSERT INTO "APP"."ITEMS" ("ID", "NAME", "PRICE") x50',
      expect.stringMatching(/^target sql: INSERT INTO "FERRY_CHUNK"/),
      'target commit: COMMIT',
      'target sql: BEGIN', // cleanup: DROP_STATE_PLSQL
    ]);
    const texts = recorded(h).map((c) => c.text);
    expect(texts.at(-1)).toContain("DROP TABLE");
    expect(await sourceWritable(db)).toBe(false); // offline: the source stays fenced after the cutover
  });

  it('abort during the load rolls back, unfences the source and drops the state tables', async () => {
    const db = await sourceDb(20);
    let reached: () => void = () => undefined;
    const stalled = new Promise<void>((r) => (reached = r));
    const h = await start(pgSpec(db), (c) => {
      if (c.kind !== 'dml') return {};
      reached();
      return untilCancelled().then(() => ({ throws: 'ORA-01013: user requested cancel of current operation' }));
    });
    await stalled;
    expect(await sourceWritable(db)).toBe(false);
    await h.signal(abortSignal, { reason: 'test abort' });
    const result = (await h.result()) as MigrationResult;
    expect(result.outcome).toBe('aborted');
    const after = labels(h).slice(labels(h).findIndex((l) => l.startsWith('target dml:')));
    expect(after).toEqual(['target dml: INSERT INTO "APP"."ITEMS" ("ID", "NAME", "PRICE") x20', 'target rollback: ROLLBACK', 'target sql: BEGIN']);
    expect(recorded(h).at(-1)!.text).toContain('DROP TABLE');
    expect(oracles.get(h.workflowId)?.rows).toBe(0);
    expect(await sourceWritable(db)).toBe(true);
  });

  it('a failing batch leaves the workflow failed at full_load; retry loads the table once and completes', async () => {
    const db = await sourceDb(30);
    let batches = 0;
    const h = await start(pgSpec(db), (c) => (c.kind === 'dml' && batches++ < 2 ? { throws: 'ORA-00001: unique constraint (APP.ITEMS_PK) violated' } : {}));
    const failed = await untilPhase(h, 'failed');
    expect(failed.failedStep).toBe('full_load');
    expect(failed.lastError?.message).toContain('ORA-00001');
    await h.executeUpdate(retryUpdate);
    const result = (await h.result()) as MigrationResult;
    expect(result.outcome).toBe('completed');
    expect(result.validation?.status).toBe('match');
    expect(oracles.get(h.workflowId)?.rows).toBe(30);
    expect(labels(h).filter((l) => l.startsWith('target rollback'))).toHaveLength(2);
  });
});
