// Fence: make the source database read-only for new sessions (database default) and end the
// sessions that were already open, except Ferry's own. The value it replaced is kept on the
// target (ferry.fence) so a retried fence returns the original value, not its own `on`.
import type pg from 'pg';
import type { FenceState } from '../../../workflows/types';
import type { EngineContext } from '../engine';
import { FencingFailed, FerryError } from '../errors';
import { classifyError, closeClient, connectEndpoint, pgCode, type ConnectOptions } from './connect';
import { quoteIdent } from './sql';
import { ensureState, FENCE_TABLE, stateSchemaExists } from './state';

const SETTING = 'default_transaction_read_only';
/** Ferry's own fence sessions must be able to write the database setting back. */
const FENCE_SESSION: ConnectOptions = { settings: { [SETTING]: 'off' } };

/** The database-level value of default_transaction_read_only (pg_db_role_setting, role 0), or null when unset. */
export async function databaseReadOnlySetting(client: pg.Client, database: string): Promise<string | null> {
  const r = await client.query<{ setconfig: string[] | null }>(
    `SELECT s.setconfig FROM pg_catalog.pg_db_role_setting s JOIN pg_catalog.pg_database d ON d.oid = s.setdatabase
      WHERE d.datname = $1 AND s.setrole = 0`,
    [database],
  );
  for (const item of r.rows[0]?.setconfig ?? []) {
    const eq = item.indexOf('=');
    if (eq > 0 && item.slice(0, eq).toLowerCase() === SETTING) return item.slice(eq + 1);
  }
  return null;
}

/** ALTER DATABASE ... SET/RESET. ALTER DATABASE takes no parameters, so the value is rendered as a literal by the server. */
async function setDatabaseReadOnly(client: pg.Client, database: string, value: string | null): Promise<void> {
  if (value === null) {
    await client.query(`ALTER DATABASE ${quoteIdent(database)} RESET ${SETTING}`);
    return;
  }
  const lit = (await client.query<{ l: string }>('SELECT pg_catalog.quote_literal($1::text) AS l', [value])).rows[0]!.l;
  await client.query(`ALTER DATABASE ${quoteIdent(database)} SET ${SETTING} = ${lit}`);
}

function fencingError(err: unknown, ctx: EngineContext, action: string): unknown {
  if (err instanceof FerryError) return err;
  const classified = classifyError(err, ctx.source);
  if (classified instanceof FerryError) return classified;
  const code = pgCode(err);
  const msg = (err as Error)?.message ?? String(err);
  const why =
    code === '42501'
      ? `permission denied: user "${ctx.source.user}" must own database "${ctx.source.database}" or be a superuser (${msg})`
      : msg;
  return new FencingFailed(`cannot ${action} source database "${ctx.source.database}" at ${ctx.source.host}:${ctx.source.port}: ${why}`, {
    cause: err,
  });
}

export async function fenceSource(ctx: EngineContext): Promise<FenceState> {
  let tgt: pg.Client | undefined;
  let src: pg.Client | undefined;
  try {
    tgt = await connectEndpoint(ctx.target);
    src = await connectEndpoint(ctx.source, FENCE_SESSION);
    await ensureState(tgt);
    const recorded = await tgt.query<{ previous_read_only: string | null }>(
      `SELECT previous_read_only FROM ${FENCE_TABLE} WHERE migration_id = $1`,
      [ctx.migrationId],
    );
    let previous: string | null;
    if (recorded.rows[0]) {
      previous = recorded.rows[0].previous_read_only;
    } else {
      previous = await databaseReadOnlySetting(src, ctx.source.database);
      // Record before fencing: a crash in between still remembers the original value.
      await tgt.query(`INSERT INTO ${FENCE_TABLE} (migration_id, previous_read_only) VALUES ($1, $2) ON CONFLICT (migration_id) DO NOTHING`, [
        ctx.migrationId,
        previous,
      ]);
    }
    await setDatabaseReadOnly(src, ctx.source.database, 'on');
    let terminated = 0;
    if (ctx.spec.fence.terminateSessions) {
      const r = await src.query<{ n: number }>(
        `SELECT count(*) FILTER (WHERE pg_catalog.pg_terminate_backend(pid))::int AS n FROM pg_catalog.pg_stat_activity
          WHERE datname = $1 AND pid <> pg_catalog.pg_backend_pid() AND coalesce(application_name, '') NOT LIKE 'ferry%'
            AND backend_type = 'client backend'`,
        [ctx.source.database],
      );
      terminated = r.rows[0]?.n ?? 0;
    }
    return { previousReadOnly: previous, terminatedSessions: terminated };
  } catch (err) {
    throw fencingError(err, ctx, 'fence (make read-only)');
  } finally {
    if (src) await closeClient(src);
    if (tgt) await closeClient(tgt);
  }
}

export async function unfenceSource(ctx: EngineContext, state: FenceState): Promise<void> {
  let src: pg.Client | undefined;
  try {
    src = await connectEndpoint(ctx.source, FENCE_SESSION);
    await setDatabaseReadOnly(src, ctx.source.database, state.previousReadOnly);
  } catch (err) {
    throw fencingError(err, ctx, 'unfence (make writable again)');
  } finally {
    if (src) await closeClient(src);
  }
  // The record has served its purpose; a later fence reads the (restored) value afresh.
  let tgt: pg.Client | undefined;
  try {
    tgt = await connectEndpoint(ctx.target);
    if (await stateSchemaExists(tgt)) await tgt.query(`DELETE FROM ${FENCE_TABLE} WHERE migration_id = $1`, [ctx.migrationId]);
  } catch {
    // Best effort: cleanup removes the migration's state rows anyway.
  } finally {
    if (tgt) await closeClient(tgt);
  }
}
