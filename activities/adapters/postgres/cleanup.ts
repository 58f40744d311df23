// cleanup: on abort, remove exactly what provision created on the target (tracked by target OID,
// so renamed objects are found too; schemas only when Ferry created them); always, remove this
// migration's state and the `ferry` schema once no migration has rows left. Never touches the source.
import type pg from 'pg';
import type { TableRef } from '../../../workflows/types';
import type { CleanupOptions, EngineContext } from '../engine';
import { existingTables } from './catalog';
import { classifyError, closeIdleSessions, inTransaction, withSession } from './connect';
import { currentLocation, resolveOnTarget } from './objects';
import { qualify, quoteIdent } from './sql';
import { readProvisioned, removeState, writeProvisioned, type ProvisionedObject } from './state';
import { CATALOG, parseToc, preDataRuns, type TocEntry } from './toc';

async function dropObject(c: pg.Client, o: ProvisionedObject): Promise<void> {
  const at = await currentLocation(c, o);
  if (!at) return;
  switch (o.kind) {
    case 'table':
      return void (await c.query(`DROP TABLE IF EXISTS ${qualify(at.schema, at.name)} CASCADE`));
    case 'view':
      return void (await c.query(`DROP ${o.materialized ? 'MATERIALIZED VIEW' : 'VIEW'} IF EXISTS ${qualify(at.schema, at.name)} CASCADE`));
    case 'sequence':
      if (!o.owned) await c.query(`DROP SEQUENCE IF EXISTS ${qualify(at.schema, at.name)} CASCADE`);
      return;
    case 'type':
      return void (await c.query(`DROP TYPE IF EXISTS ${qualify(at.schema, at.name)} CASCADE`));
    case 'domain':
      return void (await c.query(`DROP DOMAIN IF EXISTS ${qualify(at.schema, at.name)} CASCADE`));
    case 'function':
    case 'procedure':
    case 'aggregate':
      return void (await c.query(`DROP ${o.kind.toUpperCase()} IF EXISTS ${at.signature!} CASCADE`));
  }
}

/**
 * The planned objects of a provision that did not record its end: those of the pre-data restore
 * runs that committed before the crash (each run is one transaction, and its tables tell), with
 * their target OIDs.
 */
async function committedObjects(c: pg.Client, objects: ProvisionedObject[], dumpToc: string | null): Promise<ProvisionedObject[]> {
  const catalogOf = (o: ProvisionedObject) =>
    o.kind === 'table' || o.kind === 'sequence' || o.kind === 'view' ? CATALOG.pg_class : o.kind === 'type' || o.kind === 'domain' ? CATALOG.pg_type : CATALOG.pg_proc;
  const bySource = new Map(objects.map((o) => [`${catalogOf(o)}/${o.sourceOid}`, o]));
  const ofRun = (run: TocEntry[]) => [...new Set(run.flatMap((e) => bySource.get(`${e.classId}/${e.objectId}`) ?? []))];
  const runs = dumpToc ? preDataRuns(parseToc(dumpToc)).map(ofRun) : [objects];
  const committed: ProvisionedObject[] = [];
  for (const run of runs) {
    const planned: TableRef[] = run.filter((o) => o.kind === 'table').map((o) => ({ schema: o.schema, name: o.name }));
    const present = await existingTables(c, planned);
    if (planned.length > 0 && present.length === planned.length) committed.push(...run);
  }
  return committed.length > 0 ? await resolveOnTarget(c, committed) : [];
}

/**
 * Drops per transaction. Every dropped table holds a few slots of the server's lock table until the
 * commit (see PRE_DATA_TABLES_PER_RESTORE): one transaction cannot drop 10,000 tables. A drop that
 * committed is not repeated by a retry (objects are found by their target OID, or by name with IF EXISTS).
 */
const DROPS_PER_TRANSACTION = 500;

async function inGroups(c: pg.Client, drops: (() => Promise<void>)[]): Promise<void> {
  for (let i = 0; i < drops.length; i += DROPS_PER_TRANSACTION) {
    await inTransaction(c, async () => {
      for (const drop of drops.slice(i, i + DROPS_PER_TRANSACTION)) await drop();
    });
  }
}

async function dropProvisioned(c: pg.Client, ctx: EngineContext, options: CleanupOptions): Promise<void> {
  const state = await readProvisioned(c, ctx.migrationId);
  let objects = state?.objects ?? [];
  if (state?.status === 'pending') {
    objects = await committedObjects(c, objects, state.dumpToc);
    // Recorded before anything is dropped: the drops commit in groups, and a retry must still know
    // these objects (by target OID) when some of a run's tables are gone.
    await writeProvisioned(c, ctx.migrationId, { status: 'done', createdSchemas: state.createdSchemas, objects, result: state.result });
  }
  const order = ['view', 'table', 'function', 'procedure', 'aggregate', 'domain', 'type', 'sequence'];
  await inGroups(
    c,
    [...objects].sort((a, b) => order.indexOf(a.kind) - order.indexOf(b.kind)).map((o) => () => dropObject(c, o)),
  );
  if (!state && options.provision) {
    // No state left to say which OIDs are ours: fall back to the provision result's names.
    await inGroups(
      c,
      options.provision.tables.map((m) => async () => {
        await c.query(`DROP TABLE IF EXISTS ${qualify(m.source.schema, m.source.name)} CASCADE`);
        await c.query(`DROP TABLE IF EXISTS ${qualify(m.target.schema, m.target.name)} CASCADE`);
      }),
    );
  }
  const schemas = new Set([...(state?.createdSchemas ?? []), ...(options.provision?.createdSchemas ?? [])]);
  await inGroups(
    c,
    [...schemas].sort().map((s) => async () => void (await c.query(`DROP SCHEMA IF EXISTS ${quoteIdent(s)} CASCADE`))),
  );
}

export async function cleanup(ctx: EngineContext, options: CleanupOptions): Promise<void> {
  try {
    await withSession(ctx.target, async (tgt) => {
      if (options.aborted) await dropProvisioned(tgt, ctx, options);
      if (options.aborted || !ctx.spec.cleanup.keepState) await removeState(tgt, ctx.migrationId);
    });
  } catch (err) {
    throw classifyError(err, ctx.target);
  }
  // The migration is over: no idle Ferry session stays on its databases (connect.ts keeps them between steps).
  await closeIdleSessions([ctx.source, ctx.target]);
}
