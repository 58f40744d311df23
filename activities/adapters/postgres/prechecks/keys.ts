// keys: every selected table has a primary key or a unique not-null index (online: required;
// offline: reported, tables without one are copied whole), and, online, a replica identity that
// lets UPDATE and DELETE be replicated.
import type pg from 'pg';
import type { PrecheckItem } from '../../../../workflows/types';
import type { Selection } from '../selection';
import { qualify } from '../sql';
import { fail, listNames, nameOf, pass, selectedTables, warning, type PrecheckEnv } from './common';

/** SQL: a table (alias c) has a valid primary key or a unique, non-partial, non-expression index on NOT NULL columns. */
export const HAS_KEY_SQL = `EXISTS (
  SELECT 1 FROM pg_catalog.pg_index i WHERE i.indrelid = c.oid AND i.indisvalid AND (i.indisprimary OR (
    i.indisunique AND i.indpred IS NULL AND i.indexprs IS NULL AND NOT EXISTS (
      SELECT 1 FROM pg_catalog.pg_attribute a WHERE a.attrelid = c.oid AND a.attnum = ANY(i.indkey) AND NOT a.attnotnull))))`;

export async function keylessTables(src: pg.Client, sel: Selection): Promise<string[]> {
  const r = await src.query<{ oid: string }>(
    `SELECT c.oid::int8 AS oid FROM pg_catalog.pg_class c WHERE c.oid = ANY($1::oid[]) AND NOT ${HAS_KEY_SQL}`,
    [sel.roots.map((t) => t.oid)],
  );
  const keyless = new Set(r.rows.map((x) => Number(x.oid)));
  return sel.roots.filter((t) => keyless.has(t.oid)).map(nameOf);
}

export async function checkKeys(env: PrecheckEnv): Promise<PrecheckItem[]> {
  const { src, sel, ctx } = env;
  if (!src || !sel || sel.roots.length === 0) return [];
  const keyless = await keylessTables(src, sel);
  if (keyless.length === 0) return [pass('tables.primary-key', 'every selected table has a primary key or a unique not-null index')];
  if (ctx.spec.mode === 'offline')
    // Offline copies need no key (the source is fenced, the copy is one snapshot).
    return [
      pass(
        'tables.primary-key',
        `without a primary key or unique not-null index: ${listNames(keyless)} (offline mode copies them whole; validation compares whole-table checksums and cannot narrow a difference to rows)`,
      ),
    ];
  // Change capture cannot apply UPDATE and DELETE to a table it cannot identify rows of, unless
  // the table logs whole old rows (REPLICA IDENTITY FULL): then it can, matching on every column.
  const full = await src.query<{ oid: string }>(`SELECT c.oid::int8 AS oid FROM pg_catalog.pg_class c WHERE c.oid = ANY($1::oid[]) AND c.relreplident = 'f'`, [
    sel.roots.map((t) => t.oid),
  ]);
  const fullNames = new Set(sel.roots.filter((t) => full.rows.some((x) => Number(x.oid) === t.oid)).map(nameOf));
  return keyless.map((t) =>
    fullNames.has(t)
      ? pass(
          `tables.primary-key:${t}`,
          `${t} has no key but REPLICA IDENTITY FULL: its UPDATEs and DELETEs are replicated by matching every column (slower on large tables; validation cannot narrow a difference to rows)`,
        )
      : fail(
      `tables.primary-key:${t}`,
      `${t} has no primary key and no unique not-null index: online mode cannot replicate its UPDATEs and DELETEs`,
      `add a primary key (ALTER TABLE ${t} ADD PRIMARY KEY (...)) or a unique index on NOT NULL columns, or migrate it offline`,
    ),
  );
}

export async function checkReplicaIdentity(env: PrecheckEnv): Promise<PrecheckItem[]> {
  const { src, sel, ctx } = env;
  if (!src || !sel || ctx.spec.mode !== 'online') return [];
  // Leaf tables carry the rows (and the replica identity) that logical decoding sees.
  const tables = selectedTables(sel).filter((t) => t.relkind === 'r');
  if (tables.length === 0) return [];
  const r = await src.query<{ oid: string; ident: string; pk: boolean }>(
    `SELECT c.oid::int8 AS oid, c.relreplident::text AS ident,
            EXISTS (SELECT 1 FROM pg_catalog.pg_index i WHERE i.indrelid = c.oid AND i.indisprimary) AS pk
       FROM pg_catalog.pg_class c WHERE c.oid = ANY($1::oid[])`,
    [tables.map((t) => t.oid)],
  );
  const byOid = new Map(r.rows.map((x) => [Number(x.oid), x]));
  const items: PrecheckItem[] = [];
  for (const t of tables) {
    const x = byOid.get(t.oid);
    if (!x) continue;
    const name = nameOf(t);
    if (x.ident === 'n')
      items.push(
        fail(
          `replica-identity:${name}`,
          `${name} has REPLICA IDENTITY NOTHING: its UPDATEs and DELETEs fail on the source once it is published, and cannot be replicated`,
          `ALTER TABLE ${qualify(t.schema, t.name)} REPLICA IDENTITY DEFAULT (with a primary key), USING INDEX ..., or FULL`,
        ),
      );
    else if (x.ident === 'd' && !x.pk)
      items.push(
        warning(
          `replica-identity:${name}`,
          `${name} has REPLICA IDENTITY DEFAULT but no primary key: its UPDATEs and DELETEs carry no row identity to replicate`,
          `ALTER TABLE ${qualify(t.schema, t.name)} REPLICA IDENTITY USING INDEX <unique not-null index>, or REPLICA IDENTITY FULL, or add a primary key`,
        ),
      );
  }
  if (items.length === 0) items.push(pass('replica-identity', `all ${tables.length} selected table(s) have a usable replica identity`));
  return items;
}
