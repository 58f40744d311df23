// conflicts: a selected table, or a view that goes along, that already exists on the target (under
// the name the load uses or the name it ends up with after renames) stops the migration; the
// message says whether it holds rows.
import type { PrecheckItem, TableRef } from '../../../../workflows/types';
import { existingTables } from '../catalog';
import { mapSchema } from '../selection';
import { qualify } from '../sql';
import { fail, nameOf, pass, selectedTables, viewPlanOf, type PrecheckEnv } from './common';

export async function checkConflicts(env: PrecheckEnv): Promise<PrecheckItem[]> {
  const { tgt, sel, ctx } = env;
  if (!tgt || !sel || sel.roots.length === 0) return [];
  const wanted = new Map<string, TableRef>();
  const add = (t: TableRef) => wanted.set(nameOf(t), t);
  for (const t of selectedTables(sel)) add({ schema: t.schema, name: t.name }); // the load's names
  for (const m of sel.mappings) add(m.target); // the names after renames
  for (const p of sel.partitions) add({ schema: mapSchema(ctx.spec.rename, p.schema), name: p.name });
  if (env.src) {
    for (const v of (await viewPlanOf(env, env.src, sel)).migrated) {
      add({ schema: v.schema, name: v.name });
      add({ schema: mapSchema(ctx.spec.rename, v.schema), name: v.name });
    }
  }
  const present = await existingTables(tgt, [...wanted.values()]);
  if (present.length === 0) return [pass('target.conflicts', 'none of the selected tables or migrated views exists on the target')];
  const described: string[] = [];
  for (const t of present.sort((a, b) => nameOf(a).localeCompare(nameOf(b)))) {
    let state: string;
    try {
      const r = await tgt.query<{ has: boolean }>(`SELECT EXISTS (SELECT 1 FROM ${qualify(t.schema, t.name)}) AS has`);
      state = r.rows[0]?.has ? 'not empty' : 'empty';
    } catch (err) {
      state = `contents unreadable: ${(err as Error).message}`;
    }
    described.push(`${nameOf(t)} (${state})`);
  }
  return [
    fail(
      'target.conflicts',
      `already on the target: ${described.join(', ')}`,
      'drop or rename them on the target (check the not-empty ones hold nothing you need), or exclude them from the migration',
    ),
  ];
}
