// Data Pump through the DBMS_DATAPUMP PL/SQL API (no expdp/impdp binaries needed: it runs over
// a SQL session), El Carro's "Data Pump" migration: offline, schema mode. The export is
// consistent at one SCN (FLASHBACK_SCN); dump files are staged in GCS; the import remaps
// schemas. Table and column renames are applied afterwards with ALTER TABLE (applyRenames).
import { checkSimpleName, quoteOracleIdent, quoteOracleLiteral } from './identifiers';
import type { FlowStep, OracleFlow } from './flow';
import { OracleStepFailed } from './runner';
import { checkStaging, clearStep, mkdirStep, transferSteps, type Staging } from './staging';

export interface DataPumpConfig {
  /** Short id for job and file names: [A-Za-z0-9_], at most 20 characters. */
  id: string;
  /** Source schemas (Oracle user names, exact case). */
  schemas: string[];
  /** Source schema -> target schema. */
  remapSchemas: Record<string, string>;
  /** Directory object created on both sides over the staging folders. */
  directory: string;
  staging: Staging;
  parallel: number;
  /** What the import does with a table that exists; default SKIP (never overwrite). */
  tableExistsAction?: 'SKIP' | 'APPEND' | 'TRUNCATE' | 'REPLACE';
  /** Export metadata compatible with this release (e.g. '12.2' when the target is older), default COMPATIBLE. */
  version?: string;
}

const SUB = 'datapump';

function check(cfg: DataPumpConfig): DataPumpConfig {
  if (!/^[A-Za-z0-9_]{1,20}$/.test(cfg.id)) throw new OracleStepFailed(`Data Pump id '${cfg.id}' must be 1-20 of [A-Za-z0-9_]`);
  if (cfg.schemas.length === 0) throw new OracleStepFailed('Data Pump needs at least one schema');
  checkSimpleName('directory', cfg.directory);
  if (!Number.isInteger(cfg.parallel) || cfg.parallel < 1 || cfg.parallel > 64) throw new OracleStepFailed(`parallel must be 1..64, got ${cfg.parallel}`);
  if (cfg.version !== undefined && !/^(COMPATIBLE|LATEST|\d{1,2}(\.\d{1,2}){0,3})$/.test(cfg.version)) throw new OracleStepFailed(`version '${cfg.version}' must be COMPATIBLE, LATEST or a release like 12.2`);
  for (const s of [...cfg.schemas, ...Object.values(cfg.remapSchemas)]) quoteOracleIdent(s, 128);
  return { ...cfg, staging: checkStaging(cfg.staging) };
}

const jobName = (cfg: DataPumpConfig, op: 'EXP' | 'IMP') => `FERRY_${op}_${cfg.id.toUpperCase()}`;
const dumpFiles = (cfg: DataPumpConfig) => `ferry_${cfg.id.toLowerCase()}_%U.dmp`;

/** SCHEMA_EXPR value: `IN ('HR', 'SALES')`, itself passed as a literal (quotes doubled twice over). */
function schemaExpr(schemas: readonly string[]): string {
  return quoteOracleLiteral(`IN (${schemas.map(quoteOracleLiteral).join(', ')})`);
}

/**
 * A job left NOT RUNNING by an earlier attempt keeps its name (and master table): drop it so a
 * retried step can OPEN again. A running one is left alone and OPEN fails with ORA-31634.
 */
function dropStaleJob(job: string): string[] {
  return [
    `  FOR j IN (SELECT job_name FROM user_datapump_jobs WHERE job_name = ${quoteOracleLiteral(job)} AND state = 'NOT RUNNING') LOOP`,
    `    EXECUTE IMMEDIATE 'DROP TABLE "' || j.job_name || '" PURGE';`,
    '  END LOOP;',
  ];
}

function finish(job: string, what: string): string[] {
  return [
    '  DBMS_DATAPUMP.START_JOB(handle => h);',
    '  DBMS_DATAPUMP.WAIT_FOR_JOB(handle => h, job_state => job_state);',
    "  IF job_state <> 'COMPLETED' THEN",
    `    RAISE_APPLICATION_ERROR(-20001, ${quoteOracleLiteral(`Data Pump ${what} ${job} ended in state `)} || job_state);`,
    '  END IF;',
    'EXCEPTION',
    '  WHEN OTHERS THEN',
    '    -- Leave no half-defined job behind; the original error is what the caller sees.',
    '    IF h IS NOT NULL THEN',
    '      BEGIN DBMS_DATAPUMP.STOP_JOB(handle => h, immediate => 1, keep_master => 0); EXCEPTION WHEN OTHERS THEN NULL; END;',
    '    END IF;',
    '    RAISE;',
    'END;',
  ];
}

