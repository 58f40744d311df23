// connectivity: open a read-only session on each side, or say why not, in terms a person can act
// on: name resolution, connection refused, timeout, authentication, TLS, missing database.
import type pg from 'pg';
import type { PrecheckItem } from '../../../../workflows/types';
import type { ResolvedEndpoint } from '../../engine';
import { AuthenticationFailed } from '../../errors';
import { classifyError, connectEndpoint, pgCode } from '../connect';
import { fail, pass } from './common';

/** Settings of every precheck session: nothing it runs can write, wait long on a lock, or run away. */
export const PRECHECK_SETTINGS: Record<string, string> = {
  default_transaction_read_only: 'on',
  lock_timeout: '5s',
  statement_timeout: '120s',
};

export type Diagnosis = 'name resolution' | 'connection refused' | 'timeout' | 'authentication' | 'TLS' | 'database missing' | 'network' | 'other';

/** Which kind of failure an error from connecting is. */
export function diagnose(err: unknown): Diagnosis {
  const root = (err as { cause?: unknown })?.cause ?? err;
  const code = pgCode(root) ?? pgCode(err);
  const msg = `${String((err as Error)?.message ?? err)} ${String((root as Error)?.message ?? '')}`;
  if (err instanceof AuthenticationFailed || code === '28P01' || code === '28000') return 'authentication';
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN' || /does not resolve|could not be resolved/i.test(msg)) return 'name resolution';
  if (code === 'ECONNREFUSED' || /connection refused/i.test(msg)) return 'connection refused';
  if (code === 'ETIMEDOUT' || /timeout|timed out/i.test(msg)) return 'timeout';
  if (/SSL|TLS|certificate|self[- ]signed/i.test(msg)) return 'TLS';
  if (code === '3D000' || /database ".*" does not exist/i.test(msg)) return 'database missing';
  if (code && /^E[A-Z]+$/.test(code)) return 'network';
  return 'other';
}

const REMEDY: Record<Diagnosis, string> = {
  'name resolution': 'check the host name (typo? DNS reachable from the worker?)',
  'connection refused': 'check the port and that the server runs and listens on that address (listen_addresses)',
  timeout: 'check firewalls, security groups and routes between the worker and the server, and the host address',
  authentication: 'check the user, the password secret and pg_hba.conf (which methods and addresses it admits)',
  TLS: 'check sslmode against the server (ssl=on? certificate trusted by the worker for verify-ca/verify-full?)',
  'database missing': 'create the database or fix the database name',
  network: 'check the network between the worker and the server',
  other: 'check host, port, database, user, password secret and sslmode',
};

export async function checkConnectivity(
  ep: ResolvedEndpoint,
  side: 'source' | 'target',
  connectTimeoutMs = 15_000,
): Promise<{ client: pg.Client | null; item: PrecheckItem }> {
  const id = `connectivity.${side}`;
  try {
    const client = await connectEndpoint(ep, { settings: PRECHECK_SETTINGS, connectTimeoutMs });
    return { client, item: pass(id, `connected to ${side} ${ep.host}:${ep.port} database "${ep.database}" as "${ep.user}"`) };
  } catch (err) {
    const e = classifyError(err, ep);
    const what = diagnose(e);
    const message = (e as Error)?.message ?? String(e);
    return { client: null, item: fail(id, `${side} (${what}): ${message}`, REMEDY[what]) };
  }
}
