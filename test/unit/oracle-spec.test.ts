// The spec's `oracle` block (workflows/oracleSettings.ts) and the factory that turns it into flows.
import { describe, expect, it } from 'vitest';
import { oracleFlowFor, shortName } from '../../activities/adapters/oracle/factory';
import { renderPhase } from '../../activities/adapters/oracle/flow';
import { parseSpec, SpecError } from '../../workflows/spec';

const ep = (host: string) => ({ host, port: 1521, database: 'ORCLPDB1', user: 'system', password: 'env:ORA_PW' });
const staging = { bucket: 'ferry-staging', sourceDir: '/u03/stage', targetDir: '/u03/stage' };
const runners = { source: { kind: 'host' }, target: { kind: 'kubectl', namespace: 'db', pod: 'mydb-sts-0', container: 'oracledb' } };
const base = { name: 'hr-move', source: ep('a'), target: ep('b') };

function issues(input: Record<string, unknown>): string[] {
  try {
    parseSpec(input);
    return [];
  } catch (err) {
    if (err instanceof SpecError) return err.issues.map((i) => `${i.path}: ${i.message}`);
    throw err;
  }
}

describe('spec: the oracle block', () => {
  it('is required by the Oracle engines and refused by the others', () => {
    expect(issues({ ...base, engine: 'pg-to-oracle' })).toEqual(['oracle: is required when engine is pg-to-oracle']);
    expect(issues({ ...base, oracle: { emptyStrings: 'space' } })).toEqual(['oracle: only applies to the Oracle engines, not native-postgres']);
    expect(parseSpec({ ...base, engine: 'pg-to-oracle', oracle: {} }).oracle?.emptyStrings).toBe('null');
  });

  it('asks each flow for its own settings and refuses the others', () => {
    expect(issues({ ...base, engine: 'oracle-datapump', oracle: {} })).toEqual([
      'oracle.staging: is required when engine is oracle-datapump',
      'oracle.runners: is required when engine is oracle-datapump',
      'oracle.dataPump: is required when engine is oracle-datapump',
    ]);
    expect(issues({ ...base, engine: 'oracle-rman', oracle: { staging, runners, dataPump: { schemas: ['HR'] } } })).toEqual([
      'oracle.rman: is required when engine is oracle-rman',
      'oracle.dataPump: does not apply to engine oracle-rman',
    ]);
    expect(issues({ ...base, engine: 'pg-to-oracle', oracle: { staging } })).toEqual(['oracle.staging: does not apply to engine pg-to-oracle']);
  });

  it('runs the Oracle engines offline only, for now', () => {
    expect(issues({ ...base, engine: 'oracle-rman', mode: 'online', oracle: { staging, runners, rman: { targetDataDir: '/u02/x', fenceSchemas: ['HR'] } } })).toEqual([
      'mode: engine oracle-rman runs offline only (docs/oracle.md)',
    ]);
  });

  it('checks names, paths and the Data Guard password reference', () => {
    const dg = {
      primary: { dbUniqueName: 'ORCL_A', connectIdentifier: 'orcl_a' },
      standby: { dbUniqueName: 'orcl_a', connectIdentifier: 'orcl_b', dataDir: '/u02/b', sourceDataDir: '../a' },
      credentials: { kind: 'password', user: 'sys', password: 'hunter2' },
    };
    expect(issues({ ...base, engine: 'oracle-dataguard', oracle: { runners, dataGuard: dg } })).toEqual([
      "oracle.dataGuard.standby.sourceDataDir: must be an absolute path of [A-Za-z0-9_./-] without '..'",
      'oracle.dataGuard.credentials.password: must be a secret reference, env:NAME or file:PATH (plaintext passwords are refused)',
      'oracle.dataGuard.standby.dbUniqueName: must differ from the primary DB_UNIQUE_NAME',
    ]);
    expect(issues({ ...base, engine: 'oracle-rman', oracle: { staging: { ...staging, bucket: 'Bad Bucket' }, runners: { source: { kind: 'ssh' }, target: { kind: 'host' } }, rman: { targetDataDir: '/x', fenceSchemas: [] } } }).map((i) => i.split(':')[0])).toEqual([
      'oracle.staging.bucket',
      'oracle.runners.source.kind',
      'oracle.rman.fenceSchemas',
    ]);
  });
});

describe('factory: flows from the spec', () => {
  it('short names fit Oracle job names and tags, and stay apart when shortened', () => {
    expect(shortName('hr-move')).toBe('hr_move');
    expect(shortName('9lives')).toBe('m9lives');
    const a = shortName('a-very-long-migration-name-one');
    const b = shortName('a-very-long-migration-name-two');
    expect(a).toHaveLength(20);
    expect(a).not.toBe(b);
    expect(a).toMatch(/^[A-Za-z][A-Za-z0-9_]*$/);
  });

  it('Data Pump: schema renames become REMAP_SCHEMA, the prefix defaults to ferry/<name>, parallel to the spec', async () => {
    const spec = parseSpec({ ...base, engine: 'oracle-datapump', parallelism: 3, rename: { schemas: { HR: 'HR2' } }, oracle: { staging, runners, dataPump: { schemas: ['HR'] } } });
    const flow = await oracleFlowFor(spec, () => Promise.reject(new Error('no secrets needed')));
    const text = renderPhase(flow, 'fullLoad', { exportScn: '1' });
    expect(text).toContain('gs://ferry-staging/ferry/hr-move/datapump');
    expect(text).toContain("old_value => 'HR', value => 'HR2'");
    expect(text).toContain('SET_PARALLEL(handle => h, degree => 3)');
    expect(text).toContain("job_name => 'FERRY_EXP_HR_MOVE'");
  });

  it('Data Guard: the password is resolved inside the activity; lag defaults to the cutover lag', async () => {
    const spec = parseSpec({
      ...base,
      engine: 'oracle-dataguard',
      cutover: { maxLagSeconds: 7 },
      oracle: {
        runners,
        dataGuard: {
          primary: { dbUniqueName: 'ORCL_A', connectIdentifier: 'orcl_a' },
          standby: { dbUniqueName: 'ORCL_B', connectIdentifier: 'orcl_b', dataDir: '/u02/b', sourceDataDir: '/u02/a' },
          credentials: { kind: 'password', user: 'sys', password: 'env:DG_PW' },
        },
      },
    });
    const asked: string[] = [];
    const flow = await oracleFlowFor(spec, (ref, field) => {
      asked.push(`${field}=${ref}`);
      return Promise.resolve('S3cret_pw');
    });
    expect(asked).toEqual(['oracle.dataGuard.credentials.password=env:DG_PW']);
    expect(renderPhase(flow, 'cutover', {})).toContain("SWITCHOVER TO 'ORCL_B';");
    expect(renderPhase(flow, 'fullLoad', {})).toContain("CREATE CONFIGURATION 'ferry_hr_move'");
    expect(renderPhase(flow, 'cutover', {})).toContain('CONNECT sys/***@orcl_a');
  });
});
