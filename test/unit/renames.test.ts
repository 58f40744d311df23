import { describe, expect, it } from 'vitest';
import { renamesNeeded } from '../../workflows/renames';
import type { TableMapping } from '../../workflows/types';

const table = (schema: string, name: string, target = { schema, name }): TableMapping => ({
  source: { schema, name },
  target,
  columns: [{ source: 'id', target: 'id' }],
  estimatedBytes: 0,
  estimatedRows: 0,
});
const none = { schemas: {}, tables: {}, columns: {} };

describe('renamesNeeded', () => {
  it('is false when nothing is renamed (the offline cutover skips applyRenames)', () => {
    expect(renamesNeeded(none, [table('public', 'a')])).toBe(false);
    expect(renamesNeeded({ schemas: { public: 'public' }, tables: {}, columns: { 'public.a.id': 'id' } }, [table('public', 'a')])).toBe(false);
  });
  it('is true for a schema mapped elsewhere, even one no table of the load is in (types and functions move too)', () => {
    expect(renamesNeeded({ ...none, schemas: { other: 'moved' } }, [table('public', 'a')])).toBe(true);
  });
  it('is true for a renamed table or column', () => {
    expect(renamesNeeded(none, [table('public', 'a', { schema: 'public', name: 'b' })])).toBe(true);
    expect(renamesNeeded({ ...none, columns: { 'public.a.id': 'key' } }, [table('public', 'a')])).toBe(true);
  });
});
