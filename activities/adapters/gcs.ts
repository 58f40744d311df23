// Google Cloud Storage for Ferry's archives (base backups, WAL, RMAN pieces), through
// @google-cloud/storage. Plain code, no Temporal imports.
//
// Integrity: every upload computes md5 and crc32c while it reads the file, stores them as custom
// metadata (ferry-md5, ferry-crc32c), and compares them with the hashes the server computed; every
// download recomputes both while it writes and compares them with what was recorded (and with a
// manifest's expectation when the caller has one). A mismatch is an ObjectCorrupted error naming
// the object, never a silently wrong restore.
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { CRC32C, Storage, type File } from '@google-cloud/storage';
import { FerryError } from './errors';

/** An object's content does not match the checksum recorded when it was archived. */
export class ObjectCorrupted extends FerryError {
  readonly retryable = false;
}

/** An object the archive needs is not there (deleted, or never uploaded). */
export class ObjectMissing extends FerryError {
  readonly retryable = false;
}

/** The storage service could not be reached or answered with a server error: retried. */
export class StorageUnavailable extends FerryError {
  readonly retryable = true;
}

export interface GcsLocation {
  bucket: string;
  /** Folder inside the bucket, without leading or trailing slash ('' = bucket root). */
  prefix: string;
}

export interface Checksums {
  md5: string; // base64, as GCS reports md5Hash
  crc32c: string; // base64, as GCS reports crc32c
  size: number;
}

export interface StoredObject extends Checksums {
  name: string;
  updated: string;
  metadata: Record<string, string>;
}

export interface GcsOptions {
  /** http://127.0.0.1:4443 for fake-gcs-server; unset = Google's endpoint with default credentials. */
  endpoint?: string;
  projectId?: string;
  /** Files larger than this use resumable uploads (default 32 MiB). */
  resumableThresholdBytes?: number;
}

/** Hashes whatever streams through it. */
class Hasher extends Transform {
  private readonly md5 = createHash('md5');
  private readonly crc = new CRC32C();
  size = 0;
  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.md5.update(chunk);
    this.crc.update(chunk);
    this.size += chunk.length;
    done(null, chunk);
  }
  sums(): Checksums {
    return { md5: this.md5.digest('base64'), crc32c: this.crc.toString(), size: this.size };
  }
}

export function checksumsOf(data: Buffer): Checksums {
  const crc = new CRC32C();
  crc.update(data);
  return { md5: createHash('md5').update(data).digest('base64'), crc32c: crc.toString(), size: data.length };
}

export async function checksumFile(path: string): Promise<Checksums> {
  const h = new Hasher();
  await pipeline(createReadStream(path), h, async (src: AsyncIterable<Buffer>) => {
    for await (const _ of src) void _;
  });
  return h.sums();
}

function mismatch(expected: Checksums, actual: Checksums): string | undefined {
  if (expected.size !== actual.size) return `size ${actual.size}, expected ${expected.size}`;
  if (expected.crc32c !== actual.crc32c) return `crc32c ${actual.crc32c}, expected ${expected.crc32c}`;
  if (expected.md5 !== actual.md5) return `md5 ${actual.md5}, expected ${expected.md5}`;
  return undefined;
}

function statusOf(err: unknown): number | undefined {
  const e = err as { code?: unknown; response?: { status?: unknown } };
  if (typeof e?.code === 'number') return e.code;
  if (typeof e?.response?.status === 'number') return e.response.status;
  return undefined;
}

function wrap(err: unknown, what: string): Error {
  if (err instanceof FerryError) return err;
  const status = statusOf(err);
  const message = err instanceof Error ? err.message : String(err);
  if (status === 404) return new ObjectMissing(`${what}: not found`, { cause: err });
  return new StorageUnavailable(`${what}: ${message}`, { cause: err });
}

export class GcsStore {
  readonly storage: Storage;
  private readonly resumableThreshold: number;

  constructor(
    readonly location: GcsLocation,
    options: GcsOptions = {},
  ) {
    this.storage = new Storage({
      ...(options.endpoint ? { apiEndpoint: options.endpoint } : {}),
      projectId: options.projectId ?? (options.endpoint ? 'ferry-dev' : undefined),
    });
    this.resumableThreshold = options.resumableThresholdBytes ?? 32 * 1024 * 1024;
  }

