// El Carro's Data Guard migration: the target becomes a physical standby of the source (RMAN
// active duplication over the network), redo ships and applies continuously (lag read from the
// broker), and cutover is a broker SWITCHOVER: the standby becomes the primary and the old
// primary a standby, kept as the way back. Minimal downtime: only the switchover itself.
import { checkSimpleName, quoteOracleLiteral } from './identifiers';
import type { FlowStep, OracleFlow } from './flow';
import { OracleStepFailed } from './runner';
import { checkPath } from './staging';

/** How RMAN and DGMGRL authenticate to each database (SYSDBA/SYSDG over Oracle Net). */
export type DgCredentials =
  /** Secure External Password Store (wallet) on the host: `CONNECT /@alias`. Preferred. */
  | { kind: 'wallet' }
  /** User and password, sent only on the tool's stdin. */
  | { kind: 'password'; user: string; password: string };

export interface DataGuardConfig {
  /** Broker configuration name. */
  configuration: string;
  primary: { dbUniqueName: string; connectIdentifier: string };
  standby: { dbUniqueName: string; connectIdentifier: string; dataDir: string; sourceDataDir: string; logDir?: string; sourceLogDir?: string };
  credentials: DgCredentials;
  /** Cut over only when apply lag is at or under this. */
  maxLagSeconds: number;
}

const TNS = /^[A-Za-z0-9_.:/-]+$/;

