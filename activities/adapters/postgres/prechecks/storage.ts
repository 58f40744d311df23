// storage: the source database's size against the target's free space. PostgreSQL has no SQL
// function for free disk space, so the free space is read only where the worker can see the
// target's data directory itself (same machine, proven by the cluster's system identifier);
// otherwise the item passes with the size the target must have room for.
import { open, statfs } from 'node:fs/promises';
import path from 'node:path';
import type pg from 'pg';
import type { PrecheckItem } from '../../../../workflows/types';
import { fail, formatBytes, pass, warning, type PrecheckEnv } from './common';

/** Free bytes needed beyond the source size before the check passes without a warning (indexes are rebuilt, WAL is written). */
export const HEADROOM = 1.2;

/** Free bytes at the target's default tablespace, when this worker can see it; null otherwise (with why). */
export async function targetFreeBytes(tgt: pg.Client): Promise<{ free: number; where: string } | { free: null; why: string }> {
  let dir: string;
  let sysid: string;
  try {
    const r = await tgt.query<{ data: string; loc: string; sysid: string }>(
      `SELECT current_setting('data_directory') AS data,
              pg_catalog.pg_tablespace_location(d.dattablespace) AS loc,
              (SELECT system_identifier::text FROM pg_catalog.pg_control_system()) AS sysid
         FROM pg_catalog.pg_database d WHERE d.datname = current_database()`,
    );
    const row = r.rows[0]!;
    dir = row.loc || row.data;
    sysid = row.sysid;
    const fh = await open(path.join(row.data, 'global', 'pg_control'), 'r');
    try {
      const buf = Buffer.alloc(8);
      await fh.read(buf, 0, 8, 0);
      if (buf.readBigUInt64LE(0).toString() !== sysid) return { free: null, why: 'the target data directory is not visible from the worker' };
    } finally {
      await fh.close();
    }
  } catch (err) {
    return { free: null, why: `free space is not readable from SQL and the target's data directory is not visible from the worker (${(err as Error).message})` };
  }
  const s = await statfs(dir);
  return { free: Number(s.bavail) * Number(s.bsize), where: dir };
}

export async function checkStorage(env: PrecheckEnv): Promise<PrecheckItem[]> {
  const { src, tgt, sel } = env;
  if (!src || !tgt) return [];
  // The selected tables with their indexes and TOAST; the database size when nothing is selected yet.
  const oids = sel ? [...sel.roots, ...sel.partitions].map((t) => t.oid) : [];
  const r = await src.query<{ tables: string; db: string }>(
    `SELECT coalesce((SELECT sum(pg_catalog.pg_total_relation_size(o)) FROM unnest($1::oid[]) o), 0)::int8::text AS tables,
            pg_catalog.pg_database_size(current_database())::text AS db`,
    [oids],
  );
  const need = Number(r.rows[0]?.tables ?? 0);
  const dbSize = Number(r.rows[0]?.db ?? 0);
  const sizeText = `the selected tables take ${formatBytes(need)} on the source (database ${formatBytes(dbSize)})`;
  const free = await targetFreeBytes(tgt);
  if (free.free === null)
    return [pass('storage', `${sizeText}; target free space not checked: ${free.why}. Make sure the target has at least ${formatBytes(need * HEADROOM)} free`)];
  if (free.free < need)
    return [fail('storage', `${sizeText} but the target has only ${formatBytes(free.free)} free at ${free.where}`, 'free space on the target or move it to a larger volume')];
  if (free.free < need * HEADROOM)
    return [
      warning('storage', `${sizeText}; the target has ${formatBytes(free.free)} free at ${free.where}, less than ${HEADROOM}x that`, 'free space on the target: indexes are rebuilt and WAL is written during the load'),
    ];
  return [pass('storage', `${sizeText}; the target has ${formatBytes(free.free)} free at ${free.where}`)];
}
