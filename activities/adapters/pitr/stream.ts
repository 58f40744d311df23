// Continuous WAL shipping: pg_receivewal streams WAL over a replication connection into a local
// spool, holding a physical replication slot so the server keeps what is not yet received; this
// loop uploads each completed segment as it completes, and every upload interval the current
// `.partial` segment to GCS (not needed when the interval's point lies in an uploaded completed
// segment). Each interval it then records `archivedThrough` (status.json): a server time before
// which every commit is in the archive (see docs/pitr.md for why that holds).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { checksumFile, type GcsStore } from '../gcs';
import type { StreamSliceResult } from '../../../workflows/pitrTypes';
import { lsnValue } from '../../../workflows/pitrTypes';
import { ConnectionFailed } from '../errors';
import { checkArchivingPossible } from './basebackup';
import { GZIP_METADATA, ISO_UTC, LAYOUT, PG_BIN, SEGMENT_RE, gzipFile, gunzipInPlace, pgEnv, segmentName, withClient, type ArchiveStatus, type PgConn } from './common';

export interface StreamOptions {
  conn: PgConn;
  store: GcsStore;
  /** Local spool, kept between slices (pg_receivewal resumes from it). */
  spoolDir: string;
  slot: string;
  durationMs: number;
  uploadIntervalMs: number;
  heartbeatCommits: boolean;
  signal?: AbortSignal;
  onProgress?: (r: StreamSliceResult) => void;
}

/** Create the physical slot (reserving WAL now) unless it exists. */
export async function ensureSlot(conn: PgConn, slot: string): Promise<{ created: boolean; walSegmentSize: number; timeline: number }> {
  const settings = await checkArchivingPossible(conn);
  return withClient(conn, async (c) => {
    const { rows } = await c.query(`SELECT 1 FROM pg_replication_slots WHERE slot_name = $1`, [slot]);
    if (rows.length > 0) return { created: false, ...settings };
    await c.query(`SELECT pg_create_physical_replication_slot($1, true)`, [slot]);
    return { created: true, ...settings };
  });
}

export async function dropSlot(conn: PgConn, slot: string): Promise<void> {
  await withClient(conn, async (c) => {
    await c.query(`SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 AND NOT active`, [slot]);
  });
}

const appName = (slot: string) => `ferry_${slot}`.slice(0, 63);

/** Seed an empty spool from the archive's newest WAL so a slice on a new worker resumes where the last one stopped. */
async function seedSpool(store: GcsStore, spool: string): Promise<void> {
  const names = (await readdir(spool)).filter((f) => SEGMENT_RE.test(f.replace(/\.partial$/, '')));
  if (names.length > 0) return;
  const objects = (await store.list(LAYOUT.walPrefix)).map((o) => o.name.slice(LAYOUT.walPrefix.length)).sort();
  const newest = objects[objects.length - 1];
  if (!newest) return;
  await store.downloadFile(LAYOUT.walPrefix + newest, path.join(spool, newest));
  await gunzipInPlace(path.join(spool, newest));
}

/**
 * The completed segment holding the WAL byte just below `lsn`, if it is among `archived`: then
 * every commit before `lsn` is in the archive. `current` names a spool file of the timeline being
 * received (the partial segment, else the newest completed one).
 */
export function archivedSegmentBelow(lsn: bigint, current: string | undefined, archived: { has(name: string): boolean }, walSegmentSize: number): string | undefined {
  if (!current || lsn <= 0n) return undefined;
  const name = segmentName(parseInt(current.slice(0, 8), 16), lsn - 1n, walSegmentSize);
  return archived.has(name) ? name : undefined;
}

/** Between cycles, how often the spool is checked for newly completed segments to upload. */
const COMPLETED_POLL_MS = 500;

