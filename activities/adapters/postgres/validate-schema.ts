// Schema validation: each migrated table on the target against its source, through the rename
// mapping: the table, its columns and types, primary / unique / foreign keys, check constraints,
// indexes, and the sequences its columns use (target value at or beyond the source's). Each
// migrated view: there, same columns, same definition, and a materialized one filled as on the source.
// Definitions are compared canonically: identifiers unquoted, source names mapped to target names.
import type pg from 'pg';
import type { MigrationSpec } from '../../../workflows/spec';
import type { SchemaValidation, TableMapping } from '../../../workflows/types';
import { mapSchema } from './selection';
import { displayName } from './sql';
import type { ProvisionedObject } from './state';

/** Canonical text of an SQL fragment: identifiers (quoted or not) as "name" after `map`, literals kept, whitespace collapsed. */
export function canonicalSql(def: string, map: ReadonlyMap<string, string> = new Map()): string {
  const re = /"((?:[^"]|"")*)"|('(?:[^']|'')*')|([A-Za-z_\u0080-\uffff][A-Za-z0-9_$\u0080-\uffff]*)|(\s+)|([\s\S])/g;
  let out = '';
  for (let m = re.exec(def); m; m = re.exec(def)) {
    if (m[1] !== undefined || m[3] !== undefined) {
      const name = m[1] !== undefined ? m[1].replace(/""/g, '"') : m[3]!.toLowerCase();
      out += `"${(map.get(name) ?? name).replace(/"/g, '""')}"`;
    } else if (m[2] !== undefined) out += m[2];
    else if (m[4] !== undefined) out += ' ';
    else out += m[5];
  }
  return out.trim();
}

interface Catalog {
  exists: boolean;
  columns: { name: string; type: string; notnull: boolean }[];
  constraints: { kind: string; name: string; def: string; cols: string[]; refSchema: string | null; refTable: string | null; refCols: string[]; actions: string }[];
  indexes: { name: string; def: string }[];
  sequences: { schema: string; name: string; last: string | null; increment: string }[];
}

/** A relation's columns in order, with their types and nullability. */
async function readColumns(c: pg.Client, oid: number | string): Promise<Catalog['columns']> {
  const r = await c.query<Catalog['columns'][number]>(
    `SELECT attname AS name, pg_catalog.format_type(atttypid, atttypmod) AS type, attnotnull AS notnull
       FROM pg_catalog.pg_attribute WHERE attrelid = $1::oid AND attnum > 0 AND NOT attisdropped ORDER BY attnum`,
    [oid],
  );
  return r.rows;
}

/** Source names -> target names of the schemas and tables a migration renames (definitions name both). */
function renamedNames(all: TableMapping[], spec: Pick<MigrationSpec, 'rename'>): Map<string, string> {
  const names = new Map<string, string>(Object.entries(spec.rename.schemas));
  for (const m of all) if (m.source.name !== m.target.name) names.set(m.source.name, m.target.name);
  return names;
}

