// Change data capture, the pure half: decode the replication stream (XLogData / keepalive
// frames, pgoutput protocol version 1 messages with text-format values) and turn decoded changes
// into parameterised SQL for the target. No I/O here, so every rule is unit-tested.
//
// Values stay exactly the text PostgreSQL's output functions wrote on the source; the target
// parses them with `$n::<type>` casts (type names from the target's own catalog, format_type).
// Statements are built with $n parameters; to apply a batch in one round trip, inlineStatement
// writes each parameter as a literal (node-postgres's escapeLiteral rules) in the same place, so the
// same cast parses the same text. Identifiers go through quoteIdent.
import type { TableMapping } from '../../../workflows/types';
import { formatLsn } from './lsn';
import { displayName, qualify, quoteIdent } from './sql';

// ---------------------------------------------------------------- decoding

/** An UPDATE's new tuple marks a TOASTed column the update did not touch: its value is not sent. */
export const UNCHANGED_TOAST: unique symbol = Symbol('unchanged-toast');
export type Value = string | null | typeof UNCHANGED_TOAST;
/** Column values in the relation's column order. */
export type Tuple = Value[];

export interface RelationColumn {
  name: string;
  /** Part of the replica identity key (flag 1). */
  key: boolean;
  typeOid: number;
  typeMod: number;
}

export interface RelationMessage {
  tag: 'relation';
  /** The relation's OID on the source (the partitioned root when published via root). */
  oid: number;
  schema: string;
  name: string;
  /** d default (primary key), n nothing, f full, i index */
  identity: 'd' | 'n' | 'f' | 'i';
  columns: RelationColumn[];
}

export type PgoutputMessage =
  | { tag: 'begin'; finalLsn: bigint; commitTime: bigint; xid: number }
  | { tag: 'commit'; commitLsn: bigint; endLsn: bigint; commitTime: bigint }
  | RelationMessage
  | { tag: 'insert'; relation: number; new: Tuple }
  /** key: the old key ('K', replica identity changed); old: the whole old row ('O', REPLICA IDENTITY FULL). */
  | { tag: 'update'; relation: number; key?: Tuple; old?: Tuple; new: Tuple }
  | { tag: 'delete'; relation: number; key?: Tuple; old?: Tuple }
  | { tag: 'truncate'; relations: number[]; cascade: boolean; restartIdentity: boolean }
  | { tag: 'type' | 'origin' | 'message' };

/** A frame of the streaming replication protocol (the payload of one CopyData message). */
export type ReplicationFrame =
  | { kind: 'xlog'; start: bigint; walEnd: bigint; message: PgoutputMessage }
  | { kind: 'keepalive'; walEnd: bigint; replyRequested: boolean };

class Reader {
  private at = 0;
  constructor(private readonly buf: Buffer) {}
  u8(): number {
    const v = this.buf.readUInt8(this.at);
    this.at += 1;
    return v;
  }
  i16(): number {
    const v = this.buf.readInt16BE(this.at);
    this.at += 2;
    return v;
  }
  i32(): number {
    const v = this.buf.readInt32BE(this.at);
    this.at += 4;
    return v;
  }
  u32(): number {
    const v = this.buf.readUInt32BE(this.at);
    this.at += 4;
    return v;
  }
  u64(): bigint {
    const v = this.buf.readBigUInt64BE(this.at);
    this.at += 8;
    return v;
  }
  i64(): bigint {
    const v = this.buf.readBigInt64BE(this.at);
    this.at += 8;
    return v;
  }
  cstring(): string {
    const end = this.buf.indexOf(0, this.at);
    if (end < 0) throw new Error('pgoutput: unterminated string');
    const s = this.buf.toString('utf8', this.at, end);
    this.at = end + 1;
    return s;
  }
  text(len: number): string {
    const s = this.buf.toString('utf8', this.at, this.at + len);
    this.at += len;
    return s;
  }
}

