// Where the real test servers are: the clusters and Temporal started by scripts/dev.sh.
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { EngineContext, ResolvedEndpoint } from '../../activities/adapters/engine';
import { parseSpec } from '../../workflows/spec';

export const repoRoot = path.resolve(__dirname, '../..');
const stateDir = process.env.FERRY_STATE_DIR ?? path.join(repoRoot, '.ferry');

export type Side = 'source' | 'target';

export const ports: Record<Side, number> = {
  source: Number(process.env.FERRY_SOURCE_PORT ?? 54321),
  target: Number(process.env.FERRY_TARGET_PORT ?? 54322),
};

export function password(side: Side): string {
  return readFileSync(path.join(stateDir, 'secrets', `${side}-password`), 'utf8').trim();
}

/** Make the env: secret references of the dev clusters resolvable in this process (as on a worker). */
export function exportPasswords(): void {
  process.env.FERRY_SOURCE_PASSWORD = password('source');
  process.env.FERRY_TARGET_PASSWORD = password('target');
}

export const temporalAddress = process.env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233';

/** The temporal CLI scripts/dev.sh uses: on PATH, else the cached build. */
export function temporalCli(): string {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    if (dir && existsSync(path.join(dir, 'temporal'))) return path.join(dir, 'temporal');
  }
  return path.join(process.env.FERRY_CACHE ?? path.join(homedir(), '.cache/ferry'), 'bin/temporal');
}

export async function connect(side: Side, database = 'postgres'): Promise<pg.Client> {
  const client = new pg.Client({
    host: '127.0.0.1',
    port: ports[side],
    user: 'postgres',
    password: password(side),
    database,
    application_name: 'ferry-test',
  });
  await client.connect();
  return client;
}

export async function sql<T extends pg.QueryResultRow = pg.QueryResultRow>(
  side: Side,
  database: string,
  text: string,
  values?: unknown[],
): Promise<T[]> {
  const client = await connect(side, database);
  try {
    return (await client.query<T>(text, values)).rows;
  } finally {
    await client.end();
  }
}

/** A fresh database of the same name on both clusters; drop() removes both. */
export async function createDatabasePair(prefix = 't'): Promise<{ name: string; drop: () => Promise<void> }> {
  const name = `${prefix}_${randomBytes(4).toString('hex')}`;
  for (const side of ['source', 'target'] as const) await sql(side, 'postgres', `CREATE DATABASE ${name}`);
  return {
    name,
    drop: async () => {
      for (const side of ['source', 'target'] as const) {
        await sql(side, 'postgres', `ALTER DATABASE ${name} RESET ALL`).catch(() => undefined);
        await sql(side, 'postgres', `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      }
    },
  };
}

/** A spec for the dev clusters (input form: defaults applied by parseSpec). */
export function devSpec(database: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: database.replace(/_/g, '-'),
    source: { host: '127.0.0.1', port: ports.source, database, user: 'postgres', password: 'env:FERRY_SOURCE_PASSWORD', sslmode: 'disable' },
    target: { host: '127.0.0.1', port: ports.target, database, user: 'postgres', password: 'env:FERRY_TARGET_PASSWORD', sslmode: 'disable' },
    parallelism: 2,
    cutover: { requireApproval: false },
    ...overrides,
  };
}

/** A dev cluster as an engine sees it, its secret resolved (as a worker does inside an activity). */
export function resolvedEndpoint(side: Side, database: string, over: Partial<ResolvedEndpoint> = {}): ResolvedEndpoint {
  return { host: '127.0.0.1', port: ports[side], database, user: 'postgres', password: password(side), sslmode: 'disable', ...over };
}

/** What an activity hands the engine for a migration of `database` (devSpec with `overrides`). */
export function engineContext(database: string, overrides: Record<string, unknown> = {}): EngineContext {
  return {
    migrationId: `m-${database}`,
    spec: parseSpec(devSpec(database, overrides)),
    source: resolvedEndpoint('source', database),
    target: resolvedEndpoint('target', database),
    workerId: 'test',
  };
}
