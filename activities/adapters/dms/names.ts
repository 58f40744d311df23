// Deterministic DMS identifiers per migration: describe-before-create finds what an earlier attempt
// made, so a retried activity never duplicates. The hash of the migration id keeps two migrations
// with similar names apart; the tag `ferry:migration-id` says whose a resource is.
import { createHash } from 'node:crypto';

export const MIGRATION_TAG = 'ferry:migration-id';
export const RESOURCE_TAG = 'ferry:resource';

export interface DmsNames {
  subnetGroup: string;
  instance: string;
  sourceEndpoint: string;
  targetEndpoint: string;
  task: string;
}

/**
 * DMS identifiers: 1-63 letters, digits and hyphens, starting with a letter, no trailing or double
 * hyphen. `ferry-<slug>-<hash8>-<kind>` fits, with the slug cut to 30 characters.
 */
export function dmsNames(migrationId: string): DmsNames {
  const hash = createHash('sha256').update(migrationId).digest('hex').slice(0, 8);
  const slug = migrationId
    .toLowerCase()
    .replace(/^ferry-/, '')
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 30)
    .replace(/-+$/g, '');
  const base = slug ? `ferry-${slug}-${hash}` : `ferry-${hash}`;
  return {
    subnetGroup: `${base}-sg`,
    instance: `${base}-ri`,
    sourceEndpoint: `${base}-src`,
    targetEndpoint: `${base}-tgt`,
    task: `${base}-task`,
  };
}

export function dmsTags(migrationId: string, kind: string): { Key: string; Value: string }[] {
  return [
    { Key: MIGRATION_TAG, Value: migrationId },
    { Key: RESOURCE_TAG, Value: kind },
  ];
}
