// precheck: read-only checks of both sides, one item per finding, each naming what it is about.
import type pg from 'pg';
import type { PrecheckItem } from '../../../workflows/types';
import type { EngineContext, ResolvedEndpoint } from '../engine';
import { existingTables, loadSelection } from './catalog';
import { classifyError, closeClient, connectEndpoint, serverVersionNum } from './connect';
import type { Selection } from './selection';
import { displayName } from './sql';
import { toolMajorVersion } from './tools';

async function tryConnect(ep: ResolvedEndpoint, side: 'source' | 'target', items: PrecheckItem[]): Promise<pg.Client | null> {
  try {
    const c = await connectEndpoint(ep);
    items.push({ id: `connectivity.${side}`, status: 'pass', message: `connected to ${side} ${ep.host}:${ep.port} database "${ep.database}" as "${ep.user}"` });
    return c;
  } catch (err) {
    const e = classifyError(err, ep);
    items.push({
      id: `connectivity.${side}`,
      status: 'fail',
      message: `${side}: ${(e as Error)?.message ?? String(e)}`,
      remedy: 'check host, port, database, user, password secret, sslmode, and that pg_hba.conf admits this worker',
    });
    return null;
  }
}

const major = (v: number) => (v >= 100000 ? Math.floor(v / 10000) : Math.floor(v / 100) / 100);

async function keylessTables(src: pg.Client, sel: Selection): Promise<string[]> {
  const oids = sel.roots.map((t) => t.oid);
  const r = await src.query<{ oid: string }>(
    `SELECT c.oid::int8 AS oid FROM pg_catalog.pg_class c WHERE c.oid = ANY($1::oid[]) AND NOT EXISTS (
        SELECT 1 FROM pg_catalog.pg_index i WHERE i.indrelid = c.oid AND i.indisvalid AND (i.indisprimary OR (
          i.indisunique AND i.indpred IS NULL AND i.indexprs IS NULL AND NOT EXISTS (
            SELECT 1 FROM pg_catalog.pg_attribute a WHERE a.attrelid = c.oid AND a.attnum = ANY(i.indkey) AND NOT a.attnotnull))))`,
    [oids],
  );
  const keyless = new Set(r.rows.map((x) => Number(x.oid)));
  return sel.roots.filter((t) => keyless.has(t.oid)).map((t) => displayName(t.schema, t.name));
}

