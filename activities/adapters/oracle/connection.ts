// Connections to Oracle through node-oracledb in THIN mode (pure JavaScript: no Instant Client,
// so never initOracleClient). DTS distinguishes the two ways to name a database: a SID for a
// non-RAC instance, a service name for RAC or a PDB. Easy Connect can only carry a service
// name, so a SID is sent as a full TNS descriptor.
import oracledb from 'oracledb';
import type { ResolvedEndpoint } from '../engine';
import { AuthenticationFailed, ConnectionFailed, FerryError } from '../errors';

export interface OracleEndpoint {
  host: string;
  port: number;
  user: string;
  password?: string;
  /** Exactly one of serviceName, sid, descriptor. */
  serviceName?: string;
  sid?: string;
  /** A full TNS connect descriptor `(DESCRIPTION=...)`, used as given (RAC SCAN, failover lists). */
  descriptor?: string;
  /** tcps when the spec asks for TLS (sslmode require/verify-*). */
  protocol: 'tcp' | 'tcps';
}

/** Bad endpoint settings: no retry helps. */
export class InvalidOracleEndpoint extends FerryError {
  readonly retryable = false;
}

const HOST = /^[A-Za-z0-9._:-]+$/;
const SERVICE = /^[A-Za-z0-9_.$#-]+$/;

/**
 * Until the spec has Oracle fields, an Oracle endpoint rides in the generic one: `database` is
 * `sid:ORCL` for a SID, `(DESCRIPTION=...)` for a descriptor, otherwise a service name.
 */
export function oracleEndpointFrom(ep: ResolvedEndpoint & { serviceName?: string; sid?: string }): OracleEndpoint {
  const protocol = ep.sslmode === 'require' || ep.sslmode === 'verify-ca' || ep.sslmode === 'verify-full' ? 'tcps' : 'tcp';
  const base = { host: ep.host, port: ep.port, user: ep.user, password: ep.password, protocol } as const;
  if (ep.serviceName !== undefined && ep.sid !== undefined) throw new InvalidOracleEndpoint('give either serviceName or sid, not both');
  if (ep.serviceName !== undefined) return { ...base, serviceName: ep.serviceName };
  if (ep.sid !== undefined) return { ...base, sid: ep.sid };
  const db = ep.database.trim();
  if (db.toLowerCase().startsWith('sid:')) return { ...base, sid: db.slice(4) };
  if (db.startsWith('(')) return { ...base, descriptor: db };
  return { ...base, serviceName: db.replace(/^service:/i, '') };
}

function balanced(s: string): boolean {
  let depth = 0;
  for (const ch of s) {
    if (ch === '(') depth++;
    else if (ch === ')' && --depth < 0) return false;
  }
  return depth === 0;
}

/** The connect string node-oracledb gets: Easy Connect for a service, a descriptor for a SID. */
export function connectString(ep: OracleEndpoint): string {
  const given = [ep.serviceName, ep.sid, ep.descriptor].filter((x) => x !== undefined).length;
  if (given !== 1) throw new InvalidOracleEndpoint('an Oracle endpoint needs exactly one of serviceName, sid or a TNS descriptor');
  if (ep.descriptor !== undefined) {
    if (!/^\(\s*DESCRIPTION/i.test(ep.descriptor) || !balanced(ep.descriptor)) {
      throw new InvalidOracleEndpoint('the TNS descriptor must be a balanced (DESCRIPTION=...) expression');
    }
    return ep.descriptor;
  }
  if (!HOST.test(ep.host)) throw new InvalidOracleEndpoint(`host '${ep.host}' may only hold letters, digits, '.', ':', '_' and '-'`);
  if (!Number.isInteger(ep.port) || ep.port < 1 || ep.port > 65535) throw new InvalidOracleEndpoint(`port ${ep.port} is not a TCP port`);
  // IPv6 literals need brackets in Easy Connect; descriptors take them bare.
  const host = ep.host.includes(':') ? `[${ep.host}]` : ep.host;
  if (ep.serviceName !== undefined) {
    if (!SERVICE.test(ep.serviceName)) throw new InvalidOracleEndpoint(`service name '${ep.serviceName}' may only hold [A-Za-z0-9_.$#-]`);
    return `${ep.protocol === 'tcps' ? 'tcps://' : ''}${host}:${ep.port}/${ep.serviceName}`;
  }
  const sid = ep.sid!;
  if (!SERVICE.test(sid)) throw new InvalidOracleEndpoint(`SID '${sid}' may only hold [A-Za-z0-9_.$#-]`);
  return `(DESCRIPTION=(ADDRESS=(PROTOCOL=${ep.protocol.toUpperCase()})(HOST=${ep.host})(PORT=${ep.port}))(CONNECT_DATA=(SID=${sid})))`;
}

/** Same settings on every session: UTC, '.' decimal separator (numbers are bound as text), ISO formats. */
export const SESSION_SETUP: readonly string[] = [
  "ALTER SESSION SET TIME_ZONE = '+00:00'",
  "ALTER SESSION SET NLS_NUMERIC_CHARACTERS = '.,'",
  "ALTER SESSION SET NLS_DATE_FORMAT = 'YYYY-MM-DD HH24:MI:SS'",
  "ALTER SESSION SET NLS_TIMESTAMP_FORMAT = 'YYYY-MM-DD HH24:MI:SS.FF6'",
  "ALTER SESSION SET NLS_TIMESTAMP_TZ_FORMAT = 'YYYY-MM-DD HH24:MI:SS.FF6 TZH:TZM'",
];

function errorCode(err: unknown): string | undefined {
  const m = /\b((?:ORA|TNS)-\d{5}|NJS-\d{3})\b/.exec(err instanceof Error ? err.message : String(err));
  return m?.[1];
}

const AUTH = new Set(['ORA-01017', 'ORA-28000', 'ORA-28001', 'ORA-01045', 'ORA-01005', 'ORA-28009']);
const NOT_THERE = new Set(['ORA-12514', 'ORA-12505']);
const UNREACHABLE = new Set([
  'ORA-12541', 'ORA-12170', 'ORA-12543', 'ORA-12537', 'ORA-03113', 'ORA-03114', 'ORA-03135', 'ORA-12528', 'ORA-01033', 'ORA-01034', 'ORA-01089',
  'NJS-500', 'NJS-501', 'NJS-503', 'NJS-510', 'NJS-521',
]);

/** Map a driver error to what a user can act on; anything unknown passes through. */
export function classifyOracleError(err: unknown, ep: OracleEndpoint): unknown {
  if (err instanceof FerryError) return err;
  const code = errorCode(err);
  const where = `${ep.user}@${ep.descriptor ?? `${ep.host}:${ep.port}/${ep.serviceName ?? `SID ${ep.sid}`}`}`;
  const msg = err instanceof Error ? err.message : String(err);
  if (code && AUTH.has(code)) return new AuthenticationFailed(`Oracle refused ${where}: ${msg}`, { cause: err });
  if (code && NOT_THERE.has(code)) {
    const hint =
      ep.sid !== undefined
        ? 'the listener knows no such SID: for a RAC or PDB database give the service name instead'
        : 'the listener knows no such service: for a non-RAC instance addressed by SID use sid:NAME';
    return new ConnectionFailed(`Oracle at ${where}: ${hint} (${msg})`, { cause: err });
  }
  const sysCode = (err as { code?: unknown } | null)?.code;
  if ((code && UNREACHABLE.has(code)) || sysCode === 'ECONNREFUSED' || sysCode === 'ETIMEDOUT' || sysCode === 'ENOTFOUND' || sysCode === 'ECONNRESET') {
    return new ConnectionFailed(`Oracle at ${where} is unreachable: ${msg}`, { cause: err });
  }
  return err;
}

export interface ConnectOracleOptions {
  connectTimeoutSeconds?: number;
  /** SYSDBA etc. for flows that need it (Data Guard broker setup). */
  privilege?: number;
}

/** Open a THIN session with Ferry's session settings; errors classified. */
export async function connectOracle(ep: OracleEndpoint, options: ConnectOracleOptions = {}): Promise<oracledb.Connection> {
  let conn: oracledb.Connection | undefined;
  try {
    conn = await oracledb.getConnection({
      user: ep.user,
      password: ep.password,
      connectString: connectString(ep),
      connectTimeout: options.connectTimeoutSeconds ?? 30,
      ...(options.privilege !== undefined ? { privilege: options.privilege } : {}),
    });
    for (const sql of SESSION_SETUP) await conn.execute(sql);
    return conn;
  } catch (err) {
    await conn?.close().catch(() => undefined);
    throw classifyOracleError(err, ep);
  }
}

export async function withOracle<T>(ep: OracleEndpoint, fn: (c: oracledb.Connection) => Promise<T>): Promise<T> {
  const conn = await connectOracle(ep);
  try {
    return await fn(conn);
  } catch (err) {
    throw classifyOracleError(err, ep);
  } finally {
    await conn.close().catch(() => undefined);
  }
}

/** `oracleServerVersion` (e.g. 1903000000) as major.minor. */
export function versionOf(n: number): { major: number; minor: number } {
  return { major: Math.floor(n / 100_000_000), minor: Math.floor(n / 1_000_000) % 100 };
}
