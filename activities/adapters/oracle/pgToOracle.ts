// PostgreSQL -> Oracle, DTS style: the Oracle tables exist already (checked in precheck, never
// created), the full load reads each table through a cursor and writes batches with
// executeMany, each table's rows committing with their chunk marker. Changes from logical
// replication are applied by changes.ts (MERGE/DELETE by key) once the spec has an online mode.
import type oracledb from 'oracledb';
import type pg from 'pg';
import type { ChunkResult, FenceState, LoadChunk, PrecheckItem, ProvisionResult, TableMapping, TableValidation, ValidationReport } from '../../../workflows/types';
import type { CleanupOptions, CopyProgress, EngineContext, MigrationEngine } from '../engine';
import { CopyFailed, FencingFailed, PrecheckFailed } from '../errors';
import { loadSelection } from '../postgres/catalog';
import { connectEndpoint, closeClient, withClient } from '../postgres/connect';
import { databaseReadOnlySetting } from '../postgres/fence';
import { qualify, quoteIdent } from '../postgres/sql';
import { executeBatched, insertSql, toBindRows, type OracleWriter, type TargetTable } from './apply';
import {
  ORA_CHARSET_SQL,
  ORA_COLUMNS_SQL,
  ORA_MAX_STRING_SIZE_SQL,
  ORA_SCHEMA_EXISTS_SQL,
  ORA_STORAGE_SQL,
  ORA_TABLE_PRIVS_SQL,
  ORA_USER_SQL,
  oracleColumnRow,
  PG_COLUMNS_SQL,
  PG_KEY_SQL,
  PG_REPLICA_IDENTITY_SQL,
  PG_TYPES_SQL,
  pgTypeOf,
  type PgTypeRow,
} from './catalog';
import { connectOracle, oracleEndpointFrom, versionOf, type OracleEndpoint } from './connection';
import { qualifyOracle, quoteOracleIdent } from './identifiers';
import { evaluatePgToOracle, oracleMapping, type SourceTableFacts, type TargetFacts } from './precheck';
import { chunkMarker, CREATE_STATE_PLSQL, DROP_STATE_PLSQL, INSERT_MARKER_SQL, READ_POSITION_SQL, SAVE_POSITION_SQL } from './state';
import type { PgColumn } from './types';
import { cellText } from './runner';
import { pgReadExpr, type EmptyStringPolicy } from './values';

const FETCH_ROWS = 5000;
const TEXTY = new Set(['text', 'character varying', 'character']);

/** The slice of an oracledb.Connection the engine uses: tests replace the driver at this boundary. */
export type OracleSession = Pick<oracledb.Connection, 'execute' | 'executeMany' | 'commit' | 'rollback' | 'close' | 'oracleServerVersion'>;

export interface PgToOracleOptions {
  /** Default: the spec's `oracle.emptyStrings`, else 'null'. */
  emptyStrings?: EmptyStringPolicy;
  /** Opens a session on the Oracle target (default: connectOracle, node-oracledb thin mode). */
  connect?: (ep: OracleEndpoint) => Promise<OracleSession>;
}

