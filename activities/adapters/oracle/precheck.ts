// The PG -> Oracle precheck as a pure function of facts read from both sides (engine.ts reads
// them): DTS's items (key on every table, target version, schemas and tables present,
// permissions, storage) plus what Oracle's semantics add (types, '' vs NULL, identifier
// lengths, character set). Each item has a stable id for acknowledging warnings.
import type { PrecheckItem, TableMapping } from '../../../workflows/types';
import { UnsupportedType } from '../errors';
import type { TargetColumn, TargetTable } from './apply';
import type { OracleColumnRow } from './catalog';
import { checkTargetColumn } from './compat';
import { identifierLimitFor, InvalidOracleIdentifier, oracleNameFor, quoteOracleIdent } from './identifiers';
import { mapColumn, type OracleTarget, type PgColumn } from './types';
import type { EmptyStringPolicy } from './values';

export interface SourceTableFacts {
  mapping: TableMapping;
  columns: PgColumn[];
  /** Source key columns (PK or unique not-null), null when none. */
  key: string[] | null;
  /** pg_class.relreplident: d default, f full, i index, n nothing. */
  replicaIdentity: string;
  /** NOT NULL text columns and how many rows hold ''. */
  emptyStrings: Record<string, number>;
}

export interface TargetFacts {
  version: { major: number; minor: number };
  charset: string;
  maxStringSize: 'STANDARD' | 'EXTENDED' | null;
  user: string;
  schemas: Set<string>;
  /** `SCHEMA.TABLE` (Oracle names) -> columns; absent = table missing. */
  tables: Map<string, OracleColumnRow[]>;
  /** `SCHEMA.TABLE` -> tables the user may insert/update/delete in (owner or grants). */
  writable: Set<string>;
  /** Rows already in each target table (a load into a non-empty table is warned about). */
  rowCounts: Map<string, number>;
  /** Free bytes the user can write, null when unknown (no quota view access). */
  freeBytes: number | null;
}

export interface PgToOracleFacts {
  online: boolean;
  policy: EmptyStringPolicy;
  source: SourceTableFacts[];
  target: TargetFacts;
}

/** Oracle names for a mapping: the spec's renames were applied by selection; case folding here. */
export function oracleMapping(m: TableMapping): TableMapping {
  return {
    ...m,
    target: { schema: oracleNameFor(m.target.schema), name: oracleNameFor(m.target.name) },
    columns: m.columns.map((c) => ({ source: c.source, target: oracleNameFor(c.target) })),
  };
}

export interface PrecheckOutcome {
  items: PrecheckItem[];
  /** Writable plans for the tables that passed. */
  tables: TargetTable[];
}

