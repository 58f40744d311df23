// provision (state schema + pre-data on the target) and finishLoad (post-data + sequences).
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type pg from 'pg';
import type { ProvisionResult, TableMapping, TableRef } from '../../../workflows/types';
import type { EngineContext } from '../engine';
import { PrecheckFailed, SchemaCopyFailed, TargetConflict } from '../errors';
import { existingSchemas, existingTables, loadSelection } from './catalog';
import { startupOptions, withSessions } from './connect';
import { dumpSchema, keepDump, keptDump, selectedOids, toolError, type SchemaDump } from './dump';
import { indexBuildSettings } from './indexes';
import { plannedObjects, resolveOnTarget } from './objects';
import type { Selection } from './selection';
import { analyzeTable, tablesToAnalyze } from './statistics';
import { pauseAutovacuum, resumeAutovacuum } from './autovacuum';
import { createViews, planViewsOf, viewEntryIds, viewsInDump } from './views';
import { displayName, qualify, quoteIdent } from './sql';
import { ensureState, readProvisioned, writeProvisioned, type ProvisionedObject } from './state';
import { CATALOG, formatToc, POST_DATA_DESCS, PRE_DATA_DESCS, preDataRuns, withOwnComments, type TocEntry } from './toc';
import { dbConninfo, pgBin, pgEnv, runTool } from './tools';

const RESTORE_FLAGS = ['--exit-on-error', '--no-owner', '--no-privileges', '--no-tablespaces', '--no-security-labels'];

export function renameErrorMessage(sel: Selection): string | null {
  if (sel.renameErrors.length === 0) return null;
  return `rename keys match nothing: ${sel.renameErrors.map((e) => `${e.key} (${e.message})`).join('; ')}`;
}

/** Selection checked the way provision and finishLoad need it. */
export async function checkedSelection(ctx: EngineContext, src: pg.Client): Promise<Selection> {
  const sel = await loadSelection(src, ctx.spec);
  const renameError = renameErrorMessage(sel);
  if (renameError) throw new PrecheckFailed(renameError);
  if (sel.roots.length === 0)
    throw new PrecheckFailed(`no table selected by include ${JSON.stringify(ctx.spec.tables.include)} exclude ${JSON.stringify(ctx.spec.tables.exclude)}`);
  return sel;
}

function allTables(sel: Selection): TableRef[] {
  return [...sel.roots, ...sel.partitions].map((t) => ({ schema: t.schema, name: t.name }));
}

/**
 * Pre-data entries to restore: everything but schemas (Ferry creates those itself and never drops
 * one it did not create) and `leaveOut` (the views' column defaults: views come after the load).
 */
export function preDataEntries(toc: TocEntry[], leaveOut: ReadonlySet<number> = new Set()): TocEntry[] {
  return withOwnComments(
    toc,
    toc.filter((e) => PRE_DATA_DESCS.has(e.desc) && !leaveOut.has(e.dumpId) && !(e.desc === 'COMMENT' && e.rest.startsWith('- SCHEMA '))),
  );
}

