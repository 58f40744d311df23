// Catalog reads: tables, columns, types, and the selection built from them.
import type pg from 'pg';
import type { MigrationSpec } from '../../../workflows/spec';
import type { TableRef } from '../../../workflows/types';
import { serverVersionNum } from './connect';
import { selectTables, type CatalogTable, type Selection } from './selection';
import { STATE_SCHEMA } from './state';

/** Schemas never migrated: the system's and Ferry's own. */
export const SYSTEM_SCHEMA_FILTER = `n.nspname NOT IN ('pg_catalog', 'information_schema', '${STATE_SCHEMA}')
  AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%'`;

/** Ordinary and partitioned tables of non-system schemas, with their copyable columns. */
export async function listTables(client: pg.Client): Promise<CatalogTable[]> {
  const version = await serverVersionNum(client);
  const generated = version >= 120000 ? "a.attgenerated <> ''" : 'false';
  const tables = await client.query<{
    oid: string;
    schema: string;
    name: string;
    relkind: string;
    parent: string | null;
    bytes: string;
    rows: number;
  }>(
    `SELECT c.oid::int8 AS oid, n.nspname AS schema, c.relname AS name, c.relkind::text AS relkind,
            (SELECT i.inhparent::int8 FROM pg_catalog.pg_inherits i WHERE i.inhrelid = c.oid AND c.relispartition LIMIT 1) AS parent,
            pg_catalog.pg_table_size(c.oid)::int8 AS bytes, greatest(c.reltuples, 0)::float8 AS rows
       FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'p') AND ${SYSTEM_SCHEMA_FILTER}
      ORDER BY n.nspname, c.relname`,
  );
  const cols = await client.query<{ relid: string; name: string; generated: boolean }>(
    `SELECT a.attrelid::int8 AS relid, a.attname AS name, ${generated} AS generated
       FROM pg_catalog.pg_attribute a
       JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
       JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'p') AND ${SYSTEM_SCHEMA_FILTER} AND a.attnum > 0 AND NOT a.attisdropped
      ORDER BY a.attrelid, a.attnum`,
  );
  const byRel = new Map<number, { name: string; generated: boolean }[]>();
  for (const c of cols.rows) {
    const list = byRel.get(Number(c.relid)) ?? [];
    list.push({ name: c.name, generated: c.generated });
    byRel.set(Number(c.relid), list);
  }
  return tables.rows.map((t) => ({
    oid: Number(t.oid),
    schema: t.schema,
    name: t.name,
    relkind: t.relkind,
    parentOid: t.parent === null ? null : Number(t.parent),
    bytes: Number(t.bytes),
    rows: Math.round(Number(t.rows)),
    columns: byRel.get(Number(t.oid)) ?? [],
  }));
}

export async function loadSelection(client: pg.Client, spec: MigrationSpec): Promise<Selection> {
  return selectTables(await listTables(client), spec);
}

/** Which of these tables exist (by schema and name) on a database. */
export async function existingTables(client: pg.Client, tables: TableRef[]): Promise<TableRef[]> {
  if (tables.length === 0) return [];
  const r = await client.query<{ schema: string; name: string }>(
    `SELECT n.nspname AS schema, c.relname AS name
       FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
       JOIN unnest($1::text[], $2::text[]) AS w(s, t) ON w.s = n.nspname AND w.t = c.relname
      WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')`,
    [tables.map((t) => t.schema), tables.map((t) => t.name)],
  );
  return r.rows;
}

export async function existingSchemas(client: pg.Client, schemas: string[]): Promise<Set<string>> {
  const r = await client.query<{ nspname: string }>('SELECT nspname FROM pg_catalog.pg_namespace WHERE nspname = ANY($1::text[])', [schemas]);
  return new Set(r.rows.map((x) => x.nspname));
}

/** Schemas of user-defined types (direct, array element, domain base) used by these tables' columns. */
export async function typeSchemasOf(client: pg.Client, tableOids: number[]): Promise<string[]> {
  if (tableOids.length === 0) return [];
  const r = await client.query<{ schema: string }>(
    `WITH RECURSIVE t(oid) AS (
        SELECT a.atttypid FROM pg_catalog.pg_attribute a WHERE a.attrelid = ANY($1::oid[]) AND a.attnum > 0 AND NOT a.attisdropped
        UNION
        SELECT x.oid FROM t JOIN pg_catalog.pg_type ty ON ty.oid = t.oid
          CROSS JOIN LATERAL (VALUES (ty.typelem), (ty.typbasetype)) AS x(oid) WHERE x.oid <> 0)
     SELECT DISTINCT n.nspname AS schema FROM t JOIN pg_catalog.pg_type ty ON ty.oid = t.oid
       JOIN pg_catalog.pg_namespace n ON n.oid = ty.typnamespace
      WHERE ${SYSTEM_SCHEMA_FILTER}
        AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_catalog.pg_type'::regclass AND d.objid = ty.oid AND d.deptype = 'e')
        AND (ty.typrelid = 0 OR EXISTS (SELECT 1 FROM pg_catalog.pg_class c WHERE c.oid = ty.typrelid AND c.relkind = 'c'))`,
    [tableOids],
  );
  return r.rows.map((x) => x.schema);
}

