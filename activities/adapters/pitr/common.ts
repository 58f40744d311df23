// Shared by the PITR adapters: connections to the protected server, child processes (the
// PostgreSQL client tools and, when the worker runs as root, the server as another user), WAL
// segment arithmetic and the archive's object layout. Plain code, no Temporal imports.
import { spawn } from 'node:child_process';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { open, rename } from 'node:fs/promises';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { createGunzip, createGzip } from 'node:zlib';
import pg from 'pg';
import { AuthenticationFailed, ConnectionFailed, FerryError } from '../errors';

/** A PITR step failed for a reason a retry will not fix (the message says which and why). */
export class PitrFailed extends FerryError {
  readonly retryable = false;
}

/** A restore target the archive cannot reach (names the restorable range). */
export class TargetOutsideWindow extends FerryError {
  readonly retryable = false;
}

/** The protected server is not set up for archiving (wal_level, wal senders, replication permission). */
export class ArchivingNotPossible extends FerryError {
  readonly retryable = false;
}

export interface PgConn {
  host: string;
  port: number;
  user: string;
  password?: string;
  database?: string;
}

export const PG_BIN = process.env.FERRY_PG_BINDIR ?? '/usr/lib/postgresql/15/bin';

export function pgEnv(conn: PgConn): NodeJS.ProcessEnv {
  return { ...process.env, ...(conn.password === undefined ? {} : { PGPASSWORD: conn.password }), PGCONNECT_TIMEOUT: '10' };
}

function classify(err: unknown, where: string): Error {
  const e = err as { code?: string; message?: string };
  const message = e?.message ?? String(err);
  if (e?.code === '28P01' || e?.code === '28000') return new AuthenticationFailed(`${where}: ${message}`, { cause: err });
  if (e?.code === 'ECONNREFUSED' || e?.code === 'ECONNRESET' || e?.code === 'ETIMEDOUT' || e?.code?.startsWith('08') || e?.code === '57P01') {
    return new ConnectionFailed(`${where}: ${message}`, { cause: err });
  }
  return err instanceof Error ? err : new Error(message);
}

