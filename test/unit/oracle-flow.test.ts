// Flow logic of the El Carro variants with the runners replaced at their boundary: steps run in
// order on the right side, values captured on the way feed later scripts, a failing step stops
// the phase with Oracle's own error line, passwords never reach a message.
import { describe, expect, it } from 'vitest';
import type { EngineContext } from '../../activities/adapters/engine';
import { dataGuardFlow, type DataGuardConfig } from '../../activities/adapters/oracle/dataguard';
import { dataPumpFlow } from '../../activities/adapters/oracle/datapump';
import { runPhase, type FlowRunners, type Side } from '../../activities/adapters/oracle/flow';
import { memoryVarsStore, OracleFlowEngine } from '../../activities/adapters/oracle/flowEngine';
import { rmanMigrationFlow } from '../../activities/adapters/oracle/rman';
import { OracleStepFailed, type CommandResult } from '../../activities/adapters/oracle/runner';
import { parseSpec } from '../../workflows/spec';

type Call = { side: Side; kind: 'sql' | 'cmd'; text: string; stdin?: string; binds?: unknown };

function fakeRunners(answer: (c: Call) => { rows?: unknown[][]; result?: Partial<CommandResult>; throws?: string } = () => ({})) {
  const calls: Call[] = [];
  const sql = (side: Side) => ({
    description: `${side} sql`,
    execute(text: string, binds?: Record<string, string | number | null>): Promise<unknown[][]> {
      const c: Call = { side, kind: 'sql', text, binds };
      calls.push(c);
      const a = answer(c);
      if (a.throws) return Promise.reject(new Error(a.throws));
      return Promise.resolve(a.rows ?? []);
    },
  });
  const host = (side: Side) => ({
    description: `${side} host`,
    run(argv: string[], stdin?: string): Promise<CommandResult> {
      const c: Call = { side, kind: 'cmd', text: argv.join(' '), stdin };
      calls.push(c);
      return Promise.resolve({ code: 0, stdout: '', stderr: '', ...answer(c).result });
    },
  });
  const runners: FlowRunners = { sql: { source: sql('source'), target: sql('target') }, host: { source: host('source'), target: host('target') } };
  return { runners, calls };
}

const staging = { bucket: 'ferry-staging', prefix: 'm42', sourceDir: '/u03/ferry/m42', targetDir: '/u03/ferry/m42' };

describe('RMAN migration flow', () => {
  const flow = rmanMigrationFlow({ tag: 'm42', staging, channels: 1, targetDataDir: '/u02/oradata/ORCL', fenceSchemas: ['HR'] });

  it('full load: backup, SCN, transfer, find the control file, restore to that SCN', async () => {
    const { runners, calls } = fakeRunners((c) => {
      if (c.kind === 'sql' && c.text.includes('v$backup_redolog')) return { rows: [['5000']] };
      if (c.text.startsWith('find /u03/ferry/m42/base -maxdepth')) return { result: { stdout: '/u03/ferry/m42/base/ctl_ORCL_2\n/u03/ferry/m42/base/ctl_ORCL_1\n' } };
      return {};
    });
    const vars = await runPhase(flow, 'fullLoad', runners);
    expect(vars).toMatchObject({ baseScn: '5000', controlFilePiece: '/u03/ferry/m42/base/ctl_ORCL_2', recoveredScn: '5000' });
    expect(calls.map((c) => `${c.side}:${c.kind}:${c.text.split('\n')[0]}`)).toEqual([
      'source:cmd:rman target /',
      'source:sql:SELECT TO_CHAR(MAX(r.next_change#)) FROM v$backup_redolog r',
      'source:cmd:gcloud storage rsync --checksums-only /u03/ferry/m42/base gs://ferry-staging/m42/base',
      'target:cmd:mkdir -p /u03/ferry/m42/base',
      'target:cmd:gcloud storage rsync --checksums-only gs://ferry-staging/m42/base /u03/ferry/m42/base',
      'target:cmd:find /u03/ferry/m42/base -maxdepth 1 -type f -name ctl_*',
      'target:cmd:rman target /',
    ]);
    expect(calls.at(-1)!.stdin).toContain("RESTORE CONTROLFILE FROM '/u03/ferry/m42/base/ctl_ORCL_2';");
    expect(calls.at(-1)!.stdin).toContain('RECOVER DATABASE UNTIL SCN 5000;');
  });

  it('catch-up rounds chain: each backs up from where the last one recovered to', async () => {
    let scn = 5000;
    const { runners, calls } = fakeRunners((c) => (c.kind === 'sql' && c.text.includes('v$backup_redolog') ? { rows: [[String((scn += 100))]] } : {}));
    let vars = await runPhase(flow, 'catchUp', runners, { recoveredScn: '5000' });
    expect(vars.recoveredScn).toBe('5100');
    vars = await runPhase(flow, 'catchUp', runners, vars);
    expect(vars.recoveredScn).toBe('5200');
    const rmanScripts = calls.filter((c) => c.text === 'rman target /').map((c) => c.stdin!);
    expect(rmanScripts[0]).toContain('ARCHIVELOG FROM SCN 5000');
    expect(rmanScripts[1]).toContain('RECOVER DATABASE UNTIL SCN 5100;');
    expect(rmanScripts[2]).toContain('ARCHIVELOG FROM SCN 5100');
    expect(rmanScripts[3]).toContain('RECOVER DATABASE UNTIL SCN 5200;');
  });

  it('cutover ends with OPEN RESETLOGS; an RMAN error stops the phase with its RMAN-/ORA- lines', async () => {
    const ok = fakeRunners((c) => (c.kind === 'sql' ? { rows: [['6000']] } : {}));
    await runPhase(flow, 'cutover', ok.runners, { recoveredScn: '5200' });
    expect(ok.calls.at(-1)!.stdin).toBe('ALTER DATABASE OPEN RESETLOGS;\n');

    const bad = fakeRunners((c) =>
      c.text === 'rman target /' ? { result: { code: 1, stdout: 'RMAN-03002: failure of recover command\nORA-01547: warning: RECOVER succeeded but OPEN RESETLOGS would get error\n' } } : {},
    );
    await expect(runPhase(flow, 'catchUp', bad.runners, { recoveredScn: '1' })).rejects.toThrow(/RMAN-03002.*ORA-01547/);
  });

  it('a captured value that is not an SCN stops the flow before it reaches a script', async () => {
    const { runners } = fakeRunners((c) => (c.kind === 'sql' ? { rows: [['12; DROP']] } : {}));
    await expect(runPhase(flow, 'catchUp', runners, { recoveredScn: '1' })).rejects.toThrow(OracleStepFailed);
  });
});