export async function provision(ctx: EngineContext): Promise<ProvisionResult> {
  let dump: SchemaDump | undefined;
  try {
    return await withSessions(ctx, async (src, tgt) => {
      const sel = await checkedSelection(ctx, src);
      await ensureState(tgt);
      const previous = await readProvisioned(tgt, ctx.migrationId);
      if (previous?.status === 'done' && previous.result) return previous.result;

      const tables = allTables(sel);
      const present = await existingTables(tgt, tables);
      const result: ProvisionResult = { tables: sel.mappings, createdSchemas: previous?.createdSchemas ?? [] };
      if (previous && present.length === tables.length) {
        // An earlier attempt's restore committed (every run of it) but the attempt died before recording it.
        const objects = await resolveOnTarget(tgt, previous.objects);
        await pauseAutovacuum(tgt, tables);
        await writeProvisioned(tgt, ctx.migrationId, { status: 'done', createdSchemas: result.createdSchemas, objects, result });
        return result;
      }
      // After a crash (record pending) the tables present are those of restore runs that committed.
      if (present.length > 0 && !previous) {
        throw new TargetConflict(
          `target already has ${present.map((t) => displayName(t.schema, t.name)).join(', ')}: Ferry creates the selected tables itself; drop or rename them on the target, or exclude them`,
        );
      }

      const views = await planViewsOf(src, sel, ctx.spec.tables);
      dump = await dumpSchema(ctx, src, sel, views);
      const entries = preDataEntries(dump.toc, await viewEntryIds(src, dump.toc, views.migrated));
      const objects = await plannedObjects(src, entries);
      const haveSchemas = await existingSchemas(tgt, dump.schemas);
      const createdSchemas = [...new Set([...result.createdSchemas, ...dump.schemas.filter((s) => !haveSchemas.has(s))])].sort();
      result.createdSchemas = createdSchemas;
      // Record first: an abort after a crash from here on knows what may exist.
      await writeProvisioned(tgt, ctx.migrationId, { status: 'pending', createdSchemas, objects, result, dumpToc: formatToc(entries) });
      await keepDump(tgt, ctx.migrationId, dump);
      for (const s of dump.schemas) if (!haveSchemas.has(s)) await tgt.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(s)}`);

      // In runs of at most PRE_DATA_TABLES_PER_RESTORE tables, each one transaction (toc.ts says why).
      const byOid = new Map([...sel.roots, ...sel.partitions].map((t) => [t.oid, { schema: t.schema, name: t.name }]));
      const runs = preDataRuns(entries);
      for (const [i, run] of runs.entries()) {
        if (previous) {
          // A run that committed before the crash has all its tables on the target; one that did not, none.
          const runTables = run.flatMap((e) => (e.desc === 'TABLE' && byOid.has(e.objectId) ? [byOid.get(e.objectId)!] : []));
          const there = await existingTables(tgt, runTables);
          if (runTables.length > 0 && there.length === runTables.length) continue;
          if (there.length > 0) {
            throw new TargetConflict(
              `target already has ${there.map((t) => displayName(t.schema, t.name)).join(', ')}: Ferry creates the selected tables itself; drop or rename them on the target, or exclude them`,
            );
          }
        }
        const list = path.join(path.dirname(dump.file), `pre-data-${i}.list`);
        writeFileSync(list, formatToc(run));
        await runTool(
          pgBin('pg_restore'),
          ['-d', dbConninfo(ctx.target), '--section=pre-data', '--single-transaction', ...RESTORE_FLAGS, '-L', list, dump.file],
          pgEnv(ctx.target),
          { signal: ctx.signal },
        ).catch((err) => {
          throw toolError(err, ctx.target, `pg_restore of the pre-data schema to the target${runs.length > 1 ? ` (part ${i + 1} of ${runs.length})` : ''}`);
        });
      }

      const resolved = await resolveOnTarget(tgt, objects);
      // Until finishLoad (autovacuum.ts says why).
      await pauseAutovacuum(tgt, tables);
      await writeProvisioned(tgt, ctx.migrationId, { status: 'done', createdSchemas, objects: resolved, result });
      return result;
    });
  } finally {
    dump?.remove();
  }
}

interface PostDataInfo {
  /** Table the object belongs to (0 when none, e.g. a domain constraint). */
  relid: number;
  /** Referenced table of a foreign key. */
  refRelid: number;
  /** Whether it already exists on the target. */
  exists: boolean;
}

/** Owner table, referenced table, and presence on the target of each post-data entry with an OID. */
async function describePostData(src: pg.Client, tgt: pg.Client, entries: TocEntry[]): Promise<Map<number, PostDataInfo>> {
  const info = new Map<number, PostDataInfo>();
  type Row = { oid: string; relid: string; refrelid: string; schema: string; rel: string; name: string };
  const queries: [number, string, string, (r: Row) => string[]][] = [
    [
      CATALOG.pg_class,
      `SELECT c.oid::int8 AS oid, i.indrelid::int8 AS relid, 0::int8 AS refrelid, n.nspname AS schema, '' AS rel, c.relname AS name
         FROM pg_catalog.pg_class c JOIN pg_catalog.pg_index i ON i.indexrelid = c.oid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        WHERE c.oid = ANY($1::oid[])`,
      `SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('i', 'I')`,
      (r) => [r.schema, r.name],
    ],
    [
      CATALOG.pg_constraint,
      `SELECT o.oid::int8 AS oid, o.conrelid::int8 AS relid, o.confrelid::int8 AS refrelid, coalesce(n.nspname, tn.nspname) AS schema,
              coalesce(c.relname, t.typname) AS rel, o.conname AS name
         FROM pg_catalog.pg_constraint o
         LEFT JOIN pg_catalog.pg_class c ON c.oid = o.conrelid LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
         LEFT JOIN pg_catalog.pg_type t ON t.oid = o.contypid LEFT JOIN pg_catalog.pg_namespace tn ON tn.oid = t.typnamespace
        WHERE o.oid = ANY($1::oid[])`,
      `SELECT 1 FROM pg_catalog.pg_constraint o
         LEFT JOIN pg_catalog.pg_class c ON c.oid = o.conrelid LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
         LEFT JOIN pg_catalog.pg_type t ON t.oid = o.contypid LEFT JOIN pg_catalog.pg_namespace tn ON tn.oid = t.typnamespace
        WHERE coalesce(n.nspname, tn.nspname) = $1 AND coalesce(c.relname, t.typname) = $2 AND o.conname = $3`,
      (r) => [r.schema, r.rel, r.name],
    ],
    [
      CATALOG.pg_trigger,
      `SELECT g.oid::int8 AS oid, g.tgrelid::int8 AS relid, 0::int8 AS refrelid, n.nspname AS schema, c.relname AS rel, g.tgname AS name
         FROM pg_catalog.pg_trigger g JOIN pg_catalog.pg_class c ON c.oid = g.tgrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        WHERE g.oid = ANY($1::oid[])`,
      `SELECT 1 FROM pg_catalog.pg_trigger g JOIN pg_catalog.pg_class c ON c.oid = g.tgrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = $1 AND c.relname = $2 AND g.tgname = $3`,
      (r) => [r.schema, r.rel, r.name],
    ],
    [
      CATALOG.pg_rewrite,
      `SELECT r.oid::int8 AS oid, r.ev_class::int8 AS relid, 0::int8 AS refrelid, n.nspname AS schema, c.relname AS rel, r.rulename AS name
         FROM pg_catalog.pg_rewrite r JOIN pg_catalog.pg_class c ON c.oid = r.ev_class JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        WHERE r.oid = ANY($1::oid[])`,
      `SELECT 1 FROM pg_catalog.pg_rewrite r JOIN pg_catalog.pg_class c ON c.oid = r.ev_class JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = $1 AND c.relname = $2 AND r.rulename = $3`,
      (r) => [r.schema, r.rel, r.name],
    ],
    [
      CATALOG.pg_policy,
      `SELECT p.oid::int8 AS oid, p.polrelid::int8 AS relid, 0::int8 AS refrelid, n.nspname AS schema, c.relname AS rel, p.polname AS name
         FROM pg_catalog.pg_policy p JOIN pg_catalog.pg_class c ON c.oid = p.polrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        WHERE p.oid = ANY($1::oid[])`,
      `SELECT 1 FROM pg_catalog.pg_policy p JOIN pg_catalog.pg_class c ON c.oid = p.polrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = $1 AND c.relname = $2 AND p.polname = $3`,
      (r) => [r.schema, r.rel, r.name],
    ],
    [
      CATALOG.pg_statistic_ext,
      `SELECT s.oid::int8 AS oid, s.stxrelid::int8 AS relid, 0::int8 AS refrelid, n.nspname AS schema, '' AS rel, s.stxname AS name
         FROM pg_catalog.pg_statistic_ext s JOIN pg_catalog.pg_namespace n ON n.oid = s.stxnamespace WHERE s.oid = ANY($1::oid[])`,
      `SELECT 1 FROM pg_catalog.pg_statistic_ext s JOIN pg_catalog.pg_namespace n ON n.oid = s.stxnamespace
        WHERE n.nspname = $1 AND s.stxname = $2`,
      (r) => [r.schema, r.name],
    ],
  ];
  for (const [classId, sourceSql, targetSql, params] of queries) {
    const oids = entries.filter((e) => e.classId === classId && e.objectId !== 0).map((e) => e.objectId);
    if (oids.length === 0) continue;
    const rows = (await src.query<Row>(sourceSql, [oids])).rows;
    const present = await presentOnTarget(tgt, targetSql, rows.map(params));
    rows.forEach((r, i) => info.set(Number(r.oid), { relid: Number(r.relid), refRelid: Number(r.refrelid), exists: present.has(i) }));
  }
  return info;
}

/**
 * Which of these parameter lists `probeSql` (a query with text parameters $1..$n) finds a row for,
 * as their indexes: one round trip for all of them (10,000 tables have 10,000 primary keys).
 */
async function presentOnTarget(tgt: pg.Client, probeSql: string, args: string[][]): Promise<Set<number>> {
  if (args.length === 0) return new Set();
  const cols = args[0]!.map((_, k) => `p${k + 1}`);
  const probe = probeSql.replace(/\$(\d+)/g, (_, d: string) => `w.p${d}`);
  const r = await tgt.query<{ i: string }>(
    `SELECT w.i FROM unnest(${cols.map((_, k) => `$${k + 1}::text[]`).join(', ')}) WITH ORDINALITY AS w(${cols.join(', ')}, i) WHERE EXISTS (${probe})`,
    cols.map((_, k) => args.map((a) => a[k]!)),
  );
  return new Set(r.rows.map((x) => Number(x.i) - 1));
}

/** Child indexes already attached to a parent on the target, as `schema name` keys of the TOC's INDEX ATTACH entries. */
async function indexAttachments(src: pg.Client, tgt: pg.Client, schemas: string[]): Promise<{ key: string; attached: boolean }[]> {
  const sql = `SELECT n.nspname AS schema, c.relname AS name FROM pg_catalog.pg_inherits i
      JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
     WHERE c.relkind IN ('i', 'I') AND n.nspname = ANY($1::text[])`;
  const onSource = (await src.query<{ schema: string; name: string }>(sql, [schemas])).rows;
  const onTarget = new Set((await tgt.query<{ schema: string; name: string }>(sql, [schemas])).rows.map((r) => `${r.schema} ${r.name}`));
  return onSource
    .map((r) => ({ key: `${r.schema} ${r.name}`, attached: onTarget.has(`${r.schema} ${r.name}`) }))
    .sort((a, b) => b.key.length - a.key.length);
}

/**
 * Post-data entries still to restore. Idempotency by filtering: anything already on the target
 * (an index, a constraint, an attached partition index...) is left out, so a retry after partial
 * success restores only the rest. Objects on tables that are not moved (e.g. a foreign key to an
 * unselected table) are left out too.
 */
export async function postDataToRestore(src: pg.Client, tgt: pg.Client, dump: SchemaDump, selected: Set<number>): Promise<TocEntry[]> {
  const post = dump.toc.filter((e) => POST_DATA_DESCS.has(e.desc));
  const info = await describePostData(src, tgt, post);
  const attachments = await indexAttachments(src, tgt, dump.schemas);
  const ofSelected = (i: PostDataInfo) => (i.relid === 0 || selected.has(i.relid)) && (i.refRelid === 0 || selected.has(i.refRelid));
  const restore = post.filter((e) => {
    if (e.desc === 'COMMENT') return true; // decided with its object, below
    if (e.desc === 'INDEX ATTACH') {
      const a = attachments.find((x) => e.rest === x.key || e.rest.startsWith(`${x.key} `));
      return !a?.attached;
    }
    if (e.objectId === 0) return true;
    const i = info.get(e.objectId);
    if (!i) return !(e.desc === 'INDEX' || e.desc === 'CONSTRAINT' || e.desc === 'FK CONSTRAINT' || e.desc === 'TRIGGER');
    return !i.exists && ofSelected(i);
  });
  // A comment goes with its object; onto one already there (built earlier, or restored by an
  // attempt cut short before its comments) it is set again: COMMENT ON is idempotent.
  return withOwnComments(dump.toc, restore, (owner) => {
    const i = POST_DATA_DESCS.has(owner.desc) ? info.get(owner.objectId) : undefined;
    return i !== undefined && i.exists && ofSelected(i);
  });
}

export async function finishLoad(ctx: EngineContext, tables: TableMapping[]): Promise<void> {
  let dump: SchemaDump | undefined;
  try {
    return await withSessions(ctx, async (src, tgt) => {
      const sel = await checkedSelection(ctx, src);
      const planned = await planViewsOf(src, sel, ctx.spec.tables);
      // Post-data from provision's dump: the same point in time as the pre-data, and no second pg_dump.
      dump = await keptDump(tgt, ctx.migrationId);
      const views = dump ? viewsInDump(planned, dump.toc) : planned;
      dump ??= await dumpSchema(ctx, src, sel, views);
      const entries = await postDataToRestore(src, tgt, dump, selectedOids(sel));
      if (entries.length > 0) {
        const list = path.join(path.dirname(dump.file), 'post-data.list');
        writeFileSync(list, formatToc(entries));
        // Index builds here run with the settings of the early ones (indexes.ts), through PGOPTIONS.
        const env = { ...pgEnv(ctx.target), PGOPTIONS: startupOptions(await indexBuildSettings(tgt, ctx.spec.fullLoad)) };
        await runTool(
          pgBin('pg_restore'),
          ['-d', dbConninfo(ctx.target), '--section=post-data', '-j', String(ctx.spec.parallelism), ...RESTORE_FLAGS, '-L', list, dump.file],
          env,
          { signal: ctx.signal },
        ).catch((err) => {
          throw toolError(err, ctx.target, 'pg_restore of indexes, constraints and triggers to the target');
        });
      }
      // Over loaded, indexed tables (views.ts says why).
      await createViews(ctx, src, tgt, dump, views);
      await syncSequences(ctx, src, tgt, dump);
      // Statistics for what the per-table path did not analyze (the load writes under source names).
      for (const table of await tablesToAnalyze(tgt, ctx.migrationId, tables.map((t) => t.source))) await analyzeTable(ctx, tgt, table);
      // Loaded, indexed and analyzed: autovacuum is back on what provision paused.
      await resumeAutovacuum(src, tgt, (await readProvisioned(tgt, ctx.migrationId))?.objects ?? []);
    });
  } finally {
    dump?.remove();
  }
}

/** Every sequence in the dump gets the source's last_value / is_called on the target (found by target OID, so renames do not matter). */
async function syncSequences(ctx: EngineContext, src: pg.Client, tgt: pg.Client, dump: SchemaDump): Promise<void> {
  const provisioned = await readProvisioned(tgt, ctx.migrationId);
  const byOid = new Map<number, ProvisionedObject>((provisioned?.objects ?? []).map((o) => [o.sourceOid, o]));
  const seqOids = dump.toc.filter((e) => e.desc === 'SEQUENCE' && e.classId === CATALOG.pg_class).map((e) => e.objectId);
  const seqs = await src.query<{ oid: string; schema: string; name: string }>(
    `SELECT c.oid::int8 AS oid, n.nspname AS schema, c.relname AS name FROM pg_catalog.pg_class c
       JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = ANY($1::oid[]) AND c.relkind = 'S'`,
    [seqOids],
  );
  for (const s of seqs.rows) {
    const v = await src.query<{ last_value: string; is_called: boolean }>(`SELECT last_value::text AS last_value, is_called FROM ${qualify(s.schema, s.name)}`);
    const row = v.rows[0];
    if (!row) continue;
    const targetOid = byOid.get(Number(s.oid))?.targetOid;
    const r = targetOid
      ? await tgt.query('SELECT pg_catalog.setval(c.oid, $2::int8, $3) FROM pg_catalog.pg_class c WHERE c.oid = $1::oid', [targetOid, row.last_value, row.is_called])
      : await tgt.query(
          `SELECT pg_catalog.setval(c.oid, $3::int8, $4) FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind = 'S'`,
          [s.schema, s.name, row.last_value, row.is_called],
        );
    if (!r.rowCount) throw new SchemaCopyFailed(`sequence ${displayName(s.schema, s.name)} is missing on the target; cannot set its value`);
  }
}
