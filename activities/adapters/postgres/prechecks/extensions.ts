// extensions: every extension installed in the source database must be installed in the target
// database (Ferry copies schemas, not extensions). Available-but-not-installed and not available
// at all are told apart, since their remedies differ.
import type { PrecheckItem } from '../../../../workflows/types';
import { quoteIdent } from '../sql';
import { fail, pass, type PrecheckEnv } from './common';

/** Extensions that only observe or administer a server: their absence on the target loses no data. */
export const SERVER_ONLY_EXTENSIONS = new Set([
  'plpgsql', 'pg_stat_statements', 'pg_buffercache', 'pgstattuple', 'pg_freespacemap', 'pg_visibility', 'pageinspect', 'pgrowlocks',
  'pg_prewarm', 'amcheck', 'pg_walinspect', 'adminpack', 'pg_surgery', 'old_snapshot', 'sslinfo',
]);

export async function checkExtensions(env: PrecheckEnv): Promise<PrecheckItem[]> {
  const { src, tgt } = env;
  if (!src || !tgt) return [];
  const s = await src.query<{ extname: string; extversion: string }>('SELECT extname, extversion FROM pg_catalog.pg_extension ORDER BY extname');
  const installed = await tgt.query<{ extname: string; extversion: string }>('SELECT extname, extversion FROM pg_catalog.pg_extension');
  const available = await tgt.query<{ name: string; default_version: string }>('SELECT name, default_version FROM pg_catalog.pg_available_extensions');
  const have = new Map(installed.rows.map((x) => [x.extname, x.extversion]));
  const can = new Map(available.rows.map((x) => [x.name, x.default_version]));
  const items: PrecheckItem[] = [];
  const ok: string[] = [];
  for (const e of s.rows) {
    if (SERVER_ONLY_EXTENSIONS.has(e.extname)) continue;
    if (have.has(e.extname)) {
      ok.push(have.get(e.extname) === e.extversion ? e.extname : `${e.extname} (source ${e.extversion}, target ${have.get(e.extname)})`);
      continue;
    }
    if (can.has(e.extname))
      items.push(
        fail(
          `extensions:${e.extname}`,
          `extension ${e.extname} (${e.extversion}) is installed on the source but not in the target database (available there, version ${can.get(e.extname)})`,
          `CREATE EXTENSION ${quoteIdent(e.extname)} in the target database`,
        ),
      );
    else
      items.push(
        fail(
          `extensions:${e.extname}`,
          `extension ${e.extname} (${e.extversion}) is installed on the source but not available on the target server`,
          `install the ${e.extname} package on the target server, then CREATE EXTENSION ${quoteIdent(e.extname)} in the target database`,
        ),
      );
  }
  if (items.length === 0)
    items.push(pass('extensions', ok.length ? `every source extension is installed on the target: ${ok.join(', ')}` : 'the source uses no extension'));
  return items;
}