async function readCatalog(c: pg.Client, schema: string, table: string): Promise<Catalog> {
  const rel = await c.query<{ oid: string }>(
    `SELECT c.oid::int8::text AS oid FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p')`,
    [schema, table],
  );
  const oid = rel.rows[0]?.oid;
  if (!oid) return { exists: false, columns: [], constraints: [], indexes: [], sequences: [] };
  // One session runs one query at a time: in sequence.
  const cols = await readColumns(c, oid);
  const cons = await c.query<Catalog['constraints'][number]>(
      `SELECT co.contype::text AS kind, co.conname AS name, pg_catalog.pg_get_constraintdef(co.oid) AS def,
              coalesce((SELECT array_agg(a.attname::text ORDER BY k.o) FROM unnest(co.conkey) WITH ORDINALITY k(n, o)
                         JOIN pg_catalog.pg_attribute a ON a.attrelid = co.conrelid AND a.attnum = k.n), '{}') AS cols,
              rn.nspname AS "refSchema", r.relname AS "refTable",
              coalesce((SELECT array_agg(a.attname::text ORDER BY k.o) FROM unnest(co.confkey) WITH ORDINALITY k(n, o)
                         JOIN pg_catalog.pg_attribute a ON a.attrelid = co.confrelid AND a.attnum = k.n), '{}') AS "refCols",
              co.confupdtype::text || co.confdeltype::text || co.confmatchtype::text || co.condeferrable::text || co.condeferred::text AS actions
         FROM pg_catalog.pg_constraint co
         LEFT JOIN pg_catalog.pg_class r ON r.oid = co.confrelid LEFT JOIN pg_catalog.pg_namespace rn ON rn.oid = r.relnamespace
        WHERE co.conrelid = $1::oid AND co.contype IN ('p', 'u', 'f', 'c') ORDER BY co.conname`,
      [oid],
    );
  const idx = await c.query<{ name: string; def: string }>(
      `SELECT ic.relname AS name, pg_catalog.pg_get_indexdef(i.indexrelid) AS def
         FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
        WHERE i.indrelid = $1::oid AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint co WHERE co.conindid = i.indexrelid AND co.conrelid = i.indrelid)
        ORDER BY ic.relname`,
      [oid],
    );
  const seqs = await c.query<Catalog['sequences'][number]>(
      `WITH s(oid) AS (
          SELECT d.objid FROM pg_catalog.pg_depend d
           WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.refclassid = 'pg_catalog.pg_class'::regclass AND d.refobjid = $1::oid AND d.deptype IN ('a', 'i')
          UNION
          SELECT d.refobjid FROM pg_catalog.pg_attrdef ad JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_attrdef'::regclass AND d.objid = ad.oid
           WHERE ad.adrelid = $1::oid AND d.refclassid = 'pg_catalog.pg_class'::regclass)
       SELECT n.nspname AS schema, c.relname AS name, ps.last_value::text AS last, ps.increment_by::text AS increment
         FROM s JOIN pg_catalog.pg_class c ON c.oid = s.oid AND c.relkind = 'S' JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
         JOIN pg_catalog.pg_sequences ps ON ps.schemaname = n.nspname AND ps.sequencename = c.relname
        ORDER BY 1, 2`,
      [oid],
    );
  return { exists: true, columns: cols, constraints: cons.rows, indexes: idx.rows, sequences: seqs.rows };
}

async function readSequence(c: pg.Client, schema: string, name: string): Promise<{ last: string | null } | null> {
  const r = await c.query<{ last: string | null }>('SELECT last_value::text AS last FROM pg_catalog.pg_sequences WHERE schemaname = $1 AND sequencename = $2', [schema, name]);
  return r.rows[0] ?? null;
}

/** During change capture target sequences are behind by design: the cutover sets them from the source. */
const AT_CUTOVER = (options: { duringCapture?: boolean }) => (options.duringCapture ? ' (expected during change capture: sequences are set at cutover)' : '');

const KIND_OF: Record<string, SchemaValidation['kind']> = { p: 'primary_key', u: 'unique', f: 'foreign_key', c: 'check' };

/** Compare two multisets of signatures; names for the message. */
function compareSets(source: { sig: string; name: string }[], target: { sig: string; name: string }[]): { missing: string[]; extra: string[] } {
  const left = [...target];
  const missing: string[] = [];
  for (const s of source) {
    const i = left.findIndex((t) => t.sig === s.sig);
    if (i >= 0) left.splice(i, 1);
    else missing.push(s.name);
  }
  return { missing, extra: left.map((t) => t.name) };
}