function readTuple(r: Reader): Tuple {
  const n = r.i16();
  const out: Tuple = new Array<Value>(n);
  for (let i = 0; i < n; i++) {
    const kind = r.u8();
    if (kind === 0x6e /* n */) out[i] = null;
    else if (kind === 0x75 /* u */) out[i] = UNCHANGED_TOAST;
    else if (kind === 0x74 /* t */) out[i] = r.text(r.i32());
    else throw new Error(`pgoutput: unsupported column value kind '${String.fromCharCode(kind)}' (binary mode is not requested)`);
  }
  return out;
}

const IDENTITIES = new Set(['d', 'n', 'f', 'i']);

/** Decode one pgoutput (protocol version 1) message. Values are copied out of `buf`. */
export function decodePgoutput(buf: Buffer): PgoutputMessage {
  const r = new Reader(buf);
  const tag = String.fromCharCode(r.u8());
  switch (tag) {
    case 'B':
      return { tag: 'begin', finalLsn: r.u64(), commitTime: r.i64(), xid: r.u32() };
    case 'C': {
      r.u8(); // flags, unused
      return { tag: 'commit', commitLsn: r.u64(), endLsn: r.u64(), commitTime: r.i64() };
    }
    case 'R': {
      const oid = r.u32();
      const schema = r.cstring();
      const name = r.cstring();
      const identity = String.fromCharCode(r.u8());
      if (!IDENTITIES.has(identity)) throw new Error(`pgoutput: unknown replica identity '${identity}'`);
      const n = r.i16();
      const columns: RelationColumn[] = [];
      for (let i = 0; i < n; i++) {
        const flags = r.u8();
        columns.push({ key: (flags & 1) === 1, name: r.cstring(), typeOid: r.u32(), typeMod: r.i32() });
      }
      return { tag: 'relation', oid, schema, name, identity: identity as RelationMessage['identity'], columns };
    }
    case 'I': {
      const relation = r.u32();
      if (r.u8() !== 0x4e) throw new Error('pgoutput: INSERT without a new tuple');
      return { tag: 'insert', relation, new: readTuple(r) };
    }
    case 'U': {
      const relation = r.u32();
      let sub = r.u8();
      let key: Tuple | undefined;
      let old: Tuple | undefined;
      if (sub === 0x4b /* K */) key = readTuple(r);
      else if (sub === 0x4f /* O */) old = readTuple(r);
      if (key || old) sub = r.u8();
      if (sub !== 0x4e) throw new Error(`pgoutput: UPDATE without a new tuple ('${String.fromCharCode(sub)}')`);
      return { tag: 'update', relation, key, old, new: readTuple(r) };
    }
    case 'D': {
      const relation = r.u32();
      const sub = r.u8();
      if (sub === 0x4b) return { tag: 'delete', relation, key: readTuple(r) };
      if (sub === 0x4f) return { tag: 'delete', relation, old: readTuple(r) };
      throw new Error(`pgoutput: DELETE with unknown tuple kind '${String.fromCharCode(sub)}'`);
    }
    case 'T': {
      const n = r.i32();
      const flags = r.u8();
      const relations: number[] = [];
      for (let i = 0; i < n; i++) relations.push(r.u32());
      return { tag: 'truncate', relations, cascade: (flags & 1) === 1, restartIdentity: (flags & 2) === 2 };
    }
    case 'Y':
      return { tag: 'type' };
    case 'O':
      return { tag: 'origin' };
    case 'M':
      return { tag: 'message' };
    default:
      throw new Error(`pgoutput: unknown message type '${tag}'`);
  }
}

/** Decode a CopyData payload of START_REPLICATION: 'w' XLogData (pgoutput inside) or 'k' keepalive. */
export function decodeFrame(buf: Buffer): ReplicationFrame {
  const kind = buf[0];
  if (kind === 0x77 /* w */) {
    return { kind: 'xlog', start: buf.readBigUInt64BE(1), walEnd: buf.readBigUInt64BE(9), message: decodePgoutput(buf.subarray(25)) };
  }
  if (kind === 0x6b /* k */) return { kind: 'keepalive', walEnd: buf.readBigUInt64BE(1), replyRequested: buf[17] === 1 };
  throw new Error(`replication stream: unknown frame '${String.fromCharCode(kind ?? 0)}'`);
}

