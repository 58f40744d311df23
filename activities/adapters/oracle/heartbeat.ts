// DTS keeps a heartbeat table on the PostgreSQL source (dts_postgres_heartbeat) so that an idle
// database still produces WAL and replication lag stays measurable. Ferry's equivalent, for the
// online mode: one row updated every few seconds by the CDC activity; the table is never
// selected for migration. Not wired yet: the spec has no online mode (docs/oracle.md).
export const HEARTBEAT_TABLE = 'ferry_heartbeat';

/** $1: schema (quoted by the caller with quoteIdent). */
export function createHeartbeatSql(qualifiedTable: string): string {
  return `CREATE TABLE IF NOT EXISTS ${qualifiedTable} (slot_name text PRIMARY KEY, beat_at timestamptz NOT NULL, lsn pg_lsn NOT NULL)`;
}

/** $1 slot name. The change it makes flows through the slot; its commit time against now() is the lag. */
export function beatSql(qualifiedTable: string): string {
  return `INSERT INTO ${qualifiedTable} (slot_name, beat_at, lsn) VALUES ($1, pg_catalog.now(), pg_catalog.pg_current_wal_lsn())
ON CONFLICT (slot_name) DO UPDATE SET beat_at = EXCLUDED.beat_at, lsn = EXCLUDED.lsn`;
}
