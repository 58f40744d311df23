// Views and materialized views: which ones a migration takes along, and creating them on the target
// once the tables are loaded and indexed (a view grouping by a primary key needs the key; a
// materialized view is filled from the loaded rows).
//
// A view goes along when it sits in a schema the dump covers and everything it reads is created by
// the migration too: selected tables (and their keys), other views that go along, functions and
// types of the dumped schemas, built-in or extension objects. Any other view is named, with why, in
// the precheck (schema.views).
import path from 'node:path';
import { writeFileSync } from 'node:fs';
import type pg from 'pg';
import type { EngineContext } from '../engine';
import { SchemaCopyFailed, TargetConflict } from '../errors';
import { existingTables, FIRST_NORMAL_OBJECT_ID } from './catalog';
import { closeClient, connectEndpoint, inTransaction, isConnectionLoss, serverVersionNum } from './connect';
import { dumpSchemas, selectedOids, toolError, type SchemaDump } from './dump';
import { matchesPattern, type Selection } from './selection';
import type { MigrationSpec } from '../../../workflows/spec';
import { displayName, qualify, quoteIdent } from './sql';
import { plannedObjects, resolveOnTarget } from './objects';
import { readProvisioned, readSchemaDumpToc, writeProvisioned, type ProvisionedObject } from './state';
import { CATALOG, formatToc, parseToc, withOwnComments, type TocEntry } from './toc';
import { pgBin, runTool } from './tools';

export interface SourceView {
  oid: number;
  schema: string;
  name: string;
  materialized: boolean;
  /** A materialized view that holds rows on the source (REFRESHed there at least once). */
  populated: boolean;
}

export interface ViewPlan {
  /** The schemas the dump covers (dumpSchemas), which the plan was made over. */
  schemas: string[];
  /** Created on the target by finishLoad, in the dump's (dependency) order. */
  migrated: SourceView[];
  /** Left behind, each with the reason. */
  left: { view: SourceView; reason: string }[];
}

interface Dependency {
  view: number;
  /** The referenced object: an array type stands for its element type. */
  classId: number;
  ref: number;
  /** The relation behind it (a table or view itself, a key's table, a row type's table), else 0. */
  relid: number;
  relkind: string | null;
  /** An identity sequence's table, else 0: pg_dump dumps it with that table only (an OWNED BY one goes with its schema). */
  owner: number;
  /** The object's schema; for a schema, its name. */
  schema: string | null;
  described: string;
  /** A member of an extension (the extensions precheck wants those on the target). */
  extension: boolean;
}

/**
 * Views to take along and those left behind. Candidates are the views and materialized views of
 * `schemas` (the dump's) and, elsewhere, those that read a selected table (only named, since their
 * schema is not migrated). Extension members are the extension's business and never candidates;
 * a view the spec's tables.exclude names stays behind.
 */
