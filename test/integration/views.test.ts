// Views through the native engine on real clusters: which go along and which stay behind (each
// with its reason), materialized views filled as on the source, and schema renames moving views
// and extended statistics.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPostgresEngine } from '../../activities/adapters/postgres';
import { createDatabasePair, engineContext, sql } from '../support/env';

const FIXTURE = `
CREATE SCHEMA app;
CREATE SCHEMA lib; -- holds no selected table: not migrated
CREATE FUNCTION lib.imm(text) RETURNS text LANGUAGE sql IMMUTABLE AS 'SELECT upper($1)';
CREATE FUNCTION lib.noop() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END';
CREATE TABLE app.t (id int PRIMARY KEY, v text);
CREATE TABLE app.u (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, w text); -- excluded
CREATE TABLE public.p (id int PRIMARY KEY, v text);
CREATE TABLE app.excl (id serial PRIMARY KEY); -- excluded, but its OWNED BY sequence is dumped with the schema
CREATE STATISTICS app.t_stats ON id, v FROM app.t;
-- An unqualified table in a function body: found through the database's default search_path.
CREATE FUNCTION app.label(int) RETURNS text LANGUAGE sql STABLE AS 'SELECT v FROM p WHERE id = $1';
INSERT INTO app.t SELECT g, 'v' || g FROM generate_series(1, 100) g;
INSERT INTO public.p SELECT g, 'p' || g FROM generate_series(1, 100) g;

-- Stay behind: what hangs on them, or what they read, is not migrated.
CREATE VIEW app.with_trigger AS SELECT id, v FROM app.t;
CREATE TRIGGER instead INSTEAD OF INSERT ON app.with_trigger FOR EACH ROW EXECUTE FUNCTION lib.noop();
CREATE MATERIALIZED VIEW app.with_index AS SELECT id, v FROM app.t;
CREATE INDEX with_index_upper ON app.with_index (lib.imm(v));
CREATE VIEW app.with_default AS SELECT id, v FROM app.t;
ALTER VIEW app.with_default ALTER COLUMN v SET DEFAULT lib.imm('x');
CREATE VIEW app.over_identity AS SELECT last_value FROM app.u_id_seq;
CREATE VIEW app.over_row_array AS SELECT '{}'::app.u[] AS us;
CREATE VIEW app.excluded_one AS SELECT id FROM app.t;

-- Go along.
CREATE VIEW app.over_catalog AS SELECT count(*) AS n FROM pg_catalog.pg_stat_activity;
CREATE VIEW app.schema_oid AS SELECT 'app'::regnamespace AS s;
CREATE MATERIALIZED VIEW app.labels AS SELECT id, app.label(id) AS v FROM app.t;
CREATE MATERIALIZED VIEW app.mva AS SELECT id FROM app.t;
CREATE MATERIALIZED VIEW app.mvb AS SELECT count(*) AS n FROM app.mva;
CREATE VIEW app.vv AS SELECT * FROM app.mva;
CREATE MATERIALIZED VIEW app.mvc AS SELECT count(*) AS n FROM app.vv;
REFRESH MATERIALIZED VIEW app.mva WITH NO DATA; -- mvb and mvc (through vv) are filled, over an mva that is not
CREATE STATISTICS app.labels_stats ON id, v FROM app.labels;
CREATE VIEW app.over_serial AS SELECT last_value FROM app.excl_id_seq;
CREATE VIEW app.recent AS SELECT id, v FROM app.t WHERE id > 95;
-- Pre-data that needs a view: created with the views, after the load.
CREATE FUNCTION app.recent_rows() RETURNS SETOF app.recent LANGUAGE sql STABLE BEGIN ATOMIC SELECT * FROM app.recent; END;
COMMENT ON FUNCTION app.recent_rows() IS 'the last five';
-- ...and one calling that function: after it, so with the views too.
CREATE FUNCTION app.recent_count() RETURNS bigint LANGUAGE sql STABLE BEGIN ATOMIC SELECT count(*) FROM app.recent_rows(); END;
-- Its argument type is on a user's search_path (public), which refreshes run under.
CREATE FUNCTION app.recent_for(q public.p) RETURNS SETOF app.recent LANGUAGE sql STABLE BEGIN ATOMIC SELECT * FROM app.recent r WHERE r.id = q.id; END;
`;

