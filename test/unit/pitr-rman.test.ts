// Oracle PITR through RMAN: tested by the scripts it generates and the commands it runs, against
// golden files in test/golden/rman/ (no Oracle here). UPDATE_GOLDEN=1 rewrites them.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  archiveLogBackupScript,
  archiveLogsToGcs,
  baseBackupScript,
  baseBackupToGcs,
  kubectlExecArgv,
  oracleTime,
  restoreFromGcs,
  restoreUntilTimeScript,
  rmanErrors,
  RmanFailed,
  type CommandResult,
  type CommandRunner,
  type RmanArchiveConfig,
} from '../../activities/adapters/rman';

const GOLDEN = path.resolve(__dirname, '../golden/rman');

function golden(name: string, actual: string): void {
  const file = path.join(GOLDEN, name);
  if (!existsSync(file) && process.env.UPDATE_GOLDEN !== '1') throw new Error(`golden file ${file} is missing (UPDATE_GOLDEN=1 writes it)`);
  if (process.env.UPDATE_GOLDEN === '1') {
    mkdirSync(GOLDEN, { recursive: true });
    writeFileSync(file, actual);
  }
  expect(actual).toBe(readFileSync(file, 'utf8'));
}

const cfg: RmanArchiveConfig = { bucket: 'ferry-pitr', prefix: 'oracle/ORCL', stagingDir: '/u03/ferry/pitr', channels: 2, serverUtcOffsetMinutes: 0 };

/** Records every command; answers from a table (the control file listing, an RMAN error). */
function recordingRunner(answers: (argv: string[]) => Partial<CommandResult> | undefined = () => undefined) {
  const calls: { argv: string[]; stdin?: string }[] = [];
  const runner: CommandRunner = {
    description: 'fake',
    run(argv, stdin) {
      calls.push({ argv, stdin });
      return Promise.resolve({ code: 0, stdout: '', stderr: '', ...answers(argv) });
    },
  };
  const transcript = () => calls.map((c) => `$ ${c.argv.join(' ')}${c.stdin ? `\n${c.stdin.trimEnd().replace(/^/gm, '  | ')}` : ''}`).join('\n') + '\n';
  return { runner, calls, transcript };
}

describe('RMAN scripts (golden)', () => {
  it('base backup: level 0, control file, spfile, archived logs, one channel per stream', () => {
    golden('base-backup.rman', baseBackupScript({ ...cfg, stagingDir: '/u03/ferry/pitr/base/NIGHTLY_1' }, 'nightly_1'));
  });

  it('archive log backup since a time, after a log switch', () => {
    golden('archivelog-backup.rman', archiveLogBackupScript({ ...cfg, stagingDir: '/u03/ferry/pitr/archivelog' }, 'ferry_arch_42', '2024-05-01T11:59:30.250Z'));
  });

  it('restore/recover until time into a new instance, open resetlogs', () => {
    golden('restore-until-time.rman', restoreUntilTimeScript({ ...cfg, stagingDir: '/u03/ferry/pitr/restore' }, '2024-05-01T12:34:56.789Z', '/u03/ferry/pitr/restore/ctl_ORCL_20240501_abc'));
  });

  it('UNTIL TIME is the server\'s local time, rounded down to the second', () => {
    expect(oracleTime('2024-05-01T12:34:56.789Z')).toBe('2024-05-01 12:34:56');
    expect(oracleTime('2024-05-01T23:30:00Z', 120)).toBe('2024-05-02 01:30:00');
    expect(oracleTime('2024-05-01T12:00:00+02:00')).toBe('2024-05-01 10:00:00');
  });

  it('refuses values that could break out of the script', () => {
    expect(() => archiveLogBackupScript({ ...cfg, stagingDir: "/tmp/x'; DROP" }, 't', '2024-05-01T00:00:00Z')).toThrow(RmanFailed);
    expect(() => archiveLogBackupScript(cfg, "t'x", '2024-05-01T00:00:00Z')).toThrow(/tag/);
    expect(() => restoreUntilTimeScript(cfg, 'yesterday', '/u03/x')).toThrow(/not a timestamp/);
  });
});

describe('RMAN flows (golden transcripts)', () => {
  it('archives logs: staging, RMAN, upload to GCS, clear staging', async () => {
    const { runner, transcript } = recordingRunner();
    await archiveLogsToGcs(runner, cfg, 'ferry_arch_42', '2024-05-01T11:59:30Z');
    golden('flow-archive.txt', transcript());
  });

  it('takes a base backup to GCS', async () => {
    const { runner, transcript } = recordingRunner();
    await baseBackupToGcs(runner, cfg, 'nightly_1');
    golden('flow-base-backup.txt', transcript());
  });

  it('restores: download, find the control file piece, RESTORE/RECOVER UNTIL TIME', async () => {
    const { runner, transcript } = recordingRunner((argv) =>
      argv[0] === 'find' ? { stdout: '/u03/ferry/pitr/restore/ctl_ORCL_20240501_aaa\n/u03/ferry/pitr/restore/ctl_ORCL_20240501_bbb\n' } : undefined,
    );
    await restoreFromGcs(runner, cfg, 'nightly_1', '2024-05-01T12:34:56Z');
    golden('flow-restore.txt', transcript());
  });

  it('an RMAN error fails the step with the RMAN/ORA codes in the message', async () => {
    const { runner } = recordingRunner((argv) =>
      argv[0] === 'rman'
        ? { code: 1, stdout: 'RMAN-03002: failure of recover command at 05/01/2024\nRMAN-06054: media recovery requesting unknown archived log for thread 1 with sequence 42\n' }
        : argv[0] === 'find' ? { stdout: '/u03/ferry/pitr/restore/ctl_x\n' } : undefined,
    );
    await expect(restoreFromGcs(runner, cfg, 'nightly_1', '2024-05-01T12:34:56Z')).rejects.toThrow(/RMAN-06054: media recovery requesting unknown archived log/);
    expect(rmanErrors('ORA-19870: error while restoring\nfoo\nORA-19870: error while restoring')).toEqual(['ORA-19870: error while restoring']);
  });

  it('a base backup without a control file piece is refused by name', async () => {
    const { runner } = recordingRunner();
    await expect(restoreFromGcs(runner, cfg, 'nightly_1', '2024-05-01T12:34:56Z')).rejects.toThrow(/no control file piece .* gs:\/\/ferry-pitr\/oracle\/ORCL\/base\/NIGHTLY_1/);
  });

  it('kubectl exec argv for El Carro\'s database container', () => {
    expect(kubectlExecArgv({ namespace: 'db', pod: 'mydb-sts-0', container: 'oracledb' })).toEqual(['kubectl', 'exec', '-i', '-n', 'db', 'mydb-sts-0', '-c', 'oracledb', '--']);
  });
});
