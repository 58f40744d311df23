// views: views and materialized views go along when everything they read is migrated too
// (views.ts); the rest (those over a table left out, or in a schema the migration does not cover
// but reading a selected table) are named in a warning with the reason, so a DBA who goes on
// (acknowledges it) knows which to recreate.
import type { PrecheckItem } from '../../../../workflows/types';
import { listNames, nameOf, pass, viewPlanOf, warning, type PrecheckEnv } from './common';

export async function checkViews(env: PrecheckEnv): Promise<PrecheckItem[]> {
  const { src, sel } = env;
  if (!src || !sel || sel.roots.length === 0) return [];
  const plan = await viewPlanOf(env, src, sel);
  const kind = (v: { materialized: boolean }) => (v.materialized ? ' (materialized)' : '');
  const migrated =
    plan.migrated.length === 0
      ? 'no view goes along'
      : `${plan.migrated.length} view(s) go along, created after the load: ${listNames(plan.migrated.map((v) => `${nameOf(v)}${kind(v)}`))}`;
  if (plan.left.length === 0) return [pass('schema.views', migrated)];
  return [
    warning(
      'schema.views',
      `${plan.left.length} view(s) over the selected tables or in their schemas are not migrated: ${listNames(
        plan.left.map((l) => `${nameOf(l.view)}${kind(l.view)} (${l.reason})`),
      )}; ${migrated}`,
      'include what they read in the migration, or recreate them on the target after the cutover (pg_dump --schema-only -t VIEW of the source), or acknowledge to go on without them',
    ),
  ];
}
