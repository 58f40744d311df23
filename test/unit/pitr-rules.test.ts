// PITR rules without servers: timestamps, LSNs and WAL segment names, the restorable range and
// which base backup a target uses, WAL chains, and what retention prunes.
import { describe, expect, it } from 'vitest';
import { checkTarget, epochMicros, isoMicros, lsnValue, type ArchiveInventory, type BaseBackupInfo } from '../../workflows/pitrTypes';
import { computeInventory, planRetention, walChain, type ArchiveListing } from '../../activities/adapters/pitr/archive';
import { nextSegment, parseSegment, segmentName } from '../../activities/adapters/pitr/common';
import { pgTimestamp } from '../../activities/adapters/pitr/restore';
import type { StoredObject } from '../../activities/adapters/gcs';
import { backupManifest, MB } from '../support/pitr';

const SEG16 = 16 * MB;

describe('timestamps and LSNs', () => {
  it('parses ISO-8601 with zones to epoch microseconds and back', () => {
    const us = epochMicros('2024-05-01T12:00:00.123456Z');
    expect(us % 1_000_000).toBe(123456);
    expect(isoMicros(us)).toBe('2024-05-01T12:00:00.123456Z');
    expect(epochMicros('2024-05-01 14:00:00.123456+02:00')).toBe(us);
    expect(epochMicros('2024-05-01T12:00:00.1Z')).toBe(epochMicros('2024-05-01T12:00:00.100000Z'));
    expect(epochMicros('2024-05-01 12:00:00')).toBeNaN(); // no zone: refused, never guessed
  });

  it('gives recovery_target_time the form PostgreSQL accepts', () => {
    expect(pgTimestamp('2024-05-01T12:00:00.5Z')).toBe('2024-05-01 12:00:00.500000+00');
  });

  it('orders LSNs numerically', () => {
    expect(lsnValue('0/16B3748')).toBe(0x16b3748n);
    expect(lsnValue('1/0') > lsnValue('0/FFFFFFFF')).toBe(true);
    expect(() => lsnValue('nope')).toThrow(/not an LSN/);
  });

  it('names WAL segments for 16 MB and 1 MB segment sizes', () => {
    expect(segmentName(1, lsnValue('0/16B3748'), SEG16)).toBe('000000010000000000000001');
    expect(segmentName(2, lsnValue('1/FF000000'), SEG16)).toBe('0000000200000001000000FF');
    expect(nextSegment('0000000100000001000000FF', SEG16)).toBe('000000010000000200000000');
    expect(segmentName(1, lsnValue('0/2A00028'), MB)).toBe('00000001000000000000002A');
    expect(parseSegment('00000001000000010000002A', MB).segno).toBe(4096n + 42n);
  });
});

// A little archive: 1 MB segments, backups every "10 s" from t0.
const t0 = epochMicros('2024-05-01T12:00:00Z');
const at = (s: number) => isoMicros(t0 + s * 1_000_000);
function backup(id: string, startSeg: number, endS: number): BaseBackupInfo {
  return backupManifest(id, startSeg, t0 + endS * 1_000_000, [{ name: `basebackups/${id}/base.tar.gz`, size: 1, md5: 'x', crc32c: 'y' }], 1000);
}
function wal(seg: number, partialLsn?: string, updatedS = 0): StoredObject {
  const name = segmentName(1, BigInt(seg * MB), MB);
  return {
    name: `wal/${name}${partialLsn ? '.partial' : ''}`,
    size: MB,
    md5: 'm',
    crc32c: 'c',
    updated: at(updatedS),
    metadata: partialLsn ? { 'ferry-lsn': partialLsn } : {},
  };
}
function listing(): ArchiveListing {
  return {
    backups: [backup('b1', 2, 1), backup('b2', 4, 11), backup('b3', 6, 21)],
    incomplete: [],
    wal: [2, 3, 4, 5, 6, 7].map((n) => wal(n)).concat([wal(8, '0/800100'), wal(7, '0/700200')]),
    status: { archivedThrough: { time: at(30), lsn: '0/800100' }, timeline: 1, walSegmentSize: MB, updatedAt: at(30) },
  };
}

