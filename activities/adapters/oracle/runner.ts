// Where Oracle flow steps run. A step is SQL/PL/SQL (run on a database session through
// node-oracledb), an RMAN or DGMGRL script (fed on standard input to the tool on the database
// host: the host's shell, or `kubectl exec` into El Carro's database container), or a plain
// command (gcloud, mkdir). Scripts go on stdin, never argv, so passwords in CONNECT lines do
// not show in process listings.
import type oracledb from 'oracledb';
import { FerryError } from '../errors';
import { hostRunner, kubectlExecRunner, kubectlExecArgv, type CommandResult, type CommandRunner } from '../rman';

export { hostRunner, kubectlExecRunner, kubectlExecArgv, type CommandResult, type CommandRunner };

/** A flow step failed; the message carries Oracle's own error lines (ORA-, RMAN-, DGM-). */
export class OracleStepFailed extends FerryError {
  readonly retryable = false;
}

/** Runs SQL and PL/SQL on one database session. */
export interface SqlRunner {
  readonly description: string;
  /** Statements and PL/SQL blocks; binds by name. Returns rows as arrays (queries) or nothing. */
  execute(sql: string, binds?: Record<string, string | number | null>): Promise<unknown[][]>;
}

/** A SqlRunner over an open node-oracledb connection (DDL and PL/SQL autocommit). */
export function oracledbSqlRunner(conn: Pick<oracledb.Connection, 'execute'>, description: string): SqlRunner {
  return {
    description,
    async execute(sql, binds) {
      const r = await conn.execute<unknown[]>(sql, binds ?? {}, { autoCommit: true });
      return r.rows ?? [];
    },
  };
}

/** A fetched cell as text (numbers, strings, bigints; anything else as JSON). */
export function cellText(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean') return String(v);
  return JSON.stringify(v);
}

/** The error lines a DBA recognises, from any Oracle tool's output. */
export function oracleErrors(output: string): string[] {
  return [...new Set(output.match(/\b(?:(?:RMAN|ORA|DGM|TNS)-\d{5}|NJS-\d{3}):?[^\n]*/g) ?? [])].map((l) => l.trim());
}

/** Redact `user/password@` in CONNECT lines before a script or its output goes into a message or log. */
export function redact(text: string): string {
  return text.replace(/(CONNECT\s+(?:TARGET\s+|AUXILIARY\s+)?["']?[A-Za-z0-9_$#]+\/)[^@\s"']+/gi, '$1***');
}