describe('Data Pump flow', () => {
  const flow = dataPumpFlow({ id: 'm42', schemas: ['HR'], remapSchemas: {}, directory: 'FERRY_DUMP', staging, parallel: 2 });
  it('the export runs at the SCN captured just before it (bound, not spliced)', async () => {
    const { runners, calls } = fakeRunners((c) => (c.text.includes('GET_SYSTEM_CHANGE_NUMBER') ? { rows: [['777']] } : {}));
    await runPhase(flow, 'fullLoad', runners);
    const exp = calls.find((c) => c.text.includes("operation => 'EXPORT'"))!;
    expect(exp.binds).toEqual({ scn: '777' });
    expect(calls.filter((c) => c.kind === 'sql').map((c) => c.side)).toEqual(['source', 'source', 'target', 'target']);
  });
  it('precheck fails when the target schema exists already', async () => {
    const { runners } = fakeRunners((c) => ({ rows: [[c.side === 'source' ? '1' : '1']] }));
    await expect(runPhase(flow, 'precheck', runners)).rejects.toThrow(/schema HR already exists on the target/);
  });
  it('a PL/SQL error names the step and keeps the ORA- line', async () => {
    const { runners } = fakeRunners((c) => (c.text.includes("operation => 'IMPORT'") ? { throws: 'ORA-39002: invalid operation\nORA-39070: Unable to open the log file.' } : { rows: [['1']] }));
    await expect(runPhase(flow, 'fullLoad', runners)).rejects.toThrow(/Data Pump import failed on target sql: ORA-39002: invalid operation; ORA-39070/);
  });
});