export async function planViews(src: pg.Client, sel: Selection, schemas: string[], tables: MigrationSpec['tables']): Promise<ViewPlan> {
  const selected = selectedOids(sel);
  const candidates = (
    await src.query<{ oid: string; schema: string; name: string; kind: string; populated: boolean }>(
      `SELECT c.oid::int8 AS oid, n.nspname AS schema, c.relname AS name, c.relkind::text AS kind, c.relispopulated AS populated
         FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('v', 'm')
          AND (n.nspname = ANY($1::text[])
               OR EXISTS (SELECT 1 FROM pg_catalog.pg_rewrite w JOIN pg_catalog.pg_depend d
                                     ON d.classid = 'pg_catalog.pg_rewrite'::regclass AND d.objid = w.oid
                           WHERE w.ev_class = c.oid AND d.refclassid = 'pg_catalog.pg_class'::regclass AND d.refobjid = ANY($2::oid[])))
          AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                           WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
        ORDER BY 2, 3`,
      [schemas, [...selected]],
    )
  ).rows.map((r) => ({ oid: Number(r.oid), schema: r.schema, name: r.name, materialized: r.kind === 'm', populated: r.kind === 'm' && r.populated }));
  if (candidates.length === 0) return { schemas, migrated: [], left: [] };

  // What each candidate reads: through its rules, and through what hangs on it (triggers, column
  // defaults, a materialized view's indexes and statistics), which are restored with it. Links
  // back to the view itself are skipped.
  const stats = (await serverVersionNum(src)) >= 100000
    ? `UNION ALL SELECT stxrelid, 'pg_catalog.pg_statistic_ext'::regclass::oid, oid FROM pg_catalog.pg_statistic_ext WHERE stxrelid = ANY($1::oid[])`
    : '';
  const deps = (
    await src.query<{ view: string; classid: string; ref: string; relid: string; relkind: string | null; owner: string; schema: string | null; described: string; extension: boolean }>(
      `WITH parts(view, classid, objid) AS (
         SELECT ev_class, 'pg_catalog.pg_rewrite'::regclass::oid, oid FROM pg_catalog.pg_rewrite WHERE ev_class = ANY($1::oid[])
         UNION ALL SELECT tgrelid, 'pg_catalog.pg_trigger'::regclass::oid, oid FROM pg_catalog.pg_trigger WHERE tgrelid = ANY($1::oid[])
         UNION ALL SELECT adrelid, 'pg_catalog.pg_attrdef'::regclass::oid, oid FROM pg_catalog.pg_attrdef WHERE adrelid = ANY($1::oid[])
         UNION ALL SELECT indrelid, 'pg_catalog.pg_class'::regclass::oid, indexrelid FROM pg_catalog.pg_index WHERE indrelid = ANY($1::oid[])
         ${stats}),
       refs AS (
         -- An array type is met by its element type.
         SELECT DISTINCT p.view, coalesce(a.classid, d.refclassid) AS classid, coalesce(a.oid, d.refobjid) AS ref
           FROM parts p
           JOIN pg_catalog.pg_depend d ON d.classid = p.classid AND d.objid = p.objid AND d.deptype = 'n'
           LEFT JOIN LATERAL (SELECT 'pg_catalog.pg_type'::regclass::oid AS classid, t.typelem AS oid FROM pg_catalog.pg_type t
                               WHERE d.refclassid = 'pg_catalog.pg_type'::regclass AND t.oid = d.refobjid AND t.typelem <> 0 AND t.typlen = -1) a ON true
          WHERE NOT (d.refclassid = 'pg_catalog.pg_class'::regclass AND d.refobjid = p.view)),
       rels AS (
         SELECT r.*, CASE r.classid
                  WHEN 'pg_catalog.pg_class'::regclass THEN r.ref
                  WHEN 'pg_catalog.pg_constraint'::regclass THEN (SELECT conrelid FROM pg_catalog.pg_constraint WHERE oid = r.ref)
                  WHEN 'pg_catalog.pg_type'::regclass THEN (SELECT typrelid FROM pg_catalog.pg_type WHERE oid = r.ref)
                  ELSE 0 END AS relid
           FROM refs r)
       SELECT x.view::int8 AS view, x.classid::int8 AS classid, x.ref::int8 AS ref, x.relid::int8 AS relid,
              c.relkind::text AS relkind,
              coalesce((SELECT o.refobjid FROM pg_catalog.pg_depend o
                         WHERE c.relkind = 'S' AND o.classid = 'pg_catalog.pg_class'::regclass AND o.objid = x.relid
                           AND o.refclassid = 'pg_catalog.pg_class'::regclass AND o.deptype = 'i' LIMIT 1), 0)::int8 AS owner,
              CASE WHEN x.classid = 'pg_catalog.pg_namespace'::regclass THEN (SELECT nspname FROM pg_catalog.pg_namespace WHERE oid = x.ref)
                   ELSE (pg_catalog.pg_identify_object(x.classid, x.ref, 0)).schema END AS schema,
              pg_catalog.pg_describe_object(x.classid, x.ref, 0) AS described,
              EXISTS (SELECT 1 FROM pg_catalog.pg_depend e WHERE e.classid = x.classid AND e.objid = x.ref AND e.deptype = 'e') AS extension
         FROM rels x LEFT JOIN pg_catalog.pg_class c ON c.oid = x.relid`,
      [candidates.map((v) => v.oid)],
    )
  ).rows.map(
    (r): Dependency => ({
      view: Number(r.view),
      classId: Number(r.classid),
      ref: Number(r.ref),
      relid: Number(r.relid),
      relkind: r.relkind,
      owner: Number(r.owner),
      schema: r.schema,
      described: r.described,
      extension: r.extension,
    }),
  );

  const inDump = new Set(schemas);
  const candidateOids = new Set(candidates.map((v) => v.oid));
  const reasons = new Map<number, string>();
  for (const v of candidates) {
    if (!inDump.has(v.schema)) reasons.set(v.oid, `its schema ${quoteIdent(v.schema)} is not migrated`);
    else if (tables.exclude.some((p) => matchesPattern(p, v.schema, v.name))) reasons.set(v.oid, 'excluded by tables.exclude');
  }
  const goesAlong = (oid: number) => candidateOids.has(oid) && !reasons.has(oid);
  // A reference is met by what the server has (built in) or an extension brings, a selected table,
  // a view that goes along (decided below), or what provision restores: the types and functions of
  // the dumped schemas, and their sequences but the identity of a table left out (dumped with it).
  const unmet = (d: Dependency): string | null => {
    if (d.ref < FIRST_NORMAL_OBJECT_ID || d.extension) return null;
    const dumped = d.schema !== null && inDump.has(d.schema);
    if (d.classId === CATALOG.pg_namespace) return dumped ? null : `uses ${d.described}, which is not migrated`;
    if (d.relkind === 'S') return dumped && (d.owner === 0 || selected.has(d.owner)) ? null : `uses ${d.described}, which is not migrated`;
    if (d.relid !== 0 && d.relkind !== 'c') return selected.has(d.relid) || goesAlong(d.relid) ? null : `reads ${d.described}, which is not migrated`;
    return dumped ? null : `uses ${d.described}, which is not migrated`;
  };
  // Until nothing changes: a view over a view left behind is left behind too.
  for (let changed = true; changed; ) {
    changed = false;
    for (const d of deps) {
      if (reasons.has(d.view)) continue;
      const why = unmet(d);
      if (why) {
        reasons.set(d.view, why);
        changed = true;
      }
    }
  }
  const migrated = candidates.filter((v) => !reasons.has(v.oid));
  // A materialized view is filled only when every one it reads, directly or through plain views,
  // is (pg_dump does the same: the REFRESH would fail on an unfilled one).
  const byOid = new Map(migrated.map((v) => [v.oid, v]));
  const unfilled = new Set(migrated.filter((v) => v.materialized && !v.populated).map((v) => v.oid));
  for (let changed = true; changed; ) {
    changed = false;
    for (const d of deps) {
      const v = byOid.get(d.view);
      if (!v || unfilled.has(v.oid) || !unfilled.has(d.relid)) continue;
      v.populated = false;
      unfilled.add(v.oid);
      changed = true;
    }
  }
  return { schemas, migrated, left: candidates.filter((v) => reasons.has(v.oid)).map((view) => ({ view, reason: reasons.get(view.oid)! })) };
}

