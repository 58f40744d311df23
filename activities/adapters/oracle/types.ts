// PostgreSQL -> Oracle type mapping: one decision per PostgreSQL type, each either a mapping
// (Oracle column type, how the value is read from PostgreSQL, how it is bound into Oracle) or an
// UnsupportedType naming schema.table.column and saying what to do. Pure: unit- and
// property-tested without either database. docs/oracle.md holds the table in prose.
import type { TableRef } from '../../../workflows/types';
import { UnsupportedType } from '../errors';
import { quoteOracleLiteral } from './identifiers';

/** A column's type as PostgreSQL's catalog describes it (see catalog.ts pgColumnsSql). */
export type PgType =
  /** Built-in scalar; `name` is format_type without modifiers (`numeric`, `character varying`, `timestamp with time zone`). */
  | { kind: 'base'; name: string; typmod?: readonly number[] }
  | { kind: 'enum'; name: string; labels: readonly string[] }
  | { kind: 'domain'; name: string; base: PgType }
  | { kind: 'composite'; name: string }
  | { kind: 'array'; element: PgType }
  | { kind: 'range'; name: string; subtype: string }
  | { kind: 'multirange'; name: string };

export interface PgColumn {
  table: TableRef;
  name: string;
  type: PgType;
  notNull: boolean;
  identity?: 'always' | 'by default';
  /** A stored generated column: not copied, the target computes it. */
  generated?: boolean;
}

/** What the target supports; from catalog reads (version, MAX_STRING_SIZE). */
export interface OracleTarget {
  major: number;
  minor?: number;
  /** EXTENDED raises VARCHAR2/RAW to 32767 bytes. */
  maxStringSize: 'STANDARD' | 'EXTENDED';
}

/**
 * How a value travels. The reader selects it from PostgreSQL in a fixed text form (SQL from
 * pgReadExpr), values.ts checks and converts it, and the writer binds it through oracleBindExpr.
 */
export type ValueKind =
  | 'number' // decimal text bound as a string into NUMBER (session NLS_NUMERIC_CHARACTERS='.,'): no float rounding
  | 'binary_float'
  | 'binary_double'
  | 'bool_number' // NUMBER(1) 1/0
  | 'bool' // 23ai BOOLEAN
  | 'text' // VARCHAR2/CHAR
  | 'clob'
  | 'blob'
  | 'date' // 'YYYY-MM-DD' -> DATE
  | 'timestamp' // 'YYYY-MM-DD HH24:MI:SS.US' -> TIMESTAMP
  | 'timestamptz' // same, in UTC -> TIMESTAMP WITH TIME ZONE at +00:00
  | 'time' // 'HH:MI:SS.US' -> INTERVAL DAY TO SECOND since midnight
  | 'interval_ym' // total months -> INTERVAL YEAR TO MONTH
  | 'interval_ds' // total seconds -> INTERVAL DAY TO SECOND
  | 'uuid'; // canonical text -> RAW(16)

export interface ColumnMapping {
  column: string;
  pgType: string;
  /** The Oracle column type, e.g. `NUMBER(12,2)`, `VARCHAR2(80 CHAR)`. */
  oracleType: string;
  /** A CHECK condition on the (quoted) column, e.g. booleans and enums; `%s` stands for the column. */
  check?: string;
  /** Identity on the target (12c+): BY DEFAULT during the load so source values are kept. */
  identity?: boolean;
  kind: ValueKind;
  /** Source NOT NULL: '' cannot become NULL (empty-string policy). */
  notNull: boolean;
  /** False for generated columns: the target computes them. */
  copied: boolean;
  /** Unbounded NUMBER / VARCHAR2 limits values are checked against at copy time. */
  maxBytes?: number;
  notes: string[];
}

/** The byte limit of VARCHAR2 (and RAW) on this target. */
export function varchar2Limit(t: OracleTarget): number {
  return t.maxStringSize === 'EXTENDED' ? 32767 : 4000;
}

const atLeast = (t: OracleTarget, major: number, minor = 0) => t.major > major || (t.major === major && (t.minor ?? 0) >= minor);

function qualified(c: PgColumn): string {
  return `${c.table.schema}.${c.table.name}.${c.name}`;
}

class Rejected extends Error {}
const reject = (why: string): never => {
  throw new Rejected(why);
};

