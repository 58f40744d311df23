// replication (online mode only): wal_level=logical, a free replication slot and a free WAL sender.
import type { PrecheckItem } from '../../../../workflows/types';
import { fail, pass, type PrecheckEnv } from './common';

/** Slots and senders one online migration needs on the source. */
export const NEEDED_SLOTS = 1;
export const NEEDED_SENDERS = 1;

export async function checkReplication(env: PrecheckEnv): Promise<PrecheckItem[]> {
  const { src, ctx } = env;
  if (!src || ctx.spec.mode !== 'online') return [];
  const r = await src.query<{ wal_level: string; max_slots: string; used_slots: string; max_senders: string; used_senders: string }>(
    `SELECT current_setting('wal_level') AS wal_level,
            current_setting('max_replication_slots') AS max_slots,
            (SELECT count(*) FROM pg_catalog.pg_replication_slots)::text AS used_slots,
            current_setting('max_wal_senders') AS max_senders,
            (SELECT count(*) FROM pg_catalog.pg_stat_activity WHERE backend_type = 'walsender')::text AS used_senders`,
  );
  const s = r.rows[0]!;
  const items: PrecheckItem[] = [];
  items.push(
    s.wal_level === 'logical'
      ? pass('replication.wal_level', 'wal_level is logical on the source')
      : fail(
          'replication.wal_level',
          `wal_level is ${s.wal_level} on the source; online mode needs wal_level=logical`,
          "ALTER SYSTEM SET wal_level = 'logical' on the source and restart it",
        ),
  );
  const freeSlots = Number(s.max_slots) - Number(s.used_slots);
  items.push(
    freeSlots >= NEEDED_SLOTS
      ? pass('replication.slots', `${freeSlots} of max_replication_slots=${s.max_slots} free on the source`)
      : fail(
          'replication.slots',
          `no free replication slot on the source: max_replication_slots=${s.max_slots}, ${s.used_slots} in use`,
          'drop unused slots (pg_drop_replication_slot) or raise max_replication_slots and restart the source',
        ),
  );
  const freeSenders = Number(s.max_senders) - Number(s.used_senders);
  items.push(
    freeSenders >= NEEDED_SENDERS
      ? pass('replication.wal_senders', `${freeSenders} of max_wal_senders=${s.max_senders} free on the source`)
      : fail(
          'replication.wal_senders',
          `no free WAL sender on the source: max_wal_senders=${s.max_senders}, ${s.used_senders} in use`,
          'raise max_wal_senders and restart the source, or stop another replication client',
        ),
  );
  return items;
}