/** Microseconds from the Unix epoch to PostgreSQL's (2000-01-01). */
const PG_EPOCH_US = 946_684_800_000_000n;

/**
 * Standby status update ('r'): written = flushed = applied = `lsn`. `lsn` is the end LSN of the
 * last transaction committed on the target: the server may recycle WAL before it, and a restart
 * streams from there. Never +1: a commit record may begin exactly at that position.
 */
export function standbyStatus(lsn: bigint, nowMs: number, replyRequested = false): Buffer {
  const b = Buffer.alloc(34);
  b.write('r', 0, 'latin1');
  b.writeBigUInt64BE(lsn, 1);
  b.writeBigUInt64BE(lsn, 9);
  b.writeBigUInt64BE(lsn, 17);
  b.writeBigInt64BE(BigInt(Math.floor(nowMs)) * 1000n - PG_EPOCH_US, 25);
  b.writeUInt8(replyRequested ? 1 : 0, 33);
  return b;
}

export function describeLsn(lsn: bigint): string {
  return formatLsn(lsn);
}

// ---------------------------------------------------------------- SQL for the target

export interface TargetColumn {
  /** Column name on the target (after the rename mapping, or the source name before renames ran). */
  name: string;
  /** format_type of the target column: what `$n::` casts to. */
  type: string;
}

/** Where a source relation's changes go, its columns aligned with the relation message's. */
export interface TargetTable {
  /** `source -> target` for messages. */
  display: string;
  /** Qualified, quoted target table. */
  sql: string;
  columns: TargetColumn[];
  /** Positions (in relation order) of the replica identity key columns. */
  keyIdx: number[];
  /** REPLICA IDENTITY FULL (no key): rows are found by all their old values. */
  full: boolean;
}

/**
 * The target columns for a relation's columns, in relation order. Names: the source names while
 * the target table still has all of them (the load uses source names; applyRenames runs at
 * cutover), else the rename mapping's names (a column not in the mapping keeps its name). Types:
 * the target column's own (format_type on the target), so user-defined types resolve there.
 * Returns the first relation column with no target column instead, for the caller's error.
 */
export function mapColumns(
  rel: Pick<RelationMessage, 'columns'>,
  mapping: Pick<TableMapping, 'columns'>,
  targetColumns: TargetColumn[],
): { columns: TargetColumn[] } | { missing: string } {
  const byName = new Map(targetColumns.map((c) => [c.name, c]));
  const renamed = new Map(mapping.columns.map((c) => [c.source, c.target]));
  const beforeRenames = rel.columns.every((c) => byName.has(c.name));
  const columns: TargetColumn[] = [];
  for (const c of rel.columns) {
    const col = byName.get(beforeRenames ? c.name : (renamed.get(c.name) ?? c.name));
    if (!col) return { missing: c.name };
    columns.push({ name: col.name, type: col.type });
  }
  return { columns };
}

/** A TargetTable for a relation, given where its rows go and the resolved columns. */
export function targetTable(rel: RelationMessage, display: string, schema: string, name: string, columns: TargetColumn[]): TargetTable {
  return {
    display,
    sql: qualify(schema, name),
    columns,
    keyIdx: rel.columns.flatMap((c, i) => (c.key ? [i] : [])),
    full: rel.identity === 'f',
  };
}

/** `source -> target` for messages. */
export function mappingDisplay(m: Pick<TableMapping, 'source' | 'target'>): string {
  return `${displayName(m.source.schema, m.source.name)} -> ${displayName(m.target.schema, m.target.name)}`;
}

export interface Statement {
  text: string;
  values: unknown[];
  /** Rows the statement must touch; fewer means the target diverged from the source. */
  expectRows?: number;
  what: string;
}

function cast(n: number, type: string): string {
  return `$${n}::${type}`;
}

function textValue(v: Value, table: TargetTable, col: number, what: string): string | null {
  if (v === UNCHANGED_TOAST) throw new Error(`${what} on ${table.display}: column ${table.columns[col]?.name ?? col} has no value (unchanged TOAST)`);
  return v;
}

