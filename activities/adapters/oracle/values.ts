// Values on their way from PostgreSQL to Oracle: the SELECT expression that reads each column in
// a fixed text form (sessions run with TimeZone=UTC, DateStyle=ISO, extra_float_digits=3), the
// check and conversion in between, and the SQL expression that binds it on the Oracle side.
// A value Oracle cannot hold exactly fails here, naming the column, rather than being rounded.
//
// Empty strings: Oracle stores '' as NULL in VARCHAR2, CHAR and CLOB. Policy (EmptyStringPolicy):
//   'null'   (default) '' becomes NULL, as Oracle itself does; a NOT NULL column holding '' fails
//            at copy time naming the column, since Oracle would refuse the row (ORA-01400).
//   'space'  '' becomes a single space ' ' in every text column (reversible by convention only).
//   'reject' any '' fails at copy time naming the column.
// Validation compares '' on the source with NULL on the target as equal under 'null'.
import { CopyFailed } from '../errors';
import type { ColumnMapping, ValueKind } from './types';

export type EmptyStringPolicy = 'null' | 'space' | 'reject';

/** The SELECT expression on the PostgreSQL side for a column (given already quoted). */
export function pgReadExpr(kind: ValueKind, pgType: string, quotedColumn: string): string {
  const c = quotedColumn;
  const finite = (fmt: string, expr = c) => `CASE WHEN pg_catalog.isfinite(${c}) THEN pg_catalog.to_char(${expr}, '${fmt}') ELSE ${c}::text END`;
  if (pgType.endsWith('[]')) return `pg_catalog.to_json(${c})::text`;
  switch (kind) {
    case 'number':
      return pgType === 'money' ? `${c}::numeric::text` : `${c}::text`;
    case 'date':
      return finite('YYYY-MM-DD');
    case 'timestamp':
      return finite('YYYY-MM-DD HH24:MI:SS.US');
    case 'timestamptz':
      return finite('YYYY-MM-DD HH24:MI:SS.US', `${c} AT TIME ZONE 'UTC'`);
    case 'interval_ym':
      return `(pg_catalog.date_part('year', ${c})::int8 * 12 + pg_catalog.date_part('month', ${c})::int8)::text`;
    case 'interval_ds':
      return `pg_catalog.extract(epoch FROM ${c})::text`;
    case 'blob':
      return c; // bytea arrives as a Buffer
    default:
      return `${c}::text`;
  }
}

const TS_FMT = "'YYYY-MM-DD HH24:MI:SS.FF6'";

/** The expression on the Oracle side that turns bind `:n` into the column's type. */
export function oracleBindExpr(kind: ValueKind, placeholder: string): string {
  switch (kind) {
    case 'number':
      // Explicit, so MERGE's ON compares numbers with numbers (the session's NLS_NUMERIC_CHARACTERS is '.,').
      return `TO_NUMBER(${placeholder})`;
    case 'date':
      return `TO_DATE(${placeholder}, 'YYYY-MM-DD')`;
    case 'timestamp':
      return `TO_TIMESTAMP(${placeholder}, ${TS_FMT})`;
    case 'timestamptz':
      return `FROM_TZ(TO_TIMESTAMP(${placeholder}, ${TS_FMT}), '+00:00')`;
    case 'time':
      return `TO_DSINTERVAL(${placeholder})`;
    case 'interval_ym':
      return `NUMTOYMINTERVAL(${placeholder}, 'MONTH')`;
    case 'interval_ds':
      return `NUMTODSINTERVAL(${placeholder}, 'SECOND')`;
    case 'uuid':
      return `HEXTORAW(${placeholder})`;
    default:
      return placeholder;
  }
}

export type BindValue = string | number | boolean | Buffer | null;

export interface ValueContext {
  /** schema.table.column for messages. */
  where: string;
  policy: EmptyStringPolicy;
}

function fail(ctx: ValueContext, why: string): never {
  throw new CopyFailed(`${ctx.where}: ${why}`);
}

/** Significant digits and decimal exponent of a plain decimal string (PostgreSQL numeric text). */
export function decimalShape(s: string): { digits: number; exponent: number } | null {
  const m = /^[+-]?(\d*)(?:\.(\d*))?$/.exec(s);
  if (!m || (m[1] === '' && (m[2] ?? '') === '')) return null;
  const all = `${m[1]}${m[2] ?? ''}`.replace(/^0+/, '');
  if (all === '') return { digits: 0, exponent: 0 };
  const sig = all.replace(/0+$/, '');
  // Position of the most significant digit relative to the decimal point.
  const intDigits = m[1]!.replace(/^0+/, '').length;
  const exponent = intDigits > 0 ? intDigits - 1 : -((m[2] ?? '').length - (m[2] ?? '').replace(/^0+/, '').length) - 1;
  return { digits: sig.length, exponent };
}

