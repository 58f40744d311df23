// The WAL stream's decision to publish a point without uploading the partial segment: only when
// the completed segment holding the byte below the point is already in the archive.
import { describe, expect, it } from 'vitest';
import { archivedSegmentBelow } from '../../activities/adapters/pitr/stream';

const SEG = 16 * 1024 * 1024;
const lsn = (segno: number, offset: number) => BigInt(segno) * BigInt(SEG) + BigInt(offset);

describe('archivedSegmentBelow', () => {
  const archived = new Set(['000000010000000000000004', '000000010000000000000005']);

  it('names the archived completed segment a point lies in', () => {
    expect(archivedSegmentBelow(lsn(5, 1000), '000000010000000000000006.partial', archived, SEG)).toBe('000000010000000000000005');
  });

  it('at a segment boundary, the segment before it holds every earlier byte', () => {
    expect(archivedSegmentBelow(lsn(6, 0), '000000010000000000000006.partial', archived, SEG)).toBe('000000010000000000000005');
  });

  it('nothing when the point lies in the partial segment, or in a completed one not yet archived', () => {
    expect(archivedSegmentBelow(lsn(6, 1), '000000010000000000000006.partial', archived, SEG)).toBeUndefined();
    expect(archivedSegmentBelow(lsn(7, 10), '000000010000000000000008.partial', archived, SEG)).toBeUndefined();
  });

  it("reads the timeline from the spool's file, and needs one", () => {
    expect(archivedSegmentBelow(lsn(5, 1000), '000000020000000000000006.partial', archived, SEG)).toBeUndefined();
    expect(archivedSegmentBelow(lsn(5, 1000), undefined, archived, SEG)).toBeUndefined();
    expect(archivedSegmentBelow(0n, '000000010000000000000006.partial', archived, SEG)).toBeUndefined();
  });

  it('works across the 4 GB boundary of segment names (high word)', () => {
    const perId = 0x100000000 / SEG; // 256 segments per xlogid
    const name = '0000000100000001' + '00000000';
    expect(archivedSegmentBelow(lsn(perId, 5), '000000010000000100000001.partial', new Set([name]), SEG)).toBe(name);
  });
});
