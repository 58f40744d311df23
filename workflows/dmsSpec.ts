// The whole spec of an aws-dms migration, until spec.ts knows the engine: the shared fields of
// migrationSpecSchema, engine `aws-dms`, mode offline|online and the `dms` block (dmsSettings.ts).
// Pure zod, no I/O: safe inside the workflow sandbox. See docs/dms.md ("Wiring").
import { z } from 'zod';
import { migrationSpecBaseSchema, SpecError } from './spec';
import { dmsSettingsSchema } from './dmsSettings';

export { DMS_ENGINE_NAMES, dmsEndpointSettingsSchema, dmsSettingsSchema, type DmsEndpointSettings, type DmsSettings } from './dmsSettings';

/** The whole spec of an aws-dms migration (shared fields + engine, mode and `dms`). */
export const dmsMigrationSpecSchema = migrationSpecBaseSchema.omit({ engine: true, mode: true, dms: true }).extend({
  engine: z.literal('aws-dms'),
  /** offline: DMS `full-load` (stop writes first); online: `full-load-and-cdc`, cut over when lag allows. */
  mode: z.enum(['offline', 'online']).default('online'),
  dms: dmsSettingsSchema,
});

export type DmsMigrationSpec = z.infer<typeof dmsMigrationSpecSchema>;
export type DmsMigrationSpecInput = z.input<typeof dmsMigrationSpecSchema>;

/** DMS MigrationType for a spec's mode. */
export function dmsMigrationType(spec: Pick<DmsMigrationSpec, 'mode'>): 'full-load' | 'full-load-and-cdc' {
  return spec.mode === 'online' ? 'full-load-and-cdc' : 'full-load';
}

/** Parse and default an aws-dms spec, or throw a SpecError naming each bad field (same shape as parseSpec). */
export function parseDmsSpec(input: unknown): DmsMigrationSpec {
  const result = dmsMigrationSpecSchema.safeParse(input);
  if (result.success) return result.data;
  throw new SpecError(
    result.error.issues.map((issue) => {
      const base = issue.path.map((p) => String(p)).join('.');
      if (issue.code === 'unrecognized_keys') {
        return { path: issue.keys.map((k) => (base ? `${base}.${k}` : k)).join(', '), message: 'is not a known field' };
      }
      return { path: base, message: issue.message };
    }),
  );
}
