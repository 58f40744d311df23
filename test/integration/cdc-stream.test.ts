// Change data capture against the two real dev clusters, engine functions called directly: full
// load from the slot's exported snapshot while a writer changes every kind of row, then
// streamChanges in short slices (one aborted mid-way), a drain to the source's final position,
// and the target equal to the source. No mocks.
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { createPostgresEngine } from '../../activities/adapters/postgres';
import { closeIdleSessions } from '../../activities/adapters/postgres/connect';
import { CDC_TABLE, publicationName, slotName } from '../../activities/adapters/postgres/replication';
import { heartbeatTable } from '../../activities/adapters/postgres/heartbeat';
import type { EngineContext, ResolvedEndpoint } from '../../activities/adapters/engine';
import { SnapshotLost } from '../../activities/adapters/errors';
import { parseSpec } from '../../workflows/spec';
import type { CaptureProgress, ProvisionResult, TableMapping } from '../../workflows/types';
import { tableChecksums } from '../support/checksums';
import { connect, createDatabasePair, devSpec, password, ports, sql } from '../support/env';

const engine = createPostgresEngine();

const SCHEMA = `
  CREATE TABLE accounts (id bigserial PRIMARY KEY, owner text NOT NULL, balance numeric(14,2) NOT NULL, note text, at timestamptz DEFAULT clock_timestamp());
  CREATE TABLE docs (id int PRIMARY KEY, title text NOT NULL, body text);
  ALTER TABLE docs ALTER COLUMN body SET STORAGE EXTERNAL;
  CREATE TABLE kv (k text PRIMARY KEY, v int NOT NULL);
  CREATE TABLE events_full (a int NOT NULL, b text, j json);
  ALTER TABLE events_full REPLICA IDENTITY FULL;
  CREATE TABLE uniq (u int NOT NULL, w text);
  CREATE UNIQUE INDEX uniq_u ON uniq (u);
  ALTER TABLE uniq REPLICA IDENTITY USING INDEX uniq_u;
  CREATE TABLE measure (id int NOT NULL, at date NOT NULL, v int, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
  CREATE TABLE measure_2023 PARTITION OF measure FOR VALUES FROM ('2023-01-01') TO ('2024-01-01');
  CREATE TABLE measure_2024 PARTITION OF measure FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
  CREATE TABLE bulk (id int PRIMARY KEY, pad text);
  CREATE TABLE ident (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, x int);
  CREATE TABLE scratch (id int PRIMARY KEY);
  CREATE TABLE "Old Name" ("old col" int PRIMARY KEY, v text);
  INSERT INTO accounts (owner, balance, note) SELECT 'o' || g, g % 1000, repeat('n', g % 50) FROM generate_series(1, 20000) g;
  INSERT INTO docs SELECT g, 'doc ' || g, repeat(md5(g::text), 40000) FROM generate_series(1, 6) g; -- 1.3 MB each, TOASTed
  INSERT INTO kv SELECT 'k' || lpad(g::text, 4, '0'), g FROM generate_series(1, 1000) g;
  INSERT INTO events_full SELECT g % 250, 'e' || g, json_build_object('g', g) FROM generate_series(1, 500) g; -- duplicates on purpose
  INSERT INTO uniq SELECT g, 'w' || g FROM generate_series(1, 300) g;
  INSERT INTO measure SELECT g, date '2023-01-01' + g % 360, g FROM generate_series(1, 1000) g;
  INSERT INTO ident (x) SELECT g FROM generate_series(1, 100) g;
  INSERT INTO scratch SELECT generate_series(1, 50);
  INSERT INTO "Old Name" SELECT g, 'v' || g FROM generate_series(1, 100) g;
`;

function endpoint(side: 'source' | 'target', database: string): ResolvedEndpoint {
  return { host: '127.0.0.1', port: ports[side], database, user: 'postgres', password: password(side), sslmode: 'disable' };
}

function context(database: string, renames = true): EngineContext {
  return {
    migrationId: `ferry-${database.replace(/_/g, '-')}`,
    spec: parseSpec(
      devSpec(database, {
        mode: 'online',
        fullLoad: { chunkTargetMB: 1, wholeTableMaxMB: 0 },
        ...(renames ? { rename: { tables: { 'public.Old Name': 'new_name' }, columns: { 'public.Old Name.old col': 'new col' } } } : {}),
        cdc: { sliceSeconds: 2, heartbeatIntervalSeconds: 0.3 },
      }),
    ),
    source: endpoint('source', database),
    target: endpoint('target', database),
    workerId: 'cdc-test',
  };
}