/** The selected positions' values as one text[] per column (the unnest form). */
function columnArrays(rows: Tuple[], positions: number[], table: TargetTable, what: string): (string | null)[][] {
  return positions.map((p) => rows.map((row) => textValue(row[p] ?? null, table, p, what)));
}

/** `ROWS FROM (unnest($1::text[]), ...) AS u(v1, ...)`: parameters $1..$n zipped into rows of text. */
function rowsFrom(n: number): string {
  const fns = Array.from({ length: n }, (_, i) => `pg_catalog.unnest($${i + 1}::text[])`).join(', ');
  const names = Array.from({ length: n }, (_, i) => `v${i + 1}`).join(', ');
  return `ROWS FROM (${fns}) AS u(${names})`;
}

function allPositions(table: TargetTable): number[] {
  return table.columns.map((_, i) => i);
}

/**
 * One INSERT for a run of rows of one table: each column travels as a text[] parameter and is
 * cast to its type. OVERRIDING SYSTEM VALUE: identity columns take the source's values.
 */
export function insertStatement(table: TargetTable, rows: Tuple[]): Statement {
  const positions = allPositions(table);
  if (positions.length === 0) {
    return { text: `INSERT INTO ${table.sql} SELECT FROM pg_catalog.generate_series(1, $1::int)`, values: [rows.length], expectRows: rows.length, what: 'insert' };
  }
  const arrays = columnArrays(rows, positions, table, 'insert');
  const cols = positions.map((p) => quoteIdent(table.columns[p]!.name)).join(', ');
  const select = positions.map((p, i) => `u.v${i + 1}::${table.columns[p]!.type}`).join(', ');
  return {
    text: `INSERT INTO ${table.sql} (${cols}) OVERRIDING SYSTEM VALUE SELECT ${select} FROM ${rowsFrom(positions.length)}`,
    values: arrays,
    expectRows: rows.length,
    what: 'insert',
  };
}

/** Match one row by all its old values (REPLICA IDENTITY FULL): text comparison, so types without `=` (json, point) work too. */
function fullMatch(table: TargetTable, old: Tuple, values: unknown[]): string {
  const conds: string[] = [];
  old.forEach((v, p) => {
    const col = table.columns[p];
    if (!col || v === UNCHANGED_TOAST) return;
    values.push(v);
    conds.push(`t.${quoteIdent(col.name)}::text IS NOT DISTINCT FROM (${cast(values.length, col.type)})::text`);
  });
  return conds.length > 0 ? conds.join(' AND ') : 'true';
}

/** `(tableoid, ctid)` of exactly one row matching all old values: duplicates in a keyless table lose one row, as on the source. */
function oneRowByOldValues(table: TargetTable, old: Tuple, values: unknown[]): string {
  return `(tableoid, ctid) = (SELECT t.tableoid, t.ctid FROM ${table.sql} t WHERE ${fullMatch(table, old, values)} LIMIT 1)`;
}

function keyValues(table: TargetTable, tuple: Tuple, what: string): (string | null)[] {
  if (table.keyIdx.length === 0) throw new Error(`${what} on ${table.display}: the source table has no replica identity key (set a primary key or REPLICA IDENTITY FULL)`);
  return table.keyIdx.map((p) => {
    const v = textValue(tuple[p] ?? null, table, p, what);
    if (v === null) throw new Error(`${what} on ${table.display}: key column ${table.columns[p]!.name} is NULL in the change`);
    return v;
  });
}

/**
 * DELETEs of a run of rows of one table. Key identity: one statement for the run (keys as text[]).
 * FULL identity: one statement per row, each removing exactly one matching row.
 */
