// applyRenames: the spec's schema, table and column mapping applied on the target after the load,
// in one transaction. Each step checks the catalog first, so a retry does only what is left.
// PostgreSQL tracks indexes, constraints and foreign keys by OID, so they follow every rename.
import type pg from 'pg';
import type { TableMapping } from '../../../workflows/types';
import type { EngineContext } from '../engine';
import { SchemaCopyFailed, TargetConflict } from '../errors';
import { existingSchemas } from './catalog';
import { classifyError, inTransaction, serverVersionNum, withSession } from './connect';
import { displayName, qualify, quoteIdent } from './sql';
import { currentLocation } from './objects';
import { readProvisioned, updateCreatedSchemas, type ProvisionedObject } from './state';

async function tableExists(c: pg.Client, schema: string, name: string): Promise<boolean> {
  const r = await c.query(
    `SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p')`,
    [schema, name],
  );
  return (r.rowCount ?? 0) > 0;
}

async function columnExists(c: pg.Client, schema: string, table: string, column: string): Promise<boolean> {
  const r = await c.query(
    `SELECT 1 FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
       JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relname = $2 AND a.attname = $3 AND a.attnum > 0 AND NOT a.attisdropped`,
    [schema, table, column],
  );
  return (r.rowCount ?? 0) > 0;
}

/**
 * The extended statistics of these relations (target OIDs) still in schema `from`, moved to `to`
 * after them: a table's (or materialized view's) indexes and constraints follow ALTER ... SET
 * SCHEMA, its statistics (schema objects of their own) do not.
 */
async function moveStatistics(c: pg.Client, relids: number[], from: string, to: string): Promise<void> {
  if (relids.length === 0 || (await serverVersionNum(c)) < 100000) return;
  const stats = await c.query<{ name: string }>(
    `SELECT s.stxname AS name FROM pg_catalog.pg_statistic_ext s JOIN pg_catalog.pg_namespace n ON n.oid = s.stxnamespace
      WHERE s.stxrelid = ANY($1::oid[]) AND n.nspname = $2`,
    [relids, from],
  );
  for (const st of stats.rows) await c.query(`ALTER STATISTICS ${qualify(from, st.name)} SET SCHEMA ${quoteIdent(to)}`);
}

async function moveObject(c: pg.Client, o: ProvisionedObject, from: string, to: string): Promise<void> {
  const at = await currentLocation(c, o);
  if (!at || at.schema !== from) return;
  const dest = quoteIdent(to);
  switch (o.kind) {
    case 'table':
      return void (await c.query(`ALTER TABLE ${qualify(at.schema, at.name)} SET SCHEMA ${dest}`));
    case 'view':
      return void (await c.query(`ALTER ${o.materialized ? 'MATERIALIZED VIEW' : 'VIEW'} ${qualify(at.schema, at.name)} SET SCHEMA ${dest}`));
    case 'sequence':
      // An owned sequence moves with its table.
      if (!o.owned) await c.query(`ALTER SEQUENCE ${qualify(at.schema, at.name)} SET SCHEMA ${dest}`);
      return;
    case 'type':
      return void (await c.query(`ALTER TYPE ${qualify(at.schema, at.name)} SET SCHEMA ${dest}`));
    case 'domain':
      return void (await c.query(`ALTER DOMAIN ${qualify(at.schema, at.name)} SET SCHEMA ${dest}`));
    case 'function':
    case 'procedure':
    case 'aggregate':
      return void (await c.query(`ALTER ${o.kind.toUpperCase()} ${at.signature!} SET SCHEMA ${dest}`));
  }
}

async function schemaIsEmpty(c: pg.Client, schema: string): Promise<boolean> {
  const r = await c.query<{ n: string }>(
    `SELECT (SELECT count(*) FROM pg_catalog.pg_class WHERE relnamespace = n.oid) + (SELECT count(*) FROM pg_catalog.pg_proc WHERE pronamespace = n.oid)
          + (SELECT count(*) FROM pg_catalog.pg_type WHERE typnamespace = n.oid) + (SELECT count(*) FROM pg_catalog.pg_collation WHERE collnamespace = n.oid)
          + (SELECT count(*) FROM pg_catalog.pg_operator WHERE oprnamespace = n.oid)
          -- Anything else that refers to it (extended statistics, a view's 'app'::regnamespace, ...).
          + (SELECT count(*) FROM pg_catalog.pg_depend WHERE refclassid = 'pg_catalog.pg_namespace'::regclass AND refobjid = n.oid) AS n
       FROM pg_catalog.pg_namespace n WHERE n.nspname = $1`,
    [schema],
  );
  return Number(r.rows[0]?.n ?? 1) === 0;
}

