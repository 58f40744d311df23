// Independent of Ferry's own validation: row count and an order-independent checksum of every
// user table, computed in the database (sum of the first 64 bits of each row's md5).
import { connect, type Side } from './env';

export interface TableSum {
  rows: number;
  checksum: string;
}

export async function tableChecksums(side: Side, database: string): Promise<Record<string, TableSum>> {
  const client = await connect(side, database);
  try {
    await client.query(`SET TimeZone = 'UTC'; SET DateStyle = 'ISO'; SET extra_float_digits = 3`);
    const { rows: tables } = await client.query<{ schema: string; name: string }>(
      `SELECT n.nspname AS schema, c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r','p') AND n.nspname NOT IN ('pg_catalog','information_schema','ferry') AND n.nspname NOT LIKE 'pg_toast%'
          AND NOT c.relispartition ORDER BY 1, 2`,
    );
    const out: Record<string, TableSum> = {};
    for (const t of tables) {
      const q = `"${t.schema.replace(/"/g, '""')}"."${t.name.replace(/"/g, '""')}"`;
      const { rows } = await client.query<{ rows: string; checksum: string }>(
        `SELECT count(*)::text AS rows,
           coalesce(sum(('x' || substr(md5(t::text), 1, 16))::bit(64)::bigint::numeric), 0)::text AS checksum FROM ${q} t`,
      );
      out[`${t.schema}.${t.name}`] = { rows: Number(rows[0]?.rows), checksum: rows[0]?.checksum ?? '' };
    }
    return out;
  } finally {
    await client.end();
  }
}

/** Whether each user table (not Ferry's, not the catalogs) has been analyzed by hand (last_analyze): "schema.name" -> yes/no. */
export async function tablesAnalyzed(side: Side, database: string): Promise<Record<string, boolean>> {
  const client = await connect(side, database);
  try {
    const { rows } = await client.query<{ t: string; analyzed: boolean }>(
      `SELECT s.schemaname || '.' || s.relname AS t, s.last_analyze IS NOT NULL AS analyzed FROM pg_catalog.pg_stat_all_tables s
        WHERE s.schemaname NOT IN ('pg_catalog', 'information_schema', 'pg_toast', 'ferry')`,
    );
    return Object.fromEntries(rows.map((r) => [r.t, r.analyzed]));
  } finally {
    await client.end();
  }
}
