// The precheck: read-only sessions on both sides (default_transaction_read_only=on), then one
// small function per check, each returning pass / warning / fail items with a message and a
// remedy. A check that cannot run (an unexpected error) becomes a warning naming it rather than
// hiding the other checks; a lost connection is thrown, so the activity retries.
import type { PrecheckItem } from '../../../../workflows/types';
import type { EngineContext } from '../../engine';
import { loadSelection } from '../catalog';
import { classifyError, closeClient, isConnectionLoss, serverVersionNum } from '../connect';
import { fail, pass, warning, type Check, type PrecheckEnv } from './common';
import { checkConflicts } from './conflicts';
import { checkConnectivity } from './connectivity';
import { checkEncoding } from './encoding';
import { checkExtensions } from './extensions';
import { checkKeys, checkReplicaIdentity } from './keys';
import { checkFencePermission, checkSourceReplication, checkSourceSelect, checkTargetCreate } from './permissions';
import { checkReplication } from './replication';
import { checkStorage } from './storage';
import { checkLongTransactions } from './transactions';
import { checkColumnTypes } from './types';
import { checkVersions, MIN_SOURCE_VERSION } from './versions';
import { checkViews } from './views';

export function checkSelection(env: PrecheckEnv): Promise<PrecheckItem[]> {
  const { sel, ctx } = env;
  if (!sel) return Promise.resolve([]);
  const items: PrecheckItem[] = [
    sel.roots.length > 0
      ? pass('tables.selected', `${sel.roots.length} table(s) selected (${sel.partitions.length} partition(s) follow their tables)`)
      : fail(
          'tables.selected',
          `no table matches include ${JSON.stringify(ctx.spec.tables.include)} minus exclude ${JSON.stringify(ctx.spec.tables.exclude)}`,
          'fix tables.include / tables.exclude (schema.table globs)',
        ),
  ];
  for (const e of sel.renameErrors) items.push(fail(`rename.${e.key}`, `${e.key}: ${e.message}`, 'fix or remove the rename key'));
  return Promise.resolve(items);
}

/** Every check after connecting, in report order: [id used if the check itself breaks, check]. */
export const CHECKS: [string, Check][] = [
  ['version', checkVersions],
  ['tables.selected', checkSelection],
  ['permission.source.select', checkSourceSelect],
  ['permission.source.replication', checkSourceReplication],
  ['permission.fence', checkFencePermission],
  ['permission.target.create', checkTargetCreate],
  ['replication', checkReplication],
  ['tables.primary-key', checkKeys],
  ['replica-identity', checkReplicaIdentity],
  ['target.conflicts', checkConflicts],
  ['storage', checkStorage],
  ['long-transactions', checkLongTransactions],
  ['types', checkColumnTypes],
  ['extensions', checkExtensions],
  ['encoding', checkEncoding],
  ['schema.views', checkViews],
];

export async function runPrechecks(ctx: EngineContext, checks: [string, Check][] = CHECKS): Promise<PrecheckItem[]> {
  const items: PrecheckItem[] = [];
  // Fresh sessions (this is the check that the endpoints take new ones), both sides at once.
  const [s, t] = await Promise.all([checkConnectivity(ctx.source, 'source'), checkConnectivity(ctx.target, 'target')]);
  items.push(s.item, t.item);
  const env: PrecheckEnv = { ctx, src: s.client, tgt: t.client, sel: null, sourceVersion: 0, targetVersion: 0 };
  try {
    if (env.src) {
      env.sourceVersion = await serverVersionNum(env.src);
      // An unsupported source's catalogs lack what the selection and the other checks read
      // (pg_class.relispartition, backend_type...): only the version items are reported for it.
      if (env.sourceVersion >= MIN_SOURCE_VERSION) env.sel = await loadSelection(env.src, ctx.spec);
    }
    if (env.tgt) env.targetVersion = await serverVersionNum(env.tgt);
    const tooOld = env.src !== null && env.sourceVersion < MIN_SOURCE_VERSION;
    for (const [id, check] of tooOld ? checks.filter(([name]) => name === 'version') : checks) {
      ctx.signal?.throwIfAborted();
      try {
        items.push(...(await check(env)));
      } catch (err) {
        if (isConnectionLoss(err)) throw err;
        items.push(warning(id, `${id} could not be checked: ${(err as Error)?.message ?? String(err)}`, 'check this by hand, or fix what the message names and re-run the precheck'));
      }
    }
    return items;
  } catch (err) {
    throw classifyError(err, env.src ? ctx.target : ctx.source);
  } finally {
    if (env.src) await closeClient(env.src);
    if (env.tgt) await closeClient(env.tgt);
  }
}