export async function applyRenames(ctx: EngineContext, tables: TableMapping[]): Promise<void> {
  const rename = ctx.spec.rename;
  try {
    await withSession(ctx.target, async (tgt) => {
      const state = await readProvisioned(tgt, ctx.migrationId);
      const objects = state?.objects ?? [];
      let created = [...(state?.createdSchemas ?? [])];
      await inTransaction(tgt, async () => {
        // 1. Schemas: rename a schema Ferry created when the new name is free; otherwise move Ferry's objects into it.
        const sourceSchemas = new Set([...tables.map((t) => t.source.schema), ...objects.map((o) => o.schema)]);
        for (const s of [...sourceSchemas].sort()) {
          const t = rename.schemas[s];
          if (t === undefined || t === s) continue;
          const have = await existingSchemas(tgt, [s, t]);
          if (!have.has(s)) continue; // done by an earlier attempt
          if (!have.has(t) && created.includes(s)) {
            await tgt.query(`ALTER SCHEMA ${quoteIdent(s)} RENAME TO ${quoteIdent(t)}`);
            created = created.map((x) => (x === s ? t : x));
            continue;
          }
          if (!have.has(t)) {
            await tgt.query(`CREATE SCHEMA ${quoteIdent(t)}`);
            created.push(t);
          }
          if (objects.length > 0) {
            // Tables first: their row types, owned sequences and indexes go with them.
            const order = ['table', 'view', 'sequence', 'type', 'domain', 'function', 'procedure', 'aggregate'];
            for (const o of [...objects].sort((a, b) => order.indexOf(a.kind) - order.indexOf(b.kind))) await moveObject(tgt, o, s, t);
            const relations = objects.filter((o) => o.kind === 'table' || (o.kind === 'view' && o.materialized));
            await moveStatistics(tgt, relations.flatMap((o) => (o.targetOid === undefined ? [] : [o.targetOid])), s, t);
          } else {
            const moved: number[] = [];
            for (const m of tables.filter((x) => x.source.schema === s)) {
              if (!(await tableExists(tgt, s, m.source.name))) continue;
              await tgt.query(`ALTER TABLE ${qualify(s, m.source.name)} SET SCHEMA ${quoteIdent(t)}`);
              const r = await tgt.query<{ oid: string }>('SELECT $1::regclass::oid::int8 AS oid', [qualify(t, m.source.name)]);
              moved.push(Number(r.rows[0]!.oid));
            }
            await moveStatistics(tgt, moved, s, t);
          }
          if (created.includes(s) && (await schemaIsEmpty(tgt, s))) {
            await tgt.query(`DROP SCHEMA ${quoteIdent(s)}`);
            created = created.filter((x) => x !== s);
          }
        }

        // 2. Tables, inside their (mapped) schema.
        for (const m of tables) {
          if (m.source.name === m.target.name) continue;
          const schema = m.target.schema;
          const from = await tableExists(tgt, schema, m.source.name);
          const to = await tableExists(tgt, schema, m.target.name);
          if (from && to)
            throw new TargetConflict(`cannot rename ${displayName(schema, m.source.name)} to ${displayName(schema, m.target.name)}: the target name already exists`);
          if (from) await tgt.query(`ALTER TABLE ${qualify(schema, m.source.name)} RENAME TO ${quoteIdent(m.target.name)}`);
          else if (!to) throw new SchemaCopyFailed(`cannot rename ${displayName(m.source.schema, m.source.name)}: it is not on the target`);
        }

        // 3. Columns (also generated ones, which the copy leaves out of the mapping).
        for (const [key, newName] of Object.entries(rename.columns)) {
          const lastDot = key.lastIndexOf('.');
          const m = tables.find((x) => `${x.source.schema}.${x.source.name}` === key.slice(0, lastDot));
          if (!m) throw new SchemaCopyFailed(`rename.columns.${key}: the table is not part of this migration`);
          const column = key.slice(lastDot + 1);
          if (column === newName) continue;
          const from = await columnExists(tgt, m.target.schema, m.target.name, column);
          const to = await columnExists(tgt, m.target.schema, m.target.name, newName);
          const table = qualify(m.target.schema, m.target.name);
          if (from && to) throw new TargetConflict(`cannot rename column ${key} to "${newName}": ${displayName(m.target.schema, m.target.name)} already has it`);
          if (from) await tgt.query(`ALTER TABLE ${table} RENAME COLUMN ${quoteIdent(column)} TO ${quoteIdent(newName)}`);
          else if (!to) throw new SchemaCopyFailed(`rename.columns.${key}: ${displayName(m.target.schema, m.target.name)} has no column "${column}"`);
        }

        if (state) await updateCreatedSchemas(tgt, ctx.migrationId, [...new Set(created)].sort());
      });
    });
  } catch (err) {
    throw classifyError(err, ctx.target);
  }
}