function check(cfg: DataGuardConfig): DataGuardConfig {
  checkSimpleName('broker configuration', cfg.configuration);
  checkSimpleName('primary DB_UNIQUE_NAME', cfg.primary.dbUniqueName);
  checkSimpleName('standby DB_UNIQUE_NAME', cfg.standby.dbUniqueName);
  if (cfg.primary.dbUniqueName.toUpperCase() === cfg.standby.dbUniqueName.toUpperCase()) throw new OracleStepFailed('primary and standby need different DB_UNIQUE_NAMEs');
  for (const id of [cfg.primary.connectIdentifier, cfg.standby.connectIdentifier]) {
    if (!TNS.test(id)) throw new OracleStepFailed(`connect identifier '${id}' must be a TNS alias or host:port/service`);
  }
  if (cfg.credentials.kind === 'password') {
    checkSimpleName('Data Guard user', cfg.credentials.user);
    // RMAN and DGMGRL parse CONNECT strings themselves; characters they treat specially are refused instead of escaped.
    if (!/^[A-Za-z0-9_#$!%^*+=.,-]{1,128}$/.test(cfg.credentials.password)) {
      throw new OracleStepFailed('the Data Guard password holds characters RMAN/DGMGRL CONNECT cannot take unquoted (use letters, digits and _#$!%^*+=.,-) or use a wallet');
    }
  }
  checkPath('standby dataDir', cfg.standby.dataDir);
  checkPath('source dataDir', cfg.standby.sourceDataDir);
  return cfg;
}

function connect(cfg: DataGuardConfig, role: 'TARGET' | 'AUXILIARY' | '', identifier: string): string {
  const who = cfg.credentials.kind === 'wallet' ? '/' : `${cfg.credentials.user}/${cfg.credentials.password}`;
  return `CONNECT ${role ? `${role} ` : ''}${who}@${identifier}`;
}

/** Run on the primary before duplication: redo for every change, standby redo logs, broker on. */
export function primaryPrepareSql(): string[] {
  return [
    'ALTER DATABASE FORCE LOGGING',
    "ALTER SYSTEM SET standby_file_management = 'AUTO' SCOPE = BOTH",
    // One more standby redo log group per thread than online groups, each as large as the largest online log.
    [
      'DECLARE',
      '  n NUMBER;',
      'BEGIN',
      '  FOR t IN (SELECT thread#, COUNT(*) AS groups, MAX(bytes) AS bytes FROM v$log GROUP BY thread#) LOOP',
      '    SELECT COUNT(*) INTO n FROM v$standby_log WHERE thread# = t.thread#;',
      '    FOR i IN n + 1 .. t.groups + 1 LOOP',
      "      EXECUTE IMMEDIATE 'ALTER DATABASE ADD STANDBY LOGFILE THREAD ' || t.thread# || ' SIZE ' || t.bytes;",
      '    END LOOP;',
      '  END LOOP;',
      'END;',
    ].join('\n'),
    'ALTER SYSTEM SET dg_broker_start = TRUE SCOPE = BOTH',
  ];
}

/** RMAN (on the standby host, instance started NOMOUNT) duplicating the primary over the network. */
export function duplicateForStandbyScript(config: DataGuardConfig): string {
  const cfg = check(config);
  const p = cfg.primary.dbUniqueName;
  const s = cfg.standby.dbUniqueName;
  const convert = (from: string, to: string) => `${quoteOracleLiteral(`${from}/`)},${quoteOracleLiteral(`${to}/`)}`;
  return [
    `${connect(cfg, 'TARGET', cfg.primary.connectIdentifier)};`,
    `${connect(cfg, 'AUXILIARY', cfg.standby.connectIdentifier)};`,
    'DUPLICATE TARGET DATABASE FOR STANDBY FROM ACTIVE DATABASE DORECOVER',
    '  SPFILE',
    `    SET db_unique_name=${quoteOracleLiteral(s)}`,
    `    SET fal_server=${quoteOracleLiteral(cfg.primary.connectIdentifier)}`,
    `    SET log_archive_config=${quoteOracleLiteral(`DG_CONFIG=(${p},${s})`)}`,
    `    SET db_file_name_convert=${convert(cfg.standby.sourceDataDir, cfg.standby.dataDir)}`,
    ...(cfg.standby.logDir && cfg.standby.sourceLogDir ? [`    SET log_file_name_convert=${convert(cfg.standby.sourceLogDir, cfg.standby.logDir)}`] : []),
    "    SET standby_file_management='AUTO'",
    "    SET dg_broker_start='TRUE'",
    '  NOFILENAMECHECK;',
    '',
  ].join('\n');
}

/** Broker configuration: the primary, the new standby, enabled (redo transport and apply start). */
export function brokerSetupScript(config: DataGuardConfig): string {
  const cfg = check(config);
  return [
    `${connect(cfg, '', cfg.primary.connectIdentifier)};`,
    `CREATE CONFIGURATION ${quoteOracleLiteral(cfg.configuration)} AS PRIMARY DATABASE IS ${quoteOracleLiteral(cfg.primary.dbUniqueName)} CONNECT IDENTIFIER IS ${quoteOracleLiteral(cfg.primary.connectIdentifier)};`,
    `ADD DATABASE ${quoteOracleLiteral(cfg.standby.dbUniqueName)} AS CONNECT IDENTIFIER IS ${quoteOracleLiteral(cfg.standby.connectIdentifier)} MAINTAINED AS PHYSICAL;`,
    'ENABLE CONFIGURATION;',
    '',
  ].join('\n');
}

export function showDatabaseScript(config: DataGuardConfig): string {
  const cfg = check(config);
  return `${connect(cfg, '', cfg.primary.connectIdentifier)};\nSHOW DATABASE ${quoteOracleLiteral(cfg.standby.dbUniqueName)};\n`;
}

/** VALIDATE first (the broker's own readiness checks), then SWITCHOVER, then show where the primary is. */
export function switchoverScript(config: DataGuardConfig): string {
  const cfg = check(config);
  const s = quoteOracleLiteral(cfg.standby.dbUniqueName);
  return [`${connect(cfg, '', cfg.primary.connectIdentifier)};`, `VALIDATE DATABASE ${s};`, `SWITCHOVER TO ${s};`, 'SHOW CONFIGURATION;', ''].join('\n');
}

export function removeStandbyScript(config: DataGuardConfig): string {
  const cfg = check(config);
  return [`${connect(cfg, '', cfg.primary.connectIdentifier)};`, `REMOVE DATABASE ${quoteOracleLiteral(cfg.standby.dbUniqueName)};`, ''].join('\n');
}

// ------------------------------------------------------------------ reading DGMGRL output

const UNIT: Record<string, number> = { second: 1, minute: 60, hour: 3600, day: 86400 };

/** `Transport Lag: 1 minute 5 seconds (computed ...)` -> seconds; null when not shown or unknown. */
export function parseLag(output: string, which: 'Transport' | 'Apply'): number | null {
  const line = new RegExp(`${which} Lag:\\s*([^\\n(]*)`, 'i').exec(output)?.[1]?.trim();
  if (!line || /unknown|not available/i.test(line)) return null;
  let total = 0;
  let any = false;
  for (const m of line.matchAll(/(\d+)\s*(second|minute|hour|day)s?/gi)) {
    total += Number(m[1]) * (UNIT[m[2]!.toLowerCase()] ?? 0);
    any = true;
  }
  return any ? total : null;
}

/** VALIDATE DATABASE says `Ready for Switchover: Yes`. */
export function readyForSwitchover(output: string): string | null {
  const m = /Ready for Switchover:\s*(\w+)/i.exec(output);
  if (!m) return 'VALIDATE DATABASE did not report switchover readiness';
  return m[1]!.toLowerCase() === 'yes' ? null : `the broker reports the standby is not ready for switchover (${m[1]})`;
}

/** After switchover, SHOW CONFIGURATION lists the standby as `- Primary database` and status SUCCESS. */
export function switchoverDone(output: string, newPrimary: string): string | null {
  const ready = readyForSwitchover(output);
  if (ready) return ready;
  const primary = new RegExp(`^\\s*${newPrimary.replace(/[$#]/g, '\\$&')}\\s+-\\s+Primary database`, 'im').test(output);
  if (!primary) return `${newPrimary} is not listed as the primary database after SWITCHOVER`;
  if (!/Configuration Status:\s*\n?\s*SUCCESS/i.test(output)) return 'the broker configuration status is not SUCCESS after switchover';
  return null;
}

function lagCheck(cfg: DataGuardConfig): (out: string) => string | null {
  return (out) => {
    const apply = parseLag(out, 'Apply');
    if (apply === null) return 'the broker shows no apply lag for the standby (is redo apply running?)';
    return apply <= cfg.maxLagSeconds ? null : `apply lag ${apply}s is over ${cfg.maxLagSeconds}s`;
  };
}

export function dataGuardFlow(config: DataGuardConfig): OracleFlow {
  const cfg = check(config);
  return {
    variant: 'oracle-dataguard',
    summary: `physical standby ${cfg.standby.dbUniqueName} of ${cfg.primary.dbUniqueName} by RMAN active duplication; broker switchover at cutover`,
    offline: false,
    phases: {
      precheck: [
        {
          kind: 'sql',
          on: 'source',
          name: 'primary runs in ARCHIVELOG mode',
          sql: 'SELECT log_mode FROM v$database',
          expect: { value: 'ARCHIVELOG', message: 'a Data Guard primary must run in ARCHIVELOG mode' },
        },
        { kind: 'command', on: 'target', name: 'rman and dgmgrl are installed on the standby host', argv: ['sh', '-c', 'command -v rman && command -v dgmgrl'] },
      ],
      provision: [
        ...primaryPrepareSql().map((sql, i): FlowStep => ({ kind: 'sql', on: 'source', name: `prepare the primary (${i + 1})`, sql })),
        { kind: 'command', on: 'target', name: 'standby data folder', argv: ['mkdir', '-p', cfg.standby.dataDir] },
      ],
      fullLoad: [
        { kind: 'rman', on: 'target', name: 'duplicate the primary as a physical standby', argv: ['rman'], script: duplicateForStandbyScript(cfg) },
        { kind: 'dgmgrl', on: 'target', name: 'broker configuration', script: brokerSetupScript(cfg) },
      ],
      catchUp: [{ kind: 'dgmgrl', on: 'target', name: 'standby lag', script: showDatabaseScript(cfg), check: lagCheck(cfg) }],
      cutover: [
        { kind: 'dgmgrl', on: 'target', name: 'standby lag before switchover', script: showDatabaseScript(cfg), check: lagCheck(cfg) },
        { kind: 'dgmgrl', on: 'target', name: 'switchover', script: switchoverScript(cfg), check: (out) => switchoverDone(out, cfg.standby.dbUniqueName) },
      ],
      // Success: the old primary stays a standby of the new one, the way back. Nothing to remove.
      cleanup: [],
      abort: [{ kind: 'dgmgrl', on: 'target', name: 'remove the standby from the broker', script: removeStandbyScript(cfg) }],
    },
  };
}