/** A writer on the source: every kind of change, mostly one transaction each, until stopped. */
function startWriter(db: string) {
  let running = true;
  let cdcPhase = false;
  let ops = 0;
  const rnd = (n: number) => 1 + Math.floor(Math.random() * n);
  const done = (async () => {
    const c: pg.Client = await connect('source', db);
    try {
      while (running) {
        const step = ops % 16;
        switch (step) {
          case 0:
            await c.query(`INSERT INTO accounts (owner, balance) VALUES ($1, $2)`, [`w${ops}`, rnd(500)]);
            break;
          case 1: { // one row updated twice in a transaction (one update run keeps only its last version)
            const id = rnd(20000);
            await c.query('BEGIN');
            await c.query(`UPDATE accounts SET balance = balance + 1, note = 'u' || $2 WHERE id = $1`, [id, ops]);
            await c.query(`UPDATE accounts SET balance = balance * 2 WHERE id = $1`, [id]);
            await c.query('COMMIT');
            break;
          }
          case 2:
            await c.query(`DELETE FROM accounts WHERE id = $1`, [rnd(20000)]);
            break;
          case 3: // primary key update
            await c.query(`UPDATE kv SET k = k || 'x', v = v + 1 WHERE k = (SELECT k FROM kv ORDER BY k LIMIT 1 OFFSET $1)`, [rnd(900)]);
            break;
          case 4: // TOAST left unchanged: only the title changes
            await c.query(`UPDATE docs SET title = title || '.' WHERE id = $1`, [rnd(6)]);
            break;
          case 5: // TOAST rewritten (> 1 MB) every other round, else a small update
            if (ops % 32 === 5) await c.query(`UPDATE docs SET body = repeat(md5($2::text), 40000) WHERE id = $1`, [rnd(6), ops]);
            else await c.query(`UPDATE docs SET title = 't' || $2 WHERE id = $1`, [rnd(6), ops]);
            break;
          case 6: // REPLICA IDENTITY FULL, duplicate rows: update / delete one of several equal rows
            await c.query(`UPDATE events_full SET b = b || 'y' WHERE ctid = (SELECT ctid FROM events_full WHERE a = $1 LIMIT 1)`, [rnd(250)]);
            await c.query(`DELETE FROM events_full WHERE ctid = (SELECT ctid FROM events_full WHERE a = $1 LIMIT 1)`, [rnd(250)]);
            await c.query(`INSERT INTO events_full VALUES ($1, 'dup', '{"x": [1, 2]}')`, [rnd(250)]);
            break;
          case 7: // unique-index identity: value and key updates
            await c.query(`UPDATE uniq SET w = w || 'z' WHERE u = (SELECT u FROM uniq ORDER BY random() LIMIT 1)`);
            await c.query(`UPDATE uniq SET u = u + 100000 WHERE u = (SELECT u FROM uniq WHERE u < 100000 ORDER BY random() LIMIT 1)`);
            break;
          case 8: // partitioned: the row moves between partitions
            await c.query(`UPDATE measure SET at = CASE WHEN at < '2024-01-01' THEN at + 365 ELSE at - 365 END, v = v + 1 WHERE id = $1`, [rnd(1000)]);
            break;
          case 9: // identity column
            await c.query(`INSERT INTO ident (x) VALUES ($1)`, [ops]);
            await c.query(`UPDATE ident SET x = x + 1 WHERE id = $1`, [rnd(100)]);
            break;
          case 10: // rolled back: never reaches the target
            await c.query('BEGIN');
            await c.query(`INSERT INTO accounts (owner, balance) VALUES ('rolled back', 1)`);
            await c.query(`UPDATE kv SET v = -1`);
            await c.query('ROLLBACK');
            break;
          case 11: // several tables in one transaction
            await c.query('BEGIN');
            await c.query(`INSERT INTO accounts (owner, balance) VALUES ($1, 2)`, [`multi${ops}`]);
            await c.query(`DELETE FROM uniq WHERE u = (SELECT u FROM uniq ORDER BY random() LIMIT 1)`);
            await c.query(`INSERT INTO uniq VALUES ($1, 'new')`, [200000 + ops]);
            await c.query('COMMIT');
            break;
          case 12: // renamed table and column
            await c.query(`UPDATE "Old Name" SET v = v || '+' WHERE "old col" = $1`, [rnd(100)]);
            await c.query(`INSERT INTO "Old Name" VALUES ($1, 'new')`, [1000 + ops]);
            break;
          case 13: // TRUNCATE is only safe after the full load (it is not MVCC-safe for the snapshot's readers)
            if (cdcPhase && ops % 64 === 13) await c.query(`BEGIN; TRUNCATE scratch; INSERT INTO scratch SELECT generate_series(1, $1::int); COMMIT`.replace('$1::int', String(rnd(30))));
            break;
          default:
            await c.query(`UPDATE accounts SET note = NULL WHERE id = $1`, [rnd(20000)]);
        }
        ops++;
        if (ops % 16 === 0) await sleep(5);
      }
    } finally {
      await c.end();
    }
  })();
  return {
    enterCdcPhase: () => (cdcPhase = true),
    ops: () => ops,
    stop: async () => {
      running = false;
      await done;
      return ops;
    },
  };
}