  /** gs://bucket/prefix/key, as named in errors and logs. */
  url(key: string): string {
    return `gs://${this.location.bucket}/${this.objectName(key)}`;
  }

  objectName(key: string): string {
    return this.location.prefix ? `${this.location.prefix}/${key}` : key;
  }

  private file(key: string, generation?: string): File {
    return this.storage.bucket(this.location.bucket).file(this.objectName(key), generation ? { generation } : undefined);
  }

  /** Create the bucket if it is missing (development and tests; production buckets exist). */
  async ensureBucket(): Promise<void> {
    const bucket = this.storage.bucket(this.location.bucket);
    try {
      const [exists] = await bucket.exists();
      if (!exists) await bucket.create();
    } catch (err) {
      if (statusOf(err) === 409) return;
      throw wrap(err, `gs://${this.location.bucket}`);
    }
  }

  /**
   * Upload a local file. Its md5 and crc32c are computed first and sent with the object (GCS
   * rejects an upload whose content does not match them) and recorded as custom metadata in the
   * same request, so an object never exists without its checksums; the server's hashes of what it
   * stored are compared with ours once more.
   */
  async uploadFile(path: string, key: string, metadata: Record<string, string> = {}): Promise<StoredObject> {
    const sums = await checksumFile(path);
    const file = this.file(key);
    try {
      await pipeline(
        createReadStream(path),
        file.createWriteStream({
          resumable: sums.size > this.resumableThreshold,
          validation: false, // compared below, against the hashes we computed before sending
          metadata: this.objectMetadata(sums, metadata),
        }),
      );
    } catch (err) {
      throw wrap(err, `upload ${this.url(key)}`);
    }
    return this.verifyStored(file, key, sums, metadata);
  }

  /** Upload a buffer (manifests, status), checksummed the same way. */
  async uploadBuffer(data: Buffer, key: string, metadata: Record<string, string> = {}): Promise<StoredObject> {
    const sums = checksumsOf(data);
    const file = this.file(key);
    try {
      await file.save(data, { resumable: false, validation: false, metadata: this.objectMetadata(sums, metadata) });
    } catch (err) {
      throw wrap(err, `upload ${this.url(key)}`);
    }
    return this.verifyStored(file, key, sums, metadata);
  }

  private objectMetadata(sums: Checksums, metadata: Record<string, string>) {
    return {
      contentType: 'application/octet-stream',
      md5Hash: sums.md5,
      crc32c: sums.crc32c,
      metadata: { ...metadata, 'ferry-md5': sums.md5, 'ferry-crc32c': sums.crc32c, 'ferry-size': String(sums.size) },
    };
  }

  private async verifyStored(file: File, key: string, sums: Checksums, metadata: Record<string, string>): Promise<StoredObject> {
    let meta;
    try {
      [meta] = await file.getMetadata();
    } catch (err) {
      throw wrap(err, `upload ${this.url(key)}`);
    }
    const server = { md5: String(meta.md5Hash ?? ''), crc32c: String(meta.crc32c ?? '') };
    if ((server.crc32c && server.crc32c !== sums.crc32c) || (server.md5 && server.md5 !== sums.md5)) {
      throw new ObjectCorrupted(
        `upload ${this.url(key)} was damaged in transit: server has crc32c ${server.crc32c} md5 ${server.md5}, sent crc32c ${sums.crc32c} md5 ${sums.md5}`,
      );
    }
    if (Number(meta.size) !== sums.size) {
      throw new ObjectCorrupted(`upload ${this.url(key)} was truncated: server has ${String(meta.size)} bytes, sent ${sums.size}`);
    }
    return { name: key, ...sums, updated: String(meta.updated ?? ''), metadata: { ...metadata } };
  }