/** The plan for a selection, over the schemas its dump covers. */
export async function planViewsOf(src: pg.Client, sel: Selection, tables: MigrationSpec['tables']): Promise<ViewPlan> {
  return planViews(src, sel, await dumpSchemas(src, sel), tables);
}

/**
 * Dump ids of the TOC entries that make up these views: the view itself, functions over it (and
 * functions calling those), and what hangs on the relation (column defaults, indexes, triggers,
 * rules, statistics). Comments follow their owner (withOwnComments).
 */
export async function viewEntryIds(src: pg.Client, toc: readonly TocEntry[], views: readonly SourceView[]): Promise<Set<number>> {
  const oids = new Set(views.map((v) => v.oid));
  const ids = new Set<number>();
  if (oids.size === 0) return ids;
  const attached = toc.filter((e) => e.objectId !== 0 && e.classId !== CATALOG.pg_namespace);
  // Each entry's relation; pg_statistic_ext exists from PostgreSQL 10.
  const stats = (await serverVersionNum(src)) >= 100000 ? `WHEN 'pg_catalog.pg_statistic_ext'::regclass THEN (SELECT stxrelid FROM pg_catalog.pg_statistic_ext WHERE oid = e.oid)` : '';
  const r = await src.query<{ i: string; relid: string | null }>(
    `SELECT e.i, CASE e.cls
        WHEN 'pg_catalog.pg_class'::regclass THEN coalesce((SELECT indrelid FROM pg_catalog.pg_index WHERE indexrelid = e.oid), e.oid)
        WHEN 'pg_catalog.pg_attrdef'::regclass THEN (SELECT adrelid FROM pg_catalog.pg_attrdef WHERE oid = e.oid)
        WHEN 'pg_catalog.pg_trigger'::regclass THEN (SELECT tgrelid FROM pg_catalog.pg_trigger WHERE oid = e.oid)
        WHEN 'pg_catalog.pg_rewrite'::regclass THEN (SELECT ev_class FROM pg_catalog.pg_rewrite WHERE oid = e.oid)
        ${stats}
        -- A function over one of the views or its row type (RETURNS SETOF v, a BEGIN ATOMIC body):
        -- restored after it, with the views.
        WHEN 'pg_catalog.pg_proc'::regclass THEN (
          SELECT x.v FROM pg_catalog.pg_depend d
            LEFT JOIN pg_catalog.pg_type t ON d.refclassid = 'pg_catalog.pg_type'::regclass AND t.oid = d.refobjid
            LEFT JOIN pg_catalog.pg_type el ON t.typlen = -1 AND el.oid = t.typelem
            CROSS JOIN LATERAL (SELECT CASE WHEN d.refclassid = 'pg_catalog.pg_class'::regclass THEN d.refobjid
                                            ELSE coalesce(nullif(el.typrelid, 0), t.typrelid) END AS v) x
           WHERE d.classid = 'pg_catalog.pg_proc'::regclass AND d.objid = e.oid AND d.deptype = 'n' AND x.v = ANY($3::oid[]) LIMIT 1)
        END::int8 AS relid
       FROM unnest($1::oid[], $2::oid[]) WITH ORDINALITY AS e(cls, oid, i)`,
    [attached.map((e) => e.classId), attached.map((e) => e.objectId), [...oids]],
  );
  for (const row of r.rows) if (row.relid !== null && oids.has(Number(row.relid))) ids.add(attached[Number(row.i) - 1]!.dumpId);
  // A function calling one of those functions (a BEGIN ATOMIC body records the call) needs it to
  // exist, so it comes with the views too; and one calling that one, and so on.
  const procs = attached.filter((e) => e.classId === CATALOG.pg_proc);
  const direct = procs.filter((e) => ids.has(e.dumpId)).map((e) => e.objectId);
  if (direct.length > 0) {
    const callers = await src.query<{ oid: string }>(
      `WITH RECURSIVE deferred(oid) AS (
         SELECT unnest($1::oid[])
         UNION
         SELECT d.objid FROM pg_catalog.pg_depend d JOIN deferred f ON d.refobjid = f.oid
          WHERE d.refclassid = 'pg_catalog.pg_proc'::regclass AND d.classid = 'pg_catalog.pg_proc'::regclass AND d.deptype = 'n')
       SELECT oid::int8 AS oid FROM deferred`,
      [direct],
    );
    const deferred = new Set(callers.rows.map((c) => Number(c.oid)));
    for (const e of procs) if (deferred.has(e.objectId)) ids.add(e.dumpId);
  }
  return ids;
}

