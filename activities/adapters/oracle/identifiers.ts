// The one place Oracle identifiers and string literals are put into SQL, PL/SQL, RMAN and DGMGRL
// text. Identifiers are always double-quoted, so case and special characters are carried
// exactly; what Oracle cannot represent even quoted (a double quote, NUL, too many bytes) is
// refused here rather than failing halfway through a load.
import { FerryError } from '../errors';

/** A name Oracle cannot hold, or a literal that cannot be written safely. */
export class InvalidOracleIdentifier extends FerryError {
  readonly retryable = false;
}

/** 30 bytes before 12.2 (and with COMPATIBLE < 12.2), 128 bytes from 12.2 on. */
export type IdentifierLimit = 30 | 128;

export function identifierLimitFor(version: { major: number; minor?: number }): IdentifierLimit {
  return version.major > 12 || (version.major === 12 && (version.minor ?? 1) >= 2) ? 128 : 30;
}

/**
 * Quote an Oracle identifier: `Order Lines` -> `"Order Lines"`. Always quotes. Oracle has no
 * escape for `"` inside a quoted identifier, so such names are refused. The limit is in bytes
 * of the database character set; Ferry requires AL32UTF8 (checked in precheck), so UTF-8 bytes.
 */
export function quoteOracleIdent(name: string, limit: IdentifierLimit = 128): string {
  if (name.length === 0) throw new InvalidOracleIdentifier('empty Oracle identifier');
  if (name.includes('"')) throw new InvalidOracleIdentifier(`Oracle identifier ${JSON.stringify(name)} contains a double quote, which Oracle cannot represent`);
  if (name.includes('\u0000')) throw new InvalidOracleIdentifier(`Oracle identifier ${JSON.stringify(name)} contains a NUL character`);
  const bytes = Buffer.byteLength(name, 'utf8');
  if (bytes > limit) {
    throw new InvalidOracleIdentifier(
      `Oracle identifier ${JSON.stringify(name)} is ${bytes} bytes; the target allows ${limit}${limit === 30 ? ' (before 12.2)' : ''}: rename it in the spec`,
    );
  }
  return `"${name}"`;
}

/** `"SCHEMA"."TABLE"`. */
export function qualifyOracle(schema: string, name: string, limit: IdentifierLimit = 128): string {
  return `${quoteOracleIdent(schema, limit)}.${quoteOracleIdent(name, limit)}`;
}

/**
 * The Oracle name for a PostgreSQL name. PostgreSQL folds unquoted names to lower case, Oracle
 * to UPPER case; a plain lower-case PostgreSQL name (`order_lines`) is what a user wrote
 * unquoted, so it becomes the name the same unquoted text means in Oracle (`ORDER_LINES`).
 * Anything else (mixed case, spaces, non-ASCII) was quoted on purpose and is kept exactly.
 */
export function oracleNameFor(pgName: string): string {
  return /^[a-z][a-z0-9_$#]*$/.test(pgName) ? pgName.toUpperCase() : pgName;
}

/** A single-quoted SQL string literal, quotes doubled. Only for values that cannot be binds (DDL, PL/SQL job arguments, RMAN, DGMGRL). */
export function quoteOracleLiteral(value: string): string {
  if (value.includes('\u0000')) throw new InvalidOracleIdentifier(`literal ${JSON.stringify(value)} contains a NUL character`);
  return `'${value.replace(/'/g, "''")}'`;
}

/**
 * Names that go into RMAN / DGMGRL / Data Pump arguments (DB_UNIQUE_NAME, directory objects,
 * job names, tags): Oracle's unquoted identifier characters only, so no quoting question arises.
 */
export function checkSimpleName(what: string, value: string, maxBytes = 30): string {
  if (!/^[A-Za-z][A-Za-z0-9_$#]*$/.test(value) || value.length > maxBytes) {
    throw new InvalidOracleIdentifier(`${what} '${value}' must be 1-${maxBytes} of [A-Za-z0-9_$#], starting with a letter`);
  }
  return value;
}