/** Relations (tables, views, matviews, foreign tables) in these schemas that are not selected: `-T` for pg_dump. */
export async function unselectedRelations(client: pg.Client, schemas: string[], selectedOids: Set<number>): Promise<TableRef[]> {
  const r = await client.query<{ oid: string; schema: string; name: string }>(
    `SELECT c.oid::int8 AS oid, n.nspname AS schema, c.relname AS name
       FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = ANY($1::text[]) AND c.relkind IN ('r', 'p', 'v', 'm', 'f')`,
    [schemas],
  );
  return r.rows.filter((x) => !selectedOids.has(Number(x.oid))).map((x) => ({ schema: x.schema, name: x.name }));
}

export interface TypeInfo {
  oid: number;
  typtype: string;
  typelem: number;
  typbasetype: number;
  typcategory: string;
  hasBinary: boolean;
}

/** The first OID of user-created objects: below it, OIDs are the same on every cluster. */
const FIRST_NORMAL_OBJECT_ID = 16384;

/**
 * Binary COPY embeds type OIDs inside arrays and composite values, and those differ between
 * clusters for user-defined types; types without binary send/receive cannot go binary at all.
 * True when any of these columns needs text format.
 */
export async function needsTextFormat(client: pg.Client, table: TableRef, columns: string[]): Promise<boolean> {
  const r = await client.query<{ oid: string }>(
    `SELECT a.atttypid::int8 AS oid FROM pg_catalog.pg_attribute a
       JOIN pg_catalog.pg_class c ON c.oid = a.attrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relname = $2 AND a.attname = ANY($3::text[]) AND a.attnum > 0 AND NOT a.attisdropped`,
    [table.schema, table.name, columns],
  );
  const types = new Map<number, TypeInfo>();
  const load = async (oids: number[]) => {
    const want = oids.filter((o) => o !== 0 && !types.has(o));
    if (want.length === 0) return;
    const t = await client.query<{ oid: string; typtype: string; typelem: string; typbasetype: string; typcategory: string; bin: boolean }>(
      `SELECT oid::int8 AS oid, typtype::text AS typtype, typelem::int8 AS typelem, typbasetype::int8 AS typbasetype,
              typcategory::text AS typcategory, (typsend::oid <> 0 AND typreceive::oid <> 0) AS bin
         FROM pg_catalog.pg_type WHERE oid = ANY($1::oid[])`,
      [want],
    );
    for (const x of t.rows)
      types.set(Number(x.oid), {
        oid: Number(x.oid),
        typtype: x.typtype,
        typelem: Number(x.typelem),
        typbasetype: Number(x.typbasetype),
        typcategory: x.typcategory,
        hasBinary: x.bin,
      });
  };
  const needs = async (oid: number, depth: number): Promise<boolean> => {
    if (depth > 20) return true;
    await load([oid]);
    const t = types.get(oid);
    if (!t) return true;
    if (t.typtype === 'd') return needs(t.typbasetype, depth + 1);
    if (t.typtype === 'c') return true;
    if (!t.hasBinary) return true;
    if (t.typcategory === 'A' && t.typelem !== 0) {
      if (t.typelem >= FIRST_NORMAL_OBJECT_ID) return true;
      return needs(t.typelem, depth + 1);
    }
    return false;
  };
  for (const row of r.rows) if (await needs(Number(row.oid), 0)) return true;
  return false;
}

/** Leaf partitions (relkind r) under a partitioned table, at any depth. */
export async function leafPartitions(client: pg.Client, root: TableRef): Promise<{ schema: string; name: string; oid: number; bytes: number; rows: number }[]> {
  const r = await client.query<{ oid: string; schema: string; name: string; bytes: string; rows: number }>(
    `WITH RECURSIVE tree(oid) AS (
        SELECT c.oid FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2
        UNION ALL
        SELECT i.inhrelid FROM pg_catalog.pg_inherits i JOIN tree ON i.inhparent = tree.oid)
     SELECT c.oid::int8 AS oid, n.nspname AS schema, c.relname AS name, pg_catalog.pg_table_size(c.oid)::int8 AS bytes,
            greatest(c.reltuples, 0)::float8 AS rows
       FROM tree JOIN pg_catalog.pg_class c ON c.oid = tree.oid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind = 'r' AND c.relispartition
      ORDER BY n.nspname, c.relname`,
    [root.schema, root.name],
  );
  return r.rows.map((x) => ({ oid: Number(x.oid), schema: x.schema, name: x.name, bytes: Number(x.bytes), rows: Math.round(Number(x.rows)) }));
}

export async function relkindOf(client: pg.Client, table: TableRef): Promise<string | null> {
  const r = await client.query<{ relkind: string }>(
    `SELECT c.relkind::text AS relkind FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relname = $2`,
    [table.schema, table.name],
  );
  return r.rows[0]?.relkind ?? null;
}