describe('change data capture (native postgres)', () => {
  let db: string;
  let drop: () => Promise<void>;
  let ctx: EngineContext;
  let writer: ReturnType<typeof startWriter> | undefined;

  beforeAll(async () => {
    const pair = await createDatabasePair('cdc');
    db = pair.name;
    drop = pair.drop;
    await sql('source', db, SCHEMA);
    ctx = context(db);
  });
  afterAll(async () => {
    await writer?.stop().catch(() => undefined);
    await engine.stopCapture!(ctx).catch(() => undefined);
    await closeIdleSessions();
    await drop?.();
  });

  it('loads from the slot snapshot, streams in slices (one aborted), drains, and ends identical', async () => {
    const provisioned: ProvisionResult = await engine.provision(ctx);
    await engine.prepareCapture!(ctx);
    await engine.prepareCapture!(ctx); // idempotent

    writer = startWriter(db);
    await sleep(300);

    // The slot and its snapshot, held in the background.
    const holder = new AbortController();
    const holding = engine.holdSnapshot!({ ...ctx, signal: holder.signal });
    let snapshotId: string | undefined;
    for (let i = 0; i < 100 && !snapshotId; i++) {
      snapshotId = await engine.currentSnapshot!(ctx);
      if (!snapshotId) await sleep(100);
    }
    expect(snapshotId).toMatch(/^[0-9A-F]+-[0-9A-F]+-[0-9]+$/);
    const state = await sql<{ slot: string; start_lsn: string; applied_lsn: string }>('target', db, `SELECT slot, start_lsn::text, applied_lsn::text FROM ${CDC_TABLE}`);
    expect(state).toEqual([{ slot: slotName(ctx.migrationId), start_lsn: state[0]!.start_lsn, applied_lsn: state[0]!.start_lsn }]);

    // Full load under the snapshot, while the writer keeps going.
    const chunks = await engine.planFullLoad(ctx, provisioned.tables);
    expect(chunks.length).toBeGreaterThan(provisioned.tables.length); // accounts is split
    const queue = [...chunks];
    const copier = async () => {
      for (let c = queue.shift(); c; c = queue.shift()) await engine.copyChunk(ctx, c, () => undefined, snapshotId);
    };
    await Promise.all([copier(), copier()]);
    holder.abort();
    await holding;
    await engine.finishLoad(ctx, provisioned.tables);
    writer.enterCdcPhase();

    // A second holder after the snapshot is gone: the slot exists, the load cannot resume consistently.
    await expect(engine.holdSnapshot!({ ...ctx, signal: AbortSignal.timeout(5_000) })).rejects.toBeInstanceOf(SnapshotLost);

    const progress: CaptureProgress[] = [];
    const slice = async (maxSeconds: number, options: { untilLsn?: string; signal?: AbortSignal; tables?: TableMapping[] } = {}) => {
      const p = await engine.streamChanges!({ ...ctx, signal: options.signal }, { maxSeconds, untilLsn: options.untilLsn, tables: options.tables ?? provisioned.tables }, (x) =>
        progress.push(x),
      );
      progress.push(p);
      return p;
    };

    // Short slices while the writer runs; a 100k-row transaction; one slice aborted mid-way.
    await slice(1.5);
    const big = (async () => {
      const c = await connect('source', db);
      try {
        await c.query(`INSERT INTO bulk SELECT g, 'pad ' || g FROM generate_series(1, 100000) g`);
        await c.query(`UPDATE bulk SET pad = pad || '!' WHERE id % 10 = 0`);
        await c.query(`DELETE FROM bulk WHERE id % 7 = 0`);
      } finally {
        await c.end();
      }
    })();
    const abort = new AbortController();
    setTimeout(() => abort.abort(), 900);
    const aborted = await slice(5, { signal: abort.signal });
    expect(aborted.reachedUntil).toBe(false);
    await big;
    // Consecutive slices keep one replication session (the walsender is not restarted between
    // them); the aborted slice closed its own, so the first of these opened a new one.
    const walsender = async () => {
      const c = await connect('source', db);
      try {
        const r = await c.query<{ pid: number | null }>('SELECT active_pid AS pid FROM pg_replication_slots WHERE slot_name = $1', [slotName(ctx.migrationId)]);
        return r.rows[0]?.pid ?? null;
      } finally {
        await c.end();
      }
    };
    const pids: (number | null)[] = [];
    for (let i = 0; i < 3; i++) {
      await slice(1.5);
      pids.push(await walsender());
    }
    expect(pids[0]).not.toBeNull();
    expect(new Set(pids).size).toBe(1);

    // Renames applied on the target mid-stream (normally at cutover): later slices write to the new names.
    await engine.applyRenames(ctx, provisioned.tables);
    await slice(1.5);

    const ops = await writer.stop();
    writer = undefined;
    expect(ops).toBeGreaterThan(100);
    const untilLsn = await engine.currentLsn!(ctx);
    let last: CaptureProgress | undefined;
    for (let i = 0; i < 20 && !last?.reachedUntil; i++) last = await slice(30, { untilLsn });
    expect(last?.reachedUntil).toBe(true);
    expect(last!.lagSeconds).toBeDefined();
    expect(last!.lagSeconds!).toBeLessThan(30);
    expect(progress.some((p) => p.applied > 0)).toBe(true);

    // Identical: row counts and checksums per table (the renamed table under its new name).
    const source = await tableChecksums('source', db);
    const target = await tableChecksums('target', db);
    const expected = Object.fromEntries(Object.entries(source).map(([k, v]) => [k === 'public.Old Name' ? 'public.new_name' : k, v]));
    expect(target).toEqual(expected);
    expect(source['public.bulk']!.rows).toBe(100000 - Math.floor(100000 / 7));

    // stopCapture: no slot, publication or heartbeat table left (and again: idempotent).
    await engine.stopCapture!(ctx);
    await engine.stopCapture!(ctx);
    const hb = heartbeatTable(ctx.migrationId);
    expect(await sql('source', db, 'SELECT 1 FROM pg_replication_slots WHERE slot_name = $1', [slotName(ctx.migrationId)])).toEqual([]);
    expect(await sql('source', db, 'SELECT 1 FROM pg_publication WHERE pubname = $1', [publicationName(ctx.migrationId)])).toEqual([]);
    expect(await sql('source', db, `SELECT to_regclass($1) AS t`, [`"${hb.schema}"."${hb.name}"`])).toEqual([{ t: null }]);
    expect(await sql('source', db, `SELECT 1 FROM pg_namespace WHERE nspname = 'ferry'`)).toEqual([]);
  });
});

