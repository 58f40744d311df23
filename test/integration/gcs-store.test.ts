// GcsStore against the real fake-gcs-server: an object rewritten while it is read (the archiver
// rewrites status.json every few seconds while a restore lists the archive) is read whole, as one
// generation, never reported corrupted; a genuinely damaged object still is, by name.
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GcsStore, ObjectCorrupted } from '../../activities/adapters/gcs';

const GCS_ENDPOINT = process.env.FERRY_GCS_ENDPOINT ?? 'http://127.0.0.1:4443';

describe('GcsStore (fake-gcs-server)', () => {
  const location = { bucket: `ferry-gcs-test-${randomBytes(3).toString('hex')}`, prefix: 'p' };
  const store = new GcsStore(location, { endpoint: GCS_ENDPOINT });

  beforeAll(async () => {
    await store.ensureBucket();
  });
  afterAll(async () => {
    await store.storage.bucket(location.bucket).deleteFiles({ force: true }).catch(() => undefined);
    await store.storage.bucket(location.bucket).delete().catch(() => undefined);
  });

  it('reads an object that is being rewritten as one whole generation, never as corrupted', async () => {
    const doc = (n: number) => ({ n, pad: 'x'.repeat(100 + (n % 7) * 500) });
    await store.writeJson('status.json', doc(0));
    let writing = true;
    let written = 0;
    const writer = (async () => {
      for (let n = 1; writing; n++) {
        await store.writeJson('status.json', doc(n));
        written = n;
        await sleep(5); // far more often than any real writer (the archiver: every few seconds)
      }
    })();
    const seen: number[] = [];
    try {
      for (let i = 0; i < 150; i++) {
        const got = await store.readJson<{ n: number; pad: string }>('status.json');
        expect(got).toEqual(doc(got.n)); // whole: the pad belongs to the same write as n
        seen.push(got.n);
      }
    } finally {
      writing = false;
      await writer;
    }
    expect(written).toBeGreaterThan(20); // the reads did overlap rewrites
    expect(new Set(seen).size).toBeGreaterThan(5);
  });

  it('names a damaged object (content changed, recorded checksums kept)', async () => {
    await store.writeJson('manifest.json', { a: 1 });
    const file = store.storage.bucket(location.bucket).file('p/manifest.json');
    const [meta] = await file.getMetadata();
    await file.save(Buffer.from('{"a": 2}'), { resumable: false, metadata: { metadata: meta.metadata } });
    const err = await store.readJson('manifest.json').then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(ObjectCorrupted);
    expect((err as Error).message).toContain(`gs://${location.bucket}/p/manifest.json is corrupted: `);
  });
});