/**
 * pg_restore's script without the psql meta-commands recent minor releases put around it
 * (`\\restrict KEY` / `\\unrestrict KEY`, which guard psql against a malicious dump): the server
 * takes SQL only.
 */
export function withoutMetaCommands(script: string): string {
  return script.replace(/^\\(un)?restrict [A-Za-z0-9]+$/gm, '');
}

/**
 * The search_path a session of this user in this database starts with: ALTER ROLE ... IN DATABASE,
 * then ALTER ROLE, then ALTER DATABASE, then the server's configuration (postgresql.conf and ALTER
 * SYSTEM, as pg_file_settings shows them: readable by superusers only), else the built-in default.
 * Read from the catalogs because Ferry's own sessions start with search_path = pg_catalog.
 */
async function userSearchPath(c: pg.Client): Promise<string> {
  const r = await c.query<{ path: string | null; file_readable: boolean; boot: string }>(
    `SELECT (SELECT substr(c, 13) FROM pg_catalog.pg_db_role_setting s CROSS JOIN unnest(s.setconfig) AS c
              WHERE c LIKE 'search\\_path=%'
                AND s.setdatabase IN (0, (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database()))
                AND s.setrole IN (0, (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = current_user))
                AND (s.setdatabase, s.setrole) <> (0::oid, 0::oid)
              ORDER BY s.setrole = 0, s.setdatabase = 0 LIMIT 1) AS path,
            pg_catalog.has_table_privilege('pg_catalog.pg_file_settings', 'SELECT')
              AND pg_catalog.has_function_privilege('pg_catalog.pg_show_all_file_settings()', 'EXECUTE') AS file_readable,
            (SELECT boot_val FROM pg_catalog.pg_settings WHERE name = 'search_path') AS boot`,
  );
  const row = r.rows[0]!;
  if (row.path !== null) return row.path;
  if (row.file_readable) {
    // In a separate query, issued only when permitted: a refused one would abort the transaction.
    const f = await c.query<{ setting: string }>(`SELECT setting FROM pg_catalog.pg_file_settings WHERE name = 'search_path' AND applied`);
    if (f.rows[0]) return f.rows[0].setting;
  }
  return row.boot;
}

