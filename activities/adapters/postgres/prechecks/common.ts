// What every precheck function gets: the context, a read-only session on each side (null when
// that side could not be reached), and the table selection. Each check returns its items.
import type pg from 'pg';
import type { PrecheckItem } from '../../../../workflows/types';
import type { EngineContext } from '../../engine';
import type { CatalogTable, Selection } from '../selection';
import { displayName } from '../sql';
import { planViewsOf, type ViewPlan } from '../views';

export interface PrecheckEnv {
  ctx: EngineContext;
  src: pg.Client | null;
  tgt: pg.Client | null;
  /** The selection on the source (null when the source is unreachable). */
  sel: Selection | null;
  sourceVersion: number;
  targetVersion: number;
  /** The views plan, computed once for the checks that read it (viewPlanOf). */
  viewPlan?: Promise<ViewPlan>;
}

/** Which views go along and which stay behind (views.ts), computed once per precheck run. */
export function viewPlanOf(env: PrecheckEnv, src: pg.Client, sel: Selection): Promise<ViewPlan> {
  env.viewPlan ??= planViewsOf(src, sel, env.ctx.spec.tables);
  return env.viewPlan;
}

export type Check = (env: PrecheckEnv) => Promise<PrecheckItem[]>;

export const pass = (id: string, message: string): PrecheckItem => ({ id, status: 'pass', message });
export const warning = (id: string, message: string, remedy: string): PrecheckItem => ({ id, status: 'warning', message, remedy });
export const fail = (id: string, message: string, remedy: string): PrecheckItem => ({ id, status: 'fail', message, remedy });

/** Every table the migration reads on the source: selected roots and their partitions. */
export function selectedTables(sel: Selection): CatalogTable[] {
  return [...sel.roots, ...sel.partitions];
}

export const nameOf = (t: { schema: string; name: string }): string => displayName(t.schema, t.name);

/** Human-readable byte count. */
export function formatBytes(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u += 1;
  }
  return `${u === 0 ? v : v.toFixed(1)} ${units[u]}`;
}

/** Up to `max` names, then "and N more". */
export function listNames(names: string[], max = 20): string {
  return names.length <= max ? names.join(', ') : `${names.slice(0, max).join(', ')} and ${names.length - max} more`;
}
