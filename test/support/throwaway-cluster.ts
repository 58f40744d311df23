// Throwaway PostgreSQL clusters for tests that need a server the shared dev clusters cannot be
// made into (an old major version, exhausted replication settings, a missing extension, a full
// disk): initdb into .ferry/tmp (ignored) on a free port, password authentication, stopped and
// removed by stop(). As root the server runs as `postgres` (or `nobody`), as scripts/dev.sh does.
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import type { ResolvedEndpoint } from '../../activities/adapters/engine';
import { repoRoot } from './env';

const stateDir = process.env.FERRY_STATE_DIR ?? path.join(repoRoot, '.ferry');
/** Where throwaway clusters live: ignored, and enterable by the server user (unlike root's $HOME). */
export const throwawayRoot = path.join(stateDir, 'tmp');

const isRoot = process.getuid?.() === 0;

/** The unprivileged user a root test process runs servers as (PostgreSQL refuses to run as root). */
function serverUser(): { name: string; uid: number; gid: number } | null {
  if (!isRoot) return null;
  for (const name of ['postgres', 'nobody']) {
    const r = spawnSync('id', ['-u', name], { encoding: 'utf8' });
    if (r.status === 0) {
      const gid = Number(spawnSync('id', ['-g', name], { encoding: 'utf8' }).stdout.trim());
      return { name, uid: Number(r.stdout.trim()), gid };
    }
  }
  throw new Error('running as root, but neither a postgres nor a nobody user exists to run PostgreSQL as');
}

/** Run a server program, as the server user when we are root. Rejects with its output on failure. */
async function runServerProgram(bin: string, args: string[], timeoutMs = 90_000): Promise<void> {
  const user = serverUser();
  const [cmd, argv] = user ? ['runuser', ['-u', user.name, '--', bin, ...args]] : [bin, args];
  try {
    await promisify(execFile)(cmd, argv, { encoding: 'utf8', timeout: timeoutMs });
  } catch (err) {
    const e = err as { code?: unknown; stderr?: string; stdout?: string; message: string };
    throw new Error(`${path.basename(bin)} ${args.join(' ')} failed (exit ${String(e.code)}): ${e.stderr || e.stdout || e.message}`);
  }
}

/** Give a path to the server user (no-op unless root). */
export function giveToServerUser(p: string): void {
  const user = serverUser();
  if (!user) return;
  chownSync(p, user.uid, user.gid);
}

/** The PostgreSQL server programs scripts/dev.sh runs (initdb, pg_ctl, postgres): /usr/lib/postgresql/$POSTGRES_MAJOR/bin, else `pg_config --bindir`. */
export function systemBindir(): string {
  const major = /^POSTGRES_MAJOR=(\d+)/m.exec(readFileSync(path.join(repoRoot, 'scripts/versions.env'), 'utf8'))?.[1] ?? '15';
  const candidates = [`/usr/lib/postgresql/${major}/bin`];
  const r = spawnSync('pg_config', ['--bindir'], { encoding: 'utf8' });
  if (r.status === 0) candidates.push(r.stdout.trim());
  const dir = candidates.find((d) => existsSync(path.join(d, 'initdb')));
  if (!dir) throw new Error(`no initdb in ${candidates.join(' or ')} (scripts/dev.sh up installs PostgreSQL ${major})`);
  return dir;
}

/** A free TCP port on 127.0.0.1 (the kernel's pick). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** A fresh folder under .ferry/tmp owned by the server user. */
export function throwawayDir(name: string): string {
  mkdirSync(throwawayRoot, { recursive: true });
  const dir = mkdtempSync(path.join(throwawayRoot, `${name}-`));
  giveToServerUser(dir);
  return dir;
}

