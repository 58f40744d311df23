// pg_dump / pg_restore as child processes: the password only in the child's environment (never
// argv), output streamed (stderr kept as a bounded tail for error messages), cancellable.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ResolvedEndpoint } from '../engine';
import { APPLICATION_NAME } from './connect';

const PREFERRED_BINDIR = '/usr/lib/postgresql/15/bin';

/** Path of a PostgreSQL client program: $FERRY_PG_BINDIR, then /usr/lib/postgresql/15/bin, then PATH. */
export function pgBin(name: 'pg_dump' | 'pg_restore' | 'psql'): string {
  for (const dir of [process.env.FERRY_PG_BINDIR, PREFERRED_BINDIR]) {
    if (dir && existsSync(path.join(dir, name))) return path.join(dir, name);
  }
  return name;
}

/** libpq environment for an endpoint. Inherited PG* variables are dropped so nothing else leaks in. */
export function pgEnv(ep: ResolvedEndpoint): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('PG')) env[k] = v;
  env.PGHOST = ep.host;
  env.PGPORT = String(ep.port);
  env.PGUSER = ep.user;
  env.PGDATABASE = ep.database;
  env.PGSSLMODE = ep.sslmode;
  env.PGAPPNAME = APPLICATION_NAME;
  env.PGCONNECT_TIMEOUT = '30';
  if (ep.password !== undefined) env.PGPASSWORD = ep.password;
  return env;
}

/** `-d` argument naming the database as a conninfo string (a bare name containing `=` would be parsed as one). */
export function dbConninfo(ep: ResolvedEndpoint): string {
  return `dbname='${ep.database.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

export class ToolFailed extends Error {
  constructor(
    readonly tool: string,
    readonly exitCode: number | null,
    readonly stderrTail: string,
  ) {
    super(`${tool} failed (exit ${exitCode ?? 'signal'}): ${stderrTail.trim() || 'no output'}`);
    this.name = 'ToolFailed';
  }
}

export interface RunResult {
  stdout: string;
  stderrTail: string;
}

const TAIL_BYTES = 4096;

/** Run a client program; resolves with its stdout (callers only capture small outputs) or rejects with ToolFailed. */
export function runTool(
  bin: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  options: { signal?: AbortSignal; captureStdout?: boolean; onStderrLine?: (line: string) => void } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { env, stdio: ['ignore', 'pipe', 'pipe'], signal: options.signal });
    const out: Buffer[] = [];
    let tail = '';
    let partial = '';
    child.stdout.on('data', (b: Buffer) => {
      if (options.captureStdout) out.push(b);
    });
    child.stderr.on('data', (b: Buffer) => {
      const s = b.toString('utf8');
      tail = (tail + s).slice(-TAIL_BYTES);
      if (options.onStderrLine) {
        const lines = (partial + s).split('\n');
        partial = lines.pop() ?? '';
        for (const l of lines) options.onStderrLine(l);
      }
    });
    child.on('error', (err) => {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') reject(new ToolFailed(path.basename(bin), null, `${bin} not found (install the PostgreSQL client programs or set FERRY_PG_BINDIR)`));
      else reject(err);
    });
    child.on('close', (code) => {
      if (code === 0) resolve({ stdout: Buffer.concat(out).toString('utf8'), stderrTail: tail });
      else reject(new ToolFailed(path.basename(bin), code, tail));
    });
  });
}

/** Major version of a client program (`pg_dump (PostgreSQL) 15.4` -> 15). */
export async function toolMajorVersion(name: 'pg_dump' | 'pg_restore'): Promise<{ major: number; text: string }> {
  const { stdout } = await runTool(pgBin(name), ['--version'], process.env, { captureStdout: true });
  const m = /(\d+)(?:\.(\d+))?/.exec(stdout);
  return { major: m ? Number(m[1]) : 0, text: stdout.trim() };
}

/** A private temporary directory, removed by the returned function. */
export function tempDir(prefix: string): { dir: string; remove: () => void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), `${prefix}-`));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