/**
 * The script cut at pg_restore's entry headers (`-- Name: spend; Type: VIEW; Schema: sales; ...`),
 * each piece with what it creates, so a failure names its object. The first piece (settings) has
 * no header.
 */
export function scriptEntries(script: string): { object: string; sql: string }[] {
  return withoutMetaCommands(script)
    .split(/^(?=--\n-- (?:Data for )?Name: )/m)
    .filter((sql) => sql.trim() !== '')
    .map((sql) => {
      const m = /^--\n-- (?:Data for )?Name: (.*); Type: (.*); Schema: (.*); Owner: /.exec(sql);
      return { object: m ? `${m[2]} ${m[3] === '-' ? '' : `${m[3]}.`}${m[1]}` : 'session settings', sql };
    });
}

/** The plan, less views the dump does not hold (created on the source after the dump was taken: not migrated, like such a table). */
export function viewsInDump(plan: ViewPlan, toc: TocEntry[]): ViewPlan {
  const dumped = new Set(toc.filter((e) => e.classId === CATALOG.pg_class).map((e) => e.objectId));
  return { ...plan, migrated: plan.migrated.filter((v) => dumped.has(v.oid)) };
}

/** Each materialized view's place in the dump (by source OID): one that reads another comes after it. */
function dumpOrder(toc: readonly TocEntry[]): Map<number, number> {
  return new Map(toc.filter((e) => e.desc === 'MATERIALIZED VIEW').map((e, i) => [e.objectId, i]));
}

/**
 * REFRESH and then ANALYZE (the planner reads a materialized view's statistics as a table's) each
 * of `views`, in the order given, inside the caller's transaction. The refreshes run under the
 * search_path a user's session has, for functions whose bodies name tables unqualified (Ferry's
 * sessions use pg_catalog; PostgreSQL 17 refreshes under pg_catalog, pg_temp whatever this says);
 * then the transaction goes back to Ferry's path.
 */
async function refreshInOrder<V extends { schema: string; name: string }>(c: pg.Client, views: readonly V[], failed: (v: V, err: unknown) => Error): Promise<void> {
  if (views.length === 0) return;
  await c.query(`SELECT pg_catalog.set_config('search_path', $1, true)`, [await userSearchPath(c)]);
  for (const v of views) {
    await c.query(`REFRESH MATERIALIZED VIEW ${qualify(v.schema, v.name)}; ANALYZE ${qualify(v.schema, v.name)}`).catch((err: unknown) => Promise.reject(failed(v, err)));
  }
  await c.query(`SELECT pg_catalog.set_config('search_path', 'pg_catalog', true)`);
}

/**
 * An online migration's cutover, after the drain: the materialized views Ferry filled are filled
 * again, over the caught-up tables. They were filled from the load's snapshot, and the changes
 * captured since reach tables only; without this the target's would stay as old as the load.
 * Those the source left unfilled stay unfilled. In the dump's order, in one transaction (all or
 * none; a retry refreshes them again). Their time is cutover time (downtime). Returns how many.
 */
export async function refreshMaterializedViews(ctx: EngineContext): Promise<number> {
  const tgt = await connectEndpoint(ctx.target);
  try {
    const state = await readProvisioned(tgt, ctx.migrationId);
    const recorded = (state?.objects ?? []).filter((o) => o.kind === 'view' && o.materialized && o.targetOid !== undefined);
    if (recorded.length === 0) return 0;
    // Names from the target's catalog, by OID: what the view is called there now.
    const onTarget = await tgt.query<{ oid: number; schema: string; name: string }>(
      `SELECT c.oid::int8 AS oid, n.nspname AS schema, c.relname AS name FROM pg_catalog.pg_class c
         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = ANY($1::oid[]) AND c.relkind = 'm' AND c.relispopulated`,
      [recorded.map((o) => o.targetOid)],
    );
    const byTargetOid = new Map(onTarget.rows.map((r) => [Number(r.oid), r]));
    const toc = await readSchemaDumpToc(tgt, ctx.migrationId);
    // Without a kept dump (provisioned before there was one), creation order: the views came from one script in the dump's order.
    const position = toc !== null ? dumpOrder(parseToc(toc)) : new Map(recorded.map((o) => [o.sourceOid, o.targetOid!]));
    const fill = recorded
      .filter((o) => byTargetOid.has(o.targetOid!))
      .sort((a, b) => (position.get(a.sourceOid) ?? 0) - (position.get(b.sourceOid) ?? 0))
      .map((o) => byTargetOid.get(o.targetOid!)!);
    await inTransaction(tgt, () =>
      refreshInOrder(tgt, fill, (v, err) =>
        isConnectionLoss(err) && err instanceof Error
          ? err
          : new SchemaCopyFailed(`refreshing materialized view ${displayName(v.schema, v.name)} on the target at cutover failed: ${(err as Error).message}`, { cause: err }),
      ),
    );
    return fill.length;
  } finally {
    await closeClient(tgt);
  }
}

