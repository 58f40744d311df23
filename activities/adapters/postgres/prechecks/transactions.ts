// transactions: sessions on the source database with a transaction open longer than a threshold
// (5 minutes): they hold back vacuum and WAL removal, and a fence or snapshot waits behind them.
import type { PrecheckItem } from '../../../../workflows/types';
import { pass, warning, type PrecheckEnv } from './common';

export const LONG_TRANSACTION_SECONDS = 300;

/** The threshold: FERRY_PRECHECK_LONG_TRANSACTION_SECONDS on the worker overrides the 5 minutes. */
export function longTransactionSeconds(env: NodeJS.ProcessEnv = process.env): number {
  const v = Number(env.FERRY_PRECHECK_LONG_TRANSACTION_SECONDS);
  return Number.isFinite(v) && v > 0 ? v : LONG_TRANSACTION_SECONDS;
}

export function formatAge(seconds: number): string {
  const s = Math.floor(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

export async function checkLongTransactions(env: PrecheckEnv, thresholdSeconds = longTransactionSeconds()): Promise<PrecheckItem[]> {
  const { src } = env;
  if (!src) return [];
  const r = await src.query<{ pid: number; usename: string | null; app: string | null; state: string | null; age: number; query: string | null }>(
    `SELECT pid, usename, application_name AS app, state, extract(epoch FROM now() - xact_start)::float8 AS age, left(query, 80) AS query
       FROM pg_catalog.pg_stat_activity
      WHERE datname = current_database() AND pid <> pg_catalog.pg_backend_pid() AND xact_start IS NOT NULL
        AND xact_start < now() - make_interval(secs => $1)
      ORDER BY xact_start`,
    [thresholdSeconds],
  );
  const prepared = await src.query<{ gid: string; owner: string; age: number }>(
    `SELECT gid, owner, extract(epoch FROM now() - prepared)::float8 AS age FROM pg_catalog.pg_prepared_xacts
      WHERE database = current_database() AND prepared < now() - make_interval(secs => $1)`,
    [thresholdSeconds],
  );
  const items: PrecheckItem[] = r.rows.map((x) =>
    warning(
      `long-transaction:${x.pid}`,
      `pid ${x.pid} (user ${x.usename ?? '?'}${x.app ? `, application ${x.app}` : ''}) has had a transaction open for ${formatAge(x.age)}, state ${x.state ?? 'unknown'}${x.query ? `: ${x.query.replace(/\s+/g, ' ')}` : ''}`,
      `let it finish, or end it: SELECT pg_terminate_backend(${x.pid}); long transactions hold back vacuum and WAL removal and delay the fence`,
    ),
  );
  for (const p of prepared.rows)
    items.push(
      warning(
        `long-transaction:prepared:${p.gid}`,
        `prepared transaction '${p.gid}' (owner ${p.owner}) has been pending for ${formatAge(p.age)}`,
        `COMMIT PREPARED or ROLLBACK PREPARED '${p.gid}'`,
      ),
    );
  if (items.length === 0) items.push(pass('long-transactions', `no transaction on the source database has been open longer than ${formatAge(thresholdSeconds)}`));
  return items;
}