describe('change data capture: DDL during the migration is not replicated', () => {
  let db: string;
  let drop: () => Promise<void>;
  let ctx: EngineContext;

  beforeAll(async () => {
    const pair = await createDatabasePair('cdcddl');
    db = pair.name;
    drop = pair.drop;
    await sql('source', db, `CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 10) g;`);
    ctx = context(db, false);
  });
  afterAll(async () => {
    await engine.stopCapture!(ctx).catch(() => undefined);
    await closeIdleSessions();
    await drop?.();
  });

  it('names a column added on the source, applies once the target has it, and names a table outside the migration', async () => {
    const provisioned = await engine.provision(ctx);
    await engine.prepareCapture!(ctx);
    const holder = new AbortController();
    const holding = engine.holdSnapshot!({ ...ctx, signal: holder.signal });
    let snapshotId: string | undefined;
    for (let i = 0; i < 100 && !snapshotId; i++) {
      snapshotId = await engine.currentSnapshot!(ctx);
      if (!snapshotId) await sleep(100);
    }
    for (const c of await engine.planFullLoad(ctx, provisioned.tables)) await engine.copyChunk(ctx, c, () => undefined, snapshotId);
    holder.abort();
    await holding;

    await sql('source', db, `ALTER TABLE t ADD COLUMN extra int; INSERT INTO t VALUES (11, 'v11', 42)`);
    const options = { maxSeconds: 5, tables: provisioned.tables, untilLsn: await engine.currentLsn!(ctx) };
    await expect(engine.streamChanges!(ctx, options, () => undefined)).rejects.toThrow(/column extra of source table public\.t has no column on the target/);

    await sql('target', db, `ALTER TABLE t ADD COLUMN extra int`);
    const p = await engine.streamChanges!(ctx, options, () => undefined);
    expect(p.reachedUntil).toBe(true);
    expect(await sql('target', db, 'SELECT id, v, extra FROM t WHERE id = 11')).toEqual([{ id: 11, v: 'v11', extra: 42 }]);

    await sql('source', db, `CREATE TABLE late (id int PRIMARY KEY); ALTER PUBLICATION ${publicationName(ctx.migrationId)} ADD TABLE late; INSERT INTO late VALUES (1)`);
    await expect(
      engine.streamChanges!(ctx, { ...options, untilLsn: await engine.currentLsn!(ctx) }, () => undefined),
    ).rejects.toThrow(/source table public\.late, which is not part of this migration/);
  });
});
