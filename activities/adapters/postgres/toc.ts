// pg_restore's table of contents (`pg_restore -l`): parse, filter, write back for `-L`.
// Lines look like `219; 1259 16511 TABLE sales customer postgres`: dump id, catalog table oid,
// object oid, then the description and names (names are printed raw, so they are matched by
// OID where the entry has one, never by splitting on spaces).

export interface TocEntry {
  dumpId: number;
  /** Catalog (pg_class, pg_type, ...) the object lives in; 0 for entries without an object of their own. */
  classId: number;
  objectId: number;
  /** TABLE, FK CONSTRAINT, INDEX ATTACH, ... */
  desc: string;
  /** The rest of the line after the description: `<schema> <tag> <owner>`. */
  rest: string;
  line: string;
}

// Longest first so `FK CONSTRAINT` wins over `CONSTRAINT`, `SEQUENCE OWNED BY` over `SEQUENCE`.
const DESCS = [
  'PUBLICATION TABLES IN SCHEMA', 'MATERIALIZED VIEW DATA', 'SECURITY LABEL', 'TEXT SEARCH CONFIGURATION', 'TEXT SEARCH DICTIONARY',
  'TEXT SEARCH TEMPLATE', 'TEXT SEARCH PARSER', 'FOREIGN DATA WRAPPER', 'SEQUENCE OWNED BY', 'PUBLICATION TABLE',
  'MATERIALIZED VIEW', 'CHECK CONSTRAINT', 'OPERATOR FAMILY', 'OPERATOR CLASS', 'DEFAULT ACL', 'EVENT TRIGGER',
  'FK CONSTRAINT', 'FOREIGN TABLE', 'INDEX ATTACH', 'ROW SECURITY', 'SEQUENCE SET', 'TABLE ATTACH', 'ACCESS METHOD',
  'LARGE OBJECT', 'USER MAPPING', 'SHELL TYPE', 'TABLE DATA', 'BLOB COMMENTS', 'BLOBS', 'BLOB', 'CONSTRAINT', 'COLLATION',
  'CONVERSION', 'EXTENSION', 'PROCEDURE', 'AGGREGATE', 'STATISTICS', 'PUBLICATION', 'SUBSCRIPTION', 'TRANSFORM',
  'ENCODING', 'STDSTRINGS', 'SEARCHPATH', 'DATABASE', 'SEQUENCE', 'FUNCTION', 'LANGUAGE', 'OPERATOR', 'TRIGGER', 'COMMENT',
  'DEFAULT', 'POLICY', 'SCHEMA', 'DOMAIN', 'SERVER', 'INDEX', 'TABLE', 'TYPE', 'VIEW', 'RULE', 'CAST', 'ACL',
].sort((a, b) => b.length - a.length);

export function parseToc(text: string): TocEntry[] {
  const entries: TocEntry[] = [];
  for (const line of text.split('\n')) {
    const m = /^(\d+); (\d+) (\d+) (.*)$/.exec(line);
    if (!m) continue;
    const tail = m[4] ?? '';
    const desc = DESCS.find((d) => tail === d || tail.startsWith(`${d} `)) ?? tail.split(' ')[0] ?? '';
    entries.push({
      dumpId: Number(m[1]),
      classId: Number(m[2]),
      objectId: Number(m[3]),
      desc,
      rest: tail.slice(desc.length + 1),
      line,
    });
  }
  return entries;
}

/** Entries pg_dump writes after an object, between it and its comments (domains, composite types, tables). */
const OBJECT_TRAILERS = new Set(['COMMENT', 'ACL', 'DEFAULT ACL', 'SECURITY LABEL']);

/**
 * The entry each COMMENT belongs to. pg_dump writes an object's comments right after the object,
 * some after its ACL or security labels (a domain's constraint comments, a composite type's column
 * comments): the nearest entry before the comment that is none of those.
 */
export function commentOwners(toc: readonly TocEntry[]): Map<number, TocEntry> {
  const owners = new Map<number, TocEntry>();
  let owner: TocEntry | undefined;
  for (const e of toc) {
    if (!OBJECT_TRAILERS.has(e.desc)) owner = e;
    else if (e.desc === 'COMMENT' && owner) owners.set(e.dumpId, owner);
  }
  return owners;
}

