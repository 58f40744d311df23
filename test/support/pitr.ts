// A base backup's manifest for archive tests: 1 MB WAL segments, timeline 1, the backup starting
// a little into segment `startSeg` and ending one second after it started (`endMicros`).
import { isoMicros, type BaseBackupInfo } from '../../workflows/pitrTypes';

export const MB = 1024 * 1024;

export function backupManifest(id: string, startSeg: number, endMicros: number, objects: BaseBackupInfo['objects'], bytes: number): BaseBackupInfo {
  return {
    id,
    timeline: 1,
    walSegmentSize: MB,
    startLsn: `0/${(startSeg * MB + 40).toString(16).toUpperCase()}`,
    endLsn: `0/${(startSeg * MB + 4000).toString(16).toUpperCase()}`,
    startTime: isoMicros(endMicros - 1_000_000),
    endTime: isoMicros(endMicros),
    bytes,
    objects,
  };
}
