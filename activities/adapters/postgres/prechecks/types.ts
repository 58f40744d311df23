// types: columns whose type the engine cannot carry to the target: pseudo-types and `unknown`,
// reg* types (regclass, regtype...: they hold OIDs, which mean other objects on another cluster),
// and types of an extension that is not installed on the target. Domains and arrays are followed.
import type { PrecheckItem } from '../../../../workflows/types';
import { quoteIdent } from '../sql';
import { fail, nameOf, pass, type PrecheckEnv } from './common';

export const OID_TYPES = ['regclass', 'regproc', 'regprocedure', 'regoper', 'regoperator', 'regtype', 'regrole', 'regnamespace', 'regcollation', 'regconfig', 'regdictionary'];

export async function checkColumnTypes(env: PrecheckEnv): Promise<PrecheckItem[]> {
  const { src, tgt, sel } = env;
  if (!src || !sel || sel.roots.length === 0) return [];
  const r = await src.query<{ relid: string; col: string; coltype: string; typname: string; typtype: string; schema: string; ext: string | null }>(
    `WITH RECURSIVE cols(relid, col, coltype, typ, depth) AS (
        SELECT a.attrelid, a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod), a.atttypid, 0
          FROM pg_catalog.pg_attribute a WHERE a.attrelid = ANY($1::oid[]) AND a.attnum > 0 AND NOT a.attisdropped
        UNION ALL
        SELECT cols.relid, cols.col, cols.coltype, x.oid, cols.depth + 1
          FROM cols JOIN pg_catalog.pg_type t ON t.oid = cols.typ
         CROSS JOIN LATERAL (VALUES (CASE WHEN t.typcategory = 'A' THEN t.typelem ELSE 0 END), (t.typbasetype)) AS x(oid)
         WHERE x.oid <> 0 AND cols.depth < 10)
     SELECT DISTINCT cols.relid::int8::text AS relid, cols.col, cols.coltype, t.typname, t.typtype::text AS typtype, n.nspname AS schema, e.extname AS ext
       FROM cols JOIN pg_catalog.pg_type t ON t.oid = cols.typ JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
       LEFT JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_type'::regclass AND d.objid = t.oid AND d.deptype = 'e'
       LEFT JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid
      WHERE t.typtype = 'p' OR (n.nspname = 'pg_catalog' AND t.typname = ANY($2::text[])) OR e.extname IS NOT NULL
      ORDER BY 1, 2`,
    [sel.roots.map((t) => t.oid), ['unknown', ...OID_TYPES]],
  );
  let onTarget = new Set<string>();
  if (tgt && r.rows.some((x) => x.ext)) {
    const t = await tgt.query<{ extname: string }>('SELECT extname FROM pg_catalog.pg_extension');
    onTarget = new Set(t.rows.map((x) => x.extname));
  }
  const tables = new Map(sel.roots.map((t) => [t.oid, nameOf(t)]));
  const items: PrecheckItem[] = [];
  const seen = new Set<string>();
  for (const x of r.rows) {
    const column = `${tables.get(Number(x.relid)) ?? x.relid}.${quoteIdentIfNeeded(x.col)}`;
    let why: string | null = null;
    let remedy = '';
    if (x.typtype === 'p' || x.typname === 'unknown') {
      why = `is of pseudo-type ${x.typname}, which has no storable value`;
      remedy = `change the column to a real type (ALTER TABLE ... ALTER COLUMN ${quoteIdent(x.col)} TYPE text), or exclude the table`;
    } else if (x.schema === 'pg_catalog' && OID_TYPES.includes(x.typname)) {
      why = `uses ${x.typname}, which stores OIDs that mean different objects (or nothing) on the target`;
      remedy = `store the name instead (ALTER TABLE ... ALTER COLUMN ${quoteIdent(x.col)} TYPE text USING ${quoteIdent(x.col)}::text), or exclude the table`;
    } else if (x.ext && tgt && !onTarget.has(x.ext)) {
      why = `uses type ${x.schema}.${x.typname} of extension ${x.ext}, which is not installed on the target`;
      remedy = `CREATE EXTENSION ${quoteIdent(x.ext)} on the target database first`;
    }
    if (!why || seen.has(column)) continue;
    seen.add(column);
    items.push(fail(`types:${column}`, `column ${column} (${x.coltype}) ${why}`, remedy));
  }
  if (items.length === 0) items.push(pass('types', 'every column type of the selected tables can be carried to the target'));
  return items;
}

function quoteIdentIfNeeded(name: string): string {
  return /^[a-z_][a-z0-9_]*$/.test(name) ? name : quoteIdent(name);
}