/**
 * `kept` (entries of `toc`), with a comment only where its object is kept too, or where
 * `alsoFor(object)` says so. A comment restored without its object fails ("constraint ... does
 * not exist"), and pg_restore --section judges a comment (which has no section of its own) by
 * the entries before it in the list: a pre-data list without the primary key restored the key's
 * comment, before the key existed.
 */
export function withOwnComments(toc: readonly TocEntry[], kept: readonly TocEntry[], alsoFor: (owner: TocEntry) => boolean = () => false): TocEntry[] {
  const owners = commentOwners(toc);
  const ids = new Set(kept.map((e) => e.dumpId));
  return kept.filter((e) => {
    if (e.desc !== 'COMMENT') return true;
    const owner = owners.get(e.dumpId);
    return owner !== undefined && (ids.has(owner.dumpId) || alsoFor(owner));
  });
}

/** A `-L` list file restoring exactly these entries. */
export function formatToc(entries: readonly TocEntry[]): string {
  return entries.map((e) => e.line).join('\n') + '\n';
}

/**
 * Tables created per pre-data restore transaction. Each table a transaction creates (and its TOAST
 * table) holds a slot of the server's lock table until the commit, and that table has
 * max_locks_per_transaction x (max_connections + max_prepared_transactions) slots for all sessions
 * together (6,400 with the defaults): one transaction creating 10,000 tables fails with "out of
 * shared memory". 1,000 tables take about 2,000 slots.
 */
export const PRE_DATA_TABLES_PER_RESTORE = 1000;

/**
 * Pre-data entries, in their TOC (dependency) order, cut into runs of at most `tablesPerRun`
 * TABLE entries, each restored in its own transaction. A run is cut just before a TABLE entry, so
 * every run holds a table: whether a run committed is told by its tables being on the target.
 */
export function preDataRuns(entries: readonly TocEntry[], tablesPerRun: number = PRE_DATA_TABLES_PER_RESTORE): TocEntry[][] {
  const runs: TocEntry[][] = [];
  let current: TocEntry[] = [];
  let tables = 0;
  for (const e of entries) {
    if (e.desc === 'TABLE') {
      if (tables >= tablesPerRun) {
        runs.push(current);
        current = [];
        tables = 0;
      }
      tables++;
    }
    current.push(e);
  }
  if (current.length > 0) runs.push(current);
  return runs;
}

export const PRE_DATA_DESCS = new Set([
  'TABLE', 'TYPE', 'SHELL TYPE', 'DOMAIN', 'SEQUENCE', 'SEQUENCE OWNED BY', 'DEFAULT', 'FUNCTION', 'PROCEDURE', 'AGGREGATE',
  'TABLE ATTACH', 'COLLATION', 'CONVERSION', 'OPERATOR', 'OPERATOR CLASS', 'OPERATOR FAMILY', 'CAST', 'TEXT SEARCH CONFIGURATION',
  'TEXT SEARCH DICTIONARY', 'TEXT SEARCH TEMPLATE', 'TEXT SEARCH PARSER', 'COMMENT', 'CHECK CONSTRAINT', 'FOREIGN TABLE',
]);

export const POST_DATA_DESCS = new Set([
  'INDEX', 'CONSTRAINT', 'FK CONSTRAINT', 'INDEX ATTACH', 'TRIGGER', 'RULE', 'POLICY', 'ROW SECURITY', 'STATISTICS', 'COMMENT',
  'CHECK CONSTRAINT',
]);

/** Well-known catalog OIDs (fixed across clusters and versions). */
export const CATALOG = {
  pg_class: 1259,
  pg_type: 1247,
  pg_proc: 1255,
  pg_constraint: 2606,
  pg_trigger: 2620,
  pg_rewrite: 2618,
  pg_policy: 3256,
  pg_statistic_ext: 3381,
  pg_namespace: 2615,
} as const;