export function evaluatePgToOracle(f: PgToOracleFacts): PrecheckOutcome {
  const items: PrecheckItem[] = [];
  const tables: TargetTable[] = [];
  const t = f.target;
  const limit = identifierLimitFor(t.version);
  const oracle: OracleTarget = { major: t.version.major, minor: t.version.minor, maxStringSize: t.maxStringSize ?? 'STANDARD' };

  const v = `${t.version.major}.${t.version.minor}`;
  if (t.version.major < 11) items.push({ id: 'version:target', status: 'fail', message: `Oracle ${v} is older than 11g`, remedy: 'Ferry writes to Oracle 11g .. 19c (as DTS), and newer releases' });
  else if (t.version.major > 19) items.push({ id: 'version:target', status: 'warning', message: `Oracle ${v} is newer than DTS's supported 11g-19c; Ferry's mapping uses its features (JSON${t.version.major >= 23 ? ', BOOLEAN' : ''})` });
  else items.push({ id: 'version:target', status: 'pass', message: `Oracle ${v}` });

  items.push(
    t.charset === 'AL32UTF8'
      ? { id: 'charset:target', status: 'pass', message: 'AL32UTF8' }
      : { id: 'charset:target', status: 'fail', message: `database character set ${t.charset} cannot hold every PostgreSQL UTF-8 string`, remedy: 'use an AL32UTF8 target database' },
  );
  if (t.maxStringSize === null) {
    items.push({ id: 'max-string-size:target', status: 'warning', message: 'could not read MAX_STRING_SIZE (no access to V$PARAMETER): VARCHAR2 limits assume STANDARD (4000 bytes)' });
  }

  const sourceBytes = f.source.reduce((s, x) => s + x.mapping.estimatedBytes, 0);
  if (t.freeBytes === null) items.push({ id: 'storage:target', status: 'warning', message: 'free space on the target could not be read (USER_TS_QUOTAS)', remedy: `make sure the target has more than ${sourceBytes} bytes free` });
  else if (t.freeBytes < sourceBytes) items.push({ id: 'storage:target', status: 'fail', message: `the target has ${t.freeBytes} bytes free for ${t.user}, the source tables take ${sourceBytes}`, remedy: 'grow the tablespace or the quota' });
  else items.push({ id: 'storage:target', status: 'pass', message: `${t.freeBytes} bytes free for ${sourceBytes} bytes of source tables` });

  const schemasSeen = new Set<string>();
  for (const s of f.source) {
    const m = oracleMapping(s.mapping);
    const src = `${s.mapping.source.schema}.${s.mapping.source.name}`;
    const key = `${m.target.schema}.${m.target.name}`;
    let ok = true;

    if (!s.key) {
      items.push({
        id: `no-key:${src}`,
        status: f.online ? 'fail' : 'warning',
        message: `${src} has no primary key or unique NOT NULL index`,
        remedy: f.online ? 'add a primary key: changes are applied to Oracle by key' : 'add a primary key, or acknowledge: a full load does not need one',
      });
      if (f.online) ok = false;
    }
    if (f.online && s.replicaIdentity === 'n') {
      items.push({ id: `replica-identity:${src}`, status: 'fail', message: `${src} has REPLICA IDENTITY NOTHING: its updates and deletes cannot be replicated`, remedy: `ALTER TABLE ${src} REPLICA IDENTITY FULL` });
      ok = false;
    }

    try {
      quoteOracleIdent(m.target.schema, limit);
      quoteOracleIdent(m.target.name, limit);
      for (const c of m.columns) quoteOracleIdent(c.target, limit);
    } catch (err) {
      if (!(err instanceof InvalidOracleIdentifier)) throw err;
      items.push({ id: `identifier:${src}`, status: 'fail', message: `${src}: ${err.message}`, remedy: 'rename it with the spec\'s rename mapping' });
      continue;
    }

    if (!schemasSeen.has(m.target.schema)) {
      schemasSeen.add(m.target.schema);
      items.push(
        t.schemas.has(m.target.schema)
          ? { id: `schema:${m.target.schema}`, status: 'pass', message: `schema ${m.target.schema} exists` }
          : { id: `schema:${m.target.schema}`, status: 'fail', message: `schema ${m.target.schema} does not exist on the target`, remedy: 'create the schema (user) and its tables first: like DTS, Ferry does not migrate schema to Oracle (see `ferry oracle ddl` suggestions in docs/oracle.md)' },
      );
    }
    const cols = t.tables.get(key);
    if (!cols) {
      items.push({ id: `table:${key}`, status: 'fail', message: `table ${key} (for ${src}) does not exist on the target`, remedy: 'create it before the migration' });
      continue;
    }
    if (!t.writable.has(key)) {
      items.push({ id: `permissions:${key}`, status: 'fail', message: `${t.user} may not INSERT, UPDATE and DELETE in ${key}`, remedy: `connect as the schema owner (DTS's requirement) or GRANT INSERT, UPDATE, DELETE, SELECT ON ${key} TO ${t.user}` });
      ok = false;
    }
    if ((t.rowCounts.get(key) ?? 0) > 0) {
      items.push({ id: `not-empty:${key}`, status: 'warning', message: `${key} already holds ${t.rowCounts.get(key)} rows: loaded rows are added to them (and a key clash fails the load)` });
    }

    const targetColumns: TargetColumn[] = [];
    for (const mc of m.columns) {
      const pg = s.columns.find((c) => c.name === mc.source);
      const where = `${src}.${mc.source}`;
      if (!pg) continue;
      let mapped;
      try {
        mapped = mapColumn(pg, oracle);
      } catch (err) {
        if (!(err instanceof UnsupportedType)) throw err;
        items.push({ id: `type:${where}`, status: 'fail', message: err.message, remedy: 'exclude the table or change the column on the source' });
        ok = false;
        continue;
      }
      const oc = cols.find((c) => c.name === mc.target);
      if (!oc) {
        items.push({ id: `column:${where}`, status: 'fail', message: `${key} has no column ${mc.target} (for ${where})`, remedy: `add it (Ferry would use ${mapped.oracleType}) or map the name with rename.columns` });
        ok = false;
        continue;
      }
      const compat = checkTargetColumn(mapped, oc);
      if (compat.status !== 'pass') items.push({ id: `type:${where}`, status: compat.status, message: `${where} -> ${key}.${oc.name}: ${compat.message}` });
      if (compat.status === 'fail') ok = false;
      if (pg.notNull && !oc.nullable && (s.emptyStrings[pg.name] ?? 0) > 0 && f.policy !== 'space') {
        items.push({
          id: `empty-string:${where}`,
          status: 'fail',
          message: `${where} holds '' in ${s.emptyStrings[pg.name]} rows; Oracle stores '' as NULL and ${key}.${oc.name} is NOT NULL`,
          remedy: "use the 'space' empty-string policy, allow NULL on the target, or fix the rows",
        });
        ok = false;
      }
      targetColumns.push({ source: mc.source, target: mc.target, mapping: compat.mapping });
    }
    if (ok && targetColumns.length > 0) {
      tables.push({
        schema: m.target.schema,
        name: m.target.name,
        columns: targetColumns,
        key: (s.key ?? []).map((k) => m.columns.find((c) => c.source === k)?.target ?? oracleNameFor(k)),
        limit,
      });
    }
  }
  return { items, tables };
}