describe('inventory and targets', () => {
  it('the restorable range runs from the oldest backup with an unbroken WAL chain to archivedThrough', () => {
    const inv = computeInventory(listing());
    expect(inv.restorable).toEqual({ earliest: at(1), latest: at(30) });
    expect(inv.wal).toMatchObject({ segments: 6, first: '000000010000000000000002', last: '000000010000000000000007', gaps: [] });
  });

  it('a gap in the WAL makes the backups before it unusable', () => {
    const l = listing();
    l.wal = l.wal.filter((o) => !o.name.endsWith('000000010000000000000005'));
    const inv = computeInventory(l);
    expect(inv.restorable?.earliest).toBe(at(21)); // only b3 starts after the gap
    expect(inv.wal.gaps).toContain('000000010000000000000005');
  });

  it('walChain ends with the newest partial, stands in for nothing else', () => {
    const chain = walChain(backup('b2', 4, 11), listing().wal);
    expect(chain.segments).toEqual(['000000010000000000000004', '000000010000000000000005', '000000010000000000000006', '000000010000000000000007', '000000010000000000000008']);
    expect(chain.objects[chain.objects.length - 1]!.name).toBe('wal/000000010000000000000008.partial');
  });

  it('uses the newest backup that ends before the target; refuses outside the range with the range', () => {
    const inv: ArchiveInventory = computeInventory(listing());
    expect(checkTarget(inv, { time: at(15) })).toMatchObject({ ok: true, backup: { id: 'b2' } });
    expect(checkTarget(inv, { time: at(11) })).toMatchObject({ ok: true, backup: { id: 'b2' } });
    expect(checkTarget(inv, { latest: true })).toMatchObject({ ok: true, backup: { id: 'b3' } });
    const early = checkTarget(inv, { time: at(0) });
    expect(early).toMatchObject({ ok: false, type: 'TargetOutsideWindow' });
    expect(!early.ok && early.reason).toContain(`restorable range ${at(1)} .. ${at(30)}`);
    expect(checkTarget(inv, { time: at(31) })).toMatchObject({ ok: false, type: 'TargetOutsideWindow' });
    expect(checkTarget(inv, { time: 'yesterday' })).toMatchObject({ ok: false, type: 'InvalidTarget' });
    expect(checkTarget(inv, { lsn: '0/600000' })).toMatchObject({ ok: true, backup: { id: 'b2' } });
    expect(checkTarget(inv, { lsn: '0/900000' })).toMatchObject({ ok: false, type: 'TargetOutsideWindow' });
  });

  it('nothing is restorable before a backup is followed by archived WAL', () => {
    const l = listing();
    l.status = undefined;
    const r = checkTarget(computeInventory(l), { latest: true });
    expect(r).toMatchObject({ ok: false, type: 'NothingRestorable' });
  });
});

describe('retention', () => {
  it('keeps the newest backup that ended before the window and everything after it', () => {
    // now = 30 s, window 12 s: oldest second = 18 s; b2 (ended 11 s) anchors it, b1 goes.
    const plan = planRetention(listing(), t0 + 30_000_000, 12);
    expect(plan.anchor).toBe('b2');
    expect(plan.deleteBackups).toEqual(['b1']);
    // WAL before b2's first segment (4) goes, and the partial of 7 (7 is complete).
    expect(plan.deleteObjects.sort()).toEqual(['wal/000000010000000000000002', 'wal/000000010000000000000003', 'wal/000000010000000000000007.partial']);
    // What is left still restores the window's oldest second.
    const l = listing();
    l.backups = l.backups.filter((b) => !plan.deleteBackups.includes(b.id));
    l.wal = l.wal.filter((o) => !plan.deleteObjects.includes(o.name));
    const inv = computeInventory(l);
    expect(epochMicros(inv.restorable!.earliest)).toBeLessThanOrEqual(t0 + 18_000_000);
    expect(checkTarget(inv, { time: at(18) })).toMatchObject({ ok: true, backup: { id: 'b2' } });
  });

  it('prunes nothing while no backup is older than the window', () => {
    const plan = planRetention(listing(), t0 + 30_000_000, 60);
    expect(plan.anchor).toBeUndefined();
    expect(plan.deleteBackups).toEqual([]);
    expect(plan.deleteObjects).toEqual(['wal/000000010000000000000007.partial']);
  });

  it('keeps a backup a restore holds a lease on, with its WAL; an expired lease goes, and so does the backup', () => {
    const l = listing();
    l.leases = [{ id: 'r1', backupId: 'b1', expiresAt: at(40) }];
    const held = planRetention(l, t0 + 30_000_000, 12);
    expect(held.anchor).toBe('b2');
    expect(held.deleteBackups).toEqual([]);
    expect(held.leased).toEqual(['b1']);
    // b1's WAL (from its first segment, 2) stays; only the completed segment's partial goes.
    expect(held.deleteObjects).toEqual(['wal/000000010000000000000007.partial']);
    expect(held.expiredLeases).toEqual([]);
    // Expired at now: pruned as without a lease, and the lease object too.
    l.leases = [{ id: 'r1', backupId: 'b1', expiresAt: at(30) }];
    const expired = planRetention(l, t0 + 30_000_000, 12);
    expect(expired.deleteBackups).toEqual(['b1']);
    expect(expired.leased).toBeUndefined();
    expect(expired.deleteObjects.sort()).toEqual(['wal/000000010000000000000002', 'wal/000000010000000000000003', 'wal/000000010000000000000007.partial']);
    expect(expired.expiredLeases).toEqual(['leases/r1.json']);
  });

  it('removes abandoned unfinished backups once they are older than the window', () => {
    const l = listing();
    l.incomplete = [{ id: 'b0', objects: [wal(1, undefined, 0)].map((o) => ({ ...o, name: 'basebackups/b0/base.tar.gz' })) }];
    expect(planRetention(l, t0 + 30_000_000, 12).deleteObjects).toContain('basebackups/b0/base.tar.gz');
    expect(planRetention(l, t0 + 5_000_000, 12).deleteObjects).not.toContain('basebackups/b0/base.tar.gz');
  });
});
