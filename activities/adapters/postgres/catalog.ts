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
export async function unselectedRelations(client: pg.Client, schemas: string[], keptOids: Set<number>): Promise<TableRef[]> {
  const r = await client.query<{ oid: string; schema: string; name: string }>(
    `SELECT c.oid::int8 AS oid, n.nspname AS schema, c.relname AS name
       FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = ANY($1::text[]) AND c.relkind IN ('r', 'p', 'v', 'm', 'f')`,
    [schemas],
  );
  return r.rows.filter((x) => !keptOids.has(Number(x.oid))).map((x) => ({ schema: x.schema, name: x.name }));
}

/** The first OID of user-created objects: below it, OIDs are the same on every cluster. */
export const FIRST_NORMAL_OBJECT_ID = 16384;

/**
 * Binary COPY embeds type OIDs inside arrays and composite values, and those differ between
 * clusters for user-defined types; types without binary send/receive cannot go binary at all.
 * True when any of these columns needs text format. One round trip: the column types, followed
 * through domains (to their base) and arrays (to their element).
 */
export async function needsTextFormat(client: pg.Client, table: TableRef, columns: string[]): Promise<boolean> {
  const r = await client.query<{ text: boolean | null }>(
    `WITH RECURSIVE t(oid, depth) AS (
        SELECT a.atttypid, 0 FROM pg_catalog.pg_attribute a
          JOIN pg_catalog.pg_class c ON c.oid = a.attrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = $1 AND c.relname = $2 AND a.attname = ANY($3::text[]) AND a.attnum > 0 AND NOT a.attisdropped
        UNION
        SELECT CASE WHEN ty.typtype = 'd' THEN ty.typbasetype ELSE ty.typelem END, t.depth + 1
          FROM t JOIN pg_catalog.pg_type ty ON ty.oid = t.oid
         WHERE t.depth <= 20 AND (ty.typtype = 'd' OR (ty.typcategory = 'A' AND ty.typelem <> 0 AND ty.typelem < ${FIRST_NORMAL_OBJECT_ID})))
     SELECT bool_or(CASE
              WHEN t.depth > 20 OR ty.oid IS NULL THEN true
              WHEN ty.typtype = 'd' THEN false
              ELSE ty.typtype = 'c' OR ty.typsend::oid = 0 OR ty.typreceive::oid = 0
                   OR (ty.typcategory = 'A' AND ty.typelem >= ${FIRST_NORMAL_OBJECT_ID}) END) AS text
       FROM t LEFT JOIN pg_catalog.pg_type ty ON ty.oid = t.oid`,
    [table.schema, table.name, columns],
  );
  return r.rows[0]?.text === true;
}

/** A column a big table can be split on: a single-column integer primary key, else a unique not-null integer key. */
export async function integerKey(client: pg.Client, table: TableRef): Promise<string | null> {
  const r = await client.query<{ attname: string }>(
    `SELECT a.attname FROM pg_catalog.pg_index i
       JOIN pg_catalog.pg_class c ON c.oid = i.indrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
       JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
      WHERE n.nspname = $1 AND c.relname = $2 AND i.indnkeyatts = 1 AND i.indisunique AND i.indisvalid
        AND i.indpred IS NULL AND i.indexprs IS NULL AND a.attnotnull AND a.atttypid IN ('int2'::regtype, 'int4'::regtype, 'int8'::regtype)
      ORDER BY i.indisprimary DESC, a.attnum, i.indexrelid LIMIT 1`,
    [table.schema, table.name],
  );
  return r.rows[0]?.attname ?? null;
}

/** Sizes of a table now: pg_table_size (heap + TOAST + maps) and its heap in blocks. */
export async function relationSize(client: pg.Client, table: TableRef): Promise<{ bytes: number; blocks: number } | null> {
  const r = await client.query<{ bytes: string; blocks: string }>(
    `SELECT pg_catalog.pg_table_size(c.oid)::int8 AS bytes,
            (pg_catalog.pg_relation_size(c.oid, 'main') / pg_catalog.current_setting('block_size')::int8)::int8 AS blocks
       FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2`,
    [table.schema, table.name],
  );
  const row = r.rows[0];
  return row ? { bytes: Number(row.bytes), blocks: Number(row.blocks) } : null;
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
