// The objects a pre-data restore creates, identified on the source from the dump's TOC OIDs and
// found again on the target by name right after the restore (then tracked by target OID).
import type pg from 'pg';
import { serverVersionNum } from './connect';
import type { ProvisionedObject } from './state';
import { CATALOG, type TocEntry } from './toc';

export async function plannedObjects(src: pg.Client, entries: TocEntry[]): Promise<ProvisionedObject[]> {
  const ids = (classId: number) => entries.filter((e) => e.classId === classId && e.objectId !== 0).map((e) => e.objectId);
  const objects: ProvisionedObject[] = [];
  // A sequence is owned (moves and drops with its table) when its table is restored too: the
  // OWNED BY sequence of a table left out is restored on its own.
  const rels = await src.query<{ oid: string; schema: string; name: string; relkind: string; owned: boolean }>(
    `SELECT c.oid::int8 AS oid, n.nspname AS schema, c.relname AS name, c.relkind::text AS relkind,
            EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = c.oid
                      AND d.refclassid = 'pg_catalog.pg_class'::regclass AND d.deptype IN ('a', 'i') AND d.refobjid = ANY($1::oid[])) AS owned
       FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = ANY($1::oid[])`,
    [ids(CATALOG.pg_class)],
  );
  for (const r of rels.rows) {
    if (r.relkind === 'r' || r.relkind === 'p') objects.push({ kind: 'table', schema: r.schema, name: r.name, sourceOid: Number(r.oid) });
    else if (r.relkind === 'S')
      objects.push({ kind: 'sequence', schema: r.schema, name: r.name, sourceOid: Number(r.oid), owned: r.owned });
  }
  const types = await src.query<{ oid: string; schema: string; name: string; typtype: string }>(
    `SELECT t.oid::int8 AS oid, n.nspname AS schema, t.typname AS name, t.typtype::text AS typtype
       FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace WHERE t.oid = ANY($1::oid[])`,
    [ids(CATALOG.pg_type)],
  );
  for (const t of types.rows)
    objects.push({ kind: t.typtype === 'd' ? 'domain' : 'type', schema: t.schema, name: t.name, sourceOid: Number(t.oid) });
  const prokind = (await serverVersionNum(src)) >= 110000 ? 'p.prokind::text' : "CASE WHEN p.proisagg THEN 'a' ELSE 'f' END";
  const procs = await src.query<{ oid: string; schema: string; name: string; kind: string; args: string }>(
    `SELECT p.oid::int8 AS oid, n.nspname AS schema, p.proname AS name, ${prokind} AS kind,
            pg_catalog.pg_get_function_identity_arguments(p.oid) AS args
       FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace WHERE p.oid = ANY($1::oid[])`,
    [ids(CATALOG.pg_proc)],
  );
  for (const p of procs.rows)
    objects.push({
      kind: p.kind === 'p' ? 'procedure' : p.kind === 'a' ? 'aggregate' : 'function',
      schema: p.schema,
      name: p.name,
      args: p.args,
      sourceOid: Number(p.oid),
    });
  return objects;
}

/** Fill in targetOid for each object found on the target under its source name. */
export async function resolveOnTarget(tgt: pg.Client, objects: ProvisionedObject[]): Promise<ProvisionedObject[]> {
  const out: ProvisionedObject[] = [];
  for (const o of objects) {
    let r: pg.QueryResult<{ oid: string }>;
    if (o.kind === 'table' || o.kind === 'sequence' || o.kind === 'view') {
      r = await tgt.query(
        `SELECT c.oid::int8 AS oid FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = $1 AND c.relname = $2`,
        [o.schema, o.name],
      );
    } else if (o.kind === 'type' || o.kind === 'domain') {
      r = await tgt.query(
        `SELECT t.oid::int8 AS oid FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
          WHERE n.nspname = $1 AND t.typname = $2`,
        [o.schema, o.name],
      );
    } else {
      r = await tgt.query(
        `SELECT p.oid::int8 AS oid FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
          WHERE n.nspname = $1 AND p.proname = $2 AND pg_catalog.pg_get_function_identity_arguments(p.oid) = $3`,
        [o.schema, o.name, o.args ?? ''],
      );
    }
    const oid = r.rows[0]?.oid;
    out.push(oid === undefined ? { ...o } : { ...o, targetOid: Number(oid) });
  }
  return out;
}

/** Where an object Ferry created is now (by its target OID), or null when it is gone. */
export async function currentLocation(c: pg.Client, o: ProvisionedObject): Promise<{ schema: string; name: string; signature?: string } | null> {
  if (o.targetOid === undefined) return null;
  let r: pg.QueryResult<{ schema: string; name: string; signature?: string }>;
  if (o.kind === 'table' || o.kind === 'sequence' || o.kind === 'view')
    r = await c.query(
      `SELECT n.nspname AS schema, c.relname AS name FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = $1::oid`,
      [o.targetOid],
    );
  else if (o.kind === 'type' || o.kind === 'domain')
    r = await c.query(
      `SELECT n.nspname AS schema, t.typname AS name FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace WHERE t.oid = $1::oid`,
      [o.targetOid],
    );
  else
    r = await c.query(
      // regprocedure renders the whole signature quoted and qualified (search_path is pg_catalog).
      `SELECT n.nspname AS schema, p.proname AS name, p.oid::pg_catalog.regprocedure::text AS signature
         FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace WHERE p.oid = $1::oid`,
      [o.targetOid],
    );
  return r.rows[0] ?? null;
}

