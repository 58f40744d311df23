// A restore's lease on its base backup, against the real fake-gcs-server: retention keeps a leased
// backup (and the WAL from its first segment) even once the window has moved past it, and prunes
// it after the restore releases the lease. (Racing a real restore against retention cannot be
// staged reliably; the lease is what the restore takes before it lists the archive.)
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GcsStore } from '../../activities/adapters/gcs';
import { applyRetention, listArchive } from '../../activities/adapters/pitr/archive';
import { LAYOUT, segmentName } from '../../activities/adapters/pitr/common';
import { LEASE_SECONDS, leaseBackup } from '../../activities/adapters/pitr/restore';
import { epochMicros, isoMicros } from '../../workflows/pitrTypes';
import { backupManifest, MB } from '../support/pitr';

const GCS_ENDPOINT = process.env.FERRY_GCS_ENDPOINT ?? 'http://127.0.0.1:4443';

describe('restore leases (fake-gcs-server)', () => {
  const location = { bucket: `ferry-lease-test-${randomBytes(3).toString('hex')}`, prefix: 'archive' };
  const store = new GcsStore(location, { endpoint: GCS_ENDPOINT });
  // Backups every 10 s from t0 (1 MB segments): b1 from segment 2, b2 from 4, b3 from 6.
  const t0 = Date.now() * 1000 - 60_000_000;
  const at = (s: number) => isoMicros(t0 + s * 1_000_000);

  beforeAll(async () => {
    await store.ensureBucket();
    for (const [id, seg, end] of [['b1', 2, 1], ['b2', 4, 11], ['b3', 6, 21]] as const) {
      const data = await store.uploadBuffer(Buffer.from(`backup ${id}`), LAYOUT.backupDir(id) + 'base.tar.gz');
      const info = backupManifest(id, seg, t0 + end * 1_000_000, [{ name: data.name, size: data.size, md5: data.md5, crc32c: data.crc32c }], 10);
      await store.writeJson(LAYOUT.backupManifest(id), info);
    }
    for (let seg = 2; seg <= 7; seg++) await store.uploadBuffer(Buffer.from(`wal ${seg}`), LAYOUT.wal(segmentName(1, BigInt(seg * MB), MB)));
  });
  afterAll(async () => {
    await store.storage.bucket(location.bucket).deleteFiles({ force: true }).catch(() => undefined);
    await store.storage.bucket(location.bucket).delete().catch(() => undefined);
  });

  it('keeps a leased backup and its WAL past the window, and prunes them once the lease is released', async () => {
    const lease = await leaseBackup(store, 'b1', 'restore test');
    const listed = await listArchive(store);
    expect(listed.leases).toHaveLength(1);
    expect(listed.leases![0]).toMatchObject({ id: lease.id, backupId: 'b1', holder: 'restore test' });
    const expires = epochMicros(listed.leases![0]!.expiresAt);
    expect(expires).toBeGreaterThan(Date.now() * 1000 + (LEASE_SECONDS - 60) * 1_000_000);

    // now = t0 + 30 s, window 12 s: b2 anchors the window, b1 would go but is leased.
    const now = t0 + 30_000_000;
    const held = await applyRetention(store, now, 12);
    expect(held.plan.anchor).toBe('b2');
    expect(held.plan.deleteBackups).toEqual([]);
    expect(held.plan.leased).toEqual(['b1']);
    expect(await store.exists(LAYOUT.backupManifest('b1'))).toBe(true);
    expect(await store.exists(LAYOUT.wal(segmentName(1, BigInt(2 * MB), MB)))).toBe(true);

    await lease.release();
    expect(await store.exists(LAYOUT.lease(lease.id))).toBe(false);
    const pruned = await applyRetention(store, now, 12);
    expect(pruned.plan.deleteBackups).toEqual(['b1']);
    expect(await store.exists(LAYOUT.backupManifest('b1'))).toBe(false);
    expect(await store.exists(LAYOUT.wal(segmentName(1, BigInt(2 * MB), MB)))).toBe(false);
    expect(await store.exists(LAYOUT.wal(segmentName(1, BigInt(4 * MB), MB)))).toBe(true);
    expect((await listArchive(store)).backups.map((b) => b.id)).toEqual(['b2', 'b3']);
  });

  it('a lease a dead restore left behind expires, and retention removes it', async () => {
    await store.writeJson(LAYOUT.lease('dead'), { id: 'dead', backupId: 'b2', expiresAt: at(25) });
    const r = await applyRetention(store, t0 + 30_000_000, 12);
    expect(r.plan.leased).toBeUndefined();
    expect(await store.exists(LAYOUT.lease('dead'))).toBe(false);
  });
});
