// Oracle point-in-time recovery through RMAN, El Carro style: archived redo logs (and level-0
// base backups) are backed up by RMAN into a staging folder on the database host and copied to
// GCS; a restore copies them back, catalogs them, and runs RESTORE/RECOVER ... UNTIL TIME into a
// new instance, then OPEN RESETLOGS.
//
// Plain code, no Temporal imports. Commands run through a CommandRunner: the host's shell, or
// `kubectl exec` into the database pod (El Carro's case). Tested by script generation and flow
// only (test/golden/rman/), not against a real Oracle: see docs/pitr.md.
import { spawn } from 'node:child_process';
import { FerryError } from './errors';

export class RmanFailed extends FerryError {
  readonly retryable = false;
}

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs one command (argv, no shell) with optional standard input. */
export interface CommandRunner {
  readonly description: string;
  run(argv: string[], stdin?: string): Promise<CommandResult>;
}

function spawnRunner(prefix: string[], description: string, env?: NodeJS.ProcessEnv): CommandRunner {
  return {
    description,
    run(argv, stdin) {
      const full = [...prefix, ...argv];
      return new Promise((resolve, reject) => {
        const child = spawn(full[0]!, full.slice(1), { env: env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
        child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        child.on('error', reject);
        child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
        child.stdin.end(stdin ?? '');
      });
    },
  };
}

/** Commands on this host (the worker runs beside the database). */
export function hostRunner(env?: NodeJS.ProcessEnv): CommandRunner {
  return spawnRunner([], 'host', env);
}

/** `kubectl exec -i` into the database container (El Carro: the `oracledb` container of the instance pod). */
export function kubectlExecArgv(target: { namespace: string; pod: string; container?: string; kubeconfig?: string }): string[] {
  return [
    'kubectl',
    ...(target.kubeconfig ? ['--kubeconfig', target.kubeconfig] : []),
    'exec',
    '-i',
    '-n',
    target.namespace,
    target.pod,
    ...(target.container ? ['-c', target.container] : []),
    '--',
  ];
}

export function kubectlExecRunner(target: { namespace: string; pod: string; container?: string; kubeconfig?: string }): CommandRunner {
  return spawnRunner(kubectlExecArgv(target), `kubectl exec ${target.namespace}/${target.pod}${target.container ? `/${target.container}` : ''}`);
}

// ------------------------------------------------------------------ scripts

export interface RmanArchiveConfig {
  /** gs://bucket/prefix the pieces go to (El Carro: the PITR bucket). */
  bucket: string;
  prefix: string;
  /** Folder on the database host for backup pieces before upload. */
  stagingDir: string;
  /** RMAN channels (parallel streams). */
  channels: number;
  /** Compressed backup sets (default true). */
  compressed?: boolean;
  /** Database time zone offset from UTC in minutes: RMAN's UNTIL TIME is in the server's time. */
  serverUtcOffsetMinutes?: number;
}

const ORACLE_TS = 'YYYY-MM-DD HH24:MI:SS';
const identifier = /^[A-Za-z0-9_]{1,30}$/;
const safePath = /^\/[A-Za-z0-9_./-]*$/;

function checkConfig(cfg: RmanArchiveConfig): void {
  if (!safePath.test(cfg.stagingDir)) throw new RmanFailed(`stagingDir '${cfg.stagingDir}' must be an absolute path of [A-Za-z0-9_./-]`);
  if (!/^[a-z0-9][a-z0-9._-]{1,220}$/.test(cfg.bucket)) throw new RmanFailed(`bucket '${cfg.bucket}' is not a valid GCS bucket name`);
  if (!/^[A-Za-z0-9_./-]*$/.test(cfg.prefix)) throw new RmanFailed(`prefix '${cfg.prefix}' may only hold [A-Za-z0-9_./-]`);
  if (!Number.isInteger(cfg.channels) || cfg.channels < 1 || cfg.channels > 16) throw new RmanFailed(`channels must be 1..16, got ${cfg.channels}`);
}

/** A UTC ISO time as the server's local 'YYYY-MM-DD HH24:MI:SS' (RMAN has no zone in UNTIL TIME). */
export function oracleTime(utcIso: string, offsetMinutes = 0): string {
  const ms = Date.parse(utcIso);
  if (Number.isNaN(ms)) throw new RmanFailed(`'${utcIso}' is not a timestamp`);
  // Whole seconds: RMAN recovers to a second; we round down so nothing after the target is applied.
  const local = new Date(Math.floor(ms / 1000) * 1000 + offsetMinutes * 60_000);
  return local.toISOString().slice(0, 19).replace('T', ' ');
}

function channels(cfg: RmanArchiveConfig, format: string): string[] {
  return Array.from({ length: cfg.channels }, (_, i) => `  ALLOCATE CHANNEL c${i + 1} DEVICE TYPE DISK FORMAT '${cfg.stagingDir}/${format}';`);
}

function release(cfg: RmanArchiveConfig): string[] {
  return Array.from({ length: cfg.channels }, (_, i) => `  RELEASE CHANNEL c${i + 1};`);
}

function tagOf(tag: string): string {
  if (!identifier.test(tag)) throw new RmanFailed(`RMAN tag '${tag}' must be 1-30 of [A-Za-z0-9_]`);
  return tag.toUpperCase();
}

/** Level-0 base backup with the control file and the archived logs needed to make it consistent. */
export function baseBackupScript(cfg: RmanArchiveConfig, tag: string): string {
  checkConfig(cfg);
  const as = cfg.compressed === false ? 'BACKUPSET' : 'COMPRESSED BACKUPSET';
  return [
    'RUN {',
    ...channels(cfg, 'db_%d_%T_%U'),
    `  BACKUP AS ${as} INCREMENTAL LEVEL 0 DATABASE TAG '${tagOf(tag)}' PLUS ARCHIVELOG TAG '${tagOf(`${tag}_ARCH`)}';`,
    `  BACKUP CURRENT CONTROLFILE FORMAT '${cfg.stagingDir}/ctl_%d_%T_%U' TAG '${tagOf(tag)}';`,
    `  BACKUP SPFILE FORMAT '${cfg.stagingDir}/spfile_%d_%T_%U' TAG '${tagOf(tag)}';`,
    ...release(cfg),
    '}',
    '',
  ].join('\n');
}

/**
 * Archived redo since `sinceUtc` (after forcing a log switch, so the current redo is included):
 * the continuous part of PITR, run on the protection's interval.
 */
export function archiveLogBackupScript(cfg: RmanArchiveConfig, tag: string, sinceUtc: string): string {
  checkConfig(cfg);
  const as = cfg.compressed === false ? 'BACKUPSET' : 'COMPRESSED BACKUPSET';
  return [
    "SQL 'ALTER SYSTEM ARCHIVE LOG CURRENT';",
    'RUN {',
    ...channels(cfg, 'arch_%d_%T_%U'),
    `  BACKUP AS ${as} ARCHIVELOG FROM TIME "TO_DATE('${oracleTime(sinceUtc, cfg.serverUtcOffsetMinutes)}','${ORACLE_TS}')" NOT BACKED UP 1 TIMES TAG '${tagOf(tag)}';`,
    ...release(cfg),
    '}',
    '',
  ].join('\n');
}

/**
 * Restore into a NEW instance (started NOMOUNT with the same DB_NAME): control file from the
 * staged pieces, catalog them, RESTORE/RECOVER until the target time, OPEN RESETLOGS.
 */
export function restoreUntilTimeScript(cfg: RmanArchiveConfig, untilUtc: string, controlFilePiece: string): string {
  checkConfig(cfg);
  if (!safePath.test(controlFilePiece)) throw new RmanFailed(`control file piece '${controlFilePiece}' must be an absolute path of [A-Za-z0-9_./-]`);
  const until = oracleTime(untilUtc, cfg.serverUtcOffsetMinutes);
  return [
    `RESTORE CONTROLFILE FROM '${controlFilePiece}';`,
    'ALTER DATABASE MOUNT;',
    `CATALOG START WITH '${cfg.stagingDir}/' NOPROMPT;`,
    'RUN {',
    `  SET UNTIL TIME "TO_DATE('${until}','${ORACLE_TS}')";`,
    ...channels(cfg, 'restore_%U'),
    '  RESTORE DATABASE;',
    '  RECOVER DATABASE;',
    ...release(cfg),
    '}',
    'ALTER DATABASE OPEN RESETLOGS;',
    '',
  ].join('\n');
}

// ------------------------------------------------------------------ flows

function gsUrl(cfg: RmanArchiveConfig, sub: string): string {
  return `gs://${cfg.bucket}/${cfg.prefix ? `${cfg.prefix.replace(/\/+$/, '')}/` : ''}${sub}`;
}

/** RMAN's own error codes (RMAN-nnnnn, ORA-nnnnn) from its output, for a message a DBA can act on. */
export function rmanErrors(output: string): string[] {
  return [...new Set(output.match(/\b(?:RMAN|ORA)-\d{5}: [^\n]*/g) ?? [])];
}

async function must(runner: CommandRunner, argv: string[], what: string, stdin?: string): Promise<CommandResult> {
  const r = await runner.run(argv, stdin);
  const errors = rmanErrors(`${r.stdout}\n${r.stderr}`);
  if (r.code !== 0 || (argv[0] === 'rman' && errors.length > 0)) {
    const detail = errors.length > 0 ? errors.slice(0, 5).join('; ') : r.stderr.trim().split('\n').slice(-3).join(' | ');
    throw new RmanFailed(`${what} failed on ${runner.description} (exit ${r.code}): ${detail}`);
  }
  return r;
}

const RMAN = ['rman', 'target', '/'];

/** Back up archived logs since `sinceUtc` and copy them to gs://.../archivelog/ (crc32c-checked by gcloud). */
export async function archiveLogsToGcs(runner: CommandRunner, cfg: RmanArchiveConfig, tag: string, sinceUtc: string): Promise<void> {
  const dir = `${cfg.stagingDir}/archivelog`;
  const c = { ...cfg, stagingDir: dir };
  await must(runner, ['mkdir', '-p', dir], 'create staging folder');
  await must(runner, RMAN, 'RMAN archive log backup', archiveLogBackupScript(c, tag, sinceUtc));
  await must(runner, ['gcloud', 'storage', 'rsync', '--checksums-only', dir, gsUrl(cfg, 'archivelog')], 'upload archive log backups');
  // Uploaded pieces leave the host; GCS keeps them for the retention window.
  await must(runner, ['find', dir, '-type', 'f', '-delete'], 'clear staging folder');
}

export async function baseBackupToGcs(runner: CommandRunner, cfg: RmanArchiveConfig, tag: string): Promise<void> {
  const dir = `${cfg.stagingDir}/base/${tagOf(tag)}`;
  await must(runner, ['mkdir', '-p', dir], 'create staging folder');
  await must(runner, RMAN, 'RMAN base backup', baseBackupScript({ ...cfg, stagingDir: dir }, tag));
  await must(runner, ['gcloud', 'storage', 'rsync', '--checksums-only', dir, gsUrl(cfg, `base/${tagOf(tag)}`)], 'upload base backup');
  await must(runner, ['rm', '-rf', dir], 'clear staging folder');
}

/**
 * Restore base backup `baseTag` plus archived logs to `untilUtc` into the instance behind
 * `runner` (a NEW instance, started NOMOUNT: never the protected one).
 */
export async function restoreFromGcs(runner: CommandRunner, cfg: RmanArchiveConfig, baseTag: string, untilUtc: string): Promise<{ output: string }> {
  const dir = `${cfg.stagingDir}/restore`;
  await must(runner, ['mkdir', '-p', dir], 'create staging folder');
  await must(runner, ['gcloud', 'storage', 'rsync', '--checksums-only', gsUrl(cfg, `base/${tagOf(baseTag)}`), dir], 'download base backup');
  await must(runner, ['gcloud', 'storage', 'rsync', '--checksums-only', gsUrl(cfg, 'archivelog'), dir], 'download archive log backups');
  const ls = await must(runner, ['find', dir, '-maxdepth', '1', '-name', 'ctl_*', '-type', 'f'], 'find the control file piece');
  const ctl = ls.stdout.split('\n').map((l) => l.trim()).filter(Boolean).sort().pop();
  if (!ctl) throw new RmanFailed(`no control file piece (ctl_*) in base backup ${baseTag} at ${gsUrl(cfg, `base/${tagOf(baseTag)}`)}`);
  const r = await must(runner, RMAN, 'RMAN restore/recover', restoreUntilTimeScript({ ...cfg, stagingDir: dir }, untilUtc, ctl));
  return { output: r.stdout };
}
