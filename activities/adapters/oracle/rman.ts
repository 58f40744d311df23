// El Carro's RMAN-based migration: a level-0 backup of the source restored on the target host,
// kept MOUNTED and rolled forward with archived-redo backups (catch-up, repeatable), and at
// cutover a last archive-log round after the source is fenced, then OPEN RESETLOGS. The same
// DB_NAME and DBID: a physical copy, so versions and platform must match. Also the recovery to a
// point in time (UNTIL TIME) for a restore that does not follow the source to the end.
import { oracleTime } from '../rman';
import { checkSimpleName, quoteOracleLiteral } from './identifiers';
import type { FlowStep, OracleFlow } from './flow';
import { fenceSteps, unfenceStep } from './datapump';
import { OracleStepFailed } from './runner';
import { checkPath, checkStaging, clearStep, mkdirStep, transferSteps, type Staging } from './staging';

export interface RmanMigrationConfig {
  /** Tag prefix for the backups: [A-Za-z0-9_], at most 20 characters. */
  tag: string;
  staging: Staging;
  channels: number;
  /** Data files land here on the target (SET NEWNAME ... '%b' keeps each file's name). */
  targetDataDir: string;
  /** Schemas whose sessions are ended at the fence. */
  fenceSchemas: string[];
  compressed?: boolean;
  /** Server time zone offset for UNTIL TIME (RMAN takes the server's local time). */
  serverUtcOffsetMinutes?: number;
}

function check(cfg: RmanMigrationConfig): RmanMigrationConfig {
  checkSimpleName('RMAN tag prefix', cfg.tag, 20);
  if (!Number.isInteger(cfg.channels) || cfg.channels < 1 || cfg.channels > 16) throw new OracleStepFailed(`channels must be 1..16, got ${cfg.channels}`);
  return { ...cfg, tag: cfg.tag.toUpperCase(), staging: checkStaging(cfg.staging), targetDataDir: checkPath('targetDataDir', cfg.targetDataDir) };
}

function scn(value: string | undefined, what: string): string {
  if (value === undefined || !/^\d+$/.test(value)) throw new OracleStepFailed(`${what} is not an SCN: '${value}'`);
  return value;
}

function channels(n: number, format?: string): string[] {
  return Array.from({ length: n }, (_, i) => `  ALLOCATE CHANNEL c${i + 1} DEVICE TYPE DISK${format ? ` FORMAT ${quoteOracleLiteral(format)}` : ''};`);
}
function release(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `  RELEASE CHANNEL c${i + 1};`);
}

/** Level-0 backup of the whole database, its archived logs, control file and spfile, into `dir`. */
export function rmanBackupScript(config: RmanMigrationConfig, dir: string): string {
  const cfg = check(config);
  const d = checkPath('backup folder', dir);
  const as = cfg.compressed === false ? 'BACKUPSET' : 'COMPRESSED BACKUPSET';
  return [
    'RUN {',
    ...channels(cfg.channels, `${d}/db_%d_%T_%U`),
    `  BACKUP AS ${as} INCREMENTAL LEVEL 0 DATABASE TAG '${cfg.tag}_L0' PLUS ARCHIVELOG TAG '${cfg.tag}_ARCH';`,
    `  BACKUP CURRENT CONTROLFILE FORMAT ${quoteOracleLiteral(`${d}/ctl_%d_%T_%U`)} TAG '${cfg.tag}_CTL';`,
    `  BACKUP SPFILE FORMAT ${quoteOracleLiteral(`${d}/spfile_%d_%T_%U`)} TAG '${cfg.tag}_SPF';`,
    ...release(cfg.channels),
    '}',
    '',
  ].join('\n');
}