function checkNumber(v: string, ctx: ValueContext): string {
  if (v === 'NaN' || v === 'Infinity' || v === '-Infinity') fail(ctx, `${v} cannot be stored in an Oracle NUMBER`);
  const shape = decimalShape(v);
  if (!shape) fail(ctx, `'${v}' is not a decimal number`);
  if (shape.digits > 38) fail(ctx, `${v} has ${shape.digits} significant digits; Oracle NUMBER keeps 38`);
  if (shape.digits > 0 && (shape.exponent > 125 || shape.exponent < -130)) fail(ctx, `${v} is outside Oracle NUMBER's range (1E-130 .. 9.99E125)`);
  return v;
}

function checkDatePart(v: string, ctx: ValueContext): void {
  if (v === 'infinity' || v === '-infinity') fail(ctx, `${v} has no Oracle equivalent`);
  if (v.endsWith(' BC') || !/^\d{4}-/.test(v)) fail(ctx, `${v} is outside Oracle's years 1..9999`);
}

/** PostgreSQL time text `HH:MI:SS[.US]` as an Oracle day-to-second literal since midnight. */
export function timeToDsInterval(v: string): string {
  const m = /^(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?$/.exec(v);
  if (!m) throw new Error(`'${v}' is not a time of day`);
  const frac = (m[4] ?? '').padEnd(6, '0');
  // 24:00:00 is a valid PostgreSQL time: one whole day.
  if (m[1] === '24') return `+1 00:00:00.${frac}`;
  return `+0 ${m[1]}:${m[2]}:${m[3]}.${frac}`;
}

function text(v: string, m: ColumnMapping, ctx: ValueContext): string | null {
  if (v === '') {
    switch (ctx.policy) {
      case 'space':
        return ' ';
      case 'reject':
        return fail(ctx, "holds '' (empty string), which Oracle stores as NULL; the empty-string policy is 'reject'");
      case 'null':
        if (m.notNull) {
          return fail(ctx, "holds '' (empty string) in a NOT NULL column; Oracle stores '' as NULL and would refuse the row: use the 'space' empty-string policy or allow NULL on the target");
        }
        return null;
    }
  }
  if (m.maxBytes !== undefined && m.kind === 'text') {
    const bytes = Buffer.byteLength(v, 'utf8');
    if (bytes > m.maxBytes) fail(ctx, `a value of ${bytes} bytes exceeds ${m.oracleType}'s ${m.maxBytes}-byte limit`);
  }
  return v;
}

/** Convert one value read by pgReadExpr into what is bound for oracleBindExpr. */
export function toBindValue(raw: string | Buffer | null, m: ColumnMapping, ctx: ValueContext): BindValue {
  if (raw === null) return null;
  if (Buffer.isBuffer(raw)) {
    if (m.kind !== 'blob') fail(ctx, 'binary value for a non-binary column');
    return raw;
  }
  switch (m.kind) {
    case 'number':
      return checkNumber(raw, ctx);
    case 'binary_float':
    case 'binary_double': {
      if (raw === 'NaN') return Number.NaN;
      if (raw === 'Infinity') return Number.POSITIVE_INFINITY;
      if (raw === '-Infinity') return Number.NEGATIVE_INFINITY;
      const n = Number(raw);
      if (Number.isNaN(n)) fail(ctx, `'${raw}' is not a floating-point number`);
      return n;
    }
    case 'bool_number':
    case 'bool': {
      const b = raw === 'true' || raw === 't' ? true : raw === 'false' || raw === 'f' ? false : fail(ctx, `'${raw}' is not a boolean`);
      return m.kind === 'bool' ? b : b ? 1 : 0;
    }
    case 'text':
    case 'clob':
      return text(raw, m, ctx);
    case 'blob':
      return Buffer.from(raw.startsWith('\\x') ? raw.slice(2) : raw, 'hex');
    case 'date':
      checkDatePart(raw, ctx);
      return raw;
    case 'timestamp':
    case 'timestamptz':
      checkDatePart(raw, ctx);
      return raw;
    case 'time':
      try {
        return timeToDsInterval(raw);
      } catch {
        return fail(ctx, `'${raw}' is not a time of day`);
      }
    case 'interval_ym':
    case 'interval_ds': {
      const shape = decimalShape(raw);
      if (!shape) fail(ctx, `'${raw}' is not an interval length`);
      return raw;
    }
    case 'uuid': {
      const hex = raw.replace(/-/g, '');
      if (!/^[0-9a-fA-F]{32}$/.test(hex)) fail(ctx, `'${raw}' is not a UUID`);
      return hex.toUpperCase();
    }
  }
}

/** Bytes a value occupies in a batch: for batch sizing and progress. */
export function bindBytes(v: BindValue): number {
  if (v === null) return 1;
  if (typeof v === 'string') return Buffer.byteLength(v, 'utf8');
  if (Buffer.isBuffer(v)) return v.length;
  return 8;
}