describe('Data Guard flow', () => {
  const cfg: DataGuardConfig = {
    configuration: 'ferry_m42',
    primary: { dbUniqueName: 'ORCL_ONPREM', connectIdentifier: 'ONPREM' },
    standby: { dbUniqueName: 'ORCL_GKE', connectIdentifier: 'GKE', dataDir: '/u02/oradata', sourceDataDir: '/u01/oradata' },
    credentials: { kind: 'password', user: 'sys', password: 'Secret_123' },
    maxLagSeconds: 5,
  };
  const flow = dataGuardFlow(cfg);
  const lagged = (s: number) => `Database - ORCL_GKE\n  Transport Lag: 0 seconds\n  Apply Lag: ${s} seconds (computed 1 second ago)\n`;

  it('cutover waits for lag and refuses to switch over while lag is over the threshold', async () => {
    const { runners, calls } = fakeRunners((c) => (c.stdin?.includes('SHOW DATABASE') ? { result: { stdout: lagged(30) } } : {}));
    await expect(runPhase(flow, 'cutover', runners)).rejects.toThrow(/apply lag 30s is over 5s/);
    expect(calls.some((c) => c.stdin?.includes('SWITCHOVER'))).toBe(false);
  });

  it('switchover verified from SHOW CONFIGURATION; credentials only on stdin', async () => {
    const done = '  Ready for Switchover:  Yes\nORCL_GKE - Primary database\nConfiguration Status:\nSUCCESS\n';
    const { runners, calls } = fakeRunners((c) => (c.stdin?.includes('SHOW DATABASE') ? { result: { stdout: lagged(2) } } : c.stdin?.includes('SWITCHOVER') ? { result: { stdout: done } } : {}));
    await runPhase(flow, 'cutover', runners);
    const sw = calls.find((c) => c.stdin?.includes('SWITCHOVER'))!;
    expect(sw.text).toBe('dgmgrl -silent');
    expect(sw.stdin).toContain('CONNECT sys/Secret_123@ONPREM;');
    for (const c of calls) expect(c.text).not.toContain('Secret_123');
  });

  it('a DGMGRL error is reported with the password redacted', async () => {
    const { runners } = fakeRunners(() => ({ result: { code: 1, stdout: 'ORA-01017: invalid username/password for CONNECT sys/Secret_123@ONPREM' } }));
    const err = await runPhase(flow, 'fullLoad', runners).catch((e: Error) => e);
    expect(err).toBeInstanceOf(OracleStepFailed);
    expect((err as Error).message).toMatch(/ORA-01017/);
    expect((err as Error).message).not.toContain('Secret_123');
  });
});

describe('OracleFlowEngine (MigrationEngine over a flow)', () => {
  const spec = parseSpec({ name: 'm42', source: { host: 'a', database: 'ORCL', user: 'system' }, target: { host: 'b', database: 'ORCL', user: 'system' } });
  const ctx = { migrationId: 'm42', spec, workerId: 'w', source: {}, target: {} } as unknown as EngineContext;

  it('precheck turns a failing step into a fail item; the full load runs once and is skipped when retried', async () => {
    const flow = rmanMigrationFlow({ tag: 'm42', staging, channels: 1, targetDataDir: '/u02/oradata/ORCL', fenceSchemas: [] });
    const fake = fakeRunners((c) => (c.text.includes('log_mode') ? { rows: [['NOARCHIVELOG']] } : c.kind === 'sql' ? { rows: [['10']] } : c.text.startsWith('find') ? { result: { stdout: '/u03/ferry/m42/base/ctl_1\n' } } : {}));
    const engine = new OracleFlowEngine({ flowFor: () => flow, openRunners: () => Promise.resolve({ runners: fake.runners, close: () => Promise.resolve() }), vars: memoryVarsStore() });
    const items = await engine.precheck(ctx);
    expect(items).toHaveLength(1);
    expect(items[0]!.status).toBe('fail');
    expect(items[0]!.message).toMatch(/ARCHIVELOG mode/);
    const [chunk] = await engine.planFullLoad(ctx, []);
    expect((await engine.copyChunk(ctx, chunk!, () => undefined)).skipped).toBe(false);
    const before = fake.calls.length;
    expect((await engine.copyChunk(ctx, chunk!, () => undefined)).skipped).toBe(true);
    expect(fake.calls.length).toBe(before);
  });

  it('physical variants refuse renames in precheck', async () => {
    const flow = dataGuardFlow({
      configuration: 'c', primary: { dbUniqueName: 'A', connectIdentifier: 'A' }, standby: { dbUniqueName: 'B', connectIdentifier: 'B', dataDir: '/d', sourceDataDir: '/s' },
      credentials: { kind: 'wallet' }, maxLagSeconds: 5,
    });
    const fake = fakeRunners(() => ({ rows: [['ARCHIVELOG']] }));
    const engine = new OracleFlowEngine({ flowFor: () => flow, openRunners: () => Promise.resolve({ runners: fake.runners, close: () => Promise.resolve() }), vars: memoryVarsStore() });
    const renamed = { ...ctx, spec: { ...spec, rename: { schemas: {}, tables: { 'HR.EMP': 'EMPLOYEES' }, columns: {} } } };
    const items = await engine.precheck(renamed);
    expect(items.find((i) => i.id === 'rename:physical')?.status).toBe('fail');
  });
});