/** Archived logs from `fromScn` on (after a log switch so the current redo is included), into `dir`. */
export function rmanArchiveLogScript(config: RmanMigrationConfig, dir: string, fromScn: string): string {
  const cfg = check(config);
  const d = checkPath('backup folder', dir);
  const as = cfg.compressed === false ? 'BACKUPSET' : 'COMPRESSED BACKUPSET';
  return [
    "SQL 'ALTER SYSTEM ARCHIVE LOG CURRENT';",
    'RUN {',
    ...channels(cfg.channels, `${d}/arch_%d_%T_%U`),
    `  BACKUP AS ${as} ARCHIVELOG FROM SCN ${scn(fromScn, 'archive-log start')} TAG '${cfg.tag}_ARCH';`,
    ...release(cfg.channels),
    '}',
    '',
  ].join('\n');
}

/**
 * First restore on the target (instance started NOMOUNT): control file from the staged piece,
 * mount, catalog the pieces, restore the data files under targetDataDir, recover to `untilScn`.
 * The database stays MOUNTED so later archive-log rounds can roll it forward.
 */
export function rmanRestoreScript(config: RmanMigrationConfig, dir: string, controlFilePiece: string, untilScn: string): string {
  const cfg = check(config);
  const d = checkPath('restore folder', dir);
  return [
    `RESTORE CONTROLFILE FROM ${quoteOracleLiteral(checkPath('control file piece', controlFilePiece))};`,
    'ALTER DATABASE MOUNT;',
    `CATALOG START WITH ${quoteOracleLiteral(`${d}/`)} NOPROMPT;`,
    'RUN {',
    `  SET NEWNAME FOR DATABASE TO ${quoteOracleLiteral(`${cfg.targetDataDir}/%b`)};`,
    ...channels(cfg.channels),
    '  RESTORE DATABASE;',
    '  SWITCH DATAFILE ALL;',
    `  RECOVER DATABASE UNTIL SCN ${scn(untilScn, 'recovery target')};`,
    ...release(cfg.channels),
    '}',
    '',
  ].join('\n');
}

/** A catch-up round on the mounted target: catalog the newly staged archive-log pieces, recover further. */
export function rmanRecoverScript(config: RmanMigrationConfig, dir: string, until: { scn: string } | { utc: string }): string {
  const cfg = check(config);
  const d = checkPath('restore folder', dir);
  const target =
    'scn' in until
      ? `UNTIL SCN ${scn(until.scn, 'recovery target')}`
      : `UNTIL TIME "TO_DATE('${oracleTime(until.utc, cfg.serverUtcOffsetMinutes)}','YYYY-MM-DD HH24:MI:SS')"`;
  return [`CATALOG START WITH ${quoteOracleLiteral(`${d}/`)} NOPROMPT;`, 'RUN {', ...channels(cfg.channels), `  RECOVER DATABASE ${target};`, ...release(cfg.channels), '}', ''].join('\n');
}

/** Open the caught-up copy as a new incarnation: the end of the migration (or of a point-in-time restore). */
export function rmanOpenScript(): string {
  return 'ALTER DATABASE OPEN RESETLOGS;\n';
}

/**
 * The highest SCN covered by archived redo in Ferry's backups (tag :tag): where the copy can be
 * recovered to. Read from the backups, not from V$ARCHIVED_LOG, so a log archived after the
 * backup ended (and so not staged) is never asked for by RECOVER.
 */
export const BACKED_UP_SCN_SQL = `SELECT TO_CHAR(MAX(r.next_change#)) FROM v$backup_redolog r
  JOIN v$backup_piece p ON p.set_stamp = r.set_stamp AND p.set_count = r.set_count
 WHERE p.tag = :tag AND r.resetlogs_change# = (SELECT resetlogs_change# FROM v$database)`;

