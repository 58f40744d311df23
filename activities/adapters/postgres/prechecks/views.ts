// views: the load restores tables (with their types, functions, sequences, indexes, constraints,
// triggers and comments), not views or materialized views. Those in the selected tables' schemas,
// and those elsewhere that read a selected table, are named in a warning, so a DBA who goes on
// (acknowledges it) knows to recreate them.
import type { PrecheckItem } from '../../../../workflows/types';
import { listNames, nameOf, pass, selectedTables, warning, type PrecheckEnv } from './common';

export async function checkViews(env: PrecheckEnv): Promise<PrecheckItem[]> {
  const { src, sel } = env;
  if (!src || !sel || sel.roots.length === 0) return [];
  const tables = selectedTables(sel);
  const schemas = [...new Set(tables.map((t) => t.schema))];
  // In the selected tables' schemas, or anywhere when they read a selected table.
  const r = await src.query<{ schema: string; name: string; kind: string }>(
    `SELECT n.nspname AS schema, c.relname AS name, c.relkind::text AS kind
       FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('v', 'm')
        AND (n.nspname = ANY($1::text[])
             OR EXISTS (SELECT 1 FROM pg_catalog.pg_rewrite w JOIN pg_catalog.pg_depend d
                                   ON d.classid = 'pg_catalog.pg_rewrite'::regclass AND d.objid = w.oid
                         WHERE w.ev_class = c.oid AND d.refclassid = 'pg_catalog.pg_class'::regclass AND d.refobjid = ANY($2::oid[])))
        AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                         WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
      ORDER BY 1, 2`,
    [schemas, tables.map((t) => t.oid)],
  );
  if (r.rows.length === 0) return [pass('schema.views', 'no views or materialized views in the selected schemas or over the selected tables')];
  const named = r.rows.map((v) => `${nameOf(v)}${v.kind === 'm' ? ' (materialized)' : ''}`);
  return [
    warning(
      'schema.views',
      `${r.rows.length} view(s) in the selected schemas or over the selected tables are not migrated: ${listNames(named)}`,
      'recreate them on the target after the cutover (pg_dump --schema-only -t VIEW of the source), or acknowledge to go on without them',
    ),
  ];
}
