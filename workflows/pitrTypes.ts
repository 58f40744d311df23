// Point-in-time recovery: the types the protection and restore workflows, their activities and the
// client share, the messages of both workflows (defined here, beside their payloads, so client and
// workflow cannot drift apart), and the pure rules both sides apply to an archive inventory.
// Deterministic code only: no I/O, no clock.
import { defineQuery, defineSignal } from '@temporalio/workflow';

/** Where the archive lives: gs://bucket/prefix/{basebackups,wal,status.json}. */
export interface PitrStorage {
  bucket: string;
  /** Folder for this database's archive, without leading/trailing slash. */
  prefix: string;
}

/** The protected PostgreSQL server. The password is a secret reference (env:NAME, file:PATH). */
export interface PitrDatabase {
  host: string;
  port: number;
  user: string;
  password?: string;
  /** Database for the metric queries (default postgres). */
  database?: string;
}

/** A base backup as recorded in basebackups/<id>/ferry.json (written last: its presence = complete). */
export interface BaseBackupInfo {
  id: string;
  timeline: number;
  walSegmentSize: number;
  /** First WAL needed by the backup, and the LSN where it becomes consistent. */
  startLsn: string;
  endLsn: string;
  /** Server time before the backup started and after it ended (ISO, UTC, microseconds). */
  startTime: string;
  /** Earliest time this backup can be restored to: every WAL record before endLsn is older. */
  endTime: string;
  bytes: number;
  objects: ArchivedObject[];
}

export interface ArchivedObject {
  /** Key relative to the archive prefix. */
  name: string;
  size: number;
  md5: string;
  crc32c: string;
}

/** What the WAL stream has made durable in GCS: every commit before `time` can be restored. */
export interface ArchivedPoint {
  time: string;
  lsn: string;
  /** The newest WAL object (segment, or segment.partial). */
  lastObject?: string;
}

export interface RestorableRange {
  earliest: string;
  latest: string;
}

export interface ArchiveInventory {
  backups: Omit<BaseBackupInfo, 'objects'>[];
  wal: { segments: number; bytes: number; first?: string; last?: string; partial?: string; gaps: string[] };
  archivedThrough?: ArchivedPoint;
  /** Undefined while no backup is followed by archived WAL. */
  restorable?: RestorableRange;
}

export type RestoreTarget = { time: string } | { lsn: string } | { latest: true };

export interface RestoreClusterSpec {
  /** New, empty (or absent) data directory: a restore never writes over an existing cluster. */
  dataDirectory: string;
  port: number;
  /**
   * Credentials to connect to the restored server (they are the protected server's users). The
   * password is a secret reference.
   */
  user: string;
  password?: string;
}

export interface RestoreInput {
  name: string;
  storage: PitrStorage;
  target: RestoreTarget;
  cluster: RestoreClusterSpec;
  /** Seconds to wait for WAL replay to reach the target (default 3600). */
  replayTimeoutSeconds?: number;
}

export interface RestoreResult {
  name: string;
  backupId: string;
  target: RestoreTarget;
  /** Commit time of the last transaction replayed (UTC ISO, microseconds); absent if none was. */
  reachedTime?: string;
  reachedLsn: string;
  dataDirectory: string;
  port: number;
  walSegmentsReplayed: number;
  seconds: { download: number; replay: number; total: number };
}

export type RestorePhase = 'starting' | 'planning' | 'restoring' | 'completed' | 'refused' | 'failed';

export interface RestoreProgress {
  name: string;
  phase: RestorePhase;
  target: RestoreTarget;
  restorable?: RestorableRange;
  backupId?: string;
  result?: RestoreResult;
  error?: string;
}

// ------------------------------------------------------------------ protection

export interface ProtectionPolicy {
  /** How often the Temporal Schedule takes a base backup. */
  baseBackupIntervalSeconds: number;
  /** Restorable window: every second of the last `retentionSeconds` stays restorable. */
  retentionSeconds: number;
  /** Length of one WAL streaming activity; the workflow updates its metrics between slices. */
  streamSliceSeconds: number;
  /** How often the stream uploads the current partial segment (the RPO floor). */
  walUploadIntervalMs: number;
  /** Slices before continue-as-new (history stays small); also on Temporal's suggestion. */
  slicesPerRun: number;
  /**
   * Commit an empty transaction (an xid, no table) each upload interval, so idle databases still
   * have a commit after any target time and RPO stays measurable. On by default.
   */
  heartbeatCommits: boolean;
}