async function sourceFacts(client: pg.Client, mappings: TableMapping[]): Promise<SourceTableFacts[]> {
  const out: SourceTableFacts[] = [];
  const schemas = [...new Set(mappings.map((m) => m.source.schema))];
  const ident = await client.query<{ schema: string; name: string; identity: string }>(PG_REPLICA_IDENTITY_SQL, [schemas]);
  for (const m of mappings) {
    const cols = await client.query<{ name: string; not_null: boolean; type_oid: string; typmod: number; identity: string; generated: string }>(PG_COLUMNS_SQL, [m.source.schema, m.source.name]);
    const typeRows = await client.query<{ oid: string; name: string; typtype: string; category: string; elem: string; base: string; base_typmod: number; relid: string; range_subtype: string; labels: string[] }>(
      PG_TYPES_SQL,
      [cols.rows.map((c) => Number(c.type_oid))],
    );
    const types = new Map<number, PgTypeRow>(
      typeRows.rows.map((t) => [
        Number(t.oid),
        { oid: Number(t.oid), name: t.name, typtype: t.typtype, category: t.category, elem: Number(t.elem), base: Number(t.base), baseTypmod: t.base_typmod, relid: Number(t.relid), rangeSubtype: Number(t.range_subtype), labels: t.labels },
      ]),
    );
    const columns: PgColumn[] = cols.rows.map((c) => ({
      table: m.source,
      name: c.name,
      type: pgTypeOf(Number(c.type_oid), c.typmod, types),
      notNull: c.not_null,
      ...(c.identity === 'a' ? { identity: 'always' as const } : c.identity === 'd' ? { identity: 'by default' as const } : {}),
      ...(c.generated && c.generated !== '' ? { generated: true } : {}),
    }));
    const key = await client.query<{ columns: string[] }>(PG_KEY_SQL, [m.source.schema, m.source.name]);
    const texty = columns.filter((c) => c.notNull && !c.generated && c.type.kind === 'base' && TEXTY.has(c.type.name));
    const emptyStrings: Record<string, number> = {};
    if (texty.length > 0) {
      // One scan per table, only over NOT NULL text columns: '' there cannot become Oracle's NULL.
      const r = await client.query<Record<string, string>>(
        `SELECT ${texty.map((c, i) => `count(*) FILTER (WHERE ${quoteIdent(c.name)} = '')::int8 AS c${i}`).join(', ')} FROM ${qualify(m.source.schema, m.source.name)}`,
      );
      texty.forEach((c, i) => (emptyStrings[c.name] = Number(r.rows[0]?.[`c${i}`] ?? 0)));
    }
    out.push({
      mapping: m,
      columns,
      key: key.rows[0]?.columns ?? null,
      replicaIdentity: ident.rows.find((r) => r.schema === m.source.schema && r.name === m.source.name)?.identity ?? 'd',
      emptyStrings,
    });
  }
  return out;
}

async function rows(conn: OracleSession, sql: string, binds: oracledb.BindParameters = []): Promise<unknown[][]> {
  const r = await conn.execute<unknown[]>(sql, binds, { outFormat: 4001 /* OUT_FORMAT_ARRAY */ });
  return r.rows ?? [];
}

async function targetFacts(conn: OracleSession, mappings: TableMapping[]): Promise<TargetFacts> {
  const version = versionOf(conn.oracleServerVersion);
  const charset = cellText((await rows(conn, ORA_CHARSET_SQL))[0]?.[0]) || 'unknown';
  let maxStringSize: TargetFacts['maxStringSize'] = null;
  try {
    const v = cellText((await rows(conn, ORA_MAX_STRING_SIZE_SQL))[0]?.[0]).toUpperCase();
    maxStringSize = v === 'EXTENDED' ? 'EXTENDED' : 'STANDARD';
  } catch {
    maxStringSize = null;
  }
  const user = cellText((await rows(conn, ORA_USER_SQL))[0]?.[0]);
  const schemas = new Set<string>();
  const tables = new Map<string, ReturnType<typeof oracleColumnRow>[]>();
  const writable = new Set<string>();
  const rowCounts = new Map<string, number>();
  const grants = new Map<string, Set<string>>();
  for (const m of mappings.map(oracleMapping)) {
    const { schema, name } = m.target;
    if (!schemas.has(schema) && (await rows(conn, ORA_SCHEMA_EXISTS_SQL, [schema])).length > 0) schemas.add(schema);
    const cols = (await rows(conn, ORA_COLUMNS_SQL, [schema, name])).map(oracleColumnRow);
    if (cols.length === 0) continue;
    const key = `${schema}.${name}`;
    tables.set(key, cols);
    if (schema === user) writable.add(key);
    else {
      if (!grants.has(schema)) {
        const g = new Map<string, Set<string>>();
        for (const [t, p] of await rows(conn, ORA_TABLE_PRIVS_SQL, [schema])) g.set(String(t), (g.get(String(t)) ?? new Set()).add(String(p)));
        for (const [t, p] of g) grants.set(`${schema}.${t}`, p);
        grants.set(schema, new Set());
      }
      const p = grants.get(key);
      if (p && p.has('INSERT') && p.has('UPDATE') && p.has('DELETE')) writable.add(key);
    }
    const n = await rows(conn, `SELECT COUNT(*) FROM ${qualifyOracle(schema, name)} WHERE ROWNUM <= 1`);
    rowCounts.set(key, Number(n[0]?.[0] ?? 0));
  }
  let freeBytes: number | null = null;
  try {
    const q = await rows(conn, ORA_STORAGE_SQL);
    if (q.length > 0) {
      freeBytes = q.reduce<number>((s, r) => s + (Number(r[1]) === -1 ? Number(r[3] ?? 0) : Math.max(0, Number(r[1]) - Number(r[2]))), 0);
    }
  } catch {
    freeBytes = null;
  }
  return { version, charset, maxStringSize, user, schemas, tables, writable, rowCounts, freeBytes };
}

