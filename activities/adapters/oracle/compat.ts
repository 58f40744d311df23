// DTS migrates no schema: the Oracle tables must exist before the load. So the mapping in
// types.ts says what Ferry WOULD create, and this file checks each existing target column
// against it: compatible (possibly binding differently, e.g. a text key stored in VARCHAR2
// rather than CLOB), compatible with a warning (precision, time zone), or incompatible.
import type { CheckStatus } from '../../../workflows/types';
import type { OracleColumnRow } from './catalog';
import type { ColumnMapping, ValueKind } from './types';

export interface Compatibility {
  status: CheckStatus;
  /** The mapping adjusted to the real target column (kind and byte limit). */
  mapping: ColumnMapping;
  message: string;
}

function family(dataType: string): string {
  const t = dataType.toUpperCase();
  if (t.startsWith('TIMESTAMP') && t.endsWith('WITH TIME ZONE')) return 'TSTZ';
  if (t.startsWith('TIMESTAMP') && t.endsWith('WITH LOCAL TIME ZONE')) return 'TSLTZ';
  if (t.startsWith('TIMESTAMP')) return 'TS';
  if (t.startsWith('INTERVAL DAY')) return 'IDS';
  if (t.startsWith('INTERVAL YEAR')) return 'IYM';
  return t;
}

const TEXTUAL: ValueKind[] = ['text', 'clob', 'number', 'uuid'];

/** Check one target column against the mapping of its source column. */
export function checkTargetColumn(m: ColumnMapping, col: OracleColumnRow): Compatibility {
  const ok = (mapping: ColumnMapping = m, message = `${col.dataType} accepts ${m.pgType}`): Compatibility => ({ status: 'pass', mapping, message });
  const warn = (message: string, mapping: ColumnMapping = m): Compatibility => ({ status: 'warning', mapping, message });
  const bad = (why: string): Compatibility => ({ status: 'fail', mapping: m, message: `${col.dataType} cannot hold ${m.pgType}: ${why} (Ferry would use ${m.oracleType})` });
  if (col.virtual) return bad('it is a virtual column');
  const f = family(col.dataType);
  switch (f) {
    case 'NUMBER':
    case 'FLOAT':
      if (m.kind === 'bool' || m.kind === 'bool_number') return ok({ ...m, kind: 'bool_number' });
      if (m.kind === 'binary_float' || m.kind === 'binary_double') return warn('floating-point values go into NUMBER: NaN and Infinity will fail at copy time');
      if (m.kind !== 'number') return bad('not a number');
      {
        const want = /^NUMBER\((\d+),(-?\d+)\)$/.exec(m.oracleType) ?? /^NUMBER\((\d+)\)$/.exec(m.oracleType);
        if (want && col.precision !== null) {
          const wantInt = Number(want[1]) - Number(want[2] ?? 0);
          const haveInt = col.precision - (col.scale ?? 0);
          if (haveInt < wantInt || (col.scale ?? 0) < Number(want[2] ?? 0)) {
            return warn(`NUMBER(${col.precision},${col.scale ?? 0}) is narrower than ${m.oracleType}: larger values or more decimals fail at copy time`);
          }
        }
      }
      return ok();
    case 'BINARY_FLOAT':
    case 'BINARY_DOUBLE':
      if (m.kind === 'binary_float' || m.kind === 'binary_double') return ok({ ...m, kind: f === 'BINARY_FLOAT' ? 'binary_float' : 'binary_double' });
      if (m.kind === 'number') return warn('decimal values go into a binary floating-point column: they are rounded');
      return bad('not a number');
    case 'BOOLEAN':
      return m.kind === 'bool' || m.kind === 'bool_number' ? ok({ ...m, kind: 'bool' }) : bad('not a boolean');
    case 'VARCHAR2':
    case 'NVARCHAR2':
    case 'CHAR':
    case 'NCHAR': {
      if (!TEXTUAL.includes(m.kind)) return bad('values of this type are not text');
      // DATA_LENGTH is bytes under either length semantics.
      const maxBytes = col.dataLength;
      const adjusted: ColumnMapping = { ...m, kind: m.kind === 'clob' ? 'text' : m.kind, maxBytes };
      if (m.kind === 'uuid') return ok({ ...m, kind: 'text', maxBytes }, `${col.dataType} holds the UUID as text`);
      if (m.kind === 'clob') return warn(`${m.pgType} is unbounded; ${col.dataType}(${col.charLength} ${col.charUsed === 'C' ? 'CHAR' : 'BYTE'}) holds at most ${col.dataLength} bytes: longer values fail at copy time`, adjusted);
      return ok(adjusted);
    }
    case 'CLOB':
    case 'NCLOB':
    case 'JSON':
    case 'LONG':
      return TEXTUAL.includes(m.kind) ? ok({ ...m, kind: m.kind === 'uuid' ? 'text' : 'clob', maxBytes: undefined }) : bad('values of this type are not text');
    case 'BLOB':
      return m.kind === 'blob' ? ok() : bad('not binary');
    case 'RAW':
      if (m.kind === 'uuid') return col.dataLength >= 16 ? ok() : bad('RAW shorter than 16 bytes');
      return bad('Ferry writes RAW only for uuid');
    case 'DATE':
      if (m.kind === 'date') return ok();
      if (m.kind === 'timestamp') return warn('DATE keeps whole seconds: fractional seconds are dropped', { ...m, kind: 'timestamp' });
      return bad('not a date');
    case 'TS':
      return m.kind === 'timestamp' || m.kind === 'date' ? ok() : m.kind === 'timestamptz' ? warn('the instant is stored as a UTC wall-clock time without zone') : bad('not a timestamp');
    case 'TSTZ':
    case 'TSLTZ':
      return m.kind === 'timestamptz' ? ok() : m.kind === 'timestamp' ? warn('a wall-clock time goes into a zoned column: it is taken as UTC', { ...m, kind: 'timestamptz' }) : bad('not a timestamp');
    case 'IDS':
      return m.kind === 'time' || m.kind === 'interval_ds' ? ok() : bad('not a day-to-second interval');
    case 'IYM':
      return m.kind === 'interval_ym' ? ok() : bad('not a year-to-month interval');
    default:
      return bad(`Ferry does not write ${col.dataType} columns`);
  }
}