export async function validateTableSchema(
  src: pg.Client,
  tgt: pg.Client,
  t: TableMapping,
  all: TableMapping[],
  spec: Pick<MigrationSpec, 'rename'>,
  options: { duringCapture?: boolean } = {},
): Promise<SchemaValidation[]> {
  const object = displayName(t.target.schema, t.target.name);
  const [s, d] = await Promise.all([readCatalog(src, t.source.schema, t.source.name), readCatalog(tgt, t.target.schema, t.target.name)]);
  if (!d.exists) return [{ object, kind: 'table', status: 'mismatch', message: `${object} (from ${displayName(t.source.schema, t.source.name)}) does not exist on the target` }];
  const items: SchemaValidation[] = [{ object, kind: 'table', status: 'match', message: `${object} exists on the target` }];

  // Source names -> target names: this table's columns (generated ones too), schemas, tables.
  const columnMap = (m: TableMapping | undefined, schema: string, table: string) => {
    const map = new Map<string, string>();
    for (const [k, v] of Object.entries(spec.rename.columns)) {
      const dot = k.lastIndexOf('.');
      if (k.slice(0, dot) === `${schema}.${table}`) map.set(k.slice(dot + 1), v);
    }
    for (const c of m?.columns ?? []) map.set(c.source, c.target);
    return map;
  };
  const cols = columnMap(t, t.source.schema, t.source.name);
  const defMap = new Map([...renamedNames(all, spec), ...cols]);
  const typeMap = new Map(Object.entries(spec.rename.schemas));

  // Columns.
  const problems: string[] = [];
  const tcols = new Map(d.columns.map((c) => [c.name, c]));
  const seen = new Set<string>();
  for (const c of s.columns) {
    const name = cols.get(c.name) ?? c.name;
    seen.add(name);
    const x = tcols.get(name);
    if (!x) problems.push(`${name} missing`);
    else if (canonicalSql(c.type, typeMap) !== canonicalSql(x.type)) problems.push(`${name} is ${x.type}, source ${c.type}`);
    else if (c.notnull !== x.notnull) problems.push(`${name} is ${x.notnull ? 'NOT NULL' : 'nullable'}, source ${c.notnull ? 'NOT NULL' : 'nullable'}`);
  }
  for (const c of d.columns) if (!seen.has(c.name)) problems.push(`${c.name} only on the target`);
  items.push({
    object,
    kind: 'column',
    status: problems.length ? 'mismatch' : 'match',
    message: problems.length ? `columns differ: ${problems.join('; ')}` : `${s.columns.length} column(s) match (names, types, nullability)`,
  });

  // Constraints, by kind.
  const sig = (c: Catalog['constraints'][number], side: 'source' | 'target'): string => {
    const mapCols = (list: string[], m: Map<string, string>) => list.map((x) => (side === 'source' ? (m.get(x) ?? x) : x)).join(',');
    if (c.kind === 'p' || c.kind === 'u') return `${c.kind}(${mapCols(c.cols, cols)})`;
    if (c.kind === 'f') {
      let refSchema = c.refSchema ?? '';
      let refTable = c.refTable ?? '';
      let refMap = new Map<string, string>();
      if (side === 'source') {
        const ref = all.find((m) => m.source.schema === refSchema && m.source.name === refTable);
        refMap = columnMap(ref, refSchema, refTable);
        refTable = ref?.target.name ?? refTable;
        refSchema = ref?.target.schema ?? mapSchema(spec.rename, refSchema);
      }
      return `f(${mapCols(c.cols, cols)})->${refSchema}.${refTable}(${mapCols(c.refCols, refMap)}) ${c.actions}`;
    }
    return `c ${side === 'source' ? canonicalSql(c.def, defMap) : canonicalSql(c.def)}`;
  };
  for (const kind of ['p', 'u', 'f', 'c']) {
    const a = s.constraints.filter((c) => c.kind === kind);
    const b = d.constraints.filter((c) => c.kind === kind);
    if (a.length === 0 && b.length === 0) continue;
    const { missing, extra } = compareSets(
      a.map((c) => ({ sig: sig(c, 'source'), name: c.name })),
      b.map((c) => ({ sig: sig(c, 'target'), name: c.name })),
    );
    const diff = [...missing.map((n) => `${n} missing on the target`), ...extra.map((n) => `${n} only on the target`)];
    items.push({
      object,
      kind: KIND_OF[kind]!,
      status: diff.length ? 'mismatch' : 'match',
      message: diff.length ? diff.join('; ') : `${a.length} ${KIND_OF[kind]!.replace('_', ' ')} constraint(s) match: ${a.map((c) => c.name).join(', ')}`,
    });
  }

  // Indexes (those not backing a constraint), by definition after USING.
  if (s.indexes.length || d.indexes.length) {
    const body = (def: string, map?: Map<string, string>) => {
      const at = def.indexOf(' USING ');
      return `${/^CREATE UNIQUE/.test(def) ? 'unique ' : ''}${canonicalSql(at >= 0 ? def.slice(at) : def, map)}`;
    };
    const { missing, extra } = compareSets(
      s.indexes.map((i) => ({ sig: body(i.def, defMap), name: i.name })),
      d.indexes.map((i) => ({ sig: body(i.def), name: i.name })),
    );
    const diff = [...missing.map((n) => `${n} missing on the target`), ...extra.map((n) => `${n} only on the target`)];
    items.push({
      object,
      kind: 'index',
      status: diff.length ? 'mismatch' : 'match',
      message: diff.length ? diff.join('; ') : `${s.indexes.length} index(es) match: ${s.indexes.map((i) => i.name).join(', ')}`,
    });
  }

  // Sequences the table's columns use: the target must not hand out a value the source already did.
  if (s.sequences.length) {
    const diff: string[] = [];
    const ok: string[] = [];
    for (const q of s.sequences) {
      const tname = displayName(mapSchema(spec.rename, q.schema), q.name);
      const x = await readSequence(tgt, mapSchema(spec.rename, q.schema), q.name);
      if (!x) diff.push(`${tname} missing on the target`);
      else if (q.last === null) ok.push(`${tname} (unused on the source)`);
      else if (x.last === null) (options.duringCapture ? ok : diff).push(`${tname} is unused on the target but at ${q.last} on the source${AT_CUTOVER(options)}`);
      else {
        const ascending = BigInt(q.increment) > 0n;
        const fine = ascending ? BigInt(x.last) >= BigInt(q.last) : BigInt(x.last) <= BigInt(q.last);
        if (fine) ok.push(`${tname} at ${x.last} (source ${q.last})`);
        else (options.duringCapture ? ok : diff).push(`${tname} is at ${x.last}, behind the source's ${q.last}${AT_CUTOVER(options)}`);
      }
    }
    items.push({ object, kind: 'sequence', status: diff.length ? 'mismatch' : 'match', message: diff.length ? diff.join('; ') : ok.join(', ') });
  }
  return items;
}

