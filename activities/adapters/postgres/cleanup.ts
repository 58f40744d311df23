// cleanup: on abort, remove exactly what provision created on the target (tracked by target OID,
// so renamed objects are found too; schemas only when Ferry created them); always, remove this
// migration's state and the `ferry` schema once no migration has rows left. Never touches the source.
import type pg from 'pg';
import type { TableRef } from '../../../workflows/types';
import type { CleanupOptions, EngineContext } from '../engine';
import { existingTables } from './catalog';
import { classifyError, closeClient, connectEndpoint } from './connect';
import { currentLocation, resolveOnTarget } from './objects';
import { qualify, quoteIdent } from './sql';
import { readProvisioned, removeState, type ProvisionedObject } from './state';

async function dropObject(c: pg.Client, o: ProvisionedObject): Promise<void> {
  const at = await currentLocation(c, o);
  if (!at) return;
  switch (o.kind) {
    case 'table':
      return void (await c.query(`DROP TABLE IF EXISTS ${qualify(at.schema, at.name)} CASCADE`));
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

async function dropProvisioned(c: pg.Client, ctx: EngineContext, options: CleanupOptions): Promise<void> {
  const state = await readProvisioned(c, ctx.migrationId);
  let objects = state?.objects ?? [];
  if (state?.status === 'pending') {
    // Did the (single-transaction) restore commit before the crash? Its tables tell.
    const planned: TableRef[] = objects.filter((o) => o.kind === 'table').map((o) => ({ schema: o.schema, name: o.name }));
    const present = await existingTables(c, planned);
    objects = planned.length > 0 && present.length === planned.length ? await resolveOnTarget(c, objects) : [];
  }
  const order = ['table', 'function', 'procedure', 'aggregate', 'domain', 'type', 'sequence'];
  for (const o of [...objects].sort((a, b) => order.indexOf(a.kind) - order.indexOf(b.kind))) await dropObject(c, o);
  if (!state && options.provision) {
    // No state left to say which OIDs are ours: fall back to the provision result's names.
    for (const m of options.provision.tables) {
      await c.query(`DROP TABLE IF EXISTS ${qualify(m.source.schema, m.source.name)} CASCADE`);
      await c.query(`DROP TABLE IF EXISTS ${qualify(m.target.schema, m.target.name)} CASCADE`);
    }
  }
  const schemas = new Set([...(state?.createdSchemas ?? []), ...(options.provision?.createdSchemas ?? [])]);
  for (const s of [...schemas].sort()) await c.query(`DROP SCHEMA IF EXISTS ${quoteIdent(s)} CASCADE`);
}

export async function cleanup(ctx: EngineContext, options: CleanupOptions): Promise<void> {
  const tgt = await connectEndpoint(ctx.target);
  try {
    if (options.aborted) {
      await tgt.query('BEGIN');
      try {
        await dropProvisioned(tgt, ctx, options);
        await tgt.query('COMMIT');
      } catch (err) {
        await tgt.query('ROLLBACK').catch(() => undefined);
        throw err;
      }
    }
    if (options.aborted || !ctx.spec.cleanup.keepState) await removeState(tgt, ctx.migrationId);
  } catch (err) {
    throw classifyError(err, ctx.target);
  } finally {
    await closeClient(tgt);
  }
}
