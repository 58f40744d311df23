// The WAL stream's decision to publish a point without uploading the partial segment: only when
// the completed segment holding the byte below the point is already in the archive. And WAL
// objects' gzip round trip.
import { createHash, randomFillSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { gunzipInPlace, gzipFile } from '../../activities/adapters/pitr/common';
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

describe('gzipped WAL objects', () => {
  it('gzip a segment (returning its content md5) and restore it by its magic; a plain segment is left alone', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'ferry-walgz-'));
    try {
      // A 1 MB "segment": a page-header-like start, some data, then zeros (as a partial segment is).
      const seg = Buffer.alloc(1024 * 1024);
      seg.writeUInt16LE(0xd110, 0);
      randomFillSync(seg, 16, 64 * 1024);
      const plain = path.join(dir, '000000010000000000000003');
      writeFileSync(plain, seg);
      const packed = path.join(dir, 'packed');
      const { rawMd5 } = await gzipFile(plain, packed);
      expect(rawMd5).toBe(createHash('md5').update(seg).digest('base64'));
      expect(statSync(packed).size).toBeLessThan(seg.length / 10);
      expect(readFileSync(packed).subarray(0, 2)).toEqual(Buffer.from([0x1f, 0x8b]));
      await gunzipInPlace(packed);
      expect(readFileSync(packed).equals(seg)).toBe(true);
      await gunzipInPlace(plain); // not gzipped: unchanged (an object archived before compression)
      expect(readFileSync(plain).equals(seg)).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