/**
 * Create the plan's views on the target, with their comments, defaults, indexes and triggers, and
 * fill the materialized ones the source has filled (a schema-only dump creates them WITH NO DATA),
 * in the dump's order so one over another comes after it: all in one transaction that also
 * records them (by target OID) among what Ferry created, so a retry knows they are there and an
 * abort drops exactly them. A failure names the object and leaves no view behind.
 */
export async function createViews(ctx: EngineContext, src: pg.Client, tgt: pg.Client, dump: SchemaDump, plan: ViewPlan): Promise<void> {
  if (plan.migrated.length === 0) return;
  const state = await readProvisioned(tgt, ctx.migrationId);
  if (!state) throw new SchemaCopyFailed(`migration ${ctx.migrationId} has no provision record on the target: cannot create its views`);
  if (state.objects.some((o) => o.kind === 'view')) return; // committed by an earlier attempt
  const taken = await existingTables(tgt, plan.migrated);
  if (taken.length > 0) {
    throw new TargetConflict(
      `target already has ${taken.map((t) => displayName(t.schema, t.name)).join(', ')}, the name of a view Ferry migrates: drop or rename it on the target, or exclude the view (tables.exclude)`,
    );
  }
  const ids = await viewEntryIds(src, dump.toc, plan.migrated);
  const entries = withOwnComments(
    dump.toc,
    dump.toc.filter((e) => ids.has(e.dumpId) || e.desc === 'COMMENT'),
  );
  const list = path.join(path.dirname(dump.file), 'views.list');
  writeFileSync(list, formatToc(entries));
  // As a script run here rather than by pg_restore, so the views and their record commit together.
  const { stdout: script } = await runTool(
    pgBin('pg_restore'),
    ['-f', '-', '--no-owner', '--no-privileges', '--no-tablespaces', '--no-security-labels', '-L', list, dump.file],
    process.env,
    { captureStdout: true, signal: ctx.signal },
  ).catch((err) => {
    throw toolError(err, ctx.target, 'pg_restore of the views');
  });
  // A lost connection stays itself (finishLoad classifies it, and the step is retried).
  const failed = (what: string, err: unknown): Error =>
    isConnectionLoss(err) && err instanceof Error ? err : new SchemaCopyFailed(`${what} on the target failed, so no view was created: ${(err as Error).message}; fix it on the source, or exclude the view (tables.exclude), and retry the step`, {
      cause: err,
    });
  // Its own session: the script sets search_path and other settings for the session.
  const c = await connectEndpoint(ctx.target);
  try {
    await inTransaction(c, async () => {
      for (const entry of scriptEntries(script)) await c.query(entry.sql).catch((err: unknown) => Promise.reject(failed(`creating ${entry.object}`, err)));
      const position = dumpOrder(dump.toc);
      const fill = plan.migrated.filter((v) => v.populated).sort((a, b) => (position.get(a.oid) ?? 0) - (position.get(b.oid) ?? 0));
      await refreshInOrder(c, fill, (v, err) => failed(`refreshing materialized view ${displayName(v.schema, v.name)}`, err));
      const views = await resolveOnTarget(
        c,
        plan.migrated.map((v): ProvisionedObject => ({ kind: 'view', schema: v.schema, name: v.name, sourceOid: v.oid, materialized: v.materialized })),
      );
      const missing = views.find((v) => v.targetOid === undefined);
      if (missing) throw new SchemaCopyFailed(`view ${displayName(missing.schema, missing.name)} is not on the target after its restore`);
      // Functions over the views came with them: recorded too, so an abort drops them.
      const functions = await resolveOnTarget(c, await plannedObjects(src, entries.filter((e) => e.classId === CATALOG.pg_proc)));
      const created = [...views, ...functions];
      await writeProvisioned(c, ctx.migrationId, { status: state.status, createdSchemas: state.createdSchemas, objects: [...state.objects, ...created], result: state.result });
    });
  } finally {
    await closeClient(c);
  }
}
