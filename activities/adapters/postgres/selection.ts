// Pure table selection and rename mapping: spec globs and rename keys against catalog rows.
// No I/O, so it is unit-tested without a database.
import type { MigrationSpec } from '../../../workflows/spec';
import type { TableMapping } from '../../../workflows/types';

/** Glob (`*` any run, `?` one character) to an anchored RegExp; everything else is literal. */
export function globToRegExp(glob: string): RegExp {
  let re = '^';
  for (const ch of glob) {
    if (ch === '*') re += '[\\s\\S]*';
    else if (ch === '?') re += '[\\s\\S]';
    else re += ch.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
  }
  return new RegExp(`${re}$`, 'u');
}

/** `schema.table` pattern split at its one dot; each side is a glob matched against that part alone. */
export function matchesPattern(pattern: string, schema: string, table: string): boolean {
  const dot = pattern.indexOf('.');
  if (dot < 0) return false;
  return globToRegExp(pattern.slice(0, dot)).test(schema) && globToRegExp(pattern.slice(dot + 1)).test(table);
}

export function isSelected(tables: MigrationSpec['tables'], schema: string, table: string): boolean {
  return (
    tables.include.some((p) => matchesPattern(p, schema, table)) && !tables.exclude.some((p) => matchesPattern(p, schema, table))
  );
}

export interface CatalogColumn {
  name: string;
  /** attgenerated <> '' : left out of the copy, recomputed by the target. */
  generated: boolean;
}

export interface CatalogTable {
  oid: number;
  schema: string;
  name: string;
  /** r ordinary, p partitioned */
  relkind: string;
  /** oid of the partitioned parent when this table is a partition */
  parentOid: number | null;
  bytes: number;
  rows: number;
  columns: CatalogColumn[];
}

export interface Selection {
  /** Ordinary and partitioned tables that are not partitions: what the user selects and renames. */
  roots: CatalogTable[];
  /** Every partition (at any depth) of a selected partitioned root. */
  partitions: CatalogTable[];
  /** Tables in the catalog that are not selected (including partitions of unselected roots). */
  unselected: CatalogTable[];
  mappings: TableMapping[];
  /** Rename keys that match nothing, with the reason. */
  renameErrors: { key: string; message: string }[];
}

/** The root of a table: itself, or the top of its partition tree. */
export function rootOf(t: CatalogTable, byOid: Map<number, CatalogTable>): CatalogTable {
  let cur = t;
  for (let depth = 0; cur.parentOid !== null && depth < 1000; depth++) {
    const parent = byOid.get(cur.parentOid);
    if (!parent) break;
    cur = parent;
  }
  return cur;
}

export function mapSchema(rename: MigrationSpec['rename'], schema: string): string {
  return rename.schemas[schema] ?? schema;
}

/** Select tables (a partition follows its root), apply the rename mapping, and report rename keys matching nothing. */
export function selectTables(catalog: CatalogTable[], spec: Pick<MigrationSpec, 'tables' | 'rename'>): Selection {
  const byOid = new Map(catalog.map((t) => [t.oid, t]));
  const roots: CatalogTable[] = [];
  const partitions: CatalogTable[] = [];
  const unselected: CatalogTable[] = [];
  for (const t of catalog) {
    const root = rootOf(t, byOid);
    const selected = isSelected(spec.tables, root.schema, root.name);
    if (!selected) unselected.push(t);
    else if (root === t) roots.push(t);
    else partitions.push(t);
  }
  // Roll partition sizes up to their root, for ordering and progress.
  const sizes = new Map<number, { bytes: number; rows: number }>();
  for (const p of partitions) {
    const root = rootOf(p, byOid);
    const s = sizes.get(root.oid) ?? { bytes: 0, rows: 0 };
    if (p.relkind !== 'p') {
      s.bytes += p.bytes;
      s.rows += p.rows;
    }
    sizes.set(root.oid, s);
  }

  const { rename } = spec;
  const renameErrors: { key: string; message: string }[] = [];
  const rootKeys = new Map(roots.map((t) => [`${t.schema}.${t.name}`, t]));
  const partitionKeys = new Set(partitions.map((t) => `${t.schema}.${t.name}`));
  const selectedSchemas = new Set([...roots, ...partitions].map((t) => t.schema));

  for (const key of Object.keys(rename.schemas)) {
    if (!selectedSchemas.has(key)) renameErrors.push({ key: `rename.schemas.${key}`, message: `schema "${key}" holds no selected table` });
  }
  for (const key of Object.keys(rename.tables)) {
    if (rootKeys.has(key)) continue;
    renameErrors.push({
      key: `rename.tables.${key}`,
      message: partitionKeys.has(key)
        ? `"${key}" is a partition: rename its partitioned table instead`
        : `"${key}" matches no selected table`,
    });
  }
  for (const key of Object.keys(rename.columns)) {
    const lastDot = key.lastIndexOf('.');
    const table = rootKeys.get(key.slice(0, lastDot));
    const column = key.slice(lastDot + 1);
    if (!table) renameErrors.push({ key: `rename.columns.${key}`, message: `"${key.slice(0, lastDot)}" matches no selected table` });
    else if (!table.columns.some((c) => c.name === column))
      renameErrors.push({ key: `rename.columns.${key}`, message: `table "${key.slice(0, lastDot)}" has no column "${column}"` });
  }

  const mappings = roots.map((t) => mappingFor(t, rename, sizes.get(t.oid)));
  return { roots, partitions, unselected, mappings, renameErrors };
}

/** The mapping of one table; a partition keeps its name (renames apply to its root) but follows schema and column renames. */
export function mappingFor(
  t: CatalogTable,
  rename: MigrationSpec['rename'],
  rolledUp?: { bytes: number; rows: number },
  root?: CatalogTable,
): TableMapping {
  const key = `${t.schema}.${t.name}`;
  const columnKey = root ? `${root.schema}.${root.name}` : key;
  return {
    source: { schema: t.schema, name: t.name },
    target: { schema: mapSchema(rename, t.schema), name: root ? t.name : (rename.tables[key] ?? t.name) },
    columns: t.columns.filter((c) => !c.generated).map((c) => ({ source: c.name, target: rename.columns[`${columnKey}.${c.name}`] ?? c.name })),
    estimatedBytes: t.bytes + (rolledUp?.bytes ?? 0),
    estimatedRows: t.rows + (rolledUp?.rows ?? 0),
  };
}
