// Base backups: pg_basebackup in tar format (base.tar.gz plus pg_wal.tar.gz with the WAL from
// start to end, so every backup is consistent on its own), uploaded checksummed, and a ferry.json
// manifest written last, which is what makes the backup exist for inventory and restore.
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { GcsStore } from '../gcs';
import type { BaseBackupInfo, ArchivedObject } from '../../../workflows/pitrTypes';
import { ArchivingNotPossible, ISO_UTC, LAYOUT, PG_BIN, PitrFailed, pgEnv, run, withClient, type PgConn } from './common';

export interface BaseBackupOptions {
  conn: PgConn;
  store: GcsStore;
  workDir?: string;
  signal?: AbortSignal;
  /** Called as each file is uploaded (for heartbeats). */
  onProgress?: (step: string) => void;
}

interface ManifestWalRange {
  Timeline: number;
  'Start-LSN': string;
  'End-LSN': string;
}

/** Server settings archiving needs; fails with every problem named. */
export async function checkArchivingPossible(conn: PgConn): Promise<{ walSegmentSize: number; timeline: number }> {
  return withClient(conn, async (c) => {
    const { rows } = await c.query<{ wal_level: string; senders: string; seg: string; repl: boolean; tli: number }>(
      `SELECT current_setting('wal_level') AS wal_level, current_setting('max_wal_senders') AS senders,
              current_setting('wal_segment_size') AS seg,
              (SELECT rolreplication OR rolsuper FROM pg_roles WHERE rolname = current_user) AS repl,
              (SELECT timeline_id FROM pg_control_checkpoint()) AS tli`,
    );
    const r = rows[0]!;
    const problems: string[] = [];
    if (r.wal_level === 'minimal') problems.push(`wal_level is minimal (needs replica or logical)`);
    if (Number(r.senders) < 2) problems.push(`max_wal_senders is ${r.senders} (needs at least 2: the WAL stream and a base backup)`);
    if (!r.repl) problems.push(`user ${conn.user} has no REPLICATION privilege`);
    if (problems.length) throw new ArchivingNotPossible(`${conn.host}:${conn.port} cannot be archived: ${problems.join('; ')}`);
    const seg = await c.query<{ bytes: string }>(`SELECT setting::bigint * CASE unit WHEN '8kB' THEN 8192 WHEN 'B' THEN 1 WHEN 'MB' THEN 1048576 ELSE 1 END AS bytes FROM pg_settings WHERE name = 'wal_segment_size'`);
    return { walSegmentSize: Number(seg.rows[0]!.bytes), timeline: Number(r.tli) };
  });
}

export async function takeBaseBackup(options: BaseBackupOptions): Promise<BaseBackupInfo> {
  const { conn, store } = options;
  const { walSegmentSize } = await checkArchivingPossible(conn);
  const startTime = await withClient(conn, async (c) => (await c.query<{ t: string }>(`SELECT ${ISO_UTC('clock_timestamp()')} AS t`)).rows[0]!.t);
  const id = `${startTime.replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}-${randomBytes(3).toString('hex')}`;
  const dir = await mkdtemp(path.join(options.workDir ?? os.tmpdir(), `ferry-basebackup-${id}-`));
  try {
    options.onProgress?.('pg_basebackup');
    await run(
      path.join(PG_BIN, 'pg_basebackup'),
      ['-h', conn.host, '-p', String(conn.port), '-U', conn.user, '-D', dir, '-Ft', '-z', '-X', 'stream', '--checkpoint=fast',
        '--no-password', '-l', `ferry ${id}`],
      { env: pgEnv(conn), signal: options.signal },
    ).catch((err: Error) => {
      throw new PitrFailed(`pg_basebackup of ${conn.host}:${conn.port} failed: ${err.message}`, { cause: err });
    });
    // Every WAL record before endLsn was written before this moment: the earliest restorable time.
    const endTime = await withClient(conn, async (c) => (await c.query<{ t: string }>(`SELECT ${ISO_UTC('clock_timestamp()')} AS t`)).rows[0]!.t);
    const manifest = JSON.parse(await readFile(path.join(dir, 'backup_manifest'), 'utf8')) as { 'WAL-Ranges': ManifestWalRange[] };
    const ranges = manifest['WAL-Ranges'];
    const first = ranges[0];
    const last = ranges[ranges.length - 1];
    if (!first || !last) throw new PitrFailed(`pg_basebackup wrote no WAL range into backup_manifest`);

    const objects: ArchivedObject[] = [];
    let bytes = 0;
    for (const file of (await readdir(dir)).sort()) {
      options.onProgress?.(`upload ${file}`);
      const key = `${LAYOUT.backupDir(id)}${file}`;
      const stored = await store.uploadFile(path.join(dir, file), key, { 'ferry-backup': id });
      objects.push({ name: key, size: stored.size, md5: stored.md5, crc32c: stored.crc32c });
      bytes += (await stat(path.join(dir, file))).size;
    }
    const info: BaseBackupInfo = {
      id,
      timeline: last.Timeline,
      walSegmentSize,
      startLsn: first['Start-LSN'],
      endLsn: last['End-LSN'],
      startTime,
      endTime,
      bytes,
      objects,
    };
    await store.writeJson(LAYOUT.backupManifest(id), info);
    return info;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
