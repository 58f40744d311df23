// Generated Data Pump (DBMS_DATAPUMP PL/SQL), RMAN and DGMGRL scripts against golden files in
// test/golden/oracle/, reviewed by hand against Oracle's documentation (see docs/oracle.md).
// Nothing here has run against a real Oracle. UPDATE_GOLDEN=1 rewrites the golden files.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { dataGuardFlow, duplicateForStandbyScript, brokerSetupScript, parseLag, readyForSwitchover, switchoverDone, switchoverScript, type DataGuardConfig } from '../../activities/adapters/oracle/dataguard';
import { dataPumpFlow, exportPlsql, importPlsql, type DataPumpConfig } from '../../activities/adapters/oracle/datapump';
import { renderPhase } from '../../activities/adapters/oracle/flow';
import { rmanArchiveLogScript, rmanBackupScript, rmanMigrationFlow, rmanRecoverScript, rmanRestoreScript, type RmanMigrationConfig } from '../../activities/adapters/oracle/rman';

const GOLDEN = path.resolve(__dirname, '../golden/oracle');
function golden(name: string, actual: string): void {
  const file = path.join(GOLDEN, name);
  if (process.env.UPDATE_GOLDEN === '1') {
    mkdirSync(GOLDEN, { recursive: true });
    writeFileSync(file, actual);
  }
  if (!existsSync(file)) throw new Error(`golden file ${file} is missing (UPDATE_GOLDEN=1 writes it)`);
  expect(actual).toBe(readFileSync(file, 'utf8'));
}

const staging = { bucket: 'ferry-staging', prefix: 'migrations/m42', sourceDir: '/u03/ferry/m42', targetDir: '/u03/ferry/m42' };

const dp: DataPumpConfig = {
  id: 'm42',
  schemas: ['HR', "O'BRIEN"],
  remapSchemas: { HR: 'HR_K8S' },
  directory: 'FERRY_DUMP',
  staging,
  parallel: 4,
};

describe('Data Pump (DBMS_DATAPUMP)', () => {
  it('export PL/SQL', () => golden('datapump-export.sql', exportPlsql(dp)));
  it('import PL/SQL', () => golden('datapump-import.sql', importPlsql({ ...dp, tableExistsAction: 'SKIP' })));
  it('whole flow, every phase', () => {
    const flow = dataPumpFlow(dp);
    const phases = ['precheck', 'provision', 'fence', 'fullLoad', 'cleanup', 'abort', 'unfence'] as const;
    golden('flow-datapump.txt', `${phases.map((p) => renderPhase(flow, p, { exportScn: '123456789' })).join('\n\n')}\n`);
  });
  it('refuses unsafe settings', () => {
    expect(() => exportPlsql({ ...dp, id: 'x; drop' })).toThrow(/id/);
    expect(() => exportPlsql({ ...dp, directory: "D'X" })).toThrow(/directory/);
    expect(() => exportPlsql({ ...dp, version: "19'" })).toThrow(/version/);
    expect(() => dataPumpFlow({ ...dp, staging: { ...staging, sourceDir: '/u03/../etc' } })).toThrow(/sourceDir/);
  });
});

const rm: RmanMigrationConfig = { tag: 'm42', staging, channels: 2, targetDataDir: '/u02/oradata/ORCL', fenceSchemas: ['HR'] };

describe('RMAN migration', () => {
  it('level-0 backup', () => golden('rman-backup.rman', rmanBackupScript(rm, '/u03/ferry/m42/base')));
  it('archive-log backup from an SCN', () => golden('rman-archivelog.rman', rmanArchiveLogScript(rm, '/u03/ferry/m42/archivelog', '1234567')));
  it('restore on the target, recover to the backup SCN, stay mounted', () =>
    golden('rman-restore.rman', rmanRestoreScript(rm, '/u03/ferry/m42/base', '/u03/ferry/m42/base/ctl_ORCL_20240501_0a2b3c4d_1_1', '1234567')));
  it('recover UNTIL TIME (server offset applied, whole seconds)', () =>
    golden('rman-recover-until-time.rman', rmanRecoverScript({ ...rm, serverUtcOffsetMinutes: 120 }, '/u03/ferry/m42/archivelog', { utc: '2024-05-01T10:34:56.789Z' })));
  it('whole flow with an SCN learned on the way', () => {
    const flow = rmanMigrationFlow(rm);
    const vars = { baseScn: '1000', controlFilePiece: '/u03/ferry/m42/base/ctl_ORCL_1', recoveredScn: '1000', archivedScn: '2000' };
    const phases = ['precheck', 'provision', 'fullLoad', 'catchUp', 'fence', 'cutover', 'cleanup'] as const;
    golden('flow-rman.txt', `${phases.map((p) => renderPhase(flow, p, vars)).join('\n\n')}\n`);
  });
  it('an SCN that is not a number never reaches a script', () => {
    expect(() => rmanArchiveLogScript(rm, '/x', '12; DROP')).toThrow(/not an SCN/);
    expect(() => rmanRecoverScript(rm, '/x', { scn: '' })).toThrow(/not an SCN/);
  });
});

