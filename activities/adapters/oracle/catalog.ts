// Catalog reads on both sides of PG -> Oracle. The SQL text is here, so it can be read and
// reviewed in one place; the decoding of PostgreSQL's catalog rows into PgType is pure and
// unit-tested. The Oracle views used are the ALL_/USER_ ones a schema owner can read (DTS asks
// for no more); V$ views are tried and their absence reported as a warning.
import type { PgType } from './types';

// ------------------------------------------------------------------ PostgreSQL side

/** Columns of one table with their type oid and modifiers: $1 schema, $2 table. */
export const PG_COLUMNS_SQL = `SELECT a.attname AS name, a.attnotnull AS not_null, a.atttypid::int8 AS type_oid, a.atttypmod AS typmod,
       a.attidentity::text AS identity, a.attgenerated::text AS generated
  FROM pg_catalog.pg_attribute a
  JOIN pg_catalog.pg_class c ON c.oid = a.attrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped
 ORDER BY a.attnum`;

/** Every type reachable from $1 (oid[]): element, domain base and range subtype, with enum labels. */
export const PG_TYPES_SQL = `WITH RECURSIVE t(oid) AS (
    SELECT unnest($1::oid[])
    UNION
    SELECT x.oid FROM t JOIN pg_catalog.pg_type ty ON ty.oid = t.oid
      LEFT JOIN pg_catalog.pg_range r ON r.rngtypid = ty.oid
      CROSS JOIN LATERAL (VALUES (ty.typelem), (ty.typbasetype), (coalesce(r.rngsubtype, 0))) AS x(oid)
     WHERE x.oid <> 0)
SELECT ty.oid::int8 AS oid, pg_catalog.format_type(ty.oid, NULL) AS name, ty.typtype::text AS typtype, ty.typcategory::text AS category,
       ty.typelem::int8 AS elem, ty.typbasetype::int8 AS base, ty.typtypmod AS base_typmod, ty.typrelid::int8 AS relid,
       coalesce((SELECT r.rngsubtype::int8 FROM pg_catalog.pg_range r WHERE r.rngtypid = ty.oid), 0) AS range_subtype,
       coalesce((SELECT pg_catalog.array_agg(e.enumlabel ORDER BY e.enumsortorder) FROM pg_catalog.pg_enum e WHERE e.enumtypid = ty.oid), '{}') AS labels
  FROM t JOIN pg_catalog.pg_type ty ON ty.oid = t.oid`;

export interface PgTypeRow {
  oid: number;
  name: string;
  typtype: string; // b base, c composite, d domain, e enum, p pseudo, r range, m multirange
  category: string; // A array
  elem: number;
  base: number;
  baseTypmod: number;
  relid: number;
  rangeSubtype: number;
  labels: string[];
}

/** PostgreSQL's typmod for a base type as the modifiers a person writes. */
export function decodeTypmod(name: string, typmod: number): number[] | undefined {
  if (typmod < 0) return undefined;
  switch (name) {
    case 'numeric': {
      const t = typmod - 4;
      const precision = (t >> 16) & 0xffff;
      // PostgreSQL 15+ allows negative scale: 11-bit two's complement.
      const scale = ((t & 0x7ff) ^ 1024) - 1024;
      return [precision, scale];
    }
    case 'character varying':
    case 'character':
      return [typmod - 4];
    case 'bit':
    case 'bit varying':
    case 'timestamp without time zone':
    case 'timestamp with time zone':
    case 'time without time zone':
    case 'time with time zone':
      return [typmod];
    case 'interval': {
      const fields = (typmod >> 16) & 0x7fff;
      const precision = typmod & 0xffff;
      return precision === 0xffff ? [fields] : [fields, precision];
    }
    default:
      return undefined;
  }
}

/** Build the PgType of a column from the type rows (typmod is the column's atttypmod). */
export function pgTypeOf(oid: number, typmod: number, types: ReadonlyMap<number, PgTypeRow>, depth = 0): PgType {
  const t = types.get(oid);
  if (!t || depth > 20) return { kind: 'base', name: `unknown type ${oid}` };
  if (t.category === 'A' && t.elem !== 0 && t.typtype === 'b') return { kind: 'array', element: pgTypeOf(t.elem, typmod, types, depth + 1) };
  switch (t.typtype) {
    case 'd':
      return { kind: 'domain', name: t.name, base: pgTypeOf(t.base, t.baseTypmod, types, depth + 1) };
    case 'e':
      return { kind: 'enum', name: t.name, labels: t.labels };
    case 'c':
      return { kind: 'composite', name: t.name };
    case 'r':
      return { kind: 'range', name: t.name, subtype: types.get(t.rangeSubtype)?.name ?? String(t.rangeSubtype) };
    case 'm':
      return { kind: 'multirange', name: t.name };
    default: {
      const typmodList = decodeTypmod(t.name, typmod);
      return typmodList ? { kind: 'base', name: t.name, typmod: typmodList } : { kind: 'base', name: t.name };
    }
  }
}