function writer(conn: OracleSession): OracleWriter {
  return {
    executeMany: (sql, binds, options) => conn.executeMany(sql, binds as oracledb.BindParameters[], options),
    execute: (sql, binds, options) => conn.execute(sql, binds ?? [], options ?? {}),
    commit: () => conn.commit(),
    rollback: () => conn.rollback(),
  };
}

export class PgToOracleEngine implements MigrationEngine {
  constructor(private readonly options: PgToOracleOptions = {}) {}

  private policy(ctx: EngineContext): EmptyStringPolicy {
    return this.options.emptyStrings ?? ctx.spec.oracle?.emptyStrings ?? 'null';
  }

  private oracle(ctx: EngineContext): Promise<OracleSession> {
    const ep = oracleEndpointFrom(ctx.target);
    return this.options.connect ? this.options.connect(ep) : connectOracle(ep);
  }

  private async plan(ctx: EngineContext, mappings: TableMapping[]): Promise<{ items: PrecheckItem[]; tables: TargetTable[] }> {
    const src = await connectEndpoint(ctx.source);
    try {
      const facts = await sourceFacts(src, mappings);
      const ora = await this.oracle(ctx);
      try {
        return evaluatePgToOracle({ online: false, policy: this.policy(ctx), source: facts, target: await targetFacts(ora, mappings) });
      } finally {
        await ora.close().catch(() => undefined);
      }
    } finally {
      await closeClient(src);
    }
  }

  async precheck(ctx: EngineContext): Promise<PrecheckItem[]> {
    const sel = await withClient(ctx.source, (c) => loadSelection(c, ctx.spec));
    const renameItems: PrecheckItem[] = sel.renameErrors.map((e) => ({ id: `rename:${e.key}`, status: 'fail', message: e.message }));
    return [...renameItems, ...(await this.plan(ctx, sel.mappings)).items];
  }

  /** Nothing is created but Ferry's state tables: the target tables must exist (DTS migrates no schema). */
  async provision(ctx: EngineContext): Promise<ProvisionResult> {
    const sel = await withClient(ctx.source, (c) => loadSelection(c, ctx.spec));
    const conn = await this.oracle(ctx);
    try {
      await conn.execute(CREATE_STATE_PLSQL);
    } finally {
      await conn.close().catch(() => undefined);
    }
    return { tables: sel.mappings.map(oracleMapping), createdSchemas: [] };
  }

  /** One chunk per table (key-range splitting is not implemented for Oracle targets yet). */
  planFullLoad(_ctx: EngineContext, tables: TableMapping[]): Promise<LoadChunk[]> {
    return Promise.resolve(
      [...tables].sort((a, b) => b.estimatedBytes - a.estimatedBytes).map((t) => ({ id: `${t.source.schema}.${t.source.name}`, table: t })),
    );
  }

