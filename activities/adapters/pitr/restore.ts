// Restore into a NEW cluster: the chosen base backup is downloaded (verified) and unpacked into a
// new data directory, and the server is started on the given port in archive recovery with
// recovery_target_{time,lsn}. WAL is downloaded (verified) into a staging folder ahead of replay,
// in order; restore_command copies from there, waiting for a segment still on its way. A corrupted
// or missing object makes restore_command fail fatally, so the server never starts from a
// silently shortened history, and the error names the object.
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { appendFile, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { GcsStore } from '../gcs';
import { ObjectCorrupted, ObjectMissing } from '../gcs';
import type { BaseBackupInfo, RestoreTarget } from '../../../workflows/pitrTypes';
import { epochMicros, isoMicros } from '../../../workflows/pitrTypes';
import { ConnectionFailed } from '../errors';
import { listArchive, walChain, walName } from './archive';
import { ISO_UTC, LAYOUT, PG_BIN, PitrFailed, chownTo, gunzipInPlace, run, serverUser, withClient, type RestoreLease } from './common';

export interface RestoreOptions {
  store: GcsStore;
  backupId: string;
  target: RestoreTarget;
  dataDirectory: string;
  port: number;
  user: string;
  password?: string;
  /** OS user for the server (default: postgres when the worker is root). */
  runAs?: string;
  replayTimeoutMs: number;
  /** Who restores (written into the backup's lease, for whoever lists the archive). */
  holder?: string;
  signal?: AbortSignal;
  onProgress?: (p: { step: string; walDownloaded: number; walTotal: number }) => void;
}

export interface RestoreOutcome {
  reachedTime?: string;
  reachedLsn: string;
  walSegmentsReplayed: number;
  seconds: { download: number; replay: number; total: number };
}

/** PostgreSQL's recovery_target_time rejects ISO 'T...Z': give it 'YYYY-MM-DD HH:MM:SS.ffffff+00'. */
export function pgTimestamp(ts: string): string {
  const us = epochMicros(ts);
  if (Number.isNaN(us)) throw new PitrFailed(`target time '${ts}' is not an ISO-8601 timestamp with a zone`);
  return isoMicros(us).replace('T', ' ').replace(/Z$/, '+00');
}

const quote = (s: string) => `'${s.replace(/'/g, "''")}'`;

function restoreScript(staging: string): string {
  // $1 = %f (file wanted), $2 = %p (where to put it). Exit 1 = "not in the archive" (end of WAL);
  // exit 127 = fatal: recovery stops and the server does not start.
  return `#!/bin/sh
d=${quote(staging)}
case "$1" in *.history|*.backup|*.partial) exit 1;; esac
grep -qx "$1" "$d/plan" || exit 1
while :; do
  if [ -f "$d/$1" ]; then exec cp "$d/$1" "$2"; fi
  if [ -f "$d/failed" ]; then echo "ferry restore_command: $(cat "$d/failed")" >&2; exit 127; fi
  sleep 0.05
done
`;
}

/** How long a restore's lease on its backup lasts unless renewed, and how often it is renewed. */
export const LEASE_SECONDS = 600;
const LEASE_RENEW_MS = 120_000;

/**
 * Lease `backupId` for a restore (retention keeps it and its WAL while the lease lasts), renewed
 * until released. The lease is written before the restore lists the archive, so a retention run
 * that lists after it keeps the backup; one already past its listing can still remove it, and the
 * restore then fails naming the missing object.
 */
export async function leaseBackup(store: GcsStore, backupId: string, holder?: string): Promise<{ id: string; release: () => Promise<void> }> {
  const id = `${new Date().toISOString().replace(/[-:.]/g, '')}-${randomUUID()}`;
  const write = () =>
    store.writeJson(LAYOUT.lease(id), { id, backupId, expiresAt: isoMicros((Date.now() + LEASE_SECONDS * 1000) * 1000), ...(holder ? { holder } : {}) } satisfies RestoreLease);
  await write();
  const timer = setInterval(() => void write().catch(() => undefined), LEASE_RENEW_MS);
  timer.unref();
  return {
    id,
    release: async () => {
      clearInterval(timer);
      await store.delete(LAYOUT.lease(id)).catch(() => undefined); // left behind, it expires
    },
  };
}

export async function restoreToNewCluster(options: RestoreOptions): Promise<RestoreOutcome> {
  const lease = await leaseBackup(options.store, options.backupId, options.holder);
  try {
    return await restoreUnderLease(options);
  } finally {
    await lease.release();
  }
}

async function restoreUnderLease(options: RestoreOptions): Promise<RestoreOutcome> {
  const t0 = Date.now();
  const { store, dataDirectory: dataDir } = options;
  if (existsSync(dataDir) && (await readdir(dataDir)).length > 0) {
    throw new PitrFailed(`restore refused: ${dataDir} is not empty (a restore never writes over an existing cluster)`);
  }
  const listing = await listArchive(store);
  const backup: BaseBackupInfo | undefined = listing.backups.find((b) => b.id === options.backupId);
  if (!backup) throw new ObjectMissing(`base backup ${options.backupId} is not in ${store.url(LAYOUT.backupsPrefix)}`);
  const chain = walChain(backup, listing.wal);

  const work = `${dataDir.replace(/\/+$/, '')}.ferry-restore`;
  const staging = path.join(work, 'wal');
  await rm(work, { recursive: true, force: true });
  await mkdir(staging, { recursive: true });
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const user = serverUser(options.runAs);
  let started = false;
  const downloader = new AbortController();
  let downloadSeconds = 0;
  let downloaded = 0;
  try {
    // ---- base backup: verified against the manifest before anything is unpacked
    for (const o of backup.objects) {
      options.onProgress?.({ step: `download ${o.name}`, walDownloaded: 0, walTotal: chain.segments.length });
      await store.downloadFile(o.name, path.join(work, path.basename(o.name)), o);
    }
    await run('tar', ['-xzf', path.join(work, 'base.tar.gz'), '-C', dataDir]);
    if (existsSync(path.join(work, 'pg_wal.tar.gz'))) await run('tar', ['-xzf', path.join(work, 'pg_wal.tar.gz'), '-C', path.join(dataDir, 'pg_wal')]);
    await rm(path.join(dataDir, 'postmaster.pid'), { force: true });

    // ---- recovery settings: appended last, so they win over the copied postgresql.auto.conf
    await writeFile(path.join(staging, 'plan'), chain.segments.map((s) => `${s}\n`).join(''));
    await writeFile(path.join(work, 'restore_wal.sh'), restoreScript(staging), { mode: 0o755 });
    const target =
      'time' in options.target
        ? [`recovery_target_time = ${quote(pgTimestamp(options.target.time))}`]
        : 'lsn' in options.target
          ? [`recovery_target_lsn = ${quote(options.target.lsn)}`]
          : [];
    await appendFile(
      path.join(dataDir, 'postgresql.auto.conf'),
      [
        '',
        `# --- ferry restore of backup ${backup.id}`,
        `restore_command = ${quote(`/bin/sh ${path.join(work, 'restore_wal.sh')} %f %p`)}`,
        ...target,
        `recovery_target_inclusive = on`,
        `recovery_target_action = 'promote'`,
        `recovery_target_timeline = 'current'`,
        `port = ${options.port}`,
        `listen_addresses = '127.0.0.1'`,
        `unix_socket_directories = ${quote(work)}`,
        `archive_mode = off`,
        `hot_standby = on`,
        `primary_conninfo = ''`,
        `primary_slot_name = ''`,
        '',
      ].join('\n'),
    );
    await writeFile(path.join(dataDir, 'recovery.signal'), '');
    await run('chmod', ['700', dataDir]);
    await chownTo(user, dataDir, work);

    // ---- WAL: downloaded in order, ahead of replay
    const dl = (async () => {
      const s = Date.now();
      for (const [i, o] of chain.objects.entries()) {
        if (downloader.signal.aborted) return;
        const seg = chain.segments[i]!;
        try {
          await store.downloadFile(o.name, path.join(staging, `.${seg}.tmp`)).catch(async (err: unknown) => {
            // The stream completed this segment after the listing, and removed its partial.
            if (!(err instanceof ObjectMissing) || !o.name.endsWith('.partial')) throw err;
            await store.downloadFile(LAYOUT.wal(seg), path.join(staging, `.${seg}.tmp`));
          });
          await gunzipInPlace(path.join(staging, `.${seg}.tmp`));
          await run('mv', [path.join(staging, `.${seg}.tmp`), path.join(staging, seg)]);
          await chownTo(user, path.join(staging, seg));
        } catch (err) {
          const message = err instanceof Error ? err.message : String(err);
          await writeFile(path.join(staging, 'failed'), `${message}\n`).catch(() => undefined);
          throw err;
        }
        downloaded = i + 1;
        options.onProgress?.({ step: `download ${walName(o.name)}`, walDownloaded: downloaded, walTotal: chain.segments.length });
      }
      downloadSeconds = (Date.now() - s) / 1000;
    })();
    dl.catch(() => undefined);

    const replayStart = Date.now();
    const log = path.join(work, 'server.log');
    started = true;
    try {
      await run(path.join(PG_BIN, 'pg_ctl'), ['-D', dataDir, '-l', log, '-w', '-t', String(Math.ceil(options.replayTimeoutMs / 1000)), 'start'], {
        runAs: user,
        signal: options.signal,
      });
    } catch (err) {
      throw await explainStartFailure(staging, log, dl, err);
    }
    // The server accepts connections once consistent; wait for replay to reach the target and promote.
    const conn = { host: '127.0.0.1', port: options.port, user: options.user, password: options.password };
    const deadline = Date.now() + options.replayTimeoutMs;
    for (;;) {
      let inRecovery = true;
      try {
        inRecovery = await withClient(conn, async (c) => (await c.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r')).rows[0]!.r);
      } catch (err) {
        if (!(err instanceof ConnectionFailed)) throw err; // not accepting connections yet
      }
      if (!inRecovery) break;
      if (!isRunning(dataDir)) throw await explainStartFailure(staging, log, dl, new Error('the server stopped during recovery'));
      if (Date.now() > deadline) throw new PitrFailed(`WAL replay did not reach the target within ${options.replayTimeoutMs / 1000}s (log: ${log})`);
      if (options.signal?.aborted) throw new PitrFailed('restore cancelled');
      options.onProgress?.({ step: 'replay', walDownloaded: downloaded, walTotal: chain.segments.length });
      await sleep(200);
    }
    const replaySeconds = (Date.now() - replayStart) / 1000;
    downloader.abort();
    // A WAL download still in flight writes into the staging folder: let it stop before removing it.
    await dl.catch(() => undefined);
    const reached = await withClient(conn, async (c) =>
      (
        await c.query<{ t: string | null; l: string }>(
          `SELECT ${ISO_UTC('pg_last_xact_replay_timestamp()')} AS t, coalesce(pg_last_wal_replay_lsn(), pg_current_wal_lsn())::text AS l`,
        )
      ).rows[0]!,
    );
    const logText = await readFile(log, 'utf8').catch(() => '');
    const restored = (logText.match(/restored log file "[0-9A-F]{24}" from archive/g) ?? []).length;
    await rm(staging, { recursive: true, force: true });
    return {
      reachedTime: reached.t ?? undefined,
      reachedLsn: reached.l,
      walSegmentsReplayed: restored,
      seconds: { download: downloadSeconds, replay: replaySeconds, total: (Date.now() - t0) / 1000 },
    };
  } catch (err) {
    downloader.abort();
    // A failed restore leaves nothing behind: stop the server, remove the new directory.
    if (started) await stopCluster(dataDir, options.runAs).catch(() => undefined);
    await rm(dataDir, { recursive: true, force: true });
    await rm(work, { recursive: true, force: true });
    throw err;
  }
}

function isRunning(dataDir: string): boolean {
  return existsSync(path.join(dataDir, 'postmaster.pid'));
}

async function explainStartFailure(staging: string, log: string, dl: Promise<void>, err: unknown): Promise<Error> {
  await Promise.race([dl.catch(() => undefined), sleep(1000)]);
  const failed = await readFile(path.join(staging, 'failed'), 'utf8').catch(() => undefined);
  if (failed) {
    const dlErr = await dl.then(() => undefined, (e: unknown) => e);
    if (dlErr instanceof ObjectCorrupted || dlErr instanceof ObjectMissing) return dlErr;
    return new PitrFailed(`restore stopped: ${failed.trim()}`);
  }
  const tail = (await readFile(log, 'utf8').catch(() => '')).trim().split('\n').slice(-4);
  const reason = tail.map((l) => l.replace(/^\S+ \S+ \S+ \[\d+\] /, '')).join(' | ');
  return new PitrFailed(`the restored server did not start: ${reason}${err instanceof Error ? ` (${err.message.split('\n')[0]})` : ''}`);
}

/** Stop a restored cluster and, with `remove`, delete its data directory and work folder. */
export async function stopCluster(dataDir: string, runAs?: string, remove = false): Promise<void> {
  if (isRunning(dataDir)) {
    await run(path.join(PG_BIN, 'pg_ctl'), ['-D', dataDir, '-m', 'immediate', '-w', '-t', '30', 'stop'], { runAs: serverUser(runAs) }).catch(() => undefined);
  }
  if (remove) {
    await rm(dataDir, { recursive: true, force: true });
    await rm(`${dataDir.replace(/\/+$/, '')}.ferry-restore`, { recursive: true, force: true });
  }
}