/** Primary key, or else the first unique index whose columns are all NOT NULL: $1 schema, $2 table. */
export const PG_KEY_SQL = `SELECT i.indisprimary AS primary, array_agg(a.attname::text ORDER BY k.ord) AS columns
  FROM pg_catalog.pg_index i
  JOIN pg_catalog.pg_class c ON c.oid = i.indrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
  JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum
 WHERE n.nspname = $1 AND c.relname = $2 AND (i.indisprimary OR i.indisunique) AND i.indpred IS NULL AND i.indexprs IS NULL
 GROUP BY i.indexrelid, i.indisprimary
HAVING bool_and(a.attnotnull)
 ORDER BY i.indisprimary DESC, i.indexrelid
 LIMIT 1`;

/** Tables whose REPLICA IDENTITY is not FULL (DTS's advice for tables created during the migration). */
export const PG_REPLICA_IDENTITY_SQL = `SELECT n.nspname AS schema, c.relname AS name, c.relreplident::text AS identity
  FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('r', 'p') AND n.nspname = ANY($1::text[])`;

/** Source NOT NULL text columns holding '' (Oracle would store NULL and refuse the row): $1 schema, $2 table; column list built by the caller with quoteIdent. */
export function pgEmptyStringCountSql(qualifiedTable: string, quotedColumn: string): string {
  return `SELECT count(*)::int8 AS n FROM ${qualifiedTable} WHERE ${quotedColumn} = ''`;
}

// ------------------------------------------------------------------ Oracle side

export const ORA_CHARSET_SQL = `SELECT value FROM nls_database_parameters WHERE parameter = 'NLS_CHARACTERSET'`;
/** Needs SELECT on V$PARAMETER; when refused, STANDARD is assumed and the precheck warns. */
export const ORA_MAX_STRING_SIZE_SQL = `SELECT value FROM v$parameter WHERE name = 'max_string_size'`;
export const ORA_SCHEMA_EXISTS_SQL = `SELECT username FROM all_users WHERE username = :1`;
export const ORA_USER_SQL = `SELECT USER FROM dual`;
export const ORA_TABLES_SQL = `SELECT table_name FROM all_tables WHERE owner = :1`;
export const ORA_COLUMNS_SQL = `SELECT column_name, data_type, data_length, char_length, char_used, data_precision, data_scale, nullable, virtual_column
  FROM all_tab_cols WHERE owner = :1 AND table_name = :2 AND hidden_column = 'NO' ORDER BY column_id`;
export const ORA_KEYS_SQL = `SELECT c.constraint_name, c.constraint_type, cc.column_name
  FROM all_constraints c JOIN all_cons_columns cc ON cc.owner = c.owner AND cc.constraint_name = c.constraint_name
 WHERE c.owner = :1 AND c.table_name = :2 AND c.constraint_type IN ('P', 'U') AND c.status = 'ENABLED'
 ORDER BY c.constraint_type, c.constraint_name, cc.position`;
/** DML grants the connecting user holds on tables of another schema (the owner needs none). */
export const ORA_TABLE_PRIVS_SQL = `SELECT table_name, privilege FROM all_tab_privs WHERE table_schema = :1 AND grantee IN (USER, 'PUBLIC') AND privilege IN ('INSERT', 'UPDATE', 'DELETE', 'SELECT')`;
export const ORA_SESSION_PRIVS_SQL = `SELECT privilege FROM session_privs`;
/** Free bytes per tablespace the user may write (quota, or free space where the quota is unlimited). */
export const ORA_STORAGE_SQL = `SELECT q.tablespace_name, q.max_bytes, q.bytes, (SELECT SUM(f.bytes) FROM user_free_space f WHERE f.tablespace_name = q.tablespace_name) AS free_bytes
  FROM user_ts_quotas q`;

export interface OracleColumnRow {
  name: string;
  dataType: string;
  dataLength: number;
  charLength: number;
  charUsed: 'B' | 'C' | null;
  precision: number | null;
  scale: number | null;
  nullable: boolean;
  virtual: boolean;
}

export function oracleColumnRow(r: unknown[]): OracleColumnRow {
  return {
    name: String(r[0]),
    dataType: String(r[1]),
    dataLength: Number(r[2]),
    charLength: Number(r[3]),
    charUsed: r[4] === 'B' || r[4] === 'C' ? r[4] : null,
    precision: r[5] === null ? null : Number(r[5]),
    scale: r[6] === null ? null : Number(r[6]),
    nullable: r[7] === 'Y',
    virtual: r[8] === 'YES',
  };
}
