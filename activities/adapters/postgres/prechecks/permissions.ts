// permissions: the source user may read (SELECT) every selected table, has REPLICATION for online
// mode, and may fence the database; the target user may create Ferry's state schema and the
// tables in every target schema.
import type { PrecheckItem } from '../../../../workflows/types';
import { mapSchema } from '../selection';
import { quoteIdent } from '../sql';
import { STATE_SCHEMA } from '../state';
import { fail, listNames, nameOf, pass, selectedTables, warning, type PrecheckEnv } from './common';

export async function checkSourceSelect(env: PrecheckEnv): Promise<PrecheckItem[]> {
  const { src, sel, ctx } = env;
  if (!src || !sel) return [];
  const tables = selectedTables(sel);
  if (tables.length === 0) return [];
  const r = await src.query<{ oid: string; usage: boolean; sel: boolean }>(
    `SELECT c.oid::int8 AS oid, pg_catalog.has_schema_privilege(c.relnamespace, 'USAGE') AS usage,
            pg_catalog.has_table_privilege(c.oid, 'SELECT') AS sel
       FROM pg_catalog.pg_class c WHERE c.oid = ANY($1::oid[])`,
    [tables.map((t) => t.oid)],
  );
  const byOid = new Map(r.rows.map((x) => [Number(x.oid), x]));
  const items: PrecheckItem[] = [];
  for (const t of tables) {
    const p = byOid.get(t.oid);
    if (p && p.usage && p.sel) continue;
    const missing = !p?.usage ? `USAGE on schema ${quoteIdent(t.schema)}` : `SELECT on ${nameOf(t)}`;
    items.push(
      fail(
        `permission.source.select:${nameOf(t)}`,
        `"${ctx.source.user}" may not read ${nameOf(t)} on the source: missing ${missing}`,
        !p?.usage
          ? `GRANT USAGE ON SCHEMA ${quoteIdent(t.schema)} TO ${quoteIdent(ctx.source.user)}; GRANT SELECT ON ALL TABLES IN SCHEMA ${quoteIdent(t.schema)} TO ${quoteIdent(ctx.source.user)}`
          : `GRANT SELECT ON ${nameOf(t)} TO ${quoteIdent(ctx.source.user)}`,
      ),
    );
  }
  if (items.length === 0) items.push(pass('permission.source.select', `"${ctx.source.user}" may read all ${tables.length} selected table(s) on the source`));
  return items;
}

export async function checkSourceReplication(env: PrecheckEnv): Promise<PrecheckItem[]> {
  const { src, ctx } = env;
  if (!src || ctx.spec.mode !== 'online') return [];
  const r = await src.query<{ super: boolean; repl: boolean }>(
    'SELECT rolsuper AS super, rolreplication AS repl FROM pg_catalog.pg_roles WHERE rolname = current_user',
  );
  const p = r.rows[0];
  return [
    p?.super || p?.repl
      ? pass('permission.source.replication', `"${ctx.source.user}" has the REPLICATION attribute${p.super ? ' (superuser)' : ''}`)
      : fail(
          'permission.source.replication',
          `"${ctx.source.user}" lacks the REPLICATION role attribute on the source: online mode cannot create a replication slot or stream changes`,
          `ALTER ROLE ${quoteIdent(ctx.source.user)} REPLICATION (as a superuser), or run Ferry as a role that has it`,
        ),
  ];
}

export async function checkFencePermission(env: PrecheckEnv): Promise<PrecheckItem[]> {
  const { src, ctx } = env;
  if (!src || !ctx.spec.fence.enabled) return [];
  const r = await src.query<{ superuser: boolean; owner: boolean; signal: boolean }>(
    `SELECT r.rolsuper AS superuser, pg_catalog.pg_has_role(current_user, d.datdba, 'MEMBER') AS owner,
            (r.rolsuper OR pg_catalog.pg_has_role(current_user, 'pg_signal_backend', 'MEMBER')) AS signal
       FROM pg_catalog.pg_roles r, pg_catalog.pg_database d WHERE r.rolname = current_user AND d.datname = current_database()`,
  );
  const p = r.rows[0];
  const items: PrecheckItem[] = [
    p && (p.superuser || p.owner)
      ? pass('permission.fence', `"${ctx.source.user}" may ALTER DATABASE "${ctx.source.database}" (${p.superuser ? 'superuser' : 'owner'})`)
      : fail(
          'permission.fence',
          `"${ctx.source.user}" is neither the owner of nor a superuser on database "${ctx.source.database}": the fence (read-only) cannot be set`,
          'run Ferry as the database owner or a superuser, or set fence.enabled: false and stop writers yourself',
        ),
  ];
  if (ctx.spec.fence.terminateSessions && p && !p.signal)
    items.push(
      warning(
        'permission.terminate-sessions',
        `"${ctx.source.user}" is not a superuser nor in pg_signal_backend: other users' open sessions cannot be ended at the fence`,
        'GRANT pg_signal_backend TO the Ferry user, or set fence.terminateSessions: false',
      ),
    );
  return items;
}

export async function checkTargetCreate(env: PrecheckEnv): Promise<PrecheckItem[]> {
  const { tgt, sel, ctx } = env;
  if (!tgt) return [];
  const items: PrecheckItem[] = [];
  const user = quoteIdent(ctx.target.user);
  const db = await tgt.query<{ ok: boolean }>("SELECT pg_catalog.has_database_privilege(current_database(), 'CREATE') AS ok");
  const dbCreate = db.rows[0]?.ok === true;
  const schemas = new Set<string>([STATE_SCHEMA]);
  for (const t of sel ? selectedTables(sel) : []) schemas.add(mapSchema(ctx.spec.rename, t.schema));
  const r = await tgt.query<{ nspname: string; ok: boolean }>(
    `SELECT nspname, pg_catalog.has_schema_privilege(oid, 'CREATE') AND pg_catalog.has_schema_privilege(oid, 'USAGE') AS ok
       FROM pg_catalog.pg_namespace WHERE nspname = ANY($1::text[])`,
    [[...schemas]],
  );
  const existing = new Map(r.rows.map((x) => [x.nspname, x.ok]));
  const denied: string[] = [];
  for (const s of [...schemas].sort()) {
    const ok = existing.has(s) ? existing.get(s) === true : dbCreate;
    if (ok) continue;
    denied.push(s);
    items.push(
      fail(
        `permission.target.create:${s}`,
        existing.has(s)
          ? `"${ctx.target.user}" may not create tables in target schema "${s}" (needs CREATE and USAGE on it)`
          : `"${ctx.target.user}" may not create schema "${s}" in target database "${ctx.target.database}" (needs CREATE on the database)`,
        existing.has(s) ? `GRANT USAGE, CREATE ON SCHEMA ${quoteIdent(s)} TO ${user}` : `GRANT CREATE ON DATABASE ${quoteIdent(ctx.target.database)} TO ${user}, or use the database owner`,
      ),
    );
  }
  if (denied.length === 0)
    items.push(pass('permission.target.create', `"${ctx.target.user}" may create in target schema(s) ${listNames([...schemas].sort())}`));
  return items;
}