export async function withClient<T>(conn: PgConn, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const where = `${conn.user}@${conn.host}:${conn.port}`;
  const client = new pg.Client({
    host: conn.host,
    port: conn.port,
    user: conn.user,
    password: conn.password,
    database: conn.database ?? 'postgres',
    application_name: 'ferry-pitr',
    connectionTimeoutMillis: 10_000,
  });
  try {
    await client.connect();
  } catch (err) {
    throw classify(err, where);
  }
  client.on('error', () => undefined); // a dropped connection surfaces on the next query
  try {
    return await fn(client);
  } catch (err) {
    throw classify(err, where);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** UTC ISO with microseconds, computed by the server. */
export const ISO_UTC = (expr: string) => `to_char((${expr}) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  signal?: AbortSignal;
  /** Run as this OS user (runuser), for the server when the worker is root. */
  runAs?: string;
  cwd?: string;
}

/** Run a command to completion; failure carries the tail of its stderr. */
export async function run(cmd: string, args: string[], options: RunOptions = {}): Promise<{ stdout: string; stderr: string }> {
  const [file, argv] = options.runAs ? ['runuser', ['-u', options.runAs, '--', cmd, ...args]] : [cmd, args];
  return new Promise((resolve, reject) => {
    const child = spawn(file, argv, { env: options.env ?? process.env, cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'], signal: options.signal });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout = (stdout + d.toString()).slice(-64_000)));
    child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-64_000)));
    child.on('error', reject);
    child.on('close', (code, sig) => {
      if (code === 0) resolve({ stdout, stderr });
      else reject(new Error(`${cmd} ${code === null ? `killed by ${sig}` : `exited ${code}`}: ${stderr.trim().split('\n').slice(-8).join('\n')}`));
    });
  });
}

const execFileP = promisify(execFile);

/** The user to run postgres as: given, or `postgres` when the worker is root, or none. */
export function serverUser(runAs: string | undefined): string | undefined {
  if (runAs) return runAs;
  return process.getuid?.() === 0 ? 'postgres' : undefined;
}

export async function chownTo(user: string | undefined, ...paths: string[]): Promise<void> {
  if (!user) return;
  await execFileP('chown', ['-R', user, ...paths]);
}

// ------------------------------------------------------------------ WAL segments

export const SEGMENT_RE = /^[0-9A-F]{24}$/;

export function segmentName(timeline: number, lsn: bigint, segSize: number): string {
  const size = BigInt(segSize);
  const perId = 0x100000000n / size;
  const segno = lsn / size;
  const hex = (v: bigint | number) => v.toString(16).toUpperCase().padStart(8, '0');
  return hex(timeline) + hex(segno / perId) + hex(segno % perId);
}

export function parseSegment(name: string, segSize: number): { timeline: number; segno: bigint } {
  if (!SEGMENT_RE.test(name)) throw new Error(`'${name}' is not a WAL segment name`);
  const perId = 0x100000000n / BigInt(segSize);
  return {
    timeline: parseInt(name.slice(0, 8), 16),
    segno: BigInt(`0x${name.slice(8, 16)}`) * perId + BigInt(`0x${name.slice(16, 24)}`),
  };
}

export function nextSegment(name: string, segSize: number): string {
  const { timeline, segno } = parseSegment(name, segSize);
  return segmentName(timeline, (segno + 1n) * BigInt(segSize), segSize);
}

// ------------------------------------------------------------------ archive layout

export const LAYOUT = {
  backupsPrefix: 'basebackups/',
  backupDir: (id: string) => `basebackups/${id}/`,
  backupManifest: (id: string) => `basebackups/${id}/ferry.json`,
  walPrefix: 'wal/',
  wal: (segment: string) => `wal/${segment}`,
  walPartial: (segment: string) => `wal/${segment}.partial`,
  status: 'status.json',
  leasesPrefix: 'leases/',
  lease: (id: string) => `leases/${id}.json`,
} as const;

/**
 * A restore's claim on its base backup (leases/<id>.json): while it has not expired, retention
 * keeps that backup and the WAL from its first segment on. The restore renews it while it runs and
 * deletes it at the end; a restore that died leaves one that expires.
 */
export interface RestoreLease {
  id: string;
  backupId: string;
  expiresAt: string;
  holder?: string;
}

export interface ArchiveStatus {
  archivedThrough: { time: string; lsn: string; lastObject?: string };
  timeline: number;
  walSegmentSize: number;
  updatedAt: string;
}

// ---- WAL objects are stored gzipped (level 1: ~0.1 s for a full 16 MB segment, 8x smaller on
// the bench's pgbench WAL; a partial segment is mostly zeros and shrinks to a fraction of a MB). A
// WAL file never starts with gzip's magic (it starts with a page header), so a download is
// recognized by its first bytes, and objects archived before compression restore as they are.

/** Metadata of a gzipped WAL object (for whoever lists the bucket; readers go by the magic). */
export const GZIP_METADATA = { 'ferry-encoding': 'gzip' } as const;

/**
 * Write `src` gzipped to `dst`, reading `src` once (a snapshot of a file still being appended to).
 * Returns the md5 (base64, as GCS gives it) of what was read: stored as `ferry-raw-md5`, it lets a
 * new stream slice tell that a spooled segment is archived already.
 */
export async function gzipFile(src: string, dst: string): Promise<{ rawMd5: string }> {
  // md5 only: gcs.ts's Hasher adds crc32c, ~0.24 s per 16 MB in JavaScript (md5: ~0.02 s).
  const md5 = createHash('md5');
  const hashing = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      md5.update(chunk);
      done(null, chunk);
    },
  });
  await pipeline(createReadStream(src), hashing, createGzip({ level: 1 }), createWriteStream(dst));
  return { rawMd5: md5.digest('base64') };
}

/** If `file` is gzipped, replace it by its content; a plain file is left as it is. */
export async function gunzipInPlace(file: string): Promise<void> {
  const fh = await open(file, 'r');
  const head = Buffer.alloc(2);
  try {
    await fh.read(head, 0, 2, 0);
  } finally {
    await fh.close();
  }
  if (head[0] !== 0x1f || head[1] !== 0x8b) return;
  const plain = `${file}.gunzip`;
  await pipeline(createReadStream(file), createGunzip(), createWriteStream(plain));
  await rename(plain, file);
}