interface ViewCatalog {
  schema: string;
  name: string;
  materialized: boolean;
  populated: boolean;
  def: string;
  columns: Catalog['columns'];
}

/** A view by OID (Ferry's sessions run with search_path pg_catalog: the definition comes out qualified). */
async function readView(c: pg.Client, oid: number): Promise<ViewCatalog | undefined> {
  const r = await c.query<Omit<ViewCatalog, 'columns'>>(
    `SELECT n.nspname AS schema, c.relname AS name, c.relkind = 'm' AS materialized, c.relispopulated AS populated, pg_catalog.pg_get_viewdef(c.oid) AS def
       FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = $1::oid AND c.relkind IN ('v', 'm')`,
    [oid],
  );
  const row = r.rows[0];
  if (!row) return undefined;
  return { ...row, columns: await readColumns(c, oid) };
}

/** Does this view read, directly or through views and materialized views, a materialized view that is not filled? */
async function readsUnfilled(c: pg.Client, oid: number): Promise<boolean> {
  const r = await c.query<{ unfilled: boolean }>(
    `WITH RECURSIVE reads(oid) AS (
       SELECT $1::oid
       UNION
       SELECT d.refobjid FROM reads x JOIN pg_catalog.pg_rewrite r ON r.ev_class = x.oid
         JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_rewrite'::regclass AND d.objid = r.oid
         JOIN pg_catalog.pg_class c ON c.oid = d.refobjid AND c.relkind IN ('v', 'm')
        WHERE d.refclassid = 'pg_catalog.pg_class'::regclass AND d.refobjid <> x.oid)
     SELECT EXISTS (SELECT 1 FROM reads x JOIN pg_catalog.pg_class c ON c.oid = x.oid
                     WHERE x.oid <> $1::oid AND c.relkind = 'm' AND NOT c.relispopulated) AS unfilled`,
    [oid],
  );
  return r.rows[0]?.unfilled ?? false;
}