export async function streamWal(options: StreamOptions): Promise<StreamSliceResult> {
  const { conn, store, spoolDir, slot } = options;
  await mkdir(spoolDir, { recursive: true });
  const { walSegmentSize } = await ensureSlot(conn, slot);
  await seedSpool(store, spoolDir);
  const result: StreamSliceResult = { bytesUploaded: 0, objectsUploaded: 0 };
  const uploaded = new Map<string, number>(); // file -> mtimeMs at upload
  // The newest completed segment stays in the spool from the last slice (see uploadCompleted), or
  // seedSpool just fetched it, and the archive has it: not uploaded again when it holds these bytes.
  for (const f of (await readdir(spoolDir)).filter((x) => SEGMENT_RE.test(x))) {
    const [archived] = await store.list(LAYOUT.wal(f));
    // A gzipped object records the md5 of its content; one archived before compression is its content.
    const archivedMd5 = archived?.metadata['ferry-raw-md5'] ?? archived?.md5;
    if (archived?.name === LAYOUT.wal(f) && archivedMd5 === (await checksumFile(path.join(spoolDir, f))).md5) uploaded.set(f, 0);
  }
  let lastPartialLsn: bigint | undefined;

  let exited: { code: number | null; stderr: string } | undefined;
  let stderr = '';
  const child: ChildProcess = spawn(
    path.join(PG_BIN, 'pg_receivewal'),
    ['-d', `host=${conn.host} port=${conn.port} user=${conn.user} application_name=${appName(slot)}`, '-D', spoolDir,
      '--slot', slot, '--synchronous', '--no-loop', '--no-password', '-s', '1'],
    { env: pgEnv(conn), stdio: ['ignore', 'ignore', 'pipe'] },
  );
  child.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-8000)));
  const done = new Promise<void>((resolve) =>
    child.on('close', (code) => {
      exited = { code, stderr };
      resolve();
    }),
  );

  async function uploadCompleted(): Promise<void> {
    const files = (await readdir(spoolDir)).filter((f) => SEGMENT_RE.test(f)).sort();
    for (const f of files) {
      if (uploaded.has(f)) continue;
      const packed = path.join(spoolDir, `.upload-${f}.gz`);
      const { rawMd5 } = await gzipFile(path.join(spoolDir, f), packed);
      const stored = await store
        .uploadFile(packed, LAYOUT.wal(f), { 'ferry-wal': 'segment', 'ferry-raw-md5': rawMd5, ...GZIP_METADATA })
        .finally(() => rm(packed, { force: true }));
      await store.delete(LAYOUT.walPartial(f));
      uploaded.set(f, 0);
      result.bytesUploaded += stored.size;
      result.objectsUploaded += 1;
      result.lastObject = LAYOUT.wal(f);
    }
    // Keep the newest completed segment: pg_receivewal resumes after the newest file it finds.
    for (const f of files.slice(0, -1)) await rm(path.join(spoolDir, f), { force: true });
  }

  /** One archive point: a server time, then (after a heartbeat commit) the LSN every earlier commit lies below. */
  async function samplePoint(): Promise<{ time: string; lsn: string } | undefined> {
    return withClient(conn, async (c) => {
      const t = (await c.query<{ t: string }>(`SELECT ${ISO_UTC('clock_timestamp()')} AS t`)).rows[0]!.t;
      if (options.heartbeatCommits) await c.query(`SELECT pg_current_xact_id()`);
      const l = (await c.query<{ l: string }>(`SELECT pg_current_wal_insert_lsn()::text AS l`)).rows[0]!.l;
      return { time: t, lsn: l };
    });
  }

  async function receivedLsn(): Promise<bigint | undefined> {
    return withClient(conn, async (c) => {
      const { rows } = await c.query<{ l: string | null }>(`SELECT flush_lsn::text AS l FROM pg_stat_replication WHERE application_name = $1`, [appName(slot)]);
      return rows[0]?.l ? lsnValue(rows[0].l) : undefined;
    });
  }

  async function cycle(): Promise<void> {
    const point = await samplePoint();
    if (!point) return;
    const want = lsnValue(point.lsn);
    const deadline = Date.now() + Math.max(5_000, options.uploadIntervalMs);
    for (;;) {
      const got = await receivedLsn();
      if (got !== undefined && got >= want) break;
      if (exited || Date.now() > deadline || options.signal?.aborted) return; // try again next cycle
      await sleep(50);
    }
    await uploadCompleted();
    const spooled = await readdir(spoolDir);
    const partial = spooled.find((f) => f.endsWith('.partial'));
    // Every commit before the point lies below `want`. If the completed segment holding the byte
    // just below it is in the archive, so is all the point covers, and the partial need not go up
    // (again): under load most points fall in a segment completed since the last cycle, and a
    // 16 MB partial upload was about half of every cycle (bench/pitr.md, RPO under load).
    const covering = archivedSegmentBelow(want, partial ?? spooled.filter((f) => SEGMENT_RE.test(f)).sort().pop(), uploaded, walSegmentSize);
    if (covering !== undefined) {
      result.lastObject = LAYOUT.wal(covering);
      result.timeline = parseInt(covering.slice(0, 8), 16);
      result.partialsSkipped = (result.partialsSkipped ?? 0) + 1;
    } else if (partial && (lastPartialLsn === undefined || want > lastPartialLsn)) {
      const seg = partial.replace(/\.partial$/, '');
      // pg_receivewal keeps appending: upload a snapshot (gzipped as it is read), so checksum and content agree.
      const snapshot = path.join(spoolDir, `.upload-${seg}.partial.gz`);
      try {
        await gzipFile(path.join(spoolDir, partial), snapshot);
      } catch (err) {
        await rm(snapshot, { force: true });
        // pg_receivewal completed the segment since the listing (renamed it): it goes up as a
        // completed segment, and the next cycle publishes. (This failed the slice until now.)
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
        throw err;
      }
      const stored = await store
        .uploadFile(snapshot, LAYOUT.walPartial(seg), { 'ferry-wal': 'partial', 'ferry-lsn': point.lsn, ...GZIP_METADATA })
        .finally(() => rm(snapshot, { force: true }));
      result.bytesUploaded += stored.size;
      result.objectsUploaded += 1;
      result.lastObject = LAYOUT.walPartial(seg);
      lastPartialLsn = want;
      result.timeline = parseInt(seg.slice(0, 8), 16);
    }
    result.archivedThrough = { time: point.time, lsn: point.lsn, lastObject: result.lastObject };
    const status: ArchiveStatus = {
      archivedThrough: result.archivedThrough,
      timeline: result.timeline ?? 1,
      walSegmentSize,
      updatedAt: new Date().toISOString(),
    };
    await store.writeJson(LAYOUT.status, status);
    options.onProgress?.({ ...result });
  }

  const end = Date.now() + options.durationMs;
  try {
    while (Date.now() < end && !options.signal?.aborted) {
      if (exited) {
        throw new ConnectionFailed(`pg_receivewal for ${conn.host}:${conn.port} stopped (exit ${exited.code}): ${exited.stderr.trim().split('\n').slice(-5).join(' | ')}`);
      }
      const started = Date.now();
      await cycle();
      // Until the next cycle, completed segments go up as they complete: a cycle then finds little
      // left to upload before it can publish its point (with a 10 s interval under load it uploaded
      // ~100 MB first, 6-8 s of the RPO: bench/pitr.md).
      const next = Math.min(started + options.uploadIntervalMs, end);
      while (!exited && !options.signal?.aborted && Date.now() < next) {
        await Promise.race([sleep(Math.min(COMPLETED_POLL_MS, Math.max(0, next - Date.now()))), done]);
        if (!exited && Date.now() < next) await uploadCompleted();
      }
    }
    if (!exited && !options.signal?.aborted) await cycle(); // a final point as the slice ends
  } finally {
    if (!exited) {
      child.kill('SIGINT'); // pg_receivewal flushes and exits on SIGINT
      await Promise.race([done, sleep(10_000)]);
      if (!exited) child.kill('SIGKILL');
    }
  }
  // Completed segments the last moments produced are uploaded now, not next slice.
  await uploadCompleted().catch(() => undefined);
  return result;
}