export interface ThrowawayCluster {
  port: number;
  password: string;
  /** The folder holding the data directory, the log and the socket; removed by stop(). */
  dir: string;
  dataDir: string;
  endpoint(database?: string): ResolvedEndpoint;
  /** A superuser session (extra pg.ClientConfig keys such as `replication` pass through). */
  connect(database?: string, extra?: Record<string, unknown>): Promise<pg.Client>;
  sql<T extends pg.QueryResultRow = pg.QueryResultRow>(database: string, text: string, values?: unknown[]): Promise<T[]>;
  /** Stop the server (immediate: nothing in it is kept) and remove its folder. Idempotent. */
  stop(): Promise<void>;
}

export interface ClusterOptions {
  /** Folder-name prefix and log label. */
  name: string;
  /** Where initdb, pg_ctl and postgres are. */
  bindir: string;
  /** postgresql.conf lines appended after initdb (name -> value, written as given). */
  settings?: Record<string, string | number>;
  /** md5 for servers older than 10 (no scram-sha-256). */
  auth?: 'md5' | 'scram-sha-256';
}

/** initdb + start a cluster on a free port; call stop() in afterAll. */
export async function startThrowawayCluster(opts: ClusterOptions): Promise<ThrowawayCluster> {
  const dir = throwawayDir(opts.name);
  const dataDir = path.join(dir, 'data');
  const password = randomBytes(12).toString('hex');
  const pwfile = path.join(dir, 'pwfile');
  writeFileSync(pwfile, `${password}\n`, { mode: 0o600 });
  giveToServerUser(pwfile);
  const port = await freePort();
  let started = false;
  const stop = async (): Promise<void> => {
    if (started) {
      started = false;
      await runServerProgram(path.join(opts.bindir, 'pg_ctl'), ['-D', dataDir, '-m', 'immediate', '-w', 'stop'], 30_000).catch(() => undefined);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    // -N (no fsync) is spelled the same from 9.6 to 17.
    await runServerProgram(path.join(opts.bindir, 'initdb'), [
      '-D', dataDir, '-U', 'postgres', `--pwfile=${pwfile}`, `--auth=${opts.auth ?? 'scram-sha-256'}`, '--encoding=UTF8', '--locale=C.UTF-8', '-N',
    ]);
    const settings: Record<string, string | number> = {
      listen_addresses: "'127.0.0.1'",
      port,
      unix_socket_directories: `'${dir}'`,
      fsync: 'off',
      max_connections: 20,
      shared_buffers: '16MB',
      ...opts.settings,
    };
    const conf = Object.entries(settings).map(([k, v]) => `${k} = ${v}`).join('\n');
    await runServerProgram('sh', ['-c', `printf '%s\\n' "$1" >> "$2"`, 'sh', `\n# --- throwaway test cluster\n${conf}`, path.join(dataDir, 'postgresql.conf')]);
    started = true;
    await runServerProgram(path.join(opts.bindir, 'pg_ctl'), ['-D', dataDir, '-l', path.join(dir, 'server.log'), '-w', '-t', '60', 'start']);
  } catch (err) {
    const log = existsSync(path.join(dir, 'server.log')) ? execFileSync('tail', ['-20', path.join(dir, 'server.log')], { encoding: 'utf8' }) : '';
    await stop();
    throw new Error(`throwaway cluster ${opts.name} did not start: ${(err as Error).message}${log ? `\nserver log:\n${log}` : ''}`);
  }
  const endpoint = (database = 'postgres'): ResolvedEndpoint => ({ host: '127.0.0.1', port, database, user: 'postgres', password, sslmode: 'disable' });
  const connect = async (database = 'postgres', extra: Record<string, unknown> = {}): Promise<pg.Client> => {
    const client = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', password, database, application_name: 'ferry-test', ...extra });
    client.on('error', () => undefined);
    await client.connect();
    return client;
  };
  return {
    port,
    password,
    dir,
    dataDir,
    endpoint,
    connect,
    async sql<T extends pg.QueryResultRow = pg.QueryResultRow>(database: string, text: string, values?: unknown[]): Promise<T[]> {
      const client = await connect(database);
      try {
        return (await client.query<T>(text, values)).rows;
      } finally {
        await client.end();
      }
    },
    stop,
  };
}

/**
 * A relocated copy of an installation whose share/extension folder lacks `withoutExtension`
 * (its control and script files): PostgreSQL finds its share and lib folders relative to its own
 * programs, so copies of initdb/pg_ctl/postgres beside symlinks to everything else make a server
 * on which that extension is not available. Returns the new bindir; `dest` is removed by the caller.
 */
export function installWithoutExtension(bindir: string, dest: string, withoutExtension: string): string {
  const sharedir = execFileSync(path.join(bindir, 'pg_config'), ['--sharedir'], { encoding: 'utf8' }).trim();
  const pkglibdir = execFileSync(path.join(bindir, 'pg_config'), ['--pkglibdir'], { encoding: 'utf8' }).trim();
  // Keep each folder's path (relative to /) so the binaries' relative lookups land in the copy.
  const at = (p: string): string => path.join(dest, p);
  const newBin = at(bindir);
  mkdirSync(newBin, { recursive: true });
  for (const prog of ['initdb', 'pg_ctl', 'postgres']) copyFileSync(path.join(bindir, prog), path.join(newBin, prog));
  // A program found through a symlink resolves to the original; these must be real files.
  for (const prog of ['initdb', 'pg_ctl', 'postgres']) execFileSync('chmod', ['755', path.join(newBin, prog)]);
  if (!existsSync(at(pkglibdir))) {
    mkdirSync(path.dirname(at(pkglibdir)), { recursive: true });
    symlinkSync(pkglibdir, at(pkglibdir));
  }
  mkdirSync(at(sharedir), { recursive: true });
  for (const entry of readdirSync(sharedir)) {
    if (entry !== 'extension') symlinkSync(path.join(sharedir, entry), path.join(at(sharedir), entry));
  }
  const ext = path.join(at(sharedir), 'extension');
  mkdirSync(ext);
  const dropped = new RegExp(`^${withoutExtension.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(--.*\\.sql|\\.control)$`);
  let removed = 0;
  for (const f of readdirSync(path.join(sharedir, 'extension'))) {
    if (dropped.test(f)) removed += 1;
    else symlinkSync(path.join(sharedir, 'extension', f), path.join(ext, f));
  }
  if (removed === 0) throw new Error(`extension ${withoutExtension} is not in ${sharedir}/extension`);
  execFileSync('chmod', ['-R', 'a+rX', dest]);
  return newBin;
}

/** Run a command (mount, umount); null when it worked, else its failure on one line. */
export function tryRun(cmd: string, args: string[]): string | null {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.error) return `${cmd}: ${r.error.message}`;
  return r.status === 0 ? null : `${cmd} ${args.join(' ')} exited ${r.status ?? r.signal}: ${(r.stderr || r.stdout).replace(/\s+/g, ' ').trim()}`;
}

/**
 * Whether this process can mount a tmpfs (root, and not forbidden by the container): tries it on a
 * scratch folder and unmounts at once. Null when it can, else the exact reason it cannot.
 */
export function tmpfsUnavailableReason(): string | null {
  if (!isRoot) return `mounting a tmpfs needs root; this test process runs as uid ${process.getuid?.() ?? '?'}`;
  mkdirSync(throwawayRoot, { recursive: true });
  const probe = mkdtempSync(path.join(throwawayRoot, 'tmpfs-probe-'));
  try {
    const failed = tryRun('mount', ['-t', 'tmpfs', '-o', 'size=1M', 'tmpfs', probe]);
    if (failed) return `mount -t tmpfs is not permitted here (${failed})`;
    const unmountFailed = tryRun('umount', [probe]);
    return unmountFailed ? `a probe tmpfs could not be unmounted (${unmountFailed})` : null;
  } finally {
    rmSync(probe, { recursive: true, force: true });
  }
}
