// Whether the cutover's renames step has anything to do. Pure: safe in the workflow sandbox.
import type { MigrationSpec } from './spec';
import type { TableMapping } from './types';

/**
 * False when applyRenames would change nothing: no schema mapped to another name, every table
 * keeps its name, no column renamed. Then a native PostgreSQL offline cutover skips the activity
 * (a workflow task and an activity, ~40 ms of the migration's end on the bench) instead of
 * running a no-op. Conservative on schemas: any mapping to another name counts, whatever it
 * applies to.
 */
export function renamesNeeded(rename: MigrationSpec['rename'], tables: TableMapping[]): boolean {
  if (Object.entries(rename.schemas).some(([from, to]) => from !== to)) return true;
  if (tables.some((t) => t.source.name !== t.target.name || t.source.schema !== t.target.schema)) return true;
  return Object.entries(rename.columns).some(([key, to]) => key.slice(key.lastIndexOf('.') + 1) !== to);
}