/**
 * One migrated view (as provision recorded it: source and target OIDs) on the target against the
 * source: it exists, its columns have the same names and types, its definition is the source's
 * through the schema and table renames (not compared when the spec renames columns: a renamed
 * column shows as `new AS old` in the target's definition), and a materialized one is filled
 * exactly when the source's is (unless it reads one the source has not filled: then no REFRESH
 * can fill it, and Ferry leaves it empty as pg_dump does).
 */
export async function validateViewSchema(
  src: pg.Client,
  tgt: pg.Client,
  view: ProvisionedObject,
  all: TableMapping[],
  spec: Pick<MigrationSpec, 'rename'>,
): Promise<SchemaValidation> {
  const from = displayName(view.schema, view.name);
  const d = view.targetOid === undefined ? undefined : await readView(tgt, view.targetOid);
  if (!d) {
    const object = displayName(mapSchema(spec.rename, view.schema), view.name);
    return { object, kind: 'view', status: 'mismatch', message: `${object} (from ${from}) does not exist on the target` };
  }
  const object = displayName(d.schema, d.name);
  const s = await readView(src, view.sourceOid);
  if (!s) return { object, kind: 'view', status: 'mismatch', message: `${from} is no longer on the source` };
  const problems: string[] = [];
  const typeMap = new Map(Object.entries(spec.rename.schemas));
  const sc = s.columns.map((c) => `${c.name} ${canonicalSql(c.type, typeMap)}`).join(', ');
  const dc = d.columns.map((c) => `${c.name} ${canonicalSql(c.type)}`).join(', ');
  if (sc !== dc) problems.push(`columns are (${d.columns.map((c) => `${c.name} ${c.type}`).join(', ')}), source (${s.columns.map((c) => `${c.name} ${c.type}`).join(', ')})`);
  const compareDefinition = Object.keys(spec.rename.columns).length === 0;
  if (compareDefinition) {
    if (canonicalSql(s.def, renamedNames(all, spec)) !== canonicalSql(d.def)) problems.push(`its definition differs from the source's: ${d.def.trim().replace(/\s+/g, ' ')}`);
  }
  let unfillable = false;
  if (s.materialized && s.populated && !d.populated) {
    // Left unfilled on purpose (views.ts, as pg_dump does): it reads, directly or through other
    // views, a materialized view the source has not filled, so a REFRESH could not fill it.
    unfillable = await readsUnfilled(src, view.sourceOid);
    if (!unfillable) problems.push('filled on the source, not on the target');
  }
  if (s.materialized && !s.populated && d.populated) problems.push('filled on the target, not on the source');
  const what = s.materialized ? 'materialized view' : 'view';
  if (problems.length > 0) return { object, kind: 'view', status: 'mismatch', message: `${what} ${object}: ${problems.join('; ')}` };
  const filled = unfillable ? 'not filled: it reads a materialized view the source has not filled, so it could not be refreshed' : d.populated ? 'filled' : 'not filled';
  const checked = [`${s.columns.length} column(s)`, compareDefinition ? 'definition' : 'definition not compared (columns renamed)', s.materialized ? filled : ''];
  return { object, kind: 'view', status: 'match', message: `${what} ${object} matches ${from}: ${checked.filter(Boolean).join(', ')}` };
}
