// The archive's inventory (which base backups, which WAL, what is restorable) and retention
// (prune what no second of the window needs). The planning is pure, so unit tests cover it.
import type { GcsStore, StoredObject } from '../gcs';
import type { ArchiveInventory, BaseBackupInfo } from '../../../workflows/pitrTypes';
import { epochMicros, isoMicros, lsnValue } from '../../../workflows/pitrTypes';
import { LAYOUT, SEGMENT_RE, parseSegment, segmentName, type ArchiveStatus, type RestoreLease } from './common';

export interface ArchiveListing {
  backups: BaseBackupInfo[];
  /** Objects under basebackups/<id>/ of backups without ferry.json (unfinished or abandoned). */
  incomplete: { id: string; objects: StoredObject[] }[];
  wal: StoredObject[];
  status?: ArchiveStatus;
  /** Restores' leases on backups (listed last: retention then sees every lease written before it lists). */
  leases?: RestoreLease[];
}

export async function listArchive(store: GcsStore): Promise<ArchiveListing> {
  // The status first: the archiver records archivedThrough only after uploading the WAL it covers
  // (and uploads a completed segment before deleting its partial), so WAL listed after it reaches
  // at least that far. Listed the other way round, a slice's upload between the two reads made
  // archivedThrough point past the listed WAL, and nothing looked restorable (a flaky test's
  // NothingRestorable).
  const status = (await store.exists(LAYOUT.status)) ? await store.readJson<ArchiveStatus>(LAYOUT.status) : undefined;
  const backupObjects = await store.list(LAYOUT.backupsPrefix);
  const byId = new Map<string, StoredObject[]>();
  for (const o of backupObjects) {
    const id = o.name.slice(LAYOUT.backupsPrefix.length).split('/')[0]!;
    byId.set(id, [...(byId.get(id) ?? []), o]);
  }
  const backups: BaseBackupInfo[] = [];
  const incomplete: ArchiveListing['incomplete'] = [];
  for (const [id, objects] of byId) {
    if (objects.some((o) => o.name === LAYOUT.backupManifest(id))) backups.push(await store.readJson<BaseBackupInfo>(LAYOUT.backupManifest(id)));
    else incomplete.push({ id, objects });
  }
  backups.sort((a, b) => epochMicros(a.endTime) - epochMicros(b.endTime));
  const wal = (await store.list(LAYOUT.walPrefix)).filter((o) => SEGMENT_RE.test(walName(o.name).replace(/\.partial$/, '')));
  const leases: RestoreLease[] = [];
  for (const o of await store.list(LAYOUT.leasesPrefix)) {
    // A lease removed between the listing and the read has ended.
    const lease = await store.readJson<RestoreLease>(o.name).catch(() => undefined);
    if (lease && typeof lease.backupId === 'string' && typeof lease.expiresAt === 'string') leases.push({ ...lease, id: o.name.slice(LAYOUT.leasesPrefix.length).replace(/\.json$/, '') });
  }
  return { backups, incomplete, wal, status, leases };
}

export function walName(key: string): string {
  return key.slice(LAYOUT.walPrefix.length);
}

/**
 * WAL objects to replay after `backup`, in order: completed segments from the backup's first
 * segment on, then the newest `.partial` if it continues the chain. Stops at the first gap.
 */
export function walChain(backup: Pick<BaseBackupInfo, 'timeline' | 'startLsn' | 'walSegmentSize'>, wal: StoredObject[]): { objects: StoredObject[]; segments: string[]; gapAt?: string } {
  const seg = backup.walSegmentSize;
  const complete = new Map<string, StoredObject>();
  const partial = new Map<string, StoredObject>();
  for (const o of wal) {
    const name = walName(o.name);
    if (name.endsWith('.partial')) partial.set(name.replace(/\.partial$/, ''), o);
    else complete.set(name, o);
  }
  const objects: StoredObject[] = [];
  const segments: string[] = [];
  const start = parseSegment(segmentName(backup.timeline, lsnValue(backup.startLsn), seg), seg);
  const newest = [...complete.keys(), ...partial.keys()].filter((n) => parseSegment(n, seg).timeline === backup.timeline).sort().pop();
  if (!newest) return { objects, segments, gapAt: segmentName(backup.timeline, start.segno * BigInt(seg), seg) };
  const last = parseSegment(newest, seg).segno;
  for (let n = start.segno; n <= last; n++) {
    const name = segmentName(backup.timeline, n * BigInt(seg), seg);
    const o = complete.get(name) ?? (n === last ? partial.get(name) : undefined);
    if (!o) return { objects, segments, gapAt: name };
    objects.push(o);
    segments.push(name);
  }
  return { objects, segments };
}

/** The end LSN of what a chain holds: the end of its last complete segment, or the partial's recorded LSN. */
function chainEnd(chain: { objects: StoredObject[]; segments: string[] }, walSegmentSize: number): bigint {
  const last = chain.objects[chain.objects.length - 1];
  const name = chain.segments[chain.segments.length - 1];
  if (!last || !name) return 0n;
  if (last.name.endsWith('.partial')) return last.metadata['ferry-lsn'] ? lsnValue(last.metadata['ferry-lsn']) : 0n;
  return (parseSegment(name, walSegmentSize).segno + 1n) * BigInt(walSegmentSize);
}

