// The schema-only dump of what a migration moves: `-n` each schema holding a selected table (or a
// type one uses), `-T` every other relation in those schemas, so the schemas' types, sequences
// and functions come along, and of their views those that go along (views.ts), but no unselected
// table.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type pg from 'pg';
import type { EngineContext, ResolvedEndpoint } from '../engine';
import { AuthenticationFailed, ConnectionFailed, SchemaCopyFailed } from '../errors';
import { typeSchemasOf, unselectedRelations } from './catalog';
import type { Selection } from './selection';
import { qualify, quoteIdent } from './sql';
import { dbConninfo, pgBin, pgEnv, runTool, tempDir, ToolFailed } from './tools';
import { readSchemaDump, writeSchemaDump } from './state';
import { parseToc, type TocEntry } from './toc';
import type { ViewPlan } from './views';

export interface SchemaDump {
  file: string;
  toc: TocEntry[];
  tocText: string;
  schemas: string[];
  remove: () => void;
}

/** Tables moved (roots and their partitions), by source OID. */
export function selectedOids(sel: Selection): Set<number> {
  return new Set([...sel.roots, ...sel.partitions].map((t) => t.oid));
}

/** Schemas the dump covers: those of the selected tables and of user-defined types their columns use. */
export async function dumpSchemas(src: pg.Client, sel: Selection): Promise<string[]> {
  const tables = [...sel.roots, ...sel.partitions];
  const schemas = new Set(tables.map((t) => t.schema));
  for (const s of await typeSchemasOf(src, tables.map((t) => t.oid))) schemas.add(s);
  return [...schemas].sort();
}

/** The dump; with `views` (planned over the same selection), its schemas and the views that go along. */
export async function dumpSchema(ctx: EngineContext, src: pg.Client, sel: Selection, views?: ViewPlan): Promise<SchemaDump> {
  const schemas = views?.schemas ?? (await dumpSchemas(src, sel));
  const exclude = await unselectedRelations(src, schemas, new Set([...selectedOids(sel), ...(views?.migrated ?? []).map((v) => v.oid)]));
  const tmp = tempDir('ferry-dump');
  const file = path.join(tmp.dir, 'schema.dump');
  try {
    // Quoted names in pg_dump patterns are literal (wildcards and case included).
    const args = ['-d', dbConninfo(ctx.source), '--schema-only', '-Fc', '-f', file, '--no-tablespaces'];
    for (const s of schemas) args.push('-n', quoteIdent(s));
    for (const t of exclude) args.push('-T', qualify(t.schema, t.name));
    await runTool(pgBin('pg_dump'), args, pgEnv(ctx.source), { signal: ctx.signal }).catch((err) => {
      throw toolError(err, ctx.source, 'pg_dump of the source schema');
    });
    const { stdout } = await runTool(pgBin('pg_restore'), ['-l', file], process.env, { captureStdout: true, signal: ctx.signal }).catch(
      (err) => {
        throw toolError(err, ctx.source, 'pg_restore -l');
      },
    );
    return { file, toc: parseToc(stdout), tocText: stdout, schemas, remove: tmp.remove };
  } catch (err) {
    tmp.remove();
    throw err;
  }
}

/**
 * Keep provision's dump on the target, so finishLoad restores post-data (foreign keys, triggers,
 * views) from the very dump the pre-data came from, without dumping again.
 */
export async function keepDump(tgt: pg.Client, migrationId: string, dump: SchemaDump): Promise<void> {
  await writeSchemaDump(tgt, migrationId, { archive: readFileSync(dump.file), toc: dump.tocText, schemas: dump.schemas });
}

/** The dump keepDump kept, as a file again; undefined when there is none. */
export async function keptDump(tgt: pg.Client, migrationId: string): Promise<SchemaDump | undefined> {
  const kept = await readSchemaDump(tgt, migrationId);
  if (!kept) return undefined;
  const tmp = tempDir('ferry-dump');
  const file = path.join(tmp.dir, 'schema.dump');
  try {
    writeFileSync(file, kept.archive);
  } catch (err) {
    tmp.remove();
    throw err;
  }
  return { file, toc: parseToc(kept.toc), tocText: kept.toc, schemas: kept.schemas, remove: tmp.remove };
}

/** A failed client program as the FerryError a user can act on, with its stderr tail. */
export function toolError(err: unknown, ep: ResolvedEndpoint, what: string): Error {
  if (!(err instanceof ToolFailed)) return err instanceof Error ? err : new Error(String(err));
  const tail = err.stderrTail.trim();
  const where = `${ep.host}:${ep.port}`;
  if (/password authentication failed|no password supplied/i.test(tail)) {
    return new AuthenticationFailed(`${what}: authentication failed for user "${ep.user}" at ${where}: ${tail}`, { cause: err });
  }
  if (/could not connect|connection to server .* failed|server closed the connection|could not translate host name|Connection refused|timeout expired/i.test(tail)) {
    return new ConnectionFailed(`${what}: cannot reach PostgreSQL at ${where}: ${tail}`, { cause: err });
  }
  return new SchemaCopyFailed(`${what} failed: ${tail || err.message}`, { cause: err });
}