export function deleteStatements(table: TargetTable, olds: Tuple[]): Statement[] {
  if (table.full) {
    return olds.map((old) => {
      const values: unknown[] = [];
      const where = oneRowByOldValues(table, old, values);
      return { text: `DELETE FROM ${table.sql} WHERE ${where}`, values, expectRows: 1, what: 'delete' };
    });
  }
  const keys = olds.map((o) => keyValues(table, o, 'delete'));
  const cols = table.keyIdx.map((p) => quoteIdent(table.columns[p]!.name)).join(', ');
  const select = table.keyIdx.map((p, i) => `u.v${i + 1}::${table.columns[p]!.type}`).join(', ');
  return [
    {
      text: `DELETE FROM ${table.sql} WHERE (${cols}) IN (SELECT ${select} FROM ${rowsFrom(table.keyIdx.length)})`,
      values: table.keyIdx.map((_, i) => keys.map((k) => k[i])),
      expectRows: olds.length,
      what: 'delete',
    },
  ];
}

/**
 * One UPDATE. SET: every column of the new tuple except unchanged TOAST values and columns whose
 * old value is known and equal (so an unchanged identity column is never assigned). WHERE: the
 * old key (from 'K'/'O' when the key changed, else the new tuple's key), or for FULL identity
 * exactly one row matching all old values. Returns null when nothing is to be set.
 */
export function updateStatement(table: TargetTable, change: { key?: Tuple; old?: Tuple; new: Tuple }): Statement | null {
  const before = change.old ?? change.key;
  const keySet = new Set(table.keyIdx);
  const values: unknown[] = [];
  const sets: string[] = [];
  change.new.forEach((v, p) => {
    const col = table.columns[p];
    if (!col || v === UNCHANGED_TOAST) return;
    if (!before && keySet.has(p)) return; // key unchanged: the server sent no old key
    if (before) {
      const known = change.old ? true : keySet.has(p);
      const was = before[p];
      if (known && was !== UNCHANGED_TOAST && was === v) return;
    }
    values.push(v);
    sets.push(`${quoteIdent(col.name)} = ${cast(values.length, col.type)}`);
  });
  if (sets.length === 0) return null;
  let where: string;
  if (table.full) {
    if (!change.old) throw new Error(`update on ${table.display}: REPLICA IDENTITY FULL but the change carries no old row`);
    where = oneRowByOldValues(table, change.old, values);
  } else {
    const key = keyValues(table, before ?? change.new, 'update');
    where = table.keyIdx
      .map((p, i) => {
        values.push(key[i]);
        return `${quoteIdent(table.columns[p]!.name)} = ${cast(values.length, table.columns[p]!.type)}`;
      })
      .join(' AND ');
  }
  return { text: `UPDATE ${table.sql} SET ${sets.join(', ')} WHERE ${where}`, values, expectRows: 1, what: 'update' };
}

/**
 * An UPDATE that can join a run of updates of its table: the key did not change (no old key in
 * the change), every new value is present (no unchanged TOAST) and the table has a key. Such an
 * update carries the whole new row, so several of them are one UPDATE ... FROM the rows, and a
 * later update of the same key replaces an earlier one in the run.
 */
export function updateJoinsRun(table: TargetTable, change: { key?: Tuple; old?: Tuple; new: Tuple }): boolean {
  if (table.full || change.key || change.old || table.keyIdx.length === 0 || table.keyIdx.length >= table.columns.length) return false;
  return !change.new.some((v) => v === UNCHANGED_TOAST);
}

/** The run key of an update that joins a run (its key values). */
export function updateRunKey(table: TargetTable, row: Tuple): string {
  return JSON.stringify(keyValues(table, row, 'update'));
}

/** One UPDATE for a run of whole new rows of one table (distinct keys): every non-key column set from the row. */
export function updateRunStatement(table: TargetTable, rows: Tuple[]): Statement {
  const keys = new Set(table.keyIdx);
  const positions = allPositions(table);
  const arrays = columnArrays(rows, positions, table, 'update');
  const v = (p: number) => `u.v${positions.indexOf(p) + 1}::${table.columns[p]!.type}`;
  const sets = positions.filter((p) => !keys.has(p)).map((p) => `${quoteIdent(table.columns[p]!.name)} = ${v(p)}`);
  const where = table.keyIdx.map((p) => `t.${quoteIdent(table.columns[p]!.name)} = ${v(p)}`).join(' AND ');
  return {
    text: `UPDATE ${table.sql} AS t SET ${sets.join(', ')} FROM ${rowsFrom(positions.length)} WHERE ${where}`,
    values: arrays,
    expectRows: rows.length,
    what: 'update',
  };
}

