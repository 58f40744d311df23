// versions: the source is PostgreSQL 10+, the target is the same or a newer major, and the
// worker's pg_dump can dump the source.
import type { PrecheckItem } from '../../../../workflows/types';
import { toolMajorVersion } from '../tools';
import { fail, pass, type PrecheckEnv } from './common';

/** Major version of a server_version_num: 150004 -> 15, 90624 -> 9.6. */
export const majorOf = (v: number): number => (v >= 100000 ? Math.floor(v / 10000) : Math.floor(v / 10000) + (Math.floor(v / 100) % 100) / 10);

export const MIN_SOURCE_VERSION = 100000;

export async function checkVersions(env: PrecheckEnv): Promise<PrecheckItem[]> {
  const items: PrecheckItem[] = [];
  const s = majorOf(env.sourceVersion);
  const t = majorOf(env.targetVersion);
  if (env.src) {
    items.push(
      env.sourceVersion >= MIN_SOURCE_VERSION
        ? pass('version.source', `source runs PostgreSQL ${s}`)
        : fail('version.source', `source runs PostgreSQL ${s}; Ferry needs 10 or later`, 'upgrade the source to PostgreSQL 10 or later'),
    );
    try {
      const dump = await toolMajorVersion('pg_dump');
      items.push(
        dump.major >= s
          ? pass('version.pg_dump', `${dump.text} can dump PostgreSQL ${s}`)
          : fail('version.pg_dump', `${dump.text} is older than the source (PostgreSQL ${s})`, `install pg_dump ${s} or later on the worker (or set FERRY_PG_BINDIR)`),
      );
    } catch (err) {
      items.push(fail('version.pg_dump', `pg_dump is not usable on the worker: ${(err as Error).message}`, 'install the PostgreSQL client programs or set FERRY_PG_BINDIR'));
    }
  }
  if (env.tgt && env.src) {
    items.push(
      t >= s
        ? pass('version.target', `target runs PostgreSQL ${t} (source ${s})`)
        : fail('version.target', `target runs PostgreSQL ${t}, older than the source's ${s}`, 'migrate to a target of the same or a newer major version'),
    );
  }
  return items;
}