/** The PostgreSQL type as a person writes it, for messages and the mapping report. */
export function pgTypeName(t: PgType): string {
  switch (t.kind) {
    case 'base':
      return t.typmod && t.typmod.length > 0 ? `${t.name}(${t.typmod.join(',')})` : t.name;
    case 'enum':
    case 'composite':
    case 'range':
    case 'multirange':
      return t.name;
    case 'domain':
      return `${t.name} (domain over ${pgTypeName(t.base)})`;
    case 'array':
      return `${pgTypeName(t.element)}[]`;
  }
}

type Scalar = Omit<ColumnMapping, 'column' | 'pgType' | 'notNull' | 'copied' | 'identity'>;

function textOf(n: number | undefined, t: OracleTarget, fixed: boolean): Scalar {
  const limit = varchar2Limit(t);
  if (n === undefined) return { oracleType: 'CLOB', kind: 'clob', notes: [] };
  if (fixed && n <= 2000) return { oracleType: `CHAR(${n} CHAR)`, kind: 'text', maxBytes: 2000, notes: [] };
  if (n <= limit) {
    return {
      oracleType: `VARCHAR2(${n} CHAR)`,
      kind: 'text',
      maxBytes: limit,
      notes: n * 4 > limit ? [`VARCHAR2 holds at most ${limit} bytes: a value over that (multi-byte text) fails at copy time, naming the column`] : [],
    };
  }
  return { oracleType: 'CLOB', kind: 'clob', notes: [`length ${n} exceeds VARCHAR2's ${limit} bytes: stored as CLOB`] };
}

function jsonColumn(t: OracleTarget, native: boolean): Scalar {
  // jsonb is already normalised, so Oracle's binary JSON (21c+) loses nothing; json keeps its exact text.
  if (native && atLeast(t, 21)) return { oracleType: 'JSON', kind: 'clob', notes: [] };
  if (atLeast(t, 12, 1)) return { oracleType: 'CLOB', check: '%s IS JSON', kind: 'clob', notes: [] };
  return { oracleType: 'CLOB', kind: 'clob', notes: ['IS JSON check constraints need 12.1.0.2: stored as plain CLOB'] };
}

function intervalFields(typmod: readonly number[] | undefined): 'ym' | 'ds' | 'mixed' {
  // PostgreSQL keeps the fields qualifier in the high 16 bits of the typmod (INTERVAL_RANGE);
  // catalog.ts passes it as typmod[0] = fields mask when present. YEAR=4, MONTH=2, DAY=8, HOUR=1024, MINUTE=2048, SECOND=4096.
  const fields = typmod?.[0];
  if (fields === undefined || fields === 0x7fff) return 'mixed';
  const ym = 4 | 2;
  const ds = 8 | 1024 | 2048 | 4096;
  if ((fields & ~ym) === 0) return 'ym';
  if ((fields & ~ds) === 0) return 'ds';
  return 'mixed';
}