export function rmanMigrationFlow(config: RmanMigrationConfig): OracleFlow {
  const cfg = check(config);
  const s = cfg.staging;
  const archiveRound = (name: string): ((vars: Record<string, string>) => FlowStep)[] => [
    () => ({ kind: 'command', on: 'source', name: `${name}: clear archive-log folder`, argv: ['find', `${s.sourceDir}/archivelog`, '-mindepth', '1', '-delete'] }),
    (v) => ({ kind: 'rman', on: 'source', name: `${name}: back up archived logs`, script: rmanArchiveLogScript(cfg, `${s.sourceDir}/archivelog`, scn(v.recoveredScn, 'last recovered SCN')) }),
    () => ({ kind: 'sql', on: 'source', name: `${name}: SCN covered by the archive-log backups`, sql: BACKED_UP_SCN_SQL, binds: { tag: `${cfg.tag}_ARCH` }, capture: { into: 'archivedScn', pattern: /^\d+$/ } }),
    ...transferSteps(s, 'archivelog', 'archive-log backups').map((step) => () => step),
    (v) => ({ kind: 'rman', on: 'target', name: `${name}: recover the copy`, script: rmanRecoverScript(cfg, `${s.targetDir}/archivelog`, { scn: scn(v.archivedScn, 'archived SCN') }) }),
    (v) => ({ kind: 'set', on: 'target', name: `${name}: the copy is recovered to the archived SCN`, into: 'recoveredScn', value: v.archivedScn ?? '', pattern: /^\d+$/ }),
  ];
  return {
    variant: 'oracle-rman',
    summary: `RMAN level-0 backup restored on the target, rolled forward with archived redo, opened with RESETLOGS at cutover`,
    offline: false,
    phases: {
      precheck: [
        {
          kind: 'sql',
          on: 'source',
          name: 'source runs in ARCHIVELOG mode',
          sql: 'SELECT log_mode FROM v$database',
          expect: { value: 'ARCHIVELOG', message: 'the source must run in ARCHIVELOG mode for archived-redo catch-up' },
        },
        { kind: 'command', on: 'target', name: 'rman is installed on the target host', argv: ['sh', '-c', 'command -v rman'] },
      ],
      provision: [mkdirStep('source', `${s.sourceDir}/base`), mkdirStep('source', `${s.sourceDir}/archivelog`), mkdirStep('target', cfg.targetDataDir)],
      fullLoad: [
        { kind: 'rman', on: 'source', name: 'level-0 backup', script: rmanBackupScript(cfg, `${s.sourceDir}/base`) },
        { kind: 'sql', on: 'source', name: 'SCN covered by the backup', sql: BACKED_UP_SCN_SQL, binds: { tag: `${cfg.tag}_ARCH` }, capture: { into: 'baseScn', pattern: /^\d+$/ } },
        ...transferSteps(s, 'base', 'the level-0 backup'),
        {
          kind: 'command',
          on: 'target',
          name: 'find the control file piece',
          argv: ['find', `${s.targetDir}/base`, '-maxdepth', '1', '-type', 'f', '-name', 'ctl_*'],
          capture: { into: 'controlFilePiece', pattern: /^\/[A-Za-z0-9_./-]+$/, pick: 'last-sorted-line' },
        },
        (v) => ({
          kind: 'rman',
          on: 'target',
          name: 'restore and recover the copy',
          script: rmanRestoreScript(cfg, `${s.targetDir}/base`, v.controlFilePiece ?? '', scn(v.baseScn, 'backup SCN')),
        }),
        (v) => ({ kind: 'set', on: 'target', name: 'the copy is recovered to the backup SCN', into: 'recoveredScn', value: v.baseScn ?? '', pattern: /^\d+$/ }),
      ],
      catchUp: archiveRound('catch-up'),
      fence: fenceSteps(cfg.fenceSchemas),
      unfence: [unfenceStep()],
      cutover: [...archiveRound('final round'), { kind: 'rman', on: 'target', name: 'open the copy', script: rmanOpenScript() }],
      cleanup: [clearStep('source', `${s.sourceDir}/base`), clearStep('source', `${s.sourceDir}/archivelog`), clearStep('target', `${s.targetDir}/base`), clearStep('target', `${s.targetDir}/archivelog`)],
      abort: [clearStep('source', `${s.sourceDir}/base`), clearStep('source', `${s.sourceDir}/archivelog`)],
    },
  };
}