  async copyChunk(ctx: EngineContext, chunk: LoadChunk, onProgress: (p: CopyProgress) => void): Promise<ChunkResult> {
    if (chunk.range) throw new CopyFailed(`${chunk.id}: key-range chunks are not supported for Oracle targets`);
    const sourceMapping: TableMapping = { ...chunk.table, target: chunk.table.target };
    const ora = await this.oracle(ctx);
    const w = writer(ora);
    try {
      const done = await chunkMarker(w, ctx.migrationId, chunk.id);
      if (done) return { chunkId: chunk.id, rows: done.rows, bytes: done.bytes, skipped: true };
      // The chunk's table as the source names it; renames and folding are re-derived by the plan.
      const src = await connectEndpoint(ctx.source);
      try {
        const original = await this.sourceMapping(src, ctx, sourceMapping);
        const facts = await sourceFacts(src, [original]);
        const outcome = evaluatePgToOracle({ online: false, policy: this.policy(ctx), source: facts, target: await targetFacts(ora, [original]) });
        const failed = outcome.items.filter((i) => i.status === 'fail');
        const table = outcome.tables[0];
        if (!table || failed.length > 0) throw new PrecheckFailed(`${chunk.id} cannot be loaded: ${failed.map((i) => i.message).join('; ')}`);
        const exprs = table.columns.map((c) => pgReadExpr(c.mapping.kind, c.mapping.pgType, quoteIdent(c.source)));
        await src.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
        await src.query(`DECLARE ferry_read NO SCROLL CURSOR FOR SELECT ${exprs.join(', ')} FROM ${qualify(original.source.schema, original.source.name)}`);
        const sql = insertSql(table);
        let total = 0;
        let bytes = 0;
        for (;;) {
          if (ctx.signal?.aborted) throw new CopyFailed(`${chunk.id}: cancelled`);
          const page = await src.query<(string | Buffer | null)[]>({ text: `FETCH ${FETCH_ROWS} FROM ferry_read`, rowMode: 'array' });
          if (page.rows.length === 0) break;
          const r = await executeBatched(w, sql, table.columns, toBindRows(table, table.columns, page.rows, this.policy(ctx)));
          total += r.rows;
          bytes += r.bytes;
          onProgress({ rows: total, bytes });
        }
        await src.query('COMMIT');
        await w.execute(INSERT_MARKER_SQL, [ctx.migrationId, chunk.id, total, bytes, ctx.workerId]);
        await w.commit();
        return { chunkId: chunk.id, rows: total, bytes, skipped: false };
      } finally {
        await closeClient(src);
      }
    } catch (err) {
      await w.rollback().catch(() => undefined);
      throw err;
    } finally {
      await ora.close().catch(() => undefined);
    }
  }

  /** The selection's mapping (source names, spec renames) for a table the workflow hands back. */
  private async sourceMapping(src: pg.Client, ctx: EngineContext, m: TableMapping): Promise<TableMapping> {
    const sel = await loadSelection(src, ctx.spec);
    const found = sel.mappings.find((x) => x.source.schema === m.source.schema && x.source.name === m.source.name);
    if (!found) throw new CopyFailed(`${m.source.schema}.${m.source.name} is no longer selected on the source`);
    return found;
  }

  /** Identity columns move past the highest loaded value, so new rows on Oracle get fresh ones (12c+). */
  async finishLoad(ctx: EngineContext, tables: TableMapping[]): Promise<void> {
    const conn = await this.oracle(ctx);
    try {
      if (conn.oracleServerVersion < 1201000000) return;
      for (const t of tables) {
        const ids = await rows(conn, 'SELECT column_name FROM all_tab_identity_cols WHERE owner = :1 AND table_name = :2', [t.target.schema, t.target.name]);
        for (const [col] of ids) {
          await conn.execute(`ALTER TABLE ${qualifyOracle(t.target.schema, t.target.name)} MODIFY (${quoteOracleIdent(String(col))} GENERATED BY DEFAULT AS IDENTITY (START WITH LIMIT VALUE))`);
        }
      }
    } finally {
      await conn.close().catch(() => undefined);
    }
  }

