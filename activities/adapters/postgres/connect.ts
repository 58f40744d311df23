// Connections to the source and target: TLS from the spec's sslmode, fixed session settings so
// text output is identical on both sides, and errors classified into what a user can act on.
import pg from 'pg';
import type { ConnectionOptions } from 'node:tls';
import type { ResolvedEndpoint } from '../engine';
import { AuthenticationFailed, ConnectionFailed, FerryError } from '../errors';

export const APPLICATION_NAME = 'ferry';

/** Session settings every Ferry connection runs with (also given to pg_dump/pg_restore via PGOPTIONS where safe). */
export const SESSION_SETTINGS: Readonly<Record<string, string>> = {
  TimeZone: 'UTC',
  DateStyle: 'ISO',
  extra_float_digits: '3',
  bytea_output: 'hex',
  IntervalStyle: 'postgres',
  // Everything Ferry writes is schema-qualified; catalog renderings (regclass, regprocedure) come out qualified too.
  search_path: 'pg_catalog',
};

export interface ConnectOptions {
  /** Extra `-c name=value` settings for this session (e.g. default_transaction_read_only=off for the fence). */
  settings?: Record<string, string>;
  connectTimeoutMs?: number;
}

export function startupOptions(settings: Record<string, string>): string {
  return Object.entries(settings)
    .map(([k, v]) => `-c ${k}=${v.replace(/\\/g, '\\\\').replace(/ /g, '\\ ')}`)
    .join(' ');
}

export function sslConfig(sslmode: ResolvedEndpoint['sslmode']): false | ConnectionOptions {
  switch (sslmode) {
    case 'disable':
      return false;
    case 'prefer':
    case 'require':
      return { rejectUnauthorized: false };
    case 'verify-ca':
      return { rejectUnauthorized: true, checkServerIdentity: () => undefined };
    case 'verify-full':
      return { rejectUnauthorized: true };
  }
}

export function clientConfig(ep: ResolvedEndpoint, ssl: false | ConnectionOptions, options: ConnectOptions): pg.ClientConfig {
  return {
    host: ep.host,
    port: ep.port,
    database: ep.database,
    user: ep.user,
    password: ep.password,
    ssl,
    application_name: APPLICATION_NAME,
    options: startupOptions({ ...SESSION_SETTINGS, ...options.settings }),
    connectionTimeoutMillis: options.connectTimeoutMs ?? 30_000,
    keepAlive: true,
  };
}

async function tryConnect(config: pg.ClientConfig): Promise<pg.Client> {
  const client = new pg.Client(config);
  // A connection lost while idle is reported on the next query; never crash the worker on the event.
  client.on('error', () => undefined);
  try {
    await client.connect();
    return client;
  } catch (err) {
    await client.end().catch(() => undefined);
    throw err;
  }
}

/** Open a session on an endpoint; throws ConnectionFailed / AuthenticationFailed with a diagnosis. */
export async function connectEndpoint(ep: ResolvedEndpoint, options: ConnectOptions = {}): Promise<pg.Client> {
  const ssl = sslConfig(ep.sslmode);
  try {
    try {
      return await tryConnect(clientConfig(ep, ssl, options));
    } catch (err) {
      // prefer: TLS when the server offers it, plain otherwise (libpq semantics).
      if (ep.sslmode === 'prefer' && /does not support SSL/i.test(String((err as Error)?.message))) {
        return await tryConnect(clientConfig(ep, false, options));
      }
      throw err;
    }
  } catch (err) {
    throw classifyError(err, ep);
  }
}

/** Run fn with a session, always closing it. */
export async function withClient<T>(ep: ResolvedEndpoint, fn: (c: pg.Client) => Promise<T>, options?: ConnectOptions): Promise<T> {
  const client = await connectEndpoint(ep, options);
  try {
    return await fn(client);
  } finally {
    await closeClient(client);
  }
}

/**
 * `body` in one transaction on `client`: committed when it returns, rolled back when it throws (the
 * error is the body's, not a failed ROLLBACK's). `begin` may carry an isolation level.
 */