/** TRUNCATE of the tables one source TRUNCATE named together (no CASCADE: only migrated tables are emptied). */
export function truncateStatement(tables: TargetTable[], restartIdentity: boolean): Statement {
  return { text: `TRUNCATE TABLE ${tables.map((t) => t.sql).join(', ')}${restartIdentity ? ' RESTART IDENTITY' : ''}`, values: [], what: 'truncate' };
}

/** Rough size of a tuple's text, to bound batched statements. */
export function tupleBytes(t: Tuple): number {
  let n = 0;
  for (const v of t) if (typeof v === 'string') n += v.length;
  return n;
}

// ---------------------------------------------------------------- one round trip per batch

/**
 * node-postgres's escapeLiteral, the same output (unit-tested against it), without its
 * character-by-character string building: that takes ~130 ms for a 1.3 MB TOASTed value.
 */
export function escapeLiteral(v: string): string {
  const quoted = v.includes("'") ? v.replace(/'/g, "''") : v;
  if (!v.includes('\\')) return `'${quoted}'`;
  return ` E'${quoted.replace(/\\/g, '\\\\')}'`;
}

/**
 * A parameter value as an SQL literal: NULL; text through node-postgres's escapeLiteral (quotes
 * doubled; with a backslash, E'' and backslashes doubled, so the literal is the exact text
 * whatever standard_conforming_strings is); a text[] as ARRAY[...] (the statement's own
 * `::text[]` cast follows it); a count as its digits.
 */
export function sqlLiteral(v: unknown): string {
  if (v === null || v === undefined) return 'NULL';
  if (typeof v === 'string') {
    if (v.includes('\u0000')) throw new Error('a text value contains a NUL character');
    return escapeLiteral(v);
  }
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return String(v);
  if (Array.isArray(v)) return `ARRAY[${v.map(sqlLiteral).join(', ')}]`;
  throw new Error(`cannot write ${typeof v === 'symbol' ? 'an unchanged TOAST marker' : typeof v} as an SQL literal`);
}

const IDENT_CHAR = /[A-Za-z0-9_$\u0080-\uffff]/;

/**
 * The statement's text with every `$n` parameter replaced by sqlLiteral(values[n - 1]), for a
 * multi-statement simple query. Quoted identifiers (and string literals) are copied untouched, so
 * a `$1` inside a table or type name is never taken for a parameter.
 */
export function inlineStatement(s: Pick<Statement, 'text' | 'values'>): string {
  const t = s.text;
  let out = '';
  let i = 0;
  let from = 0;
  while (i < t.length) {
    const c = t[i]!;
    if (c === '"' || c === "'") {
      // to the closing quote; a doubled quote is part of the name / literal
      let j = i + 1;
      for (;;) {
        const k = t.indexOf(c, j);
        if (k < 0) throw new Error(`unterminated ${c === '"' ? 'identifier' : 'literal'} in statement: ${t.slice(0, 200)}`);
        if (t[k + 1] === c) {
          j = k + 2;
          continue;
        }
        i = k + 1;
        break;
      }
      continue;
    }
    if (c === '$' && /[0-9]/.test(t[i + 1] ?? '') && (i === 0 || !IDENT_CHAR.test(t[i - 1]!))) {
      let j = i + 1;
      while (j < t.length && /[0-9]/.test(t[j]!)) j++;
      const n = Number(t.slice(i + 1, j));
      if (n < 1 || n > s.values.length) throw new Error(`statement refers to $${n} but has ${s.values.length} value(s)`);
      out += t.slice(from, i) + sqlLiteral(s.values[n - 1]);
      i = j;
      from = j;
      continue;
    }
    i++;
  }
  return out + t.slice(from);
}

/** Statements as one simple-query text (executed in order; the first error aborts the rest). */
export function multiStatement(statements: Pick<Statement, 'text' | 'values'>[]): string {
  return statements.map(inlineStatement).join(';\n');
}
