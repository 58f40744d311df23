// encoding: the databases' server encodings must match (a different one can refuse or mangle
// characters); a different default collation/ctype changes text ordering (indexes, ORDER BY,
// key ranges) and is a warning; a collation a selected column uses that the target lacks and
// the schema copy will not create fails (the table could not be created).
import type pg from 'pg';
import type { PrecheckItem } from '../../../../workflows/types';
import { dumpSchemas } from '../dump';
import { quoteIdent } from '../sql';
import { fail, nameOf, pass, warning, type PrecheckEnv } from './common';

interface DbLocale {
  encoding: string;
  collate: string;
  ctype: string;
  provider: string | null;
  icu: string | null;
}

async function dbLocale(c: pg.Client): Promise<DbLocale> {
  const r = await c.query<DbLocale>(
    `SELECT pg_catalog.pg_encoding_to_char(d.encoding) AS encoding, d.datcollate AS collate, d.datctype AS ctype,
            to_jsonb(d) ->> 'datlocprovider' AS provider, coalesce(to_jsonb(d) ->> 'daticulocale', to_jsonb(d) ->> 'datlocale') AS icu
       FROM pg_catalog.pg_database d WHERE d.datname = current_database()`,
  );
  return r.rows[0]!;
}

export function describeLocale(l: DbLocale): string {
  const icu = l.provider === 'i' ? `, ICU locale ${l.icu ?? '?'}` : '';
  return `LC_COLLATE ${l.collate}, LC_CTYPE ${l.ctype}${icu}`;
}

export async function checkEncoding(env: PrecheckEnv): Promise<PrecheckItem[]> {
  const { src, tgt } = env;
  if (!src || !tgt) return [];
  const s = await dbLocale(src);
  const t = await dbLocale(tgt);
  const items: PrecheckItem[] = [];
  items.push(
    s.encoding === t.encoding
      ? pass('encoding.server', `both databases use encoding ${s.encoding}`)
      : fail(
          'encoding.server',
          `server encoding differs: source database "${env.ctx.source.database}" is ${s.encoding}, target database "${env.ctx.target.database}" is ${t.encoding}`,
          `recreate the target database with ENCODING '${s.encoding}' (CREATE DATABASE ... ENCODING '${s.encoding}' TEMPLATE template0)`,
        ),
  );
  const sd = describeLocale(s);
  const td = describeLocale(t);
  items.push(
    sd === td
      ? pass('encoding.collation', `both databases use ${sd}`)
      : warning(
          'encoding.collation',
          `default collation differs: source ${sd}; target ${td}: text sorts differently on the target (ORDER BY, index order, range queries)`,
          `recreate the target database with LC_COLLATE '${s.collate}' LC_CTYPE '${s.ctype}', or acknowledge if the new ordering is intended`,
        ),
  );
  items.push(...(await checkColumnCollations(env)));
  return items;
}

/** Non-default collations of the selected tables' columns, each present on the target or created by the schema copy. */
export async function checkColumnCollations(env: PrecheckEnv): Promise<PrecheckItem[]> {
  const { src, tgt, sel } = env;
  if (!src || !tgt || !sel || sel.roots.length === 0) return [];
  const r = await src.query<{ relid: string; col: string; schema: string; name: string }>(
    `SELECT a.attrelid::int8::text AS relid, a.attname AS col, n.nspname AS schema, co.collname AS name
       FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_collation co ON co.oid = a.attcollation
       JOIN pg_catalog.pg_namespace n ON n.oid = co.collnamespace
      WHERE a.attrelid = ANY($1::oid[]) AND a.attnum > 0 AND NOT a.attisdropped AND a.attcollation <> 100 -- 100: default
      ORDER BY 1, 2`,
    [sel.roots.map((t) => t.oid)],
  );
  if (r.rows.length === 0) return [];
  const copied = new Set(await dumpSchemas(src, sel));
  const want = [...new Set(r.rows.map((x) => JSON.stringify([x.schema, x.name])))].map((x) => JSON.parse(x) as [string, string]);
  const t = await tgt.query<{ schema: string; name: string }>(
    `SELECT n.nspname AS schema, co.collname AS name FROM pg_catalog.pg_collation co JOIN pg_catalog.pg_namespace n ON n.oid = co.collnamespace
       JOIN unnest($1::text[], $2::text[]) AS w(s, c) ON w.s = n.nspname AND w.c = co.collname
      WHERE co.collencoding IN (-1, pg_catalog.pg_char_to_encoding(pg_catalog.getdatabaseencoding()))`,
    [want.map((w) => w[0]), want.map((w) => w[1])],
  );
  const present = new Set(t.rows.map((x) => `${x.schema}.${x.name}`));
  const tables = new Map(sel.roots.map((x) => [x.oid, nameOf(x)]));
  const items: PrecheckItem[] = [];
  for (const [schema, name] of want) {
    if (present.has(`${schema}.${name}`) || (schema !== 'pg_catalog' && copied.has(schema))) continue;
    const users = r.rows.filter((x) => x.schema === schema && x.name === name).map((x) => `${tables.get(Number(x.relid))}.${x.col}`);
    const qualified = `${quoteIdent(schema)}.${quoteIdent(name)}`;
    items.push(
      fail(
        `collation:${schema}.${name}`,
        `collation ${qualified} used by ${users.join(', ')} does not exist on the target (and the schema copy does not create it): those tables cannot be created`,
        schema === 'pg_catalog'
          ? `create it on the target (CREATE COLLATION ${qualified} (...) with the source's locale and provider; ICU or OS locales may need installing)`
          : `CREATE SCHEMA ${quoteIdent(schema)}; CREATE COLLATION ${qualified} (...) on the target, as on the source`,
      ),
    );
  }
  if (items.length === 0) items.push(pass('collations', `the column collation(s) ${want.map((w) => `${w[0]}.${w[1]}`).join(', ')} exist on the target or come with the schema copy`));
  return items;
}
