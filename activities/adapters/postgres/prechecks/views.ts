// views: the load restores tables (with their types, functions, sequences, indexes, constraints,
// triggers and comments), not views or materialized views. Those in the selected tables' schemas
// are named in a warning, so a DBA who goes on (acknowledges it) knows to recreate them.
import type { PrecheckItem } from '../../../../workflows/types';
import { listNames, nameOf, pass, selectedTables, warning, type PrecheckEnv } from './common';

export async function checkViews(env: PrecheckEnv): Promise<PrecheckItem[]> {
  const { src, sel } = env;
  if (!src || !sel || sel.roots.length === 0) return [];
  const schemas = [...new Set(selectedTables(sel).map((t) => t.schema))];
  const r = await src.query<{ schema: string; name: string; kind: string }>(
    `SELECT n.nspname AS schema, c.relname AS name, c.relkind::text AS kind
       FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('v', 'm') AND n.nspname = ANY($1::text[])
        AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                         WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
      ORDER BY 1, 2`,
    [schemas],
  );
  if (r.rows.length === 0) return [pass('schema.views', 'no views or materialized views in the selected schemas')];
  const named = r.rows.map((v) => `${nameOf(v)}${v.kind === 'm' ? ' (materialized)' : ''}`);
  return [
    warning(
      'schema.views',
      `${r.rows.length} view(s) in the selected schemas are not migrated: ${listNames(named)}`,
      'recreate them on the target after the cutover (pg_dump --schema-only -t VIEW of the source), or acknowledge to go on without them',
    ),
  ];
}