function base(name: string, typmod: readonly number[] | undefined, t: OracleTarget): Scalar {
  const p0 = typmod?.[0];
  switch (name) {
    case 'smallint':
      return { oracleType: 'NUMBER(5)', kind: 'number', notes: [] };
    case 'integer':
      return { oracleType: 'NUMBER(10)', kind: 'number', notes: [] };
    case 'bigint':
      return { oracleType: 'NUMBER(19)', kind: 'number', notes: [] };
    case 'numeric': {
      if (p0 === undefined) {
        return { oracleType: 'NUMBER', kind: 'number', notes: ['unbounded numeric: values with more than 38 significant digits, NaN or Infinity fail at copy time'] };
      }
      const scale = typmod?.[1] ?? 0;
      if (p0 <= 38 && scale >= -84 && scale <= 127) return { oracleType: `NUMBER(${p0},${scale})`, kind: 'number', notes: [] };
      return {
        oracleType: 'NUMBER',
        kind: 'number',
        notes: [`numeric(${p0},${scale}) is beyond NUMBER(38): stored as NUMBER; a value with more than 38 significant digits fails at copy time`],
      };
    }
    case 'real':
      return { oracleType: 'BINARY_FLOAT', kind: 'binary_float', notes: [] };
    case 'double precision':
      return { oracleType: 'BINARY_DOUBLE', kind: 'binary_double', notes: [] };
    case 'money':
      return { oracleType: 'NUMBER', kind: 'number', notes: ['money is read as numeric (no currency symbol, the locale\'s scale kept)'] };
    case 'boolean':
      return atLeast(t, 23)
        ? { oracleType: 'BOOLEAN', kind: 'bool', notes: [] }
        : { oracleType: 'NUMBER(1)', check: '%s IN (0, 1)', kind: 'bool_number', notes: ['true/false stored as 1/0'] };
    case 'text':
      return textOf(undefined, t, false);
    case 'character varying':
      return textOf(p0, t, false);
    case 'character':
      return textOf(p0 ?? 1, t, true);
    case 'bytea':
      return { oracleType: 'BLOB', kind: 'blob', notes: [] };
    case 'date':
      return { oracleType: 'DATE', kind: 'date', notes: ['Oracle DATE also holds a time of day (always 00:00:00 here); years outside 1..9999 and infinity fail at copy time'] };
    case 'timestamp without time zone':
      return { oracleType: `TIMESTAMP(${p0 ?? 6})`, kind: 'timestamp', notes: [] };
    case 'timestamp with time zone':
      return {
        oracleType: `TIMESTAMP(${p0 ?? 6}) WITH TIME ZONE`,
        kind: 'timestamptz',
        notes: ['PostgreSQL keeps the instant, not the zone it was written in: stored at +00:00'],
      };
    case 'time without time zone':
      return { oracleType: `INTERVAL DAY(1) TO SECOND(${p0 ?? 6})`, kind: 'time', notes: ['Oracle has no TIME type: stored as the interval since midnight'] };
    case 'time with time zone':
      return { oracleType: 'VARCHAR2(24 CHAR)', kind: 'text', notes: ['Oracle has no TIME WITH TIME ZONE: stored as ISO text HH:MI:SS.US+HH:MM (ordering not preserved)'] };
    case 'interval': {
      const fields = intervalFields(typmod);
      const frac = typmod?.[1] ?? 6;
      if (fields === 'ym') return { oracleType: 'INTERVAL YEAR(9) TO MONTH', kind: 'interval_ym', notes: [] };
      if (fields === 'ds') return { oracleType: `INTERVAL DAY(9) TO SECOND(${frac})`, kind: 'interval_ds', notes: [] };
      return {
        oracleType: 'VARCHAR2(100 CHAR)',
        kind: 'text',
        notes: ['a PostgreSQL interval mixes months, days and seconds, which no single Oracle INTERVAL holds: stored as PostgreSQL interval text'],
      };
    }
    case 'uuid':
      return { oracleType: 'RAW(16)', kind: 'uuid', notes: [] };
    case 'json':
      return jsonColumn(t, false);
    case 'jsonb':
      return jsonColumn(t, true);
    case 'inet':
    case 'cidr':
      // An IPv6 address with an IPv4 tail and a prefix: 45 + 4 characters at most.
      return { oracleType: 'VARCHAR2(49 CHAR)', kind: 'text', notes: ['stored as text'] };
    case 'macaddr':
      return { oracleType: 'VARCHAR2(17 CHAR)', kind: 'text', notes: ['stored as text'] };
    case 'macaddr8':
      return { oracleType: 'VARCHAR2(23 CHAR)', kind: 'text', notes: ['stored as text'] };
    case 'xml':
      return { oracleType: 'CLOB', kind: 'clob', notes: ['stored as CLOB text: XMLTYPE would refuse the content fragments PostgreSQL xml allows'] };
    case 'bit':
    case 'bit varying': {
      const n = name === 'bit' ? (p0 ?? 1) : p0;
      const s = textOf(n, t, false);
      return { ...s, check: s.kind === 'text' ? `TRANSLATE(%s, '#01', '#') IS NULL` : undefined, notes: ['stored as a string of 0 and 1', ...s.notes] };
    }
    case 'tsvector':
    case 'tsquery':
      return reject(`${name} is PostgreSQL full-text search data with no Oracle equivalent: exclude the table, or drop the column and build an Oracle Text index on the target`);
    case 'point':
    case 'line':
    case 'lseg':
    case 'box':
    case 'path':
    case 'polygon':
    case 'circle':
      return reject(`geometric type ${name} has no Oracle column type without Oracle Spatial (SDO_GEOMETRY), which Ferry does not map: exclude the table or convert the column to text/numbers on the source`);
    default:
      return reject(`type ${name} has no Oracle mapping in Ferry`);
  }
}