  /**
   * Download to `path` (through a temporary file), verifying md5 and crc32c against the object's
   * recorded checksums and, when given, the expectation from a manifest.
   */
  async downloadFile(key: string, path: string, expected?: Checksums): Promise<Checksums> {
    const tmp = `${path}.part`;
    let got: { value: Checksums; recorded?: Checksums };
    try {
      got = await this.readGeneration(key, async (file) => {
        const hasher = new Hasher();
        await pipeline(file.createReadStream({ validation: false }), hasher, createWriteStream(tmp));
        return hasher.sums();
      });
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
    for (const [source, want] of [['recorded at upload', got.recorded], ['in the manifest', expected]] as const) {
      if (!want) continue;
      const why = mismatch(want, got.value);
      if (why) {
        await rm(tmp, { force: true });
        throw new ObjectCorrupted(`object ${this.url(key)} is corrupted: ${why} (${source})`);
      }
    }
    await rename(tmp, path);
    return got.value;
  }

  /** Download a small object into memory, verified the same way. */
  async downloadBuffer(key: string): Promise<Buffer> {
    const { value: data, recorded } = await this.readGeneration(key, async (file) => (await file.download({ validation: false }))[0]);
    const why = recorded && mismatch(recorded, checksumsOf(data));
    if (why) throw new ObjectCorrupted(`object ${this.url(key)} is corrupted: ${why} (recorded at upload)`);
    return data;
  }

  /**
   * Read the object's checksums recorded at upload and then its content, both of one generation:
   * an object rewritten in between (status.json, a WAL .partial) would otherwise pair the old
   * checksums with the new content and look corrupted. A generation replaced before its content
   * was read (404) is read again, as the newer generation.
   */
  private async readGeneration<T>(key: string, read: (file: File) => Promise<T>): Promise<{ value: T; recorded?: Checksums }> {
    for (let attempt = 0; ; attempt++) {
      const { recorded, generation } = await this.recordedSums(key);
      try {
        return { value: await read(this.file(key, generation)), recorded };
      } catch (err) {
        if (statusOf(err) === 404 && generation && attempt < 10) continue;
        throw wrap(err, `download ${this.url(key)}`);
      }
    }
  }

  async readJson<T>(key: string): Promise<T> {
    const data = await this.downloadBuffer(key);
    try {
      return JSON.parse(data.toString('utf8')) as T;
    } catch (err) {
      throw new ObjectCorrupted(`object ${this.url(key)} is not valid JSON: ${(err as Error).message}`);
    }
  }

  async writeJson(key: string, value: unknown): Promise<StoredObject> {
    return this.uploadBuffer(Buffer.from(JSON.stringify(value, null, 2)), key);
  }

  private async recordedSums(key: string): Promise<{ recorded?: Checksums; generation?: string }> {
    let meta;
    try {
      [meta] = await this.file(key).getMetadata();
    } catch (err) {
      throw wrap(err, `download ${this.url(key)}`);
    }
    const generation = meta.generation === undefined ? undefined : String(meta.generation);
    const m = (meta.metadata ?? {}) as Record<string, unknown>;
    if (typeof m['ferry-md5'] !== 'string' || typeof m['ferry-crc32c'] !== 'string') return { generation };
    return { recorded: { md5: m['ferry-md5'], crc32c: m['ferry-crc32c'], size: Number(m['ferry-size'] ?? meta.size) }, generation };
  }

  /** Objects under `keyPrefix` (relative to the location's prefix), with their recorded checksums. */
  async list(keyPrefix: string): Promise<StoredObject[]> {
    const base = this.location.prefix ? `${this.location.prefix}/` : '';
    let files: File[];
    try {
      [files] = await this.storage.bucket(this.location.bucket).getFiles({ prefix: base + keyPrefix, autoPaginate: true });
    } catch (err) {
      throw wrap(err, `list gs://${this.location.bucket}/${base}${keyPrefix}`);
    }
    return files.map((f) => {
      const m = (f.metadata.metadata ?? {}) as Record<string, unknown>;
      const meta: Record<string, string> = {};
      for (const [k, v] of Object.entries(m)) if (typeof v === 'string') meta[k] = v;
      return {
        name: f.name.slice(base.length),
        md5: meta['ferry-md5'] ?? String(f.metadata.md5Hash ?? ''),
        crc32c: meta['ferry-crc32c'] ?? String(f.metadata.crc32c ?? ''),
        size: Number(f.metadata.size ?? 0),
        updated: String(f.metadata.updated ?? ''),
        metadata: meta,
      };
    });
  }

  async exists(key: string): Promise<boolean> {
    try {
      const [exists] = await this.file(key).exists();
      return exists;
    } catch (err) {
      throw wrap(err, `stat ${this.url(key)}`);
    }
  }

  /** Delete; a missing object is not an error (a retried prune). */
  async delete(key: string): Promise<void> {
    try {
      await this.file(key).delete({ ignoreNotFound: true });
    } catch (err) {
      throw wrap(err, `delete ${this.url(key)}`);
    }
  }
}