const dg: DataGuardConfig = {
  configuration: 'ferry_m42',
  primary: { dbUniqueName: 'ORCL_ONPREM', connectIdentifier: 'onprem-db.example.com:1521/ORCL' },
  standby: { dbUniqueName: 'ORCL_GKE', connectIdentifier: 'orcl-gke.db.svc:1521/ORCL', dataDir: '/u02/app/oracle/oradata/ORCL_GKE', sourceDataDir: '/u01/oradata/ORCL' },
  credentials: { kind: 'password', user: 'sys', password: 's3cret_pw' },
  maxLagSeconds: 5,
};

describe('Data Guard (RMAN duplicate, DGMGRL)', () => {
  it('RMAN active duplicate for standby', () => golden('dataguard-duplicate.rman', duplicateForStandbyScript({ ...dg, credentials: { kind: 'wallet' } })));
  it('broker configuration', () => golden('dataguard-broker.dgmgrl', brokerSetupScript({ ...dg, credentials: { kind: 'wallet' } })));
  it('switchover', () => golden('dataguard-switchover.dgmgrl', switchoverScript({ ...dg, credentials: { kind: 'wallet' } })));
  it('whole flow (passwords redacted when rendered)', () => {
    const flow = dataGuardFlow(dg);
    const text = (['precheck', 'provision', 'fullLoad', 'catchUp', 'cutover', 'abort'] as const).map((p) => renderPhase(flow, p, {})).join('\n\n');
    expect(text).not.toContain('s3cret_pw');
    golden('flow-dataguard.txt', `${text}\n`);
  });
  it('passwords RMAN/DGMGRL cannot take unquoted are refused (use a wallet)', () => {
    expect(() => switchoverScript({ ...dg, credentials: { kind: 'password', user: 'sys', password: 'p@ss word' } })).toThrow(/wallet/);
  });

  it('lag from SHOW DATABASE', () => {
    const out = `Database - ORCL_GKE

  Role:               PHYSICAL STANDBY
  Intended State:     APPLY-ON
  Transport Lag:      0 seconds (computed 1 second ago)
  Apply Lag:          1 minute 5 seconds (computed 1 second ago)
  Average Apply Rate: 12.00 KByte/s
`;
    expect(parseLag(out, 'Transport')).toBe(0);
    expect(parseLag(out, 'Apply')).toBe(65);
    expect(parseLag('Apply Lag: (unknown)', 'Apply')).toBeNull();
    expect(parseLag('nothing', 'Apply')).toBeNull();
  });

  it('switchover readiness and result from DGMGRL output', () => {
    expect(readyForSwitchover('  Ready for Switchover:  Yes\n')).toBeNull();
    expect(readyForSwitchover('  Ready for Switchover:  No\n')).toMatch(/not ready/);
    const after = `  Ready for Switchover:  Yes
Performing switchover NOW, please wait...
Switchover succeeded, new primary is "orcl_gke"
Configuration - ferry_m42

  Protection Mode: MaxPerformance
  Members:
  ORCL_GKE    - Primary database
    ORCL_ONPREM - Physical standby database

Fast-Start Failover:  Disabled

Configuration Status:
SUCCESS   (status updated 10 seconds ago)
`;
    expect(switchoverDone(after, 'ORCL_GKE')).toBeNull();
    expect(switchoverDone(after.replace('ORCL_GKE    - Primary', 'ORCL_GKE    - Physical standby'), 'ORCL_GKE')).toMatch(/not listed as the primary/);
    expect(switchoverDone(after.replace('SUCCESS', 'WARNING'), 'ORCL_GKE')).toMatch(/not SUCCESS/);
  });
});