export const DEFAULT_POLICY: ProtectionPolicy = {
  baseBackupIntervalSeconds: 24 * 3600,
  retentionSeconds: 7 * 24 * 3600,
  streamSliceSeconds: 300,
  walUploadIntervalMs: 10_000,
  slicesPerRun: 200,
  heartbeatCommits: true,
};

export interface ProtectionInput {
  /** Names the workflow (ferry-pitr-<name>), the schedule, the replication slot. [a-z0-9_-] */
  name: string;
  database: PitrDatabase;
  storage: PitrStorage;
  policy?: Partial<ProtectionPolicy>;
  /** Set by continue-as-new. */
  carried?: ProtectionStatus;
}

export type ProtectionPhase = 'starting' | 'protecting' | 'degraded' | 'stopping' | 'stopped';

export interface ProtectionMetrics {
  lastArchivedWal?: string;
  archivedThrough?: ArchivedPoint;
  /** Workflow time minus archivedThrough.time when last measured. */
  rpoSeconds?: number;
  walBytesUploaded: number;
  walObjectsUploaded: number;
  baseBackups: number;
  lastBaseBackup?: { id: string; endTime: string; bytes: number };
  pruned: { backups: number; walObjects: number };
  /** The last retention run: the workflow time it used, and the backup that anchors the window. */
  lastRetention?: { at: string; anchor?: string; deletedBackups: number; deletedWal: number; leasedBackups?: number };
  measuredAt?: string;
}

export interface ProtectionStatus {
  name: string;
  phase: ProtectionPhase;
  policy: ProtectionPolicy;
  scheduleId: string;
  metrics: ProtectionMetrics;
  inventory?: ArchiveInventory;
  lastError?: { message: string; at: string };
  runs: number;
}

export interface BaseBackupWorkflowInput {
  name: string;
  protectionWorkflowId: string;
  database: PitrDatabase;
  storage: PitrStorage;
}

export interface StreamSliceResult {
  archivedThrough?: ArchivedPoint;
  lastObject?: string;
  bytesUploaded: number;
  objectsUploaded: number;
  timeline?: number;
  /** Cycles whose point lay in a completed segment already archived, so no partial went up. */
  partialsSkipped?: number;
}

export interface RetentionResult {
  deletedBackups: string[];
  deletedWal: number;
  keptFrom?: string;
  /** Backups older than keptFrom that stayed because a restore holds a lease on them. */
  leased?: string[];
  inventory: ArchiveInventory;
}

export function protectionWorkflowId(name: string): string {
  return `ferry-pitr-${name}`;
}

export function baseBackupScheduleId(name: string): string {
  return `ferry-pitr-${name}-basebackup`;
}

/** Physical replication slot names allow [a-z0-9_]. */
export function slotName(name: string): string {
  return `ferry_pitr_${name.toLowerCase().replace(/[^a-z0-9_]/g, '_')}`.slice(0, 63);
}

// ------------------------------------------------------------------ messages

/** Protection status: phase, policy, metrics (last archived WAL, RPO), inventory of restorable ranges. */
export const protectionStatusQuery = defineQuery<ProtectionStatus>('pitrStatus');
/** Restorable ranges only (the inventory part of the status). */
export const inventoryQuery = defineQuery<ArchiveInventory | undefined>('pitrInventory');
/** Sent by each scheduled base-backup workflow when its backup is complete. */
export const baseBackupTakenSignal = defineSignal<[Omit<BaseBackupInfo, 'objects'>]>('pitrBaseBackupTaken');
/** Stop protecting: the schedule is deleted; the archive and slot stay. */
export const stopProtectionSignal = defineSignal<[{ reason?: string }]>('pitrStop');
export const restoreProgressQuery = defineQuery<RestoreProgress>('restoreProgress');

// ------------------------------------------------------------------ pure rules

const TS = /^(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))?\s*(Z|[+-]\d\d(?::?\d\d)?)$/i;