function mapType(type: PgType, t: OracleTarget, notes: string[]): Scalar {
  switch (type.kind) {
    case 'base':
      return base(type.name, type.typmod, t);
    case 'domain': {
      notes.push(`domain ${type.name}: mapped as its base type; the domain's CHECK constraints are not carried`);
      return mapType(type.base, t, notes);
    }
    case 'enum': {
      if (type.labels.some((l) => l === '')) {
        return reject(`enum ${type.name} has an empty label, which Oracle would store as NULL (Oracle treats '' as NULL)`);
      }
      const width = Math.max(1, ...type.labels.map((l) => [...l].length));
      const list = type.labels.map(quoteOracleLiteral).join(', ');
      return {
        oracleType: `VARCHAR2(${width} CHAR)`,
        check: type.labels.length > 0 ? `%s IN (${list})` : undefined,
        kind: 'text',
        maxBytes: varchar2Limit(t),
        notes: [`enum ${type.name}: stored as its label, checked against the labels`],
      };
    }
    case 'composite':
      return reject(`composite type ${type.name} has no Oracle column equivalent (Ferry does not create object types): exclude the table or flatten the type into columns on the source`);
    case 'range':
      return reject(`range type ${type.name} has no Oracle equivalent: exclude the table, or on the source split it into lower(${type.subtype}) and upper columns`);
    case 'multirange':
      return reject(`multirange type ${type.name} has no Oracle equivalent: exclude the table`);
    case 'array': {
      let el: PgType = type.element;
      while (el.kind === 'domain') el = el.base;
      if (el.kind === 'composite') return reject(`array of composite type ${el.name} has no Oracle equivalent`);
      if (el.kind === 'array') return reject('nested array types are not supported');
      const json = jsonColumn(t, false);
      return { ...json, notes: ['array stored as a JSON array (to_json on the source): elements keep their JSON form, enums as strings', ...json.notes] };
    }
  }
}

/** Map one column, or throw UnsupportedType naming schema.table.column. */
export function mapColumn(c: PgColumn, t: OracleTarget): ColumnMapping {
  const notes: string[] = [];
  let scalar: Scalar;
  try {
    scalar = mapType(c.type, t, notes);
  } catch (err) {
    if (err instanceof Rejected) throw new UnsupportedType(`${qualified(c)} (${pgTypeName(c.type)}): ${err.message}`);
    throw err;
  }
  const m: ColumnMapping = {
    column: c.name,
    pgType: pgTypeName(c.type),
    ...scalar,
    notNull: c.notNull,
    copied: !c.generated,
    notes: [...notes, ...scalar.notes],
  };
  if (c.generated) {
    m.notes.push('generated on PostgreSQL: not copied; define it on Oracle as a virtual column (GENERATED ALWAYS AS (...) VIRTUAL), Ferry does not translate expressions');
  }
  if (c.identity) {
    if (atLeast(t, 12, 1)) {
      m.identity = true;
      m.notes.push(
        `identity (${c.identity}): created GENERATED BY DEFAULT so copied values are kept; after the load Ferry moves it past the highest value (START WITH LIMIT VALUE)`,
      );
    } else {
      m.notes.push(`identity (${c.identity}): identity columns need 12c; on ${t.major}g values are copied and no sequence is created`);
    }
  }
  return m;
}

/** Map every column of a table; all rejections are reported together, one line each. */
export function mapColumns(columns: readonly PgColumn[], t: OracleTarget): ColumnMapping[] {
  const out: ColumnMapping[] = [];
  const rejected: string[] = [];
  for (const c of columns) {
    try {
      out.push(mapColumn(c, t));
    } catch (err) {
      if (err instanceof UnsupportedType) rejected.push(err.message);
      else throw err;
    }
  }
  if (rejected.length === 1) throw new UnsupportedType(rejected[0]!);
  if (rejected.length > 1) throw new UnsupportedType(`${rejected.length} columns cannot be carried to Oracle:\n  - ${rejected.join('\n  - ')}`);
  return out;
}