  /** PostgreSQL source: database default read-only, other sessions ended; the previous value kept on the target. */
  async fenceSource(ctx: EngineContext): Promise<FenceState> {
    const ora = await this.oracle(ctx);
    const src = await connectEndpoint(ctx.source, { settings: { default_transaction_read_only: 'off' } });
    try {
      await ora.execute(CREATE_STATE_PLSQL);
      const saved = await rows(ora, READ_POSITION_SQL, [ctx.migrationId, '__fence__']);
      let previous: string | null;
      if (saved.length > 0) previous = String(saved[0]![0]) === '<unset>' ? null : String(saved[0]![0]);
      else {
        previous = await databaseReadOnlySetting(src, ctx.source.database);
        await ora.execute(SAVE_POSITION_SQL, [ctx.migrationId, '__fence__', previous ?? '<unset>'], { autoCommit: true });
      }
      await src.query(`ALTER DATABASE ${quoteIdent(ctx.source.database)} SET default_transaction_read_only = on`);
      let terminated = 0;
      if (ctx.spec.fence.terminateSessions) {
        const r = await src.query<{ n: string }>(
          `SELECT count(*) FILTER (WHERE pg_catalog.pg_terminate_backend(pid))::int8 AS n FROM pg_catalog.pg_stat_activity
            WHERE datname = $1 AND pid <> pg_catalog.pg_backend_pid() AND backend_type = 'client backend' AND application_name <> 'ferry'`,
          [ctx.source.database],
        );
        terminated = Number(r.rows[0]?.n ?? 0);
      }
      return { previousReadOnly: previous, terminatedSessions: terminated };
    } catch (err) {
      throw new FencingFailed(`cannot fence source database "${ctx.source.database}": ${(err as Error).message}`, { cause: err });
    } finally {
      await closeClient(src);
      await ora.close().catch(() => undefined);
    }
  }

  async unfenceSource(ctx: EngineContext, state: FenceState): Promise<void> {
    await withClient(
      ctx.source,
      async (c) => {
        const db = quoteIdent(ctx.source.database);
        if (state.previousReadOnly === null) await c.query(`ALTER DATABASE ${db} RESET default_transaction_read_only`);
        else await c.query(`ALTER DATABASE ${db} SET default_transaction_read_only = ${(await c.query<{ l: string }>('SELECT pg_catalog.quote_literal($1::text) AS l', [state.previousReadOnly])).rows[0]!.l}`);
      },
      { settings: { default_transaction_read_only: 'off' } },
    );
  }

  /** The load already wrote under the mapped names (tables exist on Oracle under them): nothing to rename. */
  applyRenames(): Promise<void> {
    return Promise.resolve();
  }

  /** Row counts on both sides. Cross-engine row checksums are not implemented: reported in `reason`. */
  async validate(ctx: EngineContext, tables: TableMapping[]): Promise<ValidationReport> {
    const level = ctx.spec.validation.level;
    if (level === 'none') return { level, status: 'skipped', tables: [] };
    const ora = await this.oracle(ctx);
    try {
      const out: TableValidation[] = [];
      await withClient(ctx.source, async (src) => {
        for (const t of tables) {
          const s = Number((await src.query<{ n: string }>(`SELECT count(*)::int8 AS n FROM ${qualify(t.source.schema, t.source.name)}`)).rows[0]?.n ?? 0);
          const o = Number((await rows(ora, `SELECT COUNT(*) FROM ${qualifyOracle(t.target.schema, t.target.name)}`))[0]?.[0] ?? 0);
          out.push({
            source: `${t.source.schema}.${t.source.name}`,
            target: `${t.target.schema}.${t.target.name}`,
            status: s === o ? 'match' : 'mismatch',
            sourceRows: s,
            targetRows: o,
            ...(level === 'checksums' ? { reason: 'row counts only: PostgreSQL/Oracle row checksums are not implemented' } : {}),
          });
        }
      });
      return { level, status: out.every((x) => x.status === 'match') ? 'match' : 'mismatch', tables: out };
    } finally {
      await ora.close().catch(() => undefined);
    }
  }

  /** Ferry's state tables go (unless kept); loaded rows stay even on abort: Ferry did not create those tables. */
  async cleanup(ctx: EngineContext, options: CleanupOptions): Promise<void> {
    if (!options.aborted && ctx.spec.cleanup.keepState) return;
    const conn = await this.oracle(ctx);
    try {
      await conn.execute(DROP_STATE_PLSQL);
    } finally {
      await conn.close().catch(() => undefined);
    }
  }
}