/** Microseconds since the epoch of an ISO-8601 timestamp with an explicit zone; NaN if malformed. */
export function epochMicros(ts: string): number {
  const m = TS.exec(ts.trim());
  if (!m) return NaN;
  const [, y, mo, d, h, mi, s, frac, zone] = m;
  let offsetMin = 0;
  if (zone && zone.toUpperCase() !== 'Z') {
    const sign = zone.startsWith('-') ? -1 : 1;
    const digits = zone.slice(1).replace(':', '');
    offsetMin = sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2, 4) || '0'));
  }
  const ms = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s)) - offsetMin * 60_000;
  return ms * 1000 + Number((frac ?? '').padEnd(6, '0'));
}

/** UTC ISO with microseconds, the form every PITR time is stored in. */
export function isoMicros(micros: number): string {
  const ms = Math.floor(micros / 1000);
  const us = micros - ms * 1000;
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, (_m, f: string) => `.${f}${String(us).padStart(3, '0')}Z`);
}

/** LSN 'X/Y' as a bigint. */
export function lsnValue(lsn: string): bigint {
  const m = /^([0-9A-F]{1,8})\/([0-9A-F]{1,8})$/i.exec(lsn.trim());
  if (!m) throw new Error(`'${lsn}' is not an LSN (X/Y in hex)`);
  return (BigInt(`0x${m[1]}`) << 32n) + BigInt(`0x${m[2]}`);
}

export function describeRange(r: RestorableRange | undefined): string {
  return r ? `${r.earliest} .. ${r.latest}` : 'nothing is restorable yet (no base backup followed by archived WAL)';
}

export type TargetCheck = { ok: true; backup: Omit<BaseBackupInfo, 'objects'> } | { ok: false; reason: string; type: string };

/**
 * Whether `target` can be restored from `inventory`, and from which base backup: the newest one
 * that ends before the target. A time or LSN outside the restorable range is refused with the range.
 */
export function checkTarget(inventory: ArchiveInventory, target: RestoreTarget): TargetCheck {
  const range = inventory.restorable;
  const usable = inventory.backups.filter((b) => range && epochMicros(b.endTime) >= epochMicros(range.earliest));
  if (!range || usable.length === 0 || !inventory.archivedThrough) {
    return { ok: false, type: 'NothingRestorable', reason: `cannot restore: ${describeRange(range)}` };
  }
  const newestFirst = [...usable].sort((a, b) => epochMicros(b.endTime) - epochMicros(a.endTime));
  if ('latest' in target) return { ok: true, backup: newestFirst[0]! };
  if ('time' in target) {
    const t = epochMicros(target.time);
    if (Number.isNaN(t)) {
      return { ok: false, type: 'InvalidTarget', reason: `target time '${target.time}' is not an ISO-8601 timestamp with a zone (e.g. 2024-05-01T12:00:00.250Z)` };
    }
    if (t < epochMicros(range.earliest) || t > epochMicros(range.latest)) {
      return { ok: false, type: 'TargetOutsideWindow', reason: `target time ${target.time} is outside the restorable range ${describeRange(range)}` };
    }
    const backup = newestFirst.find((b) => epochMicros(b.endTime) <= t);
    if (!backup) return { ok: false, type: 'TargetOutsideWindow', reason: `no base backup ends before ${target.time}; restorable range ${describeRange(range)}` };
    return { ok: true, backup };
  }
  let l: bigint;
  try {
    l = lsnValue(target.lsn);
  } catch (err) {
    return { ok: false, type: 'InvalidTarget', reason: (err as Error).message };
  }
  const earliest = usable.reduce((min, b) => (lsnValue(b.endLsn) < min ? lsnValue(b.endLsn) : min), lsnValue(usable[0]!.endLsn));
  const latest = lsnValue(inventory.archivedThrough.lsn);
  if (l < earliest || l > latest) {
    return {
      ok: false,
      type: 'TargetOutsideWindow',
      reason: `target LSN ${target.lsn} is outside the restorable range ${usable.map((b) => b.endLsn).sort()[0]} .. ${inventory.archivedThrough.lsn} (${describeRange(range)})`,
    };
  }
  const backup = [...usable].sort((a, b) => (lsnValue(b.endLsn) > lsnValue(a.endLsn) ? 1 : -1)).find((b) => lsnValue(b.endLsn) <= l);
  return backup ? { ok: true, backup } : { ok: false, type: 'TargetOutsideWindow', reason: `no base backup ends before LSN ${target.lsn}` };
}