/** Schema-mode export consistent at bind :scn, into the directory, `parallel` files. */
export function exportPlsql(config: DataPumpConfig): string {
  const cfg = check(config);
  const job = jobName(cfg, 'EXP');
  return [
    'DECLARE',
    '  h NUMBER;',
    '  job_state VARCHAR2(30);',
    'BEGIN',
    ...dropStaleJob(job),
    `  h := DBMS_DATAPUMP.OPEN(operation => 'EXPORT', job_mode => 'SCHEMA', job_name => ${quoteOracleLiteral(job)}, version => ${quoteOracleLiteral(cfg.version ?? 'COMPATIBLE')});`,
    `  DBMS_DATAPUMP.ADD_FILE(handle => h, filename => ${quoteOracleLiteral(dumpFiles(cfg))}, directory => ${quoteOracleLiteral(cfg.directory)}, filetype => DBMS_DATAPUMP.KU$_FILE_TYPE_DUMP_FILE, reusefile => 1);`,
    `  DBMS_DATAPUMP.ADD_FILE(handle => h, filename => ${quoteOracleLiteral(`ferry_${cfg.id.toLowerCase()}_export.log`)}, directory => ${quoteOracleLiteral(cfg.directory)}, filetype => DBMS_DATAPUMP.KU$_FILE_TYPE_LOG_FILE, reusefile => 1);`,
    `  DBMS_DATAPUMP.METADATA_FILTER(handle => h, name => 'SCHEMA_EXPR', value => ${schemaExpr(cfg.schemas)});`,
    "  DBMS_DATAPUMP.SET_PARAMETER(handle => h, name => 'FLASHBACK_SCN', value => TO_NUMBER(:scn));",
    `  DBMS_DATAPUMP.SET_PARALLEL(handle => h, degree => ${cfg.parallel});`,
    ...finish(job, 'export'),
    '',
  ].join('\n');
}

/** Schema-mode import of the staged files with schema remaps. */
export function importPlsql(config: DataPumpConfig): string {
  const cfg = check(config);
  const job = jobName(cfg, 'IMP');
  const remaps = Object.entries(cfg.remapSchemas).filter(([from, to]) => from !== to);
  return [
    'DECLARE',
    '  h NUMBER;',
    '  job_state VARCHAR2(30);',
    'BEGIN',
    ...dropStaleJob(job),
    `  h := DBMS_DATAPUMP.OPEN(operation => 'IMPORT', job_mode => 'SCHEMA', job_name => ${quoteOracleLiteral(job)});`,
    `  DBMS_DATAPUMP.ADD_FILE(handle => h, filename => ${quoteOracleLiteral(dumpFiles(cfg))}, directory => ${quoteOracleLiteral(cfg.directory)}, filetype => DBMS_DATAPUMP.KU$_FILE_TYPE_DUMP_FILE);`,
    `  DBMS_DATAPUMP.ADD_FILE(handle => h, filename => ${quoteOracleLiteral(`ferry_${cfg.id.toLowerCase()}_import.log`)}, directory => ${quoteOracleLiteral(cfg.directory)}, filetype => DBMS_DATAPUMP.KU$_FILE_TYPE_LOG_FILE, reusefile => 1);`,
    `  DBMS_DATAPUMP.METADATA_FILTER(handle => h, name => 'SCHEMA_EXPR', value => ${schemaExpr(cfg.schemas)});`,
    ...remaps.map(
      ([from, to]) => `  DBMS_DATAPUMP.METADATA_REMAP(handle => h, name => 'REMAP_SCHEMA', old_value => ${quoteOracleLiteral(from)}, value => ${quoteOracleLiteral(to)});`,
    ),
    `  DBMS_DATAPUMP.SET_PARAMETER(handle => h, name => 'TABLE_EXISTS_ACTION', value => ${quoteOracleLiteral(cfg.tableExistsAction ?? 'SKIP')});`,
    `  DBMS_DATAPUMP.SET_PARALLEL(handle => h, degree => ${cfg.parallel});`,
    ...finish(job, 'import'),
    '',
  ].join('\n');
}

function directoryDdl(directory: string, path: string): string {
  // CREATE DIRECTORY takes no binds; both parts are checked (simple name, safe path).
  return `CREATE OR REPLACE DIRECTORY ${quoteOracleIdent(directory.toUpperCase())} AS ${quoteOracleLiteral(path)}`;
}