export async function inTransaction<T>(client: pg.Client, body: () => Promise<T>, begin = 'BEGIN'): Promise<T> {
  await client.query(begin);
  try {
    const result = await body();
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

/** End a session; `hard` drops the socket at once (the server rolls back whatever was open). */
export async function closeClient(client: pg.Client, hard = false): Promise<void> {
  if (hard) {
    const conn = (client as unknown as { connection?: { stream?: { destroy?: () => void } } }).connection;
    conn?.stream?.destroy?.();
  }
  await Promise.race([client.end().catch(() => undefined), new Promise((r) => setTimeout(r, 5_000).unref())]);
}

const NETWORK_CODES: Record<string, string> = {
  ECONNREFUSED: 'connection refused: nothing listens there (is the server running, and are listen_addresses and the port right?)',
  ENOTFOUND: 'the host name does not resolve (check the host, DNS)',
  EAI_AGAIN: 'the host name could not be resolved right now (DNS)',
  ETIMEDOUT: 'timed out: the host does not answer (firewall, security group, or a wrong address)',
  ECONNRESET: 'the connection was reset (server restarted, a proxy or firewall closed it, or TLS is required/refused)',
  EHOSTUNREACH: 'the host is unreachable (routing, VPN, network policy)',
  ENETUNREACH: 'the network is unreachable',
  EPIPE: 'the connection was closed while writing',
};

export function pgCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'string' ? code : undefined;
}

/** True when the error means the session or server went away (worth retrying). */
export function isConnectionLoss(err: unknown): boolean {
  const code = pgCode(err);
  if (code && (code in NETWORK_CODES || code.startsWith('08') || code === '57P01' || code === '57P02' || code === '57P03')) return true;
  const msg = String((err as Error)?.message ?? err);
  return /Connection terminated|connection is closed|Client has encountered a connection error|timeout expired|ended unexpectedly/i.test(msg);
}

/** Turn a driver error into the FerryError a user can act on; other errors pass through unchanged. */
export function classifyError(err: unknown, ep: ResolvedEndpoint): unknown {
  if (err instanceof FerryError) return err;
  const where = `${ep.host}:${ep.port}`;
  const code = pgCode(err);
  const msg = String((err as Error)?.message ?? err);
  if (code === '28P01' || code === '28000' || /password must be a string|no password/i.test(msg)) {
    const why = /password must be a string/i.test(msg) ? 'the server asks for a password and none was given' : msg;
    return new AuthenticationFailed(
      `authentication failed for user "${ep.user}" at ${where} (database "${ep.database}"): ${why}; check the password secret and pg_hba.conf`,
      { cause: err },
    );
  }
  if (code === '42501' && /permission denied for database/i.test(msg)) {
    return new AuthenticationFailed(`user "${ep.user}" may not connect to database "${ep.database}" at ${where}: ${msg}`, { cause: err });
  }
  // TLS failures come from the driver or Node (no SQLSTATE); a server error merely mentioning "SSL" is not one.
  const tlsFailure = (!code || code in NETWORK_CODES || /^ERR_TLS|^DEPTH_ZERO|^SELF_SIGNED|^UNABLE_TO/.test(code)) && /SSL|self[- ]signed|certificate/i.test(msg);
  if (isConnectionLoss(err) || tlsFailure) {
    let diagnosis = (code && NETWORK_CODES[code]) ?? msg;
    if (code === '57P01') diagnosis = 'the server terminated the session (administrator command or shutdown)';
    else if (code === '57P03') diagnosis = 'the server is not accepting connections yet (starting up or in recovery)';
    else if (/does not support SSL/i.test(msg)) diagnosis = 'the server does not support TLS but sslmode requires it';
    else if (/certificate|self[- ]signed/i.test(msg)) diagnosis = `TLS certificate check failed (${msg}); check sslmode and the CA`;
    return new ConnectionFailed(`cannot reach PostgreSQL at ${where} (database "${ep.database}"): ${diagnosis}`, { cause: err });
  }
  if (code === '3D000') {
    return new ConnectionFailed(`database "${ep.database}" does not exist at ${where}`, { cause: err });
  }
  return err;
}

/** Server version number (e.g. 150004) of a session. */
export async function serverVersionNum(client: pg.Client): Promise<number> {
  const r = await client.query<{ v: string }>('SELECT current_setting($1) AS v', ['server_version_num']);
  return Number(r.rows[0]?.v ?? 0);
}

// ---- Reused sessions. A copy of a small table is a few milliseconds of work; opening two
// authenticated sessions for it would cost more than the copy. Sessions a chunk copy gave back
// cleanly (no open transaction, no error) are kept a few seconds for the next chunk of the same
// endpoint; a session that saw any error is dropped, never reused. The steps around the load
// reuse sessions the same way (withSession below), and a migration's cleanup closes what is
// left idle on its databases.

const IDLE_KEEP_MS = 10_000;
const IDLE_MAX_PER_ENDPOINT = 16;

interface PooledClient {
  client: pg.Client;
  timer: NodeJS.Timeout;
}

const idleSessions = new Map<string, PooledClient[]>();
const sessionKeys = new WeakMap<pg.Client, string>();
const deadSessions = new WeakSet<pg.Client>();

function poolKey(ep: ResolvedEndpoint, options: ConnectOptions): string {
  return JSON.stringify([ep.host, ep.port, ep.database, ep.user, ep.password ?? null, ep.sslmode, options.settings ?? {}]);
}

/**
 * Run `fn` (statements on `client`, a target session) so that aborting ctx.signal cancels the
 * statement running on the server (pg_cancel_backend from a separate session), not only the wait
 * for it.
 */
export async function cancelOnAbort<T>(ctx: { signal?: AbortSignal; target: ResolvedEndpoint }, client: pg.Client, fn: () => Promise<T>): Promise<T> {
  const pid = (client as unknown as { processID?: number }).processID;
  const cancel = () => {
    if (pid) void withClient(ctx.target, (c) => c.query('SELECT pg_catalog.pg_cancel_backend($1)', [pid])).catch(() => undefined);
  };
  ctx.signal?.throwIfAborted();
  ctx.signal?.addEventListener('abort', cancel, { once: true });
  try {
    return await fn();
  } finally {
    ctx.signal?.removeEventListener('abort', cancel);
  }
}

/** A session for `ep`: a kept one when there is one, else a new one. Give it back with releaseSession. */
export async function leaseSession(ep: ResolvedEndpoint, options: ConnectOptions = {}): Promise<pg.Client> {
  const key = poolKey(ep, options);
  const list = idleSessions.get(key);
  while (list && list.length > 0) {
    const kept = list.pop()!;
    clearTimeout(kept.timer);
    if (!deadSessions.has(kept.client)) return kept.client;
    await closeClient(kept.client, true);
  }
  const client = await connectEndpoint(ep, options);
  sessionKeys.set(client, key);
  const dead = () => deadSessions.add(client);
  client.on('error', dead);
  client.on('end', dead);
  return client;
}

/**
 * Give a leased session back. `reusable` only when the caller ended its transaction and saw no
 * error on it; otherwise (or when enough are kept already) the session is closed, `hard` as in closeClient.
 */
export async function releaseSession(client: pg.Client, reusable: boolean): Promise<void> {
  const key = sessionKeys.get(client);
  const list = key === undefined ? undefined : (idleSessions.get(key) ?? []);
  if (!reusable || key === undefined || !list || deadSessions.has(client) || list.length >= IDLE_MAX_PER_ENDPOINT) {
    await closeClient(client, !reusable);
    return;
  }
  const kept: PooledClient = {
    client,
    timer: setTimeout(() => {
      const at = list.indexOf(kept);
      if (at >= 0) list.splice(at, 1);
      void closeClient(client);
    }, IDLE_KEEP_MS).unref(),
  };
  list.push(kept);
  idleSessions.set(key, list);
}

/**
 * Run fn with a kept session of `ep` (leaseSession), for the short statements of a migration's
 * steps: provision, planning, the snapshot's bookkeeping, finishLoad, renames, validation,
 * cleanup (the precheck opens its own: that the endpoints take new sessions is one of its
 * checks). Each step used to open its own sessions, and a new authenticated session
 * costs ~10 ms (TCP, SCRAM, a backend fork) against well under 1 ms for a statement; the steps
 * before the first copy opened nine of them one after the other. The session goes back only
 * when fn succeeded and left no transaction open, and only after DISCARD ALL: settings made
 * with SET, advisory locks, temporary tables and LISTENs do not outlive fn (the startup settings,
 * SESSION_SETTINGS and options.settings, are the session's defaults and stay).
 */
export async function withSession<T>(ep: ResolvedEndpoint, fn: (c: pg.Client) => Promise<T>, options: ConnectOptions = {}): Promise<T> {
  const client = await leaseSession(ep, options);
  let ok = false;
  try {
    const result = await fn(client);
    ok = true;
    return result;
  } finally {
    await giveBack(client, ok);
  }
}

/**
 * withSession on both sides of a migration at once: the two sessions are leased concurrently
 * (a new one costs a round trip or three and an authentication each), and each goes back under
 * withSession's rules. Errors come out classified (classifyError): a failed connect by
 * connectEndpoint, anything else against the side whose session was lost, the target otherwise.
 */
export async function withSessions<T>(
  ctx: { source: ResolvedEndpoint; target: ResolvedEndpoint },
  fn: (src: pg.Client, tgt: pg.Client) => Promise<T>,
  options: ConnectOptions = {},
): Promise<T> {
  const [src, tgt] = await Promise.allSettled([leaseSession(ctx.source, options), leaseSession(ctx.target, options)]);
  if (src.status === 'rejected' || tgt.status === 'rejected') {
    if (src.status === 'fulfilled') await releaseSession(src.value, true);
    if (tgt.status === 'fulfilled') await releaseSession(tgt.value, true);
    throw src.status === 'rejected' ? src.reason : (tgt as PromiseRejectedResult).reason;
  }
  let ok = false;
  try {
    const result = await fn(src.value, tgt.value);
    ok = true;
    return result;
  } catch (err) {
    // A lost session is reported against its own side (the source's, when that is the one gone).
    throw classifyError(err, isConnectionLoss(err) && sessionGone(src.value) && !sessionGone(tgt.value) ? ctx.source : ctx.target);
  } finally {
    await Promise.all([giveBack(src.value, ok), giveBack(tgt.value, ok)]);
  }
}

/** Whether a session's connection has ended (the server or the network closed it). */
function sessionGone(client: pg.Client): boolean {
  const stream = (client as unknown as { connection?: { stream?: { destroyed?: boolean } } }).connection?.stream;
  return deadSessions.has(client) || stream?.destroyed === true;
}

/** Back to the pool after DISCARD ALL when `ok` and no transaction is open; else closed (at once when a transaction is open). */
async function giveBack(client: pg.Client, ok: boolean): Promise<void> {
  const idle = client.getTransactionStatus() === 'I';
  const reusable =
    ok &&
    idle &&
    (await client.query('DISCARD ALL').then(
      () => true,
      () => false,
    ));
  if (reusable) await releaseSession(client, true);
  else await closeClient(client, !idle);
}

/** Whether a pooled session (key from poolKey) is one of these endpoints' (same server and database). */
function keyOnEndpoint(key: string, endpoints: ResolvedEndpoint[]): boolean {
  const [host, port, database] = JSON.parse(key) as [string, number, string];
  return endpoints.some((ep) => ep.host === host && ep.port === port && ep.database === database);
}

/**
 * Close the kept sessions: all of them (tests and shutdown), or those of `endpoints` (a migration's
 * cleanup, so that no idle Ferry session is left on its databases once it is over).
 */
export async function closeIdleSessions(endpoints?: ResolvedEndpoint[]): Promise<void> {
  const all: PooledClient[] = [];
  for (const [key, list] of idleSessions) {
    if (endpoints && !keyOnEndpoint(key, endpoints)) continue;
    all.push(...list);
    idleSessions.delete(key);
  }
  for (const kept of all) clearTimeout(kept.timer);
  await Promise.all(all.map((kept) => closeClient(kept.client)));
}