export function computeInventory(listing: ArchiveListing): ArchiveInventory {
  const completeNames = listing.wal.map((o) => walName(o.name)).filter((n) => !n.endsWith('.partial')).sort();
  const partials = listing.wal.map((o) => walName(o.name)).filter((n) => n.endsWith('.partial')).sort();
  const through = listing.status?.archivedThrough;
  const gaps = new Set<string>();
  let earliest: number | undefined;
  for (const b of listing.backups) {
    const chain = walChain(b, listing.wal);
    if (chain.gapAt) gaps.add(chain.gapAt);
    const end = chainEnd(chain, b.walSegmentSize);
    // Usable when the archive reaches past the backup's consistency point and past archivedThrough.
    if (through && end >= lsnValue(through.lsn) && lsnValue(through.lsn) >= lsnValue(b.endLsn)) {
      const t = epochMicros(b.endTime);
      if (earliest === undefined || t < earliest) earliest = t;
    }
  }
  const restorable =
    earliest !== undefined && through && epochMicros(through.time) >= earliest ? { earliest: isoMicros(earliest), latest: through.time } : undefined;
  return {
    backups: listing.backups.map(({ objects: _objects, ...b }) => b),
    wal: {
      segments: completeNames.length,
      bytes: listing.wal.reduce((s, o) => s + o.size, 0),
      first: completeNames[0],
      last: completeNames[completeNames.length - 1],
      partial: partials[partials.length - 1],
      gaps: [...gaps],
    },
    archivedThrough: through,
    restorable,
  };
}

export interface RetentionPlan {
  /** The newest backup that ended before the window's oldest second: it and everything newer stay. */
  anchor?: string;
  deleteBackups: string[];
  deleteObjects: string[];
  /** Backups older than the anchor kept because a restore holds a lease on them. */
  leased?: string[];
  /** Lease objects past their expiry (a restore that died): removed, and not counted as WAL. */
  expiredLeases: string[];
}

/**
 * Keep every second of [now - window, now] restorable: the newest backup that ended at or before
 * now - window anchors it; older backups go, and WAL before the anchor's first segment goes (also
 * partials whose segment is complete). Before any backup is that old nothing is pruned. A backup
 * a restore holds an unexpired lease on stays, with the WAL from its first segment on (a restore
 * to the window's first seconds would otherwise lose its backup while it downloads, as the window
 * moves on); expired leases go.
 */
export function planRetention(listing: ArchiveListing, nowMicros: number, windowSeconds: number): RetentionPlan {
  const cutoff = nowMicros - windowSeconds * 1_000_000;
  const candidates = listing.backups.filter((b) => epochMicros(b.endTime) <= cutoff);
  const anchor = candidates[candidates.length - 1]; // backups are sorted by endTime
  const deleteObjects: string[] = [];
  const completeNames = new Set(listing.wal.map((o) => walName(o.name)).filter((n) => !n.endsWith('.partial')));
  for (const o of listing.wal) {
    const n = walName(o.name);
    if (n.endsWith('.partial') && completeNames.has(n.replace(/\.partial$/, ''))) deleteObjects.push(o.name);
  }
  // Unfinished backups whose files are all older than the window never became restorable.
  for (const inc of listing.incomplete) {
    if (inc.objects.every((o) => epochMicros(o.updated) < cutoff)) deleteObjects.push(...inc.objects.map((o) => o.name));
  }
  const held = new Set<string>();
  const expiredLeases: string[] = [];
  for (const lease of listing.leases ?? []) {
    if (epochMicros(lease.expiresAt) > nowMicros) held.add(lease.backupId);
    else expiredLeases.push(LAYOUT.lease(lease.id));
  }
  if (!anchor) return { deleteBackups: [], deleteObjects, expiredLeases };
  const older = listing.backups.filter((b) => epochMicros(b.endTime) < epochMicros(anchor.endTime));
  const leased = older.filter((b) => held.has(b.id));
  const deleteBackups = older.filter((b) => !held.has(b.id)).map((b) => b.id);
  // WAL goes before the first segment of the oldest backup kept (backups are sorted by endTime).
  const oldestKept = leased[0] ?? anchor;
  const first = parseSegment(segmentName(oldestKept.timeline, lsnValue(oldestKept.startLsn), oldestKept.walSegmentSize), oldestKept.walSegmentSize);
  for (const o of listing.wal) {
    const n = walName(o.name).replace(/\.partial$/, '');
    const s = parseSegment(n, oldestKept.walSegmentSize);
    if (s.timeline < first.timeline || (s.timeline === first.timeline && s.segno < first.segno)) deleteObjects.push(o.name);
  }
  return { anchor: anchor.id, deleteBackups, deleteObjects: [...new Set(deleteObjects)], expiredLeases, ...(leased.length ? { leased: leased.map((b) => b.id) } : {}) };
}

export async function applyRetention(
  store: GcsStore,
  nowMicros: number,
  windowSeconds: number,
): Promise<{ plan: RetentionPlan; inventory: ArchiveInventory }> {
  const listing = await listArchive(store);
  const plan = planRetention(listing, nowMicros, windowSeconds);
  // The manifest goes first: a half-deleted backup is then an incomplete one, never a broken one.
  for (const id of plan.deleteBackups) {
    const backup = listing.backups.find((b) => b.id === id)!;
    await store.delete(LAYOUT.backupManifest(id));
    for (const o of backup.objects) await store.delete(o.name);
  }
  for (const name of [...plan.deleteObjects, ...plan.expiredLeases]) await store.delete(name);
  return { plan, inventory: computeInventory(await listArchive(store)) };
}