/** The whole Data Pump flow, phase by phase. */
export function dataPumpFlow(config: DataPumpConfig): OracleFlow {
  const cfg = check(config);
  const src = `${cfg.staging.sourceDir}/${SUB}`;
  const tgt = `${cfg.staging.targetDir}/${SUB}`;
  const targets = cfg.schemas.map((s) => cfg.remapSchemas[s] ?? s);
  const schemaCheck = (s: string): FlowStep => ({
    kind: 'sql',
    on: 'target',
    name: `target schema ${s} must not exist yet`,
    sql: 'SELECT TO_CHAR(COUNT(*)) FROM all_users WHERE username = :name',
    binds: { name: s },
    expect: { value: '0', message: `schema ${s} already exists on the target: drop it, or remap to a new schema` },
  });
  return {
    variant: 'oracle-datapump',
    summary: `Data Pump export of ${cfg.schemas.join(', ')} at one SCN, staged in ${cfg.staging.bucket}, imported into ${targets.join(', ')}`,
    offline: true,
    phases: {
      precheck: [
        ...cfg.schemas.map(
          (s): FlowStep => ({
            kind: 'sql',
            on: 'source',
            name: `source schema ${s} exists`,
            sql: 'SELECT TO_CHAR(COUNT(*)) FROM all_users WHERE username = :name',
            binds: { name: s },
            expect: { value: '1', message: `schema ${s} not found on the source` },
          }),
        ),
        ...targets.map(schemaCheck),
      ],
      provision: [
        mkdirStep('source', src),
        mkdirStep('target', tgt),
        { kind: 'sql', on: 'source', name: 'directory object on the source', sql: directoryDdl(cfg.directory, src) },
        { kind: 'sql', on: 'target', name: 'directory object on the target', sql: directoryDdl(cfg.directory, tgt) },
      ],
      fence: fenceSteps(cfg.schemas),
      unfence: [unfenceStep()],
      fullLoad: [
        {
          kind: 'sql',
          on: 'source',
          name: 'current SCN (export consistency point)',
          sql: 'SELECT TO_CHAR(DBMS_FLASHBACK.GET_SYSTEM_CHANGE_NUMBER) FROM dual',
          capture: { into: 'exportScn', pattern: /^\d+$/ },
        },
        (vars) => ({ kind: 'sql', on: 'source', name: 'Data Pump export', sql: exportPlsql(cfg), binds: { scn: vars.exportScn ?? '' } }),
        ...transferSteps(cfg.staging, SUB, 'dump files'),
        { kind: 'sql', on: 'target', name: 'Data Pump import', sql: importPlsql(cfg) },
        ...targets.map(
          (s): FlowStep => ({
            kind: 'sql',
            on: 'target',
            name: `recompile invalid objects in ${s}`,
            sql: `BEGIN DBMS_UTILITY.COMPILE_SCHEMA(schema => ${quoteOracleLiteral(s)}, compile_all => FALSE); END;`,
          }),
        ),
      ],
      cleanup: [clearStep('source', src), clearStep('target', tgt)],
      abort: [
        clearStep('source', src),
        clearStep('target', tgt),
        // Only schemas the import created: the precheck refused to start if any existed.
        ...targets.map((s): FlowStep => ({ kind: 'sql', on: 'target', name: `drop imported schema ${s}`, sql: dropUserIfExists(s) })),
      ],
    },
  };
}

function dropUserIfExists(user: string): string {
  return [
    'BEGIN',
    `  EXECUTE IMMEDIATE ${quoteOracleLiteral(`DROP USER ${quoteOracleIdent(user)} CASCADE`)};`,
    'EXCEPTION WHEN OTHERS THEN IF SQLCODE != -1918 THEN RAISE; END IF;',
    'END;',
  ].join('\n');
}

/**
 * Offline fence: no new sessions but privileged ones (RESTRICTED SESSION), and the sessions of
 * the migrated schemas ended, so nothing writes after the export's SCN.
 */
export function fenceSteps(schemas: readonly string[]): FlowStep[] {
  return [
    { kind: 'sql', on: 'source', name: 'restrict new sessions', sql: 'ALTER SYSTEM ENABLE RESTRICTED SESSION' },
    {
      kind: 'sql',
      on: 'source',
      name: 'end sessions of the migrated schemas',
      sql: [
        'BEGIN',
        `  FOR s IN (SELECT sid, serial# AS serial FROM v$session WHERE type = 'USER' AND username IN (${schemas.map(quoteOracleLiteral).join(', ')}) AND sid <> SYS_CONTEXT('USERENV', 'SID')) LOOP`,
        "    EXECUTE IMMEDIATE 'ALTER SYSTEM KILL SESSION ''' || s.sid || ',' || s.serial || ''' IMMEDIATE';",
        '  END LOOP;',
        'END;',
      ].join('\n'),
    },
  ];
}

export function unfenceStep(): FlowStep {
  return { kind: 'sql', on: 'source', name: 'allow sessions again', sql: 'ALTER SYSTEM DISABLE RESTRICTED SESSION' };
}