describe('views', () => {
  let db: { name: string; drop: () => Promise<void> };
  const engine = createPostgresEngine();

  beforeAll(async () => {
    db = await createDatabasePair('views');
    await sql('source', db.name, FIXTURE);
    await sql('target', db.name, 'CREATE SCHEMA shop'); // not Ferry's: renames move objects into it one by one
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('take along what all they read goes along, name the rest with the reason, and move with a schema rename', async () => {
    const ctx = engineContext(db.name, { tables: { include: ['app.*', 'public.p'], exclude: ['app.u', 'app.excl', 'app.excluded_one'] }, rename: { schemas: { app: 'shop' } } });
    const items = await engine.precheck(ctx);
    const views = items.find((i) => i.id === 'schema.views');
    expect(views?.status).toBe('warning');
    for (const why of [
      'app.with_trigger (uses function lib.noop(), which is not migrated)',
      'app.with_index (materialized) (uses function lib.imm(text), which is not migrated)',
      'app.with_default (uses function lib.imm(text), which is not migrated)',
      'app.over_identity (uses sequence app.u_id_seq, which is not migrated)',
      'app.over_row_array (reads type app.u, which is not migrated)',
      'app.excluded_one (excluded by tables.exclude)',
    ])
      expect(views?.message).toContain(why);
    expect(views?.message).toContain('9 view(s) go along');

    const provisioned = await engine.provision(ctx);
    for (const chunk of await engine.planFullLoad(ctx, provisioned.tables)) await engine.copyChunk(ctx, chunk, () => undefined);
    await engine.finishLoad(ctx, provisioned.tables);
    await engine.applyRenames(ctx, provisioned.tables);

    const onTarget = await sql<{ v: string }>(
      'target',
      db.name,
      `SELECT n.nspname || '.' || c.relname || ' ' || c.relkind::text || CASE WHEN c.relispopulated THEN '' ELSE ' empty' END AS v
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('v', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1`,
    );
    expect(onTarget.map((r) => r.v)).toEqual([
      'shop.labels m',
      'shop.mva m empty',
      'shop.mvb m empty',
      'shop.mvc m empty',
      'shop.over_catalog v',
      'shop.over_serial v',
      'shop.recent v',
      'shop.schema_oid v',
      'shop.vv v',
    ]);
    const recent = await sql('target', db.name, `SELECT count(*)::int AS n, obj_description('shop.recent_rows()'::regprocedure) AS c FROM shop.recent_rows()`);
    expect(recent).toEqual([{ n: 5, c: 'the last five' }]);
    expect(await sql('target', db.name, 'SELECT shop.recent_count()::int AS n')).toEqual([{ n: 5 }]);
    const labels = (side: 'source' | 'target', schema: string) => sql(side, db.name, `SELECT id, v FROM ${schema}.labels ORDER BY id`);
    expect(await labels('target', 'shop')).toEqual(await labels('source', 'app'));
    // The renamed schema took Ferry's objects, extended statistics included. The old one stays,
    // empty, since shop.schema_oid refers to it ('app'::regnamespace).
    const stats = await sql('target', db.name, `SELECT stxname || ' ' || stxnamespace::regnamespace::text AS s FROM pg_statistic_ext ORDER BY 1`);
    expect(stats).toEqual([{ s: 'labels_stats shop' }, { s: 't_stats shop' }]);
    // Recorded and moved: found on the target by its signature, which renders the same as on the source.
    expect(await sql('target', db.name, `SELECT 'shop.recent_for(public.p)'::regprocedure::text AS f`)).toEqual([{ f: 'shop.recent_for(p)' }]);
    const left = await sql('target', db.name, `SELECT pg_describe_object(classid, objid, 0) AS o FROM pg_depend WHERE refobjid = 'app'::regnamespace`);
    expect(left).toEqual([{ o: 'rule _RETURN on view shop.schema_oid' }]);

    // Validation covers the views: each one there, through the schema rename, with its definition.
    const viewItems = async () => ((await engine.validate(ctx, provisioned.tables)).schema ?? []).filter((i) => i.kind === 'view');
    const before = await viewItems();
    expect(before.map((i) => `${i.object} ${i.status}`).sort()).toEqual(
      ['labels', 'mva', 'mvb', 'mvc', 'over_catalog', 'over_serial', 'recent', 'schema_oid', 'vv'].map((v) => `shop.${v} match`),
    );
    // mvb is filled on the source over an mva that is not: no REFRESH can fill it, and that is said.
    expect(before.find((i) => i.object === 'shop.mvb')?.message).toContain('it reads a materialized view the source has not filled');
    // A view changed on the target, and a materialized view emptied there: both named.
    await sql('target', db.name, 'CREATE OR REPLACE VIEW shop.recent AS SELECT id, v FROM shop.t WHERE id > 90');
    await sql('target', db.name, 'REFRESH MATERIALIZED VIEW shop.labels WITH NO DATA');
    const after = await viewItems();
    expect(after.filter((i) => i.status === 'mismatch').map((i) => i.message)).toEqual([
      expect.stringMatching(/^materialized view shop\.labels: filled on the source, not on the target$/),
      expect.stringMatching(/^view shop\.recent: its definition differs from the source's: .*> 90/),
    ]);

    // Abort: what Ferry created goes, from a schema it did not create too (views, and the function over one).
    await engine.cleanup(ctx, { aborted: true, provision: provisioned });
    const inShop = await sql('target', db.name, `SELECT pg_describe_object(classid, objid, 0) AS o FROM pg_depend WHERE refobjid = 'shop'::regnamespace`);
    expect(inShop).toEqual([]);
  });

  it("refreshes a materialized view under the target's configured search_path (ALTER SYSTEM), not the built-in one", async () => {
    const pair = await createDatabasePair('views_path');
    try {
      // A function naming a table of schema lib unqualified: the source's refresh finds it
      // through the session's path; on the target only through the server's configuration.
      await sql(
        'source',
        pair.name,
        `CREATE SCHEMA lib; CREATE SCHEMA app;
         CREATE TABLE lib.names (id int PRIMARY KEY, v text);
         CREATE TABLE app.t (id int PRIMARY KEY);
         INSERT INTO lib.names SELECT g, 'n' || g FROM generate_series(1, 10) g;
         INSERT INTO app.t SELECT generate_series(1, 10);
         SET search_path = "$user", public, lib;
         CREATE FUNCTION app.name_of(int) RETURNS text LANGUAGE sql STABLE AS 'SELECT v FROM names WHERE id = $1';
         CREATE MATERIALIZED VIEW app.named AS SELECT id, app.name_of(id) AS v FROM app.t;`,
      );
      await sql('target', 'postgres', 'ALTER SYSTEM SET search_path = "$user", public, lib');
      await sql('target', 'postgres', 'SELECT pg_reload_conf()');
      const ctx = engineContext(pair.name, { tables: { include: ['app.*', 'lib.*'] } });
      const provisioned = await engine.provision(ctx);
      for (const chunk of await engine.planFullLoad(ctx, provisioned.tables)) await engine.copyChunk(ctx, chunk, () => undefined);
      await engine.finishLoad(ctx, provisioned.tables);
      const named = (side: 'source' | 'target') => sql(side, pair.name, 'SELECT id, v FROM app.named ORDER BY id');
      expect(await named('target')).toHaveLength(10);
      expect(await named('target')).toEqual(await named('source'));
    } finally {
      await sql('target', 'postgres', 'ALTER SYSTEM RESET search_path');
      await sql('target', 'postgres', 'SELECT pg_reload_conf()');
      await pair.drop();
    }
  });
});