export async function precheck(ctx: EngineContext): Promise<PrecheckItem[]> {
  const items: PrecheckItem[] = [];
  const src = await tryConnect(ctx.source, 'source', items);
  const tgt = await tryConnect(ctx.target, 'target', items);
  try {
    let sourceVersion = 0;
    if (src) {
      sourceVersion = await serverVersionNum(src);
      items.push(
        sourceVersion >= 100000
          ? { id: 'version.source', status: 'pass', message: `source runs PostgreSQL ${major(sourceVersion)}` }
          : { id: 'version.source', status: 'fail', message: `source runs PostgreSQL ${major(sourceVersion)}; Ferry needs 10 or later`, remedy: 'upgrade the source to PostgreSQL 10+' },
      );
      try {
        const dump = await toolMajorVersion('pg_dump');
        items.push(
          dump.major >= major(sourceVersion)
            ? { id: 'version.pg_dump', status: 'pass', message: `${dump.text} can dump PostgreSQL ${major(sourceVersion)}` }
            : {
                id: 'version.pg_dump',
                status: 'fail',
                message: `${dump.text} is older than the source (PostgreSQL ${major(sourceVersion)})`,
                remedy: `install pg_dump ${major(sourceVersion)} or later on the worker (or set FERRY_PG_BINDIR)`,
              },
        );
      } catch (err) {
        items.push({ id: 'version.pg_dump', status: 'fail', message: `pg_dump is not usable on the worker: ${(err as Error).message}`, remedy: 'install the PostgreSQL client programs or set FERRY_PG_BINDIR' });
      }
    }
    if (tgt) {
      const targetVersion = await serverVersionNum(tgt);
      if (src) {
        items.push(
          major(targetVersion) >= major(sourceVersion)
            ? { id: 'version.target', status: 'pass', message: `target runs PostgreSQL ${major(targetVersion)} (source ${major(sourceVersion)})` }
            : {
                id: 'version.target',
                status: 'fail',
                message: `target runs PostgreSQL ${major(targetVersion)}, older than the source's ${major(sourceVersion)}`,
                remedy: 'migrate to a target of the same or a newer major version',
              },
        );
      }
      const create = await tgt.query<{ ok: boolean }>('SELECT pg_catalog.has_database_privilege(current_user, current_database(), $1) AS ok', ['CREATE']);
      items.push(
        create.rows[0]?.ok
          ? { id: 'permission.target.create', status: 'pass', message: `"${ctx.target.user}" may create schemas in target database "${ctx.target.database}"` }
          : {
              id: 'permission.target.create',
              status: 'fail',
              message: `"${ctx.target.user}" may not create schemas in target database "${ctx.target.database}"`,
              remedy: `GRANT CREATE ON DATABASE ... TO ${ctx.target.user}, or use the database owner`,
            },
      );
    }
    if (!src) return items;

    const sel = await loadSelection(src, ctx.spec);
    items.push(
      sel.roots.length > 0
        ? { id: 'tables.selected', status: 'pass', message: `${sel.roots.length} table(s) selected (${sel.partitions.length} partition(s) follow their tables)` }
        : {
            id: 'tables.selected',
            status: 'fail',
            message: `no table matches include ${JSON.stringify(ctx.spec.tables.include)} minus exclude ${JSON.stringify(ctx.spec.tables.exclude)}`,
            remedy: 'fix tables.include / tables.exclude (schema.table globs)',
          },
    );
    for (const e of sel.renameErrors)
      items.push({ id: `rename.${e.key}`, status: 'fail', message: `${e.key}: ${e.message}`, remedy: 'fix or remove the rename key' });

    const keyless = await keylessTables(src, sel);
    items.push(
      keyless.length === 0
        ? { id: 'tables.primary-key', status: 'pass', message: 'every selected table has a primary key or a unique not-null index' }
        : {
            // Offline copies need no key (the source is fenced, the copy is one snapshot);
            // change capture (online) cannot apply updates and deletes without one.
            id: 'tables.primary-key',
            status: ctx.spec.mode === 'offline' ? 'pass' : 'fail',
            message: `without a primary key or unique not-null index: ${keyless.join(', ')} (offline mode copies them whole; validation compares whole-row checksums)`,
            remedy: 'add a primary key or a unique not-null index before an online migration',
          },
    );

    if (tgt) {
      const present = await existingTables(tgt, [...sel.roots, ...sel.partitions].map((t) => ({ schema: t.schema, name: t.name })));
      items.push(
        present.length === 0
          ? { id: 'target.conflicts', status: 'pass', message: 'none of the selected tables exists on the target' }
          : {
              id: 'target.conflicts',
              status: 'fail',
              message: `already on the target: ${present.map((t) => displayName(t.schema, t.name)).join(', ')}`,
              remedy: 'drop or rename them on the target, or exclude them from the migration',
            },
      );
    }

    if (ctx.spec.fence.enabled) {
      const r = await src.query<{ superuser: boolean; owner: boolean; signal: boolean }>(
        `SELECT r.rolsuper AS superuser, pg_catalog.pg_has_role(current_user, d.datdba, 'MEMBER') AS owner,
                (r.rolsuper OR pg_catalog.pg_has_role(current_user, 'pg_signal_backend', 'MEMBER')) AS signal
           FROM pg_catalog.pg_roles r, pg_catalog.pg_database d WHERE r.rolname = current_user AND d.datname = current_database()`,
      );
      const p = r.rows[0];
      items.push(
        p && (p.superuser || p.owner)
          ? { id: 'permission.fence', status: 'pass', message: `"${ctx.source.user}" may ALTER DATABASE "${ctx.source.database}" (${p.superuser ? 'superuser' : 'owner'})` }
          : {
              id: 'permission.fence',
              status: 'fail',
              message: `"${ctx.source.user}" can neither own nor, as superuser, ALTER DATABASE "${ctx.source.database}": the fence (read-only) cannot be set`,
              remedy: 'run Ferry as the database owner or a superuser, or set fence.enabled: false and stop writers yourself',
            },
      );
      if (ctx.spec.fence.terminateSessions && p && !p.signal)
        items.push({
          id: 'permission.terminate-sessions',
          status: 'warning',
          message: `"${ctx.source.user}" is not a superuser nor in pg_signal_backend: other users' open sessions cannot be ended at the fence`,
          remedy: 'GRANT pg_signal_backend TO the Ferry user, or set fence.terminateSessions: false',
        });
    }
    return items;
  } finally {
    if (src) await closeClient(src);
    if (tgt) await closeClient(tgt);
  }
}
